/*
 * nn_build.h (private to src/nn): the graph builder (zm_nb_*) the architectures (arch.c) use.
 * Each call appends one op whose output is a new tensor and registers its parameters
 * under "<name>.weight", "<name>.bias", "<name>.running_mean", "<name>.running_var".
 */
#ifndef ZOOMORPH_NN_BUILD_H
#define ZOOMORPH_NN_BUILD_H

#include "zoomorph/nn.h"

typedef struct {
    zm_net *net;
    int cap_ops, cap_t, cap_p;
    int block; /* block of the ops appended next */
} zm_nb;

void zm_nb_init(zm_nb *b, zm_net *net);
int zm_nb_input(zm_nb *b, int c, int h, int w);
int zm_nb_conv(zm_nb *b, const char *name, int in, int O, int K, int S, int D, int G, int bias);
int zm_nb_bn(zm_nb *b, const char *name, int in);
int zm_nb_act(zm_nb *b, zm_op_kind kind, const char *name, int in);
int zm_nb_gap(zm_nb *b, const char *name, int in);
int zm_nb_maxpool(zm_nb *b, const char *name, int in, int K, int S, int D);
/* conv4d: register the weight as (O, I, 1, 1) (an SE 1x1 conv) instead of (O, I). */
int zm_nb_linear(zm_nb *b, const char *name, int in, int O, int conv4d);
int zm_nb_chscale(zm_nb *b, const char *name, int x, int s);
int zm_nb_add(zm_nb *b, const char *name, int a, int c);
int zm_nb_dropout(zm_nb *b, const char *name, int in, float p);
int zm_nb_droppath(zm_nb *b, const char *name, int in, float p);
/* Allocates every buffer and initialises the parameters. */
void zm_nb_finish(zm_nb *b);

/* Architectures (arch.c): build into b; 0 or ZM_ECONFIG. */
int zm_arch_build(zm_nb *b, const zm_net_config *cfg, zm_err *err);
/* The representation size of an architecture (0 for an unknown name). */
int zm_arch_repr_dim(const char *arch);

#endif
