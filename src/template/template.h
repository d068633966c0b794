/* template.h: chat templates, the Jinja subset that real model templates use.
 *
 * A model ships its prompt format as a Jinja template (GGUF key
 * tokenizer.chat_template). This module compiles such a template once, at model
 * load, and renders it for every request, byte for byte as Python jinja2 does in
 * the environment Hugging Face transformers builds for apply_chat_template:
 * trim_blocks and lstrip_blocks on, keep_trailing_newline off, a sandbox where
 * lists and dicts are immutable, jinja2.ext.loopcontrols (break/continue), the
 * {% generation %} tag, and the globals raise_exception(msg), strftime_now(fmt),
 * range, dict and namespace. tojson is transformers' override: json.dumps with
 * ensure_ascii=False and keys in insertion order (not jinja2's sorted, HTML-safe one).
 *
 * What is not supported fails at tmpl_compile with the construct named and its
 * line:column (an unknown statement, filter, test, method or function); there is
 * no silent fallback that would change the prompt. docs/templates.md lists the
 * subset.
 *
 * Threads: a compiled tmpl_template is immutable; any number of threads may
 * render it at once. Each render allocates its own scratch and frees it on return. */
#ifndef INFERD_TEMPLATE_TEMPLATE_H
#define INFERD_TEMPLATE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "core/error.h"

typedef struct tmpl_template tmpl_template;

/* Compiles len bytes of template source (UTF-8; need not be NUL-terminated).
 * On success *out is a new template (free with tmpl_free). On failure returns
 * INF_ERR_FORMAT (syntax error) or INF_ERR_UNSUPPORTED (a construct outside the
 * subset), and err says what and where: "line 3:14: unsupported filter 'wordwrap'".
 * Any thread. */
int tmpl_compile(const char *src, size_t len, tmpl_template **out, inf_error *err);

/* Reads a template file (e.g. --chat-template FILE) and compiles it, as above;
 * INF_ERR_IO when the file cannot be read. The message names the path. */
int tmpl_compile_file(const char *path, tmpl_template **out, inf_error *err);

/* Frees a template. NULL allowed. No render may be running on it. */
void tmpl_free(tmpl_template *t);

/* Bounds of one render, so that a hostile template cannot hang or exhaust the
 * process ({% for %} bombs, 'x' * 10**9, runaway recursion). Zero fields take
 * the defaults below. */
typedef struct tmpl_limits {
    size_t max_output;   /* bytes of rendered text and of any one string; default 64 MiB */
    size_t max_memory;   /* bytes of scratch for one render; default 512 MiB */
    uint64_t max_steps;  /* evaluated nodes and loop iterations; default 50 million */
    int max_depth;       /* nested macro calls; default 64 */
} tmpl_limits;

typedef struct tmpl_render_opts {
    tmpl_limits limits;
    time_t now;          /* what strftime_now() formats (local time); 0 = the clock */
} tmpl_render_opts;

/* Renders t with the variables of ctx (a JSON object; NULL = none). On success
 * *out is a malloc'd NUL-terminated string (the caller frees it) and *out_len
 * (when non-NULL) its length in bytes. When the template calls
 * raise_exception(msg), returns INF_ERR_INVALID with msg as the message; other
 * failures (a type error jinja2 would also raise, a limit) name the template
 * line. opts may be NULL. Any thread, concurrently on one template. */
int tmpl_render(const tmpl_template *t, const json_t *ctx, const tmpl_render_opts *opts,
                char **out, size_t *out_len, inf_error *err);

/* What the server and `inferd run --chat` pass besides the messages. Each field
 * is optional (NULL / false). */
typedef struct tmpl_chat_opts {
    const json_t *tools;        /* array of tool schemas; the template sees none when NULL */
    const json_t *documents;    /* array of documents (RAG templates); none when NULL */
    bool add_generation_prompt; /* end with the header of the assistant's turn */
    const char *bos_token;      /* the model's special tokens as text, e.g. "<s>" */
    const char *eos_token;
    const json_t *extra;        /* object of further variables: enable_thinking,
                                 * reasoning_effort, builtin_tools, ... */
    tmpl_render_opts render;
} tmpl_chat_opts;

/* Renders a chat the way transformers' apply_chat_template does: messages is a
 * JSON array of message objects ({"role": ..., "content": ...}, tool_calls, ...);
 * the template sees messages, tools, documents, add_generation_prompt,
 * bos_token, eos_token and every key of extra. As transformers does, a message's
 * reasoning under "reasoning_content", "thinking" or "reasoning" is also offered
 * under "thinking" and "reasoning_content", since templates read one or the other.
 * Returns and frees as tmpl_render; INF_ERR_INVALID if messages is not an array
 * of objects. Any thread. */
int tmpl_chat_render(const tmpl_template *t, const json_t *messages, const tmpl_chat_opts *opts,
                     char **out, size_t *out_len, inf_error *err);

#endif
