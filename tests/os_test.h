/* weft tests — the few OS services the net suite checks with, one
 * implementation per platform (os_test_posix.c, os_test_win.c; meson
 * picks one), so the tests themselves carry no platform #if. */
#ifndef WEFT_TESTS_OS_TEST_H
#define WEFT_TESTS_OS_TEST_H

#include <stdbool.h>

/* Descriptors (POSIX) or handles (Windows) the process holds: the leak
 * check compares it before and after a test.  -1 when it cannot tell. */
int wt_os_open_handles(void);
/* Aborts the process, saying why, if not disarmed (0) within `secs`:
 * a lost wake-up fails the suite instead of hanging it. */
void wt_os_watchdog(int secs);
/* CPU time the process used so far (user + system), in microseconds. */
long wt_os_cpu_us(void);
/* SIGPIPE at its default action (the process would die of one), where
 * the platform has it. */
void wt_os_sigpipe_default(void);
/* Lowers the per-process descriptor limit to the descriptors open now
 * plus `extra`: false where the platform has no such limit (Windows). */
bool wt_os_limit_descriptors(int extra);
void wt_os_unlimit_descriptors(void);
/* Whether weft's OS driver here has Unix domain sockets (Windows' IOCP
 * driver reports them WEFT_EAFNOSUPPORT: wine has none). */
bool wt_os_unix_sockets(void);

/* Whether closing a socket with a zero linger resets the connection (it
 * does everywhere but under wine, whose close ignores the linger). */
bool wt_os_linger_zero_resets(void);

#endif
