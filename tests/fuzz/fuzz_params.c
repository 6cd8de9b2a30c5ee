/*
 * fuzz_params: INI config files through the parameter parser (zm_params_load with every
 * parameter group zoomorph knows, as `zoomorph <stage> -c FILE` does), then every
 * declared parameter read back and the resolved parameters dumped.
 */
#include <mpi.h>

#include "../../src/app/params_groups.h"
#include "../../src/app/stage.h"
#include "fuzz_common.h"
#include "zoomorph/params.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    fuzz_quiet();
    return 0;
}

/* Drops the " ; default|file|set" ending of each line (a re-read marks all as file). */
static void strip_sources(char *text)
{
    char *w = text;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t keep = len;
        for (size_t k = len; k >= 3; k--)
            if (line[k - 3] == ' ' && line[k - 2] == ';' && line[k - 1] == ' ') {
                keep = k - 3;
                break;
            }
        memmove(w, line, keep);
        w += keep;
        *w++ = '\n';
        line += len + (nl ? 1 : 0);
    }
    *w = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_write_file(data, n, ".ini");
    zm_param_table tables[64];
    zm_all_param_tables(tables);
    zm_params *p = NULL;
    zm_err err = {0};
    if (zm_params_load(&p, tables, zm_nparam_groups, path, NULL, 0, MPI_COMM_SELF, &err)) {
        if (!err.msg[0] || p) abort(); /* a message, and no parameters */
        return 0;
    }
    for (int g = 0; g < zm_nparam_groups; g++) {
        for (int i = 0; i < tables[g].n; i++) {
            const zm_param_def *d = &tables[g].defs[i];
            if (!d->def && !zm_param_is_set(p, d->name)) continue;
            switch (d->type) {
            case ZM_PT_INT: (void)zm_param_int(p, d->name); break;
            case ZM_PT_REAL: (void)zm_param_real(p, d->name); break;
            case ZM_PT_BOOL: (void)zm_param_bool(p, d->name); break;
            case ZM_PT_LIST:
            case ZM_PT_STR:
            case ZM_PT_CHOICE: {
                const char *v = zm_param_str(p, d->name);
                if (v && d->type != ZM_PT_CHOICE) {
                    int len = (int)strlen(v) + 1;
                    char *buf = malloc((size_t)len);
                    char *items[64];
                    int k = zm_param_list(p, d->name, items, 64, buf, len);
                    if (k < 0 || k > 64) abort();
                    free(buf);
                }
                break;
            }
            }
        }
    }
    /* The resolved parameters stored in every output read back to the same values. */
    char *dump = zm_params_dump(p);
    zm_params_free(p);
    const char *again = fuzz_write_file((const uint8_t *)dump, strlen(dump), ".dump.ini");
    zm_params *q = NULL;
    if (zm_params_load(&q, tables, zm_nparam_groups, again, NULL, 0, MPI_COMM_SELF, &err)) {
        fprintf(stderr, "the dump does not read back: %s\n%s\n", err.msg, dump);
        abort();
    }
    char *dump2 = zm_params_dump(q);
    zm_params_free(q);
    strip_sources(dump);
    strip_sources(dump2);
    if (strcmp(dump, dump2) != 0) {
        fprintf(stderr, "the dump reads back to other values:\n%s\n---\n%s\n", dump, dump2);
        abort();
    }
    free(dump);
    free(dump2);
    return 0;
}
