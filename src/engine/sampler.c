/* sampler.c: the sampling pipeline of sampler.h.
 *
 * Candidates are kept as token ids in the sampler's idx scratch, ordered by
 * (processed logit descending, id ascending) wherever an order matters, so that
 * a draw depends only on the logits, the parameters and the PRNG state. Top-p
 * sorts only as much of the vocabulary as it needs: it selects the best K
 * tokens (quickselect), sorts those, and widens K only when their mass falls
 * short of p. */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

struct sampler {
    int32_t n_vocab;
    float *work;      /* (v) processed logits */
    int32_t *idx;     /* (v) candidate ids */
    uint8_t *mark;    /* (v) 0 between calls: "already penalised" marks */
};

void sampler_params_init(sampler_params *p)
{
    memset(p, 0, sizeof *p);
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->repetition_penalty = 1.0f;
}

int sampler_params_validate(const sampler_params *p, int32_t n_vocab, inf_error *err)
{
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return inf_errorf(err, INF_ERR_RANGE, "temperature %g must be >= 0", (double)p->temperature);
    if (p->top_k < 0)
        return inf_errorf(err, INF_ERR_RANGE, "top_k %d must be >= 0 (0 = off)", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return inf_errorf(err, INF_ERR_RANGE, "top_p %g must be in (0, 1]", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p < 1.0f))
        return inf_errorf(err, INF_ERR_RANGE, "min_p %g must be in [0, 1)", (double)p->min_p);
    if (!(p->repetition_penalty > 0.0f) || !isfinite(p->repetition_penalty))
        return inf_errorf(err, INF_ERR_RANGE, "repetition_penalty %g must be > 0",
                          (double)p->repetition_penalty);
    if (!(fabsf(p->frequency_penalty) <= 2.0f))
        return inf_errorf(err, INF_ERR_RANGE, "frequency_penalty %g must be in [-2, 2]",
                          (double)p->frequency_penalty);
    if (!(fabsf(p->presence_penalty) <= 2.0f))
        return inf_errorf(err, INF_ERR_RANGE, "presence_penalty %g must be in [-2, 2]",
                          (double)p->presence_penalty);
    if (p->n_logprobs < 0 || p->n_logprobs > SAMPLER_MAX_LOGPROBS)
        return inf_errorf(err, INF_ERR_RANGE, "logprobs %d must be in 0..%d", p->n_logprobs,
                          SAMPLER_MAX_LOGPROBS);
    if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias))
        return inf_errorf(err, INF_ERR_INVALID, "logit_bias: bad list");
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        if (p->logit_bias[i].id < 0 || p->logit_bias[i].id >= n_vocab)
            return inf_errorf(err, INF_ERR_RANGE, "logit_bias: token %d outside vocabulary of %d",
                              p->logit_bias[i].id, n_vocab);
        if (isnan(p->logit_bias[i].bias) || p->logit_bias[i].bias == INFINITY)
            return inf_errorf(err, INF_ERR_RANGE, "logit_bias of token %d is not a number",
                              p->logit_bias[i].id);
    }
    if (p->n_stop_ids < 0 || (p->n_stop_ids > 0 && !p->stop_ids))
        return inf_errorf(err, INF_ERR_INVALID, "stop ids: bad list");
    for (int32_t i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] < 0 || p->stop_ids[i] >= n_vocab)
            return inf_errorf(err, INF_ERR_RANGE, "stop token %d outside vocabulary of %d",
                              p->stop_ids[i], n_vocab);
    return INF_OK;
}

/* ---- PRNG: xoshiro256**, seeded through splitmix64 (both public domain
 * algorithms by Blackman and Vigna, written here from their definitions). ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4])
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- sequences ---- */

