// cuda_backend.cu: the CUDA backend's memory side — creation, tensors, KV pool,
// the batch upload, host transfers, error reporting — and its op table. The
// kernels are in cuda_ops.cu, cuda_gemm.cu / cuda_mmv.cu and cuda_attn.cu.
//
// Everything runs on one stream. Launch failures and failures of asynchronous
// work are recorded (the first one wins) and returned by the next be_read or
// be_sync. Allocation happens at upload, tensor_alloc, kv_create, and when a
// batch is larger than any before (batch_set); never inside an op.
#include "backend/cuda/cuda_backend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backend/cuda/cuda_attn.cuh"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_gemm.cuh"
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_ops.cuh"
#include "backend/cuda/cuda_quant.cuh"

// f16 values of dequantized weight rows for the prefill matmul: 32 MiB.
#define CU_GEMM_W_HALVES ((size_t)16 << 20)
// cuBLAS workspace (its guide suggests 32 MiB on Hopper).
#define CU_BLAS_WS_BYTES ((size_t)32 << 20)

void cu_record(cu_backend *cb, cudaError_t e, const char *what)
{
    if (cb->err_code) return;
    cb->err_code = INF_ERR_INTERNAL;
    snprintf(cb->err_msg, sizeof cb->err_msg, "cuda: %s: %s", what, cudaGetErrorString(e));
}

namespace {

int fail(inf_error *err, int code, cudaError_t e, const char *what, const char *name)
{
    return inf_errorf(err, code, "cuda: %s%s%s: %s", what, name ? " " : "", name ? name : "",
                      cudaGetErrorString(e));
}

void info_init(be_tensor_info *info, const char *name, uint32_t type, int n_dims, const int64_t *ne)
{
    memset(info, 0, sizeof *info);
    info->type = type;
    info->n_dims = n_dims;
    for (int i = 0; i < BE_MAX_DIMS; i++) info->ne[i] = i < n_dims ? ne[i] : 1;
    snprintf(info->name, sizeof info->name, "%s", name ? name : "");
}

// The first recorded failure, or that of the stream; clears the record.
int take_error(cu_backend *cb, inf_error *err)
{
    cudaError_t e = cudaStreamSynchronize(cb->stream);
    if (e != cudaSuccess) cu_record(cb, e, "enqueued work");
    if (!cb->err_code) return INF_OK;
    int code = cb->err_code;
    cb->err_code = 0;
    return inf_errorf(err, code, "%s", cb->err_msg);
}

void cu_destroy(be_backend *be)
{
    if (!be) return;
    cu_backend *cb = CU_BE(be);
    cudaStreamSynchronize(cb->stream);
    cu_graph_reset(cb);
    cudaFree(cb->blas_ws);
    cudaFree(cb->batch.d_all);
    cudaFreeHost(cb->batch.h_all);
    if (cb->batch.uploaded) cudaEventDestroy(cb->batch.uploaded);
    cudaFree(cb->gemm_x);
    cudaFree(cb->gemm_w);
    cudaFree(cb->q8_x);
    cudaFree(cb->q8_ds);
    cudaFree(cb->attn_part);
    cudaFreeHost(cb->h_read);
    cudaFree(cb->d_ids);
    cudaFreeHost(cb->h_ids);
    if (cb->blas) cublasDestroy(cb->blas);
    if (cb->stream) cudaStreamDestroy(cb->stream);
    free(cb);
}

int cu_weight_upload(be_backend *be, const char *name, uint32_t type, int n_dims,
                     const int64_t *ne, const void *data, size_t nbytes, be_tensor **out,
                     inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    *out = nullptr;
    cu_graph_reset(cb); // scratch may move
    if (!cu_type_supported(type))
        return inf_errorf(err, INF_ERR_UNSUPPORTED,
                          "tensor %s: type %s is not supported by the cuda backend", name,
                          quant_type_name(type));
    if (n_dims < 1 || n_dims > BE_MAX_DIMS)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: %d dims", name, n_dims);
    size_t row_bytes = quant_row_size(type, ne[0]);
    if (row_bytes == 0)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: row of %lld is not a multiple of %s's block",
                          name, (long long)ne[0], quant_type_name(type));
    size_t rows = 1;
    for (int i = 1; i < n_dims; i++) rows *= (size_t)ne[i];
    if (row_bytes * rows != nbytes)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: %zu bytes for %zu rows of %zu", name,
                          nbytes, rows, row_bytes);
    // The prefill matmul dequantizes chunks of rows of any non-f16 weight.
    if (type != QT_F32 && type != QT_F16 && !cb->gemm_w) {
        cudaError_t e = cudaMalloc(&cb->gemm_w, CU_GEMM_W_HALVES * sizeof(__half));
        if (e != cudaSuccess) {
            cb->gemm_w = nullptr;
            return fail(err, INF_ERR_NOMEM, e, "matmul scratch for", name);
        }
        cb->gemm_w_cap = CU_GEMM_W_HALVES;
    }
    if ((size_t)ne[0] > cb->gemm_w_cap && type != QT_F32 && type != QT_F16)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "tensor %s: rows of %lld values are too long",
                          name, (long long)ne[0]);
    cu_tensor *t = (cu_tensor *)calloc(1, sizeof *t);
    if (!t) return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: out of memory", name);
    info_init(&t->info, name, type, n_dims, ne);
    t->row_bytes = row_bytes;
    t->weight = true;
    // Q4_0 / Q8_0 are repacked on the host first (cuda_mmvq.cuh), for 16-byte
    // loads of whole blocks in the decode matmul.
    uint8_t *packed = nullptr;
    if (cu_pack_type(type) && nbytes) {
        packed = (uint8_t *)malloc(nbytes);
        if (!packed) {
            free(t);
            return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: out of host memory to repack", name);
        }
        cu_pack_host(type, (const uint8_t *)data, rows, ne[0], packed);
        t->packed = true;
    }
    cudaError_t e = cudaMalloc(&t->d, nbytes ? nbytes : 1);
    // Ordered on the stream (a legacy-stream copy from pageable memory may still
    // be in flight when it returns, and the stream does not wait for it).
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(t->d, packed ? packed : data, nbytes, cudaMemcpyHostToDevice,
                            cb->stream);
    if (packed) {
        if (e == cudaSuccess) e = cudaStreamSynchronize(cb->stream);
        free(packed);
    }
    if (e != cudaSuccess) {
        cudaFree(t->d);
        free(t);
        return fail(err, INF_ERR_NOMEM, e, "upload of", name);
    }
    *out = (be_tensor *)t;
    return INF_OK;
}

