/* test_quant_error.c: quantization error of every supported format against
 * bounds that follow from its bits, plus edge cases and round-trip stability.
 *
 * Data: Gaussian rows (Box-Muller over a fixed xorshift stream, so the same
 * numbers on every machine) at the magnitude of real weights (rms 0.02), and
 * the same at 1e-3 and 1e3 to show the formats are scale-free over the range
 * f16 scales cover. Error is reported relative to the data's rms: rel_rmse =
 * rms(y - x) / rms(x), rel_max = max|y - x| / rms(x). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quant/quant.h"

#define N_ROW 4096
#define N_ROWS 64
#define N_ALL (N_ROW * N_ROWS)

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double rng_uniform(void) /* (0, 1) */
{
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static void fill_gaussian(float *x, int64_t n, double sigma, uint64_t seed)
{
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(rng_uniform())), t = 6.283185307179586 * rng_uniform();
        x[i] = (float)(sigma * r * cos(t));
        if (i + 1 < n) x[i + 1] = (float)(sigma * r * sin(t));
    }
}

typedef struct err_stats {
    double rel_rmse, rel_max;
} err_stats;

static err_stats measure(const float *x, const float *y, int64_t n)
{
    double se = 0, sx = 0, emax = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)y[i] - (double)x[i];
        se += e * e;
        sx += (double)x[i] * x[i];
        if (fabs(e) > emax || isnan(e)) emax = isnan(e) ? INFINITY : fabs(e);
    }
    double rms = sqrt(sx / (double)n);
    err_stats s = { sqrt(se / (double)n) / rms, emax / rms };
    return s;
}

/* quantize then dequantize n values of x into y; returns the quantized bytes
 * (caller frees). */
static uint8_t *roundtrip(uint32_t type, const float *x, float *y, int64_t n)
{
    uint8_t *q = malloc(quant_row_size(type, n) + 1);
    if (!q) return NULL;
    quant_quantize(type, x, q, n);
    quant_dequantize(type, q, y, n);
    return q;
}

/* Bounds on Gaussian data: measured with this quantizer (the largest over the
 * three magnitudes), then given about 15% headroom.
 *
 * Napkin math for the one-scale formats: a uniform quantizer with step D has rms
 * error D / sqrt(12) ~ 0.29 D. The step is set by each group's extremes: of 32
 * Gaussian values the largest magnitude is ~2.4 sigma and the range ~4.1 sigma;
 * of 256, ~3.2 sigma. So Q8_0: D = 2.4/127 -> 0.55%; Q8_K: 3.2/127 -> 0.73%;
 * Q4_0: 2.4/8 -> 8.7%; Q4_1: 4.1/15 -> 7.9%; Q5_0: 2.4/16 -> 4.3%; Q5_1:
 * 4.1/31 -> 3.8%, as measured. Each bit fewer doubles the error. The K formats
 * search their scales (fit.h) and so do better than the same bits with min-max
 * scales: Q4_K (4.5 bits/weight) beats Q4_1 (5), Q5_K beats Q5_1 (see
 * test_k_beats_legacy). Worst-case error is a few steps of the coarsest group.
 * F16 / BF16: relative rounding of 2^-11 / 2^-8 at most. */
static const struct bound {
    uint32_t type;
    double rmse; /* max rel_rmse, measured then +15% */
    double max;  /* max rel_max */
} bounds[] = {
    { QT_F32, 0.0, 0.0 },         /* exact */
    { QT_F16, 2.5e-4, 2.5e-3 },   /* measured 2.1e-4 / 1.9e-3 */
    { QT_BF16, 1.9e-3, 0.018 },   /* 1.67e-3 / 0.0154 */
    { QT_Q8_0, 6.2e-3, 0.022 },   /* 5.4e-3 / 0.0187 */
    { QT_Q8_1, 6.2e-3, 0.022 },   /* same codes as Q8_0 */
    { QT_Q8_K, 8.0e-3, 0.022 },   /* 6.97e-3 / 0.0185 */
    { QT_Q4_0, 0.097, 0.52 },     /* 0.0860 / 0.447 */
    { QT_Q4_1, 0.089, 0.30 },     /* 0.0784 / 0.255 */
    { QT_Q5_0, 0.049, 0.26 },     /* 0.0428 / 0.220 */
    { QT_Q5_1, 0.043, 0.145 },    /* 0.0379 / 0.125 */
    { QT_Q2_K, 0.30, 1.72 },      /* 0.268 / 1.49 */
    { QT_Q3_K, 0.163, 0.90 },     /* 0.144 / 0.782 */
    { QT_Q4_K, 0.082, 0.42 },     /* 0.0709 / 0.368 */
    { QT_Q5_K, 0.041, 0.225 },    /* 0.0356 / 0.193 */
    { QT_Q6_K, 0.0195, 0.085 },   /* 0.0169 / 0.0739 */
};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])

