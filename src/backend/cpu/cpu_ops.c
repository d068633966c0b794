/* cpu_ops.c: the CPU backend's row-wise ops — RMSNorm, RoPE, gated
 * activations, elementwise add/mul/scale, softcap, softmax (contracts in
 * backend.h, references in ref/ref_ops.c and ref/ref_attn.c).
 *
 * Layout: activations are row-major F32 (n, width). Work is split by rows over
 * the thread pool once a call has enough of it (ROWS_MIN_WORK values) to pay
 * for a dispatch; the inner loops are the kernel table's vector functions.
 * RoPE angles come from a table of cos/sin per (row, pair) made once per batch
 * and RoPE configuration with ref_rope_angle, so the angles are ref's exactly
 * (YaRN and frequency factors included) and each layer only rotates. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

#define RT(t) ((ref_tensor *)(t))
#define CRT(t) ((const ref_tensor *)(t))
#define ROWS_MIN_WORK 32768

typedef void (*row_fn)(void *ctx, int64_t row);

typedef struct rows_ctx {
    row_fn fn;
    void *ctx;
} rows_ctx;

static void rows_range(void *c, int64_t b, int64_t e, int tid)
{
    (void)tid;
    rows_ctx *rc = c;
    for (int64_t r = b; r < e; r++) rc->fn(rc->ctx, r);
}

/* Runs fn for rows [0, n), across the pool when n * width is large. */
static void for_rows(cpu_backend *cb, int64_t n, int64_t width, row_fn fn, void *ctx)
{
    rows_ctx rc = {fn, ctx};
    int nt = tp_size(cb->pool);
    int64_t grain = n * width < ROWS_MIN_WORK || nt == 1 ? n : (n + 2 * nt - 1) / (2 * nt);
    tp_parallel_for(cb->pool, n, grain, rows_range, &rc);
}

static void check_same(const be_tensor *a, const be_tensor *b, int64_t n)
{
    INF_ASSERT(CRT(a)->f && CRT(b)->f && CRT(a)->info.ne[0] == CRT(b)->info.ne[0]);
    INF_ASSERT(n <= be_tensor_rows(a) && n <= be_tensor_rows(b));
}

/* ---- RMSNorm ---- */

typedef struct norm_ctx {
    const cpu_kernels *kt;
    const float *x, *w;
    float *out;
    int64_t d, e;
    float eps;
} norm_ctx;

static void norm_row(void *c, int64_t r)
{
    const norm_ctx *nc = c;
    for (int64_t g = 0; g < nc->d; g += nc->e) {
        const float *x = nc->x + r * nc->d + g;
        float *o = nc->out + r * nc->d + g;
        float ss = nc->kt->dot(x, x, nc->e);
        float s = (float)(1.0 / sqrt((double)ss / (double)nc->e + (double)nc->eps));
        for (int64_t c2 = 0; c2 < nc->e; c2++) o[c2] = x[c2] * s * nc->w[c2];
    }
}

void cpu_op_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                     float eps, int64_t n)
{
    cpu_backend *cb = (cpu_backend *)be;
    int64_t d = CRT(x)->info.ne[0], e = CRT(w)->info.ne[0];
    INF_ASSERT(CRT(x)->f && RT(out)->f && RT(out)->info.ne[0] == d && d % e == 0);
    INF_ASSERT(n <= be_tensor_rows(x) && n <= be_tensor_rows(out));
    INF_ASSERT(CRT(w)->info.type == QT_F32);
    norm_ctx nc = {cb->kt, CRT(x)->f, (const float *)CRT(w)->data, RT(out)->f, d, e, eps};
    for_rows(cb, n, d, norm_row, &nc);
}

/* ---- RoPE ---- */

typedef struct rope_ctx {
    const be_rope *rope;
    const float *ff;
    const int32_t *pos;
    float *cs;
    float *x;
    int64_t width;
    int32_t n_head, head_dim;
} rope_ctx;

static void rope_table_row(void *c, int64_t r)
{
    const rope_ctx *rc = c;
    int32_t half = rc->rope->n_dims / 2;
    for (int32_t i = 0; i < half; i++) {
        double theta, ms;
        ref_rope_angle(rc->rope, rc->ff, rc->pos[r], i, &theta, &ms);
        rc->cs[(r * half + i) * 2] = (float)(cos(theta) * ms);
        rc->cs[(r * half + i) * 2 + 1] = (float)(sin(theta) * ms);
    }
}

static void rope_row(void *c, int64_t r)
{
    const rope_ctx *rc = c;
    int32_t half = rc->rope->n_dims / 2;
    bool neox = rc->rope->mode == BE_ROPE_NEOX;
    const float *cs = rc->cs + r * half * 2;
    for (int32_t h = 0; h < rc->n_head; h++) {
        float *xh = rc->x + r * rc->width + (int64_t)h * rc->head_dim;
        if (neox) {
            for (int32_t i = 0; i < half; i++) {
                float x0 = xh[i], x1 = xh[i + half], co = cs[2 * i], si = cs[2 * i + 1];
                xh[i] = x0 * co - x1 * si;
                xh[i + half] = x0 * si + x1 * co;
            }
        } else {
            for (int32_t i = 0; i < half; i++) {
                float x0 = xh[2 * i], x1 = xh[2 * i + 1], co = cs[2 * i], si = cs[2 * i + 1];
                xh[2 * i] = x0 * co - x1 * si;
                xh[2 * i + 1] = x0 * si + x1 * co;
            }
        }
    }
}

