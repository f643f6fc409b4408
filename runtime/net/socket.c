/* weft — sockets: making, closing, options, addresses, and the one
 * non-blocking attempt of each operation that the op futures (op.c) and
 * the try_ calls share. */
#include <string.h>

#include "net_impl.h"

#define SYS(io) ((io)->ops->sys)

/* The first operation on a new socket tries its call at once, before any
 * report: a fresh stream is usually writable, and often has a request. */
#define OPTIMISTIC (WEFT_IO_READABLE | WEFT_IO_WRITABLE)

weft__io *weft__io_current(int *err) {
    weft__rt *rt = weft__cur.rt;
    if (!rt) {
        *err = WEFT_ENORUNTIME;
        return NULL;
    }
    if (!rt->io) {
        *err = WEFT_ENOTSUP;
        return NULL;
    }
    *err = 0;
    return rt->io;
}

int weft__sock_new(weft__io *io, weft_os_socket os, int kind, int family, uint32_t ready,
                   weft_socket **out) {
    weft_socket *s = weft__alloc(io->rt, sizeof *s);
    if (!s) {
        SYS(io)->close(io->drv, os);
        return WEFT_ENOMEM;
    }
    memset(s, 0, sizeof *s);
    weft__spin_init(&s->src.lock);
    atomic_init(&s->src.readiness, ready);
    s->io = io;
    s->os = os;
    s->kind = (uint8_t)kind;
    s->family = (uint8_t)family;
    atomic_init(&s->refs, 1);
    /* Publishes the socket to the thread that waits in the driver: the
     * kernel orders the registration before any event it reports, but
     * only this release store (read with acquire in weft_io_source_ready)
     * lets ThreadSanitizer see it. */
    atomic_store_explicit(&s->src.readiness, ready, memory_order_release);
    int err = io->ops->register_source(io->drv, &s->src, os);
    if (err) {
        SYS(io)->close(io->drv, os);
        weft__free(io->rt, s, sizeof *s);
        return err;
    }
    s->registered = true;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); /* the registration's */
    weft__rt_ref(io->rt);
    atomic_fetch_add_explicit(&io->sockets, 1, memory_order_relaxed);
    *out = s;
    return 0;
}

void weft__sock_ref(weft_socket *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }

void weft__sock_unref(weft_socket *s) {
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    weft__io *io = s->io;
    weft__rt *rt = io->rt;
    atomic_fetch_sub_explicit(&io->sockets, 1, memory_order_relaxed);
    if (s->carry || s->pool)
        weft__comp_socket_freed(s);
    weft__free(rt, s, sizeof *s);
    weft__rt_unref(rt);
}

bool weft__sock_enter(weft_socket *s) {
    uint32_t u = atomic_fetch_add_explicit(&s->use, 1, memory_order_acquire);
    if (u & WEFT__USE_CLOSED) {
        weft__sock_leave(s);
        return false;
    }
    return true;
}

/* The last one out after close closes the handle. */
void weft__sock_leave(weft_socket *s) {
    uint32_t u = atomic_fetch_sub_explicit(&s->use, 1, memory_order_acq_rel);
    if (u == (WEFT__USE_CLOSED | 1u))
        SYS(s->io)->close(s->io->drv, s->os);
}

void weft__sock_release_pending(weft__io *io) {
    if (!atomic_load_explicit(&io->release, memory_order_relaxed))
        return;
    weft_socket *s = atomic_exchange_explicit(&io->release, NULL, memory_order_acquire);
    while (s) {
        weft_socket *next = s->release_next;
        weft__sock_unref(s);
        s = next;
    }
}

int weft_socket_close(weft_socket *s) {
    if (!s)
        return WEFT_EINVAL;
    weft__io *io = s->io;
    uint32_t u = atomic_fetch_or_explicit(&s->use, WEFT__USE_CLOSED, memory_order_acq_rel);
    if (u & WEFT__USE_CLOSED)
        weft__die("weft_socket_close: socket closed twice");
    if (s->registered)
        io->ops->deregister(io->drv, &s->src, s->os);
    if (u == 0)
        SYS(io)->close(io->drv, s->os);
    /* Operations waiting on it wake, find it closed and end (on a
     * completion driver, the close ended their calls: their reports wake
     * them; a listener's queued connections are closed). */
    weft_io_source_ready(&s->src, WEFT__READY_MASK);
    if (s->pool)
        weft__comp_listener_closed(s);
    if (s->registered) {
        if ((io->ops->flags & WEFT_IO_INLINE) ||
            atomic_load_explicit(&io->rt->shutdown, memory_order_acquire)) {
            weft__sock_unref(s); /* no driver wait runs any more */
        } else {
            s->release_next = atomic_load_explicit(&io->release, memory_order_relaxed);
            while (!atomic_compare_exchange_weak_explicit(&io->release, &s->release_next, s,
                                                          memory_order_release,
                                                          memory_order_relaxed))
                ;
        }
    }
    weft__sock_unref(s); /* the caller's */
    return 0;
}

