/* log.c: see log.h. Writes whole lines with one fprintf so ranks do not interleave. */
#include "zoomorph/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int g_rank = 0;              /* set once by zm_log_init */
static int g_level = ZM_LOG_INFO;   /* set once by zm_log_init */

void zm_log_init(int rank, int level)
{
    g_rank = rank;
    g_level = level;
}

int zm_log_rank(void) { return g_rank; }

int zm_log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return -1;
}

static void vlog(int level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    if (level > g_level) return;
    char msg[4096], stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "[%s r%d %s] %s\n", stamp, g_rank, tags[level < 0 ? 0 : level > 3 ? 3 : level],
            msg);
    fflush(stderr);
}

void zm_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void zm_log0(int level, const char *fmt, ...)
{
    if (g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

double zm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void zm_format_duration(double s, char *buf, int n)
{
    if (s < 0 || s != s) snprintf(buf, (size_t)n, "?");
    else if (s < 60) snprintf(buf, (size_t)n, "%.1fs", s);
    else if (s < 3600) snprintf(buf, (size_t)n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, (size_t)n, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void zm_progress_start(zm_progress *p, const char *what, const char *unit, double total)
{
    p->what = what;
    p->unit = unit;
    p->total = total;
    p->t0 = p->last = zm_now();
    p->interval = 10.0;
}

void zm_progress_update(zm_progress *p, double done)
{
    double t = zm_now();
    if (g_rank != 0 || t - p->last < p->interval) return;
    p->last = t;
    double rate = done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
    char eta[32];
    zm_format_duration(rate > 0 ? (p->total - done) / rate : -1, eta, sizeof eta);
    zm_info("%s: %.0f/%.0f %s (%.1f%%), %.1f/s, ETA %s", p->what, done, p->total, p->unit,
            p->total > 0 ? 100.0 * done / p->total : 100.0, rate, eta);
}

void zm_progress_end(zm_progress *p, double done)
{
    double el = zm_now() - p->t0;
    char d[32];
    zm_format_duration(el, d, sizeof d);
    zm_log0(ZM_LOG_INFO, "%s: %.0f %s in %s (%.1f/s)", p->what, done, p->unit, d,
            el > 0 ? done / el : 0.0);
}
