/* matmul.c: weight packing and the threaded matmul driver (cpu_matmul.h).
 *
 * Work split: the n activation rows are cut into column chunks (about 256 KiB
 * of activations each) and the panels into groups (up to GROUP_BYTES of
 * weights, which stay in a core's L2); a work item is one (group, chunk) pair,
 * in group-major order, so a thread that takes a run of items keeps one group
 * of weights in its L2 while chunks of activations stream past, and weights
 * are read from memory about once per step however large n is. Groups shrink
 * when there would be too few items for the threads (decode: n = 1, one
 * chunk). The panel kernel tiles the chunk's rows itself. */
#include "backend/cpu/cpu_matmul.h"

#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

#define PR KREF_PANEL_ROWS
#define CHUNK_BYTES (256 * 1024)
#define GROUP_BYTES (768 * 1024)

typedef struct pack_ctx {
    cpu_weight *w;
    const uint8_t *data;
    size_t row_bytes;
} pack_ctx;

static void pack_range(void *ctx, int64_t b, int64_t e, int tid)
{
    (void)tid;
    pack_ctx *c = ctx;
    for (int64_t p = b; p < e; p++) {
        int64_t rows = c->w->m - p * PR < PR ? c->w->m - p * PR : PR;
        kref_panel_pack(c->w->type, c->data + (size_t)(p * PR) * c->row_bytes, c->row_bytes,
                        (int)rows, c->w->k, c->w->panels + (size_t)p * c->w->panel_bytes);
    }
}

int cpu_weight_pack(cpu_weight *w, const char *name, uint32_t type, int64_t m, int64_t k,
                    const void *data, size_t row_bytes, tp_pool *pool, inf_error *err)
{
    memset(w, 0, sizeof *w);
    const kref_panel_format *f = kref_panel_format_of(type);
    if (!f)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "tensor %s: type %s has no CPU kernel", name,
                          quant_type_name(type));
    size_t pb = kref_panel_bytes(type, k);
    if (pb == 0 || m < 1)
        return inf_errorf(err, INF_ERR_INVALID,
                          "tensor %s: %lld x %lld %s cannot be packed (row length must be a "
                          "multiple of %d)",
                          name, (long long)m, (long long)k, quant_type_name(type), f->sb);
    w->type = type;
    w->fmt = f;
    w->m = m;
    w->k = k;
    w->n_panels = (m + PR - 1) / PR;
    w->panel_bytes = pb;
    size_t total = (pb * (size_t)w->n_panels + 63) / 64 * 64;
    w->panels = aligned_alloc(64, total);
    if (!w->panels) {
        memset(w, 0, sizeof *w);
        return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: %zu bytes for packed weights", name,
                          total);
    }
    pack_ctx c = {w, data, row_bytes};
    tp_parallel_for(pool, w->n_panels, 4, pack_range, &c);
    return INF_OK;
}

void cpu_weight_release(cpu_weight *w)
{
    if (!w) return;
    free(w->panels);
    memset(w, 0, sizeof *w);
}

size_t cpu_matmul_scratch_bytes(uint32_t type, int64_t k, int64_t n)
{
    return kref_type_uses_q8a(type) ? cpu_q8a_row_bytes(k) * (size_t)n : 0;
}

typedef struct quant_ctx {
    const cpu_kernels *kt;
    kref_act_kind kind;
    const float *x;
    size_t ldx;
    int64_t k;
    uint8_t *dst;
} quant_ctx;

static void quant_range(void *ctx, int64_t b, int64_t e, int tid)
{
    (void)tid;
    quant_ctx *c = ctx;
    size_t rb = cpu_q8a_row_bytes(c->k);
    for (int64_t i = b; i < e; i++) {
        kref_q8a *y = (kref_q8a *)(c->dst + (size_t)i * rb);
        const float *x = c->x + (size_t)i * c->ldx;
        if (c->kind == KREF_ACT_Q8_K) { /* one scale per 256: the scalar rule */
            kref_quantize_act(c->kind, x, y, c->k);
        } else {
            c->kt->quantize_q8a(x, y, c->k);
            kref_q8a_to_kind(c->kind, y, c->k / KREF_GROUP);
        }
    }
}

void cpu_quantize_rows(tp_pool *pool, const cpu_kernels *kt, kref_act_kind kind, const float *x,
                       size_t ldx, int64_t n, int64_t k, void *scratch)
{
    quant_ctx c = {kt, kind, x, ldx, k, scratch};
    /* Small batches on the caller: a dispatch costs more than the work. */
    int64_t grain = n < 8 ? n : (n + 2 * tp_size(pool) - 1) / (2 * tp_size(pool));
    tp_parallel_for(pool, n, grain, quant_range, &c);
}

