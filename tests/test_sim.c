/* weft tests — the simulator: determinism, schedules, liveness, fault
 * points, the trace, the harness's replay line, seeds files. */
#include "harness.h"
#include "sim_capture.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if WT_HAVE_FORK
#include <sys/wait.h>
#endif

#include "weft/sim.h"
#include "weft/sync.h"

/* ------------------------------------------------------------- workloads */

typedef struct worker {
    weft_future base;
    uint64_t *log; /* shared: order of steps, folded */
    int id, i;
    weft_sleep nap;
    weft_yield_now y;
} worker;

static weft_poll worker_poll(weft_future *f, weft_context *cx, void *out) {
    worker *w = (worker *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (w->i = 0; w->i < 3; w->i++) {
        *w->log = *w->log * 31 + (uint64_t)w->id;
        WEFT_AWAIT(f, cx, weft_sleep(&w->nap, WEFT_MS((int64_t)weft_random_below(3))), NULL);
        *w->log = *w->log * 31 + (uint64_t)w->id;
        WEFT_AWAIT(f, cx, weft_yield_now(&w->y), NULL);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(worker, worker_poll, NULL);

typedef struct crowd {
    weft_future base;
    uint64_t log;
    int i;
    weft_join_handle jh[4];
} crowd;

static weft_poll crowd_poll(weft_future *f, weft_context *cx, void *out) {
    crowd *c = (crowd *)f;
    WEFT_BEGIN(f);
    for (c->i = 0; c->i < 4; c->i++)
        weft_spawn(&WEFT_NEW(worker, .log = &c->log, .id = c->i + 1), &c->jh[c->i]);
    for (c->i = 0; c->i < 4; c->i++)
        WEFT_AWAIT(f, cx, weft_join(&c->jh[c->i]), NULL);
    WEFT_RETURN(f, out, uint64_t, c->log);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(crowd, crowd_poll, NULL, uint64_t);

static void make_crowd(weft_future *slot) { *(crowd *)slot = WEFT_NEW(crowd); }
static const weft_sim_test crowd_test = {"crowd", make_crowd, sizeof(crowd), NULL, NULL, false};

static weft_sim_result run_crowd(uint64_t seed, int strategy) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_strategy = strategy;
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&crowd_test, &b, &r), 0);
    return r;
}

/* -------------------------------------------------------------- the tests */

static void same_seed_same_fingerprint(void **state) {
    (void)state;
    for (int strategy = WEFT_SIM_RANDOM; strategy <= WEFT_SIM_PCT; strategy++)
        for (uint64_t seed = 0; seed < 20; seed++) {
            weft_sim_result a = run_crowd(seed, strategy), b = run_crowd(seed, strategy);
            assert_int_equal(a.fingerprint, b.fingerprint);
            assert_int_equal(a.steps, b.steps);
            assert_int_equal(a.end_time, b.end_time);
            assert_true(a.events > a.steps);
        }
}

static void different_seeds_different_schedules(void **state) {
    (void)state;
    for (int strategy = WEFT_SIM_RANDOM; strategy <= WEFT_SIM_PCT; strategy++) {
        uint64_t fp[50];
        int distinct = 0;
        for (uint64_t seed = 0; seed < 50; seed++) {
            fp[seed] = run_crowd(seed, strategy).fingerprint;
            bool seen = false;
            for (uint64_t j = 0; j < seed; j++)
                seen |= fp[j] == fp[seed];
            distinct += !seen;
        }
        assert_true(distinct >= 45);
    }
}

/* The schedule itself (not just the hash) differs: the workers' shared log
 * records the order in which they ran. */
static void schedule_order_depends_on_seed(void **state) {
    (void)state;
    uint64_t logs[20];
    int distinct = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        weft_runtime *rt;
        assert_int_equal(weft_runtime_new(&b, &rt), 0);
        crowd c = WEFT_NEW(crowd);
        assert_int_equal(weft_runtime_block_on(rt, &c.base, &logs[seed]), 0);
        weft_runtime_free(rt);
        bool seen = false;
        for (uint64_t j = 0; j < seed; j++)
            seen |= logs[j] == logs[seed];
        distinct += !seen;
    }
    assert_true(distinct >= 15);
}

/* A future that never becomes ready and stores no waker. */
typedef struct never {
    weft_future base;
} never;
static weft_poll never_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f, (void)cx, (void)out;
    return WEFT_PENDING;
}
WEFT_FUTURE_DEFINE_VOID(never, never_poll, NULL);

