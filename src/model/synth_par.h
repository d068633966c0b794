/* synth_par.h: a parallel loop that can run in the background, for the tools
 * that generate or convert weights (synth, quantize).
 *
 * synth_par_start runs fn(ctx, task) for every task in [0, n_tasks) on n_threads
 * new threads, which take tasks from a shared counter, and returns at once, so
 * that the caller can write the previous batch to disk meanwhile;
 * synth_par_wait joins them (a loop of one task runs there, on the caller).
 * Each task must write only its own output: results
 * then do not depend on which thread ran which task. */
#ifndef INFERD_MODEL_SYNTH_PAR_H
#define INFERD_MODEL_SYNTH_PAR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SYNTH_PAR_MAX_THREADS 256

typedef void (*synth_par_fn)(void *ctx, uint64_t task);

typedef struct synth_par {
    synth_par_fn fn;
    void *ctx;
    uint64_t n_tasks;
    atomic_uint_fast64_t next;
    int n_threads;            /* threads started (0: ran inline) */
    pthread_t threads[SYNTH_PAR_MAX_THREADS];
} synth_par;

/* Starts the loop. n_threads is clamped to 1..SYNTH_PAR_MAX_THREADS; when a
 * thread cannot be created the remaining tasks run on the ones that were, or
 * inline in synth_par_wait. p must stay put until synth_par_wait. */
void synth_par_start(synth_par *p, int n_threads, uint64_t n_tasks, synth_par_fn fn, void *ctx);

/* Waits for every task of p. */
void synth_par_wait(synth_par *p);

/* The number of online CPUs (at least 1). */
int synth_par_cpu_count(void);

#endif
