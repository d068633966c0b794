/* interp.c: renders the AST: statements, expressions, scopes, and tmpl_render.
 *
 * Scoping is jinja2's: the template body is one scope; every for-loop iteration,
 * macro call, with block and {% generation %} body gets a fresh child scope, so
 * a {% set %} inside a loop is gone at the next iteration and after the loop
 * (namespaces exist to carry state out). {% if %} opens no scope. A macro sees
 * the scope it was defined in, as it is at call time.
 *
 * Attribute and item access follow jinja2's sandbox: x.name tries the Python
 * attribute first (a str or dict method) and then x['name']; x['k'] tries the
 * item first and then the attribute; what neither finds is undefined. Methods
 * that would mutate a list or dict are blocked (ImmutableSandboxedEnvironment). */
#include "template/tmpl_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int eval(tmpl_rctx *r, const tnode *e, tframe *f, tval *out);
static int exec_body(tmpl_rctx *r, tnode *const *body, size_t n, tframe *f);

static int step(tmpl_rctx *r, const tnode *n)
{
    r->line = n->line;
    r->col = n->col;
    if (++r->steps > r->max_steps)
        return tmpl_fail(r, INF_ERR_RANGE, "rendering took more than %llu steps",
                         (unsigned long long)r->max_steps);
    return INF_OK;
}

/* An undefined value whose message is formatted now (kept short). */
static tval undef_fmt(tmpl_rctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tval undef_fmt(tmpl_rctx *r, const char *fmt, ...)
{
    char tmp[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    size_t n = strlen(tmp);
    char *why = tmpl_arena_alloc(&r->arena, n + 1);
    if (why) memcpy(why, tmp, n + 1);
    return tv_undef(why);
}

static tframe *frame_new(tmpl_rctx *r, tframe *parent)
{
    tframe *f = tmpl_alloc(r, sizeof *f);
    if (f) f->parent = parent;
    return f;
}

static int frame_set(tmpl_rctx *r, tframe *f, const tstr *name, tval v)
{
    return tmpl_dict_set(r, &f->vars, tv_str(name), v);
}

static tval *frame_lookup(tframe *f, const char *name, size_t len)
{
    for (; f; f = f->parent) {
        tval *v = tmpl_dict_get_cstr(&f->vars, name, len);
        if (v) return v;
    }
    return NULL;
}

/* ---- access --------------------------------------------------------------------- */

static int method_value(tmpl_rctx *r, tval obj, int id, tval *out)
{
    tbound *bm = tmpl_alloc(r, sizeof *bm);
    if (!bm) return r->err->code;
    bm->method = id;
    bm->self = obj;
    tval v = {.kind = TV_METHOD};
    v.u.bm = bm;
    *out = v;
    return INF_OK;
}

/* The Python attribute `name` of obj (a method), if it has one: 1 found, 0 not. */
static int py_attr(tmpl_rctx *r, tval obj, const char *name, size_t len, tval *out)
{
    bool unsafe = false;
    int id = tmpl_method_lookup(obj, name, len, &unsafe);
    if (id < 0 && !unsafe) return 0;
    if (unsafe) {
        *out = undef_fmt(r, "access to attribute '%.*s' of '%s' object is unsafe.", (int)len, name,
                         tmpl_type_name(obj));
        out->flags |= TVF_UNSAFE;
        return 1;
    }
    return method_value(r, obj, id, out) == INF_OK ? 1 : -1;
}

static int loop_attr(tmpl_rctx *r, const tloop *l, const char *name, size_t len, tval *out)
{
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    if (IS("index")) *out = tv_int(l->index0 + 1);
    else if (IS("index0")) *out = tv_int(l->index0);
    else if (IS("revindex")) *out = tv_int(l->length - l->index0);
    else if (IS("revindex0")) *out = tv_int(l->length - l->index0 - 1);
    else if (IS("first")) *out = tv_bool(l->index0 == 0);
    else if (IS("last")) *out = tv_bool(l->index0 == l->length - 1);
    else if (IS("length")) *out = tv_int(l->length);
    else if (IS("depth")) *out = tv_int(l->depth0 + 1);
    else if (IS("depth0")) *out = tv_int(l->depth0);
    else if (IS("previtem"))
        *out = l->index0 > 0 ? l->items->v[l->index0 - 1] : tv_undef("there is no previous item");
    else if (IS("nextitem"))
        *out = l->index0 + 1 < l->length ? l->items->v[l->index0 + 1] : tv_undef("there is no next item");
    else *out = undef_fmt(r, "'LoopContext object' has no attribute '%.*s'", (int)len, name);
#undef IS
    return INF_OK;
}

int tmpl_getattr(tmpl_rctx *r, tval obj, const char *name, size_t len, tval *out)
{
    if (obj.kind == TV_UNDEF) return tmpl_fail_undef(r, obj);
    if (len >= 2 && name[0] == '_' && name[1] == '_') {
        *out = undef_fmt(r, "access to attribute '%.*s' of '%s' object is unsafe.", (int)len, name,
                         tmpl_type_name(obj));
        out->flags |= TVF_UNSAFE;
        return INF_OK;
    }
    if (obj.kind == TV_LOOP) {
        if (len == 5 && memcmp(name, "cycle", 5) == 0) return py_attr(r, obj, name, len, out) < 0 ? r->err->code : INF_OK;
        return loop_attr(r, obj.u.loop, name, len, out);
    }
    if (obj.kind == TV_NS) {
        tval *v = tmpl_dict_get_cstr(obj.u.d, name, len);
        *out = v ? *v : undef_fmt(r, "'Namespace object' has no attribute '%.*s'", (int)len, name);
        return INF_OK;
    }
    int found = py_attr(r, obj, name, len, out);
    if (found < 0) return r->err->code;
    if (found) return INF_OK;
    if (obj.kind == TV_DICT) {
        tval *v = tmpl_dict_get_cstr(obj.u.d, name, len);
        if (v) {
            *out = *v;
            return INF_OK;
        }
    }
    *out = undef_fmt(r, "'%s object' has no attribute '%.*s'", tmpl_type_name(obj), (int)len, name);
    return INF_OK;
}

int tmpl_getitem(tmpl_rctx *r, tval obj, tval key, tval *out)
{
    if (obj.kind == TV_UNDEF) return tmpl_fail_undef(r, obj);
    if (key.kind == TV_UNDEF && (key.flags & TVF_UNSAFE)) return tmpl_fail_undef(r, key);
    bool int_key = key.kind == TV_INT || key.kind == TV_BOOL;
    if (obj.kind == TV_LIST && int_key && !(obj.flags & TVF_GEN)) { /* generators have no [i] */
        int64_t i = key.u.i, n = (int64_t)obj.u.l->n;
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
            *out = obj.u.l->v[i];
            return INF_OK;
        }
    } else if (obj.kind == TV_STR && int_key) {
        const tstr *s = obj.u.s;
        int64_t n = (int64_t)tmpl_utf8_count(s->s, s->len), i = key.u.i;
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
            size_t b = tmpl_utf8_offset(s->s, s->len, (size_t)i), e = b;
            tmpl_utf8_next(s->s, s->len, &e);
            tstr *c = tmpl_str_new(r, s->s + b, e - b);
            if (!c) return r->err->code;
            *out = tv_str(c);
            return INF_OK;
        }
    } else if (obj.kind == TV_DICT) {
        tval *v = tmpl_dict_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return INF_OK;
        }
    }
    if (key.kind == TV_STR) {
        /* x['name'] falls back to the attribute, as jinja2's getitem does. */
        if (obj.kind == TV_NS || obj.kind == TV_LOOP)
            return tmpl_getattr(r, obj, key.u.s->s, key.u.s->len, out);
        if (!(key.u.s->len >= 2 && key.u.s->s[0] == '_' && key.u.s->s[1] == '_')) {
            int found = py_attr(r, obj, key.u.s->s, key.u.s->len, out);
            if (found < 0) return r->err->code;
            if (found) return INF_OK;
        }
        *out = undef_fmt(r, "'%s object' has no attribute '%s'", tmpl_type_name(obj), key.u.s->s);
        return INF_OK;
    }
    tbuf kb = {0};
    int rc = tmpl_write_repr(r, &kb, key);
    if (rc != INF_OK) return rc;
    *out = undef_fmt(r, "'%s object' has no element %.60s", tmpl_type_name(obj), kb.p ? kb.p : "");
    return INF_OK;
}

