/* driver.c: the libcurl multi loop of driver.h and the per-stream bookkeeping.
 *
 * The write callback sees the body as the network delivers it: for a 2xx
 * response it feeds the SSE parser, whose events become chunks (chunk.h) and
 * timestamps; for any other status it keeps the first bytes of the body for the
 * error message. When libcurl says a transfer is over, finish() decides what
 * the request was (ok or the first thing that went wrong) and fills its sample. */
#include "bench/driver.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench/chunk.h"
#include "bench/sse.h"
#include "core/clock.h"

#define ERRBODY_CAP 4096            /* bytes of an error body kept for its message */
#define SSE_MAX ((size_t)16 << 20)  /* longest SSE line or event accepted */
#define TICK_NS 200000000ull        /* progress refresh between request ends */

typedef struct stream {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    bench_sample *s;
    bench_sse sse;
    uint64_t t_send, t_first, t_prev, t_now, t_done_evt; /* t_now: arrival of the piece being parsed */
    long http;
    bool status_known, done;
    bench_fail fail;                /* first problem seen inside the stream */
    char *message;
    char *errbody;
    size_t errlen;
    size_t itl_cap;
    char curl_err[CURL_ERROR_SIZE];
} stream;

char *bench_request_body(const bench_target *t, const bench_prompt *p, const char *system)
{
    json_t *msgs = json_array();
    json_t *body = NULL;
    char *out = NULL;
    if (!msgs) goto out;
    if (system && json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
                                                        "content", system)))
        goto out;
    if (json_array_extend(msgs, p->messages)) goto out;
    body = json_pack("{s:s, s:O, s:i, s:f, s:b, s:{s:b}}", "model", t->model, "messages", msgs,
                     "max_tokens", t->max_tokens, "temperature", t->temperature, "stream", 1,
                     "stream_options", "include_usage", 1);
    if (body && t->ignore_eos && json_object_set_new(body, "ignore_eos", json_true())) goto out;
    if (body) out = json_dumps(body, JSON_COMPACT);
out:
    json_decref(msgs);
    json_decref(body);
    return out;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* Records the first problem of a stream; later ones only add to counters. */
static void note_fail(stream *st, bench_fail f, char *msg)
{
    if (st->fail == BENCH_FAIL_NONE) {
        st->fail = f;
        st->message = msg;
    } else {
        free(msg);
    }
}

static int on_event(void *ud, const char *data, size_t len)
{
    stream *st = ud;
    bench_sample *s = st->s;
    bench_chunk c;
    inf_error e;
    if (st->done) return 0; /* anything after [DONE] is not part of the answer */
    if (bench_chunk_parse(data, len, &c, &e)) {
        s->n_malformed++;
        note_fail(st, BENCH_FAIL_MALFORMED, dup_printf("%s: %.80s", e.msg, data));
        return 0;
    }
    if (c.done) {
        st->done = true;
        st->t_done_evt = st->t_now;
        return 0;
    }
    if (c.has_error) note_fail(st, BENCH_FAIL_STREAM_ERROR, strdup(c.error));
    if (c.has_usage) {
        s->usage = true;
        s->completion_tokens = c.completion_tokens;
        s->prompt_tokens = c.prompt_tokens;
    }
    if (c.finish_reason[0]) memcpy(s->finish_reason, c.finish_reason, sizeof s->finish_reason);
    if (c.content_len == 0) return 0;
    if (s->n_chunks == 0) {
        st->t_first = st->t_now;
    } else {
        if (s->n_itl == st->itl_cap) {
            size_t cap = st->itl_cap ? st->itl_cap * 2 : 64;
            double *ni = realloc(s->itl, cap * sizeof *ni);
            if (!ni) return INF_ERR_NOMEM;
            s->itl = ni;
            st->itl_cap = cap;
        }
        s->itl[s->n_itl++] = (double)(st->t_now - st->t_prev) * 1e-9;
    }
    st->t_prev = st->t_now;
    s->n_chunks++;
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    stream *st = ud;
    size_t n = size * nmemb;
    st->t_now = inf_clock_ns();
    if (!st->status_known) {
        curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &st->http);
        st->status_known = true;
    }
    if (st->http < 200 || st->http > 299) {
        size_t k = n;
        if (k > ERRBODY_CAP - st->errlen) k = ERRBODY_CAP - st->errlen;
        if (!st->errbody) st->errbody = malloc(ERRBODY_CAP + 1);
        if (st->errbody && k) {
            memcpy(st->errbody + st->errlen, ptr, k);
            st->errlen += k;
        }
        return n;
    }
    inf_error e;
    int rc = bench_sse_feed(&st->sse, ptr, n, &e);
    if (rc) {
        /* An event over the limit or no memory: the stream cannot be followed. */
        note_fail(st, BENCH_FAIL_MALFORMED, strdup(rc == INF_ERR_NOMEM ? "out of memory" : e.msg));
        return 0;
    }
    return n;
}

