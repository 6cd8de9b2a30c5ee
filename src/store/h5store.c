/*
 * h5store.c: see h5store.h. Every HDF5 call is checked: failures that mean a broken
 * invariant abort (ZM_CHECK_H5); failures a user can cause (a path that cannot be
 * written, a disk that fills up, a file that is not a store) return a zm_status with
 * the HDF5 message.
 */
#include "zoomorph/h5store.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "zoomorph/cpuinfo.h"
#include "zoomorph/log.h"
#include "zoomorph/version.h"

struct zm_store {
    hid_t file;
    zm_ctx ctx;
    char path[4096];
    size_t write_limit;
    int writable;
    int locked;  /* rank 0 holds <path>.lock */
};

/* ---- types ---------------------------------------------------------------- */

size_t zm_dtype_size(zm_dtype t, int strsize)
{
    switch (t) {
    case ZM_DT_U8: return 1;
    case ZM_DT_F16: return 2;
    case ZM_DT_U32:
    case ZM_DT_I32:
    case ZM_DT_F32: return 4;
    case ZM_DT_I64:
    case ZM_DT_F64: return 8;
    case ZM_DT_STR: return (size_t)strsize;
    }
    ZM_ABORT("unknown zm_dtype %d", (int)t);
}

size_t zm_field_row_bytes(const zm_field *f)
{
    size_t n = zm_dtype_size(f->type, f->strsize);
    for (int i = 0; i < f->ndim; i++) n *= (size_t)f->dims[i];
    return n;
}

/* A new HDF5 type id for t (caller closes). F16 is a little-endian IEEE half that h5py
 * reads as numpy float16. */
static hid_t h5type(zm_dtype t, int strsize)
{
    hid_t id = -1;
    switch (t) {
    case ZM_DT_U8: id = H5Tcopy(H5T_STD_U8LE); break;
    case ZM_DT_U32: id = H5Tcopy(H5T_STD_U32LE); break;
    case ZM_DT_I32: id = H5Tcopy(H5T_STD_I32LE); break;
    case ZM_DT_I64: id = H5Tcopy(H5T_STD_I64LE); break;
    case ZM_DT_F32: id = H5Tcopy(H5T_IEEE_F32LE); break;
    case ZM_DT_F64: id = H5Tcopy(H5T_IEEE_F64LE); break;
    case ZM_DT_F16:
        id = H5Tcopy(H5T_IEEE_F32LE);
        ZM_CHECK_H5(id);
        ZM_CHECK_H5(H5Tset_fields(id, 15, 10, 5, 0, 10));
        ZM_CHECK_H5(H5Tset_size(id, 2));
        ZM_CHECK_H5(H5Tset_ebias(id, 15));
        ZM_CHECK_H5(H5Tset_precision(id, 16));
        return id;
    case ZM_DT_STR:
        id = H5Tcopy(H5T_C_S1);
        ZM_CHECK_H5(id);
        ZM_CHECK_H5(H5Tset_size(id, (size_t)strsize));
        ZM_CHECK_H5(H5Tset_strpad(id, H5T_STR_NULLPAD));
        return id;
    }
    ZM_CHECK_H5(id);
    return id;
}

/* Memory types are native-endian; on little-endian hosts identical to h5type. */
static hid_t memtype(zm_dtype t, int strsize)
{
    switch (t) {
    case ZM_DT_U8: return H5Tcopy(H5T_NATIVE_UINT8);
    case ZM_DT_U32: return H5Tcopy(H5T_NATIVE_UINT32);
    case ZM_DT_I32: return H5Tcopy(H5T_NATIVE_INT32);
    case ZM_DT_I64: return H5Tcopy(H5T_NATIVE_INT64);
    case ZM_DT_F32: return H5Tcopy(H5T_NATIVE_FLOAT);
    case ZM_DT_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    default: return h5type(t, strsize);
    }
}

/* ---- the writer's lock ---------------------------------------------------------
 * A run that writes a store holds <store>.lock (created exclusively by rank 0, holding
 * the host, pid and Slurm job id); a second run refuses with a message naming the holder.
 * A lock left by a process that no longer runs on this host, or by an earlier run of the
 * same Slurm job (a requeued job), is taken over. */

