/* gemm_avx2.h: the AVX2 panel kernel template, included only by *_avx2.c files.
 *
 * Data layout: weight panels and q8a activations of ref/kernels_ref.h. A panel
 * is processed as two halves of 8 rows: one ymm holds a quad (4 values of k) of
 * 8 rows, and vpmaddubsw + vpmaddwd against a broadcast 32-bit word of an
 * activation row add a 4-long dot product to each row's lane. Quants below 64
 * (4-, 5-, 6-bit formats) keep maddubs' 16-bit pair sums below 2 * 63 * 127, so
 * two quads are summed in 16 bits before the widening madd. 8-bit weights
 * (Q8_0, stored q + 128) would overflow there: they go back to signed bytes and
 * use the sign trick (|w| times x with w's sign), so no offset term.
 *
 * Blocking: NR = 1, 2 or 4 activation rows per call (16 ymm registers); per
 * group the planes are unpacked once for all NR rows.
 * Reference: kref_gemm_panel (same arguments). */
#ifndef INFERD_BACKEND_CPU_GEMM_AVX2_H
#define INFERD_BACKEND_CPU_GEMM_AVX2_H

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

AI __m256 cvt_f16x8(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AI __m256 cvt_u8x8(const uint8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

AI __m256 cvt_s8x8(const uint8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/* Quads j0 .. j0 + nq - 1 of rows 8 * half .. + 8 of one group, unsigned bytes
 * (8-bit planes: signed bytes, see above). */
AI void unpack_quads8(const kref_planes pl, const uint8_t *g, int half, int j0, int nq, __m256i *w)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const int off = 32 * half;
    if (pl == KREF_PL_BYTE) {
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        for (int j = 0; j < nq; j++)
            w[j] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(g + 64 * (j0 + j) + off)), flip);
        return;
    }
    for (int j = 0; j < nq; j += 2) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(g + 64 * ((j0 + j) / 2) + off));
        w[j] = _mm256_and_si256(v, m4);
        w[j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
    if (pl == KREF_PL_NIB_HI1) {
        const __m256i m = _mm256_set1_epi8(0x10);
        __m256i h = _mm256_loadu_si256((const __m256i *)(g + 256 + off));
        for (int j = 0; j < nq; j++) {
            int b = j0 + j;
            __m256i t = b <= 4 ? _mm256_slli_epi16(h, 4 - b) : _mm256_srli_epi16(h, b - 4);
            w[j] = _mm256_or_si256(w[j], _mm256_and_si256(t, m));
        }
    } else if (pl == KREF_PL_NIB_HI2) {
        const __m256i m = _mm256_set1_epi8(0x30);
        for (int j = 0; j < nq; j++) {
            int b = j0 + j;
            __m256i h = _mm256_loadu_si256((const __m256i *)(g + 256 + 64 * (b / 4) + off));
            int s = 2 * (b % 4);
            __m256i t = s <= 4 ? _mm256_slli_epi16(h, 4 - s) : _mm256_srli_epi16(h, s - 4);
            w[j] = _mm256_or_si256(w[j], _mm256_and_si256(t, m));
        }
    }
}

