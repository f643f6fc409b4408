/* weft — the time driver (clock + wheel) and the futures built on it:
 * sleep, timeout, interval; and the test clock (pause / advance).
 *
 * One driver per runtime.  Its mutex guards the wheel and the clock state;
 * wakers of fired timers are moved out under the lock and woken after it,
 * at most 32 at a time, so no waker runs with the lock held.
 */
#include "timer_wheel.h"
#include "rt.h"

#define NS_PER_MS 1000000u
#define NS_PER_US 1000u
#define WAKE_BATCH 32
#define NO_OFFSET INT64_MIN

typedef struct weft__time {
    weft__rt *rt;
    weft__spin lock; /* sections are a few loads and stores: the wheel is O(1) */
    weft__mutex fire_lock; /* one thread fires at a time, so that the wakes
                            * of equal deadlines keep their arming order
                            * across the 32-waker batches */
    weft__wheel wheel;
    bool fine;          /* ticks of 1 us (the OS clock), else of 1 ms (virtual time) */
    uint64_t origin_ns; /* OS clock when the runtime started */
    int64_t offset_ns;  /* added to the OS clock's reading after a resume */
    _Atomic int64_t running_offset; /* offset_ns while the clock runs and has no
                                     * view, else NO_OFFSET: read without the lock */
    uint64_t paused_ns; /* the clock's reading while paused */
    bool paused;
    weft__clock_view view; /* what the running code reads (a simulated host's clock) */
} weft__time;

/* ----------------------------------------------------------------- clock */

static uint64_t clock_now_locked(const weft__time *d) {
    if (d->paused)
        return d->paused_ns;
    return (uint64_t)((int64_t)(weft__os_now_ns() - d->origin_ns) + d->offset_ns);
}

/* Republishes the lock-free reading's offset after the clock state
 * changed (with the lock held). */
static void publish_offset(weft__time *d) {
    int64_t off = d->paused || d->view.to_local ? NO_OFFSET : d->offset_ns;
    atomic_store_explicit(&d->running_offset, off, memory_order_release);
}

static uint64_t clock_now(weft__time *d) {
    weft__spin_lock(&d->lock);
    uint64_t now = clock_now_locked(d);
    weft__spin_unlock(&d->lock);
    return now;
}

/* The running code's clock (the runtime's own unless a view is set):
 * instants a task sees and gives (weft_now, sleep deadlines) are on it;
 * the wheel holds the runtime's. */
static inline uint64_t to_local(const weft__time *d, uint64_t ns) {
    return d->view.to_local ? d->view.to_local(d->view.ctx, ns) : ns;
}
static inline uint64_t to_global(const weft__time *d, uint64_t local) {
    return d->view.to_global ? d->view.to_global(d->view.ctx, local) : local;
}
static uint64_t local_now(weft__time *d) { return to_local(d, clock_now(d)); }

/* A reading for a deadline, without the lock while the OS clock runs.  It
 * is the clock at some instant of the call; only a pause racing it on
 * another thread may leave it a few nanoseconds past the paused reading,
 * which makes a deadline later, never earlier.  (weft_now keeps the lock:
 * it must never go backwards.) */
static uint64_t deadline_base(weft__time *d) {
    int64_t off = atomic_load_explicit(&d->running_offset, memory_order_acquire);
    if (off == NO_OFFSET)
        return local_now(d);
    return (uint64_t)((int64_t)(weft__os_now_ns() - d->origin_ns) + off);
}

void weft__time_set_view(weft__rt *rt, const weft__clock_view *v) {
    weft__time *d = rt->time;
    if (!d)
        return;
    weft__spin_lock(&d->lock);
    d->view = v ? *v : (weft__clock_view){0};
    publish_offset(d);
    weft__spin_unlock(&d->lock);
}

/* The wheel counts ticks of the clock: 1 ms on virtual time (the
 * simulator, a runtime built paused), where a coarse tick groups the
 * timers of one millisecond into one jump of the clock; 1 us on the OS
 * clock, so that a timer fires within a microsecond of its deadline
 * rather than up to a millisecond after it.  The tick is fixed when the
 * runtime is built (pausing a running clock keeps it).  The constant
 * divisors keep the conversions a multiply. */