static int take_lock(const char *path, zm_err *err)
{
    char lock[4200], host[256] = "";
    snprintf(lock, sizeof lock, "%s.lock", path);
    gethostname(host, sizeof host - 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            char buf[512];
            const char *job = getenv("SLURM_JOB_ID");
            int n = snprintf(buf, sizeof buf, "%s %ld %s\n", host, (long)getpid(), job && job[0] ? job : "-");
            int ok = write(fd, buf, (size_t)n) == n;
            close(fd);
            if (!ok) {
                unlink(lock);
                return zm_err_set(err, ZM_EIO, "store %s: cannot write its lock %s", path, lock);
            }
            return 0;
        }
        if (errno != EEXIST)
            return zm_err_set(err, ZM_EIO, "store %s: cannot create its lock %s: %s", path, lock, strerror(errno));
        char who[256] = "", jobid[64] = "-";
        long pid = 0;
        FILE *f = fopen(lock, "r");
        if (f) {
            if (fscanf(f, "%255s %ld %63s", who, &pid, jobid) < 2) pid = 0;
            fclose(f);
        }
        const char *job = getenv("SLURM_JOB_ID");
        int same_job = job && job[0] && !strcmp(job, jobid);
        /* stale: the same host and the process is gone, or an earlier run of this job */
        int gone = pid > 0 && !strcmp(who, host) && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (attempt == 0 && (gone || same_job)) {
            unlink(lock);
            continue;
        }
        return zm_err_set(err, ZM_ESTATE,
                          "store %s is being written by another run (%s pid %ld, lock %s); wait for it to "
                          "finish, or remove the lock if no zoomorph run uses this store",
                          path, who[0] ? who : "?", pid, lock);
    }
    return zm_err_set(err, ZM_ESTATE, "store %s: cannot take its lock", path);
}

static void drop_lock(const char *path)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(lock);
}

/* ---- open / create ------------------------------------------------------------ */

static hid_t make_fapl(const zm_ctx *ctx)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    ZM_CHECK_H5(fapl);
    ZM_CHECK_H5(H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL));
    ZM_CHECK_H5(H5Pset_all_coll_metadata_ops(fapl, 1));
    ZM_CHECK_H5(H5Pset_coll_metadata_write(fapl, 1));
    ZM_CHECK_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110));
    return fapl;
}

static void iso_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Group creation with parents, no timestamps (so stores written by 1, 2 or 3 ranks
 * differ only in /meta). Collective. */
static void ensure_group(hid_t file, const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            htri_t ex = H5Lexists(file, buf, H5P_DEFAULT);
            ZM_CHECK_H5(ex);
            if (!ex) {
                hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
                ZM_CHECK_H5(gcpl);
                ZM_CHECK_H5(H5Pset_obj_track_times(gcpl, 0));
                hid_t g = H5Gcreate2(file, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
                ZM_CHECK_H5(g);
                ZM_CHECK_H5(H5Gclose(g));
                ZM_CHECK_H5(H5Pclose(gcpl));
            }
            *p = c;
            if (c == '\0') break;
        }
    }
}

static void set_attr_on(hid_t obj, const char *name, const char *value)
{
    htri_t ex = H5Aexists(obj, name);
    ZM_CHECK_H5(ex);
    if (ex) ZM_CHECK_H5(H5Adelete(obj, name));
    hid_t t = H5Tcopy(H5T_C_S1);
    ZM_CHECK_H5(t);
    ZM_CHECK_H5(H5Tset_size(t, strlen(value) + 1));
    ZM_CHECK_H5(H5Tset_strpad(t, H5T_STR_NULLTERM));
    hid_t sp = H5Screate(H5S_SCALAR);
    ZM_CHECK_H5(sp);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ZM_CHECK_H5(a);
    ZM_CHECK_H5(H5Awrite(a, t, value));
    ZM_CHECK_H5(H5Aclose(a));
    ZM_CHECK_H5(H5Sclose(sp));
    ZM_CHECK_H5(H5Tclose(t));
}

static void set_int_attr_on(hid_t obj, const char *name, long long v)
{
    htri_t ex = H5Aexists(obj, name);
    ZM_CHECK_H5(ex);
    if (ex) ZM_CHECK_H5(H5Adelete(obj, name));
    hid_t sp = H5Screate(H5S_SCALAR);
    ZM_CHECK_H5(sp);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    ZM_CHECK_H5(a);
    ZM_CHECK_H5(H5Awrite(a, H5T_NATIVE_LLONG, &v));
    ZM_CHECK_H5(H5Aclose(a));
    ZM_CHECK_H5(H5Sclose(sp));
}

/* Why a path cannot be created, checked on rank 0 before HDF5 tries. */
static int check_creatable(const char *path, int overwrite, zm_err *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    struct stat st;
    if (stat(d, &st) != 0)
        return zm_err_set(err, ZM_EIO, "store %s: cannot create it: directory %s does not exist",
                          path, d);
    if (!S_ISDIR(st.st_mode))
        return zm_err_set(err, ZM_EIO, "store %s: cannot create it: %s is not a directory", path,
                          d);
    if (access(d, W_OK) != 0)
        return zm_err_set(err, ZM_EIO, "store %s: cannot create it: directory %s is not writable",
                          path, d);
    if (stat(path, &st) == 0) {
        if (!overwrite)
            return zm_err_set(err, ZM_EIO,
                              "store %s already exists; remove it, choose another [store] path, "
                              "or set [store] overwrite = true",
                              path);
        if (access(path, W_OK) != 0)
            return zm_err_set(err, ZM_EIO, "store %s exists and is not writable", path);
    }
    return 0;
}

