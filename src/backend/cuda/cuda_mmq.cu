// cuda_mmq.cu: y = x W^T (+ bias) for packed Q4_0 / Q8_0 W (layout in
// cuda_mmvq.cuh) and CU_GEMM_MIN_N..CU_MMQ_MAX_N rows of x (batched decode,
// prefill chunks), on the int8 tensor cores.
// Reference: ref_matmul (ref_ops.c). test_cuda_mmq compares against it (with
// the bound of rounding x to int8) and against a host model of this exact
// arithmetic (float rounding only, so a lost or misplaced block shows).
//
// Dimension letters: n rows of x, m rows of W (outputs), k values a row,
// nb = k / 32 scale blocks; a thread block owns a BM x BN tile of y and walks k
// in stages of KB blocks.
//
// Arithmetic. x is rounded to int8 per 32 values as the decode path does
// (cu_q8_prepare: quants p, d_x, s_x = d_x * sum p). One mma.m16n8k32 (s8 x s8
// -> s32) is exactly one 32-value scale block of 16 W rows x 8 x rows, so per
// block and output, with S = sum q p:
//   Q4_0 (value d_w (q - 8), q the nibble 0..15):  d_w (d_x S - 8 s_x)
//   Q8_0:                                           d_w d_x S
// accumulated in f32. The conversion of S to float runs at a quarter of the FMA
// rate, and this per-block epilogue, not the tensor cores, bounds the kernel;
// so the mma's accumulator input is the bits of 1.5 * 2^23: it returns the bits
// of the float 1.5 * 2^23 + S (|S| <= 32 * 128 * 127 < 2^22 keeps it in the
// binade whose ulp is 1) and one exact FADD recovers S. Per output and block:
// FADD, FFMA (Q4_0) or FMUL (Q8_0), FFMA.
//
// Blocking. Grid x runs over n tiles (so the blocks that run together share one
// W tile through L2), y over m tiles, z over splits of k. The 8 warps of a block
// each own a (BM / WM) x (BN / WN) part of its tile. Per stage, cp.async copies
// (16-byte pieces; 8 and 4 bytes for scales) KB blocks of
//   W quants  BM rows of KB * QB bytes (QB = 16 Q4_0, 32 Q8_0), each row padded
//             by 16 bytes to an odd number of 16-byte units, so that the 8 row
//             addresses of an ldmatrix phase hit 8 different bank groups
//   W scales  BM rows of KB / 2 + 1 4-byte words: those holding the row's KB f16
//             scales. A row's scales start on an odd half when row * nb is odd
//             and cp.async wants aligned sources, so the reader skips a half then
//   x quants  BN rows of KB * 32 bytes, padded as W
//   x scales  BN rows of KB float2 (d_x, s_x)
// with ST stages in flight (loads ST - 1 stages ahead of the compute; one barrier
// per stage). ldmatrix hands lane (g = lane / 4, t = lane % 4) bytes 4t..4t+3 of
// row g of each 8x8 b16 matrix: exactly the s8 fragment layout of m16n8k32 for
// rows of W (A) and rows of x (B). A Q4_0 block's byte j holds values j (low
// nibble) and j + 16 (high), so one 32-bit piece yields both k halves of an A
// fragment: v & 0x0f0f0f0f and (v >> 4) & 0x0f0f0f0f.
//
// Tails. W rows past m and x rows past n are read from the last row (their
// outputs are not stored); blocks past nb are zero-filled by cp.async, and their
// zero x scales make the contribution exactly 0.
//
// Tile choice. For n <= 64 (batched decode) one n tile holds every row of x, so
// each weight byte is read once per call; BN follows n (16, 32, 64) so that
// little tensor core work is wasted on padding. Past 64 rows the tile is
// 128 x 128 and each warp holds 64 x 32 outputs. When the tiles alone leave
// SMs idle, k is split (see launch()).
//
// Where the time goes (ncu, H200): not DRAM (17% of its bandwidth at n = 16)
// but instruction issue and latency: ~100 instructions a warp per 32-value
// block at n = 16 (two mmas; the rest is the scale epilogue, shared-memory
// reads and the cp.async addressing), with the L1/shared pipe ~70% busy, and
// at 65..256 rows 2 warps a scheduler (255 registers) issue every ~4 cycles.
// More output columns a warp, fewer scale reads and the split-k sum done in
// shared memory of a thread block cluster are the next steps.
#include "backend/cuda/cuda_mmq.cuh"
#include "backend/cuda/cuda_mmvq.cuh"

