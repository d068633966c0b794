// cuda_attn_decode.cu: attention of a few query rows each (decode) over the
// paged KV pool. Reference: ref_attention (ref_attn.c); the contract is
// be_attention's (backend.h).
//
// Why a kernel of its own: in decode every query row reads its whole context
// once, so the work is the K and V bytes (plus latency), not arithmetic. The
// per-row kernel of cuda_attn.cu scores one key per warp with 2-byte loads and
// folds each tile of 64 keys serially: ~15 us a tile, which at 256 tokens of
// context cost more than the layer's matmuls.
//
// Blocking: one block of 4 warps per (row, KV head, split). The block serves
// every query head of that KV head's group (GQA: the group shares each K and
// V row, so they are read once, not once per head). A key's head row is split
// over L = hd / 8 lanes, 8 values (one 16-byte load of f16/bf16) a lane, so a
// warp holds 32 / L keys at a time and each lane loads the K and V rows of U =
// 2 keys before using them. Each (warp, key slot) keeps an online softmax (running max and
// sum) and its 8 output dims per head in registers; the block merges them in
// shared memory at the end. The keys a row sees (t0..pos) are cut into nsp
// ranges (grid.y) when rows x KV heads alone would leave the GPU idle; the
// ranges' partial results meet in cu_attn_combine, or for up to 8 query rows
// in 2 to 16 ranges within the kernel, a row's ranges launched as one
// thread-block cluster (cluster_merge).
#include "backend/cuda/cuda_attn_decode.cuh"
#include "backend/cuda/cuda_mmf.cuh"

#include <climits>
#include <cmath>

#include <cooperative_groups.h>

namespace {

constexpr int WARPS = 4;
constexpr int U = 2; // keys a lane loads before using them

// 8 values of a head row starting at e0 (a multiple of 8), as float.
template <int DT, int HD>
__device__ __forceinline__ void load8(const uint8_t *row, int e0, float (&v)[8])
{
    if constexpr (DT == BE_KV_F32) {
        float4 a = *(const float4 *)(row + 4 * e0), b = *(const float4 *)(row + 4 * e0 + 16);
        v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z,
        v[7] = b.w;
    } else if constexpr (DT == BE_KV_F16 || DT == BE_KV_BF16) {
        uint4 w = *(const uint4 *)(row + 2 * e0);
        uint32_t u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint16_t lo = (uint16_t)(u[i] & 0xffffu), hi = (uint16_t)(u[i] >> 16);
            v[2 * i] = DT == BE_KV_F16 ? cu_f16(lo) : cu_bf16(lo);
            v[2 * i + 1] = DT == BE_KV_F16 ? cu_f16(hi) : cu_bf16(hi);
        }
    } else {
        // Q8 (HD % 64 == 0: groups of 64, so the 8 values share one scale).
        // Head rows are hd + 2 * hd / 64 bytes apart: only 2-byte aligned.
        const int8_t *q = (const int8_t *)row + e0;
        float s = cu_f16(cu_u16(row + HD + 2 * (e0 / 64)));
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = (float)q[i] * s;
    }
}

struct dec_args : cu_attn_view {
    const float *q;
    float *out, *part;
    int8_t *q8;              // non-null: also round out to int8 for the next matmul
    float2 *q8ds;
    __half *xh;              // non-null: also write out as cu_mmf's f16 copy (cuda_mmf.cuh)
    int early;               // 1: keys before a row's position may be read before the wait
    int cluster;             // 1: the splits of a (row, KV head) are one cluster and merge
                             // in it (cluster_merge), instead of through a.part
};