static zm_store *store_new(const char *path, const zm_ctx *ctx)
{
    zm_store *s = zm_calloc(1, sizeof *s);
    s->ctx = *ctx;
    s->write_limit = (size_t)256 << 20;
    snprintf(s->path, sizeof s->path, "%s", path);
    return s;
}

/* Rank 0 decides; every rank gets the same status and message. */
static int bcast_status(const zm_ctx *ctx, int status, zm_err *err)
{
    ZM_CHECK_MPI(MPI_Bcast(&status, 1, MPI_INT, 0, ctx->comm));
    if (status) {
        char msg[ZM_ERR_MSG_LEN];
        if (ctx->rank == 0) memcpy(msg, err->msg, sizeof msg);
        ZM_CHECK_MPI(MPI_Bcast(msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, ctx->comm));
        zm_err_set(err, status, "%s", msg);
    }
    return status;
}

int zm_store_create(zm_store **out, const char *path, const zm_ctx *ctx, int overwrite,
                    zm_err *err)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int st = ctx->rank == 0 ? check_creatable(path, overwrite, err) : 0;
    if (!st && ctx->rank == 0) st = take_lock(path, err);
    if (bcast_status(ctx, st, err)) return err->code;
    hid_t fapl = make_fapl(ctx);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    ZM_CHECK_H5(fcpl);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    ZM_CHECK_H5(H5Pclose(fapl));
    ZM_CHECK_H5(H5Pclose(fcpl));
    int failed = zm_any(ctx, f < 0);
    if (failed) {
        char h5msg[512];
        zm_h5_error_string(h5msg, sizeof h5msg);
        if (f >= 0) H5Fclose(f);
        if (ctx->rank == 0) drop_lock(path);
        return zm_err_set(err, ZM_EIO, "store %s: cannot create it: %s", path, h5msg);
    }
    zm_store *s = store_new(path, ctx);
    s->file = f;
    s->writable = 1;
    s->locked = ctx->rank == 0;
    ensure_group(f, "/meta/stages");
    hid_t meta = H5Gopen2(f, "/meta", H5P_DEFAULT);
    ZM_CHECK_H5(meta);
    char now[32];
    iso_now(now, sizeof now);
    /* every rank must write the same attribute value: take rank 0's clock */
    ZM_CHECK_MPI(MPI_Bcast(now, sizeof now, MPI_CHAR, 0, ctx->comm));
    set_int_attr_on(meta, "format_version", ZM_STORE_FORMAT_VERSION);
    set_attr_on(meta, "creator", "zoomorph");
    set_attr_on(meta, "zoomorph_version", ZM_VERSION);
    set_attr_on(meta, "git_revision", ZM_GIT_REVISION);
    set_attr_on(meta, "created", now);
    ZM_CHECK_H5(H5Gclose(meta));
    *out = s;
    return 0;
}

int zm_store_open(zm_store **out, const char *path, int writable, const zm_ctx *ctx,
                  zm_err *err)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int st = 0;
    if (ctx->rank == 0) {
        struct stat sb;
        if (stat(path, &sb) != 0)
            st = zm_err_set(err, ZM_EIO, "store %s does not exist (run 'zoomorph plan' first)",
                            path);
        else if (writable)
            st = take_lock(path, err);
        if (!st && H5Fis_hdf5(path) <= 0) {
            st = zm_err_set(err, ZM_EFORMAT, "store %s is not an HDF5 file", path);
            if (writable) drop_lock(path);
        }
    }
    if (bcast_status(ctx, st, err)) return err->code;
    hid_t fapl = make_fapl(ctx);
    hid_t f = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    ZM_CHECK_H5(H5Pclose(fapl));
    if (zm_any(ctx, f < 0)) {
        char h5msg[512];
        zm_h5_error_string(h5msg, sizeof h5msg);
        if (f >= 0) H5Fclose(f);
        if (writable && ctx->rank == 0) drop_lock(path);
        return zm_err_set(err, ZM_EIO, "store %s: cannot open it%s: %s", path,
                          writable ? " for writing" : "", h5msg);
    }
    zm_store *s = store_new(path, ctx);
    s->file = f;
    s->writable = writable;
    s->locked = writable && ctx->rank == 0;
    long long version = -1;
    int unreadable = 0;
    htri_t has_meta = H5Lexists(f, "/meta", H5P_DEFAULT);
    if (has_meta > 0 && H5Aexists_by_name(f, "/meta", "format_version", H5P_DEFAULT) > 0) {
        /* a damaged store is bad data, not a broken invariant: report, don't abort */
        hid_t a = H5Aopen_by_name(f, "/meta", "format_version", H5P_DEFAULT, H5P_DEFAULT);
        hid_t sp = a < 0 ? -1 : H5Aget_space(a);
        hid_t ft = a < 0 ? -1 : H5Aget_type(a);
        if (a < 0 || sp < 0 || ft < 0 || H5Sget_simple_extent_npoints(sp) != 1 ||
            H5Tget_class(ft) != H5T_INTEGER || H5Aread(a, H5T_NATIVE_LLONG, &version) < 0)
            unreadable = 1;
        if (ft >= 0) H5Tclose(ft);
        if (sp >= 0) H5Sclose(sp);
        if (a >= 0) H5Aclose(a);
    }
    if (unreadable) {
        char h5msg[512];
        zm_h5_error_string(h5msg, sizeof h5msg);
        zm_err_set(err, ZM_EFORMAT,
                   "store %s: /meta format_version is not a readable integer (damaged "
                   "store?)%s%s", path, h5msg[0] ? ": " : "", h5msg);
        zm_store_close(s);
        return err->code;
    }
    if (version != ZM_STORE_FORMAT_VERSION) {
        if (version < 0)
            zm_err_set(err, ZM_EFORMAT,
                       "%s is an HDF5 file but not a zoomorph store (no /meta format_version)",
                       path);
        else
            zm_err_set(err, ZM_EFORMAT,
                       "store %s has format version %lld; this zoomorph (%s) reads version %d",
                       path, version, ZM_VERSION, ZM_STORE_FORMAT_VERSION);
        zm_store_close(s);
        return err->code;
    }
    *out = s;
    return 0;
}

