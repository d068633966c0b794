/* test_cuda_ops.c: every op of the cuda backend against the ref backend on
 * random inputs of awkward sizes. Skips (77) without a usable GPU.
 *
 * Tolerances, as a bound on |cuda - ref| per value:
 *   matmul, decode path (n < CU_GEMM_MIN_N = 9): float accumulation order,
 *     1e-5 * sum|w x| + 1e-6; Q4_0 and Q8_0 round x to int8 with one scale
 *     d = amax / 127 per 32 values (cuda_mmvq.cu), which moves each x by at
 *     most d / 2, so their bound adds sum over blocks of d / 2 * sum|w|; so do
 *     Q4_K, Q5_K and Q6_K (cuda_mmvq_k.cu; INFERD_CUDA_MMVQ_K=0 gives their f32
 *     kernel, well inside the looser bound);
 *   matmul, prefill path (n >= 9, cuBLAS on f16): x and the dequantized weight
 *     are rounded to f16 (relative 2^-11 each), so 1.5e-3 * sum|w x| + 1e-5;
 *     F32 weights stay f32: 1e-5 * sum|w x|;
 *   embed, KV round trips: exact up to 1e-6 relative;
 *   norms, RoPE, activations, softmax: 2e-6 relative to the magnitudes involved;
 *   attention: 2e-5 absolute on outputs of magnitude ~1 (float vs double);
 *   grouped decode matmuls (Q4_0 / Q8_0 and the K formats): bit for bit against
 *   the same matmuls launched one by one.
 * Prints the worst error/tolerance per op and the max |diff| per weight format. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_probe.h"
#include "backend/ref/ref.h"
#include "check.h"
#include "cu_test.h"
#define TEST_RAND_SEED 0x2545f4914f6cdd1dull
#include "test_rand.h"
#include "quant/quant.h"

static be_backend *ref, *cu;

typedef struct pair {
    be_tensor *r, *c;
} pair;

static pair act(int64_t rows, int64_t width, const float *init)
{
    pair p = {NULL, NULL};
    int64_t ne[2] = {width, rows};
    inf_error err;
    INF_ASSERT(be_tensor_alloc(ref, "a", 2, ne, &p.r, &err) == 0);
    int rc = be_tensor_alloc(cu, "a", 2, ne, &p.c, &err);
    CHECK_MSG(rc == 0, "cuda alloc: %s", err.msg);
    INF_ASSERT(rc == 0);
    if (init) {
        be_write(ref, p.r, 0, rows, init);
        be_write(cu, p.c, 0, rows, init);
    }
    return p;
}

static pair rand_act(int64_t rows, int64_t width, float amp)
{
    float *v = randv(rows * width, amp);
    pair p = act(rows, width, v);
    free(v);
    return p;
}

static pair weight(uint32_t type, int n_dims, int64_t rows, int64_t width, const void *data)
{
    pair p = {NULL, NULL};
    int64_t ne[2] = {width, rows};
    size_t bytes = quant_row_size(type, width) * (size_t)rows;
    inf_error err;
    INF_ASSERT(be_weight_upload(ref, "w", type, n_dims, ne, data, bytes, &p.r, &err) == 0);
    int rc = be_weight_upload(cu, "w", type, n_dims, ne, data, bytes, &p.c, &err);
    CHECK_MSG(rc == 0, "cuda upload %s: %s", quant_type_name(type), err.msg);
    INF_ASSERT(rc == 0);
    return p;
}

static void free_pair(pair p)
{
    be_tensor_free(ref, p.r);
    be_tensor_free(cu, p.c);
}

static void read_pair(pair p, int64_t n, float *r, float *c)
{
    inf_error err;
    INF_ASSERT(be_read(ref, p.r, 0, n, r, NULL) == 0);
    int rc = be_read(cu, p.c, 0, n, c, &err);
    CHECK_MSG(rc == 0, "cuda read: %s", err.msg);
}

static void set_batch(int n, const int32_t *tok, const int32_t *pos, const int32_t *seq, int n_seq,
                      const model_batch_seq *seqs, int n_out, const int32_t *out_rows)
{
    model_batch b = {n, tok, pos, seq, n_seq, seqs, n_out, out_rows};
    inf_error err;
    INF_ASSERT(be_batch_set(ref, &b, NULL) == 0);
    int rc = be_batch_set(cu, &b, &err);
    CHECK_MSG(rc == 0, "cuda batch_set: %s", err.msg);
}

/* |c - r| <= tol[i] (or tol0 when tol is NULL); returns worst error/tolerance. */
static double compare(const char *what, const float *r, const float *c, const double *tol,
                      double tol0, int64_t cnt, double *maxdiff)
{
    double worst = 0, md = 0;
    int bad = 0;
    for (int64_t i = 0; i < cnt; i++) {
        double t = tol ? tol[i] : tol0;
        double e = fabs((double)c[i] - r[i]), q = e / t;
        if (!(e <= t)) bad++;
        if (!(q <= worst)) worst = q;
        if (!(e <= md)) md = e;
    }
    CHECK_MSG(bad == 0, "%s: %d of %lld values off, worst error/tolerance %.3g (max diff %.3g)",
              what, bad, (long long)cnt, worst, md);
    if (maxdiff && md > *maxdiff) *maxdiff = md;
    return worst;
}

/* ---- matmul and embed, per weight format ---- */

static const uint32_t types[] = {QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0,
                                 QT_Q5_1, QT_Q8_0, QT_Q4_K, QT_Q5_K, QT_Q6_K};
#define N_TYPES (sizeof types / sizeof types[0])

static double worst_mm, maxdiff_mm[N_TYPES], maxdiff_gemm[N_TYPES];

