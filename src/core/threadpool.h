/* threadpool.h: persistent worker threads for the CPU backend's parallel regions.
 *
 * A decode step of a small model runs hundreds of short parallel regions (one or
 * more per matmul, norm, attention), so dispatch latency matters more than
 * anything else here: workers spin on a generation counter for a while after each
 * region (tp_create's spin_us) and only then sleep on a futex. The calling thread
 * takes part in every region as thread 0, so a pool of n threads starts n - 1
 * workers.
 *
 * One thread at a time may dispatch (the engine thread that owns the pool);
 * regions do not nest: a task must not dispatch on its own pool. */
#ifndef INFERD_CORE_THREADPOOL_H
#define INFERD_CORE_THREADPOOL_H

#include <stdint.h>

#include "core/error.h"

typedef struct tp_pool tp_pool;

/* A task run once by each of the n threads of a region: tid in [0, n). */
typedef void (*tp_task_fn)(void *ctx, int tid, int n_threads);

/* A range task: handles items [begin, end); tid tells which thread runs it (for
 * per-thread scratch). */
typedef void (*tp_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/* Creates a pool of n_threads threads in all, the caller included (n_threads <= 0:
 * one per online CPU). Workers spin up to spin_us microseconds waiting for the
 * next region before they sleep (spin_us < 0: the default, 1000 us, or the
 * environment variable INFERD_TP_SPIN_US). On success *out owns the pool; free it
 * with tp_destroy. Fails with INF_ERR_NOMEM or INF_ERR_INTERNAL (thread creation). */
int tp_create(int n_threads, int spin_us, tp_pool **out, inf_error *err);

/* Stops and joins the workers and frees the pool. NULL allowed. Not while a region
 * is running. */
void tp_destroy(tp_pool *pool);

/* Number of threads in regions (>= 1), the caller included. NULL reads as 1. */
int tp_size(const tp_pool *pool);

/* Runs fn(ctx, tid, n) on every thread of the pool and returns when all are done.
 * pool may be NULL: then fn(ctx, 0, 1) runs on the caller. */
void tp_run(tp_pool *pool, tp_task_fn fn, void *ctx);

/* Splits [0, n) into chunks of `grain` items (the last may be shorter), handed out
 * to the threads dynamically, so uneven chunks balance; returns when every chunk
 * is done. grain < 1 counts as 1. Regions with a single chunk run on the caller
 * without waking anyone. pool may be NULL (everything on the caller). */
void tp_parallel_for(tp_pool *pool, int64_t n, int64_t grain, tp_range_fn fn, void *ctx);

#endif