/* Python's slice index adjustment (PySlice_AdjustIndices). */
static int slice_bounds(tmpl_rctx *r, const tnode *e, tframe *f, int64_t len, int64_t *start,
                        int64_t *stop, int64_t *stepv)
{
    tval v[3];
    const tnode *parts[3] = {e->b, e->c, e->d};
    for (int k = 0; k < 3; k++) {
        v[k] = tv_none();
        if (parts[k]) {
            int rc = eval(r, parts[k], f, &v[k]);
            if (rc != INF_OK) return rc;
        }
        if (v[k].kind == TV_UNDEF) return tmpl_fail_undef(r, v[k]);
        if (v[k].kind != TV_NONE && v[k].kind != TV_INT && v[k].kind != TV_BOOL)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: slice indices must be integers or None");
    }
    int64_t st = v[2].kind == TV_NONE ? 1 : v[2].u.i;
    if (st == 0) return tmpl_fail(r, INF_ERR_INVALID, "ValueError: slice step cannot be zero");
    /* A step beyond any length picks one item at most; clamping keeps a + k*step
     * from overflowing. */
    const int64_t big = (int64_t)1 << 40;
    if (st > big) st = big;
    if (st < -big) st = -big;
    int64_t a, b;
    if (v[0].kind == TV_NONE) {
        a = st > 0 ? 0 : len - 1;
    } else {
        a = v[0].u.i;
        if (a < 0) {
            a += len;
            if (a < 0) a = st < 0 ? -1 : 0;
        } else if (a >= len) {
            a = st < 0 ? len - 1 : len;
        }
    }
    if (v[1].kind == TV_NONE) {
        b = st > 0 ? len : -1;
    } else {
        b = v[1].u.i;
        if (b < 0) {
            b += len;
            if (b < 0) b = st < 0 ? -1 : 0;
        } else if (b >= len) {
            b = st < 0 ? len - 1 : len;
        }
    }
    *start = a;
    *stop = b;
    *stepv = st;
    return INF_OK;
}

static int eval_slice(tmpl_rctx *r, const tnode *e, tframe *f, tval *out)
{
    tval obj;
    int rc = eval(r, e->a, f, &obj);
    if (rc != INF_OK) return rc;
    if (obj.kind == TV_UNDEF) return tmpl_fail_undef(r, obj);
    /* jinja2 compiles x[a:b] to a plain Python slice (no sandbox getitem), so
     * slicing anything but a list, tuple or str is an error, not undefined. */
    if ((obj.kind != TV_LIST && obj.kind != TV_STR) || (obj.flags & TVF_GEN))
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: '%s' object is not subscriptable", tmpl_type_name(obj));
    if (obj.kind == TV_LIST) {
        const tlist *l = obj.u.l;
        int64_t a, b, st;
        if ((rc = slice_bounds(r, e, f, (int64_t)l->n, &a, &b, &st)) != INF_OK) return rc;
        tlist *res = tmpl_list_new(r, 0);
        if (!res) return r->err->code;
        for (int64_t i = a; st > 0 ? i < b : i > b; i += st) {
            if ((rc = tmpl_list_push(r, res, l->v[i])) != INF_OK) return rc;
            if (st > 0 ? i > b - st : i < b - st) break; /* the next step would pass the end */
        }
        *out = tv_list(res, obj.flags & TVF_TUPLE);
        return INF_OK;
    }
    const tstr *s = obj.u.s;
    size_t nchars = tmpl_utf8_count(s->s, s->len);
    size_t *offs = tmpl_alloc(r, (nchars + 1) * sizeof *offs);
    if (!offs) return r->err->code;
    for (size_t i = 0, k = 0; k <= nchars; k++) {
        offs[k] = i;
        if (i < s->len) tmpl_utf8_next(s->s, s->len, &i);
    }
    int64_t a, b, st;
    if ((rc = slice_bounds(r, e, f, (int64_t)nchars, &a, &b, &st)) != INF_OK) return rc;
    tbuf buf = {0};
    if (st == 1 && a < b) {
        rc = tmpl_buf_put(r, &buf, s->s + offs[a], offs[b] - offs[a]);
    } else {
        for (int64_t i = a; rc == INF_OK && (st > 0 ? i < b : i > b); i += st) {
            rc = tmpl_buf_put(r, &buf, s->s + offs[i], offs[i + 1] - offs[i]);
            if (st > 0 ? i > b - st : i < b - st) break; /* the next step would pass the end */
        }
    }
    if (rc == INF_OK) rc = tmpl_buf_str(r, &buf, out);
    return rc;
}

