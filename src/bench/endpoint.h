/* endpoint.h: the server's routes as the benchmark reaches them.
 *
 * --url names the server ("http://host:port", with or without a trailing "/v1"
 * or "/"); routes are joined to it here. When --model is absent, the first id
 * of GET /v1/models is the model every request names. */
#ifndef INFERD_BENCH_ENDPOINT_H
#define INFERD_BENCH_ENDPOINT_H

#include "core/error.h"

/* base + "/v1" + route (route starts with "/", e.g. "/chat/completions"); the
 * "/v1" is not doubled when base already ends in it. malloc'd; NULL on OOM. */
char *bench_url_join(const char *base, const char *route);

/* Asks GET {base}/v1/models and returns the first model id in *out (malloc'd).
 * Errors: INF_ERR_IO (no connection, HTTP status, timeout), INF_ERR_FORMAT (the
 * answer is not a model list), INF_ERR_NOT_FOUND (an empty list), INF_ERR_NOMEM.
 * api_key may be NULL. curl_global_init must have been called. */
int bench_first_model(const char *base, const char *api_key, double timeout_s, char **out,
                      inf_error *err);

#endif
