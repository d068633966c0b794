/* quant_bench: single-thread throughput of the reference dequantizers (and,
 * as an aside, quantizers) of every supported weight format.
 *
 *   quant_bench [MB] [REPS]     MB of input blocks per format (default 64), REPS passes (5)
 *
 * Each pass streams MB of blocks from memory (far larger than the caches, as
 * weights are) and dequantizes them row by row into a 64 KiB output buffer that
 * stays in L2, the way a matmul consumes a dequantized row. It reports the best
 * and median pass as GB/s of floats written and of block bytes read, beside
 * bytes per weight, so the figures read against memory bandwidth: a format is
 * compute-bound where its input rate is far below what the memory delivers.
 * The blocks come from quantizing Gaussian data (1 MB of them, repeated).
 * Not a test: figures and the command behind them go in bench/RESULTS.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant/quant.h"

#define OUT_FLOATS 16384 /* 64 KiB: one chunk of output, reused */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float gaussian(void) /* sum of 4 uniforms: close enough for content */
{
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        s += (float)(rng >> 40) / 16777216.0f - 0.5f;
    }
    return s * 0.035f;
}

static volatile float sink;

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 64;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (mb < 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: quant_bench [MB] [REPS]\n");
        return 1;
    }
    static const uint32_t types[] = { QT_F32, QT_F16, QT_BF16, QT_Q8_0, QT_Q4_0, QT_Q4_1,
                                      QT_Q5_0, QT_Q5_1, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K,
                                      QT_Q6_K, QT_Q8_K };
    const int64_t tmpl_n = 1 << 18; /* 256K weights: ~1 MB of 4-bit blocks */
    float *x = malloc((size_t)tmpl_n * sizeof(float));
    float *out = malloc(OUT_FLOATS * sizeof(float));
    uint8_t *tmpl = malloc((size_t)tmpl_n * 4), *blocks = malloc(mb << 20);
    double *t = malloc((size_t)reps * sizeof(double));
    if (!x || !out || !tmpl || !blocks || !t) return 1;
    for (int64_t i = 0; i < tmpl_n; i++) x[i] = gaussian();

    printf("%-5s %6s %12s %12s %12s %12s %12s\n", "type", "B/w", "out GB/s", "(median)",
           "in GB/s", "Mweights/s", "quant Mw/s");
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const quant_traits *tr = quant_traits_of(types[k]);
        size_t tmpl_bytes = quant_row_size(types[k], tmpl_n);
        double tq = now_s();
        quant_quantize(types[k], x, tmpl, tmpl_n);
        tq = now_s() - tq;
        size_t n_tmpl = (mb << 20) / tmpl_bytes; /* whole templates fill the buffer */
        for (size_t c = 0; c < n_tmpl; c++) memcpy(blocks + c * tmpl_bytes, tmpl, tmpl_bytes);
        size_t in_bytes = n_tmpl * tmpl_bytes;
        int64_t chunk = OUT_FLOATS; /* a multiple of every block size */
        size_t chunk_bytes = quant_row_size(types[k], chunk);
        int64_t n_chunks = (int64_t)(in_bytes / chunk_bytes);
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            for (int64_t c = 0; c < n_chunks; c++) {
                tr->dequantize(blocks + (size_t)c * chunk_bytes, out, chunk);
                sink = out[c & (OUT_FLOATS - 1)];
            }
            t[r] = now_s() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        double n_w = (double)n_chunks * (double)chunk;
        double bpw = (double)tr->type_size / tr->block_size;
        printf("%-5s %6.4f %12.2f %12.2f %12.2f %12.0f %12.1f\n", tr->name, bpw,
               n_w * 4 / t[0] / 1e9, n_w * 4 / t[reps / 2] / 1e9, n_w * bpw / t[0] / 1e9,
               n_w / t[0] / 1e6, (double)tmpl_n / tq / 1e6);
    }
    free(x);
    free(out);
    free(tmpl);
    free(blocks);
    free(t);
    return 0;
}
