/* tractor.c: see tractor.h. */
#include "zoomorph/tractor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zoomorph/table.h"

static int need_col(zm_table *t, const char *name, const char *why, zm_err *err)
{
    int c = zm_table_col(t, name);
    if (c < 0)
        zm_err_set(err, ZM_EMISSING, "Tractor catalogue %s: column '%s' is missing (%s)",
                   zm_table_path(t), name, why);
    return c;
}

int zm_tractor_read(const char *path, const char *const *bands, int nbands, int need_flux,
                    zm_source **out, long *n, zm_tractor_schema *schema, zm_err *err)
{
    *out = NULL;
    *n = 0;
    zm_table *t = NULL;
    int rc = zm_table_open(path, &t, err);
    if (rc) return zm_err_prefix(err, "Tractor catalogue"), rc;
    long nr = zm_table_nrows(t);
    int c_ra = need_col(t, "ra", "source positions", err);
    int c_dec = c_ra < 0 ? -1 : need_col(t, "dec", "source positions", err);
    int c_obj = c_dec < 0 ? -1 : need_col(t, "objid", "source ids", err);
    int c_type = c_obj < 0 ? -1 : need_col(t, "type", "morphological type", err);
    if (c_type < 0) {
        zm_table_close(t);
        return err->code;
    }
    int c_prim = zm_table_col(t, "brick_primary");
    int c_shape = zm_table_col(t, "shape_r"), c_ser = zm_table_col(t, "sersic");
    int c_exp = zm_table_col(t, "shapeexp_r"), c_dev = zm_table_col(t, "shapedev_r");
    int c_frac = zm_table_col(t, "fracdev");
    if (c_shape >= 0) *schema = ZM_SCHEMA_DR8;
    else if (c_exp >= 0 && c_dev >= 0 && c_frac >= 0) *schema = ZM_SCHEMA_DR5;
    else {
        zm_table_close(t);
        return zm_err_set(err, ZM_EMISSING,
                          "Tractor catalogue %s: no galaxy size columns: expected 'shape_r' "
                          "(DR8+ schema) or 'shapeexp_r', 'shapedev_r' and 'fracdev' (DR5-7)",
                          path);
    }
    int c_flux[ZM_MAX_BANDS];
    for (int b = 0; b < nbands && b < ZM_MAX_BANDS; b++) {
        char name[32];
        snprintf(name, sizeof name, "flux_%s", bands[b]);
        c_flux[b] = zm_table_col(t, name);
        if (b == need_flux && c_flux[b] < 0) {
            need_col(t, name, "the magnitude cut of [select] mag_band", err);
            zm_table_close(t);
            return err->code;
        }
    }
    zm_source *s = zm_calloc((size_t)(nr ? nr : 1), sizeof *s);
    double *v = zm_malloc((size_t)(nr ? nr : 1) * sizeof *v);
    double *w = zm_malloc((size_t)(nr ? nr : 1) * sizeof *w);
    long long *ll = zm_malloc((size_t)(nr ? nr : 1) * sizeof *ll);
    unsigned char *u8 = zm_malloc((size_t)(nr ? nr : 1));
    char *str = zm_malloc((size_t)(nr ? nr : 1) * 8);
#define READ(call)          \
    do {                    \
        if ((rc = (call))) goto done; \
    } while (0)
    READ(zm_table_read_double(t, c_ra, v, NULL, err));
    for (long i = 0; i < nr; i++) s[i].ra = v[i];
    READ(zm_table_read_double(t, c_dec, v, NULL, err));
    for (long i = 0; i < nr; i++) s[i].dec = v[i];
    READ(zm_table_read_ll(t, c_obj, ll, NULL, err));
    for (long i = 0; i < nr; i++) s[i].objid = ll[i];
    READ(zm_table_read_str(t, c_type, str, 8, err));
    for (long i = 0; i < nr; i++) snprintf(s[i].type, sizeof s[i].type, "%s", str + 8 * i);
    if (c_prim >= 0) {
        READ(zm_table_read_bool(t, c_prim, u8, NULL, err));
        for (long i = 0; i < nr; i++) s[i].brick_primary = u8[i];
    } else {
        for (long i = 0; i < nr; i++) s[i].brick_primary = 1;
    }
    for (int b = 0; b < nbands && b < ZM_MAX_BANDS; b++) {
        if (c_flux[b] >= 0) READ(zm_table_read_double(t, c_flux[b], v, NULL, err));
        for (long i = 0; i < nr; i++) s[i].flux[b] = c_flux[b] >= 0 ? (float)v[i] : NAN;
    }
    for (int b = nbands; b < ZM_MAX_BANDS; b++)
        for (long i = 0; i < nr; i++) s[i].flux[b] = NAN;
    if (*schema == ZM_SCHEMA_DR8) {
        READ(zm_table_read_double(t, c_shape, v, NULL, err));
        for (long i = 0; i < nr; i++) s[i].r50 = (float)v[i];
        if (c_ser >= 0) READ(zm_table_read_double(t, c_ser, v, NULL, err));
        for (long i = 0; i < nr; i++) s[i].sersic = c_ser >= 0 ? (float)v[i] : NAN;
    } else {
        double *f = zm_malloc((size_t)(nr ? nr : 1) * sizeof *f);
        rc = zm_table_read_double(t, c_exp, v, NULL, err);
        if (!rc) rc = zm_table_read_double(t, c_dev, w, NULL, err);
        if (!rc) rc = zm_table_read_double(t, c_frac, f, NULL, err);
        for (long i = 0; !rc && i < nr; i++) {
            double fd = f[i] < 0 ? 0 : f[i] > 1 ? 1 : f[i];
            double r = !strcasecmp(s[i].type, "DEV") ? w[i]
                       : !strcasecmp(s[i].type, "EXP") || !strcasecmp(s[i].type, "REX") ? v[i]
                       : !strcasecmp(s[i].type, "SIMP") ? 0.45
                       : fd * w[i] + (1 - fd) * v[i];
            s[i].r50 = (float)r;
            s[i].sersic = !strcasecmp(s[i].type, "DEV") ? 4.0f : !strcasecmp(s[i].type, "EXP") ? 1.0f : NAN;
        }
        free(f);
        if (rc) goto done;
    }
#undef READ
done:
    free(v);
    free(w);
    free(ll);
    free(u8);
    free(str);
    zm_table_close(t);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    *n = nr;
    return 0;
}