int cu_tensor_alloc(be_backend *be, const char *name, int n_dims, const int64_t *ne,
                    be_tensor **out, inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    *out = nullptr;
    cu_graph_reset(cb); // scratch may move
    if (n_dims < 1 || n_dims > BE_MAX_DIMS)
        return inf_errorf(err, INF_ERR_INVALID, "tensor %s: %d dims", name, n_dims);
    size_t count = 1;
    for (int i = 0; i < n_dims; i++) {
        if (ne[i] < 1)
            return inf_errorf(err, INF_ERR_INVALID, "tensor %s: dim %d is %lld", name, i,
                              (long long)ne[i]);
        count *= (size_t)ne[i];
    }
    // Any activation may be the x of a prefill matmul: keep room for it in f16.
    if (count > cb->gemm_x_cap) {
        __half *nx = nullptr;
        cudaError_t e = cudaStreamSynchronize(cb->stream);
        if (e == cudaSuccess) e = cudaMalloc(&nx, count * sizeof(__half));
        if (e != cudaSuccess) return fail(err, INF_ERR_NOMEM, e, "matmul scratch for", name);
        cudaFree(cb->gemm_x);
        cb->gemm_x = nx;
        cb->gemm_x_cap = count;
        // ... and as int8 for the decode matmul on packed weights.
        cudaFree(cb->q8_x);
        cudaFree(cb->q8_ds);
        cb->q8_x = nullptr;
        cb->q8_ds = nullptr;
        cb->q8_cap = 0;
        cb->q8.src = nullptr;
        e = cudaMalloc(&cb->q8_x, count);
        if (e == cudaSuccess) e = cudaMalloc(&cb->q8_ds, (count / 32 + 1) * sizeof(float2));
        if (e != cudaSuccess) return fail(err, INF_ERR_NOMEM, e, "matmul scratch for", name);
        cb->q8_cap = count;
    }
    cu_tensor *t = (cu_tensor *)calloc(1, sizeof *t);
    if (!t) return inf_errorf(err, INF_ERR_NOMEM, "tensor %s: out of memory", name);
    info_init(&t->info, name, QT_F32, n_dims, ne);
    t->row_bytes = (size_t)ne[0] * sizeof(float);
    cudaError_t e = cudaMalloc(&t->d, count * sizeof(float));
    // On the backend's stream: a legacy-stream memset would not be ordered
    // before the writes that follow on a non-blocking stream.
    if (e == cudaSuccess) e = cudaMemsetAsync(t->d, 0, count * sizeof(float), cb->stream);
    if (e != cudaSuccess) {
        cudaFree(t->d);
        free(t);
        return fail(err, INF_ERR_NOMEM, e, "allocation of", name);
    }
    *out = (be_tensor *)t;
    return INF_OK;
}

