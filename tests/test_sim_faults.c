/* weft tests — the simulated network's faults: partitions (both ways,
 * one way, healed), clogs, loss under TCP (still in order, only slower),
 * a broken path timing out, UDP loss, duplication and reordering, the
 * swarm's per-seed draw of the knobs, liveness after weft_sim_heal_all,
 * the knobs on the failure line, determinism.
 *
 * Tests run the sim runtime directly, one operation per block_on (virtual
 * time moves only while one runs), so a test reads as a sequence of
 * network events with exact virtual-time expectations. */
#include "harness.h"
#include "sim_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/net.h"
#include "weft/sim.h"
#include "weft/time.h"

/* ------------------------------------------------------------- fixture */

/* A calm world (unless `swarm`) with hosts a (10.0.0.1) and b (10.0.0.2). */
static weft_runtime *world(uint64_t seed, bool swarm) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_net = swarm ? WEFT_SIM_NET_SWARM : WEFT_SIM_NET_CALM;
    b.sim_trace_path = getenv("WEFT_TRACE");
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    const char *a_ip[] = {"10.0.0.1"}, *b_ip[] = {"10.0.0.2"}, *c_ip[] = {"10.0.0.3"};
    weft_handle *h = weft_runtime_handle(rt);
    assert_int_equal(weft_sim_host_add(h, "a", a_ip, 1), 0);
    assert_int_equal(weft_sim_host_add(h, "b", b_ip, 1), 0);
    assert_int_equal(weft_sim_host_add(h, "c", c_ip, 1), 0);
    return rt;
}

static weft_addr at(const char *ip, uint16_t port) {
    weft_addr a;
    assert_int_equal(weft_addr_from_ip(ip, port, &a), 0);
    return a;
}

static int64_t block(weft_runtime *rt, weft_future *f) {
    int64_t out = -12345;
    assert_int_equal(weft_runtime_block_on(rt, f, &out), 0);
    return out;
}

/* Calls fn(ctx) inside the runtime (binds need one), returns its value. */
typedef struct in_rt {
    weft_future base;
    int64_t (*fn)(void *ctx);
    void *ctx;
} in_rt;
static weft_poll in_rt_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    in_rt *self = (in_rt *)f;
    *(int64_t *)out = self->fn(self->ctx);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(in_rt, in_rt_poll, NULL, int64_t);

static int64_t now_fn(void *ctx) {
    (void)ctx;
    return (int64_t)weft_now();
}
static int64_t vnow(weft_runtime *rt) { return block(rt, &WEFT_NEW(in_rt, .fn = now_fn).base); }

typedef struct bind_args {
    weft_addr addr;
    bool stream;
    weft_socket **out;
} bind_args;
static int64_t bind_fn(void *ctx) {
    bind_args *b = ctx;
    return b->stream ? weft_listener_bind(&b->addr, NULL, b->out)
                     : weft_datagram_bind(&b->addr, NULL, b->out);
}
static weft_socket *bind_on(weft_runtime *rt, weft_addr addr, bool stream) {
    weft_socket *s = NULL;
    bind_args b = {addr, stream, &s};
    assert_int_equal(block(rt, &WEFT_NEW(in_rt, .fn = bind_fn, .ctx = &b).base), 0);
    return s;
}

/* Runs `op` under a timeout of `d`: its output, or WEFT_ETIMEDOUT. */
static int64_t within(weft_runtime *rt, weft_duration d, weft_future *op) {
    weft_timeout t;
    int64_t out = -12345;
    weft_timeout(&t, d, op);
    assert_int_equal(weft_runtime_block_on(rt, &t.base, &out), 0);
    return weft_timeout_status(&t) ? WEFT_ETIMEDOUT : out;
}

/* Connects from `from_ip` (port 0) to `to`: 0 and *out, or the error. */
static int64_t connect_from(weft_runtime *rt, const char *from_ip, weft_addr to,
                            weft_stream **out) {
    weft_socket_options o;
    weft_socket_options_init(&o);
    weft_addr local = at(from_ip, 0);
    o.bind_addr = &local;
    weft_net_op op;
    return block(rt, weft_stream_connect(&op, &to, &o, out));
}

/* A connected stream from a (10.0.0.1) to b's listener on 10.0.0.2:7000. */
typedef struct conn {
    weft_listener *l;
    weft_stream *ab; /* a's end */
    weft_stream *ba; /* b's end */
} conn;
static void conn_make(weft_runtime *rt, conn *c) {
    c->l = bind_on(rt, at("10.0.0.2", 7000), true);
    assert_int_equal(connect_from(rt, "10.0.0.1", at("10.0.0.2", 7000), &c->ab), 0);
    weft_net_op op;
    assert_int_equal(block(rt, weft_listener_accept(&op, c->l, &c->ba, NULL)), 0);
}
static void conn_close(conn *c) {
    weft_socket_close(c->ab);
    weft_socket_close(c->ba);
    weft_socket_close(c->l);
}

static int64_t write_all(weft_runtime *rt, weft_stream *s, const void *buf, size_t len) {
    weft_net_op op;
    return block(rt, weft_stream_write_all(&op, s, buf, len));
}

/* ---------------------------------------------------------- partitions */

/* A connect across a partition times out after the SYN's backoff (1 s,
 * doubling, 6 retransmissions: 63 s), either way; healed, it works. */
