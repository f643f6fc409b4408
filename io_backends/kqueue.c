/* weft — the kqueue driver (FreeBSD, macOS, the other BSDs; on Linux over
 * libkqueue, which is how CI tests it).
 *
 * Each socket gets two registrations, EVFILT_READ and EVFILT_WRITE, both
 * edge-triggered (EV_CLEAR), with its weft_io_source as udata: mio's rules,
 * as in epoll.c (the runtime retries a call until it would block before it
 * waits again).  An EVFILT_USER event wakes a thread blocked in kevent
 * from another thread.  Timers stay in weft's wheel: wait gets the next
 * deadline as a timespec, whose nanoseconds need no rounding.
 *
 * EV_EOF maps to epoll's readiness: on the read filter the peer shut its
 * write half (READ_CLOSED), on the write filter no write can succeed
 * (WRITE_CLOSED); an error in fflags is WEFT_IO_ERROR on both sides.
 *
 * Where libkqueue 2.7.0 differs from a native kqueue (see "emulation"
 * below), the driver does what is right on both; only two workarounds
 * (notes 4 and 5) are emulation-only code, under WEFT_KQUEUE_LIBKQUEUE,
 * which meson sets when it builds over libkqueue.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "posix_sockets.h"

#define EVENTS_MAX 256
#define WAKE_IDENT 1 /* the EVFILT_USER event's ident */

/* A socket error the driver saw in a kevent's fflags, kept for the next
 * socket call on that descriptor (see "emulation: errors" below).  `src`
 * tells a stale report (for a source deregistered while a wait ran) from
 * one for the socket now holding the descriptor. */
typedef struct pending_error {
    weft_io_source *src;
    int err; /* errno value, 0: none */
} pending_error;

typedef struct kqueue_driver {
    weft__posix posix; /* first: the socket calls find it */
    int kq;
    weft_allocator alloc;
    pthread_mutex_t errs_lock;
    pending_error *errs; /* indexed by descriptor, grown on registration */
    size_t errs_cap;
    struct kevent events[EVENTS_MAX];
} kqueue_driver;

/* ---------------------------------------------------------- emulation
 *
 * libkqueue differs from a native kqueue in three ways that matter here:
 *
 * 1. Errors (src/linux/read.c and write.c, *_copyout): on EPOLLERR it
 *    reads the socket's error with getsockopt(SO_ERROR), which on Linux
 *    *clears* it.  A native kqueue copies so_error into fflags and leaves
 *    it pending, so the next recv/send/connect result still sees it.
 *    Under libkqueue a refused connect would then look connected and a
 *    reset stream would read as a clean end.  So the driver keeps every
 *    fflags error per descriptor, and the socket calls below return it
 *    when the call itself found none (a native kqueue's socket call
 *    reports the error first, and the kept one is just dropped).
 *
 * 2. Spurious EV_EOF on the read filter (src/linux/read.c): libkqueue
 *    sets EV_EOF on a stream socket whenever SIOCINQ says 0 bytes queued
 *    when the event is copied out, which also happens when the data that
 *    raised the edge was read between epoll_wait and the copy-out (by
 *    another thread that found the side still ready: a narrow race, seen
 *    only with the multi-thread scheduler).  A native kqueue sets EV_EOF only once the peer shut
 *    its write half.  READ_CLOSED must not be spurious (it stays set and
 *    the read side would spin), so an EV_EOF with no data and no error is
 *    checked with a MSG_PEEK recv: 0 is the end of stream, anything else
 *    is plain readability.  Natively that costs one call per end of stream.
 *
 * 3. EVFILT_USER is an eventfd inside libkqueue; with EV_CLEAR it behaves
 *    as natively (one trigger, one report, reset on report).
 *
 * 4. Lost edges when the event list fills (src/linux/platform.c,
 *    linux_kevent_copyout): libkqueue asks epoll for as many events as
 *    the list holds, and one epoll event for a socket with both filters
 *    becomes two kevents; when the list is full the rest are dropped, and
 *    with EV_CLEAR (EPOLLET) they never come back.  A native kqueue
 *    leaves what did not fit queued for the next call.  A drop can only
 *    happen when kevent returned a full list, so then the emulated driver
 *    reports every registered socket ready both ways: a spurious report
 *    costs the runtime one call that would block, a lost one a hang.
 *
 * 5. Closing a kqueue (src/linux/platform.c): libkqueue frees its epoll
 *    descriptor, pipe and eventfds later, on its monitoring thread, when
 *    a signal says the kqueue's descriptor closed.  A native close frees
 *    everything at once.  So that destroying a runtime leaves no
 *    descriptor open (the net suite counts them), kq_destroy waits for
 *    that cleanup with libkqueue's own libkqueue_drain_pending_close,
 *    exported by libkqueue.so but in no header: the one place this file
 *    knows it runs emulated (WEFT_KQUEUE_LIBKQUEUE, set by meson).
 *
 * 6. Registration order (src/linux/platform.c, epoll_update and
 *    epoll_fd_state): both filters of a descriptor share one epoll
 *    registration, and adding the second rebuilds its mask from the
 *    first's EPOLLIN/EPOLLOUT bit alone, so adding EVFILT_WRITE after
 *    EVFILT_READ drops EPOLLRDHUP.  A peer's FIN that arrives with the
 *    last data then raises no EV_EOF and no second edge: the reader
 *    waits forever.  Adding EVFILT_WRITE first keeps the read filter's
 *    EPOLLRDHUP; a native kqueue does not care about the order.
 *
 * 7. A closed descriptor (src/common/kevent.c, copyin): libkqueue's
 *    receipt says EFAULT where a native kqueue says EBADF.  A receipt for
 *    a descriptor cannot mean a bad address natively (that would fail the
 *    whole call), so kq_register reads EFAULT as EBADF.
 */
