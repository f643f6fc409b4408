/* weft — async tests with cmocka: the #[tokio::test] of weft.
 *
 * An async test body is a future type (WEFT_FUTURE_DEFINE_VOID); WEFT_TEST
 * turns it into cmocka tests, one per flavor (current_thread, multi_thread,
 * sim), each on a fresh runtime whose allocations are counted:
 *
 *   #include "weft/test.h"
 *
 *   typedef struct sleeps { weft_future base; weft_sleep nap; } sleeps;
 *   static weft_poll sleeps_poll(weft_future *f, weft_context *cx, void *out) {
 *       sleeps *s = (sleeps *)f;
 *       (void)out;
 *       WEFT_BEGIN(f);
 *       WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_SECS(3600)), NULL);
 *       WEFT_TEST_ASSERT_INT_EQ(f, cx, weft_now(), WEFT_SECS(3600));
 *       WEFT_END(f);
 *   }
 *   WEFT_FUTURE_DEFINE_VOID(sleeps, sleeps_poll, NULL);
 *   WEFT_TEST(an_hour_in_no_time, sleeps, .paused = true)
 *
 *   int main(void) {
 *       const struct CMUnitTest tests[] = {WEFT_TEST_CASES(an_hour_in_no_time)};
 *       return weft_test_run_group("example", tests);
 *   }
 *
 * What a case checks besides the body's assertions: the body finished (a
 * WEFT_FAIL or a failed WEFT_TEST_ASSERT anywhere fails it), no task was
 * still alive when the runtime shut down, no diagnostic was reported (a
 * future never polled; opt out with .allow_diagnostics), and no allocation
 * outlived the runtime.  weft_test_run_group leaves out the cases of
 * flavors the test does not name (.flavors) or this build lacks, so a
 * group's cases never skip: cmocka 1.1.5 prints a skip as "not ok .. #
 * SKIP", which TAP readers (Meson) count as a failure.
 *
 * In async code use WEFT_TEST_ASSERT*, never cmocka's assert_*: those
 * longjmp out of the runtime (from a worker thread, across threads).
 * cmocka's asserts are fine in plain test functions (WEFT_TEST_ENV).
 *
 * This header brings what cmocka.h needs and cmocka.h itself; link with
 * cmocka.  Environment (the sim flavor): WEFT_SEED=s runs seed s instead
 * of 0, WEFT_SIM_STRATEGY=pct uses PCT, WEFT_SIM_NET=calm a calm
 * simulated network (weft/sim.h).  CMOCKA_MESSAGE_OUTPUT=TAP prints
 * TAP (Meson's protocol: 'tap').
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef WEFT__TEST_NO_CMOCKA /* the library's own testing.c */
#include <cmocka.h>
#endif

#include "weft/export.h"
#include "weft/sim.h"
#include "weft/time.h"
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flavor sets for .flavors (0 means every flavor). */
enum {
    WEFT_TEST_CURRENT_THREAD = 1u << WEFT_CURRENT_THREAD,
    WEFT_TEST_MULTI_THREAD = 1u << WEFT_MULTI_THREAD,
    WEFT_TEST_SIM = 1u << WEFT_SIM,
    /* every flavor that has threads: other OS threads may wake or enter
     * the runtime (the simulator is single-threaded by design) */
    WEFT_TEST_THREADED = WEFT_TEST_CURRENT_THREAD | WEFT_TEST_MULTI_THREAD,
    WEFT_TEST_ALL = WEFT_TEST_THREADED | WEFT_TEST_SIM,
};

/* How a test runs, given to WEFT_TEST / WEFT_TEST_ENV as designated
 * initializers: WEFT_TEST(name, type, .flavors = WEFT_TEST_SIM, .paused = true). */
typedef struct weft_test_opts {
    int weft__v;            /* set by the macros (lets the options list be empty) */
    unsigned flavors;       /* WEFT_TEST_* bits; 0: all */
    bool paused;            /* the builder's start_paused */
    int worker_threads;     /* multi_thread workers; 0: the builder's default */
    uint64_t sim_seed;      /* sim: the seed when WEFT_SEED is unset */
    const void *param;      /* anything, for the body: weft_test_param() */
    bool allow_diagnostics; /* diagnostics do not fail the case */
} weft_test_opts;

/* A test: its name, its body (NULL make for WEFT_TEST_ENV) and options. */
typedef struct weft_test_def {
    const char *name;
    void (*make)(weft_future *slot); /* writes a new body into `slot` */
    size_t size;                     /* sizeof the body's state */
    weft_test_opts opts;
} weft_test_def;

/* One cmocka entry's initial state: a test on one flavor. */
typedef struct weft_test_case {
    weft_flavor flavor;
    const weft_test_def *def; /* NULL: a plain env test on every flavor */
} weft_test_case;

