/* test_cuda_mmq.c: the int8 tensor-core matmul of the cuda backend (cuda_mmq.cu:
 * packed Q4_0 / Q8_0 weights, 9..256 rows) through the public backend API, on
 * random inputs of awkward shapes (m and n not multiples of the tiles, k not a
 * multiple of the stage, odd block counts, k split across blocks or not).
 * Skips (77) without a usable GPU, or when INFERD_CUDA_MMQ=0 turns the kernel off.
 *
 * Each result is compared twice:
 *   with ref (ref_matmul in double): the decode path's bound of test_cuda_ops,
 *     1e-5 * sum|w x| + 1e-6 for float order, plus the rounding of x to int8
 *     (one scale d = amax / 127 per 32 values moves each x by at most d / 2):
 *     sum over blocks of 1.01 * d / 2 * sum|w|;
 *   with a host model of the kernel's arithmetic: x rounded to int8 exactly as
 *     q8_x_kernel (cuda_mmvq.cu) does, integer block sums, d_w (d_x S - 8 s_x)
 *     (Q4_0) or d_w d_x S (Q8_0) summed in double. Only float rounding is left:
 *     (nb + 8) * 2.4e-7 * sum of the terms' magnitudes, far below one block's
 *     share, so a block lost or taken twice shows (the int8 bound would hide it).
 * The output is poisoned with NaN first: every value of the n rows must be
 * written, and row n must be left alone. A split-k call captured in a CUDA graph
 * and replayed must match the direct call bit for bit.
 *
 * --bench: time per call of m x k = 4096 x 4096, 14336 x 4096, 4096 x 14336 for
 * n = 1, 8 (the decode kernels), 16 ... 2048, Q4_0 and Q8_0: "call" = back-to-back
 * be_matmul calls on alternating x (x rounded to int8 every call), "kernel" = the
 * same call on one x, replayed from a CUDA graph (the matmul kernels alone);
 * median of 20 cudaEvent timings, weight GB/s and TOPS from the kernel time.
 * Past MMQ_MAX_N rows, and with INFERD_CUDA_MMQ=0 for every n >= 9, the rows
 * time the cuBLAS-on-f16 path ("call" only).
 * --quick: the small shapes only (for compute-sanitizer). --one TYPE M K N:
 * three calls of one shape (for a profiler). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_probe.h"
#include "backend/ref/ref.h"
#include "check.h"
#include "cu_test.h"
#include "cu_test_pair.h"
#include "test_rand.h"
#include "quant/quant.h"


#define MMQ_MAX_N 256 /* CU_MMQ_MAX_N (cuda_mmq.cuh): more rows go to cuBLAS */

/* The kernel's sum for one GGUF weight row and one rounded x row, in double;
 * *mag = the sum of the magnitudes of what the kernel rounds (per block
 * |d_w| (|d_x S| + 8 |s_x|) for Q4_0, |d_w d_x S| for Q8_0). */
static double model_dot(uint32_t type, const uint8_t *w, const int8_t *p, const float *dx,
                        const float *sx, int64_t nb, double *mag)
{
    double acc = 0, mg = 0;
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *pb = p + 32 * b;
        long s = 0;
        double dw, t, tm;
        if (type == QT_Q4_0) {
            const uint8_t *blk = w + 18 * b;
            dw = quant_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
            for (int j = 0; j < 16; j++)
                s += (long)(blk[2 + j] & 15) * pb[j] + (long)(blk[2 + j] >> 4) * pb[16 + j];
            t = (double)dx[b] * (double)s - 8.0 * sx[b];
            tm = fabs((double)dx[b] * (double)s) + 8.0 * fabs(sx[b]);
        } else {
            const uint8_t *blk = w + 34 * b;
            dw = quant_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
            for (int j = 0; j < 32; j++) s += (long)(int8_t)blk[2 + j] * pb[j];
            t = (double)dx[b] * (double)s;
            tm = fabs(t);
        }
        acc += dw * t;
        mg += fabs(dw) * tm;
    }
    *mag = mg;
    return acc;
}

