/* weft-bench — the sync workloads: ping_pong (tokio's rt_multi_threaded),
 * mpsc_{bounded,unbounded}_{1,8} and mutex_contention (definitions in
 * shared/anchors/tokio-bench/README.md). */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "weft/sync.h"

#define NUM_PINGS 1000
#define MPSC_MSGS UINT64_C(1000000)
#define MPSC_SUM (MPSC_MSGS * (MPSC_MSGS - 1) / 2)
#define MPSC_CAP 1024
#define MPSC_MANY_SENDERS 8
#define MUTEX_TASKS 8
#define MUTEX_INCS 100000


/* ------------------------------------------------------------ ping_pong */

typedef struct ponger {
    weft_future base;
    weft_oneshot_rx *rx1;
    weft_oneshot_tx *tx2;
    weft_oneshot_recv_op op;
    int rc;
} ponger;
static weft_poll ponger_poll(weft_future *f, weft_context *cx, void *out) {
    ponger *s = (ponger *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_oneshot_recv(&s->op, s->rx1, NULL), &s->rc);
    must(s->rc, "ping");
    must(weft_oneshot_send(s->tx2, NULL), "pong");
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(ponger, ponger_poll, NULL);

typedef struct pinger {
    weft_future base;
    done_signal *done;
    weft_oneshot_rx *rx2;
    weft_oneshot_recv_op op;
    int rc;
} pinger;
static weft_poll pinger_poll(weft_future *f, weft_context *cx, void *out) {
    pinger *s = (pinger *)f;
    (void)out;
    WEFT_BEGIN(f);
    {
        weft_oneshot_tx *tx1, *tx2;
        weft_oneshot_rx *rx1;
        must(weft_oneshot_new(0, NULL, &tx1, &rx1), "oneshot");
        must(weft_oneshot_new(0, NULL, &tx2, &s->rx2), "oneshot");
        must(weft_spawn(&WEFT_NEW(ponger, .rx1 = rx1, .tx2 = tx2), NULL), "spawn");
        must(weft_oneshot_send(tx1, NULL), "ping");
    }
    WEFT_AWAIT(f, cx, weft_oneshot_recv(&s->op, s->rx2, NULL), &s->rc);
    must(s->rc, "pong");
    done_count_down(s->done);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(pinger, pinger_poll, NULL);

typedef struct ping_spawner {
    weft_future base;
    done_signal *done;
} ping_spawner;
static weft_poll ping_spawner_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    ping_spawner *s = (ping_spawner *)f;
    for (int i = 0; i < NUM_PINGS; i++)
        must(weft_spawn(&WEFT_NEW(pinger, .done = s->done), NULL), "spawn");
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(ping_spawner, ping_spawner_poll, NULL);

static void ping_start(done_signal *done) {
    must(weft_spawn(&WEFT_NEW(ping_spawner, .done = done), NULL), "spawn");
}

static void ping_pong(bench_ctx *b) { bench_until_done(b, NUM_PINGS, ping_start); }

/* ----------------------------------------------------------------- mpsc */

typedef struct mpsc_receiver {
    weft_future base;
    done_signal *done;
    weft_mpsc_rx *rx;
    weft_mpsc_recv_op op;
    uint64_t i, v, sum;
    int rc;
} mpsc_receiver;
static weft_poll mpsc_receiver_poll(weft_future *f, weft_context *cx, void *out) {
    mpsc_receiver *s = (mpsc_receiver *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < MPSC_MSGS; s->i++) {
        WEFT_AWAIT(f, cx, weft_mpsc_recv(&s->op, s->rx, &s->v), &s->rc);
        must(s->rc, "recv");
        s->sum += s->v;
    }
    if (s->sum != MPSC_SUM) {
        fprintf(stderr, "weft-bench: mpsc sum %llu\n", (unsigned long long)s->sum);
        exit(1);
    }
    weft_mpsc_rx_drop(s->rx);
    done_fire(s->done);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(mpsc_receiver, mpsc_receiver_poll, NULL);

typedef struct bounded_sender {
    weft_future base;
    weft_mpsc_tx *tx;
    uint64_t v, end;
    weft_mpsc_send_op op;
    int rc;
} bounded_sender;
static weft_poll bounded_sender_poll(weft_future *f, weft_context *cx, void *out) {
    bounded_sender *s = (bounded_sender *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (; s->v < s->end; s->v++) {
        WEFT_AWAIT(f, cx, weft_mpsc_send(&s->op, s->tx, &s->v), &s->rc);
        must(s->rc, "send");
    }
    weft_mpsc_tx_drop(s->tx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(bounded_sender, bounded_sender_poll, NULL);

typedef struct unbounded_sender {
    weft_future base;
    weft_mpsc_tx *tx;
    uint64_t v, end;
} unbounded_sender;
static weft_poll unbounded_sender_poll(weft_future *f, weft_context *cx, void *out) {
    unbounded_sender *s = (unbounded_sender *)f;
    (void)cx;
    (void)out;
    for (; s->v < s->end; s->v++) /* an unbounded send never waits */
        must(weft_mpsc_try_send(s->tx, &s->v), "send");
    weft_mpsc_tx_drop(s->tx);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(unbounded_sender, unbounded_sender_poll, NULL);

typedef struct mpsc_root {
    weft_future base;
    done_signal *done;
    int senders;
    bool bounded;
    done_wait wait;
} mpsc_root;
static weft_poll mpsc_root_poll(weft_future *f, weft_context *cx, void *out) {
    mpsc_root *s = (mpsc_root *)f;
    WEFT_BEGIN(f);
    {
        weft_mpsc_tx *tx;
        weft_mpsc_rx *rx;
        if (s->bounded)
            must(weft_mpsc_bounded(sizeof(uint64_t), MPSC_CAP, NULL, &tx, &rx), "channel");
        else
            must(weft_mpsc_unbounded(sizeof(uint64_t), NULL, &tx, &rx), "channel");
        must(weft_spawn(&WEFT_NEW(mpsc_receiver, .done = s->done, .rx = rx), NULL), "spawn");
        uint64_t per = MPSC_MSGS / (uint64_t)s->senders;
        for (int k = 0; k < s->senders; k++) {
            weft_mpsc_tx *c = weft_mpsc_tx_clone(tx);
            uint64_t from = (uint64_t)k * per;
            if (s->bounded)
                must(weft_spawn(&WEFT_NEW(bounded_sender, .tx = c, .v = from, .end = from + per), NULL), "spawn");
            else
                must(weft_spawn(&WEFT_NEW(unbounded_sender, .tx = c, .v = from, .end = from + per), NULL), "spawn");
        }
        weft_mpsc_tx_drop(tx);
    }
    s->wait = DONE_WAIT(s->done);
    WEFT_AWAIT(f, cx, &s->wait, out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(mpsc_root, mpsc_root_poll, NULL);

static void run_mpsc(bench_ctx *b, int senders, bool bounded) {
    mpsc_root root = WEFT_NEW(mpsc_root, .done = b->scratch, .senders = senders, .bounded = bounded);
    must(weft_runtime_block_on(b->rt, &root.base, NULL), "block_on");
}
static void mpsc_bounded_1(bench_ctx *b) { run_mpsc(b, 1, true); }
static void mpsc_bounded_8(bench_ctx *b) { run_mpsc(b, MPSC_MANY_SENDERS, true); }
static void mpsc_unbounded_1(bench_ctx *b) { run_mpsc(b, 1, false); }
static void mpsc_unbounded_8(bench_ctx *b) { run_mpsc(b, MPSC_MANY_SENDERS, false); }

/* ------------------------------------------------------- mutex_contention */

typedef struct shared_mutex {
    weft_mutex mu;
    uint64_t value; /* guarded by mu */
} shared_mutex;

typedef struct incrementer {
    weft_future base;
    done_signal *done;
    shared_mutex *m;
    int i;
    weft_lock_op op;
} incrementer;
static weft_poll incrementer_poll(weft_future *f, weft_context *cx, void *out) {
    incrementer *s = (incrementer *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < MUTEX_INCS; s->i++) {
        WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, &s->m->mu), NULL);
        s->m->value++;
        weft_mutex_unlock(&s->m->mu);
    }
    if (atomic_fetch_sub_explicit(&s->done->remaining, 1, memory_order_acq_rel) == 1) {
        WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, &s->m->mu), NULL);
        if (s->m->value != (uint64_t)MUTEX_TASKS * MUTEX_INCS) {
            fprintf(stderr, "weft-bench: mutex count %llu\n", (unsigned long long)s->m->value);
            exit(1);
        }
        weft_mutex_unlock(&s->m->mu);
        done_fire(s->done);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(incrementer, incrementer_poll, NULL);

typedef struct mutex_root {
    weft_future base;
    done_signal *done;
    shared_mutex *m;
    done_wait wait;
} mutex_root;
static weft_poll mutex_root_poll(weft_future *f, weft_context *cx, void *out) {
    mutex_root *s = (mutex_root *)f;
    WEFT_BEGIN(f);
    atomic_store(&s->done->remaining, MUTEX_TASKS);
    for (int i = 0; i < MUTEX_TASKS; i++)
        must(weft_spawn(&WEFT_NEW(incrementer, .done = s->done, .m = s->m), NULL), "spawn");
    s->wait = DONE_WAIT(s->done);
    WEFT_AWAIT(f, cx, &s->wait, out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(mutex_root, mutex_root_poll, NULL);

static void mutex_contention(bench_ctx *b) {
    /* Created per iteration, as the anchor's Arc<Mutex>. */
    shared_mutex *m = malloc(sizeof *m);
    weft_mutex_init(&m->mu);
    m->value = 0;
    mutex_root root = WEFT_NEW(mutex_root, .done = b->scratch, .m = m);
    must(weft_runtime_block_on(b->rt, &root.base, NULL), "block_on");
    weft_mutex_destroy(&m->mu);
    free(m);
}

/* ------------------------------------------------------------------ list */

static const bench_def d_ping_pong = {"ping_pong", NUM_PINGS, NULL, setup_done, ping_pong,
                                      teardown_done};
static const bench_def d_mpsc_bounded_1 = {"mpsc_bounded_1", MPSC_MSGS, NULL, setup_done,
                                           mpsc_bounded_1, teardown_done};
static const bench_def d_mpsc_bounded_8 = {"mpsc_bounded_8", MPSC_MSGS, NULL, setup_done,
                                           mpsc_bounded_8, teardown_done};
static const bench_def d_mpsc_unbounded_1 = {"mpsc_unbounded_1", MPSC_MSGS, NULL, setup_done,
                                             mpsc_unbounded_1, teardown_done};
static const bench_def d_mpsc_unbounded_8 = {"mpsc_unbounded_8", MPSC_MSGS, NULL, setup_done,
                                             mpsc_unbounded_8, teardown_done};
static const bench_def d_mutex_contention = {"mutex_contention", MUTEX_TASKS * MUTEX_INCS, NULL,
                                             setup_done, mutex_contention, teardown_done};

const bench_def *const bench_sync_list[] = {
    &d_ping_pong,        &d_mpsc_bounded_1, &d_mpsc_bounded_8,   &d_mpsc_unbounded_1,
    &d_mpsc_unbounded_8, &d_mutex_contention, NULL,
};
