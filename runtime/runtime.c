/* weft — the runtime object: builder, lifecycle, handles, context, memory. */
#include <string.h>

#include "profile.h"
#include "task.h"

_Thread_local weft__tls weft__cur;

/* ------------------------------------------------------------ diagnostics */

_Noreturn void weft__die(const char *msg) {
    fprintf(stderr, "weft: %s\n", msg);
    fflush(stderr);
    abort();
}

_Noreturn void weft__die_misuse(const char *fn, const char *what) {
    fprintf(stderr, "weft: %s: %s\n", fn, what);
    fflush(stderr);
    abort();
}

void weft__diag(weft__rt *rt, const char *what, const char *site) {
    if (rt && rt->config.on_diagnostic) {
        rt->config.on_diagnostic(rt->config.diagnostic_ctx, what, site ? site : "?");
        return;
    }
#ifndef NDEBUG
    fprintf(stderr, "weft: %s: %s\n", site ? site : "?", what);
#endif
}

/* ----------------------------------------------------------------- memory */

static void *default_alloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size);
}

static void default_free(void *ctx, void *p, size_t size) {
    (void)ctx;
    (void)size;
    free(p);
}

void *weft__alloc(weft__rt *rt, size_t size) {
    void *p = rt->config.allocator.alloc(rt->config.allocator.ctx, size);
    if (p)
        atomic_fetch_add_explicit(&rt->live_allocs, 1, memory_order_relaxed);
    return p;
}

void weft__free(weft__rt *rt, void *p, size_t size) {
    if (!p)
        return;
    atomic_fetch_sub_explicit(&rt->live_allocs, 1, memory_order_relaxed);
    rt->config.allocator.free(rt->config.allocator.ctx, p, size);
}

/* -------------------------------------------------------------- lifecycle */

void weft_builder_init(weft_builder *b, weft_flavor flavor) {
    if (!b)
        return;
    *b = (weft_builder){
        .flavor = flavor,
        .enable_time = true,
        .thread_name = "weft-worker",
        .event_interval = 61,
        .global_queue_interval = 31,
        .max_blocking_threads = 512,
        .blocking_keep_alive = 10 * (int64_t)1000000000,
        .allocator = {default_alloc, default_free, NULL},
        .sim_pct_depth = 3,
        .sim_max_steps = WEFT_SIM_DEFAULT_MAX_STEPS,
    };
}

/* Owned-list shards: one where a single thread drives the runtime; on
 * multi_thread four per worker (a power of two), so that workers
 * completing tasks rarely meet on a lock. */
static unsigned owned_shards(const weft_builder *cfg) {
    if (cfg->flavor != WEFT_MULTI_THREAD)
        return 1;
    unsigned workers = cfg->worker_threads > 0 ? (unsigned)cfg->worker_threads : weft__cpu_count();
    unsigned n = 4;
    while (n < 4 * workers && n < 1024)
        n *= 2;
    return n;
}

/* worker_threads 0 on multi_thread: $WEFT_WORKER_THREADS if set, else the
 * cores.  A value that is no count from 1 to WEFT_MAX_WORKER_THREADS is
 * refused with one line naming it (it used to become the core count). */
static int resolve_workers(weft_builder *cfg) {
    if (cfg->flavor != WEFT_MULTI_THREAD || cfg->worker_threads > 0)
        return 0;
    const char *env = getenv("WEFT_WORKER_THREADS");
    if (!env || !*env) {
        cfg->worker_threads = (int)weft__cpu_count();
        return 0;
    }
    long n = 0;
    const char *p = env;
    while (*p >= '0' && *p <= '9' && n <= WEFT_MAX_WORKER_THREADS)
        n = n * 10 + (*p++ - '0');
    if (p == env || *p || n < 1 || n > WEFT_MAX_WORKER_THREADS) {
        fprintf(stderr, "weft: WEFT_WORKER_THREADS=%s: not a worker count (1 to %d)\n", env,
                WEFT_MAX_WORKER_THREADS);
        return WEFT_EINVAL;
    }
    cfg->worker_threads = (int)n;
    return 0;
}

static const weft__sched_ops *sched_for(weft_flavor f) {
    switch (f) {
    case WEFT_CURRENT_THREAD:
        return &weft__current_thread_ops;
    case WEFT_MULTI_THREAD:
        return &weft__multi_thread_ops;
#ifdef WEFT_HAVE_SIM
    case WEFT_SIM:
        return &weft__sim_ops;
#endif
    default:
        return NULL;
    }
}

