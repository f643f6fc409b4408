/* weft tests — simulated hosts: tasks and sockets owned by a host, crash
 * (reset or silent), restart, pause and resume, the disk, per-host clocks,
 * injected lookup failures, hosts in the faults network (partitions by
 * host name, a silent crash as a black-hole path), and determinism of all
 * of it.
 *
 * Each test runs on a fresh sim runtime whose counting allocator fails the
 * test if anything outlives it; every run is bounded by virtual time (and
 * the sim's step limit), so none can hang.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/net.h"
#include "weft/sim.h"
#include "weft/time.h"

#define SRV_PORT 7000

/* The state a test hands its host: the disk, plus counters the test reads. */
typedef struct srv_disk {
    int starts;           /* the start function ran */
    int drops;            /* the host's futures dropped before they finished */
    int served;           /* connections accepted (or pongs, for a pinger) */
    int ticks;            /* ticker */
    weft_addr last_peer;  /* the peer of the last connection accepted */
    weft_sim_host *seen;  /* weft_sim_host_current() in a grandchild task */
    weft_join_handle jh;  /* a host task's handle, held by the test */
    bool keep_jh;
    uint16_t port;
} srv_disk;

static weft_addr ip(const char *text, uint16_t port) {
    weft_addr a;
    assert_int_equal(weft_addr_from_ip(text, port, &a), 0);
    return a;
}

/* ------------------------------------------------------- the host's code */

/* Echoes one stream until it ends. */
typedef struct h_conn {
    weft_future base;
    srv_disk *d;
    weft_stream *s;
    int64_t n;
    weft_net_op op;
    char buf[256];
} h_conn;

static weft_poll h_conn_poll(weft_future *f, weft_context *cx, void *out) {
    h_conn *self = (h_conn *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf),
                   &self->n);
        if (self->n <= 0)
            break;
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->buf, (size_t)self->n),
                   &self->n);
        if (self->n < 0)
            break;
    }
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void h_conn_drop(weft_future *f) {
    h_conn *self = (h_conn *)f;
    if (self->s)
        weft_socket_close(self->s);
    if (f->resume != WEFT__DONE)
        self->d->drops++;
}
WEFT_FUTURE_DEFINE(h_conn, h_conn_poll, h_conn_drop, int64_t);

/* Accepts connections forever, an echo task for each. */
typedef struct h_acceptor {
    weft_future base;
    srv_disk *d;
    weft_listener *l;
    weft_stream *c;
    weft_addr peer;
    int64_t r;
    weft_net_op op;
} h_acceptor;

static weft_poll h_acceptor_poll(weft_future *f, weft_context *cx, void *out) {
    h_acceptor *self = (h_acceptor *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->c, &self->peer),
                   &self->r);
        if (self->r < 0)
            break;
        self->d->served++;
        self->d->last_peer = self->peer;
        h_conn c = WEFT_NEW(h_conn, .d = self->d, .s = self->c);
        assert_int_equal(weft_spawn(&c, NULL), 0);
    }
    weft_socket_close(self->l);
    self->l = NULL;
    WEFT_RETURN(f, out, int64_t, self->r);
    WEFT_END(f);
}
static void h_acceptor_drop(weft_future *f) {
    h_acceptor *self = (h_acceptor *)f;
    if (self->l)
        weft_socket_close(self->l);
    if (f->resume != WEFT__DONE)
        self->d->drops++;
}
WEFT_FUTURE_DEFINE(h_acceptor, h_acceptor_poll, h_acceptor_drop, int64_t);

/* An echo server on 0.0.0.0:port (its own port space: every host may). */
static void srv_start(weft_sim_host *h, void *disk) {
    srv_disk *d = disk;
    assert_ptr_equal(weft_sim_host_current(), h);
    d->starts++;
    weft_addr any = ip("0.0.0.0", d->port ? d->port : SRV_PORT);
    weft_listener *l;
    int err = weft_listener_bind(&any, NULL, &l);
    if (err)
        fail_msg("bind on host %s: %s", weft_sim_host_name(h), weft_err_name(err));
    h_acceptor a = WEFT_NEW(h_acceptor, .d = d, .l = l);
    assert_int_equal(weft_spawn(&a, NULL), 0);
}

static weft_sim_host *make_srv(const char *name, const char *addr, srv_disk *d) {
    const char *addrs[] = {addr};
    weft_sim_host_config c = {.name = name, .addrs = addrs, .naddrs = 1, .start = srv_start,
                              .disk = d, .clock = WEFT_SIM_CLOCK_EXACT};
    weft_sim_host *h = NULL;
    assert_int_equal(weft_sim_host_create(NULL, &c, &h), 0);
    assert_non_null(h);
    return h;
}

/* --------------------------------------------------- the root's helpers */

/* The last run's fingerprint and event count. */
static uint64_t last_fp, last_events;

/* Runs `f` on a fresh sim runtime of the env (seed `seed`), frees the
 * runtime (the hosts' tasks still alive are dropped then, and nothing may
 * outlive it), and returns the future's int64.  Bodies are static: a
 * failing assertion leaves the runtime to the teardown, whose drops must
 * find the disks they write still there. */
static int64_t run(wt_env *env, uint64_t seed, weft_future *f) {
    env->builder.sim_seed = seed;
    env->builder.sim_max_time = WEFT_SECS(3600);
    /* A calm network (1 ms, nothing lost): these tests time what a host
     * does; the chaos sweep below runs on the swarm's. */
    env->builder.sim_net = WEFT_SIM_NET_CALM;
    env->builder.sim_trace_path = getenv("WEFT_TRACE"); /* "-": the run, on stderr */
    int64_t out = -12345;
    int err = weft_runtime_block_on(wt_rt(env), f, &out);
    if (err)
        fail_msg("block_on: %s (%s)", weft_err_name(err),
                 weft_sim_failure(weft_runtime_handle(wt_rt(env))) ? weft_sim_failure(weft_runtime_handle(wt_rt(env))) : "");
    last_fp = weft_sim_fingerprint(weft_runtime_handle(wt_rt(env)));
    last_events = weft_sim_events(weft_runtime_handle(wt_rt(env)));
    wt_free_rt(env);
    return out;
}

/* ------------------------------------------------------ restart, misuse */

typedef struct restart_body {
    weft_future base;
    srv_disk d;
} restart_body;

