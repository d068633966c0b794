/* quant_legacy.c: the 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and
 * Q8_1 (layouts in quant/blocks.h).
 *
 * Dequantizers compute exactly what gguf.quants.dequantize computes (the same
 * f32 products and sums in the same order, no fused multiply-add), so the two
 * agree bit for bit. Quantizers are the classic one-pass ones: the scale comes
 * from the block's extreme values and each value is rounded once; they give the
 * same bytes as gguf.quants.quantize and ggml's reference quantizers. Rounding is
 * written as trunc(v + 0.5) on a non-negative v (or roundf for Q8), as they do.
 * Every float -> int conversion is clamped first (clamp_trunc), so NaN or inf in
 * the input gives defined, if meaningless, codes rather than undefined behaviour. */
#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/formats.h"
#include "quant/half.h"
#include "quant/quant.h"

static inline float h2f(uint16_t h)
{
    return quant_half_to_float(h);
}

/* trunc(v) clamped to [0, hi]; NaN gives 0. */
static inline int clamp_trunc(float v, int hi)
{
    if (!(v >= 0.0f)) return 0;
    if (v >= (float)hi) return hi;
    return (int)v;
}

/* roundf(v) (halves away from zero) clamped to [-127, 127]; NaN gives 0. */
static inline int clamp_round127(float v)
{
    if (!(v > -127.0f)) return v <= -127.0f ? -127 : 0;
    if (v >= 127.0f) return 127;
    return (int)roundf(v);
}

/* The value of largest magnitude, sign kept; the first one wins ties. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *out_min, float *out_max)
{
    float mn = x[0], mx = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] < mn) mn = x[j];
        if (x[j] > mx) mx = x[j];
    }
    *out_min = mn;
    *out_max = mx;
}

/* 5th bits of Q5 blocks: bit j of the little-endian uint32 in qh. */
static inline void store_qh(uint8_t qh[4], uint32_t v)
{
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(v >> (8 * i));
}

/* The 32 fifth bits as bytes of 0 or 16, so the decode loop has no per-element
 * variable shift (which keeps it from vectorizing). Per qh byte: the multiply
 * copies it into all 8 bytes of a word, the mask keeps bit i in byte i, and
 * adding 0x7f carries into bit 7 exactly when that bit was set. */
static inline void q5_high_bits(const uint8_t qh[4], uint8_t hb[32])
{
    for (int k = 0; k < 4; k++) {
        uint64_t w = (qh[k] * 0x0101010101010101ull) & 0x8040201008040201ull;
        w = ((w + 0x7f7f7f7f7f7f7f7full) & 0x8080808080808080ull) >> 3;
        memcpy(hb + 8 * k, &w, 8); /* little-endian: byte i of w is element 8k + i */
    }
}

/* ---- Q4_0: x = d * (q - 8) ---- */

void quant_q4_0_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++, b++, dst += QK4_0) {
        float d = h2f(b->d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[j] = d * (float)((b->qs[j] & 0x0f) - 8);
            dst[j + QK4_0 / 2] = d * (float)((b->qs[j] >> 4) - 8);
        }
    }
}

/* d maps the extreme value to -8, the one code with no positive twin, so the
 * other side of the range gets all of 1..7 plus rounding room up to 8.5. */
void quant_q4_0_quantize(const float *src, void *dst, int64_t n)
{
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, b++, src += QK4_0) {
        float d = signed_absmax(src, QK4_0) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = quant_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int q0 = clamp_trunc(src[j] * id + 8.5f, 15);
            int q1 = clamp_trunc(src[j + QK4_0 / 2] * id + 8.5f, 15);
            b->qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* ---- Q4_1: x = d * q + m ---- */

void quant_q4_1_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++, b++, dst += QK4_1) {
        float d = h2f(b->d), m = h2f(b->m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            float v0 = d * (float)(b->qs[j] & 0x0f);
            float v1 = d * (float)(b->qs[j] >> 4);
            dst[j] = v0 + m;
            dst[j + QK4_1 / 2] = v1 + m;
        }
    }
}

