/* weft — a C11 async runtime with a deterministic simulator.
 *
 * The core: futures, wakers, async functions, tasks and JoinHandles, the
 * runtime, its builder and handles.  Time lives in weft/time.h.
 *
 * Lifecycles, in one place:
 *  - A future is a caller-owned struct whose first member is `weft_future`.
 *    Nothing runs until it is polled.  Once polled it must not move (it may
 *    hold pointers into itself); spawn copies a future that was never polled.
 *    `weft_future_drop` releases what it holds, exactly once.
 *  - A task is one allocation made by spawn and freed when the task is done
 *    AND its JoinHandle is gone (awaited, detached or dropped).
 *  - A JoinHandle is caller-owned storage filled by spawn.  Awaiting it to
 *    completion consumes it; dropping it detaches the task.
 *  - A runtime lives from weft_runtime_new to weft_runtime_free; free shuts
 *    it down: unfinished tasks are dropped (their cleanup runs) and every
 *    allocation is released once no handle clone is left.
 *
 * NULL arguments (guide section 7): int-returning calls give WEFT_EINVAL;
 * the waker calls, weft_future_drop, weft_join_abort / _detach,
 * weft_runtime_free and weft_handle_release are no-ops on NULL; queries
 * give the neutral answer (weft_join_is_finished true, stats zeroed,
 * weft_handle_clone(NULL) NULL); weft_future_init, weft_future_poll,
 * weft_waker_set (NULL slot), weft_cx_*, weft_yield_request and the
 * _init of every future abort with "weft: <function>: NULL <argument>".
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"
#include "weft/export.h"
#include "weft/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ wakers */

typedef struct weft_waker weft_waker;

/* How a waker reaches whatever it wakes.  `data` is the waker's pointer.
 * `wake` consumes the waker; `wake_by_ref` does not; `drop` releases it. */
typedef struct weft_waker_vtable {
    weft_waker (*clone)(const void *data);
    void (*wake)(const void *data);
    void (*wake_by_ref)(const void *data);
    void (*drop)(const void *data);
} weft_waker_vtable;

/* A waker: data pointer + vtable.  A zeroed waker is "no waker". */
struct weft_waker {
    const void *data;
    const weft_waker_vtable *vt;
};

/* A new reference to what `*w` wakes (an empty waker for an empty one). */
WEFT_EXTERN weft_waker weft_waker_clone(const weft_waker *w);
/* Wakes and consumes `*w`, leaving it empty. */
WEFT_EXTERN void weft_waker_wake(weft_waker *w);
/* Wakes what `*w` wakes, keeping `*w`. */
WEFT_EXTERN void weft_waker_wake_by_ref(const weft_waker *w);
/* Releases `*w` (if any) and leaves it empty. */
WEFT_EXTERN void weft_waker_drop(weft_waker *w);
/* True when both wake the same thing. */
WEFT_EXTERN bool weft_waker_will_wake(const weft_waker *a, const weft_waker *b);
/* Stores a clone of `w` in `*slot` unless it already wakes the same thing. */
WEFT_EXTERN void weft_waker_set(weft_waker *slot, const weft_waker *w);

/* ----------------------------------------------------------------- futures */

typedef enum weft_poll { WEFT_PENDING = 0, WEFT_READY = 1 } weft_poll;

typedef struct weft_future weft_future;

/* What a poll gets: the waker to store before returning PENDING, and the
 * runtime it runs on.  Fields are private; use the functions below. */
typedef struct weft_context {
    const weft_waker *weft__waker;
    struct weft__rt *weft__rt;
    int weft__fail;     /* failure code set by WEFT_FAIL, 0 if none */
    int weft__yielded;  /* the future asked to go behind other ready tasks */
} weft_context;

/* The waker of the task being polled: store a clone (weft_waker_set)
 * before returning WEFT_PENDING. */
WEFT_EXTERN const weft_waker *weft_cx_waker(weft_context *cx);

