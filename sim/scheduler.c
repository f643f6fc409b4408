/* weft — the sim scheduler: one thread, seeded choice among ready tasks,
 * virtual time, deadlock and livelock detection.
 *
 * The ready set is an array; a step draws an index (uniform, or by PCT
 * priority) and swap-removes it, so a uniform pick is O(1).  block_on's own
 * future is one more candidate, so the root interleaves with the tasks it
 * spawned.  A yield is only a scheduling point here: the yielding task is
 * ready again at once (PCT lowers its priority), which lets the sim explore
 * orders a FIFO queue never produces.
 *
 * Time: the runtime's clock is paused (start_paused) at 0.  When nothing is
 * ready the clock jumps to the next timer and fires it; with no timer the
 * run is a deadlock.  With a step time each step also costs a seeded
 * amount of virtual time, so a timer may fire between two steps of a task
 * that never waits; with a timer slack a timer fires late by a seeded
 * amount (never early), as an OS timer does.  Wakes only ever come from
 * this thread: a wake from another OS thread is misuse and aborts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "weft/sync.h"

#include "host.h"
#include "schedule.h"
#include "sim.h"

/* ------------------------------------------------------------ the stream */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void seed_stream(weft__sim *s, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix(&x);
}

/* rt->random under the simulator: the seeded stream, every draw traced. */
/* The seeded stream is drawn on the sim's own thread only: a draw from
 * another one (a thread that entered the runtime through a handle) would
 * make the run depend on OS timing. */
void weft__sim_check_draw(weft__sim *s, const char *what) {
    if (weft__cur.worker != s && !weft__thread_equal(weft__thread_self(), s->owner))
        weft__die_misuse(what, "called on a thread the simulator does not drive (its stream "
                               "would depend on OS timing): draw only from sim tasks");
}

static uint64_t sim_random(weft__rt *rt) {
    weft__sim *s = weft__sim_of(rt);
    weft__sim_check_draw(s, "weft_random_u64");
    uint64_t v = weft__sim_next(s);
    if (s->plan || s->rec)
        v = weft__sched_random(s, v);
    weft__sim_ev(s, WEFT__EV_RANDOM, v, 0, NULL);
    return v;
}

/* ------------------------------------------------------------- readiness */

static _Noreturn void foreign_wake(void) {
    weft__die("a task of a sim runtime was woken from another OS thread: the simulator "
              "is single-threaded; wake it from its own tasks");
}

/* Wakes must come from the sim's own thread: while it drives, that is one
 * thread-local load; otherwise (spawns before block_on, shutdown) compare
 * thread ids. */
static WEFT__NOINLINE void check_thread_slow(weft__sim *s) {
    if (!weft__thread_equal(weft__thread_self(), s->owner))
        foreign_wake();
}
static inline void check_thread(weft__sim *s) {
    if (__builtin_expect(weft__cur.worker != s, 0))
        check_thread_slow(s);
}

/* The ready set's size: it starts at READY_FIRST entries and doubles when
 * full.  Once a burst of tasks has been polled (a million spawned at once,
 * idle after their first poll) it gives the memory back: a pick that
 * leaves it below a 64th full cuts it to a 16th, never below READY_FLOOR
 * entries.  Why these figures:
 *  - the wide gap (a set grows back only after it quadruples) and the
 *    floor (128 KiB) keep a runtime that works in bursts of up to some
 *    ten thousand ready tasks, as the benches do, from resizing at every
 *    burst: each resize costs an allocation as large as malloc hands out
 *    slowly, and the copy;
 *  - cutting when so few entries are left keeps the copy small: while it
 *    is made the old array is still held, so what the copy touches (an
 *    eighth of the old array's bytes at most) adds to the run's peak;
 *  - a cut copies fewer entries than were picked since the last resize,
 *    a growth at most twice as many as were pushed: both O(1) a step.
 * Resizing moves the entries in order: index i is the same task before
 * and after, so no pick changes. */
#define READY_FIRST 64
#define READY_FLOOR 16384

