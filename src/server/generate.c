/* generate.c: POST /v1/chat/completions and /v1/completions, streaming (SSE) and
 * not.
 *
 * A generation job turns the body into prompt ids (chat template or tokenizer),
 * submits one engine request per choice (n > 1 reuses the prompt's KV through the
 * prefix cache), then pumps the requests' channels: each new token goes through
 * its choice's textstream (detokenizer + stop strings) and becomes text, logprob
 * entries and, when streaming, an SSE chunk. The first chunk carries the first
 * real text (with the role): no role-only chunk goes out early, so time to first
 * token means what it says. A client that goes away cancels its requests; the
 * engine frees their blocks at its next step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "server/srv_internal.h"

typedef struct choice {
    engine_request *req;
    textstream ts;
    bool ts_ready;
    int32_t seen;                /* tokens consumed from the channel */
    bool done;
    const char *finish;          /* "stop", "length", "abort", "error" */
    char *text;                  /* accumulated text (non-streaming) */
    size_t n_text, cap_text;
    json_t *lp;                  /* logprob entries not yet sent (streaming) or all */
    json_t *lp_tokens, *lp_token_lps, *lp_tops, *lp_offsets; /* completions' shape */
    size_t text_offset;
    uint64_t t_last_ns;
} choice;

typedef struct gen_job {
    srv *s;
    runtime *rt;
    json_t *body;
    gen_request g;
    int32_t *prompt;
    int32_t n_prompt;
    int n;                       /* choices */
    int n_submitted;             /* choices handed to the engine so far */
    choice ch[API_MAX_CHOICES];
    char id[64];
    int64_t created;
    uint64_t t0_ns;
    bool first_token;
    int fd;
    /* streaming output */
    char *out;
    size_t out_n, out_off, out_cap;
    bool finished;               /* every choice done and the tail written */
    bool observed;               /* counted in the metrics */
    bool eof;
} gen_job;

/* ---- prompt ---------------------------------------------------------------------- */

/* Chat content given as a list of text parts becomes one string (parts joined with
 * "\n", as vLLM does) so that every template sees plain strings. */
static json_t *normalize_messages(const json_t *messages)
{
    json_t *out = json_deep_copy(messages);
    if (!out) return NULL;
    size_t i;
    json_t *m;
    json_array_foreach(out, i, m) {
        json_t *c = json_object_get(m, "content");
        if (!json_is_array(c)) continue;
        size_t total = 0, j;
        json_t *part;
        json_array_foreach(c, j, part) total += json_string_length(json_object_get(part, "text")) + 1;
        char *buf = malloc(total + 1);
        if (!buf) {
            json_decref(out);
            return NULL;
        }
        size_t o = 0;
        json_array_foreach(c, j, part) {
            const json_t *t = json_object_get(part, "text");
            if (j) buf[o++] = '\n';
            memcpy(buf + o, json_string_value(t), json_string_length(t));
            o += json_string_length(t);
        }
        json_object_set_new(m, "content", json_stringn(buf, o));
        free(buf);
    }
    return out;
}

static const char *special_text(runtime *rt, tok_special which, char *buf, size_t cap)
{
    tok_id id = tok_vocab_special(rt->vocab, which);
    if (id < 0) return "";
    size_t len;
    const char *t = tok_token_text(rt->vocab, id, &len);
    if (!t || len >= cap) return "";
    memcpy(buf, t, len);
    buf[len] = '\0';
    return buf;
}

char *srv_render_chat(runtime *rt, const json_t *messages, const json_t *tools,
                      const json_t *kwargs, bool add_generation_prompt, api_error *e);