static void check_matmul(int ti, int64_t m, int64_t k, int n, bool bias)
{
    uint32_t type = types[ti];
    size_t rb = quant_row_size(type, k);
    float *wf = randv(m * k, 1.0f);
    uint8_t *wq = malloc(rb * (size_t)m);
    for (int64_t r = 0; r < m; r++) quant_quantize(type, wf + r * k, wq + r * rb, k);
    pair W = weight(type, 2, m, k, wq);
    float *bv = randv(m, 1.0f);
    pair Bi = weight(QT_F32, 1, 1, m, bv);
    float *xv = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) xv[i] = frand() * (i % 11 == 0 ? 5.0f : 1.0f);
    pair X = act(n + 2, k, NULL);
    be_write(ref, X.r, 0, n, xv);
    be_write(cu, X.c, 0, n, xv);
    pair O = act(n + 1, m, NULL);
    be_matmul(ref, O.r, X.r, W.r, bias ? Bi.r : NULL, n);
    be_matmul(cu, O.c, X.c, W.c, bias ? Bi.c : NULL, n);
    float *yr = malloc(sizeof(float) * (size_t)(n * m)), *yc = malloc(sizeof(float) * (size_t)(n * m));
    read_pair(O, n, yr, yc);

    /* Q4_0 / Q8_0 round x to int8 on both paths (n >= 9: cuda_mmq.cu), unless
     * INFERD_CUDA_MMQ=0 sends n >= 9 to cuBLAS on f16. */
    const char *mq = getenv("INFERD_CUDA_MMQ");
    bool kq = type == QT_Q4_K || type == QT_Q5_K || type == QT_Q6_K; /* cuda_mmvq_k.cu */
    bool gemm = n >= 9, int8x = ((type == QT_Q4_0 || type == QT_Q8_0) &&
                                 (!gemm || !(mq && strcmp(mq, "0") == 0))) || (kq && !gemm);
    bool f16 = gemm && !int8x && type != QT_F32;
    double rel = f16 ? 1.5e-3 : 1e-5, abs0 = gemm ? 1e-5 : 1e-6;
    float *wd = malloc(sizeof(float) * (size_t)k);
    double *tol = malloc(sizeof(double) * (size_t)(n * m));
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, wq + j * rb, wd, k);
        for (int i = 0; i < n; i++) {
            double mag = 0;
            for (int64_t c = 0; c < k; c++) mag += fabs((double)wd[c] * xv[(int64_t)i * k + c]);
            tol[i * m + j] = rel * mag + abs0;
            if (int8x)
                for (int64_t b = 0; b < k / 32; b++) {
                    double amax = 0, wsum = 0;
                    for (int64_t c = 32 * b; c < 32 * b + 32; c++) {
                        double a = fabs((double)xv[(int64_t)i * k + c]);
                        if (a > amax) amax = a;
                        wsum += fabs((double)wd[c]);
                    }
                    tol[i * m + j] += 1.01 * amax / 254.0 * wsum;
                }
        }
    }
    char what[96];
    snprintf(what, sizeof what, "matmul %s m=%lld k=%lld n=%d bias=%d", quant_type_name(type),
             (long long)m, (long long)k, n, bias);
    double w = compare(what, yr, yc, tol, 0, n * m, gemm ? &maxdiff_gemm[ti] : &maxdiff_mm[ti]);
    if (w > worst_mm) worst_mm = w;
    free_pair(W); free_pair(Bi); free_pair(X); free_pair(O);
    free(wf); free(wq); free(bv); free(xv); free(yr); free(yc); free(wd); free(tol);
}

static void check_embed_and_read(int ti, int64_t v, int64_t d)
{
    uint32_t type = types[ti];
    size_t rb = quant_row_size(type, d);
    float *wf = randv(v * d, 1.0f);
    uint8_t *wq = malloc(rb * (size_t)v);
    for (int64_t r = 0; r < v; r++) quant_quantize(type, wf + r * d, wq + r * rb, d);
    pair W = weight(type, 2, v, d, wq);
    int n = 13;
    int32_t tok[13], pos[13], seq[13];
    for (int i = 0; i < n; i++) {
        tok[i] = irand((int)v);
        pos[i] = i;
        seq[i] = 0;
    }
    int32_t blocks[4] = {0, 1, 2, 3};
    model_batch_seq s = {blocks, 4, n};
    set_batch(n, tok, pos, seq, 1, &s, 0, NULL);
    pair O = act(n, d, NULL);
    be_embed(ref, O.r, W.r, n);
    be_embed(cu, O.c, W.c, n);
    float *a = malloc(sizeof(float) * (size_t)(v * d)), *b = malloc(sizeof(float) * (size_t)(v * d));
    read_pair(O, n, a, b);
    char what[64];
    snprintf(what, sizeof what, "embed %s d=%lld", quant_type_name(type), (long long)d);
    double *tol = malloc(sizeof(double) * (size_t)(n * d));
    for (int64_t i = 0; i < n * d; i++) tol[i] = 1e-6 * fabs(a[i]) + 1e-7;
    compare(what, a, b, tol, 0, n * d, NULL);
    /* reading weight rows back (rows 3..v) */
    inf_error err;
    INF_ASSERT(be_read(ref, W.r, 3, v - 3, a, NULL) == 0);
    CHECK(be_read(cu, W.c, 3, v - 3, b, &err) == 0);
    snprintf(what, sizeof what, "read weight %s", quant_type_name(type));
    compare(what, a, b, NULL, 0, (v - 3) * d, NULL);
    free_pair(W); free_pair(O);
    free(wf); free(wq); free(a); free(b); free(tol);
}

static void test_matmul_embed(void)
{
    for (size_t t = 0; t < N_TYPES; t++) {
        int64_t blk = quant_traits_of(types[t])->block_size;
        int64_t k1 = blk >= 256 ? 256 : 96, k2 = blk >= 256 ? 768 : 352;
        if (types[t] == QT_F32 || types[t] == QT_F16) k1 = 7; /* float formats take any k */
        check_matmul((int)t, 1, k1, 1, false);
        check_matmul((int)t, 17, k2, 1, true);
        check_matmul((int)t, 45, k1, 3, false);
        check_matmul((int)t, 130, k2, 8, true);   /* the largest decode launch */
        check_matmul((int)t, 33, k2, 17, true);   /* cuBLAS path */
        check_matmul((int)t, 16, k1, 70, false);
        check_matmul((int)t, 300, blk >= 256 ? 2048 : 1024, 2, false);
        /* long rows: the packed decode matmul splits a row over 2 and 4 warps */
        check_matmul((int)t, 70, 9216, 3, true);
        check_matmul((int)t, 37, 17408, 5, false);
        /* one x row splits a row until a lane loads at most 2 units (up to 8
         * warps): 2 warps at 4096 (Q4_0), 8 at 9216, 8 with 2..3 units at 17408 */
        check_matmul((int)t, 40, 4096, 1, false);
        check_matmul((int)t, 70, 9216, 1, true);
        check_matmul((int)t, 37, 17408, 1, false);
        check_embed_and_read((int)t, 41, k2);
        printf("matmul %-5s max|diff| decode %.3g, prefill %.3g\n", quant_type_name(types[t]),
               maxdiff_mm[t], maxdiff_gemm[t]);
    }
    printf("matmul worst error / tolerance %.3f\n", worst_mm);
}

