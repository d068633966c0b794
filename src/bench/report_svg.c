/* report_svg.c: the SVG chart (report.h), written as plain text.
 *
 * Layout (960 px wide): a title block; then two panels side by side, the
 * aggregate throughput of each load phase (bars: sequential, each concurrency
 * level, open loop) and the TTFT distribution of the same phases (empirical
 * CDF, one step line per phase); then, when phase 3 ran, the prefix-cache
 * panel (1st and 2nd TTFT of each pair, with the speedup). Axes get "nice"
 * ticks (1, 2, 2.5, 5 x 10^k) and light grid lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/report.h"
#include "bench/summary.h"

#define W 960
#define PANEL_H 330
#define HEAD_H 84
#define MAX_PAIRS 16
#define FONT "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"

static const char *const palette[] = {"#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2",
                                      "#B279A2", "#EECA3B", "#9D755D", "#FF9DA6", "#BAB0AC"};
#define N_COLORS (sizeof palette / sizeof palette[0])

typedef struct box { double x, y, w, h; } box; /* a plot area, in px */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* Control characters are not allowed in XML 1.0 text. */
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f);
        }
    }
}

/* A text element; anchor is "start", "middle" or "end". */
static void text(FILE *f, double x, double y, const char *anchor, int size, const char *fill,
                 const char *weight, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" fill=\"%s\"%s%s%s>",
            x, y, anchor, size, fill, weight ? " font-weight=\"" : "", weight ? weight : "",
            weight ? "\"" : "");
    esc(f, s);
    fputs("</text>\n", f);
}

/* A tick step of 1, 2, 2.5 or 5 x 10^k giving about five ticks up to max. */
static double nice_step(double max)
{
    if (!(max > 0) || !isfinite(max)) return 1.0;
    double raw = max / 5.0, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    double m = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10;
    return m * mag;
}

/* Digits after the point that ticks of this step need (0.25 needs 2). */
static int step_decimals(double step)
{
    for (int d = 0; d < 3; d++) {
        double x = step * pow(10.0, d);
        if (fabs(x - round(x)) < 1e-9 * (1.0 + x)) return d;
    }
    return 3;
}

/* TTFTs are drawn in ms, or in seconds once they pass 10 s (shorter labels). */
static double ttft_div(double max_ms) { return max_ms > 10000 ? 1000.0 : 1.0; }

/* Draws the y axis of b from 0 to *top (rounded up to a tick) with grid lines
 * and a rotated title; returns the rounded top. */
static double y_axis(FILE *f, box b, double max, const char *title)
{
    double step = nice_step(max), top = step * ceil((max > 0 ? max : 1.0) / step);
    char buf[32];
    for (double v = 0; v <= top * (1 + 1e-9); v += step) {
        double y = b.y + b.h - v / top * b.h;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>\n",
                b.x, y, b.x + b.w, y);
        text(f, b.x - 8, y + 4, "end", 11, "#6b7280", NULL,
             bench_fmt(buf, sizeof buf, v, step_decimals(step)));
    }
    fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"12\" fill=\"#374151\">", b.x - 56, b.y + b.h / 2);
    esc(f, title);
    fputs("</text>\n", f);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>\n", b.x,
            b.y + b.h, b.x + b.w, b.y + b.h);
    return top;
}

static void panel_title(FILE *f, box b, const char *title, const char *sub)
{
    text(f, b.x - 56, b.y - 34, "start", 15, "#111827", "600", title);
    if (sub) text(f, b.x - 56, b.y - 16, "start", 11, "#6b7280", NULL, sub);
}

static bool is_load(const bench_phase *ph)
{
    return ph->kind == BENCH_SEQ || ph->kind == BENCH_CONC || ph->kind == BENCH_OPEN;
}

static void empty_note(FILE *f, box b, const char *s)
{
    text(f, b.x + b.w / 2, b.y + b.h / 2, "middle", 13, "#9ca3af", NULL, s);
}

