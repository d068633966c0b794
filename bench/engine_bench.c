/* engine_bench: the engine in process (no HTTP): continuous batching, the prefix
 * cache and the KV dtypes, with the napkin math beside each figure.
 *
 *   engine_bench -m FILE [--threads N] [--backend NAME] [--kv-dtype f16|bf16|q8]
 *                [--parts abc] [--seqs 1,4,16,64] [--gen 256] [--prompt-len 0] [--prefix 2000]
 *                [--ctx-len 2000] [--kv-seqs 1] [--kv-gen 64] [--reps 2]
 *                [--no-prefix-cache] [--bw-gbs 35] [--peak-gflops 360]
 *
 * (a) batching: n concurrent sequences (short distinct prompts, greedy,
 *     ignore_eos, --gen tokens each; --prompt-len N > 0: distinct prompts of N
 *     tokens of word soup instead) for each n of --seqs. Decode tok/s counts
 *     only the steps after every sequence has its first token, so prefill is
 *     not in it; the ratio is against n = 1 of the same run.
 * (b) prefix cache: time to first token of a request whose --prefix tokens were
 *     computed by an earlier request (hit) against the earlier one (miss), over
 *     --reps distinct prefixes. --no-prefix-cache is the control (hit == miss).
 * (c) KV dtypes: bytes per token for f16, bf16 and q8, and decode tok/s of
 *     --kv-seqs sequences at --ctx-len tokens of context, f16 against q8
 *     interleaved --reps times (later reps find their prompts in the prefix
 *     cache, so only the first pays the prefill).
 *
 * Napkin math: a decode step reads every matmul weight once whatever the batch
 * (DESIGN.md, "Batch"), so weights bytes per step over the step's time is the
 * bandwidth achieved (against --bw-gbs, 35 GB/s per core measured here), and
 * 2 * matmul params * rows over it the arithmetic rate (against --peak-gflops,
 * the cpu backend's best n = 512 matmul rate per core, from cpu_kernels_bench).
 * Both are per CPU-second the process was given, beside the wall-clock figures:
 * on a shared machine the share of cores a run gets moves more than the code.
 * The engine runs on the bench thread (engine_step), so timings include
 * scheduling and sampling but no thread hand-off.
 *
 * A benchmark, not a test: figures go in bench/RESULTS.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "engine/runtime.h"

enum { MAX_LIST = 16 };

typedef struct bench_opts {
    const char *model, *backend;
    int threads;
    be_kv_dtype kv_dtype;
    const char *parts;
    int32_t seqs[MAX_LIST], n_seqs;
    int32_t gen, prompt_len, prefix, ctx_len, kv_seqs, kv_gen, reps;
    bool no_prefix_cache;
    double bw_gbs, peak_gflops;
} bench_opts;

/* What a decode step reads and computes: every matmul weight (the token
 * embedding only when it doubles as the output matrix). */
typedef struct weight_facts {
    uint64_t bytes;
    uint64_t params;
} weight_facts;

static void weight_facts_of(const runtime *rt, weight_facts *w)
{
    memset(w, 0, sizeof *w);
    bool tied = gguf_tensor_find(rt->file, "output.weight") == NULL;
    for (int64_t i = 0; i < gguf_tensor_count(rt->file); i++) {
        const gguf_tensor *t = gguf_tensor_at(rt->file, i);
        if (t->n_dims < 2) continue; /* norms and biases: negligible */
        if (!strcmp(t->name, "token_embd.weight") && !tied) continue;
        uint64_t ne = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) ne *= (uint64_t)t->ne[d];
        w->bytes += t->nbytes;
        w->params += ne;
    }
}

/* ---- prompts ------------------------------------------------------------------ */

