/* engine.h: the engine thread: request queue, continuous-batching scheduler, model
 * steps over the paged KV pool with automatic prefix caching.
 *
 * One engine thread owns the runner (model + backend + KV storage), the KV block
 * pool (kv/) and the scheduler. Other threads talk to it only through
 * engine_submit / engine_request_cancel and each request's channel (request.h).
 *
 * Each step (engine_step):
 *   1. cancelled requests are finished and their blocks freed;
 *   2. every running sequence in its decode phase gets one row;
 *   3. sequences still prefilling get their next chunk, and waiting requests are
 *      admitted (FCFS) while --max-num-seqs and the KV pool allow, all within the
 *      token budget --max-batch-tokens, so a long prompt is split across steps and
 *      never stalls the decoders for more than one step;
 *   4. when KV blocks run out, the newest running sequence is preempted: its blocks
 *      are released (full ones stay in the prefix cache) and it goes back to the
 *      front of the waiting queue, to be recomputed later; requests never fail for
 *      lack of blocks unless one alone cannot fit the pool;
 *   5. one forward over the flat batch; logits come back only for the rows that
 *      sample (the last prompt row of a sequence, and decode rows);
 *   6. each sampled token is pushed to its request's channel; finished sequences
 *      give their blocks back. */
#ifndef INFERD_ENGINE_H
#define INFERD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/request.h"
#include "kv/kv_pool.h"
#include "model/batch.h"

/* What the engine drives: a model on a backend with its KV storage. */
typedef struct engine_runner {
    void *ctx;
    int32_t n_vocab;
    int32_t n_ctx;        /* longest sequence (prompt + generated) */
    int32_t max_rows;     /* most rows one forward accepts */
    int32_t max_out;      /* most logits rows one forward returns */
    /* Runs one step; writes logits of the batch's out_rows, (n_out, n_vocab). */
    int (*forward)(void *ctx, const model_batch *b, float *logits, inf_error *err);
    /* Optional (NULL: none): runs one step and writes the most likely token of
     * each out_row, (n_out) ids, lowest id on ties. The engine uses it for steps
     * whose sequences all sample plain greedy (sampler_params_plain_greedy). */
    int (*forward_greedy)(void *ctx, const model_batch *b, int32_t *ids, inf_error *err);
    /* Is this token an end of generation (EOS, EOT, ...)? */
    bool (*is_eog)(void *ctx, int32_t token);
} engine_runner;

typedef struct engine_config {
    int32_t max_num_seqs;        /* running sequences at once (default 64) */
    int32_t max_batch_tokens;    /* rows per step (default 512 on CPU) */
    int32_t max_queue;           /* waiting requests before submit says busy (0 = 1024) */
    int32_t block_size;          /* B (default 16) */
    int32_t n_blocks;            /* KV blocks in the pool (must match the runner's storage) */
    uint64_t bytes_per_block;    /* for the prefix cache's byte budget and reports */
    bool prefix_cache;
    uint64_t prefix_cache_bytes; /* 0: no budget beyond the pool */
    uint64_t model_id;           /* seeds the block hashes */
} engine_config;

/* Counters and gauges, for /metrics and tests. A consistent snapshot. */
typedef struct engine_stats {
    int32_t running, waiting;
    uint64_t steps, prompt_tokens, generation_tokens, preemptions;
    uint64_t finished_stop, finished_length, finished_cancelled, finished_error;
    kv_stats kv;
    int32_t kv_blocks_total;
} engine_stats;

typedef struct engine engine;

/* Creates the engine (no thread yet). The runner must outlive it. */
int engine_create(const engine_config *cfg, const engine_runner *runner, engine **out,
                  inf_error *err);

/* Stops the thread if running, finishes every request as cancelled, frees.
 * NULL allowed. */
void engine_destroy(engine *e);

/* Starts the engine thread. */
int engine_start(engine *e, inf_error *err);

/* Stops accepting, cancels what is in flight (each request gets its final
 * state), and joins the thread. Idempotent. */
void engine_stop(engine *e);

/* Hands a request to the engine (takes a reference). Returns INF_ERR_BUSY when
 * the waiting queue is full, INF_ERR_RANGE when the prompt cannot fit the
 * context or the KV pool, INF_ERR_CANCELLED after engine_stop. Any thread. */
int engine_submit(engine *e, engine_request *r, inf_error *err);

/* Runs one scheduler step on the calling thread (tests and single-threaded tools
 * that did not call engine_start). Returns the rows computed (0 when idle). */
int engine_step(engine *e, inf_error *err);

/* Runs steps until no request is waiting or running (no thread needed). */
int engine_run_until_idle(engine *e, inf_error *err);

void engine_get_stats(engine *e, engine_stats *out);

/* Invariant check of the pool against the sequences' block tables (tests). */
int engine_check(engine *e, inf_error *err);

#endif
