/* weft — the blocking pool: threads for synchronous calls that must not
 * block the workers (weft_spawn_blocking).
 *
 * A blocking call is an ordinary task whose future runs the call in one
 * poll; the pool owns its queue (weft__task_owner) instead of the
 * scheduler, so JoinHandles, abort and shutdown work as for any task.
 * Threads are started on demand up to `max_blocking_threads`; an idle one
 * waits `blocking_keep_alive` for more work, then ends.  The pool is made
 * on first use and freed with the runtime's shared part.  Shutdown waits
 * for every thread to end; when shutdown_timeout gives up first, it leaves
 * one runtime reference to each thread still running (an orphan), which
 * that thread drops as it ends, so the pool outlives its last call.
 */
#include <string.h>

#include "task.h"

/* A call being run, on its thread's stack, for the shutdown report. */
typedef struct running {
    const char *site;
    struct running *next;
} running;

typedef struct weft__blocking {
    weft__task_owner owner; /* first: the tasks' owner pointer is the pool */
    weft__rt *rt;
    weft__mutex lock;    /* guards everything below */
    weft__cond work;     /* idle threads wait here */
    weft__cond finished; /* shutdown waits here for threads == 0 */
    weft__task *head, *tail;
    uint64_t queued;
    uint32_t threads;    /* alive */
    uint32_t idle;       /* waiting on `work` */
    uint32_t notified;   /* wake-ups sent to idle threads, not yet taken */
    running *busy;       /* calls in progress */
    uint32_t orphans;    /* threads holding a runtime reference from shutdown */
    bool closed;
} weft__blocking;

typedef struct blocking_call {
    weft_future base;
    weft_blocking_fn fn;
    void *arg;
} blocking_call;

static weft_poll call_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    blocking_call *c = (blocking_call *)f;
    void *result = c->fn(c->arg);
    if (out)
        *(void **)out = result;
    return WEFT_READY;
}

static const weft_future_vtable blocking_call_vtable = {
    call_poll, NULL, sizeof(blocking_call), sizeof(void *), "blocking_call", 0};

/* Under the simulator: the call runs on the sim's thread, as a step of its
 * own, after a seeded delay (0 to SIM_DELAY_MS whole milliseconds of
 * virtual time, the timer wheel's resolution, drawn from the run's
 * stream): a real call takes time, and a reply that may come before or
 * after other events is what the sim must explore.  No delay without a
 * clock, or where the builder asks for exact time. */
#define SIM_DELAY_MS 2

typedef struct sim_call {
    weft_future base;
    weft_blocking_fn fn;
    void *arg;
    weft_sleep delay;
} sim_call;

static weft_poll sim_call_poll(weft_future *f, weft_context *cx, void *out) {
    sim_call *c = (sim_call *)f;
    WEFT_BEGIN(f);
    if (cx->weft__rt->time && !cx->weft__rt->config.sim_exact_time)
        WEFT_AWAIT(f, cx,
                   weft_sleep(&c->delay, WEFT_MS((int64_t)weft_random_below(SIM_DELAY_MS + 1))),
                   NULL);
    WEFT_RETURN(f, out, void *, c->fn(c->arg));
    WEFT_END(f);
}

static const weft_future_vtable sim_call_vtable = {
    sim_call_poll, NULL, sizeof(sim_call), sizeof(void *), "blocking_call", 0};

/* ---------------------------------------------------------------- threads */

static weft__task *pop_locked(weft__blocking *p) {
    weft__task *t = p->head;
    if (t) {
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
    }
    return t;
}

/* Runs queued calls; waits for more up to the keep-alive.  Called and
 * returns with the lock held. */
static void serve(weft__blocking *p) {
    uint64_t keep = (uint64_t)p->rt->config.blocking_keep_alive;
    for (;;) {
        weft__task *t;
        while ((t = pop_locked(p))) {
            if (atomic_load_explicit(&p->rt->shutdown, memory_order_acquire)) {
                /* Shutting down: a call not started never starts; the
                 * shutdown walk cancels its task. */
                weft__mutex_unlock(&p->lock);
                weft__task_unref(t);
                weft__mutex_lock(&p->lock);
                continue;
            }
            running me = {weft__task_site(t), p->busy};
            p->busy = &me;
            weft__mutex_unlock(&p->lock);
            weft__task_run(t);
            weft__mutex_lock(&p->lock);
            running **pp = &p->busy;
            while (*pp != &me)
                pp = &(*pp)->next;
            *pp = me.next;
        }
        if (p->closed)
            return;
        p->idle++;
        uint64_t deadline = weft__os_now_ns() + keep;
        while (!p->notified && !p->closed && weft__os_now_ns() < deadline)
            weft__cond_wait_until(&p->work, &p->lock, deadline);
        p->idle--;
        if (p->notified)
            p->notified--;
        else if (!p->head)
            return; /* kept alive long enough, or closed */
    }
}

static void *thread_main(void *arg) {
    weft__blocking *p = arg;
    weft__rt *rt = p->rt;
    char name[32];
    snprintf(name, sizeof name, "%s-blk", rt->config.thread_name ? rt->config.thread_name : "weft");
    weft__thread_set_name(name);
    /* Entered, not driving: handle block_on and spawn work from here. */
    weft__cur = (weft__tls){.rt = rt};
    if (rt->config.on_thread_start)
        rt->config.on_thread_start(rt->config.thread_hook_ctx);
    weft__mutex_lock(&p->lock);
    serve(p);
    weft__mutex_unlock(&p->lock);
    if (rt->config.on_thread_stop)
        rt->config.on_thread_stop(rt->config.thread_hook_ctx);
    weft__cur = (weft__tls){0};
    weft__mutex_lock(&p->lock);
    bool orphan = p->orphans > 0;
    if (orphan)
        p->orphans--;
    if (--p->threads == 0)
        weft__cond_broadcast(&p->finished);
    weft__mutex_unlock(&p->lock);
    /* Past this point shutdown may free the pool: touch nothing of it. */
    if (orphan)
        weft_handle_release((weft_handle *)rt);
    return NULL;
}

