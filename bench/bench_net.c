/* weft-bench — the TCP workloads of the anchors (tokio-bench/README.md):
 * tcp_echo_1 and tcp_echo_64 (op = one 64-byte round trip) and tcp_accept
 * (op = one connection), on 127.0.0.1 with TCP_NODELAY on both sides.  The
 * listener is bound once per bench, outside the timing; everything else
 * (connect, the echo tasks, close) is inside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "weft/net.h"

#define MSG 64

typedef struct net_scratch {
    weft_listener *l;
    weft_addr to;
    weft_join_handle *jh; /* clients, then the server */
} net_scratch;

static bool real_io(const bench_flavor *fl) { return fl->flavor != WEFT_SIM; }

/* --------------------------------------------------------- bind, close */

typedef struct bind_root {
    weft_future base;
    net_scratch *s;
} bind_root;
static weft_poll bind_root_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    net_scratch *s = ((bind_root *)f)->s;
    weft_socket_options o;
    weft_socket_options_init(&o);
    o.nodelay = true; /* accepted streams get TCP_NODELAY */
    weft_addr any = weft_addr_loopback4(0);
    must(weft_listener_bind(&any, &o, &s->l), "bind");
    must(weft_socket_local_addr(s->l, &s->to), "local_addr");
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(bind_root, bind_root_poll, NULL);

static void setup_net(bench_ctx *b, size_t handles) {
    net_scratch *s = calloc(1, sizeof *s);
    s->jh = calloc(handles, sizeof *s->jh);
    b->scratch = s;
    bind_root r = WEFT_NEW(bind_root, .s = s);
    must(weft_runtime_block_on(b->rt, &r.base, NULL), "block_on");
}

static void teardown_net(bench_ctx *b) {
    net_scratch *s = b->scratch;
    weft_socket_close(s->l);
    free(s->jh);
    free(s);
}

/* ----------------------------------------------------------- tcp_echo */

typedef struct echo_task {
    weft_future base;
    weft_stream *s;
    int64_t n;
    weft_net_op op;
    char buf[4096];
} echo_task;
static weft_poll echo_task_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    echo_task *e = (echo_task *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&e->op, e->s, e->buf, sizeof e->buf), &e->n);
        if (e->n <= 0)
            break;
        WEFT_AWAIT(f, cx, weft_stream_write_all(&e->op, e->s, e->buf, (size_t)e->n), &e->n);
        if (e->n < 0)
            break;
    }
    weft_socket_close(e->s);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(echo_task, echo_task_poll, NULL);

typedef struct echo_server {
    weft_future base;
    weft_listener *l;
    int conns, i;
    int64_t r;
    weft_stream *s;
    weft_net_op op;
    weft_join_handle *jh;
} echo_server;
static weft_poll echo_server_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    echo_server *e = (echo_server *)f;
    WEFT_BEGIN(f);
    e->jh = malloc((size_t)e->conns * sizeof *e->jh);
    for (e->i = 0; e->i < e->conns; e->i++) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&e->op, e->l, &e->s, NULL), &e->r);
        must((int)e->r, "accept");
        must(weft_spawn(&WEFT_NEW(echo_task, .s = e->s), &e->jh[e->i]), "spawn");
    }
    for (e->i = 0; e->i < e->conns; e->i++)
        WEFT_AWAIT(f, cx, weft_join(&e->jh[e->i]), NULL);
    free(e->jh);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(echo_server, echo_server_poll, NULL);

typedef struct echo_client {
    weft_future base;
    weft_addr to;
    int rounds, i;
    int64_t r;
    weft_stream *s;
    weft_net_op op;
    char msg[MSG], back[MSG];
} echo_client;
static weft_poll echo_client_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    echo_client *c = (echo_client *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_stream_connect(&c->op, &c->to, NULL, &c->s), &c->r);
    must((int)c->r, "connect");
    must(weft_stream_set_nodelay(c->s, true), "nodelay");
    memset(c->msg, 'x', sizeof c->msg);
    for (c->i = 0; c->i < c->rounds; c->i++) {
        WEFT_AWAIT(f, cx, weft_stream_write_all(&c->op, c->s, c->msg, MSG), &c->r);
        must(c->r == MSG ? 0 : (int)c->r, "write");
        WEFT_AWAIT(f, cx, weft_stream_read_exact(&c->op, c->s, c->back, MSG), &c->r);
        must(c->r == MSG ? 0 : (int)c->r, "read");
    }
    weft_socket_close(c->s);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(echo_client, echo_client_poll, NULL);

