/*
 * stage_run.c: `zoomorph run -c run.ini` runs the whole chain inside one MPI job, calling
 * each stage's function in this process, in the order of the table below: simulate (when
 * [run] simulate), plan, cutout, votes (when [labels] votes), pretrain (when [run]
 * pretrain), embed, pca, index (when [similar] method = ivf), similar (when [similar]
 * queries), anomaly, finetune (when the stage is built and its labels are configured),
 * catalogue, report (when [run] report).
 *
 * A stage already complete in the store (/meta/stages/<stage> status "complete"; for
 * simulate, which writes no store, its truth.fits and survey-bricks.fits) is skipped, and
 * says so; once a stage has run, every later stage runs too (its inputs
 * changed). --from STAGE reruns from that stage on, --only a,b restricts the run to those
 * stages, --check checks the inputs the config names and prints the plan without running
 * anything. Before any stage runs, every input file the config names (survey root, vote
 * table, weights, query and interest files) is checked, the error naming its key.
 *
 * After each stage, run checks that it left nothing behind that could break the next one
 * (HDF5 objects open, the store's lock held, file descriptors leaked) and stops when a
 * SIGTERM/SIGUSR1 arrived (exit 75: a rerun resumes). Stages that do not mark themselves
 * complete in the store (simulate, similar, catalogue, report) are marked by run. The
 * summary (status, seconds and output per stage) is printed at the end and stored as the
 * /meta attribute run_summary (tab-separated: stage, status, seconds, output), which the
 * report shows.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stage_common.h"
#include "zoomorph/log.h"
#include "zoomorph/signals.h"

typedef struct {
    const char *stage;
    /* 1 when the config asks for the stage (NULL: always); otherwise why not, into why */
    int (*wanted)(const zm_params *p, char *why, size_t n);
    int marked_by_run;       /* the stage does not record /meta/stages/<stage> itself */
    const char *output_key;  /* the parameter naming its main output, or NULL */
    /* complete without a mark in the store (a stage that writes no store), or NULL */
    int (*done_outside)(const zm_params *p);
} run_step;


static int want_simulate(const zm_params *p, char *why, size_t n)
{
    snprintf(why, n, "not asked ([run] simulate = false)");
    return zm_param_bool(p, "run.simulate");
}
static int want_votes(const zm_params *p, char *why, size_t n)
{
    const char *v = zm_param_str(p, "labels.votes");
    snprintf(why, n, "no [labels] votes");
    return v && v[0];
}
static int want_pretrain(const zm_params *p, char *why, size_t n)
{
    snprintf(why, n, "not asked ([run] pretrain = false)");
    return zm_param_bool(p, "run.pretrain");
}
static int want_index(const zm_params *p, char *why, size_t n)
{
    snprintf(why, n, "not needed ([similar] method = exact)");
    return !strcmp(zm_param_str(p, "similar.method"), "ivf");
}
static int want_similar(const zm_params *p, char *why, size_t n)
{
    const char *q = zm_param_str(p, "similar.queries");
    snprintf(why, n, "no [similar] queries");
    return q && q[0];
}
static int want_finetune(const zm_params *p, char *why, size_t n)
{
    if (!zm_params_find_def(p, "finetune.labels")) {
        snprintf(why, n, "not in this build");
        return 0;
    }
    const char *l = zm_param_str(p, "finetune.labels");
    snprintf(why, n, "no [finetune] labels");
    return l && l[0];
}
static int want_report(const zm_params *p, char *why, size_t n)
{
    snprintf(why, n, "not asked ([run] report = false)");
    return zm_param_bool(p, "run.report");
}

/* simulate wrote truth.fits and survey-bricks.fits last (and removes them first when it
 * overwrites): both there means it finished, also when run by a job of its own. */
static int simulated(const zm_params *p)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/truth.fits", zm_param_str(p, "simulate.out"));
    snprintf(b, sizeof b, "%s/survey-bricks.fits", zm_param_str(p, "simulate.out"));
    return zm_is_file(a) && zm_is_file(b);
}

