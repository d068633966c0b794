/* vocab_gguf.c: tok_vocab_load, the tokenizer.ggml.* metadata of a GGUF file
 * turned into tok_vocab_params (key names as llama.cpp writes them). */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

static bool is_int_type(gguf_vtype t)
{
    return t == GGUF_VT_UINT8 || t == GGUF_VT_INT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_INT16 ||
           t == GGUF_VT_UINT32 || t == GGUF_VT_INT32 || t == GGUF_VT_UINT64 || t == GGUF_VT_INT64;
}

/* A special token id: absent, negative or past the vocabulary all mean "none"
 * (files write 0xFFFFFFFF for none). */
static tok_id special_id(const gguf_file *f, const char *key, int64_t n, tok_id dflt)
{
    if (!gguf_kv_get(f, key)) return dflt;
    int64_t id;
    if (gguf_get_i64(f, key, &id, NULL) != INF_OK) return TOK_NULL; /* not an integer, or huge */
    return (id >= 0 && id < n) ? (tok_id)id : TOK_NULL;
}

static int flag(const gguf_file *f, const char *key)
{
    bool b;
    return gguf_get_bool(f, key, &b, NULL) == INF_OK ? (int)b : -1;
}

/* Copies a metadata string into a NUL-terminated buffer (names are short). */
static int get_name(const gguf_file *f, const char *key, char *buf, size_t cap, inf_error *err)
{
    gguf_str s;
    int rc = gguf_get_str(f, key, &s, err);
    if (rc) return rc;
    if (s.len >= cap || memchr(s.ptr, 0, s.len))
        return inf_errorf(err, INF_ERR_FORMAT, "metadata '%s' is not a short name", key);
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = 0;
    return INF_OK;
}