/* |c - r| <= tol[i]; returns the worst error / tolerance. */
static double compare(const char *what, const float *r, const float *c, const double *tol, int64_t cnt)
{
    double worst = 0, md = 0;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < cnt; i++) {
        double e = fabs((double)c[i] - r[i]), q = e / tol[i];
        if (!(e <= tol[i])) {
            if (first < 0) first = i;
            bad++;
        }
        if (!(q <= worst)) worst = q;
        if (!(e <= md)) md = e;
    }
    CHECK_MSG(bad == 0, "%s: %lld of %lld values off (first at %lld: %g vs %g), worst error/tolerance %.3g",
              what, (long long)bad, (long long)cnt, (long long)first, first >= 0 ? c[first] : 0.0,
              first >= 0 ? r[first] : 0.0, worst);
    return worst;
}

static double worst_ref, worst_model;

static void check_mmq(uint32_t type, int n, int64_t m, int64_t k, bool bias)
{
    size_t rb = quant_row_size(type, k);
    int64_t nb = k / 32;
    float *wf = randv(m * k, 1.0f);
    uint8_t *wq = malloc(rb * (size_t)m);
    for (int64_t r = 0; r < m; r++) quant_quantize(type, wf + r * k, wq + r * rb, k);
    pair W = weight(type, 2, m, k, wq);
    float *bv = randv(m, 1.0f);
    pair Bi = weight(QT_F32, 1, 1, m, bv);
    float *xv = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) xv[i] = frand() * (i % 11 == 0 ? 5.0f : 1.0f);
    if (n > 3) memset(xv + 3 * k, 0, sizeof(float) * (size_t)k); /* amax 0: d = 0 */
    pair X = act(n + 2, k), O = act(n + 1, m);
    be_write(ref, X.r, 0, n, xv);
    be_write(cu, X.c, 0, n, xv);
    float *yc = malloc(sizeof(float) * (size_t)((n + 1) * m));
    for (int64_t i = 0; i < (n + 1) * m; i++) yc[i] = NAN;
    be_write(cu, O.c, 0, n + 1, yc);
    be_matmul(ref, O.r, X.r, W.r, bias ? Bi.r : NULL, n);
    be_matmul(cu, O.c, X.c, W.c, bias ? Bi.c : NULL, n);
    float *yr = malloc(sizeof(float) * (size_t)(n * m));
    INF_ASSERT(be_read(ref, O.r, 0, n, yr, NULL) == 0);
    cu_read_rows(O.c, n + 1, yc);

    /* The two bounds, and the model's values. */
    int8_t *p = malloc((size_t)(n * k));
    float *dx = malloc(sizeof(float) * (size_t)(n * nb)), *sx = malloc(sizeof(float) * (size_t)(n * nb));
    float *amax = malloc(sizeof(float) * (size_t)(n * nb));
    q8_round(xv, n * k, p, dx, sx, amax);
    float *wd = malloc(sizeof(float) * (size_t)k), *ym = malloc(sizeof(float) * (size_t)(n * m));
    double *wsum = malloc(sizeof(double) * (size_t)nb);
    double *tr = malloc(sizeof(double) * (size_t)(n * m)), *tm = malloc(sizeof(double) * (size_t)(n * m));
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, wq + j * rb, wd, k);
        for (int64_t b = 0; b < nb; b++) {
            wsum[b] = 0;
            for (int c = 0; c < 32; c++) wsum[b] += fabs((double)wd[32 * b + c]);
        }
        double bj = bias ? bv[j] : 0.0;
        for (int i = 0; i < n; i++) {
            const float *xr = xv + (int64_t)i * k;
            double mag = 0, r8 = 0, mm;
            for (int64_t c = 0; c < k; c++) mag += fabs((double)wd[c] * xr[c]);
            for (int64_t b = 0; b < nb; b++) r8 += 1.01 * amax[i * nb + b] / 254.0 * wsum[b];
            tr[i * m + j] = 1e-5 * mag + 1e-6 + r8;
            double v = model_dot(type, wq + j * rb, p + (int64_t)i * k, dx + i * nb, sx + i * nb, nb, &mm);
            ym[i * m + j] = (float)(v + bj);
            tm[i * m + j] = (double)(nb + 8) * 2.4e-7 * (mm + fabs(bj)) + 1e-30;
        }
    }
    char what[128];
    snprintf(what, sizeof what, "mmq %s n=%d m=%lld k=%lld bias=%d vs ref", quant_type_name(type), n,
             (long long)m, (long long)k, bias);
    double w1 = compare(what, yr, yc, tr, n * m);
    snprintf(what, sizeof what, "mmq %s n=%d m=%lld k=%lld bias=%d vs int8 model", quant_type_name(type),
             n, (long long)m, (long long)k, bias);
    double w2 = compare(what, ym, yc, tm, n * m);
    if (w1 > worst_ref) worst_ref = w1;
    if (w2 > worst_model) worst_model = w2;
    int64_t touched = 0;
    for (int64_t j = 0; j < m; j++) touched += !isnan(yc[(int64_t)n * m + j]);
    CHECK_MSG(touched == 0, "mmq %s n=%d m=%lld k=%lld: %lld values of row n written",
              quant_type_name(type), n, (long long)m, (long long)k, (long long)touched);
    free_pair(W); free_pair(Bi); free_pair(X); free_pair(O);
    free(wf); free(wq); free(bv); free(xv); free(yc); free(yr); free(p); free(dx); free(sx);
    free(amax); free(wd); free(ym); free(wsum); free(tr); free(tm);
}

