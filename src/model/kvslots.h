/* kvslots.h: a trivial KV block allocator — a fixed number of sequence slots,
 * each with room for max_ctx tokens — for `inferd run`, `bench-model` and the
 * model tests until the engine's paged KV manager (src/kv/, issue 5) lands.
 *
 * Slot s owns blocks_per_slot physical blocks for its whole life. With a
 * nonzero shuffle seed the physical ids are a pseudo-random permutation of the
 * pool (not contiguous), so that tests prove attention really reads through
 * block tables. */
#ifndef INFERD_MODEL_KVSLOTS_H
#define INFERD_MODEL_KVSLOTS_H

#include <stdint.h>

#include "core/error.h"

typedef struct model_kvslots {
    int32_t n_slots;
    int32_t block_size;       /* B */
    int32_t blocks_per_slot;  /* ceil(max_ctx / B) */
    int32_t *table;           /* (n_slots, blocks_per_slot) physical block ids */
} model_kvslots;

/* Fills ks for n_slots slots of max_ctx tokens each; the pool needs
 * model_kvslots_pool_blocks(ks) blocks. Returns INF_ERR_INVALID for
 * non-positive sizes, INF_ERR_NOMEM. Free with model_kvslots_free. */
int model_kvslots_init(model_kvslots *ks, int32_t n_slots, int32_t max_ctx, int32_t block_size,
                       uint64_t shuffle_seed, inf_error *err);

/* Frees the table. NULL allowed; ks is left zeroed. */
void model_kvslots_free(model_kvslots *ks);

static inline int32_t model_kvslots_pool_blocks(const model_kvslots *ks)
{
    return ks->n_slots * ks->blocks_per_slot;
}

/* The block table of slot s ((blocks_per_slot) ids). */
static inline const int32_t *model_kvslots_table(const model_kvslots *ks, int32_t s)
{
    return ks->table + (int64_t)s * ks->blocks_per_slot;
}

#endif
