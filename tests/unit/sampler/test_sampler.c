/* test_sampler.c: the sampler on hand-checkable distributions — greedy and
 * top-k = 1, exact top-p / min-p cuts, draw frequencies, seeds, penalties at
 * their exact thresholds, logit bias, logprobs, stop ids, per-row parameters. */
#include <math.h>

#include "check.h"
#include "engine/sampler.h"

#define V 8

static sampler *smp;

static int32_t one(const sampler_params *p, const int32_t *prompt, int np, const int32_t *gen,
                   int ng, const float *logits, sampler_result *res)
{
    sampler_seq q;
    sampler_result r;
    CHECK(sampler_seq_init(&q, p, prompt, np, 8, NULL) == 0);
    for (int i = 0; i < ng; i++) sampler_seq_accept(&q, gen[i], NULL);
    sampler_sample(smp, &q, logits, res ? res : &r);
    sampler_seq_free(&q);
    return res ? res->token : r.token;
}

/* Logits whose softmax is exactly probs (log of each). */
static void from_probs(const double *probs, float *l)
{
    for (int i = 0; i < V; i++) l[i] = probs[i] > 0 ? (float)log(probs[i]) : -INFINITY;
}

/* Frequencies of n draws of one seeded sequence. */
static void histogram(const sampler_params *p, const float *l, int n, double *freq)
{
    sampler_seq q;
    CHECK(sampler_seq_init(&q, p, NULL, 0, 0, NULL) == 0);
    for (int i = 0; i < V; i++) freq[i] = 0;
    for (int i = 0; i < n; i++) {
        sampler_result r;
        sampler_sample(smp, &q, l, &r);
        freq[r.token] += 1.0 / n;
    }
    sampler_seq_free(&q);
}

static void test_greedy(void)
{
    sampler_params p;
    sampler_params_init(&p);
    p.temperature = 0;
    float l[V] = {0.1f, 2.0f, -1.0f, 2.0f, 0.5f, 1.9f, 0.0f, -3.0f};
    CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, NULL), 1); /* tie 1/3: lowest id */
    /* top_k = 1 at any temperature and seed is greedy. */
    sampler_params_init(&p);
    p.top_k = 1;
    p.temperature = 1.7f;
    p.has_seed = true;
    for (uint64_t seed = 1; seed < 20; seed++) {
        p.seed = seed;
        CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, NULL), 1);
    }
    /* Skipping the logprob changes nothing but the logprob (reported as 0). */
    sampler_params_init(&p);
    p.temperature = 0;
    sampler_result with, without;
    CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, &with), 1);
    p.skip_logprob = true;
    CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, &without), 1);
    CHECK(with.logprob < 0.0f && without.logprob == 0.0f);
}

static void test_distribution(void)
{
    double probs[V] = {0.5, 0.3, 0.15, 0.05, 0, 0, 0, 0}, f[V];
    float l[V];
    from_probs(probs, l);
    sampler_params p;
    sampler_params_init(&p);
    p.has_seed = true;
    p.seed = 42;
    histogram(&p, l, 20000, f);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabs(f[i] - probs[i]) < 0.015, "token %d: freq %.3f, prob %.3f", i, f[i], probs[i]);
    CHECK(f[4] == 0 && f[7] == 0);

    /* top-p 0.79: 0.5 falls short, 0.5 + 0.3 reaches it: {0, 1} renormalised. */
    p.top_p = 0.79f;
    histogram(&p, l, 20000, f);
    CHECK_MSG(fabs(f[0] - 0.625) < 0.015 && f[2] == 0 && f[3] == 0, "top-p 0.79: %.3f %.3f %.3f",
              f[0], f[1], f[2]);
    /* top-p 0.81 needs the third token. */
    p.top_p = 0.81f;
    histogram(&p, l, 20000, f);
    CHECK_MSG(f[2] > 0.1 && f[3] == 0, "top-p 0.81: %.3f %.3f", f[2], f[3]);

    /* min-p 0.35: keep prob >= 0.175, i.e. tokens 0 and 1. */
    p.top_p = 1.0f;
    p.min_p = 0.35f;
    histogram(&p, l, 20000, f);
    CHECK_MSG(f[2] == 0 && fabs(f[0] - 0.625) < 0.015, "min-p: %.3f %.3f", f[0], f[2]);
    /* min-p 0.29: token 2 (0.15 >= 0.145) stays. */
    p.min_p = 0.29f;
    histogram(&p, l, 20000, f);
    CHECK(f[2] > 0.1 && f[3] == 0);

    /* top-k 2 at temperature 1: {0, 1} in ratio 5:3. */
    p.min_p = 0;
    p.top_k = 2;
    histogram(&p, l, 20000, f);
    CHECK_MSG(fabs(f[0] - 0.625) < 0.015 && f[2] == 0, "top-k 2: %.3f", f[0]);

    /* temperature 0.5 squares the odds: 0.25 : 0.09 : 0.0225 : 0.0025. */
    p.top_k = 0;
    p.temperature = 0.5f;
    histogram(&p, l, 20000, f);
    double z = 0.25 + 0.09 + 0.0225 + 0.0025;
    CHECK_MSG(fabs(f[0] - 0.25 / z) < 0.015 && fabs(f[1] - 0.09 / z) < 0.015, "temp 0.5: %.3f %.3f",
              f[0], f[1]);
}

