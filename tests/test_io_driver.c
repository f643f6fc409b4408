/* weft tests — the driver contract (include/weft/backend.h), checked on
 * each readiness driver built in, directly, without a runtime: what
 * `wait` reports for a socket, that it never returns before its deadline,
 * that `wake` reaches a thread in `wait` (and a wait that has not begun
 * yet), and that a bad registration is an error.  Some cases are there
 * because an emulation (libkqueue) got them wrong: see io_backends/kqueue.c.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "net_impl.h"

#define WATCHDOG_SECS 20

static void *raw_alloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size);
}
static void raw_free(void *ctx, void *p, size_t size) {
    (void)ctx;
    (void)size;
    free(p);
}
static const weft_allocator raw = {raw_alloc, raw_free, NULL};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One driver and one registered stream socket `a`, with `b` its peer. */
typedef struct fixture {
    const weft_io_driver_ops *ops;
    void *drv;
    int a, b;
    weft_io_source src;
} fixture;

static const weft_io_driver_ops *ops_at(size_t i) { return weft__io_drivers[i]; }

static void open_driver(fixture *f, const weft_io_driver_ops *ops) {
    memset(f, 0, sizeof *f);
    f->ops = ops;
    f->a = f->b = -1;
    assert_int_equal(ops->create(&raw, &f->drv), 0);
}

static void open_pair(fixture *f) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    f->a = sv[0];
    f->b = sv[1];
    weft__spin_init(&f->src.lock);
    atomic_init(&f->src.readiness, 0);
    assert_int_equal(f->ops->register_source(f->drv, &f->src, f->a), 0);
}

static void close_all(fixture *f) {
    if (f->a >= 0) {
        assert_int_equal(f->ops->deregister(f->drv, &f->src, f->a), 0);
        close(f->a);
    }
    if (f->b >= 0)
        close(f->b);
    f->ops->destroy(f->drv);
}

static uint32_t bits(fixture *f) {
    return (uint32_t)(atomic_load(&f->src.readiness) & WEFT__READY_MASK);
}

static void clear(fixture *f) { atomic_store(&f->src.readiness, 0); }

/* Waits (bounded) until `want` shows in the readiness word. */
static uint32_t wait_for(fixture *f, uint32_t want) {
    for (int i = 0; i < 50 && (bits(f) & want) != want; i++)
        f->ops->wait(f->drv, now_ns() + 20000000u);
    return bits(f);
}

typedef void (*driver_case)(const weft_io_driver_ops *ops);

static void each_driver(driver_case c) {
    size_t n = 0;
    for (size_t i = 0; ops_at(i); i++) {
        if (ops_at(i)->model != WEFT_IO_MODEL_READINESS)
            continue;
        fprintf(stderr, "  on %s\n", ops_at(i)->name);
        alarm(WATCHDOG_SECS);
        c(ops_at(i));
        alarm(0);
        n++;
    }
    assert_true(n > 0);
}

/* ------------------------------------------------------------- readiness */

static void data_then_eof_case(const weft_io_driver_ops *ops) {
    fixture f;
    open_driver(&f, ops);
    open_pair(&f);
    assert_true(wait_for(&f, WEFT_IO_WRITABLE) & WEFT_IO_WRITABLE);
    clear(&f);
    assert_int_equal(write(f.b, "hi", 2), 2);
    uint32_t r = wait_for(&f, WEFT_IO_READABLE);
    assert_true(r & WEFT_IO_READABLE);
    assert_false(r & WEFT_IO_READ_CLOSED);
    /* Data and the end together, before any wait: one edge must say both
     * (libkqueue lost the end when the write filter was added second). */
    clear(&f);
    assert_int_equal(write(f.b, "yo", 2), 2);
    assert_int_equal(shutdown(f.b, SHUT_WR), 0);
    r = wait_for(&f, WEFT_IO_READ_CLOSED);
    assert_true(r & WEFT_IO_READ_CLOSED);
    assert_true(r & WEFT_IO_READABLE);
    close_all(&f);
}
static void data_then_eof(void **state) {
    (void)state;
    each_driver(data_then_eof_case);
}

