/* synth_par.c: the background parallel loop of synth_par.h. */
#include "model/synth_par.h"

#include <unistd.h>

static void run_tasks(synth_par *p)
{
    for (;;) {
        uint64_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t);
    }
}

static void *worker(void *arg)
{
    run_tasks(arg);
    return NULL;
}

void synth_par_start(synth_par *p, int n_threads, uint64_t n_tasks, synth_par_fn fn, void *ctx)
{
    if (n_threads < 1) n_threads = 1;
    if (n_threads > SYNTH_PAR_MAX_THREADS) n_threads = SYNTH_PAR_MAX_THREADS;
    if ((uint64_t)n_threads > n_tasks) n_threads = (int)n_tasks;
    /* A single task (a norm, a small tensor) is not worth a thread: starting one
     * costs more than the task on a loaded machine. It runs in synth_par_wait. */
    if (n_tasks <= 1) n_threads = 0;
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_init(&p->next, 0);
    p->n_threads = 0;
    for (int i = 0; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) break;
        p->n_threads++;
    }
}

void synth_par_wait(synth_par *p)
{
    run_tasks(p); /* whatever no thread took (none could be started, or they are busy) */
    for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    p->n_threads = 0;
}

int synth_par_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)(n > SYNTH_PAR_MAX_THREADS ? SYNTH_PAR_MAX_THREADS : n);
}
