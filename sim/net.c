/* weft — the simulated network: fake sockets behind the same driver seam
 * as epoll, so the same net API (and the same application code) runs on
 * the simulator, on virtual time, decided by the seed.
 *
 * The world: every address a host has (127.0.0.1 and ::1 always, on the
 * built-in host "localhost", plus those of the hosts a test adds with
 * weft_sim_host_add) is reachable; sockets bind to them, listen, connect,
 * send and receive.  Every packet (a connection request, its answer, a run
 * of stream bytes, an end of stream, a reset, a datagram) is an event
 * delivered after its link's latency, through one timer of the runtime's
 * wheel armed at the earliest pending delivery (a binary heap: the cost is
 * per message in flight, never per host pair); each send, delivery and drop
 * is a trace event, so it is part of the run's fingerprint.
 *
 * Faults (sections "links" to "the knobs", and the API in "faults" at the
 * end): each link between two hosts has a latency (a minimum plus an
 * exponential tail) and loss, duplication, reordering and
 * connection-failure rates, drawn from the seed unless the test sets them; partitions drop, clogs hold.  Only the links that differ
 * from the default are stored (a small hash by host pair).  TCP turns loss
 * into retransmission with backoff and stays in order: each stream keeps
 * its segments in send order and hands them over only from the front, so a
 * lost segment holds back those behind it, as on a real stack.  Acks are
 * modelled by the path back: a segment that got across while the way back
 * is cut is retransmitted as if unacknowledged, so a one-way partition
 * times the sender out.  The swarm's nemesis (section "nemesis") adds
 * partitions and clogs that come and go.  The network draws from a stream
 * of its own, seeded from the run's seed: network decisions never shift
 * the scheduler's draws (its fault points, WEFT_BUGGIFY's, do draw from
 * the scheduler's stream, and are schedule decisions like any other).
 *
 * Streams have bounded buffers with real backpressure: a writer may have
 * at most the peer's receive space in flight or buffered, and waits
 * (EAGAIN, then a writable report) beyond it.  Reads and writes are cut
 * short by a seeded amount now and then, so code that assumes a whole
 * message per read is caught.
 *
 * Single-threaded, like the rest of the simulator: nothing here locks.
 *
 * Hosts (sim/host.c): every socket belongs to the host whose task opened
 * it (NULL: the root's, on "localhost"); each host has its own ports and
 * its own loopback, and a crash or a pause of a host reaches its sockets
 * through the section "hosts" at the end of this file.  A paused host's
 * deliveries wait and go on in order at its resume; a crashed host's
 * vanished sockets answer with a reset (RESET, or after a restart) or,
 * after a SILENT crash, not at all: to the sender that is a black-hole
 * path, and the same retransmission and timeout as for a cut link apply.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "net_impl.h"
#include "sim.h"
#include "timer_wheel.h"

enum { P_SYN = 1, P_SYNACK, P_REFUSE, P_DATA, P_FIN, P_RST, P_DGRAM,
       P_PROBE /* a keepalive probe's timer, to the probing socket (section hosts) */ };
enum { S_NEW, S_BOUND, S_LISTENING, S_CONNECTING, S_CONNECTED, S_CLOSED };

/* Where a packet is: on its way (arrives at `at`), lost and waiting for
 * its retransmission (at `at`), or handed over but unacknowledged (its
 * next retransmission at `at` only confirms it). */
enum { W_FLY, W_RTO, W_GHOST, W_ARRIVED, W_HELD };

#define RX_CAP (64 * 1024)    /* a stream's receive buffer */
#define DGRAM_QUEUE 64        /* datagrams a socket holds */
#define DGRAM_MAX 65507       /* UDP over IPv4 (and Unix): 65535 - 20 - 8 */
#define DGRAM_MAX6 65527      /* UDP over IPv6: 65535 - 8 */
#define EPHEMERAL_FIRST 49152
#define SYN_RETRIES 6         /* then the connect times out (as Linux's 6) */
#define SYN_RTO_NS 1000000000ull /* first retransmission after 1 s, doubling */
#define DATA_RETRIES 15               /* Linux's tcp_retries2: then the stream times out */
#define DATA_RTO_NS 200000000ull      /* first retransmission after 200 ms, doubling */
#define DATA_RTO_MAX_NS 120000000000ull /* up to 120 s (Linux's TCP_RTO_MAX): 804.6 s in all */
#define HOST_ANY UINT32_MAX   /* "*" */
#define MAX_LATENCY_NS (3600ull * 1000000000ull)

typedef struct packet {
    uint64_t at, seq;   /* delivery time (ns), then sending order */
    uint64_t id;        /* for the trace: the send it came from */
    int kind;
    int tries;          /* retransmissions so far */
    int where;          /* W_* */
    bool sure;          /* an answer: its way was decided with the question */
    uint32_t to, from;  /* socket ids (0: none) */
    uint32_t shost, dhost; /* host indexes: 0 is "localhost" */
    weft_addr src, dst;
    size_t len;
    struct packet *next;  /* a datagram queue's or a clog's link */
    struct packet *tnext; /* the sending stream's in-order queue */
    char data[];
} packet;

typedef struct fsock {
    uint32_t id;
    int type, family, state;
    weft_sim_host *host;   /* its machine (NULL: the root's); sockets of one host share ports */
    bool vanished;         /* its host crashed under it */
    int64_t keepalive_s;   /* SO_KEEPALIVE: idle seconds before probing (0: off) */
    weft_io_source *src;
    weft_addr local, peer;
    bool has_local, has_peer;
    uint32_t peer_id;      /* the other end of a stream */
    uint32_t host1;        /* the host of `local`, plus 1 (0: not looked up) */
    bool indexed;          /* in the bound index (listeners, datagram sockets) */
    uint32_t bnext;        /* the next socket id in its index bucket (0: none) */
    /* stream receive side */
    char *rx;
    size_t rx_len, rx_off;
    size_t inbound;        /* bytes the peer has in flight to us */
    bool eof, reset, wr_shut;
    bool timed_out;        /* a segment never got across: the stream is dead */
    bool linger0;          /* SO_LINGER 0: close resets */
    int error;             /* pending (connect refused, reset) */
    uint64_t last_at[2];   /* per direction: deliveries stay in order */
    /* stream send side: segments not yet handed over, in send order */
    packet *tx_head, *tx_tail;
    /* listener */
    uint32_t *backlog;
    int nbacklog, backlog_cap;
    /* datagrams */
    packet *dq_head, *dq_tail;
    int dq_len;
} fsock;

typedef struct host {
    char name[64];
    weft_addr addrs[4];
    int naddrs;
    weft_sim_host *owner;    /* its weft_sim_host */
    packet *held, *held_tail; /* deliveries waiting while the host is paused */
} host;

/* A link set by the test, by host pair (a <= b; b HOST_ANY: every link of a). */
typedef struct link_entry {
    uint32_t a, b;
    bool used;
    weft_sim_link l;
} link_entry;

typedef struct cut {
    uint32_t a, b;
    int how;
    bool nemesis;        /* the nemesis's own (it heals it), not the test's */
} cut;

typedef struct clog {
    uint32_t a, b;
    packet *head, *tail; /* held, in arrival order */
    bool nemesis;
} clog;

/* The swarm's nemesis: now and then a partition or a clog between hosts,
 * which it ends again after a while (TigerBeetle's packet simulator does
 * the same).  It takes turns only while the network is used, so an idle
 * run still ends (or deadlocks) as it would without it. */
typedef struct nemesis {
    uint64_t every_ns, lasts_ns; /* mean time between faults, mean duration (0: none) */
    weft_timer_entry timer;
    bool armed;
    bool on;             /* a fault of its own is in force */
    uint64_t mark;       /* packets sent (sim_net.ids) at its last turn */
} nemesis;

typedef struct sim_net {
    weft__rt *rt;
    weft__sim *sim;
    weft_allocator alloc;
    fsock **socks;        /* by id - 1 */
    uint32_t nsocks, cap;
    packet **heap;        /* pending deliveries, by (at, seq) */
    size_t nheap, heap_cap;
    uint64_t seq, ids;
    weft_timer_entry timer;
    bool armed;
    uint16_t next_port;
    host *hosts;
    int nhosts, hosts_cap;
    /* indexes, so a packet costs the same with 5 hosts or 5000 */
    uint32_t *addr_tab;   /* host index + 1 by address, open addressing */
    size_t addr_cap, naddr;
    uint32_t *bound;      /* bucket heads (socket ids) of the bound index */
    size_t bound_cap, nbound;
    bool index_lost;      /* out of memory once: find_bound searches every socket */
    /* faults */
    uint64_t rng[4];      /* the network's own seeded stream */
    int profile;          /* WEFT_SIM_NET_* the run started from */
    bool calm_draw;       /* the swarm drew a calm run */
    bool def_set;         /* the test set the default link */
    bool announced;       /* the knobs are in the trace */
    weft_sim_link def;    /* every link not set otherwise */
    link_entry *links;    /* open addressing, links_cap a power of two */
    size_t nlinks, links_cap;
    cut *cuts;
    int ncuts, cuts_cap;
    clog *clogs;
    int nclogs, clogs_cap;
    nemesis nem;
} sim_net;

static void *net_alloc(sim_net *n, size_t size) { return n->alloc.alloc(n->alloc.ctx, size); }
static void net_free(sim_net *n, void *p, size_t size) {
    if (p)
        n->alloc.free(n->alloc.ctx, p, size);
}
static void packet_free(sim_net *n, packet *p) { net_free(n, p, sizeof *p + p->len); }

/* Grows an array of `*cap` elements of `size` bytes to hold one more. */
static bool grow(sim_net *n, void **arr, int *cap, int used, size_t size) {
    if (used < *cap)
        return true;
    int c = *cap ? 2 * *cap : 8;
    void *t = net_alloc(n, (size_t)c * size);
    if (!t)
        return false;
    if (*arr)
        memcpy(t, *arr, (size_t)used * size);
    net_free(n, *arr, (size_t)*cap * size);
    *arr = t;
    *cap = c;
    return true;
}

static fsock *sock_of(sim_net *n, weft_os_socket s) {
    if (s < 1 || (uint64_t)s > n->nsocks)
        return NULL;
    return n->socks[s - 1];
}

static void report(fsock *f, uint32_t bits) {
    if (f && f->src)
        weft_io_source_ready(f->src, bits);
}

/* The runtime's virtual clock (not a host's, and right outside block_on too). */
static uint64_t now_ns(sim_net *n) { return weft__time_now(n->rt); }

/* ------------------------------------------------- the network's stream
 *
 * xoshiro256**, seeded from the run's seed through splitmix64 with a
 * constant of its own: the same seed gives the same network on every
 * build, and the network's draws never move the scheduler's. */

static uint64_t net_next(sim_net *n) { return weft__xoshiro_next(n->rng); }

/* Uniform in [0, k), k > 0 (the multiply-shift; bias below 2^-32 here). */
static uint64_t net_below(sim_net *n, uint64_t k) {
    return (uint64_t)(((__uint128_t)net_next(n) * k) >> 64);
}

static bool chance(sim_net *n, uint32_t ppm) { return ppm && net_below(n, 1000000) < ppm; }

/* The network's own fault points (WEFT_BUGGIFY's two stages, sim/buggify.c:
 * a site is on or off for the run, then fires with `percent`), named so an
 * edit elsewhere in this file does not move them.  They only bend timing
 * and chunking (a slow packet, a segment retransmitted, a slow accept,
 * short reads and writes, a small window), never what a calm link
 * delivers; off on a calm network, which promises no surprises. */
static bool net_buggify(sim_net *n, const char *site, uint32_t percent) {
#ifdef WEFT_NO_BUGGIFY
    (void)n;
    (void)site;
    (void)percent;
    return false;
#else
    return n->profile == WEFT_SIM_NET_SWARM && weft__sim_buggify(n->rt, site, percent);
#endif
}

static void net_seed(sim_net *n, uint64_t seed) {
    uint64_t x = seed ^ UINT64_C(0x6e657477726b2121); /* "netwrk!!" */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        n->rng[i] = z ^ (z >> 31);
    }
}

/* -ln(U), U uniform in (0, 1], in 32.32 fixed point, from integers only,
 * so it is the same with every compiler and C library (no libm).  U is
 * r / 2^64 = m * 2^-(z+1) with m = the bits below r's top one, in [1, 2):
 * -log2(U) = z + 1 - log2(m), log2(m) a bit at a time by squaring. */
