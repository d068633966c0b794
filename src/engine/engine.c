/* engine.c: the engine thread and the continuous-batching scheduler (engine.h).
 *
 * Data: a fixed array of sequence slots (max_num_seqs), each with block-table
 * storage for the whole context, allocated once in engine_create; the running
 * list is an array of slot pointers in admission order (FCFS: index 0 is the
 * oldest, the last is the newest and the first to be preempted); the waiting
 * queue is an intrusive FIFO through engine_request.next. The batch arrays and
 * the logits buffer are sized once for max_batch_tokens rows. Nothing in the
 * step loop allocates. */
#include "engine/engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "kv/kv_seq.h"

typedef struct engine_seq {
    engine_request *req;    /* NULL when the slot is free */
    kv_seq kv;              /* block table; kv.n_tokens = tokens with KV computed */
    int32_t *blocks;        /* (max_blocks) storage of the block table */
    int32_t chunk;          /* rows scheduled in the current step */
} engine_seq;

struct engine {
    engine_config cfg;
    engine_runner runner;
    kv_pool *pool;
    int32_t max_blocks;     /* per sequence: ceil(n_ctx / B) */

    engine_seq *slots;      /* (max_num_seqs) */
    engine_seq **running;   /* (max_num_seqs) admission order */
    int32_t n_running;

    engine_request *wait_head, *wait_tail;  /* engine thread's waiting queue */
    int32_t n_waiting;

    /* batch scratch, (max_batch_tokens) rows */
    int32_t *b_token, *b_pos, *b_seq, *b_out;
    model_batch_seq *b_seqs;                /* (max_num_seqs) */
    engine_seq **b_seq_of;                  /* (max_num_seqs) slot of batch sequence s */
    float *logits;                          /* (max_out, n_vocab) */
    int32_t *ids;                           /* (max_out): forward_greedy's tokens */
    sampler *sampler;                       /* scratch for one vocabulary row */

    /* submission queue, shared with other threads */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    engine_request *in_head, *in_tail;
    int32_t n_in;
    bool stopping;
    bool thread_started;
    pthread_t thread;
    uint64_t next_id;

    /* stats: written by the engine thread under slock, read by anyone */
    pthread_mutex_t slock;
    engine_stats stats;
};

/* ---- queues ---------------------------------------------------------------- */

static void wait_push_back(engine *e, engine_request *r)
{
    r->next = NULL;
    if (e->wait_tail) e->wait_tail->next = r;
    else e->wait_head = r;
    e->wait_tail = r;
    e->n_waiting++;
}

static void wait_push_front(engine *e, engine_request *r)
{
    r->next = e->wait_head;
    e->wait_head = r;
    if (!e->wait_tail) e->wait_tail = r;
    e->n_waiting++;
}

static engine_request *wait_pop_front(engine *e)
{
    engine_request *r = e->wait_head;
    if (!r) return NULL;
    e->wait_head = r->next;
    if (!e->wait_head) e->wait_tail = NULL;
    r->next = NULL;
    e->n_waiting--;
    return r;
}

/* Moves submitted requests into the waiting queue. Engine thread. */
static void drain_incoming(engine *e)
{
    pthread_mutex_lock(&e->qlock);
    engine_request *r = e->in_head;
    e->in_head = e->in_tail = NULL;
    e->n_in = 0;
    pthread_mutex_unlock(&e->qlock);
    while (r) {
        engine_request *next = r->next;
        wait_push_back(e, r);
        r = next;
    }
}

/* ---- life cycle ------------------------------------------------------------ */