int sampler_seq_init(sampler_seq *s, const sampler_params *p, const int32_t *prompt,
                     int32_t n_prompt, int32_t max_new, inf_error *err)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->p.logit_bias = NULL;
    s->p.stop_ids = NULL;
    int32_t cap = n_prompt + (max_new > 0 ? max_new : 16);
    s->hist = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *s->hist);
    sampler_bias *bias = p->n_logit_bias ? malloc((size_t)p->n_logit_bias * sizeof *bias) : NULL;
    int32_t *stops = p->n_stop_ids ? malloc((size_t)p->n_stop_ids * sizeof *stops) : NULL;
    if (!s->hist || (p->n_logit_bias && !bias) || (p->n_stop_ids && !stops)) {
        free(bias);
        free(stops);
        sampler_seq_free(s);
        return inf_errorf(err, INF_ERR_NOMEM, "sampler: history of %d tokens", cap);
    }
    if (bias) memcpy(bias, p->logit_bias, (size_t)p->n_logit_bias * sizeof *bias);
    if (stops) memcpy(stops, p->stop_ids, (size_t)p->n_stop_ids * sizeof *stops);
    s->p.logit_bias = bias;
    s->p.stop_ids = stops;
    s->cap = cap;
    if (n_prompt > 0) memcpy(s->hist, prompt, (size_t)n_prompt * sizeof *prompt);
    s->n_prompt = s->n_hist = n_prompt;
    uint64_t x = p->has_seed ? p->seed : inf_clock_ns() ^ (uint64_t)(uintptr_t)s;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    return INF_OK;
}

void sampler_seq_free(sampler_seq *s)
{
    if (!s) return;
    free(s->hist);
    free((void *)s->p.logit_bias);
    free((void *)s->p.stop_ids);
    memset(s, 0, sizeof *s);
}

int sampler_seq_accept(sampler_seq *s, int32_t token, inf_error *err)
{
    if (s->n_hist == s->cap) {
        int32_t cap = s->cap * 2;
        int32_t *h = realloc(s->hist, (size_t)cap * sizeof *h);
        if (!h) return inf_errorf(err, INF_ERR_NOMEM, "sampler: history of %d tokens", cap);
        s->hist = h;
        s->cap = cap;
    }
    s->hist[s->n_hist++] = token;
    return INF_OK;
}

void sampler_seq_rollback(sampler_seq *s, int32_t r)
{
    INF_ASSERT(r >= 0 && r <= s->n_hist - s->n_prompt);
    s->n_hist -= r;
}

/* ---- sampler ---- */

int sampler_create(int32_t n_vocab, sampler **out, inf_error *err)
{
    *out = NULL;
    if (n_vocab < 1) return inf_errorf(err, INF_ERR_INVALID, "sampler: vocabulary of %d", n_vocab);
    sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->n_vocab = n_vocab;
        s->work = malloc((size_t)n_vocab * sizeof *s->work);
        s->idx = malloc((size_t)n_vocab * sizeof *s->idx);
        s->mark = calloc((size_t)n_vocab, 1);
    }
    if (!s || !s->work || !s->idx || !s->mark) {
        sampler_free(s);
        return inf_errorf(err, INF_ERR_NOMEM, "sampler: scratch for %d tokens", n_vocab);
    }
    *out = s;
    return INF_OK;
}

void sampler_free(sampler *s)
{
    if (!s) return;
    free(s->work);
    free(s->idx);
    free(s->mark);
    free(s);
}

/* Order of candidates: higher logit first, lower id on ties. */
static bool before(const float *w, int32_t a, int32_t b)
{
    return w[a] > w[b] || (w[a] == w[b] && a < b);
}

static void swap(int32_t *a, int32_t *b)
{
    int32_t t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges idx[0..n) so that its first k entries are the k best (in any
 * order). Quickselect with a middle pivot; deterministic. */
static void select_top(const float *w, int32_t *idx, int32_t n, int32_t k)
{
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        swap(&idx[(lo + hi) / 2], &idx[hi]);
        int32_t piv = idx[hi], st = lo;
        for (int32_t i = lo; i < hi; i++)
            if (before(w, idx[i], piv)) swap(&idx[i], &idx[st++]);
        swap(&idx[st], &idx[hi]);
        if (st == k - 1 || st == k) return;
        if (st < k) lo = st + 1;
        else hi = st - 1;
    }
}

