/* weft tests — what the simulator is given: the sweep's environment knobs,
 * seeds files, the trace path, and the limits a run is held to (PCT must
 * not starve a task behind a spinning one; no run is unbounded by default).
 * Every malformed input is refused with one line naming it, and fails the
 * sweep without running a seed it made up. */
#include "harness.h"
#include "sim_capture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/sim.h"

/* sim/scheduler.c: the strategy the default (swarm) draws for a seed. */
int weft__sim_swarm_strategy(uint64_t seed, uint32_t *depth);

/* ---------------------------------------------------------------- bodies */

/* Passes, and counts its runs. */
static int ran;
typedef struct counted {
    weft_future base;
} counted;
static weft_poll counted_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    ran++;
    WEFT_BEGIN(f);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(counted, counted_poll, NULL);
static void make_counted(weft_future *slot) { *(counted *)slot = WEFT_NEW(counted); }
static const weft_sim_test counted_test = {"counted", make_counted, sizeof(counted), NULL, NULL, false};


/* One knob set to `value`: the sweep fails, runs nothing, and says so on
 * a line naming the knob and the value. */
static void refused(const char *name, const char *value) {
    char out[4096], want[256];
    setenv("WEFT_SIM_QUIET", "1", 1);
    setenv(name, value, 1);
    ran = 0;
    int failed = captured_sweep(&counted_test, out, sizeof out);
    unsetenv(name);
    unsetenv("WEFT_SIM_QUIET");
    snprintf(want, sizeof want, "%s=%s", name, value);
    if (failed == 0 || ran != 0 || !strstr(out, want))
        fail_msg("%s=%s: failed=%d ran=%d output: %s", name, value, failed, ran, out);
}

/* Configuration mistakes of issue 13: each fails loudly, runs nothing. */
static void config_mistakes_are_refused(void **state) {
    (void)state;
    refused("WEFT_SIM_STRATEGY", "PCT"); /* once silently uniform random */
    refused("WEFT_SIM_STRATEGY", "Swarm");
    refused("WEFT_SIM_STRATEGY", "dfs");
    refused("WEFT_SEED", "six");         /* once a 100-seed sweep instead of the replay */
    refused("WEFT_PCT_DEPTH", "0");
    refused("WEFT_PCT_DEPTH", "17");
    refused("WEFT_PCT_DEPTH", "3");      /* without WEFT_SIM_STRATEGY=pct: swarm draws it */
    setenv("WEFT_SIM_STRATEGY", "pct", 1);
    refused("WEFT_PCT_DEPTH", "x");
    unsetenv("WEFT_SIM_STRATEGY");
    refused("WEFT_SEEDS_DIR", "/nonexistent/seeds"); /* its seeds would guard nothing */
    /* a seeds directory compiled into the test, gone */
    weft_sim_test t = counted_test;
    t.seeds_dir = "/nonexistent/compiled-in";
    char out[4096];
    ran = 0;
    assert_int_equal(captured_sweep(&t, out, sizeof out), 1);
    assert_int_equal(ran, 0);
    assert_non_null(strstr(out, "counted: cannot read its seeds directory /nonexistent/compiled-in"));
    /* a WEFT_TEST case's setup refuses them too, rather than run seed 0
     * or uniform random in their place */
    static const char *const bad_env[][2] = {{"WEFT_SEED", "six"}, {"WEFT_SEED", "-1"},
                                             {"WEFT_SIM_STRATEGY", "PCT"},
                                             {"WEFT_PCT_DEPTH", "99"}};
    for (size_t i = 0; i < sizeof bad_env / sizeof bad_env[0]; i++) {
        setenv(bad_env[i][0], bad_env[i][1], 1);
        weft_test_env *te = NULL;
        assert_int_equal(weft_test_env_new(&weft_test_env_cases[WEFT_SIM], &te), WEFT_EINVAL);
        assert_null(te);
        unsetenv(bad_env[i][0]);
    }
    /* WEFT_PCT_DEPTH with pct is taken, and the replay line carries it */
    setenv("WEFT_SIM_STRATEGY", "pct", 1);
    setenv("WEFT_PCT_DEPTH", "4", 1);
    setenv("WEFT_SEEDS", "3", 1);
    ran = 0;
    assert_int_equal(captured_sweep(&counted_test, out, sizeof out), 0);
    assert_int_equal(ran, 3 + 4); /* and the horizon's four probe runs */
    unsetenv("WEFT_SIM_STRATEGY");
    unsetenv("WEFT_PCT_DEPTH");
    unsetenv("WEFT_SEEDS");
}

