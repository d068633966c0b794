// cuda_mmvq.cu: the decode matmul y = x W^T (+ bias) on packed Q4_0 / Q8_0
// weights (layout in cuda_mmvq.cuh), the packing itself, and dequantization of
// packed rows (embed, prefill matmul). Reference: ref_matmul (ref_ops.c);
// test_cuda_ops compares every format, with the error bound that rounding x to
// int8 adds (see the test's header).
//
// Why int8 activations: with f32 activations a Q4_0 value costs ~6 instructions
// (unpack, convert, scale, load x, fma), which at 3 TB/s of weights (6e12
// values/s) is more than the SMs issue. x is quantized once per step and x
// (q8_x_kernel: one warp per 32 values, d = amax / 127, s = d * sum(q)), then a
// block of 32 values is 8 dp4a + 8 masks/shifts (Q4_0) or 8 dp4a (Q8_0):
//   Q4_0: sum_c d_w (q_c - 8) d_x p_c = d_w (d_x sum q_c p_c - 8 s_x)
//   Q8_0: sum_c d_w q_c d_x p_c       = d_w d_x sum q_c p_c
//
// Blocking: 4 warps a block (8 where a row is split over 8); a warp takes RW
// rows (1 for one x row, more for several), and a row is split over KS warps
// (mmvq_kernel, cu_mmvq_row_split). A "unit" is 16 bytes of quants (a Q4_0
// block, half a Q8_0 block); lane l takes units l, l + 32, ... of its slice, so
// each warp load is 512 contiguous bytes, and UNR (2, 4 or 8, by the units a lane has)
// units are loaded before any is used: one x row of a 4096-wide Q4_0 weight is
// 2 units a lane in each of 2 warps, all in flight, issued before the wait for
// the kernel before (overlapped launch, cuda_common.cuh). The weight stream
// bypasses L1 (ld.global.nc.L1::no_allocate); x's int8 rows are shared by
// every warp and stay in L1 / L2.
//
// Grouping: consecutive matmuls on the same x (q, k, v; gate, up) are not
// launched one by one but kept pending (cb->pmm) and launched as one grid over
// all their rows (cu_mmvq_flush, called before any other op): a k or v
// projection alone (1024 rows of an 8B model) is too small to fill the GPU, and
// each launch costs its ramp-up and drain.
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_mmf.cuh"
#include "backend/cuda/cuda_mmv.cuh"
#include "backend/cuda/cuda_mmvq_k.cuh"

#include <cstring>

