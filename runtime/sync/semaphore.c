/* weft — the fair semaphore, and the Mutex and RwLock built on it.
 *
 * Waiters queue in arrival order; a release serves the head waiter only
 * when enough permits are free for it, so a waiter asking for many permits
 * is not overtaken (no barging, as tokio's batch semaphore).  Permits are
 * handed over whole: a granted waiter owns its permits before it runs,
 * which is what a dropped-but-granted acquire gives back.
 */
#include "sync_impl.h"

int weft_semaphore_init(weft_semaphore *s, size_t permits) {
    if (!s || permits > WEFT_SEMAPHORE_MAX_PERMITS)
        return WEFT_EINVAL;
    weft__spin_init(&s->weft__lock);
    s->weft__waiters = (weft__wlist){0};
    s->weft__permits = permits;
    s->weft__closed = false;
    return 0;
}

void weft_semaphore_destroy(weft_semaphore *s) {
    if (s && !weft__wl_empty(&s->weft__waiters))
        weft__die("semaphore destroyed while tasks wait on it");
}

/* Hands free permits to the head waiters; lock held on entry and return. */
static void serve(weft_semaphore *s) {
    weft__wakes b;
    b.n = 0; /* the array is filled before it is read */
    weft_waiter *w;
    while ((w = s->weft__waiters.weft__head) && w->weft__need <= s->weft__permits) {
        s->weft__permits -= w->weft__need;
        weft__wl_remove(&s->weft__waiters, w);
        weft__wakes_take(&b, w, WEFT__W_GRANTED);
        if (weft__wakes_full(&b)) {
            weft__spin_unlock(&s->weft__lock);
            weft__wakes_run(&b);
            weft__spin_lock(&s->weft__lock);
        }
    }
    if (b.n) {
        weft__spin_unlock(&s->weft__lock);
        weft__wakes_run(&b);
        weft__spin_lock(&s->weft__lock);
    }
}

void weft_semaphore_release(weft_semaphore *s, size_t n) {
    if (!n)
        return;
    weft__spin_lock(&s->weft__lock);
    s->weft__permits += n;
    if (s->weft__permits > WEFT_SEMAPHORE_MAX_PERMITS)
        weft__die("semaphore permits overflow (released more than acquired?)");
    if (s->weft__waiters.weft__head)
        serve(s);
    weft__spin_unlock(&s->weft__lock);
}

void weft_semaphore_close(weft_semaphore *s) {
    weft__spin_lock(&s->weft__lock);
    s->weft__closed = true;
    weft__wl_wake_all(&s->weft__lock, &s->weft__waiters, WEFT__W_CLOSED);
    weft__spin_unlock(&s->weft__lock);
}

bool weft_semaphore_is_closed(weft_semaphore *s) {
    weft__spin_lock(&s->weft__lock);
    bool c = s->weft__closed;
    weft__spin_unlock(&s->weft__lock);
    return c;
}

size_t weft_semaphore_available(weft_semaphore *s) {
    weft__spin_lock(&s->weft__lock);
    size_t n = s->weft__permits;
    weft__spin_unlock(&s->weft__lock);
    return n;
}

int weft_semaphore_try_acquire(weft_semaphore *s, size_t n) {
    if (n > WEFT_SEMAPHORE_MAX_PERMITS)
        return WEFT_EINVAL;
    int rc = WEFT_EAGAIN;
    weft__spin_lock(&s->weft__lock);
    if (s->weft__closed)
        rc = WEFT_ECLOSED;
    else if (weft__wl_empty(&s->weft__waiters) && s->weft__permits >= n) {
        s->weft__permits -= n;
        rc = 0;
    }
    weft__spin_unlock(&s->weft__lock);
    return rc;
}

/* ---------------------------------------------------------------- acquire */

static weft_poll acquire_poll(weft_future *f, weft_context *cx, void *out) {
    weft_acquire_op *op = (weft_acquire_op *)f;
    weft_semaphore *s = op->sem;
    weft_waiter *w = &op->node;
    weft_waker old = {0};
    int rc = 0;
    weft__spin_lock(&s->weft__lock);
    switch (w->weft__state) {
    case WEFT__W_IDLE:
        if (s->weft__closed) {
            rc = WEFT_ECLOSED;
            break;
        }
        if (weft__wl_empty(&s->weft__waiters) && s->weft__permits >= op->n) {
            s->weft__permits -= op->n;
            break;
        }
        w->weft__need = op->n;
        w->weft__waker = weft_waker_clone(cx->weft__waker);
        weft__wl_push(&s->weft__waiters, w);
        weft__spin_unlock(&s->weft__lock);
        return WEFT_PENDING;
    case WEFT__W_QUEUED:
        weft__waiter_set_waker(w, cx->weft__waker, &old);
        weft__spin_unlock(&s->weft__lock);
        weft_waker_drop(&old);
        return WEFT_PENDING;
    case WEFT__W_GRANTED:
        break;
    default:
        rc = WEFT_ECLOSED;
        break;
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&s->weft__lock);
    /* A new op or a re-poll after READY starts over: never reports the
     * grant twice. */
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

static void acquire_drop(weft_future *f) {
    weft_acquire_op *op = (weft_acquire_op *)f;
    weft_waiter *w = &op->node;
    if (w->weft__state == WEFT__W_IDLE)
        return; /* never queued, or completed: nobody else touches it */
    weft_semaphore *s = op->sem;
    weft_waker old = {0};
    weft__spin_lock(&s->weft__lock);
    if (w->weft__state == WEFT__W_QUEUED) {
        weft__wl_remove(&s->weft__waiters, w);
        old = w->weft__waker;
        w->weft__waker = (weft_waker){0};
        /* Its leaving may unblock the waiters behind it. */
        if (s->weft__waiters.weft__head)
            serve(s);
    } else if (w->weft__state == WEFT__W_GRANTED) {
        /* Handed permits it will never use: pass them on. */
        s->weft__permits += op->n;
        serve(s);
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&s->weft__lock);
    weft_waker_drop(&old);
}

static const weft_future_vtable acquire_vt = {acquire_poll, acquire_drop, sizeof(weft_acquire_op),
                                              sizeof(int), "weft_semaphore_acquire", 0};

weft_future *weft_semaphore_acquire_init(weft_acquire_op *op, weft_semaphore *s, size_t n,
                                         const char *site) {
    weft_future_init(&op->base, &acquire_vt, site);
    op->sem = s;
    op->n = n;
    op->node = (weft_waiter){0};
    return &op->base;
}
