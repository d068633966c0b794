/* http.c: libmicrohttpd glue: connections, bodies and their limits, routing,
 * authentication, and the small routes (/health, /v1/models, /metrics, /tokenize,
 * /detokenize). The generation routes live in generate.c. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/utf8.h"
#include "server/srv_internal.h"

void srv_config_init(srv_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_body_bytes = 8u << 20;
    c->max_connections = 512;
    c->timeout_s = 600;
}

/* ---- responses --------------------------------------------------------------- */

enum MHD_Result srv_send(srv *s, struct MHD_Connection *c, int status, const char *content_type,
                         const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    metrics_count_status(&s->metrics, status);
    return ok;
}

enum MHD_Result srv_send_json(srv *s, struct MHD_Connection *c, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                  "\"param\":null,\"code\":null}}";
        return srv_send(s, c, 500, "application/json", oom, sizeof oom - 1);
    }
    enum MHD_Result ok = srv_send(s, c, status, "application/json", text, strlen(text));
    free(text);
    return ok;
}

enum MHD_Result srv_send_error(srv *s, struct MHD_Connection *c, const api_error *e)
{
    return srv_send_json(s, c, e->status, api_error_json(e));
}

json_t *srv_json_text(const char *str, size_t n)
{
    if (utf8_validate(str, n, NULL)) {
        json_t *j = json_stringn(str, n);
        if (j) return j;
    }
    /* Replace every byte that cannot start a complete character with U+FFFD. */
    char *clean = malloc(n * 3 + 1);
    if (!clean) return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t bad = utf8_bad_len(str + i, n - i);
        if (bad) {
            memcpy(clean + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
            continue;
        }
        uint32_t cp;
        size_t k = utf8_decode(str + i, n - i, &cp);
        if (k == 0) k = 1;
        memcpy(clean + o, str + i, k);
        o += k;
        i += k;
    }
    json_t *j = json_stringn(clean, o);
    free(clean);
    return j ? j : json_string("");
}

bool srv_client_gone(int fd)
{
    if (fd < 0) return false;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
        /* Readable: pipelined bytes, or EOF from a closed peer. */
        char b;
        ssize_t k = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    return false;
}

/* ---- per-connection state ------------------------------------------------------ */

typedef struct conn_state {
    char *body;
    size_t n, cap;
    bool too_big;
} conn_state;

static void conn_done(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    conn_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

/* Constant-time comparison, so the key cannot be guessed byte by byte from timing. */
static bool key_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++) diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return diff == 0;
}