/* The entries into an array of `cap` (>= nready); false when out of memory. */
static bool resize_ready(weft__sim *s, size_t cap) {
    weft__task **a = weft__alloc(s->rt, cap * sizeof *a);
    if (!a)
        return false;
    if (s->nready)
        memcpy(a, s->ready, s->nready * sizeof *a);
    weft__free(s->rt, s->ready, s->cap * sizeof *a);
    s->ready = a;
    s->cap = cap;
    s->shrink_below = cap > READY_FLOOR ? cap / 64 : 0;
    return true;
}

/* A pick left the set below a 64th full.  Out of memory, it keeps what
 * it has (until it next grows). */
static WEFT__NOINLINE void shrink_ready(weft__sim *s) {
    size_t cap = s->cap / 16 > READY_FLOOR ? s->cap / 16 : READY_FLOOR;
    if (!resize_ready(s, cap))
        s->shrink_below = 0;
}

/* Out of memory growing the ready set fails the run (block_on returns
 * WEFT_ENOMEM at its next step); the task is not queued: its queue
 * reference goes, and shutdown cancels it from its owned list. */
static void push_ready(weft__sim *s, weft__task *t) {
    if (s->nready == s->cap && !resize_ready(s, s->cap * 2)) {
        weft__sim_set_failure(s, WEFT_ENOMEM, "sim: out of memory growing the ready set");
        weft__task_settle(t); /* a resumed entry too is left to shutdown */
        weft__task_unref(t);
        return;
    }
    s->ready[s->nready++] = t;
}

void weft__sim_push_ready(weft__sim *s, weft__task *t) { push_ready(s, t); }

/* The long way of queueing `t` (queue() says when): every event kind and
 * strategy, hosts, a full event buffer or ready set. */
static WEFT__NOINLINE void queue_slow(weft__sim *s, weft__task *t, int hint) {
    if (hint == WEFT__SCHED_SPAWN)
        weft__sim_ev(s, WEFT__EV_SPAWN, weft__task_pid(t), 0, weft__task_site(t));
    else if (hint == WEFT__SCHED_YIELD)
        weft__sim_ev(s, WEFT__EV_YIELD, weft__task_pid(t), 0, NULL);
    else
        weft__sim_ev(s, WEFT__EV_WAKE, weft__task_pid(t),
                     s->in_advance ? WEFT__CAUSE_TIMER : WEFT__CAUSE_TASK, NULL);
    /* A task woken by itself while it is polled spins as a yield does:
     * PCT must drop it below the others (it would starve a demoted one). */
    if (s->strategy == WEFT_SIM_PCT)
        weft__pct_on_ready(s, t, hint == WEFT__SCHED_WAKE && weft__task_pid(t) == s->current && s->current
                                     ? WEFT__SCHED_YIELD : hint);
    /* Hosts (host.c): a spawn records its owner; a paused host's task waits. */
    if (s->hosts && weft__hosts_schedule(s, t, hint))
        return;
    push_ready(s, t);
}

/* Queues `t`.  The short way, taken when nothing but the event and the
 * push is to be done (the run is `plain`, has no hosts, and has room in
 * the event buffer and the ready set), folds the same event queue_slow
 * would and pushes to the same place: the two ways differ in cost only. */
static inline void queue(weft__sim *s, bool plain, weft__task *t, int hint) {
    if (__builtin_expect(!plain || s->hosts || s->nready == s->cap || s->buf_len == sizeof s->buf,
                         0)) {
        queue_slow(s, t, hint);
        return;
    }
    uint32_t kind = hint == WEFT__SCHED_SPAWN   ? WEFT__EV_SPAWN
                    : hint == WEFT__SCHED_YIELD ? WEFT__EV_YIELD
                                                : WEFT__EV_WAKE;
    uint64_t cause =
        hint == WEFT__SCHED_WAKE && s->in_advance ? WEFT__CAUSE_TIMER : WEFT__CAUSE_TASK;
    weft__sim_fold(s, kind, weft__task_pid(t), cause);
    s->ready[s->nready++] = t;
}

static void sim_schedule(weft__rt *rt, weft__task *t, int hint) {
    weft__sim *s = weft__sim_of(rt);
    check_thread(s);
    queue(s, s->plain, t, hint);
}

static void sim_unpark(weft__rt *rt) {
    check_thread(weft__sim_of(rt));
}