#include <cstdio>

namespace {

constexpr float MAGIC_F = 12582912.0f; // 1.5 * 2^23
constexpr int MAGIC_I = 0x4B400000;     // its bits

template <int BM_, int BN_, int WM_, int WN_, int KB_, int ST_, int MINB_>
struct tile {
    static constexpr int BM = BM_, BN = BN_, WM = WM_, WN = WN_, ST = ST_;
    static constexpr int MINB = MINB_;          // blocks an SM (__launch_bounds__)
    static constexpr int KB = KB_;              // 32-value blocks a stage
    static constexpr int THREADS = WM * WN * 32;
    static constexpr int MT = BM / WM / 16;     // m16 tiles a warp
    static constexpr int NT = BN / WN / 8;      // n8 tiles a warp
    static_assert(MT >= 1 && NT >= 2 && NT % 2 == 0 && KB % 2 == 0, "tile shape");
};


// Byte layout of one pipeline stage in shared memory.
template <int T, class C>
struct stage {
    static constexpr int QB = T == QT_Q4_0 ? 16 : 32;
    static constexpr int W_ROW = C::KB * QB + 16;
    static constexpr int S_WORDS = C::KB / 2 + 1;
    static constexpr int X_ROW = C::KB * 32 + 16;
    static constexpr int D_ROW = C::KB * 8 + 8; // padded: the 4 columns a read
                                                // wants fall in different banks
    static constexpr int W_OFF = 0;
    static constexpr int S_OFF = W_OFF + C::BM * W_ROW;
    static constexpr int X_OFF = S_OFF + (C::BM * S_WORDS * 4 + 15) / 16 * 16;
    static constexpr int D_OFF = X_OFF + C::BN * X_ROW;
    static constexpr int BYTES = (D_OFF + C::BN * D_ROW + 15) / 16 * 16;
    static constexpr int SMEM = C::ST * BYTES;
    static_assert((W_ROW / 16) % 2 == 1 && (X_ROW / 16) % 2 == 1, "ldmatrix rows");
};

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

// cp.async of `bytes` (0 or the full size: zero-filled past them) from global src.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void cp_async8(uint32_t dst, const void *src, int bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void cp_async4(uint32_t dst, const void *src, int bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void st_shared32(uint32_t dst, uint32_t v)
{
    asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(dst), "r"(v));
}

__device__ __forceinline__ void cp_async_commit()
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                      uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

// d = a (16 x 32, rows of W) * b (32 x 8, rows of x) + c in every element.
__device__ __forceinline__ void mma_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                       uint32_t b1, int c)
{
    asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%10, %10, %10, %10};\n"
        : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c));
}

