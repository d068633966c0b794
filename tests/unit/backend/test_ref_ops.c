/* test_ref_ops.c: every op of the ref backend on small inputs whose results can
 * be worked out by hand (the ref backend is the oracle of all the others, so it
 * is checked against arithmetic, not against itself). */
#include <math.h>

#include "backend/ref/ref.h"
#include "check.h"
#include "quant/quant.h"

static be_backend *be;

#define NEAR(a, b, tol) CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%s = %.7g, want %.7g", \
                                  #a, (double)(a), (double)(b))

static be_tensor *act(int64_t rows, int64_t width, const float *init)
{
    be_tensor *t;
    int64_t ne[2] = {width, rows};
    INF_ASSERT(be_tensor_alloc(be, "t", 2, ne, &t, NULL) == 0);
    if (init) be_write(be, t, 0, rows, init);
    return t;
}

static be_tensor *weight(uint32_t type, int64_t rows, int64_t width, const void *data)
{
    be_tensor *t;
    int64_t ne[2] = {width, rows};
    int rc = be_weight_upload(be, "w", type, rows > 1 ? 2 : 1, ne, data,
                              quant_row_size(type, width) * (size_t)rows, &t, NULL);
    INF_ASSERT(rc == 0);
    return t;
}

static void set_batch(int n, const int32_t *tok, const int32_t *pos, const int32_t *blocks,
                      int n_blocks, int kv_len, int n_out, const int32_t *out)
{
    int32_t seq[16] = {0};
    model_batch_seq s = {blocks, n_blocks, kv_len};
    model_batch b = {n, tok, pos, seq, 1, &s, n_out, out};
    INF_ASSERT(be_batch_set(be, &b, NULL) == 0);
}

