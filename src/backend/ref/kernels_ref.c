/* kernels_ref.c: scalar references of the CPU matmul kernels, the q8a activation
 * quantizer, and the panel packer (formats in kernels_ref.h).
 *
 * Each weight block is first decoded into unsigned quants plus integer scales
 * (decode_sb, written from the bit layouts documented in quant/blocks.h); the
 * packer scatters those into panels and kref_gemm_panel reads them back. The
 * oracle kref_gemm does not use this decoding at all: it dequantizes through
 * quant/, so a mistake in decode_sb shows up as a mismatch in the tests. */
#include "backend/ref/kernels_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/quant.h"

#define PR KREF_PANEL_ROWS

void kref_quantize_q8a(const float *x, kref_q8a *y, int64_t k)
{
    for (int64_t b = 0; b < k / KREF_GROUP; b++) {
        const float *xb = x + b * KREF_GROUP;
        float amax = 0;
        for (int i = 0; i < KREF_GROUP; i++) amax = fmaxf(amax, fabsf(xb[i]));
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        int s0 = 0, s1 = 0;
        for (int i = 0; i < KREF_GROUP; i++) {
            int q = (int)nearbyintf(xb[i] * id);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            y[b].qs[i] = (int8_t)q;
            if (i < 16) s0 += q; else s1 += q;
        }
        y[b].d = d;
        y[b].s16[0] = d * (float)s0;
        y[b].s16[1] = d * (float)s1;
        y[b].s = d * (float)(s0 + s1);
    }
}

kref_act_kind kref_act_kind_of(uint32_t type)
{
    switch (type) {
    case QT_Q4_0:
    case QT_Q5_0:
    case QT_Q8_0: return KREF_ACT_Q8_0;
    case QT_Q4_1:
    case QT_Q5_1: return KREF_ACT_Q8_1;
    case QT_Q2_K:
    case QT_Q3_K:
    case QT_Q4_K:
    case QT_Q5_K:
    case QT_Q6_K: return KREF_ACT_Q8_K;
    default: return KREF_ACT_Q8A;
    }
}

static void block_sums(const int8_t *qs, int *s0, int *s1)
{
    *s0 = *s1 = 0;
    for (int i = 0; i < 16; i++) {
        *s0 += qs[i];
        *s1 += qs[16 + i];
    }
}

void kref_q8a_to_kind(kref_act_kind kind, kref_q8a *y, int64_t n_blocks)
{
    if (kind != KREF_ACT_Q8_0 && kind != KREF_ACT_Q8_1) return;
    for (int64_t b = 0; b < n_blocks; b++) {
        int s0, s1;
        block_sums(y[b].qs, &s0, &s1);
        float d32 = y[b].d, d16 = quant_f16_to_f32(quant_f32_to_f16(d32));
        y[b].d = d16;
        y[b].s16[0] = d16 * (float)s0;
        y[b].s16[1] = d16 * (float)s1;
        y[b].s = kind == KREF_ACT_Q8_1 ? quant_f16_to_f32(quant_f32_to_f16(d32 * (float)(s0 + s1)))
                                        : d16 * (float)(s0 + s1);
    }
}

/* Round half to even, as llama.cpp's nearest_int (float magic number) does for
 * |v| < 2^22. */
static int round_even(float v)
{
    return (int)nearbyintf(v);
}

static void quantize_q8k(const float *x, kref_q8a *y, int64_t k)
{
    for (int64_t sb = 0; sb < k / 256; sb++, x += 256, y += 8) {
        float amax = 0, m = 0;
        for (int i = 0; i < 256; i++) {
            float ax = fabsf(x[i]);
            if (ax > amax) {
                amax = ax;
                m = x[i];
            }
        }
        float iscale = amax > 0 ? -127.0f / m : 0.0f, d = amax > 0 ? 1 / iscale : 0.0f;
        for (int b = 0; b < 8; b++) {
            for (int i = 0; i < 32; i++) {
                int v = round_even(iscale * x[32 * b + i]);
                y[b].qs[i] = (int8_t)(v > 127 ? 127 : v);
            }
            int s0, s1;
            block_sums(y[b].qs, &s0, &s1);
            y[b].d = d;
            y[b].s16[0] = d * (float)s0;
            y[b].s16[1] = d * (float)s1;
            y[b].s = d * (float)(s0 + s1);
        }
    }
}

