// cuda_mmv.cu: the decode-path matmul y = x W^T (+ bias) for a few rows of x,
// on float weights (F32, F16, BF16) and the quantized formats that have no
// int8 kernel. Reference: ref_matmul (ref_ops.c); test_cuda_ops compares every
// format, and grouped launches bit for bit against the same matmuls one by one.
//
// Float weights whose rows are whole 16-byte units (k a multiple of 8, 4 for
// F32) take mmv_float_kernel, laid out as the int8 kernel of cuda_mmvq.cu: a
// row is split over KS warps (cu_mmvq_row_split: with one x row, until a lane
// loads at most 2 units), lane l of a slice takes units l, l + 32, ... (each
// warp load is 512 contiguous bytes), UNR units a lane are in flight before any
// is used, the first of them issued before the wait for the kernel before
// (overlapped launch, cuda_common.cuh), and the slices' sums meet in shared
// memory (cu_mmvq_store). Consecutive matmuls on one x (q, k, v; gate, up) are
// one launch over all their rows (the pending group cb->pmm, cu_mmvq_flush).
// Each unit is converted to f32 and dotted with the NR x rows in f32 (x is
// read by every warp of the grid and stays in L1 / L2). The weight is the only
// large stream, so the kernel is bound by how fast it reads it. Other rows
// (k % 8 != 0) take mmv_scalar_kernel: one warp a row, one value a lane.
//
// Quantized formats without an int8 kernel (Q4_1, Q5_0, Q5_1; the K formats
// under INFERD_CUDA_MMVQ_K=0) take mmv_quant_kernel: one warp per output
// feature j (4 warps, 4 features per block). The lanes of a warp walk the
// weight row together, 8 consecutive 32-value units per step (a whole block,
// or one 32-value sub-block of a K-format super-block), 4 lanes per unit, each
// lane 8 values (a "part", cuda_quant.cuh), so that both the weight bytes and
// the activations a warp loads are contiguous; each part is dequantized into
// registers once and dotted with the NR activation rows. The partial sums meet
// in a warp shuffle. Both are launched overlapped (cu_launch): their blocks
// take SMs while the kernel before drains, and wait for it before any read.
//
// Q4_0 / Q8_0 (packed) and Q4_K / Q5_K / Q6_K do not come here: they take the
// int8 kernels of cuda_mmvq.cu and cuda_mmvq_k.cu (x rounded to int8, dp4a).
#include "backend/cuda/cuda_mmv.cuh"
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_mmvq_k.cuh"
#include "backend/cuda/cuda_quant.cuh"

namespace {

constexpr int WARPS = 4; // mmv_quant_kernel, mmv_scalar_kernel

template <int NR>
__device__ __forceinline__ void finish(float (&acc)[NR], int64_t row, int64_t m, float *y,
                                       const float *bias)
{
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int r = 0; r < NR; r++) acc[r] = cu_warp_sum(acc[r]);
    if (lane == 0) {
        float b = bias ? bias[row] : 0.0f;
#pragma unroll
        for (int r = 0; r < NR; r++) y[r * m + row] = acc[r] + b;
    }
}

template <int T, int NR>
__global__ void __launch_bounds__(WARPS * 32)
mmv_quant_kernel(const uint8_t *__restrict__ w, size_t row_bytes, int64_t k, int64_t m,
                 const float *__restrict__ x, float *__restrict__ y, const float *__restrict__ bias)
{
    using F = cu_fmt<T>;
    int64_t row = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    if (row >= m) return;
    cu_pdl_wait(); // (launched overlapped: the blocks are in place when x is ready)
    int lane = threadIdx.x % 32, part = lane % 4;
    const uint8_t *wr = w + (size_t)row * row_bytes;
    int64_t units = k / 32;
    // x offsets of this lane's 8 values inside a unit (cuda_quant.cuh, "parts")
    const int o0 = cu_part_split<T>::value ? 4 * part : 8 * part;
    const int o1 = cu_part_split<T>::value ? 16 + 4 * part : 8 * part + 4;
    float acc[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) acc[r] = 0.0f;
#pragma unroll 2
    for (int64_t u = lane / 4; u < units; u += 8) {
        float v[8];
        cu_deq_part<T>(wr + (u / F::UNITS) * F::BYTES, (int)(u % F::UNITS), part, v);
#pragma unroll
        for (int r = 0; r < NR; r++) {
            const float *xr = x + r * k + 32 * u;
            float4 a = __ldg((const float4 *)(xr + o0)), b = __ldg((const float4 *)(xr + o1));
            acc[r] += v[0] * a.x + v[1] * a.y + v[2] * a.z + v[3] * a.w + v[4] * b.x +
                      v[5] * b.y + v[6] * b.z + v[7] * b.w;
        }
    }
    finish<NR>(acc, row, m, y, bias);
}

