/* weft — socket operations as futures on a completion driver (IOCP): the
 * other half of op.c's state machine.
 *
 *   idle --first poll--> submitted --report--> done
 *                          |  ^
 *                          |  | read_exact / write_all: the next part
 *                          +--+
 *
 * Each submission is one record (weft__comp): the driver's
 * weft_io_completion (its OVERLAPPED lives there) and a buffer of the
 * record's own.  Sends copy the caller's bytes in before the call,
 * receives copy them out after the report, so the kernel never holds the
 * caller's memory and net.h's promise (after completion or drop, weft
 * never touches the buffer again) needs no waiting: a copy per byte,
 * which a loopback echo does not notice beside the system calls.
 *
 * Dropping an op while its record is submitted: we choose an orphan list
 * over a drop that waits for the completion packet.  The drop cancels the
 * call (the driver's cancel: CancelIoEx, then a short bounded wait until
 * the kernel has settled it, which it does at once for a cancelled
 * socket call), and the record, still referenced by the driver, lives
 * on until its packet arrives (freed then, by whichever thread reports
 * it).  Waiting for the packet itself in drop would need the one thread
 * that dequeues packets, which may be the dropping thread; the kernel's
 * settling does not.  What the kernel had done when it settled is kept,
 * so a cancelled op means what it means on epoll: bytes a cancelled read
 * had already received wait in the socket's `carry` for the next read (a
 * cancelled read consumed nothing), bytes a cancelled write had sent
 * count in weft_net_op_progress.  (Only a call the kernel failed to
 * settle within the driver's bound, which a cancelled socket call never
 * takes, would be left to its packet alone: bytes it then received are
 * dropped with the record.)
 *
 * Accepts: the listener keeps WEFT__ACCEPTS_POSTED AcceptEx calls posted
 * (its accept pool, made at bind), topped up by accept ops; connections
 * taken while no accept op waits queue there for the next one, so a
 * dropped accept loses no connection (as a dropped accept on epoll leaves
 * it in the backlog), and the listener's close closes what is queued or
 * still arriving: no accepted socket is ever leaked.
 *
 * Readiness futures: readable posts a zero-byte receive (ends when a read
 * would not block, consuming nothing; on a listener, when the pool holds
 * a connection); writable ends at once (a completion driver has no send
 * readiness: Winsock takes a send whole).
 */
#include <string.h>

#include "net_impl.h"

#define SYS(io) ((io)->ops->sys)

/* The most one stream record moves: a longer read returns what came, a
 * longer write_all goes out in parts of this size. */
#define CHUNK (64u << 10)
/* A datagram record holds any UDP datagram, so a short caller buffer
 * still learns the datagram's size (WEFT_ETRUNCATED with the size, as on
 * Linux, where Windows itself would not say). */
#define DGRAM_MAX 65536u

/* --------------------------------------------------------------- records */

static weft__comp *comp_new(weft__io *io, int opcode, size_t cap) {
    weft__comp *r = weft__alloc(io->rt, sizeof *r + cap);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->c.op = opcode;
    r->c.buf = cap ? (char *)(r + 1) : NULL;
    r->c.accepted = WEFT_OS_SOCKET_NONE;
    r->io = io;
    r->cap = cap;
    weft__spin_init(&r->lock);
    atomic_init(&r->refs, 1);
    return r;
}

static void comp_unref(weft__comp *r) {
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        weft__free(r->io->rt, r, sizeof *r + r->cap);
}

static void pool_unref(weft__accept_pool *p, weft__io *io) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        weft__free(io->rt, p, sizeof *p);
}

/* Hands `r` to the driver for an operation on `s`.  0: submitted (maybe
 * already reported); else nothing started. */
