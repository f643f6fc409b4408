/* weft tests — threaded stress of the sync primitives (run it under TSan).
 *
 * Until the multi_thread flavor lands, threads come from two places: plain
 * pthreads using the thread-safe non-async calls (try_send, notify_one,
 * try_lock), and several current_thread runtimes, one per pthread, whose
 * tasks await the same primitive, so every wake crosses threads.  Every
 * count is checked exactly: no lost message, no lost wakeup, no leaked
 * permit. */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "harness.h"
#include "weft/sync.h"

#define THREADS 4

typedef void *(*thread_fn)(void *);

static void run_threads(int n, thread_fn fn, void **args) {
    pthread_t t[16];
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn, args[i]), 0);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* Runs `f` to completion on a fresh current_thread runtime of this thread. */
static void run_on_own_runtime(weft_future *f) {
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD);
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    assert_int_equal(weft_runtime_block_on(rt, f, NULL), 0);
    weft_runtime_free(rt);
}

/* ------------------------------------------- mpsc: threads -> awaiting task */

#define PER_THREAD 50000

typedef struct producer_arg {
    weft_mpsc_tx *tx;
    uint64_t id;
} producer_arg;

static void *producer(void *p) {
    producer_arg *a = p;
    for (uint64_t i = 0; i < PER_THREAD; i++) {
        uint64_t v = a->id << 32 | i;
        int rc;
        while ((rc = weft_mpsc_try_send(a->tx, &v)) == WEFT_EFULL)
            sched_yield();
        assert_int_equal(rc, 0);
    }
    weft_mpsc_tx_drop(a->tx);
    return NULL;
}

typedef struct consumer {
    weft_future base;
    weft_mpsc_rx *rx;
    weft_mpsc_recv_op op;
    uint64_t v, n, next[THREADS];
    int rc;
} consumer;

