/* backend.h: the op interface every backend implements (ref, cpu, cuda).
 *
 * A backend is a table of functions (be_ops) over tensors it owns. A model graph
 * (src/model/) is written once against this table and never per backend.
 *
 * Life cycle, sized for the worst case once (STYLE.md, "Memory"):
 *   1. create the backend (a constructor per implementation, e.g. be_ref_create);
 *   2. upload every weight once (be_weight_upload). CPU backends may keep a
 *      pointer into the caller's mmap instead of copying: the weight bytes must
 *      outlive the backend;
 *   3. allocate activations and scratch once (be_tensor_alloc), sized for the
 *      largest batch (max rows);
 *   4. create the KV pool once (be_kv_create): n_blocks blocks of B tokens for
 *      every layer;
 *   5. per step: be_batch_set uploads the batch's index arrays, then ops are
 *      enqueued in order; be_read copies rows back to the host and is the only
 *      call that waits for the enqueued work. Nothing is allocated in a step.
 *
 * Execution model. Ops are enqueued in program order and may run
 * asynchronously (CUDA: one stream; a step can be captured as a graph because
 * every op reads the batch from fixed device buffers filled by be_batch_set).
 * The ref and cpu backends run each op at the call. Results are only visible on
 * the host through be_read.
 *
 * Tensors. An opaque be_tensor has a type (a ggml type id from quant/quant.h)
 * and up to four dims, ne[0] innermost (contiguous), as GGUF stores them. In
 * this header a shape is written row-major, outermost first: "(n, d)" is a
 * tensor with ne[0] = d, ne[1] = n, i.e. n rows of d values.
 * Weights may have any supported type; activations and the KV-free scratch are
 * logically F32 (a backend may hold them in lower precision inside if its tests
 * against ref stay within their tolerance).
 * An activation tensor is allocated with a row capacity (its outer dim); each op
 * takes n, the number of rows it works on this step (n <= capacity). Row r of a
 * tensor is the r-th group of ne[0] values.
 *
 * Errors. Ops return void: their arguments are fixed by the graph, so a shape
 * mismatch is a bug (INF_ASSERT). Input that comes from outside (token ids,
 * positions, block ids) is validated once per step by model_batch_validate
 * before be_batch_set. Allocation and upload can fail (int status + inf_error);
 * an asynchronous backend reports a failure of enqueued work at the next
 * be_read/be_sync.
 *
 * Threads. A backend and everything it owns is used by one thread at a time
 * (the engine thread); backends may use worker threads inside an op.
 *
 * Dimension letters: n rows of the step, d model width, h query heads,
 * hkv KV heads, hd head dim (keys/queries), hdv head dim of values, m output
 * features of a matmul, k input features, v vocab, B tokens per KV block.
 *
 * Room to grow: MoE routing/expert dispatch and MLA are future entries at the
 * end of be_ops (existing entries keep their meaning); a backend that lacks
 * one leaves it NULL and the model loader refuses such architectures. */
#ifndef INFERD_BACKEND_H
#define INFERD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/batch.h"

#define BE_MAX_DIMS 4

typedef struct be_backend be_backend;
typedef struct be_tensor be_tensor;   /* defined by each backend */
typedef struct be_kv be_kv;           /* a paged KV pool, defined by each backend */

/* ---- KV pool --------------------------------------------------------------- */

/* Storage type of keys and values in the pool. */
typedef enum be_kv_dtype {
    BE_KV_F16 = 0,
    BE_KV_BF16 = 1,
    /* int8 with one scale per group of G values along the head dimension of one
     * head of one token: G = 64 when hd % 64 == 0, otherwise G = hd (one group
     * per head row). Scale s = max|x| / 127 of the group, stored as f16; each
     * value is q = round(x / s) clamped to [-127, 127] with s the stored
     * (f16-rounded) scale, and reads back as q * s (q = 0 when s = 0). */
    BE_KV_Q8 = 2,
    /* full precision: for golden tests against float32 oracles, not for serving */
    BE_KV_F32 = 3,
} be_kv_dtype;

