/* methods.c: the Python methods templates call on values: str (strip, split,
 * startswith, replace, format, ...), dict (get, items, keys, values), list
 * (index, count) and loop.cycle, with CPython's semantics on code points.
 *
 * The methods that would mutate a list or dict (append, update, pop, ...) are
 * known but blocked, as in jinja2's ImmutableSandboxedEnvironment: the
 * attribute is an undefined value that raises SecurityError when called. */
#include "template/tmpl_internal.h"

#include <stdio.h>
#include <string.h>

enum { K_STR = 1, K_DICT = 2, K_LIST = 4, K_LOOP = 8 };

enum {
    M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_SPLITLINES, M_STARTSWITH, M_ENDSWITH,
    M_REPLACE, M_UPPER, M_LOWER, M_TITLE, M_CAPITALIZE, M_SWAPCASE, M_CASEFOLD, M_FIND, M_RFIND,
    M_INDEX, M_RINDEX, M_COUNT, M_FORMAT, M_JOIN, M_ISDIGIT, M_ISDECIMAL, M_ISNUMERIC, M_ISALPHA,
    M_ISALNUM, M_ISSPACE, M_ISUPPER, M_ISLOWER, M_ZFILL, M_CENTER, M_LJUST, M_RJUST, M_PARTITION,
    M_RPARTITION, M_REMOVEPREFIX, M_REMOVESUFFIX,
    M_GET, M_ITEMS, M_KEYS, M_VALUES, M_COPY,
    M_CYCLE,
    /* blocked by the sandbox */
    M_APPEND, M_EXTEND, M_INSERT, M_POP, M_REMOVE, M_REVERSE, M_SORT, M_CLEAR, M_POPITEM,
    M_SETDEFAULT, M_UPDATE,
    M_N,
};

static const struct {
    const char *name;
    uint8_t kinds;   /* where it is a usable method */
    uint8_t blocked; /* where it exists but the sandbox blocks it */
} METHODS[M_N] = {
    [M_STRIP] = {"strip", K_STR, 0}, [M_LSTRIP] = {"lstrip", K_STR, 0}, [M_RSTRIP] = {"rstrip", K_STR, 0},
    [M_SPLIT] = {"split", K_STR, 0}, [M_RSPLIT] = {"rsplit", K_STR, 0},
    [M_SPLITLINES] = {"splitlines", K_STR, 0}, [M_STARTSWITH] = {"startswith", K_STR, 0},
    [M_ENDSWITH] = {"endswith", K_STR, 0}, [M_REPLACE] = {"replace", K_STR, 0},
    [M_UPPER] = {"upper", K_STR, 0}, [M_LOWER] = {"lower", K_STR, 0}, [M_TITLE] = {"title", K_STR, 0},
    [M_CAPITALIZE] = {"capitalize", K_STR, 0}, [M_SWAPCASE] = {"swapcase", K_STR, 0},
    [M_CASEFOLD] = {"casefold", K_STR, 0}, [M_FIND] = {"find", K_STR, 0}, [M_RFIND] = {"rfind", K_STR, 0},
    [M_INDEX] = {"index", K_STR | K_LIST, 0}, [M_RINDEX] = {"rindex", K_STR, 0},
    [M_COUNT] = {"count", K_STR | K_LIST, 0}, [M_FORMAT] = {"format", K_STR, 0},
    [M_JOIN] = {"join", K_STR, 0}, [M_ISDIGIT] = {"isdigit", K_STR, 0},
    [M_ISDECIMAL] = {"isdecimal", K_STR, 0}, [M_ISNUMERIC] = {"isnumeric", K_STR, 0},
    [M_ISALPHA] = {"isalpha", K_STR, 0}, [M_ISALNUM] = {"isalnum", K_STR, 0},
    [M_ISSPACE] = {"isspace", K_STR, 0}, [M_ISUPPER] = {"isupper", K_STR, 0},
    [M_ISLOWER] = {"islower", K_STR, 0}, [M_ZFILL] = {"zfill", K_STR, 0}, [M_CENTER] = {"center", K_STR, 0},
    [M_LJUST] = {"ljust", K_STR, 0}, [M_RJUST] = {"rjust", K_STR, 0},
    [M_PARTITION] = {"partition", K_STR, 0}, [M_RPARTITION] = {"rpartition", K_STR, 0},
    [M_REMOVEPREFIX] = {"removeprefix", K_STR, 0}, [M_REMOVESUFFIX] = {"removesuffix", K_STR, 0},
    [M_GET] = {"get", K_DICT, 0}, [M_ITEMS] = {"items", K_DICT, 0}, [M_KEYS] = {"keys", K_DICT, 0},
    [M_VALUES] = {"values", K_DICT, 0}, [M_COPY] = {"copy", K_DICT | K_LIST, 0},
    [M_CYCLE] = {"cycle", K_LOOP, 0},
    [M_APPEND] = {"append", 0, K_LIST}, [M_EXTEND] = {"extend", 0, K_LIST},
    [M_INSERT] = {"insert", 0, K_LIST}, [M_POP] = {"pop", 0, K_LIST | K_DICT},
    [M_REMOVE] = {"remove", 0, K_LIST}, [M_REVERSE] = {"reverse", 0, K_LIST},
    [M_SORT] = {"sort", 0, K_LIST}, [M_CLEAR] = {"clear", 0, K_LIST | K_DICT},
    [M_POPITEM] = {"popitem", 0, K_DICT}, [M_SETDEFAULT] = {"setdefault", 0, K_DICT},
    [M_UPDATE] = {"update", 0, K_DICT},
};

