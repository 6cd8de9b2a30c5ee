/*
 * simgallery.h: PNG contact sheets of simulated galaxies by class, for people to look
 * at: the brightest `per_class` galaxies of each group (elliptical, lenticular, spiral,
 * barred, ringed, edge-on, dust-lane, boxy-bulge, merger, disturbed, shells), cut from
 * the written brick images with the pipeline's own cutout (Galaxy Zoo field rule and
 * colour stretch, cutout.h) and laid out with gallery.h, labelled by objid.
 *
 * Not collective: one rank calls it after the bricks are written. Not here: choosing
 * what is simulated (simsurvey.h).
 */
#ifndef ZOOMORPH_SIMGALLERY_H
#define ZOOMORPH_SIMGALLERY_H

#include "zoomorph/error.h"
#include "zoomorph/simsurvey.h"

/* Writes <galdir>/gallery-<group>.png for every group with at least one member, from
 * the survey under outdir; o holds all n objects (any order). size: stamp pixels.
 * *nwritten (may be NULL) gets the number of PNGs. */
int zm_sim_write_galleries(const char *outdir, const char *galdir, const zm_sim_object *o, long n,
                           int per_class, int size, int *nwritten, zm_err *err);

#endif