static void test_seeds(void)
{
    float l[V] = {1, 1, 1, 1, 1, 1, 1, 1};
    sampler_params p;
    sampler_params_init(&p);
    p.has_seed = true;
    int32_t a[64], b[64], c[64];
    for (int run = 0; run < 3; run++) {
        p.seed = run == 2 ? 8 : 7;
        sampler_seq q;
        sampler_seq_init(&q, &p, NULL, 0, 0, NULL);
        for (int i = 0; i < 64; i++) {
            sampler_result r;
            sampler_sample(smp, &q, l, &r);
            (run == 0 ? a : run == 1 ? b : c)[i] = r.token;
        }
        sampler_seq_free(&q);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

static void test_penalties(void)
{
    sampler_params p;
    sampler_params_init(&p);
    p.temperature = 0;
    float l[V] = {1.0f, 0.95f, -5, -5, -5, -5, -5, -5};
    int32_t tok0[2] = {0, 0};
    /* presence: once per token present in the generated text. */
    p.presence_penalty = 0.04f;
    CHECK_EQ_INT(one(&p, NULL, 0, tok0, 2, l, NULL), 0);  /* 0.96 > 0.95 */
    p.presence_penalty = 0.06f;
    CHECK_EQ_INT(one(&p, NULL, 0, tok0, 2, l, NULL), 1);  /* 0.94 < 0.95 */
    CHECK_EQ_INT(one(&p, tok0, 2, NULL, 0, l, NULL), 0);  /* the prompt does not count */
    /* frequency: per occurrence (two here). */
    p.presence_penalty = 0;
    p.frequency_penalty = 0.02f;
    CHECK_EQ_INT(one(&p, NULL, 0, tok0, 2, l, NULL), 0);  /* 0.96 */
    p.frequency_penalty = 0.03f;
    CHECK_EQ_INT(one(&p, NULL, 0, tok0, 2, l, NULL), 1);  /* 0.94 */
    CHECK_EQ_INT(one(&p, NULL, 0, tok0, 1, l, NULL), 0);  /* one occurrence: 0.97 */
    /* repetition: over prompt and generated, once per distinct token. */
    p.frequency_penalty = 0;
    float lp[V] = {1.0f, 0.6f, -5, -5, -5, -5, -5, -5};
    p.repetition_penalty = 1.6f;
    CHECK_EQ_INT(one(&p, tok0, 2, NULL, 0, lp, NULL), 0); /* 0.625 > 0.6 */
    p.repetition_penalty = 1.7f;
    CHECK_EQ_INT(one(&p, tok0, 2, NULL, 0, lp, NULL), 1); /* 0.588 < 0.6 */
    CHECK_EQ_INT(one(&p, NULL, 0, tok0, 1, lp, NULL), 1); /* generated counts too */
    float ln[V] = {-1.0f, -1.5f, -5, -5, -5, -5, -5, -5};
    p.repetition_penalty = 1.4f;
    CHECK_EQ_INT(one(&p, tok0, 1, NULL, 0, ln, NULL), 0); /* -1.4 > -1.5 */
    p.repetition_penalty = 1.6f;
    CHECK_EQ_INT(one(&p, tok0, 1, NULL, 0, ln, NULL), 1); /* -1.6 < -1.5 */
}

static void test_bias_logprobs_stop(void)
{
    sampler_params p;
    sampler_params_init(&p);
    p.temperature = 0;
    float l[V] = {3, 2, 1, 0, -1, -2, -3, -4};
    sampler_bias ban = {0, -INFINITY}, boost = {5, 5.5f};
    p.logit_bias = &ban;
    p.n_logit_bias = 1;
    CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, NULL), 1);
    p.logit_bias = &boost;
    CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, NULL), 5); /* -2 + 5.5 = 3.5 > 3 */
    /* Banning every token falls back to the raw argmax. */
    sampler_bias all[V];
    for (int i = 0; i < V; i++) all[i] = (sampler_bias){i, -INFINITY};
    p.logit_bias = all;
    p.n_logit_bias = V;
    CHECK_EQ_INT(one(&p, NULL, 0, NULL, 0, l, NULL), 0);

    /* Logprobs: raw log_softmax, even when bias changed the choice. */
    p.logit_bias = &boost;
    p.n_logit_bias = 1;
    p.n_logprobs = 3;
    int32_t stop = 5;
    p.stop_ids = &stop;
    p.n_stop_ids = 1;
    sampler_result r;
    one(&p, NULL, 0, NULL, 0, l, &r);
    double z = 0;
    for (int i = 0; i < V; i++) z += exp(l[i]);
    CHECK(r.token == 5 && r.stop);
    CHECK(fabs(r.logprob - (l[5] - log(z))) < 1e-5);
    CHECK_EQ_INT(r.n_top, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(r.top[i].id, i);
        CHECK(fabs(r.top[i].logprob - (l[i] - log(z))) < 1e-5);
    }
    p.n_stop_ids = 0;
    one(&p, NULL, 0, NULL, 0, l, &r);
    CHECK(!r.stop);
}

