/* params_groups.h: the parameter groups, one per file params_<group>.c; params_table.c
 * lists them for zm_params_load and for docs/config.md. */
#ifndef ZOOMORPH_APP_PARAMS_GROUPS_H
#define ZOOMORPH_APP_PARAMS_GROUPS_H

#include "zoomorph/params.h"

extern const zm_param_table zm_params_survey;
extern const zm_param_table zm_params_labels;
extern const zm_param_table zm_params_train;
extern const zm_param_table zm_params_embed;
extern const zm_param_table zm_params_finetune;
extern const zm_param_table zm_params_sim;
extern const zm_param_table zm_params_run;

#endif
