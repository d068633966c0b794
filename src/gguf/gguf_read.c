/* gguf_read.c: opening a GGUF file, validating every byte of its header once.
 *
 * The file is untrusted. Every read goes through a cursor that checks the bytes
 * are there; every count is bounded by the bytes left before anything is
 * allocated from it (an element takes at least its minimal encoded size), so a
 * 100-byte file can never make us allocate gigabytes. Metadata is parsed twice:
 * pass 1 validates and counts the decoded array items and key bytes, pass 2 fills
 * one pool of each; tensor infos are then checked against the data section
 * (alignment, bounds, overlap). After open, accessors cannot fail. */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/quant.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */

/* Smallest encodings, used to bound counts by the bytes left. */
#define MIN_STRING_BYTES 8u       /* u64 length, no bytes */
#define MIN_ARRAY_BYTES 12u       /* u32 type + u64 count */
#define MIN_KV_BYTES 13u          /* empty key + u32 type + one-byte value */
#define MIN_TENSOR_INFO_BYTES 32u /* empty name + n_dims + one ne + type + offset */

typedef struct cursor {
    const uint8_t *p;
    uint64_t size;
    uint64_t off;
    inf_error *err;
    const char *where;       /* what is being read, for messages ("metadata 'x'") */
    gguf_value *items;       /* pass 2: pool to fill; NULL in pass 1 */
    uint64_t n_items;        /* pass 1: items counted; pass 2: items used */
} cursor;

static uint64_t left(const cursor *c) { return c->size - c->off; }

static int need(cursor *c, uint64_t n, const char *field)
{
    if (n <= left(c)) return INF_OK;
    return inf_errorf(c->err, INF_ERR_FORMAT,
                      "%s: %s at offset %" PRIu64 " needs %" PRIu64
                      " bytes but the file ends at %" PRIu64 " (truncated file)",
                      c->where, field, c->off, n, c->size);
}

static int rd_u32(cursor *c, uint32_t *v, const char *field)
{
    int rc = need(c, 4, field);
    if (rc) return rc;
    memcpy(v, c->p + c->off, 4);
    c->off += 4;
    return INF_OK;
}

static int rd_u64(cursor *c, uint64_t *v, const char *field)
{
    int rc = need(c, 8, field);
    if (rc) return rc;
    memcpy(v, c->p + c->off, 8);
    c->off += 8;
    return INF_OK;
}

static int rd_str(cursor *c, gguf_str *s, const char *field)
{
    uint64_t at = c->off, len;
    int rc = rd_u64(c, &len, field);
    if (rc) return rc;
    if (len > left(c))
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "%s: %s at offset %" PRIu64 " has length %" PRIu64
                          ", more than the %" PRIu64 " bytes left in the file",
                          c->where, field, at, len, left(c));
    s->ptr = (const char *)c->p + c->off;
    s->len = len;
    c->off += len;
    return INF_OK;
}

static bool vtype_valid(uint32_t t) { return t < GGUF_VT_COUNT; }

/* The elements of an array of strings (items NULL in pass 1). Vocabularies hold
 * 100k-260k of them, so this is the hot loop of opening a model: kept flat. */
static int rd_str_items(cursor *c, uint64_t count, gguf_value *items)
{
    const uint8_t *p = c->p;
    uint64_t off = c->off, size = c->size;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t len;
        if (size - off < 8 || (memcpy(&len, p + off, 8), len > size - off - 8)) {
            c->off = off;
            gguf_str s;
            return rd_str(c, &s, "string element"); /* reports the error */
        }
        if (items) {
            items[i].type = GGUF_VT_STRING;
            items[i].v.str.ptr = (const char *)p + off + 8;
            items[i].v.str.len = len;
        }
        off += 8 + len;
    }
    c->off = off;
    return INF_OK;
}

