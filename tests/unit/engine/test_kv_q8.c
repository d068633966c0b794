/* test_kv_q8.c: what 8-bit KV storage costs in quality, against 16-bit KV.
 *
 * 1. Logits. The same model runs each prompt over four pools (f32, f16, bf16,
 *    q8): the prompt, then DECODE_STEPS tokens teacher-forced from the f16 run
 *    (so all see the same tokens and every decode row reads its past from the
 *    pool). For each logits row, err = max|l_q8 - l_f16| / std(l_f16): the
 *    worst logit error in units of the logits' own spread. Its worst and mean
 *    over rows must stay under the model's tolerances (set in main() from the
 *    measured figures, with f16 and bf16 against f32 as the yardstick), and the
 *    argmax must agree on nearly every row.
 * 2. Greedy text (SmolLM2-135M): N_PROMPTS fixed prompts through the engine,
 *    32 greedy tokens each with f16, q8, bf16 and f32 KV; a prompt matches when
 *    two runs give the same tokens up to 32 (or the same shorter text ending at
 *    the same EOS). The fraction of q8 matching f16 is printed beside bf16's and
 *    f32's and must stay above a floor set just below what was measured.
 *
 * Models: a synthetic "small" model the test writes itself (always; head dim
 * 64, so one q8 group per head row as on the real models), stories260K where
 * ../shared/testdata is present, SmolLM2-135M-Instruct where the model cache
 * is (~/.cache/inferd/models or INFERD_MODELS); each absent one is skipped with
 * a message.
 *
 * Backend: INFERD_TEST_BACKEND, else "cpu" when this build has it, else the
 * default. q8 quantization is a storage contract (backend.h, BE_KV_Q8) that the
 * backend tests check op by op against ref, so the fast backend answers the
 * quality question for both and keeps this test well under a minute; on ref,
 * fewer prompts run. */
#include "check.h"
#include "engine/runtime.h"
#include "model/seq.h"
#include "model/synth.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

enum { DECODE_STEPS = 16, GREEDY_TOKENS = 32, MAXP = 96 };

static const char *const prompts[] = {
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "The three primary colors are",
    "To make a cup of tea, first",
    "Water boils at a temperature of",
    "The quick brown fox",
    "In computer science, a linked list is",
    "My favorite season of the year is",
    "The largest planet in our solar system is",
    "Photosynthesis is the process by which",
    "Here is a short poem about the moon:",
    "The first step in learning a new language is",
    "A healthy breakfast usually includes",
    "The main difference between a cat and a dog is",
    "def fibonacci(n):",
    "The history of the Roman Empire began",
    "When it rains, people often",
    "The best way to learn to program is",
    "An apple a day",
    "The sun rises in the east and",
    "Dear friend, I am writing to tell you",
    "The recipe calls for two cups of flour and",
    "Mount Everest is located in",
    "The internet has changed the way we",
};
enum { N_PROMPTS = sizeof prompts / sizeof prompts[0] };

typedef struct model_case {
    const char *name;
    const char *path;
    /* Tolerances on max|l_q8 - l_f16| / std(l_f16): the worst row and the mean
     * over rows, each about 1.5x what was measured (main() says the figures). */
    double tol_worst, tol_mean;
} model_case;