static weft_poll restart_body_poll(weft_future *f, weft_context *cx, void *out) {
    restart_body *self = (restart_body *)f;
    (void)cx;
    weft_sim_host *h = make_srv("srv", "10.0.0.1", &self->d);
    assert_int_equal(self->d.starts, 1);
    assert_int_equal(weft_sim_host_state(h), WEFT_SIM_HOST_RUNNING);
    assert_ptr_equal(weft_sim_host_find(NULL, "srv"), h);
    assert_null(weft_sim_host_find(NULL, "nobody"));
    assert_string_equal(weft_sim_host_name(h), "srv");
    assert_null(weft_sim_host_current()); /* the root belongs to no host */
    /* misuse: each refused with a code, the host unchanged */
    assert_int_equal(weft_sim_host_restart(h), WEFT_EINVAL); /* running */
    assert_int_equal(weft_sim_host_resume(h), WEFT_EINVAL);  /* not paused */
    assert_int_equal(weft_sim_host_crash(h, 7), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_crash(NULL, WEFT_SIM_CRASH_RESET), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_restart(NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_pause(NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_resume(NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_state(NULL), WEFT_EINVAL);
    srv_disk other = {0};
    weft_sim_host_config dup = {.name = "srv", .start = srv_start, .disk = &other};
    assert_int_equal(weft_sim_host_create(NULL, &dup, NULL), WEFT_EINVAL); /* name taken */
    const char *taken[] = {"10.0.0.1"};
    weft_sim_host_config dup_addr = {.name = "srv2", .addrs = taken, .naddrs = 1};
    assert_int_equal(weft_sim_host_create(NULL, &dup_addr, NULL), WEFT_EINVAL);
    const char *lo[] = {"127.0.0.1"};
    weft_sim_host_config loop = {.name = "lo", .addrs = lo, .naddrs = 1};
    assert_int_equal(weft_sim_host_create(NULL, &loop, NULL), WEFT_EINVAL);
    weft_sim_host_config local = {.name = "localhost"};
    assert_int_equal(weft_sim_host_create(NULL, &local, NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_create(NULL, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(other.starts, 0);

    assert_int_equal(weft_sim_host_crash(h, WEFT_SIM_CRASH_RESET), 0);
    assert_int_equal(weft_sim_host_state(h), WEFT_SIM_HOST_CRASHED);
    assert_int_equal(weft_sim_host_crash(h, WEFT_SIM_CRASH_RESET), WEFT_EINVAL); /* twice */
    assert_int_equal(weft_sim_host_pause(h), WEFT_EINVAL);
    assert_int_equal(self->d.drops, 1); /* the acceptor, dropped at once */
    assert_int_equal(weft_sim_host_restart(h), 0);
    assert_int_equal(self->d.starts, 2); /* from scratch: it could bind its port again */
    assert_int_equal(weft_sim_host_restarts(h), 1);
    assert_int_equal(weft_sim_host_pause(h), 0);
    assert_int_equal(weft_sim_host_pause(h), WEFT_EINVAL);
    assert_int_equal(weft_sim_host_crash(h, WEFT_SIM_CRASH_SILENT), 0); /* paused may crash */
    assert_int_equal(self->d.drops, 2);
    assert_int_equal(weft_sim_host_restart(h), 0);
    assert_int_equal(self->d.starts, 3);
    *(int64_t *)out = 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(restart_body, restart_body_poll, NULL, int64_t);

static void restart_runs_start_again(void **state) {
    wt_env *env = WT_ENV(state);
    static restart_body b;
    b = WEFT_NEW(restart_body);
    assert_int_equal(run(env, 1, &b.base), 0);
}

/* ----------------------------------------------------------- crash */

/* Connects to the server host, checks an echo, crashes the host `how`,
 * and records what the root's end of the connection sees. */
typedef struct crash_body {
    weft_future base;
    int how;
    srv_disk d;
    weft_sim_host *h;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_timeout tmo;
    weft_instant t0;
    int64_t r;
    char buf[8];
    /* what was seen */
    int drops_at_crash;
    int64_t quiet_read;    /* a read with a timeout, right after the crash */
    int64_t write_after;   /* a write after the crash */
    int64_t read_after;    /* then a read without a timeout */
    weft_duration waited;  /* how long that read took */
    int64_t connect_down;  /* a connect while the host is down */
    weft_duration connect_waited;
    int64_t echo_again;    /* after the restart */
    weft_instant host_t0;
    weft_duration host_ran; /* the crashed host's clock, over the quiet read */
} crash_body;

static weft_poll crash_body_poll(weft_future *f, weft_context *cx, void *out) {
    crash_body *self = (crash_body *)f;
    WEFT_BEGIN(f);
    self->h = make_srv("srv", "10.0.0.1", &self->d);
    self->to = ip("10.0.0.1", SRV_PORT);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "ping", 4), &self->r);
    assert_int_equal(self->r, 4);
    WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->buf, 4), &self->r);
    assert_int_equal(self->r, 4);
    assert_memory_equal(self->buf, "ping", 4);
    assert_int_equal(self->d.drops, 0);

    assert_int_equal(weft_sim_host_crash(self->h, self->how), 0);
    self->drops_at_crash = self->d.drops; /* cleanup ran inside crash */
    self->host_t0 = weft_sim_host_now(self->h);
    weft_timeout(&self->tmo, WEFT_SECS(30),
                 weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf));
    self->quiet_read = 1;
    WEFT_AWAIT(f, cx, &self->tmo.base, &self->quiet_read);
    if (weft_timeout_status(&self->tmo) == WEFT_ETIMEDOUT)
        self->quiet_read = WEFT_ETIMEDOUT;
    self->host_ran = (weft_duration)(weft_sim_host_now(self->h) - self->host_t0);
    WEFT_AWAIT(f, cx, weft_stream_write(&self->op, self->s, "x", 1), &self->write_after);
    self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf),
               &self->read_after);
    self->waited = (weft_duration)(weft_now() - self->t0);
    weft_socket_close(self->s);
    self->s = NULL;

    self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s),
               &self->connect_down);
    self->connect_waited = (weft_duration)(weft_now() - self->t0);
    if (self->connect_down == 0) {
        weft_socket_close(self->s);
        self->s = NULL;
    }

    assert_int_equal(weft_sim_host_restart(self->h), 0);
    assert_int_equal(self->d.starts, 2);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "pong", 4), &self->r);
    WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->buf, 4), &self->echo_again);
    assert_memory_equal(self->buf, "pong", 4);
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void crash_body_drop(weft_future *f) {
    crash_body *self = (crash_body *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(crash_body, crash_body_poll, crash_body_drop, int64_t);

static void crash_resets_peers(void **state) {
    wt_env *env = WT_ENV(state);
    static crash_body b;
    b = WEFT_NEW(crash_body, .how = WEFT_SIM_CRASH_RESET);
    assert_int_equal(run(env, 2, &b.base), 0);
    assert_int_equal(b.drops_at_crash, 2);           /* the acceptor and the echo task */
    assert_int_equal(b.quiet_read, WEFT_ECONNRESET); /* the peer saw the reset */
    assert_int_equal(b.write_after, WEFT_EPIPE);
    assert_true(b.connect_down == WEFT_ECONNREFUSED); /* the host's kernel answers */
    assert_true(b.connect_waited < WEFT_MS(100));
    assert_int_equal(b.echo_again, 4);
}

static void silent_crash_gives_silence(void **state) {
    wt_env *env = WT_ENV(state);
    static crash_body b;
    b = WEFT_NEW(crash_body, .how = WEFT_SIM_CRASH_SILENT);
    assert_int_equal(run(env, 3, &b.base), 0);
    assert_int_equal(b.drops_at_crash, 2);
    assert_int_equal(b.quiet_read, WEFT_ETIMEDOUT); /* nothing came: our timeout fired */
    assert_true(b.host_ran >= WEFT_SECS(30)); /* a crashed host's clock keeps running */
    assert_int_equal(b.write_after, 1);             /* accepted, as by a real stack */
    /* ... and retransmitted until the sender gave up, as TCP does */
    assert_int_equal(b.read_after, WEFT_ETIMEDOUT);
    assert_true(b.waited >= WEFT_SECS(600));
    assert_int_equal(b.connect_down, WEFT_ETIMEDOUT); /* SYNs unanswered */
    assert_true(b.connect_waited >= WEFT_SECS(60));
    assert_int_equal(b.echo_again, 4);
}

/* A silent crash, then a restart before the peer gave up: the fresh
 * stack answers the stale connection with a reset. */
typedef struct stale_body {
    weft_future base;
    srv_disk d;
    weft_sim_host *h;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_sleep nap;
    int64_t r, wrote, read;
    char buf[8];
} stale_body;

static weft_poll stale_body_poll(weft_future *f, weft_context *cx, void *out) {
    stale_body *self = (stale_body *)f;
    WEFT_BEGIN(f);
    self->h = make_srv("srv", "10.0.0.1", &self->d);
    self->to = ip("10.0.0.1", SRV_PORT);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    assert_int_equal(weft_sim_host_crash(self->h, WEFT_SIM_CRASH_SILENT), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(5)), NULL);
    assert_int_equal(weft_sim_host_restart(self->h), 0);
    WEFT_AWAIT(f, cx, weft_stream_write(&self->op, self->s, "late", 4), &self->wrote);
    WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf),
               &self->read);
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void stale_body_drop(weft_future *f) {
    stale_body *self = (stale_body *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(stale_body, stale_body_poll, stale_body_drop, int64_t);

static void restarted_host_resets_stale_connections(void **state) {
    wt_env *env = WT_ENV(state);
    static stale_body b;
    b = WEFT_NEW(stale_body);
    assert_int_equal(run(env, 4, &b.base), 0);
    assert_int_equal(b.wrote, 4);
    assert_int_equal(b.read, WEFT_ECONNRESET);
}

/* Keepalive: a reader of a silently crashed host learns of it from its
 * probes (9 of them, 75 s apart, after the idle time), or from a reset
 * when the host is back first. */
typedef struct keepalive_body {
    weft_future base;
    weft_duration restart_after; /* 0: never */
    srv_disk d;
    weft_sim_host *h;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_sleep nap;
    weft_instant t0;
    int64_t r, read;
    weft_duration waited;
    char buf[4];
} keepalive_body;

typedef struct restarter {
    weft_future base;
    weft_sim_host *h;
    weft_duration after;
    weft_sleep nap;
} restarter;
static weft_poll restarter_poll(weft_future *f, weft_context *cx, void *out) {
    restarter *self = (restarter *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, self->after), NULL);
    assert_int_equal(weft_sim_host_restart(self->h), 0);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(restarter, restarter_poll, NULL, int64_t);

static weft_poll keepalive_body_poll(weft_future *f, weft_context *cx, void *out) {
    keepalive_body *self = (keepalive_body *)f;
    WEFT_BEGIN(f);
    self->h = make_srv("srv", "10.0.0.1", &self->d);
    self->to = ip("10.0.0.1", SRV_PORT);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    assert_int_equal(weft_stream_set_keepalive(self->s, true, 10), 0);
    assert_int_equal(weft_sim_host_crash(self->h, WEFT_SIM_CRASH_SILENT), 0);
    if (self->restart_after) {
        restarter r = WEFT_NEW(restarter, .h = self->h, .after = self->restart_after);
        assert_int_equal(weft_spawn(&r, NULL), 0);
    }
    self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf),
               &self->read);
    self->waited = (weft_duration)(weft_now() - self->t0);
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void keepalive_body_drop(weft_future *f) {
    keepalive_body *self = (keepalive_body *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(keepalive_body, keepalive_body_poll, keepalive_body_drop, int64_t);

static void keepalive_finds_a_silent_crash(void **state) {
    wt_env *env = WT_ENV(state);
    static keepalive_body b;
    b = WEFT_NEW(keepalive_body);
    assert_int_equal(run(env, 16, &b.base), 0);
    assert_int_equal(b.read, WEFT_ETIMEDOUT);
    assert_int_equal(b.waited, WEFT_SECS(10) + 9 * WEFT_SECS(75)); /* idle, then 9 probes */
    b = WEFT_NEW(keepalive_body, .restart_after = WEFT_SECS(100));
    assert_int_equal(run(env, 16, &b.base), 0);
    assert_int_equal(b.read, WEFT_ECONNRESET); /* the fresh stack answers the probe */
    assert_int_equal(b.waited, WEFT_SECS(10) + 2 * WEFT_SECS(75));
}

/* --------------------------------------------------- ownership, ports */

typedef struct leaf {
    weft_future base;
    srv_disk *d;
    int depth;
} leaf;

static const weft_future_vtable leaf_vtable;

static weft_poll leaf_poll(weft_future *f, weft_context *cx, void *out) {
    leaf *self = (leaf *)f;
    (void)cx;
    if (self->depth > 0) {
        leaf child = WEFT_NEW(leaf, .d = self->d, .depth = self->depth - 1);
        assert_int_equal(weft_spawn(&child, NULL), 0);
    } else {
        self->d->seen = weft_sim_host_current();
    }
    *(int64_t *)out = 0;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(leaf, leaf_poll, NULL, int64_t);

/* Never finishes: only a crash or shutdown ends it. */
typedef struct idle {
    weft_future base;
    srv_disk *d;
} idle;
static weft_poll idle_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    (void)out;
    return WEFT_PENDING;
}
static void idle_drop(weft_future *f) { ((idle *)f)->d->drops++; }
WEFT_FUTURE_DEFINE(idle, idle_poll, idle_drop, int64_t);

static void family_start(weft_sim_host *h, void *disk) {
    srv_disk *d = disk;
    (void)h;
    d->starts++;
    leaf root = WEFT_NEW(leaf, .d = d, .depth = 2); /* a grandchild's grandchild */
    assert_int_equal(weft_spawn(&root, NULL), 0);
    idle forever = WEFT_NEW(idle, .d = d);
    assert_int_equal(weft_spawn(&forever, &d->jh), 0);
    /* Another host's address is not ours to bind. */
    weft_addr theirs = ip("10.0.0.1", 1);
    weft_listener *l = NULL;
    assert_int_equal(weft_listener_bind(&theirs, NULL, &l), WEFT_EADDRNOTAVAIL);
    /* Unix paths are per host: the root holds this one too. */
    weft_addr path;
    assert_int_equal(weft_addr_unix("/sim/shared.sock", &path), 0);
    assert_int_equal(weft_listener_bind(&path, NULL, &l), 0);
    weft_socket_close(l);
}

typedef struct own_body {
    weft_future base;
    srv_disk a, b, root;
    weft_sim_host *ha, *hb;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_sleep nap;
    int64_t r;
    char buf[4];
} own_body;

static weft_poll own_body_poll(weft_future *f, weft_context *cx, void *out) {
    own_body *self = (own_body *)f;
    WEFT_BEGIN(f);
    /* Both hosts listen on 0.0.0.0:7000: each has its own ports. */
    self->ha = make_srv("a", "10.0.0.1", &self->a);
    self->hb = make_srv("b", "10.0.0.2", &self->b);
    {
        weft_addr path;
        weft_listener *mine = NULL;
        assert_int_equal(weft_addr_unix("/sim/shared.sock", &path), 0);
        assert_int_equal(weft_listener_bind(&path, NULL, &mine), 0);
        const char *addrs[] = {"10.0.0.3"};
        weft_sim_host_config c = {.name = "fam", .addrs = addrs, .naddrs = 1,
                                  .start = family_start, .disk = &self->root};
        assert_int_equal(weft_sim_host_create(NULL, &c, NULL), 0);
        weft_socket_close(mine);
        /* the root may not bind a host's address either */
        weft_addr theirs = ip("10.0.0.1", 9);
        weft_listener *l = NULL;
        assert_int_equal(weft_listener_bind(&theirs, NULL, &l), WEFT_EADDRNOTAVAIL);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(10)), NULL);
    assert_non_null(self->root.seen);
    assert_string_equal(weft_sim_host_name(self->root.seen), "fam");
    /* A root task's child belongs to no host. */
    {
        srv_disk *mine = &self->a; /* reuse: only .seen is written */
        mine->seen = self->ha;
        leaf l = WEFT_NEW(leaf, .d = mine, .depth = 1);
        assert_int_equal(weft_spawn(&l, NULL), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(10)), NULL);
    assert_null(self->a.seen);
    /* The JoinHandle held outside the host sees the cancellation. */
    assert_int_equal(weft_sim_host_crash(weft_sim_host_find(NULL, "fam"), WEFT_SIM_CRASH_RESET),
                     0);
    assert_int_equal(self->root.drops, 1);
    WEFT_AWAIT(f, cx, weft_join(&self->root.jh), NULL);
    assert_int_equal(weft_join_status(&self->root.jh), WEFT_ECANCELED);
    /* Each server echoes on its own address. */
    self->to = ip("10.0.0.2", SRV_PORT);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "abcd", 4), &self->r);
    WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->buf, 4), &self->r);
    assert_int_equal(self->r, 4);
    weft_socket_close(self->s);
    self->s = NULL;
    assert_int_equal(self->b.served, 1);
    assert_int_equal(self->a.served, 0);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void own_body_drop(weft_future *f) {
    own_body *self = (own_body *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(own_body, own_body_poll, own_body_drop, int64_t);

static void tasks_and_ports_belong_to_hosts(void **state) {
    wt_env *env = WT_ENV(state);
    static own_body b;
    b = WEFT_NEW(own_body);
    assert_int_equal(run(env, 5, &b.base), 0);
}

/* A client host connects to a server host: the server sees the client's
 * own address as the peer, not the root's loopback. */
typedef struct h_client {
    weft_future base;
    srv_disk *d;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    int64_t r;
    char buf[4];
} h_client;

static weft_poll h_client_poll(weft_future *f, weft_context *cx, void *out) {
    h_client *self = (h_client *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    if (self->r == 0) {
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "hey!", 4), &self->r);
        WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->buf, 4), &self->r);
        if (self->r == 4)
            self->d->served++;
        weft_socket_close(self->s);
        self->s = NULL;
    }
    WEFT_RETURN(f, out, int64_t, self->r);
    WEFT_END(f);
}
static void h_client_drop(weft_future *f) {
    h_client *self = (h_client *)f;
    if (self->s)
        weft_socket_close(self->s);
    if (f->resume != WEFT__DONE)
        self->d->drops++;
}
WEFT_FUTURE_DEFINE(h_client, h_client_poll, h_client_drop, int64_t);

