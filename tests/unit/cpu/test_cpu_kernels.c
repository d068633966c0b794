/* test_cpu_kernels.c: the CPU matmul kernels against their references.
 *
 * For every weight format and every instruction-set level this CPU has
 * (scalar, avx2, avx512): the activation quantizer must give the same bytes as
 * kref_quantize_q8a, and packed panels multiplied by the level's kernel must
 * match kref_gemm (quant/'s dequantizer, doubles) within a tolerance relative
 * to sum |w x| of each output, on awkward sizes: m not a multiple of 16,
 * n = 1, 2, 3, 5, 17, several super-blocks of k, with and without bias.
 * Prints the worst relative error per format and level. */
#include <math.h>
#include <stdint.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/ref/kernels_ref.h"
#include "check.h"
#define TEST_RAND_SEED 88172645463325252ull
#include "test_rand.h"
#include "quant/blocks.h"
#include "quant/quant.h"

static void check_quantize(const cpu_kernels *kt)
{
    enum { K = 32 * 9 };
    float x[K];
    kref_q8a a[K / 32], b[K / 32];
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < K; i++) x[i] = frand() * (trial % 5 == 0 ? 1e-3f : 3.0f);
        if (trial == 1) for (int i = 32; i < 64; i++) x[i] = 0; /* an all-zero block */
        if (trial == 2) x[5] = 1000.0f;                      /* one outlier */
        kref_quantize_q8a(x, a, K);
        kt->quantize_q8a(x, b, K);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "%s: quantize_q8a differs from the reference (trial %d)",
                  kt->name, trial);
    }
}

/* |got - want| <= rel * scale + abs_tol, elementwise; returns the worst ratio. */
static double worst_err(const float *got, const float *want, const float *scale, int64_t n,
                        double rel, double abs_tol, int *bad)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        double lim = rel * fabs((double)scale[i]) + abs_tol;
        if (!(e <= lim)) (*bad)++;
        double r = e / lim;
        if (!(r <= worst)) worst = r;
    }
    return worst;
}

