/*
 * stage_gallery.c: `zoomorph gallery --out sheet.png [--first K] [--count N]` writes a
 * PNG contact sheet of stored stamps (rejected galaxies skipped), each labelled with its
 * id, so a person can look at what the cutout stage made. Rank 0 does the work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/gallery.h"
#include "zoomorph/log.h"

static int run_gallery(const zm_stage_args *a, zm_err *err)
{
    const char *out = NULL;
    long long first = 0, count = 64;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--out") && i + 1 < a->argc) out = a->argv[++i];
        else if (!strcmp(a->argv[i], "--first") && i + 1 < a->argc) first = atoll(a->argv[++i]);
        else if (!strcmp(a->argv[i], "--count") && i + 1 < a->argc) count = atoll(a->argv[++i]);
        else {
            zm_err_set(err, ZM_EUSAGE, "gallery: unknown flag '%s'", a->argv[i]);
            return ZM_EXIT_USAGE;
        }
    }
    if (!out) {
        zm_err_set(err, ZM_EUSAGE, "gallery: --out FILE.png is required");
        return ZM_EXIT_USAGE;
    }
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 0, "cutout", &s, err)) return ZM_EXIT_INPUT;
    unsigned long long dims[4] = {0};
    int rc = zm_store_shape(s, "/cutouts/images", dims, err) == 4 ? 0 : ZM_EXIT_INPUT;
    if (!rc && a->ctx->rank == 0) {
        long long *ids = zm_malloc((size_t)count * sizeof *ids + 1);
        int k = 0;
        if (zm_gallery_kept_rows(s, first, count, ids, &k, err) || zm_gallery_write_rows(s, out, ids, k, NULL, 0, err))
            rc = ZM_EXIT_INPUT;
        if (!rc) zm_info("gallery: %d stamps from row %lld written to %s", k, first, out);
        free(ids);
    }
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, a->ctx->comm));
    zm_store_close(s);
    return rc;
}

const zm_stage zm_stage_gallery = {
    "gallery", "write a PNG contact sheet of stored stamps, labelled with their ids",
    "  --out FILE.png   the sheet to write (required)\n"
    "  --first K        first row (default 0)\n"
    "  --count N        at most N stamps (default 64; rejected galaxies are skipped)",
    run_gallery};
