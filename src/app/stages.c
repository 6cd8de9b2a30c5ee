/* stages.c: the stages zoomorph runs, in pipeline order. */
#include "stage.h"

extern const zm_stage zm_stage_simulate;
extern const zm_stage zm_stage_plan, zm_stage_cutout, zm_stage_params, zm_stage_gallery,
    zm_stage_votes, zm_stage_pretrain, zm_stage_embed,
    zm_stage_pca, zm_stage_catalogue, zm_stage_similar,
    zm_stage_anomaly, zm_stage_index, zm_stage_finetune, zm_stage_run, zm_stage_report;

const zm_stage *const zm_stages[] = {
    &zm_stage_run,
    &zm_stage_simulate,
    &zm_stage_plan,
    &zm_stage_cutout,
    &zm_stage_votes,
    &zm_stage_pretrain,
    &zm_stage_embed,
    &zm_stage_pca,
    &zm_stage_index,
    &zm_stage_similar,
    &zm_stage_anomaly,
    &zm_stage_finetune,
    &zm_stage_catalogue,
    &zm_stage_report,
    &zm_stage_gallery,
    &zm_stage_params,
};
const int zm_nstages = (int)(sizeof zm_stages / sizeof zm_stages[0]);