static int kind_bit(tval v)
{
    switch (v.kind) {
    case TV_STR: return K_STR;
    case TV_DICT: return K_DICT;
    case TV_LIST: return K_LIST;
    case TV_LOOP: return K_LOOP;
    default: return 0;
    }
}

static int find_method(const char *name, size_t len)
{
    for (int i = 0; i < M_N; i++)
        if (strlen(METHODS[i].name) == len && memcmp(METHODS[i].name, name, len) == 0) return i;
    return -1;
}

int tmpl_method_lookup(tval self, const char *name, size_t len, bool *unsafe)
{
    *unsafe = false;
    int id = find_method(name, len), bit = kind_bit(self);
    if (id < 0 || !bit) return -1;
    if (METHODS[id].kinds & bit) return id;
    if (METHODS[id].blocked & bit) *unsafe = true;
    return -1;
}

bool tmpl_method_known(const char *name, size_t len)
{
    return find_method(name, len) >= 0;
}

/* ---- shared string helpers ---------------------------------------------------------- */

static bool in_chars(uint32_t cp, const tstr *chars)
{
    for (size_t i = 0; i < chars->len;) {
        if (tmpl_utf8_next(chars->s, chars->len, &i) == cp) return true;
    }
    return false;
}

int tmpl_str_strip(tmpl_rctx *r, tval s, tval chars, int which, tval *out)
{
    const tstr *str = s.u.s;
    if (chars.kind != TV_NONE && chars.kind != TV_STR && chars.kind != TV_UNDEF)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: strip arg must be None or str");
    const tstr *set = chars.kind == TV_STR ? chars.u.s : NULL;
    size_t b = 0, e = str->len;
    if (which & 1) {
        while (b < e) {
            size_t k = b;
            uint32_t cp = tmpl_utf8_next(str->s, str->len, &k);
            if (set ? !in_chars(cp, set) : !tmpl_uni_space(cp)) break;
            b = k;
        }
    }
    if (which & 2) {
        size_t last = b; /* end of the last kept character */
        for (size_t i = b; i < e;) {
            uint32_t cp = tmpl_utf8_next(str->s, e, &i);
            if (set ? !in_chars(cp, set) : !tmpl_uni_space(cp)) last = i;
        }
        e = last;
    }
    if (b == 0 && e == str->len) {
        *out = s;
        return INF_OK;
    }
    tstr *res = tmpl_str_new(r, str->s + b, e - b);
    if (!res) return r->err->code;
    *out = tv_str(res);
    out->flags = s.flags & TVF_MARKUP;
    return INF_OK;
}