static void test_embed_matmul(void)
{
    float w[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, o[2 * 4];
    int32_t tok[2] = {2, 0}, pos[2] = {0, 1};
    set_batch(2, tok, pos, NULL, 0, 2, 0, NULL);
    /* set_batch with no blocks is fine for ops that do not touch the pool */
    be_tensor *W = weight(QT_F32, 3, 4, w), *O = act(2, 4, NULL);
    be_embed(be, O, W, 2);
    be_read(be, O, 0, 2, o, NULL);
    CHECK(o[0] == 9 && o[3] == 12 && o[4] == 1 && o[7] == 4);

    /* A Q8_0 embedding row reads back as the format's own dequantization. */
    float big[2 * 32], deq[32], e[32];
    for (int i = 0; i < 64; i++) big[i] = (float)sin(i * 0.7) * 3;
    uint8_t q[2 * 34];
    quant_quantize(QT_Q8_0, big, q, 64);
    quant_dequantize(QT_Q8_0, q + 34, deq, 32);
    be_tensor *WQ = weight(QT_Q8_0, 2, 32, q), *E = act(2, 32, NULL);
    int32_t tok1[2] = {1, 1};
    set_batch(2, tok1, pos, NULL, 0, 2, 0, NULL);
    be_embed(be, E, WQ, 1);
    be_read(be, E, 0, 1, e, NULL);
    CHECK(memcmp(e, deq, sizeof e) == 0);

    /* out = x W^T + b: x (2, 3), W (2, 3). */
    float x[6] = {1, 2, 3, -1, 0, 1}, wm[6] = {1, 0, 1, 2, 1, 0}, bias[2] = {0.5f, -1}, r[4];
    be_tensor *X = act(2, 3, x), *WM = weight(QT_F32, 2, 3, wm), *BI = weight(QT_F32, 1, 2, bias);
    be_tensor *R = act(2, 2, NULL);
    be_matmul(be, R, X, WM, BI, 2);
    be_read(be, R, 0, 2, r, NULL);
    CHECK(r[0] == 4.5f && r[1] == 3.0f && r[2] == 0.5f && r[3] == -3.0f);
    be_matmul(be, R, X, WM, NULL, 1); /* only row 0 recomputed */
    be_read(be, R, 0, 2, r, NULL);
    CHECK(r[0] == 4.0f && r[1] == 4.0f && r[2] == 0.5f);

    /* A Q4_0 weight multiplies as its dequantized F32 rows do. */
    float x2[32], wq[2 * 32], wd[2 * 32], r1[2], r2[2];
    for (int i = 0; i < 32; i++) x2[i] = (float)(i % 5) - 2;
    for (int i = 0; i < 64; i++) wq[i] = (float)cos(i * 1.3);
    uint8_t q4[2 * 18];
    quant_quantize(QT_Q4_0, wq, q4, 64);
    quant_dequantize(QT_Q4_0, q4, wd, 64);
    be_tensor *X2 = act(1, 32, x2), *W4 = weight(QT_Q4_0, 2, 32, q4), *WD = weight(QT_F32, 2, 32, wd);
    be_tensor *R1 = act(1, 2, NULL), *R2 = act(1, 2, NULL);
    be_matmul(be, R1, X2, W4, NULL, 1);
    be_matmul(be, R2, X2, WD, NULL, 1);
    be_read(be, R1, 0, 1, r1, NULL);
    be_read(be, R2, 0, 1, r2, NULL);
    CHECK(r1[0] == r2[0] && r1[1] == r2[1]);

    be_tensor *all[] = {W, O, WQ, E, X, WM, BI, R, X2, W4, WD, R1, R2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be_tensor_free(be, all[i]);
}

static void test_norm_act(void)
{
    /* Groups of 2 (per-head norm): [3, 4] -> [3, 4] / sqrt(12.5) * w. */
    float x[4] = {3, 4, 0, 2}, w[2] = {1, 2}, o[4];
    be_tensor *X = act(1, 4, x), *W = weight(QT_F32, 1, 2, w), *O = act(1, 4, NULL);
    be_rms_norm(be, O, X, W, 0, 1);
    be_read(be, O, 0, 1, o, NULL);
    NEAR(o[0], 3 / sqrt(12.5), 1e-6);
    NEAR(o[1], 8 / sqrt(12.5), 1e-6);
    NEAR(o[2], 0, 1e-7);
    NEAR(o[3], 4 / sqrt(2.0), 1e-6); /* [0, 2]: rms sqrt(2) */
    be_rms_norm(be, X, X, W, 1.5f, 1); /* in place, eps counts */
    be_read(be, X, 0, 1, o, NULL);
    NEAR(o[0], 3 / sqrt(14.0), 1e-6);

    float g[3] = {1, 0, -2}, u[3] = {2, 5, 1}, r[3];
    be_tensor *G = act(1, 3, g), *U = act(1, 3, u), *R = act(1, 3, NULL);
    be_swiglu(be, R, G, U, 1);
    be_read(be, R, 0, 1, r, NULL);
    NEAR(r[0], 2 / (1 + exp(-1.0)), 1e-6);
    NEAR(r[1], 0, 1e-7);
    NEAR(r[2], -2 / (1 + exp(2.0)), 1e-6);
    be_geglu(be, R, G, U, 1);
    be_read(be, R, 0, 1, r, NULL);
    NEAR(r[0], 2 * 0.8411920, 1e-6); /* gelu_tanh(1) */
    NEAR(r[2], -0.0454023, 1e-6);    /* gelu_tanh(-2) */

    be_add(be, R, G, U, 1);
    be_read(be, R, 0, 1, r, NULL);
    CHECK(r[0] == 3 && r[1] == 5 && r[2] == -1);
    be_mul(be, R, G, U, 1);
    be_read(be, R, 0, 1, r, NULL);
    CHECK(r[0] == 2 && r[1] == 0 && r[2] == -2);
    be_scale(be, R, U, -0.5f, 1);
    be_read(be, R, 0, 1, r, NULL);
    CHECK(r[0] == -1 && r[1] == -2.5f && r[2] == -0.5f);
    be_softcap(be, R, U, 2, 1);
    be_read(be, R, 0, 1, r, NULL);
    NEAR(r[1], 2 * tanh(2.5), 1e-6);
    float s[3] = {0, (float)log(2.0), (float)log(5.0)};
    be_tensor *S = act(1, 3, s);
    be_softmax(be, R, S, 1);
    be_read(be, R, 0, 1, r, NULL);
    NEAR(r[0], 0.125, 1e-7);
    NEAR(r[1], 0.25, 1e-7);
    NEAR(r[2], 0.625, 1e-7);

    float x3[6] = {1, 2, 3, 4, 5, 6}, o2[4];
    int32_t tok[3] = {0, 0, 0}, pos[3] = {0, 1, 2}, out[2] = {2, 0};
    set_batch(3, tok, pos, NULL, 0, 3, 2, out);
    be_tensor *X3 = act(3, 2, x3), *O2 = act(2, 2, NULL);
    be_gather_out(be, O2, X3);
    be_read(be, O2, 0, 2, o2, NULL);
    CHECK(o2[0] == 5 && o2[1] == 6 && o2[2] == 1 && o2[3] == 2);

    be_tensor *all[] = {X, W, O, G, U, R, S, X3, O2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be_tensor_free(be, all[i]);
}

static void test_rope(void)
{
    /* Two heads of 4; rows at positions 0 and 1. */
    float x[2 * 8] = {1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1}, o[16];
    int32_t tok[2] = {0, 0}, pos[2] = {0, 1};
    set_batch(2, tok, pos, NULL, 0, 2, 0, NULL);
    be_tensor *X = act(2, 8, x);
    be_rope r = {.mode = BE_ROPE_NORM, .n_dims = 4, .freq_base = 100, .freq_scale = 1,
                 .attn_factor = 1};
    be_rope_apply(be, X, 2, 4, &r, 2);
    be_read(be, X, 0, 2, o, NULL);
    CHECK(memcmp(o, x, 8 * sizeof(float)) == 0); /* position 0: identity */
    /* NORM pairs (0,1), (2,3); angles 1 and 1/10 at position 1. */
    NEAR(o[8], cos(1.0), 1e-6);
    NEAR(o[9], sin(1.0), 1e-6);
    NEAR(o[10], cos(0.1), 1e-6);
    NEAR(o[11], sin(0.1), 1e-6);
    NEAR(o[12], -sin(1.0), 1e-6); /* head 1: (0, 1) rotated */
    NEAR(o[13], cos(1.0), 1e-6);

    /* NEOX pairs (0,2), (1,3). */
    be_write(be, X, 0, 2, x);
    r.mode = BE_ROPE_NEOX;
    be_rope_apply(be, X, 2, 4, &r, 2);
    be_read(be, X, 0, 2, o, NULL);
    NEAR(o[8], cos(1.0) - sin(1.0), 1e-6); /* x0 = 1, x2 = 1 */
    NEAR(o[10], sin(1.0) + cos(1.0), 1e-6);
    NEAR(o[9], 0, 1e-7);          /* x1 = 0, x3 = 0 */

    /* freq_scale and freq factors divide the angle; partial rotation leaves dims. */
    float ff[1] = {4};
    be_tensor *FF = weight(QT_F32, 1, 1, ff);
    be_write(be, X, 0, 2, x);
    r = (be_rope){.mode = BE_ROPE_NORM, .n_dims = 2, .freq_base = 100, .freq_scale = 0.5f,
                  .attn_factor = 1, .freq_factors = FF};
    be_rope_apply(be, X, 2, 4, &r, 2);
    be_read(be, X, 0, 2, o, NULL);
    NEAR(o[8], cos(0.125), 1e-6);
    NEAR(o[9], sin(0.125), 1e-6);
    CHECK(o[10] == 1 && o[11] == 0);

    /* YaRN: magnitude times 1 + 0.1 ln(1/s); the fastest pair (below the
     * ramp) keeps the extrapolated angle. */
    be_write(be, X, 0, 2, x);
    r = (be_rope){.mode = BE_ROPE_NORM, .n_dims = 4, .freq_base = 10000, .freq_scale = 0.25f,
                  .ext_factor = 1, .attn_factor = 1, .beta_fast = 32, .beta_slow = 1,
                  .n_ctx_orig = 4096};
    be_rope_apply(be, X, 2, 4, &r, 2);
    be_read(be, X, 0, 2, o, NULL);
    double ms = 1 + 0.1 * log(4.0);
    NEAR(hypot(o[8], o[9]), ms, 1e-6);
    NEAR(atan2(o[9], o[8]), 1.0, 1e-6);
    be_tensor_free(be, X);
    be_tensor_free(be, FF);
}

/* Scores s_t = q.k_t with q = (1, 0), k_t = (ls[t], 0); values v_t = (t, 1). */
static void test_attention(be_kv_dtype dtype, double tol)
{
    be_kv_config kc = {.n_layer = 2, .n_kv_head = 1, .head_dim_k = 2, .head_dim_v = 2,
                       .block_size = 2, .n_blocks = 4, .dtype = dtype};
    be_kv *kv;
    CHECK(be_kv_create(be, &kc, &kv, NULL) == 0);
    const double ls[3] = {0, log(2.0), log(3.0)};
    float k[6], v[6];
    for (int t = 0; t < 3; t++) {
        k[2 * t] = (float)ls[t];
        k[2 * t + 1] = 0;
        v[2 * t] = (float)t;
        v[2 * t + 1] = 1;
    }
    /* Two query heads share the KV head (GQA); head 1 asks with q = 0 (uniform). */
    float q[3 * 4] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, o[12];
    int32_t tok[3] = {0, 0, 0}, pos[3] = {0, 1, 2}, blocks[2] = {3, 1};
    set_batch(3, tok, pos, blocks, 2, 3, 0, NULL);
    be_tensor *K = act(3, 2, k), *Vt = act(3, 2, v), *Q = act(3, 4, q), *O = act(3, 4, NULL);
    be_kv_write(be, kv, 1, K, Vt, 3);
    be_attn at = {.layer = 1, .n_head = 2, .n_kv_head = 1, .head_dim_k = 2, .head_dim_v = 2,
                  .scale = 1};
    be_attention(be, O, Q, kv, &at, 3);
    be_read(be, O, 0, 3, o, NULL);
    NEAR(o[0], 0, tol);
    NEAR(o[1], 1, tol);
    NEAR(o[4], 2.0 / 3, tol);      /* row 1: weights 1/3, 2/3 */
    NEAR(o[8], 8.0 / 6, tol);      /* row 2: weights 1/6, 2/6, 3/6 */
    NEAR(o[9], 1, tol);
    NEAR(o[10], 1.0, tol);         /* head 1 uniform over t = 0..2: mean of 0, 1, 2 */
    NEAR(o[6], 0.5, tol);          /* head 1 at row 1: mean of 0, 1 */

    at.window = 2;                 /* row 2 sees t = 1, 2: weights 2/5, 3/5 */
    be_attention(be, O, Q, kv, &at, 3);
    be_read(be, O, 0, 3, o, NULL);
    NEAR(o[8], 8.0 / 5, tol);
    NEAR(o[4], 2.0 / 3, tol);      /* row 1 sees two keys either way */

    at.window = 0;
    at.scale = 2;                  /* weights 1, 4, 9 over 14 */
    be_attention(be, O, Q, kv, &at, 3);
    be_read(be, O, 0, 3, o, NULL);
    NEAR(o[8], 22.0 / 14, tol);
    at.scale = 1;
    at.softcap = 0.5f;
    be_attention(be, O, Q, kv, &at, 3);
    be_read(be, O, 0, 3, o, NULL);
    double w0 = 1, w1 = exp(0.5 * tanh(2 * ls[1])), w2 = exp(0.5 * tanh(2 * ls[2]));
    NEAR(o[8], (w1 + 2 * w2) / (w0 + w1 + w2), tol);

    /* Copying physical block 1 (positions 2..3) to block 0 and pointing the
     * table there gives the same attention. */
    at.softcap = 0;
    be_kv_copy_block(be, kv, 0, 1);
    int32_t blocks2[2] = {3, 0};
    set_batch(3, tok, pos, blocks2, 2, 3, 0, NULL);
    be_attention(be, O, Q, kv, &at, 3);
    be_read(be, O, 0, 3, o, NULL);
    NEAR(o[8], 8.0 / 6, tol);

    be_tensor *all[] = {K, Vt, Q, O};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be_tensor_free(be, all[i]);
    be_kv_destroy(be, kv);
}

static void test_kv_codecs(void)
{
    /* q8 with hd 128: two groups of 64 with their own scales. */
    float x[128], y[128];
    for (int i = 0; i < 128; i++) x[i] = i < 64 ? 0.001f * (float)(i - 32) : 10.0f * (float)sin(i);
    uint8_t buf[128 + 4];
    CHECK_EQ_INT(be_kv_q8_group(128), 64);
    CHECK_EQ_INT(be_kv_q8_group(80), 80);
    CHECK_EQ_INT(be_kv_q8_group(32), 32);
    ref_kv_store_row(BE_KV_Q8, 128, x, buf);
    ref_kv_load_row(BE_KV_Q8, 128, buf, y);
    double e1 = 0, e2 = 0;
    for (int i = 0; i < 64; i++) e1 = fmax(e1, fabs(x[i] - y[i]));
    for (int i = 64; i < 128; i++) e2 = fmax(e2, fabs(x[i] - y[i]));
    CHECK_MSG(e1 <= 0.032 / 127 * 0.51 + 1e-9, "group 0 error %g", e1);
    CHECK_MSG(e2 <= 10.0 / 127 * 0.51, "group 1 error %g", e2);
    float z[4] = {0, 0, 0, 0}, zz[4] = {1, 1, 1, 1};
    ref_kv_store_row(BE_KV_Q8, 4, z, buf);
    ref_kv_load_row(BE_KV_Q8, 4, buf, zz);
    CHECK(zz[0] == 0 && zz[3] == 0);
    be_kv_config kc = {.n_layer = 2, .n_kv_head = 2, .head_dim_k = 64, .head_dim_v = 64,
                       .block_size = 16, .n_blocks = 1, .dtype = BE_KV_F16};
    CHECK_EQ_INT(be_kv_bytes_per_token(&kc), 2 * 2 * (128 + 128));
    kc.dtype = BE_KV_Q8;
    CHECK_EQ_INT(be_kv_bytes_per_token(&kc), 2 * 2 * (66 + 66));
}

static void test_errors(void)
{
    inf_error err;
    be_tensor *t;
    int64_t ne[2] = {33, 2};
    uint8_t dummy[256] = {0};
    CHECK(be_weight_upload(be, "blk.0.attn_q.weight", QT_Q8_0, 2, ne, dummy, 68, &t, &err) ==
          INF_ERR_INVALID && strstr(err.msg, "blk.0.attn_q.weight"));
    ne[0] = 32;
    CHECK(be_weight_upload(be, "x", QT_Q8_0, 2, ne, dummy, 67, &t, &err) == INF_ERR_INVALID);
    CHECK(be_weight_upload(be, "x", 16 /* IQ2_XXS */, 2, ne, dummy, 68, &t, &err) ==
          INF_ERR_UNSUPPORTED && strstr(err.msg, "IQ2_XXS"));
    be_kv_config kc = {0};
    be_kv *kv;
    CHECK(be_kv_create(be, &kc, &kv, &err) == INF_ERR_INVALID);
    be_tensor_free(be, NULL);
    be_kv_destroy(be, NULL);
    be_destroy(NULL);
}

int main(void)
{
    CHECK(be_ref_create(&be, NULL) == 0);
    test_embed_matmul();
    test_norm_act();
    test_rope();
    test_attention(BE_KV_F32, 1e-6);
    test_attention(BE_KV_F16, 2e-3);
    test_attention(BE_KV_BF16, 2e-2);
    test_attention(BE_KV_Q8, 2e-2);
    test_kv_codecs();
    test_errors();
    be_destroy(be);
    return check_done();
}