/* ----------------------------------------------------------- attempts */

static uint64_t seen_now(weft_socket *s) {
    return atomic_load_explicit(&s->src.readiness, memory_order_acquire);
}

int64_t weft__sock_try_recv(weft_socket *s, const weft_iovec *iov, int n, weft_addr *from,
                            size_t *full, uint64_t *seen) {
    uint64_t r = seen_now(s);
    if (seen)
        *seen = r;
    if (!weft__sock_enter(s))
        return WEFT_ECLOSED;
    int64_t got = SYS(s->io)->recv(s->io->drv, s->os, iov, n, from, full);
    weft__sock_leave(s);
    if (got == WEFT_EAGAIN)
        weft__sock_clear_ready(s, r, WEFT_IO_READABLE);
    return got;
}

static int64_t take_ahead(weft_socket *s, const weft_iovec *iov, int n) {
    size_t got = 0;
    for (int i = 0; i < n && s->ra_len; i++) {
        size_t k = iov[i].len < s->ra_len ? iov[i].len : s->ra_len;
        memcpy(iov[i].base, s->ra + s->ra_off, k);
        s->ra_off = (uint16_t)(s->ra_off + k);
        s->ra_len = (uint16_t)(s->ra_len - k);
        got += k;
    }
    return (int64_t)got;
}

int64_t weft__stream_try_recv(weft_socket *s, const weft_iovec *iov, int n, uint64_t *seen,
                              bool *drained) {
    *drained = false;
    if (s->ra_len) {
        if (seen)
            *seen = seen_now(s);
        return take_ahead(s, iov, n);
    }
    size_t want = 0;
    weft_iovec v[WEFT_IOV_MAX + 1];
    for (int i = 0; i < n; i++) {
        v[i] = iov[i];
        want += iov[i].len;
    }
    int nv = n;
    /* (Not on a completion driver: its reads own no readiness to clear,
     * and its ops read from the kernel, not from here.) */
    if (n < WEFT_IOV_MAX && !weft__io_completion_model(s->io))
        v[nv++] = (weft_iovec){s->ra, sizeof s->ra};
    int64_t got = weft__sock_try_recv(s, v, nv, NULL, NULL, seen);
    if (got < 0)
        return got;
    /* Less than we asked for: the socket is drained. */
    *drained = nv > n && got > 0 && (size_t)got < want + sizeof s->ra;
    if ((size_t)got > want) {
        s->ra_off = 0;
        s->ra_len = (uint16_t)((size_t)got - want);
        return (int64_t)want;
    }
    return got;
}

int64_t weft__sock_try_send(weft_socket *s, const weft_iovec *iov, int n, const weft_addr *to,
                            uint64_t *seen) {
    uint64_t r = seen_now(s);
    if (seen)
        *seen = r;
    if (!weft__sock_enter(s))
        return WEFT_ECLOSED;
    int64_t put = SYS(s->io)->send(s->io->drv, s->os, iov, n, to);
    weft__sock_leave(s);
    if (put == WEFT_EAGAIN)
        weft__sock_clear_ready(s, r, WEFT_IO_WRITABLE);
    return put;
}

int weft__sock_try_accept(weft_socket *l, weft_socket **out, weft_addr *peer, uint64_t *seen) {
    uint64_t r = seen_now(l);
    if (seen)
        *seen = r;
    if (!weft__sock_enter(l))
        return WEFT_ECLOSED;
    weft_os_socket os;
    int err = SYS(l->io)->accept(l->io->drv, l->os, &os, peer);
    weft__sock_leave(l);
    if (err == WEFT_EAGAIN)
        weft__sock_clear_ready(l, r, WEFT_IO_READABLE);
    if (err)
        return err;
    if (l->nodelay && l->family != WEFT_AF_UNIX)
        SYS(l->io)->setopt(l->io->drv, os, WEFT_SO_NODELAY, 1);
    return weft__sock_new(l->io, os, WEFT__SOCK_STREAM, l->family, OPTIMISTIC, out);
}

/* ---------------------------------------------------------------- making */

