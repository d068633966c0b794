/* report.h: what a benchmark run leaves behind.
 *
 * Markdown in the layout of the report inferd grew from (configuration, then
 * per phase an aggregate line, the metric table with avg/p50/p95/p99 and the
 * per-request detail table, plus an errors table when requests failed; the
 * prefix-cache tables; a throughput-versus-concurrency table), JSON with every
 * raw figure (docs/bench.md describes its fields), and an SVG chart. Each
 * returns 0 or an error (INF_ERR_IO when the file cannot be written,
 * INF_ERR_NOMEM). One thread. */
#ifndef INFERD_BENCH_REPORT_H
#define INFERD_BENCH_REPORT_H

#include <stdio.h>

#include "bench/bench.h"
#include "core/error.h"

int bench_report_md(const bench_run *r, FILE *out, inf_error *err);
int bench_report_json(const bench_run *r, const char *path, inf_error *err);
int bench_report_svg(const bench_run *r, const char *path, inf_error *err);

/* x with `decimals` digits and thousands separators ("1,184", "23.1"); "-"
 * for NaN or infinity. Returns buf. */
char *bench_fmt(char *buf, size_t cap, double x, int decimals);

/* One prefix-cache pair of phase 3: the prompt sent twice. */
typedef struct bench_prefix_pair {
    const bench_sample *first, *second;
    double speedup;               /* TTFT 1st / TTFT 2nd; NaN when either failed */
} bench_prefix_pair;

/* The pairs of a prefix phase (samples 2i and 2i+1); returns how many (<= cap). */
size_t bench_prefix_pairs(const bench_phase *ph, bench_prefix_pair *out, size_t cap);

#endif
