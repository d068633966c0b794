/* test_quant_float.c: half / bfloat16 conversions and the traits table.
 *
 * Oracles: every one of the 65536 half values round-trips; f32 -> f16 agrees
 * with the x86 F16C instructions (when the CPU has them) on millions of random
 * bit patterns, including subnormals, ties, overflow and NaN; bf16 follows the
 * rounding rule written out with 64-bit integers. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "quant/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}
static int have_f16c(void)
{
    return __builtin_cpu_supports("f16c");
}
#else
static uint16_t hw_f32_to_f16(float f) { (void)f; return 0; }
static float hw_f16_to_f32(uint16_t h) { (void)h; return 0; }
static int have_f16c(void) { return 0; }
#endif

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_f16_roundtrip(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_f16_to_f32((uint16_t)h);
        int is_nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
        if (is_nan) {
            if (!isnan(f)) bad++;
            continue;
        }
        if (quant_f32_to_f16(f) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(quant_f16_to_f32(0x3c00) == 1.0f);
    CHECK(quant_f16_to_f32(0xc000) == -2.0f);
    CHECK(quant_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(quant_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(isinf(quant_f16_to_f32(0x7c00)));
    CHECK_EQ_INT(quant_f32_to_f16(65519.0f), 0x7bff);
    CHECK_EQ_INT(quant_f32_to_f16(65520.0f), 0x7c00); /* tie goes to even: inf */
    CHECK_EQ_INT(quant_f32_to_f16(1e10f), 0x7c00);
    CHECK_EQ_INT(quant_f32_to_f16(-1e10f), 0xfc00);
    CHECK_EQ_INT(quant_f32_to_f16(0x1p-25f), 0x0000);   /* tie to even zero */
    CHECK_EQ_INT(quant_f32_to_f16(0x1.8p-25f), 0x0001); /* above the tie */
    CHECK_EQ_INT(quant_f32_to_f16(-0.0f), 0x8000);
    CHECK_EQ_INT(quant_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie, even down */
    CHECK_EQ_INT(quant_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie, even up */
}

/* Random bits cover every exponent; a second pass concentrates on the range
 * where halves are subnormal or near overflow, where rounding is subtle. */
static void test_f16_vs_hardware(void)
{
    if (!have_f16c()) {
        printf("no F16C on this CPU: hardware comparison skipped\n");
        return;
    }
    int bad = 0;
    for (int i = 0; i < 4000000; i++) {
        uint32_t u = rng_u32();
        if (i & 1) u = (u & 0x80ffffff) | ((uint32_t)(0x60 + (i >> 1) % 0x30) << 23);
        float f = from_bits(u);
        if (quant_f32_to_f16(f) != hw_f32_to_f16(f)) {
            if (bad++ < 5)
                fprintf(stderr, "f32 %08x: ours %04x, f16c %04x\n", u, quant_f32_to_f16(f),
                        hw_f32_to_f16(f));
        }
    }
    for (uint32_t h = 0; h < 65536; h++) {
        if (bits(quant_f16_to_f32((uint16_t)h)) != bits(hw_f16_to_f32((uint16_t)h))) {
            if (bad++ < 10) fprintf(stderr, "f16 %04x differs\n", h);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static uint16_t bf16_ref(uint32_t u)
{
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
    uint64_t lsb = (u >> 16) & 1;
    return (uint16_t)(((uint64_t)u + 0x7fff + lsb) >> 16);
}

static void test_bf16(void)
{
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = rng_u32();
        if (quant_f32_to_bf16(from_bits(u)) != bf16_ref(u)) bad++;
    }
    for (uint32_t h = 0; h < 65536; h++) {
        if (bits(quant_bf16_to_f32((uint16_t)h)) != h << 16) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(quant_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(quant_f32_to_bf16(from_bits(0x3f808000)), 0x3f80); /* tie, even */
    CHECK_EQ_INT(quant_f32_to_bf16(from_bits(0x3f818000)), 0x3f82);
    CHECK_EQ_INT(quant_f32_to_bf16(from_bits(0x7f7fffff)), 0x7f80); /* FLT_MAX -> inf */
    CHECK_EQ_INT(quant_f32_to_bf16(from_bits(0x7f800001)), 0x7fc0); /* sNaN made quiet */
}

static void test_traits(void)
{
    static const struct { uint32_t id; const char *name; int bs; size_t ts; int sup; } want[] = {
        {0, "F32", 1, 4, 1},       {1, "F16", 1, 2, 1},       {2, "Q4_0", 32, 18, 1},
        {3, "Q4_1", 32, 20, 1},    {6, "Q5_0", 32, 22, 1},    {7, "Q5_1", 32, 24, 1},
        {8, "Q8_0", 32, 34, 1},    {9, "Q8_1", 32, 36, 1},    {10, "Q2_K", 256, 84, 1},
        {11, "Q3_K", 256, 110, 1}, {12, "Q4_K", 256, 144, 1}, {13, "Q5_K", 256, 176, 1},
        {14, "Q6_K", 256, 210, 1}, {15, "Q8_K", 256, 292, 1}, {16, "IQ2_XXS", 256, 66, 0},
        {23, "IQ4_XS", 256, 136, 0}, {24, "I8", 1, 1, 0},     {28, "F64", 1, 8, 0},
        {30, "BF16", 1, 2, 1},     {34, "TQ1_0", 256, 54, 0}, {35, "TQ2_0", 256, 66, 0},
        {39, "MXFP4", 32, 17, 0},  {31, "Q4_0_4_4", 32, 18, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const quant_traits *t = quant_traits_of(want[i].id);
        CHECK_MSG(t != NULL, "type %u", want[i].id);
        if (!t) continue;
        CHECK_EQ_STR(t->name, want[i].name);
        CHECK_EQ_INT(t->block_size, want[i].bs);
        CHECK_EQ_INT(t->type_size, want[i].ts);
        CHECK_EQ_INT(t->supported, want[i].sup);
        CHECK_EQ_INT(t->dequantize != NULL, want[i].sup);
        CHECK_EQ_INT(t->quantize != NULL, want[i].sup);
        CHECK_EQ_INT(quant_type_from_name(want[i].name), (int)want[i].id);
    }
    CHECK(quant_traits_of(QT_COUNT) == NULL);
    CHECK(quant_traits_of(0xffffffffu) == NULL);
    CHECK_EQ_STR(quant_type_name(12345), "unknown");
    CHECK_EQ_STR(quant_type_name(QT_Q6_K), "Q6_K");
    CHECK_EQ_INT(quant_type_from_name("q4_k"), QT_Q4_K);
    CHECK_EQ_INT(quant_type_from_name("bf16"), QT_BF16);
    CHECK_EQ_INT(quant_type_from_name("q4"), -1);
    CHECK_EQ_INT(quant_type_from_name("q4_k_m"), -1);
    CHECK_EQ_INT(quant_type_from_name(""), -1);
    CHECK_EQ_INT(quant_type_from_name(NULL), -1);
    CHECK_EQ_INT(quant_row_size(QT_Q4_K, 4096), 16 * 144);
    CHECK_EQ_INT(quant_row_size(QT_F16, 7), 14);
    CHECK_EQ_INT(quant_row_size(QT_Q4_0, 33), 0);
    CHECK_EQ_INT(quant_row_size(QT_Q4_0, -32), 0);
    CHECK_EQ_INT(quant_row_size(99, 32), 0);
}

int main(void)
{
    test_f16_roundtrip();
    test_f16_vs_hardware();
    test_bf16();
    test_traits();
    return check_done();
}