/* Reads one value of type t at the cursor. out may be NULL (pass 1). */
static int rd_value(cursor *c, uint32_t t, int depth, gguf_value *out)
{
    uint64_t at = c->off;
    size_t sz = gguf_vtype_size((gguf_vtype)t);
    int rc;
    if (out) out->type = (gguf_vtype)t;
    if (sz) {
        if ((rc = need(c, sz, "value"))) return rc;
        if (out) {
            const uint8_t *b = c->p + c->off;
            uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64;
            switch ((gguf_vtype)t) {
            case GGUF_VT_UINT8: out->v.u64 = b[0]; break;
            case GGUF_VT_INT8: out->v.i64 = (int8_t)b[0]; break;
            case GGUF_VT_BOOL: memcpy(&u8, b, 1); out->v.u64 = u8 != 0; break;
            case GGUF_VT_UINT16: memcpy(&u16, b, 2); out->v.u64 = u16; break;
            case GGUF_VT_INT16: memcpy(&u16, b, 2); out->v.i64 = (int16_t)u16; break;
            case GGUF_VT_UINT32: memcpy(&u32, b, 4); out->v.u64 = u32; break;
            case GGUF_VT_INT32: memcpy(&u32, b, 4); out->v.i64 = (int32_t)u32; break;
            case GGUF_VT_UINT64: memcpy(&u64, b, 8); out->v.u64 = u64; break;
            case GGUF_VT_INT64: memcpy(&u64, b, 8); out->v.i64 = (int64_t)u64; break;
            case GGUF_VT_FLOAT32: memcpy(&f32, b, 4); out->v.f64 = f32; break;
            case GGUF_VT_FLOAT64: memcpy(&f64, b, 8); out->v.f64 = f64; break;
            default: break;
            }
        }
        c->off += sz;
        return INF_OK;
    }
    if (t == GGUF_VT_STRING) {
        gguf_str s;
        if ((rc = rd_str(c, &s, "string"))) return rc;
        if (out) out->v.str = s;
        return INF_OK;
    }
    /* GGUF_VT_ARRAY */
    if (depth >= GGUF_MAX_NESTING)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "%s: array at offset %" PRIu64 " nests deeper than %d levels",
                          c->where, at, GGUF_MAX_NESTING);
    uint32_t et;
    uint64_t count;
    if ((rc = rd_u32(c, &et, "array element type"))) return rc;
    if (!vtype_valid(et))
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "%s: array at offset %" PRIu64 " has unknown element type id %u",
                          c->where, at, et);
    if ((rc = rd_u64(c, &count, "array count"))) return rc;
    size_t esz = gguf_vtype_size((gguf_vtype)et);
    uint64_t min = esz ? esz : et == GGUF_VT_STRING ? MIN_STRING_BYTES : MIN_ARRAY_BYTES;
    if (count > left(c) / min)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "%s: array at offset %" PRIu64 " claims %" PRIu64
                          " elements of %s, more than the %" PRIu64 " bytes left can hold",
                          c->where, at, count, gguf_vtype_name((gguf_vtype)et), left(c));
    if (out) {
        out->v.arr.elem_type = (gguf_vtype)et;
        out->v.arr.count = count;
        out->v.arr.items = NULL;
        out->v.arr.raw = c->p + c->off;
    }
    if (esz) {
        c->off += count * esz;
        return INF_OK;
    }
    /* Strings and arrays are decoded into the item pool: reserve count slots
     * first, then nested arrays take theirs after, the same in both passes. */
    gguf_value *items = NULL;
    if (c->items) {
        items = c->items + c->n_items;
        if (out) out->v.arr.items = items;
    }
    c->n_items += count;
    if (et == GGUF_VT_STRING) return rd_str_items(c, count, items);
    for (uint64_t i = 0; i < count; i++)
        if ((rc = rd_value(c, et, depth + 1, items ? &items[i] : NULL))) return rc;
    return INF_OK;
}

