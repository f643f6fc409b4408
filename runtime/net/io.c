/* weft — the runtime's I/O driver: choosing it, waiting in it, waking it,
 * and the readiness reports it makes.
 *
 * The driver takes over parking: a scheduler with nothing to run waits in
 * weft__io_wait with its next timer's deadline, and weft__io_wake (an
 * eventfd write for epoll) brings it back.  The wait state word lets a
 * wake skip the system call unless a thread really waits: a waiter goes
 * IDLE -> WAITING before blocking and back after; a waker swaps in
 * NOTIFIED and signals the driver only if it saw WAITING, and a waiter
 * that finds NOTIFIED polls without blocking.  So a wake is never lost
 * and an idle runtime makes no system call at all.
 *
 * Completion drivers (IOCP) take the same seat: their wait reports
 * finished operations (weft_io_complete, completion.c) instead of
 * readiness, and a runtime whose records are all reported is idle.
 */
#include <string.h>

#include "net_impl.h"

static const weft_io_driver_ops *driver_named(const char *name) {
    for (size_t i = 0; weft__io_drivers[i]; i++)
        if (strcmp(weft__io_drivers[i]->name, name) == 0)
            return weft__io_drivers[i];
    return NULL;
}

/* The builder's choice, else $WEFT_IO_DRIVER, else the platform's best.
 * "none" runs without I/O (net calls then return WEFT_ENOTSUP). */
static int choose(const weft_builder *b, const weft_io_driver_ops **out) {
    const char *name = b->io_driver;
    if (!name || strcmp(name, "auto") == 0) {
        const char *env = getenv("WEFT_IO_DRIVER");
        name = env && *env ? env : "auto";
    }
    *out = NULL;
    if (strcmp(name, "none") == 0)
        return 0;
    if (strcmp(name, "auto") == 0) {
        *out = weft__io_drivers[0];
        return 0;
    }
    if (!(*out = driver_named(name))) {
        fprintf(stderr, "weft: unknown I/O driver '%s' (built in:", name);
        for (size_t i = 0; weft__io_drivers[i]; i++)
            fprintf(stderr, " %s", weft__io_drivers[i]->name);
        fprintf(stderr, ")\n");
        return WEFT_ENOTSUP;
    }
    return 0;
}

/* The driver's memory comes from the runtime's allocator and is counted
 * with the rest (the leak check sees it). */
static void *drv_alloc(void *ctx, size_t size) { return weft__alloc(ctx, size); }
static void drv_free(void *ctx, void *p, size_t size) { weft__free(ctx, p, size); }

int weft__io_create(weft__rt *rt) {
    const weft_io_driver_ops *ops;
    int err = choose(&rt->config, &ops);
    if (err || !ops)
        return err;
    return weft__io_create_with(rt, ops);
}

int weft__io_create_with(weft__rt *rt, const weft_io_driver_ops *ops) {
    int err;
    if (ops->model != WEFT_IO_MODEL_READINESS &&
        !(ops->model == WEFT_IO_MODEL_COMPLETION && ops->submit && ops->cancel))
        return WEFT_ENOTSUP;
    weft__io *io = weft__alloc(rt, sizeof *io);
    if (!io)
        return WEFT_ENOMEM;
    memset(io, 0, sizeof *io);
    io->rt = rt;
    io->ops = ops;
    atomic_flag_clear(&io->in_wait);
    io->alloc = (weft_allocator){drv_alloc, drv_free, rt};
    err = ops->create(&io->alloc, &io->drv);
    if (err) {
        weft__free(rt, io, sizeof *io);
        return err;
    }
    rt->io = io;
    return 0;
}

/* A completion driver's records still submitted (every op is dropped by
 * now, and cancelled; every socket closed) are reported soon: wait for
 * them, since the kernel may write into them until then.  Bounded: after
 * 5 s they are left (and the leak check says so) rather than freed under
 * the kernel. */
static void drain_completions(weft__io *io) {
    uint64_t until = weft__os_now_ns() + 5000000000u;
    while (atomic_load_explicit(&io->inflight, memory_order_acquire) != 0) {
        uint64_t now = weft__os_now_ns();
        if (now >= until) {
            fprintf(stderr, "weft: %s driver: %llu operations never reported, left unfreed\n",
                    io->ops->name,
                    (unsigned long long)atomic_load_explicit(&io->inflight, memory_order_relaxed));
            return;
        }
        io->ops->wait(io->drv, now + 10000000u);
    }
}