// Copies blocks [kb0, kb0 + KB) of the tile's W rows and x rows into the stage
// at shared address s.
template <int T, class C>
__device__ __forceinline__ void load_stage(uint32_t s, const uint8_t *__restrict__ qs,
                                           const __half *__restrict__ sc, int64_t m, int64_t nb,
                                           int64_t m0, const int8_t *__restrict__ xq,
                                           const float2 *__restrict__ xds, int64_t n, int64_t n0,
                                           int64_t kb0)
{
    using L = stage<T, C>;
    constexpr int KB = C::KB, CPB = L::QB / 16;
    const int tid = threadIdx.x;
#pragma unroll
    for (int c = tid; c < C::BM * KB * CPB; c += C::THREADS) {
        int r = c / (KB * CPB), u = c % (KB * CPB);
        int64_t row = m0 + r < m ? m0 + r : m - 1;
        int64_t kb = kb0 + u / CPB;
        bool in = kb < nb;
        const uint8_t *src = in ? qs + ((size_t)row * nb + kb) * L::QB + (u % CPB) * 16 : qs;
        cp_async16(s + L::W_OFF + r * L::W_ROW + u * 16, src, in ? 16 : 0);
    }
    const int64_t halves = m * nb;
#pragma unroll
    for (int c = tid; c < C::BM * L::S_WORDS; c += C::THREADS) {
        int r = c / L::S_WORDS, w = c % L::S_WORDS;
        int64_t row = m0 + r < m ? m0 + r : m - 1;
        int64_t h0 = ((row * nb + kb0) & ~(int64_t)1) + 2 * w;
        // The last word may hold one half: a plain load then (a 4-byte cp.async
        // would read past the tensor, even with 2 bytes asked for).
        if (h0 + 1 < halves)
            cp_async4(s + L::S_OFF + c * 4, sc + h0, 4);
        else
            st_shared32(s + L::S_OFF + c * 4, h0 < halves ? (uint32_t)__half_as_ushort(sc[h0]) : 0u);
    }
#pragma unroll
    for (int c = tid; c < C::BN * KB * 2; c += C::THREADS) {
        int r = c / (KB * 2), u = c % (KB * 2);
        int64_t row = n0 + r < n ? n0 + r : n - 1;
        int64_t kb = kb0 + u / 2;
        bool in = kb < nb;
        const int8_t *src = in ? xq + ((size_t)row * nb + kb) * 32 + (u % 2) * 16 : xq;
        cp_async16(s + L::X_OFF + r * L::X_ROW + u * 16, src, in ? 16 : 0);
    }
#pragma unroll
    for (int c = tid; c < C::BN * KB; c += C::THREADS) {
        int r = c / KB, j = c % KB;
        int64_t row = n0 + r < n ? n0 + r : n - 1;
        int64_t kb = kb0 + j;
        bool in = kb < nb;
        cp_async8(s + L::D_OFF + r * L::D_ROW + j * 8,
                  in ? (const void *)(xds + row * nb + kb) : (const void *)xds, in ? 8 : 0);
    }
}

// One thread block: the (BN x BM) tile (blockIdx.x, blockIdx.y) of y over the
// stages [blockIdx.z * sps, + sps) of k. part == nullptr: y (+ bias) is written;
// else the partial sums go to part + (blockIdx.z * n + i) * m + j.
template <int T, class C>
__global__ void __launch_bounds__(C::THREADS, C::MINB)
mmq_kernel(const uint8_t *__restrict__ qs, const __half *__restrict__ sc, int64_t m, int64_t nb,
           const int8_t *__restrict__ xq, const float2 *__restrict__ xds, int64_t n, int sps,
           const float *__restrict__ bias, float *__restrict__ y, float *__restrict__ part)
{
    using L = stage<T, C>;
    constexpr int KB = C::KB, MT = C::MT, NT = C::NT;
    extern __shared__ __align__(16) uint8_t smem[];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int g = lane / 4, t = lane % 4, q = lane / 8, r8 = lane % 8;
    const int wm0 = (warp / C::WN) * MT * 16, wn0 = (warp % C::WN) * NT * 8;
    const int64_t n0 = (int64_t)blockIdx.x * C::BN, m0 = (int64_t)blockIdx.y * C::BM;
    const int64_t total = (nb + KB - 1) / KB, s0 = (int64_t)blockIdx.z * sps;
    const int nst = (int)((s0 + sps < total ? s0 + sps : total) - s0);
    const uint32_t base = smem_addr(smem);

    // ldmatrix row addresses within a stage (block 0). A: matrices (rows 0-7,
    // bytes 0-15), (rows 8-15, 0-15), (rows 0-7, 16-31), (rows 8-15, 16-31) of
    // the m16 tile; for Q4_0 "bytes 16-31" is the next block. B: matrices
    // (rows 0-7, bytes 0-15), (0-7, 16-31), (8-15, 0-15), (8-15, 16-31) of a
    // pair of n8 tiles.
    uint32_t a_off[MT], b_off[NT / 2];
    int s_off[MT][2]; // halves into the stage's W scales: rows g and g + 8
#pragma unroll
    for (int i = 0; i < MT; i++) {
        a_off[i] = L::W_OFF + (wm0 + 16 * i + (q & 1) * 8 + r8) * L::W_ROW + (q >> 1) * 16;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int r = wm0 + 16 * i + g + 8 * h;
            int64_t row = m0 + r < m ? m0 + r : m - 1;
            s_off[i][h] = r * 2 * L::S_WORDS + (int)((row * nb) & 1);
        }
    }