/* Plain greedy (the engine may let the backend pick the token): exactly the
 * parameters under which the raw argmax is the answer, and sampler_take gives
 * what sampler_sample gives for that token. */
static void test_plain_greedy(void)
{
    sampler_params p;
    sampler_params_init(&p);
    p.temperature = 0;
    p.skip_logprob = true;
    CHECK(sampler_params_plain_greedy(&p));
    sampler_params q = p;
    q.temperature = 0.7f;
    CHECK(!sampler_params_plain_greedy(&q));
    q.top_k = 1; /* top_k = 1 is greedy at any temperature */
    CHECK(sampler_params_plain_greedy(&q));
    sampler_bias b = {2, 1.0f};
    q = p, q.logit_bias = &b, q.n_logit_bias = 1;
    CHECK(!sampler_params_plain_greedy(&q));
    q = p, q.repetition_penalty = 1.1f;
    CHECK(!sampler_params_plain_greedy(&q));
    q = p, q.frequency_penalty = 0.5f;
    CHECK(!sampler_params_plain_greedy(&q));
    q = p, q.presence_penalty = 0.5f;
    CHECK(!sampler_params_plain_greedy(&q));
    q = p, q.skip_logprob = false; /* the chosen token's logprob is wanted */
    CHECK(!sampler_params_plain_greedy(&q));
    q = p, q.n_logprobs = 2;
    CHECK(!sampler_params_plain_greedy(&q));

    int32_t stop = 3;
    p.stop_ids = &stop;
    p.n_stop_ids = 1;
    float l[V] = {0, 1, 2, 5, 1, 0, -1, -2};
    for (int32_t tok = 2; tok <= 3; tok++) {
        l[tok] = 9.0f; /* make tok the argmax */
        sampler_seq sq;
        CHECK(sampler_seq_init(&sq, &p, NULL, 0, 4, NULL) == 0);
        sampler_result a, t;
        sampler_sample(smp, &sq, l, &a);
        sampler_take(&sq, tok, &t);
        CHECK_EQ_INT(a.token, tok);
        CHECK(t.token == a.token && t.stop == a.stop && t.n_top == 0 && t.logprob == 0.0f);
        CHECK(t.stop == (tok == 3));
        sampler_seq_free(&sq);
        l[tok] = (float)tok;
    }
}