typedef struct call {
    be_tensor *o, *x[2], *w, *b;
    int64_t n;
    int flip; /* alternate x[0] / x[1] (x rounded to int8 again each call) */
    int next;
} call;

static void call_matmul(void *arg)
{
    call *c = arg;
    be_matmul(cu, c->o, c->x[c->next], c->w, c->b, c->n);
    if (c->flip) c->next ^= 1;
}

/* A split-k call captured into a graph gives the direct call's values exactly. */
static void check_graph(void)
{
    int64_t m = 1029, k = 4096;
    int n = 40;
    size_t rb = quant_row_size(QT_Q4_0, k);
    float *wf = randv(m * k, 1.0f), *bv = randv(m, 1.0f), *xv = randv(n * k, 2.0f);
    uint8_t *wq = malloc(rb * (size_t)m);
    for (int64_t r = 0; r < m; r++) quant_quantize(QT_Q4_0, wf + r * k, wq + r * rb, k);
    be_tensor *W = cu_weight(QT_Q4_0, 2, m, k, wq), *B = cu_weight(QT_F32, 1, 1, m, bv);
    be_tensor *X1 = cu_act(n, k), *X2 = cu_act(n, k), *O1 = cu_act(n, m), *O2 = cu_act(n, m);
    be_write(cu, X1, 0, n, xv);
    be_write(cu, X2, 0, n, xv);
    float *y1 = malloc(sizeof(float) * (size_t)(n * m)), *y2 = malloc(sizeof(float) * (size_t)(n * m));
    for (int64_t i = 0; i < n * m; i++) y2[i] = NAN;
    be_write(cu, O2, 0, n, y2);
    be_matmul(cu, O1, X1, W, B, n);
    cu_read_rows(O1, n, y1);
    call c = {O2, {X2, X2}, W, B, n, 0, 0}; /* a new x: its int8 rounding is captured too */
    float ms = 0;
    CHECK(cu_test_time_calls(cu, call_matmul, &c, 1, 1, &ms) == 0);
    cu_read_rows(O2, n, y2);
    CHECK_MSG(memcmp(y1, y2, sizeof(float) * (size_t)(n * m)) == 0,
              "mmq replayed from a CUDA graph differs from the direct call");
    be_tensor_free(cu, W); be_tensor_free(cu, B); be_tensor_free(cu, X1); be_tensor_free(cu, X2);
    be_tensor_free(cu, O1); be_tensor_free(cu, O2);
    free(wf); free(bv); free(xv); free(wq); free(y1); free(y2);
}