int engine_create(const engine_config *cfg_in, const engine_runner *runner, engine **out,
                  inf_error *err)
{
    *out = NULL;
    engine_config cfg = *cfg_in;
    if (cfg.max_num_seqs <= 0) cfg.max_num_seqs = 64;
    if (cfg.max_batch_tokens <= 0) cfg.max_batch_tokens = 512;
    if (cfg.max_queue <= 0) cfg.max_queue = 1024;
    if (cfg.block_size <= 0) cfg.block_size = 16;
    if (cfg.max_batch_tokens > runner->max_rows) cfg.max_batch_tokens = runner->max_rows;
    if (cfg.max_num_seqs > runner->max_out) cfg.max_num_seqs = runner->max_out;
    if (cfg.max_num_seqs > cfg.max_batch_tokens) cfg.max_num_seqs = cfg.max_batch_tokens;
    if (runner->n_ctx <= 1 || runner->n_vocab <= 0 || cfg.n_blocks <= 0)
        return inf_errorf(err, INF_ERR_INVALID, "engine needs a context > 1, a vocabulary and "
                          "KV blocks (n_ctx %d, n_vocab %d, n_blocks %d)", runner->n_ctx,
                          runner->n_vocab, cfg.n_blocks);

    engine *e = calloc(1, sizeof *e);
    if (!e) return inf_errorf(err, INF_ERR_NOMEM, "out of memory for the engine");
    e->cfg = cfg;
    e->runner = *runner;
    e->max_blocks = (runner->n_ctx + cfg.block_size - 1) / cfg.block_size;
    pthread_mutex_init(&e->qlock, NULL);
    pthread_cond_init(&e->qcond, NULL);
    pthread_mutex_init(&e->slock, NULL);

    kv_config kc = {.n_blocks = cfg.n_blocks, .block_size = cfg.block_size,
                    .bytes_per_block = cfg.bytes_per_block, .prefix_cache = cfg.prefix_cache,
                    .prefix_cache_bytes = cfg.prefix_cache_bytes, .model_id = cfg.model_id};
    int rc = kv_pool_create(&kc, &e->pool, err);
    if (rc != INF_OK) goto fail;

    size_t S = (size_t)cfg.max_num_seqs, R = (size_t)cfg.max_batch_tokens;
    e->slots = calloc(S, sizeof *e->slots);
    e->running = calloc(S, sizeof *e->running);
    e->b_token = malloc(R * sizeof *e->b_token);
    e->b_pos = malloc(R * sizeof *e->b_pos);
    e->b_seq = malloc(R * sizeof *e->b_seq);
    e->b_out = malloc(S * sizeof *e->b_out);
    e->b_seqs = calloc(S, sizeof *e->b_seqs);
    e->b_seq_of = calloc(S, sizeof *e->b_seq_of);
    e->logits = malloc(S * (size_t)runner->n_vocab * sizeof *e->logits);
    e->ids = malloc(S * sizeof *e->ids);
    rc = INF_ERR_NOMEM;
    if (!e->slots || !e->running || !e->b_token || !e->b_pos || !e->b_seq || !e->b_out ||
        !e->b_seqs || !e->b_seq_of || !e->logits || !e->ids) {
        inf_errorf(err, rc, "out of memory for the engine's step buffers");
        goto fail;
    }
    for (size_t i = 0; i < S; i++) {
        e->slots[i].blocks = malloc((size_t)e->max_blocks * sizeof(int32_t));
        if (!e->slots[i].blocks) {
            inf_errorf(err, rc, "out of memory for block tables");
            goto fail;
        }
        kv_seq_init(&e->slots[i].kv, e->slots[i].blocks, e->max_blocks);
    }
    rc = sampler_create(runner->n_vocab, &e->sampler, err);
    if (rc != INF_OK) goto fail;
    e->stats.kv_blocks_total = cfg.n_blocks;
    *out = e;
    return INF_OK;
fail:
    engine_destroy(e);
    return rc;
}

/* Finishes a request: publishes the reason, frees its blocks and slot, drops the
 * engine's reference. Engine thread. */
static void finish_seq(engine *e, engine_seq *s, engine_finish why, const inf_error *err)
{
    engine_request *r = s->req;
    kv_seq_release(e->pool, &s->kv);
    s->req = NULL;
    r->seq = NULL;
    engine_request_finish(r, why, err);
    pthread_mutex_lock(&e->slock);
    switch (why) {
    case ENGINE_FINISH_STOP: e->stats.finished_stop++; break;
    case ENGINE_FINISH_LENGTH: e->stats.finished_length++; break;
    case ENGINE_FINISH_CANCELLED: e->stats.finished_cancelled++; break;
    default: e->stats.finished_error++; break;
    }
    pthread_mutex_unlock(&e->slock);
    engine_request_release(r);
}

static void finish_waiting(engine *e, engine_request *r, engine_finish why)
{
    engine_request_finish(r, why, NULL);
    pthread_mutex_lock(&e->slock);
    if (why == ENGINE_FINISH_CANCELLED) e->stats.finished_cancelled++;
    else e->stats.finished_error++;
    pthread_mutex_unlock(&e->slock);
    engine_request_release(r);
}