static bool authorized(srv *s, struct MHD_Connection *c)
{
    if (!s->cfg.api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    return key_equal(h + 7, s->cfg.api_key);
}

/* ---- small routes ---------------------------------------------------------------- */

static enum MHD_Result route_models(srv *s, runtime *rt, struct MHD_Connection *c)
{
    json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "id", s->model_name, "object", "model",
                          "created", (json_int_t)0, "owned_by", "inferd", "root", s->model_name,
                          "max_model_len", (json_int_t)rt->n_ctx);
    return srv_send_json(s, c, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", m));
}

static enum MHD_Result route_metrics(srv *s, runtime *rt, struct MHD_Connection *c)
{
    engine_stats es;
    engine_get_stats(rt->eng, &es);
    metrics_model_info info = {.model_name = s->model_name, .kv_block_size = rt->block_size,
                               .kv_bytes_per_block = rt->kv_bytes_per_token * (uint64_t)rt->block_size,
                               .prefix_cache_budget_bytes = rt->prefix_cache_bytes};
    char *text = metrics_render(&s->metrics, &es, &info);
    if (!text) {
        api_error e;
        api_fail(&e, 500, NULL, "out of memory");
        return srv_send_error(s, c, &e);
    }
    enum MHD_Result ok = srv_send(s, c, 200, "text/plain; version=0.0.4", text, strlen(text));
    free(text);
    return ok;
}

/* Renders a chat for /tokenize; returns a malloc'd text or NULL with e set. */
char *srv_render_chat(runtime *rt, const json_t *messages, const json_t *tools,
                      const json_t *kwargs, bool add_generation_prompt, api_error *e);

static enum MHD_Result route_tokenize(srv *s, runtime *rt, struct MHD_Connection *c, json_t *body)
{
    api_error e;
    const json_t *prompt = json_object_get(body, "prompt");
    const json_t *messages = json_object_get(body, "messages");
    const json_t *add = json_object_get(body, "add_special_tokens");
    if (add && !json_is_boolean(add)) {
        api_fail(&e, 400, "add_special_tokens", "'add_special_tokens' must be true or false");
        return srv_send_error(s, c, &e);
    }
    char *text = NULL;
    size_t len = 0;
    unsigned flags;
    if (json_is_string(prompt)) {
        len = json_string_length(prompt);
        text = malloc(len + 1);
        if (text) memcpy(text, json_string_value(prompt), len + 1);
        flags = (!add || json_is_true(add)) ? TOK_ADD_SPECIAL : 0;
    } else if (json_is_array(messages)) {
        const json_t *agp = json_object_get(body, "add_generation_prompt");
        text = srv_render_chat(rt, messages, NULL, NULL, agp ? json_is_true(agp) : true, &e);
        if (!text) return srv_send_error(s, c, &e);
        len = strlen(text);
        flags = TOK_PARSE_SPECIAL | (json_is_true(add) ? TOK_ADD_SPECIAL : 0);
    } else {
        api_fail(&e, 400, "prompt", "give 'prompt' (a string) or 'messages' (a list)");
        return srv_send_error(s, c, &e);
    }
    if (!text) {
        api_fail(&e, 500, NULL, "out of memory");
        return srv_send_error(s, c, &e);
    }
    tok_ids ids;
    tok_ids_init(&ids);
    inf_error err;
    int rc = tok_tokenize(rt->vocab, text, len, flags, &ids, &err);
    free(text);
    if (rc != INF_OK) {
        tok_ids_free(&ids);
        api_fail(&e, 400, "prompt", "%s", err.msg);
        return srv_send_error(s, c, &e);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < ids.n; i++) json_array_append_new(arr, json_integer(ids.ids[i]));
    json_t *out = json_pack("{s:I, s:I, s:o}", "count", (json_int_t)ids.n, "max_model_len",
                            (json_int_t)rt->n_ctx, "tokens", arr);
    tok_ids_free(&ids);
    return srv_send_json(s, c, 200, out);
}

static enum MHD_Result route_detokenize(srv *s, runtime *rt, struct MHD_Connection *c, json_t *body)
{
    api_error e;
    const json_t *toks = json_object_get(body, "tokens");
    if (!json_is_array(toks)) {
        api_fail(&e, 400, "tokens", "'tokens' must be a list of token ids");
        return srv_send_error(s, c, &e);
    }
    size_t n = json_array_size(toks);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) {
        api_fail(&e, 500, NULL, "out of memory");
        return srv_send_error(s, c, &e);
    }
    int32_t V = tok_vocab_size(rt->vocab);
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(toks, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= V) {
            free(ids);
            api_fail(&e, 400, "tokens", "tokens[%zu] must be a token id below %d", i, V);
            return srv_send_error(s, c, &e);
        }
        ids[i] = (int32_t)json_integer_value(t);
    }
    char *text = NULL;
    size_t len = 0;
    inf_error err;
    int rc = tok_decode(rt->vocab, ids, n, 0, &text, &len, &err);
    free(ids);
    if (rc != INF_OK) {
        api_fail(&e, 400, "tokens", "%s", err.msg);
        return srv_send_error(s, c, &e);
    }
    json_t *out = json_pack("{s:o}", "prompt", srv_json_text(text, len));
    free(text);
    return srv_send_json(s, c, 200, out);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static enum MHD_Result dispatch(srv *s, struct MHD_Connection *c, const char *url,
                               const char *method, conn_state *st)
{
    api_error e;
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    runtime *rt = atomic_load(&s->rt);
    if (!strcmp(url, "/health")) {
        if (!rt) return srv_send(s, c, 503, "application/json", "{\"status\":\"loading\"}", 20);
        return srv_send(s, c, 200, "application/json", "{\"status\":\"ok\"}", 15);
    }
    static const char *const routes[] = {"/v1/models", "/metrics", "/v1/chat/completions",
                                         "/v1/completions", "/tokenize", "/detokenize"};
    int route = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(url, routes[i])) route = i;
    if (route < 0) {
        api_fail(&e, 404, NULL, "no route %s %s", method, url);
        e.code = "not_found";
        return srv_send_error(s, c, &e);
    }
    bool want_post = route >= 2;
    if ((want_post && !post) || (!want_post && !get)) {
        api_fail(&e, 405, NULL, "%s takes %s", url, want_post ? "POST" : "GET");
        return srv_send_error(s, c, &e);
    }
    if (route != 1 && !authorized(s, c)) {
        api_fail(&e, 401, NULL, "missing or wrong API key (send 'Authorization: Bearer KEY')");
        e.code = "invalid_api_key";
        return srv_send_error(s, c, &e);
    }
    if (!rt) {
        api_fail(&e, 503, NULL, "the model is still loading");
        return srv_send_error(s, c, &e);
    }
    if (atomic_load(&s->stopping)) {
        api_fail(&e, 503, NULL, "the server is shutting down");
        return srv_send_error(s, c, &e);
    }
    if (route == 0) return route_models(s, rt, c);
    if (route == 1) return route_metrics(s, rt, c);

    if (st->too_big) {
        api_fail(&e, 413, NULL, "the request body exceeds %zu bytes (--max-body-bytes)",
                 s->cfg.max_body_bytes);
        return srv_send_error(s, c, &e);
    }
    json_error_t jerr;
    json_t *body = json_loadb(st->body ? st->body : "", st->n, 0, &jerr);
    if (!body) {
        api_fail(&e, 400, NULL, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        return srv_send_error(s, c, &e);
    }
    if (!json_is_object(body)) {
        json_decref(body);
        api_fail(&e, 400, NULL, "the request body must be a JSON object");
        return srv_send_error(s, c, &e);
    }
    /* The model field, where given, must name the served model. */
    const json_t *asked = json_object_get(body, "model");
    if (route <= 3 && json_is_string(asked) && strcmp(json_string_value(asked), s->model_name) != 0) {
        api_fail(&e, 404, "model", "the model '%s' does not exist (this server has '%s')",
                 json_string_value(asked), s->model_name);
        e.code = "model_not_found";
        json_decref(body);
        return srv_send_error(s, c, &e);
    }
    enum MHD_Result ok;
    if (route == 2 || route == 3) {
        atomic_fetch_add(&s->active, 1);
        ok = srv_generate(s, rt, c, body, route == 2); /* takes body */
        atomic_fetch_sub(&s->active, 1);
        return ok;
    }
    ok = route == 4 ? route_tokenize(s, rt, c, body) : route_detokenize(s, rt, c, body);
    json_decref(body);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    srv *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        /* Refuse an announced oversize body before reading it. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) st->too_big = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_big && st->n + *upload_size > s->cfg.max_body_bytes) {
            st->too_big = true;
            free(st->body);
            st->body = NULL;
            st->n = st->cap = 0;
        }
        if (!st->too_big) {
            if (st->n + *upload_size + 1 > st->cap) {
                size_t cap = st->cap ? st->cap : 4096;
                while (cap < st->n + *upload_size + 1) cap *= 2;
                char *p = realloc(st->body, cap);
                if (!p) return MHD_NO;
                st->body = p;
                st->cap = cap;
            }
            memcpy(st->body + st->n, upload, *upload_size);
            st->n += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(s, c, url, method, st);
}

/* ---- life cycle ----------------------------------------------------------------------- */

int srv_start(const srv_config *c, srv **out, inf_error *err)
{
    *out = NULL;
    srv *s = calloc(1, sizeof *s);
    if (!s) return inf_errorf(err, INF_ERR_NOMEM, "out of memory");
    s->cfg = *c;
    metrics_init(&s->metrics);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->host ? c->host : "127.0.0.1", &addr.sin_addr) != 1) {
        metrics_destroy(&s->metrics);
        free(s);
        return inf_errorf(err, INF_ERR_INVALID, "--host '%s' is not an IPv4 address", c->host);
    }
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                  MHD_USE_ERROR_LOG,
                              (uint16_t)c->port, NULL, NULL, on_request, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                              MHD_OPTION_NOTIFY_COMPLETED, conn_done, s,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout_s,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                              /* Bursts of clients (a 64-way benchmark) must not see
                               * connect retries. */
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!s->mhd) {
        metrics_destroy(&s->metrics);
        free(s);
        return inf_errorf(err, INF_ERR_IO, "cannot listen on %s:%d (%s)", c->host, c->port,
                          strerror(errno));
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : c->port;
    *out = s;
    return INF_OK;
}

void srv_set_runtime(srv *s, runtime *rt)
{
    snprintf(s->model_name, sizeof s->model_name, "%s",
             s->cfg.served_model_name ? s->cfg.served_model_name : rt->model_name);
    atomic_store(&s->rt, rt);
}

int srv_port(const srv *s) { return s->port; }

void srv_stop(srv *s)
{
    if (!s) return;
    atomic_store(&s->stopping, true);
    /* Stop accepting; existing connections go on. */
    MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET) close(lsock);
    runtime *rt = atomic_load(&s->rt);
    /* Cancel everything in flight: every stream gets its final event. */
    if (rt) engine_stop(rt->eng);
    for (int i = 0; i < 500 && atomic_load(&s->active) > 0; i++) usleep(10000);
    MHD_stop_daemon(s->mhd);
    metrics_destroy(&s->metrics);
    free(s);
}
