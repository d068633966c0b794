// cuda_gemm.cu: matmul out = x W^T (+ bias), the be_ops entry. Reference:
// ref_matmul (ref_ops.c).
//
// n < CU_GEMM_MIN_N rows: the fused dequantize-and-dot kernels (cuda_mmv.cu),
// which read each weight byte once per call and are bound by memory bandwidth.
// More rows (prefill, batched decode): the work becomes arithmetic, so it goes
// to the tensor cores: packed Q4_0 / Q8_0 of up to CU_MMQ_MAX_N rows to the
// int8 kernel of cuda_mmq.cu (which reads the quantized weight once per call
// instead of dequantizing it; INFERD_CUDA_MMQ=0 sends them here too), the rest
// through cuBLAS. Packed weights of CU_MMF_MIN_N..CU_MMF_MAX_N rows take the
// f16 tensor-core kernel of cuda_mmf.cu before either (INFERD_CUDA_MMF=0 turns
// it off).
// For cuBLAS, x is rounded to f16 once (gemm_x); the weight is used as it is
// when F16, else dequantized to f16 in chunks of rows that fit the fixed gemm_w
// scratch; each chunk is one cublasGemmEx with f32 accumulation
// writing its columns of out. F32 weights run as an f32 GEMM (no rounding).
//
// Layout for cuBLAS (column-major): row-major W (m, k) is the k x m matrix
// A with lda = k; row-major x (n, k) is the k x n matrix B; out (n, m) is the
// m x n matrix C with ldc = m. So C = A^T B: transa = T, transb = N.
#include "backend/cuda/cuda_gemm.cuh"
#include "backend/cuda/cuda_mmf.cuh"
#include "backend/cuda/cuda_mmq.cuh"
#include "backend/cuda/cuda_mmv.cuh"
#include "backend/cuda/cuda_mmvq.cuh"
#include "backend/cuda/cuda_mmvq_k.cuh"
#include "backend/cuda/cuda_ops.cuh"

#include <cstdio>

namespace {

__global__ void to_f16_kernel(__half *dst, const float *src, int64_t cnt)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < cnt) dst[i] = __float2half_rn(src[i]);
}

__global__ void add_bias_kernel(float *y, const float *bias, int64_t m, int64_t cnt)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < cnt) y[i] += bias[i % m];
}

void blas_check(cu_backend *cb, cublasStatus_t st)
{
    if (st != CUBLAS_STATUS_SUCCESS && !cb->err_code) {
        cb->err_code = INF_ERR_INTERNAL;
        snprintf(cb->err_msg, sizeof cb->err_msg, "cuda: cublasGemmEx failed (status %d)", (int)st);
    }
}

void gemm(cu_backend *cb, const cu_tensor *W, const float *x, int64_t n, float *y)
{
    int64_t k = W->info.ne[0], m = cu_rows((const be_tensor *)W);
    const float one = 1.0f, zero = 0.0f;
    if (W->info.type == QT_F32) {
        blas_check(cb, cublasGemmEx(cb->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, (int)n, (int)k,
                                    &one, W->d, CUDA_R_32F, (int)k, x, CUDA_R_32F, (int)k, &zero,
                                    y, CUDA_R_32F, (int)m, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT));
        return;
    }
    INF_ASSERT((size_t)(n * k) <= cb->gemm_x_cap);
    // x is converted once while no op other than a matmul runs (as the int8
    // copy of cuda_mmvq.cu), not again for k, v and up: H100, 8B F16, a prompt
    // of 2,048 tokens in 69.1 ms against 71.4.
    if (!cu_x_copy_holds(cb, cb->gx, x, n, k)) {
        to_f16_kernel<<<cu_blocks(n * k, 256), 256, 0, cb->stream>>>(cb->gemm_x, x, n * k);
        cu_check_launch(cb, "matmul: x to f16");
        cb->mmf.src = nullptr; // cuda_mmf.cu's copy of its x in gemm_x is gone
        cu_x_copy_claim(cb, cb->gx, x, n, k);
    }
    if (W->info.type == QT_F16) {
        blas_check(cb, cublasGemmEx(cb->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, (int)n, (int)k,
                                    &one, W->d, CUDA_R_16F, (int)k, cb->gemm_x, CUDA_R_16F, (int)k,
                                    &zero, y, CUDA_R_32F, (int)m, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT));
        return;
    }
    int64_t chunk = (int64_t)(cb->gemm_w_cap / (size_t)k);
    INF_ASSERT(chunk >= 1);
    if (chunk > m) chunk = m;
    for (int64_t j0 = 0; j0 < m; j0 += chunk) {
        int64_t mc = m - j0 < chunk ? m - j0 : chunk;
        if (W->packed)
            cu_pack_dequant_f16(cb, W, nullptr, j0, mc, cb->gemm_w);
        else
            cu_dequant_rows_f16(cb, W->info.type, (const uint8_t *)W->d + (size_t)j0 * W->row_bytes,
                                W->row_bytes, mc, k, cb->gemm_w);
        blas_check(cb, cublasGemmEx(cb->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)mc, (int)n, (int)k,
                                    &one, cb->gemm_w, CUDA_R_16F, (int)k, cb->gemm_x, CUDA_R_16F,
                                    (int)k, &zero, y + j0, CUDA_R_32F, (int)m, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT));
    }
}

} // namespace