/* The poll function: READY (having written the output to `out` unless it is
 * NULL) or PENDING (having arranged for the context's waker to be woken). */
typedef weft_poll (*weft_poll_fn)(weft_future *self, weft_context *cx, void *out);

typedef struct weft_future_vtable {
    weft_poll_fn poll;
    void (*drop)(weft_future *self); /* releases resources; NULL if none */
    size_t state_size;               /* sizeof the whole state struct */
    size_t output_size;              /* bytes written to `out` when READY */
    const char *name;                /* for diagnostics and traces */
    unsigned vflags;                 /* WEFT_VT_* */
} weft_future_vtable;

/* The future answers polls after it completed or was dropped by itself
 * (a JoinHandle says "already joined"); others abort on such a poll. */
#define WEFT_VT_REPOLL 1u

/* The header every future state struct starts with. */
struct weft_future {
    const weft_future_vtable *vt;
    weft_future *awaiting; /* child being awaited by WEFT_AWAIT, or NULL */
    const char *site;      /* "file:line" where it was made, for diagnostics */
    uint32_t resume;       /* resume point of an async function; 0 = start */
    uint32_t flags;        /* WEFT__F_* below */
};

#define WEFT__F_POLLED 1u    /* polled at least once */
#define WEFT__F_DROPPED 2u   /* dropped: further drops are no-ops */
#define WEFT__F_NOREPORT 4u  /* owned by a task: never "forgot to await" */
#define WEFT__DONE UINT32_MAX

#define WEFT__STR2(x) #x
#define WEFT__STR(x) WEFT__STR2(x)
#define WEFT__SITE (__FILE__ ":" WEFT__STR(__LINE__))

/* The initial header of a future of state type `type`, whose vtable was
 * made with WEFT_FUTURE_DEFINE. */
