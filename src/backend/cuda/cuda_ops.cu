// cuda_ops.cu: embedding lookup, RMSNorm, gated activations, elementwise ops,
// softmax, output-row gather. References: ref_ops.c (the same formulas in
// double); test_cuda_ops holds each to float rounding of ref.
//
// Shapes: activations are (rows, width) F32, row-major. Elementwise ops run one
// thread per value over n * width values; row ops (norm, softmax) run one
// block of 256 threads per row (or per norm group), reducing through warp
// shuffles and one shared array of 8 partials.
//
// Fusions (each saves a launch and a pass over the row; a decode step is
// hundreds of tiny kernels, so launches are what it costs):
//   - a layer RMSNorm and SwiGLU/GeGLU also round their output to int8 with one
//     scale per 32 values, as q8_x_kernel (cuda_mmvq.cu) would for the matmul
//     that reads it next, and record that in cb->q8_* so the matmul skips it;
//     where the next matmul may take the f16 tensor-core kernel (5..64 rows,
//     cuda_mmf.cu) they also write its f16 copy of x, in its k order
//     (cu_mmf_slot), so that no conversion kernel runs before it;
//   - a residual add (x = x + o) is not launched at once but kept pending: when
//     the next op is the RMSNorm of that x, one kernel does both; any other op
//     launches it first (cu_flush_add, called by the op table's wrappers).
#include "backend/cuda/cuda_ops.cuh"
#include "backend/cuda/cuda_mmf.cuh"
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_quant.cuh"

#include <climits>
#include <cmath>

#include <cooperative_groups.h>

