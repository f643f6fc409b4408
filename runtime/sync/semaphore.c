/* weft — the fair semaphore (the Mutex and RwLock are built on it).
 *
 * Waiters queue in arrival order; permits are handed over whole and only
 * to the head waiter, so a waiter asking for many is not overtaken (no
 * barging, as tokio's batch semaphore).  A granted waiter owns its
 * permits before it runs, which is what a dropped-but-granted acquire
 * gives back.
 *
 * The fast path is one atomic word: free permits, a WAITERS bit and a
 * CLOSED bit.  While nobody waits, acquire is one compare-and-swap and
 * release one fetch-add.  WAITERS is set and cleared under the lock,
 * exactly while the waiter list is non-empty; meanwhile free permits are
 * moved from the word into `held` (under the lock), where only the head
 * waiter can get them.  Memory order: a release publishes with `release`,
 * an acquire takes with `acquire`; permits passed through the slow path are
 * ordered by the lock.
 *
 * `max` bounds the free permits: a release that would pass it gives back
 * what was never taken and aborts (for a Mutex, max 1: an unlock of a
 * mutex nobody holds).  The release checks n first, so the multiplication
 * into the word cannot wrap.
 */
#include "sync_impl.h"

#define S_CLOSED WEFT__SEM_CLOSED
#define S_WAITERS WEFT__SEM_WAITERS
#define S_ONE WEFT__SEM_ONE
#define PERMITS(w) ((w) >> 2)

enum { TAKEN, SLOW, CLOSED };

static inline uint64_t load(weft_semaphore *s) {
    return atomic_load_explicit(&s->weft__state, memory_order_acquire);
}

static inline bool cas(weft_semaphore *s, uint64_t *cur, uint64_t next) {
    return atomic_compare_exchange_weak_explicit(&s->weft__state, cur, next,
                                                 memory_order_acq_rel, memory_order_acquire);
}

/* Takes n permits from the word if nobody waits. */
static inline int take_fast(weft_semaphore *s, size_t n) {
    uint64_t cur = atomic_load_explicit(&s->weft__state, memory_order_relaxed);
    for (;;) {
        if (cur & (S_CLOSED | S_WAITERS))
            return cur & S_CLOSED ? CLOSED : SLOW;
        if (PERMITS(cur) < n)
            return SLOW;
        if (cas(s, &cur, cur - (uint64_t)n * S_ONE))
            return TAKEN;
    }
}

int weft_semaphore_init(weft_semaphore *s, size_t permits) {
    if (!s || permits > WEFT_SEMAPHORE_MAX_PERMITS)
        return WEFT_EINVAL;
    atomic_init(&s->weft__state, (uint64_t)permits * S_ONE);
    weft__spin_init(&s->weft__lock);
    s->weft__waiters = (weft__wlist){0};
    s->weft__held = 0;
    s->weft__max = WEFT_SEMAPHORE_MAX_PERMITS;
    return 0;
}

/* The Mutex and the RwLock: a semaphore whose every permit exists from
 * the start, so a free count past it is an unlock of what is not held. */
void weft__semaphore_init_bounded(weft_semaphore *s, size_t permits) {
    weft_semaphore_init(s, permits);
    s->weft__max = permits;
}

void weft_semaphore_destroy(weft_semaphore *s) {
    if (s && !weft__wl_empty(&s->weft__waiters))
        weft__die("semaphore destroyed while tasks wait on it");
}

/* ------------------------------------------------- slow path (lock held) */

/* Moves the word's free permits into `held` (while WAITERS is set, a
 * release may still have added some there). */
static void sweep(weft_semaphore *s) {
    uint64_t cur = load(s);
    while ((cur & S_WAITERS) && PERMITS(cur)) {
        if (cas(s, &cur, cur & (S_CLOSED | S_WAITERS)))
            s->weft__held += PERMITS(cur);
    }
}

static const char *const overflow_msg = "permits overflow (released more than acquired?)";

/* Nobody waits any more: held permits go back to the word, WAITERS off. */
static void settle(weft_semaphore *s) {
    if (!weft__wl_empty(&s->weft__waiters))
        return;
    uint64_t cur = load(s);
    if (!(cur & S_WAITERS))
        return;
    while (!cas(s, &cur, (cur + (uint64_t)s->weft__held * S_ONE) & ~(uint64_t)S_WAITERS))
        ;
    s->weft__held = 0;
}

