/* graph_llama.c: the forward pass of the llama family — llama (Llama 2/3.x,
 * Mistral, SmolLM2), qwen2 (q/k/v biases) and qwen3 (per-head q/k RMSNorm) —
 * written once against backend.h.
 *
 * Per block: x += Wo attn(rope(norm_qk(Wq xn + bq)), rope(norm_qk(Wk xn + bk)),
 * Wv xn + bv) with xn = rmsnorm(x); then x += Wdown (silu(Wgate xn) * Wup xn)
 * with xn = rmsnorm(x). Logits = Wout rmsnorm(x) for the wanted rows only.
 * Matches llama.cpp's llm_build_llama / qwen2 / qwen3 and Hugging Face's
 * LlamaForCausalLM / Qwen2 / Qwen3 (q/k weights as the GGUF converter stores
 * them: permuted for llama's adjacent-pair RoPE). */
#include "model/model.h"

void model_graph_llama(model *m, be_kv *kv, const model_batch *b)
{
    const model_hparams *hp = &m->hp;
    be_backend *be = m->be;
    model_acts *a = &m->acts;
    int64_t n = b->n;
    int32_t h = (int32_t)hp->n_head, hkv = (int32_t)hp->n_head_kv;
    int32_t hd = (int32_t)hp->head_dim;

    be_embed(be, a->x, m->tok_embd, n);
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const model_layer *L = &m->layers[il];
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
        be_add(be, a->x, a->x, a->o, n);

        be_rms_norm(be, a->xn, a->x, L->ffn_norm, hp->norm_eps, n);
        be_matmul(be, a->gate, a->xn, L->ffn_gate, NULL, n);
        be_matmul(be, a->up, a->xn, L->ffn_up, NULL, n);
        be_swiglu(be, a->gate, a->gate, a->up, n);
        be_matmul(be, a->o, a->gate, L->ffn_down, NULL, n);
        be_add(be, a->x, a->x, a->o, n);
    }
    if (b->n_out == 0) return;
    be_gather_out(be, a->xo, a->x);
    be_rms_norm(be, a->xo, a->xo, m->output_norm, hp->norm_eps, b->n_out);
    be_matmul(be, a->logits, a->xo, m->output, NULL, b->n_out);
    if (hp->final_softcap > 0) be_softcap(be, a->logits, a->logits, hp->final_softcap, b->n_out);
}