/* ---- row and elementwise ops ---- */

/* Quantized weight of rows x k random values, uploaded to both backends. */
static pair qweight(uint32_t type, int64_t rows, int64_t k)
{
    float *wf = randv(rows * k, 1.0f);
    size_t rb = quant_row_size(type, k);
    uint8_t *wq = malloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) quant_quantize(type, wf + r * k, wq + r * rb, k);
    pair p = weight(type, 2, rows, k, wq);
    free(wf);
    free(wq);
    return p;
}

/* Decode matmuls on one x are launched together (cuda_mmvq.cu, cu_mmvq_flush):
 * a chain that groups (same x), breaks a group (another type, an x that is a
 * pending output, an output written twice) gives the bits that the same
 * matmuls give one by one, each read back before the next. */
static void test_matmul_group(void)
{
    for (int n = 1; n <= 5; n += 2) {
        pair W1 = qweight(QT_Q4_0, 128, 256), W2 = qweight(QT_Q4_0, 37, 256);
        pair W3 = qweight(QT_Q8_0, 64, 256), W4 = qweight(QT_Q4_0, 50, 128);
        pair X = rand_act(n, 256, 2.0f);
        pair Y1 = act(n, 128, NULL), Y2 = act(n, 37, NULL), Y3 = act(n, 64, NULL);
        pair Y4 = act(n, 50, NULL);
        float *one[5], *grp[5];
        const int64_t w[5] = {128, 37, 64, 50, 37};
        for (int i = 0; i < 5; i++) {
            one[i] = malloc(sizeof(float) * (size_t)(n * w[i]));
            grp[i] = malloc(sizeof(float) * (size_t)(n * w[i]));
        }
        inf_error err;
        /* one by one: a read after each matmul launches it */
        be_matmul(cu, Y1.c, X.c, W1.c, NULL, n);
        be_read(cu, Y1.c, 0, n, one[0], &err);
        be_matmul(cu, Y2.c, X.c, W2.c, NULL, n);
        be_read(cu, Y2.c, 0, n, one[1], &err);
        be_matmul(cu, Y3.c, X.c, W3.c, NULL, n);
        be_read(cu, Y3.c, 0, n, one[2], &err);
        be_matmul(cu, Y4.c, Y1.c, W4.c, NULL, n);
        be_read(cu, Y4.c, 0, n, one[3], &err);
        /* grouped: Y1, Y2 join; Y3 (Q8_0) starts a group; Y4 reads Y1, pending
         * until then; Y2 is written again from another weight */
        be_matmul(cu, Y1.c, X.c, W1.c, NULL, n);
        be_matmul(cu, Y2.c, X.c, W2.c, NULL, n);
        be_matmul(cu, Y3.c, X.c, W3.c, NULL, n);
        be_matmul(cu, Y4.c, Y1.c, W4.c, NULL, n);
        be_read(cu, Y1.c, 0, n, grp[0], &err);
        be_read(cu, Y3.c, 0, n, grp[2], &err);
        be_read(cu, Y4.c, 0, n, grp[3], &err);
        be_read(cu, Y2.c, 0, n, grp[1], &err);
        be_matmul(cu, Y2.c, X.c, W2.c, NULL, n);
        be_matmul(cu, Y2.c, X.c, W2.c, NULL, n); /* the same output twice */
        be_read(cu, Y2.c, 0, n, grp[4], &err);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(!memcmp(one[i], grp[i], sizeof(float) * (size_t)(n * w[i])),
                      "matmul group, n %d: output %d differs from the ungrouped run", n, i + 1);
        CHECK_MSG(!memcmp(one[1], grp[4], sizeof(float) * (size_t)(n * 37)),
                  "matmul group, n %d: an output written twice differs", n);
        for (int i = 0; i < 5; i++) {
            free(one[i]);
            free(grp[i]);
        }
        free_pair(W1); free_pair(W2); free_pair(W3); free_pair(W4);
        free_pair(X); free_pair(Y1); free_pair(Y2); free_pair(Y3); free_pair(Y4);
    }
}

/* The K formats' decode matmuls (cuda_mmvq_k.cu) and the float formats'
 * (cuda_mmv.cu) group as Q4_0's do: members of different m, bias on some, rows
 * on one warp and split over several (k 768 and 14336), n of one launch (1, 3;
 * 8: two weight rows a warp for the K formats) and of two (6 = 4 + 2). A chain
 * that fills a group (CU_MM_GROUP = 3: the fourth starts the next), breaks one
 * by another type of the family and by another x (a pending output), and writes
 * an output twice gives the bits of the same matmuls one by one, each read back
 * before the next. */