/* Removes running[i], keeping admission order. */
static void running_remove(engine *e, int32_t i)
{
    memmove(e->running + i, e->running + i + 1, (size_t)(e->n_running - i - 1) * sizeof *e->running);
    e->n_running--;
}

/* Removes s from the running list wherever it is. */
static void running_drop(engine *e, const engine_seq *s)
{
    for (int32_t i = 0; i < e->n_running; i++)
        if (e->running[i] == s) {
            running_remove(e, i);
            return;
        }
}

static void cancel_everything(engine *e)
{
    drain_incoming(e);
    while (e->n_running > 0) {
        engine_seq *s = e->running[e->n_running - 1];
        e->n_running--;
        finish_seq(e, s, ENGINE_FINISH_CANCELLED, NULL);
    }
    engine_request *r;
    while ((r = wait_pop_front(e))) finish_waiting(e, r, ENGINE_FINISH_CANCELLED);
}

void engine_destroy(engine *e)
{
    if (!e) return;
    engine_stop(e);
    if (e->pool) cancel_everything(e);
    if (e->slots)
        for (int32_t i = 0; i < e->cfg.max_num_seqs; i++) free(e->slots[i].blocks);
    free(e->slots);
    free(e->running);
    free(e->b_token);
    free(e->b_pos);
    free(e->b_seq);
    free(e->b_out);
    free(e->b_seqs);
    free(e->b_seq_of);
    free(e->logits);
    free(e->ids);
    sampler_free(e->sampler);
    kv_pool_destroy(e->pool);
    pthread_mutex_destroy(&e->qlock);
    pthread_cond_destroy(&e->qcond);
    pthread_mutex_destroy(&e->slock);
    free(e);
}

static int32_t waiting_now(engine *e)
{
    pthread_mutex_lock(&e->slock);
    int32_t n = e->stats.waiting;
    pthread_mutex_unlock(&e->slock);
    return n;
}

int engine_submit(engine *e, engine_request *r, inf_error *err)
{
    int32_t B = e->cfg.block_size;
    if (r->n_prompt >= e->runner.n_ctx)
        return inf_errorf(err, INF_ERR_RANGE, "the prompt has %d tokens; the context holds %d "
                          "(prompt plus at least one generated token)", r->n_prompt,
                          e->runner.n_ctx);
    if ((int64_t)r->n_prompt + 1 > (int64_t)e->cfg.n_blocks * B)
        return inf_errorf(err, INF_ERR_RANGE, "the prompt has %d tokens; the KV cache holds %d",
                          r->n_prompt, e->cfg.n_blocks * B);
    for (int32_t i = 0; i < r->n_prompt; i++)
        if (r->tokens[i] < 0 || r->tokens[i] >= e->runner.n_vocab)
            return inf_errorf(err, INF_ERR_RANGE, "prompt token %d is id %d, outside the "
                              "vocabulary (%d)", i, r->tokens[i], e->runner.n_vocab);
    /* Logprobs nobody reads are not worth a softmax over the vocabulary per token. */
    r->params.sampling.skip_logprob = !r->params.logprobs;
    int rc = sampler_params_validate(&r->params.sampling, e->runner.n_vocab, err);
    if (rc != INF_OK) return rc;
    if (r->admitted || r->sampler.hist)
        return inf_errorf(err, INF_ERR_INVALID, "a request can be submitted only once");
    /* Copies logit_bias and stop ids: the caller's arrays are free after this. */
    rc = sampler_seq_init(&r->sampler, &r->params.sampling, r->tokens, r->n_prompt,
                          r->params.max_tokens, err);
    if (rc != INF_OK) return rc;
    pthread_mutex_lock(&e->qlock);
    if (e->stopping) {
        rc = inf_errorf(err, INF_ERR_CANCELLED, "the engine is shutting down");
    } else if (e->n_in + waiting_now(e) >= e->cfg.max_queue) {
        rc = inf_errorf(err, INF_ERR_BUSY, "the waiting queue is full (%d requests)",
                        e->cfg.max_queue);
    } else {
        r->id = ++e->next_id;
        r->t_submit_ns = inf_clock_ns();
        engine_request_retain(r);
        r->next = NULL;
        if (e->in_tail) e->in_tail->next = r;
        else e->in_head = r;
        e->in_tail = r;
        e->n_in++;
        pthread_cond_signal(&e->qcond);
    }
    pthread_mutex_unlock(&e->qlock);
    if (rc != INF_OK) sampler_seq_free(&r->sampler); /* the caller may submit it again */
    return rc;
}

