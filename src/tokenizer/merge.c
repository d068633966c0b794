/* merge.c: the BPE merge loop, shared by byte-level BPE words and SentencePiece
 * fragments.
 *
 * A word starts as a doubly linked list of symbols (bytes for byte-level BPE,
 * characters for SentencePiece). Every adjacent pair that the vocabulary can
 * merge sits in a min-heap keyed by (rank, position); the loop pops the best
 * pair, checks that both symbols are still what they were when it was pushed
 * (entries go stale when a neighbour merges) and merges it, then offers the two
 * new neighbouring pairs. Equal ranks merge left first. O(n log n) per word, so
 * a megabyte without a space costs no more than a megabyte of words. */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

struct tok_heap_entry {
    int32_t rank;
    int32_t left;        /* symbol index of the pair's left side */
    tok_id l, r, merged; /* the ids when pushed; stale if they changed */
};

typedef struct tok_heap_entry heap_entry;

void tok_scratch_free(tok_scratch *s)
{
    if (!s) return;
    free(s->sym);
    free(s->len);
    free(s->prev);
    free(s->next);
    free(s->heap);
    free(s->buf);
    tok_spans_free(&s->sp_a);
    tok_spans_free(&s->sp_b);
    memset(s, 0, sizeof *s);
}

int tok_ids_push(tok_ids *a, tok_id id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        tok_id *g = realloc(a->ids, cap * sizeof *g);
        if (!g) return INF_ERR_NOMEM;
        a->ids = g;
        a->cap = cap;
    }
    a->ids[a->n++] = id;
    return INF_OK;
}

static int scratch_reserve(tok_scratch *s, size_t n)
{
    if (n <= s->cap) return INF_OK;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    tok_id *sym = realloc(s->sym, cap * sizeof *sym);
    if (!sym) return INF_ERR_NOMEM;
    s->sym = sym;
    uint32_t *len = realloc(s->len, cap * sizeof *len);
    if (!len) return INF_ERR_NOMEM;
    s->len = len;
    int32_t *prev = realloc(s->prev, cap * sizeof *prev);
    if (!prev) return INF_ERR_NOMEM;
    s->prev = prev;
    int32_t *next = realloc(s->next, cap * sizeof *next);
    if (!next) return INF_ERR_NOMEM;
    s->next = next;
    s->cap = cap;
    return INF_OK;
}