/* The chain. Adding a stage is one line (its function is found by name in zm_stages; a
 * stage missing from this build is skipped with a message). */
static const run_step steps[] = {
    {"simulate", want_simulate, 1, "simulate.out", simulated},
    {"plan", NULL, 0, "store.path", NULL},
    {"cutout", NULL, 0, NULL, NULL},
    {"votes", want_votes, 0, NULL, NULL},
    {"pretrain", want_pretrain, 0, "model.output", NULL},
    {"embed", NULL, 0, NULL, NULL},
    {"pca", NULL, 0, NULL, NULL},
    {"index", want_index, 0, NULL, NULL},
    {"similar", want_similar, 1, "similar.output", NULL},
    {"anomaly", NULL, 0, "anomaly.output", NULL},
    {"finetune", want_finetune, 0, NULL, NULL},
    {"catalogue", NULL, 1, "catalogue.path", NULL},
    {"report", want_report, 1, "report.path", NULL},
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

enum { ST_NOT_ASKED, ST_COMPLETE, ST_TO_RUN, ST_RAN, ST_FAILED, ST_STOPPED, ST_NOT_REACHED };
static const char *const status_name[] = {"not asked", "skipped", "running", "ran", "failed", "stopped", "not reached"};

typedef struct {
    const zm_stage *fn;
    int status;
    double seconds;
    char why[160];      /* not asked: the reason */
    char output[512];   /* what it wrote */
} step_state;

static const zm_stage *find_stage(const char *name)
{
    for (int i = 0; i < zm_nstages; i++)
        if (!strcmp(zm_stages[i]->name, name)) return zm_stages[i];
    return NULL;
}

static int step_index(const char *name)
{
    for (int i = 0; i < NSTEPS; i++)
        if (!strcmp(steps[i].stage, name)) return i;
    return -1;
}

static int is_dir(const char *path) { struct stat st; return path && path[0] && stat(path, &st) == 0 && S_ISDIR(st.st_mode); }

/* Open file descriptors of this process (/proc/self/fd), -1 where unknown. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* Rank 0 decides, then everyone agrees: rc and the message. */
static int bcast_rc(const zm_ctx *ctx, int rc, zm_err *err)
{
    ZM_CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->comm));
    if (rc) {
        ZM_CHECK_MPI(MPI_Bcast(&err->code, 1, MPI_INT, 0, ctx->comm));
        ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
    }
    return rc;
}

static int will_run(const step_state *st, const char *name)
{
    int i = step_index(name);
    return i >= 0 && st[i].status == ST_TO_RUN;
}

/* The inputs the config names, checked before anything runs (rank 0; the message names
 * the key). Files an earlier stage of this run writes are not checked. */
