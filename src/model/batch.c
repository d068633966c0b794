/* batch.c: validation of a step's batch (see batch.h for the contract). */
#include "model/batch.h"

int model_batch_validate(const model_batch *b, int32_t n_vocab, int32_t max_rows,
                         int32_t n_pool_blocks, int32_t block_size, inf_error *err)
{
    if (b->n < 1 || b->n > max_rows)
        return inf_errorf(err, INF_ERR_RANGE, "batch has %d rows; allowed 1..%d", b->n, max_rows);
    if (b->n_seq < 1 || b->n_seq > b->n)
        return inf_errorf(err, INF_ERR_RANGE, "batch has %d sequences for %d rows", b->n_seq,
                          b->n);
    if (b->n_out < 0 || b->n_out > b->n)
        return inf_errorf(err, INF_ERR_RANGE, "batch asks for %d output rows of %d", b->n_out,
                          b->n);
    if (!b->token || !b->pos || !b->seq || !b->seqs || (b->n_out > 0 && !b->out_rows))
        return inf_errorf(err, INF_ERR_INVALID, "batch has a NULL array");
    for (int32_t s = 0; s < b->n_seq; s++) {
        const model_batch_seq *q = &b->seqs[s];
        if (q->kv_len < 1 || q->n_blocks < 0 ||
            (int64_t)q->n_blocks * block_size < (int64_t)q->kv_len)
            return inf_errorf(err, INF_ERR_RANGE,
                              "sequence %d: kv_len %d needs %d blocks of %d, table has %d", s,
                              q->kv_len, (q->kv_len + block_size - 1) / block_size, block_size,
                              q->n_blocks);
        if (q->n_blocks > 0 && !q->blocks)
            return inf_errorf(err, INF_ERR_INVALID, "sequence %d: NULL block table", s);
        int32_t used = (q->kv_len + block_size - 1) / block_size;
        for (int32_t j = 0; j < used; j++)
            if (q->blocks[j] < 0 || q->blocks[j] >= n_pool_blocks)
                return inf_errorf(err, INF_ERR_RANGE,
                                  "sequence %d: block table entry %d is %d; pool has %d blocks",
                                  s, j, q->blocks[j], n_pool_blocks);
    }
    for (int32_t i = 0; i < b->n; i++) {
        if (b->token[i] < 0 || b->token[i] >= n_vocab)
            return inf_errorf(err, INF_ERR_RANGE, "row %d: token id %d outside vocabulary of %d",
                              i, b->token[i], n_vocab);
        if (b->seq[i] < 0 || b->seq[i] >= b->n_seq)
            return inf_errorf(err, INF_ERR_RANGE, "row %d: sequence %d outside 0..%d", i,
                              b->seq[i], b->n_seq - 1);
        const model_batch_seq *q = &b->seqs[b->seq[i]];
        if (b->pos[i] < 0 || b->pos[i] >= q->kv_len)
            return inf_errorf(err, INF_ERR_RANGE,
                              "row %d: position %d outside 0..%d (kv_len of sequence %d)", i,
                              b->pos[i], q->kv_len - 1, b->seq[i]);
        /* Rows of a sequence go in increasing position order; a quadratic scan
         * back to the previous row of the same sequence would be slow on long
         * prefills, so compare with the nearest earlier row of that sequence. */
        for (int32_t j = i - 1; j >= 0; j--) {
            if (b->seq[j] != b->seq[i]) continue;
            if (b->pos[j] >= b->pos[i])
                return inf_errorf(err, INF_ERR_INVALID,
                                  "row %d: position %d not after row %d's position %d of the "
                                  "same sequence", i, b->pos[i], j, b->pos[j]);
            break;
        }
    }
    for (int32_t j = 0; j < b->n_out; j++) {
        if (b->out_rows[j] < 0 || b->out_rows[j] >= b->n)
            return inf_errorf(err, INF_ERR_RANGE, "output %d: row %d outside 0..%d", j,
                              b->out_rows[j], b->n - 1);
        for (int32_t k = 0; k < j; k++)
            if (b->out_rows[k] == b->out_rows[j])
                return inf_errorf(err, INF_ERR_INVALID, "output row %d asked for twice",
                                  b->out_rows[j]);
    }
    return INF_OK;
}
