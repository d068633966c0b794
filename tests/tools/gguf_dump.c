/* gguf_dump: prints what inferd's GGUF reader sees in a file as one JSON object,
 * for the conformance tests against the `gguf` package (tests/e2e/
 * test_gguf_conformance.py), which builds the same JSON from gguf's GGUFReader.
 *
 *   gguf_dump FILE
 *   -> {"version", "alignment", "data_offset", "file_size",
 *       "kv": [{"key", "type", "value"}...],
 *       "tensors": [{"name", "type", "ne", "offset", "nbytes", "crc32"}...]}
 *
 * Canonical values: integers as JSON integers (above INT64_MAX as decimal
 * strings), floats as JSON reals ("nan", "inf", "-inf" as strings), bools,
 * strings (invalid UTF-8 as {"hex": ...}), arrays as {"elem_type", "items"}.
 * Tensor data is summarised by its CRC-32 (zlib's), offset is relative to the
 * data section. On a reader error: prints the message on stderr, exits 1. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

static uint32_t crc32_of(const unsigned char *p, uint64_t n)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static json_t *json_bytes(const char *p, uint64_t len)
{
    json_t *s = json_stringn(p, (size_t)len);
    if (s) return s;
    char *hex = malloc(len * 2 + 1);
    if (!hex) return json_null();
    for (uint64_t i = 0; i < len; i++) sprintf(hex + 2 * i, "%02x", (unsigned char)p[i]);
    json_t *o = json_pack("{s:s}", "hex", len ? hex : "");
    free(hex);
    return o;
}

static json_t *json_u64(uint64_t v)
{
    if (v <= INT64_MAX) return json_integer((json_int_t)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

static json_t *json_f64(double v)
{
    if (isnan(v)) return json_string("nan");
    if (isinf(v)) return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

static json_t *value_json(const gguf_value *v);

static json_t *array_json(const gguf_value *v)
{
    json_t *items = json_array();
    gguf_vtype et = v->v.arr.elem_type;
    for (uint64_t i = 0; i < v->v.arr.count; i++) {
        json_t *it;
        if (v->v.arr.items) {
            it = value_json(&v->v.arr.items[i]);
        } else if (et == GGUF_VT_FLOAT32 || et == GGUF_VT_FLOAT64) {
            it = json_f64(gguf_arr_f64(v, i));
        } else if (et == GGUF_VT_BOOL) {
            it = json_boolean(gguf_arr_i64(v, i) != 0);
        } else if (et == GGUF_VT_UINT64) {
            it = json_u64((uint64_t)gguf_arr_i64(v, i));
        } else {
            it = json_integer(gguf_arr_i64(v, i));
        }
        json_array_append_new(items, it);
    }
    return json_pack("{s:s,s:o}", "elem_type", gguf_vtype_name(et), "items", items);
}

static json_t *value_json(const gguf_value *v)
{
    switch (v->type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64:
        return json_u64(v->v.u64);
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        return json_integer(v->v.i64);
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: return json_f64(v->v.f64);
    case GGUF_VT_BOOL: return json_boolean(v->v.u64 != 0);
    case GGUF_VT_STRING: return json_bytes(v->v.str.ptr, v->v.str.len);
    case GGUF_VT_ARRAY: return array_json(v);
    default: return json_null();
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gguf_dump FILE\n");
        return 2;
    }
    gguf_file *f = NULL;
    inf_error err = {0};
    if (gguf_open(argv[1], &f, &err)) {
        fprintf(stderr, "gguf_dump: %s\n", err.msg);
        return 1;
    }
    json_t *kv = json_array(), *tensors = json_array();
    for (int64_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_value *v = gguf_kv_value(f, i);
        const char *key = gguf_kv_key(f, i);
        json_array_append_new(kv, json_pack("{s:o,s:s,s:o}", "key", json_bytes(key, strlen(key)),
                                            "type", gguf_vtype_name(v->type),
                                            "value", value_json(v)));
    }
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        json_t *ne = json_array();
        for (uint32_t d = 0; d < t->n_dims; d++) json_array_append_new(ne, json_integer(t->ne[d]));
        json_array_append_new(tensors, json_pack(
            "{s:o,s:I,s:o,s:o,s:o,s:I}", "name", json_bytes(t->name, strlen(t->name)),
            "type", (json_int_t)t->type, "ne", ne, "offset", json_u64(t->offset),
            "nbytes", json_u64(t->nbytes), "crc32", (json_int_t)crc32_of(t->data, t->nbytes)));
    }
    json_t *root = json_pack("{s:I,s:I,s:o,s:o,s:o,s:o}", "version", (json_int_t)gguf_version(f),
                             "alignment", (json_int_t)gguf_alignment(f),
                             "data_offset", json_u64(gguf_data_offset(f)),
                             "file_size", json_u64(gguf_file_size(f)), "kv", kv,
                             "tensors", tensors);
    int rc = json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17)) ? 1 : 0;
    putchar('\n');
    json_decref(root);
    gguf_close(f);
    return rc;
}
