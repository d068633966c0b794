// cuda_mmf.cu: y = x W^T (+ bias) for packed Q4_0 / Q8_0 W (layout in
// cuda_mmvq.cuh) and a few rows of x (batched decode, CU_MMF_MIN_N ..
// CU_MMF_MAX_N), on the f16 tensor cores with the weights dequantized to f16 in
// registers. Reference: ref_matmul (ref_ops.c). test_cuda_mmf compares against
// it (with the bound of f16 rounding) and against a host model of this exact
// arithmetic (so a misplaced block or a wrong permutation shows).
//
// Dimension letters: n rows of x, m rows of W (outputs), k values a row,
// nb = k / 32 blocks of a row; a "step" is 4 consecutive blocks (128 values).
//
// Arithmetic. One mma.m16n8k16 (f16 x f16 -> f32) takes 16 rows of W (A) and
// 8 rows of x (B); its f32 accumulators run over the whole k range a warp
// covers, so there is no per-block epilogue: the block scale is folded into
// the f16 weights. Lane (g = lane / 4, t = lane % 4) holds A elements (rows g,
// g + 8; k 2t, 2t + 1, 2t + 8, 2t + 9) and B elements (k the same; x row g).
// Since the dot product is a sum over k, any permutation of k applied to both
// W and x is free, and this one makes lane t of a step own the whole block
// 4 s + t of rows g and g + 8 (one 16-byte load each for Q4_0, two for Q8_0)
// and the same block of its x row: the block's 32 values feed the lane's 4 k
// positions of 8 consecutive mmas. Piece P (0..15, a half2) of a block is
//   word w = P / 4 of the quants (bytes 4w..4w+3), c = P % 4:
//   Q4_0  c = 0: low nibbles of bytes 0, 2    values 4w, 4w + 2
//         c = 1: low nibbles of bytes 1, 3    values 4w + 1, 4w + 3
//         c = 2, 3: the high nibbles of the same (values + 16)
//   Q8_0  the bytes of words w (c < 2) and w + 4 (c >= 2) in that order
// and mma i of the step (i = 0..7) takes pieces 2i (its k 2t, 2t + 1) and
// 2i + 1 (k 2t + 8, 2t + 9). x's f16 copy stores each block in piece order
// (perm_src below), so a lane's B fragments of 2 mmas are one 16-byte load.
// Conversion, one half2 = two values at a time (magic-number f16):
//   Q4_0 low:  (v & 0x000f000f) | 0x64006400 = (1024 + q, 1024 + q'), minus
//              1032 (exact) = q - 8, times d (one f16 rounding)
//   Q4_0 high: (v & 0x00f000f0) | 0x64006400 = 1024 + 16 q: * 1/16 - 72 (one
//              exact hfma2) = q - 8, times d; v >> 8 gives bytes 1 and 3
//   Q8_0:      prmt of (v ^ 0x80808080) with 0x64 = 1024 + 128 + q, minus 1152
//              (exact), times d
// (folding d into one hfma2, h d - 1032 d, would round 1032 d to f16 and lose
// up to d / 2). Error: each weight rounded to f16 (2^-11 relative), x rounded
// to f16, f32 accumulation. x values past f16 range (65504) would overflow:
// activations of the supported models stay far below.
//
// Blocking. A warp owns MT x 16 rows of W and all x rows of the launch (NT x 8
// <= 64 columns, so each weight byte is read once a launch); KW warps of a
// block share its rows, each taking its share of k, and add their sums in
// shared memory in warp order; RW such row groups make a block. Two kernels
// walk k this way (which one and which shape by rows and format: launch_nt):
//   mmf_kernel (registers): a warp takes chunks of UNR steps in turn (warp kw:
//     chunks kw, kw + KW, ...), loads all MT x 2 x UNR weight units of a chunk
//     into registers (cu_load_stream, L1 no-allocate) before using any, and
//     x's f16 copy through L1 (the row groups of a block walk the same chunks
//     at about the same time). A chunk is one round trip; warps run apart.
//     Its first chunk's weights are loaded before cu_pdl_wait.
//   mmf_pipe_kernel (cp.async): the block walks k in stages of KW x UNR steps
//     through a ring of S stages in shared memory, S - 1 in flight while one
//     computes: each row's part of a stage is copied as one contiguous run,
//     x's f16 copy once a block (shared by the RW row groups, not loaded by
//     every warp), all with one barrier a stage. Its first stages' weights
//     are requested before cu_pdl_wait.
// Both are launched with cu_launch (overlapped launches, cuda_common.cuh).
// When the blocks are fewer than half of what the SMs hold at once, k is also
// split across blocks (grid y): partial sums go to cb->gemm_w and a second
// kernel adds them in split order, so results do not vary run to run (a
// matmul alone and the same matmul in a group may split differently, so their
// last bits may differ). Consecutive matmuls on one x (q, k, v; gate, up) are
// one launch over all their rows (the decode kernel's pending group, cb->pmm,
// with f16 set), so the small k and v projections need no split.
//
// What bounds it (H200, test_cuda_mmf --bench, 8B shapes, kernel time a
// layer: q/k/v + o + gate/up + down, 123 MB of Q4_0 weights, 232 MB Q8_0).
// Q4_0 at 8 / 16 / 32 / 64 rows: 70 / 85 / 108 / 153 us (the register kernel
// alone: 71 / 95 / 139 / 187; the dp4a kernel at one row: 42). The pipeline
// removed what bounded the register kernel past 16 rows (x loads through L1,
// 0.65 TB/s of weights at 64 rows: now 0.8), but below 16 rows both kernels
// stream weights at ~2.2 TB/s (gate/up, 66 MB in 30 us at 8 rows) against
// 3.6 for dp4a, and Q8_0 through the pipeline at ~1.7 TB/s (gate/up 74..80
// us at 2..16 rows, 126 MB) whatever the tile: 64..256 rows a block, 1..8
// warps along k, 128..1024-byte runs of a row a stage, 2..4 stages, tiles
// starting at rotated k offsets (no change) -- while the register kernel does
// 42 us at 16 rows (3 TB/s). Later, on an H100 (Nsight Compute, bench/RESULTS.md):
// DRAM at 22-36%, a third to half of the issue slots busy, about one warp of
// 3-4 a scheduler ready: each warp's own chain of instructions bounds it.
// Its main loop had as many instructions working out the copies' addresses
// in every stage as dequantizing and multiplying (604 in the 9..16-row Q4_0
// loop, 16 of them mmas); computed once per thread, and with one lop3 a
// nibble pair instead of two, that loop is 269, and Q4_0 at 8 / 16 / 32 / 64
// sequences gained 6 / 6 / 10 / 8% (the L2 prefetch-size qualifier on
// cp.async, .L2::256B, lost 2-5%). Next to try: bulk copies (cp.async.bulk)
// of a row's run, Marlin-style repacking of the weights so a block's tile is
// contiguous, wgmma with warp-specialized loads. Q8_0 stays on the register
// kernel up to 32 rows (launch_nt). For 2..4 rows the dp4a kernel stays
// faster (Q4_0 45 / 57 us at 2 / 4 rows against 70), so those rows go there
// (CU_MMF_MIN_N).
//
// Tails. W rows past m read row m - 1 and x rows past n read row n - 1 (the
// pipelined kernel stages zeros for them; neither is stored); blocks past nb
// (k = 32 * odd) load zero weights, zero scales and zero x.
#include "backend/cuda/cuda_mmf.cuh"
#include "backend/cuda/cuda_gemm.cuh"
#include "backend/cuda/cuda_mmvq.cuh"

