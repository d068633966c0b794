/* test_cuda_fattn.c: the tensor-core prefill attention (cuda_fattn.cu, taken
 * by be_attention of the cuda backend for >= 16 rows, hd == hdv in {64, 128,
 * 256}, KV F16 / BF16 / Q8) against the ref backend, through the backend API.
 * Skips (77) without a usable GPU.
 *
 * Cases: one sequence of 1, 15, 16, 17, 64, 100, 513 rows from position 0 and
 * after a prefix already in the pool; two or three sequences in one batch
 * (decode rows of long contexts beside a prefill chunk, two chunks meeting
 * inside a tile, a decode row squeezed between them: the per-row kernel's
 * share); block tables shuffled over the pool, block sizes 1, 16, 32; GQA
 * groups 1, 4, 8; hd 64, 128, 256 (and 96 and F32 KV, which the other
 * kernels take); window > 0; softcap > 0. The output is poisoned with NaN
 * before each call, so a row nobody writes fails.
 *
 * Tolerance: |cuda - ref| <= 2e-3 * max|v| per value. Why: the kernel rounds
 * q, k, v and the probabilities p to f16 (relative error <= 2^-11 = 4.9e-4
 * each) and accumulates in f32; ref works in double. The output is a convex
 * combination sum p v / sum p, so the rounding of p and v moves it by at most
 * 2 * 4.9e-4 * max|v| ~ 1e-3 * max|v|. The rounding of q and k moves a score
 * by ~2^-11 * sqrt(hd) * rms(q k) * scale, ~5e-4 for the scores here (spread
 * ~1), which moves p relatively by as much, in random directions that largely
 * cancel in the weighted sum. 2e-3 * max|v| covers both with margin while a
 * wrong mask (one key too many or too few among the first keys of a sequence
 * or of a window of 7) or a wrong block moves values by far more.
 *
 * --bench: one attention call of an 8B-like layer (h 32, hkv 8, hd 128, F16
 * KV, block 16) over 512, 2048 and 4096 rows of one sequence from position 0,
 * ms per call and TFLOP/s (causal: 2 * 2 * h * hd * n (n + 1) / 2 flops).
 * Run it with INFERD_CUDA_FATTN=0 for the per-row kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_probe.h"
#include "backend/ref/ref.h"
#include "check.h"
#include "cu_test.h"
#include "test_rand.h"

static be_backend *ref, *cu;

typedef struct pair {
    be_tensor *r, *c;
} pair;

static pair act(int64_t rows, int64_t width)
{
    pair p = {NULL, NULL};
    int64_t ne[2] = {width, rows};
    inf_error err;
    INF_ASSERT(be_tensor_alloc(ref, "a", 2, ne, &p.r, &err) == 0);
    int rc = be_tensor_alloc(cu, "a", 2, ne, &p.c, &err);
    CHECK_MSG(rc == 0, "cuda alloc: %s", err.msg);
    INF_ASSERT(rc == 0);
    return p;
}

static void write_pair(pair p, int64_t n, const float *v)
{
    be_write(ref, p.r, 0, n, v);
    be_write(cu, p.c, 0, n, v);
}

static void free_pair(pair p)
{
    be_tensor_free(ref, p.r);
    be_tensor_free(cu, p.c);
}

static void set_batch(const model_batch *b)
{
    inf_error err;
    INF_ASSERT(be_batch_set(ref, b, NULL) == 0);
    int rc = be_batch_set(cu, b, &err);
    CHECK_MSG(rc == 0, "cuda batch_set: %s", err.msg);
}

/* ---- one case ---- */

#define MAX_SEQ 4
#define MAX_SEG 8

/* Sequence s holds prefix[s] positions in the pool before the step and gets
 * the rows prefix[s] .. prefix[s] + rows[s] - 1 in it. The batch lists the
 * rows segment by segment: seg_len[i] rows of sequence seg_seq[i], each
 * sequence's segments in position order. */
typedef struct fa_case {
    const char *name;
    be_kv_dtype dtype;
    int hd, h, hkv, B;
    int window;
    float softcap, scale_mul, q_amp;
    int n_seq, prefix[MAX_SEQ], rows[MAX_SEQ];
    int n_seg, seg_seq[MAX_SEG], seg_len[MAX_SEG];
} fa_case;

static double worst_ratio;

