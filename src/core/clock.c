/* clock.c: see clock.h. */
#include "core/clock.h"

#include <time.h>

uint64_t inf_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double inf_clock_s(void) { return (double)inf_clock_ns() * 1e-9; }

int64_t inf_clock_unix(void) { return (int64_t)time(NULL); }
