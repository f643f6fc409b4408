/* weft — the simulated network: fake sockets behind the same driver seam
 * as epoll, so the same net API (and the same application code) runs on
 * the simulator, on virtual time, decided by the seed.
 *
 * The world: every address a host has (127.0.0.1 and ::1 always, plus
 * those of the hosts a test adds with weft_sim_host_add) is reachable;
 * sockets bind to them, listen, connect, send and receive.  Every packet
 * (a connection request, its answer, a run of stream bytes, an end of
 * stream, a reset, a datagram) is an event delivered after a seeded
 * latency, in order per direction, through one timer of the runtime's
 * wheel armed at the earliest pending delivery; each delivery is a trace
 * event, so it is part of the run's fingerprint.
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
 * through the section "hosts" at the end of this file.
 *
 * Not yet (the simulated network issue goes on): partitions, loss and the
 * other fault knobs.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "net_impl.h"
#include "sim.h"
#include "timer_wheel.h"

#define EV_NET (WEFT__EV_USER + 1) /* a = packet kind << 32 | to, b = bytes */

enum { P_SYN = 1, P_SYNACK, P_REFUSE, P_DATA, P_FIN, P_RST, P_DGRAM,
       P_PROBE /* a keepalive probe's timer, to the probing socket (section hosts) */ };
enum { S_NEW, S_BOUND, S_LISTENING, S_CONNECTING, S_CONNECTED, S_CLOSED };

#define RX_CAP (64 * 1024)    /* a stream's receive buffer */
#define DGRAM_QUEUE 64        /* datagrams a socket holds */
#define DGRAM_MAX 65507
#define EPHEMERAL_FIRST 49152
#define SYN_RETRIES 6         /* then the connect times out (as Linux's 6) */
#define SYN_RTO_NS 1000000000ull /* first retransmission after 1 s, doubling */