static void run_case(const fa_case *fc)
{
    int hd = fc->hd, h = fc->h, hkv = fc->hkv, B = fc->B;
    int n_blocks = 3, nb[MAX_SEQ], len[MAX_SEQ];
    for (int s = 0; s < fc->n_seq; s++) {
        len[s] = fc->prefix[s] + fc->rows[s];
        nb[s] = (len[s] + B - 1) / B;
        n_blocks += nb[s];
    }
    be_kv_config kc = {2, hkv, hd, hd, B, n_blocks, fc->dtype};
    be_kv *kvr, *kvc;
    inf_error err;
    INF_ASSERT(be_kv_create(ref, &kc, &kvr, NULL) == 0);
    int rc = be_kv_create(cu, &kc, &kvc, &err);
    CHECK_MSG(rc == 0, "cuda kv_create: %s", err.msg);
    INF_ASSERT(rc == 0);
    /* block tables: consecutive slices of a shuffled pool */
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n_blocks);
    for (int i = 0; i < n_blocks; i++) perm[i] = i;
    for (int i = n_blocks - 1; i > 0; i--) {
        int j = irand(i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    model_batch_seq seqs[MAX_SEQ];
    int off = 0;
    for (int s = 0; s < fc->n_seq; s++) {
        seqs[s] = (model_batch_seq){perm + off, nb[s], len[s]};
        off += nb[s];
    }
    int n = 0;
    for (int s = 0; s < fc->n_seq; s++) n += fc->rows[s];
    int cap = n > 64 ? n : 64;
    pair K = act(cap, hkv * hd), V = act(cap, hkv * hd);
    int32_t *tok = calloc((size_t)cap, sizeof(int32_t)), *pos = malloc(sizeof(int32_t) * (size_t)cap),
            *seq = malloc(sizeof(int32_t) * (size_t)cap);
    float vmax = 0.0f;

    /* the prefixes, in single-sequence steps of up to 64 rows, into layer 1 */
    for (int s = 0; s < fc->n_seq; s++)
        for (int p0 = 0; p0 < fc->prefix[s]; p0 += 64) {
            int m = fc->prefix[s] - p0 < 64 ? fc->prefix[s] - p0 : 64;
            for (int i = 0; i < m; i++) {
                pos[i] = p0 + i;
                seq[i] = 0;
            }
            model_batch_seq one = {seqs[s].blocks, nb[s], p0 + m};
            model_batch b = {m, tok, pos, seq, 1, &one, 0, NULL};
            set_batch(&b);
            float *kv = randv((int64_t)m * hkv * hd, 2.0f), *vv = randv((int64_t)m * hkv * hd, 2.0f);
            for (int64_t i = 0; i < (int64_t)m * hkv * hd; i++)
                if (fabsf(vv[i]) > vmax) vmax = fabsf(vv[i]);
            write_pair(K, m, kv);
            write_pair(V, m, vv);
            be_kv_write(ref, kvr, 1, K.r, V.r, m);
            be_kv_write(cu, kvc, 1, K.c, V.c, m);
            free(kv);
            free(vv);
        }

    /* the step: the rows segment by segment, their K / V written, then attention */
    int next[MAX_SEQ], r = 0;
    for (int s = 0; s < fc->n_seq; s++) next[s] = fc->prefix[s];
    for (int i = 0; i < fc->n_seg; i++)
        for (int j = 0; j < fc->seg_len[i]; j++) {
            int s = fc->seg_seq[i];
            pos[r] = next[s]++;
            seq[r++] = s;
        }
    INF_ASSERT(r == n);
    for (int s = 0; s < fc->n_seq; s++) INF_ASSERT(next[s] == len[s]);
    model_batch b = {n, tok, pos, seq, fc->n_seq, seqs, 0, NULL};
    set_batch(&b);
    float *kv = randv((int64_t)n * hkv * hd, 2.0f), *vv = randv((int64_t)n * hkv * hd, 2.0f);
    for (int64_t i = 0; i < (int64_t)n * hkv * hd; i++)
        if (fabsf(vv[i]) > vmax) vmax = fabsf(vv[i]);
    write_pair(K, n, kv);
    write_pair(V, n, vv);
    be_kv_write(ref, kvr, 1, K.r, V.r, n);
    be_kv_write(cu, kvc, 1, K.c, V.c, n);

    int64_t width = (int64_t)h * hd;
    pair Q = act(n, width), O = act(n, width);
    float *qv = randv(n * width, fc->q_amp), *a = malloc(sizeof(float) * (size_t)(n * width)),
          *c = malloc(sizeof(float) * (size_t)(n * width));
    write_pair(Q, n, qv);
    for (int64_t i = 0; i < n * width; i++) c[i] = NAN;
    be_write(cu, O.c, 0, n, c); /* poison */
    be_attn at = {1, h, hkv, hd, hd, fc->scale_mul / sqrtf((float)hd), fc->softcap, fc->window};
    be_attention(ref, O.r, Q.r, kvr, &at, n);
    be_attention(cu, O.c, Q.c, kvc, &at, n);
    INF_ASSERT(be_read(ref, O.r, 0, n, a, NULL) == 0);
    rc = be_read(cu, O.c, 0, n, c, &err);
    CHECK_MSG(rc == 0, "%s: cuda read: %s", fc->name, err.msg);

    double tol = 2e-3 * vmax, md = 0;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n * width; i++) {
        double e = fabs((double)c[i] - a[i]);
        if (!(e <= tol)) {
            if (first < 0) first = i;
            bad++;
        }
        if (!(e <= md)) md = e;
    }
    CHECK_MSG(bad == 0,
              "%s: %lld of %lld values off (max diff %.3g, tolerance %.3g; first: row %lld head %lld "
              "dim %lld: ref %.6g cuda %.6g)",
              fc->name, (long long)bad, (long long)(n * width), md, tol,
              (long long)(first / width), (long long)(first % width / hd), (long long)(first % hd),
              first >= 0 ? a[first] : 0.0, first >= 0 ? c[first] : 0.0);
    if (md / tol > worst_ratio) worst_ratio = md / tol;
    printf("%-44s n=%-4d max|diff| %.3g (%.2f of tolerance)\n", fc->name, n, md, md / tol);

    free_pair(K); free_pair(V); free_pair(Q); free_pair(O);
    be_kv_destroy(ref, kvr);
    be_kv_destroy(cu, kvc);
    free(perm); free(tok); free(pos); free(seq); free(kv); free(vv); free(qv); free(a); free(c);
}

