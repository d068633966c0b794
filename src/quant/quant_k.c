/* quant_k.c: the K formats Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K, super-blocks
 * of QK_K = 256 values (layouts, and the element -> bits map, in blocks.h).
 *
 * Dequantizers compute exactly what gguf.quants.dequantize does: the sub-block
 * factor first (d * sc, dmin * m, both in f32), then factor * q minus the min
 * product, so the two agree bit for bit (no fused multiply-add: see
 * CMakeLists.txt).
 *
 * Quantizers work in three steps: fit each sub-block on its own (fit.h), store
 * the sub-block scales (and mins) as small integers relative to one f16 scale
 * per super-block, then recompute every code against the scales as they will be
 * decoded, so that rounding of the scales is not compounded. They are not
 * byte-identical to ggml's quantizers (which weight errors by magnitude), and
 * end slightly below their RMSE when those run without an importance matrix
 * (bench/quant_vs_llamacpp.py); the unit tests pin the bounds. */
#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/fit.h"
#include "quant/formats.h"
#include "quant/half.h"
#include "quant/quant.h"

#define F16_MAX 65504.0f

static inline float h2f(uint16_t h)
{
    return quant_half_to_float(h);
}

/* A super-block scale as stored: f16, kept finite (a huge input saturates
 * instead of turning into inf * 0 = NaN on the way back). */
static uint16_t store_scale(float v)
{
    if (!(v == v)) return 0;
    if (v > F16_MAX) v = F16_MAX;
    if (v < -F16_MAX) v = -F16_MAX;
    return quant_f32_to_f16(v);
}

/* Squared error of v[j] ~ d * l[j] with l rounded and clamped to [lo, hi]. */
static float scales_err(const float *v, int n, float d, int lo, int hi, int *l)
{
    float id = d != 0.0f ? 1.0f / d : 0.0f, err = 0.0f;
    for (int j = 0; j < n; j++) {
        l[j] = quant_round_clamp(v[j] * id, lo, hi);
        float e = v[j] - d * (float)l[j];
        err += e * e;
    }
    return err;
}

/* Integer multipliers for per-group scales v[0..n): v[j] ~ d * l[j] with l in
 * [lo, hi]; d is returned as stored (f16) and l is computed against it. The
 * extreme of v lands on lo when lo < 0 (symmetric formats), on hi otherwise.
 * Real weights are small, which puts d among the f16 subnormals with only a few
 * significant bits: the f16 values next to the rounded one can then fit the
 * scales much better (or avoid clamping the extreme group), so they are tried. */
static uint16_t quantize_scales(const float *v, int n, int lo, int hi, int *l)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(v[j])) {
            amax = fabsf(v[j]);
            max = v[j];
        }
    }
    uint16_t dh = store_scale(lo < 0 ? max / (float)lo : max / (float)hi);
    int tmp[QK_K / 16];
    float best = scales_err(v, n, h2f(dh), lo, hi, l);
    uint16_t best_dh = dh;
    for (int k = -2; k <= 2 && (dh & 0x7fff) != 0; k++) {
        int mag = (dh & 0x7fff) + k;
        if (k == 0 || mag <= 0 || mag > 0x7bff) continue;
        uint16_t cand = (uint16_t)((dh & 0x8000) | mag);
        float err = scales_err(v, n, h2f(cand), lo, hi, tmp);
        if (err < best) {
            best = err;
            best_dh = cand;
            memcpy(l, tmp, (size_t)n * sizeof *l);
        }
    }
    return best_dh;
}

/* Codes of x ~ dl * q - ml for a decoded sub-block scale and min. */
static void codes_affine(const float *x, int n, float dl, float ml, int qmax, uint8_t *q)
{
    float id = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int i = 0; i < n; i++) q[i] = (uint8_t)quant_round_clamp((x[i] + ml) * id, 0, qmax);
}

