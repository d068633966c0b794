/* kv_pool.c: block states, free list, LRU of cached blocks, hash table.
 *
 * Layout: parallel arrays indexed by block id. The free list is a stack; the LRU is
 * an intrusive doubly linked list through lru_prev/lru_next (head = oldest). The
 * hash table is open addressing with linear probing over block ids (-1 = empty),
 * keyed by hash[b], with backward-shift deletion so no tombstones accumulate.
 * Everything is allocated once in kv_pool_create: no call here allocates. */
#include "kv/kv_pool.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

enum { ST_FREE = 0, ST_OWNED = 1, ST_CACHED = 2 };

struct kv_pool {
    kv_config cfg;
    int32_t max_cached;   /* byte budget expressed in blocks */

    int32_t *ref;         /* (n_blocks) */
    uint8_t *state;       /* (n_blocks) ST_* */
    uint8_t *hashed;      /* (n_blocks) 1 when in the hash table */
    uint64_t *hash;       /* (n_blocks) valid when hashed */
    int32_t *tokens;      /* (n_blocks, B) token ids of hashed blocks */

    int32_t *free_stack;  /* (n_blocks) */
    int32_t n_free;

    int32_t *lru_prev;    /* (n_blocks) */
    int32_t *lru_next;    /* (n_blocks) */
    int32_t lru_head;     /* oldest CACHED block, -1 if none */
    int32_t lru_tail;     /* newest */
    int32_t n_cached;
    int32_t n_owned;

    int32_t *slots;       /* (slot_mask + 1) block ids, -1 empty */
    uint32_t slot_mask;

    uint64_t lookups, hit_blocks, misses, evictions;
};

int kv_pool_create(const kv_config *cfg, kv_pool **out, inf_error *err)
{
    *out = NULL;
    if (cfg->n_blocks <= 0 || cfg->block_size <= 0)
        return inf_errorf(err, INF_ERR_INVALID, "KV pool needs n_blocks > 0 and block_size > 0 "
                          "(got %d and %d)", cfg->n_blocks, cfg->block_size);
    if ((int64_t)cfg->n_blocks * cfg->block_size > INT32_MAX)
        return inf_errorf(err, INF_ERR_RANGE, "KV pool of %d blocks of %d tokens is too large",
                          cfg->n_blocks, cfg->block_size);
    kv_pool *p = calloc(1, sizeof *p);
    if (!p) return inf_errorf(err, INF_ERR_NOMEM, "out of memory for the KV pool");
    p->cfg = *cfg;
    int32_t n = cfg->n_blocks;
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)n) slots <<= 1;
    p->slot_mask = slots - 1;
    p->ref = calloc((size_t)n, sizeof *p->ref);
    p->state = calloc((size_t)n, 1);
    p->hashed = calloc((size_t)n, 1);
    p->hash = calloc((size_t)n, sizeof *p->hash);
    p->tokens = calloc((size_t)n * (size_t)cfg->block_size, sizeof *p->tokens);
    p->free_stack = malloc((size_t)n * sizeof *p->free_stack);
    p->lru_prev = malloc((size_t)n * sizeof *p->lru_prev);
    p->lru_next = malloc((size_t)n * sizeof *p->lru_next);
    p->slots = malloc((size_t)slots * sizeof *p->slots);
    if (!p->ref || !p->state || !p->hashed || !p->hash || !p->tokens || !p->free_stack ||
        !p->lru_prev || !p->lru_next || !p->slots) {
        kv_pool_destroy(p);
        return inf_errorf(err, INF_ERR_NOMEM, "out of memory for a KV pool of %d blocks", n);
    }
    /* Pop order 0, 1, 2, ...: block ids are handed out low first. */
    for (int32_t i = 0; i < n; i++) p->free_stack[i] = n - 1 - i;
    p->n_free = n;
    for (int32_t i = 0; i < n; i++) p->lru_prev[i] = p->lru_next[i] = -1;
    p->lru_head = p->lru_tail = -1;
    memset(p->slots, 0xff, (size_t)slots * sizeof *p->slots);
    p->max_cached = n;
    if (cfg->prefix_cache_bytes && cfg->bytes_per_block) {
        uint64_t m = cfg->prefix_cache_bytes / cfg->bytes_per_block;
        p->max_cached = m < (uint64_t)n ? (int32_t)m : n;
    }
    *out = p;
    return INF_OK;
}

void kv_pool_destroy(kv_pool *p)
{
    if (!p) return;
    free(p->ref);
    free(p->state);
    free(p->hashed);
    free(p->hash);
    free(p->tokens);
    free(p->free_stack);
    free(p->lru_prev);
    free(p->lru_next);
    free(p->slots);
    free(p);
}

int32_t kv_pool_block_size(const kv_pool *p) { return p->cfg.block_size; }
int32_t kv_pool_n_blocks(const kv_pool *p) { return p->cfg.n_blocks; }
int32_t kv_pool_available(const kv_pool *p) { return p->n_free + p->n_cached; }

/* ---- hash table ------------------------------------------------------------ */

