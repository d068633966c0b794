/*
 * membw: memory bandwidth of this machine, for the napkin math beside every
 * CPU figure (weight bytes read per token x tok/s vs what memory can deliver).
 *
 * Each thread owns a disjoint slice of two large buffers (default 512 MiB each,
 * far past any cache). Three kernels, best of R repetitions, all threads started
 * together behind a barrier:
 *   copy  memcpy(dst, src)      GB/s counts bytes read + bytes written (STREAM
 *                               convention), i.e. 2 x slice size per pass
 *   read  sum of 64-bit words   GB/s counts bytes read; the closest to what an
 *                               LLM decode step does with its weights
 *   write memset(dst)           GB/s counts bytes written
 *
 * build: cc -O2 -march=native -pthread bench/peer/membw.c -o /tmp/membw
 * usage: membw [threads] [MiB per buffer] [repetitions]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_THREADS = 256 };

struct job {
    unsigned char *src; /* (slice) */
    unsigned char *dst; /* (slice) */
    size_t slice;       /* bytes per thread */
    int kernel;         /* 0 copy, 1 read, 2 write */
    uint64_t sink;
};

static pthread_barrier_t start_barrier, end_barrier;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t read_sum(const unsigned char *p, size_t n)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= n / 8; i += 4) {
        a += w[i];
        b += w[i + 1];
        c += w[i + 2];
        d += w[i + 3];
    }
    return a ^ b ^ c ^ d;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    for (;;) {
        pthread_barrier_wait(&start_barrier);
        if (j->kernel < 0)
            return NULL;
        if (j->kernel == 0)
            memcpy(j->dst, j->src, j->slice);
        else if (j->kernel == 1)
            j->sink += read_sum(j->src, j->slice);
        else
            memset(j->dst, (int)(j->sink & 0xff) + 1, j->slice);
        pthread_barrier_wait(&end_barrier);
    }
}

int main(int argc, char **argv)
{
    int nt = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 512;
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    if (nt < 1 || nt > MAX_THREADS || mib < 1 || reps < 1) {
        fprintf(stderr, "usage: membw [threads 1..%d] [MiB per buffer] [repetitions]\n", MAX_THREADS);
        return 2;
    }
    size_t bytes = mib << 20;
    size_t slice = (bytes / (size_t)nt) & ~(size_t)4095;
    unsigned char *src = aligned_alloc(4096, bytes);
    unsigned char *dst = aligned_alloc(4096, bytes);
    if (!src || !dst) {
        fprintf(stderr, "membw: cannot allocate 2 x %zu MiB\n", mib);
        return 1;
    }
    memset(src, 1, bytes); /* fault every page in before timing */
    memset(dst, 2, bytes);

    pthread_barrier_init(&start_barrier, NULL, (unsigned)nt + 1);
    pthread_barrier_init(&end_barrier, NULL, (unsigned)nt + 1);
    struct job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < nt; t++) {
        jobs[t] = (struct job){ src + (size_t)t * slice, dst + (size_t)t * slice, slice, 0, 0 };
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }

    static const char *names[3] = { "copy", "read", "write" };
    static const double traffic[3] = { 2.0, 1.0, 1.0 };
    printf("threads %d, %zu MiB per buffer, best of %d\n", nt, mib, reps);
    for (int k = 0; k < 3; k++) {
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            for (int t = 0; t < nt; t++)
                jobs[t].kernel = k;
            double t0 = now_s();
            pthread_barrier_wait(&start_barrier);
            pthread_barrier_wait(&end_barrier);
            double dt = now_s() - t0;
            if (dt < best)
                best = dt;
        }
        double gb = traffic[k] * (double)slice * nt / 1e9;
        printf("%-5s %7.2f GB/s  (%.3f ms per pass)\n", names[k], gb / best, best * 1e3);
    }
    for (int t = 0; t < nt; t++)
        jobs[t].kernel = -1;
    pthread_barrier_wait(&start_barrier);
    uint64_t sink = 0;
    for (int t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        sink += jobs[t].sink;
    }
    free(src);
    free(dst);
    return sink == 42 ? 3 : 0; /* keep the read loop alive */
}
