/* weft tests — the runtime: context rules (nested block_on, current handle),
 * handles used from other OS threads, shutdown, diagnostics, the error
 * table, argument checking, stats and the async main.
 *
 * Threads appear only in the tests about threads, and they synchronise on
 * conditions (a gate the tasks open), never on sleeps.
 */
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static weft_handle *H(wt_env *env) { return weft_runtime_handle(wt_rt(env)); }
static uint64_t timers(wt_env *env) {
    weft_runtime_stats st;
    weft_handle_stats(H(env), &st);
    return st.timers;
}


/* ------------------------------------------------------------ the futures */


typedef struct value {
    weft_future base;
    int v;
} value;
static weft_poll value_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    *(int *)out = ((value *)f)->v;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(value, value_poll, NULL, int);

/* A one-shot gate any thread may open; awaiting it parks the waiter. */
typedef struct gate {
    pthread_mutex_t m;
    pthread_cond_t c; /* for plain threads that wait on `waiting` */
    bool open;
    bool waiting; /* someone awaits it (its waker is stored) */
    weft_waker w;
} gate;
static void gate_init(gate *g) {
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->open = g->waiting = false;
    g->w = (weft_waker){0};
}
static void gate_destroy(gate *g) {
    weft_waker_drop(&g->w);
    pthread_cond_destroy(&g->c);
    pthread_mutex_destroy(&g->m);
}
static void gate_open(gate *g) {
    pthread_mutex_lock(&g->m);
    g->open = true;
    weft_waker w = g->w;
    g->w = (weft_waker){0};
    pthread_mutex_unlock(&g->m);
    weft_waker_wake(&w);
}
/* Blocks a plain thread until the gate has a waiter. */
static void gate_wait_waiter(gate *g) {
    pthread_mutex_lock(&g->m);
    while (!g->waiting)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
}

typedef struct gate_wait {
    weft_future base;
    gate *g;
} gate_wait;
static weft_poll gate_wait_poll(weft_future *f, weft_context *cx, void *out) {
    gate *g = ((gate_wait *)f)->g;
    (void)out;
    pthread_mutex_lock(&g->m);
    bool open = g->open;
    if (!open) {
        weft_waker_set(&g->w, weft_cx_waker(cx));
        g->waiting = true;
        pthread_cond_broadcast(&g->c);
    }
    pthread_mutex_unlock(&g->m);
    return open ? WEFT_READY : WEFT_PENDING;
}
WEFT_FUTURE_DEFINE_VOID(gate_wait, gate_wait_poll, NULL);