static inline uint64_t tick_floor(const weft__time *d, uint64_t ns) {
    return d->fine ? ns / NS_PER_US : ns / NS_PER_MS;
}
/* The first tick at or after `ns`: a timer is filed there, never earlier. */
static inline uint64_t tick_ceil(const weft__time *d, uint64_t ns) {
    return d->fine ? ns / NS_PER_US + (ns % NS_PER_US != 0)
                   : ns / NS_PER_MS + (ns % NS_PER_MS != 0);
}

/* Clock arithmetic saturates at the clock's last instant instead of
 * wrapping, so the clock never goes backwards and a far deadline never
 * turns into a near one (a timer never fires early): a tick of the wheel
 * past UINT64_MAX ns is reached only when the clock saturates there. */
static inline uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static inline uint64_t tick_to_ns(const weft__time *d, uint64_t tick) {
    uint64_t per = d->fine ? NS_PER_US : NS_PER_MS;
    return tick > UINT64_MAX / per ? UINT64_MAX : tick * per;
}

weft_instant weft_now(void) {
    weft__rt *rt = weft__cur.rt;
    if (rt && rt->time)
        return local_now(rt->time);
    return weft__os_now_ns();
}

static weft__time *driver_of(weft_context *cx) {
    weft__rt *rt = cx ? cx->weft__rt : weft__cur.rt;
    if (!rt)
        weft__die("a timer was polled outside of a weft runtime");
    if (!rt->time)
        weft__die("timers are disabled on this runtime: set enable_time in its builder");
    return rt->time;
}

/* ---------------------------------------------------------------- driver */

int weft__time_create(weft__rt *rt, bool start_paused) {
    weft__time *d = weft__alloc(rt, sizeof *d);
    if (!d)
        return WEFT_ENOMEM;
    d->rt = rt;
    weft__spin_init(&d->lock);
    weft__mutex_init(&d->fire_lock);
    weft__wheel_init(&d->wheel);
    d->fine = !start_paused;
    d->origin_ns = weft__os_now_ns();
    d->offset_ns = 0;
    d->paused_ns = 0;
    d->paused = start_paused;
    d->view = (weft__clock_view){0};
    publish_offset(d);
    rt->time = d;
    return 0;
}

void weft__time_destroy(weft__rt *rt) {
    weft__time *d = rt->time;
    if (!d)
        return;
    weft__mutex_destroy(&d->fire_lock);
    rt->time = NULL;
    weft__free(rt, d, sizeof *d);
}

static size_t fire_due(weft__time *d, uint64_t now_tick) {
    weft_waker batch[WAKE_BATCH];
    size_t fired = 0;
    bool more = true;
    weft__mutex_lock(&d->fire_lock);
    while (more) {
        size_t n = 0;
        weft__spin_lock(&d->lock);
        weft_timer_entry *e;
        while (n < WAKE_BATCH && (e = weft__wheel_poll(&d->wheel, now_tick))) {
            batch[n++] = e->weft__waker;
            e->weft__waker = (weft_waker){0};
        }
        more = n == WAKE_BATCH;
        weft__spin_unlock(&d->lock);
        for (size_t i = 0; i < n; i++)
            weft_waker_wake(&batch[i]);
        fired += n;
    }
    weft__mutex_unlock(&d->fire_lock);
    return fired;
}

size_t weft__time_process(weft__rt *rt) {
    weft__time *d = rt->time;
    if (!d)
        return 0;
    /* The schedulers call this between batches of polls: with no timer
     * armed, skip the lock and the clock read.  A timer armed concurrently
     * is seen next time (its arming already unparked whoever must see it). */
    if (__atomic_load_n(&d->wheel.count, __ATOMIC_RELAXED) == 0)
        return 0;
    weft__spin_lock(&d->lock);
    uint64_t now = clock_now_locked(d);
    weft__spin_unlock(&d->lock);
    return fire_due(d, tick_floor(d, now));
}

uint64_t weft__time_park_deadline(weft__rt *rt) {
    weft__time *d = rt->time;
    weft__spin_lock(&d->lock);
    uint64_t next = weft__wheel_next_expiration(&d->wheel);
    bool paused = d->paused;
    int64_t offset = d->offset_ns;
    weft__spin_unlock(&d->lock);
    if (next == UINT64_MAX)
        return UINT64_MAX;
    if (paused)
        return 0;
    uint64_t at = tick_to_ns(d, next);
    if (at > (uint64_t)INT64_MAX / 2) /* centuries away: park without a deadline */
        return UINT64_MAX;
    int64_t os = (int64_t)at - offset + (int64_t)d->origin_ns;
    return os < 0 ? 0 : (uint64_t)os;
}

