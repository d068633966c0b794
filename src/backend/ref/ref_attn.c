/* ref_attn.c: the reference position and attention ops — RoPE, KV writes into
 * the paged pool, attention through block tables, block copies.
 *
 * Pool layout (ref.h): head rows of hd values, indexed by (layer, physical
 * block, slot, KV head). A token at position p of sequence s is in physical
 * block blocks[s][p / B], slot p % B. Attention walks positions t = t0..pos[i]
 * of the row's sequence, loads each key/value head row into F32 and keeps one
 * score per position, in double; the reference for every paged attention kernel
 * (cpu, cuda) in any KV dtype. RoPE follows be_rope (backend.h), which is ggml's
 * definition, YaRN included. */
#include <math.h>
#include <string.h>

#include "backend/ref/ref.h"
#include "quant/quant.h"

#define RT(t) ((ref_tensor *)(t))
#define CRT(t) ((const ref_tensor *)(t))

/* ---- RoPE ---- */

/* Dimension (in pair units x 2) at which a frequency completes n_rot rotations
 * over the original context; YaRN leaves dims below the fast edge extrapolated
 * and interpolates those past the slow edge. */
static double yarn_corr_dim(int32_t n_dims, int32_t n_ctx_orig, double n_rot, double base)
{
    return n_dims * log(n_ctx_orig / (n_rot * 2.0 * M_PI)) / (2.0 * log(base));
}

void ref_rope_angle(const be_rope *rope, const float *freq_factors, int32_t pos, int32_t i,
                    double *theta, double *mscale)
{
    double ext = (double)pos * pow((double)rope->freq_base, -2.0 * i / rope->n_dims);
    if (freq_factors) ext /= freq_factors[i];
    double interp = rope->freq_scale * ext;
    *theta = interp;
    *mscale = rope->attn_factor;
    if (rope->ext_factor != 0.0f) {
        double lo = floor(yarn_corr_dim(rope->n_dims, rope->n_ctx_orig, rope->beta_fast,
                                        rope->freq_base));
        double hi = ceil(yarn_corr_dim(rope->n_dims, rope->n_ctx_orig, rope->beta_slow,
                                       rope->freq_base));
        if (lo < 0) lo = 0;
        if (hi > rope->n_dims - 1) hi = rope->n_dims - 1;
        double y = (i - lo) / fmax(0.001, hi - lo);
        double ramp = 1.0 - fmin(1.0, fmax(0.0, y));
        double mix = ramp * rope->ext_factor;
        *theta = interp * (1.0 - mix) + ext * mix;
        *mscale *= 1.0 + 0.1 * log(1.0 / rope->freq_scale);
    }
}

void ref_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim, const be_rope *rope,
              int64_t n)
{
    const ref_batch *b = &((ref_backend *)be)->batch;
    INF_ASSERT(RT(x)->f && RT(x)->info.ne[0] == (int64_t)n_head * head_dim);
    INF_ASSERT(rope->n_dims > 0 && rope->n_dims % 2 == 0 && rope->n_dims <= head_dim);
    INF_ASSERT(n <= b->n && n <= be_tensor_rows(x));
    const float *ff = NULL;
    if (rope->freq_factors) {
        INF_ASSERT(CRT(rope->freq_factors)->info.type == QT_F32 &&
                   CRT(rope->freq_factors)->info.ne[0] >= rope->n_dims / 2);
        ff = (const float *)CRT(rope->freq_factors)->data;
    }
    int32_t half = rope->n_dims / 2;
    for (int64_t r = 0; r < n; r++) {
        for (int32_t i = 0; i < half; i++) {
            double theta, ms;
            ref_rope_angle(rope, ff, b->pos[r], i, &theta, &ms);
            double c = cos(theta) * ms, s = sin(theta) * ms;
            for (int32_t h = 0; h < n_head; h++) {
                float *xh = RT(x)->f + r * RT(x)->info.ne[0] + (int64_t)h * head_dim;
                int32_t a = rope->mode == BE_ROPE_NEOX ? i : 2 * i;
                int32_t z = rope->mode == BE_ROPE_NEOX ? i + half : 2 * i + 1;
                double x0 = xh[a], x1 = xh[z];
                xh[a] = (float)(x0 * c - x1 * s);
                xh[z] = (float)(x0 * s + x1 * c);
            }
        }
    }
}