static int preflight(const zm_params *p, const step_state *st, zm_err *err)
{
    const int sim = will_run(st, "simulate");
    if (will_run(st, "plan") && !sim) {
        if (!strcmp(zm_param_str(p, "survey.mode"), "bricks")) {
            const char *root = zm_param_str(p, "survey.root");
            if (!root || !root[0]) return zm_err_set(err, ZM_ECONFIG, "config key [survey] root is needed by stage plan");
            if (!is_dir(root))
                return zm_err_set(err, ZM_ECONFIG, "config key [survey] root: %s is not a directory (a Legacy Surveys "
                                  "layout with coadd/ and tractor/), or set [run] simulate = true", root);
        } else {
            const char *t = zm_param_str(p, "survey.cutout_table");
            if (!zm_is_file(t))
                return zm_err_set(err, ZM_ECONFIG, "config key [survey] cutout_table: %s does not exist",
                                  t && t[0] ? t : "(not set)");
        }
    }
    if (will_run(st, "plan") && zm_is_file(zm_param_str(p, "store.path")) && !zm_param_bool(p, "store.overwrite"))
        return zm_err_set(err, ZM_ECONFIG, "config key [store] path: %s exists and stage plan would create it again; "
                          "set [store] overwrite = true or choose another path", zm_param_str(p, "store.path"));
    if (will_run(st, "votes") && !sim && !zm_is_file(zm_param_str(p, "labels.votes")))
        return zm_err_set(err, ZM_ECONFIG, "config key [labels] votes: %s does not exist", zm_param_str(p, "labels.votes"));
    if (will_run(st, "pretrain")) {
        const char *w = zm_param_str(p, "model.weights");
        if (w && w[0] && !zm_is_file(w)) return zm_err_set(err, ZM_ECONFIG, "config key [model] weights: %s does not exist", w);
    }
    if (will_run(st, "embed") && !will_run(st, "pretrain")) {
        char wbuf[PATH_MAX];
        const char *w = zm_encoder_weights(p, NULL, wbuf, sizeof wbuf);
        const char *key = zm_param_str(p, "embed.weights")[0] ? "[embed] weights" : "[model] output (as [embed] weights is empty)";
        if (!zm_is_file(w))
            return zm_err_set(err, ZM_ECONFIG, "config key %s: weight file %s does not exist; name a model in [embed] "
                              "weights, or set [run] pretrain = true", key, w);
    }
    if (will_run(st, "similar")) {
        char buf[4096], *items[2];
        int n = zm_param_list(p, "similar.queries", items, 2, buf, sizeof buf);
        char *end = NULL;
        if (n == 1 && (strtoll(items[0], &end, 10), *end) && !zm_is_file(items[0]))
            return zm_err_set(err, ZM_ECONFIG, "config key [similar] queries: %s is neither a row id nor an existing file",
                              items[0]);
    }
    if (will_run(st, "anomaly") && !sim) {
        const char *e = zm_param_str(p, "anomaly.evaluate");
        if (e && e[0] && !zm_is_file(e)) return zm_err_set(err, ZM_ECONFIG, "config key [anomaly] evaluate: %s does not exist", e);
    }
    if (will_run(st, "finetune") && !sim && !zm_is_file(zm_param_str(p, "finetune.labels")))
        return zm_err_set(err, ZM_ECONFIG, "config key [finetune] labels: %s does not exist", zm_param_str(p, "finetune.labels"));
    if (will_run(st, "catalogue") && zm_is_file(zm_param_str(p, "catalogue.path")) && !zm_param_bool(p, "catalogue.overwrite"))
        return zm_err_set(err, ZM_ECONFIG, "config key [catalogue] path: %s exists; set [catalogue] overwrite = true or "
                          "choose another path", zm_param_str(p, "catalogue.path"));
    return 0;
}

/* The summary as tab-separated lines (stage, status, seconds, output) into buf. */
static void summary_text(const step_state *st, char *buf, size_t n)
{
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < NSTEPS && len + 1 < n; i++) {
        int w = snprintf(buf + len, n - len, "%s\t%s\t%.2f\t%s\n", steps[i].stage, status_name[st[i].status],
                         st[i].seconds, st[i].status == ST_NOT_ASKED ? st[i].why : st[i].output);
        if (w < 0) break;
        len += (size_t)w;
        if (len >= n) len = n - 1;
    }
}

/* What a stage wrote: its own summary in the store, and its output parameter. */
static void describe_output(zm_store *s, const zm_params *p, int i, step_state *st)
{
    char sum[400] = "", path[128], wbuf[PATH_MAX];
    snprintf(path, sizeof path, "/meta/stages/%s", steps[i].stage);
    if (s) zm_store_get_attr(s, path, "summary", sum, sizeof sum);
    const char *o = steps[i].output_key ? zm_param_str(p, steps[i].output_key) : NULL;
    if (!strcmp(steps[i].stage, "embed") && !will_run(st, "pretrain")) {
        o = zm_encoder_weights(p, NULL, wbuf, sizeof wbuf);
    }
    if (sum[0] && o && o[0] && !strstr(sum, o)) snprintf(st[i].output, sizeof st[i].output, "%s (%s)", sum, o);
    else if (sum[0]) snprintf(st[i].output, sizeof st[i].output, "%s", sum);
    else snprintf(st[i].output, sizeof st[i].output, "%s", o ? o : "");
}

/* Collective: marks the stages that do not mark themselves, stores the summary. Does
 * nothing while the store does not exist yet. */
