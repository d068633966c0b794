// cuda_mmf.cuh: the matmul of CU_MMF_MIN_N..CU_MMF_MAX_N activation rows (batched decode)
// on packed Q4_0 / Q8_0 weights (cuda_mmvq.cuh) with f16 tensor cores, the
// weights dequantized to f16 in registers (cuda_mmf.cu).
#ifndef INFERD_CUDA_MMF_CUH
#define INFERD_CUDA_MMF_CUH

#include "backend/cuda/cuda_common.cuh"

// Rows that take cu_mmf (cuda_gemm.cu), from measurements (test_cuda_mmf
// --bench on an H200, 8B shapes): from 5 (2..4 rows: the dp4a kernel is
// faster, 8.3 against 11.3 us for q/k/v at 4 rows) to 64 (at 128 rows the
// int8 kernel is faster for Q8_0 and within 6% for Q4_0).
// INFERD_CUDA_MMF_MIN_N / _MAX_N (read once, 2..256) move them, for tests and
// measurements.
#define CU_MMF_MIN_N 5
#define CU_MMF_MAX_N 64

// Rows one launch covers (one x tile: each weight byte is read once a launch);
// more rows take several launches.
#define CU_MMF_TILE_N 64

// Whether cu_mmf may be used at all: yes unless the environment says
// INFERD_CUDA_MMF=0 (read once, at the first call; any thread).
bool cu_mmf_enabled(void);

// y[i * m + j] = sum_c x[i * k + c] * w[j][c] (+ bias[j]) for i < n, j < m, with
// w (m, k) packed (cuda_mmvq.cuh) and any n >= 1. x is rounded to f16 once (kept
// in cb->gemm_x while it holds that x: cb->f16_*). The launch may be deferred
// to join the next matmuls on the same x (q, k, v; gate, up) in one grid, as
// the decode kernel does (cb->pmm with f16 set; cu_mmvq_flush launches them).
// No allocation and no host synchronisation (capturable in a CUDA graph).
void cu_mmf(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
            const float *bias);

// Launches the pending group cb->pmm (p->f16 set), then clears it. Called by
// cu_mmvq_flush.
void cu_mmf_flush(cu_backend *cb);

// Where value v (0..31) of a 32-value block of x sits in cu_mmf's f16 copy of
// the block (the k order of its mma fragments, cuda_mmf.cu): the 4 values 4w ..
// 4w + 3 and 16 + 4w .. 19 + 4w (w < 4) each fill 4 consecutive slots, in the
// order v, v + 2, v + 1, v + 3.
__host__ __device__ constexpr int cu_mmf_slot(int v)
{
    return 8 * ((v % 16) / 4) + 4 * (v / 16) + 2 * (v % 2) + (v % 4) / 2;
}

// The copies of x for the matmuls after it that an op making x (RMSNorm, the
// gated activations, the decode attention) writes as it writes x, so that
// those matmuls need no conversion kernel: the decode kernels' int8 copy (q8,
// q8ds: cb->q8_x, cb->q8_ds) where it fits, and with it cu_mmf's f16 copy (xh:
// cb->gemm_x; value c of row i at xh[i * k + 32 (c / 32) + cu_mmf_slot(c %
// 32)]) where the rows may take cu_mmf (CU_MMF_MIN_N..MAX_N as the environment
// moves them, cu_mmf on) and fit. A null pointer: that copy is not written.
struct cu_x_outs {
    int8_t *q8;
    float2 *q8ds;
    __half *xh;
};
cu_x_outs cu_x_outs_for(cu_backend *cb, int64_t n, int64_t k);

// Once the op's kernel is enqueued: the copies o names now hold rows [0, n)
// of width k of x.
void cu_x_outs_claim(cu_backend *cb, const cu_x_outs &o, const float *x, int64_t n, int64_t k);

// Stores v, value i of x (rows of a multiple of 32 values, flat index), into
// that copy.
__device__ __forceinline__ void cu_mmf_x_store(__half *xh, int64_t i, float v)
{
    xh[i - i % 32 + cu_mmf_slot((int)(i % 32))] = __float2half_rn(v);
}

// The same for values i .. i + 3 (i % 4 == 0): they fill 4 consecutive slots,
// as v.x v.z v.y v.w (cu_mmf_slot), one 8-byte store.
__device__ __forceinline__ void cu_mmf_x_store4(__half *xh, int64_t i, float4 v)
{
    const __half2 lo = __floats2half2_rn(v.x, v.z), hi = __floats2half2_rn(v.y, v.w);
    uint2 u;
    memcpy(&u.x, &lo, 4);
    memcpy(&u.y, &hi, 4);
    *(uint2 *)(xh + i - i % 32 + cu_mmf_slot((int)(i % 32))) = u;
}

#endif
