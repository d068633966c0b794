/* gguf_write: writes a GGUF file with inferd's writer from a JSON description, so
 * that the conformance tests can check that gguf's GGUFReader reads it back.
 *
 *   gguf_write DESC.json OUT.gguf
 *   DESC = {"alignment": N (0 = default),
 *           "kv": [{"key", "type", "value"}...],          values as gguf_dump prints them
 *           "tensors": [{"name", "type", "ne", "data_file"}...]}
 *
 * Scalars go through the typed setters, flat arrays through set_arr/set_arr_str
 * and nested arrays through set_value, so every entry point is exercised. Tensor
 * data is streamed from data_file (exactly the tensor's bytes) in 64 KiB pieces.
 * On error prints the message on stderr and exits 1. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

static int vtype_of(const char *name)
{
    for (int t = 0; t < GGUF_VT_COUNT; t++)
        if (name && strcmp(gguf_vtype_name((gguf_vtype)t), name) == 0) return t;
    return -1;
}

static int get_u64(const json_t *j, uint64_t *out)
{
    if (json_is_integer(j)) {
        *out = (uint64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_string(j)) {
        errno = 0;
        *out = strtoull(json_string_value(j), NULL, 10);
        return errno ? -1 : 0;
    }
    return -1;
}

static double get_f64(const json_t *j)
{
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        return !strcmp(s, "nan") ? NAN : !strcmp(s, "-inf") ? -INFINITY : INFINITY;
    }
    return json_number_value(j);
}

/* Fills a decoded value from JSON; nested allocations are appended to pool
 * (freed by the caller). Returns 0 or -1. */
static int build_value(const json_t *j, int type, gguf_value *v, void ***pool, size_t *n_pool)
{
    v->type = (gguf_vtype)type;
    uint64_t u = 0;
    switch (type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64:
        if (get_u64(j, &u)) return -1;
        v->v.u64 = u;
        return 0;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        if (!json_is_integer(j)) return -1;
        v->v.i64 = json_integer_value(j);
        return 0;
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64:
        v->v.f64 = get_f64(j);
        return 0;
    case GGUF_VT_BOOL:
        if (!json_is_boolean(j)) return -1;
        v->v.u64 = json_is_true(j);
        return 0;
    case GGUF_VT_STRING:
        if (!json_is_string(j)) return -1;
        v->v.str.ptr = json_string_value(j);
        v->v.str.len = json_string_length(j);
        return 0;
    case GGUF_VT_ARRAY: break;
    default: return -1;
    }
    int et = vtype_of(json_string_value(json_object_get(j, "elem_type")));
    const json_t *items = json_object_get(j, "items");
    if (et < 0 || !json_is_array(items)) return -1;
    size_t n = json_array_size(items), esz = gguf_vtype_size((gguf_vtype)et);
    void *mem = calloc(n ? n : 1, esz ? esz : sizeof(gguf_value));
    void **grown = realloc(*pool, (*n_pool + 1) * sizeof *grown);
    if (!mem || !grown) {
        free(mem);
        return -1;
    }
    *pool = grown;
    (*pool)[(*n_pool)++] = mem;
    v->v.arr.elem_type = (gguf_vtype)et;
    v->v.arr.count = n;
    v->v.arr.items = esz ? NULL : mem;
    v->v.arr.raw = esz ? mem : NULL;
    for (size_t i = 0; i < n; i++) {
        gguf_value it = {0};
        if (build_value(json_array_get(items, i), et, &it, pool, n_pool)) return -1;
        if (!esz) {
            ((gguf_value *)mem)[i] = it;
            continue;
        }
        unsigned char *dst = (unsigned char *)mem + i * esz;
        float f32 = (float)it.v.f64;
        uint8_t b = it.v.u64 != 0;
        if (et == GGUF_VT_FLOAT32) memcpy(dst, &f32, 4);
        else if (et == GGUF_VT_FLOAT64) memcpy(dst, &it.v.f64, 8);
        else if (et == GGUF_VT_BOOL) memcpy(dst, &b, 1);
        else memcpy(dst, &it.v.u64, esz);  /* little-endian: the low bytes */
    }
    return 0;
}