// The splits of one (row, KV head), launched as one thread-block cluster
// (grid.y = cluster size = nsp), merge their partial results through
// distributed shared memory: each block has left its (max, sum) per head in
// cm / cs and its unnormalised output rows in co; block r's warps then finish
// 32-value pieces r * WARPS + warp, r * WARPS + warp + nsp * WARPS, ... of the
// group's outputs (a warp holds one int8 block: the output projection's x is
// rounded here as by attn_combine_kernel). This saves the combine kernel, a
// dependent launch in every layer of a decode step. Only launched where the GPU
// has clusters (max_cluster), so a build for older GPUs compiles it empty.
template <int HD>
__device__ void cluster_merge(const dec_args &a, int row, int g, const float *cm, const float *cs,
                              const float *co, int co_stride)
{
#if CU_HAS_CLUSTERS
    namespace cg = cooperative_groups;
    cg::cluster_group cl = cg::this_cluster();
    cl.sync(); // every split's results are in its shared memory
    const int nsp = (int)cl.num_blocks(), rank = (int)cl.block_rank();
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int pieces = a.group * HD / 32;
    for (int c = rank * WARPS + warp; c < pieces; c += nsp * WARPS) {
        const int i = c * 32 + lane, h = i / HD, e = i % HD;
        float M = -INFINITY;
        for (int r = 0; r < nsp; r++) M = fmaxf(M, *cl.map_shared_rank(cm + h, r));
        float S = 0.0f, O = 0.0f;
        for (int r = 0; r < nsp; r++) {
            float mr = *cl.map_shared_rank(cm + h, r);
            if (mr == -INFINITY) continue; // a split that saw no key
            float w = expf(mr - M);
            S += *cl.map_shared_rank(cs + h, r) * w;
            O += *cl.map_shared_rank(co + h * co_stride + e, r) * w;
        }
        const int64_t unit = (int64_t)row * a.n_head + g * a.group + h;
        const float o = O / S;
        a.out[unit * HD + e] = o;
        if (a.q8) cu_q8_round_warp(o, unit * HD + e, a.q8, a.q8ds);
        if (a.xh) cu_mmf_x_store(a.xh, unit * HD + e, o);
    }
    cl.sync(); // no block leaves while another still reads its shared memory
#endif
}

