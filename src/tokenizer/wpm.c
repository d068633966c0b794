/* wpm.c: WordPiece, the BERT tokenizer (tokenizer.ggml.model = "bert").
 *
 * As Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece do it:
 *   1. clean: drop NUL, U+FFFD and control, format and private-use characters
 *      (but tab, CR, LF); then every white-space character becomes a space;
 *   2. put spaces around CJK ideographs, so each is a word of its own;
 *   3. strip accents: canonical decomposition (NFD), nonspacing marks dropped;
 *   4. lowercase;
 *   5. split into words at spaces, each punctuation character a word of its own;
 *   6. each word, greedy longest match first: the first piece is looked up as
 *      U+2581 + text, later ones bare (how llama.cpp's GGUF files spell BERT's
 *      "word" and "##piece"); a word with no full cover, or of more than 100
 *      characters, is one [UNK].
 * The canonical reordering of combining marks in step 3 is skipped: only
 * nonspacing marks (which step 3 removes) carry a non-zero combining class in
 * practice. */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tokenizer/unicode_tables.h"

#define WORD_MAX_CHARS 100

static int is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_punct(uint32_t c)
{
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126) || tok_uni_is_punct(c);
}

static int push_cp(tok_scratch *s, size_t *n, uint32_t cp)
{
    if (*n + 4 > s->buf_cap) {
        size_t cap = s->buf_cap ? s->buf_cap * 2 : 256;
        while (cap < *n + 4) cap *= 2;
        char *g = realloc(s->buf, cap);
        if (!g) return INF_ERR_NOMEM;
        s->buf = g;
        s->buf_cap = cap;
    }
    *n += utf8_encode(cp, s->buf + *n);
    return INF_OK;
}

/* Steps 1-4 into s->buf (UTF-8). */
static int normalise(tok_scratch *s, const char *t, size_t n, size_t *out_len)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_decode(t + i, n - i, &cp);
        if (!l) { /* validated by the caller; skip a stray byte regardless */
            i++;
            continue;
        }
        i += l;
        bool tab_nl = cp == '\t' || cp == '\n' || cp == '\r';
        if (cp == 0 || cp == 0xFFFD || (!tab_nl && tok_uni_is_other(cp))) continue;
        if (tab_nl || tok_uni_is_space(cp)) {
            if (push_cp(s, &m, ' ')) return INF_ERR_NOMEM;
            continue;
        }
        int cjk = is_cjk(cp);
        if (cjk && push_cp(s, &m, ' ')) return INF_ERR_NOMEM;
        uint32_t d[TOK_UNI_MAX_EXPAND], lo[TOK_UNI_MAX_EXPAND];
        size_t nd = tok_uni_nfd(cp, d);
        for (size_t k = 0; k < nd; k++) {
            if (tok_uni_is_mn(d[k])) continue;
            size_t nl = tok_uni_lower(d[k], lo);
            for (size_t j = 0; j < nl; j++)
                if (push_cp(s, &m, lo[j])) return INF_ERR_NOMEM;
        }
        if (cjk && push_cp(s, &m, ' ')) return INF_ERR_NOMEM;
    }
    *out_len = m;
    return INF_OK;
}

/* Step 6 for one word w[0..n) (normalised UTF-8, no spaces). */
static int wordpiece(const tok_vocab *v, const char *w, size_t n, char *key, tok_ids *out)
{
    tok_id unk = v->special[TOK_SPECIAL_UNK];
    if (utf8_count(w, n) > WORD_MAX_CHARS) return unk == TOK_NULL ? INF_OK : tok_ids_push(out, unk);
    size_t n0 = out->n, start = 0;
    while (start < n) {
        size_t end = n;
        tok_id found = TOK_NULL;
        while (end > start) {
            size_t kl = 0;
            if (start == 0) {
                memcpy(key, "\xe2\x96\x81", 3);
                kl = 3;
            }
            memcpy(key + kl, w + start, end - start);
            found = tok_strmap_find(v, key, kl + end - start);
            if (found != TOK_NULL) break;
            /* one character shorter */
            do end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        if (found == TOK_NULL) {
            out->n = n0;
            return unk == TOK_NULL ? INF_OK : tok_ids_push(out, unk);
        }
        if (tok_ids_push(out, found)) return INF_ERR_NOMEM;
        start = end;
    }
    return INF_OK;
}

int tok_wpm_fragment(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, tok_ids *out)
{
    size_t m;
    if (normalise(s, t, n, &m)) return INF_ERR_NOMEM;
    char *key = malloc(m + 4);
    if (!key) return INF_ERR_NOMEM;
    int rc = INF_OK;
    const char *b = s->buf;
    size_t i = 0;
    while (i < m && rc == INF_OK) {
        if (b[i] == ' ') {
            i++;
            continue;
        }
        /* Step 5: a word runs to the next space or punctuation character; a
         * punctuation character is a word by itself. */
        size_t start = i;
        uint32_t cp;
        size_t l = utf8_decode(b + i, m - i, &cp);
        if (l && is_punct(cp)) {
            i += l;
        } else {
            while (i < m && b[i] != ' ') {
                l = utf8_decode(b + i, m - i, &cp);
                if (!l) l = 1;
                else if (is_punct(cp)) break;
                i += l;
            }
        }
        rc = wordpiece(v, b + start, i - start, key, out);
    }
    free(key);
    return rc;
}