/* The wheel's next expiration may be a cascade (a 100 ms timer sits in a
 * 64 ms slot of level 1) rather than a firing: the clock keeps jumping
 * until a timer actually fires, so nobody ever sees it stop at 64 ms. */
bool weft__time_auto_advance(weft__rt *rt) {
    weft__time *d = rt->time;
    for (;;) {
        weft__spin_lock(&d->lock);
        uint64_t next = weft__wheel_next_expiration(&d->wheel);
        if (next == UINT64_MAX || !d->paused) {
            weft__spin_unlock(&d->lock);
            return false;
        }
        if (tick_to_ns(d, next) > d->paused_ns)
            d->paused_ns = tick_to_ns(d, next);
        weft__spin_unlock(&d->lock);
        if (fire_due(d, next))
            return true;
    }
}

uint64_t weft__time_count(weft__rt *rt) {
    weft__time *d = rt->time;
    if (!d)
        return 0;
    weft__spin_lock(&d->lock);
    uint64_t n = d->wheel.count;
    weft__spin_unlock(&d->lock);
    return n;
}

uint64_t weft__time_now(weft__rt *rt) { return rt->time ? clock_now(rt->time) : 0; }

/* -------------------------------------------------------------- test clock */

static int current_driver(weft__time **out) {
    weft__rt *rt = weft__cur.rt;
    if (!rt)
        return WEFT_ENORUNTIME;
    if (!rt->time)
        return WEFT_ENOTSUP;
    *out = rt->time;
    return 0;
}

int weft_time_pause(void) {
    weft__time *d;
    int err = current_driver(&d);
    if (err)
        return err;
    weft__spin_lock(&d->lock);
    if (!d->paused) {
        d->paused_ns = clock_now_locked(d);
        d->paused = true;
        publish_offset(d);
    }
    weft__spin_unlock(&d->lock);
    return 0;
}

int weft_time_resume(void) {
    weft__time *d;
    int err = current_driver(&d);
    if (err)
        return err;
    if (d->rt->config.flavor == WEFT_SIM)
        return WEFT_ENOTSUP; /* virtual time never follows the OS clock */
    weft__spin_lock(&d->lock);
    if (d->paused) {
        d->offset_ns = (int64_t)d->paused_ns - (int64_t)(weft__os_now_ns() - d->origin_ns);
        d->paused = false;
        publish_offset(d);
    }
    weft__spin_unlock(&d->lock);
    return 0;
}

bool weft_time_is_paused(void) {
    weft__time *d;
    if (current_driver(&d))
        return false;
    weft__spin_lock(&d->lock);
    bool p = d->paused;
    weft__spin_unlock(&d->lock);
    return p;
}

int weft_time_advance(weft_duration by) {
    weft__time *d;
    int err = current_driver(&d);
    if (err)
        return err;
    if (by < 0)
        return WEFT_EINVAL;
    weft__spin_lock(&d->lock);
    if (!d->paused) {
        weft__spin_unlock(&d->lock);
        return WEFT_EINVAL;
    }
    bool clipped = d->paused_ns > UINT64_MAX - (uint64_t)by;
    d->paused_ns = sat_add(d->paused_ns, (uint64_t)by);
    uint64_t now_tick = tick_floor(d, d->paused_ns);
    weft__spin_unlock(&d->lock);
    fire_due(d, now_tick);
    return clipped ? WEFT_ERANGE : 0;
}

/* ----------------------------------------------------------------- sleep */

static weft_poll sleep_poll(weft_future *f, weft_context *cx, void *out);
static void sleep_drop(weft_future *f);
static const weft_future_vtable sleep_vt = {sleep_poll, sleep_drop, sizeof(weft_sleep), 0,
                                            "weft_sleep", 0};

static void sleep_setup(weft_sleep *s, const char *site, const char *fn) {
    WEFT__NEED(s, fn, "sleep");
    weft_future_init(&s->base, &sleep_vt, site);
    s->entry = (weft_timer_entry){0};
    s->driver = NULL;
    s->has_deadline = false;
    s->weft__from_reading = false;
    s->deadline = 0;
    s->duration = 0;
}

