/* summary.c: per-phase aggregates (summary.h). */
#include "bench/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int bench_phase_summarize(const bench_phase *ph, bench_phase_summary *out, inf_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = ph->n, n_itl = 0;
    for (size_t i = 0; i < n; i++) n_itl += ph->samples[i].n_itl;
    double *v = malloc((n ? n : 1) * 7 * sizeof *v);
    double *itl = malloc((n_itl ? n_itl : 1) * sizeof *itl);
    int rc = 0;
    if (!v || !itl) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "statistics: out of memory");
        goto out;
    }
    double *ttft = v, *ov = v + n, *pf = v + 2 * n, *dc = v + 3 * n, *tp = v + 4 * n,
           *lat = v + 5 * n;
    size_t k = 0;
    out->n = n;
    out->wall_s = ph->wall_s;
    for (size_t i = 0; i < n; i++) {
        const bench_sample *s = &ph->samples[i];
        bool ok = s->fail == BENCH_FAIL_NONE;
        ttft[i] = ov[i] = pf[i] = dc[i] = tp[i] = lat[i] = NAN;
        if (!ok) {
            out->n_failed++;
            continue;
        }
        out->n_ok++;
        if (!s->usage) out->n_no_usage++;
        if (s->prompt_tokens > 0) out->prompt_tokens += s->prompt_tokens;
        out->completion_tokens += s->completion_tokens;
        ttft[i] = s->ttft * 1000.0;
        ov[i] = bench_sample_overall_tps(s);
        pf[i] = bench_sample_prefill_tps(s);
        dc[i] = bench_sample_decode_tps(s);
        tp[i] = bench_sample_tpot(s) * 1000.0;
        lat[i] = s->latency;
        for (size_t j = 0; j < s->n_itl; j++) itl[k++] = s->itl[j] * 1000.0;
    }
    out->throughput = ph->wall_s > 0 ? (double)out->completion_tokens / ph->wall_s : NAN;
    out->rps = ph->wall_s > 0 ? (double)out->n_ok / ph->wall_s : NAN;
    if ((rc = bench_summarize(ttft, n, &out->ttft_ms, err)) ||
        (rc = bench_summarize(ov, n, &out->overall, err)) ||
        (rc = bench_summarize(pf, n, &out->prefill, err)) ||
        (rc = bench_summarize(dc, n, &out->decode, err)) ||
        (rc = bench_summarize(tp, n, &out->tpot_ms, err)) ||
        (rc = bench_summarize(lat, n, &out->latency_s, err)) ||
        (rc = bench_summarize(itl, k, &out->itl_ms, err)))
        goto out;
out:
    free(v);
    free(itl);
    return rc;
}

size_t bench_phase_errors(const bench_phase *ph, bench_error_row *rows, size_t cap)
{
    size_t ng = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < ph->n; i++) {
        const bench_sample *s = &ph->samples[i];
        if (s->fail == BENCH_FAIL_NONE) continue;
        long st = s->fail == BENCH_FAIL_HTTP ? s->http_status : 0;
        /* Groups are few: a linear search over those already kept is enough. */
        size_t g = 0;
        while (g < ng && !(rows[g].fail == s->fail && rows[g].http_status == st)) g++;
        if (g == ng && ng == cap) g = cap - 1; /* out of rows: the last one takes the rest */
        if (g == ng) rows[ng++] = (bench_error_row){s->fail, st, 0, s->message ? s->message : ""};
        rows[g].count++;
    }
    return ng;
}
