/* arch.c: the architecture table and tensor names (see arch.h). */
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

static const arch_traits traits[ARCH_COUNT] = {
    [ARCH_UNKNOWN] = {.name = "unknown"},
    [ARCH_LLAMA] = {.name = "llama", .supported = true, .rope = ARCH_ROPE_NORM},
    [ARCH_QWEN2] = {.name = "qwen2", .supported = true, .rope = ARCH_ROPE_NEOX, .qkv_bias = true},
    [ARCH_QWEN3] = {.name = "qwen3", .supported = true, .rope = ARCH_ROPE_NEOX, .qk_norm = true},
    [ARCH_GEMMA3] = {.name = "gemma3", .supported = true, .rope = ARCH_ROPE_NEOX,
                     .act = ARCH_ACT_GELU, .qk_norm = true, .post_norms = true,
                     .embd_scale = true, .sliding_window = true},
    [ARCH_QWEN3MOE] = {.name = "qwen3moe", .rope = ARCH_ROPE_NEOX, .qk_norm = true},
    [ARCH_DEEPSEEK2] = {.name = "deepseek2", .rope = ARCH_ROPE_NORM},
};

const arch_traits *arch_traits_of(arch_id a)
{
    if ((int)a < 0 || a >= ARCH_COUNT) return &traits[ARCH_UNKNOWN];
    return &traits[a];
}

arch_id arch_from_name(const char *name, size_t len)
{
    if (!name) return ARCH_UNKNOWN;
    for (int a = ARCH_UNKNOWN + 1; a < ARCH_COUNT; a++)
        if (strlen(traits[a].name) == len && memcmp(traits[a].name, name, len) == 0)
            return (arch_id)a;
    return ARCH_UNKNOWN;
}

const char *arch_name(arch_id a)
{
    return arch_traits_of(a)->name;
}

typedef struct tensor_desc {
    const char *base;
    bool bias;   /* ".bias" rather than ".weight" */
    bool vector; /* 1-D */
} tensor_desc;

static const tensor_desc descs[ARCH_T_COUNT] = {
    [ARCH_T_TOKEN_EMBD] = {"token_embd", false, false},
    [ARCH_T_OUTPUT_NORM] = {"output_norm", false, true},
    [ARCH_T_OUTPUT] = {"output", false, false},
    [ARCH_T_ROPE_FREQS] = {"rope_freqs", false, true},
    [ARCH_T_ATTN_NORM] = {"attn_norm", false, true},
    [ARCH_T_ATTN_Q] = {"attn_q", false, false},
    [ARCH_T_ATTN_K] = {"attn_k", false, false},
    [ARCH_T_ATTN_V] = {"attn_v", false, false},
    [ARCH_T_ATTN_OUT] = {"attn_output", false, false},
    [ARCH_T_ATTN_Q_BIAS] = {"attn_q", true, true},
    [ARCH_T_ATTN_K_BIAS] = {"attn_k", true, true},
    [ARCH_T_ATTN_V_BIAS] = {"attn_v", true, true},
    [ARCH_T_ATTN_OUT_BIAS] = {"attn_output", true, true},
    [ARCH_T_ATTN_Q_NORM] = {"attn_q_norm", false, true},
    [ARCH_T_ATTN_K_NORM] = {"attn_k_norm", false, true},
    [ARCH_T_ATTN_POST_NORM] = {"post_attention_norm", false, true},
    [ARCH_T_FFN_NORM] = {"ffn_norm", false, true},
    [ARCH_T_FFN_GATE] = {"ffn_gate", false, false},
    [ARCH_T_FFN_UP] = {"ffn_up", false, false},
    [ARCH_T_FFN_DOWN] = {"ffn_down", false, false},
    [ARCH_T_FFN_POST_NORM] = {"post_ffw_norm", false, true},
};

static bool valid_kind(arch_tensor t)
{
    return (int)t >= 0 && t < ARCH_T_COUNT;
}

arch_presence arch_tensor_presence(arch_id a, arch_tensor t)
{
    if (!valid_kind(t)) return ARCH_ABSENT;
    const arch_traits *tr = arch_traits_of(a);
    switch (t) {
    case ARCH_T_TOKEN_EMBD:
    case ARCH_T_OUTPUT_NORM:
    case ARCH_T_ATTN_NORM:
    case ARCH_T_ATTN_Q:
    case ARCH_T_ATTN_K:
    case ARCH_T_ATTN_V:
    case ARCH_T_ATTN_OUT:
    case ARCH_T_FFN_NORM:
    case ARCH_T_FFN_GATE:
    case ARCH_T_FFN_UP:
    case ARCH_T_FFN_DOWN:
        return ARCH_REQUIRED;
    case ARCH_T_OUTPUT:
        return ARCH_OPTIONAL;
    case ARCH_T_ROPE_FREQS:
        /* llama 3.1+ stores its rope scaling as per-dimension divisors */
        return a == ARCH_LLAMA ? ARCH_OPTIONAL : ARCH_ABSENT;
    case ARCH_T_ATTN_Q_BIAS:
    case ARCH_T_ATTN_K_BIAS:
    case ARCH_T_ATTN_V_BIAS:
        if (tr->qkv_bias) return ARCH_REQUIRED;
        /* llama.cpp accepts (rare) llama files with attention biases */
        return a == ARCH_LLAMA ? ARCH_OPTIONAL : ARCH_ABSENT;
    case ARCH_T_ATTN_OUT_BIAS:
        return a == ARCH_LLAMA ? ARCH_OPTIONAL : ARCH_ABSENT;
    case ARCH_T_ATTN_Q_NORM:
    case ARCH_T_ATTN_K_NORM:
        return tr->qk_norm ? ARCH_REQUIRED : ARCH_ABSENT;
    case ARCH_T_ATTN_POST_NORM:
    case ARCH_T_FFN_POST_NORM:
        return tr->post_norms ? ARCH_REQUIRED : ARCH_ABSENT;
    default:
        return ARCH_ABSENT;
    }
}

int arch_tensor_name(arch_tensor t, int layer, char *buf, size_t cap)
{
    if (!valid_kind(t)) return -1;
    const tensor_desc *d = &descs[t];
    const char *suffix = d->bias ? "bias" : "weight";
    if (t < ARCH_T_FIRST_LAYER) return snprintf(buf, cap, "%s.%s", d->base, suffix);
    return snprintf(buf, cap, "blk.%d.%s.%s", layer, d->base, suffix);
}

const char *arch_tensor_base(arch_tensor t)
{
    return valid_kind(t) ? descs[t].base : "invalid";
}

bool arch_tensor_is_vector(arch_tensor t)
{
    return valid_kind(t) && descs[t].vector;
}
