/* weft — the runtime's machinery shared by every scheduler (private). */
#ifndef WEFT_RUNTIME_RT_H
#define WEFT_RUNTIME_RT_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft/time.h"
#include "weft/weft.h"
#include "misuse.h"
#include "os.h"
#include "spin.h"

struct weft__task;
struct weft__time;
struct weft_io_driver_ops;
struct weft__rt;

/* Links of a circular doubly linked list; a node off every list has NULLs. */
typedef struct weft__link {
    struct weft__link *prev, *next;
} weft__link;

/* A list of tasks not yet complete, so shutdown can find every one: the
 * sentinel of a circular list through the tasks' `owned` links.  The
 * runtime keeps shards of them, each under its lock, chosen by task id (so
 * workers completing tasks rarely contend); a scheduler whose tasks all
 * complete on the thread that spawned them gives that driving thread its
 * own unlocked list (through weft__tls.owned). */
typedef struct weft__owned {
    weft__link head;
} weft__owned;

/* One cache line each, so that shards taken on different cores do not
 * share one. */
typedef union weft__owned_shard {
    struct {
        weft__spin lock; /* a few stores under it: spun on, never slept on */
        weft__owned list;
    };
    char line[64];
} weft__owned_shard;

/* Scheduling hints passed with a task made ready. */
enum {
    WEFT__SCHED_WAKE = 0,  /* woken: run it soon */
    WEFT__SCHED_YIELD = 1, /* it yielded: run it after the other ready tasks */
    WEFT__SCHED_SPAWN = 2, /* newly spawned */
};

/* A scheduler: one struct of operations, chosen by the builder. */
typedef struct weft__sched_ops {
    const char *name;
    int (*create)(struct weft__rt *rt, const weft_builder *b);
    /* Makes a NOTIFIED task runnable; the queue takes over one reference. */
    void (*schedule)(struct weft__rt *rt, struct weft__task *t, int hint);
    int (*block_on)(struct weft__rt *rt, weft_future *f, void *out);
    /* Wakes the thread parked in the runtime (a timer moved earlier,
     * something was injected from outside). */
    void (*unpark)(struct weft__rt *rt);
    /* Stops the scheduler: shuts down the tasks on its own owned lists
     * (weft__owned_shutdown) and drops the references its queues hold.
     * Called after the runtime's shared owned list was shut down. */
    void (*shutdown)(struct weft__rt *rt);
    void (*destroy)(struct weft__rt *rt);
    /* Adds the scheduler's counters (polls, ...) to `out`; may be NULL. */
    void (*stats)(struct weft__rt *rt, weft_runtime_stats *out);
    /* Optional: fills the scheduler's part of the metrics (workers, queues). */
    void (*metrics)(struct weft__rt *rt, weft_runtime_metrics *m);
    /* Optional: one worker's counters; WEFT_ERANGE past the last worker. */
    int (*worker_metrics)(struct weft__rt *rt, uint32_t worker, weft_worker_metrics *m);
    /* Optional: told of every timer armed, on any thread, with its deadline
     * on the OS monotonic clock (0 when the clock is paused), so a thread
     * parked on the time driver can wake if it would sleep past it.
     * Without it, `unpark` is called for timers armed off the driving
     * thread. */
    void (*timer_armed)(struct weft__rt *rt, uint64_t deadline_ns);
    /* Optional: makes the scheduler's own I/O driver (the simulator's
     * network) after `create`, instead of the builder's choice. */
    int (*create_io)(struct weft__rt *rt);
    /* Optional: at shutdown, before the owned lists are walked, turns the
     * resumed entries in the queues into ordinary ones (weft__task_settle),
     * so that the walk itself cancels every task, in list order.  For a
     * scheduler whose queues no thread runs meanwhile; without it, resumed
     * entries are cancelled where they are dropped (weft__task_discard). */
    void (*settle)(struct weft__rt *rt);
} weft__sched_ops;

extern const weft__sched_ops weft__current_thread_ops;
extern const weft__sched_ops weft__multi_thread_ops;

struct weft__blocking;
/* The deterministic simulator (sim/scheduler.c); defined only in builds
 * with the simulator (WEFT_HAVE_SIM). */
extern const weft__sched_ops weft__sim_ops;

/* The shared part of a runtime.  `weft_runtime` and `weft_handle` both point
 * at it; it is freed when its last reference goes (the runtime object and
 * each handle clone hold one; the slab holds one while any task block is
 * out, so tasks need no reference each). */
