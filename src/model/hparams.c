/* hparams.c: hyper-parameters from GGUF metadata, their defaults and checks,
 * their keys for the writer, expected tensor shapes and KV-cache sizes. */
#include "model/hparams.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Limits that keep every later size computation far from overflow; real models
 * are orders of magnitude below them. */
#define MAX_EMBD (1u << 20)
#define MAX_LAYER 4096u
#define MAX_HEAD 4096u
#define MAX_HEAD_DIM 4096u
#define MAX_FF (1u << 22)
#define MAX_VOCAB (1u << 24)
#define MAX_CTX (1u << 27)

static void key_of(char *buf, size_t cap, const model_hparams *hp, const char *name)
{
    snprintf(buf, cap, "%s.%s", hp->arch_name, name);
}

/* A u32 key that may also be stored as a per-layer array whose elements are all
 * equal (some converters do that). Returns INF_ERR_NOT_FOUND when absent. */
static int get_u32(const gguf_file *f, const model_hparams *hp, const char *name, uint32_t *out,
                   inf_error *err)
{
    char key[160];
    key_of(key, sizeof key, hp, name);
    const gguf_value *v = gguf_kv_get(f, key);
    if (!v) return INF_ERR_NOT_FOUND;
    if (v->type != GGUF_VT_ARRAY) return gguf_get_u32(f, key, out, err);
    gguf_vtype et = v->v.arr.elem_type;
    if (et == GGUF_VT_STRING || et == GGUF_VT_ARRAY || et == GGUF_VT_FLOAT32 ||
        et == GGUF_VT_FLOAT64 || et == GGUF_VT_BOOL || v->v.arr.count == 0)
        return inf_errorf(err, INF_ERR_FORMAT, "metadata %s: expected an integer or an array of "
                          "integers", key);
    int64_t first = gguf_arr_i64(v, 0);
    for (uint64_t i = 1; i < v->v.arr.count; i++)
        if (gguf_arr_i64(v, i) != first)
            return inf_errorf(err, INF_ERR_UNSUPPORTED, "metadata %s: per-layer values that "
                              "differ (layer %llu) are not supported", key, (unsigned long long)i);
    if (first < 0 || first > (int64_t)UINT32_MAX)
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s = %lld is out of range", key,
                          (long long)first);
    *out = (uint32_t)first;
    return INF_OK;
}

static int get_f32(const gguf_file *f, const model_hparams *hp, const char *name, float *out,
                   inf_error *err)
{
    char key[160];
    key_of(key, sizeof key, hp, name);
    return gguf_get_f32(f, key, out, err);
}

/* Absent keys keep the default; a present key of the wrong type is an error. */
#define OPTIONAL_KEY(call) \
    do { int rc_ = (call); if (rc_ != INF_OK && rc_ != INF_ERR_NOT_FOUND) { rc = rc_; goto out; } } while (0)

static int required_u32(const gguf_file *f, const model_hparams *hp, const char *name,
                        uint32_t *out, inf_error *err)
{
    int rc = get_u32(f, hp, name, out, err);
    if (rc == INF_ERR_NOT_FOUND)
        return inf_errorf(err, INF_ERR_NOT_FOUND, "metadata %s.%s is missing", hp->arch_name, name);
    return rc;
}

void hparams_init(model_hparams *hp, arch_id arch)
{
    memset(hp, 0, sizeof *hp);
    hp->arch = arch;
    snprintf(hp->arch_name, sizeof hp->arch_name, "%s", arch_name(arch));
    hp->rope_type = arch_traits_of(arch)->rope;
    hp->norm_eps = arch == ARCH_GEMMA3 ? 1e-6f : 1e-5f;
    hp->rope_freq_base = 10000.0f;
    /* llama.cpp gives gemma3's local (sliding-window) layers a fixed base of 10k
     * while its global layers use rope.freq_base (1M in released models). */
    hp->rope_freq_base_swa = arch == ARCH_GEMMA3 ? 10000.0f : 0.0f;
    hp->rope_scale_factor = 1.0f;
    hp->rope_attn_factor = 1.0f;
    hp->yarn_ext_factor = -1.0f;
    hp->yarn_attn_factor = 1.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    /* gemma3: five local layers, then one global (llama.cpp's swa pattern 6). */
    hp->swa_period = arch == ARCH_GEMMA3 ? 6 : 0;
    hp->embd_scale = 1.0f;
}