bool weft_flavor_available(weft_flavor flavor) {
    const weft__sched_ops *ops = sched_for(flavor);
    return ops && ops->block_on; /* a scheduler left out of the build has none */
}

int weft_runtime_new(const weft_builder *b, weft_runtime **out) {
    if (!out)
        return WEFT_EINVAL;
    *out = NULL;
    weft_builder cfg;
    if (b)
        cfg = *b;
    else
        weft_builder_init(&cfg, WEFT_CURRENT_THREAD);
    if (!cfg.allocator.alloc || !cfg.allocator.free || cfg.event_interval == 0 ||
        cfg.global_queue_interval == 0 || cfg.worker_threads < 0 ||
        cfg.worker_threads > WEFT_MAX_WORKER_THREADS || cfg.max_blocking_threads < 1 ||
        cfg.blocking_keep_alive < 0 ||
        (cfg.thread_stack_size && cfg.thread_stack_size < WEFT_MIN_THREAD_STACK))
        return WEFT_EINVAL;
    if (cfg.start_paused && !cfg.enable_time)
        return WEFT_EINVAL;
    if (resolve_workers(&cfg))
        return WEFT_EINVAL;
    if (cfg.flavor == WEFT_SIM)
        cfg.start_paused = cfg.enable_time; /* virtual time never follows the OS */
    const weft__sched_ops *ops = sched_for(cfg.flavor);
    if (!ops)
        return (unsigned)cfg.flavor <= WEFT_SIM ? WEFT_ENOTSUP : WEFT_EINVAL;

    weft__rt *rt = cfg.allocator.alloc(cfg.allocator.ctx, sizeof *rt);
    if (!rt)
        return WEFT_ENOMEM;
    memset(rt, 0, sizeof *rt);
    rt->config = cfg;
    rt->sched = ops;
    atomic_init(&rt->refs, 1);
    atomic_init(&rt->live_allocs, 1); /* this struct */
    weft__spin_init(&rt->parkers_lock);
    rt->random = weft__random_os_seeded;
    if (cfg.flavor != WEFT_SIM) /* the simulator draws from its seed */
        atomic_init(&rt->rng_counter, weft__os_random_seed());
    weft__prof_create(rt); /* first: a recording runtime's tasks carry ids */
    int err = weft__owned_create(rt, owned_shards(&cfg));
    if (!err)
        err = weft__slab_create(rt);
    if (!err && cfg.enable_time)
        err = weft__time_create(rt, cfg.start_paused);
    if (!err && !ops->create_io)
        err = weft__io_create(rt);
    if (!err)
        err = ops->create(rt, &cfg);
    if (!err && ops->create_io && (err = ops->create_io(rt)))
        ops->destroy(rt);
    if (err) {
        weft__io_destroy(rt);
        weft__time_destroy(rt);
        weft__slab_destroy(rt);
        weft__owned_destroy(rt);
        weft__prof_destroy(rt);
        cfg.allocator.free(cfg.allocator.ctx, rt, sizeof *rt);
        return err;
    }
    *out = (weft_runtime *)rt;
    return 0;
}

void weft__rt_ref(weft__rt *rt) { atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed); }

void weft__rt_unref(weft__rt *rt) {
    if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
        return;
    rt->sched->destroy(rt);
    weft__blocking_destroy(rt);
    weft__io_destroy(rt);
    weft__prof_destroy(rt); /* every thread that polled is gone */
    weft__time_destroy(rt);
    weft__slab_destroy(rt);
    weft__owned_destroy(rt);
    weft_allocator a = rt->config.allocator;
    a.free(a.ctx, rt, sizeof *rt);
}

static void wake_handle_block_ons(weft__rt *rt);

static void shutdown_tasks(weft__rt *rt) {
    /* Spawns read the flag under their shard's lock, which the walk below
     * takes after this store: each is refused or found. */
    atomic_store_explicit(&rt->shutdown, 1, memory_order_seq_cst);
    wake_handle_block_ons(rt); /* they return WEFT_ESHUTDOWN */
    /* Cancelling may wake or drop other tasks; run with the runtime entered
     * so their cleanup finds it. */
    weft__tls saved = weft__cur;
    weft__cur = (weft__tls){.rt = rt};
    if (rt->sched->settle)
        rt->sched->settle(rt);
    weft__owned_shutdown(rt, NULL);
    rt->sched->shutdown(rt);
    weft__io_shutdown(rt);
    weft__cur = saved;
}

