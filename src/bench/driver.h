/* driver.h: sends a list of streamed chat requests with libcurl and measures them.
 *
 * One thread drives every request through libcurl's multi interface, so a
 * thousand concurrent streams cost one thread and one poll loop. Each job
 * becomes due at its t_sched (0 for closed-loop phases; Poisson arrival times
 * for open-loop load) and starts when it is due and fewer than max_inflight
 * requests are running; it is timed from the moment it is handed to libcurl.
 * Failures of single requests (connect, timeout, HTTP status, malformed or cut
 * streams) are recorded in their sample, never returned: the run goes on. */
#ifndef INFERD_BENCH_DRIVER_H
#define INFERD_BENCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "bench/prompts.h"
#include "bench/sample.h"
#include "core/error.h"

typedef struct bench_target {
    const char *chat_url;   /* full URL of the chat completions route */
    const char *api_key;    /* sent as "Authorization: Bearer KEY"; NULL: none */
    const char *model;      /* "model" of every request */
    int max_tokens;
    double temperature;
    bool ignore_eos;        /* send "ignore_eos": true (vLLM, llama.cpp and inferd know it) */
    double timeout_s;       /* whole-request limit, connect included */
} bench_target;

typedef struct bench_job {
    size_t prompt;          /* index in the prompt set */
    const char *system;     /* a system message put before the prompt's messages, or NULL */
    double t_sched;         /* seconds after the start when the job is due */
} bench_job;

/* Called after each request ends (s is its sample) and, between ends, about
 * five times a second with s == NULL, on the driving thread. */
typedef void (*bench_progress_fn)(void *ud, const bench_sample *s, size_t done, size_t total,
                                  double elapsed_s);

/* Runs jobs[0..n) (sorted by t_sched) with at most max_inflight at once (0: no
 * limit) and fills out[0..n) (the caller frees each with bench_sample_clear).
 * *wall_s is the time from the start to the end of the last request. Returns 0,
 * or INF_ERR_NOMEM / INF_ERR_INTERNAL when libcurl itself cannot be set up;
 * out is then still valid to clear. curl_global_init must have been called. */
int bench_drive(const bench_target *t, const bench_prompts *p, const bench_job *jobs, size_t n,
                size_t max_inflight, bench_sample *out, double *wall_s, bench_progress_fn fn,
                void *ud, inf_error *err);

/* The JSON body of one request (malloc'd), NULL when out of memory. */
char *bench_request_body(const bench_target *t, const bench_prompt *p, const char *system);

#endif
