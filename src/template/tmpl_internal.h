/* tmpl_internal.h: what the files of src/template/ share, and nobody else.
 *
 * Pipeline: lexer.c turns source into tokens (whitespace control applied there,
 * as jinja2's lexer does), parser.c builds the AST (tnode) and rejects what is
 * outside the subset, interp.c walks it over values (tval) with filters.c,
 * methods.c and builtins.c supplying the named operations, value.c the Python
 * semantics of values (truth, equality, str(), repr(), json.dumps).
 *
 * Memory: everything is allocated from an arena. A compiled template owns one
 * (AST, constants); every render owns another, dropped in one call at the end,
 * so error paths free nothing piecemeal. Values are immutable once built except
 * namespaces (a namespace is the one mutable object a sandboxed template has). */
#ifndef INFERD_TEMPLATE_INTERNAL_H
#define INFERD_TEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "template/template.h"

/* ---- arena ---------------------------------------------------------------- */

typedef struct tmpl_chunk tmpl_chunk;

typedef struct tmpl_arena {
    tmpl_chunk *head;
    size_t used;   /* bytes handed out plus chunk overhead */
    size_t cap;    /* budget; an allocation past it fails */
} tmpl_arena;

void tmpl_arena_init(tmpl_arena *a, size_t cap);
/* 16-byte aligned, zeroed; NULL when the budget or malloc is exhausted. */
void *tmpl_arena_alloc(tmpl_arena *a, size_t n);
void tmpl_arena_free(tmpl_arena *a);

/* ---- values ----------------------------------------------------------------- */

typedef enum tv_kind {
    TV_UNDEF,   /* jinja2's Undefined: renders empty, falsy; most uses raise */
    TV_NONE,
    TV_BOOL,
    TV_INT,
    TV_FLOAT,
    TV_STR,
    TV_LIST,    /* also tuples (TVF_TUPLE): they differ in repr and equality only */
    TV_DICT,
    TV_NS,      /* namespace(): a dict whose attributes may be assigned */
    TV_MACRO,   /* a macro, or the `caller` of a call block */
    TV_FUNC,    /* a global function (range, dict, namespace, ...) */
    TV_METHOD,  /* a method bound to its object ('a b'.split) */
    TV_LOOP,    /* the `loop` variable of a for loop */
} tv_kind;

enum {
    TVF_MARKUP = 1, /* TV_STR: a markupsafe.Markup (from |safe); '+' escapes the other side */
    TVF_TUPLE = 2,  /* TV_LIST: a tuple */
    TVF_UNSAFE = 4, /* TV_UNDEF: a blocked attribute; using it raises SecurityError */
    TVF_GEN = 8,    /* TV_LIST: a Python generator (what |map, |select, |items... return):
                     * always true, no len(), prints as an object */
};

typedef struct tstr {
    size_t len;
    char s[];       /* len bytes of UTF-8, then NUL */
} tstr;

typedef struct tval tval;
typedef struct tlist tlist;
typedef struct tdict tdict;
typedef struct tmacro tmacro;
typedef struct tloop tloop;
typedef struct tbound tbound;

struct tval {
    uint8_t kind;   /* tv_kind */
    uint8_t flags;  /* TVF_* */
    uint16_t id;    /* TV_FUNC: builtin id; TV_METHOD: unused (see tbound) */
    union {
        int64_t i;          /* TV_BOOL (0/1), TV_INT */
        double f;           /* TV_FLOAT */
        const tstr *s;      /* TV_STR */
        tlist *l;           /* TV_LIST */
        tdict *d;           /* TV_DICT, TV_NS */
        tmacro *m;          /* TV_MACRO */
        tloop *loop;        /* TV_LOOP */
        tbound *bm;         /* TV_METHOD */
        const char *why;    /* TV_UNDEF: the message an error would show; may be NULL */
    } u;
};

struct tlist {
    size_t n, cap;
    tval *v;
};

struct tdict {
    size_t n, cap;
    tval *k;        /* keys in insertion order (Python dicts keep it) */
    tval *v;
};

typedef struct tframe tframe;
typedef struct tnode tnode;

struct tmacro {
    const tnode *def;   /* N_MACRO, or N_CALLBLOCK for a caller */
    tframe *closure;    /* the scope the macro was defined in */
};

struct tloop {
    int64_t index0, length, depth0;
    const tlist *items; /* the (filtered) items iterated */
};

struct tbound {
    int method;         /* tmpl_method id */
    tval self;
};

