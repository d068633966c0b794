/* test_gguf_malformed.c: every kind of malformed GGUF the reader must refuse with
 * an error naming the field and the byte offset, and never crash on or read past:
 * bad magic, versions, truncation at every byte, absurd counts and lengths,
 * unknown type ids, bad shapes, tensor data outside the file, misaligned and
 * overlapping tensors, duplicates, over-deep nesting, bad general.alignment.
 * Each file is copied into a buffer of exactly its size, so that under ASan
 * (make asan-test) any read past the end is caught. */
#include <inttypes.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "gguf/gguf.h"
#include "gguf_bytes.h"
#include "quant/quant.h"

/* Opens b; returns the status, err filled. */
static int open_exact(const bytes *b, inf_error *err)
{
    void *copy = malloc(b->n ? b->n : 1);
    if (!copy) abort();
    if (b->n) memcpy(copy, b->p, b->n);
    gguf_file *f = (gguf_file *)&f;  /* must be reset to NULL on failure */
    inf_error_clear(err);
    int rc = gguf_open_memory(copy, b->n, &f, err);
    if (rc == INF_OK) {
        gguf_close(f);
    } else if (f != NULL) {
        CHECK_MSG(f == NULL, "failed open left *out non-NULL");
    }
    free(copy);
    return rc;
}

/* The open fails with code, and the message holds both substrings (NULL = any). */
#define EXPECT_FAIL(b, code, s1, s2) expect_fail_((b), (code), (s1), (s2), __LINE__)
static void expect_fail_(bytes *b, int code, const char *s1, const char *s2, int line)
{
    inf_error err = {0};
    int rc = open_exact(b, &err);
    CHECK_MSG(rc == code, "line %d: rc = %d (%s), want %d", line, rc, err.msg, code);
    CHECK_MSG(!s1 || strstr(err.msg, s1), "line %d: \"%s\" lacks \"%s\"", line, err.msg, s1);
    CHECK_MSG(!s2 || strstr(err.msg, s2), "line %d: \"%s\" lacks \"%s\"", line, err.msg, s2);
    by_free(b);
}

static void expect_ok(bytes *b, int line)
{
    inf_error err = {0};
    int rc = open_exact(b, &err);
    CHECK_MSG(rc == INF_OK, "line %d: %s", line, err.msg);
    by_free(b);
}

/* A small valid file: 3 kv (one string array), 2 F32 tensors; the last tensor
 * ends exactly at the end of the file so that every shorter prefix is invalid. */
static void build_small(bytes *b)
{
    by_header(b, 3, 2, 3);
    by_str(b, "general.architecture"); by_u32(b, GGUF_VT_STRING); by_str(b, "llama");
    by_str(b, "tok"); by_u32(b, GGUF_VT_ARRAY); by_u32(b, GGUF_VT_STRING); by_u64(b, 2);
    by_str(b, "a"); by_str(b, "bc");
    by_str(b, "n"); by_u32(b, GGUF_VT_ARRAY); by_u32(b, GGUF_VT_ARRAY); by_u64(b, 1);
    by_u32(b, GGUF_VT_INT8); by_u64(b, 2); by_u8(b, 1); by_u8(b, 2);
    by_tensor(b, "x", 1, (uint64_t[]){4}, QT_F32, 0);
    by_tensor(b, "y", 2, (uint64_t[]){2, 3}, QT_F32, 32);
    by_pad(b, 32);
    by_zeros(b, 32 + 24);
}

static void test_header(void)
{
    bytes b = {0};
    build_small(&b);
    expect_ok(&b, __LINE__);

    build_small(&b);
    memcpy(b.p, "GGML", 4);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "bad magic", "offset 0");

    by_header(&b, 1, 0, 0);
    EXPECT_FAIL(&b, INF_ERR_UNSUPPORTED, "version 1", "offset 4");
    by_header(&b, 4, 0, 0);
    EXPECT_FAIL(&b, INF_ERR_UNSUPPORTED, "version 4", "offset 4");
    by_header(&b, 0x03000000u, 0, 0);
    EXPECT_FAIL(&b, INF_ERR_UNSUPPORTED, "big-endian", NULL);
    by_header(&b, 2, 0, 0);  /* v2 has the v3 layout */
    expect_ok(&b, __LINE__);

    /* Counts that the file cannot possibly hold: refused before any allocation. */
    by_header(&b, 3, 0, UINT64_MAX);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "metadata count", "offset 16");
    by_header(&b, 3, UINT64_MAX, 0);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor count", "offset 8");
    by_header(&b, 3, 1ull << 40, 1);  /* passes the early check only with a big file */
    by_str(&b, "k"); by_u32(&b, GGUF_VT_UINT8); by_u8(&b, 0);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor count", NULL);
}