/* The message of an error body: OpenAI's error.message, other servers'
 * "message"/"detail"/"error" strings, or the first line of the text. */
static char *error_body_message(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *m = NULL;
    char *out = NULL;
    if (json_is_object(root)) {
        json_t *e = json_object_get(root, "error");
        json_t *cand[4] = {json_is_object(e) ? json_object_get(e, "message") : NULL, e,
                           json_object_get(root, "message"), json_object_get(root, "detail")};
        for (int i = 0; i < 4 && !m; i++)
            if (json_is_string(cand[i])) m = json_string_value(cand[i]);
    }
    if (m) {
        out = strdup(m);
    } else {
        size_t k = len < 200 ? len : 200;
        out = malloc(k + 1);
        if (out) {
            for (size_t i = 0; i < k; i++) {
                unsigned char c = (unsigned char)body[i];
                out[i] = c < 0x20 ? ' ' : (char)c;
            }
            out[k] = '\0';
        }
    }
    json_decref(root);
    return out;
}

static double secs(uint64_t a, uint64_t b) { return (double)(int64_t)(b - a) * 1e-9; }

/* Decides what the finished transfer was and fills its sample. */
static void finish(stream *st, CURLcode res, uint64_t now)
{
    bench_sample *s = st->s;
    if (!st->status_known) curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &st->http);
    s->http_status = st->http;
    uint64_t end = st->done ? st->t_done_evt : now;
    s->latency = secs(st->t_send, end);
    s->ttft = s->n_chunks ? secs(st->t_send, st->t_first) : NAN;
    if (!s->usage) {
        s->completion_tokens = (long)s->n_chunks;
        s->prompt_tokens = -1;
    }
    bench_fail f = BENCH_FAIL_NONE;
    char *msg = NULL;
    if (st->http && (st->http < 200 || st->http > 299)) {
        char *m = st->errlen ? error_body_message(st->errbody, st->errlen) : NULL;
        f = BENCH_FAIL_HTTP;
        msg = dup_printf("HTTP %ld: %s", st->http, m && *m ? m : "(empty body)");
        free(m);
    } else if (st->fail != BENCH_FAIL_NONE) {
        f = st->fail;
        msg = st->message;
        st->message = NULL;
    } else if (st->done) {
        /* Whatever libcurl says after [DONE] (a server that keeps the response
         * open until the timeout) does not change a complete answer. */
        if (s->n_chunks == 0) {
            f = BENCH_FAIL_EMPTY;
            msg = strdup("the stream finished without any content");
        }
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        f = BENCH_FAIL_TIMEOUT;
        msg = dup_printf("no end of stream after %.1f s (%zu content chunks so far)", s->latency,
                         s->n_chunks);
    } else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
               res == CURLE_COULDNT_RESOLVE_PROXY) {
        f = BENCH_FAIL_CONNECT;
        msg = strdup(st->curl_err[0] ? st->curl_err : curl_easy_strerror(res));
    } else if ((res == CURLE_PARTIAL_FILE || res == CURLE_RECV_ERROR) && st->status_known) {
        /* The server answered, then the connection went away mid-stream. */
        f = BENCH_FAIL_TRUNCATED;
        msg = dup_printf("the connection closed mid-stream after %zu events (%s)",
                         st->sse.n_events, st->curl_err[0] ? st->curl_err
                                                           : curl_easy_strerror(res));
    } else if (res != CURLE_OK) {
        f = BENCH_FAIL_TRANSPORT;
        msg = dup_printf("%s", st->curl_err[0] ? st->curl_err : curl_easy_strerror(res));
    } else if (st->sse.n_events == 0) {
        const char *ct = NULL;
        curl_easy_getinfo(st->easy, CURLINFO_CONTENT_TYPE, &ct);
        f = BENCH_FAIL_TRUNCATED;
        msg = dup_printf("the response held no SSE event (Content-Type: %s)", ct ? ct : "none");
    } else {
        f = BENCH_FAIL_TRUNCATED;
        msg = dup_printf("the stream ended without data: [DONE] after %zu events%s",
                         st->sse.n_events,
                         bench_sse_pending(&st->sse) ? ", inside an unfinished event" : "");
    }
    s->fail = f;
    s->message = msg;
    if (f != BENCH_FAIL_NONE && !msg) s->message = strdup(bench_fail_name(f));
}

static void stream_free(stream *st)
{
    if (!st) return;
    if (st->easy) curl_easy_cleanup(st->easy);
    curl_slist_free_all(st->headers);
    free(st->body);
    free(st->errbody);
    free(st->message);
    bench_sse_free(&st->sse);
    free(st);
}

/* Appends a header; on failure the list is kept and *ok cleared. */
static struct curl_slist *add_header(struct curl_slist *l, const char *h, bool *ok)
{
    struct curl_slist *n = curl_slist_append(l, h);
    if (!n) {
        *ok = false;
        return l;
    }
    return n;
}

/* Builds and starts one request; a request that cannot even be built is
 * recorded as a failed sample and returns NULL. */