/* ---- scheduling ------------------------------------------------------------ */

static int32_t known_tokens(const engine_request *r) { return r->n_prompt + r->n_generated; }

/* Preempts the newest running sequence: its blocks go back (full ones stay in the
 * prefix cache) and its request returns to the front of the waiting queue with
 * everything it generated, to be recomputed later. */
static void preempt_newest(engine *e)
{
    INF_ASSERT(e->n_running > 0);
    engine_seq *s = e->running[e->n_running - 1];
    engine_request *r = s->req;
    kv_seq_release(e->pool, &s->kv);
    s->req = NULL;
    r->seq = NULL;
    e->n_running--;
    wait_push_front(e, r);
    pthread_mutex_lock(&e->slock);
    e->stats.preemptions++;
    pthread_mutex_unlock(&e->slock);
}

/* Rows of KV that fit the pool for s beyond its computed tokens, up to want. */
static int32_t fit_rows(engine *e, const engine_seq *s, int32_t want)
{
    int32_t B = e->cfg.block_size;
    int32_t have = s->kv.n_blocks * B - s->kv.n_tokens;      /* slack in held blocks */
    int64_t more = (int64_t)kv_pool_available(e->pool) * B;
    int64_t fit = have + more;
    return fit < want ? (int32_t)fit : want;
}

static engine_seq *free_slot(engine *e)
{
    for (int32_t i = 0; i < e->cfg.max_num_seqs; i++)
        if (!e->slots[i].req) return &e->slots[i];
    return NULL;
}

/* Plans the step: sets chunk of every running sequence. Returns rows planned. */
static int32_t plan_step(engine *e)
{
    int32_t budget = e->cfg.max_batch_tokens;
    for (int32_t i = 0; i < e->n_running; i++) e->running[i]->chunk = 0;

    /* Decoders first: one row each. When blocks run out, the newest running
     * sequence is preempted (possibly s itself, which then waits); a sequence alone
     * in the engine that cannot grow has filled the whole pool: it ends ("length"). */
    for (int32_t i = 0; i < e->n_running && budget > 0; i++) {
        engine_seq *s = e->running[i];
        int32_t need = known_tokens(s->req) - s->kv.n_tokens;
        if (need != 1) continue;
        bool ok = true, self = false;
        while (kv_seq_reserve(e->pool, &s->kv, s->kv.n_tokens + 1) != INF_OK) {
            if (e->n_running == 1) {
                running_remove(e, 0);
                finish_seq(e, s, ENGINE_FINISH_LENGTH, NULL);
                ok = false;
                break;
            }
            self = e->running[e->n_running - 1] == s;
            preempt_newest(e);
            if (self) {
                ok = false;
                break;
            }
        }
        if (!ok) break; /* s was the last running sequence or was itself removed */
        s->chunk = 1;
        budget--;
    }
    /* Sequences still prefilling: their next chunk, oldest first. */
    for (int32_t i = 0; i < e->n_running && budget > 0; i++) {
        engine_seq *s = e->running[i];
        int32_t need = known_tokens(s->req) - s->kv.n_tokens;
        if (need <= 1 || s->chunk) continue;
        int32_t rows = fit_rows(e, s, need < budget ? need : budget);
        if (rows <= 0) continue;
        if (kv_seq_reserve(e->pool, &s->kv, s->kv.n_tokens + rows) == INF_OK) {
            s->chunk = rows;
            budget -= rows;
        }
    }
    /* Admit waiting requests, FCFS, while slots, budget and blocks allow. */
    while (budget > 0 && e->wait_head && e->n_running < e->cfg.max_num_seqs) {
        engine_request *r = e->wait_head;
        if (atomic_load(&r->cancel)) {
            wait_pop_front(e);
            finish_waiting(e, r, ENGINE_FINISH_CANCELLED);
            continue;
        }
        engine_seq *s = free_slot(e);
        INF_ASSERT(s);
        int32_t known = known_tokens(r);
        int32_t hit = kv_seq_match_prefix(e->pool, &s->kv, r->tokens, known);
        int32_t need = known - hit;
        int32_t rows = fit_rows(e, s, need < budget ? need : budget);
        if (rows <= 0 || kv_seq_reserve(e->pool, &s->kv, hit + rows) != INF_OK) {
            kv_seq_release(e->pool, &s->kv);  /* give the hits back; wait for room */
            break;
        }
        if (!r->admitted) {
            r->admitted = true;
            r->n_cached_prompt = hit;
            pthread_mutex_lock(&e->slock);
            e->stats.prompt_tokens += (uint64_t)r->n_prompt;
            pthread_mutex_unlock(&e->slock);
        }
        wait_pop_front(e);
        s->req = r;
        r->seq = s;
        s->chunk = rows;
        budget -= rows;
        e->running[e->n_running++] = s;
    }
    int32_t planned = e->cfg.max_batch_tokens - budget;
    /* Nothing could run although sequences are admitted: the pool is full of
     * partially prefilled sequences. Make room by preempting the newest. */
    if (planned == 0 && e->n_running > 1) {
        preempt_newest(e);
        return plan_step(e);
    }
    return planned;
}

