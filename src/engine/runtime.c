/* runtime.c: opening and sizing a served model (runtime.h). */
#include "engine/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"

void runtime_options_init(runtime_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_num_seqs = 64;
    o->max_batch_tokens = 512;
    o->max_queue = 1024;
    o->block_size = 16;
    o->kv_dtype = BE_KV_F16;
    o->kv_cache_fraction = 0.25;
    o->gpu_memory_fraction = 0.90;
    o->prefix_cache_fraction = 0.20;
}

/* Scratch that a device backend allocates only when the first large batches
 * come (pinned read buffers, attention partials, a grown batch buffer). */
#define DEVICE_RESERVE_BYTES (256ull << 20)

uint64_t runtime_device_kv_budget(uint64_t free_bytes, uint64_t total_bytes, double fraction)
{
    if (!(fraction > 0) || fraction > 1) fraction = 0.90;
    /* Used so far (by us, and by anyone else on the device) counts against the share. */
    uint64_t used = total_bytes > free_bytes ? total_bytes - free_bytes : 0;
    uint64_t share = (uint64_t)((double)total_bytes * fraction);
    if (share <= used + DEVICE_RESERVE_BYTES) return 0;
    return share - used - DEVICE_RESERVE_BYTES; /* <= free, since share <= total */
}

uint64_t runtime_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}

int runtime_kv_dtype_from_name(const char *name)
{
    if (!strcmp(name, "f16")) return BE_KV_F16;
    if (!strcmp(name, "bf16")) return BE_KV_BF16;
    if (!strcmp(name, "q8")) return BE_KV_Q8;
    if (!strcmp(name, "f32")) return BE_KV_F32;
    return -1;
}

const char *runtime_kv_dtype_name(be_kv_dtype t)
{
    switch (t) {
    case BE_KV_F16: return "f16";
    case BE_KV_BF16: return "bf16";
    case BE_KV_Q8: return "q8";
    case BE_KV_F32: return "f32";
    }
    return "?";
}

/* ---- the engine's view of the model ------------------------------------------ */

static int runner_forward(void *ctx, const model_batch *b, float *logits, inf_error *err)
{
    runtime *rt = ctx;
    return model_forward(rt->m, rt->kv, b, logits, err);
}

static int runner_forward_greedy(void *ctx, const model_batch *b, int32_t *ids, inf_error *err)
{
    runtime *rt = ctx;
    return model_forward_greedy(rt->m, rt->kv, b, ids, err);
}

static bool runner_is_eog(void *ctx, int32_t token)
{
    runtime *rt = ctx;
    return tok_is_eog(rt->vocab, token);
}

/* The model's id in the API: the file's base name without ".gguf", which users
 * recognise and which never has spaces (general.name often does). */
static void name_from(runtime *rt, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf")) n -= 5;
    if (n >= sizeof rt->model_name) n = sizeof rt->model_name - 1;
    memcpy(rt->model_name, base, n);
    rt->model_name[n] = '\0';
}

/* The model identity that seeds prefix-cache hashes: the file's shape and the KV
 * layout, so that caches of different models or dtypes can never be confused. */
static uint64_t model_identity(const runtime *rt)
{
    uint64_t h = inf_hash_bytes(rt->model_name, strlen(rt->model_name), 1);
    uint64_t facts[4] = {gguf_file_size(rt->file), (uint64_t)gguf_tensor_count(rt->file),
                         (uint64_t)rt->kv_dtype, (uint64_t)rt->block_size};
    return inf_hash_bytes(facts, sizeof facts, h);
}

