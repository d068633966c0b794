/* vocab.c: building a tok_vocab from plain arrays (tok_vocab_create) and the
 * read-only look-ups on it. tok_vocab_load (vocab_gguf.c) fills the arrays from
 * a GGUF file. See tok_internal.h for the layout. */
#include "tokenizer/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's visible space */

void tok_vocab_params_init(tok_vocab_params *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < TOK_SPECIAL_COUNT; i++) p->special[i] = TOK_NULL;
    p->add_bos = -1;
    p->add_eos = -1;
    p->add_space_prefix = -1;
}

/* ---- hashing ---------------------------------------------------------------- */

uint32_t tok_hash_bytes(const char *s, size_t n)
{
    /* FNV-1a over 64 bits, folded: short keys, good spread, no alignment needs. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

static int strmap_init(tok_strmap *m, size_t n)
{
    m->cap = pow2_at_least(n * 2 + 1);
    m->slots = malloc(m->cap * sizeof *m->slots);
    m->hash = malloc(m->cap * sizeof *m->hash);
    if (!m->slots || !m->hash) return INF_ERR_NOMEM;
    memset(m->slots, 0xff, m->cap * sizeof *m->slots);
    return INF_OK;
}

/* Later ids replace earlier ones with the same text, as a Python dict built from
 * the token list does (the reference tokenizers are built that way). */
static void strmap_put(tok_vocab *v, tok_id id)
{
    const char *s = tok_text_(v, id);
    size_t n = v->text_len[id];
    uint32_t h = tok_hash_bytes(s, n);
    size_t mask = v->map.cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t cur = v->map.slots[i];
        if (cur < 0) {
            v->map.slots[i] = id;
            v->map.hash[i] = h;
            return;
        }
        if (v->map.hash[i] == h && v->text_len[cur] == n && memcmp(tok_text_(v, cur), s, n) == 0) {
            v->map.slots[i] = id;
            return;
        }
    }
}

tok_id tok_strmap_find(const tok_vocab *v, const char *s, size_t n)
{
    uint32_t h = tok_hash_bytes(s, n);
    size_t mask = v->map.cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t cur = v->map.slots[i];
        if (cur < 0) return TOK_NULL;
        if (v->map.hash[i] == h && v->text_len[cur] == n && memcmp(tok_text_(v, cur), s, n) == 0)
            return cur;
    }
}

static inline size_t pair_slot(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static int pairmap_init(tok_pairmap *m, size_t n)
{
    m->cap = pow2_at_least(n * 2 + 1);
    m->n = 0;
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots) return INF_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key = UINT64_MAX;
    return INF_OK;
}

/* First insertion wins: the lowest rank of a pair listed twice. */
static void pairmap_put(tok_pairmap *m, tok_id l, tok_id r, int32_t rank, tok_id merged)
{
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    size_t mask = m->cap - 1;
    for (size_t i = pair_slot(key, mask);; i = (i + 1) & mask) {
        if (m->slots[i].key == key) return;
        if (m->slots[i].key == UINT64_MAX) {
            m->slots[i] = (tok_pair){key, rank, merged};
            m->n++;
            return;
        }
    }
}

const tok_pair *tok_pairmap_find(const tok_pairmap *m, tok_id l, tok_id r)
{
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    size_t mask = m->cap - 1;
    for (size_t i = pair_slot(key, mask);; i = (i + 1) & mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) return NULL;
    }
}

/* ---- the GPT-2 byte alphabet ----------------------------------------------------
 * Byte-level BPE spells every byte as a printable character: the printable
 * Latin-1 bytes stand for themselves, the other 68 take U+0100.. in byte order. */
static uint32_t byte_to_cp(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    unsigned k = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) k++;
    return 0x100 + k;
}

/* Inverse of byte_to_cp, or -1 when cp spells no byte. */
static int cp_to_byte(uint32_t cp, const int16_t *inv)
{
    if (cp < 0x100) return (cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || cp >= 0xAE ?
                               (int)cp : -1;
    if (cp < 0x100 + 68) return inv[cp - 0x100];
    return -1;
}

/* Python's str.isspace(), which decides what Gemma's space tokens are. */
static bool py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Gemma stores its tokens of several spaces as real spaces while its merges work
 * on U+2581: such a token (containing a space, nothing but white space) is
 * respelled as that many U+2581. Returns the number of characters, or 0. */
static size_t gemma_space_token(const char *s, size_t n)
{
    size_t i = 0, chars = 0;
    bool space = false;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l || !py_space(cp)) return 0;
        space |= cp == ' ';
        i += l;
        chars++;
    }
    return space ? chars : 0;
}

