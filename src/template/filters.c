/* filters.c: jinja2's filters ("x | name(args)") and tests ("x is name"),
 * with the semantics of jinja2 3.1 (filters.py, tests.py), and tojson as
 * transformers overrides it (json.dumps(x, ensure_ascii=False, indent=None,
 * separators=None, sort_keys=False)).
 *
 * Filters that return generators in jinja2 (map, select, reject, selectattr,
 * rejectattr, unique, items, reverse of a list) return lists flagged TVF_GEN,
 * so that what jinja2 refuses on a generator (|length, indexing) is refused
 * here too. */
#include "template/tmpl_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    F_ABS, F_ATTR, F_CAPITALIZE, F_CENTER, F_COUNT, F_D, F_DEFAULT, F_DICTSORT, F_E, F_ESCAPE,
    F_FIRST, F_FLOAT, F_INDENT, F_INT, F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP,
    F_MAX, F_MIN, F_REJECT, F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT,
    F_SELECTATTR, F_SORT, F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER,
    F_WORDCOUNT, F_N,
};

static const char *const FILTERS[F_N] = {
    [F_ABS] = "abs", [F_ATTR] = "attr", [F_CAPITALIZE] = "capitalize", [F_CENTER] = "center",
    [F_COUNT] = "count", [F_D] = "d", [F_DEFAULT] = "default", [F_DICTSORT] = "dictsort",
    [F_E] = "e", [F_ESCAPE] = "escape", [F_FIRST] = "first", [F_FLOAT] = "float",
    [F_INDENT] = "indent", [F_INT] = "int", [F_ITEMS] = "items", [F_JOIN] = "join",
    [F_LAST] = "last", [F_LENGTH] = "length", [F_LIST] = "list", [F_LOWER] = "lower",
    [F_MAP] = "map", [F_MAX] = "max", [F_MIN] = "min", [F_REJECT] = "reject",
    [F_REJECTATTR] = "rejectattr", [F_REPLACE] = "replace", [F_REVERSE] = "reverse",
    [F_ROUND] = "round", [F_SAFE] = "safe", [F_SELECT] = "select", [F_SELECTATTR] = "selectattr",
    [F_SORT] = "sort", [F_STRING] = "string", [F_SUM] = "sum", [F_TITLE] = "title",
    [F_TOJSON] = "tojson", [F_TRIM] = "trim", [F_UNIQUE] = "unique", [F_UPPER] = "upper",
    [F_WORDCOUNT] = "wordcount",
};

enum {
    T_BOOLEAN, T_CALLABLE, T_DEFINED, T_DIVISIBLEBY, T_EQ, T_EQUALTO, T_EQ_OP, T_ESCAPED, T_EVEN,
    T_FALSE, T_FILTER, T_FLOAT_, T_GE, T_GE_OP, T_GT, T_GT_OP, T_GREATERTHAN, T_IN, T_INTEGER,
    T_ITERABLE, T_LE, T_LE_OP, T_LOWER, T_LT, T_LT_OP, T_LESSTHAN, T_MAPPING, T_NE, T_NE_OP,
    T_NONE, T_NUMBER, T_ODD, T_SAMEAS, T_SEQUENCE, T_STRING_, T_TEST, T_TRUE, T_UNDEFINED, T_UPPER,
    T_N,
};

static const char *const TESTS[T_N] = {
    [T_BOOLEAN] = "boolean", [T_CALLABLE] = "callable", [T_DEFINED] = "defined",
    [T_DIVISIBLEBY] = "divisibleby", [T_EQ] = "eq", [T_EQUALTO] = "equalto", [T_EQ_OP] = "==",
    [T_ESCAPED] = "escaped", [T_EVEN] = "even", [T_FALSE] = "false", [T_FILTER] = "filter",
    [T_FLOAT_] = "float", [T_GE] = "ge", [T_GE_OP] = ">=", [T_GT] = "gt", [T_GT_OP] = ">",
    [T_GREATERTHAN] = "greaterthan", [T_IN] = "in", [T_INTEGER] = "integer",
    [T_ITERABLE] = "iterable", [T_LE] = "le", [T_LE_OP] = "<=", [T_LOWER] = "lower", [T_LT] = "lt",
    [T_LT_OP] = "<", [T_LESSTHAN] = "lessthan", [T_MAPPING] = "mapping", [T_NE] = "ne",
    [T_NE_OP] = "!=", [T_NONE] = "none", [T_NUMBER] = "number", [T_ODD] = "odd",
    [T_SAMEAS] = "sameas", [T_SEQUENCE] = "sequence", [T_STRING_] = "string", [T_TEST] = "test",
    [T_TRUE] = "true", [T_UNDEFINED] = "undefined", [T_UPPER] = "upper",
};

static int lookup(const char *const *table, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (table[i] && strlen(table[i]) == len && memcmp(table[i], name, len) == 0) return i;
    return -1;
}

int tmpl_filter_id(const char *name, size_t len) { return lookup(FILTERS, F_N, name, len); }
int tmpl_test_id(const char *name, size_t len) { return lookup(TESTS, T_N, name, len); }

/* ---- helpers ------------------------------------------------------------------------- */

static int str_of(tmpl_rctx *r, tval v, tval *out)
{
    if (v.kind == TV_STR) {
        *out = v;
        return INF_OK;
    }
    return tmpl_to_str(r, v, out);
}

static bool is_num(tval v)
{
    return v.kind == TV_INT || v.kind == TV_BOOL || v.kind == TV_FLOAT;
}

/* Arguments after the filtered value, as (name, default) in signature order. */
static int check(tmpl_rctx *r, const targs *a, int id, size_t max_pos, const char *const *kw)
{
    return tmpl_args_check(r, a, FILTERS[id], max_pos, kw);
}

static tval arg_or(const targs *a, size_t i, const char *name, tval dflt)
{
    tval v;
    return tmpl_arg(a, i, name, &v) ? v : dflt;
}

static int pair(tmpl_rctx *r, tval k, tval v, tval *out)
{
    tlist *p = tmpl_list_new(r, 2);
    if (!p) return r->err->code;
    p->v[0] = k;
    p->v[1] = v;
    p->n = 2;
    *out = tv_list(p, true);
    return INF_OK;
}

