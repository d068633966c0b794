/* fuzz_tokenizer: libFuzzer target for tokenizer/.
 *
 * Input: byte 0 picks the vocabulary (SentencePiece, WordPiece, or byte-level
 * BPE with one of the pre-tokenizer flavours) and the flags; the rest is the text. The same
 * bytes, read as little-endian 16-bit ids (some past the vocabulary on purpose),
 * go through the streaming detokenizer. Checks beyond "no crash": tokenizing
 * valid UTF-8 succeeds and its decode gives the text back (BPE) or the text
 * with spaces for U+2581 (SPM); every detokenizer chunk is valid UTF-8.
 *
 * The vocabularies are synthetic, made here: every byte, a few hundred merges
 * of frequent English bigrams and trigrams, control and user-defined tokens. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

#define N_FLAVOURS 9
static const char *const flavours[N_FLAVOURS] = {"gpt-2", "llama3", "qwen2", "smollm", "falcon",
                                                 "deepseek-llm", "deepseek-coder", "deepseek-v3",
                                                 "glm4"};
static tok_vocab *bpe[N_FLAVOURS], *spm, *wpm;

static const char *const words[] = {"th", "he", "in", "er", "an", "re", "on", "at", "en", "nd",
                                    "the", "ing", "and", "her", "ent", "ion", "tio", "for",
                                    "hello", "world", "<|end|>", "<tool>", "<s>"};

/* Token storage: fixed arrays that live for the process. */
static char store[2048][24];
static const char *tp[2048];
static size_t tl[2048];
static int32_t ty[2048];
static int nt;

static void add(const char *s, size_t n, int type)
{
    memcpy(store[nt], s, n);
    tp[nt] = store[nt];
    tl[nt] = n;
    ty[nt] = type;
    nt++;
}

static uint32_t alphabet(unsigned b)
{
    uint32_t next = 0x100;
    for (unsigned x = 0; x < 256; x++) {
        int printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
        if (x == b) return printable ? x : next;
        if (!printable) next++;
    }
    return 0;
}

