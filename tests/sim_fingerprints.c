/* weft tests — prints the fingerprints of a mixed simulated workload
 * (spawns, joins, timers, random draws, fault points, both strategies), so
 * .ci/fingerprints.sh can compare builds: compilers, -O levels. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft/sim.h"
#include "weft/time.h"

typedef struct node {
    weft_future base;
    uint64_t *total;
    int i;
    weft_sleep nap;
    weft_yield_now y;
} node;

static weft_poll node_poll(weft_future *f, weft_context *cx, void *out) {
    node *n = (node *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (n->i = 0; n->i < 5; n->i++) {
        WEFT_AWAIT(f, cx, weft_sleep(&n->nap, WEFT_US((int64_t)weft_random_below(5000))), NULL);
        if (WEFT_BUGGIFY())
            WEFT_AWAIT(f, cx, weft_sleep(&n->nap, WEFT_SECS(1)), NULL);
        *n->total += weft_random_below(100);
        if (WEFT_BUGGIFY_P(50))
            WEFT_AWAIT(f, cx, weft_yield_now(&n->y), NULL);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(node, node_poll, NULL);

typedef struct cluster {
    weft_future base;
    uint64_t total;
    int i;
    weft_join_handle jh[6];
} cluster;

static weft_poll cluster_poll(weft_future *f, weft_context *cx, void *out) {
    cluster *c = (cluster *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (c->i = 0; c->i < 6; c->i++)
        weft_spawn(&WEFT_NEW(node, .total = &c->total), &c->jh[c->i]);
    for (c->i = 0; c->i < 6; c->i++)
        WEFT_AWAIT(f, cx, weft_join(&c->jh[c->i]), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(cluster, cluster_poll, NULL);
static void make_cluster(weft_future *slot) { *(cluster *)slot = WEFT_NEW(cluster); }

int main(int argc, char **argv) {
    uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 16;
    static const weft_sim_test t = {"cluster", make_cluster, sizeof(cluster), NULL, NULL};
    for (int strategy = WEFT_SIM_RANDOM; strategy <= WEFT_SIM_PCT; strategy++)
        for (uint64_t seed = 0; seed < seeds; seed++) {
            weft_builder b;
            weft_builder_init(&b, WEFT_SIM);
            b.sim_seed = seed;
            b.sim_strategy = strategy;
            weft_sim_result r;
            int err = weft_sim_run(&t, &b, &r);
            printf("%s seed %" PRIu64 ": %016" PRIx64 " steps %" PRIu64 " events %" PRIu64
                   " end %" PRIu64 " err %d\n",
                   strategy == WEFT_SIM_PCT ? "pct" : "random", seed, r.fingerprint, r.steps,
                   r.events, r.end_time, err);
        }
    return 0;
}
