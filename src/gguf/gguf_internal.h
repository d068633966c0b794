/* gguf_internal.h: the reader's in-memory layout and the name index shared by the
 * files of src/gguf/ (reader, queries, writer). Not part of the public contract. */
#ifndef INFERD_GGUF_INTERNAL_H
#define INFERD_GGUF_INTERNAL_H

#include <stdint.h>

#include "gguf/gguf.h"

/* Arrays may nest (an array of arrays of ...); real files use one level at most.
 * The cap keeps recursion, and so stack use, bounded on hostile input. */
#define GGUF_MAX_NESTING 8

/* Open-addressing hash index from names to positions in a caller's array.
 * slots[h] holds position + 1, 0 = empty; capacity is a power of two >= 2 n. */
typedef struct gguf_index {
    int64_t *slots;
    uint64_t mask;
} gguf_index;

/* How the index reads the name of entry i of the array it indexes. */
typedef const char *(*gguf_index_name_fn)(const void *ctx, int64_t i);

/* Builds an index over n names. On a duplicate name returns INF_ERR_FORMAT with
 * *dup_first / *dup_second set to the two positions (nothing else reported);
 * INF_ERR_NOMEM when allocation fails. ix is zeroed on failure. */
int gguf_index_build(gguf_index *ix, int64_t n, gguf_index_name_fn name, const void *ctx,
                     int64_t *dup_first, int64_t *dup_second);
/* Position of name, or -1. */
int64_t gguf_index_find(const gguf_index *ix, const char *name, gguf_index_name_fn name_of,
                        const void *ctx);
void gguf_index_free(gguf_index *ix);

/* Bytes of a tensor of the given type and shape (unused dims = 1). INF_OK, or
 * INF_ERR_FORMAT with *why saying what is wrong (unknown type id, a dimension
 * <= 0, overflow, ne[0] not a whole number of blocks). */
int gguf_tensor_nbytes(uint32_t type, const int64_t ne[GGUF_MAX_DIMS], uint64_t *nbytes,
                       const char **why);

struct gguf_file {
    const uint8_t *base;     /* start of the file bytes */
    uint64_t size;           /* bytes in the file */
    void *map;               /* our mmap, or NULL for gguf_open_memory */
    size_t map_len;

    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;

    int64_t n_kv;
    char **keys;             /* (n_kv) NUL-terminated, into names */
    gguf_value *values;      /* (n_kv) */
    gguf_value *items;       /* decoded elements of string / nested arrays */
    char *names;             /* keys then tensor names, each NUL-terminated */

    int64_t n_tensors;
    gguf_tensor *tensors;    /* (n_tensors) */

    gguf_index kv_index;
    gguf_index tensor_index;
};

#endif
