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
#include "model/graph_blocks.h"

void model_graph_gemma3(model *m, be_kv *kv, const model_batch *b)
{
    const model_hparams *hp = &m->hp;
    be_backend *be = m->be;
    model_acts *a = &m->acts;
    int64_t n = b->n;

    be_embed(be, a->x, m->tok_embd, n);
    be_scale(be, a->x, a->x, hp->embd_scale, n);
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const model_layer *L = &m->layers[il];
        model_graph_attention(m, kv, il, n);
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
    model_graph_logits(m, b);
}