typedef struct be_kv_config {
    int32_t n_layer;     /* layers that own KV */
    int32_t n_kv_head;   /* hkv */
    int32_t head_dim_k;  /* hd of keys */
    int32_t head_dim_v;  /* hdv of values */
    int32_t block_size;  /* B tokens per block (default 16) */
    int32_t n_blocks;    /* physical blocks in the pool */
    be_kv_dtype dtype;
} be_kv_config;

/* ---- RoPE ------------------------------------------------------------------ */

typedef enum be_rope_mode {
    /* rotate pairs (x[2i], x[2i+1]) of each head: Llama as GGUF stores it */
    BE_ROPE_NORM = 0,
    /* rotate pairs (x[i], x[i + n_dims/2]): GPT-NeoX, Qwen2/3, Gemma */
    BE_ROPE_NEOX = 1,
} be_rope_mode;

/* Angle of pair i (0 <= i < n_dims/2) at position p, before YaRN:
 *   theta_i = p * freq_scale * freq_base^(-2i/n_dims) / ff[i]
 * with ff = freq_factors (llama3 scaling, GGUF tensor rope_freqs.weight) or 1.
 * YaRN (ext_factor > 0) blends the interpolated angle above with the
 * extrapolated one (freq_scale = 1) per dimension by a linear ramp between the
 * dims whose wavelength fits beta_fast and beta_slow rotations in n_ctx_orig,
 * and multiplies sin/cos by mscale = attn_factor * (1 + 0.1 ln(1/freq_scale)),
 * as ggml's rope does. Without YaRN the sin/cos are multiplied by attn_factor. */
typedef struct be_rope {
    be_rope_mode mode;
    int32_t n_dims;          /* rotated dims of each head, even, <= hd; rest pass through */
    float freq_base;         /* e.g. 10000, 500000, 1e6 */
    float freq_scale;        /* 1 / linear scaling factor; 1 = none */
    float ext_factor;        /* YaRN extrapolation mix; 0 = off */
    float attn_factor;       /* usually 1 */
    float beta_fast;         /* YaRN; usually 32 */
    float beta_slow;         /* YaRN; usually 1 */
    int32_t n_ctx_orig;      /* YaRN: training context length */
    const be_tensor *freq_factors; /* (n_dims / 2) F32, or NULL */
} be_rope;

/* ---- Attention ------------------------------------------------------------- */

typedef struct be_attn {
    int32_t layer;       /* which layer's KV in the pool */
    int32_t n_head;      /* h; a multiple of n_kv_head (GQA: head j reads KV head j / (h / hkv)) */
    int32_t n_kv_head;   /* hkv, as in the pool */
    int32_t head_dim_k;  /* hd */
    int32_t head_dim_v;  /* hdv */
    float scale;         /* multiplies q.k, e.g. 1/sqrt(hd) */
    float softcap;       /* > 0: scores become softcap * tanh(scores / softcap); 0 = off */
    int32_t window;      /* > 0: a row at pos p sees keys at pos q with p - q < window; 0 = all */
} be_attn;

/* ---- The table ------------------------------------------------------------- */