void cu_tensor_free(be_backend *be, be_tensor *t)
{
    if (!t) return;
    cudaStreamSynchronize(CU_BE(be)->stream);
    cu_graph_reset(CU_BE(be)); // recordings may point at it
    cudaFree(CU_T(t)->d);
    free(t);
}

size_t kv_row_bytes(be_kv_dtype dtype, int32_t hd)
{
    switch (dtype) {
    case BE_KV_F32: return 4 * (size_t)hd;
    case BE_KV_F16:
    case BE_KV_BF16: return 2 * (size_t)hd;
    case BE_KV_Q8: return (size_t)hd + 2 * (size_t)(hd / cu_q8_group(hd));
    }
    return 0;
}

void cu_kv_destroy(be_backend *be, be_kv *kvp)
{
    if (!kvp) return;
    cudaStreamSynchronize(CU_BE(be)->stream);
    cu_graph_reset(CU_BE(be)); // recordings may point at it
    cu_kv *kv = (cu_kv *)kvp;
    cudaFree(kv->k);
    cudaFree(kv->v);
    free(kv);
}

int cu_kv_create(be_backend *be, const be_kv_config *cfg, be_kv **out, inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    *out = nullptr;
    if (cfg->n_layer < 1 || cfg->n_kv_head < 1 || cfg->head_dim_k < 1 || cfg->head_dim_v < 1 ||
        cfg->block_size < 1 || cfg->n_blocks < 1)
        return inf_errorf(err, INF_ERR_INVALID, "kv pool: every dimension must be positive");
    if (kv_row_bytes(cfg->dtype, 1) == 0)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "kv pool: unknown dtype %d", (int)cfg->dtype);
    if (cfg->head_dim_v > 512)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "kv pool: value head dim %d > 512",
                          cfg->head_dim_v);
    if (!cb->attn_part) {
        cudaError_t e = cudaMalloc(&cb->attn_part, CU_ATTN_PART_FLOATS * sizeof(float));
        if (e != cudaSuccess) {
            cb->attn_part = nullptr;
            return fail(err, INF_ERR_NOMEM, e, "attention scratch", nullptr);
        }
        cb->attn_part_cap = CU_ATTN_PART_FLOATS;
    }
    cu_kv *kv = (cu_kv *)calloc(1, sizeof *kv);
    if (!kv) return inf_errorf(err, INF_ERR_NOMEM, "kv pool: out of memory");
    kv->cfg = *cfg;
    kv->k_row_bytes = kv_row_bytes(cfg->dtype, cfg->head_dim_k);
    kv->v_row_bytes = kv_row_bytes(cfg->dtype, cfg->head_dim_v);
    size_t rows = (size_t)cfg->n_layer * cfg->n_blocks * cfg->block_size * cfg->n_kv_head;
    size_t kb = rows * kv->k_row_bytes, vb = rows * kv->v_row_bytes;
    cudaError_t e = cudaMalloc(&kv->k, kb);
    if (e == cudaSuccess) e = cudaMalloc(&kv->v, vb);
    // Zeroed, so that reading a slot never written is deterministic (as ref).
    if (e == cudaSuccess) e = cudaMemsetAsync(kv->k, 0, kb, cb->stream);
    if (e == cudaSuccess) e = cudaMemsetAsync(kv->v, 0, vb, cb->stream);
    if (e != cudaSuccess) {
        cu_kv_destroy(be, (be_kv *)kv);
        cudaGetLastError();
        return inf_errorf(err, INF_ERR_NOMEM, "kv pool: %zu bytes do not fit in GPU memory (%s)",
                          kb + vb, cudaGetErrorString(e));
    }
    *out = (be_kv *)kv;
    return INF_OK;
}

