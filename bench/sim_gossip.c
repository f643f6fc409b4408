/* weft-sim-gossip — the simulated network at scale: N hosts gossip over
 * UDP for S seconds of virtual time, once per seed.  The cost of a run
 * grows with the messages in flight, not with the host pairs (turmoil's
 * users report O(n^2) links making such a test never finish).
 *
 *   weft-sim-gossip [--hosts N] [--secs S] [--seeds K] [--calm]
 *
 * Each host (10.x.y.z) wakes every 200 ms (plus up to 50 ms, seeded),
 * reads what arrived, and sends the highest value it knows to 3 peers
 * drawn at random; the run reports when every host knew the maximum.
 * The network is the seed's swarm draw (loss, duplication, tails...)
 * unless --calm.  Prints, per run and in total: hosts, messages sent and
 * delivered, messages per second of wall time, seeds per second.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/net.h"
#include "weft/sim.h"
#include "weft/time.h"
#include "weft/weft.h"

#define FANOUT 3
#define PORT 7946

typedef struct world {
    int hosts;
    uint64_t *best;        /* per host: the highest value it has heard of */
    weft_addr *addr;       /* per host: its gossip address */
    uint64_t max;          /* the highest of all */
    int knowing;           /* hosts that know it */
    weft_instant converged; /* when the last one learnt it (0: not yet) */
    uint64_t sent, received;
} world;

static weft_addr host_addr(int i, uint16_t port) {
    char ip[32];
    snprintf(ip, sizeof ip, "10.%d.%d.%d", (i + 1) >> 16 & 255, (i + 1) >> 8 & 255, (i + 1) & 255);
    weft_addr a;
    weft_addr_from_ip(ip, port, &a);
    return a;
}

typedef struct gossiper {
    weft_future base;
    world *w;
    int id, k, peer, i;
    weft_datagram *u;
    weft_addr to, from;
    weft_sleep nap;
    weft_net_op op;
    int64_t n;
    unsigned char buf[16];
} gossiper;

static void learn(world *w, int id, uint64_t v) {
    if (v <= w->best[id])
        return;
    w->best[id] = v;
    if (v == w->max && ++w->knowing == w->hosts)
        w->converged = weft_now();
}

static weft_poll gossiper_poll(weft_future *f, weft_context *cx, void *out) {
    gossiper *g = (gossiper *)f;
    (void)out;
    WEFT_BEGIN(f);
    g->to = g->w->addr[g->id];
    if (weft_datagram_bind(&g->to, NULL, &g->u)) {
        fprintf(stderr, "weft-sim-gossip: bind failed\n");
        exit(1);
    }
    for (;;) {
        WEFT_AWAIT(f, cx, weft_sleep(&g->nap, WEFT_MS(200 + (int64_t)weft_random_below(50))),
                   NULL);
        for (;;) { /* what arrived meanwhile */
            int64_t r = weft_datagram_try_recv_from(g->u, g->buf, sizeof g->buf, &g->from);
            if (r < 0)
                break;
            g->w->received++;
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v |= (uint64_t)g->buf[i] << (8 * i);
            learn(g->w, g->id, v);
        }
        for (g->k = 0; g->k < FANOUT; g->k++) {
            g->peer = (int)weft_random_below((uint64_t)g->w->hosts - 1);
            g->to = g->w->addr[g->peer >= g->id ? g->peer + 1 : g->peer];
            for (g->i = 0; g->i < 8; g->i++)
                g->buf[g->i] = (unsigned char)(g->w->best[g->id] >> (8 * g->i));
            WEFT_AWAIT(f, cx, weft_datagram_send_to(&g->op, g->u, g->buf, 8, &g->to), &g->n);
            g->w->sent += g->n == 8;
        }
    }
    WEFT_END(f);
}
static void gossiper_drop(weft_future *f) { weft_socket_close(((gossiper *)f)->u); }
WEFT_FUTURE_DEFINE(gossiper, gossiper_poll, gossiper_drop, int);

typedef struct run {
    weft_future base;
    world *w;
    int64_t secs;
    int i;
    weft_join_handle *jh;
    weft_sleep phase;
} run;

