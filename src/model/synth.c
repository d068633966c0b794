/* synth.c: presets, the tensor plan and the streamed, parallel writing of
 * synthetic models (synth.h). */
#include "model/synth.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gguf/gguf.h"
#include "model/quantize.h"
#include "model/synth_gen.h"
#include "model/synth_par.h"
#include "model/vocab_synth.h"
#include "quant/quant.h"

#define CHUNK_ELEMS (1 << 18)      /* one generator stream; a multiple of every block size */
#define BATCH_BYTES (8u << 20)     /* generated while the previous batch is written */

typedef struct preset {
    const char *name;
    arch_id arch;                  /* ARCH_UNKNOWN: any architecture */
    uint32_t layers, d, heads, kv_heads, head_dim, ff, vocab, ctx;
    float rope_base, eps;
    bool tied;
    float llama3_factor;           /* 0: no rope_freqs */
    uint32_t swa;
    const char *summary;
} preset;

/* Dimensions of the public models each named preset imitates. */
static const preset presets[] = {
    {"tiny", ARCH_UNKNOWN, 2, 64, 4, 2, 0, 128, 512, 2048, 10000.0f, 1e-5f, false, 0, 16,
     "2 layers, d 64: < 1 MB, for tests"},
    {"small", ARCH_UNKNOWN, 4, 256, 4, 2, 0, 512, 1024, 4096, 10000.0f, 1e-5f, false, 0, 64,
     "4 layers, d 256 (rows fit K-quant blocks), for tests"},
    {"smollm2-135m", ARCH_LLAMA, 30, 576, 9, 3, 0, 1536, 49152, 8192, 100000.0f, 1e-5f, true,
     0, 0, "SmolLM2-135M shape (llama)"},
    {"llama3-1b", ARCH_LLAMA, 16, 2048, 32, 8, 64, 8192, 128256, 131072, 500000.0f, 1e-5f, true,
     32.0f, 0, "Llama 3.2 1B shape, llama3 RoPE scaling"},
    {"llama3-8b", ARCH_LLAMA, 32, 4096, 32, 8, 128, 14336, 128256, 131072, 500000.0f, 1e-5f,
     false, 8.0f, 0, "Llama 3.1 8B shape, llama3 RoPE scaling"},
    {"qwen2.5-0.5b", ARCH_QWEN2, 24, 896, 14, 2, 64, 4864, 151936, 32768, 1000000.0f, 1e-6f,
     true, 0, 0, "Qwen2.5-0.5B shape (q/k/v biases)"},
    {"qwen3-0.6b", ARCH_QWEN3, 28, 1024, 16, 8, 128, 3072, 151936, 40960, 1000000.0f, 1e-6f,
     true, 0, 0, "Qwen3-0.6B shape (q/k norms)"},
    {"gemma3-270m", ARCH_GEMMA3, 18, 640, 4, 1, 256, 2048, 262144, 32768, 1000000.0f, 1e-6f,
     true, 0, 512, "Gemma 3 270M shape (sliding window)"},
    {"gemma3-1b", ARCH_GEMMA3, 26, 1152, 4, 1, 256, 6912, 262144, 32768, 1000000.0f, 1e-6f,
     true, 0, 512, "Gemma 3 1B shape (sliding window)"},
};
#define N_PRESETS (int)(sizeof presets / sizeof presets[0])

int synth_preset_count(void) { return N_PRESETS; }
const char *synth_preset_name(int i) { return (i >= 0 && i < N_PRESETS) ? presets[i].name : NULL; }
const char *synth_preset_summary(int i)
{
    return (i >= 0 && i < N_PRESETS) ? presets[i].summary : NULL;
}

