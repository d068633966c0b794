/* test_kv_pool.c: block states, reference counts, the prefix-cache table, LRU
 * eviction and the byte budget, checked against the invariant walker after every
 * operation of a long random run. */
#include "check.h"
#include "kv/kv_pool.h"

static kv_pool *make_pool(int32_t n, int32_t B, bool cache, uint64_t budget_blocks)
{
    kv_config cfg = {.n_blocks = n, .block_size = B, .bytes_per_block = 1000,
                     .prefix_cache = cache, .prefix_cache_bytes = budget_blocks * 1000,
                     .model_id = 42};
    kv_pool *p = NULL;
    inf_error err;
    CHECK_EQ_INT(kv_pool_create(&cfg, &p, &err), INF_OK);
    return p;
}

static void check_ok(const kv_pool *p)
{
    inf_error err;
    int rc = kv_pool_check(p, &err);
    CHECK_MSG(rc == INF_OK, "invariant: %s", err.msg);
}

static void test_alloc_release(void)
{
    kv_pool *p = make_pool(4, 16, true, 0);
    int32_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = kv_block_alloc(p);
        CHECK(b[i] >= 0);
        check_ok(p);
    }
    CHECK_EQ_INT(kv_block_alloc(p), -1); /* all owned: nothing to hand out */
    CHECK_EQ_INT(kv_pool_available(p), 0);
    kv_block_ref(p, b[0]);
    CHECK_EQ_INT(kv_block_refcount(p, b[0]), 2);
    kv_block_release(p, b[0]);
    CHECK_EQ_INT(kv_pool_available(p), 0);
    kv_block_release(p, b[0]);
    CHECK_EQ_INT(kv_pool_available(p), 1);
    CHECK_EQ_INT(kv_block_alloc(p), b[0]);
    for (int i = 0; i < 4; i++) kv_block_release(p, b[i]);
    kv_stats st;
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.free_blocks, 4);
    CHECK_EQ_INT(st.owned_blocks, 0);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_publish_lookup_verify(void)
{
    kv_pool *p = make_pool(8, 4, true, 0);
    int32_t toks[4] = {1, 2, 3, 4}, other[4] = {1, 2, 3, 5};
    int32_t b = kv_block_alloc(p);
    uint64_t h = kv_block_hash(p, 0, toks);
    CHECK(kv_block_hash(p, 0, other) != h);
    CHECK(kv_block_hash(p, 7, toks) != h); /* chained: the previous hash matters */
    CHECK(kv_block_publish(p, b, h, toks));
    CHECK(!kv_block_publish(p, b, h, toks)); /* already hashed */
    kv_block_release(p, b);
    kv_stats st;
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.cached_blocks, 1);
    CHECK_EQ_INT(st.cached_bytes, 1000);
    /* A lookup under the right hash but other tokens (a forced collision) misses. */
    CHECK_EQ_INT(kv_block_lookup(p, h, other), -1);
    CHECK_EQ_INT(kv_block_lookup(p, h + 1, toks), -1);
    CHECK_EQ_INT(kv_block_lookup(p, h, toks), b);
    CHECK_EQ_INT(kv_block_refcount(p, b), 1);
    check_ok(p);
    /* A second block under the same hash is not published: the first stays canonical. */
    int32_t b2 = kv_block_alloc(p);
    CHECK(!kv_block_publish(p, b2, h, toks));
    kv_block_release(p, b2);
    kv_block_release(p, b);
    kv_pool_clear_cache(p);
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.free_blocks, 8);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_lru_and_budget(void)
{
    /* 4 blocks, budget of 2 cached blocks. */
    kv_pool *p = make_pool(4, 2, true, 2);
    int32_t t[4][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}};
    int32_t b[4];
    uint64_t h[4];
    for (int i = 0; i < 4; i++) {
        b[i] = kv_block_alloc(p);
        h[i] = kv_block_hash(p, 0, t[i]);
        kv_block_publish(p, b[i], h[i], t[i]);
    }
    for (int i = 0; i < 4; i++) {
        kv_block_release(p, b[i]);
        check_ok(p);
    }
    kv_stats st;
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.cached_blocks, 2);  /* the budget held */
    CHECK_EQ_INT(st.evictions, 2);
    CHECK_EQ_INT(kv_block_lookup(p, h[0], t[0]), -1); /* oldest went first */
    CHECK_EQ_INT(kv_block_lookup(p, h[1], t[1]), -1);
    /* Touch block 2 (hit then release): it becomes the newest. */
    CHECK_EQ_INT(kv_block_lookup(p, h[2], t[2]), b[2]);
    kv_block_release(p, b[2]);
    /* Exhaust the free blocks; the next allocation evicts the LRU block (3). */
    int32_t x = kv_block_alloc(p), y = kv_block_alloc(p), z = kv_block_alloc(p);
    CHECK(x >= 0 && y >= 0 && z >= 0);
    CHECK_EQ_INT(kv_block_lookup(p, h[3], t[3]), -1);
    CHECK_EQ_INT(kv_block_lookup(p, h[2], t[2]), b[2]);
    check_ok(p);
    kv_block_release(p, b[2]);
    kv_block_release(p, x);
    kv_block_release(p, y);
    kv_block_release(p, z);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_cache_off(void)
{
    kv_pool *p = make_pool(2, 2, false, 0);
    int32_t t[2] = {9, 9};
    int32_t b = kv_block_alloc(p);
    CHECK(!kv_block_publish(p, b, kv_block_hash(p, 0, t), t));
    kv_block_release(p, b);
    kv_stats st;
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.cached_blocks, 0);
    CHECK_EQ_INT(kv_block_lookup(p, kv_block_hash(p, 0, t), t), -1);
    kv_pool_destroy(p);
}

