/* kv — the store on real loopback sockets: three replicas and a client in
 * one process, on the production runtime (the I/O driver of the platform).
 *
 * The same replica and client code as under the simulator.  While the
 * client works, the leader is killed (its task dropped, its socket closed,
 * as a crashed process) and restarted from its disk, twice, so the run
 * goes through real elections and failovers; at the end every
 * acknowledged put must read back and no term may have had two leaders.
 * With the buggy vote too: the timing that breaks it does not happen here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define NREP 3
#define MAX_TERMS 4096

typedef struct local_world {
    kv_config cfg;
    kv_disk disks[NREP];
    weft_join_handle jh[NREP];
    bool up[NREP];
    int leader;                   /* the latest leader */
    uint8_t leader_of[MAX_TERMS]; /* term -> id + 1 */
    uint64_t terms;
    int double_leaders;
    bool verbose;
} local_world;

static void on_leader(void *ctx, int id, uint64_t term) {
    local_world *w = ctx;
    w->leader = id;
    if (w->verbose)
        fprintf(stderr, "kv: r%d leads term %" PRIu64 "\n", id, term);
    if (term >= MAX_TERMS)
        return;
    if (w->leader_of[term] && w->leader_of[term] != id + 1) {
        fprintf(stderr, "kv: two leaders in term %" PRIu64 ": r%d, then r%d\n", term,
                w->leader_of[term] - 1, id);
        w->double_leaders++;
    }
    w->leader_of[term] = (uint8_t)(id + 1);
    if (term > w->terms)
        w->terms = term;
}

static void on_log(void *ctx, int id, const char *line) {
    local_world *w = ctx;
    if (w->verbose)
        fprintf(stderr, "kv: r%d: %s\n", id, line);
}

static void start(local_world *w, int i) {
    kv_replica r = kv_replica_new(&w->cfg, i, &w->disks[i]);
    w->up[i] = weft_spawn(&r, &w->jh[i]) == 0;
}

/* Kills replica i; its join (awaited before a restart) reaps the task. */
static void kill_replica(local_world *w, int i) {
    weft_join_abort(&w->jh[i]);
    w->up[i] = false;
}

/* Kills the leader and brings it back from its disk, `n` times. */
typedef struct failovers {
    weft_future base;
    local_world *w;
    int n, i, victim;
    weft_sleep nap;
} failovers;

