/* tokenize.c: text -> ids. Validates UTF-8, cuts the text at tokens written
 * verbatim in it (user-defined always, control with TOK_PARSE_SPECIAL; leftmost,
 * longest), then runs SentencePiece or byte-level BPE on each fragment between
 * them. BOS/EOS come from the vocabulary's add_bos/add_eos flags. */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#define SPM_SPACE "\xe2\x96\x81"

void tok_ids_init(tok_ids *a) { memset(a, 0, sizeof *a); }

void tok_ids_free(tok_ids *a)
{
    if (!a) return;
    free(a->ids);
    memset(a, 0, sizeof *a);
}

/* The verbatim token starting at text[pos], longest first, or TOK_NULL. */
static tok_id verbatim_at(const tok_vocab *v, const char *text, size_t len, size_t pos,
                          bool parse_special, size_t *mlen)
{
    unsigned b = (unsigned char)text[pos];
    for (uint32_t k = v->verb_first[b]; k < v->verb_first[b + 1]; k++) {
        uint32_t l = v->verb_lens[k];
        if (l > len - pos) continue;
        tok_id t = tok_strmap_find(v, text + pos, l);
        if (t == TOK_NULL) continue;
        uint8_t kind = v->verb_kind[t];
        if (kind == TOK_VERB_USER || (kind == TOK_VERB_CONTROL && parse_special)) {
            *mlen = l;
            return t;
        }
    }
    return TOK_NULL;
}

/* SentencePiece: spaces become U+2581, and a fragment at the start of the text or
 * right after a special token gets one in front when the vocabulary says so. */
static int spm_raw(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, bool prefix,
                   tok_ids *out)
{
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += t[i] == ' ';
    size_t need = n + 2 * spaces + 3;
    if (need > s->buf_cap) {
        char *g = realloc(s->buf, need);
        if (!g) return INF_ERR_NOMEM;
        s->buf = g;
        s->buf_cap = need;
    }
    size_t m = 0;
    if (prefix) {
        memcpy(s->buf, SPM_SPACE, 3);
        m = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] == ' ') {
            memcpy(s->buf + m, SPM_SPACE, 3);
            m += 3;
        } else {
            s->buf[m++] = t[i];
        }
    }
    return tok_spm_fragment(v, s, s->buf, m, out);
}

static int bpe_raw(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, tok_ids *out,
                   inf_error *err)
{
    tok_spans *words;
    int rc = tok_pretok_split(v->pretok, t, n, &s->sp_a, &s->sp_b, &words, err);
    if (rc) return rc;
    for (size_t i = 0; i < words->n; i++) {
        rc = tok_bpe_word(v, s, t + words->start[i], words->end[i] - words->start[i], out);
        if (rc) return inf_errorf(err, rc, "tokenizer: out of memory");
    }
    return INF_OK;
}

/* Every fragment starts the text or follows a verbatim token, which is where
 * SentencePiece puts its space prefix (as llama.cpp and sentencepiece do). */
static int raw_fragment(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, tok_ids *out,
                        inf_error *err)
{
    if (n == 0) return INF_OK;
    if (v->kind == TOK_KIND_SPM) {
        int rc = spm_raw(v, s, t, n, v->add_space_prefix, out);
        return rc ? inf_errorf(err, rc, "tokenizer: out of memory") : INF_OK;
    }
    if (v->kind == TOK_KIND_WPM) {
        int rc = tok_wpm_fragment(v, s, t, n, out);
        return rc ? inf_errorf(err, rc, "tokenizer: out of memory") : INF_OK;
    }
    return bpe_raw(v, s, t, n, out, err);
}

int tok_tokenize(const tok_vocab *v, const char *text, size_t len, unsigned flags, tok_ids *out,
                 inf_error *err)
{
    size_t bad;
    if (len && !text) return inf_errorf(err, INF_ERR_INVALID, "tokenizer: NULL text");
    if (!utf8_validate(text, len, &bad))
        return inf_errorf(err, INF_ERR_FORMAT, "invalid UTF-8 at byte offset %zu (byte 0x%02X)",
                          bad, (unsigned)(unsigned char)text[bad]);
    if (len > UINT32_MAX)
        return inf_errorf(err, INF_ERR_RANGE, "tokenizer: text of %zu bytes is too long (max 4 GiB)",
                          len);
    const size_t n0 = out->n;
    tok_scratch s;
    memset(&s, 0, sizeof s);
    int rc = INF_OK;
    bool parse_special = (flags & TOK_PARSE_SPECIAL) != 0;
    tok_id bos = v->special[TOK_SPECIAL_BOS], eos = v->special[TOK_SPECIAL_EOS];

    if ((flags & TOK_ADD_SPECIAL) && v->add_bos && bos != TOK_NULL && tok_ids_push(out, bos)) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
        goto out;
    }
    size_t frag = 0;
    for (size_t pos = 0; pos < len;) {
        size_t mlen = 0;
        unsigned char c = (unsigned char)text[pos];
        tok_id t = (c & 0xC0) == 0x80 || v->verb_first[c] == v->verb_first[c + 1] ?
                       TOK_NULL :
                       verbatim_at(v, text, len, pos, parse_special, &mlen);
        if (t == TOK_NULL) {
            pos++;
            continue;
        }
        rc = raw_fragment(v, &s, text + frag, pos - frag, out, err);
        if (rc) goto out;
        if (tok_ids_push(out, t)) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
            goto out;
        }
        pos += mlen;
        frag = pos;
    }
    rc = raw_fragment(v, &s, text + frag, len - frag, out, err);
    if (rc) goto out;
    if ((flags & TOK_ADD_SPECIAL) && v->add_eos && eos != TOK_NULL && tok_ids_push(out, eos)) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
        goto out;
    }
out:
    if (rc) out->n = n0;
    tok_scratch_free(&s);
    return rc;
}

int tok_tokenize_buf(const tok_vocab *v, const char *text, size_t len, unsigned flags, tok_id *buf,
                     size_t cap, size_t *n_out, inf_error *err)
{
    tok_ids ids;
    tok_ids_init(&ids);
    *n_out = 0;
    int rc = tok_tokenize(v, text, len, flags, &ids, err);
    if (rc == INF_OK) {
        *n_out = ids.n;
        memcpy(buf, ids.ids, (ids.n < cap ? ids.n : cap) * sizeof *buf);
        if (ids.n > cap)
            rc = inf_errorf(err, INF_ERR_RANGE, "tokenizer: the text needs %zu tokens, room for %zu",
                            ids.n, cap);
    }
    tok_ids_free(&ids);
    return rc;
}
