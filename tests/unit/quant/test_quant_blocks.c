/* test_quant_blocks.c: the activation formats Q8_1 and Q8_K, which the gguf
 * package cannot check (it has no Q8_K and an old Q8_1): their extra fields
 * (Q8_1's s, Q8_K's bsums) must agree with their codes, and their codes with
 * Q8_0's rule. Plus the wrappers: quant_row_size over every type id, and rows of
 * several blocks decode block by block. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "quant/blocks.h"
#include "quant/quant.h"

static uint64_t rng_state = 88172645463325252ull;
static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((int64_t)(rng_state >> 11) - (1ll << 52)) / (float)(1ll << 52);
}

static void test_q8_1(void)
{
    float x[4 * QK8_1], y[4 * QK8_1];
    block_q8_1 b[4];
    block_q8_0 b0[4];
    for (int i = 0; i < 4 * QK8_1; i++) x[i] = rnd() * (1 + i / 32);
    quant_quantize(QT_Q8_1, x, b, 4 * QK8_1);
    quant_quantize(QT_Q8_0, x, b0, 4 * QK8_0);
    quant_dequantize(QT_Q8_1, b, y, 4 * QK8_1);
    for (int k = 0; k < 4; k++) {
        int sum = 0;
        CHECK_EQ_INT(b[k].d, b0[k].d);
        CHECK(memcmp(b[k].qs, b0[k].qs, QK8_0) == 0);
        for (int i = 0; i < QK8_1; i++) sum += b[k].qs[i];
        /* s is f16(d * sum) with the unrounded d: within f16 rounding of both */
        float s = quant_f16_to_f32(b[k].s), want = quant_f16_to_f32(b[k].d) * (float)sum;
        CHECK_MSG(fabsf(s - want) <= 2e-3f * fabsf(want) + 1e-6f, "block %d: s %g, d*sum %g", k, s,
                  want);
        for (int i = 0; i < QK8_1; i++)
            CHECK(y[k * QK8_1 + i] == quant_f16_to_f32(b[k].d) * (float)b[k].qs[i]);
    }
}

static void test_q8_k(void)
{
    enum { NB = 3 };
    float x[NB * QK_K], y[NB * QK_K];
    block_q8_K b[NB];
    for (int i = 0; i < NB * QK_K; i++) x[i] = rnd() * 3.0f;
    x[77] = -5.0f; /* the extreme lands on -127 */
    memset(x + QK_K, 0, QK_K * sizeof(float)); /* an all-zero block */
    quant_quantize(QT_Q8_K, x, b, NB * QK_K);
    quant_dequantize(QT_Q8_K, b, y, NB * QK_K);
    CHECK_EQ_INT(b[0].qs[77], -127);
    CHECK(fabsf(b[0].d * -127.0f + 5.0f) < 1e-5f);
    CHECK(b[1].d == 0.0f);
    int bad_sums = 0, bad_vals = 0;
    for (int k = 0; k < NB; k++) {
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += b[k].qs[16 * j + l];
            bad_sums += sum != b[k].bsums[j];
        }
        for (int i = 0; i < QK_K; i++) {
            bad_vals += y[k * QK_K + i] != b[k].d * (float)b[k].qs[i];
            bad_vals += fabsf(y[k * QK_K + i] - x[k * QK_K + i]) > 0.5f * fabsf(b[k].d) * 1.0001f;
        }
    }
    CHECK_EQ_INT(bad_sums, 0);
    CHECK_EQ_INT(bad_vals, 0);
}

/* Rows of many blocks must decode exactly as their blocks one at a time, and
 * quant_row_size must agree with the traits for every id. */
static void test_rows(void)
{
    for (uint32_t t = 0; t < QT_COUNT + 2; t++) {
        const quant_traits *tr = quant_traits_of(t);
        if (!tr) {
            CHECK_EQ_INT(quant_row_size(t, 256), 0);
            continue;
        }
        CHECK_EQ_INT(quant_row_size(t, 256 * 7), 7 * 256 / tr->block_size * tr->type_size);
        if (!tr->supported) continue;
        enum { N = 4 * QK_K };
        static float x[N], y[N], z[N];
        static uint8_t q[N * 4];
        for (int i = 0; i < N; i++) x[i] = rnd();
        quant_quantize(t, x, q, N);
        quant_dequantize(t, q, y, N);
        for (int i = 0; i < N; i += tr->block_size)
            quant_dequantize(t, q + (size_t)i / tr->block_size * tr->type_size, z + i,
                             tr->block_size);
        CHECK_MSG(memcmp(y, z, sizeof y) == 0, "%s: row and block decodes differ", tr->name);
    }
}

int main(void)
{
    test_q8_1();
    test_q8_k();
    test_rows();
    return check_done();
}