static weft_poll failovers_poll(weft_future *f, weft_context *cx, void *out) {
    failovers *fo = (failovers *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (fo->i = 0; fo->i < fo->n; fo->i++) {
        WEFT_AWAIT(f, cx, weft_sleep(&fo->nap, WEFT_MS(300)), NULL);
        fo->victim = fo->w->leader;
        if (fo->victim < 0)
            continue;
        if (fo->w->verbose)
            fprintf(stderr, "kv: killing the leader r%d\n", fo->victim);
        fo->w->leader = -1;
        kill_replica(fo->w, fo->victim);
        WEFT_AWAIT(f, cx, weft_sleep(&fo->nap, WEFT_MS(200)), NULL);
        WEFT_AWAIT(f, cx, weft_join(&fo->w->jh[fo->victim]), NULL);
        start(fo->w, fo->victim);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(failovers, failovers_poll, NULL);

typedef struct local_run {
    weft_future base;
    local_world *w;
    int nops, violations, puts, lost, i;
    weft_duration budget;
    bool acked[256];
    weft_join_handle fo;
    kv_workload work;
} local_run;

static weft_poll local_poll(weft_future *f, weft_context *cx, void *out) {
    local_run *lr = (local_run *)f;
    local_world *w = lr->w;
    weft_addr client = weft_addr_loopback4(0);
    WEFT_BEGIN(f);
    for (int i = 0; i < NREP; i++)
        start(w, i);
    weft_spawn(&WEFT_NEW(failovers, .w = w, .n = 2), &lr->fo);
    lr->work = kv_workload_new(&w->cfg, &client, 1, lr->nops, lr->acked);
    lr->work.pause_max = WEFT_MS(40);
    lr->work.deadline = weft_now() + (weft_instant)lr->budget;
    WEFT_AWAIT(f, cx, &lr->work, &lr->violations);
    lr->lost = lr->violations;
    if (lr->violations < 0)
        fprintf(stderr, "kv: %s\n", lr->work.why);
    WEFT_AWAIT(f, cx, weft_join(&lr->fo), NULL);
    /* Every acknowledged put, read back. */
    lr->work = kv_workload_new(&w->cfg, &client, 2, lr->nops, lr->acked);
    lr->work.writer = 1;
    lr->work.verify_only = true;
    lr->work.deadline = weft_now() + (weft_instant)lr->budget;
    WEFT_AWAIT(f, cx, &lr->work, &lr->violations);
    if (lr->violations)
        fprintf(stderr, "kv: %s\n", lr->work.why);
    lr->lost += lr->violations;
    for (int i = 0; i < lr->nops; i++)
        lr->puts += lr->acked[i];
    for (lr->i = 0; lr->i < NREP; lr->i++) {
        kill_replica(w, lr->i);
        WEFT_AWAIT(f, cx, weft_join(&w->jh[lr->i]), NULL);
    }
    WEFT_RETURN(f, out, int, lr->work.timeouts);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(local_run, local_poll, NULL, int);

/* Three free UDP ports on 127.0.0.1, found by binding port 0. */
typedef struct probe {
    weft_future base;
    kv_config *cfg;
} probe;

static weft_poll probe_poll(weft_future *f, weft_context *cx, void *out) {
    probe *p = (probe *)f;
    (void)cx;
    weft_datagram *s[NREP] = {0};
    int err = 0;
    for (int i = 0; i < NREP && !err; i++) {
        weft_addr a = weft_addr_loopback4(0);
        err = weft_datagram_bind(&a, NULL, &s[i]);
        if (!err)
            err = weft_socket_local_addr(s[i], &p->cfg->addrs[i]);
    }
    for (int i = 0; i < NREP; i++)
        if (s[i])
            weft_socket_close(s[i]);
    *(int *)out = err;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(probe, probe_poll, NULL, int);

static int local_usage(FILE *to, int status) {
    fprintf(to, "usage: kv --local [--fixed] [--ops N] [--port P] [--verbose]\n"
                "  three replicas and a client on 127.0.0.1 (ports P..P+2; 0: free ones),\n"
                "  the leader killed and restarted twice; the buggy vote unless --fixed\n");
    return status;
}

int kv_local_main(int argc, char **argv) {
    static local_world w; /* 150 KB of disks: not on the stack */
    long ops = 40, port = 0;
    bool fixed = false;
    memset(&w, 0, sizeof w);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        char *end = NULL;
        if (strcmp(a, "--help") == 0)
            return local_usage(stdout, 0);
        if (strcmp(a, "--fixed") == 0) {
            fixed = true;
        } else if (strcmp(a, "--verbose") == 0) {
            w.verbose = true;
        } else if (strcmp(a, "--ops") == 0 && (ops = strtol(v, &end, 10), *end == 0) && *v &&
                   ops > 0 && ops <= 256) {
            i++;
        } else if (strcmp(a, "--port") == 0 && (port = strtol(v, &end, 10), *end == 0) && *v &&
                   port >= 0 && port < 65536 - NREP) {
            i++;
        } else {
            fprintf(stderr, "kv --local: bad argument: %s\n", a);
            return local_usage(stderr, 2);
        }
    }
    kv_config_init(&w.cfg, NREP, fixed);
    w.cfg.on_leader = on_leader;
    w.cfg.log = on_log;
    w.cfg.ctx = &w;
    w.leader = -1;
    for (int i = 0; i < NREP; i++) {
        kv_disk_init(&w.disks[i]);
        w.cfg.addrs[i] = weft_addr_loopback4((uint16_t)(port ? port + i : 0));
    }
    weft_runtime *rt;
    int err = weft_runtime_new(NULL, &rt);
    if (err) {
        fprintf(stderr, "kv: cannot build the runtime: %s\n", weft_strerror(err));
        return 1;
    }
    int status = 0;
    if (!port) {
        probe p = WEFT_NEW(probe, .cfg = &w.cfg);
        err = weft_runtime_block_on(rt, &p.base, &status);
        if (err || status) {
            fprintf(stderr, "kv: no free loopback ports: %s\n",
                    weft_strerror(err ? err : status));
            weft_runtime_free(rt);
            return 1;
        }
    }
    /* The watchdog: 40 s for the whole run (it takes 1-2 s; a loaded CI
     * machine may be slow), then it fails. */
    local_run run = WEFT_NEW(local_run, .w = &w, .nops = (int)ops, .budget = WEFT_SECS(15));
    weft_timeout dog;
    int timeouts = -1;
    err = weft_runtime_block_on(rt, weft_timeout(&dog, WEFT_SECS(40), &run.base), &timeouts);
    int dog_status = weft_timeout_status(&dog);
    weft_runtime_free(rt);
    if (err || dog_status) {
        fprintf(stderr, "kv: the run did not finish: %s\n",
                weft_strerror(err ? err : dog_status));
        return 1;
    }
    char a0[WEFT_ADDR_STRLEN];
    weft_addr_format(&w.cfg.addrs[0], a0, sizeof a0);
    printf("kv on loopback (%s vote): 3 replicas from %s, the leader killed twice; "
           "%d of %ld puts acknowledged, %d lost; %" PRIu64 " terms, %s\n",
           fixed ? "persisted" : "in-memory", a0, run.puts, ops, run.lost, w.terms,
           w.double_leaders ? "TWO LEADERS IN A TERM" : "one leader each");
    bool ok = run.lost == 0 && w.double_leaders == 0 && timeouts == 0 && run.puts == ops;
    if (!ok)
        printf("FAIL\n");
    return ok ? 0 : 1;
}
