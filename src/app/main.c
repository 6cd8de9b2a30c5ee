/*
 * main.c: `zoomorph <stage> -c run.ini [--set section.key=value ...] [stage flags]`.
 * Initialises MPI, reads the config on rank 0 and broadcasts it, runs one stage.
 * Exit status: 0 ok, 1 bad input or config, 2 usage, 3 nothing could be read,
 * 75 stopped by SIGTERM/SIGUSR1 with its progress saved (rerun to resume),
 * 70 (MPI_Abort) for a broken invariant.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"
#include "zoomorph/cpuinfo.h"
#include "zoomorph/log.h"
#include "zoomorph/signals.h"
#include "zoomorph/version.h"

static void usage_all(FILE *o)
{
    fprintf(o,
            "zoomorph %s (%s): galaxy morphology at survey scale, after Walmsley et al. 2022\n\n"
            "usage: zoomorph <stage> -c run.ini [--set section.key=value ...] [flags]\n"
            "       mpirun -np N zoomorph <stage> -c run.ini ...\n"
            "       zoomorph <stage> --help\n\nstages:\n",
            ZM_VERSION, ZM_GIT_REVISION);
    for (int i = 0; i < zm_nstages; i++)
        fprintf(o, "  %-12s %s\n", zm_stages[i]->name, zm_stages[i]->summary);
    fprintf(o, "\ncommon options:\n"
               "  -c, --config FILE        INI file of parameters (docs/config.md)\n"
               "  --set SECTION.KEY=VALUE  override one parameter (repeatable)\n"
               "  --log-level LEVEL        error, warn, info (default), debug\n"
               "  -h, --help               this help, or a stage's with the stage\n"
               "  --version                version and git revision\n");
}

static void usage_stage(FILE *o, const zm_stage *s)
{
    fprintf(o, "usage: zoomorph %s -c run.ini [--set section.key=value ...]%s\n\n%s\n",
            s->name, s->flags_help && s->flags_help[0] ? " [flags]" : "", s->summary);
    if (s->flags_help && s->flags_help[0]) fprintf(o, "\nflags:\n%s\n", s->flags_help);
    fprintf(o, "\nThe parameters are listed in docs/config.md (zoomorph params --markdown).\n");
}

/* One log line where the BLAS core is not what the CPU can do: re-executed with a better
 * one (zm_cpu_autotune), or the user's OPENBLAS_CORETYPE below the CPU. */
static void log_blas_core(void)
{
    zm_cpu_info i;
    zm_cpu_info_get(&i);
    if (getenv("ZM_BLAS_REEXEC"))
        zm_info0("BLAS core %s (%s)", i.blas_core, i.core_source);
    else if (getenv("OPENBLAS_CORETYPE") && i.blas_core_level >= 0 && i.blas_core_level < i.cpu_level)
        zm_info0("OPENBLAS_CORETYPE=%s is below what this CPU can do (%s): kept as set",
                 getenv("OPENBLAS_CORETYPE"), zm_cpu_core_for_level(i.cpu_level));
}

int main(int argc, char **argv)
{
    zm_cpu_autotune(argv); /* before MPI_Init: may re-execute with OPENBLAS_CORETYPE set */
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "zoomorph: MPI_Init failed\n");
        return 70;
    }
    zm_ctx ctx;
    zm_ctx_init(&ctx, MPI_COMM_WORLD);
    zm_signals_install();
    zm_log_init(ctx.rank, ZM_LOG_INFO);
    log_blas_core();
    int rc = ZM_EXIT_OK;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (ctx.rank == 0) usage_all(argc < 2 ? stderr : stdout);
        rc = argc < 2 ? ZM_EXIT_USAGE : ZM_EXIT_OK;
        goto done;
    }
    if (!strcmp(argv[1], "--version")) {
        if (ctx.rank == 0) {
            char d[1024];
            zm_cpu_describe(d, sizeof d);
            printf("zoomorph %s (%s)\n%s\n", ZM_VERSION, ZM_GIT_REVISION, d);
        }
        goto done;
    }
    const zm_stage *stage = NULL;
    for (int i = 0; i < zm_nstages; i++)
        if (!strcmp(argv[1], zm_stages[i]->name)) stage = zm_stages[i];
    if (!stage) {
        if (ctx.rank == 0) {
            fprintf(stderr, "zoomorph: unknown stage '%s'\n\n", argv[1]);
            usage_all(stderr);
        }
        rc = ZM_EXIT_USAGE;
        goto done;
    }
    const char *config = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets), **rest = calloc((size_t)argc, sizeof *rest);
    if (!sets || !rest) ZM_ABORT("out of memory");
    int nsets = 0, nrest = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            if (ctx.rank == 0) usage_stage(stdout, stage);
            free(sets);
            free(rest);
            goto done;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(a, "--set") && i + 1 < argc) {
            sets[nsets++] = argv[++i];
        } else if (!strncmp(a, "--set=", 6)) {
            sets[nsets++] = argv[i] + 6;
        } else if (!strcmp(a, "--log-level") && i + 1 < argc) {
            int lvl = zm_log_level_parse(argv[++i]);
            if (lvl < 0) {
                if (ctx.rank == 0)
                    fprintf(stderr, "zoomorph: --log-level '%s': expected error, warn, info or debug\n",
                            argv[i]);
                rc = ZM_EXIT_USAGE;
                free(sets);
                free(rest);
                goto done;
            }
            zm_log_init(ctx.rank, lvl);
        } else {
            rest[nrest++] = argv[i];
        }
    }
    zm_err err = {0};
    zm_params *params = NULL;
    zm_param_table tables[64];
    if (zm_nparam_groups > 64) ZM_ABORT("too many parameter groups");
    zm_all_param_tables(tables);
    if (zm_params_load(&params, tables, zm_nparam_groups, config, sets, nsets, ctx.comm, &err)) {
        if (ctx.rank == 0) fprintf(stderr, "zoomorph %s: %s\n", stage->name, err.msg);
        rc = ZM_EXIT_INPUT;
    } else {
        char d[1024];
        zm_cpu_describe(d, sizeof d);
        zm_info0("zoomorph %s (%s) %s on %d rank%s; %s", ZM_VERSION, ZM_GIT_REVISION, stage->name,
                 ctx.size, ctx.size == 1 ? "" : "s", d);
        zm_stage_args args = {&ctx, params, config, nrest, rest};
        rc = stage->run(&args, &err);
        if (rc && ctx.rank == 0 && err.msg[0])
            fprintf(stderr, "zoomorph %s: %s\n", stage->name, err.msg);
        zm_params_free(params);
    }
    free(sets);
    free(rest);
done:
    zm_ctx_free(&ctx);
    MPI_Finalize();
    return rc;
}
