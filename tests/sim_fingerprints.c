/* weft tests — prints the fingerprints of a mixed simulated workload
 * (spawns, joins, timers, random draws, fault points, both strategies) and
 * of a simulated network under the seed's swarm draw (latency tails from
 * integer-only exponentials, loss, duplication, retransmissions, a
 * partition healed), so .ci/fingerprints.sh can compare builds:
 * compilers, -O levels, operating systems. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft/net.h"
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

/* Host a streams 64 KiB to host b and pings it over UDP, across a
 * partition that heals after 2 s. */
typedef struct streamer {
    weft_future base;
    weft_addr addr;
    weft_listener *l;
    weft_stream *c, *s;
    weft_datagram *ua, *ub;
    weft_socket_options o;
    weft_net_op op;
    int64_t n;
    int i;
    size_t got;
    char buf[4096];
    weft_sleep nap;
} streamer;

static weft_poll streamer_poll(weft_future *f, weft_context *cx, void *out) {
    streamer *t = (streamer *)f;
    (void)out;
    WEFT_BEGIN(f);
    {
        const char *a[] = {"10.0.0.1"}, *b[] = {"10.0.0.2"};
        weft_sim_host_add(NULL, "a", a, 1);
        weft_sim_host_add(NULL, "b", b, 1);
        weft_addr_from_ip("10.0.0.2", 80, &t->addr);
        weft_listener_bind(&t->addr, NULL, &t->l);
        weft_addr_from_ip("10.0.0.2", 53, &t->addr);
        weft_datagram_bind(&t->addr, NULL, &t->ub);
        weft_addr_from_ip("10.0.0.1", 0, &t->addr);
        weft_datagram_bind(&t->addr, NULL, &t->ua);
        weft_socket_options_init(&t->o);
        t->o.bind_addr = &t->addr;
        weft_sim_partition(NULL, "a", "b", WEFT_SIM_BOTH_WAYS);
    }
    for (t->i = 0; t->i < 20; t->i++) {
        weft_addr_from_ip("10.0.0.2", 53, &t->addr);
        WEFT_AWAIT(f, cx, weft_datagram_send_to(&t->op, t->ua, "ping", 4, &t->addr), &t->n);
        WEFT_AWAIT(f, cx, weft_sleep(&t->nap, WEFT_MS(100)), NULL);
        if (t->i == 19)
            weft_sim_heal(NULL, "a", "b");
        while (weft_datagram_try_recv_from(t->ub, t->buf, sizeof t->buf, NULL) > 0)
            t->got++;
    }
    weft_addr_from_ip("10.0.0.1", 0, &t->addr);
    {
        weft_addr to;
        weft_addr_from_ip("10.0.0.2", 80, &to);
        weft_stream_connect_init(&t->op, &to, &t->o, &t->c, WEFT__SITE);
    }
    WEFT_AWAIT(f, cx, &t->op.base, &t->n);
    if (t->n)
        WEFT_RETURN(f, out, int, (int)t->n); /* refused: the swarm's connection failures */
    WEFT_AWAIT(f, cx, weft_listener_accept(&t->op, t->l, &t->s, NULL), &t->n);
    for (t->i = 0; t->i < 16; t->i++) {
        memset(t->buf, t->i, sizeof t->buf);
        WEFT_AWAIT(f, cx, weft_stream_write_all(&t->op, t->c, t->buf, sizeof t->buf), &t->n);
    }
    weft_stream_shutdown(t->c, WEFT_SHUT_WR);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&t->op, t->s, t->buf, sizeof t->buf), &t->n);
        if (t->n <= 0)
            break;
        t->got += (size_t)t->n;
    }
    WEFT_END(f);
}
static void streamer_drop(weft_future *f) {
    streamer *t = (streamer *)f;
    weft_socket_close(t->l);
    weft_socket_close(t->c);
    weft_socket_close(t->s);
    weft_socket_close(t->ua);
    weft_socket_close(t->ub);
}
WEFT_FUTURE_DEFINE(streamer, streamer_poll, streamer_drop, int);
static void make_streamer(weft_future *slot) { *(streamer *)slot = WEFT_NEW(streamer); }

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
    /* FP_TRACE=path writes the network runs' trace (the last seed's stays) */
    static const weft_sim_test nt = {"network", make_streamer, sizeof(streamer), NULL, NULL};
    for (uint64_t seed = 0; seed < seeds; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        b.sim_trace_path = getenv("FP_TRACE");
        weft_sim_result r;
        int err = weft_sim_run(&nt, &b, &r);
        printf("network seed %" PRIu64 ": %016" PRIx64 " steps %" PRIu64 " events %" PRIu64
               " end %" PRIu64 " err %d [%s]\n",
               seed, r.fingerprint, r.steps, r.events, r.end_time, err, r.network);
    }
    return 0;
}
