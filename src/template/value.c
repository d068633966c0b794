/* value.c: Python semantics of template values: truth, ==, <, str(), repr(),
 * and json.dumps / json loading.
 *
 * jinja2 hands values to Python, so what a template prints is Python's str() of
 * them: True/False/None, floats in repr's shortest round-trip form ("0.5",
 * "1e+16"), lists and dicts with the repr of their items ("['a', 1]"). tojson is
 * transformers' override, json.dumps(ensure_ascii=False, sort_keys=False), so
 * object keys keep their insertion order. */
#include "template/tmpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Containers nest at most this deep in str(), ==, json.dumps (a namespace can
 * hold itself; recursion must stop somewhere). */
#define MAX_NEST 512

bool tmpl_truthy(tval v)
{
    switch (v.kind) {
    case TV_UNDEF: case TV_NONE: return false;
    case TV_BOOL: case TV_INT: return v.u.i != 0;
    case TV_FLOAT: return v.u.f != 0.0;
    case TV_STR: return v.u.s->len > 0;
    case TV_LIST: return (v.flags & TVF_GEN) || v.u.l->n > 0;
    case TV_DICT: return v.u.d->n > 0;
    default: return true;
    }
}

static bool is_num(tval v)
{
    return v.kind == TV_BOOL || v.kind == TV_INT || v.kind == TV_FLOAT;
}

static bool equal_depth(tval a, tval b, int depth)
{
    if (depth > MAX_NEST) return false;
    if (is_num(a) && is_num(b)) {
        if (a.kind == TV_FLOAT || b.kind == TV_FLOAT) {
            double x = a.kind == TV_FLOAT ? a.u.f : (double)a.u.i;
            double y = b.kind == TV_FLOAT ? b.u.f : (double)b.u.i;
            return x == y;
        }
        return a.u.i == b.u.i;
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case TV_UNDEF: case TV_NONE: return true;
    case TV_STR:
        return a.u.s->len == b.u.s->len && memcmp(a.u.s->s, b.u.s->s, a.u.s->len) == 0;
    case TV_LIST:
        if ((a.flags | b.flags) & TVF_GEN) return a.u.l == b.u.l;
        if ((a.flags & TVF_TUPLE) != (b.flags & TVF_TUPLE)) return false;
        if (a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!equal_depth(a.u.l->v[i], b.u.l->v[i], depth + 1)) return false;
        return true;
    case TV_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            tval *o = NULL;
            for (size_t j = 0; j < b.u.d->n && !o; j++)
                if (equal_depth(a.u.d->k[i], b.u.d->k[j], depth + 1)) o = &b.u.d->v[j];
            if (!o || !equal_depth(a.u.d->v[i], *o, depth + 1)) return false;
        }
        return true;
    case TV_NS: return a.u.d == b.u.d;
    case TV_MACRO: return a.u.m->def == b.u.m->def && a.u.m->closure == b.u.m->closure;
    case TV_FUNC: return a.id == b.id;
    case TV_METHOD:
        return a.u.bm->method == b.u.bm->method && equal_depth(a.u.bm->self, b.u.bm->self, depth + 1);
    case TV_LOOP: return a.u.loop == b.u.loop;
    default: return false;
    }
}

bool tmpl_equal(tval a, tval b)
{
    return equal_depth(a, b, 0);
}

int tmpl_less(tmpl_rctx *r, tval a, tval b, bool *lt)
{
    if (a.kind == TV_UNDEF) return tmpl_fail_undef(r, a);
    if (b.kind == TV_UNDEF) return tmpl_fail_undef(r, b);
    if (is_num(a) && is_num(b)) {
        if (a.kind == TV_FLOAT || b.kind == TV_FLOAT) {
            double x = a.kind == TV_FLOAT ? a.u.f : (double)a.u.i;
            double y = b.kind == TV_FLOAT ? b.u.f : (double)b.u.i;
            *lt = x < y;
        } else {
            *lt = a.u.i < b.u.i;
        }
        return INF_OK;
    }
    if (a.kind == TV_STR && b.kind == TV_STR) {
        /* UTF-8 byte order is code point order. */
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int c = memcmp(a.u.s->s, b.u.s->s, n);
        *lt = c < 0 || (c == 0 && a.u.s->len < b.u.s->len);
        return INF_OK;
    }
    if (a.kind == TV_LIST && b.kind == TV_LIST && (a.flags & TVF_TUPLE) == (b.flags & TVF_TUPLE)) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (tmpl_equal(a.u.l->v[i], b.u.l->v[i])) continue;
            return tmpl_less(r, a.u.l->v[i], b.u.l->v[i], lt);
        }
        *lt = a.u.l->n < b.u.l->n;
        return INF_OK;
    }
    return tmpl_fail(r, INF_ERR_INVALID, "TypeError: '<' not supported between instances of '%s' and '%s'",
                     tmpl_type_name(a), tmpl_type_name(b));
}

