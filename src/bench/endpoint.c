/* endpoint.c: URL joining and model discovery (endpoint.h). */
#include "bench/endpoint.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#define BODY_CAP ((size_t)4 << 20)  /* a model list larger than this is not one */

char *bench_url_join(const char *base, const char *route)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/') n--;
    const char *v1 = n >= 3 && !memcmp(base + n - 3, "/v1", 3) ? "" : "/v1";
    size_t cap = n + strlen(v1) + strlen(route) + 1;
    char *s = malloc(cap);
    if (s) snprintf(s, cap, "%.*s%s%s", (int)n, base, v1, route);
    return s;
}

typedef struct body {
    char *p;
    size_t len;
    bool too_big;
} body;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > BODY_CAP) {
        b->too_big = true;
        return 0;
    }
    char *np = realloc(b->p, b->len + n + 1);
    if (!np) return 0;
    memcpy(np + b->len, ptr, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

int bench_first_model(const char *base, const char *api_key, double timeout_s, char **out,
                      inf_error *err)
{
    *out = NULL;
    body b = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    char auth[1024];
    struct curl_slist *hdr = NULL;
    json_t *root = NULL;
    int rc = 0;
    char *url = bench_url_join(base, "/models");
    CURL *e = curl_easy_init();
    if (!url || !e) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", api_key);
        if (!(hdr = curl_slist_append(NULL, auth))) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000.0));
    CURLcode res = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (res != CURLE_OK) {
        rc = inf_errorf(err, INF_ERR_IO, "GET %s: %s", url,
                        b.too_big ? "the answer is too large" : errbuf[0] ? errbuf
                                                                        : curl_easy_strerror(res));
        goto out;
    }
    if (status != 200) {
        rc = inf_errorf(err, INF_ERR_IO, "GET %s: HTTP %ld: %.200s", url, status,
                        b.p ? b.p : "(empty body)");
        goto out;
    }
    root = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "GET %s: the answer has no \"data\" array", url);
        goto out;
    }
    json_t *id = json_object_get(json_array_get(data, 0), "id");
    if (json_array_size(data) == 0) {
        rc = inf_errorf(err, INF_ERR_NOT_FOUND, "GET %s: the server lists no model", url);
        goto out;
    }
    if (!json_is_string(id)) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "GET %s: data[0].id is not a string", url);
        goto out;
    }
    if (!(*out = strdup(json_string_value(id)))) rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory");
out:
    json_decref(root);
    curl_slist_free_all(hdr);
    if (e) curl_easy_cleanup(e);
    free(url);
    free(b.p);
    return rc;
}