/* The vector kernels of one level against kref_* on awkward lengths. */
static void check_vec(const cpu_kernels *kt)
{
    enum { NMAX = 1031 };
    static float a[NMAX], b[NMAX], want[NMAX], got[NMAX], scale[NMAX];
    static uint16_t h[NMAX];
    static int8_t q[NMAX];
    const int64_t lens[] = {1, 7, 8, 15, 16, 17, 33, 100, NMAX};
    double worst = 0;
    int bad = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        for (int64_t i = 0; i < n; i++) {
            a[i] = frand() * 12.0f;
            b[i] = frand() * 2.0f;
            scale[i] = a[i] * b[i];
        }
        a[0] = n > 3 ? -95.0f : a[0]; /* far tails of exp */
        if (n > 3) scale[0] = a[0] * b[0];
        kref_silu_mul(want, a, b, n);
        kt->silu_mul(got, a, b, n);
        worst = fmax(worst, worst_err(got, want, scale, n, 2e-6, 1e-30, &bad));
        kref_gelu_mul(want, a, b, n);
        kt->gelu_mul(got, a, b, n);
        worst = fmax(worst, worst_err(got, want, scale, n, 2e-6, 1e-30, &bad));
        /* in place, as the backend calls them */
        memcpy(got, a, sizeof(float) * (size_t)n);
        kt->silu_mul(got, got, b, n);
        kref_silu_mul(want, a, b, n);
        worst = fmax(worst, worst_err(got, want, scale, n, 2e-6, 1e-30, &bad));

        for (int64_t i = 0; i < n; i++) scale[i] = 30.0f;
        kref_softcap(want, a, 30.0f, n);
        kt->softcap(got, a, 30.0f, n);
        worst = fmax(worst, worst_err(got, want, scale, n, 2e-7, 0, &bad));

        float mx = kref_max(a, n);
        CHECK_MSG(kt->max(a, n) == mx, "%s max n=%lld", kt->name, (long long)n);
        float sw = kref_exp_sum(want, a, mx, n), sg = kt->exp_sum(got, a, mx, n);
        for (int64_t i = 0; i < n; i++) scale[i] = want[i];
        worst = fmax(worst, worst_err(got, want, scale, n, 2e-6, 1e-37, &bad));
        CHECK_MSG(fabs(sg - sw) <= 2e-6 * sw, "%s exp_sum n=%lld: %g vs %g", kt->name, (long long)n, sg, sw);

        double mag = 0;
        for (int64_t i = 0; i < n; i++) mag += fabs(a[i] * b[i]);
        float dw = kref_dot(a, b, n), dg = kt->dot(a, b, n);
        CHECK_MSG(fabs(dg - dw) <= 1e-6 * mag, "%s dot n=%lld: %g vs %g", kt->name, (long long)n, dg, dw);

        memcpy(want, b, sizeof(float) * (size_t)n);
        memcpy(got, b, sizeof(float) * (size_t)n);
        kref_scale_axpy(want, 0.75f, -1.5f, a, n);
        kt->scale_axpy(got, 0.75f, -1.5f, a, n);
        for (int64_t i = 0; i < n; i++) scale[i] = fabsf(0.75f * b[i]) + fabsf(1.5f * a[i]);
        worst = fmax(worst, worst_err(got, want, scale, n, 2e-7, 0, &bad));
        kref_scale(want, a, 0.3f, n);
        kt->scale(got, a, 0.3f, n);
        CHECK_MSG(memcmp(got, want, sizeof(float) * (size_t)n) == 0, "%s scale", kt->name);

        for (int64_t i = 0; i < n; i++) {
            h[i] = quant_f32_to_f16(a[i]);
            q[i] = (int8_t)(a[i] * 10);
        }
        kref_f16_to_f32(h, want, n);
        kt->f16_to_f32(h, got, n);
        CHECK_MSG(memcmp(got, want, sizeof(float) * (size_t)n) == 0, "%s f16_to_f32", kt->name);
        kref_bf16_to_f32(h, want, n);
        kt->bf16_to_f32(h, got, n);
        CHECK_MSG(memcmp(got, want, sizeof(float) * (size_t)n) == 0, "%s bf16_to_f32", kt->name);
        {
            static uint16_t h1[NMAX], h2[NMAX];
            float big[NMAX];
            for (int64_t i = 0; i < n; i++) big[i] = a[i] * (i % 3 == 0 ? 1e4f : i % 3 == 1 ? 1e-6f : 1.0f);
            if (n > 5) { big[1] = NAN; big[2] = INFINITY; big[3] = 70000.0f; big[4] = -0.0f; }
            kref_f32_to_f16(big, h1, n);
            kt->f32_to_f16(big, h2, n);
            CHECK_MSG(memcmp(h1, h2, 2 * (size_t)n) == 0, "%s f32_to_f16 n=%lld", kt->name, (long long)n);
            kref_f32_to_bf16(big, h1, n);
            kt->f32_to_bf16(big, h2, n);
            CHECK_MSG(memcmp(h1, h2, 2 * (size_t)n) == 0, "%s f32_to_bf16 n=%lld", kt->name, (long long)n);
        }
        kref_q8_to_f32(q, 0.037f, want, n);
        kt->q8_to_f32(q, 0.037f, got, n);
        CHECK_MSG(memcmp(got, want, sizeof(float) * (size_t)n) == 0, "%s q8_to_f32", kt->name);
    }
    /* attention blocks: odd query counts, key counts and head dims */
    static float qv[9 * 80], ktr[80 * 24], pv[9 * 24], vv[24 * 80], acc1[9 * 80], acc2[9 * 80], mg[9 * 80];
    const int hds[] = {64, 40, 80}, nts[] = {1, 5, 16, 24};
    for (int hi = 0; hi < 3; hi++) {
        for (int ti = 0; ti < 4; ti++) {
            int hd = hds[hi], nt = nts[ti], nq = 9;
            for (int i = 0; i < nq * hd; i++) qv[i] = frand();
            for (int i = 0; i < hd * 24; i++) ktr[i] = frand();
            for (int i = 0; i < nq * 24; i++) pv[i] = frand() > 0 ? frand() + 1.0f : 0.0f;
            for (int i = 0; i < 24 * hd; i++) vv[i] = frand();
            float sw[9 * 24], sg[9 * 24], smag[9 * 24];
            kref_attn_qk(qv, nq, hd, ktr, 24, hd, nt, sw, 24);
            kt->attn_qk(qv, nq, hd, ktr, 24, hd, nt, sg, 24);
            for (int i = 0; i < nq; i++)
                for (int t = 0; t < nt; t++) {
                    double m = 0;
                    for (int d = 0; d < hd; d++) m += fabs(qv[i * hd + d] * ktr[d * 24 + t]);
                    smag[i * 24 + t] = (float)m;
                    if (!(fabs(sg[i * 24 + t] - sw[i * 24 + t]) <= 1e-6 * m)) bad++;
                }
            for (int i = 0; i < nq * hd; i++) acc1[i] = acc2[i] = frand();
            kref_attn_pv(acc1, nq, hd, pv, 24, vv, nt);
            kt->attn_pv(acc2, nq, hd, pv, 24, vv, nt);
            for (int i = 0; i < nq; i++)
                for (int e = 0; e < hd; e++) {
                    double m = fabs(acc2[i * hd + e]);
                    for (int t = 0; t < nt; t++) m += fabs(pv[i * 24 + t] * vv[t * hd + e]);
                    mg[i * hd + e] = (float)m;
                }
            worst = fmax(worst, worst_err(acc2, acc1, mg, nq * hd, 1e-6, 0, &bad));
            (void)smag;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d vector kernel outputs out of tolerance", kt->name, bad);
    printf("vector kernels %-7s worst error / tolerance %.3f\n", kt->name, worst);
}

/* llama.cpp's activation rounding: Q8_0/Q8_1 from the level's quantizer plus
 * kref_q8a_to_kind equal kref_quantize_act; Q8_K equals quant/'s own Q8_K
 * quantizer (written from ggml's definition) in scale and quants. */
static void check_act_kinds(const cpu_kernels *kt)
{
    enum { K = 256 * 3 };
    float x[K];
    kref_q8a a[K / 32], b[K / 32];
    block_q8_K ref[K / 256];
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < K; i++) x[i] = frand() * (trial % 3 == 0 ? 0.01f : 4.0f);
        if (trial == 1) for (int i = 256; i < 512; i++) x[i] = 0;
        if (trial == 2) x[700] = -50.0f; /* the largest value negative */
        for (int kind = KREF_ACT_Q8_0; kind <= KREF_ACT_Q8_1; kind++) {
            kref_quantize_act((kref_act_kind)kind, x, a, K);
            kt->quantize_q8a(x, b, K);
            kref_q8a_to_kind((kref_act_kind)kind, b, K / 32);
            CHECK_MSG(memcmp(a, b, sizeof a) == 0, "%s: act kind %d differs (trial %d)", kt->name, kind, trial);
        }
        kref_quantize_act(KREF_ACT_Q8_K, x, a, K);
        quant_quantize(QT_Q8_K, x, ref, K);
        int bad = 0;
        for (int s = 0; s < K / 256; s++)
            for (int g = 0; g < 8; g++) {
                bad += a[8 * s + g].d != ref[s].d;
                bad += memcmp(a[8 * s + g].qs, ref[s].qs + 32 * g, 32) != 0;
            }
        CHECK_MSG(bad == 0, "Q8_K rounding differs from quant/'s in %d blocks (trial %d)", bad, trial);
    }
}

