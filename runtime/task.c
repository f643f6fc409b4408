/* weft — the task state machine, the task waker, spawn and JoinHandle.
 *
 * Every transition is one compare-and-swap on the task's state word, so a
 * wake, an abort or a JoinHandle drop may race a poll on another thread;
 * the exceptions are the steps of a thread that holds every reference
 * left (complete and join_drop say when), which nobody can race.
 * Memory order: transitions that publish the future's output or hand the
 * join waker over use acq_rel; reference increments are relaxed (the
 * caller already holds a reference), decrements acq_rel so that the last
 * one sees every write before freeing.
 */
#include <string.h>

#include "profile.h"
#include "task.h"

#define REFS(s) ((s) / WEFT__T_REF_ONE)

#define task_waker_vt weft__task_waker_vt

static inline uint64_t load_state(weft__task *t) {
    return atomic_load_explicit(&t->state, memory_order_acquire);
}

static inline bool cas_state(weft__task *t, uint64_t *cur, uint64_t next) {
    return atomic_compare_exchange_weak_explicit(&t->state, cur, next, memory_order_acq_rel,
                                                 memory_order_acquire);
}

/* ------------------------------------------------------------ allocation */

/* The block's size, from the future's vtable (still in the dead future). */
static size_t block_size(weft__task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    return weft__task_size(weft__task_future(t)->vt, s & WEFT__T_OWNER, s & WEFT__T_JOINABLE);
}

/* The block goes back to the runtime's slab; the last one out may free
 * the runtime. */
static void task_dealloc(weft__task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    weft__block_free(weft__task_rt(t), t, block_size(t), s & WEFT__T_PREFIXED);
}

/* The completion status lives where the future was, once it is dropped:
 * 0, WEFT_ECANCELED or a failure code. */
static inline int32_t *status_of(weft__task *t) {
    return (int32_t *)(void *)&weft__task_future(t)->resume;
}

static void task_unref_n(weft__task *t, uint64_t n) {
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, n * WEFT__T_REF_ONE, memory_order_acq_rel);
    if (REFS(prev) < n)
        weft__die("task reference count underflow");
    if (REFS(prev) == n)
        task_dealloc(t);
}

void weft__task_unref(weft__task *t) { task_unref_n(t, 1); }

/* Drops `n` references and clears `flags` (all set, and owned by the
 * caller) in the same step. */
static void task_unref_n_flags(weft__task *t, uint64_t n, uint64_t flags) {
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, n * WEFT__T_REF_ONE + flags,
                                              memory_order_acq_rel);
    if (REFS(prev) < n)
        weft__die("task reference count underflow");
    if (REFS(prev) == n)
        task_dealloc(t);
}

static inline void task_ref(weft__task *t) {
    atomic_fetch_add_explicit(&t->state, WEFT__T_REF_ONE, memory_order_relaxed);
}

/* ------------------------------------------------------------- owned list */

void weft__owned_init(weft__owned *l) { l->head.prev = l->head.next = &l->head; }

static inline weft__task *task_of_link(weft__link *l) {
    return (weft__task *)(void *)((char *)l - offsetof(weft__task, owned));
}

static void owned_insert(weft__owned *l, weft__task *t) {
    t->owned.prev = &l->head;
    t->owned.next = l->head.next;
    l->head.next->prev = &t->owned;
    l->head.next = &t->owned;
}

static void owned_unlink(weft__task *t) {
    t->owned.prev->next = t->owned.next;
    t->owned.next->prev = t->owned.prev;
    t->owned.prev = t->owned.next = NULL;
}

/* A task's shard: by id where it has one (the simulator's order of them
 * is its spawn order), else by address (blocks are 16 bytes apart at
 * least; the bits above spread neighbours). */
static inline weft__owned_shard *shard_of(weft__rt *rt, weft__task *t) {
    uint64_t id = weft__task_id(t);
    uint64_t key = id ? id : (uint64_t)((uintptr_t)t >> 4) * UINT64_C(0x9e3779b97f4a7c15) >> 40;
    return &rt->owned[key & rt->owned_mask];
}

