/* weft — sync: coordination between tasks (tokio::sync in C).
 *
 *   oneshot    send once, await once
 *   mpsc       bounded (backpressure) and unbounded, many senders
 *   mutex      fair (FIFO) async lock        rwlock   fair readers/writer lock
 *   semaphore  n permits, FIFO               notify   wake one / wake waiters
 *   watch      latest value + changed()      broadcast  bounded ring, lag
 *   barrier    n tasks meet                  join_set  spawn many, join next
 *   join_all / select over N futures (select's start is weft_random_below)
 *
 * Conventions:
 *  - Every primitive is thread-safe: tasks on any scheduler and plain OS
 *    threads (through the try_ / non-async calls) may use it at once.  A
 *    short spin lock guards each one; no waker runs while it is held.
 *  - Operations that wait are futures with caller-owned state (the
 *    `weft_*_op` structs), made by init macros like weft_sleep.  Their
 *    output is an `int` status: 0, WEFT_ECLOSED, ...  A waiting operation
 *    is an intrusive node inside that state: no allocation per operation.
 *  - Values are fixed-size byte copies; the element size is given when a
 *    channel is made.
 *  - Mutex, RwLock, Semaphore, Notify and Barrier are caller-owned objects
 *    (init / destroy; destroy only once nobody waits).  Channels are
 *    reference counted heap objects: each end is released by its _drop,
 *    the memory goes with the last end.  `alloc` may be NULL: the
 *    allocator of the runtime this thread is in (so a test's leak check
 *    counts it), malloc outside one.
 *  - NULL and out-of-range arguments (guide section 7): calls returning an
 *    int give WEFT_EINVAL (a value pointer may be NULL only for a channel
 *    of 0-byte values; sizes that overflow are WEFT_EINVAL); _drop,
 *    _destroy and _close are no-ops on NULL; queries give the neutral
 *    answer (is_closed true, len / available 0, has_changed false, a
 *    clone of NULL is NULL); every other void call (unlock, release,
 *    notify, subscribe, rx_clone, borrow, the _init of an object or of an
 *    op future) aborts with "weft: <function>: NULL <argument>".
 *
 * Cancel safety (dropping the future before it completed):
 *  - cancel-safe: mpsc recv, mpsc send (the value was either queued in full
 *    or is still yours), oneshot recv (but dropping it drops the receiver),
 *    semaphore acquire, mutex lock, rwlock read / write, notified (a
 *    notify_one it had been handed goes to the next waiter), watch changed,
 *    broadcast recv, join_set join_next (the task stays in the set).
 *  - not cancel-safe: barrier wait (the dropped waiter no longer counts;
 *    others keep waiting for a replacement), join_all (finished outputs
 *    are kept in `outs`, unfinished futures are dropped), select (losers
 *    are dropped; each loser is as safe as its own kind).
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stdatomic.h>

#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------- shared machinery */

/* The spin lock inside each primitive (private; critical sections are a
 * few loads and stores). */
typedef struct weft__spin {
    _Atomic unsigned weft__v;
} weft__spin;

/* A waiting operation: an intrusive node embedded in a pending future's
 * state.  Fields are private. */
typedef struct weft_waiter {
    struct weft_waiter *weft__prev, *weft__next;
    weft_waker weft__waker;
    size_t weft__need; /* permits wanted (semaphore), unused elsewhere */
    int weft__state;   /* idle, queued, granted, closed */
} weft_waiter;

/* A FIFO of waiters (private). */
typedef struct weft__wlist {
    weft_waiter *weft__head, *weft__tail;
} weft__wlist;

/* ---------------------------------------------------------------- semaphore
 *
 * Fair: permits go to waiters in arrival order, a waiter wanting many
 * permits holds back the ones behind it (no barging), as tokio's. */
typedef struct weft_semaphore {
    _Atomic uint64_t weft__state; /* free permits << 2 | WAITERS | CLOSED */
    weft__spin weft__lock;        /* guards the waiters and weft__held */
    weft__wlist weft__waiters;
    size_t weft__held; /* permits set aside for the waiters */
    size_t weft__max;  /* free permits past this are a release bug */
} weft_semaphore;