static const char *const words[] = {
    "river", "engine", "quiet", "number", "garden", "winter", "signal", "paper", "stone",
    "market", "light", "history", "simple", "orange", "travel", "window", "science", "music",
    "bridge", "morning", "letter", "forest", "silver", "question", "harbor", "machine",
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Tokenizes text into ids (with BOS as the vocabulary wants when bos); returns
 * the count, at most cap. */
static int32_t tokenize(const runtime *rt, const char *text, bool bos, int32_t *ids, int32_t cap)
{
    size_t n = 0;
    inf_error err;
    int rc = tok_tokenize_buf(rt->vocab, text, strlen(text), bos ? TOK_ADD_SPECIAL : 0, ids,
                              (size_t)cap,
                              &n, &err);
    if (rc != INF_OK && rc != INF_ERR_RANGE) {
        fprintf(stderr, "engine_bench: tokenize: %s\n", err.msg);
        return 0;
    }
    return (int32_t)(n < (size_t)cap ? n : (size_t)cap);
}

/* A short prompt, distinct for each i (under one KV block of 16 tokens on the
 * models here, so that batching, not the prefix cache, is what is measured). */
static int32_t short_prompt(const runtime *rt, int i, int32_t *ids, int32_t cap)
{
    char text[128];
    snprintf(text, sizeof text, "Note %d: the %s %s.", i, words[i % 26], words[(i / 26 + 7) % 26]);
    return tokenize(rt, text, true, ids, cap);
}

/* n tokens of word soup seeded by seed (real tokens of the vocabulary), with BOS
 * first when bos. */
static int32_t long_prompt(const runtime *rt, uint64_t seed, bool bos, int32_t n, int32_t *ids)
{
    size_t cap = (size_t)n * 12 + 64;
    char *text = malloc(cap);
    size_t len = 0;
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    while (len + 32 < cap) {
        const char *w = words[rng_next(&s) % 26];
        len += (size_t)snprintf(text + len, cap - len, "%s%s", w, rng_next(&s) % 9 ? " " : ". ");
    }
    int32_t got = tokenize(rt, text, bos, ids, n);
    free(text);
    return got;
}

/* ---- running requests ---------------------------------------------------------- */

static engine_request *submit(runtime *rt, const int32_t *ids, int32_t n, int32_t max_tokens)
{
    engine_request_params p;
    memset(&p, 0, sizeof p);
    sampler_params_init(&p.sampling);
    p.sampling.temperature = 0.0f;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    engine_request *r = NULL;
    inf_error err;
    if (engine_request_create(ids, n, &p, &r, &err) != INF_OK ||
        engine_submit(rt->eng, r, &err) != INF_OK) {
        fprintf(stderr, "engine_bench: submit: %s\n", err.msg);
        engine_request_release(r);
        return NULL;
    }
    return r;
}

typedef struct decode_run {
    double prefill_s;      /* submit -> every sequence has its first token */
    double decode_s;       /* the steps after that */
    double decode_cpu_s;   /* process CPU time during decode: the machine is shared,
                            * so this says how many cores the run really had */
    uint64_t decode_tokens, decode_steps;
} decode_run;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Has r its first token (or an end)? Does not block. */
static bool started(engine_request *r)
{
    engine_finish f;
    return engine_request_wait(r, 0, 0, &f) > 0 || f != ENGINE_RUNNING;
}

/* Runs reqs[0..n) to the end on this thread, splitting prefill from decode. */
static int run_split(runtime *rt, engine_request **reqs, int32_t n, decode_run *out)
{
    inf_error err;
    double t_start = inf_clock_s();
    for (;;) {
        bool all = true;
        for (int32_t i = 0; i < n && all; i++) all = started(reqs[i]);
        if (all) break;
        if (engine_step(rt->eng, &err) < 0) goto fail;
    }
    double t0 = inf_clock_s(), c0 = cpu_s();
    engine_stats s0, s1;
    engine_get_stats(rt->eng, &s0);
    if (engine_run_until_idle(rt->eng, &err) != INF_OK) goto fail;
    double t1 = inf_clock_s();
    engine_get_stats(rt->eng, &s1);
    out->prefill_s = t0 - t_start;
    out->decode_s = t1 - t0;
    out->decode_cpu_s = cpu_s() - c0;
    out->decode_tokens = s1.generation_tokens - s0.generation_tokens;
    out->decode_steps = s1.steps - s0.steps;
    return 0;
fail:
    fprintf(stderr, "engine_bench: step: %s\n", err.msg);
    return -1;
}

static runtime *open_rt(const bench_opts *o, be_kv_dtype dt, int32_t ctx, int32_t max_seqs,
                        bool cache)
{
    runtime_options ro;
    runtime_options_init(&ro);
    ro.model_path = o->model;
    ro.backend = o->backend;
    ro.n_threads = o->threads;
    ro.ctx_size = ctx;
    ro.max_num_seqs = max_seqs;
    ro.kv_dtype = dt;
    ro.kv_cache_bytes = 4ull << 30; /* capped by runtime_open at max_seqs full contexts */
    ro.no_prefix_cache = !cache;
    runtime *rt = NULL;
    inf_error err;
    if (runtime_open(&ro, &rt, &err) != INF_OK) {
        fprintf(stderr, "engine_bench: %s\n", err.msg);
        return NULL;
    }
    return rt;
}

/* Pages the weights in and warms the caches: one short request. */
static void warm_up(runtime *rt)
{
    int32_t ids[32];
    int32_t n = short_prompt(rt, 999, ids, 32);
    engine_request *r = submit(rt, ids, n, 8);
    inf_error err;
    engine_run_until_idle(rt->eng, &err);
    engine_request_release(r);
}

/* The napkin math of one decode run, per CPU-second the process really got
 * (the machine is shared: wall time alone says more about the neighbours than
 * about the code): weights GB read per core-second against --bw-gbs, and
 * matmul GFLOP per core-second against --peak-gflops. */
static void napkin(const bench_opts *o, const weight_facts *w, const decode_run *d, char *buf,
                   size_t cap)
{
    double gb = (double)w->bytes * (double)d->decode_steps / 1e9;
    double gflop = 2.0 * (double)w->params * (double)d->decode_tokens / 1e9;
    double gbs = gb / d->decode_cpu_s, gflops = gflop / d->decode_cpu_s;
    int n = snprintf(buf, cap, "%5.1f GB/core-s (%3.0f%% of %.0f) %6.1f GFLOP/core-s", gbs,
                     100 * gbs / o->bw_gbs, o->bw_gbs, gflops);
    if (o->peak_gflops > 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " (%3.0f%% of %.0f)", 100 * gflops / o->peak_gflops,
                 o->peak_gflops);
}

/* ---- (a) batching ------------------------------------------------------------ */

static int part_batching(const bench_opts *o)
{
    int32_t max_n = 1;
    for (int i = 0; i < o->n_seqs; i++)
        if (o->seqs[i] > max_n) max_n = o->seqs[i];
    int32_t plen = o->prompt_len > 0 ? o->prompt_len : 64;
    runtime *rt = open_rt(o, o->kv_dtype, plen + o->gen + 16, max_n, !o->no_prefix_cache);
    if (!rt) return -1;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)plen);
    weight_facts w;
    weight_facts_of(rt, &w);
    warm_up(rt);
    printf("\n(a) batching: %d-token prompts, %d generated tokens per sequence, greedy, kv %s; "
           "weights read per step %.1f MB, %.1f M matmul params\n",
           o->prompt_len > 0 ? o->prompt_len : -1, o->gen, runtime_kv_dtype_name(rt->kv_dtype),
           (double)w.bytes / 1e6, (double)w.params / 1e6);
    printf("| seqs | prefill s | decode tok/s | x vs 1 | step ms | rows/step | cores used | "
           "tok/core-s | x vs 1 | napkin |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    double base = 0, base_cpu = 0;
    engine_request **reqs = calloc((size_t)max_n, sizeof *reqs);
    int rc = 0;
    for (int k = 0; k < o->n_seqs && rc == 0; k++) {
        int32_t n = o->seqs[k];
        decode_run best = {0};
        for (int rep = 0; rep < o->reps && rc == 0; rep++) {
            for (int32_t i = 0; i < n && rc == 0; i++) {
                int32_t np = o->prompt_len > 0
                                 ? long_prompt(rt, 40000 + (uint64_t)(i + rep * 1000), true, plen, ids)
                                 : short_prompt(rt, i + rep * 1000, ids, 64);
                reqs[i] = submit(rt, ids, np, o->gen);
                if (!reqs[i]) rc = -1;
            }
            decode_run d;
            if (rc == 0) rc = run_split(rt, reqs, n, &d);
            for (int32_t i = 0; i < n; i++) {
                engine_request_release(reqs[i]);
                reqs[i] = NULL;
            }
            if (rc == 0 && (rep == 0 || d.decode_tokens / d.decode_s >
                                            best.decode_tokens / best.decode_s))
                best = d;
        }
        if (rc != 0) break;
        double tps = (double)best.decode_tokens / best.decode_s;
        double tpc = (double)best.decode_tokens / best.decode_cpu_s;
        if (k == 0) { /* the ratios are against the first entry (1 by default) */
            base = tps;
            base_cpu = tpc;
        }
        double step_s = best.decode_s / (double)best.decode_steps;
        double rows = (double)best.decode_tokens / (double)best.decode_steps;
        char nap[160];
        napkin(o, &w, &best, nap, sizeof nap);
        printf("| %d | %.2f | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f | %.2f | %s |\n", n,
               best.prefill_s, tps, tps / base, step_s * 1e3, rows,
               best.decode_cpu_s / best.decode_s, tpc, tpc / base_cpu, nap);
        fflush(stdout);
    }
    free(reqs);
    free(ids);
    runtime_close(rt);
    return rc;
}

