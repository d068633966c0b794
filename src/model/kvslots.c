/* kvslots.c: fixed per-slot block tables (see kvslots.h). */
#include "model/kvslots.h"

#include <stdlib.h>
#include <string.h>

int model_kvslots_init(model_kvslots *ks, int32_t n_slots, int32_t max_ctx, int32_t block_size,
                       uint64_t shuffle_seed, inf_error *err)
{
    memset(ks, 0, sizeof *ks);
    if (n_slots < 1 || max_ctx < 1 || block_size < 1)
        return inf_errorf(err, INF_ERR_INVALID, "kv slots: %d slots of %d tokens in blocks of %d",
                          n_slots, max_ctx, block_size);
    int32_t bps = (max_ctx + block_size - 1) / block_size;
    int64_t total = (int64_t)n_slots * bps;
    if (total > INT32_MAX / 2)
        return inf_errorf(err, INF_ERR_RANGE, "kv slots: %lld blocks is too many", (long long)total);
    ks->table = malloc((size_t)total * sizeof *ks->table);
    if (!ks->table) return inf_errorf(err, INF_ERR_NOMEM, "kv slots: %lld blocks", (long long)total);
    ks->n_slots = n_slots;
    ks->block_size = block_size;
    ks->blocks_per_slot = bps;
    for (int64_t i = 0; i < total; i++) ks->table[i] = (int32_t)i;
    if (shuffle_seed) {
        /* Fisher-Yates with a 64-bit LCG: enough to scatter ids, no quality needed. */
        uint64_t st = shuffle_seed;
        for (int64_t i = total - 1; i > 0; i--) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t j = (int64_t)((st >> 33) % (uint64_t)(i + 1));
            int32_t t = ks->table[i];
            ks->table[i] = ks->table[j];
            ks->table[j] = t;
        }
    }
    return INF_OK;
}

void model_kvslots_free(model_kvslots *ks)
{
    if (!ks) return;
    free(ks->table);
    memset(ks, 0, sizeof *ks);
}