#pragma unroll
    for (int p = 0; p < NT / 2; p++)
        b_off[p] = L::X_OFF + (wn0 + 16 * p + (q >> 1) * 8 + r8) * L::X_ROW + (q & 1) * 16;

    float acc[MT][NT][4] = {};

#pragma unroll
    for (int s = 0; s < C::ST - 1; s++) {
        if (s < nst)
            load_stage<T, C>(base + s * L::BYTES, qs, sc, m, nb, m0, xq, xds, n, n0, (s0 + s) * KB);
        cp_async_commit();
    }

    for (int it = 0; it < nst; it++) {
        cp_async_wait<C::ST - 2>();
        __syncthreads(); // stage it landed for all; stage it - 1 is free again
        int ls = it + C::ST - 1;
        if (ls < nst)
            load_stage<T, C>(base + (ls % C::ST) * L::BYTES, qs, sc, m, nb, m0, xq, xds, n, n0,
                             (s0 + ls) * KB);
        cp_async_commit();

        const int buf = it % C::ST;
        const uint32_t sb = base + buf * L::BYTES;
        const __half *ssc = (const __half *)(smem + buf * L::BYTES + L::S_OFF);
        const uint8_t *sds = smem + buf * L::BYTES + L::D_OFF;

        // One 32-value block j with A fragments a: all MT x NT mmas and their
        // scale epilogue.
        auto block = [&](const uint32_t(&a)[MT][4], int j) {
            uint32_t b[NT][2];
#pragma unroll
            for (int p = 0; p < NT / 2; p++)
                ldsm4(sb + b_off[p] + j * 32, b[2 * p][0], b[2 * p][1], b[2 * p + 1][0],
                      b[2 * p + 1][1]);
            float dw[MT][2], dx[NT][2], cx[NT][2];
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) dw[i][h] = __half2float(ssc[s_off[i][h] + j]);
#pragma unroll
            for (int jn = 0; jn < NT; jn++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    float2 v = *(const float2 *)(sds + (wn0 + 8 * jn + 2 * t + e) * L::D_ROW + j * 8);
                    dx[jn][e] = v.x;
                    cx[jn][e] = -8.0f * v.y;
                }
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int jn = 0; jn < NT; jn++) {
                    int d[4];
                    mma_s8(d, a[i], b[jn][0], b[jn][1], MAGIC_I);
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        float f = __int_as_float(d[e]) - MAGIC_F; // = S exactly
                        float v = T == QT_Q4_0 ? fmaf(dx[jn][e & 1], f, cx[jn][e & 1])
                                               : dx[jn][e & 1] * f;
                        acc[i][jn][e] = fmaf(dw[i][e >> 1], v, acc[i][jn][e]);
                    }
                }
        };