static int comp_submit(weft__comp *r, weft_socket *s) {
    weft__io *io = r->io;
    r->c.sock = s->os;
    r->c.family = s->family;
    r->c.type = s->kind == WEFT__SOCK_DGRAM ? WEFT_SOCK_DGRAM : WEFT_SOCK_STREAM;
    r->c.sock_data = s->src.driver_data;
    r->state = WEFT__COMP_SUBMITTED;
    r->orphan = false;
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed); /* the driver's */
    atomic_fetch_add_explicit(&io->inflight, 1, memory_order_relaxed);
    int err = WEFT_ECLOSED;
    if (weft__sock_enter(s)) { /* the handle stays open through the call */
        err = io->ops->submit(io->drv, &r->c);
        weft__sock_leave(s);
    }
    if (err) {
        r->state = WEFT__COMP_IDLE; /* no report will come */
        atomic_fetch_sub_explicit(&io->inflight, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&r->refs, 1, memory_order_relaxed);
    }
    return err;
}

/* An accept record's report: the new socket goes to the pool's queue, or
 * is closed if the listener is gone. */
static void accept_reported(weft__comp *r, int64_t result) {
    weft__io *io = r->io;
    weft__accept_pool *p = r->pool;
    weft_os_socket close_it = WEFT_OS_SOCKET_NONE;
    weft_waker w = {0};
    weft__spin_lock(&p->lock);
    p->posted--;
    if (result == 0 && !p->closed && p->len < WEFT__ACCEPTS_POSTED) {
        int at = (p->head + p->len) % WEFT__ACCEPTS_POSTED;
        p->q[at].os = r->c.accepted;
        p->q[at].peer = r->c.addr;
        p->len++;
    } else {
        close_it = r->c.accepted; /* the listener closed, or the call failed */
    }
    /* Wake the accept op either way: it takes the connection, or posts
     * again (a connection reset before we took it is not the op's error). */
    w = p->waker;
    p->waker = (weft_waker){0};
    weft__spin_unlock(&p->lock);
    if (close_it != WEFT_OS_SOCKET_NONE)
        SYS(io)->close(io->drv, close_it);
    if (w.vt)
        weft_waker_wake(&w);
    pool_unref(p, io);
    atomic_fetch_sub_explicit(&io->inflight, 1, memory_order_release);
    comp_unref(r);
}

void weft_io_complete(weft_io_completion *c, int64_t result) {
    weft__comp *r = (weft__comp *)c;
    weft__io *io = r->io;
    if (r->pool) {
        accept_reported(r, result);
        return;
    }
    weft__spin_lock(&r->lock);
    r->result = result;
    r->state = WEFT__COMP_DONE;
    weft_waker w = r->waker;
    r->waker = (weft_waker){0};
    weft__spin_unlock(&r->lock);
    if (w.vt)
        weft_waker_wake(&w);
    atomic_fetch_sub_explicit(&io->inflight, 1, memory_order_release);
    comp_unref(r); /* the driver's; an orphan is freed here */
}

/* ---------------------------------------------------------------- copies */

static size_t want_of(const weft_net_op *op) {
    if (op->weft__iov) {
        size_t t = 0;
        for (int i = 0; i < op->weft__iovcnt; i++)
            t += op->weft__iov[i].len;
        return t;
    }
    return op->weft__len - op->weft__done;
}

/* Copies up to `n` bytes from `src` into the op's buffers (at its
 * progress for read_exact): the count copied. */
static size_t copy_out(weft_net_op *op, const char *src, size_t n) {
    if (op->weft__iov) {
        size_t got = 0;
        for (int i = 0; i < op->weft__iovcnt && got < n; i++) {
            size_t k = op->weft__iov[i].len < n - got ? op->weft__iov[i].len : n - got;
            memcpy(op->weft__iov[i].base, src + got, k);
            got += k;
        }
        return got;
    }
    size_t room = op->weft__len - op->weft__done;
    size_t k = n < room ? n : room;
    memcpy((char *)op->weft__buf + op->weft__done, src, k);
    return k;
}