static void build(void)
{
    inf_error err;
    /* Byte-level BPE: the 256 alphabet characters, then words, merges "a b". */
    nt = 0;
    for (unsigned b = 0; b < 256; b++) {
        char s[4];
        add(s, utf8_encode(alphabet(b), s), TOK_TYPE_NORMAL);
    }
    static char mstore[64][32];
    static const char *mp[64];
    static size_t ml[64];
    int nm = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        const char *w = words[i];
        size_t n = strlen(w);
        int type = w[0] == '<' ? (w[1] == '|' ? TOK_TYPE_CONTROL : TOK_TYPE_USER_DEFINED) : TOK_TYPE_NORMAL;
        add(w, n, type);
        if (type == TOK_TYPE_NORMAL && n >= 2) { /* merge: all but last char + last char */
            snprintf(mstore[nm], sizeof mstore[nm], "%.*s %c", (int)(n - 1), w, w[n - 1]);
            mp[nm] = mstore[nm];
            ml[nm] = strlen(mstore[nm]);
            nm++;
        }
    }
    for (int f = 0; f < N_FLAVOURS; f++) {
        tok_vocab_params p;
        tok_vocab_params_init(&p);
        p.model = "gpt2";
        p.pre = flavours[f];
        p.n_tokens = (size_t)nt;
        p.tokens = tp;
        p.token_lens = tl;
        p.types = ty;
        p.n_merges = (size_t)nm;
        p.merges = mp;
        p.merge_lens = ml;
        p.special[TOK_SPECIAL_BOS] = nt - 1;
        if (tok_vocab_create(&p, &bpe[f], &err)) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
            abort();
        }
    }
    /* SentencePiece: <unk> <s> </s>, byte tokens, ▁, letters, words with ▁. */
    nt = 0;
    add("<unk>", 5, TOK_TYPE_UNKNOWN);
    add("<s>", 3, TOK_TYPE_CONTROL);
    add("</s>", 4, TOK_TYPE_CONTROL);
    for (unsigned b = 0; b < 256; b++) {
        char s[8];
        add(s, (size_t)snprintf(s, sizeof s, "<0x%02X>", b), TOK_TYPE_BYTE);
    }
    add("\xe2\x96\x81", 3, TOK_TYPE_NORMAL);
    for (char c = 'a'; c <= 'z'; c++) add(&c, 1, TOK_TYPE_NORMAL);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char s[24];
        int n = snprintf(s, sizeof s, "\xe2\x96\x81%s", words[i]);
        if (words[i][0] != '<') {
            add(words[i], strlen(words[i]), TOK_TYPE_NORMAL);
            add(s, (size_t)n, TOK_TYPE_NORMAL);
        }
    }
    add("\n\n", 2, TOK_TYPE_USER_DEFINED);
    float scores[2048];
    for (int i = 0; i < nt; i++) scores[i] = -(float)i;
    tok_vocab_params p;
    tok_vocab_params_init(&p);
    p.model = "llama";
    p.n_tokens = (size_t)nt;
    p.tokens = tp;
    p.token_lens = tl;
    p.types = ty;
    p.scores = scores;
    p.special[TOK_SPECIAL_BOS] = 1;
    p.special[TOK_SPECIAL_EOS] = 2;
    p.special[TOK_SPECIAL_UNK] = 0;
    if (tok_vocab_create(&p, &spm, &err)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        abort();
    }
    /* WordPiece: the same pieces, the BERT way (no byte tokens, [UNK] for the rest). */
    p.model = "bert";
    p.scores = NULL;
    if (tok_vocab_create(&p, &wpm, &err)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!spm) build();
    if (size < 1) return 0;
    unsigned sel = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    unsigned k = sel & 0x0F;
    const tok_vocab *v = k == 15 ? wpm : k >= N_FLAVOURS ? spm : bpe[k];
    unsigned flags = ((sel & 0x10) ? TOK_PARSE_SPECIAL : 0) | ((sel & 0x20) ? TOK_ADD_SPECIAL : 0);

    tok_ids ids;
    tok_ids_init(&ids);
    inf_error err;
    int rc = tok_tokenize(v, text, len, flags, &ids, &err);
    bool valid = utf8_validate(text, len, NULL);
    if (valid != (rc == INF_OK)) abort();
    if (rc == INF_OK && !(flags & TOK_ADD_SPECIAL)) {
        char *back = NULL;
        size_t bl = 0;
        if (tok_decode(v, ids.ids, ids.n, TOK_DETOK_STRIP_SPACE, &back, &bl, &err)) abort();
        /* Byte-level BPE is lossless; SentencePiece turns U+2581 into spaces and
         * WordPiece normalises (lowercase, no accents, [UNK]). */
        if (v != spm && v != wpm && (bl != len || memcmp(back, text, len) != 0)) abort();
        if (!utf8_validate(back, bl, NULL)) abort();
        free(back);
    }
    tok_ids_free(&ids);

    tok_detok *d = NULL;
    if (tok_detok_create(v, (sel & 0x40) ? TOK_DETOK_SKIP_SPECIAL : 0, &d, &err)) return 0;
    int32_t n_vocab = tok_vocab_size(v);
    for (size_t i = 0; i + 1 < len; i += 2) {
        tok_id id = (tok_id)(((unsigned)(unsigned char)text[i] | (unsigned)(unsigned char)text[i + 1] << 8) %
                             (unsigned)(n_vocab + 8));
        const char *t;
        size_t l;
        rc = tok_detok_feed(d, id, &t, &l, &err);
        if ((id < n_vocab) != (rc == INF_OK)) abort();
        if (!utf8_validate(t, l, NULL)) abort();
    }
    const char *t;
    size_t l;
    tok_detok_flush(d, &t, &l);
    if (!utf8_validate(t, l, NULL)) abort();
    tok_detok_free(d);
    return 0;
}
