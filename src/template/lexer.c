/* lexer.c: template source -> tokens, with jinja2's whitespace control.
 *
 * The rules follow jinja2's lexer under transformers' settings:
 *   - newlines (\r\n, \r, \n) become \n, and one trailing newline is dropped
 *     (keep_trailing_newline=False);
 *   - "{%-", "{{-", "{#-" strip all whitespace before the tag; "-%}", "-}}",
 *     "-#}" all whitespace after it;
 *   - lstrip_blocks: spaces and tabs between the start of a line and a "{%" or
 *     "{#" are dropped, unless the tag is written "{%+";
 *   - trim_blocks: the first newline after "%}" or "#}" is dropped, unless the
 *     tag ends "+%}";
 *   - {% raw %}...{% endraw %} is text.
 * "Whitespace" is Python's str.isspace(), as the regexes jinja2 uses. Inside a
 * tag, "}}" or "%}" ends it only when brackets are balanced (as in jinja2, so
 * that {{ {'a': {'b': 1}} }} lexes). */
#include "template/tmpl_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Lexing and its scratch live in the template's arena; tokens are temporary,
 * but the strings they carry become AST constants. */
typedef struct lexer {
    tmpl_arena *a;
    inf_error *err;
    const char *s;       /* normalized source */
    size_t n;
    size_t pos;
    bool line_starting;  /* the last thing consumed ended with a newline */
    ttok *toks;
    size_t n_toks, cap;
    int bracket_depth;
} lexer;

/* line:column of byte offset off (1-based; columns count code points). */
static void where(const lexer *L, size_t off, int *line, int *col)
{
    int ln = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < off && i < L->n; i++)
        if (L->s[i] == '\n') {
            ln++;
            line_start = i + 1;
        }
    *line = ln;
    *col = (int)tmpl_utf8_count(L->s + line_start, off - line_start) + 1;
}

static int fail(lexer *L, size_t off, int code, const char *msg, const char *detail)
{
    int line, col;
    where(L, off, &line, &col);
    return inf_errorf(L->err, code, "line %d:%d: %s%s", line, col, msg, detail ? detail : "");
}

static int nomem(lexer *L)
{
    return inf_errorf(L->err, INF_ERR_NOMEM, "template too large to compile");
}

static ttok *push(lexer *L, int kind, size_t off, size_t len)
{
    if (L->n_toks == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        ttok *nt = tmpl_arena_alloc(L->a, cap * sizeof *nt);
        if (!nt) return NULL;
        if (L->n_toks) memcpy(nt, L->toks, L->n_toks * sizeof *nt);
        L->toks = nt;
        L->cap = cap;
    }
    ttok *t = &L->toks[L->n_toks++];
    memset(t, 0, sizeof *t);
    t->kind = (uint8_t)kind;
    t->p = L->s + off;
    t->len = len;
    /* Lines are filled in one pass at the end (where() per token would be quadratic). */
    t->line = (int)off;
    return t;
}

static tstr *mkstr(lexer *L, const char *p, size_t n)
{
    tstr *s = tmpl_arena_alloc(L->a, sizeof *s + n + 1);
    if (!s) return NULL;
    s->len = n;
    if (n) memcpy(s->s, p, n);
    s->s[n] = '\0';
    return s;
}

/* Length of the whitespace run at s[i] (Python isspace). */
static size_t space_run(const char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n) {
        size_t k = j;
        uint32_t cp = tmpl_utf8_next(s, n, &k);
        if (!tmpl_uni_space(cp)) break;
        j = k;
    }
    return j - i;
}

/* Length of text once trailing whitespace is stripped (str.rstrip()). */
static size_t rstrip_len(const char *s, size_t n)
{
    size_t end = 0, i = 0;
    while (i < n) {
        uint32_t cp = tmpl_utf8_next(s, n, &i);
        if (!tmpl_uni_space(cp)) end = i;
    }
    return end;
}

static int emit_text(lexer *L, size_t off, size_t len)
{
    if (len == 0) return INF_OK;
    ttok *t = push(L, T_TEXT, off, len);
    if (!t || !(t->s = mkstr(L, L->s + off, len))) return nomem(L);
    return INF_OK;
}

