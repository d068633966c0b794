/* prompts.c: the default prompt set, prompt files and the long system prompt. */
#include "bench/prompts.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

static const struct { const char *label, *text; } defaults[] = {
    {"France capital", "What is the capital of France?"},
    {"TCP vs UDP", "Explain the difference between TCP and UDP."},
    {"Python prime function", "Write a Python function that checks whether a number is prime."},
    {"한국 수도/인구", "한국의 수도는 어디이며 인구는 얼마나 되나요?"},
    {"OOP principles", "Explain the four principles of object-oriented programming."},
    {"Python vs Rust", "Compare Python and Rust for systems programming."},
    {"AI haiku", "Write a haiku about artificial intelligence."},
    {"한국어→영어 번역",
     "다음 문장을 영어로 번역하세요: 오늘은 날씨가 정말 좋아서 공원에 산책하러 갔습니다."},
    {"France capital (prefix hit)", "What is the capital of France?"},
    {"TCP vs UDP (prefix hit)", "Explain the difference between TCP and UDP."},
};

/* Labels made from prompt text keep this many bytes at most (cut at a code point). */
#define LABEL_MAX 32

void bench_prompts_free(bench_prompts *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].label);
        json_decref(p->items[i].messages);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* Appends a prompt, taking ownership of label and messages (freed on failure). */
static int push(bench_prompts *p, size_t *cap, char *label, json_t *messages, inf_error *err)
{
    if (!label || !messages) goto nomem;
    if (p->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        bench_prompt *ni = realloc(p->items, c * sizeof *ni);
        if (!ni) goto nomem;
        p->items = ni;
        *cap = c;
    }
    p->items[p->n].label = label;
    p->items[p->n].messages = messages;
    p->n++;
    return 0;
nomem:
    free(label);
    json_decref(messages);
    return inf_errorf(err, INF_ERR_NOMEM, "prompts: out of memory");
}

static json_t *user_message(const char *text, size_t len)
{
    return json_pack("[{s:s, s:s%}]", "role", "user", "content", text, len);
}

int bench_prompts_default(bench_prompts *out, inf_error *err)
{
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        int rc = push(out, &cap, strdup(defaults[i].label),
                      user_message(defaults[i].text, strlen(defaults[i].text)), err);
        if (rc) {
            bench_prompts_free(out);
            return rc;
        }
    }
    return 0;
}

/* A one-line label from text: whitespace runs become one space, at most
 * LABEL_MAX bytes, cut at a word (or at least a code point) boundary, "..."
 * when cut. */
static char *make_label(const char *text, size_t len)
{
    char *s = malloc(LABEL_MAX + 4);
    if (!s) return NULL;
    size_t o = 0, i = 0;
    bool space = false, cut = false;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = true;
            i++;
            continue;
        }
        size_t k = utf8_lead_len(c) ? utf8_lead_len(c) : 1;
        if (i + k > len) k = len - i;
        if (o + (space ? 1 : 0) + k > LABEL_MAX) {
            cut = true;
            break;
        }
        if (space && o) s[o++] = ' ';
        space = false;
        memcpy(s + o, text + i, k);
        o += k;
        i += k;
    }
    if (cut) {
        /* End on a whole word when one ends past half the room. */
        size_t w = o;
        while (w > LABEL_MAX / 2 && s[w - 1] != ' ') w--;
        if (w > LABEL_MAX / 2) o = w - 1;
        memcpy(s + o, "...", 3);
        o += 3;
    }
    s[o] = '\0';
    return s;
}

/* The text a label is made from: the last user message's string content. */
static const char *label_source(json_t *messages, size_t *len)
{
    for (size_t i = json_array_size(messages); i-- > 0;) {
        json_t *m = json_array_get(messages, i);
        json_t *c = json_object_get(m, "content");
        if (json_is_string(c)) {
            *len = json_string_length(c);
            return json_string_value(c);
        }
    }
    *len = 0;
    return "";
}

static int check_messages(json_t *msgs, size_t line, inf_error *err)
{
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: \"messages\" must be a non-empty "
                          "array", line);
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        json_t *c = json_object_get(m, "content");
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")) ||
            !(json_is_string(c) || json_is_array(c)))
            return inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: messages[%zu] needs a "
                              "string \"role\" and a string or array \"content\"", line, i);
    }
    return 0;
}