int tmpl_iterate(tmpl_rctx *r, tval v, tlist **out)
{
    switch (v.kind) {
    case TV_LIST:
        *out = v.u.l;
        return INF_OK;
    case TV_UNDEF:
        if (v.flags & TVF_UNSAFE) return tmpl_fail_undef(r, v);
        *out = tmpl_list_new(r, 0);
        return *out ? INF_OK : r->err->code;
    case TV_DICT: {
        tlist *l = tmpl_list_new(r, v.u.d->n);
        if (!l) return r->err->code;
        memcpy(l->v, v.u.d->k, v.u.d->n * sizeof *l->v);
        l->n = v.u.d->n;
        *out = l;
        return INF_OK;
    }
    case TV_STR: {
        const tstr *s = v.u.s;
        tlist *l = tmpl_list_new(r, tmpl_utf8_count(s->s, s->len));
        if (!l) return r->err->code;
        for (size_t i = 0; i < s->len;) {
            size_t b = i;
            tmpl_utf8_next(s->s, s->len, &i);
            tstr *c = tmpl_str_new(r, s->s + b, i - b);
            if (!c) return r->err->code;
            l->v[l->n++] = tv_str(c);
        }
        *out = l;
        return INF_OK;
    }
    default:
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: '%s' object is not iterable", tmpl_type_name(v));
    }
}

/* ---- calls ------------------------------------------------------------------------- */

static bool str_is(const tstr *s, const char *c)
{
    size_t n = strlen(c);
    return s->len == n && memcmp(s->s, c, n) == 0;
}

static int call_macro(tmpl_rctx *r, const tmacro *m, const targs *a, const tval *caller, tval *out)
{
    const tnode *def = m->def;
    const char *name = def->name ? def->name->s : "caller";
    if (r->depth >= r->max_depth)
        return tmpl_fail(r, INF_ERR_RANGE, "macro calls nest deeper than %d", r->max_depth);
    if (a->n > def->n_kids && !def->uses_varargs)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: macro '%s' takes not more than %zu argument(s)",
                         name, def->n_kids);
    tframe *mf = frame_new(r, m->closure);
    if (!mf) return r->err->code;
    bool *bound = tmpl_alloc(r, def->n_kids + 1);
    if (!bound) return r->err->code;
    int rc = INF_OK;
    for (size_t i = 0; i < def->n_kids && i < a->n; i++) {
        if ((rc = frame_set(r, mf, def->kids[i]->name, a->pos[i])) != INF_OK) return rc;
        bound[i] = true;
    }
    tdict *kwargs = NULL;
    for (size_t k = 0; k < a->nk; k++) {
        size_t i;
        for (i = 0; i < def->n_kids; i++)
            if (def->kids[i]->name->len == a->kn[k]->len &&
                memcmp(def->kids[i]->name->s, a->kn[k]->s, a->kn[k]->len) == 0)
                break;
        if (i < def->n_kids) {
            if (bound[i])
                return tmpl_fail(r, INF_ERR_INVALID, "TypeError: macro '%s' got multiple values for argument '%s'",
                                 name, a->kn[k]->s);
            if ((rc = frame_set(r, mf, def->kids[i]->name, a->kv[k])) != INF_OK) return rc;
            bound[i] = true;
        } else if (str_is(a->kn[k], "caller")) {
            if ((rc = frame_set(r, mf, a->kn[k], a->kv[k])) != INF_OK) return rc;
        } else if (def->uses_kwargs) {
            if (!kwargs && !(kwargs = tmpl_dict_new(r, 0))) return r->err->code;
            if ((rc = tmpl_dict_set(r, kwargs, tv_str(a->kn[k]), a->kv[k])) != INF_OK) return rc;
        } else {
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: macro '%s' takes no keyword argument '%s'",
                             name, a->kn[k]->s);
        }
    }
    for (size_t i = 0; i < def->n_kids; i++) {
        if (bound[i]) continue;
        tval v;
        if (def->kwv && def->kwv[i]) {
            if ((rc = eval(r, def->kwv[i], mf, &v)) != INF_OK) return rc;
        } else {
            v = undef_fmt(r, "parameter '%s' was not provided", def->kids[i]->name->s);
        }
        if ((rc = frame_set(r, mf, def->kids[i]->name, v)) != INF_OK) return rc;
    }
    if (def->uses_varargs) {
        tlist *extra = tmpl_list_new(r, 0);
        if (!extra) return r->err->code;
        for (size_t i = def->n_kids; i < a->n; i++)
            if ((rc = tmpl_list_push(r, extra, a->pos[i])) != INF_OK) return rc;
        tstr *nm = tmpl_str_new(r, "varargs", 7);
        if (!nm) return r->err->code;
        if ((rc = frame_set(r, mf, nm, tv_list(extra, true))) != INF_OK) return rc;
    }
    if (def->uses_kwargs) {
        if (!kwargs && !(kwargs = tmpl_dict_new(r, 0))) return r->err->code;
        tstr *nm = tmpl_str_new(r, "kwargs", 6);
        if (!nm) return r->err->code;
        if ((rc = frame_set(r, mf, nm, tv_dict(kwargs))) != INF_OK) return rc;
    }
    if (caller) {
        tstr *nm = tmpl_str_new(r, "caller", 6);
        if (!nm) return r->err->code;
        if ((rc = frame_set(r, mf, nm, *caller)) != INF_OK) return rc;
    }
    tbuf buf = {0};
    tbuf *saved = r->out;
    r->out = &buf;
    r->depth++;
    rc = exec_body(r, def->body, def->n_body, mf);
    r->depth--;
    r->out = saved;
    if (rc != INF_OK) return rc;
    return tmpl_buf_str(r, &buf, out);
}

int tmpl_call(tmpl_rctx *r, tval fn, const targs *a, tval *out)
{
    switch (fn.kind) {
    case TV_MACRO: return call_macro(r, fn.u.m, a, NULL, out);
    case TV_FUNC: return tmpl_global_call(r, fn.id, a, out);
    case TV_METHOD: return tmpl_method_call(r, fn.u.bm, a, out);
    case TV_UNDEF: return tmpl_fail_undef(r, fn);
    default:
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: '%s' object is not callable", tmpl_type_name(fn));
    }
}

