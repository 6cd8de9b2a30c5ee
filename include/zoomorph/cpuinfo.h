/*
 * cpuinfo.h: what the CPU can do, which BLAS kernels OpenBLAS runs on it, and which of
 * the engine's own kernels run; and the one fix for a BLAS that fell back.
 *
 * Debian 12's OpenBLAS 0.3.21 picks its kernels (its "core") from the CPU model when it
 * loads. On a CPU newer than the library (Sapphire/Emerald/Granite Rapids, some Zen) it
 * does not know the model and falls back to SSE3 ("Prescott") kernels, 2-5 times slower.
 * zm_cpu_autotune, called first in main() before MPI_Init, compares the core OpenBLAS
 * chose with what CPUID says the CPU (and the OS) supports; where the core is below it,
 * and OPENBLAS_CORETYPE was not set by the user, it sets OPENBLAS_CORETYPE and re-executes
 * the program, so it works under mpirun and srun alike. A user's OPENBLAS_CORETYPE always
 * wins (a warning says when it is below the CPU). ZM_BLAS_ASSUME_CORE=NAME (tests only)
 * makes zoomorph act as if OpenBLAS had chosen NAME.
 *
 * ZM_HAVE_CLONES: the engine's kernels are compiled three times (AVX-512F, AVX2, baseline)
 * and the CPU picks one at load time (src/nn/nn_simd.h); without it (sanitizers, clang)
 * only the baseline is built.
 */
#ifndef ZOOMORPH_CPUINFO_H
#define ZOOMORPH_CPUINFO_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(ZM_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__)
#define ZM_HAVE_CLONES 1
#else
#define ZM_HAVE_CLONES 0
#endif

/* Vector levels, lowest first. */
typedef enum {
    ZM_CPU_BASE = 0,   /* SSE2/SSE3 */
    ZM_CPU_AVX = 1,    /* AVX */
    ZM_CPU_AVX2 = 2,   /* AVX2 + FMA */
    ZM_CPU_AVX512 = 3  /* AVX-512 F, BW, VL, DQ, CD */
} zm_cpu_level;

typedef struct {
    char cpu_model[64];     /* CPUID brand string */
    int cpu_level;          /* zm_cpu_level the CPU and OS support */
    char blas_lib[256];     /* shared library that holds cblas_sgemm ("" if unknown) */
    char blas_config[128];  /* openblas_get_config(), or "" for another BLAS */
    char blas_core[32];     /* openblas_get_corename(), or "" */
    int blas_core_level;    /* zm_cpu_level of that core, -1 if unknown */
    char core_source[160];  /* how the core was chosen (library, user, zoomorph) */
    char engine[48];        /* the engine's kernels: "avx512f", "avx2", "baseline" ... */
} zm_cpu_info;

/* Before MPI_Init: may set OPENBLAS_CORETYPE and re-execute argv (does not return then).
 * Returns normally when nothing needs doing or re-execution failed (logged later). */
void zm_cpu_autotune(char **argv);

/* Fills *info (cheap; no allocation). */
void zm_cpu_info_get(zm_cpu_info *info);

/* One line: "BLAS OpenBLAS 0.3.21 ... core SkylakeX (...); engine avx512f; CPU ..." */
void zm_cpu_describe(char *buf, int n);

/* Level of an OpenBLAS core name (case-insensitive), -1 if unknown. */
int zm_cpu_core_level(const char *core);
/* The OpenBLAS core name to force for a level ("SkylakeX", "Haswell", "Sandybridge"),
 * NULL for the baseline. */
const char *zm_cpu_core_for_level(int level);

#endif