#include <cstring>

namespace {

// Value (0..31) of a block that position s of x's f16 copy of the block holds.
__host__ __device__ constexpr int perm_src(int s)
{
    return 4 * (s / 8) + ((s / 2) % 4 & 1) + 2 * (s % 2) + 16 * ((s / 2) % 4 >> 1);
}
static_assert(perm_src(0) == 0 && perm_src(1) == 2 && perm_src(2) == 1 && perm_src(3) == 3 &&
                  perm_src(4) == 16 && perm_src(5) == 18 && perm_src(6) == 17 &&
                  perm_src(7) == 19 && perm_src(8) == 4,
              "x_f16_kernel writes this order");

// cu_mmf_slot (cuda_mmf.cuh, for the ops that write the copy themselves) is
// perm_src's inverse.
constexpr bool slot_inverts_perm()
{
    for (int v = 0; v < 32; v++)
        if (perm_src(cu_mmf_slot(v)) != v) return false;
    return true;
}
static_assert(slot_inverts_perm(), "cu_mmf_slot and perm_src disagree");

// x (cnt8 * 8 values, k % 32 == 0) -> f16 in piece order: thread i writes
// positions 8j..8j+7 (j = i % 4) of block i / 4, i.e. pieces 4j..4j+3 of word j.
__global__ void x_f16_kernel(const float *__restrict__ x, int64_t cnt8, __half *__restrict__ xh)
{
    cu_pdl_wait();
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= cnt8) return;
    int64_t b = i / 4;
    int j = (int)(i % 4);
    const float *src = x + 32 * b + 4 * j;
    float4 lo = *(const float4 *)src, hi = *(const float4 *)(src + 16);
    __half2 h[4] = {__floats2half2_rn(lo.x, lo.z), __floats2half2_rn(lo.y, lo.w),
                    __floats2half2_rn(hi.x, hi.z), __floats2half2_rn(hi.y, hi.w)};
    uint4 v;
    memcpy(&v, h, sizeof v);
    *(uint4 *)(xh + 32 * b + 8 * j) = v;
}

// One matmul of a launch (y: column (x row) c at y + c * m): the packed
// weight's quants as 16-byte units (w) and scales, and its first row among the
// launch's rows (partial sums).
struct seg : cu_mm_seg<uint4> {
    const __half *sc;
    int64_t row0;
};
using segs = cu_mm_segs<seg>;

template <int T_, int NT_, int MT_, int RW_, int KW_, int UNR_>
struct cfg {
    static constexpr int T = T_, NT = NT_, MT = MT_, RW = RW_, KW = KW_, UNR = UNR_;
    static constexpr int THREADS = RW * KW * 32;
    static constexpr int ROWS = RW * MT * 16;                   // W rows a block
    static constexpr int UPB = T == QT_Q4_0 ? 1 : 2;            // 16-byte units a block
    static constexpr int SMEM = RW * (KW - 1) * MT * NT * 4 * 32 * 4; // the warps' sums
};

__device__ __forceinline__ __half2 as_h2(uint32_t u)
{
    __half2 h;
    memcpy(&h, &u, 4);
    return h;
}

__device__ __forceinline__ uint32_t as_u32(__half2 h)
{
    uint32_t u;
    memcpy(&u, &h, 4);
    return u;
}

__device__ __forceinline__ uint32_t word(const uint4 &v, int i)
{
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// d += a (16 x 16 of W) * b (16 x 8 of x).
__device__ __forceinline__ void mma_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// (v & mask) | bits as one lop3: written as two C operations, each with an
// immediate, they compile to two LOP3 instructions (a LOP3 takes one
// immediate), one of the four instructions per two Q4_0 weights.
template <uint32_t MASK, uint32_t BITS>
__device__ __forceinline__ uint32_t and_or(uint32_t v)
{
    uint32_t r;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(r) : "r"(v), "n"(MASK), "n"(BITS));
    return r;
}

