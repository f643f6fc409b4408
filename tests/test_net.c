/* weft tests — the network, on the I/O driver $WEFT_IO_DRIVER names
 * (meson runs this binary once per driver built in), on current_thread
 * and multi_thread.
 *
 * Every test checks, at teardown, that no allocation and no descriptor
 * (handle, on Windows) outlived it, and runs under a watchdog (SIGALRM,
 * a thread on Windows: os_test.h) so a lost wake-up fails the test
 * instead of hanging it.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os_test.h"

#include "weft/net.h"
#include "weft/sim.h"
#include "weft/sync.h"

#define WATCHDOG_SECS 60

static int open_fds(void) { return wt_os_open_handles(); }

static int fds_before;

static int net_setup(void **state) {
    wt_os_watchdog(WATCHDOG_SECS);
    fds_before = open_fds();
    int r = wt_setup(state);
    wt_env *env = *state;
    /* WEFT_TRACE=path|- traces a simulated test's run. */
    if (!r && env && env->flavor == WEFT_SIM)
        env->builder.sim_trace_path = getenv("WEFT_TRACE");
    return r;
}

static int net_teardown(void **state) {
    int r = wt_teardown(state);
    int after = open_fds();
    wt_os_watchdog(0);
    if (after != fds_before) {
        fprintf(stderr, "descriptor leak: %d open before the test, %d after\n", fds_before, after);
        return -1;
    }
    return r;
}

#define NET_ONE(fn, i, label)                                                  \
    {#fn "@" label, fn, net_setup, net_teardown, (void *)&wt_flavor_values[i]}
#define NET_FLAVORS(fn) NET_ONE(fn, 0, "current_thread"), NET_ONE(fn, 1, "multi_thread")
#define NET_CT(fn) NET_ONE(fn, 0, "current_thread")

/* Runs `f` to completion on the env's runtime and returns its int64. */
static int64_t run(wt_env *env, weft_future *f) {
    int64_t out = -12345;
    wt_block_on(env, f, &out);
    return out;
}

static uint16_t port_of(weft_socket *s) {
    weft_addr a;
    assert_int_equal(weft_socket_local_addr(s, &a), 0);
    return a.port;
}

/* ------------------------------------------------------------- addresses */

static void addr_parse_and_format(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } good[] = {
        {"127.0.0.1:80", "127.0.0.1:80"},
        {"0.0.0.0:0", "0.0.0.0:0"},
        {"255.255.255.255:65535", "255.255.255.255:65535"},
        {"[::1]:8080", "[::1]:8080"},
        {"[::]:1", "[::]:1"},
        {"[2001:DB8:0:0:0:0:0:1]:9", "[2001:db8::1]:9"},
        {"[2001:db8:0:0:1:0:0:1]:9", "[2001:db8::1:0:0:1]:9"},
        {"[fe80::1%2]:9", "[fe80::1%2]:9"},
        {"[::ffff:10.0.0.1]:5", "[::ffff:10.0.0.1]:5"},
        {"[1:2:3:4:5:6:7:8]:1", "[1:2:3:4:5:6:7:8]:1"},
        {"[1::]:1", "[1::]:1"},
        {"[0:0:1:0:0:0:1:0]:1", "[0:0:1::1:0]:1"},
        {"unix:/tmp/weft.sock", "unix:/tmp/weft.sock"},
        {"/tmp/x", "unix:/tmp/x"},
        {"./rel", "unix:./rel"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        weft_addr a;
        char buf[WEFT_ADDR_STRLEN];
        int err = weft_addr_parse(good[i].in, &a);
        if (err)
            fail_msg("'%s' did not parse: %s", good[i].in, weft_err_name(err));
        assert_true(weft_addr_format(&a, buf, sizeof buf) > 0);
        assert_string_equal(buf, good[i].out);
        weft_addr b;
        assert_int_equal(weft_addr_parse(buf, &b), 0); /* round trip */
        assert_true(weft_addr_equal(&a, &b));
    }
    static const char *const bad[] = {
        "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8o",
        "256.0.0.1:1", "1.2.3:4", "1.2.3.4.5:6", "01.2.3.4:5", "1.2.3.4 :5", " 1.2.3.4:5",
        "[::1]", "[::1]:", "::1:80", "[::1:80", "[1:2:3:4:5:6:7:8:9]:1", "[1::2::3]:1",
        "[12345::]:1", "[:1]:1", "[1:]:1", "[fe80::1%]:1", "[fe80::1%eth0]:1", "[::g]:1",
        "unix:", "localhost:80", "[1:2:3:4:5:6:7]:1", "[::1.2.3]:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weft_addr a = {.family = 99};
        if (weft_addr_parse(bad[i], &a) != WEFT_EINVAL)
            fail_msg("'%s' parsed", bad[i]);
        assert_int_equal(a.family, 99); /* untouched */
    }
    char longpath[WEFT_ADDR_PATH_MAX + 2];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    weft_addr a;
    assert_int_equal(weft_addr_unix(longpath, &a), WEFT_EINVAL);
    assert_int_equal(weft_addr_from_ip("10.1.2.3", 7, &a), 0);
    assert_int_equal(a.family, WEFT_AF_INET);
    assert_int_equal(a.port, 7);
    assert_int_equal(weft_addr_from_ip("10.1.2.3:7", 7, &a), WEFT_EINVAL);
    char small[8];
    a = weft_addr_loopback6(65535);
    assert_int_equal(weft_addr_format(&a, small, sizeof small), WEFT_ERANGE);
    assert_int_equal(weft_addr_parse(NULL, &a), WEFT_EINVAL);
    assert_int_equal(weft_addr_parse("1.2.3.4:5", NULL), WEFT_EINVAL);
}

/* ---------------------------------------------------- the echo machinery */

/* Echoes one stream until EOF, then closes it. */
typedef struct echo_conn {
    weft_future base;
    weft_stream *s;
    int64_t n;
    weft_net_op op;
    char buf[4096];
} echo_conn;

static weft_poll echo_conn_poll(weft_future *f, weft_context *cx, void *out) {
    echo_conn *self = (echo_conn *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf), &self->n);
        if (self->n <= 0)
            break;
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->buf, (size_t)self->n), &self->n);
        if (self->n < 0)
            break;
    }
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void echo_conn_drop(weft_future *f) {
    echo_conn *self = (echo_conn *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(echo_conn, echo_conn_poll, echo_conn_drop, int64_t);

/* Accepts `n` connections, echoing each on a task of its own; awaits them
 * all. */
typedef struct echo_server {
    weft_future base;
    weft_listener *l;
    int n, i, rc;
    int64_t r;
    weft_stream *conn;
    weft_net_op op;
    weft_join_set set;
    weft_join_next_op next;
    int64_t dst;
} echo_server;

static weft_poll echo_server_poll(weft_future *f, weft_context *cx, void *out) {
    echo_server *self = (echo_server *)f;
    WEFT_BEGIN(f);
    weft_join_set_init(&self->set, NULL, NULL);
    for (self->i = 0; self->i < self->n; self->i++) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->conn, NULL), &self->r);
        assert_int_equal(self->r, 0);
        echo_conn e = WEFT_NEW(echo_conn, .s = self->conn);
        assert_int_equal(weft_join_set_spawn(&self->set, &e, NULL), 0);
    }
    for (;;) {
        WEFT_AWAIT(f, cx, weft_join_next(&self->next, &self->set, &self->dst), &self->rc);
        if (self->rc == WEFT_ECLOSED)
            break;
    }
    weft_join_set_destroy(&self->set);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void echo_server_drop(weft_future *f) {
    echo_server *self = (echo_server *)f;
    if (f->resume != 0)
        weft_join_set_destroy(&self->set);
}
WEFT_FUTURE_DEFINE(echo_server, echo_server_poll, echo_server_drop, int64_t);

/* Connects, sends `rounds` messages of `len` bytes, checks each echo,
 * closes.  Output: 0 or the first error. */