/* ---- (b) prefix cache -------------------------------------------------------- */

/* Time to first token of one request run alone (max_tokens 1), in wall ms;
 * *cpu_ms gets the process CPU time it took, *cached the prompt tokens the
 * prefix cache served. */
static double ttft_ms(runtime *rt, const int32_t *ids, int32_t n, int32_t *cached, double *cpu_ms)
{
    engine_request *r = submit(rt, ids, n, 1);
    if (!r) return -1;
    inf_error err;
    double ms = -1, c0 = cpu_s();
    int rc = engine_run_until_idle(rt->eng, &err);
    *cpu_ms = (cpu_s() - c0) * 1e3;
    if (rc == INF_OK && r->t_first_token_ns)
        ms = (double)(r->t_first_token_ns - r->t_submit_ns) / 1e6;
    else
        fprintf(stderr, "engine_bench: %s\n", err.msg);
    *cached = r->n_cached_prompt;
    engine_request_release(r);
    return ms;
}

static int part_prefix(const bench_opts *o)
{
    int32_t suffix = 24;
    runtime *rt = open_rt(o, o->kv_dtype, o->prefix + suffix + 16, 4, !o->no_prefix_cache);
    if (!rt) return -1;
    warm_up(rt);
    printf("\n(b) prefix cache %s: TTFT of a request sharing a %d-token prefix with an earlier "
           "one (+%d own tokens each)\n", o->no_prefix_cache ? "OFF (control)" : "on", o->prefix,
           suffix);
    printf("| prefix | miss ms | miss cached | hit ms | hit cached | miss / hit | CPU ms miss / hit |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    int32_t n = o->prefix + suffix;
    int32_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    int rc = 0;
    double sum_ratio = 0;
    for (int rep = 0; rep < o->reps; rep++) {
        /* The two requests share the prefix and differ after it. */
        int32_t np = long_prompt(rt, 100 + (uint64_t)rep, true, o->prefix, a);
        memcpy(b, a, (size_t)np * sizeof *a);
        int32_t sa = long_prompt(rt, 7000 + (uint64_t)rep, false, suffix, a + np);
        int32_t sb = long_prompt(rt, 9000 + (uint64_t)rep, false, suffix, b + np);
        if (np < o->prefix || sa < suffix || sb < suffix) {
            fprintf(stderr, "engine_bench: the prompts came out short\n");
            rc = -1;
            break;
        }
        int32_t ca, cb;
        double cpu_a, cpu_b;
        double miss = ttft_ms(rt, a, n, &ca, &cpu_a);
        double hit = ttft_ms(rt, b, n, &cb, &cpu_b);
        if (miss < 0 || hit < 0) {
            rc = -1;
            break;
        }
        sum_ratio += miss / hit;
        printf("| %d | %.1f | %d | %.1f | %d | %.1fx | %.0f / %.0f = %.1fx |\n", o->prefix, miss, ca,
               hit, cb, miss / hit, cpu_a, cpu_b, cpu_a / cpu_b);
        fflush(stdout);
    }
    if (rc == 0 && o->reps > 0) printf("mean miss / hit: %.1fx\n", sum_ratio / o->reps);
    free(a);
    free(b);
    runtime_close(rt);
    return rc;
}

/* ---- (c) KV dtypes --------------------------------------------------------- */

static int part_kv(const bench_opts *o)
{
    static const be_kv_dtype dts[2] = {BE_KV_F16, BE_KV_Q8};
    int32_t ctx = o->ctx_len + o->kv_gen + 16;
    runtime *rts[2] = {NULL, NULL};
    for (int d = 0; d < 2; d++)
        if (!(rts[d] = open_rt(o, dts[d], ctx, o->kv_seqs, true))) goto fail;
    printf("\n(c) KV dtypes: bytes per token (all layers, K + V + scales)\n");
    printf("| dtype | bytes/token | KB at %d tokens |\n| --- | ---: | ---: |\n", o->ctx_len);
    static const be_kv_dtype all[3] = {BE_KV_F16, BE_KV_BF16, BE_KV_Q8};
    size_t bpt[3];
    for (int d = 0; d < 3; d++) {
        be_kv_config kc;
        model_kv_config(rts[0]->m, 1, rts[0]->block_size, all[d], &kc);
        bpt[d] = be_kv_bytes_per_token(&kc);
        printf("| %s | %zu | %.0f |\n", runtime_kv_dtype_name(all[d]), bpt[d],
               (double)bpt[d] * o->ctx_len / 1024);
    }
    weight_facts w;
    weight_facts_of(rts[0], &w);
    for (int d = 0; d < 2; d++) warm_up(rts[d]);
    printf("\ndecode at ~%d context: %d sequence(s) x %d tokens, best of %d interleaved reps\n",
           o->ctx_len, o->kv_seqs, o->kv_gen, o->reps);
    printf("| dtype | decode tok/s | step ms | KV read/step MB | weights+KV GB/s | cores used | "
           "tok/core-s | prefill s (rep 1) |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    int32_t n = o->ctx_len;
    int32_t *ids = malloc((size_t)n * o->kv_seqs * sizeof *ids);
    for (int32_t s = 0; s < o->kv_seqs; s++)
        if (long_prompt(rts[0], 500 + (uint64_t)s, true, n, ids + (size_t)s * n) < n) {
            fprintf(stderr, "engine_bench: the prompt came out short\n");
            free(ids);
            goto fail;
        }
    engine_request **reqs = calloc((size_t)o->kv_seqs, sizeof *reqs);
    decode_run best[2], first[2];
    int rc = 0;
    for (int rep = 0; rep < o->reps && rc == 0; rep++)
        for (int d = 0; d < 2 && rc == 0; d++) {
            for (int32_t s = 0; s < o->kv_seqs; s++)
                if (!(reqs[s] = submit(rts[d], ids + (size_t)s * n, n, o->kv_gen))) rc = -1;
            decode_run r;
            if (rc == 0) rc = run_split(rts[d], reqs, o->kv_seqs, &r);
            for (int32_t s = 0; s < o->kv_seqs; s++) engine_request_release(reqs[s]);
            if (rc) break;
            if (rep == 0) first[d] = best[d] = r;
            else if (r.decode_tokens / r.decode_cpu_s > best[d].decode_tokens / best[d].decode_cpu_s)
                best[d] = r;
        }
    for (int d = 0; d < 2 && rc == 0; d++) {
        double step_s = best[d].decode_s / (double)best[d].decode_steps;
        size_t per_tok = dts[d] == BE_KV_Q8 ? bpt[2] : bpt[0];
        double kv_mb = (double)per_tok * (n + o->kv_gen / 2.0) * o->kv_seqs / 1e6;
        printf("| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f |\n",
               runtime_kv_dtype_name(dts[d]), (double)best[d].decode_tokens / best[d].decode_s,
               step_s * 1e3, kv_mb, ((double)w.bytes / 1e6 + kv_mb) / step_s / 1e3,
               best[d].decode_cpu_s / best[d].decode_s,
               (double)best[d].decode_tokens / best[d].decode_cpu_s, first[d].prefill_s);
    }
    if (rc == 0)
        printf("q8 / f16 decode speed: %.2fx wall, %.2fx per core-second\n",
               (best[1].decode_tokens / best[1].decode_s) / (best[0].decode_tokens / best[0].decode_s),
               (best[1].decode_tokens / best[1].decode_cpu_s) /
                   (best[0].decode_tokens / best[0].decode_cpu_s));
    free(reqs);
    free(ids);
    runtime_close(rts[0]);
    runtime_close(rts[1]);
    return rc;
fail:
    runtime_close(rts[0]);
    runtime_close(rts[1]);
    return -1;
}

/* ---- command line ------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: engine_bench -m FILE [--threads N] [--backend NAME] [--kv-dtype f16|bf16|q8]\n"
            "         [--parts abc] [--seqs 1,4,16,64] [--gen 256] [--prompt-len 0]\n"
            "         [--prefix 2000]\n"
            "         [--ctx-len 2000] [--kv-seqs 1] [--kv-gen 64] [--reps 2]\n"
            "         [--no-prefix-cache] [--bw-gbs 35] [--peak-gflops G]\n");
}

static int parse_list(const char *s, int32_t *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0) return -1;
        out[n++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv)
{
    bench_opts o = {.threads = 2, .kv_dtype = BE_KV_F16, .parts = "abc", .gen = 256,
                    .prefix = 2000, .ctx_len = 2000, .kv_seqs = 1, .kv_gen = 64, .reps = 2,
                    .bw_gbs = 35};
    o.n_seqs = parse_list("1,4,16,64", o.seqs, MAX_LIST);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v) o.model = v;
        else if (!strcmp(a, "--threads") && v) o.threads = atoi(v);
        else if (!strcmp(a, "--backend") && v) o.backend = v;
        else if (!strcmp(a, "--kv-dtype") && v) {
            int t = runtime_kv_dtype_from_name(v);
            if (t < 0) {
                fprintf(stderr, "engine_bench: unknown --kv-dtype '%s'\n", v);
                return 2;
            }
            o.kv_dtype = (be_kv_dtype)t;
        } else if (!strcmp(a, "--parts") && v) o.parts = v;
        else if (!strcmp(a, "--seqs") && v) {
            if ((o.n_seqs = parse_list(v, o.seqs, MAX_LIST)) <= 0) {
                fprintf(stderr, "engine_bench: bad --seqs '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--gen") && v) o.gen = atoi(v);
        else if (!strcmp(a, "--prefix") && v) o.prefix = atoi(v);
        else if (!strcmp(a, "--prompt-len") && v) o.prompt_len = atoi(v);
        else if (!strcmp(a, "--ctx-len") && v) o.ctx_len = atoi(v);
        else if (!strcmp(a, "--kv-seqs") && v) o.kv_seqs = atoi(v);
        else if (!strcmp(a, "--kv-gen") && v) o.kv_gen = atoi(v);
        else if (!strcmp(a, "--reps") && v) o.reps = atoi(v);
        else if (!strcmp(a, "--bw-gbs") && v) o.bw_gbs = atof(v);
        else if (!strcmp(a, "--peak-gflops") && v) o.peak_gflops = atof(v);
        else if (!strcmp(a, "--no-prefix-cache")) {
            o.no_prefix_cache = true;
            takes = false;
        } else {
            usage();
            return 2;
        }
        if (takes) i++;
    }
    if (!o.model || o.gen < 1 || o.prefix < 16 || o.ctx_len < 16 || o.kv_seqs < 1 ||
        o.kv_gen < 2 || o.reps < 1) {
        usage();
        return 2;
    }
    printf("engine_bench: %s, backend %s, %d threads\n", o.model,
           o.backend ? o.backend : be_default_name(), o.threads);
    int rc = 0;
    if (strchr(o.parts, 'a') && part_batching(&o) != 0) rc = 1;
    if (strchr(o.parts, 'b') && part_prefix(&o) != 0) rc = 1;
    if (strchr(o.parts, 'c') && part_kv(&o) != 0) rc = 1;
    return rc;
}