const char *tmpl_type_name(tval v)
{
    switch (v.kind) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return v.flags & TVF_GEN ? "generator" : v.flags & TVF_TUPLE ? "tuple" : "list";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_MACRO: return "Macro";
    case TV_FUNC: return "function";
    case TV_METHOD: return "builtin_function_or_method";
    case TV_LOOP: return "LoopContext";
    default: return "object";
    }
}

void tmpl_format_float(double f, char *buf, size_t cap)
{
    if (isnan(f)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, cap, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        snprintf(buf, cap, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    /* Shortest %.*e that reads back to the same double: the digits of repr(). */
    char e[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e is "-d.ddde+XX": gather the digits and the decimal exponent. */
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    int decpt = exp10 + 1; /* digits d1d2... mean 0.d1d2... * 10^decpt */
    char out[64];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -decpt; i++) out[o++] = '0';
            for (size_t i = 0; i < nd; i++) out[o++] = digits[i];
        } else {
            for (int i = 0; i < decpt; i++) out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)decpt < nd) {
                for (size_t i = (size_t)decpt; i < nd; i++) out[o++] = digits[i];
            } else {
                out[o++] = '0';
            }
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++) out[o++] = digits[i];
        }
        int x = decpt - 1;
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    snprintf(buf, cap, "%s", out);
}

/* repr() of a str: Python picks single quotes unless the text has ' and no ". */
static int write_str_repr(tmpl_rctx *r, tbuf *b, const tstr *s)
{
    bool has_sq = memchr(s->s, '\'', s->len) != NULL;
    bool has_dq = memchr(s->s, '"', s->len) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    int rc = tmpl_buf_putc(r, b, q);
    size_t i = 0;
    while (rc == INF_OK && i < s->len) {
        size_t start = i;
        uint32_t cp = tmpl_utf8_next(s->s, s->len, &i);
        if (cp == (uint32_t)q || cp == '\\') {
            char esc[2] = {'\\', (char)cp};
            rc = tmpl_buf_put(r, b, esc, 2);
        } else if (cp == '\n') {
            rc = tmpl_buf_put(r, b, "\\n", 2);
        } else if (cp == '\r') {
            rc = tmpl_buf_put(r, b, "\\r", 2);
        } else if (cp == '\t') {
            rc = tmpl_buf_put(r, b, "\\t", 2);
        } else if (!tmpl_uni_printable(cp)) {
            if (cp < 0x100) rc = tmpl_buf_printf(r, b, "\\x%02x", cp);
            else if (cp < 0x10000) rc = tmpl_buf_printf(r, b, "\\u%04x", cp);
            else rc = tmpl_buf_printf(r, b, "\\U%08x", cp);
        } else {
            rc = tmpl_buf_put(r, b, s->s + start, i - start);
        }
    }
    if (rc == INF_OK) rc = tmpl_buf_putc(r, b, q);
    return rc;
}

static int write_value(tmpl_rctx *r, tbuf *b, tval v, bool repr, int depth);

static int write_dict_items(tmpl_rctx *r, tbuf *b, const tdict *d, int depth)
{
    int rc = INF_OK;
    for (size_t i = 0; i < d->n && rc == INF_OK; i++) {
        if (i) rc = tmpl_buf_put(r, b, ", ", 2);
        if (rc == INF_OK) rc = write_value(r, b, d->k[i], true, depth + 1);
        if (rc == INF_OK) rc = tmpl_buf_put(r, b, ": ", 2);
        if (rc == INF_OK) rc = write_value(r, b, d->v[i], true, depth + 1);
    }
    return rc;
}

