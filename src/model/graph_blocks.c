/* graph_blocks.c: the attention and output sub-blocks shared by the graphs
 * (see graph_blocks.h). */
#include "model/graph_blocks.h"

void model_graph_attention(model *m, be_kv *kv, uint32_t il, int64_t n)
{
    const model_hparams *hp = &m->hp;
    const model_layer *L = &m->layers[il];
    be_backend *be = m->be;
    model_acts *a = &m->acts;
    int32_t h = (int32_t)hp->n_head, hkv = (int32_t)hp->n_head_kv;
    int32_t hd = (int32_t)hp->head_dim;

    be_rms_norm(be, a->xn, a->x, L->attn_norm, hp->norm_eps, n);
    be_matmul(be, a->q, a->xn, L->wq, L->bq, n);
    be_matmul(be, a->k, a->xn, L->wk, L->bk, n);
    be_matmul(be, a->v, a->xn, L->wv, L->bv, n);
    if (L->q_norm) be_rms_norm(be, a->q, a->q, L->q_norm, hp->norm_eps, n);
    if (L->k_norm) be_rms_norm(be, a->k, a->k, L->k_norm, hp->norm_eps, n);
    be_rope rope;
    model_layer_rope(m, il, &rope);
    be_rope_apply(be, a->q, h, hd, &rope, n);
    be_rope_apply(be, a->k, hkv, hd, &rope, n);
    be_kv_write(be, kv, (int32_t)il, a->k, a->v, n);
    be_attn at = {
        .layer = (int32_t)il, .n_head = h, .n_kv_head = hkv, .head_dim_k = hd,
        .head_dim_v = (int32_t)hp->head_dim_v, .scale = hp->attn_scale,
        .softcap = hp->attn_softcap,
        .window = hparams_layer_is_swa(hp, il) ? (int32_t)hp->n_swa : 0,
    };
    be_attention(be, a->att, a->q, kv, &at, n);
    be_matmul(be, a->o, a->att, L->wo, L->bo, n);
}

void model_graph_logits(model *m, const model_batch *b)
{
    const model_hparams *hp = &m->hp;
    be_backend *be = m->be;
    model_acts *a = &m->acts;
    if (b->n_out == 0) return;
    be_gather_out(be, a->xo, a->x);
    be_rms_norm(be, a->xo, a->xo, m->output_norm, hp->norm_eps, b->n_out);
    be_matmul(be, a->logits, a->xo, m->output, NULL, b->n_out);
    if (hp->final_softcap > 0) be_softcap(be, a->logits, a->logits, hp->final_softcap, b->n_out);
}
