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
        int C = (int)dims[1], S = (int)dims[2];
        size_t per = (size_t)C * S * S;
        long long n = (long long)dims[0];
        uint8_t *sheet = zm_malloc((size_t)count * per + 1);
        long long *ids = zm_malloc((size_t)count * sizeof *ids + 1);
        float *buf = zm_malloc(per * sizeof *buf);
        int k = 0;
        /* uint8 stamps come back as 0-255, float16 ones as [0, 1] */
        zm_dtype type = ZM_DT_U8;
        if (zm_store_type(s, "/cutouts/images", &type, err)) rc = ZM_EXIT_INPUT;
        const int is_f16 = type == ZM_DT_F16;
        for (long long r = first; !rc && r < n && k < count; r++) {
            unsigned flags = 0;
            zm_range one = {(unsigned long long)r, 1};
            if (zm_store_read(s, "/cutouts/flags", ZM_DT_U32, 0, &one, 1, &flags, err) ||
                zm_store_read(s, "/cutouts/images", ZM_DT_F32, 0, &one, 1, buf, err)) {
                rc = ZM_EXIT_INPUT;
                break;
            }
            if (flags & 16u) continue;
            for (size_t j = 0; j < per; j++) {
                float v = is_f16 ? buf[j] * 255.0f + 0.5f : buf[j];
                sheet[(size_t)k * per + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            ids[k++] = r;
        }
        if (!rc) rc = zm_gallery_write(out, sheet, k, C, S, ids, 0, err) ? ZM_EXIT_INPUT : 0;
        if (!rc) zm_info("gallery: %d stamps from row %lld written to %s", k, first, out);
        free(sheet), free(ids), free(buf);
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