static bool entry_less(const heap_entry *a, const heap_entry *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(tok_scratch *s, size_t *n, heap_entry e)
{
    if (*n == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        heap_entry *g = realloc(s->heap, cap * sizeof *g);
        if (!g) return INF_ERR_NOMEM;
        s->heap = g;
        s->heap_cap = cap;
    }
    heap_entry *h = s->heap;
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!entry_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
    return INF_OK;
}

static heap_entry heap_pop(tok_scratch *s, size_t *n)
{
    heap_entry *h = s->heap;
    heap_entry top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && entry_less(&h[c + 1], &h[c])) c++;
        if (!entry_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static int offer(const tok_vocab *v, tok_scratch *s, size_t *hn, int32_t a, int32_t b)
{
    tok_id l = s->sym[a], r = s->sym[b];
    if (l == TOK_NULL || r == TOK_NULL) return INF_OK;
    const tok_pair *p = tok_pairmap_find(&v->pairs, l, r);
    if (!p) return INF_OK;
    return heap_push(s, hn, (heap_entry){p->rank, a, l, r, p->merged});
}

/* Merges s->sym[0..count) in place; the survivors stay linked through next. */
static int merge_all(const tok_vocab *v, tok_scratch *s, size_t count)
{
    size_t hn = 0;
    for (size_t i = 0; i + 1 < count; i++)
        if (offer(v, s, &hn, (int32_t)i, (int32_t)i + 1)) return INF_ERR_NOMEM;
    while (hn) {
        heap_entry e = heap_pop(s, &hn);
        int32_t a = e.left, b = s->next[a];
        if (s->len[a] == 0 || b < 0 || s->sym[a] != e.l || s->sym[b] != e.r) continue;
        s->sym[a] = e.merged;
        s->len[a] += s->len[b];
        s->len[b] = 0;
        s->next[a] = s->next[b];
        if (s->next[b] >= 0) s->prev[s->next[b]] = a;
        if (s->prev[a] >= 0 && offer(v, s, &hn, s->prev[a], a)) return INF_ERR_NOMEM;
        if (s->next[a] >= 0 && offer(v, s, &hn, a, s->next[a])) return INF_ERR_NOMEM;
    }
    return INF_OK;
}

static void link_all(tok_scratch *s, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < count ? (int32_t)i + 1 : -1;
    }
}

int tok_bpe_word(const tok_vocab *v, tok_scratch *s, const char *w, size_t n, tok_ids *out)
{
    if (n == 0) return INF_OK;
    if (v->ignore_merges || n == 1) {
        /* Spell the word in the byte alphabet and look it up whole. */
        if (n == 1) {
            tok_id t = v->byte_tok[(unsigned char)w[0]];
            if (t != TOK_NULL) return tok_ids_push(out, t);
        } else {
            if (s->buf_cap < 2 * n) {
                char *g = realloc(s->buf, 2 * n);
                if (!g) return INF_ERR_NOMEM;
                s->buf = g;
                s->buf_cap = 2 * n;
            }
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                size_t tl;
                const char *t = tok_token_text(v, v->byte_tok[(unsigned char)w[i]], &tl);
                if (!t) {
                    m = 0;
                    break;
                }
                memcpy(s->buf + m, t, tl);
                m += tl;
            }
            tok_id whole = m ? tok_strmap_find(v, s->buf, m) : TOK_NULL;
            if (whole != TOK_NULL) return tok_ids_push(out, whole);
        }
    }
    if (scratch_reserve(s, n)) return INF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        s->sym[i] = v->byte_tok[(unsigned char)w[i]];
        s->len[i] = 1;
    }
    link_all(s, n);
    if (merge_all(v, s, n)) return INF_ERR_NOMEM;
    tok_id unk = v->special[TOK_SPECIAL_UNK];
    for (int32_t i = 0; i >= 0; i = s->next[i]) {
        tok_id t = s->sym[i] != TOK_NULL ? s->sym[i] : unk; /* a vocabulary missing a byte */
        if (t != TOK_NULL && tok_ids_push(out, t)) return INF_ERR_NOMEM;
    }
    return INF_OK;
}

int tok_spm_fragment(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, tok_ids *out)
{
    if (n == 0) return INF_OK;
    if (scratch_reserve(s, n)) return INF_ERR_NOMEM;
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_decode(t + i, n - i, NULL);
        if (l == 0) l = 1; /* validated by the caller; stay safe regardless */
        s->sym[count] = tok_strmap_find(v, t + i, l);
        s->len[count] = (uint32_t)l;
        count++;
        i += l;
    }
    link_all(s, count);
    if (merge_all(v, s, count)) return INF_ERR_NOMEM;
    /* Characters outside the vocabulary fall back to their bytes' tokens, or to
     * one unknown token for a run of them when the vocabulary has no byte tokens. */
    tok_id unk = v->special[TOK_SPECIAL_UNK];
    bool prev_unk = false;
    size_t off = 0;
    for (int32_t i = 0; i >= 0; i = s->next[i]) {
        /* Symbols are in text order, so offsets accumulate along the list. */
        size_t len = s->len[i];
        if (s->sym[i] != TOK_NULL) {
            if (tok_ids_push(out, s->sym[i])) return INF_ERR_NOMEM;
            prev_unk = false;
        } else {
            bool bytes = true;
            for (size_t k = 0; k < len; k++)
                if (v->byte_tok[(unsigned char)t[off + k]] == TOK_NULL) bytes = false;
            if (bytes) {
                for (size_t k = 0; k < len; k++)
                    if (tok_ids_push(out, v->byte_tok[(unsigned char)t[off + k]])) return INF_ERR_NOMEM;
                prev_unk = false;
            } else if (!prev_unk && unk != TOK_NULL) {
                if (tok_ids_push(out, unk)) return INF_ERR_NOMEM;
                prev_unk = true;
            }
        }
        off += len;
    }
    return INF_OK;
}
