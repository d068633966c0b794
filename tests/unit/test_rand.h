/* test_rand.h: the random inputs of the C unit tests. One xorshift64 stream
 * per test program, started from TEST_RAND_SEED (a program that wants another
 * stream defines it before the include), so every run sees the same inputs:
 * 64-bit words, floats in [-1, 1), ints in [0, n), arrays of floats.
 * Header-only, like check.h: each test is one program. */
#ifndef INFERD_TESTS_RAND_H
#define INFERD_TESTS_RAND_H

#include <stdint.h>
#include <stdlib.h>

#ifndef TEST_RAND_SEED
#define TEST_RAND_SEED 0x9e3779b97f4a7c15ull
#endif

static uint64_t test_rng = TEST_RAND_SEED;

static inline uint64_t rand64(void)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

static inline float frand(void)
{
    return (float)((rand64() >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static inline int irand(int n)
{
    return (int)((frand() * 0.5f + 0.5f) * (float)n) % n;
}

/* cnt floats in [-amp, amp), malloc'd (at least one, so that cnt 0 is fine). */
static inline float *randv(int64_t cnt, float amp)
{
    float *v = malloc(sizeof(float) * (size_t)(cnt > 0 ? cnt : 1));
    for (int64_t i = 0; i < cnt; i++) v[i] = frand() * amp;
    return v;
}

#endif
