/* format.c: number formatting and prefix pairs shared by the reports. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/report.h"

char *bench_fmt(char *buf, size_t cap, double x, int decimals)
{
    if (!isfinite(x)) {
        snprintf(buf, cap, "-");
        return buf;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", decimals, fabs(x));
    if (!strcmp(raw, "0") || strspn(raw, "0.") == strlen(raw)) x = 0; /* no "-0.0" */
    const char *dot = strchr(raw, '.');
    size_t int_len = dot ? (size_t)(dot - raw) : strlen(raw);
    char tmp[96];
    size_t o = 0;
    if (x < 0) tmp[o++] = '-';
    for (size_t i = 0; i < int_len; i++) {
        if (i && (int_len - i) % 3 == 0) tmp[o++] = ',';
        tmp[o++] = raw[i];
    }
    if (dot) {
        size_t k = strlen(dot);
        memcpy(tmp + o, dot, k);
        o += k;
    }
    tmp[o] = '\0';
    snprintf(buf, cap, "%s", tmp);
    return buf;
}

size_t bench_prefix_pairs(const bench_phase *ph, bench_prefix_pair *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < ph->n && n < cap; i += 2, n++) {
        const bench_sample *a = &ph->samples[i], *b = &ph->samples[i + 1];
        bool ok = a->fail == BENCH_FAIL_NONE && b->fail == BENCH_FAIL_NONE && b->ttft > 0;
        out[n] = (bench_prefix_pair){a, b, ok ? a->ttft / b->ttft : NAN};
    }
    return n;
}