typedef struct stuck {
    weft_future base;
    never n;
} stuck;
static weft_poll stuck_poll(weft_future *f, weft_context *cx, void *out) {
    stuck *s = (stuck *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->n = WEFT_NEW(never);
    WEFT_AWAIT(f, cx, &s->n, NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(stuck, stuck_poll, NULL);

typedef struct waits_for_stuck {
    weft_future base;
    weft_join_handle jh;
} waits_for_stuck;
static weft_poll waits_poll(weft_future *f, weft_context *cx, void *out) {
    waits_for_stuck *w = (waits_for_stuck *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(stuck), &w->jh);
    WEFT_AWAIT(f, cx, weft_join(&w->jh), NULL);
    WEFT_END(f);
}
static void waits_drop(weft_future *f) { weft_join_detach(&((waits_for_stuck *)f)->jh); }
WEFT_FUTURE_DEFINE_VOID(waits_for_stuck, waits_poll, waits_drop);

static void deadlock_is_reported(void **state) {
    wt_env *env = WT_ENV(state);
    weft_runtime *rt = wt_rt(env);
    waits_for_stuck w = WEFT_NEW(waits_for_stuck);
    assert_int_equal(weft_runtime_block_on(rt, &w.base, NULL), WEFT_EDEADLOCK);
    const char *why = weft_sim_failure(weft_runtime_handle(rt));
    assert_non_null(why);
    assert_non_null(strstr(why, "deadlock"));
    assert_non_null(strstr(why, "task 1 spawned at " __FILE__ ":"));
    /* each waits at the line of its await, which its awaited future's
     * site does not give (never is made a line before; a join handle at
     * the spawn) */
    assert_non_null(strstr(why, ": stuck waiting at line "));
    assert_non_null(strstr(why, " of stuck, awaiting never (" __FILE__ ":"));
    assert_non_null(strstr(why, "root waits_for_stuck waiting at line "));
    assert_non_null(strstr(why, " of waits_for_stuck, awaiting weft_join_handle"));
}

typedef struct spinner {
    weft_future base;
    weft_yield_now y;
} spinner;
static weft_poll spinner_poll(weft_future *f, weft_context *cx, void *out) {
    spinner *s = (spinner *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;)
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spinner, spinner_poll, NULL);

static void livelock_by_steps(void **state) {
    wt_env *env = WT_ENV(state);
    env->builder.sim_max_steps = 1000;
    weft_runtime *rt = wt_rt(env);
    spinner s = WEFT_NEW(spinner);
    assert_int_equal(weft_runtime_block_on(rt, &s.base, NULL), WEFT_ELIVELOCK);
    assert_int_equal(weft_sim_steps(weft_runtime_handle(rt)), 1000);
    assert_non_null(strstr(weft_sim_failure(weft_runtime_handle(rt)), "livelock"));
}

typedef struct napper {
    weft_future base;
    int n;
    weft_sleep nap;
} napper;
static weft_poll napper_poll(weft_future *f, weft_context *cx, void *out) {
    napper *s = (napper *)f;
    WEFT_BEGIN(f);
    for (s->n = 0; s->n < 24 * 365; s->n++)
        WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_SECS(3600)), NULL);
    WEFT_RETURN(f, out, uint64_t, weft_now());
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(napper, napper_poll, NULL, uint64_t);

static void livelock_by_virtual_time(void **state) {
    wt_env *env = WT_ENV(state);
    env->builder.sim_max_time = WEFT_SECS(86400);
    weft_runtime *rt = wt_rt(env);
    napper s = WEFT_NEW(napper);
    assert_int_equal(weft_runtime_block_on(rt, &s.base, NULL), WEFT_ELIVELOCK);
    assert_non_null(strstr(weft_sim_failure(weft_runtime_handle(rt)), "virtual time"));
}

/* A year of hourly sleeps costs nothing. */
static void a_year_of_sleep_is_fast(void **state) {
    wt_env *env = WT_ENV(state);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    napper s = WEFT_NEW(napper);
    uint64_t end = 0;
    wt_block_on(env, &s.base, &end);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(end, (uint64_t)WEFT_SECS(3600) * 24 * 365);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(wall < 1.0);
}

/* Virtual time never follows the OS clock. */
typedef struct resumer {
    weft_future base;
} resumer;
static weft_poll resumer_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    WEFT_BEGIN(f);
    WEFT_RETURN(f, out, int, weft_time_resume());
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(resumer, resumer_poll, NULL, int);

static void clock_cannot_resume(void **state) {
    wt_env *env = WT_ENV(state);
    resumer r = WEFT_NEW(resumer);
    int got = 0;
    wt_block_on(env, &r.base, &got);
    assert_int_equal(got, WEFT_ENOTSUP);
    assert_true(weft_time_is_paused() == false); /* outside the runtime */
}

/* A body that stops early without dropping its JoinHandle leaks the task:
 * the harness fails the seed. */
typedef struct leaky {
    weft_future base;
    weft_join_handle jh;
} leaky;
static weft_poll leaky_poll(weft_future *f, weft_context *cx, void *out) {
    leaky *s = (leaky *)f;
    (void)out;
    WEFT_BEGIN(f);
    (void)cx;
    weft_spawn(&WEFT_NEW(stuck), &s->jh); /* and never joined nor detached */
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(leaky, leaky_poll, NULL);
static void make_leaky(weft_future *slot) { *(leaky *)slot = WEFT_NEW(leaky); }

/* A channel made with a NULL allocator inside the run and never dropped:
 * it came from the runtime's allocator, so the leak check sees it. */
typedef struct forgets_channel {
    weft_future base;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
} forgets_channel;
static weft_poll forgets_channel_poll(weft_future *f, weft_context *cx, void *out) {
    forgets_channel *s = (forgets_channel *)f;
    (void)cx, (void)out;
    WEFT_BEGIN(f);
    if (weft_mpsc_unbounded(sizeof(int), NULL, &s->tx, &s->rx) != 0)
        WEFT_FAIL(f, cx, WEFT_ENOMEM);
    WEFT_END(f); /* neither end dropped */
}
WEFT_FUTURE_DEFINE_VOID(forgets_channel, forgets_channel_poll, NULL);
static void make_forgets_channel(weft_future *slot) {
    *(forgets_channel *)slot = WEFT_NEW(forgets_channel);
}

/* An allocator that remembers its blocks, so the test can free the leak. */
static void *tracked[64];
static void *track_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *p = malloc(size);
    for (int i = 0; p && i < 64; i++)
        if (!tracked[i]) {
            tracked[i] = p;
            break;
        }
    return p;
}
static void track_free(void *ctx, void *p, size_t size) {
    (void)ctx, (void)size;
    for (int i = 0; i < 64; i++)
        if (tracked[i] == p)
            tracked[i] = NULL;
    free(p);
}

static void harness_catches_leaks(void **state) {
    (void)state;
    static const weft_sim_test t = {"leaky", make_leaky, sizeof(leaky), NULL, NULL, false};
    weft_sim_result r;
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.allocator = (weft_allocator){track_alloc, track_free, NULL};
    assert_int_equal(weft_sim_run(&t, &b, &r), WEFT_EFAILED);
    for (int i = 0; i < 64; i++) { /* what the leaky run left behind */
        free(tracked[i]);
        tracked[i] = NULL;
    }
    if (!strstr(r.failure, "leak: ") || !strstr(r.failure, "outlived the runtime"))
        fail_msg("got: %s", r.failure);
    /* a channel with a NULL allocator: the runtime's (counted), not malloc */
    static const weft_sim_test c = {"forgets_channel", make_forgets_channel,
                                    sizeof(forgets_channel), NULL, NULL, false};
    assert_int_equal(weft_sim_run(&c, &b, &r), WEFT_EFAILED);
    for (int i = 0; i < 64; i++) {
        free(tracked[i]);
        tracked[i] = NULL;
    }
    if (!strstr(r.failure, "leak: 1 allocation(s) outlived the runtime"))
        fail_msg("got: %s", r.failure);
}

/* Draws through the runtime come from the seed. */
typedef struct drawer {
    weft_future base;
} drawer;
static weft_poll drawer_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    WEFT_BEGIN(f);
    WEFT_RETURN(f, out, uint64_t, weft_random_u64() ^ (weft_random_below(1000) << 1));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(drawer, drawer_poll, NULL, uint64_t);

static uint64_t draw_with(uint64_t seed, uint64_t *fp) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    drawer d = WEFT_NEW(drawer);
    uint64_t v = 0;
    assert_int_equal(weft_runtime_block_on(rt, &d.base, &v), 0);
    *fp = weft_sim_fingerprint(weft_runtime_handle(rt));
    assert_int_equal(weft_sim_events(weft_runtime_handle(rt)), 3); /* pick, 2 draws */
    weft_runtime_free(rt);
    return v;
}

static void random_comes_from_the_seed(void **state) {
    (void)state;
    uint64_t fa, fb, fc;
    assert_int_equal(draw_with(7, &fa), draw_with(7, &fb));
    assert_int_equal(fa, fb);
    assert_int_not_equal(draw_with(8, &fc), draw_with(7, &fb));
    assert_int_not_equal(fc, fb);
}

/* Fault points: two stages. */
typedef struct faulty {
    weft_future base;
} faulty;
static int site_fires[3];
static int evaluations;
static weft_poll faulty_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    WEFT_BEGIN(f);
    for (int i = 0; i < 100; i++) {
        evaluations++;
        site_fires[0] += WEFT_BUGGIFY();
        site_fires[1] += WEFT_BUGGIFY_P(50);
        site_fires[2] += WEFT_BUGGIFY_P(100);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(faulty, faulty_poll, NULL);

static void buggify_two_stages(void **state) {
    (void)state;
    assert_false(WEFT_BUGGIFY()); /* outside any runtime */
    int enabled[3] = {0}, seeds = 400;
    long fired50 = 0, on50 = 0;
    for (int seed = 0; seed < seeds; seed++) {
        memset(site_fires, 0, sizeof site_fires);
        evaluations = 0;
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = (uint64_t)seed;
        weft_runtime *rt;
        assert_int_equal(weft_runtime_new(&b, &rt), 0);
        faulty fz = WEFT_NEW(faulty);
        assert_int_equal(weft_runtime_block_on(rt, &fz.base, NULL), 0);
        weft_runtime_free(rt);
        assert_int_equal(evaluations, 100);
        for (int s = 0; s < 3; s++)
            enabled[s] += site_fires[s] > 0;
        /* stage one: a disabled site never fires; an enabled one at 100% always */
        assert_true(site_fires[2] == 0 || site_fires[2] == 100);
        if (site_fires[1]) {
            on50++;
            fired50 += site_fires[1];
        }
    }
    for (int s = 0; s < 3; s++) /* each site is on in about 25% of runs */
        assert_true(enabled[s] > seeds / 8 && enabled[s] < seeds * 3 / 8);
    double rate = (double)fired50 / (double)(on50 * 100); /* stage two */
    assert_true(rate > 0.45 && rate < 0.55);
    /* the production runtime never fires */
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(NULL, &rt), 0);
    memset(site_fires, 0, sizeof site_fires);
    faulty fz = WEFT_NEW(faulty);
    assert_int_equal(weft_runtime_block_on(rt, &fz.base, NULL), 0);
    weft_runtime_free(rt);
    assert_int_equal(site_fires[0] + site_fires[1] + site_fires[2], 0);
}

static void trace_file_lists_events(void **state) {
    (void)state;
    char path[] = "/tmp/weft-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = 3;
    b.sim_trace_path = path;
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&crowd_test, &b, &r), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512], last[512] = "";
    uint64_t lines = 0;
    bool spawn = false, pick = false, time = false, wake = false, random = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '#')
            lines++;
        spawn |= strstr(line, " spawn task=1 site=") != NULL;
        pick |= strstr(line, " pick task=") != NULL;
        time |= strstr(line, " time now=0.00") != NULL;
        wake |= strstr(line, "by=timer") != NULL;
        random |= strstr(line, " random 0x") != NULL;
        snprintf(last, sizeof last, "%s", line);
    }
    fclose(f);
    unlink(path);
    assert_true(spawn && pick && time && wake && random);
    assert_int_equal(lines, r.events);
    char want[64];
    snprintf(want, sizeof want, "fingerprint=%016llx", (unsigned long long)r.fingerprint);
    assert_non_null(strstr(last, want));
}

