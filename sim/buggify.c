/* weft — fault points under the simulator (FoundationDB's BUGGIFY).
 *
 * Stage one: a call site is enabled for the whole run or not.  The choice
 * is a pure function of (seed, site key), so it does not depend on the
 * order in which sites are first reached, and adding a site elsewhere does
 * not reshuffle the others.  The site key is the file's base name and the
 * line ("net.h:42"): __FILE__ is spelled as the compiler was handed the
 * file, which differs by compiler ("./x.h" under clang), by build
 * directory ("../../src/x.c" from a deeper one) and by working directory,
 * and a seed must mean the same run in every build.  Two files of one
 * base name share a key per line: they are switched on together, and
 * their firings are still drawn one by one.  Stage two: each evaluation of an enabled site
 * fires with probability `percent`, drawn from the seeded stream and traced.
 * Disabled sites draw nothing and leave no event.
 */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "schedule.h"
#include "sim.h"

#define ENABLE_PERCENT 25

/* The part of "dir/file.c:12" that is the same in every build: what
 * follows the last path separator (either, for Windows). */
const char *weft__sim_site_key(const char *site) {
    const char *key = site;
    for (const char *p = site; *p; p++)
        if (*p == '/' || *p == '\\')
            key = p + 1;
    return key;
}

bool weft__sim_buggify(weft__rt *rt, const char *site, uint32_t percent) {
    weft__sim *s = weft__sim_of(rt);
    weft__sim_check_draw(s, "WEFT_BUGGIFY");
    if (!site)
        return false;
    const char *key = weft__sim_site_key(site);
    uint64_t h = XXH3_64bits_withSeed(key, strlen(key), s->seed ^ UINT64_C(0xb0661f7));
    if (h % 100 >= ENABLE_PERCENT)
        return false;
    bool fired = weft__sim_below(s, 100) < (percent > 100 ? 100 : percent);
    if (s->plan || s->rec)
        fired = weft__sched_fault(s, h, site, fired);
    weft__sim_ev(s, WEFT__EV_BUGGIFY, h, fired, site);
    return fired;
}
