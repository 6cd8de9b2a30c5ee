/*
 * log.h: rank-tagged, levelled, timestamped logging to stderr, and a progress meter
 * that rank 0 prints with rate and ETA.
 *
 * The logger is configured once at start (zm_log_init) and is read-only after that:
 * the one piece of process-wide state in zoomorph.
 *   [2026-11-27T03:53:36Z r0 INFO ] cutout: 1200/5000 galaxies, 34.1/s, ETA 1m52s
 */
#ifndef ZOOMORPH_LOG_H
#define ZOOMORPH_LOG_H

typedef enum { ZM_LOG_ERROR = 0, ZM_LOG_WARN = 1, ZM_LOG_INFO = 2, ZM_LOG_DEBUG = 3 } zm_log_level;

void zm_log_init(int rank, int level);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int zm_log_level_parse(const char *s);
int zm_log_rank(void);

/* Every rank logs. */
void zm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only rank 0 logs (for messages every rank would repeat). */
void zm_log0(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define zm_error(...) zm_log(ZM_LOG_ERROR, __VA_ARGS__)
#define zm_warn(...) zm_log(ZM_LOG_WARN, __VA_ARGS__)
#define zm_info(...) zm_log(ZM_LOG_INFO, __VA_ARGS__)
#define zm_debug(...) zm_log(ZM_LOG_DEBUG, __VA_ARGS__)
#define zm_info0(...) zm_log0(ZM_LOG_INFO, __VA_ARGS__)
#define zm_warn0(...) zm_log0(ZM_LOG_WARN, __VA_ARGS__)

/* Wall-clock seconds (monotonic). */
double zm_now(void);

/* Progress of a long stage, printed by rank 0 at most every `interval` seconds. The
 * caller passes the global count done (e.g. after an MPI_Allreduce it already makes). */
typedef struct {
    const char *what;   /* "cutout" */
    const char *unit;   /* "galaxies" */
    double total;
    double t0, last;
    double interval;
} zm_progress;

void zm_progress_start(zm_progress *p, const char *what, const char *unit, double total);
void zm_progress_update(zm_progress *p, double done);
/* Final line: count, elapsed, mean rate. */
void zm_progress_end(zm_progress *p, double done);
/* "1h02m", "3m05s", "12.3s" */
void zm_format_duration(double seconds, char *buf, int n);

#endif