static void partition_blocks_connect_both_ways(void **state) {
    (void)state;
    weft_runtime *rt = world(1, false);
    weft_handle *h = weft_runtime_handle(rt);
    weft_listener *lb = bind_on(rt, at("10.0.0.2", 7000), true);
    weft_listener *la = bind_on(rt, at("10.0.0.1", 7000), true);
    assert_int_equal(weft_sim_partition(h, "a", "b", WEFT_SIM_BOTH_WAYS), 0);
    weft_stream *s = NULL;
    int64_t t0 = vnow(rt);
    assert_int_equal(connect_from(rt, "10.0.0.1", at("10.0.0.2", 7000), &s), WEFT_ETIMEDOUT);
    assert_int_equal(vnow(rt) - t0, WEFT_SECS(63));
    assert_int_equal(connect_from(rt, "10.0.0.2", at("10.0.0.1", 7000), &s), WEFT_ETIMEDOUT);
    /* c is not cut off */
    assert_int_equal(connect_from(rt, "10.0.0.3", at("10.0.0.2", 7000), &s), 0);
    weft_socket_close(s);
    assert_int_equal(weft_sim_heal(h, "b", "a"), 0); /* either order */
    t0 = vnow(rt);
    assert_int_equal(connect_from(rt, "10.0.0.1", at("10.0.0.2", 7000), &s), 0);
    assert_int_equal(vnow(rt) - t0, WEFT_MS(2)); /* SYN and SYN-ACK: 1 ms each */
    weft_socket_close(s);
    weft_socket_close(la);
    weft_socket_close(lb);
    weft_runtime_free(rt);
}

/* An established stream across a new partition: nothing gets through
 * either way; healed, the retransmissions deliver everything, in order. */
static void partition_blocks_delivery_both_ways(void **state) {
    (void)state;
    weft_runtime *rt = world(2, false);
    weft_handle *h = weft_runtime_handle(rt);
    conn c;
    conn_make(rt, &c);
    assert_int_equal(weft_sim_partition(h, "a", "b", WEFT_SIM_BOTH_WAYS), 0);
    assert_int_equal(write_all(rt, c.ab, "ping", 4), 4); /* buffered: the write succeeds */
    assert_int_equal(write_all(rt, c.ba, "pong", 4), 4);
    char buf[16];
    weft_net_op op;
    assert_int_equal(within(rt, WEFT_SECS(5), weft_stream_read(&op, c.ba, buf, sizeof buf)),
                     WEFT_ETIMEDOUT);
    assert_int_equal(within(rt, WEFT_SECS(5), weft_stream_read(&op, c.ab, buf, sizeof buf)),
                     WEFT_ETIMEDOUT);
    assert_int_equal(weft_sim_heal(h, "a", "b"), 0);
    assert_int_equal(write_all(rt, c.ab, "PING", 4), 4);
    /* The lost segment's next retransmission (at 12.8 s after the send)
     * carries it, then the one queued behind it: in order. */
    assert_int_equal(within(rt, WEFT_SECS(30), weft_stream_read_exact(&op, c.ba, buf, 8)), 8);
    assert_memory_equal(buf, "pingPING", 8);
    assert_int_equal(within(rt, WEFT_SECS(30), weft_stream_read_exact(&op, c.ab, buf, 4)), 4);
    assert_memory_equal(buf, "pong", 4);
    conn_close(&c);
    weft_runtime_free(rt);
}

/* UDP across a one-way partition a -> b: a's datagrams are lost, b's
 * arrive. */
static void one_way_partition_udp(void **state) {
    (void)state;
    weft_runtime *rt = world(3, false);
    weft_handle *h = weft_runtime_handle(rt);
    weft_datagram *ua = bind_on(rt, at("10.0.0.1", 9000), false);
    weft_datagram *ub = bind_on(rt, at("10.0.0.2", 9000), false);
    assert_int_equal(weft_sim_partition(h, "a", "b", WEFT_SIM_ONE_WAY), 0);
    weft_addr to_a = at("10.0.0.1", 9000), to_b = at("10.0.0.2", 9000), from;
    weft_net_op op;
    char buf[16];
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, "a2b", 3, &to_b)), 3);
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ub, "b2a", 3, &to_a)), 3);
    assert_int_equal(within(rt, WEFT_SECS(1),
                            weft_datagram_recv_from(&op, ua, buf, sizeof buf, &from)), 3);
    assert_memory_equal(buf, "b2a", 3);
    assert_int_equal(within(rt, WEFT_SECS(1),
                            weft_datagram_recv_from(&op, ub, buf, sizeof buf, &from)),
                     WEFT_ETIMEDOUT);
    assert_int_equal(weft_sim_heal(h, "a", "b"), 0);
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, "a2b", 3, &to_b)), 3);
    assert_int_equal(within(rt, WEFT_SECS(1),
                            weft_datagram_recv_from(&op, ub, buf, sizeof buf, &from)), 3);
    weft_socket_close(ua);
    weft_socket_close(ub);
    weft_runtime_free(rt);
}

/* TCP across a one-way partition a -> b: b's bytes reach a, but a's acks
 * never reach b, so b retransmits until it gives up (200 ms doubling up to
 * 120 s, 15 retransmissions: 804.6 s); a's own bytes never arrive. */
static void one_way_partition_tcp(void **state) {
    (void)state;
    weft_runtime *rt = world(4, false);
    weft_handle *h = weft_runtime_handle(rt);
    conn c;
    conn_make(rt, &c);
    assert_int_equal(weft_sim_partition(h, "a", "b", WEFT_SIM_ONE_WAY), 0);
    weft_net_op op;
    char buf[16];
    int64_t t0 = vnow(rt);
    assert_int_equal(write_all(rt, c.ba, "b2a", 3), 3);
    assert_int_equal(within(rt, WEFT_SECS(1), weft_stream_read_exact(&op, c.ab, buf, 3)), 3);
    assert_memory_equal(buf, "b2a", 3);
    assert_int_equal(write_all(rt, c.ab, "a2b", 3), 3);
    /* b's read ends with its own stream's timeout, not with a's bytes */
    assert_int_equal(within(rt, WEFT_SECS(900), weft_stream_read(&op, c.ba, buf, sizeof buf)),
                     WEFT_ETIMEDOUT);
    int64_t took = vnow(rt) - t0;
    assert_true(took >= WEFT_MS(804600) && took <= WEFT_MS(804700)); /* + the 1 ms trip */
    conn_close(&c);
    weft_runtime_free(rt);
}

