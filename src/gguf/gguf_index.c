/* gguf_index.c: the name -> position hash index of metadata keys and tensor names.
 *
 * Models carry ~1000 tensors and vocabularies ~100 keys that loaders look up one by
 * one, so look-ups must not be linear. Open addressing with linear probing over an
 * FNV-1a hash; built once at open and read-only afterwards (safe to share). */
#include "gguf/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

int gguf_index_build(gguf_index *ix, int64_t n, gguf_index_name_fn name, const void *ctx,
                     int64_t *dup_first, int64_t *dup_second)
{
    uint64_t cap = 8;
    while (cap < (uint64_t)n * 2) cap <<= 1;
    ix->slots = calloc(cap, sizeof *ix->slots);
    ix->mask = cap - 1;
    if (!ix->slots) {
        ix->mask = 0;
        return INF_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        const char *s = name(ctx, i);
        uint64_t h = hash_name(s) & ix->mask;
        while (ix->slots[h]) {
            int64_t j = ix->slots[h] - 1;
            if (strcmp(name(ctx, j), s) == 0) {
                *dup_first = j;
                *dup_second = i;
                gguf_index_free(ix);
                return INF_ERR_FORMAT;
            }
            h = (h + 1) & ix->mask;
        }
        ix->slots[h] = i + 1;
    }
    return INF_OK;
}

int64_t gguf_index_find(const gguf_index *ix, const char *name, gguf_index_name_fn name_of,
                        const void *ctx)
{
    if (!ix->slots || !name) return -1;
    uint64_t h = hash_name(name) & ix->mask;
    while (ix->slots[h]) {
        int64_t j = ix->slots[h] - 1;
        if (strcmp(name_of(ctx, j), name) == 0) return j;
        h = (h + 1) & ix->mask;
    }
    return -1;
}

void gguf_index_free(gguf_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
}
