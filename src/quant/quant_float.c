/* quant_float.c: F32, F16 and BF16 rows, and the scalar half / bfloat16
 * conversions every other format uses for its scales.
 *
 * f16 <-> f32 rounds to nearest even and handles subnormals, infinities and NaN
 * the way the x86 F16C instructions (vcvtph2ps / vcvtps2ph) do, NaNs made quiet,
 * so that SIMD kernels using them agree with this reference bit for bit.
 * bf16 follows ggml: NaN made quiet, round to nearest even. */
#include <string.h>

#include "quant/formats.h"
#include "quant/half.h"
#include "quant/quant.h"

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float quant_f16_to_f32(uint16_t h)
{
    return quant_half_to_float(h);
}

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) /* NaN: quiet, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    /* 65520 is halfway between 65504 (the largest half) and 65536: even is inf */
    if (ax >= 0x477ff000) return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000) { /* below 2^-14: a half subnormal, in units of 2^-24 */
        uint32_t e = ax >> 23;
        uint32_t shift = 126 - e; /* m * 2^(e-150) / 2^-24 = m >> (126 - e) */
        if (shift > 24) return sign; /* under 2^-25 (or exactly: tie to even 0) */
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q); /* q may carry into 0x400, the least normal */
    }
    uint32_t h = (ax >> 13) - ((127 - 15) << 10);
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float quant_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

void quant_f32_dequantize(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_f32_quantize(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

/* Half rows are read with memcpy: GGUF aligns tensors, but callers may hand
 * sub-rows at odd offsets and uint16_t loads must not assume alignment. */
void quant_f16_dequantize(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = quant_half_to_float(h);
    }
}

void quant_f16_quantize(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = quant_f32_to_f16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}

void quant_bf16_dequantize(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = quant_bf16_to_f32(h);
    }
}

void quant_bf16_quantize(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = quant_f32_to_bf16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}
