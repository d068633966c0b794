/* sample.c: derived per-request figures (definitions in sample.h). */
#include "bench/sample.h"

#include <math.h>
#include <stdlib.h>

const char *bench_fail_name(bench_fail f)
{
    static const char *const names[BENCH_FAIL_COUNT] = {
        "ok", "connect", "timeout", "http", "malformed chunk", "error in stream",
        "truncated", "empty response", "transport",
    };
    return (unsigned)f < BENCH_FAIL_COUNT ? names[f] : "unknown";
}

void bench_sample_clear(bench_sample *s)
{
    if (!s) return;
    free(s->itl);
    free(s->message);
    s->itl = NULL;
    s->message = NULL;
    s->n_itl = 0;
}

static bool usable(const bench_sample *s) { return s->fail == BENCH_FAIL_NONE && isfinite(s->ttft); }

double bench_sample_prefill_tps(const bench_sample *s)
{
    if (!usable(s) || s->prompt_tokens < 0 || s->ttft <= 0) return NAN;
    return (double)s->prompt_tokens / s->ttft;
}

double bench_sample_decode_tps(const bench_sample *s)
{
    double d = s->latency - s->ttft;
    if (!usable(s) || !(d > 0)) return NAN;
    return (double)s->completion_tokens / d;
}

double bench_sample_overall_tps(const bench_sample *s)
{
    if (!usable(s) || !(s->latency > 0)) return NAN;
    return (double)s->completion_tokens / s->latency;
}

double bench_sample_tpot(const bench_sample *s)
{
    if (!usable(s) || s->completion_tokens < 2) return NAN;
    return (s->latency - s->ttft) / (double)(s->completion_tokens - 1);
}
