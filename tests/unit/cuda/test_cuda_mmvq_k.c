/* test_cuda_mmvq_k.c: the int8 decode matmul of the cuda backend on Q4_K, Q5_K
 * and Q6_K weights (cuda_mmvq_k.cu: 1..8 rows of x) through the public backend
 * API, at awkward shapes: k of 1, 3, 16, 32, 48 and 56 super-blocks (256, 768,
 * 4096, 8192, 12288, 14336: one warp a row, and rows split over 2 and 4 warps),
 * m not a multiple of the 1 to 8 rows a block, n = 1..8 (launches of 1, 2, 3, 4
 * and 8 rows, and 4 + 1 ... 4 + 3 in two launches), bias on odd n. Weights are random
 * bytes (every bit of the packed 6-bit scales and mins, negative Q6_K scales)
 * with small f16 scales, plus one shape of quantized random floats. Skips (77)
 * without a usable GPU, or when INFERD_CUDA_MMVQ_K=0 turns the kernel off.
 *
 * Each result is compared twice:
 *   with ref (ref_matmul): 1e-5 * sum|w x| + 1e-6 for float order, plus the
 *     rounding of x to int8 (one scale d = amax / 127 per 32 values moves each
 *     x by at most d / 2): sum over x blocks of 1.01 * d / 2 * sum|w|. The min
 *     terms (Q4_K / Q5_K) use s_x = d sum p, the sum of the rounded values, so
 *     the kernel's result is exactly the dot product with the rounded x and the
 *     same bound holds;
 *   with a host model of the kernel's arithmetic: x rounded exactly as
 *     q8_x_kernel (cuda_mmvq.cu), integer sums per sub-block, then
 *     d sc_j d_x S_j - dmin m_j s_x (Q4_K, Q5_K) or d d_x (sc_j S_lo + sc_j+1 S_hi)
 *     (Q6_K) summed in double. Only float rounding is left: (k / 32 + 8) *
 *     2.4e-7 * the sum of the terms' magnitudes. A negative control checks that
 *     this bound catches a lost x block: the model without one x block's terms
 *     must fail on at least 75% of the outputs (k = 14336 has 448 x blocks, so
 *     one of them is a small part of a sum; on the H200 the weakest shape caught
 *     83%, the rest all or nearly all).
 * The output is poisoned with NaN first: every value of the n rows must be
 * written, and row n must be left alone.
 *
 * --bench: kernel time per call of m x k = 4096 x 4096, 14336 x 4096,
 * 4096 x 14336 and 128256 x 4096 (an 8B model's matrices and its output) for
 * n = 1, 2, 4, 8, per format, replayed from a CUDA graph on an x whose int8
 * copy is current (the matmul kernels alone); median of 20 timings, weight GB/s.
 * Run it once more with INFERD_CUDA_MMVQ_K=0 for the f32 kernel (cuda_mmv.cu). */
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
#define TEST_RAND_SEED 0x6a09e667f3bcc908ull
#include "test_rand.h"
#include "quant/quant.h"


