/* weft — socket operations as futures: the one state machine every
 * readiness driver runs through.
 *
 *   idle --first poll--> waiting --attempt done--> done
 *                           ^  |
 *                           |  | would block: store the waker, look again
 *                           +--+ woken by a readiness report
 *
 * An attempt is one non-blocking call (socket.c).  It is made only while
 * the readiness word shows the op's side ready; a call that would block
 * clears that readiness unless a report came meanwhile (the word's tick),
 * and the op stores its waker and looks at the word once more, so a report
 * between the call and the store is never missed.  A short stream read or
 * write also clears it (the socket was drained or filled: the next call
 * would only say EAGAIN), which keeps a message at one read and one write.
 *
 * Dropping an op while waiting cancels it: nothing is in the kernel's
 * hands between attempts, so the waker is taken back and the side freed.
 * A connect being dropped closes its half-made socket.
 *
 * Completion drivers (IOCP) run the other half, completion.c: op_poll
 * hands such ops over at once; only finishing and the sides are shared.
 */
#include <string.h>

#include "net_impl.h"

#define READ_BITS (WEFT_IO_READABLE | WEFT_IO_READ_CLOSED | WEFT_IO_ERROR | 0x80u)
#define WRITE_BITS (WEFT_IO_WRITABLE | WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR | 0x80u)

static int side_of(int kind) {
    switch (kind) {
    case K_CONNECT:
    case K_WRITE:
    case K_WRITE_ALL:
    case K_SEND_TO:
    case K_WRITABLE:
        return WEFT__SIDE_WRITE;
    default:
        return WEFT__SIDE_READ;
    }
}

static uint32_t bits_of(int side) { return side == WEFT__SIDE_READ ? READ_BITS : WRITE_BITS; }

/* -------------------------------------------------------------- attempts */

static int64_t iov_total(const weft_iovec *iov, int n) {
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].len;
    return (int64_t)t;
}

static int64_t attempt_stream(weft_net_op *op, uint64_t *seen, bool write) {
    weft_socket *s = op->weft__sock;
    weft_iovec one, *iov = &one;
    int n = 1;
    if (op->weft__iov) {
        iov = (weft_iovec *)op->weft__iov;
        n = op->weft__iovcnt;
    } else {
        one = (weft_iovec){(char *)op->weft__buf + op->weft__done, op->weft__len - op->weft__done};
    }
    if (!write) {
        bool drained;
        int64_t got = weft__stream_try_recv(s, iov, n, seen, &drained);
        if (drained) /* the next call would block */
            weft__sock_clear_ready(s, *seen, WEFT_IO_READABLE);
        return got;
    }
    int64_t want = iov_total(iov, n);
    int64_t put = weft__sock_try_send(s, iov, n, NULL, seen);
    if (put > 0 && put < want) /* filled: the next call would block */
        weft__sock_clear_ready(s, *seen, WEFT_IO_WRITABLE);
    return put;
}

/* One attempt at the op: a final result, or WEFT_EAGAIN. */
static int64_t attempt(weft_net_op *op, uint64_t *seen) {
    weft_socket *s = op->weft__sock;
    switch (op->weft__kind) {
    case K_ACCEPT:
        return weft__sock_try_accept(s, op->weft__sock_out, op->weft__addr_out, seen);
    case K_CONNECT: {
        *seen = atomic_load_explicit(&s->src.readiness, memory_order_acquire);
        if (!weft__sock_enter(s))
            return WEFT_ECLOSED;
        int err = s->io->ops->sys->connect_result(s->io->drv, s->os);
        weft__sock_leave(s);
        if (err == WEFT_EAGAIN)
            weft__sock_clear_ready(s, *seen, WEFT_IO_WRITABLE);
        return err;
    }
    case K_READ:
    case K_WRITE:
        if (op->weft__len == 0 && !op->weft__iov)
            return 0;
        return attempt_stream(op, seen, op->weft__kind == K_WRITE);
    case K_READ_EXACT:
    case K_WRITE_ALL: {
        bool write = op->weft__kind == K_WRITE_ALL;
        uint32_t bits = bits_of(side_of(op->weft__kind));
        while (op->weft__done < op->weft__len) {
            /* After a short call, wait for the next report. */
            if (!(atomic_load_explicit(&s->src.readiness, memory_order_acquire) & bits) &&
                !(s->ra_len && !write))
                return WEFT_EAGAIN;
            int64_t got = attempt_stream(op, seen, write);
            if (got == 0 && !write)
                return WEFT_EEOF;
            if (got <= 0)
                return got;
            op->weft__done += (size_t)got;
        }
        return (int64_t)op->weft__len;
    }
    case K_RECV_FROM: {
        weft_iovec v = {op->weft__buf, op->weft__len};
        size_t full = 0;
        int64_t got = weft__sock_try_recv(s, &v, 1, op->weft__addr_out, &full, seen);
        if (got == WEFT_ETRUNCATED)
            op->weft__done = full;
        return got;
    }
    case K_SEND_TO: {
        weft_iovec v = {op->weft__buf, op->weft__len};
        const weft_addr *to = op->weft__addr.family ? &op->weft__addr : NULL;
        return weft__sock_try_send(s, &v, 1, to, seen);
    }
    case K_READABLE:
    case K_WRITABLE: {
        *seen = atomic_load_explicit(&s->src.readiness, memory_order_acquire);
        if (*seen & 0x80u)
            return WEFT_ECLOSED;
        if (op->weft__kind == K_READABLE && s->ra_len)
            return 0; /* bytes read ahead are waiting */
        return (*seen & bits_of(side_of(op->weft__kind))) ? 0 : WEFT_EAGAIN;
    }
    }
    return WEFT_EINVAL;
}