// Float weights, rows that are not whole 16-byte units: one value a lane.
template <int T, int NR>
__global__ void __launch_bounds__(WARPS * 32)
mmv_scalar_kernel(const uint8_t *__restrict__ w, size_t row_bytes, int64_t k, int64_t m,
                  const float *__restrict__ x, float *__restrict__ y, const float *__restrict__ bias)
{
    int64_t row = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    if (row >= m) return;
    cu_pdl_wait();
    int lane = threadIdx.x % 32;
    const uint8_t *wr = w + (size_t)row * row_bytes;
    float acc[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) acc[r] = 0.0f;
    for (int64_t c = lane; c < k; c += 32) {
        float v = cu_float_at<T>(wr, c);
#pragma unroll
        for (int r = 0; r < NR; r++) acc[r] += v * x[r * k + c];
    }
    finish<NR>(acc, row, m, y, bias);
}

// ---- float weights in 16-byte units: grouped, overlapped (see the header) ----

// Values a 16-byte unit of a float format holds.
__host__ __device__ constexpr int unit_values(uint32_t type)
{
    return type == QT_F32 ? 4 : 8;
}

// One matmul of a launch: row r of the weight at units w + r * k / unit_values.
using fseg = cu_mm_seg<uint4>;
using fsegs = cu_mm_segs<fseg>;

// The values of unit q as f32.
template <int T>
__device__ __forceinline__ void unit_to_f32(const uint4 &q, float (&v)[unit_values(T)])
{
    if constexpr (T == QT_F32) {
        v[0] = __uint_as_float(q.x); v[1] = __uint_as_float(q.y);
        v[2] = __uint_as_float(q.z); v[3] = __uint_as_float(q.w);
    } else {
        const uint32_t ws[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int e = 0; e < 4; e++) {
            uint16_t lo = (uint16_t)(ws[e] & 0xffff), hi = (uint16_t)(ws[e] >> 16);
            v[2 * e] = T == QT_F16 ? cu_f16(lo) : cu_bf16(lo);
            v[2 * e + 1] = T == QT_F16 ? cu_f16(hi) : cu_bf16(hi);
        }
    }
}

