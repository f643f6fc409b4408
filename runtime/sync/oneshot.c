/* weft — oneshot: one value from one sender to one receiver.
 *
 * One allocation shared by both ends, freed by whichever end goes last
 * (`ends` counts them under the lock).  Both handle types point at it.
 */
#include "sync_impl.h"

typedef struct weft__oneshot {
    weft__spin lock;
    weft_allocator alloc;
    size_t elem;
    int ends;          /* live ends: 2, 1, then freed */
    bool has_value;    /* the value sits in `value` */
    bool tx_gone;      /* sender sent or dropped */
    bool rx_gone;      /* receiver dropped */
    weft_waker rx_waker;
    _Alignas(16) unsigned char value[];
} weft__oneshot;

#define CH(p) ((weft__oneshot *)(void *)(p))

int weft_oneshot_new(size_t elem, const weft_allocator *a, weft_oneshot_tx **tx,
                     weft_oneshot_rx **rx) {
    size_t bytes;
    if (!tx || !rx || !weft__size_add(&bytes, sizeof(weft__oneshot), elem))
        return WEFT_EINVAL;
    weft_allocator al = weft__sync_allocator(a);
    weft__oneshot *c = al.alloc(al.ctx, bytes);
    if (!c)
        return WEFT_ENOMEM;
    weft__spin_init(&c->lock);
    c->alloc = al;
    c->elem = elem;
    c->ends = 2;
    c->has_value = c->tx_gone = c->rx_gone = false;
    c->rx_waker = (weft_waker){0};
    *tx = (weft_oneshot_tx *)(void *)c;
    *rx = (weft_oneshot_rx *)(void *)c;
    return 0;
}

/* Drops one end's share; the lock is held on entry and released here. */
static void release_end(weft__oneshot *c) {
    bool last = --c->ends == 0;
    weft__spin_unlock(&c->lock);
    if (last)
        c->alloc.free(c->alloc.ctx, c, sizeof *c + c->elem);
}

static int tx_finish(weft__oneshot *c, const void *value) {
    int rc = 0;
    weft__spin_lock(&c->lock);
    if (c->tx_gone)
        weft__die("oneshot sender used after send or drop");
    if (value) {
        if (c->rx_gone)
            rc = WEFT_ECLOSED;
        else {
            if (c->elem) /* an empty value (a bare signal) copies nothing */
                memcpy(c->value, value, c->elem);
            c->has_value = true;
        }
    }
    c->tx_gone = true;
    weft_waker w = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    release_end(c);
    if (w.vt)
        weft_waker_wake(&w);
    return rc;
}

int weft_oneshot_send(weft_oneshot_tx *tx, const void *value) {
    static const char none = 0;
    if (!tx)
        return WEFT_EINVAL;
    if (!value) { /* only a channel of empty values takes none */
        if (CH(tx)->elem)
            return WEFT_EINVAL;
        value = &none;
    }
    return tx_finish(CH(tx), value);
}

void weft_oneshot_tx_drop(weft_oneshot_tx *tx) {
    if (tx)
        tx_finish(CH(tx), NULL);
}

bool weft_oneshot_tx_is_closed(weft_oneshot_tx *tx) {
    if (!tx)
        return true;
    weft__oneshot *c = CH(tx);
    weft__spin_lock(&c->lock);
    bool closed = c->rx_gone;
    weft__spin_unlock(&c->lock);
    return closed;
}

/* 0, EAGAIN or ECLOSED; lock held. */
static int take_locked(weft__oneshot *c, void *dst) {
    if (c->has_value) {
        if (dst && c->elem)
            memcpy(dst, c->value, c->elem);
        c->has_value = false;
        c->tx_gone = true;
        return 0;
    }
    return c->tx_gone ? WEFT_ECLOSED : WEFT_EAGAIN;
}

int weft_oneshot_try_recv(weft_oneshot_rx *rx, void *dst) {
    if (!rx)
        return WEFT_EINVAL;
    weft__oneshot *c = CH(rx);
    weft__spin_lock(&c->lock);
    int rc = take_locked(c, dst);
    weft__spin_unlock(&c->lock);
    return rc;
}

void weft_oneshot_rx_drop(weft_oneshot_rx *rx) {
    if (!rx)
        return;
    weft__oneshot *c = CH(rx);
    weft__spin_lock(&c->lock);
    c->rx_gone = true;
    c->has_value = false; /* a value sent but never received is dropped */
    weft_waker w = c->rx_waker;
    c->rx_waker = (weft_waker){0};
    release_end(c);
    weft_waker_drop(&w);
}

static const weft_future_vtable recv_vt, recv_done_vt;

/* A ready receive has taken the value (or learnt there is none) and gives
 * up the receiving end in the same locked step, instead of locking again
 * in its drop: nothing can tell the two apart, as the sender is gone by
 * then.  The op is left holding nothing, so its drop is left out. */
static weft_poll recv_poll(weft_future *f, weft_context *cx, void *out) {
    weft_oneshot_recv_op *op = (weft_oneshot_recv_op *)f;
    weft__oneshot *c = CH(op->rx);
    weft_waker old = {0};
    weft__spin_lock(&c->lock);
    int rc = take_locked(c, op->dst);
    if (rc == WEFT_EAGAIN) {
        if (!weft_waker_will_wake(&c->rx_waker, cx->weft__waker)) {
            old = c->rx_waker;
            c->rx_waker = weft_waker_clone(cx->weft__waker);
        }
        weft__spin_unlock(&c->lock);
        if (old.vt) /* a waker of another task replaced */
            weft_waker_drop(&old);
        return WEFT_PENDING;
    }
    /* weft_oneshot_rx_drop's work; the value was taken (has_value off) */
    c->rx_gone = true;
    old = c->rx_waker; /* the sender took it when it went: normally none */
    c->rx_waker = (weft_waker){0};
    release_end(c);
    op->rx = NULL;
    if (old.vt)
        weft_waker_drop(&old);
    f->vt = &recv_done_vt;
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

static void recv_drop(weft_future *f) {
    weft_oneshot_recv_op *op = (weft_oneshot_recv_op *)f;
    weft_oneshot_rx *rx = op->rx;
    op->rx = NULL;
    weft_oneshot_rx_drop(rx);
}

static const weft_future_vtable recv_vt = {recv_poll, recv_drop, sizeof(weft_oneshot_recv_op),
                                           sizeof(int), "weft_oneshot_recv", 0};
static const weft_future_vtable recv_done_vt = {recv_poll, NULL, sizeof(weft_oneshot_recv_op),
                                                sizeof(int), "weft_oneshot_recv", 0};

weft_future *weft_oneshot_recv_init(weft_oneshot_recv_op *op, weft_oneshot_rx *rx, void *dst,
                                    const char *site) {
    WEFT__NEED(op, "weft_oneshot_recv", "op");
    WEFT__NEED(rx, "weft_oneshot_recv", "receiver");
    op->base = (weft_future){&recv_vt, NULL, site, 0, 0}; /* weft_future_init, checks known to pass */
    op->rx = rx;
    op->dst = dst;
    return &op->base;
}