int synth_preset(const char *name, arch_id arch, synth_config *out, inf_error *err)
{
    const preset *p = NULL;
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].name, name)) p = &presets[i];
    if (!p) {
        char list[512] = "";
        for (int i = 0; i < N_PRESETS; i++) {
            strncat(list, presets[i].name, sizeof list - strlen(list) - 1);
            if (i + 1 < N_PRESETS) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return inf_errorf(err, INF_ERR_NOT_FOUND, "unknown preset '%s' (presets: %s)", name, list);
    }
    if (arch != ARCH_UNKNOWN && !arch_traits_of(arch)->supported)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "architecture %s has no graph in inferd yet",
                          arch_name(arch));
    if (p->arch != ARCH_UNKNOWN && arch != ARCH_UNKNOWN && arch != p->arch)
        return inf_errorf(err, INF_ERR_INVALID, "preset %s is a %s model, not %s", p->name,
                          arch_name(p->arch), arch_name(arch));
    if (arch == ARCH_UNKNOWN) arch = p->arch != ARCH_UNKNOWN ? p->arch : ARCH_LLAMA;

    memset(out, 0, sizeof *out);
    model_hparams *hp = &out->hp;
    hparams_init(hp, arch);
    hp->n_layer = p->layers;
    hp->n_embd = p->d;
    hp->n_head = p->heads;
    hp->n_head_kv = p->kv_heads;
    hp->head_dim = p->head_dim;
    hp->n_ff = p->ff;
    hp->n_vocab = p->vocab;
    hp->n_ctx_train = p->ctx;
    hp->rope_freq_base = p->rope_base;
    hp->norm_eps = p->eps;
    out->tied = p->tied;
    if (p->arch == ARCH_UNKNOWN) {
        /* The generic presets take each architecture's habits: qwen3 and gemma3
         * have head dims that are not d / h, gemma3 one kv head, a sliding window
         * and enough layers for a global one; llama keeps a separate output. */
        out->tied = arch != ARCH_LLAMA;
        if (arch == ARCH_QWEN3 || arch == ARCH_GEMMA3) hp->head_dim = 2 * p->d / p->heads;
        if (arch == ARCH_GEMMA3) {
            hp->n_head_kv = 1;
            hp->n_layer = p->layers < 6 ? 6 : p->layers;
            hp->norm_eps = 1e-6f;
        }
    }
    if (arch == ARCH_GEMMA3) hp->n_swa = p->swa ? p->swa : 512;
    if (p->llama3_factor > 0.0f) {
        out->llama3_factor = p->llama3_factor;
        out->llama3_low = 1.0f;
        out->llama3_high = 4.0f;
        out->llama3_orig_ctx = 8192;
    }
    out->type = QT_F32;
    snprintf(out->preset, sizeof out->preset, "%s", p->name);
    snprintf(out->pre, sizeof out->pre, "smollm");
    return INF_OK;
}

int synth_set_dims(synth_config *c, const char *spec, inf_error *err)
{
    static const struct { const char *key; size_t off; } keys[] = {
        {"layers", offsetof(model_hparams, n_layer)},
        {"d", offsetof(model_hparams, n_embd)},
        {"heads", offsetof(model_hparams, n_head)},
        {"kv_heads", offsetof(model_hparams, n_head_kv)},
        {"head_dim", offsetof(model_hparams, head_dim)},
        {"ff", offsetof(model_hparams, n_ff)},
        {"vocab", offsetof(model_hparams, n_vocab)},
        {"ctx", offsetof(model_hparams, n_ctx_train)},
        {"swa", offsetof(model_hparams, n_swa)},
    };
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end)
            return inf_errorf(err, INF_ERR_INVALID, "--dims: expected key=value at '%.*s'",
                              (int)(end - p), p);
        size_t klen = (size_t)(eq - p);
        size_t k = 0;
        for (; k < sizeof keys / sizeof keys[0]; k++)
            if (strlen(keys[k].key) == klen && !memcmp(keys[k].key, p, klen)) break;
        if (k == sizeof keys / sizeof keys[0])
            return inf_errorf(err, INF_ERR_INVALID, "--dims: unknown key '%.*s' (keys: layers, d, "
                              "heads, kv_heads, head_dim, ff, vocab, ctx, swa)", (int)klen, p);
        char *num_end = NULL;
        unsigned long long v = strtoull(eq + 1, &num_end, 10);
        if (num_end == eq + 1 || num_end != end || v > UINT32_MAX || eq[1] == '-')
            return inf_errorf(err, INF_ERR_INVALID, "--dims: %s needs a non-negative integer, got "
                              "'%.*s'", keys[k].key, (int)(end - eq - 1), eq + 1);
        uint32_t *field = (uint32_t *)((char *)&c->hp + keys[k].off);
        *field = (uint32_t)v;
        /* head_dim follows d and heads unless set explicitly after them */
        if (!strcmp(keys[k].key, "d") || !strcmp(keys[k].key, "heads")) c->hp.head_dim = 0;
        p = *end ? end + 1 : end;
    }
    return INF_OK;
}

/* ---- the tensor plan ------------------------------------------------------ */

typedef enum init_kind { INIT_MATRIX, INIT_NORM, INIT_BIAS, INIT_ROPE_FREQS } init_kind;

typedef struct plan_tensor {
    char name[64];
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    int64_t n;                /* elements */
    uint64_t nbytes;
    init_kind init;
    float sigma;
} plan_tensor;

