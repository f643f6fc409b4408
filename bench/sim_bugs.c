/* sim_bugs — bug programs written as users write them, and how many
 * seeds each simulator strategy needs to find each one.
 *
 *   lost_update   two tasks increment a counter across an await: read,
 *                 await, write.  The simplest race there is.
 *   stale_check   a check-then-act across an await (bank_race's shape):
 *                 the second teller must run seven steps inside the first
 *                 one's window between its check and its debit.
 *   leader_terms  four replicas race for leadership every tick (1 ms); the
 *                 first to act in a tick leads it.  The bug (a term
 *                 counter that overflows its lease table) shows only when
 *                 leadership changes twice, each term lasting at least six
 *                 ticks: an ordering of depth 3.  Uniform random changes
 *                 leader almost every tick (a six-tick term has odds
 *                 1/1024, two in a row about 1e-6); PCT with two change
 *                 points makes exactly such runs.
 *
 * Each strategy runs seeds 0..N-1 (weft_sim_run, the sweep's path; PCT's
 * horizon measured as the sweep measures it) and reports the first
 * failing seed and the failures found.
 *
 *   sim_bugs [--seeds N] [--only BUG]   the table (N default 100000)
 *   sim_bugs --check                    what CI asserts: swarm finds each
 *                                       bug early, random never finds
 *                                       leader_terms in 20,000 seeds
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/sim.h"
#include "weft/time.h"

/* ------------------------------------------------------------ lost_update */

typedef struct counter_task {
    weft_future base;
    int *counter;
    int seen;
    weft_yield_now io;
} counter_task;

