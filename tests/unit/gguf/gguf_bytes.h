/* gguf_bytes.h: builds GGUF files byte by byte in the unit tests, so that every
 * malformation can be written exactly where it belongs (no writer in the way).
 * A growing buffer; allocation failure aborts the test, which is fine here. */
#ifndef INFERD_TESTS_GGUF_BYTES_H
#define INFERD_TESTS_GGUF_BYTES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static inline void by_put(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static inline void by_u8(bytes *b, uint8_t v) { by_put(b, &v, 1); }
static inline void by_u32(bytes *b, uint32_t v) { by_put(b, &v, 4); }
static inline void by_u64(bytes *b, uint64_t v) { by_put(b, &v, 8); }
static inline void by_f32(bytes *b, float v) { by_put(b, &v, 4); }

static inline void by_str(bytes *b, const char *s)
{
    by_u64(b, strlen(s));
    by_put(b, s, strlen(s));
}

static inline void by_zeros(bytes *b, size_t n)
{
    for (size_t i = 0; i < n; i++) by_u8(b, 0);
}

static inline void by_pad(bytes *b, size_t align)
{
    while (b->n % align) by_u8(b, 0);
}

/* "GGUF", version, counts. */
static inline void by_header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    by_put(b, "GGUF", 4);
    by_u32(b, version);
    by_u64(b, n_tensors);
    by_u64(b, n_kv);
}

/* One tensor info: name, dims, type, offset. */
static inline void by_tensor(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                             uint32_t type, uint64_t offset)
{
    by_str(b, name);
    by_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) by_u64(b, ne[i]);
    by_u32(b, type);
    by_u64(b, offset);
}

static inline void by_free(bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

#endif