/* The root waker points at the scheduler, which outlives every block_on. */
static weft_waker root_clone(const void *data);
static void root_wake(const void *data) {
    weft__sim *s = (weft__sim *)data;
    check_thread(s);
    if (!s->root_ready)
        weft__sim_ev(s, WEFT__EV_WAKE, 0, s->in_advance ? WEFT__CAUSE_TIMER : WEFT__CAUSE_TASK,
                     NULL);
    s->root_ready = true;
}
static void root_drop(const void *data) { (void)data; }
static const weft_waker_vtable root_vt = {root_clone, root_wake, root_wake, root_drop};
static weft_waker root_clone(const void *data) { return (weft_waker){data, &root_vt}; }

/* --------------------------------------------------------------- liveness */

/* A draw of the time stream, uniform in [0, n]. */
static uint64_t time_draw(weft__sim *s, uint64_t n) {
    return n == UINT64_MAX ? splitmix(&s->tstate) : splitmix(&s->tstate) % (n + 1);
}

/* Moves the clock `by` ns, firing the timers it passes (their wakes are
 * the timer's). */
static void pass_time(weft__sim *s, uint64_t by) {
    if (!by || !s->rt->time)
        return;
    s->in_advance = true;
    weft_time_advance(by > (uint64_t)INT64_MAX ? INT64_MAX : (weft_duration)by);
    s->in_advance = false;
}

/* Nothing is ready: jump to the next timer (late by a seeded slack, the
 * timers due meanwhile firing too).  False when there is none. */
static bool advance(weft__sim *s, int *err) {
    weft__rt *rt = s->rt;
    if (!rt->time || weft__time_count(rt) == 0)
        return false;
    s->in_advance = true;
    bool fired = weft__time_auto_advance(rt);
    s->in_advance = false;
    if (fired && s->timer_slack)
        pass_time(s, time_draw(s, s->timer_slack));
    weft_instant now = weft_now();
    weft__sim_ev(s, WEFT__EV_TIME, now, 0, NULL);
    if (s->max_time && now > s->max_time) {
        weft__sim_set_failure(s, WEFT_ELIVELOCK,
                              "livelock: virtual time %.3f s passed the limit of %.3f s",
                              (double)now / 1e9, (double)s->max_time / 1e9);
        *err = WEFT_ELIVELOCK;
    }
    return fired;
}

/* Appends to a bounded text; past the end it truncates. */
typedef struct text {
    char buf[1024];
    size_t n;
} text;

