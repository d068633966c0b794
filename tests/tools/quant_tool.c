/* quant_tool.c: lets the pytest suite drive the quant reference directly.
 *
 *   quant_tool dequant TYPE IN.bin OUT.f32   blocks -> little-endian f32
 *   quant_tool quant TYPE IN.f32 OUT.bin     f32 -> blocks
 *   quant_tool info TYPE                     "name block_size type_size supported"
 *
 * TYPE is a name (q4_k) or a numeric ggml id. Exit 0 on success, 1 on bad input
 * (unknown or unsupported type, a size that is not whole blocks, I/O). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

static int read_all(const char *path, unsigned char **out, size_t *out_n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "quant_tool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        fprintf(stderr, "quant_tool: %s: read failed\n", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *out_n = n;
    return 0;
}

static int write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "quant_tool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(p, 1, n, f);
    if (fclose(f) != 0 || w != n) {
        fprintf(stderr, "quant_tool: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static int parse_type(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && *end == 0) return v >= 0 && v < 1000000 ? (int)v : -1;
    return quant_type_from_name(s);
}

int main(int argc, char **argv)
{
    int rc = 1;
    unsigned char *in = NULL;
    void *out = NULL;
    if (argc < 3) {
        fprintf(stderr, "usage: quant_tool dequant|quant TYPE IN OUT | info TYPE\n");
        goto out;
    }
    int type = parse_type(argv[2]);
    const quant_traits *t = type >= 0 ? quant_traits_of((uint32_t)type) : NULL;
    if (!t) {
        fprintf(stderr, "quant_tool: unknown type %s\n", argv[2]);
        goto out;
    }
    if (strcmp(argv[1], "info") == 0) {
        printf("%s %d %zu %d\n", t->name, t->block_size, t->type_size, t->supported);
        rc = 0;
        goto out;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: quant_tool dequant|quant TYPE IN OUT\n");
        goto out;
    }
    if (!t->supported) {
        fprintf(stderr, "quant_tool: type %s is not supported\n", t->name);
        goto out;
    }
    size_t n_in;
    if (read_all(argv[3], &in, &n_in) != 0) goto out;
    if (strcmp(argv[1], "dequant") == 0) {
        if (n_in % t->type_size != 0) {
            fprintf(stderr, "quant_tool: %zu bytes is not whole %s blocks of %zu\n", n_in,
                    t->name, t->type_size);
            goto out;
        }
        int64_t n = (int64_t)(n_in / t->type_size) * t->block_size;
        out = malloc((size_t)n * sizeof(float) + 1);
        if (!out) goto out;
        quant_dequantize((uint32_t)type, in, out, n);
        if (write_all(argv[4], out, (size_t)n * sizeof(float)) != 0) goto out;
    } else if (strcmp(argv[1], "quant") == 0) {
        int64_t n = (int64_t)(n_in / sizeof(float));
        if (n_in % sizeof(float) != 0 || n % t->block_size != 0) {
            fprintf(stderr, "quant_tool: %zu bytes is not whole rows of %d floats\n", n_in,
                    t->block_size);
            goto out;
        }
        size_t bytes = quant_row_size((uint32_t)type, n);
        float *x = malloc((size_t)n * sizeof(float) + 1);
        out = malloc(bytes + 1);
        if (!x || !out) {
            free(x);
            goto out;
        }
        memcpy(x, in, (size_t)n * sizeof(float)); /* aligned copy of the input */
        quant_quantize((uint32_t)type, x, out, n);
        free(x);
        if (write_all(argv[4], out, bytes) != 0) goto out;
    } else {
        fprintf(stderr, "quant_tool: unknown command %s\n", argv[1]);
        goto out;
    }
    rc = 0;
out:
    free(in);
    free(out);
    return rc;
}
