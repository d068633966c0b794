/* graph_gemma3.c: the forward pass of Gemma 3 (text), written once against
 * backend.h.
 *
 * Differences from llama: token embeddings times sqrt(d); four RMSNorms per
 * block (input, post-attention, pre-FFN, post-FFN: the post norms apply to the
 * sub-block's output before the residual add); per-head q/k RMSNorm; GELU(tanh)
 * gate; NeoX RoPE; interleaved sliding-window layers with their own RoPE base
 * (hparams_layer_is_swa / hparams_layer_rope_base); query scale from
 * hparams (head_dim^-0.5, or query_pre_attn_scalar^-0.5). The (1 + w) norm
 * convention is already folded into the GGUF weights by the converter.
 * Matches llama.cpp's llm_build_gemma3 and Hugging Face's Gemma3ForCausalLM. */
#include "model/model.h"

void model_graph_gemma3(model *m, be_kv *kv, const model_batch *b)
{
    const model_hparams *hp = &m->hp;
    be_backend *be = m->be;
    model_acts *a = &m->acts;
    int64_t n = b->n;
    int32_t h = (int32_t)hp->n_head, hkv = (int32_t)hp->n_head_kv;
    int32_t hd = (int32_t)hp->head_dim;

    be_embed(be, a->x, m->tok_embd, n);
    be_scale(be, a->x, a->x, hp->embd_scale, n);
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const model_layer *L = &m->layers[il];
        be_rms_norm(be, a->xn, a->x, L->attn_norm, hp->norm_eps, n);
        be_matmul(be, a->q, a->xn, L->wq, L->bq, n);
        be_matmul(be, a->k, a->xn, L->wk, L->bk, n);
        be_matmul(be, a->v, a->xn, L->wv, L->bv, n);
        be_rms_norm(be, a->q, a->q, L->q_norm, hp->norm_eps, n);
        be_rms_norm(be, a->k, a->k, L->k_norm, hp->norm_eps, n);
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
        be_rms_norm(be, a->o, a->o, L->post_attn_norm, hp->norm_eps, n);
        be_add(be, a->x, a->x, a->o, n);

        be_rms_norm(be, a->xn, a->x, L->ffn_norm, hp->norm_eps, n);
        be_matmul(be, a->gate, a->xn, L->ffn_gate, NULL, n);
        be_matmul(be, a->up, a->xn, L->ffn_up, NULL, n);
        be_geglu(be, a->gate, a->gate, a->up, n);
        be_matmul(be, a->o, a->gate, L->ffn_down, NULL, n);
        be_rms_norm(be, a->o, a->o, L->post_ffn_norm, hp->norm_eps, n);
        be_add(be, a->x, a->x, a->o, n);
    }
    if (b->n_out == 0) return;
    be_gather_out(be, a->xo, a->x);
    be_rms_norm(be, a->xo, a->xo, m->output_norm, hp->norm_eps, b->n_out);
    be_matmul(be, a->logits, a->xo, m->output, NULL, b->n_out);
    if (hp->final_softcap > 0) be_softcap(be, a->logits, a->logits, hp->final_softcap, b->n_out);
}