// The A fragments of mmas 2j and 2j + 1 of a step for one lane: a[0] (mma 2j),
// a[1] (mma 2j + 1), each {row g k-lo, row g + 8 k-lo, row g k-hi, row g + 8
// k-hi}, from the lane's quants q[h] (h = 0: row g, 1: row g + 8) and scales.
template <int T>
__device__ __forceinline__ void dequant(uint32_t (&a)[2][4], const uint4 (&q)[2][T == QT_Q4_0 ? 1 : 2],
                                        const __half2 (&d)[2], int j)
{
    constexpr uint32_t MAG = 0x64006400u;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        if constexpr (T == QT_Q4_0) {
            const __half2 c1032 = __float2half2_rn(1032.0f), c16 = __float2half2_rn(0.0625f),
                          c72 = __float2half2_rn(-72.0f);
            uint32_t v = word(q[h][0], j), v8 = v >> 8;
            a[0][h] = as_u32(__hmul2(__hsub2(as_h2(and_or<0x000f000fu, MAG>(v)), c1032), d[h]));
            a[0][h + 2] = as_u32(__hmul2(__hsub2(as_h2(and_or<0x000f000fu, MAG>(v8)), c1032), d[h]));
            a[1][h] = as_u32(__hmul2(__hfma2(as_h2(and_or<0x00f000f0u, MAG>(v)), c16, c72), d[h]));
            a[1][h + 2] = as_u32(__hmul2(__hfma2(as_h2(and_or<0x00f000f0u, MAG>(v8)), c16, c72), d[h]));
        } else {
            const __half2 c1152 = __float2half2_rn(1152.0f);
            uint32_t v0 = word(q[h][0], j) ^ 0x80808080u, v1 = word(q[h][1], j) ^ 0x80808080u;
            a[0][h] = as_u32(__hmul2(__hsub2(as_h2(__byte_perm(v0, 0x64u, 0x4240)), c1152), d[h]));
            a[0][h + 2] = as_u32(__hmul2(__hsub2(as_h2(__byte_perm(v0, 0x64u, 0x4341)), c1152), d[h]));
            a[1][h] = as_u32(__hmul2(__hsub2(as_h2(__byte_perm(v1, 0x64u, 0x4240)), c1152), d[h]));
            a[1][h + 2] = as_u32(__hmul2(__hsub2(as_h2(__byte_perm(v1, 0x64u, 0x4341)), c1152), d[h]));
        }
    }
}

// The end of a warp of either kernel: the KW - 1 warps that took later slices
// of k (kw > 0) hand their sums to the first through sums (shared memory:
// every warp of the block calls this), which stores its outputs, to part
// (k split over blocks too: summed later in a fixed order) or to its
// segment's y (+ bias).
template <int MT, int NT, int KW, typename SEG>
__device__ __forceinline__ void mmf_finish(float (&acc)[MT][NT][4], float *sums, int rg, int kw,
                                           int lane, bool valid, int64_t rbase,
                                           int64_t m, int n, float *part, int64_t mtot,
                                           const SEG &sg)
{
    if constexpr (KW > 1) {
        constexpr int PER = MT * NT * 4; // values a lane
        float *mine = sums + (size_t)(rg * (KW - 1)) * PER * 32;
        if (kw > 0) {
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int jn = 0; jn < NT; jn++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        mine[((kw - 1) * PER + (i * NT + jn) * 4 + e) * 32 + lane] = acc[i][jn][e];
        }
        __syncthreads();
        if (kw > 0) return;
        for (int w = 0; w < KW - 1; w++)
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int jn = 0; jn < NT; jn++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        acc[i][jn][e] += mine[(w * PER + (i * NT + jn) * 4 + e) * 32 + lane];
    }
    if (!valid) return;
    cu_mma_acc_each(acc, rbase, 0, m, n, lane, [&](int64_t row, int64_t col, float v) {
        if (part)
            part[((int64_t)blockIdx.y * n + col) * mtot + sg.row0 + row] = v;
        else
            sg.y[col * m + row] = v + (sg.bias ? sg.bias[row] : 0.0f);
    });
}

// One thread block: rows [(blockIdx.x - blk0) * ROWS, + ROWS) of its matmul,
// steps [blockIdx.y * spz, + spz) of k. part == nullptr: y (+ bias) is
// written; else the sums go to part + (blockIdx.y * n + c) * mtot + row0 + r.
template <class C>
__global__ void __launch_bounds__(C::THREADS)
mmf_kernel(segs G, int64_t nb, const __half *__restrict__ xh, int n, int64_t spz,
           float *__restrict__ part, int64_t mtot)
{
    constexpr int T = C::T, NT = C::NT, MT = C::MT, KW = C::KW, UNR = C::UNR, UPB = C::UPB;
    extern __shared__ float sums[]; // (RW, KW - 1, MT, NT, 4, 32)
    int si = 0;
#pragma unroll
    for (int i = 1; i < CU_MM_GROUP; i++)
        if (i < G.cnt && (int64_t)blockIdx.x >= G.s[i].blk0) si = i;
    const seg &sg = G.s[si];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int rg = warp / KW, kw = warp % KW;
    const int64_t m = sg.m, k = nb * 32;
    const int64_t rbase = ((int64_t)blockIdx.x - sg.blk0) * C::ROWS + rg * MT * 16;
    const bool valid = rbase < m; // warp-uniform
    const uint4 *wp[MT][2];
    const __half *sp[MT][2];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int64_t r = min(rbase + 16 * i + g + 8 * h, m - 1);
            wp[i][h] = sg.w + r * nb * UPB;
            sp[i][h] = sg.sc + r * nb;
        }
    int xo[NT]; // halves to x row min(8 jn + g, n - 1) (n * k < 2^31: asserted by the host)
