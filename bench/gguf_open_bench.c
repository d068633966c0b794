/* gguf_open_bench: how long opening a GGUF file and listing its tensors takes,
 * and how fast the streaming writer writes one.
 *
 *   gguf_open_bench write PATH GIB N_TENSORS   write ~GIB GiB of zeros as N F16 tensors
 *   gguf_open_bench open PATH [REPS]           open + list + find every tensor, REPS times
 *
 * Opening must not copy tensor data: the target is < 50 ms for a multi-GB file,
 * i.e. the cost is the header (metadata + tensor infos), not the data. The figure
 * printed is the median and minimum over REPS cold-process-warm-cache opens. Not a
 * test: see bench/RESULTS.md (## GGUF) for figures and the commands behind them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf/gguf.h"
#include "quant/quant.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_write(const char *path, double gib, int n)
{
    /* Square-ish F16 matrices with d a multiple of 256, like model weights. */
    uint64_t per = (uint64_t)(gib * (1ull << 30)) / (uint64_t)n / 2;
    int64_t d = 256;
    while ((uint64_t)(d * 2) * (uint64_t)(d * 2) <= per) d *= 2;
    int64_t rows = (int64_t)(per / (uint64_t)d);
    inf_error err = {0};
    gguf_writer *w = NULL;
    if (gguf_writer_open(path, 0, &w, &err)) goto fail;
    gguf_writer_set_str(w, "general.architecture", "bench", 5);
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "blk.%d.weight", i);
        gguf_writer_add_tensor(w, name, QT_F16, 2, (int64_t[]){d, rows});
    }
    double t0 = now_s();
    gguf_writer_begin_data(w);
    size_t chunk = 8u << 20;
    void *zeros = calloc(1, chunk);
    uint64_t total = (uint64_t)n * (uint64_t)d * (uint64_t)rows * 2;
    for (uint64_t left = total; left && zeros;) {
        size_t k = left < chunk ? (size_t)left : chunk;
        if (gguf_writer_write_data(w, zeros, k)) break;
        left -= k;
    }
    free(zeros);
    if (gguf_writer_close(w, &err)) goto fail;
    double dt = now_s() - t0;
    printf("wrote %s: %d tensors of %" PRId64 " x %" PRId64 " F16, %.2f GiB in %.2f s"
           " (%.2f GB/s, through the page cache)\n", path, n, d, rows,
           (double)total / (1ull << 30), dt, (double)total / dt / 1e9);
    return 0;
fail:
    fprintf(stderr, "gguf_open_bench: %s\n", err.msg);
    return 1;
}

static int bench_open(const char *path, int reps)
{
    double *t = calloc((size_t)reps, sizeof *t);
    uint64_t bytes = 0, size = 0;
    int64_t n_tensors = 0, n_kv = 0;
    for (int r = 0; r < reps && t; r++) {
        inf_error err = {0};
        gguf_file *f = NULL;
        double t0 = now_s();
        if (gguf_open(path, &f, &err)) {
            fprintf(stderr, "gguf_open_bench: %s\n", err.msg);
            free(t);
            return 1;
        }
        bytes = 0;
        n_tensors = gguf_tensor_count(f);
        for (int64_t i = 0; i < n_tensors; i++) {
            const gguf_tensor *x = gguf_tensor_at(f, i);
            if (gguf_tensor_find(f, x->name) != x) abort();
            bytes += x->nbytes;
        }
        n_kv = gguf_kv_count(f);
        size = gguf_file_size(f);
        gguf_close(f);
        t[r] = now_s() - t0;
    }
    if (!t) return 1;
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    printf("open+list %s: %.2f GB file, %" PRId64 " tensors (%.2f GB of data), %" PRId64
           " keys: median %.3f ms, min %.3f ms over %d opens (%.0f ms budget: %.1f%%)\n",
           path, size / 1e9, n_tensors, bytes / 1e9, n_kv, t[reps / 2] * 1e3, t[0] * 1e3,
           reps, 50.0, t[reps / 2] * 1e3 / 50.0 * 100);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "write"))
        return bench_write(argv[2], atof(argv[3]), atoi(argv[4]));
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "open"))
        return bench_open(argv[2], argc == 4 ? atoi(argv[3]) : 20);
    fprintf(stderr, "usage: gguf_open_bench write PATH GIB N_TENSORS\n"
                    "       gguf_open_bench open PATH [REPS]\n");
    return 2;
}