/* Pass over the metadata: validates (pass 1, keys/values NULL) or fills. */
static int rd_metadata(cursor *c, int64_t n_kv, gguf_value *values, char **keys,
                       char *names, uint64_t *key_bytes)
{
    char where[192];
    int rc;
    *key_bytes = 0;
    for (int64_t i = 0; i < n_kv; i++) {
        uint64_t at = c->off;
        gguf_str key;
        uint32_t t;
        snprintf(where, sizeof where, "metadata entry %" PRId64, i);
        c->where = where;
        if ((rc = rd_str(c, &key, "key"))) return rc;
        snprintf(where, sizeof where, "metadata '%.*s'", (int)(key.len > 96 ? 96 : key.len),
                 key.ptr);
        if (memchr(key.ptr, 0, key.len))
            return inf_errorf(c->err, INF_ERR_FORMAT,
                              "%s: key at offset %" PRIu64 " contains a NUL byte", where, at);
        if ((rc = rd_u32(c, &t, "value type"))) return rc;
        if (!vtype_valid(t))
            return inf_errorf(c->err, INF_ERR_FORMAT,
                              "%s: unknown value type id %u at offset %" PRIu64, where, t,
                              c->off - 4);
        if (keys) {
            keys[i] = names + *key_bytes;
            memcpy(keys[i], key.ptr, key.len);
            keys[i][key.len] = '\0';
        }
        *key_bytes += key.len + 1;
        if ((rc = rd_value(c, t, 0, values ? &values[i] : NULL))) return rc;
    }
    return INF_OK;
}

static const char *kv_name(const void *ctx, int64_t i)
{
    return ((const gguf_file *)ctx)->keys[i];
}

static const char *tensor_name(const void *ctx, int64_t i)
{
    return ((const gguf_file *)ctx)->tensors[i].name;
}

int gguf_tensor_nbytes(uint32_t type, const int64_t ne[GGUF_MAX_DIMS], uint64_t *nbytes,
                       const char **why)
{
    const quant_traits *q = quant_traits_of(type);
    int64_t n = 1;
    if (!q) {
        *why = "unknown tensor type id";
        return INF_ERR_FORMAT;
    }
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        if (ne[d] <= 0) {
            *why = "a dimension is not positive";
            return INF_ERR_FORMAT;
        }
        if (__builtin_mul_overflow(n, ne[d], &n)) {
            *why = "the element count overflows";
            return INF_ERR_FORMAT;
        }
    }
    if (ne[0] % q->block_size) {
        *why = "ne[0] is not a multiple of the type's block size";
        return INF_ERR_FORMAT;
    }
    if (__builtin_mul_overflow((uint64_t)(n / q->block_size), (uint64_t)q->type_size, nbytes)) {
        *why = "the byte size overflows";
        return INF_ERR_FORMAT;
    }
    return INF_OK;
}

/* Byte size of a tensor, or an error naming what is wrong. */
static int tensor_size(cursor *c, gguf_tensor *t, uint64_t at)
{
    const char *why = "";
    if (!gguf_tensor_nbytes(t->type, t->ne, &t->nbytes, &why)) return INF_OK;
    const quant_traits *q = quant_traits_of(t->type);
    if (!q)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "%s: unknown tensor type id %u (tensor info at offset %" PRIu64 ")",
                          c->where, t->type, at);
    return inf_errorf(c->err, INF_ERR_FORMAT,
                      "%s: shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "] of type %s:"
                      " %s (block size %d; tensor info at offset %" PRIu64 ")",
                      c->where, t->ne[0], t->ne[1], t->ne[2], t->ne[3], q->name, why,
                      q->block_size, at);
}

static int rd_tensor_infos(cursor *c, gguf_file *f, gguf_str *names_in, uint64_t *info_at)
{
    char where[192];
    int rc;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t at = c->off;
        info_at[i] = at;
        snprintf(where, sizeof where, "tensor %" PRId64, i);
        c->where = where;
        if ((rc = rd_str(c, &names_in[i], "name"))) return rc;
        gguf_str nm = names_in[i];
        snprintf(where, sizeof where, "tensor '%.*s'", (int)(nm.len > 96 ? 96 : nm.len), nm.ptr);
        if (memchr(nm.ptr, 0, nm.len))
            return inf_errorf(c->err, INF_ERR_FORMAT,
                              "%s: name at offset %" PRIu64 " contains a NUL byte", where, at);
        if ((rc = rd_u32(c, &t->n_dims, "n_dims"))) return rc;
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
            return inf_errorf(c->err, INF_ERR_FORMAT,
                              "%s: n_dims = %u at offset %" PRIu64 " (must be 1..%d)", where,
                              t->n_dims, c->off - 4, GGUF_MAX_DIMS);
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t ne;
            if ((rc = rd_u64(c, &ne, "ne"))) return rc;
            if (ne == 0 || ne > INT64_MAX)
                return inf_errorf(c->err, INF_ERR_FORMAT,
                                  "%s: ne[%u] = %" PRId64 " at offset %" PRIu64
                                  " (must be positive)", where, d, (int64_t)ne, c->off - 8);
            t->ne[d] = (int64_t)ne;
        }
        if ((rc = rd_u32(c, &t->type, "type"))) return rc;
        if ((rc = rd_u64(c, &t->offset, "data offset"))) return rc;
        if ((rc = tensor_size(c, t, at))) return rc;
    }
    return INF_OK;
}

