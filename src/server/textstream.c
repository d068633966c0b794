/* textstream.c: see textstream.h.
 *
 * pending holds text not yet released. After each token: if a stop string occurs in
 * pending, release what precedes it and stop. Otherwise keep back the longest
 * suffix of pending that is a proper prefix of some stop string (it may still
 * complete), and release the rest. Released text is moved out into `out`, a
 * separate buffer, so the caller's pointer stays valid while pending shifts. */
#include "server/textstream.h"

#include <stdlib.h>
#include <string.h>

int textstream_init(textstream *ts, const tok_vocab *v, unsigned flags, const char *const *stops,
                    int n, inf_error *err)
{
    memset(ts, 0, sizeof *ts);
    if (n > TS_MAX_STOP) return inf_errorf(err, INF_ERR_INVALID, "at most %d stop strings", TS_MAX_STOP);
    int rc = tok_detok_create(v, flags, &ts->detok, err);
    if (rc != INF_OK) return rc;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(stops[i]);
        if (len == 0) continue;
        ts->stop[ts->n_stop] = strdup(stops[i]);
        if (!ts->stop[ts->n_stop]) {
            textstream_free(ts);
            return inf_errorf(err, INF_ERR_NOMEM, "out of memory");
        }
        ts->stop_len[ts->n_stop++] = len;
        if (len > ts->max_stop) ts->max_stop = len;
    }
    return INF_OK;
}

void textstream_free(textstream *ts)
{
    tok_detok_free(ts->detok);
    for (int i = 0; i < ts->n_stop; i++) free(ts->stop[i]);
    free(ts->pending);
    memset(ts, 0, sizeof *ts);
}

/* Appends n bytes to pending (grows; the out buffer is the second half). */
static bool append(textstream *ts, const char *s, size_t n)
{
    if (ts->n_pending + n > ts->cap) {
        size_t cap = ts->cap ? ts->cap : 256;
        while (cap < ts->n_pending + n) cap *= 2;
        /* Twice the room: pending in the first half, released text in the second. */
        char *p = realloc(ts->pending, 2 * cap);
        if (!p) return false;
        ts->pending = p;
        ts->cap = cap;
    }
    memcpy(ts->pending + ts->n_pending, s, n);
    ts->n_pending += n;
    return true;
}

/* Moves the first k bytes of pending to the out area. */
static void release(textstream *ts, size_t k, const char **out, size_t *out_len)
{
    char *dst = ts->pending + ts->cap;
    memcpy(dst, ts->pending, k);
    memmove(ts->pending, ts->pending + k, ts->n_pending - k);
    ts->n_pending -= k;
    *out = dst;
    *out_len = k;
}

/* Length of the longest suffix of pending that is a proper prefix of a stop string. */
static size_t held_suffix(const textstream *ts)
{
    size_t best = 0;
    for (int i = 0; i < ts->n_stop; i++) {
        size_t max = ts->stop_len[i] - 1;
        if (max > ts->n_pending) max = ts->n_pending;
        for (size_t k = max; k > best; k--)
            if (!memcmp(ts->pending + ts->n_pending - k, ts->stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

bool textstream_feed(textstream *ts, tok_id id, const char **out, size_t *out_len)
{
    *out = "";
    *out_len = 0;
    if (ts->stopped) return true;
    const char *t;
    size_t n;
    if (tok_detok_feed(ts->detok, id, &t, &n, NULL) != INF_OK) n = 0;
    size_t before = ts->n_pending;
    if (n && !append(ts, t, n)) return false;
    if (ts->n_stop == 0) {
        if (ts->n_pending) release(ts, ts->n_pending, out, out_len);
        return false;
    }
    /* Earliest stop occurrence; only positions that include new bytes can be new. */
    size_t from = before > ts->max_stop ? before - ts->max_stop : 0;
    size_t cut = (size_t)-1;
    for (int i = 0; i < ts->n_stop; i++) {
        if (ts->stop_len[i] > ts->n_pending) continue;
        for (size_t p = from; p + ts->stop_len[i] <= ts->n_pending && p < cut; p++)
            if (!memcmp(ts->pending + p, ts->stop[i], ts->stop_len[i])) {
                cut = p;
                break;
            }
    }
    if (cut != (size_t)-1) {
        ts->n_pending = cut;
        release(ts, cut, out, out_len);
        ts->stopped = true;
        return true;
    }
    size_t hold = held_suffix(ts);
    if (ts->n_pending > hold) release(ts, ts->n_pending - hold, out, out_len);
    return false;
}

void textstream_finish(textstream *ts, const char **out, size_t *out_len)
{
    *out = "";
    *out_len = 0;
    if (ts->stopped) return;
    const char *t;
    size_t n;
    tok_detok_flush(ts->detok, &t, &n);
    if (n) append(ts, t, n);
    if (ts->n_pending) release(ts, ts->n_pending, out, out_len);
}