namespace {

// x (rows of k, k % 32 == 0, cnt = values / 32 blocks) -> int8 q, (d, d * sum q).
__global__ void q8_x_kernel(const float *__restrict__ x, int64_t blocks, int8_t *__restrict__ q,
                            float2 *__restrict__ ds)
{
    cu_pdl_wait();
    int64_t b = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (b >= blocks) return; // whole warps leave together
    int64_t i = 32 * b + threadIdx.x % 32;
    cu_q8_round_warp(x[i], i, q, ds);
}

// One matmul of a launch: the packed weight's quants (w) and scales.
struct mm_seg : cu_mm_seg<uint8_t> {
    const __half *sc;
};
using mm_segs = cu_mm_segs<mm_seg>;

// A warp takes RW consecutive rows (the same k positions of each), so that the
// int8 x a lane loads for a unit serves RW rows: x costs 40 bytes of L1 reads
// per 16 bytes of weight and x row, which bounded the kernel once there were
// several x rows. KS warps share a row group, each taking one slice of its
// units, so that a lane's loads of a long row (the down projection's 14336)
// are all in flight at once rather than in dependent passes; their sums meet
// in shared memory.
template <int T, int NR, int UNR, int KS, int RW>
__global__ void __launch_bounds__(cu_mmvq_warps(KS) * 32)
mmvq_kernel(mm_segs g, int64_t nb, const int8_t *__restrict__ xq, const float2 *__restrict__ xds)
{
    constexpr int QB = T == QT_Q4_0 ? 16 : 32;  // quant bytes a block
    constexpr int UPB = QB / 16;                // units a block
    constexpr int WARPS = cu_mmvq_warps(KS);
    constexpr int RPB = WARPS / KS * RW;        // rows a block
    int si = 0;
#pragma unroll
    for (int i = 1; i < CU_MM_GROUP; i++)
        if (i < g.cnt && (int64_t)blockIdx.x >= g.s[i].blk0) si = i;
    const mm_seg &sg = g.s[si];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, slice = warp % KS;
    const int64_t row0 = ((int64_t)blockIdx.x - sg.blk0) * RPB + (warp / KS) * RW;
    const bool valid = row0 < sg.m;
    if (KS == 1 && !valid) return; // (with KS > 1 every warp reaches the barrier)
    const uint4 *wq[RW];
    const __half *ws[RW];
#pragma unroll
    for (int j = 0; j < RW; j++) { // rows past m read the last row, and are not stored
        int64_t r = min(row0 + j, sg.m - 1);
        wq[j] = (const uint4 *)(sg.w + (size_t)r * nb * QB);
        ws[j] = sg.sc + r * nb;
    }
    const int64_t units = nb * UPB, k = nb * 32;
    const int64_t per = (units + KS - 1) / KS;
    const int64_t ubeg = slice * per, uend = min(units, ubeg + per);
    float acc[RW][NR];
#pragma unroll
    for (int j = 0; j < RW; j++)
#pragma unroll
        for (int r = 0; r < NR; r++) acc[j][r] = 0.0f;
    uint4 q[RW][UNR];
    float dw[RW][UNR];
    auto load = [&](int64_t u0) { // UNR units of each of the RW rows, from u0 on
#pragma unroll
        for (int i = 0; i < UNR; i++) {
            int64_t u = u0 + 32 * i;
            if (u < uend) {
#pragma unroll
                for (int j = 0; j < RW; j++) {
                    q[j][i] = cu_load_stream(wq[j] + u);
                    dw[j][i] = __half2float(ws[j][u / UPB]);
                }
            }
        }
    };
    // The weights do not depend on the kernels before this one: the first
    // loads are in flight before waiting for them (cu_pdl_wait), so that they
    // overlap the end of the previous kernel; x is read only after it.
    if (valid && ubeg + lane < uend) load(ubeg + lane);
    cu_pdl_wait();
    for (int64_t u0 = ubeg + lane; u0 < uend && valid; u0 += 32 * UNR) {
        if (u0 != ubeg + lane) load(u0);
#pragma unroll
        for (int i = 0; i < UNR; i++) {
            int64_t u = u0 + 32 * i;
            if (u >= uend) break;
            int64_t b = u / UPB;
#pragma unroll
            for (int r = 0; r < NR; r++) {
                const int4 *xb = (const int4 *)(xq + r * k + 32 * b);
                float2 d2 = __ldg(xds + r * nb + b);
                if constexpr (T == QT_Q4_0) {
                    int4 x0 = __ldg(xb), x1 = __ldg(xb + 1);
                    const uint32_t m4 = 0x0f0f0f0fu;
#pragma unroll
                    for (int j = 0; j < RW; j++) {
                        int s = __dp4a((int)(q[j][i].x & m4), x0.x, 0);
                        s = __dp4a((int)(q[j][i].y & m4), x0.y, s);
                        s = __dp4a((int)(q[j][i].z & m4), x0.z, s);
                        s = __dp4a((int)(q[j][i].w & m4), x0.w, s);
                        s = __dp4a((int)((q[j][i].x >> 4) & m4), x1.x, s);
                        s = __dp4a((int)((q[j][i].y >> 4) & m4), x1.y, s);
                        s = __dp4a((int)((q[j][i].z >> 4) & m4), x1.z, s);
                        s = __dp4a((int)((q[j][i].w >> 4) & m4), x1.w, s);
                        acc[j][r] += dw[j][i] * (d2.x * (float)s - 8.0f * d2.y);
                    }
                } else {
                    int4 x0 = __ldg(xb + (u % UPB));
#pragma unroll
                    for (int j = 0; j < RW; j++) {
                        int s = __dp4a((int)q[j][i].x, x0.x, 0);
                        s = __dp4a((int)q[j][i].y, x0.y, s);
                        s = __dp4a((int)q[j][i].z, x0.z, s);
                        s = __dp4a((int)q[j][i].w, x0.w, s);
                        acc[j][r] += dw[j][i] * d2.x * (float)s;
                    }
                }
            }
        }
    }
    cu_mmvq_store<WARPS, KS, RW, NR>(acc, valid, row0, sg.m, sg.y, sg.bias);
}

// Rows a warp. One x row: one (measured on an H200, 8B Q4_0: 451 tok/s against
// 440 with four; x's L1 traffic is not the limit then, and fewer registers
// keep more warps resident). Several x rows: four, or two where a row is split
// over warps (their registers hold RW x UNR 16-byte loads): 2, 4 and 8 rows
// ran 1.79x, 2.43x and 3.21x one row's tokens/s, against 1.44x, 1.91x and
// 2.25x with one row a warp. Two x rows: two (H100, engine_bench 8B Q4_0 at 2
// sequences, 779.9 / 777.8 tok/s against 762.9 / 757.7 with four; at 4
// sequences four stays best, 1,344 against 1,244 with two).
// INFERD_CUDA_MMVQ_RW=1, 2 or 4 (read once) sets the rows a warp for several x
// rows (1 also for one), for such A/B measurements.
int rows_per_warp(int ks, int nr)
{
    static const int env = cu_env_int("INFERD_CUDA_MMVQ_RW", 0);
    const int forced = env == 1 || env == 2 || env == 4 ? env : 0;
    if (forced == 1 || nr == 1) return 1;
    int rw = forced ? forced : nr == 2 ? 2 : 4;
    return ks == 1 ? rw : 2;
}

template <int T, int NR, int KS, int RW>
void launch_rw(cu_backend *cb, const mm_segs &g, unsigned blocks, int64_t nb, const int8_t *xq,
               const float2 *xds)
{
    int64_t per_lane = (nb * (T == QT_Q4_0 ? 1 : 2) / KS + 31) / 32;
    const int threads = cu_mmvq_warps(KS) * 32;
    if constexpr (NR == 1)
        if (per_lane <= 2)
            return cu_launch(cb, mmvq_kernel<T, NR, 2, KS, RW>, blocks, threads, 0, g, nb, xq, xds);
    if (per_lane <= 4)
        cu_launch(cb, mmvq_kernel<T, NR, 4, KS, RW>, blocks, threads, 0, g, nb, xq, xds);
    else
        cu_launch(cb, mmvq_kernel<T, NR, 8, KS, RW>, blocks, threads, 0, g, nb, xq, xds);
}

template <int T, int NR, int KS>
void launch_ks(cu_backend *cb, const mm_segs &g, unsigned blocks, int64_t nb, const int8_t *xq,
               const float2 *xds)
{
    switch (rows_per_warp(KS, NR)) {
    case 1: launch_rw<T, NR, KS, 1>(cb, g, blocks, nb, xq, xds); break;
    case 2: launch_rw<T, NR, KS, 2>(cb, g, blocks, nb, xq, xds); break;
    default: launch_rw<T, NR, KS, KS == 1 ? 4 : 2>(cb, g, blocks, nb, xq, xds); break;
    }
}

template <int T, int NR>
void launch(cu_backend *cb, const mm_segs &g, unsigned blocks, int64_t nb, const int8_t *xq,
            const float2 *xds)
{
    switch (cu_mmvq_row_split(nb * (T == QT_Q4_0 ? 1 : 2), NR)) {
    case 1: launch_ks<T, NR, 1>(cb, g, blocks, nb, xq, xds); break;
    case 2: launch_ks<T, NR, 2>(cb, g, blocks, nb, xq, xds); break;
    case 4: launch_ks<T, NR, 4>(cb, g, blocks, nb, xq, xds); break;
    default: // 8: one x row only
        if constexpr (NR == 1) launch_ks<T, NR, 8>(cb, g, blocks, nb, xq, xds);
        break;
    }
}

template <int T>
void launch_nr(cu_backend *cb, int nr, const mm_segs &g, unsigned blocks, int64_t nb,
               const int8_t *xq, const float2 *xds)
{
    switch (nr) {
    case 1: launch<T, 1>(cb, g, blocks, nb, xq, xds); break;
    case 2: launch<T, 2>(cb, g, blocks, nb, xq, xds); break;
    case 3: launch<T, 3>(cb, g, blocks, nb, xq, xds); break;
    case 4: launch<T, 4>(cb, g, blocks, nb, xq, xds); break;
    default: launch<T, 8>(cb, g, blocks, nb, xq, xds); break;
    }
}

// dst row i = packed row (idx ? idx[i] : row0 + i); 4 threads per block of 32
// values, each 8 of them (Q4_0: 4p..4p+3 and 16+4p..16+4p+3; Q8_0: 8p..8p+7),
// stored as runs of 4 (one 8-byte f16 or 16-byte f32 store each): the prefill
// matmul dequantizes a whole weight to f16 per call past CU_MMQ_MAX_N rows, and
// 2-byte stores a value left three quarters of each written sector unused.
__device__ __forceinline__ void put4(float *p, float a, float b, float c, float d)
{
    *(float4 *)p = make_float4(a, b, c, d);
}
__device__ __forceinline__ void put4(__half *p, float a, float b, float c, float d)
{
    __half2 lo = __floats2half2_rn(a, b), hi = __floats2half2_rn(c, d);
    uint2 u;
    u.x = *(uint32_t *)&lo;
    u.y = *(uint32_t *)&hi;
    *(uint2 *)p = u;
}

template <int T, typename O>
__global__ void deq_packed_kernel(const uint8_t *__restrict__ qs, const __half *__restrict__ sc,
                                  int64_t nb, const int32_t *__restrict__ idx, int64_t row0,
                                  O *__restrict__ dst)
{
    constexpr int QB = T == QT_Q4_0 ? 16 : 32;
    int64_t i = blockIdx.y;
    int64_t r = idx ? idx[i] : row0 + i;
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t b = t / 4;
    int p = (int)(t % 4);
    if (b >= nb) return;
    const uint8_t *q = qs + ((size_t)r * nb + b) * QB;
    float d = __half2float(sc[r * nb + b]);
    O *o = dst + i * nb * 32 + 32 * b;
    if constexpr (T == QT_Q4_0) {
        uint32_t w = *(const uint32_t *)(q + 4 * p);
        float lo[4], hi[4];
#pragma unroll
        for (int e = 0; e < 4; e++) {
            uint32_t v = (w >> (8 * e)) & 255;
            lo[e] = d * (float)((int)(v & 15) - 8);
            hi[e] = d * (float)((int)(v >> 4) - 8);
        }
        put4(o + 4 * p, lo[0], lo[1], lo[2], lo[3]);
        put4(o + 16 + 4 * p, hi[0], hi[1], hi[2], hi[3]);
    } else {
        uint2 w = *(const uint2 *)(q + 8 * p);
        float v[8];
#pragma unroll
        for (int e = 0; e < 4; e++) {
            v[e] = d * (float)(int8_t)((w.x >> (8 * e)) & 255);
            v[4 + e] = d * (float)(int8_t)((w.y >> (8 * e)) & 255);
        }
        put4(o + 8 * p, v[0], v[1], v[2], v[3]);
        put4(o + 8 * p + 4, v[4], v[5], v[6], v[7]);
    }
}

template <typename O>
void dequant(cu_backend *cb, const cu_tensor *W, const int32_t *idx, int64_t row0, int64_t n_rows,
             O *dst)
{
    if (n_rows <= 0) return;
    int64_t k = W->info.ne[0], m = cu_rows((const be_tensor *)W), nb = k / 32;
    uint32_t t = W->info.type;
    const uint8_t *qs = (const uint8_t *)W->d;
    const __half *sc = (const __half *)(qs + (size_t)m * nb * cu_pack_qb(t));
    dim3 grid(cu_blocks(nb * 4, 128), (unsigned)n_rows);
    if (t == QT_Q4_0)
        deq_packed_kernel<QT_Q4_0, O><<<grid, 128, 0, cb->stream>>>(qs, sc, nb, idx, row0, dst);
    else
        deq_packed_kernel<QT_Q8_0, O><<<grid, 128, 0, cb->stream>>>(qs, sc, nb, idx, row0, dst);
    cu_check_launch(cb, "dequantize (packed)");
}

} // namespace

