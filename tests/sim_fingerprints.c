/* weft tests — prints the fingerprints of a mixed simulated workload
 * (spawns, joins, timers, random draws, fault points, one of them in a
 * header, every strategy), of simulated hosts (crash both ways, restart,
 * pause, seeded clocks, lookups) and of a simulated network under the
 * seed's swarm draw (latency tails from integer-only exponentials, loss,
 * duplication, retransmissions, a partition healed), so
 * .ci/fingerprints.sh and .ci/portable_seeds.sh can compare builds:
 * compilers, -O levels, build directories, operating systems.
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

#include "weft/net.h"
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

/* Simulated hosts: a client host pings an echo host over TCP, each on its
 * own seeded clock, while the root crashes (reset, silent), restarts and
 * pauses them. */
typedef struct echo {
    weft_future base;
    weft_stream *s;
    int64_t n;
    weft_net_op op;
    char buf[64];
} echo;
static weft_poll echo_poll(weft_future *f, weft_context *cx, void *out) {
    echo *e = (echo *)f;
    (void)out;
    WEFT_BEGIN(f);
    do {
        WEFT_AWAIT(f, cx, weft_stream_read(&e->op, e->s, e->buf, sizeof e->buf), &e->n);
        if (e->n > 0)
            WEFT_AWAIT(f, cx, weft_stream_write_all(&e->op, e->s, e->buf, (size_t)e->n), &e->n);
    } while (e->n > 0);
    weft_socket_close(e->s);
    e->s = NULL;
    WEFT_END(f);
}
static void echo_drop(weft_future *f) {
    if (((echo *)f)->s)
        weft_socket_close(((echo *)f)->s);
}
WEFT_FUTURE_DEFINE_VOID(echo, echo_poll, echo_drop);

typedef struct acceptor {
    weft_future base;
    weft_listener *l;
    weft_stream *c;
    int64_t r;
    weft_net_op op;
} acceptor;
static weft_poll acceptor_poll(weft_future *f, weft_context *cx, void *out) {
    acceptor *a = (acceptor *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&a->op, a->l, &a->c, NULL), &a->r);
        if (a->r == 0)
            weft_spawn(&WEFT_NEW(echo, .s = a->c), NULL);
    }
    WEFT_END(f);
}
static void acceptor_drop(weft_future *f) { weft_socket_close(((acceptor *)f)->l); }
WEFT_FUTURE_DEFINE_VOID(acceptor, acceptor_poll, acceptor_drop);

static void server_start(weft_sim_host *h, void *disk) {
    (void)h;
    (void)disk;
    weft_addr any;
    weft_listener *l;
    weft_addr_parse("0.0.0.0:7000", &any);
    if (weft_listener_bind(&any, NULL, &l) == 0)
        weft_spawn(&WEFT_NEW(acceptor, .l = l), NULL);
}

typedef struct pinger {
    weft_future base;
    uint64_t *pongs;
    weft_stream *s;
    int64_t r;
    weft_net_op op;
    weft_sleep nap;
    weft_timeout tmo;
    weft_lookup lk;
    weft_addr to;
    char buf[4];
} pinger;
static weft_poll pinger_poll(weft_future *f, weft_context *cx, void *out) {
    pinger *p = (pinger *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_lookup(&p->lk, "server", 7000, &p->to, 1), &p->r);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_connect(&p->op, &p->to, NULL, &p->s), &p->r);
        while (p->r == 0) {
            WEFT_AWAIT(f, cx, weft_stream_write_all(&p->op, p->s, "ping", 4), &p->r);
            if (p->r < 0)
                break;
            weft_timeout(&p->tmo, WEFT_MS(500), weft_stream_read_exact(&p->op, p->s, p->buf, 4));
            WEFT_AWAIT(f, cx, &p->tmo.base, &p->r);
            if (weft_timeout_status(&p->tmo) || p->r < 0)
                break;
            *p->pongs += weft_now() % 1000; /* the host's clock, in the fingerprint */
            WEFT_AWAIT(f, cx, weft_sleep(&p->nap, WEFT_MS((int64_t)weft_random_below(50))), NULL);
            p->r = 0;
        }
        if (p->s)
            weft_socket_close(p->s);
        p->s = NULL;
        WEFT_AWAIT(f, cx, weft_sleep(&p->nap, WEFT_MS(20)), NULL);
    }
    WEFT_END(f);
}
static void pinger_drop(weft_future *f) {
    if (((pinger *)f)->s)
        weft_socket_close(((pinger *)f)->s);
}
WEFT_FUTURE_DEFINE_VOID(pinger, pinger_poll, pinger_drop);

