/* model.h: a loaded model — hyper-parameters, weights bound on a backend, the
 * step's activations — and its forward pass over a batch (model/batch.h).
 *
 * A model never owns KV memory (DESIGN.md): the caller creates the pool on the
 * same backend (model_kv_config + be_kv_create) and passes it to each forward.
 * The graphs (graph_*.c) are written once against backend.h and run on every
 * backend.
 *
 * Weights: every tensor the architecture needs is looked up by its GGUF name,
 * its shape checked against the hyper-parameters and its type against what
 * inferd supports; errors name the tensor. The GGUF file must stay open while
 * the model lives (CPU backends keep pointers into its mapping).
 *
 * Threads: one thread at a time per model (the engine thread). */
#ifndef INFERD_MODEL_H
#define INFERD_MODEL_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/batch.h"
#include "model/hparams.h"

/* Weights of one block. Shapes row-major (outer first), as backend.h writes
 * them; NULL where the architecture has no such tensor. */
typedef struct model_layer {
    be_tensor *attn_norm;      /* (d) */
    be_tensor *wq;             /* (h * hd, d) */
    be_tensor *wk;             /* (hkv * hd, d) */
    be_tensor *wv;             /* (hkv * hdv, d) */
    be_tensor *wo;             /* (d, h * hdv) */
    be_tensor *bq, *bk, *bv;   /* (h * hd), (hkv * hd), (hkv * hdv): qwen2, optional llama */
    be_tensor *bo;             /* (d): optional */
    be_tensor *q_norm;         /* (hd): qwen3, gemma3 */
    be_tensor *k_norm;         /* (hd): qwen3, gemma3 */
    be_tensor *post_attn_norm; /* (d): gemma3 */
    be_tensor *ffn_norm;       /* (d) */
    be_tensor *ffn_gate;       /* (ff, d) */
    be_tensor *ffn_up;         /* (ff, d) */
    be_tensor *ffn_down;       /* (d, ff) */
    be_tensor *post_ffn_norm;  /* (d): gemma3 */
} model_layer;

/* The step's activations, allocated once for max_rows rows (max_out for the
 * output side). Shapes row-major. */
typedef struct model_acts {
    be_tensor *x;        /* (max_rows, d) residual stream */
    be_tensor *xn;       /* (max_rows, d) normalised input of a sub-block */
    be_tensor *q;        /* (max_rows, h * hd) */
    be_tensor *k;        /* (max_rows, hkv * hd) */
    be_tensor *v;        /* (max_rows, hkv * hdv) */
    be_tensor *att;      /* (max_rows, h * hdv) attention output */
    be_tensor *o;        /* (max_rows, d) projection back to d */
    be_tensor *gate;     /* (max_rows, ff) */
    be_tensor *up;       /* (max_rows, ff) */
    be_tensor *xo;       /* (max_out, d) rows whose logits are wanted */
    be_tensor *logits;   /* (max_out, v) */
} model_acts;

typedef struct model_options {
    int32_t max_rows;    /* most rows in one batch; default 512 */
    int32_t max_out;     /* most logits rows in one batch; default min(max_rows, 64) */
} model_options;

typedef struct model {
    model_hparams hp;
    const arch_traits *traits;
    be_backend *be;            /* borrowed */
    be_tensor *tok_embd;       /* (v, d) */
    be_tensor *output_norm;    /* (d) */
    be_tensor *output;         /* (v, d); == tok_embd when tied */
    be_tensor *rope_freqs;     /* (n_rot / 2) or NULL */
    model_layer *layers;       /* (L) */
    model_acts acts;
    int32_t max_rows, max_out;
} model;

/* Loads a model from an open GGUF file onto a backend: hyper-parameters,
 * weights (uploaded once) and activations for opt's sizes (NULL = defaults).
 * f and be must outlive the model. On failure *out is NULL and err names the
 * tensor or key (unsupported architecture, missing tensor, shape or type). */
int model_load(const gguf_file *f, be_backend *be, const model_options *opt, model **out,
               inf_error *err);

/* Frees the model's tensors (not the backend or the file). NULL allowed. */
void model_free(model *m);

/* The KV pool configuration this model needs: n_blocks blocks of block_size
 * tokens in dtype, for every layer. */
void model_kv_config(const model *m, int32_t n_blocks, int32_t block_size, be_kv_dtype dtype,
                     be_kv_config *out);

/* One step: validates b (model_batch_validate against the model and kv's
 * configuration), enqueues the graph, and when b->n_out > 0 copies the logits
 * of the output rows into logits ((n_out, v) floats, in out_rows order), which
 * waits for the backend. kv must be a pool of m's backend made from
 * model_kv_config. Returns INF_OK, or an error naming the bad row or sequence
 * (nothing was computed then), or the backend's error. */
int model_forward(model *m, be_kv *kv, const model_batch *b, float *logits, inf_error *err);

/* The same step, but the backend picks each output row's most likely token
 * (be_argmax) and only those come back: ids ((n_out) token ids, out_rows
 * order). Requires be_has_argmax(m->be); INF_ERR_UNSUPPORTED otherwise. */
int model_forward_greedy(model *m, be_kv *kv, const model_batch *b, int32_t *ids,
                         inf_error *err);

/* Graphs, one per architecture family (graph_*.c); called by model_forward
 * after validation and be_batch_set. */
void model_graph_llama(model *m, be_kv *kv, const model_batch *b);
void model_graph_gemma3(model *m, be_kv *kv, const model_batch *b);

/* RoPE parameters of layer il from the hyper-parameters. */
void model_layer_rope(const model *m, uint32_t il, be_rope *out);

#endif