/* --------------------------------------------------- the sweep's output */

typedef struct flaky {
    weft_future base;
} flaky;
static weft_poll flaky_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    WEFT_BEGIN(f);
    WEFT_SIM_ASSERT(f, cx, weft_random_below(4) != 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(flaky, flaky_poll, NULL);
static void make_flaky(weft_future *slot) { *(flaky *)slot = WEFT_NEW(flaky); }


static void replay_line_format(void **state) {
    (void)state;
    static const weft_sim_test t = {"flaky", make_flaky, sizeof(flaky), NULL, NULL, false};
    char out[16384];
    setenv("WEFT_SEEDS", "40", 1);
    int failed = captured_sweep(&t, out, sizeof out);
    unsetenv("WEFT_SEEDS");
    assert_true(failed > 0 && failed < 40);
    /* one line per failing seed: test, seed, the command that replays it */
    char *line = strstr(out, "weft-sim: FAIL flaky seed=");
    assert_non_null(line);
    unsigned long long seed;
    assert_int_equal(sscanf(line, "weft-sim: FAIL flaky seed=%llu", &seed), 1);
    char *eol = strchr(line, '\n');
    assert_non_null(eol);
    *eol = 0;
    char want[128];
    snprintf(want, sizeof want, "replay: WEFT_SEED=%llu ", seed);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "test_sim --test flaky"));
    assert_non_null(strstr(eol + 1, "weft-sim: flaky: 40 seed(s) run"));
    assert_non_null(strstr(eol + 1, "seeds/s"));
    /* replaying that seed fails again, alone */
    char env[32];
    snprintf(env, sizeof env, "%llu", seed);
    setenv("WEFT_SEED", env, 1);
    assert_int_equal(captured_sweep(&t, out, sizeof out), 1);
    unsetenv("WEFT_SEED");
    assert_non_null(strstr(out, "1 seed(s) run"));
}

