// cuda_mmv.cuh: the decode matmul (few activation rows): fused dequantize-and-dot
// kernels per weight format (cuda_mmv.cu).
#ifndef INFERD_CUDA_MMV_CUH
#define INFERD_CUDA_MMV_CUH

#include "backend/cuda/cuda_common.cuh"

// Rows at most that one mmv launch multiplies; the driver loops over more.
#define CU_MMV_MAX_N 8

// y[i * m + j] = sum_c x[i * k + c] * w[j][c] (+ bias[j]) for i < n, j < m, with
// w (m, k) in its GGUF format on the device; any n >= 1 (launches of up to
// CU_MMV_MAX_N rows). Enqueued on cb's stream.
void cu_mmv(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
            const float *bias);

#endif
