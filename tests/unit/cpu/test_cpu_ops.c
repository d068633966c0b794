/* test_cpu_ops.c: every op of the cpu backend against the ref backend on
 * random inputs of awkward sizes (odd rows, widths that are not multiples of
 * the vector width or of 16 rows), at every kernel level this CPU has, with
 * 1 and 3 threads. Tolerances: matmul with integer weights quantizes the
 * activations to 8 bits (per 32 values, or 256 for K-quants, as llama.cpp),
 * so its bound is the worst case of that rounding (sum |w| * step / 2 per
 * block, plus the f16 rounding of scales) plus float noise; float weights and the other
 * ops are held to 1e-5 relative (2e-5 for attention) of the magnitudes
 * involved. Prints the worst error over tolerance per op. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/ref/ref.h"
#include "check.h"
#include "test_rand.h"
#include "quant/quant.h"

static be_backend *ref, *cpu;
static const char *level = "";

typedef struct pair {
    be_tensor *r, *c;
    int64_t rows, width;
} pair;

static pair act(int64_t rows, int64_t width, const float *init)
{
    pair p = {NULL, NULL, rows, width};
    int64_t ne[2] = {width, rows};
    INF_ASSERT(be_tensor_alloc(ref, "a", 2, ne, &p.r, NULL) == 0);
    INF_ASSERT(be_tensor_alloc(cpu, "a", 2, ne, &p.c, NULL) == 0);
    if (init) {
        be_write(ref, p.r, 0, rows, init);
        be_write(cpu, p.c, 0, rows, init);
    }
    return p;
}

static pair rand_act(int64_t rows, int64_t width, float amp)
{
    float *v = malloc(sizeof(float) * (size_t)(rows * width));
    for (int64_t i = 0; i < rows * width; i++) v[i] = frand() * amp;
    pair p = act(rows, width, v);
    free(v);
    return p;
}

static pair weight(uint32_t type, int n_dims, int64_t rows, int64_t width, const void *data)
{
    pair p = {NULL, NULL, rows, width};
    int64_t ne[2] = {width, rows};
    size_t bytes = quant_row_size(type, width) * (size_t)rows;
    inf_error err;
    int rc = be_weight_upload(ref, "w", type, n_dims, ne, data, bytes, &p.r, &err);
    INF_ASSERT(rc == 0);
    rc = be_weight_upload(cpu, "w", type, n_dims, ne, data, bytes, &p.c, &err);
    CHECK_MSG(rc == 0, "cpu upload %s: %s", quant_type_name(type), err.msg);
    INF_ASSERT(rc == 0);
    return p;
}

static void free_pair(pair p)
{
    be_tensor_free(ref, p.r);
    be_tensor_free(cpu, p.c);
}

static void read_pair(pair p, int64_t n, float *r, float *c)
{
    INF_ASSERT(be_read(ref, p.r, 0, n, r, NULL) == 0);
    INF_ASSERT(be_read(cpu, p.c, 0, n, c, NULL) == 0);
}

static void set_batch(int n, const int32_t *pos, const int32_t *seq, int n_seq,
                      const model_batch_seq *seqs)
{
    int32_t tok[64] = {0};
    model_batch b = {n, tok, pos, seq, n_seq, seqs, 0, NULL};
    INF_ASSERT(be_batch_set(ref, &b, NULL) == 0 && be_batch_set(cpu, &b, NULL) == 0);
}

/* Compares n * width outputs with |c - r| <= tol[i]; returns worst ratio. */
static double compare(const char *what, const float *r, const float *c, const double *tol, int64_t cnt)
{
    double worst = 0;
    int bad = 0;
    for (int64_t i = 0; i < cnt; i++) {
        double e = fabs((double)c[i] - r[i]), q = e / tol[i];
        if (!(e <= tol[i])) bad++;
        if (!(q <= worst)) worst = q;
    }
    CHECK_MSG(bad == 0, "[%s] %s: %d of %lld values off, worst error/tolerance %.3g", level, what,
              bad, (long long)cnt, worst);
    return worst;
}

/* ---- matmul ---- */

static double worst_mm;