static void env_numbers_are_strict(void **state) {
    (void)state;
    refused("WEFT_SEEDS", "-1");  /* strtoull: 2^64-1 seeds, until killed */
    refused("WEFT_SEEDS", "12abc");
    refused("WEFT_SEEDS", "0x");
    refused("WEFT_SEEDS", " 5");
    refused("WEFT_SEED", "-1"); /* would replay 2^64-1 without a word */
    refused("WEFT_SEED", "99999999999999999999");
    refused("WEFT_SEED_BASE", "-5");
    refused("WEFT_SIM_STRATEGY", "pcr");
    refused("WEFT_SHRINK_RUNS", "12x"); /* the shrinking budgets too */
    refused("WEFT_SHRINK_MS", "-1");
    /* a base the sweep would run past 2^64-1 from */
    setenv("WEFT_SEEDS", "10", 1);
    refused("WEFT_SEED_BASE", "18446744073709551610");
    unsetenv("WEFT_SEEDS");
}

static void env_numbers_still_accepted(void **state) {
    (void)state;
    char out[4096];
    setenv("WEFT_SEEDS", "7", 1);
    setenv("WEFT_SEED_BASE", "0x10", 1);
    setenv("WEFT_SIM_STRATEGY", "random", 1);
    ran = 0;
    assert_int_equal(captured_sweep(&counted_test, out, sizeof out), 0);
    assert_int_equal(ran, 7);
    unsetenv("WEFT_SEEDS");
    unsetenv("WEFT_SEED_BASE");
    /* the default strategy (swarm) may run PCT for this seed, which
     * probes the test's run length first (four more runs of the body) */
    unsetenv("WEFT_SIM_STRATEGY");
    setenv("WEFT_SEED", "18446744073709551615", 1);
    ran = 0;
    assert_int_equal(captured_sweep(&counted_test, out, sizeof out), 0);
    assert_int_equal(ran, weft__sim_swarm_strategy(UINT64_MAX, NULL) == WEFT_SIM_PCT ? 5 : 1);
    unsetenv("WEFT_SEED");
}

/* Seeds-file lines that are no seed fail the sweep, naming file and line,
 * and are not run; the good ones still are. */
static void seeds_file_lines_are_strict(void **state) {
    (void)state;
    char dir[] = "/tmp/weft-seeds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/counted.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# header\n3 good\n-1 negative\n12abc glued\n0x\n", f);
    for (int i = 0; i < 600; i++) /* a line of 600 digits: no seed, and no two */
        fputc('7', f);
    fputs("\n0x1f hex is fine\n", f);
    fclose(f);
    setenv("WEFT_SEEDS_DIR", dir, 1);
    setenv("WEFT_SEEDS", "0", 1);
    setenv("WEFT_SIM_STRATEGY", "random", 1); /* no probe runs (PCT's horizon) to count */
    char out[8192];
    ran = 0;
    int failed = captured_sweep(&counted_test, out, sizeof out);
    unsetenv("WEFT_SIM_STRATEGY");
    unsetenv("WEFT_SEEDS_DIR");
    unsetenv("WEFT_SEEDS");
    unlink(path);
    rmdir(dir);
    if (failed != 4 || ran != 2)
        fail_msg("failed=%d ran=%d: %s", failed, ran, out);
    assert_non_null(strstr(out, "counted.txt:3: \"-1 negative\" is no seed"));
    assert_non_null(strstr(out, "counted.txt:4: \"12abc glued\" is no seed"));
    assert_non_null(strstr(out, "counted.txt:5: \"0x\" is no seed"));
    assert_non_null(strstr(out, "counted.txt:6: line longer than"));
}

/* A trace path that cannot be opened fails the sweep once, naming the path
 * and the reason; one that cannot be written (a full disk) too. */