/* jinja2's make_attrgetter: "a.b.0" looked up item-first, part by part. */
static int attr_path(tmpl_rctx *r, tval item, tval attribute, tval dflt, bool has_dflt, tval *out)
{
    if (attribute.kind == TV_INT) return tmpl_getitem(r, item, attribute, out);
    if (attribute.kind != TV_STR)
        return tmpl_fail(r, INF_ERR_INVALID, "attribute must be a string or an integer, not %s",
                         tmpl_type_name(attribute));
    const tstr *p = attribute.u.s;
    size_t i = 0;
    tval cur = item;
    while (i <= p->len) {
        size_t j = i;
        while (j < p->len && p->s[j] != '.') j++;
        tval key;
        bool digits = j > i;
        for (size_t k = i; k < j; k++) digits = digits && p->s[k] >= '0' && p->s[k] <= '9';
        if (digits) {
            key = tv_int(strtoll(p->s + i, NULL, 10));
        } else {
            tstr *ks = tmpl_str_new(r, p->s + i, j - i);
            if (!ks) return r->err->code;
            key = tv_str(ks);
        }
        int rc = tmpl_getitem(r, cur, key, &cur);
        if (rc != INF_OK) return rc;
        if (has_dflt && cur.kind == TV_UNDEF) {
            cur = dflt;
            break;
        }
        i = j + 1;
    }
    *out = cur;
    return INF_OK;
}

/* For case-insensitive comparisons: strings lowered, the rest as is. */
static int fold(tmpl_rctx *r, tval v, bool case_sensitive, tval *out)
{
    if (!case_sensitive && v.kind == TV_STR) return tmpl_str_case(r, v.u.s, 'l', out);
    *out = v;
    return INF_OK;
}

/* Stable insertion sort of items by keys (Python's sorted; fails on mixed types). */
static int sort_by_keys(tmpl_rctx *r, tval *items, tval *keys, size_t n, bool reverse)
{
    for (size_t i = 1; i < n; i++) {
        tval it = items[i], k = keys[i];
        size_t j = i;
        while (j > 0) {
            bool lt;
            r->steps++;
            int rc = reverse ? tmpl_less(r, keys[j - 1], k, &lt) : tmpl_less(r, k, keys[j - 1], &lt);
            if (rc != INF_OK) return rc;
            if (!lt) break;
            items[j] = items[j - 1];
            keys[j] = keys[j - 1];
            j--;
        }
        items[j] = it;
        keys[j] = k;
    }
    if (r->steps > r->max_steps) return tmpl_fail(r, INF_ERR_RANGE, "sorting took too many steps");
    return INF_OK;
}

static int copy_list(tmpl_rctx *r, const tlist *src, tlist **out)
{
    tlist *l = tmpl_list_new(r, src->n);
    if (!l) return r->err->code;
    if (src->n) memcpy(l->v, src->v, src->n * sizeof *l->v);
    l->n = src->n;
    *out = l;
    return INF_OK;
}

/* ---- tojson ----------------------------------------------------------------------------- */

static int f_tojson(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    int rc = check(r, a, F_TOJSON, 4, kw);
    if (rc != INF_OK) return rc;
    tmpl_json_opts o = {0};
    o.ensure_ascii = tmpl_truthy(arg_or(a, 0, "ensure_ascii", tv_bool(false)));
    o.sort_keys = tmpl_truthy(arg_or(a, 3, "sort_keys", tv_bool(false)));
    tval indent = arg_or(a, 1, "indent", tv_none());
    char *spaces = NULL;
    if (indent.kind == TV_INT || indent.kind == TV_BOOL) {
        int64_t n = indent.u.i < 0 ? 0 : indent.u.i;
        if (n > 1024) return tmpl_fail(r, INF_ERR_RANGE, "tojson indent too large");
        spaces = tmpl_alloc(r, (size_t)n + 1);
        if (!spaces) return r->err->code;
        memset(spaces, ' ', (size_t)n);
        o.indent = spaces;
        o.indent_len = (size_t)n;
    } else if (indent.kind == TV_STR) {
        o.indent = indent.u.s->s;
        o.indent_len = indent.u.s->len;
    } else if (indent.kind != TV_NONE) {
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: tojson indent must be an int or a str");
    }
    o.item_sep = o.indent ? "," : ", ";
    o.item_sep_len = o.indent ? 1 : 2;
    o.key_sep = ": ";
    o.key_sep_len = 2;
    tval seps = arg_or(a, 2, "separators", tv_none());
    if (seps.kind == TV_LIST) {
        if (seps.u.l->n != 2 || seps.u.l->v[0].kind != TV_STR || seps.u.l->v[1].kind != TV_STR)
            return tmpl_fail(r, INF_ERR_INVALID, "tojson separators must be two strings");
        o.item_sep = seps.u.l->v[0].u.s->s;
        o.item_sep_len = seps.u.l->v[0].u.s->len;
        o.key_sep = seps.u.l->v[1].u.s->s;
        o.key_sep_len = seps.u.l->v[1].u.s->len;
    } else if (seps.kind != TV_NONE) {
        return tmpl_fail(r, INF_ERR_INVALID, "tojson separators must be a pair of strings");
    }
    tbuf b = {0};
    if ((rc = tmpl_write_json(r, &b, in, &o)) != INF_OK) return rc;
    return tmpl_buf_str(r, &b, out);
}

/* ---- number parsing as Python's int() / float() of a str ------------------------------- */

/* Copies s without surrounding whitespace and with '_' between digits removed;
 * false when an underscore is misplaced. */
static bool clean_number(const tstr *s, char *buf, size_t cap, size_t *n_out)
{
    size_t b = 0, e = s->len;
    while (b < e && tmpl_uni_space((unsigned char)s->s[b])) b++;
    while (e > b && tmpl_uni_space((unsigned char)s->s[e - 1])) e--;
    if (e - b >= cap) return false;
    size_t n = 0;
    for (size_t i = b; i < e; i++) {
        if (s->s[i] == '_') {
            bool ok = i > b && i + 1 < e && isalnum((unsigned char)s->s[i - 1]) && isalnum((unsigned char)s->s[i + 1]);
            if (!ok) return false;
            continue;
        }
        buf[n++] = s->s[i];
    }
    buf[n] = '\0';
    *n_out = n;
    return n > 0;
}

