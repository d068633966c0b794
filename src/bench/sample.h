/* sample.h: the raw figures of one benchmark request, and what follows from them.
 *
 * Times are seconds on the monotonic clock, relative to the start of the phase
 * the request belongs to. The derived figures follow the benchmark inferd grew
 * from and vLLM's benchmark_serving definitions (docs/bench.md):
 *   TTFT        = first content chunk - send
 *   prefill t/s = prompt_tokens / TTFT
 *   decode t/s  = completion_tokens / (end - first content chunk)
 *   overall t/s = completion_tokens / (end - send)
 *   TPOT        = (end - first content chunk) / (completion_tokens - 1)
 *   ITL         = the gaps between successive content chunks
 * Each is NaN where it is undefined (failed request, unknown prompt tokens, a
 * single token). Pure functions, any thread. */
#ifndef INFERD_BENCH_SAMPLE_H
#define INFERD_BENCH_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>

/* Why a request failed; every kind is counted per phase, none stops the run. */
typedef enum bench_fail {
    BENCH_FAIL_NONE = 0,
    BENCH_FAIL_CONNECT,      /* name resolution or TCP connect failed */
    BENCH_FAIL_TIMEOUT,      /* --timeout passed before the stream ended */
    BENCH_FAIL_HTTP,         /* the status was not 2xx (message from the body) */
    BENCH_FAIL_MALFORMED,    /* an SSE data event was not a valid chunk */
    BENCH_FAIL_STREAM_ERROR, /* the server sent {"error": ...} inside the stream */
    BENCH_FAIL_TRUNCATED,    /* the stream ended (or the connection closed) before [DONE] */
    BENCH_FAIL_EMPTY,        /* the stream finished without any content */
    BENCH_FAIL_TRANSPORT,    /* any other transfer failure (reset, bad HTTP, ...) */
    BENCH_FAIL_COUNT
} bench_fail;

/* A short name for the kind ("connect", "timeout", "http", ...). */
const char *bench_fail_name(bench_fail f);

typedef struct bench_sample {
    size_t prompt;             /* index in the prompt set */
    const char *label;         /* the prompt's label (borrowed from the set) */
    bool system;               /* sent with the long shared system prompt */
    double t_sched;            /* when the request was due (open loop), else 0 */
    double t_send;             /* when it was handed to the transport */
    double ttft;               /* seconds; NaN without content */
    double latency;            /* send -> end of stream (or failure) */
    long prompt_tokens;        /* from usage; -1 unknown */
    long completion_tokens;    /* from usage, or content chunks when !usage */
    bool usage;                /* token counts came from the server's usage chunk */
    size_t n_chunks;           /* chunks with non-empty content */
    double *itl;               /* n_itl gaps between content chunks (owned) */
    size_t n_itl;
    char finish_reason[24];
    bench_fail fail;           /* BENCH_FAIL_NONE when the request succeeded */
    long http_status;          /* 0 when no response arrived */
    char *message;             /* what went wrong (owned), NULL when ok */
    size_t n_malformed;        /* data events that did not parse */
} bench_sample;

/* Frees what s owns (itl, message); s may be NULL. */
void bench_sample_clear(bench_sample *s);

double bench_sample_prefill_tps(const bench_sample *s);
double bench_sample_decode_tps(const bench_sample *s);
double bench_sample_overall_tps(const bench_sample *s);
double bench_sample_tpot(const bench_sample *s);

#endif
