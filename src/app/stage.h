/*
 * stage.h: the interface between main.c and the stages (one file each in src/app).
 *
 * A stage reads its parameters, calls library modules, writes fields to the store and
 * holds no numerics. It returns 0 on success, ZM_EXIT_* otherwise, with a message in
 * err (the same on every rank). Stage-specific command-line flags (after the common
 * -c/--set) are passed in argv.
 */
#ifndef ZOOMORPH_APP_STAGE_H
#define ZOOMORPH_APP_STAGE_H

#include "zoomorph/context.h"
#include "zoomorph/error.h"
#include "zoomorph/params.h"

enum {
    ZM_EXIT_OK = 0,
    ZM_EXIT_INPUT = 1,    /* bad config or input; message says which        */
    ZM_EXIT_USAGE = 2,    /* bad command line                               */
    ZM_EXIT_NOTHING = 3   /* nothing at all could be read                   */
};

typedef struct {
    const zm_ctx *ctx;
    zm_params *params;
    const char *config_path;  /* may be NULL */
    int argc;                 /* stage-specific flags */
    char **argv;
} zm_stage_args;

typedef struct {
    const char *name;
    const char *summary;
    const char *flags_help;  /* stage-specific flags, "" if none */
    int (*run)(const zm_stage_args *a, zm_err *err);
} zm_stage;

/* All stages, in pipeline order (stages.c). */
extern const zm_stage *const zm_stages[];
extern const int zm_nstages;

/* Every parameter group (params_table.c); zm_all_param_tables copies them into out
 * (zm_nparam_groups entries) for zm_params_load. */
extern const zm_param_table *const zm_param_groups[];
extern const int zm_nparam_groups;
void zm_all_param_tables(zm_param_table *out);

#endif
