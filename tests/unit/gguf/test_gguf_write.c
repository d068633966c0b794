/* test_gguf_write.c: the streaming writer, read back by the reader: every value
 * type, nested arrays and arrays of strings, custom alignment, tensor data
 * streamed in odd-sized pieces, metadata copied value by value from a read file
 * (what `quantize` does), and the misuse the writer must refuse. */
#include <inttypes.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

static char path_a[256], path_b[256];

/* Deterministic bytes for tensor i, position k. */
static unsigned char pattern(int i, uint64_t k) { return (unsigned char)(k * 31 + i * 7 + 1); }

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void write_file(const char *path, uint32_t alignment)
{
    gguf_writer *w = NULL;
    inf_error err = {0};
    int rc = gguf_writer_open(path, alignment, &w, &err);
    CHECK_MSG(rc == INF_OK, "%s", err.msg);
    if (rc) return;
    CHECK_EQ_INT(gguf_writer_set_u8(w, "t.u8", 250), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_i8(w, "t.i8", -5), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u16(w, "t.u16", 60000), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_i16(w, "t.i16", -30000), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u32(w, "t.u32", 3000000000u), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_i32(w, "t.i32", -2000000000), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u64(w, "t.u64", 1ull << 60), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_i64(w, "t.i64", -(1ll << 60)), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_f32(w, "t.f32", 0.1f), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_f64(w, "t.f64", 0.1), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_bool(w, "t.bool", true), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo", 6), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_str(w, "t.empty", "", 0), INF_OK);
    int16_t arr[4] = {-1, 2, -3, 4};
    CHECK_EQ_INT(gguf_writer_set_arr(w, "t.arr", GGUF_VT_INT16, arr, 4), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_arr(w, "t.arr0", GGUF_VT_FLOAT32, NULL, 0), INF_OK);
    const char *strs[] = {"one", "", "three"};
    size_t lens[] = {3, 0, 5};
    CHECK_EQ_INT(gguf_writer_set_arr_str(w, "t.strs", strs, lens, 3), INF_OK);
    /* [[7, 8], ["x"]] would be heterogeneous; GGUF nests one element type: [[7,8],[9]] */
    uint32_t in0[2] = {7, 8}, in1[1] = {9};
    gguf_value items[2] = {
        {.type = GGUF_VT_ARRAY, .v.arr = {GGUF_VT_UINT32, 2, NULL, in0}},
        {.type = GGUF_VT_ARRAY, .v.arr = {GGUF_VT_UINT32, 1, NULL, in1}},
    };
    gguf_value nested = {.type = GGUF_VT_ARRAY, .v.arr = {GGUF_VT_ARRAY, 2, items, NULL}};
    CHECK_EQ_INT(gguf_writer_set_value(w, "t.nested", &nested), INF_OK);

    int64_t ne_a[2] = {5, 3};       /* F32: 60 bytes */
    int64_t ne_b[1] = {64};         /* Q8_0: 2 blocks of 34 = 68 bytes */
    int64_t ne_c[4] = {2, 1, 3, 2}; /* F16: 24 bytes */
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "a", QT_F32, 2, ne_a), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "b", QT_Q8_0, 1, ne_b), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "c", QT_F16, 4, ne_c), INF_OK);
    CHECK_EQ_INT(gguf_writer_begin_data(w), INF_OK);
    /* Stream in pieces of 7 bytes that straddle tensor boundaries. */
    const uint64_t sizes[3] = {60, 68, 24};
    unsigned char all[152];
    uint64_t pos = 0;
    for (int i = 0; i < 3; i++)
        for (uint64_t k = 0; k < sizes[i]; k++) all[pos++] = pattern(i, k);
    for (uint64_t off = 0; off < pos; off += 7) {
        size_t n = pos - off < 7 ? (size_t)(pos - off) : 7;
        CHECK_EQ_INT(gguf_writer_write_data(w, all + off, n), INF_OK);
    }
    rc = gguf_writer_close(w, &err);
    CHECK_MSG(rc == INF_OK, "%s", err.msg);
}

