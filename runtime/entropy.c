/* weft — randomness through the runtime.
 *
 * Production: splitmix64 over an atomic counter seeded from the OS, so any
 * thread may draw without a lock.  A scheduler may install its own stream
 * (the simulator's is seeded and recorded in the trace).
 */
#include <stdio.h>

#include "weft/sim.h"
#include "rt.h"

static uint64_t splitmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

uint64_t weft__os_random_seed(void) {
    uint64_t seed;
    if (!weft__os_random_bytes(&seed, sizeof seed))
        seed = weft__os_now_ns() ^ (uint64_t)(uintptr_t)&seed;
    return seed;
}

uint64_t weft__random_os_seeded(weft__rt *rt) {
    uint64_t c = atomic_fetch_add_explicit(&rt->rng_counter, GOLDEN_GAMMA, memory_order_relaxed);
    return splitmix64(c + GOLDEN_GAMMA);
}

uint64_t weft_random_u64(void) {
    weft__rt *rt = weft__cur.rt;
    if (rt)
        return rt->random(rt);
    return splitmix64(weft__os_random_seed());
}

uint64_t weft_random_below(uint64_t n) {
    if (n == 0)
        return 0;
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t x = weft_random_u64();
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            x = weft_random_u64();
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Fault points: never fire in production; a simulating runtime installs
 * its `buggify` hook (weft/sim.h). */
bool weft_buggify_at(const char *site, uint32_t percent) {
    weft__rt *rt = weft__cur.rt;
    return rt && rt->buggify && rt->buggify(rt, site, percent);
}
