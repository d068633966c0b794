/* cpu_kernels.h: the CPU backend's kernel table, chosen once per process from
 * cpuid (internal to src/backend/cpu/).
 *
 * Each instruction-set file (*_avx2.c, *_avx512.c) fills the entries it has
 * into a cpu_kernels table; cpu_kernels.c starts from the scalar references of
 * ref/kernels_ref.h and lets each level the CPU supports override them, so a
 * format without a SIMD kernel at some level falls back to the level below.
 * The environment variable INFERD_CPU_ISA=scalar|avx2|avx512 caps the level
 * (read by each cpu_kernels_get call)
 * (tests and benchmarks use cpu_kernels_for to pick one explicitly). */
#ifndef INFERD_BACKEND_CPU_KERNELS_H
#define INFERD_BACKEND_CPU_KERNELS_H

#include "backend/ref/kernels_ref.h"
#include "quant/quant.h"

typedef enum cpu_isa {
    CPU_ISA_SCALAR = 0,
    CPU_ISA_AVX2 = 1,
    CPU_ISA_AVX512 = 2,   /* F, BW, VL, DQ, VNNI */
    CPU_ISA_COUNT = 3,
} cpu_isa;

/* Computes a panel tile (kref_gemm_args); n <= max_n of the table. */
typedef void (*cpu_gemm_fn)(const kref_gemm_args *a);
typedef void (*cpu_quantize_fn)(const float *x, kref_q8a *y, int64_t k);

typedef struct cpu_kernels {
    cpu_isa isa;
    const char *name;                 /* "scalar", "avx2", "avx512" */
    cpu_quantize_fn quantize_q8a;     /* same bytes as kref_quantize_q8a */
    cpu_gemm_fn gemm[QT_COUNT];       /* by panel type; never NULL for a panel type */
    int max_n[QT_COUNT];              /* largest n one call of gemm[type] takes */

    /* Vector kernels: contracts and references in ref/kernels_ref.h (kref_*). */
    void (*silu_mul)(float *out, const float *gate, const float *up, int64_t n);
    void (*gelu_mul)(float *out, const float *gate, const float *up, int64_t n);
    void (*softcap)(float *out, const float *x, float cap, int64_t n);
    float (*exp_sum)(float *y, const float *x, float mx, int64_t n);
    float (*max)(const float *x, int64_t n);
    float (*dot)(const float *a, const float *b, int64_t n);
    void (*scale_axpy)(float *y, float s, float a, const float *x, int64_t n);
    void (*scale)(float *y, const float *x, float s, int64_t n);
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*q8_to_f32)(const int8_t *q, float s, float *y, int64_t n);
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    void (*f32_to_bf16)(const float *x, uint16_t *y, int64_t n);
    void (*attn_qk)(const float *q, int nq, int64_t q_stride, const float *kt, int64_t kt_stride,
                    int hd, int nt, float *s, int64_t s_stride);
    void (*attn_pv)(float *acc, int nq, int hdv, const float *p, int64_t p_stride,
                    const float *v, int nt);
} cpu_kernels;

/* The table of the best level this CPU has (capped by INFERD_CPU_ISA). Filled on
 * first call, thread-safe, never NULL. */
const cpu_kernels *cpu_kernels_get(void);

/* The table of one level, or NULL when this CPU lacks it. */
const cpu_kernels *cpu_kernels_for(cpu_isa isa);

/* "scalar", "avx2", "avx512". */
const char *cpu_isa_name(cpu_isa isa);

/* Filled by the instruction-set files (each sets only what it implements). */
void cpu_kernels_fill_avx2(cpu_kernels *k);
void cpu_kernels_fill_avx512(cpu_kernels *k);
void cpu_kernels_fill_q_avx2(cpu_kernels *k);   /* integer formats, gemm_q_avx2.c */
void cpu_kernels_fill_q_avx512(cpu_kernels *k); /* integer formats, gemm_q_avx512.c */
void cpu_kernels_fill_vec_avx2(cpu_kernels *k);   /* vector kernels, vec_avx2.c */
void cpu_kernels_fill_vec_avx512(cpu_kernels *k); /* vector kernels, vec_avx512.c */
void cpu_kernels_fill_attn_avx2(cpu_kernels *k);   /* attention blocks, attn_avx2.c */
void cpu_kernels_fill_attn_avx512(cpu_kernels *k); /* attention blocks, attn_avx512.c */

#endif
