/* weft — tasks: one allocation holding the header, the future's state and
 * its output (private).
 *
 * The header's one atomic word holds the state flags and the reference
 * count, as in Tokio.  References are held by: the JoinHandle, the owned
 * list (until the task completes), each queue entry (NOTIFIED), each waker
 * clone, and whoever is polling it.
 *
 * A queue entry is ordinary (the task NOTIFIED, not RUNNING) or resumed:
 * a task that woke itself by reference while polled (a yield, a spent
 * budget) goes back to its scheduler still RUNNING, with the poller's
 * reference, and its next poll starts from there.  A yield so costs no
 * read-modify-write of the state word at all; to the rest of the world
 * the task is simply being polled (a wake sets NOTIFIED, an abort sets
 * CANCELLED, and the next poll sees them).  The two kinds tell apart by
 * the state: RUNNING without CLAIMED is the entry holder's own poll.
 */
#ifndef WEFT_RUNTIME_TASK_H
#define WEFT_RUNTIME_TASK_H

#include "rt.h"

#define WEFT__T_RUNNING 1u        /* being polled (or cancelled) right now */
#define WEFT__T_COMPLETE 2u       /* future gone, output (or status) stored */
#define WEFT__T_NOTIFIED 4u       /* will be polled: in a queue, or re-queued
                                   * by its poller */
#define WEFT__T_JOIN_INTEREST 8u  /* the JoinHandle is alive */
#define WEFT__T_JOIN_WAKER 16u    /* join waker set; the task side owns it */
#define WEFT__T_CANCELLED 32u     /* abort requested */
/* Set at spawn, never changed: */
#define WEFT__T_OWNED_LOCAL 64u   /* on its driving thread's unlocked owned
                                   * list, not on a locked shard */
#define WEFT__T_OWNER 128u        /* queued by an owner (see the trailer) */
#define WEFT__T_LIST_TO_JOIN 256u /* complete and left on its shard: the
                                   * JoinHandle takes it off (and drops the
                                   * list's reference) */
#define WEFT__T_CLAIMED 512u      /* shutdown took the task from its queue
                                   * entry (RUNNING): that entry is stale */
/* Set at spawn, never changed: */
#define WEFT__T_JOINABLE 1024u    /* spawned with a JoinHandle: its join
                                   * waker lives in the trailer */
#define WEFT__T_PREFIXED 2048u    /* its block is prefixed by its runtime
                                   * and id (rt.h), not in a chunk */
#define WEFT__T_REF_ONE 4096u
#define WEFT__T_FLAGS (WEFT__T_REF_ONE - 1)

/* The header: 32 bytes.  What a task needs only now and then lives
 * elsewhere: its runtime in its block's chunk (or prefix), its id in the
 * prefix (only the simulator's and a recording runtime's tasks have one;
 * a JoinHandle keeps its own), the spawn site in the future's own header,
 * the size follows from the future's vtable, the completion status takes
 * the place of the future once it is dropped, and two trailers after its
 * output: the join waker of a task spawned with a JoinHandle (a detached
 * task has none to keep), then the owner of a task queued by one. */
typedef struct weft__task {
    _Atomic uint64_t state;
    union {
        struct weft__task *next; /* run queue link */
        uint64_t prio;           /* the simulator's PCT priority (no queue) */
    };
    weft__link owned;      /* on an owned list until complete */
    /* then, aligned to 16: the future's state, its output, the trailers */
} weft__task;

/* Something other than the runtime's scheduler that queues its tasks: a
 * local set (pinned tasks), the blocking pool.  Its `schedule` takes over
 * one reference, as weft__sched_ops.schedule does. */
typedef struct weft__task_owner {
    void (*schedule)(struct weft__task_owner *o, weft__task *t, int hint);
} weft__task_owner;

_Static_assert(sizeof(weft__task) == 32, "the task header is 32 bytes");

/* The task's runtime. */
static inline weft__rt *weft__task_rt(weft__task *t) {
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & WEFT__T_PREFIXED)
        return weft__block_prefix_of(t)->rt;
    return weft__chunk_rt(t);
}

/* The id of a task known to be prefixed (every simulated one). */
static inline uint64_t weft__task_pid(weft__task *t) { return weft__block_prefix_of(t)->id; }

/* The task's id (from 1, in spawn order), kept where its block has a
 * prefix: on a simulated or recording runtime, and for tasks above 1 KiB;
 * 0 for a task in a chunk. */
static inline uint64_t weft__task_id(weft__task *t) {
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & WEFT__T_PREFIXED)
        return weft__block_prefix_of(t)->id;
    return 0;
}

#define WEFT__TASK_HDR ((sizeof(weft__task) + 15u) & ~(size_t)15u)

static inline weft_future *weft__task_future(weft__task *t) {
    return (weft_future *)((char *)t + WEFT__TASK_HDR);
}

/* Where a future's output goes, past its state. */
static inline size_t weft__output_offset(const weft_future_vtable *vt) {
    return (vt->state_size + 15u) & ~(size_t)15u;
}

/* Whether a vtable's sizes make a task block at all: weft__task_size
 * below cannot wrap for one that passes (each size is at most a quarter
 * of the address space, so their sum with the padding fits). */
static inline bool weft__task_sizes_ok(const weft_future_vtable *vt) {
    return vt->state_size >= sizeof(weft_future) && vt->state_size <= (size_t)PTRDIFF_MAX / 4 &&
           vt->output_size <= (size_t)PTRDIFF_MAX / 4;
}