static int write_value(tmpl_rctx *r, tbuf *b, tval v, bool repr, int depth)
{
    char tmp[64];
    if (depth > MAX_NEST) return tmpl_fail(r, INF_ERR_RANGE, "values nest deeper than %d", MAX_NEST);
    switch (v.kind) {
    case TV_UNDEF: return INF_OK;
    case TV_NONE: return tmpl_buf_put(r, b, "None", 4);
    case TV_BOOL: return v.u.i ? tmpl_buf_put(r, b, "True", 4) : tmpl_buf_put(r, b, "False", 5);
    case TV_INT: return tmpl_buf_printf(r, b, "%lld", (long long)v.u.i);
    case TV_FLOAT:
        tmpl_format_float(v.u.f, tmp, sizeof tmp);
        return tmpl_buf_put(r, b, tmp, strlen(tmp));
    case TV_STR:
        if (repr) {
            if (v.flags & TVF_MARKUP) {
                int rc = tmpl_buf_put(r, b, "Markup(", 7);
                if (rc == INF_OK) rc = write_str_repr(r, b, v.u.s);
                if (rc == INF_OK) rc = tmpl_buf_putc(r, b, ')');
                return rc;
            }
            return write_str_repr(r, b, v.u.s);
        }
        return tmpl_buf_put(r, b, v.u.s->s, v.u.s->len);
    case TV_LIST: {
        bool tuple = v.flags & TVF_TUPLE;
        if (v.flags & TVF_GEN)
            return tmpl_fail(r, INF_ERR_UNSUPPORTED,
                             "printing a generator (the result of |map, |select, |items...) is not supported; "
                             "add |list");
        int rc = tmpl_buf_putc(r, b, tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n && rc == INF_OK; i++) {
            if (i) rc = tmpl_buf_put(r, b, ", ", 2);
            if (rc == INF_OK) rc = write_value(r, b, v.u.l->v[i], true, depth + 1);
        }
        if (rc == INF_OK && tuple && v.u.l->n == 1) rc = tmpl_buf_putc(r, b, ',');
        if (rc == INF_OK) rc = tmpl_buf_putc(r, b, tuple ? ')' : ']');
        return rc;
    }
    case TV_DICT: {
        int rc = tmpl_buf_putc(r, b, '{');
        if (rc == INF_OK) rc = write_dict_items(r, b, v.u.d, depth);
        if (rc == INF_OK) rc = tmpl_buf_putc(r, b, '}');
        return rc;
    }
    case TV_NS: {
        int rc = tmpl_buf_put(r, b, "<Namespace {", 12);
        if (rc == INF_OK) rc = write_dict_items(r, b, v.u.d, depth);
        if (rc == INF_OK) rc = tmpl_buf_put(r, b, "}>", 2);
        return rc;
    }
    case TV_MACRO: {
        const tstr *name = v.u.m->def->name;
        return tmpl_buf_printf(r, b, "<Macro '%s'>", name ? name->s : "caller");
    }
    case TV_LOOP:
        return tmpl_buf_printf(r, b, "<LoopContext %lld/%lld>", (long long)v.u.loop->index0 + 1,
                               (long long)v.u.loop->length);
    default:
        return tmpl_buf_put(r, b, "<built-in function>", 19);
    }
}

int tmpl_write_str(tmpl_rctx *r, tbuf *b, tval v)
{
    return write_value(r, b, v, false, 0);
}

int tmpl_write_repr(tmpl_rctx *r, tbuf *b, tval v)
{
    return write_value(r, b, v, true, 0);
}

int tmpl_to_str(tmpl_rctx *r, tval v, tval *out)
{
    if (v.kind == TV_STR) {
        *out = v;
        return INF_OK;
    }
    tbuf b = {0};
    int rc = tmpl_write_str(r, &b, v);
    if (rc == INF_OK) rc = tmpl_buf_str(r, &b, out);
    return rc;
}

/* ---- json.dumps ----------------------------------------------------------------------- */