int weft_runtime_shutdown_timeout(weft_runtime *r, int64_t timeout_ns) {
    weft__rt *rt = (weft__rt *)r;
    if (!rt)
        return WEFT_EINVAL;
    /* Any thread inside it: a worker, block_on's own thread (whose future
     * runs on after free returns), a blocking call (free would wait for
     * itself), a handle's block_on. */
    if (weft__cur.rt == rt)
        weft__die("weft_runtime_free called from inside the runtime it frees");
    uint64_t deadline = UINT64_MAX;
    if (timeout_ns >= 0)
        deadline = weft__os_now_ns() + (uint64_t)timeout_ns;
    shutdown_tasks(rt);
    /* Blocking calls cannot be interrupted: wait for them, up to the
     * deadline; a thread still running keeps its reference on `rt`. */
    uint64_t left = weft__blocking_shutdown(rt, deadline);
    weft__rt_unref(rt);
    return left ? WEFT_ETIMEDOUT : 0;
}

void weft_runtime_free(weft_runtime *r) { weft_runtime_shutdown_timeout(r, -1); }

/* --------------------------------------------------------------- block_on */

int weft_runtime_block_on(weft_runtime *r, weft_future *f, void *out) {
    weft__rt *rt = (weft__rt *)r;
    if (!rt || !f || !f->vt || !f->vt->poll)
        return WEFT_EINVAL;
    if (weft__cur.rt)
        return WEFT_ENESTED;
    if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
        return WEFT_ESHUTDOWN;
    int err = rt->sched->block_on(rt, f, out);
    /* Refused (another thread drives the runtime) before its first poll:
     * left untouched, as on ENESTED.  A future that failed with EBUSY was
     * polled, and is dropped like any other. */
    if (err == WEFT_EBUSY && !(f->flags & WEFT__F_POLLED))
        return err;
    if (err && !(f->flags & WEFT__F_POLLED))
        f->flags |= WEFT__F_NOREPORT; /* refused (out of memory): no "forgot to await" */
    weft_future_drop(f);
    return err;
}

/* A waker that unparks one OS thread: for block_on through a handle.  It
 * is reference counted because a waker clone may be woken on another
 * thread just as the blocked thread returns; it holds a reference on the
 * runtime, whose allocator it comes from.  While its block_on runs it is
 * on the runtime's list, so a shutdown can wake it (the block_on then
 * returns WEFT_ESHUTDOWN instead of waiting for a timer that never fires). */
typedef struct weft__parker {
    _Atomic uint32_t refs;
    bool notified;
    weft__mutex lock;
    weft__cond cond;
    weft__rt *rt;
    struct weft__parker *prev, *next; /* on rt->parkers, under parkers_lock */
} thread_parker;

static void parker_unref(const void *data) {
    thread_parker *p = (thread_parker *)data;
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    weft__cond_destroy(&p->cond);
    weft__mutex_destroy(&p->lock);
    weft__rt *rt = p->rt;
    weft__free(rt, p, sizeof *p);
    weft__rt_unref(rt);
}

static void parker_wake_by_ref(const void *data) {
    thread_parker *p = (thread_parker *)data;
    weft__mutex_lock(&p->lock);
    p->notified = true;
    weft__cond_signal(&p->cond);
    weft__mutex_unlock(&p->lock);
}

static void parker_wake(const void *data) {
    parker_wake_by_ref(data);
    parker_unref(data);
}

static weft_waker parker_clone(const void *data);
static const weft_waker_vtable parker_vt = {parker_clone, parker_wake, parker_wake_by_ref,
                                            parker_unref};
static weft_waker parker_clone(const void *data) {
    atomic_fetch_add_explicit(&((thread_parker *)data)->refs, 1, memory_order_relaxed);
    return (weft_waker){data, &parker_vt};
}

static void wake_handle_block_ons(weft__rt *rt) {
    weft__spin_lock(&rt->parkers_lock);
    for (thread_parker *p = rt->parkers; p; p = p->next)
        parker_wake_by_ref(p);
    weft__spin_unlock(&rt->parkers_lock);
}

static void parkers_link(weft__rt *rt, thread_parker *p) {
    weft__spin_lock(&rt->parkers_lock);
    p->prev = NULL;
    p->next = rt->parkers;
    if (p->next)
        p->next->prev = p;
    rt->parkers = p;
    weft__spin_unlock(&rt->parkers_lock);
}

