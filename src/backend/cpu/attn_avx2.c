/* attn_avx2.c: AVX2 blocks of the attention kernel (see attn_avx512.c for the
 * layout: keys transposed, values row-major; same contracts).
 *
 * Scores: 8 keys per ymm, two queries per kt load; values: two queries x four
 * ymm (32 values of e) of accumulators across all t. Key counts and value
 * widths that are not multiples of 8 finish in the scalar reference.
 * References: kref_attn_qk, kref_attn_pv. */
#include <immintrin.h>

#include "backend/cpu/cpu_kernels.h"

#define AI static inline __attribute__((always_inline))

AI void qk_tile(const float *q, int64_t q_stride, const float *kt, int64_t kt_stride, int hd,
                int t0, float *s, int64_t s_stride, const int NQ)
{
    __m256 acc[2];
    for (int j = 0; j < NQ; j++) acc[j] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m256 k = _mm256_loadu_ps(kt + d * kt_stride + t0);
        for (int j = 0; j < NQ; j++)
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(q[j * q_stride + d]), k, acc[j]);
    }
    for (int j = 0; j < NQ; j++) _mm256_storeu_ps(s + j * s_stride + t0, acc[j]);
}

static void attn_qk(const float *q, int nq, int64_t q_stride, const float *kt, int64_t kt_stride,
                    int hd, int nt, float *s, int64_t s_stride)
{
    int t0 = 0;
    for (; t0 + 8 <= nt; t0 += 8) {
        int i = 0;
        for (; i + 2 <= nq; i += 2)
            qk_tile(q + i * q_stride, q_stride, kt, kt_stride, hd, t0, s + i * s_stride, s_stride, 2);
        for (; i < nq; i++)
            qk_tile(q + i * q_stride, q_stride, kt, kt_stride, hd, t0, s + i * s_stride, s_stride, 1);
    }
    if (t0 < nt) kref_attn_qk(q, nq, q_stride, kt + t0, kt_stride, hd, nt - t0, s + t0, s_stride);
}

AI void pv_tile(float *acc, int hdv, const float *p, int64_t p_stride, const float *v, int nt,
                int e0, const int NQ)
{
    __m256 a[2][4];
    for (int j = 0; j < NQ; j++)
        for (int z = 0; z < 4; z++) a[j][z] = _mm256_loadu_ps(acc + j * hdv + e0 + 8 * z);
    for (int t = 0; t < nt; t++) {
        __m256 vv[4];
        for (int z = 0; z < 4; z++) vv[z] = _mm256_loadu_ps(v + (int64_t)t * hdv + e0 + 8 * z);
        for (int j = 0; j < NQ; j++) {
            __m256 pj = _mm256_set1_ps(p[j * p_stride + t]);
            for (int z = 0; z < 4; z++) a[j][z] = _mm256_fmadd_ps(pj, vv[z], a[j][z]);
        }
    }
    for (int j = 0; j < NQ; j++)
        for (int z = 0; z < 4; z++) _mm256_storeu_ps(acc + j * hdv + e0 + 8 * z, a[j][z]);
}

static void attn_pv(float *acc, int nq, int hdv, const float *p, int64_t p_stride, const float *v,
                    int nt)
{
    int e0 = 0;
    for (; e0 + 32 <= hdv; e0 += 32) {
        int i = 0;
        for (; i + 2 <= nq; i += 2)
            pv_tile(acc + (int64_t)i * hdv, hdv, p + i * p_stride, p_stride, v, nt, e0, 2);
        for (; i < nq; i++) pv_tile(acc + (int64_t)i * hdv, hdv, p + i * p_stride, p_stride, v, nt, e0, 1);
    }
    /* the last hdv % 32 values: scalar, on views that start at e0 */
    for (int i = 0; i < nq && e0 < hdv; i++)
        for (int t = 0; t < nt; t++) {
            float w = p[i * p_stride + t];
            for (int e = e0; e < hdv; e++) acc[(int64_t)i * hdv + e] += w * v[(int64_t)t * hdv + e];
        }
}

void cpu_kernels_fill_attn_avx2(cpu_kernels *k)
{
    k->attn_qk = attn_qk;
    k->attn_pv = attn_pv;
}