int cu_batch_set(be_backend *be, const model_batch *b, inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    cu_batch *c = &cb->batch;
    int32_t total_blocks = 0, max_kv = 0;
    for (int32_t s = 0; s < b->n_seq; s++) {
        total_blocks += b->seqs[s].n_blocks;
        if (b->seqs[s].kv_len > max_kv) max_kv = b->seqs[s].kv_len;
    }
    size_t need = 4 * (size_t)b->n + 2 * (size_t)b->n_seq + (size_t)total_blocks + 8;
    if (c->uploaded) {
        cudaError_t e = cudaEventSynchronize(c->uploaded); // h_all is free again
        if (e != cudaSuccess) cu_record(cb, e, "batch upload");
    }
    if (need > c->cap) {
        size_t cap = need < 4096 ? 4096 : need * 2;
        cudaStreamSynchronize(cb->stream);
        cu_graph_reset(cb); // recordings read the old buffer
        cudaFree(c->d_all);
        cudaFreeHost(c->h_all);
        c->d_all = nullptr;
        c->h_all = nullptr;
        c->cap = 0;
        cudaError_t e = cudaMalloc(&c->d_all, cap * sizeof(int32_t));
        if (e == cudaSuccess) e = cudaMallocHost(&c->h_all, cap * sizeof(int32_t));
        if (e != cudaSuccess) {
            cudaFree(c->d_all);
            c->d_all = nullptr;
            c->h_all = nullptr;
            return fail(err, INF_ERR_NOMEM, e, "batch of", nullptr);
        }
        c->cap = cap;
    }
    // Pack: token, pos, seq, out_rows (n each), kv_len, block_off (n_seq), blocks.
    int32_t *h = c->h_all;
    size_t o = 0;
    size_t o_tok = o; memcpy(h + o, b->token, (size_t)b->n * 4); o += (size_t)b->n;
    size_t o_pos = o; memcpy(h + o, b->pos, (size_t)b->n * 4); o += (size_t)b->n;
    size_t o_seq = o; memcpy(h + o, b->seq, (size_t)b->n * 4); o += (size_t)b->n;
    size_t o_out = o; if (b->n_out) memcpy(h + o, b->out_rows, (size_t)b->n_out * 4); o += (size_t)b->n;
    size_t o_len = o;
    size_t o_off = o + (size_t)b->n_seq;
    size_t o_blk = o_off + (size_t)b->n_seq;
    int32_t off = 0;
    for (int32_t s = 0; s < b->n_seq; s++) {
        h[o_len + s] = b->seqs[s].kv_len;
        h[o_off + s] = off;
        if (b->seqs[s].n_blocks)
            memcpy(h + o_blk + off, b->seqs[s].blocks, (size_t)b->seqs[s].n_blocks * 4);
        off += b->seqs[s].n_blocks;
    }
    size_t used = o_blk + (size_t)total_blocks;
    cudaError_t e = cudaMemcpyAsync(c->d_all, h, used * sizeof(int32_t), cudaMemcpyHostToDevice,
                                    cb->stream);
    if (e == cudaSuccess) e = cudaEventRecord(c->uploaded, cb->stream);
    if (e != cudaSuccess) return fail(err, INF_ERR_INTERNAL, e, "batch upload", nullptr);
    c->token = c->d_all + o_tok;
    c->pos = c->d_all + o_pos;
    c->seq = c->d_all + o_seq;
    c->out_rows = c->d_all + o_out;
    c->kv_len = c->d_all + o_len;
    c->block_off = c->d_all + o_off;
    c->blocks = c->d_all + o_blk;
    c->n = b->n;
    c->n_seq = b->n_seq;
    c->n_out = b->n_out;
    int32_t kv_cap = 256;
    while (kv_cap < max_kv && kv_cap < (INT32_MAX >> 1)) kv_cap *= 2;
    c->kv_cap = kv_cap;
    return INF_OK;
}

void cu_write(be_backend *be, be_tensor *t, int64_t row0, int64_t n_rows, const float *src)
{
    cu_backend *cb = CU_BE(be);
    cu_tensor *ct = CU_T(t);
    INF_ASSERT(!ct->weight && row0 >= 0 && row0 + n_rows <= cu_rows(t));
    if (n_rows <= 0) return;
    // From pageable memory the call returns once src has been staged, so the
    // caller may reuse src at once, as the contract says.
    cudaError_t e = cudaMemcpyAsync((float *)ct->d + row0 * ct->info.ne[0], src,
                                    (size_t)(n_rows * ct->info.ne[0]) * sizeof(float),
                                    cudaMemcpyHostToDevice, cb->stream);
    if (e != cudaSuccess) cu_record(cb, e, "write");
}

