/* weft — schedules (private): the decisions of a simulated run, recorded,
 * written as a text file, read back and replayed.
 *
 * A decision is what the seed would otherwise choose: which ready task a
 * step polls, whether an enabled fault point fires, the value a
 * weft_random_* draw returns (and, with the simulated network, each
 * delivery, delay and drop).  Replaying a schedule takes every decision
 * from it instead of the seed:
 *  - strictly (WEFT_SCHEDULE, a schedule in seeds/): a decision that does
 *    not fit the run (its task is not ready, the run draws a random number
 *    where the schedule has a pick, the schedule ends while the run goes
 *    on) fails the run with WEFT_ESCHEDULE, naming the decision and what
 *    the run offered; nothing else ever runs silently;
 *  - leniently (the shrinker's candidates): a decision that does not fit,
 *    and every decision past the end, is replaced by a default one: keep
 *    polling the task that ran last if it is still ready (no preemption),
 *    else the ready task of lowest id (block_on's future counts as 0); a
 *    fault point does not fire; a random draw comes from the seed.
 *
 * The file, one decision per line after a header of `key value` lines:
 *
 *   # weft schedule: replay with WEFT_SCHEDULE=<this file>
 *   test bank_race
 *   seed 6
 *   failure WEFT_EFAILED ../examples/bank_race.c:90: assertion failed: ...
 *   steps 12
 *   preemptions 2
 *   faults 0
 *   time 200000 1000000   # step time, timer slack (ns): only when not 0
 *   pick 0            # step 1: block_on's future
 *   pick 1            # a task id
 *   fault 0x3a1f... 1 ../src/x.c:88    # site hash, fired, site
 *   random 0x5f1c...
 *   end
 */
#ifndef WEFT_SIM_SCHEDULE_H
#define WEFT_SIM_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WEFT__DEC_PICK = 1, WEFT__DEC_FAULT = 2, WEFT__DEC_RANDOM = 3 };

/* A pick of no task in particular: the lenient default (shrinker only). */
#define WEFT__DEC_ANY UINT64_MAX

typedef struct weft__decision {
    uint8_t kind;
    bool preempt;   /* a pick that switched away from a still-ready task */
    uint64_t v;     /* pick: task id (0: root); fault: fired; random: value */
    uint64_t site;  /* fault: the site's hash */
    char *text;     /* fault: the site (owned) */
} weft__decision;

typedef struct weft__schedule {
    weft__decision *d;
    size_t n, cap;
    char test[128];
    uint64_t seed;
    int fail_code;         /* of the run it came from (0: passed) */
    char failure[1024];
    uint64_t steps, preemptions, faults;
    uint64_t step_time, timer_slack; /* the run's time knobs (ns), replayed as they were */
    char path[512];        /* where it was read from (for messages) */
} weft__schedule;

void weft__schedule_init(weft__schedule *sc);
void weft__schedule_free(weft__schedule *sc);
/* Appends a decision (`text` copied); false when out of memory. */
bool weft__schedule_push(weft__schedule *sc, uint8_t kind, uint64_t v, uint64_t site,
                         const char *text, bool preempt);
/* A deep copy of `from` into `to` (initialised here); false when out of memory. */
bool weft__schedule_copy(weft__schedule *to, const weft__schedule *from);
int weft__schedule_write(const weft__schedule *sc, const char *path);
/* Reads `path`; on a bad file returns WEFT_EINVAL with the reason in `why`. */
int weft__schedule_read(weft__schedule *sc, const char *path, char *why, size_t n);

struct weft__sim;
/* The sim's hooks (scheduler.c, buggify.c): each returns the decision
 * the run takes, recording it when recording, taking it from the plan when
 * replaying.  `natural` is what the seed chose. */
size_t weft__sched_pick(struct weft__sim *s, size_t candidates, size_t natural);
uint64_t weft__sched_random(struct weft__sim *s, uint64_t natural);
bool weft__sched_fault(struct weft__sim *s, uint64_t site_hash, const char *site, bool natural);
/* After a strict replay: fails the run when decisions are left over. */
void weft__sched_finish(struct weft__sim *s);
/* A replayed pick that fits nothing: the sim loop stops. */
#define WEFT__PICK_REFUSED SIZE_MAX

#endif