/* Fills the batch arrays from the plan. Returns rows. */
static int32_t build_batch(engine *e, model_batch *b)
{
    int32_t n = 0, n_seq = 0, n_out = 0;
    for (int32_t i = 0; i < e->n_running; i++) {
        engine_seq *s = e->running[i];
        if (!s->chunk) continue;
        int32_t start = s->kv.n_tokens, end = start + s->chunk;
        for (int32_t p = start; p < end; p++) {
            e->b_token[n] = s->req->tokens[p];
            e->b_pos[n] = p;
            e->b_seq[n] = n_seq;
            n++;
        }
        if (end == known_tokens(s->req)) e->b_out[n_out++] = n - 1;
        e->b_seqs[n_seq] = (model_batch_seq){.blocks = s->kv.blocks, .n_blocks = s->kv.n_blocks,
                                             .kv_len = end};
        e->b_seq_of[n_seq] = s;
        n_seq++;
    }
    *b = (model_batch){.n = n, .token = e->b_token, .pos = e->b_pos, .seq = e->b_seq,
                       .n_seq = n_seq, .seqs = e->b_seqs, .n_out = n_out, .out_rows = e->b_out};
    return n;
}

/* Gives s its next token (sampled from its logits row, or the token the
 * backend picked when ids is non-NULL) and applies stop conditions. Returns
 * true when s finished. */
static bool emit_token(engine *e, engine_seq *s, const float *logits, const int32_t *id)
{
    engine_request *r = s->req;
    sampler_result res;
    if (id)
        sampler_take(&r->sampler, *id, &res);
    else
        sampler_sample(e->sampler, &r->sampler, logits, &res);
    inf_error err;
    if (sampler_seq_accept(&r->sampler, res.token, &err) != INF_OK) {
        finish_seq(e, s, ENGINE_FINISH_ERROR, &err);
        return true;
    }
    engine_request_push(r, res.token, r->params.logprobs ? &res : NULL);
    pthread_mutex_lock(&e->slock);
    e->stats.generation_tokens++;
    pthread_mutex_unlock(&e->slock);
    if (res.stop ||
        (!r->params.ignore_eos && e->runner.is_eog && e->runner.is_eog(e->runner.ctx, res.token))) {
        finish_seq(e, s, ENGINE_FINISH_STOP, NULL);
        return true;
    }
    if (r->n_generated >= r->params.max_tokens || known_tokens(r) >= e->runner.n_ctx) {
        finish_seq(e, s, ENGINE_FINISH_LENGTH, NULL);
        return true;
    }
    return false;
}

static void publish_gauges(engine *e)
{
    pthread_mutex_lock(&e->slock);
    e->stats.running = e->n_running;
    e->stats.waiting = e->n_waiting;
    kv_pool_stats(e->pool, &e->stats.kv);
    pthread_mutex_unlock(&e->slock);
}

