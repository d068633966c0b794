/* ref_backend.c: the reference backend's memory side — tensors, KV pool, batch
 * copy, host transfers, and its op table. Layouts are in ref.h. */
#include "backend/ref/ref.h"

#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

static const be_ops ref_ops = {
    .destroy = ref_destroy,
    .weight_upload = ref_weight_upload,
    .tensor_alloc = ref_tensor_alloc,
    .tensor_free = ref_tensor_free,
    .kv_create = ref_kv_create,
    .kv_destroy = ref_kv_destroy,
    .batch_set = ref_batch_set,
    .write = ref_write,
    .read = ref_read,
    .sync = ref_sync,
    .embed = ref_embed,
    .matmul = ref_matmul,
    .rms_norm = ref_rms_norm,
    .rope = ref_rope,
    .kv_write = ref_kv_write,
    .attention = ref_attention,
    .swiglu = ref_swiglu,
    .geglu = ref_geglu,
    .add = ref_add,
    .mul = ref_mul,
    .scale = ref_scale,
    .softcap = ref_softcap,
    .softmax = ref_softmax,
    .gather_out = ref_gather_out,
    .kv_copy_block = ref_kv_copy_block,
};

const be_ops *ref_backend_ops(void)
{
    return &ref_ops;
}

void ref_backend_init(ref_backend *rb, const be_ops *ops, const char *name)
{
    memset(rb, 0, sizeof *rb);
    rb->base.ops = ops;
    rb->base.name = name;
}

void ref_backend_release(ref_backend *rb)
{
    ref_batch *b = &rb->batch;
    free(b->token);
    free(b->pos);
    free(b->seq);
    free(b->out_rows);
    free(b->kv_len);
    free(b->block_off);
    free(b->blocks);
    free(rb->scratch);
    memset(rb, 0, sizeof *rb);
}

int be_ref_create(be_backend **out, inf_error *err)
{
    *out = NULL;
    ref_backend *rb = malloc(sizeof *rb);
    if (!rb) return inf_errorf(err, INF_ERR_NOMEM, "ref backend: out of memory");
    ref_backend_init(rb, &ref_ops, "ref");
    *out = &rb->base;
    return INF_OK;
}

void ref_destroy(be_backend *be)
{
    if (!be) return;
    ref_backend_release((ref_backend *)be);
    free(be);
}

int ref_scratch_reserve(ref_backend *rb, size_t n, inf_error *err)
{
    if (n <= rb->scratch_cap) return INF_OK;
    float *p = realloc(rb->scratch, n * sizeof *p);
    if (!p) return inf_errorf(err, INF_ERR_NOMEM, "ref backend: scratch of %zu floats", n);
    rb->scratch = p;
    rb->scratch_cap = n;
    return INF_OK;
}

int ref_weight_upload(be_backend *be, const char *name, uint32_t type, int n_dims,
                      const int64_t *ne, const void *data, size_t nbytes, be_tensor **out,
                      inf_error *err)
{
    *out = NULL;
    const quant_traits *tr = quant_traits_of(type);
    if (!tr || !tr->supported)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "tensor %s: type %s is not supported", name,
                          quant_type_name(type));
    if (n_dims < 1 || n_dims > BE_MAX_DIMS)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: %d dims", name, n_dims);
    size_t row_bytes = quant_row_size(type, ne[0]);
    if (row_bytes == 0)
        return inf_errorf(err, INF_ERR_INVALID,
                          "tensor %s: row of %lld is not a multiple of %s's block of %d", name,
                          (long long)ne[0], tr->name, tr->block_size);
    size_t rows = 1;
    for (int i = 1; i < n_dims; i++) rows *= (size_t)ne[i];
    if (row_bytes * rows != nbytes)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: %zu bytes for %zu rows of %zu", name,
                          nbytes, rows, row_bytes);
    /* Dequantizing one row at a time needs ne[0] floats of scratch. */
    int rc = ref_scratch_reserve((ref_backend *)be, (size_t)ne[0], err);
    if (rc) return rc;
    ref_tensor *t = calloc(1, sizeof *t);
    if (!t) return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: out of memory", name);
    be_tensor_info_init(&t->info, name, type, n_dims, ne);
    t->data = data;
    t->row_bytes = row_bytes;
    *out = (be_tensor *)t;
    return INF_OK;
}