static void seeds_file_replayed_first(void **state) {
    (void)state;
    char dir[] = "/tmp/weft-seeds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/flaky.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# regression seeds for flaky\n12  a note\n0x10 hex works too\n\n", f);
    fclose(f);
    static const weft_sim_test t = {"flaky", make_flaky, sizeof(flaky), NULL, NULL, false};
    setenv("WEFT_SEEDS_DIR", dir, 1);
    setenv("WEFT_SEEDS", "0", 1);
    char out[8192];
    captured_sweep(&t, out, sizeof out);
    unsetenv("WEFT_SEEDS_DIR");
    unsetenv("WEFT_SEEDS");
    unlink(path);
    rmdir(dir);
    assert_non_null(strstr(out, "2 seed(s) run (2 from seeds file)"));
}

/* A body that is not deterministic: it reads state that survives the run. */
static int leaked_counter;
typedef struct impure {
    weft_future base;
    int i;
    weft_yield_now y;
} impure;
static weft_poll impure_poll(weft_future *f, weft_context *cx, void *out) {
    impure *s = (impure *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < 3 + (leaked_counter++ % 2); s->i++)
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(impure, impure_poll, NULL);
static void make_impure(weft_future *slot) { *(impure *)slot = WEFT_NEW(impure); }

static void determinism_check_names_first_difference(void **state) {
    (void)state;
    static const weft_sim_test t = {"impure", make_impure, sizeof(impure), NULL, NULL, false};
    char out[8192];
    setenv("WEFT_CHECK_DETERMINISM", "1", 1);
    setenv("WEFT_SEED", "5", 1);
    /* random: a PCT seed's probe runs (four) would shift the leaked
     * counter, and which two runs then differ is luck */
    setenv("WEFT_SIM_STRATEGY", "random", 1);
    int failed = captured_sweep(&t, out, sizeof out);
    unsetenv("WEFT_SIM_STRATEGY");
    unsetenv("WEFT_SEED");
    unsetenv("WEFT_CHECK_DETERMINISM");
    assert_int_equal(failed, 1);
    assert_non_null(strstr(out, "NONDETERMINISTIC seed=5"));
    assert_non_null(strstr(out, "differ first at event"));
    assert_non_null(strstr(out, "run 1: "));
    assert_non_null(strstr(out, "run 2: "));
    /* a deterministic body passes the check */
    setenv("WEFT_CHECK_DETERMINISM", "1", 1);
    setenv("WEFT_SEEDS", "20", 1);
    failed = captured_sweep(&crowd_test, out, sizeof out);
    unsetenv("WEFT_SEEDS");
    unsetenv("WEFT_CHECK_DETERMINISM");
    assert_int_equal(failed, 0);
    assert_non_null(strstr(out, "determinism checked"));
}

/* Two tasks take two locks in opposite orders.  On a FIFO run queue the
 * second task starts late enough never to deadlock; some seeds interleave
 * them so each holds one lock and waits for the other, and the deadlock
 * report names both tasks and the lock each waits in. */
typedef struct locker {
    weft_future base;
    weft_mutex *first, *second;
    int delay, i;
    weft_lock_op op;
    weft_yield_now y;
} locker;
static weft_poll locker_poll(weft_future *f, weft_context *cx, void *out) {
    locker *s = (locker *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < s->delay; s->i++)
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
    WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, s->first), NULL);
    WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL); /* some work */
    WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, s->second), NULL);
    weft_mutex_unlock(s->second);
    weft_mutex_unlock(s->first);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(locker, locker_poll, NULL);

