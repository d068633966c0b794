/* model_load.c: binding a GGUF file's tensors to a backend, with the checks
 * that make a bad file fail with the tensor's name rather than a crash; the
 * activation buffers; the forward entry point. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "quant/quant.h"

#define DEFAULT_MAX_ROWS 512
#define DEFAULT_MAX_OUT 64

/* Finds, checks and uploads one tensor kind; *out stays NULL when an optional
 * tensor is absent. */
static int bind(model *m, const gguf_file *f, arch_tensor kind, int layer, be_tensor **out,
                inf_error *err)
{
    char name[96];
    *out = NULL;
    arch_presence pr = arch_tensor_presence(m->hp.arch, kind);
    if (pr == ARCH_ABSENT) return INF_OK;
    arch_tensor_name(kind, layer, name, sizeof name);
    const gguf_tensor *t = gguf_tensor_find(f, name);
    if (!t) {
        if (pr == ARCH_OPTIONAL) return INF_OK;
        return inf_errorf(err, INF_ERR_NOT_FOUND, "tensor %s is missing (architecture %s)", name,
                          m->hp.arch_name);
    }
    int64_t ne[GGUF_MAX_DIMS] = {1, 1, 1, 1};
    uint32_t nd = 0;
    int rc = hparams_tensor_shape(&m->hp, kind, ne, &nd);
    if (rc) return inf_errorf(err, INF_ERR_INTERNAL, "tensor %s: no expected shape", name);
    for (uint32_t i = 0; i < GGUF_MAX_DIMS; i++) {
        if (t->ne[i] != ne[i])
            return inf_errorf(err, INF_ERR_FORMAT,
                              "tensor %s has shape [%lld, %lld, %lld, %lld]; the hyper-parameters "
                              "say [%lld, %lld, %lld, %lld]",
                              name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                              (long long)t->ne[3], (long long)ne[0], (long long)ne[1],
                              (long long)ne[2], (long long)ne[3]);
    }
    const quant_traits *tr = quant_traits_of(t->type);
    if (!tr || !tr->supported)
        return inf_errorf(err, INF_ERR_UNSUPPORTED,
                          "tensor %s has type %s, which inferd does not support", name,
                          tr ? tr->name : quant_type_name(t->type));
    /* Norm weights, biases and RoPE factors are read as plain floats by every
     * backend; converters always keep them F32. */
    if (arch_tensor_is_vector(kind) && t->type != QT_F32)
        return inf_errorf(err, INF_ERR_UNSUPPORTED,
                          "tensor %s has type %s; inferd expects F32 for 1-D tensors", name,
                          tr->name);
    rc = be_weight_upload(m->be, name, t->type, (int)t->n_dims, t->ne, t->data, t->nbytes, out,
                          err);
    return rc;
}

static int bind_layer(model *m, const gguf_file *f, int il, inf_error *err)
{
    model_layer *L = &m->layers[il];
    struct {
        arch_tensor kind;
        be_tensor **slot;
    } map[] = {
        {ARCH_T_ATTN_NORM, &L->attn_norm},   {ARCH_T_ATTN_Q, &L->wq},
        {ARCH_T_ATTN_K, &L->wk},             {ARCH_T_ATTN_V, &L->wv},
        {ARCH_T_ATTN_OUT, &L->wo},           {ARCH_T_ATTN_Q_BIAS, &L->bq},
        {ARCH_T_ATTN_K_BIAS, &L->bk},        {ARCH_T_ATTN_V_BIAS, &L->bv},
        {ARCH_T_ATTN_OUT_BIAS, &L->bo},      {ARCH_T_ATTN_Q_NORM, &L->q_norm},
        {ARCH_T_ATTN_K_NORM, &L->k_norm},    {ARCH_T_ATTN_POST_NORM, &L->post_attn_norm},
        {ARCH_T_FFN_NORM, &L->ffn_norm},     {ARCH_T_FFN_GATE, &L->ffn_gate},
        {ARCH_T_FFN_UP, &L->ffn_up},         {ARCH_T_FFN_DOWN, &L->ffn_down},
        {ARCH_T_FFN_POST_NORM, &L->post_ffn_norm},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int rc = bind(m, f, map[i].kind, il, map[i].slot, err);
        if (rc) return rc;
    }
    return INF_OK;
}

static int alloc_act(model *m, const char *name, int64_t rows, int64_t width, be_tensor **out,
                     inf_error *err)
{
    int64_t ne[2] = {width, rows};
    return be_tensor_alloc(m->be, name, 2, ne, out, err);
}

