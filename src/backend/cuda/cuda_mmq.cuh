// cuda_mmq.cuh: the matmul of many activation rows (prefill, batched decode) on
// packed Q4_0 / Q8_0 weights with int8 tensor cores (cuda_mmq.cu). x is rounded
// to int8 with one scale per 32 values exactly as the decode path does
// (cu_q8_prepare, cuda_mmvq.cuh), so both paths share one error bound.
#ifndef INFERD_CUDA_MMQ_CUH
#define INFERD_CUDA_MMQ_CUH

#include "backend/cuda/cuda_common.cuh"

// Rows up to which packed weights take cu_mmq (from CU_GEMM_MIN_N). Past it,
// cuBLAS on f16 tiles is faster even with the dequantization of the whole
// weight each call (H200, test_cuda_mmq --bench: at 512 rows 4096 x 4096 Q4_0
// takes 75 us there against 114 us here; at 256 rows Q4_0 is within 7% either
// way but 1.7 times faster here for k = 14336, and Q8_0 is faster here).
#define CU_MMQ_MAX_N 256

// Whether packed weights take cu_mmq for CU_GEMM_MIN_N..CU_MMQ_MAX_N rows: yes
// unless the environment says INFERD_CUDA_MMQ=0 (then they go to cuBLAS on f16
// as the other formats do). Read once, at the first call; any thread.
bool cu_mmq_enabled(void);

// y[i * m + j] = sum_c x[i * k + c] * w[j][c] (+ bias[j]) for i < n, j < m, with
// w (m, k) packed (cuda_mmvq.cuh) and any n >= 1. Enqueued on cb's stream; no
// allocation and no host synchronisation (capturable in a CUDA graph). When
// the output tiles alone leave SMs idle, k is split across blocks whose partial
// sums go to cb->gemm_w (the prefill scratch, unused on this path) and are
// added in a fixed order by a second kernel, so results do not vary run to run.
void cu_mmq(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
            const float *bias);

#endif
