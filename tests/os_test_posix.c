/* weft tests — os_test.h on POSIX systems. */
#include "os_test.h"

#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <unistd.h>

int wt_os_open_handles(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        d = opendir("/dev/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* SIGALRM's default action ends the process, which fails the test. */
void wt_os_watchdog(int secs) { alarm((unsigned)secs); }

long wt_os_cpu_us(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (long)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000L + u.ru_utime.tv_usec +
           u.ru_stime.tv_usec;
}

void wt_os_sigpipe_default(void) { signal(SIGPIPE, SIG_DFL); }

static struct rlimit saved;

bool wt_os_limit_descriptors(int extra) {
    getrlimit(RLIMIT_NOFILE, &saved);
    struct rlimit low = {(rlim_t)wt_os_open_handles() + (rlim_t)extra, saved.rlim_max};
    setrlimit(RLIMIT_NOFILE, &low);
    return true;
}

void wt_os_unlimit_descriptors(void) {
    struct rlimit rl = saved;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

bool wt_os_unix_sockets(void) { return true; }

bool wt_os_linger_zero_resets(void) { return true; }