/* A scope: a for-loop iteration, a macro call, a with block, the template body. */
struct tframe {
    tframe *parent;
    tdict vars;
};

static inline tval tv_undef(const char *why) { tval v = {.kind = TV_UNDEF}; v.u.why = why; return v; }
static inline tval tv_none(void) { tval v = {.kind = TV_NONE}; return v; }
static inline tval tv_bool(bool b) { tval v = {.kind = TV_BOOL}; v.u.i = b; return v; }
static inline tval tv_int(int64_t i) { tval v = {.kind = TV_INT}; v.u.i = i; return v; }
static inline tval tv_float(double f) { tval v = {.kind = TV_FLOAT}; v.u.f = f; return v; }
static inline tval tv_str(const tstr *s) { tval v = {.kind = TV_STR}; v.u.s = s; return v; }
static inline tval tv_list(tlist *l, bool tuple)
{
    tval v = {.kind = TV_LIST, .flags = tuple ? TVF_TUPLE : 0};
    v.u.l = l;
    return v;
}
static inline tval tv_dict(tdict *d) { tval v = {.kind = TV_DICT}; v.u.d = d; return v; }

/* ---- render context --------------------------------------------------------- */

/* Status of statement execution beyond inf_status: loop control in flight. */
enum { TMPL_BREAK = 1, TMPL_CONTINUE = 2 };

typedef struct tbuf {
    char *p;
    size_t n, cap;
} tbuf;

typedef struct tmpl_rctx {
    tmpl_arena arena;
    const tmpl_template *t;
    inf_error *err;
    tbuf *out;            /* where text goes now (a macro call swaps in its own) */
    uint64_t steps, max_steps;
    size_t max_output;
    int depth, max_depth; /* macro call nesting */
    int line, col;        /* of the node being evaluated, for messages */
    time_t now;
    tval self_text;       /* what E_SELF evaluates to (filter blocks, block sets) */
} tmpl_rctx;

/* Fails the render: fills err with "line L:C: message" (INF_ERR_INVALID unless
 * code says otherwise) and returns the code. */