char *srv_render_chat(runtime *rt, const json_t *messages, const json_t *tools,
                      const json_t *kwargs, bool add_generation_prompt, api_error *e)
{
    if (!rt->chat) {
        api_fail(e, 400, "messages", "this model has no chat template; use /v1/completions or "
                 "start the server with --chat-template FILE");
        return NULL;
    }
    json_t *msgs = normalize_messages(messages);
    if (!msgs) {
        api_fail(e, 500, NULL, "out of memory");
        return NULL;
    }
    char bos[128], eos[128];
    tmpl_chat_opts o;
    memset(&o, 0, sizeof o);
    o.tools = tools;
    o.add_generation_prompt = add_generation_prompt;
    o.bos_token = special_text(rt, TOK_SPECIAL_BOS, bos, sizeof bos);
    o.eos_token = special_text(rt, TOK_SPECIAL_EOS, eos, sizeof eos);
    o.extra = kwargs;
    char *text = NULL;
    size_t len = 0;
    inf_error err;
    int rc = tmpl_chat_render(rt->chat, msgs, &o, &text, &len, &err);
    json_decref(msgs);
    if (rc != INF_OK) {
        /* The template refused the conversation (raise_exception) or hit a limit:
         * the client's request is at fault. */
        api_fail(e, 400, "messages", "chat template: %s", err.msg);
        return NULL;
    }
    return text;
}

static int build_prompt(gen_job *j, api_error *e)
{
    runtime *rt = j->rt;
    gen_request *g = &j->g;
    if (!g->chat && g->prompt_ids) {
        j->prompt = g->prompt_ids;
        j->n_prompt = g->n_prompt_ids;
        g->prompt_ids = NULL;
        return 0;
    }
    char *text;
    size_t len;
    unsigned flags;
    bool owned = false;
    if (g->chat) {
        text = srv_render_chat(rt, g->messages, g->tools, g->template_kwargs, true, e);
        if (!text) return -1;
        len = strlen(text);
        owned = true;
        /* The template writes BOS itself where the model wants one. */
        flags = TOK_PARSE_SPECIAL;
    } else {
        text = (char *)g->prompt;
        len = g->prompt_len;
        flags = TOK_ADD_SPECIAL | (j->s->cfg.completions_parse_special ? TOK_PARSE_SPECIAL : 0);
    }
    tok_ids ids;
    tok_ids_init(&ids);
    inf_error err;
    int rc = tok_tokenize(rt->vocab, text, len, flags, &ids, &err);
    if (owned) free(text);
    if (rc != INF_OK) {
        tok_ids_free(&ids);
        return api_fail(e, 400, g->chat ? "messages" : "prompt", "%s", err.msg);
    }
    if (ids.n == 0) {
        tok_ids_free(&ids);
        return api_fail(e, 400, g->chat ? "messages" : "prompt", "the prompt is empty");
    }
    j->prompt = ids.ids; /* tok_ids owns a malloc'd array: take it */
    j->n_prompt = (int32_t)ids.n;
    return 0;
}

/* ---- job -------------------------------------------------------------------------- */

static void job_free(gen_job *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        choice *c = &j->ch[i];
        if (c->req) {
            engine_request_cancel(c->req);
            engine_request_release(c->req);
        }
        if (c->ts_ready) textstream_free(&c->ts);
        free(c->text);
        json_decref(c->lp);
        json_decref(c->lp_tokens);
        json_decref(c->lp_token_lps);
        json_decref(c->lp_tops);
        json_decref(c->lp_offsets);
    }
    free(j->prompt);
    free(j->out);
    gen_request_free(&j->g);
    json_decref(j->body);
    free(j);
}

static bool text_append(char **buf, size_t *n, size_t *cap, const char *s, size_t k)
{
    if (*n + k + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *n + k + 1) c *= 2;
        char *p = realloc(*buf, c);
        if (!p) return false;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *n, s, k);
    *n += k;
    (*buf)[*n] = '\0';
    return true;
}

/* The text of one token on its own (for logprobs): decoded bytes, made valid. */
static json_t *token_json(runtime *rt, int32_t id, json_t **bytes_out)
{
    char *t = NULL;
    size_t len = 0;
    if (tok_decode(rt->vocab, &id, 1, 0, &t, &len, NULL) != INF_OK) len = 0;
    if (bytes_out) {
        *bytes_out = json_array();
        for (size_t i = 0; i < len; i++)
            json_array_append_new(*bytes_out, json_integer((unsigned char)t[i]));
    }
    json_t *s = srv_json_text(t ? t : "", len);
    free(t);
    return s;
}