void kref_quantize_act(kref_act_kind kind, const float *x, kref_q8a *y, int64_t k)
{
    if (kind == KREF_ACT_Q8_K) {
        quantize_q8k(x, y, k);
        return;
    }
    kref_quantize_q8a(x, y, k);
    kref_q8a_to_kind(kind, y, k / KREF_GROUP);
}

/* ---- formats ---- */

#define HDR_LEG (PR * 2)
#define HDR_LEG1 (PR * 4)
#define HDR_K32 (PR * 4 + 8 * PR * 2)
#define HDR_K16 (PR * 2 + 16 * PR)
#define HDR_K16M (PR * 4 + 16 * PR * 2)
#define PL_NIB 256
#define PL_HI1 64
#define PL_HI2 128
#define PL_BYTE 512

static const kref_panel_format formats[] = {
    {QT_F32, QT_F32, 1, KREF_PL_FLOAT, KREF_SC_NONE, 0, 4, 0, 0},
    {QT_F16, QT_F16, 1, KREF_PL_FLOAT, KREF_SC_NONE, 0, 2, 0, 0},
    {QT_BF16, QT_BF16, 1, KREF_PL_FLOAT, KREF_SC_NONE, 0, 2, 0, 0},
    {QT_Q4_0, QT_Q4_0, 32, KREF_PL_NIB, KREF_SC_LEG, 8, 0, HDR_LEG, PL_NIB},
    {QT_Q4_1, QT_Q4_1, 32, KREF_PL_NIB, KREF_SC_LEG1, 0, 0, HDR_LEG1, PL_NIB},
    {QT_Q5_0, QT_Q5_0, 32, KREF_PL_NIB_HI1, KREF_SC_LEG, 16, 0, HDR_LEG, PL_NIB + PL_HI1},
    {QT_Q5_1, QT_Q5_1, 32, KREF_PL_NIB_HI1, KREF_SC_LEG1, 0, 0, HDR_LEG1, PL_NIB + PL_HI1},
    {QT_Q8_0, QT_Q8_0, 32, KREF_PL_BYTE, KREF_SC_LEG, 128, 0, HDR_LEG, PL_BYTE},
    {QT_Q2_K, QT_Q2_K, 256, KREF_PL_NIB, KREF_SC_K16M, 0, 0, HDR_K16M, PL_NIB},
    {QT_Q3_K, QT_Q3_K, 256, KREF_PL_NIB, KREF_SC_K16, 4, 0, HDR_K16, PL_NIB},
    {QT_Q4_K, QT_Q4_K, 256, KREF_PL_NIB, KREF_SC_K32, 0, 0, HDR_K32, PL_NIB},
    {QT_Q5_K, QT_Q5_K, 256, KREF_PL_NIB_HI1, KREF_SC_K32, 0, 0, HDR_K32, PL_NIB + PL_HI1},
    {QT_Q6_K, QT_Q6_K, 256, KREF_PL_NIB_HI2, KREF_SC_K16, 32, 0, HDR_K16, PL_NIB + PL_HI2},
};

/* Types quant/ reads but no panel format covers: packed as F32 values. */
static kref_panel_format generic_formats[QT_COUNT];

const kref_panel_format *kref_panel_format_of(uint32_t type)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].type == type) return &formats[i];
    const quant_traits *tr = quant_traits_of(type);
    if (!tr || !tr->supported || type >= QT_COUNT) return NULL;
    /* Filled on every call with the same constant values: harmless if two
     * threads race, and it keeps this file free of init functions. */
    kref_panel_format *f = &generic_formats[type];
    f->type = type;
    f->panel_type = QT_F32;
    f->sb = tr->block_size;
    f->planes = KREF_PL_FLOAT;
    f->scales = KREF_SC_NONE;
    f->elem_bytes = 4;
    return f;
}

bool kref_type_uses_q8a(uint32_t type)
{
    const kref_panel_format *f = kref_panel_format_of(type);
    return f && f->planes != KREF_PL_FLOAT;
}

size_t kref_panel_bytes(uint32_t type, int64_t k)
{
    const kref_panel_format *f = kref_panel_format_of(type);
    if (!f || k <= 0 || k % f->sb) return 0;
    if (f->planes == KREF_PL_FLOAT) return (size_t)k * PR * (size_t)f->elem_bytes;
    int64_t n_sb = k / f->sb;
    return (size_t)n_sb * (f->header_bytes + (size_t)(f->sb / KREF_GROUP) * f->group_bytes);
}

/* ---- decoding one super-block of one row ---- */