static int alloc_acts(model *m, inf_error *err)
{
    const model_hparams *hp = &m->hp;
    model_acts *a = &m->acts;
    int64_t n = m->max_rows, d = hp->n_embd;
    int64_t qw = (int64_t)hp->n_head * hp->head_dim, kw = (int64_t)hp->n_head_kv * hp->head_dim;
    int64_t vw = (int64_t)hp->n_head_kv * hp->head_dim_v, aw = (int64_t)hp->n_head * hp->head_dim_v;
    int rc;
    if ((rc = alloc_act(m, "x", n, d, &a->x, err)) || (rc = alloc_act(m, "xn", n, d, &a->xn, err)) ||
        (rc = alloc_act(m, "q", n, qw, &a->q, err)) || (rc = alloc_act(m, "k", n, kw, &a->k, err)) ||
        (rc = alloc_act(m, "v", n, vw, &a->v, err)) ||
        (rc = alloc_act(m, "att", n, aw, &a->att, err)) ||
        (rc = alloc_act(m, "o", n, d, &a->o, err)) ||
        (rc = alloc_act(m, "gate", n, hp->n_ff, &a->gate, err)) ||
        (rc = alloc_act(m, "up", n, hp->n_ff, &a->up, err)) ||
        (rc = alloc_act(m, "xo", m->max_out, d, &a->xo, err)) ||
        (rc = alloc_act(m, "logits", m->max_out, hp->n_vocab, &a->logits, err)))
        return rc;
    return INF_OK;
}

int model_load(const gguf_file *f, be_backend *be, const model_options *opt, model **out,
               inf_error *err)
{
    *out = NULL;
    model *m = calloc(1, sizeof *m);
    if (!m) return inf_errorf(err, INF_ERR_NOMEM, "model: out of memory");
    m->be = be;
    /* Name the architecture before its keys: "mamba is not supported" helps
     * more than "mamba.context_length is missing". */
    gguf_str an;
    int rc = gguf_get_str(f, "general.architecture", &an, err);
    if (rc == INF_OK && !arch_traits_of(arch_from_name(an.ptr, an.len))->supported) {
        rc = inf_errorf(err, INF_ERR_UNSUPPORTED, "architecture '%.*s' is not supported",
                        (int)(an.len > 64 ? 64 : an.len), an.ptr);
        goto out;
    }
    rc = hparams_load(f, &m->hp, err);
    if (rc) goto out;
    m->traits = arch_traits_of(m->hp.arch);
    if (m->hp.arch == ARCH_UNKNOWN || !m->traits->supported) {
        rc = inf_errorf(err, INF_ERR_UNSUPPORTED, "architecture '%s' is not supported",
                        m->hp.arch_name);
        goto out;
    }
    m->max_rows = opt && opt->max_rows > 0 ? opt->max_rows : DEFAULT_MAX_ROWS;
    m->max_out = opt && opt->max_out > 0 ? opt->max_out
                                         : (m->max_rows < DEFAULT_MAX_OUT ? m->max_rows
                                                                          : DEFAULT_MAX_OUT);
    if (m->max_out > m->max_rows) m->max_out = m->max_rows;

    if ((rc = bind(m, f, ARCH_T_TOKEN_EMBD, 0, &m->tok_embd, err)) ||
        (rc = bind(m, f, ARCH_T_OUTPUT_NORM, 0, &m->output_norm, err)) ||
        (rc = bind(m, f, ARCH_T_OUTPUT, 0, &m->output, err)) ||
        (rc = bind(m, f, ARCH_T_ROPE_FREQS, 0, &m->rope_freqs, err)))
        goto out;
    if (!m->tok_embd || !m->output_norm) {
        rc = inf_errorf(err, INF_ERR_NOT_FOUND, "token_embd.weight or output_norm.weight missing");
        goto out;
    }
    m->hp.tied_output = m->output == NULL;
    if (!m->output) m->output = m->tok_embd;
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "model: %u layers", m->hp.n_layer);
        goto out;
    }
    for (uint32_t il = 0; il < m->hp.n_layer; il++)
        if ((rc = bind_layer(m, f, (int)il, err))) goto out;
    rc = alloc_acts(m, err);
out:
    if (rc) {
        model_free(m);
        return rc;
    }
    *out = m;
    return INF_OK;
}

void model_free(model *m)
{
    if (!m) return;
    be_backend *be = m->be;
    if (m->output != m->tok_embd) be_tensor_free(be, m->output);
    be_tensor_free(be, m->tok_embd);
    be_tensor_free(be, m->output_norm);
    be_tensor_free(be, m->rope_freqs);
    if (m->layers) {
        for (uint32_t il = 0; il < m->hp.n_layer; il++) {
            be_tensor **w = (be_tensor **)&m->layers[il];
            for (size_t i = 0; i < sizeof(model_layer) / sizeof(be_tensor *); i++)
                be_tensor_free(be, w[i]);
        }
        free(m->layers);
    }
    be_tensor **a = (be_tensor **)&m->acts;
    for (size_t i = 0; i < sizeof(model_acts) / sizeof(be_tensor *); i++) be_tensor_free(be, a[i]);
    free(m);
}

