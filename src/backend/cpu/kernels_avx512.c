/* kernels_avx512.c: AVX-512 float-weight panel kernels, the q8a activation
 * quantizer, and the AVX-512 kernel table.
 *
 * Float panels (kernels_ref.h) hold, for each value of k, the 16 rows' values:
 * one zmm after conversion (F16 through vcvtph2ps, BF16 by a 16-bit shift,
 * exact), multiplied by one broadcast activation per row of the tile. Two
 * accumulators per activation row (even and odd k) hide the FMA latency.
 * References: kref_gemm_panel, kref_quantize_q8a (bit-exact). */
#include <immintrin.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

#define AI static inline __attribute__((always_inline))

AI __m512 load_row16(const uint8_t *p, int64_t i, const int kind)
{
    if (kind == 0) return _mm512_loadu_ps(p + 64 * i);
    __m256i h = _mm256_loadu_si256((const __m256i *)(p + 32 * i));
    if (kind == 1) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AI void gemm_float_avx512(const kref_gemm_args *a, const int kind, const int NR)
{
    const float *x[8];
    for (int c = 0; c < NR; c++) x[c] = (const float *)((const uint8_t *)a->x + (size_t)c * a->x_stride);
    __m512 acc0[8], acc1[8];
    for (int c = 0; c < NR; c++) acc0[c] = acc1[c] = _mm512_setzero_ps();
    const uint8_t *p = a->panel;
    int64_t i = 0;
    for (; i + 1 < a->k; i += 2) {
        __m512 w0 = load_row16(p, i, kind), w1 = load_row16(p, i + 1, kind);
        for (int c = 0; c < NR; c++) {
            acc0[c] = _mm512_fmadd_ps(w0, _mm512_set1_ps(x[c][i]), acc0[c]);
            acc1[c] = _mm512_fmadd_ps(w1, _mm512_set1_ps(x[c][i + 1]), acc1[c]);
        }
    }
    if (i < a->k) {
        __m512 w0 = load_row16(p, i, kind);
        for (int c = 0; c < NR; c++) acc0[c] = _mm512_fmadd_ps(w0, _mm512_set1_ps(x[c][i]), acc0[c]);
    }
    const __mmask16 mask = (__mmask16)((1u << a->rows) - 1);
    const __m512 bias = a->bias ? _mm512_maskz_loadu_ps(mask, a->bias) : _mm512_setzero_ps();
    for (int c = 0; c < NR; c++)
        _mm512_mask_storeu_ps(a->y + (size_t)c * a->ldy, mask,
                              _mm512_add_ps(_mm512_add_ps(acc0[c], acc1[c]), bias));
}

#define GEMM_FLOAT_DEFINE(name, KIND)                                                    \
    static void name##_n1(const kref_gemm_args *a) { gemm_float_avx512(a, KIND, 1); }    \
    static void name##_n4(const kref_gemm_args *a) { gemm_float_avx512(a, KIND, 4); }    \
    static void name##_n8(const kref_gemm_args *a) { gemm_float_avx512(a, KIND, 8); }    \
    static void name(const kref_gemm_args *a)                                            \
    {                                                                                    \
        kref_gemm_args t = *a;                                                           \
        for (int done = 0; done < a->n;) {                                               \
            int left = a->n - done, nr = left >= 8 ? 8 : left >= 4 ? 4 : 1;              \
            t.n = nr;                                                                    \
            t.x = (const uint8_t *)a->x + (size_t)done * a->x_stride;                    \
            t.y = a->y + (size_t)done * a->ldy;                                          \
            if (nr == 8) name##_n8(&t);                                                  \
            else if (nr == 4) name##_n4(&t);                                             \
            else name##_n1(&t);                                                          \
            done += nr;                                                                  \
        }                                                                                \
    }

GEMM_FLOAT_DEFINE(gemm_f32, 0)
GEMM_FLOAT_DEFINE(gemm_f16, 1)
GEMM_FLOAT_DEFINE(gemm_bf16, 2)

/* One block of 32 per step. The two half sums come out of one reduction:
 * both halves are folded to 8 lanes, placed side by side in one zmm and
 * reduced within each 256-bit half, so lane 0 holds s0 and lane 8 holds s1. */
static void quantize_q8a_avx512(const float *x, kref_q8a *y, int64_t k)
{
    for (int64_t b = 0; b < k / KREF_GROUP; b++, x += KREF_GROUP) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
        _mm_storeu_si128((__m128i *)y[b].qs, _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
        __m256i a = _mm256_add_epi32(_mm512_castsi512_si256(q0), _mm512_extracti64x4_epi64(q0, 1));
        __m256i c = _mm256_add_epi32(_mm512_castsi512_si256(q1), _mm512_extracti64x4_epi64(q1, 1));
        __m512i t = _mm512_inserti64x4(_mm512_castsi256_si512(a), c, 1);
        t = _mm512_add_epi32(t, _mm512_shuffle_i32x4(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, (_MM_PERM_ENUM)0x4e));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, (_MM_PERM_ENUM)0xb1));
        int s0 = _mm_cvtsi128_si32(_mm512_castsi512_si128(t));
        int s1 = _mm_cvtsi128_si32(_mm512_extracti32x4_epi32(t, 2));
        float d = amax / 127.0f;
        y[b].d = d;
        y[b].s16[0] = d * (float)s0;
        y[b].s16[1] = d * (float)s1;
        y[b].s = d * (float)(s0 + s1);
    }
}

void cpu_kernels_fill_avx512(cpu_kernels *k)
{
    k->quantize_q8a = quantize_q8a_avx512;
    k->gemm[QT_F32] = gemm_f32;
    k->gemm[QT_F16] = gemm_f16;
    k->gemm[QT_BF16] = gemm_bf16;
    k->max_n[QT_F32] = k->max_n[QT_F16] = k->max_n[QT_BF16] = 64;
    cpu_kernels_fill_q_avx512(k);
    cpu_kernels_fill_vec_avx512(k);
    cpu_kernels_fill_attn_avx512(k);
}