typedef struct be_ops {
    /* Frees the backend, its tensors and pools. */
    void (*destroy)(be_backend *be);

    /* -- memory -- */
    int (*weight_upload)(be_backend *be, const char *name, uint32_t type, int n_dims,
                         const int64_t *ne, const void *data, size_t nbytes,
                         be_tensor **out, inf_error *err);
    int (*tensor_alloc)(be_backend *be, const char *name, int n_dims, const int64_t *ne,
                        be_tensor **out, inf_error *err);
    void (*tensor_free)(be_backend *be, be_tensor *t);
    int (*kv_create)(be_backend *be, const be_kv_config *cfg, be_kv **out, inf_error *err);
    void (*kv_destroy)(be_backend *be, be_kv *kv);

    /* -- per step -- */
    int (*batch_set)(be_backend *be, const model_batch *b, inf_error *err);
    void (*write)(be_backend *be, be_tensor *t, int64_t row0, int64_t n_rows, const float *src);
    int (*read)(be_backend *be, const be_tensor *t, int64_t row0, int64_t n_rows, float *dst,
                inf_error *err);
    int (*sync)(be_backend *be, inf_error *err);

    /* -- ops (see the be_* wrappers below for each contract) -- */
    void (*embed)(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n);
    void (*matmul)(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                   const be_tensor *bias, int64_t n);
    void (*rms_norm)(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                     float eps, int64_t n);
    void (*rope)(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim,
                 const be_rope *rope, int64_t n);
    void (*kv_write)(be_backend *be, be_kv *kv, int32_t layer, const be_tensor *k,
                     const be_tensor *v, int64_t n);
    void (*attention)(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kv,
                      const be_attn *p, int64_t n);
    void (*swiglu)(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                   int64_t n);
    void (*geglu)(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                  int64_t n);
    void (*add)(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
    void (*mul)(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n);
    void (*scale)(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n);
    void (*softcap)(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n);
    void (*softmax)(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n);
    void (*gather_out)(be_backend *be, be_tensor *out, const be_tensor *x);
    void (*kv_copy_block)(be_backend *be, be_kv *kv, int32_t dst, int32_t src);

    /* -- step recording (optional: NULL where ops run at the call) -- */
    int (*graph_begin)(be_backend *be, uint64_t key);
    int (*graph_end)(be_backend *be, inf_error *err);

    /* -- device memory (optional: NULL where tensors live in host memory) -- */
    int (*mem_info)(be_backend *be, uint64_t *free_bytes, uint64_t *total_bytes);

    /* -- greedy sampling where the logits are (optional) -- */
    int (*argmax)(be_backend *be, const be_tensor *t, int64_t n_rows, int32_t *ids,
                  inf_error *err);
} be_ops;

/* Every backend struct starts with this, so a be_backend * is a pointer to it. */
struct be_backend {
    const be_ops *ops;
    const char *name;     /* "ref", "cpu", "cuda" */
};

/* ---- Memory ---------------------------------------------------------------- */

/* Makes a weight tensor of the given ggml type and shape (ne[0] innermost, a
 * multiple of the type's block size) from nbytes of host data laid out as GGUF
 * stores it. The backend may copy, repack, or keep the pointer: data must stay
 * valid and unchanged until the backend is destroyed. name is for messages.
 * Returns INF_OK; INF_ERR_UNSUPPORTED for a type the backend cannot use;
 * INF_ERR_INVALID when nbytes does not match the shape; INF_ERR_NOMEM. */
static inline int be_weight_upload(be_backend *be, const char *name, uint32_t type, int n_dims,
                                   const int64_t *ne, const void *data, size_t nbytes,
                                   be_tensor **out, inf_error *err)
{
    return be->ops->weight_upload(be, name, type, n_dims, ne, data, nbytes, out, err);
}

/* Allocates an F32 activation tensor (contents undefined). The outermost dim is
 * the row capacity. Free with be_tensor_free or with the backend. */
static inline int be_tensor_alloc(be_backend *be, const char *name, int n_dims,
                                  const int64_t *ne, be_tensor **out, inf_error *err)
{
    return be->ops->tensor_alloc(be, name, n_dims, ne, out, err);
}

/* Frees a tensor (weight or activation). NULL allowed. */
static inline void be_tensor_free(be_backend *be, be_tensor *t)
{
    if (t) be->ops->tensor_free(be, t);
}

/* The configuration a pool was created with: every be_kv starts with its
 * be_kv_config, so any backend's pool can be described. */
static inline const be_kv_config *be_kv_config_of(const be_kv *kv)
{
    return (const be_kv_config *)kv;
}

/* Creates a KV pool (contents undefined). Returns INF_ERR_NOMEM when it does not
 * fit, INF_ERR_UNSUPPORTED for a dtype the backend lacks. */
static inline int be_kv_create(be_backend *be, const be_kv_config *cfg, be_kv **out,
                               inf_error *err)
{
    return be->ops->kv_create(be, cfg, out, err);
}

/* NULL allowed. */
static inline void be_kv_destroy(be_backend *be, be_kv *kv)
{
    if (kv) be->ops->kv_destroy(be, kv);
}

/* Bytes of pool storage per token for all layers (keys + values + q8 scales). */
size_t be_kv_bytes_per_token(const be_kv_config *cfg);

/* Group size of q8 KV for a head dim (see BE_KV_Q8). */
int32_t be_kv_q8_group(int32_t head_dim);

/* NULL allowed. */
void be_destroy(be_backend *be);

/* Creates a backend by name ("ref", "cpu", ...; NULL = the default, the fastest
 * one built in) with n_threads worker threads (<= 0: one per core; ignored by
 * single-threaded backends). INF_ERR_NOT_FOUND lists the names this build has.
 * Each backend's own constructor (be_ref_create, ...) is listed in
 * backend_create.c. */
int be_create(const char *name, int n_threads, be_backend **out, inf_error *err);
const char *be_default_name(void);

/* ---- Per step -------------------------------------------------------------- */

/* Uploads the batch's index arrays (tokens, positions, sequence of each row,
 * block tables, kv lengths, output rows); the ops below that mention "the
 * batch" read this copy, so the caller's arrays may change right after. The
 * batch must already be valid (model_batch_validate). Fails only on resources. */
static inline int be_batch_set(be_backend *be, const model_batch *b, inf_error *err)
{
    return be->ops->batch_set(be, b, err);
}

/* Host -> tensor: rows [row0, row0 + n_rows) of an F32 tensor from src
 * ((n_rows, ne[0]) floats). Enqueued; src may be reused after the call. */
static inline void be_write(be_backend *be, be_tensor *t, int64_t row0, int64_t n_rows,
                            const float *src)
{
    be->ops->write(be, t, row0, n_rows, src);
}

/* Tensor -> host: waits for all enqueued work, then copies rows
 * [row0, row0 + n_rows) as F32 into dst ((n_rows, ne[0]) floats). Returns the
 * first error of any enqueued op, else INF_OK. */
static inline int be_read(be_backend *be, const be_tensor *t, int64_t row0, int64_t n_rows,
                          float *dst, inf_error *err)
{
    return be->ops->read(be, t, row0, n_rows, dst, err);
}

/* Waits for all enqueued work (timing, teardown). */
static inline int be_sync(be_backend *be, inf_error *err)
{
    return be->ops->sync(be, err);
}

/* ---- Ops ------------------------------------------------------------------- */

/* out[i] = row token[i] of w, dequantized, for the batch's rows i < n.
 * out (n, d) F32; w (v, d) any weight type. */
static inline void be_embed(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n)
{
    be->ops->embed(be, out, w, n);
}

/* out[i][j] = sum_c x[i][c] * w[j][c] (+ bias[j]) for i < n, j < m.
 * out (n, m) F32; x (n, k) F32; w (m, k) any weight type (ggml layout: each
 * output feature is one contiguous row of k); bias (m) F32 or NULL.
 * Backends may round x (e.g. to 8 bits for integer dot products); tests hold
 * them to a tolerance per weight type against ref. out must not alias x. */
static inline void be_matmul(be_backend *be, be_tensor *out, const be_tensor *x,
                             const be_tensor *w, const be_tensor *bias, int64_t n)
{
    be->ops->matmul(be, out, x, w, bias, n);
}

/* RMSNorm over groups of e = w's length: out = x / sqrt(mean(x^2) + eps) * w,
 * for every group of e consecutive values of the first n rows (x's row width is
 * a multiple of e: e = d for a layer norm, e = hd for per-head q/k norms).
 * out, x (n, d) F32 (out may alias x); w (e) F32. Gemma's (1 + w) convention is
 * already folded into the weight by GGUF converters, so there is one form. */
static inline void be_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x,
                               const be_tensor *w, float eps, int64_t n)
{
    be->ops->rms_norm(be, out, x, w, eps, n);
}

