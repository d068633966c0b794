/* fit.h: scale searches shared by the K-format quantizers (internal to quant/).
 *
 * Both fit a small group of values (16 or 32) with integer codes, minimising the
 * plain squared error: a handful of candidate scales around "the extreme value
 * lands on the extreme code", each followed by a least-squares solve for the
 * scale given the codes, keeping the best, then a few refinement rounds (codes
 * from the scale, scale from the codes) while the error still falls. */
#ifndef INFERD_QUANT_FIT_H
#define INFERD_QUANT_FIT_H

/* Returns s such that x[i] ~ s * q[i], q[i] integer in [qmin, qmax] (qmin < 0 <
 * qmax); s may be negative (the extreme value then lands on qmax instead of
 * qmin). 0 when every x is 0 (or not finite). */
float quant_fit_symmetric(const float *x, int n, int qmin, int qmax);

/* Finds s >= 0 and m >= 0 such that x[i] ~ s * q[i] - m, q[i] in [0, qmax]:
 * the K formats store the offset as a non-negative "min" that is subtracted, so
 * a group whose values are all positive gets m = 0. */
void quant_fit_affine(const float *x, int n, int qmax, float *out_s, float *out_m);

/* round(v) clamped to [lo, hi], NaN to 0 (or lo when 0 is out of range). Every
 * float -> int conversion of the K quantizers goes through it, so that inputs
 * with inf or NaN give defined codes instead of undefined behaviour. */
static inline int quant_round_clamp(float v, int lo, int hi)
{
    if (!(v == v)) return lo > 0 ? lo : (hi < 0 ? hi : 0);
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)(v + (v >= 0.0f ? 0.5f : -0.5f));
}

#endif
