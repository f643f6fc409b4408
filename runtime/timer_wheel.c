/* weft — the hierarchical timer wheel.  See timer_wheel.h for the shape. */
#include "timer_wheel.h"

#include <string.h>

#define BITS 6u
#define PENDING_LEVEL WEFT__WHEEL_LEVELS /* entries due, waiting to be popped */
#define MAX_SPAN ((UINT64_C(1) << (BITS * WEFT__WHEEL_LEVELS)) - 1)

void weft__wheel_init(weft__wheel *w) { memset(w, 0, sizeof *w); }

static inline unsigned level_for(uint64_t elapsed, uint64_t when) {
    uint64_t masked = (elapsed ^ when) | (WEFT__WHEEL_SLOTS - 1);
    if (masked > MAX_SPAN)
        masked = MAX_SPAN; /* beyond the wheel: park in the top level */
    unsigned significant = 63u - (unsigned)__builtin_clzll(masked);
    return significant / BITS;
}

static inline void slot_push(weft__slot *s, weft_timer_entry *e) {
    e->weft__next = NULL;
    e->weft__prev = s->tail;
    if (s->tail)
        s->tail->weft__next = e;
    else
        s->head = e;
    s->tail = e;
}

static inline void slot_unlink(weft__slot *s, weft_timer_entry *e) {
    if (e->weft__prev)
        e->weft__prev->weft__next = e->weft__next;
    else
        s->head = e->weft__next;
    if (e->weft__next)
        e->weft__next->weft__prev = e->weft__prev;
    else
        s->tail = e->weft__prev;
    e->weft__prev = e->weft__next = NULL;
}

/* Files `e` by its deadline relative to the wheel's current time. */
static void file_entry(weft__wheel *w, weft_timer_entry *e) {
    uint64_t when = e->weft__deadline_ms;
    /* Beyond the wheel: the top-level slot of the deadline itself (looked at
     * once per turn, re-filed until in reach), so that every entry with one
     * deadline shares one slot and ties keep their order. */
    unsigned level = when - w->elapsed > MAX_SPAN ? WEFT__WHEEL_LEVELS - 1
                                                 : level_for(w->elapsed, when);
    unsigned slot = (unsigned)(when >> (level * BITS)) & (WEFT__WHEEL_SLOTS - 1);
    e->weft__level = (uint8_t)level;
    e->weft__slot = (uint8_t)slot;
    slot_push(&w->slots[level][slot], e);
    w->occupied[level] |= UINT64_C(1) << slot;
}

bool weft__wheel_insert(weft__wheel *w, weft_timer_entry *e, uint64_t deadline) {
    if (deadline <= w->elapsed)
        return false;
    e->weft__deadline_ms = deadline;
    e->weft__seq = ++w->seq;
    e->weft__state = WEFT__TIMER_ARMED;
    file_entry(w, e);
    __atomic_store_n(&w->count, w->count + 1, __ATOMIC_RELAXED); /* peeked unlocked */
    return true;
}

void weft__wheel_remove(weft__wheel *w, weft_timer_entry *e) {
    if (e->weft__state != WEFT__TIMER_ARMED)
        return;
    if (e->weft__level == PENDING_LEVEL) {
        slot_unlink(&w->due, e);
    } else {
        weft__slot *s = &w->slots[e->weft__level][e->weft__slot];
        slot_unlink(s, e);
        if (!s->head)
            w->occupied[e->weft__level] &= ~(UINT64_C(1) << e->weft__slot);
    }
    e->weft__state = WEFT__TIMER_IDLE;
    __atomic_store_n(&w->count, w->count - 1, __ATOMIC_RELAXED);
}

/* The earliest slot with entries at `level`, as the time it starts. */
static uint64_t level_next(const weft__wheel *w, unsigned level, unsigned *slot_out) {
    uint64_t occ = w->occupied[level];
    unsigned shift = level * BITS;
    unsigned now_slot = (unsigned)(w->elapsed >> shift) & (WEFT__WHEEL_SLOTS - 1);
    /* Search from the slot after now's: an occupied slot equal to now's can
     * only be a top-level slot one turn ahead, so it comes last. */
    unsigned first = (now_slot + 1) & (WEFT__WHEEL_SLOTS - 1);
    uint64_t rotated = first ? (occ >> first) | (occ << (64 - first)) : occ;
    unsigned slot = (first + (unsigned)__builtin_ctzll(rotated)) & (WEFT__WHEEL_SLOTS - 1);
    uint64_t level_range = UINT64_C(1) << (shift + BITS);
    uint64_t start = (w->elapsed & ~(level_range - 1)) + ((uint64_t)slot << shift);
    if (start <= w->elapsed)
        start += level_range; /* a far deadline wrapped around the top level */
    *slot_out = slot;
    return start;
}

/* The lowest level with entries holds the earliest slot: an entry at
 * level L shares the wheel's current slot of level L + 1 (the level is
 * the highest digit in which its deadline differs from the wheel's time,
 * and the time never passes a slot with entries), so it comes after every
 * entry of the levels below.  Returns the level, or WEFT__WHEEL_LEVELS
 * when the wheel is empty. */
static inline unsigned lowest_level(const weft__wheel *w) {
    unsigned level = 0;
    while (level < WEFT__WHEEL_LEVELS && !w->occupied[level])
        level++;
    return level;
}

uint64_t weft__wheel_next_expiration(const weft__wheel *w) {
    if (w->due.head)
        return w->elapsed;
    unsigned level = lowest_level(w), slot;
    return level < WEFT__WHEEL_LEVELS ? level_next(w, level, &slot) : UINT64_MAX;
}

/* Moves the slot whose time has come: due entries to the due list (in
 * order), the rest down to lower levels. */
static void process_slot(weft__wheel *w, unsigned level, unsigned slot) {
    weft__slot list = w->slots[level][slot];
    w->slots[level][slot] = (weft__slot){0};
    w->occupied[level] &= ~(UINT64_C(1) << slot);
    weft_timer_entry *e = list.head;
    while (e) {
        weft_timer_entry *next = e->weft__next;
        if (e->weft__deadline_ms <= w->elapsed) {
            e->weft__level = PENDING_LEVEL;
            slot_push(&w->due, e);
        } else {
            file_entry(w, e);
        }
        e = next;
    }
}

weft_timer_entry *weft__wheel_poll(weft__wheel *w, uint64_t now) {
    for (;;) {
        weft_timer_entry *e = w->due.head;
        if (e) {
            slot_unlink(&w->due, e);
            e->weft__state = WEFT__TIMER_FIRED;
            __atomic_store_n(&w->count, w->count - 1, __ATOMIC_RELAXED);
            return e;
        }
        unsigned best_level = lowest_level(w), best_slot = 0;
        uint64_t best = best_level < WEFT__WHEEL_LEVELS ? level_next(w, best_level, &best_slot)
                                                        : UINT64_MAX;
        if (best > now) {
            if (now > w->elapsed)
                w->elapsed = now;
            return NULL;
        }
        w->elapsed = best;
        process_slot(w, best_level, best_slot);
    }
}