static uint64_t neg_ln_q32(uint64_t r) {
    if (!r)
        return (uint64_t)44 << 32; /* -ln(2^-64) */
    int z = __builtin_clzll(r);
    uint64_t x = (r << z) >> 32; /* m in Q31: [2^31, 2^32) */
    uint64_t frac = 0;
    for (int i = 0; i < 32; i++) {
        x = (x * x) >> 31;
        frac <<= 1;
        if (x >= (UINT64_C(1) << 32)) {
            x >>= 1;
            frac |= 1;
        }
    }
    uint64_t nl2 = ((uint64_t)(z + 1) << 32) - frac;
    return (uint64_t)(((__uint128_t)nl2 * UINT64_C(2977044472)) >> 32); /* * ln 2 */
}

/* An exponential delay of mean `mean` ns, cut at 20 means. */
static uint64_t exp_delay(sim_net *n, uint64_t mean) {
    if (!mean)
        return 0;
    uint64_t q = neg_ln_q32(net_next(n));
    if (q > (UINT64_C(20) << 32))
        q = UINT64_C(20) << 32;
    return (uint64_t)(((__uint128_t)mean * q) >> 32);
}

static uint64_t latency(sim_net *n, const weft_sim_link *l) {
    return l->latency_min_ns + exp_delay(n, l->latency_tail_ns);
}

/* ---------------------------------------------------- host addresses
 *
 * Host 0 is "localhost" (127.0.0.0/8, ::1, and the wildcard); host i + 1
 * is hosts[i], whose weft_sim_host (host.c) has the same number.  One
 * table finds a host by address for the links, partitions and clogs and
 * for the owner of a packet's destination (section "hosts"). */

static bool is_wild(const weft_addr *a);

/* FNV-1a: the indexes' hash (fixed, so runs do not depend on it). */
static uint64_t fnv(uint64_t h, const void *p, size_t len) {
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t ip_hash(const weft_addr *a) {
    return fnv(UINT64_C(0xcbf29ce484222325) ^ a->family, &a->u,
               a->family == WEFT_AF_INET ? 4 : 16);
}

static bool same_ip(const weft_addr *x, const weft_addr *a) {
    return x->family == a->family && memcmp(&x->u, &a->u, a->family == WEFT_AF_INET ? 4 : 16) == 0;
}

/* The slot of address `a` in the address table (or the empty one where it
 * would go). */
static size_t addr_slot(sim_net *n, const weft_addr *a) {
    size_t mask = n->addr_cap - 1;
    for (size_t i = ip_hash(a) & mask;; i = (i + 1) & mask) {
        uint32_t v = n->addr_tab[i];
        if (!v)
            return i;
        const host *h = &n->hosts[(v - 1) >> 2];
        if (same_ip(&h->addrs[(v - 1) & 3], a))
            return i;
    }
}

/* Makes room for `more` addresses in the table (kept at most half full). */
static int addr_reserve(sim_net *n, size_t more) {
    while (2 * (n->naddr + more) > n->addr_cap) {
        size_t cap = n->addr_cap ? 2 * n->addr_cap : 64, ocap = n->addr_cap;
        uint32_t *old = n->addr_tab, *t = net_alloc(n, cap * sizeof *t);
        if (!t)
            return WEFT_ENOMEM;
        memset(t, 0, cap * sizeof *t);
        n->addr_tab = t;
        n->addr_cap = cap;
        for (size_t k = 0; k < ocap; k++)
            if (old[k]) {
                const host *o = &n->hosts[(old[k] - 1) >> 2];
                t[addr_slot(n, &o->addrs[(old[k] - 1) & 3])] = old[k];
            }
        net_free(n, old, ocap * sizeof *old);
    }
    return 0;
}

/* Indexes address i of host h (entries are (h << 2 | i) + 1); the room
 * was reserved.  An address two hosts share stays the first one's. */
static void addr_put(sim_net *n, int h, int i) {
    size_t k = addr_slot(n, &n->hosts[h].addrs[i]);
    if (!n->addr_tab[k]) {
        n->addr_tab[k] = ((uint32_t)h << 2 | (uint32_t)i) + 1;
        n->naddr++;
    }
}

/* The added host owning address `a` (index + 1), or 0. */
static uint32_t host_lookup(sim_net *n, const weft_addr *a) {
    if (!n->naddr || (a->family != WEFT_AF_INET && a->family != WEFT_AF_INET6))
        return 0;
    uint32_t v = n->addr_tab[addr_slot(n, a)];
    return v ? ((v - 1) >> 2) + 1 : 0;
}

static uint32_t host_of_addr(sim_net *n, const weft_addr *a) {
    if (a->family == WEFT_AF_UNIX || is_wild(a))
        return 0;
    return host_lookup(n, a);
}

/* A socket's host index: its owner's, else (the root's sockets) the host
 * of its address. */
static uint32_t sock_host(sim_net *n, fsock *f) {
    if (!f)
        return 0;
    if (f->host)
        return (uint32_t)f->host->net_slot + 1;
    if (!f->host1 && f->has_local)
        f->host1 = host_of_addr(n, &f->local) + 1;
    return f->host1 ? f->host1 - 1 : 0;
}

/* A host's index from its name ("*": HOST_ANY), or -1. */
static int64_t host_named(sim_net *n, const char *name) {
    if (strcmp(name, "*") == 0)
        return HOST_ANY;
    if (strcmp(name, "localhost") == 0)
        return 0;
    for (int h = 0; h < n->nhosts; h++)
        if (strcmp(n->hosts[h].name, name) == 0)
            return h + 1;
    return -1;
}

/* -------------------------------------------------------------- trace
 *
 * One event kind per network decision (sim.h: WEFT__EV_NET_*): a packs
 * what happened, the packet kind and the two hosts; b the packet's id and
 * length.  trace.c prints them through weft__sim_net_format. */

static void net_ev(sim_net *n, uint32_t what, const packet *p) {
    uint64_t a = (uint64_t)what << 56 | (uint64_t)p->kind << 48 |
                 (uint64_t)(p->shost & 0xffffff) << 24 | (p->dhost & 0xffffff);
    weft__sim_ev(n->sim, WEFT__EV_NET, a, p->id << 32 | (p->len & 0xffffffff), NULL);
}

static void ctl_ev(sim_net *n, uint32_t what, uint32_t ha, uint32_t hb, uint64_t b) {
    uint64_t a = (uint64_t)what << 56 | (uint64_t)(ha & 0xffffff) << 24 | (hb & 0xffffff);
    weft__sim_ev(n->sim, WEFT__EV_NET_CTL, a, b, NULL);
}

static const char *const kind_names[] = {"?", "syn", "synack", "refuse", "data", "fin", "rst",
                                         "dgram", "probe"};
static const char *const what_names[] = {
    [WEFT__NET_SEND] = "send",         [WEFT__NET_DELIVER] = "deliver",
    [WEFT__NET_DUP] = "duplicate",     [WEFT__NET_RETRANSMIT] = "retransmit",
    [WEFT__NET_HOLD] = "hold",         [WEFT__NET_TIMEOUT] = "timeout",
    [WEFT__NET_DROP_LOSS] = "drop reason=loss",
    [WEFT__NET_DROP_PARTITION] = "drop reason=partition",
    [WEFT__NET_DROP_NOSOCK] = "drop reason=no-socket",
    [WEFT__NET_DROP_FULL] = "drop reason=queue-full",
    [WEFT__NET_DROP_CLOSED] = "drop reason=closed",
    [WEFT__NET_DROP_CONNFAIL] = "drop reason=connect-failure",
    [WEFT__NET_ACK_LOST] = "ack-lost",
    [WEFT__NET_DROP_HOST_DOWN] = "drop reason=host-down",
};
static const char *const ctl_names[] = {
    [WEFT__NET_PARTITION] = "partition", [WEFT__NET_PARTITION_ONE_WAY] = "partition one-way",
    [WEFT__NET_HEAL] = "heal",           [WEFT__NET_CLOG] = "clog",
    [WEFT__NET_UNCLOG] = "unclog",       [WEFT__NET_LINK] = "link",
    [WEFT__NET_HEAL_ALL] = "heal-all",
};

/* Host indexes only (the names need the runtime, gone when a recorded
 * run is printed). */
void weft__sim_net_format(const weft__sim_event *e, char *buf, size_t len) {
    unsigned what = (unsigned)(e->a >> 56), kind = (unsigned)(e->a >> 48) & 0xff;
    unsigned long long ha = (e->a >> 24) & 0xffffff, hb = e->a & 0xffffff;
    unsigned long long seq = e->seq;
    if (e->kind == WEFT__EV_NET) {
        const char *w = what < sizeof what_names / sizeof *what_names && what_names[what]
                            ? what_names[what] : "?";
        snprintf(buf, len, "%llu net %s %s host%llu->host%llu id=%llu len=%llu", seq, w,
                 kind < sizeof kind_names / sizeof *kind_names ? kind_names[kind] : "?", ha, hb, (unsigned long long)(e->b >> 32),
                 (unsigned long long)(e->b & 0xffffffff));
        return;
    }
    const char *w = what < sizeof ctl_names / sizeof *ctl_names && ctl_names[what]
                        ? ctl_names[what] : "?";
    char a[16], b[16];
    snprintf(a, sizeof a, ha == 0xffffff ? "*" : "host%llu", ha);
    snprintf(b, sizeof b, hb == 0xffffff ? "*" : "host%llu", hb);
    if (e->b >> 63) /* the nemesis's */
        snprintf(buf, len, "%llu net %s %s %s by=nemesis", seq, w, a, b);
    else
        snprintf(buf, len, "%llu net %s %s %s value=%llu", seq, w, a, b, (unsigned long long)e->b);
}

/* -------------------------------------------------------------- links */

static uint64_t pair_hash(uint32_t a, uint32_t b) {
    uint64_t x = ((uint64_t)a << 32 | b) * UINT64_C(0x9e3779b97f4a7c15);
    return x ^ (x >> 29);
}

/* The entry for (a, b), a <= b, or where it would go. */
static link_entry *link_slot(sim_net *n, uint32_t a, uint32_t b) {
    size_t mask = n->links_cap - 1;
    for (size_t i = pair_hash(a, b) & mask;; i = (i + 1) & mask) {
        link_entry *e = &n->links[i];
        if (!e->used || (e->a == a && e->b == b))
            return e;
    }
}

static const weft_sim_link *link_find(sim_net *n, uint32_t a, uint32_t b) {
    if (!n->nlinks)
        return NULL;
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    link_entry *e = link_slot(n, a, b);
    return e->used ? &e->l : NULL;
}

/* The link from host x to host y: the pair's, else x's or y's, else the
 * default. */
static const weft_sim_link *link_of(sim_net *n, uint32_t x, uint32_t y) {
    if (__builtin_expect(!n->nlinks, 1))
        return &n->def;
    const weft_sim_link *l = link_find(n, x, y);
    if (!l)
        l = link_find(n, x, HOST_ANY);
    if (!l)
        l = link_find(n, y, HOST_ANY);
    return l ? l : &n->def;
}

static int link_put(sim_net *n, uint32_t a, uint32_t b, const weft_sim_link *l) {
    if (b != HOST_ANY && a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    if (2 * (n->nlinks + 1) > n->links_cap) { /* at most half full */
        size_t cap = n->links_cap ? 2 * n->links_cap : 16;
        link_entry *old = n->links;
        size_t ocap = n->links_cap;
        link_entry *t = net_alloc(n, cap * sizeof *t);
        if (!t)
            return WEFT_ENOMEM;
        memset(t, 0, cap * sizeof *t);
        n->links = t;
        n->links_cap = cap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].used)
                *link_slot(n, old[i].a, old[i].b) = old[i];
        net_free(n, old, ocap * sizeof *old);
    }
    link_entry *e = link_slot(n, a, b);
    if (!e->used)
        n->nlinks++;
    *e = (link_entry){a, b, true, *l};
    return 0;
}

/* ----------------------------------------------- partitions and clogs */

static bool host_match(uint32_t pat, uint32_t h) { return pat == HOST_ANY || pat == h; }

/* Is x -> y cut?  (Within one host: never.) */
static bool path_cut(sim_net *n, uint32_t x, uint32_t y) {
    if (__builtin_expect(!n->ncuts, 1) || x == y)
        return false;
    for (int i = 0; i < n->ncuts; i++) {
        const cut *c = &n->cuts[i];
        if (host_match(c->a, x) && host_match(c->b, y))
            return true;
        if (c->how == WEFT_SIM_BOTH_WAYS && host_match(c->a, y) && host_match(c->b, x))
            return true;
    }
    return false;
}

static clog *clog_on(sim_net *n, uint32_t x, uint32_t y) {
    if (__builtin_expect(!n->nclogs, 1) || x == y)
        return NULL;
    for (int i = 0; i < n->nclogs; i++)
        if (host_match(n->clogs[i].a, x) && host_match(n->clogs[i].b, y))
            return &n->clogs[i];
    return NULL;
}

