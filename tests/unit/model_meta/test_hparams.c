/* test_hparams.c: hyper-parameters from metadata (model/hparams.h), on GGUF
 * images built byte by byte here, and on stories260K when testdata is present. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "gguf/gguf.h"
#include "model/hparams.h"

/* A GGUF v3 image with metadata only, built in a static buffer. */
typedef struct image {
    uint8_t b[8192];
    size_t n;
    uint64_t n_kv;
} image;

static void put(image *im, const void *p, size_t n)
{
    memcpy(im->b + im->n, p, n);
    im->n += n;
}
static void put_u32(image *im, uint32_t v) { put(im, &v, 4); }
static void put_u64(image *im, uint64_t v) { put(im, &v, 8); }
static void put_str(image *im, const char *s)
{
    put_u64(im, strlen(s));
    put(im, s, strlen(s));
}
static void begin(image *im)
{
    im->n = 0;
    im->n_kv = 0;
    put(im, "GGUF", 4);
    put_u32(im, 3);
    put_u64(im, 0); /* tensors */
    put_u64(im, 0); /* kv count, patched by finish */
}
static void kv_u32(image *im, const char *k, uint32_t v)
{
    put_str(im, k);
    put_u32(im, GGUF_VT_UINT32);
    put_u32(im, v);
    im->n_kv++;
}
static void kv_f32(image *im, const char *k, float v)
{
    put_str(im, k);
    put_u32(im, GGUF_VT_FLOAT32);
    put(im, &v, 4);
    im->n_kv++;
}
static void kv_str(image *im, const char *k, const char *v)
{
    put_str(im, k);
    put_u32(im, GGUF_VT_STRING);
    put_str(im, v);
    im->n_kv++;
}
static void kv_u32_arr(image *im, const char *k, const uint32_t *v, uint64_t n)
{
    put_str(im, k);
    put_u32(im, GGUF_VT_ARRAY);
    put_u32(im, GGUF_VT_UINT32);
    put_u64(im, n);
    put(im, v, n * 4);
    im->n_kv++;
}
static void finish(image *im)
{
    memcpy(im->b + 16, &im->n_kv, 8);
    while (im->n % 32) im->b[im->n++] = 0;
}

static int load(image *im, model_hparams *hp, inf_error *err)
{
    finish(im);
    gguf_file *f = NULL;
    int rc = gguf_open_memory(im->b, im->n, &f, err);
    if (rc) {
        fprintf(stderr, "    gguf_open_memory: %s\n", err->msg);
        return rc;
    }
    rc = hparams_load(f, hp, err);
    gguf_close(f);
    return rc;
}

