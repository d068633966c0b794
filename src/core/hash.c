/* hash.c: see hash.h. Word-at-a-time multiply-mix; the length is folded in so that
 * prefixes of a sequence hash differently from the sequence. */
#include "core/hash.h"

#include <string.h>

static const uint64_t K1 = 0x9e3779b97f4a7c15ull;

uint64_t inf_hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = inf_hash_mix64(seed ^ (K1 * (uint64_t)(n + 1)));
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = inf_hash_mix64(h ^ w) + K1;
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    return inf_hash_mix64(h ^ tail ^ ((uint64_t)n << 56));
}

uint64_t inf_hash_i32(const int32_t *v, size_t n, uint64_t seed)
{
    return inf_hash_bytes(v, n * sizeof *v, seed);
}
