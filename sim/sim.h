/* weft — the simulator's machinery (private): the sim scheduler's state,
 * the event trace, the seeded stream, the strategies.
 *
 * Everything here runs on the one thread that drives the sim runtime, so
 * nothing is atomic or locked.  An event costs three stores on the hot
 * path: hashing happens a block at a time.
 */
#ifndef WEFT_SIM_SIM_H
#define WEFT_SIM_SIM_H

#include <stdio.h>
#include <string.h>

#include "weft/sim.h"
#include "task.h"

/* What an event records.  The network and other simulated drivers add
 * their own kinds after WEFT__EV_USER. */
enum {
    WEFT__EV_SPAWN = 1,   /* a = task id; str = spawn site (the future's name in text) */
    WEFT__EV_WAKE = 2,    /* a = task id (0: the root), b = waker's cause */
    WEFT__EV_YIELD = 3,   /* a = task id that yielded */
    WEFT__EV_PICK = 4,    /* a = task id chosen (0: the root), b = candidates */
    WEFT__EV_TIME = 5,    /* a = new virtual time (ns): a timer is due */
    WEFT__EV_RANDOM = 6,  /* a = value drawn by weft_random_* */
    WEFT__EV_BUGGIFY = 7, /* a = site hash, b = fired; str = site */
    WEFT__EV_PRIO = 8,    /* PCT change point: a = task id, b = new priority */
    WEFT__EV_FAIL = 9,    /* a = error code (as uint64); str = reason */
    WEFT__EV_USER = 64,
    WEFT__EV_NET = 65,     /* net.c: a packet's fate; a = what << 56 | kind << 48 |
                            * from host << 24 | to host, b = id << 32 | length */
    WEFT__EV_NET_CTL = 66, /* net.c: a partition, heal, clog, link set;
                            * a = what << 56 | host a << 24 | host b */
};

/* What a WEFT__EV_NET / WEFT__EV_NET_CTL event says happened. */
enum {
    WEFT__NET_SEND = 1,
    WEFT__NET_DELIVER,
    WEFT__NET_DUP,
    WEFT__NET_RETRANSMIT,
    WEFT__NET_HOLD,
    WEFT__NET_TIMEOUT,
    WEFT__NET_DROP_LOSS,
    WEFT__NET_DROP_PARTITION,
    WEFT__NET_DROP_NOSOCK,
    WEFT__NET_DROP_FULL,
    WEFT__NET_DROP_CLOSED,
    WEFT__NET_DROP_CONNFAIL,
    WEFT__NET_ACK_LOST,
    WEFT__NET_DROP_HOST_DOWN, /* its host is down (crashed SILENT): nothing answers */
};
enum {
    WEFT__NET_PARTITION = 1,
    WEFT__NET_PARTITION_ONE_WAY,
    WEFT__NET_HEAL,
    WEFT__NET_CLOG,
    WEFT__NET_UNCLOG,
    WEFT__NET_LINK,
    WEFT__NET_HEAL_ALL,
};

/* Who caused a wake (WEFT__EV_WAKE's b). */
enum { WEFT__CAUSE_TASK = 0, WEFT__CAUSE_TIMER = 1, WEFT__CAUSE_OUTSIDE = 2 };

/* One recorded event: `kind`, `a`, `b` are hashed; the rest is for the
 * text and the timeline only. */
typedef struct weft__sim_event {
    uint64_t seq;
    uint32_t kind;
    uint64_t a, b;
    const char *str;
    uint64_t now; /* virtual time (ns) when it happened */
    uint64_t cur; /* task being polled (0: the root), WEFT__SIM_NOBODY between polls */
} weft__sim_event;

#define WEFT__SIM_NOBODY UINT64_MAX

/* A weft_sim_note, kept for the timeline: it came after `after` events. */
typedef struct weft__sim_note {
    uint64_t after;
    uint64_t cur;
    char *text;
} weft__sim_note;

struct weft__schedule;

