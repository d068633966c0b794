/* kv_seq.h: one sequence's block table over a kv_pool.
 *
 * A sequence's tokens 0..n_tokens-1 have their K/V in blocks[pos / B] at slot
 * pos % B. Capacity (blocks) may run ahead of n_tokens: the engine reserves blocks
 * for the rows of the next step (a prefill chunk, a decode token, or k+1 speculative
 * rows), runs the step, then commits how many of those tokens are kept. Full blocks
 * of committed tokens are published to the prefix cache.
 *
 * Shared blocks (prefix-cache hits) are always full and never written: a sequence
 * writes only into blocks past its matched prefix, and the match stops one token
 * short of the prompt so that the last prompt token is always computed (its logits
 * are needed).
 *
 * The block table's storage is the caller's (sized once for the context length),
 * so nothing here allocates. Engine thread only. */
#ifndef INFERD_KV_SEQ_H
#define INFERD_KV_SEQ_H

#include <stdint.h>

#include "kv/kv_pool.h"

typedef struct kv_seq {
    int32_t *blocks;     /* (cap) physical block ids, caller's storage */
    int32_t cap;         /* capacity of blocks[] */
    int32_t n_blocks;    /* blocks held (each holds one reference) */
    int32_t n_tokens;    /* committed tokens */
    int32_t n_published; /* leading blocks already hashed (or found in the cache) */
    uint64_t last_hash;  /* hash of block n_published - 1 (0 when none) */
} kv_seq;

/* Empty sequence over caller storage of cap block ids. */
void kv_seq_init(kv_seq *s, int32_t *storage, int32_t cap);

/* Reuses the longest run of cached full blocks matching tokens[0..n), at most
 * (n - 1) / B blocks. The sequence must be empty. Returns the tokens reused
 * (a multiple of B); they count as committed. Counts a prefix-cache lookup. */
int32_t kv_seq_match_prefix(kv_pool *p, kv_seq *s, const int32_t *tokens, int32_t n);

/* Makes sure blocks exist for positions [0, n_total). Returns INF_OK, or
 * INF_ERR_BUSY when the pool cannot supply them (nothing is taken then), or
 * INF_ERR_RANGE when n_total exceeds the table's capacity. */
int kv_seq_reserve(kv_pool *p, kv_seq *s, int32_t n_total);

/* Blocks that reserving n_total tokens would still need to take from the pool. */
int32_t kv_seq_blocks_needed(const kv_pool *p, const kv_seq *s, int32_t n_total);

/* Sets the committed length to n_tokens (<= reserved capacity) and publishes every
 * newly full block; tokens[] holds the sequence's ids from position 0. */
void kv_seq_commit(kv_pool *p, kv_seq *s, const int32_t *tokens, int32_t n_tokens);

/* Forgets the last n committed tokens and releases blocks no longer needed. A block
 * that must be written again but is shared with others (or published) is replaced:
 * the sequence keeps only whole blocks before it, so the return value, the new
 * committed length, may be shorter than n_tokens - n; the caller recomputes the rest. */
int32_t kv_seq_rollback(kv_pool *p, kv_seq *s, int32_t n);

/* Releases every block (to the cache or the free list) and empties the sequence. */
void kv_seq_release(kv_pool *p, kv_seq *s);

#endif
