/*
 * fuzz_store: HDF5 files opened as a store (zm_store_open, read-only, on MPI_COMM_SELF),
 * then read as the stages read one: the stage marks, attributes, and the shape, type and
 * first rows of every dataset a stage reads. A corrupt store must give an error naming
 * it, never abort the job.
 */
#include <mpi.h>

#include "fuzz_common.h"
#include "zoomorph/context.h"
#include "zoomorph/h5store.h"

static zm_ctx g_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    zm_ctx_init(&g_ctx, MPI_COMM_SELF);
    fuzz_quiet();
    return 0;
}

static const char *const g_stages[] = {"plan", "cutout", "votes", "pretrain", "embed",
                                       "pca", "index", "anomaly", "catalogue"};
static const char *const g_datasets[] = {
    "/inputs/name", "/inputs/path", "/inputs/ngal", "/inputs/status", "/inputs/cutout_done",
    "/inputs/embed_done", "/galaxies/id", "/galaxies/ra", "/galaxies/dec",
    "/galaxies/brickname", "/galaxies/flux", "/cutouts/images", "/cutouts/flags",
    "/rejects/stage", "/rejects/reason", "/labels/votes", "/labels/has_votes",
    "/pretrain/history", "/representation/embedding", "/predictions/vote_fraction"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_write_file(data, n, ".h5");
    zm_store *s = NULL;
    zm_err err = {0};
    if (zm_store_open(&s, path, 0, &g_ctx, &err)) {
        if (!err.msg[0] || s) abort();
        return 0;
    }
    char buf[256];
    for (size_t i = 0; i < sizeof g_stages / sizeof *g_stages; i++) {
        (void)zm_store_stage_complete(s, g_stages[i]);
        char grp[64];
        snprintf(grp, sizeof grp, "/meta/stages/%s", g_stages[i]);
        if (zm_store_exists(s, grp)) (void)zm_store_get_attr(s, grp, "status", buf, sizeof buf);
    }
    (void)zm_store_get_attr(s, "/meta", "zoomorph_version", buf, sizeof buf);
    for (size_t i = 0; i < sizeof g_datasets / sizeof *g_datasets; i++) {
        const char *d = g_datasets[i];
        if (!zm_store_exists(s, d)) continue;
        zm_err e = {0};
        unsigned long long dims[4] = {0}, nrows = 0;
        int nd = zm_store_shape(s, d, dims, &e);
        if (nd < 0) {
            if (!e.msg[0]) abort();
            continue;
        }
        if (zm_store_nrows(s, d, &nrows, &e)) continue;
        zm_dtype t;
        if (zm_store_type(s, d, &t, &e)) continue;
        unsigned long long row = 1;
        for (int k = 1; k < nd && k < 4; k++) row *= dims[k] ? dims[k] : 1;
        if (nrows == 0 || row > (1u << 20)) continue;
        unsigned long long take = nrows < 4 ? nrows : 4;
        zm_range r = {0, take};
        size_t esz = t == ZM_DT_STR ? 256 : 8;
        void *out = malloc((size_t)(take * row * esz));
        if (t == ZM_DT_STR)
            (void)zm_store_read(s, d, ZM_DT_STR, 256, &r, 1, out, &e);
        else
            (void)zm_store_read(s, d, ZM_DT_F64, 0, &r, 1, out, &e);
        free(out);
    }
    zm_store_close(s);
    return 0;
}