static int json_str_out(tmpl_rctx *r, tbuf *b, const char *s, size_t n, bool ascii)
{
    int rc = tmpl_buf_putc(r, b, '"');
    size_t i = 0;
    while (rc == INF_OK && i < n) {
        size_t start = i;
        uint32_t cp = tmpl_utf8_next(s, n, &i);
        switch (cp) {
        case '"': rc = tmpl_buf_put(r, b, "\\\"", 2); continue;
        case '\\': rc = tmpl_buf_put(r, b, "\\\\", 2); continue;
        case '\n': rc = tmpl_buf_put(r, b, "\\n", 2); continue;
        case '\r': rc = tmpl_buf_put(r, b, "\\r", 2); continue;
        case '\t': rc = tmpl_buf_put(r, b, "\\t", 2); continue;
        case '\b': rc = tmpl_buf_put(r, b, "\\b", 2); continue;
        case '\f': rc = tmpl_buf_put(r, b, "\\f", 2); continue;
        default: break;
        }
        if (cp < 0x20 || (ascii && cp > 0x7e)) {
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                rc = tmpl_buf_printf(r, b, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
            } else {
                rc = tmpl_buf_printf(r, b, "\\u%04x", cp);
            }
        } else {
            rc = tmpl_buf_put(r, b, s + start, i - start);
        }
    }
    if (rc == INF_OK) rc = tmpl_buf_putc(r, b, '"');
    return rc;
}

static int json_newline(tmpl_rctx *r, tbuf *b, const tmpl_json_opts *o, int level)
{
    int rc = tmpl_buf_putc(r, b, '\n');
    for (int i = 0; i < level && rc == INF_OK; i++) rc = tmpl_buf_put(r, b, o->indent, o->indent_len);
    return rc;
}

static int json_float(tmpl_rctx *r, tbuf *b, double f)
{
    char tmp[64];
    if (isnan(f)) return tmpl_buf_put(r, b, "NaN", 3);
    if (isinf(f)) return f < 0 ? tmpl_buf_put(r, b, "-Infinity", 9) : tmpl_buf_put(r, b, "Infinity", 8);
    tmpl_format_float(f, tmp, sizeof tmp);
    return tmpl_buf_put(r, b, tmp, strlen(tmp));
}

/* A dict key as json.dumps converts it: str as is, numbers/bools/None to text. */
static int json_key(tmpl_rctx *r, tbuf *b, tval k, const tmpl_json_opts *o)
{
    switch (k.kind) {
    case TV_STR: return json_str_out(r, b, k.u.s->s, k.u.s->len, o->ensure_ascii);
    case TV_NONE: return tmpl_buf_put(r, b, "\"null\"", 6);
    case TV_BOOL: return k.u.i ? tmpl_buf_put(r, b, "\"true\"", 6) : tmpl_buf_put(r, b, "\"false\"", 7);
    case TV_INT: return tmpl_buf_printf(r, b, "\"%lld\"", (long long)k.u.i);
    case TV_FLOAT: {
        tbuf t = {0};
        int rc = json_float(r, &t, k.u.f);
        if (rc == INF_OK) rc = json_str_out(r, b, t.p, t.n, false);
        return rc;
    }
    default:
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: keys must be str, int, float, bool or None, not %s",
                         tmpl_type_name(k));
    }
}

static int json_value(tmpl_rctx *r, tbuf *b, tval v, const tmpl_json_opts *o, int level);

