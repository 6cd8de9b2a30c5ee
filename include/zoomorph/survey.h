/*
 * survey.h: the Legacy Surveys directory layout.
 *   <root>/coadd/<AAA>/<brick>/legacysurvey-<brick>-image-<band>.fits.fz  (or .fits)
 *   <root>/coadd/<AAA>/<brick>/legacysurvey-<brick>-invvar-<band>.fits.fz (optional)
 *   <root>/tractor/<AAA>/tractor-<brick>.fits
 * AAA is the first three characters of the brick name (e.g. 123 for 1238p245).
 */
#ifndef ZOOMORPH_SURVEY_H
#define ZOOMORPH_SURVEY_H

#include "zoomorph/error.h"
#include "zoomorph/tractor.h"

#define ZM_PATH_MAX 1024
#define ZM_BRICKNAME_LEN 16

typedef struct {
    char name[ZM_BRICKNAME_LEN];
    char image[ZM_MAX_BANDS][ZM_PATH_MAX];   /* "" when the band file is absent */
    char invvar[ZM_MAX_BANDS][ZM_PATH_MAX];  /* "" when absent */
    char tractor[ZM_PATH_MAX];               /* always set; may not exist */
} zm_brick_files;

/* 1 if name looks like a Legacy Surveys brick name: 4 digits, 'p' or 'm', 3 digits. */
int zm_brickname_valid(const char *name);
/* Every brick under <root>/coadd, sorted by name. *names is malloc'ed (n entries). */
int zm_survey_list_bricks(const char *root, char (**names)[ZM_BRICKNAME_LEN], int *n,
                          zm_err *err);
/* The band image paths of a brick in its coadd directory dir (only files that exist). */
void zm_survey_brick_files_in(const char *dir, const char *brick, const char *const *bands,
                              int nbands, zm_brick_files *out);
/* The paths of one brick's files (image paths only for files that exist). */
void zm_survey_brick_files(const char *root, const char *brick, const char *const *bands,
                           int nbands, zm_brick_files *out);

#endif
