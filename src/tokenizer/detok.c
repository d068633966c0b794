/* detok.c: ids -> text. A tok_detok appends each token's bytes to a pending
 * buffer and hands out the longest prefix that ends on a character boundary, so
 * a character spread over byte-fallback tokens (Korean, CJK, emoji) comes out
 * whole, never as U+FFFD halves. Bytes that no continuation can make valid are
 * replaced, one U+FFFD per maximal bad subsequence, so the output is always
 * valid UTF-8 (what JSON and SSE need). */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

struct tok_detok {
    const tok_vocab *v;
    unsigned flags;
    char *pend;        /* bytes fed and not yet handed out: at most an unfinished character */
    size_t pend_n, pend_cap;
    char *out;         /* what the last call handed out */
    size_t out_cap;
    bool started;      /* some byte went out already (the leading-space rule is done) */
};

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return INF_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    char *g = realloc(*buf, c);
    if (!g) return INF_ERR_NOMEM;
    *buf = g;
    *cap = c;
    return INF_OK;
}

int tok_detok_create(const tok_vocab *v, unsigned flags, tok_detok **out, inf_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return inf_errorf(err, INF_ERR_NOMEM, "detokenizer: out of memory");
    (*out)->v = v;
    (*out)->flags = flags;
    return INF_OK;
}

void tok_detok_free(tok_detok *d)
{
    if (!d) return;
    free(d->pend);
    free(d->out);
    free(d);
}

void tok_detok_reset(tok_detok *d)
{
    d->pend_n = 0;
    d->started = false;
}

/* Copies s[0..n) to d->out, replacing bad sequences; returns the length. */
static int sanitize(tok_detok *d, const char *s, size_t n, size_t *len)
{
    /* Each bad byte becomes at most 3 bytes. */
    if (reserve(&d->out, &d->out_cap, 3 * n + 1)) return INF_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            d->out[m++] = s[i++];
            continue;
        }
        size_t l = utf8_decode(s + i, n - i, NULL);
        if (l) {
            memcpy(d->out + m, s + i, l);
            m += l;
            i += l;
        } else {
            m += utf8_encode(UTF8_REPLACEMENT, d->out + m);
            i += utf8_bad_len(s + i, n - i);
        }
    }
    d->out[m] = 0;
    *len = m;
    return INF_OK;
}

int tok_detok_feed(tok_detok *d, tok_id id, const char **text, size_t *len, inf_error *err)
{
    *text = "";
    *len = 0;
    size_t pl;
    const char *piece = tok_token_piece(d->v, id, &pl);
    if (!piece)
        return inf_errorf(err, INF_ERR_RANGE, "token id %d is outside the vocabulary (0..%d)",
                          (int)id, (int)d->v->n - 1);
    if ((d->flags & TOK_DETOK_SKIP_SPECIAL) && tok_token_is_special(d->v, id)) return INF_OK;
    if (pl == 0) return INF_OK;
    if (reserve(&d->pend, &d->pend_cap, d->pend_n + pl))
        return inf_errorf(err, INF_ERR_NOMEM, "detokenizer: out of memory");
    memcpy(d->pend + d->pend_n, piece, pl);
    d->pend_n += pl;
    size_t skip = 0;
    if (!d->started) {
        d->started = true;
        if ((d->flags & TOK_DETOK_STRIP_SPACE) && d->v->add_space_prefix && d->pend[0] == ' ')
            skip = 1;
    }
    size_t k = utf8_complete_len(d->pend + skip, d->pend_n - skip);
    if (sanitize(d, d->pend + skip, k, len))
        return inf_errorf(err, INF_ERR_NOMEM, "detokenizer: out of memory");
    memmove(d->pend, d->pend + skip + k, d->pend_n - skip - k);
    d->pend_n -= skip + k;
    *text = d->out;
    return INF_OK;
}

void tok_detok_flush(tok_detok *d, const char **text, size_t *len)
{
    *text = "";
    *len = 0;
    if (d->pend_n && sanitize(d, d->pend, d->pend_n, len) == INF_OK) *text = d->out;
    tok_detok_reset(d);
}

int tok_decode(const tok_vocab *v, const tok_id *ids, size_t n, unsigned flags, char **out,
               size_t *out_len, inf_error *err)
{
    *out = NULL;
    if (out_len) *out_len = 0;
    tok_detok *d = NULL;
    char *buf = NULL;
    size_t m = 0, cap = 0;
    int rc = tok_detok_create(v, flags, &d, err);
    if (rc) return rc;
    for (size_t i = 0; i <= n; i++) {
        const char *t;
        size_t l;
        if (i < n) {
            rc = tok_detok_feed(d, ids[i], &t, &l, err);
            if (rc) goto out;
        } else {
            tok_detok_flush(d, &t, &l);
        }
        if (reserve(&buf, &cap, m + l + 1)) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "detokenizer: out of memory");
            goto out;
        }
        memcpy(buf + m, t, l);
        m += l;
    }
    if (reserve(&buf, &cap, m + 1)) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "detokenizer: out of memory");
        goto out;
    }
    buf[m] = 0;
    *out = buf;
    buf = NULL;
    if (out_len) *out_len = m;
out:
    free(buf);
    tok_detok_free(d);
    return rc;
}
