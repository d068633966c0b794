/* test_model_load.c: a model file that does not fit its metadata is refused
 * with the tensor or key named, never loaded half-way or crashed on: missing
 * tensor, wrong shape, unsupported type, non-F32 norm, unknown architecture.
 * Each bad file is a copy of a tiny synth model with one thing changed. */
#include <stdio.h>

#include "backend/ref/ref.h"
#include "check.h"
#include "model/model.h"
#include "model/synth.h"
#include "quant/quant.h"

typedef enum edit { DROP, SHRINK, RETYPE_F16, RENAME_ARCH } edit;

/* Copies src to dst, applying `what` to the tensor named `target`. */
static int rewrite(const char *src, const char *dst, const char *target, edit what)
{
    gguf_file *f = NULL;
    gguf_writer *w = NULL;
    inf_error err;
    int rc = gguf_open(src, &f, &err);
    if (!rc) rc = gguf_writer_open(dst, 0, &w, &err);
    for (int64_t i = 0; !rc && i < gguf_kv_count(f); i++) {
        const char *key = gguf_kv_key(f, i);
        if (what == RENAME_ARCH && !strcmp(key, "general.architecture"))
            rc = gguf_writer_set_str(w, key, "mamba9", 6);
        else
            rc = gguf_writer_set_value(w, key, gguf_kv_value(f, i));
    }
    for (int64_t i = 0; !rc && i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        uint32_t type = t->type;
        if (!strcmp(t->name, target)) {
            if (what == DROP) continue;
            if (what == SHRINK) ne[1] -= 1;
            if (what == RETYPE_F16) type = QT_F16;
        }
        rc = gguf_writer_add_tensor(w, t->name, type, t->n_dims, ne);
    }
    if (!rc) rc = gguf_writer_begin_data(w);
    for (int64_t i = 0; !rc && i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        size_t n = t->nbytes;
        if (!strcmp(t->name, target)) {
            if (what == DROP) continue;
            if (what == SHRINK) n -= quant_row_size(t->type, t->ne[0]);
            if (what == RETYPE_F16) n /= 2;
        }
        rc = gguf_writer_write_data(w, t->data, n);
    }
    if (w) {
        int rc2 = gguf_writer_close(w, &err);
        if (!rc) rc = rc2;
    }
    gguf_close(f);
    return rc;
}

static void expect_refused(be_backend *be, const char *path, int code, const char *needle)
{
    gguf_file *f = NULL;
    model *m = NULL;
    inf_error err = {0};
    int rc = gguf_open(path, &f, &err);
    CHECK_MSG(rc == 0, "%s: %s", path, err.msg);
    if (rc) return;
    rc = model_load(f, be, NULL, &m, &err);
    CHECK_MSG(rc == code && m == NULL && strstr(err.msg, needle),
              "%s: rc %d, message \"%s\"; wanted %d and \"%s\"", path, rc, err.msg, code, needle);
    model_free(m);
    gguf_close(f);
}

int main(void)
{
    inf_error err = {0};
    synth_config c;
    const char *good = "load-good.gguf", *bad = "load-bad.gguf";
    int rc = synth_preset("tiny", ARCH_QWEN2, &c, &err);
    if (!rc) rc = synth_write(&c, good, 1, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    be_backend *be;
    CHECK(be_ref_create(&be, &err) == 0);

    gguf_file *f = NULL;
    model *m = NULL;
    CHECK(gguf_open(good, &f, &err) == 0);
    CHECK_MSG(model_load(f, be, NULL, &m, &err) == 0, "%s", err.msg);
    CHECK(m && m->layers[1].bq != NULL && m->max_rows == 512 && m->max_out == 64);
    model_free(m);
    gguf_close(f);

    CHECK(rewrite(good, bad, "blk.1.ffn_up.weight", DROP) == 0);
    expect_refused(be, bad, INF_ERR_NOT_FOUND, "blk.1.ffn_up.weight");
    CHECK(rewrite(good, bad, "blk.1.attn_q.bias", DROP) == 0); /* qwen2 needs its biases */
    expect_refused(be, bad, INF_ERR_NOT_FOUND, "blk.1.attn_q.bias");
    CHECK(rewrite(good, bad, "blk.0.attn_k.weight", SHRINK) == 0);
    expect_refused(be, bad, INF_ERR_FORMAT, "blk.0.attn_k.weight");
    CHECK(rewrite(good, bad, "blk.0.ffn_norm.weight", RETYPE_F16) == 0);
    expect_refused(be, bad, INF_ERR_UNSUPPORTED, "blk.0.ffn_norm.weight");
    CHECK(rewrite(good, bad, "", RENAME_ARCH) == 0);
    expect_refused(be, bad, INF_ERR_UNSUPPORTED, "mamba9");
    model_free(NULL);
    be_destroy(be);
    remove(good);
    remove(bad);
    return check_done();
}
