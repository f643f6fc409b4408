/* weft — a worker's bounded local run queue (private).
 *
 * One producer (the owning worker) and any number of stealers.  A ring of
 * 256 task pointers indexed by free-running 32-bit counters: `tail` is
 * written by the owner only; `head` packs two indexes, `real` (the next
 * task to take) and `steal` (where an in-progress steal began).  While a
 * steal is under way `steal != real`, the slots between them belong to
 * the stealer, and the owner may neither overwrite them nor start another
 * steal of its own queue.  A steal therefore claims half the tasks with
 * one CAS on `head`, copies them, then releases its claim with a second.
 *
 * When the ring is full the owner moves half of it, plus the new task, to
 * the caller (who puts them in the global inject queue); when a steal is
 * running at that moment only the new task goes.
 */
#ifndef WEFT_RUNTIME_RUN_QUEUE_H
#define WEFT_RUNTIME_RUN_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft__task;

#define WEFT__RUNQ_CAP 256u
#define WEFT__RUNQ_MASK (WEFT__RUNQ_CAP - 1u)

typedef struct weft__runq {
    _Atomic uint64_t head;                        /* steal << 32 | real */
    _Atomic uint32_t tail;                        /* next free slot; owner writes */
    struct weft__task *_Atomic buf[WEFT__RUNQ_CAP]; /* relaxed: head/tail order them */
} weft__runq;

/* A chain of tasks linked through `next`. */
typedef struct weft__task_batch {
    struct weft__task *head, *tail;
    uint32_t n;
} weft__task_batch;

void weft__runq_init(weft__runq *q);
/* Owner: appends `t`.  Returns false when it did not fit; then `*spill`
 * holds the tasks (t included) the caller must queue elsewhere. */
bool weft__runq_push(weft__runq *q, struct weft__task *t, weft__task_batch *spill);
/* Owner: appends up to the free room of `*b`, removing them from `b`. */
void weft__runq_push_batch(weft__runq *q, weft__task_batch *b);
/* Owner: takes the oldest task, or NULL. */
struct weft__task *weft__runq_pop(weft__runq *q);
/* Any thread: moves half of `src`'s tasks into `dst` (whose owner must be
 * the caller) and returns one of them to run now, or NULL.  `*n` gets the
 * number stolen. */
struct weft__task *weft__runq_steal(weft__runq *src, weft__runq *dst, uint32_t *n);
/* Any thread: tasks queued (a snapshot). */
uint32_t weft__runq_len(weft__runq *q);
/* Owner: free slots. */
uint32_t weft__runq_room(weft__runq *q);

#endif