static void check_matmul(uint32_t type, int64_t m, int64_t k, int n, bool bias)
{
    size_t rb = quant_row_size(type, k);
    float *wf = malloc(sizeof(float) * (size_t)(m * k));
    uint8_t *wq = malloc(rb * (size_t)m);
    for (int64_t i = 0; i < m * k; i++) wf[i] = frand();
    for (int64_t r = 0; r < m; r++) quant_quantize(type, wf + r * k, wq + r * rb, k);
    pair W = weight(type, 2, m, k, wq);
    float *bv = malloc(sizeof(float) * (size_t)m);
    for (int64_t i = 0; i < m; i++) bv[i] = frand();
    pair Bi = weight(QT_F32, 1, 1, m, bv);
    float *xv = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) xv[i] = frand() * (i % 11 == 0 ? 5.0f : 1.0f);
    pair X = act(n + 2, k, NULL);
    be_write(ref, X.r, 0, n, xv);
    be_write(cpu, X.c, 0, n, xv);
    pair O = act(n + 1, m, NULL);
    be_matmul(ref, O.r, X.r, W.r, bias ? Bi.r : NULL, n);
    be_matmul(cpu, O.c, X.c, W.c, bias ? Bi.c : NULL, n);
    float *yr = malloc(sizeof(float) * (size_t)(n * m)), *yc = malloc(sizeof(float) * (size_t)(n * m));
    read_pair(O, n, yr, yc);

    /* Tolerance: 8-bit activation rounding (half a step of each block's scale
     * times |w|) for integer formats, plus float noise of sum |w x|. */
    bool q8 = kref_type_uses_q8a(type);
    float *wd = malloc(sizeof(float) * (size_t)k);
    double *tol = malloc(sizeof(double) * (size_t)(n * m));
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, wq + j * rb, wd, k);
        for (int i = 0; i < n; i++) {
            const float *x = xv + (int64_t)i * k;
            double mag = 0, qerr = 0;
            int64_t blk = kref_act_kind_of(type) == KREF_ACT_Q8_K ? 256 : 32;
            for (int64_t b0 = 0; b0 < k; b0 += blk) {
                double amax = 0, sw = 0;
                for (int64_t c = b0; c < b0 + blk && c < k; c++) {
                    amax = fmax(amax, fabs(x[c]));
                    sw += fabs(wd[c]);
                    mag += fabs((double)wd[c] * x[c]);
                }
                qerr += sw * amax / 127.0 * 0.5;
            }
            /* f16 scales (llama.cpp's q8_0 / q8_1 rounding) add up to 2^-11 */
            tol[i * m + j] = (q8 ? qerr * 1.0001 + 5e-4 * mag : 0) + 1e-5 * mag + 1e-6;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "matmul %s m=%lld k=%lld n=%d bias=%d", quant_type_name(type),
             (long long)m, (long long)k, n, bias);
    double w = compare(what, yr, yc, tol, n * m);
    if (w > worst_mm) worst_mm = w;

    /* Reuse of the quantized input: a second weight on the same x, then x
     * changed by the host, must see the new x. */
    if (n >= 2) {
        be_matmul(cpu, O.c, X.c, W.c, NULL, n);
        for (int64_t i = 0; i < n * k; i++) xv[i] = -xv[i];
        be_write(ref, X.r, 0, n, xv);
        be_write(cpu, X.c, 0, n, xv);
        be_matmul(ref, O.r, X.r, W.r, NULL, n);
        be_matmul(cpu, O.c, X.c, W.c, NULL, n);
        read_pair(O, n, yr, yc);
        compare("matmul after the input changed", yr, yc, tol, n * m);
        /* out of one matmul feeding the next (the cache must not serve it) */
        pair X2 = act(n, m, NULL), O2 = act(n, m, NULL);
        if (m % quant_traits_of(type)->block_size == 0 && k == m) {
            be_matmul(ref, X2.r, X.r, W.r, NULL, n);
            be_matmul(cpu, X2.c, X.c, W.c, NULL, n);
        }
        free_pair(X2);
        free_pair(O2);
    }
    free_pair(W); free_pair(Bi); free_pair(X); free_pair(O);
    free(wf); free(wq); free(bv); free(xv); free(yr); free(yc); free(wd); free(tol);
}

