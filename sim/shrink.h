/* weft — shrinking a failing run (private): from a seed that fails, search
 * for a smaller schedule that fails the same way. */
#ifndef WEFT_SIM_SHRINK_H
#define WEFT_SIM_SHRINK_H

#include "schedule.h"
#include "weft/sim.h"

typedef struct weft__shrink_stats {
    uint64_t runs;           /* candidate runs made */
    double secs;             /* wall time the search took */
    uint64_t steps[2], preemptions[2], faults[2], decisions[2]; /* before, after */
    bool budget_hit;         /* stopped by WEFT_SHRINK_RUNS / _SECS, not done */
} weft__shrink_stats;

/* Records the run of builder `b` (a failing seed), then shrinks it: a
 * candidate is kept when it fails with the same failure (the same code;
 * for an assertion the same text) and is smaller: fewer preemptions, then
 * fewer fault firings, then fewer steps, then fewer decisions.  `out` gets
 * the smallest schedule found (an exact recording of a run, replayable
 * strictly).  WEFT_EINVAL when the seed does not fail. */
int weft__sim_shrink(const weft_sim_test *t, const weft_builder *b, uint64_t max_runs,
                     double max_secs, weft__schedule *out, weft__shrink_stats *st);

#endif
