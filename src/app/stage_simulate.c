/*
 * stage_simulate.c: `zoomorph simulate` writes a simulated DECaLS-like survey in the
 * Legacy Surveys layout (simsurvey.h) under [simulate] out. Bricks are dealt to ranks
 * round-robin; each brick's files depend only on the seed, so the output is the same
 * bytes for any number of ranks. Rank 0 gathers the truth rows and writes
 * survey-bricks.fits and truth.fits. Holds no numerics.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stage.h"
#include "zoomorph/log.h"
#include "zoomorph/gzschema.h"
#include "zoomorph/simgallery.h"
#include "zoomorph/simlabels.h"
#include "zoomorph/simsurvey.h"
#include "zoomorph/simvotes.h"

static int range_pair(const zm_params *p, const char *key, double *lo, double *hi, zm_err *err)
{
    char *items[4], buf[256];
    int n = zm_param_list(p, key, items, 4, buf, sizeof buf);
    char *e1 = NULL, *e2 = NULL;
    if (n == 2) {
        *lo = strtod(items[0], &e1);
        *hi = strtod(items[1], &e2);
    }
    if (n != 2 || *e1 || *e2 || !(*lo > 0) || *hi < *lo || *hi > 20)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] %s: expected 'min,max' in "
                          "arcsec with 0 < min <= max <= 20, got '%s'", key + 9, zm_param_str(p, key));
    return 0;
}

static int cfg_from_params(const zm_params *p, zm_sim_cfg *c, zm_err *err)
{
    memset(c, 0, sizeof *c);
    c->seed = (uint64_t)zm_param_int(p, "simulate.seed");
    c->nbricks = (int)zm_param_int(p, "simulate.bricks");
    c->brick_size = (int)zm_param_int(p, "simulate.brick_size");
    c->pixscale = zm_param_real(p, "simulate.pixscale");
    c->ra = zm_param_real(p, "simulate.ra");
    c->dec = zm_param_real(p, "simulate.dec");
    c->galaxies_per_brick = (int)zm_param_int(p, "simulate.galaxies_per_brick");
    c->stars_per_brick = (int)zm_param_int(p, "simulate.stars_per_brick");
    c->mag_bright = zm_param_real(p, "simulate.mag_bright");
    c->mag_faint = zm_param_real(p, "simulate.mag_faint");
    c->r50_median = zm_param_real(p, "simulate.r50_median");
    c->r50_sigma_dex = zm_param_real(p, "simulate.r50_sigma_dex");
    c->r50_min = zm_param_real(p, "simulate.r50_min");
    c->r50_max = zm_param_real(p, "simulate.r50_max");
    c->star_mag_bright = zm_param_real(p, "simulate.star_mag_bright");
    c->star_mag_faint = zm_param_real(p, "simulate.star_mag_faint");
    c->frac_lenticular = zm_param_real(p, "simulate.frac_lenticular");
    c->frac_spiral = zm_param_real(p, "simulate.frac_spiral");
    c->frac_edgeon = zm_param_real(p, "simulate.frac_edgeon");
    c->frac_merger = zm_param_real(p, "simulate.frac_merger");
    c->frac_disturbed = zm_param_real(p, "simulate.frac_disturbed");
    c->frac_lens = zm_param_real(p, "simulate.frac_lens");
    c->frac_irregular = zm_param_real(p, "simulate.frac_irregular");
    c->frac_diffuse = zm_param_real(p, "simulate.frac_diffuse");
    c->outer_ring_fraction = zm_param_real(p, "simulate.outer_ring_fraction");
    c->flocculent_fraction = zm_param_real(p, "simulate.flocculent_fraction");
    c->dust_fraction = zm_param_real(p, "simulate.dust_fraction");
    c->artefacts_per_brick = zm_param_real(p, "simulate.artefacts_per_brick");
    c->bar_fraction = zm_param_real(p, "simulate.bar_fraction");
    c->ring_fraction = zm_param_real(p, "simulate.ring_fraction");
    c->moffat_beta = zm_param_real(p, "simulate.moffat_beta");
    c->depth[0] = zm_param_real(p, "simulate.depth_g");
    c->depth[1] = zm_param_real(p, "simulate.depth_r");
    c->depth[2] = zm_param_real(p, "simulate.depth_z");
    c->val_fraction = zm_param_real(p, "simulate.val_fraction");
    c->test_fraction = zm_param_real(p, "simulate.test_fraction");
    c->min_separation = zm_param_real(p, "simulate.min_separation");
    c->edge_margin = (int)zm_param_int(p, "simulate.edge_margin");
    c->gz_field_on_brick = zm_param_bool(p, "simulate.gz_field_on_brick");
    c->max_half = (int)zm_param_int(p, "simulate.max_stamp");
    c->supersample = (int)zm_param_int(p, "simulate.supersample");
    const char *fk[3] = {"simulate.fwhm_g", "simulate.fwhm_r", "simulate.fwhm_z"};
    for (int b = 0; b < 3; b++)
        if (range_pair(p, fk[b], &c->fwhm_min[b], &c->fwhm_max[b], err)) return err->code;
    /* cross-checks, each naming its keys */
    if (c->mag_faint < c->mag_bright)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] mag_faint (%g) must not be "
                          "brighter than mag_bright (%g)", c->mag_faint, c->mag_bright);
    if (c->star_mag_faint < c->star_mag_bright)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] star_mag_faint (%g) must not be "
                          "brighter than star_mag_bright (%g)", c->star_mag_faint, c->star_mag_bright);
    if (c->r50_max < c->r50_min)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] r50_max (%g) is smaller than "
                          "r50_min (%g)", c->r50_max, c->r50_min);
    double fsum = c->frac_lenticular + c->frac_spiral + c->frac_edgeon + c->frac_merger + c->frac_disturbed +
                  c->frac_lens + c->frac_irregular + c->frac_diffuse;
    if (fsum > 1.0 + 1e-9)
        return zm_err_set(err, ZM_ECONFIG, "config keys [simulate] frac_lenticular + frac_spiral + "
                          "frac_edgeon + frac_merger + frac_disturbed + frac_lens + frac_irregular + frac_diffuse = %g; the class fractions must sum to at most 1 "
                          "(ellipticals make up the rest)", fsum);
    if (c->val_fraction + c->test_fraction > 1.0 + 1e-9)
        return zm_err_set(err, ZM_ECONFIG, "config keys [simulate] val_fraction + test_fraction = "
                          "%g; must be at most 1", c->val_fraction + c->test_fraction);
    if (c->supersample % 2 == 0)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] supersample must be odd (got %d)",
                          c->supersample);
    if (2 * c->edge_margin >= c->brick_size)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] edge_margin (%d pixels) leaves "
                          "no room on a brick of brick_size %d", c->edge_margin, c->brick_size);
    long cap = zm_sim_brick_capacity(c);
    if (c->galaxies_per_brick > cap)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] galaxies_per_brick = %d: at most "
                          "%ld galaxies fit on a brick of brick_size %d pixels with min_separation "
                          "%g arcsec and edge_margin %d", c->galaxies_per_brick, cap, c->brick_size,
                          c->min_separation, c->edge_margin);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Rank 0: refuse a non-empty directory unless overwrite; with overwrite, remove what a
 * previous simulation wrote. Then create it. */