/* --------------------------------------------------------- the knobs */

/* "1.2345%" from parts per million. */
static void pct_text(char *buf, size_t len, uint32_t ppm) {
    snprintf(buf, len, "%u.%04u%%", ppm / 10000 % 1000, ppm % 10000);
}

static void link_text(char *buf, size_t len, const weft_sim_link *l) {
    char loss[16], dup[16], reorder[16], fail[16];
    pct_text(loss, sizeof loss, l->loss_ppm);
    pct_text(dup, sizeof dup, l->dup_ppm);
    pct_text(reorder, sizeof reorder, l->reorder_ppm);
    pct_text(fail, sizeof fail, l->connect_fail_ppm);
    snprintf(buf, len, "latency=%lluus+exp(%lluus) loss=%s dup=%s reorder=%s connect_fail=%s",
             (unsigned long long)(l->latency_min_ns / 1000),
             (unsigned long long)(l->latency_tail_ns / 1000), loss, dup, reorder, fail);
}

static int describe(sim_net *n, char *buf, size_t len) {
    if (!len)
        return 0;
    const char *from = n->def_set ? "set by the test"
                       : n->profile == WEFT_SIM_NET_CALM ? "calm"
                       : n->calm_draw ? "swarm (drew calm)" : "swarm";
    char l[160], more[48] = "", nem[96] = "";
    link_text(l, sizeof l, &n->def);
    if (n->nlinks)
        snprintf(more, sizeof more, " (+%zu link(s) set)", n->nlinks);
    if (n->nem.every_ns)
        snprintf(nem, sizeof nem, " nemesis=every %llus for %llus",
                 (unsigned long long)(n->nem.every_ns / 1000000000u),
                 (unsigned long long)(n->nem.lasts_ns / 1000000000u));
    snprintf(buf, len, "%s: %s%s%s", from, l, nem, more);
    return (int)strlen(buf);
}

/* The swarm: every knob from the seed, each often off, so runs range from
 * calm to lossy, slow-tailed, duplicating, reordering and failing. */
static void draw_knobs(sim_net *n) {
    static const uint64_t mins_us[] = {1000, 1000, 2000, 5000, 10000, 20000};
    weft_sim_link l = {.latency_min_ns = 1000000};
    if (net_below(n, 8) == 0) { /* one run in eight: calm */
        n->calm_draw = true;
        n->def = l;
        return;
    }
    l.latency_min_ns = mins_us[net_below(n, 6)] * 1000;
    switch (net_below(n, 3)) {
    case 0:
        break;
    case 1: /* a short tail */
        l.latency_tail_ns = (1 + net_below(n, 10)) * 1000000;
        break;
    default: /* a long one */
        l.latency_tail_ns = (20 + net_below(n, 180)) * 1000000;
    }
    if (net_below(n, 2))
        l.loss_ppm = (uint32_t)(1000 + net_below(n, 99000)); /* 0.1% to 10% */
    if (net_below(n, 3) == 0)
        l.dup_ppm = (uint32_t)(1000 + net_below(n, 49000));
    if (net_below(n, 2))
        l.reorder_ppm = (uint32_t)(1000 + net_below(n, 199000));
    if (net_below(n, 4) == 0)
        l.connect_fail_ppm = (uint32_t)(1000 + net_below(n, 49000));
    n->def = l;
    if (net_below(n, 2)) { /* half the runs: a nemesis */
        n->nem.every_ns = (5 + net_below(n, 26)) * UINT64_C(1000000000);
        n->nem.lasts_ns = (1 + net_below(n, 5)) * UINT64_C(1000000000);
    }
}

/* The knobs into the fingerprint, once, when the network is first used
 * (a run that never touches it hashes nothing new: its fingerprint stays
 * what it was before the network had knobs). */
static void announce(sim_net *n) {
    if (n->announced)
        return;
    n->announced = true;
    ctl_ev(n, WEFT__NET_LINK, HOST_ANY, HOST_ANY,
           n->def.latency_min_ns ^ n->def.latency_tail_ns << 20 ^ (uint64_t)n->def.loss_ppm << 40 ^
               (uint64_t)n->def.dup_ppm << 8 ^ (uint64_t)n->def.reorder_ppm << 28 ^
               (uint64_t)n->def.connect_fail_ppm << 48);
}

/* ------------------------------------------------------ deliveries */

static bool before(const packet *a, const packet *b) {
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim_net *n, packet *p) {
    if (n->nheap == n->heap_cap) {
        size_t cap = n->heap_cap ? 2 * n->heap_cap : 64;
        packet **h = net_alloc(n, cap * sizeof *h);
        if (!h)
            weft__die("sim net: out of memory queueing a packet");
        if (n->heap)
            memcpy(h, n->heap, n->nheap * sizeof *h);
        net_free(n, n->heap, n->heap_cap * sizeof *h);
        n->heap = h;
        n->heap_cap = cap;
    }
    p->seq = n->seq++;
    size_t i = n->nheap++;
    while (i > 0 && before(p, n->heap[(i - 1) / 2])) {
        n->heap[i] = n->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    n->heap[i] = p;
}

static packet *heap_pop(sim_net *n) {
    packet *top = n->heap[0], *last = n->heap[--n->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n->nheap)
            break;
        if (c + 1 < n->nheap && before(n->heap[c + 1], n->heap[c]))
            c++;
        if (!before(n->heap[c], last))
            break;
        n->heap[i] = n->heap[c];
        i = c;
    }
    if (n->nheap)
        n->heap[i] = last;
    return top;
}

static void arm(sim_net *n);
static void probe_fire(sim_net *n, packet *p);
static void arrive(sim_net *n, packet *p);
static void transmit(sim_net *n, packet *p);
static void ghost_check(sim_net *n, packet *p);
static bool silent_dest(sim_net *n, const packet *p);

/* The timer's waker: deliver what is due, re-arm for the rest. */
static weft_waker timer_clone(const void *d);
static void timer_fire(const void *d) {
    sim_net *n = (sim_net *)d;
    n->armed = false;
    uint64_t now = now_ns(n);
    while (n->nheap && n->heap[0]->at <= now) {
        packet *p = heap_pop(n);
        if (p->kind == P_PROBE)
            probe_fire(n, p);
        else if (p->where == W_RTO)
            transmit(n, p);
        else if (p->where == W_GHOST)
            ghost_check(n, p);
        else
            arrive(n, p);
    }
    arm(n);
}
static void timer_drop(const void *d) { (void)d; }
static const weft_waker_vtable timer_vt = {timer_clone, timer_fire, timer_fire, timer_drop};
static weft_waker timer_clone(const void *d) { return (weft_waker){d, &timer_vt}; }

static void arm(sim_net *n) {
    if (!n->nheap)
        return;
    uint64_t at = n->heap[0]->at;
    if (n->armed) {
        if (at >= n->timer.weft__deadline_ms * 1000000u)
            return;
        weft__timer_disarm(n->rt, &n->timer);
        n->armed = false;
    }
    n->armed = weft__timer_arm(n->rt, &n->timer, at, (weft_waker){n, &timer_vt});
    if (!n->armed) /* due already: deliver now */
        timer_fire(n);
}

static void schedule(sim_net *n, packet *p, int where, uint64_t at) {
    p->where = where;
    p->at = at;
    heap_push(n, p);
    arm(n);
}

/* Sent again when lost.  A reset too: a real stack answers each later
 * segment of the peer with another, and a lost one must not leave the
 * peer waiting forever. */
static bool reliable(const packet *p) {
    return p->kind == P_SYN || p->kind == P_DATA || p->kind == P_FIN || p->kind == P_RST;
}

/* A new packet from socket `from` (NULL: none) to socket `to` (0: by
 * address), between hosts `shost` and `dhost`. */
static packet *packet_new(sim_net *n, int kind, fsock *from, uint32_t to, size_t len) {
    packet *p = net_alloc(n, sizeof *p + len);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->from = from ? from->id : 0;
    p->to = to;
    p->len = len;
    p->id = ++n->ids;
    p->shost = sock_host(n, from);
    p->dhost = to ? sock_host(n, sock_of(n, to)) : 0;
    return p;
}

/* The sender's stream queue: segments leave it from the front only. */
static void tx_append(fsock *f, packet *p) {
    p->tnext = NULL;
    if (f->tx_tail)
        f->tx_tail->tnext = p;
    else
        f->tx_head = p;
    f->tx_tail = p;
}

/* The sender's queue dropped (its stream timed out, or its host crashed).
 * Packets still in the heap, a clog or a paused host's hold are freed
 * when they come up (their sender is dead); those waiting in the queue
 * are freed here. */
static void tx_abandon(sim_net *n, fsock *f) {
    fsock *peer = sock_of(n, f->peer_id);
    for (packet *q = f->tx_head, *next; q; q = next) {
        next = q->tnext;
        if (peer && q->kind == P_DATA)
            peer->inbound -= q->len;
        q->tnext = NULL;
        if (q->where == W_ARRIVED)
            packet_free(n, q);
        else
            q->where = W_FLY; /* orphaned: freed where it is */
    }
    f->tx_head = f->tx_tail = NULL;
}

/* The stream timed out: error on the sender, its queue dropped.  Packets
 * still in the heap or a clog are freed when they come up (their sender
 * is dead); those waiting in the queue are freed here. */
