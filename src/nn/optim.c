/*
 * optim.c: Adam/AdamW, gradient clipping and learning-rate schedules (nn_optim.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/error.h"
#include "zoomorph/nn_optim.h"

void zm_adam_init(zm_adam *o, zm_opt_kind kind, size_t n, float beta1, float beta2, float eps,
                  float weight_decay)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    o->n = n;
    o->m = zm_calloc(n ? n : 1, sizeof(float));
    o->v = zm_calloc(n ? n : 1, sizeof(float));
    zm_adam_set_blocks(o, 1, NULL, NULL);
}

void zm_adam_free(zm_adam *o)
{
    free(o->m);
    free(o->v);
    free(o->group_off);
    free(o->group_mult);
    memset(o, 0, sizeof *o);
}

void zm_adam_set_blocks(zm_adam *o, int n_blocks, const size_t *off, const float *mult)
{
    free(o->group_off);
    free(o->group_mult);
    o->n_groups = n_blocks;
    o->group_off = zm_malloc(sizeof(size_t) * (n_blocks + 1));
    o->group_mult = zm_malloc(sizeof(float) * n_blocks);
    for (int g = 0; g <= n_blocks; g++)
        o->group_off[g] = off ? off[g] : (g == 0 ? 0 : o->n);
    for (int g = 0; g < n_blocks; g++) o->group_mult[g] = mult ? mult[g] : 1.0f;
}

void zm_adam_layer_decay(zm_adam *o, int top, float decay)
{
    float m = 1.0f;
    for (int g = o->n_groups - 1; g >= 0; g--) {
        o->group_mult[g] = (o->n_groups - g <= top) ? m : 0.0f;
        m *= decay;
    }
}

void zm_adam_step(zm_adam *o, float *params, const float *grads, float lr)
{
    o->t++;
    double bc1 = 1.0 - pow(o->beta1, (double)o->t);
    double bc2s = sqrt(1.0 - pow(o->beta2, (double)o->t));
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps, wd = o->weight_decay;
    for (int g = 0; g < o->n_groups; g++) {
        float glr = lr * o->group_mult[g];
        if (glr == 0.0f) continue;
        float step = (float)(glr / bc1), ibc2 = (float)(1.0 / bc2s);
        float decay = o->kind == ZM_OPT_ADAMW ? 1.0f - glr * wd : 1.0f;
        float l2 = o->kind == ZM_OPT_ADAM ? wd : 0.0f;
        for (size_t i = o->group_off[g]; i < o->group_off[g + 1]; i++) {
            float p = params[i] * decay;
            float gr = grads[i] + l2 * params[i];
            float m = o->m[i] = b1 * o->m[i] + (1.0f - b1) * gr;
            float v = o->v[i] = b2 * o->v[i] + (1.0f - b2) * gr * gr;
            params[i] = p - step * m / (sqrtf(v) * ibc2 + eps);
        }
    }
}

float zm_grad_clip(float *grads, size_t n, float max_norm)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
    float norm = (float)sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float k = max_norm / (norm + 1e-6f);
        for (size_t i = 0; i < n; i++) grads[i] *= k;
    }
    return norm;
}

double zm_lr_at(const zm_lr_schedule *s, long step)
{
    if (s->warmup > 0 && step < s->warmup) return s->base * (double)(step + 1) / (double)s->warmup;
    long t = step - (s->warmup > 0 ? s->warmup : 0);
    switch (s->kind) {
    case ZM_LR_STEP:
        return s->step_size > 0 ? s->base * pow(s->gamma, (double)(t / s->step_size)) : s->base;
    case ZM_LR_COSINE: {
        long span = s->total - (s->warmup > 0 ? s->warmup : 0);
        if (span <= 0 || t >= span) return s->min_lr;
        return s->min_lr + 0.5 * (s->base - s->min_lr) * (1.0 + cos(M_PI * (double)t / span));
    }
    case ZM_LR_CONSTANT:
    default: return s->base;
    }
}