static int throughput_panel(FILE *f, const bench_run *r, box b, inf_error *err)
{
    size_t n = 0;
    double max = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        if (!is_load(&r->phases[i])) continue;
        bench_phase_summary s;
        int rc = bench_phase_summarize(&r->phases[i], &s, err);
        if (rc) return rc;
        if (isfinite(s.throughput) && s.throughput > max) max = s.throughput;
        n++;
    }
    panel_title(f, b, "Aggregate throughput", "completion tokens / phase wall time, by load");
    double top = y_axis(f, b, max * 1.12, "tokens / s");
    if (!n) {
        empty_note(f, b, "no load phase ran");
        return 0;
    }
    double slot = b.w / (double)n, bw = slot * 0.56 < 70 ? slot * 0.56 : 70;
    size_t k = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (!is_load(ph)) continue;
        bench_phase_summary s;
        int rc = bench_phase_summarize(ph, &s, err);
        if (rc) return rc;
        double v = isfinite(s.throughput) ? s.throughput : 0;
        double cx = b.x + slot * ((double)k + 0.5), h = v / top * b.h;
        char name[48], val[32];
        bench_phase_name(ph, name, sizeof name);
        if (ph->kind == BENCH_SEQ) snprintf(name, sizeof name, "c=1 (seq)");
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"3\" "
                   "fill=\"%s\"><title>", cx - bw / 2, b.y + b.h - h, bw, h,
                palette[k % N_COLORS]);
        esc(f, name);
        fprintf(f, ": %.1f tok/s, %zu requests, %zu failed</title></rect>\n", v, s.n, s.n_failed);
        text(f, cx, b.y + b.h - h - 6, "middle", 11, "#111827", "600",
             bench_fmt(val, sizeof val, v, 1));
        text(f, cx, b.y + b.h + 16, "middle", 11, "#374151", NULL, name);
        if (s.n_failed) {
            snprintf(val, sizeof val, "%zu failed", s.n_failed);
            text(f, cx, b.y + b.h + 30, "middle", 10, "#E45756", NULL, val);
        }
        k++;
    }
    return 0;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static int ttft_panel(FILE *f, const bench_run *r, box b, inf_error *err)
{
    double max = 0;
    size_t n_series = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (!is_load(ph)) continue;
        for (size_t k = 0; k < ph->n; k++)
            if (ph->samples[k].fail == BENCH_FAIL_NONE && ph->samples[k].ttft * 1000 > max)
                max = ph->samples[k].ttft * 1000;
        n_series++;
    }
    panel_title(f, b, "Time to first token", "share of successful requests with TTFT <= x");
    /* The x axis: 0 .. max TTFT, ticks like the y axis. */
    double div = ttft_div(max);
    max /= div;
    double step = nice_step(max), right = step * ceil((max > 0 ? max : 1.0) / step);
    char buf[32];
    for (int p = 0; p <= 100; p += 25) {
        double y = b.y + b.h - p / 100.0 * b.h;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>\n",
                b.x, y, b.x + b.w, y);
        snprintf(buf, sizeof buf, "%d%%", p);
        text(f, b.x - 8, y + 4, "end", 11, "#6b7280", NULL, buf);
    }
    for (double v = 0; v <= right * (1 + 1e-9); v += step) {
        double x = b.x + v / right * b.w;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f3f4f6\"/>\n",
                x, b.y, x, b.y + b.h);
        text(f, x, b.y + b.h + 16, "middle", 11, "#6b7280", NULL,
             bench_fmt(buf, sizeof buf, v, step_decimals(step)));
    }
    text(f, b.x + b.w / 2, b.y + b.h + 36, "middle", 12, "#374151", NULL,
         div > 1 ? "TTFT (s)" : "TTFT (ms)");
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>\n", b.x,
            b.y + b.h, b.x + b.w, b.y + b.h);
    if (!n_series || max <= 0) {
        empty_note(f, b, "no successful request");
        return 0;
    }
    double *p50s = calloc(n_series, sizeof *p50s);
    if (!p50s) return inf_errorf(err, INF_ERR_NOMEM, "SVG: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (!is_load(ph)) continue;
        double *v = malloc((ph->n ? ph->n : 1) * sizeof *v);
        if (!v) {
            free(p50s);
            return inf_errorf(err, INF_ERR_NOMEM, "SVG: out of memory");
        }
        size_t m = 0;
        for (size_t j = 0; j < ph->n; j++)
            if (ph->samples[j].fail == BENCH_FAIL_NONE && isfinite(ph->samples[j].ttft))
                v[m++] = ph->samples[j].ttft * 1000 / div;
        qsort(v, m, sizeof *v, cmp_double);
        p50s[k] = m ? bench_percentile(v, m, 50) * div : NAN;
        if (m) {
            /* Steps: flat at the old share until each sample, then up. */
            fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
                       "stroke-linejoin=\"round\" d=\"M%.1f %.1f", palette[k % N_COLORS], b.x,
                    b.y + b.h);
            for (size_t j = 0; j < m; j++) {
                double x = b.x + v[j] / right * b.w;
                fprintf(f, " H%.1f V%.1f", x, b.y + b.h - (double)(j + 1) / (double)m * b.h);
            }
            fprintf(f, " H%.1f\"/>\n", b.x + b.w);
        }
        free(v);
        k++;
    }
    /* The legend, bottom right over a backing that keeps it readable. */
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"158\" height=\"%.1f\" rx=\"4\" "
               "fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#e5e7eb\"/>\n",
            b.x + b.w - 162, b.y + b.h - 34 - 18.0 * (double)(n_series - 1),
            18.0 * (double)n_series + 8);
    k = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (!is_load(ph)) continue;
        char name[48], label[96], p50[32];
        bench_phase_name(ph, name, sizeof name);
        double ly = b.y + b.h - 18 - 18.0 * (double)(n_series - 1 - k);
        double lx = b.x + b.w - 152;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" rx=\"1\" fill=\"%s\"/>\n",
                lx, ly - 6, palette[k % N_COLORS]);
        snprintf(label, sizeof label, "%s  p50 %s ms", name, bench_fmt(p50, sizeof p50, p50s[k], 0));
        text(f, lx + 20, ly, "start", 11, "#374151", NULL, label);
        k++;
    }
    free(p50s);
    return 0;
}