typedef struct sb_data {
    uint8_t q[QK_K];        /* unsigned quants */
    uint16_t d, dmin;       /* f16 bits (LEG1: dmin holds m) */
    int sc[16], mn[16];     /* per sub-block (K formats; K16 scales signed) */
} sb_data;

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void decode_sb(uint32_t type, const uint8_t *blk, sb_data *o)
{
    switch (type) {
    case QT_Q4_0:
    case QT_Q4_1: {
        const uint8_t *qs = blk + (type == QT_Q4_0 ? 2 : 4);
        o->d = rd16(blk);
        o->dmin = type == QT_Q4_1 ? rd16(blk + 2) : 0;
        for (int i = 0; i < 16; i++) {
            o->q[i] = qs[i] & 15;
            o->q[i + 16] = qs[i] >> 4;
        }
        return;
    }
    case QT_Q5_0:
    case QT_Q5_1: {
        int off = type == QT_Q5_0 ? 2 : 4;
        const uint8_t *qh = blk + off, *qs = blk + off + 4;
        uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                     (uint32_t)qh[3] << 24;
        o->d = rd16(blk);
        o->dmin = type == QT_Q5_1 ? rd16(blk + 2) : 0;
        for (int i = 0; i < 16; i++) {
            o->q[i] = (uint8_t)((qs[i] & 15) | ((h >> i) & 1) << 4);
            o->q[i + 16] = (uint8_t)((qs[i] >> 4) | ((h >> (i + 16)) & 1) << 4);
        }
        return;
    }
    case QT_Q8_0: {
        o->d = rd16(blk);
        for (int i = 0; i < 32; i++) o->q[i] = (uint8_t)((int8_t)blk[2 + i] + 128);
        return;
    }
    case QT_Q2_K: {
        const block_q2_K *b = (const block_q2_K *)blk;
        o->d = b->d;
        o->dmin = b->dmin;
        for (int j = 0; j < 16; j++) {
            o->sc[j] = b->scales[j] & 15;
            o->mn[j] = b->scales[j] >> 4;
        }
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e / 32) % 4, l = e % 32;
            o->q[e] = (b->qs[32 * h + l] >> (2 * s)) & 3;
        }
        return;
    }
    case QT_Q3_K: {
        const block_q3_K *b = (const block_q3_K *)blk;
        o->d = b->d;
        for (int j = 0; j < 16; j++) {
            int lo = j < 8 ? b->scales[j] & 15 : b->scales[j - 8] >> 4;
            int hi = (b->scales[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
            o->sc[j] = (lo | hi << 4) - 32;
        }
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e / 32) % 4, l = e % 32, kq = e / 32;
            int low = (b->qs[32 * h + l] >> (2 * s)) & 3;
            int hb = (b->hmask[l] >> kq) & 1;
            o->q[e] = (uint8_t)(low | hb << 2);
        }
        return;
    }
    case QT_Q4_K:
    case QT_Q5_K: {
        const uint8_t *sc;
        const uint8_t *qs, *qh = NULL;
        if (type == QT_Q4_K) {
            const block_q4_K *b = (const block_q4_K *)blk;
            o->d = b->d;
            o->dmin = b->dmin;
            sc = b->scales;
            qs = b->qs;
        } else {
            const block_q5_K *b = (const block_q5_K *)blk;
            o->d = b->d;
            o->dmin = b->dmin;
            sc = b->scales;
            qs = b->qs;
            qh = b->qh;
        }
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                o->sc[j] = sc[j] & 63;
                o->mn[j] = sc[j + 4] & 63;
            } else {
                o->sc[j] = (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4);
                o->mn[j] = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
            }
        }
        for (int e = 0; e < QK_K; e++) {
            int p = e / 64, l = e % 32, hi = (e / 32) & 1;
            int v = hi ? qs[32 * p + l] >> 4 : qs[32 * p + l] & 15;
            if (qh) v |= ((qh[l] >> (e / 32)) & 1) << 4;
            o->q[e] = (uint8_t)v;
        }
        return;
    }
    case QT_Q6_K: {
        const block_q6_K *b = (const block_q6_K *)blk;
        o->d = b->d;
        for (int j = 0; j < 16; j++) o->sc[j] = b->scales[j];
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e / 32) % 4, l = e % 32;
            uint8_t qlb = b->ql[64 * h + 32 * (s & 1) + l];
            int low = s < 2 ? qlb & 15 : qlb >> 4;
            int high = (b->qh[32 * h + l] >> (2 * s)) & 3;
            o->q[e] = (uint8_t)(low | high << 4);
        }
        return;
    }
    }
}

