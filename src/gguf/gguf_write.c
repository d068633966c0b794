/* gguf_write.c: the streaming GGUF v3 writer.
 *
 * Metadata is serialized into memory as it is set (it is small: a vocabulary is a
 * few MB at most); tensor infos are kept as a list whose offsets are known at
 * declaration, since sizes follow from type and shape. gguf_writer_begin_data
 * writes header + metadata + infos + padding, and tensor data then streams
 * straight to the file, so memory use does not depend on the data size. Every
 * tensor is padded to the alignment, as the reference writer does, so the file
 * ends on an aligned size. The first error is sticky: later calls return it and
 * gguf_writer_close reports it and removes the partial file. A non-default
 * alignment is recorded as general.alignment (last, unless the caller set it). */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/quant.h"

#define WRITE_BUFFER (4u << 20)
#define ALIGNMENT_KEY "general.alignment"

typedef struct wtensor {
    char *name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t offset;  /* relative to the data section */
    uint64_t nbytes;
} wtensor;

/* A growable set of names (keys or tensor names) for duplicate checks. */
typedef struct nameset {
    char **slots;
    uint64_t cap, n;
} nameset;

typedef enum wstate { W_DECLARE, W_DATA } wstate;

struct gguf_writer {
    FILE *fp;
    char *path;
    char *iobuf;
    uint32_t alignment;
    wstate state;
    int status;             /* first error, sticky */
    inf_error err;

    unsigned char *kv;      /* serialized metadata */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    nameset keys;

    wtensor *tensors;
    int64_t n_tensors, tensors_cap;
    uint64_t data_size;     /* sum of padded tensor sizes */
    nameset names;