static void test_matmul(void)
{
    const uint32_t types[] = {QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1,
                              QT_Q8_0, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_Q8_K};
    worst_mm = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int64_t blk = quant_traits_of(types[t])->block_size;
        int64_t k1 = blk >= 256 ? 256 : 96, k2 = blk >= 256 ? 768 : 352;
        if (types[t] == QT_F32 || types[t] == QT_F16) k1 = 7; /* float formats take any k */
        check_matmul(types[t], 1, k1, 1, false);
        check_matmul(types[t], 17, k2, 1, true);
        check_matmul(types[t], 45, k1, 3, false);
        check_matmul(types[t], 33, k2, 17, true);
        check_matmul(types[t], 16, k1, 70, false); /* more rows than one column chunk tile */
    }
    printf("[%s] matmul worst error / tolerance %.3f\n", level, worst_mm);
}

/* Matmuls that share a parallel region (same input) and chains that must not:
 * q/k/v on one x, the same output written twice, an output fed to the next. */
static void test_matmul_chains(void)
{
    const int64_t d = 96, n = 5;
    float *wv = malloc(sizeof(float) * d * d * 3);
    uint8_t *wq = malloc(quant_row_size(QT_Q8_0, d) * d * 3);
    for (int64_t i = 0; i < d * d * 3; i++) wv[i] = frand();
    for (int64_t r = 0; r < d * 3; r++)
        quant_quantize(QT_Q8_0, wv + r * d, wq + r * quant_row_size(QT_Q8_0, d), d);
    pair W[3];
    for (int i = 0; i < 3; i++)
        W[i] = weight(QT_Q8_0, 2, d, d, wq + (size_t)i * d * quant_row_size(QT_Q8_0, d));
    pair X = rand_act(n, d, 1.0f), A = act(n, d, NULL), B = act(n, d, NULL), C = act(n, d, NULL);
    be_backend *bes[2] = {ref, cpu};
    for (int b = 0; b < 2; b++) {
        be_backend *be = bes[b];
        be_tensor *x = b ? X.c : X.r, *a = b ? A.c : A.r, *bb = b ? B.c : B.r, *c = b ? C.c : C.r;
        be_tensor *w0 = b ? W[0].c : W[0].r, *w1 = b ? W[1].c : W[1].r, *w2 = b ? W[2].c : W[2].r;
        be_matmul(be, a, x, w0, NULL, n);  /* three on one input */
        be_matmul(be, bb, x, w1, NULL, n);
        be_matmul(be, c, x, w2, NULL, n);
        be_matmul(be, c, x, w0, NULL, n);  /* c again: the last write wins */
        be_matmul(be, bb, a, w2, NULL, n); /* a's result feeds this one */
        be_add(be, a, a, bb, n);
    }
    float r[5 * 96], c[5 * 96];
    double tol[5 * 96];
    for (int i = 0; i < n * d; i++) tol[i] = 0.05; /* 8-bit inputs twice over: loose, but */
    pair outs[3] = {A, B, C};                       /* any mix-up is off by O(1) */
    const char *names[3] = {"chain a", "chain b", "chain c"};
    for (int i = 0; i < 3; i++) {
        read_pair(outs[i], n, r, c);
        double mag = 0;
        for (int j = 0; j < n * d; j++) mag = fmax(mag, fabs(r[j]));
        for (int j = 0; j < n * d; j++) tol[j] = 0.01 * mag;
        compare(names[i], r, c, tol, n * d);
    }
    for (int i = 0; i < 3; i++) free_pair(W[i]);
    free_pair(X); free_pair(A); free_pair(B); free_pair(C);
    free(wv);
    free(wq);
}

/* ---- row ops ---- */