static size_t copy_in(const weft_net_op *op, char *dst, size_t cap) {
    if (op->weft__iov) {
        size_t put = 0;
        for (int i = 0; i < op->weft__iovcnt && put < cap; i++) {
            size_t k = op->weft__iov[i].len < cap - put ? op->weft__iov[i].len : cap - put;
            memcpy(dst + put, op->weft__iov[i].base, k);
            put += k;
        }
        return put;
    }
    size_t k = op->weft__len - op->weft__done;
    k = k < cap ? k : cap;
    memcpy(dst, (const char *)op->weft__buf + op->weft__done, k);
    return k;
}

/* ------------------------------------------------------------ submitting */

static int opcode_of(const weft_net_op *op) {
    switch (op->weft__kind) {
    case K_CONNECT:
        return WEFT_IO_OP_CONNECT;
    case K_READ:
    case K_READ_EXACT:
        return WEFT_IO_OP_RECV;
    case K_WRITE:
    case K_WRITE_ALL:
        return WEFT_IO_OP_SEND;
    case K_RECV_FROM:
        return WEFT_IO_OP_RECV_FROM;
    case K_SEND_TO:
        return op->weft__addr.family ? WEFT_IO_OP_SEND_TO : WEFT_IO_OP_SEND;
    default:
        return WEFT_IO_OP_POLL_READ;
    }
}

/* Submits the op's next call (its first, or read_exact's / write_all's
 * next part), reusing its record when it is large enough. */
static int submit_next(weft_net_op *op) {
    weft_socket *s = op->weft__sock;
    int opcode = opcode_of(op);
    size_t want = 0, cap = 0;
    switch (opcode) {
    case WEFT_IO_OP_RECV:
    case WEFT_IO_OP_SEND:
        want = want_of(op);
        cap = want < CHUNK ? want : CHUNK;
        if (op->weft__kind == K_SEND_TO)
            cap = want; /* a datagram goes whole */
        break;
    case WEFT_IO_OP_SEND_TO:
        cap = want = op->weft__len;
        break;
    case WEFT_IO_OP_RECV_FROM:
        cap = DGRAM_MAX;
        break;
    }
    weft__comp *r = op->weft__driver;
    if (r && r->cap < cap) {
        comp_unref(r);
        r = op->weft__driver = NULL;
    }
    if (!r) {
        if (!(r = comp_new(s->io, opcode, cap)))
            return WEFT_ENOMEM;
        op->weft__driver = r;
    }
    r->c.op = opcode;
    r->c.len = cap;
    if (opcode == WEFT_IO_OP_SEND || opcode == WEFT_IO_OP_SEND_TO)
        r->c.len = copy_in(op, r->c.buf, cap);
    if (opcode == WEFT_IO_OP_SEND_TO || opcode == WEFT_IO_OP_CONNECT)
        r->c.addr = op->weft__addr;
    return comp_submit(r, s);
}

/* A connect's socket: made, bound (ConnectEx needs a bound socket: the
 * caller's bind_addr, else the family's wildcard), associated with the
 * driver; the connect itself is the record's. */
static int start_connect(weft_net_op *op) {
    int err;
    weft__io *io = weft__io_current(&err);
    if (!io)
        return err;
    if (op->weft__addr.family == WEFT_AF_UNIX)
        return WEFT_EAFNOSUPPORT;
    weft_os_socket os;
    err = weft__sock_open(io, &op->weft__addr, WEFT_SOCK_STREAM, &op->weft__opts, false, &os);
    if (err)
        return err;
    weft_addr any = {.family = op->weft__addr.family};
    err = SYS(io)->bind(io->drv, os, op->weft__opts.bind_addr ? op->weft__opts.bind_addr : &any);
    if (err) {
        SYS(io)->close(io->drv, os);
        return err;
    }
    err = weft__sock_new(io, os, WEFT__SOCK_STREAM, op->weft__addr.family, 0, &op->weft__sock);
    if (err)
        return err;
    op->weft__flags |= F_CONNECTING;
    return 0;
}

/* ---------------------------------------------------------------- accept */

/* Takes the op's waker back from the pool, if it is still there. */
static void pool_forget(weft_net_op *op) {
    if (!(op->weft__flags & F_POOL))
        return;
    weft__accept_pool *p = op->weft__sock->pool;
    weft__spin_lock(&p->lock);
    weft_waker w = p->waker;
    p->waker = (weft_waker){0};
    weft__spin_unlock(&p->lock);
    weft_waker_drop(&w);
    op->weft__flags &= ~F_POOL;
}

