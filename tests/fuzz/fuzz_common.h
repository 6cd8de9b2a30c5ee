/*
 * fuzz_common.h: helpers shared by the libFuzzer targets in tests/fuzz (see run.sh).
 *
 * Readers that take a path get the input written to a file on tmpfs (/dev/shm, one per
 * process), so the same code as in a survey run is exercised; the FITS image target uses
 * cfitsio's in-memory files instead. MPI is initialised once for the targets whose code is
 * collective (configs, stores) and runs on MPI_COMM_SELF.
 */
#ifndef ZOOMORPH_FUZZ_COMMON_H
#define ZOOMORPH_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zoomorph/log.h"

/* Writes data to /dev/shm/zmfuzz-<pid><suffix> (or $TMPDIR) and returns the path. */
static inline const char *fuzz_write_file(const uint8_t *data, size_t n, const char *suffix)
{
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(path, sizeof path, "%s/zmfuzz-%d%s", dir, (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    if (n && fwrite(data, 1, n, f) != n) {
        perror(path);
        abort();
    }
    if (fclose(f)) {
        perror(path);
        abort();
    }
    return path;
}

static inline void fuzz_quiet(void)
{
    zm_log_init(0, getenv("ZM_FUZZ_VERBOSE") ? ZM_LOG_DEBUG : ZM_LOG_ERROR - 1);
}

#endif
