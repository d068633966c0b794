/* blocks.h: the packed blocks of each supported weight format, byte for byte as
 * GGUF files (and ggml) store them.
 *
 * Plain C structs of uint8_t / int8_t arrays and uint16_t half-precision fields
 * (IEEE binary16 bit patterns, little-endian like everything in GGUF), with no
 * bitfields and no padding, so that the CPU SIMD kernels and the CUDA kernels can
 * read the same memory. The static_asserts pin every size to what the files use.
 *
 * Notation: a block holds QK elements x[0..QK). "d" is a scale, "m"/"dmin" an
 * offset (affine formats: x = d*q + m, or x = d*sc*q - dmin*mn for K formats).
 * K formats group 256 elements ("super-block") into sub-blocks of 16 or 32, each
 * with its own small integer scale (and min) that multiplies the super-block's
 * f16 d (and dmin). */
#ifndef INFERD_QUANT_BLOCKS_H
#define INFERD_QUANT_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12 /* packed 6-bit scales and mins of Q4_K / Q5_K */

/* Q4_0: x[i] = d * (q[i] - 8). Byte j of qs holds q[j] in its low nibble and
 * q[j + 16] in its high nibble. */
typedef struct block_q4_0 {
    uint16_t d;              /* f16 scale */
    uint8_t qs[QK4_0 / 2];   /* 4-bit quants, see above */
} block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");

/* Q4_1: x[i] = d * q[i] + m; nibbles packed as in Q4_0. */
typedef struct block_q4_1 {
    uint16_t d;              /* f16 scale */
    uint16_t m;              /* f16 offset (the block's minimum) */
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");

/* Q5_0: x[i] = d * (q[i] - 16), q 5 bits: low 4 bits packed as in Q4_0, bit 4 of
 * q[i] is bit i of qh (read as a little-endian uint32). */
typedef struct block_q5_0 {
    uint16_t d;              /* f16 scale */
    uint8_t qh[4];           /* fifth bits, little-endian 32-bit mask */
    uint8_t qs[QK5_0 / 2];   /* low nibbles */
} block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");

/* Q5_1: x[i] = d * q[i] + m, q packed as in Q5_0. */
typedef struct block_q5_1 {
    uint16_t d;              /* f16 scale */
    uint16_t m;              /* f16 offset */
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");

/* Q8_0: x[i] = d * qs[i]. */
typedef struct block_q8_0 {
    uint16_t d;              /* f16 scale */
    int8_t qs[QK8_0];
} block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");

/* Q8_1: x[i] = d * qs[i]; s = d * sum(qs) is kept for dot products with Q4_1 /
 * Q5_1 weights. Current ggml stores d and s as f16 (36 bytes); very old ggml had
 * two floats (40 bytes), and the gguf Python package still lists 40. Q8_1 is an
 * activation format that no weight file uses, so inferd follows current ggml. */
typedef struct block_q8_1 {
    uint16_t d;              /* f16 scale */
    uint16_t s;              /* f16 d * sum(qs) */
    int8_t qs[QK8_1];
} block_q8_1;
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");

/* Q2_K: 16 sub-blocks of 16. x = d * (scales[j] & 15) * q - dmin * (scales[j] >> 4),
 * q 2 bits. Element 128*h + 32*s + l (h half, s shift step 0..3, l 0..31) is
 * bits 2s..2s+1 of qs[32*h + l]; its sub-block is j = 8*h + 2*s + l/16. */
typedef struct block_q2_K {
    uint8_t scales[QK_K / 16];  /* low nibble: scale, high nibble: min, per sub-block */
    uint8_t qs[QK_K / 4];       /* 2-bit quants */
    uint16_t d;                 /* f16 super-block scale of the scales */
    uint16_t dmin;              /* f16 super-block scale of the mins */
} block_q2_K;
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");

/* Q3_K: 16 sub-blocks of 16, symmetric. x = d * (sc[j] - 32) * q, q in -4..3:
 * low 2 bits from qs (laid out as Q2_K), and q -= 4 when the high bit is CLEAR.
 * High bit of element 128*h + 32*s + l... in general of element e = 32*k + l
 * (k 0..7, l 0..31) is bit k of hmask[l]. The 16 six-bit scales sc[j] are packed
 * in 12 bytes: low nibbles of j = 0..7 in bytes 0..7 (low), j = 8..15 in bytes
 * 0..7 (high); their top two bits in bytes 8..11, 2 bits per j: byte 8 + (j & 3),
 * bit pair j >> 2. */
typedef struct block_q3_K {
    uint8_t hmask[QK_K / 8];    /* high bits (inverted sign of the -4 offset) */
    uint8_t qs[QK_K / 4];       /* low 2 bits */
    uint8_t scales[12];         /* 16 six-bit scales, packed as above */
    uint16_t d;                 /* f16 super-block scale */
} block_q3_K;
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");

/* Q4_K: 8 sub-blocks of 32. x = d * sc[j] * q - dmin * mn[j], q 4 bits. Element
 * 64*p + l (l < 32) is the low nibble of qs[32*p + l] (sub-block 2p), element
 * 64*p + 32 + l its high nibble (sub-block 2p + 1). sc and mn are 6 bits each,
 * packed in scales[12]: for j < 4, sc[j] = scales[j] & 63, mn[j] = scales[j+4] & 63;
 * for j >= 4, sc[j] = (scales[j+4] & 15) | ((scales[j-4] >> 6) << 4) and
 * mn[j] = (scales[j+4] >> 4) | ((scales[j] >> 6) << 4). */
typedef struct block_q4_K {
    uint16_t d;                 /* f16 super-block scale of the scales */
    uint16_t dmin;              /* f16 super-block scale of the mins */
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");

/* Q5_K: Q4_K plus a fifth bit: bit 4 of element 32*k + l (k 0..7) is bit k of
 * qh[l]. */
typedef struct block_q5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");

/* Q6_K: 16 sub-blocks of 16, symmetric. x = d * scales[j] * (q - 32), q 6 bits.
 * For half h (128 elements), element 128*h + 32*s + l (s 0..3, l 0..31):
 * low 4 bits are the low nibble (s = 0, 1) or high nibble (s = 2, 3) of
 * ql[64*h + 32*(s & 1) + l]; high 2 bits are bits 2s..2s+1 of qh[32*h + l]. */
typedef struct block_q6_K {
    uint8_t ql[QK_K / 2];       /* low 4 bits */
    uint8_t qh[QK_K / 4];       /* high 2 bits */
    int8_t scales[QK_K / 16];   /* signed 8-bit sub-block scales */
    uint16_t d;                 /* f16 super-block scale */
} block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

/* Q8_K: x = d * qs; the only format with an f32 scale. bsums[j] is the sum of
 * qs[16j .. 16j+16), used by K-quant dot products to apply the mins. */
typedef struct block_q8_K {
    float d;                    /* f32 scale */
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

#endif