typedef struct lock_order {
    weft_future base;
    weft_mutex a, b;
    weft_join_handle j1, j2;
} lock_order;
static int lock_order_spawn_line, lock_order_join_line; /* for the report's check */
static weft_poll lock_order_poll(weft_future *f, weft_context *cx, void *out) {
    lock_order *s = (lock_order *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_mutex_init(&s->a);
    weft_mutex_init(&s->b);
    lock_order_spawn_line = __LINE__ + 1;
    weft_spawn(&WEFT_NEW(locker, .first = &s->a, .second = &s->b, .delay = 0), &s->j1);
    weft_spawn(&WEFT_NEW(locker, .first = &s->b, .second = &s->a, .delay = 3), &s->j2);
    lock_order_join_line = __LINE__ + 1;
    WEFT_AWAIT(f, cx, weft_join(&s->j1), NULL);
    WEFT_AWAIT(f, cx, weft_join(&s->j2), NULL);
    WEFT_END(f);
}
/* The mutexes hold no memory; tasks still waiting on them at a deadlock
 * are cancelled when the runtime is freed, before the body's storage goes. */
static void lock_order_drop(weft_future *f) {
    lock_order *s = (lock_order *)f;
    weft_join_detach(&s->j1);
    weft_join_detach(&s->j2);
}
WEFT_FUTURE_DEFINE_VOID(lock_order, lock_order_poll, lock_order_drop);
static void make_lock_order(weft_future *slot) { *(lock_order *)slot = WEFT_NEW(lock_order); }

static void lock_order_deadlock_found(void **state) {
    (void)state;
    /* FIFO: never */
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(NULL, &rt), 0);
    lock_order plain = WEFT_NEW(lock_order);
    assert_int_equal(weft_runtime_block_on(rt, &plain.base, NULL), 0);
    weft_runtime_free(rt);
    /* the simulator: within 200 seeds, with a report naming both waits */
    static const weft_sim_test t = {"lock_order", make_lock_order, sizeof(lock_order), NULL, NULL, false};
    int found = 0;
    for (uint64_t seed = 0; seed < 200 && !found; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        weft_sim_result r;
        if (weft_sim_run(&t, &b, &r) == 0)
            continue;
        found = 1;
        char root_wait[256];
        snprintf(root_wait, sizeof root_wait,
                 "root lock_order waiting at line %d of lock_order, awaiting weft_join_handle "
                 "(%s:%d)", lock_order_join_line, __FILE__, lock_order_spawn_line);
        assert_int_equal(r.err, WEFT_EDEADLOCK);
        assert_non_null(strstr(r.failure, "2 task(s) blocked"));
        assert_non_null(strstr(r.failure, "task 1 spawned at"));
        assert_non_null(strstr(r.failure, "task 2 spawned at"));
        /* a mutex's lock by its name, its holder and where each waits */
        if (!strstr(r.failure, "task 1 spawned at " __FILE__) ||
            !strstr(r.failure, "locker, awaiting weft_mutex_lock (" __FILE__ ":") ||
            !strstr(r.failure, " held by task 2 (locked at " __FILE__ ":") ||
            !strstr(r.failure, " held by task 1 (locked at " __FILE__ ":") ||
            !strstr(r.failure, root_wait))
            fail_msg("%s", r.failure);
    }
    assert_true(found);
}

/* The two death tests run their body in a forked child (tests/meson.build
 * defines WT_HAVE_FORK where fork exists); elsewhere they are skipped. */
#if WT_HAVE_FORK
/* A seed that crashes the process still prints its replay line. */
typedef struct crasher {
    weft_future base;
} crasher;
static weft_poll crasher_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    WEFT_BEGIN(f);
    if (weft_random_below(8) == 0)
        abort(); /* stands for a use-after-free the schedule exposed */
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(crasher, crasher_poll, NULL);
static void make_crasher(weft_future *slot) { *(crasher *)slot = WEFT_NEW(crasher); }

static void crash_prints_replay_line(void **state) {
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        static const weft_sim_test t = {"crasher", make_crasher, sizeof(crasher), NULL, NULL, false};
        setenv("WEFT_SEEDS", "1000", 1);
        weft_sim_sweep(&t);
        _exit(0);
    }
    close(pipefd[1]);
    int status;
    char buf[2048] = "";
    size_t got = 0;
    ssize_t n;
    while ((n = read(pipefd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = 0;
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    char *line = strstr(buf, "weft-sim: CRASH crasher seed=");
    assert_non_null(line);
    unsigned long long seed;
    assert_int_equal(sscanf(line, "weft-sim: CRASH crasher seed=%llu", &seed), 1);
    char want[64];
    snprintf(want, sizeof want, "replay: WEFT_SEED=%llu ", seed);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "--test crasher"));
}

/* A wake from another OS thread is misuse: the process aborts, saying why. */
static weft_waker stolen;
typedef struct parks {
    weft_future base;
} parks;
static weft_poll parks_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f, (void)out;
    stolen = weft_waker_clone(weft_cx_waker(cx));
    return WEFT_PENDING;
}
WEFT_FUTURE_DEFINE_VOID(parks, parks_poll, NULL);
static void *wake_from_thread(void *arg) {
    (void)arg;
    weft_waker_wake(&stolen);
    return NULL;
}

