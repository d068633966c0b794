/* test_cuda_mmf.c: the f16 tensor-core matmul of the cuda backend (cuda_mmf.cu:
 * packed Q4_0 / Q8_0 weights, 2..CU_MMF_MAX_N rows) through the public backend
 * API, on random inputs of awkward shapes (m not a multiple of 16 or of the
 * tiles, k = 32 * odd, 4096, 14336, k split across blocks or not, n across the
 * 8-row tiles and past the 64 of one launch). INFERD_CUDA_MMF_MAX_N is set to
 * 128 (unless set) so that rows past one launch's 64 take the kernel too.
 * Skips (77) without a usable GPU, or when INFERD_CUDA_MMF=0 turns it off.
 *
 * Each result is compared twice:
 *   with ref (ref_matmul in double): x and each dequantized weight rounded to
 *     f16 (half an ulp: 2^-11 relative each, 2^-25 absolute below 2^-14) and
 *     f32 accumulation: 1.01 * 2^-10 * sum|w x| + 2^-24 * sum|w| + 1e-5 *
 *     sum|w x| + 1e-6;
 *   with a host model of the kernel's arithmetic: x rounded to f16, each weight
 *     f16(d * (q - 8)) (Q4_0) or f16(d * q) (Q8_0), exactly as the kernel
 *     dequantizes, products summed in double. Only the f32 accumulation is
 *     left: (k / 16 + 32) * 2^-23 * sum of |products|, far below one block's
 *     share, so a block lost, misplaced or paired with the wrong x values (a
 *     wrong k permutation) shows even where the f16 bound would hide it.
 * Outputs are poisoned with NaN first: every value of the n rows must be
 * written, and row n left alone. Three matmuls on one x (q, k, v) are grouped
 * into one launch and each checked; a split-k call and a grouped one captured
 * in a CUDA graph and replayed match the direct calls bit for bit.
 *
 * --bench: time per call of the 8B shapes (q/k/v grouped 6144 x 4096, o
 * 4096 x 4096, gate/up grouped 28672 x 4096, down 4096 x 14336) for n = 1 ..
 * 128 and Q4_0 / Q8_0: "call" = back-to-back be_matmul calls on alternating x
 * (x converted every call), "kernel" = the same on one x, replayed from a CUDA
 * graph (the matmul kernels alone); median of 20 cudaEvent timings, weight GB/s
 * from the kernel time. The path each n takes is the backend's dispatch under
 * the environment, so running it under INFERD_CUDA_MMF=0 (dp4a below 5 rows,
 * int8 mma from 5) and INFERD_CUDA_MMF=0 INFERD_CUDA_MMQ_MIN_N=9 (dp4a up to
 * 8) compares the three kernels.
 *
 * cuda_mmf.cu has two kernels (registers; a cp.async pipeline) and picks one
 * by rows and format; INFERD_CUDA_MMF_CFG=1 / =2 puts all rows on one of them,
 * so running this test under each covers both on every n (gpu-check.sh). */
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


static float f16_round(float v)
{
    return quant_f16_to_f32(quant_f32_to_f16(v));
}

/* One GGUF row (k values) dequantized as the kernel does: f16(d * (q - 8)) or
 * f16(d * q), the product exact in float before its rounding. */
static void model_row(uint32_t type, const uint8_t *w, int64_t k, float *dst)
{
    for (int64_t b = 0; b < k / 32; b++) {
        if (type == QT_Q4_0) {
            const uint8_t *blk = w + 18 * b;
            float d = quant_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
            for (int j = 0; j < 16; j++) {
                dst[32 * b + j] = f16_round(d * (float)((blk[2 + j] & 15) - 8));
                dst[32 * b + 16 + j] = f16_round(d * (float)((blk[2 + j] >> 4) - 8));
            }
        } else {
            const uint8_t *blk = w + 34 * b;
            float d = quant_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
            for (int j = 0; j < 32; j++) dst[32 * b + j] = f16_round(d * (float)(int8_t)blk[2 + j]);
        }
    }
}

/* |c - r| <= tol[i]; returns the worst error / tolerance. */
static double compare(const char *what, const float *r, const float *c, const double *tol, int64_t cnt)
{
    double worst = 0;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < cnt; i++) {
        double e = fabs((double)c[i] - r[i]), q = e / tol[i];
        if (!(e <= tol[i])) {
            if (first < 0) first = i;
            bad++;
        }
        if (!(q <= worst)) worst = q;
    }
    CHECK_MSG(bad == 0, "%s: %lld of %lld values off (first at %lld: %g vs %g), worst error/tolerance %.3g",
              what, (long long)bad, (long long)cnt, (long long)first, first >= 0 ? c[first] : 0.0,
              first >= 0 ? r[first] : 0.0, worst);
    return worst;
}

