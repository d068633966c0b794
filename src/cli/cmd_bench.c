/* cmd_bench.c: `inferd bench` — parses the flags, runs the phases (src/bench/),
 * prints the Markdown report on stdout and writes the --report, --json and --svg
 * files. Failed requests are part of the report, not a failure of the command.
 * docs/bench.md describes every flag and figure. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench/bench.h"
#include "bench/report.h"
#include "cli/cli.h"

typedef struct bench_cli {
    bench_opts o;
    const char *json, *report, *svg;
    bool phases_set, conc_set;
} bench_cli;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd bench --url URL [options]\n"
            "Benchmarks any OpenAI-compatible server with streamed chat completions.\n"
            "  --url URL              server base, e.g. http://127.0.0.1:8080 (required)\n"
            "  --model NAME           model to ask for (default: first id of GET /v1/models)\n"
            "  --api-key KEY          sent as Authorization: Bearer KEY\n"
            "  --phases LIST          of seq,conc,prefix,open (default seq,conc,prefix;\n"
            "                         open alone when --rate is given)\n"
            "  --concurrency N[,N..]  phase 2 levels, a list sweeps (default 4)\n"
            "  --requests N           requests per phase-2 level (default: the prompt set,\n"
            "                         repeated until there are at least N-concurrency)\n"
            "  --max-tokens N         max_tokens of each request (default 256)\n"
            "  --temperature T        (default 0)\n"
            "  --ignore-eos           ask for all max_tokens of every request (\"ignore_eos\")\n"
            "  --prompts FILE         one prompt per line: {\"prompt\":...}, {\"messages\":[...]}\n"
            "                         or plain text (default: the 10 built-in requests)\n"
            "  --system-tokens N      length of phase 3's shared system prompt (default 1000;\n"
            "                         0 skips that half)\n"
            "  --duration S --rate R  open-loop load: Poisson arrivals at R req/s for S s\n"
            "  --seed N               seed of the arrival times (default 1)\n"
            "  --timeout S            limit of one request, seconds (default 300)\n"
            "  --json OUT             write every raw figure as JSON\n"
            "  --report OUT.md        write the Markdown report (also printed on stdout)\n"
            "  --svg OUT.svg          write a chart: throughput vs concurrency, TTFT spread\n"
            "  --quiet                no progress on stderr\n");
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi) return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_phases(const char *s, unsigned *out)
{
    unsigned m = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 3 && !strncmp(s, "seq", 3)) m |= BENCH_PHASE_SEQ;
        else if (n == 4 && !strncmp(s, "conc", 4)) m |= BENCH_PHASE_CONC;
        else if (n == 6 && !strncmp(s, "prefix", 6)) m |= BENCH_PHASE_PREFIX;
        else if (n == 4 && !strncmp(s, "open", 4)) m |= BENCH_PHASE_OPEN;
        else return -1;
        s += n;
        if (*s == ',') s++;
    }
    *out = m;
    return m ? 0 : -1;
}

static int parse_levels(const char *s, bench_opts *o)
{
    o->n_levels = 0;
    char buf[32];
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 0 || n >= sizeof buf || o->n_levels == BENCH_MAX_LEVELS) return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (parse_size(buf, 1, 100000, &o->levels[o->n_levels++])) return -1;
        s += n;
        if (*s == ',' && !s[1]) return -1;
        if (*s == ',') s++;
    }
    return o->n_levels ? 0 : -1;
}

/* Returns 0, -1 after --help, or 2 (usage error, message printed). */
static int parse_args(int argc, char **argv, bench_cli *c)
{
    bench_opts *o = &c->o;
    memset(c, 0, sizeof *c);
    bench_opts_default(o);
    size_t sys_tokens = o->system_tokens;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (!strcmp(a, "--ignore-eos")) {
            o->ignore_eos = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "inferd bench: %s needs a value (or is unknown)\n\n", a);
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--url")) o->url = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--api-key")) o->api_key = v;
        else if (!strcmp(a, "--prompts")) o->prompts_path = v;
        else if (!strcmp(a, "--json")) c->json = v;
        else if (!strcmp(a, "--report")) c->report = v;
        else if (!strcmp(a, "--svg")) c->svg = v;
        else if (!strcmp(a, "--phases")) bad = parse_phases(v, &o->phases), c->phases_set = true;
        else if (!strcmp(a, "--concurrency")) bad = parse_levels(v, o), c->conc_set = true;
        else if (!strcmp(a, "--requests")) bad = parse_size(v, 1, 1000000, &o->requests);
        else if (!strcmp(a, "--max-tokens")) {
            size_t n = 0;
            bad = parse_size(v, 1, 1 << 24, &n);
            o->max_tokens = (int)n;
        } else if (!strcmp(a, "--temperature")) bad = parse_double(v, 0, 100, &o->temperature);
        else if (!strcmp(a, "--system-tokens")) bad = parse_size(v, 0, 1000000, &sys_tokens);
        else if (!strcmp(a, "--duration")) bad = parse_double(v, 1e-3, 1e7, &o->duration_s);
        else if (!strcmp(a, "--rate")) bad = parse_double(v, 1e-6, 1e6, &o->rate);
        else if (!strcmp(a, "--timeout")) bad = parse_double(v, 1e-3, 1e7, &o->timeout_s);
        else if (!strcmp(a, "--seed")) {
            size_t s = 0;
            bad = parse_size(v, 0, SIZE_MAX, &s);
            o->seed = s;
        } else {
            fprintf(stderr, "inferd bench: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "inferd bench: bad value '%s' for %s\n", v, a);
            return 2;
        }
        i++;
    }
    o->system_tokens = sys_tokens;
    if (!o->url) {
        fprintf(stderr, "inferd bench: --url is required\n\n");
        usage(stderr);
        return 2;
    }
    if ((o->rate > 0) != (o->duration_s > 0)) {
        fprintf(stderr, "inferd bench: --duration and --rate go together\n");
        return 2;
    }
    if (o->rate > 0 && !c->phases_set) o->phases = BENCH_PHASE_OPEN;
    if ((o->phases & BENCH_PHASE_OPEN) && !(o->rate > 0)) {
        fprintf(stderr, "inferd bench: the open phase needs --duration S --rate R\n");
        return 2;
    }
    /* In open-loop load an explicit --concurrency caps the requests in flight. */
    if (c->conc_set && o->n_levels == 1) o->open_cap = o->levels[0];
    return 0;
}