static weft_poll counter_task_poll(weft_future *f, weft_context *cx, void *out) {
    counter_task *t = (counter_task *)f;
    (void)out;
    WEFT_BEGIN(f);
    t->seen = *t->counter;                              /* read */
    WEFT_AWAIT(f, cx, weft_yield_now(&t->io), NULL);    /* a store round trip */
    *t->counter = t->seen + 1;                          /* write back */
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(counter_task, counter_task_poll, NULL);

typedef struct lost_update {
    weft_future base;
    int counter;
    weft_join_handle a, b;
} lost_update;

static weft_poll lost_update_poll(weft_future *f, weft_context *cx, void *out) {
    lost_update *s = (lost_update *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(counter_task, .counter = &s->counter), &s->a);
    weft_spawn(&WEFT_NEW(counter_task, .counter = &s->counter), &s->b);
    WEFT_AWAIT(f, cx, weft_join(&s->a), NULL);
    WEFT_AWAIT(f, cx, weft_join(&s->b), NULL);
    WEFT_SIM_ASSERT(f, cx, s->counter == 2);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(lost_update, lost_update_poll, NULL);
static void make_lost_update(weft_future *slot) { *(lost_update *)slot = WEFT_NEW(lost_update); }

/* ------------------------------------------------------------ stale_check */

typedef struct teller {
    weft_future base;
    int64_t *balance;
    int lookups, i;
    weft_yield_now rpc;
} teller;

static weft_poll teller_poll(weft_future *f, weft_context *cx, void *out) {
    teller *t = (teller *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (t->i = 0; t->i < t->lookups; t->i++)
        WEFT_AWAIT(f, cx, weft_yield_now(&t->rpc), NULL); /* read-only requests */
    WEFT_AWAIT(f, cx, weft_yield_now(&t->rpc), NULL);     /* authorise */
    if (*t->balance >= 60) {                               /* check */
        WEFT_AWAIT(f, cx, weft_yield_now(&t->rpc), NULL); /* ledger append */
        *t->balance -= 60;                                 /* act on a stale check */
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(teller, teller_poll, NULL);

typedef struct stale_check {
    weft_future base;
    int64_t balance;
    weft_join_handle a, b;
} stale_check;

static weft_poll stale_check_poll(weft_future *f, weft_context *cx, void *out) {
    stale_check *s = (stale_check *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->balance = 100;
    weft_spawn(&WEFT_NEW(teller, .balance = &s->balance, .lookups = 0), &s->a);
    weft_spawn(&WEFT_NEW(teller, .balance = &s->balance, .lookups = 6), &s->b);
    WEFT_AWAIT(f, cx, weft_join(&s->a), NULL);
    WEFT_AWAIT(f, cx, weft_join(&s->b), NULL);
    WEFT_SIM_ASSERT(f, cx, s->balance >= 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(stale_check, stale_check_poll, NULL);
static void make_stale_check(weft_future *slot) { *(stale_check *)slot = WEFT_NEW(stale_check); }

/* ----------------------------------------------------------- leader_terms */

#define REPLICAS 4
#define TICKS 24
#define LEASE_TICKS 6 /* a term this long fills the lease table */

typedef struct cluster_state {
    int leader, led_tick, term_start;
    int full_terms; /* consecutive terms of at least LEASE_TICKS, the last one ended */
    bool broken;
} cluster_state;

typedef struct replica {
    weft_future base;
    cluster_state *c;
    int id, tick;
    weft_sleep nap;
} replica;

static weft_poll replica_poll(weft_future *f, weft_context *cx, void *out) {
    replica *r = (replica *)f;
    cluster_state *c = r->c;
    (void)out;
    WEFT_BEGIN(f);
    for (r->tick = 1; r->tick <= TICKS; r->tick++) {
        WEFT_AWAIT(f, cx, weft_sleep_until(&r->nap, (weft_instant)WEFT_MS(r->tick)), NULL);
        if (c->led_tick >= r->tick)
            continue; /* someone led this tick already */
        c->led_tick = r->tick;
        if (c->leader != r->id) { /* a new term */
            int held = r->tick - c->term_start;
            c->full_terms = c->leader >= 0 && held >= LEASE_TICKS ? c->full_terms + 1 : 0;
            /* the lease table keeps one full term: the second one in a
             * row overwrites the live entry */
            if (c->full_terms >= 2)
                c->broken = true;
            c->leader = r->id;
            c->term_start = r->tick;
        }
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(replica, replica_poll, NULL);

typedef struct leader_terms {
    weft_future base;
    cluster_state c;
    int i;
    weft_join_handle jh[REPLICAS];
} leader_terms;

static weft_poll leader_terms_poll(weft_future *f, weft_context *cx, void *out) {
    leader_terms *s = (leader_terms *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->c = (cluster_state){.leader = -1};
    for (s->i = 0; s->i < REPLICAS; s->i++)
        weft_spawn(&WEFT_NEW(replica, .c = &s->c, .id = s->i), &s->jh[s->i]);
    for (s->i = 0; s->i < REPLICAS; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), NULL);
    WEFT_SIM_ASSERT(f, cx, !s->c.broken);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(leader_terms, leader_terms_poll, NULL);
static void make_leader_terms(weft_future *slot) { *(leader_terms *)slot = WEFT_NEW(leader_terms); }

/* ------------------------------------------------------------ measuring */

typedef struct bug {
    const char *name;
    weft_sim_test t;
} bug;

static const bug bugs[] = {
    {"lost_update", {"lost_update", make_lost_update, sizeof(lost_update), NULL, NULL, false}},
    {"stale_check", {"stale_check", make_stale_check, sizeof(stale_check), NULL, NULL, false}},
    {"leader_terms", {"leader_terms", make_leader_terms, sizeof(leader_terms), NULL, NULL, false}},
};

typedef struct strategy {
    const char *name;
    int strategy;
    uint32_t depth;
} strategy;

static const strategy strategies[] = {
    {"swarm (default)", WEFT_SIM_SWARM, 3}, {"random", WEFT_SIM_RANDOM, 3},
    {"pct depth 2", WEFT_SIM_PCT, 2},       {"pct depth 3", WEFT_SIM_PCT, 3},
    {"pct depth 5", WEFT_SIM_PCT, 5},
};

/* The horizon as the sweep measures it (harness.c: probe_horizon). */
static uint64_t horizon_of(const weft_sim_test *t) {
    uint64_t longest = 1;
    for (uint64_t seed = 0; seed < 4; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        b.sim_exact_time = true;
        weft_sim_result r;
        weft_sim_run(t, &b, &r);
        if (r.steps > longest)
            longest = r.steps;
    }
    return longest;
}

typedef struct found {
    uint64_t first; /* UINT64_MAX: none */
    uint64_t failures, seeds;
    double secs;
} found;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seeds 0..n-1; stops at the first failure when `first_only`. */
static found hunt(const bug *g, const strategy *st, uint64_t n, bool first_only) {
    found out = {UINT64_MAX, 0, 0, 0};
    uint64_t horizon = horizon_of(&g->t);
    double start = now_s();
    for (uint64_t seed = 0; seed < n; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        b.sim_strategy = st->strategy;
        b.sim_pct_depth = st->depth;
        b.sim_pct_horizon = horizon;
        b.sim_max_steps = 1000000;
        weft_sim_result r;
        out.seeds++;
        if (weft_sim_run(&g->t, &b, &r) == 0)
            continue;
        out.failures++;
        if (out.first == UINT64_MAX)
            out.first = seed;
        if (first_only)
            break;
    }
    out.secs = now_s() - start;
    return out;
}

static int check(void) {
    int bad = 0;
    /* swarm: each bug early; the simple race at seed 0 or 1 */
    static const uint64_t within[] = {2, 100, 500};
    for (size_t i = 0; i < sizeof bugs / sizeof bugs[0]; i++) {
        found f = hunt(&bugs[i], &strategies[0], within[i], true);
        printf("%s: swarm finds it at seed %" PRIu64 " (wanted below %" PRIu64 ")\n",
               bugs[i].name, f.first, within[i]);
        bad += f.first == UINT64_MAX;
    }
    found r = hunt(&bugs[2], &strategies[1], 20000, true);
    if (r.first != UINT64_MAX) {
        printf("leader_terms: uniform random found it at seed %" PRIu64 ": no depth-3 bug\n",
               r.first);
        bad++;
    } else
        printf("leader_terms: uniform random: not in 20000 seeds\n");
    return bad ? 1 : 0;
}

int main(int argc, char **argv) {
    uint64_t n = 100000;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            return check();
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: sim_bugs [--seeds N] [--only BUG] | --check\n");
            return 2;
        }
    }
    printf("%-13s %-16s %12s %10s %9s %10s\n", "bug", "strategy", "first seed", "failures",
           "seeds", "seeds/s");
    for (size_t i = 0; i < sizeof bugs / sizeof bugs[0]; i++) {
        if (only && strcmp(only, bugs[i].name) != 0)
            continue;
        for (size_t j = 0; j < sizeof strategies / sizeof strategies[0]; j++) {
            found f = hunt(&bugs[i], &strategies[j], n, false);
            char first[24];
            if (f.first == UINT64_MAX)
                snprintf(first, sizeof first, "none");
            else
                snprintf(first, sizeof first, "%" PRIu64, f.first);
            printf("%-13s %-16s %12s %10" PRIu64 " %9" PRIu64 " %10.0f\n", bugs[i].name,
                   strategies[j].name, first, f.failures, f.seeds,
                   f.secs > 0 ? (double)f.seeds / f.secs : 0.0);
            fflush(stdout);
        }
    }
    return 0;
}