static uint32_t slot_of(const kv_pool *p, uint64_t h) { return (uint32_t)inf_hash_mix64(h) & p->slot_mask; }

static void table_insert(kv_pool *p, int32_t b)
{
    uint32_t i = slot_of(p, p->hash[b]);
    while (p->slots[i] >= 0) i = (i + 1) & p->slot_mask;
    p->slots[i] = b;
    p->hashed[b] = 1;
}

static int32_t table_find(const kv_pool *p, uint64_t h)
{
    for (uint32_t i = slot_of(p, h);; i = (i + 1) & p->slot_mask) {
        int32_t b = p->slots[i];
        if (b < 0) return -1;
        if (p->hash[b] == h) return b;
    }
}

/* Removes b and shifts later members of its probe run back (no tombstones). */
static void table_remove(kv_pool *p, int32_t b)
{
    uint32_t i = slot_of(p, p->hash[b]);
    while (p->slots[i] != b) i = (i + 1) & p->slot_mask;
    p->slots[i] = -1;
    p->hashed[b] = 0;
    for (uint32_t j = (i + 1) & p->slot_mask; p->slots[j] >= 0; j = (j + 1) & p->slot_mask) {
        int32_t m = p->slots[j];
        uint32_t home = slot_of(p, p->hash[m]);
        /* m may move to the hole at i when its home is not in (i, j] cyclically. */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            p->slots[i] = m;
            p->slots[j] = -1;
            i = j;
        }
    }
}

/* ---- LRU ------------------------------------------------------------------- */

static void lru_push_tail(kv_pool *p, int32_t b)
{
    p->lru_prev[b] = p->lru_tail;
    p->lru_next[b] = -1;
    if (p->lru_tail >= 0) p->lru_next[p->lru_tail] = b;
    else p->lru_head = b;
    p->lru_tail = b;
}

static void lru_unlink(kv_pool *p, int32_t b)
{
    int32_t pr = p->lru_prev[b], nx = p->lru_next[b];
    if (pr >= 0) p->lru_next[pr] = nx;
    else p->lru_head = nx;
    if (nx >= 0) p->lru_prev[nx] = pr;
    else p->lru_tail = pr;
    p->lru_prev[b] = p->lru_next[b] = -1;
}

/* ---- states ---------------------------------------------------------------- */

static void make_free(kv_pool *p, int32_t b)
{
    if (p->hashed[b]) table_remove(p, b);
    p->state[b] = ST_FREE;
    p->ref[b] = 0;
    p->free_stack[p->n_free++] = b;
}

/* CACHED -> FREE for the oldest cached block. */
static void evict_oldest(kv_pool *p)
{
    int32_t b = p->lru_head;
    INF_ASSERT(b >= 0);
    lru_unlink(p, b);
    p->n_cached--;
    p->evictions++;
    make_free(p, b);
}

int32_t kv_block_alloc(kv_pool *p)
{
    if (p->n_free == 0) {
        if (p->lru_head < 0) return -1;
        evict_oldest(p);
    }
    int32_t b = p->free_stack[--p->n_free];
    p->state[b] = ST_OWNED;
    p->ref[b] = 1;
    p->n_owned++;
    return b;
}

void kv_block_ref(kv_pool *p, int32_t b)
{
    INF_ASSERT(b >= 0 && b < p->cfg.n_blocks && p->state[b] != ST_FREE);
    if (p->state[b] == ST_CACHED) {
        lru_unlink(p, b);
        p->n_cached--;
        p->state[b] = ST_OWNED;
        p->n_owned++;
    }
    p->ref[b]++;
}

void kv_block_release(kv_pool *p, int32_t b)
{
    INF_ASSERT(b >= 0 && b < p->cfg.n_blocks && p->state[b] == ST_OWNED && p->ref[b] > 0);
    if (--p->ref[b] > 0) return;
    p->n_owned--;
    if (p->hashed[b] && p->cfg.prefix_cache && p->max_cached > 0) {
        p->state[b] = ST_CACHED;
        lru_push_tail(p, b);
        p->n_cached++;
        while (p->n_cached > p->max_cached) evict_oldest(p);
    } else {
        make_free(p, b);
    }
}

int32_t kv_block_refcount(const kv_pool *p, int32_t b) { return p->ref[b]; }

uint64_t kv_block_hash(const kv_pool *p, uint64_t prev, const int32_t *tokens)
{
    return inf_hash_i32(tokens, (size_t)p->cfg.block_size, inf_hash_mix64(prev ^ p->cfg.model_id));
}

bool kv_block_publish(kv_pool *p, int32_t b, uint64_t hash, const int32_t *tokens)
{
    INF_ASSERT(b >= 0 && b < p->cfg.n_blocks && p->state[b] == ST_OWNED);
    if (!p->cfg.prefix_cache || p->hashed[b] || table_find(p, hash) >= 0) return false;
    p->hash[b] = hash;
    memcpy(p->tokens + (size_t)b * (size_t)p->cfg.block_size, tokens,
           (size_t)p->cfg.block_size * sizeof *tokens);
    table_insert(p, b);
    return true;
}

