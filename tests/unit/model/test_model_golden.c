/* test_model_golden.c: inferd's logits equal Hugging Face transformers' on
 * small random models of each architecture and RoPE scaling (tests/golden/<name>.gguf + .json,
 * made by tests/golden/make_golden_logits.py on a machine with torch).
 *
 * The whole prompt runs as one batch (every row's logits wanted), then again
 * one token per step; both must match the golden logits within 1e-4 relative
 * (largest |diff| of a row over that row's largest |logit|) on the ref backend
 * with an F32 KV pool. Architectures whose files are absent are skipped with a
 * message; INFERD_GOLDEN_DIR overrides the folder. */
#include <math.h>
#include <stdio.h>

#include <jansson.h>

#include "check.h"
#include "model/session.h"

#define TOL 1e-4

static double row_rel_diff(const float *got, json_t *want, int nv)
{
    double md = 0, mx = 1e-30;
    for (int i = 0; i < nv; i++) {
        double w = json_number_value(json_array_get(want, (size_t)i));
        md = fmax(md, fabs(got[i] - w));
        mx = fmax(mx, fabs(w));
        if (isnan(got[i])) return INFINITY;
    }
    return md / mx;
}

/* Returns 1 when the architecture's files were found and compared. */
static const char *backend_name = "ref";

static int check_arch(const char *dir, const char *arch)
{
    char gpath[1100], jpath[1100];
    snprintf(gpath, sizeof gpath, "%s/%s.gguf", dir, arch);
    snprintf(jpath, sizeof jpath, "%s/%s.json", dir, arch);
    FILE *probe = fopen(gpath, "rb");
    json_error_t jerr;
    json_t *g = probe ? json_load_file(jpath, 0, &jerr) : NULL;
    if (probe) fclose(probe);
    if (!g) {
        printf("%s: no golden files in %s (run tests/golden/make_golden_logits.py): skipped\n",
               arch, dir);
        return 0;
    }
    inf_error err = {0};
    model_session ms = {0};
    float *logits = NULL;
    json_t *ids = json_object_get(g, "prompt_ids"), *rows = json_object_get(g, "logits");
    int n = (int)json_array_size(ids);
    int32_t tok[64], pos[64], seq[64], out[64];
    INF_ASSERT(n > 0 && n <= 64 && (int)json_array_size(rows) == n);
    model_options opt = {.max_rows = 64, .max_out = 64};
    int rc = model_session_open(&ms, gpath, backend_name, 2, &opt, &err);
    if (!rc) rc = model_session_kv(&ms, 2, 64, 7, BE_KV_F32, &err);
    CHECK_MSG(rc == 0, "%s: %s", arch, err.msg);
    if (rc) goto out;
    int nv = (int)ms.m->hp.n_vocab;
    CHECK_EQ_INT(nv, json_integer_value(json_object_get(g, "n_vocab")));
    logits = malloc((size_t)n * nv * sizeof *logits);
    for (int i = 0; i < n; i++) {
        tok[i] = (int32_t)json_integer_value(json_array_get(ids, (size_t)i));
        pos[i] = i;
        seq[i] = 0;
        out[i] = i;
    }
    model_batch_seq bs = {model_kvslots_table(&ms.ks, 0), ms.ks.blocks_per_slot, n};
    model_batch b = {n, tok, pos, seq, 1, &bs, n, out};
    rc = model_forward(ms.m, ms.kv, &b, logits, &err);
    CHECK_MSG(rc == 0, "%s: %s", arch, err.msg);
    double worst = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        worst = fmax(worst, row_rel_diff(logits + (size_t)i * nv, json_array_get(rows, (size_t)i), nv));
    CHECK_MSG(worst <= TOL, "%s: one batch: max rel diff %g > %g", arch, worst, TOL);

    model_seq s;
    model_session_seq(&ms, 1, &s);
    double worst1 = 0;
    for (int i = 0; i < n; i++) {
        if ((rc = model_seq_feed(&s, &tok[i], 1, logits, &err))) break;
        worst1 = fmax(worst1, row_rel_diff(logits, json_array_get(rows, (size_t)i), nv));
    }
    CHECK_MSG(rc == 0 && worst1 <= TOL, "%s: token by token: max rel diff %g (%s)", arch, worst1,
              err.msg);
    printf("%s (%s): %d positions, max rel diff %.2e (one batch), %.2e (token by token)\n", arch,
           backend_name, n, worst, worst1);
out:
    free(logits);
    model_session_close(&ms);
    json_decref(g);
    return 1;
}

/* argv[1]: the backend to run (default ref; the cpu backend's ctest entry
 * passes "cpu"). */
int main(int argc, char **argv)
{
    if (argc > 1) backend_name = argv[1];
    char dir[1024];
    const char *env = getenv("INFERD_GOLDEN_DIR"), *src = getenv("INFERD_SOURCE_DIR");
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "%s/tests/golden", src && *src ? src : ".");
    /* The four architectures, and RoPE scaling: Llama 3.1 (rope_freqs.weight)
     * and YaRN (rope.scaling.* keys). */
    const char *names[] = {"llama", "qwen2", "qwen3", "gemma3", "llama-rope-llama3",
                           "qwen2-rope-yarn"};
    int found = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) found += check_arch(dir, names[i]);
    if (!found) check_skip("no golden logits in tests/golden (make_golden_logits.py not run yet)");
    return check_done();
}
