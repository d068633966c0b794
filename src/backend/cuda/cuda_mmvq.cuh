// cuda_mmvq.cuh: Q4_0 / Q8_0 weights repacked at upload for the decode matmul,
// and the matmul on them with activations quantized to int8 (cuda_mmvq.cu).
//
// Packed layout of a weight of `rows` rows of k values (nb = k / 32 blocks a
// row), one device allocation:
//   qs      (rows, nb, QB) bytes: the quants of block b of row r at
//           qs + (r * nb + b) * QB, QB = 16 (Q4_0: byte j holds values j and
//           j + 16 in its low and high nibble, as in GGUF) or 32 (Q8_0);
//           every block starts on a 16-byte boundary
//   scales  (rows, nb) f16 right after qs (the block's d)
// The GGUF blocks interleave a 2-byte scale with the quants (18 / 34 bytes), so
// no 16-byte load of them is aligned; this layout gives whole-block 16-byte loads.
#ifndef INFERD_CUDA_MMVQ_CUH
#define INFERD_CUDA_MMVQ_CUH

#include "backend/cuda/cuda_common.cuh"

// Whether weights of this type are kept packed.
static inline bool cu_pack_type(uint32_t t)
{
    return t == QT_Q4_0 || t == QT_Q8_0;
}

// Quant bytes per 32-value block in the packed layout.
static inline size_t cu_pack_qb(uint32_t t)
{
    return t == QT_Q4_0 ? 16 : 32;
}

// The end of a decode matmul's warp (cuda_mmvq.cu, cuda_mmvq_k.cu): sums each
// of its RW x NR partial sums over the warp, then over the KS consecutive
// warps that took slices of the same rows (through shared memory: every warp
// of the block must call it), and lane 0 of slice 0 stores them (+ bias):
// y[r * m + row0 + j] for the rows j < RW below m, when valid.
template <int WARPS, int KS, int RW, int NR>
__device__ __forceinline__ void cu_mmvq_store(float (&acc)[RW][NR], bool valid, int64_t row0,
                                              int64_t m, float *y, const float *bias)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, slice = warp % KS;
#pragma unroll
    for (int j = 0; j < RW; j++)
#pragma unroll
        for (int r = 0; r < NR; r++) acc[j][r] = cu_warp_sum(acc[j][r]);
    if constexpr (KS > 1) {
        __shared__ float part[WARPS][RW][NR];
        if (lane == 0) {
#pragma unroll
            for (int j = 0; j < RW; j++)
#pragma unroll
                for (int r = 0; r < NR; r++) part[warp][j][r] = acc[j][r];
        }
        __syncthreads();
        if (slice != 0) return;
#pragma unroll
        for (int j = 0; j < RW; j++)
#pragma unroll
            for (int r = 0; r < NR; r++) {
                acc[j][r] = 0.0f;
#pragma unroll
                for (int w = 0; w < KS; w++) acc[j][r] += part[warp + w][j][r];
            }
    }
    if (lane != 0 || !valid) return;
#pragma unroll
    for (int j = 0; j < RW; j++) {
        const int64_t row = row0 + j;
        if (row >= m) break;
        const float bv = bias ? bias[row] : 0.0f;
#pragma unroll
        for (int r = 0; r < NR; r++) y[r * m + row] = acc[j][r] + bv;
    }
}

// GGUF rows -> packed layout (host memory, dst of the same size as src).
void cu_pack_host(uint32_t type, const uint8_t *src, size_t rows, int64_t k, uint8_t *dst);

// Rows [row0, row0 + n_rows) of a packed tensor whose whole packed bytes are in
// src (host) -> GGUF rows in dst.
void cu_unpack_host(uint32_t type, const uint8_t *src, size_t rows, int64_t k, int64_t row0,
                    int64_t n_rows, uint8_t *dst);

// Dequantizes rows of a packed weight on the stream: dst row i = weight row
// (idx ? idx[i] : row0 + i), i < n_rows, k values each (F32 or F16).
void cu_pack_dequant_f32(cu_backend *cb, const cu_tensor *w, const int32_t *idx, int64_t row0,
                         int64_t n_rows, float *dst);
void cu_pack_dequant_f16(cu_backend *cb, const cu_tensor *w, const int32_t *idx, int64_t row0,
                         int64_t n_rows, __half *dst);

// Rounds rows [0, n) of x (k values each, k % 32 == 0) to int8 with one scale
// per 32 values into cb->q8_x (row i at q8_x + i * k) and cb->q8_ds ((d, d * sum
// of the 32 quants) per block, row i at q8_ds + i * k / 32), unless they still
// hold that x (same pointer, at least n rows, no other op ran since).
void cu_q8_prepare(cu_backend *cb, const float *x, int64_t n, int64_t k);

// Launches the decode matmuls left pending by cu_mmvq, cu_mmvq_k or cu_mmf, if
// any. Every op but a matmul that may join them calls it first (the op table's
// wrappers).
void cu_mmvq_flush(cu_backend *cb);

// The most units a lane of a one-x-row decode matmul loads (2; cuda_mmvq.cu
// and cuda_mmvq_k.cu split a row over warps by it). INFERD_CUDA_MMVQ_LANE_UNITS
// (read once) sets it; 8 or more gives one x row the split of several.
int cu_mmvq_lane_units();

// Warps a row of a decode matmul (1, 2, 4 or 8) that has `units` 16-byte units
// of weights, for nr x rows. Several x rows: enough that each lane has at most
// 8 units of the row to load (at most 4 warps). One x row: enough that each
// lane has at most cu_mmvq_lane_units() (up to 8 warps), so that a block's
// loads are few, all in flight at once and short-lived. cu_mmvq_lane_units()
// >= 8 gives one x row the split of several. Used by cuda_mmvq.cu and the float
// weights' kernel of cuda_mmv.cu.
int cu_mmvq_row_split(int64_t units, int nr);

// Warps a block of such a matmul: 4, or KS where a row is split over more (8).
__host__ __device__ constexpr int cu_mmvq_warps(int ks)
{
    return ks > 4 ? ks : 4;
}

// Adds y = x w^T (+ bias) on n rows to the pending group (cb->pmm), first
// launching what is pending when it cannot join: another x, n, type, k or
// kernel (f16: cu_mmf's), a full group, x being a pending output, or y being
// one (this matmul overwrites it). cu_mmvq, cu_mmvq_k and cu_mmf call it.
void cu_mm_group_add(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
                     const float *bias, bool f16);

// y[i * m + j] = sum_c x[i * k + c] * w[j][c] (+ bias[j]) for i < n (any n >= 1),
// w packed: x is rounded to int8 with one scale per 32 values (once per x and
// step, cb->q8_*), then integer dot products (dp4a) per block. The launch may
// be deferred to join the next matmuls on the same x (cu_mmvq_flush).
void cu_mmvq(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
             const float *bias);

#endif
