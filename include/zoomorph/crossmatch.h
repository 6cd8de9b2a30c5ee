/*
 * crossmatch.h: nearest-neighbour matching of sky positions (labels, votes, queries to
 * store rows) within a radius, with a declination-zone index: O((n + m) log n).
 * Distances are great-circle (haversine), in arcsec. Ties go to the lower index.
 */
#ifndef ZOOMORPH_CROSSMATCH_H
#define ZOOMORPH_CROSSMATCH_H

typedef struct zm_skyindex zm_skyindex;

/* Indexes n positions (deg); zone height radius_hint_arcsec (matches within any radius
 * still work, they only cost more beyond it). */
zm_skyindex *zm_skyindex_build(const double *ra, const double *dec, long n,
                               double radius_hint_arcsec);
void zm_skyindex_free(zm_skyindex *ix);
/* The nearest indexed position to (ra, dec) within radius arcsec: its index, or -1;
 * *dist_arcsec gets the distance (to the nearest one found within the radius). */
long zm_skyindex_nearest(const zm_skyindex *ix, double ra, double dec, double radius_arcsec,
                         double *dist_arcsec);
/* Great-circle distance in arcsec. */
double zm_sky_distance(double ra1, double dec1, double ra2, double dec2);

#endif
