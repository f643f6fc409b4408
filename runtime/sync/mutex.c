/* weft — the fair async Mutex: a semaphore of one permit, so unlock hands
 * the lock straight to the first waiter and lock is cancel-safe as acquire.
 * The semaphore is bounded at that one permit: an unlock of a mutex that
 * nobody holds aborts instead of letting two holders in. */
#include <stddef.h>

#include "sync_impl.h"
#ifdef WEFT_HAVE_SIM
#include "sim.h"
#endif

/* The task polling now, as a mutex records its holder: id + 1 (1 for
 * block_on's future), under the simulator; 0 (unknown) elsewhere, where a
 * task has no id to read cheaply.  `rt` is the runtime polling (the
 * context's), NULL for this thread's. */
static uint64_t holder_now(weft__rt *rt) {
#ifdef WEFT_HAVE_SIM
    if (!rt)
        rt = weft__cur.rt;
    if (rt && rt->sched == &weft__sim_ops) {
        weft__sim *s = weft__sim_of(rt);
        if (s->polling)
            return s->current + 1;
    }
#else
    (void)rt;
#endif
    return 0;
}

/* Whether holder_now may find a task id under runtime `rt` (the
 * simulator's, or one not known yet). */
static inline bool holder_known(weft__rt *rt) {
#ifdef WEFT_HAVE_SIM
    return !rt || rt->sched == &weft__sim_ops;
#else
    (void)rt;
    return false;
#endif
}

/* Notes the holder where one is known, and says the lock is ready (out of
 * line, as the fast lock's last step, so the fast lock needs no frame). */
static WEFT__NOINLINE weft_poll ready_noting(weft_mutex *m, weft__rt *rt) {
    m->weft__holder = holder_now(rt);
    return WEFT_READY;
}

static inline weft_mutex *mutex_of(weft_semaphore *sem) {
    return (weft_mutex *)(void *)((char *)sem - offsetof(weft_mutex, weft__sem));
}

static weft_poll lock_poll(weft_future *f, weft_context *cx, void *out);

/* A semaphore acquisition that names itself a mutex's lock. */
static const weft_future_vtable lock_vt = {lock_poll, weft__acquire_drop, sizeof(weft_acquire_op),
                                           sizeof(int), "weft_mutex_lock", 0};
/* The same once it is ready: its node is off every list and the lock it
 * took belongs to the caller, so its drop has nothing to do (what
 * weft__acquire_drop finds out for a done op) and is left out. */
static const weft_future_vtable lock_done_vt = {lock_poll, NULL, sizeof(weft_acquire_op),
                                                sizeof(int), "weft_mutex_lock", 0};

/* Everything but the uncontended lock: the semaphore's acquisition (a
 * waiter ahead, a queued node, a closed semaphore). */
static WEFT__NOINLINE weft_poll lock_poll_slow(weft_future *f, weft_context *cx, void *out) {
    int got = 0;
    if (weft__acquire_poll(f, cx, &got) == WEFT_PENDING)
        return WEFT_PENDING;
    f->vt = &lock_done_vt; /* done (weft__acquire_poll set resume) */
    if (got == 0) {
        weft_mutex *m = mutex_of(((weft_acquire_op *)f)->sem);
        m->weft__holder = holder_now(cx->weft__rt);
        m->weft__locked_at = f->site;
    }
    if (out)
        *(int *)out = got;
    return WEFT_READY;
}

/* The uncontended lock is one compare-and-swap, kept free of the slow
 * path's frame. */
static weft_poll lock_poll(weft_future *f, weft_context *cx, void *out) {
    weft_semaphore *sem = ((weft_acquire_op *)f)->sem;
    if (f->resume == QUEUED_ONCE || !weft__sem_take_one(sem))
        return lock_poll_slow(f, cx, out);
    f->resume = WEFT__DONE; /* never reports the grant twice */
    f->vt = &lock_done_vt;
    weft_mutex *m = mutex_of(sem);
    m->weft__locked_at = f->site;
    if (out)
        *(int *)out = 0;
    if (holder_known(cx->weft__rt))
        return ready_noting(m, cx->weft__rt);
    m->weft__holder = 0;
    return WEFT_READY;
}

weft_future *weft_mutex_lock_init(weft_lock_op *op, weft_mutex *m, const char *site) {
    WEFT__NEED(op, "weft_mutex_lock", "op");
    WEFT__NEED(m, "weft_mutex_lock", "mutex");
    /* weft_semaphore_acquire_init's work, checks known to pass left out */
    op->base = (weft_future){&lock_vt, NULL, site, 0, 0};
    op->sem = &m->weft__sem;
    op->n = 1;
    op->node.weft__state = WEFT__W_IDLE; /* the rest is set when it queues */
    return &op->base;
}

void weft_mutex_init(weft_mutex *m) {
    WEFT__NEED(m, "weft_mutex_init", "mutex");
    weft__semaphore_init_bounded(&m->weft__sem, 1);
    m->weft__holder = 0;
    m->weft__locked_at = NULL;
}
void weft_mutex_destroy(weft_mutex *m) {
    if (m)
        weft_semaphore_destroy(&m->weft__sem);
}
int weft_mutex_try_lock(weft_mutex *m) {
    if (!m)
        return WEFT_EINVAL;
    if (weft_semaphore_try_acquire(&m->weft__sem, 1))
        return WEFT_EBUSY;
    m->weft__holder = holder_now(NULL);
    m->weft__locked_at = "weft_mutex_try_lock";
    return 0;
}
void weft_mutex_unlock(weft_mutex *m) {
    WEFT__NEED(m, "weft_mutex_unlock", "mutex");
    m->weft__holder = 0; /* before the hand-off: the next holder records itself */
    m->weft__locked_at = NULL;
    if (weft__sem_give_one(&m->weft__sem))
        return; /* nobody waits: the permit is back in the word */
    weft__semaphore_release_as(&m->weft__sem, 1, "weft_mutex_unlock", "the mutex is not locked");
}