void cu_pack_host(uint32_t type, const uint8_t *src, size_t rows, int64_t k, uint8_t *dst)
{
    size_t nb = (size_t)k / 32, qb = cu_pack_qb(type), bb = qb + 2, total = rows * nb;
    uint8_t *sc = dst + total * qb;
    for (size_t i = 0; i < total; i++) {
        memcpy(dst + i * qb, src + i * bb + 2, qb);
        memcpy(sc + 2 * i, src + i * bb, 2);
    }
}

void cu_unpack_host(uint32_t type, const uint8_t *src, size_t rows, int64_t k, int64_t row0,
                    int64_t n_rows, uint8_t *dst)
{
    size_t nb = (size_t)k / 32, qb = cu_pack_qb(type), bb = qb + 2;
    const uint8_t *sc = src + rows * nb * qb;
    for (size_t i = (size_t)row0 * nb, o = 0; i < (size_t)(row0 + n_rows) * nb; i++, o++) {
        memcpy(dst + o * bb, sc + 2 * i, 2);
        memcpy(dst + o * bb + 2, src + i * qb, qb);
    }
}

void cu_pack_dequant_f32(cu_backend *cb, const cu_tensor *w, const int32_t *idx, int64_t row0,
                         int64_t n_rows, float *dst)
{
    dequant(cb, w, idx, row0, n_rows, dst);
}