/* Codes of x ~ dl * q, q in [qmin, qmax], stored biased by -qmin. */
static void codes_symmetric(const float *x, int n, float dl, int qmin, int qmax, uint8_t *u)
{
    float id = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int i = 0; i < n; i++)
        u[i] = (uint8_t)(quant_round_clamp(x[i] * id, qmin, qmax) - qmin);
}

/* ---- Q2_K: 16 x 16, x = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3 ---- */

void quant_q2_k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q2_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        float d = h2f(b->d), dmin = h2f(b->dmin);
        /* 32 values per (half h, shift s), in two sub-blocks: one loop of 32
         * with the scale selected per element vectorizes; two of 16 do not */
        for (int h = 0; h < 2; h++) {
            for (int s = 0; s < 4; s++, dst += 32) {
                int j = 8 * h + 2 * s;
                float dl0 = d * (float)(b->scales[j] & 0x0f), ml0 = dmin * (float)(b->scales[j] >> 4);
                float dl1 = d * (float)(b->scales[j + 1] & 0x0f);
                float ml1 = dmin * (float)(b->scales[j + 1] >> 4);
                const uint8_t *qs = b->qs + 32 * h;
                for (int l = 0; l < 32; l++) {
                    float dl = l < 16 ? dl0 : dl1, ml = l < 16 ? ml0 : ml1;
                    float v = dl * (float)((qs[l] >> (2 * s)) & 3);
                    dst[l] = v - ml;
                }
            }
        }
    }
}

void quant_q2_k_quantize(const float *src, void *dst, int64_t n)
{
    block_q2_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        float sc[16], mn[16];
        int ls[16], lm[16];
        uint8_t q[QK_K];
        for (int j = 0; j < 16; j++) quant_fit_affine(src + 16 * j, 16, 3, &sc[j], &mn[j]);
        b->d = quantize_scales(sc, 16, 0, 15, ls);
        b->dmin = quantize_scales(mn, 16, 0, 15, lm);
        float d = h2f(b->d), dmin = h2f(b->dmin);
        for (int j = 0; j < 16; j++) {
            b->scales[j] = (uint8_t)(ls[j] | lm[j] << 4);
            codes_affine(src + 16 * j, 16, d * (float)ls[j], dmin * (float)lm[j], 3, q + 16 * j);
        }
        memset(b->qs, 0, sizeof b->qs);
        for (int e = 0; e < QK_K; e++)
            b->qs[32 * (e / 128) + e % 32] |= (uint8_t)(q[e] << (2 * ((e / 32) % 4)));
    }
}

/* ---- Q3_K: 16 x 16, x = d * (sc - 32) * q, q in -4..3 ---- */

static int q3_k_scale(const uint8_t *sc, int j)
{
    int low = j < 8 ? sc[j] & 0x0f : sc[j - 8] >> 4;
    int high = (sc[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    return low | high << 4;
}

void quant_q3_k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q3_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        float d = h2f(b->d);
        for (int h = 0; h < 2; h++) {
            for (int s = 0; s < 4; s++, dst += 32) {
                int j = 8 * h + 2 * s, k = 4 * h + s;
                float dl0 = d * (float)(q3_k_scale(b->scales, j) - 32);
                float dl1 = d * (float)(q3_k_scale(b->scales, j + 1) - 32);
                const uint8_t *qs = b->qs + 32 * h;
                for (int l = 0; l < 32; l++) {
                    /* a clear high bit means q - 4 */
                    int q = ((qs[l] >> (2 * s)) & 3) - 4 + (((b->hmask[l] >> k) & 1) << 2);
                    dst[l] = (l < 16 ? dl0 : dl1) * (float)q;
                }
            }
        }
    }
}