static void stream_timeout(sim_net *n, fsock *f, packet *p) {
    net_ev(n, WEFT__NET_TIMEOUT, p);
    if (f->timed_out)
        return;
    f->timed_out = true;
    if (f->state == S_CONNECTING) {
        f->state = S_BOUND;
        f->error = WEFT_ETIMEDOUT;
        report(f, WEFT_IO_WRITABLE | WEFT_IO_ERROR);
        return;
    }
    tx_abandon(n, f);
    if (f->state != S_CLOSED) {
        f->reset = true;
        f->error = WEFT_ETIMEDOUT;
        report(f, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                      WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
    }
}

/* A reliable packet that did not get across: again after the backoff,
 * or the connection gives up (the packet goes either way). */
static void retry_later(sim_net *n, packet *p, int where) {
    bool syn = p->kind == P_SYN;
    fsock *from = sock_of(n, p->from);
    if (!from || p->tries >= (syn ? SYN_RETRIES : DATA_RETRIES)) {
        if (from && p->kind != P_RST) /* a reset's sender is done with the stream */
            stream_timeout(n, from, p);
        packet_free(n, p);
        return;
    }
    uint64_t rto = (syn ? SYN_RTO_NS : DATA_RTO_NS) << p->tries; /* tries < 16: no overflow */
    if (!syn && rto > DATA_RTO_MAX_NS)
        rto = DATA_RTO_MAX_NS;
    p->tries++;
    schedule(n, p, where, now_ns(n) + rto);
}

/* A stream's packet whose sender gave up, or a connect nobody awaits. */
static bool orphan(sim_net *n, const packet *p) {
    if (p->kind != P_DATA && p->kind != P_FIN && p->kind != P_SYN)
        return false;
    fsock *from = sock_of(n, p->from);
    if (!from)
        return true;
    return p->kind == P_SYN ? from->state != S_CONNECTING : from->timed_out || from->vanished;
}

/* One try across the path from p->shost to p->dhost: scheduled to arrive,
 * or dropped (a reliable packet then waits for its retransmission). */
static void transmit(sim_net *n, packet *p) {
    if (orphan(n, p)) {
        packet_free(n, p);
        return;
    }
    net_ev(n, p->tries ? WEFT__NET_RETRANSMIT : WEFT__NET_SEND, p);
    /* Unix sockets never leave their host's kernel: latency, no faults. */
    const weft_sim_link *l = link_of(n, p->shost, p->dhost);
    fsock *from = sock_of(n, p->from);
    weft_sim_link local;
    if ((from ? from->family : p->dst.family) == WEFT_AF_UNIX) {
        local = (weft_sim_link){l->latency_min_ns, l->latency_tail_ns, 0, 0, 0, 0};
        l = &local;
    }
    uint32_t why = 0;
    if (p->sure)
        ; /* an answer whose way was decided with the question */
    else if (path_cut(n, p->shost, p->dhost))
        why = WEFT__NET_DROP_PARTITION;
    else if (chance(n, l->loss_ppm))
        why = WEFT__NET_DROP_LOSS;
    else if (p->kind == P_DATA && net_buggify(n, "sim net: a segment lost", 2))
        why = WEFT__NET_DROP_LOSS;
    if (why) {
        net_ev(n, why, p);
        if (reliable(p))
            retry_later(n, p, W_RTO);
        else
            packet_free(n, p);
        return;
    }
    uint64_t now = now_ns(n), at = now + latency(n, l);
    if (net_buggify(n, "sim net: a slow packet", 5))
        at += (10 + net_below(n, 490)) * 1000000; /* 10 to 500 ms more, order kept */
    if (p->kind == P_DGRAM && chance(n, l->reorder_ppm)) {
        /* out of line: a delay of up to twice the link's, no order kept */
        at += 1 + net_below(n, 2 * (l->latency_min_ns + l->latency_tail_ns) + 1000000);
    } else if (from && !p->tries) {
        int dir = p->kind == P_DGRAM ? 1 : 0;
        if (at < from->last_at[dir])
            at = from->last_at[dir];
        from->last_at[dir] = at;
    }
    if (p->kind == P_DGRAM && chance(n, l->dup_ppm)) {
        packet *d = net_alloc(n, sizeof *d + p->len);
        if (d) {
            memcpy(d, p, sizeof *d + p->len);
            net_ev(n, WEFT__NET_DUP, d);
            schedule(n, d, W_FLY, now + latency(n, l));
        }
    }
    schedule(n, p, W_FLY, at);
}

/* ------------------------------------------------------------ nemesis */

static int cut_add(sim_net *n, uint32_t x, uint32_t y, int how, bool nem) {
    if (!grow(n, (void **)&n->cuts, &n->cuts_cap, n->ncuts, sizeof *n->cuts))
        return WEFT_ENOMEM;
    announce(n);
    n->cuts[n->ncuts++] = (cut){x, y, how, nem};
    ctl_ev(n, how == WEFT_SIM_ONE_WAY ? WEFT__NET_PARTITION_ONE_WAY : WEFT__NET_PARTITION, x, y,
           (uint64_t)nem << 63 | (uint64_t)n->ncuts);
    return 0;
}

static int clog_add(sim_net *n, uint32_t x, uint32_t y, bool nem) {
    for (int i = 0; i < n->nclogs; i++)
        if (n->clogs[i].a == x && n->clogs[i].b == y) {
            n->clogs[i].nemesis &= nem; /* asked for by the test: the test's now */
            return 0;
        }
    if (!grow(n, (void **)&n->clogs, &n->clogs_cap, n->nclogs, sizeof *n->clogs))
        return WEFT_ENOMEM;
    announce(n);
    n->clogs[n->nclogs++] = (clog){x, y, NULL, NULL, nem};
    ctl_ev(n, WEFT__NET_CLOG, x, y, (uint64_t)nem << 63 | (uint64_t)n->nclogs);
    return 0;
}

static void release(sim_net *n, clog *c);

/* Removes clog i and sends on what it held. */
static void unclog_at(sim_net *n, int i) {
    clog c = n->clogs[i];
    n->clogs[i] = n->clogs[--n->nclogs];
    ctl_ev(n, WEFT__NET_UNCLOG, c.a, c.b, (uint64_t)c.nemesis << 63 | (uint64_t)n->nclogs);
    release(n, &c);
}

static weft_waker nem_clone(const void *d);
static void nem_fire(const void *d);
static void nem_drop(const void *d) { (void)d; }
static const weft_waker_vtable nem_vt = {nem_clone, nem_fire, nem_fire, nem_drop};
static weft_waker nem_clone(const void *d) { return (weft_waker){d, &nem_vt}; }

static void nem_arm(sim_net *n, uint64_t at) {
    n->nem.armed = weft__timer_arm(n->rt, &n->nem.timer, at, (weft_waker){n, &nem_vt});
}

/* Its turn: end its fault, or start one between two hosts. */
static void nem_fire(const void *d) {
    sim_net *n = (sim_net *)d;
    nemesis *m = &n->nem;
    m->armed = false;
    if (!m->every_ns) /* the chaos phase ended */
        return;
    uint64_t now = now_ns(n);
    if (m->on) {
        m->on = false;
        int kept = 0;
        for (int i = 0; i < n->ncuts; i++)
            if (!n->cuts[i].nemesis)
                n->cuts[kept++] = n->cuts[i];
            else
                ctl_ev(n, WEFT__NET_HEAL, n->cuts[i].a, n->cuts[i].b, UINT64_C(1) << 63);
        n->ncuts = kept;
        for (int i = n->nclogs - 1; i >= 0; i--)
            if (n->clogs[i].nemesis)
                unclog_at(n, i);
        if (n->ids != m->mark) /* the network is in use: a next turn */
            nem_arm(n, now + 1000000 + exp_delay(n, m->every_ns));
        m->mark = n->ids;
        return;
    }
    uint64_t hosts = (uint64_t)n->nhosts + 1; /* localhost too */
    if (hosts < 2)
        return;
    uint32_t x = (uint32_t)net_below(n, hosts), y = (uint32_t)net_below(n, hosts - 1);
    y += y >= x;
    switch (net_below(n, 5)) {
    case 0:
        cut_add(n, x, y, WEFT_SIM_BOTH_WAYS, true);
        break;
    case 1:
        cut_add(n, x, y, WEFT_SIM_ONE_WAY, true);
        break;
    case 2: /* x alone */
        cut_add(n, x, HOST_ANY, WEFT_SIM_BOTH_WAYS, true);
        break;
    case 3:
        clog_add(n, x, y, true);
        break;
    default: /* x's everything held */
        clog_add(n, x, HOST_ANY, true);
    }
    m->on = true;
    m->mark = n->ids;
    nem_arm(n, now + 1000000 + exp_delay(n, m->lasts_ns));
}

/* A packet leaves its socket for the first time. */
static void send_packet(sim_net *n, packet *p) {
    if (!p)
        return;
    announce(n);
    if (n->nem.every_ns && !n->nem.armed && n->nhosts) /* the nemesis wakes with the network */
        nem_arm(n, now_ns(n) + 1000000 + exp_delay(n, n->nem.every_ns));
    if (p->kind == P_DATA || p->kind == P_FIN) {
        fsock *from = sock_of(n, p->from);
        if (!from) {
            packet_free(n, p);
            return;
        }
        tx_append(from, p);
    }
    transmit(n, p);
}

/* An answer (SYN-ACK, refusal) to `q`, whose way back was decided at q's
 * arrival. */
static void answer(sim_net *n, int kind, fsock *from, const packet *q) {
    packet *p = packet_new(n, kind, from, q->from, 0);
    if (!p)
        return;
    p->shost = q->dhost;
    p->dhost = q->shost;
    p->sure = true;
    send_packet(n, p);
}

/* ----------------------------------------------------------- sockets */

static fsock *sock_new(sim_net *n, int family, int type) {
    fsock *f = net_alloc(n, sizeof *f);
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    if (n->nsocks == n->cap) {
        uint32_t cap = n->cap ? 2 * n->cap : 64;
        fsock **t = net_alloc(n, cap * sizeof *t);
        if (!t) {
            net_free(n, f, sizeof *f);
            return NULL;
        }
        if (n->socks)
            memcpy(t, n->socks, n->nsocks * sizeof *t);
        net_free(n, n->socks, n->cap * sizeof *t);
        n->socks = t;
        n->cap = cap;
    }
    n->socks[n->nsocks++] = f;
    f->id = n->nsocks; /* ids are never reused within a run */
    f->family = family;
    f->type = type;
    f->state = S_NEW;
    return f;
}

static bool is_local_addr(sim_net *n, const weft_addr *a) {
    if (a->family == WEFT_AF_UNIX)
        return true;
    static const uint8_t any6[16];
    if ((a->family == WEFT_AF_INET && memcmp(a->u.v4, "\0\0\0\0", 4) == 0) ||
        (a->family == WEFT_AF_INET6 && memcmp(a->u.v6, any6, 16) == 0))
        return true; /* the wildcard */
    weft_addr l4 = weft_addr_loopback4(a->port), l6 = weft_addr_loopback6(a->port);
    if (weft_addr_equal(a, &l4) || weft_addr_equal(a, &l6))
        return true;
    if (a->family == WEFT_AF_INET && a->u.v4[0] == 127)
        return true;
    return host_lookup(n, a) != 0;
}

static bool is_wild(const weft_addr *a) {
    static const uint8_t any6[16];
    return (a->family == WEFT_AF_INET && memcmp(a->u.v4, "\0\0\0\0", 4) == 0) ||
           (a->family == WEFT_AF_INET6 && memcmp(a->u.v6, any6, 16) == 0);
}

/* Does a socket bound to `bound` receive what is sent to `to`? */
static bool matches(const weft_addr *bound, const weft_addr *to) {
    if (bound->family != to->family)
        return false;
    if (bound->family == WEFT_AF_UNIX)
        return strcmp(bound->u.path, to->u.path) == 0;
    if (bound->port != to->port)
        return false;
    if (is_wild(bound))
        return true;
    weft_addr b = *bound;
    return weft_addr_equal(&b, to) ||
           /* 127.255.255.255 reaches everything bound on 127.x */
           (to->family == WEFT_AF_INET && to->u.v4[0] == 127 && to->u.v4[3] == 255 &&
            bound->u.v4[0] == 127);
}

/* The bound index: listeners and bound datagram sockets by (owner host,
 * type, address, port), chained through fsock.bnext.  A wildcard binding
 * is found under the wildcard address of its family; a live binding never
 * overlaps another of its type on its host (port_taken), so at most one
 * matches. */
static uint64_t bind_hash(const weft_sim_host *on, int type, const weft_addr *a) {
    uint64_t h = fnv(UINT64_C(0xcbf29ce484222325) ^ (uint64_t)type ^
                         (uint64_t)(on ? on->id : 0) << 8,
                     &a->family, sizeof a->family);
    if (a->family == WEFT_AF_UNIX)
        return fnv(h, a->u.path, strlen(a->u.path));
    h = fnv(h, &a->port, sizeof a->port);
    return fnv(h, &a->u, a->family == WEFT_AF_INET ? 4 : 16);
}

static uint32_t *bucket_of(sim_net *n, const weft_sim_host *on, int type, const weft_addr *a) {
    return &n->bound[bind_hash(on, type, a) & (n->bound_cap - 1)];
}

static void index_link(sim_net *n, fsock *f) {
    uint32_t *b = bucket_of(n, f->host, f->type, &f->local);
    f->bnext = *b;
    *b = f->id;
}

/* Adds a listener or a bound datagram socket; out of memory leaves it to
 * the linear search (find_bound still finds it). */
static void index_add(sim_net *n, fsock *f) {
    if (f->indexed || !f->has_local)
        return;
    if (n->nbound + 1 > n->bound_cap) {
        size_t cap = n->bound_cap ? 2 * n->bound_cap : 256;
        uint32_t *t = net_alloc(n, cap * sizeof *t);
        if (!t) {
            n->index_lost = true;
            return;
        }
        memset(t, 0, cap * sizeof *t);
        net_free(n, n->bound, n->bound_cap * sizeof *t);
        n->bound = t;
        n->bound_cap = cap;
        for (uint32_t i = 0; i < n->nsocks; i++)
            if (n->socks[i] && n->socks[i]->indexed)
                index_link(n, n->socks[i]);
    }
    f->indexed = true;
    n->nbound++;
    index_link(n, f);
}

static void index_del(sim_net *n, fsock *f) {
    if (!f->indexed)
        return;
    for (uint32_t *p = bucket_of(n, f->host, f->type, &f->local); *p;
         p = &n->socks[*p - 1]->bnext)
        if (*p == f->id) {
            *p = f->bnext;
            break;
        }
    f->indexed = false;
    n->nbound--;
}

static bool bound_fits(const fsock *f, const weft_sim_host *on, const weft_addr *to, int type,
                       bool listening) {
    return f && f->host == on && f->type == type && f->has_local && f->state != S_CLOSED &&
           (!listening || f->state == S_LISTENING) && matches(&f->local, to);
}

static fsock *index_find(sim_net *n, weft_sim_host *on, const weft_addr *key, const weft_addr *to,
                         int type, bool listening) {
    for (uint32_t id = *bucket_of(n, on, type, key); id; id = n->socks[id - 1]->bnext)
        if (bound_fits(n->socks[id - 1], on, to, type, listening))
            return n->socks[id - 1];
    return NULL;
}

/* The socket of host `on` (NULL: the root) bound to receive what is sent
 * to `to`. */
static fsock *find_bound(sim_net *n, weft_sim_host *on, const weft_addr *to, int type,
                         bool listening) {
    bool bcast = to->family == WEFT_AF_INET && to->u.v4[0] == 127 && to->u.v4[3] == 255;
    if (n->nbound && !bcast) {
        fsock *f = index_find(n, on, to, to, type, listening);
        if (!f && to->family != WEFT_AF_UNIX) {
            weft_addr wild = {.family = to->family, .port = to->port};
            f = index_find(n, on, &wild, to, type, listening);
        }
        if (f || !n->index_lost)
            return f;
    }
    /* broadcast, or an index that lost a socket to out of memory */
    for (uint32_t i = 0; i < n->nsocks; i++)
        if (bound_fits(n->socks[i], on, to, type, listening))
            return n->socks[i];
    return NULL;
}

static bool port_taken(sim_net *n, weft_sim_host *on, const weft_addr *a, int type) {
    for (uint32_t i = 0; i < n->nsocks; i++) {
        fsock *f = n->socks[i];
        if (!f || f->type != type || !f->has_local || f->state == S_CLOSED || f->host != on)
            continue;
        if (a->family == WEFT_AF_UNIX) {
            if (f->local.family == WEFT_AF_UNIX && strcmp(f->local.u.path, a->u.path) == 0)
                return true;
            continue;
        }
        if (f->local.family == a->family && f->local.port == a->port &&
            (is_wild(&f->local) || is_wild(a) || weft_addr_equal(&f->local, a)))
            return true;
    }
    return false;
}

static weft_addr source_toward(sim_net *n, const fsock *f, const weft_addr *to);

static int autobind(sim_net *n, fsock *f, const weft_addr *toward) {
    if (f->has_local)
        return 0;
    weft_addr a = {.family = (uint16_t)f->family};
    if (f->family == WEFT_AF_INET)
        a = weft_addr_loopback4(0);
    else if (f->family == WEFT_AF_INET6)
        a = weft_addr_loopback6(0);
    if (f->family != WEFT_AF_UNIX) {
        if (toward && !is_wild(toward))
            a = source_toward(n, f, toward);
        for (int tries = 0; tries < 16384; tries++) {
            a.port = n->next_port;
            n->next_port = n->next_port == 65535 ? EPHEMERAL_FIRST : n->next_port + 1;
            if (!port_taken(n, f->host, &a, f->type))
                break;
        }
    }
    f->local = a;
    f->has_local = true;
    if (f->state == S_NEW)
        f->state = S_BOUND;
    if (f->type == WEFT_SOCK_DGRAM)
        index_add(n, f);
    return 0;
}

/* --------------------------------------------------- packet arrival */

static void rx_append(sim_net *n, fsock *f, const char *data, size_t len) {
    if (f->rx_off + f->rx_len + len > RX_CAP && f->rx_off) {
        memmove(f->rx, f->rx + f->rx_off, f->rx_len);
        f->rx_off = 0;
    }
    if (!f->rx) {
        f->rx = net_alloc(n, RX_CAP);
        if (!f->rx)
            weft__die("sim net: out of memory for a receive buffer");
    }
    memcpy(f->rx + f->rx_off + f->rx_len, data, len);
    f->rx_len += len;
}

/* A stream segment reaches its reader (in order: see hand_over). */
static void deliver_segment(sim_net *n, packet *p) {
    fsock *to = sock_of(n, p->to);
    net_ev(n, WEFT__NET_DELIVER, p);
    if (!to)
        return;
    if (p->kind == P_DATA) {
        to->inbound -= p->len;
        if (to->state != S_CLOSED && !to->reset) {
            rx_append(n, to, p->data, p->len);
            report(to, WEFT_IO_READABLE);
        }
    } else if (!to->reset) { /* P_FIN */
        to->eof = true;
        report(to, WEFT_IO_READABLE | WEFT_IO_READ_CLOSED);
    }
}

/* Hands the sender's arrived segments over from the front of its queue;
 * one whose ack cannot come back is retransmitted as unacknowledged. */
static void hand_over(sim_net *n, fsock *f) {
    while (f->tx_head && f->tx_head->where == W_ARRIVED) {
        packet *p = f->tx_head;
        f->tx_head = p->tnext;
        if (!f->tx_head)
            f->tx_tail = NULL;
        p->tnext = NULL;
        deliver_segment(n, p);
        if (path_cut(n, p->dhost, p->shost)) {
            net_ev(n, WEFT__NET_ACK_LOST, p);
            retry_later(n, p, W_GHOST);
        } else {
            packet_free(n, p);
        }
    }
}

/* An unacknowledged segment's retransmission: its ack comes back now if
 * the path works both ways. */
static void ghost_check(sim_net *n, packet *p) {
    fsock *from = sock_of(n, p->from);
    if (!from || from->timed_out || from->vanished) {
        packet_free(n, p);
        return;
    }
    net_ev(n, WEFT__NET_RETRANSMIT, p);
    if (path_cut(n, p->shost, p->dhost) || path_cut(n, p->dhost, p->shost) ||
        silent_dest(n, p)) { /* a host that went down acknowledges nothing */
        net_ev(n, WEFT__NET_ACK_LOST, p);
        retry_later(n, p, W_GHOST);
        return;
    }
    packet_free(n, p);
}

static fsock *find_bound(sim_net *n, weft_sim_host *on, const weft_addr *to, int type,
                         bool listening);
static fsock *sock_new(sim_net *n, int family, int type);
static weft_sim_host *dest_host(sim_net *n, const fsock *from, const weft_addr *to);
static bool host_arrive(sim_net *n, packet *p);

/* A connection request reaches the listener's host. */
static void arrive_syn(sim_net *n, packet *p) {
    fsock *from = sock_of(n, p->from);
    const weft_sim_link *l = link_of(n, p->dhost, p->shost);
    /* The answer's way back, decided now: lost, the client retransmits. */
    if (path_cut(n, p->dhost, p->shost) || chance(n, l->loss_ppm)) {
        net_ev(n, path_cut(n, p->dhost, p->shost) ? WEFT__NET_ACK_LOST : WEFT__NET_DROP_LOSS, p);
        retry_later(n, p, W_RTO);
        return;
    }
    fsock *lsn = find_bound(n, dest_host(n, from, &p->dst), &p->dst, WEFT_SOCK_STREAM, true);
    if (!lsn) {
        net_ev(n, WEFT__NET_DROP_NOSOCK, p);
        answer(n, P_REFUSE, NULL, p);
        packet_free(n, p);
        return;
    }
    if (chance(n, l->connect_fail_ppm)) {
        net_ev(n, WEFT__NET_DROP_CONNFAIL, p);
        answer(n, P_REFUSE, NULL, p);
        packet_free(n, p);
        return;
    }
    if (lsn->nbacklog >= lsn->backlog_cap || net_buggify(n, "sim net: a slow accept", 10)) {
        /* A full backlog drops the SYN, as Linux does: the client
         * retransmits with backoff, then gives up. */
        net_ev(n, WEFT__NET_DROP_FULL, p);
        retry_later(n, p, W_RTO);
        return;
    }
    net_ev(n, WEFT__NET_DELIVER, p);
    fsock *s = sock_new(n, lsn->family, WEFT_SOCK_STREAM);
    if (!s) {
        packet_free(n, p);
        return;
    }
    s->host = lsn->host;
    s->state = S_CONNECTED;
    s->local = p->dst;
    s->has_local = true;
    s->host1 = p->dhost + 1;
    s->peer = p->src;
    s->has_peer = true;
    s->peer_id = p->from;
    from->peer_id = s->id;
    lsn->backlog[lsn->nbacklog++] = s->id;
    report(lsn, WEFT_IO_READABLE);
    answer(n, P_SYNACK, s, p);
    packet_free(n, p);
}

/* A packet at the end of its trip: held by a clog, or handed on. */
static void arrive(sim_net *n, packet *p) {
    if (orphan(n, p)) {
        packet_free(n, p);
        return;
    }
    clog *c = clog_on(n, p->shost, p->dhost);
    if (c) {
        net_ev(n, WEFT__NET_HOLD, p);
        p->where = W_HELD;
        p->next = NULL;
        if (c->tail)
            c->tail->next = p;
        else
            c->head = p;
        c->tail = p;
        return;
    }
    if (host_arrive(n, p)) /* a paused or crashed host's */
        return;
    fsock *to = p->to ? sock_of(n, p->to) : NULL;
    switch (p->kind) {
    case P_DATA:
    case P_FIN:
        p->where = W_ARRIVED;
        hand_over(n, sock_of(n, p->from));
        return;
    case P_SYN:
        arrive_syn(n, p);
        return;
    case P_SYNACK:
        net_ev(n, WEFT__NET_DELIVER, p);
        if (to && to->state == S_CONNECTING) {
            to->state = S_CONNECTED;
            report(to, WEFT_IO_WRITABLE);
        }
        break;
    case P_REFUSE:
        net_ev(n, WEFT__NET_DELIVER, p);
        if (to && to->state == S_CONNECTING) {
            to->error = WEFT_ECONNREFUSED;
            to->state = S_BOUND;
            report(to, WEFT_IO_WRITABLE | WEFT_IO_ERROR);
        }
        break;
    case P_RST:
        net_ev(n, WEFT__NET_DELIVER, p);
        if (to && to->state != S_CLOSED) {
            to->reset = true;
            to->error = WEFT_ECONNRESET;
            report(to, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                           WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
        }
        break;
    case P_DGRAM: {
        fsock *d = find_bound(n, dest_host(n, sock_of(n, p->from), &p->dst), &p->dst,
                              WEFT_SOCK_DGRAM, false);
        if (!d || (d->has_peer && !weft_addr_equal(&d->peer, &p->src))) {
            net_ev(n, WEFT__NET_DROP_NOSOCK, p); /* dropped, as an OS drops it */
            break;
        }
        if (d->dq_len >= DGRAM_QUEUE) {
            net_ev(n, WEFT__NET_DROP_FULL, p);
            break;
        }
        net_ev(n, WEFT__NET_DELIVER, p);
        p->where = W_ARRIVED;
        p->next = NULL;
        if (d->dq_tail)
            d->dq_tail->next = p;
        else
            d->dq_head = p;
        d->dq_tail = p;
        d->dq_len++;
        report(d, WEFT_IO_READABLE);
        return; /* queued: freed when received */
    }
    }
    packet_free(n, p);
}

/* A clog's packets go on, in the order they came, after the link's
 * minimum latency. */
static void release(sim_net *n, clog *c) {
    uint64_t now = now_ns(n);
    for (packet *p = c->head, *next; p; p = next) {
        next = p->next;
        p->next = NULL;
        schedule(n, p, W_FLY, now + link_of(n, p->shost, p->dhost)->latency_min_ns);
    }
    c->head = c->tail = NULL;
}

/* --------------------------------------------------------------- sys */

static int sn_open(void *drv, int family, int type, weft_os_socket *out) {
    sim_net *n = drv;
    if (family != WEFT_AF_INET && family != WEFT_AF_INET6 && family != WEFT_AF_UNIX)
        return WEFT_EAFNOSUPPORT;
    weft_sim_host *on = weft__host_cur(n->sim);
    if (on && on->state == WEFT__HOST_CRASHED)
        return WEFT_ENETDOWN; /* a drop of a crashed host's task */
    fsock *f = sock_new(n, family, type);
    if (!f)
        return WEFT_ENOMEM;
    f->host = on;
    *out = f->id;
    return 0;
}

static void free_dgrams(sim_net *n, fsock *f) {
    packet *p = f->dq_head;
    while (p) {
        packet *next = p->next;
        net_free(n, p, sizeof *p + p->len);
        p = next;
    }
    f->dq_head = f->dq_tail = NULL;
    f->dq_len = 0;
}

static void sn_close(void *drv, weft_os_socket s) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f || f->state == S_CLOSED)
        return;
    if (f->type == WEFT_SOCK_STREAM && f->peer_id && !f->reset) {
        /* Unread bytes (or SO_LINGER 0) make close a reset, as on a real
         * stack. */
        bool unread = f->rx_len > 0 || f->inbound > 0 || f->linger0;
        send_packet(n, packet_new(n, unread ? P_RST : P_FIN, f, f->peer_id, 0));
    }
    for (int i = 0; i < f->nbacklog; i++) { /* pending connections are reset */
        fsock *c = sock_of(n, f->backlog[i]);
        if (c) {
            if (c->peer_id)
                send_packet(n, packet_new(n, P_RST, c, c->peer_id, 0));
            c->state = S_CLOSED;
        }
    }
    net_free(n, f->backlog, (size_t)f->backlog_cap * sizeof *f->backlog);
    f->backlog = NULL;
    f->nbacklog = 0;
    net_free(n, f->rx, RX_CAP);
    f->rx = NULL;
    free_dgrams(n, f);
    index_del(n, f);
    f->state = S_CLOSED;
    f->src = NULL;
}

