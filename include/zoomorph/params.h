/*
 * params.h: typed run parameters from INI files (libinih), strict and collective.
 *
 * Every parameter zoomorph knows is declared once in a table (zm_param_def: name
 * "section.key", type, default, range or choices, units, help); docs/config.md is
 * generated from that table. zm_params_load parses the file on rank 0, applies
 * `--set section.key=value` overrides, checks every value against its declaration
 * (numbers must parse completely: "64x" is rejected), and broadcasts the result, so
 * every rank holds the same values. An unknown key is an error that names it, its file
 * and line, and suggests the nearest known key.
 *
 * zm_params_dump gives the resolved parameters (defaults filled in) as INI text for
 * storing in every output.
 */
#ifndef ZOOMORPH_PARAMS_H
#define ZOOMORPH_PARAMS_H

#include <mpi.h>

#include "zoomorph/error.h"

typedef enum {
    ZM_PT_INT,     /* 64-bit integer, optional [min, max]          */
    ZM_PT_REAL,    /* finite double, optional [min, max]           */
    ZM_PT_BOOL,    /* true/false, yes/no, on/off, 1/0              */
    ZM_PT_STR,     /* any text (paths)                             */
    ZM_PT_CHOICE,  /* one of choices "a|b|c"                       */
    ZM_PT_LIST     /* comma-separated list of words                */
} zm_param_type;

typedef struct {
    const char *name;     /* "section.key"                                      */
    zm_param_type type;
    const char *def;      /* default as text; NULL: none (required where used)  */
    double min, max;      /* inclusive range for INT/REAL; ignored if min > max */
    const char *choices;  /* CHOICE only: "pad|reject"                          */
    const char *units;    /* "arcsec", "" if none                               */
    const char *help;
} zm_param_def;

typedef struct {
    const zm_param_def *defs;
    int n;
} zm_param_table;

typedef struct zm_params zm_params;

/* Collective over comm. ini_path may be NULL (defaults and overrides only).
 * overrides: "section.key=value" strings. Returns 0 or ZM_ECONFIG/ZM_EIO with the
 * same message on every rank; *out is NULL on error. */
int zm_params_load(zm_params **out, const zm_param_table *tables, int ntables,
                   const char *ini_path, char *const *overrides, int noverrides,
                   MPI_Comm comm, zm_err *err);
void zm_params_free(zm_params *p);

/* A copy of p with the values of an INI text laid over it (a zm_params_dump, such as a
 * stage's recorded config): keys the text names, knows and validates replace p's; the
 * rest keep p's values. Not collective; free with zm_params_free. */
zm_params *zm_params_recorded(const zm_params *p, const char *text);
/* Set one value (validated) as if by --set; for tests and stage chaining. */
int zm_params_set(zm_params *p, const char *name, const char *value, zm_err *err);

/* Getters abort on a name missing from the table (a programming error). A parameter
 * with no default and no value: int/real/bool abort, str returns NULL. */
long long zm_param_int(const zm_params *p, const char *name);
double zm_param_real(const zm_params *p, const char *name);
int zm_param_bool(const zm_params *p, const char *name);
const char *zm_param_str(const zm_params *p, const char *name);
/* Splits a LIST (or STR) at commas into trimmed words; returns the count and writes
 * pointers into buf-owned storage; -1 (nothing silently dropped) when the value has more
 * than max words or does not fit in buf (bufsize > strlen(value)). */
int zm_param_list(const zm_params *p, const char *name, char **items, int max, char *buf,
                  int bufsize);
/* The same without limits: *items and *buf are allocated (free both); returns the count. */
int zm_param_list_alloc(const zm_params *p, const char *name, char ***items, char **buf);
/* The error for a list zm_param_list refused: names the key and the limit. */
int zm_param_list_error(const char *name, int max, zm_err *err);
/* 1 if given in the file or by --set, 0 if only a default or nothing. */
int zm_param_is_set(const zm_params *p, const char *name);
/* ZM_ECONFIG naming the key and the stage unless it has a value. */
int zm_param_require(const zm_params *p, const char *name, const char *stage, zm_err *err);

/* Resolved parameters as INI text, each line marked "; default", "; file" or "; set".
 * Caller frees. */
char *zm_params_dump(const zm_params *p);

/* The declaration of name, or NULL. */
const zm_param_def *zm_params_find_def(const zm_params *p, const char *name);
/* Levenshtein distance, exposed for tests. */
int zm_edit_distance(const char *a, const char *b);

#endif