void quant_q3_k_quantize(const float *src, void *dst, int64_t n)
{
    block_q3_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        float sc[16];
        int ls[16];
        uint8_t u[QK_K];
        for (int j = 0; j < 16; j++) sc[j] = quant_fit_symmetric(src + 16 * j, 16, -4, 3);
        b->d = quantize_scales(sc, 16, -32, 31, ls);
        float d = h2f(b->d);
        memset(b->scales, 0, sizeof b->scales);
        for (int j = 0; j < 16; j++) {
            int v = ls[j] + 32;
            if (j < 8) b->scales[j] |= (uint8_t)(v & 0x0f);
            else b->scales[j - 8] |= (uint8_t)((v & 0x0f) << 4);
            b->scales[8 + (j & 3)] |= (uint8_t)((v >> 4) << (2 * (j >> 2)));
            codes_symmetric(src + 16 * j, 16, d * (float)ls[j], -4, 3, u + 16 * j);
        }
        memset(b->qs, 0, sizeof b->qs);
        memset(b->hmask, 0, sizeof b->hmask);
        for (int e = 0; e < QK_K; e++) {
            b->qs[32 * (e / 128) + e % 32] |= (uint8_t)((u[e] & 3) << (2 * ((e / 32) % 4)));
            b->hmask[e % 32] |= (uint8_t)((u[e] >> 2) << (e / 32));
        }
    }
}

/* ---- Q4_K and Q5_K: 8 x 32, x = d * sc * q - dmin * m ---- */

static void k4_scale_min(const uint8_t *p, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = p[j] & 63;
        *m = p[j + 4] & 63;
    } else {
        *sc = (p[j + 4] & 0x0f) | (p[j - 4] >> 6) << 4;
        *m = (p[j + 4] >> 4) | (p[j] >> 6) << 4;
    }
}

static void k4_pack_scales(uint8_t *p, const int *ls, const int *lm)
{
    memset(p, 0, K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            p[j] |= (uint8_t)ls[j];
            p[j + 4] |= (uint8_t)lm[j];
        } else {
            p[j + 4] = (uint8_t)((ls[j] & 0x0f) | (lm[j] & 0x0f) << 4);
            p[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            p[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Shared by Q4_K (qmax 15) and Q5_K (qmax 31): fits, scales and codes. */
static void k4_quantize_block(const float *x, int qmax, uint16_t *d, uint16_t *dmin,
                              uint8_t *scales, uint8_t *q)
{
    float sc[8], mn[8];
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) quant_fit_affine(x + 32 * j, 32, qmax, &sc[j], &mn[j]);
    *d = quantize_scales(sc, 8, 0, 63, ls);
    *dmin = quantize_scales(mn, 8, 0, 63, lm);
    k4_pack_scales(scales, ls, lm);
    float df = h2f(*d), mf = h2f(*dmin);
    for (int j = 0; j < 8; j++)
        codes_affine(x + 32 * j, 32, df * (float)ls[j], mf * (float)lm[j], qmax, q + 32 * j);
}

void quant_q4_k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        float d = h2f(b->d), dmin = h2f(b->dmin);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(b->scales, j, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            const uint8_t *qs = b->qs + 32 * (j / 2);
            int shift = 4 * (j & 1);
            for (int l = 0; l < 32; l++) {
                float v = dl * (float)((qs[l] >> shift) & 0x0f);
                *dst++ = v - ml;
            }
        }
    }
}

void quant_q4_k_quantize(const float *src, void *dst, int64_t n)
{
    block_q4_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        uint8_t q[QK_K];
        k4_quantize_block(src, 15, &b->d, &b->dmin, b->scales, q);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * p + l] = (uint8_t)(q[64 * p + l] | q[64 * p + 32 + l] << 4);
    }
}

void quant_q5_k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        float d = h2f(b->d), dmin = h2f(b->dmin);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(b->scales, j, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            const uint8_t *qs = b->qs + 32 * (j / 2);
            int shift = 4 * (j & 1);
            for (int l = 0; l < 32; l++) {
                int q = ((qs[l] >> shift) & 0x0f) | ((b->qh[l] >> j) & 1) << 4;
                float v = dl * (float)q;
                *dst++ = v - ml;
            }
        }
    }
}