/* One metadata entry through the most specific setter. */
static int set_entry(gguf_writer *w, const char *key, const gguf_value *v)
{
    switch (v->type) {
    case GGUF_VT_UINT8: return gguf_writer_set_u8(w, key, (uint8_t)v->v.u64);
    case GGUF_VT_INT8: return gguf_writer_set_i8(w, key, (int8_t)v->v.i64);
    case GGUF_VT_UINT16: return gguf_writer_set_u16(w, key, (uint16_t)v->v.u64);
    case GGUF_VT_INT16: return gguf_writer_set_i16(w, key, (int16_t)v->v.i64);
    case GGUF_VT_UINT32: return gguf_writer_set_u32(w, key, (uint32_t)v->v.u64);
    case GGUF_VT_INT32: return gguf_writer_set_i32(w, key, (int32_t)v->v.i64);
    case GGUF_VT_UINT64: return gguf_writer_set_u64(w, key, v->v.u64);
    case GGUF_VT_INT64: return gguf_writer_set_i64(w, key, v->v.i64);
    case GGUF_VT_FLOAT32: return gguf_writer_set_f32(w, key, (float)v->v.f64);
    case GGUF_VT_FLOAT64: return gguf_writer_set_f64(w, key, v->v.f64);
    case GGUF_VT_BOOL: return gguf_writer_set_bool(w, key, v->v.u64 != 0);
    case GGUF_VT_STRING: return gguf_writer_set_str(w, key, v->v.str.ptr, v->v.str.len);
    default: break;
    }
    gguf_vtype et = v->v.arr.elem_type;
    if (gguf_vtype_size(et))
        return gguf_writer_set_arr(w, key, et, v->v.arr.raw, v->v.arr.count);
    if (et == GGUF_VT_STRING) {
        uint64_t n = v->v.arr.count;
        const char **strs = calloc(n ? n : 1, sizeof *strs);
        size_t *lens = calloc(n ? n : 1, sizeof *lens);
        int rc = INF_ERR_NOMEM;
        if (strs && lens) {
            for (uint64_t i = 0; i < n; i++) {
                strs[i] = v->v.arr.items[i].v.str.ptr;
                lens[i] = (size_t)v->v.arr.items[i].v.str.len;
            }
            rc = gguf_writer_set_arr_str(w, key, strs, lens, n);
        }
        free(strs);
        free(lens);
        return rc;
    }
    return gguf_writer_set_value(w, key, v);
}

static int stream_file(gguf_writer *w, const char *path, inf_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return inf_errorf(err, INF_ERR_IO, "%s: %s", path, strerror(errno));
    static unsigned char buf[65536];
    size_t n;
    int rc = INF_OK;
    while (!rc && (n = fread(buf, 1, sizeof buf, fp)) > 0) rc = gguf_writer_write_data(w, buf, n);
    fclose(fp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gguf_write DESC.json OUT.gguf\n");
        return 2;
    }
    json_error_t jerr;
    json_t *desc = json_load_file(argv[1], 0, &jerr);
    if (!desc) {
        fprintf(stderr, "gguf_write: %s:%d: %s\n", argv[1], jerr.line, jerr.text);
        return 1;
    }
    inf_error err = {0};
    gguf_writer *w = NULL;
    void **pool = NULL;
    size_t n_pool = 0;
    int rc = gguf_writer_open(argv[2], (uint32_t)json_integer_value(json_object_get(desc, "alignment")),
                              &w, &err);
    if (rc) goto out;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(desc, "kv"), i, e) {
        const char *key = json_string_value(json_object_get(e, "key"));
        int t = vtype_of(json_string_value(json_object_get(e, "type")));
        gguf_value v = {0};
        if (!key || t < 0 || build_value(json_object_get(e, "value"), t, &v, &pool, &n_pool)) {
            rc = inf_errorf(&err, INF_ERR_INVALID, "%s: bad kv entry %zu", argv[1], i);
            gguf_writer_abort(w);
            w = NULL;
            goto out;
        }
        set_entry(w, key, &v);  /* errors are sticky; close reports the first */
    }
    json_array_foreach(json_object_get(desc, "tensors"), i, e) {
        int64_t ne[GGUF_MAX_DIMS] = {1, 1, 1, 1};
        const json_t *jne = json_object_get(e, "ne");
        size_t n_dims = json_array_size(jne), d;
        json_t *x;
        json_array_foreach(jne, d, x) if (d < GGUF_MAX_DIMS) ne[d] = json_integer_value(x);
        gguf_writer_add_tensor(w, json_string_value(json_object_get(e, "name")),
                               (uint32_t)json_integer_value(json_object_get(e, "type")),
                               (uint32_t)n_dims, ne);
    }
    gguf_writer_begin_data(w);
    json_array_foreach(json_object_get(desc, "tensors"), i, e) {
        const char *path = json_string_value(json_object_get(e, "data_file"));
        if (path && (rc = stream_file(w, path, &err)) == INF_ERR_IO) {
            gguf_writer_abort(w);
            w = NULL;
            goto out;
        }
    }
    rc = gguf_writer_close(w, &err);
    w = NULL;
out:
    for (size_t k = 0; k < n_pool; k++) free(pool[k]);
    free(pool);
    json_decref(desc);
    if (rc) fprintf(stderr, "gguf_write: %s\n", err.msg);
    return rc ? 1 : 0;
}