int engine_step(engine *e, inf_error *err)
{
    drain_incoming(e);
    /* Cancellations take effect here, between steps, at a safe point. */
    for (int32_t i = e->n_running - 1; i >= 0; i--) {
        engine_seq *s = e->running[i];
        if (atomic_load(&s->req->cancel)) {
            running_remove(e, i);
            finish_seq(e, s, ENGINE_FINISH_CANCELLED, NULL);
        }
    }
    int32_t rows = plan_step(e);
    if (rows == 0) {
        publish_gauges(e);
        return 0;
    }
    model_batch b;
    build_batch(e, &b);
    /* A step whose sequences all sample plain greedy lets the backend pick the
     * tokens where the logits are, when it can. */
    bool greedy = e->runner.forward_greedy != NULL;
    for (int32_t s = 0; s < b.n_seq && greedy; s++)
        greedy = sampler_params_plain_greedy(&e->b_seq_of[s]->req->sampler.p);
    int rc = greedy ? e->runner.forward_greedy(e->runner.ctx, &b, e->ids, err)
                    : e->runner.forward(e->runner.ctx, &b, e->logits, err);
    if (rc != INF_OK) {
        /* A failed step fails the sequences in it, not the process. */
        for (int32_t s = 0; s < b.n_seq; s++) {
            engine_seq *q = e->b_seq_of[s];
            running_drop(e, q);
            finish_seq(e, q, ENGINE_FINISH_ERROR, err);
        }
        publish_gauges(e);
        return rc;
    }
    int32_t out = 0;
    for (int32_t s = 0; s < b.n_seq; s++) {
        engine_seq *q = e->b_seq_of[s];
        int32_t end = q->kv.n_tokens + q->chunk;
        kv_seq_commit(e->pool, &q->kv, q->req->tokens, end);
        q->chunk = 0;
        if (end != known_tokens(q->req)) continue;
        const float *row = e->logits + (size_t)out * (size_t)e->runner.n_vocab;
        const int32_t *id = greedy ? &e->ids[out] : NULL;
        out++;
        if (emit_token(e, q, row, id)) {
            running_drop(e, q);
        }
    }
    pthread_mutex_lock(&e->slock);
    e->stats.steps++;
    pthread_mutex_unlock(&e->slock);
    publish_gauges(e);
    return rows;
}

int engine_run_until_idle(engine *e, inf_error *err)
{
    for (;;) {
        int rows = engine_step(e, err);
        if (rows < 0) return rows;
        if (rows == 0) {
            pthread_mutex_lock(&e->qlock);
            bool empty = e->in_head == NULL;
            pthread_mutex_unlock(&e->qlock);
            if (empty && e->n_running == 0 && e->n_waiting == 0) return INF_OK;
            if (empty && e->n_running == 0 && e->wait_head) {
                /* Nothing fits even an empty pool: cannot happen after submit's check. */
                return inf_errorf(err, INF_ERR_INTERNAL, "scheduler made no progress");
            }
        }
    }
}

/* ---- the thread ------------------------------------------------------------ */

static void *engine_main(void *arg)
{
    engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->qlock);
        while (!e->stopping && !e->in_head && e->n_running == 0 && e->n_waiting == 0)
            pthread_cond_wait(&e->qcond, &e->qlock);
        bool stop = e->stopping;
        pthread_mutex_unlock(&e->qlock);
        if (stop) break;
        inf_error err;
        int rc = engine_step(e, &err);
        if (rc < 0) INF_WARN("engine step failed: %s", err.msg);
    }
    cancel_everything(e);
    publish_gauges(e);
    return NULL;
}

int engine_start(engine *e, inf_error *err)
{
    if (e->thread_started) return INF_OK;
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0)
        return inf_errorf(err, INF_ERR_INTERNAL, "cannot start the engine thread");
    e->thread_started = true;
    return INF_OK;
}

void engine_stop(engine *e)
{
    pthread_mutex_lock(&e->qlock);
    e->stopping = true;
    pthread_cond_broadcast(&e->qcond);
    pthread_mutex_unlock(&e->qlock);
    if (e->thread_started) {
        pthread_join(e->thread, NULL);
        e->thread_started = false;
    }
}

void engine_get_stats(engine *e, engine_stats *out)
{
    pthread_mutex_lock(&e->slock);
    *out = e->stats;
    pthread_mutex_unlock(&e->slock);
}

int engine_check(engine *e, inf_error *err)
{
    int rc = kv_pool_check(e->pool, err);
    if (rc != INF_OK) return rc;
    /* Reference counts add up: each block's count equals its uses in block tables. */
    int32_t n = kv_pool_n_blocks(e->pool);
    for (int32_t b = 0; b < n; b++) {
        int32_t uses = 0;
        for (int32_t i = 0; i < e->cfg.max_num_seqs; i++) {
            const engine_seq *s = &e->slots[i];
            if (!s->req) continue;
            for (int32_t j = 0; j < s->kv.n_blocks; j++) uses += s->kv.blocks[j] == b;
        }
        if (uses != kv_block_refcount(e->pool, b))
            return inf_errorf(err, INF_ERR_INTERNAL, "block %d is in %d block tables but has "
                              "%d references", b, uses, kv_block_refcount(e->pool, b));
    }
    return INF_OK;
}
