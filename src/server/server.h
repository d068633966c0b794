/* server.h: the OpenAI-compatible HTTP server (libmicrohttpd + jansson).
 *
 * Threads: libmicrohttpd runs one thread per connection. Handler threads parse,
 * validate, render chat templates, tokenize, submit to the engine and stream from
 * each request's channel; they never touch the model or the KV cache (DESIGN.md).
 * The engine thread does all model work.
 *
 * Life cycle: srv_start listens at once and answers /health with 503 ("loading")
 * until srv_set_runtime hands it a loaded model; srv_stop stops accepting,
 * cancels what is in flight (every stream gets its final event), waits for the
 * handlers, and closes. */
#ifndef INFERD_SERVER_H
#define INFERD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/runtime.h"

typedef struct srv_config {
    const char *host;              /* default "127.0.0.1" */
    int port;                      /* default 8080; 0 = any free port */
    const char *api_key;           /* NULL: no authentication */
    size_t max_body_bytes;         /* default 8 MiB; larger bodies get 413 */
    int max_connections;           /* default 512 */
    const char *served_model_name; /* default: the model's general.name */
    bool completions_parse_special;/* /v1/completions: parse special tokens in text */
    int timeout_s;                 /* idle connection timeout; default 600 */
} srv_config;

void srv_config_init(srv_config *c);

typedef struct srv srv;

/* Binds and starts serving (every route but /health answers 503 until a runtime
 * is set). On success *out is the server; srv_port tells the bound port. */
int srv_start(const srv_config *c, srv **out, inf_error *err);

/* Makes the server ready with rt (loaded, engine started). rt must outlive srv. */
void srv_set_runtime(srv *s, runtime *rt);

int srv_port(const srv *s);

/* Graceful stop (see above); frees s. NULL allowed. Must not run on a handler thread. */
void srv_stop(srv *s);

#endif
