/* arena.c: the bump allocator every template object lives in, and the growable
 * containers built on it (byte buffers, lists, dicts).
 *
 * A render allocates freely and frees nothing until it ends; the arena's budget
 * (tmpl_limits.max_memory) is what bounds a hostile template's appetite. */
#include "template/tmpl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN (64 * 1024)

struct tmpl_chunk {
    tmpl_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void tmpl_arena_init(tmpl_arena *a, size_t cap)
{
    a->head = NULL;
    a->used = 0;
    a->cap = cap;
}

void *tmpl_arena_alloc(tmpl_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    tmpl_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN / 2 ? n : CHUNK_MIN;
        if (a->used + size + sizeof *c > a->cap) return NULL;
        c = malloc(sizeof *c + size);
        if (!c) return NULL;
        c->size = size;
        c->used = 0;
        /* A large block gets its own chunk behind the head, so the head's free
         * room stays usable for the small allocations that follow. */
        if (size > CHUNK_MIN && a->head) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        a->used += size + sizeof *c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void tmpl_arena_free(tmpl_arena *a)
{
    tmpl_chunk *c = a->head;
    while (c) {
        tmpl_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

int tmpl_fail(tmpl_rctx *r, int code, const char *fmt, ...)
{
    char msg[INF_ERROR_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return inf_errorf(r->err, code, "template line %d:%d: %s", r->line, r->col, msg);
}

int tmpl_fail_undef(tmpl_rctx *r, tval v)
{
    const char *why = v.kind == TV_UNDEF && v.u.why ? v.u.why : "value is undefined";
    if (v.flags & TVF_UNSAFE) return tmpl_fail(r, INF_ERR_INVALID, "SecurityError: %s", why);
    return tmpl_fail(r, INF_ERR_INVALID, "UndefinedError: %s", why);
}

void *tmpl_alloc(tmpl_rctx *r, size_t n)
{
    void *p = tmpl_arena_alloc(&r->arena, n);
    if (!p)
        tmpl_fail(r, INF_ERR_NOMEM, "rendering needs more than %zu bytes of memory",
                  r->arena.cap);
    return p;
}

tstr *tmpl_str_new(tmpl_rctx *r, const char *p, size_t n)
{
    if (n > r->max_output) {
        tmpl_fail(r, INF_ERR_RANGE, "a string of %zu bytes exceeds the limit of %zu", n,
                  r->max_output);
        return NULL;
    }
    tstr *s = tmpl_alloc(r, sizeof *s + n + 1);
    if (!s) return NULL;
    s->len = n;
    if (n) memcpy(s->s, p, n);
    s->s[n] = '\0';
    return s;
}

tlist *tmpl_list_new(tmpl_rctx *r, size_t cap)
{
    tlist *l = tmpl_alloc(r, sizeof *l);
    if (!l) return NULL;
    if (cap) {
        l->v = tmpl_alloc(r, cap * sizeof *l->v);
        if (!l->v) return NULL;
        l->cap = cap;
    }
    return l;
}

int tmpl_list_push(tmpl_rctx *r, tlist *l, tval v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        tval *nv = tmpl_alloc(r, cap * sizeof *nv);
        if (!nv) return INF_ERR_NOMEM;
        if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return INF_OK;
}

tdict *tmpl_dict_new(tmpl_rctx *r, size_t cap)
{
    tdict *d = tmpl_alloc(r, sizeof *d);
    if (!d) return NULL;
    if (cap) {
        d->k = tmpl_alloc(r, cap * sizeof *d->k);
        d->v = tmpl_alloc(r, cap * sizeof *d->v);
        if (!d->k || !d->v) return NULL;
        d->cap = cap;
    }
    return d;
}

tval *tmpl_dict_get(const tdict *d, tval k)
{
    for (size_t i = 0; i < d->n; i++)
        if (tmpl_equal(d->k[i], k)) return &d->v[i];
    return NULL;
}

tval *tmpl_dict_get_cstr(const tdict *d, const char *k, size_t klen)
{
    for (size_t i = 0; i < d->n; i++) {
        const tval *key = &d->k[i];
        if (key->kind == TV_STR && key->u.s->len == klen && memcmp(key->u.s->s, k, klen) == 0)
            return &d->v[i];
    }
    return NULL;
}

int tmpl_dict_set(tmpl_rctx *r, tdict *d, tval k, tval v)
{
    tval *slot = tmpl_dict_get(d, k);
    if (slot) {
        *slot = v;
        return INF_OK;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        tval *nk = tmpl_alloc(r, cap * sizeof *nk);
        tval *nv = tmpl_alloc(r, cap * sizeof *nv);
        if (!nk || !nv) return INF_ERR_NOMEM;
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof *nk);
            memcpy(nv, d->v, d->n * sizeof *nv);
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
    return INF_OK;
}

int tmpl_buf_put(tmpl_rctx *r, tbuf *b, const char *p, size_t n)
{
    if (n == 0) return INF_OK;
    if (n > r->max_output || b->n > r->max_output - n)
        return tmpl_fail(r, INF_ERR_RANGE, "output exceeds the limit of %zu bytes",
                         r->max_output);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = tmpl_alloc(r, cap);
        if (!np) return INF_ERR_NOMEM;
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return INF_OK;
}

int tmpl_buf_putc(tmpl_rctx *r, tbuf *b, char c)
{
    return tmpl_buf_put(r, b, &c, 1);
}

int tmpl_buf_printf(tmpl_rctx *r, tbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return tmpl_fail(r, INF_ERR_INTERNAL, "formatting failed");
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    return tmpl_buf_put(r, b, tmp, (size_t)n);
}

int tmpl_buf_str(tmpl_rctx *r, const tbuf *b, tval *out)
{
    tstr *s = tmpl_str_new(r, b->p ? b->p : "", b->n);
    if (!s) return r->err ? r->err->code : INF_ERR_NOMEM;
    *out = tv_str(s);
    return INF_OK;
}
