/*
 * cpuinfo.c: CPU features by CPUID, the BLAS core OpenBLAS chose, and the re-execution
 * that replaces a fallback core (see cpuinfo.h). Linux and x86-64 for the CPUID part;
 * elsewhere the CPU level is the baseline and nothing is re-executed.
 */
#define _GNU_SOURCE /* dladdr */
#include "zoomorph/cpuinfo.h"

#include <cblas.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

/* OpenBLAS's own query functions; weak so that another BLAS links too. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));

static const struct {
    const char *name;
    int level;
} core_levels[] = {
    {"SkylakeX", ZM_CPU_AVX512}, {"Cooperlake", ZM_CPU_AVX512}, {"SapphireRapids", ZM_CPU_AVX512},
    {"Haswell", ZM_CPU_AVX2},    {"Zen", ZM_CPU_AVX2},
    {"Sandybridge", ZM_CPU_AVX}, {"Bulldozer", ZM_CPU_AVX},     {"Piledriver", ZM_CPU_AVX},
    {"Steamroller", ZM_CPU_AVX}, {"Excavator", ZM_CPU_AVX},
    {"Katmai", ZM_CPU_BASE},     {"Coppermine", ZM_CPU_BASE},   {"Northwood", ZM_CPU_BASE},
    {"Prescott", ZM_CPU_BASE},   {"Banias", ZM_CPU_BASE},       {"Atom", ZM_CPU_BASE},
    {"Core2", ZM_CPU_BASE},      {"Penryn", ZM_CPU_BASE},       {"Dunnington", ZM_CPU_BASE},
    {"Nehalem", ZM_CPU_BASE},    {"Athlon", ZM_CPU_BASE},       {"Opteron", ZM_CPU_BASE},
    {"Opteron_SSE3", ZM_CPU_BASE}, {"Barcelona", ZM_CPU_BASE},  {"Nano", ZM_CPU_BASE},
    {"Bobcat", ZM_CPU_BASE},
};

int zm_cpu_core_level(const char *core)
{
    if (!core) return -1;
    for (size_t i = 0; i < sizeof core_levels / sizeof core_levels[0]; i++)
        if (!strcasecmp(core, core_levels[i].name)) return core_levels[i].level;
    return -1;
}

const char *zm_cpu_core_for_level(int level)
{
    switch (level) {
    case ZM_CPU_AVX512: return "SkylakeX";
    case ZM_CPU_AVX2: return "Haswell";
    case ZM_CPU_AVX: return "Sandybridge";
    default: return NULL;
    }
}

static const char *level_name(int level)
{
    static const char *names[] = {"SSE2", "AVX", "AVX2+FMA", "AVX-512F/BW/VL"};
    return level >= 0 && level <= 3 ? names[level] : "unknown";
}

/* The highest level both the CPU and the OS (saved register state, XGETBV) support. */
static int cpu_level(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return ZM_CPU_BASE;
    int avx = (c >> 28) & 1, fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (!avx || !osxsave) return ZM_CPU_BASE;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return ZM_CPU_BASE; /* the OS saves no YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return ZM_CPU_AVX;
    int avx2 = (b >> 5) & 1;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1,
        vl = (b >> 31) & 1;
    if (f && dq && cd && bw && vl && (lo & 0xE0) == 0xE0) return ZM_CPU_AVX512;
    if (avx2 && fma) return ZM_CPU_AVX2;
    return ZM_CPU_AVX;
#else
    return ZM_CPU_BASE;
#endif
}

static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown CPU");
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned r[12];
    if (__get_cpuid(0x80000000, &r[0], &r[1], &r[2], &r[3]) && r[0] >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        char s[49];
        memcpy(s, r, 48);
        s[48] = 0;
        const char *p = s;
        while (*p == ' ') p++;
        snprintf(buf, n, "%s", p);
        size_t len = strlen(buf);
        while (len && buf[len - 1] == ' ') buf[--len] = 0;
    }
#endif
}

/* The core the library runs now: ZM_BLAS_ASSUME_CORE (tests) stands in for the library's
 * own choice when OPENBLAS_CORETYPE is unset. */
static const char *chosen_core(void)
{
    const char *assume = getenv("ZM_BLAS_ASSUME_CORE");
    if (assume && *assume && !getenv("OPENBLAS_CORETYPE")) return assume;
    return openblas_get_corename ? openblas_get_corename() : NULL;
}

void zm_cpu_autotune(char **argv)
{
    if (!openblas_get_corename || getenv("ZM_BLAS_REEXEC")) return;
    if (getenv("OPENBLAS_CORETYPE")) return; /* the user's setting wins */
    const char *conf = openblas_get_config ? openblas_get_config() : "";
    if (!strstr(conf, "DYNAMIC_ARCH")) return; /* one core built in: nothing to choose */
    const char *core = chosen_core();
    int have = zm_cpu_core_level(core), can = cpu_level();
    const char *want = zm_cpu_core_for_level(can);
    if (have < 0 || have >= can || !want) return;
    char was[64];
    snprintf(was, sizeof was, "%s", core);
    if (setenv("OPENBLAS_CORETYPE", want, 1) || setenv("ZM_BLAS_REEXEC", was, 1)) return;
    execv("/proc/self/exe", argv);
    /* still here: run on the library's choice and say why (zm_cpu_info_get) */
    char why[160];
    snprintf(why, sizeof why, "%s: re-executing /proc/self/exe failed: %s", was, strerror(errno));
    unsetenv("OPENBLAS_CORETYPE");
    setenv("ZM_BLAS_REEXEC", why, 1);
    setenv("ZM_BLAS_REEXEC_FAILED", "1", 1);
}

void zm_cpu_info_get(zm_cpu_info *info)
{
    memset(info, 0, sizeof *info);
    cpu_model(info->cpu_model, sizeof info->cpu_model);
    info->cpu_level = cpu_level();
    Dl_info dl;
    if (dladdr((void *)cblas_sgemm, &dl) && dl.dli_fname)
        snprintf(info->blas_lib, sizeof info->blas_lib, "%s", dl.dli_fname);
    if (openblas_get_config) snprintf(info->blas_config, sizeof info->blas_config, "%s",
                                      openblas_get_config());
    const char *core = openblas_get_corename ? openblas_get_corename() : NULL;
    snprintf(info->blas_core, sizeof info->blas_core, "%s", core ? core : "");
    info->blas_core_level = zm_cpu_core_level(core);
    const char *user = getenv("OPENBLAS_CORETYPE"), *re = getenv("ZM_BLAS_REEXEC");
    if (!core)
        snprintf(info->core_source, sizeof info->core_source, "not OpenBLAS");
    else if (re && getenv("ZM_BLAS_REEXEC_FAILED"))
        snprintf(info->core_source, sizeof info->core_source, "chosen by the library; %s", re);
    else if (re && user)
        snprintf(info->core_source, sizeof info->core_source,
                 "set by zoomorph: OpenBLAS chose %s for this %s CPU", re,
                 level_name(info->cpu_level));
    else if (user)
        snprintf(info->core_source, sizeof info->core_source, "OPENBLAS_CORETYPE=%s", user);
    else
        snprintf(info->core_source, sizeof info->core_source, "chosen by the library");
    int eng = ZM_HAVE_CLONES ? info->cpu_level : ZM_CPU_BASE;
    snprintf(info->engine, sizeof info->engine, "%s%s",
             eng >= ZM_CPU_AVX512 ? "avx512f" : eng >= ZM_CPU_AVX2 ? "avx2" : "baseline",
             ZM_HAVE_CLONES ? "" : " (built without per-CPU clones)");
}

void zm_cpu_describe(char *buf, int n)
{
    zm_cpu_info i;
    zm_cpu_info_get(&i);
    char ver[64] = "";
    if (i.blas_config[0]) { /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21" */
        const char *sp = strchr(i.blas_config, ' ');
        const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
        int len = sp2 ? (int)(sp2 - i.blas_config) : (int)strlen(i.blas_config);
        snprintf(ver, sizeof ver, "%.*s", len, i.blas_config);
    }
    snprintf(buf, (size_t)n, "BLAS %s (%s) core %s (%s); engine kernels %s; CPU %s (%s)",
             ver[0] ? ver : "unknown", i.blas_lib[0] ? i.blas_lib : "?",
             i.blas_core[0] ? i.blas_core : "?", i.core_source, i.engine, i.cpu_model,
             level_name(i.cpu_level));
}
