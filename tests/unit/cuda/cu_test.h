/* cu_test.h: what the CUDA tests share: skipping (exit 77) where no GPU is, the
 * host model of the int8 rounding of x that the decode matmuls use
 * (q8_x_kernel, cuda_mmvq.cu), and the median kernel time of the --bench modes
 * (cu_test_time_calls, a test hook of cuda_mmq.cu). */
#ifndef INFERD_TESTS_CU_TEST_H
#define INFERD_TESTS_CU_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_probe.h"
#include "check.h"

/* Skips the test, saying why, when no usable GPU is present; else prints it. */
static inline void cu_test_require_gpu(void)
{
    char why[256] = "";
    if (cuda_probe_devices(why, sizeof why) <= 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "no GPU: %s", why);
        check_skip(msg);
    }
    printf("device: %s\n", why);
}

/* x (cnt values, cnt % 32 == 0) rounded as q8_x_kernel: per 32 values
 * d = amax / 127, p = round-half-even(x / d) (0 when amax is 0), s = d * sum p. */
static inline void q8_round(const float *x, int64_t cnt, int8_t *p, float *d, float *s,
                            float *amax)
{
    for (int64_t b = 0; b < cnt / 32; b++) {
        const float *xb = x + 32 * b;
        float a = 0.0f;
        for (int c = 0; c < 32; c++) a = fabsf(xb[c]) > a ? fabsf(xb[c]) : a;
        float db = a / 127.0f;
        int sum = 0;
        for (int c = 0; c < 32; c++) {
            int q = a == 0.0f ? 0 : (int)nearbyintf(xb[c] / db);
            p[32 * b + c] = (int8_t)q;
            sum += q;
        }
        d[b] = db;
        s[b] = db * (float)sum;
        amax[b] = a;
    }
}

/* Test hook of cuda_mmq.cu: fn(arg) reps times on the backend's stream, directly
 * or captured into a CUDA graph and launched; *ms = their GPU time. 0 or -1. */
int cu_test_time_calls(be_backend *be, void (*fn)(void *), void *arg, int reps, int graph,
                       float *ms);

static inline int cu_test_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Median time per call in us over 20 timings of reps calls of fn(arg) (see
 * cu_test_time_calls); < 0 when timing failed. */
static inline double cu_test_median_us(be_backend *be, void (*fn)(void *), void *arg, int reps,
                                       int graph)
{
    float t[20];
    for (int r = 0; r < 20; r++) {
        float ms = 0;
        if (cu_test_time_calls(be, fn, arg, reps, graph, &ms) != 0) return -1;
        t[r] = ms * 1000.0f / (float)reps;
    }
    qsort(t, 20, sizeof t[0], cu_test_cmp_float);
    return 0.5 * (t[9] + t[10]);
}

#endif
