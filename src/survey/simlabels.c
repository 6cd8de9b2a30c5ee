/* simlabels.c: see simlabels.h. */
#include "zoomorph/simlabels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoomorph/rng.h"
#include "zoomorph/table.h"

enum { T_RING, T_SPIRAL, T_BAR, T_MERGER, T_TIDAL, T_SHELL, T_EDGEON, T_DUST, T_OVERLAP,
       T_ELLIPTICAL, T_BOXY, T_STAR, T_ARTIFACT, T_LENS, T_IRREGULAR, T_CLUMPY,
       T_DIFFUSE, T_FLOCCULENT, T_N };
const char *const zm_sim_tag_names[] = {"ring",    "spiral",  "bar",        "merger",
                                        "tidal",   "shell",   "edge-on",    "dust-lane",
                                        "overlapping", "elliptical", "boxy-bulge", "star",
                                        "artifact", "lens",       "irregular",  "clumpy",
                                        "diffuse",  "flocculent"};
const int zm_sim_ntags = T_N;

static const zm_sim_comp *find(const zm_sim_object *o, int kind)
{
    for (int i = 0; i < o->g.ncomp; i++)
        if (o->g.comp[i].kind == kind) return &o->g.comp[i];
    return NULL;
}

static double share(const zm_sim_object *o, int kind)
{
    const zm_sim_comp *c = find(o, kind);
    return c && o->flux[1] > 0 ? c->flux[1] / o->flux[1] : 0.0;
}

/* How visible the galaxy's details are: size against seeing, and brightness. */
static double visibility(const zm_sim_object *o)
{
    double fwhm = o->psf_fwhm[1] > 0 ? o->psf_fwhm[1] : 1.3;
    double v = 1.6 * o->r50 / (o->r50 + fwhm) - 0.3, b = 1.0 - 0.12 * (o->mag_r - 15.5);
    v = v < 0.05 ? 0.05 : v > 1.0 ? 1.0 : v;
    b = b < 0.6 ? 0.6 : b > 1.0 ? 1.0 : b;
    return v * b;
}

double zm_sim_tag_prob(const zm_sim_object *o, int t)
{
    if (o->cls == ZM_SIM_STAR) return t == T_STAR ? 0.01 : 0.0;
    double v = visibility(o);
    const zm_sim_comp *bul = find(o, ZM_COMP_BULGE);
    switch (t) {
    case T_RING: return find(o, ZM_COMP_RING) || find(o, ZM_COMP_ORING) ? 0.3 * v : 0.0;
    case T_IRREGULAR: return o->cls == ZM_SIM_IRREGULAR ? 0.3 * v : 0.0;
    case T_CLUMPY: return find(o, ZM_COMP_CLUMPS) ? 0.25 * v : 0.0;
    case T_DIFFUSE: return o->cls == ZM_SIM_DIFFUSE ? 0.2 : 0.0;
    case T_FLOCCULENT: {
        const zm_sim_comp *a = find(o, ZM_COMP_ARMS);
        return a && a->n > 0.0f ? 0.1 * v : 0.0;
    }
    case T_SPIRAL: return find(o, ZM_COMP_ARMS) ? 0.12 * v * fmin(1.0, 3.0 * share(o, ZM_COMP_ARMS)) : 0.0;
    case T_BAR: return find(o, ZM_COMP_BAR) ? (share(o, ZM_COMP_BAR) >= 0.08 ? 0.25 : 0.06) * v : 0.0;
    case T_MERGER: return find(o, ZM_COMP_COMPANION) ? 0.45 * v : 0.0;
    case T_TIDAL: return find(o, ZM_COMP_TAIL) ? 0.35 * v * fmin(1.0, 6.0 * share(o, ZM_COMP_TAIL)) : 0.0;
    case T_SHELL: return find(o, ZM_COMP_SHELL) ? 0.25 * v : 0.0;
    case T_EDGEON: return o->cls == ZM_SIM_EDGEON ? 0.15 * v : 0.0;
    case T_DUST: return find(o, ZM_COMP_DUST) ? 0.2 * v * v : 0.0;
    case T_OVERLAP: return find(o, ZM_COMP_COMPANION) ? 0.2 * v : 0.0;
    case T_ELLIPTICAL: return o->cls == ZM_SIM_ELLIPTICAL ? 0.02 : 0.0;
    case T_BOXY: return bul && bul->p[0] > 2.05f ? 0.1 * v : 0.0;
    case T_ARTIFACT: return 0.3 * o->artefact;
    case T_LENS: return find(o, ZM_COMP_ARC) ? 0.4 * v : 0.0;
    default: return 0.0;
    }
}

double zm_sim_interest_true(const zm_sim_object *o)
{
    if (o->cls == ZM_SIM_STAR) return 0.0;
    double v = visibility(o), s = 0.0;
    if (find(o, ZM_COMP_COMPANION)) s = fmax(s, 3.5 + 1.5 * v);
    if (find(o, ZM_COMP_TAIL)) s = fmax(s, 2.5 + 2.5 * v * fmin(1.0, 6.0 * share(o, ZM_COMP_TAIL)));
    if (find(o, ZM_COMP_SHELL)) s = fmax(s, 2.5 + 1.5 * v);
    if (find(o, ZM_COMP_RING)) s = fmax(s, 1.0 + 0.5 * v);
    if (find(o, ZM_COMP_ARC)) s = fmax(s, 4.0 + 1.0 * v);
    return s > 5.0 ? 5.0 : s;
}

static void seed_for(zm_rng *r, uint64_t seed, const zm_sim_object *o, uint64_t what)
{
    /* top two bits 10/11: apart from the votes' (1 << 63 | ...) streams by `what` */
    zm_rng_seed(r, seed ^ (what * 0x9E3779B97F4A7C15ULL),
                (1ULL << 63) | (1ULL << 62) | ((uint64_t)o->brick_index << 24) | (uint64_t)o->objid);
}