int tmpl_fail(tmpl_rctx *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The error for using an undefined value (jinja2's UndefinedError / SecurityError). */
int tmpl_fail_undef(tmpl_rctx *r, tval v);

/* Arena helpers that fail the render with INF_ERR_NOMEM (message set) on NULL. */
void *tmpl_alloc(tmpl_rctx *r, size_t n);
tstr *tmpl_str_new(tmpl_rctx *r, const char *p, size_t n);  /* NULL: error set */
tlist *tmpl_list_new(tmpl_rctx *r, size_t cap);
int tmpl_list_push(tmpl_rctx *r, tlist *l, tval v);
tdict *tmpl_dict_new(tmpl_rctx *r, size_t cap);
/* Sets d[k] = v (replacing an equal key in place, as Python does). */
int tmpl_dict_set(tmpl_rctx *r, tdict *d, tval k, tval v);
/* d[k] or NULL. */
tval *tmpl_dict_get(const tdict *d, tval k);
tval *tmpl_dict_get_cstr(const tdict *d, const char *k, size_t klen);

int tmpl_buf_put(tmpl_rctx *r, tbuf *b, const char *p, size_t n);
int tmpl_buf_putc(tmpl_rctx *r, tbuf *b, char c);
int tmpl_buf_printf(tmpl_rctx *r, tbuf *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The buffer's bytes as a new string value. */
int tmpl_buf_str(tmpl_rctx *r, const tbuf *b, tval *out);

/* ---- value semantics (value.c) ------------------------------------------------ */

bool tmpl_truthy(tval v);
/* Python ==, across types (1 == 1.0 == True). */
bool tmpl_equal(tval a, tval b);
/* Python <: sets *lt; fails (TypeError) when the kinds cannot be ordered. */
int tmpl_less(tmpl_rctx *r, tval a, tval b, bool *lt);
/* Appends str(v) (what {{ v }} prints) or repr(v) (inside containers). */
int tmpl_write_str(tmpl_rctx *r, tbuf *b, tval v);
int tmpl_write_repr(tmpl_rctx *r, tbuf *b, tval v);
/* str(v) as a string value (strings pass through). */
int tmpl_to_str(tmpl_rctx *r, tval v, tval *out);
/* Python's repr(float): the shortest digits that round-trip; buf >= 32 bytes. */
void tmpl_format_float(double f, char *buf, size_t cap);
/* "dict object", "str object", ...: the jinja2 wording for error messages. */
const char *tmpl_type_name(tval v);

typedef struct tmpl_json_opts {
    bool ensure_ascii;
    bool sort_keys;
    const char *indent;     /* NULL: one line */
    size_t indent_len;
    const char *item_sep, *key_sep;
    size_t item_sep_len, key_sep_len;
} tmpl_json_opts;
/* json.dumps(v, ...) as transformers' tojson calls it. */
int tmpl_write_json(tmpl_rctx *r, tbuf *b, tval v, const tmpl_json_opts *o);
/* Builds the value of a JSON document (strings copied into the arena). */
int tmpl_from_json(tmpl_rctx *r, const json_t *j, tval *out);

/* ---- UTF-8 and Unicode (unicode.c) ----------------------------------------------- */

/* Decodes the code point at s[*i] (valid UTF-8 assumed; a stray byte counts as
 * itself) and advances *i. */
uint32_t tmpl_utf8_next(const char *s, size_t n, size_t *i);
/* Writes cp as UTF-8 into out (>= 4 bytes); returns the byte count. */
size_t tmpl_utf8_put(uint32_t cp, char *out);
size_t tmpl_utf8_count(const char *s, size_t n);
/* Byte offset of code point index ci (clamped to n). */
size_t tmpl_utf8_offset(const char *s, size_t n, size_t ci);
bool tmpl_utf8_valid(const char *s, size_t n);
bool tmpl_uni_space(uint32_t cp);       /* Python str.isspace() */
bool tmpl_uni_printable(uint32_t cp);   /* Python str.isprintable(), approximately */
bool tmpl_uni_alpha(uint32_t cp);
bool tmpl_uni_digit(uint32_t cp);
bool tmpl_uni_upper(uint32_t cp);
bool tmpl_uni_lower(uint32_t cp);
uint32_t tmpl_uni_toupper(uint32_t cp);
uint32_t tmpl_uni_tolower(uint32_t cp);

/* ---- AST (parser.c) ---------------------------------------------------------------- */

typedef enum tnode_kind {
    /* statements */
    N_TEXT,        /* v: the text */
    N_PRINT,       /* a: expression */
    N_IF,          /* a: condition; body; els (an elif is an N_IF alone in els) */
    N_FOR,         /* a: target (E_NAME or E_TUPLE of names); b: iterable; c: filter or NULL; body; els */
    N_SET,         /* a: target (E_NAME, E_TUPLE of names, E_ATTR of a name); b: value */
    N_SETBLOCK,    /* a: target name; c: filter chain over E_SELF or NULL; body */
    N_MACRO,       /* name; kids: parameter E_NAMEs; kwv: their defaults (NULL each when none); body */
    N_CALLBLOCK,   /* a: the E_CALL; kids/kwv: caller's parameters; body */
    N_FILTERBLOCK, /* c: filter chain over E_SELF; body */
    N_WITH,        /* kids: target E_NAMEs; kwv: values; body */
    N_BREAK,
    N_CONTINUE,
    N_GENERATION,  /* transformers' {% generation %}: renders body as is */
    /* expressions */
    E_CONST,       /* v */
    E_NAME,        /* name */
    E_LIST,        /* kids */
    E_TUPLE,       /* kids */
    E_DICT,        /* kids: keys; kwv: values */
    E_ATTR,        /* a.name */
    E_ITEM,        /* a[b] */
    E_SLICE,       /* a[b:c:d], each of b, c, d may be NULL */
    E_CALL,        /* a(kids..., kwn=kwv...) */
    E_FILTER,      /* a | name(kids..., kwn=kwv...); id: filter */
    E_TEST,        /* a is [not] name(kids...); id: test; op: 1 when negated */
    E_NOT,         /* not a */
    E_NEG,         /* -a */
    E_POS,         /* +a */
    E_BIN,         /* a op b; op: tmpl_binop */
    E_AND,         /* a and b */
    E_OR,          /* a or b */
    E_CMP,         /* a ops[0] kids[0] ops[1] kids[1] ... (chained) */
    E_COND,        /* b if a else c (c NULL: undefined) */
    E_SELF,        /* the body text of a filter block or block set */
} tnode_kind;

typedef enum tmpl_binop {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
} tmpl_binop;

typedef enum tmpl_cmpop {
    CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOTIN,
} tmpl_cmpop;

struct tnode {
    uint8_t kind;   /* tnode_kind */
    uint8_t op;     /* E_BIN: tmpl_binop; E_TEST: negated */
    uint8_t uses_varargs, uses_kwargs; /* N_MACRO */
    int id;         /* E_FILTER, E_TEST: which; E_CALL: unused */
    int line, col;
    tnode *a, *b, *c, *d;
    tnode **kids;
    size_t n_kids;
    tnode **kwv;        /* keyword values (E_CALL, E_FILTER), dict values, defaults */
    const tstr **kwn;   /* keyword names (E_CALL, E_FILTER) */
    size_t n_kw;
    uint8_t *ops;       /* E_CMP: tmpl_cmpop per kid */
    const tstr *name;   /* E_NAME, E_ATTR, E_FILTER, E_TEST, N_MACRO */
    tval v;             /* E_CONST, N_TEXT */
    tnode **body, **els;
    size_t n_body, n_els;
};

struct tmpl_template {
    tmpl_arena arena;
    tnode **body;
    size_t n_body;
};

/* ---- lexer (lexer.c) ------------------------------------------------------------ */

typedef enum ttok_kind {
    T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP, T_EOF,
} ttok_kind;

typedef struct ttok {
    uint8_t kind;
    int line, col;
    const char *p;      /* source text of the token */
    size_t len;
    const tstr *s;      /* T_TEXT, T_STRING: processed text; T_NAME: the name */
    int64_t i;          /* T_INT */
    double f;           /* T_FLOAT */
} ttok;

/* Tokenizes src (normalized: UTF-8 checked, newlines \n, one trailing newline
 * dropped). Tokens live in the arena. */
int tmpl_lex(tmpl_arena *a, const char *src, size_t len, ttok **out, size_t *n_out,
             inf_error *err);

/* ---- named operations (filters.c, builtins.c, methods.c) -------------------------- */

/* Evaluated arguments of a call. */
typedef struct targs {
    size_t n;
    tval *pos;
    size_t nk;
    const tstr **kn;
    tval *kv;
} targs;

/* Argument i (positional) or `name` (keyword): true when given. */
bool tmpl_arg(const targs *a, size_t i, const char *name, tval *out);
/* Fails unless at most max_pos positionals and only the named keywords were given. */
int tmpl_args_check(tmpl_rctx *r, const targs *a, const char *fn, size_t max_pos,
                    const char *const *kw);

int tmpl_filter_id(const char *name, size_t len);   /* -1 when unknown */
int tmpl_test_id(const char *name, size_t len);
int tmpl_filter_apply(tmpl_rctx *r, int id, tval in, const targs *a, tval *out);
int tmpl_test_apply(tmpl_rctx *r, int id, tval in, const targs *a, bool *out);

int tmpl_global_id(const char *name, size_t len);  /* -1 when not a global function */
int tmpl_global_call(tmpl_rctx *r, int id, const targs *a, tval *out);

/* Methods: id for a name on a value kind, -1 if the kind has no such method.
 * tmpl_method_known: whether any kind has it (the parser's check). */
int tmpl_method_lookup(tval self, const char *name, size_t len, bool *unsafe);
bool tmpl_method_known(const char *name, size_t len);
int tmpl_method_call(tmpl_rctx *r, const tbound *m, const targs *a, tval *out);

/* Attribute and item access with jinja2's sandbox rules (interp.c). */
int tmpl_getattr(tmpl_rctx *r, tval obj, const char *name, size_t len, tval *out);
int tmpl_getitem(tmpl_rctx *r, tval obj, tval key, tval *out);
/* Calls any callable value (macro, function, method). */
int tmpl_call(tmpl_rctx *r, tval fn, const targs *a, tval *out);
/* Items of an iterable (for loops, |list, ...): lists, tuples, dict keys,
 * characters of a string; undefined is empty. */
int tmpl_iterate(tmpl_rctx *r, tval v, tlist **out);

/* String helpers shared by filters and methods (methods.c). */
int tmpl_str_strip(tmpl_rctx *r, tval s, tval chars, int which, tval *out); /* 1 left, 2 right, 3 both */
int tmpl_str_replace(tmpl_rctx *r, const tstr *s, const tstr *old, const tstr *new_,
                     int64_t count, tval *out);
int tmpl_str_case(tmpl_rctx *r, const tstr *s, int mode, tval *out); /* 'u','l','t','c' */
int tmpl_html_escape(tmpl_rctx *r, const tstr *s, tval *out);
/* str.splitlines(keepends) */
int tmpl_str_splitlines(tmpl_rctx *r, const tstr *s, bool keepends, tlist **out);

#endif
