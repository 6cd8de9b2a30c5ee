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
#include "zoomorph/log.h"
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

/* The sky field of a cutout file, in arcsec (0 where unknown): a Galaxy Zoo file spans
 * input_gz_pixels pixels of the gz rule's scale when the galaxy's size is known; otherwise
 * a FITS file's WCS gives it, a picture's input_pixscale ([survey] input_field pixscale). */
static double input_width_arcsec(const zm_stamp_rules *r, zm_loaded_input *L, zm_image *ref, double ra, double dec,
                                 float r50, float th50, float th90)
{
    if (r->input_field == ZM_INPUT_GZ) {
        zm_field_rule gz = r->rule;
        gz.kind = ZM_FIELD_GZ;
        gz.gz_pixels = r->input_gz_pixels;
        if (isfinite(th50) || r50 > 0) return zm_field_arcsec(&gz, th50, th90, r50, 0);
    }
    if (L->is_picture) return r->input_field == ZM_INPUT_PIXSCALE ? r->input_pixscale * L->pw : 0;
    return ref ? zm_image_width_arcsec(ref, ra, dec) : 0;
}

int zm_stamp_make(const zm_stamp_rules *r, zm_loaded_input *L, double ra, double dec, float r50, float th50,
                  float th90, float *work, float *stamp, unsigned *flags, float *pixscale, zm_err *err)
{
    *flags = 0;
    *pixscale = 0;
    zm_field_rule use = r->rule;
    zm_image *ref = L->is_picture ? NULL
                    : L->bands.img[0] ? L->bands.img[0] : L->bands.img[1] ? L->bands.img[1] : L->bands.img[2];
    double field, frac = 0; /* frac: the field as a fraction of the input's width (files) */
    if (r->bricks_mode) {
        field = zm_field_arcsec(&use, th50, th90, r50, 0);
    } else if (use.kind == ZM_FIELD_NATIVE) {
        frac = 1;
        field = L->is_picture ? 0 : zm_image_width_arcsec(ref, ra, dec);
    } else {
        double width = input_width_arcsec(r, L, ref, ra, dec, r50, th50, th90);
        if (use.kind == ZM_FIELD_GZ && r->input_field == ZM_INPUT_GZ) {
            /* both at the gz rule's scale: the field is a fixed part of the file */
            frac = use.gz_pixels / r->input_gz_pixels;
            field = width > 0 ? frac * width : 0;
        } else if (L->is_picture && !(width > 0) && r->input_field != ZM_INPUT_GZ) {
            return zm_err_set(err, ZM_EREJECT,
                              "a PNG/JPEG picture has no known field on the sky: set [survey] input_field = gz "
                              "(Galaxy Zoo pictures) or pixscale, or [cutout] field_rule = native (the whole picture)");
        } else if (use.kind == ZM_FIELD_GZ && !isfinite(th50) && !(r50 > 0)) {
            return zm_err_set(err, ZM_EREJECT,
                              "the gz field rule needs the galaxy's size: add petro_th50 to the cutout table, or set "
                              "[survey] input_field = gz (Galaxy Zoo files) or [cutout] field_rule = fixed or native");
        } else if (!(width > 0)) {
            return zm_err_set(err, ZM_EREJECT, "the file has no usable WCS at the galaxy to give its scale");
        } else {
            field = zm_field_arcsec(&use, th50, th90, r50, 0);
            frac = field / width;
        }
    }
    if (L->is_picture) {
        if (!(frac > 0 && frac < 1e3)) return zm_err_set(err, ZM_EREJECT, "field fraction %g of the picture", frac);
        zm_cutout_from_picture(&r->cfg, L->pic, L->pw, L->ph, frac, work, stamp, flags);
        *pixscale = (float)(field / r->cfg.size);
        if ((*flags & ZM_CUT_EDGE) && r->cfg.edge_reject)
            return zm_err_set(err, ZM_EREJECT, "the field (%.3g of the picture's width) runs off the picture", frac);
        return 0;
    }
    if (!(field > 0)) return zm_err_set(err, ZM_EREJECT, "the file has no usable WCS at the galaxy to give its scale");
    *pixscale = (float)(field / r->cfg.size);
    return zm_cutout_make(&r->cfg, &L->bands, ra, dec, field, work, stamp, flags, err);
}

