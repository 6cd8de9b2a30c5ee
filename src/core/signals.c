/* signals.c: see signals.h. */
#include "zoomorph/signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig) { g_signal = sig; }

void zm_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* a file-size limit (ulimit -f) or a full quota: let the write fail with EFBIG and be
     * reported, instead of the process dying */
    signal(SIGXFSZ, SIG_IGN);
}

int zm_signal_pending(void) { return (int)g_signal; }
