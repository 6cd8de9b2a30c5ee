/* simgallery.c: see simgallery.h. Bricks are read once each (objects sorted by brick),
 * all three bands, with fitsimg.h. */
#include "zoomorph/simgallery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zoomorph/cutout.h"
#include "zoomorph/fitsimg.h"
#include "zoomorph/gallery.h"
#include "zoomorph/log.h"

enum { G_ELL, G_LEN, G_SPI, G_BAR, G_RING, G_EDGE, G_DUST, G_BOXY, G_MERGER, G_DIST, G_SHELL, G_LENS, G_ART, G_IRR, G_DIFF, G_FLOC,
       G_ORING, G_N };
static const char *const group_names[G_N] = {"elliptical", "lenticular", "spiral",   "barred",
                                             "ringed",     "edge-on",    "dust-lane", "boxy-bulge",
                                             "merger",     "disturbed",  "shell",
                                             "lens",       "artefact",   "irregular", "diffuse",
                                             "flocculent", "outer-ring"};

static int has(const zm_sim_object *o, int kind)
{
    for (int i = 0; i < o->g.ncomp; i++)
        if (o->g.comp[i].kind == kind) return i + 1;
    return 0;
}

static int in_group(const zm_sim_object *o, int grp)
{
    switch (grp) {
    case G_ELL: return o->cls == ZM_SIM_ELLIPTICAL;
    case G_LEN: return o->cls == ZM_SIM_LENTICULAR;
    case G_SPI: return o->cls == ZM_SIM_SPIRAL;
    case G_BAR: return o->cls == ZM_SIM_SPIRAL && has(o, ZM_COMP_BAR);
    case G_RING: return o->cls != ZM_SIM_STAR && has(o, ZM_COMP_RING);
    case G_EDGE: return o->cls == ZM_SIM_EDGEON;
    case G_DUST: return o->cls == ZM_SIM_EDGEON && has(o, ZM_COMP_DUST);
    case G_BOXY: {
        int b = has(o, ZM_COMP_BULGE);
        return o->cls == ZM_SIM_EDGEON && b && o->g.comp[b - 1].p[0] > 2.05f;
    }
    case G_MERGER: return o->cls == ZM_SIM_MERGER;
    case G_DIST: return o->cls == ZM_SIM_DISTURBED;
    case G_SHELL: return o->cls != ZM_SIM_STAR && has(o, ZM_COMP_SHELL);
    case G_LENS: return o->cls == ZM_SIM_LENS;
    case G_IRR: return o->cls == ZM_SIM_IRREGULAR;
    case G_DIFF: return o->cls == ZM_SIM_DIFFUSE;
    case G_FLOC: {
        int a = has(o, ZM_COMP_ARMS);
        return a && o->g.comp[a - 1].n > 0.0f;
    }
    case G_ORING: return o->cls != ZM_SIM_STAR && has(o, ZM_COMP_ORING);
    case G_ART: return o->cls != ZM_SIM_STAR && o->artefact > 0.0f;
    default: return 0;
    }
}

typedef struct {
    const zm_sim_object *o;
    int grp, slot;
} pick;

static int cmp_mag(const void *a, const void *b)
{
    const zm_sim_object *x = *(const zm_sim_object *const *)a, *y = *(const zm_sim_object *const *)b;
    if (x->mag_r != y->mag_r) return x->mag_r < y->mag_r ? -1 : 1;
    if (x->brick_index != y->brick_index) return x->brick_index < y->brick_index ? -1 : 1;
    return x->objid < y->objid ? -1 : x->objid > y->objid;
}

static int cmp_pick(const void *a, const void *b)
{
    const pick *x = a, *y = b;
    if (x->o->brick_index != y->o->brick_index) return x->o->brick_index < y->o->brick_index ? -1 : 1;
    return x->grp != y->grp ? x->grp - y->grp : x->slot - y->slot;
}