static int eval_args(tmpl_rctx *r, const tnode *e, tframe *f, targs *a)
{
    memset(a, 0, sizeof *a);
    if (e->n_kids) {
        a->pos = tmpl_alloc(r, e->n_kids * sizeof *a->pos);
        if (!a->pos) return r->err->code;
    }
    if (e->n_kw) {
        a->kv = tmpl_alloc(r, e->n_kw * sizeof *a->kv);
        if (!a->kv) return r->err->code;
        a->kn = e->kwn;
    }
    for (size_t i = 0; i < e->n_kids; i++) {
        int rc = eval(r, e->kids[i], f, &a->pos[i]);
        if (rc != INF_OK) return rc;
    }
    for (size_t i = 0; i < e->n_kw; i++) {
        int rc = eval(r, e->kwv[i], f, &a->kv[i]);
        if (rc != INF_OK) return rc;
    }
    a->n = e->n_kids;
    a->nk = e->n_kw;
    return INF_OK;
}

static int eval_call(tmpl_rctx *r, const tnode *e, tframe *f, const tval *caller, tval *out)
{
    tval fn;
    int rc;
    const tnode *callee = e->a;
    if (callee->kind == E_ATTR) {
        tval obj;
        if ((rc = eval(r, callee->a, f, &obj)) != INF_OK) return rc;
        if ((rc = tmpl_getattr(r, obj, callee->name->s, callee->name->len, &fn)) != INF_OK) return rc;
    } else if ((rc = eval(r, callee, f, &fn)) != INF_OK) {
        return rc;
    }
    targs a;
    if ((rc = eval_args(r, e, f, &a)) != INF_OK) return rc;
    r->line = e->line;
    r->col = e->col;
    if (caller) {
        if (fn.kind != TV_MACRO)
            return tmpl_fail(r, INF_ERR_INVALID, "{%% call %%} needs a macro, not a %s", tmpl_type_name(fn));
        return call_macro(r, fn.u.m, &a, caller, out);
    }
    return tmpl_call(r, fn, &a, out);
}

/* ---- operators ------------------------------------------------------------------------ */

static bool is_num(tval v)
{
    return v.kind == TV_INT || v.kind == TV_BOOL || v.kind == TV_FLOAT;
}

static double as_f(tval v)
{
    return v.kind == TV_FLOAT ? v.u.f : (double)v.u.i;
}

static int type_error(tmpl_rctx *r, const char *op, tval a, tval b)
{
    return tmpl_fail(r, INF_ERR_INVALID, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op,
                     tmpl_type_name(a), tmpl_type_name(b));
}

static int overflow(tmpl_rctx *r)
{
    return tmpl_fail(r, INF_ERR_RANGE, "integer result outside the 64-bit range");
}

static int concat_str(tmpl_rctx *r, const tstr *a, const tstr *b, tval *out)
{
    tbuf buf = {0};
    int rc = tmpl_buf_put(r, &buf, a->s, a->len);
    if (rc == INF_OK) rc = tmpl_buf_put(r, &buf, b->s, b->len);
    if (rc == INF_OK) rc = tmpl_buf_str(r, &buf, out);
    return rc;
}

static int repeat(tmpl_rctx *r, tval seq, int64_t times, tval *out)
{
    if (times < 0) times = 0;
    if (seq.kind == TV_STR) {
        const tstr *s = seq.u.s;
        if (s->len && (uint64_t)times > r->max_output / s->len)
            return tmpl_fail(r, INF_ERR_RANGE, "string repetition exceeds the limit of %zu bytes", r->max_output);
        tbuf buf = {0};
        int rc = INF_OK;
        for (int64_t i = 0; i < times && rc == INF_OK; i++) rc = tmpl_buf_put(r, &buf, s->s, s->len);
        if (rc == INF_OK) rc = tmpl_buf_str(r, &buf, out);
        return rc;
    }
    const tlist *l = seq.u.l;
    if (l->n && (uint64_t)times > r->max_steps / l->n)
        return tmpl_fail(r, INF_ERR_RANGE, "list repetition too large");
    tlist *res = tmpl_list_new(r, l->n * (size_t)times);
    if (!res) return r->err->code;
    for (int64_t i = 0; i < times; i++) {
        memcpy(res->v + res->n, l->v, l->n * sizeof *l->v);
        res->n += l->n;
    }
    r->steps += res->n;
    *out = tv_list(res, seq.flags & TVF_TUPLE);
    return INF_OK;
}

static int int_pow(tmpl_rctx *r, int64_t base, int64_t ex, tval *out)
{
    int64_t acc = 1;
    while (ex > 0) {
        if (ex & 1) {
            if (__builtin_mul_overflow(acc, base, &acc)) return overflow(r);
        }
        ex >>= 1;
        if (ex && __builtin_mul_overflow(base, base, &base)) return overflow(r);
    }
    *out = tv_int(acc);
    return INF_OK;
}

/* Python "%" string formatting, for the conversions templates use (%s %d %r %%). */
static int str_percent(tmpl_rctx *r, const tstr *fmt, tval args, tval *out)
{
    const tval *items = &args;
    size_t n_items = 1, used = 0;
    if (args.kind == TV_LIST && (args.flags & TVF_TUPLE)) {
        items = args.u.l->v;
        n_items = args.u.l->n;
    }
    tbuf buf = {0};
    int rc = INF_OK;
    for (size_t i = 0; i < fmt->len && rc == INF_OK; i++) {
        char c = fmt->s[i];
        if (c != '%') {
            rc = tmpl_buf_putc(r, &buf, c);
            continue;
        }
        char conv = i + 1 < fmt->len ? fmt->s[++i] : '\0';
        if (conv == '%') {
            rc = tmpl_buf_putc(r, &buf, '%');
            continue;
        }
        if (conv != 's' && conv != 'd' && conv != 'r' && conv != 'i')
            return tmpl_fail(r, INF_ERR_UNSUPPORTED, "unsupported %%-format conversion '%%%c'", conv);
        if (used >= n_items)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: not enough arguments for format string");
        tval v = items[used++];
        if (conv == 'r') {
            rc = tmpl_write_repr(r, &buf, v);
        } else if (conv == 's') {
            rc = tmpl_write_str(r, &buf, v);
        } else {
            if (!is_num(v))
                return tmpl_fail(r, INF_ERR_INVALID, "TypeError: %%d format: a real number is required, not %s",
                                 tmpl_type_name(v));
            rc = tmpl_buf_printf(r, &buf, "%lld", v.kind == TV_FLOAT ? (long long)v.u.f : (long long)v.u.i);
        }
    }
    if (rc == INF_OK && used < n_items)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: not all arguments converted during string formatting");
    if (rc == INF_OK) rc = tmpl_buf_str(r, &buf, out);
    return rc;
}