static void test_gaussian(float *x, float *y)
{
    static const double sigmas[] = { 0.02, 1e-3, 1e3 };
    for (size_t b = 0; b < N_BOUNDS; b++) {
        for (size_t s = 0; s < 3; s++) {
            fill_gaussian(x, N_ALL, sigmas[s], 11 + s);
            free(roundtrip(bounds[b].type, x, y, N_ALL));
            err_stats e = measure(x, y, N_ALL);
            printf("%-5s sigma %-6g rel_rmse %.5f rel_max %.4f\n", quant_type_name(bounds[b].type),
                   sigmas[s], e.rel_rmse, e.rel_max);
            CHECK_MSG(e.rel_rmse <= bounds[b].rmse, "%s sigma %g: rel_rmse %g > %g",
                      quant_type_name(bounds[b].type), sigmas[s], e.rel_rmse, bounds[b].rmse);
            CHECK_MSG(e.rel_max <= bounds[b].max, "%s sigma %g: rel_max %g > %g",
                      quant_type_name(bounds[b].type), sigmas[s], e.rel_max, bounds[b].max);
        }
    }
}

/* All zeros must come back as exact zeros, whatever the format. */
static void test_zeros(float *x, float *y)
{
    memset(x, 0, 1024 * sizeof(float));
    for (size_t b = 0; b < N_BOUNDS; b++) {
        for (int i = 0; i < 1024; i++) y[i] = 1.0f;
        free(roundtrip(bounds[b].type, x, y, 1024));
        int nonzero = 0;
        for (int i = 0; i < 1024; i++) nonzero += y[i] != 0.0f;
        CHECK_MSG(nonzero == 0, "%s: %d of 1024 zeros came back non-zero",
                  quant_type_name(bounds[b].type), nonzero);
    }
}

/* Constant rows: every format represents a constant with its scale (or min)
 * alone, so the only error left is the rounding of that scale. */
static void test_constant(float *x, float *y)
{
    static const float values[] = { 0.7f, -0.3f, 0.0123f, -5e-3f, 250.0f };
    for (size_t b = 0; b < N_BOUNDS; b++) {
        double worst = 0;
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            for (int i = 0; i < 1024; i++) x[i] = values[v];
            free(roundtrip(bounds[b].type, x, y, 1024));
            for (int i = 0; i < 1024; i++)
                worst = fmax(worst, fabs((double)y[i] - values[v]) / fabs(values[v]));
        }
        printf("%-5s constant rows: max rel error %.2e\n", quant_type_name(bounds[b].type), worst);
        /* BF16 rounds to 2^-9; the rest to about f16's 2^-12, except where a
         * small constant (0.0123, 5e-3) makes a K format's d an f16 subnormal:
         * d * l (l <= 63) then misses the constant by up to ~0.3% (Q5_K). */
        double tol = 4e-3;
        CHECK_MSG(worst <= tol, "%s: constant rows off by %g relative", quant_type_name(bounds[b].type), worst);
    }
}

/* One large value (50 sigma) in each 256-value block: every format spends its
 * range on the extreme, so the outlier itself must come back within 2% (the
 * worst measured is Q4_K, 1.3%: its scale search trades a little of the
 * outlier for the other 31 values of its group). */
static void test_outlier(float *x, float *y)
{
    for (size_t b = 0; b < N_BOUNDS; b++) {
        fill_gaussian(x, N_ROW, 1.0, 99);
        for (int i = 0; i < N_ROW; i += 256) x[i + (i / 256 * 37) % 256] = (i & 256) ? 50.0f : -50.0f;
        free(roundtrip(bounds[b].type, x, y, N_ROW));
        double worst = 0;
        for (int i = 0; i < N_ROW; i += 256) {
            int k = i + (i / 256 * 37) % 256;
            worst = fmax(worst, fabs((double)y[k] - x[k]) / 50.0);
        }
        printf("%-5s outlier: rel error at the outlier %.2e\n", quant_type_name(bounds[b].type), worst);
        CHECK_MSG(worst <= 0.02, "%s: outlier of 50 came back off by %g relative",
                  quant_type_name(bounds[b].type), worst);
    }
}

