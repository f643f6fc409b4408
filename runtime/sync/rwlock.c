/* weft — the fair RwLock: a semaphore of MAX_READERS permits; a reader takes
 * one, a writer all of them.  A queued writer holds back later readers, so
 * writers do not starve.  The semaphore is bounded at MAX_READERS, so an
 * unlock of a lock not held that way aborts (as a Mutex's). */
#include "sync_impl.h"

/* Semaphore acquisitions that name themselves as what the code wrote. */
static const weft_future_vtable read_vt = {weft__acquire_poll, weft__acquire_drop,
                                           sizeof(weft_acquire_op), sizeof(int),
                                           "weft_rwlock_read", 0};
static const weft_future_vtable write_vt = {weft__acquire_poll, weft__acquire_drop,
                                            sizeof(weft_acquire_op), sizeof(int),
                                            "weft_rwlock_write", 0};

weft_future *weft_rwlock_read_init(weft_acquire_op *op, weft_rwlock *l, const char *site) {
    WEFT__NEED(op, "weft_rwlock_read", "op");
    WEFT__NEED(l, "weft_rwlock_read", "rwlock");
    weft_semaphore_acquire_init(op, &l->weft__sem, 1, site);
    op->base.vt = &read_vt;
    return &op->base;
}

weft_future *weft_rwlock_write_init(weft_acquire_op *op, weft_rwlock *l, const char *site) {
    WEFT__NEED(op, "weft_rwlock_write", "op");
    WEFT__NEED(l, "weft_rwlock_write", "rwlock");
    weft_semaphore_acquire_init(op, &l->weft__sem, WEFT_RWLOCK_MAX_READERS, site);
    op->base.vt = &write_vt;
    return &op->base;
}

void weft_rwlock_init(weft_rwlock *l) {
    WEFT__NEED(l, "weft_rwlock_init", "rwlock");
    weft__semaphore_init_bounded(&l->weft__sem, WEFT_RWLOCK_MAX_READERS);
}
void weft_rwlock_destroy(weft_rwlock *l) {
    if (l)
        weft_semaphore_destroy(&l->weft__sem);
}
int weft_rwlock_try_read(weft_rwlock *l) {
    if (!l)
        return WEFT_EINVAL;
    return weft_semaphore_try_acquire(&l->weft__sem, 1) ? WEFT_EBUSY : 0;
}
int weft_rwlock_try_write(weft_rwlock *l) {
    if (!l)
        return WEFT_EINVAL;
    return weft_semaphore_try_acquire(&l->weft__sem, WEFT_RWLOCK_MAX_READERS) ? WEFT_EBUSY : 0;
}
void weft_rwlock_read_unlock(weft_rwlock *l) {
    WEFT__NEED(l, "weft_rwlock_read_unlock", "rwlock");
    weft__semaphore_release_as(&l->weft__sem, 1, "weft_rwlock_read_unlock",
                               "the rwlock is not locked (no reader holds it)");
}
void weft_rwlock_write_unlock(weft_rwlock *l) {
    WEFT__NEED(l, "weft_rwlock_write_unlock", "rwlock");
    weft__semaphore_release_as(&l->weft__sem, WEFT_RWLOCK_MAX_READERS, "weft_rwlock_write_unlock",
                               "the rwlock is not locked (no writer holds it)");
}