static bool may_bind(sim_net *n, const fsock *f, const weft_addr *a);

static int sn_bind(void *drv, weft_os_socket s, const weft_addr *a) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f || f->has_local)
        return WEFT_EINVAL;
    if (a->family != f->family)
        return WEFT_EAFNOSUPPORT;
    if (!is_local_addr(n, a) || !may_bind(n, f, a))
        return WEFT_EADDRNOTAVAIL;
    weft_addr b = *a;
    if (b.family != WEFT_AF_UNIX && b.port == 0) {
        f->local = b;
        return autobind(n, f, &b);
    }
    if (port_taken(n, f->host, &b, f->type))
        return WEFT_EADDRINUSE;
    f->local = b;
    f->has_local = true;
    f->state = S_BOUND;
    if (f->type == WEFT_SOCK_DGRAM)
        index_add(n, f);
    return 0;
}

static int sn_listen(void *drv, weft_os_socket s, int backlog) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f || f->type != WEFT_SOCK_STREAM)
        return WEFT_EINVAL;
    autobind(n, f, NULL);
    f->backlog_cap = backlog < 1 ? 1 : backlog > 4096 ? 4096 : backlog;
    f->backlog = net_alloc(n, (size_t)f->backlog_cap * sizeof *f->backlog);
    if (!f->backlog)
        return WEFT_ENOMEM;
    f->state = S_LISTENING;
    index_add(n, f);
    return 0;
}

