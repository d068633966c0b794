/* test_tok_bpe: byte-level BPE on a vocabulary built in memory: merge ranks,
 * the GPT-2 pre-tokenizer, verbatim special tokens with and without
 * TOK_PARSE_SPECIAL, BOS/EOS flags, invalid UTF-8, decoding, and several threads
 * tokenizing with one vocabulary at once. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

#define MAX_TOK 400

static char texts[MAX_TOK][32];
static const char *tokp[MAX_TOK];
static size_t lens[MAX_TOK];
static int32_t types[MAX_TOK];
static int n_tok;

/* GPT-2's byte alphabet, restated from its definition: printable Latin-1 bytes
 * are themselves, the rest take U+0100 upwards in byte order. */
static uint32_t alphabet(unsigned b)
{
    static uint32_t map[256];
    static int init;
    if (!init) {
        uint32_t next = 0x100;
        for (unsigned x = 0; x < 256; x++) {
            int printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
            map[x] = printable ? x : next++;
        }
        init = 1;
    }
    return map[b];
}

static int add(const char *s, int type)
{
    snprintf(texts[n_tok], sizeof texts[n_tok], "%s", s);
    tokp[n_tok] = texts[n_tok];
    lens[n_tok] = strlen(s);
    types[n_tok] = type;
    return n_tok++;
}

static tok_vocab *build(const char *const *merges, size_t n_merges, const char *pre, int add_bos)
{
    n_tok = 0;
    for (unsigned b = 0; b < 256; b++) {
        char s[8] = {0};
        utf8_encode(alphabet(b), s);
        add(s, TOK_TYPE_NORMAL);
    }
    const char *words[] = {"he", "ll", "el", "hell", "hello", "hel", "\xc4\xa0w", "or", "\xc4\xa0wor",
                           "ld", "\xc4\xa0world", "\xc4\xa0\xc4\xa0"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) add(words[i], TOK_TYPE_NORMAL);
    add("<|end|>", TOK_TYPE_CONTROL);
    add("<tool>", TOK_TYPE_USER_DEFINED);
    add("<|end|>x", TOK_TYPE_CONTROL); /* longer, overlapping: leftmost-longest wins */
    size_t ml[32];
    for (size_t i = 0; i < n_merges; i++) ml[i] = strlen(merges[i]);
    tok_vocab_params p;
    tok_vocab_params_init(&p);
    p.model = "gpt2";
    p.pre = pre;
    p.n_tokens = (size_t)n_tok;
    p.tokens = tokp;
    p.token_lens = lens;
    p.types = types;
    p.n_merges = n_merges;
    p.merges = merges;
    p.merge_lens = ml;
    p.special[TOK_SPECIAL_BOS] = 256 + 12;
    p.special[TOK_SPECIAL_EOS] = 256 + 12;
    p.add_bos = add_bos;
    tok_vocab *v = NULL;
    inf_error err;
    int rc = tok_vocab_create(&p, &v, &err);
    CHECK_MSG(rc == INF_OK, "create: %s", err.msg);
    return v;
}

static size_t tokenize(const tok_vocab *v, const char *s, unsigned flags, tok_id *out, size_t cap)
{
    size_t n = 0;
    inf_error err;
    int rc = tok_tokenize_buf(v, s, strlen(s), flags, out, cap, &n, &err);
    CHECK_MSG(rc == INF_OK, "tokenize '%s': %s", s, err.msg);
    return n;
}

static tok_id id_of(const tok_vocab *v, const char *s)
{
    return tok_token_find(v, s, strlen(s));
}

typedef struct job {
    const tok_vocab *v;
    const char *text;
    tok_ids out;
    int rc;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < 20 && j->rc == 0; rep++) {
        j->out.n = 0;
        j->rc = tok_tokenize(j->v, j->text, strlen(j->text), TOK_PARSE_SPECIAL, &j->out, NULL);
    }
    return NULL;
}

