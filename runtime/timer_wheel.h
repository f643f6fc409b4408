/* weft — the hierarchical timer wheel (private).
 *
 * Six levels of 64 slots; a slot at level L spans 64^L ticks, so the
 * wheel covers 2^36 ticks (about 19 hours of 1 us ticks, 2.2 years of 1 ms
 * ones) and farther deadlines wait in the top level and are re-filed as it
 * turns.  The wheel knows ticks only: the time driver chooses their
 * length.  Insert and cancel are O(1): the
 * level comes from the highest bit in which the deadline differs from the
 * wheel's current time, and each slot is an intrusive doubly linked list.
 * Finding the next expiry is a few bit scans.  A slot whose time comes is
 * either fired (its entries are due) or cascaded into lower levels.
 *
 * Equal deadlines fire in insertion order: two entries with one deadline
 * always share a slot (the level depends only on the deadline and the
 * current time), lists are FIFO, and cascading keeps the order.
 *
 * Not thread-safe: the time driver serialises access.
 */
#ifndef WEFT_RUNTIME_TIMER_WHEEL_H
#define WEFT_RUNTIME_TIMER_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#include "weft/time.h"

#define WEFT__WHEEL_LEVELS 6
#define WEFT__WHEEL_SLOTS 64

enum { WEFT__TIMER_IDLE = 0, WEFT__TIMER_ARMED = 1, WEFT__TIMER_FIRED = 2 };

typedef struct weft__slot {
    weft_timer_entry *head, *tail;
} weft__slot;

typedef struct weft__wheel {
    uint64_t elapsed;                                /* the tick the wheel has reached */
    uint64_t occupied[WEFT__WHEEL_LEVELS];           /* one bit per non-empty slot */
    weft__slot slots[WEFT__WHEEL_LEVELS][WEFT__WHEEL_SLOTS];
    weft__slot due;                                  /* fired slot, not yet popped */
    size_t count;
    uint64_t seq;
} weft__wheel;

void weft__wheel_init(weft__wheel *w);
/* Arms `e` for tick `deadline`.  Returns false, leaving `e` idle, when the
 * deadline is not after the wheel's time: it is due already. */
bool weft__wheel_insert(weft__wheel *w, weft_timer_entry *e, uint64_t deadline);
void weft__wheel_remove(weft__wheel *w, weft_timer_entry *e);
/* When the wheel next has work (a slot to fire or cascade); UINT64_MAX if
 * it is empty. */
uint64_t weft__wheel_next_expiration(const weft__wheel *w);
/* Pops the next entry due at or before `now`, in deadline order, moving
 * the wheel's time forward as it goes; NULL when none is due (the wheel's
 * time is then `now`).  The popped entry is marked fired. */
weft_timer_entry *weft__wheel_poll(weft__wheel *w, uint64_t now);

#endif
