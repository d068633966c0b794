// cuda_attn.cu: RoPE, KV writes into the paged pool, attention through block
// tables, block copies. Reference: ref_attn.c (angles, codecs and softmax in
// double there; float here except the RoPE angles, which stay in double so that
// long positions keep their precision).
//
// Pool layout: cuda_common.cuh (the same head rows as ref.h). A token at
// position t of batch sequence s lives in physical block
// blocks[block_off[s] + t / B], slot t % B.
//
// Attention: one block of 128 threads per (row, head, split). The keys a row
// sees (t0..pos, t0 from the sliding window) are cut into n_split equal ranges,
// n_split > 1 only when the rows x heads alone do not fill the GPU (decode over
// a long context). A block walks its range in tiles of 64 keys: each warp
// scores keys of the tile (lanes split the head dim, q in shared memory), then
// every thread folds the tile into an online softmax (running max and sum) and
// accumulates the values of up to 4 output dims (hdv <= 512). With one split
// the block writes the normalised row; otherwise it writes (max, sum, acc) to
// scratch and a second kernel combines the splits.
#include "backend/cuda/cuda_attn.cuh"

#include <cmath>

#include "backend/cuda/cuda_attn_decode.cuh"
#include "backend/cuda/cuda_fattn.cuh"
#include "backend/cuda/cuda_mmf.cuh"

