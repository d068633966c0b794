/* test_model_batch.c: on tiny synthetic models of every architecture (made
 * here with synth), in F32 and Q8_0 weights, on the ref backend:
 *   - several sequences at different positions in one batch (rows interleaved,
 *     prefill chunks beside decode rows) give the logits of each sequence run
 *     alone one token at a time (within 1e-5);
 *   - chunked prefill equals whole prefill;
 *   - a rollback followed by new tokens equals a fresh sequence;
 *   - a bad batch (token, position, block id) is refused with a message.
 * Block tables are shuffled and blocks are 4 tokens, so attention must read
 * through the tables across block edges. */
#include <math.h>
#include <stdio.h>

#include "backend/ref/ref.h"
#include "check.h"
#include "model/kvslots.h"
#include "model/model.h"
#include "model/seq.h"
#include "model/synth.h"
#include "quant/quant.h"

/* The backend under test: argv[1] of main, default ref (the cpu backend's
 * ctest entry passes "cpu"). */
static const char *backend_name = "ref";

#define B 4
#define MAX_CTX 32
#define N_SLOTS 5
#define N_SEQ 3

static const int seq_len[N_SEQ] = {9, 14, 6};

typedef struct fixture {
    gguf_file *f;
    be_backend *be;
    model *m;
    be_kv *kv;
    model_kvslots ks;
    int nv;
} fixture;

static int setup(fixture *fx, arch_id arch, uint32_t type, const char *path)
{
    inf_error err = {0};
    synth_config c;
    memset(fx, 0, sizeof *fx);
    int rc = synth_preset("tiny", arch, &c, &err);
    /* A short window so that gemma3's local layers hide part of a 14-token context. */
    if (!rc && arch == ARCH_GEMMA3) rc = synth_set_dims(&c, "swa=5", &err);
    c.type = type;
    c.seed = 11;
    if (!rc) rc = synth_write(&c, path, 1, NULL, &err);
    if (!rc) rc = gguf_open(path, &fx->f, &err);
    if (!rc) rc = be_create(backend_name, 2, &fx->be, &err);
    model_options opt = {.max_rows = 32, .max_out = 32};
    if (!rc) rc = model_load(fx->f, fx->be, &opt, &fx->m, &err);
    if (!rc) rc = model_kvslots_init(&fx->ks, N_SLOTS, MAX_CTX, B, 99, &err);
    if (!rc) {
        be_kv_config kc;
        model_kv_config(fx->m, model_kvslots_pool_blocks(&fx->ks), B, BE_KV_F16, &kc);
        rc = be_kv_create(fx->be, &kc, &fx->kv, &err);
    }
    CHECK_MSG(rc == 0, "%s %s: %s", arch_name(arch), quant_type_name(type), err.msg);
    if (!rc) fx->nv = (int)fx->m->hp.n_vocab;
    return rc;
}

static void teardown(fixture *fx)
{
    if (fx->be) be_kv_destroy(fx->be, fx->kv);
    model_kvslots_free(&fx->ks);
    model_free(fx->m);
    be_destroy(fx->be);
    gguf_close(fx->f);
}