int runtime_open(const runtime_options *o, runtime **out, inf_error *err)
{
    *out = NULL;
    int rc = INF_OK;
    runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return inf_errorf(err, INF_ERR_NOMEM, "out of memory");
    uint64_t avail_start = runtime_mem_available();

    rc = gguf_open(o->model_path, &rt->file, err);
    if (rc != INF_OK) goto fail;
    name_from(rt, o->model_path);
    for (int64_t i = 0; i < gguf_tensor_count(rt->file); i++)
        rt->weight_bytes += gguf_tensor_at(rt->file, i)->nbytes;

    rc = tok_vocab_load(rt->file, &rt->vocab, err);
    if (rc != INF_OK) {
        inf_error_prefix(err, "%s: tokenizer", o->model_path);
        goto fail;
    }
    if (o->chat_template_file) {
        rc = tmpl_compile_file(o->chat_template_file, &rt->chat, err);
        if (rc != INF_OK) {
            inf_error_prefix(err, "chat template %s", o->chat_template_file);
            goto fail;
        }
    } else {
        gguf_str src;
        if (gguf_get_str(rt->file, "tokenizer.chat_template", &src, NULL) == INF_OK) {
            rc = tmpl_compile(src.ptr, (size_t)src.len, &rt->chat, err);
            if (rc != INF_OK) {
                inf_error_prefix(err, "%s: the model's chat template cannot be used (supply "
                                 "another with --chat-template FILE)", o->model_path);
                goto fail;
            }
        }
    }

    rc = be_create(o->backend, o->n_threads, &rt->be, err);
    if (rc != INF_OK) goto fail;
    int32_t max_seqs = o->max_num_seqs > 0 ? o->max_num_seqs : 64;
    int32_t max_rows = o->max_batch_tokens > 0 ? o->max_batch_tokens : 512;
    if (max_seqs > max_rows) max_seqs = max_rows;
    model_options mo = {.max_rows = max_rows, .max_out = max_seqs};
    rc = model_load(rt->file, rt->be, &mo, &rt->m, err);
    if (rc != INF_OK) {
        inf_error_prefix(err, "%s", o->model_path);
        goto fail;
    }
    rt->n_ctx = (int32_t)rt->m->hp.n_ctx_train;
    if (o->ctx_size > 0) rt->n_ctx = o->ctx_size;
    if (rt->n_ctx < 2) {
        rc = inf_errorf(err, INF_ERR_INVALID, "context size %d is too small", rt->n_ctx);
        goto fail;
    }

    /* Size the KV pool once. */
    rt->block_size = o->block_size > 0 ? o->block_size : 16;
    rt->kv_dtype = o->kv_dtype;
    be_kv_config kc;
    model_kv_config(rt->m, 1, rt->block_size, rt->kv_dtype, &kc);
    rt->kv_bytes_per_token = be_kv_bytes_per_token(&kc);
    uint64_t per_block = rt->kv_bytes_per_token * (uint64_t)rt->block_size;
    uint64_t budget = o->kv_cache_bytes;
    uint64_t dev_free = 0, dev_total = 0;
    bool device = be_mem_info(rt->be, &dev_free, &dev_total) == INF_OK;
    if (!budget && device) {
        budget = runtime_device_kv_budget(dev_free, dev_total, o->gpu_memory_fraction);
        if (!budget) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "the weights leave no room for a KV cache in "
                            "%.2f of the device's %.1f GiB (%.1f GiB free); raise "
                            "--gpu-memory-fraction", o->gpu_memory_fraction,
                            (double)dev_total / (1 << 30), (double)dev_free / (1 << 30));
            goto fail;
        }
    } else if (!budget) {
        uint64_t avail = runtime_mem_available();
        /* Weights are mapped, not yet resident: count them as spoken for. */
        uint64_t after = avail > rt->weight_bytes ? avail - rt->weight_bytes : avail / 2;
        double frac = o->kv_cache_fraction > 0 ? o->kv_cache_fraction : 0.25;
        budget = (uint64_t)((double)after * frac);
    }
    int64_t blocks_per_seq = (rt->n_ctx + rt->block_size - 1) / rt->block_size;
    int64_t n_blocks = (int64_t)(budget / per_block);
    int64_t useful = blocks_per_seq * max_seqs; /* more can never be owned at once */
    if (n_blocks > useful) n_blocks = useful;
    if (n_blocks > INT32_MAX / rt->block_size) n_blocks = INT32_MAX / rt->block_size;
    if (n_blocks < 1) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "the KV cache budget of %llu bytes holds no block of "
                        "%d tokens (%llu bytes)", (unsigned long long)budget, rt->block_size,
                        (unsigned long long)per_block);
        goto fail;
    }
    rt->n_blocks = (int32_t)n_blocks;
    rt->kv_bytes = (uint64_t)n_blocks * per_block;
    model_kv_config(rt->m, rt->n_blocks, rt->block_size, rt->kv_dtype, &kc);
    rc = be_kv_create(rt->be, &kc, &rt->kv, err);
    if (rc != INF_OK) goto fail;

    rt->prefix_cache_bytes = o->prefix_cache_bytes;
    if (!rt->prefix_cache_bytes) {
        double frac = o->prefix_cache_fraction > 0 ? o->prefix_cache_fraction : 0.20;
        uint64_t base = device ? dev_total : avail_start;
        rt->prefix_cache_bytes = (uint64_t)((double)base * frac);
    }
    if (o->no_prefix_cache) rt->prefix_cache_bytes = 0;

    rt->runner = (engine_runner){.ctx = rt, .n_vocab = (int32_t)rt->m->hp.n_vocab,
                                 .n_ctx = rt->n_ctx, .max_rows = rt->m->max_rows,
                                 .max_out = rt->m->max_out, .forward = runner_forward,
                                 .is_eog = runner_is_eog};
    /* Backends that find row maxima themselves send back one id a row. */
    if (be_has_argmax(rt->be)) rt->runner.forward_greedy = runner_forward_greedy;
    engine_config ec = {.max_num_seqs = max_seqs, .max_batch_tokens = max_rows,
                        .max_queue = o->max_queue, .block_size = rt->block_size,
                        .n_blocks = rt->n_blocks, .bytes_per_block = per_block,
                        .prefix_cache = !o->no_prefix_cache,
                        .prefix_cache_bytes = rt->prefix_cache_bytes,
                        .model_id = model_identity(rt)};
    rc = engine_create(&ec, &rt->runner, &rt->eng, err);
    if (rc != INF_OK) goto fail;
    *out = rt;
    return INF_OK;
fail:
    runtime_close(rt);
    return rc;
}

void runtime_close(runtime *rt)
{
    if (!rt) return;
    engine_destroy(rt->eng);
    if (rt->be) be_kv_destroy(rt->be, rt->kv);
    model_free(rt->m);
    be_destroy(rt->be);
    tmpl_free(rt->chat);
    tok_vocab_free(rt->vocab);
    gguf_close(rt->file);
    free(rt);
}
