/* test_kv_seq.c: block tables, prefix matching across sequences, hash chains across
 * partial blocks, reservation failure, rollback and release. */
#include "check.h"
#include "kv/kv_seq.h"

enum { B = 4, CAP = 16 };

static kv_pool *make_pool(int32_t n)
{
    kv_config cfg = {.n_blocks = n, .block_size = B, .bytes_per_block = 64,
                     .prefix_cache = true, .model_id = 7};
    kv_pool *p = NULL;
    CHECK_EQ_INT(kv_pool_create(&cfg, &p, NULL), INF_OK);
    return p;
}

static void check_ok(const kv_pool *p)
{
    inf_error err;
    int rc = kv_pool_check(p, &err);
    CHECK_MSG(rc == INF_OK, "invariant: %s", err.msg);
}

/* Runs a "prompt" through a sequence the way the engine will: match, reserve, commit. */
static int32_t admit(kv_pool *p, kv_seq *s, const int32_t *toks, int32_t n)
{
    int32_t hit = kv_seq_match_prefix(p, s, toks, n);
    CHECK_EQ_INT(kv_seq_reserve(p, s, n), INF_OK);
    kv_seq_commit(p, s, toks, n);
    return hit;
}

static void test_prefix_sharing(void)
{
    kv_pool *p = make_pool(32);
    int32_t st1[CAP], st2[CAP], st3[CAP];
    kv_seq a, b, c;
    kv_seq_init(&a, st1, CAP);
    kv_seq_init(&b, st2, CAP);
    kv_seq_init(&c, st3, CAP);
    int32_t t1[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    int32_t t2[11] = {1, 2, 3, 4, 5, 6, 7, 8, 99, 98, 97};
    CHECK_EQ_INT(admit(p, &a, t1, 10), 0);
    CHECK_EQ_INT(a.n_blocks, 3);
    CHECK_EQ_INT(a.n_published, 2); /* the partial third block is not published */
    /* b shares the two full blocks with a (still running): same physical blocks. */
    CHECK_EQ_INT(admit(p, &b, t2, 11), 8);
    CHECK_EQ_INT(b.blocks[0], a.blocks[0]);
    CHECK_EQ_INT(b.blocks[1], a.blocks[1]);
    CHECK(b.blocks[2] != a.blocks[2]);
    CHECK_EQ_INT(kv_block_refcount(p, a.blocks[0]), 2);
    check_ok(p);
    /* A prompt equal to exactly two blocks matches only one: its last token must be
     * computed. */
    CHECK_EQ_INT(admit(p, &c, t1, 8), 4);
    kv_seq_release(p, &c);
    /* Released full blocks stay cached; a later identical prompt hits them. */
    kv_seq_release(p, &a);
    kv_seq_release(p, &b);
    check_ok(p);
    kv_stats st;
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.owned_blocks, 0);
    CHECK(st.cached_blocks >= 2);
    CHECK_EQ_INT(admit(p, &a, t1, 10), 8);
    kv_pool_stats(p, &st);
    CHECK_EQ_INT(st.lookups, 4);
    CHECK_EQ_INT(st.misses, 1);
    CHECK_EQ_INT(st.hit_blocks, 2 + 1 + 2);
    CHECK_EQ_INT(st.hit_tokens, (2 + 1 + 2) * B);
    kv_seq_release(p, &a);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_chain_across_partial_blocks(void)
{
    /* The same second block after a different first block must not hit. */
    kv_pool *p = make_pool(16);
    int32_t s1[CAP], s2[CAP];
    kv_seq a, b;
    kv_seq_init(&a, s1, CAP);
    kv_seq_init(&b, s2, CAP);
    int32_t t1[9] = {1, 1, 1, 1, 5, 6, 7, 8, 0};
    int32_t t2[9] = {2, 2, 2, 2, 5, 6, 7, 8, 0};
    admit(p, &a, t1, 9);
    CHECK_EQ_INT(admit(p, &b, t2, 9), 0);
    /* Decode appends one token at a time: blocks are published as they fill. */
    int32_t grow[20];
    memcpy(grow, t1, sizeof t1);
    for (int32_t n = 10; n <= 12; n++) {
        grow[n - 1] = 100 + n;
        CHECK_EQ_INT(kv_seq_reserve(p, &a, n), INF_OK);
        kv_seq_commit(p, &a, grow, n);
    }
    CHECK_EQ_INT(a.n_published, 3);
    kv_seq_release(p, &a);
    kv_seq_release(p, &b);
    int32_t s3[CAP];
    kv_seq c;
    kv_seq_init(&c, s3, CAP);
    CHECK_EQ_INT(admit(p, &c, grow, 13), 12); /* the decoded block is reusable too */
    kv_seq_release(p, &c);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_reserve_failure_and_capacity(void)
{
    kv_pool *p = make_pool(3);
    int32_t s1[CAP], s2[2];
    kv_seq a, b;
    kv_seq_init(&a, s1, CAP);
    kv_seq_init(&b, s2, 2);
    CHECK_EQ_INT(kv_seq_reserve(p, &a, 12), INF_OK);   /* 3 blocks: the whole pool */
    CHECK_EQ_INT(kv_seq_blocks_needed(p, &b, 5), 2);
    CHECK_EQ_INT(kv_seq_reserve(p, &b, 5), INF_ERR_BUSY);
    CHECK_EQ_INT(b.n_blocks, 0);                         /* nothing taken on failure */
    CHECK_EQ_INT(kv_seq_reserve(p, &b, 9), INF_ERR_RANGE); /* 3 blocks > capacity 2 */
    kv_seq_release(p, &a);
    CHECK_EQ_INT(kv_seq_reserve(p, &b, 8), INF_OK);
    kv_seq_release(p, &b);
    check_ok(p);
    kv_pool_destroy(p);
}

static void test_rollback(void)
{
    kv_pool *p = make_pool(16);
    int32_t s1[CAP], s2[CAP];
    kv_seq a, b;
    kv_seq_init(&a, s1, CAP);
    kv_seq_init(&b, s2, CAP);
    int32_t t[16];
    for (int i = 0; i < 16; i++) t[i] = i + 1;
    /* Speculative step: reserve for 4 extra rows, keep only 1 of them. */
    admit(p, &a, t, 6);
    CHECK_EQ_INT(kv_seq_reserve(p, &a, 10), INF_OK);
    CHECK_EQ_INT(a.n_blocks, 3);
    kv_seq_commit(p, &a, t, 7);
    CHECK_EQ_INT(kv_seq_rollback(p, &a, 0), 7); /* releases the surplus block */
    CHECK_EQ_INT(a.n_blocks, 2);
    /* Roll back 2 tokens within the private partial block: exact. */
    CHECK_EQ_INT(kv_seq_rollback(p, &a, 2), 5);
    CHECK_EQ_INT(a.n_blocks, 2);
    /* Roll back into a published block: only whole blocks before it survive. */
    kv_seq_commit(p, &a, t, 5);
    CHECK_EQ_INT(kv_seq_rollback(p, &a, 2), 0);
    CHECK_EQ_INT(a.n_blocks, 0);
    check_ok(p);
    /* Re-commit after rollback rebuilds the hash chain: b still hits a's blocks. */
    admit(p, &a, t, 12);
    CHECK_EQ_INT(admit(p, &b, t, 12), 8);
    kv_seq_release(p, &a);
    kv_seq_release(p, &b);
    check_ok(p);
    kv_pool_destroy(p);
}

int main(void)
{
    test_prefix_sharing();
    test_chain_across_partial_blocks();
    test_reserve_failure_and_capacity();
    test_rollback();
    return check_done();
}
