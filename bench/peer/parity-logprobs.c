/* parity-logprobs: teacher-forced comparison of inferd log-probabilities with a
 * llama.cpp golden (tests/golden/llamacpp-*-greedy.json layout, or the output of
 * bench/peer/teacher-forced.py). Feeds each run's prompt, then the run's own
 * completion ids (not inferd's argmax), and at each step compares inferd's full-
 * softmax logprob of every id in the golden top-5. See docs/llamacpp-parity.md.
 * build (after cmake --build build/gap):
 *   L=build/gap/src; cc -O2 -D_GNU_SOURCE -std=c17 -Isrc bench/peer/parity-logprobs.c \
 *     -o parity $L/model/libinferd_model.a $L/backend/libinferd_backend.a \
 *     $L/gguf/libinferd_gguf.a $L/quant/libinferd_quant.a $L/core/libinferd_core.a -lm -ljansson -lpthread
 * usage: parity GOLDEN.json MODEL.gguf ref|cpu f16|f32 [MAX_STEPS [VERBOSE_STEPS]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "model/session.h"

int main(int argc, char **argv)
{
    const char *golden = argv[1], *model_path = argv[2], *backend = argv[3];
    int kvf32 = argc > 4 && !strcmp(argv[4], "f32");
    int max_steps = argc > 5 ? atoi(argv[5]) : 1000;
    int verbose = argc > 6 ? atoi(argv[6]) : 0;
    json_error_t jerr;
    json_t *g = json_load_file(golden, 0, &jerr);
    inf_error err = {0};
    model_session ms = {0};
    model_options opt = {.max_rows = 128, .max_out = 1};
    int rc = model_session_open(&ms, model_path, backend, 0, &opt, &err);
    if (!rc) rc = model_session_kv(&ms, 1, 512, 0, kvf32 ? BE_KV_F32 : BE_KV_F16, &err);
    if (rc) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int nv = (int)ms.m->hp.n_vocab;
    float *logits = malloc((size_t)nv * sizeof *logits);
    double *lp = malloc((size_t)nv * sizeof *lp);
    size_t ri; json_t *run;
    double tot_abs = 0, tot_signed = 0; long tot_n = 0;
    double tot_rel = 0; long tot_reln = 0; double tot_ratio = 0; long tot_ration = 0;
    int argmax_mismatch = 0, nsteps_all = 0;
    json_array_foreach(json_object_get(g, "runs"), ri, run) {
        json_t *pids = json_object_get(run, "prompt_ids"), *cids = json_object_get(run, "completion_ids");
        json_t *steps = json_object_get(run, "top5_logprobs_per_step");
        int np = (int)json_array_size(pids), nc = (int)json_array_size(cids);
        int32_t *prompt = malloc((size_t)np * sizeof *prompt);
        for (int i = 0; i < np; i++) prompt[i] = (int32_t)json_integer_value(json_array_get(pids, i));
        model_seq s; model_session_seq(&ms, 0, &s);
        rc = model_seq_feed(&s, prompt, np, logits, &err);
        free(prompt);
        if (rc) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double r_abs = 0; long r_n = 0;
        for (int t = 0; t < nc && t < max_steps; t++) {
            double mx = -1e30; int am = 0;
            for (int i = 0; i < nv; i++) if (logits[i] > mx) { mx = logits[i]; am = i; }
            double sum = 0;
            for (int i = 0; i < nv; i++) sum += exp(logits[i] - mx);
            double lse = mx + log(sum);
            for (int i = 0; i < nv; i++) lp[i] = logits[i] - lse;
            json_t *st = json_array_get(steps, t);
            json_t *top = json_object_get(st, "top5");
            if (json_array_size(top) == 5) {
                nsteps_all++;
                int want = (int)json_integer_value(json_array_get(json_array_get(top, 0), 0));
                if (am != want) argmax_mismatch++;
                double l0g = json_number_value(json_array_get(json_array_get(top, 0), 1));
                double l0i = lp[want];
                for (int k = 0; k < 5; k++) {
                    int id = (int)json_integer_value(json_array_get(json_array_get(top, k), 0));
                    double l = json_number_value(json_array_get(json_array_get(top, k), 1));
                    double d = lp[id] - l;
                    tot_abs += fabs(d); tot_signed += d; tot_n++; r_abs += fabs(d); r_n++;
                    if (k > 0) {
                        double dg = l0g - l, di = l0i - lp[id];
                        tot_rel += fabs(dg - di); tot_reln++;
                        if (dg > 0.5) { tot_ratio += di / dg; tot_ration++; }
                    }
                    if (verbose && t < verbose)
                        printf("  run %zu step %d k%d id %6d llama %9.5f inferd %9.5f d %+8.5f\n", ri, t, k, id, l, lp[id], d);
                }
            }
            if (t + 1 < nc && t + 1 < max_steps) {
                int32_t tok = (int32_t)json_integer_value(json_array_get(cids, t));
                if ((rc = model_seq_feed(&s, &tok, 1, logits, &err))) { fprintf(stderr, "%s\n", err.msg); return 1; }
            }
        }
        printf("run %zu: np %d mean|d| %.4f over %ld\n", ri, np, r_n ? r_abs / r_n : 0, r_n);
    }
    printf("ALL backend %s kv %s: mean|d| %.4f signed %.4f, mean|d(gap top1-k)| %.4f, mean gap ratio inferd/llama %.4f (n %ld), argmax mismatches %d/%d\n",
           backend, kvf32 ? "f32" : "f16", tot_abs / tot_n, tot_signed / tot_n, tot_rel / tot_reln,
           tot_ration ? tot_ratio / tot_ration : 0, tot_ration, argmax_mismatch, nsteps_all);
    return 0;
}
