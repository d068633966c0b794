/* prompts.h: the prompt set a benchmark sends, and its long system prompt.
 *
 * A prompt is a label (for the report's tables) and the chat messages sent to
 * /v1/chat/completions. The default set is the ten requests of the benchmark
 * inferd grew from, in its order, the last two repeating the first two (prefix
 * hits). A file gives one prompt per line: a JSON object {"prompt": "..."} or
 * {"messages": [...]} (an optional "label" names it), or a plain text line,
 * which is the user message itself; blank lines are skipped. */
#ifndef INFERD_BENCH_PROMPTS_H
#define INFERD_BENCH_PROMPTS_H

#include <stddef.h>

#include <jansson.h>

#include "core/error.h"

typedef struct bench_prompt {
    char *label;       /* short, one line, UTF-8 (owned) */
    json_t *messages;  /* array of {"role", "content"} (one reference owned) */
} bench_prompt;

typedef struct bench_prompts {
    bench_prompt *items;
    size_t n;
} bench_prompts;

/* Fills *out with the default set (10 prompts). Returns 0 or INF_ERR_NOMEM. */
int bench_prompts_default(bench_prompts *out, inf_error *err);

/* Parses a prompt file's text (len bytes, need not end in a newline). Errors
 * name the line: INF_ERR_FORMAT (bad JSON, invalid UTF-8, no prompt/messages,
 * wrong types), INF_ERR_INVALID (no prompt at all), INF_ERR_NOMEM. */
int bench_prompts_parse(const char *text, size_t len, bench_prompts *out, inf_error *err);

/* Reads and parses the file at path (INF_ERR_IO when it cannot be read). */
int bench_prompts_load(const char *path, bench_prompts *out, inf_error *err);

/* Frees the set; p may be NULL; *p is left empty. */
void bench_prompts_free(bench_prompts *p);

/* A long system prompt: the line `tag` (may be NULL) followed by deterministic
 * English prose of about n_tokens tokens (common words, each about one token in
 * the usual BPE vocabularies). Returns a malloc'd string, NULL when out of memory. */
char *bench_system_prompt(size_t n_tokens, const char *tag);

#endif
