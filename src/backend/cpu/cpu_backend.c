/* cpu_backend.c: the CPU backend's memory side (weights packed at upload,
 * activations, KV pool, batch), its matmul op, and its op table. Layouts are
 * ref/ref.h's plus the panels of cpu_matmul.h; see cpu_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "core/log.h"
#include "quant/quant.h"

#define CB(be) ((cpu_backend *)(be))
#define CT(t) ((cpu_tensor *)(t))
#define CCT(t) ((const cpu_tensor *)(t))

/* Every op that writes a tensor ends here: cached q8a rows are stale now. */
static void touch(be_backend *be)
{
    CB(be)->epoch++;
}

/* Runs the matmuls waiting for a shared region. Every entry point but matmul
 * calls it first, so no op ever sees a result that is still pending. */
static void flush(be_backend *be)
{
    cpu_backend *cb = CB(be);
    if (!cb->n_pending) return;
    cpu_matmul_run(cb->pool, cb->pending, cb->n_pending);
    cb->n_pending = 0;
}

static int grow_act_q(cpu_backend *cb, inf_error *err)
{
    size_t need = cpu_q8a_row_bytes(cb->max_k) * (size_t)cb->max_rows;
    if (need <= cb->act_q_cap) return INF_OK;
    void *p = aligned_alloc(64, (need + 63) / 64 * 64);
    if (!p) return inf_errorf(err, INF_ERR_NOMEM, "cpu backend: %zu bytes of activation scratch", need);
    free(cb->act_q);
    cb->act_q = p;
    cb->act_q_cap = need;
    cb->q_src = NULL;
    return INF_OK;
}

static void cpu_destroy(be_backend *be)
{
    if (!be) return;
    cpu_backend *cb = CB(be);
    flush(be);
    tp_destroy(cb->pool);
    free(cb->act_q);
    for (int i = 0; i < CPU_ROPE_CACHE; i++) free(cb->rope[i].cs);
    free(cb->attn_scratch);
    free(cb->tiles);
    ref_backend_release(&cb->rb);
    free(cb);
}

static int cpu_weight_upload(be_backend *be, const char *name, uint32_t type, int n_dims,
                             const int64_t *ne, const void *data, size_t nbytes, be_tensor **out,
                             inf_error *err)
{
    cpu_backend *cb = CB(be);
    *out = NULL;
    flush(be);
    /* The ref upload validates and fills a ref_tensor; keep its checks and
     * copy its header into a cpu_tensor. */
    be_tensor *rt = NULL;
    int rc = ref_weight_upload(be, name, type, n_dims, ne, data, nbytes, &rt, err);
    if (rc) return rc;
    cpu_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        ref_tensor_free(be, rt);
        return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: out of memory", name);
    }
    t->r = *(ref_tensor *)rt;
    ref_tensor_free(be, rt);
    int64_t rows = be_tensor_rows((be_tensor *)t);
    if (n_dims >= 2 && kref_panel_format_of(type)) {
        rc = cpu_weight_pack(&t->w, name, type, rows, ne[0], data, t->r.row_bytes, cb->pool, err);
        if (rc == INF_OK) {
            t->packed = true;
            if (kref_type_uses_q8a(type) && ne[0] > cb->max_k) {
                cb->max_k = ne[0];
                rc = grow_act_q(cb, err);
            }
        } else if (rc == INF_ERR_INVALID) {
            /* Not packable (a row length no super-block divides): ref's
             * matmul serves it. */
            INF_DEBUG("tensor %s: %s; using the reference matmul", name, err ? err->msg : "");
            rc = INF_OK;
        }
        if (rc) {
            cpu_weight_release(&t->w);
            free(t);
            return rc;
        }
    }
    *out = (be_tensor *)t;
    return INF_OK;
}

static int cpu_tensor_alloc(be_backend *be, const char *name, int n_dims, const int64_t *ne,
                            be_tensor **out, inf_error *err)
{
    cpu_backend *cb = CB(be);
    int rc = ref_tensor_alloc(be, name, n_dims, ne, out, err);
    if (rc) return rc;
    int64_t rows = be_tensor_rows(*out);
    if (rows > cb->max_rows) {
        cb->max_rows = rows;
        if ((rc = grow_act_q(cb, err))) {
            ref_tensor_free(be, *out);
            *out = NULL;
            return rc;
        }
    }
    return INF_OK;
}

static void cpu_tensor_free(be_backend *be, be_tensor *t)
{
    if (!t) return;
    cpu_backend *cb = CB(be);
    flush(be);
    if (cb->q_src == t) cb->q_src = NULL;
    if (((ref_tensor *)t)->f) {
        ref_tensor_free(be, t);
        return;
    }
    cpu_weight_release(&CT(t)->w);
    free(t);
}