int weft__owned_create(weft__rt *rt, unsigned n) {
    size_t line = sizeof *rt->owned;
    rt->owned_mem = weft__alloc(rt, (n + 1) * line);
    if (!rt->owned_mem)
        return WEFT_ENOMEM;
    rt->owned = (weft__owned_shard *)(((uintptr_t)rt->owned_mem + line - 1) & ~(uintptr_t)(line - 1));
    rt->owned_mask = n - 1;
    for (unsigned i = 0; i < n; i++) {
        weft__spin_init(&rt->owned[i].lock);
        weft__owned_init(&rt->owned[i].list);
    }
    return 0;
}

void weft__owned_destroy(weft__rt *rt) {
    if (!rt->owned_mem)
        return;
    weft__free(rt, rt->owned_mem, (rt->owned_mask + 2) * sizeof *rt->owned);
    rt->owned_mem = NULL;
    rt->owned = NULL;
}

/* Unlinks `t` from its owned list if it still is on one; true if it was.
 * A thread-local list is only touched by its own thread (or at shutdown,
 * when no thread drives the runtime); a shard may be walked by shutdown
 * on another thread meanwhile, so its membership is decided under the
 * lock. */
static bool owned_remove(weft__task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    if (s & WEFT__T_OWNED_LOCAL) {
        if (!t->owned.next)
            return false;
        owned_unlink(t);
        return true;
    }
    weft__owned_shard *sh = shard_of(weft__task_rt(t), t);
    weft__spin_lock(&sh->lock);
    bool on = t->owned.next != NULL;
    if (on)
        owned_unlink(t);
    weft__spin_unlock(&sh->lock);
    return on;
}

/* Takes the first task of `l` (of `owner`'s, if not NULL) off it. */
static weft__task *owned_pop(weft__owned *l, weft__task_owner *owner) {
    for (weft__link *n = l->head.next; n != &l->head; n = n->next) {
        weft__task *t = task_of_link(n);
        if (owner && !((atomic_load_explicit(&t->state, memory_order_relaxed) & WEFT__T_OWNER) &&
                       *weft__task_owner_slot(t) == owner))
            continue; /* only a task with an owner has the trailer */
        owned_unlink(t);
        return t;
    }
    return NULL;
}

/* Shuts down the tasks of `owner` (NULL: every task) on the shards. */
static void shards_shutdown(weft__rt *rt, weft__task_owner *owner) {
    for (uint32_t i = 0; i <= rt->owned_mask; i++) {
        weft__owned_shard *sh = &rt->owned[i];
        for (;;) {
            weft__spin_lock(&sh->lock);
            weft__task *t = owned_pop(&sh->list, owner);
            weft__spin_unlock(&sh->lock);
            if (!t)
                break;
            weft__task_shutdown(t);
        }
    }
}

void weft__owned_shutdown(weft__rt *rt, weft__owned *list) {
    if (!list) {
        shards_shutdown(rt, NULL);
        return;
    }
    for (weft__task *t; (t = owned_pop(list, NULL));)
        weft__task_shutdown(t);
}

void weft__owned_shutdown_owner(weft__rt *rt, weft__task_owner *owner) {
    shards_shutdown(rt, owner);
}

void weft__owned_visit(weft__rt *rt, weft__owned *list, void (*fn)(void *ctx, weft__task *t),
                       void *ctx) {
    if (list)
        for (weft__link *n = list->head.next; n != &list->head; n = n->next)
            fn(ctx, task_of_link(n));
    for (uint32_t i = 0; i <= rt->owned_mask; i++) {
        weft__owned_shard *sh = &rt->owned[i];
        weft__spin_lock(&sh->lock);
        for (weft__link *n = sh->list.head.next; n != &sh->list.head; n = n->next)
            fn(ctx, task_of_link(n));
        weft__spin_unlock(&sh->lock);
    }
}

/* ------------------------------------------------------------- the waker */

static void schedule(weft__task *t, int hint) {
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & WEFT__T_OWNER) {
        weft__task_owner *o = *weft__task_owner_slot(t);
        o->schedule(o, t, hint);
        return;
    }
    weft__rt *rt = weft__task_rt(t);
    rt->sched->schedule(rt, t, hint);
}

