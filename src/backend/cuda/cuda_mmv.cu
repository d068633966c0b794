// cuda_mmv.cu: the decode-path matmul y = x W^T (+ bias) for a few rows of x.
// Reference: ref_matmul (ref_ops.c); test_cuda_ops compares every format.
//
// Blocking: one warp per output feature j (4 warps, 4 features per block). The
// lanes of a warp walk the weight row together, 8 consecutive 32-value units
// per step (a unit is a whole Q4_0/Q8_0/... block, or one 32-value sub-block of
// a K-format super-block), 4 lanes per unit, each lane 8 values (a "part",
// cuda_quant.cuh), so that both the weight bytes and the activations a warp
// loads are contiguous; each part is dequantized into registers once and
// dotted with the NR activation rows (two float4 loads of x per row; x is read
// by every warp of the grid and stays in L1/L2). Float formats load 16 bytes
// (4 or 8 values) per lane per step. The partial sums meet in a warp shuffle.
// The weight is the only large stream, so this kernel is bound by how fast it
// reads it (weight bytes / memory bandwidth per call).
//
// Q4_0 / Q8_0 (packed) and Q4_K / Q5_K / Q6_K do not come here: they take the
// int8 kernels of cuda_mmvq.cu and cuda_mmvq_k.cu (x rounded to int8, dp4a);
// INFERD_CUDA_MMVQ_K=0 keeps the K formats on mmv_quant_kernel.
#include "backend/cuda/cuda_mmv.cuh"
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_mmvq_k.cuh"
#include "backend/cuda/cuda_quant.cuh"

namespace {

constexpr int WARPS = 4;
constexpr int UNR = 4; // float weights: 16-byte loads in flight per lane

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

// Float weights: 16-byte loads when the row allows (VEC), else one value per lane.
template <int T, int NR, bool VEC>
__global__ void __launch_bounds__(WARPS * 32)
mmv_float_kernel(const uint8_t *__restrict__ w, size_t row_bytes, int64_t k, int64_t m,
                 const float *__restrict__ x, float *__restrict__ y, const float *__restrict__ bias)
{
    int64_t row = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    if (row >= m) return;
    int lane = threadIdx.x % 32;
    const uint8_t *wr = w + (size_t)row * row_bytes;
    float acc[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) acc[r] = 0.0f;
    if constexpr (VEC) {
        constexpr int VE = T == QT_F32 ? 4 : 8; // values per 16 bytes
        const uint4 *wv = (const uint4 *)wr;
        const int64_t nc = k / VE;
        // UNR 16-byte loads a lane in flight before any is used
        for (int64_t c0 = lane; c0 < nc; c0 += 32 * UNR) {
            uint4 qs[UNR];
#pragma unroll
            for (int i = 0; i < UNR; i++)
                if (c0 + 32 * i < nc) qs[i] = cu_load_stream(wv + c0 + 32 * i);
#pragma unroll
            for (int i = 0; i < UNR; i++) {
                const int64_t c = c0 + 32 * i;
                if (c >= nc) break;
                const uint4 q = qs[i];
                float v[VE];
                if constexpr (T == QT_F32) {
                    v[0] = __uint_as_float(q.x); v[1] = __uint_as_float(q.y);
                    v[2] = __uint_as_float(q.z); v[3] = __uint_as_float(q.w);
                } else {
                    uint32_t ws[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        uint16_t lo = (uint16_t)(ws[e] & 0xffff), hi = (uint16_t)(ws[e] >> 16);
                        v[2 * e] = T == QT_F16 ? cu_f16(lo) : cu_bf16(lo);
                        v[2 * e + 1] = T == QT_F16 ? cu_f16(hi) : cu_bf16(hi);
                    }
                }
#pragma unroll
                for (int r = 0; r < NR; r++) {
                    const float4 *xr = (const float4 *)(x + r * k + VE * c);
                    float s = 0.0f;
#pragma unroll
                    for (int q4 = 0; q4 < VE / 4; q4++) {
                        float4 xv = __ldg(xr + q4);
                        s += v[4 * q4] * xv.x + v[4 * q4 + 1] * xv.y + v[4 * q4 + 2] * xv.z +
                             v[4 * q4 + 3] * xv.w;
                    }
                    acc[r] += s;
                }
            }
        }
    } else {
        for (int64_t c = lane; c < k; c += 32) {
            float v = cu_float_at<T>(wr, c);
#pragma unroll
            for (int r = 0; r < NR; r++) acc[r] += v * x[r * k + c];
        }
    }
    finish<NR>(acc, row, m, y, bias);
}

struct mmv_launch {
    template <int T, int NR>
    static void go(cudaStream_t st, const cu_tensor *W, const float *x, float *y, const float *bias)
    {
        int64_t k = W->info.ne[0], m = cu_rows((const be_tensor *)W);
        unsigned grid = cu_blocks(m, WARPS);
        const uint8_t *w = (const uint8_t *)W->d;
        if constexpr (T == QT_F32 || T == QT_F16 || T == QT_BF16) {
            int ve = T == QT_F32 ? 4 : 8;
            if (k % ve == 0)
                mmv_float_kernel<T, NR, true><<<grid, WARPS * 32, 0, st>>>(w, W->row_bytes, k, m, x, y, bias);
            else
                mmv_float_kernel<T, NR, false><<<grid, WARPS * 32, 0, st>>>(w, W->row_bytes, k, m, x, y, bias);
        } else {
            mmv_quant_kernel<T, NR><<<grid, WARPS * 32, 0, st>>>(w, W->row_bytes, k, m, x, y, bias);
        }
    }

    template <int T>
    static void run(cudaStream_t st, const cu_tensor *W, const float *x, int nr, float *y,
                    const float *bias)
    {
        switch (nr) {
        case 1: go<T, 1>(st, W, x, y, bias); break;
        case 2: go<T, 2>(st, W, x, y, bias); break;
        case 4: go<T, 4>(st, W, x, y, bias); break;
        default: go<T, 8>(st, W, x, y, bias); break;
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
    int64_t k = w->info.ne[0], m = cu_rows((const be_tensor *)w);
    for (int64_t i = 0; i < n;) {
        int64_t left = n - i;
        int nr = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        CU_DISPATCH_QUANT(w->info.type, mmv_launch, cb->stream, w, x + i * k, nr, y + i * m, bias);
        cu_check_launch(cb, "matmul (decode)");
        i += nr;
    }
}