static bool parse_py_float(const tstr *s, double *out)
{
    char buf[128];
    size_t n;
    if (!clean_number(s, buf, sizeof buf, &n)) return false;
    const char *p = buf;
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (strcasecmp(p, "nan") == 0) {
        *out = NAN;
        return true;
    }
    for (const char *q = p; *q; q++)
        if (!strchr("0123456789.eE+-", *q)) return false; /* no hex floats, no words */
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || end == buf) return false;
    *out = v;
    return true;
}

static bool parse_py_int(const tstr *s, int64_t base, int64_t *out, bool *overflow)
{
    char buf[128];
    size_t n;
    *overflow = false;
    if (!clean_number(s, buf, sizeof buf, &n)) return false;
    const char *p = buf;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (p[0] == '0' && p[1] && strchr("xXoObB", p[1])) {
        int pb = (p[1] | 0x20) == 'x' ? 16 : (p[1] | 0x20) == 'o' ? 8 : 2;
        if (base == 0) base = pb;
        if (base == pb) p += 2;
    }
    if (base == 0) base = 10;
    if (base < 2 || base > 36 || !*p) return false;
    uint64_t v = 0;
    for (; *p; p++) {
        int d = isdigit((unsigned char)*p) ? *p - '0' : isalpha((unsigned char)*p) ? (tolower((unsigned char)*p) - 'a' + 10) : 99;
        if (d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
            *overflow = true;
            return false;
        }
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
        *overflow = true;
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int f_int(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"default", "base", NULL};
    int rc = check(r, a, F_INT, 2, kw);
    if (rc != INF_OK) return rc;
    tval dflt = arg_or(a, 0, "default", tv_int(0)), basev = arg_or(a, 1, "base", tv_int(10));
    int64_t base = basev.kind == TV_INT ? basev.u.i : 10;
    switch (in.kind) {
    case TV_INT: *out = in; return INF_OK;
    case TV_BOOL: *out = tv_int(in.u.i); return INF_OK;
    case TV_FLOAT:
        if (!isfinite(in.u.f) || fabs(in.u.f) >= 9.2e18) {
            *out = dflt;
            return INF_OK;
        }
        *out = tv_int((int64_t)in.u.f);
        return INF_OK;
    case TV_STR: {
        int64_t v;
        bool ovf;
        if (parse_py_int(in.u.s, base, &v, &ovf)) {
            *out = tv_int(v);
            return INF_OK;
        }
        if (ovf) return tmpl_fail(r, INF_ERR_RANGE, "integer outside the 64-bit range");
        double f;
        if (parse_py_float(in.u.s, &f) && isfinite(f) && fabs(f) < 9.2e18) {
            *out = tv_int((int64_t)f);
            return INF_OK;
        }
        *out = dflt;
        return INF_OK;
    }
    default:
        *out = dflt;
        return INF_OK;
    }
}

static int f_float(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"default", NULL};
    int rc = check(r, a, F_FLOAT, 1, kw);
    if (rc != INF_OK) return rc;
    tval dflt = arg_or(a, 0, "default", tv_float(0.0));
    double f;
    if (is_num(in)) *out = tv_float(in.kind == TV_FLOAT ? in.u.f : (double)in.u.i);
    else if (in.kind == TV_STR && parse_py_float(in.u.s, &f)) *out = tv_float(f);
    else *out = dflt;
    return INF_OK;
}

static int f_round(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"precision", "method", NULL};
    int rc = check(r, a, F_ROUND, 2, kw);
    if (rc != INF_OK) return rc;
    tval precv = arg_or(a, 0, "precision", tv_int(0)), methv = arg_or(a, 1, "method", tv_none());
    if (in.kind == TV_UNDEF) return tmpl_fail_undef(r, in);
    if (!is_num(in) || (precv.kind != TV_INT && precv.kind != TV_BOOL))
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: round() needs a number and an integer precision");
    int64_t prec = precv.u.i;
    const char *method = methv.kind == TV_STR ? methv.u.s->s : "common";
    if (strcmp(method, "common") != 0 && strcmp(method, "ceil") != 0 && strcmp(method, "floor") != 0)
        return tmpl_fail(r, INF_ERR_INVALID, "FilterArgumentError: method must be common, ceil or floor");
    if (strcmp(method, "common") == 0 && in.kind != TV_FLOAT) {
        /* round(int, n) stays an int (n < 0 rounds to tens, half to even). */
        int64_t v = in.u.i;
        if (prec < 0 && prec > -19) {
            int64_t p = 1;
            for (int64_t i = 0; i < -prec; i++) p *= 10;
            int64_t q = v / p, m = v % p;
            if (m < 0) { m += p; q--; }
            if (2 * m > p || (2 * m == p && (q & 1))) q++;
            v = q * p;
        }
        *out = tv_int(v);
        return INF_OK;
    }
    double x = in.kind == TV_FLOAT ? in.u.f : (double)in.u.i, res;
    if (!isfinite(x)) {
        *out = tv_float(x);
        return INF_OK;
    }
    if (strcmp(method, "common") == 0) {
        if (prec >= 0 && prec < 300) {
            /* printf rounds the exact binary value half-to-even, as Python's round. */
            char buf[400];
            snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
            res = strtod(buf, NULL);
        } else if (prec < 0 && prec > -300) {
            double p = pow(10.0, (double)-prec);
            res = nearbyint(x / p) * p;
        } else {
            res = prec >= 300 ? x : 0.0 * x;
        }
    } else {
        double p = pow(10.0, (double)prec);
        res = (strcmp(method, "ceil") == 0 ? ceil(x * p) : floor(x * p)) / p;
    }
    *out = tv_float(res);
    return INF_OK;
}

/* ---- sequences ----------------------------------------------------------------------------- */

static int f_length(tmpl_rctx *r, tval in, tval *out)
{
    switch (in.kind) {
    case TV_UNDEF: *out = tv_int(0); return INF_OK;
    case TV_STR: *out = tv_int((int64_t)tmpl_utf8_count(in.u.s->s, in.u.s->len)); return INF_OK;
    case TV_LIST:
        if (!(in.flags & TVF_GEN)) {
            *out = tv_int((int64_t)in.u.l->n);
            return INF_OK;
        }
        break;
    case TV_DICT: *out = tv_int((int64_t)in.u.d->n); return INF_OK;
    default: break;
    }
    return tmpl_fail(r, INF_ERR_INVALID, "TypeError: object of type '%s' has no len()", tmpl_type_name(in));
}

