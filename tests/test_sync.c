/* weft tests — sync primitives, JoinSet and combinators, on every flavor.
 *
 * Two kinds of test: tasks on the env's runtime (with the paused clock, so
 * sleeps order events exactly), and hand-polled ops with counting wakers,
 * which pin down races (granted-then-dropped, FIFO order) step by step. */
#include <string.h>

#include "harness.h"
#include "weft/sync.h"

#define ALLOC(env) (&(env)->builder.allocator)
#define SKIP_IF_NONE(env)                                                      \
    do {                                                                       \
        if (!(env))                                                            \
            skip();                                                            \
    } while (0)

/* ---------------------------------------------------------- counting wakers */

typedef struct counter {
    _Atomic int wakes;
    _Atomic int refs; /* clones alive */
} counter;

static const weft_waker_vtable counter_vt;
static weft_waker cw_clone(const void *d) {
    atomic_fetch_add(&((counter *)d)->refs, 1);
    return (weft_waker){d, &counter_vt};
}
static void cw_wake_by_ref(const void *d) { atomic_fetch_add(&((counter *)d)->wakes, 1); }
static void cw_drop(const void *d) { atomic_fetch_sub(&((counter *)d)->refs, 1); }
static void cw_wake(const void *d) {
    cw_wake_by_ref(d);
    cw_drop(d);
}
static const weft_waker_vtable counter_vt = {cw_clone, cw_wake, cw_wake_by_ref, cw_drop};

typedef struct manual {
    counter c;
    weft_waker w;
    weft_context cx;
} manual;

static void manual_init(manual *m) {
    atomic_init(&m->c.wakes, 0);
    atomic_init(&m->c.refs, 0);
    m->w = (weft_waker){&m->c, &counter_vt};
    m->cx = (weft_context){.weft__waker = &m->w};
}

static weft_poll mpoll(manual *m, weft_future *f, void *out) { return weft_future_poll(f, &m->cx, out); }

/* ------------------------------------------------------------------ oneshot */

typedef struct os_rx_task {
    weft_future base;
    weft_oneshot_rx *rx;
    weft_oneshot_recv_op op;
    uint64_t v;
    int rc;
} os_rx_task;

static weft_poll os_rx_task_poll(weft_future *f, weft_context *cx, void *out) {
    os_rx_task *s = (os_rx_task *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_oneshot_recv(&s->op, s->rx, &s->v), &s->rc);
    WEFT_RETURN(f, out, uint64_t, s->rc == 0 ? s->v : (uint64_t)(int64_t)s->rc);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(os_rx_task, os_rx_task_poll, NULL, uint64_t);

typedef struct os_main {
    weft_future base;
    wt_env *env;
    weft_join_handle jh;
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    weft_sleep nap;
    uint64_t got;
    int mode; /* 0: send, 1: drop the sender */
} os_main;

static weft_poll os_main_poll(weft_future *f, weft_context *cx, void *out) {
    os_main *s = (os_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_oneshot_new(sizeof(uint64_t), ALLOC(s->env), &s->tx, &s->rx), 0);
    assert_int_equal(weft_spawn(&WEFT_NEW(os_rx_task, .rx = s->rx), &s->jh), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(5)), NULL); /* receiver waits */
    if (s->mode == 0) {
        uint64_t v = 42;
        assert_int_equal(weft_oneshot_send(s->tx, &v), 0);
    } else {
        weft_oneshot_tx_drop(s->tx);
    }
    WEFT_AWAIT(f, cx, weft_join(&s->jh), &s->got);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(os_main, os_main_poll, NULL);

static void oneshot_send_and_close(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    os_main m = WEFT_NEW(os_main, .env = env, .mode = 0);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.got, 42);
    os_main d = WEFT_NEW(os_main, .env = env, .mode = 1);
    wt_block_on(env, &d.base, NULL);
    assert_int_equal((int64_t)d.got, WEFT_ECLOSED);
}

static void oneshot_receiver_gone(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    assert_int_equal(weft_oneshot_new(sizeof(int), ALLOC(env), &tx, &rx), 0);
    assert_false(weft_oneshot_tx_is_closed(tx));
    int v = 7;
    assert_int_equal(weft_oneshot_try_recv(rx, &v), WEFT_EAGAIN);
    weft_oneshot_rx_drop(rx);
    assert_true(weft_oneshot_tx_is_closed(tx));
    assert_int_equal(weft_oneshot_send(tx, &v), WEFT_ECLOSED);
    assert_int_equal(v, 7); /* still the caller's */
    /* A pending recv dropped: the sender sees the receiver gone. */
    manual m;
    manual_init(&m);
    assert_int_equal(weft_oneshot_new(sizeof(int), ALLOC(env), &tx, &rx), 0);
    weft_oneshot_recv_op op;
    int rc = 1;
    assert_int_equal(mpoll(&m, weft_oneshot_recv(&op, rx, &v), &rc), WEFT_PENDING);
    assert_int_equal(atomic_load(&m.c.refs), 1);
    weft_future_drop(&op.base);
    assert_int_equal(atomic_load(&m.c.refs), 0); /* no waiter left behind */
    assert_int_equal(weft_oneshot_send(tx, &v), WEFT_ECLOSED);
    wt_free_rt(env);
}

/* A counting allocator: `live` is what it handed out and was not given back. */
typedef struct counted {
    int live;
} counted;
static void *counted_alloc(void *ctx, size_t n) {
    ((counted *)ctx)->live++;
    return malloc(n);
}
static void counted_free(void *ctx, void *p, size_t n) {
    (void)n;
    ((counted *)ctx)->live--;
    free(p);
}

/* A receive that is ready holds nothing: the channel is released when the
 * value is taken, not later when the op is dropped (whether the value was
 * there at the first poll or came after the receive waited). */
static void oneshot_ready_recv_releases_channel(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    counted n = {0};
    weft_allocator a = {counted_alloc, counted_free, &n};
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    manual m;
    manual_init(&m);
    weft_oneshot_recv_op op;
    int v = 5, got = 0, rc = 9;
    assert_int_equal(weft_oneshot_new(sizeof(int), &a, &tx, &rx), 0);
    assert_int_equal(weft_oneshot_send(tx, &v), 0);
    assert_int_equal(n.live, 1);
    assert_int_equal(mpoll(&m, weft_oneshot_recv(&op, rx, &got), &rc), WEFT_READY);
    assert_int_equal(rc, 0);
    assert_int_equal(got, 5);
    assert_int_equal(n.live, 0);
    weft_future_drop(&op.base); /* nothing left to release */
    assert_int_equal(n.live, 0);
    /* Waited first: the send wakes it, the ready poll releases. */
    assert_int_equal(weft_oneshot_new(sizeof(int), &a, &tx, &rx), 0);
    assert_int_equal(mpoll(&m, weft_oneshot_recv(&op, rx, &got), &rc), WEFT_PENDING);
    v = 6;
    assert_int_equal(weft_oneshot_send(tx, &v), 0);
    assert_int_equal(atomic_load(&m.c.wakes), 1);
    assert_int_equal(atomic_load(&m.c.refs), 0);
    assert_int_equal(n.live, 1);
    assert_int_equal(mpoll(&m, &op.base, &rc), WEFT_READY);
    assert_int_equal(got, 6);
    assert_int_equal(n.live, 0);
    weft_future_drop(&op.base);
    /* The sender gone without a value: ECLOSED, released as well. */
    assert_int_equal(weft_oneshot_new(sizeof(int), &a, &tx, &rx), 0);
    weft_oneshot_tx_drop(tx);
    assert_int_equal(mpoll(&m, weft_oneshot_recv(&op, rx, &got), &rc), WEFT_READY);
    assert_int_equal(rc, WEFT_ECLOSED);
    assert_int_equal(n.live, 0);
    weft_future_drop(&op.base);
    wt_free_rt(env);
}