/* One JSON line: {"prompt": "..."} or {"messages": [...]}, optional "label". */
static int parse_json_line(const char *s, size_t n, size_t line, bench_prompts *out, size_t *cap,
                           inf_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    json_t *msgs = NULL;
    char *label = NULL;
    int rc = 0;
    if (!root) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: invalid JSON (%s, column %d)",
                        line, je.text, je.column);
        goto out;
    }
    json_t *p = json_object_get(root, "prompt"), *m = json_object_get(root, "messages");
    json_t *l = json_object_get(root, "label");
    if (!json_is_object(root) || (!p && !m)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: expected an object with "
                        "\"prompt\" or \"messages\"", line);
        goto out;
    }
    if (l && !json_is_string(l)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: \"label\" is not a string", line);
        goto out;
    }
    if (m) {
        if ((rc = check_messages(m, line, err))) goto out;
        msgs = json_incref(m);
    } else if (!json_is_string(p)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: \"prompt\" is not a string", line);
        goto out;
    } else {
        msgs = user_message(json_string_value(p), json_string_length(p));
    }
    size_t ll = 0;
    const char *src = l ? json_string_value(l) : label_source(msgs, &ll);
    label = make_label(src, l ? json_string_length(l) : ll);
    rc = push(out, cap, label, msgs, err);
    msgs = NULL;
out:
    json_decref(msgs);
    json_decref(root);
    return rc;
}

int bench_prompts_parse(const char *text, size_t len, bench_prompts *out, inf_error *err)
{
    size_t cap = 0, line = 0, i = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        size_t a = i, b = j;
        line++;
        i = j + 1;
        while (b > a && (text[b - 1] == '\r' || text[b - 1] == ' ' || text[b - 1] == '\t')) b--;
        while (a < b && (text[a] == ' ' || text[a] == '\t')) a++;
        if (a == b) continue;
        if (line == 1 && b - a >= 3 && !memcmp(text + a, "\xEF\xBB\xBF", 3)) a += 3;
        size_t bad = 0;
        if (!utf8_validate(text + a, b - a, &bad)) {
            rc = inf_errorf(err, INF_ERR_FORMAT, "prompts line %zu: not valid UTF-8 (byte %zu)",
                            line, bad + 1);
            goto out;
        }
        if (text[a] == '{') {
            rc = parse_json_line(text + a, b - a, line, out, &cap, err);
        } else {
            rc = push(out, &cap, make_label(text + a, b - a), user_message(text + a, b - a), err);
        }
        if (rc) goto out;
    }
    if (out->n == 0) rc = inf_errorf(err, INF_ERR_INVALID, "prompts: the file holds no prompt");
out:
    if (rc) bench_prompts_free(out);
    return rc;
}

int bench_prompts_load(const char *path, bench_prompts *out, inf_error *err)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return inf_errorf(err, INF_ERR_IO, "%s: cannot open", path);
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = inf_errorf(err, INF_ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: read error", path);
        goto out;
    }
    rc = bench_prompts_parse(buf ? buf : "", len, out, err);
    if (rc) inf_error_prefix(err, "%s", path);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Vocabulary of the system prompt: common words that BPE vocabularies hold as
 * one token each (with their leading space). */
static const char *const words[] = {
    "the", "system", "data", "time", "model", "user", "request", "server", "memory",
    "cache", "token", "value", "result", "process", "network", "file", "table", "record",
    "query", "answer", "question", "reason", "method", "number", "order", "state", "change",
    "first", "next", "last", "each", "every", "some", "many", "most", "other", "new", "old",
    "small", "large", "fast", "slow", "good", "simple", "clear", "careful", "is", "are",
    "was", "can", "will", "should", "must", "may", "keeps", "reads", "writes", "sends",
    "takes", "gives", "makes", "finds", "uses", "holds", "and", "but", "so", "with", "for",
    "from", "into", "over", "under", "after", "before", "when", "where", "while",
};

char *bench_system_prompt(size_t n_tokens, const char *tag)
{
    static const char intro[] =
        "You are a careful assistant. The notes below are background material; use them "
        "only when they are relevant to the question.\n\n";
    size_t nw = sizeof words / sizeof words[0];
    size_t cap = strlen(intro) + (tag ? strlen(tag) + 1 : 0) + n_tokens * 12 + 64;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t o = 0;
    if (tag) o += (size_t)snprintf(s + o, cap - o, "%s\n", tag);
    o += (size_t)snprintf(s + o, cap - o, "%s", intro);
    /* A fixed linear congruential sequence: the same text on every run. */
    uint32_t x = 12345u;
    size_t toks = 0;
    while (toks < n_tokens) {
        size_t len = 8 + (x >> 16) % 9;
        for (size_t k = 0; k < len && toks < n_tokens; k++) {
            x = x * 1664525u + 1013904223u;
            const char *w = words[(x >> 8) % nw];
            size_t wl = strlen(w);
            if (o + wl + 4 >= cap) break;
            if (k == 0) {
                s[o++] = (char)(w[0] - 'a' + 'A');
                memcpy(s + o, w + 1, wl - 1);
                o += wl - 1;
            } else {
                s[o++] = ' ';
                memcpy(s + o, w, wl);
                o += wl;
            }
            toks++;
        }
        s[o++] = '.';
        toks++;
        if (toks < n_tokens) s[o++] = ' ';
        x = x * 1664525u + 1013904223u;
    }
    s[o] = '\0';
    return s;
}