static bool has_route(sim_net *n, const fsock *f, const weft_addr *to);
static uint32_t dest_index(sim_net *n, fsock *from, const weft_addr *to);

static int sn_connect(void *drv, weft_os_socket s, const weft_addr *a) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f || f->state == S_CONNECTING || f->state == S_CONNECTED)
        return f ? WEFT_EISCONN : WEFT_EINVAL;
    if (a->family != f->family)
        return WEFT_EAFNOSUPPORT;
    if (!is_local_addr(n, a) || is_wild(a) || !has_route(n, f, a))
        return WEFT_ENETUNREACH;
    autobind(n, f, a);
    f->peer = *a;
    f->has_peer = true;
    f->state = S_CONNECTING;
    packet *p = packet_new(n, P_SYN, f, 0, 0);
    if (!p)
        return WEFT_ENOMEM;
    p->src = f->local;
    p->dst = *a;
    p->dhost = dest_index(n, f, a);
    send_packet(n, p);
    return WEFT_EAGAIN;
}

static int sn_connect_result(void *drv, weft_os_socket s) {
    fsock *f = sock_of(drv, s);
    if (!f)
        return WEFT_EINVAL;
    if (f->error) {
        int e = f->error;
        f->error = 0;
        return e;
    }
    return f->state == S_CONNECTED ? 0 : WEFT_EAGAIN;
}

static int sn_accept(void *drv, weft_os_socket s, weft_os_socket *out, weft_addr *peer) {
    sim_net *n = drv;
    fsock *l = sock_of(n, s);
    if (!l || l->state != S_LISTENING)
        return WEFT_EINVAL;
    while (l->nbacklog) {
        fsock *c = sock_of(n, l->backlog[0]);
        memmove(l->backlog, l->backlog + 1, (size_t)(--l->nbacklog) * sizeof *l->backlog);
        if (!c || c->state == S_CLOSED)
            continue;
        if (peer)
            *peer = c->peer;
        *out = c->id;
        return 0;
    }
    return WEFT_EAGAIN;
}

/* Now and then a read or a write is cut short (seeded): code that assumes
 * whole messages per call is caught. */
static size_t maybe_short(sim_net *n, size_t len, const char *site) {
    if (len > 1 && (net_below(n, 8) == 0 || net_buggify(n, site, 25)))
        return 1 + (size_t)net_below(n, len - 1);
    return len;
}

static int64_t sn_recv(void *drv, weft_os_socket s, const weft_iovec *iov, int iovcnt,
                       weft_addr *from, size_t *full) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f)
        return WEFT_EINVAL;
    size_t cap = 0;
    for (int i = 0; i < iovcnt; i++)
        cap += iov[i].len;
    if (f->type == WEFT_SOCK_DGRAM) {
        packet *p = f->dq_head;
        if (!p)
            return WEFT_EAGAIN;
        f->dq_head = p->next;
        if (!f->dq_head)
            f->dq_tail = NULL;
        f->dq_len--;
        size_t k = 0;
        for (int i = 0; i < iovcnt && k < p->len; i++) {
            size_t c = p->len - k < iov[i].len ? p->len - k : iov[i].len;
            memcpy(iov[i].base, p->data + k, c);
            k += c;
        }
        if (from)
            *from = p->src;
        int64_t r = (int64_t)p->len;
        if (p->len > cap) {
            if (full)
                *full = p->len;
            r = WEFT_ETRUNCATED;
        }
        net_free(n, p, sizeof *p + p->len);
        return r;
    }
    if (f->rx_len == 0) {
        if (f->reset) {
            int e = f->error ? f->error : WEFT_ECONNRESET;
            f->error = 0;
            return e;
        }
        if (f->eof)
            return 0;
        if (f->state != S_CONNECTED)
            return WEFT_ENOTCONN;
        return WEFT_EAGAIN;
    }
    size_t want = maybe_short(n, cap < f->rx_len ? cap : f->rx_len, "sim net: a short read");
    size_t k = 0;
    for (int i = 0; i < iovcnt && k < want; i++) {
        size_t c = want - k < iov[i].len ? want - k : iov[i].len;
        memcpy(iov[i].base, f->rx + f->rx_off + k, c);
        k += c;
    }
    f->rx_off += k;
    f->rx_len -= k;
    if (f->rx_len == 0)
        f->rx_off = 0;
    /* Space freed: the peer may write again.  Bytes left (a seeded short
     * read): still readable, and the readiness must say so, since no
     * arrival will report it again. */
    report(sock_of(n, f->peer_id), WEFT_IO_WRITABLE);
    if (f->rx_len)
        report(f, WEFT_IO_READABLE);
    if (from)
        *from = f->peer;
    return (int64_t)k;
}

static int64_t sn_send(void *drv, weft_os_socket s, const weft_iovec *iov, int iovcnt,
                       const weft_addr *to) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f)
        return WEFT_EINVAL;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].len;
    if (f->type == WEFT_SOCK_DGRAM) {
        const weft_addr *dst = to ? to : f->has_peer ? &f->peer : NULL;
        if (!dst)
            return WEFT_ENOTCONN;
        if (len > (f->family == WEFT_AF_INET6 ? DGRAM_MAX6 : DGRAM_MAX))
            return WEFT_EMSGSIZE; /* as the OS says, before anything is sent */
        if (dst->family != f->family)
            return WEFT_EAFNOSUPPORT;
        if (!is_local_addr(n, dst) || !has_route(n, f, dst))
            return WEFT_ENETUNREACH;
        autobind(n, f, dst);
        packet *p = packet_new(n, P_DGRAM, f, 0, len);
        if (!p)
            return WEFT_ENOMEM;
        size_t k = 0;
        for (int i = 0; i < iovcnt; i++) {
            memcpy(p->data + k, iov[i].base, iov[i].len);
            k += iov[i].len;
        }
        p->src = f->local;
        p->dst = *dst;
        p->dhost = dest_index(n, f, dst);
        send_packet(n, p);
        return (int64_t)len;
    }
    if (f->reset) {
        int e = f->error ? f->error : WEFT_ECONNRESET;
        f->error = 0;
        return e == WEFT_ECONNRESET ? WEFT_EPIPE : e;
    }
    if (f->wr_shut)
        return WEFT_EPIPE;
    if (f->state != S_CONNECTED)
        return WEFT_ENOTCONN;
    fsock *peer = sock_of(n, f->peer_id);
    if (!peer || (peer->state == S_CLOSED && !peer->vanished)) /* vanished: bytes go, unanswered */
        return WEFT_EPIPE;
    size_t used = peer->rx_len + peer->inbound;
    if (used >= RX_CAP)
        return WEFT_EAGAIN; /* backpressure: wait for the peer to read */
    size_t room = RX_CAP - used, window = room;
    if (room > 4096 && net_buggify(n, "sim net: a small window", 10))
        window = 1 + (size_t)net_below(n, 4096); /* a write cut to a small window */
    size_t put = maybe_short(n, len < window ? len : window, "sim net: a short write");
    if (put == 0)
        return 0;
    packet *p = packet_new(n, P_DATA, f, peer->id, put);
    if (!p)
        return WEFT_ENOMEM;
    size_t k = 0;
    for (int i = 0; i < iovcnt && k < put; i++) {
        size_t c = put - k < iov[i].len ? put - k : iov[i].len;
        memcpy(p->data + k, iov[i].base, c);
        k += c;
    }
    peer->inbound += put;
    send_packet(n, p);
    if (put < room) /* cut short by the seed, not by space: still writable */
        report(f, WEFT_IO_WRITABLE);
    return (int64_t)put;
}

static int sn_shutdown(void *drv, weft_os_socket s, int how) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f || f->type != WEFT_SOCK_STREAM)
        return WEFT_EINVAL;
    if (f->state != S_CONNECTED)
        return WEFT_ENOTCONN;
    if ((how & WEFT_SHUT_WR) && !f->wr_shut) {
        f->wr_shut = true;
        send_packet(n, packet_new(n, P_FIN, f, f->peer_id, 0));
    }
    if (how & WEFT_SHUT_RD) {
        f->eof = true;
        report(f, WEFT_IO_READABLE | WEFT_IO_READ_CLOSED);
    }
    return 0;
}

static void keepalive_set(sim_net *n, fsock *f, int value);

static int sn_setopt(void *drv, weft_os_socket s, int opt, int value) {
    fsock *f = sock_of(drv, s);
    if (!f)
        return WEFT_EINVAL;
    if ((opt == WEFT_SO_NODELAY || opt == WEFT_SO_KEEPALIVE) && f->type != WEFT_SOCK_STREAM)
        return WEFT_EINVAL;
    if (opt == WEFT_SO_LINGER)
        f->linger0 = value == 0;
    if (opt == WEFT_SO_KEEPALIVE)
        keepalive_set(drv, f, value);
    return opt == WEFT_SO_ERROR ? WEFT_EINVAL : 0; /* accepted; the fake stack has no knobs */
}

static int sn_getopt(void *drv, weft_os_socket s, int opt, int *value) {
    fsock *f = sock_of(drv, s);
    if (!f)
        return WEFT_EINVAL;
    switch (opt) {
    case WEFT_SO_ERROR:
        *value = f->error;
        f->error = 0;
        return 0;
    case WEFT_SO_RCVBUF:
    case WEFT_SO_SNDBUF:
        *value = RX_CAP;
        return 0;
    case WEFT_SO_NODELAY:
        *value = 1;
        return 0;
    default:
        return WEFT_EINVAL;
    }
}

static int sn_name(void *drv, weft_os_socket s, bool peer, weft_addr *out) {
    fsock *f = sock_of(drv, s);
    if (!f)
        return WEFT_EINVAL;
    if (peer) {
        if (!f->has_peer || (f->type == WEFT_SOCK_STREAM && f->state != S_CONNECTED))
            return WEFT_ENOTCONN;
        *out = f->peer;
        return 0;
    }
    if (!f->has_local) {
        *out = (weft_addr){.family = (uint16_t)f->family};
        return 0;
    }
    *out = f->local;
    return 0;
}

static int sn_multicast(void *drv, weft_os_socket s, bool join, const weft_addr *group,
                        const weft_addr *iface) {
    (void)drv;
    (void)s;
    (void)join;
    (void)group;
    (void)iface;
    return WEFT_ENOTSUP; /* no multicast in the simulated network yet */
}

static int sn_connect_dgram(void *drv, weft_os_socket s, const weft_addr *a) {
    sim_net *n = drv;
    fsock *f = sock_of(n, s);
    if (!f || f->type != WEFT_SOCK_DGRAM)
        return WEFT_EINVAL;
    autobind(n, f, a);
    f->peer = *a;
    f->has_peer = true;
    return 0;
}

static int sn_lookup(void *drv, const char *name, uint16_t port, weft_addr *out, size_t cap) {
    sim_net *n = drv;
    size_t k = 0;
    int fault = weft__hosts_lookup_fault(n->sim, name); /* weft_sim_lookup_fail */
    if (fault)
        return fault;
    if (strcmp(name, "localhost") == 0) {
        out[k++] = weft_addr_loopback4(port);
        if (k < cap)
            out[k++] = weft_addr_loopback6(port);
        return (int)k;
    }
    for (int h = 0; h < n->nhosts; h++) {
        if (strcmp(n->hosts[h].name, name) != 0)
            continue;
        for (int i = 0; i < n->hosts[h].naddrs && k < cap; i++) {
            out[k] = n->hosts[h].addrs[i];
            out[k++].port = port;
        }
        return (int)k;
    }
    return WEFT_ENOTFOUND;
}