typedef struct echo_client {
    weft_future base;
    weft_addr to;
    int rounds, i;
    size_t len;
    int64_t r;
    weft_stream *s;
    weft_net_op op;
    char msg[256], back[256];
} echo_client;

static weft_poll echo_client_poll(weft_future *f, weft_context *cx, void *out) {
    echo_client *self = (echo_client *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    if (self->r)
        WEFT_RETURN(f, out, int64_t, self->r);
    weft_stream_set_nodelay(self->s, true);
    for (self->i = 0; self->i < self->rounds; self->i++) {
        for (size_t k = 0; k < self->len; k++)
            self->msg[k] = (char)(self->i * 31 + (int)k);
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->msg, self->len), &self->r);
        if (self->r < 0)
            break;
        WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->back, self->len), &self->r);
        if (self->r < 0)
            break;
        if (memcmp(self->msg, self->back, self->len) != 0) {
            self->r = WEFT_EIO;
            break;
        }
        self->r = 0;
    }
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, self->r);
    WEFT_END(f);
}
static void echo_client_drop(weft_future *f) {
    echo_client *self = (echo_client *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(echo_client, echo_client_poll, echo_client_drop, int64_t);

/* Binds a listener on 127.0.0.1:0 (or `addr`), runs an echo server for
 * `conns` clients and the clients, each on its own task; output: the
 * number of clients that failed. */
typedef struct echo_test {
    weft_future base;
    int conns, rounds;
    size_t len;
    const weft_addr *addr;
    int i, failed;
    int64_t r;
    weft_listener *l;
    weft_join_handle server;
    weft_join_handle *clients;
} echo_test;

static weft_poll echo_test_poll(weft_future *f, weft_context *cx, void *out) {
    echo_test *self = (echo_test *)f;
    WEFT_BEGIN(f);
    {
        weft_addr any = weft_addr_loopback4(0);
        int err = weft_listener_bind(self->addr ? self->addr : &any, NULL, &self->l);
        if (err)
            fail_msg("bind: %s", weft_err_name(err));
        weft_addr to;
        assert_int_equal(weft_socket_local_addr(self->l, &to), 0);
        echo_server srv = WEFT_NEW(echo_server, .l = self->l, .n = self->conns);
        assert_int_equal(weft_spawn(&srv, &self->server), 0);
        self->clients = calloc((size_t)self->conns, sizeof *self->clients);
        for (int k = 0; k < self->conns; k++) {
            echo_client c = WEFT_NEW(echo_client, .to = to, .rounds = self->rounds, .len = self->len);
            assert_int_equal(weft_spawn(&c, &self->clients[k]), 0);
        }
    }
    for (self->i = 0; self->i < self->conns; self->i++) {
        WEFT_AWAIT(f, cx, weft_join(&self->clients[self->i]), &self->r);
        if (self->r != 0) {
            fprintf(stderr, "client %d: %s\n", self->i, weft_err_name((int)self->r));
            self->failed++;
        }
    }
    WEFT_AWAIT(f, cx, weft_join(&self->server), NULL);
    weft_socket_close(self->l);
    free(self->clients);
    WEFT_RETURN(f, out, int64_t, self->failed);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(echo_test, echo_test_poll, NULL, int64_t);

static void echo(void **state) {
    wt_env *env = WT_ENV(state);
    echo_test t = WEFT_NEW(echo_test, .conns = 1, .rounds = 100, .len = 64);
    assert_int_equal(run(env, &t.base), 0);
}

static void echo_ipv6(void **state) {
    wt_env *env = WT_ENV(state);
    weft_addr a = weft_addr_loopback6(0);
    weft_runtime *rt = wt_rt(env);
    (void)rt;
    echo_test t = WEFT_NEW(echo_test, .conns = 2, .rounds = 10, .len = 200, .addr = &a);
    assert_int_equal(run(env, &t.base), 0);
}

/* Binds a listener or a datagram socket at `addr` inside the runtime and
 * closes it: output the bind's result. */
typedef struct bind_any {
    weft_future base;
    weft_addr addr;
    bool dgram;
} bind_any;
static weft_poll bind_any_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    bind_any *self = (bind_any *)f;
    weft_socket *s = NULL;
    int64_t r = self->dgram ? weft_datagram_bind(&self->addr, NULL, &s)
                            : weft_listener_bind(&self->addr, NULL, &s);
    if (s)
        weft_socket_close(s);
    if (out)
        *(int64_t *)out = r;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(bind_any, bind_any_poll, NULL, int64_t);

/* Where the OS driver has no Unix domain sockets (IOCP: wine has none),
 * every way of making one says so with one code, and nothing leaks. */
static bool unix_unsupported(wt_env *env, const weft_addr *a) {
    if (wt_os_unix_sockets() || env->flavor == WEFT_SIM)
        return false;
    bind_any b = WEFT_NEW(bind_any, .addr = *a);
    assert_int_equal(run(env, &b.base), WEFT_EAFNOSUPPORT);
    b = WEFT_NEW(bind_any, .addr = *a, .dgram = true);
    assert_int_equal(run(env, &b.base), WEFT_EAFNOSUPPORT);
    weft_net_op op;
    weft_stream *s = (weft_stream *)0x1;
    assert_int_equal(run(env, weft_stream_connect(&op, a, NULL, &s)), WEFT_EAFNOSUPPORT);
    assert_null(s);
    return true;
}

static void echo_unix_stream(void **state) {
    wt_env *env = WT_ENV(state);
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-test-%d.sock", (int)getpid());
    unlink(path);
    weft_addr a;
    assert_int_equal(weft_addr_unix(path, &a), 0);
    if (unix_unsupported(env, &a))
        return;
    echo_test t = WEFT_NEW(echo_test, .conns = 3, .rounds = 20, .len = 100, .addr = &a);
    assert_int_equal(run(env, &t.base), 0);
    unlink(path);
}

static void thousand_connections(void **state) {
    wt_env *env = WT_ENV(state);
    echo_test t = WEFT_NEW(echo_test, .conns = 1000, .rounds = 3, .len = 32);
    assert_int_equal(run(env, &t.base), 0);
}

/* ------------------------------------------------------ 100 MB, checked */

#define BULK_BYTES (100u << 20)

static uint64_t mix(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

typedef struct bulk_sender {
    weft_future base;
    weft_stream *s;
    size_t sent;
    uint64_t sum;
    int64_t r;
    weft_net_op op;
    unsigned char buf[65536];
} bulk_sender;

static weft_poll bulk_sender_poll(weft_future *f, weft_context *cx, void *out) {
    bulk_sender *self = (bulk_sender *)f;
    WEFT_BEGIN(f);
    self->sum = 0xcbf29ce484222325ull;
    while (self->sent < BULK_BYTES) {
        for (size_t k = 0; k < sizeof self->buf; k++)
            self->buf[k] = (unsigned char)((self->sent + k) * 2654435761u >> 13);
        self->sum = mix(self->sum, self->buf, sizeof self->buf);
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->buf, sizeof self->buf), &self->r);
        assert_int_equal(self->r, sizeof self->buf);
        self->sent += sizeof self->buf;
    }
    assert_int_equal(weft_stream_shutdown(self->s, WEFT_SHUT_WR), 0);
    WEFT_RETURN(f, out, uint64_t, self->sum);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(bulk_sender, bulk_sender_poll, NULL, uint64_t);

typedef struct bulk_test {
    weft_future base;
    weft_addr to;
    weft_listener *l;
    weft_stream *a, *b;
    weft_net_op op;
    int64_t r;
    size_t got;
    uint64_t sum, sent_sum;
    weft_join_handle sender;
    unsigned char buf[65536];
} bulk_test;

static weft_poll bulk_test_poll(weft_future *f, weft_context *cx, void *out) {
    bulk_test *self = (bulk_test *)f;
    WEFT_BEGIN(f);
    {
        weft_addr any = weft_addr_loopback4(0);
        assert_int_equal(weft_listener_bind(&any, NULL, &self->l), 0);
    }
    self->to = weft_addr_loopback4(port_of(self->l));
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->a), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->b, NULL), &self->r);
    assert_int_equal(self->r, 0);
    {
        bulk_sender snd = WEFT_NEW(bulk_sender, .s = self->a);
        assert_int_equal(weft_spawn(&snd, &self->sender), 0);
    }
    self->sum = 0xcbf29ce484222325ull;
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->b, self->buf, sizeof self->buf), &self->r);
        assert_true(self->r >= 0);
        if (self->r == 0)
            break;
        self->sum = mix(self->sum, self->buf, (size_t)self->r);
        self->got += (size_t)self->r;
    }
    WEFT_AWAIT(f, cx, weft_join(&self->sender), &self->sent_sum);
    assert_int_equal(self->got, BULK_BYTES);
    assert_int_equal(self->sum, self->sent_sum);
    weft_socket_close(self->a);
    weft_socket_close(self->b);
    weft_socket_close(self->l);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(bulk_test, bulk_test_poll, NULL, int64_t);

