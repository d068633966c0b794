/* progress.c: the progress bar or per-request lines of progress.h. */
#include "bench/progress.h"

#include <math.h>
#include <string.h>

#define BAR_WIDTH 30

void bench_progress_begin(bench_progress *p, const char *name)
{
    snprintf(p->phase, sizeof p->phase, "%s", name);
    p->failed = 0;
    p->tokens = 0;
    p->drawn = false;
}

static void draw_bar(bench_progress *p, size_t done, size_t total, double el)
{
    char bar[BAR_WIDTH + 1];
    size_t fill = total ? done * BAR_WIDTH / total : 0;
    for (size_t i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double tps = el > 0 ? (double)p->tokens / el : 0.0;
    /* \r and erase-line redraw in place. */
    fprintf(p->out, "\r\033[K%-14s [%s] %zu/%zu  %zu failed  %.1f tok/s  %.1fs", p->phase, bar,
            done, total, p->failed, tps, el);
    fflush(p->out);
    p->drawn = true;
}

void bench_progress_update(void *ud, const bench_sample *s, size_t done, size_t total,
                           double elapsed_s)
{
    bench_progress *p = ud;
    if (p->quiet) return;
    if (s) {
        if (s->fail != BENCH_FAIL_NONE) p->failed++;
        else p->tokens += s->completion_tokens;
    }
    if (p->tty) {
        draw_bar(p, done, total, elapsed_s);
        return;
    }
    if (!s) return;
    if (s->fail == BENCH_FAIL_NONE)
        fprintf(p->out, "bench %s %zu/%zu ok: ttft %.0f ms, %ld tokens%s, %.2f s, %s\n", p->phase,
                done, total, s->ttft * 1000.0, s->completion_tokens, s->usage ? "" : "*",
                s->latency, s->label);
    else
        fprintf(p->out, "bench %s %zu/%zu FAILED (%s): %s [%s]\n", p->phase, done, total,
                bench_fail_name(s->fail), s->message ? s->message : "", s->label);
    fflush(p->out);
}

void bench_progress_end(bench_progress *p)
{
    if (p->tty && p->drawn && !p->quiet) fputc('\n', p->out);
    p->drawn = false;
}
