/* hparams.h: a model's hyper-parameters, read from (and written to) GGUF metadata.
 *
 * Keys are "<arch>.<name>" with <arch> the general.architecture string, exactly
 * as llama.cpp's converter writes them:
 *   <arch>.context_length, .embedding_length, .block_count, .feed_forward_length,
 *   .vocab_size (optional), .attention.head_count, .attention.head_count_kv,
 *   .attention.key_length / .value_length (head dims; default d / h),
 *   .attention.layer_norm_rms_epsilon, .attention.sliding_window,
 *   .attention.sliding_window_pattern (optional period; gemma3 defaults to 6),
 *   .rope.freq_base, .rope.freq_base_swa, .rope.dimension_count,
 *   .rope.scaling.type ("none" | "linear" | "yarn"), .rope.scaling.factor,
 *   .rope.scaling.original_context_length, .rope.scaling.attn_factor,
 *   .rope.scaling.yarn_{ext_factor,attn_factor,beta_fast,beta_slow,log_multiplier},
 *   .rope.scale_linear (older files), .attention.scale,
 *   .attn_logit_softcapping, .final_logit_softcapping.
 * Llama 3.1-style RoPE scaling has no metadata: the converter bakes it into the
 * rope_freqs.weight tensor (see hparams_llama3_rope_freqs).
 *
 * Dimension letters: d model width, h query heads, hkv key/value heads, hd key
 * head dim, hdv value head dim, ff FFN width, v vocabulary, L layers.
 * Everything here is pure: any thread may call it on its own model_hparams. */
#ifndef INFERD_MODEL_HPARAMS_H
#define INFERD_MODEL_HPARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"

typedef enum hparams_rope_scaling {
    HPARAMS_ROPE_SCALING_NONE = 0,
    HPARAMS_ROPE_SCALING_LINEAR = 1, /* positions divided by rope_scale_factor */
    HPARAMS_ROPE_SCALING_YARN = 2,
} hparams_rope_scaling;

typedef struct model_hparams {
    arch_id arch;                /* ARCH_UNKNOWN for names inferd has no table for */
    char arch_name[32];          /* general.architecture as written in the file */
    arch_rope rope_type;         /* from the architecture */

    uint32_t n_ctx_train;        /* context_length */
    uint32_t n_embd;             /* d */
    uint32_t n_layer;            /* L */
    uint32_t n_ff;               /* ff */
    uint32_t n_head;             /* h */
    uint32_t n_head_kv;          /* hkv; default h */
    uint32_t head_dim;           /* hd = key_length; default d / h */
    uint32_t head_dim_v;         /* hdv = value_length; default hd */
    uint32_t n_vocab;            /* v: vocab_size, else tokenizer.ggml.tokens, else token_embd */
    float norm_eps;              /* attention.layer_norm_rms_epsilon; default 1e-5 */

    uint32_t n_rot;              /* rope.dimension_count; default hd */
    float rope_freq_base;        /* rope.freq_base; default 10000 */
    float rope_freq_base_swa;    /* for sliding-window layers (gemma3: 10000) */
    hparams_rope_scaling rope_scaling;
    float rope_scale_factor;     /* rope.scaling.factor; 1 when none */
    uint32_t rope_orig_ctx;      /* rope.scaling.original_context_length; 0 if absent */
    float rope_attn_factor;      /* rope.scaling.attn_factor; default 1 */
    float yarn_ext_factor;       /* < 0: derive from the factor, as llama.cpp does */
    float yarn_attn_factor;      /* default 1 */
    float yarn_beta_fast;        /* default 32 */
    float yarn_beta_slow;        /* default 1 */
    float yarn_log_mul;          /* default 0 */
    bool has_rope_freqs;         /* rope_freqs.weight present (llama 3.1 scaling) */

    float attn_scale;            /* multiplies q.k: attention.scale, else 1/sqrt(hd),
                                  * gemma3 27B 1/sqrt(d/h) */
    uint32_t n_swa;              /* attention.sliding_window; 0 = every layer global */
    uint32_t swa_period;         /* layer il is global iff il % period == period - 1;
                                  * 0 = all layers use the window (when n_swa > 0) */
    float attn_softcap;          /* attn_logit_softcapping; 0 = none */
    float final_softcap;         /* final_logit_softcapping; 0 = none */
    float embd_scale;            /* token embedding multiplier: sqrt(d) for gemma, else 1 */
    bool tied_output;            /* no output.weight: logits use token_embd */
} model_hparams;

/* Reads hyper-parameters from an open file, applies the architecture's defaults
 * and validates them (hparams_validate). Unknown architectures are read with the
 * same key scheme (so `inferd info` can describe them); model loading must
 * reject hp->arch == ARCH_UNKNOWN itself. Errors name the key. */
int hparams_load(const gguf_file *f, model_hparams *out, inf_error *err);

/* Fills the architecture's defaults for everything but the basic dimensions,
 * which the caller sets afterwards (synth, tests): rope type, rope bases,
 * norm eps, softcaps, sliding-window period, embedding scale. */
void hparams_init(model_hparams *hp, arch_id arch);

/* Derives what follows from the basic dimensions (head_dim if 0, head_dim_v,
 * n_rot, attn_scale if 0, embd_scale) and validates. Call after setting them. */
int hparams_finish(model_hparams *hp, inf_error *err);

/* Positive counts, h % hkv == 0, n_rot <= hd and even, finite positive eps and
 * rope base. Errors name the metadata key. */
int hparams_validate(const model_hparams *hp, inf_error *err);

/* Writes the <arch>.* keys that llama.cpp's converter writes for hp (not the
 * general.* or tokenizer.* keys). Returns the writer's status. */
int hparams_write(const model_hparams *hp, gguf_writer *w);

/* True when layer il attends to a sliding window of n_swa tokens. */
bool hparams_layer_is_swa(const model_hparams *hp, uint32_t il);

/* RoPE frequency base of layer il (sliding-window layers may use their own). */
float hparams_layer_rope_base(const model_hparams *hp, uint32_t il);

/* Expected shape of a tensor kind (ne[0] innermost); *n_dims is 1 or 2.
 * Returns INF_ERR_INVALID for kinds with no shape (ARCH_T_COUNT...). */
int hparams_tensor_shape(const model_hparams *hp, arch_tensor t, int64_t ne[GGUF_MAX_DIMS],
                         uint32_t *n_dims);

/* Llama 3.1 RoPE scaling: fills out[n_rot / 2] with the divisor of each rotary
 * frequency (1 for high frequencies, factor for low ones, a smooth blend in
 * between), the values llama.cpp stores in rope_freqs.weight. */
void hparams_llama3_rope_freqs(float freq_base, uint32_t n_rot, float factor,
                               float low_freq_factor, float high_freq_factor,
                               uint32_t orig_ctx, float *out);

/* Storage of the KV cache. Q8 stores one int8 per value and one f16 scale per
 * group of HPARAMS_KV_Q8_GROUP values of a head's vector (a shorter head gets
 * one group per head). */
typedef enum hparams_kv_type {
    HPARAMS_KV_F16 = 0,
    HPARAMS_KV_BF16 = 1,
    HPARAMS_KV_Q8 = 2,
} hparams_kv_type;

#define HPARAMS_KV_Q8_GROUP 64

/* Bytes of K and V for one token over all layers: sum over layers of
 * hkv * (hd + hdv) values in the given storage. */
uint64_t hparams_kv_bytes_per_token(const model_hparams *hp, hparams_kv_type t);

/* "f16", "bf16", "q8". */
const char *hparams_kv_type_name(hparams_kv_type t);

#endif