#pragma unroll
    for (int jn = 0; jn < NT; jn++) xo[jn] = min(8 * jn + g, n - 1) * (int)k;
    float acc[MT][NT][4] = {};

    const int64_t steps = (nb + 3) / 4, s_beg = (int64_t)blockIdx.y * spz;
    const int64_t s_end = min(steps, s_beg + spz), first = s_beg + kw * UNR;
    uint4 q[UNR][MT][2][UPB];
    __half2 d[UNR][MT][2];
    auto load = [&](int64_t s0) { // the chunk's weight units and scales
#pragma unroll
        for (int u = 0; u < UNR; u++) {
            const int64_t b = 4 * (s0 + u) + t;
            const bool ok = s0 + u < s_end && b < nb;
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
#pragma unroll
                    for (int e = 0; e < UPB; e++)
                        q[u][i][h][e] = ok ? cu_load_stream(wp[i][h] + b * UPB + e)
                                           : make_uint4(0, 0, 0, 0);
                    d[u][i][h] = __half2half2(ok ? __ldg(sp[i][h] + b) : __float2half(0.0f));
                }
        }
    };
    // The weights do not depend on the kernels before this one: the first
    // chunk is in flight before waiting for them (cu_pdl_wait); x is read and
    // every store made after it.
    if (valid && first < s_end) load(first);
    cu_pdl_wait();
    for (int64_t s0 = first; s0 < s_end && valid; s0 += KW * UNR) {
        if (s0 != first) load(s0);
#pragma unroll
        for (int u = 0; u < UNR; u++) {
            if (s0 + u >= s_end) break;
            const int64_t b = 4 * (s0 + u) + t;
            const bool okx = b < nb;
#pragma unroll
            for (int j = 0; j < 4; j++) { // mmas 2j, 2j + 1: word j's pieces
                uint4 xv[NT];
#pragma unroll
                for (int jn = 0; jn < NT; jn++)
                    xv[jn] = okx ? __ldg((const uint4 *)(xh + xo[jn] + 32 * b) + j)
                                 : make_uint4(0, 0, 0, 0);
#pragma unroll
                for (int i = 0; i < MT; i++) {
                    uint32_t a[2][4];
                    dequant<T>(a, q[u][i], d[u][i], j);
#pragma unroll
                    for (int jn = 0; jn < NT; jn++) {
                        mma_f16(acc[i][jn], a[0], xv[jn].x, xv[jn].y);
                        mma_f16(acc[i][jn], a[1], xv[jn].z, xv[jn].w);
                    }
                }
            }
        }
    }

    mmf_finish<MT, NT, KW>(acc, sums, rg, kw, lane, valid, rbase, m, n, part, mtot, sg);
}

// ---- the pipelined kernel (cp.async through shared memory) ----

__device__ __forceinline__ uint32_t smem_u32(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

// B bytes (8 or 16) global -> shared, asynchronous; ok false writes zeros
// (src must still be a valid address).
template <int B>
__device__ __forceinline__ void cp_async(void *dst, const void *src, bool ok)
{
    if constexpr (B == 16)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
                     "r"(ok ? 16 : 0)
                     : "memory");
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
                     "r"(ok ? 8 : 0)
                     : "memory");
}

__device__ __forceinline__ void cp_commit()
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void cp_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Shapes of the pipelined kernel. A stage is KW x UNR consecutive steps of k
// (warp kw of a row group computes steps kw * UNR .. + UNR - 1 of each stage);
// the ring holds S stages (S - 1 in flight). Shared memory of a stage:
//   x      NT * 8 rows of XROW bytes: the stage's 4 KW UNR blocks of the row
//          (64 bytes each: x's f16 copy in piece order) and 64 bytes of padding
//          (row g + 1 starts 4 16-byte chunks after row g: with the word
//          swizzle of issue_x, a quarter warp's reads hit distinct banks)
//   per warp, WB bytes of quants, [u][i][h][unit][lane] 16-byte units (each
//          lane's units of mmf_kernel, so its reads are 512 contiguous bytes a
//          warp) and SB bytes of scales, [u][row of the warp][4 blocks]
// S is as many stages (2..4) as leave two blocks an SM.
template <int T_, int NT_, int MT_, int RW_, int KW_, int UNR_>
struct pcfg {
    static constexpr int T = T_, NT = NT_, MT = MT_, RW = RW_, KW = KW_, UNR = UNR_;
    static constexpr int THREADS = RW * KW * 32;
    static constexpr int ROWS = RW * MT * 16;
    static constexpr int UPB = T == QT_Q4_0 ? 1 : 2;
    static constexpr int SEGU = KW * UNR * 4 * UPB;  // 16-byte units of a row a stage
    static constexpr int XROW = KW * UNR * 4 * 64 + 64;
    static constexpr int XB = NT * 8 * XROW;
    static constexpr int WB = UNR * MT * 2 * UPB * 512;
    static constexpr int SB = UNR * MT * 16 * 8;
    static constexpr int STAGE = XB + RW * KW * (WB + SB);
    static constexpr int S0 = (110 * 1024) / STAGE;
    static constexpr int S = S0 > 4 ? 4 : S0 < 2 ? 2 : S0;
    static constexpr int SUMS = RW * (KW - 1) * MT * NT * 4 * 32 * 4;
    static constexpr int SMEM = S * STAGE > SUMS ? S * STAGE : SUMS;
    static constexpr int MINB = SMEM <= 110 * 1024 ? 2 : 1;
    static constexpr int CPT = ROWS * SEGU / THREADS; // quant units a thread copies a stage
    static_assert(ROWS * SEGU % THREADS == 0 && THREADS % SEGU == 0, "whole copies a thread");
    static_assert(SMEM <= 227 * 1024, "shared memory of one block");
};