/* ---- KV head-row codecs ---- */

void ref_kv_store_row(be_kv_dtype dtype, int32_t hd, const float *src, uint8_t *dst)
{
    switch (dtype) {
    case BE_KV_F32:
        memcpy(dst, src, (size_t)hd * sizeof(float));
        return;
    case BE_KV_F16:
    case BE_KV_BF16:
        for (int32_t c = 0; c < hd; c++) {
            uint16_t h = dtype == BE_KV_F16 ? quant_f32_to_f16(src[c]) : quant_f32_to_bf16(src[c]);
            memcpy(dst + 2 * c, &h, 2);
        }
        return;
    case BE_KV_Q8: {
        int32_t g = be_kv_q8_group(hd);
        int8_t *q = (int8_t *)dst;
        uint8_t *scales = dst + hd;
        for (int32_t g0 = 0; g0 < hd; g0 += g) {
            float amax = 0;
            for (int32_t c = 0; c < g; c++) amax = fmaxf(amax, fabsf(src[g0 + c]));
            uint16_t sh = quant_f32_to_f16(amax / 127.0f);
            float s = quant_f16_to_f32(sh);
            for (int32_t c = 0; c < g; c++) {
                float v = s > 0 ? roundf(src[g0 + c] / s) : 0.0f;
                q[g0 + c] = (int8_t)fmaxf(-127.0f, fminf(127.0f, v));
            }
            memcpy(scales + 2 * (g0 / g), &sh, 2);
        }
        return;
    }
    }
    INF_ASSERT(!"unknown kv dtype");
}

void ref_kv_load_row(be_kv_dtype dtype, int32_t hd, const uint8_t *src, float *dst)
{
    switch (dtype) {
    case BE_KV_F32:
        memcpy(dst, src, (size_t)hd * sizeof(float));
        return;
    case BE_KV_F16:
    case BE_KV_BF16:
        for (int32_t c = 0; c < hd; c++) {
            uint16_t h;
            memcpy(&h, src + 2 * c, 2);
            dst[c] = dtype == BE_KV_F16 ? quant_f16_to_f32(h) : quant_bf16_to_f32(h);
        }
        return;
    case BE_KV_Q8: {
        int32_t g = be_kv_q8_group(hd);
        const int8_t *q = (const int8_t *)src;
        for (int32_t c = 0; c < hd; c++) {
            uint16_t sh;
            memcpy(&sh, src + hd + 2 * (c / g), 2);
            dst[c] = q[c] * quant_f16_to_f32(sh);
        }
        return;
    }
    }
    INF_ASSERT(!"unknown kv dtype");
}

/* ---- KV pool ---- */

static size_t head_row_index(const ref_kv *kv, int32_t layer, int32_t block, int32_t slot,
                             int32_t g)
{
    const be_kv_config *c = &kv->cfg;
    return (((size_t)layer * c->n_blocks + block) * c->block_size + slot) * c->n_kv_head + g;
}

/* Physical block of position t of batch sequence s. */
static int32_t block_of(const ref_batch *b, int32_t s, int32_t t, int32_t bs)
{
    return b->blocks[b->block_off[s] + t / bs];
}

