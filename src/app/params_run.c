/* params_run.c: [run] (what `zoomorph run` does beyond the always-run stages) and
 * [report] (the HTML page of `zoomorph report`). */
#include "params_groups.h"

#define NOR 1, 0

static const zm_param_def defs[] = {
    {"run.simulate", ZM_PT_BOOL, "false", NOR, NULL, "",
     "run: simulate a survey first ([simulate]; point [survey] root and [labels] votes at its output)"},
    {"run.pretrain", ZM_PT_BOOL, "false", NOR, NULL, "",
     "run: pretrain the encoder on the votes before embedding (otherwise [embed] weights must name a model)"},
    {"run.report", ZM_PT_BOOL, "true", NOR, NULL, "", "run: write the HTML report at the end"},
    {"report.path", ZM_PT_STR, "report.html", NOR, NULL, "",
     "the HTML page; its PNG figures go into the folder <path without .html>_files beside it"},
    {"report.benchmarks", ZM_PT_STR, "", NOR, NULL, "",
     "a benchmark table (text or markdown, e.g. the output of 'make bench') shown in the report; empty: none"},
    {"report.top_n", ZM_PT_INT, "32", 1, 1000, NULL, "", "galaxies in the anomaly gallery of the report"},
    {"report.max_points", ZM_PT_INT, "5000", 100, 1e7, NULL, "",
     "most galaxies drawn in a predicted-vs-volunteer scatter plot (an even subsample beyond)"},
    {"report.min_votes", ZM_PT_INT, "3", 1, 1e6, NULL, "",
     "a galaxy enters a question's scatter plot when the question has at least this many votes"},
};
const zm_param_table zm_params_run = {defs, (int)(sizeof defs / sizeof defs[0])};
