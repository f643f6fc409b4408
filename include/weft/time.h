/* weft — time: instants, sleep, timeout, interval, and the test clock.
 *
 * Deadlines are absolute instants on the runtime's clock (nanoseconds since
 * the runtime started).  Timers live in one hierarchical wheel per runtime
 * (6 levels of 64 slots, O(1) insert and cancel); a deadline is rounded up
 * to the wheel's next tick, so a timer never fires early.  A tick is 1 us
 * on the OS clock and 1 ms on virtual time (the simulator, a runtime built
 * with `start_paused`); pausing a running clock keeps its tick.  Timers
 * with equal deadlines fire in the order they were armed.
 *
 * The clock is the OS monotonic clock, or a manual clock when the runtime
 * is built with `start_paused` (or paused later): it only moves when told
 * to, or, when every task is idle, jumps straight to the next timer.
 *
 * Clock arithmetic saturates at UINT64_MAX ns: a deadline past the clock's
 * end is reached only there, so a timer never fires early and the clock
 * never goes backwards.  The _init of a sleep, timeout or interval tick,
 * weft_sleep_reset, weft_interval_reset and weft_interval_set_missed_tick
 * abort with a one-line reason on NULL (or an unknown missed-tick mode);
 * weft_interval_drop(NULL) is a no-op.
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t weft_instant; /* ns on the runtime's clock */
typedef int64_t weft_duration; /* ns */

#define WEFT_NS(n) ((weft_duration)(n))
#define WEFT_US(n) ((weft_duration)(n) * 1000)
#define WEFT_MS(n) ((weft_duration)(n) * 1000000)
#define WEFT_SECS(n) ((weft_duration)(n) * 1000000000)

/* Now on the current runtime's clock; the OS monotonic clock (ns) on a
 * thread outside any runtime. */
WEFT_EXTERN weft_instant weft_now(void);

/* A node of the timer wheel, embedded in the futures that wait on time.
 * Fields are private. */
typedef struct weft_timer_entry {
    struct weft_timer_entry *weft__prev, *weft__next;
    uint64_t weft__deadline_ms; /* wheel ticks since runtime start (ms only on virtual time) */
    uint64_t weft__seq;         /* arming order, breaks deadline ties */
    weft_waker weft__waker;
    uint8_t weft__level, weft__slot;
    uint8_t weft__state; /* idle, armed, fired */
} weft_timer_entry;

/* Sleep until a deadline.  Output: none.  Dropping it disarms the timer. */
typedef struct weft_sleep {
    weft_future base;
    weft_timer_entry entry;
    weft_instant deadline;
    weft_duration duration;    /* used when made outside a runtime */
    struct weft__time *driver; /* set at first poll */
    bool has_deadline;
    bool weft__from_reading;   /* private: deadline = a clock reading + duration */
} weft_sleep;

/* Makes `*s` a sleep of `d` from its first poll (from now, when made
 * inside a runtime).  Use the weft_sleep(s, d) macro. */
WEFT_EXTERN weft_future *weft_sleep_init(weft_sleep *s, weft_duration d, const char *site);
/* Makes `*s` a sleep until the instant `deadline` of the runtime's clock.
 * Use the weft_sleep_until(s, t) macro. */
WEFT_EXTERN weft_future *weft_sleep_until_init(weft_sleep *s, weft_instant deadline,
                                               const char *site);
#define weft_sleep(s, d) weft_sleep_init((s), (d), WEFT__SITE)
#define weft_sleep_until(s, t) weft_sleep_until_init((s), (t), WEFT__SITE)
/* Moves the deadline of a sleep (armed or not) that has not completed. */
WEFT_EXTERN void weft_sleep_reset(weft_sleep *s, weft_instant deadline);
/* True once the sleep's deadline has fired. */
WEFT_EXTERN bool weft_sleep_is_elapsed(const weft_sleep *s);

/* Wraps any future with a deadline.  Output: the inner future's output
 * (written only when it finished in time).  `weft_timeout_status` then says
 * 0 or WEFT_ETIMEDOUT and `weft_timeout_elapsed` how long it ran.  The
 * timeout owns `inner` from init on: it drops it when done or dropped. */
