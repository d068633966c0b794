/* test_synth.c: synthetic models (model/synth.h, vocab_synth.h, synth_gen.h) and
 * the type rules of model/quantize.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gguf/gguf.h"
#include "model/quantize.h"
#include "model/synth.h"
#include "model/synth_gen.h"
#include "model/vocab_synth.h"
#include "quant/quant.h"

static void test_vocab(void)
{
    vocab_synth *v = NULL, *w = NULL;
    inf_error err = {0};
    CHECK_EQ_INT(vocab_synth_build(2000, &v, &err), INF_OK);
    CHECK_EQ_INT(vocab_synth_build(2000, &w, &err), INF_OK);
    if (!v || !w) return;
    CHECK_EQ_INT(vocab_synth_size(v), 2000);
    size_t len;
    const char *t = vocab_synth_token(v, VOCAB_SYNTH_IM_END, &len);
    CHECK(len == 10 && !memcmp(t, "<|im_end|>", 10));
    CHECK_EQ_INT(vocab_synth_token_type(v, VOCAB_SYNTH_IM_START), VOCAB_SYNTH_TYPE_CONTROL);
    /* byte 'A' keeps its code point; the space byte is GPT-2's U+0120 */
    t = vocab_synth_token(v, VOCAB_SYNTH_FIRST_BYTE + 'A', &len);
    CHECK(len == 1 && t[0] == 'A');
    t = vocab_synth_token(v, VOCAB_SYNTH_FIRST_BYTE + ' ', &len);
    CHECK(len == 2 && !memcmp(t, "\xc4\xa0", 2));
    /* deterministic, unique, and every merge joins two tokens into a third */
    int same = 1, unique = 1;
    for (uint32_t i = 0; i < 2000; i++) {
        size_t la, lb;
        const char *a = vocab_synth_token(v, i, &la), *b = vocab_synth_token(w, i, &lb);
        if (la != lb || memcmp(a, b, la)) same = 0;
        for (uint32_t j = i + 1; j < 2000 && j < i + 64; j++) {
            const char *c = vocab_synth_token(v, j, &lb);
            if (la == lb && !memcmp(a, c, la)) unique = 0;
        }
    }
    CHECK(same);
    CHECK(unique);
    CHECK(vocab_synth_merge_count(v) >= 200);
    CHECK_EQ_STR(vocab_synth_merge(v, 0), vocab_synth_merge(w, 0));
    const char *m = vocab_synth_merge(v, 0);
    CHECK(strchr(m, ' ') != NULL);
    vocab_synth_free(v);
    vocab_synth_free(w);
    CHECK_EQ_INT(vocab_synth_build(100, &v, &err), INF_ERR_RANGE);
    CHECK(v == NULL);
    vocab_synth_free(NULL);
}

static void test_gen_types(void)
{
    static const uint32_t types[] = {QT_F32, QT_F16, QT_BF16, QT_Q8_0, QT_Q4_0, QT_Q4_1, QT_Q5_0,
                                     QT_Q5_1, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K};
    const int64_t n = 1 << 16;
    float *x = malloc(n * sizeof *x);
    void *q = malloc(n * 4);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        CHECK(synth_gen_supported(types[k]));
        synth_rng r;
        synth_rng_seed(&r, 99);
        synth_gen_fill(types[k], &r, 0.05f, n, q);
        quant_dequantize(types[k], q, x, n);
        double s = 0, s2 = 0;
        int finite = 1;
        for (int64_t i = 0; i < n; i++) {
            finite &= isfinite(x[i]) != 0;
            s += x[i];
            s2 += (double)x[i] * x[i];
        }
        double mean = s / n, sd = sqrt(s2 / n - mean * mean);
        CHECK_MSG(finite, "%s", quant_type_name(types[k]));
        CHECK_MSG(fabs(mean) < 0.002, "%s mean %g", quant_type_name(types[k]), mean);
        CHECK_MSG(fabs(sd / 0.05 - 1.0) < 0.08, "%s std %g", quant_type_name(types[k]), sd);
    }
    CHECK(!synth_gen_supported(QT_IQ2_XXS));
    free(x);
    free(q);
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

