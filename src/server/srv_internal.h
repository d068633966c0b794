/* srv_internal.h: what the server's files share (not a public header). */
#ifndef INFERD_SERVER_INTERNAL_H
#define INFERD_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "server/api.h"
#include "server/metrics.h"
#include "server/server.h"

struct srv {
    srv_config cfg;
    struct MHD_Daemon *mhd;
    int port;
    _Atomic(runtime *) rt;         /* NULL while loading */
    _Atomic bool stopping;
    _Atomic int active;            /* handlers running generation jobs */
    _Atomic uint64_t next_id;
    srv_metrics metrics;
    char model_name[256];
};

/* A finished HTTP response: status + body, counted in the metrics. */
enum MHD_Result srv_send(srv *s, struct MHD_Connection *c, int status, const char *content_type,
                         const char *body, size_t len);
enum MHD_Result srv_send_json(srv *s, struct MHD_Connection *c, int status, json_t *j); /* steals j */
enum MHD_Result srv_send_error(srv *s, struct MHD_Connection *c, const api_error *e);

/* True when the client's socket is closed (or erroring). Any handler thread. */
bool srv_client_gone(int fd);

/* POST /v1/chat/completions and /v1/completions. */
enum MHD_Result srv_generate(srv *s, runtime *rt, struct MHD_Connection *c, json_t *body, bool chat);

/* A string for JSON: valid UTF-8 (bad bytes become U+FFFD). Never NULL. */
json_t *srv_json_text(const char *s, size_t n);

#endif
