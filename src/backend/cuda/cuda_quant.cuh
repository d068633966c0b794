// cuda_quant.cuh: device dequantization of the weight formats, one "unit" of
// 32 consecutive values at a time, from the GGUF block layouts of quant/blocks.h.
// The reference is quant_dequantize (src/quant/); test_cuda_ops compares every
// format through embed (whole rows) and matmul.
//
// A row of k values of a block format is k / QK blocks of BYTES bytes; unit u of
// the row is sub-unit u % UNITS of block u / UNITS (UNITS = QK / 32: 1 for the
// classic formats, 8 for the K formats' super-blocks of 256). Float formats
// (F32, F16, BF16) have no units: kernels read them element by element.
#ifndef INFERD_CUDA_QUANT_CUH
#define INFERD_CUDA_QUANT_CUH

#include "backend/cuda/cuda_common.cuh"

template <int T> struct cu_fmt;
template <> struct cu_fmt<QT_Q4_0> { static constexpr int QK = 32, BYTES = 18, UNITS = 1; };
template <> struct cu_fmt<QT_Q4_1> { static constexpr int QK = 32, BYTES = 20, UNITS = 1; };
template <> struct cu_fmt<QT_Q5_0> { static constexpr int QK = 32, BYTES = 22, UNITS = 1; };
template <> struct cu_fmt<QT_Q5_1> { static constexpr int QK = 32, BYTES = 24, UNITS = 1; };
template <> struct cu_fmt<QT_Q8_0> { static constexpr int QK = 32, BYTES = 34, UNITS = 1; };
template <> struct cu_fmt<QT_Q4_K> { static constexpr int QK = 256, BYTES = 144, UNITS = 8; };
template <> struct cu_fmt<QT_Q5_K> { static constexpr int QK = 256, BYTES = 176, UNITS = 8; };
template <> struct cu_fmt<QT_Q6_K> { static constexpr int QK = 256, BYTES = 210, UNITS = 8; };

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j from scales[12].
__device__ __forceinline__ void cu_k4_scale_min(const uint8_t *s, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// v[0..32) = values 32 * sub .. 32 * sub + 31 of the block at b.
template <int T> __device__ __forceinline__ void cu_deq_unit(const uint8_t *b, int sub, float *v);

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q4_0>(const uint8_t *b, int, float *v)
{
    float d = cu_f16(cu_u16(b));
    const uint16_t *qs = (const uint16_t *)(b + 2);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        uint32_t w = qs[j];
        v[2 * j] = d * (float)((int)(w & 15) - 8);
        v[2 * j + 1] = d * (float)((int)((w >> 8) & 15) - 8);
        v[2 * j + 16] = d * (float)((int)((w >> 4) & 15) - 8);
        v[2 * j + 17] = d * (float)((int)(w >> 12) - 8);
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q4_1>(const uint8_t *b, int, float *v)
{
    float d = cu_f16(cu_u16(b)), m = cu_f16(cu_u16(b + 2));
    const uint16_t *qs = (const uint16_t *)(b + 4);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        uint32_t w = qs[j];
        v[2 * j] = d * (float)(w & 15) + m;
        v[2 * j + 1] = d * (float)((w >> 8) & 15) + m;
        v[2 * j + 16] = d * (float)((w >> 4) & 15) + m;
        v[2 * j + 17] = d * (float)(w >> 12) + m;
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q5_0>(const uint8_t *b, int, float *v)
{
    float d = cu_f16(cu_u16(b));
    uint32_t qh = (uint32_t)cu_u16(b + 2) | ((uint32_t)cu_u16(b + 4) << 16);
    const uint16_t *qs = (const uint16_t *)(b + 6);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        uint32_t w = qs[j];
        int i0 = 2 * j, i1 = 2 * j + 1;
        v[i0] = d * (float)((int)((w & 15) | (((qh >> i0) & 1) << 4)) - 16);
        v[i1] = d * (float)((int)(((w >> 8) & 15) | (((qh >> i1) & 1) << 4)) - 16);
        v[i0 + 16] = d * (float)((int)(((w >> 4) & 15) | (((qh >> (i0 + 16)) & 1) << 4)) - 16);
        v[i1 + 16] = d * (float)((int)((w >> 12) | (((qh >> (i1 + 16)) & 1) << 4)) - 16);
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q5_1>(const uint8_t *b, int, float *v)
{
    float d = cu_f16(cu_u16(b)), m = cu_f16(cu_u16(b + 2));
    uint32_t qh = (uint32_t)cu_u16(b + 4) | ((uint32_t)cu_u16(b + 6) << 16);
    const uint16_t *qs = (const uint16_t *)(b + 8);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        uint32_t w = qs[j];
        int i0 = 2 * j, i1 = 2 * j + 1;
        v[i0] = d * (float)((w & 15) | (((qh >> i0) & 1) << 4)) + m;
        v[i1] = d * (float)(((w >> 8) & 15) | (((qh >> i1) & 1) << 4)) + m;
        v[i0 + 16] = d * (float)(((w >> 4) & 15) | (((qh >> (i0 + 16)) & 1) << 4)) + m;
        v[i1 + 16] = d * (float)((w >> 12) | (((qh >> (i1 + 16)) & 1) << 4)) + m;
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q8_0>(const uint8_t *b, int, float *v)
{
    float d = cu_f16(cu_u16(b));
    const uint16_t *qs = (const uint16_t *)(b + 2);
#pragma unroll
    for (int j = 0; j < 16; j++) {
        uint32_t w = qs[j];
        v[2 * j] = d * (float)(int8_t)(w & 255);
        v[2 * j + 1] = d * (float)(int8_t)(w >> 8);
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q4_K>(const uint8_t *b, int sub, float *v)
{
    float d = cu_f16(cu_u16(b)), dmin = cu_f16(cu_u16(b + 2));
    int sc, mn;
    cu_k4_scale_min(b + 4, sub, &sc, &mn);
    float ds = d * (float)sc, dm = dmin * (float)mn;
    // block 144 bytes, qs at 16: 16-byte aligned whenever the row is
    const uint4 *qs = (const uint4 *)(b + 16 + 32 * (sub >> 1));
    int shift = (sub & 1) * 4;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        uint4 q = qs[h];
        uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int e = 0; e < 16; e++) {
            uint32_t byte = (w[e >> 2] >> (8 * (e & 3))) & 255;
            v[16 * h + e] = ds * (float)((byte >> shift) & 15) - dm;
        }
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q5_K>(const uint8_t *b, int sub, float *v)
{
    float d = cu_f16(cu_u16(b)), dmin = cu_f16(cu_u16(b + 2));
    int sc, mn;
    cu_k4_scale_min(b + 4, sub, &sc, &mn);
    float ds = d * (float)sc, dm = dmin * (float)mn;
    // block 176 bytes: qh at 16, qs at 48, both 16-byte aligned whenever the row is
    const uint4 *qh = (const uint4 *)(b + 16);
    const uint4 *qs = (const uint4 *)(b + 48 + 32 * (sub >> 1));
    int shift = (sub & 1) * 4;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        uint4 q = qs[h], hb = qh[h];
        uint32_t w[4] = {q.x, q.y, q.z, q.w}, hw[4] = {hb.x, hb.y, hb.z, hb.w};
#pragma unroll
        for (int e = 0; e < 16; e++) {
            uint32_t byte = (w[e >> 2] >> (8 * (e & 3))) & 255;
            uint32_t hbit = (hw[e >> 2] >> (8 * (e & 3) + sub)) & 1;
            v[16 * h + e] = ds * (float)(((byte >> shift) & 15) | (hbit << 4)) - dm;
        }
    }
}

template <> __device__ __forceinline__ void cu_deq_unit<QT_Q6_K>(const uint8_t *b, int sub, float *v)
{
    float d = cu_f16(cu_u16(b + 208));
    int h = sub >> 2, s = sub & 3;
    const uint8_t *ql = b + 64 * h + 32 * (s & 1);
    const uint8_t *qh = b + 128 + 32 * h;
    const int8_t *scales = (const int8_t *)(b + 192);
    int shift = s >= 2 ? 4 : 0;
    float d0 = d * (float)scales[8 * h + 2 * s], d1 = d * (float)scales[8 * h + 2 * s + 1];
    // block 210 bytes: rows are only 2-byte aligned, so read u16 pairs
    const uint16_t *ql2 = (const uint16_t *)ql, *qh2 = (const uint16_t *)qh;
#pragma unroll
    for (int l2 = 0; l2 < 16; l2++) {
        uint32_t lo = ql2[l2], hi = qh2[l2];
#pragma unroll
        for (int e = 0; e < 2; e++) {
            int l = 2 * l2 + e;
            int q = (int)((((lo >> (8 * e)) & 255) >> shift) & 15) |
                    (int)((((hi >> (8 * e)) & 255) >> (2 * s)) & 3) << 4;
            v[l] = (l < 16 ? d0 : d1) * (float)(q - 32);
        }
    }
}

// The types this backend keeps on the device (the rest: INF_ERR_UNSUPPORTED).
static inline bool cu_type_supported(uint32_t t)
{
    switch (t) {
    case QT_F32: case QT_F16: case QT_BF16: case QT_Q4_0: case QT_Q4_1: case QT_Q5_0:
    case QT_Q5_1: case QT_Q8_0: case QT_Q4_K: case QT_Q5_K: case QT_Q6_K:
        return true;
    default:
        return false;
    }
}

static inline bool cu_type_is_float(uint32_t t)
{
    return t == QT_F32 || t == QT_F16 || t == QT_BF16;
}

// Value c of a float-format row.
template <int T> __device__ __forceinline__ float cu_float_at(const uint8_t *row, int64_t c);
template <> __device__ __forceinline__ float cu_float_at<QT_F32>(const uint8_t *row, int64_t c)
{
    return ((const float *)row)[c];
}
template <> __device__ __forceinline__ float cu_float_at<QT_F16>(const uint8_t *row, int64_t c)
{
    return cu_f16(((const uint16_t *)row)[c]);
}
template <> __device__ __forceinline__ float cu_float_at<QT_BF16>(const uint8_t *row, int64_t c)
{
    return cu_bf16(((const uint16_t *)row)[c]);
}

// Calls F with the format as a template argument: F::template run<T>(args...).
#define CU_DISPATCH_QUANT(type, F, ...)                                              \
    switch (type) {                                                                  \
    case QT_Q4_0: F::template run<QT_Q4_0>(__VA_ARGS__); break;                      \
    case QT_Q4_1: F::template run<QT_Q4_1>(__VA_ARGS__); break;                      \
    case QT_Q5_0: F::template run<QT_Q5_0>(__VA_ARGS__); break;                      \
    case QT_Q5_1: F::template run<QT_Q5_1>(__VA_ARGS__); break;                      \
    case QT_Q8_0: F::template run<QT_Q8_0>(__VA_ARGS__); break;                      \
    case QT_Q4_K: F::template run<QT_Q4_K>(__VA_ARGS__); break;                      \
    case QT_Q5_K: F::template run<QT_Q5_K>(__VA_ARGS__); break;                      \
    case QT_Q6_K: F::template run<QT_Q6_K>(__VA_ARGS__); break;                      \
    case QT_F32: F::template run<QT_F32>(__VA_ARGS__); break;                        \
    case QT_F16: F::template run<QT_F16>(__VA_ARGS__); break;                        \
    case QT_BF16: F::template run<QT_BF16>(__VA_ARGS__); break;                      \
    default: break;                                                                  \
    }

#endif