void zm_store_close(zm_store *s)
{
    if (!s) return;
    if (s->file >= 0) ZM_CHECK_H5(H5Fclose(s->file));
    if (s->locked) drop_lock(s->path);
    free(s);
}

const char *zm_store_path(const zm_store *s) { return s->path; }
void zm_store_set_write_limit(zm_store *s, size_t bytes) { s->write_limit = bytes ? bytes : 1; }

int zm_store_exists(zm_store *s, const char *path)
{
    /* H5Lexists fails if an intermediate group is missing: walk the path */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            htri_t ex = H5Lexists(s->file, buf, H5P_DEFAULT);
            if (ex < 0) {
                /* damaged metadata reads as absent, with the reason in the log */
                char m[512];
                zm_h5_error_string(m, sizeof m);
                zm_log(ZM_LOG_WARN, "store %s: cannot look up %s (damaged store?): %s",
                       s->path, buf, m);
                return 0;
            }
            if (!ex) return 0;
            *p = c;
            if (c == '\0') return 1;
        }
    }
}

/* ---- datasets ----------------------------------------------------------------- */

static void parent_group(zm_store *s, const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash && slash != buf) {
        *slash = '\0';
        ensure_group(s->file, buf);
    }
}

/* Space is allocated when a dataset is created: check first that the file may grow by
 * bytes (file-size limit, free space on its file system), so that a full disk is a clear
 * error before anything is written, and the store stays readable. Rank 0 decides. */
static int check_room(zm_store *s, unsigned long long bytes, const char *what, zm_err *err)
{
    int st = 0;
    if (s->ctx.rank == 0) {
        struct stat sb;
        unsigned long long have = stat(s->path, &sb) == 0 ? (unsigned long long)sb.st_size : 0;
        unsigned long long margin = bytes / 20 > (4ull << 20) ? bytes / 20 : (4ull << 20); /* metadata, other fields */
        unsigned long long need = have + bytes + margin;
        struct rlimit rl;
        struct statvfs vs;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", s->path);
        if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && need > (unsigned long long)rl.rlim_cur)
            st = zm_err_set(err, ZM_EIO,
                            "store %s: %s needs %.1f MB more, but the file-size limit (ulimit -f) is %.1f MB; "
                            "nothing was written", s->path, what, bytes / 1e6, (double)rl.rlim_cur / 1e6);
        else if (statvfs(dirname(dir), &vs) == 0 && (unsigned long long)vs.f_bavail * vs.f_frsize < bytes + (1ull << 20))
            st = zm_err_set(err, ZM_EIO,
                            "store %s: %s needs %.1f MB but its file system has %.1f MB free; nothing was written",
                            s->path, what, bytes / 1e6, (double)vs.f_bavail * vs.f_frsize / 1e6);
    }
    ZM_CHECK_MPI(MPI_Bcast(&st, 1, MPI_INT, 0, s->ctx.comm));
    if (st) ZM_CHECK_MPI(MPI_Bcast(err->msg, ZM_ERR_MSG_LEN, MPI_CHAR, 0, s->ctx.comm));
    err->code = st ? st : err->code;
    return st;
}

int zm_store_check_room(zm_store *s, unsigned long long bytes, const char *what, zm_err *err)
{
    return check_room(s, bytes, what, err);
}

