/* test_gguf_read.c: the GGUF reader on valid input: a hand-built file holding
 * every metadata value type (nested arrays, arrays of strings, empty ones), tensor
 * infos, custom alignment, typed look-ups and their range checks; then every real
 * GGUF in ../shared/testdata (skipped when absent), and the v1 file's rejection. */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>

#include "check.h"
#include "gguf/gguf.h"
#include "gguf_bytes.h"
#include "quant/quant.h"

/* Metadata of every type, then two F32 tensors and a Q8_0 one, 64-byte aligned. */
static void build_valid(bytes *b)
{
    by_header(b, 3, 3, 18);
    by_str(b, "general.alignment"); by_u32(b, GGUF_VT_UINT32); by_u32(b, 64);
    by_str(b, "u8"); by_u32(b, GGUF_VT_UINT8); by_u8(b, 200);
    by_str(b, "i8"); by_u32(b, GGUF_VT_INT8); by_u8(b, 0x80);
    by_str(b, "u16"); by_u32(b, GGUF_VT_UINT16); by_put(b, &(uint16_t){65535}, 2);
    by_str(b, "i16"); by_u32(b, GGUF_VT_INT16); by_put(b, &(int16_t){-300}, 2);
    by_str(b, "u32"); by_u32(b, GGUF_VT_UINT32); by_u32(b, 4000000000u);
    by_str(b, "i32"); by_u32(b, GGUF_VT_INT32); by_put(b, &(int32_t){-7}, 4);
    by_str(b, "f32"); by_u32(b, GGUF_VT_FLOAT32); by_f32(b, 1.5f);
    by_str(b, "bool"); by_u32(b, GGUF_VT_BOOL); by_u8(b, 1);
    by_str(b, "str"); by_u32(b, GGUF_VT_STRING); by_str(b, "h\xc3\xa9llo");
    by_str(b, "u64"); by_u32(b, GGUF_VT_UINT64); by_u64(b, UINT64_MAX);
    by_str(b, "i64"); by_u32(b, GGUF_VT_INT64); by_u64(b, (uint64_t)INT64_MIN);
    by_str(b, "f64"); by_u32(b, GGUF_VT_FLOAT64); by_put(b, &(double){-2.25}, 8);
    by_str(b, "empty.str"); by_u32(b, GGUF_VT_STRING); by_str(b, "");
    /* [1, -2, 3] as INT32 */
    by_str(b, "arr.i32"); by_u32(b, GGUF_VT_ARRAY); by_u32(b, GGUF_VT_INT32); by_u64(b, 3);
    by_put(b, &(int32_t){1}, 4); by_put(b, &(int32_t){-2}, 4); by_put(b, &(int32_t){3}, 4);
    by_str(b, "arr.str"); by_u32(b, GGUF_VT_ARRAY); by_u32(b, GGUF_VT_STRING); by_u64(b, 3);
    by_str(b, "a"); by_str(b, ""); by_str(b, "ccc");
    /* [[1.0, 2.0], []] as nested FLOAT32 arrays */
    by_str(b, "arr.nested"); by_u32(b, GGUF_VT_ARRAY); by_u32(b, GGUF_VT_ARRAY); by_u64(b, 2);
    by_u32(b, GGUF_VT_FLOAT32); by_u64(b, 2); by_f32(b, 1.0f); by_f32(b, 2.0f);
    by_u32(b, GGUF_VT_FLOAT32); by_u64(b, 0);
    by_str(b, "arr.empty"); by_u32(b, GGUF_VT_ARRAY); by_u32(b, GGUF_VT_UINT8); by_u64(b, 0);

    by_tensor(b, "a", 2, (uint64_t[]){3, 2}, QT_F32, 0);      /* 24 bytes */
    by_tensor(b, "b", 1, (uint64_t[]){5}, QT_F32, 64);        /* 20 bytes */
    by_tensor(b, "q", 2, (uint64_t[]){64, 2}, QT_Q8_0, 128);  /* 4 blocks x 34 */
    by_pad(b, 64);
    for (int i = 0; i < 6; i++) by_f32(b, (float)i);
    by_pad(b, 64);
    for (int i = 0; i < 5; i++) by_f32(b, 10.0f + (float)i);
    by_pad(b, 64);
    by_zeros(b, 4 * 34);
}

