/* survey.c: see survey.h. */
#include "zoomorph/survey.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int zm_brickname_valid(const char *s)
{
    if (strlen(s) != 8) return 0;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    if (s[4] != 'p' && s[4] != 'm') return 0;
    for (int i = 5; i < 8; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int zm_survey_list_bricks(const char *root, char (**names)[ZM_BRICKNAME_LEN], int *n, zm_err *err)
{
    *names = NULL;
    *n = 0;
    char coadd[ZM_PATH_MAX];
    snprintf(coadd, sizeof coadd, "%s/coadd", root);
    if (!is_dir(root)) return zm_err_set(err, ZM_EIO, "survey root %s does not exist or is not a directory", root);
    DIR *d = opendir(coadd);
    if (!d)
        return zm_err_set(err, ZM_EIO, "survey root %s: cannot list %s: %s (Legacy Surveys layout "
                          "<root>/coadd/<AAA>/<brick>/ expected)", root, coadd, strerror(errno));
    int cap = 64, cnt = 0;
    char (*out)[ZM_BRICKNAME_LEN] = zm_malloc((size_t)cap * sizeof *out);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[ZM_PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", coadd, e->d_name);
        DIR *d2 = opendir(sub);
        if (!d2) continue;
        struct dirent *e2;
        while ((e2 = readdir(d2))) {
            if (!zm_brickname_valid(e2->d_name)) continue;
            if (cnt == cap) out = zm_realloc(out, (size_t)(cap *= 2) * sizeof *out);
            snprintf(out[cnt++], ZM_BRICKNAME_LEN, "%s", e2->d_name);
        }
        closedir(d2);
    }
    closedir(d);
    qsort(out, (size_t)cnt, sizeof *out, cmp_names);
    *names = out;
    *n = cnt;
    return 0;
}

static void first_existing(char *out, const char *dir, const char *brick, const char *kind,
                           const char *band)
{
    static const char *ext[] = {".fits.fz", ".fits", ".fits.gz"};
    out[0] = '\0';
    for (int i = 0; i < 3; i++) {
        char p[ZM_PATH_MAX];
        snprintf(p, sizeof p, "%s/legacysurvey-%s-%s-%s%s", dir, brick, kind, band, ext[i]);
        if (access(p, F_OK) == 0) {
            snprintf(out, ZM_PATH_MAX, "%s", p);
            return;
        }
    }
}

void zm_survey_brick_files_in(const char *dir, const char *brick, const char *const *bands,
                              int nbands, zm_brick_files *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", brick);
    for (int b = 0; b < nbands && b < ZM_MAX_BANDS; b++) {
        first_existing(o->image[b], dir, brick, "image", bands[b]);
        first_existing(o->invvar[b], dir, brick, "invvar", bands[b]);
    }
}

void zm_survey_brick_files(const char *root, const char *brick, const char *const *bands,
                           int nbands, zm_brick_files *o)
{
    char dir[ZM_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/coadd/%.3s/%s", root, brick, brick);
    zm_survey_brick_files_in(dir, brick, bands, nbands, o);
    snprintf(o->tractor, sizeof o->tractor, "%s/tractor/%.3s/tractor-%s.fits", root, brick, brick);
}
