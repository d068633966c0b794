/* tmpl_render: renders a chat template for the pytest differential suite.
 *
 *   tmpl_render [--chat] [--batch] [--now EPOCH] TEMPLATE_FILE CONTEXT_JSON_FILE
 *
 * Without --chat the context object is handed to tmpl_render as is. With
 * --chat it is split the way tmpl_chat_render takes it: "messages", "tools",
 * "documents", "add_generation_prompt", "bos_token", "eos_token", and every
 * other key as an extra variable. The rendered bytes go to stdout; an error
 * goes to stderr with exit status 2 (compile) or 1 (render); 3 is misuse.
 * With --batch the file holds a JSON array of contexts, each rendered in turn;
 * for each, stdout gets "STATUS LENGTH\n" (status as above), then LENGTH bytes
 * (the text, or the error message), then "\n"; the exit status is 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

/* Renders one context; 0 and *out on success, 1 and err otherwise. */
static int render_one(const tmpl_template *t, json_t *ctx, int chat, time_t now, char **out, size_t *len,
                      inf_error *err)
{
    int rc;
    if (chat) {
        tmpl_chat_opts o = {0};
        json_t *v;
        o.render.now = now;
        if ((v = json_object_get(ctx, "tools")) && !json_is_null(v)) o.tools = v;
        if ((v = json_object_get(ctx, "documents")) && !json_is_null(v)) o.documents = v;
        o.add_generation_prompt = json_is_true(json_object_get(ctx, "add_generation_prompt"));
        o.bos_token = json_string_value(json_object_get(ctx, "bos_token"));
        o.eos_token = json_string_value(json_object_get(ctx, "eos_token"));
        json_t *extra = json_deep_copy(ctx);
        static const char *const known[] = {"messages", "tools", "documents", "add_generation_prompt",
                                            "bos_token", "eos_token"};
        for (size_t i = 0; i < sizeof known / sizeof *known; i++) json_object_del(extra, known[i]);
        o.extra = extra;
        json_t *msgs = json_object_get(ctx, "messages");
        json_t *none = json_array();
        rc = tmpl_chat_render(t, msgs ? msgs : none, &o, out, len, err);
        json_decref(none);
        json_decref(extra);
    } else {
        tmpl_render_opts o = {.now = now};
        rc = tmpl_render(t, ctx, &o, out, len, err);
    }
    return rc == INF_OK ? 0 : 1;
}

static void frame(int status, const char *p, size_t n)
{
    printf("%d %zu\n", status, n);
    fwrite(p, 1, n, stdout);
    putchar('\n');
}

int main(int argc, char **argv)
{
    int chat = 0, batch = 0, argi = 1;
    time_t now = 0;
    for (; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi++) {
        if (strcmp(argv[argi], "--chat") == 0) chat = 1;
        else if (strcmp(argv[argi], "--batch") == 0) batch = 1;
        else if (strcmp(argv[argi], "--now") == 0 && argi + 1 < argc) now = (time_t)atoll(argv[++argi]);
        else break;
    }
    if (argc - argi != 2) {
        fprintf(stderr, "usage: tmpl_render [--chat] [--batch] [--now EPOCH] TEMPLATE_FILE CONTEXT_JSON_FILE\n");
        return 3;
    }
    inf_error err = {0};
    tmpl_template *t = NULL;
    json_t *ctx = NULL;
    char *out = NULL;
    size_t len = 0;
    int status = 0;
    json_error_t jerr;
    ctx = json_load_file(argv[argi + 1], 0, &jerr);
    if (batch ? !json_is_array(ctx) : !json_is_object(ctx)) {
        fprintf(stderr, "%s: not a JSON %s (%s)\n", argv[argi + 1], batch ? "array" : "object", jerr.text);
        status = 3;
        goto out;
    }
    int crc = tmpl_compile_file(argv[argi], &t, &err);
    if (batch) {
        for (size_t i = 0; i < json_array_size(ctx); i++) {
            if (crc != INF_OK) {
                frame(2, err.msg, strlen(err.msg));
                continue;
            }
            inf_error e = {0};
            if (render_one(t, json_array_get(ctx, i), chat, now, &out, &len, &e) == 0) frame(0, out, len);
            else frame(1, e.msg, strlen(e.msg));
            free(out);
            out = NULL;
        }
        goto out;
    }
    if (crc != INF_OK) {
        fprintf(stderr, "%s\n", err.msg);
        status = 2;
        goto out;
    }
    if (render_one(t, ctx, chat, now, &out, &len, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        status = 1;
        goto out;
    }
    fwrite(out, 1, len, stdout);
out:
    free(out);
    json_decref(ctx);
    tmpl_free(t);
    return status;
}