/* --------------------------------------------------------------------- mpsc */

typedef struct sender {
    weft_future base;
    weft_mpsc_tx *tx;
    uint64_t from, count, i, v;
    weft_mpsc_send_op op;
    int rc;
} sender;

static weft_poll sender_poll(weft_future *f, weft_context *cx, void *out) {
    sender *s = (sender *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < s->count; s->i++) {
        s->v = s->from + s->i;
        WEFT_AWAIT(f, cx, weft_mpsc_send(&s->op, s->tx, &s->v), &s->rc);
        assert_int_equal(s->rc, 0);
    }
    weft_mpsc_tx_drop(s->tx);
    s->tx = NULL;
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(sender, sender_poll, NULL);

typedef struct mpsc_main {
    weft_future base;
    wt_env *env;
    size_t cap; /* 0: unbounded */
    int senders;
    uint64_t per;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    weft_mpsc_recv_op op;
    uint64_t v, sum, n, last[8];
    int i, rc;
} mpsc_main;

static weft_poll mpsc_main_poll(weft_future *f, weft_context *cx, void *out) {
    mpsc_main *s = (mpsc_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    if (s->cap)
        assert_int_equal(weft_mpsc_bounded(sizeof(uint64_t), s->cap, ALLOC(s->env), &s->tx, &s->rx), 0);
    else
        assert_int_equal(weft_mpsc_unbounded(sizeof(uint64_t), ALLOC(s->env), &s->tx, &s->rx), 0);
    for (s->i = 0; s->i < s->senders; s->i++) {
        weft_mpsc_tx *tx = s->i == 0 ? s->tx : weft_mpsc_tx_clone(s->tx);
        sender sd = WEFT_NEW(sender, .tx = tx, .from = (uint64_t)s->i * 1000000, .count = s->per);
        assert_int_equal(weft_spawn(&sd, NULL), 0);
    }
    for (s->i = 0; s->i < 8; s->i++)
        s->last[s->i] = UINT64_MAX;
    for (;;) {
        WEFT_AWAIT(f, cx, weft_mpsc_recv(&s->op, s->rx, &s->v), &s->rc);
        if (s->rc == WEFT_ECLOSED)
            break;
        assert_int_equal(s->rc, 0);
        /* Per sender, values arrive in the order sent. */
        uint64_t k = s->v / 1000000;
        assert_true(s->last[k] == UINT64_MAX || s->v == s->last[k] + 1);
        s->last[k] = s->v;
        s->sum += s->v;
        s->n++;
        if (s->cap)
            assert_true(weft_mpsc_len(s->rx) <= s->cap + (s->cap < 32 ? s->cap : 32) - 1);
    }
    weft_mpsc_rx_drop(s->rx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(mpsc_main, mpsc_main_poll, NULL);

static void run_mpsc(wt_env *env, size_t cap, int senders, uint64_t per) {
    mpsc_main m = WEFT_NEW(mpsc_main, .env = env, .cap = cap, .senders = senders, .per = per);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.n, (uint64_t)senders * per);
    uint64_t want = 0;
    for (int k = 0; k < senders; k++)
        want += (uint64_t)k * 1000000 * per + per * (per - 1) / 2;
    assert_int_equal(m.sum, want);
}

static void mpsc_bounded_many_senders(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    run_mpsc(env, 1, 1, 100);
    run_mpsc(env, 4, 4, 1000);
    run_mpsc(env, 16, 8, 5000);
}

static void mpsc_unbounded_many_senders(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    run_mpsc(env, 0, 1, 10000);
    run_mpsc(env, 0, 8, 2000);
}

static void mpsc_try_and_backpressure(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    assert_int_equal(weft_mpsc_bounded(sizeof(int), 2, ALLOC(env), &tx, &rx), 0);
    int a = 1, b = 2, c = 3, d = 4, out = 0;
    assert_int_equal(weft_mpsc_try_recv(rx, &out), WEFT_EAGAIN);
    assert_int_equal(weft_mpsc_try_send(tx, &a), 0);
    assert_int_equal(weft_mpsc_try_send(tx, &b), 0);
    assert_int_equal(weft_mpsc_try_send(tx, &c), WEFT_EFULL);
    /* A send waits for capacity, and gets the slot its receive frees. */
    manual m;
    manual_init(&m);
    weft_mpsc_send_op op;
    int rc = 99;
    assert_int_equal(mpoll(&m, weft_mpsc_send(&op, tx, &c), &rc), WEFT_PENDING);
    assert_int_equal(weft_mpsc_try_send(tx, &d), WEFT_EFULL); /* no barging */
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
    assert_int_equal(out, 1);
    assert_int_equal(atomic_load(&m.c.wakes), 1);
    assert_int_equal(mpoll(&m, &op.base, &rc), WEFT_READY);
    assert_int_equal(rc, 0);
    weft_future_drop(&op.base);
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
    assert_int_equal(out, 2);
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
    assert_int_equal(out, 3);
    /* Closing: queued values still come out, then ECLOSED. */
    assert_int_equal(weft_mpsc_try_send(tx, &d), 0);
    weft_mpsc_rx_close(rx);
    assert_int_equal(weft_mpsc_try_send(tx, &a), WEFT_ECLOSED);
    assert_true(weft_mpsc_is_closed(tx));
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
    assert_int_equal(out, 4);
    assert_int_equal(weft_mpsc_try_recv(rx, &out), WEFT_ECLOSED);
    weft_mpsc_tx_drop(tx);
    weft_mpsc_rx_drop(rx);
    assert_int_equal(atomic_load(&m.c.refs), 0);
    wt_free_rt(env);
}

/* Dropping a pending send sends nothing; dropping a granted send has sent
 * everything; the receiver gone fails a waiting sender, value kept. */
static void mpsc_send_cancel_and_close(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    assert_int_equal(weft_mpsc_bounded(sizeof(int), 1, ALLOC(env), &tx, &rx), 0);
    int a = 1, b = 2, c = 3, out = 0, rc = 99;
    manual m1, m2;
    manual_init(&m1);
    manual_init(&m2);
    assert_int_equal(weft_mpsc_try_send(tx, &a), 0);
    weft_mpsc_send_op s1, s2;
    assert_int_equal(mpoll(&m1, weft_mpsc_send(&s1, tx, &b), &rc), WEFT_PENDING);
    assert_int_equal(mpoll(&m2, weft_mpsc_send(&s2, tx, &c), &rc), WEFT_PENDING);
    weft_future_drop(&s1.base); /* pending: b is never sent */
    assert_int_equal(atomic_load(&m1.c.refs), 0);
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
    assert_int_equal(out, 1);
    assert_int_equal(atomic_load(&m2.c.wakes), 1); /* s2 got the slot */
    weft_future_drop(&s2.base);                     /* granted: c was sent */
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
    assert_int_equal(out, 3);
    assert_int_equal(weft_mpsc_try_recv(rx, &out), WEFT_EAGAIN);
    /* The receiver goes while a sender waits. */
    assert_int_equal(weft_mpsc_try_send(tx, &a), 0);
    assert_int_equal(mpoll(&m1, weft_mpsc_send(&s1, tx, &b), &rc), WEFT_PENDING);
    weft_mpsc_rx_drop(rx);
    assert_int_equal(atomic_load(&m1.c.wakes), 1);
    assert_int_equal(mpoll(&m1, &s1.base, &rc), WEFT_READY);
    assert_int_equal(rc, WEFT_ECLOSED);
    assert_int_equal(b, 2);
    weft_future_drop(&s1.base);
    assert_int_equal(weft_mpsc_try_send(tx, &a), WEFT_ECLOSED);
    weft_mpsc_tx_drop(tx);
    /* A pending recv dropped takes its waker back. */
    assert_int_equal(weft_mpsc_unbounded(sizeof(int), ALLOC(env), &tx, &rx), 0);
    weft_mpsc_recv_op r;
    assert_int_equal(mpoll(&m1, weft_mpsc_recv(&r, rx, &out), &rc), WEFT_PENDING);
    assert_int_equal(atomic_load(&m1.c.refs), 1);
    weft_future_drop(&r.base);
    assert_int_equal(atomic_load(&m1.c.refs), 0);
    assert_int_equal(weft_mpsc_try_send(tx, &a), 0);
    assert_int_equal(weft_mpsc_try_recv(rx, &out), 0); /* not lost */
    assert_int_equal(out, 1);
    weft_mpsc_rx_drop(rx);
    weft_mpsc_tx_drop(tx);
    wt_free_rt(env);
}

/* Unbounded values of sizes other than 8 bytes (3, 16, 0), over several
 * storage blocks, received by op and by try_recv, in order, none lost. */
static void mpsc_unbounded_sizes(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    static const size_t sizes[] = {3, 16, 0};
    manual m;
    manual_init(&m);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t e = sizes[k];
        weft_mpsc_tx *tx;
        weft_mpsc_rx *rx;
        assert_int_equal(weft_mpsc_unbounded(e, ALLOC(env), &tx, &rx), 0);
        unsigned char in[16], out[16];
        unsigned sent = 0, got = 0;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 300; i++, sent++) { /* more than a block */
                memset(in, (int)(sent & 0xff), sizeof in);
                in[0] = (unsigned char)(sent >> 8);
                assert_int_equal(weft_mpsc_try_send(tx, e ? in : NULL), 0);
            }
            for (int i = 0; i < 250; i++, got++) {
                weft_mpsc_recv_op op;
                int rc = 9;
                memset(out, 0xee, sizeof out);
                if (i % 2)
                    rc = weft_mpsc_try_recv(rx, out);
                else {
                    assert_int_equal(mpoll(&m, weft_mpsc_recv(&op, rx, out), &rc), WEFT_READY);
                    weft_future_drop(&op.base);
                }
                assert_int_equal(rc, 0);
                for (size_t b = 0; b < e; b++)
                    assert_int_equal(out[b], b ? (got & 0xff) : ((got >> 8) & 0xff));
                for (size_t b = e; b < sizeof out; b++)
                    assert_int_equal(out[b], 0xee); /* no more than a value written */
            }
        }
        assert_int_equal(weft_mpsc_len(rx), sent - got);
        while (got < sent) {
            assert_int_equal(weft_mpsc_try_recv(rx, out), 0);
            for (size_t b = 0; b < e; b++)
                assert_int_equal(out[b], b ? (got & 0xff) : ((got >> 8) & 0xff));
            got++;
        }
        assert_int_equal(weft_mpsc_try_recv(rx, out), WEFT_EAGAIN);
        weft_mpsc_tx_drop(tx);
        assert_int_equal(weft_mpsc_try_recv(rx, out), WEFT_ECLOSED);
        weft_mpsc_rx_drop(rx);
    }
    assert_int_equal(atomic_load(&m.c.refs), 0);
    wt_free_rt(env);
}

