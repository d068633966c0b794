// cuda_mmvq_k.cu: the decode matmul y = x W^T (+ bias) for 1..8 rows of x on
// Q4_K, Q5_K and Q6_K weights in their GGUF layout (quant/blocks.h), with x
// rounded to int8. Reference: ref_matmul (ref_ops.c); test_cuda_mmvq_k compares
// against it (bound: the int8 rounding of x) and against a host model of this
// file's integer arithmetic (float rounding only).
//
// Why: the f32 dequantize-and-dot kernel (cuda_mmv.cu) spends ~6 instructions a
// value and loads 8 bytes a lane at a time, which left the 8B Q4_K model at
// 185 tok/s on an H200 against 445 for Q4_0 on cuda_mmvq.cu. Same recipe here.
//
// Arithmetic. x is the int8 copy of cu_q8_prepare (cuda_mmvq.cuh): per 32
// values (an "x block") p_c = rn(x_c / d_x), d_x = amax / 127, s_x = d_x sum p_c;
// RMSNorm, SwiGLU and the decode attention write it themselves, and it is
// shared with the step's other decode matmuls. x blocks line up with the K
// formats' sub-blocks of 32 (Q4_K, Q5_K) and hold two of Q6_K's sub-blocks of 16.
// With S = sum q_c p_c over the values a sub-block shares with an x block (dp4a,
// 4 values an instruction):
//   Q4_K, Q5_K (w = d sc_j q - dmin m_j, q 4 / 5 bits unsigned), sub-block j:
//       sum_c w_c x_c = d sc_j (d_x S) - dmin m_j s_x
//   (the min term needs only s_x, the sum of the whole x block, because a
//   sub-block is exactly one x block);
//   Q6_K (w = d sc_j (q - 32), sc_j int8, 16 values a sub-block): the two
//   sub-blocks j, j + 1 of an x block need separate sums of p, which s_x does
//   not give, so the offset is taken out of the weight bytes instead (q - 32
//   fits int8): sum = d d_x (sc_j S_lo + sc_{j+1} S_hi), the bracket in int32.
// The sub-block products sc_j S stay integers; d_x, d and dmin enter in f32.
//
// Blocking. One warp per output feature (RW = 2 rows a warp for several x rows,
// Q4_K / Q5_K: x's loads then serve both), 4 warps a block. A "lane-unit" is a
// quarter of a 256-value super-block: lane l takes quarter t = l % 4 of blocks
// l / 4, l / 4 + 8, ..., UNR = 2 lane-units loaded before any is used, with
// 16-byte loads that bypass L1 (cu_load_stream):
//   Q4_K (144 bytes = 9 x 16): the 16-byte header (d, dmin, scales[12]) and qs
//     bytes [16t, 16t + 16) and [64 + 16t, 64 + 16t + 16): with p = t / 2, h =
//     t % 2, the 16 values 16h.. of sub-blocks 2p, 2p+1 (low / high nibbles) and
//     2p+4, 2p+5; the lanes with h = 0 add the min terms;
//   Q5_K (176 = 11 x 16): the same plus qh bytes [16h, 16h + 16) (the fifth bits
//     of those values);
//   Q6_K (210 bytes, a block at any even address): ql bytes [32t, 32t + 32)
//     (half h = t / 2, shifts s = t % 2 and s + 2: two whole x blocks) and qh
//     bytes [128 + 32h, 128 + 32h + 32), each read as three aligned 16-byte
//     loads and shifted into place in registers (byte_perm, the shift is the
//     block's address mod 16, the same for all the lane's blocks since 8 blocks
//     are 1680 = 105 x 16 bytes), plus the lane's 4 scales and d by 2-byte loads.
//     Why not repack Q6_K at upload, as Q4_0 / Q8_0 are: every reader of a
//     packed weight (embed, the prefill dequantization, read-back, and the
//     matmul dispatch, which takes "packed" to mean Q4_0 / Q8_0) would need a
//     third layout, while the in-register shift costs ~27 ALU instructions per
//     64 values and keeps the GGUF bytes; 4-byte loads instead would take 18
//     load instructions a lane-unit, scattered across 32-byte sectors.
// Rows of a whole warp load 8 consecutive blocks: 4 x 144 = 576 contiguous bytes
// an instruction (Q4_K qs), the header once per block. KS warps share a row when
// a row has more than 16 blocks (the down projection's 14336 is 56), each taking
// a contiguous slice of its blocks, so that a lane's loads are all in flight in
// one pass; their sums meet in shared memory in a fixed order.
//
// Grouping, as cuda_mmvq.cu: consecutive matmuls on the same x (q, k, v; gate,
// up) wait in cb->pmm and are launched as one grid over all their rows
// (cu_mmvq_k_flush, from cu_mmvq_flush, which every other op calls first); a
// block finds its matmul from the blocks before each (kseg.blk0). A k or v
// projection alone (1024 rows of 4096 in an 8B model) is 256 blocks, too few
// to fill the GPU, and each launch pays its ramp-up and drain: such small
// matrices reached ~1.6 TB/s alone. A row's arithmetic does not depend on the
// grid, so grouped and single launches give the same bits (test_cuda_ops).
//
// Overlap (cu_launch, cuda_common.cuh): a lane's first pass of weight loads
// (all its loads up to 16 blocks a slice: every matrix of an 8B model) is
// issued before cu_pdl_wait, while the kernel before still drains; nothing is
// written and neither x nor its scales (written by earlier kernels) nor the
// bias is read before it.
//
// Measured (H200, test_cuda_mmvq_k --bench, kernel alone, one x row): Q4_K
// 14336 x 4096 14.2 us (2.3 TB/s) against 31.6 on the f32 kernel, 128256 x 4096
// 85 us (3.5 TB/s); Q6_K 22.3 and 161 us against 40.6 and 299. 8B Q4_K tg128
// (bench-model): 404 tok/s against 187 (llama.cpp: 298); 8 rows a step
// (engine_bench): 1268 against 367 tok/s; RW = 2 made 8 rows 1.5x faster.
// Grouping and overlap (one H200 in one call, 8B bench-model tg128, two runs
// each, INFERD_CUDA_MMVQ_K_GROUP and a switch of the overlap now covered by
// INFERD_CUDA_PDL): Q4_K 392 tok/s launched one by one
// plainly, 432 grouped, 427 overlapped, 459 both; Q5_K 315 -> 384 and Q6_K
// 271 -> 308 with both; 8 sequences (engine_bench, Q4_K) 1183 -> 1187, where
// each launch already has 8 rows of work.
#include "backend/cuda/cuda_mmvq_k.cuh"
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_quant.cuh"

