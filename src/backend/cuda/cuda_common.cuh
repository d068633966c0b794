// cuda_common.cuh: what every file of the CUDA backend shares — the backend,
// tensor and KV pool structs, the error recording of asynchronous work, and the
// small device helpers (f16/bf16 bits, warp sums). C++ only; CPU files see the
// backend through cuda_backend.h.
//
// Storage layouts (the same as ref.h describes, so tests compare byte for byte):
//   weight      the GGUF bytes copied once to the device, row r at
//               d + r * row_bytes (quant_row_size(type, ne[0]) bytes per row)
//   activation  F32, row-major, rows of ne[0] floats
//   KV pool     per layer l, block b, slot s, KV head g, one head row at
//               k + (((l * n_blocks + b) * B + s) * hkv + g) * k_row_bytes;
//               Q8 head rows are hd int8 followed by hd / G f16 scales.
// Dimension letters as in backend.h: n rows, d width, h heads, hkv KV heads,
// hd / hdv head dims, m output features, k input features, B block size.
#ifndef INFERD_CUDA_COMMON_CUH
#define INFERD_CUDA_COMMON_CUH

#include <cstddef>
#include <cstdlib>
#include <cstdint>

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend.h"
#include "quant/quant.h"
}

struct cu_tensor {
    be_tensor_info info;   // first: be_tensor_info_of reads it
    void *d;               // device memory: weights as GGUF stores them, activations F32
    size_t row_bytes;      // bytes of one GGUF row of ne[0] values
    bool weight;
    bool packed;           // Q4_0 / Q8_0 in the packed layout of cuda_mmvq.cuh
};

struct cu_kv {
    be_kv_config cfg;      // first: be_kv_config_of reads it
    uint8_t *k;            // (L, n_blocks, B, hkv) head rows of k_row_bytes
    uint8_t *v;            // (L, n_blocks, B, hkv) head rows of v_row_bytes
    size_t k_row_bytes, v_row_bytes;
};

// The step's batch on the device: one allocation holding every index array, so
// that the pointers stay fixed from step to step (a step can be captured as a
// graph). Host copies of the counts pick launch shapes; kv_cap is the longest
// kv_len rounded up to a power of two (at least 256), so that launch shapes
// depend on a bucket of lengths rather than on the length itself.
struct cu_batch {
    int32_t n, n_seq, n_out, kv_cap;
    int32_t *token, *pos, *seq, *out_rows;   // (n), (n), (n), (n_out): device
    int32_t *kv_len, *block_off, *blocks;    // (n_seq), (n_seq), (sum of tables): device
    int32_t *d_all;                          // the one device allocation
    int32_t *h_all;                          // pinned staging of the same size
    size_t cap;                              // int32 entries of d_all / h_all
    cudaEvent_t uploaded;                    // h_all may be rewritten once this fired
};

// A recorded step (cuda_graph.cu): its key and the executable graph.
struct cu_graph_slot {
    uint64_t key;
    cudaGraphExec_t exec;  // nullptr: free slot
    uint64_t used;         // graph_clock at its last replay (least recent goes first)
};

#define CU_GRAPH_SLOTS 48
#define CU_GRAPH_SEEN 64   // step shapes seen once, not yet recorded

// Decode matmuls on one x not yet launched (cuda_mmvq.cu): launched together.
#define CU_MM_GROUP 3

// One matmul of a grouped decode launch (cuda_mmvq.cu, cuda_mmvq_k.cu,
// cuda_mmv.cu, cuda_mmf.cu), W the kernel's view of the weight's bytes; a
// kernel that needs more derives from it. A kernel picks its block's member by
// constant indices (a run-time index into the parameter array copies it to
// each thread's stack: local memory).
template <typename W>
struct cu_mm_seg {
    const W *w;           // the weight's rows (packed: their quants, cuda_mmvq.cuh)
    float *y;             // row r of x -> y + r * m
    const float *bias;
    int64_t m;            // rows
    int64_t blk0;         // blocks of the grid before this one's
};

// The matmuls of one launch, cnt of them used.
template <typename S>
struct cu_mm_segs {
    S s[CU_MM_GROUP];
    int cnt;
};
struct cu_mm_group {
    const cu_tensor *w[CU_MM_GROUP];
    float *y[CU_MM_GROUP];
    const float *bias[CU_MM_GROUP];
    int cnt;               // 0: none pending
    const float *x;
    int64_t n, k;
    uint32_t type;
    bool f16;              // the f16 tensor-core kernel's rows (cuda_mmf.cu), not dp4a
};

