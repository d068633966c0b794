/* parser.c: tokens -> AST, and tmpl_compile.
 *
 * The grammar and precedence are jinja2's (parser.py), from loosest to tightest:
 *   x if c else y | or | and | not | comparisons (chained; in, not in)
 *   | + - | ~ | * / // % | ** (left-associative, as in jinja2)
 *   | unary - + | postfix .attr [index] [a:b:c] (call) | filters |f, tests "is"
 * Statements: if/elif/else, for (target tuple, "if" filter, else), set (name,
 * tuple, ns.attr, block set with filters), macro, call, filter, with,
 * break/continue, generation. Everything jinja2 knows but this subset does not
 * (include, import, extends, block, recursive loops, *args...) is rejected here
 * with its name and position, as are unknown filters, tests, methods and
 * functions: a template compiles only if every construct in it can render. */
#include "template/tmpl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statement and expression nesting; deeper templates are refused rather than
 * risking the C stack when rendering. */
#define MAX_PARSE_DEPTH 96
/* Templates are at most this large (real ones are a few KiB). */
#define MAX_SOURCE (16u << 20)

typedef struct parser {
    tmpl_arena *a;
    inf_error *err;
    ttok *t;
    size_t n, i;
    int depth;
    int loop_depth;          /* for-loops around the current statement (break/continue) */
    tnode *macro;            /* innermost macro being parsed */
    const tstr **assigned;   /* every name a set/for/macro/with/param binds */
    size_t n_assigned, cap_assigned;
    tnode **calls;           /* name(...) calls, checked once all names are known */
    size_t n_calls, cap_calls;
} parser;

typedef struct nvec {
    tnode **v;
    size_t n, cap;
} nvec;

static ttok *cur(parser *P) { return &P->t[P->i]; }
static ttok *peek(parser *P, size_t k) { return P->i + k < P->n ? &P->t[P->i + k] : &P->t[P->n - 1]; }
static void advance(parser *P) { if (P->i + 1 < P->n) P->i++; }

static void describe(const ttok *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case T_EOF: snprintf(buf, cap, "end of template"); break;
    case T_VAR_END: snprintf(buf, cap, "end of print statement"); break;
    case T_BLOCK_END: snprintf(buf, cap, "end of statement block"); break;
    case T_TEXT: snprintf(buf, cap, "template data"); break;
    default: snprintf(buf, cap, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->p); break;
    }
}