/* The state of a running case (cmocka's `*state`).  Tests that drive the
 * runtime themselves (WEFT_TEST_ENV) may change `builder` before the first
 * weft_test_rt() and read the counters. */
typedef struct weft_test_env {
    weft_flavor flavor;
    weft_builder builder;   /* allocator and diagnostic hook are the env's */
    weft_runtime *rt;       /* built by weft_test_rt() */
    _Atomic long live;      /* allocations not yet freed */
    _Atomic long allocs;    /* allocations made */
    _Atomic long fail_at;   /* the allocation number that fails (0: none) */
    _Atomic int diags;      /* diagnostics reported */
    char last_diag[256];    /* the last one, "site: what" */
    _Atomic int failed;     /* a WEFT_TEST_ASSERT failed */
    char failure[512];      /* why the case failed */
    const weft_test_case *tc;
} weft_test_env;

/* Cases with no def, one per flavor (index = weft_flavor). */
extern WEFT_EXTERN const weft_test_case weft_test_env_cases[3];

/* Makes the env of a case: the builder for its flavor (a counting
 * allocator, captured diagnostics, the options, WEFT_SEED for the sim).
 * Returns 0, WEFT_EINVAL, WEFT_ENOMEM, or WEFT_ENOTSUP when this build
 * lacks the flavor. */
WEFT_EXTERN int weft_test_env_new(const weft_test_case *tc, weft_test_env **out);
/* The env's runtime, built on first use from env->builder (NULL when that
 * fails; the reason is in env->failure). */
WEFT_EXTERN weft_runtime *weft_test_rt(weft_test_env *env);
/* Frees the env's runtime now and checks that no allocation outlived it:
 * 0, or WEFT_EFAILED with the reason in env->failure. */
WEFT_EXTERN int weft_test_free_rt(weft_test_env *env);
/* Frees the runtime (as weft_test_free_rt, same result) and the env. */
WEFT_EXTERN int weft_test_env_free(weft_test_env *env, char *why, size_t why_size);
/* Runs the case's async body on the env: 0, or the failure code with the
 * reason in env->failure. */
WEFT_EXTERN int weft_test_env_run(weft_test_env *env);
/* True when the group should hold this case: this build has its flavor
 * and its test names it. */
WEFT_EXTERN bool weft_test_case_wanted(const weft_test_case *tc);

/* The env of the test whose runtime this thread is in, or NULL. */
WEFT_EXTERN weft_test_env *weft_test_current(void);
/* The running test's .param (NULL outside a test). */
WEFT_EXTERN const void *weft_test_param(void);
/* Records a failed assertion in the running test (the first one wins) and,
 * under the simulator, fails the run; outside a test it prints it. */
WEFT_EXTERN void weft_test_fail_at(const char *site, const char *what);
/* The same with two values: "what (left = a, right = b)". */
WEFT_EXTERN void weft_test_fail_int_eq(const char *site, const char *what, long long a,
                                       long long b);

/* In an async function: fails the test and the task when `cond` is false. */
#define WEFT_TEST_ASSERT(f, cx, cond)                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            weft_test_fail_at(WEFT__SITE, "assertion failed: " #cond);         \
            WEFT_FAIL((f), (cx), WEFT_EFAILED);                                \
        }                                                                      \
    } while (0)
