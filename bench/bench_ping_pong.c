/* weft-bench — ping_pong (tokio's rt_multi_threaded.rs; op = one ping):
 * a task spawns 1000 pingers; each pinger makes two oneshots, spawns a
 * ponger that awaits the first and sends on the second, sends on the first,
 * awaits the second, and counts down the completion signal.
 *
 * The oneshot is bench-local (weft's channels live in the sync primitives):
 * one atomic word, as Tokio's.  The receiver stores its waker before
 * publishing WAKER; the sender sets SENT and, if WAKER was published, wakes
 * that waker.  Both channels live in the pinger's state, which outlives
 * every use (see oneshot_send).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define NUM_PINGS 1000

enum { SENT = 1, WAKER = 2 };

typedef struct oneshot {
    _Atomic unsigned state;
    weft_waker waker; /* owned by the receiver until the sender sees WAKER */
} oneshot;

/* Once WAKER is published the receiving task is parked on this waker and
 * nothing else wakes it, so `o` stays alive until the wake below. */
static void oneshot_send(oneshot *o) {
    unsigned prev = atomic_fetch_or_explicit(&o->state, SENT, memory_order_acq_rel);
    if (prev & WAKER)
        weft_waker_wake(&o->waker);
}

typedef struct oneshot_recv {
    weft_future base;
    oneshot *o;
} oneshot_recv;
static weft_poll oneshot_recv_poll(weft_future *f, weft_context *cx, void *out) {
    oneshot *o = ((oneshot_recv *)f)->o;
    (void)out;
    unsigned s = atomic_load_explicit(&o->state, memory_order_acquire);
    if (s & SENT)
        return WEFT_READY;
    if (s & WAKER)
        return WEFT_PENDING; /* woken only by the send */
    o->waker = weft_waker_clone(weft_cx_waker(cx));
    if (atomic_fetch_or_explicit(&o->state, WAKER, memory_order_acq_rel) & SENT) {
        weft_waker_drop(&o->waker); /* the sender went first and saw no waker */
        return WEFT_READY;
    }
    return WEFT_PENDING;
}
WEFT_FUTURE_DEFINE_VOID(oneshot_recv, oneshot_recv_poll, NULL);

typedef struct ponger {
    weft_future base;
    oneshot *rx1, *tx2;
    oneshot_recv r;
} ponger;
static weft_poll ponger_poll(weft_future *f, weft_context *cx, void *out) {
    ponger *s = (ponger *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->r = WEFT_NEW(oneshot_recv, .o = s->rx1);
    WEFT_AWAIT(f, cx, &s->r, NULL);
    oneshot_send(s->tx2);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(ponger, ponger_poll, NULL);

typedef struct pinger {
    weft_future base;
    done_signal *done;
    oneshot c1, c2;
    oneshot_recv r;
} pinger;
static weft_poll pinger_poll(weft_future *f, weft_context *cx, void *out) {
    pinger *s = (pinger *)f;
    (void)out;
    WEFT_BEGIN(f);
    atomic_init(&s->c1.state, 0);
    atomic_init(&s->c2.state, 0);
    weft_spawn(&WEFT_NEW(ponger, .rx1 = &s->c1, .tx2 = &s->c2), NULL);
    oneshot_send(&s->c1);
    s->r = WEFT_NEW(oneshot_recv, .o = &s->c2);
    WEFT_AWAIT(f, cx, &s->r, NULL);
    done_count_down(s->done);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(pinger, pinger_poll, NULL);

typedef struct ping_spawner {
    weft_future base;
    done_signal *done;
} ping_spawner;
static weft_poll ping_spawner_poll(weft_future *f, weft_context *cx, void *out) {
    ping_spawner *s = (ping_spawner *)f;
    (void)cx;
    (void)out;
    for (int i = 0; i < NUM_PINGS; i++)
        weft_spawn(&WEFT_NEW(pinger, .done = s->done), NULL);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(ping_spawner, ping_spawner_poll, NULL);

typedef struct ping_root {
    weft_future base;
    done_signal *done;
    done_wait wait;
} ping_root;
static weft_poll ping_root_poll(weft_future *f, weft_context *cx, void *out) {
    ping_root *s = (ping_root *)f;
    WEFT_BEGIN(f);
    atomic_store(&s->done->remaining, NUM_PINGS);
    weft_spawn(&WEFT_NEW(ping_spawner, .done = s->done), NULL);
    s->wait = DONE_WAIT(s->done);
    WEFT_AWAIT(f, cx, &s->wait, out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(ping_root, ping_root_poll, NULL);

static void setup(bench_ctx *b) {
    done_signal *d = malloc(sizeof *d);
    done_init(d);
    b->scratch = d;
}

static void teardown(bench_ctx *b) {
    done_destroy(b->scratch);
    free(b->scratch);
}

static void ping_pong(bench_ctx *b) {
    ping_root root = WEFT_NEW(ping_root, .done = b->scratch);
    if (weft_runtime_block_on(b->rt, &root.base, NULL)) {
        fprintf(stderr, "weft-bench: ping_pong: block_on failed\n");
        exit(1);
    }
}

static const bench_def d_ping_pong = {"ping_pong", NUM_PINGS, NULL, setup, ping_pong, teardown};

const bench_def *const bench_ping_pong_list[] = {&d_ping_pong, NULL};
