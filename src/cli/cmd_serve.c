/* cmd_serve.c: `inferd serve` — parse flags, listen at once (/health says 503
 * while the model loads), load the model, serve until SIGINT/SIGTERM, then stop
 * gracefully (every in-flight stream gets its final event) and exit 0. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "engine/runtime.h"
#include "server/server.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: inferd serve -m FILE [options]\n"
        "Serves a GGUF model over an OpenAI-compatible HTTP API (docs/serving.md).\n\n"
        "  -m, --model FILE            GGUF model (required)\n"
        "  --host ADDR                 IPv4 address to bind (default 127.0.0.1)\n"
        "  --port N                    TCP port (default 8080; 0 = any free port)\n"
        "  --api-key KEY               require 'Authorization: Bearer KEY' (default: none)\n"
        "  --served-model-name NAME    model id in the API (default: the model's name)\n"
        "  --backend, --device NAME    ref | cpu | cuda | auto (default auto: cuda when a GPU\n"
        "                              is usable, else cpu)\n"
        "  --threads N                 worker threads (default: one per core)\n"
        "  --ctx-size N                context length in tokens (default: the model's)\n"
        "  --max-num-seqs N            sequences decoded together (default 64)\n"
        "  --max-batch-tokens N        token rows per engine step (default 512)\n"
        "  --max-queue N               waiting requests before 429 (default 1024)\n"
        "  --block-size N              tokens per KV block (default 16)\n"
        "  --kv-cache-dtype T          f16 | bf16 | q8 (default f16)\n"
        "  --kv-cache-bytes N          KV pool size in bytes (default: a fraction)\n"
        "  --kv-cache-fraction F       of memory available after the weights (default 0.25)\n"
        "  --gpu-memory-fraction F     GPU backends: share of the GPU's memory for weights,\n"
        "                              scratch and KV cache (default 0.90)\n"
        "  --prefix-cache-bytes N      budget of cached prefix blocks (default: a fraction)\n"
        "  --prefix-cache-fraction F   of memory available at start (default 0.20)\n"
        "  --no-prefix-cache           do not reuse KV across requests\n"
        "  --chat-template FILE        Jinja chat template instead of the model's\n"
        "  --completions-parse-special parse special tokens in /v1/completions text\n"
        "  --max-body-bytes N          largest request body (default 8388608)\n"
        "  --timeout S                 idle connection timeout in seconds (default 600)\n"
        "  -v, --verbose               debug logging\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !*s || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_frac(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > 0.0 && v <= 1.0)) return -1;
    *out = v;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    runtime_options ro;
    runtime_options_init(&ro);
    srv_config sc;
    srv_config_init(&sc);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, iv = 0;
        uint64_t u = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            inf_log_set_level(INF_LOG_DEBUG);
            continue;
        }
        if (!strcmp(a, "--no-prefix-cache")) {
            ro.no_prefix_cache = true;
            continue;
        }
        if (!strcmp(a, "--completions-parse-special")) {
            sc.completions_parse_special = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "inferd serve: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) ro.model_path = v;
        else if (!strcmp(a, "--host")) sc.host = v;
        else if (!strcmp(a, "--port")) bad = parse_int(v, 0, 65535, &sc.port);
        else if (!strcmp(a, "--api-key")) sc.api_key = v;
        else if (!strcmp(a, "--served-model-name")) sc.served_model_name = v;
        else if (!strcmp(a, "--backend") || !strcmp(a, "--device")) ro.backend = v;
        else if (!strcmp(a, "--threads")) bad = parse_int(v, 1, 1024, &ro.n_threads);
        else if (!strcmp(a, "--ctx-size")) bad = parse_int(v, 2, 1 << 24, &ro.ctx_size);
        else if (!strcmp(a, "--max-num-seqs")) bad = parse_int(v, 1, 4096, &ro.max_num_seqs);
        else if (!strcmp(a, "--max-batch-tokens")) bad = parse_int(v, 1, 1 << 16, &ro.max_batch_tokens);
        else if (!strcmp(a, "--max-queue")) bad = parse_int(v, 1, 1 << 20, &ro.max_queue);
        else if (!strcmp(a, "--block-size")) bad = parse_int(v, 1, 1024, &ro.block_size);
        else if (!strcmp(a, "--kv-cache-dtype")) {
            int t = runtime_kv_dtype_from_name(v);
            bad = t < 0 || t == BE_KV_F32;
            if (!bad) ro.kv_dtype = (be_kv_dtype)t;
        } else if (!strcmp(a, "--kv-cache-bytes")) bad = parse_u64(v, &ro.kv_cache_bytes) || !ro.kv_cache_bytes;
        else if (!strcmp(a, "--kv-cache-fraction")) bad = parse_frac(v, &ro.kv_cache_fraction);
        else if (!strcmp(a, "--gpu-memory-fraction")) bad = parse_frac(v, &ro.gpu_memory_fraction);
        else if (!strcmp(a, "--prefix-cache-bytes")) bad = parse_u64(v, &ro.prefix_cache_bytes);
        else if (!strcmp(a, "--prefix-cache-fraction")) bad = parse_frac(v, &ro.prefix_cache_fraction);
        else if (!strcmp(a, "--chat-template")) ro.chat_template_file = v;
        else if (!strcmp(a, "--max-body-bytes")) bad = parse_u64(v, &u) || !u, sc.max_body_bytes = (size_t)u;
        else if (!strcmp(a, "--timeout")) bad = parse_int(v, 1, 86400, &sc.timeout_s);
        else {
            fprintf(stderr, "inferd serve: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        (void)iv;
        if (bad) {
            fprintf(stderr, "inferd serve: bad value for %s: '%s'\n", a, v);
            return 2;
        }
    }
    if (!ro.model_path) {
        fprintf(stderr, "inferd serve: a model is required (-m FILE)\n");
        usage(stderr);
        return 2;
    }

    /* Signals are taken by sigwait below; block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    inf_error err;
    srv *s = NULL;
    if (srv_start(&sc, &s, &err) != INF_OK) {
        fprintf(stderr, "inferd serve: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "inferd: listening on http://%s:%d (loading %s)\n", sc.host, srv_port(s),
            ro.model_path);
    runtime *rt = NULL;
    if (runtime_open(&ro, &rt, &err) != INF_OK || engine_start(rt->eng, &err) != INF_OK) {
        fprintf(stderr, "inferd serve: %s\n", err.msg);
        srv_stop(s);
        runtime_close(rt);
        return 1;
    }
    srv_set_runtime(s, rt);
    fprintf(stderr,
            "inferd: ready: model %s (%s), backend %s, context %d tokens\n"
            "inferd: KV pool %d blocks x %d tokens, %s, %.1f MiB (%llu bytes/token); "
            "prefix cache %s, budget %.1f MiB\n"
            "inferd: try: curl http://%s:%d/v1/chat/completions -H 'Content-Type: application/json' "
            "-d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n",
            rt->model_name, ro.model_path, rt->be->name, rt->n_ctx, rt->n_blocks, rt->block_size,
            runtime_kv_dtype_name(rt->kv_dtype), (double)rt->kv_bytes / (1 << 20),
            (unsigned long long)rt->kv_bytes_per_token, ro.no_prefix_cache ? "off" : "on",
            (double)rt->prefix_cache_bytes / (1 << 20), sc.host, srv_port(s));
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "inferd: %s: finishing in-flight requests and stopping\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_stop(s);
    runtime_close(rt);
    fprintf(stderr, "inferd: stopped\n");
    return 0;
}