    int64_t cur;            /* tensor receiving data */
    uint64_t cur_written;   /* bytes of it so far */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Adds a copy of s; 1 if added, 0 if already present, -1 out of memory. */
static int nameset_add(nameset *set, const char *s, char **copy)
{
    if ((set->n + 1) * 2 > set->cap) {
        uint64_t cap = set->cap ? set->cap * 2 : 64;
        char **slots = calloc(cap, sizeof *slots);
        if (!slots) return -1;
        for (uint64_t i = 0; i < set->cap; i++) {
            if (!set->slots[i]) continue;
            uint64_t h = hash_str(set->slots[i]) & (cap - 1);
            while (slots[h]) h = (h + 1) & (cap - 1);
            slots[h] = set->slots[i];
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    uint64_t h = hash_str(s) & (set->cap - 1);
    while (set->slots[h]) {
        if (strcmp(set->slots[h], s) == 0) return 0;
        h = (h + 1) & (set->cap - 1);
    }
    char *c = strdup(s);
    if (!c) return -1;
    set->slots[h] = c;
    set->n++;
    if (copy) *copy = c;
    return 1;
}

static bool nameset_has(const nameset *set, const char *s)
{
    if (!set->cap) return false;
    uint64_t h = hash_str(s) & (set->cap - 1);
    for (; set->slots[h]; h = (h + 1) & (set->cap - 1))
        if (strcmp(set->slots[h], s) == 0) return true;
    return false;
}

static void nameset_free(nameset *set)
{
    for (uint64_t i = 0; i < set->cap; i++) free(set->slots[i]);
    free(set->slots);
    set->slots = NULL;
    set->cap = set->n = 0;
}

/* Records the first error and returns the sticky status. */
static int fail(gguf_writer *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(gguf_writer *w, int code, const char *fmt, ...)
{
    if (w->status) return w->status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err.msg, sizeof w->err.msg, fmt, ap);
    va_end(ap);
    w->err.code = code;
    w->status = code;
    return code;
}

static int kv_put(gguf_writer *w, const void *src, size_t n)
{
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) {
            if (cap > SIZE_MAX / 2) return fail(w, INF_ERR_NOMEM, "metadata too large");
            cap *= 2;
        }
        unsigned char *p = realloc(w->kv, cap);
        if (!p) return fail(w, INF_ERR_NOMEM, "out of memory for metadata (%zu bytes)", cap);
        w->kv = p;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, src, n);
    w->kv_len += n;
    return INF_OK;
}

static int kv_u32(gguf_writer *w, uint32_t v) { return kv_put(w, &v, 4); }
static int kv_u64(gguf_writer *w, uint64_t v) { return kv_put(w, &v, 8); }

static int kv_str(gguf_writer *w, const char *s, uint64_t len)
{
    int rc = kv_u64(w, len);
    if (!rc && len) rc = kv_put(w, s, (size_t)len);
    return rc;
}

/* Common start of every set_*: checks state and key, writes key and type. On
 * success the caller appends the value. */
static int kv_begin(gguf_writer *w, const char *key, gguf_vtype t)
{
    if (!w) return INF_ERR_INVALID;
    if (w->status) return w->status;
    if (!key) return fail(w, INF_ERR_INVALID, "metadata key is NULL");
    if (w->state != W_DECLARE)
        return fail(w, INF_ERR_INVALID, "metadata '%s' set after gguf_writer_begin_data", key);
    if (!strcmp(key, ALIGNMENT_KEY) && t != GGUF_VT_UINT32)
        return fail(w, INF_ERR_INVALID, "metadata '%s' must be UINT32, not %s", key,
                    gguf_vtype_name(t));
    char *copy = NULL;
    int added = nameset_add(&w->keys, key, &copy);
    if (added < 0) return fail(w, INF_ERR_NOMEM, "out of memory for metadata key '%s'", key);
    if (added == 0) return fail(w, INF_ERR_INVALID, "metadata key '%s' set twice", key);
    int rc = kv_str(w, key, strlen(key));
    if (!rc) rc = kv_u32(w, (uint32_t)t);
    if (!rc) w->n_kv++;
    return rc;
}

/* general.alignment may be set (copying metadata does), but only to the alignment
 * the writer lays the file out with. */
static int check_alignment(gguf_writer *w, const char *key, uint64_t value)
{
    if (!w || w->status || !key || strcmp(key, ALIGNMENT_KEY) || value == w->alignment)
        return INF_OK;
    return fail(w, INF_ERR_INVALID, "metadata '%s' = %" PRIu64 " differs from the alignment"
                " %u the file is written with", key, value, w->alignment);
}

static int set_scalar(gguf_writer *w, const char *key, gguf_vtype t, const void *v)
{
    uint32_t u32 = 0;
    if (t == GGUF_VT_UINT32) memcpy(&u32, v, 4);
    int rc = t == GGUF_VT_UINT32 ? check_alignment(w, key, u32) : INF_OK;
    if (!rc) rc = kv_begin(w, key, t);
    if (!rc) rc = kv_put(w, v, gguf_vtype_size(t));
    return rc;
}

int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v)
{ return set_scalar(w, key, GGUF_VT_UINT8, &v); }
int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v)
{ return set_scalar(w, key, GGUF_VT_INT8, &v); }
int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v)
{ return set_scalar(w, key, GGUF_VT_UINT16, &v); }
int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v)
{ return set_scalar(w, key, GGUF_VT_INT16, &v); }
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{ return set_scalar(w, key, GGUF_VT_UINT32, &v); }
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{ return set_scalar(w, key, GGUF_VT_INT32, &v); }
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v)
{ return set_scalar(w, key, GGUF_VT_UINT64, &v); }
int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v)
{ return set_scalar(w, key, GGUF_VT_INT64, &v); }
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{ return set_scalar(w, key, GGUF_VT_FLOAT32, &v); }
int gguf_writer_set_f64(gguf_writer *w, const char *key, double v)
{ return set_scalar(w, key, GGUF_VT_FLOAT64, &v); }