/* The text before a tag, cut as the tag's whitespace control says. */
static size_t cut_text(lexer *L, size_t start, size_t end, char sign, bool is_var)
{
    size_t len = end - start;
    const char *text = L->s + start;
    if (sign == '-') return rstrip_len(text, len);
    if (sign == '+' || is_var) return len;
    /* lstrip_blocks: whitespace only between the last newline and the tag. */
    size_t l_pos = 0;
    for (size_t i = len; i > 0; i--)
        if (text[i - 1] == '\n') {
            l_pos = i;
            break;
        }
    if (l_pos > 0 || L->line_starting) {
        size_t ws = space_run(text, len, l_pos);
        if (ws > 0 && l_pos + ws == len) return l_pos;
    }
    return len;
}

/* After a "%}" / "#}" / "}}" at L->pos (sign is the char before it or 0):
 * consumes the end marker and what whitespace control eats. */
static void eat_tag_end(lexer *L, char sign, size_t marker_len, bool block)
{
    L->pos += marker_len;
    if (sign == '-') {
        L->pos += space_run(L->s, L->n, L->pos);
    } else if (sign != '+' && block && L->pos < L->n && L->s[L->pos] == '\n') {
        L->pos++; /* trim_blocks */
    }
    L->line_starting = L->s[L->pos - 1] == '\n';
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a string literal body with Python's "unicode-escape" rules, as jinja2
 * does. Returns INF_OK and the decoded string, or an error for a bad escape. */
static int lex_string(lexer *L, size_t off, char q, size_t *end, const tstr **out)
{
    size_t i = off + 1;
    /* Find the closing quote first: backslash skips a character. */
    size_t close = i;
    while (close < L->n && L->s[close] != q) {
        if (L->s[close] == '\\') close++;
        close++;
    }
    if (close >= L->n) return fail(L, off, INF_ERR_FORMAT, "unterminated string literal", NULL);
    /* Decoding never grows the text by more than 2x: the worst case is a
     * backslash before a 4-byte character, 5 bytes in and "\\U0001xxxx" (10) out. */
    char *buf = tmpl_arena_alloc(L->a, 2 * (close - i) + 16);
    if (!buf) return nomem(L);
    size_t o = 0;
    while (i < close) {
        char c = L->s[i];
        if (c != '\\') {
            buf[o++] = c;
            i++;
            continue;
        }
        char e = L->s[i + 1];
        i += 2;
        uint32_t cp;
        switch (e) {
        case '\n': continue; /* line continuation */
        case '\\': buf[o++] = '\\'; continue;
        case '\'': buf[o++] = '\''; continue;
        case '"': buf[o++] = '"'; continue;
        case 'a': buf[o++] = '\a'; continue;
        case 'b': buf[o++] = '\b'; continue;
        case 'f': buf[o++] = '\f'; continue;
        case 'n': buf[o++] = '\n'; continue;
        case 'r': buf[o++] = '\r'; continue;
        case 't': buf[o++] = '\t'; continue;
        case 'v': buf[o++] = '\v'; continue;
        case 'x': case 'u': case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = i < close ? hexval(L->s[i]) : -1;
                if (h < 0) return fail(L, i, INF_ERR_FORMAT, "truncated \\x/\\u escape in string", NULL);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return fail(L, i, INF_ERR_UNSUPPORTED, "string escape is not a Unicode scalar value", NULL);
            o += tmpl_utf8_put(cp, buf + o);
            continue;
        }
        case 'N':
            return fail(L, i - 2, INF_ERR_UNSUPPORTED, "unsupported string escape \\N{...}", NULL);
        default:
            break;
        }
        if (e >= '0' && e <= '7') {
            cp = (uint32_t)(e - '0');
            for (int k = 0; k < 2 && i < close && L->s[i] >= '0' && L->s[i] <= '7'; k++)
                cp = cp * 8 + (uint32_t)(L->s[i++] - '0');
            o += tmpl_utf8_put(cp, buf + o);
            continue;
        }
        /* Unknown escapes keep their backslash. A non-ASCII character after the
         * backslash reaches Python's decoder as its backslashreplace form. */
        buf[o++] = '\\';
        if ((unsigned char)e >= 0x80) {
            size_t k = i - 1;
            cp = tmpl_utf8_next(L->s, L->n, &k);
            i = k;
            char tmp[16];
            int m = cp < 0x100 ? snprintf(tmp, sizeof tmp, "\\x%02x", cp)
                  : cp < 0x10000 ? snprintf(tmp, sizeof tmp, "\\u%04x", cp)
                  : snprintf(tmp, sizeof tmp, "\\U%08x", cp);
            /* "\\" + "\xe9" decodes to a backslash and the letters "xe9". */
            memcpy(buf + o, tmp + 1, (size_t)m - 1);
            o += (size_t)m - 1;
            continue;
        }
        buf[o++] = e;
    }
    tstr *s = mkstr(L, buf, o);
    if (!s) return nomem(L);
    *out = s;
    *end = close + 1;
    return INF_OK;
}

