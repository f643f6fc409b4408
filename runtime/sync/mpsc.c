/* weft — mpsc: many senders, one receiver; bounded or unbounded.
 *
 * One allocation holds the state; the values live in a ring of fixed-size
 * slots (power of two), fixed for a bounded channel and doubled on demand
 * for an unbounded one.  A bounded send that finds the ring full queues
 * its op (FIFO); each receive that frees a slot copies the first waiting
 * sender's value in and wakes it, so a sender is done the moment it is
 * granted and a dropped send either sent everything or nothing.
 *
 * The receiver's waker is taken out by the send that wakes it and stored
 * again by the next receive that finds the ring empty.  Handles are the
 * channel pointer; `senders` and `rx_alive` count the ends.
 */
#include "sync_impl.h"

#define UNBOUNDED SIZE_MAX
#define FIRST_SLOTS 64

typedef struct weft__mpsc {
    weft__spin lock;
    size_t elem;
    size_t cap;          /* queued values that make a send wait */
    unsigned char *buf;  /* ring of `mask + 1` slots */
    size_t mask, head, len;
    weft__wlist blocked; /* senders waiting for a slot */
    weft_waker rx_waker; /* the receiver, while it waits */
    size_t senders;      /* live sender handles */
    bool rx_alive;
    bool closed;         /* no more sends: receiver closed or gone */
    weft_allocator alloc;
} weft__mpsc;

#define CH(p) ((weft__mpsc *)(void *)(p))

static size_t pow2_at_least(size_t n) {
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static int make(size_t elem, size_t cap, size_t slots, const weft_allocator *a,
                weft_mpsc_tx **tx, weft_mpsc_rx **rx) {
    if (!tx || !rx)
        return WEFT_EINVAL;
    weft_allocator al = weft__sync_allocator(a);
    weft__mpsc *c = al.alloc(al.ctx, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    size_t bytes = slots * (elem ? elem : 1);
    c->buf = al.alloc(al.ctx, bytes);
    if (!c->buf) {
        al.free(al.ctx, c, sizeof *c);
        return WEFT_ENOMEM;
    }
    weft__spin_init(&c->lock);
    c->elem = elem;
    c->cap = cap;
    c->mask = slots - 1;
    c->head = c->len = 0;
    c->blocked = (weft__wlist){0};
    c->rx_waker = (weft_waker){0};
    c->senders = 1;
    c->rx_alive = true;
    c->closed = false;
    c->alloc = al;
    *tx = (weft_mpsc_tx *)(void *)c;
    *rx = (weft_mpsc_rx *)(void *)c;
    return 0;
}

int weft_mpsc_bounded(size_t elem, size_t cap, const weft_allocator *a, weft_mpsc_tx **tx,
                      weft_mpsc_rx **rx) {
    if (cap == 0 || cap > ((size_t)1 << 40))
        return WEFT_EINVAL;
    return make(elem, cap, pow2_at_least(cap), a, tx, rx);
}

int weft_mpsc_unbounded(size_t elem, const weft_allocator *a, weft_mpsc_tx **tx,
                        weft_mpsc_rx **rx) {
    return make(elem, UNBOUNDED, FIRST_SLOTS, a, tx, rx);
}

static void destroy(weft__mpsc *c) {
    c->alloc.free(c->alloc.ctx, c->buf, (c->mask + 1) * (c->elem ? c->elem : 1));
    c->alloc.free(c->alloc.ctx, c, sizeof *c);
}

/* --------------------------------------------------------------- the ring */

/* Doubles the ring, keeping the order (unbounded only); lock held. */
static int grow(weft__mpsc *c) {
    size_t slots = c->mask + 1, e = c->elem ? c->elem : 1;
    unsigned char *nb = c->alloc.alloc(c->alloc.ctx, 2 * slots * e);
    if (!nb)
        return WEFT_ENOMEM;
    size_t first = slots - c->head; /* slots from head to the ring's end */
    if (first > c->len)
        first = c->len;
    memcpy(nb, c->buf + c->head * e, first * e);
    memcpy(nb + first * e, c->buf, (c->len - first) * e);
    c->alloc.free(c->alloc.ctx, c->buf, slots * e);
    c->buf = nb;
    c->head = 0;
    c->mask = 2 * slots - 1;
    return 0;
}

static inline void push(weft__mpsc *c, const void *v) {
    size_t i = (c->head + c->len) & c->mask;
    memcpy(c->buf + i * c->elem, v, c->elem);
    c->len++;
}

static inline void pop(weft__mpsc *c, void *dst) {
    if (dst)
        memcpy(dst, c->buf + c->head * c->elem, c->elem);
    c->head = (c->head + 1) & c->mask;
    c->len--;
}

/* Tries to queue `v` now; lock held.  0, EFULL, ECLOSED or ENOMEM; on 0
 * `*wake` may hold the receiver's waker. */
static int try_push(weft__mpsc *c, const void *v, weft_waker *wake) {
    if (c->closed)
        return WEFT_ECLOSED;
    if (c->len >= c->cap || !weft__wl_empty(&c->blocked))
        return WEFT_EFULL;
    if (c->len > c->mask) {
        int err = grow(c);
        if (err)
            return err;
    }
    push(c, v);
    *wake = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    return 0;
}

/* ---------------------------------------------------------------- senders */

weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx) {
    weft__mpsc *c = CH(tx);
    weft__spin_lock(&c->lock);
    c->senders++;
    weft__spin_unlock(&c->lock);
    return tx;
}

void weft_mpsc_tx_drop(weft_mpsc_tx *tx) {
    if (!tx)
        return;
    weft__mpsc *c = CH(tx);
    weft_waker w = {0};
    weft__spin_lock(&c->lock);
    if (c->senders == 0)
        weft__die("mpsc sender dropped twice");
    bool last = --c->senders == 0;
    if (last) { /* the receiver sees the end once it drained the ring */
        w = c->rx_waker;
        c->rx_waker = (weft_waker){0};
    }
    bool free_it = last && !c->rx_alive;
    weft__spin_unlock(&c->lock);
    weft_waker_wake(&w);
    if (free_it)
        destroy(c);
}

int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value) {
    weft__mpsc *c = CH(tx);
    weft_waker w = {0};
    weft__spin_lock(&c->lock);
    int rc = try_push(c, value, &w);
    weft__spin_unlock(&c->lock);
    weft_waker_wake(&w);
    return rc;
}