static void test_valid(void)
{
    bytes b = {0};
    build_valid(&b);
    gguf_file *f = NULL;
    inf_error err = {0};
    int rc = gguf_open_memory(b.p, b.n, &f, &err);
    CHECK_MSG(rc == INF_OK, "open: %s", err.msg);
    if (rc) goto out;

    CHECK_EQ_INT(gguf_version(f), 3);
    CHECK_EQ_INT(gguf_alignment(f), 64);
    CHECK_EQ_INT(gguf_kv_count(f), 18);
    CHECK_EQ_INT(gguf_tensor_count(f), 3);
    CHECK_EQ_INT(gguf_file_size(f), b.n);
    CHECK(gguf_base(f) == b.p);
    CHECK_EQ_INT(gguf_data_offset(f) % 64, 0);
    CHECK_EQ_STR(gguf_kv_key(f, 1), "u8");
    CHECK_EQ_INT(gguf_kv_find(f, "f64"), 12);
    CHECK_EQ_INT(gguf_kv_find(f, "nope"), -1);
    CHECK(gguf_kv_get(f, "nope") == NULL);

    const gguf_value *v = gguf_kv_get(f, "u8");
    CHECK(v && v->type == GGUF_VT_UINT8 && v->v.u64 == 200);
    v = gguf_kv_get(f, "i8");
    CHECK(v && v->type == GGUF_VT_INT8 && v->v.i64 == -128);
    v = gguf_kv_get(f, "i16");
    CHECK(v && v->v.i64 == -300);
    v = gguf_kv_get(f, "f32");
    CHECK(v && v->type == GGUF_VT_FLOAT32 && v->v.f64 == 1.5);
    v = gguf_kv_get(f, "f64");
    CHECK(v && v->v.f64 == -2.25);
    v = gguf_kv_get(f, "i64");
    CHECK(v && v->v.i64 == INT64_MIN);

    uint32_t u32 = 0;
    int64_t i64 = 0;
    uint64_t u64 = 0;
    float f32 = 0;
    bool bl = false;
    gguf_str s = {0};
    CHECK_EQ_INT(gguf_get_u32(f, "u32", &u32, &err), INF_OK);
    CHECK_EQ_INT(u32, 4000000000u);
    CHECK_EQ_INT(gguf_get_u32(f, "u16", &u32, &err), INF_OK);
    CHECK_EQ_INT(u32, 65535);
    u32 = 99;
    CHECK_EQ_INT(gguf_get_u32(f, "i32", &u32, &err), INF_ERR_FORMAT);  /* -7 */
    CHECK(strstr(err.msg, "'i32'") != NULL);
    CHECK_EQ_INT(u32, 99);
    CHECK_EQ_INT(gguf_get_u32(f, "u64", &u32, &err), INF_ERR_FORMAT);  /* too big */
    CHECK_EQ_INT(gguf_get_u32(f, "absent", &u32, &err), INF_ERR_NOT_FOUND);
    CHECK_EQ_INT(u32, 99);
    CHECK_EQ_INT(gguf_get_u32(f, "str", &u32, &err), INF_ERR_FORMAT);
    CHECK(strstr(err.msg, "STRING") != NULL);
    CHECK_EQ_INT(gguf_get_i64(f, "i32", &i64, &err), INF_OK);
    CHECK_EQ_INT(i64, -7);
    CHECK_EQ_INT(gguf_get_i64(f, "u64", &i64, &err), INF_ERR_FORMAT);
    CHECK_EQ_INT(gguf_get_u64(f, "u64", &u64, &err), INF_OK);
    CHECK(u64 == UINT64_MAX);
    CHECK_EQ_INT(gguf_get_u64(f, "i8", &u64, &err), INF_ERR_FORMAT);
    CHECK_EQ_INT(gguf_get_f32(f, "f32", &f32, &err), INF_OK);
    CHECK(f32 == 1.5f);
    CHECK_EQ_INT(gguf_get_f32(f, "f64", &f32, &err), INF_OK);
    CHECK(f32 == -2.25f);
    CHECK_EQ_INT(gguf_get_f32(f, "u8", &f32, &err), INF_ERR_FORMAT);
    CHECK_EQ_INT(gguf_get_bool(f, "bool", &bl, &err), INF_OK);
    CHECK(bl);
    CHECK_EQ_INT(gguf_get_bool(f, "u8", &bl, &err), INF_ERR_FORMAT);
    CHECK_EQ_INT(gguf_get_str(f, "str", &s, &err), INF_OK);
    CHECK(s.len == 6 && memcmp(s.ptr, "h\xc3\xa9llo", 6) == 0);
    CHECK_EQ_INT(gguf_get_str(f, "empty.str", &s, &err), INF_OK);
    CHECK_EQ_INT(s.len, 0);

    const gguf_value *a = NULL;
    CHECK_EQ_INT(gguf_get_arr(f, "arr.i32", GGUF_VT_INT32, &a, &err), INF_OK);
    CHECK(a && a->v.arr.count == 3 && a->v.arr.items == NULL);
    if (a && a->v.arr.count == 3) {
        CHECK_EQ_INT(gguf_arr_i64(a, 1), -2);
        CHECK(gguf_arr_f64(a, 2) == 3.0);
    }
    CHECK_EQ_INT(gguf_get_arr(f, "arr.i32", GGUF_VT_UINT32, &a, &err), INF_ERR_FORMAT);
    CHECK_EQ_INT(gguf_get_arr(f, "arr.str", GGUF_VT_COUNT, &a, &err), INF_OK);
    CHECK(a->v.arr.elem_type == GGUF_VT_STRING && a->v.arr.count == 3);
    CHECK(a->v.arr.items[0].type == GGUF_VT_STRING && a->v.arr.items[0].v.str.len == 1);
    CHECK(a->v.arr.items[1].v.str.len == 0);
    CHECK(a->v.arr.items[2].v.str.len == 3 && memcmp(a->v.arr.items[2].v.str.ptr, "ccc", 3) == 0);
    CHECK_EQ_INT(gguf_get_arr(f, "arr.nested", GGUF_VT_ARRAY, &a, &err), INF_OK);
    CHECK(a->v.arr.count == 2);
    const gguf_value *in0 = &a->v.arr.items[0], *in1 = &a->v.arr.items[1];
    CHECK(in0->type == GGUF_VT_ARRAY && in0->v.arr.elem_type == GGUF_VT_FLOAT32 &&
          in0->v.arr.count == 2);
    CHECK(gguf_arr_f64(in0, 1) == 2.0);
    CHECK(in1->type == GGUF_VT_ARRAY && in1->v.arr.count == 0);
    CHECK_EQ_INT(gguf_get_arr(f, "arr.empty", GGUF_VT_UINT8, &a, &err), INF_OK);
    CHECK_EQ_INT(a->v.arr.count, 0);

    const gguf_tensor *t = gguf_tensor_find(f, "a");
    CHECK(t && t == gguf_tensor_at(f, 0));
    CHECK(t && t->n_dims == 2 && t->ne[0] == 3 && t->ne[1] == 2 && t->ne[2] == 1 &&
          t->ne[3] == 1 && t->nbytes == 24 && t->type == QT_F32);
    if (t) {
        float x[6];
        memcpy(x, t->data, sizeof x);
        CHECK(x[5] == 5.0f);
        CHECK((const unsigned char *)t->data == b.p + gguf_data_offset(f));
    }
    t = gguf_tensor_find(f, "b");
    CHECK(t && t->offset == 64 && t->nbytes == 20);
    if (t) {
        float x0;
        memcpy(&x0, t->data, 4);
        CHECK(x0 == 10.0f);
    }
    t = gguf_tensor_find(f, "q");
    CHECK(t && t->type == QT_Q8_0 && t->nbytes == 4 * 34);
    CHECK(gguf_tensor_find(f, "c") == NULL);
out:
    gguf_close(f);
    gguf_close(NULL);
    by_free(&b);
}

