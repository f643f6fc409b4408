/* weft tests — time: sleep, sleep_until, timeout, interval and the test
 * clock, all on a paused clock so every instant is exact.
 *
 * Where the order of timers matters it is recorded when the timers FIRE
 * (each sleep is polled with a recording waker), not when tasks resume,
 * so the checks hold on any scheduler.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>


#define DAY WEFT_SECS(86400)

static void paused(wt_env *env) { env->builder.start_paused = true; }
static weft_handle *H(wt_env *env) { return weft_runtime_handle(wt_rt(env)); }
static uint64_t timers(wt_env *env) {
    weft_runtime_stats st;
    weft_handle_stats(H(env), &st);
    return st.timers;
}

/* ------------------------------------------------------ recording wakers */

enum { MAXREC = 512 };

typedef struct recorder {
    _Atomic int n;
    int order[MAXREC];
    weft_instant at[MAXREC];
} recorder;

/* A waker that notes which timer fired and when, then wakes `inner`.  It
 * is reference counted as the waker contract asks (a worker thread may
 * still hold a clone it took out of the wheel when the test moves on); the
 * last reference drops `inner`. */
typedef struct rec_waker {
    recorder *r;
    int idx;
    weft_waker inner;
    _Atomic int refs;
} rec_waker;

static const weft_waker_vtable rec_vt;
static weft_waker rec_clone(const void *d) {
    atomic_fetch_add(&((rec_waker *)d)->refs, 1);
    return (weft_waker){d, &rec_vt};
}
static void rec_release(const void *d) {
    rec_waker *w = (rec_waker *)d;
    if (atomic_fetch_sub(&w->refs, 1) == 1)
        weft_waker_drop(&w->inner);
}
static void rec_wake_by_ref(const void *d) {
    const rec_waker *w = d;
    int k = atomic_fetch_add(&w->r->n, 1);
    assert_true(k < MAXREC);
    w->r->order[k] = w->idx;
    w->r->at[k] = weft_now();
    weft_waker_wake_by_ref(&w->inner);
}
static void rec_wake(const void *d) {
    rec_wake_by_ref(d);
    rec_release(d);
}
static const weft_waker_vtable rec_vt = {rec_clone, rec_wake, rec_wake_by_ref, rec_release};

/* Arms n sleeps in index order (sleep_until deadline[i]), each with its
 * recording waker, and completes when all of them fired. */
typedef struct multi {
    weft_future base;
    int n;
    int first_idx; /* recorded index of sleep 0 */
    const weft_instant *deadline;
    recorder *r;
    weft_sleep *sleeps;
    rec_waker *w;
    bool *done;
    bool armed;
} multi;
static weft_poll multi_poll(weft_future *f, weft_context *cx, void *out) {
    multi *m = (multi *)f;
    (void)out;
    if (!m->armed) {
        m->armed = true;
        for (int i = 0; i < m->n; i++) {
            m->w[i] = (rec_waker){m->r, m->first_idx + i, weft_waker_clone(weft_cx_waker(cx)), 1};
            weft_sleep_until(&m->sleeps[i], m->deadline[i]);
        }
    }
    bool all = true;
    for (int i = 0; i < m->n; i++) {
        if (m->done[i])
            continue;
        /* The same context with this sleep's own waker (tests may reach
         * the context's fields; futures use weft_cx_waker). */
        weft_context sub = *cx;
        weft_waker ww = {&m->w[i], &rec_vt};
        sub.weft__waker = &ww;
        if (weft_future_poll(&m->sleeps[i].base, &sub, NULL) == WEFT_READY)
            m->done[i] = true;
        else
            all = false;
    }
    return all ? WEFT_READY : WEFT_PENDING;
}
/* The recording wakers live in an array a worker thread may still hold
 * clones into (taken out of the wheel just as the sleep reads FIRED and
 * the test moves on): the arrays live until the process ends. */
enum { GRAVE_MAX = 64 };
static void *graveyard[GRAVE_MAX];
static int graves;
static void bury_all(void) {
    while (graves)
        free(graveyard[--graves]);
}
static void bury(void *p) {
    if (graves == 0)
        atexit(bury_all);
    if (graves == GRAVE_MAX)
        fail_msg("graveyard full");
    graveyard[graves++] = p;
}

static void multi_drop(weft_future *f) {
    multi *m = (multi *)f;
    for (int i = 0; i < m->n; i++) {
        if (m->armed) {
            weft_future_drop(&m->sleeps[i].base);
            rec_release(&m->w[i]); /* the multi's own reference */
        }
    }
    free(m->sleeps);
    bury(m->w);
    free(m->done);
}
WEFT_FUTURE_DEFINE_VOID(multi, multi_poll, multi_drop);

static multi make_multi(int n, const weft_instant *deadline, recorder *r) {
    multi m = WEFT_NEW(multi, .n = n, .deadline = deadline, .r = r);
    m.sleeps = calloc((size_t)n, sizeof *m.sleeps);
    m.w = calloc((size_t)n, sizeof *m.w);
    m.done = calloc((size_t)n, sizeof *m.done);
    assert_true(m.sleeps && m.w && m.done);
    return m;
}

/* ------------------------------------------------------------------ sleep */

