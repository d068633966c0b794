/* ref_ops.c: the reference dense ops — embedding, matmul, RMSNorm, gated
 * activations, elementwise ops, softmax, output-row gather.
 *
 * Layout: activations are row-major F32, n rows of ne[0] values (ref.h); a
 * weight (m, k) is m rows of k values in its GGUF format, dequantized row by
 * row into the backend's scratch. Sums use double so that this file is the
 * most accurate thing in the project, not the fastest; contracts in backend.h. */
#include <math.h>
#include <string.h>

#include "backend/ref/ref.h"
#include "quant/quant.h"

#define RT(t) ((ref_tensor *)(t))
#define CRT(t) ((const ref_tensor *)(t))

static float *scratch(be_backend *be)
{
    return ((ref_backend *)be)->scratch;
}

void ref_embed(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n)
{
    const ref_batch *b = &((ref_backend *)be)->batch;
    int64_t d = CRT(w)->info.ne[0];
    INF_ASSERT(RT(out)->f && RT(out)->info.ne[0] == d && n <= b->n && n <= be_tensor_rows(out));
    for (int64_t i = 0; i < n; i++) {
        int32_t tok = b->token[i];
        INF_ASSERT(tok >= 0 && tok < be_tensor_rows(w));
        const float *row = ref_row(CRT(w), tok, scratch(be));
        memcpy(RT(out)->f + i * d, row, (size_t)d * sizeof(float));
    }
}

void ref_matmul(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                const be_tensor *bias, int64_t n)
{
    int64_t k = CRT(w)->info.ne[0], m = be_tensor_rows(w);
    INF_ASSERT(CRT(x)->f && CRT(x)->info.ne[0] == k && RT(out)->f && RT(out)->info.ne[0] == m);
    INF_ASSERT(n <= be_tensor_rows(x) && n <= be_tensor_rows(out) && out != x);
    INF_ASSERT(!bias || be_tensor_info_of(bias)->ne[0] == m);
    INF_ASSERT(!bias || CRT(bias)->info.type == QT_F32);
    const float *bf = bias ? (const float *)CRT(bias)->data : NULL;
    for (int64_t j = 0; j < m; j++) {
        const float *wr = ref_row(CRT(w), j, scratch(be));
        double bj = bf ? bf[j] : 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *xr = CRT(x)->f + i * k;
            double acc = 0;
            for (int64_t c = 0; c < k; c++) acc += (double)xr[c] * wr[c];
            RT(out)->f[i * m + j] = (float)(acc + bj);
        }
    }
}

void ref_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                  float eps, int64_t n)
{
    int64_t d = CRT(x)->info.ne[0], e = CRT(w)->info.ne[0];
    INF_ASSERT(CRT(x)->f && RT(out)->f && RT(out)->info.ne[0] == d && d % e == 0);
    INF_ASSERT(n <= be_tensor_rows(x) && n <= be_tensor_rows(out));
    const float *wr = ref_row(CRT(w), 0, scratch(be));
    for (int64_t g = 0; g < n * (d / e); g++) {
        const float *xg = CRT(x)->f + g * e;
        float *og = RT(out)->f + g * e;
        double ss = 0;
        for (int64_t c = 0; c < e; c++) ss += (double)xg[c] * xg[c];
        double r = 1.0 / sqrt(ss / (double)e + (double)eps);
        for (int64_t c = 0; c < e; c++) og[c] = (float)(xg[c] * r * wr[c]);
    }
}

static void check_same(const be_tensor *a, const be_tensor *b, int64_t n)
{
    INF_ASSERT(CRT(a)->f && CRT(b)->f && CRT(a)->info.ne[0] == CRT(b)->info.ne[0]);
    INF_ASSERT(n <= be_tensor_rows(a) && n <= be_tensor_rows(b));
}

void ref_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
                int64_t n)
{
    (void)be;
    check_same(out, gate, n);
    check_same(out, up, n);
    int64_t cnt = n * CRT(out)->info.ne[0];
    for (int64_t i = 0; i < cnt; i++) {
        double g = CRT(gate)->f[i];
        RT(out)->f[i] = (float)(g / (1.0 + exp(-g)) * CRT(up)->f[i]);
    }
}

void ref_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
               int64_t n)
{
    (void)be;
    check_same(out, gate, n);
    check_same(out, up, n);
    const double c = sqrt(2.0 / M_PI);
    int64_t cnt = n * CRT(out)->info.ne[0];
    for (int64_t i = 0; i < cnt; i++) {
        double g = CRT(gate)->f[i];
        double gelu = 0.5 * g * (1.0 + tanh(c * (g + 0.044715 * g * g * g)));
        RT(out)->f[i] = (float)(gelu * CRT(up)->f[i]);
    }
}

void ref_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    (void)be;
    check_same(out, a, n);
    check_same(out, b, n);
    int64_t cnt = n * CRT(out)->info.ne[0];
    for (int64_t i = 0; i < cnt; i++) RT(out)->f[i] = CRT(a)->f[i] + CRT(b)->f[i];
}

void ref_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    (void)be;
    check_same(out, a, n);
    check_same(out, b, n);
    int64_t cnt = n * CRT(out)->info.ne[0];
    for (int64_t i = 0; i < cnt; i++) RT(out)->f[i] = CRT(a)->f[i] * CRT(b)->f[i];
}

void ref_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n)
{
    (void)be;
    check_same(out, x, n);
    int64_t cnt = n * CRT(out)->info.ne[0];
    for (int64_t i = 0; i < cnt; i++) RT(out)->f[i] = CRT(x)->f[i] * s;
}

void ref_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n)
{
    (void)be;
    check_same(out, x, n);
    INF_ASSERT(cap > 0);
    int64_t cnt = n * CRT(out)->info.ne[0];
    for (int64_t i = 0; i < cnt; i++)
        RT(out)->f[i] = (float)(cap * tanh((double)CRT(x)->f[i] / cap));
}

void ref_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n)
{
    (void)be;
    check_same(out, x, n);
    int64_t d = CRT(x)->info.ne[0];
    for (int64_t i = 0; i < n; i++) {
        const float *xr = CRT(x)->f + i * d;
        float *orow = RT(out)->f + i * d;
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < d; c++) mx = xr[c] > mx ? xr[c] : mx;
        for (int64_t c = 0; c < d; c++) sum += exp((double)xr[c] - mx);
        for (int64_t c = 0; c < d; c++) orow[c] = (float)(exp((double)xr[c] - mx) / sum);
    }
}

void ref_gather_out(be_backend *be, be_tensor *out, const be_tensor *x)
{
    const ref_batch *b = &((ref_backend *)be)->batch;
    int64_t d = CRT(x)->info.ne[0];
    INF_ASSERT(out != x && RT(out)->f && CRT(x)->f && RT(out)->info.ne[0] == d);
    INF_ASSERT(b->n_out <= be_tensor_rows(out));
    for (int32_t j = 0; j < b->n_out; j++)
        memcpy(RT(out)->f + j * d, CRT(x)->f + (int64_t)b->out_rows[j] * d,
               (size_t)d * sizeof(float));
}