int zm_selection_why(const zm_selection *sel, const zm_source *s)
{
    if (!isfinite(s->ra) || !isfinite(s->dec)) return ZM_SEL_POSITION;
    if (sel->require_primary && !s->brick_primary) return ZM_SEL_PRIMARY;
    if (sel->ntypes) {
        int ok = 0;
        for (int i = 0; i < sel->ntypes && !ok; i++) ok = !strcasecmp(sel->types[i], s->type);
        if (!ok) return ZM_SEL_TYPE;
    } else if (!strcasecmp(s->type, "PSF") || !strcasecmp(s->type, "DUP")) {
        return ZM_SEL_TYPE;
    }
    if (sel->mag_band >= 0) {
        double f = s->flux[sel->mag_band];
        if (!(f > 0)) return ZM_SEL_NOFLUX;
        double mag = 22.5 - 2.5 * log10(f);
        if (mag < sel->mag_min) return ZM_SEL_BRIGHT;
        if (mag > sel->mag_max) return ZM_SEL_FAINT;
    }
    if (!(s->r50 >= sel->r50_min)) return ZM_SEL_SMALL;
    if (sel->r50_max > 0 && s->r50 > sel->r50_max) return ZM_SEL_LARGE;
    return ZM_SEL_KEPT;
}

void zm_selection_reason_text(const zm_selection *sel, int why, const char *mag_band, char *buf, int n)
{
    switch (why) {
    case ZM_SEL_POSITION: snprintf(buf, (size_t)n, "no finite ra/dec"); break;
    case ZM_SEL_PRIMARY: snprintf(buf, (size_t)n, "not brick_primary ([select] brick_primary)"); break;
    case ZM_SEL_TYPE:
        snprintf(buf, (size_t)n, "%s ([select] types)", sel->ntypes ? "of another Tractor type" : "PSF or DUP");
        break;
    case ZM_SEL_NOFLUX: snprintf(buf, (size_t)n, "no positive %s flux ([select] mag_band)", mag_band); break;
    case ZM_SEL_BRIGHT: snprintf(buf, (size_t)n, "brighter than %s = %g ([select] mag_min)", mag_band, sel->mag_min); break;
    case ZM_SEL_FAINT: snprintf(buf, (size_t)n, "fainter than %s = %g ([select] mag_max)", mag_band, sel->mag_max); break;
    case ZM_SEL_SMALL: snprintf(buf, (size_t)n, "r50 below %g arcsec ([select] r50_min)", sel->r50_min); break;
    case ZM_SEL_LARGE: snprintf(buf, (size_t)n, "r50 above %g arcsec ([select] r50_max)", sel->r50_max); break;
    default: snprintf(buf, (size_t)n, "kept"); break;
    }
}
