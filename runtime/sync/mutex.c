/* weft — the fair async Mutex: a semaphore of one permit, so unlock hands
 * the lock straight to the first waiter and lock is cancel-safe as acquire.
 * The semaphore is bounded at that one permit: an unlock of a mutex that
 * nobody holds aborts instead of letting two holders in. */
#include "sync_impl.h"

void weft_mutex_init(weft_mutex *m) {
    WEFT__NEED(m, "weft_mutex_init", "mutex");
    weft__semaphore_init_bounded(&m->weft__sem, 1);
}
void weft_mutex_destroy(weft_mutex *m) {
    if (m)
        weft_semaphore_destroy(&m->weft__sem);
}
int weft_mutex_try_lock(weft_mutex *m) {
    if (!m)
        return WEFT_EINVAL;
    return weft_semaphore_try_acquire(&m->weft__sem, 1) ? WEFT_EBUSY : 0;
}
void weft_mutex_unlock(weft_mutex *m) {
    WEFT__NEED(m, "weft_mutex_unlock", "mutex");
    weft__semaphore_release_as(&m->weft__sem, 1, "weft_mutex_unlock", "the mutex is not locked");
}