#define WEFT_FUTURE_BASE(type) \
    ((weft_future){&type##_vtable, NULL, WEFT__SITE, 0, 0})

/* A new future of type `type` as a compound literal, with designated
 * initializers for its own fields:  WEFT_NEW(worker, .id = 3) */
#define WEFT_NEW(type, ...) ((type){.base = WEFT_FUTURE_BASE(type), __VA_ARGS__})

/* Defines `type##_vtable` for the state struct `type`, whose first member
 * must be `weft_future base`.  `out_type` is what the future produces. */
#define WEFT_FUTURE_DEFINE(type, poll_fn, drop_fn, out_type)                   \
    static const weft_future_vtable type##_vtable = {                          \
        (poll_fn), (drop_fn), sizeof(type), sizeof(out_type), #type, 0}
/* The same for a future that produces nothing. */
#define WEFT_FUTURE_DEFINE_VOID(type, poll_fn, drop_fn)                        \
    static const weft_future_vtable type##_vtable = {(poll_fn), (drop_fn),     \
                                                     sizeof(type), 0, #type, 0}

/* Sets up a future header in place (for futures built by init functions). */
WEFT_EXTERN void weft_future_init(weft_future *f, const weft_future_vtable *vt,
                                  const char *site);
/* Polls once.  Aborts with a one-line reason if `f` completed already or
 * was dropped. */
WEFT_EXTERN weft_poll weft_future_poll(weft_future *f, weft_context *cx, void *out);
/* Releases the future: drops the child it awaits, then runs its vtable's
 * drop.  A second drop is a no-op. */
WEFT_EXTERN void weft_future_drop(weft_future *f);

/* WEFT_AWAIT's poll and drop of its child, the common cases inline (a
 * live future is polled; a finished one with nothing to release is
 * marked dropped); all else goes through the two functions above, which
 * check and report as ever. */
static inline weft_poll weft__await_poll(weft_future *f, weft_context *cx, void *out) {
    if (f && cx && f->vt && f->vt->poll && !(f->flags & WEFT__F_DROPPED) &&
        f->resume != WEFT__DONE) {
        f->flags |= WEFT__F_POLLED;
        return f->vt->poll(f, cx, out);
    }
    return weft_future_poll(f, cx, out);
}
static inline void weft__await_drop(weft_future *f) {
    if (f && f->vt && !f->awaiting && !f->vt->drop && (f->flags & WEFT__F_POLLED)) {
        f->flags |= WEFT__F_DROPPED;
        return;
    }
    weft_future_drop(f);
}

/* --------------------------------------------------------- async functions
 *
 * Stackless coroutines: a poll function written as straight-line code.
 *
 *   typedef struct { weft_future base; int i; weft_sleep nap; } ticker;
 *
 *   static weft_poll ticker_poll(weft_future *f, weft_context *cx, void *out) {
 *       ticker *self = (ticker *)f;
 *       WEFT_BEGIN(f);
 *       for (self->i = 0; self->i < 3; self->i++)
 *           WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(10)), NULL);
 *       WEFT_RETURN(f, out, int, self->i);
 *       WEFT_END(f);
 *   }
 *   WEFT_FUTURE_DEFINE(ticker, ticker_poll, NULL, int);
 *
 * The rules:
 *  - Locals that must survive an await live in the state struct, never in C
 *    locals: the function returns at every await and re-enters at the top.
 *  - A C local is fine between two awaits (it is simply recomputed).
 *  - No WEFT_AWAIT / WEFT_YIELD inside a `switch` of your own, and at most
 *    one of them per source line (the line number is the resume point).
 *  - A future awaited by WEFT_AWAIT lives in the state struct (or outlives
 *    it); WEFT_AWAIT drops it once it is ready.  If the async function is
 *    dropped while awaiting, the awaited child is dropped first, then the
 *    function's own drop runs.
 *  - If the awaited child fails the task (WEFT_FAIL), the caller does not
 *    resume: it returns at once, and so on up to the task.
 */
#define WEFT_BEGIN(f)                                                          \
    switch ((f)->resume) {                                                     \
    case 0:

#define WEFT_AWAIT(f, cx, child, out)                                          \
    do {                                                                       \
        (f)->awaiting = (weft_future *)(child);                                \
        (f)->resume = __LINE__;                                                \
        /* fallthrough */                                                      \
    case __LINE__:                                                             \
        if (weft__await_poll((f)->awaiting, (cx), (out)) == WEFT_PENDING)      \
            return WEFT_PENDING;                                               \
        if ((cx)->weft__fail) { /* the child failed the task: unwind */        \
            (f)->resume = WEFT__DONE;                                          \
            return WEFT_READY;                                                 \
        }                                                                      \
        weft__await_drop((f)->awaiting);                                       \
        (f)->awaiting = NULL;                                                  \
    } while (0)

/* Gives way: other ready tasks (and the drivers) run before this resumes. */
#define WEFT_YIELD(f, cx)                                                      \
    do {                                                                       \
        weft_yield_request(cx);                                                \
        (f)->resume = __LINE__;                                                \
        return WEFT_PENDING;                                                   \
    case __LINE__:;                                                            \
    } while (0)

#define WEFT_RETURN(f, out, type, value)                                       \
    do {                                                                       \
        if (out)                                                               \
            *(type *)(out) = (value);                                          \
        (f)->resume = WEFT__DONE;                                              \
        return WEFT_READY;                                                     \
    } while (0)

#define WEFT_RETURN_VOID(f)                                                    \
    do {                                                                       \
        (f)->resume = WEFT__DONE;                                              \
        return WEFT_READY;                                                     \
    } while (0)

/* Finishes the enclosing task as failed with code `err` (< 0): its
 * JoinHandle reports `err`.  The C counterpart of a panic, without
 * unwinding: every future on the task is dropped normally. */
#define WEFT_FAIL(f, cx, err)                                                  \
    do {                                                                       \
        weft_cx_fail((cx), (err));                                             \
        (f)->resume = WEFT__DONE;                                              \
        return WEFT_READY;                                                     \
    } while (0)

/* Falling off the end is a void return. */
#define WEFT_END(f)                                                            \
    (f)->resume = WEFT__DONE;                                                  \
    return WEFT_READY;                                                         \
    default:                                                                   \
        weft__bad_resume(f);                                                   \
        }                                                                      \
        return WEFT_PENDING

/* Asks for the task to be polled again after the other ready tasks (what
 * WEFT_YIELD calls before returning WEFT_PENDING). */
WEFT_EXTERN void weft_yield_request(weft_context *cx);

/* The cooperative budget: a leaf future (a JoinHandle, a channel, a lock,
 * a socket) calls this first in its poll.  It returns true while the task
 * being polled has budget left (each call spends one unit; a task gets 128
 * per scheduling, as in Tokio).  Once spent it returns false having asked
 * for the task to be polled again after the other ready tasks (as
 * WEFT_YIELD does); the leaf then returns WEFT_PENDING without doing its
 * work.  Always true outside a task poll (block_on's own future). */
WEFT_EXTERN bool weft_coop_proceed(weft_context *cx);
/* Marks the task being polled as failed with `err` (what WEFT_FAIL calls). */
WEFT_EXTERN void weft_cx_fail(weft_context *cx, int err);
WEFT_EXTERN void weft__bad_resume(weft_future *f);

/* A future that gives way once (tokio::task::yield_now). */
typedef struct weft_yield_now {
    weft_future base;
} weft_yield_now;
/* Makes `*y` a future that is pending once, then ready (use the
 * weft_yield_now(y) macro, which passes the call site). */
WEFT_EXTERN weft_future *weft_yield_now_init(weft_yield_now *y, const char *site);
#define weft_yield_now(y) weft_yield_now_init((y), WEFT__SITE)

/* ------------------------------------------------------- tasks and joins */

typedef struct weft_handle weft_handle;
typedef struct weft_runtime weft_runtime;
struct weft__task;

/* A JoinHandle: caller-owned, filled by spawn.  It is itself a future:
 * awaiting it writes the task's output to `out` and leaves the status in
 * `weft_join_status`: 0 (completed), WEFT_ECANCELED (aborted or dropped at
 * shutdown) or the task's failure code. */
typedef struct weft_join_handle {
    weft_future base;
    struct weft__task *task; /* NULL once joined or detached */
    int status;
    uint64_t id;
} weft_join_handle;

/* Spawns `fut` (a future never polled) on the runtime of `h` (or of this
 * thread, when `h` is NULL).  The future's state is copied into the task;
 * the caller's copy is left as if it had been moved out (dropping it is a
 * no-op).  `jh` may be NULL to detach at once.  Returns 0, WEFT_EINVAL,
 * WEFT_ENORUNTIME, WEFT_ESHUTDOWN or WEFT_ENOMEM; on error the future is
 * dropped (its cleanup runs) and nothing is spawned. */
WEFT_EXTERN int weft_spawn_at(weft_handle *h, weft_future *fut, weft_join_handle *jh,
                              const char *site);
#define weft_spawn(fut, jh) weft_spawn_at(NULL, (weft_future *)(fut), (jh), WEFT__SITE)
#define weft_handle_spawn(h, fut, jh)                                          \
    weft_spawn_at((h), (weft_future *)(fut), (jh), WEFT__SITE)

/* Requests cancellation: the task's future is dropped (its cleanup runs
 * exactly once) before it is polled again, and the join reports
 * WEFT_ECANCELED.  A no-op when the task already finished. */
WEFT_EXTERN void weft_join_abort(const weft_join_handle *jh);
/* True once the task completed, failed or was cancelled (its join would
 * not wait), and for a handle already joined or detached. */
WEFT_EXTERN bool weft_join_is_finished(const weft_join_handle *jh);
/* Gives the task up: it runs on, its output is dropped. */
WEFT_EXTERN void weft_join_detach(weft_join_handle *jh);
/* After the join completed: 0, WEFT_ECANCELED or the task's failure code. */
WEFT_EXTERN int weft_join_status(const weft_join_handle *jh);
/* The handle as a future, for WEFT_AWAIT and block_on. */
static inline weft_future *weft_join(weft_join_handle *jh) { return &jh->base; }

/* ---------------------------------------------------------------- runtime */

typedef enum weft_flavor {
    WEFT_CURRENT_THREAD = 0,
    WEFT_MULTI_THREAD = 1,
    WEFT_SIM = 2,
} weft_flavor;

/* Where the runtime's memory comes from (all of it: tasks, queues, wheel). */
typedef struct weft_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} weft_allocator;

/* A diagnostic from a debug build: a future never polled, a task alive at
 * shutdown.  `site` is where it was made or spawned. */
typedef void (*weft_diag_fn)(void *ctx, const char *what, const char *site);

/* Runtime configuration: weft_builder_init fills the defaults, then set the
 * fields you care about. */
typedef struct weft_builder {
    weft_flavor flavor;
    bool enable_time;            /* timers (default true) */
    bool start_paused;           /* manual clock, auto-advancing when idle */
    const char *thread_name;     /* default "weft-worker" */
    /* multi_thread */
    int worker_threads;          /* 0: $WEFT_WORKER_THREADS, else the cores;
                                  * at most WEFT_MAX_WORKER_THREADS */
    size_t thread_stack_size;    /* worker and blocking threads; 0: OS default,
                                  * else at least WEFT_MIN_THREAD_STACK */
    void (*on_thread_start)(void *ctx); /* on each new runtime thread */
    void (*on_thread_stop)(void *ctx);  /* on each runtime thread as it ends */
    void *thread_hook_ctx;
    int max_blocking_threads;    /* spawn_blocking threads at most (512) */
    int64_t blocking_keep_alive; /* ns an idle blocking thread lingers (10 s) */
    uint32_t event_interval;     /* ticks between driver polls (default 61) */
    uint32_t global_queue_interval; /* ticks between inject checks (31) */
    /* The I/O driver (weft/net.h): NULL or "auto" for $WEFT_IO_DRIVER or
     * else the platform's best ("epoll" on Linux); a driver's name; or
     * "none" for a runtime without sockets.  The simulator ignores it. */
    const char *io_driver;
    weft_allocator allocator;    /* default malloc/free */
    weft_diag_fn on_diagnostic;  /* default: print to stderr in debug builds */
    void *diagnostic_ctx;
    /* sim (see weft/sim.h) */
    uint64_t sim_seed;           /* fixes every choice of the run (default 0) */
    int sim_strategy;            /* WEFT_SIM_RANDOM (default), WEFT_SIM_PCT or
                                  * WEFT_SIM_SWARM (each seed draws its own) */
    uint32_t sim_pct_depth;      /* PCT: d, so d-1 priority change points (3) */
    uint64_t sim_pct_horizon;    /* PCT: change points fall in steps 1..this
                                  * (0: log-uniform up to 8192; the sweep
                                  * sets it from the test's run lengths) */
    int64_t sim_step_time;       /* each step costs up to this many ns of
                                  * virtual time, seeded (0: none) */
    int64_t sim_timer_slack;     /* a timer fires up to this many ns late,
                                  * seeded (0: on time) */
    bool sim_exact_time;         /* swarm draws no step time nor slack: for
                                  * tests that assert exact instants */
    uint64_t sim_max_steps;      /* livelock past this many steps (default
                                  * WEFT_SIM_DEFAULT_MAX_STEPS; 0: unlimited) */
    int64_t sim_max_time;        /* livelock past this virtual time, ns (0: none) */
    const char *sim_trace_path;  /* write the trace as text here (NULL: none) */
    int sim_net;                 /* WEFT_SIM_NET_SWARM (default: network knobs
                                  * drawn from the seed) or WEFT_SIM_NET_CALM */
} weft_builder;

#define WEFT_MAX_WORKER_THREADS 4096
/* A sim run never runs unbounded by default: past this many steps (a few
 * seconds of a spinning run) it fails as a livelock. */
#define WEFT_SIM_DEFAULT_MAX_STEPS UINT64_C(10000000)
#define WEFT_MIN_THREAD_STACK ((size_t)16384)

/* Fills `*b` with the defaults for `flavor`: time on, clock running,
 * malloc/free, workers from $WEFT_WORKER_THREADS or one per core
 * (multi_thread), seed 0 (sim).  NULL: no-op. */
WEFT_EXTERN void weft_builder_init(weft_builder *b, weft_flavor flavor);
/* True when this build of weft has the flavor (multi_thread and sim are
 * build options; a runtime of a missing flavor says WEFT_ENOTSUP). */
WEFT_EXTERN bool weft_flavor_available(weft_flavor flavor);

/* Builds a runtime from `*b` (NULL: a current_thread one with the
 * defaults) into `*out`.  Returns 0, WEFT_EINVAL (a field out of range),
 * WEFT_ENOTSUP (a flavor this build lacks) or WEFT_ENOMEM. */
WEFT_EXTERN int weft_runtime_new(const weft_builder *b, weft_runtime **out);
/* Runs `fut` (polled in place, never copied) to completion on this thread,
 * driving the runtime's tasks and timers meanwhile.  Output goes to `out`.
 * Returns 0, WEFT_ENESTED inside a running runtime, WEFT_EBUSY when another
 * thread drives this current_thread runtime (in both cases the future is
 * left untouched), WEFT_ESHUTDOWN, or the failure code set by WEFT_FAIL. */
WEFT_EXTERN int weft_runtime_block_on(weft_runtime *rt, weft_future *fut, void *out);
/* Borrowed: valid until weft_runtime_free. */
WEFT_EXTERN weft_handle *weft_runtime_handle(weft_runtime *rt);
/* Shuts down (drops unfinished tasks, runs their cleanup) and frees.  Live
 * handle clones keep the shared part until released. */
WEFT_EXTERN void weft_runtime_free(weft_runtime *rt);

/* The runtime this thread is running inside, or NULL. Borrowed. */
WEFT_EXTERN weft_handle *weft_handle_current(void);
/* A reference on the runtime's shared part that outlives
 * weft_runtime_free (spawns through it then say WEFT_ESHUTDOWN); release
 * it with weft_handle_release. */
WEFT_EXTERN weft_handle *weft_handle_clone(weft_handle *h);
/* Releases a handle from weft_handle_clone. */
WEFT_EXTERN void weft_handle_release(weft_handle *h);
/* Runs `fut` to completion on this thread, which must not be one of the
 * runtime's own (WEFT_ENESTED there).  On current_thread the runtime must
 * be driven by its block_on elsewhere for timers to fire.  WEFT_ESHUTDOWN
 * when the runtime was freed (through a clone; the future is left
 * untouched) or is freed meanwhile (the future is dropped). */
WEFT_EXTERN int weft_handle_block_on(weft_handle *h, weft_future *fut, void *out);
/* The flavor of the runtime behind `h`. */
WEFT_EXTERN weft_flavor weft_handle_flavor(const weft_handle *h);

typedef struct weft_runtime_stats {
    uint64_t alive_tasks;    /* spawned and not yet freed */
    uint64_t spawned;        /* spawned since start */
    uint64_t polls;          /* task polls */
    uint64_t live_allocs;    /* allocations not yet freed */
    uint64_t timers;         /* timers in the wheel */
} weft_runtime_stats;
/* Counters of the runtime behind `h` (a snapshot; see weft_runtime_stats). */
WEFT_EXTERN void weft_handle_stats(weft_handle *h, weft_runtime_stats *out);

/* ------------------------------------------------------- blocking work */

/* A synchronous call for the blocking pool: its result is the join's
 * output (a `void *`). */
typedef void *(*weft_blocking_fn)(void *arg);

/* Runs `fn(arg)` on the runtime's blocking pool, a bounded set of threads
 * kept apart from the workers (any flavor).  `jh` (may be NULL) is awaited
 * like any JoinHandle and yields the `void *` result.  A call not started
 * when the runtime shuts down never runs (its join reports
 * WEFT_ECANCELED); abort cannot interrupt one already running.  Returns 0,
 * WEFT_EINVAL, WEFT_ENORUNTIME, WEFT_ESHUTDOWN or WEFT_ENOMEM.  Under the
 * simulator the call runs as a task of its own, in one step on the sim's
 * thread (it must not wait for other tasks there). */
WEFT_EXTERN int weft_spawn_blocking_at(weft_handle *h, weft_blocking_fn fn, void *arg,
                                       weft_join_handle *jh, const char *site);
#define weft_spawn_blocking(fn, arg, jh)                                       \
    weft_spawn_blocking_at(NULL, (fn), (arg), (jh), WEFT__SITE)

/* ----------------------------------------------------------- local sets
 *
 * Tasks pinned to one thread: the counterpart of Tokio's LocalSet, for
 * futures that must not move between threads (they touch thread-local or
 * thread-affine state).  Pinned tasks run only while a `run_until` future
 * of their set is being polled, on the thread polling it; wakes from any
 * thread queue them back to that set.  A debug build aborts with a
 * message when a set's tasks are driven from two different threads.
 *
 * Lifecycle: weft_local_set_new .. weft_local_set_free, on the thread that
 * drives it; free drops its unfinished tasks (their cleanup runs there).
 * The simulator refuses local sets (weft_local_set_new returns
 * WEFT_ENOTSUP): a set polls its tasks itself, where the seed would not
 * order them; spawn them as plain tasks there (the sim has one thread). */
typedef struct weft_local_set weft_local_set;

/* Makes a local set on the runtime of `h` (NULL: this thread's) in
 * `*out`.  Returns 0, WEFT_EINVAL, WEFT_ENORUNTIME or WEFT_ENOMEM. */
WEFT_EXTERN int weft_local_set_new(weft_handle *h, weft_local_set **out);
/* Frees the set, dropping its unfinished tasks (their cleanup runs on this
 * thread, which must be the one that made the set). */
WEFT_EXTERN void weft_local_set_free(weft_local_set *ls);
/* Spawns `fut` pinned to `ls`; as weft_spawn_at otherwise. */
WEFT_EXTERN int weft_spawn_local_at(weft_local_set *ls, weft_future *fut, weft_join_handle *jh,
                                    const char *site);
#define weft_spawn_local(ls, fut, jh)                                          \
    weft_spawn_local_at((ls), (weft_future *)(fut), (jh), WEFT__SITE)

/* A future that polls `inner` and, meanwhile, runs the set's tasks on the
 * polling thread; its output is `inner`'s.  Owns `inner` once made. */
typedef struct weft_local_run {
    weft_future base;
    weft_local_set *set;
    weft_future *inner;
} weft_local_run;
/* Makes `*r` the run_until future of `ls` around `inner` (use the
 * weft_local_run_until macro, which passes the call site). */
WEFT_EXTERN weft_future *weft_local_run_until_init(weft_local_run *r, weft_local_set *ls,
                                                   weft_future *inner, const char *site);
#define weft_local_run_until(r, ls, inner)                                     \
    weft_local_run_until_init((r), (ls), (weft_future *)(inner), WEFT__SITE)

/* --------------------------------------------------- metrics and shutdown */

/* Readable while the runtime runs; each field is a snapshot. */
typedef struct weft_runtime_metrics {
    uint32_t workers;              /* threads running tasks */
    uint64_t alive_tasks;          /* spawned and not yet freed */
    uint64_t inject_queue_depth;   /* tasks in the global inject queue */
    uint64_t blocking_threads;     /* blocking-pool threads alive */
    uint64_t idle_blocking_threads;
    uint64_t blocking_queue_depth; /* blocking calls waiting for a thread */
} weft_runtime_metrics;

typedef struct weft_worker_metrics {
    uint64_t polls;             /* tasks polled */
    uint64_t steals;            /* tasks stolen from other workers */
    uint64_t steal_operations;  /* successful steals */
    uint64_t parks;             /* times it went to sleep */
    uint64_t overflows;         /* times its local queue spilled to inject */
    uint64_t local_queue_depth; /* tasks in its local queue now */
} weft_worker_metrics;

/* The runtime's metrics now (workers, queue depths, blocking pool). */
WEFT_EXTERN void weft_handle_metrics(weft_handle *h, weft_runtime_metrics *out);
/* WEFT_ERANGE for a worker index >= workers. */
WEFT_EXTERN int weft_handle_worker_metrics(weft_handle *h, uint32_t worker,
                                           weft_worker_metrics *out);

/* Shuts the runtime down and frees it like weft_runtime_free, but waits at
 * most `timeout_ns` (< 0: forever, as weft_runtime_free does) for blocking
 * calls still running.  New work is refused, tasks are dropped at once
 * (their cleanup runs exactly once) and the threads are joined.  Returns 0, or WEFT_ETIMEDOUT
 * when some blocking calls had not finished: each is reported through the
 * diagnostic hook, and its thread releases the runtime's memory when the
 * call returns. */
WEFT_EXTERN int weft_runtime_shutdown_timeout(weft_runtime *rt, int64_t timeout_ns);
/* ---------------------------------------------------------------- entropy */

/* Random numbers drawn through the runtime of this thread: seeded from the
 * OS in production, the seeded and recorded stream under the simulator, so
 * code that draws its randomness here stays replayable.  Outside any
 * runtime they come from the OS. */
WEFT_EXTERN uint64_t weft_random_u64(void);
/* Uniform in [0, n); 0 when n is 0. */
WEFT_EXTERN uint64_t weft_random_below(uint64_t n);

/* How WEFT_MAIN runs: `#[tokio::main(flavor = ..., worker_threads = ...)]`. */
typedef struct weft_main_opts {
    int weft__v;          /* set by WEFT_MAIN (lets the options list be empty) */
    weft_flavor flavor;   /* default WEFT_CURRENT_THREAD */
    int worker_threads;   /* multi_thread: 0 is $WEFT_WORKER_THREADS, else the cores */
    bool paused;          /* start the clock paused (auto-advancing when idle) */
} weft_main_opts;

/* Runs an async main: builds a runtime (current_thread unless the options
 * say otherwise), block_on's a future of type `type` (with fields `argc`
 * and `argv`, producing int) and returns its output as the exit status:
 * #[tokio::main] for C.  Options are weft_main_opts fields:
 *
 *   WEFT_MAIN(app)
 *   WEFT_MAIN(app, .flavor = WEFT_MULTI_THREAD, .worker_threads = 4)
 *
 * When the runtime cannot be built or block_on fails, it says why on
 * stderr and the status is 1. */
#define WEFT_MAIN(type, ...)                                                   \
    int main(int argc, char **argv) {                                          \
        type weft__main_state = WEFT_NEW(type, .argc = argc, .argv = argv);    \
        const weft_main_opts weft__main_opts = {.weft__v = 1, __VA_ARGS__};    \
        return weft_main_run_with(&weft__main_state.base, &weft__main_opts);   \
    }
/* weft_main_run_with with the defaults (a current_thread runtime). */
WEFT_EXTERN int weft_main_run(weft_future *main_future);
/* What WEFT_MAIN calls: builds the runtime `opts` describes (NULL: the
 * defaults), runs `main_future` to completion, frees the runtime and
 * returns the future's int output, or 1 when something failed. */
WEFT_EXTERN int weft_main_run_with(weft_future *main_future, const weft_main_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
