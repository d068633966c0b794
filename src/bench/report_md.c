/* report_md.c: the Markdown report (report.h), in the layout of the report
 * inferd grew from: ## per phase, an **Aggregate** line, the metric table, the
 * per-request detail table; then phase 3's prefix-cache tables. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/report.h"
#include "bench/summary.h"

#define MAX_ERR_ROWS 32
#define MAX_PAIRS 16

/* A label safe inside a table cell ("|" escaped). */
static void put_label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

static void put_metric(FILE *f, const char *name, const bench_summary *s, int dec, bool bold)
{
    char a[32], b[32], c[32], d[32];
    const char *m = bold ? "**" : "";
    fprintf(f, "| %s%s%s | %s%s%s | %s%s%s | %s%s%s | %s%s%s |\n", m, name, m, m,
            bench_fmt(a, sizeof a, s->avg, dec), m, m, bench_fmt(b, sizeof b, s->p50, dec), m, m,
            bench_fmt(c, sizeof c, s->p95, dec), m, m, bench_fmt(d, sizeof d, s->p99, dec), m);
}

static void put_aggregate(FILE *f, const bench_phase_summary *s)
{
    char tp[32], rps[32];
    fprintf(f, "**Aggregate**: %zu requests", s->n);
    if (s->n_failed) fprintf(f, " (%zu failed)", s->n_failed);
    fprintf(f, ", %.1fs total, **%s tok/s** throughput, %s RPS\n\n", s->wall_s,
            bench_fmt(tp, sizeof tp, s->throughput, 1), bench_fmt(rps, sizeof rps, s->rps, 2));
}

static void put_metrics(FILE *f, const bench_phase_summary *s)
{
    fprintf(f, "| Metric | avg | p50 | p95 | p99 |\n|--------|-----|-----|-----|-----|\n");
    put_metric(f, "TTFT (ms)", &s->ttft_ms, 0, false);
    put_metric(f, "Overall Tok/s", &s->overall, 1, false);
    put_metric(f, "Prefill (tok/s)", &s->prefill, 1, true);
    put_metric(f, "Decode (tok/s)", &s->decode, 1, true);
    put_metric(f, "TPOT (ms)", &s->tpot_ms, 1, false);
    put_metric(f, "ITL (ms)", &s->itl_ms, 1, false);
    put_metric(f, "E2E latency (s)", &s->latency_s, 2, false);
    fputc('\n', f);
}

static void put_detail(FILE *f, const bench_phase *ph)
{
    char a[32], b[32], c[32], d[32];
    bool starred = false;
    fprintf(f, "### Per-Request Detail\n\n"
               "| # | TTFT(ms) | Prefill | Decode | Tokens | Time(s) | Prompt |\n"
               "|---|----------|---------|--------|--------|---------|--------|\n");
    for (size_t i = 0; i < ph->n; i++) {
        const bench_sample *s = &ph->samples[i];
        if (s->fail != BENCH_FAIL_NONE) {
            fprintf(f, "| %zu | - | - | - | - | %s | ", i, bench_fmt(d, sizeof d, s->latency, 2));
            put_label(f, s->label);
            fprintf(f, " (**failed**: %s) |\n", bench_fail_name(s->fail));
            continue;
        }
        starred |= !s->usage;
        fprintf(f, "| %zu | %s | %s | %s | %ld%s | %s | ", i,
                bench_fmt(a, sizeof a, s->ttft * 1000.0, 0),
                bench_fmt(b, sizeof b, bench_sample_prefill_tps(s), 1),
                bench_fmt(c, sizeof c, bench_sample_decode_tps(s), 1), s->completion_tokens,
                s->usage ? "" : "*", bench_fmt(d, sizeof d, s->latency, 2));
        put_label(f, s->label);
        fprintf(f, " |\n");
    }
    fputc('\n', f);
    if (starred)
        fprintf(f, "\\* The server sent no usage chunk: tokens are counted as content chunks and "
                   "prefill tok/s is unknown.\n\n");
}

static void put_errors(FILE *f, const bench_phase *ph)
{
    bench_error_row rows[MAX_ERR_ROWS];
    size_t n = bench_phase_errors(ph, rows, MAX_ERR_ROWS);
    if (!n) return;
    fprintf(f, "### Errors\n\n| Kind | Status | Count | First message |\n"
               "|------|--------|-------|---------------|\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| %s | ", bench_fail_name(rows[i].fail));
        if (rows[i].http_status) fprintf(f, "%ld", rows[i].http_status);
        else fputc('-', f);
        fprintf(f, " | %zu | ", rows[i].count);
        char msg[201];
        snprintf(msg, sizeof msg, "%s", rows[i].example);
        put_label(f, msg);
        fprintf(f, " |\n");
    }
    fputc('\n', f);
}

