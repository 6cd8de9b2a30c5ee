/*
 * stage_embed.c: `zoomorph embed` runs every galaxy's stamp through the encoder and
 * writes, collectively, /representation/embedding (N x D), /predictions/concentration
 * and /predictions/vote_fraction (N x answers), and with Monte-Carlo dropout
 * /predictions/vote_fraction_std. Rejected stamps get NaN. Inputs are balanced over the
 * ranks as in cutout, marked done in /inputs/embed_done after their rows are written; an
 * interrupted run resumes with what is missing and ends with the rows of a clean run.
 * A store without /cutouts/images (plan run, cutout not) gets its stamps cut here from the
 * survey, exactly as `zoomorph cutout` would make them (stage_stamp.c), without storing
 * them: one pass over the survey; rejected galaxies are listed in /rejects.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_common.h"
#include "zoomorph/augment.h"
#include "zoomorph/balance.h"
#include "zoomorph/gzloss.h"
#include "zoomorph/log.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"
#include "zoomorph/signals.h"

static int run_embed(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    zm_store *s = NULL;
    if (zm_stage_open_store(a, 1, "plan", &s, err)) return ZM_EXIT_INPUT;
    char wbuf[PATH_MAX];
    const char *w = zm_encoder_weights(p, NULL, wbuf, sizeof wbuf);
    zm_embedder E;
    memset(&E, 0, sizeof E);
    zm_inputs in;
    memset(&in, 0, sizeof in);
    unsigned long long dims[4] = {0}, N = 0;
    zm_dtype itype = ZM_DT_U8;
    int rc = 0;
    const int batch = (int)zm_param_int(p, "embed.batch"), mc = (int)zm_param_int(p, "embed.mc_passes");
    /* choices: 1, 2, 4, 8 and 0, 45 */
    const zm_views views = {atoi(zm_param_str(p, "embed.views")), atoi(zm_param_str(p, "embed.view_angle"))};
    /* stamps from the store, or cut here when the store has none */
    const int fly = !zm_store_exists(s, "/cutouts/images");
    zm_stamp_maker mk;
    memset(&mk, 0, sizeof mk);
    if (fly) {
        rc = zm_stamp_maker_init(&mk, p, batch, "embed", err);
        dims[1] = (unsigned long long)mk.rules.cfg.channels;
        dims[2] = (unsigned long long)mk.rules.cfg.size;
        itype = mk.rules.dtype;
    } else if (!zm_store_stage_complete(s, "cutout")) {
        rc = zm_err_set(err, ZM_ESTATE, "store %s: the cutout stage has not completed; run 'zoomorph cutout' to "
                        "finish it (embed cuts the stamps itself only when the store has none)", zm_store_path(s));
    } else {
        if (zm_store_shape(s, "/cutouts/images", dims, err) != 4) rc = ZM_ESTATE;
        if (!rc) rc = zm_store_type(s, "/cutouts/images", &itype, err);
    }
    if (!rc) rc = zm_store_nrows(s, ZM_F_GAL_ID.path, &N, err);
    const int C = (int)dims[1], S = (int)dims[2];
    char field[ZM_STAMP_FIELD_LEN];
    if (fly) zm_stamp_field_text(&mk.rules, field, sizeof field);
    else zm_store_stamp_field(s, p, field, sizeof field);
    if (!rc) rc = zm_embedder_open(p, w, C, S, field, zm_store_path(s), batch, mc, &E, err);
    E.views = views;
    if (!rc) rc = zm_inputs_read(s, &in, err);
    if (zm_any(ctx, rc)) {
        if (!rc) zm_err_set(err, ZM_EIO, "embed: setting up failed on another rank");
        zm_embedder_close(&E);
        zm_stamp_maker_free(&mk);
        zm_inputs_free(&in);
        zm_store_close(s);
        return ZM_EXIT_INPUT;
    }
    if (fly) zm_info0("embed: the store has no stamps: cutting them from the survey on the fly (%d x %d, %d channel(s))", S, S, C);
    const int D = E.D, A = E.A;
    zm_field fe = {"/representation/embedding", ZM_DT_F32, 1, {(unsigned long long)D}, 0, "",
                   "the encoder's pooled representation of each galaxy (NaN for rejected stamps)"};
    zm_field fc = {"/predictions/concentration", ZM_DT_F32, 1, {(unsigned long long)A}, 0, "",
                   "Dirichlet concentrations 1 + 100 sigmoid(x) per answer (mean over MC passes)"};
    zm_field ff = {"/predictions/vote_fraction", ZM_DT_F32, 1, {(unsigned long long)A}, 0, "",
                   "expected vote fraction per answer a_i / A_q (mean over MC passes)"};
    zm_field fsd = {"/predictions/vote_fraction_std", ZM_DT_F32, 1, {(unsigned long long)A}, 0, "",
                    "standard deviation of the vote fraction over Monte-Carlo dropout passes"};
    zm_field fdone = {"/inputs/embed_done", ZM_DT_U8, 0, {0}, 0, "", "1 once embed has written this input's rows"};
    char status[32] = "";
    zm_store_get_attr(s, "/meta/stages/embed", "status", status, sizeof status);
    unsigned long long ed[4] = {0};
    int resume = !strcmp(status, "running") && zm_store_shape(s, fe.path, ed, err) == 2 && ed[1] == (unsigned)D &&
                 zm_store_exists(s, fdone.path);
    if (resume) {
        const zm_views had = zm_embed_views(s);
        resume = had.n == views.n && had.angle == views.angle;
    }
    resume = !zm_any(ctx, !resume);
    unsigned char *done = zm_calloc((size_t)(in.n ? in.n : 1), 1);
    if (resume) {
        zm_range all = {0, (unsigned long long)in.n};
        rc = zm_store_read(s, fdone.path, ZM_DT_U8, 0, &all, 1, done, err);
        long nd = 0;
        for (int i = 0; i < in.n; i++) nd += done[i];
        zm_info0("embed: resuming an interrupted run: %ld of %d inputs already done", nd, in.n);
    } else {
        rc = zm_store_define(s, &fe, N, 1, err);
        if (!rc) rc = zm_store_define(s, &fc, N, 1, err);
        if (!rc) rc = zm_store_define(s, &ff, N, 1, err);
        if (!rc && mc > 0) rc = zm_store_define(s, &fsd, N, 1, err);
        if (!rc) rc = zm_store_define(s, &fdone, (unsigned long long)in.n, 1, err);
    }
    char *dump = zm_params_dump(p);
    if (!rc) zm_store_stage_begin(s, "embed", dump);
    free(dump);
    unsigned long long rej_from = fly && !rc ? zm_rejects_begin(s, "embed", resume, done, ctx) : 0;
    zm_reject_list rej = {0};
    const size_t esz = itype == ZM_DT_F16 ? 2 : 1;
    unsigned char *qbuf = fly ? zm_malloc((size_t)batch * C * S * S * esz) : NULL;
    float *pixscale = fly ? zm_malloc((size_t)batch * sizeof *pixscale) : NULL;
    if (!rc) {
        zm_store_set_attr(s, fe.path, "model", w);
        char vs[16];
        snprintf(vs, sizeof vs, "%d", views.n);
        zm_store_set_attr(s, fe.path, "views", vs);
        snprintf(vs, sizeof vs, "%d", views.angle);
        zm_store_set_attr(s, fe.path, "view_angle", vs);
        char cols[8192];
        zm_tree_columns(&E.tree, cols, sizeof cols);
        zm_store_set_attr(s, ff.path, "columns", cols);
        zm_store_set_attr(s, fc.path, "columns", cols);
    }
    int *owner = zm_malloc((size_t)(in.n ? in.n : 1) * sizeof *owner);
    long long *wgt = zm_malloc((size_t)(in.n ? in.n : 1) * sizeof *wgt), todo = 0;
    for (int i = 0; i < in.n; i++) {
        wgt[i] = in.status[i] == ZM_INPUT_OK && !done[i] ? in.ngal[i] : 0;
        todo += wgt[i];
    }
    zm_assign_lpt(wgt, in.n, ctx->size, owner);
    zm_chunk *chunks = NULL;
    int nchunks = zm_work_chunks(&in, owner, ctx->rank, batch, done, &chunks);
    long long rounds = zm_allreduce_max_ll(ctx, nchunks);
    const size_t per = (size_t)C * S * S;
    float *raw = zm_malloc((size_t)batch * per * sizeof *raw);
    float *emb = zm_malloc((size_t)batch * D * sizeof *emb), *conc = zm_malloc((size_t)batch * A * sizeof *conc);
    float *frac = zm_malloc((size_t)batch * A * sizeof *frac), *sd = zm_malloc((size_t)batch * A * sizeof *sd);
    unsigned *flags = zm_malloc((size_t)batch * sizeof *flags);
    zm_range *ranges = zm_malloc(((size_t)batch + 1) * sizeof *ranges), *dr = zm_malloc(((size_t)batch + 1) * sizeof *dr);
    unsigned char *ones = zm_malloc((size_t)batch + 1);
    memset(ones, 1, (size_t)batch + 1);
    zm_progress prog;
    zm_progress_start(&prog, "embed", "galaxies", (double)todo);
    long long ndone = 0, nrej = 0;
    double t_net = 0;
    int interrupted = 0;
    for (long long r = 0; r < rounds && !rc; r++) {
        zm_chunk *ch = r < nchunks ? &chunks[r] : NULL;
        int npieces = ch ? ch->n : 0, nd = 0, m = 0;
        for (int q = 0; q < npieces && !rc; q++) {
            const zm_piece *pc = &ch->p[q];
            ranges[q] = (zm_range){(unsigned long long)(in.first[pc->input] + pc->off), (unsigned long long)pc->count};
            if (fly) {
                int failed = 0;
                zm_stamp_maker_piece(&mk, s, &in, pc->input, pc->off, pc->count, qbuf, flags + m, pixscale, &rej, &failed);
                float *dst = raw + (size_t)m * per;
                const size_t nv = (size_t)pc->count * per;
                if (esz == 1)
                    for (size_t j = 0; j < nv; j++) dst[j] = (float)qbuf[j];
                else
                    for (size_t j = 0; j < nv; j++) dst[j] = zm_f16_to_f32(((const uint16_t *)qbuf)[j]);
            } else {
                rc = zm_store_read(s, "/cutouts/images", ZM_DT_F32, 0, &ranges[q], 1, raw + (size_t)m * per, err);
                if (!rc) rc = zm_store_read(s, ZM_F_CUT_FLAGS.path, ZM_DT_U32, 0, &ranges[q], 1, flags + m, err);
            }
            m += (int)pc->count;
            if (pc->off + pc->count == in.ngal[pc->input]) dr[nd++] = (zm_range){(unsigned long long)pc->input, 1};
        }
        if (m) {
            const float scale = itype == ZM_DT_U8 ? 1.0f / 255.0f : 1.0f;
            for (size_t j = 0; j < (size_t)m * per; j++) raw[j] *= scale;
            double t0 = zm_now();
            rc = zm_embedder_run(&E, raw, m, (uint64_t)ranges[0].start, emb, conc, frac, sd, err);
            t_net += zm_now() - t0;
            for (int i = 0; i < m; i++) {
                if (flags[i] & ZM_CUT_REJECTED) {
                    nrej++;
                    for (int k = 0; k < D; k++) emb[(size_t)i * D + k] = NAN;
                    for (int k = 0; k < A; k++) conc[(size_t)i * A + k] = frac[(size_t)i * A + k] = sd[(size_t)i * A + k] = NAN;
                }
            }
            ndone += m;
        }
        int any = zm_any(ctx, rc);
        if (any) {
            if (!rc) rc = zm_err_set(err, ZM_EVALUE, "embed failed on another rank");
            break;
        }
        rc = zm_store_write(s, &fe, ranges, npieces, emb, err);
        if (!rc) rc = zm_store_write(s, &fc, ranges, npieces, conc, err);
        if (!rc) rc = zm_store_write(s, &ff, ranges, npieces, frac, err);
        if (!rc && mc > 0) rc = zm_store_write(s, &fsd, ranges, npieces, sd, err);
        if (!rc && fly && zm_any(ctx, rej.n > 0)) {
            rc = zm_reject_write(s, &rej, err);
            zm_reject_free(&rej);
        }
        if (!rc) zm_store_flush(s); /* the rows reach the file before their inputs are marked done */
        if (!rc) rc = zm_store_write(s, &fdone, dr, nd, ones, err);
        zm_progress_update(&prog, (double)zm_allreduce_sum_ll(ctx, ndone));
        zm_fault_point(ctx, "embed", r + 1);
        if (!rc && r + 1 < rounds && zm_any(ctx, zm_signal_pending())) {
            interrupted = 1;
            break;
        }
    }
    if (!rc && fly) rc = zm_reject_canonicalise(s, rej_from, ctx, err);
    double tn = t_net;
    long long tot[2] = {ndone, nrej};
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, tot, 2, MPI_LONG_LONG, MPI_SUM, ctx->comm));
    ZM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &tn, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
    if (!rc && interrupted) {
        zm_info0("embed: stopped by a signal after %lld galaxies; the progress is saved: run 'zoomorph embed' "
                 "again to resume", tot[0]);
    } else if (!rc) {
        char summary[512], vdesc[96];
        if (views.n == 1)
            snprintf(vdesc, sizeof vdesc, "%s%s", mc > 0 ? "Monte-Carlo dropout" : "one pass",
                     views.angle ? " on the stamp turned 45 degrees" : "");
        else
            snprintf(vdesc, sizeof vdesc, "the mean of %d views%s%s", views.n, views.angle ? " turned 45 degrees" : "",
                     mc > 0 ? " with Monte-Carlo dropout" : "");
        double el = zm_now() - prog.t0;
        snprintf(summary, sizeof summary,
                 "%lld galaxies embedded (%lld rejected stamps as NaN) with %s (%s, %d-d), %s; %.1f galaxies/s in all, "
                 "%.1f galaxies/s/rank in the network alone%s",
                 tot[0], tot[1], w, E.info.arch, D, vdesc,
                 el > 0 ? tot[0] / el : 0,
                 tn > 0 ? (double)tot[0] / ctx->size / tn : 0, fly ? "; stamps cut on the fly" : "");
        zm_store_stage_end(s, "embed", summary);
        zm_progress_end(&prog, (double)tot[0]);
        zm_info0("embed: %s", summary);
    }
    zm_work_chunks_free(chunks, nchunks);
    free(owner), free(wgt), free(raw), free(emb), free(conc), free(frac), free(sd);
    free(flags), free(ranges), free(dr), free(ones), free(done), free(qbuf), free(pixscale);
    zm_reject_free(&rej);
    zm_stamp_maker_free(&mk);
    zm_embedder_close(&E);
    zm_inputs_free(&in);
    zm_store_close(s);
    return rc ? ZM_EXIT_INPUT : interrupted ? ZM_EXIT_INTERRUPTED : 0;
}

const zm_stage zm_stage_embed = {
    "embed", "representations and predicted vote fractions of every galaxy, written collectively (stamps cut on the fly when the store has none)", "", run_embed};