void quant_q5_k_quantize(const float *src, void *dst, int64_t n)
{
    block_q5_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        uint8_t q[QK_K];
        k4_quantize_block(src, 31, &b->d, &b->dmin, b->scales, q);
        memset(b->qh, 0, sizeof b->qh);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * p + l] =
                    (uint8_t)((q[64 * p + l] & 0x0f) | (q[64 * p + 32 + l] & 0x0f) << 4);
        for (int e = 0; e < QK_K; e++) b->qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
    }
}

/* ---- Q6_K: 16 x 16, x = d * sc * (q - 32), sc signed 8 bits ---- */

void quant_q6_k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q6_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++) {
        float d = h2f(b->d);
        for (int h = 0; h < 2; h++) {
            for (int s = 0; s < 4; s++, dst += 32) {
                int j = 8 * h + 2 * s;
                float dl0 = d * (float)b->scales[j], dl1 = d * (float)b->scales[j + 1];
                const uint8_t *ql = b->ql + 64 * h + 32 * (s & 1);
                const uint8_t *qh = b->qh + 32 * h;
                int lshift = 4 * (s >> 1);
                for (int l = 0; l < 32; l++) {
                    int q = ((ql[l] >> lshift) & 0x0f) | ((qh[l] >> (2 * s)) & 3) << 4;
                    dst[l] = (l < 16 ? dl0 : dl1) * (float)(q - 32);
                }
            }
        }
    }
}

void quant_q6_k_quantize(const float *src, void *dst, int64_t n)
{
    block_q6_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        float sc[16];
        int ls[16];
        uint8_t u[QK_K];
        for (int j = 0; j < 16; j++) sc[j] = quant_fit_symmetric(src + 16 * j, 16, -32, 31);
        b->d = quantize_scales(sc, 16, -128, 127, ls);
        float d = h2f(b->d);
        for (int j = 0; j < 16; j++) {
            b->scales[j] = (int8_t)ls[j];
            codes_symmetric(src + 16 * j, 16, d * (float)ls[j], -32, 31, u + 16 * j);
        }
        memset(b->ql, 0, sizeof b->ql);
        memset(b->qh, 0, sizeof b->qh);
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e / 32) % 4, l = e % 32;
            b->ql[64 * h + 32 * (s & 1) + l] |= (uint8_t)((u[e] & 0x0f) << (4 * (s >> 1)));
            b->qh[32 * h + l] |= (uint8_t)((u[e] >> 4) << (2 * s));
        }
    }
}

/* ---- Q8_K: x = d * q, f32 d; bsums for the dot products ---- */

void quant_q8_k_dequantize(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n / QK_K; i++, p += sizeof(block_q8_K)) {
        block_q8_K b; /* blocks are 292 bytes: the f32 d of most is unaligned */
        memcpy(&b, p, sizeof b);
        for (int l = 0; l < QK_K; l++) *dst++ = b.d * (float)b.qs[l];
    }
}

/* The extreme value lands on -127 exactly (as ggml does), so the other side
 * keeps its full 127 steps. */
void quant_q8_k_quantize(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p += sizeof(block_q8_K), src += QK_K) {
        block_q8_K b;
        float amax = 0.0f, max = 0.0f;
        for (int l = 0; l < QK_K; l++) {
            if (amax < fabsf(src[l])) {
                amax = fabsf(src[l]);
                max = src[l];
            }
        }
        float is = amax > 0.0f && isfinite(amax) ? -127.0f / max : 0.0f;
        b.d = is != 0.0f ? 1.0f / is : 0.0f;
        for (int l = 0; l < QK_K; l++) b.qs[l] = (int8_t)quant_round_clamp(is * src[l], -127, 127);
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += b.qs[16 * j + l];
            b.bsums[j] = (int16_t)sum;
        }
        memcpy(p, &b, sizeof b);
    }
}