typedef struct packet {
    uint64_t at, seq;   /* delivery time (ns), then sending order */
    int kind;
    int tries;          /* a SYN's retransmissions so far */
    uint32_t to, from;  /* socket ids (0: none) */
    weft_addr src, dst;
    size_t len;
    struct packet *next; /* a datagram queue's link */
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
    /* stream receive side */
    char *rx;
    size_t rx_len, rx_off;
    size_t inbound;        /* bytes the peer has in flight to us */
    bool eof, reset, wr_shut;
    bool linger0;          /* SO_LINGER 0: close resets */
    int error;             /* pending (connect refused, reset) */
    uint64_t last_at[2];   /* per direction: deliveries stay in order */
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

typedef struct sim_net {
    weft__rt *rt;
    weft__sim *sim;
    weft_allocator alloc;
    fsock **socks;        /* by id - 1 */
    uint32_t nsocks, cap;
    packet **heap;        /* pending deliveries, by (at, seq) */
    size_t nheap, heap_cap;
    uint64_t seq;
    weft_timer_entry timer;
    bool armed;
    uint16_t next_port;
    host *hosts;
    int nhosts, hosts_cap;
    uint32_t *addr_tab;   /* host addresses: (slot << 2 | index) + 1, open addressing; 0: free */
    size_t addr_cap, addr_count;
    uint64_t min_latency_ns, jitter_ns;
} sim_net;

static void *net_alloc(sim_net *n, size_t size) { return n->alloc.alloc(n->alloc.ctx, size); }
static void net_free(sim_net *n, void *p, size_t size) {
    if (p)
        n->alloc.free(n->alloc.ctx, p, size);
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

/* --------------------------------------------------------- deliveries */

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

/* The true virtual time (not the clock of the host whose task runs), also
 * for calls from outside the sim's block_on. */
static uint64_t now_ns(const sim_net *n) { return weft__time_now(n->rt); }

static void arm(sim_net *n);

static void deliver(sim_net *n, packet *p);

/* The timer's waker: deliver what is due, re-arm for the rest. */
static weft_waker timer_clone(const void *d);
static void timer_fire(const void *d) {
    sim_net *n = (sim_net *)d;
    n->armed = false;
    uint64_t now = now_ns(n);
    while (n->nheap && n->heap[0]->at <= now)
        deliver(n, heap_pop(n));
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

/* A seeded latency, in order after what went before in this direction. */
static packet *packet_new(sim_net *n, int kind, fsock *from, uint32_t to, size_t len) {
    packet *p = net_alloc(n, sizeof *p + len);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->from = from ? from->id : 0;
    p->to = to;
    p->len = len;
    uint64_t lat = n->min_latency_ns + (n->jitter_ns ? weft__sim_below(n->sim, n->jitter_ns) : 0);
    p->at = now_ns(n) + lat;
    if (from) {
        int dir = kind == P_DGRAM ? 1 : 0;
        if (p->at < from->last_at[dir])
            p->at = from->last_at[dir];
        from->last_at[dir] = p->at;
    }
    p->seq = n->seq++;
    return p;
}

static void send_packet(sim_net *n, packet *p) {
    heap_push(n, p);
    arm(n);
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

static int addr_slot(const sim_net *n, const weft_addr *a);

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
    return addr_slot(n, a) >= 0; /* a host's */
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

static fsock *find_bound(sim_net *n, weft_sim_host *on, const weft_addr *to, int type,
                         bool listening) {
    for (uint32_t i = 0; i < n->nsocks; i++) {
        fsock *f = n->socks[i];
        if (!f || f->type != type || !f->has_local || f->state == S_CLOSED || f->host != on)
            continue;
        if (listening && f->state != S_LISTENING)
            continue;
        if (matches(&f->local, to))
            return f;
    }
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

static void trace_packet(sim_net *n, packet *p) {
    weft__sim_ev(n->sim, EV_NET, (uint64_t)p->kind << 32 | p->to, p->len, NULL);
}

static weft_sim_host *dest_host(sim_net *n, const fsock *from, const weft_addr *to);
static bool host_intercept(sim_net *n, packet *p);

static void deliver(sim_net *n, packet *p) {
    trace_packet(n, p);
    if (host_intercept(n, p)) /* a paused or crashed host's */
        return;
    fsock *to = p->to ? sock_of(n, p->to) : NULL;
    fsock *from = p->from ? sock_of(n, p->from) : NULL;
    switch (p->kind) {
    case P_SYN: {
        fsock *l = find_bound(n, dest_host(n, from, &p->dst), &p->dst, WEFT_SOCK_STREAM, true);
        if (!l) {
            if (from)
                send_packet(n, packet_new(n, P_REFUSE, NULL, from->id, 0));
            break;
        }
        if (l->nbacklog >= l->backlog_cap) {
            /* A full backlog drops the SYN, as Linux does: the client
             * retransmits with backoff, then gives up. */
            if (!from || from->state != S_CONNECTING)
                break;
            if (p->tries >= SYN_RETRIES) {
                from->error = WEFT_ETIMEDOUT;
                from->state = S_BOUND;
                report(from, WEFT_IO_WRITABLE | WEFT_IO_ERROR);
                break;
            }
            packet *again = packet_new(n, P_SYN, NULL, 0, 0);
            if (!again)
                break;
            again->from = p->from;
            again->src = p->src;
            again->dst = p->dst;
            again->tries = p->tries + 1;
            again->at = now_ns(n) + (SYN_RTO_NS << p->tries);
            send_packet(n, again);
            break;
        }
        fsock *s = sock_new(n, l->family, WEFT_SOCK_STREAM);
        if (!s)
            break;
        s->host = l->host;
        s->state = S_CONNECTED;
        s->local = p->dst;
        s->has_local = true;
        s->peer = p->src;
        s->has_peer = true;
        s->peer_id = p->from;
        if (from)
            from->peer_id = s->id;
        l->backlog[l->nbacklog++] = s->id;
        report(l, WEFT_IO_READABLE);
        send_packet(n, packet_new(n, P_SYNACK, s, p->from, 0));
        break;
    }
    case P_SYNACK:
        if (to && to->state == S_CONNECTING) {
            to->state = S_CONNECTED;
            report(to, WEFT_IO_WRITABLE);
        }
        break;
    case P_REFUSE:
        if (to && to->state == S_CONNECTING) {
            to->error = WEFT_ECONNREFUSED;
            to->state = S_BOUND;
            report(to, WEFT_IO_WRITABLE | WEFT_IO_ERROR);
        }
        break;
    case P_DATA:
        if (to) {
            to->inbound -= p->len;
            if (to->state != S_CLOSED && !to->reset) {
                rx_append(n, to, p->data, p->len);
                report(to, WEFT_IO_READABLE);
            }
        }
        break;
    case P_FIN:
        if (to && !to->reset) {
            to->eof = true;
            report(to, WEFT_IO_READABLE | WEFT_IO_READ_CLOSED);
        }
        break;
    case P_RST:
        if (to && to->state != S_CLOSED) {
            to->reset = true;
            to->error = WEFT_ECONNRESET;
            report(to, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                           WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
        }
        break;
    case P_DGRAM: {
        fsock *d = find_bound(n, dest_host(n, from, &p->dst), &p->dst, WEFT_SOCK_DGRAM, false);
        if (!d || d->dq_len >= DGRAM_QUEUE ||
            (d->has_peer && !weft_addr_equal(&d->peer, &p->src)))
            break; /* dropped, as an OS drops it */
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
    net_free(n, p, sizeof *p + p->len);
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
    return 0;
}

static bool has_route(sim_net *n, const fsock *f, const weft_addr *to);

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
static size_t maybe_short(sim_net *n, size_t len) {
    if (len > 1 && weft__sim_below(n->sim, 8) == 0)
        return 1 + (size_t)weft__sim_below(n->sim, len - 1);
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
    size_t want = maybe_short(n, cap < f->rx_len ? cap : f->rx_len);
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
        if (len > DGRAM_MAX)
            return WEFT_EMSGSIZE;
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
    size_t room = RX_CAP - used;
    size_t put = maybe_short(n, len < room ? len : room);
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
    while (n->nheap) {
        packet *p = heap_pop(n);
        net_free(n, p, sizeof *p + p->len);
    }
    net_free(n, n->heap, n->heap_cap * sizeof *n->heap);
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
    n->min_latency_ns = 1000000;   /* 1 ms: the wheel's grain */
    n->jitter_ns = 0;
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
    return 0;
}


/* ---------------------------------------------------------------- hosts
 *
 * Each socket belongs to a host (fsock.host; NULL: the root's), and the
 * host is a namespace: its ports, its loopback and its Unix paths are its
 * own.  The addresses of a host made without a start function
 * (weft_sim_host_add) are the root's to bind: no task of its own could.
 *
 * A crash makes the host's sockets vanish: marked, emptied, closed under
 * the application (whose close is then a no-op).  Packets that later reach
 * a vanished socket meet what a real network would: with RESET (a kernel
 * is alive) or after a restart (a fresh stack that knows no such
 * connection), a reset back; after a SILENT crash, nothing: the sender's
 * data is retransmitted with backoff until it gives up (WEFT_ETIMEDOUT),
 * and a SYN goes unanswered until the connect times out.
 */

#define DATA_RETRIES 15               /* Linux's tcp_retries2 */
#define DATA_RTO_NS 200000000ull      /* first retransmission after 200 ms, doubling */
#define DATA_RTO_MAX_NS 120000000000ull /* up to 120 s (Linux's TCP_RTO_MAX) */

static bool is_loopback(const weft_addr *a) {
    static const uint8_t lo6[16] = {[15] = 1};
    return (a->family == WEFT_AF_INET && a->u.v4[0] == 127) ||
           (a->family == WEFT_AF_INET6 && memcmp(a->u.v6, lo6, 16) == 0);
}

static size_t ip_len(const weft_addr *a) { return a->family == WEFT_AF_INET ? 4 : 16; }

/* FNV-1a over family and address bytes. */
static uint64_t ip_hash(const weft_addr *a) {
    uint64_t h = UINT64_C(1469598103934665603) ^ a->family;
    for (size_t i = 0; i < ip_len(a); i++) {
        h ^= a->u.v6[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static const weft_addr *tab_addr(const sim_net *n, uint32_t v) {
    return &n->hosts[(v - 1) >> 2].addrs[(v - 1) & 3];
}

/* The table entry holding address `a` (its port ignored), or -1: O(1), so
 * a packet costs the same with 5 hosts or 500. */
static int addr_slot(const sim_net *n, const weft_addr *a) {
    if ((a->family != WEFT_AF_INET && a->family != WEFT_AF_INET6) || !n->addr_cap)
        return -1;
    size_t mask = n->addr_cap - 1;
    for (size_t i = (size_t)ip_hash(a) & mask; n->addr_tab[i]; i = (i + 1) & mask) {
        const weft_addr *x = tab_addr(n, n->addr_tab[i]);
        if (x->family == a->family && memcmp(&x->u, &a->u, ip_len(a)) == 0)
            return (int)((n->addr_tab[i] - 1) >> 2);
    }
    return -1;
}

static void tab_put(sim_net *n, uint32_t v) {
    size_t mask = n->addr_cap - 1, i = (size_t)ip_hash(tab_addr(n, v)) & mask;
    while (n->addr_tab[i])
        i = (i + 1) & mask;
    n->addr_tab[i] = v;
    n->addr_count++;
}

/* Room in the address table for `more` addresses (at most half full). */
static int tab_reserve(sim_net *n, size_t more) {
    if (2 * (n->addr_count + more) <= n->addr_cap)
        return 0;
    size_t cap = n->addr_cap ? n->addr_cap : 64;
    while (2 * (n->addr_count + more) > cap)
        cap *= 2;
    uint32_t *t = net_alloc(n, cap * sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    memset(t, 0, cap * sizeof *t);
    net_free(n, n->addr_tab, n->addr_cap * sizeof *t);
    n->addr_tab = t;
    n->addr_cap = cap;
    n->addr_count = 0;
    for (int h = 0; h < n->nhosts; h++)
        for (int i = 0; i < n->hosts[h].naddrs; i++)
            tab_put(n, ((uint32_t)h << 2 | (uint32_t)i) + 1);
    return 0;
}

/* Whose sockets an address of entry `slot` reaches: its host's, when the
 * host runs tasks of its own; else the root's. */
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
    return owner_of_slot(n, addr_slot(n, to));
}

/* A host binds its own addresses, its loopback and the wildcard; the root
 * binds any address but a host's that runs tasks. */
static bool may_bind(sim_net *n, const fsock *f, const weft_addr *a) {
    if (a->family == WEFT_AF_UNIX || is_wild(a) || is_loopback(a))
        return true;
    int slot = addr_slot(n, a);
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
    int slot = addr_slot(n, to);
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

static void free_packet(sim_net *n, packet *p) { net_free(n, p, sizeof *p + p->len); }

/* The receiving stack knows no such connection: it answers with a reset. */
static void reset_back(sim_net *n, fsock *gone, packet *p) {
    if (p->from)
        send_packet(n, packet_new(n, P_RST, gone, p->from, 0));
}

/* Data sent to a silently crashed host: nobody acknowledges it, so it is
 * sent again later, until the sender gives up. */
static void retransmit(sim_net *n, packet *p, fsock *gone) {
    fsock *from = p->from ? sock_of(n, p->from) : NULL;
    if (!from || from->state == S_CLOSED || from->reset) {
        gone->inbound -= p->len;
        free_packet(n, p);
        return;
    }
    if (p->tries >= DATA_RETRIES) {
        from->reset = true;
        from->error = WEFT_ETIMEDOUT;
        report(from, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                         WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
        gone->inbound -= p->len;
        free_packet(n, p);
        return;
    }
    uint64_t rto = DATA_RTO_NS << p->tries;
    p->at = now_ns(n) + (rto < DATA_RTO_MAX_NS ? rto : DATA_RTO_MAX_NS);
    p->tries++;
    p->seq = n->seq++;
    send_packet(n, p);
}

/* A SYN nobody answers: sent again with backoff, then the connect times out. */
static void syn_unanswered(sim_net *n, packet *p) {
    fsock *from = p->from ? sock_of(n, p->from) : NULL;
    if (!from || from->state != S_CONNECTING)
        return;
    if (p->tries >= SYN_RETRIES) {
        from->error = WEFT_ETIMEDOUT;
        from->state = S_BOUND;
        report(from, WEFT_IO_WRITABLE | WEFT_IO_ERROR);
        return;
    }
    packet *again = packet_new(n, P_SYN, NULL, 0, 0);
    if (!again)
        return;
    again->from = p->from;
    again->src = p->src;
    again->dst = p->dst;
    again->tries = p->tries + 1;
    again->at = now_ns(n) + (SYN_RTO_NS << p->tries);
    send_packet(n, again);
}

static void hold_packet(sim_net *n, weft_sim_host *h, packet *p) {
    host *e = &n->hosts[h->net_slot];
    p->next = NULL;
    if (e->held_tail)
        e->held_tail->next = p;
    else
        e->held = p;
    e->held_tail = p;
}

/* Keepalive.  Probes only matter once the peer is gone (a live peer's
 * answer changes nothing), so the probe timer runs only for a socket whose
 * peer vanished: idle seconds after the crash (or after keepalive was set,
 * if later), then every 75 s; after 9 unanswered probes the connection
 * times out, as Linux's defaults do.  A peer whose stack answers (RESET,
 * or restarted) resets the connection at the first probe. */
#define KEEPALIVE_DEFAULT_S 7200
#define KEEPALIVE_INTVL_NS 75000000000ull
#define KEEPALIVE_PROBES 9

static void keepalive_arm(sim_net *n, fsock *f) {
    fsock *peer = f ? sock_of(n, f->peer_id) : NULL;
    if (!f || !f->keepalive_s || f->state != S_CONNECTED || f->reset || !peer || !peer->vanished)
        return;
    packet *p = packet_new(n, P_PROBE, NULL, f->id, 0);
    if (!p)
        return;
    p->at = now_ns(n) + (uint64_t)f->keepalive_s * 1000000000u;
    send_packet(n, p);
}

static void keepalive_set(sim_net *n, fsock *f, int value) {
    bool was = f->keepalive_s != 0;
    f->keepalive_s = value < 0 ? 0 : value == 0 ? KEEPALIVE_DEFAULT_S : value;
    if (!was)
        keepalive_arm(n, f);
}

static void keepalive_probe(sim_net *n, packet *p) {
    fsock *f = sock_of(n, p->to);
    fsock *peer = f ? sock_of(n, f->peer_id) : NULL;
    if (!f || !f->keepalive_s || f->state != S_CONNECTED || f->reset || !peer)
        return;
    weft_sim_host *d = peer->host;
    bool answers = !d || d->state == WEFT__HOST_RUNNING || d->how == WEFT_SIM_CRASH_RESET;
    if (answers || p->tries >= KEEPALIVE_PROBES) {
        f->reset = true;
        f->error = answers ? WEFT_ECONNRESET : WEFT_ETIMEDOUT;
        report(f, WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_READ_CLOSED |
                      WEFT_IO_WRITE_CLOSED | WEFT_IO_ERROR);
        return;
    }
    packet *again = packet_new(n, P_PROBE, NULL, f->id, 0);
    if (!again)
        return;
    again->tries = p->tries + 1;
    again->at = now_ns(n) + KEEPALIVE_INTVL_NS;
    send_packet(n, again);
}

/* Before a delivery: true when the packet's host is paused (the packet
 * waits) or crashed, and this took care of it. */
static bool host_intercept(sim_net *n, packet *p) {
    fsock *to = p->to ? sock_of(n, p->to) : NULL;
    fsock *from = p->from ? sock_of(n, p->from) : NULL;
    weft_sim_host *d = p->kind == P_SYN || p->kind == P_DGRAM ? dest_host(n, from, &p->dst)
                                                              : to ? to->host : NULL;
    if (d && d->state == WEFT__HOST_PAUSED) {
        hold_packet(n, d, p);
        return true;
    }
    if (p->kind == P_PROBE) { /* a timer of the probing socket's own stack */
        keepalive_probe(n, p);
        free_packet(n, p);
        return true;
    }
    if (!d)
        return false; /* the root's: never paused nor crashed */
    /* Is a kernel there to answer?  A running host's, or a killed
     * process's (RESET); not a machine without power (SILENT). */
    bool answers = d->state == WEFT__HOST_RUNNING || d->how == WEFT_SIM_CRASH_RESET;
    if (to && to->vanished) {
        if (p->kind == P_DATA && !answers) {
            retransmit(n, p, to);
            return true;
        }
        if (p->kind == P_DATA)
            to->inbound -= p->len;
        if ((p->kind == P_DATA || p->kind == P_FIN) && answers)
            reset_back(n, to, p);
        free_packet(n, p);
        return true;
    }
    if (!answers && (p->kind == P_SYN || p->kind == P_DGRAM)) {
        if (p->kind == P_SYN)
            syn_unanswered(n, p);
        free_packet(n, p);
        return true;
    }
    return false;
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
        p->at = now;
        p->seq = n->seq++;
        heap_push(n, p);
        p = next;
    }
    arm(n);
}

void weft__sim_net_crash(weft__rt *rt, weft_sim_host *h, int how) {
    sim_net *n = rt->io->drv;
    for (uint32_t i = 0; i < n->nsocks; i++) {
        fsock *f = n->socks[i];
        if (!f || f->host != h || f->vanished || f->state == S_CLOSED)
            continue;
        if (how == WEFT_SIM_CRASH_RESET && f->type == WEFT_SOCK_STREAM && f->peer_id && !f->reset)
            send_packet(n, packet_new(n, P_RST, f, f->peer_id, 0));
        net_free(n, f->backlog, (size_t)f->backlog_cap * sizeof *f->backlog);
        f->backlog = NULL;
        f->nbacklog = 0;
        net_free(n, f->rx, RX_CAP);
        f->rx = NULL;
        f->rx_len = f->rx_off = 0;
        free_dgrams(n, f);
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
    return addr_slot(rt->io->drv, a) >= 0;
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
            is_wild(a) || addr_slot(n, a) >= 0)
            return WEFT_EINVAL;
        for (int j = 0; j < i; j++)
            if (hst.addrs[j].family == a->family && memcmp(&hst.addrs[j].u, &a->u, ip_len(a)) == 0)
                return WEFT_EINVAL; /* twice in the list */
        hst.addrs[i] = *a;
        hst.addrs[i].port = 0;
        hst.naddrs = i + 1;
    }
    hst.owner = owner;
    if (tab_reserve(n, (size_t)naddrs))
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
        tab_put(n, ((uint32_t)*slot << 2 | (uint32_t)i) + 1);
    return 0;
}
