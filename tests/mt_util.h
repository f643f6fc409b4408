/* weft tests — small helpers shared by the threaded tests: a latch future
 * (counts down from any thread, wakes whoever awaits it), a future that
 * stays pending until dropped (counting its drops), and a watchdog that
 * fails a test that hangs. */
#ifndef WEFT_TESTS_MT_UTIL_H
#define WEFT_TESTS_MT_UTIL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"

/* ------------------------------------------------------------------ latch */

typedef struct mt_latch {
    pthread_mutex_t lock;
    long remaining;
    weft_waker waker;
} mt_latch;

static inline void mt_latch_init(mt_latch *l, long n) {
    pthread_mutex_init(&l->lock, NULL);
    l->remaining = n;
    l->waker = (weft_waker){0};
}

static inline void mt_latch_count_down(mt_latch *l) {
    pthread_mutex_lock(&l->lock);
    weft_waker w = {0};
    if (--l->remaining == 0) {
        w = l->waker;
        l->waker = (weft_waker){0};
    }
    pthread_mutex_unlock(&l->lock);
    weft_waker_wake(&w);
}

static inline void mt_latch_destroy(mt_latch *l) {
    weft_waker_drop(&l->waker);
    pthread_mutex_destroy(&l->lock);
}

typedef struct mt_latch_wait {
    weft_future base;
    mt_latch *latch;
} mt_latch_wait;

static inline weft_poll mt_latch_wait_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    mt_latch *l = ((mt_latch_wait *)f)->latch;
    pthread_mutex_lock(&l->lock);
    bool done = l->remaining <= 0;
    if (!done)
        weft_waker_set(&l->waker, weft_cx_waker(cx));
    pthread_mutex_unlock(&l->lock);
    return done ? WEFT_READY : WEFT_PENDING;
}
WEFT_FUTURE_DEFINE_VOID(mt_latch_wait, mt_latch_wait_poll, NULL);

/* ------------------------------------------------------------ forever */

/* Pending until dropped; counts drops in `*drops`. */
typedef struct mt_forever {
    weft_future base;
    _Atomic int *drops;
    _Atomic int *started; /* set at first poll, may be NULL */
} mt_forever;

static inline weft_poll mt_forever_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    mt_forever *s = (mt_forever *)f;
    if (s->started)
        atomic_store(s->started, 1);
    return WEFT_PENDING;
}
static inline void mt_forever_drop(weft_future *f) { atomic_fetch_add(((mt_forever *)f)->drops, 1); }
WEFT_FUTURE_DEFINE_VOID(mt_forever, mt_forever_poll, mt_forever_drop);

/* ------------------------------------------------------------ watchdog */

/* Aborts the process, naming the test, when `mt_watchdog_stop` is not
 * called within `secs`: a hang fails instead of stalling CI. */
typedef struct mt_watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int secs;
    const char *what;
} mt_watchdog;

static inline void *mt_watchdog_main(void *arg) {
    mt_watchdog *w = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += w->secs;
    pthread_mutex_lock(&w->lock);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0 && !w->done) {
            fprintf(stderr, "watchdog: %s hung for %d s\n", w->what, w->secs);
            abort();
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static inline void mt_watchdog_start(mt_watchdog *w, const char *what, int secs) {
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->done = false;
    w->secs = secs;
    w->what = what;
    pthread_create(&w->thread, NULL, mt_watchdog_main, w);
}

static inline void mt_watchdog_stop(mt_watchdog *w) {
    pthread_mutex_lock(&w->lock);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

#endif