#include <cstdint>

namespace {

constexpr int WARPS = 4;
constexpr int UNR = 2;

// The registers of one lane-unit.
template <int T> struct kunit;
template <> struct kunit<QT_Q4_K> { uint4 h, a, b; };
template <> struct kunit<QT_Q5_K> { uint4 h, qh, a, b; };
template <> struct kunit<QT_Q6_K> {
    uint4 l[3], hq[3];     // aligned windows holding ql / qh bytes of the lane
    uint32_t s0, s1, d;    // scales 8h+2s, 8h+2s+1 | 8h+2s+4, 8h+2s+5 | d (f16 bits)
    int o;                 // the block's address mod 16 (even)
};

__device__ __forceinline__ void kload(kunit<QT_Q4_K> &u, const uint8_t *blk, int t)
{
    const uint4 *p = (const uint4 *)blk;
    u.h = cu_load_stream(p);
    u.a = cu_load_stream(p + 1 + t);
    u.b = cu_load_stream(p + 5 + t);
}

__device__ __forceinline__ void kload(kunit<QT_Q5_K> &u, const uint8_t *blk, int t)
{
    const uint4 *p = (const uint4 *)blk;
    u.h = cu_load_stream(p);
    u.qh = cu_load_stream(p + 1 + (t & 1));
    u.a = cu_load_stream(p + 3 + t);
    u.b = cu_load_stream(p + 7 + t);
}

__device__ __forceinline__ void kload(kunit<QT_Q6_K> &u, const uint8_t *blk, int t)
{
    const int h = t >> 1;
    u.o = (int)((uintptr_t)blk & 15);
    // aligned down: never before the allocation (256-aligned) nor past the
    // block's last byte (ql: <= 96 + 48 - o, qh: <= 160 + 48 - o of 210)
    const uint4 *pl = (const uint4 *)(blk + 32 * t - u.o);
    const uint4 *ph = (const uint4 *)(blk + 128 + 32 * h - u.o);
#pragma unroll
    for (int i = 0; i < 3; i++) {
        u.l[i] = cu_load_stream(pl + i);
        u.hq[i] = cu_load_stream(ph + i);
    }
    const unsigned short *ps = (const unsigned short *)(blk + 192 + 8 * h + 2 * (t & 1));
    u.s0 = __ldg(ps);
    u.s1 = __ldg(ps + 2);
    u.d = __ldg((const unsigned short *)(blk + 208));
}

__device__ __forceinline__ float f16_bits(uint32_t v)
{
    return __half2float(__ushort_as_half((unsigned short)(v & 0xffff)));
}

// 16 values: sum of 4 dp4a of weight words q[0..4) with the x bytes of v.
__device__ __forceinline__ int dot16(uint32_t q0, uint32_t q1, uint32_t q2, uint32_t q3, int4 v)
{
    int s = __dp4a((int)q0, v.x, 0);
    s = __dp4a((int)q1, v.y, s);
    s = __dp4a((int)q2, v.z, s);
    return __dp4a((int)q3, v.w, s);
}

// Q4_K / Q5_K: the lane's 4 sub-blocks are 2p, 2p+1, 2p+4, 2p+5 (p = t / 2),
// their 16 values at 16h.. (h = t % 2). 4 x 4 weight words of nibbles (and
// fifth bits) -> acc[r] += d sum_j sc_j d_x S_j - [h == 0] dmin sum_j m_j s_x.
template <int T, int NR>
__device__ __forceinline__ void kdot45(const kunit<T> &u, int t, const int8_t *__restrict__ xq,
                                       const float2 *__restrict__ xds, int64_t k, float (&acc)[NR])
{
    const int p = t >> 1, h = t & 1, j0 = 2 * p;
    const float d = f16_bits(u.h.x), dmin = h ? 0.0f : f16_bits(u.h.x >> 16);
    // scales[12] = words y, z, w of the header; bytes 2p, 2p+1 of each
    const uint32_t sy = u.h.y >> (16 * p), sz = u.h.z >> (16 * p), sw = u.h.w >> (16 * p);
    const int sc0 = sy & 63, sc1 = (sy >> 8) & 63;
    const int sc2 = (sw & 15) | ((sy >> 2) & 0x30), sc3 = ((sw >> 8) & 15) | ((sy >> 10) & 0x30);
    const float mn0 = (float)(sz & 63), mn1 = (float)((sz >> 8) & 63);
    const float mn2 = (float)(((sw >> 4) & 15) | ((sz >> 2) & 0x30));
    const float mn3 = (float)(((sw >> 12) & 15) | ((sz >> 10) & 0x30));
    const uint32_t m4 = 0x0f0f0f0fu;
    uint32_t w0[4], w1[4], w2[4], w3[4]; // sub-blocks j0, j0+1, j0+4, j0+5
    const uint32_t qa[4] = {u.a.x, u.a.y, u.a.z, u.a.w}, qb[4] = {u.b.x, u.b.y, u.b.z, u.b.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        w0[i] = qa[i] & m4;
        w1[i] = (qa[i] >> 4) & m4;
        w2[i] = qb[i] & m4;
        w3[i] = (qb[i] >> 4) & m4;
        if constexpr (T == QT_Q5_K) {
            const uint32_t hb[4] = {u.qh.x, u.qh.y, u.qh.z, u.qh.w};
            const uint32_t m1 = 0x01010101u;
            w0[i] |= ((hb[i] >> j0) & m1) << 4;
            w1[i] |= ((hb[i] >> (j0 + 1)) & m1) << 4;
            w2[i] |= ((hb[i] >> (j0 + 4)) & m1) << 4;
            w3[i] |= ((hb[i] >> (j0 + 5)) & m1) << 4;
        }
    }
#pragma unroll
    for (int r = 0; r < NR; r++) {
        const int8_t *xr = xq + r * k + 16 * h;
        const float2 *er = xds + r * (k / 32);
        const int s0 = dot16(w0[0], w0[1], w0[2], w0[3], __ldg((const int4 *)(xr + 32 * j0)));
        const int s1 = dot16(w1[0], w1[1], w1[2], w1[3], __ldg((const int4 *)(xr + 32 * j0 + 32)));
        const int s2 = dot16(w2[0], w2[1], w2[2], w2[3], __ldg((const int4 *)(xr + 32 * j0 + 128)));
        const int s3 = dot16(w3[0], w3[1], w3[2], w3[3], __ldg((const int4 *)(xr + 32 * j0 + 160)));
        const float2 e0 = __ldg(er + j0), e1 = __ldg(er + j0 + 1);
        const float2 e2 = __ldg(er + j0 + 4), e3 = __ldg(er + j0 + 5);
        const float dot = e0.x * (float)(sc0 * s0) + e1.x * (float)(sc1 * s1) +
                          e2.x * (float)(sc2 * s2) + e3.x * (float)(sc3 * s3);
        const float mins = mn0 * e0.y + mn1 * e1.y + mn2 * e2.y + mn3 * e3.y;
        acc[r] += d * dot - dmin * mins;
    }
}

// out[i] = bytes [o + 4i, o + 4i + 4) of the 48-byte window w (o even, < 16).
__device__ __forceinline__ void realign(const uint4 (&w)[3], int o, uint32_t (&out)[8])
{
    const uint32_t a[12] = {w[0].x, w[0].y, w[0].z, w[0].w, w[1].x, w[1].y,
                            w[1].z, w[1].w, w[2].x, w[2].y, w[2].z, w[2].w};
    uint32_t p[10], v[9];
#pragma unroll
    for (int j = 0; j < 10; j++) p[j] = (o & 8) ? a[j + 2] : a[j];
#pragma unroll
    for (int j = 0; j < 9; j++) v[j] = (o & 4) ? p[j + 1] : p[j];
    const uint32_t sel = (o & 2) ? 0x5432u : 0x3210u;
#pragma unroll
    for (int i = 0; i < 8; i++) out[i] = __byte_perm(v[i], v[i + 1], sel);
}

// Four 6-bit values (bytes < 64) minus 32, as int8 bytes: q + 0x80 - 0x20 has no
// borrow between bytes, and flipping bit 7 back gives q - 32 mod 256.
__device__ __forceinline__ uint32_t minus32(uint32_t q)
{
    return ((q ^ 0x80808080u) - 0x20202020u) ^ 0x80808080u;
}

// Q6_K: the lane's values are l = 0..31 of x blocks 4h + s and 4h + s + 2
// (h = t / 2, s = t % 2), sub-blocks 8h + 2s (+1 for l >= 16) and 8h + 2s + 4 (+1).
template <int NR>
__device__ __forceinline__ void kdot6(const kunit<QT_Q6_K> &u, int t, const int8_t *__restrict__ xq,
                                      const float2 *__restrict__ xds, int64_t k, float (&acc)[NR])
{
    const int h = t >> 1, s = t & 1;
    uint32_t L[8], H[8];
    realign(u.l, u.o, L);
    realign(u.hq, u.o, H);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    uint32_t v0[8], v1[8]; // q - 32 of shift s (low nibbles) and s + 2 (high nibbles)
#pragma unroll
    for (int i = 0; i < 8; i++) {
        v0[i] = minus32((L[i] & m4) | (((H[i] >> (2 * s)) & m2) << 4));
        v1[i] = minus32(((L[i] >> 4) & m4) | (((H[i] >> (2 * s + 4)) & m2) << 4));
    }
    const int c00 = (int8_t)(u.s0 & 255), c01 = (int8_t)(u.s0 >> 8);
    const int c10 = (int8_t)(u.s1 & 255), c11 = (int8_t)(u.s1 >> 8);
    const float d = f16_bits(u.d);
    const int xb = 4 * h + s; // the first x block; the second is xb + 2
#pragma unroll
    for (int r = 0; r < NR; r++) {
        const int4 *xr = (const int4 *)(xq + r * k + 32 * xb);
        const float2 *er = xds + r * (k / 32);
        const int s00 = dot16(v0[0], v0[1], v0[2], v0[3], __ldg(xr));
        const int s01 = dot16(v0[4], v0[5], v0[6], v0[7], __ldg(xr + 1));
        const int s10 = dot16(v1[0], v1[1], v1[2], v1[3], __ldg(xr + 4));
        const int s11 = dot16(v1[4], v1[5], v1[6], v1[7], __ldg(xr + 5));
        const float dx0 = __ldg(&er[xb].x), dx1 = __ldg(&er[xb + 2].x);
        acc[r] += d * (dx0 * (float)(c00 * s00 + c01 * s01) + dx1 * (float)(c10 * s10 + c11 * s11));
    }
}

template <int T, int NR>
__device__ __forceinline__ void kdot(const kunit<T> &u, int t, const int8_t *xq, const float2 *xds,
                                     int64_t k, float (&acc)[NR])
{
    if constexpr (T == QT_Q6_K)
        kdot6<NR>(u, t, xq, xds, k, acc);
    else
        kdot45<T, NR>(u, t, xq, xds, k, acc);
}

// Rows a warp: two for several x rows on Q4_K / Q5_K (their x loads then serve
// both), else one (Q6_K's lane-unit already holds ~50 registers of weights).
// INFERD_CUDA_MMVQ_K_RW=1 (read once) keeps one, for A/B measurements.
template <int T> int rows_per_warp(int nr)
{
    static const int env = cu_env_int("INFERD_CUDA_MMVQ_K_RW", 2);
    return nr > 1 && T != QT_Q6_K && env != 1 ? 2 : 1;
}

// Warps a row: at most 2 lane-units a lane (one pass of UNR loads) up to rows
// of 64 blocks; for one x row, at most 1 up to rows of 32 blocks (a 4096-wide
// row over 2 warps: shorter warps, all loads in flight sooner, as for Q4_0 in
// cuda_mmvq.cu; cu_mmvq_lane_units() >= 8 keeps the first rule).
int row_split(int64_t nb, int nr)
{
    if (nr == 1 && cu_mmvq_lane_units() < 8) return nb > 32 ? 4 : nb > 8 ? 2 : 1;
    return nb > 32 ? 4 : nb > 16 ? 2 : 1;
}

// One matmul of a launch: its weight (m rows), output (row r of x -> y + r *
// m), bias, and the blocks of the grid before its own.
using kseg = cu_mm_seg<uint8_t>;
using ksegs = cu_mm_segs<kseg>;

// g: the launch's matmuls (same type and k: rows of row_bytes, nb blocks
// each), xq / xds: x row 0 (rows k = 256 nb apart). Started by cu_launch.
template <int T, int NR, int KS, int RW>
__global__ void __launch_bounds__(WARPS * 32)
mmvq_k_kernel(ksegs g, size_t row_bytes, int64_t nb, const int8_t *__restrict__ xq,
              const float2 *__restrict__ xds)
{
    constexpr int BYTES = cu_fmt<T>::BYTES;
    constexpr int RPB = WARPS / KS * RW; // rows a block
    // The block's matmul si. Its fields are read by constant indices (a
    // dynamic index into the parameter struct would copy it to local memory),
    // the output's only at the end, so that the main loop holds none of them.
    int si = 0;
#pragma unroll
    for (int i = 1; i < CU_MM_GROUP; i++)
        if (i < g.cnt && (int64_t)blockIdx.x >= g.s[i].blk0) si = i;
    static_assert(CU_MM_GROUP == 3, "pick reads three matmuls");
    auto pick = [&](auto f) { return si == 0 ? g.s[0].*f : si == 1 ? g.s[1].*f : g.s[2].*f; };
    const int64_t m = pick(&kseg::m);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, slice = warp % KS, t = lane & 3;
    const int64_t row0 = ((int64_t)blockIdx.x - pick(&kseg::blk0)) * RPB + (warp / KS) * RW;
    const bool valid = row0 < m;
    if (KS == 1 && !valid) return; // (with KS > 1 every warp reaches the barrier)
    const uint8_t *wr[RW];
#pragma unroll
    for (int j = 0; j < RW; j++) // rows past m read the last row, and are not stored
        wr[j] = pick(&kseg::w) + (size_t)min(row0 + j, m - 1) * row_bytes;
    const int64_t k = nb * 256, per = (nb + KS - 1) / KS;
    const int64_t bbeg = slice * per, bend = min(nb, bbeg + per);
    float acc[RW][NR];
#pragma unroll
    for (int j = 0; j < RW; j++)
#pragma unroll
        for (int r = 0; r < NR; r++) acc[j][r] = 0.0f;
    kunit<T> q[RW][UNR];
    auto load = [&](int64_t b0) { // UNR lane-units of each of the RW rows, from block b0 on
#pragma unroll
        for (int i = 0; i < UNR; i++) {
            const int64_t b = b0 + 8 * i;
            if (b < bend)
#pragma unroll
                for (int j = 0; j < RW; j++) kload(q[j][i], wr[j] + (size_t)b * BYTES, t);
        }
    };
    // The weights are written by no kernel of the step: the first pass's
    // loads (all of them up to 16 blocks a slice, i.e. every row of an 8B
    // model) are issued before waiting for the kernel before this one
    // (cu_pdl_wait), so that they overlap its drain; x is read only after.
    const int64_t first = bbeg + lane / 4;
    if (valid) load(first);
    cu_pdl_wait();
    for (int64_t b0 = first; b0 < bend && valid; b0 += 8 * UNR) {
        if (b0 != first) load(b0);
#pragma unroll
        for (int i = 0; i < UNR; i++) {
            const int64_t b = b0 + 8 * i;
            if (b < bend)
#pragma unroll
                for (int j = 0; j < RW; j++)
                    kdot<T, NR>(q[j][i], t, xq + b * 256, xds + b * 8, k, acc[j]);
        }
    }
    cu_mmvq_store<WARPS, KS, RW, NR>(acc, valid, row0, m, pick(&kseg::y), pick(&kseg::bias));
}

struct launch_args {
    ksegs g;
    unsigned blocks;
    size_t row_bytes;
    int64_t nb;
    const int8_t *xq;
    const float2 *xds;
};

template <int T, int NR, int KS, int RW>
void launch_rw(cu_backend *cb, const launch_args &a)
{
    cu_launch(cb, mmvq_k_kernel<T, NR, KS, RW>, a.blocks, WARPS * 32, 0, a.g, a.row_bytes, a.nb,
              a.xq, a.xds);
}

template <int T, int NR, int KS>
void launch(cu_backend *cb, int rw, const launch_args &a)
{
    if constexpr (NR > 1 && T != QT_Q6_K)
        if (rw == 2) return launch_rw<T, NR, KS, 2>(cb, a);
    launch_rw<T, NR, KS, 1>(cb, a);
}

template <int T, int NR>
void launch_ks(cu_backend *cb, int rw, const launch_args &a)
{
    switch (row_split(a.nb, NR)) {
    case 1: launch<T, NR, 1>(cb, rw, a); break;
    case 2: launch<T, NR, 2>(cb, rw, a); break;
    default: launch<T, NR, 4>(cb, rw, a); break;
    }
}

template <int T>
void launch_nr(cu_backend *cb, int nr, int rw, const launch_args &a)
{
    switch (nr) {
    case 1: launch_ks<T, 1>(cb, rw, a); break;
    case 2: launch_ks<T, 2>(cb, rw, a); break;
    case 3: launch_ks<T, 3>(cb, rw, a); break;
    case 4: launch_ks<T, 4>(cb, rw, a); break;
    default: launch_ks<T, 8>(cb, rw, a); break;
    }
}

bool enabled()
{
    static const bool on = cu_env_int("INFERD_CUDA_MMVQ_K", 1) != 0;
    return on;
}

// Whether matmuls on one x wait to share a launch: yes unless
// INFERD_CUDA_MMVQ_K_GROUP=0 (read once; then each launches at once, the A/B
// baseline).
bool grouping()
{
    static const bool on = cu_env_int("INFERD_CUDA_MMVQ_K_GROUP", 1) != 0;
    return on;
}

} // namespace