static void prefix_panel(FILE *f, const bench_run *r, box b)
{
    bench_prefix_pair pairs[2 * MAX_PAIRS];
    bool sys[2 * MAX_PAIRS];
    size_t n = 0;
    double max = 0;
    for (size_t i = 0; i < r->n_phases; i++) {
        const bench_phase *ph = &r->phases[i];
        if (ph->kind != BENCH_PREFIX && ph->kind != BENCH_PREFIX_SYS) continue;
        size_t k = bench_prefix_pairs(ph, pairs + n, MAX_PAIRS);
        for (size_t j = n; j < n + k; j++) {
            sys[j] = ph->kind == BENCH_PREFIX_SYS;
            double a = pairs[j].first->ttft * 1000, c = pairs[j].second->ttft * 1000;
            if (isfinite(a) && a > max) max = a;
            if (isfinite(c) && c > max) max = c;
        }
        n += k;
    }
    panel_title(f, b, "Prefix cache: the same prompt twice",
                "TTFT of the 1st and 2nd request of each pair; the label is the speedup");
    double div = ttft_div(max);
    max /= div;
    double top = y_axis(f, b, max * 1.15, div > 1 ? "TTFT (s)" : "TTFT (ms)");
    if (!n) {
        empty_note(f, b, "no pair completed");
        return;
    }
    double slot = b.w / (double)n, bw = slot * 0.3 < 40 ? slot * 0.3 : 40;
    char buf[64];
    for (size_t j = 0; j < n; j++) {
        double cx = b.x + slot * ((double)j + 0.5);
        const bench_sample *s2[2] = {pairs[j].first, pairs[j].second};
        for (int t = 0; t < 2; t++) {
            double v = s2[t]->fail == BENCH_FAIL_NONE ? s2[t]->ttft * 1000 / div : 0;
            double h = isfinite(v) ? v / top * b.h : 0, x = cx + (t ? 2 : -2 - bw);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\" "
                       "fill=\"%s\"><title>%s: %.0f ms</title></rect>\n",
                    x, b.y + b.h - h, bw, h, t ? "#F58518" : "#4C78A8", t ? "2nd" : "1st",
                    v * div);
        }
        double hi = 0;
        for (int t = 0; t < 2; t++)
            if (s2[t]->fail == BENCH_FAIL_NONE && s2[t]->ttft * 1000 / div > hi)
                hi = s2[t]->ttft * 1000 / div;
        snprintf(buf, sizeof buf, "%sx", isfinite(pairs[j].speedup) ? "" : "-");
        if (isfinite(pairs[j].speedup)) {
            char num[32];
            snprintf(buf, sizeof buf, "%sx", bench_fmt(num, sizeof num, pairs[j].speedup, 2));
        }
        text(f, cx, b.y + b.h - hi / top * b.h - 8, "middle", 12, "#111827", "600", buf);
        char label[40];
        snprintf(label, sizeof label, "%.22s%s", pairs[j].first->label,
                 strlen(pairs[j].first->label) > 22 ? "..." : "");
        text(f, cx, b.y + b.h + 16, "middle", 11, "#374151", NULL, label);
        text(f, cx, b.y + b.h + 30, "middle", 10, "#6b7280", NULL,
             sys[j] ? "+ long system prompt" : "no system prompt");
    }
    double lx = b.x + b.w - 130, ly = b.y - 22;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" rx=\"2\" fill=\"#4C78A8\"/>\n",
            lx, ly - 10);
    text(f, lx + 18, ly, "start", 11, "#374151", NULL, "1st");
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" rx=\"2\" fill=\"#F58518\"/>\n",
            lx + 60, ly - 10);
    text(f, lx + 78, ly, "start", 11, "#374151", NULL, "2nd");
}