/* Opens a gate (a task spawned from another thread does it). */
typedef struct opener {
    weft_future base;
    gate *g;
    pthread_t *ran_on;
    weft_handle **cur;
} opener;
static weft_poll opener_poll(weft_future *f, weft_context *cx, void *out) {
    opener *s = (opener *)f;
    (void)cx;
    (void)out;
    if (s->ran_on)
        *s->ran_on = pthread_self();
    if (s->cur)
        *s->cur = weft_handle_current();
    gate_open(s->g);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(opener, opener_poll, NULL);

/* A context for polling outside any runtime (a JoinHandle of a finished
 * task answers without storing the waker). */
static weft_waker noop_clone(const void *d);
static void noop(const void *d) { (void)d; }
static const weft_waker_vtable noop_vt = {noop_clone, noop, noop, noop};
static weft_waker noop_clone(const void *d) { return (weft_waker){d, &noop_vt}; }
static const weft_waker noop_waker = {NULL, &noop_vt};

/* ------------------------------------------------------ context rules */

typedef struct nested {
    weft_future base;
    weft_runtime *other_rt;
    value *inner;
    int same, other, through_handle, main_run;
    weft_handle *cur;
} nested;
static weft_poll nested_poll(weft_future *f, weft_context *cx, void *out) {
    nested *s = (nested *)f;
    (void)cx;
    (void)out;
    s->cur = weft_handle_current();
    int v = 0;
    s->same = weft_runtime_block_on((weft_runtime *)s->cur, &s->inner->base, &v);
    s->other = weft_runtime_block_on(s->other_rt, &s->inner->base, &v);
    s->through_handle = weft_handle_block_on(weft_runtime_handle(s->other_rt), &s->inner->base, &v);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(nested, nested_poll, NULL);

static void nested_block_on_refused(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_runtime *other;
    assert_int_equal(weft_runtime_new(&env->builder, &other), 0);
    value inner = WEFT_NEW(value, .v = 12);
    nested s = WEFT_NEW(nested, .other_rt = other, .inner = &inner);
    wt_block_on(env, &s.base, NULL);
    assert_ptr_equal(s.cur, H(env));
    assert_int_equal(s.same, WEFT_ENESTED);
    assert_int_equal(s.other, WEFT_ENESTED);
    assert_int_equal(s.through_handle, WEFT_ENESTED);
    assert_string_equal(weft_strerror(s.same), "Cannot start a runtime from within a runtime");
    assert_string_equal(weft_err_name(s.same), "WEFT_ENESTED");
    /* The refused future was left untouched: it still runs normally. */
    assert_int_equal(inner.base.flags & (WEFT__F_POLLED | WEFT__F_DROPPED), 0);
    int v = 0;
    assert_int_equal(weft_runtime_block_on(other, &inner.base, &v), 0);
    assert_int_equal(v, 12);
    weft_runtime_free(other);
}

/* The same from inside a spawned task. */
typedef struct nested_task {
    weft_future base;
    value inner;
} nested_task;
static weft_poll nested_task_poll(weft_future *f, weft_context *cx, void *out) {
    nested_task *s = (nested_task *)f;
    (void)cx;
    s->inner = WEFT_NEW(value, .v = 1);
    int v = 0;
    int err = weft_runtime_block_on((weft_runtime *)weft_handle_current(), &s->inner.base, &v);
    int err2 = weft_handle_block_on(weft_handle_current(), &s->inner.base, &v);
    s->inner.base.flags |= WEFT__F_POLLED; /* ours; not "forgotten" */
    *(int *)out = err == err2 ? err : 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(nested_task, nested_task_poll, NULL, int);

static void nested_block_on_in_task(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_join_handle jh;
    assert_int_equal(weft_handle_spawn(H(env), &WEFT_NEW(nested_task), &jh), 0);
    int err = 0;
    wt_block_on(env, weft_join(&jh), &err);
    assert_int_equal(err, WEFT_ENESTED);
}

typedef struct where {
    weft_future base;
    weft_handle *root, *task;
    weft_join_handle jh;
    weft_flavor flavor;
} where;
typedef struct where_task {
    weft_future base;
} where_task;
static weft_poll where_task_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    *(weft_handle **)out = weft_handle_current();
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(where_task, where_task_poll, NULL, weft_handle *);
static weft_poll where_poll(weft_future *f, weft_context *cx, void *out) {
    where *s = (where *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->root = weft_handle_current();
    s->flavor = weft_handle_flavor(s->root);
    assert_int_equal(weft_spawn(&WEFT_NEW(where_task), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->task);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(where, where_poll, NULL);

static void handle_current(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    assert_null(weft_handle_current());
    where s = WEFT_NEW(where);
    wt_block_on(env, &s.base, NULL);
    assert_ptr_equal(s.root, H(env));
    assert_ptr_equal(s.task, H(env));
    assert_int_equal(s.flavor, env->flavor);
    assert_null(weft_handle_current()); /* left on return */
    /* Two runtimes in one process: each sees its own. */
    weft_runtime *other;
    assert_int_equal(weft_runtime_new(&env->builder, &other), 0);
    where t = WEFT_NEW(where);
    assert_int_equal(weft_runtime_block_on(other, &t.base, NULL), 0);
    assert_ptr_equal(t.root, weft_runtime_handle(other));
    assert_ptr_equal(t.task, weft_runtime_handle(other));
    assert_ptr_not_equal(t.root, s.root);
    weft_runtime_free(other);
    assert_null(weft_handle_current());
}

/* -------------------------------------------------- other OS threads */

typedef struct xthread {
    weft_handle *h;
    gate *g;
    pthread_t ran_on;
    weft_handle *cur;
    int err;
} xthread;

static void *spawn_from_thread(void *arg) {
    xthread *x = arg;
    gate_wait_waiter(x->g); /* the runtime has nothing else to do: parked */
    x->err = weft_handle_spawn(x->h, &WEFT_NEW(opener, .g = x->g, .ran_on = &x->ran_on,
                                                .cur = &x->cur),
                               NULL);
    weft_handle_release(x->h);
    return NULL;
}

static void spawn_from_other_thread_wakes_runtime(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    gate g;
    gate_init(&g);
    xthread x = {.h = weft_handle_clone(H(env)), .g = &g};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, spawn_from_thread, &x), 0);
    wt_block_on(env, &WEFT_NEW(gate_wait, .g = &g).base, NULL);
    pthread_join(th, NULL);
    assert_int_equal(x.err, 0);
    assert_ptr_equal(x.cur, H(env)); /* the task ran inside the runtime */
    if (env->flavor == WEFT_CURRENT_THREAD)
        assert_true(pthread_equal(x.ran_on, pthread_self()));
    gate_destroy(&g);
}

/* Many threads spawn at once through one handle. */
enum { SPAWNERS = 4, PER_THREAD = 500 };
typedef struct bump {
    weft_future base;
    _Atomic int *n;
    gate *g;
} bump;
static weft_poll bump_poll(weft_future *f, weft_context *cx, void *out) {
    bump *s = (bump *)f;
    (void)cx;
    (void)out;
    if (atomic_fetch_add(s->n, 1) + 1 == SPAWNERS * PER_THREAD)
        gate_open(s->g);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(bump, bump_poll, NULL);

typedef struct storm {
    weft_handle *h;
    _Atomic int *n;
    gate *g;
    int errs;
} storm;
static void *storm_thread(void *arg) {
    storm *s = arg;
    for (int i = 0; i < PER_THREAD; i++)
        if (weft_handle_spawn(s->h, &WEFT_NEW(bump, .n = s->n, .g = s->g), NULL))
            s->errs++;
    return NULL;
}

static void spawn_storm_from_threads(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    gate g;
    gate_init(&g);
    _Atomic int n = 0;
    storm s[SPAWNERS];
    pthread_t th[SPAWNERS];
    for (int i = 0; i < SPAWNERS; i++) {
        s[i] = (storm){weft_handle_clone(H(env)), &n, &g, 0};
        assert_int_equal(pthread_create(&th[i], NULL, storm_thread, &s[i]), 0);
    }
    wt_block_on(env, &WEFT_NEW(gate_wait, .g = &g).base, NULL);
    for (int i = 0; i < SPAWNERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(s[i].errs, 0);
        weft_handle_release(s[i].h);
    }
    assert_int_equal(atomic_load(&n), SPAWNERS * PER_THREAD);
    weft_runtime_stats st;
    weft_handle_stats(H(env), &st);
    assert_int_equal(st.spawned, SPAWNERS * PER_THREAD);
    gate_destroy(&g);
}

/* A plain thread runs a future through the handle; the future spawns a
 * task on the runtime (driven by the main thread) and awaits it. */
typedef struct outside {
    weft_future base;
    weft_join_handle jh;
    weft_handle *cur;
    int v;
} outside;
static weft_poll outside_poll(weft_future *f, weft_context *cx, void *out) {
    outside *s = (outside *)f;
    WEFT_BEGIN(f);
    s->cur = weft_handle_current();
    assert_int_equal(weft_spawn(&WEFT_NEW(value, .v = 41), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->v);
    WEFT_RETURN(f, out, int, s->v + 1);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(outside, outside_poll, NULL, int);

typedef struct plain {
    weft_handle *h;
    gate *g;
    outside fut;
    int err, out;
    weft_handle *cur_after;
} plain;
static void *plain_thread(void *arg) {
    plain *p = arg;
    p->fut = WEFT_NEW(outside);
    p->err = weft_handle_block_on(p->h, &p->fut.base, &p->out);
    p->cur_after = weft_handle_current();
    gate_open(p->g);
    return NULL;
}

static void handle_block_on_from_plain_thread(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    gate g;
    gate_init(&g);
    plain p = {.h = H(env), .g = &g, .out = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, plain_thread, &p), 0);
    wt_block_on(env, &WEFT_NEW(gate_wait, .g = &g).base, NULL);
    pthread_join(th, NULL);
    assert_int_equal(p.err, 0);
    assert_int_equal(p.out, 42);
    assert_ptr_equal(p.fut.cur, H(env));
    assert_null(p.cur_after);
    gate_destroy(&g);
    value v = WEFT_NEW(value);
    assert_int_equal(weft_handle_block_on(NULL, &v.base, NULL), WEFT_EINVAL);
    assert_int_equal(weft_handle_block_on(H(env), NULL, NULL), WEFT_EINVAL);
    v.base.flags |= WEFT__F_POLLED; /* never run: not a forgotten await */
}

/* Keeps the first few diagnostics. */
typedef struct diag_log {
    int n;
    char what[4][128], site[4][128];
} diag_log;
static void log_diag(void *ctx, const char *what, const char *site) {
    diag_log *d = ctx;
    if (d->n < 4) {
        snprintf(d->what[d->n], sizeof d->what[0], "%s", what);
        snprintf(d->site[d->n], sizeof d->site[0], "%s", site);
    }
    d->n++;
}

/* A task on one runtime spawns onto a second runtime, driven by another
 * thread, and awaits the JoinHandle: the completion crosses runtimes and
 * threads, and each runtime keeps its own tasks and memory. */
typedef struct drive_b {
    weft_runtime *rt;
    gate *g;
    int err;
} drive_b;
static void *drive_b_thread(void *arg) {
    drive_b *d = arg;
    gate_wait w = WEFT_NEW(gate_wait, .g = d->g);
    d->err = weft_runtime_block_on(d->rt, &w.base, NULL);
    return NULL;
}

typedef struct cross {
    weft_future base;
    weft_handle *other;
    gate *stop;
    weft_join_handle jh;
    int v;
    weft_handle *here;
} cross;
static weft_poll cross_poll(weft_future *f, weft_context *cx, void *out) {
    cross *s = (cross *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->here = weft_handle_current();
    assert_int_equal(weft_handle_spawn(s->other, &WEFT_NEW(value, .v = 99), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->v);
    gate_open(s->stop);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(cross, cross_poll, NULL);

static void spawn_onto_another_runtime(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_runtime *b;
    assert_int_equal(weft_runtime_new(&env->builder, &b), 0);
    gate g;
    gate_init(&g);
    drive_b d = {b, &g, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drive_b_thread, &d), 0);
    cross s = WEFT_NEW(cross, .other = weft_runtime_handle(b), .stop = &g);
    wt_block_on(env, &s.base, NULL);
    pthread_join(th, NULL);
    assert_int_equal(d.err, 0);
    assert_int_equal(s.v, 99);
    assert_int_equal(weft_join_status(&s.jh), 0);
    assert_ptr_equal(s.here, H(env));
    weft_runtime_stats sa, sb;
    weft_handle_stats(H(env), &sa);
    weft_handle_stats(weft_runtime_handle(b), &sb);
    assert_int_equal(sa.spawned, 0);
    assert_int_equal(sb.spawned, 1);
    assert_int_equal(sb.alive_tasks, 0);
    weft_runtime_free(b);
    gate_destroy(&g);
}

/* current_thread has one driver: a second block_on from another thread
 * while the first runs is refused, and like a nested one it leaves the
 * future untouched (not polled, not dropped, no "forgot to await"). */
typedef struct second {
    weft_runtime *rt;
    gate *g;
    value v;
    int err, out;
} second;
static void *second_thread(void *arg) {
    second *s = arg;
    gate_wait_waiter(s->g); /* the first block_on is driving */
    s->v = WEFT_NEW(value, .v = 5);
    s->err = weft_runtime_block_on(s->rt, &s->v.base, &s->out);
    gate_open(s->g);
    return NULL;
}

static void second_block_on_is_busy(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    diag_log d = {0};
    env->builder.on_diagnostic = log_diag;
    env->builder.diagnostic_ctx = &d;
    gate g;
    gate_init(&g);
    second s = {.rt = wt_rt(env), .g = &g, .err = 1, .out = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, second_thread, &s), 0);
    wt_block_on(env, &WEFT_NEW(gate_wait, .g = &g).base, NULL);
    pthread_join(th, NULL);
    assert_int_equal(s.err, WEFT_EBUSY);
    assert_int_equal(s.out, -1);
    assert_int_equal(s.v.base.flags & (WEFT__F_POLLED | WEFT__F_DROPPED), 0);
    /* Still whole: it runs once the runtime is free. */
    wt_block_on(env, &s.v.base, &s.out);
    assert_int_equal(s.out, 5);
    assert_int_equal(d.n, 0);
    gate_destroy(&g);
}

/* --------------------------------------------------------------- shutdown */

typedef struct until_polled {
    weft_future base;
    counts *c;
    int n;
    weft_handle *h; /* if set, also wait for `timers` armed timers */
    uint64_t timers;
    weft_yield_now y;
} until_polled;
static bool too_few_timers(const until_polled *s) {
    if (!s->h)
        return false;
    weft_runtime_stats st;
    weft_handle_stats(s->h, &st);
    return st.timers < s->timers;
}
static weft_poll until_polled_poll(weft_future *f, weft_context *cx, void *out) {
    until_polled *s = (until_polled *)f;
    (void)out;
    WEFT_BEGIN(f);
    while (atomic_load(&s->c->polls) < s->n || too_few_timers(s))
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(until_polled, until_polled_poll, NULL);

static void shutdown_drops_pending_tasks(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    counts polled = {0}, queued = {0};
    weft_join_handle jh[2];
    diag_log d = {0};
    env->builder.on_diagnostic = log_diag;
    env->builder.diagnostic_ctx = &d;
    weft_handle *h = H(env);
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(forever, .c = &polled), &jh[0]), 0);
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(forever, .c = &polled), NULL), 0);
    wt_block_on(env, &WEFT_NEW(until_polled, .c = &polled, .n = 2).base, NULL);
    /* One more that never gets polled before shutdown. */
    int line = __LINE__ + 1;
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(forever, .c = &queued), &jh[1]), 0);

    weft_runtime_free(env->rt);
    env->rt = NULL;
    assert_int_equal(atomic_load(&polled.drops), 2);
    assert_int_equal(atomic_load(&queued.drops), 1);
    /* multi_thread's workers run tasks without any block_on: it may have
     * been polled there already. */
    if (env->flavor != WEFT_MULTI_THREAD)
        assert_int_equal(atomic_load(&queued.polls), 0);
    /* One diagnostic per task, naming where it was spawned. */
    assert_int_equal(d.n, 3);
    char site[256];
    snprintf(site, sizeof site, "%s:%d", __FILE__, line);
    int found = 0;
    for (int i = 0; i < 3; i++) {
        assert_non_null(strstr(d.what[i], "task still alive at shutdown"));
        assert_non_null(strstr(d.site[i], __FILE__));
        found += strcmp(d.site[i], site) == 0;
    }
    assert_int_equal(found, 1);
    /* The handles outlive the runtime and report the cancellation. */
    weft_context cx = {&noop_waker, NULL, 0, 0};
    for (int i = 0; i < 2; i++) {
        assert_true(weft_join_is_finished(&jh[i]));
        assert_int_equal(weft_future_poll(weft_join(&jh[i]), &cx, NULL), WEFT_READY);
        assert_int_equal(weft_join_status(&jh[i]), WEFT_ECANCELED);
    }
    assert_int_equal(atomic_load(&polled.drops), 2);
    assert_int_equal(atomic_load(&queued.drops), 1);
    wt_free_rt(env); /* every allocation is gone now */
}

/* Yields forever (or self-wakes by reference without yielding), counting
 * its polls and its drop: such a task waits in its scheduler's queue
 * still marked as running (a resumed entry), never as an ordinary one. */
typedef struct self_waker {
    weft_future base;
    counts *c;
    bool by_ref; /* wake itself through its waker instead of yielding */
} self_waker;
static weft_poll self_waker_poll(weft_future *f, weft_context *cx, void *out) {
    self_waker *s = (self_waker *)f;
    (void)out;
    atomic_fetch_add(&s->c->polls, 1);
    if (s->by_ref)
        weft_waker_wake_by_ref(weft_cx_waker(cx));
    else
        weft_yield_request(cx);
    return WEFT_PENDING;
}
static void self_waker_drop(weft_future *f) { atomic_fetch_add(&((self_waker *)f)->c->drops, 1); }
WEFT_FUTURE_DEFINE_VOID(self_waker, self_waker_poll, self_waker_drop);

/* Shutdown cancels tasks that keep waking themselves: each is dropped
 * once, its JoinHandle reports the cancellation, nothing leaks. */
static void shutdown_drops_self_waking_tasks(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    counts c = {0};
    enum { N = 6 };
    weft_join_handle jh[N];
    diag_log d = {0};
    env->builder.on_diagnostic = log_diag;
    env->builder.diagnostic_ctx = &d;
    weft_handle *h = H(env);
    for (int i = 0; i < N; i++)
        assert_int_equal(
            weft_handle_spawn(h, &WEFT_NEW(self_waker, .c = &c, .by_ref = i % 2), &jh[i]), 0);
    wt_block_on(env, &WEFT_NEW(until_polled, .c = &c, .n = 4 * N).base, NULL);
    weft_runtime_free(env->rt);
    env->rt = NULL;
    assert_int_equal(atomic_load(&c.drops), N);
    assert_int_equal(d.n, N);
    int polls = atomic_load(&c.polls);
    weft_context cx = {&noop_waker, NULL, 0, 0};
    for (int i = 0; i < N; i++) {
        assert_true(weft_join_is_finished(&jh[i]));
        assert_int_equal(weft_future_poll(weft_join(&jh[i]), &cx, NULL), WEFT_READY);
        assert_int_equal(weft_join_status(&jh[i]), WEFT_ECANCELED);
    }
    assert_int_equal(atomic_load(&c.polls), polls);
    wt_free_rt(env);
}

static void spawn_after_shutdown(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_handle *h = weft_handle_clone(H(env));
    weft_runtime_free(env->rt);
    env->rt = NULL;
    assert_true(atomic_load(&env->live) > 0); /* the clone keeps the shared part */
    counts c = {0};
    weft_join_handle jh;
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(forever, .c = &c), &jh), WEFT_ESHUTDOWN);
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(atomic_load(&c.polls), 0);
    assert_int_equal(weft_join_status(&jh), WEFT_EJOINED);
    assert_null(jh.task);
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(forever, .c = &c), NULL), WEFT_ESHUTDOWN);
    assert_int_equal(atomic_load(&c.drops), 2);
    weft_runtime_stats st;
    weft_handle_stats(h, &st);
    assert_int_equal(st.spawned, 0);
    assert_int_equal(st.alive_tasks, 0);
    assert_int_equal(weft_handle_flavor(h), env->flavor);
    assert_int_equal(env->diags, 0);
    weft_handle_release(h);
    wt_free_rt(env);
}

