/* test_sse.c: the event-stream parser against streams cut at every byte
 * boundary, CRLF/CR/LF line ends, comments, multi-line data, BOM, limits. */
#include <stdlib.h>
#include <string.h>

#include "bench/sse.h"
#include "check.h"

#define MAX_EVENTS 16

typedef struct got {
    char ev[MAX_EVENTS][256];
    size_t n;
} got;

static int on_event(void *ud, const char *data, size_t len)
{
    got *g = ud;
    if (g->n < MAX_EVENTS && len < 256) {
        memcpy(g->ev[g->n], data, len);
        g->ev[g->n][len] = '\0';
    }
    g->n++;
    return 0;
}

/* Feeds s in pieces: cut at `a` and at `b` (a <= b), so every pair of
 * boundaries is tried by the caller. Returns the parser for inspection. */
static void feed_cut(const char *s, size_t a, size_t b, got *g, bench_sse *p)
{
    size_t n = strlen(s);
    memset(g, 0, sizeof *g);
    bench_sse_init(p, 0, on_event, g);
    inf_error e;
    CHECK(bench_sse_feed(p, s, a, &e) == 0);
    CHECK(bench_sse_feed(p, s + a, b - a, &e) == 0);
    CHECK(bench_sse_feed(p, s + b, n - b, &e) == 0);
}

/* Every two-cut split of s gives the same events as expect[0..n). */
static void check_all_cuts(const char *s, const char *const *expect, size_t n_expect,
                           bool pending)
{
    size_t n = strlen(s);
    int bad = 0;
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            got g;
            bench_sse p;
            feed_cut(s, a, b, &g, &p);
            bool ok = g.n == n_expect && bench_sse_pending(&p) == pending;
            for (size_t i = 0; ok && i < n_expect; i++) ok = !strcmp(g.ev[i], expect[i]);
            if (!ok && bad++ < 3)
                CHECK_MSG(ok, "cuts %zu,%zu of \"%s\": %zu events, first \"%s\"", a, b, s, g.n,
                          g.n ? g.ev[0] : "");
            bench_sse_free(&p);
        }
    }
    CHECK_MSG(bad == 0, "%d splits of \"%s\" went wrong", bad, s);
}

static void test_framing(void)
{
    const char *two[] = {"{\"a\":1}", "[DONE]"};
    check_all_cuts("data: {\"a\":1}\n\ndata: [DONE]\n\n", two, 2, false);
    check_all_cuts("data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n", two, 2, false);
    check_all_cuts("data: {\"a\":1}\r\rdata: [DONE]\r\r", two, 2, false);
    /* Mixed line ends, comments, other fields, no space after the colon. */
    check_all_cuts(": hello\r\nevent: chunk\nid: 7\r\ndata:{\"a\":1}\n\n: ping\n\ndata: [DONE]\r\n\n",
                   two, 2, false);
    /* Several data lines join with "\n"; only one leading space is removed. */
    const char *multi[] = {"{\"a\":\n1}", " x"};
    check_all_cuts("data: {\"a\":\ndata: 1}\n\ndata:  x\n\n", multi, 2, false);
    /* A field with no colon is a name with an empty value: "data" alone is an
     * empty data line, so an event with empty data is still dispatched. */
    const char *empty[] = {""};
    check_all_cuts("data\n\n\n\n", empty, 1, false);
    /* A UTF-8 BOM at the start is skipped, even split. */
    const char *bom[] = {"x"};
    check_all_cuts("\xEF\xBB\xBF" "data: x\n\n", bom, 1, false);
    /* Non-ASCII payloads pass through untouched. */
    const char *ko[] = {"{\"c\":\"한국\"}"};
    check_all_cuts("data: {\"c\":\"한국\"}\n\n", ko, 1, false);
}

static void test_pending(void)
{
    /* An event cut off by the end of the stream is not dispatched, and known. */
    const char *one[] = {"a"};
    check_all_cuts("data: a\n\ndata: b\n", one, 1, true);
    check_all_cuts("data: a\n\ndata: b", one, 1, true);
    /* Blank lines without data dispatch nothing; nothing is left pending. */
    check_all_cuts("\n\n: only a comment\n\n", NULL, 0, false);
}

static void test_counts_and_limits(void)
{
    got g = {0};
    bench_sse p;
    inf_error e;
    bench_sse_init(&p, 32, on_event, &g);
    const char *s = ": c1\n: c2\ndata: ok\n\n";
    CHECK(bench_sse_feed(&p, s, strlen(s), &e) == 0);
    CHECK_EQ_INT(p.n_comments, 2);
    CHECK_EQ_INT(p.n_events, 1);
    /* A line past the limit is refused with INF_ERR_RANGE, not grown forever. */
    char big[100];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(bench_sse_feed(&p, big, sizeof big, &e), INF_ERR_RANGE);
    CHECK(strstr(e.msg, "longer than 32 bytes") != NULL);
    bench_sse_free(&p);
    bench_sse_free(NULL);
}

static int stop_cb(void *ud, const char *data, size_t len)
{
    (void)data, (void)len;
    ++*(int *)ud;
    return 42;
}

static void test_callback_stops(void)
{
    int calls = 0;
    bench_sse p;
    inf_error e;
    bench_sse_init(&p, 0, stop_cb, &calls);
    const char *s = "data: a\n\ndata: b\n\n";
    CHECK_EQ_INT(bench_sse_feed(&p, s, strlen(s), &e), 42);
    CHECK_EQ_INT(calls, 1);
    bench_sse_free(&p);
}

int main(void)
{
    test_framing();
    test_pending();
    test_counts_and_limits();
    test_callback_stops();
    return check_done();
}
