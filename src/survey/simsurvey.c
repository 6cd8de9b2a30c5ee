/* simsurvey.c: see simsurvey.h. Sections: brick grid, drawing objects, one brick
 * (render, noise, files), survey tables. */
#include "zoomorph/simsurvey.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "zoomorph/log.h"
#include "zoomorph/rng.h"
#include "zoomorph/simvotes.h"
#include "zoomorph/wcsmap.h"

const char *const zm_sim_class_names[ZM_SIM_NCLASSES] = {"elliptical", "lenticular", "spiral",
                                                          "edge-on",    "merger",     "disturbed",
                                                          "lens",       "irregular",  "diffuse",
                                                          "star"};
const char *const zm_sim_split_names[3] = {"train", "validation", "test"};

static const char band_letter[ZM_SIM_NBANDS] = {'g', 'r', 'z'};

#define DEG (M_PI / 180.0)
#define NROWS 721 /* dec = -90 .. 90 in 0.25 deg */

/* ---- brick grid ------------------------------------------------------------ */

static int row_ncols(int row)
{
    double dec = -90.0 + 0.25 * row;
    double edge = dec > 0 ? dec - 0.125 : dec < 0 ? dec + 0.125 : 0.0;
    int n = (int)ceil(360.0 * cos(edge * DEG) / 0.25);
    return n < 1 ? 1 : n;
}

void zm_sim_brick_from_rowcol(int row, int col, zm_sim_brick *b)
{
    memset(b, 0, sizeof *b);
    if (row < 0) row = 0;
    if (row >= NROWS) row = NROWS - 1;
    int nc = row_ncols(row);
    col = ((col % nc) + nc) % nc;
    long id = 0;
    for (int r = 0; r < row; r++) id += row_ncols(r);
    b->brickid = id + col + 1;
    b->row = row;
    b->col = col;
    b->dec = -90.0 + 0.25 * row;
    b->dec1 = fmax(-90.0, b->dec - 0.125);
    b->dec2 = fmin(90.0, b->dec + 0.125);
    double w = 360.0 / nc;
    b->ra = (col + 0.5) * w;
    b->ra1 = col * w;
    b->ra2 = (col + 1) * w;
    int ra10 = (int)floor(b->ra * 10.0 + 1e-9), dec10 = (int)floor(fabs(b->dec) * 10.0 + 1e-9);
    snprintf(b->name, sizeof b->name, "%04d%c%03d", ra10, b->dec < 0 ? 'm' : 'p', dec10);
}

void zm_sim_brick_at(double ra, double dec, zm_sim_brick *b)
{
    int row = (int)floor((dec + 90.0) / 0.25 + 0.5);
    if (row < 0) row = 0;
    if (row >= NROWS) row = NROWS - 1;
    ra = fmod(fmod(ra, 360.0) + 360.0, 360.0);
    int col = (int)floor(ra / (360.0 / row_ncols(row)));
    zm_sim_brick_from_rowcol(row, col, b);
}

void zm_sim_brick_list(const zm_sim_cfg *cfg, zm_sim_brick *out)
{
    zm_sim_brick b;
    zm_sim_brick_at(cfg->ra, cfg->dec, &b);
    int row = b.row, col = b.col;
    for (int i = 0; i < cfg->nbricks; i++) {
        if (col >= row_ncols(row)) {
            row = row + 1 < NROWS ? row + 1 : 0;
            zm_sim_brick tmp;
            zm_sim_brick_at(b.ra, -90.0 + 0.25 * row, &tmp);
            col = tmp.col;
        }
        zm_sim_brick_from_rowcol(row, col, &out[i]);
        col++;
    }
}

/* Side (pixels) of the square where galaxy centres go. */
static double usable_side(const zm_sim_cfg *cfg)
{
    double side = cfg->brick_size - 2.0 * cfg->edge_margin;
    double unique = 0.25 * 3600.0 / cfg->pixscale * 0.99; /* the brick's own area */
    return side < unique ? side : unique;
}

long zm_sim_brick_capacity(const zm_sim_cfg *cfg)
{
    double side = usable_side(cfg);
    if (side <= 0) return 0;
    double sep = cfg->min_separation / cfg->pixscale;
    if (sep < 1.0) sep = 1.0;
    /* random sequential packing reaches ~0.55 of the area; keep to 0.4 so that
     * rejection sampling finishes quickly */
    return (long)floor(0.4 * side * side / (M_PI * 0.25 * sep * sep));
}

/* ---- drawing objects --------------------------------------------------------- */

enum { STREAM_BRICK = 0, STREAM_GALAXY = 1, STREAM_STAR = 2, STREAM_NOISE = 3, STREAM_ARTEFACT = 4 };

static uint64_t stream_id(long brickid, int what, long index)
{
    return ((uint64_t)brickid << 24) | ((uint64_t)what << 20) | ((uint64_t)index & 0xFFFFF);
}

static double uni(zm_rng *r, double a, double b) { return a + (b - a) * zm_rng_uniform(r); }

/* Flux in g, r, z of a component with r flux fr and colours g-r, r-z. */
static void set_colour(zm_sim_comp *c, double fr, double gr, double rz)
{
    c->flux[0] = (float)(fr * pow(10.0, -0.4 * gr));
    c->flux[1] = (float)fr;
    c->flux[2] = (float)(fr * pow(10.0, 0.4 * rz));
}

static double disc_q(double incl_deg)
{
    const double q0 = 0.12; /* intrinsic thickness */
    double c = cos(incl_deg * DEG);
    return sqrt(c * c * (1.0 - q0 * q0) + q0 * q0);
}