/* A number: integer (decimal, 0b, 0o, 0x, with '_' separators) or float. */
static int lex_number(lexer *L, size_t off)
{
    const char *s = L->s;
    size_t i = off, n = L->n;
    char buf[128];
    size_t o = 0;
    if (s[i] == '0' && i + 1 < n && strchr("bBoOxX", s[i + 1]) && s[i + 1] != '\0') {
        int base = (s[i + 1] | 0x20) == 'b' ? 2 : (s[i + 1] | 0x20) == 'o' ? 8 : 16;
        size_t j = i + 2;
        uint64_t v = 0;
        bool any = false;
        while (j < n) {
            if (s[j] == '_') {
                j++;
                continue;
            }
            int d = hexval(s[j]);
            if (d < 0 || d >= base) break;
            if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base || v * (uint64_t)base + (uint64_t)d > INT64_MAX)
                return fail(L, off, INF_ERR_UNSUPPORTED, "integer literal too large", NULL);
            v = v * (uint64_t)base + (uint64_t)d;
            any = true;
            j++;
        }
        if (!any) return fail(L, off, INF_ERR_FORMAT, "malformed number literal", NULL);
        ttok *t = push(L, T_INT, off, j - off);
        if (!t) return nomem(L);
        t->i = (int64_t)v;
        L->pos = j;
        return INF_OK;
    }
    size_t j = i;
    bool is_float = false, too_long = false;
/* Appends to buf, remembering (not overflowing) when the literal is too long. */
#define PUT(ch) do { if (o < sizeof buf - 1) buf[o++] = (ch); else too_long = true; } while (0)
    while (j < n && ((s[j] >= '0' && s[j] <= '9') || (s[j] == '_' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9'))) {
        if (s[j] != '_') PUT(s[j]);
        j++;
    }
    if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
        is_float = true;
        PUT('.');
        j++;
        while (j < n && ((s[j] >= '0' && s[j] <= '9') || (s[j] == '_' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9'))) {
            if (s[j] != '_') PUT(s[j]);
            j++;
        }
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (s[k] == '+' || s[k] == '-')) k++;
        if (k < n && s[k] >= '0' && s[k] <= '9') {
            is_float = true;
            for (size_t m = j; m < k; m++) PUT(s[m]);
            j = k;
            while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
                if (s[j] != '_') PUT(s[j]);
                j++;
            }
        }
    }
#undef PUT
    buf[o] = '\0';
    if (too_long) return fail(L, off, INF_ERR_UNSUPPORTED, "number literal too long", NULL);
    ttok *t = push(L, is_float ? T_FLOAT : T_INT, off, j - off);
    if (!t) return nomem(L);
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) return fail(L, off, INF_ERR_UNSUPPORTED, "integer literal too large", NULL);
        t->i = v;
    }
    L->pos = j;
    return INF_OK;
}

static const char *const OPS2[] = {"//", "**", "==", "!=", ">=", "<=", NULL};
static const char OPS1[] = "+-/*%~[](){}><=.:|,;";

