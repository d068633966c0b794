/* stats.h: summary statistics of a benchmark's samples.
 *
 * Percentiles use linear interpolation between closest ranks, the default
 * method of numpy.percentile: for sorted x[0..n-1] and p in [0, 100] the rank
 * is r = p/100 * (n-1) and the value x[floor r] + (x[ceil r] - x[floor r]) *
 * (r - floor r). Samples that are NaN (a figure a request could not give, such
 * as prefill tok/s without a prompt token count) are left out of every
 * statistic; n says how many remained. Pure functions, any thread. */
#ifndef INFERD_BENCH_STATS_H
#define INFERD_BENCH_STATS_H

#include <stddef.h>

#include "core/error.h"

typedef struct bench_summary {
    size_t n;                     /* finite samples summarised */
    double avg, p50, p95, p99;    /* NaN when n == 0 */
    double min, max, stdev;       /* stdev: population (divides by n) */
} bench_summary;

/* The p-th percentile (0..100) of x[0..n-1], which must be sorted ascending and
 * finite; NaN when n == 0 or p is outside [0, 100]. */
double bench_percentile(const double *sorted, size_t n, double p);

/* Summarises the finite values of x[0..n-1] (x may be NULL when n == 0). x is
 * not modified. Returns 0 or INF_ERR_NOMEM. */
int bench_summarize(const double *x, size_t n, bench_summary *out, inf_error *err);

#endif
