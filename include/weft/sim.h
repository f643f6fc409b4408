/* weft — the deterministic simulator.
 *
 * A sim runtime (flavor WEFT_SIM) runs every task on the thread that calls
 * block_on and takes every decision from one seed:
 *  - which ready task runs next (uniform random, PCT, or swarm: the seed
 *    draws one of them and its knobs);
 *  - virtual time: starts at 0, jumps to the next timer when nothing is
 *    ready (equal deadlines fire in insertion order), and with a step time
 *    passes while tasks run; a timer may fire late, never early;
 *  - weft_random_* (a seeded stream);
 *  - fault points (WEFT_BUGGIFY).
 * Every decision is an event folded into a rolling XXH3 hash, the run's
 * fingerprint; the same seed gives the same fingerprint on every build.
 *
 * A run fails as a deadlock when tasks are blocked, no timer is pending and
 * block_on's future has not finished (WEFT_EDEADLOCK, naming the blocked
 * tasks and their spawn sites), and as a livelock past sim_max_steps or
 * sim_max_time (WEFT_ELIVELOCK).  Waking a sim task from another OS thread
 * is misuse and aborts with a one-line reason.
 *
 * Tests: declare an async test body and run it over many seeds with
 * WEFT_SIM_TEST (below).  Environment, read by the sweep only:
 *   WEFT_SEEDS=n            seeds per sweep (default 100)
 *   WEFT_SEED=s             run just seed s (a replay)
 *   WEFT_SEED_BASE=b        first seed of the sweep
 *   WEFT_SHARD=i/n          the i-th of n shards of the sweep (1 <= i <= n)
 *   WEFT_JOBS=n             run the sweep on n worker processes (unset: the
 *                           cores, for a sweep of 20,000 seeds or more)
 *   WEFT_SIM_STRATEGY=s     swarm (default), random or pct
 *   WEFT_PCT_DEPTH=d        PCT's depth (1-16), with WEFT_SIM_STRATEGY=pct
 *   WEFT_TRACE=path         write each run's events as text, one per line ("-": stderr)
 *   WEFT_CHECK_DETERMINISM=1  run each seed twice, compare fingerprints
 *   WEFT_SEEDS_DIR=dir      where regression seeds live (see seeds/README)
 *   WEFT_TRACE=dir/         per failing seed: dir/<test>-seed<N>.txt, .json
 *                           (Chrome trace events) and .html (the timeline),
 *                           named on the failure line; a path ending in
 *                           .json or .html writes that format instead of text
 *   WEFT_SHRINK=1           shrink the failing seed (the first of a sweep)
 *                           into a schedule file; WEFT_SHRINK_OUT=path,
 *                           WEFT_SHRINK_RUNS=n, WEFT_SHRINK_MS=ms bound it
 *   WEFT_SCHEDULE=path      replay a schedule file exactly (refused at the
 *                           first decision that does not fit: WEFT_ESCHEDULE)
 */
#ifndef WEFT_SIM_H
#define WEFT_SIM_H

/* What cmocka.h needs before it, so this header and cmocka.h may come in
 * either order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weft/export.h"
#include "weft/time.h"
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Scheduling strategies (weft_builder.sim_strategy). */
enum {
    WEFT_SIM_RANDOM = 0, /* each step picks uniformly among the ready tasks */
    WEFT_SIM_PCT = 1,    /* random priorities, d-1 change points (PCT) */
    WEFT_SIM_SWARM = 2,  /* the seed draws the strategy and its knobs: uniform
                          * random or PCT of depth 2-5, time passing while
                          * tasks run, late timers (the sweep's default) */
};

/* ------------------------------------------------------------ fault points
 *
 * WEFT_BUGGIFY() is false in production (and everywhere outside a sim
 * runtime).  Under the simulator each call site is switched on for the
 * whole run with a seeded probability (25%), and an enabled site then fires
 * with a seeded probability on each evaluation (25%, or `percent` with
 * WEFT_BUGGIFY_P): FoundationDB's two stages.  A firing is a trace event.
 * Build with -DWEFT_NO_BUGGIFY to compile every site to `false`.
 *
 *   if (WEFT_BUGGIFY()) delay = WEFT_SECS(2);   // rare slow path, in tests
 */
WEFT_EXTERN bool weft_buggify_at(const char *site, uint32_t percent);
#ifdef WEFT_NO_BUGGIFY
#define WEFT_BUGGIFY() false
#define WEFT_BUGGIFY_P(percent) false
#else
#define WEFT_BUGGIFY() weft_buggify_at(WEFT__SITE, 25)
#define WEFT_BUGGIFY_P(percent) weft_buggify_at(WEFT__SITE, (percent))
#endif

/* --------------------------------------------------------- run inspection */

/* The run's fingerprint so far: the rolling XXH3 of every event.  0 for a
 * runtime that is not a simulation. */