static void foreign_wake_aborts(void **state) {
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        weft_runtime *rt;
        weft_runtime_new(&b, &rt);
        weft_join_handle jh;
        weft_handle_spawn(weft_runtime_handle(rt), &WEFT_NEW(parks), &jh);
        /* run the task once so it hands its waker out, then wake it from a thread */
        never n = WEFT_NEW(never);
        weft_runtime_block_on(rt, &n.base, NULL); /* deadlocks after parks ran */
        pthread_t th;
        pthread_create(&th, NULL, wake_from_thread, NULL);
        pthread_join(th, NULL);
        _exit(0);
    }
    close(pipefd[1]);
    int status;
    waitpid(pid, &status, 0);
    char buf[512] = "";
    ssize_t got = read(pipefd[0], buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = 0;
    close(pipefd[0]);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    assert_non_null(strstr(buf, "woken from another OS thread"));
}
#else
static void crash_prints_replay_line(void **state) {
    (void)state;
    skip();
}
static void foreign_wake_aborts(void **state) {
    (void)state;
    skip();
}
#endif

/* A reader waits on a write lock its own root holds while joining it. */
typedef struct reader {
    weft_future base;
    weft_rwlock *l;
    weft_acquire_op op;
} reader;
static weft_poll reader_poll(weft_future *f, weft_context *cx, void *out) {
    reader *r = (reader *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_rwlock_read(&r->op, r->l), NULL);
    weft_rwlock_read_unlock(r->l);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(reader, reader_poll, NULL);
typedef struct write_then_join {
    weft_future base;
    weft_rwlock l;
    weft_acquire_op op;
    weft_join_handle jh;
} write_then_join;
static weft_poll write_then_join_poll(weft_future *f, weft_context *cx, void *out) {
    write_then_join *w = (write_then_join *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_rwlock_init(&w->l);
    WEFT_AWAIT(f, cx, weft_rwlock_write(&w->op, &w->l), NULL);
    weft_spawn(&WEFT_NEW(reader, .l = &w->l), &w->jh);
    WEFT_AWAIT(f, cx, weft_join(&w->jh), NULL);
    WEFT_END(f);
}
static void write_then_join_drop(weft_future *f) { weft_join_detach(&((write_then_join *)f)->jh); }
WEFT_FUTURE_DEFINE_VOID(write_then_join, write_then_join_poll, write_then_join_drop);
static void make_write_then_join(weft_future *slot) {
    *(write_then_join *)slot = WEFT_NEW(write_then_join);
}

static void rwlock_wait_named_in_deadlock(void **state) {
    (void)state;
    static const weft_sim_test t = {"write_then_join", make_write_then_join,
                                    sizeof(write_then_join), NULL, NULL, false};
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&t, &b, &r), WEFT_EDEADLOCK);
    if (!strstr(r.failure, "reader, awaiting weft_rwlock_read (" __FILE__ ":"))
        fail_msg("%s", r.failure);
}

/* ------------------------------------------------------- time that passes */

/* A task that never waits (it only yields) beside a 5 ms timer: the
 * busy task records the step at which the timer's task had run. */
typedef struct alarm_task {
    weft_future base;
    bool *rang;
    weft_instant *at;
    weft_sleep nap;
} alarm_task;
static weft_poll alarm_task_poll(weft_future *f, weft_context *cx, void *out) {
    alarm_task *a = (alarm_task *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&a->nap, WEFT_MS(5)), NULL);
    *a->rang = true;
    *a->at = weft_now();
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(alarm_task, alarm_task_poll, NULL);

typedef struct busy_body {
    weft_future base;
    bool rang;
    weft_instant at;
    int i, rang_at;
    weft_join_handle jh;
    weft_yield_now y;
} busy_body;
static int busy_rang_at; /* the step of the busy loop at which the alarm had rung */
static weft_instant busy_alarm_at;
static weft_poll busy_body_poll(weft_future *f, weft_context *cx, void *out) {
    busy_body *b = (busy_body *)f;
    (void)out;
    WEFT_BEGIN(f);
    b->rang_at = -1;
    weft_spawn(&WEFT_NEW(alarm_task, .rang = &b->rang, .at = &b->at), &b->jh);
    for (b->i = 0; b->i < 200; b->i++) {
        if (b->rang && b->rang_at < 0)
            b->rang_at = b->i;
        WEFT_AWAIT(f, cx, weft_yield_now(&b->y), NULL);
    }
    WEFT_AWAIT(f, cx, weft_join(&b->jh), NULL);
    busy_rang_at = b->rang_at;
    busy_alarm_at = b->at;
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(busy_body, busy_body_poll, NULL);
static void make_busy(weft_future *slot) { *(busy_body *)slot = WEFT_NEW(busy_body); }
static const weft_sim_test busy_test = {"busy", make_busy, sizeof(busy_body), NULL, NULL, false};

static void busy_run(uint64_t seed, int64_t step_time, int64_t slack, int strategy, bool exact) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_strategy = strategy;
    b.sim_step_time = step_time;
    b.sim_timer_slack = slack;
    b.sim_exact_time = exact;
    weft_sim_result r;
    busy_rang_at = -2;
    assert_int_equal(weft_sim_run(&busy_test, &b, &r), 0);
}

/* With a step time the timer fires between two steps of a task that
 * never waits; without one, only once nothing else is ready. */
static void timer_fires_while_a_task_is_busy(void **state) {
    (void)state;
    for (uint64_t seed = 0; seed < 20; seed++) {
        busy_run(seed, 0, 0, WEFT_SIM_RANDOM, false);
        assert_int_equal(busy_rang_at, -1); /* time stood still while it ran */
        assert_int_equal(busy_alarm_at, WEFT_MS(5));
        busy_run(seed, WEFT_US(200), 0, WEFT_SIM_RANDOM, false);
        assert_true(busy_rang_at > 0 && busy_rang_at < 200);
        assert_true(busy_alarm_at >= WEFT_MS(5)); /* never early */
    }
}