static void append(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text *t, const char *fmt, ...) {
    if (t->n >= sizeof t->buf - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        t->n = t->n + (size_t)w < sizeof t->buf ? t->n + (size_t)w : sizeof t->buf - 1;
}

static const char *name_of(const weft_future *f) {
    return f->vt && f->vt->name ? f->vt->name : "future";
}

/* "<name>[, awaiting <innermost> (<site>)[ held by ...]]": the site is the
 * line where the task waits; a primitive is named as the user wrote it (a
 * mutex's lock, not the semaphore under it), and a mutex's holder where
 * it is known. */
static void describe(text *t, weft_future *f) {
    append(t, "%s", name_of(f));
    weft_future *inner = NULL, *parent = NULL;
    for (int depth = 0; f->awaiting && depth < 16; depth++) {
        parent = f;
        inner = f = f->awaiting;
    }
    if (!inner)
        return;
    /* An async function's resume point is the line of the await it waits
     * in; the awaited future's site may be elsewhere (a join handle's is
     * its spawn), so the line is said unless the site already says it. */
    const char *colon = inner->site ? strrchr(inner->site, ':') : NULL;
    unsigned long site_line = colon ? strtoul(colon + 1, NULL, 10) : 0;
    if (parent->resume > 1 && parent->resume != WEFT__DONE && parent->resume != site_line)
        append(t, " waiting at line %u of %s", (unsigned)parent->resume, name_of(parent));
    append(t, ", awaiting %s (%s)", name_of(inner), inner->site ? inner->site : "?");
    if (strcmp(name_of(inner), "weft_mutex_lock") == 0) {
        const weft_acquire_op *op = (const weft_acquire_op *)inner;
        const weft_mutex *m =
            (const weft_mutex *)(const void *)((const char *)op->sem - offsetof(weft_mutex, weft__sem));
        if (m->weft__holder == 1)
            append(t, " held by the root (locked at %s)",
                   m->weft__locked_at ? m->weft__locked_at : "?");
        else if (m->weft__holder)
            append(t, " held by task %llu (locked at %s)",
                   (unsigned long long)(m->weft__holder - 1),
                   m->weft__locked_at ? m->weft__locked_at : "?");
    }
}

typedef struct blocked_report {
    text *t;
    int count;
} blocked_report;

static void report_blocked(void *ctx, weft__task *task) {
    blocked_report *br = ctx;
    if (atomic_load_explicit(&task->state, memory_order_acquire) & WEFT__T_COMPLETE)
        return; /* done, left on its list for its JoinHandle */
    const char *site = weft__task_site(task);
    br->count++;
    append(br->t, "; task %llu spawned at %s: ", (unsigned long long)weft__task_pid(task), site ? site : "?");
    describe(br->t, weft__task_future(task));
}

/* Records the deadlock: block_on's future and every unfinished task, with
 * its spawn site and the future it waits in. */
static void deadlock(weft__sim *s, weft_future *root) {
    text t = {.n = 0};
    int blocked = 0;
    append(&t, "root ");
    describe(&t, root);
    char paused[256];
    if (s->hosts && weft__hosts_paused(s, paused, sizeof paused))
        append(&t, "; %s", paused); /* their tasks are ready, but held */
    blocked_report br = {&t, 0};
    weft__owned_visit(s->rt, &s->owned, report_blocked, &br);
    blocked = br.count;
    weft__sim_set_failure(s, WEFT_EDEADLOCK,
                          "deadlock at %.3f s after %llu steps: %d task(s) blocked, no timer "
                          "pending: %s",
                          (double)weft_now() / 1e9, (unsigned long long)s->steps, blocked, t.buf);
}

/* --------------------------------------------------------------- the loop */

static size_t natural_pick(weft__sim *s, size_t candidates) {
    if (s->strategy == WEFT_SIM_PCT)
        return weft__pct_pick(s, candidates);
    return candidates == 1 ? 0 : (size_t)weft__sim_below(s, candidates);
}

/* A replayed schedule decides instead of the seed; a recorded one notes
 * the choice (schedule.c). */
static WEFT__NOINLINE size_t pick_slow(weft__sim *s, size_t candidates) {
    if (!s->plan && !s->rec)
        return natural_pick(s, candidates);
    return weft__sched_pick(s, candidates, s->plan ? 0 : natural_pick(s, candidates));
}

/* The uniform pick inline; PCT, recording and replaying out of line. */
static inline size_t pick(weft__sim *s, bool plain, size_t candidates) {
    if (__builtin_expect(!plain, 0))
        return pick_slow(s, candidates);
    return candidates == 1 ? 0 : (size_t)weft__sim_below(s, candidates);
}

/* An event of the loop: folded inline when the run is plain. */
static inline void loop_ev(weft__sim *s, bool plain, uint32_t kind, uint64_t a, uint64_t b) {
    if (__builtin_expect(plain, 1))
        weft__sim_fold(s, kind, a, b);
    else
        weft__sim_ev(s, kind, a, b, NULL);
}

/* Whether a block_on can take the short ways: none of its conditions
 * changes while it runs (recording may stop, out of memory: then the run
 * was not plain), but hosts may appear, so queue() asks for those. */
static bool is_plain(const weft__sim *s) {
    return !s->trace && !s->record && s->strategy != WEFT_SIM_PCT && !s->plan && !s->rec;
}

static int sim_block_on(weft__rt *rt, weft_future *f, void *out) {
    weft__sim *s = weft__sim_of(rt);
    if (s->driving)
        return WEFT_EBUSY;
    s->driving = true;
    s->root = f;
    s->owner = weft__thread_self();
    weft__cur = (weft__tls){rt, s, &s->cache, &s->owned};
    weft_waker w = {s, &root_vt};
    weft_context cx = {&w, rt, 0, 0};
    int err = 0;
    s->root_ready = true;
    /* A block_on after an earlier one: the driving thread comes back from
     * its own work, as from a yield.  Under PCT it goes behind the ready
     * tasks, or a caller that loops over block_on (polling a condition
     * the tasks make true) would starve a task a change point demoted. */
    if (s->steps && s->strategy == WEFT_SIM_PCT)
        s->root_prio = --s->low_prio;
    const bool plain = s->plain = is_plain(s);
    const uint64_t step_limit = s->max_steps ? s->max_steps : UINT64_MAX;
    for (;;) {
        if (s->fail_code) {
            err = s->fail_code;
            break;
        }
        size_t candidates = s->nready + (s->root_ready ? 1 : 0);
        if (candidates == 0) {
            if (advance(s, &err)) {
                if (err)
                    break;
                continue;
            }
            deadlock(s, f);
            err = WEFT_EDEADLOCK;
            break;
        }
        if (s->steps >= step_limit) {
            weft__sim_set_failure(s, WEFT_ELIVELOCK,
                                  "livelock: %llu steps without finishing (limit), at %.3f s",
                                  (unsigned long long)s->steps, (double)weft_now() / 1e9);
            err = WEFT_ELIVELOCK;
            break;
        }
        s->steps++;
        size_t i = pick(s, plain, candidates);
        if (i == WEFT__PICK_REFUSED) { /* the schedule does not fit: said so */
            err = s->fail_code;
            break;
        }
        if (i == s->nready) { /* the root */
            loop_ev(s, plain, WEFT__EV_PICK, 0, candidates);
            s->root_ready = false;
            s->current = 0;
            cx.weft__yielded = 0;
            s->polling = true;
            weft_poll done = weft_future_poll(f, &cx, out);
            s->polling = false;
            if (done == WEFT_READY)
                break;
            /* root_ready again: it woke itself while polled, a spin */
            if ((cx.weft__yielded || s->root_ready) && s->strategy == WEFT_SIM_PCT)
                s->root_prio = --s->low_prio; /* as for a task: behind the others */
            if (s->step_time)
                pass_time(s, time_draw(s, s->step_time));
            continue;
        }
        weft__task *t = s->ready[i];
        s->ready[i] = s->ready[--s->nready];
        if (__builtin_expect(s->nready < s->shrink_below, 0))
            shrink_ready(s);
        loop_ev(s, plain, WEFT__EV_PICK, weft__task_pid(t), candidates);
        s->current = weft__task_pid(t);
        s->cur_task = t;
        s->polling = true;
        if (s->hosts)
            weft__hosts_enter(s, t); /* its host's clock and sockets */
        int r = weft__task_poll(t);
        if (s->hosts)
            weft__hosts_leave(s);
        s->polls += r != WEFT__RUN_SKIPPED;
        if (r >= WEFT__RUN_AGAIN) /* it woke itself (on this thread: no check) */
            queue(s, plain, t, r == WEFT__RUN_YIELDED ? WEFT__SCHED_YIELD : WEFT__SCHED_WAKE);
        s->polling = false;
        s->cur_task = NULL;
        if (s->step_time) /* the step took time: timers it passed fire now */
            pass_time(s, time_draw(s, s->step_time));
    }
    s->current = 0;
    s->root = NULL;
    s->plain = false;
    weft__cur = (weft__tls){0};
    s->driving = false;
    return err ? err : cx.weft__fail;
}

/* ------------------------------------------------------------- lifecycle */

/* "1.5 ms", "200 us": a duration for the strategy text. */
static void put_ns(char *buf, size_t n, uint64_t ns) {
    if (ns >= 1000000)
        snprintf(buf, n, "%g ms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%g us", (double)ns / 1e3);
}

/* Swarm testing (Groce et al. 2012): rather than one configuration for
 * every seed, each seed draws its own, so some seeds run PCT deep enough
 * for an ordering bug and others uniform random for a plain race, with or
 * without time passing.  The draw is a function of the seed alone (its
 * own stream, not the run's), so the replay line needs nothing else.
 * The network's knobs are drawn in net.c, from the seed as well. */
int weft__sim_swarm_strategy(uint64_t seed, uint32_t *depth) {
    uint64_t x = seed ^ UINT64_C(0x737761726d000003);
    unsigned kind = (unsigned)(splitmix(&x) % 6); /* 0, 1: uniform random; 2..5: PCT of that depth */
    if (depth)
        *depth = kind < 2 ? 1 : kind;
    return kind < 2 ? WEFT_SIM_RANDOM : WEFT_SIM_PCT;
}

static void swarm_draw(weft__sim *s, const weft_builder *b) {
    uint64_t x = b->sim_seed ^ UINT64_C(0x737761726d000003);
    uint64_t r = splitmix(&x); /* the strategy: weft__sim_swarm_strategy */
    s->strategy = weft__sim_swarm_strategy(b->sim_seed, &s->depth);
    if (b->sim_exact_time || b->sim_step_time || b->sim_timer_slack)
        return; /* the builder's own time knobs, or none */
    static const uint64_t step[] = {0, 0, 20000, 200000, 1000000, 3000000};
    static const uint64_t slack[] = {0, 0, 1000000, 10000000};
    r = splitmix(&x);
    s->step_time = step[r % 6];
    s->timer_slack = slack[(r >> 16) % 4];
}

const char *weft__sim_strategy_text(weft__sim *s) {
    if (s->strategy_text[0])
        return s->strategy_text; /* made once, when first asked for */
    char *t = s->strategy_text;
    size_t n = sizeof s->strategy_text, at = 0;
    at += (size_t)snprintf(t, n, "%s", s->swarm ? "swarm: " : "");
    if (s->strategy == WEFT_SIM_PCT) {
        if (s->horizon)
            at += (size_t)snprintf(t + at, n - at, "pct depth %u horizon %llu", (unsigned)s->depth,
                                   (unsigned long long)s->horizon);
        else
            at += (size_t)snprintf(t + at, n - at, "pct depth %u", (unsigned)s->depth);
    } else
        at += (size_t)snprintf(t + at, n - at, "random");
    char d[32];
    if (s->step_time && at < n) {
        put_ns(d, sizeof d, s->step_time);
        at += (size_t)snprintf(t + at, n - at, ", steps up to %s", d);
    }
    if (s->timer_slack && at < n) {
        put_ns(d, sizeof d, s->timer_slack);
        snprintf(t + at, n - at, ", timers up to %s late", d);
    }
    return t;
}

static int sim_create(weft__rt *rt, const weft_builder *b) {
    if (b->sim_strategy != WEFT_SIM_RANDOM && b->sim_strategy != WEFT_SIM_PCT &&
        b->sim_strategy != WEFT_SIM_SWARM)
        return WEFT_EINVAL;
    if (b->sim_max_time < 0 || b->sim_pct_depth > 16 || b->sim_step_time < 0 ||
        b->sim_timer_slack < 0)
        return WEFT_EINVAL;
    weft__sim *s = weft__alloc(rt, sizeof *s);
    if (!s)
        return WEFT_ENOMEM;
    memset(s, 0, sizeof *s);
    weft__owned_init(&s->owned);
    s->rt = rt;
    weft__sim_hash_init(s);
    s->owner = weft__thread_self();
    s->seed = b->sim_seed;
    seed_stream(s, b->sim_seed);
    s->strategy = b->sim_strategy;
    s->depth = b->sim_pct_depth ? b->sim_pct_depth : 1;
    s->horizon = b->sim_pct_horizon;
    s->step_time = (uint64_t)b->sim_step_time;
    s->timer_slack = (uint64_t)b->sim_timer_slack;
    s->tstate = b->sim_seed ^ UINT64_C(0x74696d6500000001);
    if (s->strategy == WEFT_SIM_SWARM) {
        s->swarm = true;
        swarm_draw(s, b);
    }
    s->max_steps = b->sim_max_steps;
    s->ev_alloc = b->allocator;
    s->max_time = (uint64_t)b->sim_max_time;
    rt->sched_data = s;
    s->cap = READY_FIRST; /* made now, so spawns allocate nothing but their tasks */
    s->ready = weft__alloc(rt, s->cap * sizeof *s->ready);
    if (!s->ready) {
        rt->sched_data = NULL;
        weft__free(rt, s, sizeof *s);
        return WEFT_ENOMEM;
    }
    if (b->sim_trace_path) {
        int err = weft__sim_trace_open(s, b->sim_trace_path);
        if (err) {
            rt->sched_data = NULL;
            weft__free(rt, s->ready, s->cap * sizeof *s->ready);
            weft__free(rt, s, sizeof *s);
            return err;
        }
    }
    if (s->strategy == WEFT_SIM_PCT)
        weft__pct_init(s);
    rt->random = sim_random;
    rt->buggify = weft__sim_buggify;
    return 0;
}

static void sim_shutdown(weft__rt *rt) {
    weft__sim *s = weft__sim_of(rt);
    weft__owned_shutdown(rt, &s->owned);
    while (s->nready)
        weft__task_discard(s->ready[--s->nready]);
    if (s->hosts)
        weft__hosts_shutdown(s);
    weft__task_cache_clear(rt, &s->cache);
}

/* Nothing runs the ready set at shutdown. */
static void sim_settle(weft__rt *rt) {
    weft__sim *s = weft__sim_of(rt);
    for (size_t i = 0; i < s->nready; i++)
        weft__task_settle(s->ready[i]);
}

static void sim_destroy(weft__rt *rt) {
    weft__sim *s = weft__sim_of(rt);
    if (!s)
        return;
    weft__sim_trace_close(s);
    weft__sim_write_timelines(s);
    weft__sim_free_notes(s);
    weft__hosts_destroy(s);
    weft__task_cache_clear(rt, &s->cache);
    weft__free(rt, s->ready, s->cap * sizeof *s->ready);
    weft__sim_free_events(s);
    rt->sched_data = NULL;
    weft__free(rt, s, sizeof *s);
}

static void sim_stats(weft__rt *rt, weft_runtime_stats *out) { out->polls += weft__sim_of(rt)->polls; }

const weft__sched_ops weft__sim_ops = {
    .name = "sim",
    .create = sim_create,
    .schedule = sim_schedule,
    .block_on = sim_block_on,
    .unpark = sim_unpark,
    .shutdown = sim_shutdown,
    .destroy = sim_destroy,
    .create_io = weft__sim_net_create,
    .stats = sim_stats,
    .settle = sim_settle,
};

/* ------------------------------------------------------------ inspection */

static weft__sim *sim_of_handle(weft_handle *h) {
    weft__rt *rt = (weft__rt *)h;
    return rt && rt->sched == &weft__sim_ops ? weft__sim_of(rt) : NULL;
}

uint64_t weft_sim_fingerprint(weft_handle *h) {
    weft__sim *s = sim_of_handle(h);
    return s ? weft__sim_digest(s) : 0;
}

uint64_t weft_sim_steps(weft_handle *h) {
    weft__sim *s = sim_of_handle(h);
    return s ? s->steps : 0;
}

uint64_t weft_sim_events(weft_handle *h) {
    weft__sim *s = sim_of_handle(h);
    return s ? s->nevents : 0;
}

const char *weft_sim_failure(weft_handle *h) {
    weft__sim *s = sim_of_handle(h);
    return s && s->fail_code ? s->failure : NULL;
}

bool weft_sim_escape(const char *call, const char *why) {
    weft__sim *s = weft__sim_current();
    if (!s || !s->polling)
        return false;
    text t = {.n = 0};
    if (s->cur_task) {
        const char *site = weft__task_site(s->cur_task);
        append(&t, "task %llu spawned at %s: ", (unsigned long long)weft__task_pid(s->cur_task),
               site ? site : "?");
        describe(&t, weft__task_future(s->cur_task));
    } else if (s->root) {
        append(&t, "root ");
        describe(&t, s->root);
    }
    weft__sim_set_failure(s, WEFT_EFAILED,
                          "escape: %s() called in a simulated run by %s: %s leaks into the run, "
                          "which no longer replays from its seed",
                          call ? call : "?", t.buf, why ? why : "it");
    return true;
}

void weft_sim_fail_at(const char *site, const char *what) {
    weft__sim *s = weft__sim_current();
    if (!s) {
        fprintf(stderr, "weft: %s: %s\n", site ? site : "?", what ? what : "failure");
        return;
    }
    weft__sim_set_failure(s, WEFT_EFAILED, "%s: %s", site ? site : "?", what ? what : "failure");
}
