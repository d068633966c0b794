/* report_json.c: the JSON report (report.h): the configuration, the prompt
 * set, and per phase its summary, its error groups and every request's raw
 * figures. Undefined figures are null (JSON has no NaN). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bench/report.h"
#include "bench/summary.h"

#define MAX_ERR_ROWS 32
#define MAX_PAIRS 16

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static json_t *count(long x) { return x >= 0 ? json_integer(x) : json_null(); }

static json_t *summary_json(const bench_summary *s)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "n", (json_int_t)s->n, "avg",
                     num(s->avg), "p50", num(s->p50), "p95", num(s->p95), "p99", num(s->p99),
                     "min", num(s->min), "max", num(s->max), "stdev", num(s->stdev));
}

static json_t *sample_json(const bench_sample *s, size_t i)
{
    json_t *itl = json_array();
    for (size_t k = 0; itl && k < s->n_itl; k++) json_array_append_new(itl, json_real(s->itl[k]));
    json_t *error = s->fail == BENCH_FAIL_NONE
                        ? json_null()
                        : json_pack("{s:s, s:I, s:s}", "kind", bench_fail_name(s->fail),
                                    "http_status", (json_int_t)s->http_status, "message",
                                    s->message ? s->message : "");
    json_t *o = json_pack(
        "{s:I, s:I, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:I, s:I, s:o, s:s, s:o, "
        "s:o, s:o, s:o, s:I, s:o}",
        "index", (json_int_t)i, "prompt", (json_int_t)s->prompt, "label", s->label, "system",
        s->system, "ok", s->fail == BENCH_FAIL_NONE, "t_sched_s", num(s->t_sched), "t_send_s",
        num(s->t_send), "ttft_s", num(s->ttft), "latency_s", num(s->latency), "prompt_tokens",
        count(s->prompt_tokens), "completion_tokens",
        s->fail == BENCH_FAIL_NONE ? json_integer(s->completion_tokens) : json_null(), "usage",
        s->usage, "content_chunks", (json_int_t)s->n_chunks, "http_status",
        (json_int_t)s->http_status, "itl_s", itl ? itl : json_null(), "finish_reason",
        s->finish_reason, "prefill_tok_s", num(bench_sample_prefill_tps(s)), "decode_tok_s",
        num(bench_sample_decode_tps(s)), "overall_tok_s", num(bench_sample_overall_tps(s)),
        "tpot_s", num(bench_sample_tpot(s)), "malformed_chunks", (json_int_t)s->n_malformed,
        "error", error ? error : json_null());
    return o;
}

static json_t *phase_json(const bench_phase *ph, inf_error *err)
{
    bench_phase_summary s;
    if (bench_phase_summarize(ph, &s, err)) return NULL;
    char name[48];
    bench_phase_name(ph, name, sizeof name);
    static const char *const kinds[] = {"sequential", "concurrent", "prefix", "prefix_system",
                                        "open_loop"};
    json_t *reqs = json_array(), *errs = json_array();
    for (size_t i = 0; reqs && i < ph->n; i++)
        json_array_append_new(reqs, sample_json(&ph->samples[i], i));
    bench_error_row rows[MAX_ERR_ROWS];
    size_t ne = bench_phase_errors(ph, rows, MAX_ERR_ROWS);
    for (size_t i = 0; errs && i < ne; i++)
        json_array_append_new(errs, json_pack("{s:s, s:I, s:I, s:s}", "kind",
                                              bench_fail_name(rows[i].fail), "http_status",
                                              (json_int_t)rows[i].http_status, "count",
                                              (json_int_t)rows[i].count, "message",
                                              rows[i].example));
    json_t *sum = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "requests", (json_int_t)s.n, "ok", (json_int_t)s.n_ok, "failed", (json_int_t)s.n_failed,
        "no_usage", (json_int_t)s.n_no_usage, "prompt_tokens", (json_int_t)s.prompt_tokens,
        "completion_tokens", (json_int_t)s.completion_tokens, "wall_s", num(s.wall_s),
        "throughput_tok_s", num(s.throughput), "requests_per_s", num(s.rps), "ttft_ms",
        summary_json(&s.ttft_ms), "overall_tok_s", summary_json(&s.overall), "prefill_tok_s",
        summary_json(&s.prefill), "decode_tok_s", summary_json(&s.decode), "tpot_ms",
        summary_json(&s.tpot_ms), "itl_ms", summary_json(&s.itl_ms), "latency_s",
        summary_json(&s.latency_s));
    json_t *o = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "name", name, "kind",
                          kinds[ph->kind], "concurrency", (json_int_t)ph->concurrency, "rate",
                          ph->kind == BENCH_OPEN ? num(ph->rate) : json_null(), "duration_s",
                          ph->kind == BENCH_OPEN ? num(ph->duration_s) : json_null(), "summary",
                          sum ? sum : json_null(), "errors", errs ? errs : json_null(),
                          "requests", reqs ? reqs : json_null());
    if (ph->kind == BENCH_PREFIX || ph->kind == BENCH_PREFIX_SYS) {
        bench_prefix_pair pairs[MAX_PAIRS];
        size_t np = bench_prefix_pairs(ph, pairs, MAX_PAIRS);
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < np; i++)
            json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:o}", "label",
                                                 pairs[i].first->label, "ttft1_ms",
                                                 num(pairs[i].first->ttft * 1000.0), "ttft2_ms",
                                                 num(pairs[i].second->ttft * 1000.0), "speedup",
                                                 num(pairs[i].speedup)));
        if (o) json_object_set_new(o, "pairs", arr ? arr : json_null());
    }
    return o;
}

int bench_report_json(const bench_run *r, const char *path, inf_error *err)
{
    int rc = 0;
    json_t *phases = json_array(), *prompts = json_array();
    json_t *root = NULL;
    if (!phases || !prompts) goto nomem;
    for (size_t i = 0; i < r->prompts.n; i++)
        if (json_array_append_new(prompts, json_pack("{s:s, s:O}", "label",
                                                     r->prompts.items[i].label, "messages",
                                                     r->prompts.items[i].messages)))
            goto nomem;
    for (size_t i = 0; i < r->n_phases; i++) {
        json_t *p = phase_json(&r->phases[i], err);
        if (!p) {
            rc = err && err->code ? err->code : INF_ERR_NOMEM;
            if (rc == INF_ERR_NOMEM) goto nomem;
            goto out;
        }
        if (json_array_append_new(phases, p)) goto nomem;
    }
    root = json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:i, s:f, s:f, s:s, s:I, s:I, s:s*}, s:O, s:O}",
                     "tool", "inferd bench", "format", 1, "config", "url", r->url, "model",
                     r->model, "date", r->date, "max_tokens", r->max_tokens, "temperature",
                     r->temperature, "timeout_s", r->timeout_s, "prompts", r->prompts_source,
                     "system_tokens", (json_int_t)r->system_tokens, "seed", (json_int_t)r->seed,
                     "system_prompt", r->system_sample, "prompt_set", prompts, "phases", phases);
    if (!root) goto nomem;
    if (json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(12))) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: cannot write the JSON report", path);
        goto out;
    }
    goto out;
nomem:
    rc = inf_errorf(err, INF_ERR_NOMEM, "JSON report: out of memory");
out:
    json_decref(root);
    json_decref(phases);
    json_decref(prompts);
    return rc;
}
