/* arena.h: bump allocation for per-step and per-request scratch.
 *
 * An arena is one block of memory reserved once (sized for the worst case at
 * start-up, STYLE.md "Memory"); allocations bump a pointer and are released all
 * together by inf_arena_reset, or back to a mark. It never grows: an allocation
 * that does not fit returns NULL, so that a budget overrun is an error the
 * caller reports, not a silent malloc in the step loop. Not thread-safe: one
 * arena per thread (or per request). */
#ifndef INFERD_CORE_ARENA_H
#define INFERD_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct inf_arena {
    uint8_t *base;   /* (cap) bytes, 64-byte aligned */
    size_t cap;
    size_t used;     /* bytes handed out since the last reset */
    size_t peak;     /* largest `used` seen: for sizing the arena from measurements */
} inf_arena;

/* Reserves cap bytes (rounded up to 64). INF_ERR_NOMEM on failure; a is then empty. */
int inf_arena_init(inf_arena *a, size_t cap, inf_error *err);

/* Frees the block. NULL allowed; a is left empty (init may be called again). */
void inf_arena_free(inf_arena *a);

/* n bytes aligned to align (a power of two, at most 64), or NULL when they do
 * not fit (nothing changes then). n = 0 returns a valid unique-enough pointer. */
void *inf_arena_alloc(inf_arena *a, size_t n, size_t align);

/* Zeroed variant of inf_arena_alloc for count elements of size bytes; NULL
 * on overflow or when they do not fit. */
void *inf_arena_calloc(inf_arena *a, size_t count, size_t size, size_t align);

/* Everything allocated becomes free again. */
static inline void inf_arena_reset(inf_arena *a)
{
    a->used = 0;
}

/* A position to come back to: everything allocated after the mark is freed by
 * inf_arena_release(a, mark); what came before stays. */
static inline size_t inf_arena_mark(const inf_arena *a)
{
    return a->used;
}

static inline void inf_arena_release(inf_arena *a, size_t mark)
{
    INF_ASSERT(mark <= a->used);
    a->used = mark;
}

#endif
