/* synth_rng.h: the pseudo-random generator of `inferd synth`.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64: integer-only, so
 * the same seed gives the same bits on every machine and compiler. Floats are
 * made from the top 24 bits (exact in binary32), so they are portable too.
 * Streams for independent pieces of work (a chunk of a tensor) come from
 * synth_rng_seed(hash of seed and chunk coordinates), never from a shared state,
 * which is what makes the output independent of the thread count. */
#ifndef INFERD_MODEL_SYNTH_RNG_H
#define INFERD_MODEL_SYNTH_RNG_H

#include <stdint.h>

typedef struct synth_rng {
    uint64_t s[4];
} synth_rng;

/* One step of splitmix64: a good 64-bit mixer, also used to derive seeds. */
static inline uint64_t synth_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A seed for the stream of (seed, a, b): e.g. (tensor index, chunk index). */
static inline uint64_t synth_seed_mix(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed;
    uint64_t h = synth_splitmix64(&x);
    x = h ^ (a * 0xd1b54a32d192ed03ull);
    h = synth_splitmix64(&x);
    x = h ^ (b * 0x8cb92ba72f3d8dd7ull);
    return synth_splitmix64(&x);
}

static inline void synth_rng_seed(synth_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = synth_splitmix64(&x);
}

static inline uint64_t synth_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t synth_rng_next(synth_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t out = synth_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = synth_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1), 24-bit resolution (exact in float). */
static inline float synth_rng_unit(synth_rng *r)
{
    return (float)(synth_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform in [-1, 1). */
static inline float synth_rng_sym(synth_rng *r)
{
    return synth_rng_unit(r) * 2.0f - 1.0f;
}

/* Uniform integer in [0, n), n > 0 (multiply-shift; bias below 2^-32 for small n). */
static inline uint32_t synth_rng_below(synth_rng *r, uint32_t n)
{
    return (uint32_t)(((synth_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

#endif