static void test_matmul_group_family(const uint32_t kt[3])
{
    static const int64_t ks[] = {768, 14336};
    static const int ns[] = {1, 3, 6, 8};
    enum { S = 7 };
    /* step i: Y[i] = (i == 5 ? Y[0] : X) W[i] (+ B[i] where bias[i]) */
    static const int64_t m[S] = {512, 37, 129, 70, 45, 33, 37};
    static const bool bias[S] = {false, true, false, true, true, false, false};
    for (int ti = 0; ti < 3; ti++)
        for (int ki = 0; ki < 2; ki++) {
            const uint32_t t = kt[ti], other = kt[(ti + 1) % 3];
            const int64_t k = ks[ki];
            pair W[S], B[S];
            for (int i = 0; i < S; i++) {
                W[i] = qweight(i == 4 ? other : t, m[i], i == 5 ? m[0] : k);
                float *bv = randv(m[i], 1.0f);
                B[i] = weight(QT_F32, 1, 1, m[i], bv);
                free(bv);
            }
            for (int ni = 0; ni < 4; ni++) {
                const int n = ns[ni];
                pair X = rand_act(n, k, 2.0f), Y[S];
                float *one[S], *grp[S];
                for (int i = 0; i < S; i++) {
                    Y[i] = act(n, m[i], NULL);
                    one[i] = malloc(sizeof(float) * (size_t)(n * m[i]));
                    grp[i] = malloc(sizeof(float) * (size_t)(n * m[i]));
                }
                inf_error err;
                /* one by one: a read after each matmul launches it */
                for (int i = 0; i < 6; i++) {
                    be_matmul(cu, Y[i].c, i == 5 ? Y[0].c : X.c, W[i].c, bias[i] ? B[i].c : NULL, n);
                    be_read(cu, Y[i].c, 0, n, one[i], &err);
                }
                /* grouped: 0, 1, 2 join; 3 starts a group (full); 4 (another
                 * type) one more; 5 reads the pending Y0 */
                for (int i = 0; i < 6; i++)
                    be_matmul(cu, Y[i].c, i == 5 ? Y[0].c : X.c, W[i].c, bias[i] ? B[i].c : NULL, n);
                for (int i = 0; i < 6; i++) be_read(cu, Y[i].c, 0, n, grp[i], &err);
                /* Y6 written by W6, then by W1 (+ B1) before anything launched */
                be_matmul(cu, Y[6].c, X.c, W[6].c, NULL, n);
                be_matmul(cu, Y[6].c, X.c, W[1].c, B[1].c, n);
                be_read(cu, Y[6].c, 0, n, grp[6], &err);
                for (int i = 0; i < 6; i++)
                    CHECK_MSG(!memcmp(one[i], grp[i], sizeof(float) * (size_t)(n * m[i])),
                              "matmul group %s, k %lld, n %d: output %d differs from the ungrouped run",
                              quant_type_name(t), (long long)k, n, i);
                CHECK_MSG(!memcmp(one[1], grp[6], sizeof(float) * (size_t)(n * m[1])),
                          "matmul group %s, k %lld, n %d: an output written twice differs",
                          quant_type_name(t), (long long)k, n);
                for (int i = 0; i < S; i++) {
                    free(one[i]);
                    free(grp[i]);
                    free_pair(Y[i]);
                }
                free_pair(X);
            }
            for (int i = 0; i < S; i++) {
                free_pair(W[i]);
                free_pair(B[i]);
            }
        }
}

/* A matmul's output is the x of an earlier, still pending one whose copy of x
 * (the f16 kernel makes it at launch) is then taken: that copy must die with
 * the write. Chain: B = A Wa (8 rows: the f16 kernel, pending), A[0..2) = C Wc
 * (2 rows: dp4a, which launches the first and stays pending), D = A Wa (8 rows):
 * D must see the new rows of A, bit for bit as when each result is read back
 * before the next matmul. */
static void test_matmul_copy_dies(void)
{
    pair Wa = qweight(QT_Q4_0, 128, 256), Wc = qweight(QT_Q4_0, 256, 64);
    pair A = rand_act(8, 256, 2.0f), C = rand_act(2, 64, 2.0f);
    pair B = act(8, 128, NULL), D = act(8, 128, NULL);
    float *a0 = malloc(sizeof(float) * 8 * 256), *one = malloc(sizeof(float) * 8 * 128);
    float *chained = malloc(sizeof(float) * 8 * 128);
    inf_error err;
    CHECK(be_read(cu, A.c, 0, 8, a0, &err) == 0);
    be_matmul(cu, B.c, A.c, Wa.c, NULL, 8);
    be_read(cu, B.c, 0, 8, one, &err);
    be_matmul(cu, A.c, C.c, Wc.c, NULL, 2);
    be_read(cu, A.c, 0, 2, one, &err);
    be_matmul(cu, D.c, A.c, Wa.c, NULL, 8);
    CHECK(be_read(cu, D.c, 0, 8, one, &err) == 0);
    be_write(cu, A.c, 0, 8, a0);
    be_matmul(cu, B.c, A.c, Wa.c, NULL, 8);
    be_matmul(cu, A.c, C.c, Wc.c, NULL, 2);
    be_matmul(cu, D.c, A.c, Wa.c, NULL, 8);
    CHECK(be_read(cu, D.c, 0, 8, chained, &err) == 0);
    CHECK_MSG(!memcmp(one, chained, sizeof(float) * 8 * 128),
              "a copy of x outlived a pending matmul's write to x");
    free(a0); free(one); free(chained);
    free_pair(Wa); free_pair(Wc); free_pair(A); free_pair(C); free_pair(B); free_pair(D);
}

/* A probe of the f16 tensor-core matmul's copy of x that the ops making x
 * write themselves (cuda_ops.cu, cuda_attn_decode.cu): made before such an op
 * (an allocation after it would end the copy's life), then checked on its
 * output O (n rows of d): a Q4_0 / Q8_0 matmul on O right away must launch no
 * x-to-f16 conversion and give the bits of the same matmul on O's values
 * written afresh into another tensor (which converts them itself: once, where
 * its rows take the f16 kernel at the default 5..64 rows). */
typedef struct mm_probe {
    pair W, F, Y;
    int n;
    int64_t d, m;
    uint32_t type;
} mm_probe;

static mm_probe mm_probe_make(uint32_t type, int n, int64_t d)
{
    mm_probe p = {qweight(type, 96, d), act(n, d, NULL), act(n, 96, NULL), n, d, 96, type};
    return p;
}

