/* threadpool.c: spin-then-futex worker pool (see threadpool.h).
 *
 * Hand-off: the dispatcher publishes the job, then bumps `gen` (seq_cst) and
 * wakes sleepers if `n_sleeping` says there are any. A worker that finds no new
 * generation after spinning increments `n_sleeping` (seq_cst) and futex-waits on
 * `gen` with the value it last saw, so either the dispatcher sees the sleeper
 * and wakes it, or the futex sees the new generation and returns at once: no
 * lost wake-ups. Completion runs the same way in reverse on `n_done`. */
#include "core/threadpool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/cpu_features.h"

#define TP_DEFAULT_SPIN_US 1000

typedef struct tp_worker {
    tp_pool *pool;
    int tid;
    pthread_t thread;
} tp_worker;

struct tp_pool {
    int n_threads;
    int64_t spin_ns;
    tp_worker *workers; /* n_threads - 1 of them; tid 1.. */

    /* The current region, written by the dispatcher before gen is bumped. */
    tp_task_fn fn;
    void *ctx;
    tp_range_fn range_fn;
    int64_t range_n, range_grain;

    _Alignas(64) atomic_uint gen;     /* region counter; futex word of the workers */
    atomic_int n_sleeping;            /* workers in (or about to enter) futex wait */
    atomic_bool stop;
    _Alignas(64) atomic_uint n_done;  /* workers finished with this region */
    atomic_int caller_sleeping;
    _Alignas(64) atomic_llong next;   /* next chunk index of a range region */
};

static long futex(atomic_uint *addr, int op, unsigned val)
{
    return syscall(SYS_futex, (unsigned *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *word != seen or spin_ns passes; then sleeps on the futex, counting
 * itself in *sleeping meanwhile. Returns the new value. */
static unsigned wait_change(atomic_uint *word, unsigned seen, int64_t spin_ns, atomic_int *sleeping)
{
    unsigned v = atomic_load_explicit(word, memory_order_acquire);
    if (v != seen) return v;
    if (spin_ns > 0) {
        uint64_t t0 = inf_clock_ns();
        for (unsigned i = 1;; i++) {
            cpu_relax();
            v = atomic_load_explicit(word, memory_order_acquire);
            if (v != seen) return v;
            if ((i & 255) == 0) {
                if ((int64_t)(inf_clock_ns() - t0) > spin_ns) break;
                /* On an oversubscribed machine the thread we wait for may be
                 * queued behind us: give it the core now and then. */
                sched_yield();
            }
        }
    }
    for (;;) {
        atomic_fetch_add(sleeping, 1);
        v = atomic_load(word);
        if (v == seen) futex(word, FUTEX_WAIT, seen);
        atomic_fetch_sub(sleeping, 1);
        v = atomic_load_explicit(word, memory_order_acquire);
        if (v != seen) return v;
    }
}

static void run_range(tp_pool *p, int tid)
{
    int64_t n_chunks = (p->range_n + p->range_grain - 1) / p->range_grain;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (c >= n_chunks) break;
        int64_t b = c * p->range_grain;
        int64_t e = b + p->range_grain < p->range_n ? b + p->range_grain : p->range_n;
        p->range_fn(p->ctx, b, e, tid);
    }
}

static void run_region(tp_pool *p, int tid)
{
    if (p->range_fn)
        run_range(p, tid);
    else
        p->fn(p->ctx, tid, p->n_threads);
}

static void *worker_main(void *arg)
{
    tp_worker *w = arg;
    tp_pool *p = w->pool;
    unsigned seen = 0; /* gen at creation: a worker that starts late must not skip region 1 */
    for (;;) {
        seen = wait_change(&p->gen, seen, p->spin_ns, &p->n_sleeping);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        run_region(p, w->tid);
        unsigned done = atomic_fetch_add(&p->n_done, 1) + 1; /* seq_cst, see dispatch */
        if (done == (unsigned)(p->n_threads - 1) && atomic_load(&p->caller_sleeping))
            futex(&p->n_done, FUTEX_WAKE, 1);
    }
    return NULL;
}

/* Publishes the region already stored in p, runs thread 0's share, waits. */
static void dispatch(tp_pool *p)
{
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: pairs with the sleeper's increment */
    if (atomic_load(&p->n_sleeping) > 0) futex(&p->gen, FUTEX_WAKE, INT_MAX);
    run_region(p, 0);
    unsigned want = (unsigned)(p->n_threads - 1);
    unsigned v = atomic_load_explicit(&p->n_done, memory_order_acquire);
    while (v != want) {
        /* The caller's wait is usually short (load imbalance); it spins like a
         * worker, then sleeps on n_done. */
        v = wait_change(&p->n_done, v, p->spin_ns, &p->caller_sleeping);
    }
}

int tp_create(int n_threads, int spin_us, tp_pool **out, inf_error *err)
{
    *out = NULL;
    if (n_threads <= 0) n_threads = cpu_features_get()->n_cores;
    if (spin_us < 0) {
        const char *env = getenv("INFERD_TP_SPIN_US");
        spin_us = env && *env ? atoi(env) : TP_DEFAULT_SPIN_US;
        if (spin_us < 0) spin_us = 0;
    }
    tp_pool *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
    if (!p) return inf_errorf(err, INF_ERR_NOMEM, "thread pool: out of memory");
    memset(p, 0, sizeof *p);
    p->n_threads = n_threads;
    p->spin_ns = (int64_t)spin_us * 1000;
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->caller_sleeping, 0);
    atomic_init(&p->next, 0);
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return inf_errorf(err, INF_ERR_NOMEM, "thread pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        tp_worker *w = &p->workers[i - 1];
        w->pool = p;
        w->tid = i;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            p->n_threads = i; /* tp_destroy joins the ones that started */
            tp_destroy(p);
            return inf_errorf(err, INF_ERR_INTERNAL,
                              "thread pool: could not start worker %d of %d (error %d)", i,
                              n_threads, rc);
        }
    }
    *out = p;
    return INF_OK;
}

void tp_destroy(tp_pool *pool)
{
    if (!pool) return;
    atomic_store_explicit(&pool->stop, true, memory_order_release);
    atomic_fetch_add(&pool->gen, 1);
    futex(&pool->gen, FUTEX_WAKE, INT_MAX);
    for (int i = 1; i < pool->n_threads; i++) pthread_join(pool->workers[i - 1].thread, NULL);
    free(pool->workers);
    free(pool);
}

int tp_size(const tp_pool *pool)
{
    return pool ? pool->n_threads : 1;
}

void tp_run(tp_pool *pool, tp_task_fn fn, void *ctx)
{
    if (!pool || pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->range_fn = NULL;
    dispatch(pool);
}

void tp_parallel_for(tp_pool *pool, int64_t n, int64_t grain, tp_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (!pool || pool->n_threads == 1 || n <= grain) {
        fn(ctx, 0, n, 0);
        return;
    }
    pool->range_fn = fn;
    pool->ctx = ctx;
    pool->range_n = n;
    pool->range_grain = grain;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    dispatch(pool);
}