static void trace_path_errors_are_reported(void **state) {
    (void)state;
    char out[8192];
    setenv("WEFT_TRACE", "/nonexistent/x", 1);
    ran = 0;
    int failed = captured_sweep(&counted_test, out, sizeof out);
    if (failed == 0 || ran != 0 || !strstr(out, "WEFT_TRACE=/nonexistent/x") ||
        !strstr(out, "No such file or directory"))
        fail_msg("failed=%d ran=%d: %s", failed, ran, out);
    if (access("/dev/full", W_OK) == 0) {
        setenv("WEFT_TRACE", "/dev/full", 1);
        setenv("WEFT_SEEDS", "5", 1);
        failed = captured_sweep(&counted_test, out, sizeof out);
        unsetenv("WEFT_SEEDS");
        if (failed == 0 || !strstr(out, "/dev/full") || !strstr(out, "No space left on device"))
            fail_msg("failed=%d: %s", failed, out);
    }
    /* a trace directory (files per failing seed) that cannot be made: said
     * once, nothing run */
    setenv("WEFT_TRACE", "/nonexistent/dir/", 1);
    ran = 0;
    failed = captured_sweep(&counted_test, out, sizeof out);
    const char *first = strstr(out, "/nonexistent/dir/");
    if (failed == 0 || ran != 0 || !first || strstr(first + 1, "/nonexistent/dir/") ||
        !strstr(out, "No such file or directory"))
        fail_msg("failed=%d ran=%d: %s", failed, ran, out);
    unsetenv("WEFT_TRACE");
}

/* The sweep's runtimes and the body's copy allocate through the test's
 * allocator, the determinism check's event records too. */
static long sweep_allocs, sweep_live;
static void *sw_alloc(void *ctx, size_t n) {
    (void)ctx;
    void *p = malloc(n);
    sweep_allocs++;
    sweep_live += p != NULL;
    return p;
}
static void sw_free(void *ctx, void *p, size_t n) {
    (void)ctx, (void)n;
    sweep_live -= p != NULL;
    free(p);
}
static void sweep_uses_the_tests_allocator(void **state) {
    (void)state;
    static const weft_allocator a = {sw_alloc, sw_free, NULL};
    weft_sim_test t = {"counted", make_counted, sizeof(counted), NULL, &a, false};
    char out[4096];
    setenv("WEFT_SEEDS", "3", 1);
    setenv("WEFT_CHECK_DETERMINISM", "1", 1);
    setenv("WEFT_SIM_STRATEGY", "random", 1); /* no probe runs (PCT's horizon) to count */
    ran = 0;
    sweep_allocs = sweep_live = 0;
    assert_int_equal(captured_sweep(&t, out, sizeof out), 0);
    unsetenv("WEFT_SEEDS");
    unsetenv("WEFT_CHECK_DETERMINISM");
    unsetenv("WEFT_SIM_STRATEGY");
    assert_int_equal(ran, 6);
    assert_true(sweep_allocs >= 6 * 3); /* runtime, body, events, at least */
    assert_int_equal(sweep_live, 0);
}

/* ------------------------------------------------- processes and shards */