static void client_start(weft_sim_host *h, void *disk) {
    (void)h;
    srv_disk *d = disk;
    d->starts++;
    h_client c = WEFT_NEW(h_client, .d = d, .to = ip("10.0.0.1", SRV_PORT));
    assert_int_equal(weft_spawn(&c, NULL), 0);
}

typedef struct peer_body {
    weft_future base;
    srv_disk srv, cli;
    weft_sleep nap;
} peer_body;

static weft_poll peer_body_poll(weft_future *f, weft_context *cx, void *out) {
    peer_body *self = (peer_body *)f;
    WEFT_BEGIN(f);
    make_srv("srv", "10.0.0.1", &self->srv);
    {
        const char *addrs[] = {"10.0.0.9", "fd00::9"};
        weft_sim_host_config c = {.name = "cli", .addrs = addrs, .naddrs = 2,
                                  .start = client_start, .disk = &self->cli};
        assert_int_equal(weft_sim_host_create(NULL, &c, NULL), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1)), NULL);
    assert_int_equal(self->cli.served, 1);
    {
        weft_addr want = ip("10.0.0.9", self->srv.last_peer.port);
        assert_true(weft_addr_equal(&self->srv.last_peer, &want));
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(peer_body, peer_body_poll, NULL, int64_t);

static void connections_leave_from_the_host_address(void **state) {
    wt_env *env = WT_ENV(state);
    static peer_body b;
    b = WEFT_NEW(peer_body);
    assert_int_equal(run(env, 6, &b.base), 0);
}

/* ------------------------------------------------------- pause, resume */

typedef struct ticker {
    weft_future base;
    srv_disk *d;
    weft_sleep nap;
} ticker;

static weft_poll ticker_poll(weft_future *f, weft_context *cx, void *out) {
    ticker *self = (ticker *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1)), NULL);
        self->d->ticks++;
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void ticker_drop(weft_future *f) {
    ticker *self = (ticker *)f;
    weft_future_drop(&self->nap.base);
    self->d->drops++;
}
WEFT_FUTURE_DEFINE(ticker, ticker_poll, ticker_drop, int64_t);

static void ticker_start(weft_sim_host *h, void *disk) {
    srv_start(h, disk);
    ticker t = WEFT_NEW(ticker, .d = disk);
    assert_int_equal(weft_spawn(&t, NULL), 0);
}

typedef struct pause_body {
    weft_future base;
    srv_disk d;
    weft_sim_host *h;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_timeout tmo;
    weft_sleep nap;
    weft_instant t0;
    int64_t r, held_read;
    int ticks_paused, ticks_after;
    weft_duration echo_after_resume;
    char buf[8];
} pause_body;