void weft_socket_options_init(weft_socket_options *o) {
    if (!o)
        return;
    *o = (weft_socket_options){.reuseaddr = true, .backlog = 1024};
}

static int apply_options(weft__io *io, weft_os_socket os, int family,
                         const weft_socket_options *o, bool listener) {
    const weft_io_sys *sys = SYS(io);
    int err = 0;
    if (family != WEFT_AF_UNIX) {
        if (o->reuseaddr)
            err = sys->setopt(io->drv, os, WEFT_SO_REUSEADDR, 1);
        if (!err && o->reuseport)
            err = sys->setopt(io->drv, os, WEFT_SO_REUSEPORT, 1);
        if (!err && family == WEFT_AF_INET6)
            err = sys->setopt(io->drv, os, WEFT_SO_V6ONLY, o->v6only);
        if (!err && o->nodelay && !listener)
            err = sys->setopt(io->drv, os, WEFT_SO_NODELAY, 1);
    }
    if (!err && o->recv_buffer)
        err = sys->setopt(io->drv, os, WEFT_SO_RCVBUF, (int)o->recv_buffer);
    if (!err && o->send_buffer)
        err = sys->setopt(io->drv, os, WEFT_SO_SNDBUF, (int)o->send_buffer);
    return err;
}

static bool addr_ok(const weft_addr *a) {
    return a && (a->family == WEFT_AF_INET || a->family == WEFT_AF_INET6 ||
                 (a->family == WEFT_AF_UNIX && a->u.path[0]));
}

/* An unregistered OS socket of `type` for `a`, options applied. */
int weft__sock_open(weft__io *io, const weft_addr *a, int type, const weft_socket_options *o,
                    bool listener, weft_os_socket *out) {
    const weft_io_sys *sys = SYS(io);
    weft_os_socket os;
    int err = sys->open(io->drv, a->family, type, &os);
    if (err)
        return err;
    err = apply_options(io, os, a->family, o, listener);
    if (err) {
        sys->close(io->drv, os);
        return err;
    }
    *out = os;
    return 0;
}

static int bind_common(const weft_addr *addr, const weft_socket_options *opts, int kind,
                       weft_socket **out) {
    if (!out)
        return WEFT_EINVAL;
    *out = NULL;
    if (!addr_ok(addr))
        return WEFT_EINVAL;
    int err;
    weft__io *io = weft__io_current(&err);
    if (!io)
        return err;
    weft_socket_options o;
    weft_socket_options_init(&o);
    if (opts)
        o = *opts;
    else if (kind == WEFT__SOCK_DGRAM)
        o.reuseaddr = false; /* shared UDP ports only when asked */
    if (o.backlog <= 0)
        o.backlog = 1024;
    int type = kind == WEFT__SOCK_DGRAM ? WEFT_SOCK_DGRAM : WEFT_SOCK_STREAM;
    weft_os_socket os;
    err = weft__sock_open(io, addr, type, &o, kind == WEFT__SOCK_LISTENER, &os);
    if (err)
        return err;
    const weft_io_sys *sys = SYS(io);
    err = sys->bind(io->drv, os, addr);
    if (!err && kind == WEFT__SOCK_LISTENER)
        err = sys->listen(io->drv, os, o.backlog);
    if (err) {
        sys->close(io->drv, os);
        return err;
    }
    err = weft__sock_new(io, os, kind, addr->family, OPTIMISTIC, out);
    if (!err)
        (*out)->nodelay = o.nodelay;
    if (!err && kind == WEFT__SOCK_LISTENER && weft__io_completion_model(io) &&
        (err = weft__comp_listener_pool(*out)) != 0) {
        weft_socket_close(*out);
        *out = NULL;
    }
    return err;
}

int weft_listener_bind(const weft_addr *addr, const weft_socket_options *opts,
                       weft_listener **out) {
    return bind_common(addr, opts, WEFT__SOCK_LISTENER, out);
}

int weft_datagram_bind(const weft_addr *addr, const weft_socket_options *opts,
                       weft_datagram **out) {
    return bind_common(addr, opts, WEFT__SOCK_DGRAM, out);
}

/* ------------------------------------------------------- options, names */

/* A call on a live socket of kind `kind` (0: any). */
static int with_sock(const weft_socket *cs, int kind, int (*fn)(weft_socket *, void *),
                     void *arg) {
    weft_socket *s = (weft_socket *)cs;
    if (!s || (kind && s->kind != kind))
        return WEFT_EINVAL;
    if (!weft__sock_enter(s))
        return WEFT_ECLOSED;
    int err = fn(s, arg);
    weft__sock_leave(s);
    return err;
}

