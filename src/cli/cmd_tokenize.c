/* cmd_tokenize.c: `inferd tokenize`, text -> ids and pieces with a model's
 * vocabulary, or ids -> text with --decode. All the work is in tokenizer/. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/utf8.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd tokenize -m MODEL.gguf [options] [TEXT]\n"
            "       inferd tokenize -m MODEL.gguf --decode ID,ID,...\n"
            "\n"
            "Tokenizes TEXT (or standard input when TEXT is absent) with the model's\n"
            "vocabulary and prints one token per line: id and piece.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE   GGUF file whose vocabulary to use (required)\n"
            "  --no-bos           add no BOS/EOS (default: as the model's add_bos/add_eos say)\n"
            "  --parse-special    control tokens written in the text (<|im_end|>, ...) become\n"
            "                     those tokens; by default they are tokenized as plain text\n"
            "  --json             print one JSON object {\"ids\": [...], \"pieces\": [...]}\n"
            "  --decode IDS       print the text of comma-separated ids instead\n"
            "  --skip-special     with --decode: leave out control tokens\n"
            "  -h, --help         this help\n"
            "\n"
            "A piece is the text a token stands for; a piece that is only part of a UTF-8\n"
            "character (byte tokens) is shown as the token's vocabulary text instead.\n"
            "Text must be valid UTF-8: otherwise the error names the first bad byte's offset.\n");
}

/* Reads all of stdin into a malloc'd buffer. */
static int read_stdin(char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (;;) {
        if (n == cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g) {
                free(buf);
                return -1;
            }
            buf = g;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Prints s[0..n) between quotes with C escapes for what a terminal would hide. */
static void print_quoted(const char *s, size_t n)
{
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\'') fputs("\\'", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else if (c >= 0x80 && !utf8_decode(s + i, n - i, NULL)) printf("\\x%02x", c);
        else if (c >= 0x80) {
            size_t l = utf8_decode(s + i, n - i, NULL);
            fwrite(s + i, 1, l, stdout);
            i += l - 1;
        } else putchar(c);
    }
    putchar('\'');
}

static const char *display_piece(const tok_vocab *v, tok_id id, size_t *len)
{
    const char *p = tok_token_piece(v, id, len);
    if (p && utf8_validate(p, *len, NULL)) return p;
    return tok_token_text(v, id, len);
}

static int parse_ids(const char *s, tok_ids *ids)
{
    while (*s) {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (end == s || errno || x < INT32_MIN || x > INT32_MAX) return -1;
        if (tok_ids_push(ids, (tok_id)x)) return -1;
        s = end;
        while (*s == ' ') s++;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return 0;
}

static int do_decode(const tok_vocab *v, const char *list, bool json, unsigned flags)
{
    int rc = 1;
    tok_ids ids;
    tok_ids_init(&ids);
    char *text = NULL;
    size_t len;
    inf_error err;
    if (parse_ids(list, &ids)) {
        fprintf(stderr, "inferd tokenize: --decode wants comma-separated ids, got '%s'\n", list);
        rc = 2;
        goto out;
    }
    if (tok_decode(v, ids.ids, ids.n, flags | TOK_DETOK_STRIP_SPACE, &text, &len, &err)) {
        fprintf(stderr, "inferd tokenize: %s\n", err.msg);
        goto out;
    }
    if (json) {
        json_t *j = json_pack("{s:s%}", "text", text, len);
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s ? s : "null");
        free(s);
        json_decref(j);
    } else {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    rc = 0;
out:
    free(text);
    tok_ids_free(&ids);
    return rc;
}

static int do_tokenize(const tok_vocab *v, const char *text, size_t len, unsigned flags, bool json)
{
    tok_ids ids;
    tok_ids_init(&ids);
    inf_error err;
    if (tok_tokenize(v, text, len, flags, &ids, &err)) {
        fprintf(stderr, "inferd tokenize: %s\n", err.msg);
        return 1;
    }
    if (json) {
        json_t *a = json_array(), *p = json_array();
        for (size_t i = 0; i < ids.n; i++) {
            size_t pl;
            const char *piece = display_piece(v, ids.ids[i], &pl);
            json_array_append_new(a, json_integer(ids.ids[i]));
            json_array_append_new(p, json_stringn(piece, pl));
        }
        json_t *j = json_pack("{s:o,s:o}", "ids", a, "pieces", p);
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s ? s : "null");
        free(s);
        json_decref(j);
    } else {
        for (size_t i = 0; i < ids.n; i++) {
            size_t pl;
            const char *piece = display_piece(v, ids.ids[i], &pl);
            printf("%8d  ", (int)ids.ids[i]);
            print_quoted(piece, pl);
            putchar('\n');
        }
    }
    tok_ids_free(&ids);
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL, *decode = NULL;
    bool json = false, no_bos = false, parse_special = false, skip_special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--decode")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "inferd tokenize: %s needs a value\n", a);
                return 2;
            }
            if (!strcmp(a, "--decode")) decode = argv[++i];
            else model = argv[++i];
        } else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--no-bos")) no_bos = true;
        else if (!strcmp(a, "--parse-special")) parse_special = true;
        else if (!strcmp(a, "--skip-special")) skip_special = true;
        else if (!strcmp(a, "--")) {
            if (i + 1 < argc) text = argv[i + 1];
            if (i + 2 < argc) {
                fprintf(stderr, "inferd tokenize: one TEXT argument at most (quote it)\n");
                return 2;
            }
            break;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "inferd tokenize: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (text) {
            fprintf(stderr, "inferd tokenize: one TEXT argument at most (quote it)\n");
            return 2;
        } else text = a;
    }
    if (!model) {
        fprintf(stderr, "inferd tokenize: -m MODEL.gguf is required (see --help)\n");
        return 2;
    }
    if (decode && text) {
        fprintf(stderr, "inferd tokenize: --decode takes no TEXT\n");
        return 2;
    }

    int rc = 1;
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    char *input = NULL;
    inf_error err;
    if (gguf_open(model, &f, &err) || tok_vocab_load(f, &v, &err)) {
        fprintf(stderr, "inferd tokenize: %s: %s\n", model, err.msg);
        goto out;
    }
    if (decode) {
        rc = do_decode(v, decode, json, skip_special ? TOK_DETOK_SKIP_SPECIAL : 0);
        goto out;
    }
    size_t len;
    if (text) {
        len = strlen(text);
    } else {
        if (read_stdin(&input, &len)) {
            fprintf(stderr, "inferd tokenize: cannot read standard input\n");
            goto out;
        }
        text = input;
    }
    unsigned flags = (no_bos ? 0 : TOK_ADD_SPECIAL) | (parse_special ? TOK_PARSE_SPECIAL : 0);
    rc = do_tokenize(v, text, len, flags, json);
out:
    free(input);
    tok_vocab_free(v);
    gguf_close(f);
    return rc;
}
