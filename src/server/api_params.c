/* api_params.c: OpenAI request bodies -> gen_request (api.h), with the checks
 * that make a bad request a clear 400 instead of anything worse. */
#include "server/api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_fail(api_error *e, int status, const char *param, const char *fmt, ...)
{
    e->status = status;
    e->type = status == 401   ? "authentication_error"
              : status == 404 ? "not_found_error"
              : status == 429 ? "rate_limit_error"
              : status >= 500 ? "server_error"
                              : "invalid_request_error";
    e->code = NULL;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *api_error_json(const api_error *e)
{
    return json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", e->message, "type", e->type,
                     "param", e->param[0] ? json_string(e->param) : json_null(), "code",
                     e->code ? json_string(e->code) : json_null());
}

/* A field that is absent or null counts as not given. */
static const json_t *field(const json_t *body, const char *key)
{
    const json_t *v = json_object_get(body, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_number(const json_t *body, const char *key, double lo, double hi, float *out,
                      api_error *e)
{
    const json_t *v = field(body, key);
    if (!v) return 0;
    if (!json_is_number(v)) return api_fail(e, 400, key, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
        return api_fail(e, 400, key, "'%s' must be between %g and %g (got %g)", key, lo, hi, x);
    *out = (float)x;
    return 0;
}

static int get_int(const json_t *body, const char *key, long long lo, long long hi,
                   long long *out, bool *given, api_error *e)
{
    const json_t *v = field(body, key);
    if (given) *given = v != NULL;
    if (!v) return 0;
    if (!json_is_integer(v)) return api_fail(e, 400, key, "'%s' must be an integer", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return api_fail(e, 400, key, "'%s' must be between %lld and %lld (got %lld)", key, lo, hi, x);
    *out = x;
    return 0;
}

static int get_bool(const json_t *body, const char *key, bool *out, api_error *e)
{
    const json_t *v = field(body, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return api_fail(e, 400, key, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

static int parse_stop(const json_t *body, gen_request *g, api_error *e)
{
    const json_t *v = field(body, "stop");
    if (!v) return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) > 0) g->stop[g->n_stop++] = json_string_value(v);
        return 0;
    }
    if (!json_is_array(v)) return api_fail(e, 400, "stop", "'stop' must be a string or a list of strings");
    if (json_array_size(v) > TS_MAX_STOP)
        return api_fail(e, 400, "stop", "at most %d stop strings", TS_MAX_STOP);
    size_t i;
    const json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) return api_fail(e, 400, "stop", "'stop' must be a list of strings");
        if (json_string_length(s) > 0) g->stop[g->n_stop++] = json_string_value(s);
    }
    return 0;
}

static int parse_logit_bias(const json_t *body, int32_t n_vocab, gen_request *g, api_error *e)
{
    const json_t *v = field(body, "logit_bias");
    if (!v) return 0;
    if (!json_is_object(v))
        return api_fail(e, 400, "logit_bias", "'logit_bias' must map token ids to numbers");
    if (json_object_size(v) > API_MAX_LOGIT_BIAS)
        return api_fail(e, 400, "logit_bias", "at most %d logit_bias entries", API_MAX_LOGIT_BIAS);
    const char *key;
    const json_t *b;
    json_object_foreach((json_t *)v, key, b) {
        char *end;
        long id = strtol(key, &end, 10);
        if (!*key || *end || id < 0 || id >= n_vocab)
            return api_fail(e, 400, "logit_bias", "logit_bias key '%s' is not a token id below %d",
                            key, n_vocab);
        if (!json_is_number(b) || json_number_value(b) < -100 || json_number_value(b) > 100)
            return api_fail(e, 400, "logit_bias", "logit_bias values must be numbers in [-100, 100]");
        g->bias[g->n_bias++] = (sampler_bias){.id = (int32_t)id, .bias = (float)json_number_value(b)};
    }
    return 0;
}

static int parse_messages(const json_t *body, gen_request *g, api_error *e)
{
    const json_t *m = field(body, "messages");
    if (!m) return api_fail(e, 400, "messages", "'messages' is required");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return api_fail(e, 400, "messages", "'messages' must be a non-empty list");
    size_t i;
    const json_t *msg;
    json_array_foreach(m, i, msg) {
        if (!json_is_object(msg))
            return api_fail(e, 400, "messages", "messages[%zu] must be an object", i);
        const json_t *role = json_object_get(msg, "role");
        if (!json_is_string(role))
            return api_fail(e, 400, "messages", "messages[%zu].role must be a string", i);
        const json_t *c = json_object_get(msg, "content");
        if (c && !json_is_null(c) && !json_is_string(c) && !json_is_array(c))
            return api_fail(e, 400, "messages",
                            "messages[%zu].content must be a string or a list of parts", i);
        if (json_is_array(c)) {
            size_t j;
            const json_t *part;
            json_array_foreach(c, j, part) {
                const json_t *type = json_object_get(part, "type");
                if (!json_is_object(part) || !json_is_string(type))
                    return api_fail(e, 400, "messages", "messages[%zu].content[%zu] must be a "
                                    "part object with a type", i, j);
                if (strcmp(json_string_value(type), "text") != 0)
                    return api_fail(e, 400, "messages", "messages[%zu].content[%zu]: only text "
                                    "parts are supported (got '%s')", i, j,
                                    json_string_value(type));
                if (!json_is_string(json_object_get(part, "text")))
                    return api_fail(e, 400, "messages", "messages[%zu].content[%zu].text must be "
                                    "a string", i, j);
            }
        }
    }
    g->messages = m;
    const json_t *tools = field(body, "tools");
    if (tools && !json_is_array(tools)) return api_fail(e, 400, "tools", "'tools' must be a list");
    g->tools = tools;
    const json_t *kw = field(body, "chat_template_kwargs");
    if (kw && !json_is_object(kw))
        return api_fail(e, 400, "chat_template_kwargs", "'chat_template_kwargs' must be an object");
    g->template_kwargs = kw;
    return 0;
}

static int parse_prompt(const json_t *body, int32_t n_vocab, gen_request *g, api_error *e)
{
    const json_t *p = field(body, "prompt");
    if (!p) return api_fail(e, 400, "prompt", "'prompt' is required");
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)))
        p = json_array_get(p, 0); /* a batch of one prompt */
    if (json_is_string(p)) {
        g->prompt = json_string_value(p);
        g->prompt_len = json_string_length(p);
        return 0;
    }
    if (!json_is_array(p) || json_array_size(p) == 0)
        return api_fail(e, 400, "prompt", "'prompt' must be a string or a non-empty list of "
                        "token ids (batches of several prompts are not supported)");
    size_t n = json_array_size(p);
    g->prompt_ids = malloc(n * sizeof *g->prompt_ids);
    if (!g->prompt_ids) return api_fail(e, 500, NULL, "out of memory");
    size_t i;
    const json_t *t;
    json_array_foreach(p, i, t) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= n_vocab)
            return api_fail(e, 400, "prompt", "prompt[%zu] must be a token id below %d", i, n_vocab);
        g->prompt_ids[i] = (int32_t)json_integer_value(t);
    }
    g->n_prompt_ids = (int32_t)n;
    return 0;
}

