/* kernels_ref.h: the low-level matmul kernels of the CPU backend, their data
 * formats, and their scalar references (prefix kref_).
 *
 * The CPU backend multiplies a weight matrix W (m, k) by n activation rows
 * X (n, k) into Y (n, m): y[i][j] = sum_c x[i][c] * w[j][c]. Two formats make
 * that fast, and both are defined here because they are the contract between
 * the reference and every SIMD file of src/backend/cpu/:
 *
 * 1. Activations ("q8a"). For integer weight formats each activation row is
 *    quantized to blocks of 32 int8 with an f32 scale d = max|x| / 127 and the
 *    scaled sums of its quants (kref_q8a), so that an affine weight block
 *    w = dw * q + mw dots with it as dw * dx * sum(q * qx) + mw * (dx * sum qx):
 *    one integer dot product plus one multiply-add with a precomputed sum. The
 *    half sums serve formats whose scales change every 16 values (Q2_K, Q3_K,
 *    Q6_K). Float weight formats (F32, F16, BF16) take the rows as F32.
 *
 * 2. Weight panels. At upload the backend repacks each weight into panels of
 *    KREF_PANEL_ROWS = 16 rows, each panel one contiguous run of super-blocks
 *    (32 values of k for the classic formats, 256 for K-quants). Inside a
 *    panel, 4 consecutive values of k of the 16 rows sit side by side
 *    ("row-interleaved quads": byte 4r + e is row r, value e of the quad), so
 *    that one AVX-512 vpdpbusd (or an AVX2 maddubs/madd pair on each 8-row
 *    half) computes a 4-long dot product for 16 rows at once against one
 *    broadcast 32-bit word of activations: the lanes are the output rows, no
 *    horizontal sums, and every weight byte read is used for every activation
 *    row of the tile.
 *
 *    A super-block of a panel is a header of per-row scales followed by one
 *    plane set per group of 32 values:
 *      NIB   256 bytes: quad pairs t = 0..3 of 64 bytes; byte 4r + e of pair t
 *            holds q(r, 8t + e) in its low nibble and q(r, 8t + 4 + e) in its
 *            high nibble (the low 4 bits of q for 5- and 6-bit formats)
 *      HI1   64 bytes (5-bit formats): bit j of byte 4r + e = bit 4 of q(r, 4j + e)
 *      HI2   128 bytes (6-bit): vector h = 0, 1; bits 2i, 2i+1 of its byte 4r + e
 *            = bits 4, 5 of q(r, 4(4h + i) + e)
 *      BYTE  512 bytes (8-bit): quads j = 0..7 of 64 bytes, byte 4r + e = q(r, 4j + e)
 *    where q is the unsigned quant (Q8_0 stores q + 128; Q3_K its 3-bit
 *    q + 4). Headers, with f16 scales as the file has them and 16 entries,
 *    one per row, for each field:
 *      LEG   per group: d            w = d * (q - z)        Q4_0 z=8, Q5_0 z=16, Q8_0 z=128
 *      LEG1  per group: d, m          w = d * q + m          Q4_1, Q5_1
 *      K32   d, dmin, sc[8], mn[8] u8  w = d sc_j q - dmin mn_j    Q4_K, Q5_K (sub-blocks of 32)
 *      K16   d, sc[16] s8              w = d sc_j (q - z)     Q6_K z=32, Q3_K z=4 (sc - 32)
 *      K16M  d, dmin, sc[16], mn[16] u8 w = d sc_j q - dmin mn_j  Q2_K (sub-blocks of 16)
 *    Float panels hold, for each value of k, the 16 rows' values in the
 *    file's float type. Any other type quant/ can dequantize is packed as F32.
 *    Rows past m in the last panel are zero (and never stored).
 *
 * The scalar references here are the oracle for the SIMD kernels: kref_gemm
 * works on the file layout through quant/'s dequantizer (independent of the
 * panel code), kref_gemm_panel on panels with the exact signature of the SIMD
 * panel kernels. All functions are pure and thread-safe. */
#ifndef INFERD_BACKEND_KERNELS_REF_H
#define INFERD_BACKEND_KERNELS_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KREF_PANEL_ROWS 16
#define KREF_GROUP 32