int zm_store_define(zm_store *s, const zm_field *f, unsigned long long nrows, int replace,
                    zm_err *err)
{
    if (!s->writable) ZM_ABORT("store %s is open read-only", s->path);
    if (zm_store_exists(s, f->path)) {
        if (!replace) {
            unsigned long long dims[4];
            int nd = zm_store_shape(s, f->path, dims, err);
            int same = nd == f->ndim + 1 && dims[0] == nrows;
            for (int i = 0; same && i < f->ndim; i++) same = dims[i + 1] == f->dims[i];
            if (same) return 0;
            return zm_err_set(err, ZM_ESTATE,
                              "store %s: dataset %s exists with another shape; rerun the stage "
                              "with overwrite",
                              s->path, f->path);
        }
        ZM_CHECK_H5(H5Ldelete(s->file, f->path, H5P_DEFAULT));
    }
    if (check_room(s, nrows * (unsigned long long)zm_field_row_bytes(f), f->path, err)) return err->code;
    parent_group(s, f->path);
    hsize_t dims[4], maxd[4], chunk[4];
    dims[0] = nrows;
    maxd[0] = H5S_UNLIMITED;
    size_t row = zm_field_row_bytes(f);
    for (int i = 0; i < f->ndim; i++) dims[i + 1] = maxd[i + 1] = chunk[i + 1] = f->dims[i];
    /* about 1 MiB chunks, whole rows, so row reads touch one chunk */
    size_t rows_per_chunk = ((size_t)1 << 20) / (row ? row : 1);
    if (rows_per_chunk < 1) rows_per_chunk = 1;
    if (rows_per_chunk > 65536) rows_per_chunk = 65536;
    if (nrows && rows_per_chunk > nrows) rows_per_chunk = nrows;
    chunk[0] = rows_per_chunk;
    hid_t sp = H5Screate_simple(f->ndim + 1, dims, maxd);
    ZM_CHECK_H5(sp);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ZM_CHECK_H5(dcpl);
    ZM_CHECK_H5(H5Pset_chunk(dcpl, f->ndim + 1, chunk));
    ZM_CHECK_H5(H5Pset_obj_track_times(dcpl, 0));
    ZM_CHECK_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
    hid_t t = h5type(f->type, f->strsize);
    hid_t d = H5Dcreate2(s->file, f->path, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (zm_any(&s->ctx, d < 0)) {
        char m[512];
        zm_h5_error_string(m, sizeof m);
        zm_err_set(err, ZM_EIO, "store %s: cannot create dataset %s: %s", s->path, f->path, m);
        if (d >= 0) H5Dclose(d);
        H5Tclose(t);
        H5Pclose(dcpl);
        H5Sclose(sp);
        return err->code;
    }
    set_attr_on(d, "units", f->units ? f->units : "");
    set_attr_on(d, "description", f->description ? f->description : "");
    ZM_CHECK_H5(H5Dclose(d));
    ZM_CHECK_H5(H5Tclose(t));
    ZM_CHECK_H5(H5Pclose(dcpl));
    ZM_CHECK_H5(H5Sclose(sp));
    return 0;
}

/* Selects, in file space fs, rows [ranges] with all of each row's extra dimensions. */
static void select_rows(hid_t fs, int ndim_total, const hsize_t *dims, const zm_range *r, int nr)
{
    ZM_CHECK_H5(H5Sselect_none(fs));
    hsize_t start[4] = {0}, count[4];
    for (int i = 1; i < ndim_total; i++) count[i] = dims[i];
    for (int k = 0; k < nr; k++) {
        if (!r[k].count) continue;
        start[0] = r[k].start;
        count[0] = r[k].count;
        ZM_CHECK_H5(H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL));
    }
}

/* One piece of a split write: ranges clipped to at most maxrows rows. Returns the
 * number of ranges in out. pos and off track progress through the caller's ranges. */
static int next_piece(const zm_range *r, int nr, int *pos, unsigned long long *off,
                      unsigned long long maxrows, zm_range *out, unsigned long long *rows)
{
    int n = 0;
    *rows = 0;
    while (*pos < nr && *rows < maxrows) {
        unsigned long long left = r[*pos].count - *off;
        if (left == 0) {
            (*pos)++;
            *off = 0;
            continue;
        }
        unsigned long long take = left < maxrows - *rows ? left : maxrows - *rows;
        out[n].start = r[*pos].start + *off;
        out[n].count = take;
        n++;
        *rows += take;
        *off += take;
        if (*off == r[*pos].count) {
            (*pos)++;
            *off = 0;
        }
    }
    return n;
}