/* At shutdown, tasks that await each other, hold timers, and whose
 * cleanup tries to spawn: every one is dropped once, the spawn is refused,
 * nothing leaks. */
typedef struct spawns_on_drop {
    weft_future base;
    counts *c;
    int *err;
    counts *child;
} spawns_on_drop;
static weft_poll spawns_on_drop_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    atomic_fetch_add(&((spawns_on_drop *)f)->c->polls, 1);
    return WEFT_PENDING;
}
static void spawns_on_drop_drop(weft_future *f) {
    spawns_on_drop *s = (spawns_on_drop *)f;
    atomic_fetch_add(&s->c->drops, 1);
    *s->err = weft_spawn(&WEFT_NEW(forever, .c = s->child), NULL);
}
WEFT_FUTURE_DEFINE_VOID(spawns_on_drop, spawns_on_drop_poll, spawns_on_drop_drop);

typedef struct waits_on {
    weft_future base;
    counts *c;
    int depth;
    weft_join_handle jh;
    weft_sleep nap;
} waits_on;
static weft_poll waits_on_poll(weft_future *f, weft_context *cx, void *out);
WEFT_FUTURE_DEFINE_VOID(waits_on, waits_on_poll, NULL);
static weft_poll waits_on_poll(weft_future *f, weft_context *cx, void *out) {
    waits_on *s = (waits_on *)f;
    (void)out;
    WEFT_BEGIN(f);
    atomic_fetch_add(&s->c->polls, 1);
    if (s->depth == 0) {
        WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_SECS(3600)), NULL);
    } else {
        assert_int_equal(weft_spawn(&WEFT_NEW(waits_on, .c = s->c, .depth = s->depth - 1), &s->jh),
                         0);
        WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    }
    WEFT_END(f);
}

