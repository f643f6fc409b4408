/* weft — the few OS primitives the core needs, POSIX edition: a mutex, a
 * condition variable with a monotonic deadline, threads, the monotonic
 * clock, yielding the CPU, OS randomness and the crash hooks of the
 * simulator's harness.
 *
 * meson.build picks this file or os_win.h (same names, same contracts) and
 * generates "os.h" including it: the one place the platform is chosen. */
#ifndef WEFT_RUNTIME_OS_POSIX_H
#define WEFT_RUNTIME_OS_POSIX_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef pthread_mutex_t weft__mutex;
typedef pthread_cond_t weft__cond;

static inline void weft__mutex_init(weft__mutex *m) { pthread_mutex_init(m, NULL); }
static inline void weft__mutex_destroy(weft__mutex *m) { pthread_mutex_destroy(m); }
static inline void weft__mutex_lock(weft__mutex *m) { pthread_mutex_lock(m); }
static inline void weft__mutex_unlock(weft__mutex *m) { pthread_mutex_unlock(m); }

static inline void weft__cond_init(weft__cond *c) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}
static inline void weft__cond_destroy(weft__cond *c) { pthread_cond_destroy(c); }
static inline void weft__cond_signal(weft__cond *c) { pthread_cond_signal(c); }
static inline void weft__cond_broadcast(weft__cond *c) { pthread_cond_broadcast(c); }
static inline void weft__cond_wait(weft__cond *c, weft__mutex *m) { pthread_cond_wait(c, m); }

/* The OS monotonic clock in ns. */
static inline uint64_t weft__os_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until the monotonic clock reads `deadline_ns` (UINT64_MAX: forever). */
static inline void weft__cond_wait_until(weft__cond *c, weft__mutex *m, uint64_t deadline_ns) {
    if (deadline_ns == UINT64_MAX) {
        pthread_cond_wait(c, m);
        return;
    }
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    pthread_cond_timedwait(c, m, &ts);
}

/* ---------------------------------------------------------------- threads */

typedef pthread_t weft__thread;

/* Starts `fn(arg)` on a new thread with `stack` bytes of stack (0: the OS
 * default), joinable unless `detached`.  Returns 0 or a positive errno. */
static inline int weft__thread_start(weft__thread *t, void *(*fn)(void *), void *arg,
                                     size_t stack, bool detached) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    int err = stack ? pthread_attr_setstacksize(&a, stack) : 0;
    if (!err && detached)
        err = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (!err)
        err = pthread_create(t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return err;
}
static inline void weft__thread_join(weft__thread t) { pthread_join(t, NULL); }
static inline weft__thread weft__thread_self(void) { return pthread_self(); }
static inline bool weft__thread_equal(weft__thread a, weft__thread b) {
    return pthread_equal(a, b) != 0;
}
/* Names the calling thread (the OS may truncate it, Linux to 15 bytes). */
static inline void weft__thread_set_name(const char *name) {
    char buf[16];
    size_t n = 0;
    for (; name[n] && n < sizeof buf - 1; n++)
        buf[n] = name[n];
    buf[n] = '\0';
    pthread_setname_np(pthread_self(), buf);
}
/* The calling thread's name into `buf` ("" if it has none or the OS
 * cannot say). */
static inline void weft__thread_get_name(char *buf, size_t n) {
    if (n && pthread_getname_np(pthread_self(), buf, n) != 0)
        buf[0] = '\0';
}
/* Processors online, at least 1. */
static inline unsigned weft__cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}
/* Gives the CPU to another ready thread (a spinning waiter's back-off). */
static inline void weft__os_yield(void) { sched_yield(); }

/* The program's name as it was started (argv[0]) into `buf`; false if
 * the OS cannot say (then the caller picks a placeholder).  Linux keeps it
 * in /proc/self/cmdline, NUL-terminated first. */
static inline bool weft__os_program_name(char *buf, size_t n) {
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (!f || n == 0) {
        if (f)
            fclose(f);
        return false;
    }
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = 0;
    return true;
}

/* ---------------------------------------------------------------- memory */

/* `size` bytes aligned to `align` (a power of two; size a multiple of it),
 * released with weft__os_aligned_free. */
static inline void *weft__os_aligned_alloc(size_t align, size_t size) {
    return aligned_alloc(align, size);
}
static inline void weft__os_aligned_free(void *p) { free(p); }

/* Makes the directory `path` (0, or -1 with errno set). */
static inline int weft__os_mkdir(const char *path) { return mkdir(path, 0777); }

/* ------------------------------------------------------------ randomness */

/* Fills `buf` with `n` bytes from the OS generator; false if it failed. */
static inline bool weft__os_random_bytes(void *buf, size_t n) {
    return getrandom(buf, n, 0) == (ssize_t)n;
}

/* ---------------------------------------------------------------- crashes
 *
 * The simulator's harness prints a replay line when a seed kills the
 * process: it arms a handler for the fatal signals, which writes with
 * weft__os_write_err only (async-signal-safe) and re-raises. */

#define WEFT__OS_NFATAL 5
typedef struct weft__os_crash_saved {
    struct sigaction sa[WEFT__OS_NFATAL];
} weft__os_crash_saved;

static const int weft__os_fatal_signals[WEFT__OS_NFATAL] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE,
                                                            SIGILL};

/* Runs `fn(sig)` on a fatal signal; the previous dispositions go to `saved`. */
static inline void weft__os_crash_arm(void (*fn)(int), weft__os_crash_saved *saved) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < WEFT__OS_NFATAL; i++)
        sigaction(weft__os_fatal_signals[i], &sa, &saved->sa[i]);
}
static inline void weft__os_crash_disarm(const weft__os_crash_saved *saved) {
    for (int i = 0; i < WEFT__OS_NFATAL; i++)
        sigaction(weft__os_fatal_signals[i], &saved->sa[i], NULL);
}
/* From the handler: dies of `sig` as if no handler had been armed. */
static inline void weft__os_crash_reraise(int sig) {
    signal(sig, SIG_DFL);
    raise(sig);
}
/* Writes to stderr with one system call (safe in a signal handler). */
static inline void weft__os_write_err(const char *s, size_t n) {
    ssize_t w = write(2, s, n);
    (void)w;
}

#endif