/* Makes the task NOTIFIED; returns true when the caller must queue it
 * (holding a reference for the queue). `consume` says whether the caller
 * gives up a reference. */
static bool transition_to_notified(weft__task *t, bool consume, bool *dealloc) {
    uint64_t cur = load_state(t), next;
    bool submit;
    *dealloc = false;
    do {
        next = cur;
        submit = false;
        if (cur & WEFT__T_RUNNING) {
            next |= WEFT__T_NOTIFIED;
            if (consume)
                next -= WEFT__T_REF_ONE;
        } else if (cur & (WEFT__T_COMPLETE | WEFT__T_NOTIFIED)) {
            if (consume)
                next -= WEFT__T_REF_ONE;
        } else {
            next |= WEFT__T_NOTIFIED;
            if (!consume)
                next += WEFT__T_REF_ONE; /* the queue's reference */
            submit = true;
        }
    } while (!cas_state(t, &cur, next));
    *dealloc = consume && !submit && REFS(next) == 0;
    return submit;
}

static weft_waker task_waker_clone(const void *data) {
    task_ref((weft__task *)data);
    return (weft_waker){data, &task_waker_vt};
}

static void task_waker_wake(const void *data) {
    weft__task *t = (weft__task *)data;
    bool dealloc;
    if (transition_to_notified(t, true, &dealloc))
        schedule(t, WEFT__SCHED_WAKE);
    else if (dealloc)
        task_dealloc(t);
}

static void task_waker_wake_by_ref(const void *data) {
    weft__task *t = (weft__task *)data;
    /* Woken by its own poll (a yield, a spent budget): its poller sees to
     * it when the poll returns, without touching the state word. */
    if (t == weft__coop_cur.task) {
        weft__coop_cur.self_woken = true;
        return;
    }
    bool dealloc;
    if (transition_to_notified(t, false, &dealloc))
        schedule(t, WEFT__SCHED_WAKE);
}

static void task_waker_drop(const void *data) { weft__task_unref((weft__task *)data); }

const weft_waker_vtable weft__task_waker_vt = {task_waker_clone, task_waker_wake,
                                               task_waker_wake_by_ref, task_waker_drop};

/* ------------------------------------------------------------ completion */

/* JOIN_WAKER is set: the task side owns join_waker until it clears the
 * bit, and the handle may still read (never write) it meanwhile.  Takes a
 * clone to wake later, hands the slot back, and says whether the handle
 * still wants the wake; if the handle left meanwhile the slot is ours to
 * drop. */
static bool take_join_waker(weft__task *t, weft_waker *w) {
    *w = weft_waker_clone(weft__task_join_waker(t));
    uint64_t cur = load_state(t);
    while (!cas_state(t, &cur, cur & ~(uint64_t)WEFT__T_JOIN_WAKER))
        ;
    if (cur & WEFT__T_JOIN_INTEREST)
        return true;
    weft_waker_drop(weft__task_join_waker(t));
    return false;
}

/* The future is gone and `status` is stored: leave the owned list, then
 * publish COMPLETE and drop the poller's and the list's references in the
 * same step, so that a JoinHandle seeing COMPLETE (on another thread,
 * perhaps) finds no reference held but its own.  Only when a join waker
 * is to be woken is the poller's reference kept until it was taken. */