static int f_first_last(tmpl_rctx *r, tval in, bool last, tval *out)
{
    tlist *items;
    if (last && in.kind == TV_LIST && (in.flags & TVF_GEN))
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: 'generator' object is not reversible");
    int rc = tmpl_iterate(r, in, &items);
    if (rc != INF_OK) return rc;
    if (items->n == 0) {
        *out = tv_undef(last ? "No last item, sequence was empty." : "No first item, sequence was empty.");
        return INF_OK;
    }
    *out = items->v[last ? items->n - 1 : 0];
    return INF_OK;
}

static int f_join(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"d", "attribute", NULL};
    int rc = check(r, a, F_JOIN, 2, kw);
    if (rc != INF_OK) return rc;
    tval sep = arg_or(a, 0, "d", tv_none()), attr;
    bool by_attr = tmpl_arg(a, 1, "attribute", &attr) && attr.kind != TV_NONE;
    tlist *items;
    if ((rc = tmpl_iterate(r, in, &items)) != INF_OK) return rc;
    tval sep_s = sep;
    if (sep.kind != TV_NONE && (rc = str_of(r, sep, &sep_s)) != INF_OK) return rc;
    tbuf b = {0};
    for (size_t i = 0; i < items->n && rc == INF_OK; i++) {
        tval it = items->v[i];
        if (by_attr && (rc = attr_path(r, it, attr, tv_none(), false, &it)) != INF_OK) return rc;
        if (i && sep.kind != TV_NONE) rc = tmpl_buf_put(r, &b, sep_s.u.s->s, sep_s.u.s->len);
        if (rc == INF_OK) rc = tmpl_write_str(r, &b, it);
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

/* select / reject / selectattr / rejectattr */
static int f_select(tmpl_rctx *r, tval in, const targs *a, bool by_attr, bool keep_if, tval *out)
{
    size_t off = by_attr ? 1 : 0;
    tval attr = tv_none();
    if (by_attr && !tmpl_arg(a, 0, NULL, &attr))
        return tmpl_fail(r, INF_ERR_INVALID, "FilterArgumentError: missing parameter for attribute name");
    int test = -1;
    if (a->n > off) {
        tval name = a->pos[off];
        if (name.kind != TV_STR || (test = tmpl_test_id(name.u.s->s, name.u.s->len)) < 0)
            return tmpl_fail(r, INF_ERR_UNSUPPORTED, "unsupported test in select/reject");
    }
    targs targ = {0};
    if (a->n > off + 1) {
        targ.pos = a->pos + off + 1;
        targ.n = a->n - off - 1;
    }
    targ.kn = a->kn;
    targ.kv = a->kv;
    targ.nk = a->nk;
    tlist *res = tmpl_list_new(r, 0);
    if (!res) return r->err->code;
    tlist *items;
    int rc;
    if (tmpl_truthy(in)) {
        if ((rc = tmpl_iterate(r, in, &items)) != INF_OK) return rc;
        for (size_t i = 0; i < items->n; i++) {
            tval v = items->v[i];
            bool ok;
            if (by_attr && (rc = attr_path(r, v, attr, tv_none(), false, &v)) != INF_OK) return rc;
            if (test >= 0) {
                if ((rc = tmpl_test_apply(r, test, v, &targ, &ok)) != INF_OK) return rc;
            } else {
                ok = tmpl_truthy(v);
            }
            if (ok == keep_if && (rc = tmpl_list_push(r, res, items->v[i])) != INF_OK) return rc;
        }
    }
    *out = tv_list(res, false);
    out->flags |= TVF_GEN;
    return INF_OK;
}

static int f_map(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    tlist *res = tmpl_list_new(r, 0);
    if (!res) return r->err->code;
    tval attr, dflt = tv_none();
    bool by_attr = a->n == 0 && tmpl_arg(a, 0, "attribute", &attr);
    bool has_dflt = by_attr && tmpl_arg(a, 0, "default", &dflt);
    int filter = -1;
    targs fa = {0};
    if (by_attr) {
        for (size_t k = 0; k < a->nk; k++)
            if (strcmp(a->kn[k]->s, "attribute") != 0 && strcmp(a->kn[k]->s, "default") != 0)
                return tmpl_fail(r, INF_ERR_INVALID, "FilterArgumentError: Unexpected keyword argument '%s'",
                                 a->kn[k]->s);
    } else {
        if (a->n == 0 || a->pos[0].kind != TV_STR)
            return tmpl_fail(r, INF_ERR_INVALID, "map needs a filter name or attribute=");
        filter = tmpl_filter_id(a->pos[0].u.s->s, a->pos[0].u.s->len);
        if (filter < 0)
            return tmpl_fail(r, INF_ERR_UNSUPPORTED, "unsupported filter '%s' in map", a->pos[0].u.s->s);
        fa.pos = a->pos + 1;
        fa.n = a->n - 1;
        fa.kn = a->kn;
        fa.kv = a->kv;
        fa.nk = a->nk;
    }
    int rc;
    if (tmpl_truthy(in)) {
        tlist *items;
        if ((rc = tmpl_iterate(r, in, &items)) != INF_OK) return rc;
        for (size_t i = 0; i < items->n; i++) {
            tval v;
            if (by_attr) rc = attr_path(r, items->v[i], attr, dflt, has_dflt, &v);
            else rc = tmpl_filter_apply(r, filter, items->v[i], &fa, &v);
            if (rc != INF_OK) return rc;
            if ((rc = tmpl_list_push(r, res, v)) != INF_OK) return rc;
        }
    }
    *out = tv_list(res, false);
    out->flags |= TVF_GEN;
    return INF_OK;
}

/* sort, unique, min, max share the key extraction: attribute path, then case fold. */
static int keys_of(tmpl_rctx *r, const tlist *items, const targs *a, size_t attr_pos, size_t cs_pos, tval **keys)
{
    tval attr, csv = arg_or(a, cs_pos, "case_sensitive", tv_bool(false));
    bool by_attr = tmpl_arg(a, attr_pos, "attribute", &attr) && attr.kind != TV_NONE;
    bool cs = tmpl_truthy(csv);
    tval *k = tmpl_alloc(r, (items->n + 1) * sizeof *k);
    if (!k) return r->err->code;
    for (size_t i = 0; i < items->n; i++) {
        tval v = items->v[i];
        int rc;
        if (by_attr && (rc = attr_path(r, v, attr, tv_none(), false, &v)) != INF_OK) return rc;
        if ((rc = fold(r, v, cs, &k[i])) != INF_OK) return rc;
    }
    *keys = k;
    return INF_OK;
}

static int f_sort(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"reverse", "case_sensitive", "attribute", NULL};
    int rc = check(r, a, F_SORT, 3, kw);
    tlist *items = NULL, *res = NULL;
    tval *keys;
    if (rc == INF_OK) rc = tmpl_iterate(r, in, &items);
    if (rc == INF_OK) rc = copy_list(r, items, &res);
    if (rc == INF_OK) rc = keys_of(r, res, a, 2, 1, &keys);
    if (rc == INF_OK) rc = sort_by_keys(r, res->v, keys, res->n, tmpl_truthy(arg_or(a, 0, "reverse", tv_bool(false))));
    if (rc != INF_OK) return rc;
    *out = tv_list(res, false);
    return INF_OK;
}