static int binary(tmpl_rctx *r, int op, tval a, tval b, tval *out)
{
    static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    if (op == OP_CONCAT) {
        tbuf buf = {0};
        int rc = tmpl_write_str(r, &buf, a);
        if (rc == INF_OK) rc = tmpl_write_str(r, &buf, b);
        if (rc == INF_OK) rc = tmpl_buf_str(r, &buf, out);
        return rc;
    }
    if (a.kind == TV_UNDEF) return tmpl_fail_undef(r, a);
    if (b.kind == TV_UNDEF) return tmpl_fail_undef(r, b);
    if (is_num(a) && is_num(b)) {
        bool fl = a.kind == TV_FLOAT || b.kind == TV_FLOAT;
        int64_t x = a.u.i, y = b.u.i, z;
        switch (op) {
        case OP_ADD:
            if (fl) { *out = tv_float(as_f(a) + as_f(b)); return INF_OK; }
            if (__builtin_add_overflow(x, y, &z)) return overflow(r);
            *out = tv_int(z);
            return INF_OK;
        case OP_SUB:
            if (fl) { *out = tv_float(as_f(a) - as_f(b)); return INF_OK; }
            if (__builtin_sub_overflow(x, y, &z)) return overflow(r);
            *out = tv_int(z);
            return INF_OK;
        case OP_MUL:
            if (fl) { *out = tv_float(as_f(a) * as_f(b)); return INF_OK; }
            if (__builtin_mul_overflow(x, y, &z)) return overflow(r);
            *out = tv_int(z);
            return INF_OK;
        case OP_DIV:
            if (as_f(b) == 0) return tmpl_fail(r, INF_ERR_INVALID, "ZeroDivisionError: division by zero");
            *out = tv_float(as_f(a) / as_f(b));
            return INF_OK;
        case OP_FLOORDIV:
        case OP_MOD:
            if (as_f(b) == 0)
                return tmpl_fail(r, INF_ERR_INVALID, "ZeroDivisionError: integer division or modulo by zero");
            if (fl) {
                double fa = as_f(a), fb = as_f(b), m = fmod(fa, fb);
                if (m != 0 && ((m < 0) != (fb < 0))) m += fb;
                if (m == 0) m = copysign(0.0, fb);
                if (op == OP_MOD) {
                    *out = tv_float(m);
                } else { /* CPython's float floor division */
                    double div = (fa - m) / fb, fd;
                    if (div != 0) {
                        fd = floor(div);
                        if (div - fd > 0.5) fd += 1.0;
                    } else {
                        fd = copysign(0.0, fa / fb);
                    }
                    *out = tv_float(fd);
                }
                return INF_OK;
            }
            if (x == INT64_MIN && y == -1) return overflow(r);
            if (op == OP_FLOORDIV) {
                int64_t q = x / y;
                if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
                *out = tv_int(q);
            } else {
                int64_t m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) m += y;
                *out = tv_int(m);
            }
            return INF_OK;
        case OP_POW:
            if (!fl && y >= 0) return int_pow(r, x, y, out);
            if (as_f(a) == 0 && as_f(b) < 0)
                return tmpl_fail(r, INF_ERR_INVALID, "ZeroDivisionError: zero to a negative power");
            if (as_f(a) < 0 && as_f(b) != floor(as_f(b)))
                return tmpl_fail(r, INF_ERR_UNSUPPORTED, "negative number to a fractional power (complex result)");
            *out = tv_float(pow(as_f(a), as_f(b)));
            return INF_OK;
        default:
            break;
        }
    }
    if (op == OP_ADD && a.kind == TV_STR && b.kind == TV_STR) {
        /* Markup + str escapes the plain side (markupsafe's __add__/__radd__). */
        bool ma = a.flags & TVF_MARKUP, mb = b.flags & TVF_MARKUP;
        int rc;
        if (ma != mb) {
            tval *plain = ma ? &b : &a;
            if ((rc = tmpl_html_escape(r, plain->u.s, plain)) != INF_OK) return rc;
        }
        if ((rc = concat_str(r, a.u.s, b.u.s, out)) != INF_OK) return rc;
        if (ma || mb) out->flags |= TVF_MARKUP;
        return INF_OK;
    }
    if (op == OP_ADD && a.kind == TV_LIST && b.kind == TV_LIST && (a.flags & TVF_TUPLE) == (b.flags & TVF_TUPLE)) {
        tlist *l = tmpl_list_new(r, a.u.l->n + b.u.l->n);
        if (!l) return r->err->code;
        memcpy(l->v, a.u.l->v, a.u.l->n * sizeof *l->v);
        memcpy(l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof *l->v);
        l->n = a.u.l->n + b.u.l->n;
        *out = tv_list(l, a.flags & TVF_TUPLE);
        return INF_OK;
    }
    if (op == OP_MUL) {
        if ((a.kind == TV_STR || a.kind == TV_LIST) && (b.kind == TV_INT || b.kind == TV_BOOL))
            return repeat(r, a, b.u.i, out);
        if ((b.kind == TV_STR || b.kind == TV_LIST) && (a.kind == TV_INT || a.kind == TV_BOOL))
            return repeat(r, b, a.u.i, out);
    }
    if (op == OP_MOD && a.kind == TV_STR) return str_percent(r, a.u.s, b, out);
    return type_error(r, names[op], a, b);
}

static int contains(tmpl_rctx *r, tval item, tval seq, bool *out)
{
    switch (seq.kind) {
    case TV_UNDEF:
        if (seq.flags & TVF_UNSAFE) return tmpl_fail_undef(r, seq);
        *out = false;
        return INF_OK;
    case TV_STR:
        if (item.kind == TV_UNDEF) return tmpl_fail_undef(r, item);
        if (item.kind != TV_STR)
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: 'in <string>' requires string as left operand, not %s",
                             tmpl_type_name(item));
        *out = item.u.s->len == 0 ||
               memmem(seq.u.s->s, seq.u.s->len, item.u.s->s, item.u.s->len) != NULL;
        return INF_OK;
    case TV_LIST:
        *out = false;
        for (size_t i = 0; i < seq.u.l->n && !*out; i++) *out = tmpl_equal(seq.u.l->v[i], item);
        return INF_OK;
    case TV_DICT:
        *out = tmpl_dict_get(seq.u.d, item) != NULL;
        return INF_OK;
    default:
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: argument of type '%s' is not iterable",
                         tmpl_type_name(seq));
    }
}