int zm_stamp_rules_from_params(const zm_params *p, zm_stamp_rules *r, zm_err *err)
{
    zm_cutout_cfg_from_params(p, &r->cfg, &r->rule, &r->dtype, &r->rule_auto);
    r->bricks_mode = !strcmp(zm_param_str(p, "survey.mode"), "bricks");
    r->allow_missing = zm_param_bool(p, "survey.allow_missing_bands");
    const char *inf = zm_param_str(p, "survey.input_field");
    r->input_field = !strcmp(inf, "gz") ? ZM_INPUT_GZ : !strcmp(inf, "pixscale") ? ZM_INPUT_PIXSCALE : ZM_INPUT_AUTO;
    r->input_gz_pixels = zm_param_real(p, "survey.input_gz_pixels");
    r->input_pixscale = zm_param_real(p, "survey.input_pixscale");
    return zm_survey_bands(p, r->wanted, err) < 0 ? ZM_ECONFIG : 0;
}

void zm_stamp_field_text(const zm_stamp_rules *r, char *buf, size_t n)
{
    /* the stamp's size with the rule: a galaxy's size in pixels is the stamp's over the field */
    const zm_field_rule *f = &r->rule;
    if (!r->rule_auto && f->kind == ZM_FIELD_FIXED)
        snprintf(buf, n, "fixed: %g arcsec on %d-pixel stamps", f->fixed_arcsec, r->cfg.size);
    else if (!r->rule_auto && f->kind == ZM_FIELD_NATIVE)
        snprintf(buf, n, "native: the whole input on %d-pixel stamps", r->cfg.size);
    else /* auto is gz, on bricks and cutout files alike */
        snprintf(buf, n, "gz: %g x max(min(%g th50, %g th90), %g) arcsec on %d-pixel stamps", f->gz_pixels,
                 f->th50_factor, f->th90_factor, f->min_pixscale, r->cfg.size);
}

int zm_stamp_field_check(const zm_params *p, const char *weights, const char *model_field, const char *stamps_field,
                         const char *stamps_where, zm_err *err)
{
    if (!model_field[0] || !stamps_field[0] || !strcmp(model_field, stamps_field)) return 0;
    if (!zm_param_bool(p, "model.check_field")) {
        zm_warn0("model %s was trained on stamps cut with the field rule '%s', but the stamps in %s are cut with '%s' "
                 "([model] check_field = false: going on)", weights, model_field, stamps_where, stamps_field);
        return 0;
    }
    return zm_err_set(err, ZM_ECONFIG,
                      "model %s was trained on stamps cut with the field rule '%s', but the stamps in %s are cut with "
                      "'%s': cut them as the model was ([cutout] field_rule, gz_pixels, th50_factor, th90_factor, "
                      "min_pixscale, fixed_arcsec), use another model, or set [model] check_field = false",
                      weights, model_field, stamps_where, stamps_field);
}

void zm_store_stamp_field(zm_store *s, const zm_params *p, char *buf, size_t n)
{
    buf[0] = 0;
    if (!zm_store_exists(s, "/cutouts/images")) return;
    if (!zm_store_get_attr(s, "/cutouts/images", "field", buf, n)) return;
    /* a store cut before the attribute existed: the rule from the parameters its cutout
     * stage recorded */
    buf[0] = 0;
    const size_t cn = 1 << 17;
    char *cfg = zm_malloc(cn);
    if (!zm_store_get_attr(s, "/meta/stages/cutout", "config", cfg, cn) && strstr(cfg, "[cutout]")) {
        zm_params *q = zm_params_recorded(p, cfg);
        zm_stamp_rules r;
        zm_err e = {0};
        if (!zm_stamp_rules_from_params(q, &r, &e)) zm_stamp_field_text(&r, buf, n);
        zm_params_free(q);
    }
    free(cfg);
}

/* ---- the encoder ---- */

/* Attribute name of /representation/embedding as a whole number among the allowed (a
 * fixed-length string); def when absent or not one of them (with a warning). */
