/* weft — the epoll driver (Linux).
 *
 * Each socket is registered once, for both directions, edge-triggered,
 * with its weft_io_source as the token (mio's rules: the runtime retries
 * the call until it would block before it waits again).  An eventfd wakes
 * a thread blocked in epoll_wait from another thread.  Timers stay in
 * weft's wheel: wait gets the next deadline, to the nanosecond through
 * epoll_pwait2 (Linux 5.11), else rounded up to epoll_wait's millisecond
 * (up to a millisecond late, never early).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "posix_sockets.h"

#define EVENTS_MAX 256

typedef struct epoll_driver {
    weft__posix posix; /* first: the socket calls find it */
    int ep;
    int wake_fd;
    bool no_pwait2; /* the kernel (or a seccomp filter) refused epoll_pwait2 */
    weft_allocator alloc;
    struct epoll_event events[EVENTS_MAX];
} epoll_driver;

static int ep_create(const weft_allocator *a, void **out) {
    epoll_driver *d = a->alloc(a->ctx, sizeof *d);
    if (!d)
        return WEFT_ENOMEM;
    d->alloc = *a;
    d->no_pwait2 = false;
    d->ep = epoll_create1(EPOLL_CLOEXEC);
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int err = 0;
    if (d->ep < 0 || d->wake_fd < 0)
        err = weft_translate_errno(errno);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (!err && epoll_ctl(d->ep, EPOLL_CTL_ADD, d->wake_fd, &ev))
        err = weft_translate_errno(errno);
    if (err) {
        if (d->ep >= 0)
            close(d->ep);
        if (d->wake_fd >= 0)
            close(d->wake_fd);
        a->free(a->ctx, d, sizeof *d);
        return err;
    }
    weft__posix_init(&d->posix);
    *out = d;
    return 0;
}

static void ep_destroy(void *drv) {
    epoll_driver *d = drv;
    weft__posix_fini(&d->posix);
    close(d->ep);
    close(d->wake_fd);
    d->alloc.free(d->alloc.ctx, d, sizeof *d);
}

static int ep_register(void *drv, weft_io_source *src, weft_os_socket s) {
    epoll_driver *d = drv;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = src};
    return epoll_ctl(d->ep, EPOLL_CTL_ADD, (int)s, &ev) ? weft_translate_errno(errno) : 0;
}

static int ep_deregister(void *drv, weft_io_source *src, weft_os_socket s) {
    (void)src;
    epoll_driver *d = drv;
    return epoll_ctl(d->ep, EPOLL_CTL_DEL, (int)s, NULL) ? weft_translate_errno(errno) : 0;
}

static uint32_t readiness_of(uint32_t ev) {
    uint32_t r = 0;
    if (ev & EPOLLIN)
        r |= WEFT_IO_READABLE;
    if (ev & EPOLLOUT)
        r |= WEFT_IO_WRITABLE;
    if (ev & (EPOLLRDHUP | EPOLLHUP))
        r |= WEFT_IO_READ_CLOSED | WEFT_IO_READABLE;
    if (ev & EPOLLHUP)
        r |= WEFT_IO_WRITE_CLOSED | WEFT_IO_WRITABLE;
    if (ev & EPOLLERR)
        r |= WEFT_IO_ERROR | WEFT_IO_READABLE | WEFT_IO_WRITABLE;
    return r;
}

/* Nanoseconds from now until `deadline_ns` (0 if it passed). */
static uint64_t ns_until(uint64_t deadline_ns) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return deadline_ns <= now ? 0 : deadline_ns - now;
}

/* Milliseconds to wait for `deadline_ns`, rounded up. */
static int timeout_ms(uint64_t deadline_ns) {
    if (deadline_ns == 0)
        return 0;
    if (deadline_ns == UINT64_MAX)
        return -1;
    uint64_t ms = (ns_until(deadline_ns) + 999999u) / 1000000u;
    return ms > 86400000u ? 86400000 : (int)ms;
}

/* epoll_wait until `deadline_ns` to the nanosecond, or -2 when the kernel
 * has no epoll_pwait2 (glibc's wrapper is newer than some systems' libc,
 * hence the raw call). */
static int wait_precise(epoll_driver *d, uint64_t deadline_ns) {
#ifdef SYS_epoll_pwait2
    if (d->no_pwait2 || deadline_ns == 0 || deadline_ns == UINT64_MAX)
        return -2;
    uint64_t ns = ns_until(deadline_ns);
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    long n = syscall(SYS_epoll_pwait2, d->ep, d->events, EVENTS_MAX, &ts, NULL, (size_t)0);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        d->no_pwait2 = true;
        return -2;
    }
    return (int)n;
#else
    (void)d;
    (void)deadline_ns;
    return -2;
#endif
}

static int ep_wait(void *drv, uint64_t deadline_ns) {
    epoll_driver *d = drv;
    int n = wait_precise(d, deadline_ns);
    if (n == -2)
        n = epoll_wait(d->ep, d->events, EVENTS_MAX, timeout_ms(deadline_ns));
    if (n < 0)
        return errno == EINTR ? 0 : weft_translate_errno(errno);
    for (int i = 0; i < n; i++) {
        weft_io_source *src = d->events[i].data.ptr;
        if (!src) { /* the wake eventfd: drain it */
            uint64_t v;
            ssize_t r = read(d->wake_fd, &v, sizeof v);
            (void)r;
            continue;
        }
        weft_io_source_ready(src, readiness_of(d->events[i].events));
    }
    return n;
}

static void ep_wake(void *drv) {
    epoll_driver *d = drv;
    uint64_t one = 1;
    ssize_t r = write(d->wake_fd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is full, a wake is pending anyway */
}

const weft_io_driver_ops weft__io_epoll = {
    .name = "epoll",
    .model = WEFT_IO_MODEL_READINESS,
    .create = ep_create,
    .destroy = ep_destroy,
    .register_source = ep_register,
    .deregister = ep_deregister,
    .wait = ep_wait,
    .wake = ep_wake,
    .sys = &weft__posix_sys,
};