void weft__io_destroy(weft__rt *rt) {
    weft__io *io = rt->io;
    if (!io)
        return;
    weft__sock_release_pending(io);
    drain_completions(io);
    io->ops->destroy(io->drv);
    rt->io = NULL;
    weft__free(rt, io, sizeof *io);
}

bool weft__io_active(weft__rt *rt) {
    weft__io *io = rt->io;
    return atomic_load_explicit(&io->sockets, memory_order_relaxed) != 0 ||
           atomic_load_explicit(&io->release, memory_order_relaxed) != NULL ||
           atomic_load_explicit(&io->inflight, memory_order_relaxed) != 0;
}

void weft__io_shutdown(weft__rt *rt) {
    if (rt->io)
        weft__sock_release_pending(rt->io);
}

bool weft__io_wait(weft__rt *rt, uint64_t deadline_ns) {
    weft__io *io = rt->io;
    if (atomic_flag_test_and_set_explicit(&io->in_wait, memory_order_acquire))
        return false;
    /* Sources deregistered before this wait began cannot be reported by
     * it, and no earlier wait is still reporting: free them now. */
    weft__sock_release_pending(io);
    if (deadline_ns != 0) {
        uint32_t s = WEFT__IO_IDLE;
        if (!atomic_compare_exchange_strong_explicit(&io->wait_state, &s, WEFT__IO_WAITING,
                                                     memory_order_seq_cst, memory_order_seq_cst))
            deadline_ns = 0; /* a wake came first */
    }
    io->ops->wait(io->drv, deadline_ns);
    atomic_store_explicit(&io->wait_state, WEFT__IO_IDLE, memory_order_seq_cst);
    atomic_flag_clear_explicit(&io->in_wait, memory_order_release);
    return true;
}

void weft__io_wake(weft__rt *rt) {
    weft__io *io = rt->io;
    if (atomic_exchange_explicit(&io->wait_state, WEFT__IO_NOTIFIED, memory_order_seq_cst) ==
        WEFT__IO_WAITING)
        io->ops->wake(io->drv);
}

/* ------------------------------------------------------------- readiness */

uintptr_t *weft_io_source_driver_data(weft_io_source *src) { return &src->driver_data; }

/* Publishes the bits with a new tick, then wakes the side(s) they
 * concern.  An operation stores its waker before it looks at the word
 * again, so either it sees these bits or we see its waker. */
void weft_io_source_ready(weft_io_source *src, uint32_t ready) {
    uint64_t r = atomic_load_explicit(&src->readiness, memory_order_acquire); /* sock_new */
    uint64_t next;
    do {
        next = ((r & ~(uint64_t)WEFT__READY_MASK) + WEFT__TICK_ONE) | (r & WEFT__READY_MASK) |
               ready;
    } while (!atomic_compare_exchange_weak_explicit(&src->readiness, &r, next,
                                                    memory_order_acq_rel, memory_order_relaxed));
    weft_waker wake[2] = {{0}};
    weft__spin_lock(&src->lock);
    if (ready & (WEFT_IO_READABLE | WEFT_IO_READ_CLOSED | WEFT_IO_ERROR)) {
        wake[0] = src->waker[WEFT__SIDE_READ];
        src->waker[WEFT__SIDE_READ] = (weft_waker){0};
    }
    if (ready & (WEFT_IO_WRITABLE | WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR)) {
        wake[1] = src->waker[WEFT__SIDE_WRITE];
        src->waker[WEFT__SIDE_WRITE] = (weft_waker){0};
    }
    weft__spin_unlock(&src->lock);
    if (wake[0].vt)
        weft_waker_wake(&wake[0]);
    if (wake[1].vt)
        weft_waker_wake(&wake[1]);
}

void weft__sock_clear_ready(weft_socket *s, uint64_t seen, uint32_t bits) {
    /* Only the readiness we acted on, and only if no report came since. */
    uint64_t next = seen & ~(uint64_t)bits;
    atomic_compare_exchange_strong_explicit(&s->src.readiness, &seen, next, memory_order_acq_rel,
                                            memory_order_relaxed);
}

const char *weft_io_driver_name(void) {
    weft__rt *rt = weft__cur.rt;
    return rt && rt->io ? rt->io->ops->name : NULL;
}