/* Timers fire late by a seeded amount, never early; the builder's
 * exact-time option keeps swarm from drawing either knob. */
static void timers_fire_late_never_early(void **state) {
    (void)state;
    bool late = false;
    for (uint64_t seed = 0; seed < 50; seed++) {
        busy_run(seed, 0, WEFT_MS(3), WEFT_SIM_RANDOM, false);
        assert_true(busy_alarm_at >= WEFT_MS(5));
        assert_true(busy_alarm_at <= WEFT_MS(8));
        late |= busy_alarm_at > WEFT_MS(5);
    }
    assert_true(late);
    bool passed = false;
    for (uint64_t seed = 0; seed < 64; seed++) {
        busy_run(seed, 0, 0, WEFT_SIM_SWARM, true);
        assert_int_equal(busy_rang_at, -1);
        assert_int_equal(busy_alarm_at, WEFT_MS(5));
        busy_run(seed, 0, 0, WEFT_SIM_SWARM, false);
        passed |= busy_rang_at >= 0 || busy_alarm_at != WEFT_MS(5);
    }
    assert_true(passed); /* some swarm seeds let time pass */
}

/* The result names what a swarm seed drew; the same seed, the same run. */
static void swarm_seed_fixes_its_strategy(void **state) {
    (void)state;
    int kinds = 0;
    for (uint64_t seed = 0; seed < 32; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        b.sim_strategy = WEFT_SIM_SWARM;
        b.sim_pct_horizon = 20;
        weft_sim_result r1, r2;
        assert_int_equal(weft_sim_run(&busy_test, &b, &r1), 0);
        assert_int_equal(weft_sim_run(&busy_test, &b, &r2), 0);
        assert_int_equal(r1.fingerprint, r2.fingerprint);
        assert_string_equal(r1.strategy, r2.strategy);
        assert_true(strncmp(r1.strategy, "swarm: ", 7) == 0);
        kinds |= strstr(r1.strategy, "random") ? 1 : 0;
        kinds |= strstr(r1.strategy, "pct depth 2 horizon 20") ? 2 : 0;
        kinds |= strstr(r1.strategy, "pct depth 5") ? 4 : 0;
        kinds |= strstr(r1.strategy, "steps up to") ? 8 : 0;
    }
    assert_int_equal(kinds, 15);
}

/* ------------------------------------------- the scheduler's short ways */

/* Many tasks at once (the ready set grows past its first size, and gives
 * memory back as it drains), yielding, waking each other through a
 * mutex, and sleeping (timer wakes): every event kind the scheduler's
 * short ways fold. */
#define CHURNERS 150

typedef struct churner {
    weft_future base;
    weft_mutex *mu;
    uint64_t *log;
    int id, i;
    weft_lock_op lk;
    weft_sleep nap;
    weft_yield_now y;
} churner;

static weft_poll churner_poll(weft_future *f, weft_context *cx, void *out) {
    churner *c = (churner *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (c->i = 0; c->i < 4; c->i++) {
        WEFT_AWAIT(f, cx, weft_yield_now(&c->y), NULL);
        WEFT_AWAIT(f, cx, weft_mutex_lock(&c->lk, c->mu), NULL);
        *c->log = *c->log * 31 + (uint64_t)c->id;
        if (weft_random_below(4) == 0) /* the others wait for the lock meanwhile */
            WEFT_AWAIT(f, cx, weft_sleep(&c->nap, WEFT_MS((int64_t)weft_random_below(3))), NULL);
        weft_mutex_unlock(c->mu);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(churner, churner_poll, NULL);

typedef struct churn {
    weft_future base;
    weft_mutex mu;
    uint64_t log;
    int i;
    weft_join_handle jh[CHURNERS];
} churn;

static weft_poll churn_poll(weft_future *f, weft_context *cx, void *out) {
    churn *c = (churn *)f;
    WEFT_BEGIN(f);
    weft_mutex_init(&c->mu);
    for (c->i = 0; c->i < CHURNERS; c->i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(churner, .mu = &c->mu, .log = &c->log,
                                              .id = c->i + 1),
                                    &c->jh[c->i]),
                         0);
    for (c->i = 0; c->i < CHURNERS; c->i++)
        WEFT_AWAIT(f, cx, weft_join(&c->jh[c->i]), NULL);
    weft_mutex_destroy(&c->mu);
    WEFT_RETURN(f, out, uint64_t, c->log);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(churn, churn_poll, NULL, uint64_t);

typedef struct churn_run {
    uint64_t fingerprint, steps, log;
} churn_run;

static churn_run run_churn(uint64_t seed, int strategy, const char *trace) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_strategy = strategy;
    b.sim_trace_path = trace;
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    churn_run r = {0};
    churn *c = malloc(sizeof *c); /* 150 join handles: not on the stack */
    assert_non_null(c);
    *c = WEFT_NEW(churn);
    assert_int_equal(weft_runtime_block_on(rt, &c->base, &r.log), 0);
    free(c);
    r.fingerprint = weft_sim_fingerprint(weft_runtime_handle(rt));
    r.steps = weft_sim_steps(weft_runtime_handle(rt));
    weft_runtime_free(rt);
    return r;
}

/* A run that records nothing takes the scheduler's short ways (an event
 * folded inline, a pick drawn inline); one with a text trace takes the
 * long ones.  Both must make the same decisions and fold the same
 * events, and both must be the runs the simulator made before the short
 * ways and the ready set's shrinking existed: the fingerprints below are
 * those of the simulator at 3ae30be (seeds 0..7, uniform random). */
static void short_ways_fold_what_the_long_ways_do(void **state) {
    (void)state;
    static const uint64_t before[8] = {
        UINT64_C(0xd0a78a6fc982cc3a), UINT64_C(0x725acb0ccdf0ec82), UINT64_C(0x012fb431fb93b572),
        UINT64_C(0xa1a34aa73b588908), UINT64_C(0x93bfd44aebf1925b), UINT64_C(0x9cf8bf864b8fcd55),
        UINT64_C(0xf33506d916565dd7), UINT64_C(0x578ebb818b70a9d6),
    };
    char path[] = "/tmp/weft-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (uint64_t seed = 0; seed < 8; seed++) {
        churn_run fast = run_churn(seed, WEFT_SIM_RANDOM, NULL);
        churn_run slow = run_churn(seed, WEFT_SIM_RANDOM, path);
        assert_int_equal(fast.fingerprint, slow.fingerprint);
        assert_int_equal(fast.steps, slow.steps);
        assert_int_equal(fast.log, slow.log);
        assert_true(fast.steps > 4 * CHURNERS);
        assert_int_equal(fast.fingerprint, before[seed]);
    }
    unlink(path);
}

/* ------------------------------------------- the ready set gives back */

/* An allocator that counts the bytes it has out. */
static void *counted_alloc(void *ctx, size_t size) {
    *(size_t *)ctx += size;
    return malloc(size);
}
static void counted_free(void *ctx, void *p, size_t size) {
    if (p)
        *(size_t *)ctx -= size;
    free(p);
}

#define IDLERS 100000

typedef struct idler {
    weft_future base;
    int *polled;
} idler;
static weft_poll idler_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    ++*((idler *)f)->polled;
    return WEFT_PENDING; /* nobody wakes it: idle until the runtime goes */
}
WEFT_FUTURE_DEFINE_VOID(idler, idler_poll, NULL);

