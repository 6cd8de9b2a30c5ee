/*
 * stage_stamp.c: what the cutout, embed and similar stages share to turn an image file
 * into a stamp and a stamp into a representation (declared in stage_common.h):
 * loading a brick's band images or a cutout file (FITS cube or PNG/JPEG picture),
 * cutting one galaxy's stamp from it by the [cutout] rules, and running stamps through
 * the encoder as `embed` does (centre crop to the model's input, one forward pass or
 * Monte-Carlo dropout passes, vote fractions from the Dirichlet concentrations).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stage_common.h"
#include "zoomorph/augment.h"
#include "zoomorph/gzloss.h"
#include "zoomorph/picture.h"
#include "zoomorph/survey.h"

void zm_loaded_unload(zm_loaded_input *L)
{
    for (int b = 0; b < ZM_MAX_BANDS; b++) zm_image_free(&L->img[b]);
    free(L->pic);
    memset(L, 0, sizeof *L);
    L->input = -1;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

int zm_is_picture_path(const char *path)
{
    return ends_with(path, ".png") || ends_with(path, ".jpg") || ends_with(path, ".jpeg");
}

int zm_input_load(const char *name, const char *path, int bricks_mode, const int wanted[ZM_MAX_BANDS],
                  int allow_missing, zm_loaded_input *L, zm_err *err)
{
    int input = L->input;
    zm_loaded_unload(L);
    L->input = input;
    if (bricks_mode) {
        zm_brick_files bf;
        zm_survey_brick_files_in(path, name, zm_band_letters, ZM_MAX_BANDS, &bf);
        for (int b = 0; b < ZM_MAX_BANDS; b++) {
            if (!wanted[b]) continue;
            if (!bf.image[b][0]) {
                L->bands.absent[b] = 1;
                if (allow_missing) continue;
                return zm_err_set(err, ZM_EMISSING, "brick %s: band %s image is missing in %s", name,
                                  zm_band_letters[b], path);
            }
            int rc = zm_image_read(bf.image[b], 1, &L->img[b], err);
            if (rc) return rc;
            if (L->img[b].nplanes != 1)
                return zm_err_set(err, ZM_EFORMAT, "%s HDU %d: NAXIS = 3; a brick image must be 2-D", bf.image[b],
                                  L->img[b].hdu);
            L->bands.img[b] = &L->img[b];
            L->bands.plane[b] = 0;
        }
        return 0;
    }
    if (zm_is_picture_path(path)) {
        L->is_picture = 1;
        return zm_picture_read(path, &L->pic, &L->pw, &L->ph, err);
    }
    zm_image *im = &L->img[0];
    int rc = zm_image_read(path, 1, im, err);
    if (rc) return rc;
    /* which plane holds which band: BANDS keyword, else the wanted bands in g, r, z order */
    int nwanted = wanted[0] + wanted[1] + wanted[2];
    if (im->bands[0]) {
        if ((long)strlen(im->bands) != im->nplanes)
            return zm_err_set(err, ZM_EFORMAT, "%s HDU %d: BANDS = '%s' but NAXIS3 = %ld", path, im->hdu, im->bands,
                              im->nplanes);
        for (int b = 0; b < ZM_MAX_BANDS; b++) {
            const char *c = strchr(im->bands, zm_band_letters[b][0]);
            if (wanted[b] && c) {
                L->bands.img[b] = im;
                L->bands.plane[b] = (int)(c - im->bands);
            } else if (wanted[b]) {
                L->bands.absent[b] = 1;
                if (allow_missing) continue;
                return zm_err_set(err, ZM_EMISSING, "%s HDU %d: band %s is not in BANDS = '%s'", path, im->hdu,
                                  zm_band_letters[b], im->bands);
            }
        }
    } else if (im->nplanes == nwanted) {
        int k = 0;
        for (int b = 0; b < ZM_MAX_BANDS; b++)
            if (wanted[b]) {
                L->bands.img[b] = im;
                L->bands.plane[b] = k++;
            }
    } else {
        return zm_err_set(err, ZM_EFORMAT,
                          "%s HDU %d: %ld planes and no BANDS keyword; expected %d (the bands of [survey] bands)", path,
                          im->hdu, im->nplanes, nwanted);
    }
    return 0;
}

int zm_stamp_make(const zm_stamp_rules *r, zm_loaded_input *L, double ra, double dec, float r50, float th50,
                  float th90, float *work, float *stamp, unsigned *flags, float *pixscale, zm_err *err)
{
    *flags = 0;
    *pixscale = 0;
    if (L->is_picture) {
        zm_cutout_from_picture(&r->cfg, L->pic, L->pw, L->ph, work, stamp);
        *flags = ZM_CUT_PRESTRETCHED;
        return 0;
    }
    zm_field_rule use = r->rule;
    if (r->rule_auto) use.kind = r->bricks_mode || isfinite(th50) ? ZM_FIELD_GZ : ZM_FIELD_NATIVE;
    zm_image *ref = L->bands.img[0] ? L->bands.img[0] : L->bands.img[1] ? L->bands.img[1] : L->bands.img[2];
    double native = use.kind == ZM_FIELD_NATIVE && ref ? zm_image_width_arcsec(ref, ra, dec) : 0;
    double field = zm_field_arcsec(&use, th50, th90, r50, native);
    *pixscale = (float)(field / r->cfg.size);
    return zm_cutout_make(&r->cfg, &L->bands, ra, dec, field, work, stamp, flags, err);
}

