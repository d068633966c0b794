// mmvq_lab.cu: a standalone laboratory for the single-row decode matmul on
// packed Q4_0 weights (the layout of cuda_mmvq.cuh): the same dot product as
// mmvq_kernel (cuda_mmvq.cu) under different blockings, timed on the 8B
// shapes, beside a plain streaming read of the same bytes (what the card gives
// a kernel that only loads). It answers "what limits the decode matmul's
// bandwidth" without touching the backend; what wins moves into cuda_mmvq.cu.
//
// Built with the tools (tests/tools/mmvq_lab.cmake), or by hand:
//        nvcc -O3 -std=c++17 -arch=sm_90 -o mmvq_lab bench/mmvq_lab.cu
// Run:   ./mmvq_lab            (all variants, all shapes; ~20 s on an H100)
//
// Variants (template parameters of lab_kernel):
//   WARPS  warps a block
//   KS     warps that share one row (each takes a slice of its units)
//   ITER   rows a warp takes one after the other, the next row's loads issued
//          before the current row's arithmetic (software pipelining)
//   SCL    1: the scales of a row stored lane-major, so that a lane's UNR
//          scales are one 8-byte load instead of UNR 2-byte ones
//   PF     1: loads carry the L2::256B prefetch hint
// What it found on an H100 (2026-11-26; read-only streaming 3.03-3.05 TB/s):
// the blocking of the time, 4 warps with a whole 4096-wide row a warp (4 units
// a lane), ran o / q,k,v / gate,up at 6.6 / 7.6 / 24.6 us (1.43 / 1.86 / 2.69
// TB/s) and the down projection (7 units a lane over 2 warps) at 15.3 us; 2
// units a lane (2 warps a row) gave 4.7 / 7.2 / 23.5 us and 3.5 units a lane
// on the down projection 14.6 us, 1.75 units over 8 warps 13.6 us. Pipelining
// several rows a warp, 8-byte lane-major scales and the L2 prefetch hint did
// not help. Small weights pay the grid's ramp-up and drain: the more, shorter
// warps, the sooner all loads are in flight.
// Every variant's y is compared with the first variant's on the same weights
// (SCL=1 reads its own permuted copy of the scales).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