namespace {

int64_t mmq_min_n()
{
    static const int x = cu_env_int("INFERD_CUDA_MMQ_MIN_N", CU_MMQ_MIN_N);
    return x >= 2 && x <= CU_GEMM_MIN_N ? x : CU_MMQ_MIN_N;
}

// Rows from / up to which packed weights take cu_mmf (INFERD_CUDA_MMF_MIN_N,
// INFERD_CUDA_MMF_MAX_N, read once, move them within 2..CU_MMQ_MAX_N for tests
// and measurements).
int64_t mmf_min_n()
{
    static const int x = cu_env_int("INFERD_CUDA_MMF_MIN_N", CU_MMF_MIN_N);
    return x >= 2 && x <= CU_MMQ_MAX_N ? x : CU_MMF_MIN_N;
}

int64_t mmf_max_n()
{
    static const int x = cu_env_int("INFERD_CUDA_MMF_MAX_N", CU_MMF_MAX_N);
    return x >= 2 && x <= CU_MMQ_MAX_N ? x : CU_MMF_MAX_N;
}

bool takes_mmf(const cu_tensor *W, int64_t n)
{
    // (its kernels index a tile of x and the weight's 16-byte pieces with
    // 32-bit offsets: rows of 2^25 values or weights of 32 GiB and more, which
    // only an odd file would have, go to the other kernels)
    const int64_t k = W->info.ne[0], pieces = cu_rows((const be_tensor *)W) * (k / 32) *
                                              (int64_t)(cu_pack_qb(W->info.type) / 16);
    return W->packed && cu_mmf_takes_rows(n) &&
           (int64_t)CU_MMF_TILE_N * k < ((int64_t)1 << 31) && pieces < ((int64_t)1 << 31);
}

// The kernel a matmul of n rows on W takes: the one decision that cu_matmul
// and cu_matmul_takes_mmvq both read.
enum class route { mmf, mmq, mmv, gemm };

route matmul_route(const cu_tensor *W, int64_t n)
{
    if (takes_mmf(W, n)) return route::mmf;
    if (W->packed && n >= mmq_min_n() && n <= CU_MMQ_MAX_N && cu_mmq_enabled()) return route::mmq;
    return n < CU_GEMM_MIN_N ? route::mmv : route::gemm;
}

} // namespace

bool cu_mmf_takes_rows(int64_t n)
{
    return n >= mmf_min_n() && n <= mmf_max_n() && cu_mmf_enabled();
}

// The dp4a kernels (packed and K-quant, behind cu_mmv) and cu_mmf may defer
// their launch to group matmuls.
bool cu_matmul_takes_mmvq(const cu_backend *cb, const cu_tensor *W, int64_t n)
{
    route r = matmul_route(W, n);
    return r == route::mmf || (r == route::mmv && (W->packed || cu_mmvq_k_takes(cb, W, n) ||
                                                    cu_mmv_float_groups(W)));
}

void cu_matmul(be_backend *be, be_tensor *out, const be_tensor *x, const be_tensor *w,
               const be_tensor *bias, int64_t n)
{
    cu_backend *cb = CU_BE(be);
    const cu_tensor *W = CU_CT(w);
    int64_t k = W->info.ne[0], m = cu_rows(w);
    INF_ASSERT(W->weight && !CU_CT(x)->weight && !CU_CT(out)->weight);
    INF_ASSERT(cu_row_len(x) == k && cu_row_len(out) == m && out != x);
    INF_ASSERT(n <= cu_rows(x) && n <= cu_rows(out));
    INF_ASSERT(!bias || (CU_CT(bias)->info.type == QT_F32 && cu_row_len(bias) == m));
    if (n <= 0) return;
    const float *xf = (const float *)CU_CT(x)->d;
    float *yf = (float *)CU_CT(out)->d;
    cu_x_copies_drop(cb, yf);
    const float *bf = bias ? (const float *)CU_CT(bias)->d : nullptr;
    switch (matmul_route(W, n)) {
    case route::mmf: cu_mmf(cb, W, xf, n, yf, bf); return;
    case route::mmq: cu_mmq(cb, W, xf, n, yf, bf); return;
    case route::mmv: cu_mmv(cb, W, xf, n, yf, bf); return;
    case route::gemm: break;
    }
    gemm(cb, W, xf, n, yf);
    if (bf) {
        add_bias_kernel<<<cu_blocks(n * m, 256), 256, 0, cb->stream>>>(yf, bf, m, n * m);
        cu_check_launch(cb, "matmul: bias");
    }
}