// A copy of an activation x made for matmuls (x rounded to int8, or to f16),
// kept while it still holds that x: rows [0, n) of width k at src, and no op
// other than a matmul ran since (gen == the backend's op_gen). Matmuls on one
// x (q, k, v; gate, up) then make it once. cu_x_copy_holds / cu_x_copy_claim.
struct cu_x_copy {
    const float *src;      // nullptr: holds nothing
    int64_t n, k;
    uint64_t gen;
};

// One layer of the paged KV pool and the step's batch, as every attention
// kernel reads them (cuda_attn.cu, cuda_attn_decode.cu, cuda_fattn.cu each
// derive their launch arguments from it).
struct cu_attn_view {
    const uint8_t *k, *v;      // the layer's first head row
    size_t krb, vrb;           // bytes of a head row
    int B, hkv, group, n_head, window;
    float scale, softcap;
    const int32_t *pos, *seq, *block_off, *blocks;
};


// RoPE angles' parameters as the kernels take them (cuda_attn.cu).
struct cu_rope_args {
    int mode, n_dims;
    double base, freq_scale, ext_factor, attn_factor, lo, hi;
};

// RoPE of up to two tensors (q, then k) not yet launched (cuda_attn.cu): when
// the KV write of that k comes next, one kernel ropes both and stores k and v.
struct cu_pending_rope {
    float *x[2];
    int64_t ld[2];
    int n_head[2];
    int cnt;               // 0: none pending
    int head_dim;
    int64_t n;
    cu_rope_args a;
    const float *ff;
};

// A residual add not yet launched (cuda_ops.cu): out = a + b over n rows of d.
struct cu_pending_add {
    float *out;            // nullptr: none pending
    const float *a, *b;
    int64_t n, d;
};

struct cu_backend {
    be_backend base;       // first
    int device;
    int n_sm;              // its SMs (grid sizing)
    cudaStream_t stream;
    cublasHandle_t blas;
    cu_batch batch;
    // Prefill matmul scratch: activations as f16 (sized by the largest
    // activation tensor), dequantized weight rows as f16 (a fixed chunk).
    __half *gemm_x;
    size_t gemm_x_cap;     // halves
    __half *gemm_w;
    size_t gemm_w_cap;     // halves
    // Attention partial results of split contexts (fixed size, see cuda_attn.cu).
    float *attn_part;
    size_t attn_part_cap;  // floats
    // Decode matmul on packed weights: x rounded to int8 (q8_x, q8_cap values)
    // with (d, d * sum) per 32 values (q8_ds), whose x q8 says (cuda_mmvq.cu).
    int8_t *q8_x;
    float2 *q8_ds;
    size_t q8_cap;
    cu_x_copy q8;
    uint64_t op_gen;       // bumped by every op other than matmul (cu_ops)
    // gemm_x holds x as f16 either in the k order of the f16 tensor-core matmul
    // (mmf, cuda_mmf.cu) or in the plain one of the cuBLAS path (gx,
    // cuda_gemm.cu); whichever writes it drops the other's claim.
    cu_x_copy mmf, gx;
    cu_pending_add padd;   // see cu_flush_add
    cu_mm_group pmm;       // see cu_mmvq_flush
    cu_pending_rope prope; // see cu_flush_rope
    // Pinned host memory for be_read.
    float *h_read;
    size_t h_read_cap;     // floats
    // be_argmax's ids on the device and in pinned memory.
    int32_t *d_ids, *h_ids;
    size_t ids_cap;
    // Recorded steps (cuda_graph.cu), dropped whenever memory that a recording
    // points at may move (cu_graph_reset).
    cu_graph_slot graphs[CU_GRAPH_SLOTS];
    uint64_t graph_clock;
    uint64_t graph_key;    // of the step being recorded
    uint64_t graph_seen[CU_GRAPH_SEEN]; // keys run once op by op (a ring)
    uint32_t graph_seen_next;
    uint64_t graph_recorded, graph_replayed; // be_cuda_graph_counts
    uint64_t mmf_x_converted; // x-to-f16 conversion launches of cu_mmf (be_cuda_mmf_x_conversions)
    bool graph_recording;
    bool graph_off;        // INFERD_CUDA_GRAPHS=0, or a recording failed
    void *blas_ws;         // cuBLAS workspace, fixed so that recordings can hold it
    bool pdl;              // cu_launch overlaps kernels (INFERD_CUDA_PDL, default on)
    bool clusters;         // thread-block clusters (sm_90 on; INFERD_CUDA_CLUSTERS=0 off)
    // First failure of enqueued work, reported at the next read / sync.
    int err_code;
    char err_msg[256];
};

