/* cuda_backend.h: the CUDA backend ("cuda"), an implementation of backend.h on
 * one NVIDIA GPU. Compiles as C and C++; no CUDA header is needed to use it.
 *
 * Weights are copied to the device once, in their GGUF format (F32, F16, BF16,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K; others are
 * INF_ERR_UNSUPPORTED). Activations and the KV pool live in device memory.
 * Every op is enqueued on the backend's one stream; be_read and be_sync wait
 * for it and report the first failure of enqueued work. docs/cuda.md describes
 * the kernels. */
#ifndef INFERD_CUDA_BACKEND_H
#define INFERD_CUDA_BACKEND_H

#ifdef __cplusplus
extern "C" {
#endif

#include "backend/backend.h"

/* Creates the backend on CUDA device 0 (n_threads is ignored). Returns INF_OK,
 * or INF_ERR_UNSUPPORTED with the driver's reason when no usable GPU exists.
 * Destroy with be_destroy. One thread at a time. */
int be_cuda_create(int n_threads, be_backend **out, inf_error *err);

/* Steps recorded as CUDA graphs, and steps replayed from a recording, since
 * the backend was created (be must be a cuda backend): for tests and reports. */
void be_cuda_graph_counts(const be_backend *be, uint64_t *recorded, uint64_t *replayed);

/* Launches of the f16 tensor-core matmul's x-to-f16 conversion since the backend
 * was created (be must be a cuda backend): the ops that make a matmul's x write
 * that copy themselves at 5..64 rows, so a matmul right after them launches
 * none. For tests. */
uint64_t be_cuda_mmf_x_conversions(const be_backend *be);

#ifdef __cplusplus
}
#endif

#endif