/* Spawns IDLERS tasks (their first polls all queued at once), notes the
 * bytes out then, yields until each had its poll, and notes them again. */
typedef struct idle_crowd {
    weft_future base;
    const size_t *out_bytes;
    size_t queued, idle;
    int polled;
} idle_crowd;
static weft_poll idle_crowd_poll(weft_future *f, weft_context *cx, void *out) {
    idle_crowd *c = (idle_crowd *)f;
    (void)out;
    if (f->resume == 0) {
        for (int i = 0; i < IDLERS; i++)
            assert_int_equal(weft_spawn(&WEFT_NEW(idler, .polled = &c->polled), NULL), 0);
        c->queued = *c->out_bytes;
        f->resume = 1;
    }
    if (c->polled < IDLERS) {
        weft_yield_request(cx);
        return WEFT_PENDING;
    }
    c->idle = *c->out_bytes;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(idle_crowd, idle_crowd_poll, NULL);

static void quiet_diag(void *ctx, const char *what, const char *site) {
    (void)ctx, (void)what, (void)site;
}

/* Once the tasks queued together have been polled and sit idle, the ready
 * set that held them all (IDLERS entries, 800 KB at least) gives back all
 * but its floor (16384 entries): polling allocates nothing else, so the
 * bytes out drop by that much. */
static void ready_set_shrinks_when_drained(void **state) {
    (void)state;
    size_t out_bytes = 0;
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = 5;
    b.allocator = (weft_allocator){counted_alloc, counted_free, &out_bytes};
    b.on_diagnostic = quiet_diag; /* IDLERS tasks alive at shutdown are no news */
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    idle_crowd c = WEFT_NEW(idle_crowd, .out_bytes = &out_bytes);
    assert_int_equal(weft_runtime_block_on(rt, &c.base, NULL), 0);
    assert_int_equal(c.polled, IDLERS);
    assert_true(c.queued >= c.idle + (IDLERS - 16384) * sizeof(void *));
    /* and the run is the one the simulator made before it gave memory
     * back (at 3ae30be): the cuts moved no task */
    assert_int_equal(weft_sim_fingerprint(weft_runtime_handle(rt)), UINT64_C(0x61a080567f93c141));
    weft_runtime_free(rt);
    assert_int_equal(out_bytes, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_fingerprint),
        cmocka_unit_test(different_seeds_different_schedules),
        cmocka_unit_test(schedule_order_depends_on_seed),
        WT_ONE(deadlock_is_reported, 2, "sim"),
        WT_ONE(livelock_by_steps, 2, "sim"),
        WT_ONE(livelock_by_virtual_time, 2, "sim"),
        WT_ONE(a_year_of_sleep_is_fast, 2, "sim"),
        cmocka_unit_test(random_comes_from_the_seed),
        WT_ONE(clock_cannot_resume, 2, "sim"),
        cmocka_unit_test(harness_catches_leaks),
        cmocka_unit_test(buggify_two_stages),
        cmocka_unit_test(trace_file_lists_events),
        cmocka_unit_test(replay_line_format),
        cmocka_unit_test(seeds_file_replayed_first),
        cmocka_unit_test(determinism_check_names_first_difference),
        cmocka_unit_test(foreign_wake_aborts),
        cmocka_unit_test(crash_prints_replay_line),
        cmocka_unit_test(lock_order_deadlock_found),
        cmocka_unit_test(rwlock_wait_named_in_deadlock),
        cmocka_unit_test(timer_fires_while_a_task_is_busy),
        cmocka_unit_test(timers_fire_late_never_early),
        cmocka_unit_test(swarm_seed_fixes_its_strategy),
        cmocka_unit_test(short_ways_fold_what_the_long_ways_do),
        cmocka_unit_test(ready_set_shrinks_when_drained),
    };
    return WT_RUN("sim", tests);
}
