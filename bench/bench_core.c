/* weft-bench — the scheduler and timer workloads (definitions in
 * shared/anchors/tokio-bench/README.md). */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define NUM_SPAWN 10000
#define CT_NUM_SPAWN 1000
#define NUM_YIELD 1000
#define YIELD_TASKS 200
#define CHAIN 1000
#define CHURN_TIMERS 100000
#define CHURN_MAX_MS 10000
#define FIRE_TIMERS 10000
#define LCG_SEED UINT64_C(0x853c49e6748fea9b)

/* ---------------------------------------------------------------- tasks */

typedef struct count_down {
    weft_future base;
    done_signal *done;
} count_down;
static weft_poll count_down_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    done_count_down(((count_down *)f)->done);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(count_down, count_down_poll, NULL);

typedef struct empty {
    weft_future base;
} empty;
static weft_poll empty_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    (void)out;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(empty, empty_poll, NULL);

/* ----------------------------------------------------- spawn_many_local */

static void spawn_local_start(done_signal *done) {
    for (int i = 0; i < NUM_SPAWN; i++)
        must(weft_spawn(&WEFT_NEW(count_down, .done = done), NULL), "spawn");
}

static void spawn_many_local(bench_ctx *b) { bench_until_done(b, NUM_SPAWN, spawn_local_start); }

/* ------------------------------------------------ spawn_many_remote_idle */

