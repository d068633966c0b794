// cuda_fattn.cu: prefill attention on tensor cores, flash-attention style.
// Reference: ref_attn.c through be_attention's contract (backend.h); the
// per-row kernel of cuda_attn.cu does the same in f32.
//
// Why: the per-row kernel re-reads every key of a row for every query row, so
// a prefill of n rows reads ~n^2/2 head rows from memory per head. Here a block
// loads a tile of keys and values into shared memory once for 64 query rows.
//
// Blocking: a block of 4 warps per (tile of FA_M = 64 consecutive batch rows,
// head). Warp w owns rows 16w..16w+15 of the tile. The block walks the keys
// [t_lo, t_hi] that any of its rows sees (the union of their causal and window
// ranges) in tiles of N keys (64; 32 for hd 256 to keep shared memory down):
//   S = Q K^T     mma.sync m16n8k16 f16 x f16 -> f32; Q as A fragments (kept in
//                 registers for hd <= 128, read from shared memory for 256),
//                 K rows as B fragments through ldmatrix;
//   mask          per row: t <= pos and pos - t < window; rows of the tile that
//                 are not served in this pass see no key;
//   softmax       online in f32 (running max and sum per row, base 2);
//   O += P V      P rounded to f16 straight from the S accumulators (their
//                 layout is the A fragment layout), V through ldmatrix.trans.
// A warp whose rows see no key of a tile skips its math (the causal corner and
// keys outside a window).
//
// Loading: keys of a tile map to pool head rows through the sequence's block
// table (t -> blocks[block_off[s] + t / B], slot t % B; pool layout in
// cuda_common.cuh). F16 head rows go to shared memory with cp.async, K of the
// next tile while the softmax of this one runs; BF16 and Q8 are converted to f16
// in registers on the way (BF16 values beyond f16's range would overflow: K and
// V activations stay far below 65504; Q8 is int8 x the f16 scale of its group
// of 64). Keys past t_hi are zeros. Shared memory rows are padded by 16 bytes so
// that ldmatrix and the 16-byte stores hit 32 distinct banks.
//
// Sequences: a tile may hold rows of several sequences. It serves the sequence
// of its first row in one pass and, when different, that of its last row in a
// second pass, each with its own block table and key range; rows of any other
// sequence are left to the per-row kernel (cu_fattn_owns). In an engine batch
// the rows of a sequence are consecutive, so only rows squeezed between two
// sequences inside one tile (short decode chunks) go there.
//
// Precision: q, k, v and p are rounded to f16 (relative 2^-11 each);
// accumulation, max and sums are f32 (test_cuda_fattn.c states the tolerance).
#include "backend/cuda/cuda_fattn.cuh"

#include <climits>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int FA_M = CU_FATTN_ROWS;
constexpr int FA_THREADS = 128;
constexpr float FA_LOG2E = 1.4426950408889634f;

// Dimension letters as in cuda_common.cuh; N keys a tile, LD the shared memory
// row stride in halves.
template <int HD> struct fa_cfg {
    static constexpr int N = HD == 256 ? 32 : 64;
    static constexpr int LD = HD + 8;
    static constexpr bool Q_REG = HD <= 128;
    static constexpr int CPR = HD / 8;              // 16-byte f16 chunks of a head row
    static constexpr int RPP = FA_THREADS / CPR;    // rows the block loads at once
    static constexpr int KPT = N / RPP;             // keys a thread loads a tile
    static constexpr size_t SMEM = (size_t)(FA_M + 3 * N) * LD * sizeof(__half);
    static_assert(FA_THREADS % CPR == 0 && N % RPP == 0, "tile shape");
};

struct fa_args : cu_attn_view {
    const float *q;            // (n, h * hd)
    float *out;                // (n, h * hd)
    int n;
};

// ---- PTX wrappers ----

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

// 16 bytes global -> shared, asynchronous; src_bytes 0 writes zeros.
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
                 "r"(src_bytes)
                 : "memory");
}

__device__ __forceinline__ void cp_async_commit()
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most one committed group is still in flight.
__device__ __forceinline__ void cp_async_wait1()
{
    asm volatile("cp.async.wait_group 1;\n" ::: "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const __half *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p))
                 : "memory");
}

__device__ __forceinline__ void ldsm_x4_trans(uint32_t r[4], const __half *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p))
                 : "memory");
}