bool cu_mmvq_k_takes(const cu_backend *cb, const cu_tensor *w, int64_t n)
{
    if (!cu_mmvq_k_type(w->info.type)) return false;
    const int64_t k = w->info.ne[0];
    return enabled() && k % 256 == 0 && (size_t)(n * k) <= cb->q8_cap;
}

bool cu_mmvq_k_type(uint32_t type)
{
    return type == QT_Q4_K || type == QT_Q5_K || type == QT_Q6_K;
}

void cu_mmvq_k(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
               const float *bias)
{
    cu_mm_group_add(cb, w, x, n, y, bias, false);
    cu_q8_prepare(cb, x, n, w->info.ne[0]); // after the flush: pending matmuls read it
    if (!grouping()) cu_mmvq_flush(cb);
}

void cu_mmvq_k_flush(cu_backend *cb)
{
    cu_mm_group *p = &cb->pmm;
    if (!p->cnt) return;
    const int64_t k = p->k, nb = k / 256;
    const uint32_t type = p->type;
    for (int64_t i = 0; i < p->n;) {
        const int64_t left = p->n - i;
        // one launch for up to 8 rows (each launch streams the whole weights)
        const int nr = left >= 8 ? 8 : left >= 4 ? 4 : (int)left;
        const int rw = type == QT_Q4_K   ? rows_per_warp<QT_Q4_K>(nr)
                       : type == QT_Q5_K ? rows_per_warp<QT_Q5_K>(nr)
                                         : rows_per_warp<QT_Q6_K>(nr);
        const int rpb = WARPS / row_split(nb, nr) * rw;
        launch_args a;
        a.g.cnt = p->cnt;
        int64_t blocks = 0;
        for (int j = 0; j < p->cnt; j++) {
            const int64_t m = cu_rows((const be_tensor *)p->w[j]);
            a.g.s[j] = {(const uint8_t *)p->w[j]->d, p->y[j] + i * m, p->bias[j], m, blocks};
            blocks += (m + rpb - 1) / rpb;
        }
        for (int j = p->cnt; j < CU_MM_GROUP; j++) a.g.s[j] = a.g.s[0]; // never selected
        a.blocks = (unsigned)blocks;
        a.row_bytes = p->w[0]->row_bytes;
        a.nb = nb;
        a.xq = cb->q8_x + i * k;
        a.xds = cb->q8_ds + i * (k / 32);
        if (type == QT_Q4_K)
            launch_nr<QT_Q4_K>(cb, nr, rw, a);
        else if (type == QT_Q5_K)
            launch_nr<QT_Q5_K>(cb, nr, rw, a);
        else
            launch_nr<QT_Q6_K>(cb, nr, rw, a);
        cu_check_launch(cb, "matmul (decode, K-quant int8)");
        i += nr;
    }
    p->cnt = 0;
}
