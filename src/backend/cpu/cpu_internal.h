/* cpu_internal.h: the CPU backend's structs, shared by its files (not public).
 *
 * A cpu_backend starts with a ref_backend, so every ref_* op can run on it for
 * the entries that need no speed (embedding lookups, KV writes, block copies,
 * host transfers), and its tensors start with a ref_tensor. Weights of two or
 * more dims are also packed into panels (cpu_matmul.h) at upload. */
#ifndef INFERD_BACKEND_CPU_INTERNAL_H
#define INFERD_BACKEND_CPU_INTERNAL_H

#include <stdbool.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_matmul.h"
#include "backend/ref/ref.h"
#include "core/threadpool.h"

typedef struct cpu_tensor {
    ref_tensor r;           /* first: the ref ops read it */
    cpu_weight w;           /* packed panels when `packed` */
    bool packed;
} cpu_tensor;

/* One cached table of RoPE cos/sin for the current batch. */
typedef struct cpu_rope_cache {
    be_rope key;            /* freq_factors compared by pointer */
    uint64_t batch_gen;     /* be_batch_set count it was made for (0: empty) */
    float *cs;              /* (n, n_dims / 2) pairs of cos, sin */
} cpu_rope_cache;

#define CPU_ROPE_CACHE 4
#define CPU_ROPE_MAX_PAIRS 256   /* head dims up to 512 */
#define CPU_ATTN_QV 64           /* query vectors per attention work item */
#define CPU_MM_PENDING 4         /* matmuls that may share one parallel region */

typedef struct cpu_backend {
    ref_backend rb;         /* first */
    tp_pool *pool;
    const cpu_kernels *kt;

    uint8_t *act_q;         /* q8a rows of the last quantized matmul input */
    size_t act_q_cap;
    int64_t max_rows;       /* largest activation row capacity allocated */
    int64_t max_k;          /* largest k of a packed integer weight */

    /* The q8a rows in act_q are those of q_src's first q_n rows, valid while
     * epoch == q_epoch (every op that writes a tensor bumps epoch). */
    const be_tensor *q_src;
    int64_t q_n;
    kref_act_kind q_kind;   /* how act_q was rounded */
    bool act_parity;        /* round as llama.cpp does (INFERD_CPU_ACT=llama) */
    uint64_t q_epoch, epoch;

    /* Matmuls of one input wait here until another op needs their results,
     * so that q/k/v (or gate/up) run in one parallel region. */
    cpu_mm_job pending[CPU_MM_PENDING];
    const be_tensor *pending_out[CPU_MM_PENDING];
    const be_tensor *pending_x;
    int64_t pending_n;
    int n_pending;

    uint64_t batch_gen;
    int64_t rope_rows;      /* row capacity of each rope cache table */
    cpu_rope_cache rope[CPU_ROPE_CACHE];
    int rope_next;          /* slot to replace next */

    int32_t *tiles;         /* attention work tiles: first row of each, + end */
    int64_t tiles_cap;
    float *attn_scratch;    /* per thread: attn_per_thread floats */
    size_t attn_per_thread;
} cpu_backend;

/* Ops in cpu_ops.c and cpu_attn.c (contracts in backend.h). */
void cpu_op_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                     float eps, int64_t n);
void cpu_op_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim,
                 const be_rope *rope, int64_t n);
void cpu_op_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                   int64_t n);
void cpu_op_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                  int64_t n);
void cpu_op_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
void cpu_op_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
void cpu_op_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n);
void cpu_op_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n);
void cpu_op_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n);
void cpu_op_kv_write(be_backend *be, be_kv *kv, int32_t layer, const be_tensor *k,
                     const be_tensor *v, int64_t n);
void cpu_op_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kv,
                      const be_attn *p, int64_t n);

/* Floats of per-thread attention scratch a pool of this shape needs. */
size_t cpu_attn_scratch_floats(const be_kv_config *cfg);

#endif
