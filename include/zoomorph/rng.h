/*
 * rng.h: xoshiro256** seeded by splitmix64 from (seed, stream): deterministic,
 * independent streams per rank, brick or galaxy, the same on every platform.
 */
#ifndef ZOOMORPH_RNG_H
#define ZOOMORPH_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} zm_rng;

void zm_rng_seed(zm_rng *r, uint64_t seed, uint64_t stream);
uint64_t zm_rng_u64(zm_rng *r);
double zm_rng_uniform(zm_rng *r);        /* [0, 1) with 53 random bits */
double zm_rng_normal(zm_rng *r);         /* standard normal (Box-Muller, polar) */
uint64_t zm_rng_below(zm_rng *r, uint64_t n); /* uniform in [0, n), unbiased */

#endif