static weft_poll pause_body_poll(weft_future *f, weft_context *cx, void *out) {
    pause_body *self = (pause_body *)f;
    WEFT_BEGIN(f);
    {
        const char *addrs[] = {"10.0.0.1"};
        weft_sim_host_config c = {.name = "srv", .addrs = addrs, .naddrs = 1,
                                  .start = ticker_start, .disk = &self->d,
                                  .clock = WEFT_SIM_CLOCK_EXACT};
        assert_int_equal(weft_sim_host_create(NULL, &c, &self->h), 0);
    }
    self->to = ip("10.0.0.1", SRV_PORT);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    WEFT_AWAIT(f, cx, weft_sleep_until(&self->nap, WEFT_MS(5500)), NULL);
    assert_int_equal(self->d.ticks, 5);
    assert_int_equal(weft_sim_host_pause(self->h), 0);
    assert_int_equal(weft_sim_host_state(self->h), WEFT_SIM_HOST_PAUSED);
    WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "abc", 3), &self->r);
    assert_int_equal(self->r, 3);
    /* Nothing answers while paused: the bytes wait, the echo task waits. */
    weft_timeout(&self->tmo, WEFT_SECS(10),
                 weft_stream_read_exact(&self->op, self->s, self->buf, 3));
    self->held_read = 1;
    WEFT_AWAIT(f, cx, &self->tmo.base, &self->held_read);
    if (weft_timeout_status(&self->tmo) == WEFT_ETIMEDOUT)
        self->held_read = WEFT_ETIMEDOUT;
    self->ticks_paused = self->d.ticks;
    assert_int_equal(weft_sim_host_resume(self->h), 0);
    self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_stream_read_exact(&self->op, self->s, self->buf, 3), &self->r);
    assert_int_equal(self->r, 3);
    assert_memory_equal(self->buf, "abc", 3);
    self->echo_after_resume = (weft_duration)(weft_now() - self->t0);
    self->ticks_after = self->d.ticks;
    weft_socket_close(self->s);
    self->s = NULL;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void pause_body_drop(weft_future *f) {
    pause_body *self = (pause_body *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(pause_body, pause_body_poll, pause_body_drop, int64_t);

static void pause_holds_tasks_and_deliveries(void **state) {
    wt_env *env = WT_ENV(state);
    static pause_body b;
    b = WEFT_NEW(pause_body);
    assert_int_equal(run(env, 7, &b.base), 0);
    assert_int_equal(b.held_read, WEFT_ETIMEDOUT);
    assert_int_equal(b.ticks_paused, 5);     /* its timer came due, its task waited */
    assert_int_equal(b.ticks_after, 6);      /* ... and ran at resume */
    assert_true(b.echo_after_resume < WEFT_MS(10));
    assert_int_equal(b.d.drops, 3); /* acceptor, echo, ticker: only at the runtime's end */
}

/* --------------------------------------------------------------- clocks */

typedef struct clock_task {
    weft_future base;
    weft_instant *t0, *t1, *t2;
    int *late_ticks;       /* interval ticks seen before their instant, or off schedule */
    weft_sleep nap;
    weft_timeout tmo;
    weft_interval iv;
    weft_sleep far;
    weft_instant tick, first;
    int i;
    idle never;
    srv_disk *d;
} clock_task;

static weft_poll clock_task_poll(weft_future *f, weft_context *cx, void *out) {
    clock_task *self = (clock_task *)f;
    WEFT_BEGIN(f);
    *self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(100)), NULL);
    *self->t1 = weft_now();
    self->never = WEFT_NEW(idle, .d = self->d);
    weft_timeout(&self->tmo, WEFT_SECS(10), &self->never.base);
    WEFT_AWAIT(f, cx, &self->tmo.base, NULL);
    *self->t2 = weft_now();
    /* An interval on the host ticks on the host's clock: each tick at its
     * instant (never before it), one period apart. */
    assert_int_equal(weft_interval_init(&self->iv, WEFT_SECS(1)), 0);
    for (self->i = 0; self->i < 4; self->i++) {
        WEFT_AWAIT(f, cx, weft_interval_tick(&self->iv), &self->tick);
        if (self->i == 0)
            self->first = self->tick;
        if (weft_now() < self->tick || weft_now() > self->tick + WEFT_MS(2) ||
            self->tick != self->first + (weft_instant)self->i * WEFT_SECS(1))
            (*self->late_ticks)++;
    }
    weft_interval_drop(&self->iv);
    /* A sleep to the end of time arms (at the clock's last instant) and is
     * cut by its timeout, on any drift. */
    weft_timeout(&self->tmo, WEFT_SECS(1), weft_sleep_until(&self->far, UINT64_MAX));
    WEFT_AWAIT(f, cx, &self->tmo.base, NULL);
    if (weft_timeout_status(&self->tmo) != WEFT_ETIMEDOUT)
        (*self->late_ticks)++;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(clock_task, clock_task_poll, NULL, int64_t);

typedef struct clock_disk {
    srv_disk d;
    weft_instant t0, t1, t2;
    int late_ticks;
} clock_disk;

static void clock_start(weft_sim_host *h, void *disk) {
    (void)h;
    clock_disk *c = disk;
    clock_task t = WEFT_NEW(clock_task, .t0 = &c->t0, .t1 = &c->t1, .t2 = &c->t2,
                            .late_ticks = &c->late_ticks, .d = &c->d);
    assert_int_equal(weft_spawn(&t, NULL), 0);
}

typedef struct clock_body {
    weft_future base;
    int32_t drift;
    clock_disk c;
    weft_sim_host *h;
    weft_sleep nap;
} clock_body;

static weft_poll clock_body_poll(weft_future *f, weft_context *cx, void *out) {
    clock_body *self = (clock_body *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(2)), NULL);
    {
        weft_sim_host_config c = {.name = "skewed", .start = clock_start, .disk = &self->c,
                                  .clock = WEFT_SIM_CLOCK_EXACT,
                                  .clock_offset_ns = WEFT_SECS(5),
                                  .clock_drift_ppm = self->drift};
        assert_int_equal(weft_sim_host_create(NULL, &c, &self->h), 0);
    }
    assert_int_equal(weft_now(), WEFT_SECS(2)); /* the root reads true time */
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(200)), NULL);
    /* The host's task ran at true time 2 s: it read 5 s + 2 s * (1 + drift). */
    assert_int_equal(self->c.t0, WEFT_SECS(7) + WEFT_SECS(2) / 1000000 * self->drift);
    {
        weft_instant true_now = weft_now();
        weft_instant host_now = weft_sim_host_now(self->h);
        int64_t expect = (int64_t)WEFT_SECS(5) + (int64_t)true_now +
                         (int64_t)true_now / 1000000 * self->drift;
        assert_int_equal((int64_t)host_now, expect);
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(clock_body, clock_body_poll, NULL, int64_t);

static void host_clocks_offset_and_drift(void **state) {
    wt_env *env = WT_ENV(state);
    static const int32_t drifts[] = {1000, -1000, 0, 250000, -250000};
    for (size_t i = 0; i < sizeof drifts / sizeof drifts[0]; i++) {
        static clock_body b;
        b = WEFT_NEW(clock_body, .drift = drifts[i]);
        assert_int_equal(run(env, 8, &b.base), 0);
        /* The sleep of 100 s by the host's clock never ends early by it,
         * and ends within the wheel's 1 ms tick (seen through the drift). */
        weft_duration slept = (weft_duration)(b.c.t1 - b.c.t0);
        if (slept < WEFT_SECS(100) || slept > WEFT_SECS(100) + WEFT_MS(2))
            fail_msg("drift %d ppm: slept %lld ns by the host's clock", drifts[i],
                     (long long)slept);
        weft_duration timed = (weft_duration)(b.c.t2 - b.c.t1);
        if (timed < WEFT_SECS(10) || timed > WEFT_SECS(10) + WEFT_MS(2))
            fail_msg("drift %d ppm: a 10 s timeout took %lld ns by the host's clock", drifts[i],
                     (long long)timed);
        assert_int_equal(b.c.late_ticks, 0);
    }
}

typedef struct seeded_body {
    weft_future base;
    int64_t offsets[3];
    weft_sleep nap;
} seeded_body;

static weft_poll seeded_body_poll(weft_future *f, weft_context *cx, void *out) {
    seeded_body *self = (seeded_body *)f;
    WEFT_BEGIN(f);
    {
        weft_sim_host_config bad = {.name = "x", .clock_offset_ns = 1}; /* SEEDED + offset */
        assert_int_equal(weft_sim_host_create(NULL, &bad, NULL), WEFT_EINVAL);
        bad = (weft_sim_host_config){.name = "x", .clock = WEFT_SIM_CLOCK_EXACT,
                                     .clock_drift_ppm = 600000};
        assert_int_equal(weft_sim_host_create(NULL, &bad, NULL), WEFT_EINVAL);
        bad = (weft_sim_host_config){.name = "x", .clock = 9};
        assert_int_equal(weft_sim_host_create(NULL, &bad, NULL), WEFT_EINVAL);
        static const char *const names[] = {"h0", "h1", "h2"};
        for (int i = 0; i < 3; i++) {
            weft_sim_host_config c = {.name = names[i]};
            assert_int_equal(weft_sim_host_create(NULL, &c, NULL), 0);
        }
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1000)), NULL);
    for (int i = 0; i < 3; i++) {
        static const char *const names[] = {"h0", "h1", "h2"};
        weft_sim_host *h = weft_sim_host_find(NULL, names[i]);
        self->offsets[i] = (int64_t)weft_sim_host_now(h) - (int64_t)weft_now();
        /* offset in [0, 10 s), drift within 100 ppm: 0.1 s over 1000 s */
        assert_true(self->offsets[i] >= -WEFT_MS(100));
        assert_true(self->offsets[i] < WEFT_SECS(10) + WEFT_MS(100));
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(seeded_body, seeded_body_poll, NULL, int64_t);

static void seeded_clocks_come_from_the_seed(void **state) {
    wt_env *env = WT_ENV(state);
    static seeded_body a, b, c;
    a = WEFT_NEW(seeded_body);
    b = WEFT_NEW(seeded_body);
    c = WEFT_NEW(seeded_body);
    assert_int_equal(run(env, 9, &a.base), 0);
    assert_int_equal(run(env, 9, &b.base), 0);
    assert_int_equal(run(env, 10, &c.base), 0);
    assert_memory_equal(a.offsets, b.offsets, sizeof a.offsets); /* same seed, same clocks */
    assert_true(a.offsets[0] != a.offsets[1] && a.offsets[1] != a.offsets[2]);
    assert_true(memcmp(a.offsets, c.offsets, sizeof a.offsets) != 0);
}

/* -------------------------------------------------------------- lookups */

typedef struct lookup_body {
    weft_future base;
    weft_lookup lk;
    weft_addr got[8];
    int64_t r;
    int i, failed;
} lookup_body;

static weft_poll lookup_body_poll(weft_future *f, weft_context *cx, void *out) {
    lookup_body *self = (lookup_body *)f;
    WEFT_BEGIN(f);
    {
        const char *addrs[] = {"10.0.0.1", "fd00::1"};
        weft_sim_host_config c = {.name = "srv", .addrs = addrs, .naddrs = 2};
        assert_int_equal(weft_sim_host_create(NULL, &c, NULL), 0);
        weft_sim_host_config d = {.name = "drawn"}; /* an address drawn for it */
        assert_int_equal(weft_sim_host_create(NULL, &d, NULL), 0);
    }
    WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "srv", 80, self->got, 8), &self->r);
    assert_int_equal(self->r, 2);
    {
        weft_addr a = ip("10.0.0.1", 80), b = ip("fd00::1", 80);
        assert_true(weft_addr_equal(&self->got[0], &a));
        assert_true(weft_addr_equal(&self->got[1], &b));
    }
    WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "drawn", 1, self->got, 8), &self->r);
    assert_int_equal(self->r, 1);
    assert_int_equal(self->got[0].family, WEFT_AF_INET);
    assert_int_equal(self->got[0].u.v4[0], 10);
    {
        weft_addr a;
        weft_sim_host *drawn = weft_sim_host_find(NULL, "drawn");
        assert_int_equal(weft_sim_host_addr(drawn, 0, &a), 0);
        a.port = 1;
        assert_true(weft_addr_equal(&a, &self->got[0]));
        assert_int_equal(weft_sim_host_addr(drawn, 1, &a), WEFT_ERANGE);
        assert_int_equal(weft_sim_host_addr(drawn, -1, &a), WEFT_ERANGE);
        assert_int_equal(weft_sim_host_addr(NULL, 0, &a), WEFT_EINVAL);
        assert_int_equal(weft_sim_host_addr(drawn, 0, NULL), WEFT_EINVAL);
    }
    /* misuse */
    assert_int_equal(weft_sim_lookup_fail(NULL, NULL, WEFT_ETRYAGAIN, 1), WEFT_EINVAL);
    assert_int_equal(weft_sim_lookup_fail(NULL, "srv", 0, 1), WEFT_EINVAL);
    assert_int_equal(weft_sim_lookup_fail(NULL, "srv", WEFT_ETRYAGAIN, 1000001), WEFT_EINVAL);
    /* always */
    assert_int_equal(weft_sim_lookup_fail(NULL, "srv", WEFT_ETRYAGAIN, 1000000), 0);
    WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "srv", 80, self->got, 8), &self->r);
    assert_int_equal(self->r, WEFT_ETRYAGAIN);
    WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "localhost", 80, self->got, 8), &self->r);
    assert_int_equal(self->r, 2); /* only that name */
    /* cleared */
    assert_int_equal(weft_sim_lookup_fail(NULL, "srv", WEFT_ETRYAGAIN, 0), 0);
    WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "srv", 80, self->got, 8), &self->r);
    assert_int_equal(self->r, 2);
    /* every name */
    assert_int_equal(weft_sim_lookup_fail(NULL, "*", WEFT_ENOTFOUND, 1000000), 0);
    WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "localhost", 80, self->got, 8), &self->r);
    assert_int_equal(self->r, WEFT_ENOTFOUND);
    /* half the time, seeded */
    assert_int_equal(weft_sim_lookup_fail(NULL, "*", WEFT_ENOTFOUND, 0), 0);
    assert_int_equal(weft_sim_lookup_fail(NULL, "srv", WEFT_ETRYAGAIN, 500000), 0);
    for (self->i = 0; self->i < 64; self->i++) {
        WEFT_AWAIT(f, cx, weft_lookup(&self->lk, "srv", 80, self->got, 8), &self->r);
        if (self->r == WEFT_ETRYAGAIN)
            self->failed++;
        else
            assert_int_equal(self->r, 2);
    }
    WEFT_RETURN(f, out, int64_t, self->failed);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(lookup_body, lookup_body_poll, NULL, int64_t);