size_t cpu_attn_scratch_floats(const be_kv_config *c)
{
    size_t hd = (size_t)c->head_dim_k, hdv = (size_t)c->head_dim_v, B = (size_t)c->block_size;
    /* K (transposed) and V of one block, a key row, then per query vector:
     * the scaled query, accumulator, max, sum, probabilities (cpu_attn.c) */
    return B * (hd + hdv) + hd + CPU_ATTN_QV * (hd + hdv + 2 + B) + 64;
}

static int cpu_kv_create(be_backend *be, const be_kv_config *cfg, be_kv **out, inf_error *err)
{
    cpu_backend *cb = CB(be);
    flush(be);
    int rc = ref_kv_create(be, cfg, out, err);
    if (rc) return rc;
    size_t per = (cpu_attn_scratch_floats(cfg) + 15) / 16 * 16;
    if (per > cb->attn_per_thread) {
        float *p = aligned_alloc(64, per * sizeof(float) * (size_t)tp_size(cb->pool));
        if (!p) {
            ref_kv_destroy(be, *out);
            *out = NULL;
            return inf_errorf(err, INF_ERR_NOMEM, "cpu backend: attention scratch");
        }
        free(cb->attn_scratch);
        cb->attn_scratch = p;
        cb->attn_per_thread = per;
    }
    return INF_OK;
}

static int cpu_batch_set(be_backend *be, const model_batch *b, inf_error *err)
{
    cpu_backend *cb = CB(be);
    flush(be);
    int rc = ref_batch_set(be, b, err);
    if (rc) return rc;
    cb->batch_gen++;
    if (b->n + 1 > cb->tiles_cap) {
        int32_t *t = realloc(cb->tiles, sizeof(int32_t) * (size_t)(b->n + 1));
        if (!t) return inf_errorf(err, INF_ERR_NOMEM, "cpu backend: batch of %d rows", b->n);
        cb->tiles = t;
        cb->tiles_cap = b->n + 1;
    }
    if (b->n > cb->rope_rows) {
        for (int i = 0; i < CPU_ROPE_CACHE; i++) {
            float *p = realloc(cb->rope[i].cs, sizeof(float) * 2 * CPU_ROPE_MAX_PAIRS * (size_t)b->n);
            if (!p) return inf_errorf(err, INF_ERR_NOMEM, "cpu backend: rope tables for %d rows", b->n);
            cb->rope[i].cs = p;
            cb->rope[i].batch_gen = 0;
        }
        cb->rope_rows = b->n;
    }
    return INF_OK;
}

static void cpu_kv_destroy(be_backend *be, be_kv *kv)
{
    flush(be);
    ref_kv_destroy(be, kv);
}

static int cpu_read(be_backend *be, const be_tensor *t, int64_t row0, int64_t n_rows, float *dst,
                    inf_error *err)
{
    flush(be);
    return ref_read(be, t, row0, n_rows, dst, err);
}

static int cpu_sync(be_backend *be, inf_error *err)
{
    flush(be);
    return ref_sync(be, err);
}

static void cpu_kv_copy_block(be_backend *be, be_kv *kv, int32_t dst, int32_t src)
{
    flush(be);
    ref_kv_copy_block(be, kv, dst, src);
}

static void cpu_write(be_backend *be, be_tensor *t, int64_t row0, int64_t n_rows, const float *src)
{
    flush(be);
    ref_write(be, t, row0, n_rows, src);
    touch(be);
}

static void cpu_embed(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n)
{
    flush(be);
    ref_embed(be, out, w, n);
    touch(be);
}

static void cpu_kv_write(be_backend *be, be_kv *kv, int32_t layer, const be_tensor *k,
                         const be_tensor *v, int64_t n)
{
    flush(be);
    cpu_op_kv_write(be, kv, layer, k, v, n);
}

static void cpu_gather_out(be_backend *be, be_tensor *out, const be_tensor *x)
{
    flush(be);
    ref_gather_out(be, out, x);
    touch(be);
}