/* One block of 32 quantized activations (48 bytes). */
typedef struct kref_q8a {
    float d;        /* x[i] ~ d * qs[i]; 0 for an all-zero block */
    float s;        /* d * sum(qs[0..32)) */
    float s16[2];   /* d * sum(qs[0..16)), d * sum(qs[16..32)) */
    int8_t qs[KREF_GROUP];
} kref_q8a;

/* Quantizes a row of k floats (k a multiple of 32) to k / 32 blocks:
 * d = max|x| / 127, qs = round-half-even(x / d) (so x / d is in [-127, 127]).
 * SIMD versions must produce the same bytes (they compute x * (1/d) the same
 * way: id = 127 / amax, q = nearbyint(x * id)). */
void kref_quantize_q8a(const float *x, kref_q8a *y, int64_t k);

/* How activations are rounded to q8a blocks for a weight type. The kernels
 * accept any of these (they only read d, the sums and qs). Q8A is the default;
 * the other kinds round exactly as llama.cpp does (INFERD_CPU_ACT=llama), for
 * comparisons with it:
 *   Q8A   d = max|x| / 127 in f32, qs = round-half-even(x * 127 / max|x|)
 *   Q8_0  as Q8A, then d rounded to f16 (llama.cpp's q8_0, for Q4_0/Q5_0/Q8_0)
 *   Q8_1  as Q8_0, and s = f16(d_f32 * sum qs) (its q8_1, for Q4_1/Q5_1)
 *   Q8_K  one scale per 256 values (its q8_K, for K-quants): m = the value of
 *         largest |x| (sign kept), qs = min(127, round-half-even(-127 / m * x)),
 *         d = 1 / (-127 / m); every block of the 256 carries that d.
 * The sums s, s16 are always d (as stored) times the integer sums, except Q8_1's
 * s. */
typedef enum kref_act_kind {
    KREF_ACT_Q8A = 0,
    KREF_ACT_Q8_0 = 1,
    KREF_ACT_Q8_1 = 2,
    KREF_ACT_Q8_K = 3,
} kref_act_kind;

/* The kind a weight type's activations are rounded with (Q8A for types
 * llama.cpp has no rule for; meaningless for float types). */
kref_act_kind kref_act_kind_of(uint32_t type);

/* Quantizes a row of k values (a multiple of 32; of 256 for Q8_K) of a kind. */
void kref_quantize_act(kref_act_kind kind, const float *x, kref_q8a *y, int64_t k);

/* Turns Q8A blocks (as kref_quantize_q8a makes them) into Q8_0 or Q8_1 ones in
 * place: the SIMD quantizers make Q8A, this finishes the other two. */
void kref_q8a_to_kind(kref_act_kind kind, kref_q8a *y, int64_t n_blocks);

typedef enum kref_planes {
    KREF_PL_FLOAT = 0, /* float panel: no planes */
    KREF_PL_NIB = 1,
    KREF_PL_NIB_HI1 = 2,
    KREF_PL_NIB_HI2 = 3,
    KREF_PL_BYTE = 4,
} kref_planes;

typedef enum kref_scales {
    KREF_SC_NONE = 0,  /* float panel */
    KREF_SC_LEG,
    KREF_SC_LEG1,
    KREF_SC_K32,
    KREF_SC_K16,
    KREF_SC_K16M,
} kref_scales;

/* How one weight type is laid out in panels. */
typedef struct kref_panel_format {
    uint32_t type;          /* the file's ggml type */
    uint32_t panel_type;    /* type of the panel values: == type, or QT_F32 for
                             * types packed by dequantizing */
    int sb;                 /* values of k per super-block (1 for float panels) */
    kref_planes planes;
    kref_scales scales;
    int zero;               /* z of LEG and K16 */
    int elem_bytes;         /* float panels: bytes per value (4 or 2) */
    size_t header_bytes;    /* per super-block */
    size_t group_bytes;     /* planes per group of 32 */
} kref_panel_format;

/* The panel format of a weight type, or NULL when quant/ cannot read it. */
const kref_panel_format *kref_panel_format_of(uint32_t type);

/* Whether a weight type multiplies q8a activations (else F32 rows). */
bool kref_type_uses_q8a(uint32_t type);

/* Bytes of one panel of 16 rows of k values; 0 when k is not a multiple of the
 * super-block (or of the file's block). */
size_t kref_panel_bytes(uint32_t type, int64_t k);

/* Packs rows [0, rows) (rows <= 16) of a weight in file layout (row r at
 * w + r * w_stride, k values) into one panel; rows past `rows` are zero. */