/* In-place RoPE of the first n rows of x (n, n_head * head_dim) F32 at the
 * batch's positions pos[i]; see be_rope for the angles. */
static inline void be_rope_apply(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim,
                                 const be_rope *rope, int64_t n)
{
    be->ops->rope(be, x, n_head, head_dim, rope, n);
}

/* Stores the keys and values of the batch's rows i < n for `layer` in the pool,
 * at block seqs[seq[i]].blocks[pos[i] / B], slot pos[i] % B, converting to the
 * pool's dtype. k (n, hkv * hd) F32; v (n, hkv * hdv) F32. */
static inline void be_kv_write(be_backend *be, be_kv *kv, int32_t layer, const be_tensor *k,
                               const be_tensor *v, int64_t n)
{
    be->ops->kv_write(be, kv, layer, k, v, n);
}

/* Attention of the batch's rows i < n over the pool, through the block table of
 * each row's sequence: row i (query q[i], position pos[i]) sees the keys at
 * positions t <= pos[i] of its sequence (and pos[i] - t < window when a window
 * is set); scores = scale * q.k (then softcap), softmax over t, out = sum p v.
 * Run after be_kv_write of the same layer. q (n, h * hd) F32; out (n, h * hdv) F32. */
static inline void be_attention(be_backend *be, be_tensor *out, const be_tensor *q,
                                const be_kv *kv, const be_attn *p, int64_t n)
{
    be->ops->attention(be, out, q, kv, p, n);
}