/* The most permits a semaphore may hold. */
#define WEFT_SEMAPHORE_MAX_PERMITS ((size_t)1 << 32)

/* A semaphore of `permits` permits.  0, or WEFT_EINVAL for a NULL `s` or
 * more than WEFT_SEMAPHORE_MAX_PERMITS. */
WEFT_EXTERN int weft_semaphore_init(weft_semaphore *s, size_t permits);
/* Aborts with a message if a task still waits on it.  NULL: no-op. */
WEFT_EXTERN void weft_semaphore_destroy(weft_semaphore *s);
/* Pending and later acquires fail with WEFT_ECLOSED.  NULL: no-op. */
WEFT_EXTERN void weft_semaphore_close(weft_semaphore *s);
/* True once weft_semaphore_close was called; true for NULL (nothing can
 * be acquired from it). */
WEFT_EXTERN bool weft_semaphore_is_closed(weft_semaphore *s);
/* Permits free now (none are handed out while others wait first); 0 for
 * NULL. */
WEFT_EXTERN size_t weft_semaphore_available(weft_semaphore *s);
/* Adds permits (also: gives back acquired ones), serving waiters first.
 * Aborts with a one-line reason on NULL, or when the free permits would
 * pass WEFT_SEMAPHORE_MAX_PERMITS ("released more than acquired"). */
WEFT_EXTERN void weft_semaphore_release(weft_semaphore *s, size_t n);
#define weft_semaphore_add_permits(s, n) weft_semaphore_release((s), (n))
/* 0, WEFT_EAGAIN (not enough, or others wait first), WEFT_ECLOSED,
 * WEFT_EINVAL (NULL `s`, n above the maximum). */
WEFT_EXTERN int weft_semaphore_try_acquire(weft_semaphore *s, size_t n);

/* Acquire: output int, 0 (the n permits are yours: release them) or
 * WEFT_ECLOSED / WEFT_EINVAL.  Cancel-safe: permits it had been handed
 * before the drop go back to the semaphore.  The init (as every op init
 * below) aborts with a one-line reason when the op or the object is NULL. */
typedef struct weft_acquire_op {
    weft_future base;
    weft_semaphore *sem;
    weft_waiter node;
    size_t n;
} weft_acquire_op;
/* Makes `*op` the acquisition of `n` permits (use the
 * weft_semaphore_acquire(op, s, n) macro). */
WEFT_EXTERN weft_future *weft_semaphore_acquire_init(weft_acquire_op *op, weft_semaphore *s,
                                                     size_t n, const char *site);
#define weft_semaphore_acquire(op, s, n) weft_semaphore_acquire_init((op), (s), (n), WEFT__SITE)

/* ------------------------------------------------------------------- mutex
 *
 * A fair async lock (a semaphore of one permit): unlock hands the lock to
 * the first waiter.  Protects whatever the caller keeps beside it. */
typedef struct weft_mutex {
    weft_semaphore weft__sem;
    /* who holds it, for reports (the simulator's deadlock report): the
     * holding task's id + 1 (1: block_on's future; 0: unknown or free),
     * and the site of the lock that took it */
    uint64_t weft__holder;
    const char *weft__locked_at;
} weft_mutex;

/* An unlocked mutex; aborts on NULL. */
WEFT_EXTERN void weft_mutex_init(weft_mutex *m);
/* Aborts with a message if a task still waits for it; NULL: no-op. */
WEFT_EXTERN void weft_mutex_destroy(weft_mutex *m);
/* 0, WEFT_EBUSY, or WEFT_EINVAL for NULL. */
WEFT_EXTERN int weft_mutex_try_lock(weft_mutex *m);
/* Unlocks, handing the lock to the first waiter if there is one.  Aborts
 * with a one-line reason on NULL or when the mutex is not locked (an unlock
 * too many would let two holders in). */
WEFT_EXTERN void weft_mutex_unlock(weft_mutex *m);
/* Lock: output int 0 (locked: unlock it). */
typedef weft_acquire_op weft_lock_op;
/* Makes `*op` the locking of `m` (use the weft_mutex_lock(op, m) macro);
 * aborts on NULL. */
WEFT_EXTERN weft_future *weft_mutex_lock_init(weft_lock_op *op, weft_mutex *m, const char *site);
#define weft_mutex_lock(op, m) weft_mutex_lock_init((op), (m), WEFT__SITE)