// c (16x8 f32) += a (16x16 f16, row) * b (16x8 f16, col).
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi)
{
    __half2 h = __floats2half2_rn(lo, hi);
    return *(uint32_t *)&h;
}

// ---- loading a tile of head rows ----

// Head row index (in units of a head row from the layer's first) of each key
// this thread loads in the tile starting at t0; -1 past t_hi. Key j of the
// thread is tile row tid / CPR + j * RPP: walk the block table without a
// division per key.
template <int HD>
__device__ __forceinline__ void tile_rows(int idx[], int t0, int t_hi, const int32_t *tbl, int B,
                                          int hkv, int g)
{
    using C = fa_cfg<HD>;
    int t = t0 + (int)threadIdx.x / C::CPR;
    int bq = t / B, bs = t - bq * B;
#pragma unroll
    for (int j = 0; j < C::KPT; j++) {
        idx[j] = t <= t_hi ? (tbl[bq] * B + bs) * hkv + g : -1;
        t += C::RPP;
        bs += C::RPP;
        while (bs >= B) {
            bs -= B;
            bq++;
        }
    }
}

// 8 bytes of a Q8 head row at p, read in the widest words its alignment allows
// (head rows are hd + hd / 32 bytes: 66, 132, 264).
template <int HD> __device__ __forceinline__ uint2 load8(const uint8_t *p)
{
    constexpr int RB = HD + HD / 32;
    uint2 r;
    if constexpr (RB % 8 == 0) {
        r = *(const uint2 *)p;
    } else if constexpr (RB % 4 == 0) {
        r.x = ((const uint32_t *)p)[0];
        r.y = ((const uint32_t *)p)[1];
    } else {
        const uint16_t *h = (const uint16_t *)p;
        r.x = h[0] | ((uint32_t)h[1] << 16);
        r.y = h[2] | ((uint32_t)h[3] << 16);
    }
    return r;
}

// Loads the tile's head rows (idx from tile_rows) into dst (N, LD) as f16.
template <int DT, int HD>
__device__ __forceinline__ void tile_load(__half *dst, const uint8_t *base, size_t rb,
                                          const int idx[])
{
    using C = fa_cfg<HD>;
    int c = (int)threadIdx.x % C::CPR, r0 = (int)threadIdx.x / C::CPR;
    if constexpr (DT == BE_KV_F16) {
#pragma unroll
        for (int j = 0; j < C::KPT; j++) {
            const uint8_t *src = idx[j] >= 0 ? base + (size_t)idx[j] * rb + c * 16 : base;
            cp_async16(dst + (r0 + j * C::RPP) * C::LD + c * 8, src, idx[j] >= 0 ? 16 : 0);
        }
    } else if constexpr (DT == BE_KV_BF16) {
        uint4 raw[C::KPT];
#pragma unroll
        for (int j = 0; j < C::KPT; j++)
            raw[j] = idx[j] >= 0 ? *(const uint4 *)(base + (size_t)idx[j] * rb + c * 16)
                                 : make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int j = 0; j < C::KPT; j++) {
            uint32_t w[4] = {raw[j].x, raw[j].y, raw[j].z, raw[j].w};
            uint4 h;
            h.x = pack_half2(__uint_as_float(w[0] << 16), __uint_as_float(w[0] & 0xffff0000u));
            h.y = pack_half2(__uint_as_float(w[1] << 16), __uint_as_float(w[1] & 0xffff0000u));
            h.z = pack_half2(__uint_as_float(w[2] << 16), __uint_as_float(w[2] & 0xffff0000u));
            h.w = pack_half2(__uint_as_float(w[3] << 16), __uint_as_float(w[3] & 0xffff0000u));
            *(uint4 *)(dst + (r0 + j * C::RPP) * C::LD + c * 8) = h;
        }
    } else { // Q8: 8 int8 of chunk c, scale of its group of 64 (8 chunks)
        uint2 raw[C::KPT];
        float sc[C::KPT];
#pragma unroll
        for (int j = 0; j < C::KPT; j++) {
            const uint8_t *row = base + (size_t)(idx[j] >= 0 ? idx[j] : 0) * rb;
            raw[j] = idx[j] >= 0 ? load8<HD>(row + c * 8) : make_uint2(0, 0);
            sc[j] = idx[j] >= 0 ? cu_f16(cu_u16(row + HD + 2 * (c / 8))) : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < C::KPT; j++) {
            uint32_t w[2] = {raw[j].x, raw[j].y};
            uint32_t h[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                uint32_t x = w[e / 2] >> (16 * (e % 2));
                h[e] = pack_half2((float)(int8_t)(x & 255) * sc[j], (float)(int8_t)(x >> 8) * sc[j]);
            }
            *(uint4 *)(dst + (r0 + j * C::RPP) * C::LD + c * 8) = make_uint4(h[0], h[1], h[2], h[3]);
        }
    }
}

