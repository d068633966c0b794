/* quant_traits.c: the table of every ggml type id (name, block size, bytes per
 * block, whether inferd handles it) and the public wrappers over it.
 *
 * Sizes follow ggml's type_traits, which is what GGUF files are laid out by. Ids
 * that ggml dropped (Q4_2, Q4_3, the repacked Q4_0_x_y / IQ4_NL_x_y) are still
 * named, so that a loader can say which format an old file uses instead of
 * "unknown type 31". */
#include "quant/quant.h"

#include <ctype.h>
#include <string.h>

#include "core/error.h"

#include "quant/blocks.h"
#include "quant/formats.h"

#define SUPPORTED(nm, bs, ts, fmt) \
    { nm, bs, ts, true, quant_##fmt##_dequantize, quant_##fmt##_quantize }
#define KNOWN(nm, bs, ts) { nm, bs, ts, false, NULL, NULL }

static const quant_traits traits[QT_COUNT] = {
    [QT_F32] = SUPPORTED("F32", 1, 4, f32),
    [QT_F16] = SUPPORTED("F16", 1, 2, f16),
    [QT_Q4_0] = SUPPORTED("Q4_0", QK4_0, sizeof(block_q4_0), q4_0),
    [QT_Q4_1] = SUPPORTED("Q4_1", QK4_1, sizeof(block_q4_1), q4_1),
    [4] = KNOWN("Q4_2", 16, 10),  /* removed from ggml in 2023: f16 d + 8 bytes */
    [5] = KNOWN("Q4_3", 16, 12),  /* removed from ggml in 2023: f16 d, m + 8 bytes */
    [QT_Q5_0] = SUPPORTED("Q5_0", QK5_0, sizeof(block_q5_0), q5_0),
    [QT_Q5_1] = SUPPORTED("Q5_1", QK5_1, sizeof(block_q5_1), q5_1),
    [QT_Q8_0] = SUPPORTED("Q8_0", QK8_0, sizeof(block_q8_0), q8_0),
    [QT_Q8_1] = SUPPORTED("Q8_1", QK8_1, sizeof(block_q8_1), q8_1),
    [QT_Q2_K] = SUPPORTED("Q2_K", QK_K, sizeof(block_q2_K), q2_k),
    [QT_Q3_K] = SUPPORTED("Q3_K", QK_K, sizeof(block_q3_K), q3_k),
    [QT_Q4_K] = SUPPORTED("Q4_K", QK_K, sizeof(block_q4_K), q4_k),
    [QT_Q5_K] = SUPPORTED("Q5_K", QK_K, sizeof(block_q5_K), q5_k),
    [QT_Q6_K] = SUPPORTED("Q6_K", QK_K, sizeof(block_q6_K), q6_k),
    [QT_Q8_K] = SUPPORTED("Q8_K", QK_K, sizeof(block_q8_K), q8_k),
    [QT_IQ2_XXS] = KNOWN("IQ2_XXS", QK_K, 66),
    [QT_IQ2_XS] = KNOWN("IQ2_XS", QK_K, 74),
    [QT_IQ3_XXS] = KNOWN("IQ3_XXS", QK_K, 98),
    [QT_IQ1_S] = KNOWN("IQ1_S", QK_K, 50),
    [QT_IQ4_NL] = KNOWN("IQ4_NL", 32, 18),
    [QT_IQ3_S] = KNOWN("IQ3_S", QK_K, 110),
    [QT_IQ2_S] = KNOWN("IQ2_S", QK_K, 82),
    [QT_IQ4_XS] = KNOWN("IQ4_XS", QK_K, 136),
    [QT_I8] = KNOWN("I8", 1, 1),
    [QT_I16] = KNOWN("I16", 1, 2),
    [QT_I32] = KNOWN("I32", 1, 4),
    [QT_I64] = KNOWN("I64", 1, 8),
    [QT_F64] = KNOWN("F64", 1, 8),
    [QT_IQ1_M] = KNOWN("IQ1_M", QK_K, 56),
    [QT_BF16] = SUPPORTED("BF16", 1, 2, bf16),
    [31] = KNOWN("Q4_0_4_4", 32, 18), /* repacked Q4_0; ggml dropped them from files */
    [32] = KNOWN("Q4_0_4_8", 32, 18),
    [33] = KNOWN("Q4_0_8_8", 32, 18),
    [QT_TQ1_0] = KNOWN("TQ1_0", QK_K, 54),
    [QT_TQ2_0] = KNOWN("TQ2_0", QK_K, 66),
    [36] = KNOWN("IQ4_NL_4_4", 32, 18), /* repacked IQ4_NL, likewise dropped */
    [37] = KNOWN("IQ4_NL_4_8", 32, 18),
    [38] = KNOWN("IQ4_NL_8_8", 32, 18),
    [QT_MXFP4] = KNOWN("MXFP4", 32, 17),
    [QT_NVFP4] = KNOWN("NVFP4", 64, 36),
    [QT_Q1_0] = KNOWN("Q1_0", 128, 18),
};

const quant_traits *quant_traits_of(uint32_t type)
{
    if (type >= QT_COUNT || traits[type].name == NULL) return NULL;
    return &traits[type];
}

const char *quant_type_name(uint32_t type)
{
    const quant_traits *t = quant_traits_of(type);
    return t ? t->name : "unknown";
}

int quant_type_from_name(const char *name)
{
    if (name == NULL) return -1;
    for (int i = 0; i < QT_COUNT; i++) {
        const char *a = traits[i].name, *b = name;
        if (a == NULL) continue;
        while (*a && *b && toupper((unsigned char)*a) == toupper((unsigned char)*b)) {
            a++;
            b++;
        }
        if (*a == 0 && *b == 0) return i;
    }
    return -1;
}

size_t quant_row_size(uint32_t type, int64_t n)
{
    const quant_traits *t = quant_traits_of(type);
    if (t == NULL || n < 0 || n % t->block_size != 0) return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}

/* Programmer errors (unsupported type, ragged n) abort: callers validate types
 * at load time through quant_traits_of, so reaching here with one is a bug. */
void quant_dequantize(uint32_t type, const void *src, float *dst, int64_t n)
{
    const quant_traits *t = quant_traits_of(type);
    INF_ASSERT(t != NULL && t->supported && n >= 0 && n % t->block_size == 0);
    t->dequantize(src, dst, n);
}

void quant_quantize(uint32_t type, const float *src, void *dst, int64_t n)
{
    const quant_traits *t = quant_traits_of(type);
    INF_ASSERT(t != NULL && t->supported && n >= 0 && n % t->block_size == 0);
    t->quantize(src, dst, n);
}
