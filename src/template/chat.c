/* chat.c: tmpl_chat_render, the context transformers' apply_chat_template
 * builds around a list of messages.
 *
 * transformers renders with messages, tools (None when absent: templates test
 * "tools is not none"), documents (likewise), add_generation_prompt, the
 * tokenizer's special tokens as text, and the caller's extra keyword
 * arguments. Before that it copies a message's reasoning, found under
 * reasoning_content, thinking or reasoning, to both "thinking" (first key) and
 * "reasoning_content" (last key), since templates read one name or the other.
 * Doing the same here keeps prompts identical to the Python reference. */
#include "template/template.h"

#include <string.h>

static const char *const REASONING_FIELDS[] = {"reasoning_content", "thinking", "reasoning"};

/* A copy of msg with the reasoning aliases, or a new reference to msg itself. */
static json_t *alias_reasoning(json_t *msg)
{
    json_t *reasoning = NULL;
    for (size_t i = 0; i < sizeof REASONING_FIELDS / sizeof *REASONING_FIELDS && !reasoning; i++) {
        json_t *v = json_object_get(msg, REASONING_FIELDS[i]);
        if (v && !json_is_null(v)) reasoning = v;
    }
    if (!reasoning) return json_incref(msg);
    json_t *copy = json_object();
    if (!copy) return NULL;
    const char *key;
    json_t *val;
    int bad = json_object_set(copy, "thinking", reasoning);
    json_object_foreach(msg, key, val) bad |= json_object_set(copy, key, val);
    bad |= json_object_set(copy, "reasoning_content", reasoning);
    if (bad) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

int tmpl_chat_render(const tmpl_template *t, const json_t *messages, const tmpl_chat_opts *opts, char **out,
                     size_t *out_len, inf_error *err)
{
    static const tmpl_chat_opts none = {0};
    json_t *ctx = NULL, *msgs = NULL;
    int rc = INF_OK;
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!opts) opts = &none;
    if (!json_is_array(messages))
        return inf_errorf(err, INF_ERR_INVALID, "messages must be a JSON array");
    if (opts->extra && !json_is_object(opts->extra))
        return inf_errorf(err, INF_ERR_INVALID, "extra template variables must be a JSON object");
    ctx = json_object();
    msgs = json_array();
    if (!ctx || !msgs) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory building the chat context");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i);
        if (!json_is_object(m)) {
            rc = inf_errorf(err, INF_ERR_INVALID, "messages[%zu] must be a JSON object", i);
            goto out;
        }
        json_t *copy = alias_reasoning(m);
        if (!copy || json_array_append_new(msgs, copy) != 0) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory building the chat context");
            goto out;
        }
    }
    int bad = json_object_set(ctx, "messages", msgs);
    bad |= json_object_set_new(ctx, "tools", opts->tools ? json_incref((json_t *)opts->tools) : json_null());
    bad |= json_object_set_new(ctx, "documents",
                               opts->documents ? json_incref((json_t *)opts->documents) : json_null());
    bad |= json_object_set_new(ctx, "add_generation_prompt", json_boolean(opts->add_generation_prompt));
    if (opts->bos_token) bad |= json_object_set_new(ctx, "bos_token", json_string(opts->bos_token));
    if (opts->eos_token) bad |= json_object_set_new(ctx, "eos_token", json_string(opts->eos_token));
    if (opts->extra) bad |= json_object_update(ctx, (json_t *)opts->extra);
    if (bad) {
        rc = inf_errorf(err, INF_ERR_INVALID, "cannot build the chat context (special tokens must be UTF-8)");
        goto out;
    }
    rc = tmpl_render(t, ctx, &opts->render, out, out_len, err);
out:
    json_decref(msgs);
    json_decref(ctx);
    return rc;
}