static double max_rel_diff(const float *a, const float *b, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (d > worst || isnan(d)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static void run_batched(fixture *fx, int32_t tok[N_SEQ][MAX_CTX], float *ref, const char *what)
{
    /* Three steps; `upto` is each sequence's length after the step. */
    static const int upto[3][N_SEQ] = {{4, 6, 2}, {5, 10, 6}, {9, 14, 6}};
    int done[N_SEQ] = {0, 0, 0};
    int nv = fx->nv;
    float *logits = malloc((size_t)32 * nv * sizeof *logits);
    double worst = 0;
    for (int step = 0; step < 3; step++) {
        int32_t token[32], pos[32], seq[32], out[32];
        int n = 0, active[N_SEQ], n_seq = 0;
        model_batch_seq seqs[N_SEQ];
        /* Interleave: one row of each unfinished sequence in turn. */
        int next[N_SEQ];
        for (int s = 0; s < N_SEQ; s++) {
            next[s] = done[s];
            active[s] = -1;
            if (upto[step][s] > done[s]) {
                active[s] = n_seq;
                seqs[n_seq] = (model_batch_seq){model_kvslots_table(&fx->ks, s),
                                                fx->ks.blocks_per_slot, upto[step][s]};
                n_seq++;
            }
        }
        for (bool more = true; more;) {
            more = false;
            for (int s = 0; s < N_SEQ; s++) {
                if (next[s] >= upto[step][s]) continue;
                token[n] = tok[s][next[s]];
                pos[n] = next[s];
                seq[n] = active[s];
                out[n] = n;
                n++;
                next[s]++;
                more = true;
            }
        }
        model_batch b = {n, token, pos, seq, n_seq, seqs, n, out};
        inf_error err = {0};
        int rc = model_forward(fx->m, fx->kv, &b, logits, &err);
        CHECK_MSG(rc == 0, "%s step %d: %s", what, step, err.msg);
        if (rc) break;
        for (int r = 0; r < n; r++) {
            int s = 0;
            while (active[s] != seq[r]) s++;
            double d = max_rel_diff(logits + (size_t)r * nv,
                                    ref + ((size_t)s * MAX_CTX + pos[r]) * nv, nv);
            if (d > worst) worst = d;
        }
        for (int s = 0; s < N_SEQ; s++) done[s] = upto[step][s];
    }
    CHECK_MSG(worst <= 1e-5, "%s: batched vs alone differ by %g", what, worst);
    printf("%s: batched vs one-at-a-time max rel diff %.2e\n", what, worst);
    free(logits);
}

static void test_arch(arch_id arch, uint32_t type)
{
    char what[64], path[128];
    snprintf(what, sizeof what, "%s/%s", arch_name(arch), quant_type_name(type));
    snprintf(path, sizeof path, "tiny-%s-%s.gguf", arch_name(arch), quant_type_name(type));
    fixture fx;
    if (setup(&fx, arch, type, path)) {
        teardown(&fx);
        return;
    }
    int nv = fx.nv;
    inf_error err = {0};
    int32_t tok[N_SEQ][MAX_CTX];
    uint32_t st = 1234;
    for (int s = 0; s < N_SEQ; s++)
        for (int t = 0; t < MAX_CTX; t++) {
            st = st * 1103515245u + 12345u;
            tok[s][t] = (int32_t)((st >> 8) % (uint32_t)nv);
        }
    /* Reference: each sequence alone, one token per step, logits of every position. */
    float *ref = malloc((size_t)N_SEQ * MAX_CTX * nv * sizeof *ref);
    for (int s = 0; s < N_SEQ; s++) {
        model_seq q;
        model_seq_init(&q, fx.m, fx.kv, model_kvslots_table(&fx.ks, s), fx.ks.blocks_per_slot);
        for (int t = 0; t < seq_len[s]; t++)
            CHECK(model_seq_feed(&q, &tok[s][t], 1, ref + ((size_t)s * MAX_CTX + t) * nv, &err) == 0);
    }
    run_batched(&fx, tok, ref, what);

    /* Whole prefill vs chunks of 5: last-token logits. */
    float *a = malloc((size_t)nv * sizeof *a), *b = malloc((size_t)nv * sizeof *b);
    model_seq q;
    model_seq_init(&q, fx.m, fx.kv, model_kvslots_table(&fx.ks, 3), fx.ks.blocks_per_slot);
    CHECK(model_seq_feed(&q, tok[1], 14, a, &err) == 0);
    model_seq_init(&q, fx.m, fx.kv, model_kvslots_table(&fx.ks, 4), fx.ks.blocks_per_slot);
    q.chunk = 5;
    CHECK(model_seq_feed(&q, tok[1], 14, b, &err) == 0);
    double d = max_rel_diff(a, b, nv);
    CHECK_MSG(d <= 1e-5, "%s: chunked vs whole prefill differ by %g", what, d);
    CHECK(max_rel_diff(a, ref + ((size_t)1 * MAX_CTX + 13) * nv, nv) <= 1e-5);

    /* Rollback: 14 tokens of seq 1, drop 4, feed seq 0's first 4: equals a
     * fresh sequence of tok[1][0..10) + tok[0][0..4). */
    CHECK(model_seq_feed(&q, tok[0], 1, NULL, &err) == 0); /* len 15 */
    model_seq_rollback(&q, 5);
    CHECK(model_seq_feed(&q, tok[0], 4, a, &err) == 0);
    int32_t fresh[14];
    memcpy(fresh, tok[1], 10 * sizeof(int32_t));
    memcpy(fresh + 10, tok[0], 4 * sizeof(int32_t));
    model_seq_init(&q, fx.m, fx.kv, model_kvslots_table(&fx.ks, 3), fx.ks.blocks_per_slot);
    CHECK(model_seq_feed(&q, fresh, 14, b, &err) == 0);
    d = max_rel_diff(a, b, nv);
    CHECK_MSG(d <= 1e-5, "%s: rollback differs from a fresh sequence by %g", what, d);

    /* Bad batches are refused, naming the problem. */
    int32_t bad_tok = nv, p0 = 0, s0 = 0, o0 = 0, bad_block = 1 << 20;
    model_batch_seq bs = {model_kvslots_table(&fx.ks, 0), fx.ks.blocks_per_slot, 1};
    model_batch bb = {1, &bad_tok, &p0, &s0, 1, &bs, 1, &o0};
    CHECK(model_forward(fx.m, fx.kv, &bb, a, &err) == INF_ERR_RANGE && strstr(err.msg, "token"));
    bad_tok = 0;
    int32_t p5 = 5;
    bb.pos = &p5;
    CHECK(model_forward(fx.m, fx.kv, &bb, a, &err) == INF_ERR_RANGE && strstr(err.msg, "position"));
    bb.pos = &p0;
    bs.blocks = &bad_block;
    bs.n_blocks = 1;
    CHECK(model_forward(fx.m, fx.kv, &bb, a, &err) == INF_ERR_RANGE && strstr(err.msg, "block"));
    bs.blocks = model_kvslots_table(&fx.ks, 0);
    bs.n_blocks = fx.ks.blocks_per_slot;
    bb.n_out = 0;
    CHECK(model_forward(fx.m, fx.kv, &bb, NULL, &err) == 0);

    free(a);
    free(b);
    free(ref);
    teardown(&fx);
    remove(path);
}

int main(int argc, char **argv)
{
    if (argc > 1) backend_name = argv[1];
    const arch_id archs[] = {ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3, ARCH_GEMMA3};
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        test_arch(archs[i], QT_F32);
        test_arch(archs[i], QT_Q8_0);
    }
    return check_done();
}