typedef struct plan {
    plan_tensor *t;
    int64_t n;
    float *rope_freqs;        /* n_rot / 2 values when rope_freqs.weight is written */
} plan;

/* y = W x sums ne[0] products, so std 1/sqrt(ne[0]) keeps y at x's scale. The
 * embedding (ne[0] = d) gets the same: when tied it also makes the logits. */
static float fan_in_sigma(const int64_t ne[GGUF_MAX_DIMS])
{
    return 1.0f / sqrtf((float)ne[0]);
}

static int plan_add(plan *pl, int64_t cap, const synth_config *c, arch_tensor kind, int layer,
                    inf_error *err)
{
    if (pl->n >= cap) return inf_errorf(err, INF_ERR_INTERNAL, "tensor plan overflow");
    plan_tensor *t = &pl->t[pl->n];
    memset(t, 0, sizeof *t);
    if (arch_tensor_name(kind, layer, t->name, sizeof t->name) >= (int)sizeof t->name)
        return inf_errorf(err, INF_ERR_INTERNAL, "tensor name too long");
    int rc = hparams_tensor_shape(&c->hp, kind, t->ne, &t->n_dims);
    if (rc) return inf_errorf(err, rc, "no shape for tensor %s", t->name);
    t->n = t->ne[0] * t->ne[1];
    if (t->n_dims == 1) {
        t->type = QT_F32;
        t->init = kind == ARCH_T_ROPE_FREQS ? INIT_ROPE_FREQS
                  : (kind == ARCH_T_ATTN_Q_BIAS || kind == ARCH_T_ATTN_K_BIAS ||
                     kind == ARCH_T_ATTN_V_BIAS || kind == ARCH_T_ATTN_OUT_BIAS) ? INIT_BIAS
                  : INIT_NORM;
        t->sigma = t->init == INIT_BIAS ? 0.02f : 0.0f;
    } else {
        t->type = quantize_type_for_row(c->type, t->ne[0]);
        t->init = INIT_MATRIX;
        t->sigma = fan_in_sigma(t->ne);
    }
    t->nbytes = quant_row_size(t->type, t->ne[0]) * (uint64_t)t->ne[1];
    pl->n++;
    return INF_OK;
}

static int build_plan(const synth_config *c, plan *pl, inf_error *err)
{
    const model_hparams *hp = &c->hp;
    const int64_t cap = 4 + (int64_t)hp->n_layer * ARCH_T_COUNT;
    int rc = INF_OK;
    pl->t = calloc((size_t)cap, sizeof *pl->t);
    if (!pl->t) return inf_errorf(err, INF_ERR_NOMEM, "out of memory for the tensor plan");
    if ((rc = plan_add(pl, cap, c, ARCH_T_TOKEN_EMBD, 0, err))) return rc;
    if (c->llama3_factor > 0.0f) {
        pl->rope_freqs = malloc((hp->n_rot / 2 + 1) * sizeof *pl->rope_freqs);
        if (!pl->rope_freqs) return inf_errorf(err, INF_ERR_NOMEM, "out of memory");
        hparams_llama3_rope_freqs(hp->rope_freq_base, hp->n_rot, c->llama3_factor, c->llama3_low,
                                  c->llama3_high, c->llama3_orig_ctx, pl->rope_freqs);
        if ((rc = plan_add(pl, cap, c, ARCH_T_ROPE_FREQS, 0, err))) return rc;
    }
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        for (int k = ARCH_T_FIRST_LAYER; k < ARCH_T_COUNT; k++) {
            /* optional tensors (llama's biases) are left out, as converters do */
            if (arch_tensor_presence(hp->arch, (arch_tensor)k) != ARCH_REQUIRED) continue;
            if ((rc = plan_add(pl, cap, c, (arch_tensor)k, (int)il, err))) return rc;
        }
    }
    if ((rc = plan_add(pl, cap, c, ARCH_T_OUTPUT_NORM, 0, err))) return rc;
    if (!c->tied && (rc = plan_add(pl, cap, c, ARCH_T_OUTPUT, 0, err))) return rc;
    return rc;
}

static void plan_free(plan *pl)
{
    free(pl->t);
    free(pl->rope_freqs);
}

/* ---- generation ----------------------------------------------------------- */

typedef struct gen_job {
    const plan *pl;
    uint64_t seed;
    int64_t tensor;
    int64_t chunk0;           /* first chunk of the batch */
    uint8_t *buf;             /* the batch's bytes */
} gen_job;

