/* sampler.h: choosing the next token of each sequence from its logits row.
 *
 * Every sequence carries its own parameters and its own PRNG state, so that the
 * sequences of one batch may all sample differently and a request with a seed
 * gets the same tokens whatever runs beside it.
 *
 * The pipeline for one row of raw logits l (v floats), in this order (vLLM's):
 *   1. logit bias:      l[id] += bias (OpenAI logit_bias)
 *   2. penalties, as vLLM defines them:
 *        repetition r:  for every distinct token of prompt + generated text,
 *                       l = l > 0 ? l / r : l * r           (CTRL / HF / vLLM)
 *        frequency f:   l -= f * count(token in generated text)
 *        presence p:    l -= p for every token present in generated text
 *                       (OpenAI's definitions; the prompt does not count)
 *   3. temperature 0 (or top_k == 1): greedy argmax of the penalised logits,
 *      lowest id on ties. Otherwise:
 *   4. temperature t:   l /= t, probabilities = softmax(l)
 *   5. top-k:           keep the k most probable tokens (0 = off)
 *   6. top-p:           keep the smallest most-probable set whose mass >= p
 *                       (1 = off); ties ordered by id
 *   7. min-p:           keep tokens with prob >= min_p * max prob (0 = off)
 *   8. draw one token from what is kept, renormalised, with the sequence's PRNG.
 * Log-probabilities reported (chosen token and top-n alternatives) are those of
 * the raw model distribution, log_softmax(raw logits), before steps 1-8, as
 * OpenAI's and vLLM's default logprobs are.
 *
 * Memory: a sampler holds scratch for one vocabulary (allocated at create);
 * each sampler_seq holds its parameters and token history (allocated at init,
 * grown only if a sequence outlives the length it announced).
 * Threads: one thread per sampler (the engine thread); sampler_seq likewise. */
#ifndef INFERD_ENGINE_SAMPLER_H
#define INFERD_ENGINE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

#define SAMPLER_MAX_LOGPROBS 20

typedef struct sampler_bias {
    int32_t id;
    float bias;    /* added to the raw logit; -INFINITY bans the token */
} sampler_bias;

typedef struct sampler_params {
    float temperature;         /* 0 = greedy; default 1 */
    int32_t top_k;             /* 0 = off */
    float top_p;               /* (0, 1]; 1 = off */
    float min_p;               /* [0, 1); 0 = off */
    float repetition_penalty;  /* > 0; 1 = off */
    float frequency_penalty;   /* [-2, 2]; 0 = off */
    float presence_penalty;    /* [-2, 2]; 0 = off */
    const sampler_bias *logit_bias;  /* (n_logit_bias), copied at init */
    int32_t n_logit_bias;
    bool has_seed;             /* false: seeded from the clock */
    uint64_t seed;
    bool skip_logprob;         /* true: the chosen token's logprob is not needed (it is
                                * then 0): saves a softmax over the vocabulary per row */
    int32_t n_logprobs;        /* top alternatives to report, 0..SAMPLER_MAX_LOGPROBS;
                                * the chosen token's logprob is always reported */
    const int32_t *stop_ids;   /* (n_stop_ids) tokens that end the sequence, copied at init */
    int32_t n_stop_ids;
} sampler_params;

/* Defaults: temperature 1, every filter and penalty off, no seed. */
void sampler_params_init(sampler_params *p);

/* Checks ranges; errors name the parameter (for API validation). */
int sampler_params_validate(const sampler_params *p, int32_t n_vocab, inf_error *err);

typedef struct sampler_logprob {
    int32_t id;
    float logprob;
} sampler_logprob;

/* Whether p takes the most likely token with nothing that changes the logits
 * (no bias, no penalties) and wants no logprobs: then the token is the raw
 * argmax, which a backend can find where the logits are (engine_runner's
 * forward_greedy) instead of sending them all back. */
bool sampler_params_plain_greedy(const sampler_params *p);

typedef struct sampler_result {
    int32_t token;
    float logprob;              /* of token, under the raw distribution */
    bool stop;                  /* token is one of the stop ids */
    int32_t n_top;              /* entries in top, = n_logprobs */
    sampler_logprob top[SAMPLER_MAX_LOGPROBS]; /* most probable first */
} sampler_result;

/* Per-sequence state: parameters, PRNG, prompt + generated token history. */
typedef struct sampler_seq {
    sampler_params p;          /* logit_bias and stop_ids point at owned copies */
    uint64_t rng[4];           /* xoshiro256** state */
    int32_t *hist;             /* (cap) prompt tokens, then generated ones */
    int32_t n_prompt;
    int32_t n_hist;
    int32_t cap;
} sampler_seq;

/* Copies p and the prompt; max_new is how many tokens the sequence expects to
 * generate (sizes the history once). Validate p first. Free with
 * sampler_seq_free. */
int sampler_seq_init(sampler_seq *s, const sampler_params *p, const int32_t *prompt,
                     int32_t n_prompt, int32_t max_new, inf_error *err);

/* NULL allowed; leaves s zeroed. */
void sampler_seq_free(sampler_seq *s);

/* Appends a generated token to the history (the penalties' input). */
int sampler_seq_accept(sampler_seq *s, int32_t token, inf_error *err);

/* Forgets the last r generated tokens (rejected draft tokens). */
void sampler_seq_rollback(sampler_seq *s, int32_t r);

typedef struct sampler sampler;

/* Scratch for a vocabulary of n_vocab tokens. */
int sampler_create(int32_t n_vocab, sampler **out, inf_error *err);

/* NULL allowed. */
void sampler_free(sampler *s);

/* What sampler_sample returns when it chose token for q under plain greedy
 * parameters (sampler_params_plain_greedy): the token and its stop flag. */
void sampler_take(const sampler_seq *q, int32_t token, sampler_result *out);

/* Samples one token for seq from logits ((v) raw floats, not modified) and
 * fills *out. Does not accept it (call sampler_seq_accept). Any finite or
 * -inf logits; if every token is banned, falls back to the raw argmax. */
void sampler_sample(sampler *s, sampler_seq *seq, const float *logits, sampler_result *out);

/* The same for n rows: row i of logits ((n, v) floats) with seqs[i]. */
void sampler_sample_batch(sampler *s, sampler_seq *const *seqs, const float *logits, int32_t n,
                          sampler_result *out);

#endif