namespace {

constexpr int THREADS = 256;

// ---- dequantization of whole rows (embed, read, prefill matmul) ----

__device__ __forceinline__ void store(float *p, float v) { *p = v; }
__device__ __forceinline__ void store(__half *p, float v) { *p = __float2half_rn(v); }

__device__ __forceinline__ void store4(float *p, const float *v)
{
    *(float4 *)p = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(__half *p, const float *v)
{
    __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
    uint2 u;
    u.x = *(uint32_t *)&a;
    u.y = *(uint32_t *)&b;
    *(uint2 *)p = u;
}

// dst row r = weight row (idx ? idx[r] : r). Block formats: 4 threads per unit
// of 32 values, each dequantizing one part of 8 (cuda_quant.cuh) and storing it
// as two vectors of 4, so that a warp writes 8 whole units side by side; float
// formats: one thread per value.
template <int T, typename O>
__global__ void deq_rows_kernel(const uint8_t *__restrict__ w, size_t row_bytes,
                                const int32_t *__restrict__ idx, int64_t k, O *__restrict__ dst)
{
    int64_t r = blockIdx.y;
    const uint8_t *row = w + (size_t)(idx ? idx[r] : r) * row_bytes;
    O *out = dst + r * k;
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if constexpr (T == QT_F32 || T == QT_F16 || T == QT_BF16) {
        if (t < k) store(out + t, cu_float_at<T>(row, t));
    } else {
        using F = cu_fmt<T>;
        int64_t u = t / 4;
        int part = (int)(t % 4);
        if (u >= k / 32) return;
        float v[8];
        cu_deq_part<T>(row + (u / F::UNITS) * F::BYTES, (int)(u % F::UNITS), part, v);
        const int o0 = cu_part_split<T>::value ? 4 * part : 8 * part;
        const int o1 = cu_part_split<T>::value ? 16 + 4 * part : 8 * part + 4;
        store4(out + 32 * u + o0, v);
        store4(out + 32 * u + o1, v + 4);
    }
}

struct deq_rows {
    template <int T, typename O>
    static void run(cudaStream_t st, const uint8_t *w, size_t row_bytes, const int32_t *idx,
                    int64_t rows, int64_t k, O *dst)
    {
        int64_t work = (T == QT_F32 || T == QT_F16 || T == QT_BF16) ? k : k / 8;
        dim3 grid(cu_blocks(work, 128), (unsigned)rows);
        deq_rows_kernel<T, O><<<grid, 128, 0, st>>>(w, row_bytes, idx, k, dst);
    }
};

// ---- row ops ----

// Sum and maximum over the block (any multiple of 32 threads up to 1024);
// every thread gets the result. sh: 32 floats of shared memory.
__device__ float block_sum(float v, float *sh)
{
    v = cu_warp_sum(v);
    int w = threadIdx.x / 32, l = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads();
    if (l == 0) sh[w] = v;
    __syncthreads();
    float t = 0;
    for (int i = 0; i < nw; i++) t += sh[i];
    return t;
}

__device__ float block_max(float v, float *sh)
{
    v = cu_warp_max(v);
    int w = threadIdx.x / 32, l = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads();
    if (l == 0) sh[w] = v;
    __syncthreads();
    float t = -INFINITY;
    for (int i = 0; i < nw; i++) t = fmaxf(t, sh[i]);
    return t;
}

// One block per group of e values (group g of the n * d / e groups), e % 4 == 0,
// a thread per 4 values (16-byte loads; a decode row of 4096 is one pass of
// 1024 threads, so the kernel is one load, one block sum and one store). ADD:
// the group is first replaced by x + b (the pending residual add, written back
// to x). Q8 (e % 32 == 0): also rounds the output to int8 into q / ds, 8 lanes
// a block of 32 values. Every thread runs every pass (shuffles need all lanes).
// The kernel is a chain of dependent steps between two matmuls of a decode
// step, so its latency is what it costs: the norm weights (never written by a
// step) of a thread's first float4 are loaded before the wait for the kernel
// before, and that float4 of x stays in registers between the two passes (a
// 4096-wide row is one float4 a thread; wider ones read the rest again).
template <bool ADD, bool Q8>
__global__ void rms_norm_kernel(float *out, float *x, const float *b, const float *w, int64_t e,
                                float eps, int8_t *q, float2 *ds, __half *xh)
{
    __shared__ float sh[32];
    const int64_t g0 = (int64_t)blockIdx.x * e, e4 = e / 4;
    float4 *xg = (float4 *)(x + g0);
    float4 *og = (float4 *)(out + g0);
    const float4 *w4 = (const float4 *)w;
    const float4 zero = make_float4(0, 0, 0, 0);
    const int64_t c0 = threadIdx.x; // the thread's first float4
    const float4 w0 = c0 < e4 ? w4[c0] : zero;
    float4 x0 = zero;
    cu_pdl_wait();
    float ss = 0;
    for (int64_t c = c0; c < e4; c += blockDim.x) {
        float4 v = xg[c];
        if constexpr (ADD) {
            float4 bv = ((const float4 *)(b + g0))[c];
            v.x += bv.x, v.y += bv.y, v.z += bv.z, v.w += bv.w;
            xg[c] = v; // read back below by this same thread only
        }
        if (c == c0) x0 = v;
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    ss = block_sum(ss, sh);
    float r = rsqrtf(ss / (float)e + eps);
    for (int64_t base = 0; base < e4; base += blockDim.x) {
        int64_t c = base + threadIdx.x;
        bool in = c < e4;
        float4 v = zero;
        if (in) {
            const float4 xv = c == c0 ? x0 : xg[c], wv = c == c0 ? w0 : w4[c];
            v = make_float4(xv.x * r * wv.x, xv.y * r * wv.y, xv.z * r * wv.z, xv.w * r * wv.w);
            og[c] = v;
            if (xh) cu_mmf_x_store4(xh, g0 + 4 * c, v);
        }
        if constexpr (Q8) {
            // Same rounding as q8_x_kernel (cuda_mmvq.cu): d = amax / 127, q = rn(v / d).
            float amax = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
            for (int o = 4; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
            float d = amax / 127.0f;
            int q0 = 0, q1 = 0, q2 = 0, q3 = 0;
            if (amax != 0.0f) {
                q0 = __float2int_rn(v.x / d), q1 = __float2int_rn(v.y / d);
                q2 = __float2int_rn(v.z / d), q3 = __float2int_rn(v.w / d);
            }
            int qs = q0 + q1 + q2 + q3;
            for (int o = 4; o > 0; o >>= 1) qs += __shfl_xor_sync(0xffffffffu, qs, o);
            if (in) {
                char4 packed = make_char4((signed char)q0, (signed char)q1, (signed char)q2,
                                          (signed char)q3);
                ((char4 *)(q + g0))[c] = packed;
                if (c % 8 == 0) ds[(g0 + 4 * c) / 32] = make_float2(d, d * (float)qs);
            }
        }
    }
}

// The plain form, a thread per value: for widths that are not a multiple of 4.
__global__ void rms_norm_scalar_kernel(float *out, const float *x, const float *w, int64_t e,
                                       float eps)
{
    __shared__ float sh[THREADS / 32];
    cu_pdl_wait();
    const float *xg = x + (int64_t)blockIdx.x * e;
    float *og = out + (int64_t)blockIdx.x * e;
    float ss = 0;
    for (int64_t c = threadIdx.x; c < e; c += THREADS) ss += xg[c] * xg[c];
    ss = block_sum(ss, sh);
    float r = rsqrtf(ss / (float)e + eps);
    for (int64_t c = threadIdx.x; c < e; c += THREADS) og[c] = xg[c] * r * w[c];
}

// Threads of a norm block for groups of e values: one per 4 values, a multiple
// of 32, at most 1024.
unsigned norm_threads(int64_t e)
{
    int64_t t = (e / 4 + 31) / 32 * 32;
    return (unsigned)(t > 1024 ? 1024 : t);
}

__global__ void softmax_kernel(float *out, const float *x, int64_t d)
{
    cu_pdl_wait();
    __shared__ float sh[THREADS / 32];
    const float *xr = x + (int64_t)blockIdx.x * d;
    float *orow = out + (int64_t)blockIdx.x * d;
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < d; c += THREADS) mx = fmaxf(mx, xr[c]);
    mx = block_max(mx, sh);
    float s = 0;
    for (int64_t c = threadIdx.x; c < d; c += THREADS) s += expf(xr[c] - mx);
    s = block_sum(s, sh);
    float inv = 1.0f / s;
    for (int64_t c = threadIdx.x; c < d; c += THREADS) orow[c] = expf(xr[c] - mx) * inv;
}

// ---- elementwise ----

enum ew_op { EW_SWIGLU, EW_GEGLU, EW_ADD, EW_MUL, EW_SCALE, EW_SOFTCAP };

// Q8 (rows of a multiple of 32 values, so that each warp holds one int8 block
// and cnt is a multiple of 32): also rounds the output to int8 into q / ds.
template <int OP, bool Q8 = false>
__global__ void ew_kernel(float *out, const float *a, const float *b, float s, int64_t cnt,
                          int8_t *q, float2 *ds, __half *xh)
{
    cu_pdl_wait();
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= cnt) return;
    float x = a[i], r;
    if constexpr (OP == EW_SWIGLU) {
        r = x / (1.0f + expf(-x)) * b[i];
    } else if constexpr (OP == EW_GEGLU) {
        const float c = 0.7978845608028654f; // sqrt(2 / pi)
        r = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * b[i];
    } else if constexpr (OP == EW_ADD) {
        r = x + b[i];
    } else if constexpr (OP == EW_MUL) {
        r = x * b[i];
    } else if constexpr (OP == EW_SCALE) {
        r = x * s;
    } else {
        r = s * tanhf(x / s);
    }
    out[i] = r;
    if constexpr (Q8) cu_q8_round_warp(r, i, q, ds);
    if (xh) cu_mmf_x_store(xh, i, r); // a warp: 64 contiguous bytes
}

__global__ void gather_kernel(float *out, const float *x, const int32_t *rows, int64_t d)
{
    cu_pdl_wait();
    int64_t j = blockIdx.y;
    const float *src = x + (int64_t)rows[j] * d;
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < d;
         c += (int64_t)gridDim.x * blockDim.x)
        out[j * d + c] = src[c];
}

// The first maximum of each row: grid (AM_BLOCKS, rows), the AM_BLOCKS blocks of
// a row one thread-block cluster (grid (1, rows) where the GPU has no clusters:
// a block scans the whole row). Block b scans the b-th slice of the row (16-byte
// loads, 4 in flight a thread where the width allows), each thread keeping the
// first maximum of its values; the block keeps the larger value, the lower index
// on ties; then block 0 merges the blocks' results from their shared memory in
// order. NaN is never larger, so it is never picked; a row without a number
// gives 0. One block a row read 128,256 logits at ~10 GB/s (latency-bound: a
// load a thread in flight), 50 us a decode step on an H100.
constexpr int AM_BLOCKS = 8, AM_THREADS = 512;

__device__ __forceinline__ void am_take(float v, int i, float &best, int &bi)
{
    if (v > best || (v == best && i < bi)) {
        best = v;
        bi = i;
    }
}

__global__ void __launch_bounds__(AM_THREADS) argmax_rows_kernel(const float *x, int64_t d, int32_t *out)
{
    __shared__ float sv[AM_THREADS / 32];
    __shared__ int si[AM_THREADS / 32];
    __shared__ float block_v;
    __shared__ int block_i;
    cu_pdl_wait();
    const float *row = x + (int64_t)blockIdx.y * d;
    const int64_t per = ((d + gridDim.x - 1) / gridDim.x + 3) & ~(int64_t)3;
    const int64_t c0 = blockIdx.x * per, c1 = min(d, c0 + per);
    float best = -INFINITY;
    int bi = INT_MAX;
    if (d % 4 == 0) { // c0, c1 and the row start are then 16-byte aligned
#pragma unroll 4
        for (int64_t c = c0 + 4 * threadIdx.x; c < c1; c += 4 * AM_THREADS) {
            float4 v = *(const float4 *)(row + c);
            if (v.x > best) best = v.x, bi = (int)c;
            if (v.y > best) best = v.y, bi = (int)c + 1;
            if (v.z > best) best = v.z, bi = (int)c + 2;
            if (v.w > best) best = v.w, bi = (int)c + 3;
        }
    } else {
        for (int64_t c = c0 + threadIdx.x; c < c1; c += AM_THREADS)
            if (row[c] > best) best = row[c], bi = (int)c;
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        am_take(ov, oi, best, bi);
    }
    const int w = threadIdx.x / 32, l = threadIdx.x % 32;
    if (l == 0) {
        sv[w] = best;
        si[w] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int i = 1; i < AM_THREADS / 32; i++) am_take(sv[i], si[i], best, bi);
        block_v = best;
        block_i = bi;
        if (gridDim.x == 1) out[blockIdx.y] = bi == INT_MAX ? 0 : bi;
    }
#if CU_HAS_CLUSTERS
    if (gridDim.x == 1) return;
    namespace cg = cooperative_groups;
    cg::cluster_group cl = cg::this_cluster();
    cl.sync(); // every block's result is in its shared memory
    if (cl.block_rank() == 0 && threadIdx.x == 0) {
        for (unsigned r = 1; r < cl.num_blocks(); r++)
            am_take(*cl.map_shared_rank(&block_v, r), *cl.map_shared_rank(&block_i, r), best, bi);
        out[blockIdx.y] = bi == INT_MAX ? 0 : bi;
    }
    cl.sync(); // no block leaves while block 0 still reads its shared memory
#endif
}