static void shutdown_tangle(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    env->builder.start_paused = true;
    diag_log d = {0};
    env->builder.on_diagnostic = log_diag;
    env->builder.diagnostic_ctx = &d;
    weft_handle *h = H(env);
    counts chain = {0}, sod = {0}, child = {0};
    int err = 0;
    assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(waits_on, .c = &chain, .depth = 5), NULL), 0);
    assert_int_equal(
        weft_handle_spawn(h, &WEFT_NEW(spawns_on_drop, .c = &sod, .err = &err, .child = &child),
                          NULL),
        0);
    /* Run until the whole chain waits and the hour-long timer is armed (on
     * multi_thread the last poll is counted before its sleep is armed, on
     * another worker: wait for both). */
    wt_block_on(env, &WEFT_NEW(until_polled, .c = &chain, .n = 6, .h = h, .timers = 1).base,
                NULL);
    wt_block_on(env, &WEFT_NEW(until_polled, .c = &sod, .n = 1).base, NULL);
    weft_runtime_stats st;
    weft_handle_stats(h, &st);
    assert_int_equal(st.alive_tasks, 7);
    assert_int_equal(st.timers, 1);
    wt_free_rt(env);
    assert_int_equal(err, WEFT_ESHUTDOWN);
    assert_int_equal(atomic_load(&child.drops), 1);
    assert_int_equal(atomic_load(&child.polls), 0);
    assert_int_equal(atomic_load(&sod.drops), 1);
    assert_int_equal(d.n, 7);
}

