/* cpu_matmul.h: packed weights and the threaded matmul driver of the CPU backend.
 *
 * A cpu_weight is a weight matrix (m, k) repacked once into panels of 16 rows
 * (layout in ref/kernels_ref.h). cpu_matmul computes Y = X W^T (+ bias) for n
 * activation rows: it quantizes X to q8a (integer formats) into caller scratch,
 * then hands (column chunk, panel) work items to the thread pool, each computed
 * by the kernel table's panel kernel. Internal to src/backend/cpu/. */
#ifndef INFERD_BACKEND_CPU_MATMUL_H
#define INFERD_BACKEND_CPU_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/error.h"
#include "core/threadpool.h"

typedef struct cpu_weight {
    uint32_t type;                  /* the file's ggml type */
    const kref_panel_format *fmt;   /* its panel format */
    int64_t m, k;                   /* output rows, input features */
    int64_t n_panels;               /* ceil(m / 16) */
    size_t panel_bytes;             /* bytes of one panel */
    uint8_t *panels;                /* (n_panels, panel_bytes), 64-byte aligned, owned */
} cpu_weight;

/* Packs W (m, k) of `type` from file layout (row r at data + r * row_bytes) into
 * w, using the pool's threads. Fails with INF_ERR_UNSUPPORTED (no panel format),
 * INF_ERR_INVALID (k not a multiple of the super-block) or INF_ERR_NOMEM. On
 * failure w owns nothing. name is for messages. */
int cpu_weight_pack(cpu_weight *w, const char *name, uint32_t type, int64_t m, int64_t k,
                    const void *data, size_t row_bytes, tp_pool *pool, inf_error *err);

/* Frees the panels. NULL or an empty weight allowed. */
void cpu_weight_release(cpu_weight *w);

/* Bytes of activation scratch cpu_matmul needs for n rows of k features
 * (0 for float formats, which read X directly). */
size_t cpu_matmul_scratch_bytes(uint32_t type, int64_t k, int64_t n);

/* Quantizes n rows of X (row stride ldx floats) into scratch as q8a rows of
 * k / 32 blocks (row stride cpu_q8a_row_bytes(k)) of the given kind
 * (kernels_ref.h). Threads when n is large. */
void cpu_quantize_rows(tp_pool *pool, const cpu_kernels *kt, kref_act_kind kind, const float *x,
                       size_t ldx, int64_t n, int64_t k, void *scratch);

static inline size_t cpu_q8a_row_bytes(int64_t k)
{
    return (size_t)(k / KREF_GROUP) * sizeof(kref_q8a);
}

/* Y (n, m), row stride ldy floats, = X (n, k), row stride ldx, times W^T, plus
 * bias (m floats) when not NULL. scratch holds cpu_matmul_scratch_bytes; when
 * x_quantized is true it already holds X as q8a rows (cpu_quantize_rows) and x
 * is not read; otherwise X is rounded with the weight type's kind
 * (kref_act_kind_of). Y must not overlap X or scratch. The engine thread calls it. */
void cpu_matmul(tp_pool *pool, const cpu_kernels *kt, const cpu_weight *w, const float *x,
                size_t ldx, int64_t n, float *y, size_t ldy, const float *bias, void *scratch,
                bool x_quantized);

/* The two halves of cpu_matmul, so that several products can share one
 * parallel region: prepare (quantizes x unless x_quantized, plans the work
 * items) and run (all the jobs' items in one region). A prepared job reads
 * scratch and x when it runs: neither may change in between. */
typedef struct cpu_mm_job {
    const cpu_weight *w;
    cpu_gemm_fn fn;
    const uint8_t *x;       /* q8a rows (scratch) or F32 rows */
    size_t x_stride;        /* bytes */
    int64_t n, chunk;       /* activation rows; rows per work item */
    int64_t n_chunks;       /* n / chunk rounded up */
    int64_t group;          /* panels per work item */
    int64_t items;          /* n_chunks x panel groups */
    float *y;
    size_t ldy;
    const float *bias;
} cpu_mm_job;

void cpu_matmul_prepare(tp_pool *pool, const cpu_kernels *kt, const cpu_weight *w, const float *x,
                        size_t ldx, int64_t n, float *y, size_t ldy, const float *bias,
                        void *scratch, bool x_quantized, kref_act_kind kind, cpu_mm_job *job);
void cpu_matmul_run(tp_pool *pool, const cpu_mm_job *jobs, int n_jobs);

#endif
