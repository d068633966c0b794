/* test_model_stories.c: greedy continuations of stories260K (F32, F16, Q8_0)
 * on the ref backend equal llama.cpp's golden ids, and the chosen tokens'
 * log-probabilities agree (../shared/testdata/golden/stories260K-greedy.json).
 * Skips when the test data is absent. */
#include <math.h>

#include <jansson.h>

#include "check.h"
#include "model/session.h"

#define MAX_CTX 128

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static double logprob(const float *x, int n, int id)
{
    double mx = x[argmax(x, n)], sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    return (double)x[id] - mx - log(sum);
}

/* Runs every golden prompt on one file; lp_tol bounds the chosen tokens'
 * log-probability difference (the derived files were checked by llama.cpp
 * itself only to that precision). */
static void run_file(const char *path, json_t *runs, double lp_tol)
{
    inf_error err = {0};
    model_session ms = {0};
    float *logits = NULL;
    model_options opt = {.max_rows = 32, .max_out = 4};
    int rc = model_session_open(&ms, path, "ref", 0, &opt, &err);
    if (!rc) rc = model_session_kv(&ms, 1, MAX_CTX, 12345, BE_KV_F16, &err);
    CHECK_MSG(rc == 0, "%s: %s", path, err.msg);
    if (rc) goto out;
    int nv = (int)ms.m->hp.n_vocab;
    logits = malloc((size_t)nv * sizeof *logits);

    size_t ri;
    json_t *run;
    json_array_foreach(runs, ri, run) {
        json_t *pids = json_object_get(run, "prompt_ids");
        json_t *cids = json_object_get(run, "completion_ids");
        json_t *steps = json_object_get(run, "top5_logprobs_per_step");
        int np = (int)json_array_size(pids), nc = (int)json_array_size(cids);
        int32_t prompt[64];
        INF_ASSERT(np <= 64);
        for (int i = 0; i < np; i++) prompt[i] = (int32_t)json_integer_value(json_array_get(pids, i));
        model_seq s;
        model_session_seq(&ms, 0, &s);
        s.chunk = 3; /* prompts of 4-5 tokens: exercise chunked prefill too */
        rc = model_seq_feed(&s, prompt, np, logits, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        int matched = 0;
        double worst = 0;
        for (int t = 0; t < nc && rc == 0; t++) {
            int want = (int)json_integer_value(json_array_get(cids, t));
            int got = argmax(logits, nv);
            if (got != want) {
                CHECK_MSG(got == want, "%s \"%s\": step %d: got %d, llama.cpp %d", path,
                          json_string_value(json_object_get(run, "prompt")), t, got, want);
                break;
            }
            matched++;
            json_t *st = json_array_get(steps, t);
            double lp_ref = json_real_value(json_object_get(st, "logprob"));
            double d = fabs(logprob(logits, nv, want) - lp_ref);
            if (d > worst) worst = d;
            int32_t tok = got;
            rc = model_seq_feed(&s, &tok, 1, logits, &err);
        }
        CHECK_EQ_INT(matched, nc);
        CHECK_MSG(worst <= lp_tol, "%s: chosen logprob differs by %g (tolerance %g)", path, worst,
                  lp_tol);
        printf("%s: %d/%d tokens match, max |dlogprob| %.2e\n", path, matched, nc, worst);
    }
out:
    free(logits);
    model_session_close(&ms);
}

int main(void)
{
    char gpath[512], mpath[512];
    if (!check_testdata("golden/stories260K-greedy.json", gpath, sizeof gpath))
        check_skip("../shared/testdata/golden/stories260K-greedy.json is absent");
    json_error_t jerr;
    json_t *g = json_load_file(gpath, 0, &jerr);
    CHECK_MSG(g != NULL, "%s: %s", gpath, jerr.text);
    if (!g) return check_done();
    json_t *runs = json_object_get(g, "runs");
    CHECK(json_array_size(runs) == 2);
    if (check_testdata("models/stories260K.gguf", mpath, sizeof mpath)) run_file(mpath, runs, 5e-3);
    if (check_testdata("models/derived/stories260K-F16.gguf", mpath, sizeof mpath))
        run_file(mpath, runs, 1e-2);
    if (check_testdata("models/derived/stories260K-Q8_0-ffndownF16.gguf", mpath, sizeof mpath))
        run_file(mpath, runs, 0.1);
    json_decref(g);
    return check_done();
}