namespace {

constexpr int ATT_THREADS = 128;
constexpr int ATT_TILE = 64;
constexpr int ATT_EPT = 4; // output dims per thread: hdv <= 512
constexpr int ATT_REST_BLOCKS = 2048; // grid of attn_rest_kernel

// ---- RoPE ----

using rope_args = cu_rope_args;

// The rotation of pair i of a head at position p: (cos, sin), scaled.
__device__ void rope_angle(int i, int p, const rope_args &a, const float *ff, double *c, double *s)
{
    double ext = (double)p * pow(a.base, -2.0 * i / a.n_dims);
    if (ff) ext /= ff[i];
    double interp = a.freq_scale * ext, theta = interp, ms = a.attn_factor;
    if (a.ext_factor != 0.0) {
        double y = (i - a.lo) / fmax(0.001, a.hi - a.lo);
        double mix = (1.0 - fmin(1.0, fmax(0.0, y))) * a.ext_factor;
        theta = interp * (1.0 - mix) + ext * mix;
        ms *= 1.0 + 0.1 * log(1.0 / a.freq_scale);
    }
    sincos(theta, s, c);
    *c *= ms;
    *s *= ms;
}

// Rotates pair i of head row xh by (c, s).
__device__ __forceinline__ void rope_pair(float *xh, int i, const rope_args &a, double c, double s)
{
    int half = a.n_dims / 2;
    int ia = a.mode == BE_ROPE_NEOX ? i : 2 * i, iz = a.mode == BE_ROPE_NEOX ? i + half : 2 * i + 1;
    double x0 = xh[ia], x1 = xh[iz];
    xh[ia] = (float)(x0 * c - x1 * s);
    xh[iz] = (float)(x0 * s + x1 * c);
}

double yarn_corr_dim(int n_dims, int n_ctx_orig, double n_rot, double base)
{
    return n_dims * log(n_ctx_orig / (n_rot * 2.0 * M_PI)) / (2.0 * log(base));
}

// ---- KV codecs ----

__device__ __forceinline__ uint16_t f32_to_bf16(float f)
{
    uint32_t x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// Stores hd values of src as one head row (one warp).
__device__ void store_row(int dtype, int hd, const float *src, uint8_t *dst)
{
    int lane = threadIdx.x % 32;
    if (dtype == BE_KV_F32) {
        for (int c = lane; c < hd; c += 32) ((float *)dst)[c] = src[c];
    } else if (dtype == BE_KV_F16) {
        for (int c = lane; c < hd; c += 32)
            ((uint16_t *)dst)[c] = __half_as_ushort(__float2half_rn(src[c]));
    } else if (dtype == BE_KV_BF16) {
        for (int c = lane; c < hd; c += 32) ((uint16_t *)dst)[c] = f32_to_bf16(src[c]);
    } else {
        int g = hd % 64 == 0 ? 64 : hd;
        int8_t *q = (int8_t *)dst;
        for (int g0 = 0; g0 < hd; g0 += g) {
            float amax = 0.0f;
            for (int c = lane; c < g; c += 32) amax = fmaxf(amax, fabsf(src[g0 + c]));
            amax = cu_warp_max(amax);
            uint16_t sh = __half_as_ushort(__float2half_rn(amax / 127.0f));
            float s = cu_f16(sh);
            for (int c = lane; c < g; c += 32) {
                float v = s > 0 ? roundf(src[g0 + c] / s) : 0.0f;
                q[g0 + c] = (int8_t)fmaxf(-127.0f, fminf(127.0f, v));
            }
            if (lane == 0) {
                dst[hd + 2 * (g0 / g)] = (uint8_t)(sh & 255);
                dst[hd + 2 * (g0 / g) + 1] = (uint8_t)(sh >> 8);
            }
        }
    }
}

template <int DT>
__device__ __forceinline__ float load_kv(const uint8_t *row, int hd, int e)
{
    if constexpr (DT == BE_KV_F32) {
        return ((const float *)row)[e];
    } else if constexpr (DT == BE_KV_F16) {
        return cu_f16(((const uint16_t *)row)[e]);
    } else if constexpr (DT == BE_KV_BF16) {
        return cu_bf16(((const uint16_t *)row)[e]);
    } else {
        int g = hd % 64 == 0 ? 64 : hd;
        const uint8_t *sp = row + hd + 2 * (e / g);
        uint16_t sh = (uint16_t)(sp[0] | (sp[1] << 8));
        return (float)((const int8_t *)row)[e] * cu_f16(sh);
    }
}

// One warp per (row, KV head): grid (n, hkv), 32 threads.
__global__ void kv_write_kernel(int dtype, uint8_t *kbase, uint8_t *vbase, size_t krb, size_t vrb,
                                const float *k, const float *v, int hkv, int hd, int hdv, int B,
                                const int32_t *pos, const int32_t *seq, const int32_t *block_off,
                                const int32_t *blocks)
{
    cu_pdl_wait();
    int64_t i = blockIdx.x;
    int g = blockIdx.y;
    int p = pos[i], s = seq[i];
    int32_t blk = blocks[block_off[s] + p / B];
    size_t hr = ((size_t)blk * B + p % B) * hkv + g;
    store_row(dtype, hd, k + i * (int64_t)hkv * hd + (int64_t)g * hd, kbase + hr * krb);
    store_row(dtype, hdv, v + i * (int64_t)hkv * hdv + (int64_t)g * hdv, vbase + hr * vrb);
}

// The KV write fused into the RoPE kernel: where k's head rows go.
struct kv_store {
    bool on;
    int dtype;
    uint8_t *kbase, *vbase;  // the layer's first head row
    size_t krb, vrb;
    const float *v;          // (n, hkv * hdv)
    int hdv, B;
    const int32_t *seq, *block_off, *blocks;
};

// Grid (n, h0 + h1), one head row a block: heads y < h0 of tensor 0 (q), the
// others of tensor 1 (k). With st.on, a block of k then stores its (roped) key
// row and the value row of the same KV head into the pool, as kv_write_kernel.
__global__ void rope_store_kernel(float *x0, int64_t ld0, int h0, float *x1, int64_t ld1, int hd,
                                  rope_args a, const float *ff, const int32_t *pos, kv_store st)
{
    // The angles depend on the position alone (uploaded before the step's
    // first kernel): the double-precision sincos of a thread's first pair (its
    // only one up to 2 x 128 rotated dims) runs before the wait for the matmul
    // that writes the rows.
    int64_t r = blockIdx.x;
    int y = blockIdx.y;
    bool second = y >= h0;
    int h = second ? y - h0 : y;
    float *xh = second ? x1 + r * ld1 + (int64_t)h * hd : x0 + r * ld0 + (int64_t)h * hd;
    const int p = pos[r], half = a.n_dims / 2, i0 = threadIdx.x;
    double c0 = 1.0, s0 = 0.0;
    if (i0 < half) rope_angle(i0, p, a, ff, &c0, &s0);
    cu_pdl_wait();
    for (int i = i0; i < half; i += blockDim.x) {
        double c = c0, s = s0;
        if (i != i0) rope_angle(i, p, a, ff, &c, &s);
        rope_pair(xh, i, a, c, s);
    }
    if (!second || !st.on) return;
    __syncthreads(); // the roped row is read back below by other threads
    if (threadIdx.x >= 32) return;
    int hkv = (int)(ld1 / hd);
    int32_t blk = st.blocks[st.block_off[st.seq[r]] + p / st.B];
    size_t hr = ((size_t)blk * st.B + p % st.B) * hkv + h;
    store_row(st.dtype, hd, xh, st.kbase + hr * st.krb);
    store_row(st.dtype, st.hdv, st.v + r * (int64_t)hkv * st.hdv + (int64_t)h * st.hdv,
              st.vbase + hr * st.vrb);
}

// ---- attention ----

struct attn_args : cu_attn_view {
    const float *q;
    float *out, *part;
    int hd, hdv;
};

// Unit = row * h + head, split blockIdx.y of gridDim.y; sm: (hd + ATT_TILE) floats.
template <int DT> __device__ void attn_unit(const attn_args &a, int unit, float *sm)
{
    float *qs = sm, *sc = sm + a.hd;
    int row = unit / a.n_head, head = unit % a.n_head, g = head / a.group;
    int sp = blockIdx.y, nsp = gridDim.y;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int p = a.pos[row], s = a.seq[row];
    int t0 = a.window > 0 && p - a.window + 1 > 0 ? p - a.window + 1 : 0;
    int len = p - t0 + 1, sz = (len + nsp - 1) / nsp;
    int ta = t0 + sp * sz, tb = min(p + 1, ta + sz);
    const int32_t *tbl = a.blocks + a.block_off[s];
    const float *qr = a.q + ((int64_t)row * a.n_head + head) * a.hd;
    for (int e = threadIdx.x; e < a.hd; e += ATT_THREADS) qs[e] = qr[e];
    __syncthreads();

    float m = -INFINITY, sum = 0.0f, acc[ATT_EPT];
#pragma unroll
    for (int j = 0; j < ATT_EPT; j++) acc[j] = 0.0f;
    for (int ts = ta; ts < tb; ts += ATT_TILE) {
        int cnt = min(ATT_TILE, tb - ts);
        for (int j = warp; j < cnt; j += ATT_THREADS / 32) {
            int t = ts + j;
            const uint8_t *kr = a.k + (((size_t)tbl[t / a.B] * a.B + t % a.B) * a.hkv + g) * a.krb;
            float d = 0.0f;
            for (int e = lane; e < a.hd; e += 32) d += qs[e] * load_kv<DT>(kr, a.hd, e);
            d = cu_warp_sum(d) * a.scale;
            if (a.softcap > 0) d = a.softcap * tanhf(d / a.softcap);
            if (lane == 0) sc[j] = d;
        }
        __syncthreads();
        float tm = -INFINITY;
        for (int j = 0; j < cnt; j++) tm = fmaxf(tm, sc[j]);
        float nm = fmaxf(m, tm), corr = expf(m - nm);
        sum *= corr;
#pragma unroll
        for (int q = 0; q < ATT_EPT; q++) acc[q] *= corr;
        for (int j = 0; j < cnt; j++) {
            int t = ts + j;
            float pj = expf(sc[j] - nm);
            sum += pj;
            const uint8_t *vr = a.v + (((size_t)tbl[t / a.B] * a.B + t % a.B) * a.hkv + g) * a.vrb;
#pragma unroll
            for (int q = 0; q < ATT_EPT; q++) {
                int e = threadIdx.x + q * ATT_THREADS;
                if (e < a.hdv) acc[q] += pj * load_kv<DT>(vr, a.hdv, e);
            }
        }
        m = nm;
        __syncthreads();
    }
    if (nsp == 1) {
        float inv = 1.0f / sum;
        float *o = a.out + ((int64_t)row * a.n_head + head) * a.hdv;
#pragma unroll
        for (int q = 0; q < ATT_EPT; q++) {
            int e = threadIdx.x + q * ATT_THREADS;
            if (e < a.hdv) o[e] = acc[q] * inv;
        }
    } else {
        float *pp = a.part + ((size_t)unit * nsp + sp) * (a.hdv + 2);
        if (threadIdx.x == 0) {
            pp[0] = m;
            pp[1] = sum;
        }
#pragma unroll
        for (int q = 0; q < ATT_EPT; q++) {
            int e = threadIdx.x + q * ATT_THREADS;
            if (e < a.hdv) pp[2 + e] = acc[q];
        }
    }
}

template <int DT>
__global__ void __launch_bounds__(ATT_THREADS) attn_kernel(attn_args a)
{
    cu_pdl_wait();
    extern __shared__ float sm[];
    attn_unit<DT>(a, blockIdx.x, sm);
}

// After cu_fattn: the (row, head) units of the rows it left (cu_fattn_owns) of
// the fa_n * h. A fixed grid strides over the units, the threads of a block
// vetting 128 of its units at once: when cu_fattn took every row this costs
// about one memory round trip, where a block per unit cost ~43 us (n 2048,
// h 32, an H200) just to start and retire the blocks.
template <int DT>
__global__ void __launch_bounds__(ATT_THREADS) attn_rest_kernel(attn_args a, int fa_n)
{
    extern __shared__ float sm[];
    __shared__ int todo[ATT_THREADS], n_todo;
    int64_t total = (int64_t)fa_n * a.n_head;
    for (int64_t k0 = 0; blockIdx.x + k0 * gridDim.x < total; k0 += ATT_THREADS) {
        if (threadIdx.x == 0) n_todo = 0;
        __syncthreads();
        int64_t u = blockIdx.x + (k0 + threadIdx.x) * gridDim.x;
        if (u < total && !cu_fattn_owns(a.seq, fa_n, (int)(u / a.n_head)))
            todo[atomicAdd(&n_todo, 1)] = (int)u;
        __syncthreads();
        int cnt = n_todo;
        for (int i = 0; i < cnt; i++) {
            attn_unit<DT>(a, todo[i], sm);
            __syncthreads();
        }
        __syncthreads(); // everyone has read n_todo
    }
}

// One block per (row, head): out = sum_s acc_s e^(m_s - M) / sum_s sum_s e^(m_s - M).
__global__ void attn_combine_kernel(float *out, const float *part, int nsp, int hdv, int8_t *q8,
                                    float2 *q8ds, __half *xh)
{
    cu_pdl_wait();
    const float *pp = part + (size_t)blockIdx.x * nsp * (hdv + 2);
    float M = -INFINITY;
    for (int s = 0; s < nsp; s++) M = fmaxf(M, pp[(size_t)s * (hdv + 2)]);
    float S = 0.0f;
    for (int s = 0; s < nsp; s++) {
        float ms = pp[(size_t)s * (hdv + 2)];
        if (ms > -INFINITY) S += pp[(size_t)s * (hdv + 2) + 1] * expf(ms - M);
    }
    float inv = 1.0f / S;
    for (int e = threadIdx.x; e < hdv; e += blockDim.x) {
        float o = 0.0f;
        for (int s = 0; s < nsp; s++) {
            float ms = pp[(size_t)s * (hdv + 2)];
            if (ms > -INFINITY) o += pp[(size_t)s * (hdv + 2) + 2 + e] * expf(ms - M);
        }
        out[(size_t)blockIdx.x * hdv + e] = o * inv;
        // (hdv % 32 == 0 with q8: each warp holds whole int8 blocks)
        if (q8) cu_q8_round_warp(o * inv, (int64_t)blockIdx.x * hdv + e, q8, q8ds);
        if (xh) cu_mmf_x_store(xh, (int64_t)blockIdx.x * hdv + e, o * inv);
    }
}

} // namespace

namespace {

int rope_threads(int n_dims)
{
    return n_dims / 2 < 128 ? (n_dims / 2 + 31) / 32 * 32 : 128;
}

void launch_rope(cu_backend *cb, const kv_store &st)
{
    cu_pending_rope *p = &cb->prope;
    int h1 = p->cnt == 2 ? p->n_head[1] : 0;
    dim3 grid((unsigned)p->n, (unsigned)(p->n_head[0] + h1));
    cu_launch(cb, rope_store_kernel, grid, rope_threads(p->a.n_dims), 0,
        p->x[0], p->ld[0], p->n_head[0], p->cnt == 2 ? p->x[1] : nullptr, p->ld[1], p->head_dim,
        p->a, p->ff, cb->batch.pos, st);
    cu_check_launch(cb, st.on ? "rope and kv_write" : "rope");
    p->cnt = 0;
}

bool same_rope(const rope_args &x, const rope_args &y)
{
    return x.mode == y.mode && x.n_dims == y.n_dims && x.base == y.base &&
           x.freq_scale == y.freq_scale && x.ext_factor == y.ext_factor &&
           x.attn_factor == y.attn_factor && x.lo == y.lo && x.hi == y.hi;
}

} // namespace

void cu_flush_rope(cu_backend *cb)
{
    if (!cb->prope.cnt) return;
    kv_store none = {};
    launch_rope(cb, none);
}

void cu_rope(be_backend *be, be_tensor *x, int32_t n_head, int32_t head_dim, const be_rope *rope,
             int64_t n)
{
    cu_backend *cb = CU_BE(be);
    INF_ASSERT(!CU_CT(x)->weight && cu_row_len(x) == (int64_t)n_head * head_dim);
    INF_ASSERT(rope->n_dims > 0 && rope->n_dims % 2 == 0 && rope->n_dims <= head_dim);
    INF_ASSERT(n <= cb->batch.n && n <= cu_rows(x));
    const float *ff = nullptr;
    if (rope->freq_factors) {
        INF_ASSERT(CU_CT(rope->freq_factors)->info.type == QT_F32 &&
                   CU_CT(rope->freq_factors)->info.ne[0] >= rope->n_dims / 2);
        ff = (const float *)CU_CT(rope->freq_factors)->d;
    }
    if (n <= 0) return;
    rope_args a = {rope->mode, rope->n_dims, rope->freq_base, rope->freq_scale, rope->ext_factor,
                   rope->attn_factor, 0, 0};
    if (rope->ext_factor != 0.0f) {
        a.lo = floor(yarn_corr_dim(rope->n_dims, rope->n_ctx_orig, rope->beta_fast, rope->freq_base));
        a.hi = ceil(yarn_corr_dim(rope->n_dims, rope->n_ctx_orig, rope->beta_slow, rope->freq_base));
        if (a.lo < 0) a.lo = 0;
        if (a.hi > rope->n_dims - 1) a.hi = rope->n_dims - 1;
    }
    // Join the pending RoPE when it has the same rows, head size and angles and
    // is of another tensor (q then k); otherwise launch it first.
    cu_pending_rope *p = &cb->prope;
    float *xd = (float *)CU_CT(x)->d;
    if (p->cnt && (p->cnt == 2 || p->n != n || p->head_dim != head_dim || p->ff != ff ||
                   !same_rope(p->a, a) || p->x[0] == xd))
        cu_flush_rope(cb);
    if (!p->cnt) {
        p->n = n;
        p->head_dim = head_dim;
        p->a = a;
        p->ff = ff;
    }
    p->x[p->cnt] = xd;
    p->ld[p->cnt] = cu_row_len(x);
    p->n_head[p->cnt] = n_head;
    p->cnt++;
}

void cu_kv_write(be_backend *be, be_kv *kvp, int32_t layer, const be_tensor *k, const be_tensor *v,
                 int64_t n)
{
    cu_backend *cb = CU_BE(be);
    cu_kv *kv = (cu_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    INF_ASSERT(layer >= 0 && layer < c->n_layer && n <= cb->batch.n);
    INF_ASSERT(!CU_CT(k)->weight && cu_row_len(k) == (int64_t)c->n_kv_head * c->head_dim_k);
    INF_ASSERT(!CU_CT(v)->weight && cu_row_len(v) == (int64_t)c->n_kv_head * c->head_dim_v);
    size_t layer_rows = (size_t)layer * c->n_blocks * c->block_size * c->n_kv_head;
    // The RoPE of this k is pending (after that of q): one kernel does all.
    cu_pending_rope *pr = &cb->prope;
    if (pr->cnt && pr->x[pr->cnt - 1] == (float *)CU_CT(k)->d && pr->n == n &&
        pr->head_dim == c->head_dim_k && pr->n_head[pr->cnt - 1] == c->n_kv_head &&
        c->head_dim_k == c->head_dim_v && n > 0) {
        if (pr->cnt == 1) { // k alone: make it the second tensor, with no first
            pr->x[1] = pr->x[0];
            pr->ld[1] = pr->ld[0];
            pr->n_head[1] = pr->n_head[0];
            pr->n_head[0] = 0;
            pr->cnt = 2;
        }
        kv_store st = {true, (int)c->dtype, kv->k + layer_rows * kv->k_row_bytes,
                       kv->v + layer_rows * kv->v_row_bytes, kv->k_row_bytes, kv->v_row_bytes,
                       (const float *)CU_CT(v)->d, c->head_dim_v, c->block_size, cb->batch.seq,
                       cb->batch.block_off, cb->batch.blocks};
        launch_rope(cb, st);
        return;
    }
    cu_flush_rope(cb);
    if (n <= 0) return;
    dim3 grid((unsigned)n, (unsigned)c->n_kv_head);
    cu_launch(cb, kv_write_kernel, grid, 32, 0,
        (int)c->dtype, kv->k + layer_rows * kv->k_row_bytes, kv->v + layer_rows * kv->v_row_bytes,
        kv->k_row_bytes, kv->v_row_bytes, (const float *)CU_CT(k)->d, (const float *)CU_CT(v)->d,
        c->n_kv_head, c->head_dim_k, c->head_dim_v, c->block_size, cb->batch.pos, cb->batch.seq,
        cb->batch.block_off, cb->batch.blocks);
    cu_check_launch(cb, "kv_write");
}

void cu_attention(be_backend *be, be_tensor *out, const be_tensor *q, const be_kv *kvp,
                  const be_attn *p, int64_t n)
{
    cu_backend *cb = CU_BE(be);
    const cu_kv *kv = (const cu_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    int32_t hd = p->head_dim_k, hdv = p->head_dim_v;
    be_attention_assert(c, out, q, p, n, cb->batch.n);
    INF_ASSERT(!CU_CT(q)->weight && !CU_CT(out)->weight && hdv <= ATT_THREADS * ATT_EPT);
    if (n <= 0) return;
    const float *qf = (const float *)CU_CT(q)->d;
    float *of = (float *)CU_CT(out)->d;

    // Decode rows (a few rows a sequence, e.g. a batch of 64 sequences one row
    // each): the kernel that reads each K/V row once per KV head; the tile
    // kernel below would serve only two sequences of each tile of 64 rows.
    if (n <= 4 * (int64_t)cb->batch.n_seq && cu_attn_decode(cb, of, qf, kv, p, n)) return;

    attn_args a;
    static_cast<cu_attn_view &>(a) = cu_attn_view_of(cb, kv, p);
    a.q = qf;
    a.out = of;
    a.part = cb->attn_part;
    a.hd = hd;
    a.hdv = hdv;
    int64_t units = n * p->n_head;
    size_t smem = (size_t)(hd + ATT_TILE) * sizeof(float);

    // Many rows (prefill): the tensor-core kernel, then this file's kernel
    // for the rows it leaves (rows of a third sequence inside one of its tiles
    // of 64 rows; which ones is known on the device only).
    if (cu_fattn_usable(kv, p, n)) {
        cu_fattn(cb, a.out, a.q, kv, p, n);
        dim3 rest((unsigned)(units < ATT_REST_BLOCKS ? units : ATT_REST_BLOCKS));
        switch (c->dtype) {
        case BE_KV_F32: attn_rest_kernel<BE_KV_F32><<<rest, ATT_THREADS, smem, cb->stream>>>(a, (int)n); break;
        case BE_KV_F16: attn_rest_kernel<BE_KV_F16><<<rest, ATT_THREADS, smem, cb->stream>>>(a, (int)n); break;
        case BE_KV_BF16: attn_rest_kernel<BE_KV_BF16><<<rest, ATT_THREADS, smem, cb->stream>>>(a, (int)n); break;
        case BE_KV_Q8: attn_rest_kernel<BE_KV_Q8><<<rest, ATT_THREADS, smem, cb->stream>>>(a, (int)n); break;
        }
        cu_check_launch(cb, "attention (rows left by the tensor-core kernel)");
        return;
    }

    // Split the keys only when rows x heads leave the GPU idle. The split
    // count follows the bucket of the longest context (kv_cap), not its exact
    // length, so that a captured step replays unchanged as contexts grow; a
    // split whose range is empty leaves (max -inf, sum 0), which combine skips.
    int64_t kv_len = cb->batch.kv_cap;
    if (p->window > 0 && kv_len > p->window) kv_len = p->window;
    int64_t nsp = 1;
    if (units < 264 && kv_len > 256) {
        nsp = (264 * 2 + units - 1) / units;
        int64_t by_len = (kv_len + 127) / 128;
        if (nsp > by_len) nsp = by_len;
        int64_t by_mem = (int64_t)(cb->attn_part_cap / ((size_t)units * (hdv + 2)));
        if (nsp > by_mem) nsp = by_mem;
        if (nsp < 1) nsp = 1;
    }
    dim3 grid((unsigned)units, (unsigned)nsp);
    switch (c->dtype) {
    case BE_KV_F32: cu_launch(cb, attn_kernel<BE_KV_F32>, grid, ATT_THREADS, smem, a); break;
    case BE_KV_F16: cu_launch(cb, attn_kernel<BE_KV_F16>, grid, ATT_THREADS, smem, a); break;
    case BE_KV_BF16: cu_launch(cb, attn_kernel<BE_KV_BF16>, grid, ATT_THREADS, smem, a); break;
    case BE_KV_Q8: cu_launch(cb, attn_kernel<BE_KV_Q8>, grid, ATT_THREADS, smem, a); break;
    }
    cu_check_launch(cb, "attention");
    if (nsp > 1) cu_attn_combine(cb, a.out, a.part, units, (int)nsp, hdv);
}

cu_attn_view cu_attn_view_of(const cu_backend *cb, const cu_kv *kv, const be_attn *p)
{
    const be_kv_config *c = &kv->cfg;
    size_t layer_rows = (size_t)p->layer * c->n_blocks * c->block_size * c->n_kv_head;
    cu_attn_view w;
    w.k = kv->k + layer_rows * kv->k_row_bytes;
    w.v = kv->v + layer_rows * kv->v_row_bytes;
    w.krb = kv->k_row_bytes;
    w.vrb = kv->v_row_bytes;
    w.B = c->block_size;
    w.hkv = c->n_kv_head;
    w.group = p->n_head / p->n_kv_head;
    w.n_head = p->n_head;
    w.window = p->window;
    w.scale = p->scale;
    w.softcap = p->softcap;
    w.pos = cb->batch.pos;
    w.seq = cb->batch.seq;
    w.block_off = cb->batch.block_off;
    w.blocks = cb->batch.blocks;
    return w;
}

void cu_attn_combine(cu_backend *cb, float *out, const float *part, int64_t units, int nsp,
                     int hdv, int8_t *q8, float2 *q8ds, __half *xh)
{
    INF_ASSERT((!q8 && !xh) || hdv % 32 == 0);
    cu_launch(cb, attn_combine_kernel, (unsigned)units, 128, 0, out, part, nsp, hdv, q8, q8ds,
              xh);
    cu_check_launch(cb, "attention combine");
}

void cu_kv_copy_block(be_backend *be, be_kv *kvp, int32_t dst, int32_t src)
{
    cu_backend *cb = CU_BE(be);
    cu_kv *kv = (cu_kv *)kvp;
    const be_kv_config *c = &kv->cfg;
    INF_ASSERT(dst >= 0 && dst < c->n_blocks && src >= 0 && src < c->n_blocks);
    if (dst == src) return;
    size_t rows = (size_t)c->block_size * c->n_kv_head;
    for (int32_t l = 0; l < c->n_layer; l++) {
        size_t base = (size_t)l * c->n_blocks;
        cudaError_t e = cudaMemcpyAsync(kv->k + (base + dst) * rows * kv->k_row_bytes,
                                        kv->k + (base + src) * rows * kv->k_row_bytes,
                                        rows * kv->k_row_bytes, cudaMemcpyDeviceToDevice, cb->stream);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(kv->v + (base + dst) * rows * kv->v_row_bytes,
                                kv->v + (base + src) * rows * kv->v_row_bytes,
                                rows * kv->v_row_bytes, cudaMemcpyDeviceToDevice, cb->stream);
        if (e != cudaSuccess) cu_record(cb, e, "kv_copy_block");
    }
}
