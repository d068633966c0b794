/* bench.h: `inferd bench`, the phases of a benchmark run and their results.
 *
 * A run reproduces the benchmark inferd grew from against any OpenAI-compatible
 * server: phase 1 sends the prompt set once at concurrency 1, phase 2 sends it
 * at each --concurrency level, phase 3 sends a few prompts twice each (without
 * and then with a long shared system prompt) to see the prefix cache, and the
 * open-loop phase issues Poisson arrivals at --rate for --duration seconds.
 * bench_run_all fills a bench_run; summary.h, report.h turn it into tables,
 * JSON and SVG. The caller owns curl_global_init. One thread. */
#ifndef INFERD_BENCH_BENCH_H
#define INFERD_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/driver.h"
#include "bench/prompts.h"
#include "bench/sample.h"
#include "core/error.h"

enum {
    BENCH_PHASE_SEQ = 1,
    BENCH_PHASE_CONC = 2,
    BENCH_PHASE_PREFIX = 4,
    BENCH_PHASE_OPEN = 8,
};

#define BENCH_MAX_LEVELS 32

typedef struct bench_opts {
    const char *url;              /* server base URL */
    const char *model;            /* NULL: the first id of GET /v1/models */
    const char *api_key;          /* NULL: no Authorization header */
    const char *prompts_path;     /* NULL: the default set */
    unsigned phases;              /* BENCH_PHASE_* bits */
    size_t levels[BENCH_MAX_LEVELS]; /* concurrency levels of phase 2 */
    size_t n_levels;
    size_t requests;              /* requests per phase-2 level; 0: see docs/bench.md */
    int max_tokens;
    double temperature;
    bool ignore_eos;              /* ask the server to generate all max_tokens */
    double timeout_s;             /* per request */
    double duration_s, rate;      /* open loop: seconds, requests per second */
    size_t open_cap;              /* open loop: most requests in flight (0: no limit) */
    uint64_t seed;                /* Poisson arrivals */
    size_t system_tokens;         /* shared system prompt of phase 3 (0: skip that half) */
    size_t prefix_prompts;        /* prompts of phase 3 (3) */
    bool tty;                     /* progress bar (else one line per request) */
    bool quiet;                   /* no progress at all */
} bench_opts;

/* Fills o with the defaults of docs/bench.md (url and phases still to set). */
void bench_opts_default(bench_opts *o);

typedef enum bench_phase_kind {
    BENCH_SEQ,         /* phase 1 */
    BENCH_CONC,        /* phase 2, one per level */
    BENCH_PREFIX,      /* phase 3 without a system prompt */
    BENCH_PREFIX_SYS,  /* phase 3 with the long shared system prompt */
    BENCH_OPEN,        /* open-loop Poisson load */
} bench_phase_kind;

typedef struct bench_phase {
    bench_phase_kind kind;
    size_t concurrency;           /* most requests in flight; 0: no limit */
    double rate, duration_s;      /* BENCH_OPEN only */
    bench_sample *samples;        /* in job order (prefix phases: 1st, 2nd per prompt) */
    size_t n;
    double wall_s;                /* start of the phase -> end of its last request */
} bench_phase;

typedef struct bench_run {
    char *url, *model;            /* owned */
    char date[32];                /* UTC, "YYYY-MM-DD HH:MM UTC" */
    char prompts_source[256];     /* "default" or the file */
    int max_tokens;
    double temperature, timeout_s;
    size_t system_tokens;
    uint64_t seed;
    bench_prompts prompts;
    char *system_sample;          /* the system prompt of the first prefix pair (owned) */
    bench_phase *phases;
    size_t n_phases;
} bench_run;

/* Runs the phases of o and fills *out (free with bench_run_free, also after a
 * failure). Errors: what stops a run before or between phases: the prompt file
 * (INF_ERR_IO/FORMAT), model discovery (INF_ERR_IO...), out of memory. Failed
 * requests are not errors. */
int bench_run_all(const bench_opts *o, bench_run *out, inf_error *err);

/* Frees what r owns; r may be NULL. */
void bench_run_free(bench_run *r);

/* A phase's name for tables and progress: "seq", "c=4", "open 2/s", "prefix",
 * "prefix+system". */
void bench_phase_name(const bench_phase *ph, char *buf, size_t cap);

/* Open-loop arrival times: t_0 = 0, then exponential gaps of mean 1/rate from a
 * generator seeded with seed, while t < duration_s. Writes at most cap times;
 * returns how many there are (more than cap means the caller's array was short). */
size_t bench_poisson_times(double rate, double duration_s, uint64_t seed, double *t, size_t cap);

#endif