static zm_sim_comp *add_comp(zm_sim_galaxy *g, int kind)
{
    zm_sim_comp *c = &g->comp[g->ncomp++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->q = 1.0f;
    c->n = 1.0f;
    return c;
}

/* The catalogue summary of a drawn galaxy: total fluxes, flux-weighted r50 (arcsec),
 * bulge fraction, the main component's shape and the Tractor type. */
static void summarise(zm_sim_object *o, int cls, double r50, double ps)
{
    const zm_sim_galaxy *g = &o->g;
    double fr = 0, wr = 0, fb = 0;
    for (int c = 0; c < ZM_SIM_NBANDS; c++) o->flux[c] = 0;
    for (int i = 0; i < g->ncomp; i++) {
        const zm_sim_comp *c = &g->comp[i];
        if (c->kind == ZM_COMP_DUST) continue; /* its "flux" is an optical depth */
        for (int b = 0; b < ZM_SIM_NBANDS; b++) o->flux[b] += c->flux[b];
        fr += c->flux[1];
        wr += c->flux[1] * (c->kind == ZM_COMP_BAR ? 0.5 * c->r50 : c->r50);
        if (c->kind == ZM_COMP_BULGE || c->kind == ZM_COMP_BAR) fb += c->flux[1];
    }
    o->r50 = (float)(fr > 0 ? wr / fr * ps : r50);
    o->bulge_frac = (float)(fr > 0 ? fb / fr : 0);
    const zm_sim_comp *main = &g->comp[0];
    for (int i = 0; i < g->ncomp; i++)
        if (g->comp[i].kind == ZM_COMP_DISC && o->bulge_frac < 0.5) main = &g->comp[i];
    o->q = main->q;
    o->pa = main->pa;
    if (main->kind == ZM_COMP_BULGE && o->bulge_frac >= 0.5) {
        o->sersic = main->n;
        snprintf(o->tractor_type, sizeof o->tractor_type, "%s", fabs(main->n - 4.0) < 0.5 ? "DEV" : "SER");
        if (!strcmp(o->tractor_type, "DEV")) o->sersic = 4.0f;
    } else if (o->bulge_frac < 0.2) {
        o->sersic = 1.0f;
        snprintf(o->tractor_type, sizeof o->tractor_type, "EXP");
    } else {
        o->sersic = (float)(1.0 + 3.0 * o->bulge_frac);
        snprintf(o->tractor_type, sizeof o->tractor_type, "SER");
    }
    if (o->r50 < 1.5f) {
        snprintf(o->tractor_type, sizeof o->tractor_type, "REX");
        o->sersic = 1.0f;
    }
}


void zm_sim_draw_galaxy(const zm_sim_cfg *cfg, zm_rng *r, int cls, double mag, double r50,
                        double x, double y, zm_sim_object *o)
{
    double ftot = pow(10.0, (22.5 - mag) / 2.5), ps = cfg->pixscale, rp = r50 / ps;
    if (cls == ZM_SIM_IRREGULAR || cls == ZM_SIM_DIFFUSE) {
        /* no bulge: a blue exponential disc; irregulars add bright clumps, diffuse
         * galaxies spread the same light over 2-3 times the radius */
        int irr = cls == ZM_SIM_IRREGULAR;
        double fcl = irr ? uni(r, 0.15, 0.4) : 0.0;
        double rd = irr ? rp : fmin(rp * uni(r, 2.0, 3.0), fmax(cfg->r50_max / ps, rp)); /* within r50_max */
        zm_sim_galaxy *g = &o->g;
        memset(g, 0, sizeof *g);
        g->x = x, g->y = y;
        o->x = (float)x, o->y = (float)y;
        o->cls = cls, o->mag_r = (float)mag, o->incl = (float)(acos(uni(r, 0.3, 1.0)) / DEG);
        zm_sim_comp *d = add_comp(g, ZM_COMP_DISC);
        d->r50 = (float)rd, d->q = (float)disc_q(o->incl), d->pa = (float)uni(r, 0, 180);
        set_colour(d, ftot * (1.0 - fcl), (irr ? 0.4 : 0.5) + 0.06 * zm_rng_normal(r), 0.25 + 0.05 * zm_rng_normal(r));
        if (irr) {
            zm_sim_comp *c = add_comp(g, ZM_COMP_CLUMPS);
            c->r50 = (float)rd, c->q = d->q, c->pa = d->pa;
            c->p[0] = (float)(4 + zm_rng_below(r, 9));
            c->p[1] = (float)fmax(0.12 * rd, 1.0);
            c->p[2] = (float)uni(r, 0, 1000);
            set_colour(c, ftot * fcl, 0.2 + 0.06 * zm_rng_normal(r), 0.1 + 0.05 * zm_rng_normal(r));
        }
        summarise(o, cls, r50, ps);
        return;
    }
    if (cls == ZM_SIM_LENS) {
        /* a massive elliptical and the arcs of a blue background source at about its
         * Einstein radius (1-3 arcsec, at least the seeing so that arcs show) */
        double fa = uni(r, 0.08, 0.2);
        zm_sim_draw_galaxy(cfg, r, ZM_SIM_ELLIPTICAL, mag - 2.5 * log10(1.0 - fa), r50, x, y, o);
        zm_sim_comp *c = add_comp(&o->g, ZM_COMP_ARC);
        c->r50 = (float)(fmax(uni(r, 1.0, 3.0), uni(r, 0.9, 1.4) * r50) / ps);
        c->p[0] = (float)fmax(0.08 * c->r50, 0.8);
        c->p[1] = (float)uni(r, 0, 360);
        c->p[2] = (float)uni(r, 2.0, 8.0);
        c->p[3] = zm_rng_uniform(r) < 0.6 ? (float)uni(r, 0.3, 0.7) : 0.0f;
        set_colour(c, ftot * fa, 0.15 + 0.08 * zm_rng_normal(r), 0.05 + 0.06 * zm_rng_normal(r));
        o->cls = cls;
        o->mag_r = (float)mag;
        summarise(o, cls, r50, ps);
        return;
    }
    if (cls == ZM_SIM_MERGER || cls == ZM_SIM_DISTURBED) {
        /* a host (disc or elliptical) drawn as usual with part of the light, then the
         * interaction: an overlapping companion, tidal tails, a shell */
        int merger = cls == ZM_SIM_MERGER;
        int host = zm_rng_uniform(r) < 0.55 ? ZM_SIM_SPIRAL : ZM_SIM_ELLIPTICAL;
        double fc = merger ? uni(r, 0.2, 0.45) : 0.0;
        int tails = merger ? zm_rng_uniform(r) < 0.8 : zm_rng_uniform(r) < 0.65;
        int shell = !merger && (!tails || zm_rng_uniform(r) < 0.4);
        double ft = tails ? uni(r, 0.08, 0.2) : 0.0, fs = shell ? uni(r, 0.03, 0.08) : 0.0;
        double fh = 1.0 - fc - ft - fs;
        zm_sim_draw_galaxy(cfg, r, host, mag - 2.5 * log10(fh), r50, x, y, o);
        zm_sim_galaxy *g = &o->g;
        if (merger) {
            zm_sim_comp *c = add_comp(g, ZM_COMP_COMPANION);
            double d = rp * uni(r, 0.7, 2.0), th = uni(r, 0, 2.0 * M_PI);
            c->p[0] = (float)(d * cos(th)), c->p[1] = (float)(d * sin(th));
            c->r50 = (float)(rp * sqrt(fc / fh) * uni(r, 0.7, 1.2));
            c->n = (float)uni(r, 1.0, 4.0);
            c->q = (float)uni(r, 0.45, 1.0);
            c->pa = (float)uni(r, 0, 180);
            set_colour(c, ftot * fc, uni(r, 0.45, 0.8), uni(r, 0.28, 0.45));
        }
        if (tails) {
            zm_sim_comp *t = add_comp(g, ZM_COMP_TAIL);
            t->p[0] = zm_rng_uniform(r) < 0.5 ? 1.0f : 2.0f;
            t->p[1] = (float)uni(r, 40, 65);
            t->p[2] = (float)uni(r, 0, 360);
            t->p[3] = (float)uni(r, 6, 12);
            t->q = (float)uni(r, 0.6, 1.0);
            t->pa = (float)uni(r, 0, 180);
            t->r50 = (float)(rp * uni(r, 0.9, 1.3));
            set_colour(t, ftot * ft, 0.5 + 0.05 * zm_rng_normal(r), 0.3 + 0.04 * zm_rng_normal(r));
        }
        if (shell) {
            zm_sim_comp *c = add_comp(g, ZM_COMP_SHELL);
            c->r50 = (float)(rp * uni(r, 1.5, 3.0));
            c->p[0] = (float)fmax(0.1 * c->r50, 1.0);
            c->p[1] = (float)uni(r, 0, 360);
            c->p[2] = (float)uni(r, 1.0, 3.0);
            set_colour(c, ftot * fs, 0.7 + 0.05 * zm_rng_normal(r), 0.4 + 0.04 * zm_rng_normal(r));
        }
        o->cls = cls;
        o->mag_r = (float)mag;
        summarise(o, cls, r50, ps);
        return;
    }
    o->x = (float)x;
    o->y = (float)y;
    zm_sim_galaxy *g = &o->g;
    memset(g, 0, sizeof *g);
    g->x = x;
    g->y = y;
    o->cls = cls;
    o->mag_r = (float)mag;
    o->incl = NAN;
    double pa = uni(r, 0, 180);
    double bt = 1.0, incl = 0.0;
    switch (cls) {
    case ZM_SIM_ELLIPTICAL: {
        zm_sim_comp *b = add_comp(g, ZM_COMP_BULGE);
        b->n = (float)uni(r, 2.5, 6.0);
        b->q = (float)uni(r, 0.5, 1.0);
        b->pa = (float)pa;
        b->r50 = (float)rp;
        set_colour(b, ftot, 0.78 + 0.05 * zm_rng_normal(r), 0.45 + 0.04 * zm_rng_normal(r));
        break;
    }
    case ZM_SIM_LENTICULAR:
    case ZM_SIM_SPIRAL:
    case ZM_SIM_EDGEON: {
        if (cls == ZM_SIM_EDGEON) incl = uni(r, 84.0, 90.0);
        else incl = acos(uni(r, 0.3, 1.0)) / DEG;  /* never close to edge-on */
        bt = cls == ZM_SIM_LENTICULAR ? uni(r, 0.3, 0.6) : cls == ZM_SIM_SPIRAL ? uni(r, 0.0, 0.35)
                                                                                : uni(r, 0.0, 0.4);
        int bar = cls != ZM_SIM_EDGEON && zm_rng_uniform(r) < cfg->bar_fraction;
        int ring = cls != ZM_SIM_EDGEON && zm_rng_uniform(r) < cfg->ring_fraction;
        double fbar = bar ? (zm_rng_uniform(r) < 0.5 ? uni(r, 0.08, 0.15) : uni(r, 0.03, 0.07)) : 0;
        double fring = ring ? uni(r, 0.05, 0.12) : 0;
        double farm = cls == ZM_SIM_SPIRAL ? uni(r, 0.15, 0.5) : 0;
        double rest = 1.0 - fbar - fring, fdisc_all = (1.0 - bt) * rest;
        double qd = disc_q(incl), rd = rp * 1.05;
        o->incl = (float)incl;
        if (bt > 0.03) {
            zm_sim_comp *b = add_comp(g, ZM_COMP_BULGE);
            b->n = (float)(cls == ZM_SIM_LENTICULAR ? uni(r, 2.0, 4.0) : uni(r, 1.0, 4.0));
            b->q = (float)uni(r, 0.65, 1.0);
            b->pa = (float)pa;
            b->r50 = (float)(rp * (cls == ZM_SIM_LENTICULAR ? 0.35 : 0.2));
            if (cls == ZM_SIM_EDGEON) {
                /* edge-on bulges: boxy (peanut) or rounded */
                b->r50 = (float)(rp * uni(r, 0.2, 0.35));
                if (zm_rng_uniform(r) < 0.4) b->p[0] = (float)uni(r, 3.0, 4.0);
            }
            set_colour(b, ftot * bt * rest, 0.75 + 0.05 * zm_rng_normal(r), 0.42 + 0.04 * zm_rng_normal(r));
        } else {
            fdisc_all = rest;
            bt = 0.0;
        }
        zm_sim_comp *d = add_comp(g, ZM_COMP_DISC);
        d->q = (float)qd;
        d->pa = (float)pa;
        d->r50 = (float)rd;
        double gr_d = cls == ZM_SIM_LENTICULAR ? 0.70 : 0.55, rz_d = cls == ZM_SIM_LENTICULAR ? 0.40 : 0.33;
        set_colour(d, ftot * fdisc_all * (1.0 - farm), gr_d + 0.06 * zm_rng_normal(r),
                   rz_d + 0.05 * zm_rng_normal(r));
        if (cls == ZM_SIM_EDGEON && zm_rng_uniform(r) < cfg->dust_fraction) {
            zm_sim_comp *u = add_comp(g, ZM_COMP_DUST);
            u->r50 = d->r50, u->q = d->q, u->pa = d->pa;
            u->p[0] = (float)fmax(0.5 * d->q * d->r50 / 1.678347, 1.0); /* lane half-width */
            double tr = uni(r, 0.6, 0.9);
            u->flux[0] = (float)fmin(tr * 1.35, 0.95), u->flux[1] = (float)tr, u->flux[2] = (float)(tr * 0.7);
        }
        if (bar) {
            zm_sim_comp *b = add_comp(g, ZM_COMP_BAR);
            b->r50 = (float)(rd * uni(r, 0.5, 1.0));
            b->q = (float)uni(r, 0.2, 0.35);
            b->pa = (float)uni(r, 0, 180);
            b->p[0] = 2.5f;
            set_colour(b, ftot * fbar, 0.72 + 0.05 * zm_rng_normal(r), 0.40 + 0.04 * zm_rng_normal(r));
        }
        if (farm > 0) {
            zm_sim_comp *a = add_comp(g, ZM_COMP_ARMS);
            double u = zm_rng_uniform(r);
            a->p[0] = u < 0.05 ? 1 : u < 0.65 ? 2 : u < 0.80 ? 3 : u < 0.92 ? 4 : (float)(5 + zm_rng_below(r, 2));
            double w = zm_rng_uniform(r); /* tight, medium, loose winding */
            a->p[1] = (float)(w < 0.33 ? uni(r, 8, 15) : w < 0.67 ? uni(r, 15, 25) : uni(r, 25, 40));
            a->p[2] = (float)uni(r, 0, 360);
            a->p[3] = (float)uni(r, 2.0, 6.0);
            a->n = zm_rng_uniform(r) < cfg->flocculent_fraction ? (float)uni(r, 0.5, 1.0) : 0.0f;
            a->q = (float)qd;
            a->pa = (float)pa;
            a->r50 = (float)rd;
            set_colour(a, ftot * fdisc_all * farm, 0.35 + 0.06 * zm_rng_normal(r),
                       0.20 + 0.05 * zm_rng_normal(r));
        }
        if (ring) {
            zm_sim_comp *c = add_comp(g, ZM_COMP_RING);
            double R = bar ? 1.05 * g->comp[g->ncomp - 1 - (farm > 0)].r50 : rd * uni(r, 0.6, 1.2);
            c->r50 = (float)R;
            c->p[0] = (float)fmax(0.08 * R, 0.8);
            c->q = (float)qd;
            c->pa = (float)pa;
            set_colour(c, ftot * fring, 0.5 + 0.05 * zm_rng_normal(r), 0.3 + 0.04 * zm_rng_normal(r));
            if (zm_rng_uniform(r) < cfg->outer_ring_fraction) {
                /* an outer ring at about twice the inner one, faint, taken from the disc */
                zm_sim_comp *d0 = NULL;
                for (int k = 0; k < g->ncomp; k++)
                    if (g->comp[k].kind == ZM_COMP_DISC) d0 = &g->comp[k];
                zm_sim_comp *c2 = add_comp(g, ZM_COMP_ORING);
                double share = uni(r, 0.05, 0.10);
                c2->r50 = (float)(R * uni(r, 1.8, 2.4));
                c2->p[0] = (float)fmax(0.07 * c2->r50, 1.0);
                c2->q = (float)qd, c2->pa = (float)pa;
                set_colour(c2, ftot * share, 0.45 + 0.05 * zm_rng_normal(r), 0.28 + 0.04 * zm_rng_normal(r));
                if (d0)
                    for (int b = 0; b < ZM_SIM_NBANDS; b++) d0->flux[b] = (float)fmax(d0->flux[b] - c2->flux[b], 0.1 * d0->flux[b]);
            }
        }
        break;
    }
    default:
        break;
    }
    summarise(o, cls, r50, ps);
}

static int draw_class(const zm_sim_cfg *cfg, zm_rng *r)
{
    double u = zm_rng_uniform(r);
    if ((u -= cfg->frac_lenticular) < 0) return ZM_SIM_LENTICULAR;
    if ((u -= cfg->frac_spiral) < 0) return ZM_SIM_SPIRAL;
    if ((u -= cfg->frac_edgeon) < 0) return ZM_SIM_EDGEON;
    if ((u -= cfg->frac_merger) < 0) return ZM_SIM_MERGER;
    if ((u -= cfg->frac_disturbed) < 0) return ZM_SIM_DISTURBED;
    if ((u -= cfg->frac_lens) < 0) return ZM_SIM_LENS;
    if ((u -= cfg->frac_irregular) < 0) return ZM_SIM_IRREGULAR;
    if ((u -= cfg->frac_diffuse) < 0) return ZM_SIM_DIFFUSE;
    return ZM_SIM_ELLIPTICAL;
}

/* m in [a, b] with density ~ 10^(slope m) */
static double draw_mag(zm_rng *r, double a, double b, double slope)
{
    double ea = pow(10.0, slope * a), eb = pow(10.0, slope * b);
    return log10(ea + zm_rng_uniform(r) * (eb - ea)) / slope;
}

/* ---- files ------------------------------------------------------------------- */

static int fits_err(zm_err *err, int status, const char *path, const char *doing)
{
    char m[512];
    zm_fits_error_string(status, m, sizeof m);
    return zm_err_set(err, ZM_EIO, "%s: %s: %s", path, doing, m);
}

static int mkdirs(const char *path, zm_err *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return zm_err_set(err, ZM_EIO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return zm_err_set(err, ZM_EIO, "cannot create directory %s: %s", buf, strerror(errno));
    return 0;
}

typedef struct {
    double crval1, crval2, crpix1, crpix2, cd;
    int nx, ny;
} tan_wcs;

static void wcs_cards(const tan_wcs *w, char *hdr, int *nkeys)
{
    char card[81];
    int k = 0;
#define CARD(...)                                    \
    do {                                             \
        snprintf(card, sizeof card, __VA_ARGS__);    \
        snprintf(hdr + 80 * k, 81, "%-80s", card);   \
        k++;                                         \
    } while (0)
    CARD("NAXIS   = %20d", 2);
    CARD("NAXIS1  = %20d", w->nx);
    CARD("NAXIS2  = %20d", w->ny);
    CARD("CTYPE1  = 'RA---TAN'");
    CARD("CTYPE2  = 'DEC--TAN'");
    CARD("CRVAL1  = %20.12f", w->crval1);
    CARD("CRVAL2  = %20.12f", w->crval2);
    CARD("CRPIX1  = %20.12f", w->crpix1);
    CARD("CRPIX2  = %20.12f", w->crpix2);
    CARD("CD1_1   = %20.12e", -w->cd);
    CARD("CD1_2   = %20.12e", 0.0);
    CARD("CD2_1   = %20.12e", 0.0);
    CARD("CD2_2   = %20.12e", w->cd);
    CARD("END");
#undef CARD
    *nkeys = k;
}

/* One tile-compressed image: empty primary + RICE_1 compressed HDU, like DR coadds. */
static int write_image(const char *path, const float *pix, const tan_wcs *w,
                       const zm_sim_brick *b, int band, int invvar, float fwhm, int dither_seed,
                       zm_err *err)
{
    fitsfile *f = NULL;
    int st = 0;
    char fname[1100];
    snprintf(fname, sizeof fname, "!%s", path);
    long naxes[2] = {w->nx, w->ny};
    if (fits_create_file(&f, fname, &st)) return fits_err(err, st, path, "cannot create");
    fits_create_img(f, 8, 0, NULL, &st); /* the empty primary */
    fits_set_compression_type(f, RICE_1, &st);
    fits_set_quantize_level(f, 16.0f, &st);
    fits_set_quantize_method(f, SUBTRACTIVE_DITHER_1, &st);
    fits_set_dither_seed(f, dither_seed, &st);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
    char bandstr[2] = {band_letter[band], 0};
    fits_write_key_str(f, "CTYPE1", "RA---TAN", "TAN projection", &st);
    fits_write_key_str(f, "CTYPE2", "DEC--TAN", "TAN projection", &st);
    fits_write_key_dbl(f, "CRVAL1", w->crval1, 14, "brick centre RA", &st);
    fits_write_key_dbl(f, "CRVAL2", w->crval2, 14, "brick centre Dec", &st);
    fits_write_key_dbl(f, "CRPIX1", w->crpix1, 14, "", &st);
    fits_write_key_dbl(f, "CRPIX2", w->crpix2, 14, "", &st);
    fits_write_key_dbl(f, "CD1_1", -w->cd, 14, "", &st);
    fits_write_key_dbl(f, "CD1_2", 0.0, 14, "", &st);
    fits_write_key_dbl(f, "CD2_1", 0.0, 14, "", &st);
    fits_write_key_dbl(f, "CD2_2", w->cd, 14, "", &st);
    fits_write_key_str(f, "BRICKNAM", b->name, "LegacySurvey brick RRRr[pm]DDd", &st);
    long bid = b->brickid;
    fits_write_key(f, TLONG, "BRICKID", &bid, "brick id on the simulated grid", &st);
    fits_write_key_dbl(f, "RAMIN", b->ra1, 12, "Brick RA min", &st);
    fits_write_key_dbl(f, "RAMAX", b->ra2, 12, "Brick RA max", &st);
    fits_write_key_dbl(f, "DECMIN", b->dec1, 12, "Brick Dec min", &st);
    fits_write_key_dbl(f, "DECMAX", b->dec2, 12, "Brick Dec max", &st);
    fits_write_key_str(f, "BAND", bandstr, "Band of this coadd", &st);
    fits_write_key_str(f, "BUNIT", invvar ? "1/nanomaggy^2" : "nanomaggy", "", &st);
    fits_write_key_flt(f, "PSFSIZE", fwhm, 5, "PSF FWHM, arcsec (simulated Moffat)", &st);
    fits_write_key_str(f, "SURVEY", "zoomorph-sim", "simulated DECaLS-like survey", &st);
    int ver = ZM_SIM_FORMAT_VERSION;
    fits_write_key(f, TINT, "ZMSIMVER", &ver, "zoomorph simulator format version", &st);
    if (!st) fits_write_img(f, TFLOAT, 1, (LONGLONG)w->nx * w->ny, (void *)pix, &st);
    int st2 = 0;
    fits_close_file(f, &st2);
    if (st || st2) return fits_err(err, st ? st : st2, path, "cannot write the image");
    return 0;
}

/* Column helper for binary tables. */
typedef struct {
    const char *name, *form, *unit;
    int type;       /* cfitsio TDOUBLE, TFLOAT, TLONG, TSHORT, TLOGICAL, TSTRING */
    const void *data;
} col_spec;

static int write_table(const char *path, const char *extname, const col_spec *cols, int ncols,
                       long nrows, int replace_file, zm_err *err)
{
    fitsfile *f = NULL;
    int st = 0;
    char fname[1100];
    snprintf(fname, sizeof fname, "%s%s", replace_file ? "!" : "", path);
    if (fits_create_file(&f, fname, &st)) return fits_err(err, st, path, "cannot create");
    char *tt[256], *tf[256], *tu[256];
    for (int c = 0; c < ncols && c < 256; c++) {
        tt[c] = (char *)cols[c].name;
        tf[c] = (char *)cols[c].form;
        tu[c] = (char *)(cols[c].unit ? cols[c].unit : "");
    }
    fits_create_tbl(f, BINARY_TBL, nrows, ncols, tt, tf, tu, extname, &st);
    int ver = ZM_SIM_FORMAT_VERSION;
    fits_write_key(f, TINT, "ZMSIMVER", &ver, "zoomorph simulator format version", &st);
    for (int c = 0; c < ncols && !st && nrows > 0; c++)
        fits_write_col(f, cols[c].type, c + 1, 1, 1, nrows, (void *)cols[c].data, &st);
    int st2 = 0;
    fits_close_file(f, &st2);
    if (st || st2) return fits_err(err, st ? st : st2, path, "cannot write the table");
    return 0;
}

int zm_sim_write_bricks(const char *path, const zm_sim_brick *b, int n, zm_err *err)
{
    size_t m = (size_t)(n ? n : 1);
    char **names = zm_malloc(m * sizeof *names);
    long *id = zm_malloc(m * sizeof *id);
    double *v[6];
    for (int k = 0; k < 6; k++) v[k] = zm_malloc(m * sizeof(double));
    for (int i = 0; i < n; i++) {
        names[i] = (char *)b[i].name;
        id[i] = b[i].brickid;
        v[0][i] = b[i].ra, v[1][i] = b[i].dec, v[2][i] = b[i].ra1;
        v[3][i] = b[i].ra2, v[4][i] = b[i].dec1, v[5][i] = b[i].dec2;
    }
    col_spec cols[] = {
        {"brickname", "8A", "", TSTRING, names}, {"brickid", "J", "", TLONG, id},
        {"ra", "D", "deg", TDOUBLE, v[0]},       {"dec", "D", "deg", TDOUBLE, v[1]},
        {"ra1", "D", "deg", TDOUBLE, v[2]},      {"ra2", "D", "deg", TDOUBLE, v[3]},
        {"dec1", "D", "deg", TDOUBLE, v[4]},     {"dec2", "D", "deg", TDOUBLE, v[5]},
    };
    int rc = write_table(path, "BRICKS", cols, 8, n, 1, err);
    free(names), free(id);
    for (int k = 0; k < 6; k++) free(v[k]);
    return rc;
}

/* The Tractor catalogue of one brick (DR9 column names and types). */
static int write_tractor(const char *path, const zm_sim_brick *b, const zm_sim_object *o, long n,
                         const double sigma_pix[ZM_SIM_NBANDS], const double nea[ZM_SIM_NBANDS],
                         double pixscale, zm_err *err)
{
    size_t m = (size_t)(n ? n : 1);
    short *release = zm_malloc(m * sizeof *release);
    long *brickid = zm_malloc(m * sizeof *brickid), *objid = zm_malloc(m * sizeof *objid);
    char **bname = zm_malloc(m * sizeof *bname), **type = zm_malloc(m * sizeof *type);
    char *prim = zm_malloc(m);
    double *ra = zm_malloc(m * sizeof *ra), *dec = zm_malloc(m * sizeof *dec);
    enum { BX, BY, FG, FR, FZ, IG, IR, IZ, SR, E1, E2, SE, PG, PR, PZ, DG, DR, DZ, NF };
    float *f[NF];
    for (int k = 0; k < NF; k++) f[k] = zm_malloc(m * sizeof(float));
    for (long i = 0; i < n; i++) {
        const zm_sim_object *s = &o[i];
        release[i] = 9010;
        brickid[i] = b->brickid;
        objid[i] = s->objid;
        bname[i] = (char *)b->name;
        type[i] = (char *)s->tractor_type;
        prim[i] = s->ra >= b->ra1 && s->ra < b->ra2 && s->dec >= b->dec1 && s->dec < b->dec2;
        ra[i] = s->ra;
        dec[i] = s->dec;
        f[BX][i] = s->x;
        f[BY][i] = s->y;
        int psf = s->cls == ZM_SIM_STAR;
        double rpx = psf ? 0.0 : s->r50 / pixscale;
        for (int bb = 0; bb < ZM_SIM_NBANDS; bb++) {
            f[FG + bb][i] = s->flux[bb];
            double area = nea[bb] + 4.0 * M_PI * (rpx / 1.1774) * (rpx / 1.1774);
            f[IG + bb][i] = (float)(1.0 / (sigma_pix[bb] * sigma_pix[bb] * area));
            f[PG + bb][i] = s->psf_fwhm[bb];
            f[DG + bb][i] = (float)(1.0 / (sigma_pix[bb] * sigma_pix[bb] * nea[bb]));
        }
        double e = psf ? 0.0 : (1.0 - s->q) / (1.0 + s->q);
        f[SR][i] = psf ? 0.0f : s->r50;
        f[E1][i] = (float)(e * cos(2.0 * s->pa * DEG));
        f[E2][i] = (float)(e * sin(2.0 * s->pa * DEG));
        f[SE][i] = psf ? 0.0f : s->sersic;
    }
    col_spec cols[] = {
        {"release", "I", "", TSHORT, release},
        {"brickid", "J", "", TLONG, brickid},
        {"brickname", "8A", "", TSTRING, bname},
        {"objid", "J", "", TLONG, objid},
        {"brick_primary", "L", "", TLOGICAL, prim},
        {"type", "3A", "", TSTRING, type},
        {"ra", "D", "deg", TDOUBLE, ra},
        {"dec", "D", "deg", TDOUBLE, dec},
        {"bx", "E", "", TFLOAT, f[BX]},
        {"by", "E", "", TFLOAT, f[BY]},
        {"flux_g", "E", "nanomaggy", TFLOAT, f[FG]},
        {"flux_r", "E", "nanomaggy", TFLOAT, f[FR]},
        {"flux_z", "E", "nanomaggy", TFLOAT, f[FZ]},
        {"flux_ivar_g", "E", "1/nanomaggy^2", TFLOAT, f[IG]},
        {"flux_ivar_r", "E", "1/nanomaggy^2", TFLOAT, f[IR]},
        {"flux_ivar_z", "E", "1/nanomaggy^2", TFLOAT, f[IZ]},
        {"psfsize_g", "E", "arcsec", TFLOAT, f[PG]},
        {"psfsize_r", "E", "arcsec", TFLOAT, f[PR]},
        {"psfsize_z", "E", "arcsec", TFLOAT, f[PZ]},
        {"psfdepth_g", "E", "1/nanomaggy^2", TFLOAT, f[DG]},
        {"psfdepth_r", "E", "1/nanomaggy^2", TFLOAT, f[DR]},
        {"psfdepth_z", "E", "1/nanomaggy^2", TFLOAT, f[DZ]},
        {"shape_r", "E", "arcsec", TFLOAT, f[SR]},
        {"shape_e1", "E", "", TFLOAT, f[E1]},
        {"shape_e2", "E", "", TFLOAT, f[E2]},
        {"sersic", "E", "", TFLOAT, f[SE]},
    };
    int rc = write_table(path, "", cols, (int)(sizeof cols / sizeof cols[0]), n, 1, err);
    free(release), free(brickid), free(objid), free(bname), free(type), free(prim);
    free(ra), free(dec);
    for (int k = 0; k < NF; k++) free(f[k]);
    return rc;
}

/* ---- one brick --------------------------------------------------------------- */


/* ---- artefacts --------------------------------------------------------------- */

const char *const zm_sim_artefact_names[ZM_ART_NKINDS] = {"satellite-trail", "bad-column",
                                                          "missing-coverage", "bright-star"};

/* Distance from (px, py) to the segment (x0, y0)-(x1, y1). */
static double seg_dist(double px, double py, double x0, double y0, double x1, double y1)
{
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / l2 : 0.0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - x0 - t * dx, py - y0 - t * dy);
}

void zm_sim_draw_artefacts(const zm_sim_cfg *cfg, long brickid, zm_sim_artefact *a, int *na)
{
    zm_rng r;
    zm_rng_seed(&r, cfg->seed, stream_id(brickid, STREAM_ARTEFACT, 0));
    const int S = cfg->brick_size;
    double mean = cfg->artefacts_per_brick * (double)S * S / (3600.0 * 3600.0);
    /* Poisson count by inversion, capped */
    int n = 0;
    double L = exp(-mean), pcum = L, u = zm_rng_uniform(&r), pk = L;
    while (u > pcum && n < ZM_SIM_MAX_ARTEFACTS) {
        n++;
        pk *= mean / n;
        pcum += pk;
    }
    for (int i = 0; i < n; i++) {
        zm_sim_artefact *t = &a[i];
        memset(t, 0, sizeof *t);
        t->kind = (int)zm_rng_below(&r, ZM_ART_NKINDS);
        switch (t->kind) {
        case ZM_ART_TRAIL: { /* a straight line across the brick */
            double th = uni(&r, 0, M_PI), cx = uni(&r, 0, S), cy = uni(&r, 0, S), h = 2.0 * S;
            t->x0 = (float)(cx - h * cos(th)), t->y0 = (float)(cy - h * sin(th));
            t->x1 = (float)(cx + h * cos(th)), t->y1 = (float)(cy + h * sin(th));
            t->width = (float)uni(&r, 1.0, 2.5);  /* Gaussian sigma, pixels */
            t->level = (float)uni(&r, 5.0, 40.0); /* peak, in noise sigmas */
            break;
        }
        case ZM_ART_BADCOL: { /* one column, part of the brick */
            double x = floor(uni(&r, 0, S)), y0 = uni(&r, 0, 0.6 * S);
            t->x0 = t->x1 = (float)x, t->y0 = (float)y0, t->y1 = (float)(y0 + uni(&r, 0.2, 0.4 * 1.0) * S);
            t->width = 0.5f;
            t->level = (float)uni(&r, 20.0, 100.0);
            break;
        }
        case ZM_ART_MISSING: { /* a strip along one edge with no data (zeros) */
            int side = (int)zm_rng_below(&r, 4);
            double w = uni(&r, 0.02, 0.08) * S;
            t->x0 = 0, t->y0 = 0, t->x1 = (float)S, t->y1 = (float)S;
            if (side == 0) t->x1 = (float)w;
            else if (side == 1) t->x0 = (float)(S - w);
            else if (side == 2) t->y1 = (float)w;
            else t->y0 = (float)(S - w);
            t->level = 1.0f;
            break;
        }
        default: { /* a bright star with diffraction spikes (not in the catalogue: saturated) */
            t->kind = ZM_ART_STAR;
            t->x0 = t->x1 = (float)uni(&r, 0, S), t->y0 = t->y1 = (float)uni(&r, 0, S);
            t->level = (float)uni(&r, 8.0, 11.0); /* r magnitude */
            t->width = (float)(40.0 * pow(10.0, -0.2 * (t->level - 8.0)) / cfg->pixscale); /* spike length */
            break;
        }
        }
    }
    *na = n;
}

/* How strongly artefact t affects a galaxy at (x, y) whose field has half-size h px. */
static double artefact_hit(const zm_sim_artefact *t, double x, double y, double h)
{
    switch (t->kind) {
    case ZM_ART_TRAIL:
    case ZM_ART_BADCOL:
        return seg_dist(x, y, t->x0, t->y0, t->x1, t->y1) < h ? (t->kind == ZM_ART_TRAIL ? 0.8 : 0.6) : 0.0;
    case ZM_ART_MISSING: {
        double dx = fmax(fmax(t->x0 - x, x - t->x1), 0.0), dy = fmax(fmax(t->y0 - y, y - t->y1), 0.0);
        return hypot(dx, dy) < h ? 0.9 : 0.0;
    }
    default: {
        double d = hypot(x - t->x0, y - t->y0);
        return d < h + t->width ? 0.7 : 0.0;
    }
    }
}

/* Paints the artefacts into the noisy band images (img: 3 x S x S) and zeroes the
 * missing-coverage pixels of images and invvar (mask: S x S, 1 = missing). */
static void paint_artefacts(const zm_sim_cfg *cfg, const zm_sim_artefact *a, int na, const double *sigma,
                            const zm_sim_psf *psf, float *img, unsigned char *mask)
{
    const int S = cfg->brick_size;
    size_t npix = (size_t)S * S;
    static const double col_tr[3] = {0.8, 1.0, 1.3}; /* trail colour: reddish sunlight */
    for (int i = 0; i < na; i++) {
        const zm_sim_artefact *t = &a[i];
        if (t->kind == ZM_ART_TRAIL) {
            double dx = t->x1 - t->x0, dy = t->y1 - t->y0, l = hypot(dx, dy), nx = -dy / l, ny = dx / l;
            double c = nx * t->x0 + ny * t->y0, w = t->width;
            for (int y = 0; y < S; y++) {
                /* pixels with |nx x + ny y - c| < 5 w */
                for (int x = 0; x < S; x++) {
                    double d = nx * x + ny * y - c;
                    if (fabs(d) > 5.0 * w) continue;
                    double v = t->level * exp(-0.5 * d * d / (w * w));
                    for (int b = 0; b < 3; b++) img[npix * b + (size_t)y * S + x] += (float)(v * sigma[b] * col_tr[b]);
                }
            }
        } else if (t->kind == ZM_ART_BADCOL) {
            int x = (int)t->x0;
            for (int y = (int)fmax(t->y0, 0); y < (int)fmin(t->y1, S); y++)
                for (int b = 0; b < 3; b++) img[npix * b + (size_t)y * S + x] += (float)(t->level * sigma[b]);
        } else if (t->kind == ZM_ART_MISSING) {
            for (int y = (int)t->y0; y < (int)t->y1 && y < S; y++)
                for (int x = (int)t->x0; x < (int)t->x1 && x < S; x++) mask[(size_t)y * S + x] = 1;
        } else {
            /* the star: Moffat core (clipped at a saturation level) + 4 spikes along the
             * pixel axes with a 1/d profile */
            zm_sim_stamp st = {0};
            float flux[3];
            double fr = pow(10.0, (22.5 - t->level) / 2.5);
            flux[0] = (float)(fr * 0.7), flux[1] = (float)fr, flux[2] = (float)(fr * 1.2);
            zm_sim_render_star(t->x0, t->y0, flux, psf, &st);
            for (int b = 0; b < 3; b++) zm_sim_stamp_add(&st, b, img + npix * b, S, S);
            zm_sim_stamp_free(&st);
            int L = (int)t->width, cx = (int)lround(t->x0), cy = (int)lround(t->y0);
            for (int k = 2; k < L; k++) {
                double v = 0.02 * fr / (k * 10.0) * (1.0 - (double)k / L);
                for (int dir = 0; dir < 4; dir++) {
                    int x = cx + (dir == 0 ? k : dir == 1 ? -k : 0), y = cy + (dir == 2 ? k : dir == 3 ? -k : 0);
                    if (x < 0 || y < 0 || x >= S || y >= S) continue;
                    for (int b = 0; b < 3; b++)
                        for (int w = -1; w <= 1; w++) {
                            int xx = dir < 2 ? x : x + w, yy = dir < 2 ? y + w : y;
                            if (xx < 0 || yy < 0 || xx >= S || yy >= S) continue;
                            img[npix * b + (size_t)yy * S + xx] += (float)(v * flux[b] / fr * (w ? 0.3 : 1.0));
                        }
                }
            }
        }
    }
    /* saturation of the cores: clip at 3000 nanomaggies */
    for (size_t p = 0; p < npix * 3; p++)
        if (img[p] > 3000.0f) img[p] = 3000.0f;
    (void)cfg;
}

int zm_sim_write_artefacts(const char *path, const zm_sim_cfg *cfg, const zm_sim_brick *b, int nb,
                           zm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return zm_err_set(err, ZM_EIO, "cannot create %s", path);
    fprintf(f, "brickname,kind,x0,y0,x1,y1,width,level\n");
    zm_sim_artefact a[ZM_SIM_MAX_ARTEFACTS];
    for (int i = 0; i < nb; i++) {
        int na = 0;
        zm_sim_draw_artefacts(cfg, b[i].brickid, a, &na);
        for (int k = 0; k < na; k++)
            fprintf(f, "%s,%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f\n", b[i].name, zm_sim_artefact_names[a[k].kind], a[k].x0,
                    a[k].y0, a[k].x1, a[k].y1, a[k].width, a[k].level);
    }
    if (fclose(f) != 0) return zm_err_set(err, ZM_EIO, "cannot write %s", path);
    return 0;
}

int zm_sim_brick_run(const zm_sim_cfg *cfg, const zm_sim_brick *brick, int bi, const char *outdir,
                     zm_sim_object **objs, long *nobj, zm_err *err)
{
    *objs = NULL;
    *nobj = 0;
    const int S = cfg->brick_size;
    const double ps = cfg->pixscale;
    tan_wcs tw = {brick->ra, brick->dec, 0.5 * (S + 1), 0.5 * (S + 1), ps / 3600.0, S, S};
    char hdr[80 * 16];
    int nkeys = 0;
    wcs_cards(&tw, hdr, &nkeys);
    zm_wcs *wcs = NULL;
    int rc = zm_wcs_from_header(&wcs, hdr, nkeys, brick->name, err);
    if (rc) return rc;

    /* brick-level draws: seeing, depth, split, positions */
    zm_rng rb;
    zm_rng_seed(&rb, cfg->seed, stream_id(brick->brickid, STREAM_BRICK, 0));
    double fwhm[ZM_SIM_NBANDS], sigma[ZM_SIM_NBANDS], nea[ZM_SIM_NBANDS];
    zm_sim_psf psf[ZM_SIM_NBANDS];
    for (int b = 0; b < ZM_SIM_NBANDS; b++) {
        fwhm[b] = uni(&rb, cfg->fwhm_min[b], cfg->fwhm_max[b]);
        zm_sim_psf_make(&psf[b], fwhm[b] / ps, cfg->moffat_beta);
        nea[b] = psf[b].nea;
        double depth = cfg->depth[b] + 0.15 * (2.0 * zm_rng_uniform(&rb) - 1.0);
        double sig_flux = pow(10.0, (22.5 - depth) / 2.5) / 5.0;
        sigma[b] = sig_flux / sqrt(nea[b]);
    }
    double us = zm_rng_uniform(&rb);
    int split = us < cfg->test_fraction                       ? ZM_SPLIT_TEST
                : us < cfg->test_fraction + cfg->val_fraction ? ZM_SPLIT_VALIDATION
                                                              : ZM_SPLIT_TRAIN;
    long ng = cfg->galaxies_per_brick, ns = cfg->stars_per_brick, n = ng + ns;
    zm_sim_object *o = zm_calloc((size_t)(n ? n : 1), sizeof *o);
    /* galaxies first (their own streams), then positions (the brick's stream) */
    for (long i = 0; i < ng; i++) {
        zm_rng r;
        zm_rng_seed(&r, cfg->seed, stream_id(brick->brickid, STREAM_GALAXY, i));
        int cls = draw_class(cfg, &r);
        double mag = draw_mag(&r, cfg->mag_bright, cfg->mag_faint, 0.6);
        double r50 = pow(10.0, log10(cfg->r50_median) - 0.15 * (mag - 16.5) +
                                   cfg->r50_sigma_dex * zm_rng_normal(&r));
        r50 = fmin(fmax(r50, cfg->r50_min), cfg->r50_max);
        zm_sim_draw_galaxy(cfg, &r, cls, mag, r50, 0.0, 0.0, &o[i]);
    }
    double side = usable_side(cfg), lo = 0.5 * (S - 1) - 0.5 * side;
    double sep = cfg->min_separation / ps;
    for (long i = 0; i < ng; i++) {
        /* the square where this galaxy's centre may go */
        double glo = lo, gside = side;
        if (cfg->gz_field_on_brick) {
            /* half of the Galaxy Zoo field: 424 px at 0.04 r50 arcsec per pixel */
            double half = 0.5 * 424.0 * fmax(0.04 * o[i].r50, 0.1) / ps;
            double maxhalf = 0.5 * (S - 1) - 1.0;
            if (half > maxhalf) half = maxhalf;
            if (half > glo) {
                glo = half;
                gside = (S - 1) - 2.0 * half;
            }
        }
        double x = 0, y = 0;
        for (int tries = 0; tries < 2000; tries++) {
            x = glo + gside * zm_rng_uniform(&rb);
            y = glo + gside * zm_rng_uniform(&rb);
            long k = 0;
            for (; k < i; k++) {
                double dx = o[k].x - x, dy = o[k].y - y;
                if (dx * dx + dy * dy < sep * sep) break;
            }
            if (k == i) break;
        }
        o[i].x = (float)x;
        o[i].y = (float)y;
        o[i].g.x = x;
        o[i].g.y = y;
    }
    /* stars: anywhere on the brick */
    for (long i = ng; i < n; i++) {
        zm_rng r;
        zm_rng_seed(&r, cfg->seed, stream_id(brick->brickid, STREAM_STAR, i - ng));
        zm_sim_object *s = &o[i];
        s->cls = ZM_SIM_STAR;
        s->x = (float)uni(&r, 0, S - 1);
        s->y = (float)uni(&r, 0, S - 1);
        double mag = uni(&r, cfg->star_mag_bright, cfg->star_mag_faint);
        double gr = uni(&r, 0.3, 1.4), rz = uni(&r, 0.1, 0.8), fr = pow(10.0, (22.5 - mag) / 2.5);
        s->mag_r = (float)mag;
        s->flux[0] = (float)(fr * pow(10.0, -0.4 * gr));
        s->flux[1] = (float)fr;
        s->flux[2] = (float)(fr * pow(10.0, 0.4 * rz));
        s->q = 1.0f;
        s->incl = NAN;
        snprintf(s->tractor_type, sizeof s->tractor_type, "PSF");
    }
    for (long i = 0; i < n; i++) {
        zm_sim_object *s = &o[i];
        snprintf(s->brickname, sizeof s->brickname, "%s", brick->name);
        s->brick_index = bi;
        s->objid = i;
        s->split = split;
        for (int b = 0; b < ZM_SIM_NBANDS; b++) s->psf_fwhm[b] = (float)fwhm[b];
        if (zm_wcs_pix2sky(wcs, s->x, s->y, &s->ra, &s->dec))
            ZM_ABORT("brick %s: pixel (%g, %g) has no sky position", brick->name, s->x, s->y);
    }

    /* artefacts, and which galaxies' fields they cross (about the GZ field) */
    zm_sim_artefact art[ZM_SIM_MAX_ARTEFACTS];
    int nart = 0;
    zm_sim_draw_artefacts(cfg, brick->brickid, art, &nart);
    for (long i = 0; i < ng; i++) {
        double h = 0.5 * 424.0 * fmax(0.04 * o[i].r50, 0.1) / ps;
        for (int k = 0; k < nart; k++) {
            double v = artefact_hit(&art[k], o[i].x, o[i].y, h);
            if (v > o[i].artefact) o[i].artefact = (float)v;
        }
    }

    /* render */
    size_t npix = (size_t)S * S;
    float *img = zm_calloc(npix * ZM_SIM_NBANDS, sizeof *img);
    zm_sim_stamp st = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (long i = 0; i < n; i++) {
        if (o[i].cls == ZM_SIM_STAR) zm_sim_render_star(o[i].x, o[i].y, o[i].flux, psf, &st);
        else
            zm_sim_render_galaxy(&o[i].g, zm_sim_stamp_half(&o[i].g, cfg->max_half), psf,
                                 cfg->supersample, 0, &st);
        for (int b = 0; b < ZM_SIM_NBANDS; b++) zm_sim_stamp_add(&st, b, img + npix * b, S, S);
    }
    zm_sim_stamp_free(&st);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double trender = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    zm_info("simulate: brick %s: rendered %ld galaxies and %ld stars in %.2f CPU s (%.0f galaxies/s/core)",
                brick->name, ng, ns, trender, trender > 0.0 ? (double)ng / trender : 0.0);

    /* noise, files */
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/coadd/%.3s/%s", outdir, brick->name, brick->name);
    rc = mkdirs(dir, err);
    float *iv = rc ? NULL : zm_malloc(npix * sizeof *iv);
    for (int b = 0; b < ZM_SIM_NBANDS; b++) {
        zm_rng rn;
        zm_rng_seed(&rn, cfg->seed, stream_id(brick->brickid, STREAM_NOISE, b));
        float *im = img + npix * b;
        /* polar method, both deviates of each accepted pair used */
        for (size_t p = 0; p < npix; p += 2) {
            double u, v, q;
            do {
                u = 2.0 * zm_rng_uniform(&rn) - 1.0;
                v = 2.0 * zm_rng_uniform(&rn) - 1.0;
                q = u * u + v * v;
            } while (q >= 1.0 || q == 0.0);
            double f = sigma[b] * sqrt(-2.0 * log(q) / q);
            im[p] += (float)(u * f);
            if (p + 1 < npix) im[p + 1] += (float)(v * f);
        }
    }
    unsigned char *mask = zm_calloc(npix, 1);
    paint_artefacts(cfg, art, nart, sigma, psf, img, mask);
    for (int b = 0; b < ZM_SIM_NBANDS && !rc; b++) {
        float *im = img + npix * b;
        for (size_t p = 0; p < npix; p++)
            if (mask[p]) im[p] = 0.0f;
        int seed = (int)((brick->brickid * 3 + b) % 10000) + 1;
        snprintf(path, sizeof path, "%s/legacysurvey-%s-image-%c.fits.fz", dir, brick->name, band_letter[b]);
        rc = write_image(path, im, &tw, brick, b, 0, (float)fwhm[b], seed, err);
        if (rc) break;
        float ivv = (float)(1.0 / (sigma[b] * sigma[b]));
        for (size_t p = 0; p < npix; p++) iv[p] = mask[p] ? 0.0f : ivv;
        snprintf(path, sizeof path, "%s/legacysurvey-%s-invvar-%c.fits.fz", dir, brick->name, band_letter[b]);
        rc = write_image(path, iv, &tw, brick, b, 1, (float)fwhm[b], seed, err);
    }
    free(iv);
    free(mask);
    free(img);
    if (!rc) {
        snprintf(dir, sizeof dir, "%s/tractor/%.3s", outdir, brick->name);
        rc = mkdirs(dir, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/tractor-%s.fits", dir, brick->name);
        rc = write_tractor(path, brick, o, n, sigma, nea, ps, err);
    }
    for (int b = 0; b < ZM_SIM_NBANDS; b++) zm_sim_psf_free(&psf[b]);
    zm_wcs_free(wcs);
    if (rc) {
        free(o);
        return rc;
    }
    *objs = o;
    *nobj = n;
    return 0;
}

/* ---- truth table ----------------------------------------------------------- */

int zm_sim_write_truth(const char *path, const zm_sim_object *o, long n, double ps,
                       const zm_gz_schema *tree, zm_err *err)
{
    size_t m = (size_t)(n ? n : 1);
    enum { MAXC = 256 };
    col_spec cols[MAXC];
    int nc = 0;
    void *owned[MAXC];
    int nowned = 0;
#define OWN(p) (owned[nowned++] = (p))
    char **bname = OWN(zm_malloc(m * sizeof(char *)));
    char **cls = OWN(zm_malloc(m * sizeof(char *)));
    char **split = OWN(zm_malloc(m * sizeof(char *)));
    char **ttype = OWN(zm_malloc(m * sizeof(char *)));
    long *objid = OWN(zm_malloc(m * sizeof(long)));
    double *ra = OWN(zm_malloc(m * sizeof(double))), *dec = OWN(zm_malloc(m * sizeof(double)));
    for (long i = 0; i < n; i++) {
        bname[i] = (char *)o[i].brickname;
        cls[i] = (char *)zm_sim_class_names[o[i].cls];
        split[i] = (char *)zm_sim_split_names[o[i].split];
        ttype[i] = (char *)o[i].tractor_type;
        objid[i] = o[i].objid;
        ra[i] = o[i].ra;
        dec[i] = o[i].dec;
    }
    cols[nc++] = (col_spec){"brickname", "8A", "", TSTRING, bname};
    cols[nc++] = (col_spec){"objid", "J", "", TLONG, objid};
    cols[nc++] = (col_spec){"ra", "D", "deg", TDOUBLE, ra};
    cols[nc++] = (col_spec){"dec", "D", "deg", TDOUBLE, dec};
    cols[nc++] = (col_spec){"class", "12A", "", TSTRING, cls};
    cols[nc++] = (col_spec){"split", "10A", "", TSTRING, split};
    cols[nc++] = (col_spec){"tractor_type", "3A", "", TSTRING, ttype};
    /* float columns from a getter */
#define FCOL(NAME, UNIT, EXPR)                                  \
    do {                                                        \
        float *v_ = OWN(zm_malloc(m * sizeof(float)));          \
        for (long i = 0; i < n; i++) {                          \
            const zm_sim_object *s = &o[i];                     \
            (void)s;                                            \
            v_[i] = (float)(EXPR);                              \
        }                                                       \
        cols[nc++] = (col_spec){NAME, "E", UNIT, TFLOAT, v_};   \
    } while (0)
    FCOL("x", "pixel", s->x);
    FCOL("y", "pixel", s->y);
    FCOL("mag_r", "mag", s->mag_r);
    FCOL("flux_g", "nanomaggy", s->flux[0]);
    FCOL("flux_r", "nanomaggy", s->flux[1]);
    FCOL("flux_z", "nanomaggy", s->flux[2]);
    FCOL("r50", "arcsec", s->r50);
    FCOL("bulge_frac", "", s->bulge_frac);
    FCOL("incl", "deg", s->incl);
    FCOL("artefact", "", s->artefact);
    FCOL("psf_fwhm_g", "arcsec", s->psf_fwhm[0]);
    FCOL("psf_fwhm_r", "arcsec", s->psf_fwhm[1]);
    FCOL("psf_fwhm_z", "arcsec", s->psf_fwhm[2]);
    char names[ZM_COMP_NKINDS][12][40];
    for (int k = 0; k < ZM_COMP_NKINDS; k++) {
        const char *cn = zm_sim_comp_names[k];
        const char *fields[12] = {"present", "flux_g", "flux_r", "flux_z", "r50", "n", "q", "pa",
                                  "p0", "p1", "p2", "p3"};
        /* extra parameters per kind (p[0..np)) and which are lengths (arcsec) or angles */
        int np = 0, len_mask = 0, deg_mask = 0;
        switch (k) {
        case ZM_COMP_BULGE: np = 1, fields[8] = "boxiness"; break;
        case ZM_COMP_BAR: np = 1, fields[4] = "length", fields[8] = "boxiness"; break;
        case ZM_COMP_ARMS:
        case ZM_COMP_TAIL:
            np = 4, deg_mask = 6;
            fields[8] = "count", fields[9] = "pitch", fields[10] = "phase", fields[11] = "sharpness";
            break;
        case ZM_COMP_RING:
        case ZM_COMP_ORING: np = 1, len_mask = 1, fields[4] = "radius", fields[8] = "width"; break;
        case ZM_COMP_CLUMPS: np = 3, len_mask = 2, fields[8] = "count", fields[9] = "sigma", fields[10] = "seed"; break;
        case ZM_COMP_COMPANION: np = 2, len_mask = 3, fields[8] = "dx", fields[9] = "dy"; break;
        case ZM_COMP_SHELL:
            np = 3, len_mask = 1, deg_mask = 2;
            fields[4] = "radius", fields[8] = "width", fields[9] = "direction", fields[10] = "opening";
            break;
        case ZM_COMP_ARC:
            np = 4, len_mask = 1, deg_mask = 2;
            fields[4] = "radius", fields[8] = "width", fields[9] = "direction", fields[10] = "opening";
            fields[11] = "counter";
            break;
        case ZM_COMP_DUST:
            np = 1, len_mask = 1;
            fields[1] = "tau_g", fields[2] = "tau_r", fields[3] = "tau_z", fields[8] = "width";
            break;
        default: break;
        }
        if (k == ZM_COMP_ARMS) fields[5] = "flocculence";
        int has_n = k == ZM_COMP_BULGE || k == ZM_COMP_COMPANION || k == ZM_COMP_ARMS;
        for (int fi = 0; fi < 12; fi++) {
            if (fi >= 8 && fi - 8 >= np) continue;
            if (!has_n && fi == 5) continue;
            snprintf(names[k][fi], sizeof names[k][fi], "%s_%s", cn, fields[fi]);
            float *v = OWN(zm_malloc(m * sizeof(float)));
            for (long i = 0; i < n; i++) {
                const zm_sim_comp *c = NULL;
                for (int j = 0; j < o[i].g.ncomp; j++)
                    if (o[i].g.comp[j].kind == k) c = &o[i].g.comp[j];
                float val = 0.0f;
                if (fi == 0) val = c != NULL;
                else if (!c) val = NAN;
                else if (fi <= 3) val = c->flux[fi - 1];
                else if (fi == 4) val = (float)(c->r50 * ps);
                else if (fi == 5) val = c->n;
                else if (fi == 6) val = c->q;
                else if (fi == 7) val = c->pa;
                else val = (len_mask >> (fi - 8) & 1) ? (float)(c->p[fi - 8] * ps) : c->p[fi - 8];
                v[i] = val;
            }
            int extra = fi >= 8;
            const char *unit = (fi >= 1 && fi <= 3) ? (k == ZM_COMP_DUST ? "" : "nanomaggy")
                               : (fi == 4 || (extra && (len_mask >> (fi - 8) & 1))) ? "arcsec"
                               : (fi == 7 || (extra && (deg_mask >> (fi - 8) & 1))) ? "deg"
                                                                                     : "";
            cols[nc++] = (col_spec){names[k][fi], "E", unit, TFLOAT, v};
        }
    }
#undef FCOL
    /* noise-free vote fractions (stars: NaN) */
    int nans = tree ? tree->nanswers : 0;
    char (*vnames)[ZM_GZ_COL_LEN + 16] = zm_calloc((size_t)nans + 1, sizeof *vnames);
    if (tree && nc + nans + 1 > MAXC)
        ZM_ABORT("truth.fits: %d component columns + %d vote fractions exceed MAXC = %d", nc, nans + 1, MAXC);
    if (tree) {
        double *pr = zm_malloc(((size_t)nans + 1) * sizeof *pr);
        float *vv = OWN(zm_malloc(m * ((size_t)nans + 1) * sizeof(float)));
        for (long i = 0; i < n; i++) {
            double pring = NAN;
            if (o[i].cls == ZM_SIM_STAR)
                for (int a = 0; a < nans; a++) pr[a] = NAN;
            else zm_sim_vote_probs(tree, &o[i], pr, &pring);
            for (int a = 0; a < nans; a++) vv[(size_t)a * m + i] = (float)pr[a];
            vv[(size_t)nans * m + i] = (float)pring;
        }
        char col[ZM_GZ_COL_LEN];
        for (int a = 0; a <= nans; a++) {
            if (a < nans) zm_gz_answer_column(tree, a, col);
            else snprintf(col, sizeof col, "rare-features_ring");
            snprintf(vnames[a], sizeof vnames[a], "%s_true_fraction", col);
            cols[nc++] = (col_spec){vnames[a], "E", "", TFLOAT, vv + (size_t)a * m};
        }
        free(pr);
    }
    int rc = write_table(path, "TRUTH", cols, nc, n, 1, err);
    free(vnames);
    for (int i = 0; i < nowned; i++) free(owned[i]);
#undef OWN
    return rc;
}