int hparams_finish(model_hparams *hp, inf_error *err)
{
    if (hp->n_head_kv == 0) hp->n_head_kv = hp->n_head;
    if (hp->head_dim == 0 && hp->n_head > 0) hp->head_dim = hp->n_embd / hp->n_head;
    if (hp->head_dim_v == 0) hp->head_dim_v = hp->head_dim;
    if (hp->n_rot == 0) hp->n_rot = hp->head_dim;
    if (hp->rope_freq_base_swa == 0.0f) hp->rope_freq_base_swa = hp->rope_freq_base;
    if (hp->attn_scale == 0.0f && hp->head_dim > 0) {
        /* gemma3 27B (62 layers) scales queries by 1/sqrt(d/h) (query_pre_attn_scalar),
         * the other sizes by 1/sqrt(hd); llama.cpp tells them apart by layer count. */
        if (hp->arch == ARCH_GEMMA3 && hp->n_layer == 62 && hp->n_head > 0)
            hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
        else
            hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    }
    hp->embd_scale = arch_traits_of(hp->arch)->embd_scale ? sqrtf((float)hp->n_embd) : 1.0f;
    return hparams_validate(hp, err);
}

static int check_count(const model_hparams *hp, const char *name, uint32_t v, uint32_t max,
                       inf_error *err)
{
    if (v == 0)
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.%s must be positive (is 0)",
                          hp->arch_name, name);
    if (v > max)
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.%s = %u exceeds the limit %u",
                          hp->arch_name, name, v, max);
    return INF_OK;
}

int hparams_validate(const model_hparams *hp, inf_error *err)
{
    int rc;
    if ((rc = check_count(hp, "context_length", hp->n_ctx_train, MAX_CTX, err))) return rc;
    if ((rc = check_count(hp, "embedding_length", hp->n_embd, MAX_EMBD, err))) return rc;
    if ((rc = check_count(hp, "block_count", hp->n_layer, MAX_LAYER, err))) return rc;
    if ((rc = check_count(hp, "feed_forward_length", hp->n_ff, MAX_FF, err))) return rc;
    if ((rc = check_count(hp, "attention.head_count", hp->n_head, MAX_HEAD, err))) return rc;
    if ((rc = check_count(hp, "attention.head_count_kv", hp->n_head_kv, MAX_HEAD, err))) return rc;
    if ((rc = check_count(hp, "attention.key_length", hp->head_dim, MAX_HEAD_DIM, err))) return rc;
    if ((rc = check_count(hp, "attention.value_length", hp->head_dim_v, MAX_HEAD_DIM, err)))
        return rc;
    if (hp->n_vocab == 0)
        return inf_errorf(err, INF_ERR_RANGE, "vocabulary size unknown: no %s.vocab_size, no "
                          "tokenizer.ggml.tokens and no token_embd.weight", hp->arch_name);
    if (hp->n_vocab > MAX_VOCAB)
        return inf_errorf(err, INF_ERR_RANGE, "vocabulary size %u exceeds the limit %u",
                          hp->n_vocab, MAX_VOCAB);
    if (hp->n_head % hp->n_head_kv != 0)
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.attention.head_count_kv = %u does not "
                          "divide %s.attention.head_count = %u", hp->arch_name, hp->n_head_kv,
                          hp->arch_name, hp->n_head);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.rope.dimension_count = %u must be even "
                          "and at most the head dimension %u", hp->arch_name, hp->n_rot,
                          hp->head_dim);
    if (!(isfinite(hp->norm_eps) && hp->norm_eps > 0.0f && hp->norm_eps < 1.0f))
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.attention.layer_norm_rms_epsilon = %g "
                          "must be in (0, 1)", hp->arch_name, (double)hp->norm_eps);
    if (!(isfinite(hp->rope_freq_base) && hp->rope_freq_base > 0.0f))
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.rope.freq_base = %g must be positive",
                          hp->arch_name, (double)hp->rope_freq_base);
    if (!(isfinite(hp->rope_freq_base_swa) && hp->rope_freq_base_swa > 0.0f))
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.rope.freq_base_swa = %g must be "
                          "positive", hp->arch_name, (double)hp->rope_freq_base_swa);
    if (!(isfinite(hp->rope_scale_factor) && hp->rope_scale_factor > 0.0f))
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.rope.scaling.factor = %g must be "
                          "positive", hp->arch_name, (double)hp->rope_scale_factor);
    if (!isfinite(hp->attn_scale) || hp->attn_scale <= 0.0f)
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.attention.scale = %g must be positive",
                          hp->arch_name, (double)hp->attn_scale);
    if (!(isfinite(hp->attn_softcap) && hp->attn_softcap >= 0.0f))
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.attn_logit_softcapping = %g must not "
                          "be negative", hp->arch_name, (double)hp->attn_softcap);
    if (!(isfinite(hp->final_softcap) && hp->final_softcap >= 0.0f))
        return inf_errorf(err, INF_ERR_RANGE, "metadata %s.final_logit_softcapping = %g must not "
                          "be negative", hp->arch_name, (double)hp->final_softcap);
    return INF_OK;
}

