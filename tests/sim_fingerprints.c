/* weft tests — prints the fingerprints of a mixed simulated workload
 * (spawns, joins, timers, random draws, fault points, one of them in a
 * header, every strategy), so .ci/fingerprints.sh and
 * .ci/portable_seeds.sh can compare builds: compilers, -O levels, build
 * directories.
 *
 *   sim_fingerprints [N]     seeds 0..N-1 of each strategy (default 16)
 *   sim_fingerprints --sweep the sweep of the test "header_fault" (fails
 *                            on the seeds whose header fault point cut a
 *                            retry budget twice), as weft_sim_sweep runs it
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/sim.h"
#include "weft/time.h"
#include "sim_site.h"

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
        *n->total += (uint64_t)sim_site_retries();
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

/* Fails when the header's fault point cut the budget in two of three
 * tries: a failure that only the header site's identity decides. */
typedef struct header_fault {
    weft_future base;
    int cut, i;
    weft_yield_now y;
} header_fault;

static weft_poll header_fault_poll(weft_future *f, weft_context *cx, void *out) {
    header_fault *h = (header_fault *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (h->i = 0; h->i < 3; h->i++) {
        h->cut += sim_site_retries() == 1;
        WEFT_AWAIT(f, cx, weft_yield_now(&h->y), NULL);
    }
    WEFT_SIM_ASSERT(f, cx, h->cut < 2);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(header_fault, header_fault_poll, NULL);
static void make_header_fault(weft_future *slot) { *(header_fault *)slot = WEFT_NEW(header_fault); }

static const char *strategy_name(int strategy) {
    return strategy == WEFT_SIM_PCT ? "pct" : strategy == WEFT_SIM_SWARM ? "swarm" : "random";
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--sweep") == 0) {
        static const weft_sim_test h = {"header_fault", make_header_fault, sizeof(header_fault),
                                        NULL, NULL, false};
        return weft_sim_sweep(&h) ? 1 : 0;
    }
    uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 16;
    static const weft_sim_test t = {"cluster", make_cluster, sizeof(cluster), NULL, NULL, false};
    for (int strategy = WEFT_SIM_RANDOM; strategy <= WEFT_SIM_SWARM; strategy++)
        for (uint64_t seed = 0; seed < seeds; seed++) {
            weft_builder b;
            weft_builder_init(&b, WEFT_SIM);
            b.sim_seed = seed;
            b.sim_strategy = strategy;
            weft_sim_result r;
            int err = weft_sim_run(&t, &b, &r);
            printf("%s seed %" PRIu64 ": %016" PRIx64 " steps %" PRIu64 " events %" PRIu64
                   " end %" PRIu64 " err %d\n",
                   strategy_name(strategy), seed, r.fingerprint, r.steps,
                   r.events, r.end_time, err);
        }
    return 0;
}
