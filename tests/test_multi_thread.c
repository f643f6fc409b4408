/* weft tests — behaviour of tasks across threads, on every flavor (spawn,
 * join and abort from other threads, yield, the cooperative budget,
 * spawn_blocking, local sets), then what only multi_thread has (worker
 * count, thread hooks, metrics, shutdown_timeout). */
#include <stdlib.h>
#include <string.h>

#include "mt_util.h"

/* Tests of real OS threads (spawns and aborts from other threads,
 * blocking pools, the real clock) run where threads are real; the
 * simulator runs one thread by design. */
#define WT_THREADED(fn)                                                        \
    WT_ONE(fn, 0, "current_thread"), WT_ONE(fn, 1, "multi_thread")

#define SKIP_MISSING(env)                                                      \
    do {                                                                       \
        if (!(env))                                                            \
            skip();                                                            \
    } while (0)

/* ------------------------------------------------------------ plain tasks */

typedef struct doubler {
    weft_future base;
    int x;
} doubler;
static weft_poll doubler_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    *(int *)out = ((doubler *)f)->x * 2;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(doubler, doubler_poll, NULL, int);

#define MANY 2000

typedef struct spawn_sum {
    weft_future base;
    weft_join_handle jh[MANY];
    int i, got;
    long sum;
} spawn_sum;
static weft_poll spawn_sum_poll(weft_future *f, weft_context *cx, void *out) {
    spawn_sum *s = (spawn_sum *)f;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < MANY; s->i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(doubler, .x = s->i), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < MANY; s->i++) {
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->got);
        assert_int_equal(weft_join_status(&s->jh[s->i]), 0);
        s->sum += s->got;
    }
    WEFT_RETURN(f, out, long, s->sum);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(spawn_sum, spawn_sum_poll, NULL, long);

static void spawn_many_and_join(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    spawn_sum *s = calloc(1, sizeof *s);
    *s = WEFT_NEW(spawn_sum);
    long sum = 0;
    wt_block_on(env, &s->base, &sum);
    assert_int_equal(sum, (long)MANY * (MANY - 1));
    free(s);
}

/* ---------------------------------------------- spawn from another thread */

typedef struct bump {
    weft_future base;
    mt_latch *latch;
} bump;
static weft_poll bump_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    mt_latch_count_down(((bump *)f)->latch);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(bump, bump_poll, NULL);

typedef struct remote_ctx {
    weft_handle *h;
    mt_latch *latch;
    int n;
    int joined_ok;
} remote_ctx;

/* A plain OS thread: spawns through a handle, then joins one task with
 * the handle's block_on. */
static void *remote_spawner(void *arg) {
    remote_ctx *c = arg;
    for (int i = 0; i < c->n; i++)
        assert_int_equal(weft_handle_spawn(c->h, &WEFT_NEW(bump, .latch = c->latch), NULL), 0);
    weft_join_handle jh;
    assert_int_equal(weft_handle_spawn(c->h, &WEFT_NEW(doubler, .x = 21), &jh), 0);
    int v = 0;
    assert_int_equal(weft_handle_block_on(c->h, weft_join(&jh), &v), 0);
    c->joined_ok = v == 42 && weft_join_status(&jh) == 0;
    mt_latch_count_down(c->latch);
    return NULL;
}

static void spawn_from_other_threads(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    weft_handle *h = weft_handle_clone(weft_runtime_handle(wt_rt(env)));
    mt_latch latch;
    mt_latch_init(&latch, 4 * 500 + 4); /* each task, then each thread's join */
    remote_ctx c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (remote_ctx){h, &latch, 500, 0};
        pthread_create(&th[i], NULL, remote_spawner, &c[i]);
    }
    /* current_thread runs tasks (and so the threads' joins) only while
     * something block_on's it. */
    mt_latch_wait w = WEFT_NEW(mt_latch_wait, .latch = &latch);
    wt_block_on(env, &w.base, NULL);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(c[i].joined_ok);
    }
    mt_latch_destroy(&latch);
    weft_handle_release(h);
}

/* ------------------------------------------------ abort from another thread */

typedef struct abort_ctx {
    weft_join_handle *jh;
    _Atomic int *started;
} abort_ctx;

static void *aborter(void *arg) {
    abort_ctx *c = arg;
    while (!atomic_load(c->started))
        sched_yield(); /* wait for the condition, not for time */
    weft_join_abort(c->jh);
    return NULL;
}

