/* cpu_kernels_bench: throughput of the CPU backend's matmul per weight format.
 *
 *   cpu_kernels_bench [MB] [REPS] [FORMAT...]
 *
 * matvec (n = 1, decode): a chain of 2048 x 2048 weights totalling about MB
 * megabytes of packed panels (default 256: more than a small model, read once
 * per pass as a decode step reads its weights), multiplied one after the other
 * by one activation row; reported as GB/s of weight bytes read, at 1 and 2
 * threads. matmul (n = 512, prefill): one 2048 x 2048 weight times 512 rows,
 * reported as GFLOP/s (2 m k n per call), at 1 and 2 threads. Best of REPS
 * (default 5) passes: the machine is shared, so the best pass is the one least
 * disturbed. Kernel level: the best this CPU has (INFERD_CPU_ISA caps it).
 * INFERD_BENCH_DIM=1024 makes the weights 1024 x 1024 (with MB = 1: one weight
 * that stays in L2, the compute ceiling of the kernels).
 * Not a test: figures go in bench/RESULTS.md beside the copy bandwidth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/cpu_matmul.h"
#include "core/clock.h"
#include "quant/quant.h"

static int DIM = 2048; /* INFERD_BENCH_DIM overrides (e.g. 1024: a weight that stays in L2) */

static float frand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* INFERD_BENCH_CPUTIME=1: time by process CPU time instead of the wall clock
 * (for development on a machine shared with compilers; the figures of record
 * are wall-clock ones on a quiet machine). */
static double now(void)
{
    static int mode = -1;
    if (mode < 0) mode = getenv("INFERD_BENCH_CPUTIME") != NULL;
    return mode ? cpu_s() : inf_clock_s();
}

static void run_format(uint32_t type, double mb, int reps)
{
    const cpu_kernels *kt = cpu_kernels_get();
    uint64_t seed = 42;
    size_t rb = quant_row_size(type, DIM);
    float *wf = malloc(sizeof(float) * DIM * DIM);
    uint8_t *wq = malloc(rb * DIM);
    for (size_t i = 0; i < (size_t)DIM * DIM; i++) wf[i] = frand(&seed);
    for (int r = 0; r < DIM; r++) quant_quantize(type, wf + (size_t)r * DIM, wq + (size_t)r * rb, DIM);
    cpu_weight base;
    inf_error err;
    if (cpu_weight_pack(&base, "bench", type, DIM, DIM, wq, rb, NULL, &err)) {
        printf("%s: %s\n", quant_type_name(type), err.msg);
        return;
    }
    size_t wbytes = base.panel_bytes * (size_t)base.n_panels;
    int layers = (int)(mb * 1e6 / (double)wbytes);
    if (layers < 1) layers = 1;
    cpu_weight *ws = calloc((size_t)layers, sizeof *ws);
    for (int l = 0; l < layers; l++) {
        ws[l] = base;
        ws[l].panels = aligned_alloc(64, (wbytes + 63) / 64 * 64);
        memcpy(ws[l].panels, base.panels, wbytes);
    }
    const int N = 512;
    float *x = malloc(sizeof(float) * DIM * N), *y = malloc(sizeof(float) * DIM * N);
    for (size_t i = 0; i < (size_t)DIM * N; i++) x[i] = frand(&seed);
    void *scratch = malloc(cpu_matmul_scratch_bytes(type, DIM, N) + 64);

    printf("%-5s %6.3f B/weight  %s", quant_type_name(type), (double)wbytes / DIM / DIM, kt->name);
    for (int nt = 1; nt <= 2; nt++) {
        tp_pool *pool = NULL;
        tp_create(nt, -1, &pool, &err);
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            for (int l = 0; l < layers; l++)
                cpu_matmul(pool, kt, &ws[l], x, DIM, 1, y, DIM, NULL, scratch, false);
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("  | matvec %dT %6.1f GB/s", nt, (double)wbytes * layers / best / 1e9);
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            cpu_matmul(pool, kt, &base, x, DIM, N, y, DIM, NULL, scratch, false);
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("  | n=512 %dT %6.1f GFLOP/s", nt, 2.0 * DIM * DIM * N / best / 1e9);
        tp_destroy(pool);
    }
    printf("   (%d x %.1f MB)\n", layers, wbytes / 1e6);
    for (int l = 0; l < layers; l++) free(ws[l].panels);
    free(ws);
    cpu_weight_release(&base);
    free(wf); free(wq); free(x); free(y); free(scratch);
}

int main(int argc, char **argv)
{
    double mb = argc > 1 ? atof(argv[1]) : 256;
    if (getenv("INFERD_BENCH_DIM")) DIM = atoi(getenv("INFERD_BENCH_DIM"));
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    static const uint32_t all[] = {QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q8_0, QT_Q4_K, QT_Q5_K,
                                   QT_Q6_K, QT_Q3_K, QT_Q2_K, QT_Q5_1, QT_F16, QT_BF16, QT_F32};
    if (argc > 3) {
        for (int i = 3; i < argc; i++) {
            int t = quant_type_from_name(argv[i]);
            if (t >= 0) run_format((uint32_t)t, mb, reps);
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_format(all[i], mb, reps);
    return 0;
}