static void mm_probe_check(mm_probe *p, pair O, const char *what)
{
    const int n = p->n;
    const size_t ybytes = sizeof(float) * (size_t)(n * p->m);
    float *v = malloc(sizeof(float) * (size_t)(n * p->d)), *after = malloc(ybytes), *fresh = malloc(ybytes);
    inf_error err;
    const uint64_t c0 = be_cuda_mmf_x_conversions(cu);
    be_matmul(cu, p->Y.c, O.c, p->W.c, NULL, n);
    CHECK(be_read(cu, p->Y.c, 0, n, after, &err) == 0);
    const uint64_t c1 = be_cuda_mmf_x_conversions(cu);
    CHECK_MSG(c1 == c0, "matmul after %s (%s, %d rows) converted its x (%llu launches)", what,
              quant_type_name(p->type), n, (unsigned long long)(c1 - c0));
    CHECK(be_read(cu, O.c, 0, n, v, &err) == 0);
    be_write(cu, p->F.c, 0, n, v);
    be_matmul(cu, p->Y.c, p->F.c, p->W.c, NULL, n);
    CHECK(be_read(cu, p->Y.c, 0, n, fresh, &err) == 0);
    const bool mmf_rows = n >= 5 && n <= 64 && !getenv("INFERD_CUDA_MMF") &&
                          !getenv("INFERD_CUDA_MMF_MIN_N") && !getenv("INFERD_CUDA_MMF_MAX_N");
    if (mmf_rows) /* the control: the same matmul on a fresh x does convert */
        CHECK_MSG(be_cuda_mmf_x_conversions(cu) == c1 + 1,
                  "matmul of %d rows on a fresh x did not take the f16 kernel", n);
    CHECK_MSG(!memcmp(after, fresh, ybytes),
              "matmul after %s (%s, %d rows) differs from the same x written afresh", what,
              quant_type_name(p->type), n);
    free(v); free(after); free(fresh);
}

static void mm_probe_free(mm_probe *p)
{
    free_pair(p->W); free_pair(p->F); free_pair(p->Y);
}

/* RMSNorm and the gated activations write the f16 tensor-core matmul's copy of
 * their output as they write it (cuda_ops.cu, cu_mmf_slot) where the next
 * matmul may take that kernel (5..64 rows): a matmul right after them must
 * give the bits of the same matmul on the same values written afresh (which
 * the matmul converts itself), for Q4_0 and Q8_0, after a norm, an add fused
 * into a norm and SwiGLU, at rows that take the f16 kernel (6, 16, 64) and
 * rows that do not (4). k = 320: a row of 10 blocks, not a multiple of the 4
 * blocks a step of the f16 kernel. */
static void test_matmul_x_from_producer(void)
{
    static const int ns[] = {4, 6, 16, 64};
    static const uint32_t wt[] = {QT_Q4_0, QT_Q8_0};
    static const char *ops[] = {"rms_norm", "add + rms_norm", "swiglu"};
    const int64_t d = 320;
    float *wv = randv(d, 1.0f);
    pair Wn = weight(QT_F32, 1, 1, d, wv);
    for (int ti = 0; ti < 2; ti++)
        for (int ni = 0; ni < 4; ni++) {
            const int n = ns[ni];
            pair X = rand_act(n, d, 3.0f), D = rand_act(n, d, 1.0f), G = rand_act(n, d, 2.0f);
            pair O = act(n, d, NULL);
            mm_probe pr = mm_probe_make(wt[ti], n, d);
            for (int op = 0; op < 3; op++) {
                if (op == 1) be_add(cu, X.c, X.c, D.c, n);
                if (op < 2)
                    be_rms_norm(cu, O.c, X.c, Wn.c, 1e-5f, n);
                else
                    be_swiglu(cu, O.c, G.c, X.c, n);
                mm_probe_check(&pr, O, ops[op]);
            }
            mm_probe_free(&pr);
            free_pair(X); free_pair(D); free_pair(G); free_pair(O);
        }
    free_pair(Wn);
    free(wv);
}

/* be_argmax: the first maximum of each row; ties to the lowest index, NaN never
 * picked, a row of -inf gives 0; rows of the vocabulary's width and odd ones. */
static void test_argmax(void)
{
    static const int64_t widths[] = {1, 7, 1000, 128256};
    for (int c = 0; c < 4; c++) {
        int64_t d = widths[c], n = 9;
        float *v = randv(n * d, 4.0f);
        int32_t want[9], got[9];
        if (d > 1) {
            v[1 * d + d - 1] = 100.0f; /* row 1: the last value */
            v[2 * d + 0] = 50.0f;      /* row 2: a tie, the lower index wins */
            v[2 * d + d - 1] = 50.0f;
            for (int64_t j = 0; j < d; j++) v[3 * d + j] = -INFINITY; /* row 3: no number */
            v[4 * d + 0] = NAN;        /* row 4: NaN first, never picked */
            v[4 * d + d / 2] = 60.0f;
        }
        for (int64_t r = 0; r < n; r++) {
            int32_t b = -1;
            for (int64_t j = 0; j < d; j++)
                if (v[r * d + j] == v[r * d + j] && (b < 0 || v[r * d + j] > v[r * d + b])) b = (int32_t)j;
            want[r] = b < 0 || v[r * d + b] == -INFINITY ? 0 : b;
        }
        pair X = act(n, d, v);
        inf_error err;
        int rc = be_argmax(cu, X.c, n, got, &err);
        CHECK_MSG(rc == 0, "argmax: %s", err.msg);
        for (int64_t r = 0; rc == 0 && r < n; r++)
            CHECK_MSG(got[r] == want[r], "argmax width %lld row %lld: %d, want %d", (long long)d,
                      (long long)r, got[r], want[r]);
        free_pair(X);
        free(v);
    }
    CHECK(!be_has_argmax(ref)); /* the ref backend leaves it to the host */
}