static weft_poll accept_end(weft_net_op *op, int64_t res, void *out) {
    pool_forget(op);
    return weft__op_finish(op, res, out);
}

/* Accept (or, with `peek`, a listener's readable: a connection waits,
 * left queued for the accept to come). */
static weft_poll accept_poll(weft_net_op *op, weft_context *cx, void *out, bool peek) {
    weft_socket *l = op->weft__sock;
    weft__io *io = l->io;
    weft__accept_pool *p = l->pool;
    int err = 0;
    for (;;) {
        weft__spin_lock(&p->lock);
        if (p->len && peek) {
            weft__spin_unlock(&p->lock);
            return accept_end(op, 0, out);
        }
        if (p->len) {
            weft_os_socket os = p->q[p->head].os;
            weft_addr peer = p->q[p->head].peer;
            p->head = (p->head + 1) % WEFT__ACCEPTS_POSTED;
            p->len--;
            weft__spin_unlock(&p->lock);
            if (l->nodelay)
                SYS(io)->setopt(io->drv, os, WEFT_SO_NODELAY, 1);
            if (op->weft__addr_out)
                *op->weft__addr_out = peer;
            return accept_end(op, weft__sock_new(io, os, WEFT__SOCK_STREAM, l->family,
                                                      WEFT_IO_READABLE | WEFT_IO_WRITABLE,
                                                      op->weft__sock_out),
                                   out);
        }
        if (p->closed) {
            weft__spin_unlock(&p->lock);
            return accept_end(op, WEFT_ECLOSED, out);
        }
        int need = WEFT__ACCEPTS_POSTED - p->posted - p->len;
        if (need <= 0 || err) {
            if (p->posted == 0) { /* nothing posted will ever wake us */
                weft__spin_unlock(&p->lock);
                return accept_end(op, err ? err : WEFT_EIO, out);
            }
            weft_waker_set(&p->waker, weft_cx_waker(cx));
            op->weft__flags |= F_POOL;
            weft__spin_unlock(&p->lock);
            return WEFT_PENDING;
        }
        p->posted += need;
        atomic_fetch_add_explicit(&p->refs, (uint32_t)need, memory_order_relaxed);
        weft__spin_unlock(&p->lock);
        for (int i = 0; i < need; i++) {
            weft__comp *r = err ? NULL : comp_new(io, WEFT_IO_OP_ACCEPT, 0);
            if (!r && !err)
                err = WEFT_ENOMEM;
            if (r) {
                r->pool = p;
                err = comp_submit(r, l);
                comp_unref(r); /* the pool owns none: the driver's reference frees it */
            }
            if (err) { /* this one and the rest were never posted */
                weft__spin_lock(&p->lock);
                p->posted--;
                weft__spin_unlock(&p->lock);
                pool_unref(p, io);
            }
        }
        /* Look again: a call may have finished at once. */
    }
}

void weft__comp_listener_closed(weft_socket *l) {
    weft__accept_pool *p = l->pool;
    if (!p)
        return;
    weft__io *io = l->io;
    weft__spin_lock(&p->lock);
    p->closed = true;
    int n = p->len;
    weft_os_socket q[WEFT__ACCEPTS_POSTED];
    for (int i = 0; i < n; i++)
        q[i] = p->q[(p->head + i) % WEFT__ACCEPTS_POSTED].os;
    p->len = 0;
    weft_waker w = p->waker;
    p->waker = (weft_waker){0};
    weft__spin_unlock(&p->lock);
    for (int i = 0; i < n; i++) /* taken by the kernel, never by the caller */
        SYS(io)->close(io->drv, q[i]);
    if (w.vt)
        weft_waker_wake(&w);
    /* The pool itself stays until the socket is freed (ops that name the
     * listener may still look at it); posted calls still reporting hold
     * it too. */
}

