/* run.c: the phases of a benchmark run (bench.h): jobs for each phase, handed
 * to the driver one phase after another. */
#include "bench/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/endpoint.h"
#include "bench/progress.h"
#include "core/clock.h"

#define MAX_OPEN_JOBS ((size_t)1 << 20)  /* bound of --rate x --duration */

void bench_opts_default(bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->phases = BENCH_PHASE_SEQ | BENCH_PHASE_CONC | BENCH_PHASE_PREFIX;
    o->levels[0] = 4;
    o->n_levels = 1;
    o->max_tokens = 256;
    o->temperature = 0.0;
    o->timeout_s = 300.0;
    o->seed = 1;
    o->system_tokens = 1000;
    o->prefix_prompts = 3;
}

void bench_phase_name(const bench_phase *ph, char *buf, size_t cap)
{
    switch (ph->kind) {
    case BENCH_SEQ: snprintf(buf, cap, "seq"); break;
    case BENCH_CONC: snprintf(buf, cap, "c=%zu", ph->concurrency); break;
    case BENCH_PREFIX: snprintf(buf, cap, "prefix"); break;
    case BENCH_PREFIX_SYS: snprintf(buf, cap, "prefix+system"); break;
    case BENCH_OPEN: snprintf(buf, cap, "open %g/s", ph->rate); break;
    }
}

void bench_run_free(bench_run *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_phases; i++) {
        for (size_t k = 0; k < r->phases[i].n; k++) bench_sample_clear(&r->phases[i].samples[k]);
        free(r->phases[i].samples);
    }
    free(r->phases);
    free(r->url);
    free(r->model);
    free(r->system_sample);
    bench_prompts_free(&r->prompts);
    memset(r, 0, sizeof *r);
}

/* splitmix64: a small, well-mixed generator, so that a seed gives the same
 * arrival times on every platform. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t bench_poisson_times(double rate, double duration_s, uint64_t seed, double *t, size_t cap)
{
    uint64_t st = seed;
    size_t n = 0;
    double x = 0.0;
    if (!(rate > 0) || !(duration_s > 0)) return 0;
    while (x < duration_s) {
        if (n < cap) t[n] = x;
        n++;
        if (n > MAX_OPEN_JOBS) break;
        /* u in (0, 1]: 53 random bits, never 0, so the log is finite. */
        double u = ((double)(splitmix64(&st) >> 11) + 1.0) * 0x1.0p-53;
        x += -log(u) / rate;
    }
    return n;
}

/* Appends an empty phase; returns it or NULL when out of memory. */
static bench_phase *add_phase(bench_run *r, bench_phase_kind kind, size_t n)
{
    bench_phase *np = realloc(r->phases, (r->n_phases + 1) * sizeof *np);
    if (!np) return NULL;
    r->phases = np;
    bench_phase *ph = &np[r->n_phases];
    memset(ph, 0, sizeof *ph);
    ph->kind = kind;
    ph->samples = calloc(n ? n : 1, sizeof *ph->samples);
    if (!ph->samples) return NULL;
    ph->n = n;
    r->n_phases++;
    return ph;
}

static int run_phase(const bench_opts *o, const bench_target *t, bench_run *r,
                     bench_phase_kind kind, size_t cap, const bench_job *jobs, size_t n,
                     bench_progress *pg, inf_error *err)
{
    bench_phase *ph = add_phase(r, kind, n);
    if (!ph) return inf_errorf(err, INF_ERR_NOMEM, "bench: out of memory");
    ph->concurrency = cap;
    if (kind == BENCH_OPEN) {
        ph->rate = o->rate;
        ph->duration_s = o->duration_s;
    }
    char name[48];
    bench_phase_name(ph, name, sizeof name);
    bench_progress_begin(pg, name);
    int rc = bench_drive(t, &r->prompts, jobs, n, cap, ph->samples, &ph->wall_s,
                         bench_progress_update, pg, err);
    bench_progress_end(pg);
    return rc;
}

/* Phase 3: each of the first prompts twice in a row, at concurrency 1. With a
 * system prompt, each pair gets its own first line (a tag naming this run and
 * the pair), so that the first request of a pair is a cold prefix even when the
 * server has seen an earlier run or the previous pair. */
static int run_prefix(const bench_opts *o, const bench_target *t, bench_run *r, bool with_system,
                      bench_progress *pg, inf_error *err)
{
    size_t np = o->prefix_prompts < r->prompts.n ? o->prefix_prompts : r->prompts.n;
    bench_job jobs[2 * 16];
    char *sys[16] = {0};
    int rc = 0;
    if (np > 16) np = 16;
    uint64_t nonce = inf_clock_ns() ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < np; i++) {
        if (with_system) {
            char tag[96];
            snprintf(tag, sizeof tag, "[benchmark run %08llx, pair %zu]",
                     (unsigned long long)(splitmix64(&nonce) & 0xFFFFFFFFu), i + 1);
            if (!(sys[i] = bench_system_prompt(o->system_tokens, tag))) {
                rc = inf_errorf(err, INF_ERR_NOMEM, "bench: out of memory");
                goto out;
            }
        }
        jobs[2 * i] = (bench_job){.prompt = i, .system = sys[i], .t_sched = 0};
        jobs[2 * i + 1] = jobs[2 * i];
    }
    rc = run_phase(o, t, r, with_system ? BENCH_PREFIX_SYS : BENCH_PREFIX, 1, jobs, 2 * np, pg,
                   err);
    if (with_system && np && !r->system_sample) {
        r->system_sample = sys[0];
        sys[0] = NULL;
    }
