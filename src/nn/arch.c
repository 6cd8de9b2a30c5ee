/*
 * arch.c: the architectures, built op by op with the private builder (nn_build.h).
 *
 * efficientnet_b0 and zoonet follow torchvision's EfficientNet (models/efficientnet.py)
 * layer for layer, including module names, so that a torchvision state dict maps one to
 * one onto our parameters; zoonet is the same family with a smaller stage table (it is
 * torchvision's EfficientNet class given that table, which the reference test uses).
 * resnet18 follows torchvision's ResNet-18. Block numbering is documented in nn.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_build.h"

/* ---- the fine-tuning head (DESIGN.md, Zoobot's rings head) -------------------------- */

/* Linear(h) -> ReLU -> Dropout -> Linear(h) -> ReLU -> Dropout -> Linear(n_out), modules
 * head.0 .. head.6, all in the current (last) block. */
static int mlp_head(zm_nb *b, const zm_net_config *cfg, int x)
{
    x = zm_nb_linear(b, "head.0", x, cfg->head_hidden, 0);
    x = zm_nb_act(b, ZM_OP_RELU, "head.1", x);
    x = zm_nb_dropout(b, "head.2", x, cfg->dropout);
    x = zm_nb_linear(b, "head.3", x, cfg->head_hidden, 0);
    x = zm_nb_act(b, ZM_OP_RELU, "head.4", x);
    x = zm_nb_dropout(b, "head.5", x, cfg->dropout);
    return zm_nb_linear(b, "head.6", x, cfg->n_out, 0);
}

/* ---- EfficientNet family ----------------------------------------------------------- */

typedef struct {
    int expand, k, s, in, out, n;
} mb_stage;

static const mb_stage b0_stages[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};
/* zoonet: ~1 M parameters; fast at 64-128 px on 2 cores. */
static const mb_stage zoonet_stages[] = {
    {1, 3, 1, 16, 16, 1}, {4, 3, 2, 16, 24, 2}, {4, 5, 2, 24, 40, 2},
    {4, 3, 2, 40, 80, 2}, {4, 5, 1, 80, 96, 2}, {4, 5, 2, 96, 160, 2},
};

static int make_divisible(double v, int divisor)
{
    int nv = (int)(v + divisor / 2.0) / divisor * divisor;
    if (nv < divisor) nv = divisor;
    if (nv < 0.9 * v) nv += divisor;
    return nv;
}

/* Conv2dNormActivation: conv (no bias) + BN + optional activation; names <p>.0/.1/.2 */
static int conv_bn_act(zm_nb *b, const char *p, int x, int O, int K, int S, int G,
                       zm_op_kind act)
{
    char n[96];
    snprintf(n, sizeof n, "%s.0", p);
    x = zm_nb_conv(b, n, x, O, K, S, (K - 1) / 2, G, 0);
    snprintf(n, sizeof n, "%s.1", p);
    x = zm_nb_bn(b, n, x);
    if (act != ZM_OP_CONV) {
        snprintf(n, sizeof n, "%s.2", p);
        x = zm_nb_act(b, act, n, x);
    }
    return x;
}

static int mbconv(zm_nb *b, const char *p, int x, int expand, int K, int S, int out, float sd)
{
    char n[96], q[96];
    int in = b->net->t[x].c, exp = make_divisible((double)in * expand, 8);
    int h = x, i = 0;
    if (exp != in) {
        snprintf(q, sizeof q, "%s.block.%d", p, i++);
        h = conv_bn_act(b, q, h, exp, 1, 1, 1, ZM_OP_SILU);
    }
    snprintf(q, sizeof q, "%s.block.%d", p, i++);
    h = conv_bn_act(b, q, h, exp, K, S, exp, ZM_OP_SILU);
    /* squeeze-excitation */
    int sq = in / 4 > 1 ? in / 4 : 1;
    snprintf(q, sizeof q, "%s.block.%d", p, i++);
    snprintf(n, sizeof n, "%s.avgpool", q);
    int s = zm_nb_gap(b, n, h);
    snprintf(n, sizeof n, "%s.fc1", q);
    s = zm_nb_linear(b, n, s, sq, 1);
    snprintf(n, sizeof n, "%s.activation", q);
    s = zm_nb_act(b, ZM_OP_SILU, n, s);
    snprintf(n, sizeof n, "%s.fc2", q);
    s = zm_nb_linear(b, n, s, exp, 1);
    snprintf(n, sizeof n, "%s.scale_activation", q);
    s = zm_nb_act(b, ZM_OP_SIGMOID, n, s);
    snprintf(n, sizeof n, "%s.scale", q);
    h = zm_nb_chscale(b, n, h, s);
    snprintf(q, sizeof q, "%s.block.%d", p, i++);
    h = conv_bn_act(b, q, h, out, 1, 1, 1, ZM_OP_CONV);
    if (S == 1 && in == out) {
        if (sd > 0) {
            snprintf(n, sizeof n, "%s.stochastic_depth", p);
            h = zm_nb_droppath(b, n, h, sd);
        }
        snprintf(n, sizeof n, "%s.add", p);
        h = zm_nb_add(b, n, h, x);
    }
    return h;
}