void cu_pack_dequant_f16(cu_backend *cb, const cu_tensor *w, const int32_t *idx, int64_t row0,
                         int64_t n_rows, __half *dst)
{
    dequant(cb, w, idx, row0, n_rows, dst);
}

void cu_q8_prepare(cu_backend *cb, const float *x, int64_t n, int64_t k)
{
    INF_ASSERT(k % 32 == 0 && (size_t)(n * k) <= cb->q8_cap);
    // x is quantized once until an op other than matmul runs (q, k, v and
    // gate, up share their input): cb->op_gen counts those ops.
    if (cu_x_copy_holds(cb, cb->q8, x, n, k)) return;
    int64_t blocks = n * (k / 32);
    cu_launch(cb, q8_x_kernel, cu_blocks(blocks, 8), 256, 0, x, blocks, cb->q8_x, cb->q8_ds);
    cu_check_launch(cb, "matmul: x to int8");
    cu_x_copy_claim(cb, cb->q8, x, n, k);
}

int cu_mmvq_lane_units()
{
    static const int v = cu_env_int("INFERD_CUDA_MMVQ_LANE_UNITS", 2);
    return v;
}

// Measured on an H100 (bench/mmvq_lab.cu, back-to-back launches), 8B Q4_0 with
// one x row: o / q,k,v / gate,up 6.6 / 7.6 / 24.6 us with 4 units a lane
// against 4.8 / 7.2 / 23.5 with 2, and the down projection 15.3 us with 7 units
// a lane over 2 warps against 14.6 with 3.5 over 4 and 13.6 with 1.75 over 8:
// few, short-lived loads a block let more blocks be resident (fewer registers).
int cu_mmvq_row_split(int64_t units, int nr)
{
    const int lane_max = cu_mmvq_lane_units();
    if (nr > 1 || lane_max >= 8) return units >= 512 ? 4 : units >= 256 ? 2 : 1;
    int ks = 1;
    while (ks < 8 && (units / ks + 31) / 32 > lane_max) ks *= 2;
    return ks;
}