static void mm_items(const cpu_mm_job *c, int64_t b, int64_t e)
{
    const cpu_weight *w = c->w;
    for (int64_t it = b; it < e; it++) {
        int64_t g = it / c->n_chunks, ch = it % c->n_chunks;
        int64_t c0 = ch * c->chunk;
        int64_t nc = c->n - c0 < c->chunk ? c->n - c0 : c->chunk;
        int64_t p1 = (g + 1) * c->group < w->n_panels ? (g + 1) * c->group : w->n_panels;
        for (int64_t p = g * c->group; p < p1; p++) {
            kref_gemm_args a = {
                .type = w->type,
                .k = w->k,
                .panel = w->panels + (size_t)p * w->panel_bytes,
                .rows = (int)(w->m - p * PR < PR ? w->m - p * PR : PR),
                .n = (int)nc,
                .x = c->x + (size_t)c0 * c->x_stride,
                .x_stride = c->x_stride,
                .y = c->y + (size_t)c0 * c->ldy + (size_t)(p * PR),
                .ldy = c->ldy,
                .bias = c->bias ? c->bias + p * PR : NULL,
            };
            c->fn(&a);
        }
    }
}

typedef struct run_ctx {
    const cpu_mm_job *jobs;
    int n_jobs;
} run_ctx;

/* Items [b, e) of the jobs' concatenated item ranges. */
static void run_range(void *ctx, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const run_ctx *rc = ctx;
    int64_t base = 0;
    for (int j = 0; j < rc->n_jobs && b < e; j++) {
        int64_t end = base + rc->jobs[j].items;
        if (b < end) {
            int64_t stop = e < end ? e : end;
            mm_items(&rc->jobs[j], b - base, stop - base);
            b = stop;
        }
        base = end;
    }
}

void cpu_matmul_prepare(tp_pool *pool, const cpu_kernels *kt, const cpu_weight *w, const float *x,
                        size_t ldx, int64_t n, float *y, size_t ldy, const float *bias,
                        void *scratch, bool x_quantized, kref_act_kind kind, cpu_mm_job *job)
{
    cpu_mm_job c = {.w = w, .fn = kt->gemm[w->fmt->panel_type], .n = n, .y = y, .ldy = ldy,
                    .bias = bias};
    if (w->fmt->planes != KREF_PL_FLOAT) {
        if (!x_quantized && n > 0) cpu_quantize_rows(pool, kt, kind, x, ldx, n, w->k, scratch);
        c.x = scratch;
        c.x_stride = cpu_q8a_row_bytes(w->k);
    } else {
        c.x = (const uint8_t *)x;
        c.x_stride = ldx * sizeof(float);
    }
    int64_t max_n = kt->max_n[w->fmt->panel_type];
    int64_t chunk = (int64_t)(CHUNK_BYTES / c.x_stride);
    chunk = chunk < 8 ? 8 : chunk / 8 * 8;
    if (chunk > max_n) chunk = max_n;
    if (chunk > n) chunk = n;
    c.chunk = chunk > 0 ? chunk : 1;
    c.n_chunks = n > 0 ? (n + c.chunk - 1) / c.chunk : 0;
    int64_t group = (int64_t)(GROUP_BYTES / w->panel_bytes);
    int64_t spread = w->n_panels * c.n_chunks / (4 * tp_size(pool)); /* >= 4 items a thread */
    if (group > spread) group = spread;
    c.group = group < 1 ? 1 : group;
    c.items = c.n_chunks * ((w->n_panels + c.group - 1) / c.group);
    *job = c;
}

void cpu_matmul_run(tp_pool *pool, const cpu_mm_job *jobs, int n_jobs)
{
    int64_t items = 0;
    for (int j = 0; j < n_jobs; j++) items += jobs[j].items;
    if (items == 0) return;
    int nt = tp_size(pool);
    /* About four grabs per thread balance uneven progress without making the
     * runs of panels so short that streaming suffers. */
    int64_t grain = nt == 1 ? items : (items + 4 * nt - 1) / (4 * nt);
    run_ctx rc = {jobs, n_jobs};
    tp_parallel_for(pool, items, grain, run_range, &rc);
}

void cpu_matmul(tp_pool *pool, const cpu_kernels *kt, const cpu_weight *w, const float *x,
                size_t ldx, int64_t n, float *y, size_t ldy, const float *bias, void *scratch,
                bool x_quantized)
{
    cpu_mm_job job;
    cpu_matmul_prepare(pool, kt, w, x, ldx, n, y, ldy, bias, scratch, x_quantized,
                       kref_act_kind_of(w->type), &job);
    cpu_matmul_run(pool, &job, 1);
}
