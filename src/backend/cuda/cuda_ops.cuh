// cuda_ops.cuh: the CUDA backend's dense ops — embedding lookup, RMSNorm, gated
// activations, elementwise ops, softmax, output-row gather (cuda_ops.cu).
// Signatures and contracts are those of the be_ops entries (backend.h).
#ifndef INFERD_CUDA_OPS_CUH
#define INFERD_CUDA_OPS_CUH

#include "backend/cuda/cuda_common.cuh"

void cu_embed(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n);
void cu_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                 float eps, int64_t n);
void cu_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
               int64_t n);
void cu_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
              int64_t n);
void cu_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
void cu_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
void cu_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n);
void cu_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n);
void cu_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n);
void cu_gather_out(be_backend *be, be_tensor *out, const be_tensor *x);

// out[i] = argmax of row i of x (rows of d floats), i < n_rows, on the stream
// (be_argmax's rule: first maximum, NaN never picked, 0 for a row of no number).
void cu_argmax_rows(cu_backend *cb, const float *x, int64_t d, int64_t n_rows, int32_t *out);

// Launches the residual add that cu_add left pending, if any (cuda_ops.cu top
// comment). Every op other than add and rms_norm, and read / sync / the end of
// a recording, call it first (the op table's wrappers in cuda_backend.cu).
void cu_flush_add(cu_backend *cb);

// Dequantizes rows [0, rows) of a weight (rows of k values, row_bytes apart)
// into F32 or F16 on the stream: dst row r at dst + r * k. Used by be_read of
// weights and by the prefill matmul.
void cu_dequant_rows_f32(cu_backend *cb, uint32_t type, const uint8_t *w, size_t row_bytes,
                         int64_t rows, int64_t k, float *dst);
void cu_dequant_rows_f16(cu_backend *cb, uint32_t type, const uint8_t *w, size_t row_bytes,
                         int64_t rows, int64_t k, __half *dst);

#endif