typedef struct napper {
    weft_future base;
    weft_duration d;
    bool until;
    weft_instant t;
    weft_sleep nap;
    weft_instant start;
} napper;
static weft_poll napper_poll(weft_future *f, weft_context *cx, void *out) {
    napper *s = (napper *)f;
    WEFT_BEGIN(f);
    s->start = weft_now();
    if (s->until)
        WEFT_AWAIT(f, cx, weft_sleep_until(&s->nap, s->t), NULL);
    else
        WEFT_AWAIT(f, cx, weft_sleep(&s->nap, s->d), NULL);
    WEFT_RETURN(f, out, weft_instant, weft_now());
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(napper, napper_poll, NULL, weft_instant);

static weft_instant nap_for(wt_env *env, weft_duration d) {
    napper s = WEFT_NEW(napper, .d = d);
    weft_instant end = 0;
    wt_block_on(env, &s.base, &end);
    return end;
}

static void sleep_exact(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    assert_int_equal(nap_for(env, WEFT_MS(10)), WEFT_MS(10));
    assert_int_equal(nap_for(env, WEFT_MS(25)), WEFT_MS(35));
    /* A sub-millisecond duration rounds up to the next tick: never early. */
    assert_int_equal(nap_for(env, WEFT_US(1500)), WEFT_MS(37));
    assert_int_equal(timers(env), 0);
}

static void sleep_until_exact(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    napper s = WEFT_NEW(napper, .until = true, .t = WEFT_MS(42));
    weft_instant end = 0;
    wt_block_on(env, &s.base, &end);
    assert_int_equal(s.start, 0);
    assert_int_equal(end, WEFT_MS(42));
    napper u = WEFT_NEW(napper, .until = true, .t = WEFT_MS(50) + 1);
    wt_block_on(env, &u.base, &end);
    assert_int_equal(end, WEFT_MS(51));
}

/* A sleep that is due completes on its first poll and never arms. */
typedef struct due_check {
    weft_future base;
    weft_sleep a, b, c;
    weft_poll ra, rb, rc;
    uint64_t timers_after;
    weft_instant before, after;
    bool elapsed;
} due_check;
static weft_poll due_check_poll(weft_future *f, weft_context *cx, void *out) {
    due_check *s = (due_check *)f;
    (void)out;
    s->before = weft_now();
    s->ra = weft_future_poll(weft_sleep(&s->a, 0), cx, NULL);
    s->rb = weft_future_poll(weft_sleep_until(&s->b, s->before - WEFT_MS(10)), cx, NULL);
    s->rc = weft_future_poll(weft_sleep(&s->c, WEFT_MS(-5)), cx, NULL);
    weft_runtime_stats st;
    weft_handle_stats(weft_handle_current(), &st);
    s->timers_after = st.timers;
    s->after = weft_now();
    s->elapsed = weft_sleep_is_elapsed(&s->a) && weft_sleep_is_elapsed(&s->b);
    weft_future_drop(&s->a.base);
    weft_future_drop(&s->b.base);
    weft_future_drop(&s->c.base);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(due_check, due_check_poll, NULL);

static void sleep_zero_and_past_complete_at_once(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    assert_int_equal(nap_for(env, WEFT_MS(20)), WEFT_MS(20));
    due_check s = WEFT_NEW(due_check);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.ra, WEFT_READY);
    assert_int_equal(s.rb, WEFT_READY);
    assert_int_equal(s.rc, WEFT_READY);
    assert_int_equal(s.timers_after, 0);
    assert_int_equal(s.before, WEFT_MS(20));
    assert_int_equal(s.after, WEFT_MS(20));
    assert_true(s.elapsed);
    assert_int_equal(env->diags, 0);
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void hour_sleep_is_instant(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    uint64_t w0 = wall_ns();
    assert_int_equal(nap_for(env, WEFT_SECS(3600)), WEFT_SECS(3600));
    /* Virtual time costs nothing: far less than a second of real time. */
    assert_true(wall_ns() - w0 < WEFT_SECS(1));
}

/* ---------------------------------------------------------- timer order */

static void equal_deadlines_fire_in_arming_order(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    enum { N = 300 };
    static weft_instant dl[N];
    for (int i = 0; i < N; i++)
        dl[i] = WEFT_MS(100);
    static recorder r;
    memset(&r, 0, sizeof r);
    multi m = make_multi(N, dl, &r);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(timers(env), 0);
    wt_free_rt(env); /* joins any worker: every wake has been recorded */
    assert_int_equal(r.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.order[i], i);
        assert_int_equal(r.at[i], WEFT_MS(100));
    }
}

static void mixed_deadlines_fire_sorted_and_stable(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    enum { N = 400 };
    /* Deadlines from 1 ms to beyond the wheel's span, many ties, armed in
     * an order unrelated to them. */
    static const weft_instant pool[] = {WEFT_MS(1),       WEFT_MS(64),      WEFT_MS(65),
                                        WEFT_MS(4097),    WEFT_SECS(300),   DAY * 3,
                                        WEFT_MS(1) << 36, (WEFT_MS(1) << 36) + WEFT_MS(7),
                                        DAY * 900};
    enum { P = sizeof pool / sizeof pool[0] };
    static weft_instant dl[N];
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        dl[i] = pool[(x >> 33) % P];
    }
    static recorder r;
    memset(&r, 0, sizeof r);
    multi m = make_multi(N, dl, &r);
    wt_block_on(env, &m.base, NULL);
    wt_free_rt(env); /* joins any worker: every wake has been recorded */
    assert_int_equal(r.n, N);
    for (int k = 0; k < N; k++) {
        int i = r.order[k];
        assert_int_equal(r.at[k], dl[i]); /* fired exactly at its deadline */
        if (k) {
            int p = r.order[k - 1];
            assert_true(dl[p] < dl[i] || (dl[p] == dl[i] && p < i));
        }
    }
}

static void far_future_timers(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    assert_int_equal(nap_for(env, DAY * 3), DAY * 3);
    /* Beyond 2^36 ms (the wheel's span), from a non-zero start. */
    weft_instant start = DAY * 3;
    weft_instant far = start + (WEFT_MS(1) << 36) + WEFT_MS(5);
    assert_int_equal(nap_for(env, (weft_duration)(far - start)), far);
    weft_instant farther = far + (WEFT_MS(1) << 38) + WEFT_MS(1);
    assert_int_equal(nap_for(env, (weft_duration)(farther - far)), farther);
    assert_int_equal(timers(env), 0);
}

/* Timers with one far deadline armed at different times (so the first
 * ones were filed from much farther away) still fire in arming order. */
typedef struct far_ties {
    weft_future base;
    multi early, late;
    weft_sleep nap;
} far_ties;
static weft_poll far_ties_poll(weft_future *f, weft_context *cx, void *out) {
    far_ties *s = (far_ties *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_future_poll(&s->early.base, cx, NULL), WEFT_PENDING);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(1) << 35), NULL);
    WEFT_AWAIT(f, cx, &s->late, NULL);
    WEFT_AWAIT(f, cx, &s->early, NULL);
    WEFT_END(f);
}
static void far_ties_drop(weft_future *f) {
    far_ties *s = (far_ties *)f;
    weft_future_drop(&s->early.base);
    weft_future_drop(&s->late.base);
}
WEFT_FUTURE_DEFINE_VOID(far_ties, far_ties_poll, far_ties_drop);

static void far_equal_deadlines_armed_apart(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    enum { N = 8 };
    static weft_instant dl[N];
    for (int i = 0; i < N; i++)
        dl[i] = (WEFT_MS(1) << 36) + WEFT_MS(7);
    static recorder r;
    memset(&r, 0, sizeof r);
    far_ties s = WEFT_NEW(far_ties, .early = make_multi(N, dl, &r), .late = make_multi(N, dl, &r));
    s.late.first_idx = N;
    wt_block_on(env, &s.base, NULL);
    wt_free_rt(env); /* joins any worker: every wake has been recorded */
    assert_int_equal(r.n, 2 * N);
    for (int k = 0; k < 2 * N; k++) {
        assert_int_equal(r.order[k], k);
        assert_int_equal(r.at[k], dl[0]);
    }
}

/* A timer in the wheel's top level one turn ahead, in the same top-level
 * slot as now, must not hide an earlier top-level timer. */
typedef struct top_slot {
    weft_future base;
    weft_instant at;
    multi m;
    weft_sleep nap;
} top_slot;
static weft_poll top_slot_poll(weft_future *f, weft_context *cx, void *out) {
    top_slot *s = (top_slot *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep_until(&s->nap, s->at), NULL);
    WEFT_AWAIT(f, cx, &s->m, NULL);
    WEFT_END(f);
}
static void top_slot_drop(weft_future *f) { weft_future_drop(&((top_slot *)f)->m.base); }
WEFT_FUTURE_DEFINE_VOID(top_slot, top_slot_poll, top_slot_drop);

