/* test_tok_wpm: WordPiece (BERT) on a vocabulary built in memory: lowercasing,
 * accent stripping, punctuation and CJK splitting, greedy longest match with
 * U+2581-marked word starts, [UNK] for uncovered words, [CLS]/[SEP], decoding. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer/tokenizer.h"

#define SP "\xe2\x96\x81"

static const char *const toks[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", SP "hello", SP "world", SP "hel", "lo", "l", SP ",",
    SP "!", SP "apfel", SP "\xe6\x88\x91" /* 我 */, SP "cu", "a", SP "viet", SP "i", SP "x",
};
enum { PAD, UNK, CLS, SEP, HELLO, WORLD, HEL, LO, L, COMMA, BANG, APFEL, WO, CU, A, VIET, I, X };

static size_t tok(const tok_vocab *v, const char *s, unsigned flags, tok_id *out)
{
    size_t n = 0;
    inf_error err;
    CHECK_EQ_INT(tok_tokenize_buf(v, s, strlen(s), flags, out, 64, &n, &err), INF_OK);
    return n;
}

#define EXPECT(v, s, flags, ...)                                                   \
    do {                                                                           \
        tok_id want_[] = {__VA_ARGS__}, got_[64];                                  \
        size_t n_ = tok(v, s, flags, got_);                                        \
        CHECK_MSG(n_ == sizeof want_ / sizeof want_[0] &&                          \
                      memcmp(got_, want_, sizeof want_) == 0,                      \
                  "'%s': %zu ids, first %d", s, n_, n_ ? (int)got_[0] : -1);       \
    } while (0)

int main(void)
{
    size_t n = sizeof toks / sizeof toks[0];
    size_t lens[32];
    int32_t types[32];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(toks[i]);
        types[i] = i <= SEP ? TOK_TYPE_CONTROL : TOK_TYPE_NORMAL;
    }
    tok_vocab_params p;
    tok_vocab_params_init(&p);
    p.model = "bert";
    p.n_tokens = n;
    p.tokens = toks;
    p.token_lens = lens;
    p.types = types;
    p.special[TOK_SPECIAL_UNK] = UNK;
    p.special[TOK_SPECIAL_BOS] = CLS;
    p.special[TOK_SPECIAL_EOS] = SEP;
    tok_vocab *v = NULL;
    inf_error err;
    CHECK_EQ_INT(tok_vocab_create(&p, &v, &err), INF_OK);
    CHECK_EQ_INT(tok_vocab_kind(v), TOK_KIND_WPM);

    EXPECT(v, "Hello, WORLD!", 0, HELLO, COMMA, WORLD, BANG);
    EXPECT(v, "  hello\t\nworld  ", 0, HELLO, WORLD);
    EXPECT(v, "hell", 0, HEL, L);               /* longest first: ▁hel then l */
    EXPECT(v, "helo", 0, UNK); /* ▁hel then "o" uncovered: the whole word is [UNK] */
    EXPECT(v, "\xc3\x84pfel", 0, APFEL);        /* Äpfel: accent stripped, lowercased */
    EXPECT(v, "C\xe1\xbb\xad" "a Vi\xe1\xbb\x87t", 0, CU, A, VIET); /* Cửa Việt */
    EXPECT(v, "x\xe6\x88\x91x", 0, X, WO, X);   /* CJK is a word of its own */
    EXPECT(v, "\xc4\xb0", 0, I);                /* İ: NFD drops the dot, lowercase i */
    EXPECT(v, "a\xc2\xadx", 0, UNK);            /* soft hyphen dropped: "ax" is one word */
    EXPECT(v, "hello", TOK_ADD_SPECIAL, CLS, HELLO, SEP);
    EXPECT(v, "[SEP]hello", TOK_PARSE_SPECIAL, SEP, HELLO);

    char long_word[300];
    memset(long_word, 'a', sizeof long_word - 1);
    long_word[sizeof long_word - 1] = 0;
    EXPECT(v, long_word, 0, UNK); /* past 100 characters: [UNK] without trying */

    tok_id ids[] = {CLS, HELLO, LO, WORLD, SEP};
    char *s = NULL;
    CHECK_EQ_INT(tok_decode(v, ids, 5, TOK_DETOK_SKIP_SPECIAL | TOK_DETOK_STRIP_SPACE, &s, NULL, &err), 0);
    CHECK_EQ_STR(s, "hellolo world");
    free(s);
    tok_vocab_free(v);
    return check_done();
}
