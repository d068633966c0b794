/* cmd_quantize.c: `inferd quantize IN OUT --type TYPE` (model/quantize.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/quantize.h"
#include "quant/quant.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: inferd quantize IN OUT --type TYPE [--threads N]\n\n"
            "Converts a GGUF model's weights to TYPE (dequantize, then quantize), keeping all\n"
            "metadata; general.file_type is updated.\n\n"
            "  --type TYPE    F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K\n"
            "  --threads N    conversion threads (default: one per CPU)\n\n"
            "Which tensors change: those of 2 or more dimensions (weight matrices, embeddings)\n"
            "whose rows are whole blocks of TYPE. Rows that are not take the fallback llama.cpp\n"
            "uses (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0), else F16.\n"
            "1-D tensors (norms, biases) and types inferd cannot decode are copied unchanged.\n");
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    const char *type_s = NULL;
    long threads = 0;
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--type") || !strcmp(a, "--threads")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "inferd quantize: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--type")) {
                type_s = v;
            } else {
                char *end = NULL;
                threads = strtol(v, &end, 10);
                if (!*v || *end || threads < 1 || threads > 256) {
                    fprintf(stderr, "inferd quantize: --threads needs an integer in 1..256\n");
                    return 2;
                }
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "inferd quantize: unknown option '%s' (see inferd quantize --help)\n", a);
            return 2;
        } else if (n_pos < 2) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "inferd quantize: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (n_pos != 2 || !type_s) {
        fprintf(stderr, "inferd quantize: need IN, OUT and --type (see inferd quantize --help)\n");
        return 2;
    }
    int type = quant_type_from_name(type_s);
    if (type < 0 || !quantize_target_ok((uint32_t)type)) {
        fprintf(stderr, "inferd quantize: --type '%s' is not a target type (F32 F16 BF16 Q8_0 Q4_0 "
                "Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K)\n", type_s);
        return 2;
    }
    inf_error err = {0};
    quantize_stats st;
    if (quantize_file(pos[0], pos[1], (uint32_t)type, (int)threads, &st, &err)) {
        fprintf(stderr, "inferd quantize: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "inferd quantize: wrote %s: %lld of %lld tensors converted to %s (or a "
            "fallback), %.1f MB -> %.1f MB of tensor data\n", pos[1], (long long)st.n_converted,
            (long long)st.n_tensors, quant_type_name((uint32_t)type), (double)st.bytes_in / 1e6,
            (double)st.bytes_out / 1e6);
    return 0;
}
