/* session.c: open, size and close one model for a tool (see session.h). */
#include "model/session.h"

#include <string.h>

int model_session_open(model_session *s, const char *path, const char *backend, int n_threads,
                       const model_options *opt, inf_error *err)
{
    memset(s, 0, sizeof *s);
    int rc = gguf_open(path, &s->file, err);
    if (!rc) rc = be_create(backend, n_threads, &s->be, err);
    if (!rc) rc = model_load(s->file, s->be, opt, &s->m, err);
    if (rc) model_session_close(s);
    return rc;
}

int model_session_kv(model_session *s, int32_t n_slots, int32_t max_ctx, uint64_t shuffle_seed,
                     be_kv_dtype dtype, inf_error *err)
{
    int rc = model_kvslots_init(&s->ks, n_slots, max_ctx, MODEL_SESSION_BLOCK, shuffle_seed, err);
    if (rc) return rc;
    be_kv_config kc;
    model_kv_config(s->m, model_kvslots_pool_blocks(&s->ks), MODEL_SESSION_BLOCK, dtype, &kc);
    be_kv *kv = NULL;
    rc = be_kv_create(s->be, &kc, &kv, err);
    if (rc) model_kvslots_free(&s->ks);
    else s->kv = kv;
    return rc;
}

void model_session_seq(model_session *s, int32_t slot, model_seq *out)
{
    model_seq_init(out, s->m, s->kv, model_kvslots_table(&s->ks, slot), s->ks.blocks_per_slot);
}

void model_session_close(model_session *s)
{
    if (s->be) be_kv_destroy(s->be, s->kv);
    model_kvslots_free(&s->ks);
    model_free(s->m);
    be_destroy(s->be);
    gguf_close(s->file);
    memset(s, 0, sizeof *s);
}