/* ---- panel addressing ---- */

/* Super-block sbi of a panel. */
static uint8_t *sb_ptr(const kref_panel_format *f, const uint8_t *panel, int64_t sbi)
{
    size_t sb_bytes = f->header_bytes + (size_t)(f->sb / KREF_GROUP) * f->group_bytes;
    return (uint8_t *)panel + (size_t)sbi * sb_bytes;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Writes the 32 quants q of row r into a group's planes (whole bytes: the
 * row's bytes of each plane are its own, see kernels_ref.h). */
static void planes_put_row(kref_planes pl, uint8_t *g, int r, const uint8_t *q)
{
    if (pl == KREF_PL_BYTE) {
        for (int j = 0; j < 8; j++)
            for (int e = 0; e < 4; e++) g[64 * j + 4 * r + e] = q[4 * j + e];
        return;
    }
    for (int t = 0; t < 4; t++)
        for (int e = 0; e < 4; e++)
            g[64 * t + 4 * r + e] = (uint8_t)((q[8 * t + e] & 15) | (q[8 * t + 4 + e] & 15) << 4);
    if (pl == KREF_PL_NIB_HI1) {
        for (int e = 0; e < 4; e++) {
            int h = 0;
            for (int j = 0; j < 8; j++) h |= ((q[4 * j + e] >> 4) & 1) << j;
            g[PL_NIB + 4 * r + e] = (uint8_t)h;
        }
    } else if (pl == KREF_PL_NIB_HI2) {
        for (int v = 0; v < 2; v++)
            for (int e = 0; e < 4; e++) {
                int h = 0;
                for (int i = 0; i < 4; i++) h |= ((q[4 * (4 * v + i) + e] >> 4) & 3) << (2 * i);
                g[PL_NIB + 64 * v + 4 * r + e] = (uint8_t)h;
            }
    }
}

static int plane_get(kref_planes pl, const uint8_t *g, int r, int e)
{
    int j = e / 4, byte = 4 * r + e % 4;
    if (pl == KREF_PL_BYTE) return g[64 * j + byte];
    int nib = g[64 * (j / 2) + byte];
    int q = j & 1 ? nib >> 4 : nib & 15;
    if (pl == KREF_PL_NIB_HI1) q |= ((g[PL_NIB + byte] >> j) & 1) << 4;
    if (pl == KREF_PL_NIB_HI2) q |= ((g[PL_NIB + 64 * (j / 4) + byte] >> (2 * (j % 4))) & 3) << 4;
    return q;
}

static void pack_float(const kref_panel_format *f, const void *w, size_t w_stride, int rows,
                       int64_t k, uint8_t *panel)
{
    const quant_traits *tr = quant_traits_of(f->type);
    float tmp[QK_K];
    for (int r = 0; r < rows; r++) {
        const uint8_t *src = (const uint8_t *)w + (size_t)r * w_stride;
        if (f->panel_type == f->type) { /* F32, F16, BF16: the values as they are */
            int eb = f->elem_bytes;
            for (int64_t c = 0; c < k; c++)
                memcpy(panel + ((size_t)c * PR + r) * (size_t)eb, src + (size_t)c * (size_t)eb,
                       (size_t)eb);
            continue;
        }
        for (int64_t c0 = 0; c0 < k; c0 += tr->block_size) {
            quant_dequantize(f->type, src + (size_t)(c0 / tr->block_size) * tr->type_size, tmp,
                             tr->block_size);
            for (int i = 0; i < tr->block_size; i++)
                memcpy(panel + ((size_t)(c0 + i) * PR + r) * 4, &tmp[i], 4);
        }
    }
}

void kref_panel_pack(uint32_t type, const void *w, size_t w_stride, int rows, int64_t k,
                     uint8_t *panel)
{
    const kref_panel_format *f = kref_panel_format_of(type);
    memset(panel, 0, kref_panel_bytes(type, k));
    if (f->planes == KREF_PL_FLOAT) {
        pack_float(f, w, w_stride, rows, k, panel);
        return;
    }
    const quant_traits *tr = quant_traits_of(type); /* one file block per super-block */
    int groups = f->sb / KREF_GROUP;
    sb_data sd;
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * w_stride;
        for (int64_t sbi = 0; sbi < k / f->sb; sbi++) {
            memset(&sd, 0, sizeof sd);
            decode_sb(type, row + (size_t)sbi * tr->type_size, &sd);
            uint8_t *sb = sb_ptr(f, panel, sbi), *h = sb;
            switch (f->scales) {
            case KREF_SC_LEG: put16(h + 2 * r, sd.d); break;
            case KREF_SC_LEG1:
                put16(h + 2 * r, sd.d);
                put16(h + 2 * PR + 2 * r, sd.dmin);
                break;
            case KREF_SC_K32:
                put16(h + 2 * r, sd.d);
                put16(h + 2 * PR + 2 * r, sd.dmin);
                for (int j = 0; j < 8; j++) {
                    h[4 * PR + j * PR + r] = (uint8_t)sd.sc[j];
                    h[4 * PR + 8 * PR + j * PR + r] = (uint8_t)sd.mn[j];
                }
                break;
            case KREF_SC_K16:
                put16(h + 2 * r, sd.d);
                for (int j = 0; j < 16; j++) h[2 * PR + j * PR + r] = (uint8_t)(int8_t)sd.sc[j];
                break;
            case KREF_SC_K16M:
                put16(h + 2 * r, sd.d);
                put16(h + 2 * PR + 2 * r, sd.dmin);
                for (int j = 0; j < 16; j++) {
                    h[4 * PR + j * PR + r] = (uint8_t)sd.sc[j];
                    h[4 * PR + 16 * PR + j * PR + r] = (uint8_t)sd.mn[j];
                }
                break;
            case KREF_SC_NONE: break;
            }
            for (int g = 0; g < groups; g++)
                planes_put_row(f->planes, sb + f->header_bytes + (size_t)g * f->group_bytes, r,
                               sd.q + g * KREF_GROUP);
        }
    }
}