/* Fails on about one seed in twelve (its first random draw decides). */
typedef struct picky {
    weft_future base;
    weft_yield_now y;
} picky;
static weft_poll picky_poll(weft_future *f, weft_context *cx, void *out) {
    picky *p = (picky *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_yield_now(&p->y), NULL);
    WEFT_SIM_ASSERT(f, cx, weft_random_below(12) != 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(picky, picky_poll, NULL);
static void make_picky(weft_future *slot) { *(picky *)slot = WEFT_NEW(picky); }
static const weft_sim_test picky_test = {"picky", make_picky, sizeof(picky), NULL, NULL, false};

/* The "weft-sim: FAIL" lines of `out`, in order, into `lines`; and the
 * summary's counts. */
static void fail_lines(const char *out, char *lines, size_t n, unsigned long *ran_n,
                       unsigned long *failed_n) {
    lines[0] = 0;
    size_t at = 0;
    for (const char *p = out; (p = strstr(p, "weft-sim: FAIL ")); p++) {
        size_t len = strcspn(p, "\n");
        at += (size_t)snprintf(lines + at, n - at, "%.*s\n", (int)len, p);
        assert_true(at < n);
    }
    const char *sum = strstr(out, "weft-sim: picky: ");
    assert_non_null(sum);
    assert_int_equal(sscanf(sum, "weft-sim: picky: %lu seed(s) run (0 from seeds file), %lu failed",
                            ran_n, failed_n), 2);
}

/* WEFT_JOBS: the same failures, in seed order, with the same counts;
 * WEFT_SHARD: the shards' seeds, together, are the whole sweep's. */
static void jobs_and_shards_cover_the_sweep(void **state) {
    (void)state;
    static char out[65536], whole[16384], part[16384], merged[16384];
    unsigned long ran1, failed1, ran2, failed2;
    setenv("WEFT_SEEDS", "150", 1);
    setenv("WEFT_JOBS", "1", 1);
    int f1 = captured_sweep(&picky_test, out, sizeof out);
    fail_lines(out, whole, sizeof whole, &ran1, &failed1);
    assert_true(f1 > 3 && f1 <= 20); /* every failing seed has its line */
    assert_int_equal(ran1, 150);
    for (int jobs = 2; jobs <= 5; jobs += 3) {
        char num[8];
        snprintf(num, sizeof num, "%d", jobs);
        setenv("WEFT_JOBS", num, 1);
        assert_int_equal(captured_sweep(&picky_test, out, sizeof out), f1);
        fail_lines(out, part, sizeof part, &ran2, &failed2);
        assert_string_equal(part, whole);
        assert_int_equal(ran2, ran1);
        assert_int_equal(failed2, failed1);
    }
    /* three shards, one of them on two processes: every seed once */
    merged[0] = 0;
    unsigned long ran_sum = 0, failed_sum = 0;
    int fail_sum = 0;
    for (int i = 1; i <= 3; i++) {
        char shard[8];
        snprintf(shard, sizeof shard, "%d/3", i);
        setenv("WEFT_SHARD", shard, 1);
        setenv("WEFT_JOBS", i == 2 ? "2" : "1", 1);
        fail_sum += captured_sweep(&picky_test, out, sizeof out);
        fail_lines(out, part, sizeof part, &ran2, &failed2);
        assert_non_null(strstr(out, ", shard "));
        ran_sum += ran2;
        failed_sum += failed2;
        strncat(merged, part, sizeof merged - strlen(merged) - 1);
    }
    unsetenv("WEFT_SHARD");
    unsetenv("WEFT_JOBS");
    unsetenv("WEFT_SEEDS");
    assert_int_equal(ran_sum, ran1);
    assert_int_equal(failed_sum, failed1);
    assert_int_equal(fail_sum, f1);
    /* the same lines (shards interleave seeds, so compare as sets) */
    for (char *l = whole; *l; l = strchr(l, '\n') + 1) {
        char one[1024];
        snprintf(one, sizeof one, "%.*s", (int)strcspn(l, "\n"), l);
        assert_non_null(strstr(merged, one));
    }
    /* malformed knobs */
    refused("WEFT_SHARD", "0/3");
    refused("WEFT_SHARD", "4/3");
    refused("WEFT_SHARD", "1of3");
    refused("WEFT_JOBS", "0");
}

/* --------------------------------------------------------------- limits */

/* Task `spinner` yields until `waiter` has run: under PCT a change point
 * that demotes the waiter must not let the spinner starve it. */
typedef struct flag_setter {
    weft_future base;
    int *flag;
} flag_setter;
static weft_poll flag_setter_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    *((flag_setter *)f)->flag = 1;
    f->resume = WEFT__DONE;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(flag_setter, flag_setter_poll, NULL);

typedef struct spin_wait {
    weft_future base;
    int flag, self_wake;
    weft_join_handle jh;
    weft_yield_now y;
} spin_wait;
static weft_poll spin_wait_poll(weft_future *f, weft_context *cx, void *out) {
    spin_wait *s = (spin_wait *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(flag_setter, .flag = &s->flag), &s->jh);
    while (!s->flag) {
        if (s->self_wake) { /* a spin by waking itself, no yield request */
            weft_waker_wake_by_ref(weft_cx_waker(cx));
            /* the resume point and its label on one line, as WEFT_YIELD's */
            f->resume = __LINE__; return WEFT_PENDING; case __LINE__:;
        } else {
            WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
        }
    }
    WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spin_wait, spin_wait_poll, NULL);

/* Spawned as a task, so the spinner is a task too (the root has its own
 * priority). */
typedef struct spin_root {
    weft_future base;
    int self_wake;
    weft_join_handle jh;
} spin_root;
static weft_poll spin_root_poll(weft_future *f, weft_context *cx, void *out) {
    spin_root *r = (spin_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(spin_wait, .self_wake = r->self_wake), &r->jh);
    WEFT_AWAIT(f, cx, weft_join(&r->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spin_root, spin_root_poll, NULL);
static void make_spin_yield(weft_future *slot) { *(spin_root *)slot = WEFT_NEW(spin_root); }
static void make_spin_wake(weft_future *slot) {
    *(spin_root *)slot = WEFT_NEW(spin_root, .self_wake = 1);
}

static void pct_spin(weft_sim_test *t, int depth) {
    for (uint64_t seed = 0; seed < 300; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        b.sim_strategy = WEFT_SIM_PCT;
        b.sim_pct_depth = (uint32_t)depth;
        b.sim_max_steps = 20000; /* the spin ends within a few steps */
        weft_sim_result r;
        if (weft_sim_run(t, &b, &r) != 0)
            fail_msg("%s seed %llu depth %d: %s", t->name, (unsigned long long)seed, depth,
                     r.failure);
    }
}

static void pct_yield_spin_cannot_starve(void **state) {
    (void)state;
    weft_sim_test t = {"spin_yield", make_spin_yield, sizeof(spin_root), NULL, NULL, false};
    pct_spin(&t, 3);
    pct_spin(&t, 8);
}

static void pct_self_wake_spin_cannot_starve(void **state) {
    (void)state;
    weft_sim_test t = {"spin_wake", make_spin_wake, sizeof(spin_root), NULL, NULL, false};
    pct_spin(&t, 3);
    pct_spin(&t, 8);
}

/* The caller spins instead: it block_on's a future that is ready at once,
 * again and again, until a task it spawned before has run. */
typedef struct at_once {
    weft_future base;
} at_once;
static weft_poll at_once_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    f->resume = WEFT__DONE;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(at_once, at_once_poll, NULL);

static void pct_block_on_loop_cannot_starve(void **state) {
    (void)state;
    for (uint64_t seed = 0; seed < 300; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        b.sim_strategy = WEFT_SIM_PCT;
        b.sim_max_steps = 20000;
        weft_runtime *rt;
        assert_int_equal(weft_runtime_new(&b, &rt), 0);
        int flag = 0;
        weft_join_handle jh[3];
        for (int i = 0; i < 3; i++) /* more tasks, more change points land on one */
            assert_int_equal(weft_handle_spawn(weft_runtime_handle(rt),
                                               &WEFT_NEW(flag_setter, .flag = &flag), &jh[i]),
                             0);
        int rc = 0;
        while (!(weft_join_is_finished(&jh[0]) && weft_join_is_finished(&jh[1]) &&
                 weft_join_is_finished(&jh[2])) && rc == 0) {
            at_once a = WEFT_NEW(at_once);
            rc = weft_runtime_block_on(rt, &a.base, NULL);
        }
        for (int i = 0; i < 3; i++)
            weft_join_detach(&jh[i]);
        weft_runtime_free(rt);
        if (rc)
            fail_msg("seed %llu: %s", (unsigned long long)seed, weft_err_name(rc));
    }
}

/* A body that never ends: yields forever. */
typedef struct forever_spin {
    weft_future base;
    weft_yield_now y;
} forever_spin;
static weft_poll forever_spin_poll(weft_future *f, weft_context *cx, void *out) {
    forever_spin *s = (forever_spin *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;)
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(forever_spin, forever_spin_poll, NULL);

static void default_step_limit_ends_a_spin(void **state) {
    (void)state;
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    assert_true(b.sim_max_steps == WEFT_SIM_DEFAULT_MAX_STEPS);
    b.sim_max_steps = 1000; /* the default, scaled down for the test */
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    forever_spin s = WEFT_NEW(forever_spin);
    assert_int_equal(weft_runtime_block_on(rt, &s.base, NULL), WEFT_ELIVELOCK);
    assert_non_null(strstr(weft_sim_failure(weft_runtime_handle(rt)), "livelock: 1000 steps"));
    weft_runtime_free(rt);
}

/* A blocking call under the sim is a step of its own: no false deadlock,
 * and the result is its return value. */
static void *times_two(void *arg) { return (void *)((uintptr_t)arg * 2); }
typedef struct blocker {
    weft_future base;
    weft_join_handle jh;
    void *res;
} blocker;
static weft_poll blocker_poll(weft_future *f, weft_context *cx, void *out) {
    blocker *b = (blocker *)f;
    WEFT_BEGIN(f);
    weft_spawn_blocking(times_two, (void *)(uintptr_t)21, &b->jh);
    WEFT_AWAIT(f, cx, weft_join(&b->jh), &b->res);
    WEFT_RETURN(f, out, uintptr_t, (uintptr_t)b->res);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(blocker, blocker_poll, NULL, uintptr_t);

static void blocking_call_is_a_sim_step(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    blocker b = WEFT_NEW(blocker);
    uintptr_t got = 0;
    wt_block_on(env, &b.base, &got);
    assert_int_equal(got, 42);
}

static void local_sets_refused_on_the_sim(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_local_set *ls = (weft_local_set *)1;
    assert_int_equal(weft_local_set_new(weft_runtime_handle(wt_rt(env)), &ls), WEFT_ENOTSUP);
    assert_null(ls);
}

/* The call runs on the thread that drives the simulation, after a seeded
 * delay of virtual time (none with exact time): never on an OS thread. */
static pthread_t sim_thread;
static int off_thread_calls;
static void *times_three(void *arg) {
    if (!pthread_equal(pthread_self(), sim_thread))
        off_thread_calls++;
    return (void *)((uintptr_t)arg * 3);
}
typedef struct blocker3 {
    weft_future base;
    weft_join_handle jh;
    void *res;
} blocker3;
static weft_poll blocker3_poll(weft_future *f, weft_context *cx, void *out) {
    blocker3 *b = (blocker3 *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn_blocking(times_three, (void *)(uintptr_t)7, &b->jh);
    WEFT_AWAIT(f, cx, weft_join(&b->jh), &b->res);
    WEFT_SIM_ASSERT(f, cx, (uintptr_t)b->res == 21);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(blocker3, blocker3_poll, NULL);
static void make_blocker3(weft_future *slot) { *(blocker3 *)slot = WEFT_NEW(blocker3); }

static void blocking_call_after_a_seeded_delay(void **state) {
    (void)state;
    static const weft_sim_test t = {"blocker", make_blocker3, sizeof(blocker3), NULL, NULL, false};
    sim_thread = pthread_self();
    off_thread_calls = 0;
    weft_instant lo = WEFT_MS(2), hi = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        weft_sim_result r;
        assert_int_equal(weft_sim_run(&t, &b, &r), 0);
        lo = r.end_time < lo ? r.end_time : lo;
        hi = r.end_time > hi ? r.end_time : hi;
        b.sim_exact_time = true;
        assert_int_equal(weft_sim_run(&t, &b, &r), 0);
        assert_int_equal(r.end_time, 0);
    }
    assert_int_equal(off_thread_calls, 0);
    assert_true(lo < hi);            /* the delay is the seed's */
    assert_true(hi <= WEFT_MS(2));   /* 0, 1 or 2 ms */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocking_call_after_a_seeded_delay),
        cmocka_unit_test(env_numbers_are_strict),
        cmocka_unit_test(config_mistakes_are_refused),
        cmocka_unit_test(jobs_and_shards_cover_the_sweep),
        cmocka_unit_test(env_numbers_still_accepted),
        cmocka_unit_test(seeds_file_lines_are_strict),
        cmocka_unit_test(trace_path_errors_are_reported),
        cmocka_unit_test(sweep_uses_the_tests_allocator),
        cmocka_unit_test(pct_yield_spin_cannot_starve),
        cmocka_unit_test(pct_self_wake_spin_cannot_starve),
        cmocka_unit_test(pct_block_on_loop_cannot_starve),
        cmocka_unit_test(default_step_limit_ends_a_spin),
        WT_ONE(blocking_call_is_a_sim_step, 2, "sim"),
        WT_ONE(local_sets_refused_on_the_sim, 2, "sim"),
    };
    return WT_RUN("sim_inputs", tests);
}
