/* bench_fitsread.c: time to read (decompress) a survey image with zoomorph's reader,
 * best of N runs, for comparison with cfitsio's own funpack on the same file.
 * usage: bench_fitsread FILE [N] -> prints "seconds megapixels" */
#include <stdio.h>
#include <stdlib.h>

#include "zoomorph/fitsimg.h"
#include "zoomorph/log.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_fitsread FILE [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 3;
    double best = 1e30, mpix = 0;
    for (int i = 0; i < n; i++) {
        zm_image img;
        zm_err err = {0};
        double t0 = zm_now();
        if (zm_image_read(argv[1], 1, &img, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t = zm_now() - t0;
        if (t < best) best = t;
        mpix = (double)img.nx * img.ny * img.nplanes / 1e6;
        zm_image_free(&img);
    }
    printf("%.4f %.2f\n", best, mpix);
    return 0;
}
