// cuda_quant.cuh: device dequantization of the weight formats, one "part" (8 of
// the 32 values of a unit) at a time, from the GGUF block layouts of
// quant/blocks.h.
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

// ---- parts of units ----
// Part p (0..3) of a unit is 8 of its 32 values, chosen so that 4 lanes read a
// unit's bytes and its 32 activations side by side: CONTIG formats give values
// 8p..8p+7; SPLIT ones (nibbles of byte j are values j and j + 16) give
// 4p..4p+3 in v[0..4) and 16+4p..16+4p+3 in v[4..8).
template <int T> struct cu_part_split { static constexpr bool value = false; };
template <> struct cu_part_split<QT_Q4_0> { static constexpr bool value = true; };
template <> struct cu_part_split<QT_Q4_1> { static constexpr bool value = true; };
template <> struct cu_part_split<QT_Q5_0> { static constexpr bool value = true; };
template <> struct cu_part_split<QT_Q5_1> { static constexpr bool value = true; };

__device__ __forceinline__ uint32_t cu_u32_2(const uint8_t *p) // 2-byte aligned
{
    return (uint32_t)cu_u16(p) | ((uint32_t)cu_u16(p + 2) << 16);
}

template <int T> __device__ __forceinline__ void cu_deq_part(const uint8_t *b, int sub, int p, float *v);

template <> __device__ __forceinline__ void cu_deq_part<QT_Q4_0>(const uint8_t *b, int, int p, float *v)
{
    float d = cu_f16(cu_u16(b));
    uint32_t w = cu_u32_2(b + 2 + 4 * p);
#pragma unroll
    for (int e = 0; e < 4; e++) {
        uint32_t q = (w >> (8 * e)) & 255;
        v[e] = d * (float)((int)(q & 15) - 8);
        v[4 + e] = d * (float)((int)(q >> 4) - 8);
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q4_1>(const uint8_t *b, int, int p, float *v)
{
    float d = cu_f16(cu_u16(b)), m = cu_f16(cu_u16(b + 2));
    uint32_t w = *(const uint32_t *)(b + 4 + 4 * p);
#pragma unroll
    for (int e = 0; e < 4; e++) {
        uint32_t q = (w >> (8 * e)) & 255;
        v[e] = d * (float)(q & 15) + m;
        v[4 + e] = d * (float)(q >> 4) + m;
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q5_0>(const uint8_t *b, int, int p, float *v)
{
    float d = cu_f16(cu_u16(b));
    uint32_t qh = cu_u32_2(b + 2), w = cu_u32_2(b + 6 + 4 * p);
#pragma unroll
    for (int e = 0; e < 4; e++) {
        uint32_t q = (w >> (8 * e)) & 255;
        int i = 4 * p + e;
        v[e] = d * (float)((int)((q & 15) | (((qh >> i) & 1) << 4)) - 16);
        v[4 + e] = d * (float)((int)((q >> 4) | (((qh >> (i + 16)) & 1) << 4)) - 16);
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q5_1>(const uint8_t *b, int, int p, float *v)
{
    float d = cu_f16(cu_u16(b)), m = cu_f16(cu_u16(b + 2));
    uint32_t qh = *(const uint32_t *)(b + 4), w = *(const uint32_t *)(b + 8 + 4 * p);
#pragma unroll
    for (int e = 0; e < 4; e++) {
        uint32_t q = (w >> (8 * e)) & 255;
        int i = 4 * p + e;
        v[e] = d * (float)((q & 15) | (((qh >> i) & 1) << 4)) + m;
        v[4 + e] = d * (float)((q >> 4) | (((qh >> (i + 16)) & 1) << 4)) + m;
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q8_0>(const uint8_t *b, int, int p, float *v)
{
    float d = cu_f16(cu_u16(b));
    uint32_t w0 = cu_u32_2(b + 2 + 8 * p), w1 = cu_u32_2(b + 6 + 8 * p);
#pragma unroll
    for (int e = 0; e < 4; e++) {
        v[e] = d * (float)(int8_t)((w0 >> (8 * e)) & 255);
        v[4 + e] = d * (float)(int8_t)((w1 >> (8 * e)) & 255);
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q4_K>(const uint8_t *b, int sub, int p, float *v)
{
    float d = cu_f16(cu_u16(b)), dmin = cu_f16(cu_u16(b + 2));
    int sc, mn;
    cu_k4_scale_min(b + 4, sub, &sc, &mn);
    float ds = d * (float)sc, dm = dmin * (float)mn;
    uint2 q = *(const uint2 *)(b + 16 + 32 * (sub >> 1) + 8 * p);
    int shift = (sub & 1) * 4;
#pragma unroll
    for (int e = 0; e < 4; e++) {
        v[e] = ds * (float)((q.x >> (8 * e + shift)) & 15) - dm;
        v[4 + e] = ds * (float)((q.y >> (8 * e + shift)) & 15) - dm;
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q5_K>(const uint8_t *b, int sub, int p, float *v)
{
    float d = cu_f16(cu_u16(b)), dmin = cu_f16(cu_u16(b + 2));
    int sc, mn;
    cu_k4_scale_min(b + 4, sub, &sc, &mn);
    float ds = d * (float)sc, dm = dmin * (float)mn;
    uint2 q = *(const uint2 *)(b + 48 + 32 * (sub >> 1) + 8 * p);
    uint2 h = *(const uint2 *)(b + 16 + 8 * p);
    int shift = (sub & 1) * 4;
#pragma unroll
    for (int e = 0; e < 4; e++) {
        v[e] = ds * (float)(((q.x >> (8 * e + shift)) & 15) | (((h.x >> (8 * e + sub)) & 1) << 4)) - dm;
        v[4 + e] = ds * (float)(((q.y >> (8 * e + shift)) & 15) | (((h.y >> (8 * e + sub)) & 1) << 4)) - dm;
    }
}

template <> __device__ __forceinline__ void cu_deq_part<QT_Q6_K>(const uint8_t *b, int sub, int p, float *v)
{
    float d = cu_f16(cu_u16(b + 208));
    int h = sub >> 2, s = sub & 3;
    uint32_t l0 = cu_u32_2(b + 64 * h + 32 * (s & 1) + 8 * p), l1 = cu_u32_2(b + 64 * h + 32 * (s & 1) + 8 * p + 4);
    uint32_t h0 = cu_u32_2(b + 128 + 32 * h + 8 * p), h1 = cu_u32_2(b + 128 + 32 * h + 8 * p + 4);
    float ds = d * (float)((const int8_t *)(b + 192))[8 * h + 2 * s + (p >> 1)];
    int shift = s >= 2 ? 4 : 0;
#pragma unroll
    for (int e = 0; e < 4; e++) {
        int q0 = (int)((l0 >> (8 * e + shift)) & 15) | (int)((h0 >> (8 * e + 2 * s)) & 3) << 4;
        int q1 = (int)((l1 >> (8 * e + shift)) & 15) | (int)((h1 >> (8 * e + 2 * s)) & 3) << 4;
        v[e] = ds * (float)(q0 - 32);
        v[4 + e] = ds * (float)(q1 - 32);
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