/* recv inside a timeout: the timeout fires, the message sent later is
 * still received (the dropped recv lost nothing). */
typedef struct late_sender {
    weft_future base;
    weft_mpsc_tx *tx;
    weft_sleep nap;
} late_sender;

static weft_poll late_sender_poll(weft_future *f, weft_context *cx, void *out) {
    late_sender *s = (late_sender *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(50)), NULL);
    { /* a local between two resume points lives in a block of its own */
        uint64_t v = 9;
        assert_int_equal(weft_mpsc_try_send(s->tx, &v), 0);
    }
    weft_mpsc_tx_drop(s->tx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(late_sender, late_sender_poll, NULL);

typedef struct timeout_recv {
    weft_future base;
    wt_env *env;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    weft_mpsc_recv_op op;
    weft_timeout to;
    uint64_t v;
    int rc;
} timeout_recv;

static weft_poll timeout_recv_poll(weft_future *f, weft_context *cx, void *out) {
    timeout_recv *s = (timeout_recv *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_mpsc_unbounded(sizeof(uint64_t), ALLOC(s->env), &s->tx, &s->rx), 0);
    assert_int_equal(weft_spawn(&WEFT_NEW(late_sender, .tx = s->tx), NULL), 0);
    s->rc = 1;
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(10), weft_mpsc_recv(&s->op, s->rx, &s->v)), &s->rc);
    assert_int_equal(weft_timeout_status(&s->to), WEFT_ETIMEDOUT);
    assert_int_equal(s->rc, 1); /* no output written */
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(100), weft_mpsc_recv(&s->op, s->rx, &s->v)), &s->rc);
    assert_int_equal(weft_timeout_status(&s->to), 0);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->v, 9);
    assert_int_equal(weft_now(), WEFT_MS(50));
    weft_mpsc_rx_drop(s->rx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(timeout_recv, timeout_recv_poll, NULL);

static void mpsc_recv_timeout(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    timeout_recv t = WEFT_NEW(timeout_recv, .env = env);
    wt_block_on(env, &t.base, NULL);
}

/* ------------------------------------------------------ semaphore and mutex */

static void semaphore_fifo_and_cancel(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_semaphore s;
    assert_int_equal(weft_semaphore_init(&s, 2), 0);
    manual m[4];
    weft_acquire_op op[4];
    int rc[4] = {9, 9, 9, 9};
    for (int i = 0; i < 4; i++)
        manual_init(&m[i]);
    assert_int_equal(weft_semaphore_try_acquire(&s, 2), 0);
    assert_int_equal(weft_semaphore_available(&s), 0);
    /* Queue: op0 wants 2, op1 wants 1, op2 wants 1. */
    assert_int_equal(mpoll(&m[0], weft_semaphore_acquire(&op[0], &s, 2), &rc[0]), WEFT_PENDING);
    assert_int_equal(mpoll(&m[1], weft_semaphore_acquire(&op[1], &s, 1), &rc[1]), WEFT_PENDING);
    assert_int_equal(mpoll(&m[2], weft_semaphore_acquire(&op[2], &s, 1), &rc[2]), WEFT_PENDING);
    weft_semaphore_release(&s, 1);
    /* op0 (first) needs 2: nobody overtakes it. */
    assert_int_equal(atomic_load(&m[1].c.wakes), 0);
    assert_int_equal(weft_semaphore_try_acquire(&s, 1), WEFT_EAGAIN);
    weft_semaphore_release(&s, 1);
    assert_int_equal(atomic_load(&m[0].c.wakes), 1);
    /* op0 is granted but dropped before it ran: its permits go on to op1
     * and op2, in order. */
    weft_future_drop(&op[0].base);
    assert_int_equal(atomic_load(&m[1].c.wakes), 1);
    assert_int_equal(atomic_load(&m[2].c.wakes), 1);
    assert_int_equal(mpoll(&m[1], &op[1].base, &rc[1]), WEFT_READY);
    assert_int_equal(rc[1], 0);
    assert_int_equal(mpoll(&m[2], &op[2].base, &rc[2]), WEFT_READY);
    weft_future_drop(&op[1].base);
    weft_future_drop(&op[2].base);
    assert_int_equal(weft_semaphore_available(&s), 0);
    /* A pending acquire dropped leaves no waiter behind. */
    assert_int_equal(mpoll(&m[3], weft_semaphore_acquire(&op[3], &s, 1), &rc[3]), WEFT_PENDING);
    weft_future_drop(&op[3].base);
    assert_int_equal(atomic_load(&m[3].c.refs), 0);
    weft_semaphore_release(&s, 2);
    assert_int_equal(weft_semaphore_available(&s), 2);
    assert_int_equal(atomic_load(&m[3].c.wakes), 0);
    /* Close fails waiters and later acquires. */
    assert_int_equal(weft_semaphore_try_acquire(&s, 2), 0);
    assert_int_equal(mpoll(&m[3], weft_semaphore_acquire(&op[3], &s, 1), &rc[3]), WEFT_PENDING);
    weft_semaphore_close(&s);
    assert_true(weft_semaphore_is_closed(&s));
    assert_int_equal(mpoll(&m[3], &op[3].base, &rc[3]), WEFT_READY);
    assert_int_equal(rc[3], WEFT_ECLOSED);
    weft_future_drop(&op[3].base);
    assert_int_equal(weft_semaphore_try_acquire(&s, 1), WEFT_ECLOSED);
    weft_semaphore_add_permits(&s, 3);
    weft_semaphore_destroy(&s);
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&m[i].c.refs), 0);
}