static be_tensor *ref_act(int64_t rows, int64_t width)
{
    int64_t ne[2] = {width, rows};
    be_tensor *t = NULL;
    INF_ASSERT(be_tensor_alloc(ref, "a", 2, ne, &t, NULL) == 0);
    return t;
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = quant_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

static float get_f16(const uint8_t *p)
{
    return quant_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

static size_t block_bytes(uint32_t type)
{
    return type == QT_Q4_K ? 144 : type == QT_Q5_K ? 176 : 210;
}

/* m rows of k values of random blocks: random bytes, then d (and dmin) set to
 * small positive f16 values, so that outputs stay of order one. */
static uint8_t *rand_blocks(uint32_t type, int64_t m, int64_t k)
{
    size_t bb = block_bytes(type), blocks = (size_t)(m * (k / 256));
    uint8_t *w = malloc(bb * blocks);
    for (size_t i = 0; i < bb * blocks; i += 8) {
        uint64_t r = rand64();
        for (size_t e = 0; e < 8 && i + e < bb * blocks; e++) w[i + e] = (uint8_t)(r >> (8 * e));
    }
    for (size_t b = 0; b < blocks; b++) {
        uint8_t *blk = w + b * bb;
        float d = 0.0005f + 0.001f * (frand() * 0.5f + 0.5f);
        if (type == QT_Q6_K) {
            put_f16(blk + 208, d * 0.1f);
        } else {
            put_f16(blk, d);
            put_f16(blk + 2, d * (frand() * 0.5f + 0.5f));
        }
    }
    return w;
}

/* The 6-bit scale and min of sub-block j of a Q4_K / Q5_K block (blocks.h). */
static void scale_min(const uint8_t *s, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Quant of element e (0..255) of a block, as an integer (Q6_K: minus 32). */
static int quant_at(uint32_t type, const uint8_t *blk, int e)
{
    if (type == QT_Q6_K) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        int lo = (blk[64 * h + 32 * (s & 1) + l] >> (4 * (s >> 1))) & 15;
        int hi = (blk[128 + 32 * h + l] >> (2 * s)) & 3;
        return (lo | hi << 4) - 32;
    }
    int j = e / 32, l = e % 32;
    const uint8_t *qs = blk + (type == QT_Q4_K ? 16 : 48);
    int q = (qs[32 * (j / 2) + l] >> (4 * (j & 1))) & 15;
    if (type == QT_Q5_K) q |= ((blk[16 + l] >> j) & 1) << 4;
    return q;
}

/* The kernel's sum for one GGUF weight row and one rounded x row, in double;
 * *mag = the sum of the magnitudes of the terms it rounds. x block `drop` is
 * left out (a wrong kernel, for the negative control); -1 keeps all. */
static double model_dot(uint32_t type, const uint8_t *w, const int8_t *p, const float *dx,
                        const float *sx, int64_t nb, int64_t drop, double *mag)
{
    double acc = 0, mg = 0;
    size_t bb = block_bytes(type);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = w + (size_t)b * bb;
        for (int j = 0; j < 8; j++) { /* x block 8b + j */
            int64_t xb = 8 * b + j;
            const int8_t *pb = p + 32 * xb;
            double t, tm;
            if (type == QT_Q6_K) {
                long s0 = 0, s1 = 0;
                for (int l = 0; l < 16; l++) s0 += (long)quant_at(type, blk, 32 * j + l) * pb[l];
                for (int l = 16; l < 32; l++) s1 += (long)quant_at(type, blk, 32 * j + l) * pb[l];
                /* x block j = 4h + s holds sub-blocks 8h + 2s and 8h + 2s + 1 */
                int sub = 8 * (j / 4) + 2 * (j % 4);
                long in = (long)(int8_t)blk[192 + sub] * s0 + (long)(int8_t)blk[192 + sub + 1] * s1;
                t = (double)get_f16(blk + 208) * (double)dx[xb] * (double)in;
                tm = fabs(t);
            } else {
                long s = 0;
                for (int l = 0; l < 32; l++) s += (long)quant_at(type, blk, 32 * j + l) * pb[l];
                int sc, mn;
                scale_min(blk + 4, j, &sc, &mn);
                double a = (double)get_f16(blk) * sc * (double)dx[xb] * (double)s;
                double c = (double)get_f16(blk + 2) * mn * (double)sx[xb];
                t = a - c;
                tm = fabs(a) + fabs(c);
            }
            if (xb == drop) continue;
            acc += t;
            mg += tm;
        }
    }
    *mag = mg;
    return acc;
}

/* Values off: |c - r| > tol[i]; *worst = the worst error / tolerance. */
static int64_t count_off(const float *r, const float *c, const double *tol, int64_t cnt,
                         double *worst, int64_t *first)
{
    int64_t bad = 0;
    *worst = 0;
    *first = -1;
    for (int64_t i = 0; i < cnt; i++) {
        double e = fabs((double)c[i] - r[i]), q = e / tol[i];
        if (!(e <= tol[i])) {
            if (*first < 0) *first = i;
            bad++;
        }
        if (!(q <= *worst)) *worst = q;
    }
    return bad;
}

static double compare(const char *what, const float *r, const float *c, const double *tol, int64_t cnt)
{
    double worst;
    int64_t first, bad = count_off(r, c, tol, cnt, &worst, &first);
    CHECK_MSG(bad == 0, "%s: %lld of %lld values off (first at %lld: %g vs %g), worst error/tolerance %.3g",
              what, (long long)bad, (long long)cnt, (long long)first, first >= 0 ? c[first] : 0.0,
              first >= 0 ? r[first] : 0.0, worst);
    return worst;
}

static double worst_ref, worst_model, weakest_control = 1.0;

/* One weight (GGUF bytes wq, m rows of k) against ref and the model for every n
 * in ns (n <= 8: more rows go to another path), bias on odd n. */
static void check_weight(uint32_t type, const uint8_t *wq, int64_t m, int64_t k, const int *ns, int nn)
{
    size_t rb = quant_row_size(type, k);
    int64_t nb = k / 256, nx = k / 32, nmax = 0;
    for (int i = 0; i < nn; i++) nmax = ns[i] > nmax ? ns[i] : nmax;
    be_tensor *Wr = upload_weight(ref, type, 2, m, k, wq), *Wc = upload_weight(cu, type, 2, m, k, wq);
    float *bv = randv(m, 1.0f);
    be_tensor *Br = upload_weight(ref, QT_F32, 1, 1, m, bv), *Bc = upload_weight(cu, QT_F32, 1, 1, m, bv);
    be_tensor *Xr = ref_act(nmax + 2, k), *Xc = cu_act(nmax + 2, k);
    be_tensor *Or = ref_act(nmax + 1, m), *Oc = cu_act(nmax + 1, m);
    float *wd = malloc(sizeof(float) * (size_t)k);
    double *wsum = malloc(sizeof(double) * (size_t)(m * nx)); /* sum |w| per x block */
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, wq + j * rb, wd, k);
        for (int64_t b = 0; b < nx; b++) {
            double s = 0;
            for (int c = 0; c < 32; c++) s += fabs((double)wd[32 * b + c]);
            wsum[j * nx + b] = s;
        }
    }
    for (int ni = 0; ni < nn; ni++) {
        int n = ns[ni];
        bool bias = n % 2 == 1;
        float *xv = malloc(sizeof(float) * (size_t)(n * k));
        for (int64_t i = 0; i < n * k; i++) xv[i] = frand() * (i % 11 == 0 ? 5.0f : 1.0f);
        if (n > 3) memset(xv + 2 * k + 32, 0, sizeof(float) * 64); /* amax 0: d = 0 */
        be_write(ref, Xr, 0, n, xv);
        be_write(cu, Xc, 0, n, xv);
        float *yc = malloc(sizeof(float) * (size_t)((n + 1) * m));
        for (int64_t i = 0; i < (n + 1) * m; i++) yc[i] = NAN;
        be_write(cu, Oc, 0, n + 1, yc);
        be_matmul(ref, Or, Xr, Wr, bias ? Br : NULL, n);
        be_matmul(cu, Oc, Xc, Wc, bias ? Bc : NULL, n);
        float *yr = malloc(sizeof(float) * (size_t)(n * m));
        INF_ASSERT(be_read(ref, Or, 0, n, yr, NULL) == 0);
        inf_error err;
        int rc = be_read(cu, Oc, 0, n + 1, yc, &err);
        CHECK_MSG(rc == 0, "cuda read: %s", err.msg);

        int8_t *p = malloc((size_t)(n * k));
        float *dx = malloc(sizeof(float) * (size_t)(n * nx)), *sx = malloc(sizeof(float) * (size_t)(n * nx));
        float *amax = malloc(sizeof(float) * (size_t)(n * nx));
        q8_round(xv, n * k, p, dx, sx, amax);
        float *ym = malloc(sizeof(float) * (size_t)(n * m)), *yw = malloc(sizeof(float) * (size_t)(n * m));
        double *tr = malloc(sizeof(double) * (size_t)(n * m)), *tm = malloc(sizeof(double) * (size_t)(n * m));
        for (int64_t j = 0; j < m; j++) {
            quant_dequantize(type, wq + j * rb, wd, k);
            double bj = bias ? bv[j] : 0.0;
            for (int i = 0; i < n; i++) {
                const float *xr = xv + (int64_t)i * k;
                double mag = 0, r8 = 0, mm, mw;
                for (int64_t c = 0; c < k; c++) mag += fabs((double)wd[c] * xr[c]);
                for (int64_t b = 0; b < nx; b++) r8 += 1.01 * amax[i * nx + b] / 254.0 * wsum[j * nx + b];
                tr[i * m + j] = 1e-5 * mag + 1e-6 + r8;
                const int8_t *pi = p + (int64_t)i * k;
                double v = model_dot(type, wq + j * rb, pi, dx + i * nx, sx + i * nx, nb, -1, &mm);
                ym[i * m + j] = (float)(v + bj);
                tm[i * m + j] = (double)(nx + 8) * 2.4e-7 * (mm + fabs(bj)) + 1e-30;
                /* a wrong kernel: one x block (a different one per output) lost */
                int64_t drop = (j * 7 + i * 3) % nx;
                yw[i * m + j] = (float)(model_dot(type, wq + j * rb, pi, dx + i * nx, sx + i * nx, nb,
                                                  drop, &mw) + bj);
            }
        }
        char what[128];
        snprintf(what, sizeof what, "mmvq_k %s n=%d m=%lld k=%lld bias=%d vs ref", quant_type_name(type),
                 n, (long long)m, (long long)k, bias);
        double w1 = compare(what, yr, yc, tr, n * m);
        snprintf(what, sizeof what, "mmvq_k %s n=%d m=%lld k=%lld bias=%d vs int8 model",
                 quant_type_name(type), n, (long long)m, (long long)k, bias);
        double w2 = compare(what, ym, yc, tm, n * m);
        if (w1 > worst_ref) worst_ref = w1;
        if (w2 > worst_model) worst_model = w2;
        /* negative control: the model's bound must reject the wrong model's values */
        double ww;
        int64_t first, caught = count_off(yw, ym, tm, n * m, &ww, &first);
        double frac = (double)caught / (double)(n * m);
        CHECK_MSG(frac >= 0.75, "%s: a lost x block shows in only %.0f%% of the outputs", what, 100 * frac);
        if (frac < weakest_control) weakest_control = frac;
        int64_t touched = 0;
        for (int64_t j = 0; j < m; j++) touched += !isnan(yc[(int64_t)n * m + j]);
        CHECK_MSG(touched == 0, "mmvq_k %s n=%d m=%lld k=%lld: %lld values of row n written",
                  quant_type_name(type), n, (long long)m, (long long)k, (long long)touched);
        free(xv); free(yc); free(yr); free(p); free(dx); free(sx); free(amax); free(ym); free(yw);
        free(tr); free(tm);
    }
    be_tensor_free(ref, Wr); be_tensor_free(cu, Wc); be_tensor_free(ref, Br); be_tensor_free(cu, Bc);
    be_tensor_free(ref, Xr); be_tensor_free(cu, Xc); be_tensor_free(ref, Or); be_tensor_free(cu, Oc);
    free(bv); free(wd); free(wsum);
}