/* ---- SentencePiece pairs ---------------------------------------------------------- */

typedef struct spm_cand {
    float score;
    uint32_t len_l, len_r; /* in characters */
    tok_id token, l, r;
} spm_cand;

/* Best first: higher score, then longer left piece, then longer right piece, then
 * token order, then the pieces' ids (the order of Hugging Face's generate_merges). */
static int spm_cand_cmp(const void *pa, const void *pb)
{
    const spm_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->len_l != b->len_l) return a->len_l > b->len_l ? -1 : 1;
    if (a->len_r != b->len_r) return a->len_r > b->len_r ? -1 : 1;
    if (a->token != b->token) return a->token < b->token ? -1 : 1;
    if (a->l != b->l) return a->l < b->l ? -1 : 1;
    return (a->r > b->r) - (a->r < b->r);
}

static int spm_build_pairs(tok_vocab *v, const float *score, inf_error *err)
{
    int rc = INF_OK;
    size_t n_cand = 0, cap = (size_t)v->n * 2 + 16;
    spm_cand *cand = malloc(cap * sizeof *cand);
    if (!cand) return inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
    for (tok_id t = 0; t < v->n; t++) {
        const char *s = tok_text_(v, t);
        size_t n = v->text_len[t];
        if (tok_strmap_find(v, s, n) != t) continue; /* shadowed duplicate */
        size_t chars_l = 0, total = utf8_count(s, n);
        for (size_t k = 0; k < n;) {
            size_t l = utf8_decode(s + k, n - k, NULL);
            k += l ? l : 1;
            chars_l++;
            if (k >= n) break;
            tok_id a = tok_strmap_find(v, s, k), b = tok_strmap_find(v, s + k, n - k);
            if (a == TOK_NULL || b == TOK_NULL) continue;
            if (n_cand == cap) {
                cap *= 2;
                spm_cand *g = realloc(cand, cap * sizeof *cand);
                if (!g) {
                    rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
                    goto out;
                }
                cand = g;
            }
            cand[n_cand++] = (spm_cand){score[t], (uint32_t)chars_l, (uint32_t)(total - chars_l),
                                        t, a, b};
        }
    }
    qsort(cand, n_cand, sizeof *cand, spm_cand_cmp);
    rc = pairmap_init(&v->pairs, n_cand);
    if (rc) {
        inf_errorf(err, rc, "tokenizer: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_cand; i++)
        pairmap_put(&v->pairs, cand[i].l, cand[i].r, (int32_t)i, cand[i].token);
out:
    free(cand);
    return rc;
}

static int bpe_build_pairs(tok_vocab *v, const tok_vocab_params *p, inf_error *err)
{
    int rc = pairmap_init(&v->pairs, p->n_merges);
    if (rc) return inf_errorf(err, rc, "tokenizer: out of memory");
    char *cat = NULL;
    size_t cat_cap = 0;
    for (size_t i = 0; i < p->n_merges && i < INT32_MAX; i++) {
        const char *m = p->merges[i];
        size_t n = p->merge_lens[i];
        /* "left right": the separator is the first space after the first byte. */
        const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
        if (!sp) continue;
        size_t nl = (size_t)(sp - m), nr = n - nl - 1;
        tok_id a = tok_strmap_find(v, m, nl), b = tok_strmap_find(v, sp + 1, nr);
        if (a == TOK_NULL || b == TOK_NULL) continue;
        if (nl + nr > cat_cap) {
            cat_cap = (nl + nr) * 2;
            char *g = realloc(cat, cat_cap);
            if (!g) {
                free(cat);
                return inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
            }
            cat = g;
        }
        memcpy(cat, m, nl);
        memcpy(cat + nl, sp + 1, nr);
        tok_id merged = tok_strmap_find(v, cat, nl + nr);
        if (merged == TOK_NULL) continue; /* the merge makes no token: never applies */
        pairmap_put(&v->pairs, a, b, (int32_t)i, merged);
    }
    free(cat);
    return INF_OK;
}

/* ---- verbatim (special) tokens ------------------------------------------------------ */

static int u64_desc(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a < b) - (a > b);
}

/* A user-defined token is matched verbatim only when its text is still its
 * text (not respelled): the reference tokenizer adds it as a token only then. */
static int build_verbatim(tok_vocab *v, const bool *respelled)
{
    v->verb_kind = calloc((size_t)v->n, 1);
    uint64_t *keys = malloc((size_t)v->n * sizeof *keys);
    int rc = INF_OK;
    if (!v->verb_kind || !keys) {
        rc = INF_ERR_NOMEM;
        goto out;
    }
    size_t nk = 0;
    for (tok_id t = 0; t < v->n; t++) {
        tok_type ty = v->type[t];
        uint32_t len = v->text_len[t];
        if (len == 0 || tok_strmap_find(v, tok_text_(v, t), len) != t) continue;
        if (ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_UNKNOWN) v->verb_kind[t] = TOK_VERB_CONTROL;
        else if (ty == TOK_TYPE_USER_DEFINED && !respelled[t]) v->verb_kind[t] = TOK_VERB_USER;
        else continue;
        /* key: first byte, then length, sorted descending; the first byte is
         * flipped so that bytes come out ascending. */
        keys[nk++] = (uint64_t)(255 - (unsigned char)tok_text_(v, t)[0]) << 32 | len;
    }
    qsort(keys, nk, sizeof *keys, u64_desc);
    v->verb_lens = malloc((nk ? nk : 1) * sizeof *v->verb_lens);
    if (!v->verb_lens) {
        rc = INF_ERR_NOMEM;
        goto out;
    }
    size_t m = 0, j = 0;
    for (unsigned b = 0; b < 256; b++) {
        v->verb_first[b] = (uint32_t)m;
        for (; j < nk && 255 - (keys[j] >> 32) == b; j++)
            if (m == v->verb_first[b] || v->verb_lens[m - 1] != (uint32_t)keys[j])
                v->verb_lens[m++] = (uint32_t)keys[j];
    }
    v->verb_first[256] = (uint32_t)m;
out:
    free(keys);
    return rc;
}

/* Texts that end a turn in the vocabularies of real chat models. */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<|return|>", "<|call|>",
    "<|user|>", "<|observation|>",
};