static void lookup_resolves_hosts_and_fails_on_demand(void **state) {
    wt_env *env = WT_ENV(state);
    static lookup_body b;
    b = WEFT_NEW(lookup_body);
    int64_t failed = run(env, 11, &b.base);
    assert_true(failed > 10 && failed < 54);
}

/* Hundreds of hosts: addresses drawn for each (10.0.0.1, ...), one port
 * space each, every name resolved. */
typedef struct many_body {
    weft_future base;
    weft_lookup lk;
    weft_addr got[4];
    int64_t r;
    int i;
    char name[16];
    srv_disk d[300];
} many_body;

static weft_poll many_body_poll(weft_future *f, weft_context *cx, void *out) {
    many_body *self = (many_body *)f;
    WEFT_BEGIN(f);
    for (int i = 0; i < 300; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        weft_sim_host_config c = {.name = name, .start = srv_start, .disk = &self->d[i]};
        assert_int_equal(weft_sim_host_create(NULL, &c, NULL), 0); /* each binds 0.0.0.0:7000 */
    }
    for (self->i = 0; self->i < 300; self->i += 37) {
        snprintf(self->name, sizeof self->name, "n%d", self->i); /* read at the first poll */
        WEFT_AWAIT(f, cx, weft_lookup(&self->lk, self->name, 80, self->got, 4), &self->r);
        assert_int_equal(self->r, 1);
        {
            int k = 0; /* the (i+1)-th address of 10.0.0.1, 10.0.0.2, ... without .0 and .255 */
            for (int left = self->i + 1; left; left -= (uint8_t)k != 0 && (uint8_t)k != 255)
                k++;
            weft_addr want = {.family = WEFT_AF_INET, .port = 80,
                              .u.v4 = {10, 0, (uint8_t)(k >> 8), (uint8_t)k}};
            assert_true(weft_addr_equal(&self->got[0], &want));
        }
    }
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(many_body, many_body_poll, NULL, int64_t);

static void hundreds_of_hosts(void **state) {
    wt_env *env = WT_ENV(state);
    static many_body b;
    b = WEFT_NEW(many_body);
    assert_int_equal(run(env, 14, &b.base), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(b.d[i].starts, 1);
}

/* A task that crashes its own host runs on to the end of that poll, and
 * is dropped as it returns. */
typedef struct suicide {
    weft_future base;
    srv_disk *d;
} suicide;
static weft_poll suicide_poll(weft_future *f, weft_context *cx, void *out) {
    suicide *self = (suicide *)f;
    (void)cx;
    (void)out;
    assert_int_equal(weft_sim_host_crash(weft_sim_host_current(), WEFT_SIM_CRASH_SILENT), 0);
    self->d->served++; /* still running */
    return WEFT_PENDING;
}
static void suicide_drop(weft_future *f) { ((suicide *)f)->d->drops++; }
WEFT_FUTURE_DEFINE(suicide, suicide_poll, suicide_drop, int64_t);

static void suicide_start(weft_sim_host *h, void *disk) {
    (void)h;
    suicide t = WEFT_NEW(suicide, .d = disk);
    assert_int_equal(weft_spawn(&t, NULL), 0);
    idle other = WEFT_NEW(idle, .d = disk);
    assert_int_equal(weft_spawn(&other, NULL), 0);
}

typedef struct self_body {
    weft_future base;
    srv_disk d;
    weft_sim_host *h;
    weft_sleep nap;
} self_body;
static weft_poll self_body_poll(weft_future *f, weft_context *cx, void *out) {
    self_body *self = (self_body *)f;
    WEFT_BEGIN(f);
    {
        weft_sim_host_config c = {.name = "x", .start = suicide_start, .disk = &self->d};
        assert_int_equal(weft_sim_host_create(NULL, &c, &self->h), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(1)), NULL);
    assert_int_equal(weft_sim_host_state(self->h), WEFT_SIM_HOST_CRASHED);
    assert_int_equal(self->d.served, 1);
    assert_int_equal(self->d.drops, 2); /* the other at the crash, itself after its poll */
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(self_body, self_body_poll, NULL, int64_t);

static void a_host_may_crash_itself(void **state) {
    wt_env *env = WT_ENV(state);
    static self_body b;
    b = WEFT_NEW(self_body);
    assert_int_equal(run(env, 15, &b.base), 0);
}

/* The host calls also work from the test's thread between two block_ons. */
typedef struct echo_once {
    weft_future base;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    int64_t r;
    char buf[4];
} echo_once;
static weft_poll echo_once_poll(weft_future *f, weft_context *cx, void *out) {
    echo_once *self = (echo_once *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    if (self->r == 0) {
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "echo", 4), &self->r);
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, 4), &self->r);
        weft_socket_close(self->s);
        self->s = NULL;
    }
    WEFT_RETURN(f, out, int64_t, self->r);
    WEFT_END(f);
}
static void echo_once_drop(weft_future *f) {
    echo_once *self = (echo_once *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(echo_once, echo_once_poll, echo_once_drop, int64_t);

static void host_calls_between_block_ons(void **state) {
    wt_env *env = WT_ENV(state);
    static srv_disk d;
    d = (srv_disk){0};
    weft_handle *h = weft_runtime_handle(wt_rt(env));
    const char *addrs[] = {"10.0.0.1"};
    weft_sim_host_config c = {.name = "srv", .addrs = addrs, .naddrs = 1, .start = srv_start,
                              .disk = &d};
    weft_sim_host *host;
    assert_int_equal(weft_sim_host_create(h, &c, &host), 0); /* start runs here */
    echo_once e = WEFT_NEW(echo_once, .to = ip("10.0.0.1", SRV_PORT));
    int64_t r = 0;
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &e.base, &r), 0);
    assert_true(r > 0);
    assert_int_equal(weft_sim_host_crash(host, WEFT_SIM_CRASH_RESET), 0);
    assert_int_equal(d.drops, 2);
    echo_once again = WEFT_NEW(echo_once, .to = ip("10.0.0.1", SRV_PORT));
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &again.base, &r), 0);
    assert_int_equal(r, WEFT_ECONNREFUSED);
    assert_int_equal(weft_sim_host_restart(host), 0);
    assert_int_equal(weft_sim_host_pause(host), 0);
    assert_int_equal(weft_sim_host_resume(host), 0);
    echo_once third = WEFT_NEW(echo_once, .to = ip("10.0.0.1", SRV_PORT));
    assert_int_equal(weft_runtime_block_on(wt_rt(env), &third.base, &r), 0);
    assert_true(r > 0);
    assert_null(weft_sim_host_current());
    wt_free_rt(env);
    assert_int_equal(d.starts, 2);
}

