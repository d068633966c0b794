/* summary.h: the figures of one phase, as the report tables show them.
 *
 * Aggregate throughput = completion tokens of the successful requests / phase
 * wall time; requests/s = successful requests / wall time. Each metric is
 * summarised over the successful requests that define it (sample.h); ITL pools
 * the gaps of every request. Failed requests are grouped by kind (and HTTP
 * status) for the errors table. Pure functions, any thread. */
#ifndef INFERD_BENCH_SUMMARY_H
#define INFERD_BENCH_SUMMARY_H

#include <stddef.h>

#include "bench/bench.h"
#include "bench/stats.h"

typedef struct bench_phase_summary {
    size_t n, n_ok, n_failed;
    size_t n_no_usage;            /* ok requests whose counts are content chunks */
    long prompt_tokens;           /* sum over ok requests that report them */
    long completion_tokens;       /* sum over ok requests */
    double wall_s;
    double throughput;            /* completion tokens / s */
    double rps;                   /* successful requests / s */
    bench_summary ttft_ms, overall, prefill, decode, tpot_ms, itl_ms, latency_s;
} bench_phase_summary;

/* Fills *out for ph. Returns 0 or INF_ERR_NOMEM. */
int bench_phase_summarize(const bench_phase *ph, bench_phase_summary *out, inf_error *err);

typedef struct bench_error_row {
    bench_fail fail;
    long http_status;             /* for BENCH_FAIL_HTTP; 0 otherwise */
    size_t count;
    const char *example;          /* the first message of the group (borrowed from ph) */
} bench_error_row;

/* Groups the failed requests of ph, in order of first appearance, into at most
 * cap rows (when there are more groups, the last row counts the rest too);
 * returns the number of rows written. */
size_t bench_phase_errors(const bench_phase *ph, bench_error_row *rows, size_t cap);

#endif