void kref_panel_pack(uint32_t type, const void *w, size_t w_stride, int rows, int64_t k,
                     uint8_t *panel);

/* One call of a panel kernel: y[c * ldy + r] = bias[r] + sum over k of
 * panel row r times activation row c, for r < rows and c < n. */
typedef struct kref_gemm_args {
    uint32_t type;          /* weight type (the SIMD kernels know theirs) */
    int64_t k;              /* values per row: a multiple of the super-block */
    const uint8_t *panel;   /* one panel of 16 rows x k */
    int rows;               /* 1..16 rows of the panel to store */
    int n;                  /* 1..KREF_MAX_N activation rows */
    const void *x;          /* n rows: k / 32 kref_q8a blocks, or k floats */
    size_t x_stride;        /* bytes between activation rows */
    float *y;               /* output of row 0 of the panel, activation row 0 */
    size_t ldy;             /* floats between activation rows of y */
    const float *bias;      /* 16 floats (one per panel row), or NULL */
} kref_gemm_args;

#define KREF_MAX_N 8

/* Scalar panel kernel (same contract as the SIMD ones; any n >= 1). */
void kref_gemm_panel(const kref_gemm_args *a);

/* The oracle: Y = X W^T for W (m, k) in file layout (row j at w + j * w_stride),
 * x in the type's activation format (q8a blocks or floats, row stride x_stride
 * bytes), y (n, m) with row stride ldy floats. Weight rows are dequantized with
 * quant/, activations with their scale; sums in double. */
void kref_gemm(uint32_t type, int64_t m, int64_t k, int64_t n, const void *w, size_t w_stride,
               const void *x, size_t x_stride, float *y, size_t ldy);

/* ---- Vector kernels of the elementwise ops and attention ------------------ */
/* The scalar references (libm, float) of the table entries in cpu_kernels.h;
 * SIMD versions use polynomial exp and match within a few float ulps of these
 * (tests hold them to 2e-6 relative). Arrays never alias unless stated. */

/* out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + e^-x). out may alias either. */
void kref_silu_mul(float *out, const float *gate, const float *up, int64_t n);

/* out[i] = gelu_tanh(gate[i]) * up[i] (see be_geglu). out may alias either. */
void kref_gelu_mul(float *out, const float *gate, const float *up, int64_t n);

/* out[i] = cap * tanh(x[i] / cap). out may alias x. */
void kref_softcap(float *out, const float *x, float cap, int64_t n);

/* y[i] = e^(x[i] - mx); returns the sum of the y[i]. y may alias x. */
float kref_exp_sum(float *y, const float *x, float mx, int64_t n);

/* Largest x[i] (-INFINITY for n = 0). */
float kref_max(const float *x, int64_t n);

/* sum a[i] * b[i]. */
float kref_dot(const float *a, const float *b, int64_t n);

/* y[i] = y[i] * s + a * x[i]. */
void kref_scale_axpy(float *y, float s, float a, const float *x, int64_t n);

/* y[i] = x[i] * s. y may alias x. */
void kref_scale(float *y, const float *x, float s, int64_t n);

/* y[i] = f16 / bf16 x[i] as float. */
void kref_f16_to_f32(const uint16_t *x, float *y, int64_t n);
void kref_bf16_to_f32(const uint16_t *x, float *y, int64_t n);

/* y[i] = x[i] rounded to f16 / bf16 (nearest even; as quant_f32_to_f16 / bf16). */
void kref_f32_to_f16(const float *x, uint16_t *y, int64_t n);
void kref_f32_to_bf16(const float *x, uint16_t *y, int64_t n);

/* y[i] = q[i] * s (8-bit KV rows: one call per group). */
void kref_q8_to_f32(const int8_t *q, float s, float *y, int64_t n);

/* Attention blocks. Scores of nq query vectors against nt keys stored
 * transposed (kt[d * kt_stride + t], d < hd): s[i * s_stride + t] = q_i . k_t
 * (q_i at q + i * q_stride). */
void kref_attn_qk(const float *q, int nq, int64_t q_stride, const float *kt, int64_t kt_stride,
                  int hd, int nt, float *s, int64_t s_stride);

/* acc[i * hdv + e] += sum over t < nt of p[i * p_stride + t] * v[t * hdv + e]. */
void kref_attn_pv(float *acc, int nq, int hdv, const float *p, int64_t p_stride, const float *v,
                  int nt);

#endif