#ifdef WEFT_KQUEUE_LIBKQUEUE
void libkqueue_drain_pending_close(void);
#endif

static int kq_errno(void) { return weft_translate_errno(errno); }

/* Makes room for descriptor `fd` in the table (under errs_lock). */
static int errs_reserve(kqueue_driver *d, size_t fd) {
    if (fd < d->errs_cap)
        return 0;
    size_t cap = d->errs_cap ? d->errs_cap : 64;
    while (cap <= fd)
        cap *= 2;
    pending_error *n = d->alloc.alloc(d->alloc.ctx, cap * sizeof *n);
    if (!n)
        return WEFT_ENOMEM;
    memset(n, 0, cap * sizeof *n);
    if (d->errs) {
        memcpy(n, d->errs, d->errs_cap * sizeof *n);
        d->alloc.free(d->alloc.ctx, d->errs, d->errs_cap * sizeof *n);
    }
    d->errs = n;
    d->errs_cap = cap;
    return 0;
}

/* Binds the table's slot for `fd` to `src` (NULL: free), no error kept. */
static int errs_bind(kqueue_driver *d, weft_os_socket fd, weft_io_source *src) {
    pthread_mutex_lock(&d->errs_lock);
    int err = src ? errs_reserve(d, (size_t)fd) : 0;
    if (!err && (size_t)fd < d->errs_cap)
        d->errs[fd] = (pending_error){src, 0};
    pthread_mutex_unlock(&d->errs_lock);
    return err;
}

static void errs_keep(kqueue_driver *d, weft_os_socket fd, weft_io_source *src, int e) {
    pthread_mutex_lock(&d->errs_lock);
    if (fd >= 0 && (size_t)fd < d->errs_cap && d->errs[fd].src == src)
        d->errs[fd].err = e;
    pthread_mutex_unlock(&d->errs_lock);
}

/* The kept error of `fd` (0: none), cleared. */
static int errs_take(kqueue_driver *d, weft_os_socket fd) {
    int e = 0;
    pthread_mutex_lock(&d->errs_lock);
    if (fd >= 0 && (size_t)fd < d->errs_cap) {
        e = d->errs[fd].err;
        d->errs[fd].err = 0;
    }
    pthread_mutex_unlock(&d->errs_lock);
    return e;
}