weft_future *weft_sleep_init(weft_sleep *s, weft_duration dur, const char *site) {
    sleep_setup(s, site, "weft_sleep");
    s->duration = dur < 0 ? 0 : dur;
    weft__rt *rt = weft__cur.rt;
    if (rt && rt->time) {
        s->deadline = sat_add(deadline_base(rt->time), (uint64_t)s->duration);
        s->has_deadline = true;
        s->weft__from_reading = true;
    }
    return &s->base;
}

weft_future *weft_sleep_until_init(weft_sleep *s, weft_instant deadline, const char *site) {
    sleep_setup(s, site, "weft_sleep_until");
    s->deadline = deadline;
    s->has_deadline = true;
    return &s->base;
}

static weft_poll sleep_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    weft_sleep *s = (weft_sleep *)f;
    if (!s->driver)
        s->driver = driver_of(cx);
    weft__time *d = s->driver;
    weft_timer_entry *e = &s->entry;
    weft_waker old = {0};
    weft__spin_lock(&d->lock);
    if (e->weft__state == WEFT__TIMER_FIRED) {
        weft__spin_unlock(&d->lock);
        return WEFT_READY;
    }
    if (e->weft__state == WEFT__TIMER_ARMED) {
        if (!weft_waker_will_wake(&e->weft__waker, cx->weft__waker)) {
            old = e->weft__waker;
            e->weft__waker = weft_waker_clone(cx->weft__waker);
        }
        weft__spin_unlock(&d->lock);
        weft_waker_drop(&old);
        return WEFT_PENDING;
    }
    /* Due already?  A paused clock is read: it costs nothing, and virtual
     * time must be exact.  The OS clock is not read again for a sleep made
     * in the runtime, which read it when made: that reading tells a due
     * deadline, and one that fell due since is filed at a tick the clock
     * has passed, fired at the next look at the wheel. */
    uint64_t now = s->weft__from_reading && !d->paused
                       ? s->deadline - (uint64_t)s->duration /* saturated: still a past reading */
                       : to_local(d, clock_now_locked(d));
    if (!s->has_deadline) {
        s->deadline = sat_add(now, (uint64_t)s->duration);
        s->has_deadline = true;
    }
    /* On the wheel at the first tick at which the running code's clock
     * has reached the deadline: never early by that clock. */
    uint64_t at = tick_ceil(d, to_global(d, s->deadline));
    if (s->deadline <= now || !weft__wheel_insert(&d->wheel, e, at)) {
        e->weft__state = WEFT__TIMER_FIRED;
        weft__spin_unlock(&d->lock);
        return WEFT_READY;
    }
    e->weft__waker = weft_waker_clone(cx->weft__waker);
    /* Its parker may sleep past us. */
    bool wake_driver = !weft__cur.worker || d->rt->sched->timer_armed;
    uint64_t os_deadline = 0; /* a paused clock has no OS deadline */
    if (!d->paused)
        os_deadline = sat_add(tick_to_ns(d, at) - (uint64_t)d->offset_ns, d->origin_ns);
    weft__spin_unlock(&d->lock);
    if (wake_driver && d->rt->sched->timer_armed)
        d->rt->sched->timer_armed(d->rt, os_deadline);
    else if (wake_driver)
        d->rt->sched->unpark(d->rt);
    return WEFT_PENDING;
}

bool weft__timer_arm(weft__rt *rt, weft_timer_entry *e, uint64_t deadline_ns, weft_waker w) {
    weft__time *d = rt->time;
    if (!d)
        weft__die("timers are disabled on this runtime: set enable_time in its builder");
    weft__spin_lock(&d->lock);
    if (deadline_ns <= clock_now_locked(d) ||
        !weft__wheel_insert(&d->wheel, e, tick_ceil(d, deadline_ns))) {
        e->weft__state = WEFT__TIMER_IDLE;
        weft__spin_unlock(&d->lock);
        weft_waker_drop(&w);
        return false;
    }
    e->weft__waker = w;
    bool paused = d->paused;
    uint64_t os_deadline =
        paused ? 0
               : sat_add(tick_to_ns(d, tick_ceil(d, deadline_ns)) - (uint64_t)d->offset_ns,
                         d->origin_ns);
    weft__spin_unlock(&d->lock);
    if (rt->sched->timer_armed)
        rt->sched->timer_armed(rt, os_deadline);
    else if (!weft__cur.worker)
        rt->sched->unpark(rt);
    return true;
}

