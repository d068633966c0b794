/* chunk.h: what one streamed chat-completion chunk says, for the benchmark.
 *
 * A chunk is the JSON of one SSE data event of /v1/chat/completions with
 * stream=true: {"choices":[{"delta":{"content":"..."}, "finish_reason":...}],
 * "usage":{...}}. The benchmark needs only how much content it carries (the
 * first non-empty one stops the TTFT clock), the usage counts when present,
 * the finish reason, and an error object that some servers send mid-stream.
 * "reasoning_content" counts as content: reasoning models stream their first
 * tokens there. Pure function, any thread. */
#ifndef INFERD_BENCH_CHUNK_H
#define INFERD_BENCH_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct bench_chunk {
    bool done;                   /* the data was the "[DONE]" sentinel */
    size_t content_len;          /* bytes of delta content (0: role-only, empty, none) */
    bool has_usage;              /* a non-null usage object with completion_tokens */
    long prompt_tokens;          /* -1 when usage lacks it */
    long completion_tokens;      /* valid when has_usage */
    char finish_reason[24];      /* "" when null or absent */
    bool has_error;              /* the chunk is {"error": ...} */
    char error[256];             /* its message, when has_error */
} bench_chunk;

/* Reads data[0..len) (the text of one SSE data event). Returns 0 with *out
 * filled, or INF_ERR_FORMAT with err saying what was wrong (invalid JSON, not
 * an object, a field of the wrong type). Never reads past len. */
int bench_chunk_parse(const char *data, size_t len, bench_chunk *out, inf_error *err);

#endif