static void put_prefix(FILE *f, const bench_run *r, const bench_phase *ph)
{
    bench_prefix_pair pairs[MAX_PAIRS];
    size_t n = bench_prefix_pairs(ph, pairs, MAX_PAIRS);
    char a[32], b[32], c[32], t1[32], t2[32];
    if (ph->kind == BENCH_PREFIX_SYS)
        fprintf(f, "### With a shared system prompt (~%s tokens)\n\n",
                bench_fmt(c, sizeof c, (double)r->system_tokens, 0));
    else
        fprintf(f, "### Without a system prompt\n\n");
    fprintf(f, "| Prompt | 1st TTFT(ms) | 2nd TTFT(ms) | Speedup | Prompt tokens |\n"
               "|--------|-------------|-------------|---------|---------------|\n");
    for (size_t i = 0; i < n; i++) {
        const bench_prefix_pair *p = &pairs[i];
        fprintf(f, "| ");
        put_label(f, p->first->label);
        bool hit = p->speedup >= 1.1;
        fprintf(f, " | %s | %s | %s%sx%s | %s / %s |\n",
                p->first->fail ? "failed" : bench_fmt(a, sizeof a, p->first->ttft * 1000.0, 0),
                p->second->fail ? "failed" : bench_fmt(b, sizeof b, p->second->ttft * 1000.0, 0),
                hit ? "**" : "", bench_fmt(c, sizeof c, p->speedup, 2), hit ? "**" : "",
                bench_fmt(t1, sizeof t1, p->first->prompt_tokens >= 0 ?
                          (double)p->first->prompt_tokens : NAN, 0),
                bench_fmt(t2, sizeof t2, p->second->prompt_tokens >= 0 ?
                          (double)p->second->prompt_tokens : NAN, 0));
    }
    fputc('\n', f);
    put_errors(f, ph);
}

/* The throughput-versus-concurrency table over phase 1 and every phase-2 level. */
static int put_sweep(FILE *f, const bench_run *r, inf_error *err)
{
    size_t rows = 0;
    for (size_t i = 0; i < r->n_phases; i++)
        rows += r->phases[i].kind == BENCH_SEQ || r->phases[i].kind == BENCH_CONC;
    if (rows < 2) return 0;
    fprintf(f, "## Throughput vs Concurrency\n\n"
               "| Concurrency | Requests | Failed | Wall(s) | Throughput (tok/s) | RPS | "
               "TTFT p50 (ms) | TTFT p99 (ms) | Decode p50 (tok/s) |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (ph->kind != BENCH_SEQ && ph->kind != BENCH_CONC) continue;
        bench_phase_summary s;
        int rc = bench_phase_summarize(ph, &s, err);
        if (rc) return rc;
        char a[32], b[32], c[32], d[32], e[32];
        fprintf(f, "| %zu%s | %zu | %zu | %.1f | **%s** | %s | %s | %s | %s |\n", ph->concurrency,
                ph->kind == BENCH_SEQ ? " (seq)" : "", s.n, s.n_failed, s.wall_s,
                bench_fmt(a, sizeof a, s.throughput, 1), bench_fmt(b, sizeof b, s.rps, 2),
                bench_fmt(c, sizeof c, s.ttft_ms.p50, 0), bench_fmt(d, sizeof d, s.ttft_ms.p99, 0),
                bench_fmt(e, sizeof e, s.decode.p50, 1));
    }
    fputc('\n', f);
    return 0;
}

static void put_config(FILE *f, const bench_run *r)
{
    char a[32];
    fprintf(f, "# inferd bench: %s\n\n**Date**: %s\n**Server**: %s\n"
               "**Client**: inferd bench (libcurl, streaming chat completions)\n\n",
            r->model, r->date, r->url);
    fprintf(f, "## Configuration\n\n| Setting | Value |\n|---------|-------|\n");
    fprintf(f, "| Model | %s |\n| Max Output Tokens | %d |\n| Temperature | %g |\n", r->model,
            r->max_tokens, r->temperature);
    fprintf(f, "| Prompts | ");
    put_label(f, r->prompts_source);
    fprintf(f, " (%zu requests) |\n", r->prompts.n);
    fprintf(f, "| Shared system prompt (phase 3) | ~%s tokens |\n",
            bench_fmt(a, sizeof a, (double)r->system_tokens, 0));
    fprintf(f, "| Request timeout | %g s |\n\n", r->timeout_s);
}