WEFT_EXTERN uint64_t weft_sim_fingerprint(weft_handle *h);

/* The simulated network (weft/net.h on the sim runtime).  Adds a host
 * `name` with `naddrs` (1-4) IP literals to the simulation: sockets may
 * bind to its addresses and weft_lookup resolves its name.  127.0.0.1,
 * ::1 and "localhost" always exist.  `h` may be NULL for the runtime of
 * this thread.  WEFT_ENOTSUP on a runtime that is not simulated. */
WEFT_EXTERN int weft_sim_host_add(weft_handle *h, const char *name, const char *const *addrs,
                                  int naddrs);
/* Scheduling steps taken so far (a step polls one task or the root). */
WEFT_EXTERN uint64_t weft_sim_steps(weft_handle *h);
/* Events folded into the fingerprint so far. */
WEFT_EXTERN uint64_t weft_sim_events(weft_handle *h);
/* The first failure of the run ("deadlock: ...", an assertion), or NULL. */
WEFT_EXTERN const char *weft_sim_failure(weft_handle *h);

/* Writes a line of text into the running simulation's trace (when it is
 * traced), between the events: for the application to annotate a run.  Not
 * hashed; a no-op outside a traced simulation. */
WEFT_EXTERN void weft_sim_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fails the running simulation (the first failure wins; block_on then
 * returns WEFT_EFAILED).  Outside a simulation it prints the message. */
WEFT_EXTERN void weft_sim_fail_at(const char *site, const char *what);

/* Reports a call that leaks real non-determinism (`call`, and `why` with
 * what to use instead) into the simulated run polling a task on this
 * thread: fails the run (the first failure wins) naming the call, the task
 * and where it waits, and returns true.  False, doing nothing, outside a
 * task's poll under the simulator.  The escape guard (sim/escape_guard.c,
 * the weft_escape_guard dependency) calls it for the real clock, libc's
 * and the kernel's randomness, thread creation and sleeping. */
WEFT_EXTERN bool weft_sim_escape(const char *call, const char *why);

/* In an async function: fails the run and the task when `cond` is false. */
#define WEFT_SIM_ASSERT(f, cx, cond)                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            weft_sim_fail_at(WEFT__SITE, "assertion failed: " #cond);          \
            WEFT_FAIL((f), (cx), WEFT_EFAILED);                                \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------------ the harness */

/* One simulation test: a future type, made fresh for every seed. */
typedef struct weft_sim_test {
    const char *name;
    void (*make)(weft_future *slot); /* writes a new body future into `slot` */
    size_t size;                     /* sizeof the body's state struct */
    const char *seeds_dir;           /* where <name>.txt lives, or NULL */
    const weft_allocator *alloc;     /* the sweep's runtimes and the body's
                                      * copy allocate here (NULL: malloc) */
    bool exact_time;                 /* the body asserts exact instants: no
                                      * seed lets time pass while tasks run
                                      * or fires a timer late */
} weft_sim_test;

/* What one seed did. */
typedef struct weft_sim_result {
    uint64_t seed;
    int err;              /* 0: passed */
    uint64_t fingerprint;
    uint64_t steps;
    uint64_t events;
    weft_instant end_time; /* virtual time at the end */
    char failure[1024];
    char strategy[160];   /* what the seed ran: "pct depth 3 horizon 40, ..." */
} weft_sim_result;

/* Runs the test once with the builder's seed and options (a WEFT_SIM
 * builder; NULL for the defaults with seed 0).  Everything it allocates,
 * the body's copy included, goes through the builder's allocator; out of
 * memory fails the run with WEFT_ENOMEM.  WEFT_EINVAL for a NULL test or
 * result, a test without make or with a size below a future's header. */
WEFT_EXTERN int weft_sim_run(const weft_sim_test *t, const weft_builder *b,
                             weft_sim_result *r);
/* Replays the schedule file at `path` (made by WEFT_SHRINK, see
 * docs/simulation.md) strictly: every task pick, fault firing and random
 * value comes from the file, with the builder's other options (NULL: the
 * defaults; its seed is replaced by the file's).  Returns the run's
 * result, as weft_sim_run; WEFT_ESCHEDULE when the schedule no longer fits
 * the code (r->failure names the first decision that does not fit and what
 * the run offered there), WEFT_EINVAL with the reason in r->failure when
 * the file is not a schedule. */
WEFT_EXTERN int weft_sim_replay(const weft_sim_test *t, const char *path, const weft_builder *b,
                                weft_sim_result *r);
/* The sweep: replays the test's seeds file, then WEFT_SEEDS seeds (or just
 * WEFT_SEED), prints one line per failing seed with the command that
 * replays it, and a summary.  Returns the number of failing seeds (1 for
 * a NULL test).  A malformed knob (WEFT_SEEDS=-1, WEFT_SEED=12abc, an
 * unknown WEFT_SIM_STRATEGY), a seeds-file line that is no seed, or a
 * WEFT_TRACE path that cannot be written is reported on one line naming
 * the variable (or the file and line) and the value, and fails the sweep. */