/* A partition that stays: the writer's stream fails with WEFT_ETIMEDOUT
 * (it never hangs), the reader sees nothing, as on a real network. */
static void broken_path_times_out(void **state) {
    (void)state;
    weft_runtime *rt = world(5, false);
    weft_handle *h = weft_runtime_handle(rt);
    conn c;
    conn_make(rt, &c);
    assert_int_equal(weft_sim_partition(h, "b", "*", WEFT_SIM_BOTH_WAYS), 0);
    int64_t t0 = vnow(rt);
    assert_int_equal(write_all(rt, c.ab, "lost", 4), 4);
    weft_net_op op;
    char buf[16];
    assert_int_equal(block(rt, weft_stream_read(&op, c.ab, buf, sizeof buf)), WEFT_ETIMEDOUT);
    /* 0.2 s * (2^10 - 1) + 5 * 120 s: 15 retransmissions, as Linux */
    assert_int_equal(vnow(rt) - t0, WEFT_MS(804600));
    assert_int_equal(block(rt, weft_stream_write(&op, c.ab, "x", 1)), WEFT_EPIPE);
    assert_int_equal(within(rt, WEFT_SECS(1000), weft_stream_read(&op, c.ba, buf, sizeof buf)),
                     WEFT_ETIMEDOUT);
    conn_close(&c);
    weft_runtime_free(rt);
}

/* --------------------------------------------------------------- clogs */

/* A clog holds a -> b datagrams and stream bytes; the unclog releases
 * them in the order they came; b -> a flows meanwhile. */
static void clog_holds_then_releases_in_order(void **state) {
    (void)state;
    weft_runtime *rt = world(6, false);
    weft_handle *h = weft_runtime_handle(rt);
    weft_datagram *ua = bind_on(rt, at("10.0.0.1", 9000), false);
    weft_datagram *ub = bind_on(rt, at("10.0.0.2", 9000), false);
    conn c;
    conn_make(rt, &c);
    assert_int_equal(weft_sim_clog(h, "a", "b"), 0);
    weft_addr to_a = at("10.0.0.1", 9000), to_b = at("10.0.0.2", 9000), from;
    weft_net_op op;
    char buf[16];
    for (int i = 0; i < 10; i++) {
        char m = (char)('0' + i);
        assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, &m, 1, &to_b)), 1);
        assert_int_equal(write_all(rt, c.ab, &m, 1), 1);
    }
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ub, "back", 4, &to_a)), 4);
    assert_int_equal(within(rt, WEFT_SECS(1),
                            weft_datagram_recv_from(&op, ua, buf, sizeof buf, &from)), 4);
    assert_int_equal(within(rt, WEFT_SECS(300),
                            weft_datagram_recv_from(&op, ub, buf, sizeof buf, &from)),
                     WEFT_ETIMEDOUT);
    assert_int_equal(within(rt, WEFT_SECS(1), weft_stream_read(&op, c.ba, buf, sizeof buf)),
                     WEFT_ETIMEDOUT);
    assert_int_equal(weft_sim_unclog(h, "a", "b"), 0);
    assert_int_equal(weft_sim_unclog(h, "a", "b"), WEFT_ENOTFOUND);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(within(rt, WEFT_SECS(1),
                                weft_datagram_recv_from(&op, ub, buf, sizeof buf, &from)), 1);
        assert_int_equal(buf[0], '0' + i);
    }
    assert_int_equal(within(rt, WEFT_SECS(1), weft_stream_read_exact(&op, c.ba, buf, 10)), 10);
    assert_memory_equal(buf, "0123456789", 10);
    /* a clog of everything from a host */
    assert_int_equal(weft_sim_clog(h, "a", "*"), 0);
    assert_int_equal(write_all(rt, c.ab, "z", 1), 1);
    assert_int_equal(within(rt, WEFT_SECS(1), weft_stream_read(&op, c.ba, buf, sizeof buf)),
                     WEFT_ETIMEDOUT);
    assert_int_equal(weft_sim_heal_all(h), 0);
    assert_int_equal(within(rt, WEFT_SECS(1), weft_stream_read(&op, c.ba, buf, sizeof buf)), 1);
    conn_close(&c);
    weft_socket_close(ua);
    weft_socket_close(ub);
    weft_runtime_free(rt);
}

/* ------------------------------------------------------------ TCP loss */

static uint8_t pattern(size_t k) { return (uint8_t)(k * 7 + (k >> 9)); }