int zm_sim_write_tags(const char *path, const zm_sim_object *o, long n, uint64_t seed, zm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return zm_err_set(err, ZM_EIO, "cannot create %s", path);
    fprintf(f, "ra,dec,tag,brickname,objid,split\n");
    for (long i = 0; i < n; i++) {
        zm_rng r;
        seed_for(&r, seed, &o[i], 1);
        for (int t = 0; t < T_N; t++) {
            double p = zm_sim_tag_prob(&o[i], t);
            if (zm_rng_uniform(&r) < p)
                fprintf(f, "%.8f,%.8f,%s,%s,%ld,%s\n", o[i].ra, o[i].dec, zm_sim_tag_names[t], o[i].brickname,
                        o[i].objid, zm_sim_split_names[o[i].split]);
        }
        /* a wrong tag now and then */
        if (o[i].cls != ZM_SIM_STAR && zm_rng_uniform(&r) < 0.01) {
            int t = (int)zm_rng_below(&r, T_N - 1);
            if (zm_sim_tag_prob(&o[i], t) == 0.0)
                fprintf(f, "%.8f,%.8f,%s,%s,%ld,%s\n", o[i].ra, o[i].dec, zm_sim_tag_names[t], o[i].brickname,
                        o[i].objid, zm_sim_split_names[o[i].split]);
        }
    }
    if (fclose(f) != 0) return zm_err_set(err, ZM_EIO, "cannot write %s", path);
    return 0;
}

int zm_sim_write_interest(const char *path, const zm_sim_object *o, long n, uint64_t seed, zm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return zm_err_set(err, ZM_EIO, "cannot create %s", path);
    fprintf(f, "ra,dec,score,brickname,objid,split\n");
    for (long i = 0; i < n; i++) {
        if (o[i].cls == ZM_SIM_STAR) continue;
        zm_rng r;
        seed_for(&r, seed, &o[i], 2);
        double s = zm_sim_interest_true(&o[i]) + 0.4 * zm_rng_normal(&r);
        int k = (int)lround(s);
        k = k < 0 ? 0 : k > 5 ? 5 : k;
        fprintf(f, "%.8f,%.8f,%d,%s,%ld,%s\n", o[i].ra, o[i].dec, k, o[i].brickname, o[i].objid,
                zm_sim_split_names[o[i].split]);
    }
    if (fclose(f) != 0) return zm_err_set(err, ZM_EIO, "cannot write %s", path);
    return 0;
}

/* What each tag means in the simulator's truth table (truth.fits): a column above a
 * threshold (or a second column), or the object's class. */
typedef struct {
    const char *tag, *col, *col2;
    double above;
    const char *cls;
} tag_truth;

static const tag_truth truth_rules[] = {
    {"ring", "ring_present", "oring_present", 0.5, NULL},  {"spiral", "arms_present", NULL, 0.5, NULL},
    {"bar", "bar_present", NULL, 0.5, NULL},                {"merger", "companion_present", NULL, 0.5, NULL},
    {"overlapping", "companion_present", NULL, 0.5, NULL}, {"tidal", "tail_present", NULL, 0.5, NULL},
    {"shell", "shell_present", NULL, 0.5, NULL},            {"dust-lane", "dust_present", NULL, 0.5, NULL},
    {"lens", "arc_present", NULL, 0.5, NULL},               {"clumpy", "clumps_present", NULL, 0.5, NULL},
    {"flocculent", "arms_flocculence", NULL, 0.0, NULL},    {"boxy-bulge", "bulge_boxiness", NULL, 2.05, NULL},
    {"artifact", "artefact", NULL, 0.0, NULL},              {"edge-on", NULL, NULL, 0, "edge-on"},
    {"elliptical", NULL, NULL, 0, "elliptical"},            {"irregular", NULL, NULL, 0, "irregular"},
    {"diffuse", NULL, NULL, 0, "diffuse"},                  {"star", NULL, NULL, 0, "star"},
};

int zm_sim_tag_truth(zm_table *truth, const char *tag, unsigned char *present, zm_err *err)
{
    const tag_truth *r = NULL;
    for (size_t i = 0; i < sizeof truth_rules / sizeof truth_rules[0]; i++)
        if (!strcmp(truth_rules[i].tag, tag)) r = &truth_rules[i];
    if (!r) return 1;
    long n = zm_table_nrows(truth);
    size_t m = (size_t)(n ? n : 1);
    int rc = 0;
    if (r->cls) {
        int c = zm_table_col(truth, "class");
        if (c < 0) return zm_err_set(err, ZM_EMISSING, "%s: no column 'class'", zm_table_path(truth));
        char *v = zm_calloc(m, 32);
        rc = zm_table_read_str(truth, c, v, 32, err);
        for (long i = 0; !rc && i < n; i++) present[i] = !strcmp(v + (size_t)i * 32, r->cls);
        free(v);
        return rc;
    }
    double *v = zm_malloc(m * sizeof *v);
    memset(present, 0, m);
    const char *cols[2] = {r->col, r->col2};
    for (int k = 0; k < 2 && !rc && cols[k]; k++) {
        int c = zm_table_col(truth, cols[k]);
        if (c < 0) {
            rc = zm_err_set(err, ZM_EMISSING, "%s: no column '%s' (the truth of tag '%s')", zm_table_path(truth), cols[k], tag);
            break;
        }
        rc = zm_table_read_double(truth, c, v, NULL, err);
        for (long i = 0; !rc && i < n; i++) present[i] |= v[i] > r->above; /* NaN: absent */
    }
    free(v);
    return rc;
}
