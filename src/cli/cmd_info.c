/* cmd_info.c: `inferd info FILE [--json]`: describe a GGUF file.
 *
 * The facts are gathered once into a JSON document (jansson), which --json
 * prints as it is and the text view renders: architecture, parameter count,
 * hyper-parameters (model/hparams.h), metadata, tensor table, mix of formats,
 * tokenizer summary, chat template presence, and memory for weights and the KV
 * cache. A file whose hyper-parameters cannot be read (vocabulary-only files,
 * unknown architectures) is still described; the reason is reported. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/utf8.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "quant/quant.h"

/* Arrays longer than this are summarized (type and count) in the metadata. */
#define INFO_ARRAY_INLINE 64

/* A JSON string from bytes that may not be UTF-8: bad bytes become U+FFFD. */
static json_t *jstr(const char *s, size_t n)
{
    if (utf8_validate(s, n, NULL)) return json_stringn(s, n);
    char *buf = malloc(3 * n + 1);
    if (!buf) return json_null();
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_decode(s + i, n - i, NULL);
        if (len) {
            memcpy(buf + o, s + i, len);
            o += len;
            i += len;
        } else {
            o += utf8_encode(UTF8_REPLACEMENT, buf + o);
            i += utf8_bad_len(s + i, n - i);
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *jnum_f(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jnum_u(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static json_t *value_json(const gguf_value *v);

static json_t *array_json(const gguf_value *v)
{
    const uint64_t n = v->v.arr.count;
    if (n > INFO_ARRAY_INLINE) {
        json_t *o = json_object();
        json_object_set_new(o, "array_of", json_string(gguf_vtype_name(v->v.arr.elem_type)));
        json_object_set_new(o, "count", jnum_u(n));
        return o;
    }
    json_t *a = json_array();
    for (uint64_t i = 0; i < n; i++) {
        json_t *e;
        switch (v->v.arr.elem_type) {
        case GGUF_VT_STRING:
        case GGUF_VT_ARRAY:
            e = value_json(&v->v.arr.items[i]);
            break;
        case GGUF_VT_FLOAT32:
        case GGUF_VT_FLOAT64:
            e = jnum_f(gguf_arr_f64(v, i));
            break;
        case GGUF_VT_BOOL:
            e = json_boolean(gguf_arr_i64(v, i) != 0);
            break;
        case GGUF_VT_UINT64: {
            uint64_t u;
            memcpy(&u, (const uint8_t *)v->v.arr.raw + 8 * i, 8);
            e = jnum_u(u);
            break;
        }
        default:
            e = json_integer((json_int_t)gguf_arr_i64(v, i));
            break;
        }
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *value_json(const gguf_value *v)
{
    switch (v->type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64:
        return jnum_u(v->v.u64);
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        return json_integer((json_int_t)v->v.i64);
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64:
        return jnum_f(v->v.f64);
    case GGUF_VT_BOOL:
        return json_boolean(v->v.u64 != 0);
    case GGUF_VT_STRING:
        return jstr(v->v.str.ptr, v->v.str.len);
    case GGUF_VT_ARRAY:
        return array_json(v);
    default:
        return json_null();
    }
}

static json_t *hparams_json(const model_hparams *hp)
{
    static const char *const scaling[] = {"none", "linear", "yarn"};
    json_t *o = json_object();
    json_object_set_new(o, "context_length", json_integer(hp->n_ctx_train));
    json_object_set_new(o, "embedding_length", json_integer(hp->n_embd));
    json_object_set_new(o, "block_count", json_integer(hp->n_layer));
    json_object_set_new(o, "feed_forward_length", json_integer(hp->n_ff));
    json_object_set_new(o, "head_count", json_integer(hp->n_head));
    json_object_set_new(o, "head_count_kv", json_integer(hp->n_head_kv));
    json_object_set_new(o, "key_length", json_integer(hp->head_dim));
    json_object_set_new(o, "value_length", json_integer(hp->head_dim_v));
    json_object_set_new(o, "vocab_size", json_integer(hp->n_vocab));
    json_object_set_new(o, "layer_norm_rms_epsilon", jnum_f(hp->norm_eps));
    json_object_set_new(o, "rope_type", json_string(hp->rope_type == ARCH_ROPE_NEOX ? "neox" : "norm"));
    json_object_set_new(o, "rope_dimension_count", json_integer(hp->n_rot));
    json_object_set_new(o, "rope_freq_base", jnum_f(hp->rope_freq_base));
    json_object_set_new(o, "rope_freq_base_swa", jnum_f(hp->rope_freq_base_swa));
    json_object_set_new(o, "rope_scaling", json_string(scaling[hp->rope_scaling]));
    json_object_set_new(o, "rope_scaling_factor", jnum_f(hp->rope_scale_factor));
    json_object_set_new(o, "rope_scaling_original_context_length", json_integer(hp->rope_orig_ctx));
    json_object_set_new(o, "rope_freqs_tensor", json_boolean(hp->has_rope_freqs));
    json_object_set_new(o, "attention_scale", jnum_f(hp->attn_scale));
    json_object_set_new(o, "sliding_window", json_integer(hp->n_swa));
    json_object_set_new(o, "sliding_window_period", json_integer(hp->swa_period));
    json_t *swa = json_array();
    for (uint32_t il = 0; il < hp->n_layer; il++)
        if (hp->n_swa && !hparams_layer_is_swa(hp, il)) json_array_append_new(swa, json_integer(il));
    json_object_set_new(o, "global_layers", hp->n_swa ? swa : (json_decref(swa), json_null()));
    json_object_set_new(o, "attn_logit_softcapping", jnum_f(hp->attn_softcap));
    json_object_set_new(o, "final_logit_softcapping", jnum_f(hp->final_softcap));
    json_object_set_new(o, "embedding_scale", jnum_f(hp->embd_scale));
    json_object_set_new(o, "tied_output", json_boolean(hp->tied_output));
    return o;
}

/* {"id": N, "text": "..."} for a special-token key, or NULL when absent. */
static json_t *special_json(const gguf_file *f, const char *key, const gguf_value *tokens)
{
    const gguf_value *v = gguf_kv_get(f, key);
    if (!v) return NULL;
    json_t *o = json_object();
    if (v->type > GGUF_VT_INT32 && v->type != GGUF_VT_UINT64 && v->type != GGUF_VT_INT64) {
        json_object_set_new(o, "id", json_null());
        return o;
    }
    int64_t id = (v->type == GGUF_VT_INT8 || v->type == GGUF_VT_INT16 || v->type == GGUF_VT_INT32 ||
                  v->type == GGUF_VT_INT64) ? v->v.i64 : (int64_t)v->v.u64;
    json_object_set_new(o, "id", json_integer(id));
    if (tokens && id >= 0 && (uint64_t)id < tokens->v.arr.count) {
        const gguf_value *t = &tokens->v.arr.items[id];
        json_object_set_new(o, "text", jstr(t->v.str.ptr, t->v.str.len));
    } else {
        json_object_set_new(o, "text", json_null()); /* e.g. -1 / 4294967295: "none" */
    }
    return o;
}

static json_t *tokenizer_json(const gguf_file *f)
{
    gguf_str model = {0}, pre = {0};
    bool has_model = gguf_get_str(f, "tokenizer.ggml.model", &model, NULL) == INF_OK;
    const gguf_value *tokens = NULL;
    if (gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &tokens, NULL) != INF_OK)
        tokens = NULL;
    if (!has_model && !tokens) return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "model", has_model ? jstr(model.ptr, model.len) : json_null());
    json_object_set_new(o, "pre", gguf_get_str(f, "tokenizer.ggml.pre", &pre, NULL) == INF_OK
                                      ? jstr(pre.ptr, pre.len) : json_null());
    json_object_set_new(o, "vocab_size", tokens ? jnum_u(tokens->v.arr.count) : json_null());
    const gguf_value *merges = gguf_kv_get(f, "tokenizer.ggml.merges");
    json_object_set_new(o, "merges", merges && merges->type == GGUF_VT_ARRAY
                                         ? jnum_u(merges->v.arr.count) : json_integer(0));
    static const char *const specials[][2] = {
        {"bos", "tokenizer.ggml.bos_token_id"}, {"eos", "tokenizer.ggml.eos_token_id"},
        {"eot", "tokenizer.ggml.eot_token_id"}, {"unk", "tokenizer.ggml.unknown_token_id"},
        {"pad", "tokenizer.ggml.padding_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
    };
    json_t *sp = json_object();
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        json_t *s = special_json(f, specials[i][1], tokens);
        if (s) json_object_set_new(sp, specials[i][0], s);
    }
    json_object_set_new(o, "special", sp);
    bool b;
    json_object_set_new(o, "add_bos", gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b, NULL)
                                          ? json_null() : json_boolean(b));
    json_object_set_new(o, "add_eos", gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &b, NULL)
                                          ? json_null() : json_boolean(b));
    gguf_str tmpl = {0};
    bool has_tmpl = gguf_get_str(f, "tokenizer.chat_template", &tmpl, NULL) == INF_OK;
    json_object_set_new(o, "chat_template", json_boolean(has_tmpl));
    json_object_set_new(o, "chat_template_bytes", jnum_u(has_tmpl ? tmpl.len : 0));
    return o;
}

static json_t *gather(const char *path, const gguf_file *f)
{
    json_t *root = json_object();
    json_object_set_new(root, "file", jstr(path, strlen(path)));
    json_object_set_new(root, "file_size", jnum_u(gguf_file_size(f)));
    json_object_set_new(root, "version", json_integer(gguf_version(f)));
    json_object_set_new(root, "alignment", json_integer(gguf_alignment(f)));

    gguf_str s = {0};
    if (gguf_get_str(f, "general.architecture", &s, NULL) == INF_OK) {
        json_object_set_new(root, "architecture", jstr(s.ptr, s.len));
        arch_id a = arch_from_name(s.ptr, s.len);
        json_object_set_new(root, "architecture_supported", json_boolean(arch_traits_of(a)->supported));
    } else {
        json_object_set_new(root, "architecture", json_null());
        json_object_set_new(root, "architecture_supported", json_false());
    }
    json_object_set_new(root, "name", gguf_get_str(f, "general.name", &s, NULL) == INF_OK
                                          ? jstr(s.ptr, s.len) : json_null());

    model_hparams hp;
    inf_error err = {0};
    bool have_hp = hparams_load(f, &hp, &err) == INF_OK;
    json_object_set_new(root, "hparams", have_hp ? hparams_json(&hp) : json_null());
    if (!have_hp) json_object_set_new(root, "hparams_error", jstr(err.msg, strlen(err.msg)));

    json_t *meta = json_object();
    for (int64_t i = 0; i < gguf_kv_count(f); i++)
        json_object_set_new(meta, gguf_kv_key(f, i), value_json(gguf_kv_value(f, i)));
    json_object_set_new(root, "metadata", meta);

    /* tensors and the mix of formats, in order of first appearance */
    json_t *tensors = json_array();
    uint64_t params = 0, bytes = 0;
    uint64_t fmt_count[QT_COUNT + 1] = {0}, fmt_bytes[QT_COUNT + 1] = {0};
    int fmt_order[QT_COUNT + 1], n_fmt = 0;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(t->name, strlen(t->name)));
        json_t *shape = json_array();
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            json_array_append_new(shape, json_integer(t->ne[d]));
            n *= (uint64_t)t->ne[d];
        }
        json_object_set_new(o, "shape", shape);
        json_object_set_new(o, "type", json_string(quant_type_name(t->type)));
        json_object_set_new(o, "type_id", json_integer(t->type));
        json_object_set_new(o, "elements", jnum_u(n));
        json_object_set_new(o, "bytes", jnum_u(t->nbytes));
        json_object_set_new(o, "offset", jnum_u(t->offset));
        json_array_append_new(tensors, o);
        params += n;
        bytes += t->nbytes;
        int k = t->type < QT_COUNT ? (int)t->type : QT_COUNT;
        if (fmt_count[k]++ == 0) fmt_order[n_fmt++] = k;
        fmt_bytes[k] += t->nbytes;
    }
    json_object_set_new(root, "n_params", jnum_u(params));
    json_object_set_new(root, "tensors", tensors);
    json_t *formats = json_array();
    for (int i = 0; i < n_fmt; i++) {
        int k = fmt_order[i];
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(k < QT_COUNT ? quant_type_name((uint32_t)k)
                                                                 : "unknown"));
        json_object_set_new(o, "count", jnum_u(fmt_count[k]));
        json_object_set_new(o, "bytes", jnum_u(fmt_bytes[k]));
        json_object_set_new(o, "percent", json_real(bytes ? 100.0 * (double)fmt_bytes[k] / (double)bytes : 0.0));
        json_array_append_new(formats, o);
    }
    json_object_set_new(root, "formats", formats);
    json_object_set_new(root, "tokenizer", tokenizer_json(f));

    json_t *mem = json_object();
    json_object_set_new(mem, "weights_bytes", jnum_u(bytes));
    if (have_hp) {
        json_t *per = json_object(), *full = json_object();
        for (int k = HPARAMS_KV_F16; k <= HPARAMS_KV_Q8; k++) {
            uint64_t b = hparams_kv_bytes_per_token(&hp, (hparams_kv_type)k);
            json_object_set_new(per, hparams_kv_type_name((hparams_kv_type)k), jnum_u(b));
            json_object_set_new(full, hparams_kv_type_name((hparams_kv_type)k),
                                jnum_u(b * hp.n_ctx_train));
        }
        json_object_set_new(mem, "kv_bytes_per_token", per);
        json_object_set_new(mem, "context_length", json_integer(hp.n_ctx_train));
        json_object_set_new(mem, "kv_bytes_full_context", full);
    }
    json_object_set_new(root, "memory", mem);
    return root;
}

