/* tokenize_bench: tokenizer throughput on a large text.
 *
 *   tokenize_bench MODEL.gguf CORPUS [--runs N] [--threads T] [--ids PEER.ids]
 *
 * Loads the model's vocabulary (timed), then tokenizes the whole corpus as one
 * text, without BOS and without special parsing (the peer's --no-bos
 * --no-parse-special), N times on one thread, and reports the best and median
 * MB/s (10^6 bytes of text per second), by wall clock and by the thread's CPU
 * time (the machine may be shared), with tokens and bytes per token. With
 * --threads T it also runs T threads over the same vocabulary at once and
 * reports the aggregate rate (the vocabulary is shared read-only, as in the
 * server). With --ids, the ids are compared with a file holding one list
 * "[id, id, ...]" (what bench/peer/tokenize-bench.py keeps of llama-tokenize's
 * output) and the first difference is printed with context.
 * Not a test: figures and the command behind them go in bench/RESULTS.md. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* CPU time of this thread: the machine is shared, so wall time alone overstates
 * the cost whenever other work competes for the cores. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct job {
    const tok_vocab *v;
    const char *text;
    size_t len;
    size_t n_ids;
    int rc;
} job;

static void *run(void *arg)
{
    job *j = arg;
    tok_ids ids;
    tok_ids_init(&ids);
    j->rc = tok_tokenize(j->v, j->text, j->len, 0, &ids, NULL);
    j->n_ids = ids.n;
    tok_ids_free(&ids);
    return NULL;
}

static void compare_ids(const tok_vocab *v, const tok_ids *ours, const char *path)
{
    size_t len;
    char *s = slurp(path, &len);
    if (!s) {
        printf("peer ids: cannot read %s\n", path);
        return;
    }
    size_t n = 0, i = 0, first_diff = (size_t)-1;
    char *p = s;
    while (*p) {
        while (*p && (*p < '0' || *p > '9')) p++;
        if (!*p) break;
        long x = strtol(p, &p, 10);
        if (i < ours->n && ours->ids[i] != x && first_diff == (size_t)-1) first_diff = i;
        i++;
        n++;
    }
    if (first_diff == (size_t)-1 && n != ours->n) first_diff = n < ours->n ? n : ours->n;
    if (first_diff == (size_t)-1) {
        printf("peer ids: all %zu ids identical\n", n);
    } else {
        printf("peer ids: %zu ids vs our %zu; first difference at id %zu:", n, ours->n, first_diff);
        for (size_t k = first_diff > 3 ? first_diff - 3 : 0; k < first_diff + 4 && k < ours->n; k++) {
            size_t pl;
            const char *piece = tok_token_piece(v, ours->ids[k], &pl);
            printf(" %d'%.*s'", (int)ours->ids[k], (int)pl, piece);
        }
        printf("\n");
    }
    free(s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tokenize_bench MODEL.gguf CORPUS [--runs N] [--threads T] [--ids FILE]\n");
        return 2;
    }
    int runs = 5, threads = 0;
    const char *ids_path = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ids")) ids_path = argv[i + 1];
    }
    if (runs < 1 || runs > 100) runs = 5;
    if (threads < 0 || threads > 64) threads = 0;
    inf_error err;
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    double t0 = now();
    if (gguf_open(argv[1], &f, &err) || tok_vocab_load(f, &v, &err)) {
        fprintf(stderr, "tokenize_bench: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    double t_load = now() - t0;
    gguf_close(f);
    size_t len;
    char *text = slurp(argv[2], &len);
    if (!text) {
        fprintf(stderr, "tokenize_bench: cannot read %s\n", argv[2]);
        return 1;
    }
    tok_ids ids;
    tok_ids_init(&ids);
    double *t = malloc((size_t)runs * sizeof *t), *c = malloc((size_t)runs * sizeof *c);
    for (int r = 0; r < runs; r++) {
        ids.n = 0;
        double a = now(), ca = cpu_now();
        if (tok_tokenize(v, text, len, 0, &ids, &err)) {
            fprintf(stderr, "tokenize_bench: %s\n", err.msg);
            return 1;
        }
        t[r] = now() - a;
        c[r] = cpu_now() - ca;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    qsort(c, (size_t)runs, sizeof *c, cmp_double);
    double mb = (double)len / 1e6;
    printf("vocab %s: %d tokens, pre %s, load %.3f s\n", argv[1], (int)tok_vocab_size(v),
           tok_vocab_pre(v), t_load);
    printf("corpus %s: %.2f MB -> %zu tokens (%.2f bytes/token)\n", argv[2], mb, ids.n,
           (double)len / (double)ids.n);
    printf("1 thread: best %.3f s = %.2f MB/s, median %.3f s = %.2f MB/s (%d runs)\n", t[0], mb / t[0],
           t[runs / 2], mb / t[runs / 2], runs);
    printf("1 thread, CPU time: best %.3f s = %.2f MB/s, median %.3f s = %.2f MB/s\n", c[0], mb / c[0],
           c[runs / 2], mb / c[runs / 2]);
    if (threads > 0) {
        job *jobs = calloc((size_t)threads, sizeof *jobs);
        pthread_t *th = calloc((size_t)threads, sizeof *th);
        double a = now();
        for (int i = 0; i < threads; i++) {
            jobs[i] = (job){v, text, len, 0, 0};
            pthread_create(&th[i], NULL, run, &jobs[i]);
        }
        int same = 1;
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            same &= jobs[i].rc == 0 && jobs[i].n_ids == ids.n;
        }
        double el = now() - a;
        printf("%d threads at once: %.3f s = %.2f MB/s aggregate (%s)\n", threads, el,
               mb * threads / el, same ? "same token counts" : "TOKEN COUNTS DIFFER");
        free(jobs);
        free(th);
    }
    if (ids_path) compare_ids(v, &ids, ids_path);
    free(t);
    free(c);
    free(text);
    tok_ids_free(&ids);
    tok_vocab_free(v);
    return 0;
}
