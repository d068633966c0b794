// cuda_attn_decode.cuh: attention of decode rows over the paged KV pool
// (cuda_attn_decode.cu), the path of cu_attention (cuda_attn.cu) for steps of a
// few rows. Contract: be_attention in backend.h.
#ifndef INFERD_CUDA_ATTN_DECODE_CUH
#define INFERD_CUDA_ATTN_DECODE_CUH

#include "backend/cuda/cuda_common.cuh"

// More rows than this in a step: the per-row kernel (or the tensor-core one).
#define CU_ATTN_DECODE_MAX_ROWS 64

// Enqueues the attention of the batch's rows i < n into out (n, h * hd) from q
// (n, h * hd) and returns true, when this kernel takes the shape: n <=
// CU_ATTN_DECODE_MAX_ROWS, hd == hdv in {64, 128, 256}, at most 8 query heads a
// KV head. Returns false (nothing enqueued) otherwise. No allocation, no sync.
bool cu_attn_decode(cu_backend *cb, float *out, const float *q, const cu_kv *kv, const be_attn *p,
                    int64_t n);

// out (units, hdv) = the splits' partial results (cb->attn_part layout: for unit
// u and split s, (max, sum, acc[hdv]) at part + (u * nsp + s) * (hdv + 2))
// combined; a split with max -inf saw no key (cuda_attn.cu). q8 / q8ds
// non-null (hdv % 32 == 0): out also rounded to int8 as the decode matmul does;
// xh non-null: out also written as cu_mmf's f16 copy (cuda_mmf.cuh).
void cu_attn_combine(cu_backend *cb, float *out, const float *part, int64_t units, int nsp,
                     int hdv, int8_t *q8 = nullptr, float2 *q8ds = nullptr,
                     __half *xh = nullptr);

#endif
