/* test_engine_model.c: the engine on real model graphs. Greedy outputs must be
 * identical with the prefix cache on and off, with any block size, with chunked
 * prefill of any chunk size, and whether sequences run together or alone (the
 * oracle: model_seq, one sequence fed step by step). Runs on a synthetic tiny
 * model the test writes itself, and on stories260K where ../shared is present
 * (there the ids must also equal llama.cpp's golden ids). */
#include "check.h"
#include "engine/runtime.h"
#include "model/kvslots.h"
#include "model/seq.h"
#include "model/synth.h"

#include <stdlib.h>
#include <unistd.h>

enum { N_REQ = 12, MAX_NEW = 24, MAXP = 160 };

typedef struct prompt_set {
    int32_t ids[N_REQ][MAXP];
    int32_t n[N_REQ];
    int32_t want[N_REQ][MAX_NEW];
    int32_t n_want[N_REQ];
} prompt_set;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Prompts sharing prefixes of various lengths (some longer than a block). */
static void make_prompts(prompt_set *ps, int32_t n_vocab, int32_t bos)
{
    int32_t base[MAXP];
    for (int i = 0; i < MAXP; i++) base[i] = 3 + (int32_t)rnd((uint32_t)n_vocab - 3);
    for (int r = 0; r < N_REQ; r++) {
        int32_t shared = (int32_t)rnd(100), own = 1 + (int32_t)rnd(40);
        ps->ids[r][0] = bos;
        for (int32_t j = 1; j < shared; j++) ps->ids[r][j] = base[j];
        for (int32_t j = 0; j < own; j++) ps->ids[r][shared + j] = 3 + (int32_t)rnd((uint32_t)n_vocab - 3);
        ps->n[r] = (shared > 1 ? shared : 1) + own;
        if (shared <= 1) memmove(&ps->ids[r][1], &ps->ids[r][shared], (size_t)own * 4);
    }
}