/* --------------------------------------------------------- the driver */

/* The socket calls (emulation note 1), filled by the first kq_create. */
static weft_io_sys kq_sys;
static pthread_once_t kq_sys_once = PTHREAD_ONCE_INIT;
static void kq_sys_fill(void);

static int kq_create(const weft_allocator *a, void **out) {
    pthread_once(&kq_sys_once, kq_sys_fill);
    kqueue_driver *d = a->alloc(a->ctx, sizeof *d);
    if (!d)
        return WEFT_ENOMEM;
    memset(d, 0, sizeof *d);
    d->alloc = *a;
    d->kq = kqueue();
    int err = d->kq < 0 ? kq_errno() : 0;
    /* Native kqueues are not inherited by fork; libkqueue's descriptor
     * is, so mark it close-on-exec at least. */
    if (!err)
        (void)fcntl(d->kq, F_SETFD, FD_CLOEXEC);
    struct kevent ev;
    EV_SET(&ev, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (!err && kevent(d->kq, &ev, 1, NULL, 0, NULL) < 0)
        err = kq_errno();
    if (!err && pthread_mutex_init(&d->errs_lock, NULL))
        err = WEFT_ENOMEM;
    if (!err && (err = weft__posix_init(&d->posix)) != 0)
        pthread_mutex_destroy(&d->errs_lock);
    if (err) {
        if (d->kq >= 0)
            close(d->kq);
        a->free(a->ctx, d, sizeof *d);
        return err;
    }
    *out = d;
    return 0;
}

static void kq_destroy(void *drv) {
    kqueue_driver *d = drv;
    weft__posix_fini(&d->posix);
    close(d->kq);
#ifdef WEFT_KQUEUE_LIBKQUEUE
    libkqueue_drain_pending_close(); /* emulation note 5 */
#endif
    pthread_mutex_destroy(&d->errs_lock);
    if (d->errs)
        d->alloc.free(d->alloc.ctx, d->errs, d->errs_cap * sizeof *d->errs);
    d->alloc.free(d->alloc.ctx, d, sizeof *d);
}

/* Applies the read and write changes for `s` with receipts: each comes
 * back as an EV_ERROR entry whose data is 0 or the change's errno, so a
 * failed change is reported instead of surfacing later in `wait`. */
static int change_both(kqueue_driver *d, weft_os_socket s, uint16_t flags, weft_io_source *src,
                       int res[2]) {
    struct kevent ch[2], rc[2];
    /* Write first: emulation note 6. */
    EV_SET(&ch[0], (uintptr_t)s, EVFILT_WRITE, flags | EV_RECEIPT, 0, 0, src);
    EV_SET(&ch[1], (uintptr_t)s, EVFILT_READ, flags | EV_RECEIPT, 0, 0, src);
    int n;
    do
        n = kevent(d->kq, ch, 2, rc, 2, NULL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return kq_errno();
    res[0] = res[1] = 0;
    for (int i = 0; i < n; i++) {
        if (!(rc[i].flags & EV_ERROR))
            continue;
        res[rc[i].filter == EVFILT_WRITE] = (int)rc[i].data;
    }
    return 0;
}

static int kq_register(void *drv, weft_io_source *src, weft_os_socket s) {
    kqueue_driver *d = drv;
    if (s < 0)
        return WEFT_EINVAL;
    int err = errs_bind(d, s, src);
    if (err)
        return err;
    int res[2];
    err = change_both(d, s, EV_ADD | EV_CLEAR, src, res);
    if (!err && (res[0] || res[1])) {
        /* One side failed: take back the other, so a failed registration
         * leaves nothing behind. */
        struct kevent undo;
        EV_SET(&undo, (uintptr_t)s, res[0] ? EVFILT_WRITE : EVFILT_READ, EV_DELETE, 0, 0, NULL);
        if (!res[0] || !res[1])
            (void)kevent(d->kq, &undo, 1, NULL, 0, NULL);
        int e = res[0] ? res[0] : res[1];
        err = weft_translate_errno(e == EFAULT ? EBADF : e); /* note 7 */
    }
    if (err)
        errs_bind(d, s, NULL);
    return err;
}

static int kq_deregister(void *drv, weft_io_source *src, weft_os_socket s) {
    (void)src;
    kqueue_driver *d = drv;
    int res[2];
    int err = change_both(d, s, EV_DELETE, NULL, res);
    errs_bind(d, s, NULL);
    if (err)
        return err;
    /* ENOENT: that filter was already gone (a native kqueue drops a
     * descriptor's events on close); nothing left to remove. */
    for (int i = 0; i < 2; i++)
        if (res[i] && res[i] != ENOENT)
            return weft_translate_errno(res[i]);
    return 0;
}

/* Emulation note 2: is this EV_EOF on the read filter a real end of
 * stream?  Returns the readiness to report.  Under the table's lock and
 * only while `s` is still registered to `src`: a report for a source
 * deregistered meanwhile may name a descriptor closed and reused since,
 * and deregistering takes the lock before the runtime closes. */
static uint32_t read_eof(kqueue_driver *d, weft_io_source *src, weft_os_socket s) {
    uint32_t r = WEFT_IO_READABLE; /* nothing known: the read will tell */
    pthread_mutex_lock(&d->errs_lock);
    if ((size_t)s < d->errs_cap && d->errs[s].src == src) {
        char c;
        ssize_t n = recv((int)s, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) {
            r |= WEFT_IO_READ_CLOSED;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                   errno != ENOTCONN) {
            /* The peek took the socket's pending error (Linux clears it):
             * keep it for the read. */
            d->errs[s].err = errno;
            r |= WEFT_IO_READ_CLOSED | WEFT_IO_ERROR;
        }
    }
    pthread_mutex_unlock(&d->errs_lock);
    return r;
}

static uint32_t readiness_of(kqueue_driver *d, const struct kevent *ev) {
    weft_io_source *src = ev->udata;
    weft_os_socket s = (weft_os_socket)ev->ident;
    uint32_t r = 0;
    if (ev->fflags && (ev->flags & EV_EOF)) {
        errs_keep(d, s, src, (int)ev->fflags);
        r |= WEFT_IO_ERROR | WEFT_IO_READABLE | WEFT_IO_WRITABLE;
    }
    if (ev->filter == EVFILT_READ) {
        if (!(ev->flags & EV_EOF))
            r |= WEFT_IO_READABLE;
        else if (ev->fflags || ev->data > 0) /* trusted: see note 2 */
            r |= WEFT_IO_READ_CLOSED | WEFT_IO_READABLE;
        else
            r |= read_eof(d, src, s);
    } else {
        r |= WEFT_IO_WRITABLE;
        if (ev->flags & EV_EOF)
            r |= WEFT_IO_WRITE_CLOSED;
    }
    return r;
}

/* The timeout for `deadline_ns` (NULL: none).  kevent takes nanoseconds,
 * so there is nothing to round: it never returns before the deadline. */
static const struct timespec *timeout_of(uint64_t deadline_ns, struct timespec *ts) {
    if (deadline_ns == UINT64_MAX)
        return NULL;
    *ts = (struct timespec){0, 0};
    if (deadline_ns == 0)
        return ts;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    if (deadline_ns <= t)
        return ts;
    uint64_t left = deadline_ns - t;
    if (left > 86400u * 1000000000u)
        left = 86400u * 1000000000u;
    ts->tv_sec = (time_t)(left / 1000000000u);
    ts->tv_nsec = (long)(left % 1000000000u);
    return ts;
}

#ifdef WEFT_KQUEUE_LIBKQUEUE
/* Emulation note 4: every registered source, ready both ways.  Under the
 * table's lock, so none is deregistered meanwhile (and a deregistered one
 * is freed only after a later wait began). */
static void report_all(kqueue_driver *d) {
    pthread_mutex_lock(&d->errs_lock);
    for (size_t fd = 0; fd < d->errs_cap; fd++)
        if (d->errs[fd].src)
            weft_io_source_ready(d->errs[fd].src, WEFT_IO_READABLE | WEFT_IO_WRITABLE);
    pthread_mutex_unlock(&d->errs_lock);
}
#endif

static int kq_wait(void *drv, uint64_t deadline_ns) {
    kqueue_driver *d = drv;
    struct timespec ts;
    int n = kevent(d->kq, NULL, 0, d->events, EVENTS_MAX, timeout_of(deadline_ns, &ts));
    if (n < 0)
        return errno == EINTR ? 0 : kq_errno();
    for (int i = 0; i < n; i++) {
        const struct kevent *ev = &d->events[i];
        if (ev->filter == EVFILT_USER)
            continue; /* a wake: EV_CLEAR has reset it */
        if (ev->flags & EV_ERROR)
            continue; /* a change's failure: changes pass no list here */
        weft_io_source_ready(ev->udata, readiness_of(d, ev));
    }
#ifdef WEFT_KQUEUE_LIBKQUEUE
    if (n == EVENTS_MAX)
        report_all(d); /* emulation note 4 */
#endif
    return n;
}

static void kq_wake(void *drv) {
    kqueue_driver *d = drv;
    struct kevent ev;
    EV_SET(&ev, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    (void)kevent(d->kq, &ev, 1, NULL, 0, NULL);
}

/* ------------------------------------------ socket calls (emulation 1) */

/* The socket's own error first, then one a kevent took (note 1).  With
 * neither, the connect ended well, unless the report that brought us here
 * was note 4's blanket one while the connect still runs: no peer yet
 * means not done, and the runtime waits for the next report. */
static int kq_connect_result(void *drv, weft_os_socket s) {
    int err = weft__posix_sys.connect_result(drv, s);
    int kept = errs_take(drv, s);
    if (err)
        return err;
    if (kept)
        return weft_translate_errno(kept);
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    if (getpeername((int)s, (struct sockaddr *)&peer, &len) < 0 && errno == ENOTCONN)
        return WEFT_EAGAIN;
    return 0;
}

static int64_t kq_recv(void *drv, weft_os_socket s, const weft_iovec *iov, int iovcnt,
                       weft_addr *from, size_t *full) {
    int64_t got = weft__posix_sys.recv(drv, s, iov, iovcnt, from, full);
    if (got > 0 || got == WEFT_EAGAIN || got == WEFT_ETRUNCATED)
        return got;
    /* An end of stream or an error: an error the kevent took comes first. */
    int kept = errs_take(drv, s);
    return got == 0 && kept ? weft_translate_errno(kept) : got;
}

static int64_t kq_send(void *drv, weft_os_socket s, const weft_iovec *iov, int iovcnt,
                       const weft_addr *to) {
    int64_t put = weft__posix_sys.send(drv, s, iov, iovcnt, to);
    if (put >= 0 || put == WEFT_EAGAIN)
        return put;
    int kept = errs_take(drv, s);
    return kept ? weft_translate_errno(kept) : put;
}

/* The BSD socket calls with those three in front.  Filled once, before
 * the first driver exists (kq_create): C has no way to copy
 * weft__posix_sys in a constant initializer. */
static void kq_sys_fill(void) {
    kq_sys = weft__posix_sys;
    kq_sys.connect_result = kq_connect_result;
    kq_sys.recv = kq_recv;
    kq_sys.send = kq_send;
}

const weft_io_driver_ops weft__io_kqueue = {
    .name = "kqueue",
    .model = WEFT_IO_MODEL_READINESS,
    .create = kq_create,
    .destroy = kq_destroy,
    .register_source = kq_register,
    .deregister = kq_deregister,
    .wait = kq_wait,
    .wake = kq_wake,
    .sys = &kq_sys,
};