// ---- the kernel ----

// grid (h, n_tiles): blockIdx.y counts tiles from the last, whose rows (later
// positions) see the most keys, so that the longest blocks start first.
template <int DT, int HD>
__global__ void __launch_bounds__(FA_THREADS, 2) fattn_kernel(fa_args a)
{
    using C = fa_cfg<HD>;
    constexpr int N = C::N, LD = C::LD, NT = N / 8, DT8 = HD / 8;
    extern __shared__ __align__(16) uint8_t fa_smem[];
    __half *qs = (__half *)fa_smem;   // (FA_M, LD)
    __half *ks = qs + FA_M * LD;      // (2, N, LD): this tile's keys and the next
    __half *vs = ks + 2 * N * LD;     // (N, LD)
    __shared__ int red[2][FA_THREADS / 32];

    const int head = blockIdx.x, g = head / a.group;
    const int r0 = (gridDim.y - 1 - blockIdx.y) * FA_M, r_end = min(r0 + FA_M, a.n);
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int gq = lane / 4, tq = lane % 4; // fragment row group, thread in group

    // Q tile to f16; rows past n are zeros (and never written back).
    for (int i = tid; i < FA_M * HD / 4; i += FA_THREADS) {
        int r = i / (HD / 4), c = i % (HD / 4) * 4;
        float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (r0 + r < a.n) x = *(const float4 *)(a.q + ((size_t)(r0 + r) * a.n_head + head) * HD + c);
        *(uint2 *)(qs + r * LD + c) = make_uint2(pack_half2(x.x, x.y), pack_half2(x.z, x.w));
    }
    __syncthreads();
    uint32_t qf[C::Q_REG ? HD / 16 : 1][4];
    if constexpr (C::Q_REG) {
#pragma unroll
        for (int kc = 0; kc < HD / 16; kc++)
            ldsm_x4(qf[kc], qs + (warp * 16 + lane % 8 + (lane / 8) % 2 * 8) * LD + kc * 16 +
                                lane / 16 * 8);
    }

    const int s_first = a.seq[r0], s_last = a.seq[r_end - 1];
    for (int pass = 0; pass < 2; pass++) {
        const int s = pass ? s_last : s_first;
        if (pass && s == s_first) break;
        // This thread's rows (gq and gq + 8 of its warp): the keys they see are
        // [lo, hi]; rows not served in this pass see none (hi = -1).
        int hi[2], lo[2];
#pragma unroll
        for (int ri = 0; ri < 2; ri++) {
            int row = r0 + warp * 16 + gq + 8 * ri;
            bool mine = row < a.n && a.seq[row] == s;
            int p = mine ? a.pos[row] : -1;
            hi[ri] = p;
            lo[ri] = !mine ? INT_MAX : a.window > 0 && p - a.window + 1 > 0 ? p - a.window + 1 : 0;
        }
        int w_hi = max(hi[0], hi[1]), w_lo = min(lo[0], lo[1]);
        for (int o = 16; o > 0; o >>= 1) {
            w_hi = max(w_hi, __shfl_xor_sync(0xffffffffu, w_hi, o));
            w_lo = min(w_lo, __shfl_xor_sync(0xffffffffu, w_lo, o));
        }
        if (lane == 0) {
            red[0][warp] = w_lo;
            red[1][warp] = w_hi;
        }
        __syncthreads();
        int t_lo = INT_MAX, t_hi = -1;
#pragma unroll
        for (int w = 0; w < FA_THREADS / 32; w++) {
            t_lo = min(t_lo, red[0][w]);
            t_hi = max(t_hi, red[1][w]);
        }
        // The tile's first or last row is served in this pass, so t_lo <= t_hi.
        const int n_kt = (t_hi - t_lo) / N + 1;
        const int32_t *tbl = a.blocks + a.block_off[s];

        float o[DT8][4];
#pragma unroll
        for (int d = 0; d < DT8; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
        float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

        // cp.async groups in flight, oldest first: K(j), V(j), then K(j + 1)
        // once committed early in iteration j; "wait 1" leaves only the newest.
        int idx[C::KPT];
        tile_rows<HD>(idx, t_lo, t_hi, tbl, a.B, a.hkv, g);
        tile_load<DT, HD>(ks, a.k, a.krb, idx);
        cp_async_commit();
        tile_load<DT, HD>(vs, a.v, a.vrb, idx);
        cp_async_commit();
        for (int j = 0; j < n_kt; j++) {
            const int t0 = t_lo + j * N;
            const __half *kt = ks + (j % 2) * N * LD;
            cp_async_wait1(); // K(j) landed
            __syncthreads();
            // The next tile's keys into the other buffer (free: every warp is
            // past S of tile j - 1), in flight while this tile's math runs.
            if (j + 1 < n_kt) {
                tile_rows<HD>(idx, t0 + N, t_hi, tbl, a.B, a.hkv, g);
                tile_load<DT, HD>(ks + ((j + 1) % 2) * N * LD, a.k, a.krb, idx);
            }
            cp_async_commit();
            const bool active = t0 <= w_hi && t0 + N - 1 >= w_lo;
            float sc[NT][4];
            if (active) {
#pragma unroll
                for (int nt = 0; nt < NT; nt++) sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
#pragma unroll
                for (int kc = 0; kc < HD / 16; kc++) {
                    uint32_t qa[4];
                    if constexpr (C::Q_REG) {
#pragma unroll
                        for (int e = 0; e < 4; e++) qa[e] = qf[kc][e];
                    } else {
                        ldsm_x4(qa, qs + (warp * 16 + lane % 8 + (lane / 8) % 2 * 8) * LD + kc * 16 +
                                        lane / 16 * 8);
                    }
#pragma unroll
                    for (int n2 = 0; n2 < N / 16; n2++) {
                        uint32_t b[4];
                        ldsm_x4(b, kt + (n2 * 16 + lane % 8 + lane / 16 * 8) * LD + kc * 16 +
                                       (lane / 8) % 2 * 8);
                        mma16816(sc[2 * n2], qa, b[0], b[1]);
                        mma16816(sc[2 * n2 + 1], qa, b[2], b[3]);
                    }
                }
            }
            float corr[2];
            if (active) {
                float mx[2] = {-INFINITY, -INFINITY};
                const float sl = a.scale * FA_LOG2E;
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int ri = e / 2, t = t0 + nt * 8 + 2 * tq + e % 2;
                        float x = sc[nt][e];
                        if (a.softcap > 0) x = a.softcap * FA_LOG2E * tanhf(x * a.scale / a.softcap);
                        else x *= sl;
                        x = t <= hi[ri] && t >= lo[ri] ? x : -INFINITY;
                        sc[nt][e] = x;
                        mx[ri] = fmaxf(mx[ri], x);
                    }
                float mref[2];
#pragma unroll
                for (int ri = 0; ri < 2; ri++) {
                    mx[ri] = fmaxf(mx[ri], __shfl_xor_sync(0xffffffffu, mx[ri], 1));
                    mx[ri] = fmaxf(mx[ri], __shfl_xor_sync(0xffffffffu, mx[ri], 2));
                    float mn = fmaxf(m[ri], mx[ri]);
                    // A row with no key yet keeps max -inf: subtract 0 instead, so
                    // that exp2 gives 0, not NaN.
                    mref[ri] = mn == -INFINITY ? 0.0f : mn;
                    corr[ri] = exp2f(m[ri] - mref[ri]);
                    m[ri] = mn;
                    l[ri] *= corr[ri];
                }
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        float p = exp2f(sc[nt][e] - mref[e / 2]);
                        sc[nt][e] = p;
                        l[e / 2] += p;
                    }
#pragma unroll
                for (int d = 0; d < DT8; d++) {
                    o[d][0] *= corr[0];
                    o[d][1] *= corr[0];
                    o[d][2] *= corr[1];
                    o[d][3] *= corr[1];
                }
            }
            cp_async_wait1(); // V(j) landed
            __syncthreads();
            if (active) {
#pragma unroll
                for (int kk = 0; kk < N / 16; kk++) {
                    uint32_t pa[4] = {pack_half2(sc[2 * kk][0], sc[2 * kk][1]),
                                      pack_half2(sc[2 * kk][2], sc[2 * kk][3]),
                                      pack_half2(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                                      pack_half2(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
#pragma unroll
                    for (int d2 = 0; d2 < HD / 16; d2++) {
                        uint32_t b[4];
                        ldsm_x4_trans(b, vs + (kk * 16 + lane % 8 + (lane / 8) % 2 * 8) * LD +
                                             d2 * 16 + lane / 16 * 8);
                        mma16816(o[2 * d2], pa, b[0], b[1]);
                        mma16816(o[2 * d2 + 1], pa, b[2], b[3]);
                    }
                }
            }
            __syncthreads(); // every warp is done with V(j)
            if (j + 1 < n_kt) tile_load<DT, HD>(vs, a.v, a.vrb, idx);
            cp_async_commit();
        }

        // Row sums are spread over the 4 threads of a row group.
#pragma unroll
        for (int ri = 0; ri < 2; ri++) {
            l[ri] += __shfl_xor_sync(0xffffffffu, l[ri], 1);
            l[ri] += __shfl_xor_sync(0xffffffffu, l[ri], 2);
            if (hi[ri] < 0) continue;
            int row = r0 + warp * 16 + gq + 8 * ri;
            float inv = 1.0f / l[ri];
            float *orow = a.out + ((size_t)row * a.n_head + head) * HD + 2 * tq;
#pragma unroll
            for (int d = 0; d < DT8; d++)
                *(float2 *)(orow + d * 8) = make_float2(o[d][2 * ri] * inv, o[d][2 * ri + 1] * inv);
        }
        __syncthreads(); // red[] and the buffers are free for the next pass
    }
}

bool fattn_enabled()
{
    // Read once; a racy first read by two threads stores the same value.
    static const bool on = cu_env_int("INFERD_CUDA_FATTN", 1) != 0;
    return on;
}

template <int DT, int HD>
void launch(cu_backend *cb, const fa_args &a, int n_head, int64_t n)
{
    using C = fa_cfg<HD>;
    static const cudaError_t opted = cu_smem_opt_in(fattn_kernel<DT, HD>, C::SMEM);
    if (opted != cudaSuccess) {
        cu_record(cb, opted, "attention (tensor cores): shared memory");
        return;
    }
    dim3 grid((unsigned)n_head, (unsigned)((n + FA_M - 1) / FA_M));
    fattn_kernel<DT, HD><<<grid, FA_THREADS, C::SMEM, cb->stream>>>(a);
    cu_check_launch(cb, "attention (tensor cores)");
}

template <int DT> void launch_hd(cu_backend *cb, const fa_args &a, int hd, int n_head, int64_t n)
{
    switch (hd) {
    case 64: launch<DT, 64>(cb, a, n_head, n); break;
    case 128: launch<DT, 128>(cb, a, n_head, n); break;
    case 256: launch<DT, 256>(cb, a, n_head, n); break;
    default: INF_ASSERT(!"cu_fattn: head dim");
    }
}

} // namespace

bool cu_fattn_usable(const cu_kv *kv, const be_attn *p, int64_t n)
{
    const be_kv_config *c = &kv->cfg;
    if (n < CU_FATTN_MIN_ROWS || n > INT_MAX / 2) return false;
    if (p->head_dim_k != p->head_dim_v) return false;
    if (p->head_dim_k != 64 && p->head_dim_k != 128 && p->head_dim_k != 256) return false;
    if (c->dtype != BE_KV_F16 && c->dtype != BE_KV_BF16 && c->dtype != BE_KV_Q8) return false;
    return fattn_enabled();
}

void cu_fattn(cu_backend *cb, float *out, const float *q, const cu_kv *kv, const be_attn *p,
              int64_t n)
{
    const be_kv_config *c = &kv->cfg;
    INF_ASSERT(cu_fattn_usable(kv, p, n));
    fa_args a;
    static_cast<cu_attn_view &>(a) = cu_attn_view_of(cb, kv, p);
    a.q = q;
    a.out = out;
    a.n = (int)n;
    switch (c->dtype) {
    case BE_KV_F16: launch_hd<BE_KV_F16>(cb, a, p->head_dim_k, p->n_head, n); break;
    case BE_KV_BF16: launch_hd<BE_KV_BF16>(cb, a, p->head_dim_k, p->n_head, n); break;
    case BE_KV_Q8: launch_hd<BE_KV_Q8>(cb, a, p->head_dim_k, p->n_head, n); break;
    default: INF_ASSERT(!"cu_fattn: dtype");
    }
}