/* Reads `total` bytes and checks each is the pattern's, in order. */
typedef struct bulk_reader {
    weft_future base;
    weft_stream *r;
    size_t total, got;
    uint8_t in[4096];
    int64_t n;
    weft_net_op op;
} bulk_reader;
static weft_poll bulk_reader_poll(weft_future *f, weft_context *cx, void *out) {
    bulk_reader *b = (bulk_reader *)f;
    WEFT_BEGIN(f);
    while (b->got < b->total) {
        WEFT_AWAIT(f, cx, weft_stream_read(&b->op, b->r, b->in, sizeof b->in), &b->n);
        if (b->n <= 0)
            WEFT_RETURN(f, out, int64_t, -2);
        for (int64_t i = 0; i < b->n; i++)
            if (b->in[i] != pattern(b->got + (size_t)i))
                WEFT_RETURN(f, out, int64_t, -3); /* out of order or corrupt */
        b->got += (size_t)b->n;
    }
    WEFT_RETURN(f, out, int64_t, (int64_t)b->got);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(bulk_reader, bulk_reader_poll, NULL, int64_t);

/* Writes `total` pattern bytes while a reader task checks them. */
typedef struct bulk {
    weft_future base;
    weft_stream *w, *r;
    size_t total, sent;
    uint8_t out[4096];
    int64_t n;
    weft_net_op op;
    weft_join_handle jh;
} bulk;
static weft_poll bulk_poll(weft_future *f, weft_context *cx, void *out) {
    bulk *b = (bulk *)f;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(bulk_reader, .r = b->r, .total = b->total), &b->jh);
    while (b->sent < b->total) {
        for (size_t i = 0; i < sizeof b->out; i++)
            b->out[i] = pattern(b->sent + i);
        WEFT_AWAIT(f, cx, weft_stream_write_all(&b->op, b->w, b->out, sizeof b->out), &b->n);
        if (b->n != (int64_t)sizeof b->out)
            WEFT_RETURN(f, out, int64_t, -1);
        b->sent += sizeof b->out;
    }
    WEFT_AWAIT(f, cx, weft_join(&b->jh), &b->n);
    WEFT_RETURN(f, out, int64_t, b->n);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(bulk, bulk_poll, NULL, int64_t);

/* Moves 1 MiB a -> b with `loss_ppm`; returns the virtual time it took. */
static int64_t transfer(uint64_t seed, uint32_t loss_ppm, uint64_t *events) {
    weft_runtime *rt = world(seed, false);
    weft_handle *h = weft_runtime_handle(rt);
    weft_sim_link l = {.latency_min_ns = WEFT_MS(2), .loss_ppm = loss_ppm};
    assert_int_equal(weft_sim_link_set(h, "a", "b", &l), 0);
    weft_sim_link got;
    assert_int_equal(weft_sim_link_get(h, "b", "a", &got), 0);
    assert_int_equal(got.loss_ppm, loss_ppm);
    conn c;
    conn_make(rt, &c);
    int64_t t0 = vnow(rt);
    assert_int_equal(block(rt, &WEFT_NEW(bulk, .w = c.ab, .r = c.ba, .total = 1u << 20).base),
                     1 << 20);
    int64_t took = vnow(rt) - t0;
    *events = weft_sim_events(h);
    conn_close(&c);
    weft_runtime_free(rt);
    return took;
}

/* 20% loss: every byte still arrives, in order; the retransmissions make
 * it slower than the same transfer without loss. */
static void tcp_loss_delivers_in_order(void **state) {
    (void)state;
    uint64_t e0, e1;
    int64_t calm = transfer(7, 0, &e0), lossy = transfer(7, 200000, &e1);
    assert_true(lossy > 2 * calm);
    assert_true(e1 > e0);
}

/* A reset lost on the way is sent again, as a real stack answers the
 * peer's next segment with another: the reader learns of it, over a link
 * that loses half of everything, for each of 20 seeds. */
static void reset_survives_loss(void **state) {
    (void)state;
    for (uint64_t seed = 0; seed < 20; seed++) {
        weft_runtime *rt = world(seed, false);
        conn c;
        conn_make(rt, &c);
        weft_sim_link l = {.latency_min_ns = WEFT_MS(1), .loss_ppm = 500000};
        assert_int_equal(weft_sim_link_set(weft_runtime_handle(rt), "a", "b", &l), 0);
        assert_int_equal(weft_socket_set_linger(c.ba, 0), 0);
        weft_socket_close(c.ba);
        c.ba = NULL;
        weft_net_op op;
        char buf[8];
        assert_int_equal(block(rt, weft_stream_read(&op, c.ab, buf, sizeof buf)), WEFT_ECONNRESET);
        conn_close(&c);
        weft_runtime_free(rt);
    }
}

/* ----------------------------------------------------------------- UDP */

/* 300 numbered datagrams a -> b over a lossy, duplicating, reordering link
 * with a latency tail: some are lost, some come twice, some out of
 * order; on a calm link none of that. */
static void udp_loss_dup_reorder(void **state) {
    (void)state;
    for (int faulty = 0; faulty < 2; faulty++) {
        weft_runtime *rt = world(8, false);
        weft_handle *h = weft_runtime_handle(rt);
        weft_sim_link l = {.latency_min_ns = WEFT_MS(1)};
        if (faulty)
            l = (weft_sim_link){WEFT_MS(1), WEFT_MS(5), 100000, 100000, 100000, 0};
        assert_int_equal(weft_sim_link_set(h, "a", "b", &l), 0);
        weft_datagram *ua = bind_on(rt, at("10.0.0.1", 9000), false);
        weft_datagram *ub = bind_on(rt, at("10.0.0.2", 9000), false);
        weft_addr to_b = at("10.0.0.2", 9000), from;
        weft_net_op op;
        int seen[300] = {0}, dups = 0, late = 0, last = -1, got = 0;
        for (int i = 0; i < 300; i++) {
            unsigned char m[2] = {(unsigned char)(i >> 8), (unsigned char)i};
            assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, m, 2, &to_b)), 2);
            /* drain what has arrived, 1 ms apart */
            for (;;) {
                unsigned char r[2];
                int64_t n = within(rt, WEFT_MS(1),
                                   weft_datagram_recv_from(&op, ub, r, sizeof r, &from));
                if (n == WEFT_ETIMEDOUT)
                    break;
                assert_int_equal(n, 2);
                int k = r[0] << 8 | r[1];
                dups += seen[k]++ > 0;
                late += k < last;
                last = k > last ? k : last;
                got++;
            }
        }
        for (;;) { /* the stragglers */
            unsigned char r[2];
            int64_t n = within(rt, WEFT_SECS(1),
                               weft_datagram_recv_from(&op, ub, r, sizeof r, &from));
            if (n == WEFT_ETIMEDOUT)
                break;
            int k = r[0] << 8 | r[1];
            dups += seen[k]++ > 0;
            late += k < last;
            last = k > last ? k : last;
        }
        int lost = 0;
        for (int i = 0; i < 300; i++)
            lost += seen[i] == 0;
        if (faulty) {
            assert_true(lost > 10 && lost < 60);  /* ~10% */
            assert_true(dups > 10 && dups < 60);
            assert_true(late > 5);
        } else {
            assert_int_equal(lost + dups + late, 0);
        }
        (void)got;
        weft_socket_close(ua);
        weft_socket_close(ub);
        weft_runtime_free(rt);
    }
}

