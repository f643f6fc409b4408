/* weft tests — a fault point in a header, for .ci/portable_seeds.sh: the
 * compilers spell a header's __FILE__ differently (and differently from
 * each build directory), and a seed must still mean the same run. */
#ifndef WEFT_TESTS_SIM_SITE_H
#define WEFT_TESTS_SIM_SITE_H

#include "weft/sim.h"

/* A retry budget that a fault point may cut: 3, or 1 when it fires. */
static inline int sim_site_retries(void) {
    if (WEFT_BUGGIFY_P(50))
        return 1;
    return 3;
}

#endif