static int read_rope_scaling(const gguf_file *f, model_hparams *hp, inf_error *err)
{
    int rc = INF_OK;
    char key[160];
    float linear = 0.0f;
    OPTIONAL_KEY(get_f32(f, hp, "rope.scale_linear", &linear, err));
    if (linear > 0.0f && linear != 1.0f) {
        hp->rope_scaling = HPARAMS_ROPE_SCALING_LINEAR;
        hp->rope_scale_factor = linear;
    }
    key_of(key, sizeof key, hp, "rope.scaling.type");
    gguf_str type = {0};
    rc = gguf_get_str(f, key, &type, err);
    if (rc == INF_ERR_NOT_FOUND) {
        rc = INF_OK;
    } else if (rc != INF_OK) {
        goto out;
    } else if (type.len == 4 && !memcmp(type.ptr, "none", 4)) {
        hp->rope_scaling = HPARAMS_ROPE_SCALING_NONE;
    } else if (type.len == 6 && !memcmp(type.ptr, "linear", 6)) {
        hp->rope_scaling = HPARAMS_ROPE_SCALING_LINEAR;
    } else if (type.len == 4 && !memcmp(type.ptr, "yarn", 4)) {
        hp->rope_scaling = HPARAMS_ROPE_SCALING_YARN;
    } else {
        rc = inf_errorf(err, INF_ERR_UNSUPPORTED, "metadata %s = \"%.*s\": inferd supports none, "
                        "linear and yarn", key, (int)(type.len > 64 ? 64 : type.len), type.ptr);
        goto out;
    }
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.factor", &hp->rope_scale_factor, err));
    OPTIONAL_KEY(get_u32(f, hp, "rope.scaling.original_context_length", &hp->rope_orig_ctx, err));
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.attn_factor", &hp->rope_attn_factor, err));
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.yarn_ext_factor", &hp->yarn_ext_factor, err));
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.yarn_attn_factor", &hp->yarn_attn_factor, err));
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.yarn_beta_fast", &hp->yarn_beta_fast, err));
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.yarn_beta_slow", &hp->yarn_beta_slow, err));
    OPTIONAL_KEY(get_f32(f, hp, "rope.scaling.yarn_log_multiplier", &hp->yarn_log_mul, err));
    if (hp->rope_scaling == HPARAMS_ROPE_SCALING_NONE) hp->rope_scale_factor = 1.0f;
out:
    return rc;
}

