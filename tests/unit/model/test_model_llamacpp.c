/* test_model_llamacpp.c: greedy continuations of the real models (SmolLM2-135M
 * Q4_1, Gemma 3 270M Q4_K_M) equal llama.cpp's, from the same prompt ids
 * (tests/golden/llamacpp-<model>-greedy.json, made by bench/peer/make-goldens.py).
 *
 * A run may leave llama.cpp's path only at a step where llama.cpp's own top two
 * candidates were within the tie gap in log-probability (a near tie that rounding
 * decides); such a run is reported and compared no further. How near is near:
 * llama.cpp rounds every activation row to 8 bits before a quantized matmul (and
 * queries to f16 in attention), so its logits carry rounding noise that exact
 * arithmetic does not. inferd's ref backend (f32 activations, within 1e-6 of
 * transformers on the golden-logit models) leaves llama.cpp's path on these Q4
 * files at llama.cpp top-2 gaps of 0.03 to 0.35; the cpu backend (which rounds
 * much as llama.cpp does, but not bit for bit) leaves it at similar gaps, often at
 * the same steps with the same tokens. TIE_GAP = 0.5 admits that noise and still fails a real error, which moves
 * confident tokens (gaps of whole units). docs/llamacpp-parity.md has the
 * evidence: on an F32 copy of the same weights (no activation rounding) ref and
 * llama.cpp agree to 1e-4 in logprob; on the Q4 file llama.cpp differs from
 * itself by ~0.1 between f16 and f32 KV alone. On the ref backend
 * (slow by design) each run is compared for its first REF_STEPS tokens unless
 * INFERD_GOLDEN_STEPS says otherwise. Skips when the golden files or the
 * models (~/.cache/inferd/models, INFERD_MODELS) are absent. */
#include <math.h>
#include <stdio.h>

#include <jansson.h>

#include "check.h"
#include "model/session.h"

#define TIE_GAP 0.5
#define REF_STEPS 12

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static double step_gap(json_t *step)
{
    json_t *top = json_object_get(step, "top5");
    if (json_array_size(top) < 2) return INFINITY;
    double a = json_number_value(json_array_get(json_array_get(top, 0), 1));
    double b = json_number_value(json_array_get(json_array_get(top, 1), 1));
    return fabs(a - b);
}

static int check_model(const char *golden, const char *model_path)
{
    json_error_t jerr;
    json_t *g = json_load_file(golden, 0, &jerr);
    FILE *mf = fopen(model_path, "rb");
    if (!g || !mf) {
        printf("skipped %s: %s absent\n", golden, g ? model_path : golden);
        if (mf) fclose(mf);
        json_decref(g);
        return 0;
    }
    fclose(mf);
    inf_error err = {0};
    model_session ms = {0};
    float *logits = NULL;
    model_options opt = {.max_rows = 128, .max_out = 1};
    /* INFERD_TEST_BACKEND=ref checks the f32-activation path (slow; see REF_STEPS). */
    int rc = model_session_open(&ms, model_path, getenv("INFERD_TEST_BACKEND"), 0, &opt, &err);
    if (!rc) rc = model_session_kv(&ms, 1, 512, 0, BE_KV_F16, &err);
    CHECK_MSG(rc == 0, "%s: %s", model_path, err.msg);
    if (rc) goto out;
    const be_backend *be = ms.be;
    int nv = (int)ms.m->hp.n_vocab;
    logits = malloc((size_t)nv * sizeof *logits);
    const char *env = getenv("INFERD_GOLDEN_STEPS");
    int max_steps = env && *env ? atoi(env) : (!strcmp(be->name, "ref") ? REF_STEPS : 1 << 30);
    const double tie_gap = TIE_GAP;
    size_t ri;
    json_t *run;
    json_array_foreach(json_object_get(g, "runs"), ri, run) {
        json_t *pids = json_object_get(run, "prompt_ids"), *cids = json_object_get(run, "completion_ids");
        json_t *steps = json_object_get(run, "top5_logprobs_per_step");
        int np = (int)json_array_size(pids), nc = (int)json_array_size(cids);
        int32_t *prompt = malloc((size_t)(np > 0 ? np : 1) * sizeof *prompt);
        for (int i = 0; i < np; i++) prompt[i] = (int32_t)json_integer_value(json_array_get(pids, i));
        model_seq s;
        model_session_seq(&ms, 0, &s);
        rc = np > 0 ? model_seq_feed(&s, prompt, np, logits, &err) : INF_ERR_INVALID;
        free(prompt);
        CHECK_MSG(rc == 0, "run %zu: %s", ri, err.msg);
        if (rc) continue;
        int t = 0;
        const char *why = "all match";
        for (; t < nc && t < max_steps; t++) {
            int want = (int)json_integer_value(json_array_get(cids, t)), got = argmax(logits, nv);
            if (got != want) {
                double gap = step_gap(json_array_get(steps, t));
                CHECK_MSG(gap < tie_gap, "%s run %zu step %d: got %d, llama.cpp %d (its top-2 gap "
                          "%.4f)", golden, ri, t, got, want, gap);
                why = gap < tie_gap ? "diverged at a near tie" : "DIVERGED";
                break;
            }
            int32_t tok = got;
            if (t + 1 < nc && t + 1 < max_steps && (rc = model_seq_feed(&s, &tok, 1, logits, &err)))
                break;
        }
        CHECK_MSG(rc == 0, "%s", err.msg);
        printf("%s run %zu: %d/%d tokens compared equal (%s, backend %s)\n", golden, ri, t,
               nc < max_steps ? nc : max_steps, why, be->name);
    }
out:
    free(logits);
    model_session_close(&ms);
    json_decref(g);
    return 1;
}

int main(void)
{
    const char *src = getenv("INFERD_SOURCE_DIR"), *models = getenv("INFERD_MODELS");
    const char *home = getenv("HOME");
    char mdir[512], gpath[1024], mpath[1024];
    if (models && *models)
        snprintf(mdir, sizeof mdir, "%s", models);
    else
        snprintf(mdir, sizeof mdir, "%s/.cache/inferd/models", home ? home : ".");
    const char *pairs[][2] = {{"llamacpp-smollm2-greedy.json", "SmolLM2-135M-Instruct.Q4_1.gguf"},
                              {"llamacpp-gemma3-greedy.json", "gemma-3-270m-q4_k_m.gguf"}};
    int found = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(gpath, sizeof gpath, "%s/tests/golden/%s", src && *src ? src : ".", pairs[i][0]);
        snprintf(mpath, sizeof mpath, "%s/%s", mdir, pairs[i][1]);
        found += check_model(gpath, mpath);
    }
    if (!found) check_skip("no llama.cpp goldens or models (bench/peer/make-goldens.py, scripts/setup.sh)");
    return check_done();
}