static void check_type(uint32_t type)
{
    static const int all[] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const int some[] = {1, 3, 8};
    /* m, k: m below, at and across the rows a block (4 / 8 / 2 / 1 with the row
     * splits), k of 1, 3, 16, 56 super-blocks. */
    static const struct { int64_t m, k; int all_n; } shapes[] = {
        {1, 256, 1},    {37, 256, 1},   {130, 768, 1}, {3, 768, 0},
        {1029, 4096, 1}, {5, 4096, 0},  {70, 14336, 1}, {2, 14336, 0},
        {33, 8192, 0},   {9, 12288, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s].m, k = shapes[s].k;
        uint8_t *wq = rand_blocks(type, m, k);
        if (shapes[s].all_n)
            check_weight(type, wq, m, k, all, 8);
        else
            check_weight(type, wq, m, k, some, 3);
        free(wq);
    }
    /* quantized floats: scales as the quantizer sets them */
    int64_t m = 45, k = 768;
    size_t rb = quant_row_size(type, k);
    float *wf = randv(m * k, 1.0f);
    uint8_t *wq = malloc(rb * (size_t)m);
    for (int64_t r = 0; r < m; r++) quant_quantize(type, wf + r * k, wq + r * rb, k);
    check_weight(type, wq, m, k, some, 3);
    free(wf);
    free(wq);
}