typedef struct echo_root {
    weft_future base;
    net_scratch *s;
    int conns, rounds, i;
} echo_root;
static weft_poll echo_root_poll(weft_future *f, weft_context *cx, void *out) {
    echo_root *r = (echo_root *)f;
    net_scratch *s = r->s;
    WEFT_BEGIN(f);
    must(weft_spawn(&WEFT_NEW(echo_server, .l = s->l, .conns = r->conns), &s->jh[r->conns]),
         "spawn");
    for (int i = 0; i < r->conns; i++)
        must(weft_spawn(&WEFT_NEW(echo_client, .to = s->to, .rounds = r->rounds), &s->jh[i]),
             "spawn");
    for (r->i = 0; r->i <= r->conns; r->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[r->i]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(echo_root, echo_root_poll, NULL);

static void echo_iter(bench_ctx *b, int conns, int rounds) {
    echo_root r = WEFT_NEW(echo_root, .s = b->scratch, .conns = conns, .rounds = rounds);
    must(weft_runtime_block_on(b->rt, &r.base, NULL), "block_on");
}

static void setup_echo_1(bench_ctx *b) { setup_net(b, 2); }
static void setup_echo_64(bench_ctx *b) { setup_net(b, 65); }
static void tcp_echo_1(bench_ctx *b) { echo_iter(b, 1, 10000); }
static void tcp_echo_64(bench_ctx *b) { echo_iter(b, 64, 1000); }

/* ---------------------------------------------------------- tcp_accept */

#define ACCEPTS 1000

typedef struct accept_server {
    weft_future base;
    weft_listener *l;
    int i;
    int64_t r;
    weft_stream *s;
    weft_net_op op;
} accept_server;
static weft_poll accept_server_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    accept_server *a = (accept_server *)f;
    WEFT_BEGIN(f);
    for (a->i = 0; a->i < ACCEPTS; a->i++) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&a->op, a->l, &a->s, NULL), &a->r);
        must((int)a->r, "accept");
        weft_socket_close(a->s); /* first: TIME_WAIT stays on this side */
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(accept_server, accept_server_poll, NULL);

typedef struct accept_client {
    weft_future base;
    weft_addr to;
    int i;
    int64_t r;
    weft_stream *s;
    weft_net_op op;
    char buf[16];
} accept_client;
static weft_poll accept_client_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    accept_client *c = (accept_client *)f;
    WEFT_BEGIN(f);
    for (c->i = 0; c->i < ACCEPTS; c->i++) {
        WEFT_AWAIT(f, cx, weft_stream_connect(&c->op, &c->to, NULL, &c->s), &c->r);
        must((int)c->r, "connect");
        must(weft_stream_set_nodelay(c->s, true), "nodelay");
        do {
            WEFT_AWAIT(f, cx, weft_stream_read(&c->op, c->s, c->buf, sizeof c->buf), &c->r);
        } while (c->r > 0);
        weft_socket_close(c->s);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(accept_client, accept_client_poll, NULL);

typedef struct accept_root {
    weft_future base;
    net_scratch *s;
} accept_root;
static weft_poll accept_root_poll(weft_future *f, weft_context *cx, void *out) {
    accept_root *r = (accept_root *)f;
    net_scratch *s = r->s;
    WEFT_BEGIN(f);
    must(weft_spawn(&WEFT_NEW(accept_server, .l = s->l), &s->jh[0]), "spawn");
    must(weft_spawn(&WEFT_NEW(accept_client, .to = s->to), &s->jh[1]), "spawn");
    WEFT_AWAIT(f, cx, weft_join(&s->jh[0]), out);
    WEFT_AWAIT(f, cx, weft_join(&s->jh[1]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(accept_root, accept_root_poll, NULL);

static void setup_accept(bench_ctx *b) { setup_net(b, 2); }
static void tcp_accept(bench_ctx *b) {
    accept_root r = WEFT_NEW(accept_root, .s = b->scratch);
    must(weft_runtime_block_on(b->rt, &r.base, NULL), "block_on");
}

static const bench_def d_tcp_echo_1 = {"tcp_echo_1", 10000, real_io, setup_echo_1, tcp_echo_1,
                                       teardown_net};
static const bench_def d_tcp_echo_64 = {"tcp_echo_64", 64000, real_io, setup_echo_64, tcp_echo_64,
                                        teardown_net};
static const bench_def d_tcp_accept = {"tcp_accept", ACCEPTS, real_io, setup_accept, tcp_accept,
                                       teardown_net};

const bench_def *const bench_net_list[] = {&d_tcp_echo_1, &d_tcp_echo_64, &d_tcp_accept, NULL};