static void record(const zm_ctx *ctx, const zm_params *p, step_state *st, const int *mark, int nmark)
{
    const char *path = zm_param_str(p, "store.path");
    int exists = ctx->rank == 0 ? zm_is_file(path) : 0;
    ZM_CHECK_MPI(MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm));
    if (!exists) return;
    zm_err e = {0};
    zm_store *s = NULL;
    if (zm_store_open(&s, path, 1, ctx, &e)) {
        zm_warn0("run: cannot record the run in %s: %s", path, e.msg);
        return;
    }
    for (int i = 0; i < NSTEPS; i++)
        if ((st[i].status == ST_RAN || st[i].status == ST_COMPLETE) && !st[i].output[0]) describe_output(s, p, i, st);
    char *dump = zm_params_dump(p);
    for (int k = 0; k < nmark; k++) {
        zm_store_stage_begin(s, steps[mark[k]].stage, dump);
        zm_store_stage_end(s, steps[mark[k]].stage, st[mark[k]].output);
    }
    free(dump);
    for (int i = 0; i < NSTEPS; i++) {
        char g[128], v[32];
        snprintf(g, sizeof g, "/meta/stages/%s", steps[i].stage);
        snprintf(v, sizeof v, "%.3f", st[i].seconds);
        if (st[i].status == ST_RAN && zm_store_exists(s, g)) zm_store_set_attr(s, g, "run_seconds", v);
    }
    char text[8192];
    summary_text(st, text, sizeof text);
    zm_store_set_attr(s, "/meta", "run_summary", text);
    zm_store_close(s);
}

static void print_summary(const zm_ctx *ctx, const zm_params *p, const step_state *st, double total)
{
    if (ctx->rank != 0) return;
    fprintf(stderr, "\nzoomorph run: summary (store %s, %d ranks)\n", zm_param_str(p, "store.path"), ctx->size);
    fprintf(stderr, "  %-10s %-11s %9s  %s\n", "stage", "status", "time", "output");
    for (int i = 0; i < NSTEPS; i++) {
        char t[32] = "-";
        if (st[i].status == ST_RAN || st[i].status == ST_FAILED || st[i].status == ST_STOPPED)
            snprintf(t, sizeof t, "%.1f s", st[i].seconds);
        else if (st[i].status == ST_COMPLETE && st[i].seconds > 0)
            snprintf(t, sizeof t, "(%.1f s)", st[i].seconds); /* the earlier run's time */
        fprintf(stderr, "  %-10s %-11s %9s  %s\n", steps[i].stage, status_name[st[i].status], t,
                st[i].status == ST_NOT_ASKED ? st[i].why : st[i].output);
    }
    fprintf(stderr, "  %-10s %-11s %7.1f s\n", "total", "", total);
}

static int parse_list(const char *v, const char *flag, char names[][32], int max, zm_err *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        if (step_index(t) < 0) {
            char known[512] = "";
            for (int i = 0; i < NSTEPS; i++) strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1),
                                              strncat(known, steps[i].stage, sizeof known - strlen(known) - 1);
            return zm_err_set(err, ZM_EUSAGE, "run: %s: '%s' is not a stage of the run (%s)", flag, t, known);
        }
        if (n < max) snprintf(names[n++], 32, "%s", t);
    }
    return n;
}

