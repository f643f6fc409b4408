/* weft — the multi_thread scheduler: worker threads with work stealing.
 *
 * Each worker owns a bounded local run queue (run_queue.c) that others may
 * steal half of, plus a LIFO slot holding the task it woke last (message
 * passing then runs the receiver next, while its data is in cache).  The
 * LIFO slot is not stealable, so at most LIFO_POLLS_MAX tasks run from it
 * in a row before it goes to the back of the queue.  A full local queue
 * spills half into the global inject queue, which also takes every task
 * made ready on a thread that is not one of our workers.
 *
 * Fairness: a worker looks at the inject queue first every
 * `global_queue_interval` ticks and runs the drivers (timers) every
 * `event_interval` ticks; the cooperative budget (weft_coop_proceed) cuts
 * a busy task's poll short.
 *
 * Idle workers park.  The idle word counts unparked and searching workers;
 * at most half the workers search at once.  Whoever makes work visible
 * (inject push, local push) then reads the idle word after a seq_cst
 * fence; a searcher giving up decrements it under the idle lock and, if it
 * was the last searcher, looks at every queue once more after a seq_cst
 * fence.  One of the two sees the other, so a wake is never lost.  A worker that
 * finds work while searching wakes another to keep searching.
 *
 * The timer driver is held by the first worker to park: it sleeps until
 * the next deadline while the others sleep until woken.  Arming a timer
 * earlier than that deadline pokes the holder (timer_armed), which then
 * looks at the wheel again.  A paused clock jumps to the next timer only
 * when every worker is parked and every block_on is waiting, and only
 * while some block_on runs, as on current_thread.
 *
 * block_on's thread is not a worker: it polls the root future and sleeps
 * on its own parker, while the workers run tasks.
 *
 * Lifecycle: the workers start in create and run until shutdown, which
 * joins them after every task was shut down and then drops the stale
 * queue entries; destroy frees the rest with the runtime.
 */
#include <string.h>

#include "run_queue.h"
#include "task.h"

#define LIFO_POLLS_MAX 64
#define IDLE_UNPARKED_ONE (1u << 16)
#define IDLE_SEARCHING_MASK (IDLE_UNPARKED_ONE - 1u)

typedef struct mt mt;

/* Sleeping and waking one thread.  The state word lets an unpark skip
 * the lock unless the thread is really asleep, and a wait return at once
 * on an unpark that came first. */
enum { PARK_EMPTY, PARK_PARKED, PARK_NOTIFIED };
typedef struct parker {
    _Atomic uint32_t state; /* PARK_*; becomes PARK_PARKED under `lock` only */
    weft__mutex lock;
    weft__cond cond;
} parker;

typedef struct worker {
    mt *m;
    uint32_t index;
    weft__thread thread;
    bool started;     /* `thread` is joinable */
    weft__task *lifo; /* owner only */
    uint32_t inject_in; /* owner only: picks until the inject queue goes
                         * first (counts down: no division per pick) */
    uint32_t events_in; /* owner only: picks until the drivers run */
    uint32_t rand;    /* owner only: where stealing starts */
    bool searching;   /* owner only: counted in the idle word */
    bool sleeping;    /* guarded by idle_lock: on the sleepers list */
    bool in_driver;   /* owner only: reporting I/O events (weft__io_wait) */
    parker park;
    /* Counters: written by the owner, read by metrics (relaxed). */
    _Atomic uint64_t polls, steals, steal_ops, parks, overflows;
    weft__task_cache cache; /* freed task blocks, owner only */
    weft__runq queue;
} worker;

struct mt {
    weft__rt *rt;
    uint32_t n;
    worker *workers;
    _Atomic bool stop;
    /* The inject queue (see inject_push).  Pushers write only the first
     * field, poppers the others, each side on its own cache line. */
    char inject_pad_before[64];
    _Atomic(weft__task *) inject_tail; /* the newest task, or the stub */
    char inject_pad_after[64];
    weft__mutex inject_lock;  /* one popper at a time */
    weft__task *inject_head;  /* written under inject_lock: the oldest, or
                               * the stub (read atomically by inject_empty) */
    weft__task inject_stub;   /* a node that keeps the queue never empty */
    _Atomic bool inject_closed; /* shutdown drained it: pushers drop theirs */
    /* Idle workers. */
    _Atomic uint32_t idle;      /* unparked << 16 | searching */
    weft__mutex idle_lock;
    uint32_t *sleepers;         /* parked worker indexes, guarded by idle_lock */
    uint32_t nsleepers;
    /* The time driver. */
    atomic_flag driver_taken;
    _Atomic(worker *) driver_holder; /* parked on the driver, or NULL */
    _Atomic uint64_t driver_deadline; /* the holder sleeps until then; 0:
                                       * not known yet (wake it for any timer) */
    _Atomic uint32_t roots;          /* block_on calls under way */
    _Atomic uint32_t busy_roots;     /* block_on futures polling or woken */
    atomic_flag firing;              /* a thread is firing timers (see fire_timers) */
    /* Freed task blocks for one block_on thread at a time: the tasks it
     * joins are mostly freed there (the handle drops the last reference),
     * so its next spawns reuse them without a lock. */
    atomic_flag root_cache_taken;
    weft__task_cache root_cache;
};

static mt *mt_of(weft__rt *rt) { return (mt *)rt->sched_data; }