/* Tokens inside {{ }} or {% %} up to and including the end marker. */
static int lex_tag(lexer *L, bool block, size_t tag_off)
{
    const char *s = L->s;
    size_t n = L->n;
    L->bracket_depth = 0;
    for (;;) {
        size_t i = L->pos;
        if (i >= n)
            return fail(L, tag_off, INF_ERR_FORMAT,
                        block ? "unexpected end of template: '{%' without '%}'"
                              : "unexpected end of template: '{{' without '}}'", NULL);
        if (L->bracket_depth == 0) {
            char close = block ? '%' : '}';
            char sign = 0;
            size_t m = i;
            if ((s[m] == '-' || (block && s[m] == '+')) && m + 1 < n) {
                sign = s[m];
                m++;
            }
            if (m + 1 < n && s[m] == close && s[m + 1] == '}') {
                if (!push(L, block ? T_BLOCK_END : T_VAR_END, i, m + 2 - i)) return nomem(L);
                L->pos = i;
                eat_tag_end(L, sign, m + 2 - i, block);
                return INF_OK;
            }
        }
        size_t ws = space_run(s, n, i);
        if (ws) {
            L->pos = i + ws;
            continue;
        }
        char c = s[i];
        if (c >= '0' && c <= '9') {
            int rc = lex_number(L, i);
            if (rc != INF_OK) return rc;
            continue;
        }
        if (is_name_start(c)) {
            size_t j = i;
            while (j < n && is_name_char(s[j])) j++;
            ttok *t = push(L, T_NAME, i, j - i);
            if (!t || !(t->s = mkstr(L, s + i, j - i))) return nomem(L);
            L->pos = j;
            continue;
        }
        if (c == '\'' || c == '"') {
            const tstr *str = NULL;
            size_t end = 0;
            int rc = lex_string(L, i, c, &end, &str);
            if (rc != INF_OK) return rc;
            ttok *t = push(L, T_STRING, i, end - i);
            if (!t) return nomem(L);
            t->s = str;
            L->pos = end;
            continue;
        }
        size_t oplen = 0;
        for (int k = 0; OPS2[k]; k++)
            if (i + 1 < n && s[i] == OPS2[k][0] && s[i + 1] == OPS2[k][1]) oplen = 2;
        if (!oplen && strchr(OPS1, c) && c != '\0') oplen = 1;
        if (!oplen) {
            char d[8] = "";
            size_t k = i;
            uint32_t cp = tmpl_utf8_next(s, n, &k);
            if (cp >= 0x20 && cp < 0x7f) snprintf(d, sizeof d, "'%c'", (char)cp);
            else snprintf(d, sizeof d, "U+%04X", cp);
            return fail(L, i, INF_ERR_FORMAT, "unexpected character in tag: ", d);
        }
        if (oplen == 1 && (c == '(' || c == '[' || c == '{')) L->bracket_depth++;
        if (oplen == 1 && (c == ')' || c == ']' || c == '}')) {
            if (L->bracket_depth == 0) return fail(L, i, INF_ERR_FORMAT, "unbalanced closing bracket", NULL);
            L->bracket_depth--;
        }
        if (!push(L, T_OP, i, oplen)) return nomem(L);
        L->pos = i + oplen;
    }
}

/* {% raw %}: true when s[i] starts "{%[-+]? raw [-]%}"; *end past it, *sign. */
static bool match_word_tag(const lexer *L, size_t i, const char *word, size_t *end, char *open_sign,
                           char *close_sign)
{
    const char *s = L->s;
    size_t n = L->n;
    if (i + 2 > n || s[i] != '{' || s[i + 1] != '%') return false;
    size_t j = i + 2;
    *open_sign = 0;
    if (j < n && (s[j] == '-' || s[j] == '+')) *open_sign = s[j++];
    j += space_run(s, n, j);
    size_t wl = strlen(word);
    if (j + wl > n || memcmp(s + j, word, wl) != 0) return false;
    j += wl;
    if (j < n && is_name_char(s[j])) return false;
    j += space_run(s, n, j);
    *close_sign = 0;
    if (j < n && (s[j] == '-' || s[j] == '+')) *close_sign = s[j++];
    if (j + 2 > n || s[j] != '%' || s[j + 1] != '}') return false;
    *end = j + 2;
    return true;
}

static int lex_raw(lexer *L, size_t after_open)
{
    /* Body runs to the first {% endraw %}; its own whitespace control applies. */
    size_t i = after_open;
    for (; i + 1 < L->n; i++) {
        size_t end = 0;
        char os, cs;
        if (L->s[i] == '{' && match_word_tag(L, i, "endraw", &end, &os, &cs)) {
            size_t keep = cut_text(L, after_open, i, os, false);
            int rc = emit_text(L, after_open, keep);
            if (rc != INF_OK) return rc;
            L->pos = end - 2;
            eat_tag_end(L, cs == '+' ? '+' : cs, 2, true);
            return INF_OK;
        }
    }
    return fail(L, after_open, INF_ERR_FORMAT, "missing {% endraw %}", NULL);
}