int zm_stamp_rules_from_params(const zm_params *p, zm_stamp_rules *r, zm_err *err)
{
    zm_cutout_cfg_from_params(p, &r->cfg, &r->rule, &r->dtype, &r->rule_auto);
    r->bricks_mode = !strcmp(zm_param_str(p, "survey.mode"), "bricks");
    r->allow_missing = zm_param_bool(p, "survey.allow_missing_bands");
    return zm_survey_bands(p, r->wanted, err) < 0 ? ZM_ECONFIG : 0;
}

/* ---- the encoder ---- */

int zm_embedder_open(const zm_params *p, const char *weights, int C, int S, const char *stamps_where, int batch,
                     int mc, zm_embedder *e, zm_err *err)
{
    memset(e, 0, sizeof *e);
    snprintf(e->weights, sizeof e->weights, "%s", weights);
    int rc = zm_net_file_info(weights, &e->info, err);
    if (rc) {
        zm_err_prefix(err, "[embed] weights");
        return rc;
    }
    const char *treename = zm_param_str(p, "labels.tree");
    rc = !strcmp(treename, "decals") ? zm_gz_schema_decals(&e->tree, err) : zm_gz_schema_load(&e->tree, treename, err);
    if (rc) return rc;
    e->have_tree = 1;
    if (e->info.in_ch != C || e->info.in_size > S)
        return zm_err_set(err, ZM_ECONFIG,
                          "model %s takes %d channel(s) of %d x %d pixels, but the stamps in %s are %d channel(s) of "
                          "%d x %d; cut the stamps to match ([cutout] channels, size) or use another model",
                          weights, e->info.in_ch, e->info.in_size, e->info.in_size, stamps_where, C, S, S);
    if (e->info.n_out != e->tree.nanswers)
        return zm_err_set(err, ZM_ECONFIG, "model %s has %d outputs but the tree [labels] tree = %s has %d answers",
                          weights, e->info.n_out, treename, e->tree.nanswers);
    zm_net_config nc = zm_net_config_default(e->info.arch);
    nc.in_ch = e->info.in_ch;
    nc.in_size = e->info.in_size;
    nc.n_out = e->info.n_out;
    nc.max_batch = batch;
    nc.inference_only = 1;
    nc.seed = 1;
    rc = zm_net_create(&e->net, &nc, err);
    if (!rc) rc = zm_net_load(e->net, weights, 0, err);
    if (rc) return rc;
    e->C = C, e->S = S, e->K = e->info.in_size, e->batch = batch, e->mc = mc;
    e->D = zm_net_repr_dim(e->net);
    e->A = e->tree.nanswers;
    e->x = zm_malloc((size_t)batch * C * e->K * e->K * sizeof *e->x);
    e->a1 = zm_malloc((size_t)e->A * sizeof *e->a1);
    e->f1 = zm_malloc((size_t)e->A * sizeof *e->f1);
    return 0;
}

int zm_embedder_run(zm_embedder *e, const float *raw, int m, uint64_t stream, float *emb, float *conc, float *frac,
                    float *sd, zm_err *err)
{
    const int A = e->A, D = e->D;
    const size_t per = (size_t)e->C * e->S * e->S, perk = (size_t)e->C * e->K * e->K;
    if (m > e->batch) ZM_ABORT("zm_embedder_run: %d stamps for a batch of %d", m, e->batch);
    zm_aug centre;
    zm_aug_center(e->S, e->K, &centre);
    for (int i = 0; i < m; i++) zm_aug_apply(raw + (size_t)i * per, e->C, e->S, e->K, &centre, e->x + (size_t)i * perk);
    int passes = e->mc > 0 ? e->mc : 1;
    memset(conc, 0, (size_t)m * A * sizeof *conc);
    memset(frac, 0, (size_t)m * A * sizeof *frac);
    memset(sd, 0, (size_t)m * A * sizeof *sd);
    for (int ps = 0; ps < passes; ps++) {
        zm_rng_seed(&e->net->rng, 0xd1ce + (uint64_t)ps, stream);
        zm_err ne = {0};
        /* passes after the first rerun only the ops from the dropout on */
        if (ps ? zm_net_forward_mc_again(e->net, &ne)
               : zm_net_forward(e->net, e->x, m, e->mc > 0 ? ZM_MODE_MC : ZM_MODE_EVAL, &ne))
            return zm_err_set(err, ZM_EVALUE, "embed: %s", ne.msg);
        if (ps == 0) memcpy(emb, zm_net_repr(e->net), (size_t)m * D * sizeof *emb);
        const float *y = zm_net_output(e->net);
        for (int i = 0; i < m; i++) {
            zm_gz_concentration(y + (size_t)i * A, A, e->a1);
            zm_gz_vote_fraction(&e->tree, e->a1, e->f1);
            for (int k = 0; k < A; k++) {
                conc[(size_t)i * A + k] += e->a1[k] / passes;
                frac[(size_t)i * A + k] += e->f1[k] / passes;
                sd[(size_t)i * A + k] += e->f1[k] * e->f1[k] / passes;
            }
        }
    }
    for (int i = 0; i < m; i++)
        for (int k = 0; k < A; k++) {
            float v = sd[(size_t)i * A + k] - frac[(size_t)i * A + k] * frac[(size_t)i * A + k];
            sd[(size_t)i * A + k] = v > 0 ? sqrtf(v) : 0.0f;
        }
    return 0;
}

void zm_embedder_close(zm_embedder *e)
{
    zm_net_free(e->net);
    if (e->have_tree) zm_gz_schema_free(&e->tree);
    free(e->x), free(e->a1), free(e->f1);
    memset(e, 0, sizeof *e);
}