__device__ __forceinline__ void pdl_wait()
{
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

template <int PF>
__device__ __forceinline__ uint4 load_stream(const uint4 *p)
{
    uint4 r;
    if constexpr (PF)
        asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    else
        asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    return r;
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// y[row] = sum over the row's Q4_0 blocks of d_w (d_x sum q p - 8 s_x), as mmvq_kernel.
template <int WARPS, int KS, int UNR, int ITER, int SCL, int PF>
__global__ void __launch_bounds__(WARPS * 32)
lab_kernel(const uint8_t *__restrict__ qs, const __half *__restrict__ sc, int64_t m, int64_t nb,
           const int8_t *__restrict__ xq, const float2 *__restrict__ xds, float *__restrict__ y)
{
    constexpr int RPB = WARPS / KS * ITER;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, slice = warp % KS;
    const int64_t rbase = (int64_t)blockIdx.x * RPB + (warp / KS) * ITER;
    const int64_t units = nb, per = (units + KS - 1) / KS;
    const int64_t ubeg = slice * per, uend = min(units, ubeg + per);
    uint4 q[2][UNR];
    float dw[2][UNR];
    auto load = [&](int buf, int64_t row) {
        row = min(row, m - 1);
        const uint4 *wq = (const uint4 *)(qs + (size_t)row * nb * 16);
        const __half *ws = sc + row * nb;
        if constexpr (SCL) { // lane-major scales: KS == 1, units == 32 * UNR
            if constexpr (UNR == 4) {
                uint2 s2 = *(const uint2 *)(ws + lane * UNR);
                __half2 a = *(__half2 *)&s2.x, b = *(__half2 *)&s2.y;
                dw[buf][0] = __low2float(a); dw[buf][1] = __high2float(a);
                dw[buf][2] = __low2float(b); dw[buf][3] = __high2float(b);
            }
#pragma unroll
            for (int i = 0; i < UNR; i++) q[buf][i] = load_stream<PF>(wq + lane + 32 * i);
        } else {
#pragma unroll
            for (int i = 0; i < UNR; i++) {
                int64_t u = ubeg + lane + 32 * i;
                if (u < uend) {
                    q[buf][i] = load_stream<PF>(wq + u);
                    dw[buf][i] = __half2float(ws[u]);
                }
            }
        }
    };
    load(0, rbase);
    pdl_wait();
    __shared__ float part[WARPS];
#pragma unroll
    for (int it = 0; it < ITER; it++) {
        const int buf = it & 1;
        if (it + 1 < ITER) load(buf ^ 1, rbase + it + 1);
        float acc = 0.0f;
#pragma unroll
        for (int i = 0; i < UNR; i++) {
            int64_t u = ubeg + lane + 32 * i;
            if (!SCL && u >= uend) break;
            const int4 *xb = (const int4 *)(xq + 32 * u);
            float2 d2 = __ldg(xds + u);
            int4 x0 = __ldg(xb), x1 = __ldg(xb + 1);
            const uint32_t m4 = 0x0f0f0f0fu;
            const uint4 w = q[buf][i];
            int s = __dp4a((int)(w.x & m4), x0.x, 0);
            s = __dp4a((int)(w.y & m4), x0.y, s);
            s = __dp4a((int)(w.z & m4), x0.z, s);
            s = __dp4a((int)(w.w & m4), x0.w, s);
            s = __dp4a((int)((w.x >> 4) & m4), x1.x, s);
            s = __dp4a((int)((w.y >> 4) & m4), x1.y, s);
            s = __dp4a((int)((w.z >> 4) & m4), x1.z, s);
            s = __dp4a((int)((w.w >> 4) & m4), x1.w, s);
            acc += dw[buf][i] * (d2.x * (float)s - 8.0f * d2.y);
        }
        acc = warp_sum(acc);
        const int64_t row = rbase + it;
        if constexpr (KS > 1) {
            if (lane == 0) part[warp] = acc;
            __syncthreads();
            if (slice == 0 && lane == 0 && row < m) {
                float t = 0;
                for (int w = 0; w < KS; w++) t += part[warp + w];
                y[row] = t;
            }
            __syncthreads();
        } else if (lane == 0 && row < m) {
            y[row] = acc;
        }
    }
}

// A plain streaming read: each thread sums 16-byte loads (UNR in flight).
__global__ void read_kernel(const uint4 *__restrict__ p, int64_t n16, uint32_t *out)
{
    pdl_wait();
    uint32_t acc = 0;
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n16; i += 4 * stride) {
        uint4 a = load_stream<0>(p + i), b = load_stream<0>(p + i + stride);
        uint4 c = load_stream<0>(p + i + 2 * stride), d = load_stream<0>(p + i + 3 * stride);
        acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n16; i += stride) {
        uint4 a = load_stream<0>(p + i);
        acc ^= a.x ^ a.y ^ a.z ^ a.w;
    }
    if (acc == 0x12345678u) *out = acc; // keeps the loads
}

struct shape {
    const char *name;
    int64_t m, k;
};

static const shape shapes[] = {
    {"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate+up", 28672, 4096}, {"down", 4096, 14336}};

// One weight instance in the pool: qs then scales (and the lane-major scales).
struct inst {
    const uint8_t *qs;
    const __half *sc, *scl;
};

static uint8_t *pool;
static size_t pool_bytes;
static int n_sm;

template <typename K>
static void launch(K kernel, unsigned blocks, unsigned threads, cudaStream_t s, const inst &w,
                   int64_t m, int64_t nb, const int8_t *xq, const float2 *xds, float *y, int scl)
{
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = blocks;
    cfg.blockDim = threads;
    cfg.stream = s;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    CK(cudaLaunchKernelEx(&cfg, kernel, w.qs, scl ? w.scl : w.sc, m, nb, xq, xds, y));
}

struct variant {
    const char *name;
    int warps, ks, unr, iter, scl;
    void (*run)(cudaStream_t, const inst &, int64_t, int64_t, const int8_t *, const float2 *, float *);
};

template <int WARPS, int KS, int UNR, int ITER, int SCL, int PF>
static void run_variant(cudaStream_t s, const inst &w, int64_t m, int64_t nb, const int8_t *xq,
                        const float2 *xds, float *y)
{
    constexpr int RPB = WARPS / KS * ITER;
    unsigned blocks = (unsigned)((m + RPB - 1) / RPB);
    launch(lab_kernel<WARPS, KS, UNR, ITER, SCL, PF>, blocks, WARPS * 32, s, w, m, nb, xq, xds, y, SCL);
}

#define V(W, KS, U, IT, S, PF) \
    {"w" #W " ks" #KS " unr" #U " it" #IT " scl" #S " pf" #PF, W, KS, U, IT, S, run_variant<W, KS, U, IT, S, PF>}

// k = 4096: 128 units a row (4 a lane with KS = 1)
static const variant v4096[] = {
    V(4, 1, 4, 1, 0, 0), // today's mmvq_kernel
    V(4, 1, 4, 1, 0, 1), V(8, 1, 4, 1, 0, 0), V(16, 1, 4, 1, 0, 0), V(4, 1, 4, 2, 0, 0),
    V(4, 1, 4, 4, 0, 0), V(8, 1, 4, 2, 0, 0), V(8, 1, 4, 4, 0, 0), V(4, 1, 4, 1, 1, 0),
    V(8, 1, 4, 2, 1, 0), V(4, 2, 2, 1, 0, 0), V(8, 2, 2, 1, 0, 0), V(16, 2, 2, 1, 0, 0),
    V(4, 4, 1, 1, 0, 0), V(8, 4, 1, 1, 0, 0), V(16, 4, 1, 1, 0, 0), V(8, 8, 1, 1, 0, 0),
};
// k = 14336: 448 units a row
static const variant v14336[] = {
    V(4, 2, 8, 1, 0, 0), // today's mmvq_kernel
    V(4, 2, 8, 1, 0, 1), V(8, 2, 8, 1, 0, 0), V(4, 4, 4, 1, 0, 0), V(8, 4, 4, 1, 0, 0),
    V(4, 2, 8, 2, 0, 0), V(8, 2, 8, 2, 0, 0), V(4, 1, 16, 1, 0, 0), V(8, 1, 16, 1, 0, 0),
    V(16, 4, 4, 1, 0, 0), V(8, 8, 2, 1, 0, 0), V(16, 8, 2, 1, 0, 0), V(16, 16, 1, 1, 0, 0),
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd()
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 60;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    n_sm = prop.multiProcessorCount;
    printf("device %s, %d SMs, L2 %d MB\n", prop.name, n_sm, prop.l2CacheSize >> 20);
    pool_bytes = (size_t)1 << 30; // 1 GiB: instances cycle through it, past L2
    CK(cudaMalloc(&pool, pool_bytes + (64 << 20)));
    {
        std::vector<uint64_t> h(pool_bytes / 8);
        for (auto &v : h) v = rnd();
        // the scale region of every instance is overwritten below with sane halves
        CK(cudaMemcpy(pool, h.data(), pool_bytes, cudaMemcpyHostToDevice));
    }
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    uint32_t *dout;
    CK(cudaMalloc(&dout, 4));
    // x: int8 values and (d, s) per block, for the longest k
    const int64_t kmax = 14336;
    int8_t *xq;
    float2 *xds;
    float *y, *y0;
    CK(cudaMalloc(&xq, kmax));
    CK(cudaMalloc(&xds, kmax / 32 * sizeof(float2)));
    CK(cudaMalloc(&y, 32768 * sizeof(float)));
    CK(cudaMalloc(&y0, 32768 * sizeof(float)));
    {
        std::vector<int8_t> hx(kmax);
        std::vector<float2> hd(kmax / 32);
        for (auto &v : hx) v = (int8_t)(rnd() % 255 - 127);
        for (auto &v : hd) v = make_float2(0.01f, 0.0f);
        CK(cudaMemcpy(xq, hx.data(), kmax, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(xds, hd.data(), hd.size() * sizeof(float2), cudaMemcpyHostToDevice));
    }

    // the read-only reference over 256 MB
    {
        int64_t n16 = (256ll << 20) / 16;
        for (int bpm : {4, 8, 16}) {
            unsigned blocks = n_sm * bpm;
            for (int r = 0; r < 3; r++) read_kernel<<<blocks, 256, 0, st>>>((const uint4 *)pool, n16, dout);
            CK(cudaEventRecord(e0, st));
            for (int r = 0; r < 10; r++)
                read_kernel<<<blocks, 256, 0, st>>>((const uint4 *)(pool + (size_t)(r % 3) * (256 << 20)), n16, dout);
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            printf("read 256 MB, %d blocks of 256: %.0f GB/s\n", blocks, 10 * (256.0 * (1 << 20)) / (ms * 1e6));
        }
    }

    for (const shape &sh : shapes) {
        const int64_t nb = sh.k / 32;
        const size_t qbytes = (size_t)sh.m * nb * 16, sbytes = (size_t)sh.m * nb * 2;
        const size_t ibytes = (qbytes + 2 * sbytes + 4095) & ~(size_t)4095;
        const int ninst = (int)(pool_bytes / ibytes);
        std::vector<inst> ws(ninst);
        {
            // sane scales (0.01 +- ), and their lane-major copy
            std::vector<__half> hs(sh.m * nb), hl(sh.m * nb);
            for (auto &v : hs) v = __float2half(0.005f + 0.01f * (float)(rnd() % 1000) / 1000.0f);
            const int UNR = (int)(nb / 32);
            for (int64_t r = 0; r < sh.m; r++)
                for (int64_t u = 0; u < nb; u++) {
                    int64_t lane = u % 32, i = u / 32;
                    hl[r * nb + lane * UNR + i] = hs[r * nb + u];
                }
            for (int i = 0; i < ninst; i++) {
                uint8_t *b = pool + (size_t)i * ibytes;
                ws[i] = {b, (const __half *)(b + qbytes), (const __half *)(b + qbytes + sbytes)};
                CK(cudaMemcpy((void *)ws[i].sc, hs.data(), sbytes, cudaMemcpyHostToDevice));
                CK(cudaMemcpy((void *)ws[i].scl, hl.data(), sbytes, cudaMemcpyHostToDevice));
            }
        }
        const variant *vs = sh.k == 4096 ? v4096 : v14336;
        const int nv = sh.k == 4096 ? sizeof v4096 / sizeof v4096[0] : sizeof v14336 / sizeof v14336[0];
        printf("\n%s: %lld x %lld, %.1f MB a call, %d instances\n", sh.name, (long long)sh.m,
               (long long)sh.k, (qbytes + sbytes) / 1e6, ninst);
        std::vector<float> ref(sh.m), got(sh.m);
        for (int vi = 0; vi < nv; vi++) {
            const variant &v = vs[vi];
            if (v.scl && (v.ks != 1 || nb != 32 * v.unr)) continue;
            v.run(st, ws[0], sh.m, nb, xq, xds, vi == 0 ? y0 : y);
            CK(cudaStreamSynchronize(st));
            CK(cudaMemcpy(vi == 0 ? ref.data() : got.data(), vi == 0 ? y0 : y, sh.m * 4, cudaMemcpyDeviceToHost));
            double maxd = 0;
            if (vi)
                for (int64_t r = 0; r < sh.m; r++)
                    maxd = fmax(maxd, fabs(got[r] - ref[r]) / (fabs(ref[r]) + 1e-3));
            for (int r = 0; r < 5; r++) v.run(st, ws[(r + 1) % ninst], sh.m, nb, xq, xds, y);
            CK(cudaEventRecord(e0, st));
            for (int r = 0; r < reps; r++) v.run(st, ws[r % ninst], sh.m, nb, xq, xds, y);
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            double us = ms * 1e3 / reps;
            printf("  %-28s %8.2f us %7.0f GB/s  %s\n", v.name, us, (qbytes + sbytes) / (us * 1e3),
                   vi == 0 ? "(reference)" : maxd < 1e-3 ? "same y" : "DIFFERENT y");
        }
    }
    CK(cudaGetLastError());
    return 0;
}
