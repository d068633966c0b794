/* arena.c: the bump allocator of arena.h. */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

int inf_arena_init(inf_arena *a, size_t cap, inf_error *err)
{
    memset(a, 0, sizeof *a);
    size_t rounded = (cap + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (rounded < cap) return inf_errorf(err, INF_ERR_NOMEM, "arena of %zu bytes", cap);
    if (rounded == 0) rounded = ARENA_ALIGN;
    void *p = aligned_alloc(ARENA_ALIGN, rounded);
    if (!p) return inf_errorf(err, INF_ERR_NOMEM, "arena of %zu bytes", cap);
    a->base = p;
    a->cap = rounded;
    return INF_OK;
}

void inf_arena_free(inf_arena *a)
{
    if (!a) return;
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *inf_arena_alloc(inf_arena *a, size_t n, size_t align)
{
    INF_ASSERT(align > 0 && (align & (align - 1)) == 0 && align <= ARENA_ALIGN);
    size_t start = (a->used + align - 1) & ~(align - 1);
    if (start > a->cap || n > a->cap - start) return NULL;
    a->used = start + n;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + start;
}

void *inf_arena_calloc(inf_arena *a, size_t count, size_t size, size_t align)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = inf_arena_alloc(a, count * size, align);
    if (p) memset(p, 0, count * size);
    return p;
}