/* A host paused and never resumed: the run deadlocks, and says why. */
typedef struct forgot_body {
    weft_future base;
    srv_disk d;
    weft_sim_host *h;
    weft_join_handle jh;
} forgot_body;
static void forgot_start(weft_sim_host *h, void *disk) {
    (void)h;
    srv_disk *d = disk;
    ticker t = WEFT_NEW(ticker, .d = d);
    assert_int_equal(weft_spawn(&t, &d->jh), 0);
}
static weft_poll forgot_body_poll(weft_future *f, weft_context *cx, void *out) {
    forgot_body *self = (forgot_body *)f;
    WEFT_BEGIN(f);
    {
        weft_sim_host_config c = {.name = "sleepy", .start = forgot_start, .disk = &self->d};
        assert_int_equal(weft_sim_host_create(NULL, &c, &self->h), 0);
        assert_int_equal(weft_sim_host_pause(self->h), 0);
    }
    WEFT_AWAIT(f, cx, weft_join(&self->d.jh), NULL); /* never: the ticker is held */
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(forgot_body, forgot_body_poll, NULL, int64_t);

static void a_forgotten_pause_is_named_in_the_deadlock(void **state) {
    wt_env *env = WT_ENV(state);
    static forgot_body b;
    b = WEFT_NEW(forgot_body);
    weft_runtime *rt = wt_rt(env);
    int64_t out = 0;
    assert_int_equal(weft_runtime_block_on(rt, &b.base, &out), WEFT_EDEADLOCK);
    const char *why = weft_sim_failure(weft_runtime_handle(rt));
    assert_non_null(why);
    if (getenv("WEFT_TRACE"))
        fprintf(stderr, "%s\n", why);
    if (!strstr(why, "hosts paused: sleepy (1 task(s) held)"))
        fail_msg("the deadlock does not name the paused host: %s", why);
    wt_free_rt(env);
}

/* ---------------------------------------------------------- determinism */

/* A client host pings a server host every 100 ms (by its own clock),
 * reconnecting after errors; the root crashes, restarts and pauses them. */
typedef struct pinger {
    weft_future base;
    srv_disk *d;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_sleep nap;
    weft_timeout tmo;
    int64_t r;
    char buf[4];
} pinger;

static weft_poll pinger_poll(weft_future *f, weft_context *cx, void *out) {
    pinger *self = (pinger *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
        while (self->r == 0) {
            WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, "ping", 4), &self->r);
            if (self->r < 0)
                break;
            weft_timeout(&self->tmo, WEFT_SECS(1),
                         weft_stream_read_exact(&self->op, self->s, self->buf, 4));
            self->r = WEFT_ETIMEDOUT;
            WEFT_AWAIT(f, cx, &self->tmo.base, &self->r);
            if (weft_timeout_status(&self->tmo) || self->r < 0)
                break;
            self->d->served++;
            WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(100)), NULL);
            self->r = 0;
        }
        if (self->s) {
            weft_socket_close(self->s);
            self->s = NULL;
        }
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(50)), NULL);
    }
    WEFT_END(f);
}
static void pinger_drop(weft_future *f) {
    pinger *self = (pinger *)f;
    if (self->s)
        weft_socket_close(self->s);
    self->d->drops++;
}
WEFT_FUTURE_DEFINE(pinger, pinger_poll, pinger_drop, int64_t);

static void pinger_start(weft_sim_host *h, void *disk) {
    (void)h;
    srv_disk *d = disk;
    d->starts++;
    pinger p = WEFT_NEW(pinger, .d = d, .to = ip("10.0.0.1", SRV_PORT));
    assert_int_equal(weft_spawn(&p, NULL), 0);
}

typedef struct chaos_body {
    weft_future base;
    srv_disk srv, cli;
    weft_sim_host *hs, *hc;
    weft_sleep nap;
} chaos_body;

static weft_poll chaos_body_poll(weft_future *f, weft_context *cx, void *out) {
    chaos_body *self = (chaos_body *)f;
    WEFT_BEGIN(f);
    {
        const char *addrs[] = {"10.0.0.1"};
        weft_sim_host_config s = {.name = "srv", .addrs = addrs, .naddrs = 1,
                                  .start = srv_start, .disk = &self->srv};
        assert_int_equal(weft_sim_host_create(NULL, &s, &self->hs), 0);
        weft_sim_host_config c = {.name = "cli", .start = pinger_start, .disk = &self->cli};
        assert_int_equal(weft_sim_host_create(NULL, &c, &self->hc), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1)), NULL);
    assert_int_equal(weft_sim_host_crash(self->hs, WEFT_SIM_CRASH_RESET), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(700)), NULL);
    assert_int_equal(weft_sim_host_restart(self->hs), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1)), NULL);
    assert_int_equal(weft_sim_host_pause(self->hc), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(500)), NULL);
    assert_int_equal(weft_sim_host_resume(self->hc), 0);
    assert_int_equal(weft_sim_host_crash(self->hs, WEFT_SIM_CRASH_SILENT), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(3)), NULL);
    assert_int_equal(weft_sim_host_restart(self->hs), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1)), NULL);
    assert_int_equal(weft_sim_host_crash(self->hc, WEFT_SIM_CRASH_RESET), 0);
    assert_int_equal(weft_sim_host_restart(self->hc), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(1)), NULL);
    WEFT_RETURN(f, out, int64_t, self->cli.served);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(chaos_body, chaos_body_poll, NULL, int64_t);

typedef struct chaos_run {
    uint64_t fp, events;
    int64_t pongs;
    int drops, starts;
} chaos_run;

static chaos_run chaos(wt_env *env, uint64_t seed) {
    static chaos_body b;
    b = WEFT_NEW(chaos_body);
    chaos_run r = {0};
    r.pongs = run(env, seed, &b.base);
    r.fp = last_fp;
    r.events = last_events;
    r.drops = b.cli.drops + b.srv.drops;
    r.starts = b.cli.starts + b.srv.starts;
    return r;
}

static void same_seed_same_fingerprint(void **state) {
    wt_env *env = WT_ENV(state);
    chaos_run a = chaos(env, 12), b = chaos(env, 12), c = chaos(env, 13);
    assert_int_equal(a.fp, b.fp);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.pongs, b.pongs);
    assert_int_equal(a.drops, b.drops);
    assert_true(a.pongs > 20); /* it did talk, across the crashes */
    assert_int_equal(a.starts, 5);
    assert_true(a.fp != c.fp);
}

/* A sweep: over many seeds (both strategies), the root crashes (either
 * way), restarts, pauses and resumes a server host and a client host at
 * random, then ends the chaos; the client checks every echo, and must make
 * progress again within a bound of virtual time once the chaos is over. */
typedef struct checker {
    weft_future base;
    uint64_t *pongs;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_sleep nap;
    weft_timeout tmo;
    int64_t r;
    uint32_t seq, back;
} checker;

static weft_poll checker_poll(weft_future *f, weft_context *cx, void *out) {
    checker *self = (checker *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        weft_timeout(&self->tmo, WEFT_SECS(1),
                     weft_stream_connect(&self->op, &self->to, NULL, &self->s));
        self->r = WEFT_ETIMEDOUT;
        WEFT_AWAIT(f, cx, &self->tmo.base, &self->r);
        if (weft_timeout_status(&self->tmo))
            self->r = WEFT_ETIMEDOUT;
        while (self->r == 0) {
            self->seq++;
            WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, &self->seq, 4), &self->r);
            if (self->r < 0)
                break;
            weft_timeout(&self->tmo, WEFT_SECS(1),
                         weft_stream_read_exact(&self->op, self->s, &self->back, 4));
            self->r = WEFT_ETIMEDOUT;
            WEFT_AWAIT(f, cx, &self->tmo.base, &self->r);
            if (weft_timeout_status(&self->tmo) || self->r < 0)
                break;
            if (self->back != self->seq) {
                weft_sim_fail_at(WEFT__SITE, "an echo came back out of order");
                break;
            }
            (*self->pongs)++;
            WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(10 + weft_random_below(90))), NULL);
            self->r = 0;
        }
        if (self->s) {
            weft_socket_close(self->s);
            self->s = NULL;
        }
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(50)), NULL);
    }
    WEFT_END(f);
}
static void checker_drop(weft_future *f) {
    checker *self = (checker *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(checker, checker_poll, checker_drop, int64_t);

static void checker_start(weft_sim_host *h, void *disk) {
    (void)h;
    checker c = WEFT_NEW(checker, .pongs = disk, .to = ip("10.0.0.1", SRV_PORT));
    if (weft_spawn(&c, NULL))
        weft_sim_fail_at(WEFT__SITE, "spawn failed");
}

typedef struct sweep_body {
    weft_future base;
    srv_disk srv;
    uint64_t pongs, before;
    weft_sim_host *h[2];
    int i;
    weft_sleep nap;
} sweep_body;

static uint64_t sweep_pongs, sweep_runs; /* over the whole sweep: it did work */

static weft_poll sweep_body_poll(weft_future *f, weft_context *cx, void *out) {
    sweep_body *self = (sweep_body *)f;
    WEFT_BEGIN(f);
    {
        const char *addrs[] = {"10.0.0.1"};
        weft_sim_host_config s = {.name = "srv", .addrs = addrs, .naddrs = 1,
                                  .start = srv_start, .disk = &self->srv};
        weft_sim_host_config c = {.name = "cli", .start = checker_start, .disk = &self->pongs};
        if (weft_sim_host_create(NULL, &s, &self->h[0]) ||
            weft_sim_host_create(NULL, &c, &self->h[1]))
            WEFT_FAIL(f, cx, WEFT_EFAILED);
    }
    for (self->i = 0; self->i < 12; self->i++) {
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(weft_random_below(800))), NULL);
        {
            weft_sim_host *h = self->h[weft_random_below(2)];
            switch (weft_random_below(3)) {
            case 0:
                if (weft_sim_host_crash(h, (int)weft_random_below(2)))
                    WEFT_SIM_ASSERT(f, cx, weft_sim_host_restart(h) == 0);
                break;
            case 1:
                if (weft_sim_host_pause(h))
                    weft_sim_host_resume(h); /* crashed or paused: either */
                break;
            default:
                if (weft_sim_host_resume(h))
                    weft_sim_host_restart(h);
            }
        }
    }
    /* The chaos ends: everything up again, the network healed (the swarm's
     * losses, partitions and clogs end; its latency stays), and the client
     * must get echoes within 5 s of virtual time. */
    WEFT_SIM_ASSERT(f, cx, weft_sim_heal_all(NULL) == 0);
    for (int k = 0; k < 2; k++) {
        weft_sim_host_resume(self->h[k]);
        weft_sim_host_restart(self->h[k]);
        WEFT_SIM_ASSERT(f, cx, weft_sim_host_state(self->h[k]) == WEFT_SIM_HOST_RUNNING);
    }
    self->before = self->pongs;
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_SECS(5)), NULL);
    WEFT_SIM_ASSERT(f, cx, self->pongs > self->before);
    for (int k = 0; k < 2; k++) /* their tasks end here, not as leftovers at shutdown */
        WEFT_SIM_ASSERT(f, cx, weft_sim_host_crash(self->h[k], WEFT_SIM_CRASH_RESET) == 0);
    sweep_pongs += self->pongs;
    sweep_runs++;
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(sweep_body, sweep_body_poll, NULL, int64_t);
static void make_sweep(weft_future *slot) { *(sweep_body *)slot = WEFT_NEW(sweep_body); }

