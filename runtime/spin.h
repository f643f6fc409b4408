/* weft — the spin lock (private), for critical sections of a handful of
 * loads and stores that threads on several cores take at a high rate: the
 * sync primitives' state, the owned-task shards.  Its type is public
 * (sync.h embeds it in every primitive).
 *
 * Test-and-test-and-set: spinning briefly beats a mutex that sleeps on
 * contention (a system call per collision); after a few rounds a waiter
 * yields its CPU in case the holder was preempted. */
#ifndef WEFT_RUNTIME_SPIN_H
#define WEFT_RUNTIME_SPIN_H

#include <stdatomic.h>

#include "weft/sync.h"
#include "os.h"

static inline void weft__spin_init(weft__spin *l) { atomic_init(&l->weft__v, 0); }

static inline void weft__spin_lock(weft__spin *l) {
    if (!atomic_exchange_explicit(&l->weft__v, 1, memory_order_acquire))
        return;
    for (unsigned spins = 0;; spins++) {
        while (atomic_load_explicit(&l->weft__v, memory_order_relaxed)) {
            if (++spins > 64)
                weft__os_yield();
        }
        if (!atomic_exchange_explicit(&l->weft__v, 1, memory_order_acquire))
            return;
    }
}

static inline void weft__spin_unlock(weft__spin *l) {
    atomic_store_explicit(&l->weft__v, 0, memory_order_release);
}

#endif