static void efficientnet(zm_nb *b, const zm_net_config *cfg, const mb_stage *st, int nst,
                         int last_channel)
{
    zm_net *net = b->net;
    int x = net->input = zm_nb_input(b, cfg->in_ch, cfg->in_size, cfg->in_size);
    b->block = 0;
    x = conv_bn_act(b, "features.0", x, st[0].in, 3, 2, 1, ZM_OP_SILU);
    int total = 0, id = 0;
    for (int s = 0; s < nst; s++) total += st[s].n;
    for (int s = 0; s < nst; s++)
        for (int j = 0; j < st[s].n; j++) {
            char p[64];
            snprintf(p, sizeof p, "features.%d.%d", s + 1, j);
            b->block++;
            float sd = cfg->drop_path * (float)id / (float)total;
            x = mbconv(b, p, x, st[s].expand, st[s].k, j == 0 ? st[s].s : 1, st[s].out, sd);
            id++;
        }
    char p[64];
    snprintf(p, sizeof p, "features.%d", nst + 1);
    b->block++;
    x = conv_bn_act(b, p, x, last_channel, 1, 1, 1, ZM_OP_SILU);
    x = net->repr = zm_nb_gap(b, "avgpool", x);
    b->block++;
    if (cfg->head_hidden > 0) {
        net->output = mlp_head(b, cfg, x);
        return;
    }
    x = zm_nb_dropout(b, "classifier.0", x, cfg->dropout);
    net->output = zm_nb_linear(b, "classifier.1", x, cfg->n_out, 0);
}

/* ---- ResNet-18 --------------------------------------------------------------------- */

static int basic_block(zm_nb *b, const char *p, int x, int out, int S)
{
    char n[96];
    int in = b->net->t[x].c;
    snprintf(n, sizeof n, "%s.conv1", p);
    int h = zm_nb_conv(b, n, x, out, 3, S, 1, 1, 0);
    snprintf(n, sizeof n, "%s.bn1", p);
    h = zm_nb_bn(b, n, h);
    snprintf(n, sizeof n, "%s.relu1", p);
    h = zm_nb_act(b, ZM_OP_RELU, n, h);
    snprintf(n, sizeof n, "%s.conv2", p);
    h = zm_nb_conv(b, n, h, out, 3, 1, 1, 1, 0);
    snprintf(n, sizeof n, "%s.bn2", p);
    h = zm_nb_bn(b, n, h);
    int id = x;
    if (S != 1 || in != out) {
        snprintf(n, sizeof n, "%s.downsample.0", p);
        id = zm_nb_conv(b, n, x, out, 1, S, 0, 1, 0);
        snprintf(n, sizeof n, "%s.downsample.1", p);
        id = zm_nb_bn(b, n, id);
    }
    snprintf(n, sizeof n, "%s.add", p);
    h = zm_nb_add(b, n, h, id);
    snprintf(n, sizeof n, "%s.relu2", p);
    return zm_nb_act(b, ZM_OP_RELU, n, h);
}

static void resnet18(zm_nb *b, const zm_net_config *cfg)
{
    zm_net *net = b->net;
    int x = net->input = zm_nb_input(b, cfg->in_ch, cfg->in_size, cfg->in_size);
    b->block = 0;
    x = zm_nb_conv(b, "conv1", x, 64, 7, 2, 3, 1, 0);
    x = zm_nb_bn(b, "bn1", x);
    x = zm_nb_act(b, ZM_OP_RELU, "relu", x);
    x = zm_nb_maxpool(b, "maxpool", x, 3, 2, 1);
    static const int ch[4] = {64, 128, 256, 512};
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < 2; j++) {
            char p[64];
            snprintf(p, sizeof p, "layer%d.%d", l + 1, j);
            b->block++;
            x = basic_block(b, p, x, ch[l], (l > 0 && j == 0) ? 2 : 1);
        }
    x = net->repr = zm_nb_gap(b, "avgpool", x);
    b->block++;
    if (cfg->head_hidden > 0) {
        net->output = mlp_head(b, cfg, x);
        return;
    }
    x = zm_nb_dropout(b, "dropout", x, cfg->dropout);
    net->output = zm_nb_linear(b, "fc", x, cfg->n_out, 0);
}

int zm_arch_repr_dim(const char *arch)
{
    return !strcmp(arch, "efficientnet_b0") ? 1280 : !strcmp(arch, "zoonet") || !strcmp(arch, "resnet18") ? 512 : 0;
}

/* head_only: the head block alone, on the representation as a (D, 1, 1) input. */
static void head_only(zm_nb *b, const zm_net_config *cfg)
{
    zm_net *net = b->net;
    int x = net->input = net->repr = zm_nb_input(b, zm_arch_repr_dim(cfg->arch), 1, 1);
    b->block = 0;
    if (cfg->head_hidden > 0) {
        net->output = mlp_head(b, cfg, x);
        return;
    }
    int res = !strcmp(cfg->arch, "resnet18");
    x = zm_nb_dropout(b, res ? "dropout" : "classifier.0", x, cfg->dropout);
    net->output = zm_nb_linear(b, res ? "fc" : "classifier.1", x, cfg->n_out, 0);
}

int zm_arch_build(zm_nb *b, const zm_net_config *cfg, zm_err *err)
{
    if (cfg->head_only && zm_arch_repr_dim(cfg->arch) > 0)
        head_only(b, cfg);
    else if (strcmp(cfg->arch, "efficientnet_b0") == 0)
        efficientnet(b, cfg, b0_stages, 7, 1280);
    else if (strcmp(cfg->arch, "zoonet") == 0)
        efficientnet(b, cfg, zoonet_stages, 6, 512);
    else if (strcmp(cfg->arch, "resnet18") == 0)
        resnet18(b, cfg);
    else
        return zm_err_set(err, ZM_ECONFIG,
                          "network: unknown architecture '%s' (expected efficientnet_b0, "
                          "resnet18 or zoonet)",
                          cfg->arch);
    return 0;
}