int bench_report_svg(const bench_run *r, const char *path, inf_error *err)
{
    bool prefix = false;
    for (size_t i = 0; i < r->n_phases; i++)
        prefix |= r->phases[i].kind == BENCH_PREFIX || r->phases[i].kind == BENCH_PREFIX_SYS;
    int h = HEAD_H + PANEL_H + (prefix ? PANEL_H : 0) + 10;
    FILE *f = fopen(path, "w");
    if (!f) return inf_errorf(err, INF_ERR_IO, "%s: cannot open for writing", path);
    int rc = 0;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"%s\">\n",
            W, h, W, h, FONT);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    char title[512], sub[512];
    snprintf(title, sizeof title, "inferd bench: %s", r->model);
    snprintf(sub, sizeof sub, "%s  |  %s  |  max_tokens %d, temperature %g  |  prompts: %s",
             r->url, r->date, r->max_tokens, r->temperature, r->prompts_source);
    text(f, 24, 36, "start", 20, "#111827", "700", title);
    text(f, 24, 58, "start", 12, "#6b7280", NULL, sub);
    fprintf(f, "<line x1=\"24\" y1=\"72\" x2=\"%d\" y2=\"72\" stroke=\"#e5e7eb\"/>\n", W - 24);
    box left = {80, HEAD_H + 62, 360, PANEL_H - 122};
    box right = {560, HEAD_H + 62, 370, PANEL_H - 122};
    if ((rc = throughput_panel(f, r, left, err))) goto out;
    if ((rc = ttft_panel(f, r, right, err))) goto out;
    if (prefix) prefix_panel(f, r, (box){80, HEAD_H + PANEL_H + 52, 850, PANEL_H - 112});
    fputs("</svg>\n", f);
out:
    if (fclose(f) && !rc) rc = inf_errorf(err, INF_ERR_IO, "%s: write failed", path);
    return rc;
}
