/*
 * nn_simd.h (private to src/nn): vectorisation helpers for the kernels.
 *
 * The project builds with -O2 and no -march, where GCC vectorises almost nothing and
 * only with SSE2. Kernel files include this header first: it raises them to -O3 with
 * float sums reassociated (so reductions vectorise; NaN and inf still propagate: no
 * -ffinite-math-only) and a*b+c contracted to FMA where the target has it (-std=c11
 * otherwise turns contraction off), and
 * ZM_VEC compiles a function three times (AVX-512F, which brings FMA and 16-wide
 * vectors; AVX2; the baseline), picked at load time by the CPU (GCC target_clones /
 * ifunc), so one binary runs everywhere. (Not "arch=haswell" or
 * "arch=x86-64-v3": GCC 12's resolver then tests the CPU model, and an AMD EPYC gets the
 * baseline.)
 * Define ZM_NO_CLONES to turn the cloning off (e.g. for sanitizers or other compilers).
 * zm_expf is a vectorisable exp (Cephes polynomial, ~2 ulp), NaN passes through.
 */
#ifndef ZOOMORPH_NN_SIMD_H
#define ZOOMORPH_NN_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3,no-trapping-math,no-signed-zeros,associative-math,fp-contract=fast")
#endif

#include "zoomorph/cpuinfo.h" /* ZM_HAVE_CLONES: one condition, also reported by --version */

#if ZM_HAVE_CLONES
#define ZM_VEC __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ZM_VEC
#endif

static inline __attribute__((always_inline)) float zm_expf(float x)
{
    float c = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    c = c != c ? 0.0f : c; /* NaN: no float-to-int of NaN below; x is returned */
    float n = floorf(c * 1.44269504088896341f + 0.5f);
    float r = c - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return x != x ? x : p * s;
}

#endif