static void hundred_megabytes(void **state) {
    wt_env *env = WT_ENV(state);
    bulk_test *t = malloc(sizeof *t);
    *t = WEFT_NEW(bulk_test);
    assert_int_equal(run(env, &t->base), 0);
    free(t);
}

/* -------------------------------------------- pairs: one connected stream */

typedef struct pair {
    weft_listener *l;
    weft_stream *a, *b; /* a connected, b accepted */
} pair;

/* Makes a connected pair synchronously-ish: connect on one task while the
 * caller accepts. */
typedef struct make_pair {
    weft_future base;
    pair *p;
    const weft_addr *addr;
    int64_t r;
    weft_net_op op, op2;
    weft_join_handle jh;
} make_pair;

typedef struct connector {
    weft_future base;
    weft_addr to;
    weft_stream **out;
    weft_net_op op;
} connector;

static weft_poll connector_poll(weft_future *f, weft_context *cx, void *out) {
    connector *self = (connector *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, self->out), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(connector, connector_poll, NULL, int64_t);

static weft_poll make_pair_poll(weft_future *f, weft_context *cx, void *out) {
    make_pair *self = (make_pair *)f;
    WEFT_BEGIN(f);
    {
        weft_addr any = weft_addr_loopback4(0);
        assert_int_equal(weft_listener_bind(self->addr ? self->addr : &any, NULL, &self->p->l), 0);
        weft_addr to;
        assert_int_equal(weft_socket_local_addr(self->p->l, &to), 0);
        connector c = WEFT_NEW(connector, .to = to, .out = &self->p->a);
        assert_int_equal(weft_spawn(&c, &self->jh), 0);
    }
    WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->p->l, &self->p->b, NULL), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_AWAIT(f, cx, weft_join(&self->jh), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(make_pair, make_pair_poll, NULL, int64_t);

static void pair_make(wt_env *env, pair *p) {
    make_pair m = WEFT_NEW(make_pair, .p = p);
    assert_int_equal(run(env, &m.base), 0);
}

static void pair_close(pair *p) {
    if (p->a)
        weft_socket_close(p->a);
    if (p->b)
        weft_socket_close(p->b);
    if (p->l)
        weft_socket_close(p->l);
    *p = (pair){0};
}

/* One op run to completion on the env's runtime (inside block_on, so it
 * has a runtime to run on). */
static int64_t op_run(wt_env *env, weft_future *op) { return run(env, op); }

static void half_close(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    char buf[64];
    assert_int_equal(op_run(env, weft_stream_write_all(&op, p.a, "ping", 4)), 4);
    assert_int_equal(weft_stream_shutdown(p.a, WEFT_SHUT_WR), 0);
    assert_int_equal(op_run(env, weft_stream_read_exact(&op, p.b, buf, 4)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(op_run(env, weft_stream_read(&op, p.b, buf, sizeof buf)), 0); /* EOF */
    assert_int_equal(op_run(env, weft_stream_read(&op, p.b, buf, sizeof buf)), 0); /* and again */
    /* The half-closed side can still write back, and be read. */
    assert_int_equal(op_run(env, weft_stream_write_all(&op, p.b, "pong", 4)), 4);
    assert_int_equal(op_run(env, weft_stream_read_exact(&op, p.a, buf, 4)), 4);
    assert_memory_equal(buf, "pong", 4);
    /* read_exact past the end: WEFT_EEOF with what came. */
    assert_int_equal(op_run(env, weft_stream_write_all(&op, p.b, "xy", 2)), 2);
    assert_int_equal(weft_stream_shutdown(p.b, WEFT_SHUT_WR), 0);
    assert_int_equal(op_run(env, weft_stream_read_exact(&op, p.a, buf, 10)), WEFT_EEOF);
    assert_int_equal(weft_net_op_progress(&op), 2);
    pair_close(&p);
}

/* Small exact reads of one big write: bytes read ahead of a full buffer
 * come back in order, through read_exact, read, try_read and readable. */
static void small_reads_keep_order(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    unsigned char data[1000], buf[128];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(op_run(env, weft_stream_write_all(&op, p.a, data, sizeof data)), sizeof data);
    size_t at = 0;
    while (at + 7 <= 700) {
        assert_int_equal(op_run(env, weft_stream_read_exact(&op, p.b, buf, 7)), 7);
        assert_memory_equal(buf, data + at, 7);
        at += 7;
    }
    assert_int_equal(op_run(env, weft_socket_readable(&op, p.b)), 0);
    int64_t n = weft_stream_try_read(p.b, buf, 5); /* a read may return less */
    assert_true(n >= 1 && n <= 5);
    assert_memory_equal(buf, data + at, (size_t)n);
    at += (size_t)n;
    while (at < sizeof data) {
        n = op_run(env, weft_stream_read(&op, p.b, buf, sizeof buf));
        assert_true(n > 0);
        assert_memory_equal(buf, data + at, (size_t)n);
        at += (size_t)n;
    }
    assert_int_equal(weft_stream_try_read(p.b, buf, sizeof buf), WEFT_EAGAIN);
    pair_close(&p);
}

/* A task reading a socket that always has data still gives way: every op
 * spends the cooperative budget, so the other task runs before the
 * reader is done. */
typedef struct fast_reader {
    weft_future base;
    weft_stream *s;
    size_t got, total;
    int64_t r;
    _Atomic int *other_ran;
    int saw_other; /* the reads done when the other task had run */
    weft_net_op op;
    char buf[16];
} fast_reader;
static weft_poll fast_reader_poll(weft_future *f, weft_context *cx, void *out) {
    fast_reader *self = (fast_reader *)f;
    WEFT_BEGIN(f);
    while (self->got < self->total) {
        WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->buf, sizeof self->buf), &self->r);
        assert_int_equal(self->r, sizeof self->buf);
        self->got += sizeof self->buf;
        if (!self->saw_other && atomic_load(self->other_ran))
            self->saw_other = (int)(self->got / sizeof self->buf);
    }
    WEFT_RETURN(f, out, int64_t, self->saw_other);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(fast_reader, fast_reader_poll, NULL, int64_t);

typedef struct coop_test {
    weft_future base;
    pair *p;
    _Atomic int other_ran;
    int64_t saw;
    weft_join_handle reader, other;
    weft_net_op op;
    char data[65536];
} coop_test;
static weft_poll coop_test_poll(weft_future *f, weft_context *cx, void *out) {
    coop_test *self = (coop_test *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->p->a, self->data, sizeof self->data), NULL);
    {
        fast_reader r = WEFT_NEW(fast_reader, .s = self->p->b, .total = sizeof self->data,
                                 .other_ran = &self->other_ran);
        assert_int_equal(weft_spawn(&r, &self->reader), 0);
        setter s = {.base = {&setter_vtable, NULL, WEFT__SITE, 0, 0}, .flag = &self->other_ran};
        assert_int_equal(weft_spawn(&s, &self->other), 0);
    }
    WEFT_AWAIT(f, cx, weft_join(&self->reader), &self->saw);
    WEFT_AWAIT(f, cx, weft_join(&self->other), NULL);
    WEFT_RETURN(f, out, int64_t, self->saw);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(coop_test, coop_test_poll, NULL, int64_t);

static void reads_spend_the_budget(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    coop_test *t = calloc(1, sizeof *t);
    *t = WEFT_NEW(coop_test, .p = &p);
    int64_t saw = run(env, &t->base);
    /* 4096 reads in all; the other task ran after at most a budget's
     * worth (128 ops) of them, not after the reader was done. */
    assert_true(saw >= 1 && saw <= 256);
    free(t);
    pair_close(&p);
}

static void connect_refused(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    uint16_t port = port_of(p.l);
    pair_close(&p);
    weft_addr to = weft_addr_loopback4(port);
    weft_net_op op;
    weft_stream *s = (weft_stream *)0x1;
    assert_int_equal(op_run(env, weft_stream_connect(&op, &to, NULL, &s)), WEFT_ECONNREFUSED);
    assert_null(s);
}

static void reset_by_peer(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    char buf[16];
    assert_int_equal(weft_socket_set_linger(p.b, 0), 0); /* close sends RST */
    weft_socket_close(p.b);
    p.b = NULL;
    /* (Wine does not: its close ignores a zero linger, so the peer reads
     * the end of the stream; Windows itself resets.) */
    assert_int_equal(op_run(env, weft_stream_read(&op, p.a, buf, sizeof buf)),
                     env->flavor == WEFT_SIM || wt_os_linger_zero_resets() ? WEFT_ECONNRESET
                                                                            : 0);
    pair_close(&p);
}

static void write_after_peer_closed(void **state) {
    wt_env *env = WT_ENV(state);
    /* SIGPIPE at its default would kill the process: weft must never
     * raise it. */
    wt_os_sigpipe_default();
    pair p = {0};
    pair_make(env, &p);
    weft_socket_close(p.b);
    p.b = NULL;
    weft_net_op op;
    static char big[65536];
    int64_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++)
        r = op_run(env, weft_stream_write_all(&op, p.a, big, sizeof big));
    assert_true(r == WEFT_EPIPE || r == WEFT_ECONNRESET);
    pair_close(&p);
}

/* ------------------------------------------------------------ cancelling */

/* Every op kind, cancelled by a timeout while it waits; the socket (and
 * its side) is usable afterwards, and nothing leaks. */
static int64_t timed(wt_env *env, weft_future *op, int *status) {
    weft_timeout t;
    int64_t out = -12345;
    wt_block_on(env, weft_timeout(&t, WEFT_MS(20), op), &out);
    *status = weft_timeout_status(&t);
    return out;
}

static void cancel_by_timeout(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    int st;
    char buf[64];
    weft_stream *s = NULL;
    timed(env, weft_listener_accept(&op, p.l, &s, NULL), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    assert_null(s);
    timed(env, weft_stream_read(&op, p.a, buf, sizeof buf), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    timed(env, weft_stream_read_exact(&op, p.a, buf, sizeof buf), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    timed(env, weft_socket_readable(&op, p.a), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    /* A write that cannot finish: the peer reads nothing. */
    weft_socket_set_send_buffer(p.a, 4096);
    weft_socket_set_recv_buffer(p.b, 4096);
    size_t big = 64u << 20;
    char *data = calloc(1, big);
    timed(env, weft_stream_write_all(&op, p.a, data, big), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    size_t written = weft_net_op_progress(&op);
    assert_true(written < big);
    /* The side is free again, and the stream still works: the reader
     * gets exactly the prefix that was written, then our new bytes. */
    assert_int_equal(op_run(env, weft_stream_write_all(&op, p.b, "ok", 2)), 2);
    assert_int_equal(op_run(env, weft_stream_read_exact(&op, p.a, buf, 2)), 2);
    assert_memory_equal(buf, "ok", 2);
    free(data);
    pair_close(&p);
}

/* Binds a datagram socket from inside the runtime. */
typedef struct bind_dgram {
    weft_future base;
    weft_addr addr;
    weft_datagram **out;
} bind_dgram;
static weft_poll bind_dgram_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    bind_dgram *self = (bind_dgram *)f;
    int64_t r = weft_datagram_bind(&self->addr, NULL, self->out);
    if (out)
        *(int64_t *)out = r;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(bind_dgram, bind_dgram_poll, NULL, int64_t);

static weft_datagram *dgram(wt_env *env, weft_addr a) {
    weft_datagram *d = NULL;
    bind_dgram b = WEFT_NEW(bind_dgram, .addr = a, .out = &d);
    assert_int_equal(run(env, &b.base), 0);
    return d;
}

static void cancel_datagram_by_timeout(void **state) {
    wt_env *env = WT_ENV(state);
    weft_datagram *u = dgram(env, weft_addr_loopback4(0));
    weft_net_op op;
    int st;
    char buf[16];
    weft_addr from;
    timed(env, weft_datagram_recv_from(&op, u, buf, sizeof buf, &from), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    /* Then a datagram arrives and the next recv gets it. */
    weft_addr to = weft_addr_loopback4(port_of(u));
    assert_int_equal(op_run(env, weft_datagram_send_to(&op, u, "dg", 2, &to)), 2);
    assert_int_equal(op_run(env, weft_datagram_recv_from(&op, u, buf, sizeof buf, &from)), 2);
    assert_true(weft_addr_equal(&from, &to));
    weft_socket_close(u);
}

/* Polls an op once by hand (it must be pending), then drops it. */
typedef struct poll_once {
    weft_future base;
    weft_future *op;
} poll_once;
static weft_poll poll_once_poll(weft_future *f, weft_context *cx, void *out) {
    poll_once *self = (poll_once *)f;
    assert_int_equal(weft_future_poll(self->op, cx, NULL), WEFT_PENDING);
    weft_future_drop(self->op);
    if (out)
        *(int64_t *)out = 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(poll_once, poll_once_poll, NULL, int64_t);

static void cancel_by_drop(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    char buf[8];
    weft_stream *s = NULL;
    poll_once po = WEFT_NEW(poll_once, .op = weft_listener_accept(&op, p.l, &s, NULL));
    run(env, &po.base);
    po = WEFT_NEW(poll_once, .op = weft_stream_read(&op, p.a, buf, sizeof buf));
    run(env, &po.base);
    /* Readiness starts optimistic; cleared, readable waits. */
    weft_socket_clear_ready(p.b, WEFT_READABLE);
    po = WEFT_NEW(poll_once, .op = weft_socket_readable(&op, p.b));
    run(env, &po.base);
    /* The sides were given back: the next read works, and a dropped read
     * consumed nothing. */
    assert_int_equal(op_run(env, weft_stream_write_all(&op, p.b, "abc", 3)), 3);
    assert_int_equal(op_run(env, weft_stream_read_exact(&op, p.a, buf, 3)), 3);
    assert_memory_equal(buf, "abc", 3);
    pair_close(&p);
}

/* A listener is readable once a connection waits, and the accept after
 * it takes that connection. */
static void listener_readable(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    int st;
    weft_socket_clear_ready(p.l, WEFT_READABLE);
    timed(env, weft_socket_readable(&op, p.l), &st);
    assert_int_equal(st, WEFT_ETIMEDOUT);
    weft_addr to = weft_addr_loopback4(port_of(p.l));
    weft_stream *c = NULL, *s = NULL;
    assert_int_equal(op_run(env, weft_stream_connect(&op, &to, NULL, &c)), 0);
    assert_int_equal(op_run(env, weft_socket_readable(&op, p.l)), 0);
    assert_int_equal(op_run(env, weft_listener_accept(&op, p.l, &s, NULL)), 0);
    weft_socket_close(s);
    weft_socket_close(c);
    pair_close(&p);
}

/* Sleeps `ms` inside the runtime, so the driver reports what came. */
typedef struct nap {
    weft_future base;
    int ms;
    weft_sleep sl;
} nap;
static weft_poll nap_poll(weft_future *f, weft_context *cx, void *out) {
    nap *self = (nap *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->sl, WEFT_MS(self->ms)), NULL);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(nap, nap_poll, NULL, int64_t);

static void pause_ms(wt_env *env, int ms) {
    nap n = WEFT_NEW(nap, .ms = ms);
    run(env, &n.base);
}

/* Spawns detached echo tasks on the given streams and returns: the
 * tasks wait in a read when the runtime is freed. */
typedef struct spawn_echoes {
    weft_future base;
    weft_stream **s;
    int n;
} spawn_echoes;
static weft_poll spawn_echoes_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    spawn_echoes *self = (spawn_echoes *)f;
    for (int i = 0; i < self->n; i++) {
        echo_conn e = WEFT_NEW(echo_conn, .s = self->s[i]);
        assert_int_equal(weft_spawn(&e, NULL), 0);
    }
    if (out)
        *(int64_t *)out = 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(spawn_echoes, spawn_echoes_poll, NULL, int64_t);

/* A runtime freed while reads are in flight (on IOCP: records the kernel
 * still holds): both ends of a stream are read by echo tasks that never
 * end, and the teardown frees the runtime.  Shutdown drops the tasks,
 * their reads are cancelled and their sockets closed, and the runtime's
 * end waits for the kernel's reports before it frees the records:
 * nothing leaks (the teardown's checks), nothing is freed under the
 * kernel. */
static void shutdown_with_reads_in_flight(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_stream *s[2] = {p.a, p.b};
    spawn_echoes t = WEFT_NEW(spawn_echoes, .s = s, .n = 2);
    assert_int_equal(run(env, &t.base), 0);
    pause_ms(env, 10); /* the tasks are in their reads */
    weft_socket_close(p.l);
}

/* An accept dropped while it waited, then a connection: it is not lost
 * (epoll: it waits in the backlog; IOCP: an AcceptEx posted for the
 * dropped op takes it after the drop, and the listener keeps it for the
 * next accept), and it is the connection the client made. */
static void accept_after_a_dropped_accept(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    weft_stream *s = NULL, *c = NULL;
    poll_once po = WEFT_NEW(poll_once, .op = weft_listener_accept(&op, p.l, &s, NULL));
    run(env, &po.base);
    assert_null(s);
    weft_addr to = weft_addr_loopback4(port_of(p.l));
    assert_int_equal(op_run(env, weft_stream_connect(&op, &to, NULL, &c)), 0);
    pause_ms(env, 30); /* the accept completes, after its op was dropped */
    weft_addr peer, mine;
    assert_int_equal(op_run(env, weft_listener_accept(&op, p.l, &s, &peer)), 0);
    assert_int_equal(weft_socket_local_addr(c, &mine), 0);
    assert_true(weft_addr_equal(&peer, &mine));
    char buf[4];
    assert_int_equal(op_run(env, weft_stream_write_all(&op, c, "ping", 4)), 4);
    assert_int_equal(op_run(env, weft_stream_read_exact(&op, s, buf, 4)), 4);
    assert_memory_equal(buf, "ping", 4);
    weft_socket_close(s);
    weft_socket_close(c);
    pair_close(&p);
}

/* The same, but the listener is closed with the connection never
 * accepted: its socket is closed, not leaked (the teardown counts
 * descriptors / handles), and the client sees the end of the stream or a
 * reset, never a hang. */
static void listener_close_closes_unaccepted(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    weft_net_op op;
    weft_stream *s = NULL, *c = NULL;
    poll_once po = WEFT_NEW(poll_once, .op = weft_listener_accept(&op, p.l, &s, NULL));
    run(env, &po.base);
    weft_addr to = weft_addr_loopback4(port_of(p.l));
    assert_int_equal(op_run(env, weft_stream_connect(&op, &to, NULL, &c)), 0);
    pause_ms(env, 30);
    weft_socket_close(p.l);
    p.l = NULL;
    char buf[4];
    weft_timeout t;
    int64_t r = -12345;
    wt_block_on(env, weft_timeout(&t, WEFT_MS(5000), weft_stream_read(&op, c, buf, sizeof buf)),
                &r);
    assert_int_equal(weft_timeout_status(&t), 0);
    assert_true(r == 0 || r == WEFT_ECONNRESET);
    weft_socket_close(c);
    pair_close(&p);
}

/* A read dropped after its bytes had arrived (on IOCP: the kernel had
 * already put them in the read's record) loses none of them: the next
 * read gets them, in order. */
typedef struct late_drop {
    weft_future base;
    weft_stream *r, *w;
    weft_net_op op;
    weft_sleep sl;
    int64_t got;
    char buf[8];
} late_drop;
static weft_poll late_drop_poll(weft_future *f, weft_context *cx, void *out) {
    late_drop *self = (late_drop *)f;
    WEFT_BEGIN(f);
    assert_int_equal(weft_future_poll(weft_stream_read(&self->op, self->r, self->buf, 8), cx, NULL),
                     WEFT_PENDING);
    assert_int_equal(weft_stream_try_write(self->w, "late", 4), 4);
    WEFT_AWAIT(f, cx, weft_sleep(&self->sl, WEFT_MS(30)), NULL);
    weft_future_drop(&self->op.base);
    assert_int_equal(weft_stream_try_write(self->w, "r", 1), 1);
    WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->r, self->buf, 5), &self->got);
    assert_int_equal(self->got, 5);
    assert_memory_equal(self->buf, "later", 5);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(late_drop, late_drop_poll, NULL, int64_t);

static void dropped_read_keeps_its_bytes(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    late_drop t = WEFT_NEW(late_drop, .r = p.a, .w = p.b);
    assert_int_equal(run(env, &t.base), 0);
    pair_close(&p);
}

/* A connect in flight: the listener never accepts and its backlog is
 * full, so the kernel drops our SYNs and connect stays in progress.  A
 * timeout (and a drop) cancels it and closes the half-made socket (the
 * descriptor count at teardown checks it). */
typedef struct bind_full {
    weft_future base;
    weft_listener **out;
} bind_full;
static weft_poll bind_full_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    weft_socket_options o;
    weft_socket_options_init(&o);
    o.backlog = 1;
    weft_addr any = weft_addr_loopback4(0);
    int64_t r = weft_listener_bind(&any, &o, ((bind_full *)f)->out);
    if (out)
        *(int64_t *)out = r;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(bind_full, bind_full_poll, NULL, int64_t);

static void cancel_connect(void **state) {
    wt_env *env = WT_ENV(state);
    weft_listener *l = NULL;
    bind_full b = WEFT_NEW(bind_full, .out = &l);
    assert_int_equal(run(env, &b.base), 0);
    weft_addr to = weft_addr_loopback4(port_of(l));
    weft_stream *conns[16] = {0};
    int timed_out = -1;
    for (int i = 0; i < 16 && timed_out < 0; i++) {
        weft_net_op op;
        int st;
        int64_t r = timed(env, weft_stream_connect(&op, &to, NULL, &conns[i]), &st);
        if (st == WEFT_ETIMEDOUT)
            timed_out = i;
        else
            assert_int_equal(r, 0);
    }
    assert_true(timed_out >= 0);
    assert_null(conns[timed_out]);
    /* And by drop: polled once, pending, dropped. */
    weft_net_op op;
    weft_stream *s = NULL;
    poll_once po = WEFT_NEW(poll_once, .op = weft_stream_connect(&op, &to, NULL, &s));
    run(env, &po.base);
    assert_null(s);
    for (int i = 0; i < 16; i++)
        if (conns[i])
            weft_socket_close(conns[i]);
    weft_socket_close(l);
}

/* Two read-side ops at once: the second is refused with EBUSY. */
typedef struct two_readers {
    weft_future base;
    weft_stream *s;
    weft_net_op a, b;
    char buf[8];
} two_readers;
static weft_poll two_readers_poll(weft_future *f, weft_context *cx, void *out) {
    two_readers *self = (two_readers *)f;
    int64_t r = 0;
    assert_int_equal(weft_future_poll(weft_stream_read(&self->a, self->s, self->buf, 8), cx, NULL),
                     WEFT_PENDING);
    assert_int_equal(weft_future_poll(weft_stream_read(&self->b, self->s, self->buf, 8), cx, &r),
                     WEFT_READY);
    assert_int_equal(r, WEFT_EBUSY);
    weft_future_drop(&self->b.base);
    weft_future_drop(&self->a.base);
    if (out)
        *(int64_t *)out = 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(two_readers, two_readers_poll, NULL, int64_t);

static void one_op_per_side(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    two_readers t = WEFT_NEW(two_readers, .s = p.a);
    run(env, &t.base);
    pair_close(&p);
}

/* A reader task and a writer task on one stream at once (split halves):
 * the writer sends 2 MB through an echo peer while the reader takes the
 * echo back. */
typedef struct half_writer {
    weft_future base;
    weft_stream *s;
    size_t sent, total;
    int64_t r;
    weft_net_op op;
    char buf[8192];
} half_writer;
static weft_poll half_writer_poll(weft_future *f, weft_context *cx, void *out) {
    half_writer *self = (half_writer *)f;
    WEFT_BEGIN(f);
    while (self->sent < self->total) {
        memset(self->buf, (int)(self->sent / sizeof self->buf), sizeof self->buf);
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->buf, sizeof self->buf), &self->r);
        assert_int_equal(self->r, sizeof self->buf);
        self->sent += sizeof self->buf;
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(half_writer, half_writer_poll, NULL, int64_t);

typedef struct half_reader {
    weft_future base;
    weft_stream *s;
    size_t got, total;
    int64_t r;
    weft_net_op op;
    char buf[8192];
} half_reader;
static weft_poll half_reader_poll(weft_future *f, weft_context *cx, void *out) {
    half_reader *self = (half_reader *)f;
    WEFT_BEGIN(f);
    while (self->got < self->total) {
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf), &self->r);
        assert_true(self->r > 0);
        for (int64_t k = 0; k < self->r; k++)
            assert_int_equal((unsigned char)self->buf[k], (unsigned char)((self->got + (size_t)k) / 8192));
        self->got += (size_t)self->r;
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(half_reader, half_reader_poll, NULL, int64_t);

typedef struct split_test {
    weft_future base;
    pair *p;
    weft_join_handle echo, w, r;
} split_test;
static weft_poll split_test_poll(weft_future *f, weft_context *cx, void *out) {
    split_test *self = (split_test *)f;
    WEFT_BEGIN(f);
    {
        echo_conn e = WEFT_NEW(echo_conn, .s = self->p->b);
        self->p->b = NULL; /* the echo task closes it */
        assert_int_equal(weft_spawn(&e, &self->echo), 0);
        half_writer hw = WEFT_NEW(half_writer, .s = self->p->a, .total = 2u << 20);
        half_reader hr = WEFT_NEW(half_reader, .s = self->p->a, .total = 2u << 20);
        assert_int_equal(weft_spawn(&hw, &self->w), 0);
        assert_int_equal(weft_spawn(&hr, &self->r), 0);
    }
    WEFT_AWAIT(f, cx, weft_join(&self->w), NULL);
    WEFT_AWAIT(f, cx, weft_join(&self->r), NULL);
    assert_int_equal(weft_join_status(&self->r), 0);
    assert_int_equal(weft_stream_shutdown(self->p->a, WEFT_SHUT_WR), 0);
    WEFT_AWAIT(f, cx, weft_join(&self->echo), NULL);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(split_test, split_test_poll, NULL, int64_t);

static void reader_and_writer_tasks(void **state) {
    wt_env *env = WT_ENV(state);
    pair p = {0};
    pair_make(env, &p);
    split_test t = WEFT_NEW(split_test, .p = &p);
    run(env, &t.base);
    pair_close(&p);
}

/* ------------------------------------------------------------------ UDP */

static void udp_round_trips(void **state) {
    wt_env *env = WT_ENV(state);
    weft_datagram *a = dgram(env, weft_addr_loopback4(0));
    weft_datagram *b = dgram(env, weft_addr_loopback4(0));
    weft_addr to_b = weft_addr_loopback4(port_of(b)), to_a = weft_addr_loopback4(port_of(a));
    weft_net_op op;
    char buf[64];
    weft_addr from;
    for (int i = 0; i < 50; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "dgram %d", i);
        assert_int_equal(op_run(env, weft_datagram_send_to(&op, a, msg, (size_t)n, &to_b)), n);
        assert_int_equal(op_run(env, weft_datagram_recv_from(&op, b, buf, sizeof buf, &from)), n);
        assert_memory_equal(buf, msg, (size_t)n);
        assert_true(weft_addr_equal(&from, &to_a));
    }
    /* Connected: send/recv to the default peer. */
    assert_int_equal(weft_datagram_connect(a, &to_b), 0);
    assert_int_equal(weft_datagram_connect(b, &to_a), 0);
    assert_int_equal(op_run(env, weft_datagram_send(&op, a, "hi", 2)), 2);
    assert_int_equal(op_run(env, weft_datagram_recv(&op, b, buf, sizeof buf)), 2);
    weft_addr peer;
    assert_int_equal(weft_socket_peer_addr(a, &peer), 0);
    assert_true(weft_addr_equal(&peer, &to_b));
    /* Truncation is reported, with the datagram's size. */
    static char big[1000];
    memset(big, 'z', sizeof big);
    assert_int_equal(op_run(env, weft_datagram_send(&op, a, big, sizeof big)), sizeof big);
    assert_int_equal(op_run(env, weft_datagram_recv(&op, b, buf, 10)), WEFT_ETRUNCATED);
    assert_int_equal(weft_net_op_datagram_size(&op), sizeof big);
    assert_memory_equal(buf, big, 10);
    /* try_ calls: nothing there is EAGAIN. */
    assert_int_equal(weft_datagram_try_recv_from(b, buf, sizeof buf, NULL), WEFT_EAGAIN);
    weft_socket_close(a);
    weft_socket_close(b);
}

static void udp_broadcast_loopback(void **state) {
    wt_env *env = WT_ENV(state);
    weft_addr any;
    assert_int_equal(weft_addr_parse("0.0.0.0:0", &any), 0);
    weft_datagram *rx = dgram(env, any);
    weft_datagram *tx = dgram(env, weft_addr_loopback4(0));
    assert_int_equal(weft_datagram_set_broadcast(tx, true), 0);
    weft_addr bcast;
    assert_int_equal(weft_addr_from_ip("127.255.255.255", port_of(rx), &bcast), 0);
    weft_net_op op;
    char buf[16];
    assert_int_equal(op_run(env, weft_datagram_send_to(&op, tx, "all", 3, &bcast)), 3);
    assert_int_equal(op_run(env, weft_datagram_recv(&op, rx, buf, sizeof buf)), 3);
    assert_memory_equal(buf, "all", 3);
    weft_socket_close(rx);
    weft_socket_close(tx);
}

static void unix_datagram(void **state) {
    wt_env *env = WT_ENV(state);
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "/tmp/weft-dg-a-%d", (int)getpid());
    snprintf(pb, sizeof pb, "/tmp/weft-dg-b-%d", (int)getpid());
    unlink(pa);
    unlink(pb);
    weft_addr aa, ab;
    assert_int_equal(weft_addr_unix(pa, &aa), 0);
    assert_int_equal(weft_addr_unix(pb, &ab), 0);
    if (unix_unsupported(env, &aa))
        return;
    weft_datagram *a = dgram(env, aa), *b = dgram(env, ab);
    weft_net_op op;
    char buf[16];
    weft_addr from;
    assert_int_equal(op_run(env, weft_datagram_send_to(&op, a, "unix", 4, &ab)), 4);
    assert_int_equal(op_run(env, weft_datagram_recv_from(&op, b, buf, sizeof buf, &from)), 4);
    assert_memory_equal(buf, "unix", 4);
    assert_string_equal(from.u.path, pa);
    weft_socket_close(a);
    weft_socket_close(b);
    unlink(pa);
    unlink(pb);
}

/* --------------------------------------------------------------- lookup */

static void lookup_names(void **state) {
    wt_env *env = WT_ENV(state);
    weft_lookup lk;
    weft_addr out[8];
    assert_int_equal(op_run(env, weft_lookup(&lk, "10.0.0.7", 53, out, 8)), 1);
    assert_int_equal(out[0].family, WEFT_AF_INET);
    assert_int_equal(out[0].port, 53);
    assert_int_equal(op_run(env, weft_lookup(&lk, "::1", 80, out, 8)), 1);
    assert_int_equal(out[0].family, WEFT_AF_INET6);
    int64_t n = op_run(env, weft_lookup(&lk, "localhost", 8080, out, 8));
    assert_true(n >= 1);
    for (int64_t i = 0; i < n; i++) {
        weft_addr l4 = weft_addr_loopback4(8080), l6 = weft_addr_loopback6(8080);
        assert_true(weft_addr_equal(&out[i], &l4) || weft_addr_equal(&out[i], &l6));
    }
    n = op_run(env, weft_lookup(&lk, "no-such-host.invalid", 1, out, 8));
    assert_true(n == WEFT_ENOTFOUND || n == WEFT_ETRYAGAIN);
    assert_int_equal(op_run(env, weft_lookup(&lk, "", 1, out, 8)), WEFT_EINVAL);
    assert_int_equal(op_run(env, weft_lookup(&lk, "localhost", 1, out, 0)), WEFT_EINVAL);
}

/* ---------------------------------------------------------------- misuse */

typedef struct misuse {
    weft_future base;
} misuse;
static weft_poll misuse_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    weft_listener *l = NULL;
    weft_addr a = weft_addr_loopback4(0), bad = {.family = 42};
    assert_int_equal(weft_listener_bind(NULL, NULL, &l), WEFT_EINVAL);
    assert_int_equal(weft_listener_bind(&a, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_listener_bind(&bad, NULL, &l), WEFT_EINVAL);
    assert_int_equal(weft_socket_close(NULL), WEFT_EINVAL);
    assert_int_equal(weft_socket_local_addr(NULL, &a), WEFT_EINVAL);
    assert_int_equal(weft_stream_set_nodelay(NULL, true), WEFT_EINVAL);
    assert_int_equal(weft_stream_try_read(NULL, &a, 1), WEFT_EINVAL);
    assert_int_equal(weft_datagram_try_send_to(NULL, "x", 1, &a), WEFT_EINVAL);
    assert_int_equal(weft_listener_bind(&a, NULL, &l), 0);
    /* The wrong kind of socket. */
    char buf[4];
    assert_int_equal(weft_stream_try_read(l, buf, 4), WEFT_EINVAL);
    assert_int_equal(weft_datagram_set_broadcast(l, true), WEFT_EINVAL);
    assert_int_equal(weft_stream_shutdown(l, WEFT_SHUT_WR), WEFT_EINVAL);
    weft_addr peer;
    assert_int_equal(weft_socket_peer_addr(l, &peer), WEFT_ENOTCONN);
    weft_net_op op;
    int64_t r = 0;
    assert_int_equal(weft_future_poll(weft_stream_read(&op, l, buf, 4), cx, &r), WEFT_READY);
    assert_int_equal(r, WEFT_EINVAL);
    weft_future_drop(&op.base);
    assert_int_equal(weft_future_poll(weft_stream_read(&op, NULL, buf, 4), cx, &r), WEFT_READY);
    assert_int_equal(r, WEFT_EINVAL);
    weft_future_drop(&op.base);
    assert_int_equal(weft_future_poll(weft_listener_accept(&op, l, NULL, NULL), cx, &r), WEFT_READY);
    assert_int_equal(r, WEFT_EINVAL);
    weft_future_drop(&op.base);
    /* Address in use. */
    weft_listener *l2 = NULL;
    weft_addr same = weft_addr_loopback4(port_of(l));
    weft_socket_options o;
    weft_socket_options_init(&o);
    o.reuseaddr = false;
    assert_int_equal(weft_listener_bind(&same, &o, &l2), WEFT_EADDRINUSE);
    assert_null(l2);
    weft_socket_close(l);
    if (out)
        *(int64_t *)out = 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(misuse, misuse_poll, NULL, int64_t);

static void misuse_and_errors(void **state) {
    wt_env *env = WT_ENV(state);
    misuse m = WEFT_NEW(misuse);
    run(env, &m.base);
    /* Outside any runtime. */
    weft_listener *l = NULL;
    weft_addr a = weft_addr_loopback4(0);
    assert_int_equal(weft_listener_bind(&a, NULL, &l), WEFT_ENORUNTIME);
}

static void no_io_driver(void **state) {
    wt_env *env = WT_ENV(state);
    env->builder.io_driver = "none";
    misuse m = WEFT_NEW(misuse);
    (void)m;
    bind_dgram b = WEFT_NEW(bind_dgram, .addr = weft_addr_loopback4(0), .out = &(weft_datagram *){0});
    assert_int_equal(run(env, &b.base), WEFT_ENOTSUP);
    weft_runtime *rt;
    weft_builder bad = env->builder;
    bad.io_driver = "no-such-driver";
    assert_int_equal(weft_runtime_new(&bad, &rt), WEFT_ENOTSUP);
}

/* --------------------------------------------------------------- EMFILE */

typedef struct emfile_test {
    weft_future base;
    weft_addr to;
    weft_listener *l;
    weft_stream *conns[64];
    int nconns;
    weft_stream *got;
    weft_net_op op;
    int64_t r;
    int i;
} emfile_test;

static weft_poll emfile_poll(weft_future *f, weft_context *cx, void *out) {
    emfile_test *self = (emfile_test *)f;
    WEFT_BEGIN(f);
    {
        weft_addr any = weft_addr_loopback4(0);
        assert_int_equal(weft_listener_bind(&any, NULL, &self->l), 0);
    }
    /* Leave room for a few sockets only. */
    wt_os_limit_descriptors(4);
    /* Connect until descriptors run out (connect itself fails then). */
    for (self->i = 0; self->i < 64; self->i++) {
        self->to = weft_addr_loopback4(port_of(self->l));
        WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->conns[self->nconns]), &self->r);
        if (self->r != 0) {
            assert_int_equal(self->r, WEFT_EMFILE);
            break;
        }
        self->nconns++;
    }
    assert_true(self->nconns > 0);
    /* The listener has pending connections but no descriptor to give
     * them: accept says so, each time, without spinning or hanging. */
    for (self->i = 0; self->i < 2; self->i++) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->got, NULL), &self->r);
        assert_int_equal(self->r, WEFT_EMFILE);
        assert_null(self->got);
    }
    wt_os_unlimit_descriptors();
    /* With descriptors back, the listener accepts what is left. */
    WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->got, NULL), &self->r);
    assert_int_equal(self->r, 0);
    weft_socket_close(self->got);
    for (self->i = 0; self->i < self->nconns; self->i++)
        weft_socket_close(self->conns[self->i]);
    weft_socket_close(self->l);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(emfile_test, emfile_poll, NULL, int64_t);

static void accept_out_of_descriptors(void **state) {
    wt_env *env = WT_ENV(state);
    if (!wt_os_limit_descriptors(0)) {
        /* Windows has no per-process descriptor limit to lower (sockets
         * run out only with the system's memory): nothing to provoke. */
        skip();
    }
    wt_os_unlimit_descriptors();
    emfile_test t = WEFT_NEW(emfile_test);
    run(env, &t.base);
}

/* ------------------------------------------------------------ idle costs */

/* A runtime waiting on a socket with nothing to do sleeps in the driver:
 * over 200 ms its workers park no more than once each (no busy loop), and
 * it uses (almost) no CPU. */
typedef struct idle_test {
    weft_future base;
    weft_datagram *u;
    weft_net_op op;
    weft_timeout t;
    char buf[4];
} idle_test;
static weft_poll idle_poll(weft_future *f, weft_context *cx, void *out) {
    idle_test *self = (idle_test *)f;
    WEFT_BEGIN(f);
    assert_int_equal(weft_datagram_bind(&(weft_addr){.family = WEFT_AF_INET, .u.v4 = {127, 0, 0, 1}}, NULL, &self->u), 0);
    WEFT_AWAIT(f, cx, weft_timeout(&self->t, WEFT_MS(200), weft_datagram_recv(&self->op, self->u, self->buf, 4)), NULL);
    assert_int_equal(weft_timeout_status(&self->t), WEFT_ETIMEDOUT);
    weft_socket_close(self->u);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(idle_test, idle_poll, NULL, int64_t);

static void idle_runtime_sleeps(void **state) {
    wt_env *env = WT_ENV(state);
    weft_runtime *rt = wt_rt(env);
    long before = wt_os_cpu_us();
    idle_test t = WEFT_NEW(idle_test);
    run(env, &t.base);
    long us = wt_os_cpu_us() - before;
    /* A busy loop would burn the whole 200 ms on a core. */
    assert_true(us < 50000);
    if (env->flavor == WEFT_MULTI_THREAD) {
        weft_runtime_metrics m;
        weft_handle_metrics(weft_runtime_handle(rt), &m);
        uint64_t parks = 0;
        for (uint32_t i = 0; i < m.workers; i++) {
            weft_worker_metrics wm;
            assert_int_equal(weft_handle_worker_metrics(weft_runtime_handle(rt), i, &wm), 0);
            parks += wm.parks;
        }
        assert_true(parks <= 4 * (uint64_t)m.workers);
    }
}

/* The simulated network: the same tests on the sim flavor, but those that
 * need the OS (descriptor limits, CPU time, the raw driver). */
#define NET_SIM(fn) {#fn "@sim", fn, net_setup_swarm, net_teardown, (void *)&wt_flavor_values[2]}
#define NET_SIM_CALM(fn) {#fn "@sim", fn, net_setup_calm, net_teardown, (void *)&wt_flavor_values[2]}

/* The suite's tests expect what loopback gives: a connect to a listening
 * port succeeds, a datagram arrives once.  So on the sim they run under
 * the seed's swarm draw of the network (latency tails, the network's fault
 * points, loss turned into TCP retransmissions) less its random
 * connection failures; those that count datagrams keep the drawn latency
 * but lose, duplicate and reorder nothing. */
static int net_setup_drawn(void **state, bool datagrams) {
    int r = net_setup(state);
    wt_env *env = *state;
    if (r || !env)
        return r;
    weft_runtime *rt = weft_test_rt(env);
    weft_sim_link l;
    if (!rt || weft_sim_link_get(weft_runtime_handle(rt), "*", "*", &l))
        return -1;
    l.connect_fail_ppm = 0;
    if (datagrams)
        l.loss_ppm = l.dup_ppm = l.reorder_ppm = 0;
    return weft_sim_link_set(weft_runtime_handle(rt), "*", "*", &l) ? -1 : 0;
}
static int net_setup_swarm(void **state) { return net_setup_drawn(state, false); }
static int net_setup_calm(void **state) { return net_setup_drawn(state, true); }

/* The simulated network is decided by the seed: the same seed gives the
 * same run (fingerprint), another seed another run. */
static uint64_t echo_fingerprint(uint64_t seed) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    weft_runtime *rt;
    assert_int_equal(weft_runtime_new(&b, &rt), 0);
    echo_test t = WEFT_NEW(echo_test, .conns = 4, .rounds = 5, .len = 200);
    int64_t failed = -1;
    assert_int_equal(weft_runtime_block_on(rt, &t.base, &failed), 0);
    assert_int_equal(failed, 0);
    uint64_t fp = weft_sim_fingerprint(weft_runtime_handle(rt));
    weft_runtime_free(rt);
    return fp;
}

static void sim_network_is_deterministic(void **state) {
    (void)state;
    uint64_t a = echo_fingerprint(7), b = echo_fingerprint(7), c = echo_fingerprint(8);
    assert_int_equal(a, b);
    assert_true(a != c);
}

static int run_sim(void) {
    const struct CMUnitTest tests[] = {
        NET_SIM(echo),
        NET_SIM(echo_ipv6),
        NET_SIM(echo_unix_stream),
        NET_SIM(thousand_connections),
        NET_SIM(hundred_megabytes),
        NET_SIM(half_close),
        NET_SIM(small_reads_keep_order),
        NET_SIM(reads_spend_the_budget),
        NET_SIM(connect_refused),
        NET_SIM(reset_by_peer),
        NET_SIM(write_after_peer_closed),
        NET_SIM(cancel_by_timeout),
        NET_SIM_CALM(cancel_datagram_by_timeout),
        NET_SIM(cancel_by_drop),
        NET_SIM(cancel_connect),
        NET_SIM(accept_after_a_dropped_accept),
        NET_SIM(listener_readable),
        NET_SIM(shutdown_with_reads_in_flight),
        NET_SIM(listener_close_closes_unaccepted),
        NET_SIM(dropped_read_keeps_its_bytes),
        NET_SIM(one_op_per_side),
        NET_SIM(reader_and_writer_tasks),
        NET_SIM_CALM(udp_round_trips),
        NET_SIM_CALM(udp_broadcast_loopback),
        NET_SIM(unix_datagram),
        NET_SIM(lookup_names),
        NET_SIM(misuse_and_errors),
        cmocka_unit_test(sim_network_is_deterministic),
    };
    return WT_RUN("net on the simulator", tests);
}

/* One echo on a runtime of its own before the suite: a process's first
 * use of the network may make handles that live until it exits (wine's
 * first overlapped socket call on a thread makes one), which the first
 * test's leak check would otherwise count as its own. */
static void warm_up(void) {
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD);
    weft_runtime *rt;
    if (weft_runtime_new(&b, &rt))
        return;
    echo_test t = WEFT_NEW(echo_test, .conns = 1, .rounds = 1, .len = 8);
    int64_t failed = -1;
    weft_runtime_block_on(rt, &t.base, &failed);
    weft_runtime_free(rt);
}

int main(void) {
    wt_os_sigpipe_default();
    const char *drv = getenv("WEFT_IO_DRIVER");
    if (drv && strcmp(drv, "sim") == 0)
        return run_sim();
    fprintf(stderr, "net suite on the %s driver\n", drv && *drv ? drv : "default");
    warm_up();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addr_parse_and_format),
        NET_FLAVORS(echo),
        NET_FLAVORS(echo_ipv6),
        NET_FLAVORS(echo_unix_stream),
        NET_FLAVORS(thousand_connections),
        NET_FLAVORS(hundred_megabytes),
        NET_FLAVORS(half_close),
        NET_FLAVORS(small_reads_keep_order),
        NET_CT(reads_spend_the_budget),
        NET_FLAVORS(connect_refused),
        NET_FLAVORS(reset_by_peer),
        NET_FLAVORS(write_after_peer_closed),
        NET_FLAVORS(cancel_by_timeout),
        NET_FLAVORS(cancel_datagram_by_timeout),
        NET_FLAVORS(cancel_by_drop),
        NET_FLAVORS(cancel_connect),
        NET_FLAVORS(accept_after_a_dropped_accept),
        NET_FLAVORS(listener_readable),
        NET_FLAVORS(shutdown_with_reads_in_flight),
        NET_FLAVORS(listener_close_closes_unaccepted),
        NET_FLAVORS(dropped_read_keeps_its_bytes),
        NET_FLAVORS(one_op_per_side),
        NET_FLAVORS(reader_and_writer_tasks),
        NET_FLAVORS(udp_round_trips),
        NET_FLAVORS(udp_broadcast_loopback),
        NET_FLAVORS(unix_datagram),
        NET_FLAVORS(lookup_names),
        NET_FLAVORS(misuse_and_errors),
        NET_CT(no_io_driver),
        NET_FLAVORS(accept_out_of_descriptors),
        NET_FLAVORS(idle_runtime_sleeps),
    };
    return WT_RUN("net", tests);
}