/* Adds the logprob record of one token to the choice's pending entries. */
static void add_logprobs(gen_job *j, choice *c, const sampler_result *r)
{
    if (j->g.chat) {
        json_t *bytes;
        json_t *tok = token_json(j->rt, r->token, &bytes);
        json_t *tops = json_array();
        for (int32_t k = 0; k < r->n_top && k < j->g.top_logprobs; k++) {
            json_t *tb;
            json_t *tt = token_json(j->rt, r->top[k].id, &tb);
            json_array_append_new(tops, json_pack("{s:o, s:f, s:o}", "token", tt, "logprob",
                                                  (double)r->top[k].logprob, "bytes", tb));
        }
        json_array_append_new(c->lp, json_pack("{s:o, s:f, s:o, s:o}", "token", tok, "logprob",
                                               (double)r->logprob, "bytes", bytes,
                                               "top_logprobs", tops));
    } else {
        json_t *tok = token_json(j->rt, r->token, NULL);
        size_t tl = json_string_length(tok);
        json_array_append(c->lp_tokens, tok);
        json_array_append_new(c->lp_token_lps, json_real(r->logprob));
        json_t *top = json_object();
        for (int32_t k = 0; k < r->n_top && k < j->g.top_logprobs; k++) {
            json_t *tt = token_json(j->rt, r->top[k].id, NULL);
            json_object_set_new(top, json_string_value(tt), json_real(r->top[k].logprob));
            json_decref(tt);
        }
        json_array_append_new(c->lp_tops, top);
        json_array_append_new(c->lp_offsets, json_integer((json_int_t)c->text_offset));
        c->text_offset += tl;
        json_decref(tok);
    }
}

static const char *finish_of(engine_finish f)
{
    switch (f) {
    case ENGINE_FINISH_STOP: return "stop";
    case ENGINE_FINISH_LENGTH: return "length";
    case ENGINE_FINISH_CANCELLED: return "abort";
    default: return "error";
    }
}

/* Moves pending logprob entries into a JSON value for a response or a chunk (and
 * starts fresh pending lists). NULL when logprobs were not asked for. */
static json_t *take_logprobs(gen_job *j, choice *c)
{
    if (!j->g.logprobs) return NULL;
    json_t *out;
    if (j->g.chat) {
        out = json_pack("{s:o}", "content", c->lp);
        c->lp = json_array();
    } else {
        out = json_pack("{s:o, s:o, s:o, s:o}", "tokens", c->lp_tokens, "token_logprobs",
                        c->lp_token_lps, "top_logprobs", c->lp_tops, "text_offset", c->lp_offsets);
        c->lp_tokens = json_array();
        c->lp_token_lps = json_array();
        c->lp_tops = json_array();
        c->lp_offsets = json_array();
    }
    return out;
}

/* ---- streaming chunks -------------------------------------------------------------------- */

static void out_append(gen_job *j, const char *s, size_t n)
{
    text_append(&j->out, &j->out_n, &j->out_cap, s, n);
}

static void emit_event(gen_job *j, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text) return;
    out_append(j, "data: ", 6);
    out_append(j, text, strlen(text));
    out_append(j, "\n\n", 2);
    free(text);
}

static json_t *chunk_base(gen_job *j)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", j->id, "object",
                     j->g.chat ? "chat.completion.chunk" : "text_completion", "created",
                     (json_int_t)j->created, "model", j->s->model_name);
}

static void emit_piece(gen_job *j, int i, const char *text, size_t len, const char *finish)
{
    choice *c = &j->ch[i];
    json_t *lp = take_logprobs(j, c);
    json_t *ch;
    if (j->g.chat) {
        json_t *delta = json_object();
        if (len || !finish) {
            /* The first content chunk of a choice also carries the role. */
            if (c->seen <= 1 || !c->t_last_ns) json_object_set_new(delta, "role", json_string("assistant"));
            json_object_set_new(delta, "content", srv_json_text(text, len));
        }
        ch = json_pack("{s:i, s:o, s:o, s:o}", "index", i, "delta", delta, "logprobs",
                       lp ? lp : json_null(), "finish_reason",
                       finish ? json_string(finish) : json_null());
    } else {
        ch = json_pack("{s:i, s:o, s:o, s:o}", "index", i, "text", srv_json_text(text, len),
                       "logprobs", lp ? lp : json_null(), "finish_reason",
                       finish ? json_string(finish) : json_null());
    }
    json_t *chunk = chunk_base(j);
    json_object_set_new(chunk, "choices", json_pack("[o]", ch));
    emit_event(j, chunk);
}