typedef struct join_all_root {
    weft_future base;
    weft_join_handle *jh;
    int n, i;
} join_all_root;
static weft_poll join_all_root_poll(weft_future *f, weft_context *cx, void *out) {
    join_all_root *s = (join_all_root *)f;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < s->n; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(join_all_root, join_all_root_poll, NULL);

static void setup_handles(bench_ctx *b) { b->scratch = calloc(NUM_SPAWN, sizeof(weft_join_handle)); }
static void teardown_handles(bench_ctx *b) { free(b->scratch); }

static void spawn_many_remote_idle(bench_ctx *b) {
    weft_join_handle *jh = b->scratch;
    weft_handle *h = weft_runtime_handle(b->rt);
    for (int i = 0; i < NUM_SPAWN; i++)
        must(weft_handle_spawn(h, &WEFT_NEW(empty), &jh[i]), "spawn");
    join_all_root root = WEFT_NEW(join_all_root, .jh = jh, .n = NUM_SPAWN);
    must(weft_runtime_block_on(b->rt, &root.base, NULL), "block_on");
}

/* -------------------------------------------------- ct_spawn_await_local */

typedef struct spawn_await_root {
    weft_future base;
    weft_join_handle *jh;
    int i;
} spawn_await_root;
static weft_poll spawn_await_root_poll(weft_future *f, weft_context *cx, void *out) {
    spawn_await_root *s = (spawn_await_root *)f;
    WEFT_BEGIN(f);
    for (int i = 0; i < CT_NUM_SPAWN; i++)
        must(weft_spawn(&WEFT_NEW(empty), &s->jh[i]), "spawn");
    for (s->i = 0; s->i < CT_NUM_SPAWN; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spawn_await_root, spawn_await_root_poll, NULL);

static void ct_spawn_await_local(bench_ctx *b) {
    spawn_await_root root = WEFT_NEW(spawn_await_root, .jh = b->scratch);
    must(weft_runtime_block_on(b->rt, &root.base, NULL), "block_on");
}

/* ------------------------------------------------------------ yield_many */

typedef struct yielder {
    weft_future base;
    done_signal *done;
    int i;
} yielder;
static weft_poll yielder_poll(weft_future *f, weft_context *cx, void *out) {
    yielder *s = (yielder *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < NUM_YIELD; s->i++)
        WEFT_YIELD(f, cx);
    done_count_down(s->done);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(yielder, yielder_poll, NULL);

static void yield_many(bench_ctx *b) {
    done_signal *d = b->scratch;
    atomic_store(&d->remaining, YIELD_TASKS);
    weft_handle *h = weft_runtime_handle(b->rt);
    for (int i = 0; i < YIELD_TASKS; i++)
        must(weft_handle_spawn(h, &WEFT_NEW(yielder, .done = d), NULL), "spawn");
    done_wait w = DONE_WAIT(d);
    must(weft_runtime_block_on(b->rt, &w.base, NULL), "block_on");
}

/* --------------------------------------------------------- chained_spawn */

typedef struct chain_link {
    weft_future base;
    done_signal *done;
    int n;
} chain_link;
static weft_poll chain_link_poll(weft_future *f, weft_context *cx, void *out);
WEFT_FUTURE_DEFINE_VOID(chain_link, chain_link_poll, NULL);
static weft_poll chain_link_poll(weft_future *f, weft_context *cx, void *out) {
    chain_link *s = (chain_link *)f;
    (void)cx;
    (void)out;
    if (s->n == 0)
        done_fire(s->done);
    else
        must(weft_spawn(&WEFT_NEW(chain_link, .done = s->done, .n = s->n - 1), NULL), "spawn");
    return WEFT_READY;
}

static void chain_start(done_signal *done) {
    must(weft_spawn(&WEFT_NEW(chain_link, .done = done, .n = CHAIN), NULL), "spawn");
}

static void chained_spawn(bench_ctx *b) { bench_until_done(b, 1, chain_start); }

/* ------------------------------------------------------------ timer_churn */

typedef struct churn_root {
    weft_future base;
    weft_sleep *sleeps;
} churn_root;
static weft_poll churn_root_poll(weft_future *f, weft_context *cx, void *out) {
    churn_root *s = (churn_root *)f;
    (void)out;
    weft_instant base = weft_now();
    uint64_t x = LCG_SEED;
    for (int i = 0; i < CHURN_TIMERS; i++) {
        x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        weft_instant at = base + (uint64_t)WEFT_MS(1 + (x >> 33) % CHURN_MAX_MS);
        weft_future_poll(weft_sleep_until(&s->sleeps[i], at), cx, NULL);
    }
    for (int i = 0; i < CHURN_TIMERS; i++)
        weft_future_drop(&s->sleeps[i].base);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(churn_root, churn_root_poll, NULL);

static void setup_sleeps(bench_ctx *b) { b->scratch = calloc(CHURN_TIMERS, sizeof(weft_sleep)); }
static void teardown_sleeps(bench_ctx *b) { free(b->scratch); }

static void timer_churn(bench_ctx *b) {
    churn_root root = WEFT_NEW(churn_root, .sleeps = b->scratch);
    must(weft_runtime_block_on(b->rt, &root.base, NULL), "block_on");
}

/* ------------------------------------------------------------- timer_fire */

typedef struct fire_task {
    weft_future base;
    int ms;
    weft_sleep nap;
} fire_task;
static weft_poll fire_task_poll(weft_future *f, weft_context *cx, void *out) {
    fire_task *s = (fire_task *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(s->ms)), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(fire_task, fire_task_poll, NULL);

typedef struct fire_root {
    weft_future base;
    weft_join_handle *jh;
    int i;
} fire_root;
static weft_poll fire_root_poll(weft_future *f, weft_context *cx, void *out) {
    fire_root *s = (fire_root *)f;
    WEFT_BEGIN(f);
    for (int i = 0; i < FIRE_TIMERS; i++)
        must(weft_spawn(&WEFT_NEW(fire_task, .ms = 1 + i % 10), &s->jh[i]), "spawn");
    for (s->i = 0; s->i < FIRE_TIMERS; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(fire_root, fire_root_poll, NULL);

static void setup_fire(bench_ctx *b) { b->scratch = calloc(FIRE_TIMERS, sizeof(weft_join_handle)); }

static void timer_fire(bench_ctx *b) {
    fire_root root = WEFT_NEW(fire_root, .jh = b->scratch);
    must(weft_runtime_block_on(b->rt, &root.base, NULL), "block_on");
}

/* ------------------------------------------------------------------ list */

static const bench_def d_spawn_many_local = {"spawn_many_local", NUM_SPAWN, NULL, setup_done,
                                             spawn_many_local, teardown_done};
static const bench_def d_spawn_many_remote_idle = {"spawn_many_remote_idle", NUM_SPAWN, NULL,
                                                   setup_handles, spawn_many_remote_idle,
                                                   teardown_handles};
static const bench_def d_ct_spawn_await_local = {"ct_spawn_await_local", CT_NUM_SPAWN, NULL,
                                                 setup_handles, ct_spawn_await_local,
                                                 teardown_handles};
static const bench_def d_yield_many = {"yield_many", YIELD_TASKS * NUM_YIELD, NULL, setup_done,
                                       yield_many, teardown_done};
static const bench_def d_chained_spawn = {"chained_spawn", CHAIN, NULL, setup_done, chained_spawn,
                                          teardown_done};
static const bench_def d_timer_churn = {"timer_churn", CHURN_TIMERS, NULL, setup_sleeps,
                                        timer_churn, teardown_sleeps};
static const bench_def d_timer_fire = {"timer_fire", FIRE_TIMERS, NULL, setup_fire, timer_fire,
                                       teardown_handles};

const bench_def *const bench_core_list[] = {
    &d_spawn_many_local, &d_spawn_many_remote_idle, &d_ct_spawn_await_local, &d_yield_many,
    &d_chained_spawn,    &d_timer_churn,            &d_timer_fire,           NULL,
};