typedef struct opt_arg {
    int opt, value;
} opt_arg;

static int do_setopt(weft_socket *s, void *arg) {
    opt_arg *o = arg;
    return SYS(s->io)->setopt(s->io->drv, s->os, o->opt, o->value);
}

static int setopt(weft_socket *s, int kind, int opt, int value) {
    opt_arg o = {opt, value};
    return with_sock(s, kind, do_setopt, &o);
}

static int do_getopt(weft_socket *s, void *arg) {
    opt_arg *o = arg;
    return SYS(s->io)->getopt(s->io->drv, s->os, o->opt, &o->value);
}

int weft_socket_set_linger(weft_socket *s, int seconds) {
    return setopt(s, 0, WEFT_SO_LINGER, seconds < 0 ? -1 : seconds);
}
int weft_socket_set_recv_buffer(weft_socket *s, uint32_t bytes) {
    return bytes > INT32_MAX ? WEFT_EINVAL : setopt(s, 0, WEFT_SO_RCVBUF, (int)bytes);
}
int weft_socket_set_send_buffer(weft_socket *s, uint32_t bytes) {
    return bytes > INT32_MAX ? WEFT_EINVAL : setopt(s, 0, WEFT_SO_SNDBUF, (int)bytes);
}

int weft_socket_take_error(weft_socket *s) {
    opt_arg o = {WEFT_SO_ERROR, 0};
    int err = with_sock(s, 0, do_getopt, &o);
    return err ? err : o.value;
}

int weft_stream_set_nodelay(weft_stream *s, bool on) {
    if (s && s->family == WEFT_AF_UNIX)
        return WEFT_ENOTSUP;
    return setopt(s, WEFT__SOCK_STREAM, WEFT_SO_NODELAY, on);
}

int weft_stream_nodelay(const weft_stream *s, bool *on) {
    if (!on)
        return WEFT_EINVAL;
    if (s && s->family == WEFT_AF_UNIX)
        return WEFT_ENOTSUP;
    opt_arg o = {WEFT_SO_NODELAY, 0};
    int err = with_sock(s, WEFT__SOCK_STREAM, do_getopt, &o);
    if (!err)
        *on = o.value != 0;
    return err;
}

int weft_stream_set_keepalive(weft_stream *s, bool on, int idle_secs) {
    if (s && s->family == WEFT_AF_UNIX)
        return WEFT_ENOTSUP;
    return setopt(s, WEFT__SOCK_STREAM, WEFT_SO_KEEPALIVE, on ? (idle_secs > 0 ? idle_secs : 0) : -1);
}

static int do_shutdown(weft_socket *s, void *arg) {
    return SYS(s->io)->shutdown(s->io->drv, s->os, *(int *)arg);
}

int weft_stream_shutdown(weft_stream *s, int how) {
    if (how < WEFT_SHUT_RD || how > WEFT_SHUT_RDWR)
        return WEFT_EINVAL;
    return with_sock(s, WEFT__SOCK_STREAM, do_shutdown, &how);
}

typedef struct namearg {
    bool peer;
    weft_addr *out;
} namearg;

static int do_name(weft_socket *s, void *arg) {
    namearg *n = arg;
    return SYS(s->io)->name(s->io->drv, s->os, n->peer, n->out);
}

int weft_socket_local_addr(const weft_socket *s, weft_addr *out) {
    if (!out)
        return WEFT_EINVAL;
    namearg n = {false, out};
    return with_sock(s, 0, do_name, &n);
}

int weft_socket_peer_addr(const weft_socket *s, weft_addr *out) {
    if (!out)
        return WEFT_EINVAL;
    if (s && s->kind == WEFT__SOCK_LISTENER)
        return WEFT_ENOTCONN;
    namearg n = {true, out};
    return with_sock(s, 0, do_name, &n);
}

intptr_t weft_socket_raw(const weft_socket *s) { return s ? (intptr_t)s->os : -1; }

static int do_connect_dgram(weft_socket *s, void *arg) {
    return SYS(s->io)->connect_dgram(s->io->drv, s->os, arg);
}

int weft_datagram_connect(weft_datagram *s, const weft_addr *peer) {
    if (!addr_ok(peer))
        return WEFT_EINVAL;
    return with_sock(s, WEFT__SOCK_DGRAM, do_connect_dgram, (void *)peer);
}

