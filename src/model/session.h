/* session.h: one model opened for a single-process tool — the GGUF file, a
 * backend, the model on it, fixed KV slots (model_kvslots) and a KV pool over
 * them. The shared start-up and tear-down of `inferd run`, `bench-model` and the
 * model tests; the server opens an engine runtime instead (engine/runtime.h).
 *
 * Open in two steps, because a tool may need the model's hyper-parameters (or
 * the file's tokenizer) to size the context: model_session_open, then
 * model_session_kv. One thread at a time. */
#ifndef INFERD_MODEL_SESSION_H
#define INFERD_MODEL_SESSION_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/kvslots.h"
#include "model/model.h"
#include "model/seq.h"

/* Tokens per KV block of a session's pool. */
#define MODEL_SESSION_BLOCK 16

typedef struct model_session {
    gguf_file *file;
    be_backend *be;
    model *m;
    model_kvslots ks;    /* zeroed until model_session_kv */
    be_kv *kv;           /* NULL until model_session_kv */
} model_session;

/* Opens the GGUF file at path, creates the backend named backend (NULL: the
 * default) with n_threads workers (<= 0: one per core) and loads the model for
 * opt's sizes (NULL: defaults). On failure s is left closed (zeroed) and err
 * names the part that failed. Free with model_session_close. */
int model_session_open(model_session *s, const char *path, const char *backend, int n_threads,
                       const model_options *opt, inf_error *err);

/* Gives an open session n_slots slots of max_ctx tokens each (block ids
 * shuffled when shuffle_seed is nonzero, see kvslots.h) and a pool of dtype
 * for them. Call once. On failure the session stays open without a pool. */
int model_session_kv(model_session *s, int32_t n_slots, int32_t max_ctx, uint64_t shuffle_seed,
                     be_kv_dtype dtype, inf_error *err);

/* Starts an empty sequence on slot `slot` (after model_session_kv). */
void model_session_seq(model_session *s, int32_t slot, model_seq *out);

/* Frees everything the session opened and zeroes it. A zeroed session (or one
 * closed already) is allowed. */
void model_session_close(model_session *s);

#endif