int tmpl_str_replace(tmpl_rctx *r, const tstr *s, const tstr *old, const tstr *new_, int64_t count, tval *out)
{
    tbuf b = {0};
    int rc = INF_OK;
    if (old->len == 0) {
        /* Python inserts new_ before every character and at the end. */
        size_t i = 0;
        int64_t done = 0;
        while (rc == INF_OK && (count < 0 || done < count)) {
            rc = tmpl_buf_put(r, &b, new_->s, new_->len);
            done++;
            if (i >= s->len) break;
            size_t st = i;
            tmpl_utf8_next(s->s, s->len, &i);
            if (rc == INF_OK) rc = tmpl_buf_put(r, &b, s->s + st, i - st);
        }
        if (rc == INF_OK && i < s->len) rc = tmpl_buf_put(r, &b, s->s + i, s->len - i);
    } else {
        size_t i = 0;
        int64_t done = 0;
        while (rc == INF_OK) {
            const char *hit = count >= 0 && done >= count ? NULL
                            : memmem(s->s + i, s->len - i, old->s, old->len);
            if (!hit) {
                rc = tmpl_buf_put(r, &b, s->s + i, s->len - i);
                break;
            }
            size_t at = (size_t)(hit - s->s);
            rc = tmpl_buf_put(r, &b, s->s + i, at - i);
            if (rc == INF_OK) rc = tmpl_buf_put(r, &b, new_->s, new_->len);
            i = at + old->len;
            done++;
        }
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

static bool cased(uint32_t cp)
{
    return tmpl_uni_upper(cp) || tmpl_uni_lower(cp);
}

static bool title_sep(uint32_t cp)
{
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || tmpl_uni_space(cp);
}

/* mode: 'u' upper, 'l' lower, 's' swapcase, 't' str.title(), 'c' capitalize(),
 * 'T' jinja2's title filter (words start after - ( { [ < or whitespace). */
int tmpl_str_case(tmpl_rctx *r, const tstr *s, int mode, tval *out)
{
    tbuf b = {0};
    int rc = INF_OK;
    uint32_t prev = 0;
    bool first = true;
    for (size_t i = 0; i < s->len && rc == INF_OK;) {
        uint32_t cp = tmpl_utf8_next(s->s, s->len, &i), o = cp;
        switch (mode) {
        case 'u': o = tmpl_uni_toupper(cp); break;
        case 'l': o = tmpl_uni_tolower(cp); break;
        case 's': o = tmpl_uni_upper(cp) ? tmpl_uni_tolower(cp) : tmpl_uni_toupper(cp); break;
        case 't': o = !first && cased(prev) ? tmpl_uni_tolower(cp) : tmpl_uni_toupper(cp); break;
        case 'c': o = first ? tmpl_uni_toupper(cp) : tmpl_uni_tolower(cp); break;
        case 'T': o = first || title_sep(prev) ? tmpl_uni_toupper(cp) : tmpl_uni_tolower(cp); break;
        default: break;
        }
        char enc[4];
        rc = tmpl_buf_put(r, &b, enc, tmpl_utf8_put(o, enc));
        prev = cp;
        first = false;
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

int tmpl_html_escape(tmpl_rctx *r, const tstr *s, tval *out)
{
    tbuf b = {0};
    int rc = INF_OK;
    for (size_t i = 0; i < s->len && rc == INF_OK; i++) {
        switch (s->s[i]) {
        case '&': rc = tmpl_buf_put(r, &b, "&amp;", 5); break;
        case '<': rc = tmpl_buf_put(r, &b, "&lt;", 4); break;
        case '>': rc = tmpl_buf_put(r, &b, "&gt;", 4); break;
        case '"': rc = tmpl_buf_put(r, &b, "&#34;", 5); break;
        case '\'': rc = tmpl_buf_put(r, &b, "&#39;", 5); break;
        default: rc = tmpl_buf_putc(r, &b, s->s[i]); break;
        }
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    if (rc == INF_OK) out->flags |= TVF_MARKUP;
    return rc;
}

/* Python's line boundaries for splitlines(). */
static size_t line_break(const char *s, size_t n, size_t i)
{
    size_t k = i;
    uint32_t cp = tmpl_utf8_next(s, n, &k);
    switch (cp) {
    case '\r':
        return k < n && s[k] == '\n' ? 2 : 1;
    case '\n': case 0x0b: case 0x0c: case 0x1c: case 0x1d: case 0x1e: case 0x85: case 0x2028: case 0x2029:
        return k - i;
    default:
        return 0;
    }
}

int tmpl_str_splitlines(tmpl_rctx *r, const tstr *s, bool keepends, tlist **out)
{
    tlist *l = tmpl_list_new(r, 0);
    if (!l) return r->err->code;
    size_t start = 0, i = 0;
    while (i < s->len) {
        size_t br = line_break(s->s, s->len, i);
        if (!br) {
            tmpl_utf8_next(s->s, s->len, &i);
            continue;
        }
        tstr *line = tmpl_str_new(r, s->s + start, (keepends ? i + br : i) - start);
        if (!line) return r->err->code;
        int rc = tmpl_list_push(r, l, tv_str(line));
        if (rc != INF_OK) return rc;
        i += br;
        start = i;
    }
    if (start < s->len) {
        tstr *line = tmpl_str_new(r, s->s + start, s->len - start);
        if (!line) return r->err->code;
        int rc = tmpl_list_push(r, l, tv_str(line));
        if (rc != INF_OK) return rc;
    }
    *out = l;
    return INF_OK;
}

/* ---- str methods -------------------------------------------------------------------------- */

static int need_str(tmpl_rctx *r, tval v, const char *fn, const tstr **out)
{
    if (v.kind == TV_UNDEF) return tmpl_fail_undef(r, v);
    if (v.kind != TV_STR)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() argument must be str, not %s", fn, tmpl_type_name(v));
    *out = v.u.s;
    return INF_OK;
}

static int opt_int(tmpl_rctx *r, const targs *a, size_t i, const char *name, int64_t dflt, int64_t *out)
{
    tval v;
    *out = dflt;
    if (!tmpl_arg(a, i, name, &v) || v.kind == TV_NONE) return INF_OK;
    if (v.kind == TV_UNDEF) return tmpl_fail_undef(r, v);
    if (v.kind != TV_INT && v.kind != TV_BOOL)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: '%s' object cannot be interpreted as an integer",
                         tmpl_type_name(v));
    *out = v.u.i;
    return INF_OK;
}

static int push_str(tmpl_rctx *r, tlist *l, const char *p, size_t n)
{
    tstr *s = tmpl_str_new(r, p, n);
    if (!s) return r->err->code;
    return tmpl_list_push(r, l, tv_str(s));
}

static void reverse_list(tlist *l)
{
    for (size_t i = 0, j = l->n ? l->n - 1 : 0; i < j; i++, j--) {
        tval t = l->v[i];
        l->v[i] = l->v[j];
        l->v[j] = t;
    }
}

static int m_split(tmpl_rctx *r, const tstr *s, const targs *a, bool right, tval *out)
{
    static const char *const kw[] = {"sep", "maxsplit", NULL};
    int rc = tmpl_args_check(r, a, right ? "rsplit" : "split", 2, kw);
    tval sepv = tv_none();
    int64_t maxsplit;
    if (rc == INF_OK) rc = opt_int(r, a, 1, "maxsplit", -1, &maxsplit);
    if (rc != INF_OK) return rc;
    tmpl_arg(a, 0, "sep", &sepv);
    tlist *l = tmpl_list_new(r, 0);
    if (!l) return r->err->code;
    if (sepv.kind == TV_NONE) {
        /* Runs of whitespace separate; leading/trailing whitespace yields nothing. */
        size_t n = s->len;
        size_t *cps = tmpl_alloc(r, (n + 1) * sizeof *cps); /* byte offset of each code point */
        bool *sp = tmpl_alloc(r, n + 1);
        if (!cps || !sp) return r->err->code;
        size_t m = 0;
        for (size_t i = 0; i < n;) {
            cps[m] = i;
            sp[m] = tmpl_uni_space(tmpl_utf8_next(s->s, n, &i));
            m++;
        }
        cps[m] = n;
        int64_t splits = 0;
        if (!right) {
            size_t i = 0;
            while (i < m) {
                while (i < m && sp[i]) i++;
                if (i == m) break;
                if (maxsplit >= 0 && splits >= maxsplit) { /* the rest, as is */
                    if ((rc = push_str(r, l, s->s + cps[i], cps[m] - cps[i])) != INF_OK) return rc;
                    break;
                }
                size_t j = i;
                while (j < m && !sp[j]) j++;
                if ((rc = push_str(r, l, s->s + cps[i], cps[j] - cps[i])) != INF_OK) return rc;
                splits++;
                i = j;
            }
        } else {
            size_t e = m;
            while (e > 0) {
                while (e > 0 && sp[e - 1]) e--;
                if (e == 0) break;
                if (maxsplit >= 0 && splits >= maxsplit) { /* the rest, as is */
                    if ((rc = push_str(r, l, s->s, cps[e])) != INF_OK) return rc;
                    break;
                }
                size_t b = e;
                while (b > 0 && !sp[b - 1]) b--;
                if ((rc = push_str(r, l, s->s + cps[b], cps[e] - cps[b])) != INF_OK) return rc;
                splits++;
                e = b;
            }
            reverse_list(l);
        }
    } else {
        const tstr *sep = NULL;
        if ((rc = need_str(r, sepv, "split", &sep)) != INF_OK) return rc;
        if (sep->len == 0) return tmpl_fail(r, INF_ERR_INVALID, "ValueError: empty separator");
        int64_t splits = 0;
        if (!right) {
            size_t i = 0;
            for (;;) {
                const char *hit = maxsplit >= 0 && splits >= maxsplit ? NULL
                                : memmem(s->s + i, s->len - i, sep->s, sep->len);
                if (!hit) {
                    if ((rc = push_str(r, l, s->s + i, s->len - i)) != INF_OK) return rc;
                    break;
                }
                size_t at = (size_t)(hit - s->s);
                if ((rc = push_str(r, l, s->s + i, at - i)) != INF_OK) return rc;
                i = at + sep->len;
                splits++;
            }
        } else {
            size_t e = s->len;
            for (;;) {
                size_t at = SIZE_MAX;
                if (!(maxsplit >= 0 && splits >= maxsplit) && e >= sep->len) {
                    for (size_t k = e - sep->len + 1; k-- > 0;)
                        if (memcmp(s->s + k, sep->s, sep->len) == 0) {
                            at = k;
                            break;
                        }
                }
                if (at == SIZE_MAX) {
                    if ((rc = push_str(r, l, s->s, e)) != INF_OK) return rc;
                    break;
                }
                if ((rc = push_str(r, l, s->s + at + sep->len, e - at - sep->len)) != INF_OK) return rc;
                e = at;
                splits++;
            }
            reverse_list(l);
        }
    }
    r->steps += l->n;
    *out = tv_list(l, false);
    return INF_OK;
}

/* startswith/endswith with a str or a tuple of str. */
static int m_affix(tmpl_rctx *r, const tstr *s, const targs *a, bool end, tval *out)
{
    const char *fn = end ? "endswith" : "startswith";
    int rc = tmpl_args_check(r, a, fn, 1, NULL);
    if (rc != INF_OK) return rc;
    if (a->n < 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() takes at least 1 argument", fn);
    tval arg = a->pos[0];
    const tval *cands = &arg;
    size_t nc = 1;
    if (arg.kind == TV_LIST && (arg.flags & TVF_TUPLE)) {
        cands = arg.u.l->v;
        nc = arg.u.l->n;
    }
    bool hit = false;
    for (size_t i = 0; i < nc && !hit; i++) {
        if (cands[i].kind != TV_STR)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s first arg must be str or a tuple of str, not %s", fn,
                             tmpl_type_name(cands[i]));
        const tstr *x = cands[i].u.s;
        hit = x->len <= s->len && memcmp(end ? s->s + s->len - x->len : s->s, x->s, x->len) == 0;
    }
    *out = tv_bool(hit);
    return INF_OK;
}

/* find/rfind/index/rindex/count: results in code points. */
static int m_search(tmpl_rctx *r, const tstr *s, const targs *a, int id, tval *out)
{
    const tstr *sub = NULL;
    int rc = tmpl_args_check(r, a, METHODS[id].name, 3, NULL);
    if (rc != INF_OK) return rc;
    if (a->n < 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() takes at least 1 argument", METHODS[id].name);
    if ((rc = need_str(r, a->pos[0], METHODS[id].name, &sub)) != INF_OK) return rc;
    int64_t nchars = (int64_t)tmpl_utf8_count(s->s, s->len), st, en;
    if ((rc = opt_int(r, a, 1, NULL, 0, &st)) != INF_OK) return rc;
    if ((rc = opt_int(r, a, 2, NULL, nchars, &en)) != INF_OK) return rc;
    if (st < 0) st = st + nchars < 0 ? 0 : st + nchars;
    if (en < 0) en = en + nchars < 0 ? 0 : en + nchars;
    if (en > nchars) en = nchars;
    if (st > en) {
        *out = id == M_COUNT ? tv_int(0) : tv_int(-1);
        if (id == M_INDEX || id == M_RINDEX) return tmpl_fail(r, INF_ERR_INVALID, "ValueError: substring not found");
        return INF_OK;
    }
    size_t bs = tmpl_utf8_offset(s->s, s->len, (size_t)st), be = tmpl_utf8_offset(s->s, s->len, (size_t)en);
    if (id == M_COUNT) {
        int64_t c = 0;
        if (sub->len == 0) {
            c = en - st + 1;
        } else {
            for (size_t i = bs; i + sub->len <= be;) {
                const char *hit = memmem(s->s + i, be - i, sub->s, sub->len);
                if (!hit) break;
                c++;
                i = (size_t)(hit - s->s) + sub->len;
            }
        }
        *out = tv_int(c);
        return INF_OK;
    }
    bool from_right = id == M_RFIND || id == M_RINDEX;
    int64_t found = -1;
    if (sub->len <= be - bs) {
        if (!from_right) {
            const char *hit = memmem(s->s + bs, be - bs, sub->s, sub->len);
            if (hit) found = (int64_t)tmpl_utf8_count(s->s, (size_t)(hit - s->s));
        } else {
            for (size_t k = be - sub->len + 1; k-- > bs;)
                if (memcmp(s->s + k, sub->s, sub->len) == 0) {
                    found = (int64_t)tmpl_utf8_count(s->s, k);
                    break;
                }
        }
    }
    if (found < 0 && (id == M_INDEX || id == M_RINDEX))
        return tmpl_fail(r, INF_ERR_INVALID, "ValueError: substring not found");
    *out = tv_int(found);
    return INF_OK;
}

/* str.format with {} / {0} / {name}, {{ }}, !s / !r; format specs are not supported. */
static int m_format(tmpl_rctx *r, const tstr *s, const targs *a, tval *out)
{
    tbuf b = {0};
    int rc = INF_OK;
    size_t auto_idx = 0;
    for (size_t i = 0; i < s->len && rc == INF_OK; i++) {
        char c = s->s[i];
        if (c == '{' && i + 1 < s->len && s->s[i + 1] == '{') {
            rc = tmpl_buf_putc(r, &b, '{');
            i++;
            continue;
        }
        if (c == '}' && i + 1 < s->len && s->s[i + 1] == '}') {
            rc = tmpl_buf_putc(r, &b, '}');
            i++;
            continue;
        }
        if (c == '}') return tmpl_fail(r, INF_ERR_INVALID, "ValueError: Single '}' encountered in format string");
        if (c != '{') {
            rc = tmpl_buf_putc(r, &b, c);
            continue;
        }
        size_t j = i + 1;
        while (j < s->len && s->s[j] != '}' && s->s[j] != '!' && s->s[j] != ':') j++;
        size_t name_b = i + 1, name_e = j;
        char conv = 0;
        if (j < s->len && s->s[j] == '!') {
            conv = j + 1 < s->len ? s->s[j + 1] : 0;
            j += 2;
        }
        if (j < s->len && s->s[j] == ':')
            return tmpl_fail(r, INF_ERR_UNSUPPORTED, "unsupported format spec in str.format()");
        if (j >= s->len || s->s[j] != '}')
            return tmpl_fail(r, INF_ERR_INVALID, "ValueError: unmatched '{' in format string");
        tval v;
        bool found;
        if (name_e == name_b) {
            found = auto_idx < a->n;
            if (found) v = a->pos[auto_idx++];
        } else if (s->s[name_b] >= '0' && s->s[name_b] <= '9') {
            size_t idx = 0;
            for (size_t k = name_b; k < name_e; k++) {
                if (s->s[k] < '0' || s->s[k] > '9')
                    return tmpl_fail(r, INF_ERR_UNSUPPORTED, "unsupported field in str.format()");
                idx = idx * 10 + (size_t)(s->s[k] - '0');
                if (idx > 1000000) break;
            }
            found = idx < a->n;
            if (found) v = a->pos[idx];
        } else {
            found = false;
            for (size_t k = 0; k < a->nk && !found; k++)
                if (a->kn[k]->len == name_e - name_b && memcmp(a->kn[k]->s, s->s + name_b, name_e - name_b) == 0) {
                    v = a->kv[k];
                    found = true;
                }
        }
        if (!found)
            return tmpl_fail(r, INF_ERR_INVALID, "IndexError/KeyError: replacement field {%.*s} has no argument",
                             (int)(name_e - name_b), s->s + name_b);
        if (conv == 'r') rc = tmpl_write_repr(r, &b, v);
        else if (conv == 's' || conv == 0) rc = tmpl_write_str(r, &b, v);
        else return tmpl_fail(r, INF_ERR_INVALID, "ValueError: unknown conversion specifier %c", conv);
        i = j;
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

static int m_join(tmpl_rctx *r, const tstr *sep, const targs *a, tval *out)
{
    int rc = tmpl_args_check(r, a, "join", 1, NULL);
    if (rc != INF_OK) return rc;
    if (a->n < 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: join() takes exactly one argument");
    tlist *items;
    if ((rc = tmpl_iterate(r, a->pos[0], &items)) != INF_OK) return rc;
    tbuf b = {0};
    for (size_t i = 0; i < items->n && rc == INF_OK; i++) {
        if (items->v[i].kind != TV_STR)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: sequence item %zu: expected str instance, %s found", i,
                             tmpl_type_name(items->v[i]));
        if (i) rc = tmpl_buf_put(r, &b, sep->s, sep->len);
        if (rc == INF_OK) rc = tmpl_buf_put(r, &b, items->v[i].u.s->s, items->v[i].u.s->len);
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

static int m_is(const tstr *s, int id, tval *out)
{
    bool any = false, all = true, has_cased = false, has_upper = false, has_lower = false;
    for (size_t i = 0; i < s->len;) {
        uint32_t cp = tmpl_utf8_next(s->s, s->len, &i);
        any = true;
        bool ok;
        switch (id) {
        case M_ISDIGIT: case M_ISDECIMAL: case M_ISNUMERIC: ok = tmpl_uni_digit(cp); break;
        case M_ISALPHA: ok = tmpl_uni_alpha(cp); break;
        case M_ISALNUM: ok = tmpl_uni_alpha(cp) || tmpl_uni_digit(cp); break;
        case M_ISSPACE: ok = tmpl_uni_space(cp); break;
        default: ok = true; break;
        }
        all = all && ok;
        if (tmpl_uni_upper(cp)) has_upper = has_cased = true;
        if (tmpl_uni_lower(cp)) has_lower = has_cased = true;
    }
    if (id == M_ISUPPER) *out = tv_bool(has_cased && !has_lower);
    else if (id == M_ISLOWER) *out = tv_bool(has_cased && !has_upper);
    else *out = tv_bool(any && all);
    return INF_OK;
}

static int pad(tmpl_rctx *r, const tstr *s, const targs *a, int id, tval *out)
{
    int64_t width;
    int rc = opt_int(r, a, 0, "width", 0, &width);
    if (rc != INF_OK) return rc;
    const char *fill = id == M_ZFILL ? "0" : " ";
    size_t fill_len = 1;
    tval fv;
    if (id != M_ZFILL && tmpl_arg(a, 1, "fillchar", &fv)) {
        if (fv.kind != TV_STR || tmpl_utf8_count(fv.u.s->s, fv.u.s->len) != 1)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: The fill character must be exactly one character long");
        fill = fv.u.s->s;
        fill_len = fv.u.s->len;
    }
    int64_t n = (int64_t)tmpl_utf8_count(s->s, s->len);
    if ((uint64_t)width > r->max_output) return tmpl_fail(r, INF_ERR_RANGE, "padding width too large");
    int64_t total = width > n ? width - n : 0, left = 0;
    if (id == M_RJUST || id == M_ZFILL) left = total;
    else if (id == M_CENTER) left = total / 2 + (total & width & 1);
    tbuf b = {0};
    size_t body = 0;
    if (id == M_ZFILL && s->len && (s->s[0] == '+' || s->s[0] == '-')) {
        rc = tmpl_buf_putc(r, &b, s->s[0]);
        body = 1;
    }
    for (int64_t i = 0; i < left && rc == INF_OK; i++) rc = tmpl_buf_put(r, &b, fill, fill_len);
    if (rc == INF_OK) rc = tmpl_buf_put(r, &b, s->s + body, s->len - body);
    for (int64_t i = left; i < total && rc == INF_OK; i++) rc = tmpl_buf_put(r, &b, fill, fill_len);
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

static int m_partition(tmpl_rctx *r, const tstr *s, const targs *a, bool right, tval *out)
{
    const tstr *sep = NULL;
    int rc = tmpl_args_check(r, a, right ? "rpartition" : "partition", 1, NULL);
    if (rc != INF_OK) return rc;
    if (a->n < 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: partition() takes exactly one argument");
    if ((rc = need_str(r, a->pos[0], "partition", &sep)) != INF_OK) return rc;
    if (sep->len == 0) return tmpl_fail(r, INF_ERR_INVALID, "ValueError: empty separator");
    size_t at = SIZE_MAX;
    if (!right) {
        const char *hit = memmem(s->s, s->len, sep->s, sep->len);
        if (hit) at = (size_t)(hit - s->s);
    } else if (s->len >= sep->len) {
        for (size_t k = s->len - sep->len + 1; k-- > 0;)
            if (memcmp(s->s + k, sep->s, sep->len) == 0) {
                at = k;
                break;
            }
    }
    tlist *l = tmpl_list_new(r, 3);
    if (!l) return r->err->code;
    if (at == SIZE_MAX) {
        if (right) {
            rc = push_str(r, l, "", 0);
            if (rc == INF_OK) rc = push_str(r, l, "", 0);
            if (rc == INF_OK) rc = push_str(r, l, s->s, s->len);
        } else {
            rc = push_str(r, l, s->s, s->len);
            if (rc == INF_OK) rc = push_str(r, l, "", 0);
            if (rc == INF_OK) rc = push_str(r, l, "", 0);
        }
    } else {
        rc = push_str(r, l, s->s, at);
        if (rc == INF_OK) rc = push_str(r, l, sep->s, sep->len);
        if (rc == INF_OK) rc = push_str(r, l, s->s + at + sep->len, s->len - at - sep->len);
    }
    if (rc != INF_OK) return rc;
    *out = tv_list(l, true);
    return INF_OK;
}

static int str_method(tmpl_rctx *r, int id, tval self, const targs *a, tval *out)
{
    const tstr *s = self.u.s;
    int rc;
    tval v;
    switch (id) {
    case M_STRIP: case M_LSTRIP: case M_RSTRIP: {
        static const char *const kw[] = {"chars", NULL};
        if ((rc = tmpl_args_check(r, a, METHODS[id].name, 1, kw)) != INF_OK) return rc;
        tval chars = tv_none();
        tmpl_arg(a, 0, "chars", &chars);
        if (chars.kind == TV_UNDEF) return tmpl_fail_undef(r, chars);
        return tmpl_str_strip(r, self, chars, id == M_STRIP ? 3 : id == M_LSTRIP ? 1 : 2, out);
    }
    case M_SPLIT: return m_split(r, s, a, false, out);
    case M_RSPLIT: return m_split(r, s, a, true, out);
    case M_SPLITLINES: {
        tval keep = tv_bool(false);
        tlist *l;
        tmpl_arg(a, 0, "keepends", &keep);
        if ((rc = tmpl_str_splitlines(r, s, tmpl_truthy(keep), &l)) != INF_OK) return rc;
        *out = tv_list(l, false);
        return INF_OK;
    }
    case M_STARTSWITH: return m_affix(r, s, a, false, out);
    case M_ENDSWITH: return m_affix(r, s, a, true, out);
    case M_REPLACE: {
        const tstr *old = NULL, *new_ = NULL;
        int64_t count;
        if ((rc = tmpl_args_check(r, a, "replace", 3, NULL)) != INF_OK) return rc;
        if (a->n < 2) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: replace() takes at least 2 arguments");
        if ((rc = need_str(r, a->pos[0], "replace", &old)) != INF_OK) return rc;
        if ((rc = need_str(r, a->pos[1], "replace", &new_)) != INF_OK) return rc;
        if ((rc = opt_int(r, a, 2, NULL, -1, &count)) != INF_OK) return rc;
        return tmpl_str_replace(r, s, old, new_, count, out);
    }
    case M_UPPER: return tmpl_str_case(r, s, 'u', out);
    case M_LOWER: case M_CASEFOLD: return tmpl_str_case(r, s, 'l', out);
    case M_TITLE: return tmpl_str_case(r, s, 't', out);
    case M_CAPITALIZE: return tmpl_str_case(r, s, 'c', out);
    case M_SWAPCASE: return tmpl_str_case(r, s, 's', out);
    case M_FIND: case M_RFIND: case M_INDEX: case M_RINDEX: case M_COUNT:
        return m_search(r, s, a, id, out);
    case M_FORMAT: return m_format(r, s, a, out);
    case M_JOIN: return m_join(r, s, a, out);
    case M_ISDIGIT: case M_ISDECIMAL: case M_ISNUMERIC: case M_ISALPHA: case M_ISALNUM: case M_ISSPACE:
    case M_ISUPPER: case M_ISLOWER:
        return m_is(s, id, out);
    case M_ZFILL: case M_CENTER: case M_LJUST: case M_RJUST: return pad(r, s, a, id, out);
    case M_PARTITION: return m_partition(r, s, a, false, out);
    case M_RPARTITION: return m_partition(r, s, a, true, out);
    case M_REMOVEPREFIX: case M_REMOVESUFFIX: {
        const tstr *x = NULL;
        if (a->n != 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() takes exactly one argument", METHODS[id].name);
        if ((rc = need_str(r, a->pos[0], METHODS[id].name, &x)) != INF_OK) return rc;
        bool pre = id == M_REMOVEPREFIX;
        if (x->len <= s->len && memcmp(pre ? s->s : s->s + s->len - x->len, x->s, x->len) == 0) {
            tstr *res = tmpl_str_new(r, pre ? s->s + x->len : s->s, s->len - x->len);
            if (!res) return r->err->code;
            v = tv_str(res);
        } else {
            v = self;
        }
        *out = v;
        return INF_OK;
    }
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "str method %d", id);
    }
}

static int dict_method(tmpl_rctx *r, int id, const tdict *d, const targs *a, tval *out)
{
    int rc;
    switch (id) {
    case M_GET: {
        tval key, dflt = tv_none();
        if ((rc = tmpl_args_check(r, a, "get", 2, NULL)) != INF_OK) return rc;
        if (a->n < 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: get expected at least 1 argument, got 0");
        key = a->pos[0];
        tmpl_arg(a, 1, NULL, &dflt);
        tval *v = tmpl_dict_get(d, key);
        *out = v ? *v : dflt;
        return INF_OK;
    }
    case M_ITEMS: case M_KEYS: case M_VALUES: {
        if ((rc = tmpl_args_check(r, a, METHODS[id].name, 0, NULL)) != INF_OK) return rc;
        tlist *l = tmpl_list_new(r, d->n);
        if (!l) return r->err->code;
        for (size_t i = 0; i < d->n; i++) {
            if (id == M_KEYS) {
                l->v[i] = d->k[i];
            } else if (id == M_VALUES) {
                l->v[i] = d->v[i];
            } else {
                tlist *pair = tmpl_list_new(r, 2);
                if (!pair) return r->err->code;
                pair->v[0] = d->k[i];
                pair->v[1] = d->v[i];
                pair->n = 2;
                l->v[i] = tv_list(pair, true);
            }
        }
        l->n = d->n;
        *out = tv_list(l, false);
        return INF_OK;
    }
    case M_COPY: {
        tdict *c = tmpl_dict_new(r, d->n);
        if (!c) return r->err->code;
        memcpy(c->k, d->k, d->n * sizeof *c->k);
        memcpy(c->v, d->v, d->n * sizeof *c->v);
        c->n = d->n;
        *out = tv_dict(c);
        return INF_OK;
    }
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "dict method %d", id);
    }
}

static int list_method(tmpl_rctx *r, int id, tval self, const targs *a, tval *out)
{
    const tlist *l = self.u.l;
    int rc;
    if (id == M_COPY) {
        tlist *c = tmpl_list_new(r, l->n);
        if (!c) return r->err->code;
        memcpy(c->v, l->v, l->n * sizeof *c->v);
        c->n = l->n;
        *out = tv_list(c, false);
        return INF_OK;
    }
    if ((rc = tmpl_args_check(r, a, METHODS[id].name, 1, NULL)) != INF_OK) return rc;
    if (a->n < 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() takes exactly one argument", METHODS[id].name);
    int64_t count = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!tmpl_equal(l->v[i], a->pos[0])) continue;
        if (id == M_INDEX) {
            *out = tv_int((int64_t)i);
            return INF_OK;
        }
        count++;
    }
    if (id == M_INDEX) return tmpl_fail(r, INF_ERR_INVALID, "ValueError: value is not in list");
    *out = tv_int(count);
    return INF_OK;
}

int tmpl_method_call(tmpl_rctx *r, const tbound *m, const targs *a, tval *out)
{
    tval self = m->self;
    switch (self.kind) {
    case TV_STR: return str_method(r, m->method, self, a, out);
    case TV_DICT: return dict_method(r, m->method, self.u.d, a, out);
    case TV_LIST: return list_method(r, m->method, self, a, out);
    case TV_LOOP:
        if (a->n == 0) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: no items for cycling given");
        *out = a->pos[self.u.loop->index0 % (int64_t)a->n];
        return INF_OK;
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "method on %s", tmpl_type_name(self));
    }
}
