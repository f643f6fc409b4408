/* weft — the machinery the sync primitives share (private): the spin lock
 * (spin.h), the intrusive waiter FIFO and a batch of wakers woken after unlocking.
 *
 * Waiter states: IDLE (not in any list: the owning future may read and
 * write the node freely), QUEUED (in the primitive's list: only touched
 * under the primitive's lock), GRANTED / CLOSED (taken off the list by the
 * waking side, which moved its waker out; the future observes the state
 * under the lock at its next poll or drop).
 */
#ifndef WEFT_RUNTIME_SYNC_IMPL_H
#define WEFT_RUNTIME_SYNC_IMPL_H

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../checked.h"
#include "../rt.h"
#include "../misuse.h"
#include "../spin.h"


/* One try at the spin lock: true if taken (for a fast path that leaves
 * waiting for it, a call, to a slow path of its own). */
static inline bool weft__spin_try(weft__spin *l) {
    return !atomic_exchange_explicit(&l->weft__v, 1, memory_order_acquire);
}

enum { WEFT__W_IDLE = 0, WEFT__W_QUEUED, WEFT__W_GRANTED, WEFT__W_CLOSED };

/* A semaphore acquisition's poll and drop (semaphore.c), for the ops
 * built on it that report themselves under their own name (a mutex's
 * lock is a mutex's lock in a deadlock report, not a semaphore's). */
weft_poll weft__acquire_poll(weft_future *f, weft_context *cx, void *out);
void weft__acquire_drop(weft_future *f);

/* An op's `base.resume` once its node was queued: from then on its poll and
 * drop read the node's state under the lock only (another thread may be
 * granting it).  Hand-written ops use `resume` for nothing else; READY
 * sets it to WEFT__DONE. */
#define QUEUED_ONCE 1u

/* ------------------------------------------------------------ waiter FIFO */
static inline void weft__wl_push(weft__wlist *l, weft_waiter *w) {
    w->weft__next = NULL;
    w->weft__prev = l->weft__tail;
    if (l->weft__tail)
        l->weft__tail->weft__next = w;
    else
        l->weft__head = w;
    l->weft__tail = w;
    w->weft__state = WEFT__W_QUEUED;
}

static inline void weft__wl_remove(weft__wlist *l, weft_waiter *w) {
    if (w->weft__prev)
        w->weft__prev->weft__next = w->weft__next;
    else
        l->weft__head = w->weft__next;
    if (w->weft__next)
        w->weft__next->weft__prev = w->weft__prev;
    else
        l->weft__tail = w->weft__prev;
    w->weft__prev = w->weft__next = NULL;
}

static inline bool weft__wl_empty(const weft__wlist *l) { return l->weft__head == NULL; }

/* Takes a queued node off `l` and hands back its waker (lock held). */
static inline weft_waker weft__wl_unqueue(weft__wlist *l, weft_waiter *w) {
    weft__wl_remove(l, w);
    weft_waker k = w->weft__waker;
    w->weft__waker = (weft_waker){0};
    return k;
}

/* A poll that must wait: queues the op's node `w` at the back of `l` with
 * a clone of the poll's waker, marks the op queued (others may touch the
 * node from now on) and unlocks `lock`.  Returns WEFT_PENDING. */
static inline weft_poll weft__wait_queued(weft__spin *lock, weft__wlist *l, weft_waiter *w,
                                          weft_future *f, weft_context *cx) {
    w->weft__waker = weft_waker_clone(cx->weft__waker);
    weft__wl_push(l, w);
    f->resume = QUEUED_ONCE;
    weft__spin_unlock(lock);
    return WEFT_PENDING;
}

/* The drop of a pending op whose node may still be queued on `l` under
 * `lock`: unqueue it (nothing was handed to it yet, so nothing passes on)
 * and release its waker after unlocking. */
static inline void weft__waiter_cancel(weft__spin *lock, weft__wlist *l, weft_waiter *w) {
    weft_waker old = {0};
    weft__spin_lock(lock);
    if (w->weft__state == WEFT__W_QUEUED)
        old = weft__wl_unqueue(l, w);
    w->weft__state = WEFT__W_IDLE;
    weft__spin_unlock(lock);
    weft_waker_drop(&old);
}

/* -------------------------------------------------------------- wake batch
 * Wakers collected under a lock and woken after it: a waker may re-enter
 * the primitive (or run the woken task inline on some scheduler). */
#define WEFT__WAKE_BATCH 32
typedef struct weft__wakes {
    size_t n;
    weft_waker w[WEFT__WAKE_BATCH];
} weft__wakes;