int zm_store_write(zm_store *s, const zm_field *f, const zm_range *ranges, int nranges,
                   const void *buf, zm_err *err)
{
    size_t row = zm_field_row_bytes(f);
    unsigned long long maxrows = s->write_limit / (row ? row : 1);
    if (maxrows < 1) maxrows = 1;
    unsigned long long total = 0;
    for (int i = 0; i < nranges; i++) total += ranges[i].count;
    long long pieces = (long long)((total + maxrows - 1) / maxrows);
    long long allpieces = zm_allreduce_max_ll(&s->ctx, pieces);

    hid_t d = H5Dopen2(s->file, f->path, H5P_DEFAULT);
    ZM_CHECK_H5(d);
    hid_t fs = H5Dget_space(d);
    ZM_CHECK_H5(fs);
    hsize_t dims[4];
    int nd = H5Sget_simple_extent_dims(fs, dims, NULL);
    ZM_CHECK_H5(nd);
    if (nd != f->ndim + 1) ZM_ABORT("dataset %s has %d dims, field says %d", f->path, nd, f->ndim + 1);
    for (int i = 0; i < nranges; i++)
        if (ranges[i].start + ranges[i].count > dims[0])
            ZM_ABORT("write to %s rows [%llu, %llu) beyond its %llu rows", f->path,
                     ranges[i].start, ranges[i].start + ranges[i].count,
                     (unsigned long long)dims[0]);
    hid_t mt = memtype(f->type, f->strsize);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    ZM_CHECK_H5(dxpl);
    ZM_CHECK_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    zm_range *piece = zm_malloc(((size_t)nranges + 1) * sizeof *piece);
    int pos = 0, failed = 0;
    unsigned long long off = 0;
    const char *src = buf;
    for (long long p = 0; p < allpieces; p++) {
        unsigned long long rows = 0;
        int np = next_piece(ranges, nranges, &pos, &off, maxrows, piece, &rows);
        select_rows(fs, nd, dims, piece, np);
        hsize_t mdims[4];
        mdims[0] = rows ? rows : 1;
        for (int i = 1; i < nd; i++) mdims[i] = dims[i];
        hid_t ms = H5Screate_simple(nd, mdims, NULL);
        ZM_CHECK_H5(ms);
        if (!rows) ZM_CHECK_H5(H5Sselect_none(ms));
        herr_t rc = H5Dwrite(d, mt, ms, fs, dxpl, src);
        if (rc < 0 && !failed) {
            char m[512];
            zm_h5_error_string(m, sizeof m);
            zm_err_set(err, ZM_EIO, "store %s: writing %s failed: %s", s->path, f->path, m);
            failed = 1;
        }
        ZM_CHECK_H5(H5Sclose(ms));
        src += rows * row;
    }
    free(piece);
    ZM_CHECK_H5(H5Pclose(dxpl));
    ZM_CHECK_H5(H5Tclose(mt));
    ZM_CHECK_H5(H5Sclose(fs));
    herr_t rc = H5Dclose(d);
    if (rc < 0 && !failed) {
        zm_err_set(err, ZM_EIO, "store %s: closing %s failed (disk full?)", s->path, f->path);
        failed = 1;
    }
    if (zm_any(&s->ctx, failed)) {
        if (!failed)
            zm_err_set(err, ZM_EIO, "store %s: writing %s failed on another rank", s->path,
                       f->path);
        return ZM_EIO;
    }
    return 0;
}

int zm_store_append(zm_store *s, const zm_field *f, unsigned long long nlocal, const void *buf,
                    zm_err *err)
{
    if (!zm_store_exists(s, f->path)) {
        int rc = zm_store_define(s, f, 0, 0, err);
        if (rc) return rc;
    }
    unsigned long long have = 0;
    int rc = zm_store_nrows(s, f->path, &have, err);
    if (rc) return rc;
    long long total = zm_allreduce_sum_ll(&s->ctx, (long long)nlocal);
    long long before = zm_exscan_ll(&s->ctx, (long long)nlocal);
    if (total == 0) return 0;
    rc = zm_store_resize(s, f->path, have + (unsigned long long)total, err);
    if (rc) return rc;
    zm_range r = {have + (unsigned long long)before, nlocal};
    return zm_store_write(s, f, &r, 1, buf, err);
}

void zm_store_flush(zm_store *s) { ZM_CHECK_H5(H5Fflush(s->file, H5F_SCOPE_GLOBAL)); }

int zm_store_resize(zm_store *s, const char *path, unsigned long long nrows, zm_err *err)
{
    hid_t d = H5Dopen2(s->file, path, H5P_DEFAULT);
    ZM_CHECK_H5(d);
    hid_t fs = H5Dget_space(d);
    ZM_CHECK_H5(fs);
    hsize_t dims[4];
    int nd = H5Sget_simple_extent_dims(fs, dims, NULL);
    ZM_CHECK_H5(nd);
    ZM_CHECK_H5(H5Sclose(fs));
    dims[0] = nrows;
    herr_t er = H5Dset_extent(d, dims);
    ZM_CHECK_H5(H5Dclose(d));
    if (zm_any(&s->ctx, er < 0)) return zm_err_set(err, ZM_EIO, "store %s: cannot resize %s", s->path, path);
    return 0;
}

/* A dataset that HDF5 cannot read: ZM_EFORMAT naming the store, the dataset and HDF5's
 * reason (a damaged store is bad data: found by tests/fuzz/fuzz_store). */
static int damaged(zm_store *s, const char *path, const char *what, zm_err *err)
{
    char m[512];
    zm_h5_error_string(m, sizeof m);
    return zm_err_set(err, ZM_EFORMAT, "store %s: %s %s (damaged store?)%s%s", s->path, path,
                      what, m[0] ? ": " : "", m);
}

