// cuda_mmvq_k.cuh: the decode matmul (1..8 rows of x) on Q4_K, Q5_K and Q6_K
// weights with activations rounded to int8 (cuda_mmvq_k.cu). The weights stay
// in their GGUF layout (cuda_common.cuh), so embed, the prefill matmul and
// read-back are unchanged.
#ifndef INFERD_CUDA_MMVQ_K_CUH
#define INFERD_CUDA_MMVQ_K_CUH

#include "backend/cuda/cuda_common.cuh"

// Whether a matmul of w on n rows of x (n < CU_GEMM_MIN_N) takes cu_mmvq_k:
// w is Q4_K, Q5_K or Q6_K, and the environment does not say
// INFERD_CUDA_MMVQ_K=0 (read once, at the first call: then these formats keep
// the f32 dequantize-and-dot kernel of cuda_mmv.cu, the A/B baseline).
bool cu_mmvq_k_takes(const cu_backend *cb, const cu_tensor *w, int64_t n);

// Whether type is one that cu_mmvq_k takes (Q4_K, Q5_K, Q6_K).
bool cu_mmvq_k_type(uint32_t type);

// y[i * m + j] = sum_c x[i * k + c] * w[j][c] (+ bias[j]) for i < n (any n >= 1;
// launches of up to 8 rows), w (m, k) Q4_K / Q5_K / Q6_K as GGUF stores it: x is
// rounded to int8 with one scale per 32 values (cu_q8_prepare, shared with the
// other decode matmuls of the step), then integer dot products (dp4a) per
// sub-block. Enqueued on cb's stream; no allocation, no host synchronisation.
// As cu_mmvq, the launch waits in cb->pmm to join the next matmuls on the same
// x (same n, type and k: q/k/v, gate/up), up to CU_MM_GROUP of them, and
// cu_mmvq_flush (which every other op calls first) launches them as one grid;
// INFERD_CUDA_MMVQ_K_GROUP=0 (read once) launches each at once instead.
void cu_mmvq_k(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
               const float *bias);

// Launches the pending matmuls of cb->pmm, which must be of a K type
// (cu_mmvq_flush calls it for those).
void cu_mmvq_k_flush(cu_backend *cb);

#endif