static int compare(tmpl_rctx *r, int op, tval a, tval b, bool *res)
{
    bool lt;
    int rc;
    switch (op) {
    case CMP_EQ: *res = tmpl_equal(a, b); return INF_OK;
    case CMP_NE: *res = !tmpl_equal(a, b); return INF_OK;
    case CMP_LT: return tmpl_less(r, a, b, res);
    case CMP_GT: return tmpl_less(r, b, a, res);
    case CMP_LE:
        if ((rc = tmpl_less(r, b, a, &lt)) != INF_OK) return rc;
        *res = !lt;
        return INF_OK;
    case CMP_GE:
        if ((rc = tmpl_less(r, a, b, &lt)) != INF_OK) return rc;
        *res = !lt;
        return INF_OK;
    case CMP_IN: return contains(r, a, b, res);
    case CMP_NOTIN:
        if ((rc = contains(r, a, b, res)) != INF_OK) return rc;
        *res = !*res;
        return INF_OK;
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "bad comparison");
    }
}

static int eval_filter(tmpl_rctx *r, const tnode *e, tframe *f, tval *out)
{
    tval in;
    targs a;
    int rc = eval(r, e->a, f, &in);
    if (rc == INF_OK) rc = eval_args(r, e, f, &a);
    if (rc != INF_OK) return rc;
    r->line = e->line;
    r->col = e->col;
    return tmpl_filter_apply(r, e->id, in, &a, out);
}

static int eval(tmpl_rctx *r, const tnode *e, tframe *f, tval *out)
{
    int rc = step(r, e);
    if (rc != INF_OK) return rc;
    switch (e->kind) {
    case E_CONST:
        *out = e->v;
        return INF_OK;
    case E_SELF:
        *out = r->self_text;
        return INF_OK;
    case E_NAME: {
        tval *v = frame_lookup(f, e->name->s, e->name->len);
        if (v) {
            *out = *v;
            return INF_OK;
        }
        int id = tmpl_global_id(e->name->s, e->name->len);
        if (id >= 0) {
            tval g = {.kind = TV_FUNC, .id = (uint16_t)id};
            *out = g;
            return INF_OK;
        }
        *out = undef_fmt(r, "'%s' is undefined", e->name->s);
        return INF_OK;
    }
    case E_LIST:
    case E_TUPLE: {
        tlist *l = tmpl_list_new(r, e->n_kids);
        if (!l) return r->err->code;
        for (size_t i = 0; i < e->n_kids; i++)
            if ((rc = eval(r, e->kids[i], f, &l->v[i])) != INF_OK) return rc;
        l->n = e->n_kids;
        *out = tv_list(l, e->kind == E_TUPLE);
        return INF_OK;
    }
    case E_DICT: {
        tdict *d = tmpl_dict_new(r, e->n_kids);
        if (!d) return r->err->code;
        for (size_t i = 0; i < e->n_kids; i++) {
            tval k, v;
            if ((rc = eval(r, e->kids[i], f, &k)) != INF_OK) return rc;
            if ((rc = eval(r, e->kwv[i], f, &v)) != INF_OK) return rc;
            if (k.kind == TV_LIST && !(k.flags & TVF_TUPLE))
                return tmpl_fail(r, INF_ERR_INVALID, "TypeError: unhashable type: 'list'");
            if (k.kind == TV_DICT || k.kind == TV_NS)
                return tmpl_fail(r, INF_ERR_INVALID, "TypeError: unhashable type: '%s'", tmpl_type_name(k));
            if ((rc = tmpl_dict_set(r, d, k, v)) != INF_OK) return rc;
        }
        *out = tv_dict(d);
        return INF_OK;
    }
    case E_ATTR: {
        tval obj;
        if ((rc = eval(r, e->a, f, &obj)) != INF_OK) return rc;
        r->line = e->line;
        r->col = e->col;
        return tmpl_getattr(r, obj, e->name->s, e->name->len, out);
    }
    case E_ITEM: {
        tval obj, key;
        if ((rc = eval(r, e->a, f, &obj)) != INF_OK) return rc;
        if ((rc = eval(r, e->b, f, &key)) != INF_OK) return rc;
        r->line = e->line;
        r->col = e->col;
        return tmpl_getitem(r, obj, key, out);
    }
    case E_SLICE:
        return eval_slice(r, e, f, out);
    case E_CALL:
        return eval_call(r, e, f, NULL, out);
    case E_FILTER:
        return eval_filter(r, e, f, out);
    case E_TEST: {
        tval in;
        targs a;
        bool res;
        if ((rc = eval(r, e->a, f, &in)) != INF_OK) return rc;
        if ((rc = eval_args(r, e, f, &a)) != INF_OK) return rc;
        r->line = e->line;
        r->col = e->col;
        if ((rc = tmpl_test_apply(r, e->id, in, &a, &res)) != INF_OK) return rc;
        *out = tv_bool(e->op ? !res : res);
        return INF_OK;
    }
    case E_NOT: {
        tval v;
        if ((rc = eval(r, e->a, f, &v)) != INF_OK) return rc;
        *out = tv_bool(!tmpl_truthy(v));
        return INF_OK;
    }
    case E_NEG:
    case E_POS: {
        tval v;
        if ((rc = eval(r, e->a, f, &v)) != INF_OK) return rc;
        if (v.kind == TV_UNDEF) return tmpl_fail_undef(r, v);
        if (!is_num(v))
            return tmpl_fail(r, INF_ERR_INVALID, "TypeError: bad operand type for unary %c: '%s'",
                             e->kind == E_NEG ? '-' : '+', tmpl_type_name(v));
        if (e->kind == E_POS) {
            *out = v.kind == TV_BOOL ? tv_int(v.u.i) : v;
        } else if (v.kind == TV_FLOAT) {
            *out = tv_float(-v.u.f);
        } else {
            if (v.u.i == INT64_MIN) return overflow(r);
            *out = tv_int(-v.u.i);
        }
        return INF_OK;
    }
    case E_BIN: {
        tval a, b;
        if ((rc = eval(r, e->a, f, &a)) != INF_OK) return rc;
        if ((rc = eval(r, e->b, f, &b)) != INF_OK) return rc;
        r->line = e->line;
        r->col = e->col;
        return binary(r, e->op, a, b, out);
    }
    case E_AND:
    case E_OR: {
        /* Python returns the deciding operand, not a bool. */
        if ((rc = eval(r, e->a, f, out)) != INF_OK) return rc;
        bool t = tmpl_truthy(*out);
        if (e->kind == E_AND ? !t : t) return INF_OK;
        return eval(r, e->b, f, out);
    }
    case E_CMP: {
        tval a;
        if ((rc = eval(r, e->a, f, &a)) != INF_OK) return rc;
        bool res = true;
        for (size_t i = 0; i < e->n_kids && res; i++) {
            tval b;
            if ((rc = eval(r, e->kids[i], f, &b)) != INF_OK) return rc;
            r->line = e->line;
            r->col = e->col;
            if ((rc = compare(r, e->ops[i], a, b, &res)) != INF_OK) return rc;
            a = b;
        }
        *out = tv_bool(res);
        return INF_OK;
    }
    case E_COND: {
        tval c;
        if ((rc = eval(r, e->a, f, &c)) != INF_OK) return rc;
        if (tmpl_truthy(c)) return eval(r, e->b, f, out);
        if (e->c) return eval(r, e->c, f, out);
        *out = undef_fmt(r, "the inline if-expression on line %d evaluated to false and no else section was defined.",
                         e->line);
        return INF_OK;
    }
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "not an expression (node kind %d)", e->kind);
    }
}