static int32_t argmax(const float *v, int32_t n)
{
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* The oracle: each prompt alone, fed in one piece, greedy, through model_seq. */
static void solo_reference(runtime *rt, prompt_set *ps)
{
    model *m = rt->m;
    int32_t V = (int32_t)m->hp.n_vocab;
    float *logits = malloc((size_t)V * sizeof *logits);
    be_kv_config kc;
    int32_t B = 16, nb = (MAXP + MAX_NEW + B - 1) / B;
    model_kv_config(m, nb, B, rt->kv_dtype, &kc);
    be_kv *kv = NULL;
    inf_error err;
    CHECK_EQ_INT(be_kv_create(rt->be, &kc, &kv, &err), INF_OK);
    int32_t blocks[64];
    for (int32_t i = 0; i < nb; i++) blocks[i] = i;
    for (int r = 0; r < N_REQ; r++) {
        model_seq s;
        model_seq_init(&s, m, kv, blocks, nb);
        int rc = model_seq_feed(&s, ps->ids[r], ps->n[r], logits, &err);
        CHECK_MSG(rc == INF_OK, "solo prefill: %s", err.msg);
        ps->n_want[r] = 0;
        for (int g = 0; g < MAX_NEW && rc == INF_OK; g++) {
            int32_t t = argmax(logits, V);
            ps->want[r][ps->n_want[r]++] = t;
            if (tok_is_eog(rt->vocab, t)) break;
            rc = model_seq_feed(&s, &t, 1, logits, &err);
        }
    }
    be_kv_destroy(rt->be, kv);
    free(logits);
}

/* All prompts at once through the engine; compares with the oracle. */
static void engine_matches(const char *path, const char *backend, prompt_set *ps, int32_t B,
                           int32_t chunk, bool cache, const char *label)
{
    runtime_options o;
    runtime_options_init(&o);
    o.model_path = path;
    o.backend = backend;
    o.n_threads = 2;
    o.ctx_size = MAXP + MAX_NEW + 8;
    o.block_size = B;
    o.max_batch_tokens = chunk;
    o.max_num_seqs = 8;
    o.kv_cache_bytes = 64ull << 20;
    o.no_prefix_cache = !cache;
    runtime *rt = NULL;
    inf_error err;
    int rc = runtime_open(&o, &rt, &err);
    CHECK_MSG(rc == INF_OK, "%s: runtime_open: %s", label, err.msg);
    if (rc != INF_OK) return;
    engine_request *req[N_REQ];
    /* Twice: the second round hits the prefix cache left by the first. */
    for (int round = 0; round < 2; round++) {
        for (int r = 0; r < N_REQ; r++) {
            engine_request_params p;
            memset(&p, 0, sizeof p);
            sampler_params_init(&p.sampling);
            p.sampling.temperature = 0.0f;
            p.max_tokens = MAX_NEW;
            CHECK_EQ_INT(engine_request_create(ps->ids[r], ps->n[r], &p, &req[r], &err), INF_OK);
            CHECK_EQ_INT(engine_submit(rt->eng, req[r], &err), INF_OK);
        }
        rc = engine_run_until_idle(rt->eng, &err);
        CHECK_MSG(rc == INF_OK, "%s: %s", label, err.msg);
        int bad = 0;
        for (int r = 0; r < N_REQ; r++) {
            engine_finish f;
            int32_t n = engine_request_wait(req[r], -1, 0, &f);
            bool same = n == ps->n_want[r];
            for (int32_t j = 0; same && j < n; j++)
                same = engine_request_token(req[r], j) == ps->want[r][j];
            if (!same && bad++ == 0) {
                fprintf(stderr, "%s round %d: request %d differs (%d vs %d tokens):", label,
                        round, r, n, ps->n_want[r]);
                for (int32_t j = 0; j < n && j < 8; j++)
                    fprintf(stderr, " %d/%d", engine_request_token(req[r], j), ps->want[r][j]);
                fprintf(stderr, "\n");
            }
            engine_request_release(req[r]);
        }
        CHECK_MSG(bad == 0, "%s round %d: %d of %d requests differ from solo runs", label, round,
                  bad, N_REQ);
    }
    engine_stats st;
    engine_get_stats(rt->eng, &st);
    CHECK_EQ_INT(st.kv.owned_blocks, 0);
    if (cache) CHECK_MSG(st.kv.hit_blocks > 0, "%s: no prefix-cache hit", label);
    CHECK_EQ_INT(engine_check(rt->eng, &err), INF_OK);
    runtime_close(rt);
}

static void suite(const char *path, const char *backend, const char *name)
{
    runtime_options o;
    runtime_options_init(&o);
    o.model_path = path;
    o.backend = backend;
    o.ctx_size = MAXP + MAX_NEW + 8;
    o.kv_cache_bytes = 16ull << 20;
    runtime *rt = NULL;
    inf_error err;
    if (runtime_open(&o, &rt, &err) != INF_OK) {
        CHECK_MSG(0, "%s: %s", name, err.msg);
        return;
    }
    prompt_set *ps = calloc(1, sizeof *ps);
    int32_t bos = tok_vocab_special(rt->vocab, TOK_SPECIAL_BOS);
    make_prompts(ps, (int32_t)rt->m->hp.n_vocab, bos >= 0 ? bos : 3);
    solo_reference(rt, ps);
    runtime_close(rt);
    char label[128];
    static const struct { int32_t B, chunk; bool cache; } cfgs[] = {
        {16, 512, true}, {16, 512, false}, {5, 512, true}, {16, 7, true}, {1, 33, true}, {32, 1, false},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        snprintf(label, sizeof label, "%s B=%d chunk=%d cache=%d", name, cfgs[i].B, cfgs[i].chunk,
                 cfgs[i].cache);
        engine_matches(path, backend, ps, cfgs[i].B, cfgs[i].chunk, cfgs[i].cache, label);
    }
    free(ps);
}

int main(void)
{
    const char *backend = getenv("INFERD_TEST_BACKEND"); /* NULL: the default */
    char path[] = "/tmp/inferd-test-engine-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    synth_config sc;
    inf_error err;
    CHECK_EQ_INT(synth_preset("tiny", ARCH_UNKNOWN, &sc, &err), INF_OK);
    sc.seed = 11;
    int rc = synth_write(&sc, path, 2, NULL, &err);
    CHECK_MSG(rc == INF_OK, "synth: %s", err.msg);
    if (rc == INF_OK) suite(path, backend, "synth-tiny");
    unlink(path);

    char buf[1024];
    const char *stories = check_testdata("models/stories260K.gguf", buf, sizeof buf);
    if (stories) suite(stories, backend, "stories260K");
    else printf("stories260K: skipped (../shared/testdata absent)\n");
    return check_done();
}