/* ---- pumping tokens ------------------------------------------------------------------------- */

static int32_t completion_tokens(const gen_job *j)
{
    int32_t n = 0;
    for (int i = 0; i < j->n; i++) n += j->ch[i].req ? j->ch[i].req->n_generated : 0;
    return n;
}

/* Text released for choice i: kept (non-streaming) or sent as a chunk. */
static void deliver(gen_job *j, int i, const char *t, size_t n, const char *finish, bool stream)
{
    choice *c = &j->ch[i];
    if (stream) {
        if (n || finish) emit_piece(j, i, t, n, finish);
    } else if (n) {
        text_append(&c->text, &c->n_text, &c->cap_text, t, n);
    }
    if (n) c->t_last_ns = inf_clock_ns();
}

/* Consumes what the engine published for every choice; waits up to timeout_ms
 * for news first. Returns true when every choice is done. */
/* Choices after the first are submitted once the first has its prompt's KV (its
 * first token is out): their full prompt blocks then come from the prefix cache
 * instead of being computed n times. */
static void submit_rest(gen_job *j)
{
    if (j->n_submitted >= j->n) return;
    const engine_request *first = j->ch[0].req;
    if (first->n_generated == 0 && !j->ch[0].done) return;
    for (; j->n_submitted < j->n; j->n_submitted++) {
        choice *c = &j->ch[j->n_submitted];
        inf_error err;
        if (engine_submit(j->rt->eng, c->req, &err) != INF_OK) {
            INF_WARN("request %s: choice %d not scheduled: %s", j->id, j->n_submitted, err.msg);
            c->done = true;
            c->finish = "error";
        }
    }
}

static bool pump(gen_job *j, int timeout_ms, bool stream)
{
    submit_rest(j);
    int wait_on = -1;
    for (int i = 0; i < j->n; i++)
        if (!j->ch[i].done) {
            wait_on = i;
            break;
        }
    if (wait_on < 0) return true;
    engine_finish f;
    engine_request_wait(j->ch[wait_on].req, j->ch[wait_on].seen, timeout_ms, &f);
    bool all_done = j->n_submitted == j->n;
    for (int i = 0; i < j->n_submitted; i++) {
        choice *c = &j->ch[i];
        if (c->done) continue;
        int32_t avail = engine_request_wait(c->req, c->seen, 0, &f);
        while (c->seen < avail && !c->done) {
            int32_t idx = c->seen++;
            int32_t tok = engine_request_token(c->req, idx);
            uint64_t now = inf_clock_ns();
            if (!j->first_token) {
                j->first_token = true;
                metrics_observe_ttft(&j->s->metrics, (double)(now - j->t0_ns) * 1e-9);
            } else if (c->t_last_ns) {
                metrics_observe_itl(&j->s->metrics, (double)(now - c->t_last_ns) * 1e-9);
            }
            if (j->g.logprobs && c->req->logprobs) add_logprobs(j, c, &c->req->logprobs[idx]);
            const char *t;
            size_t n;
            bool stop = textstream_feed(&c->ts, tok, &t, &n);
            if (stop) {
                /* A stop string ended the choice: the engine may stop too. */
                engine_request_cancel(c->req);
                c->done = true;
                c->finish = "stop";
                deliver(j, i, t, n, "stop", stream);
            } else {
                deliver(j, i, t, n, NULL, stream);
            }
        }
        if (!c->done && f != ENGINE_RUNNING && c->seen >= avail) {
            const char *t;
            size_t n;
            textstream_finish(&c->ts, &t, &n);
            c->done = true;
            c->finish = finish_of(f);
            deliver(j, i, t, n, c->finish, stream);
            if (f == ENGINE_FINISH_ERROR)
                INF_WARN("request %s failed: %s", j->id, c->req->error.msg);
        }
        if (!c->done) all_done = false;
    }
    return all_done;
}

