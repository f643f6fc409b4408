/* weft — the fair RwLock: a semaphore of MAX_READERS permits; a reader takes
 * one, a writer all of them.  A queued writer holds back later readers, so
 * writers do not starve. */
#include "sync_impl.h"

void weft_rwlock_init(weft_rwlock *l) { weft_semaphore_init(&l->weft__sem, WEFT_RWLOCK_MAX_READERS); }
void weft_rwlock_destroy(weft_rwlock *l) { weft_semaphore_destroy(&l->weft__sem); }
int weft_rwlock_try_read(weft_rwlock *l) {
    return weft_semaphore_try_acquire(&l->weft__sem, 1) ? WEFT_EBUSY : 0;
}
int weft_rwlock_try_write(weft_rwlock *l) {
    return weft_semaphore_try_acquire(&l->weft__sem, WEFT_RWLOCK_MAX_READERS) ? WEFT_EBUSY : 0;
}
void weft_rwlock_read_unlock(weft_rwlock *l) { weft_semaphore_release(&l->weft__sem, 1); }
void weft_rwlock_write_unlock(weft_rwlock *l) {
    weft_semaphore_release(&l->weft__sem, WEFT_RWLOCK_MAX_READERS);
}