static double worst_ref, worst_model;

/* A quantized random weight (m rows of k) in GGUF bytes; some blocks all zero. */
static uint8_t *rand_weight(uint32_t type, int64_t m, int64_t k)
{
    size_t rb = quant_row_size(type, k);
    float *wf = randv(m * k, 1.0f);
    for (int64_t b = 0; b < m * k / 32; b += 37) memset(wf + 32 * b, 0, 32 * sizeof(float));
    uint8_t *wq = malloc(rb * (size_t)m);
    for (int64_t r = 0; r < m; r++) quant_quantize(type, wf + r * k, wq + r * rb, k);
    free(wf);
    return wq;
}

/* Checks y (n rows of m, read back from the device: n + 1 rows, the last still
 * NaN) of x (n rows of k) times wq (+ bias) against ref's yr and the model. */
static void check_result(const char *tag, uint32_t type, int n, int64_t m, int64_t k,
                         const uint8_t *wq, const float *xv, const float *bv, const float *yr,
                         const float *yc)
{
    size_t rb = quant_row_size(type, k);
    float *wd = malloc(sizeof(float) * (size_t)k), *wm = malloc(sizeof(float) * (size_t)k);
    float *x16 = malloc(sizeof(float) * (size_t)(n * k)), *ym = malloc(sizeof(float) * (size_t)(n * m));
    double *tr = malloc(sizeof(double) * (size_t)(n * m)), *tm = malloc(sizeof(double) * (size_t)(n * m));
    for (int64_t i = 0; i < n * k; i++) x16[i] = f16_round(xv[i]);
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, wq + j * rb, wd, k);
        model_row(type, wq + j * rb, k, wm);
        double wabs = 0;
        for (int64_t c = 0; c < k; c++) wabs += fabs((double)wd[c]);
        double bj = bv ? bv[j] : 0.0;
        for (int i = 0; i < n; i++) {
            const float *xr = xv + (int64_t)i * k, *xh = x16 + (int64_t)i * k;
            double mag = 0, v = 0, mm = 0;
            for (int64_t c = 0; c < k; c++) {
                mag += fabs((double)wd[c] * xr[c]);
                double p = (double)wm[c] * xh[c];
                v += p;
                mm += fabs(p);
            }
            tr[i * m + j] = (1.01 * 0x1p-10 + 1e-5) * mag + 0x1p-24 * wabs + 1e-6;
            ym[i * m + j] = (float)(v + bj);
            tm[i * m + j] = (double)(k / 16 + 32) * 0x1p-23 * (mm + fabs(bj)) + 1e-30;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%s %s n=%d m=%lld k=%lld bias=%d vs ref", tag, quant_type_name(type),
             n, (long long)m, (long long)k, bv != NULL);
    double w1 = compare(what, yr, yc, tr, n * m);
    snprintf(what, sizeof what, "%s %s n=%d m=%lld k=%lld bias=%d vs f16 model", tag,
             quant_type_name(type), n, (long long)m, (long long)k, bv != NULL);
    double w2 = compare(what, ym, yc, tm, n * m);
    if (w1 > worst_ref) worst_ref = w1;
    if (w2 > worst_model) worst_model = w2;
    int64_t touched = 0;
    for (int64_t j = 0; j < m; j++) touched += !isnan(yc[(int64_t)n * m + j]);
    CHECK_MSG(touched == 0, "%s %s n=%d m=%lld k=%lld: %lld values of row n written", tag,
              quant_type_name(type), n, (long long)m, (long long)k, (long long)touched);
    free(wd); free(wm); free(x16); free(ym); free(tr); free(tm);
}

static float *rand_x(int n, int64_t k)
{
    float *xv = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) xv[i] = frand() * (i % 11 == 0 ? 5.0f : 1.0f);
    for (int64_t i = 7; i < n * k; i += 1001) xv[i] *= 1e-6f; /* f16 subnormals */
    return xv;
}

static float *nan_rows(int64_t rows, int64_t m)
{
    float *y = malloc(sizeof(float) * (size_t)(rows * m));
    for (int64_t i = 0; i < rows * m; i++) y[i] = NAN;
    return y;
}