int cu_read(be_backend *be, const be_tensor *t, int64_t row0, int64_t n_rows, float *dst,
            inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    const cu_tensor *ct = CU_CT(t);
    INF_ASSERT(row0 >= 0 && row0 + n_rows <= cu_rows(t));
    int64_t d = ct->info.ne[0];
    size_t count = (size_t)(n_rows * d);
    if (ct->weight) {
        // Weights (tests only): raw rows to the host, dequantized there.
        int rc = take_error(cb, err);
        if (rc) return rc;
        size_t bytes = (size_t)n_rows * ct->row_bytes;
        uint8_t *tmp = (uint8_t *)malloc(bytes ? bytes : 1);
        if (!tmp) return inf_errorf(err, INF_ERR_NOMEM, "read of %s", ct->info.name);
        cudaError_t e;
        if (ct->packed) { // the whole tensor back, then the GGUF rows asked for
            size_t all = (size_t)cu_rows(t) * ct->row_bytes;
            uint8_t *pk = (uint8_t *)malloc(all);
            if (!pk) {
                free(tmp);
                return inf_errorf(err, INF_ERR_NOMEM, "read of %s", ct->info.name);
            }
            e = cudaMemcpy(pk, ct->d, all, cudaMemcpyDeviceToHost);
            if (e == cudaSuccess)
                cu_unpack_host(ct->info.type, pk, (size_t)cu_rows(t), d, row0, n_rows, tmp);
            free(pk);
        } else {
            e = cudaMemcpy(tmp, (const uint8_t *)ct->d + (size_t)row0 * ct->row_bytes, bytes,
                           cudaMemcpyDeviceToHost);
        }
        if (e == cudaSuccess)
            for (int64_t r = 0; r < n_rows; r++)
                quant_dequantize(ct->info.type, tmp + (size_t)r * ct->row_bytes, dst + r * d, d);
        free(tmp);
        return e == cudaSuccess ? INF_OK : fail(err, INF_ERR_INTERNAL, e, "read of", ct->info.name);
    }
    if (count > cb->h_read_cap) {
        cudaStreamSynchronize(cb->stream);
        cudaFreeHost(cb->h_read);
        cb->h_read = nullptr;
        cb->h_read_cap = 0;
        cudaError_t e = cudaMallocHost(&cb->h_read, count * sizeof(float));
        if (e != cudaSuccess) {
            cb->h_read = nullptr;
            return fail(err, INF_ERR_NOMEM, e, "pinned buffer for", ct->info.name);
        }
        cb->h_read_cap = count;
    }
    if (count) {
        cudaError_t e = cudaMemcpyAsync(cb->h_read, (const float *)ct->d + row0 * d,
                                        count * sizeof(float), cudaMemcpyDeviceToHost, cb->stream);
        if (e != cudaSuccess) cu_record(cb, e, "read");
    }
    int rc = take_error(cb, err);
    if (rc) return rc;
    if (count) memcpy(dst, cb->h_read, count * sizeof(float));
    return INF_OK;
}

int cu_sync(be_backend *be, inf_error *err)
{
    return take_error(CU_BE(be), err);
}

