/*
 * error.c: bad-data messages (zm_err) and loud aborts for broken invariants.
 * Aborts print the MPI rank (when MPI is up), file, function, line, the failing
 * library's message, then MPI_Abort (or abort() before MPI_Init).
 */
#include "zoomorph/error.h"

#include <fitsio.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zm_err_set(zm_err *e, int code, const char *fmt, ...)
{
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int zm_err_prefix(zm_err *e, const char *fmt, ...)
{
    if (!e) return 0;
    char pre[ZM_ERR_MSG_LEN], old[ZM_ERR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
    return e->code;
}

void zm_err_clear(zm_err *e)
{
    if (!e) return;
    e->code = 0;
    e->msg[0] = '\0';
}

const char *zm_status_name(int code)
{
    switch (code) {
    case ZM_OK: return "ok";
    case ZM_EIO: return "I/O error";
    case ZM_EFORMAT: return "bad format";
    case ZM_EMISSING: return "missing";
    case ZM_EVALUE: return "bad value";
    case ZM_ECONFIG: return "config error";
    case ZM_ESTATE: return "wrong store state";
    case ZM_EREJECT: return "rejected";
    case ZM_EUSAGE: return "usage error";
    default: return "unknown error";
    }
}

static int current_rank(void)
{
    int up = 0, fin = 0, rank = -1;
    MPI_Initialized(&up);
    MPI_Finalized(&fin);
    if (up && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

static noreturn void die(void)
{
    int up = 0, fin = 0;
    fflush(stdout);
    fflush(stderr);
#ifndef ZM_ABORT_RAISES
    MPI_Initialized(&up);
    MPI_Finalized(&fin);
    if (up && !fin) MPI_Abort(MPI_COMM_WORLD, 70);
#else
    (void)up;
    (void)fin;
#endif
    abort(); /* fuzz builds (ZM_ABORT_RAISES): the fuzzer sees the abort and keeps the input */
}

noreturn void zm_abort_at(const char *file, int line, const char *func, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "zoomorph: FATAL [rank %d] %s:%d in %s(): %s\n", current_rank(), file,
            line, func, msg);
    die();
}

noreturn void zm_abort_mpi(const char *file, int line, const char *func, const char *what, int rc)
{
    char s[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "code %d", rc);
    zm_abort_at(file, line, func, "%s failed: %s", what, s);
}

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
    char *buf = data;
    size_t used = strlen(buf);
    if (used + 8 >= 1024) return 0;
    snprintf(buf + used, 1024 - used, "%s%s (%s)", n ? "; " : "", err->desc ? err->desc : "",
             err->func_name ? err->func_name : "");
    return 0;
}

void zm_h5_error_string(char *buf, size_t n)
{
    char tmp[1024] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, tmp);
    if (!tmp[0]) snprintf(tmp, sizeof tmp, "no HDF5 error message");
    snprintf(buf, n, "%s", tmp);
}

noreturn void zm_abort_h5(const char *file, int line, const char *func, const char *what)
{
    char s[1024];
    zm_h5_error_string(s, sizeof s);
    zm_abort_at(file, line, func, "%s failed: HDF5: %s", what, s);
}

void zm_fits_error_string(int status, char *buf, size_t n)
{
    char text[FLEN_STATUS] = "", stack[FLEN_ERRMSG] = "";
    fits_get_errstatus(status, text);
    size_t used = (size_t)snprintf(buf, n, "cfitsio status %d (%s)", status, text);
    /* cfitsio keeps a stack of detail messages; take the first two */
    for (int i = 0; i < 2 && fits_read_errmsg(stack) && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "; %s", stack);
    fits_clear_errmsg();
}

void *zm_malloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p) zm_abort_at(file, line, "malloc", "out of memory allocating %zu bytes", n);
    return p;
}

void *zm_calloc_at(size_t count, size_t size, const char *file, int line)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        zm_abort_at(file, line, "calloc", "out of memory allocating %zu x %zu bytes", count,
                    size);
    return p;
}

void *zm_realloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) zm_abort_at(file, line, "realloc", "out of memory reallocating to %zu bytes", n);
    return q;
}

char *zm_strdup_at(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = zm_malloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}
