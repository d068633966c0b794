/* builtins.c: the global functions a chat template may call, and argument
 * helpers shared by filters, tests and methods.
 *
 * Globals are those of transformers' environment: range (capped at 100,000
 * items, as jinja2's sandbox does), dict, namespace (no underscore-prefixed
 * names, as transformers' TemplateNamespace), raise_exception(msg) (the render
 * fails with msg verbatim, so the server can show it) and strftime_now(fmt)
 * (local time; tmpl_render_opts.now pins the clock for tests). jinja2's other
 * globals (lipsum, cycler, joiner) are not in the subset: a call to them fails
 * at compile time. */
#include "template/tmpl_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* jinja2.sandbox.MAX_RANGE */
#define MAX_RANGE 100000

enum { G_RANGE, G_DICT, G_NAMESPACE, G_RAISE, G_STRFTIME, G_COUNT };

static const char *const GLOBALS[G_COUNT] = {"range", "dict", "namespace", "raise_exception",
                                             "strftime_now"};

int tmpl_global_id(const char *name, size_t len)
{
    for (int i = 0; i < G_COUNT; i++)
        if (strlen(GLOBALS[i]) == len && memcmp(GLOBALS[i], name, len) == 0) return i;
    return -1;
}

bool tmpl_arg(const targs *a, size_t i, const char *name, tval *out)
{
    if (i < a->n) {
        *out = a->pos[i];
        return true;
    }
    if (name) {
        size_t n = strlen(name);
        for (size_t k = 0; k < a->nk; k++)
            if (a->kn[k]->len == n && memcmp(a->kn[k]->s, name, n) == 0) {
                *out = a->kv[k];
                return true;
            }
    }
    return false;
}

int tmpl_args_check(tmpl_rctx *r, const targs *a, const char *fn, size_t max_pos, const char *const *kw)
{
    if (a->n > max_pos)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() takes at most %zu positional argument(s), %zu given",
                         fn, max_pos, a->n);
    for (size_t k = 0; k < a->nk; k++) {
        bool ok = false;
        for (size_t j = 0; kw && kw[j] && !ok; j++)
            ok = strlen(kw[j]) == a->kn[k]->len && memcmp(kw[j], a->kn[k]->s, a->kn[k]->len) == 0;
        if (!ok)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() got an unexpected keyword argument '%s'", fn,
                             a->kn[k]->s);
    }
    return INF_OK;
}

static int as_int(tmpl_rctx *r, tval v, const char *fn, int64_t *out)
{
    if (v.kind == TV_UNDEF) return tmpl_fail_undef(r, v);
    if (v.kind != TV_INT && v.kind != TV_BOOL)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s() needs an integer, not '%s'", fn, tmpl_type_name(v));
    *out = v.u.i;
    return INF_OK;
}

static int g_range(tmpl_rctx *r, const targs *a, tval *out)
{
    int rc = tmpl_args_check(r, a, "range", 3, NULL);
    if (rc != INF_OK) return rc;
    if (a->n == 0) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: range expected at least 1 argument, got 0");
    int64_t start = 0, stop = 0, st = 1;
    if (a->n == 1) {
        rc = as_int(r, a->pos[0], "range", &stop);
    } else {
        rc = as_int(r, a->pos[0], "range", &start);
        if (rc == INF_OK) rc = as_int(r, a->pos[1], "range", &stop);
        if (rc == INF_OK && a->n == 3) rc = as_int(r, a->pos[2], "range", &st);
    }
    if (rc != INF_OK) return rc;
    if (st == 0) return tmpl_fail(r, INF_ERR_INVALID, "ValueError: range() arg 3 must not be zero");
    /* Length without overflow, in the way Python computes it. */
    double len = st > 0 ? (stop > start ? ((double)stop - (double)start - 1) / (double)st + 1 : 0)
                        : (start > stop ? ((double)start - (double)stop - 1) / (double)-st + 1 : 0);
    if (len > MAX_RANGE)
        return tmpl_fail(r, INF_ERR_RANGE,
                         "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
                         MAX_RANGE);
    size_t n = (size_t)len;
    tlist *l = tmpl_list_new(r, n);
    if (!l) return r->err->code;
    for (size_t i = 0; i < n; i++) l->v[i] = tv_int(start + (int64_t)i * st);
    l->n = n;
    r->steps += n;
    *out = tv_list(l, false);
    return INF_OK;
}

