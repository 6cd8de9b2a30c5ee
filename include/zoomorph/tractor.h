/*
 * tractor.h: Legacy Surveys Tractor catalogues (tractor-<brick>.fits) and the galaxy
 * selection applied to them.
 *
 * Both schemas are read: DR8 and later (shape_r, sersic, ...) and DR5-DR7 (shapeexp_r,
 * shapedev_r, fracdev; the half-light radius is then the fracdev-weighted mean of the
 * two). A missing required column is a ZM_EMISSING error naming it.
 */
#ifndef ZOOMORPH_TRACTOR_H
#define ZOOMORPH_TRACTOR_H

#include "zoomorph/error.h"

#define ZM_MAX_BANDS 3

typedef struct {
    long long objid;
    double ra, dec;                /* deg */
    char type[8];                  /* "EXP", "DEV", "REX", "SER", "PSF", "COMP", "DUP" ... */
    unsigned char brick_primary;
    float flux[ZM_MAX_BANDS];      /* nanomaggies per requested band; NaN if no column */
    float r50;                     /* half-light radius, arcsec (0 for point sources) */
    float sersic;                  /* Sersic index; NaN if the schema has none */
} zm_source;

typedef enum { ZM_SCHEMA_DR8 = 8, ZM_SCHEMA_DR5 = 5 } zm_tractor_schema;

/* Reads every row. bands: the survey's band letters ("g", "r", "z"); the flux column
 * flux_<band> of band index need_flux must exist (-1: none needed). */
int zm_tractor_read(const char *path, const char *const *bands, int nbands, int need_flux,
                    zm_source **out, long *n, zm_tractor_schema *schema, zm_err *err);

typedef struct {
    char types[16][8];   /* accepted Tractor types; ntypes 0 accepts all but PSF and DUP */
    int ntypes;
    int require_primary; /* keep only brick_primary */
    int mag_band;        /* band index for the magnitude cut; -1 for none */
    double mag_min, mag_max;   /* AB magnitude 22.5 - 2.5 log10(flux) */
    double r50_min, r50_max;   /* arcsec; r50_max <= 0: no upper limit */
} zm_selection;

/* Why a source fails the selection: 0 it passes; otherwise the first cut that removes it. */
enum {
    ZM_SEL_KEPT = 0,
    ZM_SEL_POSITION,  /* ra or dec not finite */
    ZM_SEL_PRIMARY,   /* not brick_primary */
    ZM_SEL_TYPE,      /* Tractor type not accepted (PSF, DUP by default) */
    ZM_SEL_NOFLUX,    /* no positive flux in the magnitude band */
    ZM_SEL_BRIGHT,    /* brighter than mag_min */
    ZM_SEL_FAINT,     /* fainter than mag_max */
    ZM_SEL_SMALL,     /* r50 below r50_min */
    ZM_SEL_LARGE,     /* r50 above r50_max */
    ZM_SEL_NREASONS
};
int zm_selection_why(const zm_selection *sel, const zm_source *s);
/* "fainter than r = 17.77 ([select] mag_max)" for a ZM_SEL_* reason, into buf. */
void zm_selection_reason_text(const zm_selection *sel, int why, const char *mag_band, char *buf, int n);

#endif