/* ------------------------------------------------------------------ rwlock
 *
 * Fair: a waiting writer holds back readers that arrive after it. */
typedef struct weft_rwlock {
    weft_semaphore weft__sem;
} weft_rwlock;

#define WEFT_RWLOCK_MAX_READERS ((size_t)1 << 30)

/* An unlocked readers/writer lock.  Init aborts on NULL; destroy is a
 * no-op on NULL; try_ return 0, WEFT_EBUSY or WEFT_EINVAL (NULL); the
 * unlocks abort with a one-line reason on NULL or when the lock is not
 * held that way (as a mutex's). */
WEFT_EXTERN void weft_rwlock_init(weft_rwlock *l);
/* Aborts with a message if a task still waits for it. */
WEFT_EXTERN void weft_rwlock_destroy(weft_rwlock *l);
/* 0 (a read lock taken: read_unlock it) or WEFT_EBUSY (a writer holds
 * it or waits). */
WEFT_EXTERN int weft_rwlock_try_read(weft_rwlock *l);
/* 0 (the write lock taken: write_unlock it) or WEFT_EBUSY. */
WEFT_EXTERN int weft_rwlock_try_write(weft_rwlock *l);
/* Gives back a read lock. */
WEFT_EXTERN void weft_rwlock_read_unlock(weft_rwlock *l);
/* Gives back the write lock, handing it on to the waiters in order. */
WEFT_EXTERN void weft_rwlock_write_unlock(weft_rwlock *l);
/* Makes `*op` the taking of a read lock, or of the write lock, of `l`
 * (use the weft_rwlock_read(op, l) and weft_rwlock_write(op, l) macros):
 * output int 0.  A report (a deadlock) names the op as one of these.
 * Abort on NULL. */
WEFT_EXTERN weft_future *weft_rwlock_read_init(weft_acquire_op *op, weft_rwlock *l,
                                               const char *site);
/* The write lock's op: see weft_rwlock_read_init. */
WEFT_EXTERN weft_future *weft_rwlock_write_init(weft_acquire_op *op, weft_rwlock *l,
                                                const char *site);
#define weft_rwlock_read(op, l) weft_rwlock_read_init((op), (l), WEFT__SITE)
#define weft_rwlock_write(op, l) weft_rwlock_write_init((op), (l), WEFT__SITE)

/* ------------------------------------------------------------------ notify
 *
 * notify_one wakes the first waiter, or stores one permit for the next
 * `notified` when nobody waits.  notify_waiters wakes every `notified`
 * made before the call (polled or not) and stores nothing. */
typedef struct weft_notify {
    weft__spin weft__lock;
    weft__wlist weft__waiters;
    uint64_t weft__gen; /* notify_waiters calls so far */
    bool weft__permit;
} weft_notify;

/* A notify with no permit stored and no waiter. */
WEFT_EXTERN void weft_notify_init(weft_notify *n);
/* Aborts with a message if a task still waits on it. */
WEFT_EXTERN void weft_notify_destroy(weft_notify *n);
/* Wakes the first waiter, or stores one permit for the next `notified`. */
WEFT_EXTERN void weft_notify_one(weft_notify *n);
/* Wakes every `notified` made before this call; stores nothing. */
WEFT_EXTERN void weft_notify_waiters(weft_notify *n);

/* Output int 0. */
typedef struct weft_notified_op {
    weft_future base;
    weft_notify *notify;
    weft_waiter node;
    uint64_t gen;
} weft_notified_op;
/* Makes `*op` a wait for a notification (use the weft_notified(op, n)
 * macro). */
WEFT_EXTERN weft_future *weft_notified_init(weft_notified_op *op, weft_notify *n,
                                            const char *site);