/* Tasks take a fair mutex in the order they asked for it. */
typedef struct locker {
    weft_future base;
    weft_mutex *mu;
    int id, *order, *n;
    weft_sleep nap;
    weft_lock_op op;
    int rc;
} locker;

static weft_poll locker_poll(weft_future *f, weft_context *cx, void *out) {
    locker *s = (locker *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(s->id + 1)), NULL);
    WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, s->mu), &s->rc);
    s->order[(*s->n)++] = s->id;
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(1)), NULL); /* held across a suspension */
    weft_mutex_unlock(s->mu);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(locker, locker_poll, NULL);

typedef struct mutex_main {
    weft_future base;
    weft_mutex mu;
    int order[8], n, i;
    weft_join_handle jh[8];
    weft_sleep nap;
    weft_lock_op op;
    int rc;
} mutex_main;

static weft_poll mutex_main_poll(weft_future *f, weft_context *cx, void *out) {
    mutex_main *s = (mutex_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_mutex_init(&s->mu);
    WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, &s->mu), &s->rc);
    for (s->i = 0; s->i < 8; s->i++) {
        locker l = WEFT_NEW(locker, .mu = &s->mu, .id = s->i, .order = s->order, .n = &s->n);
        assert_int_equal(weft_spawn(&l, &s->jh[s->i]), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(20)), NULL); /* all queued, in id order */
    assert_int_equal(weft_mutex_try_lock(&s->mu), WEFT_EBUSY);
    weft_mutex_unlock(&s->mu);
    for (s->i = 0; s->i < 8; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), NULL);
    assert_int_equal(weft_mutex_try_lock(&s->mu), 0);
    weft_mutex_unlock(&s->mu);
    weft_mutex_destroy(&s->mu);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(mutex_main, mutex_main_poll, NULL);

static void mutex_fifo(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    mutex_main m = WEFT_NEW(mutex_main);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.n, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(m.order[i], i);
}

/* Hand-polled: an unlock with waiters hands the lock to the first one
 * only; a lock op that is done, dropped, leaves the mutex locked (it
 * owns nothing to give back); a granted op dropped before it ran passes
 * the lock on. */
static void mutex_handoff_by_hand(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_mutex mu;
    weft_mutex_init(&mu);
    manual m[3];
    weft_lock_op op[3];
    int rc[3] = {9, 9, 9};
    for (int i = 0; i < 3; i++)
        manual_init(&m[i]);
    assert_int_equal(mpoll(&m[0], weft_mutex_lock(&op[0], &mu), &rc[0]), WEFT_READY);
    assert_int_equal(rc[0], 0);
    weft_future_drop(&op[0].base); /* done: the lock stays taken */
    assert_int_equal(weft_mutex_try_lock(&mu), WEFT_EBUSY);
    assert_int_equal(mpoll(&m[1], weft_mutex_lock(&op[1], &mu), &rc[1]), WEFT_PENDING);
    assert_int_equal(mpoll(&m[2], weft_mutex_lock(&op[2], &mu), &rc[2]), WEFT_PENDING);
    weft_mutex_unlock(&mu);
    assert_int_equal(atomic_load(&m[1].c.wakes), 1);
    assert_int_equal(atomic_load(&m[2].c.wakes), 0);
    assert_int_equal(weft_mutex_try_lock(&mu), WEFT_EBUSY); /* op1 owns it: no barging */
    weft_future_drop(&op[1].base);                           /* granted, never ran */
    assert_int_equal(atomic_load(&m[2].c.wakes), 1);
    assert_int_equal(mpoll(&m[2], &op[2].base, &rc[2]), WEFT_READY);
    assert_int_equal(rc[2], 0);
    weft_future_drop(&op[2].base);
    assert_int_equal(weft_mutex_try_lock(&mu), WEFT_EBUSY);
    weft_mutex_unlock(&mu);
    assert_int_equal(weft_mutex_try_lock(&mu), 0);
    weft_mutex_unlock(&mu);
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&m[i].c.refs), 0);
    weft_mutex_destroy(&mu);
    wt_free_rt(env);
}

/* Many tasks increment a counter under the mutex, yielding while holding it. */
typedef struct incr {
    weft_future base;
    weft_mutex *mu;
    uint64_t *counter;
    int i;
    uint64_t v;
    weft_lock_op op;
    weft_yield_now y;
} incr;

static weft_poll incr_poll(weft_future *f, weft_context *cx, void *out) {
    incr *s = (incr *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < 200; s->i++) {
        WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, s->mu), NULL);
        s->v = *s->counter;
        if (s->i % 7 == 0)
            WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL); /* holding the lock */
        *s->counter = s->v + 1;
        weft_mutex_unlock(s->mu);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(incr, incr_poll, NULL);

typedef struct incr_main {
    weft_future base;
    weft_mutex mu;
    uint64_t counter;
    weft_join_all all;
    incr tasks[8];
    weft_join_handle jh[8];
    weft_future *futs[8];
    int i;
} incr_main;