/* Many tensors and keys: look-ups go through the index, every name is found. */
static void test_many(void)
{
    enum { N = 2000 };
    bytes b = {0};
    char name[64];
    by_header(&b, 3, N, N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "key.%d", i);
        by_str(&b, name); by_u32(&b, GGUF_VT_INT32); by_put(&b, &(int32_t){i}, 4);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.weight", i);
        by_tensor(&b, name, 1, (uint64_t[]){8}, QT_F32, (uint64_t)i * 32);
    }
    by_pad(&b, 32);
    by_zeros(&b, (size_t)N * 32);
    gguf_file *f = NULL;
    inf_error err = {0};
    CHECK_MSG(gguf_open_memory(b.p, b.n, &f, &err) == INF_OK, "%s", err.msg);
    if (f) {
        int bad = 0;
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof name, "blk.%d.weight", i);
            if (gguf_tensor_find(f, name) != gguf_tensor_at(f, i)) bad++;
            snprintf(name, sizeof name, "key.%d", i);
            if (gguf_kv_find(f, name) != i) bad++;
        }
        CHECK_EQ_INT(bad, 0);
    }
    gguf_close(f);
    by_free(&b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every .gguf under dir opens; returns how many did. */
static int open_all(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[2048];
        if (!ends_with(e->d_name, ".gguf")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gguf_file *f = NULL;
        inf_error err = {0};
        int rc = gguf_open(path, &f, &err);
        CHECK_MSG(rc == INF_OK, "%s", err.msg);
        if (f) {
            CHECK_MSG(gguf_kv_count(f) > 0, "%s has no metadata", path);
            /* every tensor is findable by its name */
            for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                CHECK(gguf_tensor_find(f, t->name) == t);
            }
            n++;
        }
        gguf_close(f);
    }
    closedir(d);
    return n;
}