#define CU_BE(be) ((cu_backend *)(be))
#define CU_T(t) ((cu_tensor *)(t))
#define CU_CT(t) ((const cu_tensor *)(t))

// Whether n rows of width d can also be rounded to int8 for the next matmul,
// by the op that makes them (cb->q8_x: one scale per 32 values).
static inline bool cu_q8_fits(const cu_backend *cb, int64_t n, int64_t d)
{
    return d % 32 == 0 && (size_t)(n * d) <= cb->q8_cap;
}

// A matmul is about to write y: the copies made of what y held are stale.
static inline void cu_x_copies_drop(cu_backend *cb, const float *y)
{
    for (cu_x_copy *c : {&cb->q8, &cb->mmf, &cb->gx})
        if (c->src == y) c->src = nullptr;
}

// Whether copy c still holds rows [0, n) of width k of x.
static inline bool cu_x_copy_holds(const cu_backend *cb, const cu_x_copy &c, const float *x,
                                   int64_t n, int64_t k)
{
    return c.src == x && c.n >= n && c.k == k && c.gen == cb->op_gen;
}

// Copy c now holds rows [0, n) of width k of x.
static inline void cu_x_copy_claim(const cu_backend *cb, cu_x_copy &c, const float *x, int64_t n,
                                   int64_t k)
{
    c = {x, n, k, cb->op_gen};
}

// The attention view of layer p->layer of kv for the batch cb holds (cuda_attn.cu).
cu_attn_view cu_attn_view_of(const cu_backend *cb, const cu_kv *kv, const be_attn *p);

// Records the first failure of a launch or of asynchronous work.
void cu_record(cu_backend *cb, cudaError_t e, const char *what);

// Step recording (cuda_graph.cu): the be_ops entries, and the reset that every
// (re)allocation of memory a recording may point at must call.
int cu_graph_begin(be_backend *be, uint64_t key);
int cu_graph_end(be_backend *be, inf_error *err);
void cu_graph_reset(cu_backend *cb);

// The integer value of an environment switch (INFERD_CUDA_*: escape hatches and
// measurement knobs, docs/cuda.md), or dflt when it is unset or not a number.
// Callers read it once and keep it.
static inline int cu_env_int(const char *name, int dflt)
{
    const char *e = getenv(name);
    char *end;
    long v = e ? strtol(e, &end, 10) : 0;
    return e && *e && !*end ? (int)v : dflt;
}

// Checks the last launch (no synchronisation).
static inline void cu_check_launch(cu_backend *cb, const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) cu_record(cb, e, what);
}

// Row length and row capacity (backend.c has the same, but this library must not
// need inferd_backend's objects: it is linked after them).
static inline int64_t cu_row_len(const be_tensor *t)
{
    return be_tensor_info_of(t)->ne[0];
}

static inline int64_t cu_rows(const be_tensor *t)
{
    const be_tensor_info *in = be_tensor_info_of(t);
    return in->ne[1] * in->ne[2] * in->ne[3];
}

static inline int32_t cu_q8_group(int32_t hd)
{
    return hd % 64 == 0 ? 64 : hd;
}

// Lets kernel take `bytes` of dynamic shared memory: above 48 KiB a kernel
// must opt in (once is enough). Callers keep the result in a function-local
// static, so the attribute is set once per kernel and thread-safely.
template <typename K>
static inline cudaError_t cu_smem_opt_in(K kernel, size_t bytes)
{
    if (bytes <= 48 * 1024) return cudaSuccess;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
}

static inline unsigned cu_blocks(int64_t count, int threads)
{
    return (unsigned)((count + threads - 1) / threads);
}