WEFT_EXTERN int weft_sim_sweep(const weft_sim_test *t);

#ifdef WEFT_SIM_SEEDS_DIR
#define WEFT__SIM_SEEDS_DIR WEFT_SIM_SEEDS_DIR
#else
#define WEFT__SIM_SEEDS_DIR NULL
#endif

/* What a failing sweep does: fail the cmocka test.  Expanded where
 * WEFT_SIM_TEST is used, so cmocka.h may be included before or after this
 * header; a program without cmocka defines its own before including it. */
#ifndef WEFT_SIM_ON_FAILURE
#define WEFT_SIM_ON_FAILURE(name, n) fail_msg("%s: %d failing seed(s)", (name), (n))
#endif
/* Prints "weft-sim: NAME: N failing seed(s)" and aborts (for a
 * WEFT_SIM_ON_FAILURE of a program without cmocka). */
WEFT_EXTERN _Noreturn void weft__sim_abort(const char *name, int failures);

/* WEFT_SIM_TEST's tests let time pass while tasks run; a file whose
 * bodies assert exact instants defines WEFT_SIM_TEST_EXACT_TIME 1 before
 * including this header (or sets weft_sim_test.exact_time itself). */
#ifdef WEFT_SIM_TEST_EXACT_TIME
#define WEFT__SIM_EXACT true
#else
#define WEFT__SIM_EXACT false
#endif

/* Declares `static void name(void **state)`, a cmocka test that sweeps the
 * async body `type` (a future type made with WEFT_FUTURE_DEFINE*).  Each
 * seed gets a fresh body, WEFT_NEW(type, ...): the optional arguments are
 * designated initializers of the body's fields, so one body runs under
 * several configurations (each a test of its own name, seeds file and
 * replay line):
 *
 *   WEFT_SIM_TEST(transfer_keeps_money, bank_test)
 *   WEFT_SIM_TEST(transfer_many_tellers, bank_test, .tellers = 8, .cfg = &busy)
 *   ...  cmocka_unit_test(transfer_keeps_money)  ...
 */
#define WEFT_SIM_TEST(name, type, ...)                                         \
    static void name##__make(weft_future *slot) {                              \
        *(type *)slot = WEFT_NEW(type, __VA_ARGS__);                           \
    }                                                                          \
    static void name(void **state) {                                           \
        (void)state;                                                           \
        static const weft_sim_test name##__test = {#name, name##__make,         \
                                                   sizeof(type),               \
                                                   WEFT__SIM_SEEDS_DIR, NULL,  \
                                                   WEFT__SIM_EXACT};           \
        int name##__failed = weft_sim_sweep(&name##__test);                    \
        if (name##__failed)                                                    \
            WEFT_SIM_ON_FAILURE(#name, name##__failed);                        \
    }

/* For a test program's main: `--test NAME` runs only that test (the replay
 * line uses it).  A macro, so cmocka.h may come before or after this
 * header: it hands cmocka's filter setter to the library. */
#define weft_sim_test_args(argc, argv)                                         \
    weft__sim_test_args((argc), (argv), cmocka_set_test_filter)
WEFT_EXTERN void weft__sim_test_args(int argc, char **argv,
                                     void (*set_filter)(const char *pattern));

/* A test program's main in one line: `--test NAME` as weft_sim_test_args,
 * then the cmocka group `tests` (an array of cmocka_unit_test entries)
 * named `group`.  A NAME (cmocka's patterns: * and ?) that matches none of
 * the group's tests fails with one line naming the tests there are and
 * status 2, rather than running nothing and passing:
 *
 *   int main(int argc, char **argv) {
 *       const struct CMUnitTest tests[] = {cmocka_unit_test(my_property)};
 *       return weft_sim_run_tests(argc, argv, "my_group", tests);
 *   }
 */
#define weft_sim_run_tests(argc, argv, group, tests)                           \
    (weft__sim_test_args((argc), (argv), cmocka_set_test_filter),              \
     weft__sim_filter_matches((argc), (argv), &(tests)[0].name, sizeof((tests)[0]), \
                              sizeof(tests) / sizeof((tests)[0]))              \
         ? _cmocka_run_group_tests((group), (tests), sizeof(tests) / sizeof((tests)[0]), \
                                   NULL, NULL)                                 \
         : 2)
/* True when no --test was given or its pattern matches one of the `n`
 * names (the first at `first`, each `stride` bytes after the last); else
 * says so on stderr, naming the tests. */
WEFT_EXTERN bool weft__sim_filter_matches(int argc, char **argv, const char *const *first,
                                          size_t stride, size_t n);

#ifdef __cplusplus
}
#endif
#endif