AI void gemm_half_avx2(const kref_gemm_args *a, const kref_planes pl, const kref_scales sc,
                       const int zero, const int NR, const int half)
{
    const int sb = sc == KREF_SC_LEG || sc == KREF_SC_LEG1 ? 32 : 256;
    const int groups = sb / KREF_GROUP;
    const int units = sc == KREF_SC_K16 || sc == KREF_SC_K16M ? 2 : 1;
    const int qpu = 8 / units;
    const size_t hdr = sc == KREF_SC_LEG    ? 32
                       : sc == KREF_SC_LEG1 ? 64
                       : sc == KREF_SC_K32  ? 64 + 256
                       : sc == KREF_SC_K16  ? 32 + 256
                                            : 64 + 512;
    const size_t gbytes = pl == KREF_PL_BYTE      ? 512
                          : pl == KREF_PL_NIB     ? 256
                          : pl == KREF_PL_NIB_HI1 ? 256 + 64
                                                  : 256 + 128;
    const int r8 = 8 * half; /* first row of this half: scale entries are at + r8 */
    const __m256i ones = _mm256_set1_epi16(1);
    const kref_q8a *x[4];
    for (int c = 0; c < NR; c++)
        x[c] = (const kref_q8a *)((const uint8_t *)a->x + (size_t)c * a->x_stride);
    __m256 acc[4];
    for (int c = 0; c < NR; c++) acc[c] = _mm256_setzero_ps();

    const uint8_t *p = a->panel;
    const int64_t n_sb = a->k / sb;
    for (int64_t s = 0; s < n_sb; s++) {
        const uint8_t *h = p;
        p += hdr;
        const __m256 vd = cvt_f16x8(h + 2 * r8);
        __m256 vdmin = _mm256_setzero_ps();
        if (sc == KREF_SC_LEG1 || sc == KREF_SC_K32 || sc == KREF_SC_K16M)
            vdmin = cvt_f16x8(h + 32 + 2 * r8);
        for (int g = 0; g < groups; g++, p += gbytes) {
            const int64_t blk = s * groups + g;
            for (int u = 0; u < units; u++) {
                __m256i w[8], aw[8];
                unpack_quads8(pl, p, half, u * qpu, qpu, w);
                if (pl == KREF_PL_BYTE)
                    for (int j = 0; j < qpu; j++) aw[j] = _mm256_abs_epi8(w[j]);
                __m256i iacc[4];
                for (int c = 0; c < NR; c++) iacc[c] = _mm256_setzero_si256();
                for (int c = 0; c < NR; c++) {
                    const int8_t *xq = x[c][blk].qs + 4 * u * qpu;
                    if (pl == KREF_PL_BYTE) {
                        for (int j = 0; j < qpu; j++) {
                            __m256i xb = _mm256_set1_epi32(ld32(xq + 4 * j));
                            __m256i p16 = _mm256_maddubs_epi16(aw[j], _mm256_sign_epi8(xb, w[j]));
                            iacc[c] = _mm256_add_epi32(iacc[c], _mm256_madd_epi16(p16, ones));
                        }
                    } else {
                        for (int j = 0; j < qpu; j += 2) {
                            __m256i x0 = _mm256_set1_epi32(ld32(xq + 4 * j));
                            __m256i x1 = _mm256_set1_epi32(ld32(xq + 4 * j + 4));
                            __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(w[j], x0),
                                                           _mm256_maddubs_epi16(w[j + 1], x1));
                            iacc[c] = _mm256_add_epi32(iacc[c], _mm256_madd_epi16(p16, ones));
                        }
                    }
                }
                __m256 dw, mw;
                if (sc == KREF_SC_LEG) {
                    dw = vd;
                    mw = pl == KREF_PL_BYTE ? _mm256_setzero_ps()
                                            : _mm256_mul_ps(vd, _mm256_set1_ps(-(float)zero));
                } else if (sc == KREF_SC_LEG1) {
                    dw = vd;
                    mw = vdmin;
                } else if (sc == KREF_SC_K32) {
                    dw = _mm256_mul_ps(vd, cvt_u8x8(h + 64 + 16 * g + r8));
                    mw = _mm256_mul_ps(vdmin, cvt_u8x8(h + 64 + 128 + 16 * g + r8));
                    mw = _mm256_sub_ps(_mm256_setzero_ps(), mw);
                } else if (sc == KREF_SC_K16) {
                    dw = _mm256_mul_ps(vd, cvt_s8x8(h + 32 + 16 * (2 * g + u) + r8));
                    mw = _mm256_mul_ps(dw, _mm256_set1_ps(-(float)zero));
                } else {
                    dw = _mm256_mul_ps(vd, cvt_u8x8(h + 64 + 16 * (2 * g + u) + r8));
                    mw = _mm256_mul_ps(vdmin, cvt_u8x8(h + 64 + 256 + 16 * (2 * g + u) + r8));
                    mw = _mm256_sub_ps(_mm256_setzero_ps(), mw);
                }
                for (int c = 0; c < NR; c++) {
                    const kref_q8a *xb = &x[c][blk];
                    __m256 sc_c = _mm256_mul_ps(dw, _mm256_set1_ps(xb->d));
                    acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[c]), sc_c, acc[c]);
                    if (!(sc == KREF_SC_LEG && pl == KREF_PL_BYTE)) {
                        float sx = units == 2 ? xb->s16[u] : xb->s;
                        acc[c] = _mm256_fmadd_ps(mw, _mm256_set1_ps(sx), acc[c]);
                    }
                }
            }
        }
    }
    int rows = a->rows - r8;
    if (rows <= 0) return;
    if (rows > 8) rows = 8;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), lane);
    const __m256 bias = a->bias ? _mm256_maskload_ps(a->bias + r8, mask) : _mm256_setzero_ps();
    for (int c = 0; c < NR; c++)
        _mm256_maskstore_ps(a->y + (size_t)c * a->ldy + r8, mask, _mm256_add_ps(acc[c], bias));
}

AI void gemm_panel_avx2(const kref_gemm_args *a, const kref_planes pl, const kref_scales sc,
                        const int zero, const int NR)
{
    gemm_half_avx2(a, pl, sc, zero, NR, 0);
    if (a->rows > 8) gemm_half_avx2(a, pl, sc, zero, NR, 1);
}

/* Defines name(const kref_gemm_args *) for any n: tiles of 4, 2, 1. */
#define GEMM_AVX2_DEFINE(name, PL, SC, Z)                                                \
    static void name##_n1(const kref_gemm_args *a) { gemm_panel_avx2(a, PL, SC, Z, 1); } \
    static void name##_n2(const kref_gemm_args *a) { gemm_panel_avx2(a, PL, SC, Z, 2); } \
    static void name##_n4(const kref_gemm_args *a) { gemm_panel_avx2(a, PL, SC, Z, 4); } \
    static void name(const kref_gemm_args *a)                                           \
    {                                                                                   \
        kref_gemm_args t = *a;                                                          \
        for (int done = 0; done < a->n;) {                                              \
            int left = a->n - done, nr = left >= 4 ? 4 : left >= 2 ? 2 : 1;             \
            t.n = nr;                                                                   \
            t.x = (const uint8_t *)a->x + (size_t)done * a->x_stride;                   \
            t.y = a->y + (size_t)done * a->ldy;                                         \
            if (nr == 4) name##_n4(&t);                                                 \
            else if (nr == 2) name##_n2(&t);                                            \
            else name##_n1(&t);                                                         \
            done += nr;                                                                 \
        }                                                                               \
    }

#endif