static void chaos_over_many_seeds(void **state) {
    (void)state;
    static const weft_sim_test t = {"hosts_chaos", make_sweep, sizeof(sweep_body), NULL, NULL,
                                    false};
    for (int strategy = WEFT_SIM_RANDOM; strategy <= WEFT_SIM_PCT; strategy++)
        for (uint64_t seed = 0; seed < 100; seed++) {
            weft_builder b;
            weft_builder_init(&b, WEFT_SIM);
            b.sim_seed = seed;
            b.sim_strategy = strategy;
            b.sim_max_time = WEFT_SECS(600);
            weft_sim_result r;
            int err = weft_sim_run(&t, &b, &r);
            if (err)
                fail_msg("%s seed %llu: %s", strategy ? "pct" : "random",
                         (unsigned long long)seed, r.failure);
        }
    assert_int_equal(sweep_runs, 200);
    assert_true(sweep_pongs > 200 * 20);
}

/* --------------------------------------------------------------- disk */

static void disk_keeps_what_was_synced(void **state) {
    (void)state;
    weft_sim_disk d;
    weft_sim_disk_init(&d);
    assert_int_equal(weft_sim_disk_write(&d, "abc", 3), 0);
    assert_int_equal(weft_sim_disk_sync(&d), 0);
    assert_int_equal(weft_sim_disk_write(&d, "def", 3), 0);
    assert_int_equal(d.len, 6);
    assert_int_equal(weft_sim_disk_recover(&d), 0); /* the crash */
    assert_int_equal(d.len, 3);
    assert_memory_equal(d.data, "abc", 3);
    assert_int_equal(weft_sim_disk_write(NULL, "x", 1), WEFT_EINVAL);
    assert_int_equal(weft_sim_disk_write(&d, NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_sim_disk_sync(NULL), WEFT_EINVAL);
    assert_int_equal(weft_sim_disk_recover(NULL), WEFT_EINVAL);
    weft_sim_disk_free(&d);
    assert_null(d.data);
    weft_sim_disk_free(NULL);
}

/* Off the simulator: a clear code, nothing made. */
static void hosts_need_the_simulator(void **state) {
    wt_env *env = WT_ENV(state);
    weft_sim_host_config c = {.name = "x"};
    weft_sim_host *h = (weft_sim_host *)1;
    assert_int_equal(weft_sim_host_create(weft_runtime_handle(wt_rt(env)), &c, &h),
                     WEFT_ENOTSUP);
    assert_null(h);
    assert_int_equal(weft_sim_host_create(NULL, &c, NULL), WEFT_ENORUNTIME);
    assert_int_equal(weft_sim_lookup_fail(weft_runtime_handle(wt_rt(env)), "x", WEFT_ENOTFOUND, 1),
                     WEFT_ENOTSUP);
    assert_null(weft_sim_host_find(weft_runtime_handle(wt_rt(env)), "x"));
    assert_null(weft_sim_host_current());
    assert_string_equal(weft_sim_host_name(NULL), "");
}

/* ------------------------------------------- hosts in the faults network */

/* A UDP peer on a host: bound to the wildcard, it sends to `to` every
 * 100 ms and counts what it receives. */
typedef struct udp_disk {
    uint16_t port;
    weft_addr to;
    int got;
} udp_disk;

typedef struct udp_peer {
    weft_future base;
    udp_disk *d;
    weft_datagram *u;
    weft_net_op op;
    weft_sleep nap;
    int64_t r;
    char buf[16];
} udp_peer;

static weft_poll udp_peer_poll(weft_future *f, weft_context *cx, void *out) {
    udp_peer *self = (udp_peer *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_datagram_send_to(&self->op, self->u, "x", 1, &self->d->to),
                   &self->r);
        while (weft_datagram_try_recv_from(self->u, self->buf, sizeof self->buf, NULL) > 0)
            self->d->got++;
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(100)), NULL);
    }
    WEFT_END(f);
}
static void udp_peer_drop(weft_future *f) { weft_socket_close(((udp_peer *)f)->u); }
WEFT_FUTURE_DEFINE_VOID(udp_peer, udp_peer_poll, udp_peer_drop);

static void udp_start(weft_sim_host *h, void *disk) {
    (void)h;
    udp_disk *d = disk;
    weft_addr any = ip("0.0.0.0", d->port);
    weft_datagram *u;
    assert_int_equal(weft_datagram_bind(&any, NULL, &u), 0);
    assert_int_equal(weft_spawn(&WEFT_NEW(udp_peer, .d = d, .u = u), NULL), 0);
}

typedef struct named_body {
    weft_future base;
    udp_disk a, b;
    weft_sim_host *ha, *hb;
    int a_cut, b_cut, b_healed;
    weft_sleep nap;
} named_body;

static weft_poll named_body_poll(weft_future *f, weft_context *cx, void *out) {
    named_body *self = (named_body *)f;
    WEFT_BEGIN(f);
    {
        const char *aa[] = {"10.0.0.1"}, *ba[] = {"10.0.0.2"};
        self->a = (udp_disk){.port = 5353, .to = ip("10.0.0.2", 53)};
        self->b = (udp_disk){.port = 53, .to = ip("10.0.0.1", 5353)};
        weft_sim_host_config ca = {.name = "a", .addrs = aa, .naddrs = 1, .start = udp_start,
                                   .disk = &self->a, .clock = WEFT_SIM_CLOCK_EXACT};
        weft_sim_host_config cb = {.name = "b", .addrs = ba, .naddrs = 1, .start = udp_start,
                                   .disk = &self->b, .clock = WEFT_SIM_CLOCK_EXACT};
        assert_int_equal(weft_sim_partition(NULL, "a", "b", WEFT_SIM_ONE_WAY), WEFT_ENOTFOUND);
        assert_int_equal(weft_sim_host_create(NULL, &ca, &self->ha), 0);
        assert_int_equal(weft_sim_host_create(NULL, &cb, &self->hb), 0);
        assert_int_equal(weft_sim_partition(NULL, "a", "b", WEFT_SIM_ONE_WAY), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(1050)), NULL);
    self->a_cut = self->a.got;
    self->b_cut = self->b.got;
    assert_int_equal(weft_sim_heal(NULL, "a", "b"), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(1000)), NULL);
    self->b_healed = self->b.got;
    weft_sim_host_crash(self->ha, WEFT_SIM_CRASH_RESET);
    weft_sim_host_crash(self->hb, WEFT_SIM_CRASH_RESET);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(named_body, named_body_poll, NULL, int64_t);

/* Partitions name hosts made by weft_sim_host_create, whatever their
 * sockets bind: both peers here are bound to the wildcard, and a one-way
 * cut a -> b stops a's datagrams only. */
static void partitions_name_created_hosts(void **state) {
    wt_env *env = WT_ENV(state);
    static named_body b;
    b = WEFT_NEW(named_body);
    assert_int_equal(run(env, 5, &b.base), 0);
    assert_int_equal(b.b_cut, 0); /* a -> b cut */
    /* b -> a not: b sends at 0, 100, ..., 1000 ms, each 1 ms on the way,
     * and a counts them at its next turn, 100 ms later: those of 0 to 900
     * by 1050 ms */
    assert_int_equal(b.a_cut, 10);
    /* healed at 1050: a's datagrams of 1100 to 1900 are counted by b by
     * 2050 */
    assert_int_equal(b.b_healed, 9);
}

/* A stream's writer toward a host that stops answering: silently crashed,
 * or cut off by a partition.  Both are one black-hole path to the TCP
 * model: the same retransmissions, the same backoff, the same timeout. */
typedef struct hole_body {
    weft_future base;
    srv_disk d;
    bool crash; /* else a partition */
    weft_sim_host *h;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    int64_t r, wrote, read;
    uint64_t t0, waited;
    char buf[8];
} hole_body;