out:
    for (size_t i = 0; i < np; i++) free(sys[i]);
    return rc;
}

/* Requests of one phase-2 level: o->requests, or the set once, repeated until
 * every slot gets at least one request. */
static size_t level_requests(const bench_opts *o, size_t n_prompts, size_t c)
{
    if (o->requests) return o->requests;
    size_t passes = (c + n_prompts - 1) / n_prompts;
    return (passes ? passes : 1) * n_prompts;
}

int bench_run_all(const bench_opts *o, bench_run *r, inf_error *err)
{
    bench_job *jobs = NULL;
    double *times = NULL;
    char *chat_url = NULL;
    int rc = 0;
    memset(r, 0, sizeof *r);
    r->max_tokens = o->max_tokens;
    r->temperature = o->temperature;
    r->timeout_s = o->timeout_s;
    r->system_tokens = o->system_tokens;
    r->seed = o->seed;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->date, sizeof r->date, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(r->prompts_source, sizeof r->prompts_source, "%s",
             o->prompts_path ? o->prompts_path : "default");
    if (!(r->url = strdup(o->url))) goto nomem;
    rc = o->prompts_path ? bench_prompts_load(o->prompts_path, &r->prompts, err)
                         : bench_prompts_default(&r->prompts, err);
    if (rc) goto out;
    if (o->model) {
        if (!(r->model = strdup(o->model))) goto nomem;
    } else if ((rc = bench_first_model(o->url, o->api_key, o->timeout_s < 30 ? o->timeout_s : 30,
                                       &r->model, err))) {
        inf_error_prefix(err, "cannot find the model to ask for (pass --model)");
        goto out;
    }
    if (!(chat_url = bench_url_join(o->url, "/chat/completions"))) goto nomem;
    bench_target t = {.chat_url = chat_url, .api_key = o->api_key, .model = r->model,
                      .max_tokens = o->max_tokens, .temperature = o->temperature,
                      .ignore_eos = o->ignore_eos,
                      .timeout_s = o->timeout_s};
    bench_progress pg = {.out = stderr, .tty = o->tty, .quiet = o->quiet};
    size_t np = r->prompts.n;

    size_t most = np;
    for (size_t i = 0; i < o->n_levels; i++) {
        size_t k = level_requests(o, np, o->levels[i]);
        if (k > most) most = k;
    }
    if (!(jobs = calloc(most, sizeof *jobs))) goto nomem;
    if (o->phases & BENCH_PHASE_SEQ) {
        for (size_t i = 0; i < np; i++) jobs[i] = (bench_job){.prompt = i};
        if ((rc = run_phase(o, &t, r, BENCH_SEQ, 1, jobs, np, &pg, err))) goto out;
    }
    if (o->phases & BENCH_PHASE_CONC) {
        for (size_t l = 0; l < o->n_levels; l++) {
            size_t k = level_requests(o, np, o->levels[l]);
            for (size_t i = 0; i < k; i++) jobs[i] = (bench_job){.prompt = i % np};
            if ((rc = run_phase(o, &t, r, BENCH_CONC, o->levels[l], jobs, k, &pg, err))) goto out;
        }
    }
    if (o->phases & BENCH_PHASE_PREFIX) {
        if ((rc = run_prefix(o, &t, r, false, &pg, err))) goto out;
        if (o->system_tokens && (rc = run_prefix(o, &t, r, true, &pg, err))) goto out;
    }
    if (o->phases & BENCH_PHASE_OPEN) {
        size_t n = bench_poisson_times(o->rate, o->duration_s, o->seed, NULL, 0);
        if (n > MAX_OPEN_JOBS) {
            rc = inf_errorf(err, INF_ERR_RANGE, "--rate x --duration asks for more than %zu "
                            "requests", MAX_OPEN_JOBS);
            goto out;
        }
        free(jobs);
        jobs = calloc(n ? n : 1, sizeof *jobs);
        times = calloc(n ? n : 1, sizeof *times);
        if (!jobs || !times) goto nomem;
        bench_poisson_times(o->rate, o->duration_s, o->seed, times, n);
        for (size_t i = 0; i < n; i++) jobs[i] = (bench_job){.prompt = i % np, .t_sched = times[i]};
        if ((rc = run_phase(o, &t, r, BENCH_OPEN, o->open_cap, jobs, n, &pg, err))) goto out;
    }
    goto out;
nomem:
    rc = inf_errorf(err, INF_ERR_NOMEM, "bench: out of memory");
out:
    free(jobs);
    free(times);
    free(chat_url);
    return rc;
}