/* A plain thread sleeps through the handle of a paused runtime: the
 * runtime's idle driver moves the clock to its timer, exactly. */
typedef struct nap_fut {
    weft_future base;
    weft_duration d;
    weft_instant start;
    weft_sleep nap;
} nap_fut;
static weft_poll nap_fut_poll(weft_future *f, weft_context *cx, void *out) {
    nap_fut *s = (nap_fut *)f;
    WEFT_BEGIN(f);
    s->start = weft_now();
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, s->d), NULL);
    WEFT_RETURN(f, out, weft_instant, weft_now());
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(nap_fut, nap_fut_poll, NULL, weft_instant);

typedef struct plain_nap {
    weft_handle *h;
    gate *g;
    nap_fut fut;
    weft_duration d;
    int err;
    weft_instant end;
} plain_nap;
static void *plain_nap_thread(void *arg) {
    plain_nap *p = arg;
    p->fut = WEFT_NEW(nap_fut, .d = p->d);
    p->err = weft_handle_block_on(p->h, &p->fut.base, &p->end);
    gate_open(p->g);
    return NULL;
}

static void plain_thread_sleeps_on_paused_clock(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    env->builder.start_paused = true;
    gate g;
    gate_init(&g);
    plain_nap p = {.h = H(env), .g = &g, .d = WEFT_MS(50)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, plain_nap_thread, &p), 0);
    wt_block_on(env, &WEFT_NEW(gate_wait, .g = &g).base, NULL);
    pthread_join(th, NULL);
    assert_int_equal(p.err, 0);
    assert_int_equal(p.fut.start, 0);
    assert_int_equal(p.end, WEFT_MS(50));
    weft_runtime_stats st;
    weft_handle_stats(H(env), &st);
    assert_int_equal(st.timers, 0);
    gate_destroy(&g);
}