/* ---- create --------------------------------------------------------------------------- */

static int fill_texts(tok_vocab *v, const tok_vocab_params *p, bool *respelled, bool gemma,
                      inf_error *err)
{
    /* Pass 1: sizes. Text plus a piece of at most the same length each. */
    size_t total = 0;
    for (size_t i = 0; i < p->n_tokens; i++) {
        size_t n = p->token_lens[i];
        if (gemma && gemma_space_token(p->tokens[i], n)) n = 3 * utf8_count(p->tokens[i], n);
        if (n > UINT32_MAX / 4 || total > UINT32_MAX / 2)
            return inf_errorf(err, INF_ERR_RANGE, "tokenizer: token %zu: vocabulary text too large", i);
        total += 2 * n;
    }
    v->pool = malloc(total ? total : 1);
    if (!v->pool) return inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
    size_t off = 0;
    for (size_t i = 0; i < p->n_tokens; i++) {
        const char *s = p->tokens[i];
        size_t n = p->token_lens[i];
        v->text_off[i] = (uint32_t)off;
        size_t spaces = gemma ? gemma_space_token(s, n) : 0;
        if (spaces) {
            for (size_t k = 0; k < spaces; k++) memcpy(v->pool + off + 3 * k, SPM_SPACE, 3);
            v->text_len[i] = (uint32_t)(3 * spaces);
            respelled[i] = true;
        } else {
            memcpy(v->pool + off, s, n);
            v->text_len[i] = (uint32_t)n;
        }
        off += v->text_len[i];
    }
    int16_t inv[68];
    for (unsigned b = 0; b < 256; b++) {
        uint32_t cp = byte_to_cp(b);
        if (cp >= 0x100) inv[cp - 0x100] = (int16_t)b;
    }
    /* Pass 2: pieces, the bytes each token decodes to. */
    for (tok_id t = 0; t < v->n; t++) {
        const char *s = tok_text_(v, t);
        size_t n = v->text_len[t];
        char *o = v->pool + off;
        size_t m = 0;
        tok_type ty = v->type[t];
        unsigned byte;
        if (ty == TOK_TYPE_BYTE && v->kind == TOK_KIND_SPM && n == 6 &&
            sscanf(s, "<0x%2X>", &byte) == 1) {
            o[m++] = (char)byte;
        } else if (v->kind != TOK_KIND_BPE && ty != TOK_TYPE_CONTROL && ty != TOK_TYPE_UNKNOWN) {
            for (size_t i = 0; i < n;) {
                if (n - i >= 3 && memcmp(s + i, SPM_SPACE, 3) == 0) {
                    o[m++] = ' ';
                    i += 3;
                } else {
                    o[m++] = s[i++];
                }
            }
        } else if (v->kind == TOK_KIND_BPE && (ty == TOK_TYPE_NORMAL || ty == TOK_TYPE_UNDEFINED)) {
            bool ok = true;
            for (size_t i = 0; i < n && ok;) {
                uint32_t cp;
                size_t l = utf8_decode(s + i, n - i, &cp);
                int b = l ? cp_to_byte(cp, inv) : -1;
                if (b < 0) ok = false;
                else o[m++] = (char)b;
                i += l ? l : 1;
            }
            if (!ok) { /* not in the byte alphabet: the text is the piece */
                memcpy(o, s, n);
                m = n;
            }
        } else {
            memcpy(o, s, n);
            m = n;
        }
        v->piece_off[t] = (uint32_t)off;
        v->piece_len[t] = (uint32_t)m;
        off += m;
    }
    return INF_OK;
}