static inline bool weft__wakes_full(const weft__wakes *b) { return b->n == WEFT__WAKE_BATCH; }

/* Takes w's waker into the batch and marks the waiter `state`. */
static inline void weft__wakes_take(weft__wakes *b, weft_waiter *w, int state) {
    b->w[b->n++] = w->weft__waker;
    w->weft__waker = (weft_waker){0};
    w->weft__state = state;
}

static inline void weft__wakes_run(weft__wakes *b) {
    for (size_t i = 0; i < b->n; i++)
        weft_waker_wake(&b->w[i]);
    b->n = 0;
}

/* Pops every waiter, marking them `state`, waking in batches; the lock is
 * held on entry and on return. */
static inline void weft__wl_wake_all(weft__spin *lock, weft__wlist *l, int state) {
    weft__wakes b;
    b.n = 0; /* the array is filled before it is read */
    weft_waiter *w;
    while ((w = l->weft__head)) {
        weft__wl_remove(l, w);
        weft__wakes_take(&b, w, state);
        if (weft__wakes_full(&b)) {
            weft__spin_unlock(lock);
            weft__wakes_run(&b);
            weft__spin_lock(lock);
        }
    }
    weft__spin_unlock(lock);
    weft__wakes_run(&b);
    weft__spin_lock(lock);
}

/* Stores the context's waker in a queued waiter (under the lock); the one
 * it replaces goes to `old`, to be dropped after unlocking. */
static inline void weft__waiter_set_waker(weft_waiter *w, const weft_waker *cur, weft_waker *old) {
    if (weft_waker_will_wake(&w->weft__waker, cur))
        return;
    *old = w->weft__waker;
    w->weft__waker = weft_waker_clone(cur);
}

/* ------------------------------------------------------------- semaphore */
/* The semaphore's word (semaphore.c): free permits << 2 | WAITERS | CLOSED. */
#define WEFT__SEM_CLOSED 1u
#define WEFT__SEM_WAITERS 2u
#define WEFT__SEM_ONE 4u

/* The Mutex's fast paths: one compare-and-swap each, from "one free permit,
 * nobody waits" to "taken" and back.  Anything else (a waiter, a closed
 * semaphore, an unlock of a free mutex) fails the swap and goes the
 * general way, which queues, hands over or reports.  Acquire on taking,
 * release on giving back, as the general paths. */
static inline bool weft__sem_take_one(weft_semaphore *s) {
    uint64_t cur = WEFT__SEM_ONE;
    return atomic_compare_exchange_strong_explicit(&s->weft__state, &cur, 0,
                                                   memory_order_acquire, memory_order_relaxed);
}
static inline bool weft__sem_give_one(weft_semaphore *s) {
    uint64_t cur = 0;
    return atomic_compare_exchange_strong_explicit(&s->weft__state, &cur, WEFT__SEM_ONE,
                                                   memory_order_release, memory_order_relaxed);
}
/* A semaphore whose `permits` are all it may ever hold free (Mutex,
 * RwLock); releases past that abort. */
void weft__semaphore_init_bounded(weft_semaphore *s, size_t permits);
/* Releases n permits; aborts naming `fn` with `why` when the free permits
 * would pass the semaphore's maximum. */
void weft__semaphore_release_as(weft_semaphore *s, size_t n, const char *fn, const char *why);

/* ---------------------------------------------------------------- memory */
static inline void *weft__sync_default_alloc(void *ctx, size_t n) {
    (void)ctx;
    return malloc(n);
}
static inline void weft__sync_default_free(void *ctx, void *p, size_t n) {
    (void)ctx;
    (void)n;
    free(p);
}
/* The allocator of a primitive made with `a`: that one, else (NULL) the
 * allocator of runtime `rt` (NULL: the runtime this thread is in), so what
 * a test makes inside a runtime is counted by the runtime's allocator (the
 * harness's leak check sees a channel never dropped), else malloc. */
static inline weft_allocator weft__sync_allocator_of(const weft_allocator *a, weft__rt *rt) {
    if (a && a->alloc && a->free)
        return *a;
    if (!rt)
        rt = weft__cur.rt;
    if (rt && rt->config.allocator.alloc && rt->config.allocator.free)
        return rt->config.allocator;
    return (weft_allocator){weft__sync_default_alloc, weft__sync_default_free, NULL};
}
static inline weft_allocator weft__sync_allocator(const weft_allocator *a) {
    return weft__sync_allocator_of(a, NULL);
}

#endif
