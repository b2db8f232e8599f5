#ifndef OTPGATE_SYSTEM_H
#define OTPGATE_SYSTEM_H

#include <stddef.h>
#include <sys/types.h>

/* Small system calls that Swift's Glibc module does not expose cleanly. */

/* The kernel's NTP state via adjtimex(2). Returns 1 when the clock is synchronised,
   0 when it is not, -1 when adjtimex fails (errno set). *max_error_us receives the
   kernel's maximum error estimate in microseconds. */
int otpgate_clock_synced(long *max_error_us);

/* Makes this process non-dumpable (no core files, no ptrace by same-uid processes)
   and sets RLIMIT_CORE to 0. Returns 0, or -1 with errno set. */
int otpgate_disable_core_dumps(void);

/* Sets the nice value of the calling thread only (Linux: setpriority on its tid).
   Returns 0, or -1 with errno set. */
int otpgate_set_thread_nice(int nice);

/* accept4(2) with SOCK_CLOEXEC (a _GNU_SOURCE call): a connection's descriptor is
   never inherited by a child. Returns the descriptor, or -1 with errno set. */
int otpgate_accept_cloexec(int fd);

/* Names the calling thread (at most 15 bytes are kept), as ps -T and
   /proc/PID/task/TID/comm show it. Returns 0 or an error number. */
int otpgate_set_thread_name(const char *name);

#endif
