/* weft tests — stress runs of the threaded paths, each under a watchdog
 * that fails the run when it hangs: a million spawns, a million
 * cross-thread wake ping-pongs, abort racing completion, spawn racing
 * shutdown, JoinHandles dropped on one thread while their tasks complete
 * on another.  Sanitizer builds run a fifth of the counts;
 * WEFT_STRESS_SCALE (a divisor) scales them further by hand. */
#include <stdlib.h>
#include <string.h>

#include "mt_util.h"

#define WATCHDOG_SECS 300

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZER_DIVISOR 5
#else
#define SANITIZER_DIVISOR 1
#endif

static long scaled(long n) {
    long div = SANITIZER_DIVISOR;
    const char *env = getenv("WEFT_STRESS_SCALE");
    if (env && atol(env) > 0)
        div *= atol(env);
    return n / div > 0 ? n / div : 1;
}

/* Stress is about threads: multi_thread with two workers. */
#define MT_ONLY(env)                                                           \
    do {                                                                       \
        if (!(env))                                                            \
            skip();                                                            \
        (env)->builder.worker_threads = 2;                                     \
    } while (0)
#define WT_MT(fn) WT_ONE(fn, 1, "multi_thread")

/* A counter whose zero completes a latch (the latch is touched once). */
typedef struct countdown {
    _Atomic long left;
    mt_latch latch;
} countdown;

static void countdown_init(countdown *c, long n) {
    atomic_init(&c->left, n);
    mt_latch_init(&c->latch, 1);
}
static void countdown_hit(countdown *c) {
    if (atomic_fetch_sub(&c->left, 1) == 1)
        mt_latch_count_down(&c->latch);
}

typedef struct tick {
    weft_future base;
    countdown *cd;
} tick;
static weft_poll tick_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    countdown_hit(((tick *)f)->cd);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(tick, tick_poll, NULL);

/* ------------------------------------------------------ a million spawns */

/* Spawns `n` ticks from a worker (the local-queue path). */
typedef struct tick_spawner {
    weft_future base;
    countdown *cd;
    long n;
} tick_spawner;
static weft_poll tick_spawner_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    tick_spawner *s = (tick_spawner *)f;
    for (long i = 0; i < s->n; i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(tick, .cd = s->cd), NULL), 0);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(tick_spawner, tick_spawner_poll, NULL);