/* Where the trailers start: past the output, aligned for pointers. */
static inline size_t weft__task_trailer(const weft_future_vtable *vt) {
    return (WEFT__TASK_HDR + weft__output_offset(vt) + vt->output_size + 7u) & ~(size_t)7u;
}

/* Bytes of the block: header, state, output, and the trailers (the join
 * waker if `joinable`, then the owner if `owner`). */
static inline size_t weft__task_size(const weft_future_vtable *vt, bool owner, bool joinable) {
    if (!owner && !joinable)
        return WEFT__TASK_HDR + weft__output_offset(vt) + vt->output_size;
    return weft__task_trailer(vt) + (joinable ? sizeof(weft_waker) : 0) +
           (owner ? sizeof(struct weft__task_owner *) : 0);
}

/* The join waker of a task spawned with a JoinHandle (WEFT__T_JOINABLE). */
static inline weft_waker *weft__task_join_waker(weft__task *t) {
    return (weft_waker *)(void *)((char *)t + weft__task_trailer(weft__task_future(t)->vt));
}

/* The trailer of a task spawned with an owner (WEFT__T_OWNER). */
static inline weft__task_owner **weft__task_owner_slot(weft__task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    size_t at = weft__task_trailer(weft__task_future(t)->vt) +
                ((s & WEFT__T_JOINABLE) ? sizeof(weft_waker) : 0);
    return (weft__task_owner **)(void *)((char *)t + at);
}

/* The spawn site (the future's header outlives the future's drop). */
static inline const char *weft__task_site(weft__task *t) { return weft__task_future(t)->site; }

/* weft_spawn_at with an owner (NULL: the runtime's scheduler) that will
 * queue the task, first notification included. */
int weft__spawn(weft__rt *rt, weft_future *fut, weft_join_handle *jh, const char *site,
                weft__task_owner *owner);

/* Whether an entry whose task is in state `s` is resumed (see the top). */
static inline bool weft__task_resumed(uint64_t s) {
    return (s & (WEFT__T_RUNNING | WEFT__T_CLAIMED | WEFT__T_COMPLETE)) == WEFT__T_RUNNING;
}

/* Whether running an entry whose task is in state `s` polls its future
 * (neither a cancellation nor a stale entry). */
static inline bool weft__task_will_poll(uint64_t s) {
    if (s & WEFT__T_CANCELLED)
        return false;
    return weft__task_resumed(s) || !(s & (WEFT__T_RUNNING | WEFT__T_COMPLETE));
}

/* The task waker's vtable (a waker that is `{t, &weft__task_waker_vt}`
 * wakes task t). */
extern const weft_waker_vtable weft__task_waker_vt;

/* What weft__task_poll did, and what it leaves to its caller. */
enum {
    WEFT__RUN_SKIPPED = 0, /* not polled: cancelled, or a stale entry */
    WEFT__RUN_POLLED = 1,  /* polled; the task is where the poll left it */
    WEFT__RUN_AGAIN = 2,   /* polled and woke itself: the caller queues the
                            * resumed entry (hint WEFT__SCHED_WAKE) */
    WEFT__RUN_YIELDED = 3, /* the same, having yielded (WEFT__SCHED_YIELD) */
};

/* Runs one poll of a task the scheduler took from a queue (with the
 * queue's reference), including cancellation and completion.  For
 * WEFT__RUN_AGAIN and _YIELDED the caller must queue `t` as its scheduler's
 * `schedule` would (the entry takes the poller's reference); this saves
 * the trip through `schedule` on the poll's own thread. */
int weft__task_poll(weft__task *t);
/* weft__task_poll that queues a resumed entry through the scheduler's
 * `schedule`.  Returns whether the future was polled. */
bool weft__task_run(weft__task *t);
/* Drops a queue entry without polling it, at shutdown: its reference goes
 * (a resumed entry is made ordinary first, for the owned lists' walk to
 * cancel), or, for a resumed entry whose task was cancelled meanwhile,
 * the task is cancelled here (its poller's job). */
void weft__task_discard(weft__task *t);
/* Makes a resumed entry an ordinary one (NOTIFIED, not RUNNING), as if its
 * poll had ended the usual way; others are left as they are.  For the
 * schedulers' settle (rt.h). */
void weft__task_settle(weft__task *t);
/* Runtime shutdown: cancels the task, or leaves it to its poller if it is
 * running.  Consumes the owned list's reference (the caller unlinked it). */
void weft__task_shutdown(weft__task *t);
/* Drops one reference. */
void weft__task_unref(weft__task *t);

/* An empty owned list. */
void weft__owned_init(weft__owned *l);
/* The runtime's shards: `n` (a power of two) empty lists, or WEFT_ENOMEM. */
int weft__owned_create(weft__rt *rt, unsigned n);
void weft__owned_destroy(weft__rt *rt);
/* Shuts down every task on `list` (NULL: on the runtime's shards). */
void weft__owned_shutdown(weft__rt *rt, weft__owned *list);
/* Calls `fn` for every task on `list` and on the runtime's shards, each
 * shard under its lock (`fn` must not spawn or complete tasks).  A shard
 * may hold complete tasks whose JoinHandle will take them off. */
void weft__owned_visit(weft__rt *rt, weft__owned *list, void (*fn)(void *ctx, weft__task *t),
                       void *ctx);
/* Shuts down the tasks of `owner` (always on the runtime's shards). */
void weft__owned_shutdown_owner(weft__rt *rt, weft__task_owner *owner);

#endif