static void parkers_unlink(weft__rt *rt, thread_parker *p) {
    weft__spin_lock(&rt->parkers_lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        rt->parkers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    weft__spin_unlock(&rt->parkers_lock);
}

static bool is_shut_down(weft__rt *rt) {
    return atomic_load_explicit(&rt->shutdown, memory_order_acquire) != 0;
}

int weft_handle_block_on(weft_handle *h, weft_future *f, void *out) {
    weft__rt *rt = (weft__rt *)h;
    if (!rt || !f || !f->vt || !f->vt->poll)
        return WEFT_EINVAL;
    if (weft__cur.rt)
        return WEFT_ENESTED;
    if (is_shut_down(rt))
        return WEFT_ESHUTDOWN; /* left untouched, as spawn's future is not */
    thread_parker *p = weft__alloc(rt, sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    atomic_init(&p->refs, 1);
    p->notified = false;
    weft__mutex_init(&p->lock);
    weft__cond_init(&p->cond);
    p->rt = rt;
    weft__rt_ref(rt);
    parkers_link(rt, p);
    weft_waker w = {p, &parker_vt};
    weft__cur = (weft__tls){.rt = rt};
    weft_context cx = {&w, rt, 0, 0};
    int err = 0;
    /* The flag is read after linking, and shutdown sets it before waking
     * the list: a shutdown is seen here or wakes the wait below. */
    while (!(err = is_shut_down(rt) ? WEFT_ESHUTDOWN : 0) &&
           weft_future_poll(f, &cx, out) == WEFT_PENDING) {
        cx.weft__yielded = 0;
        weft__mutex_lock(&p->lock);
        while (!p->notified)
            weft__cond_wait(&p->cond, &p->lock);
        p->notified = false;
        weft__mutex_unlock(&p->lock);
    }
    weft_future_drop(f);
    weft__cur = (weft__tls){0};
    parkers_unlink(rt, p);
    parker_unref(p);
    return err ? err : cx.weft__fail;
}

/* ---------------------------------------------------------------- handles */

weft_handle *weft_runtime_handle(weft_runtime *rt) { return (weft_handle *)rt; }

weft_handle *weft_handle_current(void) { return (weft_handle *)weft__cur.rt; }

weft_handle *weft_handle_clone(weft_handle *h) {
    if (h)
        weft__rt_ref((weft__rt *)h);
    return h;
}

void weft_handle_release(weft_handle *h) {
    if (h)
        weft__rt_unref((weft__rt *)h);
}

weft_flavor weft_handle_flavor(const weft_handle *h) {
    return h ? ((const weft__rt *)h)->config.flavor : WEFT_CURRENT_THREAD;
}

void weft_handle_stats(weft_handle *h, weft_runtime_stats *out) {
    weft__rt *rt = (weft__rt *)h;
    if (!out)
        return;
    *out = (weft_runtime_stats){0};
    if (!rt)
        return;
    uint64_t allocated;
    out->alive_tasks = weft__slab_alive(rt, &allocated);
    out->spawned = allocated - atomic_load_explicit(&rt->refused, memory_order_relaxed);
    out->live_allocs = atomic_load_explicit(&rt->live_allocs, memory_order_relaxed);
    out->timers = weft__time_count(rt);
    if (rt->sched->stats)
        rt->sched->stats(rt, out);
}

/* ------------------------------------------------------------ async main */

int weft_main_run_with(weft_future *main_future, const weft_main_opts *opts) {
    if (!main_future) {
        fprintf(stderr, "weft: main: no future to run\n");
        return 1;
    }
    weft_builder b;
    weft_builder_init(&b, opts ? opts->flavor : WEFT_CURRENT_THREAD);
    if (opts) {
        b.worker_threads = opts->worker_threads;
        b.start_paused = opts->paused;
    }
    weft_runtime *rt;
    int err = weft_runtime_new(&b, &rt);
    if (err) {
        fprintf(stderr, "weft: cannot build the runtime: %s\n", weft_strerror(err));
        return 1;
    }
    int status = 0;
    err = weft_runtime_block_on(rt, main_future, &status);
    weft_runtime_free(rt);
    if (err) {
        fprintf(stderr, "weft: main failed: %s (%s)\n", weft_strerror(err), weft_err_name(err));
        return 1;
    }
    return status;
}

int weft_main_run(weft_future *main_future) { return weft_main_run_with(main_future, NULL); }