int tok_vocab_load(const gguf_file *f, tok_vocab **out, inf_error *err)
{
    *out = NULL;
    int rc;
    tok_vocab_params p;
    tok_vocab_params_init(&p);
    const char **tokens = NULL, **merges = NULL;
    size_t *token_lens = NULL, *merge_lens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    char model[32], pre[64], arch[64];

    rc = get_name(f, "tokenizer.ggml.model", model, sizeof model, err);
    if (rc == INF_ERR_NOT_FOUND)
        inf_errorf(err, rc, "this file has no tokenizer (tokenizer.ggml.model is absent)");
    if (rc) goto out;
    p.model = model;
    rc = get_name(f, "tokenizer.ggml.pre", pre, sizeof pre, err);
    if (rc == INF_OK) p.pre = pre;
    else if (rc != INF_ERR_NOT_FOUND) goto out;
    rc = get_name(f, "general.architecture", arch, sizeof arch, NULL);
    if (rc == INF_OK) p.arch = arch;

    const gguf_value *a;
    rc = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, err);
    if (rc) goto out;
    size_t n = (size_t)a->v.arr.count;
    if (n == 0 || n > INT32_MAX / 2) {
        rc = inf_errorf(err, INF_ERR_FORMAT, "tokenizer.ggml.tokens has %zu entries", n);
        goto out;
    }
    tokens = malloc(n * sizeof *tokens);
    token_lens = malloc(n * sizeof *token_lens);
    if (!tokens || !token_lens) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        tokens[i] = a->v.arr.items[i].v.str.ptr;
        token_lens[i] = (size_t)a->v.arr.items[i].v.str.len;
    }
    p.n_tokens = n;
    p.tokens = tokens;
    p.token_lens = token_lens;

    rc = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VT_COUNT, &a, err);
    if (rc == INF_OK) {
        gguf_vtype et = a->v.arr.elem_type;
        if ((et != GGUF_VT_FLOAT32 && et != GGUF_VT_FLOAT64) || a->v.arr.count != n) {
            rc = inf_errorf(err, INF_ERR_FORMAT,
                            "tokenizer.ggml.scores: expected %zu floats, found %llu of %s", n,
                            (unsigned long long)a->v.arr.count, gguf_vtype_name(et));
            goto out;
        }
        scores = malloc(n * sizeof *scores);
        if (!scores) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) scores[i] = (float)gguf_arr_f64(a, i);
        p.scores = scores;
    } else if (rc != INF_ERR_NOT_FOUND) {
        goto out;
    }

    rc = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_VT_COUNT, &a, err);
    if (rc == INF_OK) {
        gguf_vtype et = a->v.arr.elem_type;
        if (!is_int_type(et) || a->v.arr.count != n) {
            rc = inf_errorf(err, INF_ERR_FORMAT,
                            "tokenizer.ggml.token_type: expected %zu integers, found %llu of %s", n,
                            (unsigned long long)a->v.arr.count, gguf_vtype_name(et));
            goto out;
        }
        types = malloc(n * sizeof *types);
        if (!types) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t t = gguf_arr_i64(a, i);
            types[i] = (t < 0 || t > TOK_TYPE_BYTE) ? -1 : (int32_t)t;
        }
        p.types = types;
    } else if (rc != INF_ERR_NOT_FOUND) {
        goto out;
    }

    rc = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_VT_STRING, &a, err);
    if (rc == INF_OK) {
        size_t m = (size_t)a->v.arr.count;
        merges = malloc((m ? m : 1) * sizeof *merges);
        merge_lens = malloc((m ? m : 1) * sizeof *merge_lens);
        if (!merges || !merge_lens) {
            rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
            goto out;
        }
        for (size_t i = 0; i < m; i++) {
            merges[i] = a->v.arr.items[i].v.str.ptr;
            merge_lens[i] = (size_t)a->v.arr.items[i].v.str.len;
        }
        p.n_merges = m;
        p.merges = merges;
        p.merge_lens = merge_lens;
    } else if (rc != INF_ERR_NOT_FOUND) {
        goto out;
    }

    /* SentencePiece files without ids follow the Llama layout (llama.cpp's defaults). */
    bool spm = !strcmp(model, "llama");
    int64_t ni = (int64_t)n;
    p.special[TOK_SPECIAL_BOS] = special_id(f, "tokenizer.ggml.bos_token_id", ni, spm ? 1 : TOK_NULL);
    p.special[TOK_SPECIAL_EOS] = special_id(f, "tokenizer.ggml.eos_token_id", ni, spm ? 2 : TOK_NULL);
    p.special[TOK_SPECIAL_UNK] = special_id(f, "tokenizer.ggml.unknown_token_id", ni, spm ? 0 : TOK_NULL);
    p.special[TOK_SPECIAL_EOT] = special_id(f, "tokenizer.ggml.eot_token_id", ni, TOK_NULL);
    p.special[TOK_SPECIAL_EOM] = special_id(f, "tokenizer.ggml.eom_token_id", ni, TOK_NULL);
    p.special[TOK_SPECIAL_PAD] = special_id(f, "tokenizer.ggml.padding_token_id", ni, TOK_NULL);
    /* llama.cpp writes the misspelled key; accept both. */
    p.special[TOK_SPECIAL_SEP] = special_id(f, "tokenizer.ggml.seperator_token_id", ni,
                                            special_id(f, "tokenizer.ggml.separator_token_id", ni,
                                                       TOK_NULL));
    if (!strcmp(model, "bert")) { /* BERT's BOS/EOS are [CLS] and [SEP] */
        if (p.special[TOK_SPECIAL_BOS] == TOK_NULL)
            p.special[TOK_SPECIAL_BOS] = special_id(f, "tokenizer.ggml.cls_token_id", ni, TOK_NULL);
        if (p.special[TOK_SPECIAL_EOS] == TOK_NULL) p.special[TOK_SPECIAL_EOS] = p.special[TOK_SPECIAL_SEP];
    }
    p.add_bos = flag(f, "tokenizer.ggml.add_bos_token");
    p.add_eos = flag(f, "tokenizer.ggml.add_eos_token");
    p.add_space_prefix = flag(f, "tokenizer.ggml.add_space_prefix");

    rc = tok_vocab_create(&p, out, err);
out:
    free(tokens);
    free(token_lens);
    free(merges);
    free(merge_lens);
    free(scores);
    free(types);
    return rc;
}
