/* kv_pool.h: the paged KV block allocator and the automatic prefix cache.
 *
 * The pool manages ids of n_blocks fixed blocks of B tokens; the K/V bytes live in
 * the backend (CPU memory or GPU memory), indexed by the same ids. kv/ never
 * touches those bytes and never runs attention math.
 *
 * Every block is in exactly one state:
 *   FREE    on the free list, no owner, no hash;
 *   OWNED   reference count > 0 (held by one or more sequences' block tables);
 *           it may also carry a hash (a full block published to the prefix cache);
 *   CACHED  reference count 0 but still hashed: its KV is valid for its tokens, it
 *           sits on an LRU list and is reused only when the pool needs room or the
 *           cache's byte budget is exceeded.
 *
 * Prefix cache. A full block's hash is H(previous block's hash, its B token ids,
 * model identity) (kv_block_hash). The table maps hash -> block; the pool keeps each
 * hashed block's token ids, and a lookup verifies them, so a hash collision costs a
 * recomputation and can never return wrong KV.
 *
 * Threads: a pool belongs to the engine thread; no function here locks. Counters may
 * be read by other threads through a snapshot the engine publishes. */
#ifndef INFERD_KV_POOL_H
#define INFERD_KV_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef struct kv_config {
    int32_t n_blocks;            /* blocks in the pool (> 0) */
    int32_t block_size;          /* B: tokens per block (> 0) */
    uint64_t bytes_per_block;    /* backend bytes of one block, all layers, K and V */
    bool prefix_cache;           /* false: blocks never stay cached after release */
    uint64_t prefix_cache_bytes; /* budget of CACHED blocks (0 = no limit but the pool) */
    uint64_t model_id;           /* identity of the model and KV layout, seeds the hashes */
} kv_config;

/* Counters of the prefix cache since creation (monotonic except the gauges). */
typedef struct kv_stats {
    uint64_t lookups;       /* kv_seq_match_prefix calls */
    uint64_t hit_blocks;    /* blocks reused */
    uint64_t hit_tokens;    /* tokens reused (hit_blocks * B) */
    uint64_t misses;        /* lookups that reused nothing */
    uint64_t evictions;     /* cached blocks dropped to make room or keep the budget */
    int32_t free_blocks;    /* gauge: FREE */
    int32_t owned_blocks;   /* gauge: OWNED */
    int32_t cached_blocks;  /* gauge: CACHED */
    uint64_t cached_bytes;  /* gauge: cached_blocks * bytes_per_block */
} kv_stats;

typedef struct kv_pool kv_pool;

/* Creates a pool with every block FREE. Returns INF_OK or INF_ERR_INVALID /
 * INF_ERR_NOMEM with err set. Free with kv_pool_destroy. */
int kv_pool_create(const kv_config *cfg, kv_pool **out, inf_error *err);
void kv_pool_destroy(kv_pool *p); /* NULL allowed */

int32_t kv_pool_block_size(const kv_pool *p);
int32_t kv_pool_n_blocks(const kv_pool *p);

/* Blocks a caller could obtain now: FREE plus CACHED (evictable). */
int32_t kv_pool_available(const kv_pool *p);

/* Takes a block (reference count 1). Prefers FREE blocks; otherwise evicts the
 * least recently used CACHED block. Returns the id, or -1 when every block is OWNED. */
int32_t kv_block_alloc(kv_pool *p);

/* Adds a reference to an OWNED or CACHED block (a CACHED one becomes OWNED). */
void kv_block_ref(kv_pool *p, int32_t b);

/* Drops one reference. At zero the block becomes CACHED if it is hashed and the
 * prefix cache is on (possibly evicting the oldest cached block to respect the byte
 * budget), FREE otherwise. */
void kv_block_release(kv_pool *p, int32_t b);

int32_t kv_block_refcount(const kv_pool *p, int32_t b);

/* The chained hash of a full block. prev is the previous block's hash (0 for the
 * first block). */
uint64_t kv_block_hash(const kv_pool *p, uint64_t prev, const int32_t *tokens);

/* Publishes a full, OWNED block to the prefix cache under hash with its B tokens.
 * If another block already holds that hash, nothing changes (the first stays
 * canonical) and false is returned. */
bool kv_block_publish(kv_pool *p, int32_t b, uint64_t hash, const int32_t *tokens);

/* Finds the block cached under hash whose tokens equal tokens[0..B); on a hit takes
 * a reference (CACHED -> OWNED) and returns its id; -1 on a miss. */
int32_t kv_block_lookup(kv_pool *p, uint64_t hash, const int32_t *tokens);

/* Drops every CACHED block (they become FREE). */
void kv_pool_clear_cache(kv_pool *p);

void kv_pool_stats(const kv_pool *p, kv_stats *out);

/* Counts a lookup of the prefix cache that reused hit_blocks blocks. */
void kv_pool_count_lookup(kv_pool *p, int32_t hit_blocks);

/* Invariant walker (tests, debug builds): every block in exactly one state, the
 * lists and the hash table consistent with the states, gauges matching. Returns
 * INF_OK or INF_ERR_INTERNAL with the first violation described. */
int kv_pool_check(const kv_pool *p, inf_error *err);

#endif