int tok_vocab_create(const tok_vocab_params *p, tok_vocab **out, inf_error *err)
{
    *out = NULL;
    int rc = INF_OK;
    tok_vocab *v = NULL;
    bool *respelled = NULL;
    float *score = NULL;
    if (!p->model)
        return inf_errorf(err, INF_ERR_FORMAT, "tokenizer: tokenizer.ggml.model is missing");
    tok_kind kind;
    if (!strcmp(p->model, "llama")) kind = TOK_KIND_SPM;
    else if (!strcmp(p->model, "gpt2")) kind = TOK_KIND_BPE;
    else if (!strcmp(p->model, "bert")) kind = TOK_KIND_WPM;
    else
        return inf_errorf(err, INF_ERR_UNSUPPORTED,
                          "tokenizer: tokenizer.ggml.model '%s' is not supported (llama, gpt2, bert)",
                          p->model);
    if (p->n_tokens == 0 || p->n_tokens > INT32_MAX / 2 || !p->tokens || !p->token_lens)
        return inf_errorf(err, INF_ERR_FORMAT, "tokenizer: vocabulary has %zu tokens", p->n_tokens);
    if (p->n_merges && (!p->merges || !p->merge_lens))
        return inf_errorf(err, INF_ERR_INVALID, "tokenizer: merges without their texts");

    v = calloc(1, sizeof *v);
    if (!v) return inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
    v->kind = kind;
    v->n = (int32_t)p->n_tokens;
    size_t n = p->n_tokens;
    v->text_off = malloc(n * sizeof *v->text_off);
    v->text_len = malloc(n * sizeof *v->text_len);
    v->piece_off = malloc(n * sizeof *v->piece_off);
    v->piece_len = malloc(n * sizeof *v->piece_len);
    v->type = malloc(n);
    v->eog = calloc(n, 1);
    respelled = calloc(n, sizeof *respelled);
    score = malloc(n * sizeof *score);
    if (!v->text_off || !v->text_len || !v->piece_off || !v->piece_len || !v->type || !v->eog ||
        !respelled || !score) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t ty = p->types ? p->types[i] : TOK_TYPE_NORMAL;
        if (ty < 0 || ty > TOK_TYPE_BYTE) {
            rc = inf_errorf(err, INF_ERR_FORMAT, "tokenizer: token %zu has unknown type %d", i, (int)ty);
            goto out;
        }
        v->type[i] = (uint8_t)ty;
    }
    bool gemma = kind == TOK_KIND_SPM && p->arch && !strncmp(p->arch, "gemma", 5);
    rc = fill_texts(v, p, respelled, gemma, err);
    if (rc) goto out;
    rc = strmap_init(&v->map, n);
    if (rc) {
        inf_errorf(err, rc, "tokenizer: out of memory");
        goto out;
    }
    for (tok_id t = 0; t < v->n; t++) strmap_put(v, t);

    for (unsigned b = 0; b < 256; b++) {
        char s[8];
        size_t l;
        if (kind == TOK_KIND_BPE) l = utf8_encode(byte_to_cp(b), s);
        else l = (size_t)snprintf(s, sizeof s, "<0x%02X>", b);
        v->byte_tok[b] = tok_strmap_find(v, s, l);
    }

    if (kind == TOK_KIND_SPM) {
        /* Merge priority is the token's score; Gemma's scores disagree with its
         * merge order for its special tokens, so there the file order decides
         * (what its reference tokenizer does). */
        for (size_t i = 0; i < n; i++)
            score[i] = gemma ? -(float)i : (p->scores ? p->scores[i] : 0.0f);
        rc = spm_build_pairs(v, score, err);
    } else if (kind == TOK_KIND_WPM) {
        rc = pairmap_init(&v->pairs, 0); /* WordPiece merges nothing */
        if (rc) inf_errorf(err, rc, "tokenizer: out of memory");
    } else {
        rc = bpe_build_pairs(v, p, err);
        if (!rc) rc = tok_pretok_create(p->pre, &v->pretok, err);
        if (!rc) v->ignore_merges = tok_pretok_ignore_merges(v->pretok);
    }
    if (rc) goto out;
    snprintf(v->pre, sizeof v->pre, "%s",
             v->pretok ? tok_pretok_name(v->pretok) : (p->pre && *p->pre ? p->pre : "default"));

    if (build_verbatim(v, respelled)) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
        goto out;
    }

    for (int i = 0; i < TOK_SPECIAL_COUNT; i++) {
        tok_id id = p->special[i];
        v->special[i] = (id >= 0 && id < v->n) ? id : TOK_NULL;
    }
    /* BERT wraps a text in [CLS] ... [SEP]; its pieces start words with U+2581. */
    v->add_bos = p->add_bos >= 0 ? p->add_bos != 0 : kind != TOK_KIND_BPE;
    v->add_eos = p->add_eos >= 0 ? p->add_eos != 0 : kind == TOK_KIND_WPM;
    v->add_space_prefix = p->add_space_prefix >= 0 ? p->add_space_prefix != 0 : kind != TOK_KIND_BPE;
    if (kind == TOK_KIND_BPE) v->add_space_prefix = false;
    if (kind == TOK_KIND_WPM) v->add_space_prefix = true;

    const tok_special eog_ids[] = {TOK_SPECIAL_EOS, TOK_SPECIAL_EOT, TOK_SPECIAL_EOM};
    for (size_t i = 0; i < sizeof eog_ids / sizeof eog_ids[0]; i++)
        if (v->special[eog_ids[i]] != TOK_NULL) v->eog[v->special[eog_ids[i]]] = 1;
    for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
        tok_id t = tok_strmap_find(v, eog_texts[i], strlen(eog_texts[i]));
        if (t != TOK_NULL && (v->type[t] == TOK_TYPE_CONTROL || v->type[t] == TOK_TYPE_USER_DEFINED))
            v->eog[t] = 1;
    }
    *out = v;
    v = NULL;