static void top_level_wraparound_not_late(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    /* Top-level slots span 2^30 ms; now is in slot 46. */
    weft_instant now = WEFT_MS((UINT64_C(46) << 30) + 5000);
    static weft_instant dl[2];
    dl[0] = now + (WEFT_MS(1) << 36) - WEFT_MS(1000); /* slot 46, next turn */
    dl[1] = WEFT_MS((UINT64_C(58) << 30) + 3);        /* slot 58, this turn */
    static recorder r;
    memset(&r, 0, sizeof r);
    top_slot s = WEFT_NEW(top_slot, .at = now, .m = make_multi(2, dl, &r));
    wt_block_on(env, &s.base, NULL);
    wt_free_rt(env); /* joins any worker: every wake has been recorded */
    assert_int_equal(r.n, 2);
    assert_int_equal(r.order[0], 1);
    assert_int_equal(r.at[0], dl[1]);
    assert_int_equal(r.order[1], 0);
    assert_int_equal(r.at[1], dl[0]);
}

/* ---------------------------------------------------------------- timeout */

typedef struct counted_nap {
    weft_future base;
    weft_duration d;
    int value;
    _Atomic int *drops;
    weft_sleep nap;
} counted_nap;
static weft_poll counted_nap_poll(weft_future *f, weft_context *cx, void *out) {
    counted_nap *s = (counted_nap *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, s->d), NULL);
    WEFT_RETURN(f, out, int, s->value);
    WEFT_END(f);
}
static void counted_nap_drop(weft_future *f) {
    counted_nap *s = (counted_nap *)f;
    if (s->drops)
        atomic_fetch_add(s->drops, 1);
}
WEFT_FUTURE_DEFINE(counted_nap, counted_nap_poll, counted_nap_drop, int);

typedef struct timeout_root {
    weft_future base;
    weft_duration limit;
    counted_nap inner;
    weft_timeout to;
    int out;
    weft_instant start, end;
} timeout_root;
static weft_poll timeout_root_poll(weft_future *f, weft_context *cx, void *out) {
    timeout_root *s = (timeout_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->start = weft_now();
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, s->limit, &s->inner.base), &s->out);
    s->end = weft_now();
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(timeout_root, timeout_root_poll, NULL);

static void timeout_in_time(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    assert_int_equal(nap_for(env, WEFT_MS(3)), WEFT_MS(3)); /* start off zero */
    _Atomic int drops = 0;
    timeout_root s = WEFT_NEW(timeout_root, .limit = WEFT_MS(100), .out = -1);
    s.inner = WEFT_NEW(counted_nap, .d = WEFT_MS(30), .value = 77, .drops = &drops);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(weft_timeout_status(&s.to), 0);
    assert_int_equal(s.out, 77);
    assert_int_equal(weft_timeout_elapsed(&s.to), WEFT_MS(30));
    assert_int_equal(s.start, WEFT_MS(3));
    assert_int_equal(s.end, WEFT_MS(33));
    assert_int_equal(atomic_load(&drops), 1);
    assert_int_equal(timers(env), 0); /* the deadline's timer is gone */
}

static void timeout_elapses(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    _Atomic int drops = 0;
    timeout_root s = WEFT_NEW(timeout_root, .limit = WEFT_MS(20), .out = -1);
    s.inner = WEFT_NEW(counted_nap, .d = WEFT_SECS(60), .value = 77, .drops = &drops);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(weft_timeout_status(&s.to), WEFT_ETIMEDOUT);
    assert_int_equal(s.out, -1); /* no output */
    assert_int_equal(weft_timeout_elapsed(&s.to), WEFT_MS(20));
    assert_int_equal(s.end, WEFT_MS(20));
    assert_int_equal(atomic_load(&drops), 1);
    assert_int_equal(timers(env), 0); /* the inner sleep left the wheel */
    wt_free_rt(env);
    assert_int_equal(atomic_load(&drops), 1);
}

/* The inner future finishes exactly at the deadline: it wins (it is
 * polled first), as in tokio. */
static void timeout_tie_goes_to_inner(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    _Atomic int drops = 0;
    timeout_root s = WEFT_NEW(timeout_root, .limit = WEFT_MS(20), .out = -1);
    s.inner = WEFT_NEW(counted_nap, .d = WEFT_MS(20), .value = 5, .drops = &drops);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(weft_timeout_status(&s.to), 0);
    assert_int_equal(s.out, 5);
    assert_int_equal(weft_timeout_elapsed(&s.to), WEFT_MS(20));
}

/* Dropping a pending timeout drops its inner future and both timers. */
typedef struct timeout_drop_root {
    weft_future base;
    _Atomic int *drops;
    weft_timeout to;
    counted_nap inner;
    uint64_t timers_armed;
} timeout_drop_root;
static weft_poll timeout_drop_root_poll(weft_future *f, weft_context *cx, void *out) {
    timeout_drop_root *s = (timeout_drop_root *)f;
    (void)out;
    s->inner = WEFT_NEW(counted_nap, .d = WEFT_SECS(10), .drops = s->drops);
    weft_timeout(&s->to, WEFT_SECS(5), &s->inner.base);
    assert_int_equal(weft_future_poll(&s->to.base, cx, NULL), WEFT_PENDING);
    weft_runtime_stats st;
    weft_handle_stats(weft_handle_current(), &st);
    s->timers_armed = st.timers;
    weft_future_drop(&s->to.base);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(timeout_drop_root, timeout_drop_root_poll, NULL);

static void timeout_dropped_while_pending(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    _Atomic int drops = 0;
    timeout_drop_root s = WEFT_NEW(timeout_drop_root, .drops = &drops);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.timers_armed, 2);
    assert_int_equal(atomic_load(&drops), 1);
    assert_int_equal(timers(env), 0);
}

/* A timeout around a JoinHandle: when it elapses the handle is dropped,
 * which detaches the task (it still runs to completion). */
typedef struct timeout_join {
    weft_future base;
    _Atomic int *drops;
    weft_join_handle jh;
    weft_timeout to;
    int out;
    weft_sleep nap;
} timeout_join;
static weft_poll timeout_join_poll(weft_future *f, weft_context *cx, void *out) {
    timeout_join *s = (timeout_join *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_spawn(&WEFT_NEW(counted_nap, .d = WEFT_MS(50), .value = 8,
                                          .drops = s->drops),
                                &s->jh),
                     0);
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(10), weft_join(&s->jh)), &s->out);
    assert_int_equal(weft_timeout_status(&s->to), WEFT_ETIMEDOUT);
    assert_int_equal(weft_timeout_elapsed(&s->to), WEFT_MS(10));
    assert_int_equal(weft_now(), WEFT_MS(10));
    assert_int_equal(atomic_load(s->drops), 0); /* the task runs on */
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(100)), NULL);
    assert_int_equal(atomic_load(s->drops), 1);

    assert_int_equal(weft_spawn(&WEFT_NEW(counted_nap, .d = WEFT_MS(50), .value = 9,
                                          .drops = s->drops),
                                &s->jh),
                     0);
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(60), weft_join(&s->jh)), &s->out);
    assert_int_equal(weft_timeout_status(&s->to), 0);
    assert_int_equal(weft_join_status(&s->jh), 0);
    assert_int_equal(s->out, 9);
    assert_int_equal(weft_timeout_elapsed(&s->to), WEFT_MS(50));
    assert_int_equal(weft_now(), WEFT_MS(160));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(timeout_join, timeout_join_poll, NULL);

