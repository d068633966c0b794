/* sse.h: an incremental parser of server-sent events (the WHATWG event-stream
 * format), the framing of OpenAI-style streaming responses.
 *
 * Bytes arrive in whatever pieces the network delivers; bench_sse_feed takes
 * each piece and calls the event callback once per complete event (a blank
 * line ends an event). Lines may end in LF, CRLF or CR, even when the CR and
 * the LF arrive in different pieces. Comment lines (":...") are counted and
 * dropped; several "data:" lines join with "\n"; "event", "id" and "retry"
 * fields are ignored (OpenAI streams do not use them). One leading UTF-8 BOM
 * is skipped. An event cut off by the end of the stream is not dispatched
 * (the standard says so); bench_sse_pending tells the caller it was there.
 * Not thread-safe: one parser per stream. */
#ifndef INFERD_BENCH_SSE_H
#define INFERD_BENCH_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* Called with the event's data (NUL-terminated, len bytes, without the last
 * "\n"). A nonzero return stops the feed and is returned by bench_sse_feed. */
typedef int (*bench_sse_event_fn)(void *ud, const char *data, size_t len);

typedef struct bench_sse {
    char *line;            /* the line being read (not yet ended) */
    size_t line_len, line_cap;
    char *data;            /* data of the event being read, lines joined with "\n" */
    size_t data_len, data_cap;
    bool has_data;         /* a data field was seen since the last dispatch */
    bool after_cr;         /* the last byte fed was CR: a following LF is the same break */
    bool started;          /* bytes were fed (the BOM check is over) */
    size_t bom_seen;       /* BOM bytes matched so far at the start */
    size_t max_bytes;      /* longest line or event accepted */
    size_t n_events;       /* events dispatched */
    size_t n_comments;     /* comment lines dropped */
    bench_sse_event_fn fn;
    void *ud;
} bench_sse;

/* Prepares p; max_bytes bounds a line and an event (a hostile server cannot
 * make the parser grow without limit); fn may be NULL (events only counted). */
void bench_sse_init(bench_sse *p, size_t max_bytes, bench_sse_event_fn fn, void *ud);

/* Frees the buffers; p may be NULL; p can be initialised again afterwards. */
void bench_sse_free(bench_sse *p);

/* Parses n more bytes. Returns 0, the callback's nonzero value, INF_ERR_RANGE
 * (line or event over max_bytes) or INF_ERR_NOMEM, with err filled. */
int bench_sse_feed(bench_sse *p, const char *buf, size_t n, inf_error *err);

/* True when the bytes fed so far end inside an event (a line not ended, or data
 * lines not yet followed by the blank line that dispatches them). */
bool bench_sse_pending(const bench_sse *p);

#endif