/* SmolLM2-135M's keys, as its GGUF file stores them. */
static void smollm2_keys(image *im)
{
    begin(im);
    kv_str(im, "general.architecture", "llama");
    kv_u32(im, "llama.block_count", 30);
    kv_u32(im, "llama.context_length", 8192);
    kv_u32(im, "llama.embedding_length", 576);
    kv_u32(im, "llama.feed_forward_length", 1536);
    kv_u32(im, "llama.attention.head_count", 9);
    kv_u32(im, "llama.attention.head_count_kv", 3);
    kv_f32(im, "llama.rope.freq_base", 100000.0f);
    kv_f32(im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(im, "llama.vocab_size", 49152);
    kv_u32(im, "llama.rope.dimension_count", 64);
}

static void test_llama(void)
{
    image im;
    model_hparams hp;
    inf_error err = {0};
    smollm2_keys(&im);
    CHECK_EQ_INT(load(&im, &hp, &err), INF_OK);
    CHECK_EQ_INT(hp.arch, ARCH_LLAMA);
    CHECK_EQ_STR(hp.arch_name, "llama");
    CHECK_EQ_INT(hp.n_layer, 30);
    CHECK_EQ_INT(hp.n_embd, 576);
    CHECK_EQ_INT(hp.n_head, 9);
    CHECK_EQ_INT(hp.n_head_kv, 3);
    CHECK_EQ_INT(hp.head_dim, 64);
    CHECK_EQ_INT(hp.head_dim_v, 64);
    CHECK_EQ_INT(hp.n_rot, 64);
    CHECK_EQ_INT(hp.n_vocab, 49152);
    CHECK_EQ_INT(hp.rope_type, ARCH_ROPE_NORM);
    CHECK(hp.rope_freq_base == 100000.0f);
    CHECK(hp.tied_output); /* no output.weight */
    CHECK(!hp.has_rope_freqs);
    CHECK(hp.embd_scale == 1.0f);
    CHECK(fabsf(hp.attn_scale - 0.125f) < 1e-7f);
    CHECK_EQ_INT(hp.n_swa, 0);
    CHECK(!hparams_layer_is_swa(&hp, 5));
    CHECK_EQ_INT(hp.rope_scaling, HPARAMS_ROPE_SCALING_NONE);

    /* 30 layers x 3 kv heads x 64 dims, K and V */
    CHECK_EQ_INT(hparams_kv_bytes_per_token(&hp, HPARAMS_KV_F16), 30 * 2 * 2 * 192);
    CHECK_EQ_INT(hparams_kv_bytes_per_token(&hp, HPARAMS_KV_BF16), 30 * 2 * 2 * 192);
    /* q8: one byte per value plus an f16 scale per 64 values of each head */
    CHECK_EQ_INT(hparams_kv_bytes_per_token(&hp, HPARAMS_KV_Q8), 30 * (2 * 192 + 2 * 2 * 3));

    int64_t ne[GGUF_MAX_DIMS];
    uint32_t nd = 0;
    CHECK_EQ_INT(hparams_tensor_shape(&hp, ARCH_T_ATTN_K, ne, &nd), INF_OK);
    CHECK(nd == 2 && ne[0] == 576 && ne[1] == 192);
    CHECK_EQ_INT(hparams_tensor_shape(&hp, ARCH_T_FFN_DOWN, ne, &nd), INF_OK);
    CHECK(nd == 2 && ne[0] == 1536 && ne[1] == 576);
    CHECK_EQ_INT(hparams_tensor_shape(&hp, ARCH_T_TOKEN_EMBD, ne, &nd), INF_OK);
    CHECK(nd == 2 && ne[0] == 576 && ne[1] == 49152);
    CHECK_EQ_INT(hparams_tensor_shape(&hp, ARCH_T_OUTPUT_NORM, ne, &nd), INF_OK);
    CHECK(nd == 1 && ne[0] == 576 && ne[1] == 1);
    CHECK_EQ_INT(hparams_tensor_shape(&hp, ARCH_T_COUNT, ne, &nd), INF_ERR_INVALID);
}

/* Gemma 3 270M's keys: explicit head dims, sliding window, one kv head. */
static void test_gemma3(void)
{
    image im;
    model_hparams hp;
    inf_error err = {0};
    begin(&im);
    kv_str(&im, "general.architecture", "gemma3");
    kv_u32(&im, "gemma3.context_length", 32768);
    kv_u32(&im, "gemma3.embedding_length", 640);
    kv_u32(&im, "gemma3.block_count", 18);
    kv_u32(&im, "gemma3.feed_forward_length", 2048);
    kv_u32(&im, "gemma3.attention.head_count", 4);
    kv_f32(&im, "gemma3.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_u32(&im, "gemma3.attention.key_length", 256);
    kv_u32(&im, "gemma3.attention.value_length", 256);
    kv_f32(&im, "gemma3.rope.freq_base", 1000000.0f);
    kv_u32(&im, "gemma3.attention.sliding_window", 512);
    kv_u32(&im, "gemma3.attention.head_count_kv", 1);
    kv_u32(&im, "gemma3.vocab_size", 262144);
    CHECK_EQ_INT(load(&im, &hp, &err), INF_OK);
    CHECK_EQ_INT(hp.arch, ARCH_GEMMA3);
    CHECK_EQ_INT(hp.head_dim, 256);
    CHECK_EQ_INT(hp.n_rot, 256);
    CHECK_EQ_INT(hp.rope_type, ARCH_ROPE_NEOX);
    CHECK(fabsf(hp.embd_scale - sqrtf(640.0f)) < 1e-4f);
    CHECK(fabsf(hp.attn_scale - 1.0f / 16.0f) < 1e-7f);
    CHECK_EQ_INT(hp.n_swa, 512);
    /* every 6th layer (5, 11, 17) is global and uses the file's base */
    int globals = 0;
    for (uint32_t il = 0; il < hp.n_layer; il++) {
        bool swa = hparams_layer_is_swa(&hp, il);
        if (!swa) globals++;
        CHECK_MSG(swa == (il % 6 != 5), "layer %u", il);
        CHECK(hparams_layer_rope_base(&hp, il) == (swa ? 10000.0f : 1000000.0f));
    }
    CHECK_EQ_INT(globals, 3);
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t nd = 0;
    hparams_tensor_shape(&hp, ARCH_T_ATTN_Q, ne, &nd);
    CHECK(nd == 2 && ne[0] == 640 && ne[1] == 1024);
    hparams_tensor_shape(&hp, ARCH_T_ATTN_OUT, ne, &nd);
    CHECK(nd == 2 && ne[0] == 1024 && ne[1] == 640);
    hparams_tensor_shape(&hp, ARCH_T_ATTN_Q_NORM, ne, &nd);
    CHECK(nd == 1 && ne[0] == 256);
    /* 18 layers x 1 head x 256 dims x (K + V) */
    CHECK_EQ_INT(hparams_kv_bytes_per_token(&hp, HPARAMS_KV_F16), 18 * 2 * 512);
    CHECK_EQ_INT(hparams_kv_bytes_per_token(&hp, HPARAMS_KV_Q8), 18 * (512 + 2 * 8));
}

static void expect_error(image *im, int code, const char *needle)
{
    model_hparams hp;
    inf_error err = {0};
    int rc = load(im, &hp, &err);
    CHECK_MSG(rc == code, "rc = %d, want %d (%s)", rc, code, err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_errors(void)
{
    image im;
    begin(&im);
    kv_u32(&im, "llama.block_count", 30);
    expect_error(&im, INF_ERR_NOT_FOUND, "general.architecture");

    smollm2_keys(&im);
    kv_u32(&im, "llama.attention.head_count_kv", 4); /* duplicate keys are the reader's job */
    model_hparams hp;
    inf_error err = {0};
    (void)load(&im, &hp, &err); /* either way no crash */

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 576);
    kv_u32(&im, "llama.feed_forward_length", 1536);
    kv_u32(&im, "llama.attention.head_count", 9);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(&im, "llama.vocab_size", 100);
    expect_error(&im, INF_ERR_NOT_FOUND, "llama.block_count");

    begin(&im);
    kv_str(&im, "general.architecture", "qwen3");
    kv_u32(&im, "qwen3.context_length", 8192);
    kv_u32(&im, "qwen3.embedding_length", 576);
    kv_u32(&im, "qwen3.block_count", 2);
    kv_u32(&im, "qwen3.feed_forward_length", 1536);
    kv_u32(&im, "qwen3.attention.head_count", 9);
    kv_u32(&im, "qwen3.attention.head_count_kv", 4);
    kv_f32(&im, "qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_u32(&im, "qwen3.vocab_size", 100);
    expect_error(&im, INF_ERR_RANGE, "qwen3.attention.head_count_kv = 4 does not divide");

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 0);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 1536);
    kv_u32(&im, "llama.attention.head_count", 9);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_u32(&im, "llama.vocab_size", 100);
    expect_error(&im, INF_ERR_RANGE, "llama.embedding_length must be positive");

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_str(&im, "llama.block_count", "two");
    expect_error(&im, INF_ERR_FORMAT, "llama.block_count");

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 128);
    kv_u32(&im, "llama.attention.head_count", 4);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", -1.0f);
    kv_u32(&im, "llama.vocab_size", 100);
    expect_error(&im, INF_ERR_RANGE, "layer_norm_rms_epsilon");

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 128);
    kv_u32(&im, "llama.attention.head_count", 4);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(&im, "llama.rope.dimension_count", 17);
    kv_u32(&im, "llama.vocab_size", 100);
    expect_error(&im, INF_ERR_RANGE, "rope.dimension_count = 17");

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 128);
    kv_u32(&im, "llama.attention.head_count", 4);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    expect_error(&im, INF_ERR_RANGE, "vocabulary size unknown");

    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 128);
    kv_u32(&im, "llama.attention.head_count", 4);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(&im, "llama.vocab_size", 100);
    kv_str(&im, "llama.rope.scaling.type", "longrope");
    expect_error(&im, INF_ERR_UNSUPPORTED, "llama.rope.scaling.type");

    /* per-layer arrays: equal values are accepted, differing ones are not */
    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 128);
    const uint32_t heads[2] = {4, 4};
    kv_u32_arr(&im, "llama.attention.head_count", heads, 2);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(&im, "llama.vocab_size", 100);
    CHECK_EQ_INT(load(&im, &hp, &err), INF_OK);
    CHECK_EQ_INT(hp.n_head, 4);
    begin(&im);
    kv_str(&im, "general.architecture", "llama");
    kv_u32(&im, "llama.context_length", 8192);
    kv_u32(&im, "llama.embedding_length", 64);
    kv_u32(&im, "llama.block_count", 2);
    kv_u32(&im, "llama.feed_forward_length", 128);
    const uint32_t kvheads[2] = {4, 2};
    kv_u32(&im, "llama.attention.head_count", 4);
    kv_u32_arr(&im, "llama.attention.head_count_kv", kvheads, 2);
    kv_f32(&im, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(&im, "llama.vocab_size", 100);
    expect_error(&im, INF_ERR_UNSUPPORTED, "llama.attention.head_count_kv");
}