/* Generated one-line observations: the figures a reader looks for first. */
static int put_observations(FILE *f, const bench_run *r, inf_error *err)
{
    const bench_phase *seq = NULL, *conc = NULL;
    size_t n_failed = 0, n_req = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (ph->kind == BENCH_SEQ) seq = ph;
        if (ph->kind == BENCH_CONC && (!conc || ph->concurrency > conc->concurrency)) conc = ph;
        for (size_t k = 0; k < ph->n; k++) n_failed += ph->samples[k].fail != BENCH_FAIL_NONE;
        n_req += ph->n;
    }
    bench_phase_summary s1, s2;
    int rc = 0, k = 1;
    char a[32], b[32], c[32];
    if (seq && (rc = bench_phase_summarize(seq, &s1, err))) return rc;
    if (conc && (rc = bench_phase_summarize(conc, &s2, err))) return rc;
    fprintf(f, "## Key Observations\n\n");
    if (seq) {
        fprintf(f, "%d. **Decode throughput**: avg %s tok/s sequential (peak %s)", k++,
                bench_fmt(a, sizeof a, s1.decode.avg, 1), bench_fmt(b, sizeof b, s1.decode.max, 1));
        if (conc) fprintf(f, ", %s tok/s per request at c=%zu", bench_fmt(c, sizeof c,
                                                                          s2.decode.avg, 1),
                          conc->concurrency);
        fprintf(f, "\n%d. **Prefill throughput**: avg %s tok/s sequential\n", k++,
                bench_fmt(a, sizeof a, s1.prefill.avg, 1));
        fprintf(f, "%d. **TTFT**: avg %s ms sequential", k++,
                bench_fmt(a, sizeof a, s1.ttft_ms.avg, 0));
        if (conc) fprintf(f, ", %s ms at c=%zu", bench_fmt(b, sizeof b, s2.ttft_ms.avg, 0),
                          conc->concurrency);
        fputc('\n', f);
        if (conc)
            fprintf(f, "%d. **Aggregate throughput**: %s tok/s (seq) -> %s tok/s (c=%zu), %sx\n",
                    k++, bench_fmt(a, sizeof a, s1.throughput, 1),
                    bench_fmt(b, sizeof b, s2.throughput, 1), conc->concurrency,
                    bench_fmt(c, sizeof c, s2.throughput / s1.throughput, 2));
    }
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (ph->kind != BENCH_PREFIX && ph->kind != BENCH_PREFIX_SYS) continue;
        bench_prefix_pair pairs[MAX_PAIRS];
        size_t n = bench_prefix_pairs(ph, pairs, MAX_PAIRS);
        fprintf(f, "%d. **Prefix cache%s**: TTFT speedup", k++,
                ph->kind == BENCH_PREFIX_SYS ? " (long system prompt)" : "");
        for (size_t j = 0; j < n; j++)
            fprintf(f, "%s %sx", j ? "," : "", bench_fmt(a, sizeof a, pairs[j].speedup, 2));
        fputc('\n', f);
    }
    fprintf(f, "%d. **Errors**: %zu of %zu requests failed\n\n", k, n_failed, n_req);
    return 0;
}

int bench_report_md(const bench_run *r, FILE *f, inf_error *err)
{
    int rc = 0;
    bool prefix_title = false, swept = false;
    put_config(f, r);
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        bench_phase_summary s;
        /* The sweep table closes phases 1 and 2, before what follows them. */
        if (!swept && ph->kind != BENCH_SEQ && ph->kind != BENCH_CONC) {
            swept = true;
            if ((rc = put_sweep(f, r, err))) return rc;
        }
        if (ph->kind == BENCH_PREFIX || ph->kind == BENCH_PREFIX_SYS) {
            if (!prefix_title) fprintf(f, "## Phase 3: Prefix Cache Test\n\n");
            prefix_title = true;
            put_prefix(f, r, ph);
            continue;
        }
        if ((rc = bench_phase_summarize(ph, &s, err))) return rc;
        if (ph->kind == BENCH_SEQ)
            fprintf(f, "## Phase 1: Sequential (concurrency=1)\n\n");
        else if (ph->kind == BENCH_CONC)
            fprintf(f, "## Phase 2: Concurrent (concurrency=%zu)\n\n", ph->concurrency);
        else if (ph->concurrency)
            fprintf(f, "## Open-Loop Load (Poisson arrivals, %g req/s for %g s, at most %zu in "
                       "flight)\n\n", ph->rate, ph->duration_s, ph->concurrency);
        else
            fprintf(f, "## Open-Loop Load (Poisson arrivals, %g req/s for %g s)\n\n", ph->rate,
                    ph->duration_s);
        if (ph->kind == BENCH_OPEN)
            fprintf(f, "Offered %g req/s; issued %zu requests (%.2f req/s over %g s, seed %llu).\n\n",
                    ph->rate, ph->n, ph->duration_s > 0 ? (double)ph->n / ph->duration_s : 0.0,
                    ph->duration_s, (unsigned long long)r->seed);
        put_aggregate(f, &s);
        put_metrics(f, &s);
        put_detail(f, ph);
        put_errors(f, ph);
    }
    if (!swept && (rc = put_sweep(f, r, err))) return rc;
    if ((rc = put_observations(f, r, err))) return rc;
    fflush(f);
    if (ferror(f)) return inf_errorf(err, INF_ERR_IO, "cannot write the Markdown report");
    return 0;
}