/* The same on the real clock: the parked driver learns of the new timer
 * (it was parked with no deadline) and fires it, never early. */
static void plain_thread_sleeps_on_real_clock(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    gate g;
    gate_init(&g);
    plain_nap p = {.h = H(env), .g = &g, .d = WEFT_MS(5)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, plain_nap_thread, &p), 0);
    wt_block_on(env, &WEFT_NEW(gate_wait, .g = &g).base, NULL);
    pthread_join(th, NULL);
    assert_int_equal(p.err, 0);
    assert_true(p.end >= p.fut.start + WEFT_MS(5));
    assert_int_equal(timers(env), 0);
    gate_destroy(&g);
}

/* ------------------------------------------------------------ diagnostics */

typedef struct forgetful {
    weft_future base;
    int line_sleep, line_new;
    char site_sleep[256];
} forgetful;
static weft_poll forgetful_poll(weft_future *f, weft_context *cx, void *out) {
    forgetful *s = (forgetful *)f;
    (void)out;
    weft_sleep nap;
    s->line_sleep = __LINE__ + 1;
    weft_future *fut = weft_sleep(&nap, WEFT_MS(5));
    weft_future_drop(fut);
    s->line_new = __LINE__ + 1;
    value v = WEFT_NEW(value, .v = 1);
    weft_future_drop(&v.base);
    /* Polled, then dropped: no report. */
    value w = WEFT_NEW(value, .v = 2);
    int x;
    assert_int_equal(weft_future_poll(&w.base, cx, &x), WEFT_READY);
    weft_future_drop(&w.base);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(forgetful, forgetful_poll, NULL);

static void forgot_to_await_reports_site(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    diag_log d = {0};
    env->builder.on_diagnostic = log_diag;
    env->builder.diagnostic_ctx = &d;
    env->builder.start_paused = true;
    forgetful s = WEFT_NEW(forgetful);
    wt_block_on(env, &s.base, NULL);
#ifdef NDEBUG
    assert_int_equal(d.n, 0);
#else
    assert_int_equal(d.n, 2);
    char site[256];
    snprintf(site, sizeof site, "%s:%d", __FILE__, s.line_sleep);
    assert_string_equal(d.site[0], site);
    assert_non_null(strstr(d.what[0], "forgot to await"));
    snprintf(site, sizeof site, "%s:%d", __FILE__, s.line_new);
    assert_string_equal(d.site[1], site);
    assert_non_null(strstr(d.what[1], "without ever being polled"));
#endif
}

/* ------------------------------------------------------------ error table */

static void error_table(void **state) {
    (void)state;
    struct {
        int code;
        const char *name, *msg;
    } e[] = {
#define ROW(name, value, msg) {WEFT_##name, "WEFT_" #name, msg},
        WEFT_ERRNO_MAP(ROW)
#undef ROW
    };
    size_t n = sizeof e / sizeof e[0];
    assert_true(n >= 19);
    for (size_t i = 0; i < n; i++) {
        assert_true(e[i].code < 0);
        assert_string_equal(weft_err_name(e[i].code), e[i].name);
        assert_string_equal(weft_strerror(e[i].code), e[i].msg);
        assert_true(strlen(e[i].msg) > 0);
        assert_string_not_equal(weft_strerror(e[i].code), "unknown weft error");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(e[i].code, e[j].code);
            assert_string_not_equal(weft_err_name(e[i].code), weft_err_name(e[j].code));
            assert_string_not_equal(weft_strerror(e[i].code), weft_strerror(e[j].code));
        }
    }
    assert_string_equal(weft_strerror(WEFT_ENESTED), "Cannot start a runtime from within a runtime");
    assert_string_equal(weft_strerror(0), "success");
    assert_string_equal(weft_err_name(0), "WEFT_OK");
    static const int unknown[] = {1, 42, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(weft_strerror(unknown[i]), "unknown weft error");
        assert_string_equal(weft_err_name(unknown[i]), "WEFT_UNKNOWN");
    }
    assert_int_equal(weft_translate_errno(0), 0);
    assert_int_equal(weft_translate_errno(EINVAL), WEFT_EINVAL);
    assert_int_equal(weft_translate_errno(ENOMEM), WEFT_ENOMEM);
    assert_int_equal(weft_translate_errno(ETIMEDOUT), WEFT_ETIMEDOUT);
    assert_int_equal(weft_translate_errno(ECANCELED), WEFT_ECANCELED);
    assert_int_equal(weft_translate_errno(EDOM), WEFT_EIO);
    assert_int_equal(weft_translate_errno(EPERM), WEFT_EACCES);
    assert_int_equal(weft_translate_errno(ECONNREFUSED), WEFT_ECONNREFUSED);
    assert_int_equal(weft_translate_errno(ECONNRESET), WEFT_ECONNRESET);
    assert_int_equal(weft_translate_errno(EPIPE), WEFT_EPIPE);
    assert_int_equal(weft_translate_errno(EADDRINUSE), WEFT_EADDRINUSE);
    assert_int_equal(weft_translate_errno(EMFILE), WEFT_EMFILE);
    assert_int_equal(weft_translate_errno(EWOULDBLOCK), WEFT_EAGAIN);
}

