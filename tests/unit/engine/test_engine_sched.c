/* test_engine_sched.c: the scheduler, prefix cache and preemption against a fake
 * model that really reads its "KV" through the block tables.
 *
 * The fake runner stores, for every (block, slot), the token written there. Its
 * logits for a row put all mass on next = F(tokens visible to the row), where the
 * visible tokens are read back from the pool through the row's block table. So any
 * mistake in block tables, prefix-cache reuse, chunking, preemption or rollback
 * changes the generated ids, and the test compares them with an oracle that runs
 * F over the plain token list. */
#include "check.h"
#include "core/hash.h"
#include "engine/engine.h"

#include <pthread.h>
#include <stdlib.h>

enum { VOCAB = 97, EOG = 1 };

typedef struct fake_model {
    int32_t B, n_blocks;
    int32_t *slot_tok;   /* (n_blocks * B) */
    int32_t n_ctx;
    uint64_t forwards;          /* steps that sent logits back */
    uint64_t greedy_forwards;   /* steps that sent token ids back */
} fake_model;

static int32_t next_of(const int32_t *toks, int32_t n)
{
    uint64_t h = inf_hash_i32(toks, (size_t)n, 99);
    /* Never EOG unless the context happens to produce it 1 time in ~95. */
    return (int32_t)(h % (VOCAB - 1)) + 1;
}

/* One step: stores the batch's tokens, then for each output row either writes
 * logits that make the next token the most likely (logits != NULL) or that
 * token itself (ids), as a backend that finds row maxima would. */
static int fake_step(fake_model *m, const model_batch *b, float *logits, int32_t *ids,
                     inf_error *err)
{
    inf_error verr;
    if (model_batch_validate(b, VOCAB, 1 << 20, m->n_blocks, m->B, &verr) != INF_OK)
        return inf_errorf(err, INF_ERR_INTERNAL, "invalid batch: %s", verr.msg);
    for (int32_t i = 0; i < b->n; i++) {
        const model_batch_seq *s = &b->seqs[b->seq[i]];
        int32_t p = b->pos[i];
        m->slot_tok[s->blocks[p / m->B] * m->B + p % m->B] = b->token[i];
    }
    int32_t vis[4096];
    for (int32_t j = 0; j < b->n_out; j++) {
        int32_t i = b->out_rows[j];
        const model_batch_seq *s = &b->seqs[b->seq[i]];
        int32_t n = b->pos[i] + 1;
        for (int32_t p = 0; p < n; p++) vis[p] = m->slot_tok[s->blocks[p / m->B] * m->B + p % m->B];
        if (ids) {
            ids[j] = next_of(vis, n);
            continue;
        }
        float *row = logits + (size_t)j * VOCAB;
        for (int32_t v = 0; v < VOCAB; v++) row[v] = 0.0f;
        row[next_of(vis, n)] = 10.0f;
    }
    return INF_OK;
}

static int fake_forward(void *ctx, const model_batch *b, float *logits, inf_error *err)
{
    fake_model *m = ctx;
    m->forwards++;
    return fake_step(m, b, logits, NULL, err);
}

static int fake_forward_greedy(void *ctx, const model_batch *b, int32_t *ids, inf_error *err)
{
    fake_model *m = ctx;
    m->greedy_forwards++;
    return fake_step(m, b, NULL, ids, err);
}

static bool fake_is_eog(void *ctx, int32_t t) { return t == EOG; }