float *fptr(const be_tensor *t)
{
    return (float *)CU_CT(t)->d;
}

void check_same(const be_tensor *a, const be_tensor *b, int64_t n)
{
    INF_ASSERT(!CU_CT(a)->weight && !CU_CT(b)->weight);
    INF_ASSERT(be_tensor_info_of(a)->ne[0] == be_tensor_info_of(b)->ne[0]);
    INF_ASSERT(n <= cu_rows(a) && n <= cu_rows(b));
}

// Q8GLU: a gated activation whose output feeds a matmul: round it to int8 too.
template <int OP, bool Q8GLU = false>
void ew(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, float s,
        int64_t n, const char *what)
{
    cu_backend *cb = CU_BE(be);
    check_same(out, a, n);
    if (b) check_same(out, b, n);
    int64_t d = cu_row_len(out), cnt = n * d;
    if (cnt <= 0) return;
    const cu_x_outs xo = Q8GLU ? cu_x_outs_for(cb, n, d) : cu_x_outs{};
    if (xo.q8) {
        cu_launch(cb, ew_kernel<OP, true>, cu_blocks(cnt, THREADS), THREADS, 0, fptr(out),
                  fptr(a), fptr(b), s, cnt, xo.q8, xo.q8ds, xo.xh);
        cu_check_launch(cb, what);
        cu_x_outs_claim(cb, xo, fptr(out), n, d);
        return;
    }
    cu_launch(cb, ew_kernel<OP>, cu_blocks(cnt, THREADS), THREADS, 0, fptr(out), fptr(a),
              b ? fptr(b) : nullptr, s, cnt, nullptr, nullptr, nullptr);
    cu_check_launch(cb, what);
}

} // namespace

