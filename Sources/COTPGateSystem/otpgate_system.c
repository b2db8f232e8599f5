#define _GNU_SOURCE
#include "otpgate_system.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timex.h>
#include <unistd.h>

int otpgate_clock_synced(long *max_error_us)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx); /* modes = 0: read only */
    int state = adjtimex(&tx);
    if (state < 0)
        return -1;
    if (max_error_us)
        *max_error_us = tx.maxerror;
    /* STA_UNSYNC set or TIME_ERROR means no NTP discipline. */
    return (state != TIME_ERROR && !(tx.status & STA_UNSYNC)) ? 1 : 0;
}

int otpgate_disable_core_dumps(void)
{
    struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        return -1;
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int otpgate_set_thread_nice(int nice)
{
    return setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
}

int otpgate_accept_cloexec(int fd)
{
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

int otpgate_set_thread_name(const char *name)
{
    return pthread_setname_np(pthread_self(), name);
}
