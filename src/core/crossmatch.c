/* crossmatch.c: see crossmatch.h. Positions are sorted into declination zones, and by RA
 * within a zone; a query scans the zones within the radius and, in each, the RA window
 * (widened by 1/cos(dec), wrapping at 0/360). */
#include "zoomorph/crossmatch.h"

#include <math.h>
#include <stdlib.h>

#include "zoomorph/error.h"

#define D2R (M_PI / 180.0)

struct zm_skyindex {
    long n;
    double zone_deg;
    int nzones;
    long *start;          /* nzones + 1 offsets into the sorted arrays */
    double *ra, *dec;     /* sorted by (zone, ra) */
    long *idx;            /* original index */
};

typedef struct {
    int zone;
    double ra, dec;
    long i;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->zone != y->zone) return x->zone < y->zone ? -1 : 1;
    if (x->ra != y->ra) return x->ra < y->ra ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

double zm_sky_distance(double ra1, double dec1, double ra2, double dec2)
{
    double s1 = sin((dec2 - dec1) * D2R / 2), s2 = sin((ra2 - ra1) * D2R / 2);
    double h = s1 * s1 + cos(dec1 * D2R) * cos(dec2 * D2R) * s2 * s2;
    return 2.0 * asin(sqrt(h < 1 ? h : 1)) / D2R * 3600.0;
}

static int zone_of(const zm_skyindex *ix, double dec)
{
    int z = (int)floor((dec + 90.0) / ix->zone_deg);
    return z < 0 ? 0 : z >= ix->nzones ? ix->nzones - 1 : z;
}

zm_skyindex *zm_skyindex_build(const double *ra, const double *dec, long n, double hint)
{
    zm_skyindex *ix = zm_calloc(1, sizeof *ix);
    ix->n = n;
    ix->zone_deg = fmax(hint, 1.0) / 3600.0 * 4.0;
    if (ix->zone_deg < 1.0 / 3600) ix->zone_deg = 1.0 / 3600;
    ix->nzones = (int)ceil(180.0 / ix->zone_deg) + 1;
    if (ix->nzones > 2000000) {
        ix->nzones = 2000000;
        ix->zone_deg = 180.0 / (ix->nzones - 1);
    }
    entry *e = zm_malloc((size_t)(n ? n : 1) * sizeof *e);
    for (long i = 0; i < n; i++) {
        double r = fmod(ra[i], 360.0);
        if (r < 0) r += 360.0;
        e[i] = (entry){zone_of(ix, dec[i]), r, dec[i], i};
    }
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    ix->start = zm_calloc((size_t)ix->nzones + 1, sizeof *ix->start);
    ix->ra = zm_malloc((size_t)(n ? n : 1) * sizeof *ix->ra);
    ix->dec = zm_malloc((size_t)(n ? n : 1) * sizeof *ix->dec);
    ix->idx = zm_malloc((size_t)(n ? n : 1) * sizeof *ix->idx);
    for (long i = 0; i < n; i++) {
        ix->ra[i] = e[i].ra;
        ix->dec[i] = e[i].dec;
        ix->idx[i] = e[i].i;
        ix->start[e[i].zone + 1]++;
    }
    for (int z = 0; z < ix->nzones; z++) ix->start[z + 1] += ix->start[z];
    free(e);
    return ix;
}

void zm_skyindex_free(zm_skyindex *ix)
{
    if (!ix) return;
    free(ix->start), free(ix->ra), free(ix->dec), free(ix->idx);
    free(ix);
}

/* First position in [lo, hi) with ra >= v. */
static long lower_bound(const double *a, long lo, long hi, double v)
{
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void scan(const zm_skyindex *ix, long lo, long hi, double ra0, double ra1, double ra,
                 double dec, double radius, long *best, double *bestd)
{
    long k = lower_bound(ix->ra, lo, hi, ra0);
    for (; k < hi && ix->ra[k] <= ra1; k++) {
        double d = zm_sky_distance(ra, dec, ix->ra[k], ix->dec[k]);
        if (d <= radius && (d < *bestd || (d == *bestd && ix->idx[k] < *best))) {
            *bestd = d;
            *best = ix->idx[k];
        }
    }
}

long zm_skyindex_nearest(const zm_skyindex *ix, double ra, double dec, double radius,
                         double *dist)
{
    long best = -1;
    double bestd = INFINITY, rdeg = radius / 3600.0;
    ra = fmod(ra, 360.0);
    if (ra < 0) ra += 360.0;
    int z0 = zone_of(ix, dec - rdeg), z1 = zone_of(ix, dec + rdeg);
    double cosd = cos(fmin(fabs(dec) + rdeg, 90.0) * D2R);
    double dra = cosd > 1e-9 ? rdeg / cosd : 360.0;
    for (int z = z0; z <= z1; z++) {
        long lo = ix->start[z], hi = ix->start[z + 1];
        if (lo == hi) continue;
        if (dra >= 180.0) {
            scan(ix, lo, hi, -1.0, 361.0, ra, dec, radius, &best, &bestd);
            continue;
        }
        double a = ra - dra, b = ra + dra;
        scan(ix, lo, hi, a < 0 ? 0 : a, b > 360 ? 360 : b, ra, dec, radius, &best, &bestd);
        if (a < 0) scan(ix, lo, hi, a + 360.0, 360.0, ra, dec, radius, &best, &bestd);
        if (b > 360) scan(ix, lo, hi, 0.0, b - 360.0, ra, dec, radius, &best, &bestd);
    }
    if (dist) *dist = best >= 0 ? bestd : INFINITY;
    return best;
}
