/* tok_tool: batch access to the tokenizer for the pytest conformance suites.
 *
 *   tok_tool MODEL.gguf [--add-special] [--parse-special] [--skip-special] [--strip-space]
 *
 * Reads one JSON value per line on stdin and writes one JSON line per input:
 *   "some text"   ->  [id, id, ...]           (or {"error": "..."})
 *   [id, id, ...] ->  {"text": "...", "chunks": ["...", ...]}
 * where chunks are what the streaming detokenizer handed out id by id (the
 * last chunk is the flush), so a test can check that each one is valid UTF-8
 * and that they add up to the text. A line "info" prints the vocabulary's
 * kind, size, flags and special ids. Strings may contain NUL (\u0000).
 *
 *   tok_tool --split FLAVOUR
 *
 * runs only the pre-tokenizer of a byte-level BPE flavour ("llama3", "qwen2",
 * ...): each input string -> the list of words it is cut into. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "tokenizer/tok_internal.h" /* the pre-tokenizer alone (--split) */
#include "tokenizer/tokenizer.h"

static void emit(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    puts(s ? s : "null");
    free(s);
    json_decref(j);
}

static json_t *tokenize(const tok_vocab *v, const char *s, size_t n, unsigned flags)
{
    tok_ids ids;
    tok_ids_init(&ids);
    inf_error err;
    if (tok_tokenize(v, s, n, flags, &ids, &err) != INF_OK)
        return json_pack("{s:s}", "error", err.msg);
    json_t *a = json_array();
    for (size_t i = 0; i < ids.n; i++) json_array_append_new(a, json_integer(ids.ids[i]));
    tok_ids_free(&ids);
    return a;
}

static json_t *decode(const tok_vocab *v, json_t *arr, unsigned flags)
{
    tok_detok *d = NULL;
    inf_error err;
    if (tok_detok_create(v, flags, &d, &err)) return json_pack("{s:s}", "error", err.msg);
    json_t *chunks = json_array();
    size_t cap = 256, m = 0;
    char *all = malloc(cap);
    size_t i;
    json_t *x;
    json_t *res = NULL;
    json_array_foreach(arr, i, x) {
        const char *t;
        size_t l;
        if (!json_is_integer(x) || tok_detok_feed(d, (tok_id)json_integer_value(x), &t, &l, &err)) {
            res = json_pack("{s:s}", "error", json_is_integer(x) ? err.msg : "not an id");
            goto out;
        }
        json_array_append_new(chunks, json_stringn_nocheck(t, l));
        while (m + l + 1 > cap) all = realloc(all, cap *= 2);
        memcpy(all + m, t, l);
        m += l;
    }
    const char *t;
    size_t l;
    tok_detok_flush(d, &t, &l);
    json_array_append_new(chunks, json_stringn_nocheck(t, l));
    while (m + l + 1 > cap) all = realloc(all, cap *= 2);
    memcpy(all + m, t, l);
    m += l;
    res = json_pack("{s:s%,s:O}", "text", all, m, "chunks", chunks);
out:
    json_decref(chunks);
    free(all);
    tok_detok_free(d);
    return res;
}

static int split_mode(const char *flavour)
{
    tok_pretok *p = NULL;
    inf_error err;
    if (tok_pretok_create(flavour, &p, &err)) {
        fprintf(stderr, "tok_tool: %s\n", err.msg);
        return 1;
    }
    tok_spans a = {0}, b = {0}, *words;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        const char *s = json_string_value(j);
        size_t len = json_string_length(j);
        if (!s || tok_pretok_split(p, s, len, &a, &b, &words, &err)) {
            emit(json_pack("{s:s}", "error", s ? err.msg : "expected a string"));
        } else {
            json_t *out = json_array();
            for (size_t i = 0; i < words->n; i++)
                json_array_append_new(out, json_stringn(s + words->start[i],
                                                        words->end[i] - words->start[i]));
            emit(out);
        }
        json_decref(j);
    }
    free(line);
    tok_spans_free(&a);
    tok_spans_free(&b);
    tok_pretok_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--split")) return split_mode(argv[2]);
    if (argc < 2) {
        fprintf(stderr, "usage: tok_tool MODEL.gguf [--add-special] [--parse-special] "
                        "[--skip-special] [--strip-space]\n");
        return 2;
    }
    unsigned tflags = 0, dflags = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--add-special")) tflags |= TOK_ADD_SPECIAL;
        else if (!strcmp(argv[i], "--parse-special")) tflags |= TOK_PARSE_SPECIAL;
        else if (!strcmp(argv[i], "--skip-special")) dflags |= TOK_DETOK_SKIP_SPECIAL;
        else if (!strcmp(argv[i], "--strip-space")) dflags |= TOK_DETOK_STRIP_SPACE;
        else {
            fprintf(stderr, "tok_tool: unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    inf_error err;
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    if (gguf_open(argv[1], &f, &err) || tok_vocab_load(f, &v, &err)) {
        fprintf(stderr, "tok_tool: %s: %s\n", argv[1], err.msg);
        gguf_close(f);
        return 1;
    }
    gguf_close(f);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (!strcmp(line, "info\n")) {
            json_t *sp = json_array();
            for (int s = 0; s < TOK_SPECIAL_COUNT; s++)
                json_array_append_new(sp, json_integer(tok_vocab_special(v, (tok_special)s)));
            emit(json_pack("{s:s,s:i,s:s,s:b,s:b,s:o}", "kind",
                           tok_vocab_kind(v) == TOK_KIND_SPM ? "spm" : tok_vocab_kind(v) == TOK_KIND_BPE ? "bpe" : "wpm", "size",
                           (int)tok_vocab_size(v), "pre", tok_vocab_pre(v), "add_bos",
                           tok_vocab_add_bos(v), "add_eos", tok_vocab_add_eos(v), "special", sp));
            continue;
        }
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (json_is_string(j)) emit(tokenize(v, json_string_value(j), json_string_length(j), tflags));
        else if (json_is_array(j)) emit(decode(v, j, dflags));
        else emit(json_pack("{s:s}", "error", j ? "expected a string or an array" : je.text));
        json_decref(j);
        fflush(stdout);
    }
    free(line);
    tok_vocab_free(v);
    return 0;
}