typedef struct million_root {
    weft_future base;
    countdown *cd;
    long n;
    mt_latch_wait wait;
} million_root;
static weft_poll million_root_poll(weft_future *f, weft_context *cx, void *out) {
    million_root *s = (million_root *)f;
    WEFT_BEGIN(f);
    /* Half from block_on's thread (the inject path), half from workers. */
    for (long i = 0; i < s->n / 2; i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(tick, .cd = s->cd), NULL), 0);
    for (int k = 0; k < 4; k++)
        assert_int_equal(
            weft_spawn(&WEFT_NEW(tick_spawner, .cd = s->cd, .n = (s->n - s->n / 2) / 4), NULL),
            0);
    s->wait = WEFT_NEW(mt_latch_wait, .latch = &s->cd->latch);
    WEFT_AWAIT(f, cx, &s->wait, out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(million_root, million_root_poll, NULL);

static void million_spawns(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    mt_watchdog wd;
    mt_watchdog_start(&wd, "million_spawns", WATCHDOG_SECS);
    long n = scaled(1000000) / 8 * 8;
    countdown cd;
    countdown_init(&cd, n / 2 + (n - n / 2) / 4 * 4);
    million_root r = WEFT_NEW(million_root, .cd = &cd, .n = n);
    wt_block_on(env, &r.base, NULL);
    weft_runtime_stats st;
    weft_handle_stats(weft_runtime_handle(wt_rt(env)), &st);
    assert_true(st.spawned >= (uint64_t)n);
    wt_free_rt(env);
    mt_latch_destroy(&cd.latch);
    mt_watchdog_stop(&wd);
}

/* ------------------------------------------------- bursts from outside */

/* Rounds of spawns from block_on's thread (the inject queue), each awaited
 * before the next: the workers drain the queue, go idle, and must be woken
 * by the next burst.  A lost wake (a task left behind the inject queue's
 * stub) hangs here and the watchdog says so. */
enum { BURST = 500 };
typedef struct burst_root {
    weft_future base;
    weft_join_handle *jh;
    countdown *cd;
    long rounds, r;
    int i;
} burst_root;
static weft_poll burst_root_poll(weft_future *f, weft_context *cx, void *out) {
    burst_root *s = (burst_root *)f;
    WEFT_BEGIN(f);
    for (s->r = 0; s->r < s->rounds; s->r++) {
        for (int i = 0; i < BURST; i++)
            assert_int_equal(weft_spawn(&WEFT_NEW(tick, .cd = s->cd), &s->jh[i]), 0);
        for (s->i = 0; s->i < BURST; s->i++) {
            WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
            assert_int_equal(weft_join_status(&s->jh[s->i]), 0);
        }
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(burst_root, burst_root_poll, NULL);

static void inject_bursts(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    mt_watchdog wd;
    mt_watchdog_start(&wd, "inject_bursts", WATCHDOG_SECS);
    long rounds = scaled(2000);
    countdown cd;
    countdown_init(&cd, rounds * BURST);
    weft_join_handle *jh = calloc(BURST, sizeof *jh);
    assert_non_null(jh);
    burst_root r = WEFT_NEW(burst_root, .jh = jh, .cd = &cd, .rounds = rounds);
    wt_block_on(env, &r.base, NULL);
    assert_int_equal(atomic_load(&cd.left), 0); /* every task ran once */
    free(jh);
    wt_free_rt(env);
    mt_latch_destroy(&cd.latch);
    mt_watchdog_stop(&wd);
}

/* ------------------------------------------- cross-thread ping-pong */

/* Two players pass a baton; each waits for its turn, then wakes the other. */
typedef struct baton {
    pthread_mutex_t lock;
    int turn;
    long rounds, target;
    weft_waker waiting[2];
} baton;

typedef struct player {
    weft_future base;
    baton *b;
    int me;
} player;
static weft_poll player_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    player *p = (player *)f;
    baton *b = p->b;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        if (b->rounds >= b->target) {
            pthread_mutex_unlock(&b->lock);
            return WEFT_READY;
        }
        if (b->turn != p->me) {
            weft_waker_set(&b->waiting[p->me], weft_cx_waker(cx));
            pthread_mutex_unlock(&b->lock);
            return WEFT_PENDING;
        }
        b->rounds++;
        b->turn = 1 - p->me;
        weft_waker other = b->waiting[1 - p->me];
        b->waiting[1 - p->me] = (weft_waker){0};
        pthread_mutex_unlock(&b->lock);
        weft_waker_wake(&other);
    }
}
WEFT_FUTURE_DEFINE_VOID(player, player_poll, NULL);

/* Runs `root` (whose players pass `b` back and forth) for a million
 * rounds under the watchdog and checks every round happened. */
static void run_pingpongs(wt_env *env, const char *name, baton *b, weft_future *root) {
    mt_watchdog wd;
    mt_watchdog_start(&wd, name, WATCHDOG_SECS);
    *b = (baton){.turn = 0, .rounds = 0, .target = 2 * scaled(1000000)};
    pthread_mutex_init(&b->lock, NULL);
    wt_block_on(env, root, NULL);
    assert_int_equal(b->rounds, b->target);
    weft_waker_drop(&b->waiting[0]);
    weft_waker_drop(&b->waiting[1]);
    pthread_mutex_destroy(&b->lock);
    mt_watchdog_stop(&wd);
}

typedef struct pingpong_root {
    weft_future base;
    baton *b;
    weft_join_handle jh;
    player me;
} pingpong_root;
static weft_poll pingpong_root_poll(weft_future *f, weft_context *cx, void *out) {
    pingpong_root *s = (pingpong_root *)f;
    WEFT_BEGIN(f);
    /* Player 0 is block_on's own future (the main thread, never a
     * worker), player 1 a task on the workers: every wake crosses. */
    assert_int_equal(weft_spawn(&WEFT_NEW(player, .b = s->b, .me = 1), &s->jh), 0);
    s->me = WEFT_NEW(player, .b = s->b, .me = 0);
    WEFT_AWAIT(f, cx, &s->me, out);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(pingpong_root, pingpong_root_poll, NULL);

static void million_cross_thread_pingpongs(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    baton b;
    pingpong_root r = WEFT_NEW(pingpong_root, .b = &b);
    run_pingpongs(env, "million_cross_thread_pingpongs", &b, &r.base);
}

/* Both players on the workers: wakes from worker to worker. */
typedef struct worker_pingpong_root {
    weft_future base;
    baton *b;
    weft_join_handle jh[2];
    int i;
} worker_pingpong_root;
static weft_poll worker_pingpong_root_poll(weft_future *f, weft_context *cx, void *out) {
    worker_pingpong_root *s = (worker_pingpong_root *)f;
    WEFT_BEGIN(f);
    for (int i = 0; i < 2; i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(player, .b = s->b, .me = i), &s->jh[i]), 0);
    for (s->i = 0; s->i < 2; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(worker_pingpong_root, worker_pingpong_root_poll, NULL);

static void million_worker_pingpongs(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    baton b;
    worker_pingpong_root r = WEFT_NEW(worker_pingpong_root, .b = &b);
    run_pingpongs(env, "million_worker_pingpongs", &b, &r.base);
}

/* ---------------------------------------------- abort racing completion */

typedef struct victim {
    weft_future base;
    _Atomic long *drops;
    weft_yield_now y;
} victim;
static weft_poll victim_poll(weft_future *f, weft_context *cx, void *out) {
    victim *s = (victim *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_yield_now(&s->y), out);
    WEFT_RETURN(f, out, int, 7);
    WEFT_END(f);
}
static void victim_drop(weft_future *f) { atomic_fetch_add(((victim *)f)->drops, 1); }
WEFT_FUTURE_DEFINE(victim, victim_poll, victim_drop, int);

typedef struct aborter_task {
    weft_future base;
    weft_join_handle *target;
} aborter_task;
static weft_poll aborter_task_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    weft_join_abort(((aborter_task *)f)->target);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(aborter_task, aborter_task_poll, NULL);

#define PAIRS 64

typedef struct abort_race_root {
    weft_future base;
    _Atomic long *drops;
    long rounds, round;
    long completed, cancelled;
    weft_join_handle v[PAIRS], a[PAIRS];
    int i, got;
} abort_race_root;
static weft_poll abort_race_root_poll(weft_future *f, weft_context *cx, void *out) {
    abort_race_root *s = (abort_race_root *)f;
    WEFT_BEGIN(f);
    for (s->round = 0; s->round < s->rounds; s->round++) {
        for (int i = 0; i < PAIRS; i++) {
            assert_int_equal(weft_spawn(&WEFT_NEW(victim, .drops = s->drops), &s->v[i]), 0);
            assert_int_equal(weft_spawn(&WEFT_NEW(aborter_task, .target = &s->v[i]), &s->a[i]),
                             0);
        }
        for (s->i = 0; s->i < PAIRS; s->i++)
            WEFT_AWAIT(f, cx, weft_join(&s->a[s->i]), NULL);
        for (s->i = 0; s->i < PAIRS; s->i++) {
            s->got = 0;
            WEFT_AWAIT(f, cx, weft_join(&s->v[s->i]), &s->got);
            int st = weft_join_status(&s->v[s->i]);
            if (st == 0) {
                assert_int_equal(s->got, 7);
                s->completed++;
            } else {
                assert_int_equal(st, WEFT_ECANCELED);
                s->cancelled++;
            }
        }
    }
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(abort_race_root, abort_race_root_poll, NULL, int);

static void abort_races_completion(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    mt_watchdog wd;
    mt_watchdog_start(&wd, "abort_races_completion", WATCHDOG_SECS);
    _Atomic long drops = 0;
    abort_race_root *r = calloc(1, sizeof *r);
    *r = WEFT_NEW(abort_race_root, .drops = &drops, .rounds = scaled(20000) / PAIRS + 1);
    int rv;
    wt_block_on(env, &r->base, &rv);
    long total = r->rounds * PAIRS;
    assert_int_equal(r->completed + r->cancelled, total);
    /* Each victim's cleanup ran exactly once, finished or aborted. */
    assert_int_equal(atomic_load(&drops), total);
    free(r);
    mt_watchdog_stop(&wd);
}

/* --------------------------------------------- spawn while shutting down */

typedef struct spawner_ctx {
    weft_handle *h;
    _Atomic int *drops;
    _Atomic int *go;
    long attempts, ok;
} spawner_ctx;

static void *shutdown_spawner(void *arg) {
    spawner_ctx *c = arg;
    for (;;) {
        int err = weft_handle_spawn(c->h, &WEFT_NEW(mt_forever, .drops = c->drops), NULL);
        c->attempts++;
        if (err == WEFT_ESHUTDOWN)
            break;
        assert_int_equal(err, 0);
        if (++c->ok == 100)
            atomic_fetch_add(c->go, 1); /* spawning is under way */
    }
    return NULL;
}

static void spawn_while_shutting_down(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    mt_watchdog wd;
    mt_watchdog_start(&wd, "spawn_while_shutting_down", WATCHDOG_SECS);
    long rounds = scaled(200);
    for (long round = 0; round < rounds; round++) {
        _Atomic int drops = 0;
        _Atomic int go = 0;
        weft_runtime *rt = wt_rt(env);
        spawner_ctx c[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            c[i] = (spawner_ctx){weft_handle_clone(weft_runtime_handle(rt)), &drops, &go, 0, 0};
            pthread_create(&th[i], NULL, shutdown_spawner, &c[i]);
        }
        while (atomic_load(&go) < 2)
            sched_yield();
        weft_runtime_free(rt); /* races the spawners */
        env->rt = NULL;
        long attempts = 0;
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            attempts += c[i].attempts;
            weft_handle_release(c[i].h);
        }
        /* Spawned or refused, every future was dropped exactly once. */
        assert_int_equal(atomic_load(&drops), attempts);
        assert_int_equal(atomic_load(&env->live), 0);
    }
    mt_watchdog_stop(&wd);
}

/* ------------------- JoinHandles dropped while their tasks complete */

typedef struct detacher_ctx {
    weft_join_handle *jh;
    long n;
    _Atomic long *ready; /* handles filled so far */
} detacher_ctx;

static void *detacher(void *arg) {
    detacher_ctx *c = arg;
    for (long i = 0; i < c->n; i++) {
        while (atomic_load(c->ready) <= i)
            sched_yield();
        weft_join_detach(&c->jh[i]);
    }
    return NULL;
}

typedef struct yield_tick {
    weft_future base;
    countdown *cd;
    weft_yield_now y;
} yield_tick;
static weft_poll yield_tick_poll(weft_future *f, weft_context *cx, void *out) {
    yield_tick *s = (yield_tick *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_yield_now(&s->y), out);
    countdown_hit(s->cd);
    WEFT_RETURN(f, out, long, 1);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(yield_tick, yield_tick_poll, NULL, long);

typedef struct detach_root {
    weft_future base;
    countdown *cd;
    weft_join_handle *jh;
    _Atomic long *ready;
    long n;
    mt_latch_wait wait;
} detach_root;
static weft_poll detach_root_poll(weft_future *f, weft_context *cx, void *out) {
    detach_root *s = (detach_root *)f;
    WEFT_BEGIN(f);
    for (long i = 0; i < s->n; i++) {
        assert_int_equal(weft_spawn(&WEFT_NEW(yield_tick, .cd = s->cd), &s->jh[i]), 0);
        atomic_store(s->ready, i + 1);
    }
    s->wait = WEFT_NEW(mt_latch_wait, .latch = &s->cd->latch);
    WEFT_AWAIT(f, cx, &s->wait, out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(detach_root, detach_root_poll, NULL);

static void join_handle_dropped_while_completing(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    mt_watchdog wd;
    mt_watchdog_start(&wd, "join_handle_dropped_while_completing", WATCHDOG_SECS);
    long n = scaled(200000);
    weft_join_handle *jh = calloc((size_t)n, sizeof *jh);
    _Atomic long ready = 0;
    countdown cd;
    countdown_init(&cd, n);
    detacher_ctx c = {jh, n, &ready};
    pthread_t th;
    pthread_create(&th, NULL, detacher, &c);
    detach_root r = WEFT_NEW(detach_root, .cd = &cd, .jh = jh, .ready = &ready, .n = n);
    wt_block_on(env, &r.base, NULL);
    pthread_join(th, NULL);
    wt_free_rt(env);
    mt_latch_destroy(&cd.latch);
    free(jh);
    mt_watchdog_stop(&wd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WT_MT(million_spawns),
        WT_MT(inject_bursts),
        WT_MT(million_cross_thread_pingpongs),
        WT_MT(million_worker_pingpongs),
        WT_MT(abort_races_completion),
        WT_MT(spawn_while_shutting_down),
        WT_MT(join_handle_dropped_while_completing),
    };
    return WT_RUN("stress", tests);
}