/* ---- scalar panel kernel ---- */

static float f16at(const uint8_t *p)
{
    return quant_f16_to_f32(rd16(p));
}

/* Scale and offset of row r for unit u (a sub-block of 16 when `units` is 2,
 * else the whole group) of group g of a super-block header. */
static void unit_scales(const kref_panel_format *f, const uint8_t *h, int r, int g, int u,
                        float *dw, float *mw)
{
    switch (f->scales) {
    case KREF_SC_LEG:
        *dw = f16at(h + 2 * r);
        *mw = -(float)f->zero * *dw;
        return;
    case KREF_SC_LEG1:
        *dw = f16at(h + 2 * r);
        *mw = f16at(h + 2 * PR + 2 * r);
        return;
    case KREF_SC_K32:
        *dw = f16at(h + 2 * r) * (float)h[4 * PR + g * PR + r];
        *mw = -f16at(h + 2 * PR + 2 * r) * (float)h[4 * PR + 8 * PR + g * PR + r];
        return;
    case KREF_SC_K16: {
        int j = 2 * g + u;
        *dw = f16at(h + 2 * r) * (float)(int8_t)h[2 * PR + j * PR + r];
        *mw = -(float)f->zero * *dw;
        return;
    }
    case KREF_SC_K16M: {
        int j = 2 * g + u;
        *dw = f16at(h + 2 * r) * (float)h[4 * PR + j * PR + r];
        *mw = -f16at(h + 2 * PR + 2 * r) * (float)h[4 * PR + 16 * PR + j * PR + r];
        return;
    }
    case KREF_SC_NONE: break;
    }
    *dw = *mw = 0;
}

static float float_panel_get(const kref_panel_format *f, const uint8_t *panel, int64_t c, int r)
{
    const uint8_t *p = panel + ((size_t)c * PR + r) * (size_t)f->elem_bytes;
    if (f->elem_bytes == 4) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    return f->panel_type == QT_F16 ? quant_f16_to_f32(rd16(p)) : quant_bf16_to_f32(rd16(p));
}