static void complete(weft__task *t) {
    uint64_t cur = load_state(t), next;
    /* A task on a shard whose JoinHandle is alive leaves the list to the
     * handle: the joining thread, which mostly is the one that spawned it
     * (and so put it on the shard), takes it off while the shard's line is
     * in its cache, and the completing worker touches no shard at all. */
    bool handoff = !(cur & WEFT__T_OWNED_LOCAL) && (cur & WEFT__T_JOIN_INTEREST);
    uint64_t owned = handoff ? 0 : owned_remove(t) ? 1 : 0;
    /* Alone with it: a detached task just taken off its list, whose
     * references were the poller's and the list's.  Nothing else can reach
     * its word (no handle; no waker, as a clone needs a reference; no
     * shutdown, which finds tasks on the lists), so it leaves without a
     * read-modify-write.  The acquire load saw every other reference's
     * drop. */
    if (owned && REFS(cur) == 2 &&
        (cur & (WEFT__T_JOIN_INTEREST | WEFT__T_RUNNING | WEFT__T_COMPLETE)) == WEFT__T_RUNNING) {
        task_dealloc(t);
        return;
    }
    bool keep;
    for (;;) {
        if (!(cur & WEFT__T_RUNNING) || (cur & WEFT__T_COMPLETE))
            weft__die("task completed twice");
        if (handoff && !(cur & WEFT__T_JOIN_INTEREST)) {
            /* The handle went meanwhile: off the list here after all. */
            handoff = false;
            owned = owned_remove(t) ? 1 : 0;
            cur = load_state(t);
            continue;
        }
        keep = (cur & WEFT__T_JOIN_INTEREST) && (cur & WEFT__T_JOIN_WAKER);
        uint64_t drop = 1 + owned - (keep ? 1 : 0);
        if (REFS(cur) < drop)
            weft__die("task reference count underflow");
        next = (cur ^ (WEFT__T_RUNNING | WEFT__T_COMPLETE)) - drop * WEFT__T_REF_ONE;
        if (handoff)
            next |= WEFT__T_LIST_TO_JOIN;
        if (cas_state(t, &cur, next))
            break;
    }
    if (!keep) {
        if (REFS(next) == 0)
            task_dealloc(t);
        return;
    }
    weft_waker join = {0};
    bool wake = take_join_waker(t, &join);
    weft__task_unref(t); /* `t` may be gone from here on */
    if (wake)
        weft_waker_wake(&join);
    else
        weft_waker_drop(&join);
}

static void drop_future(weft__task *t) {
    weft_future *f = weft__task_future(t);
    f->flags |= WEFT__F_NOREPORT;
    if (weft__cur.rt) {
        weft_future_drop(f);
        return;
    }
    weft__tls saved = weft__cur;
    weft__cur.rt = weft__task_rt(t); /* cleanup may need its runtime (timers) */
    weft_future_drop(f);
    weft__cur = saved;
}

static void cancel(weft__task *t) {
    drop_future(t);
    *status_of(t) = WEFT_ECANCELED;
    complete(t);
}

/* ------------------------------------------------------------------- run */

/* Claims an entry's task for a poll: from NOTIFIED to RUNNING for an
 * ordinary entry (a resumed one holds RUNNING already).  False for a
 * stale entry, whose reference it drops.  `*state` gets the state. */
static bool claim(weft__task *t, uint64_t *state) {
    uint64_t cur = load_state(t), next;
    if (weft__task_resumed(cur)) {
        /* A wake that came while it waited in the queue is seen by this
         * poll: taken back, or the poll would be followed by a needless
         * one (rare, hence a look before the read-modify-write). */
        while ((cur & WEFT__T_NOTIFIED) &&
               !cas_state(t, &cur, cur & ~(uint64_t)WEFT__T_NOTIFIED))
            ;
        *state = cur & ~(uint64_t)WEFT__T_NOTIFIED;
        return true;
    }
    do {
        if (!(cur & WEFT__T_NOTIFIED))
            weft__die("task run without being notified");
        if (cur & (WEFT__T_RUNNING | WEFT__T_COMPLETE)) {
            weft__task_unref(t); /* a stale queue entry */
            return false;
        }
        next = (cur & ~(uint64_t)WEFT__T_NOTIFIED) | WEFT__T_RUNNING;
    } while (!cas_state(t, &cur, next));
    *state = next;
    return true;
}

/* After a poll that returned PENDING: back to idle, unless it was woken
 * (or woke itself: `again`) or aborted while running.  Returns what is
 * left to weft__task_poll's caller. */