/* ------------------------------------------------------------ the future */

static void release_side(weft_net_op *op) {
    if (!(op->weft__flags & F_CLAIMED))
        return;
    weft_socket *s = op->weft__sock;
    int side = op->weft__side;
    if (op->weft__flags & F_ARMED) { /* take our waker back, if still there */
        weft_io_source *src = &s->src;
        weft__spin_lock(&src->lock);
        weft_waker w = src->waker[side];
        src->waker[side] = (weft_waker){0};
        weft__spin_unlock(&src->lock);
        weft_waker_drop(&w);
    }
    atomic_fetch_and_explicit(&s->busy, ~(1u << side), memory_order_release);
    op->weft__flags &= ~(F_CLAIMED | F_ARMED);
}

weft_poll weft__op_finish(weft_net_op *op, int64_t result, void *out) {
    release_side(op);
    if (op->weft__flags & F_CONNECTING) {
        op->weft__flags &= ~F_CONNECTING;
        if (result == 0) {
            *op->weft__sock_out = op->weft__sock;
            op->weft__sock = NULL; /* the caller's reference now */
        } else {
            weft_socket_close(op->weft__sock);
            op->weft__sock = NULL;
        }
    }
    op->weft__result = result;
    op->weft__state = S_DONE;
    if (out)
        *(int64_t *)out = result;
    return WEFT_READY;
}

/* The op's side may make progress: reported ready, or (reads) bytes read
 * ahead are waiting. */
static bool ready_now(weft_net_op *op, uint64_t r) {
    if (r & bits_of(op->weft__side))
        return true;
    weft_socket *s = op->weft__sock;
    return op->weft__side == WEFT__SIDE_READ && s->kind == WEFT__SOCK_STREAM && s->ra_len;
}

/* Would block: store the waker, then look once more (see the top). */
static bool arm(weft_net_op *op, weft_context *cx) {
    weft_io_source *src = &op->weft__sock->src;
    weft__spin_lock(&src->lock);
    weft_waker_set(&src->waker[op->weft__side], weft_cx_waker(cx));
    weft__spin_unlock(&src->lock);
    op->weft__flags |= F_ARMED;
    uint64_t r = atomic_load_explicit(&src->readiness, memory_order_seq_cst);
    return !ready_now(op, r);
}

static int64_t start_connect(weft_net_op *op) {
    int err;
    weft__io *io = weft__io_current(&err);
    if (!io)
        return err;
    weft_os_socket os;
    err = weft__sock_open(io, &op->weft__addr, WEFT_SOCK_STREAM, &op->weft__opts, false, &os);
    if (err)
        return err;
    const weft_io_sys *sys = io->ops->sys;
    if (op->weft__opts.bind_addr)
        err = sys->bind(io->drv, os, op->weft__opts.bind_addr);
    /* Called before registering: a socket registered unconnected reports
     * a hang-up that would read as the connect's end. */
    int conn = err ? err : sys->connect(io->drv, os, &op->weft__addr);
    if (conn != 0 && conn != WEFT_EAGAIN) {
        sys->close(io->drv, os);
        return conn;
    }
    err = weft__sock_new(io, os, WEFT__SOCK_STREAM, op->weft__addr.family,
                         conn == 0 ? WEFT_IO_READABLE | WEFT_IO_WRITABLE : 0, &op->weft__sock);
    if (err)
        return err;
    op->weft__flags |= F_CONNECTING;
    return conn;
}

/* The driver an op runs on (a connect has no socket before its first
 * poll: the current runtime's). */