static void test_batch_and_validate(void)
{
    sampler_params g, t;
    sampler_params_init(&g);
    g.temperature = 0;
    sampler_params_init(&t);
    t.has_seed = true;
    t.seed = 3;
    t.top_k = 2;
    float rows[2 * V] = {0, 0, 9, 0, 0, 0, 0, 0, /* row 0: greedy picks 2 */
                         5, 5, -9, -9, -9, -9, -9, -9}; /* row 1: 0 or 1 */
    sampler_seq a, b;
    sampler_seq_init(&a, &g, NULL, 0, 4, NULL);
    sampler_seq_init(&b, &t, NULL, 0, 4, NULL);
    sampler_seq *seqs[2] = {&a, &b};
    sampler_result res[2];
    int seen[2] = {0, 0};
    for (int i = 0; i < 200; i++) {
        sampler_sample_batch(smp, seqs, rows, 2, res);
        CHECK(res[0].token == 2);
        CHECK(res[1].token == 0 || res[1].token == 1);
        if (res[1].token < 2) seen[res[1].token]++;
    }
    CHECK(seen[0] > 50 && seen[1] > 50);
    /* History grows past what init announced; rollback forgets generated tokens. */
    for (int i = 0; i < 10; i++) CHECK(sampler_seq_accept(&a, 1, NULL) == 0);
    CHECK_EQ_INT(a.n_hist, 10);
    sampler_seq_rollback(&a, 4);
    CHECK_EQ_INT(a.n_hist, 6);
    sampler_seq_free(&a);
    sampler_seq_free(&b);
    sampler_seq_free(NULL);

    inf_error err;
    sampler_params p;
    sampler_params_init(&p);
    CHECK(sampler_params_validate(&p, V, &err) == 0);
    p.top_p = 0;
    CHECK(sampler_params_validate(&p, V, &err) == INF_ERR_RANGE && strstr(err.msg, "top_p"));
    sampler_params_init(&p);
    sampler_bias bad = {V, 1};
    p.logit_bias = &bad;
    p.n_logit_bias = 1;
    CHECK(sampler_params_validate(&p, V, &err) == INF_ERR_RANGE && strstr(err.msg, "logit_bias"));
    sampler_params_init(&p);
    p.temperature = -1;
    CHECK(sampler_params_validate(&p, V, &err) == INF_ERR_RANGE);
}

/* Top-p over a large flat-ish vocabulary exercises the widening selection. */
static void test_large_vocab(void)
{
    enum { N = 5000 };
    sampler *big;
    CHECK(sampler_create(N, &big, NULL) == 0);
    static float l[N];
    for (int i = 0; i < N; i++) l[i] = (float)((i * 7919) % N) / N; /* a permutation of ramps */
    sampler_params p;
    sampler_params_init(&p);
    p.has_seed = true;
    p.seed = 9;
    p.top_p = 0.5f;
    sampler_seq q;
    sampler_seq_init(&q, &p, NULL, 0, 0, NULL);
    /* The kept set is the tokens with the largest logits whose mass first
     * reaches 0.5; compute its logit threshold independently. */
    double z = 0;
    for (int i = 0; i < N; i++) z += exp(l[i]);
    double acc = 0;
    float thr = 0;
    for (int k = N - 1; k >= 0; k--) { /* logits are k / N for some token */
        acc += exp((double)k / N) / z;
        if (acc >= 0.5) {
            thr = (float)k / N;
            break;
        }
    }
    int bad = 0;
    for (int i = 0; i < 500; i++) {
        sampler_result r;
        sampler_sample(big, &q, l, &r);
        if (l[r.token] < thr) bad++;
    }
    CHECK_MSG(bad == 0, "%d draws below the top-p threshold %.4f", bad, thr);
    sampler_seq_free(&q);
    sampler_free(big);
}

int main(void)
{
    CHECK(sampler_create(V, &smp, NULL) == 0);
    test_greedy();
    test_distribution();
    test_seeds();
    test_penalties();
    test_bias_logprobs_stop();
    test_plain_greedy();
    test_batch_and_validate();
    test_large_vocab();
    sampler_free(smp);
    return check_done();
}
