/* request.h: one generation request and its output channel.
 *
 * A request is created by a client thread (server handler, `inferd run`, a bench
 * harness) with everything allocated up front: the token buffer holds the prompt
 * and room for every token it may generate, and the logprob buffers are sized for
 * max_tokens, so the engine thread never allocates for it.
 *
 * Ownership: reference counted. The creator holds one reference; engine_submit
 * takes another for the engine, which drops it when the request finishes (for any
 * reason). The creator calls engine_request_release when it has read what it
 * needs. Whoever drops the last reference frees it.
 *
 * Channel: the engine appends tokens and finally marks the request finished;
 * one reader thread waits for news with engine_request_wait and reads the
 * tokens (and logprobs) with its own cursor. Cancellation (client gone, shutdown)
 * is a flag any thread may set; the engine acts on it at its next step. */
#ifndef INFERD_ENGINE_REQUEST_H
#define INFERD_ENGINE_REQUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/sampler.h"

typedef enum engine_finish {
    ENGINE_RUNNING = 0,
    ENGINE_FINISH_STOP,      /* end-of-generation token or a stop id */
    ENGINE_FINISH_LENGTH,    /* max_tokens, the context length, or a full KV cache */
    ENGINE_FINISH_CANCELLED, /* cancelled by a client or shutdown */
    ENGINE_FINISH_ERROR,     /* the step failed; error holds why */
} engine_finish;

typedef struct engine_request_params {
    /* Sampling, stop token ids and the number of top logprobs (sampler.h). Its
     * arrays (logit_bias, stop_ids) are copied by engine_submit. */
    sampler_params sampling;
    int32_t max_tokens;           /* > 0 */
    bool ignore_eos;              /* keep going past end-of-generation tokens */
    bool logprobs;                /* record each token's logprob (and sampling.n_logprobs top) */
} engine_request_params;

typedef struct engine_request engine_request;

struct engine_request {
    /* ---- set at creation, read-only afterwards ---- */
    uint64_t id;                   /* assigned by engine_submit */
    engine_request_params params;
    int32_t n_prompt;
    int32_t cap;                   /* capacity of tokens[]: n_prompt + max_tokens */

    /* ---- written by the engine thread, published under lock ---- */
    int32_t *tokens;               /* (cap) prompt, then generated ids */
    sampler_result *logprobs;      /* (max_tokens) or NULL when not asked for */
    int32_t n_generated;           /* published count (under lock) */
    engine_finish finish;          /* published finish reason (under lock) */
    inf_error error;               /* set with ENGINE_FINISH_ERROR */
    int32_t n_cached_prompt;       /* prompt tokens served by the prefix cache */
    uint64_t t_submit_ns, t_first_token_ns, t_finish_ns;

    /* ---- synchronisation ---- */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic int refs;
    _Atomic bool cancel;

    /* ---- engine private: queue link and sequence state ---- */
    engine_request *next;          /* intrusive link in the engine's queues */
    void *seq;                     /* the engine's sequence while admitted */
    bool admitted;                 /* admitted at least once (prompt counted) */
    sampler_seq sampler;           /* survives preemption: seeded streams continue */
};

/* Creates a request for prompt[0..n_prompt) (copied). Checks the prompt and
 * max_tokens (sampling values are checked by engine_submit, which knows the
 * vocabulary) and returns INF_ERR_INVALID with a message naming the field.
 * The caller holds one reference. Any thread. */
int engine_request_create(const int32_t *prompt, int32_t n_prompt,
                          const engine_request_params *params, engine_request **out,
                          inf_error *err);

/* Drops one reference; frees at zero. NULL allowed. Any thread. */
void engine_request_release(engine_request *r);
void engine_request_retain(engine_request *r);

/* Asks the engine to stop this request at its next step. Any thread. */
void engine_request_cancel(engine_request *r);

/* Waits until more than `seen` tokens are published or the request finished, or
 * timeout_ms elapses (< 0: no timeout). Returns the published token count and
 * stores the finish state in *finish. Reader thread. */
int32_t engine_request_wait(engine_request *r, int32_t seen, int timeout_ms,
                            engine_finish *finish);

/* Generated token i (i < a count returned by engine_request_wait). */
static inline int32_t engine_request_token(const engine_request *r, int32_t i)
{
    return r->tokens[r->n_prompt + i];
}

/* ---- engine side (engine thread only) ---- */

/* Appends a generated token (and its logprob record, may be NULL) and wakes the
 * reader. */
void engine_request_push(engine_request *r, int32_t token, const sampler_result *lp);

/* Publishes the finish reason and wakes the reader. */
void engine_request_finish(engine_request *r, engine_finish why, const inf_error *err);

const char *engine_finish_name(engine_finish f);

#endif