/* The largest datagram the OS takes over IPv4 (and IPv6), and one byte
 * more: WEFT_EMSGSIZE, as the real driver says. */
static void datagram_size_limit(void **state) {
    (void)state;
    weft_runtime *rt = world(9, false);
    weft_datagram *ua = bind_on(rt, at("10.0.0.1", 9000), false);
    weft_datagram *ub = bind_on(rt, at("10.0.0.2", 9000), false);
    static char big[65536];
    weft_addr to_b = at("10.0.0.2", 9000), from;
    weft_net_op op;
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, big, 65508, &to_b)), WEFT_EMSGSIZE);
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, big, 65507, &to_b)), 65507);
    assert_int_equal(block(rt, weft_datagram_recv_from(&op, ub, big, sizeof big, &from)), 65507);
    weft_socket_close(ua);
    weft_socket_close(ub);
    ua = bind_on(rt, weft_addr_loopback6(0), false);
    weft_addr to6 = weft_addr_loopback6(9001);
    ub = bind_on(rt, to6, false);
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, big, 65528, &to6)), WEFT_EMSGSIZE);
    assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, big, 65527, &to6)), 65527);
    assert_int_equal(block(rt, weft_datagram_recv_from(&op, ub, big, sizeof big, &from)), 65527);
    weft_socket_close(ua);
    weft_socket_close(ub);
    weft_runtime_free(rt);
}

/* --------------------------------------------------------------- swarm */

/* The swarm draws each run's knobs from its seed: the same seed the same
 * knobs, different seeds different ones, calm and lossy and long-tailed
 * runs among them; a test's own setting replaces the draw, and the calm
 * profile draws nothing. */
static void swarm_draws_per_seed(void **state) {
    (void)state;
    int calm = 0, lossy = 0, tailed = 0, dup = 0, reorder = 0, fail = 0, distinct = 0;
    weft_sim_link prev = {0};
    for (uint64_t seed = 0; seed < 64; seed++) {
        weft_sim_link l[2];
        char text[2][256];
        for (int k = 0; k < 2; k++) {
            weft_runtime *rt = world(seed, true);
            assert_int_equal(weft_sim_link_get(weft_runtime_handle(rt), "*", "*", &l[k]), 0);
            assert_true(weft_sim_net_describe(weft_runtime_handle(rt), text[k], 256) > 0);
            weft_runtime_free(rt);
        }
        assert_memory_equal(&l[0], &l[1], sizeof l[0]);
        assert_string_equal(text[0], text[1]);
        assert_non_null(strstr(text[0], "swarm"));
        calm += !l[0].loss_ppm && !l[0].dup_ppm && !l[0].reorder_ppm && !l[0].latency_tail_ns &&
                !l[0].connect_fail_ppm;
        lossy += l[0].loss_ppm > 0;
        tailed += l[0].latency_tail_ns >= WEFT_MS(20);
        dup += l[0].dup_ppm > 0;
        reorder += l[0].reorder_ppm > 0;
        fail += l[0].connect_fail_ppm > 0;
        distinct += seed == 0 || memcmp(&prev, &l[0], sizeof prev) != 0;
        prev = l[0];
    }
    assert_true(calm >= 2 && lossy >= 16 && tailed >= 8 && dup >= 8 && reorder >= 16 && fail >= 4);
    assert_true(distinct >= 50);
    /* set by the test: the draw is gone */
    weft_runtime *rt = world(3, true);
    weft_handle *h = weft_runtime_handle(rt);
    weft_sim_link mine = {.latency_min_ns = WEFT_MS(3)}, got;
    assert_int_equal(weft_sim_link_set(h, "*", "*", &mine), 0);
    assert_int_equal(weft_sim_link_get(h, "a", "b", &got), 0);
    assert_memory_equal(&got, &mine, sizeof got);
    char text[256];
    weft_sim_net_describe(h, text, sizeof text);
    assert_non_null(strstr(text, "set by the test"));
    weft_runtime_free(rt);
    /* the calm profile */
    rt = world(3, false);
    assert_int_equal(weft_sim_link_get(weft_runtime_handle(rt), "*", "*", &got), 0);
    weft_sim_link one_ms = {.latency_min_ns = WEFT_MS(1)};
    assert_memory_equal(&got, &one_ms, sizeof got);
    weft_runtime_free(rt);
}

/* Pings a -> b every 100 ms for `n` rounds; returns how many did not
 * arrive within their round (lost to a partition, or held by a clog). */