static int32_t argmax(const float *v, int32_t n)
{
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

static runtime *open_rt(const char *path, const char *backend, be_kv_dtype dt, int32_t max_seqs)
{
    runtime_options o;
    runtime_options_init(&o);
    o.model_path = path;
    o.backend = backend;
    o.n_threads = 2;
    o.ctx_size = MAXP + GREEDY_TOKENS + DECODE_STEPS + 8;
    o.max_num_seqs = max_seqs;
    o.kv_dtype = dt;
    o.kv_cache_bytes = 256ull << 20;
    runtime *rt = NULL;
    inf_error err;
    int rc = runtime_open(&o, &rt, &err);
    CHECK_MSG(rc == INF_OK, "%s (%s): %s", path, runtime_kv_dtype_name(dt), err.msg);
    return rc == INF_OK ? rt : NULL;
}

static int32_t tokenize(const runtime *rt, const char *text, int32_t *ids)
{
    size_t n = 0;
    inf_error err;
    int rc = tok_tokenize_buf(rt->vocab, text, strlen(text), TOK_ADD_SPECIAL, ids, MAXP, &n, &err);
    CHECK_MSG(rc == INF_OK, "tokenize \"%s\": %s", text, err.msg);
    return rc == INF_OK ? (int32_t)n : 0;
}

/* Compares one logits row: returns max|q - f| / std(f) and counts argmax agreement. */
static double row_error(const float *f, const float *q, int32_t V, int *agree)
{
    double mean = 0, var = 0, worst = 0;
    for (int32_t i = 0; i < V; i++) mean += f[i];
    mean /= V;
    for (int32_t i = 0; i < V; i++) {
        var += (f[i] - mean) * (f[i] - mean);
        double d = fabs((double)q[i] - (double)f[i]);
        if (d > worst) worst = d;
    }
    double sd = sqrt(var / V);
    *agree += argmax(f, V) == argmax(q, V);
    return sd > 0 ? worst / sd : worst;
}

/* Part 1 on one model: n_prompts prompts, prompt + DECODE_STEPS teacher-forced
 * rows, over four pools: f32 (the oracle), f16, bf16 and q8. Asserts q8 against
 * f16; prints each 16/8-bit dtype against f32 as the yardstick. */
static void measure_logits(const model_case *mc, const char *backend, int n_prompts)
{
    enum { F32, F16, BF16, Q8, ND };
    static const be_kv_dtype dts[ND] = {BE_KV_F32, BE_KV_F16, BE_KV_BF16, BE_KV_Q8};
    runtime *rt = open_rt(mc->path, backend, BE_KV_F16, 1);
    if (!rt) return;
    model *m = rt->m;
    int32_t V = (int32_t)m->hp.n_vocab, B = 16;
    int32_t nb = (MAXP + DECODE_STEPS + B - 1) / B;
    be_kv *kv[ND] = {NULL};
    float *lg[ND];
    inf_error err;
    bool ok = true;
    for (int d = 0; d < ND; d++) {
        be_kv_config kc;
        model_kv_config(m, nb, B, dts[d], &kc);
        CHECK_EQ_INT(be_kv_create(rt->be, &kc, &kv[d], &err), INF_OK);
        ok = ok && kv[d];
        lg[d] = malloc((size_t)V * sizeof(float));
    }
    int32_t *blocks = malloc((size_t)nb * sizeof *blocks);
    for (int32_t i = 0; i < nb; i++) blocks[i] = nb - 1 - i; /* not contiguous */
    /* err[d]: d against f32 for d in F16..Q8; err[F32] holds q8 against f16. */
    double worst[ND] = {0}, sum[ND] = {0};
    int rows = 0, agree[ND] = {0};
    for (int p = 0; p < n_prompts && ok; p++) {
        int32_t ids[MAXP];
        int32_t n = tokenize(rt, prompts[p], ids);
        if (n == 0) continue;
        model_seq s[ND];
        for (int d = 0; d < ND; d++) {
            model_seq_init(&s[d], m, kv[d], blocks, nb);
            int rc = model_seq_feed(&s[d], ids, n, lg[d], &err);
            CHECK_MSG(rc == INF_OK, "%s prefill: %s", mc->name, err.msg);
        }
        for (int step = 0; step <= DECODE_STEPS; step++) {
            for (int d = 0; d < ND; d++) {
                double e = d == F32 ? row_error(lg[F16], lg[Q8], V, &agree[d])
                                    : row_error(lg[F32], lg[d], V, &agree[d]);
                worst[d] = e > worst[d] ? e : worst[d];
                sum[d] += e;
            }
            rows++;
            if (step == DECODE_STEPS) break;
            int32_t t = argmax(lg[F16], V); /* every pool is fed f16's choice */
            for (int d = 0; d < ND; d++) {
                int rc = model_seq_feed(&s[d], &t, 1, lg[d], &err);
                CHECK_MSG(rc == INF_OK, "%s decode: %s", mc->name, err.msg);
            }
        }
    }
    printf("%s: %d logits rows (%d prompts, prompt + %d teacher-forced decode rows each);\n"
           "    max|d|/std worst, mean, argmax agreement (tolerance %.3f, %.3f):\n", mc->name, rows,
           n_prompts, DECODE_STEPS, mc->tol_worst, mc->tol_mean);
    static const char *names[ND] = {"q8 vs f16", "f16 vs f32", "bf16 vs f32", "q8 vs f32"};
    for (int d = 0; d < ND; d++)
        printf("    %-12s %.4f  %.4f  %d/%d\n", names[d], worst[d], rows ? sum[d] / rows : 0,
               agree[d], rows);
    CHECK(rows > 0);
    CHECK_MSG(worst[F32] <= mc->tol_worst, "%s: worst q8 logit error %.4f std exceeds %.3f",
              mc->name, worst[F32], mc->tol_worst);
    CHECK_MSG(rows && sum[F32] / rows <= mc->tol_mean, "%s: mean q8 logit error %.4f std exceeds "
              "%.3f", mc->name, rows ? sum[F32] / rows : 0, mc->tol_mean);
    /* Near-ties flip (1 to 4 rows in 136 measured, as often as f16 vs f32 on
     * SmolLM2), but q8 must not change the choice on more than 1 row in 10. */
    CHECK_MSG(agree[F32] * 10 >= rows * 9, "%s: argmax agrees on only %d of %d rows", mc->name,
              agree[F32], rows);
    free(blocks);
    for (int d = 0; d < ND; d++) {
        free(lg[d]);
        be_kv_destroy(rt->be, kv[d]);
    }
    runtime_close(rt);
}

/* Greedy continuations of every prompt through the engine, all at once. out
 * gets the tokens ((n_prompts, GREEDY_TOKENS)), n_out their counts. */
static void greedy_run(const char *path, const char *backend, be_kv_dtype dt, int n_prompts,
                       int32_t *out, int32_t *n_out)
{
    runtime *rt = open_rt(path, backend, dt, n_prompts);
    if (!rt) return;
    engine_request *req[N_PROMPTS];
    inf_error err;
    for (int p = 0; p < n_prompts; p++) {
        int32_t ids[MAXP];
        int32_t n = tokenize(rt, prompts[p], ids);
        engine_request_params par;
        memset(&par, 0, sizeof par);
        sampler_params_init(&par.sampling);
        par.sampling.temperature = 0.0f;
        par.max_tokens = GREEDY_TOKENS;
        CHECK_EQ_INT(engine_request_create(ids, n, &par, &req[p], &err), INF_OK);
        CHECK_EQ_INT(engine_submit(rt->eng, req[p], &err), INF_OK);
    }
    int rc = engine_run_until_idle(rt->eng, &err);
    CHECK_MSG(rc == INF_OK, "engine: %s", err.msg);
    for (int p = 0; p < n_prompts; p++) {
        engine_finish f;
        n_out[p] = engine_request_wait(req[p], -1, 0, &f);
        for (int32_t j = 0; j < n_out[p]; j++) out[p * GREEDY_TOKENS + j] = engine_request_token(req[p], j);
        engine_request_release(req[p]);
    }
    runtime_close(rt);
}

/* Prompts whose greedy tokens in run b equal run a's (same tokens up to
 * GREEDY_TOKENS, or the same shorter text ending at the same EOS); prints
 * where each prompt first diverges. */
static int count_same(const char *what, const int32_t *ta, const int32_t *na, const int32_t *tb,
                      const int32_t *nb, int n_prompts)
{
    int match = 0;
    printf("    %s, first divergent token (-: none):", what);
    for (int p = 0; p < n_prompts; p++) {
        const int32_t *x = ta + p * GREEDY_TOKENS, *y = tb + p * GREEDY_TOKENS;
        int32_t j = 0, len = na[p] < nb[p] ? na[p] : nb[p];
        while (j < len && x[j] == y[j]) j++;
        bool same = j == len && na[p] == nb[p] && len > 0;
        match += same;
        if (same) printf(" -");
        else printf(" %d", j);
    }
    printf("\n");
    return match;
}

/* Part 2: returns the number of prompts whose q8 text matches f16's. bf16 and
 * f32 against f16 are printed beside it: how often a storage change that is
 * not 8-bit already tips a near-tie of this model on this backend. */
static int greedy_match(const model_case *mc, const char *backend, int n_prompts)
{
    static int32_t tok[4][N_PROMPTS * GREEDY_TOKENS];
    static const be_kv_dtype dts[4] = {BE_KV_F16, BE_KV_Q8, BE_KV_BF16, BE_KV_F32};
    int32_t n[4][N_PROMPTS];
    memset(n, 0, sizeof n);
    for (int d = 0; d < 4; d++) greedy_run(mc->path, backend, dts[d], n_prompts, tok[d], n[d]);
    printf("%s greedy, %d tokens:\n", mc->name, GREEDY_TOKENS);
    int match = count_same("q8 vs f16  ", tok[0], n[0], tok[1], n[1], n_prompts);
    int m_bf16 = count_same("bf16 vs f16", tok[0], n[0], tok[2], n[2], n_prompts);
    int m_f32 = count_same("f32 vs f16 ", tok[0], n[0], tok[3], n[3], n_prompts);
    printf("%s: greedy text equal to f16's for %d of %d prompts with q8 (%.0f%%); "
           "bf16 %d (%.0f%%), f32 %d (%.0f%%)\n", mc->name, match, n_prompts,
           100.0 * match / n_prompts, m_bf16, 100.0 * m_bf16 / n_prompts, m_f32,
           100.0 * m_f32 / n_prompts);
    return match;
}

static const char *pick_backend(void)
{
    const char *env = getenv("INFERD_TEST_BACKEND");
    if (env && *env) return env;
    be_backend *be = NULL;
    inf_error err;
    if (be_create("cpu", 1, &be, &err) == INF_OK) {
        be_destroy(be);
        return "cpu";
    }
    return NULL;
}

int main(void)
{
    const char *backend = pick_backend();
    bool slow = !backend || !strcmp(backend, "ref");
    printf("backend: %s\n", backend ? backend : be_default_name());

    char synth_path[] = "/tmp/inferd-test-kvq8-XXXXXX";
    int fd = mkstemp(synth_path);
    CHECK(fd >= 0);
    close(fd);
    synth_config sc;
    inf_error err;
    CHECK_EQ_INT(synth_preset("small", ARCH_UNKNOWN, &sc, &err), INF_OK);
    sc.seed = 5;
    int rc = synth_write(&sc, synth_path, 2, NULL, &err);
    CHECK_MSG(rc == INF_OK, "synth: %s", err.msg);
    if (rc == INF_OK) {
        /* Measured (cpu and ref alike): worst 0.071, mean 0.046; bf16 vs f32 0.021 /
         * 0.013, f16 vs f32 0.002: with F32 weights the error is q8's own. */
        model_case mc = {"synth-small", synth_path, 0.11, 0.07};
        measure_logits(&mc, backend, slow ? 4 : 8);
    }
    unlink(synth_path);

    char buf[1024];
    const char *stories = check_testdata("models/stories260K.gguf", buf, sizeof buf);
    if (stories) {
        /* Measured: worst 0.154, mean 0.043 (bf16 vs f32: 0.018 / 0.007). */
        model_case mc = {"stories260K", stories, 0.23, 0.065};
        measure_logits(&mc, backend, 8);
    } else {
        printf("stories260K: skipped (../shared/testdata absent)\n");
    }

    const char *models = getenv("INFERD_MODELS"), *home = getenv("HOME");
    char smol[1024];
    if (models && *models) snprintf(smol, sizeof smol, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", models);
    else snprintf(smol, sizeof smol, "%s/.cache/inferd/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                  home ? home : ".");
    if (access(smol, R_OK) == 0) {
        /* Measured on cpu: worst 0.44, mean 0.24, but f16 vs f32 is as large
         * (0.65 / 0.21) and so is bf16 vs f32 (0.55 / 0.22): with Q4_1 weights
         * the backend quantizes each matmul's activations to 8 bits, so any
         * change of storage flips some roundings, and that noise floor, not
         * q8's own error, sets the figure. On ref: 0.27 / 0.10. */
        model_case mc = {"SmolLM2-135M", smol, 0.66, 0.36};
        measure_logits(&mc, backend, slow ? 2 : 8);
        int n = slow ? 6 : N_PROMPTS;
        int match = greedy_match(&mc, backend, n);
        /* Measured on cpu: 5 of 24 (21%) keep all 32 tokens, against 9 (38%) for
         * bf16 and for f32: most prompts of this small model have a near-tie
         * within 32 tokens that any storage change can tip. The floor sits one
         * prompt in six, just under what was measured. */
        CHECK_MSG(match * 6 >= n, "only %d of %d prompts keep f16's greedy text", match, n);
    } else {
        printf("SmolLM2-135M: skipped (%s absent; scripts/setup.sh fetches it)\n", smol);
    }
    return check_done();
}