// The same tile and arithmetic as mmf_kernel (same pieces, same mma order
// within a warp), but the loads go through shared memory: cp.async into a ring
// of S stages, so that the next S - 1 stages' weights are in flight while a
// stage computes; each row's part of a stage is copied as one contiguous run
// (consecutive threads on consecutive 16-byte units, as the weights lie), and
// x's f16 copy is loaded once a block and stage (shared by the RW row groups)
// instead of by every warp through L1.
template <class C>
__global__ void __launch_bounds__(C::THREADS, C::MINB)
mmf_pipe_kernel(segs G, int64_t nb, const __half *__restrict__ xh, int n, int64_t spz,
                float *__restrict__ part, int64_t mtot)
{
    constexpr int T = C::T, NT = C::NT, MT = C::MT, KW = C::KW, UNR = C::UNR, UPB = C::UPB,
                  S = C::S, SEGU = C::SEGU, CPT = C::CPT;
    extern __shared__ __align__(16) unsigned char smem[];
    int si = 0;
#pragma unroll
    for (int i = 1; i < CU_MM_GROUP; i++)
        if (i < G.cnt && (int64_t)blockIdx.x >= G.s[i].blk0) si = i;
    const seg &sg = G.s[si];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int rg = warp / KW, kw = warp % KW;
    const int64_t m = sg.m, k = nb * 32;
    const int64_t rblk = ((int64_t)blockIdx.x - sg.blk0) * C::ROWS;
    const int64_t rbase = rblk + rg * MT * 16;
    const bool valid = rbase < m; // warp-uniform; rows past m load row m - 1, store nothing

    // This thread's quant copies: unit un (the same for all, as THREADS is a
    // multiple of SEGU) of block rows rr0, rr0 + THREADS / SEGU, ..., to the
    // warp tile layout above; sources in units from sg.w (< 2^31: a weight
    // under 32 GiB).
    const int un = threadIdx.x % SEGU, rr0 = threadIdx.x / SEGU;
    uint32_t csrc[CPT];
    int cdst[CPT];
#pragma unroll
    for (int c = 0; c < CPT; c++) {
        const int rr = rr0 + c * (C::THREADS / SEGU);
        const int w = (rr / (MT * 16)) * KW + (un / (4 * UPB)) / UNR, u = (un / (4 * UPB)) % UNR;
        const int rw = rr % (MT * 16), i = rw / 16, h = (rw / 8) % 2, gg = rw % 8;
        const int tt = (un / UPB) % 4, e = un % UPB;
        csrc[c] = (uint32_t)(min(rblk + rr, m - 1) * nb * UPB + un);
        cdst[c] = w * (C::WB + C::SB) + ((((u * MT + i) * 2 + h) * UPB + e) * 32 + gg * 4 + tt) * 16;
    }
    const bool sc_async = nb % 4 == 0; // a step's 4 scales are 8 aligned bytes
    float acc[MT][NT][4] = {};

    // Stages in ints: steps < 2^31 (k < 2^36).
    const int steps = (int)((nb + 3) / 4), s_beg = (int)(blockIdx.y * spz);
    const int s_end = min(steps, s_beg + (int)spz), nst = (s_end - s_beg + KW * UNR - 1) / (KW * UNR);

    // This thread's scale and x copies are fixed for the whole walk along k
    // but for the stage's offset: their shared-memory places in a slot and
    // their sources at stage 0 are worked out once here (done in every stage,
    // that index arithmetic had been as many instructions as a stage's
    // dequantization and mmas). As THREADS is a multiple of KW * UNR (scales)
    // and of KW * UNR * 16 (x), the copies c of a thread share their step /
    // block and word and walk rows in steps of SC_RS / X_RS.
    constexpr int SC_N = C::ROWS * KW * UNR, SCPT = (SC_N + C::THREADS - 1) / C::THREADS;
    constexpr int SC_RS = C::THREADS / (KW * UNR);
    constexpr int X_N = NT * 8 * KW * UNR * 16, XCPT = (X_N + C::THREADS - 1) / C::THREADS;
    constexpr int X_RS = C::THREADS / (KW * UNR * 16);
    static_assert(C::THREADS % (KW * UNR * 16) == 0 && C::THREADS % (KW * UNR) == 0,
                  "a thread's copies share their step, block and word");
    const int sidx = threadIdx.x % (KW * UNR); // scales: the stage's step
    int sc_dst[SCPT], sc_src[SCPT];              // bytes into a slot; scales from sg.sc
#pragma unroll
    for (int c = 0; c < SCPT; c++) {
        const int rr = threadIdx.x / (KW * UNR) + c * SC_RS;
        const int w = (rr / (MT * 16)) * KW + sidx / UNR, u = sidx % UNR;
        sc_dst[c] = C::XB + w * (C::WB + C::SB) + C::WB + (u * MT * 16 + rr % (MT * 16)) * 8;
        sc_src[c] = (int)(min(rblk + rr, m - 1) * nb); // m * nb < 2^31 (host check)
    }
    const int xcc = threadIdx.x % (KW * UNR * 16), xbb = xcc / 4, xj = xcc % 4; // x: block, word
    const int xrow0 = threadIdx.x / (KW * UNR * 16);
    const int x_dst0 = xrow0 * C::XROW + (4 * xbb + (xj ^ (xbb & 3))) * 16;
    const int x_src0 = xrow0 * (int)k + 32 * xbb + 8 * xj; // n * k < 2^31 (host check)

    // Quants and scales of stage st into slot, by the whole block.
    auto issue_w = [&](int st, int slot) {
        unsigned char *base = smem + slot * C::STAGE;
        const int s0 = s_beg + st * KW * UNR;
        const int64_t b = 4 * (int64_t)s0 + un / UPB;
        const bool ok = s0 + un / (4 * UPB) < s_end && b < nb;
#pragma unroll
        for (int c = 0; c < CPT; c++)
            cp_async<16>(base + C::XB + cdst[c], sg.w + csrc[c] + (ok ? 4 * s0 * UPB : 0), ok);
        const int s = s0 + sidx;
#pragma unroll
        for (int c = 0; c < SCPT; c++) {
            if (SC_N % C::THREADS && threadIdx.x + c * C::THREADS >= SC_N) break;
            __half *ws = (__half *)(base + sc_dst[c]);
            const __half *src = sg.sc + sc_src[c];
            if (sc_async) {
                cp_async<8>(ws, src + (s < s_end ? 4 * s : 0), s < s_end);
            } else { // k = 32 * (not a multiple of 4): plain loads, tail blocks zero
#pragma unroll
                for (int e = 0; e < 4; e++)
                    ws[e] = s < s_end && 4 * s + e < nb ? src[4 * s + e] : __float2half(0.0f);
            }
        }
    };
    // x of stage st into slot: row c, block bb of the stage, word j at (4 bb +
    // (j ^ bb % 4)) * 16 bytes into the row, so that a warp's reads (rows g,
    // blocks 4 (kw UNR + u) + t, one word) hit 32 distinct banks.
    auto issue_x = [&](int st, int slot) {
        unsigned char *xs = smem + slot * C::STAGE;
        const int s0 = s_beg + st * KW * UNR;
        const bool kok = 4 * (int64_t)s0 + xbb < nb && s0 + xbb / 4 < s_end;
#pragma unroll
        for (int c = 0; c < XCPT; c++) {
            const int row = xrow0 + c * X_RS;
            if (X_N % C::THREADS && row >= NT * 8) break;
            const bool ok = kok && row < n;
            cp_async<16>(xs + x_dst0 + c * X_RS * C::XROW,
                         ok ? (const void *)(xh + x_src0 + c * X_RS * (int)k + 128 * s0)
                            : (const void *)xh,
                         ok);
        }
    };

    // The weights do not depend on earlier kernels: their first stages are in
    // flight before cu_pdl_wait; x and every store come after it.
#pragma unroll
    for (int p = 0; p < S - 1; p++) {
        if (p < nst) issue_w(p, p);
        cp_commit();
    }
    cu_pdl_wait();
#pragma unroll
    for (int p = 0; p < S - 1; p++) {
        if (p < nst) issue_x(p, p);
        cp_commit();
    }
    int slot = 0;
    for (int st = 0; st < nst; st++) {
        cp_wait<S - 2>(); // stage st (this thread's part) has landed
        __syncthreads();  // everyone's part; everyone done with stage st - 1's slot
        {
            const int nx = st + S - 1;
            const int ns = slot == 0 ? S - 1 : slot - 1;
            if (nx < nst) {
                issue_w(nx, ns);
                issue_x(nx, ns);
            }
            cp_commit();
        }
        const unsigned char *base = smem + slot * C::STAGE;
        const uint4 *wq = (const uint4 *)(base + C::XB + warp * (C::WB + C::SB));
        const __half *ws = (const __half *)(base + C::XB + warp * (C::WB + C::SB) + C::WB);
#pragma unroll
        for (int u = 0; u < UNR; u++) {
            uint4 q[MT][2][UPB];
            __half2 d[MT][2];
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
#pragma unroll
                    for (int e = 0; e < UPB; e++)
                        q[i][h][e] = wq[(((u * MT + i) * 2 + h) * UPB + e) * 32 + lane];
                    d[i][h] = __half2half2(ws[(u * MT * 16 + 16 * i + 8 * h + g) * 4 + t]);
                }
            const unsigned char *xs = base + (4 * (4 * (kw * UNR + u) + t)) * 16;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                uint32_t a[MT][2][4];
#pragma unroll
                for (int i = 0; i < MT; i++) dequant<T>(a[i], q[i], d[i], j);
                const unsigned char *xj = xs + (j ^ t) * 16;
#pragma unroll
                for (int jn = 0; jn < NT; jn++) {
                    const uint4 xv = *(const uint4 *)(xj + (8 * jn + g) * C::XROW);
#pragma unroll
                    for (int i = 0; i < MT; i++) {
                        mma_f16(acc[i][jn], a[i][0], xv.x, xv.y);
                        mma_f16(acc[i][jn], a[i][1], xv.z, xv.w);
                    }
                }
            }
        }
        slot = slot == S - 1 ? 0 : slot + 1;
    }
    cp_wait<0>();

    if constexpr (KW > 1) __syncthreads(); // the ring becomes the warps' sums
    mmf_finish<MT, NT, KW>(acc, (float *)smem, rg, kw, lane, valid, rbase, m, n, part, mtot,
                           sg);
}