// GM: the group size rounded up to a power of two (registers are sized by it).
// Groups up to 4 are held to 128 registers, 4 blocks an SM: at 64 rows of an
// 8B model the 512 blocks are then one wave (at 133 registers, 3 blocks an SM,
// they were two: engine_bench at 64 sequences 7,575 -> 8,604 tok/s on an H100).
template <int DT, int HD, int GM>
__global__ void __launch_bounds__(WARPS * 32, GM <= 4 ? 4 : 1) attn_decode_kernel(dec_args a)
{
    constexpr int L = HD / 8;          // lanes a key
    constexpr int KPW = 32 / L;        // keys a warp holds at once
    constexpr int NSUB = WARPS * KPW;  // key slots of the block
    __shared__ float sm_m[NSUB][GM], sm_s[NSUB][GM];
    __shared__ float sm_acc[NSUB][GM][HD];
    __shared__ float cl_m[GM], cl_s[GM]; // a.cluster: this split's (max, sum) per head

    // Before the wait for the kernel before (RoPE and the KV write, which
    // writes q and this step's key and value rows): the step's positions and
    // block tables, uploaded before its first kernel, and with a.early (one
    // query row, so this step writes no key before its position) the first
    // pass's keys and values that lie before the position, written by earlier
    // steps (cuda_common.cuh: every kernel before the one just before has
    // finished by then).
    const int row = blockIdx.x / a.hkv, g = blockIdx.x % a.hkv;
    const int sp = blockIdx.y, nsp = gridDim.y;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int sub = lane / L, li = lane % L, slot = warp * KPW + sub;
    const int e0 = li * 8;
    const int p = a.pos[row], s = a.seq[row];
    const int t0 = a.window > 0 && p - a.window + 1 > 0 ? p - a.window + 1 : 0;
    const int len = p - t0 + 1, sz = (len + nsp - 1) / nsp;
    const int ta = t0 + sp * sz, tb = min(p + 1, ta + sz);
    const int32_t *tbl = a.blocks + a.block_off[s];

    // A pass covers the warp's KPW * U keys from tw; a lane loads the 8 values
    // at e0 of its U keys' K and V rows (keys past the range are loaded, then
    // masked). fetched[u]: key u's rows are loaded.
    float kf[U][8], vf[U][8];
    size_t hr[U];
    bool fetched[U];
    auto fetch = [&](int tw, int before) {
        const int t = tw + sub * U;
#pragma unroll
        for (int u = 0; u < U; u++) {
            int tt = min(t + u, tb - 1);
            hr[u] = ((size_t)tbl[tt / a.B] * a.B + tt % a.B) * a.hkv + g;
            fetched[u] = tt < before;
            if (fetched[u]) {
                load8<DT, HD>(a.k + hr[u] * a.krb, e0, kf[u]);
                load8<DT, HD>(a.v + hr[u] * a.vrb, e0, vf[u]);
            }
        }
    };
    int tw = ta + warp * KPW * U;
    if (tw < tb) fetch(tw, a.early ? p : INT_MIN);
    cu_pdl_wait();

    float qv[GM][8];
#pragma unroll
    for (int h = 0; h < GM; h++) {
        if (h < a.group) {
            const float *qr = a.q + ((int64_t)row * a.n_head + g * a.group + h) * HD + e0;
            float4 x0 = *(const float4 *)qr, x1 = *(const float4 *)(qr + 4);
            qv[h][0] = x0.x, qv[h][1] = x0.y, qv[h][2] = x0.z, qv[h][3] = x0.w;
            qv[h][4] = x1.x, qv[h][5] = x1.y, qv[h][6] = x1.z, qv[h][7] = x1.w;
        } else {
#pragma unroll
            for (int e = 0; e < 8; e++) qv[h][e] = 0.0f;
        }
    }
    float m[GM], sum[GM], acc[GM][8];
#pragma unroll
    for (int h = 0; h < GM; h++) {
        m[h] = -INFINITY;
        sum[h] = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; e++) acc[h][e] = 0.0f;
    }

    // The loop runs the same passes on every lane of a warp (the score sums
    // shuffle across the warp's key slots).
    for (bool first = true; tw < tb; tw += NSUB * U, first = false) {
        const int t = tw + sub * U;
        if (!first) fetch(tw, INT_MAX);
#pragma unroll
        for (int u = 0; u < U; u++)
            if (!fetched[u]) {
                load8<DT, HD>(a.k + hr[u] * a.krb, e0, kf[u]);
                load8<DT, HD>(a.v + hr[u] * a.vrb, e0, vf[u]);
            }
        float sc[U][GM];
#pragma unroll
        for (int u = 0; u < U; u++) {
#pragma unroll
            for (int h = 0; h < GM; h++) {
                float d = 0.0f;
#pragma unroll
                for (int e = 0; e < 8; e++) d += qv[h][e] * kf[u][e];
#pragma unroll
                for (int o = L / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
                d *= a.scale;
                if (a.softcap > 0) d = a.softcap * tanhf(d / a.softcap);
                sc[u][h] = t + u < tb ? d : -INFINITY;
            }
        }
#pragma unroll
        for (int h = 0; h < GM; h++) {
            float nm = m[h];
#pragma unroll
            for (int u = 0; u < U; u++) nm = fmaxf(nm, sc[u][h]);
            if (nm == -INFINITY) continue; // no key of this slot yet (all masked)
            float corr = expf(m[h] - nm); // 0 on the first keys (m = -inf)
            sum[h] *= corr;
#pragma unroll
            for (int e = 0; e < 8; e++) acc[h][e] *= corr;
#pragma unroll
            for (int u = 0; u < U; u++) {
                float pu = expf(sc[u][h] - nm); // 0 for a masked key
                sum[h] += pu;
#pragma unroll
                for (int e = 0; e < 8; e++) acc[h][e] += pu * vf[u][e];
            }
            m[h] = nm;
        }
    }

    // Merge the key slots: every slot's (max, sum, acc) into shared memory.
#pragma unroll
    for (int h = 0; h < GM; h++) {
        if (li == 0) {
            sm_m[slot][h] = m[h];
            sm_s[slot][h] = sum[h];
        }
#pragma unroll
        for (int e = 0; e < 8; e++) sm_acc[slot][h][e0 + e] = acc[h][e];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < a.group * HD; i += WARPS * 32) {
        int h = i / HD, e = i % HD;
        float M = -INFINITY;
#pragma unroll
        for (int k = 0; k < NSUB; k++) M = fmaxf(M, sm_m[k][h]);
        float S = 0.0f, O = 0.0f;
        if (M > -INFINITY) {
#pragma unroll
            for (int k = 0; k < NSUB; k++) {
                float w = expf(sm_m[k][h] - M); // 0 for a slot that saw no key
                S += sm_s[k][h] * w;
                O += sm_acc[k][h][e] * w;
            }
        }
        int64_t unit = (int64_t)row * a.n_head + g * a.group + h;
        if (nsp == 1) {
            float o = O / S;
            a.out[unit * HD + e] = o;
            // a warp holds 32 consecutive values of one head: one int8 block
            if (a.q8) cu_q8_round_warp(o, unit * HD + e, a.q8, a.q8ds);
            if (a.xh) cu_mmf_x_store(a.xh, unit * HD + e, o);
        } else if (a.cluster) {
            // slot 0's row of (h, e) is read above by this thread only
            sm_acc[0][h][e] = O;
            if (e == 0) {
                cl_m[h] = M;
                cl_s[h] = S;
            }
        } else {
            float *pp = a.part + ((size_t)unit * nsp + sp) * (HD + 2);
            if (e == 0) {
                pp[0] = M;
                pp[1] = S;
            }
            pp[2 + e] = O;
        }
    }
    if (a.cluster) cluster_merge<HD>(a, row, g, cl_m, cl_s, &sm_acc[0][0][0], HD);
}

