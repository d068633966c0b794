/* gguf_query.c: read-only accessors of an open gguf_file: header fields, metadata
 * by position or key (typed look-ups with range checks), tensors by position or
 * name, and the names and sizes of value types. Everything was validated at open,
 * so only a wrong type or an absent key can fail here. */
#include "gguf/gguf_internal.h"

#include <inttypes.h>
#include <string.h>

uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_offset; }
uint64_t gguf_file_size(const gguf_file *f) { return f->size; }
const void *gguf_base(const gguf_file *f) { return f->base; }

int64_t gguf_kv_count(const gguf_file *f) { return f->n_kv; }

const char *gguf_kv_key(const gguf_file *f, int64_t i)
{
    INF_ASSERT(i >= 0 && i < f->n_kv);
    return f->keys[i];
}

const gguf_value *gguf_kv_value(const gguf_file *f, int64_t i)
{
    INF_ASSERT(i >= 0 && i < f->n_kv);
    return &f->values[i];
}

static const char *kv_name(const void *ctx, int64_t i)
{
    return ((const gguf_file *)ctx)->keys[i];
}

static const char *tensor_name(const void *ctx, int64_t i)
{
    return ((const gguf_file *)ctx)->tensors[i].name;
}

int64_t gguf_kv_find(const gguf_file *f, const char *key)
{
    return gguf_index_find(&f->kv_index, key, kv_name, f);
}

const gguf_value *gguf_kv_get(const gguf_file *f, const char *key)
{
    int64_t i = gguf_kv_find(f, key);
    return i < 0 ? NULL : &f->values[i];
}

int64_t gguf_tensor_count(const gguf_file *f) { return f->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i)
{
    INF_ASSERT(i >= 0 && i < f->n_tensors);
    return &f->tensors[i];
}

const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name)
{
    int64_t i = gguf_index_find(&f->tensor_index, name, tensor_name, f);
    return i < 0 ? NULL : &f->tensors[i];
}

/* ---- typed look-ups --------------------------------------------------------- */

static bool is_unsigned(gguf_vtype t)
{
    return t == GGUF_VT_UINT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_UINT32 ||
           t == GGUF_VT_UINT64;
}

static bool is_signed(gguf_vtype t)
{
    return t == GGUF_VT_INT8 || t == GGUF_VT_INT16 || t == GGUF_VT_INT32 ||
           t == GGUF_VT_INT64;
}

static int lookup(const gguf_file *f, const char *key, const gguf_value **v, inf_error *err)
{
    *v = gguf_kv_get(f, key);
    if (!*v) return inf_errorf(err, INF_ERR_NOT_FOUND, "metadata key '%s' not found", key);
    return INF_OK;
}

static int wrong_type(const char *key, const gguf_value *v, const char *want, inf_error *err)
{
    return inf_errorf(err, INF_ERR_FORMAT, "metadata '%s' has type %s, expected %s", key,
                      gguf_vtype_name(v->type), want);
}

/* An integer value as (negative?, magnitude-or-value) without losing range. */
static int get_int(const gguf_file *f, const char *key, int64_t lo, uint64_t hi,
                   const char *want, int64_t *s_out, uint64_t *u_out, inf_error *err)
{
    const gguf_value *v;
    int rc = lookup(f, key, &v, err);
    if (rc) return rc;
    if (is_unsigned(v->type)) {
        if (v->v.u64 > hi)
            return inf_errorf(err, INF_ERR_FORMAT, "metadata '%s' = %" PRIu64
                              " does not fit %s", key, v->v.u64, want);
        *u_out = v->v.u64;
        *s_out = (int64_t)v->v.u64;
        return INF_OK;
    }
    if (is_signed(v->type)) {
        if (v->v.i64 < lo || (v->v.i64 >= 0 && (uint64_t)v->v.i64 > hi))
            return inf_errorf(err, INF_ERR_FORMAT, "metadata '%s' = %" PRId64
                              " does not fit %s", key, v->v.i64, want);
        *s_out = v->v.i64;
        *u_out = (uint64_t)v->v.i64;
        return INF_OK;
    }
    return wrong_type(key, v, "an integer", err);
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, inf_error *err)
{
    int64_t s = 0;
    uint64_t u = 0;
    int rc = get_int(f, key, 0, UINT32_MAX, "uint32", &s, &u, err);
    if (!rc) *out = (uint32_t)u;
    return rc;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, inf_error *err)
{
    int64_t s = 0;
    uint64_t u = 0;
    int rc = get_int(f, key, INT64_MIN, INT64_MAX, "int64", &s, &u, err);
    if (!rc) *out = s;
    return rc;
}

