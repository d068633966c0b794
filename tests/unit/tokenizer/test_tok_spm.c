/* test_tok_spm: SentencePiece on a small vocabulary written here as a GGUF file
 * (so the GGUF loader is covered without ../shared): score-ordered merges, the
 * space prefix, byte fallback, BOS, control tokens, and the detokenizer's
 * leading-space rule and whole-character streaming. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/utf8.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#define SP "\xe2\x96\x81"

/* Writes a vocabulary-only GGUF: <unk> <s> </s>, 256 byte tokens, then pieces. */
static int write_vocab(const char *path, const char *const *pieces, const float *scores, int n,
                       int add_space_prefix)
{
    const char *toks[300];
    size_t lens[300];
    float sc[300];
    int32_t ty[300];
    char bytes[256][8];
    int k = 0;
    const char *head[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        toks[k] = head[i];
        sc[k] = 0;
        ty[k++] = i == 0 ? 2 : 3;
    }
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        toks[k] = bytes[b];
        sc[k] = 0;
        ty[k++] = 6;
    }
    for (int i = 0; i < n; i++) {
        toks[k] = pieces[i];
        sc[k] = scores[i];
        ty[k++] = 1;
    }
    for (int i = 0; i < k; i++) lens[i] = strlen(toks[i]);
    gguf_writer *w = NULL;
    inf_error err;
    if (gguf_writer_open(path, 0, &w, &err)) return -1;
    gguf_writer_set_str(w, "general.architecture", "llama", 5);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", 5);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, lens, (uint64_t)k);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, sc, (uint64_t)k);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, ty, (uint64_t)k);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0xFFFFFFFFu); /* "none" */
    if (add_space_prefix >= 0) gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", add_space_prefix);
    if (gguf_writer_begin_data(w)) {
        gguf_writer_abort(w);
        return -1;
    }
    return gguf_writer_close(w, &err);
}

static tok_vocab *load(const char *path)
{
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    inf_error err;
    int rc = gguf_open(path, &f, &err);
    if (rc == INF_OK) rc = tok_vocab_load(f, &v, &err);
    CHECK_MSG(rc == INF_OK, "%s: %s", path, err.msg);
    gguf_close(f); /* the vocabulary keeps nothing of the file */
    return v;
}

static size_t tok(const tok_vocab *v, const char *s, unsigned flags, tok_id *out)
{
    size_t n = 0;
    inf_error err;
    CHECK_EQ_INT(tok_tokenize_buf(v, s, strlen(s), flags, out, 64, &n, &err), INF_OK);
    return n;
}

static tok_id id(const tok_vocab *v, const char *s)
{
    return tok_token_find(v, s, strlen(s));
}

int main(void)
{
    char path[] = "/tmp/inferd_test_spm_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);

    /* "▁a" outranks "ab": " ab" -> ▁a b. */
    const char *pieces[] = {SP, "a", "b", "c", SP "a", "ab", "bc", SP "abc", "abc"};
    float hi_first[] = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
    CHECK_EQ_INT(write_vocab(path, pieces, hi_first, 9, -1), 0);
    tok_vocab *v = load(path);
    tok_id o[64];
    size_t n = tok(v, "ab", 0, o);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(o[0], id(v, SP "a"));
    CHECK_EQ_INT(o[1], id(v, "b"));
    /* "abc": ▁a first, then b+c, then (▁a, bc) -> ▁abc: any split of a piece into
     * two pieces is a merge, not only the order it was learnt in. */
    n = tok(v, "abc", 0, o);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(o[0], id(v, SP "abc"));
    CHECK_EQ_INT(tok_vocab_special(v, TOK_SPECIAL_PAD), TOK_NULL);
    CHECK(tok_vocab_add_bos(v)); /* SentencePiece files default to BOS */
    n = tok(v, "a", TOK_ADD_SPECIAL, o);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(o[0], 1);

    /* Byte fallback: 한 is not a piece, so its three bytes are. */
    n = tok(v, "a\xed\x95\x9c", 0, o);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(o[1], id(v, "<0xED>"));
    CHECK_EQ_INT(o[3], id(v, "<0x9C>"));

    /* Control tokens in the text: only with TOK_PARSE_SPECIAL, and the text after
     * one gets its own space prefix (as SentencePiece and llama.cpp do). */
    n = tok(v, "a</s>a", TOK_PARSE_SPECIAL, o);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(o[1], 2);
    CHECK_EQ_INT(o[2], id(v, SP "a"));
    CHECK(tok_is_eog(v, 2));
    n = tok(v, "a</s>", 0, o);
    CHECK(n > 2);

    /* Decoding: the first space is SentencePiece's own, dropped on request. */
    tok_id seq[] = {1, id(v, SP "a"), id(v, SP), id(v, "b")};
    char *s = NULL;
    inf_error err;
    CHECK_EQ_INT(tok_decode(v, seq, 4, TOK_DETOK_SKIP_SPECIAL | TOK_DETOK_STRIP_SPACE, &s, NULL, &err), 0);
    CHECK_EQ_STR(s, "a b");
    free(s);
    CHECK_EQ_INT(tok_decode(v, seq, 4, TOK_DETOK_SKIP_SPECIAL, &s, NULL, &err), 0);
    CHECK_EQ_STR(s, " a b");
    free(s);
    CHECK_EQ_INT(tok_decode(v, seq, 4, TOK_DETOK_STRIP_SPACE, &s, NULL, &err), 0);
    CHECK_EQ_STR(s, "<s> a b"); /* the first text is "<s>": nothing to strip */
    free(s);

    /* Streaming an emoji spread over four byte tokens: nothing, nothing, nothing, 😀. */
    tok_detok *d = NULL;
    CHECK_EQ_INT(tok_detok_create(v, 0, &d, &err), 0);
    const unsigned char emoji[] = {0xF0, 0x9F, 0x98, 0x80};
    for (int i = 0; i < 4; i++) {
        const char *t;
        size_t l;
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", emoji[i]);
        CHECK_EQ_INT(tok_detok_feed(d, id(v, name), &t, &l, &err), 0);
        CHECK_EQ_INT(l, i < 3 ? 0 : 4);
        if (i == 3) CHECK(memcmp(t, emoji, 4) == 0);
    }
    tok_detok_free(d);
    tok_vocab_free(v);

    /* Reversed scores: "ab" outranks "▁a", so " ab" -> ▁ ab; no space prefix here. */
    float lo_first[] = {-1, -2, -3, -4, -9, -5, -7, -8, -6};
    CHECK_EQ_INT(write_vocab(path, pieces, lo_first, 9, 0), 0);
    v = load(path);
    n = tok(v, "ab", 0, o);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(o[0], id(v, "ab"));
    n = tok(v, " ab", 0, o);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(o[0], id(v, SP));
    tok_vocab_free(v);

    /* A file without a tokenizer says so. */
    gguf_writer *w = NULL;
    CHECK_EQ_INT(gguf_writer_open(path, 0, &w, &err), 0);
    gguf_writer_set_str(w, "general.architecture", "llama", 5);
    gguf_writer_begin_data(w);
    CHECK_EQ_INT(gguf_writer_close(w, &err), 0);
    gguf_file *f = NULL;
    CHECK_EQ_INT(gguf_open(path, &f, &err), 0);
    v = NULL;
    CHECK_EQ_INT(tok_vocab_load(f, &v, &err), INF_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "tokenizer.ggml.model") != NULL);
    gguf_close(f);
    unlink(path);
    return check_done();
}