#define weft_notified(op, n) weft_notified_init((op), (n), WEFT__SITE)
/* Registers `op` (made by weft_notified, not yet polled) as a waiter now,
 * without polling it (Tokio's Notified::enable): a notify_one from here on
 * is kept for it, so the register-then-check pattern loses nothing:
 *
 *   weft_notified(&s->op, &s->n);
 *   weft_notified_enable(&s->op);        // from here no notify is missed
 *   if (!s->ready)                       // the condition, checked after
 *       WEFT_AWAIT(f, cx, &s->op.base, NULL);
 *   else
 *       weft_future_drop(&s->op.base);   // not "forgot to await": it was used
 *
 * True when a notification has already come (the await is then ready at
 * once).  Dropping an enabled op passes a notify_one it was given to the
 * next waiter, as a polled one does.  Aborts on NULL. */
WEFT_EXTERN bool weft_notified_enable(weft_notified_op *op);

/* ----------------------------------------------------------------- barrier */
typedef struct weft_barrier {
    weft__spin weft__lock;
    weft__wlist weft__waiters;
    size_t weft__n, weft__arrived;
    uint64_t weft__gen;
} weft_barrier;

/* A barrier for `n` tasks (0 counts as 1).  0 or WEFT_EINVAL. */
WEFT_EXTERN int weft_barrier_init(weft_barrier *b, size_t n);
/* Aborts with a message if a task still waits at it. */
WEFT_EXTERN void weft_barrier_destroy(weft_barrier *b);

/* Output int: 1 for the one leader of each generation, 0 for the others. */
typedef struct weft_barrier_op {
    weft_future base;
    weft_barrier *barrier;
    weft_waiter node;
    uint64_t gen;
} weft_barrier_op;
/* Makes `*op` a wait at the barrier (use the weft_barrier_wait(op, b)
 * macro). */
WEFT_EXTERN weft_future *weft_barrier_wait_init(weft_barrier_op *op, weft_barrier *b,
                                                const char *site);
#define weft_barrier_wait(op, b) weft_barrier_wait_init((op), (b), WEFT__SITE)

/* ----------------------------------------------------------------- oneshot */
typedef struct weft_oneshot_tx weft_oneshot_tx;
typedef struct weft_oneshot_rx weft_oneshot_rx;

/* A channel for one value of `elem_size` bytes: the caller gets its
 * sender `*tx` and receiver `*rx`.  0, WEFT_EINVAL or WEFT_ENOMEM. */
WEFT_EXTERN int weft_oneshot_new(size_t elem_size, const weft_allocator *alloc,
                                 weft_oneshot_tx **tx, weft_oneshot_rx **rx);
/* Sends and releases the sender.  WEFT_ECLOSED when the receiver is gone
 * (the value stays with the caller). */
WEFT_EXTERN int weft_oneshot_send(weft_oneshot_tx *tx, const void *value);
/* Releases the sender without sending: the receiver gets WEFT_ECLOSED. */
WEFT_EXTERN void weft_oneshot_tx_drop(weft_oneshot_tx *tx);
/* True once the receiver is gone. */
WEFT_EXTERN bool weft_oneshot_tx_is_closed(weft_oneshot_tx *tx);
/* 0 (value in *dst), WEFT_EAGAIN, WEFT_ECLOSED.  Does not consume rx. */
WEFT_EXTERN int weft_oneshot_try_recv(weft_oneshot_rx *rx, void *dst);
/* Releases the receiver: a later send says WEFT_ECLOSED. */
WEFT_EXTERN void weft_oneshot_rx_drop(weft_oneshot_rx *rx);

/* Receive: takes over `rx` (the op releases it when done or dropped).
 * Output int: 0 (value in *dst) or WEFT_ECLOSED. */
typedef struct weft_oneshot_recv_op {
    weft_future base;
    weft_oneshot_rx *rx;
    void *dst;
} weft_oneshot_recv_op;
/* Makes `*op` the receive, which takes over `rx` (use the
 * weft_oneshot_recv(op, rx, dst) macro). */
WEFT_EXTERN weft_future *weft_oneshot_recv_init(weft_oneshot_recv_op *op, weft_oneshot_rx *rx,
                                                void *dst, const char *site);
#define weft_oneshot_recv(op, rx, dst) weft_oneshot_recv_init((op), (rx), (dst), WEFT__SITE)

/* -------------------------------------------------------------------- mpsc */
typedef struct weft_mpsc_tx weft_mpsc_tx;
typedef struct weft_mpsc_rx weft_mpsc_rx;

