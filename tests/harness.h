/* weft tests — the shared cmocka harness.
 *
 * Every behaviour test takes a `wt_env *` (cmocka's state) and runs on the
 * flavor the env names; WT_FLAVORS(fn) instantiates a test once per flavor
 * (current_thread, multi_thread, sim), skipping flavors this build lacks.
 * The env's runtime uses a counting allocator, so teardown asserts that no
 * allocation and no task outlived the runtime.  Diagnostics (unpolled
 * futures, tasks alive at shutdown) are captured, not printed.
 */
#ifndef WEFT_TESTS_HARNESS_H
#define WEFT_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "weft/time.h"
#include "weft/weft.h"

typedef struct wt_env {
    weft_flavor flavor;
    weft_builder builder;   /* tests may adjust it before wt_rt() */
    weft_runtime *rt;       /* built lazily by wt_rt() */
    _Atomic long live;      /* allocations not yet freed */
    _Atomic long allocs;    /* allocations made */
    _Atomic long fail_at;   /* the allocation number that fails (0: none) */
    _Atomic int diags;      /* diagnostics reported */
    char last_diag[256];
} wt_env;

/* The env's runtime, built on first use from env->builder. */
weft_runtime *wt_rt(wt_env *env);
/* block_on on the env's runtime; asserts it returned 0. */
void wt_block_on(wt_env *env, weft_future *f, void *out);
/* Frees the runtime now (teardown does it too) and checks for leaks. */
void wt_free_rt(wt_env *env);
const char *wt_flavor_name(weft_flavor f);

int wt_setup(void **state);
int wt_teardown(void **state);

extern const weft_flavor wt_flavor_values[3];

#define WT_ONE(fn, i, label)                                                   \
    {#fn "@" label, fn, wt_setup, wt_teardown, (void *)&wt_flavor_values[i]}
/* One cmocka entry per flavor. */
#define WT_FLAVORS(fn)                                                         \
    WT_ONE(fn, 0, "current_thread"), WT_ONE(fn, 1, "multi_thread"),            \
        WT_ONE(fn, 2, "sim")
/* Tests whose point is other OS threads waking or entering the runtime:
 * every flavor but the simulator, which is single-threaded by design (a
 * wake from another thread is misuse there; test_sim.c checks it aborts). */
#define WT_THREADED(fn)                                                        \
    WT_ONE(fn, 0, "current_thread"), WT_ONE(fn, 1, "multi_thread")
/* Only on current_thread (tests of things that are flavor independent). */
#define WT_CT(fn) WT_ONE(fn, 0, "current_thread")

#define WT_ENV(state) ((wt_env *)*(state))
/* A flavor this build lacks leaves the env NULL: skip the test. */
#define SKIP_IF_ABSENT(env)                                                    \
    do {                                                                       \
        if (!(env))                                                            \
            skip();                                                            \
    } while (0)

/* Polls and drops counted by the test futures. */
typedef struct counts {
    _Atomic int polls;
    _Atomic int drops;
} counts;

/* Never completes and never wakes anyone: only abort or shutdown end it.
 * Counts its polls and its drop in `c`. */
typedef struct forever {
    weft_future base;
    counts *c;
} forever;
extern const weft_future_vtable forever_vtable;

/* Sets `*flag` to 1 when polled, and completes. */
typedef struct setter {
    weft_future base;
    _Atomic int *flag;
} setter;
extern const weft_future_vtable setter_vtable;

/* Runs the group; returns the number of failures (cmocka's convention). */
#define WT_RUN(name, tests) _cmocka_run_group_tests((name), (tests), sizeof(tests) / sizeof((tests)[0]), NULL, NULL)

#endif