static weft__io *io_of(const weft_net_op *op) {
    if (op->weft__sock)
        return op->weft__sock->io;
    weft__rt *rt = weft__cur.rt;
    return rt ? rt->io : NULL;
}

static weft_poll op_poll(weft_future *f, weft_context *cx, void *out) {
    weft_net_op *op = (weft_net_op *)f;
    if (op->weft__state == S_INVALID)
        return weft__op_finish(op, op->weft__result, out);
    weft__io *io = io_of(op);
    if (io && weft__io_completion_model(io))
        return weft__comp_op_poll(op, cx, out);
    if (!weft_coop_proceed(cx))
        return WEFT_PENDING;
    if (op->weft__state == S_IDLE) {
        op->weft__state = S_WAITING;
        if (op->weft__kind == K_CONNECT) {
            int64_t r = start_connect(op);
            if (r != WEFT_EAGAIN)
                return weft__op_finish(op, r, out);
        }
        weft_socket *s = op->weft__sock;
        uint32_t bit = 1u << op->weft__side;
        if (atomic_fetch_or_explicit(&s->busy, bit, memory_order_acquire) & bit)
            return weft__op_finish(op, WEFT_EBUSY, out);
        op->weft__flags |= F_CLAIMED;
    }
    for (;;) {
        uint64_t r = atomic_load_explicit(&op->weft__sock->src.readiness, memory_order_acquire);
        if (ready_now(op, r)) {
            uint64_t seen;
            int64_t got = attempt(op, &seen);
            if (got != WEFT_EAGAIN)
                return weft__op_finish(op, got, out);
        }
        if (arm(op, cx))
            return WEFT_PENDING;
    }
}

static void op_drop(weft_future *f) {
    weft_net_op *op = (weft_net_op *)f;
    if (!op->weft__sock)
        return;
    if (weft__io_completion_model(op->weft__sock->io))
        weft__comp_op_drop(op); /* what the kernel still holds stays owned */
    release_side(op);
    if (op->weft__flags & F_CONNECTING) {
        weft_socket_close(op->weft__sock); /* the half-made socket was ours */
    } else {
        weft__sock_unref(op->weft__sock);
    }
    op->weft__sock = NULL;
}

static const weft_future_vtable net_op_vtable = {op_poll, op_drop, sizeof(weft_net_op),
                                                 sizeof(int64_t), "weft_net_op", 0};

/* ----------------------------------------------------------------- inits */

static weft_future *init(weft_net_op *op, weft_socket *s, int kind, int sock_kind,
                         const char *site) {
    if (!op)
        weft__die("weft net op init: NULL op storage");
    /* Field by field, not a memset of the whole op: the address and the
     * options (most of its bytes) matter to connect and send_to only,
     * which set them; an op is made per read and per write. */
    op->weft__sock = NULL;
    op->weft__state = S_IDLE;
    op->weft__flags = 0;
    op->weft__iovcnt = 0;
    op->weft__buf = NULL;
    op->weft__len = 0;
    op->weft__done = 0;
    op->weft__iov = NULL;
    op->weft__addr_out = NULL;
    op->weft__addr.family = WEFT_AF_NONE;
    op->weft__sock_out = NULL;
    op->weft__driver = NULL;
    weft_future_init(&op->base, &net_op_vtable, site);
    op->weft__kind = (uint8_t)kind;
    op->weft__side = (uint8_t)side_of(kind);
    op->weft__result = WEFT_EAGAIN;
    if (kind != K_CONNECT) {
        if (!s || (sock_kind && s->kind != sock_kind)) {
            op->weft__state = S_INVALID;
            op->weft__result = WEFT_EINVAL;
            return &op->base;
        }
        weft__sock_ref(s);
        op->weft__sock = s;
    }
    return &op->base;
}

static weft_future *invalid(weft_net_op *op) {
    if (op->weft__sock) {
        weft__sock_unref(op->weft__sock);
        op->weft__sock = NULL;
    }
    op->weft__state = S_INVALID;
    op->weft__result = WEFT_EINVAL;
    return &op->base;
}

weft_future *weft_listener_accept_init(weft_net_op *op, weft_listener *l, weft_stream **out,
                                       weft_addr *peer, const char *site) {
    init(op, l, K_ACCEPT, WEFT__SOCK_LISTENER, site);
    if (!out)
        return invalid(op);
    *out = NULL;
    op->weft__sock_out = out;
    op->weft__addr_out = peer;
    return &op->base;
}