static int json_dict(tmpl_rctx *r, tbuf *b, const tdict *d, const tmpl_json_opts *o, int level)
{
    if (d->n == 0) return tmpl_buf_put(r, b, "{}", 2);
    size_t *order = tmpl_alloc(r, d->n * sizeof *order);
    if (!order) return r->err->code;
    for (size_t i = 0; i < d->n; i++) order[i] = i;
    if (o->sort_keys) { /* insertion sort: stable, and failure-aware comparisons */
        for (size_t i = 1; i < d->n; i++) {
            size_t x = order[i], j = i;
            while (j > 0) {
                bool lt;
                int rc = tmpl_less(r, d->k[x], d->k[order[j - 1]], &lt);
                if (rc != INF_OK) return rc;
                if (!lt) break;
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
    }
    int rc = tmpl_buf_putc(r, b, '{');
    for (size_t i = 0; i < d->n && rc == INF_OK; i++) {
        if (i) rc = tmpl_buf_put(r, b, o->item_sep, o->item_sep_len);
        if (rc == INF_OK && o->indent) rc = json_newline(r, b, o, level + 1);
        if (rc == INF_OK) rc = json_key(r, b, d->k[order[i]], o);
        if (rc == INF_OK) rc = tmpl_buf_put(r, b, o->key_sep, o->key_sep_len);
        if (rc == INF_OK) rc = json_value(r, b, d->v[order[i]], o, level + 1);
    }
    if (rc == INF_OK && o->indent) rc = json_newline(r, b, o, level);
    if (rc == INF_OK) rc = tmpl_buf_putc(r, b, '}');
    return rc;
}

static int json_value(tmpl_rctx *r, tbuf *b, tval v, const tmpl_json_opts *o, int level)
{
    if (level > MAX_NEST) return tmpl_fail(r, INF_ERR_RANGE, "values nest deeper than %d", MAX_NEST);
    switch (v.kind) {
    case TV_NONE: return tmpl_buf_put(r, b, "null", 4);
    case TV_BOOL: return v.u.i ? tmpl_buf_put(r, b, "true", 4) : tmpl_buf_put(r, b, "false", 5);
    case TV_INT: return tmpl_buf_printf(r, b, "%lld", (long long)v.u.i);
    case TV_FLOAT: return json_float(r, b, v.u.f);
    case TV_STR: return json_str_out(r, b, v.u.s->s, v.u.s->len, o->ensure_ascii);
    case TV_LIST: {
        const tlist *l = v.u.l;
        if (v.flags & TVF_GEN)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: Object of type generator is not JSON serializable");
        if (l->n == 0) return tmpl_buf_put(r, b, "[]", 2);
        int rc = tmpl_buf_putc(r, b, '[');
        for (size_t i = 0; i < l->n && rc == INF_OK; i++) {
            if (i) rc = tmpl_buf_put(r, b, o->item_sep, o->item_sep_len);
            if (rc == INF_OK && o->indent) rc = json_newline(r, b, o, level + 1);
            if (rc == INF_OK) rc = json_value(r, b, l->v[i], o, level + 1);
        }
        if (rc == INF_OK && o->indent) rc = json_newline(r, b, o, level);
        if (rc == INF_OK) rc = tmpl_buf_putc(r, b, ']');
        return rc;
    }
    case TV_DICT: return json_dict(r, b, v.u.d, o, level);
    case TV_UNDEF:
        if (v.flags & TVF_UNSAFE) return tmpl_fail_undef(r, v);
        /* fall through */
    default:
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: Object of type %s is not JSON serializable",
                         tmpl_type_name(v));
    }
}

int tmpl_write_json(tmpl_rctx *r, tbuf *b, tval v, const tmpl_json_opts *o)
{
    return json_value(r, b, v, o, 0);
}

int tmpl_from_json(tmpl_rctx *r, const json_t *j, tval *out)
{
    switch (json_typeof(j)) {
    case JSON_NULL: *out = tv_none(); return INF_OK;
    case JSON_TRUE: *out = tv_bool(true); return INF_OK;
    case JSON_FALSE: *out = tv_bool(false); return INF_OK;
    case JSON_INTEGER: *out = tv_int((int64_t)json_integer_value(j)); return INF_OK;
    case JSON_REAL: *out = tv_float(json_real_value(j)); return INF_OK;
    case JSON_STRING: {
        tstr *s = tmpl_str_new(r, json_string_value(j), json_string_length(j));
        if (!s) return r->err->code;
        *out = tv_str(s);
        return INF_OK;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        tlist *l = tmpl_list_new(r, n);
        if (!l) return r->err->code;
        for (size_t i = 0; i < n; i++) {
            int rc = tmpl_from_json(r, json_array_get(j, i), &l->v[i]);
            if (rc != INF_OK) return rc;
        }
        l->n = n;
        *out = tv_list(l, false);
        return INF_OK;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        tdict *d = tmpl_dict_new(r, n);
        if (!d) return r->err->code;
        const char *key;
        json_t *val;
        /* jansson keeps insertion order, as Python's json.load does. */
        json_object_foreach((json_t *)j, key, val) {
            tstr *k = tmpl_str_new(r, key, strlen(key));
            if (!k) return r->err->code;
            d->k[d->n] = tv_str(k);
            int rc = tmpl_from_json(r, val, &d->v[d->n]);
            if (rc != INF_OK) return rc;
            d->n++;
        }
        *out = tv_dict(d);
        return INF_OK;
    }
    default:
        return tmpl_fail(r, INF_ERR_INVALID, "unsupported JSON value");
    }
}