out:
    free(respelled);
    free(score);
    tok_vocab_free(v);
    return rc;
}

void tok_vocab_free(tok_vocab *v)
{
    if (!v) return;
    free(v->pool);
    free(v->text_off);
    free(v->text_len);
    free(v->piece_off);
    free(v->piece_len);
    free(v->type);
    free(v->eog);
    free(v->map.slots);
    free(v->map.hash);
    free(v->pairs.slots);
    free(v->verb_kind);
    free(v->verb_lens);
    tok_pretok_free(v->pretok);
    free(v);
}

/* ---- look-ups ---------------------------------------------------------------------- */

tok_kind tok_vocab_kind(const tok_vocab *v) { return v->kind; }
int32_t tok_vocab_size(const tok_vocab *v) { return v->n; }
const char *tok_vocab_pre(const tok_vocab *v) { return v->pre; }
bool tok_vocab_add_bos(const tok_vocab *v) { return v->add_bos; }
bool tok_vocab_add_eos(const tok_vocab *v) { return v->add_eos; }

tok_id tok_vocab_special(const tok_vocab *v, tok_special which)
{
    if ((int)which < 0 || which >= TOK_SPECIAL_COUNT) return TOK_NULL;
    return v->special[which];
}

tok_type tok_token_type(const tok_vocab *v, tok_id id)
{
    if (id < 0 || id >= v->n) return TOK_TYPE_UNDEFINED;
    return (tok_type)v->type[id];
}

bool tok_token_is_special(const tok_vocab *v, tok_id id)
{
    tok_type t = tok_token_type(v, id);
    return t == TOK_TYPE_CONTROL || t == TOK_TYPE_UNKNOWN || t == TOK_TYPE_UNUSED;
}

bool tok_is_eog(const tok_vocab *v, tok_id id)
{
    return id >= 0 && id < v->n && v->eog[id];
}

const char *tok_token_text(const tok_vocab *v, tok_id id, size_t *len)
{
    if (id < 0 || id >= v->n) return NULL;
    if (len) *len = v->text_len[id];
    return tok_text_(v, id);
}

const char *tok_token_piece(const tok_vocab *v, tok_id id, size_t *len)
{
    if (id < 0 || id >= v->n) return NULL;
    if (len) *len = v->piece_len[id];
    return v->pool + v->piece_off[id];
}

tok_id tok_token_find(const tok_vocab *v, const char *s, size_t n)
{
    return tok_strmap_find(v, s, n);
}