typedef struct span {
    uint64_t start, end;
    int64_t i;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Tensor data must be aligned, inside the file and disjoint. */
static int check_tensor_data(gguf_file *f, const uint64_t *info_at, inf_error *err)
{
    int rc = INF_OK;
    span *s = NULL;
    if (f->n_tensors == 0) return INF_OK;
    if (f->data_offset > f->size)
        return inf_errorf(err, INF_ERR_FORMAT,
                          "data section at offset %" PRIu64 " starts past the end of the file"
                          " (size %" PRIu64 ") but %" PRId64 " tensors are declared",
                          f->data_offset, f->size, f->n_tensors);
    s = malloc((size_t)f->n_tensors * sizeof *s);
    if (!s) return inf_errorf(err, INF_ERR_NOMEM, "out of memory for %" PRId64 " tensors",
                              f->n_tensors);
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment) {
            rc = inf_errorf(err, INF_ERR_FORMAT,
                            "tensor '%s': data offset %" PRIu64 " (info at offset %" PRIu64
                            ") is not a multiple of the alignment %u",
                            t->name, t->offset, info_at[i], f->alignment);
            goto out;
        }
        uint64_t begin, end;
        if (__builtin_add_overflow(f->data_offset, t->offset, &begin) ||
            __builtin_add_overflow(begin, t->nbytes, &end)) {
            rc = inf_errorf(err, INF_ERR_FORMAT,
                            "tensor '%s': data offset %" PRIu64 " (info at offset %" PRIu64
                            ") runs past end of file (size %" PRIu64 ")",
                            t->name, t->offset, info_at[i], f->size);
            goto out;
        }
        if (end > f->size) {
            rc = inf_errorf(err, INF_ERR_FORMAT,
                            "tensor '%s': data [%" PRIu64 ", %" PRIu64 ") runs past end of file"
                            " (size %" PRIu64 ")", t->name, begin, end, f->size);
            goto out;
        }
        t->data = f->base + f->data_offset + t->offset;
        s[i] = (span){begin, end, i};
    }
    qsort(s, (size_t)f->n_tensors, sizeof *s, span_cmp);
    for (int64_t k = 1; k < f->n_tensors; k++) {
        if (s[k].start < s[k - 1].end) {
            rc = inf_errorf(err, INF_ERR_FORMAT,
                            "tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%" PRIu64
                            ", %" PRIu64 ") overlap",
                            f->tensors[s[k - 1].i].name, s[k - 1].start, s[k - 1].end,
                            f->tensors[s[k].i].name, s[k].start, s[k].end);
            goto out;
        }
    }
out:
    free(s);
    return rc;
}