int hparams_load(const gguf_file *f, model_hparams *out, inf_error *err)
{
    int rc;
    gguf_str name = {0};
    rc = gguf_get_str(f, "general.architecture", &name, err);
    if (rc == INF_ERR_NOT_FOUND)
        return inf_errorf(err, rc, "metadata general.architecture is missing");
    if (rc != INF_OK) return rc;
    if (name.len == 0 || name.len >= sizeof out->arch_name)
        return inf_errorf(err, INF_ERR_FORMAT, "metadata general.architecture has length %llu "
                          "(expected 1..%zu)", (unsigned long long)name.len,
                          sizeof out->arch_name - 1);
    for (uint64_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return inf_errorf(err, INF_ERR_FORMAT, "metadata general.architecture contains byte "
                              "0x%02x at %llu", (unsigned)(unsigned char)c, (unsigned long long)i);
    }

    model_hparams hp;
    hparams_init(&hp, arch_from_name(name.ptr, name.len));
    memcpy(hp.arch_name, name.ptr, name.len);
    hp.arch_name[name.len] = '\0';

    if ((rc = required_u32(f, &hp, "context_length", &hp.n_ctx_train, err))) goto out;
    if ((rc = required_u32(f, &hp, "embedding_length", &hp.n_embd, err))) goto out;
    if ((rc = required_u32(f, &hp, "block_count", &hp.n_layer, err))) goto out;
    if ((rc = required_u32(f, &hp, "feed_forward_length", &hp.n_ff, err))) goto out;
    if ((rc = required_u32(f, &hp, "attention.head_count", &hp.n_head, err))) goto out;
    OPTIONAL_KEY(get_u32(f, &hp, "attention.head_count_kv", &hp.n_head_kv, err));
    OPTIONAL_KEY(get_u32(f, &hp, "attention.key_length", &hp.head_dim, err));
    OPTIONAL_KEY(get_u32(f, &hp, "attention.value_length", &hp.head_dim_v, err));
    OPTIONAL_KEY(get_u32(f, &hp, "rope.dimension_count", &hp.n_rot, err));
    rc = get_f32(f, &hp, "attention.layer_norm_rms_epsilon", &hp.norm_eps, err);
    if (rc == INF_ERR_NOT_FOUND) {
        if (hp.arch != ARCH_UNKNOWN) {
            rc = inf_errorf(err, rc, "metadata %s.attention.layer_norm_rms_epsilon is missing",
                            hp.arch_name);
            goto out;
        }
        /* other families (gpt2, bert) use LayerNorm with its own key */
        OPTIONAL_KEY(get_f32(f, &hp, "attention.layer_norm_epsilon", &hp.norm_eps, err));
    } else if (rc != INF_OK) {
        goto out;
    }
    OPTIONAL_KEY(get_f32(f, &hp, "rope.freq_base", &hp.rope_freq_base, err));
    OPTIONAL_KEY(get_f32(f, &hp, "rope.freq_base_swa", &hp.rope_freq_base_swa, err));
    OPTIONAL_KEY(get_f32(f, &hp, "attention.scale", &hp.attn_scale, err));
    OPTIONAL_KEY(get_f32(f, &hp, "attn_logit_softcapping", &hp.attn_softcap, err));
    OPTIONAL_KEY(get_f32(f, &hp, "final_logit_softcapping", &hp.final_softcap, err));
    OPTIONAL_KEY(get_u32(f, &hp, "attention.sliding_window", &hp.n_swa, err));
    OPTIONAL_KEY(get_u32(f, &hp, "attention.sliding_window_pattern", &hp.swa_period, err));
    if ((rc = read_rope_scaling(f, &hp, err))) goto out;

    /* vocabulary size: explicit key, else the token list, else the embedding rows */
    rc = get_u32(f, &hp, "vocab_size", &hp.n_vocab, err);
    if (rc == INF_ERR_NOT_FOUND) {
        const gguf_value *toks = gguf_kv_get(f, "tokenizer.ggml.tokens");
        const gguf_tensor *embd = gguf_tensor_find(f, "token_embd.weight");
        if (toks && toks->type == GGUF_VT_ARRAY && toks->v.arr.count <= MAX_VOCAB)
            hp.n_vocab = (uint32_t)toks->v.arr.count;
        else if (embd && embd->n_dims == 2 && embd->ne[1] > 0 && embd->ne[1] <= MAX_VOCAB)
            hp.n_vocab = (uint32_t)embd->ne[1];
        rc = INF_OK;
    } else if (rc != INF_OK) {
        goto out;
    }
    hp.tied_output = gguf_tensor_find(f, "output.weight") == NULL;
    hp.has_rope_freqs = gguf_tensor_find(f, "rope_freqs.weight") != NULL;

    rc = hparams_finish(&hp, err);
    if (rc == INF_OK) *out = hp;
out:
    return rc;
}

/* Chains writer calls: stops at the first failure and keeps its status. */
#define W(call) do { if (rc == INF_OK) rc = (call); } while (0)