static inline bool stopped(mt *m) { return atomic_load_explicit(&m->stop, memory_order_acquire); }

static inline void count(_Atomic uint64_t *c, uint64_t n) {
    /* Single writer: a plain add published relaxed. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---------------------------------------------------------------- parker */

static void parker_init(parker *p) {
    atomic_init(&p->state, PARK_EMPTY);
    weft__mutex_init(&p->lock);
    weft__cond_init(&p->cond);
}

static void parker_destroy(parker *p) {
    weft__cond_destroy(&p->cond);
    weft__mutex_destroy(&p->lock);
}

/* Consumes a pending unpark, if any. */
static bool parker_take(parker *p) {
    uint32_t s = PARK_NOTIFIED;
    return atomic_compare_exchange_strong_explicit(&p->state, &s, PARK_EMPTY,
                                                   memory_order_acquire, memory_order_relaxed);
}

/* Sleeps until unparked or `deadline_ns`; may return early (the callers
 * look again at what they wait for). */
static void parker_wait(parker *p, uint64_t deadline_ns) {
    if (parker_take(p))
        return;
    weft__mutex_lock(&p->lock);
    uint32_t s = PARK_EMPTY;
    if (atomic_compare_exchange_strong_explicit(&p->state, &s, PARK_PARKED,
                                                memory_order_relaxed, memory_order_relaxed))
        weft__cond_wait_until(&p->cond, &p->lock, deadline_ns);
    /* Woken, timed out or notified before we slept: consume it all. */
    atomic_exchange_explicit(&p->state, PARK_EMPTY, memory_order_acquire);
    weft__mutex_unlock(&p->lock);
}

/* The lock orders the store against the sleeper's check-then-wait, and
 * makes everything before the unpark visible to it. */
static void parker_unpark(parker *p) {
    /* seq_cst: a worker becoming the I/O driver's holder reads this word
     * after publishing itself (see wake_worker). */
    if (atomic_exchange_explicit(&p->state, PARK_NOTIFIED, memory_order_seq_cst) != PARK_PARKED)
        return;
    /* The sleeper went PARKED under the lock and holds it until its wait
     * releases it: once we had the lock, it waits on the condition.  Signal
     * after the unlock, so the woken thread does not block again on a lock
     * we still hold (a futex round trip per wake). */
    weft__mutex_lock(&p->lock);
    weft__mutex_unlock(&p->lock);
    weft__cond_signal(&p->cond);
}

/* ---------------------------------------------------------- inject queue */

static void drop_chain(weft__task *t) {
    while (t) {
        weft__task *next = t->next;
        weft__task_discard(t);
        t = next;
    }
}

/* The inject queue is an intrusive FIFO with many pushers and one popper
 * at a time (Vyukov's MPSC queue): a pusher swaps itself in as the tail
 * with one exchange and then links the old tail to it; a popper follows
 * the links from the head, touching only the tasks it takes, which it is
 * about to run.  A stub node stands in when the queue is empty, so the
 * tail is never NULL.  Links are atomic: a popper reads one as its pusher
 * writes it. */
static void inject_init(mt *m) {
    m->inject_stub.next = NULL;
    m->inject_head = &m->inject_stub;
    atomic_init(&m->inject_tail, &m->inject_stub);
    atomic_init(&m->inject_closed, false);
}

static inline weft__task *link_of(weft__task *t) { return __atomic_load_n(&t->next, __ATOMIC_ACQUIRE); }

/* Appends the chain head..tail (linked through `next`).  The release
 * store publishes the tasks to the popper's acquire load of the link. */
static void inject_link(mt *m, weft__task *head, weft__task *tail) {
    __atomic_store_n(&tail->next, NULL, __ATOMIC_RELAXED);
    weft__task *prev = atomic_exchange_explicit(&m->inject_tail, tail, memory_order_seq_cst);
    __atomic_store_n(&prev->next, head, __ATOMIC_RELEASE);
}

static inline void set_head(mt *m, weft__task *t) {
    __atomic_store_n(&m->inject_head, t, __ATOMIC_SEQ_CST);
}

/* The oldest task (inject_lock held), or NULL if there is none.  A pusher
 * between its exchange and its link holds up the tasks behind it: wait it
 * out (it is two instructions from done, unless preempted). */
static weft__task *inject_take(mt *m) {
    for (unsigned spins = 0;; spins++) {
        weft__task *head = m->inject_head, *next = link_of(head);
        if (head == &m->inject_stub) {
            if (!next && atomic_load_explicit(&m->inject_tail, memory_order_seq_cst) == head)
                return NULL;
            if (next) {
                set_head(m, head = next);
                next = link_of(next);
            }
        }
        if (head != &m->inject_stub) {
            if (next) {
                set_head(m, next);
                return head;
            }
            /* The last one: put the stub behind it to take it. */
            if (atomic_load_explicit(&m->inject_tail, memory_order_seq_cst) == head)
                inject_link(m, &m->inject_stub, &m->inject_stub);
            if ((next = link_of(head))) {
                set_head(m, next);
                return head;
            }
        }
        if (spins > 64)
            weft__os_yield();
    }
}

/* Takes every task off the queue and drops the queue's references. */
static void inject_drain(mt *m) {
    weft__task *chain = NULL, **end = &chain, *t;
    weft__mutex_lock(&m->inject_lock);
    while ((t = inject_take(m))) {
        *end = t;
        end = &t->next;
    }
    *end = NULL;
    weft__mutex_unlock(&m->inject_lock);
    drop_chain(chain);
}

static void inject_push(mt *m, weft__task *head, weft__task *tail) {
    inject_link(m, head, tail);
    /* After shutdown drained the queue nobody pops it: drop what we added
     * (the exchange and this load are seq_cst, as are shutdown's store and
     * its drain's loads, so one of the two sees the tasks). */
    if (atomic_load_explicit(&m->inject_closed, memory_order_seq_cst))
        inject_drain(m);
}

/* A snapshot; seq_cst for the wake protocol (see any_work).  Empty when
 * the stub is both head and tail: the tail alone is not enough, since a
 * popper that put the stub behind the last task it saw may have raced a
 * pusher, leaving that pusher's task between the head and the stub. */
static bool inject_empty(mt *m) {
    return atomic_load_explicit(&m->inject_tail, memory_order_seq_cst) == &m->inject_stub &&
           __atomic_load_n(&m->inject_head, __ATOMIC_SEQ_CST) == &m->inject_stub;
}

/* Takes up to `max` tasks (at least one if any), at most INJECT_BATCH, so
 * that the other workers get their share.  Workers only. */
#define INJECT_BATCH 32u
static weft__task_batch inject_pop(mt *m, uint32_t max) {
    weft__task_batch b = {0};
    if (inject_empty(m))
        return b;
    if (max > INJECT_BATCH)
        max = INJECT_BATCH;
    weft__mutex_lock(&m->inject_lock);
    weft__task *t;
    while (b.n < max && (t = inject_take(m))) {
        if (b.tail)
            b.tail->next = t;
        else
            b.head = t;
        b.tail = t;
        b.n++;
    }
    weft__mutex_unlock(&m->inject_lock);
    if (b.tail)
        b.tail->next = NULL;
    return b;
}

/* Tasks queued: follows the links from the head (under the poppers' lock
 * nothing is taken meanwhile; a link not written yet ends the count). */
static uint64_t inject_depth(mt *m) {
    uint64_t n = 0;
    weft__mutex_lock(&m->inject_lock);
    for (weft__task *t = m->inject_head; t; t = link_of(t))
        n += t != &m->inject_stub;
    weft__mutex_unlock(&m->inject_lock);
    return n;
}

/* ------------------------------------------------------------ idle state */

/* ThreadSanitizer does not model fences, so its build stands a seq_cst
 * read-modify-write of the idle word in for each of the two paired fences
 * below: the same ordering (both sides then order on one location), at a
 * cost only that build pays. */
#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif
#ifdef WEFT__TSAN
#define IDLE_FENCE(m) ((void)atomic_fetch_add_explicit(&(m)->idle, 0, memory_order_seq_cst))
#else
#define IDLE_FENCE(m) atomic_thread_fence(memory_order_seq_cst)
#endif

static inline uint32_t unparked_of(uint32_t s) { return s >> 16; }
static inline uint32_t searching_of(uint32_t s) { return s & IDLE_SEARCHING_MASK; }

static bool should_wake(mt *m) {
    /* The fence orders the caller's push before this read, against the
     * fence a parking searcher puts between its decrement and its last
     * look at the queues (see the top comment).  A fence and a load, not
     * an RMW: every push does this, and the word is written rarely. */
    IDLE_FENCE(m);
    uint32_t s = atomic_load_explicit(&m->idle, memory_order_relaxed);
    return searching_of(s) == 0 && unparked_of(s) < m->n;
}

/* A look without the fence: could some worker be parked, none searching? */
static inline bool siblings_may_sleep(mt *m) {
    uint32_t s = atomic_load_explicit(&m->idle, memory_order_relaxed);
    return searching_of(s) == 0 && unparked_of(s) < m->n;
}

/* Wakes `w` wherever it sleeps: on its parker, or in the I/O driver if it
 * holds it.  A worker taking the driver publishes itself as the holder,
 * then reads its parker's word (both seq_cst), and we write the word,
 * then read the holder: one of the two sees the other. */
static void wake_worker(mt *m, worker *w) {
    parker_unpark(&w->park);
    if (m->rt->io && atomic_load_explicit(&m->driver_holder, memory_order_seq_cst) == w)
        weft__io_wake(m->rt);
}

/* Work became visible: make sure some worker will look for it. */
static void notify_parked(mt *m) {
    if (!should_wake(m))
        return;
    weft__mutex_lock(&m->idle_lock);
    if (!should_wake(m) || m->nsleepers == 0) {
        weft__mutex_unlock(&m->idle_lock);
        return;
    }
    /* The woken worker starts out searching. */
    atomic_fetch_add_explicit(&m->idle, IDLE_UNPARKED_ONE | 1u, memory_order_seq_cst);
    worker *w = &m->workers[m->sleepers[--m->nsleepers]];
    w->sleeping = false;
    weft__mutex_unlock(&m->idle_lock);
    wake_worker(m, w);
}

static bool to_searching(worker *w) {
    if (w->searching)
        return true;
    mt *m = w->m;
    uint32_t s = atomic_load_explicit(&m->idle, memory_order_seq_cst);
    if (2 * searching_of(s) >= m->n)
        return false;
    atomic_fetch_add_explicit(&m->idle, 1u, memory_order_seq_cst);
    w->searching = true;
    return true;
}

static bool any_work(mt *m);

/* Found work: stop searching.  A pusher that saw us searching woke no one,
 * so the last searcher looks at the queues once more, as a parking one
 * does, and wakes a replacement if work is left.  When the queues are
 * empty (a producer slower than the workers) that saves a sibling a
 * futex round trip per task. */
static void from_searching(worker *w) {
    if (!w->searching)
        return;
    mt *m = w->m;
    w->searching = false;
    uint32_t prev = atomic_fetch_sub_explicit(&m->idle, 1u, memory_order_seq_cst);
    if (searching_of(prev) != 1)
        return;
    IDLE_FENCE(m); /* pairs with should_wake's */
    if (any_work(m))
        notify_parked(m);
}

/* Goes on the sleepers list; true if it was the last searcher. */
static bool to_parked(worker *w) {
    mt *m = w->m;
    weft__mutex_lock(&m->idle_lock);
    uint32_t dec = IDLE_UNPARKED_ONE | (w->searching ? 1u : 0u);
    uint32_t prev = atomic_fetch_sub_explicit(&m->idle, dec, memory_order_seq_cst);
    m->sleepers[m->nsleepers++] = w->index;
    w->sleeping = true;
    weft__mutex_unlock(&m->idle_lock);
    bool last = w->searching && searching_of(prev) == 1;
    w->searching = false;
    IDLE_FENCE(m); /* pairs with should_wake's */
    return last;
}

/* Woke up with work of its own while still listed: unlist itself.  False
 * if a notifier had already taken it off (and counted it as searching). */
static bool unlist_self(worker *w) {
    mt *m = w->m;
    bool listed;
    weft__mutex_lock(&m->idle_lock);
    listed = w->sleeping;
    if (listed) {
        for (uint32_t i = 0; i < m->nsleepers; i++) {
            if (m->sleepers[i] == w->index) {
                m->sleepers[i] = m->sleepers[--m->nsleepers];
                break;
            }
        }
        w->sleeping = false;
        atomic_fetch_add_explicit(&m->idle, IDLE_UNPARKED_ONE, memory_order_seq_cst);
    }
    weft__mutex_unlock(&m->idle_lock);
    return listed;
}

static bool is_listed(worker *w) {
    weft__mutex_lock(&w->m->idle_lock);
    bool listed = w->sleeping;
    weft__mutex_unlock(&w->m->idle_lock);
    return listed;
}

static bool any_work(mt *m) {
    if (!inject_empty(m))
        return true;
    for (uint32_t i = 0; i < m->n; i++)
        if (weft__runq_len(&m->workers[i].queue))
            return true;
    return false;
}

/* ------------------------------------------------------------ scheduling */

static void push_local(worker *w, weft__task *t) {
    weft__task_batch spill;
    if (!weft__runq_push(&w->queue, t, &spill)) {
        inject_push(w->m, spill.head, spill.tail);
        count(&w->overflows, 1);
    }
}

static worker *this_worker(weft__rt *rt) {
    return weft__cur.rt == rt ? (worker *)weft__cur.worker : NULL;
}

/* Queues `t` on the worker `w` (the calling thread's). */
static void schedule_local(mt *m, worker *w, weft__task *t, int hint) {
    if (hint != WEFT__SCHED_YIELD) {
        /* The woken (or just spawned) task runs next, as in Tokio; the
         * one it displaces becomes stealable, which is worth waking a
         * sibling for. */
        weft__task *prev = w->lifo;
        w->lifo = t;
        if (!prev)
            return;
        t = prev;
    }
    push_local(w, t);
    /* A batch of I/O events wakes one sibling at its end, not one per
     * event (io_wait below), as Tokio's parked core does.  A task on our
     * own queue runs here anyway: a sibling is woken only to share the
     * work, so when every worker is awake, or one searches already, a
     * plain look spares the fence of notify_parked (a worker parking
     * meanwhile is seen at the next push). */
    if (!w->in_driver && siblings_may_sleep(m))
        notify_parked(m);
}

static void mt_schedule(weft__rt *rt, weft__task *t, int hint) {
    mt *m = mt_of(rt);
    worker *w = this_worker(rt);
    if (!w) {
        inject_push(m, t, t);
        notify_parked(m);
        return;
    }
    schedule_local(m, w, t, hint);
}

/* Waits in (or polls) the I/O driver; what its reports made runnable is
 * worth one sibling's wake, once, afterwards. */
static void io_wait(worker *w, uint64_t deadline_ns) {
    w->in_driver = true;
    weft__io_wait(w->m->rt, deadline_ns);
    w->in_driver = false;
    if (weft__runq_len(&w->queue))
        notify_parked(w->m);
}

/* Wakes the worker parked on the driver, so it looks at the clock and
 * the wheel again. */
static void poke_driver(mt *m) {
    worker *holder = atomic_load_explicit(&m->driver_holder, memory_order_seq_cst);
    if (holder)
        wake_worker(m, holder);
}

static void mt_unpark(weft__rt *rt) { poke_driver(mt_of(rt)); }

/* A timer was armed: the driver's holder wakes only if it would sleep
 * past it.  Its deadline is published after it read the wheel; until then
 * it reads 0 and we wake it regardless, so an arming that its read missed
 * is never slept past.  A paused clock (deadline 0) always wakes it. */
static void mt_timer_armed(weft__rt *rt, uint64_t deadline_ns) {
    mt *m = mt_of(rt);
    if (!atomic_load_explicit(&m->driver_holder, memory_order_seq_cst))
        return;
    uint64_t sleeping_until = atomic_load_explicit(&m->driver_deadline, memory_order_seq_cst);
    if (sleeping_until == 0 || deadline_ns < sleeping_until)
        poke_driver(m);
}

/* ------------------------------------------------------------ the worker */

static weft__task *refill_from_inject(worker *w) {
    /* A fair share, leaving the rest to the other workers. */
    uint32_t room = weft__runq_room(&w->queue);
    weft__task_batch b = inject_pop(w->m, room / 2 + 1);
    weft__task *t = b.head;
    if (!t)
        return NULL;
    b.head = t->next;
    b.n--;
    if (!b.head)
        b.tail = NULL;
    weft__runq_push_batch(&w->queue, &b);
    if (b.head) /* cannot happen: room was checked; keep the tasks anyway */
        inject_push(w->m, b.head, b.tail);
    return t;
}

static weft__task *next_task(worker *w) {
    weft__task *t;
    if (--w->inject_in == 0) {
        w->inject_in = w->m->rt->config.global_queue_interval;
        weft__task_batch b = inject_pop(w->m, 1);
        if (b.head)
            return b.head;
    }
    if ((t = w->lifo)) {
        w->lifo = NULL;
        return t;
    }
    if ((t = weft__runq_pop(&w->queue)))
        return t;
    return refill_from_inject(w);
}

static weft__task *steal_work(worker *w) {
    mt *m = w->m;
    if (!to_searching(w))
        return NULL;
    /* xorshift: where to start, so stealers spread out. */
    w->rand ^= w->rand << 13;
    w->rand ^= w->rand >> 17;
    w->rand ^= w->rand << 5;
    uint32_t start = w->rand % m->n;
    for (uint32_t i = 0; i < m->n; i++) {
        worker *victim = &m->workers[(start + i) % m->n];
        if (victim == w)
            continue;
        uint32_t n;
        weft__task *t = weft__runq_steal(&victim->queue, &w->queue, &n);
        if (t) {
            count(&w->steals, n);
            count(&w->steal_ops, 1);
            return t;
        }
    }
    weft__task_batch b = inject_pop(m, 1);
    return b.head;
}

/* Counted before the poll, because the poll may wake a block_on that
 * reads the counters at once.  An entry that will not be polled (stale,
 * or cancelled: a cancellation is no poll) is not counted; one cancelled
 * between our look and the run takes its count back.
 * Once shutdown began nothing is polled any more: the entry's reference
 * goes, and shutdown, which walks every owned task, cancels the task
 * (reporting it) wherever the walk has not been yet. */
static void poll_task(worker *w, weft__task *t) {
    if (atomic_load_explicit(&w->m->rt->shutdown, memory_order_acquire)) {
        weft__task_discard(t);
        return;
    }
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    bool will_poll = weft__task_will_poll(s);
    if (will_poll)
        count(&w->polls, 1);
    int r = weft__task_poll(t);
    if (r >= WEFT__RUN_AGAIN) /* it woke itself: as mt_schedule would */
        schedule_local(w->m, w, t, r == WEFT__RUN_YIELDED ? WEFT__SCHED_YIELD : WEFT__SCHED_WAKE);
    bool polled = r != WEFT__RUN_SKIPPED;
    if (polled != will_poll)
        atomic_store_explicit(&w->polls,
                              atomic_load_explicit(&w->polls, memory_order_relaxed) +
                                  (polled ? 1 : -1),
                              memory_order_relaxed);
}

static void run_task(worker *w, weft__task *t) {
    from_searching(w);
    poll_task(w, t);
    for (int lifo_polls = 0; w->lifo; lifo_polls++) {
        t = w->lifo;
        w->lifo = NULL;
        if (lifo_polls == LIFO_POLLS_MAX || stopped(w->m)) {
            /* Let the queue have a turn.  No sibling is woken for it: this
             * worker is awake and comes back to its queue at once. */
            push_local(w, t);
            return;
        }
        poll_task(w, t);
    }
}

/* Fires the due timers unless another thread is at it: one thread fires
 * a batch of due timers in deadline order, and one that found the flag
 * taken leaves them to it (whatever falls due later is fired at the next
 * maintenance or park). */
static void fire_timers(mt *m) {
    if (!m->rt->time || atomic_flag_test_and_set_explicit(&m->firing, memory_order_acquire))
        return;
    weft__time_process(m->rt);
    atomic_flag_clear_explicit(&m->firing, memory_order_release);
}

/* Timers, then I/O without blocking (unless another thread waits in the
 * driver: it reports the events).  No sockets, no system call. */
static void run_drivers(worker *w) {
    weft__rt *rt = w->m->rt;
    fire_timers(w->m);
    if (rt->io && weft__io_active(rt))
        io_wait(w, 0);
}

/* Every thread that could make work is idle but `roots` block_on
 * threads (the caller's own, if it is one): a paused clock may jump.  As
 * on current_thread, it does so only while some block_on drives the
 * runtime, never between two of them. */
static bool all_idle(mt *m, uint32_t roots) {
    return unparked_of(atomic_load_explicit(&m->idle, memory_order_seq_cst)) == 0 &&
           atomic_load_explicit(&m->busy_roots, memory_order_seq_cst) == roots &&
           atomic_load_explicit(&m->roots, memory_order_seq_cst) > 0;
}

/* Jumps a paused clock to the next timer and fires it, unless another
 * thread is firing.  The wakes run on the calling thread. */
static bool advance_paused_clock(mt *m) {
    if (atomic_flag_test_and_set_explicit(&m->firing, memory_order_acquire))
        return false;
    bool fired = weft__time_auto_advance(m->rt);
    atomic_flag_clear_explicit(&m->firing, memory_order_release);
    return fired;
}

/* One sleep: on the driver (until the next timer) if nobody holds it,
 * else until woken. */
static void sleep_once(worker *w) {
    mt *m = w->m;
    weft__rt *rt = m->rt;
    if ((!rt->time && !rt->io) ||
        atomic_flag_test_and_set_explicit(&m->driver_taken, memory_order_acquire)) {
        parker_wait(&w->park, UINT64_MAX);
        return;
    }
    /* Publish ourselves before reading the wheel, so that a timer armed
     * after our read pokes us (both sides are seq_cst or under the time
     * lock). */
    atomic_store_explicit(&m->driver_deadline, 0, memory_order_seq_cst);
    atomic_store_explicit(&m->driver_holder, w, memory_order_seq_cst);
    uint64_t deadline = rt->time ? weft__time_park_deadline(rt) : UINT64_MAX;
    bool advanced = false;
    if (deadline == 0) {
        /* A paused clock jumps only once I/O has nothing ready either. */
        if (rt->io && weft__io_active(rt))
            io_wait(w, 0);
        if (w->lifo || weft__runq_len(&w->queue))
            advanced = true; /* I/O made work: no sleep */
        else
            advanced = all_idle(m, 0) && advance_paused_clock(m);
        deadline = UINT64_MAX;
    } else {
        atomic_store_explicit(&m->driver_deadline, deadline, memory_order_seq_cst);
    }
    if (!advanced && rt->io) {
        /* A wake that came before we published ourselves is in the word. */
        if (atomic_load_explicit(&w->park.state, memory_order_seq_cst) == PARK_NOTIFIED)
            deadline = 0;
        io_wait(w, deadline);
        parker_take(&w->park);
    } else if (!advanced) {
        parker_wait(&w->park, deadline);
    }
    atomic_store_explicit(&m->driver_holder, NULL, memory_order_seq_cst);
    fire_timers(m);
    atomic_flag_clear_explicit(&m->driver_taken, memory_order_release);
}

/* Woken: true if there is something to do (or the runtime stops). */
static bool from_parked(worker *w) {
    if (w->lifo || weft__runq_len(&w->queue)) {
        /* Our own timers made work: we were not counted as searching
         * unless a notifier took us off the list meanwhile. */
        w->searching = !unlist_self(w);
        return true;
    }
    if (is_listed(w))
        return false; /* spurious, or the driver's deadline */
    w->searching = true; /* a notifier counted us as searching */
    return true;
}

/* Nothing runs anywhere and the clock is paused: its holder may jump. */
static bool paused_and_idle(mt *m) {
    return m->rt->time && all_idle(m, 0) && weft__time_park_deadline(m->rt) == 0;
}

static void park(worker *w) {
    mt *m = w->m;
    count(&w->parks, 1);
    if (to_parked(w) && any_work(m))
        notify_parked(m);
    /* The last worker to go idle lets a paused clock's holder jump ahead. */
    if (paused_and_idle(m))
        poke_driver(m);
    while (!stopped(m)) {
        sleep_once(w);
        if (from_parked(w))
            return;
    }
}

static void worker_loop(worker *w) {
    mt *m = w->m;
    uint32_t events = m->rt->config.event_interval;
    while (!stopped(m)) {
        if (--w->events_in == 0) {
            w->events_in = events;
            run_drivers(w);
        }
        weft__task *t = next_task(w);
        if (!t)
            t = steal_work(w);
        if (t) {
            run_task(w, t);
            continue;
        }
        park(w);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    weft__rt *rt = w->m->rt;
    char name[32];
    snprintf(name, sizeof name, "%s-%u", rt->config.thread_name ? rt->config.thread_name : "weft",
             w->index);
    weft__thread_set_name(name);
    /* Tasks move between workers, so they stay on the runtime's shared
     * owned list; freed task blocks go to this worker's own cache. */
    weft__cur = (weft__tls){.rt = rt, .worker = w, .cache = &w->cache};
    if (rt->config.on_thread_start)
        rt->config.on_thread_start(rt->config.thread_hook_ctx);
    worker_loop(w);
    if (rt->config.on_thread_stop)
        rt->config.on_thread_stop(rt->config.thread_hook_ctx);
    weft__cur = (weft__tls){0};
    return NULL;
}

/* ------------------------------------------------------------- block_on */

/* The root future's waker: a parker with a reference count, because a
 * clone may be woken on another thread just as block_on returns. */
typedef struct root {
    parker park; /* PARK_PARKED: idle, not counted in busy_roots */
    _Atomic uint32_t refs;
    mt *m;
    weft__rt *rt; /* referenced: a waker clone may outlive the runtime's
                   * own reference, and frees through its allocator */
} root;

/* The root's parker after block_on returned: wakes no longer count. */
#define ROOT_DONE (PARK_NOTIFIED + 1)

static void root_unref(const void *data) {
    root *r = (root *)data;
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    parker_destroy(&r->park);
    weft__rt *rt = r->rt;
    weft__free(rt, r, sizeof *r);
    weft__rt_unref(rt);
}

/* Like parker_unpark, but the wake that ends an idle wait counts the
 * root busy again, under the lock, so the block_on thread cannot run on
 * (and later uncount itself) before it was counted. */
static void root_wake_by_ref(const void *data) {
    root *r = (root *)data;
    parker *p = &r->park;
    uint32_t s = atomic_load_explicit(&p->state, memory_order_relaxed);
    while (s == PARK_EMPTY)
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, PARK_NOTIFIED,
                                                  memory_order_release, memory_order_relaxed))
            return;
    if (s != PARK_PARKED)
        return; /* notified already, or done */
    weft__mutex_lock(&p->lock);
    if (atomic_load_explicit(&p->state, memory_order_relaxed) == PARK_PARKED) {
        atomic_fetch_add_explicit(&r->m->busy_roots, 1, memory_order_seq_cst);
        atomic_store_explicit(&p->state, PARK_NOTIFIED, memory_order_release);
        weft__cond_signal(&p->cond);
    }
    weft__mutex_unlock(&p->lock);
}

