/* cmd_synth.c: `inferd synth`: write a deterministic synthetic model (model/synth.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/synth.h"
#include "quant/quant.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd synth [--arch ARCH] [--preset NAME] [--dims K=V,...] [--type TYPE]\n"
            "                    [--seed N] [--threads N] [--pre smollm|gpt2] [--tied|--untied]\n"
            "                    -o FILE\n\n"
            "Writes a synthetic model: random weights scaled to keep activations bounded, a small\n"
            "byte-level BPE vocabulary with merges and a ChatML chat template, and the metadata\n"
            "and tensor names llama.cpp's converter writes. The same flags give the same bytes\n"
            "on every machine and for any --threads.\n\n"
            "  --arch ARCH       llama, qwen2, qwen3, gemma3 (default: the preset's, else llama)\n"
            "  --preset NAME     dimensions to start from (default tiny):\n");
    for (int i = 0; i < synth_preset_count(); i++)
        fprintf(out, "                      %-14s %s\n", synth_preset_name(i), synth_preset_summary(i));
    fprintf(out,
            "  --dims K=V,...    override: layers, d, heads, kv_heads, head_dim, ff, vocab, ctx, swa\n"
            "  --type TYPE       weight type of matrices (default F32): F32 F16 BF16 Q8_0 Q4_0 Q4_1\n"
            "                    Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K. Norms and biases stay F32; rows\n"
            "                    that do not fit a K-quant's 256-blocks fall back as in quantize.\n"
            "  --seed N          random seed (default 0)\n"
            "  --threads N       generator threads (default: one per CPU)\n"
            "  --pre NAME        tokenizer.ggml.pre: smollm (default) or gpt2\n"
            "  --tied, --untied  share token_embd as output (default: the preset's)\n"
            "  -o, --output FILE the GGUF file to write\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end) return -1;
    *out = v;
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    const char *arch_s = NULL, *preset = "tiny", *dims = NULL, *type_s = "F32", *out = NULL;
    const char *pre = "smollm";
    uint64_t seed = 0, threads = 0;
    int tied = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--arch")) {
            arch_s = val;
        } else if (!strcmp(a, "--preset")) {
            preset = val;
        } else if (!strcmp(a, "--dims")) {
            dims = val;
        } else if (!strcmp(a, "--type")) {
            type_s = val;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = val;
        } else if (!strcmp(a, "--pre")) {
            pre = val;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(val, &seed)) {
                fprintf(stderr, "inferd synth: --seed needs a non-negative integer\n");
                return 2;
            }
        } else if (!strcmp(a, "--threads")) {
            if (parse_u64(val, &threads) || threads < 1 || threads > 256) {
                fprintf(stderr, "inferd synth: --threads needs an integer in 1..256\n");
                return 2;
            }
        } else if (!strcmp(a, "--tied") || !strcmp(a, "--untied")) {
            tied = !strcmp(a, "--tied");
            takes = false;
        } else {
            fprintf(stderr, "inferd synth: unknown option '%s' (see inferd synth --help)\n", a);
            return 2;
        }
        if (takes) {
            if (!val) {
                fprintf(stderr, "inferd synth: %s needs a value\n", a);
                return 2;
            }
            i++;
        }
    }
    if (!out) {
        fprintf(stderr, "inferd synth: -o FILE is required (see inferd synth --help)\n");
        return 2;
    }
    arch_id arch = ARCH_UNKNOWN;
    if (arch_s) {
        arch = arch_from_name(arch_s, strlen(arch_s));
        if (arch == ARCH_UNKNOWN || !arch_traits_of(arch)->supported) {
            fprintf(stderr, "inferd synth: unknown --arch '%s' (llama, qwen2, qwen3, gemma3)\n",
                    arch_s);
            return 2;
        }
    }
    int type = quant_type_from_name(type_s);
    if (type < 0) {
        fprintf(stderr, "inferd synth: unknown --type '%s'\n", type_s);
        return 2;
    }
    if (strcmp(pre, "smollm") && strcmp(pre, "gpt2") && strcmp(pre, "gpt-2")) {
        fprintf(stderr, "inferd synth: --pre must be smollm or gpt2\n");
        return 2;
    }

    synth_config c;
    inf_error err = {0};
    if (synth_preset(preset, arch, &c, &err) ||
        (dims && synth_set_dims(&c, dims, &err))) {
        fprintf(stderr, "inferd synth: %s\n", err.msg);
        return 2;
    }
    c.type = (uint32_t)type;
    c.seed = seed;
    if (tied >= 0) c.tied = tied;
    /* llama.cpp names GPT-2's pre-tokenizer "gpt-2" */
    snprintf(c.pre, sizeof c.pre, "%s", strcmp(pre, "smollm") ? "gpt-2" : "smollm");

    synth_stats st;
    int rc = synth_write(&c, out, (int)threads, &st, &err);
    if (rc) {
        fprintf(stderr, "inferd synth: %s\n", err.msg);
        /* configurations that cannot exist are usage errors; I/O failures are not */
        return (rc == INF_ERR_RANGE || rc == INF_ERR_UNSUPPORTED || rc == INF_ERR_INVALID) ? 2 : 1;
    }
    double mb = (double)st.file_bytes / 1e6;
    fprintf(stderr, "inferd synth: wrote %s: %s %s %s, %lld tensors, %.2fM params, %.1f MB in "
            "%.2f s (%.0f MB/s)\n", out, c.preset, c.hp.arch_name, quant_type_name(c.type),
            (long long)st.n_tensors, (double)st.n_params / 1e6, mb, st.seconds,
            st.seconds > 0 ? mb / st.seconds : 0.0);
    return 0;
}