typedef struct result {
    double max_rel;
    int fails;
} result;

/* One case: W (m, k) of `type` from random floats, n activation rows. */
static void check_case(uint32_t type, int64_t m, int64_t k, int n, bool with_bias,
                       const cpu_kernels *levels[], int n_levels, result *res)
{
    size_t row_bytes = quant_row_size(type, k);
    uint8_t *w = malloc(row_bytes * (size_t)m);
    float *wf = malloc(sizeof(float) * (size_t)(m * k));
    float *xf = malloc(sizeof(float) * (size_t)(n * k));
    float *bias = malloc(sizeof(float) * (size_t)(m + 16));
    for (int64_t i = 0; i < m * k; i++) wf[i] = frand() * (1.0f + (float)(i % 7));
    for (int64_t i = 0; i < n * k; i++) xf[i] = frand() * (i % 13 == 0 ? 4.0f : 1.0f);
    for (int64_t i = 0; i < m + 16; i++) bias[i] = frand();
    for (int64_t r = 0; r < m; r++) quant_quantize(type, wf + r * k, w + r * row_bytes, k);

    bool q8a = kref_type_uses_q8a(type);
    size_t x_stride = q8a ? (size_t)(k / 32) * sizeof(kref_q8a) : (size_t)k * sizeof(float);
    uint8_t *x = malloc(x_stride * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (q8a) kref_quantize_q8a(xf + i * k, (kref_q8a *)(x + i * x_stride), k);
        else memcpy(x + i * x_stride, xf + i * k, (size_t)k * sizeof(float));
    }
    float *yref = malloc(sizeof(float) * (size_t)(n * m));
    kref_gemm(type, m, k, n, w, row_bytes, x, x_stride, yref, (size_t)m);

    /* sum |w x| per output, from the dequantized values, for the tolerance */
    float *wd = malloc(sizeof(float) * (size_t)k), *xd = malloc(sizeof(float) * (size_t)k);
    double *mag = malloc(sizeof(double) * (size_t)(n * m));
    for (int64_t j = 0; j < m; j++) {
        quant_dequantize(type, w + j * row_bytes, wd, k);
        for (int i = 0; i < n; i++) {
            const uint8_t *xp = x + i * x_stride;
            for (int64_t c = 0; c < k; c++)
                xd[c] = q8a ? ((const kref_q8a *)xp)[c / 32].d * ((const kref_q8a *)xp)[c / 32].qs[c % 32]
                            : ((const float *)xp)[c];
            double s = 0;
            for (int64_t c = 0; c < k; c++) s += fabs((double)wd[c] * xd[c]);
            mag[i * m + j] = s + (with_bias ? fabs(bias[j]) : 0);
        }
    }

    int64_t n_panels = (m + 15) / 16;
    size_t pbytes = kref_panel_bytes(type, k);
    uint8_t *panels = malloc(pbytes * (size_t)n_panels);
    for (int64_t p = 0; p < n_panels; p++) {
        int rows = (int)(m - 16 * p < 16 ? m - 16 * p : 16);
        kref_panel_pack(type, w + (size_t)(16 * p) * row_bytes, row_bytes, rows, k, panels + p * pbytes);
    }
    const kref_panel_format *fmt = kref_panel_format_of(type);
    float *y = malloc(sizeof(float) * (size_t)(n * m));
    for (int l = 0; l < n_levels; l++) {
        const cpu_kernels *kt = levels[l];
        cpu_gemm_fn fn = kt->gemm[fmt->panel_type];
        int max_n = kt->max_n[fmt->panel_type];
        for (int64_t i = 0; i < n * m; i++) y[i] = NAN;
        for (int64_t p = 0; p < n_panels; p++) {
            for (int c0 = 0; c0 < n; c0 += max_n) {
                kref_gemm_args a = {
                    .type = type, .k = k, .panel = panels + p * pbytes,
                    .rows = (int)(m - 16 * p < 16 ? m - 16 * p : 16),
                    .n = n - c0 < max_n ? n - c0 : max_n,
                    .x = x + (size_t)c0 * x_stride, .x_stride = x_stride,
                    .y = y + (size_t)c0 * m + 16 * p, .ldy = (size_t)m,
                    .bias = with_bias ? bias + 16 * p : NULL,
                };
                fn(&a);
            }
        }
        double worst = 0;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            for (int64_t j = 0; j < m; j++) {
                double want = yref[i * m + j] + (with_bias ? bias[j] : 0);
                double err = fabs((double)y[i * m + j] - want);
                double rel = err / (mag[i * m + j] + 1e-30);
                if (!(rel <= 3e-6) && !(err <= 1e-6)) bad++;
                if (!(rel <= worst)) worst = rel; /* NaN-safe: NaN wins */
            }
        }
        if (!(worst <= res[l].max_rel)) res[l].max_rel = worst;
        res[l].fails += bad;
        CHECK_MSG(bad == 0, "%s %s m=%lld k=%lld n=%d bias=%d: %d outputs off (worst rel %.3g)",
                  quant_type_name(type), kt->name, (long long)m, (long long)k, n, with_bias, bad, worst);
    }
    free(w); free(wf); free(xf); free(bias); free(x); free(yref); free(wd); free(xd); free(mag);
    free(panels); free(y);
}

