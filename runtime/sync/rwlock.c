/* weft — the fair RwLock: a semaphore of MAX_READERS permits; a reader takes
 * one, a writer all of them.  A queued writer holds back later readers, so
 * writers do not starve.  The semaphore is bounded at MAX_READERS, so an
 * unlock of a lock not held that way aborts (as a Mutex's). */
#include "sync_impl.h"

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
