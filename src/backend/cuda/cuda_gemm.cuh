// cuda_gemm.cuh: the matmul entry of the CUDA backend (cuda_gemm.cu): decode
// rows go to the fused kernels of cuda_mmv.cu, prefill rows to cuBLAS on f16
// tiles with f32 accumulation.
#ifndef INFERD_CUDA_GEMM_CUH
#define INFERD_CUDA_GEMM_CUH

#include "backend/cuda/cuda_common.cuh"

// Up to this many rows take the decode kernels; more take cuBLAS.
#define CU_GEMM_MIN_N 9

void cu_matmul(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
               const be_tensor *bias, int64_t n);

#endif