typedef struct weft__rt {
    const weft__sched_ops *sched;
    void *sched_data;
    struct weft__time *time; /* NULL when time is disabled */
    struct weft__io *io;     /* the I/O driver (net/io.c), NULL without one */
    /* Read by every poll: kept off the line of the counters below, which
     * every spawn writes. */
    _Atomic int shutdown;       /* no new task is accepted */
    weft_builder config;
    _Atomic uint64_t refs;
    _Atomic uint64_t live_allocs;
    _Atomic uint64_t next_task_id;  /* ids handed out (to tasks with a prefix
                                     * or a JoinHandle) */
    _Atomic uint64_t refused;       /* of them, by spawns refused at shutdown */
    /* Entropy: the scheduler may replace `random` (the simulator does). */
    uint64_t (*random)(struct weft__rt *rt);
    _Atomic uint64_t rng_counter; /* production stream: splitmix64 counter */
    /* Fault points: NULL in production (never fire); the simulator decides
     * per call site and run (weft_buggify_at). */
    bool (*buggify)(struct weft__rt *rt, const char *site, uint32_t percent);
    struct weft__slab *slab;  /* task blocks (task_alloc.c) */
    weft__owned_shard *owned; /* tasks spawned off the driving threads, in
                               * shards aligned to a cache line within: */
    void *owned_mem;
    uint32_t owned_mask;      /* shard = (task id or address) & owned_mask */
    _Atomic(struct weft__blocking *) blocking; /* blocking pool, made on first use */
    /* Threads inside weft_handle_block_on, woken by shutdown. */
    weft__spin parkers_lock;
    struct weft__parker *parkers;
    struct weft__prof *prof;  /* WEFT_TIMELINE's poll records, or NULL (profile.c) */
} weft__rt;

/* A slow path kept out of line, so its caller's fast path stays small. */
#if defined(__GNUC__)
#define WEFT__NOINLINE __attribute__((noinline))
#else
#define WEFT__NOINLINE
#endif

/* Task blocks come from the runtime's slab (task_alloc.c), in 16-byte
 * size classes up to 1 KiB; each driving thread keeps an unlocked cache
 * of free blocks per class in front of it. */
#define WEFT__CACHE_GRAIN 16   /* block sizes are multiples of this */
#define WEFT__CACHE_CLASSES 64 /* 16-byte classes, up to 1 KiB */
typedef struct weft__task_cache {
    void *head[WEFT__CACHE_CLASSES];
    uint32_t count[WEFT__CACHE_CLASSES];
    uint8_t grown[WEFT__CACHE_CLASSES]; /* refills so far, up to the full batch */
    uint64_t used; /* classes refilled since the cache was last cleared */
    /* Task blocks allocated and freed through it: written by its thread
     * only, summed by weft__slab_alive. */
    _Atomic uint64_t allocs, frees;
    struct weft__task_cache *next; /* on the slab's list, once used */
    bool listed;
    bool arenas; /* its slab's mode (see weft__block_alloc), once listed */
} weft__task_cache;

int weft__slab_create(struct weft__rt *rt);
void weft__slab_destroy(struct weft__rt *rt);

/* A block knows its runtime without a word of its own.  Blocks of up to
 * 1 KiB come from chunks of WEFT__CHUNK_SIZE bytes, aligned to that size,
 * whose header holds the runtime at WEFT__CHUNK_RT: masking a block's
 * address finds it.  The others (a simulated or recording runtime's
 * arenas, blocks above 1 KiB) are prefixed: the 16 bytes before the block
 * are a weft__block_prefix, its runtime and a task id (the simulator and
 * the timeline name tasks by id; a chunk's task has none). */
#define WEFT__CHUNK_SIZE ((size_t)256 * 1024)
#define WEFT__CHUNK_RT 64 /* the runtime's offset in a chunk: its own cache
                           * line, read by every thread, written once */
typedef struct weft__block_prefix {
    struct weft__rt *rt;
    uint64_t id;
} weft__block_prefix;

static inline struct weft__rt *weft__chunk_rt(const void *block) {
    uintptr_t chunk = (uintptr_t)block & ~(uintptr_t)(WEFT__CHUNK_SIZE - 1);
    return *(struct weft__rt *const *)(const void *)(chunk + WEFT__CHUNK_RT);
}
static inline weft__block_prefix *weft__block_prefix_of(void *block) {
    return (weft__block_prefix *)block - 1;
}

/* A block of `size` bytes (16-aligned), or NULL; `*prefixed` tells which
 * kind it is (the caller fills the prefix).  Freed with the same size
 * and kind. */
void *weft__block_alloc(struct weft__rt *rt, size_t size, bool *prefixed);
void weft__block_free(struct weft__rt *rt, void *block, size_t size, bool prefixed);
/* Gives every cached block back and takes the cache off the slab's list:
 * at scheduler shutdown, when no thread drives the runtime any more (the
 * slab's reference on the runtime lasts while blocks sit in caches). */
void weft__task_cache_clear(struct weft__rt *rt, weft__task_cache *c);
/* Task blocks allocated and not yet freed: the tasks alive; `*allocated`
 * (if not NULL) gets the blocks ever allocated, one per spawn that got so
 * far. */