static void sift_down(const float *w, int32_t *idx, int32_t root, int32_t n)
{
    for (;;) {
        int32_t c = 2 * root + 1;
        if (c >= n) return;
        /* The root holds the worst candidate, so that moving it to the end
         * leaves the array best first. */
        if (c + 1 < n && before(w, idx[c], idx[c + 1])) c++;
        if (!before(w, idx[root], idx[c])) return;
        swap(&idx[c], &idx[root]);
        root = c;
    }
}

/* Sorts idx[0..n) best first. Heapsort: in place, O(n log n), no context
 * pointer to smuggle into qsort. `before` is a total order (ids differ), so
 * the result is the same whatever the algorithm. */
static void sort_best_first(const float *w, int32_t *idx, int32_t n)
{
    for (int32_t i = n / 2 - 1; i >= 0; i--) sift_down(w, idx, i, n);
    for (int32_t end = n - 1; end > 0; end--) {
        swap(&idx[0], &idx[end]);
        sift_down(w, idx, 0, end);
    }
}

static void penalise(sampler *s, const sampler_seq *q, float *w)
{
    const sampler_params *p = &q->p;
    if (p->repetition_penalty != 1.0f) {
        float r = p->repetition_penalty;
        for (int32_t i = 0; i < q->n_hist; i++) {
            int32_t t = q->hist[i];
            if (s->mark[t]) continue;
            s->mark[t] = 1;
            w[t] = w[t] > 0 ? w[t] / r : w[t] * r;
        }
        for (int32_t i = 0; i < q->n_hist; i++) s->mark[q->hist[i]] = 0;
    }
    if (p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f) {
        for (int32_t i = q->n_prompt; i < q->n_hist; i++) {
            int32_t t = q->hist[i];
            w[t] -= p->frequency_penalty;
            if (!s->mark[t]) {
                s->mark[t] = 1;
                w[t] -= p->presence_penalty;
            }
        }
        for (int32_t i = q->n_prompt; i < q->n_hist; i++) s->mark[q->hist[i]] = 0;
    }
}

static int32_t argmax(const float *w, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (w[i] > w[best]) best = i;
    return best;
}

/* Draws from the candidates idx[0..n) with weights exp(w - mx); keeps their order. */
static int32_t draw(const float *w, const int32_t *idx, int32_t n, float mx, uint64_t rng[4])
{
    double total = 0;
    for (int32_t i = 0; i < n; i++) total += exp((double)w[idx[i]] - mx);
    double r = rng_uniform(rng) * total, acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += exp((double)w[idx[i]] - mx);
        if (r < acc) return idx[i];
    }
    return idx[n - 1];
}

static int32_t sample_filtered(sampler *s, sampler_seq *q, float *w)
{
    const sampler_params *p = &q->p;
    int32_t v = s->n_vocab, n = 0;
    float inv_t = 1.0f / p->temperature;
    for (int32_t i = 0; i < v; i++) {
        if (w[i] == -INFINITY) continue;
        w[i] *= inv_t;
        s->idx[n++] = i;
    }
    if (n == 0) return -1;
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++) mx = fmaxf(mx, w[s->idx[i]]);
    if (p->top_k > 0 && p->top_k < n) {
        select_top(w, s->idx, n, p->top_k);
        n = p->top_k;
    }
    if (p->top_p < 1.0f) {
        double z = 0;
        for (int32_t i = 0; i < n; i++) z += exp((double)w[s->idx[i]] - mx);
        for (int32_t k = n < 64 ? n : 64;; k = k * 4 < n ? k * 4 : n) {
            if (k < n) select_top(w, s->idx, n, k);
            sort_best_first(w, s->idx, k);
            double acc = 0;
            int32_t cut = -1;
            for (int32_t i = 0; i < k; i++) {
                acc += exp((double)w[s->idx[i]] - mx) / z;
                if (acc >= p->top_p) {
                    cut = i + 1;
                    break;
                }
            }
            if (cut > 0) {
                n = cut;
                break;
            }
            if (k == n) break; /* rounding: the whole set falls short of p */
        }
    }
    if (p->min_p > 0.0f) {
        /* prob >= min_p * max prob  <=>  w - mx >= log(min_p) */
        float thr = mx + logf(p->min_p);
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++)
            if (w[s->idx[i]] >= thr) s->idx[m++] = s->idx[i];
        n = m;
    }
    return draw(w, s->idx, n, mx, q->rng);
}

