/* metrics.h: the server's counters and latency histograms, rendered as Prometheus
 * text for GET /metrics. vLLM's metric names (vllm:*) where the meaning is the
 * same, so existing dashboards work; inferd:* for the rest. docs/metrics.md lists
 * every name. All functions are thread-safe. */
#ifndef INFERD_SERVER_METRICS_H
#define INFERD_SERVER_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "engine/engine.h"

#define METRICS_MAX_BUCKETS 24

typedef struct metrics_hist {
    int n_bounds;
    double bounds[METRICS_MAX_BUCKETS];   /* upper bounds, seconds */
    uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last = +Inf */
    double sum;
    uint64_t count;
} metrics_hist;

typedef struct srv_metrics {
    pthread_mutex_t lock;
    uint64_t http_by_status[600];   /* responses by HTTP status */
    uint64_t finished_by_reason[5]; /* engine_finish */
    metrics_hist ttft;              /* time to first token */
    metrics_hist itl;               /* inter-token latency */
    metrics_hist e2e;               /* end-to-end request latency */
    metrics_hist queue;             /* time from submit to first scheduling */
    uint64_t prompt_tokens, generation_tokens;
} srv_metrics;

void metrics_init(srv_metrics *m);
void metrics_destroy(srv_metrics *m);
void metrics_count_status(srv_metrics *m, int status);
void metrics_observe_ttft(srv_metrics *m, double s);
void metrics_observe_itl(srv_metrics *m, double s);
/* A finished request: its reason, end-to-end latency and token counts. */
void metrics_observe_request(srv_metrics *m, engine_finish why, double e2e_s, int32_t prompt_tokens,
                             int32_t generation_tokens);

typedef struct metrics_model_info {
    const char *model_name;
    int32_t kv_block_size;
    uint64_t kv_bytes_per_block;
    uint64_t prefix_cache_budget_bytes;
} metrics_model_info;

/* Prometheus text exposition (format 0.0.4); malloc'd, caller frees. */
char *metrics_render(srv_metrics *m, const engine_stats *es, const metrics_model_info *info);

#endif
