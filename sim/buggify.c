/* weft — fault points under the simulator (FoundationDB's BUGGIFY).
 *
 * Stage one: a call site is enabled for the whole run or not.  The choice
 * is a pure function of (seed, site text), so it does not depend on the
 * order in which sites are first reached, and adding a site elsewhere does
 * not reshuffle the others.  Stage two: each evaluation of an enabled site
 * fires with probability `percent`, drawn from the seeded stream and traced.
 * Disabled sites draw nothing and leave no event.
 */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "schedule.h"
#include "sim.h"

#define ENABLE_PERCENT 25

bool weft__sim_buggify(weft__rt *rt, const char *site, uint32_t percent) {
    weft__sim *s = weft__sim_of(rt);
    weft__sim_check_draw(s, "WEFT_BUGGIFY");
    if (!site)
        return false;
    uint64_t h = XXH3_64bits_withSeed(site, strlen(site), s->seed ^ UINT64_C(0xb0661f7));
    if (h % 100 >= ENABLE_PERCENT)
        return false;
    bool fired = weft__sim_below(s, 100) < (percent > 100 ? 100 : percent);
    if (s->plan || s->rec)
        fired = weft__sched_fault(s, h, site, fired);
    weft__sim_ev(s, WEFT__EV_BUGGIFY, h, fired, site);
    return fired;
}