static int f_unique(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"case_sensitive", "attribute", NULL};
    int rc = check(r, a, F_UNIQUE, 2, kw);
    tlist *items = NULL, *res = tmpl_list_new(r, 0);
    tval *keys;
    if (!res) return r->err->code;
    if (rc == INF_OK) rc = tmpl_iterate(r, in, &items);
    if (rc == INF_OK) rc = keys_of(r, items, a, 1, 0, &keys);
    if (rc != INF_OK) return rc;
    tval *seen = tmpl_alloc(r, (items->n + 1) * sizeof *seen);
    size_t n_seen = 0;
    if (!seen) return r->err->code;
    for (size_t i = 0; i < items->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < n_seen && !dup; j++) dup = tmpl_equal(seen[j], keys[i]);
        r->steps += n_seen;
        if (dup) continue;
        seen[n_seen++] = keys[i];
        if ((rc = tmpl_list_push(r, res, items->v[i])) != INF_OK) return rc;
    }
    *out = tv_list(res, false);
    out->flags |= TVF_GEN;
    return INF_OK;
}

static int f_minmax(tmpl_rctx *r, tval in, const targs *a, bool max, tval *out)
{
    static const char *const kw[] = {"case_sensitive", "attribute", NULL};
    int rc = check(r, a, max ? F_MAX : F_MIN, 2, kw);
    tlist *items;
    tval *keys;
    if (rc == INF_OK) rc = tmpl_iterate(r, in, &items);
    if (rc == INF_OK) rc = keys_of(r, items, a, 1, 0, &keys);
    if (rc != INF_OK) return rc;
    if (items->n == 0) {
        *out = tv_undef("No aggregated item, sequence was empty.");
        return INF_OK;
    }
    size_t best = 0;
    for (size_t i = 1; i < items->n; i++) {
        bool lt;
        if ((rc = max ? tmpl_less(r, keys[best], keys[i], &lt) : tmpl_less(r, keys[i], keys[best], &lt)) != INF_OK)
            return rc;
        if (lt) best = i;
    }
    *out = items->v[best];
    return INF_OK;
}

static int f_sum(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"attribute", "start", NULL};
    int rc = check(r, a, F_SUM, 2, kw);
    tval attr, acc = arg_or(a, 1, "start", tv_int(0));
    bool by_attr = tmpl_arg(a, 0, "attribute", &attr) && attr.kind != TV_NONE;
    tlist *items;
    if (rc == INF_OK) rc = tmpl_iterate(r, in, &items);
    if (rc != INF_OK) return rc;
    for (size_t i = 0; i < items->n; i++) {
        tval v = items->v[i];
        if (by_attr && (rc = attr_path(r, v, attr, tv_none(), false, &v)) != INF_OK) return rc;
        if (!is_num(acc) || !is_num(v))
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: unsupported operand type(s) for +: '%s' and '%s'",
                             tmpl_type_name(acc), tmpl_type_name(v));
        if (acc.kind == TV_FLOAT || v.kind == TV_FLOAT) {
            acc = tv_float((acc.kind == TV_FLOAT ? acc.u.f : (double)acc.u.i) + (v.kind == TV_FLOAT ? v.u.f : (double)v.u.i));
        } else {
            int64_t s;
            if (__builtin_add_overflow(acc.u.i, v.u.i, &s))
                return tmpl_fail(r, INF_ERR_RANGE, "integer result outside the 64-bit range");
            acc = tv_int(s);
        }
    }
    *out = acc;
    return INF_OK;
}

static int f_dictsort(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"case_sensitive", "by", "reverse", NULL};
    int rc = check(r, a, F_DICTSORT, 3, kw);
    if (rc != INF_OK) return rc;
    if (in.kind == TV_UNDEF) return tmpl_fail_undef(r, in);
    if (in.kind != TV_DICT)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: dictsort needs a mapping, not %s", tmpl_type_name(in));
    bool cs = tmpl_truthy(arg_or(a, 0, "case_sensitive", tv_bool(false)));
    tval by = arg_or(a, 1, "by", tv_none());
    bool by_value = by.kind == TV_STR && strcmp(by.u.s->s, "value") == 0;
    if (by.kind == TV_STR && !by_value && strcmp(by.u.s->s, "key") != 0)
        return tmpl_fail(r, INF_ERR_INVALID, "FilterArgumentError: You can only sort by either \"key\" or \"value\"");
    const tdict *d = in.u.d;
    tlist *res = tmpl_list_new(r, d->n);
    tval *keys = tmpl_alloc(r, (d->n + 1) * sizeof *keys);
    if (!res || !keys) return r->err->code;
    for (size_t i = 0; i < d->n; i++) {
        if ((rc = pair(r, d->k[i], d->v[i], &res->v[i])) != INF_OK) return rc;
        if ((rc = fold(r, by_value ? d->v[i] : d->k[i], cs, &keys[i])) != INF_OK) return rc;
    }
    res->n = d->n;
    if ((rc = sort_by_keys(r, res->v, keys, res->n, tmpl_truthy(arg_or(a, 2, "reverse", tv_bool(false))))) != INF_OK)
        return rc;
    *out = tv_list(res, false);
    return INF_OK;
}