#pragma unroll 1 // a pair of blocks at a time: unrolled, the scale loads of
                 // every block are hoisted and the registers run out
        for (int j = 0; j < KB; j += 2) {
            uint32_t a0[MT][4], a1[MT][4]; // blocks j and j + 1
#pragma unroll
            for (int i = 0; i < MT; i++) {
                if constexpr (T == QT_Q4_0) {
                    const uint32_t lo = 0x0f0f0f0fu;
                    uint32_t v0, v1, v2, v3;
                    ldsm4(sb + a_off[i] + j * 16, v0, v1, v2, v3);
                    a0[i][0] = v0 & lo;
                    a0[i][1] = v1 & lo;
                    a0[i][2] = (v0 >> 4) & lo;
                    a0[i][3] = (v1 >> 4) & lo;
                    a1[i][0] = v2 & lo;
                    a1[i][1] = v3 & lo;
                    a1[i][2] = (v2 >> 4) & lo;
                    a1[i][3] = (v3 >> 4) & lo;
                } else {
                    ldsm4(sb + a_off[i] + j * 32, a0[i][0], a0[i][1], a0[i][2], a0[i][3]);
                    ldsm4(sb + a_off[i] + (j + 1) * 32, a1[i][0], a1[i][1], a1[i][2], a1[i][3]);
                }
            }
            block(a0, j);
            block(a1, j + 1);
        }
    }
    cp_async_wait<0>();

    cu_mma_acc_each(acc, m0 + wm0, n0 + wn0, m, n, lane, [&](int64_t row, int64_t col, float v) {
        if (part)
            part[((int64_t)blockIdx.z * n + col) * m + row] = v;
        else
            y[col * m + row] = v + (bias ? bias[row] : 0.0f);
    });
}

// y = the sum of `split` partial results (in order) + bias; nm = n * m values.
__global__ void split_sum_kernel(const float *__restrict__ part, int split, int64_t nm, int64_t m,
                                 const float *__restrict__ bias, float *__restrict__ y)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= nm) return;
    float s = 0.0f;
    for (int z = 0; z < split; z++) s += part[z * nm + i];
    y[i] = bias ? s + bias[i % m] : s;
}

// Splits k when the output tiles are fewer than the blocks the SMs hold at once
// (C::MINB an SM): the grid then has about that many blocks, each with at least
// 2 stages of k, and the partial sums must fit the gemm_w scratch.
template <int T, class C>
void launch(cu_backend *cb, const cu_tensor *W, int64_t n, float *y, const float *bias)
{
    using L = stage<T, C>;
    int64_t k = W->info.ne[0], m = cu_rows((const be_tensor *)W), nb = k / 32;
    const uint8_t *qs = (const uint8_t *)W->d;
    const __half *sc = (const __half *)(qs + (size_t)m * nb * L::QB);
    int64_t mt = (m + C::BM - 1) / C::BM, ntl = (n + C::BN - 1) / C::BN, tiles = mt * ntl;
    int64_t stages = (nb + C::KB - 1) / C::KB, split = 1;
    int64_t slots = (int64_t)cb->n_sm * C::MINB;
    if (tiles < slots && cb->gemm_w) {
        split = slots / tiles;
        if (split > stages / 2) split = stages / 2;
        int64_t cap = (int64_t)(cb->gemm_w_cap / 2) / (n * m); // floats in the halves scratch
        if (split > cap) split = cap;
        if (split < 1) split = 1;
    }
    int64_t sps = (stages + split - 1) / split;
    split = (stages + sps - 1) / sps; // no empty split
    float *part = split > 1 ? (float *)cb->gemm_w : nullptr;
    static const cudaError_t opted = cu_smem_opt_in(mmq_kernel<T, C>, L::SMEM); // (device 0)
    if (opted != cudaSuccess) {
        cu_record(cb, opted, "matmul (mmq): shared memory size");
        return;
    }
    dim3 grid((unsigned)ntl, (unsigned)mt, (unsigned)split);
    mmq_kernel<T, C><<<grid, C::THREADS, L::SMEM, cb->stream>>>(qs, sc, m, nb, cb->q8_x, cb->q8_ds,
                                                               n, (int)sps, bias, y, part);
    cu_check_launch(cb, "matmul (mmq)");
    if (part) {
        split_sum_kernel<<<cu_blocks(n * m, 256), 256, 0, cb->stream>>>(part, (int)split, n * m,
                                                                        m, bias, y);
        cu_check_launch(cb, "matmul (mmq): split sum");
    }
}

