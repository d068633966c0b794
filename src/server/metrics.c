/* metrics.c: see metrics.h. Histograms keep per-bucket counts and are made
 * cumulative when rendered, as Prometheus expects. */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hist_init(metrics_hist *h, const double *bounds, int n)
{
    memset(h, 0, sizeof *h);
    h->n_bounds = n;
    memcpy(h->bounds, bounds, (size_t)n * sizeof *bounds);
}

static void hist_add(metrics_hist *h, double v)
{
    int i = 0;
    while (i < h->n_bounds && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void metrics_init(srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    /* vLLM's bucket bounds for the same histograms. */
    static const double ttft[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                                  0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    static const double itl[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                                 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    static const double e2e[] = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
                                 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0};
    hist_init(&m->ttft, ttft, (int)(sizeof ttft / sizeof *ttft));
    hist_init(&m->itl, itl, (int)(sizeof itl / sizeof *itl));
    hist_init(&m->e2e, e2e, (int)(sizeof e2e / sizeof *e2e));
}

void metrics_destroy(srv_metrics *m) { pthread_mutex_destroy(&m->lock); }

void metrics_count_status(srv_metrics *m, int status)
{
    if (status < 100 || status >= 600) return;
    pthread_mutex_lock(&m->lock);
    m->http_by_status[status]++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_ttft(srv_metrics *m, double s)
{
    pthread_mutex_lock(&m->lock);
    hist_add(&m->ttft, s);
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_itl(srv_metrics *m, double s)
{
    pthread_mutex_lock(&m->lock);
    hist_add(&m->itl, s);
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_request(srv_metrics *m, engine_finish why, double e2e_s, int32_t prompt_tokens,
                             int32_t generation_tokens)
{
    pthread_mutex_lock(&m->lock);
    if ((int)why >= 0 && (int)why < 5) m->finished_by_reason[why]++;
    hist_add(&m->e2e, e2e_s);
    m->prompt_tokens += (uint64_t)prompt_tokens;
    m->generation_tokens += (uint64_t)generation_tokens;
    pthread_mutex_unlock(&m->lock);
}

/* A growing text buffer for the exposition. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static void put(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return;
        b->p = np;
        b->cap = cap;
    }
}

static void head(sbuf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(sbuf *b, const char *name, const char *help, const char *labels,
                 const metrics_hist *h)
{
    head(b, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < h->n_bounds; i++) {
        cum += h->counts[i];
        put(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n_bounds];
    put(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
    put(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
        (unsigned long long)h->count);
}

char *metrics_render(srv_metrics *m, const engine_stats *es, const metrics_model_info *info)
{
    sbuf b = {0};
    char lab[320];
    /* Label values are escaped for \ and " by construction: model names come from
     * the file; strip the two characters rather than escape. */
    char name[256];
    size_t j = 0;
    for (const char *s = info->model_name; *s && j < sizeof name - 1; s++)
        if (*s != '"' && *s != '\\' && *s != '\n') name[j++] = *s;
    name[j] = '\0';
    snprintf(lab, sizeof lab, "model_name=\"%s\"", name);

    pthread_mutex_lock(&m->lock);
    srv_metrics c = *m; /* snapshot (the mutex field is not used from the copy) */
    pthread_mutex_unlock(&m->lock);

    head(&b, "vllm:num_requests_running", "gauge", "Sequences in the running batch.");
    put(&b, "vllm:num_requests_running{%s} %d\n", lab, es->running);
    head(&b, "vllm:num_requests_waiting", "gauge", "Requests waiting to be scheduled.");
    put(&b, "vllm:num_requests_waiting{%s} %d\n", lab, es->waiting);
    int32_t used = es->kv.owned_blocks;
    head(&b, "vllm:kv_cache_usage_perc", "gauge", "Fraction of KV blocks owned by sequences (1 = full).");
    put(&b, "vllm:kv_cache_usage_perc{%s} %.6f\n", lab,
        es->kv_blocks_total ? (double)used / es->kv_blocks_total : 0.0);
    head(&b, "vllm:prompt_tokens_total", "counter", "Prompt tokens of admitted requests.");
    put(&b, "vllm:prompt_tokens_total{%s} %llu\n", lab, (unsigned long long)es->prompt_tokens);
    head(&b, "vllm:generation_tokens_total", "counter", "Generated tokens.");
    put(&b, "vllm:generation_tokens_total{%s} %llu\n", lab, (unsigned long long)es->generation_tokens);
    head(&b, "vllm:num_preemptions_total", "counter", "Sequences preempted for lack of KV blocks.");
    put(&b, "vllm:num_preemptions_total{%s} %llu\n", lab, (unsigned long long)es->preemptions);
    head(&b, "vllm:request_success_total", "counter", "Finished requests by finish reason.");
    put(&b, "vllm:request_success_total{%s,finished_reason=\"stop\"} %llu\n", lab,
        (unsigned long long)c.finished_by_reason[ENGINE_FINISH_STOP]);
    put(&b, "vllm:request_success_total{%s,finished_reason=\"length\"} %llu\n", lab,
        (unsigned long long)c.finished_by_reason[ENGINE_FINISH_LENGTH]);
    put(&b, "vllm:request_success_total{%s,finished_reason=\"abort\"} %llu\n", lab,
        (unsigned long long)c.finished_by_reason[ENGINE_FINISH_CANCELLED]);
    head(&b, "vllm:prefix_cache_hits_total", "counter", "Prompt tokens served from the prefix cache.");
    put(&b, "vllm:prefix_cache_hits_total{%s} %llu\n", lab, (unsigned long long)es->kv.hit_tokens);
    hist(&b, "vllm:time_to_first_token_seconds", "Time from request to first token.", lab, &c.ttft);
    hist(&b, "vllm:inter_token_latency_seconds", "Time between consecutive tokens of a stream.", lab, &c.itl);
    hist(&b, "vllm:e2e_request_latency_seconds", "Time from request to last token.", lab, &c.e2e);

    head(&b, "inferd:http_responses_total", "counter", "HTTP responses by status code.");
    for (int s = 100; s < 600; s++)
        if (c.http_by_status[s]) put(&b, "inferd:http_responses_total{code=\"%d\"} %llu\n", s,
                                     (unsigned long long)c.http_by_status[s]);
    head(&b, "inferd:requests_cancelled_total", "counter", "Requests cancelled (client gone, stop string, shutdown).");
    put(&b, "inferd:requests_cancelled_total{%s} %llu\n", lab,
        (unsigned long long)c.finished_by_reason[ENGINE_FINISH_CANCELLED]);
    head(&b, "inferd:requests_failed_total", "counter", "Requests that failed inside the engine.");
    put(&b, "inferd:requests_failed_total{%s} %llu\n", lab,
        (unsigned long long)c.finished_by_reason[ENGINE_FINISH_ERROR]);
    head(&b, "inferd:kv_blocks_total", "gauge", "KV blocks in the pool.");
    put(&b, "inferd:kv_blocks_total{%s} %d\n", lab, es->kv_blocks_total);
    head(&b, "inferd:kv_blocks_used", "gauge", "KV blocks owned by running sequences.");
    put(&b, "inferd:kv_blocks_used{%s} %d\n", lab, used);
    head(&b, "inferd:kv_blocks_free", "gauge", "KV blocks free (never used or released without a hash).");
    put(&b, "inferd:kv_blocks_free{%s} %d\n", lab, es->kv.free_blocks);
    head(&b, "inferd:kv_blocks_cached", "gauge", "KV blocks held only by the prefix cache (evictable).");
    put(&b, "inferd:kv_blocks_cached{%s} %d\n", lab, es->kv.cached_blocks);
    head(&b, "inferd:kv_block_size_tokens", "gauge", "Tokens per KV block.");
    put(&b, "inferd:kv_block_size_tokens{%s} %d\n", lab, info->kv_block_size);
    head(&b, "inferd:prefix_cache_lookups_total", "counter", "Prefix-cache lookups (one per admitted sequence).");
    put(&b, "inferd:prefix_cache_lookups_total{%s} %llu\n", lab, (unsigned long long)es->kv.lookups);
    head(&b, "inferd:prefix_cache_hit_blocks_total", "counter", "Blocks reused from the prefix cache.");
    put(&b, "inferd:prefix_cache_hit_blocks_total{%s} %llu\n", lab, (unsigned long long)es->kv.hit_blocks);
    head(&b, "inferd:prefix_cache_misses_total", "counter", "Lookups that reused nothing.");
    put(&b, "inferd:prefix_cache_misses_total{%s} %llu\n", lab, (unsigned long long)es->kv.misses);
    head(&b, "inferd:prefix_cache_evictions_total", "counter", "Cached blocks evicted.");
    put(&b, "inferd:prefix_cache_evictions_total{%s} %llu\n", lab, (unsigned long long)es->kv.evictions);
    head(&b, "inferd:prefix_cache_bytes", "gauge", "Bytes of KV held only by the prefix cache.");
    put(&b, "inferd:prefix_cache_bytes{%s} %llu\n", lab, (unsigned long long)es->kv.cached_bytes);
    head(&b, "inferd:prefix_cache_budget_bytes", "gauge", "Byte budget of the prefix cache.");
    put(&b, "inferd:prefix_cache_budget_bytes{%s} %llu\n", lab,
        (unsigned long long)info->prefix_cache_budget_bytes);
    head(&b, "inferd:engine_steps_total", "counter", "Engine steps (model forwards).");
    put(&b, "inferd:engine_steps_total{%s} %llu\n", lab, (unsigned long long)es->steps);
    return b.p;
}