/* The same for two integers, printing both. */
#define WEFT_TEST_ASSERT_INT_EQ(f, cx, a, b)                                   \
    do {                                                                       \
        long long weft__a = (long long)(a), weft__b = (long long)(b);          \
        if (weft__a != weft__b) {                                              \
            weft_test_fail_int_eq(WEFT__SITE, "assertion failed: " #a " == " #b, \
                                  weft__a, weft__b);                           \
            WEFT_FAIL((f), (cx), WEFT_EFAILED);                                \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------ the cmocka glue */
#ifndef WEFT__TEST_NO_CMOCKA

/* The cmocka setup of every weft case (WEFT_TEST_CASES uses it): makes the
 * env of the case in `*state` (NULL when the build lacks the flavor). */
static inline int weft_test_setup(void **state) {
    weft_test_env *env;
    int err = weft_test_env_new((const weft_test_case *)*state, &env);
    if (err == WEFT_ENOTSUP) { /* this build lacks the flavor: skipped */
        *state = NULL;
        return 0;
    }
    if (err) {
        fprintf(stderr, "weft_test_setup: %s\n", weft_strerror(err));
        return -1;
    }
    *state = env;
    return 0;
}

/* The cmocka teardown of every weft case: frees the env's runtime and the
 * env, and fails the test when an allocation outlived the runtime. */
static inline int weft_test_teardown(void **state) {
    char why[512];
    if (*state && weft_test_env_free((weft_test_env *)*state, why, sizeof why))
        fail_msg("%s", why);
    return 0;
}

/* The body of every WEFT_TEST case. */
static inline void weft_test_run_case(void **state) {
    weft_test_env *env = (weft_test_env *)*state;
    if (!env)
        skip();
    if (weft_test_env_run(env))
        fail_msg("%s", env->failure);
}

/* block_on on the env's runtime (plain env tests); fails the test unless
 * it returned 0. */
static inline void weft_test_block_on(weft_test_env *env, weft_future *f, void *out) {
    weft_runtime *rt = weft_test_rt(env);
    if (!rt)
        fail_msg("%s", env->failure);
    int err = weft_runtime_block_on(rt, f, out);
    if (err)
        fail_msg("block_on returned %s", weft_err_name(err));
}

/* Frees the env's runtime now (teardown does it too); fails on a leak. */
static inline void weft_test_free_rt_or_fail(weft_test_env *env) {
    if (weft_test_free_rt(env))
        fail_msg("%s", env->failure);
}

#define WEFT__TEST_DEF(name, mk, size, ...)                                    \
    static const weft_test_def name##__def = {#name, mk, size,                  \
                                              {.weft__v = 1, __VA_ARGS__}};    \
    static const weft_test_case name##__cases[3] = {                          \
        {WEFT_CURRENT_THREAD, &name##__def},                                   \
        {WEFT_MULTI_THREAD, &name##__def},                                     \
        {WEFT_SIM, &name##__def}};

/* Declares the cmocka test `name`: the async body `type` (a future type
 * producing nothing, made with WEFT_NEW(type) for each case), with options
 * (weft_test_opts fields).  List it with WEFT_TEST_CASES(name). */
#define WEFT_TEST(name, type, ...)                                             \
    static void name##__make(weft_future *slot) { *(type *)slot = WEFT_NEW(type); } \
    WEFT__TEST_DEF(name, name##__make, sizeof(type), __VA_ARGS__)              \
    static void name(void **state) { weft_test_run_case(state); }

/* A plain test that drives the runtime itself, on each flavor: the
 * function body follows and gets `weft_test_env *env`:
 *
 *   WEFT_TEST_ENV(block_on_twice, .flavors = WEFT_TEST_THREADED) {
 *       weft_test_block_on(env, &WEFT_NEW(thing).base, NULL);
 *       ...
 *   }
 */
#define WEFT_TEST_ENV(name, ...)                                               \
    WEFT__TEST_DEF(name, NULL, 0, __VA_ARGS__)                                 \
    static void name##__body(weft_test_env *env);                              \
    static void name(void **state) {                                           \
        if (!*state)                                                           \
            skip();                                                            \
        name##__body((weft_test_env *)*state);                                 \
    }                                                                          \
    static void name##__body(weft_test_env *env)

/* The cmocka entry of a case: `name@flavor`. */
#define WEFT_TEST_CASE_AT(fn, cases, i, label)                                 \
    {#fn "@" label, fn, weft_test_setup, weft_test_teardown, (void *)&(cases)[i]}
/* The entries of a WEFT_TEST or WEFT_TEST_ENV test, one per flavor (those
 * it does not name are dropped by weft_test_run_group). */
#define WEFT_TEST_CASES(name)                                                  \
    WEFT_TEST_CASE_AT(name, name##__cases, 0, "current_thread"),               \
        WEFT_TEST_CASE_AT(name, name##__cases, 1, "multi_thread"),             \
        WEFT_TEST_CASE_AT(name, name##__cases, 2, "sim")

/* Runs a cmocka group holding weft cases (and any other cmocka tests),
 * leaving out the cases of flavors their test does not name; returns the
 * number of failures, as cmocka_run_group_tests does. */
#define weft_test_run_group(group, tests)                                      \
    weft__test_run_group((group), (tests), sizeof(tests) / sizeof((tests)[0]))

static inline int weft__test_run_group(const char *group, const struct CMUnitTest *tests,
                                       size_t n) {
    struct CMUnitTest *keep = (struct CMUnitTest *)malloc((n ? n : 1) * sizeof *keep);
    if (!keep) {
        fprintf(stderr, "weft_test_run_group: out of memory\n");
        return 1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (tests[i].setup_func != weft_test_setup ||
            weft_test_case_wanted((const weft_test_case *)tests[i].initial_state))
            keep[m++] = tests[i];
    int failures = _cmocka_run_group_tests(group, keep, m, NULL, NULL);
    free(keep);
    return failures;
}
#endif /* WEFT__TEST_NO_CMOCKA */

#ifdef __cplusplus
}
#endif
#endif