/* Gated activations, elementwise over the first n rows:
 * swiglu: out = silu(gate) * up, silu(x) = x / (1 + e^-x);
 * geglu:  out = gelu_tanh(gate) * up,
 *         gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * out, gate, up (n, f) F32; out may alias gate or up. */
static inline void be_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate,
                             const be_tensor *up, int64_t n)
{
    be->ops->swiglu(be, out, gate, up, n);
}

static inline void be_geglu(be_backend *be, be_tensor *out, const be_tensor *gate,
                            const be_tensor *up, int64_t n)
{
    be->ops->geglu(be, out, gate, up, n);
}

/* Elementwise over the first n rows of same-shape F32 tensors (out may alias):
 * add: out = a + b; mul: out = a * b; scale: out = s x;
 * softcap: out = cap * tanh(x / cap); softmax: per row. */
static inline void be_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b,
                          int64_t n)
{
    be->ops->add(be, out, a, b, n);
}

static inline void be_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b,
                          int64_t n)
{
    be->ops->mul(be, out, a, b, n);
}

static inline void be_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s,
                            int64_t n)
{
    be->ops->scale(be, out, x, s, n);
}

static inline void be_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap,
                              int64_t n)
{
    be->ops->softcap(be, out, x, cap, n);
}

static inline void be_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n)
{
    be->ops->softmax(be, out, x, n);
}

/* out[j] = x[out_rows[j]] for the batch's output rows j < n_out: the rows whose
 * logits are wanted, so that the final norm and the vocab matmul run on n_out
 * rows only. out (n_out, d) F32, must not alias x; x (n, d) F32. */
static inline void be_gather_out(be_backend *be, be_tensor *out, const be_tensor *x)
{
    be->ops->gather_out(be, out, x);
}

/* Copies physical block src to dst for every layer (copy-on-write of a shared
 * partial block). */
static inline void be_kv_copy_block(be_backend *be, be_kv *kv, int32_t dst, int32_t src)
{
    be->ops->kv_copy_block(be, kv, dst, src);
}

/* ---- Step recording ---------------------------------------------------------
 *
 * A backend whose ops are enqueued (CUDA) can record the ops of a step once and
 * replay the recording on later steps of the same shape, which removes the cost
 * of issuing each op (hundreds per decode step). Between be_batch_set and the
 * step's first op the caller asks be_graph_begin with a key that identifies the
 * op sequence it is about to issue: equal keys promise the same ops on the same
 * tensors with the same non-batch arguments (e.g. a hash of the model, the pool,
 * the row count and the output-row count). The backend adds what depends on the
 * batch itself (row and sequence counts, a bucket of context lengths). It
 * answers:
 *   BE_GRAPH_OFF        not recording: issue the ops as usual;
 *   BE_GRAPH_RECORDING  issue the ops, then call be_graph_end, which runs them;
 *   BE_GRAPH_REPLAYED   the step's ops are already enqueued: issue none.
 * be_graph_end returns INF_ERR_UNSUPPORTED when the recording failed (nothing
 * ran, and the backend records no more): the caller then issues the ops again.
 * The batch's contents (tokens, positions, block tables) may differ between
 * replays: ops read them from the buffers be_batch_set fills. */
enum { BE_GRAPH_OFF = 0, BE_GRAPH_RECORDING = 1, BE_GRAPH_REPLAYED = 2 };

