/* test_threadpool.c: every index of a parallel-for runs exactly once, every
 * thread of tp_run runs once, across pool sizes (more threads than cores too),
 * grains, and the sleep path (spin 0) as well as the spin path; many back-to-back
 * regions do not lose a wake-up. Prints the mean dispatch latency (information,
 * not a test). */
#include <stdatomic.h>

#include "check.h"
#include "core/clock.h"
#include "core/threadpool.h"

typedef struct cover_ctx {
    atomic_int *hits;
    atomic_int bad_tid;
    int n_threads;
} cover_ctx;

static void cover_range(void *ctx, int64_t b, int64_t e, int tid)
{
    cover_ctx *c = ctx;
    if (tid < 0 || tid >= c->n_threads) atomic_fetch_add(&c->bad_tid, 1);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void cover_task(void *ctx, int tid, int n)
{
    cover_ctx *c = ctx;
    if (n != c->n_threads) atomic_fetch_add(&c->bad_tid, 1);
    atomic_fetch_add(&c->hits[tid], 1);
}

static void count_task(void *ctx, int tid, int n)
{
    (void)tid;
    (void)n;
    atomic_fetch_add((atomic_long *)ctx, 1);
}

static void check_pool(int n_threads, int spin_us)
{
    tp_pool *pool = NULL;
    inf_error err;
    CHECK_EQ_INT(tp_create(n_threads, spin_us, &pool, &err), INF_OK);
    if (!pool) return;
    CHECK_EQ_INT(tp_size(pool), n_threads);

    enum { N_MAX = 10007 };
    static atomic_int hits[N_MAX];
    cover_ctx c = {.hits = hits, .n_threads = n_threads};
    atomic_init(&c.bad_tid, 0);
    const int64_t sizes[] = {1, 2, 3, 17, 64, 1000, N_MAX};
    const int64_t grains[] = {1, 3, 16, 1 << 20};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (size_t gi = 0; gi < sizeof grains / sizeof *grains; gi++) {
            for (int64_t i = 0; i < sizes[si]; i++) atomic_store(&hits[i], 0);
            tp_parallel_for(pool, sizes[si], grains[gi], cover_range, &c);
            int bad = 0;
            for (int64_t i = 0; i < sizes[si]; i++) bad += atomic_load(&hits[i]) != 1;
            CHECK_MSG(bad == 0, "threads %d spin %d n %lld grain %lld: %d indices not run once",
                      n_threads, spin_us, (long long)sizes[si], (long long)grains[gi], bad);
        }
    }
    CHECK_EQ_INT(atomic_load(&c.bad_tid), 0);

    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < n_threads; i++) atomic_store(&hits[i], 0);
        tp_run(pool, cover_task, &c);
        int bad = 0;
        for (int i = 0; i < n_threads; i++) bad += atomic_load(&hits[i]) != 1;
        CHECK_MSG(bad == 0, "tp_run with %d threads: %d tids not run once", n_threads, bad);
    }
    CHECK_EQ_INT(atomic_load(&c.bad_tid), 0);

    /* Back-to-back regions: a lost wake-up would hang here (ctest's timeout). */
    atomic_long count;
    atomic_init(&count, 0);
    const int n_regions = spin_us == 0 ? 2000 : 20000;
    uint64_t t0 = inf_clock_ns();
    for (int r = 0; r < n_regions; r++) tp_run(pool, count_task, &count);
    double us = (double)(inf_clock_ns() - t0) / 1e3 / n_regions;
    CHECK_EQ_INT(atomic_load(&count), (long)n_regions * n_threads);
    printf("threads %d spin %4d us: %.2f us per region\n", n_threads, spin_us, us);
    tp_destroy(pool);
}

int main(void)
{
    tp_destroy(NULL);
    CHECK_EQ_INT(tp_size(NULL), 1);
    atomic_int h[4];
    for (int i = 0; i < 4; i++) atomic_init(&h[i], 0);
    cover_ctx c = {.hits = h, .n_threads = 1};
    atomic_init(&c.bad_tid, 0);
    tp_parallel_for(NULL, 4, 1, cover_range, &c);
    CHECK(atomic_load(&h[0]) == 1 && atomic_load(&h[3]) == 1);

    check_pool(1, 100);
    check_pool(2, 1000);
    check_pool(2, 0);
    check_pool(5, 50);
    check_pool(3, 0);
    return check_done();
}
