/* fit.c: the scale searches of fit.h. Plain squared error, no importance
 * weights: the reference quantizer aims at the lowest RMSE per group, which is
 * what the error bounds of tests/unit/quant measure. */
#include "quant/fit.h"

#include <math.h>

#define FIT_MAX_N 32
#define FIT_REFINE_ROUNDS 4

/* The search loops run ~40 candidates per group, so their rounding must not
 * branch: clamp with compare-selects (NaN goes to lo), then round to nearest
 * with the 1.5 * 2^23 trick, exact for the small range left. The final codes
 * use quant_round_clamp. */
static inline float round_clampf(float v, float lo, float hi)
{
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (v + 12582912.0f) - 12582912.0f;
}

/* Codes for scale 1 / is and the least-squares s for them; returns the squared
 * error of that s (sum x^2 - sxq^2 / sqq, closed form), or INFINITY when every
 * code is 0. */
static float sym_try(const float *x, int n, float sxx, float is, int qmin, int qmax,
                     float *out_s)
{
    float sxq = 0.0f, sqq = 0.0f, lo = (float)qmin, hi = (float)qmax;
    for (int i = 0; i < n; i++) {
        float q = round_clampf(is * x[i], lo, hi);
        sxq += x[i] * q;
        sqq += q * q;
    }
    if (sqq == 0.0f) return INFINITY;
    *out_s = sxq / sqq;
    return sxx - sxq * sxq / sqq;
}

float quant_fit_symmetric(const float *x, int n, int qmin, int qmax)
{
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        if (amax < fabsf(x[i])) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (!(amax > 0.0f) || !isfinite(amax)) return 0.0f;
    float sxx = 0.0f;
    for (int i = 0; i < n; i++) sxx += x[i] * x[i];

    /* The extreme lands near qmin (the longer side) or near qmax; stretching
     * it a little past the code range lets more of the bulk use more codes. */
    float best_s = (float)qmin != 0 ? max / (float)qmin : 0.0f, best_err = INFINITY;
    for (int side = 0; side < 2; side++) {
        float edge = side == 0 ? (float)qmin : (float)qmax;
        for (int t = -9; t <= 9; t++) {
            float target = edge + (edge < 0 ? -0.1f : 0.1f) * (float)t;
            float s = 0.0f, err = sym_try(x, n, sxx, target / max, qmin, qmax, &s);
            if (err < best_err) {
                best_err = err;
                best_s = s;
            }
        }
    }
    for (int r = 0; r < FIT_REFINE_ROUNDS && best_s != 0.0f; r++) {
        float s = 0.0f, err = sym_try(x, n, sxx, 1.0f / best_s, qmin, qmax, &s);
        if (!(err < best_err)) break;
        best_err = err;
        best_s = s;
    }
    return best_s;
}

/* Codes for x ~ s*q + b with given (s, b), then the least-squares (s, b) for
 * those codes under b <= 0; returns its squared error. */
static float aff_try(const float *x, int n, float s, float b, int qmax, float *out_s,
                     float *out_b)
{
    float q[FIT_MAX_N];
    float is = s > 0.0f ? 1.0f / s : 0.0f;
    float sq = 0.0f, sqq = 0.0f, sx = 0.0f, sqx = 0.0f;
    for (int i = 0; i < n; i++) {
        q[i] = round_clampf((x[i] - b) * is, 0.0f, (float)qmax);
        sq += q[i];
        sqq += q[i] * q[i];
        sx += x[i];
        sqx += q[i] * x[i];
    }
    float det = (float)n * sqq - sq * sq;
    float ns = 0.0f, nb = sx / (float)n;
    if (det > 0.0f) {
        ns = ((float)n * sqx - sq * sx) / det;
        nb = (sqq * sx - sq * sqx) / det;
    }
    if (nb > 0.0f) { /* the offset may only pull down: refit the scale alone */
        nb = 0.0f;
        ns = sqq > 0.0f ? sqx / sqq : 0.0f;
    }
    if (ns < 0.0f) ns = 0.0f;
    float err = 0.0f;
    for (int i = 0; i < n; i++) {
        float e = ns * q[i] + nb - x[i];
        err += e * e;
    }
    *out_s = ns;
    *out_b = nb;
    return err;
}

void quant_fit_affine(const float *x, int n, int qmax, float *out_s, float *out_m)
{
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
    }
    if (mn > 0.0f) mn = 0.0f;
    if (!(mx > mn) || !isfinite(mx - mn) || n > FIT_MAX_N) {
        *out_s = 0.0f;
        *out_m = isfinite(mn) ? -mn : 0.0f;
        return;
    }
    float range = mx - mn;
    float best_s = range / (float)qmax, best_b = mn, best_err = INFINITY;
    for (int t = 0; t <= 20; t++) {
        /* the range spans qmax - 1 .. qmax + 1 codes */
        float steps = (float)qmax - 1.0f + 0.1f * (float)t;
        float s, b, err = aff_try(x, n, range / steps, mn, qmax, &s, &b);
        if (err < best_err) {
            best_err = err;
            best_s = s;
            best_b = b;
        }
    }
    for (int r = 0; r < FIT_REFINE_ROUNDS && best_s > 0.0f; r++) {
        float s, b, err = aff_try(x, n, best_s, best_b, qmax, &s, &b);
        if (!(err < best_err)) break;
        best_err = err;
        best_s = s;
        best_b = b;
    }
    *out_s = best_s;
    *out_m = -best_b;
}