static void root_wake(const void *data) {
    root_wake_by_ref(data);
    root_unref(data);
}

static weft_waker root_clone(const void *data);
static const weft_waker_vtable root_vt = {root_clone, root_wake, root_wake_by_ref, root_unref};
static weft_waker root_clone(const void *data) {
    atomic_fetch_add_explicit(&((root *)data)->refs, 1, memory_order_relaxed);
    return (weft_waker){data, &root_vt};
}

/* The block_on thread is the last one busy and the clock is paused: it
 * moves the clock on itself, as current_thread does, so every wake of
 * that jump has run before its future is polled again. */
static bool root_advances_clock(mt *m) {
    return m->rt->time && all_idle(m, 1) && weft__time_park_deadline(m->rt) == 0 &&
           advance_paused_clock(m);
}

/* Sleeps until the root future is woken. */
static void root_wait(root *r) {
    mt *m = r->m;
    parker *p = &r->park;
    while (atomic_load_explicit(&p->state, memory_order_relaxed) != PARK_NOTIFIED &&
           root_advances_clock(m))
        ;
    if (parker_take(p))
        return;
    weft__mutex_lock(&p->lock);
    uint32_t s = PARK_EMPTY;
    if (atomic_compare_exchange_strong_explicit(&p->state, &s, PARK_PARKED,
                                                memory_order_relaxed, memory_order_relaxed)) {
        /* Idle now.  Unlocked meanwhile: the wheel and the driver's
         * parker have locks of their own, taken under a wake. */
        weft__mutex_unlock(&p->lock);
        if (atomic_fetch_sub_explicit(&m->busy_roots, 1, memory_order_seq_cst) == 1 &&
            paused_and_idle(m))
            poke_driver(m);
        weft__mutex_lock(&p->lock);
        while (atomic_load_explicit(&p->state, memory_order_relaxed) == PARK_PARKED)
            weft__cond_wait(&p->cond, &p->lock);
    }
    atomic_exchange_explicit(&p->state, PARK_EMPTY, memory_order_acquire);
    weft__mutex_unlock(&p->lock);
}