static int rd_header(cursor *c, gguf_file *f, uint64_t *n_tensors, uint64_t *n_kv)
{
    uint32_t magic;
    int rc;
    c->where = "header";
    if (c->size < 24)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "file is %" PRIu64 " bytes, too small for a GGUF header (24 bytes)",
                          c->size);
    rd_u32(c, &magic, "magic");
    if (magic != GGUF_MAGIC)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "bad magic %02x %02x %02x %02x at offset 0 (expected \"GGUF\"):"
                          " not a GGUF file", c->p[0], c->p[1], c->p[2], c->p[3]);
    rd_u32(c, &f->version, "version");
    if (f->version == 1)
        return inf_errorf(c->err, INF_ERR_UNSUPPORTED,
                          "GGUF version 1 (at offset 4) is not supported, only versions 2"
                          " and 3: convert the model again with a current converter");
    if (f->version == 0x02000000u || f->version == 0x03000000u)
        return inf_errorf(c->err, INF_ERR_UNSUPPORTED,
                          "big-endian GGUF file (version bytes at offset 4): only"
                          " little-endian files are supported");
    if (f->version != 2 && f->version != 3)
        return inf_errorf(c->err, INF_ERR_UNSUPPORTED,
                          "GGUF version %u at offset 4 is not supported (only 2 and 3)",
                          f->version);
    rd_u64(c, n_tensors, "tensor count");
    rd_u64(c, n_kv, "metadata count");
    if (*n_kv > left(c) / MIN_KV_BYTES)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "metadata count %" PRIu64 " at offset 16 is more than the %" PRIu64
                          " bytes left can hold", *n_kv, left(c));
    /* Checked again once the metadata is read; this bounds it early. */
    if (*n_tensors > left(c) / MIN_TENSOR_INFO_BYTES)
        return inf_errorf(c->err, INF_ERR_FORMAT,
                          "tensor count %" PRIu64 " at offset 8 is more than the %" PRIu64
                          " bytes left can hold", *n_tensors, left(c));
    rc = INF_OK;
    return rc;
}

static int find_alignment(gguf_file *f, inf_error *err)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gguf_kv_find(f, "general.alignment");
    if (i < 0) return INF_OK;
    const gguf_value *v = &f->values[i];
    if (v->type != GGUF_VT_UINT32)
        return inf_errorf(err, INF_ERR_FORMAT,
                          "metadata 'general.alignment' has type %s (must be UINT32)",
                          gguf_vtype_name(v->type));
    uint64_t a = v->v.u64;
    if (a == 0 || (a & (a - 1)))
        return inf_errorf(err, INF_ERR_FORMAT,
                          "metadata 'general.alignment' = %" PRIu64
                          " is not a power of two", a);
    f->alignment = (uint32_t)a;
    return INF_OK;
}

static int parse(gguf_file *f, inf_error *err)
{
    cursor c = {.p = f->base, .size = f->size, .err = err};
    uint64_t n_tensors = 0, n_kv = 0, key_bytes = 0, names_bytes = 0;
    int64_t d1 = 0, d2 = 0;
    gguf_str *tnames = NULL;
    uint64_t *info_at = NULL;
    int rc = rd_header(&c, f, &n_tensors, &n_kv);
    if (rc) goto out;

    uint64_t meta_start = c.off;
    if ((rc = rd_metadata(&c, (int64_t)n_kv, NULL, NULL, NULL, &key_bytes))) goto out;
    f->n_kv = (int64_t)n_kv;
    uint64_t n_items = c.n_items;
    if (n_tensors > left(&c) / MIN_TENSOR_INFO_BYTES) {
        rc = inf_errorf(err, INF_ERR_FORMAT,
                        "tensor count %" PRIu64 " at offset 8 is more than the %" PRIu64
                        " bytes left after the metadata (offset %" PRIu64 ") can hold",
                        n_tensors, left(&c), c.off);
        goto out;
    }
    f->n_tensors = (int64_t)n_tensors;
    f->keys = calloc(n_kv ? n_kv : 1, sizeof *f->keys);
    f->values = calloc(n_kv ? n_kv : 1, sizeof *f->values);
    /* Every item is written by pass 2: no need to zero (10 MB for a 260k vocab). */
    f->items = malloc((n_items ? n_items : 1) * sizeof *f->items);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    tnames = calloc(n_tensors ? n_tensors : 1, sizeof *tnames);
    info_at = calloc(n_tensors ? n_tensors : 1, sizeof *info_at);
    /* The names pool is sized after the tensor infos; keys go there too, so pass 2
     * first fills a temporary key pool. key_bytes <= file size, so this is bounded. */
    char *key_pool = malloc(key_bytes ? key_bytes : 1);
    if (!f->keys || !f->values || !f->items || !f->tensors || !tnames || !info_at ||
        !key_pool) {
        free(key_pool);
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory reading the metadata");
        goto out;
    }
    f->names = key_pool;
    c.off = meta_start;
    c.items = f->items;
    c.n_items = 0;
    if ((rc = rd_metadata(&c, f->n_kv, f->values, f->keys, f->names, &key_bytes))) goto out;
    INF_ASSERT(c.n_items == n_items);

    if ((rc = gguf_index_build(&f->kv_index, f->n_kv, kv_name, f, &d1, &d2))) {
        if (rc == INF_ERR_NOMEM)
            inf_errorf(err, rc, "out of memory indexing the metadata");
        else
            inf_errorf(err, rc, "metadata key '%s' appears twice (entries %" PRId64
                       " and %" PRId64 ")", f->keys[d1], d1, d2);
        goto out;
    }
    if ((rc = find_alignment(f, err))) goto out;

    if ((rc = rd_tensor_infos(&c, f, tnames, info_at))) goto out;
    names_bytes = key_bytes;
    for (int64_t i = 0; i < f->n_tensors; i++) names_bytes += tnames[i].len + 1;
    char *pool = realloc(f->names, names_bytes ? names_bytes : 1);
    if (!pool) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory for tensor names");
        goto out;
    }
    /* Keys moved with the pool: re-point them. */
    uint64_t pos = 0;
    for (int64_t i = 0; i < f->n_kv; i++) {
        f->keys[i] = pool + pos;
        pos += strlen(pool + pos) + 1;
    }
    f->names = pool;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        char *dst = pool + pos;
        memcpy(dst, tnames[i].ptr, tnames[i].len);
        dst[tnames[i].len] = '\0';
        f->tensors[i].name = dst;
        pos += tnames[i].len + 1;
    }
    if ((rc = gguf_index_build(&f->tensor_index, f->n_tensors, tensor_name, f, &d1, &d2))) {
        if (rc == INF_ERR_NOMEM)
            inf_errorf(err, rc, "out of memory indexing the tensors");
        else
            inf_errorf(err, rc, "tensor name '%s' appears twice (tensors %" PRId64
                       " and %" PRId64 ", info at offsets %" PRIu64 " and %" PRIu64 ")",
                       f->tensors[d1].name, d1, d2, info_at[d1], info_at[d2]);
        goto out;
    }

    uint64_t a = f->alignment;
    if (c.off > UINT64_MAX - a) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "data section offset overflows");
        goto out;
    }
    f->data_offset = (c.off + a - 1) / a * a;
    rc = check_tensor_data(f, info_at, err);