void quant_q4_1_quantize(const float *src, void *dst, int64_t n)
{
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, b++, src += QK4_1) {
        float mn, mx;
        min_max(src, QK4_1, &mn, &mx);
        float d = (mx - mn) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = quant_f32_to_f16(d);
        b->m = quant_f32_to_f16(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int q0 = clamp_trunc((src[j] - mn) * id + 0.5f, 15);
            int q1 = clamp_trunc((src[j + QK4_1 / 2] - mn) * id + 0.5f, 15);
            b->qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* ---- Q5_0: x = d * (q - 16) ---- */

void quant_q5_0_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q5_0 *b = src;
    for (int64_t i = 0; i < n / QK5_0; i++, b++, dst += QK5_0) {
        float d = h2f(b->d);
        uint8_t hb[QK5_0];
        q5_high_bits(b->qh, hb);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = (b->qs[j] & 0x0f) | hb[j];
            int q1 = (b->qs[j] >> 4) | hb[j + QK5_0 / 2];
            dst[j] = d * (float)(q0 - 16);
            dst[j + QK5_0 / 2] = d * (float)(q1 - 16);
        }
    }
}

void quant_q5_0_quantize(const float *src, void *dst, int64_t n)
{
    block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / QK5_0; i++, b++, src += QK5_0) {
        float d = signed_absmax(src, QK5_0) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        b->d = quant_f32_to_f16(d);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = clamp_trunc(src[j] * id + 16.5f, 31);
            int q1 = clamp_trunc(src[j + QK5_0 / 2] * id + 16.5f, 31);
            b->qs[j] = (uint8_t)((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + QK5_0 / 2);
        }
        store_qh(b->qh, qh);
    }
}

/* ---- Q5_1: x = d * q + m ---- */

void quant_q5_1_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q5_1 *b = src;
    for (int64_t i = 0; i < n / QK5_1; i++, b++, dst += QK5_1) {
        float d = h2f(b->d), m = h2f(b->m);
        uint8_t hb[QK5_1];
        q5_high_bits(b->qh, hb);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int q0 = (b->qs[j] & 0x0f) | hb[j];
            int q1 = (b->qs[j] >> 4) | hb[j + QK5_1 / 2];
            float v0 = d * (float)q0, v1 = d * (float)q1;
            dst[j] = v0 + m;
            dst[j + QK5_1 / 2] = v1 + m;
        }
    }
}

void quant_q5_1_quantize(const float *src, void *dst, int64_t n)
{
    block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / QK5_1; i++, b++, src += QK5_1) {
        float mn, mx;
        min_max(src, QK5_1, &mn, &mx);
        float d = (mx - mn) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        b->d = quant_f32_to_f16(d);
        b->m = quant_f32_to_f16(mn);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int q0 = clamp_trunc((src[j] - mn) * id + 0.5f, 31);
            int q1 = clamp_trunc((src[j + QK5_1 / 2] - mn) * id + 0.5f, 31);
            b->qs[j] = (uint8_t)((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + QK5_1 / 2);
        }
        store_qh(b->qh, qh);
    }
}

/* ---- Q8_0: x = d * q ---- */

void quant_q8_0_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++, b++, dst += QK8_0) {
        float d = h2f(b->d);
        for (int j = 0; j < QK8_0; j++) dst[j] = (float)b->qs[j] * d;
    }
}

static float absmax(const float *x, int n)
{
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

void quant_q8_0_quantize(const float *src, void *dst, int64_t n)
{
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, b++, src += QK8_0) {
        float d = absmax(src, QK8_0) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = quant_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) b->qs[j] = (int8_t)clamp_round127(src[j] * id);
    }
}

/* ---- Q8_1: x = d * q, with s = d * sum(q) ---- */

void quant_q8_1_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++, b++, dst += QK8_1) {
        float d = h2f(b->d);
        for (int j = 0; j < QK8_1; j++) dst[j] = (float)b->qs[j] * d;
    }
}

void quant_q8_1_quantize(const float *src, void *dst, int64_t n)
{
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, b++, src += QK8_1) {
        float d = absmax(src, QK8_1) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            b->qs[j] = (int8_t)clamp_round127(src[j] * id);
            sum += b->qs[j];
        }
        b->d = quant_f32_to_f16(d);
        b->s = quant_f32_to_f16((float)sum * d);
    }
}