static int mt_block_on(weft__rt *rt, weft_future *f, void *out) {
    mt *m = mt_of(rt);
    root *r = weft__alloc(rt, sizeof *r);
    if (!r)
        return WEFT_ENOMEM;
    parker_init(&r->park);
    atomic_init(&r->refs, 1);
    r->m = m;
    r->rt = rt;
    weft__rt_ref(rt);
    atomic_fetch_add_explicit(&m->roots, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&m->busy_roots, 1, memory_order_seq_cst);
    bool cached = !atomic_flag_test_and_set_explicit(&m->root_cache_taken, memory_order_acquire);
    weft__cur = (weft__tls){.rt = rt, .cache = cached ? &m->root_cache : NULL};
    weft_waker w = {r, &root_vt};
    weft_context cx = {&w, rt, 0, 0};
    while (weft_future_poll(f, &cx, out) == WEFT_PENDING) {
        cx.weft__yielded = 0;
        root_wait(r);
    }
    weft__cur = (weft__tls){0};
    if (cached)
        atomic_flag_clear_explicit(&m->root_cache_taken, memory_order_release);
    /* Busy until here (only root_wait parks); late wakes must not count
     * us busy again. */
    atomic_store_explicit(&r->park.state, ROOT_DONE, memory_order_relaxed);
    atomic_fetch_sub_explicit(&m->busy_roots, 1, memory_order_seq_cst);
    atomic_fetch_sub_explicit(&m->roots, 1, memory_order_seq_cst);
    root_unref(r);
    return cx.weft__fail;
}

