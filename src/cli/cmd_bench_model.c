/* cmd_bench_model.c: `inferd bench-model` — in-process prompt and decode speed,
 * the same work as llama-bench's pp<P> and tg<N> tests:
 *   pp: P tokens in one batch from an empty context, logits of the last row;
 *   tg: N tokens one step at a time from an empty context.
 * Each test runs -r times after a warm-up: one untimed run of the prompt test
 * (its shape's first run pays for kernel loads and, on GPUs, the library's
 * algorithm choice), one decode step for tg; as llama-bench warms up. The
 * table reports the mean and standard deviation of tok/s. A benchmark, not a
 * test (docs/run.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "gguf/gguf.h"
#include "model/session.h"
#include "quant/quant.h"

typedef struct bench_opts {
    const char *model;
    const char *backend;
    int n_prompt, n_gen, threads, reps;
    bool json;
} bench_opts;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd bench-model -m FILE [options]\n"
            "  -m, --model FILE   GGUF model\n"
            "  -p N               prompt tokens processed in one batch (default 512; 0 = skip)\n"
            "  -n N               tokens generated one by one (default 128; 0 = skip)\n"
            "  -r N               repetitions of each test (default 3)\n"
            "  --threads N        worker threads (default: one per core)\n"
            "  --backend NAME     ref | cpu | cuda | auto (default %s; --device too)\n"
            "  --json             one JSON object per test instead of the table\n",
            be_default_name());
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* 0 ok, -1 after --help, 2 usage error. */
static int parse_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_prompt = 512;
    o->n_gen = 128;
    o->reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "inferd bench-model: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p")) bad = parse_int(v, 0, 1 << 16, &o->n_prompt);
        else if (!strcmp(a, "-n")) bad = parse_int(v, 0, 1 << 16, &o->n_gen);
        else if (!strcmp(a, "-r")) bad = parse_int(v, 1, 1000, &o->reps);
        else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) bad = parse_int(v, 1, 4096, &o->threads);
        else if (!strcmp(a, "--backend") || !strcmp(a, "--device")) o->backend = v;
        else {
            fprintf(stderr, "inferd bench-model: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "inferd bench-model: bad value '%s' for %s\n", v, a);
            return 2;
        }
        i++;
    }
    if (!o->model) {
        fprintf(stderr, "inferd bench-model: -m FILE is required\n\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The dominant weight type (most bytes), to label the table like llama-bench. */
static const char *main_type(const gguf_file *f, uint64_t *bytes, uint64_t *params)
{
    uint64_t by_type[QT_COUNT] = {0};
    *bytes = *params = 0;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= (uint64_t)t->ne[d];
        *params += n;
        *bytes += t->nbytes;
        if (t->type < QT_COUNT) by_type[t->type] += t->nbytes;
    }
    uint32_t best = 0;
    for (uint32_t t = 0; t < QT_COUNT; t++)
        if (by_type[t] > by_type[best]) best = t;
    return quant_type_name(best);
}

int cmd_bench_model(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    inf_error err = {0};
    model_session ms = {0};
    int32_t *toks = NULL;
    float *logits = NULL;

    model_options mo = {.max_rows = o.n_prompt > 0 ? o.n_prompt : 1, .max_out = 1};
    if ((rc = model_session_open(&ms, o.model, o.backend, o.threads, &mo, &err))) goto out;
    const model *m = ms.m;
    const be_backend *be = ms.be;
    int ctx = (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 1;
    if ((rc = model_session_kv(&ms, 1, ctx, 0, BE_KV_F16, &err))) goto out;
    int32_t nv = (int32_t)m->hp.n_vocab;
    toks = malloc((size_t)ctx * sizeof *toks);
    logits = malloc((size_t)nv * sizeof *logits);
    if (!toks || !logits) {
        rc = inf_errorf(&err, INF_ERR_NOMEM, "bench buffers");
        goto out;
    }
    /* Fixed pseudo-random tokens: the work does not depend on their values. */
    uint32_t st = 12345;
    for (int i = 0; i < ctx; i++) {
        st = st * 1664525u + 1013904223u;
        toks[i] = (int32_t)((st >> 8) % (uint32_t)nv);
    }
    uint64_t bytes, params;
    const char *type = main_type(ms.file, &bytes, &params);
    model_seq s;
    model_session_seq(&ms, 0, &s);
    if ((rc = model_seq_feed(&s, toks, 1, logits, &err))) goto out; /* warm-up */

    if (!o.json) {
        printf("| model | size | params | backend | threads | test | t/s |\n");
        printf("| --- | ---: | ---: | --- | ---: | --- | ---: |\n");
    }
    for (int test = 0; test < 2; test++) {
        int n = test == 0 ? o.n_prompt : o.n_gen;
        if (n == 0) continue;
        if (test == 0) { /* warm-up of this shape, untimed */
            model_session_seq(&ms, 0, &s);
            if ((rc = model_seq_feed(&s, toks, n, logits, &err))) goto out;
        }
        double sum = 0, sum2 = 0;
        for (int r = 0; r < o.reps; r++) {
            model_session_seq(&ms, 0, &s);
            double t0 = inf_clock_s();
            if (test == 0) {
                rc = model_seq_feed(&s, toks, n, logits, &err);
            } else {
                for (int i = 0; i < n && !rc; i++) rc = model_seq_feed(&s, &toks[i], 1, logits, &err);
            }
            if (rc) goto out;
            double tps = n / (inf_clock_s() - t0);
            sum += tps;
            sum2 += tps * tps;
        }
        double mean = sum / o.reps;
        double sd = o.reps > 1 ? sqrt(fmax(0, (sum2 - sum * mean) / (o.reps - 1))) : 0;
        char name[32];
        snprintf(name, sizeof name, "%s%d", test == 0 ? "pp" : "tg", n);
        if (o.json)
            printf("{\"model\":\"%s\",\"type\":\"%s\",\"size_bytes\":%llu,\"params\":%llu,"
                   "\"backend\":\"%s\",\"threads\":%d,\"test\":\"%s\",\"tok_s\":%.3f,"
                   "\"tok_s_sd\":%.3f,\"reps\":%d}\n",
                   m->hp.arch_name, type, (unsigned long long)bytes, (unsigned long long)params,
                   be->name, o.threads, name, mean, sd, o.reps);
        else
        {
            char thr[16] = "auto";
            if (o.threads > 0) snprintf(thr, sizeof thr, "%d", o.threads);
            printf("| %s %s | %.2f MiB | %.2f M | %s | %s | %s | %.2f ± %.2f |\n", m->hp.arch_name,
                   type, bytes / 1048576.0, params / 1e6, be->name, thr, name, mean, sd);
        }
        fflush(stdout);
    }
out:
    if (rc) fprintf(stderr, "inferd bench-model: %s\n", err.msg);
    free(toks);
    free(logits);
    model_session_close(&ms);
    return rc ? 1 : 0;
}