// y of each matmul = the sum of `split` partial results (in order) + bias.
__global__ void split_sum_kernel(segs G, const float *__restrict__ part, int split, int n,
                                 int64_t mtot)
{
    cu_pdl_wait();
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * mtot) return;
    int64_t col = i / mtot, r = i % mtot;
    int si = 0;
#pragma unroll
    for (int j = 1; j < CU_MM_GROUP; j++)
        if (j < G.cnt && r >= G.s[j].row0) si = j;
    float s = 0.0f;
    for (int z = 0; z < split; z++) s += part[z * n * mtot + i];
    const seg &sg = G.s[si];
    int64_t row = r - sg.row0;
    sg.y[col * sg.m + row] = s + (sg.bias ? sg.bias[row] : 0.0f);
}

// The shapes were tuned at 2 blocks an SM; where a third would fit (the
// 9..16-row Q4_0 pipeline: 69 registers, 57 KB), the block asks for 76 KB
// of shared memory so that it does not: at 16 rows 3 blocks an SM took
// gate/up from 38.9 to 45.2 us (224 blocks on 132 SMs) and o from 10.0 to
// 11.1 while q/k/v went from 14.2 to 12.1 (H100, test_cuda_mmf --bench).
// Shapes held to 2 by their registers keep their small request (and the L1
// that the register kernel reads x through). INFERD_CUDA_MMF_HOLD2=0 (read
// once) lets the third in, for measurements.
bool hold2()
{
    static const bool on = cu_env_int("INFERD_CUDA_MMF_HOLD2", 1) != 0;
    return on;
}