/* ------------------------------------------------------- invalid arguments */

static void invalid_arguments(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_runtime *rt = (weft_runtime *)&rt; /* must be reset on error */
    weft_builder b;

    assert_int_equal(weft_runtime_new(&env->builder, NULL), WEFT_EINVAL);
    b = env->builder;
    b.event_interval = 0;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    assert_null(rt);
    b = env->builder;
    b.global_queue_interval = 0;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    b = env->builder;
    b.worker_threads = -1;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    b = env->builder;
    b.allocator.alloc = NULL;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    b = env->builder;
    b.allocator.free = NULL;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    b = env->builder;
    b.flavor = (weft_flavor)7;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    b = env->builder;
    b.enable_time = false;
    b.start_paused = true; /* a paused clock needs time */
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_EINVAL);
    assert_int_equal(atomic_load(&env->live), 0); /* nothing was built */

    /* NULL builder: the defaults (current_thread). */
    assert_int_equal(weft_runtime_new(NULL, &rt), 0);
    assert_int_equal(weft_handle_flavor(weft_runtime_handle(rt)), WEFT_CURRENT_THREAD);
    weft_runtime_free(rt);

    value v = WEFT_NEW(value, .v = 3);
    int out = 0;
    assert_int_equal(weft_runtime_block_on(NULL, &v.base, &out), WEFT_EINVAL);
    assert_int_equal(weft_runtime_block_on(wt_rt(env), NULL, &out), WEFT_EINVAL);
    weft_future bare = {0};
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &bare, &out), WEFT_EINVAL);
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &v.base, &out), 0);
    assert_int_equal(out, 3);

    weft_runtime_free(NULL);
    weft_builder_init(NULL, WEFT_CURRENT_THREAD);
    weft_runtime_stats st;
    memset(&st, 0xff, sizeof st);
    weft_handle_stats(NULL, &st);
    assert_int_equal(st.spawned, 0);
    assert_int_equal(st.alive_tasks, 0);
    weft_handle_stats(H(env), NULL);
    assert_int_equal(weft_join_status(NULL), WEFT_EINVAL);
    assert_null(weft_handle_clone(NULL));
    weft_handle_release(NULL);
    assert_int_equal(env->diags, 0);
}

static void runtime_new_out_of_memory(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    /* Every allocation runtime_new makes may fail; none may leak. */
    for (long k = 1; k <= 64; k++) {
        atomic_store(&env->fail_at, atomic_load(&env->allocs) + k);
        weft_runtime *rt = NULL;
        int err = weft_runtime_new(&env->builder, &rt);
        atomic_store(&env->fail_at, 0);
        if (err == 0) {
            assert_true(k > 1); /* at least one allocation happened */
            weft_runtime_free(rt);
            assert_int_equal(atomic_load(&env->live), 0);
            return;
        }
        assert_int_equal(err, WEFT_ENOMEM);
        assert_null(rt);
        assert_int_equal(atomic_load(&env->live), 0);
    }
    fail_msg("runtime_new never succeeded");
}

/* ------------------------------------------------------------------ stats */