/* Hands held permits to the head waiters, waking them in batches after
 * unlocking; then settles.  Lock held on entry and return. */
static void serve(weft_semaphore *s) {
    weft__wakes b;
    b.n = 0;
    for (;;) {
        sweep(s);
        weft_waiter *w = s->weft__waiters.weft__head;
        if (w && w->weft__need <= s->weft__held) {
            s->weft__held -= w->weft__need;
            weft__wl_remove(&s->weft__waiters, w);
            weft__wakes_take(&b, w, WEFT__W_GRANTED);
            if (!weft__wakes_full(&b))
                continue;
        }
        if (!b.n)
            break;
        weft__spin_unlock(&s->weft__lock);
        weft__wakes_run(&b);
        weft__spin_lock(&s->weft__lock);
    }
    settle(s);
}

/* ------------------------------------------------------------ operations */

/* The release behind semaphore_release and the unlocks: `fn` and `why`
 * name the misuse when the free permits would pass the maximum. */
void weft__semaphore_release_as(weft_semaphore *s, size_t n, const char *fn, const char *why) {
    WEFT__NEED(s, fn, "semaphore");
    if (!n)
        return;
    if (n > s->weft__max)
        weft__die_misuse(fn, why);
    if (atomic_load_explicit(&s->weft__state, memory_order_relaxed) & S_WAITERS) {
        /* Waiters queue: the permits are theirs, so they go to `held`
         * directly, under the lock, rather than through the word (an add
         * there and a sweep back).  WAITERS is only cleared under the
         * lock, so seen set there it stays set until we unlock. */
        weft__spin_lock(&s->weft__lock);
        if (load(s) & S_WAITERS) {
            s->weft__held += n;
            sweep(s); /* free permits another release left in the word */
            if (s->weft__held > s->weft__max)
                weft__die_misuse(fn, why);
            serve(s);
            weft__spin_unlock(&s->weft__lock);
            return;
        }
        weft__spin_unlock(&s->weft__lock); /* the last waiter left meanwhile */
    }
    uint64_t old = atomic_fetch_add_explicit(&s->weft__state, (uint64_t)n * S_ONE,
                                             memory_order_acq_rel);
    if (!(old & S_WAITERS)) {
        if (PERMITS(old) + n > s->weft__max)
            weft__die_misuse(fn, why);
        return;
    }
    weft__spin_lock(&s->weft__lock);
    sweep(s); /* every free permit is in `held` now */
    if (s->weft__held > s->weft__max)
        weft__die_misuse(fn, why);
    serve(s);
    weft__spin_unlock(&s->weft__lock);
}

void weft_semaphore_release(weft_semaphore *s, size_t n) {
    weft__semaphore_release_as(s, n, "weft_semaphore_release", overflow_msg);
}

void weft_semaphore_close(weft_semaphore *s) {
    if (!s)
        return;
    atomic_fetch_or_explicit(&s->weft__state, S_CLOSED, memory_order_acq_rel);
    weft__spin_lock(&s->weft__lock);
    weft__wl_wake_all(&s->weft__lock, &s->weft__waiters, WEFT__W_CLOSED);
    settle(s);
    weft__spin_unlock(&s->weft__lock);
}

bool weft_semaphore_is_closed(weft_semaphore *s) { return !s || (load(s) & S_CLOSED) != 0; }

size_t weft_semaphore_available(weft_semaphore *s) {
    if (!s)
        return 0;
    weft__spin_lock(&s->weft__lock);
    size_t n = (size_t)PERMITS(load(s)) + s->weft__held;
    weft__spin_unlock(&s->weft__lock);
    return n;
}

int weft_semaphore_try_acquire(weft_semaphore *s, size_t n) {
    if (!s || n > WEFT_SEMAPHORE_MAX_PERMITS)
        return WEFT_EINVAL;
    switch (take_fast(s, n)) {
    case TAKEN:
        return 0;
    case CLOSED:
        return WEFT_ECLOSED;
    default:
        return WEFT_EAGAIN;
    }
}

/* ---------------------------------------------------------------- acquire */

/* First poll that missed the fast path: take permits under the lock or
 * queue.  Returns TAKEN, CLOSED or SLOW (queued). */