/* ------------------------------------------------------------ lifecycle */

/* weft_runtime_new resolved 0 ($WEFT_WORKER_THREADS, else the cores). */
static uint32_t worker_count(const weft_builder *b) {
    return b->worker_threads > 0 ? (uint32_t)b->worker_threads : weft__cpu_count();
}

static void free_mt(weft__rt *rt, mt *m) {
    for (uint32_t i = 0; i < m->n; i++)
        parker_destroy(&m->workers[i].park);
    weft__free(rt, m->sleepers, m->n * sizeof *m->sleepers);
    weft__free(rt, m->workers, m->n * sizeof *m->workers);
    weft__mutex_destroy(&m->idle_lock);
    weft__mutex_destroy(&m->inject_lock);
    weft__free(rt, m, sizeof *m);
}

static void stop_workers(mt *m) {
    atomic_store_explicit(&m->stop, true, memory_order_release);
    for (uint32_t i = 0; i < m->n; i++)
        wake_worker(m, &m->workers[i]);
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->workers[i].started)
            weft__thread_join(m->workers[i].thread);
        m->workers[i].started = false;
    }
}

static int mt_create(weft__rt *rt, const weft_builder *b) {
    uint32_t n = worker_count(b);
    mt *m = weft__alloc(rt, sizeof *m);
    if (!m)
        return WEFT_ENOMEM;
    memset(m, 0, sizeof *m);
    m->rt = rt;
    m->n = n;
    m->workers = weft__alloc(rt, n * sizeof *m->workers);
    m->sleepers = weft__alloc(rt, n * sizeof *m->sleepers);
    if (!m->workers || !m->sleepers) {
        weft__free(rt, m->workers, n * sizeof *m->workers);
        weft__free(rt, m->sleepers, n * sizeof *m->sleepers);
        weft__free(rt, m, sizeof *m);
        return WEFT_ENOMEM;
    }
    weft__mutex_init(&m->inject_lock);
    inject_init(m);
    weft__mutex_init(&m->idle_lock);
    atomic_flag_clear(&m->driver_taken);
    atomic_flag_clear(&m->firing);
    atomic_flag_clear(&m->root_cache_taken);
    atomic_init(&m->idle, n * IDLE_UNPARKED_ONE);
    for (uint32_t i = 0; i < n; i++) {
        worker *w = &m->workers[i];
        memset(w, 0, sizeof *w);
        w->m = m;
        w->index = i;
        w->rand = 0x9e3779b9u * (i + 1);
        w->inject_in = rt->config.global_queue_interval;
        w->events_in = rt->config.event_interval;
        parker_init(&w->park);
        weft__runq_init(&w->queue);
    }
    rt->sched_data = m;
    for (uint32_t i = 0; i < n; i++) {
        worker *w = &m->workers[i];
        if (weft__thread_start(&w->thread, worker_main, w, b->thread_stack_size, false)) {
            stop_workers(m);
            rt->sched_data = NULL;
            free_mt(rt, m);
            return WEFT_ENOMEM;
        }
        w->started = true;
    }
    return 0;
}