typedef struct weft__sim {
    weft__rt *rt;
    /* the ready set: an array, picked by index, swap-removed: O(1) */
    weft__task **ready;
    size_t nready, cap;
    size_t shrink_below; /* a pick leaving fewer cuts `cap` (0: at its floor) */
    bool root_ready;   /* block_on's future was woken */
    bool driving;      /* a block_on runs the scheduler */
    bool in_advance;   /* wakes now come from firing timers */
    weft__thread owner;   /* the thread that may wake tasks */
    weft__task_cache cache; /* freed task blocks, reused by spawn */
    weft__owned owned;      /* tasks spawned while the sim runs */
    uint64_t polls;         /* task polls */
    uint64_t current;  /* id of the task being polled; 0 for the root */
    weft__task *cur_task; /* the task being polled (NULL: the root, or none) */
    weft_future *root;    /* block_on's future while it drives */
    bool polling;      /* a poll of `current` is under way */
    bool plain;        /* block_on runs with uniform picks and nothing to record
                        * (no text trace, recording, PCT, schedule): the short
                        * ways of scheduler.c; false outside block_on */
    /* the seeded stream: xoshiro256** */
    uint64_t seed;
    uint64_t rng[4];
    /* strategy */
    int strategy;
    bool swarm;              /* the strategy below was drawn from the seed */
    char strategy_text[160]; /* what this seed runs (weft__sim_strategy_text) */
    uint32_t depth;          /* PCT d */
    uint64_t horizon;        /* PCT: change points in steps 1..horizon (0: log-uniform) */
    /* time passing while tasks run, drawn from its own stream (tstate) so
     * a replayed schedule, which decides everything else, sees the same */
    uint64_t step_time;      /* ns a step costs at most (0: none) */
    uint64_t timer_slack;    /* ns a timer fires late at most (0: none) */
    uint64_t tstate;         /* splitmix64 state of those draws */
    uint64_t change[16];     /* PCT: steps at which priorities drop */
    uint32_t nchange;
    uint64_t root_prio;      /* PCT priority of block_on's future */
    uint64_t low_prio;       /* priority last given to a yielding task */
    uint64_t spin_task;      /* PCT: the task yielding in a row, and how often */
    uint32_t spin_steps;
    /* limits */
    uint64_t steps, max_steps;
    uint64_t max_time; /* ns, 0: none */
    /* the trace: events are encoded into `buf` and streamed into XXH3 a
     * block at a time; the fingerprint is XXH3-64 of the whole stream */
    uint64_t hash;           /* the digest, valid after weft__sim_digest */
    uint64_t nevents;
    size_t buf_len;          /* bytes of `buf` in use */
    unsigned char buf[24 * 128];
    void *xxh;               /* XXH3_state_t, 64-aligned inside xxh_mem */
    bool xxh_avx2;           /* flush with XXH3's AVX2 kernels (trace.c) */
    unsigned char xxh_mem[704];
    FILE *trace;             /* text trace, or NULL */
    bool record;             /* keep events in `events` (determinism check) */
    weft__sim_event *events; /* from ev_alloc, as the harness hands them back */
    size_t ev_cap;
    weft_allocator ev_alloc; /* the builder's (not the counting) allocator */
    weft__sim_note *notes;   /* kept while recording, for the timeline */
    size_t nnotes, notes_cap;
    /* timelines written when the runtime is destroyed (recording on) */
    const char *tl_paths[2];
    char tl_title[256];
    char tl_own[1024];       /* the builder's .json/.html path, copied */
    /* decisions: recorded into `rec`, or taken from `plan` (schedule.c) */
    struct weft__schedule *rec;
    const struct weft__schedule *plan;
    size_t plan_at;          /* next decision of `plan` */
    bool plan_strict;        /* a misfit fails the run (else: a default choice) */
    uint64_t last_pick;      /* task of the previous step (0: root), for preemptions */
    bool has_last;
    uint64_t preemptions;    /* steps that switched away from a still-ready task */
    uint64_t faults;         /* fault points that fired */
    struct weft__hosts *hosts; /* simulated hosts (host.c), NULL until the first */
    /* the first failure */
    int fail_code;
    char failure[1024];
} weft__sim;

static inline weft__sim *weft__sim_of(weft__rt *rt) { return (weft__sim *)rt->sched_data; }
/* The sim driving this thread, or NULL. */
static inline weft__sim *weft__sim_current(void) {
    weft__rt *rt = weft__cur.rt;
    return rt && rt->sched == &weft__sim_ops ? weft__sim_of(rt) : NULL;
}

/* Aborts naming `what` when this thread is not the one the sim runs on. */
void weft__sim_check_draw(weft__sim *s, const char *what);

/* trace.c */
void weft__sim_event_slow(weft__sim *s, uint32_t kind, uint64_t a, uint64_t b, const char *str);
void weft__sim_hash_init(weft__sim *s);
/* Streams the full buffer into XXH3. */
void weft__sim_flush(weft__sim *s);
/* The fingerprint of every event so far (also stored in s->hash). */
uint64_t weft__sim_digest(weft__sim *s);