static void check_file(const char *path, uint32_t alignment)
{
    gguf_file *f = NULL;
    inf_error err = {0};
    int rc = gguf_open(path, &f, &err);
    CHECK_MSG(rc == INF_OK, "%s", err.msg);
    if (rc) return;
    CHECK_EQ_INT(gguf_version(f), 3);
    CHECK_EQ_INT(gguf_alignment(f), alignment);
    CHECK_EQ_INT(gguf_kv_count(f), 17 + (alignment != GGUF_DEFAULT_ALIGNMENT));
    CHECK_EQ_INT(gguf_file_size(f) % alignment, 0);
    const gguf_value *v;
    v = gguf_kv_get(f, "t.u8");  CHECK(v && v->type == GGUF_VT_UINT8 && v->v.u64 == 250);
    v = gguf_kv_get(f, "t.i8");  CHECK(v && v->type == GGUF_VT_INT8 && v->v.i64 == -5);
    v = gguf_kv_get(f, "t.u16"); CHECK(v && v->type == GGUF_VT_UINT16 && v->v.u64 == 60000);
    v = gguf_kv_get(f, "t.i16"); CHECK(v && v->type == GGUF_VT_INT16 && v->v.i64 == -30000);
    v = gguf_kv_get(f, "t.u32"); CHECK(v && v->type == GGUF_VT_UINT32 && v->v.u64 == 3000000000u);
    v = gguf_kv_get(f, "t.i32");
    CHECK(v && v->type == GGUF_VT_INT32 && v->v.i64 == -2000000000);
    v = gguf_kv_get(f, "t.u64"); CHECK(v && v->type == GGUF_VT_UINT64 && v->v.u64 == 1ull << 60);
    v = gguf_kv_get(f, "t.i64");
    CHECK(v && v->type == GGUF_VT_INT64 && v->v.i64 == -(1ll << 60));
    v = gguf_kv_get(f, "t.f32"); CHECK(v && v->type == GGUF_VT_FLOAT32 && v->v.f64 == (double)0.1f);
    v = gguf_kv_get(f, "t.f64"); CHECK(v && v->type == GGUF_VT_FLOAT64 && v->v.f64 == 0.1);
    v = gguf_kv_get(f, "t.bool"); CHECK(v && v->type == GGUF_VT_BOOL && v->v.u64 == 1);
    gguf_str s = {0};
    CHECK_EQ_INT(gguf_get_str(f, "t.str", &s, &err), INF_OK);
    CHECK(s.len == 6 && memcmp(s.ptr, "h\xc3\xa9llo", 6) == 0);
    CHECK_EQ_INT(gguf_get_str(f, "t.empty", &s, &err), INF_OK);
    CHECK_EQ_INT(s.len, 0);
    const gguf_value *a = NULL;
    CHECK_EQ_INT(gguf_get_arr(f, "t.arr", GGUF_VT_INT16, &a, &err), INF_OK);
    if (a) {
        CHECK_EQ_INT(a->v.arr.count, 4);
        CHECK_EQ_INT(gguf_arr_i64(a, 2), -3);
    }
    CHECK_EQ_INT(gguf_get_arr(f, "t.arr0", GGUF_VT_FLOAT32, &a, &err), INF_OK);
    CHECK_EQ_INT(a ? a->v.arr.count : 99, 0);
    CHECK_EQ_INT(gguf_get_arr(f, "t.strs", GGUF_VT_STRING, &a, &err), INF_OK);
    if (a && a->v.arr.count == 3) {
        CHECK(a->v.arr.items[0].v.str.len == 3 && !memcmp(a->v.arr.items[0].v.str.ptr, "one", 3));
        CHECK(a->v.arr.items[1].v.str.len == 0);
        CHECK(a->v.arr.items[2].v.str.len == 5);
    }
    CHECK_EQ_INT(gguf_get_arr(f, "t.nested", GGUF_VT_ARRAY, &a, &err), INF_OK);
    if (a && a->v.arr.count == 2) {
        CHECK_EQ_INT(a->v.arr.items[0].v.arr.count, 2);
        CHECK_EQ_INT(gguf_arr_i64(&a->v.arr.items[0], 1), 8);
        CHECK_EQ_INT(gguf_arr_i64(&a->v.arr.items[1], 0), 9);
    }
    CHECK_EQ_INT(gguf_tensor_count(f), 3);
    static const char *const names[3] = {"a", "b", "c"};
    const uint64_t sizes[3] = {60, 68, 24};
    for (int i = 0; i < 3 && i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK_EQ_STR(t->name, names[i]);
        CHECK_EQ_INT(t->nbytes, sizes[i]);
        CHECK_EQ_INT(t->offset % alignment, 0);
        int bad = 0;
        for (uint64_t k = 0; k < t->nbytes; k++)
            bad += ((const unsigned char *)t->data)[k] != pattern(i, k);
        CHECK_MSG(bad == 0, "tensor %s: %d bytes differ", t->name, bad);
    }
    const gguf_tensor *c = gguf_tensor_find(f, "c");
    CHECK(c && c->n_dims == 4 && c->ne[0] == 2 && c->ne[2] == 3 && c->ne[3] == 2);
    gguf_close(f);
}