/* Every prefix of a valid file fails cleanly (and the full file opens). */
static void test_truncation(void)
{
    bytes full = {0}, b = {0};
    build_small(&full);
    int bad = 0;
    for (size_t n = 0; n < full.n; n++) {
        inf_error err = {0};
        b.n = 0;
        by_put(&b, full.p, n);
        if (open_exact(&b, &err) != INF_ERR_FORMAT) bad++;
        if (!err.msg[0]) bad++;
    }
    CHECK_MSG(bad == 0, "%d truncated prefixes not refused", bad);
    /* Errors point at what is missing: the data of y here. */
    b.n = 0;
    by_put(&b, full.p, full.n - 1);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'y'", "runs past end of file");
    b.n = 0;
    by_put(&b, full.p, 100);  /* inside the strings of 'tok' */
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "metadata 'tok'", "offset 84");

    /* The same through gguf_open on a real file. */
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_gguf_malformed_%d.gguf", (int)getpid());
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fwrite(full.p, 1, full.n - 10, fp);
        fclose(fp);
        gguf_file *f = NULL;
        inf_error err = {0};
        CHECK_EQ_INT(gguf_open(path, &f, &err), INF_ERR_FORMAT);
        CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "tensor 'y'"), "%s", err.msg);
        unlink(path);
    }
    by_free(&full);
}

static void test_metadata(void)
{
    bytes b = {0};
    /* string length beyond the file */
    by_header(&b, 3, 0, 1);
    by_u64(&b, 1ull << 62); by_put(&b, "key", 3); by_zeros(&b, 16);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "key at offset 24 has length 4611686018427387904", NULL);
    by_header(&b, 3, 0, 1);
    by_str(&b, "s"); by_u32(&b, GGUF_VT_STRING); by_u64(&b, 1000); by_put(&b, "abc", 3);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "metadata 's'", "offset 37");
    /* unknown value type */
    by_header(&b, 3, 0, 1);
    by_str(&b, "k"); by_u32(&b, 13); by_u64(&b, 0);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "unknown value type id 13", "offset 33");
    /* unknown array element type */
    by_header(&b, 3, 0, 1);
    by_str(&b, "k"); by_u32(&b, GGUF_VT_ARRAY); by_u32(&b, 99); by_u64(&b, 0);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "unknown element type id 99", "offset 37");
    /* absurd array counts for each element kind: scalar, string, nested */
    static const uint32_t kinds[3] = {GGUF_VT_UINT32, GGUF_VT_STRING, GGUF_VT_ARRAY};
    for (int i = 0; i < 3; i++) {
        by_header(&b, 3, 0, 1);
        by_str(&b, "k"); by_u32(&b, GGUF_VT_ARRAY); by_u32(&b, kinds[i]);
        by_u64(&b, UINT64_MAX / 2); by_zeros(&b, 64);
        EXPECT_FAIL(&b, INF_ERR_FORMAT, "metadata 'k'", "claims 9223372036854775807");
    }
    /* array of strings whose last string is cut */
    by_header(&b, 3, 0, 1);
    by_str(&b, "k"); by_u32(&b, GGUF_VT_ARRAY); by_u32(&b, GGUF_VT_STRING); by_u64(&b, 2);
    by_str(&b, "ok"); by_u64(&b, 5); by_put(&b, "ab", 2);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "metadata 'k'", "length 5");
    /* duplicate key */
    by_header(&b, 3, 0, 3);
    by_str(&b, "a"); by_u32(&b, GGUF_VT_UINT8); by_u8(&b, 1);
    by_str(&b, "b"); by_u32(&b, GGUF_VT_UINT8); by_u8(&b, 1);
    by_str(&b, "a"); by_u32(&b, GGUF_VT_STRING); by_str(&b, "x");
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "'a' appears twice", "entries 0 and 2");
    /* key with a NUL byte */
    by_header(&b, 3, 0, 1);
    by_u64(&b, 3); by_put(&b, "a\0b", 3); by_u32(&b, GGUF_VT_UINT8); by_u8(&b, 1);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "NUL", "offset 24");
    /* nesting: 8 levels open, 9 do not */
    for (int depth = 8; depth <= 9; depth++) {
        by_header(&b, 3, 0, 1);
        by_str(&b, "deep"); by_u32(&b, GGUF_VT_ARRAY);
        for (int d = 1; d < depth; d++) {
            by_u32(&b, GGUF_VT_ARRAY); by_u64(&b, 1);
        }
        by_u32(&b, GGUF_VT_UINT8); by_u64(&b, 1); by_u8(&b, 7);
        if (depth == 8)
            expect_ok(&b, __LINE__);
        else
            EXPECT_FAIL(&b, INF_ERR_FORMAT, "metadata 'deep'", "deeper than 8");
    }
    /* general.alignment: wrong type, zero, not a power of two */
    by_header(&b, 3, 0, 1);
    by_str(&b, "general.alignment"); by_u32(&b, GGUF_VT_UINT64); by_u64(&b, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "general.alignment", "UINT64");
    by_header(&b, 3, 0, 1);
    by_str(&b, "general.alignment"); by_u32(&b, GGUF_VT_UINT32); by_u32(&b, 0);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "general.alignment", "power of two");
    by_header(&b, 3, 0, 1);
    by_str(&b, "general.alignment"); by_u32(&b, GGUF_VT_UINT32); by_u32(&b, 48);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "general.alignment", "48");
}