/* Little-endian on every host, one store where the host is. */
static inline void weft__sim_put64(unsigned char *p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, sizeof v);
}
/* Appends {kind, a, b} as three little-endian words to the hashed stream. */
static inline void weft__sim_fold(weft__sim *s, uint32_t kind, uint64_t a, uint64_t b) {
    if (s->buf_len == sizeof s->buf)
        weft__sim_flush(s);
    unsigned char *p = s->buf + s->buf_len;
    weft__sim_put64(p, kind);
    weft__sim_put64(p + 8, a);
    weft__sim_put64(p + 16, b);
    s->buf_len += 24;
    s->nevents++;
}
static inline void weft__sim_ev(weft__sim *s, uint32_t kind, uint64_t a, uint64_t b,
                                const char *str) {
    if (s->trace || s->record) {
        weft__sim_event_slow(s, kind, a, b, str);
        return;
    }
    weft__sim_fold(s, kind, a, b);
}
/* One event as a line of text (no newline) into buf. */
void weft__sim_format(const weft__sim_event *e, char *buf, size_t n);
int weft__sim_trace_open(weft__sim *s, const char *path);
void weft__sim_free_notes(weft__sim *s);
void weft__sim_trace_close(weft__sim *s);
/* Flushes the text trace: 0, or the errno of a write that failed. */
int weft__sim_trace_flush(weft__sim *s);
void weft__sim_free_events(weft__sim *s);
/* Records the run's failure (the first wins) and its event. */
void weft__sim_set_failure(weft__sim *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The seeded stream (scheduler.c). */
static inline uint64_t weft__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
/* One step of xoshiro256** over the state r[4]: the scheduler's stream
 * and the network's own (sim/net.c) both draw with it. */
static inline uint64_t weft__xoshiro_next(uint64_t *r) {
    uint64_t out = weft__rotl(r[1] * 5, 7) * 9;
    uint64_t t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = weft__rotl(r[3], 45);
    return out;
}
static inline uint64_t weft__sim_next(weft__sim *s) { return weft__xoshiro_next(s->rng); }
/* Uniform in [0, n), n > 0 (Lemire, unbiased). */
static inline uint64_t weft__sim_below(weft__sim *s, uint64_t n) {
    uint64_t x = weft__sim_next(s);
    __uint128_t m = (__uint128_t)x * n;
    if ((uint64_t)m < n) {
        uint64_t threshold = -n % n;
        while ((uint64_t)m < threshold) {
            x = weft__sim_next(s);
            m = (__uint128_t)x * n;
        }
    }
    return (uint64_t)(m >> 64);
}

/* pct.c: the PCT strategy. */
void weft__pct_init(weft__sim *s);
void weft__pct_on_ready(weft__sim *s, weft__task *t, int hint);
size_t weft__pct_pick(weft__sim *s, size_t candidates);

/* net.c: the simulated network, the sim runtime's I/O driver. */
int weft__sim_net_create(weft__rt *rt);
/* A network event as a line of text (trace.c's weft__sim_format). */
void weft__sim_net_format(const weft__sim_event *e, char *buf, size_t n);
/* The run's network knobs as text into buf, or NULL when the run never
 * used the network (for the failure line). */
const char *weft__sim_net_knobs(weft__rt *rt, char *buf, size_t n);

/* timeline_sim.c: the recorded events as a timeline (needs `record`). */
struct weft__timeline;
int weft__sim_timeline(const weft__sim *s, const char *title, struct weft__timeline *tl);
/* Writes the recorded run to each of s->tl_paths. */
int weft__sim_write_timelines(weft__sim *s);

/* harness.c: one run of a test with more asked of it. */
struct weft__schedule;
typedef struct weft__run_extra {
    const char *tl_paths[2];          /* timelines to write (JSON, HTML), or NULL */
    const char *title;                /* their title */
    struct weft__schedule *rec;       /* record the decisions (and the run's figures) */
    const struct weft__schedule *plan; /* replay these decisions */
    bool strict;                      /* a misfit fails the run (else: defaults) */
    uint64_t *preemptions, *faults;   /* the run's counts (recording or replaying) */
} weft__run_extra;
int weft__sim_run_extra(const weft_sim_test *t, const weft_builder *b, weft_sim_result *r,
                        const weft__run_extra *x);

/* scheduler.c: what the run's strategy is, as text ("swarm: pct depth 3
 * horizon 40, steps up to 1 ms"), made when first asked for (a sweep's
 * passing seeds never ask). */
const char *weft__sim_strategy_text(weft__sim *s);
/* scheduler.c: the strategy swarm draws for `seed` (and PCT's depth). */
int weft__sim_swarm_strategy(uint64_t seed, uint32_t *depth);

/* harness.c: "swarm", "random" or "pct" (exactly) into *out; WEFT_EINVAL. */
int weft__sim_strategy_parse(const char *name, int *out);

/* buggify.c */
bool weft__sim_buggify(weft__rt *rt, const char *site, uint32_t percent);
/* What of a "path/file.c:line" site may feed the seeded stream: the base
 * name and line, the same whatever the compiler and build directory. */
const char *weft__sim_site_key(const char *site);

#endif