void weft__timer_disarm(weft__rt *rt, weft_timer_entry *e) {
    weft__time *d = rt->time;
    if (!d)
        return;
    weft__spin_lock(&d->lock);
    if (e->weft__state == WEFT__TIMER_ARMED)
        weft__wheel_remove(&d->wheel, e);
    weft_waker w = e->weft__waker;
    e->weft__waker = (weft_waker){0};
    e->weft__state = WEFT__TIMER_IDLE;
    weft__spin_unlock(&d->lock);
    weft_waker_drop(&w);
}

/* Takes the entry out of the wheel (if armed) and returns its waker. */
static weft_waker sleep_disarm(weft_sleep *s) {
    weft_waker w = {0};
    weft__time *d = s->driver;
    if (!d)
        return w;
    weft__spin_lock(&d->lock);
    weft__wheel_remove(&d->wheel, &s->entry);
    w = s->entry.weft__waker;
    s->entry.weft__waker = (weft_waker){0};
    s->entry.weft__state = WEFT__TIMER_IDLE;
    weft__spin_unlock(&d->lock);
    return w;
}

static void sleep_drop(weft_future *f) {
    weft_waker w = sleep_disarm((weft_sleep *)f);
    weft_waker_drop(&w);
}

void weft_sleep_reset(weft_sleep *s, weft_instant deadline) {
    WEFT__NEED(s, "weft_sleep_reset", "sleep");
    weft_waker w = sleep_disarm(s);
    s->deadline = deadline;
    s->has_deadline = true;
    s->weft__from_reading = false;
    /* Whoever waited keeps waiting: wake it so its next poll re-arms. */
    weft_waker_wake(&w);
}

bool weft_sleep_is_elapsed(const weft_sleep *s) {
    return s && s->entry.weft__state == WEFT__TIMER_FIRED;
}

/* --------------------------------------------------------------- timeout */

static weft_poll timeout_poll(weft_future *f, weft_context *cx, void *out);
static void timeout_drop(weft_future *f);
static const weft_future_vtable timeout_vt = {timeout_poll, timeout_drop, sizeof(weft_timeout), 0,
                                              "weft_timeout", 0};

weft_future *weft_timeout_init(weft_timeout *t, weft_duration dur, weft_future *inner,
                               const char *site) {
    WEFT__NEED(t, "weft_timeout", "timeout");
    WEFT__NEED(inner && inner->vt, "weft_timeout", "inner future");
    weft_future_init(&t->base, &timeout_vt, site);
    t->inner = inner;
    if (inner)
        inner->flags |= WEFT__F_NOREPORT; /* owned by the timeout now */
    weft_sleep_init(&t->sleep, dur, site);
    t->sleep.base.flags |= WEFT__F_NOREPORT;
    t->started = t->sleep.has_deadline ? t->sleep.deadline - (uint64_t)t->sleep.duration : 0;
    t->elapsed = 0;
    t->status = 0;
    return &t->base;
}

static void timeout_finish(weft_timeout *t, weft__time *d, int status) {
    t->status = status;
    t->elapsed = (weft_duration)(local_now(d) - t->started);
    weft_future_drop(t->inner);
    t->inner = NULL;
    weft_future_drop(&t->sleep.base);
}

static weft_poll timeout_poll(weft_future *f, weft_context *cx, void *out) {
    weft_timeout *t = (weft_timeout *)f;
    if (!t->inner)
        weft__die("weft_timeout polled without an inner future");
    weft__time *d = driver_of(cx);
    if (!t->sleep.has_deadline) {
        t->started = local_now(d);
        t->sleep.deadline = t->started + (uint64_t)t->sleep.duration;
        t->sleep.has_deadline = true;
    }
    if (weft_future_poll(t->inner, cx, out) == WEFT_READY) {
        timeout_finish(t, d, 0);
        return WEFT_READY;
    }
    if (weft_future_poll(&t->sleep.base, cx, NULL) == WEFT_READY) {
        timeout_finish(t, d, WEFT_ETIMEDOUT);
        return WEFT_READY;
    }
    return WEFT_PENDING;
}

