/* weft — local sets: tasks pinned to one thread.
 *
 * A pinned task is an ordinary task whose owner (weft__task_owner) is its
 * set, so every wake, from any thread, lands in the set's queue instead of
 * the scheduler's.  Only a run_until future of the set polls them, on the
 * thread polling it; that thread must be the one that made the set, which
 * a debug build checks at every poll.  The queue is under a mutex because
 * wakes come from anywhere; the driving future's waker is kept with it so
 * a wake from another thread brings the driver back.
 */
#include <string.h>

#include "task.h"

#define TASKS_PER_TICK 61 /* local tasks run per poll of run_until */

struct weft_local_set {
    weft__task_owner owner; /* first: tasks point here */
    weft__rt *rt;           /* holds a reference */
    weft__thread thread;    /* the one thread allowed to drive it */
    weft__mutex lock;       /* guards the queue and the waker */
    weft__task *head, *tail;
    weft_waker driver;      /* the run_until that polls us last, if any */
    bool closed;
};

static void set_schedule(weft__task_owner *o, weft__task *t, int hint) {
    (void)hint;
    weft_local_set *ls = (weft_local_set *)o;
    weft__mutex_lock(&ls->lock);
    if (ls->closed) {
        weft__mutex_unlock(&ls->lock);
        weft__task_unref(t); /* the set was freed: the task is complete */
        return;
    }
    t->next = NULL;
    if (ls->tail)
        ls->tail->next = t;
    else
        ls->head = t;
    ls->tail = t;
    weft_waker driver = weft_waker_clone(&ls->driver);
    weft__mutex_unlock(&ls->lock);
    /* Woken outside the lock: the driver may be a task on this thread. */
    weft_waker_wake(&driver);
}

static weft__task *set_pop(weft_local_set *ls) {
    weft__mutex_lock(&ls->lock);
    weft__task *t = ls->head;
    if (t) {
        ls->head = t->next;
        if (!ls->head)
            ls->tail = NULL;
    }
    weft__mutex_unlock(&ls->lock);
    return t;
}

int weft_local_set_new(weft_handle *h, weft_local_set **out) {
    weft__rt *rt = h ? (weft__rt *)h : weft__cur.rt;
    if (!out)
        return WEFT_EINVAL;
    *out = NULL;
    if (!rt)
        return WEFT_ENORUNTIME;
    /* A set runs its tasks inside run_until's poll, FIFO, where the seed
     * would not order them and the trace would not see them. */
    if (rt->config.flavor == WEFT_SIM)
        return WEFT_ENOTSUP;
    weft_local_set *ls = weft__alloc(rt, sizeof *ls);
    if (!ls)
        return WEFT_ENOMEM;
    memset(ls, 0, sizeof *ls);
    ls->owner.schedule = set_schedule;
    ls->rt = rt;
    ls->thread = weft__thread_self();
    weft__mutex_init(&ls->lock);
    weft_handle_clone((weft_handle *)rt); /* a reference that is no task */
    *out = ls;
    return 0;
}

int weft_spawn_local_at(weft_local_set *ls, weft_future *fut, weft_join_handle *jh,
                        const char *site) {
    if (!ls) {
        weft__spawn(NULL, NULL, jh, site, NULL); /* fills jh as every refused spawn */
        if (fut && fut->vt) { /* and drops the future, as every spawn error */
            fut->flags |= WEFT__F_NOREPORT;
            weft_future_drop(fut);
        }
        return WEFT_EINVAL;
    }
    /* With an owner it goes on the runtime's shards, where
     * weft_local_set_free finds it. */
    return weft__spawn(ls->rt, fut, jh, site, &ls->owner);
}

static void check_thread(weft_local_set *ls, const char *site) {
#ifndef NDEBUG
    if (!weft__thread_equal(ls->thread, weft__thread_self())) {
        fprintf(stderr, "weft: %s: pinned task polled on the wrong thread (a local set's "
                        "tasks run only on the thread that made the set)\n", site ? site : "?");
        abort();
    }
#else
    (void)ls;
    (void)site;
#endif
}

/* Drops the set's unfinished tasks on this thread, then its queue. */
void weft_local_set_free(weft_local_set *ls) {
    if (!ls)
        return;
    weft__rt *rt = ls->rt;
    check_thread(ls, "weft_local_set_free");
    weft__owned_shutdown_owner(rt, &ls->owner);
    weft__mutex_lock(&ls->lock);
    ls->closed = true;
    weft__task *chain = ls->head;
    ls->head = ls->tail = NULL;
    weft_waker driver = ls->driver;
    ls->driver = (weft_waker){0};
    weft__mutex_unlock(&ls->lock);
    weft_waker_drop(&driver);
    while (chain) {
        weft__task *next = chain->next;
        weft__task_unref(chain);
        chain = next;
    }
    weft__mutex_destroy(&ls->lock);
    weft__free(rt, ls, sizeof *ls);
    weft_handle_release((weft_handle *)rt);
}

/* ------------------------------------------------------------ run_until */

static weft_poll run_poll(weft_future *f, weft_context *cx, void *out) {
    weft_local_run *r = (weft_local_run *)f;
    weft_local_set *ls = r->set;
    check_thread(ls, f->site);
    weft__mutex_lock(&ls->lock);
    weft_waker_set(&ls->driver, cx->weft__waker);
    weft__mutex_unlock(&ls->lock);
    if (weft_future_poll(r->inner, cx, out) == WEFT_READY)
        return WEFT_READY;
    for (int i = 0; i < TASKS_PER_TICK; i++) {
        weft__task *t = set_pop(ls);
        if (!t)
            return WEFT_PENDING;
        /* Its poll takes over the thread's poll frame: keep ours (our
         * budget, and whether our task woke itself). */
        weft__coop outer = weft__coop_cur;
        weft__task_run(t);
        weft__coop_cur = outer;
    }
    /* More are ready: come back after the others had a turn. */
    weft_yield_request(cx);
    return WEFT_PENDING;
}

static void run_drop(weft_future *f) {
    weft_local_run *r = (weft_local_run *)f;
    weft_local_set *ls = r->set;
    weft_future_drop(r->inner);
    r->inner = NULL;
    if (!ls)
        return;
    weft__mutex_lock(&ls->lock);
    weft_waker driver = ls->driver;
    ls->driver = (weft_waker){0};
    weft__mutex_unlock(&ls->lock);
    weft_waker_drop(&driver);
}

static const weft_future_vtable run_vt = {run_poll, run_drop, sizeof(weft_local_run), 0,
                                          "weft_local_run", 0};

weft_future *weft_local_run_until_init(weft_local_run *r, weft_local_set *ls, weft_future *inner,
                                       const char *site) {
    WEFT__NEED(r, "weft_local_run_until", "state");
    WEFT__NEED(ls, "weft_local_run_until", "local set");
    weft_future_init(&r->base, &run_vt, site);
    r->set = ls;
    r->inner = inner;
    if (inner)
        inner->flags |= WEFT__F_NOREPORT; /* owned by the run_until now */
    return &r->base;
}
