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
 * task has no id to read cheaply. */
static uint64_t holder_now(void) {
#ifdef WEFT_HAVE_SIM
    weft__sim *s = weft__sim_current();
    if (s && s->polling)
        return s->current + 1;
#endif
    return 0;
}

static weft_poll lock_poll(weft_future *f, weft_context *cx, void *out) {
    int got = -1;
    weft_poll p = weft__acquire_poll(f, cx, &got);
    if (p == WEFT_READY) {
        if (got == 0) {
            weft_acquire_op *op = (weft_acquire_op *)f;
            weft_mutex *m = (weft_mutex *)(void *)((char *)op->sem - offsetof(weft_mutex, weft__sem));
            m->weft__holder = holder_now();
            m->weft__locked_at = f->site;
        }
        if (out)
            *(int *)out = got;
    }
    return p;
}

/* A semaphore acquisition that names itself a mutex's lock. */
static const weft_future_vtable lock_vt = {lock_poll, weft__acquire_drop, sizeof(weft_acquire_op),
                                           sizeof(int), "weft_mutex_lock", 0};

weft_future *weft_mutex_lock_init(weft_lock_op *op, weft_mutex *m, const char *site) {
    WEFT__NEED(op, "weft_mutex_lock", "op");
    WEFT__NEED(m, "weft_mutex_lock", "mutex");
    weft_semaphore_acquire_init(op, &m->weft__sem, 1, site);
    op->base.vt = &lock_vt;
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
    m->weft__holder = holder_now();
    m->weft__locked_at = "weft_mutex_try_lock";
    return 0;
}
void weft_mutex_unlock(weft_mutex *m) {
    WEFT__NEED(m, "weft_mutex_unlock", "mutex");
    m->weft__holder = 0; /* before the hand-off: the next holder records itself */
    m->weft__locked_at = NULL;
    weft__semaphore_release_as(&m->weft__sem, 1, "weft_mutex_unlock", "the mutex is not locked");
}