int hparams_write(const model_hparams *hp, gguf_writer *w)
{
    int rc = INF_OK;
    char key[160];
#define KEY(name) (key_of(key, sizeof key, hp, name), key)
    W(gguf_writer_set_u32(w, KEY("context_length"), hp->n_ctx_train));
    W(gguf_writer_set_u32(w, KEY("embedding_length"), hp->n_embd));
    W(gguf_writer_set_u32(w, KEY("block_count"), hp->n_layer));
    W(gguf_writer_set_u32(w, KEY("feed_forward_length"), hp->n_ff));
    W(gguf_writer_set_u32(w, KEY("attention.head_count"), hp->n_head));
    W(gguf_writer_set_u32(w, KEY("attention.head_count_kv"), hp->n_head_kv));
    W(gguf_writer_set_f32(w, KEY("rope.freq_base"), hp->rope_freq_base));
    W(gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), hp->norm_eps));
    /* The converter writes head dims when the config names them (qwen3, gemma3)
     * and whenever they differ from d / h. */
    bool derived = hp->n_head > 0 && hp->head_dim == hp->n_embd / hp->n_head &&
                   hp->head_dim_v == hp->head_dim;
    if (!derived || hp->arch == ARCH_QWEN3 || hp->arch == ARCH_GEMMA3) {
        W(gguf_writer_set_u32(w, KEY("attention.key_length"), hp->head_dim));
        W(gguf_writer_set_u32(w, KEY("attention.value_length"), hp->head_dim_v));
    }
    if (hp->arch == ARCH_LLAMA || hp->n_rot != hp->head_dim)
        W(gguf_writer_set_u32(w, KEY("rope.dimension_count"), hp->n_rot));
    if (hp->arch == ARCH_LLAMA) W(gguf_writer_set_u32(w, KEY("vocab_size"), hp->n_vocab));
    if (hp->n_swa > 0) W(gguf_writer_set_u32(w, KEY("attention.sliding_window"), hp->n_swa));
    if (hp->n_swa > 0 && !(hp->arch == ARCH_GEMMA3 && hp->swa_period == 6))
        W(gguf_writer_set_u32(w, KEY("attention.sliding_window_pattern"), hp->swa_period));
    if (hp->attn_softcap > 0.0f)
        W(gguf_writer_set_f32(w, KEY("attn_logit_softcapping"), hp->attn_softcap));
    if (hp->final_softcap > 0.0f)
        W(gguf_writer_set_f32(w, KEY("final_logit_softcapping"), hp->final_softcap));
    if (hp->rope_scaling == HPARAMS_ROPE_SCALING_LINEAR) {
        W(gguf_writer_set_str(w, KEY("rope.scaling.type"), "linear", 6));
        W(gguf_writer_set_f32(w, KEY("rope.scaling.factor"), hp->rope_scale_factor));
    } else if (hp->rope_scaling == HPARAMS_ROPE_SCALING_YARN) {
        W(gguf_writer_set_str(w, KEY("rope.scaling.type"), "yarn", 4));
        W(gguf_writer_set_f32(w, KEY("rope.scaling.factor"), hp->rope_scale_factor));
        if (hp->rope_orig_ctx)
            W(gguf_writer_set_u32(w, KEY("rope.scaling.original_context_length"),
                                  hp->rope_orig_ctx));
    }
#undef KEY
    return rc;
}

bool hparams_layer_is_swa(const model_hparams *hp, uint32_t il)
{
    if (hp->n_swa == 0) return false;
    if (hp->swa_period == 0) return true;
    return il % hp->swa_period != hp->swa_period - 1;
}

float hparams_layer_rope_base(const model_hparams *hp, uint32_t il)
{
    return hparams_layer_is_swa(hp, il) ? hp->rope_freq_base_swa : hp->rope_freq_base;
}