static int prepare_outdir(const char *out, int overwrite, zm_err *err)
{
    DIR *d = opendir(out);
    if (d) {
        int nonempty = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) nonempty = 1;
        closedir(d);
        if (nonempty && !overwrite)
            return zm_err_set(err, ZM_ECONFIG, "config key [simulate] out: %s exists and is not "
                              "empty; choose another directory or set simulate.overwrite = true",
                              out);
        if (nonempty) {
            const char *sub[] = {"coadd", "tractor"}, *files[] = {"survey-bricks.fits", "truth.fits",
                                                                        "votes.csv", "rings.csv",
                                                                        "tags.csv", "interest.csv",
                                                                        "votes.fits", "artefacts.csv"};
            char p[1200];
            for (int i = 0; i < 2; i++) {
                snprintf(p, sizeof p, "%s/%s", out, sub[i]);
                if (access(p, F_OK) == 0 && nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
                    return zm_err_set(err, ZM_EIO, "cannot remove %s: %s", p, strerror(errno));
            }
            for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                snprintf(p, sizeof p, "%s/%s", out, files[i]);
                if (unlink(p) && errno != ENOENT)
                    return zm_err_set(err, ZM_EIO, "cannot remove %s: %s", p, strerror(errno));
            }
        }
        return 0;
    }
    if (errno != ENOENT)
        return zm_err_set(err, ZM_EIO, "config key [simulate] out: %s: %s", out, strerror(errno));
    if (mkdir(out, 0777))
        return zm_err_set(err, ZM_EIO, "config key [simulate] out: cannot create %s: %s", out,
                          strerror(errno));
    return 0;
}