static void timeout_wraps_join_handle(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    _Atomic int drops = 0;
    timeout_join s = WEFT_NEW(timeout_join, .drops = &drops, .out = -1);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(atomic_load(&drops), 2);
    weft_runtime_stats st;
    weft_handle_stats(H(env), &st);
    assert_int_equal(st.alive_tasks, 0);
    assert_int_equal(st.timers, 0);
}

/* --------------------------------------------------------------- interval */

typedef struct ticker {
    weft_future base;
    weft_interval iv;
    bool at_start;
    weft_instant start;
    weft_duration period;
    int missed;
    int n, i;
    weft_duration block_after; /* advance the clock this much after tick 2 */
    weft_instant due[16], now[16];
} ticker;
static weft_poll ticker_poll(weft_future *f, weft_context *cx, void *out) {
    ticker *s = (ticker *)f;
    (void)out;
    WEFT_BEGIN(f);
    if (s->at_start)
        assert_int_equal(weft_interval_init_at(&s->iv, s->start, s->period), 0);
    else
        assert_int_equal(weft_interval_init(&s->iv, s->period), 0);
    weft_interval_set_missed_tick(&s->iv, (weft_missed_tick)s->missed);
    for (s->i = 0; s->i < s->n; s->i++) {
        WEFT_AWAIT(f, cx, weft_interval_tick(&s->iv), &s->due[s->i]);
        s->now[s->i] = weft_now();
        if (s->i == 1 && s->block_after)
            /* The task is busy past several periods without yielding. */
            assert_int_equal(weft_time_advance(s->block_after), 0);
    }
    weft_interval_drop(&s->iv);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(ticker, ticker_poll, NULL);

static void check_ticks(const ticker *s, const weft_instant *due, const weft_instant *now) {
    for (int i = 0; i < s->n; i++) {
        if (s->due[i] != due[i] || s->now[i] != now[i])
            fail_msg("tick %d: due %llu ms at %llu ms, expected due %llu ms at %llu ms", i,
                     (unsigned long long)(s->due[i] / 1000000),
                     (unsigned long long)(s->now[i] / 1000000),
                     (unsigned long long)(due[i] / 1000000),
                     (unsigned long long)(now[i] / 1000000));
    }
}

static void ms_array(weft_instant *dst, const int *ms, int n) {
    for (int i = 0; i < n; i++)
        dst[i] = WEFT_MS(ms[i]);
}

static void interval_ticks_exact(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    ticker s = WEFT_NEW(ticker, .period = WEFT_MS(10), .n = 5);
    wt_block_on(env, &s.base, NULL);
    static const int ms[] = {0, 10, 20, 30, 40};
    weft_instant want[5];
    ms_array(want, ms, 5);
    check_ticks(&s, want, want);
    assert_int_equal(timers(env), 0);

    ticker t = WEFT_NEW(ticker, .at_start = true, .start = WEFT_MS(45), .period = WEFT_MS(7),
                        .n = 4);
    wt_block_on(env, &t.base, NULL);
    static const int ms2[] = {45, 52, 59, 66};
    ms_array(want, ms2, 4);
    check_ticks(&t, want, want);
}

static void run_missed(wt_env *env, weft_missed_tick m, const int *due_ms, const int *now_ms,
                       int n) {
    paused(env);
    ticker s = WEFT_NEW(ticker, .period = WEFT_MS(10), .n = n, .missed = (int)m,
                        .block_after = WEFT_MS(35));
    wt_block_on(env, &s.base, NULL);
    weft_instant due[16], now[16];
    ms_array(due, due_ms, n);
    ms_array(now, now_ms, n);
    check_ticks(&s, due, now);
}

/* Ticks at 0 and 10, then the task is busy until 45. */
static void interval_missed_burst(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    /* The missed ticks fire back to back with their own instants. */
    static const int due[] = {0, 10, 20, 30, 40, 50, 60};
    static const int now[] = {0, 10, 45, 45, 45, 50, 60};
    run_missed(env, WEFT_MISSED_BURST, due, now, 7);
}

static void interval_missed_delay(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    /* One late tick, then a period after it: 55, 65. */
    static const int due[] = {0, 10, 20, 55, 65};
    static const int now[] = {0, 10, 45, 55, 65};
    run_missed(env, WEFT_MISSED_DELAY, due, now, 5);
}

static void interval_missed_skip(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    /* One late tick, then the next multiple of the period: 50, 60. */
    static const int due[] = {0, 10, 20, 50, 60};
    static const int now[] = {0, 10, 45, 50, 60};
    run_missed(env, WEFT_MISSED_SKIP, due, now, 5);
}

static void interval_bad_period(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_interval iv;
    assert_int_equal(weft_interval_init(&iv, 0), WEFT_EINVAL);
    assert_int_equal(weft_interval_init(&iv, -5), WEFT_EINVAL);
    assert_int_equal(weft_interval_init(NULL, 5), WEFT_EINVAL);
    assert_int_equal(weft_interval_init_at(&iv, 0, 0), WEFT_EINVAL);
}

/* A task waiting on an interval tick is aborted: its cleanup drops the
 * interval (as documented), and the timer leaves the wheel. */
typedef struct tick_forever {
    weft_future base;
    weft_interval iv;
    _Atomic int *ticks;
    weft_instant due;
} tick_forever;
static weft_poll tick_forever_poll(weft_future *f, weft_context *cx, void *out) {
    tick_forever *s = (tick_forever *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_interval_init(&s->iv, WEFT_MS(10)), 0);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_interval_tick(&s->iv), &s->due);
        atomic_fetch_add(s->ticks, 1);
    }
    WEFT_END(f);
}
static void tick_forever_drop(weft_future *f) {
    tick_forever *s = (tick_forever *)f;
    if (f->resume) /* the interval was set up */
        weft_interval_drop(&s->iv);
}
WEFT_FUTURE_DEFINE_VOID(tick_forever, tick_forever_poll, tick_forever_drop);

