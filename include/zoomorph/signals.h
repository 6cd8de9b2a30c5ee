/*
 * signals.h: graceful stops. SIGTERM and SIGUSR1 (what Slurm sends before a time limit
 * with --signal, and what scancel sends) set a flag; long stages check it at each
 * collective round, finish the round, flush, and exit with ZM_EXIT_INTERRUPTED (75) so a
 * job script can requeue itself; a rerun resumes. The flag is the one piece of state a
 * signal handler may touch.
 */
#ifndef ZOOMORPH_SIGNALS_H
#define ZOOMORPH_SIGNALS_H

#define ZM_EXIT_INTERRUPTED 75

void zm_signals_install(void);
/* The signal received (SIGTERM or SIGUSR1), or 0. */
int zm_signal_pending(void);

#endif