static int f_items(tmpl_rctx *r, tval in, tval *out)
{
    tlist *res = tmpl_list_new(r, in.kind == TV_DICT ? in.u.d->n : 0);
    if (!res) return r->err->code;
    if (in.kind == TV_DICT) {
        for (size_t i = 0; i < in.u.d->n; i++) {
            int rc = pair(r, in.u.d->k[i], in.u.d->v[i], &res->v[i]);
            if (rc != INF_OK) return rc;
        }
        res->n = in.u.d->n;
    } else if (in.kind != TV_UNDEF) {
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: Can only get item pairs from a mapping.");
    }
    *out = tv_list(res, false);
    out->flags |= TVF_GEN;
    return INF_OK;
}

static int f_reverse(tmpl_rctx *r, tval in, tval *out)
{
    if (in.kind == TV_STR) {
        const tstr *s = in.u.s;
        tbuf b = {0};
        int rc = INF_OK;
        size_t e = s->len;
        while (e > 0 && rc == INF_OK) {
            size_t st = e - 1;
            while (st > 0 && ((unsigned char)s->s[st] & 0xc0) == 0x80) st--;
            rc = tmpl_buf_put(r, &b, s->s + st, e - st);
            e = st;
        }
        if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
        return rc;
    }
    tlist *items = NULL, *res = NULL;
    int rc = tmpl_iterate(r, in, &items);
    if (rc == INF_OK) rc = copy_list(r, items, &res);
    if (rc != INF_OK) return rc;
    for (size_t i = 0, j = res->n ? res->n - 1 : 0; i < j; i++, j--) {
        tval t = res->v[i];
        res->v[i] = res->v[j];
        res->v[j] = t;
    }
    *out = tv_list(res, false);
    if (in.kind == TV_LIST || in.kind == TV_DICT) out->flags |= TVF_GEN; /* a reverse iterator */
    return INF_OK;
}

static int f_indent(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    static const char *const kw[] = {"width", "first", "blank", NULL};
    int rc = check(r, a, F_INDENT, 3, kw);
    if (rc != INF_OK) return rc;
    tval width = arg_or(a, 0, "width", tv_int(4)), ind;
    bool first = tmpl_truthy(arg_or(a, 1, "first", tv_bool(false)));
    bool blank = tmpl_truthy(arg_or(a, 2, "blank", tv_bool(false)));
    if (width.kind == TV_STR) {
        ind = width;
    } else if (width.kind == TV_INT || width.kind == TV_BOOL) {
        if (width.u.i > 4096) return tmpl_fail(r, INF_ERR_RANGE, "indent width too large");
        tbuf sb = {0};
        for (int64_t i = 0; i < width.u.i && rc == INF_OK; i++) rc = tmpl_buf_putc(r, &sb, ' ');
        if (rc == INF_OK) rc = tmpl_buf_str(r, &sb, &ind);
        if (rc != INF_OK) return rc;
    } else {
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: indent width must be an int or a str");
    }
    tval s;
    if ((rc = str_of(r, in, &s)) != INF_OK) return rc;
    /* jinja2 appends "\n" first so that splitlines() keeps a trailing empty line. */
    tbuf tmp = {0};
    tval with_nl;
    if ((rc = tmpl_buf_put(r, &tmp, s.u.s->s, s.u.s->len)) == INF_OK) rc = tmpl_buf_putc(r, &tmp, '\n');
    if (rc == INF_OK) rc = tmpl_buf_str(r, &tmp, &with_nl);
    tlist *lines;
    if (rc == INF_OK) rc = tmpl_str_splitlines(r, with_nl.u.s, false, &lines);
    if (rc != INF_OK) return rc;
    tbuf b = {0};
    if (first) rc = tmpl_buf_put(r, &b, ind.u.s->s, ind.u.s->len);
    for (size_t i = 0; i < lines->n && rc == INF_OK; i++) {
        const tstr *line = lines->v[i].u.s;
        if (i) {
            rc = tmpl_buf_putc(r, &b, '\n');
            if (rc == INF_OK && (blank || line->len)) rc = tmpl_buf_put(r, &b, ind.u.s->s, ind.u.s->len);
        }
        if (rc == INF_OK) rc = tmpl_buf_put(r, &b, line->s, line->len);
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    if (rc == INF_OK) out->flags = s.flags & TVF_MARKUP;
    return rc;
}

static int f_wordcount(tmpl_rctx *r, tval in, tval *out)
{
    tval s;
    int rc = str_of(r, in, &s);
    if (rc != INF_OK) return rc;
    int64_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.u.s->len;) {
        uint32_t cp = tmpl_utf8_next(s.u.s->s, s.u.s->len, &i);
        bool w = cp == '_' || tmpl_uni_alpha(cp) || tmpl_uni_digit(cp);
        if (w && !in_word) words++;
        in_word = w;
    }
    *out = tv_int(words);
    return INF_OK;
}