int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, GGUF_VT_BOOL, &b);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *s, size_t len)
{
    if (w && !w->status && !s && len)
        return fail(w, INF_ERR_INVALID, "metadata '%s': string is NULL", key ? key : "?");
    int rc = kv_begin(w, key, GGUF_VT_STRING);
    if (!rc) rc = kv_str(w, s, len);
    return rc;
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem_type,
                        const void *elems, uint64_t count)
{
    size_t esz = gguf_vtype_size(elem_type);
    if (w && !w->status && !esz)
        return fail(w, INF_ERR_INVALID,
                    "metadata '%s': gguf_writer_set_arr takes scalar elements, not %s",
                    key ? key : "?", gguf_vtype_name(elem_type));
    if (w && !w->status && (count > SIZE_MAX / esz || (!elems && count)))
        return fail(w, INF_ERR_INVALID, "metadata '%s': bad array of %" PRIu64 " elements",
                    key ? key : "?", count);
    int rc = kv_begin(w, key, GGUF_VT_ARRAY);
    if (!rc) rc = kv_u32(w, (uint32_t)elem_type);
    if (!rc) rc = kv_u64(w, count);
    if (!rc && count) rc = kv_put(w, elems, (size_t)(count * esz));
    return rc;
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs,
                            const size_t *lens, uint64_t count)
{
    if (w && !w->status && count && (!strs || !lens))
        return fail(w, INF_ERR_INVALID, "metadata '%s': strings or lengths are NULL",
                    key ? key : "?");
    int rc = kv_begin(w, key, GGUF_VT_ARRAY);
    if (!rc) rc = kv_u32(w, GGUF_VT_STRING);
    if (!rc) rc = kv_u64(w, count);
    for (uint64_t i = 0; !rc && i < count; i++) rc = kv_str(w, strs[i], lens[i]);
    return rc;
}

/* Serializes the body of a value (no key, no outer type id). */
static int put_value(gguf_writer *w, const char *key, const gguf_value *v, int depth)
{
    size_t sz = gguf_vtype_size(v->type);
    if (sz) {
        /* Narrow from the decoded union; little-endian host, so the low bytes. */
        uint64_t u = v->v.u64;
        float f32 = (float)v->v.f64;
        if (v->type == GGUF_VT_FLOAT32) return kv_put(w, &f32, 4);
        if (v->type == GGUF_VT_FLOAT64) return kv_put(w, &v->v.f64, 8);
        if (v->type == GGUF_VT_BOOL) u = u != 0;
        return kv_put(w, &u, sz);
    }
    if (v->type == GGUF_VT_STRING) return kv_str(w, v->v.str.ptr, v->v.str.len);
    if (v->type != GGUF_VT_ARRAY)
        return fail(w, INF_ERR_INVALID, "metadata '%s': unknown value type %d", key,
                    (int)v->type);
    if (depth >= GGUF_MAX_NESTING)
        return fail(w, INF_ERR_INVALID, "metadata '%s': arrays nest deeper than %d", key,
                    GGUF_MAX_NESTING);
    gguf_vtype et = v->v.arr.elem_type;
    uint64_t count = v->v.arr.count;
    if ((unsigned)et >= GGUF_VT_COUNT)
        return fail(w, INF_ERR_INVALID, "metadata '%s': unknown array element type %d", key,
                    (int)et);
    int rc = kv_u32(w, (uint32_t)et);
    if (!rc) rc = kv_u64(w, count);
    if (rc) return rc;
    size_t esz = gguf_vtype_size(et);
    if (esz) {
        if (count && !v->v.arr.raw)
            return fail(w, INF_ERR_INVALID, "metadata '%s': array elements are NULL", key);
        if (count > SIZE_MAX / esz)
            return fail(w, INF_ERR_INVALID, "metadata '%s': array too large", key);
        return count ? kv_put(w, v->v.arr.raw, (size_t)(count * esz)) : INF_OK;
    }
    if (count && !v->v.arr.items)
        return fail(w, INF_ERR_INVALID, "metadata '%s': array items are NULL", key);
    for (uint64_t i = 0; !rc && i < count; i++) {
        const gguf_value *it = &v->v.arr.items[i];
        if (it->type != et)
            return fail(w, INF_ERR_INVALID, "metadata '%s': item %" PRIu64 " has type %s in"
                        " an array of %s", key, i, gguf_vtype_name(it->type),
                        gguf_vtype_name(et));
        rc = put_value(w, key, it, depth + 1);
    }
    return rc;
}

int gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v)
{
    if (w && !w->status && (!v || (unsigned)v->type >= GGUF_VT_COUNT))
        return fail(w, INF_ERR_INVALID, "metadata '%s': invalid value", key ? key : "?");
    int rc = v && v->type == GGUF_VT_UINT32 ? check_alignment(w, key, v->v.u64) : INF_OK;
    if (!rc) rc = kv_begin(w, key, v ? v->type : GGUF_VT_UINT8);
    if (!rc) rc = put_value(w, key, v, 0);
    return rc;
}