/* ---- --bench ---- */

/* Median time per call in us (cu_test_median_us); < 0 when timing failed. */
static double time_calls(call *c, int reps, int graph)
{
    return cu_test_median_us(cu, call_matmul, c, reps, graph);
}

/* Random GGUF Q4_0 / Q8_0 rows (scales ~0.01, any quants): fast for big shapes. */
static uint8_t *rand_blocks(uint32_t type, int64_t m, int64_t k)
{
    size_t bb = type == QT_Q4_0 ? 18 : 34, blocks = (size_t)(m * (k / 32));
    uint8_t *w = malloc(bb * blocks);
    for (size_t b = 0; b < blocks; b++) {
        uint8_t *blk = w + b * bb;
        uint16_t d = quant_f32_to_f16(0.005f + 0.01f * (frand() * 0.5f + 0.5f));
        blk[0] = (uint8_t)d;
        blk[1] = (uint8_t)(d >> 8);
        for (size_t j = 2; j < bb; j += 8) {
            uint64_t r = rand64();
            for (size_t e = 0; e < 8 && j + e < bb; e++) {
                uint8_t v = (uint8_t)(r >> (8 * e));
                blk[j + e] = type == QT_Q8_0 && v == 0x80 ? 0x81 : v;
            }
        }
    }
    return w;
}

static void bench(bool mmq_on)
{
    static const int64_t shapes[3][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
    static const int ns[] = {1, 8, 16, 32, 64, 128, 256, 512, 2048};
    static const uint32_t btypes[2] = {QT_Q4_0, QT_Q8_0};
    printf("bench: n >= 9 on %s\n", mmq_on ? "mmq (int8 mma)" : "cuBLAS on f16 (INFERD_CUDA_MMQ=0)");
    printf("%-5s %6s %6s %5s %10s %10s %9s %7s\n", "type", "m", "k", "n", "call us", "kernel us",
           "GB/s", "TOPS");
    for (int ti = 0; ti < 2; ti++)
        for (int s = 0; s < 3; s++) {
            int64_t m = shapes[s][0], k = shapes[s][1], nmax = 2048;
            uint8_t *wq = rand_blocks(btypes[ti], m, k);
            be_tensor *W = cu_weight(btypes[ti], 2, m, k, wq);
            free(wq);
            be_tensor *X[2] = {cu_act(nmax, k), cu_act(nmax, k)}, *O = cu_act(nmax, m);
            for (int h = 0; h < 2; h++) {
                float *xv = randv(nmax * k, 2.0f);
                be_write(cu, X[h], 0, nmax, xv);
                free(xv);
            }
            double wbytes = (double)(m * (k / 32)) * (btypes[ti] == QT_Q4_0 ? 18 : 34);
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                int n = ns[ni], reps = n >= 512 ? 4 : 16;
                call c = {O, {X[0], X[1]}, W, NULL, n, 1, 0};
                for (int r = 0; r < 3; r++) call_matmul(&c);
                inf_error err;
                CHECK_MSG(be_sync(cu, &err) == 0, "bench warm-up: %s", err.msg);
                double us_call = time_calls(&c, reps, 0), us_kernel = -1;
                bool mmq = mmq_on && n <= MMQ_MAX_N;
                if (mmq || n < 9) {
                    c.flip = 0;
                    c.next = 0;
                    call_matmul(&c); /* x[0]'s int8 copy is current: the graph holds the matmul alone */
                    us_kernel = time_calls(&c, reps, 1);
                }
                double us = us_kernel > 0 ? us_kernel : us_call;
                printf("%-5s %6lld %6lld %5d %10.1f %10.1f %9.0f %7.1f%s\n",
                       quant_type_name(btypes[ti]), (long long)m, (long long)k, n, us_call,
                       us_kernel, wbytes / (us * 1e3), 2.0 * n * m * k / (us * 1e6),
                       n < 9 ? "  (mmvq)" : mmq ? "" : "  (cuBLAS)");
                CHECK_MSG(be_sync(cu, &err) == 0, "bench: %s", err.msg);
            }
            be_tensor_free(cu, W);
            be_tensor_free(cu, X[0]);
            be_tensor_free(cu, X[1]);
            be_tensor_free(cu, O);
        }
}