// Tiles by n (measured with test_cuda_mmq --bench on an H200, against other
// sets: 8 blocks a stage, one block an SM for 16..64 rows, 128 x 64 tiles past
// 64 rows): 128 W rows a block throughout; 16, 32 or 64 x rows with 8 warps and
// two blocks an SM; 128 x 128, one block an SM, for 65..CU_MMQ_MAX_N rows.
template <int T>
void launch_n(cu_backend *cb, const cu_tensor *W, int64_t n, float *y, const float *bias)
{
    if (n <= 16)
        launch<T, tile<128, 16, 8, 1, 4, 4, 2>>(cb, W, n, y, bias);
    else if (n <= 32)
        launch<T, tile<128, 32, 4, 2, 4, 4, 2>>(cb, W, n, y, bias);
    else if (n <= 64)
        launch<T, tile<128, 64, 4, 2, 4, 3, 2>>(cb, W, n, y, bias);
    else
        launch<T, tile<128, 128, 2, 4, 4, 3, 1>>(cb, W, n, y, bias);
}

} // namespace

bool cu_mmq_enabled(void)
{
    static const bool on = cu_env_int("INFERD_CUDA_MMQ", 1) != 0;
    return on;
}

void cu_mmq(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
            const float *bias)
{
    INF_ASSERT(w->packed && n >= 1);
    cu_q8_prepare(cb, x, n, w->info.ne[0]);
    if (w->info.type == QT_Q4_0)
        launch_n<QT_Q4_0>(cb, w, n, y, bias);
    else
        launch_n<QT_Q8_0>(cb, w, n, y, bias);
}

// Test and benchmark hook (C linkage; the tests declare it): runs fn(arg) reps
// times on the backend's stream, directly or (graph != 0) captured once into a
// CUDA graph that is then launched, and returns the GPU time of those calls
// in *ms (cudaEvents). Returns 0, or -1 with the CUDA error on stderr.
extern "C" int cu_test_time_calls(be_backend *be, void (*fn)(void *), void *arg, int reps,
                                  int graph, float *ms)
{
    cu_backend *cb = CU_BE(be);
    cudaEvent_t e0 = nullptr, e1 = nullptr;
    cudaGraph_t gr = nullptr;
    cudaGraphExec_t ge = nullptr;
    cudaError_t e = cudaEventCreate(&e0);
    if (e == cudaSuccess) e = cudaEventCreate(&e1);
    if (e == cudaSuccess && graph) {
        e = cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal);
        if (e == cudaSuccess) {
            for (int r = 0; r < reps; r++) fn(arg);
            cu_mmvq_flush(cb); // decode matmuls may wait to be grouped
            e = cudaStreamEndCapture(cb->stream, &gr);
        }
        if (e == cudaSuccess) e = cudaGraphInstantiate(&ge, gr, 0);
    }
    if (e == cudaSuccess) e = cudaEventRecord(e0, cb->stream);
    if (e == cudaSuccess) {
        if (graph)
            e = cudaGraphLaunch(ge, cb->stream);
        else {
            for (int r = 0; r < reps; r++) fn(arg);
            cu_mmvq_flush(cb);
        }
    }
    if (e == cudaSuccess) e = cudaEventRecord(e1, cb->stream);
    if (e == cudaSuccess) e = cudaEventSynchronize(e1);
    if (e == cudaSuccess) e = cudaEventElapsedTime(ms, e0, e1);
    if (e != cudaSuccess) fprintf(stderr, "cu_test_time_calls: %s\n", cudaGetErrorString(e));
    if (ge) cudaGraphExecDestroy(ge);
    if (gr) cudaGraphDestroy(gr);
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    return e == cudaSuccess ? 0 : -1;
}