static uint64_t pad_to(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const int64_t *ne)
{
    if (!w) return INF_ERR_INVALID;
    if (w->status) return w->status;
    if (!name || !*name) return fail(w, INF_ERR_INVALID, "tensor name is NULL or empty");
    if (w->state != W_DECLARE)
        return fail(w, INF_ERR_INVALID, "tensor '%s' added after gguf_writer_begin_data",
                    name);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ne)
        return fail(w, INF_ERR_INVALID, "tensor '%s': n_dims = %u (must be 1..%d)", name,
                    n_dims, GGUF_MAX_DIMS);
    wtensor t = {.n_dims = n_dims, .type = type, .ne = {1, 1, 1, 1}};
    for (uint32_t d = 0; d < n_dims; d++) t.ne[d] = ne[d];
    const char *why = "";
    if (gguf_tensor_nbytes(type, t.ne, &t.nbytes, &why))
        return fail(w, INF_ERR_INVALID, "tensor '%s' of type %s, shape [%" PRId64 ", %" PRId64
                    ", %" PRId64 ", %" PRId64 "]: %s", name, quant_type_name(type), t.ne[0],
                    t.ne[1], t.ne[2], t.ne[3], why);
    if (t.nbytes > UINT64_MAX - w->data_size - w->alignment)
        return fail(w, INF_ERR_INVALID, "tensor '%s': data section too large", name);
    if (w->n_tensors == w->tensors_cap) {
        int64_t cap = w->tensors_cap ? w->tensors_cap * 2 : 64;
        wtensor *p = realloc(w->tensors, (size_t)cap * sizeof *p);
        if (!p) return fail(w, INF_ERR_NOMEM, "out of memory for tensor '%s'", name);
        w->tensors = p;
        w->tensors_cap = cap;
    }
    int added = nameset_add(&w->names, name, &t.name);
    if (added < 0) return fail(w, INF_ERR_NOMEM, "out of memory for tensor '%s'", name);
    if (added == 0) return fail(w, INF_ERR_INVALID, "tensor '%s' added twice", name);
    t.offset = w->data_size;
    w->data_size += pad_to(t.nbytes, w->alignment);
    w->tensors[w->n_tensors++] = t;
    return INF_OK;
}

static int put_file(gguf_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->fp) != n)
        return fail(w, INF_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    return INF_OK;
}

static int put_zeros(gguf_writer *w, uint64_t n)
{
    static const unsigned char zeros[256];
    int rc = INF_OK;
    while (!rc && n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        rc = put_file(w, zeros, k);
        n -= k;
    }
    return rc;
}

int gguf_writer_begin_data(gguf_writer *w)
{
    if (!w) return INF_ERR_INVALID;
    if (w->status) return w->status;
    if (w->state != W_DECLARE)
        return fail(w, INF_ERR_INVALID, "gguf_writer_begin_data called twice");
    /* A non-default alignment must be in the file for readers to find the data. */
    if (w->alignment != GGUF_DEFAULT_ALIGNMENT && !nameset_has(&w->keys, ALIGNMENT_KEY)) {
        int rc = gguf_writer_set_u32(w, ALIGNMENT_KEY, w->alignment);
        if (rc) return rc;
    }
    uint32_t head[2] = {0x46554747u, 3};
    uint64_t counts[2] = {(uint64_t)w->n_tensors, w->n_kv};
    int rc = put_file(w, head, sizeof head);
    if (!rc) rc = put_file(w, counts, sizeof counts);
    if (!rc) rc = put_file(w, w->kv, w->kv_len);
    uint64_t pos = sizeof head + sizeof counts + w->kv_len;
    for (int64_t i = 0; !rc && i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        rc = put_file(w, &len, 8);
        if (!rc) rc = put_file(w, t->name, (size_t)len);
        if (!rc) rc = put_file(w, &t->n_dims, 4);
        if (!rc) rc = put_file(w, t->ne, (size_t)t->n_dims * 8);
        if (!rc) rc = put_file(w, &t->type, 4);
        if (!rc) rc = put_file(w, &t->offset, 8);
        pos += 8 + len + 4 + t->n_dims * 8u + 4 + 8;
    }
    /* Without tensors there is no data section to align (as vocabulary files
     * written by llama.cpp's converter end right after the metadata). */
    if (!rc && w->n_tensors) rc = put_zeros(w, pad_to(pos, w->alignment) - pos);
    w->state = W_DATA;
    w->cur = 0;
    w->cur_written = 0;
    /* The metadata is on its way to the file; its memory is no longer needed. */
    free(w->kv);
    w->kv = NULL;
    w->kv_len = w->kv_cap = 0;
    return rc;
}