static void test_write_and_read_back(void)
{
    char a[] = "/tmp/inferd_synth_test_a_XXXXXX", b[] = "/tmp/inferd_synth_test_b_XXXXXX";
    int fa = mkstemp(a), fb = mkstemp(b);
    if (fa < 0 || fb < 0) check_skip("cannot create temporary files");
    close(fa);
    close(fb);
    synth_config c;
    inf_error err = {0};
    CHECK_EQ_INT(synth_preset("tiny", ARCH_GEMMA3, &c, &err), INF_OK);
    c.type = QT_Q8_0;
    c.seed = 11;
    synth_stats st;
    CHECK_MSG(synth_write(&c, a, 1, &st, &err) == INF_OK, "%s", err.msg);
    CHECK_MSG(synth_write(&c, b, 4, NULL, &err) == INF_OK, "%s", err.msg);
    CHECK(files_equal(a, b));
    CHECK(st.file_bytes > st.data_bytes && st.n_params > 0);

    gguf_file *f = NULL;
    CHECK_EQ_INT(gguf_open(a, &f, &err), INF_OK);
    if (f) {
        model_hparams hp;
        CHECK_MSG(hparams_load(f, &hp, &err) == INF_OK, "%s", err.msg);
        CHECK_EQ_INT(hp.arch, ARCH_GEMMA3);
        CHECK_EQ_INT(hp.n_layer, c.hp.n_layer);
        CHECK_EQ_INT(hp.head_dim, 32);
        CHECK_EQ_INT(hp.n_vocab, c.hp.n_vocab);
        CHECK_EQ_INT(hp.n_swa, c.hp.n_swa);
        CHECK(hp.tied_output);
        /* every tensor the architecture requires, with the shape hparams expects */
        char name[64];
        for (uint32_t il = 0; il < hp.n_layer; il++)
            for (int k = ARCH_T_FIRST_LAYER; k < ARCH_T_COUNT; k++) {
                if (arch_tensor_presence(hp.arch, (arch_tensor)k) != ARCH_REQUIRED) continue;
                arch_tensor_name((arch_tensor)k, (int)il, name, sizeof name);
                const gguf_tensor *t = gguf_tensor_find(f, name);
                CHECK_MSG(t != NULL, "%s missing", name);
                int64_t ne[GGUF_MAX_DIMS];
                uint32_t nd;
                hparams_tensor_shape(&hp, (arch_tensor)k, ne, &nd);
                if (t) CHECK_MSG(t->n_dims == nd && t->ne[0] == ne[0] && t->ne[1] == ne[1], "%s", name);
            }
        uint32_t ft = 0;
        CHECK_EQ_INT(gguf_get_u32(f, "general.file_type", &ft, &err), INF_OK);
        CHECK_EQ_INT(ft, 7);
        gguf_close(f);
    }
    /* another seed: another file */
    c.seed = 12;
    CHECK_EQ_INT(synth_write(&c, b, 2, NULL, &err), INF_OK);
    CHECK(!files_equal(a, b));
    remove(a);
    remove(b);

    /* failures leave no file behind */
    c.hp.n_head_kv = 3;
    CHECK_EQ_INT(synth_write(&c, a, 1, NULL, &err), INF_ERR_RANGE);
    CHECK(strstr(err.msg, "head_count_kv") != NULL);
    CHECK(access(a, F_OK) != 0);
}

static void test_presets_and_dims(void)
{
    synth_config c;
    inf_error err = {0};
    CHECK_EQ_INT(synth_preset("llama3-8b", ARCH_UNKNOWN, &c, &err), INF_OK);
    CHECK_EQ_INT(c.hp.arch, ARCH_LLAMA);
    CHECK_EQ_INT(c.hp.n_embd, 4096);
    CHECK_EQ_INT(c.hp.n_vocab, 128256);
    CHECK(!c.tied && c.llama3_factor == 8.0f);
    CHECK_EQ_INT(synth_preset("llama3-8b", ARCH_QWEN3, &c, &err), INF_ERR_INVALID);
    CHECK_EQ_INT(synth_preset("nope", ARCH_UNKNOWN, &c, &err), INF_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "qwen3-0.6b") != NULL); /* the message lists the presets */
    CHECK_EQ_INT(synth_preset("tiny", ARCH_DEEPSEEK2, &c, &err), INF_ERR_UNSUPPORTED);
    CHECK_EQ_INT(synth_preset("qwen3-0.6b", ARCH_UNKNOWN, &c, &err), INF_OK);
    CHECK_EQ_INT(c.hp.head_dim, 128);
    CHECK_EQ_INT(synth_set_dims(&c, "layers=3,d=512,heads=8", &err), INF_OK);
    CHECK_EQ_INT(c.hp.n_layer, 3);
    CHECK_EQ_INT(c.hp.head_dim, 0); /* follows d / heads again */
    CHECK_EQ_INT(synth_set_dims(&c, "head_dim=96", &err), INF_OK);
    CHECK_EQ_INT(c.hp.head_dim, 96);
    CHECK_EQ_INT(synth_set_dims(&c, "layers", &err), INF_ERR_INVALID);
    CHECK_EQ_INT(synth_set_dims(&c, "layers=-1", &err), INF_ERR_INVALID);
    CHECK_EQ_INT(synth_set_dims(&c, "layers=2x", &err), INF_ERR_INVALID);
    CHECK_EQ_INT(synth_set_dims(&c, "depth=2", &err), INF_ERR_INVALID);
    CHECK(strstr(err.msg, "depth") != NULL);
    CHECK(synth_preset_count() >= 7);
}

static void test_type_rules(void)
{
    CHECK_EQ_INT(quantize_type_for_row(QT_Q4_K, 4096), QT_Q4_K);
    CHECK_EQ_INT(quantize_type_for_row(QT_Q4_K, 576), QT_Q5_0);
    CHECK_EQ_INT(quantize_type_for_row(QT_Q5_K, 576), QT_Q5_1);
    CHECK_EQ_INT(quantize_type_for_row(QT_Q6_K, 576), QT_Q8_0);
    CHECK_EQ_INT(quantize_type_for_row(QT_Q3_K, 64), QT_Q4_0);
    CHECK_EQ_INT(quantize_type_for_row(QT_Q4_K, 172), QT_F16);
    CHECK_EQ_INT(quantize_type_for_row(QT_Q8_0, 172), QT_F16);
    CHECK_EQ_INT(quantize_type_for_row(QT_F32, 172), QT_F32);
    CHECK_EQ_INT(quantize_file_type(QT_Q4_0), 2);
    CHECK_EQ_INT(quantize_file_type(QT_Q8_0), 7);
    CHECK_EQ_INT(quantize_file_type(QT_BF16), 32);
    CHECK_EQ_INT(quantize_file_type(QT_IQ2_XXS), -1);
    CHECK(quantize_target_ok(QT_Q6_K));
    CHECK(!quantize_target_ok(QT_Q8_K));
}

int main(void)
{
    test_vocab();
    test_gen_types();
    test_write_and_read_back();
    test_presets_and_dims();
    test_type_rules();
    return check_done();
}
