/* chunk.c: reading one streamed chunk (chunk.h) with jansson. */
#include "bench/chunk.h"

#include <string.h>

#include <jansson.h>

static void copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Adds the length of a delta's string field; a present non-string is an error. */
static int add_text(json_t *delta, const char *key, size_t *len, inf_error *err)
{
    json_t *v = json_object_get(delta, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v))
        return inf_errorf(err, INF_ERR_FORMAT, "chunk: choices[0].delta.%s is not a string", key);
    *len += json_string_length(v);
    return 0;
}

static int read_usage(json_t *usage, bench_chunk *out, inf_error *err)
{
    if (!usage || json_is_null(usage)) return 0;
    if (!json_is_object(usage)) return inf_errorf(err, INF_ERR_FORMAT, "chunk: usage is not an object");
    json_t *ct = json_object_get(usage, "completion_tokens");
    json_t *pt = json_object_get(usage, "prompt_tokens");
    if (ct && !json_is_integer(ct))
        return inf_errorf(err, INF_ERR_FORMAT, "chunk: usage.completion_tokens is not an integer");
    if (pt && !json_is_null(pt) && !json_is_integer(pt))
        return inf_errorf(err, INF_ERR_FORMAT, "chunk: usage.prompt_tokens is not an integer");
    if (ct) {
        out->has_usage = true;
        out->completion_tokens = (long)json_integer_value(ct);
        if (pt && json_is_integer(pt)) out->prompt_tokens = (long)json_integer_value(pt);
    }
    return 0;
}

int bench_chunk_parse(const char *data, size_t len, bench_chunk *out, inf_error *err)
{
    memset(out, 0, sizeof *out);
    out->prompt_tokens = -1;
    /* The sentinel may carry stray whitespace on servers that pad lines. */
    size_t a = 0, b = len;
    while (a < b && (data[a] == ' ' || data[a] == '\t')) a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t')) b--;
    if (b - a == 6 && !memcmp(data + a, "[DONE]", 6)) {
        out->done = true;
        return 0;
    }
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    int rc = 0;
    if (!root) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "chunk is not valid JSON (%s at byte %d)", je.text,
                        je.position);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "chunk is JSON but not an object");
        goto out;
    }
    json_t *e = json_object_get(root, "error");
    if (e && !json_is_null(e)) {
        json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
        out->has_error = true;
        copy_str(out->error, sizeof out->error,
                 json_is_string(m) ? json_string_value(m) : "(error without a message)");
        goto out;
    }
    if ((rc = read_usage(json_object_get(root, "usage"), out, err))) goto out;
    json_t *choices = json_object_get(root, "choices");
    if (!choices || json_is_null(choices)) goto out;
    if (!json_is_array(choices)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "chunk: choices is not an array");
        goto out;
    }
    if (json_array_size(choices) == 0) goto out;
    json_t *c0 = json_array_get(choices, 0);
    if (!json_is_object(c0)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "chunk: choices[0] is not an object");
        goto out;
    }
    json_t *fr = json_object_get(c0, "finish_reason");
    if (json_is_string(fr)) copy_str(out->finish_reason, sizeof out->finish_reason,
                                     json_string_value(fr));
    json_t *delta = json_object_get(c0, "delta");
    if (delta && !json_is_null(delta)) {
        if (!json_is_object(delta)) {
            rc = inf_errorf(err, INF_ERR_FORMAT, "chunk: choices[0].delta is not an object");
            goto out;
        }
        if ((rc = add_text(delta, "content", &out->content_len, err))) goto out;
        if ((rc = add_text(delta, "reasoning_content", &out->content_len, err))) goto out;
    } else {
        /* Completion-style chunks carry "text" instead of a delta. */
        json_t *t = json_object_get(c0, "text");
        if (json_is_string(t)) out->content_len = json_string_length(t);
    }
out:
    json_decref(root);
    return rc;
}