static void check_mmf(uint32_t type, int n, int64_t m, int64_t k, bool bias)
{
    uint8_t *wq = rand_weight(type, m, k);
    pair W = weight(type, 2, m, k, wq);
    float *bv = randv(m, 1.0f);
    pair Bi = weight(QT_F32, 1, 1, m, bv);
    float *xv = rand_x(n, k);
    pair X = act(n + 2, k), O = act(n + 1, m);
    be_write(ref, X.r, 0, n, xv);
    be_write(cu, X.c, 0, n, xv);
    float *yc = nan_rows(n + 1, m);
    be_write(cu, O.c, 0, n + 1, yc);
    be_matmul(ref, O.r, X.r, W.r, bias ? Bi.r : NULL, n);
    be_matmul(cu, O.c, X.c, W.c, bias ? Bi.c : NULL, n);
    float *yr = malloc(sizeof(float) * (size_t)(n * m));
    INF_ASSERT(be_read(ref, O.r, 0, n, yr, NULL) == 0);
    cu_read_rows(O.c, n + 1, yc);
    check_result("mmf", type, n, m, k, wq, xv, bias ? bv : NULL, yr, yc);
    free_pair(W); free_pair(Bi); free_pair(X); free_pair(O);
    free(wq); free(bv); free(xv); free(yc); free(yr);
}

/* Three matmuls on one x, issued back to back (one launch: q, k, v), the
 * second with a bias; each against ref and the model. */
static void check_group(uint32_t type, int n, int64_t k)
{
    static const int64_t ms[3] = {1000, 200, 136};
    uint8_t *wq[3];
    pair W[3], O[3];
    float *bv = randv(ms[1], 1.0f);
    pair Bi = weight(QT_F32, 1, 1, ms[1], bv);
    float *xv = rand_x(n, k);
    pair X = act(n, k);
    be_write(ref, X.r, 0, n, xv);
    be_write(cu, X.c, 0, n, xv);
    for (int i = 0; i < 3; i++) {
        wq[i] = rand_weight(type, ms[i], k);
        W[i] = weight(type, 2, ms[i], k, wq[i]);
        O[i] = act(n + 1, ms[i]);
        float *p = nan_rows(n + 1, ms[i]);
        be_write(cu, O[i].c, 0, n + 1, p);
        free(p);
    }
    for (int i = 0; i < 3; i++) {
        be_matmul(ref, O[i].r, X.r, W[i].r, i == 1 ? Bi.r : NULL, n);
        be_matmul(cu, O[i].c, X.c, W[i].c, i == 1 ? Bi.c : NULL, n);
    }
    for (int i = 0; i < 3; i++) {
        float *yr = malloc(sizeof(float) * (size_t)(n * ms[i]));
        float *yc = malloc(sizeof(float) * (size_t)((n + 1) * ms[i]));
        INF_ASSERT(be_read(ref, O[i].r, 0, n, yr, NULL) == 0);
        cu_read_rows(O[i].c, n + 1, yc);
        check_result("mmf group", type, n, ms[i], k, wq[i], xv, i == 1 ? bv : NULL, yr, yc);
        free(yr);
        free(yc);
        free_pair(W[i]);
        free_pair(O[i]);
        free(wq[i]);
    }
    free_pair(Bi); free_pair(X);
    free(bv); free(xv);
}

typedef struct call {
    be_tensor *o[3], *x[2], *w[3], *b;
    int cnt; /* matmuls on one x (grouped) */
    int64_t n;
    int flip; /* alternate x[0] / x[1] (x converted again each call) */
    int next;
} call;

static void call_matmul(void *arg)
{
    call *c = arg;
    for (int i = 0; i < c->cnt; i++) be_matmul(cu, c->o[i], c->x[c->next], c->w[i], i ? NULL : c->b, c->n);
    if (c->flip) c->next ^= 1;
}

/* A split-k call and a grouped call, captured into a graph, give the direct
 * calls' values exactly. */