/* Every task is complete (shutdown_tasks ran): stop the workers, then
 * drop the stale entries left in the queues. */
static void mt_shutdown(weft__rt *rt) {
    mt *m = mt_of(rt);
    stop_workers(m);
    for (uint32_t i = 0; i < m->n; i++) {
        worker *w = &m->workers[i];
        weft__task *t;
        if (w->lifo)
            weft__task_discard(w->lifo);
        w->lifo = NULL;
        while ((t = weft__runq_pop(&w->queue)))
            weft__task_discard(t);
    }
    for (uint32_t i = 0; i < m->n; i++)
        weft__task_cache_clear(rt, &m->workers[i].cache);
    weft__task_cache_clear(rt, &m->root_cache);
    atomic_store_explicit(&m->inject_closed, true, memory_order_seq_cst);
    inject_drain(m);
    /* Stale entries freed just now may have filled no cache of ours: the
     * workers are gone, so blocks went back to the runtime's slab. */
}

static void mt_destroy(weft__rt *rt) {
    mt *m = mt_of(rt);
    if (!m)
        return;
    stop_workers(m); /* no-op after shutdown */
    rt->sched_data = NULL;
    free_mt(rt, m);
}

/* --------------------------------------------------------------- metrics */

static void mt_stats(weft__rt *rt, weft_runtime_stats *out) {
    mt *m = mt_of(rt);
    for (uint32_t i = 0; i < m->n; i++)
        out->polls += atomic_load_explicit(&m->workers[i].polls, memory_order_relaxed);
}