/* Quantizing what a format decoded should land on (nearly) the same values:
 * a model converted twice must not drift. */
static void test_stability(float *x, float *y)
{
    float *z = malloc(N_ALL * sizeof(float));
    if (!z) return;
    fill_gaussian(x, N_ALL, 0.02, 5);
    for (size_t b = 0; b < N_BOUNDS; b++) {
        free(roundtrip(bounds[b].type, x, y, N_ALL));
        free(roundtrip(bounds[b].type, y, z, N_ALL));
        int64_t changed = 0;
        for (int64_t i = 0; i < N_ALL; i++) changed += y[i] != z[i];
        err_stats e = measure(y, z, N_ALL);
        printf("%-5s requantized: %lld of %d values changed, rel_rmse %.2e\n",
               quant_type_name(bounds[b].type), (long long)changed, N_ALL, e.rel_rmse);
        /* One-pass formats land on exactly the same codes: the extreme value
         * decodes to itself, so the scale is recomputed to the same f16. The
         * searched K formats may pick other scales for a few groups (up to 2.2%
         * of values measured, for Q5_K), and Q8_K's f32 d = 1 / (127 / max)
         * moves in its last bit; either way the drift stays far below the
         * format's own error. */
        uint32_t t = bounds[b].type;
        int exact = t == QT_F32 || t == QT_F16 || t == QT_BF16 || t == QT_Q8_0 || t == QT_Q8_1 ||
                    t == QT_Q4_0 || t == QT_Q4_1 || t == QT_Q5_0 || t == QT_Q5_1;
        if (exact)
            CHECK_MSG(changed == 0, "%s: requantizing changed %lld values", quant_type_name(t),
                      (long long)changed);
        else
            CHECK_MSG(changed < N_ALL / 20 && e.rel_rmse <= 0.1 * bounds[b].rmse,
                      "%s: requantizing changed %lld values, drift %g", quant_type_name(t),
                      (long long)changed, e.rel_rmse);
    }
    free(z);
}

/* NaN, inf and values past the f16 range must not crash or hit undefined
 * behaviour (the ASan/UBSan build runs this). The K formats saturate their
 * scales, so finite input, however large, decodes to finite values; the legacy
 * formats keep ggml's bytes, whose f16 scale overflows to inf past ~1e6. */
static void test_nonfinite(float *x, float *y)
{
    for (size_t b = 0; b < N_BOUNDS; b++) {
        uint32_t t = bounds[b].type;
        fill_gaussian(x, 1024, 1.0, 3);
        x[3] = NAN;
        x[300] = INFINITY;
        x[600] = -INFINITY;
        x[900] = 3e38f;
        free(roundtrip(t, x, y, 1024));
        fill_gaussian(x, 1024, 1e12, 4);
        free(roundtrip(t, x, y, 1024));
        int k = t >= QT_Q2_K && t <= QT_Q6_K;
        if (k) {
            int finite = 1;
            for (int i = 0; i < 1024; i++) finite &= isfinite(y[i]) != 0;
            CHECK_MSG(finite, "%s: values of 1e12 decode to non-finite values", quant_type_name(t));
        }
    }
}

/* The scale search is what the K formats pay their sub-block scales with: at
 * fewer bits per weight they must beat the min-max legacy formats. */
static void test_k_beats_legacy(float *x, float *y)
{
    static const uint32_t pairs[][2] = { { QT_Q4_K, QT_Q4_1 }, { QT_Q5_K, QT_Q5_1 } };
    fill_gaussian(x, N_ALL, 0.02, 21);
    for (int p = 0; p < 2; p++) {
        free(roundtrip(pairs[p][0], x, y, N_ALL));
        double k = measure(x, y, N_ALL).rel_rmse;
        free(roundtrip(pairs[p][1], x, y, N_ALL));
        double legacy = measure(x, y, N_ALL).rel_rmse;
        CHECK_MSG(k < 0.95 * legacy, "%s rel_rmse %g, %s %g", quant_type_name(pairs[p][0]), k,
                  quant_type_name(pairs[p][1]), legacy);
    }
}

int main(void)
{
    float *x = malloc(N_ALL * sizeof(float)), *y = malloc(N_ALL * sizeof(float));
    if (!x || !y) return 1;
    test_gaussian(x, y);
    test_k_beats_legacy(x, y);
    test_zeros(x, y);
    test_constant(x, y);
    test_outlier(x, y);
    test_stability(x, y);
    test_nonfinite(x, y);
    free(x);
    free(y);
    return check_done();
}