int zm_store_shape(zm_store *s, const char *path, unsigned long long *dims, zm_err *err)
{
    if (!zm_store_exists(s, path))
        return zm_err_set(err, ZM_EMISSING, "store %s has no dataset %s", s->path, path);
    hid_t d = H5Dopen2(s->file, path, H5P_DEFAULT);
    if (d < 0) return damaged(s, path, "is not a readable dataset", err);
    hid_t fs = H5Dget_space(d);
    hsize_t hd[32];
    int nd = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    if (nd < 0 || nd > 32 || H5Sget_simple_extent_dims(fs, hd, NULL) < 0) {
        if (fs >= 0) H5Sclose(fs);
        H5Dclose(d);
        return damaged(s, path, "has no readable shape", err);
    }
    if (nd > 4) nd = 4;
    for (int i = 0; i < nd; i++) dims[i] = hd[i];
    ZM_CHECK_H5(H5Sclose(fs));
    ZM_CHECK_H5(H5Dclose(d));
    return nd;
}

int zm_store_nrows(zm_store *s, const char *path, unsigned long long *nrows, zm_err *err)
{
    unsigned long long dims[4];
    int nd = zm_store_shape(s, path, dims, err);
    if (nd < 0) return nd;
    *nrows = nd ? dims[0] : 1;
    return 0;
}

int zm_store_read(zm_store *s, const char *path, zm_dtype t, int strsize,
                  const zm_range *ranges, int nranges, void *buf, zm_err *err)
{
    if (!zm_store_exists(s, path))
        return zm_err_set(err, ZM_EMISSING, "store %s has no dataset %s", s->path, path);
    hid_t d = H5Dopen2(s->file, path, H5P_DEFAULT);
    if (d < 0) return damaged(s, path, "is not a readable dataset", err);
    hid_t fs = H5Dget_space(d);
    int nd = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    hsize_t dims[4];
    if (nd < 1 || nd > 4 || H5Sget_simple_extent_dims(fs, dims, NULL) < 0) {
        if (fs >= 0) H5Sclose(fs);
        H5Dclose(d);
        return damaged(s, path, "has no readable shape of 1 to 4 dimensions", err);
    }
    unsigned long long total = 0;
    for (int i = 0; i < nranges; i++) {
        if (ranges[i].start + ranges[i].count > dims[0]) {
            H5Sclose(fs);
            H5Dclose(d);
            return zm_err_set(err, ZM_EVALUE, "store %s: rows [%llu, %llu) of %s: it has %llu",
                              s->path, ranges[i].start, ranges[i].start + ranges[i].count, path,
                              (unsigned long long)dims[0]);
        }
        total += ranges[i].count;
    }
    int rc = 0;
    if (total) {
        select_rows(fs, nd, dims, ranges, nranges);
        hsize_t mdims[4];
        mdims[0] = total;
        for (int i = 1; i < nd; i++) mdims[i] = dims[i];
        hid_t ms = H5Screate_simple(nd, mdims, NULL);
        ZM_CHECK_H5(ms);
        hid_t mt = memtype(t, strsize);
        if (H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) < 0) {
            char m[512];
            zm_h5_error_string(m, sizeof m);
            rc = zm_err_set(err, ZM_EIO, "store %s: reading %s failed: %s", s->path, path, m);
        }
        ZM_CHECK_H5(H5Tclose(mt));
        ZM_CHECK_H5(H5Sclose(ms));
    }
    ZM_CHECK_H5(H5Sclose(fs));
    ZM_CHECK_H5(H5Dclose(d));
    return rc;
}

int zm_store_type(zm_store *s, const char *path, zm_dtype *t, zm_err *err)
{
    if (!zm_store_exists(s, path))
        return zm_err_set(err, ZM_EMISSING, "store %s has no dataset %s", s->path, path);
    hid_t d = H5Dopen2(s->file, path, H5P_DEFAULT);
    if (d < 0) return damaged(s, path, "is not a readable dataset", err);
    hid_t ft = H5Dget_type(d);
    if (ft < 0) {
        H5Dclose(d);
        return damaged(s, path, "has no readable type", err);
    }
    H5T_class_t cls = H5Tget_class(ft);
    size_t size = H5Tget_size(ft);
    H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(ft) : H5T_SGN_NONE;
    ZM_CHECK_H5(H5Tclose(ft));
    ZM_CHECK_H5(H5Dclose(d));
    if (cls == H5T_STRING) *t = ZM_DT_STR;
    else if (cls == H5T_FLOAT) *t = size == 2 ? ZM_DT_F16 : size == 4 ? ZM_DT_F32 : ZM_DT_F64;
    else if (cls == H5T_INTEGER && size == 1) *t = ZM_DT_U8;
    else if (cls == H5T_INTEGER && size == 4) *t = sign == H5T_SGN_NONE ? ZM_DT_U32 : ZM_DT_I32;
    else if (cls == H5T_INTEGER && size == 8) *t = ZM_DT_I64;
    else return zm_err_set(err, ZM_EFORMAT, "store %s: %s has an unsupported type", s->path, path);
    return 0;
}

