/* textstream.h: one choice's generated text as a client sees it: token ids in,
 * UTF-8 text out, with stop strings.
 *
 * Stop strings may span tokens and are never emitted: text that could still be the
 * beginning of a stop string is held back until it cannot (or until a stop string
 * completes, when everything from its first byte on is dropped). The detokenizer
 * underneath emits only complete UTF-8 characters, so what comes out is always
 * valid UTF-8. One request thread at a time. */
#ifndef INFERD_SERVER_TEXTSTREAM_H
#define INFERD_SERVER_TEXTSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

#define TS_MAX_STOP 8

typedef struct textstream {
    tok_detok *detok;
    char *stop[TS_MAX_STOP];   /* owned copies */
    size_t stop_len[TS_MAX_STOP];
    int n_stop;
    size_t max_stop;           /* longest stop string */
    char *pending;             /* (cap) text not yet released */
    size_t n_pending, cap;
    bool stopped;              /* a stop string matched: the choice is over */
} textstream;

/* stops: n strings (empty ones are ignored; copied). flags: the TOK_DETOK_ flags. */
int textstream_init(textstream *ts, const tok_vocab *v, unsigned flags, const char *const *stops,
                    int n, inf_error *err);
void textstream_free(textstream *ts);

/* Feeds one generated token. out and out_len receive the text released now (valid
 * until the next call). Returns true when a stop string matched (the text before
 * it has been released; ignore further tokens). */
bool textstream_feed(textstream *ts, tok_id id, const char **out, size_t *out_len);

/* The end of the sequence: releases whatever was held back. */
void textstream_finish(textstream *ts, const char **out, size_t *out_len);

#endif
