/*
 * error.h: the two kinds of error in zoomorph.
 *
 * 1. Broken invariants (a failed MPI/HDF5 call, out of memory, a programming error)
 *    abort the whole job loudly: ZM_ABORT prints rank, file, function, line and the
 *    library's own message, then calls MPI_Abort. ZM_CHECK_MPI, ZM_CHECK_H5 and the
 *    zm_malloc family wrap the calls so none goes unchecked.
 * 2. Bad data (a truncated FITS file, a missing column, a misspelt config key) is a
 *    returned negative zm_status plus a message in a zm_err naming the file, HDU,
 *    column or key and what was expected. The caller skips and records the item.
 *
 * This module knows nothing of stages or file formats.
 */
#ifndef ZOOMORPH_ERROR_H
#define ZOOMORPH_ERROR_H

#include <stddef.h>
#include <stdnoreturn.h>

typedef enum {
    ZM_OK = 0,
    ZM_EIO = -1,       /* a file could not be opened, read or written          */
    ZM_EFORMAT = -2,   /* a file is not what it should be (truncated, NAXIS...) */
    ZM_EMISSING = -3,  /* something required is absent (column, band, key)     */
    ZM_EVALUE = -4,    /* a value is out of range or not a number              */
    ZM_ECONFIG = -5,   /* a config problem: unknown key, bad value              */
    ZM_ESTATE = -6,    /* a store is not in the state a stage needs              */
    ZM_EREJECT = -7,   /* an item fails a quality cut (e.g. too many empty px)   */
    ZM_EUSAGE = -8     /* command-line misuse                                    */
} zm_status;

#define ZM_ERR_MSG_LEN 1024

/* The message of a bad-data error. code is 0 or a zm_status. */
typedef struct {
    int code;
    char msg[ZM_ERR_MSG_LEN];
} zm_err;

/* Record an error; returns code so that `return zm_err_set(...)` reads well. */
int zm_err_set(zm_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the current message with more context ("brick 1238p245: ..."). */
int zm_err_prefix(zm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zm_err_clear(zm_err *e);
const char *zm_status_name(int code);

noreturn void zm_abort_at(const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define ZM_ABORT(...) zm_abort_at(__FILE__, __LINE__, __func__, __VA_ARGS__)

/* Abort unless an MPI call returned MPI_SUCCESS (MPI_ERRORS_RETURN is set at start). */
#define ZM_CHECK_MPI(call)                                                         \
    do {                                                                           \
        int zm_rc_ = (call);                                                       \
        if (zm_rc_ != 0) zm_abort_mpi(__FILE__, __LINE__, __func__, #call, zm_rc_); \
    } while (0)
noreturn void zm_abort_mpi(const char *file, int line, const char *func, const char *what, int rc);

/* Abort unless an HDF5 call returned >= 0; the HDF5 error stack is printed. */
#define ZM_CHECK_H5(call)                                                          \
    do {                                                                           \
        if ((long long)(call) < 0) zm_abort_h5(__FILE__, __LINE__, __func__, #call); \
    } while (0)
noreturn void zm_abort_h5(const char *file, int line, const char *func, const char *what);
/* The innermost HDF5 error-stack message into buf (for bad-data errors). */
void zm_h5_error_string(char *buf, size_t n);

/* The cfitsio message for status (and its error-message stack) into buf. */
void zm_fits_error_string(int status, char *buf, size_t n);

/* Checked allocation: abort with file and line on failure. zero-size asks give a
 * valid pointer. */
void *zm_malloc_at(size_t n, const char *file, int line);
void *zm_calloc_at(size_t count, size_t size, const char *file, int line);
void *zm_realloc_at(void *p, size_t n, const char *file, int line);
char *zm_strdup_at(const char *s, const char *file, int line);
#define zm_malloc(n) zm_malloc_at((n), __FILE__, __LINE__)
#define zm_calloc(c, s) zm_calloc_at((c), (s), __FILE__, __LINE__)
#define zm_realloc(p, n) zm_realloc_at((p), (n), __FILE__, __LINE__)
#define zm_strdup(s) zm_strdup_at((s), __FILE__, __LINE__)

#endif