static void gen_chunk(void *ctx, uint64_t task)
{
    const gen_job *j = ctx;
    const plan_tensor *t = &j->pl->t[j->tensor];
    const quant_traits *tr = quant_traits_of(t->type);
    const int64_t chunk = j->chunk0 + (int64_t)task;
    const int64_t e0 = chunk * CHUNK_ELEMS;
    const int64_t e1 = e0 + CHUNK_ELEMS < t->n ? e0 + CHUNK_ELEMS : t->n;
    const uint64_t b0 = (uint64_t)(e0 / tr->block_size) * tr->type_size;
    const uint64_t base = (uint64_t)(j->chunk0 * CHUNK_ELEMS / tr->block_size) * tr->type_size;
    uint8_t *dst = j->buf + (b0 - base);
    synth_rng r;
    synth_rng_seed(&r, synth_seed_mix(j->seed, (uint64_t)j->tensor, (uint64_t)chunk));
    float *f = (float *)dst; /* 1-D tensors are F32 */
    switch (t->init) {
    case INIT_MATRIX:
        synth_gen_fill(t->type, &r, t->sigma, e1 - e0, dst);
        break;
    case INIT_NORM:
        for (int64_t i = 0; i < e1 - e0; i++) f[i] = 1.0f + 0.1f * synth_rng_sym(&r);
        break;
    case INIT_BIAS:
        for (int64_t i = 0; i < e1 - e0; i++) f[i] = sqrtf(3.0f) * t->sigma * synth_rng_sym(&r);
        break;
    case INIT_ROPE_FREQS:
        memcpy(f, j->pl->rope_freqs + e0, (size_t)(e1 - e0) * sizeof *f);
        break;
    }
}

static int check_config(const synth_config *c, synth_config *fixed, inf_error *err)
{
    *fixed = *c;
    if (!arch_traits_of(c->hp.arch)->supported)
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "architecture %s cannot be synthesized",
                          arch_name(c->hp.arch));
    const quant_traits *tr = quant_traits_of(c->type);
    if (!tr || !quantize_target_ok(c->type) || !synth_gen_supported(c->type))
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "weight type %s cannot be synthesized (types: "
                          "F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K)",
                          quant_type_name(c->type));
    if (c->hp.n_vocab < VOCAB_SYNTH_MIN || c->hp.n_vocab > VOCAB_SYNTH_MAX)
        return inf_errorf(err, INF_ERR_RANGE, "vocab = %u: a synthetic vocabulary has %u to %u "
                          "tokens", c->hp.n_vocab, VOCAB_SYNTH_MIN, VOCAB_SYNTH_MAX);
    fixed->hp.n_rot = 0;           /* derived again from the (maybe overridden) head dim */
    fixed->hp.attn_scale = 0.0f;
    fixed->hp.head_dim_v = 0;
    int rc = hparams_finish(&fixed->hp, err);
    if (rc) return rc;
    if (fixed->hp.arch == ARCH_GEMMA3 && fixed->hp.n_swa == 0)
        return inf_errorf(err, INF_ERR_RANGE, "gemma3 needs a sliding window (swa > 0)");
    if (c->hp.n_head > 0 && c->hp.head_dim == 0 && c->hp.n_embd % c->hp.n_head != 0)
        return inf_errorf(err, INF_ERR_RANGE, "d = %u is not a multiple of heads = %u (give "
                          "head_dim)", c->hp.n_embd, c->hp.n_head);
    fixed->hp.tied_output = c->tied;
    fixed->hp.has_rope_freqs = c->llama3_factor > 0.0f;
    return INF_OK;
}