/* Data that raised an edge but was read before the wait collected it is
 * no end of stream.  (libkqueue can say EV_EOF for it, but only when the
 * read lands between its epoll_wait and its copy-out, which this test
 * cannot time: it checks the contract, not that workaround.) */
static void drained_is_not_eof_case(const weft_io_driver_ops *ops) {
    fixture f;
    open_driver(&f, ops);
    open_pair(&f);
    wait_for(&f, WEFT_IO_WRITABLE);
    for (int round = 0; round < 3; round++) {
        clear(&f);
        assert_int_equal(write(f.b, "abc", 3), 3);
        char buf[8];
        assert_int_equal(read(f.a, buf, sizeof buf), 3);
        for (int i = 0; i < 3; i++)
            f.ops->wait(f.drv, 0);
        assert_false(bits(&f) & WEFT_IO_READ_CLOSED);
    }
    close_all(&f);
}
static void drained_is_not_eof(void **state) {
    (void)state;
    each_driver(drained_is_not_eof_case);
}

static void bad_registration_case(const weft_io_driver_ops *ops) {
    fixture f;
    open_driver(&f, ops);
    int fd = dup(0);
    assert_true(fd >= 0);
    close(fd); /* a descriptor number known closed */
    weft__spin_init(&f.src.lock);
    assert_int_equal(ops->register_source(f.drv, &f.src, fd), WEFT_EINVAL); /* EBADF */
    ops->destroy(f.drv);
}
static void bad_registration(void **state) {
    (void)state;
    each_driver(bad_registration_case);
}

/* ---------------------------------------------------------- time, wakes */

static void never_early_case(const weft_io_driver_ops *ops) {
    fixture f;
    open_driver(&f, ops);
    /* Deadlines off the millisecond, so a driver that rounds down would
     * return early. */
    for (uint64_t extra = 1; extra < 4000000u; extra += 1333333u) {
        uint64_t deadline = now_ns() + 2000000u + extra;
        int r;
        do
            r = ops->wait(f.drv, deadline);
        while (r > 0); /* nothing is registered: only a spurious return */
        assert_true(now_ns() >= deadline);
    }
    ops->destroy(f.drv);
}
static void never_early(void **state) {
    (void)state;
    each_driver(never_early_case);
}

typedef struct waiter {
    fixture *f;
    _Atomic int state; /* 0 not begun, 1 about to wait, 2 returned */
} waiter;

static void *wait_forever(void *arg) {
    waiter *w = arg;
    atomic_store(&w->state, 1);
    w->f->ops->wait(w->f->drv, UINT64_MAX);
    atomic_store(&w->state, 2);
    return NULL;
}

static void wake_reaches_a_waiter_case(const weft_io_driver_ops *ops) {
    fixture f;
    open_driver(&f, ops);
    /* A wake before the wait: the next wait returns (the watchdog ends a
     * driver that forgets it). */
    ops->wake(f.drv);
    ops->wait(f.drv, UINT64_MAX);
    /* A wake from another thread while one waits. */
    waiter w = {.f = &f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_forever, &w), 0);
    while (atomic_load(&w.state) == 0)
        sched_yield();
    struct timespec pause = {0, 20000000}; /* let it block; any order is correct */
    nanosleep(&pause, NULL);
    ops->wake(f.drv);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&w.state), 2);
    ops->destroy(f.drv);
}
static void wake_reaches_a_waiter(void **state) {
    (void)state;
    each_driver(wake_reaches_a_waiter_case);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_then_eof),
        cmocka_unit_test(drained_is_not_eof),
        cmocka_unit_test(bad_registration),
        cmocka_unit_test(never_early),
        cmocka_unit_test(wake_reaches_a_waiter),
    };
    return WT_RUN("io_driver", tests);
}
