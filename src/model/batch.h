/* batch.h: the batch contract — what one model step computes (DESIGN.md, "Batch").
 *
 * A step is one flat batch of n token rows drawn from any number of sequences.
 * For one sequence the batch may hold a prefill chunk (many rows), a single
 * decode row, or the k+1 rows that verify a speculative draft; all of these
 * travel together, so every matrix multiply sees one (n, d) activation matrix.
 *
 *   rows       token[i], pos[i], seq[i] for i in [0, n)
 *   sequences  seqs[s] for s in [0, n_seq): the sequence's block table and its
 *              KV length after this step
 *   outputs    out_rows[j] for j in [0, n_out): the rows whose logits come back,
 *              in this order (logits row j belongs to batch row out_rows[j])
 *
 * KV addressing. The KV pool is a set of physical blocks of B tokens (B is the
 * pool's block size). A sequence's token at position p lives in physical block
 * blocks[p / B], slot p % B. The step first writes the K/V of every row at its
 * position, then each row attends to the positions 0..pos[i] of its own sequence
 * (causal), minus what a layer's sliding window hides. So every position below
 * pos[i] must either be in the pool already (an earlier step) or be written by a
 * row of this batch.
 *
 * Rollback of the last r positions of a sequence (a rejected draft) is only a
 * length change for whoever owns the block tables: the next step passes a
 * smaller kv_len and overwrites those slots.
 *
 * The arrays are borrowed for the duration of one forward call; the model
 * copies what it needs (the backend uploads them once per step). */
#ifndef INFERD_MODEL_BATCH_H
#define INFERD_MODEL_BATCH_H

#include <stdint.h>

#include "core/error.h"

/* One sequence of the batch. */
typedef struct model_batch_seq {
    const int32_t *blocks;   /* (n_blocks) physical block ids, logical order */
    int32_t n_blocks;        /* entries in blocks; n_blocks * B >= kv_len */
    int32_t kv_len;          /* tokens of KV valid after this step: every row of
                              * this sequence has pos < kv_len */
} model_batch_seq;

typedef struct model_batch {
    int32_t n;                     /* rows in this step, 1..max rows of the model */
    const int32_t *token;          /* (n) token ids, < n_vocab */
    const int32_t *pos;            /* (n) position of each row in its sequence */
    const int32_t *seq;            /* (n) index into seqs */
    int32_t n_seq;                 /* sequences in this step */
    const model_batch_seq *seqs;   /* (n_seq) */
    int32_t n_out;                 /* rows whose logits are wanted, 0..n */
    const int32_t *out_rows;       /* (n_out) row indices, each in [0, n), no repeats */
} model_batch;

/* Checks a batch against the limits of a model and its KV pool: row and
 * sequence indices in range, token ids < n_vocab, 0 <= pos < kv_len of the row's
 * sequence, block tables long enough for kv_len and ids < n_pool_blocks, rows of
 * one sequence in strictly increasing position order, out_rows unique and in
 * range, n <= max_rows. Returns INF_OK or INF_ERR_INVALID / INF_ERR_RANGE with a
 * message naming the row or sequence. Pure; any thread. */
int model_batch_validate(const model_batch *b, int32_t n_vocab, int32_t max_rows,
                         int32_t n_pool_blocks, int32_t block_size, inf_error *err);

#endif