int gguf_writer_write_data(gguf_writer *w, const void *data, size_t n)
{
    if (!w) return INF_ERR_INVALID;
    if (w->status) return w->status;
    if (w->state != W_DATA)
        return fail(w, INF_ERR_INVALID, "tensor data written before gguf_writer_begin_data");
    if (n && !data) return fail(w, INF_ERR_INVALID, "tensor data is NULL");
    const unsigned char *p = data;
    while (n) {
        if (w->cur >= w->n_tensors)
            return fail(w, INF_ERR_INVALID, "%zu bytes of tensor data beyond the %" PRId64
                        " declared tensors", n, w->n_tensors);
        const wtensor *t = &w->tensors[w->cur];
        uint64_t want = t->nbytes - w->cur_written;
        size_t k = n < want ? n : (size_t)want;
        int rc = put_file(w, p, k);
        if (rc) return rc;
        p += k;
        n -= k;
        w->cur_written += k;
        if (w->cur_written == t->nbytes) {
            rc = put_zeros(w, pad_to(t->nbytes, w->alignment) - t->nbytes);
            if (rc) return rc;
            w->cur++;
            w->cur_written = 0;
        }
    }
    return INF_OK;
}

static void writer_free(gguf_writer *w)
{
    if (w->fp) fclose(w->fp);
    free(w->iobuf);
    free(w->kv);
    free(w->tensors);
    nameset_free(&w->keys);
    nameset_free(&w->names);
    free(w->path);
    free(w);
}

int gguf_writer_open(const char *path, uint32_t alignment, gguf_writer **out, inf_error *err)
{
    if (!out) return inf_errorf(err, INF_ERR_INVALID, "gguf_writer_open: out is NULL");
    *out = NULL;
    if (!path) return inf_errorf(err, INF_ERR_INVALID, "gguf_writer_open: path is NULL");
    if (alignment == 0) alignment = GGUF_DEFAULT_ALIGNMENT;
    if (alignment & (alignment - 1))
        return inf_errorf(err, INF_ERR_INVALID, "alignment %u is not a power of two",
                          alignment);
    int rc = INF_OK;
    gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return inf_errorf(err, INF_ERR_NOMEM, "out of memory opening %s", path);
    w->alignment = alignment;
    w->path = strdup(path);
    w->iobuf = malloc(WRITE_BUFFER);
    if (!w->path || !w->iobuf) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory opening %s", path);
        goto out;
    }
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    setvbuf(w->fp, w->iobuf, _IOFBF, WRITE_BUFFER);
out:
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return INF_OK;
}

int gguf_writer_close(gguf_writer *w, inf_error *err)
{
    if (!w) return inf_errorf(err, INF_ERR_INVALID, "gguf_writer_close: writer is NULL");
    /* A file without tensor data (a vocabulary, say) may skip begin_data. */
    if (!w->status && w->state == W_DECLARE) gguf_writer_begin_data(w);
    if (!w->status && w->cur < w->n_tensors) {
        const wtensor *t = &w->tensors[w->cur];
        fail(w, INF_ERR_INVALID, "tensor '%s' got %" PRIu64 " of its %" PRIu64
             " bytes (%" PRId64 " of %" PRId64 " tensors complete)", t->name,
             w->cur_written, t->nbytes, w->cur, w->n_tensors);
    }
    if (w->fp) {
        if (fclose(w->fp) != 0)
            fail(w, INF_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
        w->fp = NULL;
    }
    int rc = w->status;
    if (rc) {
        unlink(w->path);
        inf_errorf(err, rc, "%s", w->err.msg);
    }
    writer_free(w);
    return rc;
}

void gguf_writer_abort(gguf_writer *w)
{
    if (!w) return;
    if (w->fp) {
        fclose(w->fp);
        w->fp = NULL;
    }
    unlink(w->path);
    writer_free(w);
}