/* ---- statements -------------------------------------------------------------------------- */

/* Binds a for/set target: a name, or a tuple of names unpacking a sequence. */
static int assign(tmpl_rctx *r, const tnode *target, tval v, tframe *f)
{
    if (target->kind == E_NAME) return frame_set(r, f, target->name, v);
    tlist *items;
    if (v.kind == TV_UNDEF) return tmpl_fail_undef(r, v);
    if (v.kind != TV_LIST && v.kind != TV_STR && v.kind != TV_DICT)
        return tmpl_fail(r, INF_ERR_INVALID, "TypeError: cannot unpack non-iterable %s object", tmpl_type_name(v));
    int rc = tmpl_iterate(r, v, &items);
    if (rc != INF_OK) return rc;
    if (items->n != target->n_kids)
        return tmpl_fail(r, INF_ERR_INVALID, "ValueError: %s values to unpack (expected %zu, got %zu)",
                         items->n > target->n_kids ? "too many" : "not enough", target->n_kids, items->n);
    for (size_t i = 0; i < items->n; i++)
        if ((rc = frame_set(r, f, target->kids[i]->name, items->v[i])) != INF_OK) return rc;
    return INF_OK;
}

static int exec_for(tmpl_rctx *r, const tnode *s, tframe *f)
{
    tval seq;
    int rc = eval(r, s->b, f, &seq);
    if (rc != INF_OK) return rc;
    r->line = s->line;
    r->col = s->col;
    tlist *items;
    if ((rc = tmpl_iterate(r, seq, &items)) != INF_OK) return rc;
    if (s->c) {
        tlist *kept = tmpl_list_new(r, 0);
        if (!kept) return r->err->code;
        for (size_t i = 0; i < items->n; i++) {
            tframe *tf = frame_new(r, f);
            tval ok;
            if (!tf) return r->err->code;
            if ((rc = assign(r, s->a, items->v[i], tf)) != INF_OK) return rc;
            if ((rc = eval(r, s->c, tf, &ok)) != INF_OK) return rc;
            if (tmpl_truthy(ok) && (rc = tmpl_list_push(r, kept, items->v[i])) != INF_OK) return rc;
        }
        items = kept;
    }
    if (items->n == 0) {
        tframe *ef = frame_new(r, f);
        return ef ? exec_body(r, s->els, s->n_els, ef) : r->err->code;
    }
    tloop *loop = tmpl_alloc(r, sizeof *loop);
    tstr *loop_name = tmpl_str_new(r, "loop", 4);
    if (!loop || !loop_name) return r->err->code;
    loop->items = items;
    loop->length = (int64_t)items->n;
    /* loop.depth counts recursive-loop levels, so it is 1 in every loop of the subset. */
    tval lv = {.kind = TV_LOOP};
    lv.u.loop = loop;
    for (size_t i = 0; i < items->n; i++) {
        if (++r->steps > r->max_steps)
            return tmpl_fail(r, INF_ERR_RANGE, "rendering took more than %llu steps",
                             (unsigned long long)r->max_steps);
        loop->index0 = (int64_t)i;
        tframe *it = frame_new(r, f);
        if (!it) return r->err->code;
        if ((rc = frame_set(r, it, loop_name, lv)) != INF_OK) return rc;
        if ((rc = assign(r, s->a, items->v[i], it)) != INF_OK) return rc;
        rc = exec_body(r, s->body, s->n_body, it);
        if (rc == TMPL_BREAK) break;
        if (rc == TMPL_CONTINUE) continue;
        if (rc != INF_OK) return rc;
    }
    return INF_OK;
}

static int exec_set(tmpl_rctx *r, const tnode *s, tframe *f)
{
    tval v;
    int rc = eval(r, s->b, f, &v);
    if (rc != INF_OK) return rc;
    r->line = s->line;
    r->col = s->col;
    if (s->a->kind != E_ATTR) return assign(r, s->a, v, f);
    const tnode *t = s->a;
    tval *ns = frame_lookup(f, t->a->name->s, t->a->name->len);
    if (!ns || ns->kind != TV_NS)
        return tmpl_fail(r, INF_ERR_INVALID, "TemplateRuntimeError: cannot assign attribute on non-namespace object");
    if (t->name->s[0] == '_')
        return tmpl_fail(r, INF_ERR_INVALID,
                         "SecurityError: chat templates cannot store underscore-prefixed attributes on a namespace");
    return tmpl_dict_set(r, ns->u.d, tv_str(t->name), v);
}