void cu_dequant_rows_f32(cu_backend *cb, uint32_t type, const uint8_t *w, size_t row_bytes,
                         int64_t rows, int64_t k, float *dst)
{
    if (rows <= 0) return;
    CU_DISPATCH_QUANT(type, deq_rows, cb->stream, w, row_bytes, (const int32_t *)nullptr, rows, k,
                      dst);
    cu_check_launch(cb, "dequantize");
}

void cu_dequant_rows_f16(cu_backend *cb, uint32_t type, const uint8_t *w, size_t row_bytes,
                         int64_t rows, int64_t k, __half *dst)
{
    if (rows <= 0) return;
    CU_DISPATCH_QUANT(type, deq_rows, cb->stream, w, row_bytes, (const int32_t *)nullptr, rows, k,
                      dst);
    cu_check_launch(cb, "dequantize to f16");
}

void cu_embed(be_backend *be, be_tensor *out, const be_tensor *w, int64_t n)
{
    cu_backend *cb = CU_BE(be);
    const cu_tensor *W = CU_CT(w);
    int64_t d = W->info.ne[0];
    INF_ASSERT(!CU_CT(out)->weight && CU_CT(out)->info.ne[0] == d);
    INF_ASSERT(n <= cb->batch.n && n <= cu_rows(out));
    if (n <= 0) return;
    if (W->packed) {
        cu_pack_dequant_f32(cb, W, cb->batch.token, 0, n, fptr(out));
        return;
    }
    CU_DISPATCH_QUANT(W->info.type, deq_rows, cb->stream, (const uint8_t *)W->d, W->row_bytes,
                      (const int32_t *)cb->batch.token, n, d, fptr(out));
    cu_check_launch(cb, "embed");
}