static stream *stream_start(CURLM *m, const bench_target *t, const bench_prompts *p,
                            const bench_job *j, bench_sample *s, uint64_t t0)
{
    stream *st = calloc(1, sizeof *st);
    bool ok = st != NULL;
    if (!ok) goto fail;
    st->s = s;
    bench_sse_init(&st->sse, SSE_MAX, on_event, st);
    st->body = bench_request_body(t, &p->items[j->prompt], j->system);
    st->easy = curl_easy_init();
    if (!st->body || !st->easy) goto fail;
    st->headers = add_header(NULL, "Content-Type: application/json", &ok);
    st->headers = add_header(st->headers, "Accept: text/event-stream", &ok);
    /* Without this, libcurl may wait for "100 Continue" before sending a large
     * body, and that wait would land inside the TTFT. */
    st->headers = add_header(st->headers, "Expect:", &ok);
    if (t->api_key) {
        char *h = dup_printf("Authorization: Bearer %s", t->api_key);
        if (h) st->headers = add_header(st->headers, h, &ok);
        ok = ok && h;
        free(h);
    }
    if (!ok) goto fail;
    long tmo = (long)(t->timeout_s * 1000.0);
    CURL *e = st->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->chat_url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, st->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(st->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, st->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(e, CURLOPT_PRIVATE, st);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, st->curl_err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, tmo < 10000 ? tmo : 10000L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    st->t_send = inf_clock_ns();
    s->t_send = secs(t0, st->t_send);
    if (curl_multi_add_handle(m, e) != CURLM_OK) goto fail;
    return st;
fail:
    s->fail = BENCH_FAIL_TRANSPORT;
    s->message = strdup("could not set up the request (out of memory)");
    s->ttft = NAN;
    stream_free(st);
    return NULL;
}

int bench_drive(const bench_target *t, const bench_prompts *p, const bench_job *jobs, size_t n,
                size_t max_inflight, bench_sample *out, double *wall_s, bench_progress_fn fn,
                void *ud, inf_error *err)
{
    int rc = 0;
    size_t next = 0, done = 0, inflight = 0;
    uint64_t t0 = inf_clock_ns(), last_tick = t0, t_end = t0;
    memset(out, 0, n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].prompt = jobs[i].prompt;
        out[i].label = p->items[jobs[i].prompt].label;
        out[i].system = jobs[i].system != NULL;
        out[i].t_sched = jobs[i].t_sched;
        out[i].prompt_tokens = -1;
        out[i].ttft = out[i].latency = NAN;
    }
    CURLM *m = curl_multi_init();
    stream **live = calloc(n ? n : 1, sizeof *live); /* running streams, by job */
    if (!m || !live) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "bench: cannot create a libcurl multi handle");
        goto out;
    }
    while (done < n) {
        uint64_t now = inf_clock_ns();
        double el = secs(t0, now);
        while (next < n && jobs[next].t_sched <= el && (!max_inflight || inflight < max_inflight)) {
            stream *st = stream_start(m, t, p, &jobs[next], &out[next], t0);
            live[next] = st;
            if (st) {
                inflight++;
            } else {
                done++;
                if (fn) fn(ud, &out[next], done, n, el);
            }
            next++;
        }
        int running = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = inf_errorf(err, INF_ERR_INTERNAL, "bench: libcurl multi loop failed");
            break;
        }
        CURLMsg *msg;
        int left;
        bool ended = false;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            stream *st = NULL;
            CURL *e = msg->easy_handle;
            CURLcode res = msg->data.result;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&st);
            now = inf_clock_ns();
            curl_multi_remove_handle(m, e);
            finish(st, res, now);
            if (now > t_end) t_end = now;
            inflight--;
            done++;
            ended = true;
            if (fn) fn(ud, st->s, done, n, secs(t0, now));
            live[st->s - out] = NULL;
            stream_free(st);
        }
        if (done == n) break;
        now = inf_clock_ns();
        el = secs(t0, now);
        if (fn && !ended && now - last_tick >= TICK_NS) {
            last_tick = now;
            fn(ud, NULL, done, n, el);
        }
        bool can_start = next < n && (!max_inflight || inflight < max_inflight);
        if (can_start && jobs[next].t_sched <= el) continue;
        int wait_ms = 100;
        if (can_start) {
            double d = (jobs[next].t_sched - el) * 1000.0;
            wait_ms = d < 1.0 ? 1 : d < 100.0 ? (int)d : 100;
        }
        curl_multi_poll(m, NULL, 0, wait_ms, NULL);
    }
out:
    /* Streams still live here are those cut off by a libcurl breakdown. */
    for (size_t i = 0; live && i < n; i++) {
        if (!live[i]) continue;
        curl_multi_remove_handle(m, live[i]->easy);
        finish(live[i], CURLE_ABORTED_BY_CALLBACK, inf_clock_ns());
        stream_free(live[i]);
    }
    free(live);
    if (m) curl_multi_cleanup(m);
    *wall_s = secs(t0, t_end);
    return rc;
}