static const weft_io_sys sim_sys = {
    .open = sn_open,
    .close = sn_close,
    .bind = sn_bind,
    .listen = sn_listen,
    .connect = sn_connect,
    .connect_result = sn_connect_result,
    .accept = sn_accept,
    .recv = sn_recv,
    .send = sn_send,
    .shutdown = sn_shutdown,
    .setopt = sn_setopt,
    .getopt = sn_getopt,
    .name = sn_name,
    .multicast = sn_multicast,
    .connect_dgram = sn_connect_dgram,
    .lookup = sn_lookup,
};

/* ------------------------------------------------------------ driver */

static int sn_register(void *drv, weft_io_source *src, weft_os_socket s) {
    fsock *f = sock_of(drv, s);
    if (!f)
        return WEFT_EINVAL;
    f->src = src;
    return 0;
}

static int sn_deregister(void *drv, weft_io_source *src, weft_os_socket s) {
    (void)src;
    fsock *f = sock_of(drv, s);
    if (f)
        f->src = NULL;
    return 0;
}

/* Deliveries come from the runtime's timer: there is nothing to wait in. */
static int sn_wait(void *drv, uint64_t deadline_ns) {
    (void)drv;
    (void)deadline_ns;
    return 0;
}
static void sn_wake(void *drv) { (void)drv; }

static void sn_destroy(void *drv) {
    sim_net *n = drv;
    if (n->armed)
        weft__timer_disarm(n->rt, &n->timer);
    if (n->nem.armed)
        weft__timer_disarm(n->rt, &n->nem.timer);
    /* Every packet is in exactly one place: the heap, a clog, a
     * datagram queue, or (arrived, waiting for the one before it) its
     * sender's stream queue (walked first: it links the others). */
    for (uint32_t i = 0; i < n->nsocks; i++)
        for (packet *p = n->socks[i] ? n->socks[i]->tx_head : NULL, *next; p; p = next) {
            next = p->tnext;
            if (p->where == W_ARRIVED)
                packet_free(n, p);
        }
    while (n->nheap)
        packet_free(n, heap_pop(n));
    net_free(n, n->heap, n->heap_cap * sizeof *n->heap);
    for (int i = 0; i < n->nclogs; i++)
        for (packet *p = n->clogs[i].head, *next; p; p = next) {
            next = p->next;
            packet_free(n, p);
        }
    net_free(n, n->clogs, (size_t)n->clogs_cap * sizeof *n->clogs);
    net_free(n, n->cuts, (size_t)n->cuts_cap * sizeof *n->cuts);
    net_free(n, n->links, n->links_cap * sizeof *n->links);
    for (uint32_t i = 0; i < n->nsocks; i++) {
        fsock *f = n->socks[i];
        if (!f)
            continue;
        net_free(n, f->rx, RX_CAP);
        net_free(n, f->backlog, (size_t)f->backlog_cap * sizeof *f->backlog);
        free_dgrams(n, f);
        net_free(n, f, sizeof *f);
    }
    net_free(n, n->socks, n->cap * sizeof *n->socks);
    for (int h = 0; h < n->nhosts; h++) /* held for a host still paused */
        for (packet *p = n->hosts[h].held, *next; p; p = next) {
            next = p->next;
            net_free(n, p, sizeof *p + p->len);
        }
    net_free(n, n->hosts, (size_t)n->hosts_cap * sizeof *n->hosts);
    net_free(n, n->addr_tab, n->addr_cap * sizeof *n->addr_tab);
    net_free(n, n->bound, n->bound_cap * sizeof *n->bound);
    weft_allocator a = n->alloc;
    a.free(a.ctx, n, sizeof *n);
}

static int sn_create(const weft_allocator *a, void **out) {
    sim_net *n = a->alloc(a->ctx, sizeof *n);
    if (!n)
        return WEFT_ENOMEM;
    memset(n, 0, sizeof *n);
    n->alloc = *a;
    n->next_port = EPHEMERAL_FIRST;
    *out = n;
    return 0;
}

const weft_io_driver_ops weft__io_sim = {
    .name = "sim",
    .model = WEFT_IO_MODEL_READINESS,
    .flags = WEFT_IO_INLINE,
    .create = sn_create,
    .destroy = sn_destroy,
    .register_source = sn_register,
    .deregister = sn_deregister,
    .wait = sn_wait,
    .wake = sn_wake,
    .sys = &sim_sys,
};

/* The sim scheduler's create_io: the fake network on this runtime. */
int weft__sim_net_create(weft__rt *rt) {
    int err = weft__io_create_with(rt, &weft__io_sim);
    if (err)
        return err;
    sim_net *n = rt->io->drv;
    n->rt = rt;
    n->sim = weft__sim_of(rt);
    n->profile = rt->config.sim_net;
    if (n->profile != WEFT_SIM_NET_SWARM && n->profile != WEFT_SIM_NET_CALM) {
        weft__io_destroy(rt);
        return WEFT_EINVAL;
    }
    net_seed(n, rt->config.sim_seed);
    n->def = (weft_sim_link){.latency_min_ns = 1000000}; /* 1 ms: the wheel's grain */
    if (n->profile == WEFT_SIM_NET_SWARM)
        draw_knobs(n);
    if (n->sim->trace) { /* the trace's header: the knobs of the run */
        char text[256];
        describe(n, text, sizeof text);
        fprintf(n->sim->trace, "# network: %s (host0 is localhost)\n", text);
    }
    return 0;
}

/* The network's knobs as text, or NULL when the run never used it. */
const char *weft__sim_net_knobs(weft__rt *rt, char *buf, size_t len) {
    if (!rt || !rt->io || rt->io->ops != &weft__io_sim)
        return NULL;
    sim_net *n = rt->io->drv;
    if (!n->announced)
        return NULL;
    describe(n, buf, len);
    return buf;
}

/* ---------------------------------------------------------------- hosts
 *
 * Each socket belongs to a host (fsock.host; NULL: the root's), and the
 * host is a namespace: its ports, its loopback and its Unix paths are its
 * own.  The addresses of a host made without a start function
 * (weft_sim_host_add) are the root's to bind: no task of its own could.
 * A host's addresses are in the one address table (section "host
 * addresses": host index by address, O(1)); its entry names its owner.
 *
 * A crash makes the host's sockets vanish: marked, emptied, closed under
 * the application (whose close is then a no-op); what they still had to
 * send goes with them.  Packets that later reach a vanished socket meet
 * what a real network would: with RESET (a kernel is alive) or after a
 * restart (a fresh stack that knows no such connection), a reset back;
 * after a SILENT crash, nothing.  To the sender that host is a black-hole
 * path, and the faults' machinery does the rest (retry_later): data is
 * retransmitted with backoff until the stream gives up (WEFT_ETIMEDOUT,
 * after Linux's 15 retries, 804.6 s), and a SYN goes unanswered until the
 * connect times out.  A paused host's deliveries wait in its entry and go
 * on, in order, at its resume (or meet its crash).
 */

static bool is_loopback(const weft_addr *a) {
    static const uint8_t lo6[16] = {[15] = 1};
    return (a->family == WEFT_AF_INET && a->u.v4[0] == 127) ||
           (a->family == WEFT_AF_INET6 && memcmp(a->u.v6, lo6, 16) == 0);
}

/* The index in n->hosts of the host holding address `a` (port ignored),
 * or -1. */
static int host_index(sim_net *n, const weft_addr *a) { return (int)host_lookup(n, a) - 1; }

/* Whose sockets an address of host entry `slot` reaches: its host's, when
 * the host runs tasks of its own; else the root's. */
static weft_sim_host *owner_of_slot(const sim_net *n, int slot) {
    if (slot < 0)
        return NULL;
    weft_sim_host *o = n->hosts[slot].owner;
    return o && o->start ? o : NULL;
}

/* The host whose sockets a packet from `from` to `to` is for: loopback,
 * wildcard and Unix paths stay on the sender's host. */
static weft_sim_host *dest_host(sim_net *n, const fsock *from, const weft_addr *to) {
    if (to->family == WEFT_AF_UNIX || is_loopback(to) || is_wild(to))
        return from ? from->host : NULL;
    return owner_of_slot(n, host_index(n, to));
}

/* The host index (0: localhost) a packet from `from` to `to` goes to, for
 * the links, partitions and clogs: the sender's own for its loopback,
 * wildcard and Unix paths. */
static uint32_t dest_index(sim_net *n, fsock *from, const weft_addr *to) {
    if (to->family == WEFT_AF_UNIX || is_loopback(to) || is_wild(to))
        return sock_host(n, from);
    return host_lookup(n, to);
}

/* A host binds its own addresses, its loopback and the wildcard; the root
 * binds any address but a host's that runs tasks. */
static bool may_bind(sim_net *n, const fsock *f, const weft_addr *a) {
    if (a->family == WEFT_AF_UNIX || is_wild(a) || is_loopback(a))
        return true;
    int slot = host_index(n, a);
    if (f->host)
        return slot >= 0 && n->hosts[slot].owner == f->host;
    return owner_of_slot(n, slot) == NULL;
}

/* A host has a route to another only in a family it has an address of. */
static bool has_route(sim_net *n, const fsock *f, const weft_addr *to) {
    if (!f->host || to->family == WEFT_AF_UNIX || is_loopback(to) || is_wild(to) ||
        (f->has_local && !is_wild(&f->local)))
        return true;
    const host *mine = &n->hosts[f->host->net_slot];
    for (int i = 0; i < mine->naddrs; i++)
        if (mine->addrs[i].family == to->family)
            return true;
    return false;
}

/* The address a socket speaks from toward `to`: `to` itself when it is
 * the socket's own host's (loopback too); else its host's first address of
 * the family (the root's: its loopback). */
static weft_addr source_toward(sim_net *n, const fsock *f, const weft_addr *to) {
    int slot = host_index(n, to);
    if (is_loopback(to) || (slot >= 0 && owner_of_slot(n, slot) == f->host))
        return *to;
    if (f->host) {
        const host *mine = &n->hosts[f->host->net_slot];
        for (int i = 0; i < mine->naddrs; i++)
            if (mine->addrs[i].family == to->family)
                return mine->addrs[i];
        return *to;
    }
    return to->family == WEFT_AF_INET6 ? weft_addr_loopback6(0) : weft_addr_loopback4(0);
}

/* Is a kernel there to answer for host `d`?  A running host's, or a
 * killed process's (RESET); not a machine without power (SILENT). */
static bool host_answers(const weft_sim_host *d) {
    return !d || d->state != WEFT__HOST_CRASHED || d->how == WEFT_SIM_CRASH_RESET;
}

/* The host a packet is for, once it got across. */
static weft_sim_host *packet_host(sim_net *n, const packet *p) {
    if (p->kind == P_SYN || p->kind == P_DGRAM)
        return dest_host(n, sock_of(n, p->from), &p->dst);
    fsock *to = p->to ? sock_of(n, p->to) : NULL;
    return to ? to->host : NULL;
}

static bool silent_dest(sim_net *n, const packet *p) {
    return !host_answers(packet_host(n, p));
}

static void hold_packet(sim_net *n, weft_sim_host *h, packet *p) {
    host *e = &n->hosts[h->net_slot];
    net_ev(n, WEFT__NET_HOLD, p);
    p->where = W_HELD;
    p->next = NULL;
    if (e->held_tail)
        e->held_tail->next = p;
    else
        e->held = p;
    e->held_tail = p;
}

/* After its trip and any clog: true when the packet's host is paused (the
 * packet waits) or down (a black hole), and this took care of it. */
static bool host_arrive(sim_net *n, packet *p) {
    weft_sim_host *d = packet_host(n, p);
    if (!d)
        return false; /* the root's: never paused nor crashed */
    if (d->state == WEFT__HOST_PAUSED) {
        hold_packet(n, d, p);
        return true;
    }
    if (host_answers(d)) {
        fsock *to = p->to ? sock_of(n, p->to) : NULL;
        if (to && to->vanished && (p->kind == P_DATA || p->kind == P_FIN) && p->from)
            /* The stack knows no such connection: a reset back; the
             * segment is then handed over to the closed socket (dropped). */
            send_packet(n, packet_new(n, P_RST, to, p->from, 0));
        return false;
    }
    /* Nothing answers: as on a cut path, a reliable packet is sent again
     * later, until its sender gives up. */
    net_ev(n, WEFT__NET_DROP_HOST_DOWN, p);
    if (p->kind == P_SYN || p->kind == P_DATA || p->kind == P_FIN)
        retry_later(n, p, W_RTO);
    else
        packet_free(n, p);
    return true;
}

