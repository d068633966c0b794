/* stats.c: percentiles and summaries of stats.h. */
#include "bench/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double bench_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0 || !(p >= 0.0 && p <= 100.0)) return NAN;
    double r = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(r);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = r - (double)lo;
    /* numpy's lerp form: exact at both ends, so p=0 and p=100 give min and max. */
    double a = sorted[lo], b = sorted[hi], d = b - a;
    return frac >= 0.5 ? b - d * (1.0 - frac) : a + d * frac;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int bench_summarize(const double *x, size_t n, bench_summary *out, inf_error *err)
{
    memset(out, 0, sizeof *out);
    out->avg = out->p50 = out->p95 = out->p99 = NAN;
    out->min = out->max = out->stdev = NAN;
    double *s = n ? malloc(n * sizeof *s) : NULL;
    if (n && !s) return inf_errorf(err, INF_ERR_NOMEM, "statistics: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) s[m++] = x[i];
    if (m) {
        qsort(s, m, sizeof *s, cmp_double);
        double sum = 0.0;
        for (size_t i = 0; i < m; i++) sum += s[i];
        double avg = sum / (double)m, ss = 0.0;
        for (size_t i = 0; i < m; i++) ss += (s[i] - avg) * (s[i] - avg);
        out->n = m;
        out->avg = avg;
        out->stdev = sqrt(ss / (double)m);
        out->min = s[0];
        out->max = s[m - 1];
        out->p50 = bench_percentile(s, m, 50.0);
        out->p95 = bench_percentile(s, m, 95.0);
        out->p99 = bench_percentile(s, m, 99.0);
    }
    free(s);
    return 0;
}