out:
    free(tnames);
    free(info_at);
    return rc;
}

static int open_buffer(const void *data, size_t size, void *map, gguf_file **out,
                       inf_error *err)
{
    *out = NULL;
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        if (map) munmap(map, size);
        return inf_errorf(err, INF_ERR_NOMEM, "out of memory opening a GGUF file");
    }
    f->base = data;
    f->size = size;
    f->map = map;
    f->map_len = size;
    int rc = parse(f, err);
    if (rc) {
        gguf_close(f);
        return rc;
    }
    *out = f;
    return INF_OK;
}

int gguf_open_memory(const void *data, size_t size, gguf_file **out, inf_error *err)
{
    if (!out) return inf_errorf(err, INF_ERR_INVALID, "gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size)
        return inf_errorf(err, INF_ERR_INVALID, "gguf_open_memory: data is NULL");
    static const uint8_t empty[1];
    return open_buffer(data ? data : empty, size, NULL, out, err);
}

int gguf_open(const char *path, gguf_file **out, inf_error *err)
{
    if (!out) return inf_errorf(err, INF_ERR_INVALID, "gguf_open: out is NULL");
    *out = NULL;
    if (!path) return inf_errorf(err, INF_ERR_INVALID, "gguf_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return inf_errorf(err, INF_ERR_IO, "%s: %s", path, strerror(errno));
    int rc = INF_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size == 0) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "%s: empty file, not a GGUF file", path);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: mmap: %s", path, strerror(errno));
        goto out;
    }
    rc = open_buffer(map, size, map, out, err);
    if (rc) inf_error_prefix(err, "%s", path);
out:
    close(fd);
    return rc;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    gguf_index_free(&f->kv_index);
    gguf_index_free(&f->tensor_index);
    free(f->keys);
    free(f->values);
    free(f->items);
    free(f->names);
    free(f->tensors);
    if (f->map) munmap(f->map, f->map_len);
    free(f);
}