static void mt_metrics(weft__rt *rt, weft_runtime_metrics *out) {
    mt *m = mt_of(rt);
    out->workers = m->n;
    out->inject_queue_depth = inject_depth(m);
}

static int mt_worker_metrics(weft__rt *rt, uint32_t i, weft_worker_metrics *out) {
    mt *m = mt_of(rt);
    if (i >= m->n)
        return WEFT_ERANGE;
    worker *w = &m->workers[i];
    out->polls = atomic_load_explicit(&w->polls, memory_order_relaxed);
    out->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
    out->steal_operations = atomic_load_explicit(&w->steal_ops, memory_order_relaxed);
    out->parks = atomic_load_explicit(&w->parks, memory_order_relaxed);
    out->overflows = atomic_load_explicit(&w->overflows, memory_order_relaxed);
    out->local_queue_depth = weft__runq_len(&w->queue);
    return 0;
}

const weft__sched_ops weft__multi_thread_ops = {
    .name = "multi_thread",
    .create = mt_create,
    .schedule = mt_schedule,
    .block_on = mt_block_on,
    .unpark = mt_unpark,
    .shutdown = mt_shutdown,
    .destroy = mt_destroy,
    .stats = mt_stats,
    .metrics = mt_metrics,
    .worker_metrics = mt_worker_metrics,
    .timer_armed = mt_timer_armed,
};