/* capacity >= 1: a send waits while `capacity` values are queued.  The
 * receiver takes up to min(capacity, 32) values out at once (and then reads
 * them lock-free); their slots go back to the senders at once, so that many
 * more values may be in flight towards the receiving task.  The receiver is
 * used by one task (or thread) at a time. */
WEFT_EXTERN int weft_mpsc_bounded(size_t elem_size, size_t capacity, const weft_allocator *alloc,
                                  weft_mpsc_tx **tx, weft_mpsc_rx **rx);
/* As weft_mpsc_bounded with no capacity limit: sends never wait (the
 * queue grows). */
WEFT_EXTERN int weft_mpsc_unbounded(size_t elem_size, const weft_allocator *alloc,
                                    weft_mpsc_tx **tx, weft_mpsc_rx **rx);
/* Another sender on the same channel (release each with _tx_drop). */
WEFT_EXTERN weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx);
/* The last sender gone: the receiver drains what is queued, then gets
 * WEFT_ECLOSED. */
WEFT_EXTERN void weft_mpsc_tx_drop(weft_mpsc_tx *tx);
/* 0, WEFT_EFULL (bounded, full or senders waiting first), WEFT_ECLOSED
 * (receiver closed or gone: the value stays with the caller), WEFT_ENOMEM
 * (unbounded growth failed). */
WEFT_EXTERN int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value);
/* True once the receiver was closed or dropped. */
WEFT_EXTERN bool weft_mpsc_is_closed(weft_mpsc_tx *tx);
/* Stops new sends; queued values can still be received. */
WEFT_EXTERN void weft_mpsc_rx_close(weft_mpsc_rx *rx);
/* Closes and releases; queued values are discarded. */
WEFT_EXTERN void weft_mpsc_rx_drop(weft_mpsc_rx *rx);
/* 0 (value in *dst), WEFT_EAGAIN (empty), WEFT_ECLOSED (empty, no
 * sender left or closed). */
WEFT_EXTERN int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *dst);
/* Values sent and not yet received. */
WEFT_EXTERN size_t weft_mpsc_len(weft_mpsc_rx *rx);

/* Send: waits for capacity (bounded).  `value` must stay valid until the
 * op completes or is dropped (keep it in your state struct); it is copied
 * when the value is queued.  Output int: 0, WEFT_ECLOSED (the value was
 * not sent), WEFT_ENOMEM. */
typedef struct weft_mpsc_send_op {
    weft_future base;
    weft_mpsc_tx *tx;
    const void *value;
    weft_waiter node;
} weft_mpsc_send_op;
/* Makes `*op` the send of `*value` (use the weft_mpsc_send(op, tx, v)
 * macro). */
WEFT_EXTERN weft_future *weft_mpsc_send_init(weft_mpsc_send_op *op, weft_mpsc_tx *tx,
                                             const void *value, const char *site);
#define weft_mpsc_send(op, tx, v) weft_mpsc_send_init((op), (tx), (v), WEFT__SITE)

/* Receive: output int 0 (value in *dst) or WEFT_ECLOSED. */
typedef struct weft_mpsc_recv_op {
    weft_future base;
    weft_mpsc_rx *rx;
    void *dst;
} weft_mpsc_recv_op;
/* Makes `*op` the receive of one value into `*dst` (use the
 * weft_mpsc_recv(op, rx, dst) macro). */
WEFT_EXTERN weft_future *weft_mpsc_recv_init(weft_mpsc_recv_op *op, weft_mpsc_rx *rx, void *dst,
                                             const char *site);
#define weft_mpsc_recv(op, rx, dst) weft_mpsc_recv_init((op), (rx), (dst), WEFT__SITE)

/* ------------------------------------------------------------------- watch
 *
 * One sender holds the latest value; each receiver remembers the version
 * it saw last. */
typedef struct weft_watch weft_watch;
typedef struct weft_watch_rx {
    weft_watch *chan;
    uint64_t seen; /* version last seen */
} weft_watch_rx;

/* Makes the channel holding `initial`; the caller owns its sender. */
WEFT_EXTERN int weft_watch_new(size_t elem_size, const void *initial,
                               const weft_allocator *alloc, weft_watch **tx);
/* Stores a new value and wakes every `changed`.  WEFT_ECLOSED (value not
 * stored) when no receiver is left. */