void cu_flush_add(cu_backend *cb)
{
    cu_pending_add *p = &cb->padd;
    if (!p->out) return;
    int64_t cnt = p->n * p->d;
    cu_launch(cb, ew_kernel<EW_ADD>, cu_blocks(cnt, THREADS), THREADS, 0, p->out, p->a, p->b,
              0.0f, cnt, nullptr, nullptr, nullptr);
    cu_check_launch(cb, "add");
    p->out = nullptr;
}

void cu_rms_norm(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
                 float eps, int64_t n)
{
    cu_backend *cb = CU_BE(be);
    int64_t d = cu_row_len(x), e = cu_row_len(w);
    INF_ASSERT(CU_CT(w)->info.type == QT_F32 && d % e == 0);
    check_same(out, x, n);
    int64_t groups = n * (d / e);
    cu_pending_add *p = &cb->padd;
    // The pending add fuses when it produced exactly the rows this norm reads
    // as x = x + b (its a is x) and the norm does not write b.
    bool vec = e % 4 == 0;
    bool fuse = vec && p->out && p->out == fptr(x) && p->a == p->out && p->n == n && p->d == d &&
                fptr(out) != p->b;
    if (!fuse) cu_flush_add(cb);
    if (groups <= 0) return;
    const float *wd = (const float *)CU_CT(w)->d;
    unsigned gr = (unsigned)groups;
    if (!vec) { // widths that are not a multiple of 4 (tests): a thread per value
        cu_launch(cb, rms_norm_scalar_kernel, gr, THREADS, 0, fptr(out), fptr(x), wd, e, eps);
        cu_check_launch(cb, "rms_norm");
        return;
    }
    const float *b = fuse ? p->b : nullptr;
    // (the copies for the next matmul where a group is a whole row)
    const cu_x_outs xo = e == d ? cu_x_outs_for(cb, n, d) : cu_x_outs{};
    const bool q8 = xo.q8 != nullptr;
    unsigned th = norm_threads(e);
    auto kernel = fuse ? (q8 ? rms_norm_kernel<true, true> : rms_norm_kernel<true, false>)
                       : (q8 ? rms_norm_kernel<false, true> : rms_norm_kernel<false, false>);
    cu_launch(cb, kernel, gr, th, 0, fptr(out), fptr(x), b, wd, e, eps, xo.q8, xo.q8ds, xo.xh);
    cu_check_launch(cb, "rms_norm");
    if (fuse) p->out = nullptr;
    cu_x_outs_claim(cb, xo, fptr(out), n, d);
}