static void test_rows(void)
{
    const int ns[] = {1, 3, 17};
    const int64_t widths[] = {7, 100, 1536};
    double worst = 0;
    for (size_t ni = 0; ni < 3; ni++) {
        for (size_t wi = 0; wi < 3; wi++) {
            int n = ns[ni];
            int64_t w = widths[wi], cnt = n * w;
            pair A = rand_act(n, w, 6.0f), B = rand_act(n, w, 2.0f), O = act(n, w, NULL);
            float *r = malloc(sizeof(float) * (size_t)cnt), *c = malloc(sizeof(float) * (size_t)cnt);
            float *av = malloc(sizeof(float) * (size_t)cnt), *bv = malloc(sizeof(float) * (size_t)cnt);
            double *tol = malloc(sizeof(double) * (size_t)cnt);
            read_pair(A, n, av, c);
            read_pair(B, n, bv, c);
            for (int op = 0; op < 7; op++) {
                const char *names[] = {"swiglu", "geglu", "add", "mul", "scale", "softcap", "softmax"};
                switch (op) {
                case 0: be_swiglu(ref, O.r, A.r, B.r, n); be_swiglu(cpu, O.c, A.c, B.c, n); break;
                case 1: be_geglu(ref, O.r, A.r, B.r, n); be_geglu(cpu, O.c, A.c, B.c, n); break;
                case 2: be_add(ref, O.r, A.r, B.r, n); be_add(cpu, O.c, A.c, B.c, n); break;
                case 3: be_mul(ref, O.r, A.r, B.r, n); be_mul(cpu, O.c, A.c, B.c, n); break;
                case 4: be_scale(ref, O.r, A.r, -0.3f, n); be_scale(cpu, O.c, A.c, -0.3f, n); break;
                case 5: be_softcap(ref, O.r, A.r, 4.0f, n); be_softcap(cpu, O.c, A.c, 4.0f, n); break;
                case 6: be_softmax(ref, O.r, A.r, n); be_softmax(cpu, O.c, A.c, n); break;
                }
                read_pair(O, n, r, c);
                for (int64_t i = 0; i < cnt; i++) {
                    double mag = op <= 1 || op == 3 ? fabs(av[i] * bv[i])
                                 : op == 2          ? fabs(av[i]) + fabs(bv[i])
                                 : op == 4          ? fabs(av[i])
                                 : op == 5          ? 4.0
                                                    : fabs(r[i]);
                    tol[i] = 1e-5 * mag + 1e-30;
                }
                char what[64];
                snprintf(what, sizeof what, "%s n=%d width=%lld", names[op], n, (long long)w);
                worst = fmax(worst, compare(what, r, c, tol, cnt));
            }
            /* in place: out aliases gate */
            be_swiglu(ref, A.r, A.r, B.r, n);
            be_swiglu(cpu, A.c, A.c, B.c, n);
            read_pair(A, n, r, c);
            for (int64_t i = 0; i < cnt; i++) tol[i] = 1e-5 * fabs(av[i] * bv[i]) + 1e-30;
            worst = fmax(worst, compare("swiglu in place", r, c, tol, cnt));

            free_pair(A); free_pair(B); free_pair(O);
            free(r); free(c); free(av); free(bv); free(tol);
        }
    }
    /* RMSNorm, whole rows and per head */
    const int64_t dims[][2] = {{576, 576}, {9 * 64, 64}, {100, 100}, {3 * 7, 7}};
    for (size_t di = 0; di < 4; di++) {
        for (size_t ni = 0; ni < 3; ni++) {
            int n = ns[ni];
            int64_t d = dims[di][0], e = dims[di][1];
            float *wv = malloc(sizeof(float) * (size_t)e);
            for (int64_t i = 0; i < e; i++) wv[i] = 1.0f + frand();
            pair Wn = weight(QT_F32, 1, 1, e, wv);
            pair X = rand_act(n, d, 3.0f), O = act(n, d, NULL);
            be_rms_norm(ref, O.r, X.r, Wn.r, 1e-6f, n);
            be_rms_norm(cpu, O.c, X.c, Wn.c, 1e-6f, n);
            float *r = malloc(sizeof(float) * (size_t)(n * d)), *c = malloc(sizeof(float) * (size_t)(n * d));
            double *tol = malloc(sizeof(double) * (size_t)(n * d));
            read_pair(O, n, r, c);
            for (int64_t i = 0; i < n * d; i++) tol[i] = 1e-5 * fabs(r[i]) + 1e-6;
            worst = fmax(worst, compare("rms_norm", r, c, tol, n * d));
            be_rms_norm(cpu, X.c, X.c, Wn.c, 1e-6f, n); /* in place */
            read_pair(X, n, r, c);
            read_pair(O, n, r, r);
            worst = fmax(worst, compare("rms_norm in place", r, c, tol, n * d));
            free_pair(Wn); free_pair(X); free_pair(O);
            free(wv); free(r); free(c); free(tol);
        }
    }
    printf("[%s] row ops worst error / tolerance %.3f\n", level, worst);
}

/* ---- RoPE ---- */