void cu_mmvq_flush(cu_backend *cb)
{
    cu_mm_group *p = &cb->pmm;
    if (!p->cnt) return;
    if (p->f16) return cu_mmf_flush(cb); // rows of the f16 tensor-core kernel
    if (cu_mmvq_k_type(p->type)) return cu_mmvq_k_flush(cb); // K-quant weights
    if (cu_mmv_float_type(p->type)) return cu_mmv_float_flush(cb); // F32 / F16 / BF16
    int64_t k = p->k, nb = k / 32;
    for (int64_t i = 0; i < p->n;) {
        int64_t left = p->n - i;
        // one launch for up to 8 rows (each launch streams the whole weight)
        int nr = left >= 8 ? 8 : left >= 4 ? 4 : (int)left;
        mm_segs g;
        g.cnt = p->cnt;
        int64_t blocks = 0;
        int ks = cu_mmvq_row_split(nb * (int64_t)(cu_pack_qb(p->type) / 16), nr);
        int rpb = cu_mmvq_warps(ks) / ks * rows_per_warp(ks, nr);
        for (int j = 0; j < p->cnt; j++) {
            const cu_tensor *w = p->w[j];
            int64_t m = cu_rows((const be_tensor *)w);
            const uint8_t *qs = (const uint8_t *)w->d;
            g.s[j] = {{qs, p->y[j] + i * m, p->bias[j], m, blocks},
                      (const __half *)(qs + (size_t)m * nb * cu_pack_qb(p->type))};
            blocks += (m + rpb - 1) / rpb;
        }
        const int8_t *xq = cb->q8_x + i * k;
        const float2 *xds = cb->q8_ds + i * nb;
        if (p->type == QT_Q4_0)
            launch_nr<QT_Q4_0>(cb, nr, g, (unsigned)blocks, nb, xq, xds);
        else
            launch_nr<QT_Q8_0>(cb, nr, g, (unsigned)blocks, nb, xq, xds);
        cu_check_launch(cb, "matmul (decode, packed)");
        i += nr;
    }
    p->cnt = 0;
}

