/* weft — the deterministic simulator.
 *
 * A sim runtime (flavor WEFT_SIM) runs every task on the thread that calls
 * block_on and takes every decision from one seed:
 *  - which ready task runs next (uniform random, or PCT);
 *  - virtual time: starts at 0, moves only when nothing is ready, then
 *    jumps to the next timer (equal deadlines fire in insertion order);
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
 *   WEFT_SEED_BASE=b        first seed of the sweep (shard a sweep: b, b+n..)
 *   WEFT_SIM_STRATEGY=pct   PCT instead of uniform random
 *   WEFT_SIM_NET=calm       a calm simulated network instead of the seed's
 *                           swarm draw (see "network faults" below)
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
/* ------------------------------------------------------ network faults
 *
 * Every link between two hosts (named as in weft_sim_host_add; the
 * built-in one holding 127.0.0.1 and ::1 is "localhost"; "*" stands for
 * every host) has a latency and fault rates.  By default a run draws them
 * from its seed (swarm testing, as TigerBeetle's VOPR does: some runs calm,
 * some lossy, some with long tails, some duplicating, reordering or
 * failing connections), so a sweep covers many network conditions without
 * the test naming them.  weft_sim_link_set overrides the draw;
 * weft_builder.sim_net = WEFT_SIM_NET_CALM (or WEFT_SIM_NET=calm for a
 * sweep) starts from a calm network instead: 1 ms, nothing lost.  The
 * knobs a run used are printed in its trace and on its failure line.
 *
 * What the faults do:
 *  - TCP stays reliable and in order while its path works: a lost segment
 *    is retransmitted after 200 ms, doubling up to 120 s (a lost SYN after
 *    1 s, doubling); a segment still not across after 15 retransmissions
 *    (Linux's tcp_retries2: 804.6 s) fails the stream with WEFT_ETIMEDOUT,
 *    a connect after 6 (63 s), so nothing hangs on a broken path.  The
 *    peer learns nothing, as on a real network.  A lost reset is sent
 *    again.
 *  - UDP datagrams are lost, duplicated, reordered and delayed; at most
 *    65507 bytes over IPv4, 65527 over IPv6 (WEFT_EMSGSIZE beyond, as the
 *    OS says).
 *  - A partition drops what crosses it (TCP retransmits into it); a clog
 *    holds what arrives on the link and releases it, in order, at the
 *    unclog.  Traffic within one host is never partitioned or clogged.
 *  - connect_fail_ppm: a connection attempt is refused (WEFT_ECONNREFUSED)
 *    though the port listens.
 *  - The swarm's nemesis (half the swarm runs, with two hosts or more):
 *    every few seconds a partition or a clog between hosts drawn at
 *    random, ended again after a while; it only takes turns while the
 *    network is used.  weft_sim_heal_all ends it; a calm network has none.
 *  - WEFT_BUGGIFY sites in the fake network (a slow packet, a segment
 *    lost, a slow accept, short reads and writes, a small window) bend
 *    timing and chunking on a swarm network; a calm one has none.
 * Every send, delivery, drop (with its reason), duplicate, retransmission,
 * partition, heal and clog (the nemesis's marked by=nemesis) is an event of
 * the run's fingerprint. */
typedef struct weft_sim_link {
    uint64_t latency_min_ns;  /* every message takes at least this long */
    uint64_t latency_tail_ns; /* plus an exponential delay of this mean (0: none) */
    uint32_t loss_ppm;        /* messages lost, parts per million */
    uint32_t dup_ppm;         /* datagrams delivered twice */
    uint32_t reorder_ppm;     /* datagrams that overtake or fall behind others */
    uint32_t connect_fail_ppm; /* connection attempts refused */
} weft_sim_link;

/* weft_builder.sim_net: where a run's network knobs come from. */
enum {
    WEFT_SIM_NET_SWARM = 0, /* drawn from the seed (the default) */
    WEFT_SIM_NET_CALM = 1,  /* 1 ms latency, no faults (until a test sets some) */
};

/* Sets the link between hosts `a` and `b`, both directions.  "*" for `b`
 * sets every link of `a`; "*" for both sets the default of every link not
 * set otherwise (replacing the seed's draw).  `h` NULL: this thread's
 * runtime.  WEFT_EINVAL for NULL arguments or a latency above an hour,
 * WEFT_ENOTFOUND for an unknown host, WEFT_ENOTSUP off the simulator. */
WEFT_EXTERN int weft_sim_link_set(weft_handle *h, const char *a, const char *b,
                                  const weft_sim_link *l);
/* The link in force between `a` and `b` ("*", "*": the default, the
 * seed's draw unless set).  Errors as weft_sim_link_set. */
WEFT_EXTERN int weft_sim_link_get(weft_handle *h, const char *a, const char *b,
                                  weft_sim_link *out);

/* weft_sim_partition's `how`. */
enum {
    WEFT_SIM_BOTH_WAYS = 0, /* nothing crosses between a and b */
    WEFT_SIM_ONE_WAY = 1,   /* only a -> b is cut; b -> a still gets through */
};
/* Cuts the path between hosts `a` and `b` (either may be "*": `a` from
 * every other host) until a weft_sim_heal.  WEFT_EINVAL for a host with
 * itself or a bad `how`; otherwise as weft_sim_link_set. */
WEFT_EXTERN int weft_sim_partition(weft_handle *h, const char *a, const char *b, int how);
/* Removes the partitions between `a` and `b` (both directions; "*"
 * matches any host, so "*", "*" heals every one).  Messages dropped
 * meanwhile stay lost; TCP's next retransmission gets through. */
WEFT_EXTERN int weft_sim_heal(weft_handle *h, const char *a, const char *b);
/* Holds every message arriving from `a` to `b` ("*" for `b`: everything
 * from `a`; for `a`: everything to `b`) until weft_sim_unclog. */
WEFT_EXTERN int weft_sim_clog(weft_handle *h, const char *a, const char *b);
/* Ends the clog `a`, `b` (as given to weft_sim_clog) and delivers what
 * it held, in the order it arrived, after the link's minimum latency.
 * WEFT_ENOTFOUND when no such clog is in force. */
WEFT_EXTERN int weft_sim_unclog(weft_handle *h, const char *a, const char *b);
/* Ends the chaos phase (TigerBeetle's liveness mode): heals every
 * partition, releases every clog, stops the nemesis and sets loss,
 * duplication, reordering and connection failures to 0 on every link;
 * latencies stay.  A test then requires progress within a virtual-time
 * bound, e.g. a weft_timeout around the wait for convergence
 * (docs/simulation.md, "The network"). */
WEFT_EXTERN int weft_sim_heal_all(weft_handle *h);
/* Writes the run's network knobs as text ("swarm: latency=2000us+exp(40000us)
 * loss=1.2000% ..."), as the trace and the failure line show them, and
 * returns its length (truncated to `n`-1).  WEFT_EINVAL for NULL `buf`,
 * WEFT_ENOTSUP off the simulator. */
WEFT_EXTERN int weft_sim_net_describe(weft_handle *h, char *buf, size_t n);

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
    char network[256];     /* the network's knobs ("" when the run used none) */
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
                                                   WEFT__SIM_SEEDS_DIR, NULL}; \
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

#ifdef __cplusplus
}
#endif
#endif
