/* gemm_avx512.h: the AVX-512 panel kernel template, included only by *_avx512.c
 * files (which are compiled with AVX-512 F/BW/VL/DQ/VNNI enabled).
 *
 * Data layout: weight panels and q8a activations of ref/kernels_ref.h. One zmm
 * holds a quad (4 values of k) of all 16 rows of a panel, so vpdpbusd against a
 * broadcast 32-bit word of one activation row adds a 4-long dot product to each
 * row's lane: lanes are output rows, no horizontal sums are needed.
 *
 * Blocking: a call computes the 16 rows of one panel for NR activation rows
 * (NR = 1, 2, 4 or 8, a compile-time constant): per group of 32 values the
 * planes are unpacked once and used for all NR rows (NR integer accumulators),
 * then each row's f32 accumulator takes dw * dx * idot + mw * sx. Unpacking
 * and scale work are per group and per panel, so at NR = 8 about two thirds of
 * the instructions are vpdpbusd.
 *
 * Reference: kref_gemm_panel (same arguments), which tests compare against. */
#ifndef INFERD_BACKEND_CPU_GEMM_AVX512_H
#define INFERD_BACKEND_CPU_GEMM_AVX512_H

#include <immintrin.h>
#include <string.h>

#include "backend/ref/kernels_ref.h"

#define AI static inline __attribute__((always_inline))

AI int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

