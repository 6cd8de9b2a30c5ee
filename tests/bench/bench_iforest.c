/* bench_iforest.c: isolation forest fit + score on N x D vectors (200k x 32 by default,
 * overlapping Gaussian clusters with 2% outliers), 100 trees x 256, one thread; writes the
 * data for the scikit-learn peer (tests/bench/bench_iforest.sh runs both).
 * usage: bench_iforest OUTDIR [N] [D] -> prints "zoomorph_fit_score_s S" */
#include <stdio.h>
#include <stdlib.h>

#include "zoomorph/iforest.h"
#include "zoomorph/log.h"
#include "zoomorph/rng.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    long n = argc > 2 ? atol(argv[2]) : 200000;
    int d = argc > 3 ? atoi(argv[3]) : 32;
    float *x = malloc((size_t)n * d * sizeof *x), *s = malloc((size_t)n * sizeof *s);
    unsigned char *y = malloc((size_t)n);
    zm_rng r;
    zm_rng_seed(&r, 1, 0);
    for (long i = 0; i < n; i++) {
        int out = zm_rng_uniform(&r) < 0.02, c = (int)zm_rng_below(&r, 1000);
        y[i] = (unsigned char)out;
        for (int j = 0; j < d; j++)
            x[(size_t)i * d + j] = out ? (float)(8 * zm_rng_uniform(&r) - 4) : (float)(((c * 7 + j * 13) % 17) / 4.0 - 2 + 0.5 * zm_rng_normal(&r));
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/x.f32", argv[1]);
    FILE *f = fopen(p, "wb");
    fwrite(x, sizeof *x, (size_t)n * d, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/y.u8", argv[1]);
    f = fopen(p, "wb");
    fwrite(y, 1, (size_t)n, f);
    fclose(f);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        zm_iforest fo;
        zm_err err = {0};
        double t0 = zm_now();
        if (zm_iforest_fit(&fo, x, n, d, 100, 256, 7 + rep, &err)) return 1;
        zm_iforest_score(&fo, x, n, s);
        double t = zm_now() - t0;
        if (t < best) best = t;
        zm_iforest_free(&fo);
    }
    snprintf(p, sizeof p, "%s/ours.f32", argv[1]);
    f = fopen(p, "wb");
    fwrite(s, sizeof *s, (size_t)n, f);
    fclose(f);
    printf("zoomorph_fit_score_s %.3f\n", best);
    return 0;
}