// The largest cluster (a power of two up to 16) this instance can be launched
// in, found once: 16 needs the non-portable size allowed, and a cluster must
// fit the SMs of one GPU processing cluster. 1 where none (cb->clusters).
template <int DT, int HD, int GM>
int max_cluster(cu_backend *cb)
{
    static int best = -1;
    if (best >= 0) return best;
    best = 1;
    if (!cb->clusters) return best;
    auto k = attn_decode_kernel<DT, HD, GM>;
    if (cudaFuncSetAttribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) != cudaSuccess) {
        cudaGetLastError();
        return best;
    }
    for (int c = 16; c >= 2; c /= 2) {
        cudaLaunchAttribute attr;
        attr.id = cudaLaunchAttributeClusterDimension;
        attr.val.clusterDim.x = 1;
        attr.val.clusterDim.y = (unsigned)c;
        attr.val.clusterDim.z = 1;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(1, (unsigned)c, 1);
        cfg.blockDim = WARPS * 32;
        cfg.stream = cb->stream;
        cfg.attrs = &attr;
        cfg.numAttrs = 1;
        int n = 0;
        if (cudaOccupancyMaxActiveClusters(&n, k, &cfg) == cudaSuccess && n > 0) {
            best = c;
            break;
        }
        cudaGetLastError();
    }
    return best;
}

// Launches the kernel; true when its splits merged in a cluster (no combine:
// a.cluster on entry says whether that may be tried).
template <int DT, int HD, int GM>
bool launch(cu_backend *cb, dim3 grid, dec_args a)
{
    auto k = attn_decode_kernel<DT, HD, GM>;
    a.cluster = a.cluster && grid.y > 1 && (int)grid.y <= max_cluster<DT, HD, GM>(cb);
    cu_launch_cluster(cb, k, grid, WARPS * 32, 0, dim3(1, a.cluster ? grid.y : 1, 1), a);
    return a.cluster;
}

template <int DT, int HD>
bool launch_group(cu_backend *cb, dim3 grid, const dec_args &a)
{
    if (a.group == 1) return launch<DT, HD, 1>(cb, grid, a);
    if (a.group == 2) return launch<DT, HD, 2>(cb, grid, a);
    if (a.group <= 4) return launch<DT, HD, 4>(cb, grid, a);
    return launch<DT, HD, 8>(cb, grid, a);
}

template <int DT>
bool launch_hd(cu_backend *cb, int hd, dim3 grid, const dec_args &a)
{
    if (hd == 64) return launch_group<DT, 64>(cb, grid, a);
    if (hd == 128) return launch_group<DT, 128>(cb, grid, a);
    return launch_group<DT, 256>(cb, grid, a);
}

} // namespace