uint64_t weft__slab_alive(struct weft__rt *rt, uint64_t *allocated);

/* This thread's runtime context. */
typedef struct weft__tls {
    weft__rt *rt;  /* runtime entered on this thread, or NULL */
    void *worker;  /* the scheduler's per-thread state when this thread
                    * drives `rt`; NULL on a thread that merely entered */
    weft__task_cache *cache; /* the driving thread's task cache, or NULL */
    weft__owned *owned;      /* the driving thread's unlocked owned list, or
                              * NULL to use the runtime's shared one */
} weft__tls;

extern _Thread_local weft__tls weft__cur;

/* The task poll under way on this thread: its cooperative budget
 * (coop.c) and whether the task woke itself (task.c). */
typedef struct weft__coop {
    uint32_t left;   /* leaf polls it may still make */
    bool active;     /* a task poll is under way: the budget applies */
    bool self_woken; /* `task` woke itself by reference: poll it again */
    struct weft__task *task; /* the task being polled, or NULL */
} weft__coop;

extern _Thread_local weft__coop weft__coop_cur;

/* Leaf polls a task gets per scheduling (as Tokio's 128). */
#define WEFT__COOP_BUDGET 128u

void *weft__alloc(weft__rt *rt, size_t size);
void weft__free(weft__rt *rt, void *p, size_t size);
void weft__rt_ref(weft__rt *rt);
void weft__rt_unref(weft__rt *rt);
/* Reports a diagnostic through the runtime's hook (stderr by default, in
 * debug builds only). `rt` may be NULL. */
void weft__diag(weft__rt *rt, const char *what, const char *site);

/* Blocking pool (blocking_pool.c): waits for its threads until the
 * monotonic `deadline_ns`; returns how many blocking calls are still
 * running.  Destroy frees it once its threads are gone. */
uint64_t weft__blocking_shutdown(weft__rt *rt, uint64_t deadline_ns);
void weft__blocking_destroy(weft__rt *rt);

/* The OS-seeded production stream (entropy.c). */
uint64_t weft__random_os_seeded(weft__rt *rt);
uint64_t weft__os_random_seed(void);

/* Time driver hooks for the schedulers (time.c). */
int weft__time_create(weft__rt *rt, bool start_paused);
void weft__time_destroy(weft__rt *rt);
/* Fires due timers; returns how many fired. */
size_t weft__time_process(weft__rt *rt);
/* Deadline of the next timer on the OS monotonic clock (ns), UINT64_MAX
 * for none, or 0 if a paused clock should rather auto-advance. */
uint64_t weft__time_park_deadline(weft__rt *rt);
/* With a paused clock and nothing to run: jumps the clock to the next
 * timer and fires it.  Returns false when there is no timer. */
bool weft__time_auto_advance(weft__rt *rt);
/* The I/O driver (net/io.c): made per the builder, NULL for "none" and
 * for the simulator; it takes over parking from the schedulers. */
int weft__io_create(weft__rt *rt);
/* The I/O driver `ops` (a scheduler's own: the simulator's network). */
int weft__io_create_with(weft__rt *rt, const struct weft_io_driver_ops *ops);
void weft__io_destroy(weft__rt *rt);
bool weft__io_wait(weft__rt *rt, uint64_t deadline_ns);
void weft__io_wake(weft__rt *rt);
/* Sockets are open: the driver has something to report. */
bool weft__io_active(weft__rt *rt);
/* Frees the sockets closed since the last wait (no wait runs any more). */
void weft__io_shutdown(weft__rt *rt);

/* A raw timer: `w` (moved in) is woken at `deadline_ns` on the runtime's
 * clock.  False (and `w` dropped) when that is not in the future. */
bool weft__timer_arm(weft__rt *rt, weft_timer_entry *e, uint64_t deadline_ns, weft_waker w);
void weft__timer_disarm(weft__rt *rt, weft_timer_entry *e);

/* The clock the running code reads when it is not the runtime's own (the
 * simulator's per-host clocks): `to_local` maps an instant of the
 * runtime's clock to it (monotonic), `to_global` maps one of its instants
 * back to the first instant of the runtime's clock at which it reads at
 * least that.  weft_now, sleeps, timeouts and intervals go through it; the
 * wheel and the schedulers keep the runtime's clock. */
typedef struct weft__clock_view {
    uint64_t (*to_local)(void *ctx, uint64_t ns);
    uint64_t (*to_global)(void *ctx, uint64_t local_ns);
    void *ctx;
} weft__clock_view;
/* Installs a view (NULL: none) on a runtime with time. */
void weft__time_set_view(weft__rt *rt, const weft__clock_view *v);

/* Timers armed in the wheel. */
uint64_t weft__time_count(weft__rt *rt);
/* The runtime's clock (virtual time under the simulator); 0 without time. */
uint64_t weft__time_now(weft__rt *rt);

#endif