/* Same rc and message on every rank: the lowest failing rank's. */
static int agree(const zm_ctx *ctx, int rc, zm_err *err)
{
    int who = rc ? ctx->rank : ctx->size;
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, ctx->comm));
    if (who == ctx->size) return 0;
    int code = rc;
    ZM_CHECK_MPI(MPI_Bcast(&code, 1, MPI_INT, who, ctx->comm));
    ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, who, ctx->comm));
    err->code = code;
    return code;
}

static int cmp_obj(const void *a, const void *b)
{
    const zm_sim_object *x = a, *y = b;
    if (x->brick_index != y->brick_index) return x->brick_index < y->brick_index ? -1 : 1;
    return (x->objid > y->objid) - (x->objid < y->objid);
}

static int run(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    if (a->argc > 0)
        return zm_err_set(err, ZM_EUSAGE, "simulate: unknown flag '%s'", a->argv[0]), ZM_EXIT_USAGE;
    zm_sim_cfg cfg;
    int rc = 0;
    if (zm_param_require(p, "simulate.out", "simulate", err)) return ZM_EXIT_INPUT;
    if (cfg_from_params(p, &cfg, err)) return ZM_EXIT_INPUT;
    int min_vol = (int)zm_param_int(p, "simulate.min_volunteers");
    int max_vol = (int)zm_param_int(p, "simulate.max_volunteers");
    if (max_vol < min_vol)
        return zm_err_set(err, ZM_ECONFIG, "config key [simulate] max_volunteers (%d) is below "
                          "min_volunteers (%d)", max_vol, min_vol), ZM_EXIT_INPUT;
    /* the decision tree: checked before any brick is written */
    zm_gz_schema tree;
    memset(&tree, 0, sizeof tree);
    const char *tree_path = zm_param_str(p, "simulate.tree");
    if (ctx->rank == 0) {
        rc = tree_path && tree_path[0] ? zm_gz_schema_load(&tree, tree_path, err)
                                       : zm_gz_schema_decals(&tree, err);
        if (rc) zm_err_prefix(err, "config key [simulate] tree");
    }
    if (agree(ctx, rc, err)) {
        zm_gz_schema_free(&tree);
        return ZM_EXIT_INPUT;
    }
    /* the output directory last: with overwrite, nothing is removed for a bad config */
    const char *out = zm_param_str(p, "simulate.out");
    if (ctx->rank == 0) rc = prepare_outdir(out, zm_param_bool(p, "simulate.overwrite"), err);
    if (agree(ctx, rc, err)) {
        zm_gz_schema_free(&tree);
        return ZM_EXIT_INPUT;
    }

    zm_sim_brick *bricks = zm_calloc((size_t)cfg.nbricks, sizeof *bricks);
    zm_sim_brick_list(&cfg, bricks);
    zm_info0("simulate: %d bricks of %d px from %s, %d galaxies + %d stars each, seed %llu -> %s",
             cfg.nbricks, cfg.brick_size, bricks[0].name, cfg.galaxies_per_brick,
             cfg.stars_per_brick, (unsigned long long)cfg.seed, out);
    zm_sim_object *mine = NULL;
    long nmine = 0, cap = 0;
    zm_progress prog;
    zm_progress_start(&prog, "simulate", "bricks", cfg.nbricks);
    double t0 = zm_now();
    int nrounds = (cfg.nbricks + ctx->size - 1) / ctx->size;
    for (int round = 0; round < nrounds; round++) {
        int bi = round * ctx->size + ctx->rank;
        if (bi < cfg.nbricks && !rc) {
            zm_sim_object *o = NULL;
            long n = 0;
            rc = zm_sim_brick_run(&cfg, &bricks[bi], bi, out, &o, &n, err);
            if (!rc) {
                if (nmine + n > cap) {
                    cap = 2 * (nmine + n);
                    mine = zm_realloc(mine, (size_t)cap * sizeof *mine);
                }
                memcpy(mine + nmine, o, (size_t)n * sizeof *o);
                nmine += n;
            }
            free(o);
        }
        zm_progress_update(&prog, fmin((double)(round + 1) * ctx->size, cfg.nbricks));
    }
    double t_render = zm_now() - t0;
    if (agree(ctx, rc, err)) {
        free(mine), free(bricks);
        zm_gz_schema_free(&tree);
        return ZM_EXIT_INPUT;
    }
    zm_progress_end(&prog, cfg.nbricks);

    /* gather the objects on rank 0 (as bytes: the same binary on every rank) */
    long long nbytes = (long long)nmine * (long long)sizeof(zm_sim_object);
    if (nbytes > 2000000000LL) ZM_ABORT("simulate: %lld bytes of truth rows on one rank", nbytes);
    int mybytes = (int)nbytes, *counts = NULL, *displs = NULL;
    if (ctx->rank == 0) {
        counts = zm_calloc((size_t)ctx->size, sizeof *counts);
        displs = zm_calloc((size_t)ctx->size, sizeof *displs);
    }
    ZM_CHECK_MPI(MPI_Gather(&mybytes, 1, MPI_INT, counts, 1, MPI_INT, 0, ctx->comm));
    long long total = 0;
    if (ctx->rank == 0)
        for (int r = 0; r < ctx->size; r++) {
            displs[r] = (int)total;
            total += counts[r];
        }
    if (total > 2000000000LL) ZM_ABORT("simulate: %lld bytes of truth rows", total);
    zm_sim_object *all = ctx->rank == 0 ? zm_malloc((size_t)(total ? total : 1)) : NULL;
    ZM_CHECK_MPI(MPI_Gatherv(mine, mybytes, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, ctx->comm));
    free(mine);
    long nall = (long)(total / (long long)sizeof(zm_sim_object));
    if (ctx->rank == 0) {
        qsort(all, (size_t)nall, sizeof *all, cmp_obj);
        char path[1200];
        snprintf(path, sizeof path, "%s/survey-bricks.fits", out);
        rc = zm_sim_write_bricks(path, bricks, cfg.nbricks, err);
        if (!rc) {
            snprintf(path, sizeof path, "%s/truth.fits", out);
            rc = zm_sim_write_truth(path, all, nall, cfg.pixscale, &tree, err);
        }
        if (!rc) {
            char rings[1200];
            snprintf(path, sizeof path, "%s/votes.csv", out);
            snprintf(rings, sizeof rings, "%s/rings.csv", out);
            char vfits[1200];
            snprintf(vfits, sizeof vfits, "%s/votes.fits", out);
            rc = zm_sim_write_votes(path, vfits, rings, &tree, all, nall, cfg.seed, min_vol, max_vol, err);
        }
        if (!rc) {
            snprintf(path, sizeof path, "%s/artefacts.csv", out);
            rc = zm_sim_write_artefacts(path, &cfg, bricks, cfg.nbricks, err);
        }
        if (!rc) {
            snprintf(path, sizeof path, "%s/tags.csv", out);
            rc = zm_sim_write_tags(path, all, nall, cfg.seed, err);
        }
        if (!rc) {
            snprintf(path, sizeof path, "%s/interest.csv", out);
            rc = zm_sim_write_interest(path, all, nall, cfg.seed, err);
        }
        const char *gdir = zm_param_str(p, "simulate.gallery");
        if (!rc && gdir && gdir[0]) {
            int nw = 0;
            rc = zm_sim_write_galleries(out, gdir, all, nall, (int)zm_param_int(p, "simulate.gallery_per_class"),
                                        (int)zm_param_int(p, "simulate.gallery_size"), &nw, err);
            if (!rc) zm_info("simulate: %d galleries in %s", nw, gdir);
        }
    }
    zm_gz_schema_free(&tree);
    free(all), free(counts), free(displs), free(bricks);
    if (agree(ctx, rc, err)) return ZM_EXIT_INPUT;
    long long ngal = (long long)cfg.galaxies_per_brick * cfg.nbricks;
    double tmax = t_render;
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &tmax, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
    zm_info0("simulate: wrote %lld galaxies and %lld stars in %d bricks in %.1f s on %d ranks "
             "(%.1f galaxies/s/core)", ngal, (long long)cfg.stars_per_brick * cfg.nbricks,
             cfg.nbricks, tmax, ctx->size, tmax > 0 ? ngal / tmax / ctx->size : 0.0);
    return ZM_EXIT_OK;
}

const zm_stage zm_stage_simulate = {
    "simulate", "write a simulated DECaLS-like survey with ground truth ([simulate])", "", run};