int ref_tensor_alloc(be_backend *be, const char *name, int n_dims, const int64_t *ne,
                     be_tensor **out, inf_error *err)
{
    *out = NULL;
    if (n_dims < 1 || n_dims > BE_MAX_DIMS)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: %d dims", name, n_dims);
    size_t count = 1;
    for (int i = 0; i < n_dims; i++) {
        if (ne[i] < 1) return inf_errorf(err, INF_ERR_INVALID, "tensor %s: dim %d is %lld", name,
                                         i, (long long)ne[i]);
        count *= (size_t)ne[i];
    }
    int rc = ref_scratch_reserve((ref_backend *)be, (size_t)ne[0], err);
    if (rc) return rc;
    ref_tensor *t = calloc(1, sizeof *t);
    float *f = calloc(count, sizeof *f);
    if (!t || !f) {
        free(t);
        free(f);
        return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: %zu floats", name, count);
    }
    be_tensor_info_init(&t->info, name, QT_F32, n_dims, ne);
    t->f = f;
    t->data = f;
    t->row_bytes = (size_t)ne[0] * sizeof(float);
    *out = (be_tensor *)t;
    return INF_OK;
}

void ref_tensor_free(be_backend *be, be_tensor *t)
{
    (void)be;
    if (!t) return;
    free(((ref_tensor *)t)->f);
    free(t);
}

static size_t kv_row_bytes(be_kv_dtype dtype, int32_t hd)
{
    switch (dtype) {
    case BE_KV_F32: return 4 * (size_t)hd;
    case BE_KV_F16:
    case BE_KV_BF16: return 2 * (size_t)hd;
    case BE_KV_Q8: return (size_t)hd + 2 * (size_t)(hd / be_kv_q8_group(hd));
    }
    return 0;
}

int ref_kv_create(be_backend *be, const be_kv_config *cfg, be_kv **out, inf_error *err)
{
    ref_backend *rb = (ref_backend *)be;
    *out = NULL;
    if (cfg->n_layer < 1 || cfg->n_kv_head < 1 || cfg->head_dim_k < 1 || cfg->head_dim_v < 1 ||
        cfg->block_size < 1 || cfg->n_blocks < 1)
        return inf_errorf(err, INF_ERR_INVALID, "kv pool: every dimension must be positive");
    if (kv_row_bytes(cfg->dtype, 1) == 0)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "kv pool: unknown dtype %d", (int)cfg->dtype);
    size_t extra = (size_t)cfg->head_dim_k + (size_t)cfg->head_dim_v;
    if (extra > rb->attn_extra) rb->attn_extra = extra;
    ref_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return inf_errorf(err, INF_ERR_NOMEM, "kv pool: out of memory");
    kv->cfg = *cfg;
    kv->k_row_bytes = kv_row_bytes(cfg->dtype, cfg->head_dim_k);
    kv->v_row_bytes = kv_row_bytes(cfg->dtype, cfg->head_dim_v);
    size_t rows = (size_t)cfg->n_layer * cfg->n_blocks * cfg->block_size * cfg->n_kv_head;
    /* Zeroed, so that reading a slot never written is deterministic. */
    kv->k = calloc(rows, kv->k_row_bytes);
    kv->v = calloc(rows, kv->v_row_bytes);
    if (!kv->k || !kv->v) {
        size_t total = rows * (kv->k_row_bytes + kv->v_row_bytes);
        ref_kv_destroy(be, (be_kv *)kv);
        return inf_errorf(err, INF_ERR_NOMEM, "kv pool: %zu bytes do not fit", total);
    }
    *out = (be_kv *)kv;
    return INF_OK;
}

void ref_kv_destroy(be_backend *be, be_kv *kv)
{
    (void)be;
    if (!kv) return;
    free(((ref_kv *)kv)->k);
    free(((ref_kv *)kv)->v);
    free(kv);
}

/* Grows every array of arrs to need entries (keeping contents); *cap is the
 * size they all share. On failure the arrays already grown stay valid. */