static int write_report(const bench_run *r, const char *path, inf_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return inf_errorf(err, INF_ERR_IO, "%s: cannot open for writing", path);
    int rc = bench_report_md(r, f, err);
    if (fclose(f) && !rc) rc = inf_errorf(err, INF_ERR_IO, "%s: write failed", path);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    bench_cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc < 0 ? 0 : rc;
    c.o.tty = isatty(STDERR_FILENO);
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        fprintf(stderr, "inferd bench: libcurl failed to initialise\n");
        return 1;
    }
    bench_run run;
    inf_error err = {0};
    int status = 0;
    if ((rc = bench_run_all(&c.o, &run, &err))) {
        fprintf(stderr, "inferd bench: %s\n", err.msg);
        status = 1;
        goto out;
    }
    if (bench_report_md(&run, stdout, &err)) {
        fprintf(stderr, "inferd bench: %s\n", err.msg);
        status = 1;
    }
    const char *paths[3] = {c.report, c.json, c.svg};
    for (int k = 0; k < 3; k++) {
        if (!paths[k]) continue;
        rc = k == 0 ? write_report(&run, paths[k], &err)
           : k == 1 ? bench_report_json(&run, paths[k], &err)
                    : bench_report_svg(&run, paths[k], &err);
        if (rc) {
            fprintf(stderr, "inferd bench: %s\n", err.msg);
            status = 1;
        }
    }
    size_t failed = 0, total = 0;
    for (size_t i = 0; i < run.n_phases; i++) {
        total += run.phases[i].n;
        for (size_t k = 0; k < run.phases[i].n; k++)
            failed += run.phases[i].samples[k].fail != BENCH_FAIL_NONE;
    }
    if (failed)
        fprintf(stderr, "inferd bench: %zu of %zu requests failed (see the Errors tables)\n",
                failed, total);
out:
    bench_run_free(&run);
    curl_global_cleanup();
    return status;
}