template <int T, int NR, int UNR, int KS>
__global__ void __launch_bounds__(cu_mmvq_warps(KS) * 32)
mmv_float_kernel(fsegs g, int64_t k, const float *__restrict__ x)
{
    constexpr int VE = unit_values(T), FW = cu_mmvq_warps(KS), RPB = FW / KS;
    // (a copy picked by constant indices: g.s[si] with si computed would put
    // the whole parameter array on each thread's stack, 128 bytes of local
    // memory a thread, which made this kernel 2-4x slower)
    fseg sg = g.s[0];
#pragma unroll
    for (int i = 1; i < CU_MM_GROUP; i++)
        if (i < g.cnt && (int64_t)blockIdx.x >= g.s[i].blk0) sg = g.s[i];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, slice = warp % KS;
    const int64_t row = ((int64_t)blockIdx.x - sg.blk0) * RPB + warp / KS;
    const bool valid = row < sg.m;
    if (KS == 1 && !valid) return; // (with KS > 1 every warp reaches the barrier)
    const int64_t units = k / VE, per = (units + KS - 1) / KS;
    const int64_t ubeg = slice * per, uend = min(units, ubeg + per);
    const uint4 *wr = sg.w + min(row, sg.m - 1) * units;
    uint4 q[UNR];
    auto load = [&](int64_t u0) {
#pragma unroll
        for (int i = 0; i < UNR; i++)
            if (u0 + 32 * i < uend) q[i] = cu_load_stream(wr + u0 + 32 * i);
    };
    // The weights do not depend on the kernels before this one: the first
    // loads are in flight before waiting for them; x is read only after.
    if (valid && ubeg + lane < uend) load(ubeg + lane);
    cu_pdl_wait();
    float acc[1][NR];
#pragma unroll
    for (int r = 0; r < NR; r++) acc[0][r] = 0.0f;
    for (int64_t u0 = ubeg + lane; u0 < uend && valid; u0 += 32 * UNR) {
        if (u0 != ubeg + lane) load(u0);
#pragma unroll
        for (int i = 0; i < UNR; i++) {
            const int64_t u = u0 + 32 * i;
            if (u >= uend) break;
            float v[VE];
            unit_to_f32<T>(q[i], v);
#pragma unroll
            for (int r = 0; r < NR; r++) {
                const float4 *xr = (const float4 *)(x + r * k + VE * u);
                float s = 0.0f;
#pragma unroll
                for (int e = 0; e < VE / 4; e++) {
                    const float4 xv = __ldg(xr + e);
                    s += v[4 * e] * xv.x + v[4 * e + 1] * xv.y + v[4 * e + 2] * xv.z +
                         v[4 * e + 3] * xv.w;
                }
                acc[0][r] += s;
            }
        }
    }
    cu_mmvq_store<FW, KS, 1, NR>(acc, valid, row, sg.m, sg.y, sg.bias);
}

// Launches of mmv_float_kernel by units a lane loads (UNR 2 for one x row).
template <int T, int NR, int KS>
void launch_float_ks(cu_backend *cb, const fsegs &g, unsigned blocks, int64_t k, const float *x)
{
    const int64_t per_lane = (k / unit_values(T) / KS + 31) / 32;
    const int threads = cu_mmvq_warps(KS) * 32;
    if constexpr (NR == 1)
        if (per_lane <= 2)
            return cu_launch(cb, mmv_float_kernel<T, NR, 2, KS>, blocks, threads, 0, g, k, x);
    if (per_lane <= 4)
        cu_launch(cb, mmv_float_kernel<T, NR, 4, KS>, blocks, threads, 0, g, k, x);
    else
        cu_launch(cb, mmv_float_kernel<T, NR, 8, KS>, blocks, threads, 0, g, k, x);
}

template <int T, int NR>
void launch_float_nr(cu_backend *cb, int ks, const fsegs &g, unsigned blocks, int64_t k,
                     const float *x)
{
    switch (ks) {
    case 1: launch_float_ks<T, NR, 1>(cb, g, blocks, k, x); break;
    case 2: launch_float_ks<T, NR, 2>(cb, g, blocks, k, x); break;
    case 4: launch_float_ks<T, NR, 4>(cb, g, blocks, k, x); break;
    default: // 8: one x row only
        if constexpr (NR == 1) launch_float_ks<T, NR, 8>(cb, g, blocks, k, x);
        break;
    }
}

template <int T>
void launch_float(cu_backend *cb, int nr, int ks, const fsegs &g, unsigned blocks, int64_t k,
                  const float *x)
{
    switch (nr) {
    case 1: launch_float_nr<T, 1>(cb, ks, g, blocks, k, x); break;
    case 2: launch_float_nr<T, 2>(cb, ks, g, blocks, k, x); break;
    case 4: launch_float_nr<T, 4>(cb, ks, g, blocks, k, x); break;
    default: launch_float_nr<T, 8>(cb, ks, g, blocks, k, x); break;
    }
}