/* ---- --bench ---- */

typedef struct call {
    be_tensor *o, *x, *w;
    int64_t n;
} call;

static void call_matmul(void *arg)
{
    call *c = arg;
    be_matmul(cu, c->o, c->x, c->w, NULL, c->n);
}

static void bench(bool on)
{
    static const int64_t shapes[4][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
    static const int ns[] = {1, 2, 4, 8};
    static const uint32_t types[3] = {QT_Q4_K, QT_Q5_K, QT_Q6_K};
    printf("bench: %s\n", on ? "int8 (cuda_mmvq_k.cu)" : "f32 dequantize-and-dot (INFERD_CUDA_MMVQ_K=0)");
    printf("%-5s %7s %6s %3s %10s %8s\n", "type", "m", "k", "n", "kernel us", "GB/s");
    for (int ti = 0; ti < 3; ti++)
        for (int s = 0; s < 4; s++) {
            int64_t m = shapes[s][0], k = shapes[s][1];
            uint8_t *wq = rand_blocks(types[ti], m, k);
            be_tensor *W = cu_weight(types[ti], 2, m, k, wq);
            free(wq);
            be_tensor *X = cu_act(8, k), *O = cu_act(8, m);
            float *xv = randv(8 * k, 2.0f);
            be_write(cu, X, 0, 8, xv);
            free(xv);
            double wbytes = (double)quant_row_size(types[ti], k) * (double)m;
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                call c = {O, X, W, ns[ni]};
                call_matmul(&c); /* x's int8 copy is current: the graph holds the matmul alone */
                inf_error err;
                CHECK_MSG(be_sync(cu, &err) == 0, "bench warm-up: %s", err.msg);
                double us = cu_test_median_us(cu, call_matmul, &c, m > 100000 ? 4 : 16, 1);
                CHECK(us > 0);
                if (us <= 0) break;
                printf("%-5s %7lld %6lld %3d %10.1f %8.0f\n", quant_type_name(types[ti]), (long long)m,
                       (long long)k, ns[ni], us, wbytes / (us * 1e3));
            }
            be_tensor_free(cu, W);
            be_tensor_free(cu, X);
            be_tensor_free(cu, O);
        }
}

int main(int argc, char **argv)
{
    bool bench_mode = argc > 1 && strcmp(argv[1], "--bench") == 0;
    cu_test_require_gpu();
    const char *env = getenv("INFERD_CUDA_MMVQ_K");
    bool on = !(env && strcmp(env, "0") == 0);
    if (!bench_mode && !on) check_skip("INFERD_CUDA_MMVQ_K=0: the int8 K-quant matmul is off");
    inf_error err;
    int rc = be_cuda_create(0, &cu, &err);
    CHECK_MSG(rc == 0, "be_cuda_create: %s", err.msg);
    if (rc) return check_done();
    if (bench_mode) {
        bench(on);
        be_destroy(cu);
        return check_done();
    }
    INF_ASSERT(be_ref_create(&ref, NULL) == 0);
    check_type(QT_Q4_K);
    check_type(QT_Q5_K);
    check_type(QT_Q6_K);
    printf("mmvq_k worst error / tolerance: vs ref %.3f, vs int8 model %.3f; a lost x block "
           "caught in >= %.0f%% of outputs\n", worst_ref, worst_model, 100 * weakest_control);
    CHECK(be_sync(cu, &err) == 0);
    be_destroy(cu);
    be_destroy(ref);
    return check_done();
}
