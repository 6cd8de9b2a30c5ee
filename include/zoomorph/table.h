/*
 * table.h: column access to a catalogue given as a FITS binary table (the first table
 * HDU, or a named one) or as CSV with a header line, the two forms astronomers pass
 * around (Tractor catalogues, cutout lists, Galaxy Zoo vote tables, label files).
 * Column names are matched case-insensitively.
 *
 * Numeric reads report per-row problems instead of failing: bad[i] is set for a cell
 * that is empty or not a number, so the caller can reject that row with its line
 * number (zm_table_line) and go on.
 */
#ifndef ZOOMORPH_TABLE_H
#define ZOOMORPH_TABLE_H

#include "zoomorph/error.h"

typedef struct zm_table zm_table;

/* CSV if the name ends in .csv or .txt (optionally .gz is not supported), FITS otherwise. */
int zm_table_open(const char *path, zm_table **out, zm_err *err);
void zm_table_close(zm_table *t);
long zm_table_nrows(const zm_table *t);
const char *zm_table_path(const zm_table *t);
/* Column index or -1. */
int zm_table_col(const zm_table *t, const char *name);
/* Index of the first of several alternative names present, or -1. */
int zm_table_col_any(const zm_table *t, const char *const *names, int n);
/* The line of the file holding row i (CSV: 1-based file line; FITS: row number). */
long zm_table_line(const zm_table *t, long row);

/* Numeric column as double; bad may be NULL (then any bad cell is an error). NaN cells
 * in FITS are returned as NaN and not marked bad. */
int zm_table_read_double(zm_table *t, int col, double *out, unsigned char *bad, zm_err *err);
/* Integer column (CSV cells must be whole numbers). */
int zm_table_read_ll(zm_table *t, int col, long long *out, unsigned char *bad, zm_err *err);
/* String column, each value NUL-terminated and trimmed into width bytes per row. */
int zm_table_read_str(zm_table *t, int col, char *out, int width, zm_err *err);
/* Logical column (FITS L, or CSV true/false/1/0/T/F). */
int zm_table_read_bool(zm_table *t, int col, unsigned char *out, unsigned char *bad, zm_err *err);

#endif