static weft_poll hole_body_poll(weft_future *f, weft_context *cx, void *out) {
    hole_body *self = (hole_body *)f;
    WEFT_BEGIN(f);
    self->h = make_srv("srv", "10.0.0.1", &self->d);
    self->to = ip("10.0.0.1", SRV_PORT);
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    assert_int_equal(self->r, 0);
    if (self->crash)
        assert_int_equal(weft_sim_host_crash(self->h, WEFT_SIM_CRASH_SILENT), 0);
    else
        assert_int_equal(weft_sim_partition(NULL, "srv", "localhost", WEFT_SIM_BOTH_WAYS), 0);
    self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_stream_write(&self->op, self->s, "lost", 4), &self->wrote);
    WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf),
               &self->read);
    self->waited = weft_now() - self->t0;
    weft_socket_close(self->s);
    self->s = NULL;
    if (!self->crash)
        weft_sim_host_crash(self->h, WEFT_SIM_CRASH_RESET);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
static void hole_body_drop(weft_future *f) {
    hole_body *self = (hole_body *)f;
    if (self->s)
        weft_socket_close(self->s);
}
WEFT_FUTURE_DEFINE(hole_body, hole_body_poll, hole_body_drop, int64_t);

static void a_silent_crash_is_a_black_hole(void **state) {
    wt_env *env = WT_ENV(state);
    static hole_body crash, cut;
    crash = WEFT_NEW(hole_body, .crash = true);
    cut = WEFT_NEW(hole_body, .crash = false);
    assert_int_equal(run(env, 6, &crash.base), 0);
    assert_int_equal(run(env, 6, &cut.base), 0);
    assert_int_equal(crash.wrote, 4);
    assert_int_equal(cut.wrote, 4);
    assert_int_equal(crash.read, WEFT_ETIMEDOUT);
    assert_int_equal(cut.read, WEFT_ETIMEDOUT);
    /* Linux's schedule: 15 retransmissions, 200 ms doubling up to 120 s,
     * 804.6 s after the write; a partition drops each try as it leaves,
     * a crashed host as it arrives, 1 ms later: 16 tries, 16 ms. */
    assert_int_equal(cut.waited, WEFT_MS(804600));
    assert_int_equal(crash.waited, cut.waited + WEFT_MS(16));
}

/* A clog a -> b releases into a paused b: held again at b, then handed
 * over in the order sent at b's resume. */
typedef struct seq_disk {
    uint32_t sent, got, last;
    bool out_of_order;
} seq_disk;

typedef struct seq_peer {
    weft_future base;
    seq_disk *d;
    weft_datagram *u;
    bool sender;
    weft_net_op op;
    weft_sleep nap;
    int64_t r;
    uint32_t buf;
    weft_addr to;
} seq_peer;

static weft_poll seq_peer_poll(weft_future *f, weft_context *cx, void *out) {
    seq_peer *self = (seq_peer *)f;
    (void)out;
    WEFT_BEGIN(f);
    self->to = ip("10.0.0.2", 53);
    for (;;) {
        if (self->sender && self->d->sent < 30) {
            self->buf = ++self->d->sent;
            WEFT_AWAIT(f, cx, weft_datagram_send_to(&self->op, self->u, &self->buf, 4, &self->to),
                       &self->r);
        }
        while (!self->sender &&
               weft_datagram_try_recv_from(self->u, &self->buf, sizeof self->buf, NULL) == 4) {
            self->d->got++;
            self->d->out_of_order |= self->buf != self->d->last + 1;
            self->d->last = self->buf;
        }
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(10)), NULL);
    }
    WEFT_END(f);
}
static void seq_peer_drop(weft_future *f) { weft_socket_close(((seq_peer *)f)->u); }
WEFT_FUTURE_DEFINE_VOID(seq_peer, seq_peer_poll, seq_peer_drop);

static void seq_start(weft_sim_host *h, void *disk) {
    bool sender = strcmp(weft_sim_host_name(h), "a") == 0;
    weft_addr any = ip("0.0.0.0", sender ? 5353 : 53);
    weft_datagram *u;
    assert_int_equal(weft_datagram_bind(&any, NULL, &u), 0);
    assert_int_equal(weft_spawn(&WEFT_NEW(seq_peer, .d = disk, .u = u, .sender = sender), NULL),
                     0);
}

typedef struct clog_pause_body {
    weft_future base;
    seq_disk a, b;
    weft_sim_host *ha, *hb;
    uint32_t got_paused;
    weft_sleep nap;
} clog_pause_body;

static weft_poll clog_pause_body_poll(weft_future *f, weft_context *cx, void *out) {
    clog_pause_body *self = (clog_pause_body *)f;
    WEFT_BEGIN(f);
    {
        const char *aa[] = {"10.0.0.1"}, *ba[] = {"10.0.0.2"};
        weft_sim_host_config ca = {.name = "a", .addrs = aa, .naddrs = 1, .start = seq_start,
                                   .disk = &self->a, .clock = WEFT_SIM_CLOCK_EXACT};
        weft_sim_host_config cb = {.name = "b", .addrs = ba, .naddrs = 1, .start = seq_start,
                                   .disk = &self->b, .clock = WEFT_SIM_CLOCK_EXACT};
        assert_int_equal(weft_sim_host_create(NULL, &cb, &self->hb), 0);
        assert_int_equal(weft_sim_host_create(NULL, &ca, &self->ha), 0);
        /* before a's task first runs */
        assert_int_equal(weft_sim_clog(NULL, "a", "b"), 0);
    }
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(55)), NULL);
    assert_int_equal(weft_sim_host_pause(self->hb), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(50)), NULL);
    assert_int_equal(weft_sim_unclog(NULL, "a", "b"), 0); /* into the paused host */
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(100)), NULL);
    self->got_paused = self->b.got;
    assert_int_equal(weft_sim_host_resume(self->hb), 0);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(500)), NULL);
    weft_sim_host_crash(self->ha, WEFT_SIM_CRASH_RESET);
    weft_sim_host_crash(self->hb, WEFT_SIM_CRASH_RESET);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(clog_pause_body, clog_pause_body_poll, NULL, int64_t);

static void a_clog_releases_into_a_paused_host(void **state) {
    wt_env *env = WT_ENV(state);
    static clog_pause_body b;
    b = WEFT_NEW(clog_pause_body);
    assert_int_equal(run(env, 7, &b.base), 0);
    assert_int_equal(b.got_paused, 0);
    assert_int_equal(b.a.sent, 30);
    assert_int_equal(b.b.got, 30); /* nothing lost on the way ... */
    assert_false(b.b.out_of_order); /* ... nor reordered */
}

/* A connect to a paused host: its SYN waits at the host (no kernel runs
 * there to answer), and the connection is set up at the resume. */
typedef struct resumer {
    weft_future base;
    weft_sim_host *h;
    weft_sleep nap;
} resumer;
static weft_poll resumer_poll(weft_future *f, weft_context *cx, void *out) {
    resumer *self = (resumer *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(300)), NULL);
    assert_int_equal(weft_sim_host_resume(self->h), 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(resumer, resumer_poll, NULL);

typedef struct paused_connect_body {
    weft_future base;
    srv_disk d;
    weft_sim_host *h;
    weft_addr to;
    weft_stream *s;
    weft_net_op op;
    weft_join_handle jh;
    int64_t r;
    uint64_t t0, waited;
} paused_connect_body;

static weft_poll paused_connect_body_poll(weft_future *f, weft_context *cx, void *out) {
    paused_connect_body *self = (paused_connect_body *)f;
    WEFT_BEGIN(f);
    self->h = make_srv("srv", "10.0.0.1", &self->d);
    self->to = ip("10.0.0.1", SRV_PORT);
    assert_int_equal(weft_sim_host_pause(self->h), 0);
    assert_int_equal(weft_spawn(&WEFT_NEW(resumer, .h = self->h), &self->jh), 0);
    self->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_stream_connect(&self->op, &self->to, NULL, &self->s), &self->r);
    self->waited = weft_now() - self->t0;
    WEFT_AWAIT(f, cx, weft_join(&self->jh), NULL);
    if (self->s)
        weft_socket_close(self->s);
    self->s = NULL;
    weft_sim_host_crash(self->h, WEFT_SIM_CRASH_RESET);
    WEFT_RETURN(f, out, int64_t, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(paused_connect_body, paused_connect_body_poll, NULL, int64_t);

static void a_paused_host_answers_at_resume(void **state) {
    wt_env *env = WT_ENV(state);
    static paused_connect_body b;
    b = WEFT_NEW(paused_connect_body);
    assert_int_equal(run(env, 8, &b.base), 0);
    assert_int_equal(b.r, 0);
    /* held from 1 ms, released at the resume (300 ms), answered 1 ms later */
    assert_int_equal(b.waited, WEFT_MS(301));
}

#define SIM(fn) WT_ONE(fn, 2, "sim")

int main(void) {
    const struct CMUnitTest tests[] = {
        SIM(restart_runs_start_again),
        SIM(crash_resets_peers),
        SIM(silent_crash_gives_silence),
        SIM(restarted_host_resets_stale_connections),
        SIM(keepalive_finds_a_silent_crash),
        SIM(tasks_and_ports_belong_to_hosts),
        SIM(connections_leave_from_the_host_address),
        SIM(pause_holds_tasks_and_deliveries),
        SIM(host_clocks_offset_and_drift),
        SIM(seeded_clocks_come_from_the_seed),
        SIM(lookup_resolves_hosts_and_fails_on_demand),
        SIM(same_seed_same_fingerprint),
        SIM(hundreds_of_hosts),
        SIM(a_host_may_crash_itself),
        SIM(host_calls_between_block_ons),
        SIM(a_forgotten_pause_is_named_in_the_deadlock),
        SIM(partitions_name_created_hosts),
        SIM(a_silent_crash_is_a_black_hole),
        SIM(a_clog_releases_into_a_paused_host),
        SIM(a_paused_host_answers_at_resume),
        cmocka_unit_test(chaos_over_many_seeds),
        cmocka_unit_test(disk_keeps_what_was_synced),
        WT_CT(hosts_need_the_simulator),
    };
    return WT_RUN("simulated hosts", tests);
}