static int embed_attr(zm_store *s, const char *name, const int *allowed, int nallowed, const char *list, int def)
{
    char v[32] = "";
    int rc = zm_store_get_attr(s, "/representation/embedding", name, v, sizeof v);
    if (rc == ZM_EMISSING) return def;
    char *end = v;
    long n = rc ? -1 : strtol(v, &end, 10);
    for (int i = 0; i < nallowed && end != v && !*end; i++)
        if (n == allowed[i]) return (int)n;
    zm_warn0("store %s: /representation/embedding attribute %s is not one of %s (a fixed-length string); taking %d",
             zm_store_path(s), name, list, def);
    return def;
}

zm_views zm_embed_views(zm_store *s)
{
    static const int n[] = {1, 2, 4, 8}, angle[] = {0, 45};
    return (zm_views){embed_attr(s, "views", n, 4, "1, 2, 4, 8", 1), embed_attr(s, "view_angle", angle, 2, "0, 45", 0)};
}

int zm_embedder_open(const zm_params *p, const char *weights, int C, int S, const char *stamps_field,
                     const char *stamps_where, int batch, int mc, zm_embedder *e, zm_err *err)
{
    memset(e, 0, sizeof *e);
    e->views = (zm_views){1, 0};
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
    if (zm_stamp_field_check(p, weights, e->info.stamp_field, stamps_field, stamps_where, err)) return ZM_ECONFIG;
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
    const int A = e->A, D = e->D, views = e->views.n;
    if (m > e->batch) ZM_ABORT("zm_embedder_run: %d stamps for a batch of %d", m, e->batch);
    const int passes = e->mc > 0 ? e->mc : 1, samples = passes * views;
    memset(emb, 0, (size_t)m * D * sizeof *emb);
    memset(conc, 0, (size_t)m * A * sizeof *conc);
    memset(frac, 0, (size_t)m * A * sizeof *frac);
    memset(sd, 0, (size_t)m * A * sizeof *sd);
    for (int v = 0; v < views; v++) {
        zm_aug_view_apply(raw, m, e->C, e->S, e->K, e->views, v, e->x);
        for (int ps = 0; ps < passes; ps++) {
            zm_rng_seed(&e->net->rng, 0xd1ce + (uint64_t)ps, stream);
            zm_err ne = {0};
            /* passes after the first rerun only the ops from the dropout on */
            if (ps ? zm_net_forward_mc_again(e->net, &ne)
                   : zm_net_forward(e->net, e->x, m, e->mc > 0 ? ZM_MODE_MC : ZM_MODE_EVAL, &ne))
                return zm_err_set(err, ZM_EVALUE, "embed: %s", ne.msg);
            if (ps == 0) {
                const float *r = zm_net_repr(e->net);
                for (size_t j = 0; j < (size_t)m * D; j++) emb[j] += r[j] / views;
            }
            const float *y = zm_net_output(e->net);
            for (int i = 0; i < m; i++) {
                zm_gz_concentration(y + (size_t)i * A, A, e->a1);
                zm_gz_vote_fraction(&e->tree, e->a1, e->f1);
                for (int k = 0; k < A; k++) {
                    conc[(size_t)i * A + k] += e->a1[k] / samples;
                    frac[(size_t)i * A + k] += e->f1[k] / samples;
                    sd[(size_t)i * A + k] += e->f1[k] * e->f1[k] / samples;
                }
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

int zm_stamp_maker_init(zm_stamp_maker *m, const zm_params *p, long long batch, const char *stage, zm_err *err)
{
    memset(m, 0, sizeof *m);
    m->L.input = -1;
    m->stage = stage;
    if (zm_stamp_rules_from_params(p, &m->rules, err)) return ZM_ECONFIG;
    const zm_cutout_cfg *cfg = &m->rules.cfg;
    m->stamp = zm_malloc((size_t)cfg->channels * cfg->size * cfg->size * sizeof *m->stamp);
    m->work = zm_malloc(zm_cutout_work_floats(cfg) * sizeof *m->work);
    m->ra = zm_malloc((size_t)batch * sizeof *m->ra);
    m->dec = zm_malloc((size_t)batch * sizeof *m->dec);
    m->r50 = zm_malloc((size_t)batch * sizeof *m->r50);
    m->th50 = zm_malloc((size_t)batch * sizeof *m->th50);
    m->th90 = zm_malloc((size_t)batch * sizeof *m->th90);
    return 0;
}

void zm_stamp_maker_piece(zm_stamp_maker *m, zm_store *s, const zm_inputs *in, int i, long long off, long long count,
                          void *dst, unsigned *flags, float *pixscale, zm_reject_list *rej, int *input_rejected)
{
    const zm_cutout_cfg *cfg = &m->rules.cfg;
    const size_t np = (size_t)cfg->channels * cfg->size * cfg->size;
    const size_t esz = m->rules.dtype == ZM_DT_F16 ? 2 : 1;
    zm_loaded_input *L = &m->L;
    zm_err e = {0};
    *input_rejected = 0;
    if (L->input != i) {
        L->input = i;
        if (zm_input_load(in->name[i], in->path[i], m->rules.bricks_mode, m->rules.wanted, m->rules.allow_missing, L,
                          &e)) {
            L->failed = 1;
            zm_warn("%s: input %s rejected: %s", m->stage, in->name[i], e.msg);
            zm_reject_add(rej, m->stage, i, -1, in->path[i], e.msg);
            *input_rejected = 1;
            m->in_rej++;
        }
    }
    zm_range gr = {(unsigned long long)(in->first[i] + off), (unsigned long long)count};
    zm_err re = {0};
    if (zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &gr, 1, m->ra, &re) ||
        zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &gr, 1, m->dec, &re) ||
        zm_store_read(s, ZM_F_GAL_R50.path, ZM_DT_F32, 0, &gr, 1, m->r50, &re) ||
        zm_store_read(s, ZM_F_GAL_TH50.path, ZM_DT_F32, 0, &gr, 1, m->th50, &re) ||
        zm_store_read(s, ZM_F_GAL_TH90.path, ZM_DT_F32, 0, &gr, 1, m->th90, &re))
        ZM_ABORT("cannot read /galaxies rows of a planned store: %s", re.msg);
    for (long long j = 0; j < count; j++) {
        char *d = (char *)dst + (size_t)j * np * esz;
        long long id = in->first[i] + off + j;
        flags[j] = 0;
        pixscale[j] = 0;
        if (L->failed) {
            memset(d, 0, np * esz);
            flags[j] = ZM_CUT_REJECTED;
            m->n_rej++;
            continue;
        }
        if (zm_stamp_make(&m->rules, L, m->ra[j], m->dec[j], m->r50[j], m->th50[j], m->th90[j], m->work, m->stamp,
                          &flags[j], &pixscale[j], &e)) {
            memset(d, 0, np * esz);
            flags[j] |= ZM_CUT_REJECTED;
            m->n_rej++;
            char reason[ZM_REASON_LEN];
            snprintf(reason, sizeof reason, "galaxy %lld (ra %.6f, dec %.6f): %s", id, m->ra[j], m->dec[j], e.msg);
            zm_reject_add(rej, m->stage, i, id, in->path[i], reason);
            continue;
        }
        zm_stamp_quantize(m->stamp, np, m->rules.dtype == ZM_DT_F16, d);
        m->n_ok++;
        m->n_edge += (flags[j] & ZM_CUT_EDGE) != 0;
        m->n_nan += (flags[j] & ZM_CUT_NAN) != 0;
        m->n_missing += (flags[j] & ZM_CUT_MISSING_BAND) != 0;
    }
}

void zm_stamp_maker_free(zm_stamp_maker *m)
{
    zm_loaded_unload(&m->L);
    free(m->stamp), free(m->work), free(m->ra), free(m->dec), free(m->r50), free(m->th50), free(m->th90);
    memset(m, 0, sizeof *m);
}

unsigned long long zm_rejects_begin(zm_store *s, const char *stage, int resume, const unsigned char *done,
                                    const zm_ctx *ctx)
{
    unsigned long long from = zm_reject_count(s);
    if (!resume) return from;
    zm_err e = {0};
    char(*st)[ZM_NAME_LEN] = zm_calloc((size_t)(from ? from : 1), sizeof *st);
    zm_range all = {0, from};
    if (from && !zm_store_read(s, ZM_F_REJ_STAGE.path, ZM_DT_STR, ZM_NAME_LEN, &all, 1, st, &e))
        while (from > 0 && !strcmp(st[from - 1], stage)) from--;
    free(st);
    if (zm_reject_drop_unfinished(s, from, done, ctx, &e))
        ZM_ABORT("cannot tidy /rejects of an interrupted %s: %s", stage, e.msg);
    return from;
}
