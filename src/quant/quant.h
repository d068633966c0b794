/* quant.h: weight formats as GGUF stores them (ggml type ids), with a reference
 * quantizer (F32 -> format) and dequantizer (format -> F32) for each.
 *
 * Rows are whole blocks: a row of n elements in a block format takes
 * n / block_size blocks (n must be a multiple of block_size). The block structs
 * live in quant/blocks.h (byte-exact with the files). The functions here are the
 * scalar reference that every fast kernel (cpu/, cuda/) is tested against.
 * Everything here is pure and thread-safe. */
#ifndef INFERD_QUANT_H
#define INFERD_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type ids as stored in GGUF tensor infos. Ids 4, 5, 31..33 and 36..38
 * belonged to formats ggml has since removed; the traits table still names them. */
typedef enum qtype {
    QT_F32 = 0,
    QT_F16 = 1,
    QT_Q4_0 = 2,
    QT_Q4_1 = 3,
    QT_Q5_0 = 6,
    QT_Q5_1 = 7,
    QT_Q8_0 = 8,
    QT_Q8_1 = 9,
    QT_Q2_K = 10,
    QT_Q3_K = 11,
    QT_Q4_K = 12,
    QT_Q5_K = 13,
    QT_Q6_K = 14,
    QT_Q8_K = 15,
    QT_IQ2_XXS = 16,
    QT_IQ2_XS = 17,
    QT_IQ3_XXS = 18,
    QT_IQ1_S = 19,
    QT_IQ4_NL = 20,
    QT_IQ3_S = 21,
    QT_IQ2_S = 22,
    QT_IQ4_XS = 23,
    QT_I8 = 24,
    QT_I16 = 25,
    QT_I32 = 26,
    QT_I64 = 27,
    QT_F64 = 28,
    QT_IQ1_M = 29,
    QT_BF16 = 30,
    QT_TQ1_0 = 34,
    QT_TQ2_0 = 35,
    QT_MXFP4 = 39,
    QT_NVFP4 = 40,
    QT_Q1_0 = 41,
    QT_COUNT = 42 /* one past the largest id named in the traits table */
} qtype;

typedef void (*quant_dequantize_fn)(const void *src, float *dst, int64_t n);
typedef void (*quant_quantize_fn)(const float *src, void *dst, int64_t n);

typedef struct quant_traits {
    const char *name;        /* "Q4_K", as ggml names it */
    int block_size;          /* elements per block (1 for F32/F16/BF16) */
    size_t type_size;        /* bytes per block */
    bool supported;          /* inferd can quantize and dequantize it */
    quant_dequantize_fn dequantize; /* NULL when !supported */
    quant_quantize_fn quantize;     /* NULL when !supported */
} quant_traits;

/* Traits of a type id; NULL for ids no ggml version ever used. Known-but-
 * unsupported types (IQ*, TQ*, ...) return traits with supported = false so that
 * loaders can say "tensor X has type IQ2_XXS, which inferd does not support". */
const quant_traits *quant_traits_of(uint32_t type);

/* "Q4_K" (a static string), or "unknown" for ids the table does not name.
 * Never NULL. */
const char *quant_type_name(uint32_t type);

/* Type id from a name ("q4_k", "Q4_K", "f16", case-insensitive); -1 if none. */
int quant_type_from_name(const char *name);

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size or
 * the type is unknown. */
size_t quant_row_size(uint32_t type, int64_t n);

/* Convenience wrappers over the traits; n must be a multiple of the block size. */
void quant_dequantize(uint32_t type, const void *src, float *dst, int64_t n);
void quant_quantize(uint32_t type, const float *src, void *dst, int64_t n);

/* Scalar half/bfloat16 conversions (round to nearest even). */
float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_f16(float f);
float quant_bf16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f);

#endif