static void test_real_files(void)
{
    char buf[1024], dir[1024];
    if (!check_testdata("models/stories260K.gguf", buf, sizeof buf)) {
        printf("note: ../shared/testdata absent; real files not tested\n");
        return;
    }
    const char *root = getenv("INFERD_TESTDATA");
    static const char *const dirs[] = {"models", "models/derived", "vocab"};
    int n = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(dir, sizeof dir, "%s/%s", root, dirs[i]);
        n += open_all(dir);
    }
    CHECK_MSG(n >= 10, "only %d real files opened", n);

    gguf_file *f = NULL;
    inf_error err = {0};
    CHECK_EQ_INT(gguf_open(buf, &f, &err), INF_OK);
    if (f) {
        gguf_str arch = {0};
        CHECK_EQ_INT(gguf_get_str(f, "general.architecture", &arch, &err), INF_OK);
        CHECK(arch.len == 5 && memcmp(arch.ptr, "llama", 5) == 0);
        uint32_t n_embd = 0;
        CHECK_EQ_INT(gguf_get_u32(f, "llama.embedding_length", &n_embd, &err), INF_OK);
        CHECK_EQ_INT(n_embd, 64);
        const gguf_tensor *t = gguf_tensor_find(f, "token_embd.weight");
        CHECK(t && t->ne[0] == 64 && t->ne[1] == 512 && t->type == QT_F32);
    }
    gguf_close(f);

    /* The legacy v1 file is rejected, naming the version. */
    if (check_testdata("models/legacy/tinyllamas-stories-260k-f32.gguf", buf, sizeof buf)) {
        f = NULL;
        int rc = gguf_open(buf, &f, &err);
        CHECK_EQ_INT(rc, INF_ERR_UNSUPPORTED);
        CHECK(f == NULL);
        CHECK_MSG(strstr(err.msg, "version 1") != NULL, "%s", err.msg);
    }
}

/* The bad path of gguf_open itself: missing file, directory. */
static void test_open_errors(void)
{
    gguf_file *f = (gguf_file *)1;
    inf_error err = {0};
    CHECK_EQ_INT(gguf_open("/nonexistent/x.gguf", &f, &err), INF_ERR_IO);
    CHECK(f == NULL);
    CHECK(strstr(err.msg, "/nonexistent/x.gguf") != NULL);
    CHECK_EQ_INT(gguf_open("/", &f, &err), INF_ERR_IO);
    CHECK_EQ_INT(gguf_open_memory(NULL, 0, &f, &err), INF_ERR_FORMAT);
}

int main(void)
{
    test_valid();
    test_many();
    test_open_errors();
    test_real_files();
    return check_done();
}