static int after_pending(weft__task *t, uint64_t state, bool again, bool yielded) {
    if (again && !(state & WEFT__T_OWNER)) {
        /* A resumed entry: still RUNNING, the poller's reference goes
         * with it.  An owner's queue (a local set, the blocking pool)
         * takes ordinary entries only. */
        if (load_state(t) & WEFT__T_CANCELLED) {
            cancel(t);
            return WEFT__RUN_POLLED;
        }
        return yielded ? WEFT__RUN_YIELDED : WEFT__RUN_AGAIN;
    }
    uint64_t cur = load_state(t), next;
    do {
        if (cur & WEFT__T_CANCELLED) {
            cancel(t);
            return WEFT__RUN_POLLED;
        }
        next = cur & ~(uint64_t)WEFT__T_RUNNING;
        if (again)
            next |= WEFT__T_NOTIFIED;
        if (!(next & WEFT__T_NOTIFIED))
            next -= WEFT__T_REF_ONE; /* the queue's reference is used up */
    } while (!cas_state(t, &cur, next));
    if (next & WEFT__T_NOTIFIED)
        schedule(t, yielded ? WEFT__SCHED_YIELD : WEFT__SCHED_WAKE);
    else if (REFS(next) == 0)
        task_dealloc(t);
    return WEFT__RUN_POLLED;
}

int weft__task_poll(weft__task *t) {
    uint64_t state;
    if (!claim(t, &state))
        return WEFT__RUN_SKIPPED;
    if (state & WEFT__T_CANCELLED) {
        cancel(t);
        return WEFT__RUN_SKIPPED;
    }
    weft_future *f = weft__task_future(t);
    weft_waker w = {t, &task_waker_vt};
    weft__rt *rt = weft__task_rt(t);
    weft_context cx = {&w, rt, 0, 0};
    const weft_future_vtable *vt = f->vt;
    void *out = vt->output_size ? (char *)f + weft__output_offset(vt) : NULL;
    /* The thread's poll frame: no task is polled around this one (a local
     * set, which polls its tasks inside another's poll, keeps the outer
     * frame itself). */
    weft__coop_cur = (weft__coop){WEFT__COOP_BUDGET, true, false, t};
    struct weft__prof *prof = rt->prof; /* WEFT_TIMELINE: NULL unless asked */
    uint64_t t0 = 0;
    if (__builtin_expect(prof != NULL, 0))
        t0 = weft__os_now_ns();
    /* The task's own future: neither dropped nor complete while the task
     * runs, so weft_future_poll's checks cannot fail here. */
    f->flags |= WEFT__F_POLLED;
    weft_poll ready = vt->poll(f, &cx, out);
    if (__builtin_expect(prof != NULL, 0))
        weft__prof_poll(prof, weft__task_id(t), vt->name, t0);
    bool again = weft__coop_cur.self_woken;
    weft__coop_cur = (weft__coop){0};
    if (ready == WEFT_READY) {
        drop_future(t);
        *status_of(t) = cx.weft__fail;
        complete(t);
        return WEFT__RUN_POLLED;
    }
    return after_pending(t, state, again, cx.weft__yielded != 0);
}

bool weft__task_run(weft__task *t) {
    int r = weft__task_poll(t);
    if (r >= WEFT__RUN_AGAIN) {
        weft__rt *rt = weft__task_rt(t);
        rt->sched->schedule(rt, t, r == WEFT__RUN_YIELDED ? WEFT__SCHED_YIELD : WEFT__SCHED_WAKE);
    }
    return r != WEFT__RUN_SKIPPED;
}

/* Entries are discarded at shutdown, while (or after) the owned lists are
 * walked.  A resumed entry goes back to being an ordinary one, which the
 * walk claims, cancels and reports as it does every task still alive,
 * unless the walk found it running already (it set CANCELLED and left
 * the task to its poller: us) or an abort did. */
void weft__task_discard(weft__task *t) {
    uint64_t cur = load_state(t);
    if (!weft__task_resumed(cur)) {
        weft__task_unref(t);
        return;
    }
    do {
        if (cur & WEFT__T_CANCELLED) {
            /* Aborted, with the walk still to come: report it for the walk. */
            if (owned_remove(t)) {
                weft__diag(weft__task_rt(t), "task still alive at shutdown (cancelled)",
                           weft__task_site(t));
                weft__task_unref(t); /* the list's reference */
            }
            cancel(t);
            return;
        }
    } while (!cas_state(t, &cur, (cur & ~(uint64_t)WEFT__T_RUNNING) | WEFT__T_NOTIFIED));
    weft__task_unref(t);
}