weft_future *weft_stream_connect_init(weft_net_op *op, const weft_addr *addr,
                                      const weft_socket_options *opts, weft_stream **out,
                                      const char *site) {
    init(op, NULL, K_CONNECT, 0, site);
    if (!out || !addr ||
        (addr->family != WEFT_AF_INET && addr->family != WEFT_AF_INET6 &&
         !(addr->family == WEFT_AF_UNIX && addr->u.path[0])))
        return invalid(op);
    *out = NULL;
    op->weft__sock_out = out;
    op->weft__addr = *addr;
    weft_socket_options_init(&op->weft__opts);
    op->weft__opts.reuseaddr = false;
    if (opts)
        op->weft__opts = *opts;
    return &op->base;
}

static weft_future *buf_op(weft_net_op *op, weft_socket *s, int kind, int sock_kind,
                           const void *buf, size_t len, const char *site) {
    init(op, s, kind, sock_kind, site);
    if (!buf && len)
        return invalid(op);
    op->weft__buf = (void *)buf;
    op->weft__len = len;
    return &op->base;
}

weft_future *weft_stream_read_init(weft_net_op *op, weft_stream *s, void *buf, size_t len,
                                   const char *site) {
    return buf_op(op, s, K_READ, WEFT__SOCK_STREAM, buf, len, site);
}
weft_future *weft_stream_write_init(weft_net_op *op, weft_stream *s, const void *buf, size_t len,
                                    const char *site) {
    return buf_op(op, s, K_WRITE, WEFT__SOCK_STREAM, buf, len, site);
}
weft_future *weft_stream_read_exact_init(weft_net_op *op, weft_stream *s, void *buf, size_t len,
                                         const char *site) {
    return buf_op(op, s, K_READ_EXACT, WEFT__SOCK_STREAM, buf, len, site);
}
weft_future *weft_stream_write_all_init(weft_net_op *op, weft_stream *s, const void *buf,
                                        size_t len, const char *site) {
    return buf_op(op, s, K_WRITE_ALL, WEFT__SOCK_STREAM, buf, len, site);
}

static weft_future *vec_op(weft_net_op *op, weft_stream *s, int kind, const weft_iovec *iov,
                           int n, const char *site) {
    init(op, s, kind, WEFT__SOCK_STREAM, site);
    if (!iov || n < 1 || n > WEFT_IOV_MAX)
        return invalid(op);
    for (int i = 0; i < n; i++)
        if (!iov[i].base && iov[i].len)
            return invalid(op);
    op->weft__iov = iov;
    op->weft__iovcnt = n;
    return &op->base;
}

weft_future *weft_stream_readv_init(weft_net_op *op, weft_stream *s, const weft_iovec *iov,
                                    int iovcnt, const char *site) {
    return vec_op(op, s, K_READ, iov, iovcnt, site);
}
weft_future *weft_stream_writev_init(weft_net_op *op, weft_stream *s, const weft_iovec *iov,
                                     int iovcnt, const char *site) {
    return vec_op(op, s, K_WRITE, iov, iovcnt, site);
}

weft_future *weft_datagram_send_to_init(weft_net_op *op, weft_datagram *s, const void *buf,
                                        size_t len, const weft_addr *to, const char *site) {
    buf_op(op, s, K_SEND_TO, WEFT__SOCK_DGRAM, buf, len, site);
    if (op->weft__state == S_INVALID)
        return &op->base;
    if (to) {
        if (to->family != WEFT_AF_INET && to->family != WEFT_AF_INET6 &&
            !(to->family == WEFT_AF_UNIX && to->u.path[0]))
            return invalid(op);
        op->weft__addr = *to;
    }
    return &op->base;
}

weft_future *weft_datagram_recv_from_init(weft_net_op *op, weft_datagram *s, void *buf,
                                          size_t len, weft_addr *from, const char *site) {
    buf_op(op, s, K_RECV_FROM, WEFT__SOCK_DGRAM, buf, len, site);
    op->weft__addr_out = from;
    return &op->base;
}

weft_future *weft_socket_readable_init(weft_net_op *op, weft_socket *s, const char *site) {
    return init(op, s, K_READABLE, 0, site);
}
weft_future *weft_socket_writable_init(weft_net_op *op, weft_socket *s, const char *site) {
    return init(op, s, K_WRITABLE, 0, site);
}

int64_t weft_net_op_result(const weft_net_op *op) {
    if (!op)
        return WEFT_EINVAL;
    return op->weft__state == S_DONE ? op->weft__result : WEFT_EAGAIN;
}

size_t weft_net_op_progress(const weft_net_op *op) { return op ? op->weft__done : 0; }

size_t weft_net_op_datagram_size(const weft_net_op *op) {
    return op && op->weft__kind == K_RECV_FROM ? op->weft__done : 0;
}
