// cuda_gemm.cuh: the matmul entry of the CUDA backend (cuda_gemm.cu): decode
// rows go to the fused kernels of cuda_mmv.cu, prefill rows to cuBLAS on f16
// tiles with f32 accumulation.
#ifndef INFERD_CUDA_GEMM_CUH
#define INFERD_CUDA_GEMM_CUH

#include "backend/cuda/cuda_common.cuh"

// Up to this many rows take the decode kernels; more take cuBLAS (or, for
// packed Q4_0 / Q8_0, the int8 tensor-core kernel from CU_MMQ_MIN_N rows).
#define CU_GEMM_MIN_N 9

// Packed weights take the tensor-core kernel (cuda_mmq.cu) from this many
// rows: its cost for up to 16 rows is about that of the dp4a decode kernel at
// 4 rows, whose x loads and dot products grow with the rows (8B Q4_0 decode
// steps on an H200: 4.5 ms at 4 rows, 6.7 ms at 8 with dp4a).
// INFERD_CUDA_MMQ_MIN_N (read once, 2..9) moves it, for measurements.
#define CU_MMQ_MIN_N 5

// Whether a matmul of n rows on W takes a kernel that may defer its launch to
// join the next ones (cb->pmm): the decode kernels of packed weights
// (cuda_mmvq.cu) and of K-quant weights (cuda_mmvq_k.cu), the f16 tensor-core
// kernel (cuda_mmf.cu); and the float weights' decode kernel (cuda_mmv.cu).
bool cu_matmul_takes_mmvq(const cu_backend *cb, const cu_tensor *W, int64_t n);

// Whether packed weights take cu_mmf (cuda_mmf.cu) for n rows: CU_MMF_MIN_N ..
// CU_MMF_MAX_N, as INFERD_CUDA_MMF_MIN_N / _MAX_N move them, unless
// INFERD_CUDA_MMF=0.
bool cu_mmf_takes_rows(int64_t n);

void cu_matmul(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
               const be_tensor *bias, int64_t n);

#endif