int32_t kv_block_lookup(kv_pool *p, uint64_t hash, const int32_t *tokens)
{
    if (!p->cfg.prefix_cache) return -1;
    int32_t b = table_find(p, hash);
    if (b < 0) return -1;
    /* Verify: a colliding hash must never hand out another prompt's KV. */
    if (memcmp(p->tokens + (size_t)b * (size_t)p->cfg.block_size, tokens,
               (size_t)p->cfg.block_size * sizeof *tokens) != 0)
        return -1;
    kv_block_ref(p, b);
    return b;
}

void kv_pool_clear_cache(kv_pool *p)
{
    while (p->lru_head >= 0) {
        int32_t b = p->lru_head;
        lru_unlink(p, b);
        p->n_cached--;
        make_free(p, b);
    }
}

void kv_pool_count_lookup(kv_pool *p, int32_t hit_blocks)
{
    p->lookups++;
    p->hit_blocks += (uint64_t)hit_blocks;
    if (hit_blocks == 0) p->misses++;
}

void kv_pool_stats(const kv_pool *p, kv_stats *out)
{
    out->lookups = p->lookups;
    out->hit_blocks = p->hit_blocks;
    out->hit_tokens = p->hit_blocks * (uint64_t)p->cfg.block_size;
    out->misses = p->misses;
    out->evictions = p->evictions;
    out->free_blocks = p->n_free;
    out->owned_blocks = p->n_owned;
    out->cached_blocks = p->n_cached;
    out->cached_bytes = (uint64_t)p->n_cached * p->cfg.bytes_per_block;
}

int kv_pool_check(const kv_pool *p, inf_error *err)
{
    int32_t n = p->cfg.n_blocks, n_free = 0, n_owned = 0, n_cached = 0, n_hashed = 0;
    for (int32_t b = 0; b < n; b++) {
        switch (p->state[b]) {
        case ST_FREE:
            n_free++;
            if (p->ref[b] != 0 || p->hashed[b])
                return inf_errorf(err, INF_ERR_INTERNAL, "free block %d has ref %d, hashed %d",
                                  b, p->ref[b], p->hashed[b]);
            break;
        case ST_OWNED:
            n_owned++;
            if (p->ref[b] <= 0)
                return inf_errorf(err, INF_ERR_INTERNAL, "owned block %d has ref %d", b, p->ref[b]);
            break;
        case ST_CACHED:
            n_cached++;
            if (p->ref[b] != 0 || !p->hashed[b])
                return inf_errorf(err, INF_ERR_INTERNAL, "cached block %d has ref %d, hashed %d",
                                  b, p->ref[b], p->hashed[b]);
            break;
        default:
            return inf_errorf(err, INF_ERR_INTERNAL, "block %d in unknown state %d", b, p->state[b]);
        }
        if (p->hashed[b]) {
            n_hashed++;
            if (table_find(p, p->hash[b]) != b)
                return inf_errorf(err, INF_ERR_INTERNAL, "hashed block %d not found in the table", b);
        }
    }
    if (n_free != p->n_free || n_owned != p->n_owned || n_cached != p->n_cached)
        return inf_errorf(err, INF_ERR_INTERNAL, "gauges free/owned/cached %d/%d/%d but states "
                          "count %d/%d/%d", p->n_free, p->n_owned, p->n_cached, n_free, n_owned,
                          n_cached);
    if (n_cached > p->max_cached)
        return inf_errorf(err, INF_ERR_INTERNAL, "%d cached blocks exceed the budget of %d",
                          n_cached, p->max_cached);
    /* The free stack holds exactly the FREE blocks, once each. */
    for (int32_t i = 0; i < p->n_free; i++) {
        int32_t b = p->free_stack[i];
        if (b < 0 || b >= n || p->state[b] != ST_FREE)
            return inf_errorf(err, INF_ERR_INTERNAL, "free list entry %d is block %d, not free", i, b);
    }
    /* The LRU holds exactly the CACHED blocks, linked both ways. */
    int32_t walked = 0;
    for (int32_t b = p->lru_head, prev = -1; b >= 0; prev = b, b = p->lru_next[b]) {
        if (p->state[b] != ST_CACHED || p->lru_prev[b] != prev)
            return inf_errorf(err, INF_ERR_INTERNAL, "LRU list broken at block %d", b);
        if (++walked > n) return inf_errorf(err, INF_ERR_INTERNAL, "LRU list has a cycle");
    }
    if (walked != n_cached)
        return inf_errorf(err, INF_ERR_INTERNAL, "LRU holds %d blocks, %d are cached", walked, n_cached);
    int32_t in_table = 0;
    for (uint32_t i = 0; i <= p->slot_mask; i++) in_table += p->slots[i] >= 0;
    if (in_table != n_hashed)
        return inf_errorf(err, INF_ERR_INTERNAL, "hash table holds %d blocks, %d are hashed",
                          in_table, n_hashed);
    return INF_OK;
}