void weft__task_settle(weft__task *t) {
    uint64_t cur = load_state(t);
    do {
        if (!weft__task_resumed(cur))
            return;
    } while (!cas_state(t, &cur, (cur & ~(uint64_t)WEFT__T_RUNNING) | WEFT__T_NOTIFIED));
}

void weft__task_shutdown(weft__task *t) {
    uint64_t cur = load_state(t), next;
    bool claimed;
    do {
        claimed = !(cur & (WEFT__T_RUNNING | WEFT__T_COMPLETE));
        next = cur | WEFT__T_CANCELLED | (claimed ? WEFT__T_RUNNING | WEFT__T_CLAIMED : 0);
    } while (!cas_state(t, &cur, next));
    /* A task being polled right now (or in a resumed entry) is alive
     * too: its poller cancels it. */
    if (!(cur & WEFT__T_COMPLETE))
        weft__diag(weft__task_rt(t), "task still alive at shutdown (cancelled)",
                   weft__task_site(t));
    if (!claimed) {
        weft__task_unref(t);
        return;
    }
    cancel(t); /* drops the owned list's reference we were handed */
}

/* ------------------------------------------------------------------ spawn */

static weft_poll join_poll(weft_future *f, weft_context *cx, void *out);
static void join_drop(weft_future *f);
static const weft_future_vtable join_vt = {join_poll, join_drop, sizeof(weft_join_handle), 0,
                                           "weft_join_handle", WEFT_VT_REPOLL};

int weft_spawn_at(weft_handle *h, weft_future *fut, weft_join_handle *jh, const char *site) {
    return weft__spawn(h ? (weft__rt *)h : weft__cur.rt, fut, jh, site, NULL);
}

