/* weft tests — the suite's names for the public test support (weft/test.h).
 *
 * The suite's tests are written two ways: async bodies declared with
 * WEFT_TEST (new tests), and plain cmocka functions taking the env in
 * cmocka's state, listed with WT_FLAVORS(fn) (one entry per flavor).  Both
 * run on a fresh runtime per flavor with the public fixtures, whose
 * counting allocator fails a test that leaks.  The wt_ / WT_ names below
 * are the older spellings of the public ones, kept so tests written
 * against them compile unchanged.
 */
#ifndef WEFT_TESTS_HARNESS_H
#define WEFT_TESTS_HARNESS_H

#include "weft/test.h"

typedef weft_test_env wt_env;

#define wt_rt(env) weft_test_rt_or_fail(env)
#define wt_block_on(env, f, out) weft_test_block_on((env), (f), (out))
#define wt_free_rt(env) weft_test_free_rt_or_fail(env)
#define wt_setup weft_test_setup
#define wt_teardown weft_test_teardown
const char *wt_flavor_name(weft_flavor f);

/* The env's runtime, built on first use; fails the test if it cannot be. */
static inline weft_runtime *weft_test_rt_or_fail(weft_test_env *env) {
    weft_runtime *rt = weft_test_rt(env);
    if (!rt)
        fail_msg("%s", env->failure);
    return rt;
}

/* The initial states of the per-flavor entries (index: weft_flavor). */
#define wt_flavor_values weft_test_env_cases
#define WT_ONE(fn, i, label) WEFT_TEST_CASE_AT(fn, weft_test_env_cases, i, label)
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
#define WT_RUN(name, tests) weft_test_run_group((name), (tests))

#endif
