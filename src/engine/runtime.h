/* runtime.h: everything a served model needs, opened and sized once: the GGUF
 * file, a backend, the model's weights and activations, the KV pool (backend
 * storage + kv/ block allocator), the tokenizer, the chat template and the engine.
 *
 * `inferd serve` and the in-process engine benchmark open one runtime; the server
 * then talks to rt->engine only through its queue (engine.h), and uses rt->vocab
 * and rt->chat from its own threads (both are immutable and thread-safe).
 *
 * Sizing (DESIGN.md, "Memory"): the KV pool is sized at open from --kv-cache-bytes
 * or --kv-cache-fraction of the memory available after the weights, and never
 * grows; it is capped at what max_num_seqs sequences of the full context need.
 * On a backend with its own device memory (CUDA) the pool takes what the weights
 * and scratch leave of --gpu-memory-fraction of the device's memory instead
 * (runtime_device_kv_budget). The prefix cache may keep at most
 * --prefix-cache-bytes (default 20% of the memory available at start, host or
 * device) of unowned blocks. */
#ifndef INFERD_ENGINE_RUNTIME_H
#define INFERD_ENGINE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "core/error.h"
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

typedef struct runtime_options {
    const char *model_path;
    const char *backend;          /* NULL: the default backend */
    int n_threads;                /* <= 0: one per core */
    int32_t ctx_size;             /* 0: the model's training context */
    int32_t max_num_seqs;         /* default 64 */
    int32_t max_batch_tokens;     /* default 512 */
    int32_t max_queue;            /* default 1024 */
    int32_t block_size;           /* default 16 */
    be_kv_dtype kv_dtype;         /* default F16 */
    uint64_t kv_cache_bytes;      /* 0: use kv_cache_fraction */
    double kv_cache_fraction;     /* of memory available after weights; default 0.25 */
    double gpu_memory_fraction;   /* device backends: share of the device's memory for
                                   * weights, scratch and KV pool; default 0.90 */
    bool no_prefix_cache;
    uint64_t prefix_cache_bytes;  /* 0: use prefix_cache_fraction */
    double prefix_cache_fraction; /* of memory available at start; default 0.20 */
    const char *chat_template_file; /* NULL: the model's tokenizer.chat_template */
} runtime_options;

void runtime_options_init(runtime_options *o);

/* KV pool bytes on a device with free_bytes free of total_bytes once the
 * weights and scratch are loaded, when this process may use fraction of the
 * device in all: what is left of that share, less a reserve for the scratch that
 * grows with the first batches (0 when nothing is left). Pure. */
uint64_t runtime_device_kv_budget(uint64_t free_bytes, uint64_t total_bytes, double fraction);

typedef struct runtime {
    gguf_file *file;
    be_backend *be;
    model *m;
    be_kv *kv;
    tok_vocab *vocab;
    tmpl_template *chat;          /* NULL when the model has no template */
    engine *eng;
    engine_runner runner;
    char model_name[256];         /* the file's base name without .gguf: the API model id */
    int32_t n_ctx;
    int32_t n_blocks, block_size;
    uint64_t kv_bytes;            /* pool storage */
    uint64_t kv_bytes_per_token;
    uint64_t prefix_cache_bytes;  /* budget */
    uint64_t weight_bytes;
    be_kv_dtype kv_dtype;
} runtime;

/* Opens everything; the engine thread is not started (engine_start). On failure
 * *out is NULL and err says which part failed. */
int runtime_open(const runtime_options *o, runtime **out, inf_error *err);

/* Stops the engine and frees everything. NULL allowed. */
void runtime_close(runtime *rt);

/* Bytes of memory available to the process now (MemAvailable), 0 if unknown. */
uint64_t runtime_mem_available(void);

/* "f16" / "bf16" / "q8" <-> dtype; -1 for an unknown name. */
int runtime_kv_dtype_from_name(const char *name);
const char *runtime_kv_dtype_name(be_kv_dtype t);

#endif