static int pings_missed(weft_runtime *rt, weft_datagram *ua, weft_datagram *ub, int n) {
    weft_addr to_b = at("10.0.0.2", 9000), from;
    weft_net_op op;
    int missed = 0;
    for (int i = 0; i < n; i++) {
        unsigned char m[2] = {(unsigned char)(i >> 8), (unsigned char)i}, r[2] = {0, 0};
        int64_t round = vnow(rt);
        assert_int_equal(block(rt, weft_datagram_send_to(&op, ua, m, 2, &to_b)), 2);
        int64_t got = within(rt, WEFT_MS(100), weft_datagram_recv_from(&op, ub, r, 2, &from));
        missed += got != 2 || memcmp(r, m, 2) != 0;
        while (got == 2 && memcmp(r, m, 2) != 0) /* late ones first: drain to this round's */
            got = within(rt, WEFT_MS(1), weft_datagram_recv_from(&op, ub, r, 2, &from));
        int64_t left = round + WEFT_MS(100) - vnow(rt);
        weft_sleep nap;
        if (left > 0) /* the rest of the round */
            assert_int_equal(weft_runtime_block_on(rt, weft_sleep(&nap, left), NULL), 0);
    }
    return missed;
}

/* The swarm's nemesis partitions and clogs hosts now and then, and ends
 * each fault by itself; weft_sim_heal_all ends the nemesis too; a calm
 * network has none.  (The links are set calm here, so what is missed is
 * the nemesis's doing.) */
static void nemesis_comes_and_goes(void **state) {
    (void)state;
    uint64_t seed = 0;
    char text[256] = "";
    for (; seed < 64; seed++) {
        weft_runtime *rt = world(seed, true);
        weft_sim_net_describe(weft_runtime_handle(rt), text, sizeof text);
        weft_runtime_free(rt);
        if (strstr(text, "nemesis=every"))
            break;
    }
    assert_true(seed < 64);
    for (int calm = 0; calm < 2; calm++) {
        weft_runtime *rt = world(seed, !calm);
        weft_handle *h = weft_runtime_handle(rt);
        weft_sim_link l = {.latency_min_ns = WEFT_MS(1)};
        assert_int_equal(weft_sim_link_set(h, "*", "*", &l), 0);
        weft_datagram *ua = bind_on(rt, at("10.0.0.1", 9000), false);
        weft_datagram *ub = bind_on(rt, at("10.0.0.2", 9000), false);
        int chaos = pings_missed(rt, ua, ub, 3000); /* 5 minutes */
        if (calm) {
            assert_int_equal(chaos, 0);
        } else {
            assert_true(chaos > 10 && chaos < 2000); /* faults that came and went */
            assert_int_equal(weft_sim_heal_all(h), 0);
            assert_int_equal(pings_missed(rt, ua, ub, 3000), 0);
        }
        weft_socket_close(ua);
        weft_socket_close(ub);
        weft_runtime_free(rt);
    }
}

/* ---------------------------------------------------- liveness, sweep */

/* Three replicas gossip a value over UDP (each resends its best to both
 * others every 100 ms); the chaos phase (the seed's swarm network, a
 * drawn partition and clog) runs 10 s; then weft_sim_heal_all, and the
 * test requires every replica to agree within 5 s of virtual time (a
 * weft_timeout around the wait): TigerBeetle's liveness mode. */
typedef struct replica {
    weft_future base;
    const char *ip;
    int id;
    uint64_t *best; /* per replica: the highest value it has seen */
    uint64_t value;
    weft_datagram *u;
    weft_addr addr, from;
    weft_net_op op;
    weft_instant until;
    unsigned char buf[8];
    int64_t n;
    int i;
    weft_timeout rt;
} replica;
static weft_poll replica_poll(weft_future *f, weft_context *cx, void *out) {
    replica *r = (replica *)f;
    (void)out;
    WEFT_BEGIN(f);
    r->addr = at(r->ip, 9000);
    if (weft_datagram_bind(&r->addr, NULL, &r->u))
        WEFT_RETURN(f, out, int, -1);
    for (;;) {
        for (r->i = 0; r->i < 3; r->i++) {
            if (r->i == r->id)
                continue;
            {
                static const char *const ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
                r->addr = at(ips[r->i], 9000);
                for (int k = 0; k < 8; k++)
                    r->buf[k] = (unsigned char)(r->best[r->id] >> (8 * k));
            }
            WEFT_AWAIT(f, cx, weft_datagram_send_to(&r->op, r->u, r->buf, 8, &r->addr), &r->n);
        }
        /* listen for 100 ms */
        r->until = weft_now() + WEFT_MS(100);
        while (weft_now() < r->until) {
            WEFT_AWAIT(f, cx,
                       weft_timeout(&r->rt, (weft_duration)(r->until - weft_now()),
                                    weft_datagram_recv_from(&r->op, r->u, r->buf, 8, &r->from)),
                       &r->n);
            if (weft_timeout_status(&r->rt) == 0 && r->n == 8) {
                uint64_t v = 0;
                for (int k = 0; k < 8; k++)
                    v |= (uint64_t)r->buf[k] << (8 * k);
                if (v > r->best[r->id])
                    r->best[r->id] = v;
            }
        }
    }
    WEFT_END(f);
}
static void replica_drop(weft_future *f) { weft_socket_close(((replica *)f)->u); }
WEFT_FUTURE_DEFINE(replica, replica_poll, replica_drop, int);