bool cu_attn_decode(cu_backend *cb, float *out, const float *q, const cu_kv *kv, const be_attn *p,
                    int64_t n)
{
    const be_kv_config *c = &kv->cfg;
    int hd = p->head_dim_k, group = p->n_head / p->n_kv_head;
    if (n > CU_ATTN_DECODE_MAX_ROWS || hd != p->head_dim_v || group > 8 ||
        (hd != 64 && hd != 128 && hd != 256))
        return false;
    dec_args a;
    static_cast<cu_attn_view &>(a) = cu_attn_view_of(cb, kv, p);
    a.q = q;
    a.out = out;
    a.part = cb->attn_part;
    // The output is the x of the output projection: its copies for that matmul
    // are written on the way (int8, and f16 at 5..64 rows: cu_x_outs_for).
    int64_t width = (int64_t)p->n_head * hd;
    const cu_x_outs xo = cu_x_outs_for(cb, n, width);
    a.q8 = xo.q8;
    a.q8ds = xo.q8ds;
    a.xh = xo.xh;
    // INFERD_CUDA_ATTN_EARLY=0 (read once): no read of keys before the wait.
    static const bool early = cu_env_int("INFERD_CUDA_ATTN_EARLY", 1) != 0;
    a.early = early && n == 1;

    // Split the keys when rows x KV heads leave the GPU idle, at least
    // min_keys a split (32; INFERD_CUDA_ATTN_SPLIT_KEYS, read once, sets it);
    // the count follows kv_cap (a power-of-two bucket of the longest context),
    // so that a recorded step replays unchanged as contexts grow. 32 against
    // 64 on an H100, 8B Q4_0: one row at 128..256 tokens (engine_bench)
    // 428.4 / 428.5 -> 447.4 / 447.8 tok/s, 4 rows 1,382.9 / 1,382.3 ->
    // 1,409.2 / 1,406.5; tg128 after 512 tokens 446.1 / 452.2 -> 458.3 /
    // 453.6, after 2048 450.8 -> 457.2 (16 keys: 451.7 at 128..256 tokens,
    // but 443.9 / 444.0 and 442.7 at the longer contexts).
    static const int env_keys = cu_env_int("INFERD_CUDA_ATTN_SPLIT_KEYS", 32);
    const int min_keys = env_keys > 0 ? env_keys : 32;
    int64_t units = n * c->n_kv_head;
    int64_t kv_len = cb->batch.kv_cap;
    if (p->window > 0 && kv_len > p->window) kv_len = p->window;
    int64_t nsp = 1;
    if (units < 264) {
        nsp = (264 + units - 1) / units;
        int64_t by_len = (kv_len + min_keys - 1) / min_keys;
        if (nsp > by_len) nsp = by_len;
        int64_t by_mem = (int64_t)(cb->attn_part_cap / ((size_t)n * p->n_head * (hd + 2)));
        if (nsp > by_mem) nsp = by_mem;
        if (nsp < 1) nsp = 1;
    }
    dim3 grid((unsigned)units, (unsigned)nsp);
    // The splits merge in a cluster for up to 8 query rows. Measured on an
    // H100, 8B Q4_0: one row (tg128) 451.3 / 450.7 -> 455.0 / 455.0 tok/s, 1B
    // 1657 / 1660 -> 1702 / 1705; 2 / 3 / 4 / 8 rows (engine_bench, against
    // one row only) 791.0 / 1,113.9 / 1,362.5 / 2,432.6 and 790.8 / 1,112.5 /
    // 1,364.5 / 2,434.2 -> 809.9 / 1,134.3 / 1,375.9 / 2,465.9 and 811.2 /
    // 1,133.5 / 1,372.9 / 2,475.2; but 16 rows 3816 / 3829 -> 3495 / 3487,
    // their 384 blocks in clusters of 3 waiting on each other.
    // INFERD_CUDA_ATTN_CLUSTER_ROWS (read once) sets the most rows, for
    // measurements.
    static const int cluster_rows = cu_env_int("INFERD_CUDA_ATTN_CLUSTER_ROWS", 8);
    a.cluster = n <= cluster_rows;
    bool merged = false;
    switch (c->dtype) {
    case BE_KV_F32: merged = launch_hd<BE_KV_F32>(cb, hd, grid, a); break;
    case BE_KV_F16: merged = launch_hd<BE_KV_F16>(cb, hd, grid, a); break;
    case BE_KV_BF16: merged = launch_hd<BE_KV_BF16>(cb, hd, grid, a); break;
    case BE_KV_Q8: merged = launch_hd<BE_KV_Q8>(cb, hd, grid, a); break;
    }
    cu_check_launch(cb, "attention (decode)");
    if (nsp > 1 && !merged)
        cu_attn_combine(cb, out, cb->attn_part, n * p->n_head, (int)nsp, hd, a.q8, a.q8ds, a.xh);
    cu_x_outs_claim(cb, xo, out, n, width);
    return true;
}
