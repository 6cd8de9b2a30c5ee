/*
 * simlabels.h: the simulated survey's sparse labels besides the votes:
 *   tags.csv      (ra, dec, tag, brickname, objid, split): Galaxy Zoo Talk-like free
 *                 tags, left on only some of the objects that have the feature (more
 *                 often when it is prominent and the galaxy visible), plus occasional
 *                 wrong tags;
 *   interest.csv  (ra, dec, score, brickname, objid, split): one researcher's interest
 *                 0..5 in every galaxy: loves mergers, tidal features, shells and lenses, likes
 *                 rings a little, does not care about dust, artefacts or stars.
 * Each galaxy has its own random stream from (seed, brick_index, objid), distinct from
 * the votes' streams, so the files do not depend on the number of ranks.
 */
#ifndef ZOOMORPH_SIMLABELS_H
#define ZOOMORPH_SIMLABELS_H

#include <stdint.h>

#include "zoomorph/error.h"
#include "zoomorph/simsurvey.h"
#include "zoomorph/table.h"

/* Tags known to the simulator (tags.csv uses only these). */
extern const char *const zm_sim_tag_names[];
extern const int zm_sim_ntags;

/* The probability that Talk volunteers tag object o with tag t (before wrong tags);
 * exposed for tests. */
double zm_sim_tag_prob(const zm_sim_object *o, int t);
/* The researcher's noise-free interest (0..5, real) in object o. */
double zm_sim_interest_true(const zm_sim_object *o);

/* The simulator's truth behind a tag, for every row of truth.fits: present[row] = 1
 * where the object has the feature the tag names (ring: a ring or outer ring; merger and
 * overlapping: a companion; edge-on, elliptical, irregular, diffuse, star: the class...).
 * Returns 0, 1 if the simulator has no such tag, or an error naming the file and column. */
int zm_sim_tag_truth(zm_table *truth, const char *tag, unsigned char *present, zm_err *err);

int zm_sim_write_tags(const char *path, const zm_sim_object *o, long n, uint64_t seed, zm_err *err);
int zm_sim_write_interest(const char *path, const zm_sim_object *o, long n, uint64_t seed, zm_err *err);

#endif
