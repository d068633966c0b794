/* kv_seq.c: see kv_seq.h. */
#include "kv/kv_seq.h"

void kv_seq_init(kv_seq *s, int32_t *storage, int32_t cap)
{
    s->blocks = storage;
    s->cap = cap;
    s->n_blocks = 0;
    s->n_tokens = 0;
    s->n_published = 0;
    s->last_hash = 0;
}

int32_t kv_seq_match_prefix(kv_pool *p, kv_seq *s, const int32_t *tokens, int32_t n)
{
    INF_ASSERT(s->n_blocks == 0 && s->n_tokens == 0);
    int32_t B = kv_pool_block_size(p);
    int32_t max_blocks = n > 0 ? (n - 1) / B : 0;
    if (max_blocks > s->cap) max_blocks = s->cap;
    uint64_t h = 0;
    int32_t hit = 0;
    while (hit < max_blocks) {
        uint64_t hb = kv_block_hash(p, h, tokens + (int64_t)hit * B);
        int32_t b = kv_block_lookup(p, hb, tokens + (int64_t)hit * B);
        if (b < 0) break;
        s->blocks[hit++] = b;
        h = hb;
    }
    kv_pool_count_lookup(p, hit);
    s->n_blocks = s->n_published = hit;
    s->n_tokens = hit * B;
    s->last_hash = h;
    return s->n_tokens;
}

int32_t kv_seq_blocks_needed(const kv_pool *p, const kv_seq *s, int32_t n_total)
{
    int32_t B = kv_pool_block_size(p);
    int32_t want = (n_total + B - 1) / B;
    return want > s->n_blocks ? want - s->n_blocks : 0;
}

int kv_seq_reserve(kv_pool *p, kv_seq *s, int32_t n_total)
{
    int32_t B = kv_pool_block_size(p);
    int32_t want = (n_total + B - 1) / B;
    if (want > s->cap) return INF_ERR_RANGE;
    if (want - s->n_blocks > kv_pool_available(p)) return INF_ERR_BUSY;
    while (s->n_blocks < want) {
        int32_t b = kv_block_alloc(p);
        INF_ASSERT(b >= 0); /* availability was checked above */
        s->blocks[s->n_blocks++] = b;
    }
    return INF_OK;
}

void kv_seq_commit(kv_pool *p, kv_seq *s, const int32_t *tokens, int32_t n_tokens)
{
    int32_t B = kv_pool_block_size(p);
    INF_ASSERT(n_tokens >= 0 && n_tokens <= s->n_blocks * B);
    s->n_tokens = n_tokens;
    while (s->n_published < n_tokens / B) {
        int32_t i = s->n_published;
        uint64_t h = kv_block_hash(p, s->last_hash, tokens + (int64_t)i * B);
        /* A block already canonical under h elsewhere stays private here: fine. */
        kv_block_publish(p, s->blocks[i], h, tokens + (int64_t)i * B);
        s->last_hash = h;
        s->n_published++;
    }
}

int32_t kv_seq_rollback(kv_pool *p, kv_seq *s, int32_t n)
{
    int32_t B = kv_pool_block_size(p);
    int32_t keep = s->n_tokens - n;
    if (keep < 0) keep = 0;
    /* The block holding position `keep` will be written again. If it is published
     * (possibly shared, or findable by others), it must not change: drop it and
     * everything after, keeping whole blocks before it only. */
    int32_t first_written = keep / B;
    if (keep % B != 0 && first_written < s->n_published) keep = first_written * B;
    int32_t need = (keep + B - 1) / B;
    while (s->n_blocks > need) kv_block_release(p, s->blocks[--s->n_blocks]);
    if (s->n_published > keep / B) {
        /* The hash chain is only known up to the kept blocks through their tokens;
         * restart it: the next commit re-walks blocks from 0 (already hashed blocks
         * are skipped by kv_block_publish), which rebuilds last_hash exactly. */
        s->n_published = 0;
        s->last_hash = 0;
    }
    s->n_tokens = keep;
    return keep;
}

void kv_seq_release(kv_pool *p, kv_seq *s)
{
    while (s->n_blocks > 0) kv_block_release(p, s->blocks[--s->n_blocks]);
    s->n_tokens = 0;
    s->n_published = 0;
    s->last_hash = 0;
}