int hparams_tensor_shape(const model_hparams *hp, arch_tensor t, int64_t ne[GGUF_MAX_DIMS],
                         uint32_t *n_dims)
{
    const int64_t d = hp->n_embd, v = hp->n_vocab, ff = hp->n_ff;
    const int64_t q = (int64_t)hp->n_head * hp->head_dim;
    const int64_t k = (int64_t)hp->n_head_kv * hp->head_dim;
    const int64_t vv = (int64_t)hp->n_head_kv * hp->head_dim_v;
    const int64_t o = (int64_t)hp->n_head * hp->head_dim_v;
    int64_t a = 0, b = 0; /* b == 0: 1-D */
    switch (t) {
    case ARCH_T_TOKEN_EMBD: a = d; b = v; break;
    case ARCH_T_OUTPUT: a = d; b = v; break;
    case ARCH_T_OUTPUT_NORM: a = d; break;
    case ARCH_T_ROPE_FREQS: a = hp->n_rot / 2; break;
    case ARCH_T_ATTN_NORM: a = d; break;
    case ARCH_T_ATTN_Q: a = d; b = q; break;
    case ARCH_T_ATTN_K: a = d; b = k; break;
    case ARCH_T_ATTN_V: a = d; b = vv; break;
    case ARCH_T_ATTN_OUT: a = o; b = d; break;
    case ARCH_T_ATTN_Q_BIAS: a = q; break;
    case ARCH_T_ATTN_K_BIAS: a = k; break;
    case ARCH_T_ATTN_V_BIAS: a = vv; break;
    case ARCH_T_ATTN_OUT_BIAS: a = d; break;
    case ARCH_T_ATTN_Q_NORM: a = hp->head_dim; break;
    case ARCH_T_ATTN_K_NORM: a = hp->head_dim; break;
    case ARCH_T_ATTN_POST_NORM: a = d; break;
    case ARCH_T_FFN_NORM: a = d; break;
    case ARCH_T_FFN_GATE: a = d; b = ff; break;
    case ARCH_T_FFN_UP: a = d; b = ff; break;
    case ARCH_T_FFN_DOWN: a = ff; b = d; break;
    case ARCH_T_FFN_POST_NORM: a = d; break;
    default: return INF_ERR_INVALID;
    }
    for (int i = 0; i < GGUF_MAX_DIMS; i++) ne[i] = 1;
    ne[0] = a;
    if (b) ne[1] = b;
    *n_dims = b ? 2 : 1;
    return INF_OK;
}

void hparams_llama3_rope_freqs(float freq_base, uint32_t n_rot, float factor,
                               float low_freq_factor, float high_freq_factor,
                               uint32_t orig_ctx, float *out)
{
    /* Wavelengths shorter than orig_ctx / high_freq_factor keep their frequency,
     * those longer than orig_ctx / low_freq_factor are slowed by `factor`, and
     * the band between blends the two linearly in orig_ctx / wavelength. */
    const double low_wavelen = (double)orig_ctx / low_freq_factor;
    const double high_wavelen = (double)orig_ctx / high_freq_factor;
    const double two_pi = 6.283185307179586;
    for (uint32_t i = 0; i < n_rot / 2; i++) {
        double freq = pow((double)freq_base, -(double)(2 * i) / (double)n_rot);
        double wavelen = two_pi / freq;
        double div;
        if (wavelen < high_wavelen) {
            div = 1.0;
        } else if (wavelen > low_wavelen) {
            div = factor;
        } else {
            double smooth = ((double)orig_ctx / wavelen - low_freq_factor) /
                            (high_freq_factor - low_freq_factor);
            div = 1.0 / ((1.0 - smooth) / factor + smooth);
        }
        out[i] = (float)div;
    }
}

uint64_t hparams_kv_bytes_per_token(const model_hparams *hp, hparams_kv_type t)
{
    const uint64_t k = (uint64_t)hp->n_head_kv * hp->head_dim;
    const uint64_t v = (uint64_t)hp->n_head_kv * hp->head_dim_v;
    uint64_t per_layer;
    if (t == HPARAMS_KV_Q8) {
        const uint64_t g = HPARAMS_KV_Q8_GROUP;
        uint64_t groups = (uint64_t)hp->n_head_kv *
                          ((hp->head_dim + g - 1) / g + (hp->head_dim_v + g - 1) / g);
        per_layer = k + v + 2 * groups;
    } else {
        per_layer = 2 * (k + v);
    }
    return per_layer * hp->n_layer;
}

const char *hparams_kv_type_name(hparams_kv_type t)
{
    switch (t) {
    case HPARAMS_KV_F16: return "f16";
    case HPARAMS_KV_BF16: return "bf16";
    case HPARAMS_KV_Q8: return "q8";
    }
    return "unknown";
}