// Warps a row: the split of the int8 kernel (cu_mmvq_row_split), or the one
// INFERD_CUDA_MMV_SPLIT=1|2|4|8 (read once; 8 for one x row only) forces, for
// measurements.
int float_split(int64_t units, int nr)
{
    static const int forced = cu_env_int("INFERD_CUDA_MMV_SPLIT", 0);
    if (forced == 1 || forced == 2 || forced == 4 || (forced == 8 && nr == 1)) return forced;
    return cu_mmvq_row_split(units, nr);
}

struct mmv_launch {
    template <int T, int NR>
    static void go(cu_backend *cb, const cu_tensor *W, const float *x, float *y,
                   const float *bias)
    {
        int64_t k = W->info.ne[0], m = cu_rows((const be_tensor *)W);
        unsigned grid = cu_blocks(m, WARPS);
        const uint8_t *w = (const uint8_t *)W->d;
        if constexpr (cu_mmv_float_type(T))
            cu_launch(cb, mmv_scalar_kernel<T, NR>, grid, WARPS * 32, 0, w, W->row_bytes, k, m, x,
                      y, bias);
        else
            cu_launch(cb, mmv_quant_kernel<T, NR>, grid, WARPS * 32, 0, w, W->row_bytes, k, m, x,
                      y, bias);
    }

    template <int T>
    static void run(cu_backend *cb, const cu_tensor *W, const float *x, int nr, float *y,
                    const float *bias)
    {
        switch (nr) {
        case 1: go<T, 1>(cb, W, x, y, bias); break;
        case 2: go<T, 2>(cb, W, x, y, bias); break;
        case 4: go<T, 4>(cb, W, x, y, bias); break;
        default: go<T, 8>(cb, W, x, y, bias); break;
        }
    }
};

} // namespace

void cu_mmv(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
            const float *bias)
{
    if (w->packed) {
        cu_mmvq(cb, w, x, n, y, bias);
        return;
    }
    if (cu_mmvq_k_takes(cb, w, n)) {
        cu_mmvq_k(cb, w, x, n, y, bias);
        return;
    }
    if (cu_mmv_float_groups(w)) {
        cu_mm_group_add(cb, w, x, n, y, bias, false);
        return;
    }
    int64_t k = w->info.ne[0], m = cu_rows((const be_tensor *)w);
    for (int64_t i = 0; i < n;) {
        int64_t left = n - i;
        int nr = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        CU_DISPATCH_QUANT(w->info.type, mmv_launch, cb, w, x + i * k, nr, y + i * m, bias);
        cu_check_launch(cb, "matmul (decode)");
        i += nr;
    }
}

bool cu_mmv_float_groups(const cu_tensor *w)
{
    const uint32_t t = w->info.type;
    return cu_mmv_float_type(t) && w->info.ne[0] % unit_values(t) == 0;
}

void cu_mmv_float_flush(cu_backend *cb)
{
    cu_mm_group *p = &cb->pmm;
    const int64_t k = p->k;
    for (int64_t i = 0; i < p->n;) {
        const int64_t left = p->n - i;
        const int nr = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const int ks = float_split(k / unit_values(p->type), nr);
        const int rpb = cu_mmvq_warps(ks) / ks;
        fsegs g;
        g.cnt = p->cnt;
        int64_t blocks = 0;
        for (int j = 0; j < p->cnt; j++) {
            const int64_t m = cu_rows((const be_tensor *)p->w[j]);
            g.s[j] = {(const uint4 *)p->w[j]->d, p->y[j] + i * m, p->bias[j], m, blocks};
            blocks += (m + rpb - 1) / rpb;
        }
        const float *x = p->x + i * k;
        if (p->type == QT_F16)
            launch_float<QT_F16>(cb, nr, ks, g, (unsigned)blocks, k, x);
        else if (p->type == QT_BF16)
            launch_float<QT_BF16>(cb, nr, ks, g, (unsigned)blocks, k, x);
        else
            launch_float<QT_F32>(cb, nr, ks, g, (unsigned)blocks, k, x);
        cu_check_launch(cb, "matmul (decode, float)");
        i += nr;
    }
    p->cnt = 0;
}