static bool rope_same(const be_rope *a, const be_rope *b)
{
    return a->mode == b->mode && a->n_dims == b->n_dims && a->freq_base == b->freq_base &&
           a->freq_scale == b->freq_scale && a->ext_factor == b->ext_factor &&
           a->attn_factor == b->attn_factor && a->beta_fast == b->beta_fast &&
           a->beta_slow == b->beta_slow && a->n_ctx_orig == b->n_ctx_orig &&
           a->freq_factors == b->freq_factors;
}

void cpu_op_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim,
                 const be_rope *rope, int64_t n)
{
    cpu_backend *cb = (cpu_backend *)be;
    const ref_batch *b = &cb->rb.batch;
    INF_ASSERT(RT(x)->f && RT(x)->info.ne[0] == (int64_t)n_head * head_dim);
    INF_ASSERT(rope->n_dims > 0 && rope->n_dims % 2 == 0 && rope->n_dims <= head_dim);
    INF_ASSERT(rope->n_dims / 2 <= CPU_ROPE_MAX_PAIRS);
    INF_ASSERT(n <= b->n && n <= be_tensor_rows(x) && n <= cb->rope_rows);
    const float *ff = NULL;
    if (rope->freq_factors) {
        INF_ASSERT(CRT(rope->freq_factors)->info.type == QT_F32 &&
                   CRT(rope->freq_factors)->info.ne[0] >= rope->n_dims / 2);
        ff = (const float *)CRT(rope->freq_factors)->data;
    }
    rope_ctx rc = {rope, ff, b->pos, NULL, RT(x)->f, RT(x)->info.ne[0], n_head, head_dim};
    /* The table covers all b->n rows, so calls with a smaller n reuse it. */
    cpu_rope_cache *slot = NULL;
    for (int i = 0; i < CPU_ROPE_CACHE; i++)
        if (cb->rope[i].batch_gen == cb->batch_gen && rope_same(&cb->rope[i].key, rope))
            slot = &cb->rope[i];
    if (!slot) {
        slot = &cb->rope[cb->rope_next];
        cb->rope_next = (cb->rope_next + 1) % CPU_ROPE_CACHE;
        slot->key = *rope;
        slot->batch_gen = cb->batch_gen;
        rc.cs = slot->cs;
        for_rows(cb, b->n, 64 * rope->n_dims, rope_table_row, &rc);
    }
    rc.cs = slot->cs;
    for_rows(cb, n, RT(x)->info.ne[0], rope_row, &rc);
}

/* ---- elementwise ---- */

typedef struct ew_ctx {
    const cpu_kernels *kt;
    float *out;
    const float *a, *b;
    float s;
    int64_t width;
    int op;
} ew_ctx;

enum { EW_SILU, EW_GELU, EW_ADD, EW_MUL, EW_SCALE, EW_SOFTCAP, EW_SOFTMAX };

static void ew_row(void *c, int64_t r)
{
    const ew_ctx *e = c;
    int64_t w = e->width;
    float *o = e->out + r * w;
    const float *a = e->a + r * w, *b = e->b ? e->b + r * w : NULL;
    switch (e->op) {
    case EW_SILU: e->kt->silu_mul(o, a, b, w); break;
    case EW_GELU: e->kt->gelu_mul(o, a, b, w); break;
    case EW_ADD: for (int64_t i = 0; i < w; i++) o[i] = a[i] + b[i]; break;
    case EW_MUL: for (int64_t i = 0; i < w; i++) o[i] = a[i] * b[i]; break;
    case EW_SCALE: e->kt->scale(o, a, e->s, w); break;
    case EW_SOFTCAP: e->kt->softcap(o, a, e->s, w); break;
    case EW_SOFTMAX: {
        float mx = e->kt->max(a, w);
        float sum = e->kt->exp_sum(o, a, mx, w);
        e->kt->scale(o, o, 1.0f / sum, w);
        break;
    }
    }
}

static void ew(be_backend *be, int op, be_tensor *out, const be_tensor *a, const be_tensor *b,
               float s, int64_t n)
{
    cpu_backend *cb = (cpu_backend *)be;
    check_same(out, a, n);
    if (b) check_same(out, b, n);
    ew_ctx e = {cb->kt, RT(out)->f, CRT(a)->f, b ? CRT(b)->f : NULL, s, RT(out)->info.ne[0], op};
    for_rows(cb, n, e.width, ew_row, &e);
}

void cpu_op_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                   int64_t n)
{
    ew(be, EW_SILU, out, gate, up, 0, n);
}

void cpu_op_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                  int64_t n)
{
    ew(be, EW_GELU, out, gate, up, 0, n);
}

void cpu_op_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    ew(be, EW_ADD, out, a, b, 0, n);
}

void cpu_op_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    ew(be, EW_MUL, out, a, b, 0, n);
}

void cpu_op_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n)
{
    ew(be, EW_SCALE, out, x, NULL, s, n);
}

void cpu_op_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n)
{
    INF_ASSERT(cap > 0);
    ew(be, EW_SOFTCAP, out, x, NULL, cap, n);
}

void cpu_op_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n)
{
    ew(be, EW_SOFTMAX, out, x, NULL, 0, n);
}
