/* cpu_backend.h: the fast CPU backend (SIMD kernels chosen from cpuid, a
 * thread pool sized to the cores). It shares the ref backend's tensor, KV and
 * batch layouts (ref/ref.h) and speeds up the ops that cost time: matmul from
 * packed weight panels with 8-bit activations for integer formats, attention
 * over the paged pool, RoPE from per-step angle tables, norms, activations,
 * softmax. Tolerances against ref: tests/unit/cpu/test_cpu_ops.c. */
#ifndef INFERD_BACKEND_CPU_BACKEND_H
#define INFERD_BACKEND_CPU_BACKEND_H

#include "backend/backend.h"

/* Creates the CPU backend with n_threads threads in all, the calling (engine)
 * thread included (<= 0: one per online CPU). The kernel level is the best the
 * CPU has, capped by INFERD_CPU_ISA=scalar|avx2|avx512. Returns INF_OK,
 * INF_ERR_NOMEM or INF_ERR_INTERNAL (threads). Destroy with be_destroy. */
int be_cpu_create(int n_threads, be_backend **out, inf_error *err);

#endif