/* One tensor info after an empty metadata, data section padded, then data_bytes. */
static void one_tensor(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                       uint32_t type, uint64_t offset, size_t data_bytes)
{
    by_header(b, 3, 1, 0);
    by_tensor(b, name, n_dims, ne, type, offset);
    by_pad(b, 32);
    by_zeros(b, data_bytes);
}

static void test_tensors(void)
{
    bytes b = {0};
    one_tensor(&b, "w", 2, (uint64_t[]){4, 2}, QT_F32, 0, 32);
    expect_ok(&b, __LINE__);

    one_tensor(&b, "w", 5, (uint64_t[]){1, 1, 1, 1, 1}, QT_F32, 0, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'w': n_dims = 5", "offset 33");
    one_tensor(&b, "w", 0, NULL, QT_F32, 0, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "n_dims = 0", NULL);
    one_tensor(&b, "w", 2, (uint64_t[]){4, 0}, QT_F32, 0, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'w': ne[1] = 0", "offset 45");
    one_tensor(&b, "w", 1, (uint64_t[]){UINT64_MAX}, QT_F32, 0, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "ne[0] = -1", NULL);
    one_tensor(&b, "w", 4, (uint64_t[]){1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20},
               QT_F32, 0, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'w'", "element count overflows");
    one_tensor(&b, "w", 1, (uint64_t[]){1ull << 62}, QT_F32, 0, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'w'", "byte size overflows");
    one_tensor(&b, "w", 1, (uint64_t[]){40}, QT_Q4_0, 0, 64);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "block size 32", "Q4_0");
    one_tensor(&b, "blk.0.w", 1, (uint64_t[]){32}, 99, 0, 128);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'blk.0.w': unknown tensor type id 99", "offset 24");
    /* A type ggml knows but inferd cannot compute opens: sizes come from traits. */
    one_tensor(&b, "iq", 1, (uint64_t[]){256}, QT_IQ2_XXS, 0, 66);
    expect_ok(&b, __LINE__);
    /* Name with a NUL, name length past the end. */
    by_header(&b, 3, 1, 0);
    by_u64(&b, 2); by_put(&b, "a\0", 2);
    by_u32(&b, 1); by_u64(&b, 4); by_u32(&b, QT_F32); by_u64(&b, 0);
    by_pad(&b, 32); by_zeros(&b, 16);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "NUL", NULL);

    /* Data outside the file: runs past, starts past, offset overflows. */
    one_tensor(&b, "blk.3.attn_q.weight", 1, (uint64_t[]){8}, QT_F32, 0, 20);
    EXPECT_FAIL(&b, INF_ERR_FORMAT,
                "tensor 'blk.3.attn_q.weight': data [96, 128) runs past end of file (size 116)",
                NULL);
    one_tensor(&b, "w", 1, (uint64_t[]){8}, QT_F32, 1024, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "data [1088, 1120)", "size 96");
    one_tensor(&b, "w", 1, (uint64_t[]){8}, QT_F32, UINT64_MAX - 31, 32);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'w'", "runs past end of file");
    /* No data section at all. */
    by_header(&b, 3, 1, 0);
    by_tensor(&b, "w", 1, (uint64_t[]){8}, QT_F32, 0);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "data section", "starts past the end");

    /* Misaligned offset. */
    one_tensor(&b, "w", 1, (uint64_t[]){4}, QT_F32, 8, 64);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor 'w': data offset 8", "alignment 32");

    /* Overlap, and a duplicate name. */
    by_header(&b, 3, 2, 0);
    by_tensor(&b, "p", 1, (uint64_t[]){16}, QT_F32, 0);
    by_tensor(&b, "q", 1, (uint64_t[]){8}, QT_F32, 32);
    by_pad(&b, 32);
    by_zeros(&b, 64);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensors 'p' [", "and 'q' [");
    by_header(&b, 3, 2, 0);
    by_tensor(&b, "p", 1, (uint64_t[]){8}, QT_F32, 0);
    by_tensor(&b, "p", 1, (uint64_t[]){8}, QT_F32, 32);
    by_pad(&b, 32);
    by_zeros(&b, 64);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "tensor name 'p' appears twice", "offsets 24 and 57");
    /* Same offset, order in the file reversed: still an overlap. */
    by_header(&b, 3, 2, 0);
    by_tensor(&b, "p", 1, (uint64_t[]){8}, QT_F32, 32);
    by_tensor(&b, "q", 1, (uint64_t[]){8}, QT_F32, 32);
    by_pad(&b, 32);
    by_zeros(&b, 64);
    EXPECT_FAIL(&b, INF_ERR_FORMAT, "overlap", NULL);
}

int main(void)
{
    test_header();
    test_truncation();
    test_metadata();
    test_tensors();
    return check_done();
}
