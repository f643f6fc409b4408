/* weft — tasks: one allocation holding the header, the future's state and
 * its output (private).
 *
 * The header's one atomic word holds the state flags and the reference
 * count, as in Tokio.  References are held by: the JoinHandle, the owned
 * list (until the task completes), each queue entry (NOTIFIED), each waker
 * clone, and whoever is polling it.
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
#define WEFT__T_REF_ONE 64u
#define WEFT__T_FLAGS (WEFT__T_REF_ONE - 1)

typedef struct weft__task {
    _Atomic uint64_t state;
    weft__rt *rt;
    struct weft__task *next;                   /* run queue link */
    struct weft__task *owned_prev, *owned_next; /* owned list, until complete */
    weft__owned *owned_in;                     /* that list, or NULL */
    weft_waker join_waker;                     /* who awaits the JoinHandle */
    const char *site;                          /* where it was spawned */
    uint64_t id;
    uint32_t size;   /* bytes of this allocation */
    int32_t status;  /* 0, WEFT_ECANCELED or a failure code, once complete */
    void *sched_data; /* the scheduler's own per-task word (e.g. pinning) */
    struct weft__task_owner *owner; /* queues it instead of the scheduler */
    /* then, aligned to 16: the future's state, then its output */
} weft__task;

/* Something other than the runtime's scheduler that queues its tasks: a
 * local set (pinned tasks), the blocking pool.  Its `schedule` takes over
 * one reference, as weft__sched_ops.schedule does. */
typedef struct weft__task_owner {
    void (*schedule)(struct weft__task_owner *o, weft__task *t, int hint);
} weft__task_owner;

#define WEFT__TASK_HDR ((sizeof(weft__task) + 15u) & ~(size_t)15u)

static inline weft_future *weft__task_future(weft__task *t) {
    return (weft_future *)((char *)t + WEFT__TASK_HDR);
}

/* weft_spawn_at with an owner (NULL: the runtime's scheduler) that will
 * queue the task, first notification included. */
int weft__spawn(weft__rt *rt, weft_future *fut, weft_join_handle *jh, const char *site,
                weft__task_owner *owner);

/* Runs one poll of a task the scheduler took from a queue (with the
 * queue's reference), including cancellation and completion.  Returns
 * whether the future was polled (not for a cancellation or a stale entry). */
bool weft__task_run(weft__task *t);
/* Runtime shutdown: cancels the task, or leaves it to its poller if it is
 * running.  Consumes the owned list's reference (the caller unlinked it). */
void weft__task_shutdown(weft__task *t);
/* Drops one reference. */
void weft__task_unref(weft__task *t);

/* Shuts down every task on `list` (NULL: the runtime's shared list). */
void weft__owned_shutdown(weft__rt *rt, weft__owned *list);
/* Shuts down the tasks of `owner` on the runtime's shared list. */
void weft__owned_shutdown_owner(weft__rt *rt, weft__task_owner *owner);

#endif
