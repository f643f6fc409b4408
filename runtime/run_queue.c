/* weft — the local run queue: a bounded single-producer, multi-stealer
 * ring (see run_queue.h for the index protocol).
 *
 * Memory order: the owner publishes slots with a release store of `tail`;
 * stealers read `tail` with acquire before copying slots.  Claims on
 * `head` are acq_rel CASes, so a slot is read only after it was claimed
 * and the owner reuses it only after the claim was released.  Slots are
 * relaxed atomics: the counters carry the ordering.
 */
#include "run_queue.h"
#include "task.h"

static inline uint32_t real_of(uint64_t h) { return (uint32_t)h; }
static inline uint32_t steal_of(uint64_t h) { return (uint32_t)(h >> 32); }
static inline uint64_t pack(uint32_t steal, uint32_t real) {
    return (uint64_t)steal << 32 | real;
}

static inline weft__task *slot_get(weft__runq *q, uint32_t i) {
    return atomic_load_explicit(&q->buf[i & WEFT__RUNQ_MASK], memory_order_relaxed);
}
static inline void slot_set(weft__runq *q, uint32_t i, weft__task *t) {
    atomic_store_explicit(&q->buf[i & WEFT__RUNQ_MASK], t, memory_order_relaxed);
}

void weft__runq_init(weft__runq *q) {
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    for (uint32_t i = 0; i < WEFT__RUNQ_CAP; i++)
        atomic_init(&q->buf[i], NULL);
}

static void batch_add(weft__task_batch *b, weft__task *t) {
    t->next = NULL;
    if (b->tail)
        b->tail->next = t;
    else
        b->head = t;
    b->tail = t;
    b->n++;
}

/* The ring is full and no steal runs: claim its older half for the
 * caller.  False when a stealer got in first (the caller retries). */
static bool spill_half(weft__runq *q, uint32_t real, weft__task *t, weft__task_batch *spill) {
    const uint32_t half = WEFT__RUNQ_CAP / 2;
    uint64_t expect = pack(real, real);
    if (!atomic_compare_exchange_strong_explicit(&q->head, &expect,
                                                 pack(real + half, real + half),
                                                 memory_order_release, memory_order_relaxed))
        return false;
    *spill = (weft__task_batch){0};
    for (uint32_t i = 0; i < half; i++)
        batch_add(spill, slot_get(q, real + i));
    batch_add(spill, t);
    return true;
}

bool weft__runq_push(weft__runq *q, weft__task *t, weft__task_batch *spill) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t steal = steal_of(head), real = real_of(head);
        if (tail - steal < WEFT__RUNQ_CAP) {
            slot_set(q, tail, t);
            atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
            return true;
        }
        if (steal != real) {
            /* A stealer is making room; let this one task go elsewhere. */
            *spill = (weft__task_batch){0};
            batch_add(spill, t);
            return false;
        }
        if (spill_half(q, real, t, spill))
            return false;
    }
}

void weft__runq_push_batch(weft__runq *q, weft__task_batch *b) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t room = weft__runq_room(q);
    while (room-- && b->head) {
        weft__task *t = b->head;
        b->head = t->next;
        b->n--;
        slot_set(q, tail++, t);
    }
    if (!b->head)
        b->tail = NULL;
    atomic_store_explicit(&q->tail, tail, memory_order_release);
}

weft__task *weft__runq_pop(weft__runq *q) {
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        uint32_t steal = steal_of(head), real = real_of(head);
        if (real == tail)
            return NULL;
        /* When no steal runs, both indexes move together. */
        uint64_t next = steal == real ? pack(real + 1, real + 1) : pack(steal, real + 1);
        if (atomic_compare_exchange_weak_explicit(&q->head, &head, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return slot_get(q, real);
    }
}

/* Claims half of `src` (rounded up) and copies it into `dst`'s free slots
 * from `dst_tail` on; returns how many. */
static uint32_t steal_claim(weft__runq *src, weft__runq *dst, uint32_t dst_tail) {
    uint64_t prev = atomic_load_explicit(&src->head, memory_order_acquire), next;
    uint32_t n, first;
    for (;;) {
        uint32_t steal = steal_of(prev), real = real_of(prev);
        if (steal != real)
            return 0; /* another stealer is at work */
        uint32_t tail = atomic_load_explicit(&src->tail, memory_order_acquire);
        n = tail - real;
        n -= n / 2;
        if (n == 0 || n > WEFT__RUNQ_CAP / 2)
            return 0;
        next = pack(steal, real + n);
        first = real;
        if (atomic_compare_exchange_weak_explicit(&src->head, &prev, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    for (uint32_t i = 0; i < n; i++)
        slot_set(dst, dst_tail + i, slot_get(src, first + i));
    /* Release the claim: `steal` catches up with wherever `real` is now
     * (the owner may have popped meanwhile). */
    prev = next;
    for (;;) {
        uint32_t real = real_of(prev);
        if (atomic_compare_exchange_weak_explicit(&src->head, &prev, pack(real, real),
                                                  memory_order_acq_rel, memory_order_acquire))
            return n;
    }
}

weft__task *weft__runq_steal(weft__runq *src, weft__runq *dst, uint32_t *n) {
    *n = 0;
    uint32_t dst_tail = atomic_load_explicit(&dst->tail, memory_order_relaxed);
    uint64_t dst_head = atomic_load_explicit(&dst->head, memory_order_acquire);
    if (dst_tail - steal_of(dst_head) > WEFT__RUNQ_CAP / 2)
        return NULL; /* our own queue is busy enough */
    uint32_t got = steal_claim(src, dst, dst_tail);
    if (!got)
        return NULL;
    *n = got;
    /* The newest stolen task runs now; the rest become visible. */
    weft__task *t = slot_get(dst, dst_tail + got - 1);
    if (got > 1)
        atomic_store_explicit(&dst->tail, dst_tail + got - 1, memory_order_release);
    return t;
}

uint32_t weft__runq_len(weft__runq *q) {
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    return tail - real_of(head);
}

uint32_t weft__runq_room(weft__runq *q) {
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    return WEFT__RUNQ_CAP - (tail - steal_of(head));
}