/* --one TYPE M K N: three calls of one shape (for a profiler). */
static void one(const char *type_name, int64_t m, int64_t k, int n)
{
    uint32_t type = strcmp(type_name, "q8_0") == 0 ? QT_Q8_0 : QT_Q4_0;
    uint8_t *wq = rand_blocks(type, m, k);
    be_tensor *W = cu_weight(type, 2, m, k, wq), *X = cu_act(n, k), *O = cu_act(n, m);
    float *xv = randv(n * k, 2.0f);
    be_write(cu, X, 0, n, xv);
    for (int r = 0; r < 3; r++) be_matmul(cu, O, X, W, NULL, n);
    inf_error err;
    CHECK_MSG(be_sync(cu, &err) == 0, "one: %s", err.msg);
    be_tensor_free(cu, W); be_tensor_free(cu, X); be_tensor_free(cu, O);
    free(wq); free(xv);
}

int main(int argc, char **argv)
{
    bool bench_mode = argc > 1 && strcmp(argv[1], "--bench") == 0;
    bool one_mode = argc > 5 && strcmp(argv[1], "--one") == 0;
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0; /* small shapes (memcheck) */
    cu_test_require_gpu();
    const char *env = getenv("INFERD_CUDA_MMQ");
    bool mmq_on = !(env && strcmp(env, "0") == 0);
    if (!bench_mode && !one_mode && !mmq_on) check_skip("INFERD_CUDA_MMQ=0: the int8 matmul is off");
    /* rows the f16 tensor-core kernel would take (2..64) come here instead,
     * unless the caller says otherwise (test_cuda_mmf covers that kernel) */
    setenv("INFERD_CUDA_MMF", "0", 0);
    inf_error err;
    int rc = be_cuda_create(0, &cu, &err);
    CHECK_MSG(rc == 0, "be_cuda_create: %s", err.msg);
    if (rc) return check_done();
    if (bench_mode || one_mode) {
        if (bench_mode)
            bench(mmq_on);
        else
            one(argv[2], atoll(argv[3]), atoll(argv[4]), atoi(argv[5]));
        be_destroy(cu);
        return check_done();
    }
    INF_ASSERT(be_ref_create(&ref, NULL) == 0);
    /* n, m, k, bias: n across the 16 / 32 / 64 / 128 tiles and their edges up to
     * MMQ_MAX_N, m below and across the 128-row tile, k of 1, 2, 3 (odd), 11
     * (odd, a partial stage), 64 and 448 blocks; most shapes split k, the
     * last two (two stages each) and 250 x 2100 do not. */
    static const struct { int n; int64_t m, k; bool bias; } cases[] = {
        {9, 31, 96, true},     {16, 100, 4096, false},  {17, 1029, 96, true},
        {33, 1, 32, false},    {64, 520, 4096, true},   {65, 100, 14336, false},
        {100, 4096, 96, true}, {256, 31, 4096, false},  {250, 2100, 32, true},
        {9, 1029, 14336, true}, {200, 300, 2048, false}, {16, 4096, 4096, true},
        {33, 4096, 1024, false}, {129, 257, 352, true},  {128, 130, 2048, false},
        {256, 4300, 256, true}, {16, 33800, 256, false},
    };
    static const uint32_t types[2] = {QT_Q4_0, QT_Q8_0};
    for (int ti = 0; ti < 2; ti++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (!quick || (double)cases[i].n * cases[i].m * cases[i].k < 2e7)
                check_mmq(types[ti], cases[i].n, cases[i].m, cases[i].k, cases[i].bias);
    printf("mmq worst error / tolerance: vs ref %.3f, vs int8 model %.3f\n", worst_ref, worst_model);
    check_graph();
    CHECK(be_sync(cu, &err) == 0);
    be_destroy(cu);
    be_destroy(ref);
    return check_done();
}