static int run_run(const zm_stage_args *a, zm_err *err)
{
    const zm_ctx *ctx = a->ctx;
    const zm_params *p = a->params;
    const char *from = NULL, *only = NULL;
    int check = 0;
    for (int i = 0; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--from") && i + 1 < a->argc) from = a->argv[++i];
        else if (!strcmp(a->argv[i], "--only") && i + 1 < a->argc) only = a->argv[++i];
        else if (!strcmp(a->argv[i], "--check")) check = 1;
        else {
            zm_err_set(err, ZM_EUSAGE, "run: unknown or incomplete flag '%s'", a->argv[i]);
            return ZM_EXIT_USAGE;
        }
    }
    char only_names[NSTEPS][32];
    int nonly = 0, ifrom = -1;
    if (only && (nonly = parse_list(only, "--only", only_names, NSTEPS, err)) < 0) return ZM_EXIT_USAGE;
    if (from && ((ifrom = step_index(from)) < 0)) {
        char tmp[NSTEPS][32];
        parse_list(from, "--from", tmp, NSTEPS, err);
        return ZM_EXIT_USAGE;
    }

    /* what the config asks for, and what the store already has */
    step_state st[NSTEPS];
    memset(st, 0, sizeof st);
    const char *spath = zm_param_str(p, "store.path");
    int exists = ctx->rank == 0 ? zm_is_file(spath) : 0;
    ZM_CHECK_MPI(MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm));
    zm_store *s = NULL;
    if (exists && zm_store_open(&s, spath, 0, ctx, err)) {
        char m[ZM_ERR_MSG_LEN];
        snprintf(m, sizeof m, "%s", err->msg);
        zm_err_set(err, ZM_ECONFIG, "config key [store] path: %s (remove it, or set [store] overwrite = true with --from plan)", m);
        return ZM_EXIT_INPUT;
    }
    int invalidated = 0;
    for (int i = 0; i < NSTEPS; i++) {
        st[i].fn = find_stage(steps[i].stage);
        int asked = steps[i].wanted ? steps[i].wanted(p, st[i].why, sizeof st[i].why) : 1;
        if (asked && !st[i].fn) snprintf(st[i].why, sizeof st[i].why, "not in this build"), asked = 0;
        if (asked && nonly) {
            asked = 0;
            for (int k = 0; k < nonly; k++) asked |= !strcmp(only_names[k], steps[i].stage);
            if (!asked) snprintf(st[i].why, sizeof st[i].why, "not in --only");
        }
        if (!asked) {
            st[i].status = ST_NOT_ASKED;
            continue;
        }
        int complete = (s && zm_store_stage_complete(s, steps[i].stage)) || (steps[i].done_outside && steps[i].done_outside(p));
        ZM_CHECK_MPI(MPI_Bcast(&complete, 1, MPI_INT, 0, ctx->comm)); /* rank 0 looked at the files */
        if (complete && !invalidated && (ifrom < 0 || i < ifrom)) {
            st[i].status = ST_COMPLETE;
            describe_output(s, p, i, st);
            char g[128], v[32] = "";
            snprintf(g, sizeof g, "/meta/stages/%s", steps[i].stage);
            if (!zm_store_get_attr(s, g, "run_seconds", v, sizeof v)) st[i].seconds = atof(v);
        } else {
            st[i].status = ST_TO_RUN;
            invalidated = 1;
        }
    }
    if (s) zm_store_close(s);
    s = NULL;

    int rc = ctx->rank == 0 ? preflight(p, st, err) : 0;
    if (bcast_rc(ctx, rc, err)) return ZM_EXIT_INPUT;
    if (ctx->rank == 0) {
        char plan[1024] = "";
        for (int i = 0; i < NSTEPS; i++)
            if (st[i].status == ST_TO_RUN) strncat(plan, " ", sizeof plan - strlen(plan) - 1),
                                         strncat(plan, steps[i].stage, sizeof plan - strlen(plan) - 1);
        zm_info("run: stages to run:%s", plan[0] ? plan : " none (every stage asked for is complete in the store)");
        for (int i = 0; i < NSTEPS; i++) {
            if (st[i].status == ST_COMPLETE) zm_info("run: %s: skipped, complete in the store %s", steps[i].stage, spath);
            else if (st[i].status == ST_NOT_ASKED) zm_info("run: %s: skipped, %s", steps[i].stage, st[i].why);
        }
    }
    if (check) {
        if (ctx->rank == 0) zm_info("run: --check: the config's inputs exist; nothing was run");
        return 0;
    }

    /* the chain */
    const double t_all = zm_now();
    int mark[NSTEPS], nmark = 0, stop = 0, simulate_done = 0;
    int isim = step_index("simulate"), iplan = step_index("plan");
    for (int i = 0; i < NSTEPS; i++) {
        if (st[i].status != ST_TO_RUN) {
            if (i == isim && st[i].status == ST_COMPLETE) simulate_done = 1;
            continue;
        }
        if (stop) {
            st[i].status = ST_NOT_REACHED;
            continue;
        }
        zm_info0("run: ---- %s ----", steps[i].stage);
        if (!strcmp(steps[i].stage, "report")) record(ctx, p, st, mark, 0); /* the report shows the summary so far */
        long h5_before = zm_store_open_objects();
        int fd_before = open_fds();
        zm_stage_args sa = {ctx, a->params, a->config_path, 0, NULL};
        zm_err e = {0};
        double t0 = zm_now();
        int src = st[i].fn->run(&sa, &e);
        st[i].seconds = zm_now() - t0;
        ZM_CHECK_MPI(MPI_Bcast(&st[i].seconds, 1, MPI_DOUBLE, 0, ctx->comm));
        /* nothing may be left behind for the next stage */
        long h5_after = zm_store_open_objects();
        int fd_after = open_fds();
        if (h5_after > h5_before)
            zm_warn("run: stage %s left %ld HDF5 objects open", steps[i].stage, h5_after - h5_before);
        if (fd_before >= 0 && fd_after > fd_before)
            zm_warn("run: stage %s left %d file descriptors open", steps[i].stage, fd_after - fd_before);
        if (ctx->rank == 0) {
            char lock[4200];
            snprintf(lock, sizeof lock, "%s.lock", spath);
            if (access(lock, F_OK) == 0) zm_warn("run: stage %s left the store's lock %s", steps[i].stage, lock);
        }
        if (src == ZM_EXIT_INTERRUPTED) {
            st[i].status = ST_STOPPED;
            snprintf(st[i].output, sizeof st[i].output, "stopped by a signal with its progress saved; run again to resume");
            rc = ZM_EXIT_INTERRUPTED;
            stop = 1;
        } else if (src) {
            st[i].status = ST_FAILED;
            snprintf(st[i].output, sizeof st[i].output, "%s", e.msg);
            zm_err_set(err, e.code ? e.code : ZM_ESTATE, "stage %s: %s", steps[i].stage, e.msg);
            rc = src;
            stop = 1;
        } else {
            st[i].status = ST_RAN;
            if (steps[i].marked_by_run) mark[nmark++] = i;
            if (i == isim) simulate_done = 1;
            /* plan (re)creates the store: the simulated survey it read is recorded again */
            if (i == iplan && simulate_done && st[isim].status != ST_RAN && isim >= 0) mark[nmark++] = isim;
            if (zm_any(ctx, zm_signal_pending())) {
                zm_warn0("run: a stop signal arrived during %s; stopping here (run again to go on)", steps[i].stage);
                rc = ZM_EXIT_INTERRUPTED;
                stop = 1;
            }
        }
        /* before plan has made the store, marks wait */
        int sexists = ctx->rank == 0 ? zm_is_file(spath) : 0;
        ZM_CHECK_MPI(MPI_Bcast(&sexists, 1, MPI_INT, 0, ctx->comm));
        if (sexists || stop) {
            record(ctx, p, st, mark, nmark);
            if (sexists) nmark = 0;
        }
    }
    print_summary(ctx, p, st, zm_now() - t_all);
    if (rc == 0 && ctx->rank == 0) {
        fprintf(stderr, "\n  store:     %s\n", spath);
        int icat = step_index("catalogue"), irep = step_index("report");
        if (st[icat].status == ST_RAN || st[icat].status == ST_COMPLETE)
            fprintf(stderr, "  catalogue: %s\n", zm_param_str(p, "catalogue.path"));
        if (st[irep].status == ST_RAN || st[irep].status == ST_COMPLETE)
            fprintf(stderr, "  report:    %s\n", zm_param_str(p, "report.path"));
    }
    return rc;
}

const zm_stage zm_stage_run = {
    "run", "the whole chain in one MPI job, skipping stages complete in the store, with a summary",
    "  --from STAGE   run again from STAGE on, even where complete in the store\n"
    "  --only A,B     run only these stages (still skipping those complete)\n"
    "  --check        check the inputs the config names and print the plan; run nothing",
    run_run};
