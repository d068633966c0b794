/* cpu_kernels.c: builds one kernel table per instruction-set level, once.
 * Compiled for baseline x86-64: it only calls the fill functions of the levels
 * that cpu_features reports. */
#include "backend/cpu/cpu_kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cpu_features.h"

static cpu_kernels tables[CPU_ISA_COUNT];
static bool available[CPU_ISA_COUNT];
static cpu_isa best;
static pthread_once_t once = PTHREAD_ONCE_INIT;

const char *cpu_isa_name(cpu_isa isa)
{
    static const char *names[] = {"scalar", "avx2", "avx512"};
    return isa >= 0 && isa < CPU_ISA_COUNT ? names[isa] : "unknown";
}

static void fill_scalar(cpu_kernels *k)
{
    memset(k, 0, sizeof *k);
    k->isa = CPU_ISA_SCALAR;
    k->name = cpu_isa_name(CPU_ISA_SCALAR);
    k->quantize_q8a = kref_quantize_q8a;
    k->silu_mul = kref_silu_mul;
    k->gelu_mul = kref_gelu_mul;
    k->softcap = kref_softcap;
    k->exp_sum = kref_exp_sum;
    k->max = kref_max;
    k->dot = kref_dot;
    k->scale_axpy = kref_scale_axpy;
    k->scale = kref_scale;
    k->f16_to_f32 = kref_f16_to_f32;
    k->bf16_to_f32 = kref_bf16_to_f32;
    k->q8_to_f32 = kref_q8_to_f32;
    k->f32_to_f16 = kref_f32_to_f16;
    k->f32_to_bf16 = kref_f32_to_bf16;
    k->attn_qk = kref_attn_qk;
    k->attn_pv = kref_attn_pv;
    for (int t = 0; t < QT_COUNT; t++) {
        k->gemm[t] = kref_gemm_panel;
        k->max_n[t] = KREF_MAX_N;
    }
}

static void init(void)
{
    const cpu_features *f = cpu_features_get();
    fill_scalar(&tables[CPU_ISA_SCALAR]);
    available[CPU_ISA_SCALAR] = true;
    best = CPU_ISA_SCALAR;
    if (cpu_features_has_avx2(f)) {
        tables[CPU_ISA_AVX2] = tables[CPU_ISA_SCALAR];
        cpu_kernels_fill_avx2(&tables[CPU_ISA_AVX2]);
        tables[CPU_ISA_AVX2].isa = CPU_ISA_AVX2;
        tables[CPU_ISA_AVX2].name = cpu_isa_name(CPU_ISA_AVX2);
        available[CPU_ISA_AVX2] = true;
        best = CPU_ISA_AVX2;
    }
    if (cpu_features_has_avx512(f)) {
        tables[CPU_ISA_AVX512] = tables[CPU_ISA_AVX2];
        cpu_kernels_fill_avx512(&tables[CPU_ISA_AVX512]);
        tables[CPU_ISA_AVX512].isa = CPU_ISA_AVX512;
        tables[CPU_ISA_AVX512].name = cpu_isa_name(CPU_ISA_AVX512);
        available[CPU_ISA_AVX512] = true;
        best = CPU_ISA_AVX512;
    }
}

const cpu_kernels *cpu_kernels_get(void)
{
    pthread_once(&once, init);
    /* Read on every call (backends call this once, at creation), so that a
     * test can run backends at several levels in one process. */
    cpu_isa level = best;
    const char *cap = getenv("INFERD_CPU_ISA");
    if (cap && *cap) {
        for (int i = 0; i < CPU_ISA_COUNT; i++)
            if (!strcasecmp(cap, cpu_isa_name((cpu_isa)i)) && (cpu_isa)i < level) level = (cpu_isa)i;
    }
    return &tables[level];
}

const cpu_kernels *cpu_kernels_for(cpu_isa isa)
{
    pthread_once(&once, init);
    if (isa < 0 || isa >= CPU_ISA_COUNT || !available[isa]) return NULL;
    return &tables[isa];
}