static void test_rope_scaling(void)
{
    image im;
    model_hparams hp;
    inf_error err = {0};
    begin(&im);
    kv_str(&im, "general.architecture", "qwen2");
    kv_u32(&im, "qwen2.context_length", 131072);
    kv_u32(&im, "qwen2.embedding_length", 64);
    kv_u32(&im, "qwen2.block_count", 2);
    kv_u32(&im, "qwen2.feed_forward_length", 128);
    kv_u32(&im, "qwen2.attention.head_count", 4);
    kv_u32(&im, "qwen2.attention.head_count_kv", 2);
    kv_f32(&im, "qwen2.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_u32(&im, "qwen2.vocab_size", 100);
    kv_str(&im, "qwen2.rope.scaling.type", "yarn");
    kv_f32(&im, "qwen2.rope.scaling.factor", 4.0f);
    kv_u32(&im, "qwen2.rope.scaling.original_context_length", 32768);
    CHECK_EQ_INT(load(&im, &hp, &err), INF_OK);
    CHECK_EQ_INT(hp.rope_scaling, HPARAMS_ROPE_SCALING_YARN);
    CHECK(hp.rope_scale_factor == 4.0f);
    CHECK_EQ_INT(hp.rope_orig_ctx, 32768);
    CHECK(hp.yarn_beta_fast == 32.0f && hp.yarn_beta_slow == 1.0f);
    CHECK_EQ_INT(hp.rope_type, ARCH_ROPE_NEOX);

    /* Llama 3.1 8B's parameters: high frequencies untouched, low ones divided by
     * the factor, a monotone blend between */
    float f[64];
    hparams_llama3_rope_freqs(500000.0f, 128, 8.0f, 1.0f, 4.0f, 8192, f);
    CHECK(f[0] == 1.0f);
    CHECK(f[63] == 8.0f);
    int blended = 0;
    for (int i = 1; i < 64; i++) {
        CHECK_MSG(f[i] >= f[i - 1] && f[i] >= 1.0f && f[i] <= 8.0f, "i = %d: %g", i, (double)f[i]);
        if (f[i] > 1.0f && f[i] < 8.0f) blended++;
    }
    CHECK(blended > 0 && blended < 32);
}

/* Defaults and derived fields for a caller that sets the dimensions (synth). */
static void test_init_finish(void)
{
    model_hparams hp;
    inf_error err = {0};
    hparams_init(&hp, ARCH_QWEN3);
    hp.n_ctx_train = 40960;
    hp.n_embd = 1024;
    hp.n_layer = 28;
    hp.n_ff = 3072;
    hp.n_head = 16;
    hp.n_head_kv = 8;
    hp.head_dim = 128;
    hp.n_vocab = 151936;
    CHECK_EQ_INT(hparams_finish(&hp, &err), INF_OK);
    CHECK_EQ_INT(hp.n_rot, 128);
    CHECK_EQ_INT(hp.head_dim_v, 128);
    CHECK(fabsf(hp.attn_scale - 1.0f / sqrtf(128.0f)) < 1e-7f);
    hp.n_head_kv = 5;
    CHECK_EQ_INT(hparams_validate(&hp, &err), INF_ERR_RANGE);
}

static void test_stories(void)
{
    char buf[1024];
    const char *path = check_testdata("models/stories260K.gguf", buf, sizeof buf);
    if (!path) {
        printf("note: testdata absent, stories260K case skipped\n");
        return;
    }
    gguf_file *f = NULL;
    inf_error err = {0};
    model_hparams hp;
    CHECK_EQ_INT(gguf_open(path, &f, &err), INF_OK);
    if (!f) return;
    CHECK_MSG(hparams_load(f, &hp, &err) == INF_OK, "%s", err.msg);
    CHECK_EQ_INT(hp.n_vocab, 512); /* from tokenizer.ggml.tokens */
    CHECK_EQ_INT(hp.n_layer, 5);
    CHECK_EQ_INT(hp.head_dim, 8);
    CHECK_EQ_INT(hp.n_rot, 8);
    CHECK_EQ_INT(hp.n_ff, 172);
    CHECK(!hp.tied_output);
    gguf_close(f);
}

int main(void)
{
    test_llama();
    test_gemma3();
    test_errors();
    test_rope_scaling();
    test_init_finish();
    test_stories();
    return check_done();
}
