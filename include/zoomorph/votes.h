/*
 * votes.h: Galaxy Zoo vote tables as the public catalogues have them (CSV or FITS),
 * with one count column `<question>_<answer>` per answer of a decision tree, plus ra/dec
 * (or an id column) to match them to store rows.
 *
 * Bad rows do not stop the read: a count that is negative, NaN, not a number or not a
 * whole number rejects its row with a reason naming the line and column. A missing
 * answer column is an error naming it. A child question answered more often than the
 * parent answer that leads to it is accepted (real Galaxy Zoo data has such rows) and
 * counted. An optional column `split` (train / validation / test, or 0 / 1 / 2) is kept:
 * the simulated survey writes one, split by brick.
 */
#ifndef ZOOMORPH_VOTES_H
#define ZOOMORPH_VOTES_H

#include "zoomorph/error.h"
#include "zoomorph/gzschema.h"

typedef struct {
    long n;                  /* rows in the file                               */
    int nanswers;
    double *ra, *dec;        /* NaN when the table has none (id matching)      */
    long long *id;           /* the id column when asked for, else -1          */
    float *counts;           /* n x nanswers                                   */
    unsigned char *ok;       /* 1: row accepted                                */
    long *line;              /* file line of each row (for messages)           */
    char (*why)[256];        /* reason of each rejected row ("" when ok)       */
    long n_rejected;
    long n_child_excess;     /* accepted rows with a child question above its parent answer */
    unsigned char *split;    /* 0 train, 1 validation, 2 test, 3 none (no split column) */
    int has_split;
} zm_votes;

/* id_column NULL: positions (columns ra, dec) are required; otherwise that column. */
int zm_votes_read(const char *path, const zm_gz_schema *s, const char *id_column, zm_votes *v,
                  zm_err *err);
void zm_votes_free(zm_votes *v);

#endif