int weft__comp_listener_pool(weft_socket *l) {
    weft__accept_pool *p = weft__alloc(l->io->rt, sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    memset(p, 0, sizeof *p);
    weft__spin_init(&p->lock);
    atomic_init(&p->refs, 1);
    l->pool = p;
    return 0;
}

/* --------------------------------------------------------------- the op */

/* Reads served from the carry of a dropped read: a result, or
 * WEFT_EAGAIN when there is none. */
static int64_t from_carry(weft_net_op *op) {
    weft_socket *s = op->weft__sock;
    weft__comp *r = s->carry;
    if (!r)
        return WEFT_EAGAIN;
    size_t len = s->carry_len;
    if (op->weft__kind == K_RECV_FROM) { /* one whole datagram */
        size_t n = len;
        size_t k = n < op->weft__len ? n : op->weft__len;
        memcpy(op->weft__buf, r->c.buf, k);
        if (op->weft__addr_out)
            *op->weft__addr_out = r->c.addr;
        s->carry = NULL;
        comp_unref(r);
        if (n > op->weft__len) {
            op->weft__done = n;
            return WEFT_ETRUNCATED;
        }
        return (int64_t)n;
    }
    size_t k = copy_out(op, r->c.buf + s->carry_off, len - s->carry_off);
    s->carry_off += k;
    if (s->carry_off == len) {
        s->carry = NULL;
        s->carry_off = 0;
        comp_unref(r);
    }
    return (int64_t)k;
}

static bool closed(weft_socket *s) {
    return (atomic_load_explicit(&s->use, memory_order_acquire) & WEFT__USE_CLOSED) != 0;
}

/* The report of the op's record: a final result, or WEFT_EAGAIN when a
 * next part was submitted. */
static int64_t consume(weft_net_op *op, weft__comp *r) {
    int64_t res = r->result;
    weft_socket *s = op->weft__sock;
    if (res < 0)
        return closed(s) ? WEFT_ECLOSED : res;
    switch (op->weft__kind) {
    case K_READ:
        return (int64_t)copy_out(op, r->c.buf, (size_t)res);
    case K_READ_EXACT:
        if (res == 0)
            return WEFT_EEOF;
        op->weft__done += copy_out(op, r->c.buf, (size_t)res);
        break;
    case K_WRITE_ALL:
        op->weft__done += (size_t)res;
        break;
    case K_RECV_FROM: {
        size_t n = (size_t)res, k = n < op->weft__len ? n : op->weft__len;
        memcpy(op->weft__buf, r->c.buf, k);
        if (op->weft__addr_out)
            *op->weft__addr_out = r->c.addr;
        if (n > op->weft__len) {
            op->weft__done = n;
            return WEFT_ETRUNCATED;
        }
        return res;
    }
    default: /* write, send_to, connect, readable */
        return res;
    }
    if (op->weft__done < op->weft__len)
        return WEFT_EAGAIN;
    return (int64_t)op->weft__len;
}

static weft_poll done(weft_net_op *op, int64_t res, void *out) {
    if (op->weft__driver) {
        comp_unref(op->weft__driver);
        op->weft__driver = NULL;
    }
    return weft__op_finish(op, res, out);
}

weft_poll weft__comp_op_poll(weft_net_op *op, weft_context *cx, void *out) {
    if (!weft_coop_proceed(cx))
        return WEFT_PENDING;
    if (op->weft__state == S_IDLE) {
        op->weft__state = S_WAITING;
        if (op->weft__kind == K_CONNECT) {
            int err = start_connect(op);
            if (err)
                return weft__op_finish(op, err, out);
        }
        weft_socket *s = op->weft__sock;
        uint32_t bit = 1u << op->weft__side;
        if (atomic_fetch_or_explicit(&s->busy, bit, memory_order_acquire) & bit)
            return weft__op_finish(op, WEFT_EBUSY, out);
        op->weft__flags |= F_CLAIMED;
        if (closed(s))
            return weft__op_finish(op, WEFT_ECLOSED, out);
        switch (op->weft__kind) {
        case K_WRITABLE:
            return weft__op_finish(op, 0, out);
        case K_READ:
        case K_WRITE:
            if (op->weft__len == 0 && !op->weft__iov)
                return weft__op_finish(op, 0, out);
            break;
        case K_READABLE:
            if (s->carry)
                return weft__op_finish(op, 0, out);
            break;
        }
        if (s->carry && (op->weft__kind == K_READ || op->weft__kind == K_RECV_FROM)) {
            int64_t got = from_carry(op);
            return weft__op_finish(op, got, out);
        }
        if (s->carry && op->weft__kind == K_READ_EXACT) {
            op->weft__done += (size_t)from_carry(op);
            if (op->weft__done == op->weft__len)
                return weft__op_finish(op, (int64_t)op->weft__len, out);
        }
    }
    if (op->weft__kind == K_ACCEPT)
        return accept_poll(op, cx, out, false);
    if (op->weft__kind == K_READABLE && op->weft__sock->kind == WEFT__SOCK_LISTENER)
        return accept_poll(op, cx, out, true);
    /* A record exists only once submitted: a poll after a wake finds it
     * submitted or reported (its state is read under its lock only). */
    bool submit = op->weft__driver == NULL;
    for (;;) {
        if (submit) {
            int err = submit_next(op);
            if (err)
                return done(op, closed(op->weft__sock) ? WEFT_ECLOSED : err, out);
        }
        weft__comp *r = op->weft__driver;
        weft__spin_lock(&r->lock);
        if (r->state != WEFT__COMP_DONE) {
            weft_waker_set(&r->waker, weft_cx_waker(cx));
            weft__spin_unlock(&r->lock);
            return WEFT_PENDING;
        }
        weft__spin_unlock(&r->lock);
        int64_t res = consume(op, r);
        if (res != WEFT_EAGAIN)
            return done(op, res, out);
        r->state = WEFT__COMP_IDLE; /* the next part */
        submit = true;
    }
}

void weft__comp_op_drop(weft_net_op *op) {
    weft_socket *s = op->weft__sock;
    weft__io *io = s->io;
    pool_forget(op);
    weft__comp *r = op->weft__driver;
    if (!r)
        return;
    op->weft__driver = NULL;
    weft__spin_lock(&r->lock);
    int state = r->state;
    weft_waker w = r->waker;
    r->waker = (weft_waker){0};
    weft__spin_unlock(&r->lock);
    weft_waker_drop(&w);
    int64_t res = WEFT_ECANCELED;
    if (state == WEFT__COMP_SUBMITTED) {
        res = io->ops->cancel(io->drv, &r->c);
        weft__spin_lock(&r->lock);
        if (r->state == WEFT__COMP_DONE)
            res = r->result; /* the report came meanwhile: it is the truth */
        else
            r->orphan = true; /* the driver's reference frees it at the report */
        weft__spin_unlock(&r->lock);
    } else if (state == WEFT__COMP_DONE) {
        res = r->result; /* reported, never consumed */
    }
    if (res > 0 && (r->c.op == WEFT_IO_OP_RECV || r->c.op == WEFT_IO_OP_RECV_FROM) &&
        !s->carry && op->weft__kind != K_READABLE) {
        s->carry = r; /* the kernel's bytes wait for the next read */
        s->carry_len = (size_t)res;
        s->carry_off = 0;
        return;
    }
    /* A send the kernel had made before it settled went out: its bytes
     * count in the op's progress (which a readiness driver's dropped
     * write never has: it sent nothing). */
    if (res > 0 && (r->c.op == WEFT_IO_OP_SEND || r->c.op == WEFT_IO_OP_SEND_TO))
        op->weft__done += (size_t)res;
    comp_unref(r);
}

void weft__comp_socket_freed(weft_socket *s) {
    if (s->pool) {
        pool_unref(s->pool, s->io);
        s->pool = NULL;
    }
    if (s->carry) {
        comp_unref(s->carry);
        s->carry = NULL;
    }
}