// ---- overlapped launches (programmatic dependent launch) ----
// A decode step is ~330 kernels of 2-20 us each; between two of them the GPU
// drains the first (its last blocks run on a few SMs) and ramps the second up
// (launch, block scheduling, the first loads' latency): about 1-2 us a pair,
// a large share of an 8B decode step. cu_launch lets a kernel's blocks start
// while the kernel before it on the stream still runs: they take SMs as that
// one's blocks leave, read what does not depend on it (weights), and then
// wait in cu_pdl_wait until it has finished and its writes are visible.
//
// The contract of a kernel started by cu_launch: before cu_pdl_wait it writes
// nothing and reads only memory that the kernel just before it does not write
// (weights, launch arguments, the step's batch tables; the decode attention's
// keys of earlier steps). A kernel started by a plain <<<>>> launch, or one
// that never calls cu_pdl_wait, may not be started by cu_launch. cu_pdl_wait
// also lets the kernel after this one start early (it is called once this
// kernel's own inputs are ready, so at most two kernels overlap): when a
// kernel starts, every kernel before the one just before it has finished, and
// a copy on the stream (the step's batch upload) waits for all of them.
// Without the launch attribute (INFERD_CUDA_PDL=0, or before sm_90)
// cu_pdl_wait returns at once.
__device__ __forceinline__ void cu_pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// kernel<<<grid, block, smem, cb->stream>>>(args...), allowed to overlap the
// kernel before it when cb->pdl (see above), its blocks grouped into
// thread-block clusters of `cluster` blocks unless that is 1 x 1 x 1 (callers
// ask for clusters only where cb->clusters; the kernels' cluster code is
// compiled for sm_90 on, CU_HAS_CLUSTERS). Errors surface through
// cu_check_launch as for a plain launch.
template <typename... P, typename... A>
static inline void cu_launch_cluster(cu_backend *cb, void (*kernel)(P...), dim3 grid, dim3 block,
                                     size_t smem, dim3 cluster, A &&...args)
{
    cudaLaunchAttribute attr[2];
    unsigned na = 0;
    if (cluster.x * cluster.y * cluster.z > 1) {
        attr[na].id = cudaLaunchAttributeClusterDimension;
        attr[na].val.clusterDim.x = cluster.x;
        attr[na].val.clusterDim.y = cluster.y;
        attr[na].val.clusterDim.z = cluster.z;
        na++;
    }
    if (cb->pdl) {
        attr[na].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attr[na].val.programmaticStreamSerializationAllowed = 1;
        na++;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = cb->stream;
    cfg.attrs = attr;
    cfg.numAttrs = na;
    cudaLaunchKernelEx(&cfg, kernel, static_cast<A &&>(args)...);
}

template <typename... P, typename... A>
static inline void cu_launch(cu_backend *cb, void (*kernel)(P...), dim3 grid, dim3 block,
                             size_t smem, A &&...args)
{
    cu_launch_cluster(cb, kernel, grid, block, smem, dim3(1, 1, 1), static_cast<A &&>(args)...);
}

// Device code for thread-block clusters (cooperative_groups::cluster_group)
// exists from sm_90 on; a build for older GPUs compiles the paths without it.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define CU_HAS_CLUSTERS 1
#else
#define CU_HAS_CLUSTERS 0
#endif

// ---- device helpers ----

__device__ __forceinline__ float cu_f16(uint16_t h)
{
    return __half2float(__ushort_as_half(h));
}

__device__ __forceinline__ float cu_bf16(uint16_t h)
{
    return __uint_as_float((uint32_t)h << 16);
}

// A little-endian u16 at any even address.
__device__ __forceinline__ uint16_t cu_u16(const uint8_t *p)
{
    return *(const uint16_t *)p;
}

// 16 bytes of a stream read once (weights): not kept in L1.
__device__ __forceinline__ uint4 cu_load_stream(const uint4 *p)
{
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

__device__ __forceinline__ float cu_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float cu_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The accumulators of a warp's MT x NT m16n8 mma tiles, starting at (row0,
// col0) of an m x n output: element e of acc[i][jn] of lane 4 g + t lies at row
// row0 + 16 i + g + 8 (e / 2), column col0 + 8 jn + 2 t + e % 2 (the PTX
// fragment layout). f(row, col, value) for each inside the output.
template <int MT, int NT, typename F>
__device__ __forceinline__ void cu_mma_acc_each(const float (&acc)[MT][NT][4], int64_t row0,
                                                int64_t col0, int64_t m, int64_t n, int lane, F f)
{
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int jn = 0; jn < NT; jn++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int64_t row = row0 + 16 * i + g + 8 * (e >> 1);
                const int64_t col = col0 + 8 * jn + 2 * t + (e & 1);
                if (row < m && col < n) f(row, col, acc[i][jn][e]);
            }
}

// Rounds value v, held by one lane of a warp whose 32 lanes hold 32 consecutive
// values of a row, i.e. one int8 block (i = the value's index in the tensor),
// for the decode matmul: the same rounding as q8_x_kernel (cuda_mmvq.cu), so
// that a matmul may use either. All 32 lanes must call it.
__device__ __forceinline__ void cu_q8_round_warp(float v, int64_t i, int8_t *q, float2 *ds)
{
    float amax = cu_warp_max(fabsf(v));
    float d = amax / 127.0f;
    int qi = amax == 0.0f ? 0 : __float2int_rn(v / d);
    q[i] = (int8_t)qi;
    int sum = __reduce_add_sync(0xffffffffu, qi);
    if (i % 32 == 0) ds[i / 32] = make_float2(d, d * (float)sum);
}

#endif
