/*
 * simvotes.h: simulated Galaxy Zoo volunteers (a first cut of phase 2). For each
 * galaxy, zm_sim_vote_probs gives the noise-free probability of every answer of a
 * decision tree (conditional on its question being asked), following the galaxy's true
 * components and blurred by how visible they are at its size, brightness and seeing,
 * with a little volunteer confusion. zm_sim_votes_draw walks the tree for a number of
 * volunteers and counts the answers, so a child question never has more votes than the
 * parent answer that leads to it.
 *
 * The model knows the GZ DECaLS answer columns by name; questions of another tree that
 * it does not know get uniform answer probabilities. Also the extra count
 * rare-features_ring (volunteers who tick "ring"), for the paper's ring rule.
 */
#ifndef ZOOMORPH_SIMVOTES_H
#define ZOOMORPH_SIMVOTES_H

#include "zoomorph/gzschema.h"
#include "zoomorph/rng.h"
#include "zoomorph/simsurvey.h"

/* p: schema->nanswers probabilities (each question's answers sum to 1); *p_ring: the
 * probability that a volunteer ticks "ring". */
void zm_sim_vote_probs(const zm_gz_schema *s, const zm_sim_object *o, double *p, double *p_ring);

/* nvol volunteers walk the tree; counts: schema->nanswers answer counts, totals:
 * schema->nquestions, *ring: ring ticks. */
void zm_sim_votes_draw(const zm_gz_schema *s, const double *p, double p_ring, int nvol,
                       zm_rng *r, int *counts, int *totals, int *ring);

/* votes.csv for objects o (galaxies only are written), one stream per galaxy from
 * (seed, brick_index, objid); volunteers per galaxy uniform in [min_vol, max_vol].
 * rings_path (NULL: none): rings.csv by the paper's rule on the drawn votes: among
 * featured face-on galaxies (featured-or-disk and disk-edge-on_no fractions > 0.5),
 * ring = 1 if the ring vote fraction is above 0.25, 0 if below 0.05, others left out. */
/* fits_path (NULL: none): the same rows as a FITS binary table (votes.fits). */
int zm_sim_write_votes(const char *path, const char *fits_path, const char *rings_path,
                       const zm_gz_schema *s, const zm_sim_object *o, long n, uint64_t seed,
                       int min_vol, int max_vol, zm_err *err);

#endif