void cu_swiglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
               int64_t n)
{
    ew<EW_SWIGLU, true>(be, out, gate, up, 0, n, "swiglu");
}

void cu_geglu(be_backend *be, be_tensor *out, const be_tensor *gate, const be_tensor *up,
              int64_t n)
{
    ew<EW_GEGLU, true>(be, out, gate, up, 0, n, "geglu");
}

void cu_add(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    cu_backend *cb = CU_BE(be);
    check_same(out, a, n);
    check_same(out, b, n);
    cu_flush_add(cb);
    if (n <= 0) return;
    cb->padd = {fptr(out), fptr(a), fptr(b), n, cu_row_len(out)};
}

void cu_mul(be_backend *be, be_tensor *out, const be_tensor *a, const be_tensor *b, int64_t n)
{
    ew<EW_MUL>(be, out, a, b, 0, n, "mul");
}

void cu_scale(be_backend *be, be_tensor *out, const be_tensor *x, float s, int64_t n)
{
    ew<EW_SCALE>(be, out, x, nullptr, s, n, "scale");
}

void cu_softcap(be_backend *be, be_tensor *out, const be_tensor *x, float cap, int64_t n)
{
    INF_ASSERT(cap > 0);
    ew<EW_SOFTCAP>(be, out, x, nullptr, cap, n, "softcap");
}

void cu_softmax(be_backend *be, be_tensor *out, const be_tensor *x, int64_t n)
{
    check_same(out, x, n);
    if (n <= 0) return;
    cu_launch(CU_BE(be), softmax_kernel, (unsigned)n, THREADS, 0, fptr(out), fptr(x),
              cu_row_len(x));
    cu_check_launch(CU_BE(be), "softmax");
}

void cu_argmax_rows(cu_backend *cb, const float *x, int64_t d, int64_t n_rows, int32_t *out)
{
    if (n_rows <= 0) return;
    const unsigned blocks = cb->clusters ? AM_BLOCKS : 1;
    cu_launch_cluster(cb, argmax_rows_kernel, dim3(blocks, (unsigned)n_rows), AM_THREADS, 0,
                      dim3(blocks, 1, 1), x, d, out);
    cu_check_launch(cb, "argmax");
}

void cu_gather_out(be_backend *be, be_tensor *out, const be_tensor *x)
{
    cu_backend *cb = CU_BE(be);
    int64_t d = cu_row_len(x);
    INF_ASSERT(out != x && !CU_CT(out)->weight && !CU_CT(x)->weight && cu_row_len(out) == d);
    INF_ASSERT(cb->batch.n_out <= cu_rows(out));
    if (cb->batch.n_out <= 0) return;
    dim3 grid(cu_blocks(d, THREADS) < 64 ? cu_blocks(d, THREADS) : 64, (unsigned)cb->batch.n_out);
    cu_launch(cb, gather_kernel, grid, THREADS, 0, fptr(out), fptr(x), cb->batch.out_rows, d);
    cu_check_launch(cb, "gather_out");
}