static void timeout_drop(weft_future *f) {
    weft_timeout *t = (weft_timeout *)f;
    weft_future_drop(t->inner);
    t->inner = NULL;
    weft_future_drop(&t->sleep.base);
}

/* -------------------------------------------------------------- interval */

static weft_poll tick_poll(weft_future *f, weft_context *cx, void *out);
static const weft_future_vtable tick_vt = {tick_poll, NULL, sizeof(weft_future),
                                           sizeof(weft_instant), "weft_interval_tick",
                                           WEFT_VT_REPOLL};

static void interval_setup(weft_interval *iv, weft_duration period) {
    weft_future_init(&iv->tick, &tick_vt, NULL);
    iv->tick.flags = WEFT__F_NOREPORT;
    weft_sleep_until_init(&iv->sleep, 0, NULL);
    iv->sleep.base.flags |= WEFT__F_NOREPORT;
    iv->period = period;
    iv->missed = WEFT_MISSED_BURST;
    iv->started = false;
    iv->next = 0;
}

int weft_interval_init(weft_interval *iv, weft_duration period) {
    if (!iv || period <= 0)
        return WEFT_EINVAL;
    interval_setup(iv, period);
    weft__rt *rt = weft__cur.rt;
    if (rt && rt->time) {
        iv->next = local_now(rt->time);
        iv->started = true;
        weft_sleep_reset(&iv->sleep, iv->next);
    }
    return 0;
}

int weft_interval_init_at(weft_interval *iv, weft_instant start, weft_duration period) {
    if (!iv || period <= 0)
        return WEFT_EINVAL;
    interval_setup(iv, period);
    iv->next = start;
    iv->started = true;
    weft_sleep_reset(&iv->sleep, start);
    return 0;
}

void weft_interval_set_missed_tick(weft_interval *iv, weft_missed_tick m) {
    WEFT__NEED(iv, "weft_interval_set_missed_tick", "interval");
    if ((unsigned)m > WEFT_MISSED_SKIP)
        weft__die_misuse("weft_interval_set_missed_tick", "unknown weft_missed_tick value");
    iv->missed = m;
}

weft_future *weft_interval_tick(weft_interval *iv) {
    WEFT__NEED(iv, "weft_interval_tick", "interval");
    iv->tick.flags = WEFT__F_NOREPORT; /* reusable: each call is a fresh tick */
    iv->tick.resume = 0;
    return &iv->tick;
}

/* The instant of the tick after one due at `due` that completed at `now`. */
static weft_instant next_tick(const weft_interval *iv, weft_instant due, weft_instant now) {
    uint64_t p = (uint64_t)iv->period;
    if (now < sat_add(due, p))
        return sat_add(due, p); /* on time */
    switch (iv->missed) {
    case WEFT_MISSED_DELAY:
        return sat_add(now, p);
    case WEFT_MISSED_SKIP:
        return sat_add(now, p - (now - due) % p);
    default:
        return sat_add(due, p);
    }
}

static weft_poll tick_poll(weft_future *f, weft_context *cx, void *out) {
    weft_interval *iv = (weft_interval *)((char *)f - offsetof(weft_interval, tick));
    weft__time *d = driver_of(cx);
    if (!iv->started) {
        iv->next = local_now(d);
        iv->started = true;
        weft_sleep_reset(&iv->sleep, iv->next);
    }
    if (weft_future_poll(&iv->sleep.base, cx, NULL) == WEFT_PENDING)
        return WEFT_PENDING;
    weft_instant due = iv->next;
    iv->next = next_tick(iv, due, local_now(d));
    weft_sleep_reset(&iv->sleep, iv->next);
    if (out)
        *(weft_instant *)out = due;
    return WEFT_READY;
}

void weft_interval_reset(weft_interval *iv) {
    WEFT__NEED(iv, "weft_interval_reset", "interval");
    iv->next = sat_add(weft_now(), (uint64_t)iv->period);
    iv->started = true;
    weft_sleep_reset(&iv->sleep, iv->next);
}

void weft_interval_drop(weft_interval *iv) {
    if (iv)
        weft_future_drop(&iv->sleep.base);
}