/* Copies every key and tensor of a read file through the writer; the copy must
 * read back identically (what `inferd quantize` relies on). */
static void test_copy(const char *src, const char *dst)
{
    gguf_file *f = NULL, *g = NULL;
    gguf_writer *w = NULL;
    inf_error err = {0};
    if (gguf_open(src, &f, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    CHECK_EQ_INT(gguf_writer_open(dst, gguf_alignment(f), &w, &err), INF_OK);
    for (int64_t i = 0; w && i < gguf_kv_count(f); i++) {
        CHECK_EQ_INT(gguf_writer_set_value(w, gguf_kv_key(f, i), gguf_kv_value(f, i)), INF_OK);
    }
    for (int64_t i = 0; w && i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK_EQ_INT(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne), INF_OK);
    }
    if (w) {
        CHECK_EQ_INT(gguf_writer_begin_data(w), INF_OK);
        for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            CHECK_EQ_INT(gguf_writer_write_data(w, t->data, t->nbytes), INF_OK);
        }
        CHECK_EQ_INT(gguf_writer_close(w, &err), INF_OK);
    }
    /* Same layout, so the whole file is byte-identical. */
    CHECK_EQ_INT(gguf_open(dst, &g, &err), INF_OK);
    if (g) {
        CHECK_EQ_INT(gguf_file_size(g), gguf_file_size(f));
        CHECK(memcmp(gguf_base(g), gguf_base(f), gguf_file_size(f)) == 0);
    }
    gguf_close(f);
    gguf_close(g);
}