/* xorshift for a reproducible random run */
static uint64_t rng = 0x1234567;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void test_random_walk(void)
{
    enum { N = 64, B = 2, HELD = 256 };
    kv_pool *p = make_pool(N, B, true, 24);
    int32_t held[HELD];
    int n_held = 0;
    int violations = 0;
    for (int step = 0; step < 20000; step++) {
        uint32_t op = rnd(10);
        int32_t t[B] = {(int32_t)rnd(8), (int32_t)rnd(8)};
        uint64_t h = kv_block_hash(p, 0, t);
        if (op < 4 && n_held < HELD) {
            int32_t b = kv_block_alloc(p);
            if (b >= 0) {
                held[n_held++] = b;
                if (rnd(2)) kv_block_publish(p, b, h, t);
            }
        } else if (op < 6 && n_held < HELD) {
            int32_t b = kv_block_lookup(p, h, t);
            if (b >= 0) held[n_held++] = b;
        } else if (op < 7 && n_held > 0 && n_held < HELD) {
            int32_t b = held[rnd((uint32_t)n_held)];
            kv_block_ref(p, b);
            held[n_held++] = b;
        } else if (n_held > 0) {
            int i = (int)rnd((uint32_t)n_held);
            kv_block_release(p, held[i]);
            held[i] = held[--n_held];
        }
        inf_error err;
        if (kv_pool_check(p, &err) != INF_OK && violations++ == 0)
            fprintf(stderr, "step %d: %s\n", step, err.msg);
        /* Reference counts add up: sum of holds per block equals its refcount. */
        if (step % 500 == 0) {
            for (int32_t b = 0; b < N; b++) {
                int32_t c = 0;
                for (int i = 0; i < n_held; i++) c += held[i] == b;
                if (c != kv_block_refcount(p, b) && violations++ == 0)
                    fprintf(stderr, "step %d: block %d held %d times, refcount %d\n", step, b, c,
                            kv_block_refcount(p, b));
            }
        }
    }
    CHECK_EQ_INT(violations, 0);
    while (n_held > 0) kv_block_release(p, held[--n_held]);
    kv_stats st;
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.owned_blocks, 0);
    CHECK_EQ_INT(st.free_blocks + st.cached_blocks, N);
    CHECK(st.cached_blocks <= 24);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_bad_config(void)
{
    kv_config cfg = {.n_blocks = 0, .block_size = 16};
    kv_pool *p = (kv_pool *)1;
    inf_error err;
    CHECK_EQ_INT(kv_pool_create(&cfg, &p, &err), INF_ERR_INVALID);
    CHECK(p == NULL);
    CHECK(strstr(err.msg, "n_blocks") != NULL);
    kv_pool_destroy(NULL);
}

int main(void)
{
    test_alloc_release();
    test_publish_lookup_verify();
    test_lru_and_budget();
    test_cache_off();
    test_random_walk();
    test_bad_config();
    return check_done();
}