int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, inf_error *err)
{
    int64_t s = 0;
    uint64_t u = 0;
    int rc = get_int(f, key, 0, UINT64_MAX, "uint64", &s, &u, err);
    if (!rc) *out = u;
    return rc;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out, inf_error *err)
{
    const gguf_value *v;
    int rc = lookup(f, key, &v, err);
    if (rc) return rc;
    if (v->type != GGUF_VT_FLOAT32 && v->type != GGUF_VT_FLOAT64)
        return wrong_type(key, v, "FLOAT32 or FLOAT64", err);
    *out = (float)v->v.f64;
    return INF_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out, inf_error *err)
{
    const gguf_value *v;
    int rc = lookup(f, key, &v, err);
    if (rc) return rc;
    if (v->type != GGUF_VT_BOOL) return wrong_type(key, v, "BOOL", err);
    *out = v->v.u64 != 0;
    return INF_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, inf_error *err)
{
    const gguf_value *v;
    int rc = lookup(f, key, &v, err);
    if (rc) return rc;
    if (v->type != GGUF_VT_STRING) return wrong_type(key, v, "STRING", err);
    *out = v->v.str;
    return INF_OK;
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem_type,
                 const gguf_value **out, inf_error *err)
{
    const gguf_value *v;
    int rc = lookup(f, key, &v, err);
    if (rc) return rc;
    if (v->type != GGUF_VT_ARRAY) return wrong_type(key, v, "ARRAY", err);
    if (elem_type != GGUF_VT_COUNT && v->v.arr.elem_type != elem_type)
        return inf_errorf(err, INF_ERR_FORMAT,
                          "metadata '%s' is an array of %s, expected an array of %s", key,
                          gguf_vtype_name(v->v.arr.elem_type), gguf_vtype_name(elem_type));
    *out = v;
    return INF_OK;
}

/* ---- array elements ---------------------------------------------------------- */

int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i)
{
    INF_ASSERT(arr->type == GGUF_VT_ARRAY && i < arr->v.arr.count && arr->v.arr.raw);
    const unsigned char *p = arr->v.arr.raw;
    size_t sz = gguf_vtype_size(arr->v.arr.elem_type);
    INF_ASSERT(sz != 0);
    p += i * sz;
    uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64;
    switch (arr->v.arr.elem_type) {
    case GGUF_VT_UINT8: memcpy(&u8, p, 1); return u8;
    case GGUF_VT_INT8: memcpy(&u8, p, 1); return (int8_t)u8;
    case GGUF_VT_BOOL: memcpy(&u8, p, 1); return u8 != 0;
    case GGUF_VT_UINT16: memcpy(&u16, p, 2); return u16;
    case GGUF_VT_INT16: memcpy(&u16, p, 2); return (int16_t)u16;
    case GGUF_VT_UINT32: memcpy(&u32, p, 4); return u32;
    case GGUF_VT_INT32: memcpy(&u32, p, 4); return (int32_t)u32;
    case GGUF_VT_UINT64: memcpy(&u64, p, 8); return (int64_t)u64;
    case GGUF_VT_INT64: memcpy(&u64, p, 8); return (int64_t)u64;
    case GGUF_VT_FLOAT32: memcpy(&f32, p, 4); return (int64_t)f32;
    case GGUF_VT_FLOAT64: memcpy(&f64, p, 8); return (int64_t)f64;
    default: return 0;
    }
}

double gguf_arr_f64(const gguf_value *arr, uint64_t i)
{
    INF_ASSERT(arr->type == GGUF_VT_ARRAY && i < arr->v.arr.count && arr->v.arr.raw);
    const unsigned char *p = (const unsigned char *)arr->v.arr.raw;
    float f32;
    double f64;
    uint64_t u64;
    switch (arr->v.arr.elem_type) {
    case GGUF_VT_FLOAT32: memcpy(&f32, p + i * 4, 4); return f32;
    case GGUF_VT_FLOAT64: memcpy(&f64, p + i * 8, 8); return f64;
    case GGUF_VT_UINT64: memcpy(&u64, p + i * 8, 8); return (double)u64;
    default: return (double)gguf_arr_i64(arr, i);
    }
}

/* ---- value types ------------------------------------------------------------- */

size_t gguf_vtype_size(gguf_vtype t)
{
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_vtype_name(gguf_vtype t)
{
    static const char *const names[GGUF_VT_COUNT] = {
        "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
        "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
    };
    return (unsigned)t < GGUF_VT_COUNT ? names[t] : "unknown";
}
