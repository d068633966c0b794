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

// Whether decode matmuls on w take the grouped float kernel: F32 / F16 / BF16
// weights whose rows are whole 16-byte units. cu_mmv then adds them to the
// pending group (cu_mm_group_add), launched by cu_mmvq_flush.
bool cu_mmv_float_groups(const cu_tensor *w);

// Whether weights of this type are float ones (F32, F16, BF16): a pending group
// of them is the float kernel's.
__host__ __device__ constexpr bool cu_mmv_float_type(uint32_t type)
{
    return type == QT_F32 || type == QT_F16 || type == QT_BF16;
}

// Launches the pending group cb->pmm of float weights, then clears it. Called
// by cu_mmvq_flush.
void cu_mmv_float_flush(cu_backend *cb);

#endif
