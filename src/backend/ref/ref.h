/* ref.h: the reference backend — plain scalar C, single thread, the oracle that
 * every other backend is tested against (DESIGN.md, "Correctness oracles").
 *
 * Every op works in F32 with double accumulators; weight rows of any format are
 * dequantized with quant_dequantize just before use. Nothing here is fast, and
 * nothing here should be clever.
 *
 * The structs are public so that another CPU backend may reuse them: a backend
 * whose struct starts with a ref_backend (which starts with a be_backend) can
 * call the ref_* ops below with its own pointer, for the entries of its table
 * it does not speed up, and shares the tensor and KV layouts described here.
 *
 * Storage layouts:
 *   weight tensor   the caller's GGUF bytes, borrowed (never copied): row r at
 *                   data + r * row_bytes, quant_row_size(type, ne[0]) bytes
 *   activation      owned F32, row-major, rows of ne[0] floats
 *   KV pool         per layer l, block b, slot s, KV head g, one "head row":
 *                   k + (((l * n_blocks + b) * B + s) * hkv + g) * k_row_bytes
 *                   (same for v with v_row_bytes). A head row holds hd values in
 *                   the pool's dtype; for Q8, hd int8 followed by hd / G f16
 *                   scales (G = be_kv_q8_group(hd)). */
#ifndef INFERD_BACKEND_REF_H
#define INFERD_BACKEND_REF_H

#include "backend/backend.h"

typedef struct ref_tensor {
    be_tensor_info info;   /* first: be_tensor_info_of reads it */
    const void *data;      /* weights: borrowed GGUF bytes; activations: == f */
    float *f;              /* activations: owned (rows, ne[0]) floats; NULL for weights */
    size_t row_bytes;      /* bytes of one row of ne[0] values */
} ref_tensor;

typedef struct ref_kv {
    be_kv_config cfg;      /* first: be_kv_config_of reads it */
    uint8_t *k;            /* (L, n_blocks, B, hkv) head rows of k_row_bytes */
    uint8_t *v;            /* (L, n_blocks, B, hkv) head rows of v_row_bytes */
    size_t k_row_bytes;
    size_t v_row_bytes;
} ref_kv;

/* The step's batch as be_batch_set copied it. Buffers grow to the largest batch
 * seen and are kept, so a steady state allocates nothing. */
typedef struct ref_batch {
    int32_t n, n_seq, n_out;
    int32_t *token;        /* (n) */
    int32_t *pos;          /* (n) */
    int32_t *seq;          /* (n) */
    int32_t *out_rows;     /* (n_out) */
    int32_t *kv_len;       /* (n_seq) */
    int32_t *block_off;    /* (n_seq) offset of each sequence's table in blocks */
    int32_t *blocks;       /* concatenated block tables */
    int32_t cap_rows, cap_seq, cap_blocks;
} ref_batch;

typedef struct ref_backend {
    be_backend base;       /* first */
    ref_batch batch;
    float *scratch;        /* dequantized rows, scores: grows at upload/alloc/batch_set */
    size_t scratch_cap;    /* floats */
    size_t attn_extra;     /* floats attention needs besides scores: max hd + hdv of the pools */
} ref_backend;

/* Creates the reference backend. Returns INF_OK or INF_ERR_NOMEM. Destroy with
 * be_destroy. One thread at a time. */
int be_ref_create(be_backend **out, inf_error *err);

/* For backends built on ref (see above): initialise / release the ref part of
 * a larger struct; ops is the table to install (may be ref's own). */
void ref_backend_init(ref_backend *rb, const be_ops *ops, const char *name);
void ref_backend_release(ref_backend *rb);
const be_ops *ref_backend_ops(void);

/* Makes sure scratch holds at least n floats (never called inside an op). */
int ref_scratch_reserve(ref_backend *rb, size_t n, inf_error *err);

/* The table entries, exported for reuse (contracts in backend.h). */
void ref_destroy(be_backend *be);
int ref_weight_upload(be_backend *be, const char *name, uint32_t type, int n_dims,
                      const int64_t *ne, const void *data, size_t nbytes, be_tensor **out,
                      inf_error *err);
int ref_tensor_alloc(be_backend *be, const char *name, int n_dims, const int64_t *ne,
                     be_tensor **out, inf_error *err);
void ref_tensor_free(be_backend *be, be_tensor *t);
int ref_kv_create(be_backend *be, const be_kv_config *cfg, be_kv **out, inf_error *err);
void ref_kv_destroy(be_backend *be, be_kv *kv);
int ref_batch_set(be_backend *be, const model_batch *b, inf_error *err);
void ref_write(be_backend *be, be_tensor *t, int64_t row0, int64_t n_rows, const float *src);
int ref_read(be_backend *be, const be_tensor *t, int64_t row0, int64_t n_rows, float *dst,
             inf_error *err);
int ref_sync(be_backend *be, inf_error *err);

void ref_embed(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n);
void ref_matmul(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                const be_tensor *bias, int64_t n);
void ref_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                  float eps, int64_t n);
void ref_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim, const be_rope *rope,
              int64_t n);
void ref_kv_write(be_backend *be, be_kv *kv, int32_t layer, const be_tensor *k,
                  const be_tensor *v, int64_t n);
void ref_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kv,
                   const be_attn *p, int64_t n);
void ref_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                int64_t n);
void ref_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
               int64_t n);
void ref_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
void ref_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
void ref_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n);
void ref_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n);
void ref_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n);
void ref_gather_out(be_backend *be, be_tensor *out, const be_tensor *x);
void ref_kv_copy_block(be_backend *be, be_kv *kv, int32_t dst, int32_t src);

/* Helpers shared by the ref files and by backends built on ref. */

/* Row r of a tensor of any type as floats: activations return a pointer into
 * the tensor; weights are dequantized into tmp (ne[0] floats). */
const float *ref_row(const ref_tensor *t, int64_t r, float *tmp);

/* KV head-row codecs: store hd floats in the pool's dtype, load them back. */
void ref_kv_store_row(be_kv_dtype dtype, int32_t hd, const float *src, uint8_t *dst);
void ref_kv_load_row(be_kv_dtype dtype, int32_t hd, const uint8_t *src, float *dst);

/* The angle of RoPE pair i at position p (see be_rope), and the factor applied
 * to its sin and cos. */
void ref_rope_angle(const be_rope *rope, const float *freq_factors, int32_t pos, int32_t i,
                    double *theta, double *mscale);

#endif