int api_parse_generate(const json_t *body, bool chat, int32_t n_vocab, int32_t max_model_len,
                       gen_request *g, api_error *e)
{
    memset(g, 0, sizeof *g);
    g->chat = chat;
    g->n = 1;
    sampler_params_init(&g->params.sampling);
    if (!json_is_object(body)) return api_fail(e, 400, NULL, "the request body must be a JSON object");

    const json_t *model = field(body, "model");
    if (model && !json_is_string(model)) return api_fail(e, 400, "model", "'model' must be a string");
    g->model = model ? json_string_value(model) : NULL;
    const json_t *user = field(body, "user");
    if (user && !json_is_string(user)) return api_fail(e, 400, "user", "'user' must be a string");

    if (chat ? parse_messages(body, g, e) : parse_prompt(body, n_vocab, g, e)) return -1;

    sampler_params *sp = &g->params.sampling;
    long long v = 0;
    bool given = false;
    if (get_bool(body, "stream", &g->stream, e)) return -1;
    const json_t *so = field(body, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return api_fail(e, 400, "stream_options", "'stream_options' must be an object");
        if (get_bool(so, "include_usage", &g->include_usage, e)) return -1;
    }
    if (get_int(body, "max_completion_tokens", 1, max_model_len, &v, &given, e)) return -1;
    if (given) g->params.max_tokens = (int32_t)v;
    if (!given) {
        if (get_int(body, "max_tokens", 1, max_model_len, &v, &given, e)) return -1;
        if (given) g->params.max_tokens = (int32_t)v;
    }
    g->max_tokens_given = given;
    if (get_number(body, "temperature", 0, 2, &sp->temperature, e)) return -1;
    if (get_number(body, "top_p", 1e-9, 1, &sp->top_p, e)) return -1;
    if (get_int(body, "top_k", -1, n_vocab, &v, &given, e)) return -1;
    if (given) sp->top_k = v < 0 ? 0 : (int32_t)v;
    if (get_number(body, "min_p", 0, 1, &sp->min_p, e)) return -1;
    if (get_number(body, "presence_penalty", -2, 2, &sp->presence_penalty, e)) return -1;
    if (get_number(body, "frequency_penalty", -2, 2, &sp->frequency_penalty, e)) return -1;
    if (get_number(body, "repetition_penalty", 1e-3, 10, &sp->repetition_penalty, e)) return -1;
    if (get_int(body, "seed", INT64_MIN, INT64_MAX, &v, &given, e)) return -1;
    if (given) {
        sp->has_seed = true;
        sp->seed = (uint64_t)v;
    }
    if (get_int(body, "n", 1, API_MAX_CHOICES, &v, &given, e)) return -1;
    if (given) g->n = (int)v;
    /* vLLM's extension: keep generating past end-of-generation tokens (benchmarks). */
    if (get_bool(body, "ignore_eos", &g->params.ignore_eos, e)) return -1;
    if (parse_stop(body, g, e)) return -1;
    if (parse_logit_bias(body, n_vocab, g, e)) return -1;
    sp->logit_bias = g->bias;
    sp->n_logit_bias = g->n_bias;

    if (chat) {
        if (get_bool(body, "logprobs", &g->logprobs, e)) return -1;
        if (get_int(body, "top_logprobs", 0, SAMPLER_MAX_LOGPROBS, &v, &given, e)) return -1;
        if (given) {
            if (!g->logprobs)
                return api_fail(e, 400, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
            g->top_logprobs = (int)v;
        }
    } else {
        /* Completions: logprobs is the number of alternatives (0..5 in OpenAI's API). */
        if (get_int(body, "logprobs", 0, SAMPLER_MAX_LOGPROBS, &v, &given, e)) return -1;
        if (given) {
            g->logprobs = true;
            g->top_logprobs = (int)v;
        }
        if (get_bool(body, "echo", &g->echo, e)) return -1;
    }
    g->params.logprobs = g->logprobs;
    sp->n_logprobs = g->top_logprobs;
    return 0;
}

void gen_request_free(gen_request *g)
{
    free(g->prompt_ids);
    g->prompt_ids = NULL;
}
