/* gemm_q_avx2.c: AVX2 panel kernels of every integer weight format.
 * The body is the template of gemm_avx2.h (layout, blocking, reference:
 * kref_gemm_panel); this file only instantiates it per format. */
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/gemm_avx2.h"

GEMM_AVX2_DEFINE(gemm_q4_0, KREF_PL_NIB, KREF_SC_LEG, 8)
GEMM_AVX2_DEFINE(gemm_q4_1, KREF_PL_NIB, KREF_SC_LEG1, 0)
GEMM_AVX2_DEFINE(gemm_q5_0, KREF_PL_NIB_HI1, KREF_SC_LEG, 16)
GEMM_AVX2_DEFINE(gemm_q5_1, KREF_PL_NIB_HI1, KREF_SC_LEG1, 0)
GEMM_AVX2_DEFINE(gemm_q8_0, KREF_PL_BYTE, KREF_SC_LEG, 128)
GEMM_AVX2_DEFINE(gemm_q2_k, KREF_PL_NIB, KREF_SC_K16M, 0)
GEMM_AVX2_DEFINE(gemm_q3_k, KREF_PL_NIB, KREF_SC_K16, 4)
GEMM_AVX2_DEFINE(gemm_q4_k, KREF_PL_NIB, KREF_SC_K32, 0)
GEMM_AVX2_DEFINE(gemm_q5_k, KREF_PL_NIB_HI1, KREF_SC_K32, 0)
GEMM_AVX2_DEFINE(gemm_q6_k, KREF_PL_NIB_HI2, KREF_SC_K16, 32)

void cpu_kernels_fill_q_avx2(cpu_kernels *k)
{
    static const struct {
        uint32_t type;
        cpu_gemm_fn fn;
    } list[] = {
        {QT_Q4_0, gemm_q4_0}, {QT_Q4_1, gemm_q4_1}, {QT_Q5_0, gemm_q5_0}, {QT_Q5_1, gemm_q5_1},
        {QT_Q8_0, gemm_q8_0}, {QT_Q2_K, gemm_q2_k}, {QT_Q3_K, gemm_q3_k}, {QT_Q4_K, gemm_q4_k},
        {QT_Q5_K, gemm_q5_k}, {QT_Q6_K, gemm_q6_k},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        k->gemm[list[i].type] = list[i].fn;
        k->max_n[list[i].type] = 64; /* the wrapper tiles any n */
    }
}
