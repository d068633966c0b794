/* seq.h: one sequence run step by step on a model — feed tokens (prefill in
 * chunks of the model's max rows, or one decode token), get the last row's
 * logits, roll back. The building block of `inferd run`, `bench-model` and the
 * model tests; the engine (src/engine/) batches many sequences itself.
 *
 * The sequence borrows a KV pool and one block table long enough for max_ctx
 * tokens (e.g. a slot of model_kvslots). One thread at a time. */
#ifndef INFERD_MODEL_SEQ_H
#define INFERD_MODEL_SEQ_H

#include <stdint.h>

#include "model/model.h"

typedef struct model_seq {
    model *m;
    be_kv *kv;
    const int32_t *blocks;   /* (n_blocks) physical block ids */
    int32_t n_blocks;
    int32_t max_ctx;         /* n_blocks * B */
    int32_t len;             /* tokens in KV so far */
    int32_t chunk;           /* rows per prefill step; default the model's max rows */
} model_seq;

/* Starts an empty sequence over a block table of n_blocks blocks of kv. */
void model_seq_init(model_seq *s, model *m, be_kv *kv, const int32_t *blocks, int32_t n_blocks);

/* Appends n tokens (n >= 1) at positions len..len+n-1 in steps of at most
 * s->chunk rows and, when logits is non-NULL, writes the logits of the last
 * token ((v) floats). Returns INF_ERR_RANGE when the context would pass
 * max_ctx (nothing fed then), or the model's error. */
int model_seq_feed(model_seq *s, const int32_t *tokens, int32_t n, float *logits,
                   inf_error *err);

/* Forgets the last r tokens (r <= len): the next feed overwrites them. */
void model_seq_rollback(model_seq *s, int32_t r);

#endif