/* Counts the job's requests in the metrics once. A choice ended by a stop string
 * counts as "stop" (its engine request was cancelled only to free it); a stream cut
 * by its client counts every unfinished choice as cancelled. */
static void observe_finish(gen_job *j, bool client_gone)
{
    if (j->observed) return;
    j->observed = true;
    double e2e = (double)(inf_clock_ns() - j->t0_ns) * 1e-9;
    for (int i = 0; i < j->n; i++) {
        const choice *c = &j->ch[i];
        engine_finish f;
        engine_request_wait(c->req, c->seen, 0, &f);
        if (c->finish && !strcmp(c->finish, "stop")) f = ENGINE_FINISH_STOP;
        else if (client_gone || f == ENGINE_RUNNING) f = ENGINE_FINISH_CANCELLED;
        metrics_observe_request(&j->s->metrics, f, e2e, i == 0 ? j->n_prompt : 0,
                                c->req->n_generated);
    }
}

static json_t *usage_json(const gen_job *j)
{
    int32_t ct = completion_tokens(j);
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", j->n_prompt, "completion_tokens", ct,
                     "total_tokens", j->n_prompt + ct);
}

/* ---- the two ways to answer ---------------------------------------------------------------------- */

static enum MHD_Result answer_whole(gen_job *j, struct MHD_Connection *conn)
{
    while (!pump(j, 100, false)) {
        if (srv_client_gone(j->fd)) {
            for (int i = 0; i < j->n; i++) engine_request_cancel(j->ch[i].req);
        }
    }
    observe_finish(j, false);
    for (int i = 0; i < j->n; i++)
        if (j->ch[i].finish && !strcmp(j->ch[i].finish, "error")) {
            api_error e;
            api_fail(&e, 500, NULL, "generation failed: %s", j->ch[i].req->error.msg);
            enum MHD_Result ok = srv_send_error(j->s, conn, &e);
            job_free(j);
            return ok;
        }
    json_t *choices = json_array();
    for (int i = 0; i < j->n; i++) {
        choice *c = &j->ch[i];
        json_t *text = srv_json_text(c->text ? c->text : "", c->n_text);
        json_t *lp = take_logprobs(j, c);
        if (j->g.chat) {
            json_array_append_new(choices, json_pack("{s:i, s:{s:s, s:o}, s:o, s:s}", "index", i,
                                                      "message", "role", "assistant", "content",
                                                      text, "logprobs", lp ? lp : json_null(),
                                                      "finish_reason", c->finish));
        } else {
            json_array_append_new(choices, json_pack("{s:i, s:o, s:o, s:s}", "index", i, "text",
                                                      text, "logprobs", lp ? lp : json_null(),
                                                      "finish_reason", c->finish));
        }
    }
    json_t *resp = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", j->id, "object",
                             j->g.chat ? "chat.completion" : "text_completion", "created",
                             (json_int_t)j->created, "model", j->s->model_name, "choices", choices,
                             "usage", usage_json(j));
    enum MHD_Result ok = srv_send_json(j->s, conn, 200, resp);
    job_free(j);
    return ok;
}

/* libmicrohttpd asks for the next bytes of the stream; we block here (one thread
 * per connection) until there is something to send. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    gen_job *j = cls;
    while (j->out_off == j->out_n) {
        j->out_off = j->out_n = 0;
        if (j->eof) return MHD_CONTENT_READER_END_OF_STREAM;
        if (j->finished) {
            j->eof = true;
            continue;
        }
        if (srv_client_gone(j->fd)) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (pump(j, 100, true)) {
            observe_finish(j, false);
            if (j->g.include_usage) {
                json_t *chunk = chunk_base(j);
                json_object_set_new(chunk, "choices", json_array());
                json_object_set_new(chunk, "usage", usage_json(j));
                emit_event(j, chunk);
            }
            out_append(j, "data: [DONE]\n\n", 14);
            j->finished = true;
        }
    }
    size_t n = j->out_n - j->out_off;
    if (n > max) n = max;
    memcpy(buf, j->out + j->out_off, n);
    j->out_off += n;
    return (ssize_t)n;
}

/* The stream is over: finished, or the client went away mid-stream (then its
 * requests are cancelled by job_free and counted as such). */