static int acquire_slow(weft_acquire_op *op, weft_context *cx) {
    weft_semaphore *s = op->sem;
    weft_waiter *w = &op->node;
    weft__spin_lock(&s->weft__lock);
    uint64_t cur = load(s);
    for (;;) {
        if (cur & S_CLOSED) {
            weft__spin_unlock(&s->weft__lock);
            return CLOSED;
        }
        if (cur & S_WAITERS)
            break;
        if (PERMITS(cur) >= op->n) { /* released since the fast path looked */
            if (cas(s, &cur, cur - (uint64_t)op->n * S_ONE)) {
                weft__spin_unlock(&s->weft__lock);
                return TAKEN;
            }
            continue;
        }
        /* First waiter: set the free permits aside for the queue. */
        if (cas(s, &cur, (cur & S_CLOSED) | S_WAITERS)) {
            s->weft__held += PERMITS(cur);
            break;
        }
    }
    w->weft__need = op->n;
    w->weft__waker = weft_waker_clone(cx->weft__waker);
    weft__wl_push(&s->weft__waiters, w);
    serve(s); /* permits may have come in meanwhile */
    int rc = SLOW;
    if (w->weft__state == WEFT__W_GRANTED) /* served at once */
        w->weft__state = WEFT__W_IDLE;
    if (w->weft__state == WEFT__W_IDLE)
        rc = TAKEN;
    else
        op->base.resume = QUEUED_ONCE; /* others may touch the node now */
    weft__spin_unlock(&s->weft__lock);
    return rc;
}

weft_poll weft__acquire_poll(weft_future *f, weft_context *cx, void *out) {
    weft_acquire_op *op = (weft_acquire_op *)f;
    weft_semaphore *s = op->sem;
    weft_waiter *w = &op->node;
    int rc = 0;
    if (f->resume != QUEUED_ONCE) { /* the node is ours: never queued */
        int r = op->n > WEFT_SEMAPHORE_MAX_PERMITS ? CLOSED : take_fast(s, op->n);
        if (r == SLOW)
            r = acquire_slow(op, cx);
        if (r == SLOW)
            return WEFT_PENDING;
        rc = r == TAKEN ? 0 : op->n > WEFT_SEMAPHORE_MAX_PERMITS ? WEFT_EINVAL : WEFT_ECLOSED;
    } else {
        weft_waker old = {0};
        weft__spin_lock(&s->weft__lock);
        int st = w->weft__state;
        if (st == WEFT__W_QUEUED) {
            weft__waiter_set_waker(w, cx->weft__waker, &old);
            weft__spin_unlock(&s->weft__lock);
            weft_waker_drop(&old);
            return WEFT_PENDING;
        }
        w->weft__state = WEFT__W_IDLE;
        weft__spin_unlock(&s->weft__lock);
        rc = st == WEFT__W_GRANTED ? 0 : WEFT_ECLOSED;
    }
    f->resume = WEFT__DONE; /* never reports the grant twice */
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

void weft__acquire_drop(weft_future *f) {
    weft_acquire_op *op = (weft_acquire_op *)f;
    weft_waiter *w = &op->node;
    if (f->resume != QUEUED_ONCE)
        return; /* never queued, or done: nobody else touches the node */
    weft_semaphore *s = op->sem;
    weft_waker old = {0};
    bool give_back = false;
    weft__spin_lock(&s->weft__lock);
    if (w->weft__state == WEFT__W_QUEUED) {
        weft__wl_remove(&s->weft__waiters, w);
        old = w->weft__waker;
        w->weft__waker = (weft_waker){0};
        serve(s); /* its leaving may unblock the waiters behind it */
    } else if (w->weft__state == WEFT__W_GRANTED) {
        give_back = true; /* handed permits it will never use */
    }
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(&s->weft__lock);
    weft_waker_drop(&old);
    if (give_back)
        weft__semaphore_release_as(s, op->n, "weft_semaphore_acquire", overflow_msg);
}

static const weft_future_vtable acquire_vt = {weft__acquire_poll, weft__acquire_drop,
                                              sizeof(weft_acquire_op),
                                              sizeof(int), "weft_semaphore_acquire", 0};

weft_future *weft_semaphore_acquire_init(weft_acquire_op *op, weft_semaphore *s, size_t n,
                                         const char *site) {
    WEFT__NEED(op, "weft_semaphore_acquire", "op");
    WEFT__NEED(s, "weft_semaphore_acquire", "semaphore");
    weft_future_init(&op->base, &acquire_vt, site);
    op->sem = s;
    op->n = n;
    op->node.weft__state = WEFT__W_IDLE; /* the rest is set when it queues */
    return &op->base;
}
