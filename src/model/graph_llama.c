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
#include "model/graph_blocks.h"

void model_graph_llama(model *m, be_kv *kv, const model_batch *b)
{
    const model_hparams *hp = &m->hp;
    be_backend *be = m->be;
    model_acts *a = &m->acts;
    int64_t n = b->n;

    be_embed(be, a->x, m->tok_embd, n);
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const model_layer *L = &m->layers[il];
        model_graph_attention(m, kv, il, n);
        be_add(be, a->x, a->x, a->o, n);

        be_rms_norm(be, a->xn, a->x, L->ffn_norm, hp->norm_eps, n);
        be_matmul(be, a->gate, a->xn, L->ffn_gate, NULL, n);
        be_matmul(be, a->up, a->xn, L->ffn_up, NULL, n);
        be_swiglu(be, a->gate, a->gate, a->up, n);
        be_matmul(be, a->o, a->gate, L->ffn_down, NULL, n);
        be_add(be, a->x, a->x, a->o, n);
    }
    model_graph_logits(m, b);
}