typedef struct abort_ticker {
    weft_future base;
    _Atomic int *ticks;
    weft_join_handle jh;
    weft_sleep nap;
    uint64_t timers_before;
} abort_ticker;
static weft_poll abort_ticker_poll(weft_future *f, weft_context *cx, void *out) {
    abort_ticker *s = (abort_ticker *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_spawn(&WEFT_NEW(tick_forever, .ticks = s->ticks), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(35)), NULL);
    {
        weft_runtime_stats st;
        weft_handle_stats(weft_handle_current(), &st);
        s->timers_before = st.timers;
    }
    weft_join_abort(&s->jh);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(abort_ticker, abort_ticker_poll, NULL);

static void abort_task_waiting_on_interval(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    _Atomic int ticks = 0;
    abort_ticker s = WEFT_NEW(abort_ticker, .ticks = &ticks);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(atomic_load(&ticks), 4); /* 0, 10, 20, 30 */
    assert_int_equal(s.timers_before, 1);
    assert_int_equal(weft_join_status(&s.jh), WEFT_ECANCELED);
    assert_int_equal(timers(env), 0);
}

/* ------------------------------------------------- sleeps leave the wheel */

typedef struct drop_arm {
    weft_future base;
    weft_sleep nap;
    uint64_t armed, after;
} drop_arm;
static weft_poll drop_arm_poll(weft_future *f, weft_context *cx, void *out) {
    drop_arm *s = (drop_arm *)f;
    (void)out;
    weft_runtime_stats st;
    assert_int_equal(weft_future_poll(weft_sleep(&s->nap, WEFT_SECS(3600)), cx, NULL),
                     WEFT_PENDING);
    weft_handle_stats(weft_handle_current(), &st);
    s->armed = st.timers;
    weft_future_drop(&s->nap.base);
    weft_handle_stats(weft_handle_current(), &st);
    s->after = st.timers;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(drop_arm, drop_arm_poll, NULL);

static void dropping_sleep_disarms(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    drop_arm s = WEFT_NEW(drop_arm);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.armed, 1);
    assert_int_equal(s.after, 0);
    /* And through a task: an aborted sleeper leaves no timer behind, and
     * the idle paused clock does not jump to its deadline. */
    weft_join_handle jh;
    assert_int_equal(weft_handle_spawn(H(env), &WEFT_NEW(counted_nap, .d = WEFT_SECS(3600)), &jh),
                     0);
    napper n = WEFT_NEW(napper, .d = WEFT_MS(1));
    weft_instant end = 0;
    wt_block_on(env, &n.base, &end); /* lets the task arm its sleep */
    assert_int_equal(end, WEFT_MS(1));
    assert_int_equal(timers(env), 1);
    weft_join_abort(&jh);
    wt_block_on(env, weft_join(&jh), NULL);
    assert_int_equal(weft_join_status(&jh), WEFT_ECANCELED);
    assert_int_equal(timers(env), 0);
    assert_int_equal(nap_for(env, WEFT_MS(1)), WEFT_MS(2));
}

/* -------------------------------------------------------------- sleep_reset */

typedef struct shared_waiter {
    weft_future base;
    weft_sleep *nap; /* lives in the root's state */
} shared_waiter;
static weft_poll shared_waiter_poll(weft_future *f, weft_context *cx, void *out) {
    shared_waiter *s = (shared_waiter *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(s->nap, WEFT_MS(100)), NULL);
    WEFT_RETURN(f, out, weft_instant, weft_now());
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(shared_waiter, shared_waiter_poll, NULL, weft_instant);

typedef struct reset_root {
    weft_future base;
    weft_instant to;
    weft_sleep shared, own, fresh;
    weft_join_handle jh;
    weft_sleep nap;
    weft_instant woke, own_end, fresh_end;
} reset_root;
static weft_poll reset_root_poll(weft_future *f, weft_context *cx, void *out) {
    reset_root *s = (reset_root *)f;
    (void)out;
    WEFT_BEGIN(f);
    /* Another task waits on `shared` (armed for 100 ms); move it. */
    assert_int_equal(weft_spawn(&WEFT_NEW(shared_waiter, .nap = &s->shared), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(10)), NULL);
    weft_sleep_reset(&s->shared, s->to);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->woke);
    /* A sleep armed by our own poll, moved earlier before awaiting it. */
    assert_int_equal(weft_future_poll(weft_sleep(&s->own, WEFT_SECS(10)), cx, NULL), WEFT_PENDING);
    weft_sleep_reset(&s->own, weft_now() + WEFT_MS(5));
    WEFT_AWAIT(f, cx, &s->own, NULL);
    s->own_end = weft_now();
    /* A sleep never polled, moved before its first poll. */
    weft_sleep(&s->fresh, WEFT_SECS(10));
    weft_sleep_reset(&s->fresh, weft_now() + WEFT_MS(2));
    WEFT_AWAIT(f, cx, &s->fresh, NULL);
    s->fresh_end = weft_now();
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(reset_root, reset_root_poll, NULL);

static void sleep_reset_earlier_and_later(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    reset_root s = WEFT_NEW(reset_root, .to = WEFT_MS(30));
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.woke, WEFT_MS(30));
    assert_int_equal(s.own_end, WEFT_MS(35));
    assert_int_equal(s.fresh_end, WEFT_MS(37));
    assert_int_equal(timers(env), 0);
    wt_free_rt(env);

    reset_root t = WEFT_NEW(reset_root, .to = WEFT_MS(250));
    wt_block_on(env, &t.base, NULL);
    assert_int_equal(t.woke, WEFT_MS(250)); /* not at the old 100 ms */
    assert_int_equal(t.own_end, WEFT_MS(255));
}

/* ------------------------------------------------- made outside a runtime */

/* Futures made before the runtime runs them take "now" at their first
 * poll: a duration counts from there. */
static void futures_made_outside_start_at_first_poll(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    assert_int_equal(nap_for(env, WEFT_MS(10)), WEFT_MS(10));

    weft_sleep nap;
    weft_sleep(&nap, WEFT_MS(5)); /* outside: no clock yet */
    wt_block_on(env, &nap.base, NULL);
    assert_int_equal(nap_for(env, 0), WEFT_MS(15));

    _Atomic int drops = 0;
    counted_nap inner = WEFT_NEW(counted_nap, .d = WEFT_MS(30), .value = 1, .drops = &drops);
    weft_timeout to;
    weft_timeout(&to, WEFT_MS(8), &inner.base);
    int out = -1;
    wt_block_on(env, &to.base, &out);
    assert_int_equal(weft_timeout_status(&to), WEFT_ETIMEDOUT);
    assert_int_equal(weft_timeout_elapsed(&to), WEFT_MS(8));
    assert_int_equal(nap_for(env, 0), WEFT_MS(23));
    assert_int_equal(atomic_load(&drops), 1);
    assert_int_equal(out, -1);
}

typedef struct tick_n {
    weft_future base;
    weft_interval *iv;
    int n, i;
    weft_instant due[8], now[8];
    weft_duration advance_after_2; /* then reset the interval */
} tick_n;
static weft_poll tick_n_poll(weft_future *f, weft_context *cx, void *out) {
    tick_n *s = (tick_n *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < s->n; s->i++) {
        WEFT_AWAIT(f, cx, weft_interval_tick(s->iv), &s->due[s->i]);
        s->now[s->i] = weft_now();
        if (s->i == 1 && s->advance_after_2) {
            assert_int_equal(weft_time_advance(s->advance_after_2), 0);
            weft_interval_reset(s->iv);
        }
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(tick_n, tick_n_poll, NULL);

static void interval_made_outside_and_reset(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    assert_int_equal(nap_for(env, WEFT_MS(7)), WEFT_MS(7));
    weft_interval iv;
    assert_int_equal(weft_interval_init(&iv, WEFT_MS(10)), 0); /* outside */
    tick_n s = WEFT_NEW(tick_n, .iv = &iv, .n = 3);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.due[0], WEFT_MS(7)); /* first tick at the first poll */
    assert_int_equal(s.due[1], WEFT_MS(17));
    assert_int_equal(s.due[2], WEFT_MS(27));
    assert_int_equal(s.now[2], WEFT_MS(27));
    weft_interval_drop(&iv);
    assert_int_equal(timers(env), 0);

    /* reset: the next tick is one period after the reset. */
    weft_interval iv2;
    assert_int_equal(weft_interval_init(&iv2, WEFT_MS(10)), 0);
    tick_n t = WEFT_NEW(tick_n, .iv = &iv2, .n = 4, .advance_after_2 = WEFT_MS(3));
    wt_block_on(env, &t.base, NULL);
    static const int due[] = {27, 37, 50, 60};
    for (int i = 0; i < 4; i++)
        assert_int_equal(t.due[i], WEFT_MS(due[i]));
    assert_int_equal(t.now[2], WEFT_MS(50));
    weft_interval_drop(&iv2);
}

static void timeout_zero(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    _Atomic int drops = 0;
    timeout_root s = WEFT_NEW(timeout_root, .limit = 0, .out = -1);
    s.inner = WEFT_NEW(counted_nap, .d = WEFT_MS(1), .drops = &drops);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(weft_timeout_status(&s.to), WEFT_ETIMEDOUT);
    assert_int_equal(weft_timeout_elapsed(&s.to), 0);
    assert_int_equal(s.end, 0);
    assert_int_equal(atomic_load(&drops), 1);
    /* An inner future that is ready at once wins even a zero timeout. */
    timeout_root t = WEFT_NEW(timeout_root, .limit = 0, .out = -1);
    t.inner = WEFT_NEW(counted_nap, .d = 0, .value = 4, .drops = &drops);
    wt_block_on(env, &t.base, NULL);
    assert_int_equal(weft_timeout_status(&t.to), 0);
    assert_int_equal(t.out, 4);
    assert_int_equal(atomic_load(&drops), 2);
}

/* On the real clock a timer may fire late but never early. */
static void real_clock_sleep_never_early(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    napper s = WEFT_NEW(napper, .d = WEFT_MS(3));
    weft_instant end = 0;
    wt_block_on(env, &s.base, &end);
    assert_true(end >= s.start + WEFT_MS(3));
    assert_int_equal(timers(env), 0);
}

/* The wheel's tick: 1 us on the OS clock, 1 ms on virtual time (the
 * simulator, a runtime built paused).  A clock paused while running keeps
 * its tick, so on it every instant is exact: a sleep fires at the first
 * tick at or after its deadline, not a nanosecond before, and not a tick
 * after. */
typedef struct tick_probe {
    weft_future base;
    weft_duration tick;
    weft_instant t0, due, woke, due2, woke2;
    bool before, at;
    int pause, adv1, adv2;
    weft_sleep a, b;
} tick_probe;
static weft_instant round_up(weft_instant t, weft_duration tick) {
    return (t + (weft_instant)tick - 1) / (weft_instant)tick * (weft_instant)tick;
}
static weft_poll tick_probe_poll(weft_future *f, weft_context *cx, void *out) {
    tick_probe *s = (tick_probe *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->pause = weft_time_pause();
    s->t0 = weft_now();
    s->due = round_up(s->t0 + 1500, s->tick);
    assert_int_equal(weft_future_poll(weft_sleep(&s->a, WEFT_NS(1500)), cx, NULL), WEFT_PENDING);
    s->adv1 = weft_time_advance((weft_duration)(s->due - 1 - s->t0));
    s->before = weft_sleep_is_elapsed(&s->a);
    s->adv2 = weft_time_advance(1);
    s->at = weft_sleep_is_elapsed(&s->a);
    s->woke = weft_now();
    weft_future_drop(&s->a.base);
    /* An idle runtime's paused clock jumps to the tick itself. */
    s->due2 = round_up(s->woke + 1, s->tick);
    WEFT_AWAIT(f, cx, weft_sleep_until(&s->b, s->woke + 1), NULL);
    s->woke2 = weft_now();
    WEFT_END(f);
}
static void tick_probe_drop(weft_future *f) {
    weft_future_drop(&((tick_probe *)f)->a.base);
    weft_future_drop(&((tick_probe *)f)->b.base);
}
WEFT_FUTURE_DEFINE_VOID(tick_probe, tick_probe_poll, tick_probe_drop);

static void os_clock_ticks_are_microseconds(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    weft_duration tick = env->flavor == WEFT_SIM ? WEFT_MS(1) : WEFT_US(1);
    tick_probe s = WEFT_NEW(tick_probe, .tick = tick);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.pause, 0);
    assert_int_equal(s.adv1, 0);
    assert_int_equal(s.adv2, 0);
    assert_false(s.before); /* a nanosecond before its tick */
    assert_true(s.at);
    assert_int_equal(s.woke, s.due);
    assert_int_equal(s.woke2, s.due2);
    assert_int_equal(timers(env), 0);
}

/* Past the wheel's span (2^36 ticks: 19 hours of 1 us ticks) a deadline
 * waits in the top level and is re-filed as it turns: still exact. */
typedef struct far_fine {
    weft_future base;
    weft_duration tick;
    weft_instant due[3], woke[3];
    int i;
    weft_sleep nap;
} far_fine;
static weft_poll far_fine_poll(weft_future *f, weft_context *cx, void *out) {
    far_fine *s = (far_fine *)f;
    (void)out;
    static const weft_duration d[3] = {WEFT_SECS(86400) * 30 + 7, WEFT_SECS(3600) * 19 + 999,
                                       WEFT_SECS(86400) * 400 + 1};
    WEFT_BEGIN(f);
    assert_int_equal(weft_time_pause(), 0);
    for (s->i = 0; s->i < 3; s->i++) {
        weft_sleep(&s->nap, d[s->i]);
        s->due[s->i] = round_up(s->nap.deadline, s->tick);
        WEFT_AWAIT(f, cx, &s->nap.base, NULL);
        s->woke[s->i] = weft_now();
    }
    WEFT_END(f);
}
static void far_fine_drop(weft_future *f) { weft_future_drop(&((far_fine *)f)->nap.base); }
WEFT_FUTURE_DEFINE_VOID(far_fine, far_fine_poll, far_fine_drop);

static void far_sleeps_exact_on_every_tick(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    far_fine s = WEFT_NEW(far_fine, .tick = env->flavor == WEFT_SIM ? WEFT_MS(1) : WEFT_US(1));
    wt_block_on(env, &s.base, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.woke[i], s.due[i]);
    assert_int_equal(timers(env), 0);
}

static void paused_from_the_start_ticks_are_milliseconds(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    tick_probe s = WEFT_NEW(tick_probe, .tick = WEFT_MS(1));
    wt_block_on(env, &s.base, NULL);
    assert_false(s.before);
    assert_true(s.at);
    assert_int_equal(s.woke, s.due);
    assert_int_equal(s.woke2, s.due2);
}

/* On the OS clock, sleeps shorter than a millisecond, and deadlines that
 * fell due between the clock's reading and the sleep's first poll (which
 * does not read it again), end at or after their deadline. */
enum { SHORT_SLEEPS = 64, SHORT_KINDS = 3 };
typedef struct short_sleeps {
    weft_future base;
    int i;
    bool os_clock;
    weft_instant deadline[SHORT_KINDS * SHORT_SLEEPS], woke[SHORT_KINDS * SHORT_SLEEPS];
    weft_sleep nap;
} short_sleeps;
/* Lets the OS clock run for 4 us without the runtime reading it. */
static void pass_unread(const short_sleeps *s) {
    uint64_t w0 = wall_ns();
    while (s->os_clock && wall_ns() - w0 < 4000)
        ;
}
static weft_poll short_sleeps_poll(weft_future *f, weft_context *cx, void *out) {
    short_sleeps *s = (short_sleeps *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < SHORT_SLEEPS; s->i++) {
        /* Made and awaited at once. */
        weft_sleep(&s->nap, WEFT_NS(s->i * 997));
        s->deadline[SHORT_KINDS * s->i] = s->nap.deadline;
        WEFT_AWAIT(f, cx, &s->nap.base, NULL);
        s->woke[SHORT_KINDS * s->i] = weft_now();
        /* Made, then due before its first poll. */
        weft_sleep(&s->nap, WEFT_NS(s->i % 4 * 1000));
        s->deadline[SHORT_KINDS * s->i + 1] = s->nap.deadline;
        pass_unread(s);
        WEFT_AWAIT(f, cx, &s->nap.base, NULL);
        s->woke[SHORT_KINDS * s->i + 1] = weft_now();
        /* The same with a deadline given. */
        s->deadline[SHORT_KINDS * s->i + 2] = weft_now() + (weft_instant)(s->i % 3) * 1000;
        weft_sleep_until(&s->nap, s->deadline[SHORT_KINDS * s->i + 2]);
        pass_unread(s);
        WEFT_AWAIT(f, cx, &s->nap.base, NULL);
        s->woke[SHORT_KINDS * s->i + 2] = weft_now();
    }
    WEFT_END(f);
}
static void short_sleeps_drop(weft_future *f) { weft_future_drop(&((short_sleeps *)f)->nap.base); }
WEFT_FUTURE_DEFINE_VOID(short_sleeps, short_sleeps_poll, short_sleeps_drop);

static void short_sleeps_never_early(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    short_sleeps *s = calloc(1, sizeof *s);
    assert_non_null(s);
    *s = WEFT_NEW(short_sleeps, .os_clock = env->flavor != WEFT_SIM);
    wt_block_on(env, &s->base, NULL);
    for (int i = 0; i < SHORT_KINDS * SHORT_SLEEPS; i++)
        assert_true(s->woke[i] >= s->deadline[i]);
    assert_int_equal(timers(env), 0);
    free(s);
}

/* ------------------------------------------------------------ test clock */

static void test_clock_outside_runtime(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    assert_int_equal(weft_time_pause(), WEFT_ENORUNTIME);
    assert_int_equal(weft_time_resume(), WEFT_ENORUNTIME);
    assert_int_equal(weft_time_advance(WEFT_MS(1)), WEFT_ENORUNTIME);
    assert_false(weft_time_is_paused());
}

typedef struct clock_ops {
    weft_future base;
    int adv_running, pause, adv_neg, adv, resume, resume_again;
    bool paused_after, resumed_after;
    weft_instant before, after;
} clock_ops;
static weft_poll clock_ops_poll(weft_future *f, weft_context *cx, void *out) {
    clock_ops *s = (clock_ops *)f;
    (void)cx;
    (void)out;
    s->adv_running = weft_time_advance(WEFT_MS(1)); /* the clock is not paused */
    s->pause = weft_time_pause();
    s->paused_after = weft_time_is_paused();
    s->before = weft_now();
    s->adv_neg = weft_time_advance(-1);
    s->adv = weft_time_advance(WEFT_MS(5));
    s->after = weft_now();
    s->resume = weft_time_resume();
    s->resumed_after = weft_time_is_paused();
    s->resume_again = weft_time_resume();
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(clock_ops, clock_ops_poll, NULL);

static void test_clock_pause_advance_resume(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    clock_ops s = WEFT_NEW(clock_ops);
    wt_block_on(env, &s.base, NULL);
    /* The simulator's clock is virtual: paused from the start, never resumed. */
    bool sim = env->flavor == WEFT_SIM;
    assert_int_equal(s.adv_running, sim ? 0 : WEFT_EINVAL);
    assert_int_equal(s.pause, 0);
    assert_true(s.paused_after);
    assert_int_equal(s.adv_neg, WEFT_EINVAL);
    assert_int_equal(s.adv, 0);
    assert_int_equal(s.after - s.before, WEFT_MS(5)); /* exact while paused */
    assert_int_equal(s.resume, sim ? WEFT_ENOTSUP : 0);
    assert_true(s.resumed_after == sim);
    assert_int_equal(s.resume_again, sim ? WEFT_ENOTSUP : 0);
}

typedef struct no_time_ops {
    weft_future base;
    int pause, resume, advance;
} no_time_ops;
static weft_poll no_time_ops_poll(weft_future *f, weft_context *cx, void *out) {
    no_time_ops *s = (no_time_ops *)f;
    (void)cx;
    (void)out;
    s->pause = weft_time_pause();
    s->resume = weft_time_resume();
    s->advance = weft_time_advance(WEFT_MS(1));
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(no_time_ops, no_time_ops_poll, NULL);

static void test_clock_without_time(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    env->builder.enable_time = false;
    no_time_ops s = WEFT_NEW(no_time_ops);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.pause, WEFT_ENOTSUP);
    assert_int_equal(s.resume, WEFT_ENOTSUP);
    assert_int_equal(s.advance, WEFT_ENOTSUP);
}

/* Pausing a running clock: an idle runtime then jumps to its timers (a
 * deadline rounds up to the next millisecond), and resuming continues
 * from the paused reading. */
typedef struct pause_mid {
    weft_future base;
    weft_instant t0, t1, t2;
    int pause, resume;
    weft_sleep nap;
} pause_mid;
static weft_poll pause_mid_poll(weft_future *f, weft_context *cx, void *out) {
    pause_mid *s = (pause_mid *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->pause = weft_time_pause();
    s->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_SECS(3600)), NULL);
    s->t1 = weft_now();
    s->resume = weft_time_resume();
    s->t2 = weft_now();
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(pause_mid, pause_mid_poll, NULL);

static void pause_running_clock_then_resume(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    uint64_t w0 = wall_ns();
    pause_mid s = WEFT_NEW(pause_mid);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.pause, 0);
    /* The simulator's clock is virtual for good: it refuses to resume. */
    assert_int_equal(s.resume, env->flavor == WEFT_SIM ? WEFT_ENOTSUP : 0);
    assert_true(s.t1 >= s.t0 + WEFT_SECS(3600));
    assert_true(s.t1 < s.t0 + WEFT_SECS(3600) + WEFT_MS(1));
    assert_true(s.t2 >= s.t1); /* monotonic across resume */
    assert_true(wall_ns() - w0 < WEFT_SECS(1));
}

/* A sleep made after the clock was paused, advanced and resumed starts
 * from the resumed clock (which is an hour ahead of the OS clock's
 * reading), and one made while paused from the paused reading. */
typedef struct resumed_sleep {
    weft_future base;
    weft_instant paused_at, made_paused, resumed_at, made_running, woke;
    int resume;
    weft_sleep a, b;
} resumed_sleep;
static weft_poll resumed_sleep_poll(weft_future *f, weft_context *cx, void *out) {
    resumed_sleep *s = (resumed_sleep *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_time_pause(), 0);
    assert_int_equal(weft_time_advance(WEFT_SECS(3600)), 0);
    s->paused_at = weft_now();
    weft_sleep(&s->a, WEFT_MS(1));
    s->made_paused = s->a.deadline - (weft_instant)WEFT_MS(1);
    weft_future_drop(&s->a.base);
    s->resume = weft_time_resume();
    s->resumed_at = weft_now();
    weft_sleep(&s->b, WEFT_MS(1));
    s->made_running = s->b.deadline - (weft_instant)WEFT_MS(1);
    WEFT_AWAIT(f, cx, &s->b.base, NULL);
    s->woke = weft_now();
    WEFT_END(f);
}
static void resumed_sleep_drop(weft_future *f) {
    weft_future_drop(&((resumed_sleep *)f)->a.base);
    weft_future_drop(&((resumed_sleep *)f)->b.base);
}
WEFT_FUTURE_DEFINE_VOID(resumed_sleep, resumed_sleep_poll, resumed_sleep_drop);

static void sleep_after_resume_starts_from_the_resumed_clock(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    resumed_sleep s = WEFT_NEW(resumed_sleep);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.resume, env->flavor == WEFT_SIM ? WEFT_ENOTSUP : 0);
    assert_int_equal(s.made_paused, s.paused_at); /* exact while paused */
    assert_true(s.resumed_at >= s.paused_at);
    assert_true(s.made_running >= s.resumed_at);
    assert_true(s.woke >= s.made_running + WEFT_MS(1));
}

/* advance fires the timers now due, in deadline order, at once. */
typedef struct advance_root {
    weft_future base;
    recorder *r;
    multi m;
    int fired_after_advance;
    bool polled;
} advance_root;
static weft_poll advance_root_poll(weft_future *f, weft_context *cx, void *out) {
    advance_root *s = (advance_root *)f;
    (void)out;
    if (!s->polled) {
        s->polled = true;
        assert_int_equal(weft_future_poll(&s->m.base, cx, NULL), WEFT_PENDING);
        assert_int_equal(weft_time_advance(WEFT_MS(12)), 0);
        s->fired_after_advance = atomic_load(&s->r->n);
    }
    return weft_future_poll(&s->m.base, cx, NULL);
}
static void advance_root_drop(weft_future *f) { weft_future_drop(&((advance_root *)f)->m.base); }
WEFT_FUTURE_DEFINE_VOID(advance_root, advance_root_poll, advance_root_drop);

static void advance_fires_due_timers_in_order(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_ABSENT(env);
    paused(env);
    static const weft_instant dl[] = {WEFT_MS(15), WEFT_MS(10), WEFT_MS(5), WEFT_MS(12),
                                      WEFT_MS(13)};
    static recorder r;
    memset(&r, 0, sizeof r);
    advance_root s = WEFT_NEW(advance_root, .r = &r, .m = make_multi(5, dl, &r));
    wt_block_on(env, &s.base, NULL);
    wt_free_rt(env); /* joins any worker: every wake has been recorded */
    assert_int_equal(s.fired_after_advance, 3);
    static const int order[] = {2, 1, 3, 4, 0};
    static const int at_ms[] = {12, 12, 12, 13, 15};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(r.order[k], order[k]);
        assert_int_equal(r.at[k], WEFT_MS(at_ms[k]));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WT_FLAVORS(sleep_exact),
        WT_FLAVORS(sleep_until_exact),
        WT_FLAVORS(sleep_zero_and_past_complete_at_once),
        WT_FLAVORS(hour_sleep_is_instant),
        WT_FLAVORS(equal_deadlines_fire_in_arming_order),
        WT_FLAVORS(mixed_deadlines_fire_sorted_and_stable),
        WT_FLAVORS(far_future_timers),
        WT_FLAVORS(far_equal_deadlines_armed_apart),
        WT_FLAVORS(top_level_wraparound_not_late),
        WT_FLAVORS(timeout_in_time),
        WT_FLAVORS(timeout_elapses),
        WT_FLAVORS(timeout_tie_goes_to_inner),
        WT_FLAVORS(timeout_dropped_while_pending),
        WT_FLAVORS(timeout_wraps_join_handle),
        WT_FLAVORS(interval_ticks_exact),
        WT_FLAVORS(interval_missed_burst),
        WT_FLAVORS(interval_missed_delay),
        WT_FLAVORS(interval_missed_skip),
        WT_CT(interval_bad_period),
        WT_FLAVORS(dropping_sleep_disarms),
        WT_FLAVORS(abort_task_waiting_on_interval),
        WT_FLAVORS(sleep_reset_earlier_and_later),
        WT_FLAVORS(futures_made_outside_start_at_first_poll),
        WT_FLAVORS(interval_made_outside_and_reset),
        WT_FLAVORS(timeout_zero),
        WT_FLAVORS(real_clock_sleep_never_early),
        WT_FLAVORS(os_clock_ticks_are_microseconds),
        WT_FLAVORS(paused_from_the_start_ticks_are_milliseconds),
        WT_FLAVORS(far_sleeps_exact_on_every_tick),
        WT_FLAVORS(short_sleeps_never_early),
        WT_CT(test_clock_outside_runtime),
        WT_FLAVORS(test_clock_pause_advance_resume),
        WT_FLAVORS(test_clock_without_time),
        WT_FLAVORS(advance_fires_due_timers_in_order),
        WT_FLAVORS(pause_running_clock_then_resume),
        WT_FLAVORS(sleep_after_resume_starts_from_the_resumed_clock),
    };
    return WT_RUN("time", tests);
}