struct block_fit {
    int smem;        // the dynamic shared memory a block asks for
    int occ;         // blocks an SM then holds
    cudaError_t err; // of setting or asking the attributes
};

template <typename K>
block_fit fit_blocks(K kern, int threads, int smem)
{
    block_fit f = {smem, 0, cudaSuccess};
    for (;;) {
        f.err = cu_smem_opt_in(kern, (size_t)f.smem);
        if (f.err == cudaSuccess)
            f.err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&f.occ, kern, threads, f.smem);
        if (f.err != cudaSuccess || f.occ <= 2 || !hold2() || f.smem >= 76 * 1024) return f;
        f.smem = 76 * 1024;
    }
}

// One launch over the group's matmuls for x rows [0, n) of xh (n <= NT * 8):
// shape C, on mmf_pipe_kernel (PIPE) or mmf_kernel, both with cu_launch.
template <class C, bool PIPE>
void launch(cu_backend *cb, segs &G, int64_t nb, const __half *xh, int n)
{
    void (*kern)(segs, int64_t, const __half *, int, int64_t, float *, int64_t);
    if constexpr (PIPE)
        kern = mmf_pipe_kernel<C>;
    else
        kern = mmf_kernel<C>;
    static const block_fit fit = fit_blocks(kern, C::THREADS, C::SMEM);
    if (fit.err != cudaSuccess || fit.occ < 1) {
        cu_record(cb, fit.err != cudaSuccess ? fit.err : cudaErrorInvalidConfiguration,
                  "matmul (mmf): kernel attributes");
        return;
    }
    const int smem = fit.smem, occ = fit.occ;
    int64_t tiles = 0, mtot = 0;
    for (int j = 0; j < G.cnt; j++) {
        G.s[j].blk0 = tiles;
        G.s[j].row0 = mtot;
        tiles += (G.s[j].m + C::ROWS - 1) / C::ROWS;
        mtot += G.s[j].m;
    }
    const int64_t steps = (nb + 3) / 4, slots = (int64_t)cb->n_sm * occ;
    int64_t split = 1;
    if (tiles * 2 <= slots && cb->gemm_w) {
        split = slots / tiles;
        int64_t most = steps / (C::KW * C::UNR); // a chunk for every warp of a split
        int64_t cap = (int64_t)(cb->gemm_w_cap / 2) / (n * mtot);
        if (split > most) split = most;
        if (split > cap) split = cap;
        if (split < 1) split = 1;
    }
    int64_t spz = (steps + split - 1) / split;
    split = (steps + spz - 1) / spz;
    float *part = split > 1 ? (float *)cb->gemm_w : nullptr;
    dim3 grid((unsigned)tiles, (unsigned)split);
    cu_launch(cb, kern, grid, C::THREADS, smem, G, nb, xh, n, spz, part, mtot);
    cu_check_launch(cb, "matmul (mmf)");
    if (part) {
        cu_launch(cb, split_sum_kernel, cu_blocks(n * mtot, 256), 256, 0, G, (const float *)part,
                  (int)split, n, mtot);
        cu_check_launch(cb, "matmul (mmf): split sum");
    }
}

// INFERD_CUDA_MMF_CFG (read once), for A/B measurements: 0 the kernel and
// shape chosen below by rows and format, 1 the register kernel (mmf_kernel)
// for all rows, 2 the pipelined kernel (mmf_pipe_kernel) for all rows.
int variant()
{
    static const int v = cu_env_int("INFERD_CUDA_MMF_CFG", 0);
    return v == 1 || v == 2 ? v : 0;
}

// Kernel and tile shape by x rows (NT 8-row tiles of x) and format, measured
// with test_cuda_mmf --bench on an H200 (8B shapes, kernel time a layer:
// q/k/v + o + gate/up + down).
//
// Register kernel, against other MT / RW x KW / UNR: one m16 tile a warp and
// one group of 8 warps up to 8 rows (Q4_0 72 us at 8 rows against 77 with 2
// groups of 4); two m16 tiles a warp from 9 rows (x loads a weight byte fall
// as 1 / MT: 96 against 110 us at 16 rows, Q4_0); from 17 rows (Q8_0: 9)
// several row groups a block, whose x loads meet in L1: Q4_0 4 groups of 2
// warps (64 rows: 189 us against 208 with 2 groups of 4, 193 with 8 of 1 and
// 245 with one of 8), Q8_0 4 groups of 2 at 9..16 rows (102 against 110 us)
// and 8 groups of one warp from 17 (64 rows: 219 against 232 us with 4 of 2);
// four m16 tiles a warp at 33..64 rows for Q4_0 (Q8_0's twice larger weight
// loads leave no registers for that).
//
// Pipelined kernel, pcfg<T, NT, MT, RW, KW, UNR> (the register kernel in
// brackets): Q4_0 5..8 rows 4 groups of 2 warps, MT 2 (70.4 us at 8 rows
// [70.8]; 8 groups of one warp, MT 1: 71.7), 9..32 rows 8 groups of one
// warp, MT 1 (84.9 us at 16 [95.0], 107.5 at 32 [139.3]; 4 x 2, MT 2: 89.4
// and 115.6), 33..64 rows 8 groups of one warp, MT 2, 2 steps a warp and
// stage (152.5 us at 64 [187.0]; MT 1, one step: 155.5). Tiles of 32 rows x
// 8 warps along k, 64 x 4 along k and 2 steps a warp with 4 x 2 were slower
// everywhere. Q8_0 stays on the register kernel up to 32 rows: every shape
// tried took 146..160 us at 2..16 rows and 171..186 at 32, against 99 at 16
// and 155 at 32 (see the header); at 33..64 rows the MT 1 shape: 209 us at
// 64 [216].
template <int T, int NT>
void launch_nt(cu_backend *cb, segs &G, int64_t nb, const __half *xh, int n)
{
    constexpr bool Q8 = T == QT_Q8_0;
    constexpr int MT = NT == 1 ? 1 : NT == 8 && !Q8 ? 4 : 2;
    constexpr int RW = NT == 1 ? 1 : Q8 ? (NT == 2 ? 4 : 8) : (NT == 2 ? 1 : 4), KW = 8 / RW;
    constexpr int UNR = (4 >> Q8) / MT ? (4 >> Q8) / MT : 1;
    using Reg = cfg<T, NT, MT, RW, KW, UNR>;
    using Pipe = pcfg<T, NT, NT == 1 && !Q8 ? 2 : NT == 8 && !Q8 ? 2 : 1, NT == 1 && !Q8 ? 4 : 8,
                      NT == 1 && !Q8 ? 2 : 1, NT == 8 && !Q8 ? 2 : 1>;
    const int v = variant();
    if (v == 1 || (v == 0 && Q8 && NT < 8))
        launch<Reg, false>(cb, G, nb, xh, n);
    else
        launch<Pipe, true>(cb, G, nb, xh, n);
}