int main(void)
{
    const cpu_kernels *levels[CPU_ISA_COUNT];
    int n_levels = 0;
    for (int i = 0; i < CPU_ISA_COUNT; i++) {
        const cpu_kernels *kt = cpu_kernels_for((cpu_isa)i);
        if (kt) levels[n_levels++] = kt;
        else printf("level %s: not on this CPU, skipped\n", cpu_isa_name((cpu_isa)i));
    }
    CHECK(cpu_kernels_get() != NULL);
    for (int l = 0; l < n_levels; l++) {
        check_quantize(levels[l]);
        check_act_kinds(levels[l]);
        check_vec(levels[l]);
    }

    const uint32_t types[] = {QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1,
                              QT_Q8_0, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_Q8_K};
    const int64_t ms[] = {1, 5, 16, 17, 45};
    const int ns[] = {1, 2, 3, 5, 17};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        uint32_t type = types[t];
        const kref_panel_format *f = kref_panel_format_of(type);
        CHECK_MSG(f != NULL, "%s has no panel format", quant_type_name(type));
        if (!f) continue;
        int64_t blk = quant_traits_of(type)->block_size, sb = f->sb > blk ? f->sb : blk;
        if (sb < 32) sb = 32;
        const int64_t ks[] = {sb, 3 * sb, sb == 32 ? 32 * 11 : 2 * sb};
        result res[CPU_ISA_COUNT] = {{0, 0}};
        int cases = 0;
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            for (size_t ki = 0; ki < 3; ki++)
                for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++, cases++)
                    check_case(type, ms[mi], ks[ki], ns[ni], (cases % 3) == 1, levels, n_levels, res);
        for (int l = 0; l < n_levels; l++)
            printf("%-5s %-7s %3d cases  max rel err %.2e  (%d outputs off)\n", quant_type_name(type),
                   levels[l]->name, cases, res[l].max_rel, res[l].fails);
    }
    return check_done();
}
