/* gguf.h: reading and writing GGUF v3 files.
 *
 * File layout (little-endian; the format's specification):
 *   u32 magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 tensor_type | u64 offset }
 *   padding to general.alignment (default 32) | data section
 *   string = u64 length + bytes (no NUL); array value = u32 elem_type + u64 count + elems.
 * ne[0] is the innermost (contiguous) dimension, as in ggml. A tensor's offset is
 * relative to the start of the data section and a multiple of the alignment.
 *
 * The reader maps the file (or takes a caller's buffer) and validates everything
 * once at open: every later accessor is a plain look-up that cannot fail on input.
 * Strings returned point into the mapping and are NOT NUL-terminated (gguf_str);
 * keys and tensor names are also available NUL-terminated (copied at open).
 * A gguf_file is immutable after open: any thread may read it concurrently. */
#ifndef INFERD_GGUF_H
#define INFERD_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* Metadata value types, ids as stored in the file. */
typedef enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
} gguf_vtype;

/* A length-delimited string inside the mapping (not NUL-terminated). */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

/* A metadata value. Scalars are decoded; arrays point at their elements. */
typedef struct gguf_value {
    gguf_vtype type;
    union {
        uint64_t u64;  /* UINT8/16/32/64 and BOOL (0/1), zero-extended */
        int64_t i64;   /* INT8/16/32/64, sign-extended */
        double f64;    /* FLOAT32/64 */
        gguf_str str;  /* STRING */
        struct {
            gguf_vtype elem_type;
            uint64_t count;
            /* For elem_type STRING or ARRAY: count decoded gguf_value items.
             * For scalar elem types: NULL; read the raw little-endian elements
             * from `raw` (count * gguf_vtype_size(elem_type) bytes). */
            const struct gguf_value *items;
            const void *raw;
        } arr;         /* ARRAY (may nest) */
    } v;
} gguf_value;

typedef struct gguf_tensor {
    const char *name;             /* NUL-terminated copy */
    uint32_t n_dims;              /* 1..GGUF_MAX_DIMS */
    int64_t ne[GGUF_MAX_DIMS];    /* elements per dim, ne[0] innermost; unused dims = 1 */
    uint32_t type;                /* ggml type id (see quant/quant.h) */
    uint64_t offset;              /* relative to the data section */
    uint64_t nbytes;              /* bytes of data, from type and shape */
    const void *data;             /* into the mapping; valid while the file is open */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Open and validate a GGUF file by path (read-only mmap, no copy of tensor data).
 * On success *out owns the mapping; free with gguf_close. On failure *out is NULL and
 * err names the field and byte offset. Tensor types that ggml knows but inferd does
 * not compute with (IQ*, TQ*, ...) are accepted at open, their sizes taken from
 * quant_traits_of (so `inferd info` can list them); model loading rejects them by
 * name. Type ids that no ggml version used are refused at open, by name and id.
 * Any thread; the path is not retained. */
int gguf_open(const char *path, gguf_file **out, inf_error *err);

/* Same, over a caller's buffer (fuzzing, tests). The buffer must outlive the file. */
int gguf_open_memory(const void *data, size_t size, gguf_file **out, inf_error *err);

/* NULL allowed. */
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);
uint64_t gguf_data_offset(const gguf_file *f);   /* byte offset of the data section */
uint64_t gguf_file_size(const gguf_file *f);
const void *gguf_base(const gguf_file *f);        /* start of the mapping */

/* Metadata, in file order. */
int64_t gguf_kv_count(const gguf_file *f);
const char *gguf_kv_key(const gguf_file *f, int64_t i);          /* NUL-terminated */
const gguf_value *gguf_kv_value(const gguf_file *f, int64_t i);
int64_t gguf_kv_find(const gguf_file *f, const char *key);       /* index or -1 */
const gguf_value *gguf_kv_get(const gguf_file *f, const char *key); /* NULL if absent */

/* Typed look-ups. Return INF_OK, INF_ERR_NOT_FOUND (absent; *out untouched) or
 * INF_ERR_FORMAT (present with an incompatible type; err says which key and type).
 * Integer look-ups accept any integer type whose value fits; float accepts F32/F64. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, inf_error *err);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, inf_error *err);
int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, inf_error *err);
int gguf_get_f32(const gguf_file *f, const char *key, float *out, inf_error *err);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out, inf_error *err);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, inf_error *err);
/* An array of the given element type (GGUF_VT_COUNT = any element type). */
int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem_type,
                 const gguf_value **out, inf_error *err);

/* Element i of a scalar array as double / int64 (no bounds check beyond an assert). */
double gguf_arr_f64(const gguf_value *arr, uint64_t i);
int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i);

/* Tensors, in file order. */
int64_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name); /* NULL if absent */

/* Sizes and names of value types. */
size_t gguf_vtype_size(gguf_vtype t);         /* bytes of a scalar; 0 for STRING/ARRAY */
const char *gguf_vtype_name(gguf_vtype t);

/* ---- Writer ----------------------------------------------------------------
 * Streaming: declare metadata and tensor infos first, then gguf_writer_begin_data
 * writes the header, and tensor data is streamed in declaration order with
 * gguf_writer_write_data (any number of calls per tensor; padding is inserted
 * between tensors automatically). Memory use is independent of the data size.
 * Values are copied at the call. One thread per writer. Setters return INF_OK or
 * an error status; the first error is sticky (later calls return it) and its
 * message comes back from gguf_writer_close. */
typedef struct gguf_writer gguf_writer;

/* Creates the output file. alignment 0 means the default (32); it is also written
 * as general.alignment when not the default. Setting general.alignment yourself
 * (copying metadata) is allowed when it is a UINT32 equal to this alignment. */
int gguf_writer_open(const char *path, uint32_t alignment, gguf_writer **out, inf_error *err);

int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *s, size_t len);
/* Array of scalars: count elements of elem_type, raw little-endian. */
int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem_type,
                        const void *elems, uint64_t count);
int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs,
                            const size_t *lens, uint64_t count);
/* Any value, including nested arrays (used by `quantize` to copy metadata). */
int gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v);

/* Declares a tensor; data comes later in the same order. ne[0] innermost. */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const int64_t *ne);

/* Writes header, metadata and tensor infos; after this only data calls are allowed. */
int gguf_writer_begin_data(gguf_writer *w);
/* Appends bytes of the current tensor's data; moves on when a tensor is complete. */
int gguf_writer_write_data(gguf_writer *w, const void *data, size_t n);
/* Checks every declared tensor got exactly its bytes, flushes, closes. Frees w even
 * on error. Returns the first error met by any earlier call, if any, and then
 * removes the partial file. A file with no tensors may skip begin_data. */
int gguf_writer_close(gguf_writer *w, inf_error *err);
/* Abandons the file (removes it). NULL allowed. */
void gguf_writer_abort(gguf_writer *w);

#endif