int weft__spawn(weft__rt *rt, weft_future *fut, weft_join_handle *jh, const char *site,
                weft__task_owner *owner) {
    if (jh)
        *jh = (weft_join_handle){.base = {&join_vt, NULL, site, 0, WEFT__F_DROPPED | WEFT__F_NOREPORT},
                                 .status = WEFT_EJOINED};
    if (!fut || !fut->vt || !fut->vt->poll)
        return WEFT_EINVAL; /* nothing that could be dropped */
    if (!weft__task_sizes_ok(fut->vt)) {
        fut->flags |= WEFT__F_NOREPORT;
        weft_future_drop(fut); /* as on every error */
        return WEFT_EINVAL;
    }
    if (fut->flags & (WEFT__F_POLLED | WEFT__F_DROPPED)) {
        weft__diag(rt, "spawn of a future that was already polled or moved", site);
        weft_future_drop(fut); /* as on every error; a no-op if it was moved */
        return WEFT_EINVAL;
    }
    if (!rt) {
        fut->flags |= WEFT__F_NOREPORT;
        weft_future_drop(fut);
        return WEFT_ENORUNTIME;
    }
    bool prefixed;
    weft__task *t =
        weft__block_alloc(rt, weft__task_size(fut->vt, owner != NULL, jh != NULL), &prefixed);
    if (!t) {
        fut->flags |= WEFT__F_NOREPORT;
        weft_future_drop(fut);
        return WEFT_ENOMEM;
    }
    /* A task of an owner may be polled on any thread the owner picks, so
     * it goes on a locked shard, as do tasks spawned off a driving thread. */
    weft__owned *local = weft__cur.rt == rt && !owner ? weft__cur.owned : NULL;
    uint64_t refs = jh ? 3 : 2; /* owned list + first notification (+ handle) */
    /* The first entry is a resumed one, as if the task had just woken
     * itself: its first poll needs no read-modify-write either.  An
     * owner's queue takes ordinary entries only. */
    atomic_init(&t->state, refs * WEFT__T_REF_ONE | (owner ? WEFT__T_NOTIFIED : WEFT__T_RUNNING) |
                               (jh ? WEFT__T_JOIN_INTEREST : 0) |
                               (local ? WEFT__T_OWNED_LOCAL : 0) | (owner ? WEFT__T_OWNER : 0) |
                               (jh ? WEFT__T_JOINABLE : 0) | (prefixed ? WEFT__T_PREFIXED : 0));
    t->next = NULL;
    /* An id only for who keeps one: a shared counter's read-modify-write
     * is most of a detached spawn's cost otherwise. */
    uint64_t id = 0;
    if (jh || prefixed)
        id = atomic_fetch_add_explicit(&rt->next_task_id, 1, memory_order_relaxed) + 1;
    if (prefixed)
        *weft__block_prefix_of(t) = (weft__block_prefix){rt, id};
    weft_future *f = weft__task_future(t);
    memcpy(f, fut, fut->vt->state_size);
    f->site = site ? site : fut->site; /* reported as the task's spawn site */
    if (jh)
        *weft__task_join_waker(t) = (weft_waker){0};
    if (owner)
        *weft__task_owner_slot(t) = owner;
    fut->flags |= WEFT__F_DROPPED | WEFT__F_NOREPORT; /* moved into the task */

    /* The shutdown flag is read under the shard's lock, and shutdown takes
     * every shard's lock after setting it, so a task is either refused or
     * on a list that shutdown will walk. */
    weft__owned_shard *sh = local ? NULL : shard_of(rt, t);
    if (sh)
        weft__spin_lock(&sh->lock);
    bool closed = atomic_load_explicit(&rt->shutdown, memory_order_acquire);
    if (!closed)
        owned_insert(local ? local : &sh->list, t);
    if (sh)
        weft__spin_unlock(&sh->lock);
    if (closed) {
        atomic_fetch_add_explicit(&rt->refused, 1, memory_order_relaxed);
        t->owned.next = NULL;
        f->flags |= WEFT__F_NOREPORT;
        weft_future_drop(f);
        task_dealloc(t);
        return WEFT_ESHUTDOWN;
    }
    if (jh) {
        jh->base.flags = WEFT__F_NOREPORT; /* detaching is no mistake */
        jh->task = t;
        jh->status = 0;
        jh->id = id;
    }
    if (owner) /* as schedule() would, knowing who */
        owner->schedule(owner, t, WEFT__SCHED_SPAWN);
    else
        rt->sched->schedule(rt, t, WEFT__SCHED_SPAWN);
    return 0;
}

/* ------------------------------------------------------------ JoinHandle */

static void read_output(weft__task *t, weft_join_handle *jh, void *out) {
    weft_future *f = weft__task_future(t);
    size_t n = f->vt->output_size;
    if (out && n && *status_of(t) == 0)
        memcpy(out, (char *)f + weft__output_offset(f->vt), n);
    jh->status = *status_of(t);
}

/* Stores the waker while JOIN_WAKER is clear (the handle owns the slot),
 * then publishes it.  False when the task completed first. */
static bool set_join_waker(weft__task *t, const weft_waker *w) {
    *weft__task_join_waker(t) = weft_waker_clone(w);
    uint64_t cur = load_state(t);
    do {
        if (cur & WEFT__T_COMPLETE) {
            weft_waker_drop(weft__task_join_waker(t));
            return false;
        }
    } while (!cas_state(t, &cur, cur | WEFT__T_JOIN_WAKER));
    return true;
}

static weft_poll join_poll(weft_future *f, weft_context *cx, void *out) {
    weft_join_handle *jh = (weft_join_handle *)f;
    weft__task *t = jh->task;
    if (!t) {
        jh->status = WEFT_EJOINED;
        return WEFT_READY;
    }
    if (!weft_coop_proceed(cx))
        return WEFT_PENDING;
    uint64_t cur = load_state(t);
    if (!(cur & WEFT__T_COMPLETE)) {
        if (!(cur & WEFT__T_JOIN_WAKER)) {
            if (set_join_waker(t, cx->weft__waker))
                return WEFT_PENDING;
        } else if (weft_waker_will_wake(weft__task_join_waker(t), cx->weft__waker)) {
            return WEFT_PENDING;
        } else {
            /* Take the slot back, swap the waker, publish again. */
            do {
                if (cur & WEFT__T_COMPLETE)
                    goto done;
            } while (!cas_state(t, &cur, cur & ~(uint64_t)WEFT__T_JOIN_WAKER));
            weft_waker_drop(weft__task_join_waker(t));
            if (set_join_waker(t, cx->weft__waker))
                return WEFT_PENDING;
        }
    }
done:
    read_output(t, jh, out);
    join_drop(f); /* consumed */
    f->flags |= WEFT__F_DROPPED;
    return WEFT_READY;
}

