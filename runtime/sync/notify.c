/* weft — Notify: wake one task (or leave it a permit), or every task
 * waiting now.
 *
 * A `notified` records the notify_waiters generation when it is made, so a
 * notify_waiters between its making and its first poll still counts (as in
 * tokio).  A waiter handed a notify_one but dropped before it ran passes
 * the notification on, so none is lost.
 */
#include "sync_impl.h"

/* `need` marks how a waiter was granted: by notify_one (1) or by
 * notify_waiters (0); only the first kind is passed on when dropped. */
#define BY_ONE 1

void weft_notify_init(weft_notify *n) {
    WEFT__NEED(n, "weft_notify_init", "notify");
    weft__spin_init(&n->weft__lock);
    n->weft__waiters = (weft__wlist){0};
    n->weft__gen = 0;
    n->weft__permit = false;
}

void weft_notify_destroy(weft_notify *n) {
    if (n && !weft__wl_empty(&n->weft__waiters))
        weft__die("notify destroyed while tasks wait on it");
}

/* Gives one notification to the first waiter or stores the permit; lock
 * held.  Returns the waker to wake after unlocking. */
static weft_waker notify_one_locked(weft_notify *n) {
    weft_waiter *w = n->weft__waiters.weft__head;
    if (!w) {
        n->weft__permit = true;
        return (weft_waker){0};
    }
    weft_waker k = weft__wl_unqueue(&n->weft__waiters, w);
    w->weft__need = BY_ONE;
    w->weft__state = WEFT__W_GRANTED;
    return k;
}

void weft_notify_one(weft_notify *n) {
    WEFT__NEED(n, "weft_notify_one", "notify");
    weft__spin_lock(&n->weft__lock);
    weft_waker k = notify_one_locked(n);
    weft__spin_unlock(&n->weft__lock);
    weft_waker_wake(&k);
}

void weft_notify_waiters(weft_notify *n) {
    WEFT__NEED(n, "weft_notify_waiters", "notify");
    weft__spin_lock(&n->weft__lock);
    n->weft__gen++;
    /* Queued waiters carry need 0: one dropped before it ran passes
     * nothing on (notify_waiters stores no permit). */
    weft__wl_wake_all(&n->weft__lock, &n->weft__waiters, WEFT__W_GRANTED);
    weft__spin_unlock(&n->weft__lock);
}

static weft_poll notified_poll(weft_future *f, weft_context *cx, void *out) {
    weft_notified_op *op = (weft_notified_op *)f;
    weft_notify *n = op->notify;
    weft_waiter *w = &op->node;
    weft_waker old = {0};
    weft__spin_lock(&n->weft__lock);
    switch (w->weft__state) {
    case WEFT__W_IDLE:
        if (n->weft__gen != op->gen)
            break;
        if (n->weft__permit) {
            n->weft__permit = false;
            break;
        }
        w->weft__need = 0;
        return weft__wait_queued(&n->weft__lock, &n->weft__waiters, w, f, cx);
    case WEFT__W_QUEUED:
        weft__waiter_set_waker(w, cx->weft__waker, &old);
        weft__spin_unlock(&n->weft__lock);
        weft_waker_drop(&old);
        return WEFT_PENDING;
    default:
        break;
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&n->weft__lock);
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = 0;
    return WEFT_READY;
}

bool weft_notified_enable(weft_notified_op *op) {
    WEFT__NEED(op, "weft_notified_enable", "op");
    WEFT__NEED(op->notify, "weft_notified_enable", "op (not made by weft_notified)");
    weft_future *f = &op->base;
    /* registered for a notification: used, not a future forgotten */
    f->flags |= WEFT__F_NOREPORT;
    if (f->resume == WEFT__DONE)
        return true;
    weft_notify *n = op->notify;
    weft_waiter *w = &op->node;
    bool notified = false;
    weft__spin_lock(&n->weft__lock);
    if (w->weft__state == WEFT__W_IDLE) {
        if (n->weft__gen != op->gen) {
            w->weft__state = WEFT__W_GRANTED; /* by notify_waiters: nothing to pass on */
            w->weft__need = 0;
            notified = true;
        } else if (n->weft__permit) {
            n->weft__permit = false; /* taken: the drop passes it on if unused */
            w->weft__state = WEFT__W_GRANTED;
            w->weft__need = BY_ONE;
            notified = true;
        } else {
            w->weft__need = 0;
            w->weft__waker = (weft_waker){0}; /* the first poll sets it */
            weft__wl_push(&n->weft__waiters, w);
        }
        f->resume = QUEUED_ONCE; /* poll and drop read the node under the lock */
    } else {
        notified = w->weft__state == WEFT__W_GRANTED;
    }
    weft__spin_unlock(&n->weft__lock);
    return notified;
}

static void notified_drop(weft_future *f) {
    weft_notified_op *op = (weft_notified_op *)f;
    weft_waiter *w = &op->node;
    if (f->resume != QUEUED_ONCE)
        return; /* never queued, or done: nobody else touches the node */
    weft_notify *n = op->notify;
    weft_waker old = {0}, pass = {0};
    weft__spin_lock(&n->weft__lock);
    if (w->weft__state == WEFT__W_QUEUED) {
        weft__wl_remove(&n->weft__waiters, w);
        old = w->weft__waker;
        w->weft__waker = (weft_waker){0};
    } else if (w->weft__state == WEFT__W_GRANTED && w->weft__need == BY_ONE) {
        pass = notify_one_locked(n);
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&n->weft__lock);
    weft_waker_drop(&old);
    weft_waker_wake(&pass);
}

static const weft_future_vtable notified_vt = {notified_poll, notified_drop,
                                               sizeof(weft_notified_op), sizeof(int),
                                               "weft_notified", 0};

weft_future *weft_notified_init(weft_notified_op *op, weft_notify *n, const char *site) {
    WEFT__NEED(op, "weft_notified", "op");
    WEFT__NEED(n, "weft_notified", "notify");
    weft_future_init(&op->base, &notified_vt, site);
    op->notify = n;
    op->node = (weft_waiter){0};
    weft__spin_lock(&n->weft__lock);
    op->gen = n->weft__gen;
    weft__spin_unlock(&n->weft__lock);
    return &op->base;
}