/* ---- text view ------------------------------------------------------------ */

static const char *human(double b, char *buf, size_t cap)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024.0 && u < 4) {
        b /= 1024.0;
        u++;
    }
    snprintf(buf, cap, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

static const char *jtxt(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static void print_text(json_t *r)
{
    char b1[32], b2[32], b3[32];
    printf("file          %s (%s, GGUF v%lld, alignment %lld)\n", jtxt(r, "file"),
           human((double)json_integer_value(json_object_get(r, "file_size")), b1, sizeof b1),
           json_integer_value(json_object_get(r, "version")),
           json_integer_value(json_object_get(r, "alignment")));
    printf("architecture  %s%s\n", jtxt(r, "architecture"),
           json_is_true(json_object_get(r, "architecture_supported")) ? "" : " (not supported by inferd)");
    printf("name          %s\n", jtxt(r, "name"));
    double params = (double)json_integer_value(json_object_get(r, "n_params"));
    printf("parameters    %.2fM (%.0f)\n", params / 1e6, params);

    json_t *hp = json_object_get(r, "hparams");
    if (json_is_object(hp)) {
        printf("\nhyper-parameters\n");
        const char *key;
        json_t *v;
        json_object_foreach(hp, key, v) {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(7) | JSON_COMPACT);
            printf("  %-38s %s\n", key, s ? s : "?");
            free(s);
        }
    } else {
        printf("\nhyper-parameters: unavailable (%s)\n", jtxt(r, "hparams_error"));
    }

    json_t *tok = json_object_get(r, "tokenizer");
    if (json_is_object(tok)) {
        printf("\ntokenizer     %s, pre %s, %lld tokens, %lld merges\n", jtxt(tok, "model"),
               jtxt(tok, "pre"), json_integer_value(json_object_get(tok, "vocab_size")),
               json_integer_value(json_object_get(tok, "merges")));
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(tok, "special"), key, v) {
            json_t *id = json_object_get(v, "id");
            const char *text = json_string_value(json_object_get(v, "text"));
            if (json_is_integer(id))
                printf("  %-5s %lld %s%s%s\n", key, json_integer_value(id), text ? "'" : "(none)",
                       text ? text : "", text ? "'" : "");
        }
        json_t *ab = json_object_get(tok, "add_bos");
        printf("  add_bos %s, chat template %s", json_is_null(ab) ? "(unset)" : json_is_true(ab) ? "true" : "false",
               json_is_true(json_object_get(tok, "chat_template")) ? "present" : "absent");
        if (json_is_true(json_object_get(tok, "chat_template")))
            printf(" (%lld bytes)", json_integer_value(json_object_get(tok, "chat_template_bytes")));
        printf("\n");
    } else {
        printf("\ntokenizer     none\n");
    }

    json_t *fm = json_object_get(r, "formats");
    printf("\nformats       %-8s %8s %14s %7s\n", "type", "tensors", "bytes", "%");
    size_t i;
    json_t *v;
    json_array_foreach(fm, i, v) {
        printf("              %-8s %8lld %14s %6.2f%%\n", jtxt(v, "type"),
               json_integer_value(json_object_get(v, "count")),
               human((double)json_integer_value(json_object_get(v, "bytes")), b1, sizeof b1),
               json_real_value(json_object_get(v, "percent")));
    }

    json_t *mem = json_object_get(r, "memory");
    printf("\nmemory        weights %s\n",
           human((double)json_integer_value(json_object_get(mem, "weights_bytes")), b1, sizeof b1));
    json_t *per = json_object_get(mem, "kv_bytes_per_token");
    if (json_is_object(per)) {
        json_t *full = json_object_get(mem, "kv_bytes_full_context");
        printf("              KV cache per token: f16 %s, bf16 %s, q8 %s\n",
               human((double)json_integer_value(json_object_get(per, "f16")), b1, sizeof b1),
               human((double)json_integer_value(json_object_get(per, "bf16")), b2, sizeof b2),
               human((double)json_integer_value(json_object_get(per, "q8")), b3, sizeof b3));
        printf("              KV cache for %lld tokens: f16 %s, q8 %s\n",
               json_integer_value(json_object_get(mem, "context_length")),
               human((double)json_integer_value(json_object_get(full, "f16")), b1, sizeof b1),
               human((double)json_integer_value(json_object_get(full, "q8")), b2, sizeof b2));
    }

    json_t *ts = json_object_get(r, "tensors");
    printf("\ntensors (%zu)\n", json_array_size(ts));
    json_array_foreach(ts, i, v) {
        char shape[96] = "";
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(v, "shape"), j, d) {
            size_t len = strlen(shape);
            snprintf(shape + len, sizeof shape - len, "%s%lld", j ? " x " : "", json_integer_value(d));
        }
        printf("  %-40s %-24s %-7s %s\n", jtxt(v, "name"), shape, jtxt(v, "type"),
               human((double)json_integer_value(json_object_get(v, "bytes")), b1, sizeof b1));
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd info FILE [--json]\n\n"
            "Describes a GGUF file: architecture, parameter count, hyper-parameters, tokenizer\n"
            "(model, vocabulary size, special tokens, add_bos, chat template), the mix of weight\n"
            "formats, memory for the weights and for the KV cache (per token and for the full\n"
            "context, in f16, bf16 and q8), and every tensor (name, shape, type, bytes).\n\n"
            "  --json   print one JSON object instead (all metadata included; arrays longer\n"
            "           than %d elements are summarized by element type and count)\n",
            INFO_ARRAY_INLINE);
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "inferd info: unknown option '%s' (see inferd info --help)\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "inferd info: one FILE only ('%s' is extra)\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "inferd info: FILE is required (see inferd info --help)\n");
        return 2;
    }
    gguf_file *f = NULL;
    inf_error err = {0};
    if (gguf_open(path, &f, &err)) {
        fprintf(stderr, "inferd info: %s\n", err.msg); /* the message names the file */
        return 1;
    }
    json_t *root = gather(path, f);
    int rc = 0;
    if (as_json) {
        if (json_dumpf(root, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(9)) != 0) rc = 1;
        printf("\n");
    } else {
        print_text(root);
    }
    json_decref(root);
    gguf_close(f);
    return rc;
}
