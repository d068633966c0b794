/* synth_gen.c: direct generation of random blocks per format (synth_gen.h).
 *
 * For each format, x = (block scale) * (sub-block scale) * (quant - centre): the
 * quants are uniform, so their spread is known in closed form, and the scale is
 * sigma divided by the spread (the RMS of a uniform integer on m values is
 * sqrt((m^2 - 1) / 12); of the sub-block scales, computed from their range).
 * Symmetric formats whose quants are not centred (Q4_0: q - 8 in -8..7) take a
 * random sign on the scale so the mean is 0. */
#include "model/synth_gen.h"

#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/quant.h"

static void fill_random(synth_rng *r, void *dst, size_t n)
{
    uint8_t *p = dst;
    while (n >= 8) {
        uint64_t x = synth_rng_next(r);
        memcpy(p, &x, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t x = synth_rng_next(r);
        memcpy(p, &x, n);
    }
}

/* A block scale: base * U(0.75, 1.25). */
static float jitter(synth_rng *r, float base)
{
    return base * (0.75f + 0.5f * synth_rng_unit(r));
}

/* The same distribution in 256 steps, as f16 bit patterns: the symmetric legacy
 * formats draw their scales from it, one random byte per block, which keeps the
 * generator far below the cost of writing the bytes. */
typedef struct scale_table {
    uint16_t h[256];
} scale_table;

static void scale_table_init(scale_table *t, float base)
{
    for (int i = 0; i < 256; i++)
        t->h[i] = quant_f32_to_f16(base * (0.75f + 0.5f * ((float)i + 0.5f) / 256.0f));
}

/* Scales (with random signs: bit 15 of an f16 is its sign) for nb blocks whose
 * f16 d sits at byte offset 0 of blocks of `stride` bytes. */
static void put_signed_scales(synth_rng *r, const scale_table *t, uint8_t *blocks, int64_t nb,
                              size_t stride)
{
    for (int64_t i = 0; i < nb; i += 4) {
        uint64_t x = synth_rng_next(r);
        for (int64_t k = i; k < i + 4 && k < nb; k++, x >>= 16) {
            uint16_t h = (uint16_t)(t->h[x & 255] | ((x >> 8) & 1) << 15);
            memcpy(blocks + (size_t)k * stride, &h, 2);
        }
    }
}

static uint16_t f16(float x) { return quant_f32_to_f16(x); }

/* RMS of a uniform integer on m consecutive values around its mean. */
static float urms(float m) { return sqrtf((m * m - 1.0f) / 12.0f); }

/* RMS of a uniform integer on [lo, hi]. */
static float range_rms(int lo, int hi)
{
    double s = 0;
    for (int k = lo; k <= hi; k++) s += (double)k * k;
    return (float)sqrt(s / (hi - lo + 1));
}

bool synth_gen_supported(uint32_t type)
{
    switch (type) {
    case QT_F32: case QT_F16: case QT_BF16:
    case QT_Q8_0: case QT_Q4_0: case QT_Q4_1: case QT_Q5_0: case QT_Q5_1:
    case QT_Q2_K: case QT_Q3_K: case QT_Q4_K: case QT_Q5_K: case QT_Q6_K:
        return true;
    default:
        return false;
    }
}

static void gen_float(uint32_t type, synth_rng *r, float sigma, int64_t n, void *dst)
{
    const float a = sqrtf(3.0f) * sigma;
    for (int64_t i = 0; i < n; i++) {
        float v = synth_rng_sym(r) * a;
        if (type == QT_F32) ((float *)dst)[i] = v;
        else if (type == QT_F16) ((uint16_t *)dst)[i] = f16(v);
        else ((uint16_t *)dst)[i] = quant_f32_to_bf16(v);
    }
}

/* Packs 8 six-bit scales and mins the way Q4_K / Q5_K store them (blocks.h). */
static void pack_k_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t out[K_SCALE_SIZE])
{
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

void synth_gen_fill(uint32_t type, synth_rng *r, float sigma, int64_t n, void *dst)
{
    const quant_traits *t = quant_traits_of(type);
    if (type == QT_F32 || type == QT_F16 || type == QT_BF16) {
        gen_float(type, r, sigma, n, dst);
        return;
    }
    const int64_t nb = n / t->block_size;
    fill_random(r, dst, (size_t)nb * t->type_size);
    switch (type) {
    case QT_Q8_0:
    case QT_Q4_0:
    case QT_Q5_0: {
        /* d is the first field of these blocks */
        const float m = type == QT_Q8_0 ? 256.0f : type == QT_Q4_0 ? 16.0f : 32.0f;
        scale_table tbl;
        scale_table_init(&tbl, sigma / urms(m));
        put_signed_scales(r, &tbl, dst, nb, t->type_size);
        break;
    }
    case QT_Q4_1: {
        block_q4_1 *b = dst;
        const float base = sigma / urms(16);
        for (int64_t i = 0; i < nb; i++) {
            float d = jitter(r, base);
            b[i].d = f16(d);
            b[i].m = f16(-7.5f * quant_f16_to_f32(b[i].d));
        }
        break;
    }
    case QT_Q5_1: {
        block_q5_1 *b = dst;
        const float base = sigma / urms(32);
        for (int64_t i = 0; i < nb; i++) {
            b[i].d = f16(jitter(r, base));
            b[i].m = f16(-15.5f * quant_f16_to_f32(b[i].d));
        }
        break;
    }
    case QT_Q2_K: {
        /* x = d*sc*q - dmin*mn with sc in 8..15, mn = sc, dmin = 1.5 d: x = d*sc*(q - 1.5) */
        block_q2_K *b = dst;
        const float base = sigma / (range_rms(8, 15) * urms(4));
        for (int64_t i = 0; i < nb; i++) {
            for (int j = 0; j < QK_K / 16; j++) {
                uint8_t s = (uint8_t)(8 + synth_rng_below(r, 8));
                b[i].scales[j] = (uint8_t)(s | (s << 4));
            }
            b[i].d = f16(jitter(r, base));
            b[i].dmin = f16(1.5f * quant_f16_to_f32(b[i].d));
        }
        break;
    }
    case QT_Q3_K: {
        /* x = d*(sc - 32)*q, q in -4..3 (E[q^2] = 5.5); |sc - 32| in 8..31 with a random
         * sign, which also centres the -0.5 mean of q */
        block_q3_K *b = dst;
        const float base = sigma / (range_rms(8, 31) * sqrtf(5.5f));
        for (int64_t i = 0; i < nb; i++) {
            memset(b[i].scales, 0, sizeof b[i].scales);
            for (int j = 0; j < 16; j++) {
                uint64_t x = synth_rng_next(r);
                int s = 8 + (int)((x >> 32) % 24);
                uint8_t sc = (uint8_t)(32 + ((x & 1) ? -s : s));
                b[i].scales[j & 7] |= (uint8_t)((sc & 15) << (4 * (j >> 3)));
                b[i].scales[8 + (j & 3)] |= (uint8_t)((sc >> 4) << (2 * (j >> 2)));
            }
            b[i].d = f16(jitter(r, base));
        }
        break;
    }
    case QT_Q4_K:
    case QT_Q5_K: {
        /* x = d*sc*q - dmin*mn with sc in 32..63, mn = sc, dmin = centre * d */
        const bool five = type == QT_Q5_K;
        const float centre = five ? 15.5f : 7.5f;
        const float base = sigma / (range_rms(32, 63) * urms(five ? 32 : 16));
        for (int64_t i = 0; i < nb; i++) {
            uint8_t sc[8];
            for (int j = 0; j < 8; j++) sc[j] = (uint8_t)(32 + synth_rng_below(r, 32));
            uint16_t d = f16(jitter(r, base));
            uint16_t dmin = f16(centre * quant_f16_to_f32(d));
            if (five) {
                block_q5_K *b = (block_q5_K *)dst + i;
                pack_k_scales(sc, sc, b->scales);
                b->d = d;
                b->dmin = dmin;
            } else {
                block_q4_K *b = (block_q4_K *)dst + i;
                pack_k_scales(sc, sc, b->scales);
                b->d = d;
                b->dmin = dmin;
            }
        }
        break;
    }
    case QT_Q6_K: {
        /* x = d*scales[j]*(q - 32), |scales| in 8..63 with a random sign */
        block_q6_K *b = dst;
        const float base = sigma / (range_rms(8, 63) * range_rms(-32, 31));
        for (int64_t i = 0; i < nb; i++) {
            for (int j = 0; j < QK_K / 16; j++) {
                uint64_t x = synth_rng_next(r);
                int s = 8 + (int)((x >> 32) % 56);
                b[i].scales[j] = (int8_t)((x & 1) ? -s : s);
            }
            b[i].d = f16(jitter(r, base));
        }
        break;
    }
    default:
        break;
    }
}
