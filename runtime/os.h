/* weft — the few OS primitives the core needs: a mutex, a condition variable
 * with a monotonic deadline, threads, and the monotonic clock.
 * POSIX today; a Windows port replaces this one file. */
#ifndef WEFT_RUNTIME_OS_H
#define WEFT_RUNTIME_OS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

#endif