static void check_graph(int64_t m0, int cnt, int n)
{
    int64_t k = 4096, m[3] = {m0, 1024, 1024};
    float *bv = randv(m0, 1.0f), *xv = randv(n * k, 2.0f);
    be_tensor *W[3] = {NULL, NULL, NULL}, *O1[3] = {NULL, NULL, NULL}, *O2[3] = {NULL, NULL, NULL};
    be_tensor *B = cu_weight(QT_F32, 1, 1, m0, bv);
    float *y1[3], *y2[3];
    be_tensor *X1 = cu_act(n, k), *X2 = cu_act(n, k);
    be_write(cu, X1, 0, n, xv);
    be_write(cu, X2, 0, n, xv);
    for (int i = 0; i < cnt; i++) {
        uint8_t *wq = rand_weight(QT_Q4_0, m[i], k);
        W[i] = cu_weight(QT_Q4_0, 2, m[i], k, wq);
        free(wq);
        O1[i] = cu_act(n, m[i]);
        O2[i] = cu_act(n, m[i]);
        y1[i] = malloc(sizeof(float) * (size_t)(n * m[i]));
        y2[i] = nan_rows(n, m[i]);
        be_write(cu, O2[i], 0, n, y2[i]);
    }
    call c1 = {{O1[0], O1[1], O1[2]}, {X1, X1}, {W[0], W[1], W[2]}, B, cnt, n, 0, 0};
    call_matmul(&c1);
    for (int i = 0; i < cnt; i++) cu_read_rows(O1[i], n, y1[i]);
    /* a new x: its conversion is captured too */
    call c2 = {{O2[0], O2[1], O2[2]}, {X2, X2}, {W[0], W[1], W[2]}, B, cnt, n, 0, 0};
    float ms = 0;
    CHECK(cu_test_time_calls(cu, call_matmul, &c2, 1, 1, &ms) == 0);
    for (int i = 0; i < cnt; i++) {
        cu_read_rows(O2[i], n, y2[i]);
        CHECK_MSG(memcmp(y1[i], y2[i], sizeof(float) * (size_t)(n * m[i])) == 0,
                  "mmf (m %lld, %d matmuls, n %d) replayed from a CUDA graph differs from the "
                  "direct call (output %d)", (long long)m0, cnt, n, i);
        be_tensor_free(cu, W[i]); be_tensor_free(cu, O1[i]); be_tensor_free(cu, O2[i]);
        free(y1[i]); free(y2[i]);
    }
    be_tensor_free(cu, B); be_tensor_free(cu, X1); be_tensor_free(cu, X2);
    free(bv); free(xv);
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
            for (size_t e = 0; e < 8 && j + e < bb; e++) blk[j + e] = (uint8_t)(r >> (8 * e));
        }
    }
    return w;
}

static int env_int(const char *name, int dflt)
{
    const char *e = getenv(name);
    return e && *e ? atoi(e) : dflt;
}

/* The kernel the backend's dispatch picks for n rows of a packed weight. */
static const char *path_of(int n)
{
    int mmf_min = env_int("INFERD_CUDA_MMF_MIN_N", 5), mmf_max = env_int("INFERD_CUDA_MMF_MAX_N", 64);
    int mmq_min = env_int("INFERD_CUDA_MMQ_MIN_N", 5);
    if (env_int("INFERD_CUDA_MMF", 1) && n >= mmf_min && n <= mmf_max) return "mmf";
    bool mmq = env_int("INFERD_CUDA_MMQ", 1) != 0;
    if (n < 9 && !(mmq && n >= mmq_min)) return "mmvq";
    return mmq && n <= 256 ? "mmq" : "cuBLAS";
}

static void bench(void)
{
    /* m of each matmul on one x, k */
    static const struct { const char *name; int cnt; int64_t m[3], k; } shapes[] = {
        {"qkv", 3, {4096, 1024, 1024}, 4096},
        {"o", 1, {4096}, 4096},
        {"gate+up", 2, {14336, 14336}, 4096},
        {"down", 1, {4096}, 14336},
    };
    static const int ns[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128};
    static const uint32_t btypes[2] = {QT_Q4_0, QT_Q8_0};
    static const char *envs[] = {"INFERD_CUDA_MMF", "INFERD_CUDA_MMF_MIN_N", "INFERD_CUDA_MMF_MAX_N",
                                 "INFERD_CUDA_MMF_CFG", "INFERD_CUDA_MMQ_MIN_N"};
    printf("bench:");
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
        printf(" %s=%s", envs[i], getenv(envs[i]) ? getenv(envs[i]) : "-");
    printf("\n");
    printf("%-5s %-8s %6s %6s %4s %9s %9s %7s %s\n", "type", "shape", "m", "k", "n", "call us",
           "kernel us", "GB/s", "path");
    for (int ti = 0; ti < 2; ti++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t k = shapes[s].k, nmax = 128, mall = 0;
            be_tensor *W[3] = {NULL, NULL, NULL}, *O[3] = {NULL, NULL, NULL};
            for (int i = 0; i < shapes[s].cnt; i++) {
                uint8_t *wq = rand_blocks(btypes[ti], shapes[s].m[i], k);
                W[i] = cu_weight(btypes[ti], 2, shapes[s].m[i], k, wq);
                free(wq);
                O[i] = cu_act(nmax, shapes[s].m[i]);
                mall += shapes[s].m[i];
            }
            be_tensor *X[2] = {cu_act(nmax, k), cu_act(nmax, k)};
            for (int h = 0; h < 2; h++) {
                float *xv = randv(nmax * k, 2.0f);
                be_write(cu, X[h], 0, nmax, xv);
                free(xv);
            }
            double wbytes = (double)(mall * (k / 32)) * (btypes[ti] == QT_Q4_0 ? 18 : 34);
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                int n = ns[ni];
                call c = {{O[0], O[1], O[2]}, {X[0], X[1]}, {W[0], W[1], W[2]}, NULL, shapes[s].cnt, n, 1, 0};
                for (int r = 0; r < 3; r++) call_matmul(&c);
                inf_error err;
                CHECK_MSG(be_sync(cu, &err) == 0, "bench warm-up: %s", err.msg);
                double us_call = time_calls(&c, 16, 0);
                c.flip = 0;
                c.next = 0;
                call_matmul(&c); /* x[0]'s converted copy is current: the graph holds the matmuls */
                double us_kernel = time_calls(&c, 16, 1);
                printf("%-5s %-8s %6lld %6lld %4d %9.1f %9.1f %7.0f %s\n", quant_type_name(btypes[ti]),
                       shapes[s].name, (long long)mall, (long long)k, n, us_call, us_kernel,
                       wbytes / (us_kernel * 1e3), path_of(n));
                CHECK_MSG(be_sync(cu, &err) == 0, "bench: %s", err.msg);
            }
            for (int i = 0; i < shapes[s].cnt; i++) {
                be_tensor_free(cu, W[i]);
                be_tensor_free(cu, O[i]);
            }
            be_tensor_free(cu, X[0]);
            be_tensor_free(cu, X[1]);
        }
}