int main(void)
{
    /* Rank decides: with "e l" ranked before "h e", "hel" is h + el. */
    const char *m1[] = {"e l", "h e", "h el", "l l", "he ll", "hell o"};
    tok_vocab *v = build(m1, 6, "gpt-2", 0);
    tok_id out[64];
    size_t n = tokenize(v, "hel", 0, out, 64);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0], id_of(v, "hel"));
    tok_vocab_free(v);

    const char *m2[] = {"h e", "e l", "l l", "he ll", "hell o", "\xc4\xa0 w", "o r",
                        "\xc4\xa0w or", "l d", "\xc4\xa0wor ld", "\xc4\xa0 \xc4\xa0"};
    v = build(m2, 11, "gpt-2", 0);
    n = tokenize(v, "hel", 0, out, 64);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(out[0], id_of(v, "he"));
    CHECK_EQ_INT(out[1], 'l'); /* 'l' is its own alphabet char, token id = byte */

    /* The pre-tokenizer keeps words apart; " world" is one word with its space. */
    n = tokenize(v, "hello world", 0, out, 64);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(out[0], id_of(v, "hello"));
    CHECK_EQ_INT(out[1], id_of(v, "\xc4\xa0world"));
    CHECK_EQ_STR(tok_vocab_pre(v), "gpt-2");

    /* Control tokens are text unless asked; user-defined ones always split. */
    size_t n_raw = tokenize(v, "hello<|end|>", 0, out, 64);
    CHECK(n_raw > 2);
    n = tokenize(v, "hello<|end|>", TOK_PARSE_SPECIAL, out, 64);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(out[1], id_of(v, "<|end|>"));
    n = tokenize(v, "<|end|>xhello", TOK_PARSE_SPECIAL, out, 64);
    CHECK_EQ_INT(out[0], id_of(v, "<|end|>x"));
    CHECK_EQ_INT(n, 2);
    n = tokenize(v, "a<tool>b", 0, out, 64);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(out[1], id_of(v, "<tool>"));

    /* add_bos off for this vocabulary: TOK_ADD_SPECIAL adds nothing. */
    n = tokenize(v, "hello", TOK_ADD_SPECIAL, out, 64);
    CHECK_EQ_INT(n, 1);

    /* Invalid UTF-8: an error naming the offset, ids untouched. */
    tok_ids ids;
    tok_ids_init(&ids);
    inf_error err;
    int rc = tok_tokenize(v, "ab\xff" "cd", 5, 0, &ids, &err);
    CHECK_EQ_INT(rc, INF_ERR_FORMAT);
    CHECK(strstr(err.msg, "offset 2") != NULL);
    CHECK_EQ_INT(ids.n, 0);

    /* tok_tokenize_buf reports the size it needs when the buffer is short. */
    size_t need = 0;
    rc = tok_tokenize_buf(v, "hello world", 11, 0, out, 1, &need, &err);
    CHECK_EQ_INT(rc, INF_ERR_RANGE);
    CHECK_EQ_INT(need, 2);

    /* Decoding: pieces map the alphabet back to bytes; a Korean syllable comes out
     * whole only after its third byte token. */
    const char *text = "hello \xed\x95\x9c world";
    tok_tokenize(v, text, strlen(text), 0, &ids, &err);
    tok_detok *d = NULL;
    CHECK_EQ_INT(tok_detok_create(v, 0, &d, &err), INF_OK);
    char acc[64] = {0};
    int empty_feeds = 0;
    for (size_t i = 0; i < ids.n; i++) {
        const char *t;
        size_t l;
        CHECK_EQ_INT(tok_detok_feed(d, ids.ids[i], &t, &l, &err), INF_OK);
        CHECK(utf8_validate(t, l, NULL));
        if (l == 0) empty_feeds++;
        strncat(acc, t, l);
    }
    CHECK_EQ_INT(empty_feeds, 2); /* two of the three byte tokens of 한 */
    CHECK_EQ_STR(acc, text);
    const char *t;
    size_t l;
    CHECK_EQ_INT(tok_detok_feed(d, 99999, &t, &l, &err), INF_ERR_RANGE);
    /* A lone lead byte is flushed as U+FFFD, never as a broken character. */
    CHECK_EQ_INT(tok_detok_feed(d, (tok_id)0xE4, &t, &l, &err), INF_OK);
    tok_detok_flush(d, &t, &l);
    CHECK_EQ_INT(l, 3);
    CHECK(memcmp(t, "\xef\xbf\xbd", 3) == 0);
    tok_detok_free(d);
    tok_detok_free(NULL);

    /* Special tokens: skipped on request, their text otherwise. */
    tok_id sp[2] = {id_of(v, "hello"), id_of(v, "<|end|>")};
    char *s = NULL;
    CHECK_EQ_INT(tok_decode(v, sp, 2, 0, &s, NULL, &err), INF_OK);
    CHECK_EQ_STR(s, "hello<|end|>");
    free(s);
    CHECK_EQ_INT(tok_decode(v, sp, 2, TOK_DETOK_SKIP_SPECIAL, &s, NULL, &err), INF_OK);
    CHECK_EQ_STR(s, "hello");
    free(s);
    CHECK(tok_is_eog(v, id_of(v, "<|end|>")));
    CHECK(!tok_is_eog(v, id_of(v, "hello")));

    /* Four threads share the vocabulary and agree with a single-threaded run. */
    static char big[20000];
    static const char unit[] = "hello world <|end|> 123 \xed\x95\x9c\xf0\x9f\x98\x80 ";
    for (size_t i = 0; i + sizeof unit < sizeof big; i += sizeof unit - 1)
        memcpy(big + i, unit, sizeof unit - 1);
    tok_ids ref;
    tok_ids_init(&ref);
    CHECK_EQ_INT(tok_tokenize(v, big, strlen(big), TOK_PARSE_SPECIAL, &ref, &err), INF_OK);
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){v, big, {0}, 0};
        pthread_create(&th[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(jobs[i].rc, 0);
        CHECK(jobs[i].out.n == ref.n && memcmp(jobs[i].out.ids, ref.ids, ref.n * sizeof *ref.ids) == 0);
        tok_ids_free(&jobs[i].out);
    }
    tok_ids_free(&ref);
    tok_ids_free(&ids);
    tok_vocab_free(v);

    /* Unknown flavours and models are refused by name. */
    tok_vocab_params p;
    tok_vocab_params_init(&p);
    p.model = "gpt2";
    p.pre = "no-such-flavour";
    p.n_tokens = 1;
    const char *one[] = {"a"};
    size_t one_len[] = {1};
    p.tokens = one;
    p.token_lens = one_len;
    tok_vocab *bad = NULL;
    CHECK_EQ_INT(tok_vocab_create(&p, &bad, &err), INF_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "no-such-flavour") != NULL);
    p.model = "rwkv";
    CHECK_EQ_INT(tok_vocab_create(&p, &bad, &err), INF_ERR_UNSUPPORTED);
    CHECK(bad == NULL);
    tok_vocab_free(NULL);
    return check_done();
}