static void runtime_stats(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_handle *h = H(env);
    weft_runtime_stats st;
    weft_handle_stats(h, &st);
    assert_int_equal(st.alive_tasks, 0);
    assert_int_equal(st.spawned, 0);
    assert_int_equal(st.polls, 0);
    assert_int_equal(st.timers, 0);
    assert_int_equal(st.live_allocs, atomic_load(&env->live)); /* every byte counted */
    uint64_t base_allocs = st.live_allocs;

    counts c = {0};
    weft_join_handle jh[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(weft_handle_spawn(h, &WEFT_NEW(forever, .c = &c), &jh[i]), 0);
    weft_handle_stats(h, &st);
    assert_int_equal(st.alive_tasks, 3);
    assert_int_equal(st.spawned, 3);
    /* Task blocks come from slab chunks: one chunk holds all three. */
    assert_int_equal(st.live_allocs, base_allocs + 1);
    assert_int_equal(st.live_allocs, atomic_load(&env->live));

    wt_block_on(env, &WEFT_NEW(until_polled, .c = &c, .n = 3).base, NULL);
    weft_handle_stats(h, &st);
    assert_int_equal(st.polls, 3); /* never woken: one poll each */
    uint64_t polls = st.polls;
    for (int i = 0; i < 3; i++) {
        weft_join_abort(&jh[i]);
        wt_block_on(env, weft_join(&jh[i]), NULL);
        assert_int_equal(weft_join_status(&jh[i]), WEFT_ECANCELED);
    }
    weft_handle_stats(h, &st);
    assert_int_equal(st.alive_tasks, 0);
    assert_int_equal(st.spawned, 3);
    assert_int_equal(st.polls, polls); /* a cancellation is not a poll */
    /* Freed task blocks stay in their chunk (a spare): still live to the
     * allocator. */
    assert_true(st.live_allocs >= base_allocs);
    assert_int_equal(st.live_allocs, atomic_load(&env->live));
}

/* ---------------------------------------------------------------- entropy */

typedef struct draws {
    weft_future base;
    uint64_t a, b, below;
    bool all_below;
} draws;
static weft_poll draws_poll(weft_future *f, weft_context *cx, void *out) {
    draws *s = (draws *)f;
    (void)cx;
    (void)out;
    s->a = weft_random_u64();
    s->b = weft_random_u64();
    s->all_below = true;
    for (int i = 0; i < 1000; i++)
        s->all_below &= weft_random_below(10) < 10;
    s->below = weft_random_below(0) + weft_random_below(1);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(draws, draws_poll, NULL);

static void random_numbers(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    draws s = WEFT_NEW(draws);
    wt_block_on(env, &s.base, NULL);
    assert_true(s.a != s.b); /* 2^-64 to fail by chance */
    assert_true(s.all_below);
    assert_int_equal(s.below, 0);
    /* Outside a runtime too. */
    assert_true(weft_random_u64() != weft_random_u64());
    assert_int_equal(weft_random_below(1), 0);
    assert_true(weft_random_below(3) < 3);
}

/* ------------------------------------------------------------- async main */

typedef struct app {
    weft_future base;
    int argc;
    char **argv;
    int fail;
    weft_join_handle jh;
    int v;
} app;
static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *s = (app *)f;
    WEFT_BEGIN(f);
    if (s->fail)
        WEFT_FAIL(f, cx, WEFT_EIO);
    assert_int_equal(weft_spawn(&WEFT_NEW(value, .v = s->argc), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->v);
    WEFT_RETURN(f, out, int, s->v * 10 + (int)strlen(s->argv[0]));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

static void main_run(void **state) {
    (void)state;
    char a0[] = "prog", a1[] = "x";
    char *argv[] = {a0, a1, NULL};
    app a = WEFT_NEW(app, .argc = 2, .argv = argv);
    assert_int_equal(weft_main_run(&a.base), 24);
    assert_null(weft_handle_current());
    /* A failing main exits with status 1. */
    app b = WEFT_NEW(app, .argc = 2, .argv = argv, .fail = 1);
    assert_int_equal(weft_main_run(&b.base), 1);
}

/* A future that fails with WEFT_EBUSY is still dropped by block_on (it
 * is no refusal). */
typedef struct busy_fail {
    weft_future base;
    _Atomic int *drops;
} busy_fail;
static weft_poll busy_fail_poll(weft_future *f, weft_context *cx, void *out) {
    WEFT_BEGIN(f);
    WEFT_FAIL(f, cx, WEFT_EBUSY);
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
static void busy_fail_drop(weft_future *f) { atomic_fetch_add(((busy_fail *)f)->drops, 1); }
WEFT_FUTURE_DEFINE(busy_fail, busy_fail_poll, busy_fail_drop, int);

static void block_on_failing_with_ebusy_drops(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    _Atomic int drops = 0;
    busy_fail b = WEFT_NEW(busy_fail, .drops = &drops);
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &b.base, NULL), WEFT_EBUSY);
    assert_int_equal(atomic_load(&drops), 1);
}

/* block_on reports a WEFT_FAIL of its future. */
static void block_on_reports_failure(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    char a0[] = "p";
    char *argv[] = {a0, NULL};
    app b = WEFT_NEW(app, .argc = 1, .argv = argv, .fail = 1);
    int out = -1;
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &b.base, &out), WEFT_EIO);
    assert_int_equal(out, -1);
    /* The runtime is still usable. */
    app a = WEFT_NEW(app, .argc = 1, .argv = argv);
    wt_block_on(env, &a.base, &out);
    assert_int_equal(out, 11);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WT_FLAVORS(nested_block_on_refused),
        WT_FLAVORS(nested_block_on_in_task),
        WT_FLAVORS(handle_current),
        WT_THREADED(spawn_from_other_thread_wakes_runtime),
        WT_THREADED(spawn_storm_from_threads),
        WT_THREADED(handle_block_on_from_plain_thread),
        WT_THREADED(plain_thread_sleeps_on_paused_clock),
        WT_THREADED(spawn_onto_another_runtime),
        WT_CT(second_block_on_is_busy),
        WT_THREADED(plain_thread_sleeps_on_real_clock),
        WT_FLAVORS(shutdown_drops_pending_tasks),
        WT_FLAVORS(shutdown_drops_self_waking_tasks),
        WT_FLAVORS(spawn_after_shutdown),
        WT_FLAVORS(shutdown_tangle),
        WT_FLAVORS(forgot_to_await_reports_site),
        WT_CT(error_table),
        WT_FLAVORS(invalid_arguments),
        WT_FLAVORS(runtime_new_out_of_memory),
        WT_FLAVORS(runtime_stats),
        WT_FLAVORS(random_numbers),
        WT_CT(main_run),
        WT_FLAVORS(block_on_reports_failure),
        WT_FLAVORS(block_on_failing_with_ebusy_drops),
    };
    return WT_RUN("runtime", tests);
}