static void client_start(weft_sim_host *h, void *disk) {
    (void)h;
    weft_spawn(&WEFT_NEW(pinger, .pongs = disk), NULL);
}

typedef struct hosts_body {
    weft_future base;
    uint64_t pongs;
    weft_sim_host *srv, *cli;
    int i;
    weft_sleep nap;
} hosts_body;
static weft_poll hosts_body_poll(weft_future *f, weft_context *cx, void *out) {
    hosts_body *b = (hosts_body *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_sim_host_create(NULL, &(weft_sim_host_config){.name = "server", .start = server_start},
                         &b->srv);
    weft_sim_host_create(NULL, &(weft_sim_host_config){.name = "client", .start = client_start,
                                                       .disk = &b->pongs},
                         &b->cli);
    for (b->i = 0; b->i < 8; b->i++) {
        WEFT_AWAIT(f, cx, weft_sleep(&b->nap, WEFT_MS(100 + (int64_t)weft_random_below(400))), NULL);
        switch (weft_random_below(4)) {
        case 0:
            if (weft_sim_host_crash(b->srv, (int)weft_random_below(2)) == 0)
                break;
            weft_sim_host_restart(b->srv);
            break;
        case 1:
            weft_sim_host_restart(b->srv);
            break;
        case 2:
            if (weft_sim_host_pause(b->cli))
                weft_sim_host_resume(b->cli);
            break;
        default:
            weft_sim_host_resume(b->cli);
        }
    }
    weft_sim_host_crash(b->srv, WEFT_SIM_CRASH_RESET); /* their tasks end here, not at shutdown */
    weft_sim_host_crash(b->cli, WEFT_SIM_CRASH_RESET);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(hosts_body, hosts_body_poll, NULL);
static void make_hosts(weft_future *slot) { *(hosts_body *)slot = WEFT_NEW(hosts_body); }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--sweep") == 0) {
        static const weft_sim_test h = {"header_fault", make_header_fault, sizeof(header_fault),
                                        NULL, NULL, false};
        return weft_sim_sweep(&h) ? 1 : 0;
    }
    uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 16;
    static const weft_sim_test tests[] = {
        {"cluster", make_cluster, sizeof(cluster), NULL, NULL, false},
        {"hosts", make_hosts, sizeof(hosts_body), NULL, NULL, false},
    };
    for (size_t k = 0; k < sizeof tests / sizeof tests[0]; k++)
        for (int strategy = WEFT_SIM_RANDOM; strategy <= WEFT_SIM_SWARM; strategy++)
            for (uint64_t seed = 0; seed < seeds; seed++) {
                weft_builder b;
                weft_builder_init(&b, WEFT_SIM);
                b.sim_seed = seed;
                b.sim_strategy = strategy;
                weft_sim_result r;
                int err = weft_sim_run(&tests[k], &b, &r);
                printf("%s%s seed %" PRIu64 ": %016" PRIx64 " steps %" PRIu64
                       " events %" PRIu64 " end %" PRIu64 " err %d\n",
                       k ? "hosts " : "", strategy_name(strategy), seed, r.fingerprint, r.steps,
                       r.events, r.end_time, err);
            }
    /* FP_TRACE=path writes the network runs' trace (the last seed's stays) */
    static const weft_sim_test nt = {"network", make_streamer, sizeof(streamer), NULL, NULL,
                                     false};
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
