/* test_arena.c: bump allocation, alignment, exhaustion, marks, reset. */
#include <stdint.h>

#include "check.h"
#include "core/arena.h"

int main(void)
{
    inf_arena a;
    CHECK(inf_arena_init(&a, 1000, NULL) == 0);
    CHECK_EQ_INT(a.cap, 1024);
    uint8_t *p = inf_arena_alloc(&a, 3, 1);
    uint32_t *q = inf_arena_alloc(&a, 8, 4);
    double *r = inf_arena_alloc(&a, 16, 64);
    CHECK(p == a.base && (uint8_t *)q == a.base + 4 && (uint8_t *)r == a.base + 64);
    CHECK(((uintptr_t)r & 63) == 0);
    size_t mark = inf_arena_mark(&a);
    CHECK(inf_arena_alloc(&a, 2000, 1) == NULL);        /* does not fit: nothing changes */
    CHECK_EQ_INT(inf_arena_mark(&a), mark);
    CHECK(inf_arena_alloc(&a, SIZE_MAX - 8, 1) == NULL); /* no overflow */
    CHECK(inf_arena_calloc(&a, SIZE_MAX / 2, 4, 4) == NULL);
    uint8_t *s = inf_arena_alloc(&a, 1024 - 80, 16);
    CHECK(s != NULL && inf_arena_alloc(&a, 1, 1) == NULL); /* exactly full */
    inf_arena_release(&a, mark);
    CHECK_EQ_INT(a.used, 80);
    int *z = inf_arena_calloc(&a, 10, sizeof(int), 4);
    int zeros = 0;
    for (int i = 0; z && i < 10; i++) zeros += z[i] == 0;
    CHECK_EQ_INT(zeros, 10);
    CHECK_EQ_INT(a.peak, 1024);
    inf_arena_reset(&a);
    CHECK(inf_arena_alloc(&a, 1, 1) == a.base);
    inf_arena_free(&a);
    inf_arena_free(&a);
    inf_arena_free(NULL);
    return check_done();
}