void model_kv_config(const model *m, int32_t n_blocks, int32_t block_size, be_kv_dtype dtype,
                     be_kv_config *out)
{
    memset(out, 0, sizeof *out);
    out->n_layer = (int32_t)m->hp.n_layer;
    out->n_kv_head = (int32_t)m->hp.n_head_kv;
    out->head_dim_k = (int32_t)m->hp.head_dim;
    out->head_dim_v = (int32_t)m->hp.head_dim_v;
    out->block_size = block_size;
    out->n_blocks = n_blocks;
    out->dtype = dtype;
}

void model_layer_rope(const model *m, uint32_t il, be_rope *out)
{
    const model_hparams *hp = &m->hp;
    memset(out, 0, sizeof *out);
    out->mode = hp->rope_type == ARCH_ROPE_NEOX ? BE_ROPE_NEOX : BE_ROPE_NORM;
    out->n_dims = (int32_t)hp->n_rot;
    out->freq_base = hparams_layer_rope_base(hp, il);
    out->freq_scale = 1.0f;
    out->attn_factor = 1.0f;
    out->beta_fast = hp->yarn_beta_fast;
    out->beta_slow = hp->yarn_beta_slow;
    out->n_ctx_orig = (int32_t)(hp->rope_orig_ctx ? hp->rope_orig_ctx : hp->n_ctx_train);
    /* Sliding-window layers keep unscaled positions (gemma3's local layers). */
    bool swa = hparams_layer_is_swa(hp, il);
    if (!swa) out->freq_factors = m->rope_freqs;
    if (!swa && hp->rope_scaling != HPARAMS_ROPE_SCALING_NONE && hp->rope_scale_factor > 0)
        out->freq_scale = 1.0f / hp->rope_scale_factor;
    if (!swa && hp->rope_scaling == HPARAMS_ROPE_SCALING_YARN) {
        out->ext_factor = hp->yarn_ext_factor < 0 ? 1.0f : hp->yarn_ext_factor;
        out->attn_factor = hp->yarn_attn_factor * hp->rope_attn_factor;
    }
}

/* Issues the ops of one step for the model's architecture. */
static void model_graph_issue(model *m, be_kv *kv, const model_batch *b)
{
    if (m->hp.arch == ARCH_GEMMA3)
        model_graph_gemma3(m, kv, b);
    else
        model_graph_llama(m, kv, b);
}

/* Validates b and enqueues the step's ops (model_forward's contract). */
static int model_step(model *m, be_kv *kv, const model_batch *b, inf_error *err)
{
    const be_kv_config *kc = be_kv_config_of(kv);
    if (kc->n_layer != (int32_t)m->hp.n_layer || kc->n_kv_head != (int32_t)m->hp.n_head_kv ||
        kc->head_dim_k != (int32_t)m->hp.head_dim || kc->head_dim_v != (int32_t)m->hp.head_dim_v)
        return inf_errorf(err, INF_ERR_INVALID, "kv pool does not match the model's layers/heads");
    int rc = model_batch_validate(b, (int32_t)m->hp.n_vocab, m->max_rows, kc->n_blocks,
                                  kc->block_size, err);
    if (rc) return rc;
    if (b->n_out > m->max_out)
        return inf_errorf(err, INF_ERR_RANGE, "batch asks for %d logits rows; the model was "
                          "loaded for at most %d", b->n_out, m->max_out);
    if ((rc = be_batch_set(m->be, b, err))) return rc;
    /* The ops of a step depend only on the model, the pool and the row counts. */
    uint64_t key = inf_hash_bytes(&m, sizeof m, (uint64_t)(uintptr_t)kv);
    key = inf_hash_bytes(&b->n, sizeof b->n, key);
    key = inf_hash_bytes(&b->n_out, sizeof b->n_out, key);
    int g = be_graph_begin(m->be, key);
    if (g != BE_GRAPH_REPLAYED) model_graph_issue(m, kv, b);
    if (g == BE_GRAPH_RECORDING && (rc = be_graph_end(m->be, err))) {
        if (rc != INF_ERR_UNSUPPORTED) return rc;
        model_graph_issue(m, kv, b); /* the recording failed: run the ops as usual */
    }
    return INF_OK;
}

int model_forward(model *m, be_kv *kv, const model_batch *b, float *logits, inf_error *err)
{
    if (b->n_out > 0 && !logits)
        return inf_errorf(err, INF_ERR_INVALID, "no logits buffer for %d output rows", b->n_out);
    int rc = model_step(m, kv, b, err);
    if (rc || b->n_out == 0) return rc;
    return be_read(m->be, m->acts.logits, 0, b->n_out, logits, err);
}

int model_forward_greedy(model *m, be_kv *kv, const model_batch *b, int32_t *ids,
                         inf_error *err)
{
    if (!be_has_argmax(m->be))
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "backend %s picks no tokens itself",
                          m->be->name);
    if (b->n_out > 0 && !ids)
        return inf_errorf(err, INF_ERR_INVALID, "no id buffer for %d output rows", b->n_out);
    int rc = model_step(m, kv, b, err);
    if (rc || b->n_out == 0) return rc;
    return be_argmax(m->be, m->acts.logits, b->n_out, ids, err);
}