// Whether a decode matmul of w on n rows of x may join the pending ones (or
// none is pending).
static bool joins(const cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, bool f16)
{
    const cu_mm_group *p = &cb->pmm;
    if (!p->cnt) return true;
    if (p->f16 != f16 || p->cnt == CU_MM_GROUP || p->x != x || p->n != n ||
        p->type != w->info.type || p->k != w->info.ne[0])
        return false;
    for (int j = 0; j < p->cnt; j++)
        if ((const float *)p->y[j] == x) return false; // x is a pending output
    return true;
}

void cu_mm_group_add(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
                     const float *bias, bool f16)
{
    if (!joins(cb, w, x, n, f16)) cu_mmvq_flush(cb);
    cu_mm_group *p = &cb->pmm;
    for (int j = 0; j < p->cnt; j++) // a later matmul overwrites a pending output
        if (p->y[j] == y) {
            cu_mmvq_flush(cb);
            break;
        }
    // A flush above may have copied x of a pending matmul that is this one's y
    // (the f16 kernel makes its copy at launch): that copy dies with this write.
    cu_x_copies_drop(cb, y);
    if (!p->cnt) {
        p->x = x;
        p->n = n;
        p->k = w->info.ne[0];
        p->type = w->info.type;
        p->f16 = f16;
    }
    p->w[p->cnt] = w;
    p->y[p->cnt] = y;
    p->bias[p->cnt] = bias;
    p->cnt++;
}

void cu_mmvq(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
             const float *bias)
{
    cu_mm_group_add(cb, w, x, n, y, bias, false);
    cu_q8_prepare(cb, x, n, w->info.ne[0]); // after the flush: pending matmuls read it
}
