/* weft — the current_thread scheduler: every task runs on the thread that
 * calls block_on.
 *
 * Queues: a local FIFO run queue touched only by the driving thread; a
 * deferred list of tasks that yielded, requeued once the drivers have run
 * (so a yield lets timers and other tasks go first, as Tokio's defer does);
 * and an inject queue under a mutex for tasks made ready on other threads,
 * which also unparks the driving thread.  The inject queue is checked first
 * every `global_queue_interval` ticks and the drivers every
 * `event_interval` ticks, so neither side can starve the other.
 */
#include "task.h"

typedef struct task_list {
    weft__task *head, *tail;
} task_list;

static inline void list_push(task_list *l, weft__task *t) {
    t->next = NULL;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

static inline weft__task *list_pop(task_list *l) {
    weft__task *t = l->head;
    if (t) {
        l->head = t->next;
        if (!l->head)
            l->tail = NULL;
    }
    return t;
}

static inline void list_append(task_list *dst, task_list *src) {
    if (!src->head)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    *src = (task_list){0};
}

typedef struct ct {
    weft__rt *rt;
    task_list run;      /* ready, driving thread only */
    task_list deferred; /* yielded, driving thread only */
    uint32_t inject_in; /* picks until the inject queue goes first (a
                         * countdown from global_queue_interval: no
                         * division per pick) */
    _Atomic bool driving;    /* a block_on owns the scheduler */
    _Atomic bool root_woken; /* the block_on future was woken */
    _Atomic size_t inject_len;
    weft__mutex lock; /* guards inject, parked, unparked */
    weft__cond cond;
    task_list inject;
    bool parked;
    bool unparked;
    weft__task_cache cache; /* driving thread only */
    weft__owned owned;      /* tasks spawned on the driving thread */
    uint64_t polls;
} ct;

static ct *ct_of(weft__rt *rt) { return (ct *)rt->sched_data; }

static inline bool on_driver(ct *c) { return weft__cur.worker == c; }

/* Under c->lock, with the driving thread parked: wake it where it sleeps
 * (the I/O driver, or the condition variable). */
static void wake_parked(ct *c) {
    if (c->rt->io)
        weft__io_wake(c->rt);
    else
        weft__cond_signal(&c->cond);
}

static void ct_unpark(weft__rt *rt) {
    ct *c = ct_of(rt);
    weft__mutex_lock(&c->lock);
    c->unparked = true;
    if (c->parked)
        wake_parked(c);
    weft__mutex_unlock(&c->lock);
}

static void ct_schedule(weft__rt *rt, weft__task *t, int hint) {
    ct *c = ct_of(rt);
    if (on_driver(c)) {
        list_push(hint == WEFT__SCHED_YIELD ? &c->deferred : &c->run, t);
        return;
    }
    weft__mutex_lock(&c->lock);
    list_push(&c->inject, t);
    atomic_fetch_add_explicit(&c->inject_len, 1, memory_order_release);
    c->unparked = true;
    if (c->parked)
        wake_parked(c);
    weft__mutex_unlock(&c->lock);
}

static weft__task *pop_inject(ct *c) {
    if (atomic_load_explicit(&c->inject_len, memory_order_acquire) == 0)
        return NULL;
    weft__mutex_lock(&c->lock);
    weft__task *t = list_pop(&c->inject);
    if (t)
        atomic_fetch_sub_explicit(&c->inject_len, 1, memory_order_relaxed);
    weft__mutex_unlock(&c->lock);
    return t;
}

static weft__task *next_task(ct *c) {
    weft__task *t;
    if (--c->inject_in == 0) {
        c->inject_in = c->rt->config.global_queue_interval;
        if ((t = pop_inject(c)))
            return t;
        return list_pop(&c->run);
    }
    if ((t = list_pop(&c->run)))
        return t;
    return pop_inject(c);
}

/* ---------------------------------------------------------- the root waker */

static weft_waker root_clone(const void *data);
static void root_wake_by_ref(const void *data) {
    ct *c = (ct *)data;
    atomic_store_explicit(&c->root_woken, true, memory_order_release);
    if (!on_driver(c))
        ct_unpark(c->rt);
}
static void root_drop(const void *data) { (void)data; }
static const weft_waker_vtable root_vt = {root_clone, root_wake_by_ref, root_wake_by_ref,
                                          root_drop};
/* The root waker points at the scheduler, which outlives every block_on. */
static weft_waker root_clone(const void *data) { return (weft_waker){data, &root_vt}; }

/* -------------------------------------------------------------- the loop */

/* Timers, then I/O without blocking (no sockets: no system call). */
static void run_drivers(ct *c) {
    weft__rt *rt = c->rt;
    if (rt->time)
        weft__time_process(rt);
    if (rt->io && weft__io_active(rt))
        weft__io_wait(rt, 0);
}

static bool has_work(ct *c);

/* Nothing is ready: sleep until a timer is due, an I/O event comes or
 * another thread wakes us (in the I/O driver when there is one: a wake
 * reaches it through weft__io_wake).  A paused clock instead jumps to the
 * next timer, once I/O has nothing ready either. */
static void park(ct *c) {
    weft__rt *rt = c->rt;
    uint64_t deadline = rt->time ? weft__time_park_deadline(rt) : UINT64_MAX;
    if (deadline == 0) {
        if (rt->io && weft__io_active(rt)) {
            weft__io_wait(rt, 0);
            if (has_work(c))
                return;
        }
        if (weft__time_auto_advance(rt))
            return;
        deadline = UINT64_MAX;
    }
    weft__mutex_lock(&c->lock);
    if (!c->unparked && c->inject.head == NULL) {
        c->parked = true;
        if (rt->io) {
            /* A wake after the unlock finds `parked` and reaches the
             * driver, which then does not block. */
            weft__mutex_unlock(&c->lock);
            weft__io_wait(rt, deadline);
            weft__mutex_lock(&c->lock);
        } else {
            weft__cond_wait_until(&c->cond, &c->lock, deadline);
        }
        c->parked = false;
    }
    c->unparked = false;
    weft__mutex_unlock(&c->lock);
    if (rt->time)
        weft__time_process(rt);
}

static bool has_work(ct *c) {
    return atomic_load_explicit(&c->root_woken, memory_order_acquire) || c->run.head ||
           atomic_load_explicit(&c->inject_len, memory_order_acquire) != 0;
}

static int ct_block_on(weft__rt *rt, weft_future *f, void *out) {
    ct *c = ct_of(rt);
    if (atomic_exchange(&c->driving, true))
        return WEFT_EBUSY;
    weft__cur = (weft__tls){rt, c, &c->cache, &c->owned};
    weft_waker w = {c, &root_vt};
    weft_context cx = {&w, rt, 0, 0};
    uint32_t batch = rt->config.event_interval;
    bool root_deferred = false; /* the root yielded: poll it after a batch */
    atomic_store(&c->root_woken, true);
    for (;;) {
        if (atomic_exchange_explicit(&c->root_woken, false, memory_order_acq_rel)) {
            cx.weft__yielded = 0;
            if (weft_future_poll(f, &cx, out) == WEFT_READY)
                break;
            /* Its yield woke it at once; hold that wake until the ready
             * tasks had their turn, or a yielding root starves them. */
            if (cx.weft__yielded)
                root_deferred = atomic_exchange(&c->root_woken, false);
        }
        /* A batch runs to its end even when the root is woken meanwhile
         * (as Tokio's does): joining a finished task, the root finds a
         * row of them finished at its next poll, not one per batch. */
        for (uint32_t n = 0; n < batch; n++) {
            weft__task *t = next_task(c);
            if (!t)
                break;
            int r = weft__task_poll(t);
            c->polls += r != WEFT__RUN_SKIPPED;
            if (r >= WEFT__RUN_AGAIN) /* it woke itself: as ct_schedule would */
                list_push(r == WEFT__RUN_YIELDED ? &c->deferred : &c->run, t);
        }
        if (root_deferred) {
            atomic_store(&c->root_woken, true);
            root_deferred = false;
        }
        if (has_work(c) || c->deferred.head) {
            run_drivers(c);
            list_append(&c->run, &c->deferred);
            continue;
        }
        park(c);
    }
    weft__cur = (weft__tls){0};
    atomic_store(&c->driving, false);
    return cx.weft__fail;
}

/* ------------------------------------------------------------- lifecycle */

static int ct_create(weft__rt *rt, const weft_builder *b) {
    (void)b;
    ct *c = weft__alloc(rt, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    *c = (ct){.rt = rt, .inject_in = rt->config.global_queue_interval};
    weft__owned_init(&c->owned);
    weft__mutex_init(&c->lock);
    weft__cond_init(&c->cond);
    rt->sched_data = c;
    return 0;
}

static void drain(task_list *l) {
    weft__task *t;
    while ((t = list_pop(l)))
        weft__task_discard(t);
}

static void settle_list(task_list *l) {
    for (weft__task *t = l->head; t; t = t->next)
        weft__task_settle(t);
}

/* No block_on runs at shutdown, so no thread takes from the queues. */
static void ct_settle(weft__rt *rt) {
    ct *c = ct_of(rt);
    settle_list(&c->run);
    settle_list(&c->deferred);
    weft__mutex_lock(&c->lock);
    settle_list(&c->inject);
    weft__mutex_unlock(&c->lock);
}

static void ct_shutdown(weft__rt *rt) {
    ct *c = ct_of(rt);
    weft__owned_shutdown(rt, &c->owned);
    drain(&c->run);
    drain(&c->deferred);
    weft__mutex_lock(&c->lock);
    task_list inject = c->inject;
    c->inject = (task_list){0};
    atomic_store(&c->inject_len, 0);
    weft__mutex_unlock(&c->lock);
    drain(&inject);
    weft__task_cache_clear(rt, &c->cache);
}

static void ct_destroy(weft__rt *rt) {
    ct *c = ct_of(rt);
    if (!c)
        return;
    weft__task_cache_clear(rt, &c->cache);
    weft__cond_destroy(&c->cond);
    weft__mutex_destroy(&c->lock);
    rt->sched_data = NULL;
    weft__free(rt, c, sizeof *c);
}

static void ct_stats(weft__rt *rt, weft_runtime_stats *out) { out->polls += ct_of(rt)->polls; }

const weft__sched_ops weft__current_thread_ops = {
    .name = "current_thread",
    .create = ct_create,
    .schedule = ct_schedule,
    .block_on = ct_block_on,
    .unpark = ct_unpark,
    .shutdown = ct_shutdown,
    .destroy = ct_destroy,
    .stats = ct_stats,
    .settle = ct_settle,
};
