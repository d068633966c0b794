/* request.c: request creation, reference counting and the output channel. */
#include "engine/request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

int engine_request_create(const int32_t *prompt, int32_t n_prompt,
                          const engine_request_params *params, engine_request **out,
                          inf_error *err)
{
    *out = NULL;
    if (n_prompt <= 0)
        return inf_errorf(err, INF_ERR_INVALID, "the prompt is empty: at least one token is needed");
    if (params->max_tokens <= 0)
        return inf_errorf(err, INF_ERR_INVALID, "max_tokens must be positive (got %d)",
                          params->max_tokens);
    if ((int64_t)n_prompt + params->max_tokens > INT32_MAX / 2)
        return inf_errorf(err, INF_ERR_RANGE, "prompt plus max_tokens is too long");

    engine_request *r = calloc(1, sizeof *r);
    if (!r) return inf_errorf(err, INF_ERR_NOMEM, "out of memory for a request");
    r->params = *params;
    /* The caller's arrays stay the caller's: engine_submit copies them into the
     * sampler state; until then nothing reads them. */
    r->n_prompt = n_prompt;
    r->cap = n_prompt + params->max_tokens;
    r->tokens = malloc((size_t)r->cap * sizeof *r->tokens);
    if (params->logprobs)
        r->logprobs = calloc((size_t)params->max_tokens, sizeof *r->logprobs);
    if (!r->tokens || (params->logprobs && !r->logprobs)) {
        free(r->tokens);
        free(r->logprobs);
        free(r);
        return inf_errorf(err, INF_ERR_NOMEM, "out of memory for a request of %d tokens",
                          n_prompt + params->max_tokens);
    }
    memcpy(r->tokens, prompt, (size_t)n_prompt * sizeof *prompt);
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&r->refs, 1);
    atomic_init(&r->cancel, false);
    r->finish = ENGINE_RUNNING;
    *out = r;
    return INF_OK;
}

void engine_request_retain(engine_request *r) { atomic_fetch_add(&r->refs, 1); }

void engine_request_release(engine_request *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    sampler_seq_free(&r->sampler);
    free(r->tokens);
    free(r->logprobs);
    free(r);
}

void engine_request_cancel(engine_request *r) { atomic_store(&r->cancel, true); }

int32_t engine_request_wait(engine_request *r, int32_t seen, int timeout_ms,
                            engine_finish *finish)
{
    struct timespec deadline;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&r->lock);
    while (r->n_generated <= seen && r->finish == ENGINE_RUNNING) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&r->cond, &r->lock);
        } else if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    int32_t n = r->n_generated;
    *finish = r->finish;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void engine_request_push(engine_request *r, int32_t token, const sampler_result *lp)
{
    /* Written before the locked publish, so a reader that sees the new count also
     * sees the token (the mutex orders the two). */
    int32_t i = r->n_generated;
    r->tokens[r->n_prompt + i] = token;
    if (r->logprobs && lp) r->logprobs[i] = *lp;
    pthread_mutex_lock(&r->lock);
    if (i == 0) r->t_first_token_ns = inf_clock_ns();
    r->n_generated = i + 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void engine_request_finish(engine_request *r, engine_finish why, const inf_error *err)
{
    pthread_mutex_lock(&r->lock);
    if (r->finish == ENGINE_RUNNING) {
        r->finish = why;
        r->t_finish_ns = inf_clock_ns();
        if (err) r->error = *err;
    }
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

const char *engine_finish_name(engine_finish f)
{
    switch (f) {
    case ENGINE_RUNNING: return "running";
    case ENGINE_FINISH_STOP: return "stop";
    case ENGINE_FINISH_LENGTH: return "length";
    case ENGINE_FINISH_CANCELLED: return "cancelled";
    case ENGINE_FINISH_ERROR: return "error";
    }
    return "unknown";
}