template <int T>
void launch_t(cu_backend *cb, segs &G, int64_t nb, const __half *xh, int n)
{
    if (n <= 8)
        launch_nt<T, 1>(cb, G, nb, xh, n);
    else if (n <= 16)
        launch_nt<T, 2>(cb, G, nb, xh, n);
    else if (n <= 32)
        launch_nt<T, 4>(cb, G, nb, xh, n);
    else
        launch_nt<T, 8>(cb, G, nb, xh, n);
}

// cb->gemm_x now holds rows [0, n) of x (width k) in cu_mmf's order.
void mmf_x_claim(cu_backend *cb, const float *x, int64_t n, int64_t k)
{
    cb->gx.src = nullptr; // the cuBLAS path's copy of its x in gemm_x is gone
    cu_x_copy_claim(cb, cb->mmf, x, n, k);
}

// x rows [0, n) -> f16 in piece order in cb->gemm_x, unless it still holds them.
void prepare_x(cu_backend *cb, const float *x, int64_t n, int64_t k)
{
    INF_ASSERT(k % 32 == 0 && (size_t)(n * k) <= cb->gemm_x_cap);
    if (cu_x_copy_holds(cb, cb->mmf, x, n, k)) return;
    int64_t cnt8 = n * k / 8;
    cu_launch(cb, x_f16_kernel, cu_blocks(cnt8, 256), 256, 0, x, cnt8, cb->gemm_x);
    cu_check_launch(cb, "matmul (mmf): x to f16");
    cb->mmf_x_converted++;
    mmf_x_claim(cb, x, n, k);
}

} // namespace

cu_x_outs cu_x_outs_for(cu_backend *cb, int64_t n, int64_t k)
{
    cu_x_outs o = {};
    if (!cu_q8_fits(cb, n, k)) return o;
    o.q8 = cb->q8_x;
    o.q8ds = cb->q8_ds;
    if (cu_mmf_takes_rows(n) && (size_t)(n * k) <= cb->gemm_x_cap &&
        (int64_t)CU_MMF_TILE_N * k < ((int64_t)1 << 31))
        o.xh = cb->gemm_x;
    return o;
}

void cu_x_outs_claim(cu_backend *cb, const cu_x_outs &o, const float *x, int64_t n, int64_t k)
{
    if (o.q8) cu_x_copy_claim(cb, cb->q8, x, n, k);
    if (o.xh) mmf_x_claim(cb, x, n, k);
}

extern "C" uint64_t be_cuda_mmf_x_conversions(const be_backend *be)
{
    return CU_BE(be)->mmf_x_converted;
}

bool cu_mmf_enabled(void)
{
    static const bool on = cu_env_int("INFERD_CUDA_MMF", 1) != 0;
    return on;
}

void cu_mmf(cu_backend *cb, const cu_tensor *w, const float *x, int64_t n, float *y,
            const float *bias)
{
    INF_ASSERT(w->packed && n >= 1);
    cu_mm_group_add(cb, w, x, n, y, bias, true);
}

void cu_mmf_flush(cu_backend *cb)
{
    cu_mm_group *p = &cb->pmm;
    if (!p->cnt) return;
    const int64_t k = p->k, nb = k / 32;
    INF_ASSERT((int64_t)CU_MMF_TILE_N * k < ((int64_t)1 << 31));
    prepare_x(cb, p->x, p->n, k);
    for (int64_t i0 = 0; i0 < p->n; i0 += CU_MMF_TILE_N) {
        int nn = (int)(p->n - i0 < CU_MMF_TILE_N ? p->n - i0 : CU_MMF_TILE_N);
        segs G;
        G.cnt = p->cnt;
        for (int j = 0; j < p->cnt; j++) {
            const cu_tensor *w = p->w[j];
            int64_t m = cu_rows((const be_tensor *)w);
            const uint8_t *qs = (const uint8_t *)w->d;
            G.s[j] = {{(const uint4 *)qs, p->y[j] + i0 * m, p->bias[j], m, 0},
                      (const __half *)(qs + (size_t)m * nb * cu_pack_qb(p->type)), 0};
        }
        const __half *xh = cb->gemm_x + i0 * k;
        if (p->type == QT_Q4_0)
            launch_t<QT_Q4_0>(cb, G, nb, xh, nn);
        else
            launch_t<QT_Q8_0>(cb, G, nb, xh, nn);
    }
    p->cnt = 0;
    p->f16 = false;
}
