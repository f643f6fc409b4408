/* weft — broadcast: every receiver gets every value, from a bounded ring.
 *
 * Values are numbered by position; the ring keeps the last `cap` of them.
 * A receiver is a caller-owned {channel, next position} pair, so sending
 * never waits for slow receivers: the one that falls more than `cap`
 * behind learns how many values it missed (WEFT_ELAGGED) and resumes at
 * the oldest value kept, as tokio's.  A send wakes every waiting recv;
 * each re-checks its own position, so a dropped recv loses nothing.
 */
#include "sync_impl.h"

struct weft_broadcast {
    weft__spin lock;
    size_t elem, cap;
    uint64_t tail; /* position of the next value sent */
    size_t senders, receivers;
    size_t refs; /* senders + receivers, but a dropping sender keeps its
                  * reference until it is done waking (others may drop
                  * their ends meanwhile) */
    weft__wlist waiters;
    weft_allocator alloc;
    _Alignas(16) unsigned char buf[]; /* cap slots of elem bytes */
};

static size_t bytes_of(size_t elem, size_t cap) {
    return sizeof(weft_broadcast) + cap * (elem ? elem : 1);
}

int weft_broadcast_new(size_t elem, size_t cap, const weft_allocator *a, weft_broadcast **tx,
                       weft_broadcast_rx *rx) {
    size_t bytes;
    if (!tx || !rx || cap == 0 ||
        !weft__size_mac(&bytes, sizeof(weft_broadcast), cap, elem ? elem : 1))
        return WEFT_EINVAL;
    weft_allocator al = weft__sync_allocator(a);
    weft_broadcast *c = al.alloc(al.ctx, bytes_of(elem, cap));
    if (!c)
        return WEFT_ENOMEM;
    weft__spin_init(&c->lock);
    c->elem = elem;
    c->cap = cap;
    c->tail = 0;
    c->senders = 1;
    c->receivers = 1;
    c->refs = 2;
    c->waiters = (weft__wlist){0};
    c->alloc = al;
    *tx = c;
    rx->chan = c;
    rx->next = 0;
    return 0;
}

/* Releases one reference; lock held on entry, released here. */
static void unref_unlock(weft_broadcast *c) {
    bool free_it = --c->refs == 0;
    weft__spin_unlock(&c->lock);
    if (free_it)
        c->alloc.free(c->alloc.ctx, c, bytes_of(c->elem, c->cap));
}

weft_broadcast *weft_broadcast_tx_clone(weft_broadcast *c) {
    if (!c)
        return NULL;
    weft__spin_lock(&c->lock);
    c->senders++;
    c->refs++;
    weft__spin_unlock(&c->lock);
    return c;
}

void weft_broadcast_tx_drop(weft_broadcast *c) {
    if (!c)
        return;
    weft__spin_lock(&c->lock);
    if (c->senders == 0)
        weft__die("broadcast sender dropped twice");
    if (--c->senders == 0) /* waiting receivers see the end */
        weft__wl_wake_all(&c->lock, &c->waiters, WEFT__W_CLOSED);
    unref_unlock(c);
}

int weft_broadcast_send(weft_broadcast *c, const void *value) {
    if (!c || (!value && c->elem))
        return WEFT_EINVAL;
    weft__spin_lock(&c->lock);
    if (c->receivers == 0) {
        weft__spin_unlock(&c->lock);
        return WEFT_ECLOSED;
    }
    memcpy(c->buf + (c->tail % c->cap) * c->elem, value, c->elem);
    c->tail++;
    weft__wl_wake_all(&c->lock, &c->waiters, WEFT__W_GRANTED);
    weft__spin_unlock(&c->lock);
    return 0;
}

void weft_broadcast_subscribe(weft_broadcast *c, weft_broadcast_rx *rx) {
    WEFT__NEED(c, "weft_broadcast_subscribe", "sender");
    WEFT__NEED(rx, "weft_broadcast_subscribe", "receiver");
    weft__spin_lock(&c->lock);
    c->receivers++;
    c->refs++;
    rx->chan = c;
    rx->next = c->tail;
    weft__spin_unlock(&c->lock);
}

void weft_broadcast_rx_drop(weft_broadcast_rx *rx) {
    if (!rx || !rx->chan)
        return;
    weft_broadcast *c = rx->chan;
    rx->chan = NULL;
    weft__spin_lock(&c->lock);
    c->receivers--;
    unref_unlock(c);
}

/* One receive attempt; lock held. */
static int take(weft_broadcast *c, weft_broadcast_rx *rx, void *dst, uint64_t *missed) {
    if (rx->next == c->tail)
        return c->senders == 0 ? WEFT_ECLOSED : WEFT_EAGAIN;
    uint64_t oldest = c->tail > c->cap ? c->tail - c->cap : 0;
    if (rx->next < oldest) {
        if (missed)
            *missed = oldest - rx->next;
        rx->next = oldest;
        return WEFT_ELAGGED;
    }
    if (dst)
        memcpy(dst, c->buf + (rx->next % c->cap) * c->elem, c->elem);
    rx->next++;
    return 0;
}

int weft_broadcast_try_recv(weft_broadcast_rx *rx, void *dst, uint64_t *missed) {
    if (!rx || !rx->chan)
        return WEFT_EINVAL;
    weft_broadcast *c = rx->chan;
    weft__spin_lock(&c->lock);
    int rc = take(c, rx, dst, missed);
    weft__spin_unlock(&c->lock);
    return rc;
}

static weft_poll recv_poll(weft_future *f, weft_context *cx, void *out) {
    weft_broadcast_recv_op *op = (weft_broadcast_recv_op *)f;
    weft_broadcast *c = op->rx->chan;
    weft_waiter *w = &op->node;
    weft_waker old = {0};
    weft__spin_lock(&c->lock);
    if (w->weft__state == WEFT__W_QUEUED) {
        weft__waiter_set_waker(w, cx->weft__waker, &old);
        weft__spin_unlock(&c->lock);
        weft_waker_drop(&old);
        return WEFT_PENDING;
    }
    w->weft__state = WEFT__W_IDLE; /* woken: look again */
    int rc = take(c, op->rx, op->dst, &op->missed);
    if (rc == WEFT_EAGAIN)
        return weft__wait_queued(&c->lock, &c->waiters, w, f, cx);
    weft__spin_unlock(&c->lock);
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

static void recv_drop(weft_future *f) {
    weft_broadcast_recv_op *op = (weft_broadcast_recv_op *)f;
    weft_waiter *w = &op->node;
    if (f->resume != QUEUED_ONCE)
        return; /* never queued, or done: nobody else touches the node */
    weft_broadcast *c = op->rx->chan;
    weft__waiter_cancel(&c->lock, &c->waiters, w);
}

static const weft_future_vtable recv_vt = {recv_poll, recv_drop, sizeof(weft_broadcast_recv_op),
                                           sizeof(int), "weft_broadcast_recv", 0};

weft_future *weft_broadcast_recv_init(weft_broadcast_recv_op *op, weft_broadcast_rx *rx, void *dst,
                                      const char *site) {
    WEFT__NEED(op, "weft_broadcast_recv", "op");
    WEFT__NEED(rx && rx->chan, "weft_broadcast_recv", "or dropped receiver");
    weft_future_init(&op->base, &recv_vt, site);
    op->rx = rx;
    op->dst = dst;
    op->missed = 0;
    op->node = (weft_waiter){0};
    return &op->base;
}