/* Keepalive.  Probes only matter once the peer is gone (a live peer's
 * answer changes nothing), so the probe timer runs only for a socket whose
 * peer vanished: idle seconds after the crash (or after keepalive was set,
 * if later), then every 75 s; after 9 unanswered probes the connection
 * times out, as Linux's defaults do.  A peer whose stack answers (RESET,
 * or restarted) resets the connection at the first probe.  The probe is a
 * timer of the probing socket's own stack (a P_PROBE in the heap, never on
 * a link): the path's faults do not touch it. */
#define KEEPALIVE_DEFAULT_S 7200
#define KEEPALIVE_INTVL_NS 75000000000ull
#define KEEPALIVE_PROBES 9

static void keepalive_arm(sim_net *n, fsock *f) {
    fsock *peer = f ? sock_of(n, f->peer_id) : NULL;
    if (!f || !f->keepalive_s || f->state != S_CONNECTED || f->reset || !peer || !peer->vanished)
        return;
    packet *p = packet_new(n, P_PROBE, NULL, f->id, 0);
    if (p)
        schedule(n, p, W_FLY, now_ns(n) + (uint64_t)f->keepalive_s * 1000000000u);
}

static void keepalive_set(sim_net *n, fsock *f, int value) {
    bool was = f->keepalive_s != 0;
    f->keepalive_s = value < 0 ? 0 : value == 0 ? KEEPALIVE_DEFAULT_S : value;
    if (!was)
        keepalive_arm(n, f);
}

/* A probe's timer fired (timer_fire): probe the peer, or give up. */
static void probe_fire(sim_net *n, packet *p) {
    fsock *f = sock_of(n, p->to);
    if (f && f->host && f->host->state == WEFT__HOST_PAUSED) {
        hold_packet(n, f->host, p); /* its stack is stopped too */
        return;
    }
    fsock *peer = f ? sock_of(n, f->peer_id) : NULL;
    if (!f || !f->keepalive_s || f->state != S_CONNECTED || f->reset || !peer) {
        packet_free(n, p);
        return;
    }
    weft_sim_host *d = peer->host; /* a paused peer answers no probe either */
    bool answers = !d || d->state == WEFT__HOST_RUNNING ||
                   (d->state == WEFT__HOST_CRASHED && d->how == WEFT_SIM_CRASH_RESET);
    net_ev(n, WEFT__NET_SEND, p);
    if (answers || p->tries >= KEEPALIVE_PROBES) {
        if (!answers)
            net_ev(n, WEFT__NET_TIMEOUT, p);
        f->reset = true;
        f->error = answers ? WEFT_ECONNRESET : WEFT_ETIMEDOUT;
        report(f, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                      WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
        packet_free(n, p);
        return;
    }
    p->tries++;
    schedule(n, p, W_FLY, now_ns(n) + KEEPALIVE_INTVL_NS);
}

/* The held packets back into the network, due now, in their order. */
static void release_held(sim_net *n, weft_sim_host *h) {
    host *e = &n->hosts[h->net_slot];
    packet *p = e->held;
    e->held = e->held_tail = NULL;
    uint64_t now = now_ns(n);
    while (p) {
        packet *next = p->next;
        p->next = NULL;
        schedule(n, p, W_FLY, now);
        p = next;
    }
}

void weft__sim_net_crash(weft__rt *rt, weft_sim_host *h, int how) {
    sim_net *n = rt->io->drv;
    for (uint32_t i = 0; i < n->nsocks; i++) {
        fsock *f = n->socks[i];
        if (!f || f->host != h || f->vanished || f->state == S_CLOSED)
            continue;
        tx_abandon(n, f); /* what it had yet to get across dies with it */
        if (how == WEFT_SIM_CRASH_RESET && f->type == WEFT_SOCK_STREAM && f->peer_id && !f->reset)
            send_packet(n, packet_new(n, P_RST, f, f->peer_id, 0));
        net_free(n, f->backlog, (size_t)f->backlog_cap * sizeof *f->backlog);
        f->backlog = NULL;
        f->nbacklog = 0;
        net_free(n, f->rx, RX_CAP);
        f->rx = NULL;
        f->rx_len = f->rx_off = 0;
        free_dgrams(n, f);
        index_del(n, f);
        f->vanished = true;
        f->state = S_CLOSED;
        if (how == WEFT_SIM_CRASH_SILENT && f->type == WEFT_SOCK_STREAM)
            keepalive_arm(n, sock_of(n, f->peer_id)); /* the peer's probes find nobody */
        f->reset = true;
        f->error = WEFT_ENETDOWN; /* whoever still holds it: its machine is gone */
        report(f, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                      WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
    }
    release_held(n, h); /* they meet the crashed host */
}

void weft__sim_net_resume(weft__rt *rt, weft_sim_host *h) { release_held(rt->io->drv, h); }

bool weft__sim_net_addr_taken(weft__rt *rt, const weft_addr *a) {
    return host_lookup(rt->io->drv, a) != 0;
}

int weft__sim_net_host_add(weft__rt *rt, const char *name, const weft_addr *addrs, int naddrs,
                           weft_sim_host *owner, int *slot) {
    if (!rt->io || rt->io->ops != &weft__io_sim)
        return WEFT_ENOTSUP;
    sim_net *n = rt->io->drv;
    host hst = {0};
    if (strlen(name) >= sizeof hst.name || naddrs < 1 || naddrs > 4)
        return WEFT_EINVAL;
    for (int h = 0; h < n->nhosts; h++)
        if (strcmp(n->hosts[h].name, name) == 0)
            return WEFT_EINVAL;
    strcpy(hst.name, name);
    for (int i = 0; i < naddrs; i++) {
        const weft_addr *a = &addrs[i];
        if ((a->family != WEFT_AF_INET && a->family != WEFT_AF_INET6) || is_loopback(a) ||
            is_wild(a) || host_lookup(n, a))
            return WEFT_EINVAL;
        for (int j = 0; j < i; j++)
            if (same_ip(&hst.addrs[j], a))
                return WEFT_EINVAL; /* twice in the list */
        hst.addrs[i] = *a;
        hst.addrs[i].port = 0;
        hst.naddrs = i + 1;
    }
    hst.owner = owner;
    if (addr_reserve(n, (size_t)naddrs))
        return WEFT_ENOMEM;
    if (n->nhosts == n->hosts_cap) {
        int cap = n->hosts_cap ? 2 * n->hosts_cap : 8;
        host *t = net_alloc(n, (size_t)cap * sizeof *t);
        if (!t)
            return WEFT_ENOMEM;
        if (n->hosts)
            memcpy(t, n->hosts, (size_t)n->nhosts * sizeof *t);
        net_free(n, n->hosts, (size_t)n->hosts_cap * sizeof *t);
        n->hosts = t;
        n->hosts_cap = cap;
    }
    *slot = n->nhosts;
    n->hosts[n->nhosts++] = hst;
    for (int i = 0; i < naddrs; i++)
        addr_put(n, n->nhosts - 1, i);
    return 0;
}

/* ------------------------------------------------------------- faults
 *
 * The test's controls.  Each is a trace event (host indexes; the text
 * trace's "# network" and "# host" lines name them). */

static sim_net *net_of(weft_handle *h) {
    weft__rt *rt = h ? (weft__rt *)h : weft__cur.rt;
    if (!rt || !rt->io || rt->io->ops != &weft__io_sim)
        return NULL;
    return rt->io->drv;
}

/* Resolves both names: 0, WEFT_EINVAL (NULL), WEFT_ENOTFOUND. */
static int pair_named(sim_net *n, const char *a, const char *b, uint32_t *ha, uint32_t *hb) {
    if (!a || !b)
        return WEFT_EINVAL;
    int64_t x = host_named(n, a), y = host_named(n, b);
    if (x < 0 || y < 0)
        return WEFT_ENOTFOUND;
    *ha = (uint32_t)x;
    *hb = (uint32_t)y;
    return 0;
}

int weft_sim_link_set(weft_handle *h, const char *a, const char *b, const weft_sim_link *l) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    uint32_t x, y;
    int err = pair_named(n, a, b, &x, &y);
    if (err)
        return err;
    if (!l || l->latency_min_ns > MAX_LATENCY_NS || l->latency_tail_ns > MAX_LATENCY_NS ||
        l->loss_ppm > 1000000 || l->dup_ppm > 1000000 || l->reorder_ppm > 1000000 ||
        l->connect_fail_ppm > 1000000)
        return WEFT_EINVAL;
    announce(n);
    if (x == HOST_ANY && y == HOST_ANY) {
        n->def = *l;
        n->def_set = true;
    } else {
        if (x == HOST_ANY) {
            x = y;
            y = HOST_ANY;
        }
        err = link_put(n, x, y, l);
        if (err)
            return err;
    }
    if (n->sim->trace) {
        char text[160];
        link_text(text, sizeof text, l);
        fprintf(n->sim->trace, "   link %s - %s: %s\n", a, b, text);
    }
    ctl_ev(n, WEFT__NET_LINK, x, y,
           l->latency_min_ns ^ l->latency_tail_ns << 20 ^ (uint64_t)l->loss_ppm << 40 ^
               (uint64_t)l->dup_ppm << 8 ^ (uint64_t)l->reorder_ppm << 28 ^
               (uint64_t)l->connect_fail_ppm << 48);
    return 0;
}

int weft_sim_link_get(weft_handle *h, const char *a, const char *b, weft_sim_link *out) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    uint32_t x, y;
    int err = pair_named(n, a, b, &x, &y);
    if (err)
        return err;
    if (!out)
        return WEFT_EINVAL;
    const weft_sim_link *l = NULL;
    if (x == HOST_ANY && y == HOST_ANY)
        l = &n->def;
    else if (x == HOST_ANY || y == HOST_ANY)
        l = link_find(n, x == HOST_ANY ? y : x, HOST_ANY);
    else
        l = link_of(n, x, y);
    *out = l ? *l : n->def;
    return 0;
}

int weft_sim_partition(weft_handle *h, const char *a, const char *b, int how) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    uint32_t x, y;
    int err = pair_named(n, a, b, &x, &y);
    if (err)
        return err;
    if ((x == y && x != HOST_ANY) || (how != WEFT_SIM_BOTH_WAYS && how != WEFT_SIM_ONE_WAY))
        return WEFT_EINVAL;
    return cut_add(n, x, y, how, false);
}

int weft_sim_heal(weft_handle *h, const char *a, const char *b) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    uint32_t x, y;
    int err = pair_named(n, a, b, &x, &y);
    if (err)
        return err;
    announce(n);
    int kept = 0;
    for (int i = 0; i < n->ncuts; i++) {
        cut c = n->cuts[i];
        bool hit = (host_match(x, c.a) && host_match(y, c.b)) ||
                   (host_match(x, c.b) && host_match(y, c.a));
        if (!hit)
            n->cuts[kept++] = c;
    }
    n->ncuts = kept;
    ctl_ev(n, WEFT__NET_HEAL, x, y, (uint64_t)n->ncuts);
    return 0;
}

int weft_sim_clog(weft_handle *h, const char *a, const char *b) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    uint32_t x, y;
    int err = pair_named(n, a, b, &x, &y);
    if (err)
        return err;
    if (x == y && x != HOST_ANY)
        return WEFT_EINVAL;
    return clog_add(n, x, y, false);
}

int weft_sim_unclog(weft_handle *h, const char *a, const char *b) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    uint32_t x, y;
    int err = pair_named(n, a, b, &x, &y);
    if (err)
        return err;
    for (int i = 0; i < n->nclogs; i++)
        if (n->clogs[i].a == x && n->clogs[i].b == y) {
            unclog_at(n, i);
            return 0;
        }
    return WEFT_ENOTFOUND;
}

static void calm_link(weft_sim_link *l) {
    l->loss_ppm = l->dup_ppm = l->reorder_ppm = l->connect_fail_ppm = 0;
}

int weft_sim_heal_all(weft_handle *h) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    announce(n);
    ctl_ev(n, WEFT__NET_HEAL_ALL, HOST_ANY, HOST_ANY, (uint64_t)n->ncuts << 32 | (uint32_t)n->nclogs);
    n->ncuts = 0;
    while (n->nclogs)
        unclog_at(n, 0);
    n->nem.every_ns = 0; /* the nemesis is done too */
    n->nem.on = false;
    if (n->nem.armed)
        weft__timer_disarm(n->rt, &n->nem.timer);
    n->nem.armed = false;
    calm_link(&n->def);
    for (size_t i = 0; i < n->links_cap; i++)
        if (n->links[i].used)
            calm_link(&n->links[i].l);
    return 0;
}

int weft_sim_net_describe(weft_handle *h, char *buf, size_t len) {
    sim_net *n = net_of(h);
    if (!n)
        return h || weft__cur.rt ? WEFT_ENOTSUP : WEFT_EINVAL;
    if (!buf || !len)
        return WEFT_EINVAL;
    return describe(n, buf, len);
}
