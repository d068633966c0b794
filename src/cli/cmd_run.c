/* cmd_run.c: `inferd run` — generate text from one prompt on the command line.
 *
 * Opens the model on a backend, tokenizes the prompt (optionally through the
 * model's chat template), prefills it, then samples and streams tokens until
 * -n tokens, end of generation or the context is full; prints the counts and
 * rates at the end (or one JSON object with --json). One sequence, a fixed
 * block table (model_kvslots) until the engine drives runs. docs/run.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "engine/sampler.h"
#include "gguf/gguf.h"
#include "model/session.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

typedef struct run_opts {
    const char *model;
    const char *prompt;
    const char *chat_template;
    const char *backend;
    int n_predict;
    int threads;
    int ctx;
    int batch;
    bool chat, ignore_eos, json;
    be_kv_dtype kv_dtype;
    sampler_params sp;
} run_opts;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd run -m FILE -p PROMPT [options]\n"
            "  -m, --model FILE       GGUF model\n"
            "  -p, --prompt TEXT      prompt\n"
            "  -n, --n-predict N      tokens to generate (default 128)\n"
            "  --chat                 wrap the prompt in the model's chat template\n"
            "  --chat-template FILE   with --chat: this Jinja template instead of the model's\n"
            "  --temp T               temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K              (default 40; 0 = off)\n"
            "  --top-p P              (default 0.95; 1 = off)\n"
            "  --min-p P              (default 0.05; 0 = off)\n"
            "  --repeat-penalty R     repetition penalty (default 1 = off)\n"
            "  --presence-penalty P   --frequency-penalty F (default 0)\n"
            "  --seed S               sampling seed (default: from the clock)\n"
            "  --ignore-eos           keep generating past end of generation\n"
            "  --json                 print one JSON object instead of streamed text\n"
            "  --threads N            worker threads (default: one per core)\n"
            "  --backend NAME         ref | cpu | cuda | auto (default %s; --device too)\n"
            "  --ctx N                context length (default: prompt + n, within the model's)\n"
            "  --batch N              most prompt tokens per forward step (default 512)\n"
            "  --kv-type T            f16 | bf16 | q8 | f32 (default f16)\n",
            be_default_name());
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

/* Returns 0, -1 after --help, or 2 (usage error, message printed). */
static int parse_args(int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->batch = 512;
    o->kv_dtype = BE_KV_F16;
    sampler_params_init(&o->sp);
    o->sp.temperature = 0.8f;
    o->sp.top_k = 40;
    o->sp.top_p = 0.95f;
    o->sp.min_p = 0.05f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, took = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--chat")) {
            o->chat = true;
            took = 0;
        } else if (!strcmp(a, "--chat-template") && v) {
            o->chat_template = v;
        } else if (!strcmp(a, "--ignore-eos")) {
            o->ignore_eos = true;
            took = 0;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
            took = 0;
        } else if (!v) {
            fprintf(stderr, "inferd run: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            o->model = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            o->prompt = v;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            bad = parse_int(v, 0, 1 << 24, &o->n_predict);
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            bad = parse_int(v, 1, 4096, &o->threads);
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            bad = parse_int(v, 1, 1 << 24, &o->ctx);
        } else if (!strcmp(a, "--batch") || !strcmp(a, "-b")) {
            bad = parse_int(v, 1, 1 << 16, &o->batch);
        } else if (!strcmp(a, "--backend") || !strcmp(a, "--device")) {
            o->backend = v;
        } else if (!strcmp(a, "--temp")) {
            bad = parse_float(v, &o->sp.temperature);
        } else if (!strcmp(a, "--top-k")) {
            bad = parse_int(v, 0, 1 << 24, &o->sp.top_k);
        } else if (!strcmp(a, "--top-p")) {
            bad = parse_float(v, &o->sp.top_p);
        } else if (!strcmp(a, "--min-p")) {
            bad = parse_float(v, &o->sp.min_p);
        } else if (!strcmp(a, "--repeat-penalty")) {
            bad = parse_float(v, &o->sp.repetition_penalty);
        } else if (!strcmp(a, "--presence-penalty")) {
            bad = parse_float(v, &o->sp.presence_penalty);
        } else if (!strcmp(a, "--frequency-penalty")) {
            bad = parse_float(v, &o->sp.frequency_penalty);
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o->sp.seed = strtoull(v, &end, 10);
            o->sp.has_seed = true;
            bad = errno || end == v || *end;
        } else if (!strcmp(a, "--kv-type")) {
            if (!strcmp(v, "f16")) o->kv_dtype = BE_KV_F16;
            else if (!strcmp(v, "bf16")) o->kv_dtype = BE_KV_BF16;
            else if (!strcmp(v, "q8")) o->kv_dtype = BE_KV_Q8;
            else if (!strcmp(v, "f32")) o->kv_dtype = BE_KV_F32;
            else bad = 1;
        } else {
            fprintf(stderr, "inferd run: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "inferd run: bad value '%s' for %s\n", v, a);
            return 2;
        }
        i += took;
    }
    if (!o->model || !o->prompt) {
        fprintf(stderr, "inferd run: -m FILE and -p PROMPT are required\n\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The chat-formatted prompt, malloc'd. */
static int render_chat(const gguf_file *f, const tok_vocab *v, const char *prompt,
                       const char *template_file, char **out, inf_error *err)
{
    gguf_str src;
    tmpl_template *t = NULL;
    json_t *msgs = NULL;
    char bos[64] = "", eos[64] = "";
    int rc = template_file ? INF_OK : gguf_get_str(f, "tokenizer.chat_template", &src, err);
    if (rc == INF_ERR_NOT_FOUND)
        return inf_errorf(err, INF_ERR_NOT_FOUND, "--chat: the model has no chat template "
                          "(tokenizer.chat_template)");
    if (rc) return rc;
    const tok_special which[2] = {TOK_SPECIAL_BOS, TOK_SPECIAL_EOS};
    char *dst[2] = {bos, eos};
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        tok_id id = tok_vocab_special(v, which[i]);
        const char *s = id != TOK_NULL ? tok_token_text(v, id, &len) : NULL;
        if (s && len < 64) memcpy(dst[i], s, len), dst[i][len] = 0;
    }
    rc = template_file ? tmpl_compile_file(template_file, &t, err)
                       : tmpl_compile(src.ptr, src.len, &t, err);
    if (rc) {
        inf_error_prefix(err, "--chat: the chat template cannot be used (--chat-template FILE "
                         "supplies another)");
        goto out;
    }
    msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", prompt);
    if (!msgs) {
        rc = inf_errorf(err, INF_ERR_INVALID, "--chat: the prompt is not valid UTF-8");
        goto out;
    }
    tmpl_chat_opts co = {.add_generation_prompt = true, .bos_token = bos, .eos_token = eos};
    rc = tmpl_chat_render(t, msgs, &co, out, NULL, err);
out:
    json_decref(msgs);
    tmpl_free(t);
    return rc;
}

static int tokenize_prompt(const gguf_file *f, const tok_vocab *v, const run_opts *o,
                           tok_ids *ids, inf_error *err)
{
    if (!o->chat)
        return tok_tokenize(v, o->prompt, strlen(o->prompt), TOK_ADD_SPECIAL, ids, err);
    char *text = NULL;
    int rc = render_chat(f, v, o->prompt, o->chat_template, &text, err);
    if (rc) return rc;
    /* The template writes its own special tokens, often BOS too: parse them,
     * and let the vocabulary add BOS only when the text does not start with it. */
    unsigned flags = TOK_PARSE_SPECIAL;
    tok_id bos = tok_vocab_special(v, TOK_SPECIAL_BOS);
    size_t bl = 0;
    const char *bt = bos != TOK_NULL ? tok_token_text(v, bos, &bl) : NULL;
    if (!bt || bl == 0 || strncmp(text, bt, bl) != 0) flags |= TOK_ADD_SPECIAL;
    rc = tok_tokenize(v, text, strlen(text), flags, ids, err);
    free(text);
    return rc;
}

/* Text of the streamed tokens, kept for --json. */
typedef struct text_buf {
    char *p;
    size_t n, cap;
} text_buf;

static int text_append(text_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return INF_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return INF_OK;
}

static void emit(const run_opts *o, text_buf *tb, const char *s, size_t n)
{
    if (!n) return;
    if (o->json) {
        text_append(tb, s, n);
    } else {
        fwrite(s, 1, n, stdout);
        fflush(stdout);
    }
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    inf_error err = {0};
    model_session ms = {0};
    tok_vocab *voc = NULL;
    sampler *smp = NULL;
    sampler_seq sq = {0};
    tok_detok *dt = NULL;
    tok_ids prompt = {0};
    float *logits = NULL;
    int32_t *gen = NULL;
    text_buf tb = {0};
    int n_gen = 0;
    const char *stop = "length";
    double t_prompt = 0, t_decode = 0;

    model_options mo = {.max_rows = o.batch, .max_out = 1};
    if ((rc = model_session_open(&ms, o.model, o.backend, o.threads, &mo, &err)) ||
        (rc = tok_vocab_load(ms.file, &voc, &err)))
        goto out;
    const model *m = ms.m;
    const be_backend *be = ms.be;
    if ((rc = tokenize_prompt(ms.file, voc, &o, &prompt, &err))) goto out;
    if (prompt.n == 0) {
        rc = inf_errorf(&err, INF_ERR_INVALID, "the prompt has no tokens");
        goto out;
    }
    int ctx = o.ctx > 0 ? o.ctx : (int)prompt.n + o.n_predict;
    if (o.ctx <= 0 && m->hp.n_ctx_train > 0 && ctx > (int)m->hp.n_ctx_train)
        ctx = (int)m->hp.n_ctx_train;
    if ((int)prompt.n >= ctx + (o.n_predict == 0)) {
        rc = inf_errorf(&err, INF_ERR_RANGE, "the prompt has %zu tokens; the context holds %d",
                        prompt.n, ctx);
        goto out;
    }
    if ((rc = model_session_kv(&ms, 1, ctx, 0, o.kv_dtype, &err))) goto out;

    /* Sampler: end-of-generation tokens stop unless --ignore-eos. */
    int32_t nv = (int32_t)m->hp.n_vocab;
    int32_t *stops = NULL, n_stops = 0;
    if (!o.ignore_eos) {
        stops = malloc((size_t)nv * sizeof *stops);
        if (!stops) {
            rc = inf_errorf(&err, INF_ERR_NOMEM, "stop list");
            goto out;
        }
        for (int32_t id = 0; id < nv && id < tok_vocab_size(voc); id++)
            if (tok_is_eog(voc, id)) stops[n_stops++] = id;
    }
    o.sp.stop_ids = stops;
    o.sp.n_stop_ids = n_stops;
    rc = sampler_params_validate(&o.sp, nv, &err);
    if (!rc) rc = sampler_seq_init(&sq, &o.sp, prompt.ids, (int32_t)prompt.n, o.n_predict, &err);
    free(stops);
    if (rc || (rc = sampler_create(nv, &smp, &err))) goto out;
    if ((rc = tok_detok_create(voc, TOK_DETOK_SKIP_SPECIAL, &dt, &err))) goto out;
    logits = malloc((size_t)nv * sizeof *logits);
    gen = malloc((size_t)(o.n_predict > 0 ? o.n_predict : 1) * sizeof *gen);
    if (!logits || !gen) {
        rc = inf_errorf(&err, INF_ERR_NOMEM, "logits of %d", nv);
        goto out;
    }

    model_seq s;
    model_session_seq(&ms, 0, &s);
    double t0 = inf_clock_s();
    if ((rc = model_seq_feed(&s, prompt.ids, (int32_t)prompt.n, logits, &err))) goto out;
    t_prompt = inf_clock_s() - t0;
    t0 = inf_clock_s();
    while (n_gen < o.n_predict) {
        sampler_result r;
        sampler_sample(smp, &sq, logits, &r);
        if (r.stop) {
            stop = "eos";
            break;
        }
        gen[n_gen++] = r.token;
        const char *piece;
        size_t len;
        if ((rc = tok_detok_feed(dt, r.token, &piece, &len, &err))) goto out;
        emit(&o, &tb, piece, len);
        if ((rc = sampler_seq_accept(&sq, r.token, &err))) goto out;
        if (n_gen == o.n_predict) break;
        if (s.len >= s.max_ctx || s.len >= ctx) {
            stop = "context";
            break;
        }
        if ((rc = model_seq_feed(&s, &r.token, 1, logits, &err))) goto out;
    }
    t_decode = inf_clock_s() - t0;
    const char *tail;
    size_t tail_len;
    tok_detok_flush(dt, &tail, &tail_len);
    emit(&o, &tb, tail, tail_len);

    /* Decode steps are the forwards after the prompt: one per generated token
     * but the last (which is sampled from the previous step's logits). */
    double prompt_tps = t_prompt > 0 ? (double)prompt.n / t_prompt : 0;
    int n_steps = n_gen > 1 ? n_gen - 1 : 0;
    double decode_tps = n_steps > 0 && t_decode > 0 ? n_steps / t_decode : 0;
    if (o.json) {
        json_t *pj = json_array(), *gj = json_array();
        for (size_t i = 0; i < prompt.n; i++) json_array_append_new(pj, json_integer(prompt.ids[i]));
        for (int i = 0; i < n_gen; i++) json_array_append_new(gj, json_integer(gen[i]));
        json_t *obj = json_pack("{s:o, s:o, s:s, s:f, s:f, s:s, s:s}", "prompt_ids", pj, "ids", gj,
                                "text", tb.p ? tb.p : "", "prompt_tok_s", prompt_tps,
                                "decode_tok_s", decode_tps, "stop", stop, "backend", be->name);
        char *js = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        if (js) printf("%s\n", js);
        free(js);
        json_decref(obj);
    } else {
        printf("\n");
        fprintf(stderr,
                "\nprompt: %zu tokens in %.3f s (%.2f tok/s)\n"
                "generated: %d tokens in %.3f s (%.2f tok/s decode), stop: %s, backend: %s\n",
                prompt.n, t_prompt, prompt_tps, n_gen, t_decode, decode_tps, stop, be->name);
    }
out:
    if (rc) fprintf(stderr, "inferd run: %s\n", err.msg);
    free(tb.p);
    free(gen);
    free(logits);
    tok_detok_free(dt);
    tok_ids_free(&prompt);
    sampler_seq_free(&sq);
    sampler_free(smp);
    tok_vocab_free(voc);
    model_session_close(&ms);
    return rc ? 1 : 0;
}
