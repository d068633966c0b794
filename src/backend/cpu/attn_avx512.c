/* attn_avx512.c: AVX-512 blocks of the attention kernel (scores of a tile of
 * query vectors against a block of keys, and the probability-weighted sum of
 * the block's values).
 *
 * Layout: keys arrive transposed (kt[d][t]), so one zmm holds 16 keys' value d
 * and the scores of a query come out 16 keys at a time with no horizontal sum:
 * s[i][t0..t0+16) = sum_d q[i][d] * kt[d][t0..]. Four queries share each kt
 * load. Values stay row-major (v[t][e]): acc[i][e0..e0+64) += p[i][t] * v[t][..]
 * with four queries x four zmm of accumulators in registers across all t.
 * Masks cover any nt and hdv. References: kref_attn_qk, kref_attn_pv. */
#include <immintrin.h>

#include "backend/cpu/cpu_kernels.h"

#define AI static inline __attribute__((always_inline))

AI __mmask16 tail(int left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

AI void qk_tile(const float *q, int64_t q_stride, const float *kt, int64_t kt_stride, int hd,
                int t0, __mmask16 m, float *s, int64_t s_stride, const int NQ)
{
    __m512 acc[4];
    for (int j = 0; j < NQ; j++) acc[j] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 k = _mm512_maskz_loadu_ps(m, kt + d * kt_stride + t0);
        for (int j = 0; j < NQ; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(q[j * q_stride + d]), k, acc[j]);
    }
    for (int j = 0; j < NQ; j++) _mm512_mask_storeu_ps(s + j * s_stride + t0, m, acc[j]);
}

static void attn_qk(const float *q, int nq, int64_t q_stride, const float *kt, int64_t kt_stride,
                    int hd, int nt, float *s, int64_t s_stride)
{
    for (int t0 = 0; t0 < nt; t0 += 16) {
        __mmask16 m = tail(nt - t0);
        int i = 0;
        for (; i + 4 <= nq; i += 4)
            qk_tile(q + i * q_stride, q_stride, kt, kt_stride, hd, t0, m, s + i * s_stride, s_stride, 4);
        for (; i < nq; i++)
            qk_tile(q + i * q_stride, q_stride, kt, kt_stride, hd, t0, m, s + i * s_stride, s_stride, 1);
    }
}

AI void pv_tile(float *acc, int hdv, const float *p, int64_t p_stride, const float *v, int nt,
                int e0, const int NQ)
{
    __mmask16 m[4];
    for (int z = 0; z < 4; z++) m[z] = e0 + 16 * z < hdv ? tail(hdv - e0 - 16 * z) : 0;
    __m512 a[4][4];
    for (int j = 0; j < NQ; j++)
        for (int z = 0; z < 4; z++) a[j][z] = _mm512_maskz_loadu_ps(m[z], acc + j * hdv + e0 + 16 * z);
    for (int t = 0; t < nt; t++) {
        __m512 vv[4];
        for (int z = 0; z < 4; z++) vv[z] = _mm512_maskz_loadu_ps(m[z], v + (int64_t)t * hdv + e0 + 16 * z);
        for (int j = 0; j < NQ; j++) {
            __m512 pj = _mm512_set1_ps(p[j * p_stride + t]);
            for (int z = 0; z < 4; z++) a[j][z] = _mm512_fmadd_ps(pj, vv[z], a[j][z]);
        }
    }
    for (int j = 0; j < NQ; j++)
        for (int z = 0; z < 4; z++) _mm512_mask_storeu_ps(acc + j * hdv + e0 + 16 * z, m[z], a[j][z]);
}

static void attn_pv(float *acc, int nq, int hdv, const float *p, int64_t p_stride, const float *v,
                    int nt)
{
    for (int e0 = 0; e0 < hdv; e0 += 64) {
        int i = 0;
        for (; i + 4 <= nq; i += 4)
            pv_tile(acc + (int64_t)i * hdv, hdv, p + i * p_stride, p_stride, v, nt, e0, 4);
        for (; i < nq; i++) pv_tile(acc + (int64_t)i * hdv, hdv, p + i * p_stride, p_stride, v, nt, e0, 1);
    }
}

void cpu_kernels_fill_attn_avx512(cpu_kernels *k)
{
    k->attn_qk = attn_qk;
    k->attn_pv = attn_pv;
}
