/* hash.h: 64-bit non-cryptographic hashing for hash tables and the prefix cache.
 *
 * Not a defence against adversaries: the prefix cache verifies token ids on every
 * hit, so a collision can cost a recomputation, never wrong output. */
#ifndef INFERD_CORE_HASH_H
#define INFERD_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A strong 64-bit mix of one word (a bijection: distinct inputs, distinct outputs). */
static inline uint64_t inf_hash_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Hash of n bytes, continuing from seed. Any thread. */
uint64_t inf_hash_bytes(const void *data, size_t n, uint64_t seed);

/* Hash of n 32-bit integers, continuing from seed (token ids). Any thread. */
uint64_t inf_hash_i32(const int32_t *v, size_t n, uint64_t seed);

#endif
