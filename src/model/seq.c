/* seq.c: feeding one sequence through the model (see seq.h). */
#include "model/seq.h"


/* Rows per step fed from here; the position arrays live on the stack so that a
 * decode step allocates nothing. */
#define SEQ_MAX_CHUNK 1024

void model_seq_init(model_seq *s, model *m, be_kv *kv, const int32_t *blocks, int32_t n_blocks)
{
    const be_kv_config *kc = be_kv_config_of(kv);
    s->m = m;
    s->kv = kv;
    s->blocks = blocks;
    s->n_blocks = n_blocks;
    s->max_ctx = n_blocks * kc->block_size;
    s->len = 0;
    s->chunk = m->max_rows;
}

int model_seq_feed(model_seq *s, const int32_t *tokens, int32_t n, float *logits, inf_error *err)
{
    if (n < 1) return inf_errorf(err, INF_ERR_INVALID, "nothing to feed");
    if ((int64_t)s->len + n > s->max_ctx)
        return inf_errorf(err, INF_ERR_RANGE, "context full: %d tokens + %d new > %d", s->len, n,
                          s->max_ctx);
    int32_t chunk = s->chunk > 0 && s->chunk <= s->m->max_rows ? s->chunk : s->m->max_rows;
    if (chunk > SEQ_MAX_CHUNK) chunk = SEQ_MAX_CHUNK;
    int32_t pos[SEQ_MAX_CHUNK], seq[SEQ_MAX_CHUNK];
    int rc = INF_OK;
    for (int32_t done = 0; done < n;) {
        int32_t c = n - done < chunk ? n - done : chunk;
        for (int32_t i = 0; i < c; i++) {
            pos[i] = s->len + i;
            seq[i] = 0;
        }
        bool last = done + c == n;
        int32_t out_row = c - 1;
        model_batch_seq bs = {.blocks = s->blocks, .n_blocks = s->n_blocks, .kv_len = s->len + c};
        model_batch b = {
            .n = c, .token = tokens + done, .pos = pos, .seq = seq, .n_seq = 1, .seqs = &bs,
            .n_out = last && logits ? 1 : 0, .out_rows = &out_row,
        };
        rc = model_forward(s->m, s->kv, &b, logits, err);
        if (rc) return rc;
        s->len += c;
        done += c;
    }
    return rc;
}

void model_seq_rollback(model_seq *s, int32_t r)
{
    INF_ASSERT(r >= 0 && r <= s->len);
    s->len -= r;
}
