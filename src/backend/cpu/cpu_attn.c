/* cpu_attn.c: attention over the paged KV pool for the CPU backend.
 *
 * Layout: the pool is ref's (ref/ref.h): head rows of hd values in the pool's
 * dtype, indexed by (layer, physical block, slot, KV head); q and out are
 * row-major F32 (n, h * hd) and (n, h * hdv).
 *
 * Blocking: a work item is a tile of consecutive batch rows of one sequence
 * (positions increase along it) times one KV head: the G = h / hkv query heads
 * that share the KV head and up to CPU_ATTN_QV / G rows, so each K/V block is
 * converted to F32 once per item and used by every query vector of the tile.
 * Per block: the scores of all the tile's query vectors (queries pre-scaled,
 * keys transposed: kt->attn_qk), then per query the visible range is kept,
 * the online softmax rescales its running sum and accumulator once if the
 * maximum grew, and the probabilities (zero outside the range) weight the
 * values for all queries at once (kt->attn_pv).
 * Items go to the thread pool; each thread has its own scratch.
 * Reference: ref_attention (ref/ref_attn.c), in double; tests compare. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

#define CRT(t) ((const ref_tensor *)(t))

typedef struct attn_ctx {
    cpu_backend *cb;
    const ref_batch *b;
    const ref_kv *kv;
    const be_attn *p;
    const float *q;
    float *out;
    int64_t q_width, o_width;
    const int32_t *tiles;    /* (n_tiles + 1) first batch row of each tile */
    int n_tiles;
    int group;
} attn_ctx;

static void load_row(const cpu_kernels *kt, be_kv_dtype dt, int32_t hd, const uint8_t *src,
                     float *dst)
{
    switch (dt) {
    case BE_KV_F32: memcpy(dst, src, sizeof(float) * (size_t)hd); return;
    case BE_KV_F16: kt->f16_to_f32((const uint16_t *)src, dst, hd); return;
    case BE_KV_BF16: kt->bf16_to_f32((const uint16_t *)src, dst, hd); return;
    case BE_KV_Q8: {
        int32_t g = be_kv_q8_group(hd);
        for (int32_t g0 = 0; g0 < hd; g0 += g) {
            uint16_t sh;
            memcpy(&sh, src + hd + 2 * (g0 / g), 2);
            kt->q8_to_f32((const int8_t *)src + g0, quant_f16_to_f32(sh), dst + g0, g);
        }
        return;
    }
    }
}

static int32_t first_visible(const be_attn *p, int32_t pos)
{
    return p->window > 0 && pos - p->window + 1 > 0 ? pos - p->window + 1 : 0;
}