/* The n best raw logits, best first (n <= SAMPLER_MAX_LOGPROBS). */
static void top_raw(const float *l, int32_t v, int32_t n, double lse, sampler_logprob *top)
{
    int32_t best[SAMPLER_MAX_LOGPROBS];
    int32_t have = 0;
    for (int32_t i = 0; i < v; i++) {
        if (have == n && !before(l, i, best[n - 1])) continue;
        int32_t j = have < n ? have++ : n - 1;
        for (; j > 0 && before(l, i, best[j - 1]); j--) best[j] = best[j - 1];
        best[j] = i;
    }
    for (int32_t i = 0; i < have; i++) {
        top[i].id = best[i];
        top[i].logprob = (float)((double)l[best[i]] - lse);
    }
}

/* Takes the most likely token, and nothing (bias, penalties) changes the logits. */
static bool greedy_on_raw_logits(const sampler_params *p)
{
    return (p->temperature <= 0.0f || p->top_k == 1) && p->n_logit_bias == 0 &&
           p->repetition_penalty == 1.0f && p->frequency_penalty == 0.0f &&
           p->presence_penalty == 0.0f;
}

bool sampler_params_plain_greedy(const sampler_params *p)
{
    return greedy_on_raw_logits(p) && p->skip_logprob && p->n_logprobs == 0;
}

void sampler_take(const sampler_seq *q, int32_t token, sampler_result *out)
{
    memset(out, 0, sizeof *out);
    out->token = token;
    for (int32_t i = 0; i < q->p.n_stop_ids; i++)
        if (q->p.stop_ids[i] == token) out->stop = true;
}

void sampler_sample(sampler *s, sampler_seq *q, const float *logits, sampler_result *out)
{
    const sampler_params *p = &q->p;
    int32_t v = s->n_vocab;
    int32_t raw_best = argmax(logits, v);
    double lse = 0;
    bool want_lp = !p->skip_logprob || p->n_logprobs > 0;
    if (want_lp) {
        double mx = logits[raw_best], sum = 0;
        for (int32_t i = 0; i < v; i++) sum += exp((double)logits[i] - mx);
        lse = mx + log(sum);
    }

    bool greedy = p->temperature <= 0.0f || p->top_k == 1;
    int32_t tok;
    if (greedy_on_raw_logits(p)) {
        /* Nothing changes the logits: the raw argmax is the answer (a decode
         * step of a 128k vocabulary saves two passes over it). */
        tok = raw_best;
    } else {
        float *w = s->work;
        memcpy(w, logits, (size_t)v * sizeof *w);
        for (int32_t i = 0; i < p->n_logit_bias; i++)
            w[p->logit_bias[i].id] += p->logit_bias[i].bias;
        penalise(s, q, w);
        if (greedy) {
            tok = argmax(w, v);
            if (w[tok] == -INFINITY) tok = -1;
        } else {
            tok = sample_filtered(s, q, w);
        }
    }
    if (tok < 0) tok = raw_best; /* every token banned: the model's own choice */

    sampler_take(q, tok, out);
    out->logprob = want_lp ? (float)((double)logits[tok] - lse) : 0.0f;
    out->n_top = p->n_logprobs < v ? p->n_logprobs : v;
    if (out->n_top > 0) top_raw(logits, v, out->n_top, lse, out->top);
}

void sampler_sample_batch(sampler *s, sampler_seq *const *seqs, const float *logits, int32_t n,
                          sampler_result *out)
{
    for (int32_t i = 0; i < n; i++)
        sampler_sample(s, seqs[i], logits + (int64_t)i * s->n_vocab, &out[i]);
}