WEFT_EXTERN int weft_watch_send(weft_watch *tx, const void *value);
/* Releases the sender: pending and later `changed` get WEFT_ECLOSED. */
WEFT_EXTERN void weft_watch_tx_drop(weft_watch *tx);
/* A receiver that has seen the current value. */
WEFT_EXTERN void weft_watch_subscribe(weft_watch *tx, weft_watch_rx *rx);
/* `*copy` becomes a receiver that has seen what `*rx` has seen. */
WEFT_EXTERN void weft_watch_rx_clone(const weft_watch_rx *rx, weft_watch_rx *copy);
/* Releases the receiver. */
WEFT_EXTERN void weft_watch_rx_drop(weft_watch_rx *rx);
/* Copies the latest value and marks it seen. */
WEFT_EXTERN void weft_watch_borrow(weft_watch_rx *rx, void *dst);
/* True when a value newer than the one last seen was sent. */
WEFT_EXTERN bool weft_watch_has_changed(const weft_watch_rx *rx);

/* Waits for a value the receiver has not seen.  Output int 0 or
 * WEFT_ECLOSED (sender gone). */
typedef struct weft_watch_changed_op {
    weft_future base;
    weft_watch_rx *rx;
    weft_waiter node;
} weft_watch_changed_op;
/* Makes `*op` a wait for an unseen value (use the
 * weft_watch_changed(op, rx) macro). */
WEFT_EXTERN weft_future *weft_watch_changed_init(weft_watch_changed_op *op, weft_watch_rx *rx,
                                                 const char *site);
#define weft_watch_changed(op, rx) weft_watch_changed_init((op), (rx), WEFT__SITE)

/* --------------------------------------------------------------- broadcast
 *
 * Every receiver sees every value sent after it subscribed, unless it falls
 * more than `capacity` values behind: then its next recv says WEFT_ELAGGED
 * with the count it missed, and it continues at the oldest value kept. */
typedef struct weft_broadcast weft_broadcast;
typedef struct weft_broadcast_rx {
    weft_broadcast *chan;
    uint64_t next; /* position of the next value to receive */
} weft_broadcast_rx;

/* The caller holds one sender and one receiver. */
WEFT_EXTERN int weft_broadcast_new(size_t elem_size, size_t capacity, const weft_allocator *alloc,
                                   weft_broadcast **tx, weft_broadcast_rx *rx);
/* Another sender on the same channel (release each with _tx_drop). */
WEFT_EXTERN weft_broadcast *weft_broadcast_tx_clone(weft_broadcast *tx);
/* Releases a sender; with the last one gone, receivers get WEFT_ECLOSED
 * once they have received what was sent. */
WEFT_EXTERN void weft_broadcast_tx_drop(weft_broadcast *tx);
/* Sends to every receiver: 0 or WEFT_ECLOSED when none is left. */
WEFT_EXTERN int weft_broadcast_send(weft_broadcast *tx, const void *value);
/* A receiver that sees the values sent from now on. */
WEFT_EXTERN void weft_broadcast_subscribe(weft_broadcast *tx, weft_broadcast_rx *rx);
/* Releases the receiver (the values it had not received are not kept
 * for it). */
WEFT_EXTERN void weft_broadcast_rx_drop(weft_broadcast_rx *rx);
/* 0, WEFT_EAGAIN, WEFT_ECLOSED, WEFT_ELAGGED (*missed set). */
WEFT_EXTERN int weft_broadcast_try_recv(weft_broadcast_rx *rx, void *dst, uint64_t *missed);

/* Output int: 0 (value in *dst), WEFT_ELAGGED (`missed` says how many;
 * receive again), WEFT_ECLOSED (no sender left, all received). */
typedef struct weft_broadcast_recv_op {
    weft_future base;
    weft_broadcast_rx *rx;
    void *dst;
    uint64_t missed;
    weft_waiter node;
} weft_broadcast_recv_op;
/* Makes `*op` the receive of one value into `*dst` (use the
 * weft_broadcast_recv(op, rx, dst) macro). */
WEFT_EXTERN weft_future *weft_broadcast_recv_init(weft_broadcast_recv_op *op,
                                                  weft_broadcast_rx *rx, void *dst,
                                                  const char *site);