static int grow_i32(int32_t **arrs[], int n_arrs, int32_t *cap, int32_t need, inf_error *err)
{
    if (need <= *cap) return INF_OK;
    for (int i = 0; i < n_arrs; i++) {
        int32_t *q = realloc(*arrs[i], (size_t)need * sizeof *q);
        if (!q) return inf_errorf(err, INF_ERR_NOMEM, "ref backend: batch of %d", need);
        *arrs[i] = q;
    }
    *cap = need;
    return INF_OK;
}

int ref_batch_set(be_backend *be, const model_batch *b, inf_error *err)
{
    ref_backend *rb = (ref_backend *)be;
    ref_batch *c = &rb->batch;
    int32_t total_blocks = 0, max_kv = 0;
    for (int32_t s = 0; s < b->n_seq; s++) {
        total_blocks += b->seqs[s].n_blocks;
        if (b->seqs[s].kv_len > max_kv) max_kv = b->seqs[s].kv_len;
    }
    int32_t **rows[] = {&c->token, &c->pos, &c->seq, &c->out_rows};
    int32_t **seqs[] = {&c->kv_len, &c->block_off};
    int32_t **blocks[] = {&c->blocks};
    int rc;
    if ((rc = grow_i32(rows, 4, &c->cap_rows, b->n, err)) ||
        (rc = grow_i32(seqs, 2, &c->cap_seq, b->n_seq, err)) ||
        (rc = grow_i32(blocks, 1, &c->cap_blocks, total_blocks > 0 ? total_blocks : 1, err)))
        return rc;
    /* Attention keeps one score per visible key. */
    if ((rc = ref_scratch_reserve(rb, (size_t)max_kv + 1 + rb->attn_extra, err))) return rc;

    c->n = b->n;
    c->n_seq = b->n_seq;
    c->n_out = b->n_out;
    memcpy(c->token, b->token, (size_t)b->n * sizeof(int32_t));
    memcpy(c->pos, b->pos, (size_t)b->n * sizeof(int32_t));
    memcpy(c->seq, b->seq, (size_t)b->n * sizeof(int32_t));
    if (b->n_out) memcpy(c->out_rows, b->out_rows, (size_t)b->n_out * sizeof(int32_t));
    int32_t off = 0;
    for (int32_t s = 0; s < b->n_seq; s++) {
        c->kv_len[s] = b->seqs[s].kv_len;
        c->block_off[s] = off;
        if (b->seqs[s].n_blocks)
            memcpy(c->blocks + off, b->seqs[s].blocks, (size_t)b->seqs[s].n_blocks * sizeof(int32_t));
        off += b->seqs[s].n_blocks;
    }
    return INF_OK;
}

void ref_write(be_backend *be, be_tensor *t, int64_t row0, int64_t n_rows, const float *src)
{
    (void)be;
    ref_tensor *rt = (ref_tensor *)t;
    INF_ASSERT(rt->f && row0 >= 0 && row0 + n_rows <= be_tensor_rows(t));
    memcpy(rt->f + row0 * rt->info.ne[0], src, (size_t)(n_rows * rt->info.ne[0]) * sizeof(float));
}

int ref_read(be_backend *be, const be_tensor *t, int64_t row0, int64_t n_rows, float *dst,
             inf_error *err)
{
    (void)be;
    (void)err;
    const ref_tensor *rt = (const ref_tensor *)t;
    INF_ASSERT(row0 >= 0 && row0 + n_rows <= be_tensor_rows(t));
    int64_t d = rt->info.ne[0];
    for (int64_t r = 0; r < n_rows; r++) {
        if (rt->f) {
            memcpy(dst + r * d, rt->f + (row0 + r) * d, (size_t)d * sizeof(float));
        } else {
            quant_dequantize(rt->info.type, (const uint8_t *)rt->data + (row0 + r) * rt->row_bytes,
                             dst + r * d, d);
        }
    }
    return INF_OK;
}

int ref_sync(be_backend *be, inf_error *err)
{
    (void)be;
    (void)err;
    return INF_OK;
}

const float *ref_row(const ref_tensor *t, int64_t r, float *tmp)
{
    if (t->f) return t->f + r * t->info.ne[0];
    quant_dequantize(t->info.type, (const uint8_t *)t->data + r * t->row_bytes, tmp, t->info.ne[0]);
    return tmp;
}