static weft_poll incr_main_poll(weft_future *f, weft_context *cx, void *out) {
    incr_main *s = (incr_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_mutex_init(&s->mu);
    for (s->i = 0; s->i < 8; s->i++) {
        assert_int_equal(weft_spawn(&WEFT_NEW(incr, .mu = &s->mu, .counter = &s->counter), &s->jh[s->i]), 0);
        s->futs[s->i] = weft_join(&s->jh[s->i]);
    }
    WEFT_AWAIT(f, cx, weft_join_all(&s->all, s->futs, NULL, 8), NULL);
    weft_mutex_destroy(&s->mu);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(incr_main, incr_main_poll, NULL);

static void mutex_contention_exact(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    incr_main m = WEFT_NEW(incr_main);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.counter, 8 * 200);
}

/* A lock op dropped by a timeout leaves no waiter behind and takes no lock:
 * the next locker gets it at once, the one after waits as usual. */
typedef struct lock_timeout {
    weft_future base;
    weft_mutex mu;
    weft_lock_op op;
    weft_timeout to;
    int rc;
} lock_timeout;

static weft_poll lock_timeout_poll(weft_future *f, weft_context *cx, void *out) {
    lock_timeout *s = (lock_timeout *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_mutex_init(&s->mu);
    assert_int_equal(weft_mutex_try_lock(&s->mu), 0);
    s->rc = 1;
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(10), weft_mutex_lock(&s->op, &s->mu)), &s->rc);
    assert_int_equal(weft_timeout_status(&s->to), WEFT_ETIMEDOUT);
    assert_int_equal(s->rc, 1);
    weft_mutex_unlock(&s->mu);
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(10), weft_mutex_lock(&s->op, &s->mu)), &s->rc);
    assert_int_equal(weft_timeout_status(&s->to), 0);
    assert_int_equal(s->rc, 0);
    assert_int_equal(weft_mutex_try_lock(&s->mu), WEFT_EBUSY);
    weft_mutex_unlock(&s->mu);
    weft_mutex_destroy(&s->mu); /* aborts if a waiter were still queued */
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(lock_timeout, lock_timeout_poll, NULL);

static void mutex_lock_timeout(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    lock_timeout t = WEFT_NEW(lock_timeout);
    wt_block_on(env, &t.base, NULL);
}

static void rwlock_fair(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_rwlock l;
    weft_rwlock_init(&l);
    manual m[3];
    weft_acquire_op op[3];
    int rc = 9;
    for (int i = 0; i < 3; i++)
        manual_init(&m[i]);
    assert_int_equal(weft_rwlock_try_read(&l), 0);
    assert_int_equal(weft_rwlock_try_read(&l), 0); /* readers share */
    assert_int_equal(weft_rwlock_try_write(&l), WEFT_EBUSY);
    assert_int_equal(mpoll(&m[0], weft_rwlock_write(&op[0], &l), &rc), WEFT_PENDING);
    /* A writer waits: a later reader queues behind it. */
    assert_int_equal(weft_rwlock_try_read(&l), WEFT_EBUSY);
    assert_int_equal(mpoll(&m[1], weft_rwlock_read(&op[1], &l), &rc), WEFT_PENDING);
    weft_rwlock_read_unlock(&l);
    assert_int_equal(atomic_load(&m[0].c.wakes), 0);
    weft_rwlock_read_unlock(&l);
    assert_int_equal(atomic_load(&m[0].c.wakes), 1);
    assert_int_equal(mpoll(&m[0], &op[0].base, &rc), WEFT_READY);
    weft_future_drop(&op[0].base);
    assert_int_equal(atomic_load(&m[1].c.wakes), 0);
    weft_rwlock_write_unlock(&l);
    assert_int_equal(atomic_load(&m[1].c.wakes), 1);
    assert_int_equal(mpoll(&m[1], &op[1].base, &rc), WEFT_READY);
    weft_future_drop(&op[1].base);
    weft_rwlock_read_unlock(&l);
    assert_int_equal(weft_rwlock_try_write(&l), 0);
    weft_rwlock_write_unlock(&l);
    weft_rwlock_destroy(&l);
}

/* ------------------------------------------------------------------- notify */

static void notify_semantics(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_notify n;
    weft_notify_init(&n);
    manual m[3];
    weft_notified_op op[3];
    int rc = 9;
    for (int i = 0; i < 3; i++)
        manual_init(&m[i]);
    /* notify_one with nobody waiting stores one permit (not two). */
    weft_notify_one(&n);
    weft_notify_one(&n);
    assert_int_equal(mpoll(&m[0], weft_notified(&op[0], &n), &rc), WEFT_READY);
    weft_future_drop(&op[0].base);
    assert_int_equal(mpoll(&m[0], weft_notified(&op[0], &n), &rc), WEFT_PENDING);
    /* notify_waiters wakes those made before it, polled or not; stores none. */
    weft_notified(&op[1], &n);
    weft_notify_waiters(&n);
    assert_int_equal(atomic_load(&m[0].c.wakes), 1);
    assert_int_equal(mpoll(&m[0], &op[0].base, &rc), WEFT_READY);
    assert_int_equal(mpoll(&m[1], &op[1].base, &rc), WEFT_READY);
    weft_future_drop(&op[0].base);
    weft_future_drop(&op[1].base);
    assert_int_equal(mpoll(&m[0], weft_notified(&op[0], &n), &rc), WEFT_PENDING);
    /* FIFO; a notify_one handed to a waiter dropped before it ran passes on. */
    assert_int_equal(mpoll(&m[1], weft_notified(&op[1], &n), &rc), WEFT_PENDING);
    weft_notify_one(&n);
    assert_int_equal(atomic_load(&m[0].c.wakes), 2);
    assert_int_equal(atomic_load(&m[1].c.wakes), 0);
    weft_future_drop(&op[0].base);
    assert_int_equal(atomic_load(&m[1].c.wakes), 1);
    assert_int_equal(mpoll(&m[1], &op[1].base, &rc), WEFT_READY);
    weft_future_drop(&op[1].base);
    /* A pending notified dropped: unregistered, nothing stored. */
    assert_int_equal(mpoll(&m[2], weft_notified(&op[2], &n), &rc), WEFT_PENDING);
    weft_future_drop(&op[2].base);
    assert_int_equal(mpoll(&m[2], weft_notified(&op[2], &n), &rc), WEFT_PENDING);
    weft_future_drop(&op[2].base);
    weft_notify_destroy(&n);
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&m[i].c.refs), 0);
}

/* weft_notified_enable (Tokio's Notified::enable): a waiter registered
 * before it is polled, in line from then on. */
static void notify_enable_registers(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_notify n;
    weft_notify_init(&n);
    manual m[2];
    weft_notified_op op[2];
    int rc = 9;
    for (int i = 0; i < 2; i++)
        manual_init(&m[i]);
    /* registered first, polled later: the notify_one is kept for it, not
     * for the waiter polled in between */
    weft_notified(&op[0], &n);
    assert_false(weft_notified_enable(&op[0]));
    assert_false(weft_notified_enable(&op[0])); /* twice: still one registration */
    assert_int_equal(mpoll(&m[1], weft_notified(&op[1], &n), &rc), WEFT_PENDING);
    weft_notify_one(&n);
    assert_int_equal(atomic_load(&m[1].c.wakes), 0);
    assert_true(weft_notified_enable(&op[0])); /* it came */
    assert_int_equal(mpoll(&m[0], &op[0].base, &rc), WEFT_READY);
    assert_int_equal(rc, 0);
    weft_future_drop(&op[0].base);
    /* an enabled op handed a notify_one and dropped unused passes it on */
    weft_notified(&op[0], &n);
    assert_false(weft_notified_enable(&op[0]));
    weft_notify_one(&n); /* to op[1], first in line now */
    assert_int_equal(atomic_load(&m[1].c.wakes), 1);
    assert_int_equal(mpoll(&m[1], &op[1].base, &rc), WEFT_READY);
    weft_future_drop(&op[1].base);
    weft_notify_one(&n); /* to the enabled op[0] */
    assert_int_equal(mpoll(&m[1], weft_notified(&op[1], &n), &rc), WEFT_PENDING);
    weft_future_drop(&op[0].base); /* never polled: passed on */
    assert_int_equal(atomic_load(&m[1].c.wakes), 2);
    assert_int_equal(mpoll(&m[1], &op[1].base, &rc), WEFT_READY);
    weft_future_drop(&op[1].base);
    /* a stored permit: enable takes it and says so */
    weft_notify_one(&n);
    weft_notified(&op[0], &n);
    assert_true(weft_notified_enable(&op[0]));
    assert_int_equal(mpoll(&m[0], &op[0].base, &rc), WEFT_READY);
    weft_future_drop(&op[0].base);
    /* a notify_waiters after the op was made counts, as for a poll */
    weft_notified(&op[0], &n);
    weft_notify_waiters(&n);
    assert_true(weft_notified_enable(&op[0]));
    weft_future_drop(&op[0].base);
    /* registered, the condition already true: dropped unpolled, and that
     * is no "forgot to await" (WEFT_TEST_ENV fails on a diagnostic) */
    weft_notified(&op[0], &n);
    assert_false(weft_notified_enable(&op[0]));
    weft_future_drop(&op[0].base);
    assert_null(n.weft__waiters.weft__head); /* nobody left in line */
    weft_notify_destroy(&n);
    for (int i = 0; i < 2; i++)
        assert_int_equal(atomic_load(&m[i].c.refs), 0);
}