typedef struct converged {
    weft_future base;
    uint64_t *best;
    weft_sleep nap;
} converged;
static weft_poll converged_poll(weft_future *f, weft_context *cx, void *out) {
    converged *c = (converged *)f;
    (void)out;
    WEFT_BEGIN(f);
    while (!(c->best[0] == c->best[1] && c->best[1] == c->best[2]))
        WEFT_AWAIT(f, cx, weft_sleep(&c->nap, WEFT_MS(10)), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(converged, converged_poll, NULL);

typedef struct gossip_test {
    weft_future base;
    uint64_t best[3];
    weft_join_handle jh[3];
    weft_sleep chaos;
    weft_timeout bound;
    converged conv;
    int i;
    bool buggy; /* no heal_all: liveness is not required of a chaos phase */
} gossip_test;
static weft_poll gossip_test_poll(weft_future *f, weft_context *cx, void *out) {
    gossip_test *g = (gossip_test *)f;
    (void)out;
    WEFT_BEGIN(f);
    {
        static const char *const names[] = {"a", "b", "c"}, *const ips[] = {"10.0.0.1",
                                                                          "10.0.0.2", "10.0.0.3"};
        for (int i = 0; i < 3; i++) {
            const char *ip[] = {ips[i]};
            assert_int_equal(weft_sim_host_add(NULL, names[i], ip, 1), 0);
            g->best[i] = (uint64_t)(i + 1) * 1000 + weft_random_below(1000);
        }
        /* the chaos phase: the swarm's network plus a drawn partition */
        int x = (int)weft_random_below(3), y = (x + 1 + (int)weft_random_below(2)) % 3;
        weft_sim_partition(NULL, names[x], names[y],
                           weft_random_below(2) ? WEFT_SIM_ONE_WAY : WEFT_SIM_BOTH_WAYS);
        weft_sim_clog(NULL, names[y], "*");
        weft_sim_partition(NULL, names[x], "*", WEFT_SIM_BOTH_WAYS);
    }
    for (g->i = 0; g->i < 3; g->i++) {
        static const char *const ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
        weft_spawn(&WEFT_NEW(replica, .ip = ips[g->i], .id = g->i, .best = g->best), &g->jh[g->i]);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&g->chaos, WEFT_SECS(10)), NULL);
    if (!g->buggy)
        weft_sim_heal_all(NULL);
    g->conv = WEFT_NEW(converged, .best = g->best);
    WEFT_AWAIT(f, cx, weft_timeout(&g->bound, WEFT_SECS(5), &g->conv.base), NULL);
    for (g->i = 0; g->i < 3; g->i++)
        weft_join_abort(&g->jh[g->i]);
    for (g->i = 0; g->i < 3; g->i++)
        WEFT_AWAIT(f, cx, weft_join(&g->jh[g->i]), NULL);
    WEFT_SIM_ASSERT(f, cx, weft_timeout_status(&g->bound) == 0);
    WEFT_SIM_ASSERT(f, cx, g->best[0] == g->best[1] && g->best[1] == g->best[2]);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(gossip_test, gossip_test_poll, NULL);

WEFT_SIM_TEST(liveness_after_heal_all, gossip_test)

/* Without the heal, the partition (one replica cut from everyone) keeps
 * the cluster apart: the sweep fails, and each failure line shows the
 * network knobs the run used. */
static void gossip_make_buggy(weft_future *slot) {
    *(gossip_test *)slot = WEFT_NEW(gossip_test, .buggy = true);
}
static void failure_line_shows_the_network(void **state) {
    (void)state;
    static const weft_sim_test t = {"gossip_no_heal", gossip_make_buggy, sizeof(gossip_test),
                                    NULL, NULL};
    setenv("WEFT_SEEDS", "4", 1);
    static char out[16384];
    int failed = captured_sweep(&t, out, sizeof out);
    unsetenv("WEFT_SEEDS");
    assert_int_equal(failed, 4);
    const char *line = strstr(out, "weft-sim: FAIL gossip_no_heal seed=0 ");
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    const char *net = strstr(line, " network: swarm");
    assert_true(net && net < end);
    assert_true(strstr(line, "loss=") < end);
}

/* WEFT_SIM_NET=calm gives a sweep the calm network (the seed's swarm
 * draw otherwise); anything else is refused, naming the variable. */
typedef struct knobs_probe {
    weft_future base;
} knobs_probe;
static char probed[256];
static weft_poll knobs_probe_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    (void)out;
    weft_sim_net_describe(NULL, probed, sizeof probed);
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(knobs_probe, knobs_probe_poll, NULL);
static void make_probe(weft_future *slot) { *(knobs_probe *)slot = WEFT_NEW(knobs_probe); }

static void sweep_network_from_env(void **state) {
    (void)state;
    static const weft_sim_test t = {"probe", make_probe, sizeof(knobs_probe), NULL, NULL};
    static char out[4096];
    setenv("WEFT_SEED", "2", 1);
    setenv("WEFT_SIM_NET", "calm", 1);
    assert_int_equal(captured_sweep(&t, out, sizeof out), 0);
    assert_non_null(strstr(probed, "calm: latency=1000us+exp(0us) loss=0.0000%"));
    setenv("WEFT_SIM_NET", "swarm", 1);
    assert_int_equal(captured_sweep(&t, out, sizeof out), 0);
    assert_non_null(strstr(probed, "swarm"));
    setenv("WEFT_SIM_NET", "stormy", 1);
    assert_int_not_equal(captured_sweep(&t, out, sizeof out), 0);
    assert_non_null(strstr(out, "WEFT_SIM_NET=stormy: not a network (swarm or calm)"));
    unsetenv("WEFT_SIM_NET");
    unsetenv("WEFT_SEED");
}

/* ---------------------------------------------------------- determinism */

static void make_gossip(weft_future *slot) { *(gossip_test *)slot = WEFT_NEW(gossip_test); }

/* The whole network, faults and all, is a function of the seed: the same
 * fingerprint twice, another seed another one. */
static void network_is_deterministic(void **state) {
    (void)state;
    static const weft_sim_test t = {"gossip", make_gossip, sizeof(gossip_test), NULL, NULL};
    uint64_t fp[4];
    for (int k = 0; k < 4; k++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = 11 + (uint64_t)(k / 2);
        weft_sim_result r;
        assert_int_equal(weft_sim_run(&t, &b, &r), 0);
        fp[k] = r.fingerprint;
    }
    assert_true(fp[0] == fp[1] && fp[2] == fp[3] && fp[0] != fp[2]);
    uint64_t e0, e1;
    assert_int_equal(transfer(21, 100000, &e0), transfer(21, 100000, &e1));
    assert_int_equal(e0, e1);
}

/* -------------------------------------------------------------- misuse */

static void misuse(void **state) {
    (void)state;
    weft_sim_link l = {0}, out;
    char buf[8];
    /* no runtime */
    assert_int_equal(weft_sim_partition(NULL, "a", "b", 0), WEFT_EINVAL);
    assert_int_equal(weft_sim_heal_all(NULL), WEFT_EINVAL);
    /* not a simulation */
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD);
    weft_runtime *ct;
    assert_int_equal(weft_runtime_new(&b, &ct), 0);
    weft_handle *ch = weft_runtime_handle(ct);
    assert_int_equal(weft_sim_link_set(ch, "*", "*", &l), WEFT_ENOTSUP);
    assert_int_equal(weft_sim_clog(ch, "a", "b"), WEFT_ENOTSUP);
    assert_int_equal(weft_sim_net_describe(ch, buf, sizeof buf), WEFT_ENOTSUP);
    weft_runtime_free(ct);
    /* a bad builder profile */
    weft_builder_init(&b, WEFT_SIM);
    b.sim_net = 7;
    assert_int_equal(weft_runtime_new(&b, &ct), WEFT_EINVAL);

    weft_runtime *rt = world(0, false);
    weft_handle *h = weft_runtime_handle(rt);
    assert_int_equal(weft_sim_link_set(h, NULL, "b", &l), WEFT_EINVAL);
    assert_int_equal(weft_sim_link_set(h, "a", "b", NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_link_set(h, "a", "nobody", &l), WEFT_ENOTFOUND);
    l.loss_ppm = 1000001;
    assert_int_equal(weft_sim_link_set(h, "a", "b", &l), WEFT_EINVAL);
    l = (weft_sim_link){.latency_min_ns = WEFT_SECS(7200)};
    assert_int_equal(weft_sim_link_set(h, "a", "b", &l), WEFT_EINVAL);
    assert_int_equal(weft_sim_link_get(h, "a", "b", NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_link_get(h, "x", "b", &out), WEFT_ENOTFOUND);
    assert_int_equal(weft_sim_partition(h, "a", "a", WEFT_SIM_BOTH_WAYS), WEFT_EINVAL);
    assert_int_equal(weft_sim_partition(h, "a", "b", 2), WEFT_EINVAL);
    assert_int_equal(weft_sim_partition(h, "a", NULL, 0), WEFT_EINVAL);
    assert_int_equal(weft_sim_heal(h, "a", "zz"), WEFT_ENOTFOUND);
    assert_int_equal(weft_sim_clog(h, "b", "b"), WEFT_EINVAL);
    assert_int_equal(weft_sim_unclog(h, "a", "b"), WEFT_ENOTFOUND);
    assert_int_equal(weft_sim_net_describe(h, NULL, 4), WEFT_EINVAL);
    assert_int_equal(weft_sim_net_describe(h, buf, sizeof buf), 7); /* truncated */
    assert_string_equal(buf, "calm: l");
    /* a pair link wins over a host's "*" link, which wins over the default */
    weft_sim_link la = {.latency_min_ns = WEFT_MS(5)}, lab = {.latency_min_ns = WEFT_MS(9)};
    assert_int_equal(weft_sim_link_set(h, "a", "*", &la), 0);
    assert_int_equal(weft_sim_link_set(h, "b", "a", &lab), 0);
    assert_int_equal(weft_sim_link_get(h, "a", "c", &out), 0);
    assert_int_equal(out.latency_min_ns, WEFT_MS(5));
    assert_int_equal(weft_sim_link_get(h, "c", "a", &out), 0);
    assert_int_equal(out.latency_min_ns, WEFT_MS(5));
    assert_int_equal(weft_sim_link_get(h, "a", "b", &out), 0);
    assert_int_equal(out.latency_min_ns, WEFT_MS(9));
    assert_int_equal(weft_sim_link_get(h, "b", "c", &out), 0);
    assert_int_equal(out.latency_min_ns, WEFT_MS(1));
    assert_int_equal(weft_sim_link_get(h, "*", "a", &out), 0);
    assert_int_equal(out.latency_min_ns, WEFT_MS(5));
    weft_runtime_free(rt);
}

int main(int argc, char **argv) {
    weft_sim_test_args(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partition_blocks_connect_both_ways),
        cmocka_unit_test(partition_blocks_delivery_both_ways),
        cmocka_unit_test(one_way_partition_udp),
        cmocka_unit_test(one_way_partition_tcp),
        cmocka_unit_test(broken_path_times_out),
        cmocka_unit_test(clog_holds_then_releases_in_order),
        cmocka_unit_test(tcp_loss_delivers_in_order),
        cmocka_unit_test(reset_survives_loss),
        cmocka_unit_test(udp_loss_dup_reorder),
        cmocka_unit_test(datagram_size_limit),
        cmocka_unit_test(swarm_draws_per_seed),
        cmocka_unit_test(nemesis_comes_and_goes),
        cmocka_unit_test(liveness_after_heal_all),
        cmocka_unit_test(failure_line_shows_the_network),
        cmocka_unit_test(sweep_network_from_env),
        cmocka_unit_test(network_is_deterministic),
        cmocka_unit_test(misuse),
    };
    return cmocka_run_group_tests_name("sim network faults", tests, NULL, NULL);
}