static void attn_item(const attn_ctx *c, int tile, int32_t g, int tid)
{
    const cpu_kernels *kt = c->cb->kt;
    const ref_batch *b = c->b;
    const ref_kv *kv = c->kv;
    const be_kv_config *cfg = &kv->cfg;
    const be_attn *p = c->p;
    const int32_t hd = p->head_dim_k, hdv = p->head_dim_v, B = cfg->block_size, G = c->group;
    const int32_t r0 = c->tiles[tile], r1 = c->tiles[tile + 1], R = r1 - r0, QV = R * G;
    const int32_t s = b->seq[r0];

    /* scratch: keys transposed (hd, B), values (B, hdv), one key row, the
     * tile's scaled queries (QV, hd), accumulators (QV, hdv), max, sum,
     * probabilities (QV, B) */
    float *ktr = c->cb->attn_scratch + (size_t)tid * c->cb->attn_per_thread;
    float *vbuf = ktr + (size_t)hd * B;
    float *krow = vbuf + (size_t)B * hdv;
    float *qbuf = krow + hd;
    float *acc = qbuf + (size_t)CPU_ATTN_QV * hd;
    float *mx = acc + (size_t)QV * hdv;
    float *sum = mx + QV;
    float *sc = sum + QV;
    for (int32_t ri = 0; ri < R; ri++)
        for (int32_t hh = 0; hh < G; hh++)
            kt->scale(qbuf + (size_t)(ri * G + hh) * hd,
                      c->q + (size_t)(r0 + ri) * c->q_width + (size_t)(g * G + hh) * hd, p->scale, hd);
    for (int32_t i = 0; i < QV; i++) {
        mx[i] = -INFINITY;
        sum[i] = 0;
    }
    memset(acc, 0, sizeof(float) * (size_t)QV * hdv);

    int32_t tmin = first_visible(p, b->pos[r0]), tmax = b->pos[r1 - 1];
    for (int32_t r = r0; r < r1; r++) {
        int32_t t0 = first_visible(p, b->pos[r]);
        if (t0 < tmin) tmin = t0;
        if (b->pos[r] > tmax) tmax = b->pos[r];
    }
    const size_t layer_base = (size_t)p->layer * cfg->n_blocks;
    for (int32_t lb = tmin / B; lb <= tmax / B; lb++) {
        int32_t blk = b->blocks[b->block_off[s] + lb];
        int32_t tb0 = lb * B;
        int32_t ta = tmin > tb0 ? tmin : tb0, tz = tmax < tb0 + B - 1 ? tmax : tb0 + B - 1;
        int32_t nt = tz - ta + 1; /* keys ta..tz of this block, at columns 0..nt-1 */
        for (int32_t t = ta; t <= tz; t++) {
            size_t hr = ((layer_base + blk) * B + (t - tb0)) * cfg->n_kv_head + g;
            load_row(kt, cfg->dtype, hd, kv->k + hr * kv->k_row_bytes, krow);
            for (int32_t d = 0; d < hd; d++) ktr[(size_t)d * B + (t - ta)] = krow[d];
            load_row(kt, cfg->dtype, hdv, kv->v + hr * kv->v_row_bytes, vbuf + (size_t)(t - ta) * hdv);
        }
        kt->attn_qk(qbuf, QV, hd, ktr, B, hd, nt, sc, B);
        for (int32_t ri = 0; ri < R; ri++) {
            int32_t pos = b->pos[r0 + ri];
            int32_t lo = first_visible(p, pos), hi = pos;
            lo = lo > ta ? lo - ta : 0;
            hi = hi < tz ? hi - ta : nt - 1;
            for (int32_t hh = 0; hh < G; hh++) {
                float *row = sc + (size_t)(ri * G + hh) * B;
                int32_t qi = ri * G + hh;
                if (lo > hi) { /* nothing of this block is visible to the row */
                    memset(row, 0, sizeof(float) * (size_t)nt);
                    continue;
                }
                int32_t cnt = hi - lo + 1;
                if (p->softcap > 0) kt->softcap(row + lo, row + lo, p->softcap, cnt);
                float bm = kt->max(row + lo, cnt);
                if (bm > mx[qi]) {
                    if (mx[qi] > -INFINITY) {
                        float f = expf(mx[qi] - bm);
                        sum[qi] *= f;
                        kt->scale(acc + (size_t)qi * hdv, acc + (size_t)qi * hdv, f, hdv);
                    }
                    mx[qi] = bm;
                }
                sum[qi] += kt->exp_sum(row + lo, row + lo, mx[qi], cnt);
                if (lo > 0) memset(row, 0, sizeof(float) * (size_t)lo);
                if (hi < nt - 1) memset(row + hi + 1, 0, sizeof(float) * (size_t)(nt - 1 - hi));
            }
        }
        kt->attn_pv(acc, QV, hdv, sc, B, vbuf, nt);
    }
    for (int32_t ri = 0; ri < R; ri++) {
        for (int32_t hh = 0; hh < G; hh++) {
            int32_t qi = ri * G + hh;
            float *o = c->out + (size_t)(r0 + ri) * c->o_width + (size_t)(g * G + hh) * hdv;
            kt->scale(o, acc + (size_t)qi * hdv, sum[qi] > 0 ? 1.0f / sum[qi] : 0.0f, hdv);
        }
    }
}

static void attn_range(void *ctx, int64_t b, int64_t e, int tid)
{
    const attn_ctx *c = ctx;
    int32_t hkv = c->p->n_kv_head;
    for (int64_t it = b; it < e; it++) attn_item(c, (int)(it / hkv), (int32_t)(it % hkv), tid);
}