static inline int be_graph_begin(be_backend *be, uint64_t key)
{
    return be->ops->graph_begin ? be->ops->graph_begin(be, key) : BE_GRAPH_OFF;
}

static inline int be_graph_end(be_backend *be, inf_error *err)
{
    return be->ops->graph_end ? be->ops->graph_end(be, err) : 0;
}

/* ---- Device memory ---------------------------------------------------------- */

/* Free and total bytes of the memory the backend's tensors live in, when that is
 * a device's own (CUDA); INF_ERR_UNSUPPORTED for backends that use host memory
 * (size those from the host's MemAvailable instead). */
static inline int be_mem_info(be_backend *be, uint64_t *free_bytes, uint64_t *total_bytes)
{
    if (!be->ops->mem_info) return INF_ERR_UNSUPPORTED;
    return be->ops->mem_info(be, free_bytes, total_bytes);
}

/* ---- Greedy sampling -------------------------------------------------------- */

/* Whether the backend finds row maxima itself (be_argmax): then a greedy step
 * copies back one id a row instead of (rows, vocab) floats, and the host does
 * not scan them (64 rows of a 128k vocabulary are 33 MB a step). */
static inline bool be_has_argmax(const be_backend *be)
{
    return be->ops->argmax != NULL;
}

/* Waits for the enqueued work, then ids[i] = the index of the largest value of
 * row i of F32 tensor t, i < n_rows (the lowest index among equal maxima; a row
 * of NaN or -inf only gives 0). Returns the first error of the enqueued work,
 * or INF_ERR_UNSUPPORTED where !be_has_argmax. */
static inline int be_argmax(be_backend *be, const be_tensor *t, int64_t n_rows, int32_t *ids,
                            inf_error *err)
{
    if (!be->ops->argmax)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "backend %s: no argmax", be->name);
    return be->ops->argmax(be, t, n_rows, ids, err);
}

/* ---- Introspection (for implementers and tests) ----------------------------- */

/* Shape and type of a tensor as the backend sees it. Every be_tensor starts
 * with this header, so any backend's tensor can be described. */
typedef struct be_tensor_info {
    uint32_t type;               /* ggml type id; QT_F32 for activations */
    int n_dims;
    int64_t ne[BE_MAX_DIMS];     /* ne[0] innermost; unused = 1 */
    char name[64];
} be_tensor_info;

static inline const be_tensor_info *be_tensor_info_of(const be_tensor *t)
{
    return (const be_tensor_info *)t;
}

/* The shape contract of be_attention, asserted the same way by every backend:
 * the pool c matches p, q (n, h * hd) and out (n, h * hdv) are distinct and
 * hold n rows, and n is at most batch_n, the rows of the step's batch. */
static inline void be_attention_assert(const be_kv_config *c, const be_tensor *out,
                                       const be_tensor *q, const be_attn *p, int64_t n,
                                       int64_t batch_n)
{
    const be_tensor_info *qi = be_tensor_info_of(q), *oi = be_tensor_info_of(out);
    INF_ASSERT(p->layer >= 0 && p->layer < c->n_layer && p->n_kv_head == c->n_kv_head);
    INF_ASSERT(p->head_dim_k == c->head_dim_k && p->head_dim_v == c->head_dim_v &&
               p->n_head % p->n_kv_head == 0);
    INF_ASSERT(qi->ne[0] == (int64_t)p->n_head * p->head_dim_k);
    INF_ASSERT(oi->ne[0] == (int64_t)p->n_head * p->head_dim_v && out != q);
    INF_ASSERT(n <= batch_n && n <= qi->ne[1] * qi->ne[2] * qi->ne[3] &&
               n <= oi->ne[1] * oi->ne[2] * oi->ne[3]);
}

/* Elements per row (ne[0]) and row capacity (product of the outer dims). */
int64_t be_tensor_row_len(const be_tensor *t);
int64_t be_tensor_rows(const be_tensor *t);

/* Fills a tensor header; n_dims 1..4. Used by backends when they make tensors. */
void be_tensor_info_init(be_tensor_info *info, const char *name, uint32_t type, int n_dims,
                         const int64_t *ne);

#endif