static weft_poll consumer_poll(weft_future *f, weft_context *cx, void *out) {
    consumer *s = (consumer *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_mpsc_recv(&s->op, s->rx, &s->v), &s->rc);
        if (s->rc == WEFT_ECLOSED)
            break;
        uint64_t id = s->v >> 32, seq = s->v & 0xffffffffu;
        assert_true(id < THREADS);
        assert_int_equal(seq, s->next[id]); /* per sender, in order */
        s->next[id]++;
        s->n++;
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(consumer, consumer_poll, NULL);

typedef struct consumer_thread_arg {
    weft_mpsc_rx *rx;
    uint64_t n;
} consumer_thread_arg;

static void *consumer_thread(void *p) {
    consumer_thread_arg *a = p;
    consumer c = WEFT_NEW(consumer, .rx = a->rx);
    run_on_own_runtime(&c.base);
    a->n = c.n;
    return NULL;
}

static void mpsc_threads(size_t cap) {
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    if (cap)
        assert_int_equal(weft_mpsc_bounded(sizeof(uint64_t), cap, NULL, &tx, &rx), 0);
    else
        assert_int_equal(weft_mpsc_unbounded(sizeof(uint64_t), NULL, &tx, &rx), 0);
    producer_arg pa[THREADS];
    consumer_thread_arg ca = {rx, 0};
    void *args[THREADS + 1];
    for (int i = 0; i < THREADS; i++) {
        pa[i] = (producer_arg){i ? weft_mpsc_tx_clone(tx) : tx, (uint64_t)i};
        args[i] = &pa[i];
    }
    args[THREADS] = &ca;
    pthread_t ct;
    assert_int_equal(pthread_create(&ct, NULL, consumer_thread, &ca), 0);
    run_threads(THREADS, producer, args);
    pthread_join(ct, NULL);
    assert_int_equal(ca.n, (uint64_t)THREADS * PER_THREAD);
    weft_mpsc_rx_drop(rx);
}

static void stress_mpsc_bounded_threads(void **state) {
    (void)state;
    mpsc_threads(64);
    mpsc_threads(1);
}

static void stress_mpsc_unbounded_threads(void **state) {
    (void)state;
    mpsc_threads(0);
}

/* ---------------------- mpsc: async senders on several runtimes, backpressure */

typedef struct async_sender {
    weft_future base;
    weft_mpsc_tx *tx;
    uint64_t id, i, v;
    weft_mpsc_send_op op;
    int rc;
} async_sender;

static weft_poll async_sender_poll(weft_future *f, weft_context *cx, void *out) {
    async_sender *s = (async_sender *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < PER_THREAD; s->i++) {
        s->v = s->id << 32 | s->i;
        WEFT_AWAIT(f, cx, weft_mpsc_send(&s->op, s->tx, &s->v), &s->rc);
        assert_int_equal(s->rc, 0);
    }
    weft_mpsc_tx_drop(s->tx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(async_sender, async_sender_poll, NULL);

static void *async_sender_thread(void *p) {
    producer_arg *a = p;
    async_sender s = WEFT_NEW(async_sender, .tx = a->tx, .id = a->id);
    run_on_own_runtime(&s.base);
    return NULL;
}

static void stress_mpsc_async_runtimes(void **state) {
    (void)state;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    assert_int_equal(weft_mpsc_bounded(sizeof(uint64_t), 8, NULL, &tx, &rx), 0);
    producer_arg pa[THREADS];
    void *args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        pa[i] = (producer_arg){i ? weft_mpsc_tx_clone(tx) : tx, (uint64_t)i};
        args[i] = &pa[i];
    }
    consumer_thread_arg ca = {rx, 0};
    pthread_t ct;
    assert_int_equal(pthread_create(&ct, NULL, consumer_thread, &ca), 0);
    run_threads(THREADS, async_sender_thread, args);
    pthread_join(ct, NULL);
    assert_int_equal(ca.n, (uint64_t)THREADS * PER_THREAD);
    weft_mpsc_rx_drop(rx);
}

/* ------------------------------------------------------ mutex contention */

#define LOCKS_PER_TASK 20000

typedef struct shared_counter {
    weft_mutex mu;
    uint64_t value; /* guarded by mu: TSan checks that it really is */
    _Atomic int holders;
} shared_counter;

typedef struct lock_loop {
    weft_future base;
    shared_counter *sc;
    int i;
    weft_lock_op op;
    weft_yield_now y;
} lock_loop;

static void critical(shared_counter *sc) {
    assert_int_equal(atomic_fetch_add(&sc->holders, 1), 0);
    sc->value++;
    atomic_fetch_sub(&sc->holders, 1);
}

static weft_poll lock_loop_poll(weft_future *f, weft_context *cx, void *out) {
    lock_loop *s = (lock_loop *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < LOCKS_PER_TASK; s->i++) {
        WEFT_AWAIT(f, cx, weft_mutex_lock(&s->op, &s->sc->mu), NULL);
        critical(s->sc);
        if (s->i % 64 == 0)
            WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL); /* held over a yield */
        weft_mutex_unlock(&s->sc->mu);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(lock_loop, lock_loop_poll, NULL);

/* Two tasks per runtime, so the lock is contended within and across. */
typedef struct two_lockers {
    weft_future base;
    shared_counter *sc;
    weft_join_handle jh;
    lock_loop mine;
} two_lockers;

static weft_poll two_lockers_poll(weft_future *f, weft_context *cx, void *out) {
    two_lockers *s = (two_lockers *)f;
    (void)out;
    WEFT_BEGIN(f);
    assert_int_equal(weft_spawn(&WEFT_NEW(lock_loop, .sc = s->sc), &s->jh), 0);
    s->mine = WEFT_NEW(lock_loop, .sc = s->sc);
    WEFT_AWAIT(f, cx, &s->mine.base, NULL);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(two_lockers, two_lockers_poll, NULL);

static void *lockers_thread(void *p) {
    two_lockers t = WEFT_NEW(two_lockers, .sc = p);
    run_on_own_runtime(&t.base);
    return NULL;
}

static void *try_locker_thread(void *p) {
    shared_counter *sc = p;
    for (int i = 0; i < LOCKS_PER_TASK; i++) {
        while (weft_mutex_try_lock(&sc->mu) != 0)
            sched_yield();
        critical(sc);
        weft_mutex_unlock(&sc->mu);
    }
    return NULL;
}

static void stress_mutex_contention(void **state) {
    (void)state;
    shared_counter sc;
    weft_mutex_init(&sc.mu);
    sc.value = 0;
    atomic_init(&sc.holders, 0);
    void *args[THREADS] = {&sc, &sc, &sc, &sc};
    pthread_t pt;
    assert_int_equal(pthread_create(&pt, NULL, try_locker_thread, &sc), 0);
    run_threads(3, lockers_thread, args);
    pthread_join(pt, NULL);
    assert_int_equal(sc.value, (uint64_t)(3 * 2 + 1) * LOCKS_PER_TASK);
    weft_mutex_destroy(&sc.mu);
}

/* ------------------------------------------------- semaphore: no leaked permit */

#define PERMITS 3

typedef struct sem_shared {
    weft_semaphore sem;
    _Atomic int in_use;
    _Atomic int max_seen;
} sem_shared;

typedef struct sem_loop {
    weft_future base;
    sem_shared *sh;
    int i, n, rc;
    weft_acquire_op op;
    weft_yield_now y;
} sem_loop;

static void use_permits(sem_shared *sh, int n) {
    int now = atomic_fetch_add(&sh->in_use, n) + n;
    assert_true(now <= PERMITS);
    atomic_fetch_sub(&sh->in_use, n);
}

static weft_poll sem_loop_poll(weft_future *f, weft_context *cx, void *out) {
    sem_loop *s = (sem_loop *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < LOCKS_PER_TASK; s->i++) {
        s->n = 1 + s->i % PERMITS;
        WEFT_AWAIT(f, cx, weft_semaphore_acquire(&s->op, &s->sh->sem, (size_t)s->n), &s->rc);
        assert_int_equal(s->rc, 0);
        use_permits(s->sh, s->n);
        if (s->i % 32 == 0)
            WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
        weft_semaphore_release(&s->sh->sem, (size_t)s->n);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(sem_loop, sem_loop_poll, NULL);

static void *sem_thread(void *p) {
    sem_loop l = WEFT_NEW(sem_loop, .sh = p);
    run_on_own_runtime(&l.base);
    return NULL;
}

static void stress_semaphore(void **state) {
    (void)state;
    sem_shared sh;
    weft_semaphore_init(&sh.sem, PERMITS);
    atomic_init(&sh.in_use, 0);
    atomic_init(&sh.max_seen, 0);
    void *args[THREADS] = {&sh, &sh, &sh, &sh};
    run_threads(THREADS, sem_thread, args);
    assert_int_equal(weft_semaphore_available(&sh.sem), PERMITS);
    weft_semaphore_destroy(&sh.sem);
}

/* ------------------------------------------------------------ notify storm */

#define NOTIFIES 100000

typedef struct storm {
    weft_notify notify;
    _Atomic uint64_t posted;
} storm;

typedef struct storm_waiter {
    weft_future base;
    storm *st;
    uint64_t target;
    uint64_t wakeups;
    weft_notified_op op;
} storm_waiter;

/* Posts are counted before each notify_one, so once woken the waiter sees
 * every post that caused a wake: if a wakeup were lost it would hang. */
static weft_poll storm_waiter_poll(weft_future *f, weft_context *cx, void *out) {
    storm_waiter *s = (storm_waiter *)f;
    (void)out;
    WEFT_BEGIN(f);
    while (atomic_load(&s->st->posted) < s->target) {
        WEFT_AWAIT(f, cx, weft_notified(&s->op, &s->st->notify), NULL);
        s->wakeups++;
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(storm_waiter, storm_waiter_poll, NULL);

static void *storm_notifier(void *p) {
    storm *st = p;
    for (int i = 0; i < NOTIFIES; i++) {
        atomic_fetch_add(&st->posted, 1);
        weft_notify_one(&st->notify);
        if (i % 1024 == 0)
            weft_notify_waiters(&st->notify);
    }
    return NULL;
}

static void *storm_waiter_thread(void *p) {
    storm_waiter w = WEFT_NEW(storm_waiter, .st = p, .target = (uint64_t)THREADS * NOTIFIES);
    run_on_own_runtime(&w.base);
    assert_true(w.wakeups >= 1);
    return NULL;
}

static void stress_notify_storm(void **state) {
    (void)state;
    storm st;
    weft_notify_init(&st.notify);
    atomic_init(&st.posted, 0);
    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, storm_waiter_thread, &st), 0);
    void *args[THREADS] = {&st, &st, &st, &st};
    run_threads(THREADS, storm_notifier, args);
    pthread_join(w, NULL);
    assert_int_equal(atomic_load(&st.posted), (uint64_t)THREADS * NOTIFIES);
    weft_notify_destroy(&st.notify);
}

/* ------------------------------------------------ oneshot ping-pong threads */

#define ROUNDS 5000

typedef struct os_pair {
    weft_mpsc_tx *to_server; /* carries oneshot senders */
} os_pair;

static void *os_server(void *p) {
    weft_mpsc_rx *rx = p;
    weft_oneshot_tx *reply;
    int rc;
    uint64_t n = 0;
    for (;;) {
        while ((rc = weft_mpsc_try_recv(rx, &reply)) == WEFT_EAGAIN)
            sched_yield();
        if (rc == WEFT_ECLOSED)
            break;
        n++;
        assert_int_equal(weft_oneshot_send(reply, &n), 0);
    }
    return NULL;
}

typedef struct os_client {
    weft_future base;
    weft_mpsc_tx *tx;
    weft_oneshot_tx *otx;
    weft_oneshot_rx *orx;
    weft_oneshot_recv_op op;
    uint64_t i, v;
    int rc;
} os_client;

static weft_poll os_client_poll(weft_future *f, weft_context *cx, void *out) {
    os_client *s = (os_client *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 1; s->i <= ROUNDS; s->i++) {
        assert_int_equal(weft_oneshot_new(sizeof(uint64_t), NULL, &s->otx, &s->orx), 0);
        assert_int_equal(weft_mpsc_try_send(s->tx, &s->otx), 0);
        WEFT_AWAIT(f, cx, weft_oneshot_recv(&s->op, s->orx, &s->v), &s->rc);
        assert_int_equal(s->rc, 0);
        assert_int_equal(s->v, s->i);
    }
    weft_mpsc_tx_drop(s->tx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(os_client, os_client_poll, NULL);

static void stress_oneshot_threads(void **state) {
    (void)state;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    assert_int_equal(weft_mpsc_unbounded(sizeof(weft_oneshot_tx *), NULL, &tx, &rx), 0);
    pthread_t srv;
    assert_int_equal(pthread_create(&srv, NULL, os_server, rx), 0);
    os_client c = WEFT_NEW(os_client, .tx = tx);
    run_on_own_runtime(&c.base);
    pthread_join(srv, NULL);
    weft_mpsc_rx_drop(rx);
}

/* ----------------------------------------------- watch + broadcast threads */

#define UPDATES 20000

typedef struct watch_reader {
    weft_future base;
    weft_watch_rx rx;
    weft_watch_changed_op op;
    uint64_t last, v;
    int rc;
} watch_reader;

static weft_poll watch_reader_poll(weft_future *f, weft_context *cx, void *out) {
    watch_reader *s = (watch_reader *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_watch_changed(&s->op, &s->rx), &s->rc);
        if (s->rc)
            break;
        weft_watch_borrow(&s->rx, &s->v);
        assert_true(s->v >= s->last); /* versions never go back */
        s->last = s->v;
    }
    weft_watch_borrow(&s->rx, &s->v);
    s->last = s->v;
    weft_watch_rx_drop(&s->rx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(watch_reader, watch_reader_poll, NULL);

static void *watch_reader_thread(void *p) {
    watch_reader *r = p;
    run_on_own_runtime(&r->base);
    return NULL;
}

static void stress_watch(void **state) {
    (void)state;
    weft_watch *tx;
    uint64_t v = 0;
    assert_int_equal(weft_watch_new(sizeof v, &v, NULL, &tx), 0);
    watch_reader r[2] = {WEFT_NEW(watch_reader), WEFT_NEW(watch_reader)};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        weft_watch_subscribe(tx, &r[i].rx);
        assert_int_equal(pthread_create(&t[i], NULL, watch_reader_thread, &r[i]), 0);
    }
    for (v = 1; v <= UPDATES; v++)
        assert_int_equal(weft_watch_send(tx, &v), 0);
    weft_watch_tx_drop(tx);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].last, UPDATES); /* the last value is never missed */
    }
}

typedef struct bc_reader {
    weft_future base;
    weft_broadcast_rx rx;
    weft_broadcast_recv_op op;
    uint64_t got, missed, v, expect;
    int rc;
} bc_reader;

static weft_poll bc_reader_poll(weft_future *f, weft_context *cx, void *out) {
    bc_reader *s = (bc_reader *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_broadcast_recv(&s->op, &s->rx, &s->v), &s->rc);
        if (s->rc == WEFT_ECLOSED)
            break;
        if (s->rc == WEFT_ELAGGED) {
            s->missed += s->op.missed;
            s->expect += s->op.missed;
            continue;
        }
        assert_int_equal(s->v, s->expect); /* in order, none skipped silently */
        s->expect++;
        s->got++;
    }
    weft_broadcast_rx_drop(&s->rx);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(bc_reader, bc_reader_poll, NULL);

static void *bc_reader_thread(void *p) {
    bc_reader *r = p;
    run_on_own_runtime(&r->base);
    return NULL;
}

static void stress_broadcast(void **state) {
    (void)state;
    weft_broadcast *tx;
    bc_reader r[2] = {WEFT_NEW(bc_reader), WEFT_NEW(bc_reader)};
    assert_int_equal(weft_broadcast_new(sizeof(uint64_t), 16, NULL, &tx, &r[0].rx), 0);
    weft_broadcast_subscribe(tx, &r[1].rx);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bc_reader_thread, &r[i]), 0);
    for (uint64_t v = 0; v < UPDATES; v++) {
        assert_int_equal(weft_broadcast_send(tx, &v), 0);
        if (v % 8 == 0)
            sched_yield();
    }
    weft_broadcast_tx_drop(tx);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].got + r[i].missed, UPDATES); /* every value accounted for */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stress_mpsc_bounded_threads),
        cmocka_unit_test(stress_mpsc_unbounded_threads),
        cmocka_unit_test(stress_mpsc_async_runtimes),
        cmocka_unit_test(stress_mutex_contention),
        cmocka_unit_test(stress_semaphore),
        cmocka_unit_test(stress_notify_storm),
        cmocka_unit_test(stress_oneshot_threads),
        cmocka_unit_test(stress_watch),
        cmocka_unit_test(stress_broadcast),
    };
    return cmocka_run_group_tests_name("sync_stress", tests, NULL, NULL);
}