static int fail_at(parser *P, const ttok *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(parser *P, const ttok *t, int code, const char *fmt, ...)
{
    char msg[INF_ERROR_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return inf_errorf(P->err, code, "line %d:%d: %s", t->line, t->col, msg);
}

static int unexpected(parser *P, const char *wanted)
{
    char d[64];
    describe(cur(P), d, sizeof d);
    return fail_at(P, cur(P), INF_ERR_FORMAT, "expected %s, got %s", wanted, d);
}

static int nomem(parser *P)
{
    return inf_errorf(P->err, INF_ERR_NOMEM, "template too large to compile");
}

static bool is_op(const ttok *t, const char *op)
{
    size_t n = strlen(op);
    return t->kind == T_OP && t->len == n && memcmp(t->p, op, n) == 0;
}

static bool is_name(const ttok *t, const char *name)
{
    size_t n = strlen(name);
    return t->kind == T_NAME && t->len == n && memcmp(t->p, name, n) == 0;
}

static bool accept_op(parser *P, const char *op)
{
    if (!is_op(cur(P), op)) return false;
    advance(P);
    return true;
}

static bool accept_name(parser *P, const char *name)
{
    if (!is_name(cur(P), name)) return false;
    advance(P);
    return true;
}

static int expect_op(parser *P, const char *op)
{
    if (accept_op(P, op)) return INF_OK;
    char w[16];
    snprintf(w, sizeof w, "'%s'", op);
    return unexpected(P, w);
}

static int expect_kind(parser *P, int kind, const char *what)
{
    if (cur(P)->kind != kind) return unexpected(P, what);
    advance(P);
    return INF_OK;
}

static tnode *node(parser *P, int kind, const ttok *at)
{
    tnode *n = tmpl_arena_alloc(P->a, sizeof *n);
    if (!n) return NULL;
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    return n;
}

static int vec_push(parser *P, nvec *v, tnode *x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        tnode **nv = tmpl_arena_alloc(P->a, cap * sizeof *nv);
        if (!nv) return nomem(P);
        if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return INF_OK;
}

static int remember_name(parser *P, const tstr *name)
{
    if (P->n_assigned == P->cap_assigned) {
        size_t cap = P->cap_assigned ? P->cap_assigned * 2 : 16;
        const tstr **nv = tmpl_arena_alloc(P->a, cap * sizeof *nv);
        if (!nv) return nomem(P);
        if (P->n_assigned) memcpy(nv, P->assigned, P->n_assigned * sizeof *nv);
        P->assigned = nv;
        P->cap_assigned = cap;
    }
    P->assigned[P->n_assigned++] = name;
    return INF_OK;
}

static int enter(parser *P)
{
    if (++P->depth > MAX_PARSE_DEPTH)
        return fail_at(P, cur(P), INF_ERR_UNSUPPORTED, "template nests deeper than %d levels",
                       MAX_PARSE_DEPTH);
    return INF_OK;
}

static tval const_str(const tstr *s) { return tv_str(s); }

/* ---- expressions ----------------------------------------------------------------- */

static int parse_expression(parser *P, bool with_condexpr, tnode **out);
static int parse_tuple(parser *P, bool with_condexpr, bool explicit_parens, const char *extra_end,
                       tnode **out);
static int parse_unary(parser *P, bool with_filter, tnode **out);
static int parse_primary(parser *P, tnode **out);
static int parse_postfix(parser *P, tnode **node_io);

/* (args, kw=...) into n->kids / n->kwn / n->kwv. */
static int parse_call_args(parser *P, tnode *n)
{
    int rc = expect_op(P, "(");
    if (rc != INF_OK) return rc;
    nvec args = {0}, kwv = {0};
    const tstr **kwn = NULL;
    size_t kwn_cap = 0;
    bool need_comma = false;
    while (!is_op(cur(P), ")")) {
        if (need_comma) {
            if ((rc = expect_op(P, ",")) != INF_OK) return rc;
            if (is_op(cur(P), ")")) break;
        }
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            return fail_at(P, cur(P), INF_ERR_UNSUPPORTED, "unsupported *args / **kwargs in a call");
        if (cur(P)->kind == T_NAME && is_op(peek(P, 1), "=")) {
            const tstr *key = cur(P)->s;
            advance(P);
            advance(P);
            tnode *v;
            if ((rc = parse_expression(P, true, &v)) != INF_OK) return rc;
            if (kwv.n == kwn_cap) {
                size_t cap = kwn_cap ? kwn_cap * 2 : 4;
                const tstr **nk = tmpl_arena_alloc(P->a, cap * sizeof *nk);
                if (!nk) return nomem(P);
                if (kwv.n) memcpy(nk, kwn, kwv.n * sizeof *nk);
                kwn = nk;
                kwn_cap = cap;
            }
            kwn[kwv.n] = key;
            if ((rc = vec_push(P, &kwv, v)) != INF_OK) return rc;
        } else {
            if (kwv.n) return fail_at(P, cur(P), INF_ERR_FORMAT, "positional argument after keyword argument");
            tnode *v;
            if ((rc = parse_expression(P, true, &v)) != INF_OK) return rc;
            if ((rc = vec_push(P, &args, v)) != INF_OK) return rc;
        }
        need_comma = true;
    }
    advance(P);
    n->kids = args.v;
    n->n_kids = args.n;
    n->kwv = kwv.v;
    n->kwn = kwn;
    n->n_kw = kwv.n;
    return INF_OK;
}

/* name or name.name...; dotted names are not in the subset. */
static int parse_dotted_name(parser *P, const char *what, const ttok **at)
{
    *at = cur(P);
    if (cur(P)->kind != T_NAME) return unexpected(P, what);
    advance(P);
    if (is_op(cur(P), "."))
        return fail_at(P, *at, INF_ERR_UNSUPPORTED, "unsupported dotted %s name", what);
    return INF_OK;
}

static int parse_filter(parser *P, tnode **node_io)
{
    const ttok *at;
    int rc = parse_dotted_name(P, "filter", &at);
    if (rc != INF_OK) return rc;
    int id = tmpl_filter_id(at->p, at->len);
    if (id < 0)
        return fail_at(P, at, INF_ERR_UNSUPPORTED, "unsupported filter '%.*s'", (int)at->len, at->p);
    tnode *n = node(P, E_FILTER, at);
    if (!n) return nomem(P);
    n->a = *node_io;
    n->id = id;
    n->name = at->s;
    if (is_op(cur(P), "(") && (rc = parse_call_args(P, n)) != INF_OK) return rc;
    *node_io = n;
    return INF_OK;
}

static int parse_test(parser *P, tnode **node_io)
{
    advance(P); /* "is" */
    bool negated = accept_name(P, "not");
    const ttok *at;
    int rc = parse_dotted_name(P, "test", &at);
    if (rc != INF_OK) return rc;
    int id = tmpl_test_id(at->p, at->len);
    if (id < 0)
        return fail_at(P, at, INF_ERR_UNSUPPORTED, "unsupported test '%.*s'", (int)at->len, at->p);
    tnode *n = node(P, E_TEST, at);
    if (!n) return nomem(P);
    n->a = *node_io;
    n->id = id;
    n->op = negated;
    n->name = at->s;
    const ttok *c = cur(P);
    if (is_op(c, "(")) {
        if ((rc = parse_call_args(P, n)) != INF_OK) return rc;
    } else if ((c->kind == T_NAME || c->kind == T_STRING || c->kind == T_INT || c->kind == T_FLOAT ||
                is_op(c, "[") || is_op(c, "{")) &&
               !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        /* One bare argument: "x is divisibleby 3", "x is equalto 'a'". */
        if (is_name(c, "is")) return fail_at(P, c, INF_ERR_FORMAT, "cannot chain multiple tests with 'is'");
        tnode *arg;
        if ((rc = parse_primary(P, &arg)) != INF_OK) return rc;
        if ((rc = parse_postfix(P, &arg)) != INF_OK) return rc;
        n->kids = tmpl_arena_alloc(P->a, sizeof *n->kids);
        if (!n->kids) return nomem(P);
        n->kids[0] = arg;
        n->n_kids = 1;
    }
    *node_io = n;
    return INF_OK;
}

static int note_call(parser *P, tnode *call)
{
    if (P->n_calls == P->cap_calls) {
        size_t cap = P->cap_calls ? P->cap_calls * 2 : 16;
        tnode **nv = tmpl_arena_alloc(P->a, cap * sizeof *nv);
        if (!nv) return nomem(P);
        if (P->n_calls) memcpy(nv, P->calls, P->n_calls * sizeof *nv);
        P->calls = nv;
        P->cap_calls = cap;
    }
    P->calls[P->n_calls++] = call;
    return INF_OK;
}

static int parse_call(parser *P, tnode **node_io)
{
    tnode *callee = *node_io;
    tnode *n = node(P, E_CALL, cur(P));
    if (!n) return nomem(P);
    n->line = callee->line;
    n->col = callee->col;
    n->a = callee;
    int rc = parse_call_args(P, n);
    if (rc != INF_OK) return rc;
    if (callee->kind == E_ATTR) {
        if (!tmpl_method_known(callee->name->s, callee->name->len))
            return inf_errorf(P->err, INF_ERR_UNSUPPORTED, "line %d:%d: unsupported method '%s'",
                              callee->line, callee->col, callee->name->s);
    } else if (callee->kind == E_NAME) {
        if ((rc = note_call(P, n)) != INF_OK) return rc;
    }
    *node_io = n;
    return INF_OK;
}

/* One subscript entry: an expression or a slice a:b:c. */
static int parse_subscribed(parser *P, tnode **out, bool *is_slice, tnode *parts[3])
{
    int rc;
    *is_slice = false;
    parts[0] = parts[1] = parts[2] = NULL;
    if (!accept_op(P, ":")) {
        tnode *e;
        if ((rc = parse_expression(P, true, &e)) != INF_OK) return rc;
        if (!accept_op(P, ":")) {
            *out = e;
            return INF_OK;
        }
        parts[0] = e;
    }
    *is_slice = true;
    if (!is_op(cur(P), ":") && !is_op(cur(P), "]") && !is_op(cur(P), ",")) {
        if ((rc = parse_expression(P, true, &parts[1])) != INF_OK) return rc;
    }
    if (accept_op(P, ":")) {
        if (!is_op(cur(P), "]") && !is_op(cur(P), ",")) {
            if ((rc = parse_expression(P, true, &parts[2])) != INF_OK) return rc;
        }
    }
    return INF_OK;
}

static int parse_postfix(parser *P, tnode **node_io)
{
    int rc;
    for (;;) {
        const ttok *t = cur(P);
        if (is_op(t, ".")) {
            advance(P);
            const ttok *nm = cur(P);
            if (nm->kind == T_NAME) {
                tnode *n = node(P, E_ATTR, nm);
                if (!n) return nomem(P);
                n->a = *node_io;
                n->name = nm->s;
                advance(P);
                *node_io = n;
            } else if (nm->kind == T_INT) {
                tnode *n = node(P, E_ITEM, nm), *k = node(P, E_CONST, nm);
                if (!n || !k) return nomem(P);
                k->v = tv_int(nm->i);
                n->a = *node_io;
                n->b = k;
                advance(P);
                *node_io = n;
            } else {
                return unexpected(P, "attribute name");
            }
        } else if (is_op(t, "[")) {
            advance(P);
            bool is_slice;
            tnode *parts[3], *e = NULL;
            if ((rc = parse_subscribed(P, &e, &is_slice, parts)) != INF_OK) return rc;
            if (is_op(cur(P), ","))
                return fail_at(P, cur(P), INF_ERR_UNSUPPORTED, "unsupported tuple subscript");
            if ((rc = expect_op(P, "]")) != INF_OK) return rc;
            tnode *n = node(P, is_slice ? E_SLICE : E_ITEM, t);
            if (!n) return nomem(P);
            n->a = *node_io;
            if (is_slice) {
                n->b = parts[0];
                n->c = parts[1];
                n->d = parts[2];
            } else {
                n->b = e;
            }
            *node_io = n;
        } else if (is_op(t, "(")) {
            if ((rc = parse_call(P, node_io)) != INF_OK) return rc;
        } else {
            return INF_OK;
        }
    }
}

static int parse_filter_expr(parser *P, tnode **node_io)
{
    int rc;
    for (;;) {
        if (is_op(cur(P), "|")) {
            advance(P);
            if ((rc = parse_filter(P, node_io)) != INF_OK) return rc;
        } else if (is_name(cur(P), "is")) {
            if ((rc = parse_test(P, node_io)) != INF_OK) return rc;
        } else if (is_op(cur(P), "(")) {
            if ((rc = parse_call(P, node_io)) != INF_OK) return rc;
        } else {
            return INF_OK;
        }
    }
}

static int parse_list_or_dict(parser *P, bool dict, tnode **out)
{
    const ttok *at = cur(P);
    advance(P);
    tnode *n = node(P, dict ? E_DICT : E_LIST, at);
    if (!n) return nomem(P);
    nvec keys = {0}, vals = {0};
    const char *close = dict ? "}" : "]";
    int rc;
    while (!is_op(cur(P), close)) {
        if (keys.n && (rc = expect_op(P, ",")) != INF_OK) return rc;
        if (is_op(cur(P), close)) break;
        tnode *k;
        if ((rc = parse_expression(P, true, &k)) != INF_OK) return rc;
        if ((rc = vec_push(P, &keys, k)) != INF_OK) return rc;
        if (dict) {
            tnode *v;
            if ((rc = expect_op(P, ":")) != INF_OK) return rc;
            if ((rc = parse_expression(P, true, &v)) != INF_OK) return rc;
            if ((rc = vec_push(P, &vals, v)) != INF_OK) return rc;
        }
    }
    advance(P);
    n->kids = keys.v;
    n->n_kids = keys.n;
    n->kwv = vals.v;
    *out = n;
    return INF_OK;
}

static int parse_primary(parser *P, tnode **out)
{
    const ttok *t = cur(P);
    int rc = enter(P);
    if (rc != INF_OK) return rc;
    tnode *n = NULL;
    if (t->kind == T_NAME) {
        n = node(P, E_CONST, t);
        if (!n) return nomem(P);
        if (is_name(t, "true") || is_name(t, "True")) n->v = tv_bool(true);
        else if (is_name(t, "false") || is_name(t, "False")) n->v = tv_bool(false);
        else if (is_name(t, "none") || is_name(t, "None")) n->v = tv_none();
        else {
            n->kind = E_NAME;
            n->name = t->s;
            if (P->macro && (is_name(t, "varargs"))) P->macro->uses_varargs = 1;
            if (P->macro && (is_name(t, "kwargs"))) P->macro->uses_kwargs = 1;
        }
        advance(P);
    } else if (t->kind == T_STRING) {
        /* Adjacent literals concatenate: "a" "b" is "ab". */
        size_t total = 0;
        size_t k = P->i;
        while (P->t[k].kind == T_STRING) total += P->t[k++].s->len;
        tstr *s = tmpl_arena_alloc(P->a, sizeof *s + total + 1);
        n = node(P, E_CONST, t);
        if (!s || !n) return nomem(P);
        while (cur(P)->kind == T_STRING) {
            memcpy(s->s + s->len, cur(P)->s->s, cur(P)->s->len);
            s->len += cur(P)->s->len;
            advance(P);
        }
        s->s[s->len] = '\0';
        n->v = const_str(s);
    } else if (t->kind == T_INT || t->kind == T_FLOAT) {
        n = node(P, E_CONST, t);
        if (!n) return nomem(P);
        n->v = t->kind == T_INT ? tv_int(t->i) : tv_float(t->f);
        advance(P);
    } else if (is_op(t, "(")) {
        advance(P);
        if ((rc = parse_tuple(P, true, true, NULL, &n)) != INF_OK) return rc;
        if ((rc = expect_op(P, ")")) != INF_OK) return rc;
    } else if (is_op(t, "[")) {
        if ((rc = parse_list_or_dict(P, false, &n)) != INF_OK) return rc;
    } else if (is_op(t, "{")) {
        if ((rc = parse_list_or_dict(P, true, &n)) != INF_OK) return rc;
    } else {
        return unexpected(P, "an expression");
    }
    P->depth--;
    *out = n;
    return INF_OK;
}

static int parse_unary(parser *P, bool with_filter, tnode **out)
{
    const ttok *t = cur(P);
    int rc = enter(P);
    if (rc != INF_OK) return rc;
    tnode *n;
    if (is_op(t, "-") || is_op(t, "+")) {
        advance(P);
        tnode *operand;
        if ((rc = parse_unary(P, false, &operand)) != INF_OK) return rc;
        n = node(P, is_op(t, "-") ? E_NEG : E_POS, t);
        if (!n) return nomem(P);
        n->a = operand;
    } else if ((rc = parse_primary(P, &n)) != INF_OK) {
        return rc;
    }
    if ((rc = parse_postfix(P, &n)) != INF_OK) return rc;
    if (with_filter && (rc = parse_filter_expr(P, &n)) != INF_OK) return rc;
    P->depth--;
    *out = n;
    return INF_OK;
}

static int binop(parser *P, const ttok *at, int kind, int op, tnode *a, tnode *b, tnode **out)
{
    tnode *n = node(P, kind, at);
    if (!n) return nomem(P);
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    *out = n;
    return INF_OK;
}

/* One operator of a binary level: its token (a name such as `and`, else an
 * operator) and the node it makes. */
typedef struct level_op {
    const char *text;
    bool name;
    int kind, op;
} level_op;

/* A left-associative level: operand (op operand)*, op one of ops[0..n_ops). */
static int parse_level(parser *P, int (*operand)(parser *, tnode **), const level_op *ops,
                       int n_ops, tnode **out)
{
    tnode *left;
    int rc = operand(P, &left);
    while (rc == INF_OK) {
        const ttok *at = cur(P);
        const level_op *o = NULL;
        for (int i = 0; i < n_ops && !o; i++)
            if (ops[i].name ? is_name(at, ops[i].text) : is_op(at, ops[i].text)) o = &ops[i];
        if (!o) break;
        advance(P);
        tnode *right = NULL;
        if ((rc = operand(P, &right)) == INF_OK) rc = binop(P, at, o->kind, o->op, left, right, &left);
    }
    *out = left;
    return rc;
}

static int parse_unary_filtered(parser *P, tnode **out)
{
    return parse_unary(P, true, out);
}

static int parse_pow(parser *P, tnode **out)
{
    static const level_op ops[] = {{"**", false, E_BIN, OP_POW}};
    return parse_level(P, parse_unary_filtered, ops, 1, out);
}

static int parse_math2(parser *P, tnode **out)
{
    static const level_op ops[] = {{"*", false, E_BIN, OP_MUL}, {"/", false, E_BIN, OP_DIV},
                                   {"//", false, E_BIN, OP_FLOORDIV}, {"%", false, E_BIN, OP_MOD}};
    return parse_level(P, parse_pow, ops, 4, out);
}

static int parse_concat(parser *P, tnode **out)
{
    static const level_op ops[] = {{"~", false, E_BIN, OP_CONCAT}};
    return parse_level(P, parse_math2, ops, 1, out);
}

static int parse_math1(parser *P, tnode **out)
{
    static const level_op ops[] = {{"+", false, E_BIN, OP_ADD}, {"-", false, E_BIN, OP_SUB}};
    return parse_level(P, parse_concat, ops, 2, out);
}

static int parse_compare(parser *P, tnode **out)
{
    tnode *first;
    int rc = parse_math1(P, &first);
    if (rc != INF_OK) return rc;
    nvec rest = {0};
    uint8_t ops[64];
    const ttok *at = cur(P);
    for (;;) {
        const ttok *t = cur(P);
        int op = is_op(t, "==") ? CMP_EQ : is_op(t, "!=") ? CMP_NE : is_op(t, "<") ? CMP_LT
               : is_op(t, "<=") ? CMP_LE : is_op(t, ">") ? CMP_GT : is_op(t, ">=") ? CMP_GE : -1;
        if (op >= 0) {
            advance(P);
        } else if (is_name(t, "in")) {
            advance(P);
            op = CMP_IN;
        } else if (is_name(t, "not") && is_name(peek(P, 1), "in")) {
            advance(P);
            advance(P);
            op = CMP_NOTIN;
        } else {
            break;
        }
        if (rest.n == sizeof ops)
            return fail_at(P, t, INF_ERR_UNSUPPORTED, "comparison chain longer than %zu", sizeof ops);
        ops[rest.n] = (uint8_t)op;
        tnode *e;
        if ((rc = parse_math1(P, &e)) != INF_OK) return rc;
        if ((rc = vec_push(P, &rest, e)) != INF_OK) return rc;
    }
    if (rest.n == 0) {
        *out = first;
        return INF_OK;
    }
    tnode *n = node(P, E_CMP, at);
    uint8_t *o = tmpl_arena_alloc(P->a, rest.n);
    if (!n || !o) return nomem(P);
    memcpy(o, ops, rest.n);
    n->line = first->line;
    n->col = first->col;
    n->a = first;
    n->kids = rest.v;
    n->n_kids = rest.n;
    n->ops = o;
    *out = n;
    return INF_OK;
}

static int parse_not(parser *P, tnode **out)
{
    const ttok *t = cur(P);
    if (!is_name(t, "not")) return parse_compare(P, out);
    int rc = enter(P);
    if (rc != INF_OK) return rc;
    advance(P);
    tnode *operand;
    if ((rc = parse_not(P, &operand)) != INF_OK) return rc;
    tnode *n = node(P, E_NOT, t);
    if (!n) return nomem(P);
    n->a = operand;
    P->depth--;
    *out = n;
    return INF_OK;
}

static int parse_and(parser *P, tnode **out)
{
    static const level_op ops[] = {{"and", true, E_AND, 0}};
    return parse_level(P, parse_not, ops, 1, out);
}

static int parse_or(parser *P, tnode **out)
{
    static const level_op ops[] = {{"or", true, E_OR, 0}};
    return parse_level(P, parse_and, ops, 1, out);
}

static int parse_condexpr(parser *P, tnode **out)
{
    tnode *expr1;
    int rc = parse_or(P, &expr1);
    while (rc == INF_OK && is_name(cur(P), "if")) {
        const ttok *at = cur(P);
        advance(P);
        tnode *cond, *other = NULL;
        if ((rc = parse_or(P, &cond)) != INF_OK) break;
        if (accept_name(P, "else") && (rc = parse_condexpr(P, &other)) != INF_OK) break;
        tnode *n = node(P, E_COND, at);
        if (!n) return nomem(P);
        n->a = cond;
        n->b = expr1;
        n->c = other;
        expr1 = n;
    }
    *out = expr1;
    return rc;
}

static int parse_expression(parser *P, bool with_condexpr, tnode **out)
{
    int rc = enter(P);
    if (rc != INF_OK) return rc;
    rc = with_condexpr ? parse_condexpr(P, out) : parse_or(P, out);
    P->depth--;
    return rc;
}

static bool is_tuple_end(parser *P, const char *extra_end)
{
    const ttok *t = cur(P);
    return t->kind == T_VAR_END || t->kind == T_BLOCK_END || is_op(t, ")") ||
           (extra_end && is_name(t, extra_end));
}

/* Expressions separated by commas: one expression, or an implicit tuple. */
static int parse_tuple(parser *P, bool with_condexpr, bool explicit_parens, const char *extra_end,
                       tnode **out)
{
    const ttok *at = cur(P);
    nvec items = {0};
    bool is_tuple = false;
    int rc;
    for (;;) {
        if (items.n && (rc = expect_op(P, ",")) != INF_OK) return rc;
        if (is_tuple_end(P, extra_end)) break;
        tnode *e;
        if ((rc = parse_expression(P, with_condexpr, &e)) != INF_OK) return rc;
        if ((rc = vec_push(P, &items, e)) != INF_OK) return rc;
        if (is_op(cur(P), ",")) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (items.n) {
            *out = items.v[0];
            return INF_OK;
        }
        if (!explicit_parens) return unexpected(P, "an expression");
    }
    tnode *n = node(P, E_TUPLE, at);
    if (!n) return nomem(P);
    n->kids = items.v;
    n->n_kids = items.n;
    *out = n;
    return INF_OK;
}

/* ---- statements -------------------------------------------------------------------- */

static int parse_body(parser *P, const char *const *ends, nvec *body, const ttok **ended);

/* Targets of for/set: a name, or names separated by commas (optionally in
 * parentheses). with_ns also allows "ns.attr". */
static int parse_assign_target(parser *P, bool with_ns, const char *extra_end, tnode **out)
{
    const ttok *at = cur(P);
    int rc;
    if (with_ns && at->kind == T_NAME && is_op(peek(P, 1), ".") && peek(P, 2)->kind == T_NAME) {
        tnode *nm = node(P, E_NAME, at), *n = node(P, E_ATTR, peek(P, 2));
        if (!nm || !n) return nomem(P);
        nm->name = at->s;
        n->a = nm;
        n->name = peek(P, 2)->s;
        advance(P);
        advance(P);
        advance(P);
        *out = n;
        return INF_OK;
    }
    bool paren = accept_op(P, "(");
    nvec names = {0};
    for (;;) {
        const ttok *t = cur(P);
        if (t->kind != T_NAME || is_name(t, "true") || is_name(t, "false") || is_name(t, "none") ||
            is_name(t, "True") || is_name(t, "False") || is_name(t, "None"))
            return fail_at(P, t, INF_ERR_UNSUPPORTED, "can only assign to names here");
        tnode *nm = node(P, E_NAME, t);
        if (!nm) return nomem(P);
        nm->name = t->s;
        if ((rc = remember_name(P, t->s)) != INF_OK) return rc;
        if ((rc = vec_push(P, &names, nm)) != INF_OK) return rc;
        advance(P);
        if (!accept_op(P, ",")) break;
        if ((paren && is_op(cur(P), ")")) || (extra_end && is_name(cur(P), extra_end)) ||
            is_op(cur(P), "="))
            break;
    }
    if (paren && (rc = expect_op(P, ")")) != INF_OK) return rc;
    if (names.n == 1 && !paren) {
        *out = names.v[0];
        return INF_OK;
    }
    tnode *n = node(P, E_TUPLE, at);
    if (!n) return nomem(P);
    n->kids = names.v;
    n->n_kids = names.n;
    *out = n;
    return INF_OK;
}

static int end_tag(parser *P)
{
    return expect_kind(P, T_BLOCK_END, "end of statement block ('%}')");
}

static int parse_if(parser *P, const ttok *at, tnode **out)
{
    tnode *n = node(P, N_IF, at);
    if (!n) return nomem(P);
    int rc = parse_tuple(P, false, false, NULL, &n->a);
    if (rc == INF_OK) rc = end_tag(P);
    if (rc != INF_OK) return rc;
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    nvec body = {0};
    const ttok *ended;
    if ((rc = parse_body(P, ends, &body, &ended)) != INF_OK) return rc;
    n->body = body.v;
    n->n_body = body.n;
    if (is_name(ended, "elif")) {
        tnode *elif;
        if ((rc = parse_if(P, ended, &elif)) != INF_OK) return rc;
        n->els = tmpl_arena_alloc(P->a, sizeof *n->els);
        if (!n->els) return nomem(P);
        n->els[0] = elif;
        n->n_els = 1;
        *out = n;
        return INF_OK; /* the elif consumed the endif */
    }
    if (is_name(ended, "else")) {
        if ((rc = end_tag(P)) != INF_OK) return rc;
        static const char *const ends2[] = {"endif", NULL};
        nvec els = {0};
        if ((rc = parse_body(P, ends2, &els, &ended)) != INF_OK) return rc;
        n->els = els.v;
        n->n_els = els.n;
    }
    if ((rc = end_tag(P)) != INF_OK) return rc;
    *out = n;
    return INF_OK;
}

static int parse_for(parser *P, const ttok *at, tnode **out)
{
    tnode *n = node(P, N_FOR, at);
    if (!n) return nomem(P);
    int rc = parse_assign_target(P, false, "in", &n->a);
    if (rc != INF_OK) return rc;
    if (!accept_name(P, "in")) return unexpected(P, "'in'");
    if ((rc = parse_tuple(P, false, false, "recursive", &n->b)) != INF_OK) return rc;
    if (accept_name(P, "if") && (rc = parse_expression(P, true, &n->c)) != INF_OK) return rc;
    if (is_name(cur(P), "recursive"))
        return fail_at(P, cur(P), INF_ERR_UNSUPPORTED, "unsupported recursive for loop");
    if ((rc = end_tag(P)) != INF_OK) return rc;
    static const char *const ends[] = {"else", "endfor", NULL};
    nvec body = {0}, els = {0};
    const ttok *ended;
    P->loop_depth++;
    rc = parse_body(P, ends, &body, &ended);
    P->loop_depth--;
    if (rc != INF_OK) return rc;
    if (is_name(ended, "else")) {
        static const char *const ends2[] = {"endfor", NULL};
        if ((rc = end_tag(P)) != INF_OK) return rc;
        if ((rc = parse_body(P, ends2, &els, &ended)) != INF_OK) return rc;
    }
    if ((rc = end_tag(P)) != INF_OK) return rc;
    n->body = body.v;
    n->n_body = body.n;
    n->els = els.v;
    n->n_els = els.n;
    *out = n;
    return INF_OK;
}

/* A chain of filters applied to the text of a block: "| trim | upper". */
static int parse_block_filters(parser *P, const ttok *at, bool first_inline, tnode **out)
{
    tnode *self = node(P, E_SELF, at);
    if (!self) return nomem(P);
    tnode *chain = self;
    int rc;
    if (first_inline && (rc = parse_filter(P, &chain)) != INF_OK) return rc;
    while (accept_op(P, "|"))
        if ((rc = parse_filter(P, &chain)) != INF_OK) return rc;
    *out = chain == self ? NULL : chain;
    return INF_OK;
}

static int parse_set(parser *P, const ttok *at, tnode **out)
{
    tnode *target;
    int rc = parse_assign_target(P, true, NULL, &target);
    if (rc != INF_OK) return rc;
    if (accept_op(P, "=")) {
        tnode *n = node(P, N_SET, at);
        if (!n) return nomem(P);
        n->a = target;
        if ((rc = parse_tuple(P, true, false, NULL, &n->b)) != INF_OK) return rc;
        if ((rc = end_tag(P)) != INF_OK) return rc;
        *out = n;
        return INF_OK;
    }
    if (target->kind != E_NAME)
        return fail_at(P, at, INF_ERR_UNSUPPORTED, "a block set needs a single name");
    tnode *n = node(P, N_SETBLOCK, at);
    if (!n) return nomem(P);
    n->a = target;
    if ((rc = parse_block_filters(P, at, false, &n->c)) != INF_OK) return rc;
    if ((rc = end_tag(P)) != INF_OK) return rc;
    static const char *const ends[] = {"endset", NULL};
    nvec body = {0};
    const ttok *ended;
    if ((rc = parse_body(P, ends, &body, &ended)) != INF_OK) return rc;
    if ((rc = end_tag(P)) != INF_OK) return rc;
    n->body = body.v;
    n->n_body = body.n;
    *out = n;
    return INF_OK;
}

/* "(a, b=1)": parameters of a macro or of a call block's caller. */
static int parse_params(parser *P, tnode *n)
{
    nvec names = {0}, defs = {0};
    int rc = expect_op(P, "(");
    if (rc != INF_OK) return rc;
    while (!is_op(cur(P), ")")) {
        if (names.n && (rc = expect_op(P, ",")) != INF_OK) return rc;
        if (is_op(cur(P), ")")) break;
        const ttok *t = cur(P);
        if (t->kind != T_NAME) return unexpected(P, "parameter name");
        tnode *nm = node(P, E_NAME, t);
        if (!nm) return nomem(P);
        nm->name = t->s;
        advance(P);
        tnode *def = NULL;
        if (accept_op(P, "=") && (rc = parse_expression(P, true, &def)) != INF_OK) return rc;
        if ((rc = remember_name(P, t->s)) != INF_OK) return rc;
        if ((rc = vec_push(P, &names, nm)) != INF_OK) return rc;
        if ((rc = vec_push(P, &defs, def)) != INF_OK) return rc;
    }
    advance(P);
    n->kids = names.v;
    n->n_kids = names.n;
    n->kwv = defs.v;
    return INF_OK;
}

static int parse_macro(parser *P, const ttok *at, tnode **out)
{
    tnode *n = node(P, N_MACRO, at);
    if (!n) return nomem(P);
    const ttok *nm = cur(P);
    if (nm->kind != T_NAME) return unexpected(P, "macro name");
    n->name = nm->s;
    advance(P);
    int rc = remember_name(P, nm->s);
    if (rc == INF_OK) rc = parse_params(P, n);
    if (rc == INF_OK) rc = end_tag(P);
    if (rc != INF_OK) return rc;
    static const char *const ends[] = {"endmacro", NULL};
    nvec body = {0};
    const ttok *ended;
    tnode *outer = P->macro;
    int loops = P->loop_depth;
    P->macro = n;
    P->loop_depth = 0;
    rc = parse_body(P, ends, &body, &ended);
    P->macro = outer;
    P->loop_depth = loops;
    if (rc != INF_OK) return rc;
    if (cur(P)->kind == T_NAME) advance(P); /* {% endmacro name %} */
    if ((rc = end_tag(P)) != INF_OK) return rc;
    n->body = body.v;
    n->n_body = body.n;
    *out = n;
    return INF_OK;
}

static int parse_callblock(parser *P, const ttok *at, tnode **out)
{
    tnode *n = node(P, N_CALLBLOCK, at);
    if (!n) return nomem(P);
    int rc = INF_OK;
    if (is_op(cur(P), "(") && (rc = parse_params(P, n)) != INF_OK) return rc;
    if ((rc = parse_expression(P, true, &n->a)) != INF_OK) return rc;
    if (n->a->kind != E_CALL) return fail_at(P, at, INF_ERR_FORMAT, "expected a call after {%% call %%}");
    if ((rc = end_tag(P)) != INF_OK) return rc;
    static const char *const ends[] = {"endcall", NULL};
    nvec body = {0};
    const ttok *ended;
    tnode *outer = P->macro;
    int loops = P->loop_depth;
    P->macro = n;
    P->loop_depth = 0;
    rc = parse_body(P, ends, &body, &ended);
    P->macro = outer;
    P->loop_depth = loops;
    if (rc != INF_OK) return rc;
    if ((rc = end_tag(P)) != INF_OK) return rc;
    n->body = body.v;
    n->n_body = body.n;
    *out = n;
    return INF_OK;
}

static int parse_simple_block(parser *P, const ttok *at, int kind, const char *end, tnode **out)
{
    tnode *n = node(P, kind, at);
    if (!n) return nomem(P);
    int rc = INF_OK;
    if (kind == N_FILTERBLOCK) {
        rc = parse_block_filters(P, at, true, &n->c);
    } else if (kind == N_WITH) {
        nvec names = {0}, vals = {0};
        while (rc == INF_OK && cur(P)->kind != T_BLOCK_END) {
            if (names.n && (rc = expect_op(P, ",")) != INF_OK) break;
            tnode *target, *val;
            if ((rc = parse_assign_target(P, false, NULL, &target)) != INF_OK) break;
            if (target->kind != E_NAME)
                return fail_at(P, at, INF_ERR_UNSUPPORTED, "unsupported tuple target in {%% with %%}");
            if ((rc = expect_op(P, "=")) != INF_OK) break;
            if ((rc = parse_expression(P, true, &val)) != INF_OK) break;
            if ((rc = vec_push(P, &names, target)) == INF_OK) rc = vec_push(P, &vals, val);
        }
        n->kids = names.v;
        n->n_kids = names.n;
        n->kwv = vals.v;
    }
    if (rc == INF_OK) rc = end_tag(P);
    if (rc != INF_OK) return rc;
    const char *ends[] = {end, NULL};
    nvec body = {0};
    const ttok *ended;
    if ((rc = parse_body(P, ends, &body, &ended)) != INF_OK) return rc;
    if ((rc = end_tag(P)) != INF_OK) return rc;
    n->body = body.v;
    n->n_body = body.n;
    *out = n;
    return INF_OK;
}

static int parse_statement(parser *P, tnode **out)
{
    const ttok *at = cur(P);
    if (at->kind != T_NAME) return unexpected(P, "statement name");
    int rc = enter(P);
    if (rc != INF_OK) return rc;
    advance(P);
    if (is_name(at, "if")) rc = parse_if(P, at, out);
    else if (is_name(at, "for")) rc = parse_for(P, at, out);
    else if (is_name(at, "set")) rc = parse_set(P, at, out);
    else if (is_name(at, "macro")) rc = parse_macro(P, at, out);
    else if (is_name(at, "call")) rc = parse_callblock(P, at, out);
    else if (is_name(at, "filter")) rc = parse_simple_block(P, at, N_FILTERBLOCK, "endfilter", out);
    else if (is_name(at, "with")) rc = parse_simple_block(P, at, N_WITH, "endwith", out);
    else if (is_name(at, "generation")) rc = parse_simple_block(P, at, N_GENERATION, "endgeneration", out);
    else if (is_name(at, "break") || is_name(at, "continue")) {
        if (P->loop_depth == 0)
            return fail_at(P, at, INF_ERR_FORMAT, "'%.*s' outside of a loop", (int)at->len, at->p);
        *out = node(P, is_name(at, "break") ? N_BREAK : N_CONTINUE, at);
        if (!*out) return nomem(P);
        rc = end_tag(P);
    } else {
        static const char *const known[] = {
            "include", "import", "from", "extends", "block", "autoescape", "do", "trans", "print",
            NULL};
        for (int k = 0; known[k]; k++)
            if (is_name(at, known[k]))
                return fail_at(P, at, INF_ERR_UNSUPPORTED, "unsupported statement '%s'", known[k]);
        return fail_at(P, at, INF_ERR_FORMAT, "unknown or misplaced tag '%.*s'", (int)at->len, at->p);
    }
    P->depth--;
    return rc;
}

/* Statements up to {% <one of ends> %} (left with the tag name consumed and
 * *ended pointing at it) or the end of the template when ends is NULL. */
static int parse_body(parser *P, const char *const *ends, nvec *body, const ttok **ended)
{
    int rc;
    for (;;) {
        const ttok *t = cur(P);
        tnode *n = NULL;
        switch (t->kind) {
        case T_EOF:
            if (ends) {
                size_t last = 0;
                while (ends[last + 1]) last++;
                return fail_at(P, t, INF_ERR_FORMAT, "unexpected end of template, expected '%s'",
                               ends[last]);
            }
            return INF_OK;
        case T_TEXT:
            n = node(P, N_TEXT, t);
            if (!n) return nomem(P);
            n->v = const_str(t->s);
            advance(P);
            break;
        case T_VAR_BEGIN:
            advance(P);
            n = node(P, N_PRINT, t);
            if (!n) return nomem(P);
            if ((rc = parse_tuple(P, true, false, NULL, &n->a)) != INF_OK) return rc;
            if ((rc = expect_kind(P, T_VAR_END, "end of print statement ('}}')")) != INF_OK) return rc;
            break;
        case T_BLOCK_BEGIN: {
            const ttok *name = peek(P, 1);
            for (int k = 0; ends && ends[k]; k++) {
                if (is_name(name, ends[k])) {
                    advance(P);
                    advance(P);
                    *ended = name;
                    return INF_OK;
                }
            }
            advance(P);
            if ((rc = parse_statement(P, &n)) != INF_OK) return rc;
            break;
        }
        default:
            return unexpected(P, "template data or a tag");
        }
        if ((rc = vec_push(P, body, n)) != INF_OK) return rc;
    }
}

static bool name_assigned(const parser *P, const tstr *name)
{
    for (size_t k = 0; k < P->n_assigned; k++)
        if (P->assigned[k]->len == name->len && memcmp(P->assigned[k]->s, name->s, name->len) == 0)
            return true;
    return false;
}

int tmpl_compile(const char *src, size_t len, tmpl_template **out, inf_error *err)
{
    inf_error local;
    if (!err) err = &local;
    *out = NULL;
    if (!src && len) return inf_errorf(err, INF_ERR_INVALID, "template source is NULL");
    if (len > MAX_SOURCE)
        return inf_errorf(err, INF_ERR_RANGE, "template of %zu bytes exceeds the limit of %u", len,
                          MAX_SOURCE);
    tmpl_template *t = calloc(1, sizeof *t);
    if (!t) return inf_errorf(err, INF_ERR_NOMEM, "out of memory compiling a template");
    tmpl_arena_init(&t->arena, (size_t)MAX_SOURCE * 16);
    parser P = {.a = &t->arena, .err = err};
    int rc = tmpl_lex(&t->arena, src ? src : "", len, &P.t, &P.n, err);
    if (rc != INF_OK) goto out;
    nvec body = {0};
    rc = parse_body(&P, NULL, &body, NULL);
    if (rc != INF_OK) goto out;
    for (size_t k = 0; k < P.n_calls; k++) {
        const tnode *callee = P.calls[k]->a;
        const tstr *nm = callee->name;
        if (tmpl_global_id(nm->s, nm->len) >= 0 || name_assigned(&P, nm) ||
            (nm->len == 6 && memcmp(nm->s, "caller", 6) == 0))
            continue;
        rc = inf_errorf(err, INF_ERR_UNSUPPORTED, "line %d:%d: unsupported function '%s'",
                        callee->line, callee->col, nm->s);
        goto out;
    }
    t->body = body.v;
    t->n_body = body.n;
    *out = t;
    t = NULL;
out:
    if (t) {
        tmpl_arena_free(&t->arena);
        free(t);
    }
    return rc;
}

int tmpl_compile_file(const char *path, tmpl_template **out, inf_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    int rc = INF_OK;
    if (!f) return inf_errorf(err, INF_ERR_IO, "%s: cannot open chat template", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: cannot read chat template", path);
        goto out;
    }
    long size = ftell(f);
    if (size < 0 || (unsigned long)size > MAX_SOURCE) {
        rc = inf_errorf(err, INF_ERR_RANGE, "%s: chat template too large (limit %u bytes)", path, MAX_SOURCE);
        goto out;
    }
    rewind(f);
    buf = malloc((size_t)size + 1);
    if (!buf) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        rc = inf_errorf(err, INF_ERR_IO, "%s: cannot read chat template", path);
        goto out;
    }
    rc = tmpl_compile(buf, (size_t)size, out, err);
    if (rc != INF_OK) inf_error_prefix(err, "%s", path);
out:
    free(buf);
    fclose(f);
    return rc;
}

void tmpl_free(tmpl_template *t)
{
    if (!t) return;
    tmpl_arena_free(&t->arena);
    free(t);
}