static void test_misuse(const char *path)
{
    gguf_writer *w = NULL;
    inf_error err = {0};
    int64_t ne[1] = {32};
    CHECK_EQ_INT(gguf_writer_open(path, 48, &w, &err), INF_ERR_INVALID);  /* not 2^k */
    CHECK(w == NULL);
    CHECK_EQ_INT(gguf_writer_open("/nonexistent/dir/x.gguf", 0, &w, &err), INF_ERR_IO);

    /* general.alignment only as the writer's own alignment, as UINT32 */
    CHECK_EQ_INT(gguf_writer_open(path, 64, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u32(w, "general.alignment", 32), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "differs from the alignment 64") != NULL, "%s", err.msg);
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u64(w, "general.alignment", 32), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_open(path, 64, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u32(w, "general.alignment", 64), INF_OK);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_OK);
    gguf_file *g = NULL;
    CHECK_EQ_INT(gguf_open(path, &g, &err), INF_OK);
    CHECK(g && gguf_alignment(g) == 64 && gguf_kv_count(g) == 1);
    gguf_close(g);

    /* duplicate key */
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u32(w, "k", 1), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_str(w, "k", "x", 1), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_set_u32(w, "other", 1), INF_ERR_INVALID);  /* sticky */
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "'k'") != NULL, "%s", err.msg);
    CHECK(!file_exists(path));

    /* duplicate tensor, bad shapes, unknown type */
    static const struct { const char *name; uint32_t type; uint32_t n_dims; int64_t ne0; } bad[] = {
        {"t", QT_F32, 1, 32},   /* first declaration, then the same name below */
        {"u", QT_Q4_0, 1, 33},  /* not a whole block */
        {"v", 200, 1, 32},      /* unknown type id */
        {"w", QT_F32, 5, 32},   /* too many dims */
        {"x", QT_F32, 1, 0},    /* empty dim */
    };
    for (size_t i = 1; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
        CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_OK);
        int64_t e[5] = {bad[i].ne0, 1, 1, 1, 1};
        CHECK(gguf_writer_add_tensor(w, bad[i].name, bad[i].type, bad[i].n_dims, e) != INF_OK);
        CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
        CHECK_MSG(strstr(err.msg, bad[i].name) != NULL, "%s", err.msg);
    }
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK(strstr(err.msg, "twice") != NULL);

    /* too little data, too much data, data before begin, metadata after begin */
    float data[40] = {0};
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_OK);
    CHECK_EQ_INT(gguf_writer_write_data(w, data, 4), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_OK);
    CHECK_EQ_INT(gguf_writer_begin_data(w), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_u32(w, "late", 1), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_OK);
    CHECK_EQ_INT(gguf_writer_begin_data(w), INF_OK);
    CHECK_EQ_INT(gguf_writer_write_data(w, data, 100), INF_OK);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "got 100 of its 128 bytes") != NULL, "%s", err.msg);
    CHECK(!file_exists(path));
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", QT_F32, 1, ne), INF_OK);
    CHECK_EQ_INT(gguf_writer_begin_data(w), INF_OK);
    CHECK_EQ_INT(gguf_writer_write_data(w, data, 160), INF_ERR_INVALID);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_ERR_INVALID);

    /* abort removes the file; NULL allowed */
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK(file_exists(path));
    gguf_writer_abort(w);
    CHECK(!file_exists(path));
    gguf_writer_abort(NULL);

    /* metadata only, no begin_data: a valid file with no tensors */
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), INF_OK);
    CHECK_EQ_INT(gguf_writer_set_str(w, "general.name", "vocab", 5), INF_OK);
    CHECK_EQ_INT(gguf_writer_close(w, &err), INF_OK);
    gguf_file *f = NULL;
    CHECK_EQ_INT(gguf_open(path, &f, &err), INF_OK);
    CHECK_EQ_INT(f ? gguf_tensor_count(f) : -1, 0);
    gguf_close(f);
    unlink(path);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(path_a, sizeof path_a, "%s/test_gguf_write_%d_a.gguf", tmp, (int)getpid());
    snprintf(path_b, sizeof path_b, "%s/test_gguf_write_%d_b.gguf", tmp, (int)getpid());
    write_file(path_a, 0);
    check_file(path_a, GGUF_DEFAULT_ALIGNMENT);
    test_copy(path_a, path_b);
    write_file(path_a, 128);
    check_file(path_a, 128);
    test_copy(path_a, path_b);
    unlink(path_a);
    unlink(path_b);

    char buf[1024];
    if (check_testdata("models/stories260K.gguf", buf, sizeof buf)) {
        test_copy(buf, path_b);
        unlink(path_b);
    }
    if (check_testdata("vocab/ggml-vocab-llama-spm.gguf", buf, sizeof buf)) {
        test_copy(buf, path_b);
        unlink(path_b);
    }
    test_misuse(path_a);
    return check_done();
}