/* One sequence: rows rows after prefix positions, in one segment. */
static fa_case one_seq(const char *name, be_kv_dtype dt, int hd, int h, int hkv, int B, int prefix,
                       int rows)
{
    fa_case fc = {name, dt, hd, h, hkv, B, 0, 0.0f, 1.0f, 1.0f, 1, {prefix}, {rows}, 1, {0}, {rows}};
    return fc;
}

static void test_lengths(void)
{
    static const int rows[] = {1, 15, 16, 17, 64, 100, 513};
    char name[7][2][64];
    for (int i = 0; i < 7; i++)
        for (int p = 0; p < 2; p++) {
            snprintf(name[i][p], sizeof name[i][p], "f16 hd128 gqa4 B16 prefix %d", p ? 300 : 0);
            fa_case fc = one_seq(name[i][p], BE_KV_F16, 128, 8, 2, 16, p ? 300 : 0, rows[i]);
            run_case(&fc);
        }
}

static void test_dtypes_dims(void)
{
    static const be_kv_dtype dts[] = {BE_KV_F16, BE_KV_BF16, BE_KV_Q8};
    static const char *dn[] = {"f16", "bf16", "q8"};
    static const int hds[] = {64, 128, 256};
    char name[64];
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%s hd%d gqa4 B16 prefix 0", dn[d], hds[k]);
            fa_case fc = one_seq(name, dts[d], hds[k], 8, 2, 16, 0, 100);
            run_case(&fc);
            snprintf(name, sizeof name, "%s hd%d gqa4 B32 prefix 37", dn[d], hds[k]);
            fc = one_seq(name, dts[d], hds[k], 4, 1, 32, 37, 77);
            run_case(&fc);
        }
    /* not taken by the tensor-core kernel: the other kernels still answer */
    fa_case fc = one_seq("f16 hd96 (not tensor-core)", BE_KV_F16, 96, 4, 2, 16, 5, 40);
    run_case(&fc);
    fc = one_seq("f32 hd128 (not tensor-core)", BE_KV_F32, 128, 4, 2, 16, 5, 40);
    run_case(&fc);
}

