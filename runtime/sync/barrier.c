/* weft — Barrier: `n` tasks wait until all of them arrived; the last to
 * arrive is the generation's leader and releases the others.
 *
 * Not cancel-safe: a waiter dropped before the generation completed is no
 * longer counted, so the barrier waits for another arrival instead.
 */
#include "sync_impl.h"

int weft_barrier_init(weft_barrier *b, size_t n) {
    if (!b)
        return WEFT_EINVAL;
    weft__spin_init(&b->weft__lock);
    b->weft__waiters = (weft__wlist){0};
    b->weft__n = n ? n : 1;
    b->weft__arrived = 0;
    b->weft__gen = 0;
    return 0;
}

void weft_barrier_destroy(weft_barrier *b) {
    if (b && !weft__wl_empty(&b->weft__waiters))
        weft__die("barrier destroyed while tasks wait on it");
}

static weft_poll barrier_poll(weft_future *f, weft_context *cx, void *out) {
    weft_barrier_op *op = (weft_barrier_op *)f;
    weft_barrier *b = op->barrier;
    weft_waiter *w = &op->node;
    weft_waker old = {0};
    int leader = 0;
    weft__spin_lock(&b->weft__lock);
    switch (w->weft__state) {
    case WEFT__W_IDLE:
        if (++b->weft__arrived == b->weft__n) {
            b->weft__arrived = 0;
            b->weft__gen++;
            leader = 1;
            weft__wl_wake_all(&b->weft__lock, &b->weft__waiters, WEFT__W_GRANTED);
            break;
        }
        return weft__wait_queued(&b->weft__lock, &b->weft__waiters, w, f, cx);
    case WEFT__W_QUEUED:
        weft__waiter_set_waker(w, cx->weft__waker, &old);
        weft__spin_unlock(&b->weft__lock);
        weft_waker_drop(&old);
        return WEFT_PENDING;
    default:
        break;
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&b->weft__lock);
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = leader;
    return WEFT_READY;
}

static void barrier_drop(weft_future *f) {
    weft_barrier_op *op = (weft_barrier_op *)f;
    weft_waiter *w = &op->node;
    if (f->resume != QUEUED_ONCE)
        return; /* never queued, or done: nobody else touches the node */
    weft_barrier *b = op->barrier;
    weft_waker old = {0};
    weft__spin_lock(&b->weft__lock);
    if (w->weft__state == WEFT__W_QUEUED) {
        old = weft__wl_unqueue(&b->weft__waiters, w);
        b->weft__arrived--; /* it no longer counts */
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&b->weft__lock);
    weft_waker_drop(&old);
}

static const weft_future_vtable barrier_vt = {barrier_poll, barrier_drop, sizeof(weft_barrier_op),
                                              sizeof(int), "weft_barrier_wait", 0};

weft_future *weft_barrier_wait_init(weft_barrier_op *op, weft_barrier *b, const char *site) {
    WEFT__NEED(op, "weft_barrier_wait", "op");
    WEFT__NEED(b, "weft_barrier_wait", "barrier");
    weft_future_init(&op->base, &barrier_vt, site);
    op->barrier = b;
    op->node = (weft_waiter){0};
    op->gen = 0;
    return &op->base;
}