void cpu_op_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kvp,
                      const be_attn *p, int64_t n)
{
    cpu_backend *cb = (cpu_backend *)be;
    const ref_batch *b = &cb->rb.batch;
    const ref_kv *kv = (const ref_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    be_attention_assert(c, out, q, p, n, b->n);
    INF_ASSERT(CRT(q)->f && CRT(out)->f); /* activations */
    int group = p->n_head / p->n_kv_head;
    INF_ASSERT(cb->attn_scratch && cb->attn_per_thread >= cpu_attn_scratch_floats(c));
    if (group > CPU_ATTN_QV) { /* no model has this; the oracle still answers */
        ref_attention(be, out, q, kvp, p, n);
        return;
    }
    int max_rows = CPU_ATTN_QV / group;
    /* Tiles of consecutive rows of one sequence. */
    int n_tiles = 0;
    INF_ASSERT(n + 1 <= cb->tiles_cap);
    for (int32_t r = 0; r < n; r++) {
        if (r == 0 || b->seq[r] != b->seq[r - 1] || r - cb->tiles[n_tiles - 1] >= max_rows)
            cb->tiles[n_tiles++] = r;
    }
    cb->tiles[n_tiles] = (int32_t)n;
    attn_ctx ctx = {cb, b, kv, p, CRT(q)->f, ((ref_tensor *)out)->f, CRT(q)->info.ne[0],
                    CRT(out)->info.ne[0], cb->tiles, n_tiles, group};
    tp_parallel_for(cb->pool, (int64_t)n_tiles * p->n_kv_head, 1, attn_range, &ctx);
}

/* KV writes: F16 and BF16 rows through the kernel table's converters (bit for
 * bit ref_kv_store_row's); F32 and Q8 through ref's row codec. */
void cpu_op_kv_write(be_backend *be, be_kv *kvp, int32_t layer, const be_tensor *k,
                     const be_tensor *v, int64_t n)
{
    cpu_backend *cb = (cpu_backend *)be;
    const ref_batch *b = &cb->rb.batch;
    ref_kv *kv = (ref_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    INF_ASSERT(layer >= 0 && layer < c->n_layer && n <= b->n);
    INF_ASSERT(CRT(k)->f && CRT(k)->info.ne[0] == (int64_t)c->n_kv_head * c->head_dim_k);
    INF_ASSERT(CRT(v)->f && CRT(v)->info.ne[0] == (int64_t)c->n_kv_head * c->head_dim_v);
    const cpu_kernels *kt = cb->kt;
    for (int64_t i = 0; i < n; i++) {
        int32_t s = b->seq[i], p = b->pos[i];
        int32_t blk = b->blocks[b->block_off[s] + p / c->block_size], slot = p % c->block_size;
        INF_ASSERT(blk >= 0 && blk < c->n_blocks);
        for (int32_t g = 0; g < c->n_kv_head; g++) {
            size_t hr = (((size_t)layer * c->n_blocks + blk) * c->block_size + slot) * c->n_kv_head + g;
            const float *ks = CRT(k)->f + i * CRT(k)->info.ne[0] + (int64_t)g * c->head_dim_k;
            const float *vs = CRT(v)->f + i * CRT(v)->info.ne[0] + (int64_t)g * c->head_dim_v;
            uint8_t *kd = kv->k + hr * kv->k_row_bytes, *vd = kv->v + hr * kv->v_row_bytes;
            if (c->dtype == BE_KV_F16) {
                kt->f32_to_f16(ks, (uint16_t *)kd, c->head_dim_k);
                kt->f32_to_f16(vs, (uint16_t *)vd, c->head_dim_v);
            } else if (c->dtype == BE_KV_BF16) {
                kt->f32_to_bf16(ks, (uint16_t *)kd, c->head_dim_k);
                kt->f32_to_bf16(vs, (uint16_t *)vd, c->head_dim_v);
            } else {
                ref_kv_store_row(c->dtype, c->head_dim_k, ks, kd);
                ref_kv_store_row(c->dtype, c->head_dim_v, vs, vd);
            }
        }
    }
}