void kref_gemm_panel(const kref_gemm_args *a)
{
    const kref_panel_format *f = kref_panel_format_of(a->type);
    for (int c = 0; c < a->n; c++) {
        const uint8_t *xr = (const uint8_t *)a->x + (size_t)c * a->x_stride;
        for (int r = 0; r < a->rows; r++) {
            double acc = a->bias ? a->bias[r] : 0.0;
            if (f->planes == KREF_PL_FLOAT) {
                const float *xf = (const float *)xr;
                for (int64_t i = 0; i < a->k; i++)
                    acc += (double)float_panel_get(f, a->panel, i, r) * xf[i];
            } else {
                const kref_q8a *xq = (const kref_q8a *)xr;
                int units = f->scales == KREF_SC_K16 || f->scales == KREF_SC_K16M ? 2 : 1;
                int groups = f->sb / KREF_GROUP;
                for (int64_t sbi = 0; sbi < a->k / f->sb; sbi++) {
                    const uint8_t *sb = sb_ptr(f, a->panel, sbi);
                    for (int g = 0; g < groups; g++) {
                        const uint8_t *gp = sb + f->header_bytes + (size_t)g * f->group_bytes;
                        const kref_q8a *xb = &xq[sbi * groups + g];
                        for (int u = 0; u < units; u++) {
                            int len = KREF_GROUP / units;
                            int32_t idot = 0;
                            for (int e = u * len; e < (u + 1) * len; e++)
                                idot += plane_get(f->planes, gp, r, e) * xb->qs[e];
                            float dw, mw;
                            unit_scales(f, sb, r, g, u, &dw, &mw);
                            float sx = units == 2 ? xb->s16[u] : xb->s;
                            acc += (double)dw * xb->d * idot + (double)mw * sx;
                        }
                    }
                }
            }
            a->y[(size_t)c * a->ldy + r] = (float)acc;
        }
    }
}

/* ---- the oracle ---- */

void kref_gemm(uint32_t type, int64_t m, int64_t k, int64_t n, const void *w, size_t w_stride,
               const void *x, size_t x_stride, float *y, size_t ldy)
{
    float *wr = malloc((size_t)k * sizeof *wr), *xr = malloc((size_t)k * sizeof *xr);
    INF_ASSERT(wr && xr); /* a test oracle: small sizes only */
    bool q8a = kref_type_uses_q8a(type);
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, (const uint8_t *)w + (size_t)j * w_stride, wr, k);
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *xp = (const uint8_t *)x + (size_t)i * x_stride;
            if (q8a) {
                const kref_q8a *xb = (const kref_q8a *)xp;
                for (int64_t c = 0; c < k; c++)
                    xr[c] = xb[c / KREF_GROUP].d * xb[c / KREF_GROUP].qs[c % KREF_GROUP];
            } else {
                memcpy(xr, xp, (size_t)k * sizeof *xr);
            }
            double acc = 0;
            for (int64_t c = 0; c < k; c++) acc += (double)wr[c] * xr[c];
            y[(size_t)i * ldy + j] = (float)acc;
        }
    }
    free(wr);
    free(xr);
}

/* ---- vector kernels ---- */

void kref_silu_mul(float *out, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void kref_gelu_mul(float *out, const float *gate, const float *up, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = 0.5f * g * (1.0f + tanhf(c * (g + 0.044715f * g * g * g))) * up[i];
    }
}

void kref_softcap(float *out, const float *x, float cap, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = cap * tanhf(x[i] / cap);
}

float kref_exp_sum(float *y, const float *x, float mx, int64_t n)
{
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - mx);
        sum += y[i];
    }
    return sum;
}

float kref_max(const float *x, int64_t n)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

float kref_dot(const float *a, const float *b, int64_t n)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void kref_scale_axpy(float *y, float s, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] * s + a * x[i];
}

void kref_scale(float *y, const float *x, float s, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

void kref_f16_to_f32(const uint16_t *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = quant_f16_to_f32(x[i]);
}

void kref_bf16_to_f32(const uint16_t *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = quant_bf16_to_f32(x[i]);
}

void kref_f32_to_f16(const float *x, uint16_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = quant_f32_to_f16(x[i]);
}

void kref_f32_to_bf16(const float *x, uint16_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = quant_f32_to_bf16(x[i]);
}

void kref_q8_to_f32(const int8_t *q, float s, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = (float)q[i] * s;
}

void kref_attn_qk(const float *q, int nq, int64_t q_stride, const float *kt, int64_t kt_stride,
                  int hd, int nt, float *s, int64_t s_stride)
{
    for (int i = 0; i < nq; i++) {
        for (int t = 0; t < nt; t++) {
            float acc = 0;
            for (int d = 0; d < hd; d++) acc += q[i * q_stride + d] * kt[d * kt_stride + t];
            s[i * s_stride + t] = acc;
        }
    }
}

void kref_attn_pv(float *acc, int nq, int hdv, const float *p, int64_t p_stride, const float *v,
                  int nt)
{
    for (int i = 0; i < nq; i++)
        for (int t = 0; t < nt; t++) {
            float w = p[i * p_stride + t];
            if (w == 0) continue;
            for (int e = 0; e < hdv; e++) acc[(int64_t)i * hdv + e] += w * v[(int64_t)t * hdv + e];
        }
}