/* With the lock held: one more thread, unless at the limit. */
static void grow_locked(weft__blocking *p) {
    if (p->threads >= (uint32_t)p->rt->config.max_blocking_threads)
        return; /* queued until a thread is free */
    weft__thread th;
    p->threads++;
    if (weft__thread_start(&th, thread_main, p, p->rt->config.thread_stack_size, true)) {
        p->threads--;
        /* The queue keeps the call; a running thread will take it, or
         * shutdown drops it.  Only with no thread at all is it lost. */
        if (p->threads == 0)
            weft__die("cannot start a blocking-pool thread");
    }
}

static void pool_schedule(weft__task_owner *o, weft__task *t, int hint) {
    (void)hint;
    weft__blocking *p = (weft__blocking *)o;
    weft__mutex_lock(&p->lock);
    if (p->closed) {
        /* Shut down: shutdown_tasks already cancelled it; a stale entry. */
        weft__mutex_unlock(&p->lock);
        weft__task_unref(t);
        return;
    }
    t->next = NULL;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
    if (p->idle > p->notified) {
        p->notified++;
        weft__cond_signal(&p->work);
    } else {
        grow_locked(p);
    }
    weft__mutex_unlock(&p->lock);
}

/* ---------------------------------------------------------------- the pool */

static weft__blocking *pool_get(weft__rt *rt) {
    weft__blocking *p = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    if (p)
        return p;
    weft__blocking *fresh = weft__alloc(rt, sizeof *fresh);
    if (!fresh)
        return NULL;
    memset(fresh, 0, sizeof *fresh);
    fresh->owner.schedule = pool_schedule;
    fresh->rt = rt;
    weft__mutex_init(&fresh->lock);
    weft__cond_init(&fresh->work);
    weft__cond_init(&fresh->finished);
    if (atomic_compare_exchange_strong_explicit(&rt->blocking, &p, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    /* Another thread made it first. */
    weft__cond_destroy(&fresh->finished);
    weft__cond_destroy(&fresh->work);
    weft__mutex_destroy(&fresh->lock);
    weft__free(rt, fresh, sizeof *fresh);
    return p;
}

int weft_spawn_blocking_at(weft_handle *h, weft_blocking_fn fn, void *arg, weft_join_handle *jh,
                           const char *site) {
    weft__rt *rt = h ? (weft__rt *)h : weft__cur.rt;
    if (!fn)
        return weft__spawn(rt, NULL, jh, site, NULL); /* fills jh, EINVAL */
    /* Under the simulator the call is a task of its own on the sim's
     * thread, never on an OS thread: a pool thread would run it on OS
     * time (the sim, seeing nothing ready, would report a false deadlock)
     * and draw randomness from a foreign thread. */
    if (rt && rt->config.flavor == WEFT_SIM) {
        sim_call sc = WEFT_NEW(sim_call, .fn = fn, .arg = arg);
        return weft__spawn(rt, &sc.base, jh, site, NULL);
    }
    blocking_call call = WEFT_NEW(blocking_call, .fn = fn, .arg = arg);
    weft__blocking *p = rt ? pool_get(rt) : NULL;
    if (rt && !p) {
        weft__spawn(NULL, &call.base, jh, site, NULL); /* fills jh, drops call */
        return WEFT_ENOMEM;
    }
    /* With an owner, the call goes on the runtime's shards (it completes
     * on a pool thread). */
    return weft__spawn(rt, &call.base, jh, site, p ? &p->owner : NULL);
}

uint64_t weft__blocking_shutdown(weft__rt *rt, uint64_t deadline_ns) {
    weft__blocking *p = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    if (!p)
        return 0;
    weft__mutex_lock(&p->lock);
    p->closed = true;
    weft__cond_broadcast(&p->work);
    /* Calls never started were cancelled by shutdown_tasks: stale. */
    weft__task *t, *stale = NULL;
    while ((t = pop_locked(p))) {
        t->next = stale;
        stale = t;
    }
    while (p->threads > 0 && weft__os_now_ns() < deadline_ns)
        weft__cond_wait_until(&p->finished, &p->lock, deadline_ns);
    uint64_t left = 0;
    for (running *r = p->busy; r; r = r->next) {
        weft__diag(rt, "blocking call still running after shutdown_timeout", r->site);
        left++;
    }
    /* Threads still here keep the runtime (and so the pool) alive. */
    p->orphans = p->threads;
    for (uint32_t i = 0; i < p->orphans; i++)
        weft_handle_clone((weft_handle *)rt);
    weft__mutex_unlock(&p->lock);
    while (stale) {
        t = stale->next;
        weft__task_unref(stale);
        stale = t;
    }
    return left;
}

void weft__blocking_destroy(weft__rt *rt) {
    weft__blocking *p = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    if (!p)
        return;
    weft__cond_destroy(&p->finished);
    weft__cond_destroy(&p->work);
    weft__mutex_destroy(&p->lock);
    atomic_store_explicit(&rt->blocking, NULL, memory_order_relaxed);
    weft__free(rt, p, sizeof *p);
}

void weft__blocking_metrics(weft__rt *rt, weft_runtime_metrics *out) {
    weft__blocking *p = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    if (!p)
        return;
    weft__mutex_lock(&p->lock);
    out->blocking_threads = p->threads;
    out->idle_blocking_threads = p->idle;
    out->blocking_queue_depth = p->queued;
    weft__mutex_unlock(&p->lock);
}