/* ---- attributes and stage marks ------------------------------------------------ */

int zm_store_set_attr(zm_store *s, const char *objpath, const char *name, const char *value)
{
    /* Metadata writes are collective: every rank must write the same bytes, or the ranks'
     * metadata caches diverge and the next flush hangs. Rank 0's value is the one written
     * (a summary with a rank's own timing in it differs from rank to rank). */
    unsigned long long len = s->ctx.rank == 0 ? strlen(value) : 0;
    ZM_CHECK_MPI(MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, s->ctx.comm));
    char *v = zm_malloc(len + 1);
    if (s->ctx.rank == 0) memcpy(v, value, len + 1);
    ZM_CHECK_MPI(MPI_Bcast(v, (int)(len + 1), MPI_CHAR, 0, s->ctx.comm));
    if (!zm_store_exists(s, objpath)) ensure_group(s->file, objpath);
    hid_t o = H5Oopen(s->file, objpath, H5P_DEFAULT);
    ZM_CHECK_H5(o);
    set_attr_on(o, name, v);
    ZM_CHECK_H5(H5Oclose(o));
    free(v);
    return 0;
}

int zm_store_get_attr(zm_store *s, const char *objpath, const char *name, char *buf, size_t n)
{
    if (n) buf[0] = '\0';
    if (!zm_store_exists(s, objpath)) return ZM_EMISSING;
    /* any failure below is a damaged store: ZM_EFORMAT, never an abort */
    htri_t ex = H5Aexists_by_name(s->file, objpath, name, H5P_DEFAULT);
    if (ex < 0) return ZM_EFORMAT;
    if (!ex) return ZM_EMISSING;
    hid_t a = H5Aopen_by_name(s->file, objpath, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return ZM_EFORMAT;
    hid_t ft = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) > 0 ||
        H5Sget_simple_extent_npoints(sp) != 1) {
        if (ft >= 0) H5Tclose(ft);
        if (sp >= 0) H5Sclose(sp);
        H5Aclose(a);
        return ZM_EFORMAT;
    }
    size_t sz = H5Tget_size(ft);
    char *tmp = zm_calloc(1, sz + 1);
    hid_t mt = H5Tcopy(ft);
    ZM_CHECK_H5(mt);
    int rc = H5Aread(a, mt, tmp) < 0 ? ZM_EFORMAT : 0;
    if (!rc) snprintf(buf, n, "%s", tmp);
    free(tmp);
    ZM_CHECK_H5(H5Tclose(mt));
    ZM_CHECK_H5(H5Tclose(ft));
    ZM_CHECK_H5(H5Sclose(sp));
    ZM_CHECK_H5(H5Aclose(a));
    return rc;
}

int zm_store_stage_begin(zm_store *s, const char *stage, const char *config_text)
{
    char path[256], now[32], ranks[32];
    snprintf(path, sizeof path, "/meta/stages/%s", stage);
    ensure_group(s->file, path);
    iso_now(now, sizeof now);
    ZM_CHECK_MPI(MPI_Bcast(now, sizeof now, MPI_CHAR, 0, s->ctx.comm));
    snprintf(ranks, sizeof ranks, "%d", s->ctx.size);
    zm_store_set_attr(s, path, "status", "running");
    zm_store_set_attr(s, path, "started", now);
    zm_store_set_attr(s, path, "finished", "");
    zm_store_set_attr(s, path, "ranks", ranks);
    zm_store_set_attr(s, path, "zoomorph_version", ZM_VERSION " (" ZM_GIT_REVISION ")");
    char compute[1024];
    zm_cpu_describe(compute, sizeof compute);
    zm_store_set_attr(s, path, "compute", compute);
    zm_store_set_attr(s, path, "config", config_text ? config_text : "");
    ZM_CHECK_H5(H5Fflush(s->file, H5F_SCOPE_GLOBAL));
    return 0;
}

int zm_store_stage_end(zm_store *s, const char *stage, const char *summary)
{
    char path[256], now[32];
    snprintf(path, sizeof path, "/meta/stages/%s", stage);
    iso_now(now, sizeof now);
    ZM_CHECK_MPI(MPI_Bcast(now, sizeof now, MPI_CHAR, 0, s->ctx.comm));
    zm_store_set_attr(s, path, "summary", summary ? summary : "");
    zm_store_set_attr(s, path, "finished", now);
    zm_store_set_attr(s, path, "status", "complete");
    ZM_CHECK_H5(H5Fflush(s->file, H5F_SCOPE_GLOBAL));
    return 0;
}

int zm_store_stage_complete(zm_store *s, const char *stage)
{
    char path[256], v[32];
    snprintf(path, sizeof path, "/meta/stages/%s", stage);
    if (zm_store_get_attr(s, path, "status", v, sizeof v)) return 0;
    return strcmp(v, "complete") == 0;
}

long zm_store_open_objects(void)
{
    ssize_t n = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    ZM_CHECK_H5(n);
    return (long)n;
}
