/* arch.h: the model architectures inferd knows, and the GGUF tensor names of each.
 *
 * An architecture is named by the `general.architecture` metadata string
 * ("llama", "qwen2", "qwen3", "gemma3"). Its traits say how the graph differs
 * from plain llama: RoPE ordering, biases, q/k norms, extra norms, activation.
 *
 * Tensor names are those llama.cpp's converter writes (checked against real
 * SmolLM2 and Gemma 3 files):
 *   token_embd.weight            (d, v)     ne[0] first, as in GGUF
 *   output_norm.weight           (d)
 *   output.weight                (d, v)     absent => tied to token_embd
 *   rope_freqs.weight            (n_rot/2)  llama 3.1+: per-dimension divisors
 *   blk.N.attn_norm.weight       (d)
 *   blk.N.attn_q.weight          (d, h*hd)      .bias (h*hd)    [qwen2]
 *   blk.N.attn_k.weight          (d, hkv*hd)    .bias (hkv*hd)  [qwen2]
 *   blk.N.attn_v.weight          (d, hkv*hdv)   .bias (hkv*hdv) [qwen2]
 *   blk.N.attn_output.weight     (h*hdv, d)
 *   blk.N.attn_q_norm.weight     (hd)       [qwen3, gemma3]
 *   blk.N.attn_k_norm.weight     (hd)       [qwen3, gemma3]
 *   blk.N.post_attention_norm.weight (d)    [gemma3: applied to the attention output]
 *   blk.N.ffn_norm.weight        (d)
 *   blk.N.ffn_gate.weight        (d, ff)
 *   blk.N.ffn_up.weight          (d, ff)
 *   blk.N.ffn_down.weight        (ff, d)
 *   blk.N.post_ffw_norm.weight   (d)        [gemma3: applied to the FFN output]
 * Gemma's RMSNorm multiplies by (1 + w); llama.cpp's converter stores w + 1, so the
 * norms in a GGUF file are applied as plain x * w by every architecture.
 *
 * Everything here is constant data: any thread may call any function. */
#ifndef INFERD_MODEL_ARCH_H
#define INFERD_MODEL_ARCH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum arch_id {
    ARCH_UNKNOWN = 0,
    ARCH_LLAMA,     /* Llama 2/3.x, Mistral, SmolLM2 */
    ARCH_QWEN2,     /* llama + q/k/v biases, NeoX RoPE */
    ARCH_QWEN3,     /* llama + q/k RMSNorm per head, NeoX RoPE */
    ARCH_GEMMA3,    /* q/k norms, 4 norms per block, GELU, sliding window, sqrt(d) embedding scale */
    ARCH_QWEN3MOE,  /* known by name; no graph yet */
    ARCH_DEEPSEEK2, /* known by name; no graph yet */
    ARCH_COUNT
} arch_id;

/* RoPE pair ordering. NORM rotates adjacent pairs (x[2i], x[2i+1]); NEOX rotates
 * (x[i], x[i + n_rot/2]). */
typedef enum arch_rope {
    ARCH_ROPE_NORM = 0,
    ARCH_ROPE_NEOX = 1,
} arch_rope;

/* Activation of the gated FFN: down(act(gate(x)) * up(x)). */
typedef enum arch_act {
    ARCH_ACT_SILU = 0,
    ARCH_ACT_GELU = 1, /* tanh approximation, as gemma uses */
} arch_act;

typedef struct arch_traits {
    const char *name;       /* general.architecture value */
    bool supported;         /* inferd has a graph for it */
    arch_rope rope;
    arch_act act;
    bool qkv_bias;          /* attn_q/k/v.bias are required */
    bool qk_norm;           /* attn_q_norm/attn_k_norm (RMSNorm over each head) */
    bool post_norms;        /* post_attention_norm + post_ffw_norm (gemma3) */
    bool embd_scale;        /* token embeddings are multiplied by sqrt(d) (gemma) */
    bool sliding_window;    /* some layers attend to a window only (gemma3) */
} arch_traits;

/* Traits of an architecture; never NULL (ARCH_UNKNOWN gives name "unknown",
 * supported = false, llama-like defaults). */
const arch_traits *arch_traits_of(arch_id a);

/* Architecture of a general.architecture string (len bytes, not NUL-terminated);
 * ARCH_UNKNOWN when inferd does not know it. */
arch_id arch_from_name(const char *name, size_t len);

/* "llama", ...; "unknown" for ARCH_UNKNOWN or out-of-range values. */
const char *arch_name(arch_id a);

/* Tensor kinds. Per-model kinds come first, per-layer kinds (blk.N.*) after
 * ARCH_T_FIRST_LAYER. */
typedef enum arch_tensor {
    ARCH_T_TOKEN_EMBD = 0,
    ARCH_T_OUTPUT_NORM,
    ARCH_T_OUTPUT,
    ARCH_T_ROPE_FREQS,
    ARCH_T_FIRST_LAYER,
    ARCH_T_ATTN_NORM = ARCH_T_FIRST_LAYER,
    ARCH_T_ATTN_Q,
    ARCH_T_ATTN_K,
    ARCH_T_ATTN_V,
    ARCH_T_ATTN_OUT,
    ARCH_T_ATTN_Q_BIAS,
    ARCH_T_ATTN_K_BIAS,
    ARCH_T_ATTN_V_BIAS,
    ARCH_T_ATTN_OUT_BIAS,
    ARCH_T_ATTN_Q_NORM,
    ARCH_T_ATTN_K_NORM,
    ARCH_T_ATTN_POST_NORM,
    ARCH_T_FFN_NORM,
    ARCH_T_FFN_GATE,
    ARCH_T_FFN_UP,
    ARCH_T_FFN_DOWN,
    ARCH_T_FFN_POST_NORM,
    ARCH_T_COUNT
} arch_tensor;

/* Whether an architecture has a tensor kind. OPTIONAL tensors may be absent
 * (output: tied to token_embd; llama's attention biases; rope_freqs). */
typedef enum arch_presence {
    ARCH_ABSENT = 0,
    ARCH_REQUIRED = 1,
    ARCH_OPTIONAL = 2,
} arch_presence;

arch_presence arch_tensor_presence(arch_id a, arch_tensor t);

/* The file name of a tensor kind: "token_embd.weight", "blk.3.attn_q.bias".
 * layer is ignored for per-model kinds. Writes at most cap bytes including the
 * NUL; returns the length snprintf would produce (>= cap means truncated), or -1
 * for an invalid kind. */
int arch_tensor_name(arch_tensor t, int layer, char *buf, size_t cap);

/* The middle part of the name: "attn_q" for ARCH_T_ATTN_Q and ARCH_T_ATTN_Q_BIAS. */
const char *arch_tensor_base(arch_tensor t);

/* True for kinds that are 1-D vectors (norms, biases, rope_freqs). */
bool arch_tensor_is_vector(arch_tensor t);

#endif