static int f_center(tmpl_rctx *r, tval in, const targs *a, tval *out)
{
    tval s;
    int rc = str_of(r, in, &s);
    if (rc != INF_OK) return rc;
    tval width = arg_or(a, 0, "width", tv_int(80));
    if (width.kind != TV_INT) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: center width must be an int");
    int64_t n = (int64_t)tmpl_utf8_count(s.u.s->s, s.u.s->len);
    if ((uint64_t)width.u.i > r->max_output) return tmpl_fail(r, INF_ERR_RANGE, "center width too large");
    int64_t total = width.u.i > n ? width.u.i - n : 0, left = total / 2 + (total & width.u.i & 1);
    tbuf b = {0};
    for (int64_t i = 0; i < left && rc == INF_OK; i++) rc = tmpl_buf_putc(r, &b, ' ');
    if (rc == INF_OK) rc = tmpl_buf_put(r, &b, s.u.s->s, s.u.s->len);
    for (int64_t i = left; i < total && rc == INF_OK; i++) rc = tmpl_buf_putc(r, &b, ' ');
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

int tmpl_filter_apply(tmpl_rctx *r, int id, tval in, const targs *a, tval *out)
{
    int rc;
    tval s;
    switch (id) {
    case F_TOJSON: return f_tojson(r, in, a, out);
    case F_LENGTH: case F_COUNT:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        return f_length(r, in, out);
    case F_TRIM: {
        static const char *const kw[] = {"chars", NULL};
        if ((rc = check(r, a, id, 1, kw)) != INF_OK) return rc;
        if ((rc = str_of(r, in, &s)) != INF_OK) return rc;
        return tmpl_str_strip(r, s, arg_or(a, 0, "chars", tv_none()), 3, out);
    }
    case F_D: case F_DEFAULT: {
        static const char *const kw[] = {"default_value", "boolean", NULL};
        if ((rc = check(r, a, id, 2, kw)) != INF_OK) return rc;
        tstr *empty = tmpl_str_new(r, "", 0);
        if (!empty) return r->err->code;
        tval dflt = arg_or(a, 0, "default_value", tv_str(empty));
        bool boolean = tmpl_truthy(arg_or(a, 1, "boolean", tv_bool(false)));
        *out = in.kind == TV_UNDEF || (boolean && !tmpl_truthy(in)) ? dflt : in;
        return INF_OK;
    }
    case F_UPPER: case F_LOWER: case F_CAPITALIZE: case F_TITLE: {
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        if ((rc = str_of(r, in, &s)) != INF_OK) return rc;
        int mode = id == F_UPPER ? 'u' : id == F_LOWER ? 'l' : id == F_CAPITALIZE ? 'c' : 'T';
        if ((rc = tmpl_str_case(r, s.u.s, mode, out)) != INF_OK) return rc;
        out->flags = s.flags & TVF_MARKUP;
        return INF_OK;
    }
    case F_FIRST: case F_LAST:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        return f_first_last(r, in, id == F_LAST, out);
    case F_JOIN: return f_join(r, in, a, out);
    case F_REPLACE: {
        static const char *const kw[] = {"old", "new", "count", NULL};
        tval old, new_, cnt = arg_or(a, 2, "count", tv_none());
        if ((rc = check(r, a, id, 3, kw)) != INF_OK) return rc;
        if (!tmpl_arg(a, 0, "old", &old) || !tmpl_arg(a, 1, "new", &new_))
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: replace needs old and new");
        tval so, sn;
        if ((rc = str_of(r, in, &s)) != INF_OK || (rc = str_of(r, old, &so)) != INF_OK ||
            (rc = str_of(r, new_, &sn)) != INF_OK)
            return rc;
        if (cnt.kind != TV_NONE && cnt.kind != TV_INT)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: replace count must be an int");
        return tmpl_str_replace(r, s.u.s, so.u.s, sn.u.s, cnt.kind == TV_INT ? cnt.u.i : -1, out);
    }
    case F_SELECTATTR: return f_select(r, in, a, true, true, out);
    case F_REJECTATTR: return f_select(r, in, a, true, false, out);
    case F_SELECT: return f_select(r, in, a, false, true, out);
    case F_REJECT: return f_select(r, in, a, false, false, out);
    case F_MAP: return f_map(r, in, a, out);
    case F_LIST: {
        tlist *items = NULL, *res = NULL;
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        if ((rc = tmpl_iterate(r, in, &items)) != INF_OK) return rc;
        if ((rc = copy_list(r, items, &res)) != INF_OK) return rc;
        *out = tv_list(res, false);
        return INF_OK;
    }
    case F_STRING:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        return str_of(r, in, out);
    case F_SAFE:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        if ((rc = str_of(r, in, out)) != INF_OK) return rc;
        out->flags |= TVF_MARKUP;
        return INF_OK;
    case F_E: case F_ESCAPE:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        if (in.kind == TV_STR && (in.flags & TVF_MARKUP)) {
            *out = in;
            return INF_OK;
        }
        if ((rc = str_of(r, in, &s)) != INF_OK) return rc;
        return tmpl_html_escape(r, s.u.s, out);
    case F_INT: return f_int(r, in, a, out);
    case F_FLOAT: return f_float(r, in, a, out);
    case F_ROUND: return f_round(r, in, a, out);
    case F_ABS:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        if (in.kind == TV_UNDEF) return tmpl_fail_undef(r, in);
        if (in.kind == TV_FLOAT) *out = tv_float(fabs(in.u.f));
        else if (in.kind == TV_INT || in.kind == TV_BOOL) {
            if (in.u.i == INT64_MIN) return tmpl_fail(r, INF_ERR_RANGE, "integer result outside the 64-bit range");
            *out = tv_int(in.u.i < 0 ? -in.u.i : in.u.i);
        } else {
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: bad operand type for abs(): '%s'", tmpl_type_name(in));
        }
        return INF_OK;
    case F_ATTR: {
        tval name;
        if ((rc = check(r, a, id, 1, NULL)) != INF_OK) return rc;
        if (!tmpl_arg(a, 0, NULL, &name) || name.kind != TV_STR)
            return tmpl_fail(r, INF_ERR_INVALID, "attr needs an attribute name");
        /* Python attributes only: no fallback to dict items, unlike x.name. */
        if (in.kind == TV_DICT || in.kind == TV_STR || in.kind == TV_LIST) {
            bool unsafe;
            if (tmpl_method_lookup(in, name.u.s->s, name.u.s->len, &unsafe) < 0 && !unsafe) {
                *out = tv_undef("no such attribute");
                return INF_OK;
            }
        }
        return tmpl_getattr(r, in, name.u.s->s, name.u.s->len, out);
    }
    case F_UNIQUE: return f_unique(r, in, a, out);
    case F_SORT: return f_sort(r, in, a, out);
    case F_DICTSORT: return f_dictsort(r, in, a, out);
    case F_MIN: return f_minmax(r, in, a, false, out);
    case F_MAX: return f_minmax(r, in, a, true, out);
    case F_SUM: return f_sum(r, in, a, out);
    case F_ITEMS:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        return f_items(r, in, out);
    case F_REVERSE:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        return f_reverse(r, in, out);
    case F_INDENT: return f_indent(r, in, a, out);
    case F_WORDCOUNT:
        if ((rc = check(r, a, id, 0, NULL)) != INF_OK) return rc;
        return f_wordcount(r, in, out);
    case F_CENTER: {
        static const char *const kw[] = {"width", NULL};
        if ((rc = check(r, a, id, 1, kw)) != INF_OK) return rc;
        return f_center(r, in, a, out);
    }
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "filter %d", id);
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

static int need_arg(tmpl_rctx *r, const targs *a, int id, tval *out)
{
    if (!tmpl_arg(a, 0, NULL, out) && !(a->nk == 1 && (*out = a->kv[0], true)))
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: test '%s' needs an argument", TESTS[id]);
    return INF_OK;
}

static bool same_object(tval a, tval b)
{
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case TV_NONE: case TV_UNDEF: return true;
    case TV_BOOL: case TV_INT: return a.u.i == b.u.i;
    case TV_FLOAT: return a.u.f == b.u.f;
    case TV_STR: return a.u.s == b.u.s;
    default: return tmpl_equal(a, b) && a.u.l == b.u.l;
    }
}

int tmpl_test_apply(tmpl_rctx *r, int id, tval in, const targs *a, bool *out)
{
    tval arg, v;
    int rc;
    switch (id) {
    case T_DEFINED: *out = in.kind != TV_UNDEF; return INF_OK;
    case T_UNDEFINED: *out = in.kind == TV_UNDEF; return INF_OK;
    case T_NONE: *out = in.kind == TV_NONE; return INF_OK;
    case T_BOOLEAN: *out = in.kind == TV_BOOL; return INF_OK;
    case T_TRUE: *out = in.kind == TV_BOOL && in.u.i; return INF_OK;
    case T_FALSE: *out = in.kind == TV_BOOL && !in.u.i; return INF_OK;
    case T_INTEGER: *out = in.kind == TV_INT; return INF_OK;
    case T_FLOAT_: *out = in.kind == TV_FLOAT; return INF_OK;
    case T_NUMBER: *out = is_num(in); return INF_OK;
    case T_STRING_: *out = in.kind == TV_STR; return INF_OK;
    case T_MAPPING: *out = in.kind == TV_DICT; return INF_OK;
    case T_ITERABLE:
        *out = in.kind == TV_STR || in.kind == TV_LIST || in.kind == TV_DICT || in.kind == TV_UNDEF ||
               in.kind == TV_LOOP;
        return INF_OK;
    case T_SEQUENCE:
        *out = in.kind == TV_STR || (in.kind == TV_LIST && !(in.flags & TVF_GEN)) || in.kind == TV_DICT ||
               in.kind == TV_UNDEF;
        return INF_OK;
    case T_CALLABLE:
        *out = in.kind == TV_MACRO || in.kind == TV_FUNC || in.kind == TV_METHOD || in.kind == TV_UNDEF;
        return INF_OK;
    case T_ESCAPED: *out = in.kind == TV_STR && (in.flags & TVF_MARKUP); return INF_OK;
    case T_FILTER: *out = in.kind == TV_STR && tmpl_filter_id(in.u.s->s, in.u.s->len) >= 0; return INF_OK;
    case T_TEST: *out = in.kind == TV_STR && tmpl_test_id(in.u.s->s, in.u.s->len) >= 0; return INF_OK;
    case T_LOWER: case T_UPPER: {
        if ((rc = str_of(r, in, &v)) != INF_OK) return rc;
        bool has_cased = false, bad = false;
        for (size_t i = 0; i < v.u.s->len;) {
            uint32_t cp = tmpl_utf8_next(v.u.s->s, v.u.s->len, &i);
            if (tmpl_uni_upper(cp)) { has_cased = true; if (id == T_LOWER) bad = true; }
            if (tmpl_uni_lower(cp)) { has_cased = true; if (id == T_UPPER) bad = true; }
        }
        *out = has_cased && !bad;
        return INF_OK;
    }
    case T_EVEN: case T_ODD: case T_DIVISIBLEBY: {
        int64_t div = 2;
        if (id == T_DIVISIBLEBY) {
            if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
            if (arg.kind == TV_UNDEF) return tmpl_fail_undef(r, arg);
            if (arg.kind != TV_INT && arg.kind != TV_BOOL)
                return tmpl_fail(r, INF_ERR_UNSUPPORTED, "divisibleby needs an integer");
            div = arg.u.i;
            if (div == 0) return tmpl_fail(r, INF_ERR_INVALID, "ZeroDivisionError: integer modulo by zero");
        }
        if (in.kind == TV_UNDEF) return tmpl_fail_undef(r, in);
        if (in.kind == TV_FLOAT) {
            double m = fmod(in.u.f, (double)div);
            *out = id == T_ODD ? m != 0 : m == 0;
            return INF_OK;
        }
        if (in.kind != TV_INT && in.kind != TV_BOOL)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: not all arguments converted during string formatting");
        int64_t m = div == -1 ? 0 : in.u.i % div;
        *out = id == T_ODD ? m != 0 : m == 0;
        return INF_OK;
    }
    case T_SAMEAS:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        *out = same_object(in, arg);
        return INF_OK;
    case T_IN: {
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        if (arg.kind == TV_UNDEF && !(arg.flags & TVF_UNSAFE)) {
            *out = false;
            return INF_OK;
        }
        if (arg.kind == TV_STR) {
            if (in.kind != TV_STR)
                return tmpl_fail(r, INF_ERR_INVALID, "TypeError: 'in <string>' requires string as left operand");
            *out = memmem(arg.u.s->s, arg.u.s->len, in.u.s->s, in.u.s->len) != NULL || in.u.s->len == 0;
            return INF_OK;
        }
        if (arg.kind == TV_LIST) {
            *out = false;
            for (size_t i = 0; i < arg.u.l->n && !*out; i++) *out = tmpl_equal(arg.u.l->v[i], in);
            return INF_OK;
        }
        if (arg.kind == TV_DICT) {
            *out = tmpl_dict_get(arg.u.d, in) != NULL;
            return INF_OK;
        }
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: argument of type '%s' is not iterable", tmpl_type_name(arg));
    }
    case T_EQ: case T_EQUALTO: case T_EQ_OP:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        *out = tmpl_equal(in, arg);
        return INF_OK;
    case T_NE: case T_NE_OP:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        *out = !tmpl_equal(in, arg);
        return INF_OK;
    case T_LT: case T_LT_OP: case T_LESSTHAN:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        return tmpl_less(r, in, arg, out);
    case T_GT: case T_GT_OP: case T_GREATERTHAN:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        return tmpl_less(r, arg, in, out);
    case T_LE: case T_LE_OP:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        if ((rc = tmpl_less(r, arg, in, out)) != INF_OK) return rc;
        *out = !*out;
        return INF_OK;
    case T_GE: case T_GE_OP:
        if ((rc = need_arg(r, a, id, &arg)) != INF_OK) return rc;
        if ((rc = tmpl_less(r, in, arg, out)) != INF_OK) return rc;
        *out = !*out;
        return INF_OK;
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "test %d", id);
    }
}