bool weft_mpsc_is_closed(weft_mpsc_tx *tx) {
    weft__mpsc *c = CH(tx);
    weft__spin_lock(&c->lock);
    bool closed = c->closed;
    weft__spin_unlock(&c->lock);
    return closed;
}

static weft_poll send_poll(weft_future *f, weft_context *cx, void *out) {
    weft_mpsc_send_op *op = (weft_mpsc_send_op *)f;
    weft__mpsc *c = CH(op->tx);
    weft_waiter *n = &op->node;
    weft_waker w = {0};
    int rc = 0;
    weft__spin_lock(&c->lock);
    switch (n->weft__state) {
    case WEFT__W_IDLE:
        rc = try_push(c, op->value, &w);
        if (rc == WEFT_EFULL) {
            n->weft__waker = weft_waker_clone(cx->weft__waker);
            weft__wl_push(&c->blocked, n);
            weft__spin_unlock(&c->lock);
            return WEFT_PENDING;
        }
        break;
    case WEFT__W_QUEUED:
        weft__waiter_set_waker(n, cx->weft__waker, &w);
        weft__spin_unlock(&c->lock);
        weft_waker_drop(&w);
        return WEFT_PENDING;
    case WEFT__W_GRANTED:
        break;
    default:
        rc = WEFT_ECLOSED;
        break;
    }
    n->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&c->lock);
    weft_waker_wake(&w);
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

static void send_drop(weft_future *f) {
    weft_mpsc_send_op *op = (weft_mpsc_send_op *)f;
    weft_waiter *n = &op->node;
    if (n->weft__state == WEFT__W_IDLE)
        return;
    weft__mpsc *c = CH(op->tx);
    weft_waker old = {0};
    weft__spin_lock(&c->lock);
    if (n->weft__state == WEFT__W_QUEUED) {
        weft__wl_remove(&c->blocked, n); /* nothing was sent */
        old = n->weft__waker;
        n->weft__waker = (weft_waker){0};
    }
    /* GRANTED: the value was queued whole before the drop. */
    n->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&c->lock);
    weft_waker_drop(&old);
}

static const weft_future_vtable send_vt = {send_poll, send_drop, sizeof(weft_mpsc_send_op),
                                           sizeof(int), "weft_mpsc_send", 0};