static void cpu_matmul_op(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                          const be_tensor *bias, int64_t n)
{
    cpu_backend *cb = CB(be);
    const cpu_tensor *wt = CCT(w);
    if (!wt->packed) {
        flush(be);
        ref_matmul(be, out, x, w, bias, n);
        touch(be);
        return;
    }
    int64_t k = wt->w.k, m = wt->w.m;
    const ref_tensor *xr = (const ref_tensor *)x;
    ref_tensor *orr = (ref_tensor *)out;
    INF_ASSERT(xr->f && xr->info.ne[0] == k && orr->f && orr->info.ne[0] == m);
    INF_ASSERT(n <= be_tensor_rows(x) && n <= be_tensor_rows(out) && out != x);
    INF_ASSERT(!bias || (be_tensor_info_of(bias)->ne[0] == m &&
                         be_tensor_info_of(bias)->type == QT_F32));
    const float *bf = bias ? (const float *)((const ref_tensor *)bias)->data : NULL;
    bool q8a = kref_type_uses_q8a(wt->w.type);
    kref_act_kind kind = cb->act_parity ? kref_act_kind_of(wt->w.type) : KREF_ACT_Q8A;
    bool cached = q8a && cb->q_src == x && cb->q_n >= n && cb->q_kind == kind &&
                  cb->q_epoch == cb->epoch;
    /* Join the waiting matmuls when they read the same rows of the same input,
     * none writes this output (a later writer must not race an earlier) and
     * the rows they read from act_q stay as they are. */
    bool join = cb->n_pending > 0 && cb->n_pending < CPU_MM_PENDING && cb->pending_x == x &&
                cb->pending_n == n && (!q8a || cached);
    for (int i = 0; join && i < cb->n_pending; i++) join = cb->pending_out[i] != out;
    if (!join) flush(be);
    if (q8a && !cached) {
        INF_ASSERT(cpu_q8a_row_bytes(k) * (size_t)n <= cb->act_q_cap);
        cb->q_src = x;
        cb->q_n = n;
        cb->q_kind = kind;
    }
    cpu_matmul_prepare(cb->pool, cb->kt, &wt->w, xr->f, (size_t)k, n, orr->f, (size_t)m, bf,
                       cb->act_q, cached, kind, &cb->pending[cb->n_pending]);
    cb->pending_out[cb->n_pending++] = out;
    cb->pending_x = x;
    cb->pending_n = n;
    /* Only out changed, and out != x: rows quantized from x stay valid. */
    cb->epoch++;
    if (q8a) cb->q_epoch = cb->epoch;
}

#define WRAP_TOUCH(fn, ...) \
    do { flush(be); fn(__VA_ARGS__); touch(be); } while (0)

static void cpu_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                         float eps, int64_t n)
{
    WRAP_TOUCH(cpu_op_rms_norm, be, out, x, w, eps, n);
}

static void cpu_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim,
                     const be_rope *rope, int64_t n)
{
    WRAP_TOUCH(cpu_op_rope, be, x, n_head, head_dim, rope, n);
}

static void cpu_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kv,
                          const be_attn *p, int64_t n)
{
    WRAP_TOUCH(cpu_op_attention, be, out, q, kv, p, n);
}

static void cpu_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                       int64_t n)
{
    WRAP_TOUCH(cpu_op_swiglu, be, out, gate, up, n);
}

static void cpu_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                      int64_t n)
{
    WRAP_TOUCH(cpu_op_geglu, be, out, gate, up, n);
}

static void cpu_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    WRAP_TOUCH(cpu_op_add, be, out, a, b, n);
}

static void cpu_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    WRAP_TOUCH(cpu_op_mul, be, out, a, b, n);
}

static void cpu_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n)
{
    WRAP_TOUCH(cpu_op_scale, be, out, x, s, n);
}

static void cpu_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n)
{
    WRAP_TOUCH(cpu_op_softcap, be, out, x, cap, n);
}

static void cpu_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n)
{
    WRAP_TOUCH(cpu_op_softmax, be, out, x, n);
}

static const be_ops cpu_ops = {
    .destroy = cpu_destroy,
    .weight_upload = cpu_weight_upload,
    .tensor_alloc = cpu_tensor_alloc,
    .tensor_free = cpu_tensor_free,
    .kv_create = cpu_kv_create,
    .kv_destroy = cpu_kv_destroy,
    .batch_set = cpu_batch_set,
    .write = cpu_write,
    .read = cpu_read,
    .sync = cpu_sync,
    .embed = cpu_embed,
    .matmul = cpu_matmul_op,
    .rms_norm = cpu_rms_norm,
    .rope = cpu_rope,
    .kv_write = cpu_kv_write,
    .attention = cpu_attention,
    .swiglu = cpu_swiglu,
    .geglu = cpu_geglu,
    .add = cpu_add,
    .mul = cpu_mul,
    .scale = cpu_scale,
    .softcap = cpu_softcap,
    .softmax = cpu_softmax,
    .gather_out = cpu_gather_out,
    .kv_copy_block = cpu_kv_copy_block,
};

int be_cpu_create(int n_threads, be_backend **out, inf_error *err)
{
    *out = NULL;
    cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb) return inf_errorf(err, INF_ERR_NOMEM, "cpu backend: out of memory");
    ref_backend_init(&cb->rb, &cpu_ops, "cpu");
    int rc = tp_create(n_threads, -1, &cb->pool, err);
    if (rc) {
        free(cb);
        return rc;
    }
    cb->kt = cpu_kernels_get();
    cb->epoch = 1;
    /* Our own rounding (f32 scale per 32 values) is the default: it is closer
     * to the f32 result, and llama.cpp's exact rounding (INFERD_CPU_ACT=llama)
     * did not bring the logits measurably nearer to llama.cpp's (mean
     * |logprob| difference over its top-5, SmolLM2: 0.094 ours, 0.097 its
     * rounding, 0.089 for exact f32 activations). */
    const char *act = getenv("INFERD_CPU_ACT");
    cb->act_parity = act && !strcmp(act, "llama");
    INF_DEBUG("cpu backend: %d threads, %s kernels", tp_size(cb->pool), cb->kt->name);
    *out = &cb->rb.base;
    return INF_OK;
}
