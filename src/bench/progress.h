/* progress.h: what `inferd bench` shows on stderr while it runs.
 *
 * On a terminal: one bar per phase, redrawn in place (requests done, failed,
 * tokens/s so far, elapsed). Elsewhere (a log, a pipe): one plain line per
 * finished request, so logs stay readable. Matches bench_progress_fn. */
#ifndef INFERD_BENCH_PROGRESS_H
#define INFERD_BENCH_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bench/sample.h"

typedef struct bench_progress {
    FILE *out;
    bool tty, quiet;
    char phase[48];
    size_t failed;
    long tokens;
    bool drawn;       /* a bar is on the current line */
} bench_progress;

/* Starts a phase called name (a copy is kept). */
void bench_progress_begin(bench_progress *p, const char *name);

/* The driver's callback (ud is the bench_progress). */
void bench_progress_update(void *ud, const bench_sample *s, size_t done, size_t total,
                           double elapsed_s);

/* Ends the phase's bar with a newline (terminal only). */
void bench_progress_end(bench_progress *p);

#endif
