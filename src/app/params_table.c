/* params_table.c: every parameter group zoomorph knows, in the order of docs/config.md. */
#include "params_groups.h"
#include "stage.h"

const zm_param_table *const zm_param_groups[] = {
    &zm_params_survey,
    &zm_params_labels,
    &zm_params_train,
    &zm_params_embed,
    &zm_params_finetune,
    &zm_params_sim,
    &zm_params_run,
};
const int zm_nparam_groups = (int)(sizeof zm_param_groups / sizeof zm_param_groups[0]);

void zm_all_param_tables(zm_param_table *out)
{
    for (int i = 0; i < zm_nparam_groups; i++) out[i] = *zm_param_groups[i];
}
