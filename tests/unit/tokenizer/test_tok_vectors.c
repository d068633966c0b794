/* test_tok_vectors: llama.cpp's tokenizer vectors (../shared/testdata/vocab/),
 * tokenized without BOS and without special parsing; every file must agree on
 * every line (SentencePiece, byte-level BPE and the WordPiece bert-bge). Skips when ../shared/testdata is absent. Runs under ASan in `make asan-test`,
 * which the pytest twin of this test (test_tokenizer_vocab.py) does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static const char *const files[] = {
    "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm",
    "mpt", "phi-3", "refact", "starcoder", "bert-bge",
};

int main(void)
{
    char buf[1024];
    if (!check_testdata("vocab/ggml-vocab-gpt-2.gguf", buf, sizeof buf))
        check_skip("../shared/testdata/vocab is absent");
    static const char sep[] = "\n__ggml_vocab_test__\n";
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        char path[1100], inp_path[1200], out_path[1200];
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", getenv("INFERD_TESTDATA"), files[fi]);
        snprintf(inp_path, sizeof inp_path, "%s.inp", path);
        snprintf(out_path, sizeof out_path, "%s.out", path);
        gguf_file *f = NULL;
        tok_vocab *v = NULL;
        inf_error err;
        CHECK_MSG(gguf_open(path, &f, &err) == INF_OK, "%s: %s", path, err.msg);
        int rc = f ? tok_vocab_load(f, &v, &err) : -1;
        gguf_close(f);
        CHECK_MSG(rc == INF_OK, "%s: %s", files[fi], err.msg);
        size_t in_len, out_len;
        char *in = slurp(inp_path, &in_len), *out = slurp(out_path, &out_len);
        CHECK(in && out);
        int cases = 0, good = 0;
        char *p = in, *line = out;
        tok_ids ids;
        tok_ids_init(&ids);
        while (v && p && line) {
            char *end = strstr(p, sep);
            if (!end) break;
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            ids.n = 0;
            rc = tok_tokenize(v, p, (size_t)(end - p), 0, &ids, &err);
            /* Compare with the expected line, id by id. */
            int ok = rc == INF_OK;
            char *q = line;
            for (size_t i = 0; ok && i < ids.n; i++) {
                char *e;
                long x = strtol(q, &e, 10);
                ok = e != q && x == ids.ids[i];
                q = e;
            }
            while (ok && *q == ' ') q++;
            ok = ok && *q == 0;
            CHECK_MSG(ok, "%s: case %d '%.*s'", files[fi], cases, (int)(end - p), p);
            good += ok;
            cases++;
            p = end + sizeof sep - 1;
            line = nl ? nl + 1 : NULL;
        }
        printf("%-16s %d/%d\n", files[fi], good, cases);
        CHECK_EQ_INT(cases, 46);
        tok_ids_free(&ids);
        free(in);
        free(out);
        tok_vocab_free(v);
    }
    return check_done();
}