#define weft_broadcast_recv(op, rx, dst) weft_broadcast_recv_init((op), (rx), (dst), WEFT__SITE)

/* ---------------------------------------------------------------- join_set
 *
 * Tasks spawned into a set; join_next yields them as they finish.
 * weft_join_set_destroy aborts what is left (tokio's drop). */
typedef struct weft__join_entry weft__join_entry;
typedef struct weft_join_set {
    weft__join_entry *weft__head; /* tasks not yet joined */
    size_t weft__len;
    weft_allocator weft__alloc;
    weft_handle *weft__handle; /* NULL: the runtime of the calling thread */
} weft_join_set;

/* An empty set spawning on the runtime of `h` (NULL: the calling
 * thread's) and allocating its entries from `alloc` (NULL: that runtime's
 * allocator, malloc outside one). */
WEFT_EXTERN void weft_join_set_init(weft_join_set *s, weft_handle *h, const weft_allocator *alloc);
/* Spawns `fut` into the set; returns as weft_spawn.  `*id` (may be NULL)
 * gets the task id. */
WEFT_EXTERN int weft_join_set_spawn_at(weft_join_set *s, weft_future *fut, uint64_t *id,
                                       const char *site);
#define weft_join_set_spawn(s, fut, id)                                         \
    weft_join_set_spawn_at((s), (weft_future *)(fut), (id), WEFT__SITE)
/* Tasks in the set, finished or not, not yet joined. */
WEFT_EXTERN size_t weft_join_set_len(const weft_join_set *s);
/* Requests the cancellation of every task in the set; they stay in it
 * until joined (each joins as WEFT_ECANCELED). */
WEFT_EXTERN void weft_join_set_abort_all(weft_join_set *s);
/* Aborts every task left and frees the set's entries. */
WEFT_EXTERN void weft_join_set_destroy(weft_join_set *s);

/* Waits for any task of the set.  Output int: 0 (a task joined: its output
 * is in *dst, which must hold the largest output of the set; `status` and
 * `id` tell which and how it ended) or WEFT_ECLOSED (the set is empty). */
typedef struct weft_join_next_op {
    weft_future base;
    weft_join_set *set;
    void *dst;
    int status; /* the joined task's: 0, WEFT_ECANCELED, failure code */
    uint64_t id;
} weft_join_next_op;
/* Makes `*op` a wait for the next task of the set to finish (use the
 * weft_join_next(op, s, dst) macro). */
WEFT_EXTERN weft_future *weft_join_next_init(weft_join_next_op *op, weft_join_set *s, void *dst,
                                             const char *site);
#define weft_join_next(op, s, dst) weft_join_next_init((op), (s), (dst), WEFT__SITE)

/* ------------------------------------------------------------- combinators
 *
 * Both own the `n` futures from init on (they drop them).  `outs[i]` (or
 * outs itself, or an entry, may be NULL) receives future i's output. */

/* Completes when all have completed.  Output: none. */
typedef struct weft_join_all {
    weft_future base;
    weft_future **futs;
    void **outs;
    size_t n, left;
} weft_join_all;
/* Makes `*j` a future over `futs[0..n)` (use the weft_join_all macro). */
WEFT_EXTERN weft_future *weft_join_all_init(weft_join_all *j, weft_future **futs, void **outs,
                                            size_t n, const char *site);
#define weft_join_all(j, futs, outs, n) weft_join_all_init((j), (futs), (outs), (n), WEFT__SITE)

/* Completes with the first future to be ready; the others are dropped.
 * Each poll starts at a position drawn from weft_random_below (seeded
 * under the simulator) so no branch starves.  Output: size_t, the index
 * of the winner. */
typedef struct weft_select {
    weft_future base;
    weft_future **futs;
    void **outs;
    size_t n;
} weft_select;
/* Makes `*s` a future over `futs[0..n)` (use the weft_select macro). */
WEFT_EXTERN weft_future *weft_select_init(weft_select *s, weft_future **futs, void **outs,
                                          size_t n, const char *site);
#define weft_select(s, futs, outs, n) weft_select_init((s), (futs), (outs), (n), WEFT__SITE)

#ifdef __cplusplus
}
#endif
#endif