int cu_argmax(be_backend *be, const be_tensor *t, int64_t n_rows, int32_t *ids, inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    const cu_tensor *ct = CU_CT(t);
    INF_ASSERT(!ct->weight && n_rows >= 0 && n_rows <= cu_rows(t));
    if ((size_t)n_rows > cb->ids_cap) { // outside any recording: be_argmax ends a step
        INF_ASSERT(!cb->graph_recording);
        cudaStreamSynchronize(cb->stream);
        cudaFree(cb->d_ids);
        cudaFreeHost(cb->h_ids);
        cb->d_ids = nullptr;
        cb->h_ids = nullptr;
        cb->ids_cap = 0;
        size_t cap = n_rows < 64 ? 64 : (size_t)n_rows;
        cudaError_t e = cudaMalloc(&cb->d_ids, cap * sizeof(int32_t));
        if (e == cudaSuccess) e = cudaMallocHost(&cb->h_ids, cap * sizeof(int32_t));
        if (e != cudaSuccess) {
            cudaFree(cb->d_ids);
            cb->d_ids = nullptr;
            cb->h_ids = nullptr;
            return fail(err, INF_ERR_NOMEM, e, "argmax buffer", nullptr);
        }
        cb->ids_cap = cap;
    }
    if (n_rows) {
        cu_argmax_rows(cb, (const float *)ct->d, ct->info.ne[0], n_rows, cb->d_ids);
        cudaError_t e = cudaMemcpyAsync(cb->h_ids, cb->d_ids, (size_t)n_rows * sizeof(int32_t),
                                        cudaMemcpyDeviceToHost, cb->stream);
        if (e != cudaSuccess) cu_record(cb, e, "argmax");
    }
    int rc = take_error(cb, err);
    if (rc) return rc;
    if (n_rows) memcpy(ids, cb->h_ids, (size_t)n_rows * sizeof(int32_t));
    return INF_OK;
}

int cu_mem_info(be_backend *be, uint64_t *free_bytes, uint64_t *total_bytes)
{
    (void)be;
    size_t f = 0, t = 0;
    if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
        cudaGetLastError();
        return INF_ERR_INTERNAL;
    }
    *free_bytes = f;
    *total_bytes = t;
    return INF_OK;
}

// Every op that may write an activation (all but matmul, read, sync and the
// device argmax) bumps op_gen: the copies of x made for matmuls (cu_x_copy)
// are kept only while op_gen stands still.
//
// Some ops are kept pending to be fused with the next (decode matmuls on one
// x: cu_mmvq_flush; a residual add: cu_flush_add; RoPE: cu_flush_rope). Every
// entry first launches whatever is pending, since the op may read its results,
// except the kinds the op itself knows how to join (KEEP).
enum { KEEP_NONE = 0, KEEP_ADD = 1, KEEP_ROPE = 2, KEEP_MATMUL = 4 };

void flush_pending(cu_backend *cb, int keep)
{
    if (!(keep & KEEP_MATMUL)) cu_mmvq_flush(cb);
    if (!(keep & KEEP_ADD)) cu_flush_add(cb);
    if (!(keep & KEEP_ROPE)) cu_flush_rope(cb);
}

template <bool BUMP, int KEEP, auto F> struct entry;
template <bool BUMP, int KEEP, typename R, typename... A, R (*F)(be_backend *, A...)>
struct entry<BUMP, KEEP, F> {
    static R call(be_backend *be, A... a)
    {
        flush_pending(CU_BE(be), KEEP);
        if (BUMP) CU_BE(be)->op_gen++;
        return F(be, a...);
    }
};
template <auto F> using bumped = entry<true, KEEP_NONE, F>;
template <auto F> using flushed = entry<false, KEEP_NONE, F>;
template <auto F> using keeps_add = entry<true, KEEP_ADD, F>;
template <auto F> using keeps_rope = entry<true, KEEP_ROPE, F>;

// A decode matmul of packed or K-quant weights decides itself whether it joins
// the pending ones (cu_mmvq, cu_mmvq_k, cu_mmf); any other matmul launches them
// first, as every other op.
void matmul_entry(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                  const be_tensor *bias, int64_t n)
{
    cu_backend *cb = CU_BE(be);
    flush_pending(cb, cu_matmul_takes_mmvq(cb, CU_CT(w), n) ? KEEP_MATMUL : KEEP_NONE);
    cu_matmul(be, out, x, w, bias, n);
}