int weft_datagram_set_broadcast(weft_datagram *s, bool on) {
    return setopt(s, WEFT__SOCK_DGRAM, WEFT_SO_BROADCAST, on);
}
int weft_datagram_set_multicast_loop(weft_datagram *s, bool on) {
    return setopt(s, WEFT__SOCK_DGRAM, WEFT_SO_MULTICAST_LOOP, on);
}
int weft_datagram_set_multicast_ttl(weft_datagram *s, uint32_t ttl) {
    return ttl > 255 ? WEFT_EINVAL : setopt(s, WEFT__SOCK_DGRAM, WEFT_SO_MULTICAST_TTL, (int)ttl);
}

typedef struct mcastarg {
    bool join;
    const weft_addr *group, *iface;
} mcastarg;

static int do_multicast(weft_socket *s, void *arg) {
    mcastarg *m = arg;
    return SYS(s->io)->multicast(s->io->drv, s->os, m->join, m->group, m->iface);
}

static int multicast(weft_datagram *s, bool join, const weft_addr *group, const weft_addr *iface) {
    if (!group || (group->family != WEFT_AF_INET && group->family != WEFT_AF_INET6))
        return WEFT_EINVAL;
    mcastarg m = {join, group, iface};
    return with_sock(s, WEFT__SOCK_DGRAM, do_multicast, &m);
}

int weft_datagram_join_multicast(weft_datagram *s, const weft_addr *group, const weft_addr *iface) {
    return multicast(s, true, group, iface);
}
int weft_datagram_leave_multicast(weft_datagram *s, const weft_addr *group,
                                  const weft_addr *iface) {
    return multicast(s, false, group, iface);
}

/* ------------------------------------------------------------ try_ calls */

static bool iov_ok(const weft_iovec *iov, int n) {
    if (!iov || n < 1 || n > WEFT_IOV_MAX)
        return false;
    for (int i = 0; i < n; i++)
        if (!iov[i].base && iov[i].len)
            return false;
    return true;
}

int64_t weft_stream_try_readv(weft_stream *s, const weft_iovec *iov, int n) {
    if (!s || s->kind != WEFT__SOCK_STREAM || !iov_ok(iov, n))
        return WEFT_EINVAL;
    bool drained;
    uint64_t seen;
    int64_t got = weft__stream_try_recv(s, iov, n, &seen, &drained);
    if (drained)
        weft__sock_clear_ready(s, seen, WEFT_IO_READABLE);
    return got;
}

int64_t weft_stream_try_writev(weft_stream *s, const weft_iovec *iov, int n) {
    if (!s || s->kind != WEFT__SOCK_STREAM || !iov_ok(iov, n))
        return WEFT_EINVAL;
    return weft__sock_try_send(s, iov, n, NULL, NULL);
}

int64_t weft_stream_try_read(weft_stream *s, void *buf, size_t len) {
    weft_iovec v = {buf, len};
    return weft_stream_try_readv(s, &v, 1);
}

int64_t weft_stream_try_write(weft_stream *s, const void *buf, size_t len) {
    weft_iovec v = {(void *)buf, len};
    return weft_stream_try_writev(s, &v, 1);
}

int weft_listener_try_accept(weft_listener *l, weft_stream **out, weft_addr *peer) {
    if (!l || l->kind != WEFT__SOCK_LISTENER || !out)
        return WEFT_EINVAL;
    return weft__sock_try_accept(l, out, peer, NULL);
}

int64_t weft_datagram_try_send_to(weft_datagram *s, const void *buf, size_t len,
                                  const weft_addr *to) {
    if (!s || s->kind != WEFT__SOCK_DGRAM || (!buf && len) || (to && !addr_ok(to)))
        return WEFT_EINVAL;
    weft_iovec v = {(void *)buf, len};
    return weft__sock_try_send(s, &v, 1, to, NULL);
}

int64_t weft_datagram_try_recv_from(weft_datagram *s, void *buf, size_t len, weft_addr *from) {
    if (!s || s->kind != WEFT__SOCK_DGRAM || (!buf && len))
        return WEFT_EINVAL;
    weft_iovec v = {buf, len};
    return weft__sock_try_recv(s, &v, 1, from, NULL, NULL);
}

void weft_socket_clear_ready(weft_socket *s, int which) {
    if (!s)
        return;
    uint32_t bits = (which & WEFT_READABLE ? WEFT_IO_READABLE : 0) |
                    (which & WEFT_WRITABLE ? WEFT_IO_WRITABLE : 0);
    weft__sock_clear_ready(s, seen_now(s), bits);
}
