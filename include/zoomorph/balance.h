/*
 * balance.h: assigning work items (bricks, files) to ranks.
 * Longest-processing-time first: items sorted by decreasing weight (ties by index) go
 * one by one to the currently least-loaded rank (ties to the lowest rank). The result
 * depends only on the weights and the rank count.
 */
#ifndef ZOOMORPH_BALANCE_H
#define ZOOMORPH_BALANCE_H

/* owner[i] = rank of item i. weights >= 0. */
void zm_assign_lpt(const long long *weights, int n, int nranks, int *owner);

#endif