void ref_kv_write(be_backend *be, be_kv *kvp, int32_t layer, const be_tensor *k,
                  const be_tensor *v, int64_t n)
{
    const ref_batch *b = &((ref_backend *)be)->batch;
    ref_kv *kv = (ref_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    INF_ASSERT(layer >= 0 && layer < c->n_layer && n <= b->n);
    INF_ASSERT(CRT(k)->f && CRT(k)->info.ne[0] == (int64_t)c->n_kv_head * c->head_dim_k);
    INF_ASSERT(CRT(v)->f && CRT(v)->info.ne[0] == (int64_t)c->n_kv_head * c->head_dim_v);
    for (int64_t i = 0; i < n; i++) {
        int32_t s = b->seq[i], p = b->pos[i];
        int32_t blk = block_of(b, s, p, c->block_size), slot = p % c->block_size;
        INF_ASSERT(blk >= 0 && blk < c->n_blocks);
        for (int32_t g = 0; g < c->n_kv_head; g++) {
            size_t hr = head_row_index(kv, layer, blk, slot, g);
            ref_kv_store_row(c->dtype, c->head_dim_k,
                             CRT(k)->f + i * CRT(k)->info.ne[0] + (int64_t)g * c->head_dim_k,
                             kv->k + hr * kv->k_row_bytes);
            ref_kv_store_row(c->dtype, c->head_dim_v,
                             CRT(v)->f + i * CRT(v)->info.ne[0] + (int64_t)g * c->head_dim_v,
                             kv->v + hr * kv->v_row_bytes);
        }
    }
}

void ref_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kvp,
                   const be_attn *p, int64_t n)
{
    ref_backend *rb = (ref_backend *)be;
    const ref_batch *b = &rb->batch;
    const ref_kv *kv = (const ref_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    int32_t hd = p->head_dim_k, hdv = p->head_dim_v;
    be_attention_assert(c, out, q, p, n, b->n);
    INF_ASSERT(CRT(q)->f && RT(out)->f); /* activations */
    /* Scratch: key row, value row, then one score per visible position. */
    float *krow = rb->scratch, *vrow = rb->scratch + hd;
    int32_t group = p->n_head / p->n_kv_head;
    for (int64_t i = 0; i < n; i++) {
        int32_t s = b->seq[i], pos = b->pos[i];
        int32_t t0 = p->window > 0 && pos - p->window + 1 > 0 ? pos - p->window + 1 : 0;
        INF_ASSERT(rb->scratch_cap >= (size_t)(hd + hdv + pos - t0 + 1));
        float *score = rb->scratch + hd + hdv;
        for (int32_t h = 0; h < p->n_head; h++) {
            int32_t g = h / group;
            const float *qh = CRT(q)->f + i * CRT(q)->info.ne[0] + (int64_t)h * hd;
            double mx = -INFINITY;
            for (int32_t t = t0; t <= pos; t++) {
                size_t hr = head_row_index(kv, p->layer, block_of(b, s, t, c->block_size),
                                           t % c->block_size, g);
                ref_kv_load_row(c->dtype, hd, kv->k + hr * kv->k_row_bytes, krow);
                double dot = 0;
                for (int32_t e = 0; e < hd; e++) dot += (double)qh[e] * krow[e];
                dot *= p->scale;
                if (p->softcap > 0) dot = p->softcap * tanh(dot / p->softcap);
                score[t - t0] = (float)dot;
                if (dot > mx) mx = dot;
            }
            double sum = 0;
            for (int32_t t = t0; t <= pos; t++) sum += exp(score[t - t0] - mx);
            float *oh = RT(out)->f + i * RT(out)->info.ne[0] + (int64_t)h * hdv;
            for (int32_t e = 0; e < hdv; e++) oh[e] = 0;
            /* Weights in double, sums in float: the weights add up to one, so
             * the sum's rounding stays near the float ulp of the largest value. */
            double acc_scale = 1.0 / sum;
            for (int32_t t = t0; t <= pos; t++) {
                size_t hr = head_row_index(kv, p->layer, block_of(b, s, t, c->block_size),
                                           t % c->block_size, g);
                ref_kv_load_row(c->dtype, hdv, kv->v + hr * kv->v_row_bytes, vrow);
                double w = exp(score[t - t0] - mx) * acc_scale;
                for (int32_t e = 0; e < hdv; e++) oh[e] += (float)(w * vrow[e]);
            }
        }
    }
}

void ref_kv_copy_block(be_backend *be, be_kv *kvp, int32_t dst, int32_t src)
{
    (void)be;
    ref_kv *kv = (ref_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    INF_ASSERT(dst >= 0 && dst < c->n_blocks && src >= 0 && src < c->n_blocks);
    size_t rows = (size_t)c->block_size * c->n_kv_head;
    for (int32_t l = 0; l < c->n_layer; l++) {
        memmove(kv->k + head_row_index(kv, l, dst, 0, 0) * kv->k_row_bytes,
                kv->k + head_row_index(kv, l, src, 0, 0) * kv->k_row_bytes, rows * kv->k_row_bytes);
        memmove(kv->v + head_row_index(kv, l, dst, 0, 0) * kv->v_row_bytes,
                kv->v + head_row_index(kv, l, src, 0, 0) * kv->v_row_bytes, rows * kv->v_row_bytes);
    }
}
