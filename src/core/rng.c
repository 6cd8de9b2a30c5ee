/* rng.c: see rng.h (xoshiro256** 1.0 by Blackman and Vigna, public domain algorithm). */
#include "zoomorph/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void zm_rng_seed(zm_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t zm_rng_u64(zm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double zm_rng_uniform(zm_rng *r) { return (double)(zm_rng_u64(r) >> 11) * 0x1.0p-53; }

double zm_rng_normal(zm_rng *r)
{
    double u, v, s;
    do {
        u = 2.0 * zm_rng_uniform(r) - 1.0;
        v = 2.0 * zm_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

uint64_t zm_rng_below(zm_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = zm_rng_u64(r);
    while (x >= lim);
    return x % n;
}