static void test_rope(void)
{
    double worst = 0;
    for (int variant = 0; variant < 4; variant++) {
        int n = 13, n_head = 3, hd = 64;
        int32_t pos[13], seq[13] = {0};
        for (int i = 0; i < n; i++) pos[i] = i * 37 % 500;
        model_batch_seq s = {NULL, 0, 600};
        set_batch(n, pos, seq, 1, &s);
        float ffv[24];
        for (int i = 0; i < 24; i++) ffv[i] = 1.0f + (float)i * 0.3f;
        pair FF = weight(QT_F32, 1, 1, 24, ffv);
        be_rope rope = {.mode = variant & 1 ? BE_ROPE_NEOX : BE_ROPE_NORM,
                        .n_dims = variant >= 2 ? 48 : 64, .freq_base = 10000, .freq_scale = 1,
                        .attn_factor = 1, .beta_fast = 32, .beta_slow = 1, .n_ctx_orig = 4096};
        if (variant == 2) {
            rope.freq_scale = 0.25f;
            rope.ext_factor = 1.0f;
        }
        if (variant == 3) rope.freq_factors = FF.r;
        pair X = rand_act(n, n_head * hd, 2.0f);
        be_rope_apply(ref, X.r, n_head, hd, &rope, n);
        if (variant == 3) rope.freq_factors = FF.c;
        be_rope_apply(cpu, X.c, n_head, hd, &rope, n);
        /* a second call in the same batch reuses the cached angles */
        be_rope_apply(ref, X.r, n_head, hd, &rope, n - 1);
        if (variant == 3) rope.freq_factors = FF.r;
        be_rope_apply(ref, X.r, n_head, hd, &rope, 0);
        if (variant == 3) rope.freq_factors = FF.c;
        be_rope_apply(cpu, X.c, n_head, hd, &rope, n - 1);
        float r[13 * 192], c[13 * 192];
        double tol[13 * 192];
        read_pair(X, n, r, c);
        for (int i = 0; i < n * 192; i++) tol[i] = 1e-5 * 2.0 + 1e-6;
        worst = fmax(worst, compare("rope", r, c, tol, n * 192));
        free_pair(X);
        free_pair(FF);
    }
    printf("[%s] rope worst error / tolerance %.3f\n", level, worst);
}

/* ---- attention ---- */

