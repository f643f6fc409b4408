/* weft — the fair async Mutex: a semaphore of one permit, so unlock hands
 * the lock straight to the first waiter and lock is cancel-safe as acquire. */
#include "sync_impl.h"

void weft_mutex_init(weft_mutex *m) { weft_semaphore_init(&m->weft__sem, 1); }
void weft_mutex_destroy(weft_mutex *m) { weft_semaphore_destroy(&m->weft__sem); }
int weft_mutex_try_lock(weft_mutex *m) {
    return weft_semaphore_try_acquire(&m->weft__sem, 1) ? WEFT_EBUSY : 0;
}
void weft_mutex_unlock(weft_mutex *m) { weft_semaphore_release(&m->weft__sem, 1); }

