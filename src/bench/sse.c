/* sse.c: the event-stream parser of sse.h, byte by byte over each piece.
 *
 * Field handling follows the WHATWG "interpret an event stream" steps: a line
 * "name: value" has one optional space after the colon removed; a line with no
 * colon is a field name with an empty value; an event is dispatched at a blank
 * line when its data buffer is non-empty. */
#include "bench/sse.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

void bench_sse_init(bench_sse *p, size_t max_bytes, bench_sse_event_fn fn, void *ud)
{
    memset(p, 0, sizeof *p);
    p->max_bytes = max_bytes ? max_bytes : (size_t)1 << 24;
    p->fn = fn;
    p->ud = ud;
}

void bench_sse_free(bench_sse *p)
{
    if (!p) return;
    free(p->line);
    free(p->data);
    p->line = p->data = NULL;
    p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

/* Makes room for `more` bytes plus a NUL in *buf. */
static int reserve(char **buf, size_t *cap, size_t len, size_t more, size_t max, inf_error *err)
{
    if (len + more > max)
        return inf_errorf(err, INF_ERR_RANGE, "event stream: a line or event is longer than "
                          "%zu bytes", max);
    if (len + more + 1 <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < len + more + 1) c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb) return inf_errorf(err, INF_ERR_NOMEM, "event stream: out of memory");
    *buf = nb;
    *cap = c;
    return 0;
}

static int dispatch(bench_sse *p)
{
    int rc = 0;
    if (p->has_data) {
        /* The data buffer holds each value followed by "\n"; the last one goes. */
        size_t len = p->data_len ? p->data_len - 1 : 0;
        if (p->data) p->data[len] = '\0';
        p->n_events++;
        if (p->fn) rc = p->fn(p->ud, p->data ? p->data : "", len);
    }
    p->data_len = 0;
    p->has_data = false;
    return rc;
}

/* Handles one complete line (without its line break). */
static int end_line(bench_sse *p, inf_error *err)
{
    size_t n = p->line_len;
    p->line_len = 0;
    if (n == 0) return dispatch(p);
    const char *s = p->line;
    if (s[0] == ':') {
        p->n_comments++;
        return 0;
    }
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *val = colon ? colon + 1 : s + n;
    size_t val_len = (size_t)(s + n - val);
    if (val_len && *val == ' ') val++, val_len--;
    if (name_len == 4 && !memcmp(s, "data", 4)) {
        int rc = reserve(&p->data, &p->data_cap, p->data_len, val_len + 1, p->max_bytes, err);
        if (rc) return rc;
        memcpy(p->data + p->data_len, val, val_len);
        p->data_len += val_len;
        p->data[p->data_len++] = '\n';
        p->has_data = true;
    }
    return 0;
}

int bench_sse_feed(bench_sse *p, const char *buf, size_t n, inf_error *err)
{
    size_t i = 0;
    /* A BOM may itself arrive split across pieces. */
    while (!p->started && i < n) {
        if ((unsigned char)buf[i] == bom[p->bom_seen]) {
            i++;
            if (++p->bom_seen == 3) p->started = true;
            continue;
        }
        if (p->bom_seen) {
            /* Bytes that began like a BOM but were not one belong to the line. */
            int rc = reserve(&p->line, &p->line_cap, 0, p->bom_seen, p->max_bytes, err);
            if (rc) return rc;
            memcpy(p->line, bom, p->bom_seen);
            p->line_len = p->bom_seen;
        }
        p->started = true;
    }
    while (i < n) {
        char c = buf[i];
        if (c == '\n' && p->after_cr) {
            p->after_cr = false;
            i++;
            continue;
        }
        p->after_cr = false;
        if (c == '\r' || c == '\n') {
            p->after_cr = c == '\r';
            i++;
            int rc = end_line(p, err);
            if (rc) return rc;
            continue;
        }
        /* Copy the run of ordinary bytes up to the next line break in one go. */
        size_t j = i;
        while (j < n && buf[j] != '\r' && buf[j] != '\n') j++;
        int rc = reserve(&p->line, &p->line_cap, p->line_len, j - i, p->max_bytes, err);
        if (rc) return rc;
        memcpy(p->line + p->line_len, buf + i, j - i);
        p->line_len += j - i;
        p->line[p->line_len] = '\0';
        i = j;
    }
    return 0;
}

bool bench_sse_pending(const bench_sse *p)
{
    return p->line_len > 0 || p->has_data || (!p->started && p->bom_seen);
}
