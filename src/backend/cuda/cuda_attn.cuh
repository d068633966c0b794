// cuda_attn.cuh: RoPE, KV writes into the paged pool, attention through the
// block tables, block copies (cuda_attn.cu). Contracts: backend.h.
#ifndef INFERD_CUDA_ATTN_CUH
#define INFERD_CUDA_ATTN_CUH

#include "backend/cuda/cuda_common.cuh"

// Floats of attention scratch for split contexts (allocated with the first pool).
#define CU_ATTN_PART_FLOATS ((size_t)8 << 20)

void cu_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim, const be_rope *rope,
             int64_t n);
void cu_kv_write(be_backend *be, be_kv *kv, int32_t layer, const be_tensor *k, const be_tensor *v,
                 int64_t n);
void cu_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kv,
                  const be_attn *p, int64_t n);
void cu_kv_copy_block(be_backend *be, be_kv *kv, int32_t dst, int32_t src);

// RoPE is not launched at once but kept pending (cb->prope): the RoPE of q and
// of k, then the KV write of that k, become one kernel (a decode step is
// hundreds of tiny kernels; this saves two a layer). Every op other than rope
// and kv_write launches what is pending first (the op table's wrappers).
void cu_flush_rope(cu_backend *cb);

#endif