static void stream_free(void *cls)
{
    gen_job *j = cls;
    observe_finish(j, true); /* no-op when the stream ended normally */
    job_free(j);
}

enum MHD_Result srv_generate(srv *s, runtime *rt, struct MHD_Connection *conn, json_t *body, bool chat)
{
    api_error e;
    gen_job *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(body);
        api_fail(&e, 500, NULL, "out of memory");
        return srv_send_error(s, conn, &e);
    }
    j->s = s;
    j->rt = rt;
    j->body = body;
    j->t0_ns = inf_clock_ns();
    j->created = inf_clock_unix();
    snprintf(j->id, sizeof j->id, "%s-%016llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)(atomic_fetch_add(&s->next_id, 1) * 0x9e3779b97f4a7c15ull ^
                                  (uint64_t)j->t0_ns));
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    j->fd = ci ? ci->connect_fd : -1;

    int32_t V = tok_vocab_size(rt->vocab);
    if (api_parse_generate(body, chat, V, rt->n_ctx, &j->g, &e) || build_prompt(j, &e)) goto fail;
    if (j->n_prompt >= rt->n_ctx) {
        api_fail(&e, 400, chat ? "messages" : "prompt", "the prompt has %d tokens; this model's "
                 "context holds %d (prompt plus at least one generated token)", j->n_prompt, rt->n_ctx);
        e.code = "context_length_exceeded";
        goto fail;
    }
    if (!j->g.max_tokens_given) {
        j->g.params.max_tokens = rt->n_ctx - j->n_prompt;
    } else if ((int64_t)j->n_prompt + j->g.params.max_tokens > rt->n_ctx) {
        api_fail(&e, 400, "max_tokens", "the prompt (%d tokens) plus max_tokens (%d) exceeds the "
                 "context of %d tokens", j->n_prompt, j->g.params.max_tokens, rt->n_ctx);
        e.code = "context_length_exceeded";
        goto fail;
    }
    j->n = j->g.n;
    for (int i = 0; i < j->n; i++) {
        choice *c = &j->ch[i];
        inf_error err;
        engine_request_params p = j->g.params;
        if (p.sampling.has_seed) p.sampling.seed += (uint64_t)i; /* choices differ, reproducibly */
        p.sampling.stop_ids = NULL;
        p.sampling.n_stop_ids = 0;
        int rc = engine_request_create(j->prompt, j->n_prompt, &p, &c->req, &err);
        if (rc == INF_OK) {
            rc = textstream_init(&c->ts, rt->vocab, TOK_DETOK_SKIP_SPECIAL, j->g.stop, j->g.n_stop, &err);
            c->ts_ready = rc == INF_OK;
        }
        if (rc == INF_OK && i == 0) rc = engine_submit(rt->eng, c->req, &err);
        if (rc != INF_OK) {
            int status = rc == INF_ERR_BUSY ? 429 : rc == INF_ERR_CANCELLED ? 503
                       : rc == INF_ERR_NOMEM ? 500 : 400;
            api_fail(&e, status, NULL, "%s", err.msg);
            j->n = i + 1;
            goto fail;
        }
        c->lp = json_array();
        c->lp_tokens = json_array();
        c->lp_token_lps = json_array();
        c->lp_tops = json_array();
        c->lp_offsets = json_array();
        if (!chat && j->g.echo && j->g.prompt) {
            if (!j->g.stream) text_append(&c->text, &c->n_text, &c->cap_text, j->g.prompt, j->g.prompt_len);
            c->text_offset = j->g.prompt_len;
        }
    }
    j->n_submitted = 1;
    if (!j->g.stream) return answer_whole(j, conn);

    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader,
                                                               j, stream_free);
    if (!r) {
        api_fail(&e, 500, NULL, "cannot create a streaming response");
        goto fail;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ok = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    metrics_count_status(&s->metrics, 200);
    return ok;
fail:;
    enum MHD_Result res = srv_send_error(s, conn, &e);
    job_free(j);
    return res;
}
