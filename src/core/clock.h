/* clock.h: monotonic time for measurements and deadlines. */
#ifndef INFERD_CORE_CLOCK_H
#define INFERD_CORE_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds since an arbitrary origin. Any thread. */
uint64_t inf_clock_ns(void);

/* Monotonic seconds as a double (for rates and reports). Any thread. */
double inf_clock_s(void);

/* Wall-clock seconds since the Unix epoch (for "created" fields). */
int64_t inf_clock_unix(void);

#endif