typedef struct abort_root {
    weft_future base;
    weft_join_handle jh;
    _Atomic int *drops;
    _Atomic int started;
    pthread_t th;
    abort_ctx c;
} abort_root;
static weft_poll abort_root_poll(weft_future *f, weft_context *cx, void *out) {
    abort_root *s = (abort_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(
        weft_spawn(&WEFT_NEW(mt_forever, .drops = s->drops, .started = &s->started), &s->jh), 0);
    s->c = (abort_ctx){&s->jh, &s->started};
    pthread_create(&s->th, NULL, aborter, &s->c);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    pthread_join(s->th, NULL);
    assert_int_equal(weft_join_status(&s->jh), WEFT_ECANCELED);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(abort_root, abort_root_poll, NULL);

static void abort_from_other_thread(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    _Atomic int drops = 0;
    abort_root r = WEFT_NEW(abort_root, .drops = &drops);
    wt_block_on(env, &r.base, NULL);
    assert_int_equal(atomic_load(&drops), 1);
}

/* ----------------------------------------------------------------- yield */

typedef struct spinner {
    weft_future base;
    _Atomic int *flag;
    long spins;
} spinner;
static weft_poll spinner_poll(weft_future *f, weft_context *cx, void *out) {
    spinner *s = (spinner *)f;
    WEFT_BEGIN(f);
    while (!atomic_load(s->flag)) {
        s->spins++;
        WEFT_YIELD(f, cx);
    }
    WEFT_RETURN(f, out, long, s->spins);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(spinner, spinner_poll, NULL, long);

typedef struct yield_root {
    weft_future base;
    _Atomic int flag;
    weft_join_handle a, b;
    long spins;
} yield_root;
static weft_poll yield_root_poll(weft_future *f, weft_context *cx, void *out) {
    yield_root *s = (yield_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    /* With one worker, the spinner yields and the setter gets its turn. */
    assert_int_equal(weft_spawn(&WEFT_NEW(spinner, .flag = &s->flag), &s->a), 0);
    assert_int_equal(weft_spawn(&WEFT_NEW(setter, .flag = &s->flag), &s->b), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->a), &s->spins);
    WEFT_AWAIT(f, cx, weft_join(&s->b), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(yield_root, yield_root_poll, NULL);

static void yield_lets_others_run(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    env->builder.worker_threads = 1;
    yield_root r = WEFT_NEW(yield_root);
    wt_block_on(env, &r.base, NULL);
    assert_true(atomic_load(&r.flag));
}

/* ------------------------------------------------------- the coop budget */

typedef struct budget_probe {
    weft_future base;
    int first_false; /* polls of weft_coop_proceed until it said no */
    int polls;
} budget_probe;
static weft_poll budget_probe_poll(weft_future *f, weft_context *cx, void *out) {
    budget_probe *s = (budget_probe *)f;
    s->polls++;
    if (s->polls == 1) {
        int n = 0;
        while (weft_coop_proceed(cx))
            n++;
        s->first_false = n;
        return WEFT_PENDING; /* weft_coop_proceed asked to be polled again */
    }
    /* A fresh scheduling, a fresh budget. */
    assert_true(weft_coop_proceed(cx));
    *(int *)out = s->first_false;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(budget_probe, budget_probe_poll, NULL, int);

typedef struct budget_root {
    weft_future base;
    weft_join_handle jh;
    int n;
} budget_root;
static weft_poll budget_root_poll(weft_future *f, weft_context *cx, void *out) {
    budget_root *s = (budget_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    /* block_on's own future has no budget */
    for (int i = 0; i < 1000; i++)
        assert_true(weft_coop_proceed(cx));
    assert_int_equal(weft_spawn(&WEFT_NEW(budget_probe), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->n);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(budget_root, budget_root_poll, NULL);

static void coop_budget(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    budget_root r = WEFT_NEW(budget_root);
    wt_block_on(env, &r.base, NULL);
    assert_int_equal(r.n, 128);
}

/* --------------------------------------------------------- spawn_blocking */

typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int inside, max_inside;
} gate;

static void gate_init(gate *g) {
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = false;
    g->inside = g->max_inside = 0;
}
static void gate_open(gate *g) {
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}
static void gate_destroy(gate *g) {
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

static void *blocking_square(void *arg) { return (void *)((uintptr_t)arg * (uintptr_t)arg); }

/* Blocks until the gate opens, recording how many ran at once. */
static void *blocking_wait_gate(void *arg) {
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    if (++g->inside > g->max_inside)
        g->max_inside = g->inside;
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    g->inside--;
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

#define NBLOCK 6

typedef struct blocking_root {
    weft_future base;
    weft_join_handle jh[NBLOCK];
    void *got;
    int i;
    long sum;
} blocking_root;
static weft_poll blocking_root_poll(weft_future *f, weft_context *cx, void *out) {
    blocking_root *s = (blocking_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < NBLOCK; s->i++)
        assert_int_equal(
            weft_spawn_blocking(blocking_square, (void *)(uintptr_t)(s->i + 1), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < NBLOCK; s->i++) {
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->got);
        assert_int_equal(weft_join_status(&s->jh[s->i]), 0);
        s->sum += (long)(uintptr_t)s->got;
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(blocking_root, blocking_root_poll, NULL);

static void spawn_blocking_results(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    blocking_root r = WEFT_NEW(blocking_root);
    wt_block_on(env, &r.base, NULL);
    assert_int_equal(r.sum, 1 + 4 + 9 + 16 + 25 + 36);
}

typedef struct bounded_root {
    weft_future base;
    gate *g;
    weft_join_handle jh[NBLOCK];
    int i;
} bounded_root;
static weft_poll bounded_root_poll(weft_future *f, weft_context *cx, void *out) {
    bounded_root *s = (bounded_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < NBLOCK; s->i++)
        assert_int_equal(weft_spawn_blocking(blocking_wait_gate, s->g, &s->jh[s->i]), 0);
    gate_open(s->g);
    for (s->i = 0; s->i < NBLOCK; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(bounded_root, bounded_root_poll, NULL);

static void spawn_blocking_is_bounded(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    env->builder.max_blocking_threads = 2;
    gate g;
    gate_init(&g);
    bounded_root r = WEFT_NEW(bounded_root, .g = &g);
    wt_block_on(env, &r.base, NULL);
    assert_true(g.max_inside <= 2);
    weft_runtime_metrics m;
    weft_handle_metrics(weft_runtime_handle(wt_rt(env)), &m);
    assert_true(m.blocking_threads <= 2);
    gate_destroy(&g);
}

/* Idle blocking threads end after the keep-alive. */
static void blocking_keep_alive_expires(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    env->builder.blocking_keep_alive = WEFT_MS(1);
    blocking_root r = WEFT_NEW(blocking_root);
    wt_block_on(env, &r.base, NULL);
    weft_runtime_metrics m;
    do {
        sched_yield();
        weft_handle_metrics(weft_runtime_handle(wt_rt(env)), &m);
    } while (m.blocking_threads != 0);
}

/* ------------------------------------------------------------- local sets */

typedef struct pinned {
    weft_future base;
    pthread_t expect;
    mt_latch *latch;
    int polls;
    weft_yield_now y;
} pinned;
static weft_poll pinned_poll(weft_future *f, weft_context *cx, void *out) {
    pinned *s = (pinned *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->polls = 0; s->polls < 3; s->polls++) {
        assert_true(pthread_equal(pthread_self(), s->expect));
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
    }
    assert_true(pthread_equal(pthread_self(), s->expect));
    mt_latch_count_down(s->latch);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(pinned, pinned_poll, NULL);

static void local_set_pins_tasks(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    weft_runtime *rt = wt_rt(env);
    weft_local_set *ls;
    assert_int_equal(weft_local_set_new(weft_runtime_handle(rt), &ls), 0);
    mt_latch latch;
    mt_latch_init(&latch, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(
            weft_spawn_local(ls, &WEFT_NEW(pinned, .expect = pthread_self(), .latch = &latch),
                             NULL),
            0);
    mt_latch_wait w = WEFT_NEW(mt_latch_wait, .latch = &latch);
    weft_local_run run;
    wt_block_on(env, weft_local_run_until(&run, ls, &w), NULL);
    weft_local_set_free(ls);
    mt_latch_destroy(&latch);
}

/* An idle task above 1 KiB: its block is an allocation of its own, so a
 * read past its end shows under ASan. */
typedef struct big_forever {
    weft_future base;
    _Atomic int *drops;
    char payload[2048];
} big_forever;
static weft_poll big_forever_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    (void)out;
    return WEFT_PENDING;
}
static void big_forever_drop(weft_future *f) { atomic_fetch_add(((big_forever *)f)->drops, 1); }
WEFT_FUTURE_DEFINE_VOID(big_forever, big_forever_poll, big_forever_drop);

static void local_set_free_drops_tasks(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    weft_runtime *rt = wt_rt(env);
    weft_local_set *ls;
    assert_int_equal(weft_local_set_new(weft_runtime_handle(rt), &ls), 0);
    /* A task of no set, on the same shards: freeing the set leaves it be
     * (and reads no owner trailer it does not have). */
    _Atomic int other_drops = 0;
    assert_int_equal(weft_handle_spawn(weft_runtime_handle(rt),
                                       &WEFT_NEW(big_forever, .drops = &other_drops), NULL),
                     0);
    _Atomic int drops = 0, started = 0;
    weft_join_handle jh;
    assert_int_equal(
        weft_spawn_local(ls, &WEFT_NEW(mt_forever, .drops = &drops, .started = &started), &jh), 0);
    /* Drive the set until its task ran once. */
    weft_yield_now y;
    weft_local_run run;
    while (!atomic_load(&started))
        wt_block_on(env, weft_local_run_until(&run, ls, weft_yield_now(&y)), NULL);
    weft_local_set_free(ls);
    assert_int_equal(atomic_load(&drops), 1);
    assert_int_equal(atomic_load(&other_drops), 0);
    assert_true(weft_join_is_finished(&jh));
    int v;
    assert_int_equal(weft_runtime_block_on(rt, weft_join(&jh), &v), 0);
    assert_int_equal(weft_join_status(&jh), WEFT_ECANCELED);
}

/* --------------------------------------------------------- nested block_on */

typedef struct nester {
    weft_future base;
    weft_runtime *rt;
} nester;
static weft_poll nester_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    weft_yield_now y;
    weft_yield_now(&y);
    *(int *)out = weft_runtime_block_on(((nester *)f)->rt, &y.base, NULL);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(nester, nester_poll, NULL, int);

typedef struct nest_root {
    weft_future base;
    weft_runtime *rt;
    weft_join_handle jh;
    int err;
} nest_root;
static weft_poll nest_root_poll(weft_future *f, weft_context *cx, void *out) {
    nest_root *s = (nest_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_spawn(&WEFT_NEW(nester, .rt = s->rt), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->err);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(nest_root, nest_root_poll, NULL);

static void block_on_inside_task_refused(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    nest_root r = WEFT_NEW(nest_root, .rt = wt_rt(env));
    wt_block_on(env, &r.base, NULL);
    assert_int_equal(r.err, WEFT_ENESTED);
}

/* -------------------------------------------------- real-clock timers */

typedef struct napper {
    weft_future base;
    weft_sleep nap;
    weft_instant t0;
} napper;
static weft_poll napper_poll(weft_future *f, weft_context *cx, void *out) {
    napper *s = (napper *)f;
    WEFT_BEGIN(f);
    s->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(3)), NULL);
    WEFT_RETURN(f, out, uint64_t, weft_now() - s->t0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(napper, napper_poll, NULL, uint64_t);

typedef struct nap_root {
    weft_future base;
    weft_join_handle jh[8];
    uint64_t took[8];
    int i;
} nap_root;
static weft_poll nap_root_poll(weft_future *f, weft_context *cx, void *out) {
    nap_root *s = (nap_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < 8; s->i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(napper), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < 8; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->took[s->i]);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(nap_root, nap_root_poll, NULL);

static void sleeps_fire_on_real_clock(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    nap_root r = WEFT_NEW(nap_root);
    wt_block_on(env, &r.base, NULL);
    for (int i = 0; i < 8; i++)
        assert_true(r.took[i] >= (uint64_t)WEFT_MS(3)); /* never early */
}

/* ------------------------------------------------- multi_thread only */

#define MT_ONLY(env)                                                           \
    do {                                                                       \
        if (!(env) || (env)->flavor != WEFT_MULTI_THREAD)                      \
            skip();                                                            \
    } while (0)

static void worker_count_from_builder_and_env(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    env->builder.worker_threads = 3;
    weft_runtime_metrics m;
    weft_handle_metrics(weft_runtime_handle(wt_rt(env)), &m);
    assert_int_equal(m.workers, 3);
    wt_free_rt(env);

    setenv("WEFT_WORKER_THREADS", "5", 1);
    env->builder.worker_threads = 0;
    weft_handle_metrics(weft_runtime_handle(wt_rt(env)), &m);
    assert_int_equal(m.workers, 5);
    wt_free_rt(env);
    /* The builder wins over the environment. */
    env->builder.worker_threads = 1;
    weft_handle_metrics(weft_runtime_handle(wt_rt(env)), &m);
    assert_int_equal(m.workers, 1);
    unsetenv("WEFT_WORKER_THREADS");
    weft_worker_metrics wm;
    assert_int_equal(weft_handle_worker_metrics(weft_runtime_handle(wt_rt(env)), 1, &wm),
                     WEFT_ERANGE);
}

static void count_hook(void *ctx) { atomic_fetch_add((_Atomic int *)ctx, 1); }

typedef struct hook_ctx {
    _Atomic int starts, stops;
} hook_ctx;
static void hook_start(void *ctx) { count_hook(&((hook_ctx *)ctx)->starts); }
static void hook_stop(void *ctx) { count_hook(&((hook_ctx *)ctx)->stops); }

static void thread_hooks_and_stack(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    hook_ctx hc = {0, 0};
    env->builder.worker_threads = 3;
    env->builder.thread_stack_size = 256 * 1024;
    env->builder.thread_name = "hooked";
    env->builder.on_thread_start = hook_start;
    env->builder.on_thread_stop = hook_stop;
    env->builder.thread_hook_ctx = &hc;
    spawn_sum *s = calloc(1, sizeof *s);
    *s = WEFT_NEW(spawn_sum);
    long sum;
    wt_block_on(env, &s->base, &sum);
    free(s);
    wt_free_rt(env);
    assert_int_equal(atomic_load(&hc.starts), 3);
    assert_int_equal(atomic_load(&hc.stops), 3);
}

static void metrics_count_polls(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    env->builder.worker_threads = 2;
    spawn_sum *s = calloc(1, sizeof *s);
    *s = WEFT_NEW(spawn_sum);
    long sum;
    wt_block_on(env, &s->base, &sum);
    free(s);
    weft_handle *h = weft_runtime_handle(wt_rt(env));
    weft_runtime_metrics m;
    weft_handle_metrics(h, &m);
    assert_int_equal(m.workers, 2);
    uint64_t polls = 0;
    for (uint32_t i = 0; i < m.workers; i++) {
        weft_worker_metrics wm;
        assert_int_equal(weft_handle_worker_metrics(h, i, &wm), 0);
        polls += wm.polls;
    }
    assert_true(polls >= MANY);
    weft_runtime_stats st;
    weft_handle_stats(h, &st);
    assert_int_equal(st.polls, polls);
    assert_int_equal(st.alive_tasks, 0);
}

/* A worker's local queue fills past its 256 slots and spills. */
typedef struct flood {
    weft_future base;
    mt_latch *latch;
} flood;
static weft_poll flood_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    flood *s = (flood *)f;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(bump, .latch = s->latch), NULL), 0);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(flood, flood_poll, NULL);

static void local_queue_overflows_to_inject(void **state) {
    wt_env *env = WT_ENV(state);
    MT_ONLY(env);
    env->builder.worker_threads = 1;
    weft_handle *h = weft_runtime_handle(wt_rt(env));
    mt_latch latch;
    mt_latch_init(&latch, 1000);
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(flood, .latch = &latch), NULL), 0);
    mt_latch_wait w = WEFT_NEW(mt_latch_wait, .latch = &latch);
    wt_block_on(env, &w.base, NULL);
    weft_worker_metrics wm;
    assert_int_equal(weft_handle_worker_metrics(h, 0, &wm), 0);
    assert_true(wm.overflows >= 1);
    mt_latch_destroy(&latch);
}

/* shutdown_timeout: a blocking call that outlives it is reported; its
 * thread frees the runtime when the call returns. */
static void shutdown_timeout_reports_blocking(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    weft_runtime *rt = wt_rt(env);
    gate g;
    gate_init(&g);
    weft_join_handle jh;
    _Atomic int drops = 0;
    assert_int_equal(weft_spawn_blocking_at(weft_runtime_handle(rt), blocking_wait_gate, &g, &jh,
                                            "blocked-call"),
                     0);
    assert_int_equal(weft_handle_spawn(weft_runtime_handle(rt),
                                       &WEFT_NEW(mt_forever, .drops = &drops), NULL),
                     0);
    /* Wait until the call is running. */
    for (;;) {
        pthread_mutex_lock(&g.lock);
        int in = g.inside;
        pthread_mutex_unlock(&g.lock);
        if (in)
            break;
        sched_yield();
    }
    weft_join_detach(&jh);
    env->rt = NULL;
    assert_int_equal(weft_runtime_shutdown_timeout(rt, WEFT_MS(1)), WEFT_ETIMEDOUT);
    assert_non_null(strstr(env->last_diag, "blocked-call"));
    assert_int_equal(atomic_load(&drops), 1); /* the pending task was dropped */
    gate_open(&g);
    while (atomic_load(&env->live) != 0)
        sched_yield(); /* the pool thread frees the rest */
    gate_destroy(&g);
}

static void shutdown_timeout_in_time(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    weft_runtime *rt = wt_rt(env);
    blocking_root r = WEFT_NEW(blocking_root);
    wt_block_on(env, &r.base, NULL);
    env->rt = NULL;
    assert_int_equal(weft_runtime_shutdown_timeout(rt, WEFT_SECS(60)), 0);
}

static void spawn_after_shutdown_refused(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
    weft_handle *h = weft_handle_clone(weft_runtime_handle(wt_rt(env)));
    weft_runtime_free(env->rt);
    env->rt = NULL;
    _Atomic int drops = 0;
    weft_join_handle jh;
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(mt_forever, .drops = &drops), &jh),
                     WEFT_ESHUTDOWN);
    assert_int_equal(atomic_load(&drops), 1);
    assert_int_equal(weft_spawn_blocking_at(h, blocking_square, NULL, NULL, "x"), WEFT_ESHUTDOWN);
    weft_handle_release(h);
}

/* A debug build aborts, saying why, when a set's tasks are driven from a
 * thread other than the set's own.  Checked in a child process. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct wrong_thread_ctx {
    weft_runtime *rt;
    weft_local_set *ls;
} wrong_thread_ctx;

static void *drive_from_elsewhere(void *arg) {
    wrong_thread_ctx *c = arg;
    weft_yield_now y;
    weft_local_run run;
    weft_runtime_block_on(c->rt, weft_local_run_until(&run, c->ls, weft_yield_now(&y)), NULL);
    return NULL;
}

static void local_set_wrong_thread_detected(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_MISSING(env);
#ifdef NDEBUG
    skip();
#endif
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child: no cmocka, no leak checks; it must abort. */
        weft_builder b;
        weft_builder_init(&b, env->flavor);
        wrong_thread_ctx c;
        if (weft_runtime_new(&b, &c.rt) || weft_local_set_new(weft_runtime_handle(c.rt), &c.ls))
            _exit(3);
        _Atomic int drops = 0;
        weft_spawn_local(c.ls, &WEFT_NEW(mt_forever, .drops = &drops), NULL);
        pthread_t th;
        pthread_create(&th, NULL, drive_from_elsewhere, &c);
        pthread_join(th, NULL);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WT_FLAVORS(spawn_many_and_join),
        WT_THREADED(spawn_from_other_threads),
        WT_THREADED(abort_from_other_thread),
        WT_FLAVORS(yield_lets_others_run),
        WT_FLAVORS(coop_budget),
        WT_THREADED(spawn_blocking_results),
        WT_THREADED(spawn_blocking_is_bounded),
        WT_THREADED(blocking_keep_alive_expires),
        WT_THREADED(local_set_pins_tasks), /* the sim refuses local sets */
        WT_THREADED(local_set_free_drops_tasks),
        WT_THREADED(local_set_wrong_thread_detected),
        WT_FLAVORS(block_on_inside_task_refused),
        WT_THREADED(sleeps_fire_on_real_clock),
        WT_THREADED(shutdown_timeout_reports_blocking),
        WT_THREADED(shutdown_timeout_in_time),
        WT_THREADED(spawn_after_shutdown_refused),
        WT_THREADED(worker_count_from_builder_and_env),
        WT_THREADED(thread_hooks_and_stack),
        WT_THREADED(metrics_count_polls),
        WT_THREADED(local_queue_overflows_to_inject),
    };
    return WT_RUN("multi_thread", tests);
}