static void test_norm(void)
{
    static const int64_t dims[][3] = {{5, 96, 96},     {3, 160, 40},   {1, 4097, 4097},
                                      {7, 333, 333},   {1, 4096, 4096}, {9, 576, 576},
                                      {4, 512, 128},   {2, 8192, 8192}};
    for (int c = 0; c < 8; c++) {
        int64_t n = dims[c][0], d = dims[c][1], e = dims[c][2];
        float *wv = randv(e, 1.0f);
        pair W = weight(QT_F32, 1, 1, e, wv);
        pair X = rand_act(n, d, 3.0f), O = act(n, d, NULL);
        be_rms_norm(ref, O.r, X.r, W.r, 1e-5f, n);
        be_rms_norm(cu, O.c, X.c, W.c, 1e-5f, n);
        be_rms_norm(ref, X.r, X.r, W.r, 1e-6f, n); /* in place */
        be_rms_norm(cu, X.c, X.c, W.c, 1e-6f, n);
        float *a = malloc(sizeof(float) * (size_t)(n * d)), *b = malloc(sizeof(float) * (size_t)(n * d));
        read_pair(O, n, a, b);
        compare("rms_norm", a, b, NULL, 2e-5, n * d, NULL);
        read_pair(X, n, a, b);
        compare("rms_norm in place", a, b, NULL, 2e-5, n * d, NULL);
        free_pair(W); free_pair(X); free_pair(O);
        free(wv); free(a); free(b);
    }
    /* x = x + o, then xn = norm(x): the cuda backend fuses the add into the norm
     * (cuda_ops.cu); both x and xn must come out as ref's. */
    for (int c = 0; c < 8; c++) {
        int64_t n = dims[c][0], d = dims[c][1], e = dims[c][2];
        float *wv = randv(e, 1.0f);
        pair W = weight(QT_F32, 1, 1, e, wv);
        pair X = rand_act(n, d, 3.0f), D = rand_act(n, d, 1.0f), O = act(n, d, NULL);
        be_add(ref, X.r, X.r, D.r, n);
        be_add(cu, X.c, X.c, D.c, n);
        be_rms_norm(ref, O.r, X.r, W.r, 1e-5f, n);
        be_rms_norm(cu, O.c, X.c, W.c, 1e-5f, n);
        float *a = malloc(sizeof(float) * (size_t)(n * d)), *b = malloc(sizeof(float) * (size_t)(n * d));
        read_pair(X, n, a, b);
        compare("add then rms_norm: x", a, b, NULL, 2e-5, n * d, NULL);
        read_pair(O, n, a, b);
        compare("add then rms_norm: norm", a, b, NULL, 2e-5, n * d, NULL);
        free_pair(W); free_pair(X); free_pair(D); free_pair(O);
        free(wv); free(a); free(b);
    }
}

static void test_elementwise(void)
{
    int64_t n = 7, d = 333;
    float *a = malloc(sizeof(float) * (size_t)(n * d)), *b = malloc(sizeof(float) * (size_t)(n * d));
    pair A = rand_act(n + 1, d, 4.0f), Bt = rand_act(n + 1, d, 4.0f), O = act(n + 1, d, NULL);
    const char *names[] = {"swiglu", "geglu", "add", "mul", "scale", "softcap", "softmax"};
    for (int op = 0; op < 7; op++) {
        for (int side = 0; side < 2; side++) {
            be_backend *be = side ? cu : ref;
            be_tensor *o = side ? O.c : O.r, *x = side ? A.c : A.r, *y = side ? Bt.c : Bt.r;
            switch (op) {
            case 0: be_swiglu(be, o, x, y, n); break;
            case 1: be_geglu(be, o, x, y, n); break;
            case 2: be_add(be, o, x, y, n); break;
            case 3: be_mul(be, o, x, y, n); break;
            case 4: be_scale(be, o, x, 0.37f, n); break;
            case 5: be_softcap(be, o, x, 2.5f, n); break;
            case 6: be_softmax(be, o, x, n); break;
            }
        }
        read_pair(O, n, a, b);
        double *tol = malloc(sizeof(double) * (size_t)(n * d));
        for (int64_t i = 0; i < n * d; i++) tol[i] = 2e-6 * (fabs(a[i]) + 1.0) + 1e-7;
        compare(names[op], a, b, tol, 0, n * d, NULL);
        free(tol);
    }
    /* in place: out aliases gate */
    be_swiglu(ref, A.r, A.r, Bt.r, n);
    be_swiglu(cu, A.c, A.c, Bt.c, n);
    read_pair(A, n, a, b);
    compare("swiglu in place", a, b, NULL, 5e-5, n * d, NULL);
    free_pair(A); free_pair(Bt); free_pair(O);
    free(a); free(b);
}

/* ---- RoPE ---- */

static void test_rope(void)
{
    int n = 9, h = 3, hd = 64;
    int32_t tok[9] = {0}, pos[9], seq[9] = {0};
    for (int i = 0; i < n; i++) pos[i] = i == 0 ? 0 : irand(8000);
    int32_t blocks[1] = {0};
    model_batch_seq s = {blocks, 1, 8001};
    set_batch(n, tok, pos, seq, 1, &s, 0, NULL);
    float ffv[32];
    for (int i = 0; i < 32; i++) ffv[i] = 1.0f + (float)i * 0.25f;
    pair FF = weight(QT_F32, 1, 1, 32, ffv);
    for (int c = 0; c < 6; c++) {
        be_rope r = {c % 2 ? BE_ROPE_NEOX : BE_ROPE_NORM, c >= 4 ? 32 : 64, c >= 2 ? 500000.0f : 10000.0f,
                     1.0f, 0.0f, 1.0f, 32.0f, 1.0f, 4096, NULL};
        if (c == 2 || c == 3) r.freq_factors = NULL;
        if (c == 3) { r.freq_scale = 0.25f; r.ext_factor = 1.0f; r.attn_factor = 1.1f; }
        if (c == 5) r.freq_factors = NULL;
        be_rope rc = r;
        if (c == 2) { r.freq_factors = FF.r; rc.freq_factors = FF.c; }
        pair X = rand_act(n, h * hd, 2.0f);
        be_rope_apply(ref, X.r, h, hd, &r, n);
        be_rope_apply(cu, X.c, h, hd, &rc, n);
        float *a = malloc(sizeof(float) * (size_t)(n * h * hd)), *b = malloc(sizeof(float) * (size_t)(n * h * hd));
        read_pair(X, n, a, b);
        char what[48];
        snprintf(what, sizeof what, "rope case %d", c);
        compare(what, a, b, NULL, 2e-6 * 4, n * h * hd, NULL);
        free_pair(X);
        free(a); free(b);
    }
    free_pair(FF);
}

/* ---- KV pool and attention ---- */

typedef struct kvpair {
    be_kv *r, *c;
} kvpair;

static kvpair make_kv(be_kv_config *kc)
{
    kvpair p;
    inf_error err;
    INF_ASSERT(be_kv_create(ref, kc, &p.r, NULL) == 0);
    int rc = be_kv_create(cu, kc, &p.c, &err);
    CHECK_MSG(rc == 0, "cuda kv_create: %s", err.msg);
    INF_ASSERT(rc == 0);
    return p;
}

/* Two sequences with permuted block tables: seq 0 fills positions 0..len0-1
 * (prefilled in steps), seq 1 has prefix..len1-1; then rows attend with window
 * and softcap variants. long_ctx > 0: seq 0 has that many tokens (split decode
 * kernel), else 23. one_row: the query is seq 0's last row alone (a decode
 * step: the kernel reads keys before the wait, and its splits merge in a
 * cluster when there are 2..16 of them). */