int main(int argc, char **argv)
{
    bool bench_mode = argc > 1 && strcmp(argv[1], "--bench") == 0;
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0; /* small shapes (memcheck) */
    cu_test_require_gpu();
    if (!bench_mode) {
        const char *env = getenv("INFERD_CUDA_MMF");
        if (env && strcmp(env, "0") == 0) check_skip("INFERD_CUDA_MMF=0: the f16 matmul is off");
        setenv("INFERD_CUDA_MMF_MAX_N", "128", 0); /* rows past one launch's 64 too */
        setenv("INFERD_CUDA_MMF_MIN_N", "2", 0);   /* and rows the dp4a kernel takes */
        setenv("INFERD_CUDA_MMF", "1", 0);
    }
    inf_error err;
    int rc = be_cuda_create(0, &cu, &err);
    CHECK_MSG(rc == 0, "be_cuda_create: %s", err.msg);
    if (rc) return check_done();
    if (bench_mode) {
        bench();
        be_destroy(cu);
        return check_done();
    }
    INF_ASSERT(be_ref_create(&ref, NULL) == 0);
    static const uint32_t types[2] = {QT_Q4_0, QT_Q8_0};
    for (int ti = 0; ti < 2; ti++) {
        /* every n of the kernel's range and past one launch, small awkward
         * shapes: m not a multiple of 16, k of 7 blocks (a partial step) */
        for (int n = 2; n <= 70; n++) check_mmf(types[ti], n, 45 + n, 224, n % 2);
        if (quick) continue;
        /* the 8B widths, the tiles' edges, a split k (few rows), odd blocks */
        static const struct { int n; int64_t m, k; bool bias; } cases[] = {
            {2, 1029, 4096, true},  {3, 4100, 4096, false}, {4, 300, 14336, true},
            {5, 1029, 4096, false}, {8, 15, 4096, true},    {9, 1029, 4096, true},
            {16, 300, 14336, false}, {17, 1, 4096, true},   {24, 259, 4128, false},
            {32, 1029, 4096, true}, {33, 100, 4096, false}, {40, 259, 4128, true},
            {48, 1029, 4096, false}, {64, 300, 14336, true}, {64, 1029, 4096, false},
            {65, 200, 4096, true},  {128, 129, 4096, false}, {7, 2100, 32, true},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            check_mmf(types[ti], cases[i].n, cases[i].m, cases[i].k, cases[i].bias);
        for (int n = 3; n <= 64; n *= 4) check_group(types[ti], n, 4096);
    }
    printf("mmf worst error / tolerance: vs ref %.3f, vs f16 model %.3f\n", worst_ref, worst_model);
    check_graph(100, 1, 16);  /* split k */
    check_graph(4096, 3, 4);  /* grouped */
    check_graph(300, 1, 100); /* two launches (64 + 36 rows) */
    CHECK(be_sync(cu, &err) == 0);
    be_destroy(cu);
    be_destroy(ref);
    return check_done();
}