const be_ops cu_ops = {
    /*destroy*/ cu_destroy,
    /*weight_upload*/ bumped<cu_weight_upload>::call,
    /*tensor_alloc*/ bumped<cu_tensor_alloc>::call,
    /*tensor_free*/ bumped<cu_tensor_free>::call,
    /*kv_create*/ bumped<cu_kv_create>::call,
    /*kv_destroy*/ bumped<cu_kv_destroy>::call,
    /*batch_set*/ bumped<cu_batch_set>::call,
    /*write*/ bumped<cu_write>::call,
    /*read*/ flushed<cu_read>::call,
    /*sync*/ flushed<cu_sync>::call,
    /*embed*/ bumped<cu_embed>::call,
    /*matmul*/ matmul_entry,
    /*rms_norm*/ keeps_add<cu_rms_norm>::call,
    /*rope*/ keeps_rope<cu_rope>::call,
    /*kv_write*/ keeps_rope<cu_kv_write>::call,
    /*attention*/ bumped<cu_attention>::call,
    /*swiglu*/ bumped<cu_swiglu>::call,
    /*geglu*/ bumped<cu_geglu>::call,
    /*add*/ keeps_add<cu_add>::call,
    /*mul*/ bumped<cu_mul>::call,
    /*scale*/ bumped<cu_scale>::call,
    /*softcap*/ bumped<cu_softcap>::call,
    /*softmax*/ bumped<cu_softmax>::call,
    /*gather_out*/ bumped<cu_gather_out>::call,
    /*kv_copy_block*/ bumped<cu_kv_copy_block>::call,
    /*graph_begin*/ flushed<cu_graph_begin>::call,
    /*graph_end*/ flushed<cu_graph_end>::call,
    /*mem_info*/ cu_mem_info,
    /*argmax*/ flushed<cu_argmax>::call,
};

// One small f16 GEMM outside any recording: cuBLAS initialises itself lazily at
// its first call, which a step recording could not contain.
cublasStatus_t blas_warm_up(cu_backend *cb)
{
    __half *m = nullptr;
    // A and B in f16, C in f32 (two halves a value), as the prefill GEMM has them.
    if (cudaMalloc(&m, 4 * 64 * 64 * sizeof(__half)) != cudaSuccess) return CUBLAS_STATUS_ALLOC_FAILED;
    cudaMemsetAsync(m, 0, 4 * 64 * 64 * sizeof(__half), cb->stream);
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t st = cublasGemmEx(cb->blas, CUBLAS_OP_T, CUBLAS_OP_N, 64, 64, 64, &one, m,
                                     CUDA_R_16F, 64, m + 64 * 64, CUDA_R_16F, 64, &zero,
                                     m + 2 * 64 * 64, CUDA_R_32F, 64, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT);
    cudaStreamSynchronize(cb->stream);
    cudaFree(m);
    return st;
}

} // namespace

extern "C" int be_cuda_create(int n_threads, be_backend **out, inf_error *err)
{
    (void)n_threads;
    *out = nullptr;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "cuda backend: no usable CUDA device (%s)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    cu_backend *cb = (cu_backend *)calloc(1, sizeof *cb);
    if (!cb) return inf_errorf(err, INF_ERR_NOMEM, "cuda backend: out of memory");
    cb->base.ops = &cu_ops;
    cb->base.name = "cuda";
    cb->device = 0;
    e = cudaSetDevice(cb->device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&cb->batch.uploaded, cudaEventDisableTiming);
    if (e != cudaSuccess) {
        cu_destroy(&cb->base);
        return fail(err, INF_ERR_UNSUPPORTED, e, "cannot start device 0", nullptr);
    }
    cb->graph_off = cu_env_int("INFERD_CUDA_GRAPHS", 1) == 0;
    int major = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, cb->device);
    if (cudaDeviceGetAttribute(&cb->n_sm, cudaDevAttrMultiProcessorCount, cb->device) != cudaSuccess ||
        cb->n_sm <= 0)
        cb->n_sm = 132; // an H100's, should the query fail
    cb->pdl = major >= 9 && cu_env_int("INFERD_CUDA_PDL", 1) != 0; // cu_launch
    cb->clusters = major >= 9 && cu_env_int("INFERD_CUDA_CLUSTERS", 1) != 0;
    // A workspace of our own, so that cuBLAS allocates nothing while a step is
    // being recorded.
    e = cudaMalloc(&cb->blas_ws, CU_BLAS_WS_BYTES);
    if (e != cudaSuccess) {
        cb->blas_ws = nullptr;
        cu_destroy(&cb->base);
        return fail(err, INF_ERR_NOMEM, e, "cuBLAS workspace", nullptr);
    }
    cublasStatus_t bs = cublasCreate(&cb->blas);
    if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetStream(cb->blas, cb->stream);
    if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetWorkspace(cb->blas, cb->blas_ws, CU_BLAS_WS_BYTES);
    if (bs == CUBLAS_STATUS_SUCCESS) bs = blas_warm_up(cb);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        cu_destroy(&cb->base);
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "cuda backend: cuBLAS did not start (status %d)",
                          (int)bs);
    }
    *out = &cb->base;
    return INF_OK;
}
