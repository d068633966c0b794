/* cpu_features.h: which x86-64 instruction sets this process may use.
 *
 * A feature counts as present only when both the CPU reports it (cpuid) and the
 * OS saves its registers (xgetbv: YMM state for AVX/AVX2, ZMM and opmask state
 * for AVX-512, tile state for AMX, which Linux also requires a process to request
 * once through arch_prctl). Detection runs once; the result is read-only after. */
#ifndef INFERD_CORE_CPU_FEATURES_H
#define INFERD_CORE_CPU_FEATURES_H

#include <stdbool.h>

typedef struct cpu_features {
    bool avx2, fma, f16c;           /* the AVX2 level: what *_avx2.c files may use */
    bool avx512f, avx512bw, avx512vl, avx512dq;
    bool avx512vnni;                /* vpdpbusd: u8 x s8 dot products */
    bool avx512bf16;                /* vdpbf16ps */
    bool avx512fp16;
    bool avx_vnni;                  /* VEX-encoded vpdpbusd */
    bool amx_tile, amx_int8, amx_bf16; /* AMX, with the OS permission granted */
    int n_cores;                    /* online logical CPUs (>= 1) */
} cpu_features;

/* The features of this machine, detected on first call (thread-safe; the
 * pointer stays valid for the life of the process). Never NULL. */
const cpu_features *cpu_features_get(void);

/* True when the AVX-512 level that *_avx512.c files are built for is usable:
 * F, BW, VL, DQ and VNNI (BF16 is checked separately by the kernels that use it). */
bool cpu_features_has_avx512(const cpu_features *f);

/* True when the AVX2 level (AVX2 + FMA + F16C) is usable. */
bool cpu_features_has_avx2(const cpu_features *f);

/* "avx512 vnni bf16 amx-bf16 ...": a one-line summary for logs, into buf. */
const char *cpu_features_describe(const cpu_features *f, char *buf, int cap);

#endif
