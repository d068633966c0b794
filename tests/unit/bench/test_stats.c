/* test_stats.c: percentiles with linear interpolation, checked by hand against
 * numpy.percentile's default method (values computed with numpy 2.4 and by the
 * formula r = p/100 * (n-1)); summaries skip NaN. tests/e2e/test_bench_e2e.py
 * also compares a whole report's figures with numpy. */
#include <math.h>

#include "bench/stats.h"
#include "check.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * (1.0 + fabs(b)); }

static void test_percentile(void)
{
    const double one[] = {7.0};
    CHECK(near(bench_percentile(one, 1, 0), 7.0));
    CHECK(near(bench_percentile(one, 1, 99), 7.0));
    CHECK(isnan(bench_percentile(one, 0, 50)));
    CHECK(isnan(bench_percentile(one, 1, 101)));
    CHECK(isnan(bench_percentile(one, 1, NAN)));

    /* np.percentile([1,2,3,4], [0,25,50,95,99,100]) = 1, 1.75, 2.5, 3.85, 3.97, 4 */
    const double x4[] = {1, 2, 3, 4};
    CHECK(near(bench_percentile(x4, 4, 0), 1.0));
    CHECK(near(bench_percentile(x4, 4, 25), 1.75));
    CHECK(near(bench_percentile(x4, 4, 50), 2.5));
    CHECK(near(bench_percentile(x4, 4, 95), 3.85));
    CHECK(near(bench_percentile(x4, 4, 99), 3.97));
    CHECK(near(bench_percentile(x4, 4, 100), 4.0));

    /* The sequential TTFTs of the original report (ms), sorted:
     * np.percentile(..., [50, 95, 99]) = 990, 1183.95, 1194.39: the report printed 990, 1,184, 1,194 */
    const double ttft[] = {555, 600, 660, 663, 967, 1013, 1081, 1160, 1168, 1197};
    CHECK(near(bench_percentile(ttft, 10, 50), 990.0));
    CHECK(near(bench_percentile(ttft, 10, 95), 1183.95));
    CHECK(near(bench_percentile(ttft, 10, 99), 1194.39));
}

static void test_summary(void)
{
    const double x[] = {3, NAN, 1, 2, INFINITY, 4};
    bench_summary s;
    inf_error e;
    CHECK(bench_summarize(x, 6, &s, &e) == 0);
    CHECK_EQ_INT(s.n, 4);
    CHECK(near(s.avg, 2.5));
    CHECK(near(s.p50, 2.5));
    CHECK(near(s.p95, 3.85));
    CHECK(near(s.min, 1.0));
    CHECK(near(s.max, 4.0));
    CHECK(near(s.stdev, sqrt(1.25)));
    CHECK(x[0] == 3 && x[2] == 1); /* the input is left as it was */

    CHECK(bench_summarize(NULL, 0, &s, &e) == 0);
    CHECK_EQ_INT(s.n, 0);
    CHECK(isnan(s.avg) && isnan(s.p99));
    const double none[] = {NAN, NAN};
    CHECK(bench_summarize(none, 2, &s, &e) == 0);
    CHECK_EQ_INT(s.n, 0);
}

int main(void)
{
    test_percentile();
    test_summary();
    return check_done();
}