/* dict(mapping or pairs, **kw) and namespace(...): the same construction. */
static int g_dict(tmpl_rctx *r, const targs *a, bool ns, tval *out)
{
    const char *fn = ns ? "namespace" : "dict";
    if (a->n > 1) return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %s expected at most 1 argument, got %zu", fn, a->n);
    tdict *d = tmpl_dict_new(r, 0);
    if (!d) return r->err->code;
    int rc = INF_OK;
    if (a->n == 1) {
        tval src = a->pos[0];
        if (src.kind == TV_DICT || src.kind == TV_NS) {
            for (size_t i = 0; i < src.u.d->n && rc == INF_OK; i++)
                rc = tmpl_dict_set(r, d, src.u.d->k[i], src.u.d->v[i]);
        } else if (src.kind == TV_LIST || src.kind == TV_UNDEF) {
            tlist *items;
            if ((rc = tmpl_iterate(r, src, &items)) != INF_OK) return rc;
            for (size_t i = 0; i < items->n && rc == INF_OK; i++) {
                tval p = items->v[i];
                if (p.kind != TV_LIST || p.u.l->n != 2)
                    return tmpl_fail(r, INF_ERR_INVALID,
                                     "ValueError: %s() sequence element #%zu is not a pair", fn, i);
                rc = tmpl_dict_set(r, d, p.u.l->v[0], p.u.l->v[1]);
            }
        } else {
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: '%s' object is not iterable", tmpl_type_name(src));
        }
    }
    for (size_t k = 0; k < a->nk && rc == INF_OK; k++) rc = tmpl_dict_set(r, d, tv_str(a->kn[k]), a->kv[k]);
    if (rc != INF_OK) return rc;
    if (ns) {
        for (size_t i = 0; i < d->n; i++)
            if (d->k[i].kind == TV_STR && d->k[i].u.s->len && d->k[i].u.s->s[0] == '_')
                return tmpl_fail(r, INF_ERR_INVALID,
                                 "SecurityError: chat templates cannot store underscore-prefixed attributes on a namespace");
        tval v = {.kind = TV_NS};
        v.u.d = d;
        *out = v;
    } else {
        *out = tv_dict(d);
    }
    return INF_OK;
}

static int g_raise(tmpl_rctx *r, const targs *a)
{
    tval msg;
    if (!tmpl_arg(a, 0, "message", &msg))
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: raise_exception() missing argument 'message'");
    tbuf b = {0};
    int rc = tmpl_write_str(r, &b, msg);
    if (rc != INF_OK) return rc;
    /* The template's own words, unprefixed: they are meant for the user. */
    return inf_errorf(r->err, INF_ERR_INVALID, "%s", b.p ? b.p : "");
}

static int g_strftime(tmpl_rctx *r, const targs *a, tval *out)
{
    tval fmt;
    static const char *const kw[] = {"format", NULL};
    int rc = tmpl_args_check(r, a, "strftime_now", 1, kw);
    if (rc != INF_OK) return rc;
    if (!tmpl_arg(a, 0, "format", &fmt))
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: strftime_now() missing argument 'format'");
    if (fmt.kind == TV_UNDEF) return tmpl_fail_undef(r, fmt);
    if (fmt.kind != TV_STR)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: strftime() argument 1 must be str, not %s",
                         tmpl_type_name(fmt));
    struct tm tm;
    time_t now = r->now;
    if (!localtime_r(&now, &tm)) return tmpl_fail(r, INF_ERR_INTERNAL, "localtime failed");
    if (fmt.u.s->len == 0) {
        *out = fmt;
        return INF_OK;
    }
    size_t cap = fmt.u.s->len * 16 + 64;
    if (cap > 65536) return tmpl_fail(r, INF_ERR_RANGE, "strftime_now format too long");
    char *buf = tmpl_alloc(r, cap);
    if (!buf) return r->err->code;
    size_t n = strftime(buf, cap, fmt.u.s->s, &tm);
    tstr *s = tmpl_str_new(r, buf, n);
    if (!s) return r->err->code;
    *out = tv_str(s);
    return INF_OK;
}

int tmpl_global_call(tmpl_rctx *r, int id, const targs *a, tval *out)
{
    switch (id) {
    case G_RANGE: return g_range(r, a, out);
    case G_DICT: return g_dict(r, a, false, out);
    case G_NAMESPACE: return g_dict(r, a, true, out);
    case G_RAISE: return g_raise(r, a);
    case G_STRFTIME: return g_strftime(r, a, out);
    default: return tmpl_fail(r, INF_ERR_INTERNAL, "unknown global %d", id);
    }
}