/* Replaces \r\n and \r by \n and drops one trailing newline. */
static char *normalize(tmpl_arena *a, const char *src, size_t len, size_t *out_len)
{
    char *s = tmpl_arena_alloc(a, len + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[o++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[o++] = src[i];
        }
    }
    if (o > 0 && s[o - 1] == '\n') o--;
    s[o] = '\0';
    *out_len = o;
    return s;
}

int tmpl_lex(tmpl_arena *a, const char *src, size_t len, ttok **out, size_t *n_out, inf_error *err)
{
    lexer L = {.a = a, .err = err, .line_starting = true};
    if (!tmpl_utf8_valid(src, len))
        return inf_errorf(err, INF_ERR_FORMAT, "template is not valid UTF-8");
    if (memchr(src, '\0', len))
        return inf_errorf(err, INF_ERR_FORMAT, "template contains a NUL byte");
    L.s = normalize(a, src, len, &L.n);
    if (!L.s) return nomem(&L);
    int rc = INF_OK;
    while (rc == INF_OK && L.pos < L.n) {
        /* Next tag opening. */
        size_t i = L.pos;
        const char *p = NULL;
        while (i + 1 < L.n) {
            p = memchr(L.s + i, '{', L.n - i - 1);
            if (!p) break;
            char c = p[1];
            if (c == '{' || c == '%' || c == '#') break;
            i = (size_t)(p - L.s) + 1;
            p = NULL;
        }
        if (!p) {
            rc = emit_text(&L, L.pos, L.n - L.pos);
            L.pos = L.n;
            break;
        }
        size_t tag = (size_t)(p - L.s);
        char kind = p[1];
        char sign = tag + 2 < L.n && (p[2] == '-' || p[2] == '+') ? p[2] : 0;
        size_t raw_end;
        char os, cs;
        if (kind == '%' && match_word_tag(&L, tag, "raw", &raw_end, &os, &cs)) {
            rc = emit_text(&L, L.pos, cut_text(&L, L.pos, tag, os, false));
            if (rc != INF_OK) break;
            /* jinja2 applies no trim_blocks after {% raw %}, only "-%}". */
            L.pos = raw_end;
            if (cs == '-') L.pos += space_run(L.s, L.n, L.pos);
            L.line_starting = L.s[L.pos - 1] == '\n';
            rc = lex_raw(&L, L.pos);
            continue;
        }
        rc = emit_text(&L, L.pos, cut_text(&L, L.pos, tag, sign, kind == '{'));
        if (rc != INF_OK) break;
        L.pos = tag + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t j = L.pos;
            for (; j + 1 < L.n; j++)
                if (L.s[j] == '#' && L.s[j + 1] == '}') break;
            if (j + 1 >= L.n) {
                rc = fail(&L, tag, INF_ERR_FORMAT, "missing end of comment tag '#}'", NULL);
                break;
            }
            char csign = j > L.pos && (L.s[j - 1] == '-' || L.s[j - 1] == '+') ? L.s[j - 1] : 0;
            L.pos = j;
            eat_tag_end(&L, csign, 2, true);
            continue;
        }
        if (!push(&L, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, tag, L.pos - tag)) {
            rc = nomem(&L);
            break;
        }
        rc = lex_tag(&L, kind == '%', tag);
    }
    if (rc == INF_OK && !push(&L, T_EOF, L.n, 0)) rc = nomem(&L);
    if (rc != INF_OK) return rc;
    /* Offsets -> line:column, in one pass. */
    int line = 1;
    size_t line_start = 0, scanned = 0;
    for (size_t k = 0; k < L.n_toks; k++) {
        size_t off = (size_t)L.toks[k].line;
        for (; scanned < off && scanned < L.n; scanned++)
            if (L.s[scanned] == '\n') {
                line++;
                line_start = scanned + 1;
            }
        L.toks[k].line = line;
        L.toks[k].col = (int)tmpl_utf8_count(L.s + line_start, off - line_start) + 1;
    }
    *out = L.toks;
    *n_out = L.n_toks;
    return INF_OK;
}