weft_future *weft_mpsc_send_init(weft_mpsc_send_op *op, weft_mpsc_tx *tx, const void *value,
                                 const char *site) {
    weft_future_init(&op->base, &send_vt, site);
    op->tx = tx;
    op->value = value;
    op->node = (weft_waiter){0};
    return &op->base;
}

/* --------------------------------------------------------------- receiver */

/* Fails every waiting sender; lock held on entry and return. */
static void close_locked(weft__mpsc *c) {
    c->closed = true;
    weft__wl_wake_all(&c->lock, &c->blocked, WEFT__W_CLOSED);
}

void weft_mpsc_rx_close(weft_mpsc_rx *rx) {
    weft__mpsc *c = CH(rx);
    weft__spin_lock(&c->lock);
    close_locked(c);
    weft__spin_unlock(&c->lock);
}

void weft_mpsc_rx_drop(weft_mpsc_rx *rx) {
    if (!rx)
        return;
    weft__mpsc *c = CH(rx);
    weft__spin_lock(&c->lock);
    close_locked(c);
    c->rx_alive = false;
    c->len = 0; /* queued values are discarded (plain bytes: nothing to free) */
    weft_waker w = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    bool free_it = c->senders == 0;
    weft__spin_unlock(&c->lock);
    weft_waker_drop(&w);
    if (free_it)
        destroy(c);
}

size_t weft_mpsc_len(weft_mpsc_rx *rx) {
    weft__mpsc *c = CH(rx);
    weft__spin_lock(&c->lock);
    size_t n = c->len;
    weft__spin_unlock(&c->lock);
    return n;
}

/* Takes one value; lock held.  A freed slot goes to the first waiting
 * sender, whose waker lands in `*wake`. */
static int take(weft__mpsc *c, void *dst, weft_waker *wake) {
    if (c->len == 0)
        return c->senders == 0 || c->closed ? WEFT_ECLOSED : WEFT_EAGAIN;
    pop(c, dst);
    weft_waiter *n = c->blocked.weft__head;
    if (n) {
        weft_mpsc_send_op *op = (weft_mpsc_send_op *)((char *)n - offsetof(weft_mpsc_send_op, node));
        weft__wl_remove(&c->blocked, n);
        push(c, op->value);
        *wake = n->weft__waker;
        n->weft__waker = (weft_waker){0};
        n->weft__state = WEFT__W_GRANTED;
    }
    return 0;
}

int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *dst) {
    weft__mpsc *c = CH(rx);
    weft_waker w = {0};
    weft__spin_lock(&c->lock);
    int rc = take(c, dst, &w);
    weft__spin_unlock(&c->lock);
    weft_waker_wake(&w);
    return rc;
}

static weft_poll recv_poll(weft_future *f, weft_context *cx, void *out) {
    weft_mpsc_recv_op *op = (weft_mpsc_recv_op *)f;
    weft__mpsc *c = CH(op->rx);
    weft_waker w = {0};
    weft__spin_lock(&c->lock);
    int rc = take(c, op->dst, &w);
    if (rc == WEFT_EAGAIN) {
        if (!weft_waker_will_wake(&c->rx_waker, cx->weft__waker)) {
            w = c->rx_waker;
            c->rx_waker = weft_waker_clone(cx->weft__waker);
        }
        weft__spin_unlock(&c->lock);
        weft_waker_drop(&w);
        f->resume = 1; /* registered: the drop takes the waker back */
        return WEFT_PENDING;
    }
    weft__spin_unlock(&c->lock);
    weft_waker_wake(&w);
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

/* A receive dropped while waiting takes its waker back, so the channel
 * holds no reference on a task that stopped listening.  Nothing was taken
 * from the ring, so nothing is lost. */
static void recv_drop(weft_future *f) {
    if (f->resume != 1)
        return;
    weft__mpsc *c = CH(((weft_mpsc_recv_op *)f)->rx);
    weft__spin_lock(&c->lock);
    weft_waker w = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    weft__spin_unlock(&c->lock);
    weft_waker_drop(&w);
}

static const weft_future_vtable recv_vt = {recv_poll, recv_drop, sizeof(weft_mpsc_recv_op), sizeof(int),
                                           "weft_mpsc_recv", 0};

weft_future *weft_mpsc_recv_init(weft_mpsc_recv_op *op, weft_mpsc_rx *rx, void *dst,
                                 const char *site) {
    weft_future_init(&op->base, &recv_vt, site);
    op->rx = rx;
    op->dst = dst;
    return &op->base;
}