static void test_attention(be_kv_dtype dtype, int hkv, int group, int B, int window, float softcap)
{
    int hd = 64, hdv = 64, h = hkv * group;
    be_kv_config kc = {.n_layer = 2, .n_kv_head = hkv, .head_dim_k = hd, .head_dim_v = hdv,
                       .block_size = B, .n_blocks = 64, .dtype = dtype};
    be_kv *kvr, *kvc;
    CHECK(be_kv_create(ref, &kc, &kvr, NULL) == 0);
    CHECK(be_kv_create(cpu, &kc, &kvc, NULL) == 0);
    /* Two sequences: a prefill of 40 rows for seq 0, then a step mixing a
     * decode row of seq 0, a chunk of 23 rows of seq 1, another decode row. */
    int32_t blocks0[32], blocks1[32];
    for (int i = 0; i < 32; i++) {
        blocks0[i] = (i * 7 + 3) % 64 / 2 * 2;      /* even ids, scattered */
        blocks1[i] = ((i * 5 + 1) % 64) / 2 * 2 + 1; /* odd ids */
    }
    int32_t pos[64], seq[64];
    for (int i = 0; i < 40; i++) {
        pos[i] = i;
        seq[i] = 0;
    }
    model_batch_seq seqs[2] = {{blocks0, 32, 41}, {blocks1, 32, 30}};
    for (int step = 0; step < 2; step++) {
        int n;
        if (step == 0) {
            n = 40;
            seqs[0].kv_len = 40;
            set_batch(n, pos, seq, 1, seqs);
        } else {
            n = 0;
            pos[n] = 40; seq[n++] = 0;
            for (int i = 0; i < 23; i++) { pos[n] = 7 + i; seq[n++] = 1; }
            seqs[0].kv_len = 41;
            seqs[1].kv_len = 30;
            set_batch(n, pos, seq, 2, seqs);
        }
        pair K = rand_act(n, hkv * hd, 2.0f), V = rand_act(n, hkv * hdv, 1.0f);
        pair Q = rand_act(n, h * hd, 0.5f), O = act(n, h * hdv, NULL);
        if (step == 1) { /* rows of seq 1 before position 7 were written by an earlier step */
            int32_t pos1[7], seq1[7];
            for (int i = 0; i < 7; i++) { pos1[i] = i; seq1[i] = 1; }
            model_batch_seq s1[2] = {{blocks0, 32, 41}, {blocks1, 32, 7}};
            set_batch(7, pos1, seq1, 2, s1);
            pair K1 = rand_act(7, hkv * hd, 2.0f), V1 = rand_act(7, hkv * hdv, 1.0f);
            be_kv_write(ref, kvr, 1, K1.r, V1.r, 7);
            be_kv_write(cpu, kvc, 1, K1.c, V1.c, 7);
            free_pair(K1); free_pair(V1);
            set_batch(n, pos, seq, 2, seqs);
        }
        be_kv_write(ref, kvr, 1, K.r, V.r, n);
        be_kv_write(cpu, kvc, 1, K.c, V.c, n);
        be_attn at = {.layer = 1, .n_head = h, .n_kv_head = hkv, .head_dim_k = hd,
                      .head_dim_v = hdv, .scale = 0.125f, .softcap = softcap, .window = window};
        be_attention(ref, O.r, Q.r, kvr, &at, n);
        be_attention(cpu, O.c, Q.c, kvc, &at, n);
        int64_t cnt = (int64_t)n * h * hdv;
        float *r = malloc(sizeof(float) * (size_t)cnt), *c = malloc(sizeof(float) * (size_t)cnt);
        double *tol = malloc(sizeof(double) * (size_t)cnt);
        read_pair(O, n, r, c);
        for (int64_t i = 0; i < cnt; i++) tol[i] = 2e-5 * 1.0 + 1e-6; /* |v| <= 1 */
        char what[128];
        snprintf(what, sizeof what, "attention dtype=%d hkv=%d group=%d B=%d window=%d softcap=%g step %d",
                 dtype, hkv, group, B, window, softcap, step);
        compare(what, r, c, tol, cnt);
        free(r); free(c); free(tol);
        free_pair(K); free_pair(V); free_pair(Q); free_pair(O);
    }
    be_kv_destroy(ref, kvr);
    be_kv_destroy(cpu, kvc);
}

static void run_all(void)
{
    test_matmul();
    test_matmul_chains();
    test_rows();
    test_rope();
    const be_kv_dtype dts[] = {BE_KV_F32, BE_KV_F16, BE_KV_BF16, BE_KV_Q8};
    for (int d = 0; d < 4; d++) test_attention(dts[d], 2, 3, 16, 0, 0);
    test_attention(BE_KV_F16, 1, 4, 16, 9, 0);
    test_attention(BE_KV_F32, 3, 1, 5, 0, 20.0f);
    test_attention(BE_KV_Q8, 1, 30, 7, 17, 0); /* group 30: tiles of 2 rows */
    printf("[%s] attention done\n", level);
}

int main(void)
{
    CHECK(be_ref_create(&ref, NULL) == 0);
    for (int isa = CPU_ISA_SCALAR; isa < CPU_ISA_COUNT; isa++) {
        if (!cpu_kernels_for((cpu_isa)isa)) continue;
        const int threads[] = {1, 3};
        for (int ti = 0; ti < 2; ti++) {
            setenv("INFERD_CPU_ISA", cpu_isa_name((cpu_isa)isa), 1);
            CHECK(be_cpu_create(threads[ti], &cpu, NULL) == 0);
            static char buf[64];
            snprintf(buf, sizeof buf, "%s, %d threads", cpu_isa_name((cpu_isa)isa), threads[ti]);
            level = buf;
            run_all();
            be_destroy(cpu);
        }
    }
    /* llama.cpp's activation rounding, at the best level */
    setenv("INFERD_CPU_ISA", "avx512", 1);
    setenv("INFERD_CPU_ACT", "llama", 1);
    CHECK(be_cpu_create(2, &cpu, NULL) == 0);
    level = "best level, INFERD_CPU_ACT=llama";
    test_matmul();
    test_matmul_chains();
    be_destroy(cpu);
    unsetenv("INFERD_CPU_ACT");
    be_destroy(ref);
    return check_done();
}
