/* cpu.c: CPUID/XGETBV feature detection (x86-64); other CPUs report none.
 * A feature counts only if the OS saves the registers it needs (XCR0 bits for
 * YMM state and, for AVX-512, opmask/ZMM state). Detected once, then cached. */
#include "util/cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned detect(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_os = (xcr0 & 0x6) == 0x6;
    int zmm_os = ymm_os && (xcr0 & 0xE0) == 0xE0;
    int avx = ((c >> 28) & 1) && ymm_os;
    if (avx && ((c >> 12) & 1)) f |= HONE_CPU_FMA;
    if (avx && ((c >> 29) & 1)) f |= HONE_CPU_F16C;
    unsigned max = __get_cpuid_max(0, NULL);
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (avx && ((b >> 5) & 1)) f |= HONE_CPU_AVX2;
        if (zmm_os && ((b >> 16) & 1)) f |= HONE_CPU_AVX512F;
        if (zmm_os && ((b >> 30) & 1)) f |= HONE_CPU_AVX512BW;
        if (zmm_os && ((b >> 31) & 1)) f |= HONE_CPU_AVX512VL;
        if (zmm_os && ((c >> 11) & 1)) f |= HONE_CPU_AVX512VNNI;
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        if (zmm_os && ((a1 >> 5) & 1)) f |= HONE_CPU_AVX512BF16;
        if (avx && ((a1 >> 4) & 1)) f |= HONE_CPU_AVXVNNI;
    }
    return f;
}
#else
static unsigned detect(void) { return 0; }
#endif

unsigned hone_cpu_features(void) {
    static unsigned cached;
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        cached = detect();
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return cached;
}

int hone_cpu_features_str(unsigned f, char *buf, size_t n) {
    static const struct { unsigned bit; const char *name; } names[] = {
        {HONE_CPU_AVX2, "avx2"},         {HONE_CPU_FMA, "fma"},
        {HONE_CPU_F16C, "f16c"},         {HONE_CPU_AVX512F, "avx512f"},
        {HONE_CPU_AVX512BW, "avx512bw"}, {HONE_CPU_AVX512VL, "avx512vl"},
        {HONE_CPU_AVX512VNNI, "avx512_vnni"}, {HONE_CPU_AVX512BF16, "avx512_bf16"},
        {HONE_CPU_AVXVNNI, "avx_vnni"},
    };
    size_t used = 0;
    if (n) buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(f & names[i].bit)) continue;
        size_t len = strlen(names[i].name) + (used ? 1 : 0);
        if (used + len + 1 > n) return HONE_EARG;
        if (used) buf[used++] = ' ';
        memcpy(buf + used, names[i].name, strlen(names[i].name) + 1);
        used += strlen(names[i].name);
    }
    return HONE_OK;
}
