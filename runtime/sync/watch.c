/* weft — watch: one sender publishes the latest value; receivers wait for a
 * version they have not seen.
 *
 * The value lives in the shared allocation; receivers are caller-owned
 * {channel, seen version} pairs.  The allocation goes with the last end
 * (the sender and `receivers` are counted under the lock).  A send wakes
 * every waiting `changed`; they re-check the version themselves, so a
 * dropped one loses nothing.
 */
#include "sync_impl.h"

struct weft_watch {
    weft__spin lock;
    size_t elem;
    uint64_t version; /* bumped by each send */
    size_t receivers;
    size_t refs; /* ends alive; the dropping sender keeps its reference
                  * until it is done waking the receivers */
    bool tx_alive;
    weft__wlist waiters;
    weft_allocator alloc;
    _Alignas(16) unsigned char value[];
};

int weft_watch_new(size_t elem, const void *initial, const weft_allocator *a, weft_watch **tx) {
    size_t bytes;
    if (!tx || (!initial && elem) || !weft__size_add(&bytes, sizeof(weft_watch), elem))
        return WEFT_EINVAL;
    weft_allocator al = weft__sync_allocator(a);
    weft_watch *c = al.alloc(al.ctx, bytes);
    if (!c)
        return WEFT_ENOMEM;
    weft__spin_init(&c->lock);
    c->elem = elem;
    c->version = 0;
    c->receivers = 0;
    c->refs = 1;
    c->tx_alive = true;
    c->waiters = (weft__wlist){0};
    c->alloc = al;
    if (elem)
        memcpy(c->value, initial, elem);
    *tx = c;
    return 0;
}

/* Releases one reference; lock held on entry, released here. */
static void unref_unlock(weft_watch *c) {
    bool free_it = --c->refs == 0;
    weft__spin_unlock(&c->lock);
    if (free_it)
        c->alloc.free(c->alloc.ctx, c, sizeof *c + c->elem);
}

int weft_watch_send(weft_watch *c, const void *value) {
    if (!c || (!value && c->elem))
        return WEFT_EINVAL;
    weft__spin_lock(&c->lock);
    if (c->receivers == 0) {
        weft__spin_unlock(&c->lock);
        return WEFT_ECLOSED;
    }
    memcpy(c->value, value, c->elem);
    c->version++;
    weft__wl_wake_all(&c->lock, &c->waiters, WEFT__W_GRANTED);
    weft__spin_unlock(&c->lock);
    return 0;
}

void weft_watch_tx_drop(weft_watch *c) {
    if (!c)
        return;
    weft__spin_lock(&c->lock);
    c->tx_alive = false;
    weft__wl_wake_all(&c->lock, &c->waiters, WEFT__W_CLOSED);
    unref_unlock(c);
}

void weft_watch_subscribe(weft_watch *c, weft_watch_rx *rx) {
    WEFT__NEED(c, "weft_watch_subscribe", "sender");
    WEFT__NEED(rx, "weft_watch_subscribe", "receiver");
    weft__spin_lock(&c->lock);
    c->receivers++;
    c->refs++;
    rx->chan = c;
    rx->seen = c->version;
    weft__spin_unlock(&c->lock);
}

void weft_watch_rx_clone(const weft_watch_rx *rx, weft_watch_rx *copy) {
    WEFT__NEED(rx && rx->chan, "weft_watch_rx_clone", "or dropped receiver");
    WEFT__NEED(copy, "weft_watch_rx_clone", "copy");
    weft_watch *c = rx->chan;
    weft__spin_lock(&c->lock);
    c->receivers++;
    c->refs++;
    copy->chan = c;
    copy->seen = rx->seen;
    weft__spin_unlock(&c->lock);
}

void weft_watch_rx_drop(weft_watch_rx *rx) {
    if (!rx || !rx->chan)
        return;
    weft_watch *c = rx->chan;
    rx->chan = NULL;
    weft__spin_lock(&c->lock);
    c->receivers--;
    unref_unlock(c);
}

void weft_watch_borrow(weft_watch_rx *rx, void *dst) {
    WEFT__NEED(rx && rx->chan, "weft_watch_borrow", "or dropped receiver");
    weft_watch *c = rx->chan;
    weft__spin_lock(&c->lock);
    if (dst)
        memcpy(dst, c->value, c->elem);
    rx->seen = c->version;
    weft__spin_unlock(&c->lock);
}

bool weft_watch_has_changed(const weft_watch_rx *rx) {
    if (!rx || !rx->chan)
        return false;
    weft_watch *c = rx->chan;
    weft__spin_lock(&c->lock);
    bool changed = c->version != rx->seen;
    weft__spin_unlock(&c->lock);
    return changed;
}

static weft_poll changed_poll(weft_future *f, weft_context *cx, void *out) {
    weft_watch_changed_op *op = (weft_watch_changed_op *)f;
    weft_watch *c = op->rx->chan;
    weft_waiter *w = &op->node;
    weft_waker old = {0};
    int rc = 0;
    weft__spin_lock(&c->lock);
    if (w->weft__state == WEFT__W_QUEUED) {
        weft__waiter_set_waker(w, cx->weft__waker, &old);
        weft__spin_unlock(&c->lock);
        weft_waker_drop(&old);
        return WEFT_PENDING;
    }
    w->weft__state = WEFT__W_IDLE; /* woken: look again */
    if (c->version != op->rx->seen) {
        op->rx->seen = c->version;
    } else if (!c->tx_alive) {
        rc = WEFT_ECLOSED;
    } else {
        return weft__wait_queued(&c->lock, &c->waiters, w, f, cx);
    }
    weft__spin_unlock(&c->lock);
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

static void changed_drop(weft_future *f) {
    weft_watch_changed_op *op = (weft_watch_changed_op *)f;
    weft_waiter *w = &op->node;
    if (f->resume != QUEUED_ONCE)
        return; /* never queued, or done: nobody else touches the node */
    weft_watch *c = op->rx->chan;
    weft__waiter_cancel(&c->lock, &c->waiters, w);
}

static const weft_future_vtable changed_vt = {changed_poll, changed_drop,
                                              sizeof(weft_watch_changed_op), sizeof(int),
                                              "weft_watch_changed", 0};

weft_future *weft_watch_changed_init(weft_watch_changed_op *op, weft_watch_rx *rx,
                                     const char *site) {
    WEFT__NEED(op, "weft_watch_changed", "op");
    WEFT__NEED(rx && rx->chan, "weft_watch_changed", "or dropped receiver");
    weft_future_init(&op->base, &changed_vt, site);
    op->rx = rx;
    op->node = (weft_waiter){0};
    return &op->base;
}
