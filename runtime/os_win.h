/* weft — the few OS primitives the core needs, Windows edition (Vista and
 * later: slim reader/writer locks, condition variables): the same names
 * and contracts as os_posix.h, which documents them.
 *
 * <windows.h> stays out of the runtime's files: its macros (min, max,
 * near, interface...) and its size would reach every one of them.  The
 * types here are opaque words of the same size as SRWLOCK and
 * CONDITION_VARIABLE (os_win.c asserts it) and the functions are in
 * os_win.c.  meson.build picks this file or os_posix.h. */
#ifndef WEFT_RUNTIME_OS_WIN_H
#define WEFT_RUNTIME_OS_WIN_H

#include <direct.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct weft__mutex {
    void *weft__srw; /* SRWLOCK */
} weft__mutex;
typedef struct weft__cond {
    void *weft__cv; /* CONDITION_VARIABLE */
} weft__cond;

/* SRW locks and condition variables need no resources: init is a store,
 * destroy nothing. */
static inline void weft__mutex_init(weft__mutex *m) { m->weft__srw = NULL; }
static inline void weft__mutex_destroy(weft__mutex *m) { (void)m; }
void weft__mutex_lock(weft__mutex *m);
void weft__mutex_unlock(weft__mutex *m);

static inline void weft__cond_init(weft__cond *c) { c->weft__cv = NULL; }
static inline void weft__cond_destroy(weft__cond *c) { (void)c; }
void weft__cond_signal(weft__cond *c);
void weft__cond_broadcast(weft__cond *c);
void weft__cond_wait(weft__cond *c, weft__mutex *m);
void weft__cond_wait_until(weft__cond *c, weft__mutex *m, uint64_t deadline_ns);

uint64_t weft__os_now_ns(void);

/* ---------------------------------------------------------------- threads */

/* A thread handle (joinable threads) and its id (what equality compares;
 * weft__thread_self has no handle to give). */
typedef struct weft__thread {
    void *weft__handle;
    unsigned long weft__id;
} weft__thread;

int weft__thread_start(weft__thread *t, void *(*fn)(void *), void *arg, size_t stack,
                       bool detached);
void weft__thread_join(weft__thread t);
weft__thread weft__thread_self(void);
static inline bool weft__thread_equal(weft__thread a, weft__thread b) {
    return a.weft__id == b.weft__id;
}
void weft__thread_set_name(const char *name);
void weft__thread_get_name(char *buf, size_t n);
unsigned weft__cpu_count(void);
void weft__os_yield(void);

/* ---------------------------------------------------------------- memory */

/* The C runtime has no aligned_alloc (its free could not release it). */
static inline void *weft__os_aligned_alloc(size_t align, size_t size) {
    return _aligned_malloc(size, align);
}
static inline void weft__os_aligned_free(void *p) { _aligned_free(p); }

/* Makes the directory `path` (0, or -1 with errno set). */
static inline int weft__os_mkdir(const char *path) { return _mkdir(path); }

/* argv[0] without its ".exe" (the replay line then reads the same as on
 * other systems, and cmd.exe finds the program without it). */
bool weft__os_program_name(char *buf, size_t n);

/* ------------------------------------------------------------ randomness */

bool weft__os_random_bytes(void *buf, size_t n);

/* ---------------------------------------------------------------- crashes
 *
 * The C runtime's signal() covers the fatal signals Windows has: SIGABRT
 * from abort(), SIGSEGV, SIGILL and SIGFPE from the matching structured
 * exceptions.  There is no SIGBUS and no sigaction. */

#define WEFT__OS_NFATAL 4
typedef struct weft__os_crash_saved {
    void (*prev[WEFT__OS_NFATAL])(int);
} weft__os_crash_saved;

static const int weft__os_fatal_signals[WEFT__OS_NFATAL] = {SIGABRT, SIGSEGV, SIGFPE, SIGILL};

static inline void weft__os_crash_arm(void (*fn)(int), weft__os_crash_saved *saved) {
    for (int i = 0; i < WEFT__OS_NFATAL; i++)
        saved->prev[i] = signal(weft__os_fatal_signals[i], fn);
}
static inline void weft__os_crash_disarm(const weft__os_crash_saved *saved) {
    for (int i = 0; i < WEFT__OS_NFATAL; i++)
        signal(weft__os_fatal_signals[i], saved->prev[i]);
}
static inline void weft__os_crash_reraise(int sig) {
    signal(sig, SIG_DFL);
    raise(sig);
}
void weft__os_write_err(const char *s, size_t n);

#endif