/* Renders body into a fresh buffer (in a child scope) and returns its text. */
static int capture(tmpl_rctx *r, tnode *const *body, size_t n, tframe *f, tval *out)
{
    tframe *inner = frame_new(r, f);
    if (!inner) return r->err->code;
    tbuf buf = {0};
    tbuf *saved = r->out;
    r->out = &buf;
    int rc = exec_body(r, body, n, inner);
    r->out = saved;
    if (rc != INF_OK) return rc;
    return tmpl_buf_str(r, &buf, out);
}

static int apply_block_filters(tmpl_rctx *r, const tnode *chain, tframe *f, tval text, tval *out)
{
    if (!chain) {
        *out = text;
        return INF_OK;
    }
    tval saved = r->self_text;
    r->self_text = text;
    int rc = eval(r, chain, f, out);
    r->self_text = saved;
    return rc;
}

static int exec_stmt(tmpl_rctx *r, const tnode *s, tframe *f)
{
    int rc = step(r, s);
    if (rc != INF_OK) return rc;
    switch (s->kind) {
    case N_TEXT:
        return tmpl_buf_put(r, r->out, s->v.u.s->s, s->v.u.s->len);
    case N_PRINT: {
        tval v;
        if ((rc = eval(r, s->a, f, &v)) != INF_OK) return rc;
        return tmpl_write_str(r, r->out, v);
    }
    case N_IF: {
        tval c;
        if ((rc = eval(r, s->a, f, &c)) != INF_OK) return rc;
        return tmpl_truthy(c) ? exec_body(r, s->body, s->n_body, f) : exec_body(r, s->els, s->n_els, f);
    }
    case N_FOR:
        return exec_for(r, s, f);
    case N_SET:
        return exec_set(r, s, f);
    case N_SETBLOCK: {
        tval text, v;
        if ((rc = capture(r, s->body, s->n_body, f, &text)) != INF_OK) return rc;
        if ((rc = apply_block_filters(r, s->c, f, text, &v)) != INF_OK) return rc;
        return frame_set(r, f, s->a->name, v);
    }
    case N_MACRO: {
        tmacro *m = tmpl_alloc(r, sizeof *m);
        if (!m) return r->err->code;
        m->def = s;
        m->closure = f;
        tval v = {.kind = TV_MACRO};
        v.u.m = m;
        return frame_set(r, f, s->name, v);
    }
    case N_CALLBLOCK: {
        tmacro *m = tmpl_alloc(r, sizeof *m);
        if (!m) return r->err->code;
        m->def = s;
        m->closure = f;
        tval caller = {.kind = TV_MACRO}, v;
        caller.u.m = m;
        if ((rc = eval_call(r, s->a, f, &caller, &v)) != INF_OK) return rc;
        return tmpl_write_str(r, r->out, v);
    }
    case N_FILTERBLOCK: {
        tval text, v;
        if ((rc = capture(r, s->body, s->n_body, f, &text)) != INF_OK) return rc;
        if ((rc = apply_block_filters(r, s->c, f, text, &v)) != INF_OK) return rc;
        return tmpl_write_str(r, r->out, v);
    }
    case N_WITH: {
        tframe *wf = frame_new(r, f);
        if (!wf) return r->err->code;
        for (size_t i = 0; i < s->n_kids; i++) {
            tval v;
            if ((rc = eval(r, s->kwv[i], f, &v)) != INF_OK) return rc;
            if ((rc = frame_set(r, wf, s->kids[i]->name, v)) != INF_OK) return rc;
        }
        return exec_body(r, s->body, s->n_body, wf);
    }
    case N_GENERATION: {
        tframe *gf = frame_new(r, f);
        return gf ? exec_body(r, s->body, s->n_body, gf) : r->err->code;
    }
    case N_BREAK:
        return TMPL_BREAK;
    case N_CONTINUE:
        return TMPL_CONTINUE;
    default:
        return tmpl_fail(r, INF_ERR_INTERNAL, "not a statement (node kind %d)", s->kind);
    }
}

static int exec_body(tmpl_rctx *r, tnode *const *body, size_t n, tframe *f)
{
    for (size_t i = 0; i < n; i++) {
        int rc = exec_stmt(r, body[i], f);
        if (rc != INF_OK) return rc;
    }
    return INF_OK;
}

/* ---- entry points ---------------------------------------------------------------------------- */

int tmpl_render(const tmpl_template *t, const json_t *ctx, const tmpl_render_opts *opts, char **out,
                size_t *out_len, inf_error *err)
{
    inf_error local;
    tmpl_rctx r = {0};
    int rc;
    *out = NULL;
    if (out_len) *out_len = 0;
    inf_error_clear(&local);
    tmpl_limits lim = opts ? opts->limits : (tmpl_limits){0};
    r.t = t;
    r.err = &local;
    r.max_output = lim.max_output ? lim.max_output : (size_t)64 << 20;
    r.max_steps = lim.max_steps ? lim.max_steps : 50000000ull;
    r.max_depth = lim.max_depth > 0 ? lim.max_depth : 64;
    r.now = opts && opts->now ? opts->now : time(NULL);
    tmpl_arena_init(&r.arena, lim.max_memory ? lim.max_memory : (size_t)512 << 20);
    tbuf buf = {0};
    r.out = &buf;
    tframe *top = frame_new(&r, NULL);
    if (!top) {
        rc = local.code;
        goto out;
    }
    if (ctx && !json_is_object(ctx)) {
        rc = inf_errorf(&local, INF_ERR_INVALID, "template context must be a JSON object");
        goto out;
    }
    if (ctx) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)ctx, key, val) {
            tval v;
            tstr *k = tmpl_str_new(&r, key, strlen(key));
            if (!k) {
                rc = local.code;
                goto out;
            }
            if ((rc = tmpl_from_json(&r, val, &v)) != INF_OK) goto out;
            if ((rc = frame_set(&r, top, k, v)) != INF_OK) goto out;
        }
    }
    rc = exec_body(&r, t->body, t->n_body, top);
    if (rc != INF_OK) goto out;
    *out = malloc(buf.n + 1);
    if (!*out) {
        rc = inf_errorf(&local, INF_ERR_NOMEM, "out of memory for the rendered template");
        goto out;
    }
    if (buf.n) memcpy(*out, buf.p, buf.n);
    (*out)[buf.n] = '\0';
    if (out_len) *out_len = buf.n;
out:
    if (rc != INF_OK && err) *err = local;
    tmpl_arena_free(&r.arena);
    return rc;
}
