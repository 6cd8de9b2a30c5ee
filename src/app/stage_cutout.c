/*
 * stage_cutout.c: `zoomorph cutout` makes every galaxy's stamp into /cutouts/images.
 *
 * Inputs (bricks or cutout files) go to ranks largest first onto the least loaded
 * rank. Each rank cuts its galaxies in chunks of [cutout] batch; in every round each
 * rank writes one chunk collectively (an empty one when it has run out), then the
 * round's rejects, then marks the inputs it finished in /inputs/cutout_done. A run that
 * was interrupted (stage status "running") resumes: finished inputs are skipped.
 * Writes /cutouts/{images, flags, pixscale}, /inputs/{cutout_done, status}, /rejects.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/balance.h"
#include "zoomorph/log.h"
#include "zoomorph/signals.h"

static int run_cutout(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "plan", &s, err)) return ZM_EXIT_INPUT;
    zm_store_set_write_limit(s, (size_t)zm_param_int(p, "store.max_write_mb") << 20);
    zm_inputs in;
    if (zm_inputs_read(s, &in, err)) {
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    const long long batch = zm_param_int(p, "cutout.batch");
    zm_stamp_maker mk;
    if (zm_stamp_maker_init(&mk, p, batch, "cutout", err)) {
        zm_stamp_maker_free(&mk);
        zm_inputs_free(&in);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    const zm_stamp_rules rules = mk.rules;
    const zm_cutout_cfg cfg = rules.cfg;
    const zm_dtype dtype = rules.dtype;
    const size_t np = (size_t)cfg.channels * cfg.size * cfg.size;
    const size_t esz = dtype == ZM_DT_F16 ? 2 : 1;
    unsigned long long ngal_total = 0;
    zm_store_nrows(s, ZM_F_GAL_ID.path, &ngal_total, err);
    zm_field fimg = zm_field_cutout_images(cfg.channels, cfg.size, dtype);

    /* resume an interrupted run whose datasets match; otherwise start afresh */
    char status[32] = "";
    zm_store_get_attr(s, "/meta/stages/cutout", "status", status, sizeof status);
    unsigned long long dims[4] = {0};
    char field[ZM_STAMP_FIELD_LEN], had[ZM_STAMP_FIELD_LEN];
    zm_stamp_field_text(&rules, field, sizeof field);
    zm_store_stamp_field(s, p, had, sizeof had);
    int resume = !strcmp(status, "running") && zm_store_exists(s, fimg.path) &&
                 zm_store_shape(s, fimg.path, dims, err) == 4 && dims[1] == (unsigned)cfg.channels &&
                 dims[2] == (unsigned)cfg.size && !strcmp(had, field) && zm_store_exists(s, ZM_F_INPUT_CUTOUT_DONE.path);
    resume = zm_any(ctx, resume) && !zm_any(ctx, !resume);
    int rc = 0;
    if (!resume) {
        memset(in.cutout_done, 0, (size_t)(in.n ? in.n : 1));
        rc = zm_store_define(s, &fimg, ngal_total, 1, err);
        if (!rc) rc = zm_store_define(s, &ZM_F_CUT_FLAGS, ngal_total, 1, err);
        if (!rc) rc = zm_store_define(s, &ZM_F_CUT_PIXSCALE, ngal_total, 1, err);
        if (!rc) rc = zm_store_define(s, &ZM_F_INPUT_CUTOUT_DONE, (unsigned long long)in.n, 1, err);
        /* the field rule the stamps are cut with: the models trained on them carry it */
        if (!rc) rc = zm_store_set_attr(s, fimg.path, "field", field);
    } else {
        long ndone = 0;
        for (int i = 0; i < in.n; i++) ndone += in.cutout_done[i];
        zm_info0("cutout: resuming an interrupted run: %ld of %d inputs already done", ndone, in.n);
    }
    if (rc) {
        zm_inputs_free(&in);
        zm_store_close(s);
        zm_stamp_maker_free(&mk);
        return ZM_EXIT_INPUT;
    }
    char *dump = zm_params_dump(p);
    zm_store_stage_begin(s, "cutout", dump);
    free(dump);
    /* where this run's rejects begin (a resumed run sorts its predecessor's too) */
    unsigned long long rej_from = zm_rejects_begin(s, "cutout", resume, in.cutout_done, ctx);

    int *owner = zm_malloc((size_t)(in.n ? in.n : 1) * sizeof *owner);
    long long *w = zm_malloc((size_t)(in.n ? in.n : 1) * sizeof *w);
    long long todo = 0;
    for (int i = 0; i < in.n; i++) {
        int live = in.status[i] == ZM_INPUT_OK && !in.cutout_done[i];
        w[i] = live ? in.ngal[i] : 0;
        todo += w[i];
    }
    zm_assign_lpt(w, in.n, ctx->size, owner);
    zm_chunk *chunks = NULL;
    int nchunks = zm_work_chunks(&in, owner, ctx->rank, batch, in.cutout_done, &chunks);
    long long rounds = zm_allreduce_max_ll(ctx, nchunks);

    void *stamps = zm_malloc((size_t)batch * np * esz);
    unsigned *flags = zm_malloc((size_t)batch * sizeof *flags);
    float *pixscale = zm_malloc((size_t)batch * sizeof *pixscale);
    zm_range *ranges = zm_malloc(((size_t)batch + 1) * sizeof *ranges);
    zm_range *done_r = zm_malloc(((size_t)batch + 1) * sizeof *done_r);
    int *rej_inputs = zm_malloc(((size_t)batch + 1) * sizeof *rej_inputs);
    unsigned char *ones = zm_malloc((size_t)batch + 1);
    memset(ones, 1, (size_t)batch + 1);
    zm_reject_list rej = {0};
    zm_progress prog;
    zm_progress_start(&prog, "cutout", "galaxies", (double)todo);
    long long done_global = 0;
    int interrupted = 0;

    for (long long r = 0; r < rounds && !rc; r++) {
        zm_chunk *ch = r < nchunks ? &chunks[r] : NULL;
        int npieces = ch ? ch->n : 0, ndone = 0, nrejin = 0;
        long long k = 0;
        for (int q = 0; q < npieces; q++) {
            const zm_piece *pc = &ch->p[q];
            const int i = pc->input;
            int failed = 0;
            ranges[q] = (zm_range){(unsigned long long)(in.first[i] + pc->off), (unsigned long long)pc->count};
            zm_stamp_maker_piece(&mk, s, &in, i, pc->off, pc->count, (char *)stamps + (size_t)k * np * esz, flags + k,
                                 pixscale + k, &rej, &failed);
            if (failed) rej_inputs[nrejin++] = i;
            k += pc->count;
            if (pc->off + pc->count == in.ngal[i]) done_r[ndone++] = (zm_range){(unsigned long long)i, 1};
        }
        /* every rank makes the same calls, with or without rows */
        if (!rc) rc = zm_store_write(s, &fimg, ranges, npieces, stamps, err);
        if (!rc) rc = zm_store_write(s, &ZM_F_CUT_FLAGS, ranges, npieces, flags, err);
        if (!rc) rc = zm_store_write(s, &ZM_F_CUT_PIXSCALE, ranges, npieces, pixscale, err);
        if (!rc && zm_any(ctx, rej.n > 0)) {
            rc = zm_reject_write(s, &rej, err);
            zm_reject_free(&rej);
        }
        if (!rc && zm_any(ctx, nrejin > 0)) {
            zm_range *srng = zm_malloc((size_t)(nrejin ? nrejin : 1) * sizeof *srng);
            int *st = zm_malloc((size_t)(nrejin ? nrejin : 1) * sizeof *st);
            for (int q = 0; q < nrejin; q++) {
                srng[q] = (zm_range){(unsigned long long)rej_inputs[q], 1};
                st[q] = ZM_INPUT_REJECTED_CUTOUT;
            }
            rc = zm_store_write(s, &ZM_F_INPUT_STATUS, srng, nrejin, st, err);
            free(srng);
            free(st);
        }
        /* what this round wrote reaches the file before its inputs are marked done */
        if (!rc) zm_store_flush(s);
        if (!rc) rc = zm_store_write(s, &ZM_F_INPUT_CUTOUT_DONE, done_r, ndone, ones, err);
        done_global = zm_allreduce_sum_ll(ctx, mk.n_ok + mk.n_rej);
        zm_progress_update(&prog, (double)done_global);
        zm_fault_point(ctx, "cutout", r + 1);
        if (!rc && r + 1 < rounds && zm_any(ctx, zm_signal_pending())) {
            interrupted = 1;
            break;
        }
    }
    if (!rc) rc = zm_reject_canonicalise(s, rej_from, ctx, err);
    long long tot[6] = {mk.n_ok, mk.n_rej, mk.n_edge, mk.n_nan, mk.n_missing, mk.in_rej};
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, tot, 6, MPI_LONG_LONG, MPI_SUM, ctx->comm));
    char summary[512];
    snprintf(summary, sizeof summary,
             "%lld stamps written, %lld galaxies rejected (%lld inputs unreadable); flagged: %lld "
             "edge-padded, %lld with NaN pixels, %lld missing a band",
             tot[0], tot[1], tot[5], tot[2], tot[3], tot[4]);
    if (!rc && interrupted) {
        zm_store_flush(s);
        zm_info0("cutout: stopped by a signal after %lld of %lld galaxies; the progress is saved: run "
                 "'zoomorph cutout' again to resume", tot[0] + tot[1], todo);
    } else if (!rc) {
        zm_progress_end(&prog, (double)(tot[0] + tot[1]));
        zm_store_stage_end(s, "cutout", summary);
        zm_info0("cutout: %s", summary);
        zm_info0("cutout: wrote %s %s (%llu x %d x %d x %d %s)", zm_store_path(s), fimg.path,
                 ngal_total, cfg.channels, cfg.size, cfg.size, dtype == ZM_DT_F16 ? "float16" : "uint8");
    }
    zm_work_chunks_free(chunks, nchunks);
    free(owner), free(w), free(stamps), free(flags), free(pixscale), free(ranges), free(done_r);
    zm_stamp_maker_free(&mk);
    free(rej_inputs), free(ones);
    zm_reject_free(&rej);
    zm_inputs_free(&in);
    zm_store_close(s);
    if (rc) return ZM_EXIT_INPUT;
    if (interrupted) return ZM_EXIT_INTERRUPTED;
    if (tot[0] == 0 && todo > 0) {
        zm_err_set(err, ZM_EREJECT, "cutout: no stamp could be made (%lld galaxies rejected; see "
                   "the warnings above and /rejects)", tot[1]);
        return ZM_EXIT_NOTHING;
    }
    return 0;
}

const zm_stage zm_stage_cutout = {
    "cutout", "cut, resample and stretch every galaxy's stamp into /cutouts/images", "", run_cutout};
