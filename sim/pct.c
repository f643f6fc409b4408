/* weft — PCT (probabilistic concurrency testing, Burckhardt et al. 2010),
 * as shuttle does it: every task gets a random priority when spawned; each
 * step runs the ready task of highest priority; at d-1 seeded change points
 * the task chosen at that step drops to a low priority (below every initial
 * one).  A task that yields (or wakes itself while polled: a spin) keeps
 * its priority for a few steps in a row (a yield is often one step of
 * work, an RPC's round trip: PCT must be able to run a task's several
 * steps while another waits), and past SPIN_STEPS consecutive ones drops
 * below every other task, demoted ones included, so a spin loop cannot
 * starve the task it waits for.  Three bands, highest first:
 *   initial     [2^62, 2^63)
 *   demoted     DEMOTED_BASE + 1 .. + 16 (change point i: + i + 1)
 *   yielded     below DEMOTED_BASE, each yield lower than the last
 *
 * Priorities live in the task's `prio` word (a sim task is on no queue); block_on's future has
 * its own (`root_prio`).  A pick scans the ready set: O(ready).
 *
 * Change points fall uniformly in steps 1..horizon, where the horizon is
 * the run length the sweep measured for the test (harness.c: the longest
 * of a few probe runs, as shuttle takes the longest run seen so far); a
 * seed's run length is not known before it runs, and a seed must replay
 * alone, so the probe is the same for every seed.  Without a horizon
 * (weft_sim_run with none set) they are drawn log-uniformly up to
 * 64 << 7 steps.
 */
#include "sim.h"

#define INITIAL_BASE (UINT64_C(1) << 62) /* initial priorities: [2^62, 2^63) */
#define DEMOTED_BASE (UINT64_C(1) << 61) /* change points, above every yielder */
/* Consecutive yields of one task (no other task ran between) before it
 * counts as spinning and drops below the others. */
#define SPIN_STEPS 12

static uint64_t prio_of(weft__task *t) { return t->prio; }
static void set_prio(weft__task *t, uint64_t p) { t->prio = p; }

static uint64_t initial_prio(weft__sim *s) {
    return INITIAL_BASE + (weft__sim_next(s) >> 2);
}

void weft__pct_init(weft__sim *s) {
    s->nchange = s->depth > 1 ? s->depth - 1 : 0;
    for (uint32_t i = 0; i < s->nchange; i++)
        s->change[i] = 1 + (s->horizon ? weft__sim_below(s, s->horizon)
                                       : weft__sim_below(s, UINT64_C(64) << weft__sim_below(s, 8)));
    s->root_prio = initial_prio(s);
    s->low_prio = DEMOTED_BASE;
}

void weft__pct_on_ready(weft__sim *s, weft__task *t, int hint) {
    if (hint == WEFT__SCHED_SPAWN)
        set_prio(t, initial_prio(s));
    else if (hint == WEFT__SCHED_YIELD) {
        if (s->spin_task != weft__task_pid(t)) {
            s->spin_task = weft__task_pid(t);
            s->spin_steps = 0;
        }
        if (++s->spin_steps >= SPIN_STEPS) {
            s->spin_steps = 0;
            set_prio(t, --s->low_prio);
        }
    }
}

/* The index of the highest priority candidate; index nready is the root. */
static size_t best(weft__sim *s, size_t candidates) {
    size_t at = 0;
    uint64_t top = 0;
    for (size_t i = 0; i < s->nready; i++) {
        uint64_t p = prio_of(s->ready[i]);
        if (p > top || (p == top && weft__task_pid(s->ready[i]) < weft__task_pid(s->ready[at]))) {
            top = p;
            at = i;
        }
    }
    if (candidates > s->nready && (s->root_prio > top || s->nready == 0))
        at = s->nready;
    return at;
}

size_t weft__pct_pick(weft__sim *s, size_t candidates) {
    size_t at = best(s, candidates);
    for (uint32_t i = 0; i < s->nchange; i++) {
        if (s->change[i] != s->steps)
            continue;
        /* Change point i: the chosen one drops into the demoted band. */
        uint64_t p = DEMOTED_BASE + i + 1;
        if (at == s->nready) {
            s->root_prio = p;
            weft__sim_ev(s, WEFT__EV_PRIO, 0, p, NULL);
        } else {
            set_prio(s->ready[at], p);
            weft__sim_ev(s, WEFT__EV_PRIO, weft__task_pid(s->ready[at]), p, NULL);
        }
        at = best(s, candidates);
    }
    if ((at == s->nready ? 0 : weft__task_pid(s->ready[at])) != s->spin_task)
        s->spin_steps = 0; /* another task runs: no streak */
    return at;
}