static void test_shapes(void)
{
    fa_case fc = one_seq("f16 hd128 gqa1 B16", BE_KV_F16, 128, 4, 4, 16, 20, 100);
    run_case(&fc);
    fc = one_seq("f16 hd128 gqa8 B16", BE_KV_F16, 128, 8, 1, 16, 20, 100);
    run_case(&fc);
    fc = one_seq("q8 hd64 gqa8 B1", BE_KV_Q8, 64, 8, 1, 1, 20, 70);
    run_case(&fc);
    fc = one_seq("bf16 hd128 gqa4 B5", BE_KV_BF16, 128, 4, 1, 5, 61, 90);
    run_case(&fc);
    fc = one_seq("f16 hd256 gqa2 B16 513 rows", BE_KV_F16, 256, 2, 1, 16, 0, 513);
    run_case(&fc);
}

static void test_window_softcap(void)
{
    fa_case fc = one_seq("f16 hd128 window 7", BE_KV_F16, 128, 4, 2, 16, 30, 150);
    fc.window = 7;
    run_case(&fc);
    fc = one_seq("q8 hd256 window 100", BE_KV_Q8, 256, 4, 2, 16, 50, 200);
    fc.window = 100;
    run_case(&fc);
    fc = one_seq("bf16 hd64 window 64", BE_KV_BF16, 64, 4, 2, 32, 0, 300);
    fc.window = 64;
    run_case(&fc);
    /* scale 0.5 * 4 / sqrt(hd) with q of amplitude 0.25: softcap 1 bites */
    fc = one_seq("f16 hd128 softcap 1", BE_KV_F16, 128, 4, 2, 16, 10, 100);
    fc.softcap = 1.0f;
    fc.scale_mul = 4.0f;
    fc.q_amp = 0.25f;
    run_case(&fc);
    fc = one_seq("f16 hd64 softcap 1 window 20", BE_KV_F16, 64, 4, 1, 16, 0, 120);
    fc.softcap = 1.0f;
    fc.scale_mul = 4.0f;
    fc.q_amp = 0.25f;
    fc.window = 20;
    run_case(&fc);
}

static void test_mixed(void)
{
    /* decode rows of three long contexts, then a prefill chunk of a fourth */
    fa_case fc = {"3 decode rows + chunk of 100", BE_KV_F16, 128, 8, 2, 16, 0, 0.0f, 1.0f, 1.0f,
                  4, {700, 1500, 90, 40}, {1, 1, 1, 100}, 4, {0, 1, 2, 3}, {1, 1, 1, 100}};
    run_case(&fc);
    /* two chunks meeting inside a tile (rows 0..69 and 70..149) */
    fa_case f2 = {"chunk 70 + chunk 80", BE_KV_Q8, 128, 8, 2, 16, 0, 0.0f, 1.0f, 1.0f,
                  2, {33, 0}, {70, 80}, 2, {0, 1}, {70, 80}};
    run_case(&f2);
    /* a decode row of a third sequence squeezed between the chunks, inside a
     * tile whose first and last rows belong to the two chunks */
    fa_case f3 = {"chunk 30 + decode row + chunk 50", BE_KV_BF16, 64, 4, 2, 16, 0, 0.0f, 1.0f,
                  1.0f, 3, {10, 1200, 5}, {30, 1, 50}, 3, {0, 1, 2}, {30, 1, 50}};
    run_case(&f3);
    /* sequences taking turns in runs of 10 rows (the batch contract allows
     * it): the tile's first and last rows are of sequence 0, so sequences 1
     * and 2 fall to the per-row kernel */
    fa_case f4 = {"runs of 3 sequences taking turns", BE_KV_F16, 128, 4, 2, 16, 0, 0.0f, 1.0f,
                  1.0f, 3, {0, 20, 300}, {30, 20, 1}, 6, {0, 1, 0, 1, 2, 0}, {10, 10, 10, 10, 1, 10}};
    run_case(&f4);
    /* many decode rows of short and long contexts with a chunk: tiles holding
     * only decode rows, window on */
    fa_case f5 = {"window 50: chunk 90 + decode rows", BE_KV_F16, 256, 4, 4, 32, 50, 0.0f, 1.0f,
                  1.0f, 3, {100, 400, 3}, {90, 1, 1}, 3, {0, 1, 2}, {90, 1, 1}};
    run_case(&f5);
}