AI __m512 cvt_f16x16(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

AI __m512 cvt_u8x16(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

AI __m512 cvt_s8x16(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

/* Quads j0 .. j0 + nq - 1 of one group's planes, unpacked to unsigned bytes. */
AI void unpack_quads(const kref_planes pl, const uint8_t *g, int j0, int nq, __m512i *w)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    if (pl == KREF_PL_BYTE) {
        for (int j = 0; j < nq; j++) w[j] = _mm512_loadu_si512(g + 64 * (j0 + j));
        return;
    }
    for (int j = 0; j < nq; j += 2) {
        __m512i v = _mm512_loadu_si512(g + 64 * ((j0 + j) / 2));
        w[j] = _mm512_and_si512(v, m4);
        w[j + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
    if (pl == KREF_PL_NIB_HI1) {
        const __m512i m = _mm512_set1_epi8(0x10);
        __m512i h = _mm512_loadu_si512(g + 256);
        for (int j = 0; j < nq; j++) {
            int b = j0 + j; /* bit b of each byte moves to bit 4 (16-bit shifts, then mask) */
            __m512i t = b <= 4 ? _mm512_slli_epi16(h, 4 - b) : _mm512_srli_epi16(h, b - 4);
            w[j] = _mm512_ternarylogic_epi32(w[j], t, m, 0xf8); /* w | (t & m) */
        }
    } else if (pl == KREF_PL_NIB_HI2) {
        const __m512i m = _mm512_set1_epi8(0x30);
        for (int j = 0; j < nq; j++) {
            int b = j0 + j;
            __m512i h = _mm512_loadu_si512(g + 256 + 64 * (b / 4));
            int s = 2 * (b % 4); /* bits s, s+1 move to 4, 5 */
            __m512i t = s <= 4 ? _mm512_slli_epi16(h, 4 - s) : _mm512_srli_epi16(h, s - 4);
            w[j] = _mm512_ternarylogic_epi32(w[j], t, m, 0xf8);
        }
    }
}

/* The kernel body for one panel format and NR activation rows. */
AI void gemm_panel_avx512(const kref_gemm_args *a, const kref_planes pl, const kref_scales sc,
                          const int zero, const int NR)
{
    const int sb = sc == KREF_SC_LEG || sc == KREF_SC_LEG1 ? 32 : 256;
    const int groups = sb / KREF_GROUP;
    const int units = sc == KREF_SC_K16 || sc == KREF_SC_K16M ? 2 : 1;
    const int qpu = 8 / units; /* quads per unit */
    const size_t hdr = sc == KREF_SC_LEG    ? 32
                       : sc == KREF_SC_LEG1 ? 64
                       : sc == KREF_SC_K32  ? 64 + 256
                       : sc == KREF_SC_K16  ? 32 + 256
                                            : 64 + 512;
    const size_t gbytes = pl == KREF_PL_BYTE      ? 512
                          : pl == KREF_PL_NIB     ? 256
                          : pl == KREF_PL_NIB_HI1 ? 256 + 64
                                                  : 256 + 128;
    const kref_q8a *x[8];
    for (int c = 0; c < NR; c++)
        x[c] = (const kref_q8a *)((const uint8_t *)a->x + (size_t)c * a->x_stride);
    __m512 acc[8];
    for (int c = 0; c < NR; c++) acc[c] = _mm512_setzero_ps();

    const uint8_t *p = a->panel;
    const int64_t n_sb = a->k / sb;
    for (int64_t s = 0; s < n_sb; s++) {
        const uint8_t *h = p;
        p += hdr;
        const __m512 vd = cvt_f16x16(h);
        __m512 vdmin = _mm512_setzero_ps();
        if (sc == KREF_SC_LEG1 || sc == KREF_SC_K32 || sc == KREF_SC_K16M) vdmin = cvt_f16x16(h + 32);
        for (int g = 0; g < groups; g++, p += gbytes) {
            const int64_t blk = s * groups + g;
            for (int u = 0; u < units; u++) {
                __m512i w[8];
                unpack_quads(pl, p, u * qpu, qpu, w);
                /* One activation row alone would chain every vpdpbusd of the
                 * group through one register: give it two chains. */
                __m512i iacc[8], iacc2 = _mm512_setzero_si512();
                for (int c = 0; c < NR; c++) iacc[c] = _mm512_setzero_si512();
                for (int j = 0; j < qpu; j++) {
                    for (int c = 0; c < NR; c++) {
                        __m512i xb = _mm512_set1_epi32(ld32(x[c][blk].qs + 4 * (u * qpu + j)));
                        if (NR == 1 && (j & 1))
                            iacc2 = _mm512_dpbusd_epi32(iacc2, w[j], xb);
                        else
                            iacc[c] = _mm512_dpbusd_epi32(iacc[c], w[j], xb);
                    }
                }
                if (NR == 1) iacc[0] = _mm512_add_epi32(iacc[0], iacc2);
                __m512 dw, mw;
                if (sc == KREF_SC_LEG) {
                    dw = vd;
                    mw = _mm512_mul_ps(vd, _mm512_set1_ps(-(float)zero));
                } else if (sc == KREF_SC_LEG1) {
                    dw = vd;
                    mw = vdmin;
                } else if (sc == KREF_SC_K32) {
                    dw = _mm512_mul_ps(vd, cvt_u8x16(h + 64 + 16 * g));
                    mw = _mm512_mul_ps(vdmin, cvt_u8x16(h + 64 + 128 + 16 * g));
                    mw = _mm512_sub_ps(_mm512_setzero_ps(), mw);
                } else if (sc == KREF_SC_K16) {
                    dw = _mm512_mul_ps(vd, cvt_s8x16(h + 32 + 16 * (2 * g + u)));
                    mw = _mm512_mul_ps(dw, _mm512_set1_ps(-(float)zero));
                } else {
                    dw = _mm512_mul_ps(vd, cvt_u8x16(h + 64 + 16 * (2 * g + u)));
                    mw = _mm512_mul_ps(vdmin, cvt_u8x16(h + 64 + 256 + 16 * (2 * g + u)));
                    mw = _mm512_sub_ps(_mm512_setzero_ps(), mw);
                }
                for (int c = 0; c < NR; c++) {
                    const kref_q8a *xb = &x[c][blk];
                    __m512 sc_c = _mm512_mul_ps(dw, _mm512_set1_ps(xb->d));
                    acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[c]), sc_c, acc[c]);
                    float sx = units == 2 ? xb->s16[u] : xb->s;
                    acc[c] = _mm512_fmadd_ps(mw, _mm512_set1_ps(sx), acc[c]);
                }
            }
        }
    }
    const __mmask16 mask = (__mmask16)((1u << a->rows) - 1);
    const __m512 bias = a->bias ? _mm512_maskz_loadu_ps(mask, a->bias) : _mm512_setzero_ps();
    for (int c = 0; c < NR; c++)
        _mm512_mask_storeu_ps(a->y + (size_t)c * a->ldy, mask, _mm512_add_ps(acc[c], bias));
}

/* Defines gemm_<name>_avx512(const kref_gemm_args *) for n in 1..8: tiles of
 * 8, 4, 2, 1 (each re-reads the panel, which is in L1 by then). */
#define GEMM_AVX512_DEFINE(name, PL, SC, Z)                                              \
    static void name##_n1(const kref_gemm_args *a) { gemm_panel_avx512(a, PL, SC, Z, 1); } \
    static void name##_n2(const kref_gemm_args *a) { gemm_panel_avx512(a, PL, SC, Z, 2); } \
    static void name##_n4(const kref_gemm_args *a) { gemm_panel_avx512(a, PL, SC, Z, 4); } \
    static void name##_n8(const kref_gemm_args *a) { gemm_panel_avx512(a, PL, SC, Z, 8); } \
    static void name(const kref_gemm_args *a)                                           \
    {                                                                                   \
        kref_gemm_args t = *a;                                                          \
        int done = 0;                                                                   \
        while (done < a->n) {                                                           \
            int left = a->n - done;                                                     \
            int nr = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;                 \
            t.n = nr;                                                                   \
            t.x = (const uint8_t *)a->x + (size_t)done * a->x_stride;                   \
            t.y = a->y + (size_t)done * a->ldy;                                         \
            if (nr == 8) name##_n8(&t);                                                 \
            else if (nr == 4) name##_n4(&t);                                            \
            else if (nr == 2) name##_n2(&t);                                            \
            else name##_n1(&t);                                                         \
            done += nr;                                                                 \
        }                                                                               \
    }

#endif