static int write_metadata(const synth_config *c, const vocab_synth *v, gguf_writer *w)
{
    int rc = INF_OK;
    char name[96];
    snprintf(name, sizeof name, "inferd synth %s %s %s", c->preset, c->hp.arch_name,
             quant_type_name(c->type));
    const char *arch = c->hp.arch_name;
    rc = gguf_writer_set_str(w, "general.architecture", arch, strlen(arch));
    if (!rc) rc = gguf_writer_set_str(w, "general.type", "model", 5);
    if (!rc) rc = gguf_writer_set_str(w, "general.name", name, strlen(name));
    if (!rc) rc = hparams_write(&c->hp, w);
    if (!rc) rc = gguf_writer_set_u32(w, "general.file_type", (uint32_t)quantize_file_type(c->type));
    if (!rc) rc = gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (!rc) rc = gguf_writer_set_str(w, "inferd.synth.preset", c->preset, strlen(c->preset));
    if (!rc) rc = gguf_writer_set_u64(w, "inferd.synth.seed", c->seed);
    if (!rc) rc = vocab_synth_write(v, w, c->pre);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int synth_write(const synth_config *cin, const char *path, int n_threads, synth_stats *stats,
                inf_error *err)
{
    const double t0 = now_s();
    synth_config c;
    plan pl = {0};
    vocab_synth *v = NULL;
    gguf_writer *w = NULL;
    uint8_t *buf[2] = {NULL, NULL};
    inf_error_clear(err);
    int rc = check_config(cin, &c, err);
    if (rc) goto out;
    if (n_threads <= 0) n_threads = synth_par_cpu_count();
    if ((rc = build_plan(&c, &pl, err))) goto out;
    if ((rc = vocab_synth_build(c.hp.n_vocab, &v, err))) goto out;
    if ((rc = gguf_writer_open(path, 0, &w, err))) goto out;
    if ((rc = write_metadata(&c, v, w))) goto writer_failed;
    for (int64_t i = 0; i < pl.n && !rc; i++)
        rc = gguf_writer_add_tensor(w, pl.t[i].name, pl.t[i].type, pl.t[i].n_dims, pl.t[i].ne);
    if (rc || (rc = gguf_writer_begin_data(w))) goto writer_failed;

    /* Batches: consecutive chunks of one tensor, at most BATCH_BYTES (or one chunk). */
    uint64_t max_chunk_bytes = 0;
    for (int64_t i = 0; i < pl.n; i++) {
        const quant_traits *tr = quant_traits_of(pl.t[i].type);
        uint64_t cb = (uint64_t)(CHUNK_ELEMS / tr->block_size) * tr->type_size;
        if (cb > max_chunk_bytes) max_chunk_bytes = cb;
    }
    const uint64_t cap = max_chunk_bytes > BATCH_BYTES ? max_chunk_bytes : BATCH_BYTES;
    buf[0] = malloc(cap);
    buf[1] = malloc(cap);
    if (!buf[0] || !buf[1]) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory for %llu-byte buffers",
                        (unsigned long long)cap);
        gguf_writer_abort(w);
        w = NULL;
        goto out;
    }
    gen_job jobs[2];
    synth_par par;
    uint64_t pending = 0;  /* bytes of the previous batch, waiting in buf[cur ^ 1] */
    int cur = 0;
    for (int64_t ti = 0; ti < pl.n && !rc; ti++) {
        const plan_tensor *t = &pl.t[ti];
        const quant_traits *tr = quant_traits_of(t->type);
        const uint64_t chunk_bytes = (uint64_t)(CHUNK_ELEMS / tr->block_size) * tr->type_size;
        const int64_t n_chunks = (t->n + CHUNK_ELEMS - 1) / CHUNK_ELEMS;
        const int64_t per_batch = (int64_t)(cap / chunk_bytes);
        for (int64_t c0 = 0; c0 < n_chunks && !rc; c0 += per_batch) {
            const int64_t c1 = c0 + per_batch < n_chunks ? c0 + per_batch : n_chunks;
            jobs[cur] = (gen_job){&pl, c.seed, ti, c0, buf[cur]};
            synth_par_start(&par, n_threads, (uint64_t)(c1 - c0), gen_chunk, &jobs[cur]);
            if (pending) rc = gguf_writer_write_data(w, buf[cur ^ 1], pending);
            synth_par_wait(&par);
            const int64_t e_end = c1 * CHUNK_ELEMS < t->n ? c1 * CHUNK_ELEMS : t->n;
            pending = (uint64_t)((e_end - c0 * CHUNK_ELEMS) / tr->block_size) * tr->type_size;
            cur ^= 1;
        }
    }
    if (!rc && pending) rc = gguf_writer_write_data(w, buf[cur ^ 1], pending);
writer_failed:
    if (rc) {
        /* the writer's error is sticky: close reports it and removes the file */
        inf_error scratch;
        int rc2 = gguf_writer_close(w, (err && err->code) ? &scratch : err);
        if (rc2 == INF_OK) remove(path);
        if (!err || !err->code) inf_errorf(err, rc, "writing %s: %s", path, inf_status_name(rc));
        w = NULL;
        goto out;
    }
    rc = gguf_writer_close(w, err);
    w = NULL;
    if (rc) goto out;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->n_tensors = pl.n;
        for (int64_t i = 0; i < pl.n; i++) {
            stats->n_params += (uint64_t)pl.t[i].n;
            stats->data_bytes += pl.t[i].nbytes;
        }
        struct stat st;
        if (stat(path, &st) == 0) stats->file_bytes = (uint64_t)st.st_size;
        stats->seconds = now_s() - t0;
    }
out:
    free(buf[0]);
    free(buf[1]);
    vocab_synth_free(v);
    plan_free(&pl);
    return rc;
}
