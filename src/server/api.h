/* api.h: the OpenAI-compatible API's request model, shared by the route handlers.
 *
 * Parsing (api_params.c) turns a JSON body into a gen_request or an api_error in
 * OpenAI's shape: {"error": {"message", "type", "param", "code"}} with the HTTP
 * status. Rules: unknown fields are ignored; a known field of the wrong type, or a
 * value out of range, is a 400 naming the field. */
#ifndef INFERD_SERVER_API_H
#define INFERD_SERVER_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/request.h"
#include "server/textstream.h"

#define API_MAX_CHOICES 16
#define API_MAX_LOGIT_BIAS 1024

typedef struct api_error {
    int status;             /* HTTP status */
    const char *type;       /* "invalid_request_error", "authentication_error", ... */
    const char *code;       /* machine-readable code or NULL */
    char param[64];         /* the offending field, "" when none */
    char message[512];
} api_error;

/* Fills e and returns -1 (for `return api_fail(...)`). */
int api_fail(api_error *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* {"error": {...}} as a new JSON object. */
json_t *api_error_json(const api_error *e);

typedef struct gen_request {
    bool chat;                      /* /v1/chat/completions (else /v1/completions) */
    bool stream;
    bool include_usage;             /* stream_options.include_usage */
    const char *model;              /* borrowed from the body; NULL when absent */
    const json_t *messages;         /* chat: borrowed */
    const json_t *tools;            /* chat: borrowed or NULL */
    const json_t *template_kwargs;  /* chat_template_kwargs: borrowed or NULL */
    const char *prompt;             /* completions: text (borrowed) or NULL */
    size_t prompt_len;
    int32_t *prompt_ids;            /* completions: a token-id prompt (owned) or NULL */
    int32_t n_prompt_ids;
    int n;                          /* choices */
    bool logprobs;
    int top_logprobs;
    bool echo;                      /* completions: prepend the prompt (text only) */
    const char *stop[TS_MAX_STOP];  /* borrowed */
    int n_stop;
    sampler_bias bias[API_MAX_LOGIT_BIAS];
    int n_bias;
    engine_request_params params;   /* sampling (bias points into bias[]), max_tokens */
    bool max_tokens_given;
} gen_request;

/* Parses body for route chat/completions. n_vocab bounds logit_bias ids;
 * max_model_len bounds max_tokens. Returns 0 or -1 with e set. On success the
 * caller frees with gen_request_free (body must outlive the request). */
int api_parse_generate(const json_t *body, bool chat, int32_t n_vocab, int32_t max_model_len,
                       gen_request *out, api_error *e);
void gen_request_free(gen_request *g);

#endif