static void join_drop(weft_future *f) {
    weft_join_handle *jh = (weft_join_handle *)f;
    weft__task *t = jh->task;
    if (!t)
        return;
    jh->task = NULL;
    uint64_t cur = load_state(t), next;
    if ((cur & (WEFT__T_COMPLETE | WEFT__T_JOIN_WAKER | WEFT__T_LIST_TO_JOIN)) ==
        WEFT__T_COMPLETE) {
        /* Complete, the join waker slot handed back, off its list: nothing
         * changes the word but us now, and the slot is ours.  Leaving and
         * dropping the handle's reference is then one step. */
        weft_waker_drop(weft__task_join_waker(t));
        task_unref_n_flags(t, 1, WEFT__T_JOIN_INTEREST);
        return;
    }
    if ((cur & (WEFT__T_COMPLETE | WEFT__T_JOIN_WAKER | WEFT__T_LIST_TO_JOIN)) ==
        (WEFT__T_COMPLETE | WEFT__T_LIST_TO_JOIN)) {
        /* The same, but left on its shard for us: off it first (unless
         * shutdown took it off, and drops that reference itself), then
         * the list's reference and ours go in one step.  Only shutdown
         * may touch the word meanwhile (setting CANCELLED on a finished
         * task), and it reads nothing we clear. */
        weft_waker_drop(weft__task_join_waker(t));
        task_unref_n_flags(t, owned_remove(t) ? 2 : 1, WEFT__T_JOIN_INTEREST);
        return;
    }
    do {
        next = cur & ~(uint64_t)WEFT__T_JOIN_INTEREST;
        if (!(cur & WEFT__T_COMPLETE))
            next &= ~(uint64_t)WEFT__T_JOIN_WAKER; /* we take the waker back */
    } while (!cas_state(t, &cur, next));
    /* The handle owns the waker unless the completing side still holds it. */
    if (!(next & WEFT__T_JOIN_WAKER))
        weft_waker_drop(weft__task_join_waker(t));
    /* Left on its shard for us: off it, with the list's reference, unless
     * shutdown took it off first (and dropped that reference itself). */
    if ((next & WEFT__T_LIST_TO_JOIN) && owned_remove(t))
        weft__task_unref(t);
    weft__task_unref(t);
}

void weft_join_abort(const weft_join_handle *jh) {
    if (!jh || !jh->task)
        return;
    weft__task *t = jh->task;
    uint64_t cur = load_state(t), next;
    bool submit;
    do {
        submit = false;
        if (cur & (WEFT__T_COMPLETE | WEFT__T_CANCELLED))
            return;
        next = cur | WEFT__T_CANCELLED;
        if (cur & WEFT__T_RUNNING) {
            next |= WEFT__T_NOTIFIED; /* its poller cancels it */
        } else if (!(cur & WEFT__T_NOTIFIED)) {
            next |= WEFT__T_NOTIFIED; /* queue it so the scheduler cancels it */
            next += WEFT__T_REF_ONE;
            submit = true;
        }
    } while (!cas_state(t, &cur, next));
    if (submit)
        schedule(t, WEFT__SCHED_WAKE);
}

bool weft_join_is_finished(const weft_join_handle *jh) {
    if (!jh || !jh->task)
        return true;
    return (load_state(jh->task) & WEFT__T_COMPLETE) != 0;
}

void weft_join_detach(weft_join_handle *jh) {
    if (jh)
        weft_future_drop(&jh->base);
}

int weft_join_status(const weft_join_handle *jh) { return jh ? jh->status : WEFT_EINVAL; }
