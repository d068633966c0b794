/* kernels_avx2.c: AVX2 float-weight panel kernels, the q8a activation quantizer
 * and the AVX2 kernel table.
 *
 * Float panels (kernels_ref.h): for each value of k the 16 rows' values, taken
 * as two ymm of 8 rows (F16 through vcvtph2ps, BF16 by a 16-bit shift) and
 * multiplied by a broadcast activation. References: kref_gemm_panel and
 * kref_quantize_q8a (bit-exact). */
#include <immintrin.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

#define AI static inline __attribute__((always_inline))

AI void load_rows8x2(const uint8_t *p, int64_t i, const int kind, __m256 *lo, __m256 *hi)
{
    if (kind == 0) {
        *lo = _mm256_loadu_ps((const float *)(p + 64 * i));
        *hi = _mm256_loadu_ps((const float *)(p + 64 * i + 32));
        return;
    }
    __m128i h0 = _mm_loadu_si128((const __m128i *)(p + 32 * i));
    __m128i h1 = _mm_loadu_si128((const __m128i *)(p + 32 * i + 16));
    if (kind == 1) {
        *lo = _mm256_cvtph_ps(h0);
        *hi = _mm256_cvtph_ps(h1);
        return;
    }
    *lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h0), 16));
    *hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h1), 16));
}

AI void gemm_float_avx2(const kref_gemm_args *a, const int kind, const int NR)
{
    const float *x[4];
    for (int c = 0; c < NR; c++) x[c] = (const float *)((const uint8_t *)a->x + (size_t)c * a->x_stride);
    __m256 lo[4], hi[4];
    for (int c = 0; c < NR; c++) lo[c] = hi[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < a->k; i++) {
        __m256 w0, w1;
        load_rows8x2(a->panel, i, kind, &w0, &w1);
        for (int c = 0; c < NR; c++) {
            __m256 xv = _mm256_set1_ps(x[c][i]);
            lo[c] = _mm256_fmadd_ps(w0, xv, lo[c]);
            hi[c] = _mm256_fmadd_ps(w1, xv, hi[c]);
        }
    }
    float tmp[16];
    for (int c = 0; c < NR; c++) {
        _mm256_storeu_ps(tmp, lo[c]);
        _mm256_storeu_ps(tmp + 8, hi[c]);
        float *y = a->y + (size_t)c * a->ldy;
        for (int r = 0; r < a->rows; r++) y[r] = tmp[r] + (a->bias ? a->bias[r] : 0.0f);
    }
}

#define GEMM_FLOAT_DEFINE(name, KIND)                                                  \
    static void name##_n1(const kref_gemm_args *a) { gemm_float_avx2(a, KIND, 1); }    \
    static void name##_n4(const kref_gemm_args *a) { gemm_float_avx2(a, KIND, 4); }    \
    static void name(const kref_gemm_args *a)                                          \
    {                                                                                  \
        kref_gemm_args t = *a;                                                         \
        for (int done = 0; done < a->n;) {                                             \
            int nr = a->n - done >= 4 ? 4 : 1;                                         \
            t.n = nr;                                                                  \
            t.x = (const uint8_t *)a->x + (size_t)done * a->x_stride;                  \
            t.y = a->y + (size_t)done * a->ldy;                                        \
            if (nr == 4) name##_n4(&t);                                                \
            else name##_n1(&t);                                                        \
            done += nr;                                                                \
        }                                                                              \
    }

GEMM_FLOAT_DEFINE(gemm_f32, 0)
GEMM_FLOAT_DEFINE(gemm_f16, 1)
GEMM_FLOAT_DEFINE(gemm_bf16, 2)

AI float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AI int hsum8_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static void quantize_q8a_avx2(const float *x, kref_q8a *y, int64_t k)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < k / KREF_GROUP; b++, x += KREF_GROUP) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        }
        float amax = hmax8(m);
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], vid));
        /* 32 x int32 -> 32 x int8 in order: packs work per 128-bit lane, so fix
         * the order with one permute at the end. */
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        int s0 = hsum8_epi32(_mm256_add_epi32(q[0], q[1]));
        int s1 = hsum8_epi32(_mm256_add_epi32(q[2], q[3]));
        float d = amax / 127.0f;
        y[b].d = d;
        y[b].s16[0] = d * (float)s0;
        y[b].s16[1] = d * (float)s1;
        y[b].s = d * (float)(s0 + s1);
    }
}

void cpu_kernels_fill_avx2(cpu_kernels *k)
{
    k->quantize_q8a = quantize_q8a_avx2;
    k->gemm[QT_F32] = gemm_f32;
    k->gemm[QT_F16] = gemm_f16;
    k->gemm[QT_BF16] = gemm_bf16;
    k->max_n[QT_F32] = k->max_n[QT_F16] = k->max_n[QT_BF16] = 64;
    cpu_kernels_fill_q_avx2(k);
    cpu_kernels_fill_vec_avx2(k);
    cpu_kernels_fill_attn_avx2(k);
}
