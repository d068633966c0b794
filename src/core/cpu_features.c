/* cpu_features.c: cpuid + xgetbv detection (see cpu_features.h).
 *
 * Compiled for baseline x86-64: it only executes cpuid and xgetbv, never the
 * instructions it detects. On other architectures every feature reads false. */
#include "core/cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>

#define ARCH_REQ_XCOMP_PERM 0x1023 /* linux/arch/x86/include/uapi/asm/prctl.h */
#define XFEATURE_XTILEDATA 18

static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(cpu_features *f)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = (c >> 27) & 1;
    bool avx = (c >> 28) & 1;
    f->fma = (c >> 12) & 1;
    f->f16c = (c >> 29) & 1;
    if (!osxsave || !avx) {
        f->fma = f->f16c = false;
        return;
    }
    unsigned long long xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6;            /* SSE + AVX state */
    bool zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    bool tile_ok = (xcr0 & 0x60000) == 0x60000;   /* XTILECFG, XTILEDATA */
    if (!ymm_ok) {
        f->fma = f->f16c = false;
        return;
    }
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = (b >> 5) & 1;
    if (zmm_ok) {
        f->avx512f = (b >> 16) & 1;
        f->avx512dq = (b >> 17) & 1;
        f->avx512bw = (b >> 30) & 1;
        f->avx512vl = (b >> 31) & 1;
        f->avx512vnni = (c >> 11) & 1;
        f->avx512fp16 = (d >> 23) & 1;
    }
    bool amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1, amx_bf16 = (d >> 22) & 1;
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    f->avx_vnni = (a1 >> 4) & 1;
    if (zmm_ok) f->avx512bf16 = (a1 >> 5) & 1;
    if (amx_tile && tile_ok) {
        /* Linux keeps tile data out of the signal frame until a process asks. */
        if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0) {
            f->amx_tile = true;
            f->amx_int8 = amx_int8;
            f->amx_bf16 = amx_bf16;
        }
    }
}
#else
static void detect(cpu_features *f) { (void)f; }
#endif

static cpu_features g_features;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    memset(&g_features, 0, sizeof g_features);
    detect(&g_features);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    g_features.n_cores = n > 0 ? (int)n : 1;
}

const cpu_features *cpu_features_get(void)
{
    pthread_once(&g_once, init_once);
    return &g_features;
}

bool cpu_features_has_avx2(const cpu_features *f)
{
    return f->avx2 && f->fma && f->f16c;
}

bool cpu_features_has_avx512(const cpu_features *f)
{
    return cpu_features_has_avx2(f) && f->avx512f && f->avx512bw && f->avx512vl &&
           f->avx512dq && f->avx512vnni;
}

const char *cpu_features_describe(const cpu_features *f, char *buf, int cap)
{
    snprintf(buf, (size_t)cap, "%d cores;%s%s%s%s%s%s%s%s%s", f->n_cores,
             cpu_features_has_avx2(f) ? " avx2" : "",
             f->avx512f ? " avx512f" : "", f->avx512bw ? " avx512bw" : "",
             f->avx512vnni ? " avx512vnni" : "", f->avx512bf16 ? " avx512bf16" : "",
             f->avx512fp16 ? " avx512fp16" : "", f->amx_tile ? " amx" : "",
             f->amx_int8 ? " amx-int8" : "", f->amx_bf16 ? " amx-bf16" : "");
    return buf;
}