typedef struct weft_timeout {
    weft_future base;
    weft_future *inner;
    weft_sleep sleep;
    weft_instant started;
    weft_duration elapsed;
    int status;
} weft_timeout;

/* Makes `*t` a timeout of `d` around `inner`, which it owns from now on.
 * Use the weft_timeout(t, d, inner) macro. */
WEFT_EXTERN weft_future *weft_timeout_init(weft_timeout *t, weft_duration d,
                                           weft_future *inner, const char *site);
#define weft_timeout(t, d, inner) weft_timeout_init((t), (d), (inner), WEFT__SITE)
/* Once the timeout completed: 0 (the inner future finished in time) or
 * WEFT_ETIMEDOUT. */
static inline int weft_timeout_status(const weft_timeout *t) { return t->status; }
/* Once the timeout completed: how long it ran, from when it was made (from
 * its first poll when it was made outside a runtime). */
static inline weft_duration weft_timeout_elapsed(const weft_timeout *t) { return t->elapsed; }

/* What an interval does when ticks were missed: a tick completed so late
 * that the next one is already due (a tick late by less than a period keeps
 * the schedule; Tokio instead applies this rule from 5 ms late). */
typedef enum weft_missed_tick {
    WEFT_MISSED_BURST = 0, /* fire the missed ticks back to back (default) */
    WEFT_MISSED_DELAY = 1, /* next tick one period after the late one */
    WEFT_MISSED_SKIP = 2,  /* next tick on the next multiple of the period */
} weft_missed_tick;

/* Ticks every `period`, the first at `start`.  Not a future itself: each
 * `weft_interval_tick` is a reusable future whose output is the scheduled
 * instant of the tick (a weft_instant).  Free with weft_interval_drop. */
typedef struct weft_interval {
    weft_future tick;
    weft_sleep sleep;
    weft_instant next;
    weft_duration period;
    weft_missed_tick missed;
    bool started;
} weft_interval;

/* period > 0.  The first tick completes at once (as tokio's interval). */
WEFT_EXTERN int weft_interval_init(weft_interval *iv, weft_duration period);
/* As weft_interval_init, the first tick at `start` instead of now. */
WEFT_EXTERN int weft_interval_init_at(weft_interval *iv, weft_instant start,
                                      weft_duration period);
/* Chooses what happens to missed ticks (WEFT_MISSED_BURST by default). */
WEFT_EXTERN void weft_interval_set_missed_tick(weft_interval *iv, weft_missed_tick m);
/* The future of the next tick (the same one each time: await it again
 * for the tick after).  Its output is the tick's scheduled instant. */
WEFT_EXTERN weft_future *weft_interval_tick(weft_interval *iv);
/* Restarts so that the next tick is one period from now. */
WEFT_EXTERN void weft_interval_reset(weft_interval *iv);
/* Disarms the interval's timer; the interval may be freed after. */
WEFT_EXTERN void weft_interval_drop(weft_interval *iv);

/* ---- the test clock (tokio's test-util): on the current runtime ---- */

/* Freezes the clock.  WEFT_ENORUNTIME outside a runtime, WEFT_ENOTSUP on a
 * runtime without time. */
WEFT_EXTERN int weft_time_pause(void);
/* Lets the clock follow the OS clock again.  WEFT_ENOTSUP under the
 * simulator, whose time is always virtual. */
WEFT_EXTERN int weft_time_resume(void);
/* Moves a paused clock forward by `d` and fires the timers now due, in
 * deadline order.  WEFT_EINVAL when the clock is not paused or d < 0;
 * WEFT_ERANGE when `d` would take it past its last instant (it stops
 * there, having fired what is due). */
WEFT_EXTERN int weft_time_advance(weft_duration d);
/* Whether the current runtime's clock is paused. */
WEFT_EXTERN bool weft_time_is_paused(void);

#ifdef __cplusplus
}
#endif
#endif