/* ---- --bench ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench(void)
{
    const char *env = getenv("INFERD_CUDA_FATTN");
    const char *path = env && strcmp(env, "0") == 0 ? "per-row kernel (INFERD_CUDA_FATTN=0)"
                                                    : "tensor-core kernel";
    int h = 32, hkv = 8, hd = 128, B = 16;
    static const int ns[] = {512, 2048, 4096};
    for (int k = 0; k < 3; k++) {
        int n = ns[k], nb = (n + B - 1) / B;
        be_kv_config kc = {1, hkv, hd, hd, B, nb, BE_KV_F16};
        be_kv *kv;
        inf_error err;
        if (be_kv_create(cu, &kc, &kv, &err) != 0) {
            CHECK_MSG(0, "kv_create: %s", err.msg);
            return;
        }
        int32_t *tok = calloc((size_t)n, sizeof(int32_t)), *pos = malloc(sizeof(int32_t) * (size_t)n),
                *seq = calloc((size_t)n, sizeof(int32_t)), *blk = malloc(sizeof(int32_t) * (size_t)nb);
        for (int i = 0; i < n; i++) pos[i] = i;
        for (int i = 0; i < nb; i++) blk[i] = i;
        model_batch_seq s = {blk, nb, n};
        model_batch b = {n, tok, pos, seq, 1, &s, 0, NULL};
        CHECK(be_batch_set(cu, &b, &err) == 0);
        int64_t ne_kv[2] = {hkv * hd, n}, ne_q[2] = {h * hd, n};
        be_tensor *K, *V, *Q, *O;
        INF_ASSERT(be_tensor_alloc(cu, "k", 2, ne_kv, &K, &err) == 0);
        INF_ASSERT(be_tensor_alloc(cu, "v", 2, ne_kv, &V, &err) == 0);
        INF_ASSERT(be_tensor_alloc(cu, "q", 2, ne_q, &Q, &err) == 0);
        INF_ASSERT(be_tensor_alloc(cu, "o", 2, ne_q, &O, &err) == 0);
        float *x = randv((int64_t)n * h * hd, 1.0f);
        be_write(cu, K, 0, n, x);
        be_write(cu, V, 0, n, x + (int64_t)n * hkv * hd);
        be_write(cu, Q, 0, n, x);
        be_kv_write(cu, kv, 0, K, V, n);
        be_attn at = {0, h, hkv, hd, hd, 1.0f / sqrtf((float)hd), 0.0f, 0};
        for (int i = 0; i < 3; i++) be_attention(cu, O, Q, kv, &at, n);
        CHECK(be_sync(cu, &err) == 0);
        int reps = n <= 512 ? 50 : 20;
        double t0 = now_s();
        for (int i = 0; i < reps; i++) be_attention(cu, O, Q, kv, &at, n);
        CHECK(be_sync(cu, &err) == 0);
        double t = (now_s() - t0) / reps;
        double flops = 4.0 * h * hd * (double)n * (n + 1) / 2.0;
        printf("bench attention h=%d hkv=%d hd=%d f16 n=%d: %.3f ms, %.1f TFLOP/s  [%s]\n", h, hkv,
               hd, n, t * 1e3, flops / t * 1e-12, path);
        be_tensor_free(cu, K); be_tensor_free(cu, V); be_tensor_free(cu, Q); be_tensor_free(cu, O);
        be_kv_destroy(cu, kv);
        free(tok); free(pos); free(seq); free(blk); free(x);
    }
}

int main(int argc, char **argv)
{
    cu_test_require_gpu();
    inf_error err;
    INF_ASSERT(be_ref_create(&ref, NULL) == 0);
    int rc = be_cuda_create(0, &cu, &err);
    CHECK_MSG(rc == 0, "be_cuda_create: %s", err.msg);
    if (rc) return check_done();
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench();
    } else {
        test_lengths();
        test_dtypes_dims();
        test_shapes();
        test_window_softcap();
        test_mixed();
        printf("worst max|diff| / tolerance %.3f\n", worst_ratio);
    }
    CHECK(be_sync(cu, &err) == 0);
    be_destroy(cu);
    be_destroy(ref);
    return check_done();
}