static void check_attention(be_kv_dtype dtype, int hd, int hdv, int h, int hkv, int B, int long_ctx,
                            bool one_row)
{
    int len0 = long_ctx > 0 ? long_ctx : 23, len1 = 37;
    int nb0 = (len0 + B - 1) / B, nb1 = (len1 + B - 1) / B;
    be_kv_config kc = {2, hkv, hd, hdv, B, nb0 + nb1 + 3, dtype};
    kvpair KV = make_kv(&kc);
    /* blocks: a random permutation of the pool */
    int32_t perm[1024];
    INF_ASSERT(kc.n_blocks <= 1024);
    for (int i = 0; i < kc.n_blocks; i++) perm[i] = i;
    for (int i = kc.n_blocks - 1; i > 0; i--) {
        int j = irand(i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int32_t *tab0 = perm, *tab1 = perm + nb0;
    /* Fill both sequences' KV for layer 1 in chunks of up to 64 rows. */
    int maxn = 64;
    pair K = act(maxn, hkv * hd, NULL), V = act(maxn, hkv * hdv, NULL);
    int32_t tok[64] = {0}, pos[64], seq[64];
    for (int s = 0; s < 2; s++) {
        int len = s ? len1 : len0;
        for (int p0 = 0; p0 < len; p0 += maxn) {
            int n = len - p0 < maxn ? len - p0 : maxn;
            for (int i = 0; i < n; i++) {
                pos[i] = p0 + i;
                seq[i] = 0;
            }
            model_batch_seq sq = {s ? tab1 : tab0, s ? nb1 : nb0, p0 + n};
            set_batch(n, tok, pos, seq, 1, &sq, 0, NULL);
            float *kv = randv(n * hkv * hd, 2.0f), *vv = randv(n * hkv * hdv, 2.0f);
            be_write(ref, K.r, 0, n, kv);
            be_write(cu, K.c, 0, n, kv);
            be_write(ref, V.r, 0, n, vv);
            be_write(cu, V.c, 0, n, vv);
            be_kv_write(ref, KV.r, 1, K.r, V.r, n);
            be_kv_write(cu, KV.c, 1, K.c, V.c, n);
            free(kv);
            free(vv);
        }
    }
    /* Query rows: the last 5 of seq 1 (a prefill chunk), the last row of seq 0. */
    int n = one_row ? 1 : 6;
    for (int i = 0; i < n - 1; i++) {
        pos[i] = len1 - 5 + i;
        seq[i] = 1;
    }
    pos[n - 1] = len0 - 1;
    seq[n - 1] = 0;
    model_batch_seq sqs[2] = {{tab0, nb0, len0}, {tab1, nb1, len1}};
    set_batch(n, tok, pos, seq, 2, sqs, 0, NULL);
    pair Q = rand_act(n, h * hd, 1.0f), O = act(n, h * hdv, NULL);
    float *a = malloc(sizeof(float) * (size_t)(n * h * hdv)), *b = malloc(sizeof(float) * (size_t)(n * h * hdv));
    for (int variant = 0; variant < 3; variant++) {
        be_attn at = {1, h, hkv, hd, hdv, 1.0f / sqrtf((float)hd), 0.0f, 0};
        if (variant == 1) at.window = 7;
        if (variant == 2) { at.softcap = 3.0f; at.scale = 0.5f; }
        be_attention(ref, O.r, Q.r, KV.r, &at, n);
        be_attention(cu, O.c, Q.c, KV.c, &at, n);
        read_pair(O, n, a, b);
        char what[128];
        snprintf(what, sizeof what,
                 "attention dtype=%d hd=%d hdv=%d h=%d hkv=%d B=%d len=%d rows=%d variant=%d",
                 (int)dtype, hd, hdv, h, hkv, B, len0, n, variant);
        compare(what, a, b, NULL, 2e-5, n * h * hdv, NULL);
    }
    /* copy-on-write: seq 1's last block copied to a spare block, table pointed there */
    int32_t spare = perm[nb0 + nb1];
    be_kv_copy_block(ref, KV.r, spare, tab1[nb1 - 1]);
    be_kv_copy_block(cu, KV.c, spare, tab1[nb1 - 1]);
    tab1[nb1 - 1] = spare;
    set_batch(n, tok, pos, seq, 2, sqs, 0, NULL);
    be_attn at = {1, h, hkv, hd, hdv, 1.0f / sqrtf((float)hd), 0.0f, 0};
    be_attention(ref, O.r, Q.r, KV.r, &at, n);
    be_attention(cu, O.c, Q.c, KV.c, &at, n);
    read_pair(O, n, a, b);
    compare("attention after kv_copy_block", a, b, NULL, 2e-5, n * h * hdv, NULL);
    free_pair(K); free_pair(V); free_pair(Q); free_pair(O);
    be_kv_destroy(ref, KV.r);
    be_kv_destroy(cu, KV.c);
    free(a); free(b);
}

/* The decode attention writes the f16 matmul's copy of its output as well
 * (the x of the output projection, 5..64 rows; cuda_attn_decode.cu): a Q4_0
 * matmul right after it gives the bits of the same matmul on the output written
 * afresh. 6 or 12 query rows, the last 3 of each of 2 or 4 sequences (the
 * decode kernel takes up to 4 a sequence), KV F16, hd 128, 8 heads over 2 KV
 * heads; 40 and 300 tokens a sequence (4 and 8 splits of the keys: merged in
 * clusters at 6 rows, by the combine kernel at 12). */
static void test_attention_then_matmul(void)
{
    const int hd = 128, h = 8, hkv = 2, B = 16;
    for (int ni = 0; ni < 2; ni++)
        for (int li = 0; li < 2; li++) {
            const int n = ni ? 12 : 6, ns = n / 3;
            const int len = li ? 300 : 40, nb = (len + B - 1) / B;
            be_kv_config kc = {2, hkv, hd, hd, B, ns * nb, BE_KV_F16};
            be_kv *KV = NULL;
            inf_error err;
            CHECK_MSG(be_kv_create(cu, &kc, &KV, &err) == 0, "cuda kv_create: %s", err.msg);
            INF_ASSERT(KV);
            int32_t *tab = malloc(sizeof(int32_t) * (size_t)(ns * nb));
            for (int i = 0; i < ns * nb; i++) tab[i] = i;
            pair K = act(64, hkv * hd, NULL), V = act(64, hkv * hd, NULL);
            int32_t tok[64] = {0}, pos[64], seq[64];
            for (int s = 0; s < ns; s++)
                for (int p0 = 0; p0 < len; p0 += 64) {
                    const int c = len - p0 < 64 ? len - p0 : 64;
                    for (int i = 0; i < c; i++) {
                        pos[i] = p0 + i;
                        seq[i] = 0;
                    }
                    model_batch_seq sq = {tab + s * nb, nb, p0 + c};
                    set_batch(c, tok, pos, seq, 1, &sq, 0, NULL);
                    float *kv = randv(c * hkv * hd, 2.0f), *vv = randv(c * hkv * hd, 2.0f);
                    be_write(cu, K.c, 0, c, kv);
                    be_write(cu, V.c, 0, c, vv);
                    be_kv_write(cu, KV, 1, K.c, V.c, c);
                    free(kv);
                    free(vv);
                }
            model_batch_seq sqs[4];
            for (int i = 0; i < n; i++) {
                pos[i] = len - 3 + i % 3;
                seq[i] = i / 3;
            }
            for (int s = 0; s < ns; s++) sqs[s] = (model_batch_seq){tab + s * nb, nb, len};
            set_batch(n, tok, pos, seq, ns, sqs, 0, NULL);
            pair Q = rand_act(n, h * hd, 1.0f), O = act(n, h * hd, NULL);
            mm_probe pr = mm_probe_make(QT_Q4_0, n, h * hd);
            be_attn at = {1, h, hkv, hd, hd, 1.0f / sqrtf((float)hd), 0.0f, 0};
            be_attention(cu, O.c, Q.c, KV, &at, n);
            char what[64];
            snprintf(what, sizeof what, "the decode attention (%d rows, %d tokens)", n, len);
            mm_probe_check(&pr, O, what);
            mm_probe_free(&pr);
            free(tab);
            free_pair(K); free_pair(V); free_pair(Q); free_pair(O);
            be_kv_destroy(cu, KV);
        }
}

static void test_attention(void)
{
    for (int dt = 0; dt < 4; dt++) {
        check_attention((be_kv_dtype)dt, 64, 64, 4, 2, 16, 0, false);
        check_attention((be_kv_dtype)dt, 40, 40, 6, 3, 5, 0, false); /* q8 group = hd = 40 */
        check_attention((be_kv_dtype)dt, 128, 96, 8, 1, 16, 1500, false); /* split kernel */
        /* one decode row: 16 splits of a 512 bucket (a cluster of 16), 64 of 2048
         * (the combine kernel) */
        check_attention((be_kv_dtype)dt, 128, 128, 8, 2, 16, 400, true);
        check_attention((be_kv_dtype)dt, 128, 128, 8, 2, 16, 1500, true);
    }
    check_attention(BE_KV_F16, 256, 256, 2, 1, 16, 0, false);
    check_attention(BE_KV_Q8, 512, 512, 2, 2, 16, 1500, false);
    test_attention_then_matmul();
}

/* ---- gather_out, write/read of row ranges ---- */

static void test_gather_rw(void)
{
    int n = 11, d = 77;
    int32_t tok[11] = {0}, pos[11], seq[11] = {0}, outr[4] = {10, 0, 7, 3};
    for (int i = 0; i < n; i++) pos[i] = i;
    int32_t blocks[1] = {0};
    model_batch_seq s = {blocks, 1, n};
    set_batch(n, tok, pos, seq, 1, &s, 4, outr);
    pair X = rand_act(n, d, 1.0f), O = act(5, d, NULL);
    be_gather_out(ref, O.r, X.r);
    be_gather_out(cu, O.c, X.c);
    float *a = malloc(sizeof(float) * (size_t)(n * d)), *b = malloc(sizeof(float) * (size_t)(n * d));
    read_pair(O, 4, a, b);
    compare("gather_out", a, b, NULL, 0, 4 * d, NULL);
    float *v = randv(3 * d, 1.0f);
    be_write(ref, X.r, 4, 3, v);
    be_write(cu, X.c, 4, 3, v);
    inf_error err;
    INF_ASSERT(be_read(ref, X.r, 2, 8, a, NULL) == 0);
    CHECK(be_read(cu, X.c, 2, 8, b, &err) == 0);
    compare("write/read row ranges", a, b, NULL, 0, 8 * d, NULL);
    CHECK(be_sync(cu, &err) == 0);
    free_pair(X); free_pair(O);
    free(a); free(b); free(v);
}

static void test_errors(void)
{
    inf_error err;
    be_tensor *t = NULL;
    int64_t ne[2] = {32, 2};
    uint8_t junk[64] = {0};
    CHECK(be_weight_upload(cu, "iq", QT_IQ2_XXS, 2, ne, junk, 0, &t, &err) == INF_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "IQ2_XXS") != NULL);
    CHECK(be_weight_upload(cu, "bad", QT_Q8_0, 2, ne, junk, 5, &t, &err) == INF_ERR_INVALID);
}

int main(void)
{
    cu_test_require_gpu();
    inf_error err;
    INF_ASSERT(be_ref_create(&ref, NULL) == 0);
    int rc = be_cuda_create(0, &cu, &err);
    CHECK_MSG(rc == 0, "be_cuda_create: %s", err.msg);
    if (rc) return check_done();
    test_errors();
    test_matmul_embed();
    test_norm();
    test_matmul_group();
    static const uint32_t k_family[3] = {QT_Q4_K, QT_Q5_K, QT_Q6_K};
    static const uint32_t float_family[3] = {QT_F16, QT_BF16, QT_F32};
    test_matmul_group_family(k_family);
    test_matmul_group_family(float_family);
    test_matmul_copy_dies();
    test_matmul_x_from_producer();
    test_argmax();
    test_elementwise();
    test_rope();
    test_attention();
    test_gather_rw();
    CHECK(be_sync(cu, &err) == 0);
    be_destroy(cu);
    be_destroy(ref);
    return check_done();
}