static weft_poll run_poll(weft_future *f, weft_context *cx, void *out) {
    run *r = (run *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (r->i = 0; r->i < r->w->hosts; r->i++)
        weft_spawn(&WEFT_NEW(gossiper, .w = r->w, .id = r->i), &r->jh[r->i]);
    WEFT_AWAIT(f, cx, weft_sleep(&r->phase, WEFT_SECS(r->secs)), NULL);
    for (r->i = 0; r->i < r->w->hosts; r->i++)
        weft_join_abort(&r->jh[r->i]);
    for (r->i = 0; r->i < r->w->hosts; r->i++)
        WEFT_AWAIT(f, cx, weft_join(&r->jh[r->i]), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(run, run_poll, NULL);

static double cpu_s(void) { return (double)clock() / CLOCKS_PER_SEC; }

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(FILE *to, int status) {
    fprintf(to, "usage: weft-sim-gossip [--hosts N] [--secs S] [--seeds K] [--calm]\n"
                "  N hosts (default 500) gossip over the simulated network for S seconds\n"
                "  of virtual time (60), once per seed 0..K-1 (3); --calm: no faults\n");
    return status;
}

int main(int argc, char **argv) {
    long hosts = 500, secs = 60, seeds = 3;
    bool calm = false;
    for (int i = 1; i < argc; i++) {
        long *v = strcmp(argv[i], "--hosts") == 0   ? &hosts
                  : strcmp(argv[i], "--secs") == 0  ? &secs
                  : strcmp(argv[i], "--seeds") == 0 ? &seeds
                                                    : NULL;
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0)
            return usage(stdout, 0);
        if (strcmp(argv[i], "--calm") == 0) {
            calm = true;
            continue;
        }
        if (!v || i + 1 >= argc || (*v = strtol(argv[i + 1], &end, 10), *end) || *v < 1 ||
            *v > 1000000 || (v == &hosts && *v < 2)) {
            fprintf(stderr, "weft-sim-gossip: bad argument: %s\n", argv[i]);
            return usage(stderr, 2);
        }
        i++;
    }
    uint64_t total_msgs = 0;
    double t_all = wall_s(), c_all = cpu_s();
    for (long seed = 0; seed < seeds; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = (uint64_t)seed;
        b.sim_net = calm ? WEFT_SIM_NET_CALM : WEFT_SIM_NET_SWARM;
        b.sim_max_steps = 0;
        weft_runtime *rt;
        if (weft_runtime_new(&b, &rt)) {
            fprintf(stderr, "weft-sim-gossip: cannot make a sim runtime\n");
            return 1;
        }
        world w = {.hosts = (int)hosts};
        w.best = calloc((size_t)hosts, sizeof *w.best);
        w.addr = calloc((size_t)hosts, sizeof *w.addr);
        weft_join_handle *jh = calloc((size_t)hosts, sizeof *jh);
        if (!w.best || !w.addr || !jh)
            return 1;
        for (long i = 0; i < hosts; i++) {
            char name[32], ip[32];
            weft_addr a = host_addr((int)i, 0);
            w.addr[i] = host_addr((int)i, PORT);
            weft_addr_format(&a, ip, sizeof ip);
            ip[strlen(ip) - 2] = 0; /* drop the ":0" */
            snprintf(name, sizeof name, "h%ld", i);
            const char *ips[] = {ip};
            if (weft_sim_host_add(weft_runtime_handle(rt), name, ips, 1)) {
                fprintf(stderr, "weft-sim-gossip: cannot add host %s (%s)\n", name, ip);
                return 1;
            }
            w.best[i] = (uint64_t)seed * 1000003u + (uint64_t)i * 7919u % 100000u;
            if (w.best[i] > w.max)
                w.max = w.best[i];
        }
        for (long i = 0; i < hosts; i++)
            w.knowing += w.best[i] == w.max;
        char knobs[256];
        weft_sim_net_describe(weft_runtime_handle(rt), knobs, sizeof knobs);
        double t0 = wall_s(), c0 = cpu_s();
        run r = WEFT_NEW(run, .w = &w, .secs = secs, .jh = jh);
        int err = weft_runtime_block_on(rt, &r.base, NULL);
        double took = wall_s() - t0, cpu = cpu_s() - c0;
        uint64_t events = weft_sim_events(weft_runtime_handle(rt));
        weft_runtime_free(rt);
        if (err) {
            fprintf(stderr, "weft-sim-gossip: seed %ld: %s\n", seed, weft_strerror(err));
            return 1;
        }
        total_msgs += w.sent;
        char conv[32] = "never";
        if (w.converged || w.knowing == w.hosts)
            snprintf(conv, sizeof conv, "%.3f s", (double)w.converged / 1e9);
        printf("seed %ld: hosts=%ld virtual=%ld s sent=%" PRIu64 " delivered=%" PRIu64
               " events=%" PRIu64 " converged=%s wall=%.3f s cpu=%.3f s messages/s=%.0f (cpu)"
               "  [%s]\n",
               seed, hosts, secs, w.sent, w.received, events, conv, took, cpu,
               (double)w.sent / cpu, knobs);
        free(w.best);
        free(w.addr);
        free(jh);
    }
    /* CPU time as well as wall time: on a shared machine the wall clock
     * also counts the other processes. */
    double all = wall_s() - t_all, cpu = cpu_s() - c_all;
    printf("weft-sim-gossip: hosts=%ld virtual=%ld s seeds=%ld wall=%.3f s cpu=%.3f s "
           "messages/s=%.0f (wall) %.0f (cpu) seeds/s=%.2f (wall) %.2f (cpu)\n",
           hosts, secs, seeds, all, cpu, (double)total_msgs / all, (double)total_msgs / cpu,
           (double)seeds / all, (double)seeds / cpu);
    return 0;
}