/* What greedy generation must produce for a prompt. */
static int32_t oracle(const int32_t *prompt, int32_t n_prompt, int32_t max_tokens, int32_t n_ctx,
                      int32_t *out)
{
    int32_t toks[4096];
    memcpy(toks, prompt, (size_t)n_prompt * sizeof *toks);
    int32_t n = n_prompt, g = 0;
    while (g < max_tokens && n < n_ctx) {
        int32_t t = next_of(toks, n);
        out[g++] = t;
        toks[n++] = t;
        if (t == EOG) break;
    }
    return g;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

typedef struct scenario {
    int32_t B, n_blocks, max_batch_tokens, max_num_seqs, n_ctx;
    bool prefix_cache;
    bool device_argmax;   /* the runner offers forward_greedy */
} scenario;

static engine *make_engine(const scenario *sc, fake_model *m)
{
    m->B = sc->B;
    m->n_blocks = sc->n_blocks;
    m->n_ctx = sc->n_ctx;
    m->slot_tok = calloc((size_t)sc->n_blocks * (size_t)sc->B, sizeof(int32_t));
    engine_runner r = {.ctx = m, .n_vocab = VOCAB, .n_ctx = sc->n_ctx, .max_rows = 4096,
                       .max_out = 4096, .forward = fake_forward, .is_eog = fake_is_eog};
    if (sc->device_argmax) r.forward_greedy = fake_forward_greedy;
    engine_config c = {.max_num_seqs = sc->max_num_seqs, .max_batch_tokens = sc->max_batch_tokens,
                       .block_size = sc->B, .n_blocks = sc->n_blocks, .bytes_per_block = 100,
                       .prefix_cache = sc->prefix_cache, .model_id = 5};
    engine *e = NULL;
    inf_error err;
    int rc = engine_create(&c, &r, &e, &err);
    CHECK_MSG(rc == INF_OK, "engine_create: %s", err.msg);
    return e;
}

static engine_request_params greedy(int32_t max_tokens)
{
    engine_request_params p;
    memset(&p, 0, sizeof p);
    sampler_params_init(&p.sampling);
    p.sampling.temperature = 0.0f;
    p.max_tokens = max_tokens;
    return p;
}

/* Many requests with shared prefixes, all submitted at once, run to completion;
 * every output must equal the oracle and the pool must end with no owner. */
/* logprobs_every > 0: every such request asks for logprobs (not plain greedy). */
static void run_scenario_lp(const scenario *sc, int n_req, int logprobs_every, const char *label)
{
    fake_model m = {0};
    engine *e = make_engine(sc, &m);
    enum { MAXR = 64 };
    engine_request *req[MAXR];
    int32_t base[300];
    for (int i = 0; i < 300; i++) base[i] = (int32_t)rnd(VOCAB - 2) + 2;
    int mismatches = 0;
    for (int i = 0; i < n_req; i++) {
        int32_t prompt[300];
        int32_t shared = (int32_t)rnd(120), own = 1 + (int32_t)rnd(60);
        for (int32_t j = 0; j < shared; j++) prompt[j] = base[j];
        for (int32_t j = 0; j < own; j++) prompt[shared + j] = (int32_t)rnd(VOCAB - 2) + 2;
        engine_request_params p = greedy(1 + (int32_t)rnd(40));
        if (logprobs_every > 0 && i % logprobs_every == 0) p.logprobs = true;
        inf_error err;
        CHECK_EQ_INT(engine_request_create(prompt, shared + own, &p, &req[i], &err), INF_OK);
        CHECK_EQ_INT(engine_submit(e, req[i], &err), INF_OK);
    }
    inf_error err;
    int rc = engine_run_until_idle(e, &err);
    CHECK_MSG(rc == INF_OK, "%s: run: %s", label, err.msg);
    for (int i = 0; i < n_req; i++) {
        int32_t want[4096];
        int32_t n_want = oracle(req[i]->tokens, req[i]->n_prompt, req[i]->params.max_tokens,
                                sc->n_ctx, want);
        engine_finish f;
        int32_t got = engine_request_wait(req[i], -1, 0, &f);
        bool same = got == n_want && f != ENGINE_RUNNING;
        for (int32_t j = 0; same && j < got; j++) same = engine_request_token(req[i], j) == want[j];
        if (!same && mismatches++ < 3)
            fprintf(stderr, "%s: request %d: got %d tokens (%s), want %d\n", label, i, got,
                    engine_finish_name(f), n_want);
        engine_request_release(req[i]);
    }
    CHECK_MSG(mismatches == 0, "%s: %d requests differ from the oracle", label, mismatches);
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK_EQ_INT(st.kv.owned_blocks, 0);
    CHECK_EQ_INT(st.running, 0);
    CHECK_EQ_INT(st.waiting, 0);
    CHECK_EQ_INT(st.kv.free_blocks + st.kv.cached_blocks, sc->n_blocks);
    rc = engine_check(e, &err);
    CHECK_MSG(rc == INF_OK, "%s: %s", label, err.msg);
    if (sc->prefix_cache) CHECK_MSG(st.kv.hit_blocks > 0, "%s: the prefix cache never hit", label);
    else CHECK_EQ_INT(st.kv.hit_blocks, 0);
    /* Plain greedy steps take the ids path when the runner has one, and only
     * then; a step with a logprobs request needs the logits. */
    if (!sc->device_argmax) CHECK_EQ_INT(m.greedy_forwards, 0);
    if (sc->device_argmax && logprobs_every == 0) {
        CHECK_MSG(m.greedy_forwards > 0 && m.forwards == 0,
                  "%s: %llu steps sent logits back", label, (unsigned long long)m.forwards);
    }
    if (sc->device_argmax && logprobs_every > 0) {
        CHECK_MSG(m.greedy_forwards > 0 && m.forwards > 0, "%s: %llu logits steps, %llu id steps",
                  label, (unsigned long long)m.forwards, (unsigned long long)m.greedy_forwards);
    }
    printf("%s: %llu steps (%llu sent ids back), %llu preemptions, %llu hit blocks\n", label,
           (unsigned long long)st.steps, (unsigned long long)m.greedy_forwards,
           (unsigned long long)st.preemptions, (unsigned long long)st.kv.hit_blocks);
    engine_destroy(e);
    free(m.slot_tok);
}

static void run_scenario(const scenario *sc, int n_req, const char *label)
{
    run_scenario_lp(sc, n_req, 0, label);
}

static void test_outputs_equal_oracle(void)
{
    /* Roomy pool, big chunks. */
    run_scenario(&(scenario){16, 512, 512, 64, 512, true, false}, 40, "roomy");
    run_scenario(&(scenario){16, 512, 512, 64, 512, false, false}, 40, "no-cache");
    /* Odd block size, tiny chunks: prompts prefill over many steps. */
    run_scenario(&(scenario){3, 600, 7, 8, 512, true, false}, 30, "chunked");
    run_scenario(&(scenario){1, 2000, 1, 4, 512, true, false}, 10, "one-token-steps");
    /* A pool far too small for everyone: preemption and recomputation. */
    run_scenario(&(scenario){4, 60, 64, 16, 512, true, false}, 40, "tight-pool");
    run_scenario(&(scenario){4, 60, 64, 16, 512, false, false}, 40, "tight-no-cache");
    /* Context limit: generation stops with "length" at n_ctx. */
    run_scenario(&(scenario){8, 400, 128, 8, 200, true, false}, 20, "short-ctx");
}

/* A runner whose backend picks greedy tokens itself (forward_greedy): the same
 * outputs; steps with a request that wants logprobs still get the logits. */
static void test_device_argmax(void)
{
    run_scenario(&(scenario){16, 512, 512, 64, 512, true, true}, 40, "argmax-roomy");
    run_scenario(&(scenario){3, 600, 7, 8, 512, true, true}, 30, "argmax-chunked");
    run_scenario(&(scenario){4, 60, 64, 16, 512, true, true}, 40, "argmax-tight-pool");
    run_scenario_lp(&(scenario){16, 512, 512, 64, 512, true, true}, 40, 5, "argmax-logprobs");
}

/* The tight scenario must actually preempt, or it tests nothing. */
static void test_preemption_happens(void)
{
    fake_model m = {0};
    scenario sc = {4, 24, 64, 8, 512, true, false};
    engine *e = make_engine(&sc, &m);
    engine_request *r[6];
    for (int i = 0; i < 6; i++) {
        int32_t prompt[20];
        for (int j = 0; j < 20; j++) prompt[j] = 2 + (i * 7 + j) % (VOCAB - 2);
        engine_request_params p = greedy(30);
        engine_request_create(prompt, 20, &p, &r[i], NULL);
        engine_submit(e, r[i], NULL);
    }
    inf_error err;
    CHECK_EQ_INT(engine_run_until_idle(e, &err), INF_OK);
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK(st.preemptions > 0);
    for (int i = 0; i < 6; i++) {
        int32_t want[64];
        int32_t n = oracle(r[i]->tokens, 20, 30, 512, want);
        engine_finish f;
        CHECK_EQ_INT(engine_request_wait(r[i], -1, 0, &f), n);
        for (int32_t j = 0; j < n; j++) CHECK_EQ_INT(engine_request_token(r[i], j), want[j]);
        engine_request_release(r[i]);
    }
    engine_destroy(e);
    free(m.slot_tok);
}

/* Cancellation while waiting, while prefilling, while decoding, after finishing. */
static void test_cancellation(void)
{
    fake_model m = {0};
    scenario sc = {4, 200, 8, 2, 512, true, false};
    engine *e = make_engine(&sc, &m);
    int32_t prompt[40];
    for (int j = 0; j < 40; j++) prompt[j] = 2 + j % 50;
    engine_request *r[4];
    for (int i = 0; i < 4; i++) {
        engine_request_params p = greedy(50);
        p.ignore_eos = true;
        engine_request_create(prompt, 40 - i, &p, &r[i], NULL);
        engine_submit(e, r[i], NULL);
    }
    inf_error err;
    engine_step(e, &err);               /* r0 and r1 prefilling (chunks of 8 rows) */
    engine_request_cancel(r[3]);        /* waiting: max_num_seqs = 2 */
    engine_request_cancel(r[1]);        /* prefilling */
    for (int i = 0; i < 8; i++) engine_step(e, &err);
    engine_finish f;
    CHECK(engine_request_wait(r[0], -1, 0, &f) > 0); /* r0 is decoding now */
    engine_request_cancel(r[0]);
    engine_step(e, &err);
    CHECK_EQ_INT(engine_run_until_idle(e, &err), INF_OK);
    engine_request_wait(r[0], -1, 0, &f);
    CHECK_EQ_INT(f, ENGINE_FINISH_CANCELLED);
    CHECK(r[0]->n_generated < 50);
    engine_request_wait(r[1], -1, 0, &f);
    CHECK_EQ_INT(f, ENGINE_FINISH_CANCELLED);
    CHECK_EQ_INT(r[1]->n_generated, 0);
    engine_request_wait(r[3], -1, 0, &f);
    CHECK_EQ_INT(f, ENGINE_FINISH_CANCELLED);
    engine_request_wait(r[2], -1, 0, &f);
    CHECK_EQ_INT(f, ENGINE_FINISH_LENGTH);
    CHECK_EQ_INT(r[2]->n_generated, 50);
    engine_request_cancel(r[2]);        /* after finishing: no effect */
    engine_step(e, &err);
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK_EQ_INT(st.kv.owned_blocks, 0);
    CHECK_EQ_INT(st.finished_cancelled, 3);
    CHECK_EQ_INT(engine_check(e, &err), INF_OK);
    for (int i = 0; i < 4; i++) engine_request_release(r[i]);
    engine_destroy(e);
    free(m.slot_tok);
}

/* Submission limits: queue full -> busy, prompt too long -> range, bad ids. */
static void test_submit_limits(void)
{
    fake_model m = {0};
    scenario sc = {4, 10, 16, 2, 64, true, false};
    engine *e = make_engine(&sc, &m);
    int32_t prompt[100];
    for (int j = 0; j < 100; j++) prompt[j] = 2;
    engine_request_params p = greedy(4);
    engine_request *r;
    inf_error err;
    engine_request_create(prompt, 64, &p, &r, NULL);
    CHECK_EQ_INT(engine_submit(e, r, &err), INF_ERR_RANGE); /* >= n_ctx */
    CHECK(strstr(err.msg, "context") != NULL);
    engine_request_release(r);
    engine_request_create(prompt, 50, &p, &r, NULL);
    CHECK_EQ_INT(engine_submit(e, r, &err), INF_ERR_RANGE); /* > pool: 40 tokens */
    engine_request_release(r);
    prompt[3] = VOCAB + 5;
    engine_request_create(prompt, 10, &p, &r, NULL);
    CHECK_EQ_INT(engine_submit(e, r, &err), INF_ERR_RANGE);
    CHECK(strstr(err.msg, "vocabulary") != NULL);
    engine_request_release(r);
    p.max_tokens = 0;
    CHECK_EQ_INT(engine_request_create(prompt, 10, &p, &r, &err), INF_ERR_INVALID);
    engine_destroy(e);
    free(m.slot_tok);
}

/* The engine thread with client threads submitting and reading concurrently. */
typedef struct client_arg {
    engine *e;
    int id;
    int ok;
} client_arg;

static void *client(void *arg)
{
    client_arg *a = arg;
    for (int k = 0; k < 20; k++) {
        int32_t prompt[64];
        int32_t n = 5 + (a->id * 13 + k * 7) % 50;
        for (int32_t j = 0; j < n; j++) prompt[j] = 2 + (j * 31 + (j < 20 ? 0 : a->id + k)) % 90;
        engine_request_params p = greedy(3 + k % 17);
        engine_request *r;
        if (engine_request_create(prompt, n, &p, &r, NULL) != INF_OK) return NULL;
        if (engine_submit(a->e, r, NULL) != INF_OK) {
            engine_request_release(r);
            return NULL;
        }
        int32_t want[64];
        int32_t n_want = oracle(prompt, n, p.max_tokens, 512, want);
        int32_t seen = 0;
        engine_finish f = ENGINE_RUNNING;
        bool good = true;
        while (f == ENGINE_RUNNING) {
            int32_t now = engine_request_wait(r, seen, 1000, &f);
            for (; seen < now; seen++) good &= seen < n_want && engine_request_token(r, seen) == want[seen];
        }
        if (good && seen == n_want) a->ok++;
        engine_request_release(r);
    }
    return NULL;
}

static void test_threads(void)
{
    fake_model m = {0};
    scenario sc = {16, 128, 64, 16, 512, true, false};
    engine *e = make_engine(&sc, &m);
    inf_error err;
    CHECK_EQ_INT(engine_start(e, &err), INF_OK);
    enum { T = 6 };
    pthread_t th[T];
    client_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (client_arg){.e = e, .id = i};
        pthread_create(&th[i], NULL, client, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].ok;
    }
    CHECK_EQ_INT(ok, T * 20);
    engine_stop(e);
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK_EQ_INT(st.kv.owned_blocks, 0);
    engine_destroy(e);
    free(m.slot_tok);
}

int main(void)
{
    test_outputs_equal_oracle();
    test_device_argmax();
    test_preemption_happens();
    test_cancellation();
    test_submit_limits();
    test_threads();
    return check_done();
}
