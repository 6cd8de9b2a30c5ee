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
    zm_stamp_rules rules;
    if (zm_stamp_rules_from_params(p, &rules, err)) {
        zm_inputs_free(&in);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    const zm_cutout_cfg cfg = rules.cfg;
    const zm_dtype dtype = rules.dtype;
    const long long batch = zm_param_int(p, "cutout.batch");
    const size_t np = (size_t)cfg.channels * cfg.size * cfg.size;
    const size_t esz = dtype == ZM_DT_F16 ? 2 : 1;
    unsigned long long ngal_total = 0;
    zm_store_nrows(s, ZM_F_GAL_ID.path, &ngal_total, err);
    zm_field fimg = zm_field_cutout_images(cfg.channels, cfg.size, dtype);

    /* resume an interrupted run whose datasets match; otherwise start afresh */
    char status[32] = "";
    zm_store_get_attr(s, "/meta/stages/cutout", "status", status, sizeof status);
    unsigned long long dims[4] = {0};
    int resume = !strcmp(status, "running") && zm_store_exists(s, fimg.path) &&
                 zm_store_shape(s, fimg.path, dims, err) == 4 && dims[1] == (unsigned)cfg.channels &&
                 dims[2] == (unsigned)cfg.size && zm_store_exists(s, ZM_F_INPUT_CUTOUT_DONE.path);
    resume = zm_any(ctx, resume) && !zm_any(ctx, !resume);
    int rc = 0;
    if (!resume) {
        memset(in.cutout_done, 0, (size_t)(in.n ? in.n : 1));
        rc = zm_store_define(s, &fimg, ngal_total, 1, err);
        if (!rc) rc = zm_store_define(s, &ZM_F_CUT_FLAGS, ngal_total, 1, err);
        if (!rc) rc = zm_store_define(s, &ZM_F_CUT_PIXSCALE, ngal_total, 1, err);
        if (!rc) rc = zm_store_define(s, &ZM_F_INPUT_CUTOUT_DONE, (unsigned long long)in.n, 1, err);
    } else {
        long ndone = 0;
        for (int i = 0; i < in.n; i++) ndone += in.cutout_done[i];
        zm_info0("cutout: resuming an interrupted run: %ld of %d inputs already done", ndone, in.n);
    }
    if (rc) {
        zm_inputs_free(&in);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    char *dump = zm_params_dump(p);
    zm_store_stage_begin(s, "cutout", dump);
    free(dump);
    /* where this run's rejects begin (a resumed run sorts its predecessor's too) */
    unsigned long long rej_from = zm_reject_count(s);
    if (resume) {
        zm_err e2 = {0};
        char (*st)[ZM_NAME_LEN] = NULL;
        unsigned long long nr = rej_from;
        st = zm_calloc((size_t)(nr ? nr : 1), sizeof *st);
        zm_range all = {0, nr};
        if (nr && !zm_store_read(s, ZM_F_REJ_STAGE.path, ZM_DT_STR, ZM_NAME_LEN, &all, 1, st, &e2))
            while (rej_from > 0 && !strcmp(st[rej_from - 1], "cutout")) rej_from--;
        free(st);
        /* rejects of inputs the interrupted run had not finished: they are redone */
        zm_err e3 = {0};
        if (zm_reject_drop_unfinished(s, rej_from, in.cutout_done, ctx, &e3))
            ZM_ABORT("cannot tidy /rejects of an interrupted cutout: %s", e3.msg);
    }

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
    float *stamp = zm_malloc(np * sizeof *stamp);
    float *work = zm_malloc(zm_cutout_work_floats(&cfg) * sizeof *work);
    double *ra = zm_malloc((size_t)batch * sizeof *ra), *dec = zm_malloc((size_t)batch * sizeof *dec);
    float *r50 = zm_malloc((size_t)batch * sizeof *r50), *th50 = zm_malloc((size_t)batch * sizeof *th50),
          *th90 = zm_malloc((size_t)batch * sizeof *th90);
    zm_range *ranges = zm_malloc(((size_t)batch + 1) * sizeof *ranges);
    zm_range *done_r = zm_malloc(((size_t)batch + 1) * sizeof *done_r);
    int *rej_inputs = zm_malloc(((size_t)batch + 1) * sizeof *rej_inputs);
    unsigned char *ones = zm_malloc((size_t)batch + 1);
    memset(ones, 1, (size_t)batch + 1);
    zm_loaded_input L;
    memset(&L, 0, sizeof L);
    L.input = -1;
    long long n_ok = 0, n_rej = 0, n_edge = 0, n_nan = 0, n_missing = 0, in_rej = 0;
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
            zm_err e = {0};
            if (L.input != i) {
                L.input = i;
                if (zm_input_load(in.name[i], in.path[i], rules.bricks_mode, rules.wanted, rules.allow_missing, &L,
                                  &e)) {
                    L.failed = 1;
                    zm_warn("cutout: input %s rejected: %s", in.name[i], e.msg);
                    zm_reject_add(&rej, "cutout", i, -1, in.path[i], e.msg);
                    rej_inputs[nrejin++] = i;
                    in_rej++;
                }
            }
            ranges[q] = (zm_range){(unsigned long long)(in.first[i] + pc->off), (unsigned long long)pc->count};
            zm_range gr = ranges[q];
            if ((rc = zm_store_read(s, ZM_F_GAL_RA.path, ZM_DT_F64, 0, &gr, 1, ra, err)) ||
                (rc = zm_store_read(s, ZM_F_GAL_DEC.path, ZM_DT_F64, 0, &gr, 1, dec, err)) ||
                (rc = zm_store_read(s, ZM_F_GAL_R50.path, ZM_DT_F32, 0, &gr, 1, r50, err)) ||
                (rc = zm_store_read(s, ZM_F_GAL_TH50.path, ZM_DT_F32, 0, &gr, 1, th50, err)) ||
                (rc = zm_store_read(s, ZM_F_GAL_TH90.path, ZM_DT_F32, 0, &gr, 1, th90, err)))
                ZM_ABORT("cannot read /galaxies rows of a planned store: %s", err->msg);
            for (long long j = 0; j < pc->count; j++, k++) {
                char *dst = (char *)stamps + (size_t)k * np * esz;
                long long id = in.first[i] + pc->off + j;
                flags[k] = 0;
                pixscale[k] = 0;
                if (L.failed) {
                    memset(dst, 0, np * esz);
                    flags[k] = ZM_CUT_REJECTED;
                    n_rej++;
                    continue;
                }
                int crc = zm_stamp_make(&rules, &L, ra[j], dec[j], r50[j], th50[j], th90[j], work, stamp, &flags[k],
                                        &pixscale[k], &e);
                if (crc) {
                    memset(dst, 0, np * esz);
                    flags[k] |= ZM_CUT_REJECTED;
                    n_rej++;
                    char reason[ZM_REASON_LEN];
                    snprintf(reason, sizeof reason, "galaxy %lld (ra %.6f, dec %.6f): %s", id, ra[j], dec[j], e.msg);
                    zm_reject_add(&rej, "cutout", i, id, in.path[i], reason);
                    continue;
                }
                zm_stamp_quantize(stamp, np, dtype == ZM_DT_F16, dst);
                n_ok++;
                n_edge += (flags[k] & ZM_CUT_EDGE) != 0;
                n_nan += (flags[k] & ZM_CUT_NAN) != 0;
                n_missing += (flags[k] & ZM_CUT_MISSING_BAND) != 0;
            }
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
        done_global = zm_allreduce_sum_ll(ctx, n_ok + n_rej);
        zm_progress_update(&prog, (double)done_global);
        zm_fault_point(ctx, "cutout", r + 1);
        if (!rc && r + 1 < rounds && zm_any(ctx, zm_signal_pending())) {
            interrupted = 1;
            break;
        }
    }
    zm_loaded_unload(&L);
    if (!rc) rc = zm_reject_canonicalise(s, rej_from, ctx, err);
    long long tot[6] = {n_ok, n_rej, n_edge, n_nan, n_missing, in_rej};
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
    free(owner), free(w), free(stamps), free(flags), free(pixscale), free(stamp);
    free(work), free(ra), free(dec), free(r50), free(th50), free(th90), free(ranges), free(done_r);
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