/* The register-then-check pattern in a task: never a forgotten future. */
typedef struct check_after_enable {
    weft_future base;
    weft_notify n;
    weft_notified_op op;
    bool ready;
} check_after_enable;
static weft_poll check_after_enable_poll(weft_future *f, weft_context *cx, void *out) {
    check_after_enable *c = (check_after_enable *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_notify_init(&c->n);
    c->ready = true;
    weft_notified(&c->op, &c->n);
    weft_notified_enable(&c->op);
    if (!c->ready)
        WEFT_AWAIT(f, cx, &c->op.base, NULL);
    else
        weft_future_drop(&c->op.base);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(check_after_enable, check_after_enable_poll, NULL);

static void notify_enable_then_drop_is_no_diagnostic(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    check_after_enable c = WEFT_NEW(check_after_enable);
    wt_block_on(env, &c.base, NULL);
    assert_int_equal(atomic_load(&env->diags), 0);
}

/* Ping-pong between two tasks over two Notify. */
typedef struct ponger {
    weft_future base;
    weft_notify *in, *back;
    int i;
    weft_notified_op op;
} ponger;

static weft_poll ponger_poll(weft_future *f, weft_context *cx, void *out) {
    ponger *s = (ponger *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < 1000; s->i++) {
        WEFT_AWAIT(f, cx, weft_notified(&s->op, s->in), NULL);
        weft_notify_one(s->back);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(ponger, ponger_poll, NULL);

typedef struct pinger {
    weft_future base;
    weft_notify a, b;
    int i;
    weft_notified_op op;
    weft_join_handle jh;
} pinger;

static weft_poll pinger_poll(weft_future *f, weft_context *cx, void *out) {
    pinger *s = (pinger *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_notify_init(&s->a);
    weft_notify_init(&s->b);
    assert_int_equal(weft_spawn(&WEFT_NEW(ponger, .in = &s->a, .back = &s->b), &s->jh), 0);
    for (s->i = 0; s->i < 1000; s->i++) {
        weft_notify_one(&s->a);
        WEFT_AWAIT(f, cx, weft_notified(&s->op, &s->b), NULL);
    }
    WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(pinger, pinger_poll, NULL);

static void notify_ping_pong(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    pinger p = WEFT_NEW(pinger);
    wt_block_on(env, &p.base, NULL);
    assert_int_equal(p.i, 1000);
}

/* -------------------------------------------------------------------- watch */

typedef struct watcher {
    weft_future base;
    weft_watch_rx rx;
    weft_watch_changed_op op;
    int rc, seen[16], n;
} watcher;

static weft_poll watcher_poll(weft_future *f, weft_context *cx, void *out) {
    watcher *s = (watcher *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_watch_changed(&s->op, &s->rx), &s->rc);
        if (s->rc)
            break;
        weft_watch_borrow(&s->rx, &s->seen[s->n++]);
    }
    weft_watch_rx_drop(&s->rx);
    WEFT_RETURN(f, out, int, s->n ? s->seen[s->n - 1] : -1);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(watcher, watcher_poll, NULL, int);

typedef struct watch_main {
    weft_future base;
    wt_env *env;
    weft_watch *tx;
    weft_join_handle jh[2];
    weft_sleep nap;
    int i, last[2];
} watch_main;

static weft_poll watch_main_poll(weft_future *f, weft_context *cx, void *out) {
    watch_main *s = (watch_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->i = 0;
    assert_int_equal(weft_watch_new(sizeof(int), &s->i, ALLOC(s->env), &s->tx), 0);
    for (s->i = 0; s->i < 2; s->i++) {
        watcher w = WEFT_NEW(watcher);
        weft_watch_subscribe(s->tx, &w.rx);
        assert_int_equal(weft_spawn(&w, &s->jh[s->i]), 0);
    }
    for (s->i = 1; s->i <= 5; s->i++) {
        assert_int_equal(weft_watch_send(s->tx, &s->i), 0);
        WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(1)), NULL);
    }
    weft_watch_tx_drop(s->tx);
    for (s->i = 0; s->i < 2; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->last[s->i]);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(watch_main, watch_main_poll, NULL);

static void watch_latest_and_close(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    watch_main m = WEFT_NEW(watch_main, .env = env);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.last[0], 5);
    assert_int_equal(m.last[1], 5);
    /* Hand-polled: many sends between polls give one change, the latest. */
    weft_watch *tx;
    weft_watch_rx rx;
    int v = 0, got = -1, rc = 9;
    assert_int_equal(weft_watch_new(sizeof v, &v, ALLOC(env), &tx), 0);
    assert_int_equal(weft_watch_send(tx, &v), WEFT_ECLOSED); /* no receiver */
    weft_watch_subscribe(tx, &rx);
    manual mm;
    manual_init(&mm);
    weft_watch_changed_op op;
    assert_int_equal(mpoll(&mm, weft_watch_changed(&op, &rx), &rc), WEFT_PENDING);
    for (v = 1; v <= 3; v++)
        assert_int_equal(weft_watch_send(tx, &v), 0);
    assert_int_equal(atomic_load(&mm.c.wakes), 1);
    assert_true(weft_watch_has_changed(&rx));
    assert_int_equal(mpoll(&mm, &op.base, &rc), WEFT_READY);
    assert_int_equal(rc, 0);
    weft_future_drop(&op.base);
    weft_watch_borrow(&rx, &got);
    assert_int_equal(got, 3);
    assert_false(weft_watch_has_changed(&rx));
    /* A pending changed dropped: unregistered. */
    assert_int_equal(mpoll(&mm, weft_watch_changed(&op, &rx), &rc), WEFT_PENDING);
    weft_future_drop(&op.base);
    assert_int_equal(atomic_load(&mm.c.refs), 0);
    weft_watch_tx_drop(tx);
    assert_int_equal(mpoll(&mm, weft_watch_changed(&op, &rx), &rc), WEFT_READY);
    assert_int_equal(rc, WEFT_ECLOSED);
    weft_future_drop(&op.base);
    weft_watch_rx_drop(&rx);
    wt_free_rt(env);
}

/* ---------------------------------------------------------------- broadcast */

static void broadcast_lag_and_close(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    weft_broadcast *tx;
    weft_broadcast_rx r1, r2;
    assert_int_equal(weft_broadcast_new(sizeof(int), 2, ALLOC(env), &tx, &r1), 0);
    weft_broadcast_subscribe(tx, &r2);
    int v, got = -1;
    uint64_t missed = 0;
    v = 0;
    assert_int_equal(weft_broadcast_send(tx, &v), 0);
    assert_int_equal(weft_broadcast_try_recv(&r2, &got, &missed), 0);
    assert_int_equal(got, 0);
    for (v = 1; v <= 4; v++)
        assert_int_equal(weft_broadcast_send(tx, &v), 0);
    /* r1 is 5 behind a ring of 2: it missed 0, 1, 2. */
    assert_int_equal(weft_broadcast_try_recv(&r1, &got, &missed), WEFT_ELAGGED);
    assert_int_equal(missed, 3);
    assert_int_equal(weft_broadcast_try_recv(&r1, &got, &missed), 0);
    assert_int_equal(got, 3);
    assert_int_equal(weft_broadcast_try_recv(&r1, &got, &missed), 0);
    assert_int_equal(got, 4);
    assert_int_equal(weft_broadcast_try_recv(&r1, &got, &missed), WEFT_EAGAIN);
    /* r2 missed 1 and 2. */
    assert_int_equal(weft_broadcast_try_recv(&r2, &got, &missed), WEFT_ELAGGED);
    assert_int_equal(missed, 2);
    assert_int_equal(weft_broadcast_try_recv(&r2, &got, &missed), 0);
    assert_int_equal(got, 3);
    /* A waiting recv is woken by a send; a dropped one loses nothing. */
    manual m;
    manual_init(&m);
    weft_broadcast_recv_op op;
    int rc = 9;
    assert_int_equal(mpoll(&m, weft_broadcast_recv(&op, &r1, &got), &rc), WEFT_PENDING);
    weft_future_drop(&op.base);
    assert_int_equal(atomic_load(&m.c.refs), 0);
    assert_int_equal(mpoll(&m, weft_broadcast_recv(&op, &r1, &got), &rc), WEFT_PENDING);
    v = 5;
    assert_int_equal(weft_broadcast_send(tx, &v), 0);
    assert_int_equal(atomic_load(&m.c.wakes), 1);
    assert_int_equal(mpoll(&m, &op.base, &rc), WEFT_READY);
    assert_int_equal(rc, 0);
    assert_int_equal(got, 5);
    weft_future_drop(&op.base);
    assert_int_equal(mpoll(&m, weft_broadcast_recv(&op, &r1, &got), &rc), WEFT_PENDING);
    weft_broadcast_tx_drop(tx);
    assert_int_equal(mpoll(&m, &op.base, &rc), WEFT_READY);
    assert_int_equal(rc, WEFT_ECLOSED);
    weft_future_drop(&op.base);
    /* r2 still drains what it has, then sees the end. */
    assert_int_equal(weft_broadcast_try_recv(&r2, &got, &missed), 0);
    assert_int_equal(got, 4);
    assert_int_equal(weft_broadcast_try_recv(&r2, &got, &missed), 0);
    assert_int_equal(got, 5);
    assert_int_equal(weft_broadcast_try_recv(&r2, &got, &missed), WEFT_ECLOSED);
    weft_broadcast_rx_drop(&r1);
    weft_broadcast_rx_drop(&r2);
    wt_free_rt(env);
}

/* ------------------------------------------------------------------ barrier */

typedef struct meet {
    weft_future base;
    weft_barrier *b;
    weft_barrier_op op;
    int round, leaders;
    int is_leader;
} meet;

static weft_poll meet_poll(weft_future *f, weft_context *cx, void *out) {
    meet *s = (meet *)f;
    WEFT_BEGIN(f);
    for (s->round = 0; s->round < 3; s->round++) {
        WEFT_AWAIT(f, cx, weft_barrier_wait(&s->op, s->b), &s->is_leader);
        s->leaders += s->is_leader;
    }
    WEFT_RETURN(f, out, int, s->leaders);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(meet, meet_poll, NULL, int);

typedef struct barrier_main {
    weft_future base;
    weft_barrier b;
    weft_join_handle jh[4];
    int leaders[4], i;
} barrier_main;

static weft_poll barrier_main_poll(weft_future *f, weft_context *cx, void *out) {
    barrier_main *s = (barrier_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_barrier_init(&s->b, 4);
    for (s->i = 0; s->i < 4; s->i++)
        assert_int_equal(weft_spawn(&WEFT_NEW(meet, .b = &s->b), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < 4; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->leaders[s->i]);
    weft_barrier_destroy(&s->b);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(barrier_main, barrier_main_poll, NULL);

static void barrier_generations(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    barrier_main m = WEFT_NEW(barrier_main);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.leaders[0] + m.leaders[1] + m.leaders[2] + m.leaders[3], 3);
    /* A dropped waiter no longer counts. */
    weft_barrier b;
    weft_barrier_init(&b, 2);
    manual m1, m2;
    manual_init(&m1);
    manual_init(&m2);
    weft_barrier_op o1, o2;
    int leader = -1;
    assert_int_equal(mpoll(&m1, weft_barrier_wait(&o1, &b), &leader), WEFT_PENDING);
    weft_future_drop(&o1.base);
    assert_int_equal(mpoll(&m2, weft_barrier_wait(&o2, &b), &leader), WEFT_PENDING);
    assert_int_equal(mpoll(&m1, weft_barrier_wait(&o1, &b), &leader), WEFT_READY);
    assert_int_equal(leader, 1);
    assert_int_equal(atomic_load(&m2.c.wakes), 1);
    assert_int_equal(mpoll(&m2, &o2.base, &leader), WEFT_READY);
    assert_int_equal(leader, 0);
    weft_future_drop(&o1.base);
    weft_future_drop(&o2.base);
    weft_barrier_destroy(&b);
}

/* ----------------------------------------------------------------- join_set */

typedef struct napper {
    weft_future base;
    int ms;
    int *dropped;
    weft_sleep nap;
} napper;

static weft_poll napper_poll(weft_future *f, weft_context *cx, void *out) {
    napper *s = (napper *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(s->ms)), NULL);
    WEFT_RETURN(f, out, int, s->ms);
    WEFT_END(f);
}
static void napper_drop(weft_future *f) {
    napper *s = (napper *)f;
    if (s->dropped)
        __atomic_fetch_add(s->dropped, 1, __ATOMIC_RELAXED);
}
WEFT_FUTURE_DEFINE(napper, napper_poll, napper_drop, int);

typedef struct set_main {
    weft_future base;
    wt_env *env;
    weft_join_set set;
    weft_join_next_op op;
    int got[8], n, rc, v, dropped, i;
} set_main;

static weft_poll set_main_poll(weft_future *f, weft_context *cx, void *out) {
    set_main *s = (set_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_join_set_init(&s->set, NULL, ALLOC(s->env));
    static const int ms[5] = {30, 10, 50, 20, 40};
    for (s->i = 0; s->i < 5; s->i++)
        assert_int_equal(weft_join_set_spawn(&s->set, &WEFT_NEW(napper, .ms = ms[s->i], .dropped = &s->dropped), NULL), 0);
    assert_int_equal(weft_join_set_len(&s->set), 5);
    for (s->i = 0; s->i < 3; s->i++) {
        WEFT_AWAIT(f, cx, weft_join_next(&s->op, &s->set, &s->v), &s->rc);
        assert_int_equal(s->rc, 0);
        assert_int_equal(s->op.status, 0);
        s->got[s->n++] = s->v;
    }
    /* Abort the rest: they join as cancelled, then the set is empty. */
    weft_join_set_abort_all(&s->set);
    for (s->i = 0; s->i < 2; s->i++) {
        WEFT_AWAIT(f, cx, weft_join_next(&s->op, &s->set, &s->v), &s->rc);
        assert_int_equal(s->rc, 0);
        assert_int_equal(s->op.status, WEFT_ECANCELED);
    }
    WEFT_AWAIT(f, cx, weft_join_next(&s->op, &s->set, &s->v), &s->rc);
    assert_int_equal(s->rc, WEFT_ECLOSED);
    /* Destroying a set aborts what is left. */
    for (s->i = 0; s->i < 3; s->i++)
        assert_int_equal(weft_join_set_spawn(&s->set, &WEFT_NEW(napper, .ms = 1000, .dropped = &s->dropped), NULL), 0);
    weft_join_set_destroy(&s->set);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(set_main, set_main_poll, NULL);

static void join_set_order_abort_drop(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    set_main m = WEFT_NEW(set_main, .env = env);
    wt_block_on(env, &m.base, NULL);
    assert_int_equal(m.got[0], 10);
    assert_int_equal(m.got[1], 20);
    assert_int_equal(m.got[2], 30);
    /* The aborted tasks are dropped by the workers (or at shutdown, which
     * joins them): either way, once the runtime is gone, each exactly once. */
    wt_free_rt(env);
    assert_int_equal(__atomic_load_n(&m.dropped, __ATOMIC_RELAXED), 8);
}

/* -------------------------------------------------------------- combinators */

typedef struct comb_main {
    weft_future base;
    wt_env *env;
    napper n[3];
    weft_future *futs[3];
    void *outs[3];
    int res[3], dropped;
    weft_join_all all;
    weft_select sel;
    size_t won;
    weft_timeout to;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    weft_mpsc_recv_op rop;
    weft_sleep sl;
    int v, rc;
} comb_main;

static void comb_setup(comb_main *s, int a, int b, int c) {
    int ms[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        s->n[i] = WEFT_NEW(napper, .ms = ms[i], .dropped = &s->dropped);
        s->futs[i] = &s->n[i].base;
        s->outs[i] = &s->res[i];
        s->res[i] = 0;
    }
}

static weft_poll comb_main_poll(weft_future *f, weft_context *cx, void *out) {
    comb_main *s = (comb_main *)f;
    (void)out;
    WEFT_BEGIN(f);
    comb_setup(s, 30, 10, 20);
    WEFT_AWAIT(f, cx, weft_join_all(&s->all, s->futs, s->outs, 3), NULL);
    assert_int_equal(weft_now(), WEFT_MS(30));
    assert_int_equal(s->res[0] + s->res[1] * 100 + s->res[2] * 10000, 30 + 1000 + 200000);
    assert_int_equal(s->dropped, 3);
    /* select: the first ready wins, the others are dropped at once. */
    comb_setup(s, 30, 10, 20);
    WEFT_AWAIT(f, cx, weft_select(&s->sel, s->futs, s->outs, 3), &s->won);
    assert_int_equal(s->won, 1);
    assert_int_equal(s->res[1], 10);
    assert_int_equal(s->res[0], 0);
    assert_int_equal(s->dropped, 6);
    assert_int_equal(weft_now(), WEFT_MS(40));
    /* select of a recv and a sleep, under a timeout: the loser recv loses
     * no message. */
    assert_int_equal(weft_mpsc_unbounded(sizeof(int), ALLOC(s->env), &s->tx, &s->rx), 0);
    s->futs[0] = weft_mpsc_recv(&s->rop, s->rx, &s->v);
    s->futs[1] = weft_sleep(&s->sl, WEFT_MS(5));
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(100), weft_select(&s->sel, s->futs, NULL, 2)), &s->won);
    assert_int_equal(weft_timeout_status(&s->to), 0);
    assert_int_equal(s->won, 1);
    s->v = 77;
    assert_int_equal(weft_mpsc_try_send(s->tx, &s->v), 0);
    s->v = 0;
    WEFT_AWAIT(f, cx, weft_mpsc_recv(&s->rop, s->rx, &s->v), &s->rc);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->v, 77);
    /* timeout around a join_all that is too slow drops all of it. */
    comb_setup(s, 10, 500, 20);
    WEFT_AWAIT(f, cx, weft_timeout(&s->to, WEFT_MS(100), weft_join_all(&s->all, s->futs, s->outs, 3)), NULL);
    assert_int_equal(weft_timeout_status(&s->to), WEFT_ETIMEDOUT);
    assert_int_equal(s->dropped, 9);
    assert_int_equal(s->res[0], 10);
    assert_int_equal(s->res[1], 0);
    weft_mpsc_tx_drop(s->tx);
    weft_mpsc_rx_drop(s->rx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(comb_main, comb_main_poll, NULL);

static void combinators_join_all_select_timeout(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    env->builder.start_paused = true;
    comb_main m = WEFT_NEW(comb_main, .env = env);
    wt_block_on(env, &m.base, NULL);
}

/* select's start position comes from weft_random_below: with two ready
 * branches, both win sometimes. */
static void select_start_is_random(void **state) {
    wt_env *env = WT_ENV(state);
    SKIP_IF_NONE(env);
    int wins[2] = {0, 0};
    manual m;
    manual_init(&m);
    for (int i = 0; i < 200; i++) {
        weft_notify a, b;
        weft_notify_init(&a);
        weft_notify_init(&b);
        weft_notify_one(&a);
        weft_notify_one(&b);
        weft_notified_op oa, ob;
        weft_future *futs[2] = {weft_notified(&oa, &a), weft_notified(&ob, &b)};
        weft_select s;
        size_t won = 9;
        assert_int_equal(mpoll(&m, weft_select(&s, futs, NULL, 2), &won), WEFT_READY);
        weft_future_drop(&s.base);
        wins[won]++;
        weft_notify_destroy(&a);
        weft_notify_destroy(&b);
    }
    assert_true(wins[0] > 20 && wins[1] > 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WT_FLAVORS(oneshot_send_and_close),
        WT_FLAVORS(oneshot_receiver_gone),
        WT_FLAVORS(oneshot_ready_recv_releases_channel),
        WT_FLAVORS(mpsc_bounded_many_senders),
        WT_FLAVORS(mpsc_unbounded_many_senders),
        WT_FLAVORS(mpsc_try_and_backpressure),
        WT_FLAVORS(mpsc_send_cancel_and_close),
        WT_FLAVORS(mpsc_unbounded_sizes),
        WT_FLAVORS(mpsc_recv_timeout),
        WT_FLAVORS(semaphore_fifo_and_cancel),
        WT_FLAVORS(mutex_fifo),
        WT_FLAVORS(mutex_handoff_by_hand),
        WT_FLAVORS(mutex_contention_exact),
        WT_FLAVORS(mutex_lock_timeout),
        WT_FLAVORS(rwlock_fair),
        WT_FLAVORS(notify_semantics),
        WT_FLAVORS(notify_enable_registers),
        WT_FLAVORS(notify_enable_then_drop_is_no_diagnostic),
        WT_FLAVORS(notify_ping_pong),
        WT_FLAVORS(watch_latest_and_close),
        WT_FLAVORS(broadcast_lag_and_close),
        WT_FLAVORS(barrier_generations),
        WT_FLAVORS(join_set_order_abort_drop),
        WT_FLAVORS(combinators_join_all_select_timeout),
        WT_FLAVORS(select_start_is_random),
    };
    return WT_RUN("sync", tests);
}