int zm_sim_write_galleries(const char *outdir, const char *galdir, const zm_sim_object *o, long n,
                           int per_class, int size, int *nwritten, zm_err *err)
{
    if (nwritten) *nwritten = 0;
    if (mkdir(galdir, 0777) != 0) {
        struct stat sb;
        if (stat(galdir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return zm_err_set(err, ZM_EIO, "gallery directory %s: cannot create it", galdir);
    }
    /* the brightest per_class of each group */
    const zm_sim_object **by = zm_malloc((size_t)(n ? n : 1) * sizeof *by);
    long ng = 0;
    for (long i = 0; i < n; i++)
        if (o[i].cls != ZM_SIM_STAR) by[ng++] = &o[i];
    qsort(by, (size_t)ng, sizeof *by, cmp_mag);
    pick *pk = zm_malloc((size_t)G_N * per_class * sizeof *pk);
    int np = 0, count[G_N] = {0};
    for (int grp = 0; grp < G_N; grp++)
        for (long i = 0; i < ng && count[grp] < per_class; i++)
            if (in_group(by[i], grp)) pk[np++] = (pick){by[i], grp, count[grp]++};
    free(by);
    qsort(pk, (size_t)np, sizeof *pk, cmp_pick);

    zm_cutout_cfg cc;
    memset(&cc, 0, sizeof cc);
    cc.size = size, cc.channels = 3, cc.max_empty = 1.0, cc.edge_reject = 0;
    zm_stretch_default(&cc.stretch);
    zm_field_rule rule = {ZM_FIELD_FIXED, 424.0, 0.04, 0.02, 0.1, 2.3, 0.0};
    size_t sp = (size_t)3 * size * size;
    float *work = zm_malloc(zm_cutout_work_floats(&cc) * sizeof *work), *stamp = zm_malloc(sp * sizeof *stamp);
    uint8_t *sheets = zm_calloc((size_t)G_N * per_class * sp, 1);
    long long *ids = zm_malloc((size_t)G_N * per_class * sizeof *ids);
    zm_image img[3];
    memset(img, 0, sizeof img);
    int cur = -1, rc = 0;
    static const char bl[3] = {'g', 'r', 'z'};
    for (int k = 0; k < np && !rc; k++) {
        const zm_sim_object *s = pk[k].o;
        if (s->brick_index != cur) {
            for (int b = 0; b < 3; b++) zm_image_free(&img[b]);
            memset(img, 0, sizeof img);
            cur = s->brick_index;
            for (int b = 0; b < 3 && !rc; b++) {
                char path[1400];
                snprintf(path, sizeof path, "%s/coadd/%.3s/%s/legacysurvey-%s-image-%c.fits.fz", outdir,
                         s->brickname, s->brickname, s->brickname, bl[b]);
                rc = zm_image_read(path, 1, &img[b], err);
            }
            if (rc) break;
        }
        zm_band_set bs;
        memset(&bs, 0, sizeof bs);
        for (int b = 0; b < 3; b++) bs.img[b] = &img[b], bs.plane[b] = 0;
        /* closer than the Galaxy Zoo field (about 17 r50), so that dust lanes, tails and
         * companions show: 10 flux-weighted r50, at least 24 arcsec */
        rule.fixed_arcsec = fmax(24.0, 10.0 * s->r50);
        double field = zm_field_arcsec(&rule, NAN, NAN, s->r50, 0.0);
        unsigned flags = 0;
        zm_err e2;
        memset(&e2, 0, sizeof e2);
        int crc = zm_cutout_make(&cc, &bs, s->ra, s->dec, field, work, stamp, &flags, &e2);
        size_t at = ((size_t)pk[k].grp * per_class + pk[k].slot) * sp;
        if (crc) zm_warn("gallery: %s objid %ld: %s", s->brickname, s->objid, e2.msg);
        else zm_stamp_quantize(stamp, sp, 0, sheets + at);
        ids[pk[k].grp * per_class + pk[k].slot] = s->objid;
    }
    for (int b = 0; b < 3; b++) zm_image_free(&img[b]);
    for (int grp = 0; grp < G_N && !rc; grp++) {
        if (!count[grp]) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/gallery-%s.png", galdir, group_names[grp]);
        rc = zm_gallery_write(path, sheets + (size_t)grp * per_class * sp, count[grp], 3, size,
                              ids + (size_t)grp * per_class, count[grp] < 4 ? count[grp] : 4, err);
        if (!rc && nwritten) (*nwritten)++;
    }
    free(pk), free(work), free(stamp), free(sheets), free(ids);
    return rc;
}
