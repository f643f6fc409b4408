/* kv — the replicated store under the simulator, and the program's modes.
 *
 * Everything simulator-specific lives here, none of it in the store: the
 * three replicas run on simulated machines "r0".."r2" (10.0.0.1-3), each
 * with a disk that survives its restarts; a client on the test's own task
 * puts and reads keys; a chaos task crashes and restarts machines (and
 * cuts and heals links) at seeded moments.  Then the chaos ends: every
 * machine is brought back, the network healed, and every write the store
 * acknowledged must be read back within a bound of virtual time.  All the
 * while at most one replica may become leader of any term.
 *
 * The buggy store (kv_split_vote) keeps its vote in memory: a sweep finds
 * the seed where a replica votes, crashes, restarts in the same term and
 * votes again, and prints the line that replays it.  The fixed store
 * (kv_fixed) passes.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "weft/sim.h"
#include "weft/weft.h"
#include "kv.h"

int kv_local_main(int argc, char **argv); /* local.c */

#define NREP 3
#define NOPS 40
#define MAX_TERMS 4096
#define CHAOS_TIME WEFT_SECS(4)  /* of crashes and restarts */
#define SETTLE_TIME WEFT_SECS(60) /* after the chaos, for every request to finish */
#define HERE __FILE__ ":" KV_STR(__LINE__)
#define KV_STR2(x) #x
#define KV_STR(x) KV_STR2(x)

/* A replica's machine: what survives its crashes (the disk), and its
 * handle. */
typedef struct node {
    kv_disk disk;
    struct world *world;
    int id;
    bool up;
    weft_sim_host *host;
} node;

typedef struct world {
    kv_config cfg;
    node nodes[NREP];
    int ndown;
    uint8_t leader_of[MAX_TERMS]; /* term -> leader id + 1 */
    uint64_t terms;               /* the highest term with a leader */
} world;

/* ------------------------------------------------------- the observers */

static void on_leader(void *ctx, int id, uint64_t term) {
    world *w = ctx;
    if (term >= MAX_TERMS) {
        weft_sim_fail_at(HERE, "more terms than the test keeps track of");
        return;
    }
    if (w->leader_of[term] && w->leader_of[term] != id + 1) {
        char what[128];
        snprintf(what, sizeof what, "two leaders in term %" PRIu64 ": r%d, then r%d", term,
                 w->leader_of[term] - 1, id);
        weft_sim_fail_at(HERE, what);
        return;
    }
    w->leader_of[term] = (uint8_t)(id + 1);
    if (term > w->terms)
        w->terms = term;
}

static void on_log(void *ctx, int id, const char *line) {
    (void)ctx;
    weft_sim_note("r%d: %s", id, line);
}

/* ------------------------------------------------ machines (the sim's part) */

/* Each replica is a simulated host (weft_sim_host_create): its start
 * function spawns the replica on it at creation and at every restart, with
 * the disk the test keeps; a crash drops every task of the host and its
 * socket, and the disk stays. */
static void host_start(weft_sim_host *host, void *disk) {
    node *n = disk;
    (void)host;
    kv_replica r = kv_replica_new(&n->world->cfg, n->id, &n->disk);
    weft_spawn(&r, NULL); /* the host's task: its crash drops it */
}

static int node_create(node *n, const char *name, const char *ip) {
    const char *ips[] = {ip};
    weft_sim_host_config hc = {.name = name, .addrs = ips, .naddrs = 1, .start = host_start,
                               .disk = n};
    int err = weft_sim_host_create(NULL, &hc, &n->host);
    n->up = err == 0;
    return err;
}

/* A process killed (its peers' connections reset) or a machine that lost
 * power (silence): the same to a datagram protocol, both drawn. */
static void node_crash(node *n) {
    int how = weft_random_below(2) ? WEFT_SIM_CRASH_SILENT : WEFT_SIM_CRASH_RESET;
    weft_sim_note("chaos: crash r%d (%s)", n->id, how == WEFT_SIM_CRASH_SILENT ? "silent" : "reset");
    weft_sim_host_crash(n->host, how);
    n->up = false;
}

static void node_restart(node *n) {
    weft_sim_note("chaos: restart r%d", n->id);
    n->up = weft_sim_host_restart(n->host) == 0;
}
/* Nothing to reap: the host's crash dropped its tasks. */
#define NODE_REAP(f, cx, n) (void)(n)

static int world_setup(world *w, bool fixed) {
    kv_config_init(&w->cfg, NREP, fixed);
    w->cfg.on_leader = on_leader;
    w->cfg.log = on_log;
    w->cfg.ctx = w;
    const char *client_ip[] = {"10.0.0.100"};
    int err = weft_sim_host_add(NULL, "client", client_ip, 1);
    for (int i = 0; i < NREP && !err; i++) {
        char ip[32], name[8];
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        snprintf(name, sizeof name, "r%d", i);
        err = weft_addr_from_ip(ip, 7000, &w->cfg.addrs[i]);
        w->nodes[i].world = w;
        w->nodes[i].id = i;
        kv_disk_init(&w->nodes[i].disk);
        if (!err)
            err = node_create(&w->nodes[i], name, ip);
    }
    return err;
}

/* ------------------------------------------------------------- the chaos */

/* Every 10-300 ms: crash a machine that is up (leaving at least one up;
 * or reboot it within 100 ms) or restart one that is down, or cut, heal
 * or clog a path.  Then bring
 * everything back and heal the network (heal_all: the swarm's loss,
 * duplication and reordering end too; latencies stay). */
typedef struct chaos {
    weft_future base;
    world *w;
    weft_instant until;
    node *n;
    int i, roll;
    bool clogged;
    int clog_a, clog_b;
    weft_sleep nap;
} chaos;

static const char *const host_name[] = {"r0", "r1", "r2", "client"};

/* Two different machines, a replica first (the client now and then). */
static void pick_pair(int *a, int *b) {
    *a = (int)weft_random_below(NREP);
    *b = (int)weft_random_below(NREP); /* NREP: the client */
    if (*b == *a)
        *b = NREP;
}

/* The network's share of the chaos: cut a path (both ways or one way),
 * heal one, or hold a link's messages and later let them go at once. */
static void net_chaos(chaos *c, int roll) {
    int a, b;
    pick_pair(&a, &b);
    if (roll < 75) {
        int how = weft_random_below(2) ? WEFT_SIM_ONE_WAY : WEFT_SIM_BOTH_WAYS;
        weft_sim_note("chaos: partition %s %s %s", host_name[a],
                      how == WEFT_SIM_ONE_WAY ? "->" : "<->", host_name[b]);
        weft_sim_partition(NULL, host_name[a], host_name[b], how);
    } else if (roll < 90) {
        weft_sim_note("chaos: heal %s <-> %s", host_name[a], host_name[b]);
        weft_sim_heal(NULL, host_name[a], host_name[b]);
    } else if (c->clogged) {
        weft_sim_note("chaos: unclog %s -> %s", host_name[c->clog_a], host_name[c->clog_b]);
        weft_sim_unclog(NULL, host_name[c->clog_a], host_name[c->clog_b]);
        c->clogged = false;
    } else {
        weft_sim_note("chaos: clog %s -> %s", host_name[a], host_name[b]);
        c->clogged = weft_sim_clog(NULL, host_name[a], host_name[b]) == 0;
        c->clog_a = a;
        c->clog_b = b;
    }
}

static weft_poll chaos_poll(weft_future *f, weft_context *cx, void *out) {
    chaos *c = (chaos *)f;
    world *w = c->w;
    (void)out;
    WEFT_BEGIN(f);
    while (weft_now() < c->until) {
        WEFT_AWAIT(f, cx,
                   weft_sleep(&c->nap, WEFT_MS(10) + (weft_duration)weft_random_below(WEFT_MS(290))),
                   NULL);
        c->roll = (int)weft_random_below(100);
        if (c->roll >= 50) {
            net_chaos(c, c->roll);
            continue;
        }
        c->n = &w->nodes[weft_random_below(NREP)];
        if (c->n->up && c->roll < 25) {
            /* a crash and a quick reboot, as under a supervisor */
            node_crash(c->n);
            WEFT_AWAIT(f, cx, weft_sleep(&c->nap, (weft_duration)weft_random_below(WEFT_MS(100))),
                       NULL);
            NODE_REAP(f, cx, c->n);
            node_restart(c->n);
        } else if (c->n->up && w->ndown < NREP - 1) {
            node_crash(c->n);
            w->ndown++;
        } else if (!c->n->up) {
            NODE_REAP(f, cx, c->n);
            node_restart(c->n);
            w->ndown--;
        }
    }
    if (c->clogged)
        weft_sim_unclog(NULL, host_name[c->clog_a], host_name[c->clog_b]);
    weft_sim_heal_all(NULL);
    for (c->i = 0; c->i < NREP; c->i++)
        if (!w->nodes[c->i].up) {
            NODE_REAP(f, cx, &w->nodes[c->i]);
            node_restart(&w->nodes[c->i]);
        }
    w->ndown = 0;
    weft_sim_note("chaos: over, every machine up, the network healed");
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(chaos, chaos_poll, NULL);

/* ------------------------------------------------------------- the body */

typedef struct kv_body {
    weft_future base;
    bool fixed;
    world w;
    bool acked[NOPS];
    weft_instant chaos_end;
    int violations, i;
    weft_join_handle chaos_jh;
    kv_workload work;
} kv_body;

static weft_poll body_poll(weft_future *f, weft_context *cx, void *out) {
    kv_body *b = (kv_body *)f;
    (void)out;
    WEFT_BEGIN(f);
    if (world_setup(&b->w, b->fixed)) {
        weft_sim_fail_at(HERE, "cannot set up the simulated machines");
        WEFT_FAIL(f, cx, WEFT_EFAILED);
    }
    b->chaos_end = weft_now() + (weft_instant)CHAOS_TIME;
    weft_spawn(&WEFT_NEW(chaos, .w = &b->w, .until = b->chaos_end), &b->chaos_jh);
    {
        weft_addr client;
        weft_addr_from_ip("10.0.0.100", 0, &client);
        b->work = kv_workload_new(&b->w.cfg, &client, 1, NOPS, b->acked);
        b->work.pause_max = WEFT_MS(100);
        b->work.deadline = b->chaos_end + (weft_instant)SETTLE_TIME;
    }
    WEFT_AWAIT(f, cx, &b->work, &b->violations);
    if (b->violations) {
        weft_sim_fail_at(HERE, b->work.why);
        WEFT_FAIL(f, cx, WEFT_EFAILED);
    }
    WEFT_AWAIT(f, cx, weft_join(&b->chaos_jh), NULL);
    /* Healed: every acknowledged write must read back, in bounded time. */
    weft_sim_note("check: every acknowledged put reads back");
    {
        weft_addr client;
        weft_addr_from_ip("10.0.0.100", 0, &client);
        b->work = kv_workload_new(&b->w.cfg, &client, 2, NOPS, b->acked);
        b->work.writer = 1;
        b->work.verify_only = true;
        b->work.deadline = weft_now() + (weft_instant)SETTLE_TIME;
    }
    WEFT_AWAIT(f, cx, &b->work, &b->violations);
    if (b->violations) {
        weft_sim_fail_at(HERE, b->work.why);
        WEFT_FAIL(f, cx, WEFT_EFAILED);
    }
    WEFT_SIM_ASSERT(f, cx, b->work.timeouts == 0); /* liveness once healed */
    for (b->i = 0; b->i < NREP; b->i++) {
        node_crash(&b->w.nodes[b->i]);
        NODE_REAP(f, cx, &b->w.nodes[b->i]);
    }
    WEFT_END(f);
}

static void body_drop(weft_future *f) {
    kv_body *b = (kv_body *)f;
    weft_join_detach(&b->chaos_jh);
}

typedef kv_body kv_buggy_body;
typedef kv_body kv_fixed_body;
static weft_poll buggy_poll(weft_future *f, weft_context *cx, void *out) {
    ((kv_body *)f)->fixed = false;
    return body_poll(f, cx, out);
}
static weft_poll fixed_poll(weft_future *f, weft_context *cx, void *out) {
    ((kv_body *)f)->fixed = true;
    return body_poll(f, cx, out);
}
WEFT_FUTURE_DEFINE_VOID(kv_buggy_body, buggy_poll, body_drop);
WEFT_FUTURE_DEFINE_VOID(kv_fixed_body, fixed_poll, body_drop);

WEFT_SIM_TEST(kv_split_vote, kv_buggy_body)
WEFT_SIM_TEST(kv_fixed, kv_fixed_body)

/* -------------------------------------------------------- the other modes */

static void make_buggy(weft_future *slot) { *(kv_buggy_body *)slot = WEFT_NEW(kv_buggy_body); }
static void make_fixed(weft_future *slot) { *(kv_fixed_body *)slot = WEFT_NEW(kv_fixed_body); }
static const weft_sim_test buggy_test = {"kv_split_vote", make_buggy, sizeof(kv_buggy_body),
                                         NULL, NULL, false};
static const weft_sim_test fixed_test = {"kv_fixed", make_fixed, sizeof(kv_fixed_body), NULL,
                                         NULL, false};

/* One seed with the sweep's defaults. */
static int run_seed(const weft_sim_test *t, uint64_t seed, const char *trace, weft_sim_result *r) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_max_steps = 1000000;
    b.sim_max_time = WEFT_SECS(86400);
    b.sim_trace_path = trace;
    return weft_sim_run(t, &b, r);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first failing seed of the buggy store, from `from` on, or -1. */
static int64_t find_bug(uint64_t from, uint64_t limit, weft_sim_result *r, double *secs) {
    double t0 = now_s();
    for (uint64_t s = from; s < from + limit; s++)
        if (run_seed(&buggy_test, s, NULL, r)) {
            *secs = now_s() - t0;
            return (int64_t)s;
        }
    *secs = now_s() - t0;
    return -1;
}

static int sweep_fixed(uint64_t n, double *secs, weft_sim_result *first_bad) {
    int passed = 0;
    double t0 = now_s();
    weft_sim_result r;
    for (uint64_t s = 0; s < n; s++) {
        if (run_seed(&fixed_test, s, NULL, &r) == 0)
            passed++;
        else if (first_bad && passed == (int)s)
            *first_bad = r;
    }
    *secs = now_s() - t0;
    return passed;
}

#define MACHINES "[hosts]"

/* The seeds kept in seeds/kv_fixed.txt (those that found the bug): each
 * must pass on the fixed store, and of those found with this build's
 * machines (the note starts with MACHINES: hosts, or tasks without them)
 * at least one must still fail on the buggy store, as two leaders in a
 * term.  With the sweep's "found within 1000 seeds" this is how CI checks
 * "the bug is found, the fix holds" on every run: the buggy test's
 * failure is expected, so it is checked here instead of in a sweep that
 * would fail.  (A seed whose schedule moved, after a change to the
 * simulator or the test, or found with the other kind of machines, is
 * only replayed on the fix; see seeds/README.md.) */
static bool prove_seeds_file(void) {
#ifdef WEFT_SIM_SEEDS_DIR
    const char *path = WEFT_SIM_SEEDS_DIR "/kv_fixed.txt";
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("FAIL: cannot read %s\n", path);
        return false;
    }
    char line[512];
    int kept = 0, ok = 0, still_fail = 0, of_mine = 0;
    while (fgets(line, sizeof line, f)) {
        char *end;
        const char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        uint64_t seed = strtoull(p, &end, 0);
        bool mine = strncmp(end + strspn(end, " \t"), MACHINES, strlen(MACHINES)) == 0;
        weft_sim_result r;
        kept++;
        bool buggy_fails = run_seed(&buggy_test, seed, NULL, &r) == WEFT_EFAILED &&
                           strstr(r.failure, "two leaders in term");
        bool fixed_passes = run_seed(&fixed_test, seed, NULL, &r) == 0;
        printf("seeds/kv_fixed.txt: seed %" PRIu64 ": buggy store %s, fixed store %s\n", seed,
               buggy_fails ? "fails (two leaders)"
               : mine      ? "passes (its schedule moved since it was recorded)"
                           : "passes (found with other machines than " MACHINES ")",
               fixed_passes ? "passes" : "FAILS");
        ok += fixed_passes;
        still_fail += mine && buggy_fails;
        of_mine += mine;
    }
    fclose(f);
    if (!of_mine) /* a build with other machines than those recorded: say so, go on */
        printf("seeds/kv_fixed.txt: no seed recorded with " MACHINES " machines yet: add the "
               "one kv --demo finds\n");
    else if (!still_fail)
        printf("seeds/kv_fixed.txt: no seed of " MACHINES " machines fails the buggy store "
               "any more: add the one kv --demo finds\n");
    return kept > 0 && ok == kept && (still_fail > 0 || !of_mine);
#else
    return true;
#endif
}

static int prove(uint64_t fixed_seeds) {
    weft_sim_result r;
    double secs;
    int64_t found = find_bug(0, 1000, &r, &secs);
    if (found < 0) {
        printf("FAIL: the bug was not found within 1000 seeds\n");
        return 1;
    }
    printf("bug found at seed %" PRId64 " after %" PRId64 " seeds (%.1f s): %s\n", found,
           found + 1, secs, r.failure);
    uint64_t fp = r.fingerprint;
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += run_seed(&buggy_test, (uint64_t)found, NULL, &r) != 0 && r.fingerprint == fp;
    printf("replayed seed %" PRId64 " 100 times: %d failed with fingerprint %016" PRIx64 "\n",
           found, same, fp);
    weft_sim_result bad = {0};
    int passed = sweep_fixed(fixed_seeds, &secs, &bad);
    printf("fixed version: %d of %" PRIu64 " seeds passed (%.1f s, %.0f seeds/s)\n", passed,
           fixed_seeds, secs, (double)fixed_seeds / secs);
    if ((uint64_t)passed != fixed_seeds)
        printf("  first failure: seed %" PRIu64 ": %s\n", bad.seed, bad.failure);
    bool kept = prove_seeds_file();
    return same == 100 && (uint64_t)passed == fixed_seeds && kept ? 0 : 1;
}

/* Prints the notes of a trace file (the lines the store and the chaos
 * wrote through weft_sim_note), without their task ids, from the first
 * that names `term` ("term 20:") to the second leader of that term, at
 * most `max` of them. */
static void print_notes(const char *path, uint64_t term, int max) {
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("  (cannot read %s)\n", path);
        return;
    }
    char line[512], mark[32];
    snprintf(mark, sizeof mark, "term %" PRIu64 ":", term);
    bool started = false;
    int shown = 0, leaders = 0;
    while (leaders < 2 && shown < max && fgets(line, sizeof line, f)) {
        const char *note = strstr(line, " note ");
        const char *text = note ? strstr(note, ": ") : NULL;
        if (!text)
            continue;
        const char *at = strstr(text, mark);
        started = started || at;
        if (started) {
            printf("  %s", text + 2);
            shown++;
            leaders += at && strstr(at, ": leader (") != NULL;
        }
    }
    fclose(f);
}

/* The README's main job: sweep until the bug shows, print the line that
 * replays it, replay it (its trace to a file), then sweep the fix. */
static int demo(const char *self) {
    weft_sim_result r;
    double secs;
    printf("== sweep: the buggy store (the vote kept in memory), seeds from 0\n");
    fflush(stdout);
    int64_t found = find_bug(0, 1000, &r, &secs);
    if (found < 0) {
        printf("no failing seed among the first 1000: the bug was not found\n");
        return 1;
    }
    printf("seeds 0..%" PRId64 " in %.1f s; seed %" PRId64 " fails:\n", found, secs, found);
    printf("weft-sim: FAIL kv_split_vote seed=%" PRId64 " fingerprint=%016" PRIx64
           " (%s) replay: WEFT_SEED=%" PRId64 " %s --test kv_split_vote\n",
           found, r.fingerprint, r.failure, found, self);
    uint64_t fp = r.fingerprint;
    /* The trace goes beside the program: build/examples/kv/ */
    char trace[1024];
    const char *slash = strrchr(self, '/');
    snprintf(trace, sizeof trace, "%.*skv_split_vote-seed%" PRId64 ".txt",
             slash ? (int)(slash - self + 1) : 0, self, found);
    printf("\n== replay of seed %" PRId64 ", its trace in %s\n", found, trace);
    int err = run_seed(&buggy_test, (uint64_t)found, trace, &r);
    printf("replay: %s, fingerprint %016" PRIx64 " (%s), %" PRIu64 " steps, %.3f s of virtual time\n",
           err ? "failed again" : "passed", r.fingerprint,
           r.fingerprint == fp ? "the same" : "DIFFERENT", r.steps, (double)r.end_time / 1e9);
    uint64_t term = 0;
    const char *two = strstr(r.failure, "two leaders in term ");
    if (two)
        term = strtoull(two + strlen("two leaders in term "), NULL, 10);
    printf("what the replicas and the chaos did from term %" PRIu64 " on (the trace's notes):\n",
           term);
    print_notes(trace, term, 40);
    printf("a replica voted in a term, crashed, came back with the term on its disk but not\n"
           "its vote, and voted again in the same term: two leaders.\n");
    uint64_t n = 200;
    weft_sim_result bad = {0};
    int passed = sweep_fixed(n, &secs, &bad);
    printf("\n== the fix (the vote written to disk before it is sent): %d of %" PRIu64
           " seeds pass (%.1f s)\n",
           passed, n, secs);
    return err && r.fingerprint == fp && (uint64_t)passed == n ? 0 : 1;
}

static int usage(const char *prog, FILE *to) {
    fprintf(to,
            "usage: %s [--test NAME | --demo | --prove [N] | --local [...] | --fingerprint S | --help]\n"
            "  (no argument)   sweep both tests (kv_split_vote fails, printing its replay line)\n"
            "  --test NAME     just one test, kv_split_vote or kv_fixed (WEFT_SEED=s: one seed)\n"
            "  --demo          sweep until the bug shows, replay it, sweep the fix\n"
            "  --prove [N]     find the bug within 1000 seeds, replay it 100 times, sweep the\n"
            "                  fix over N seeds (default 10000)\n"
            "  --local ...     the store on real loopback sockets (--local --help)\n"
            "  --fingerprint S print the fingerprints of seeds S..S+7 (for .ci/)\n"
            "environment: WEFT_SEEDS, WEFT_SEED, WEFT_SEED_BASE, WEFT_SIM_STRATEGY=pct, WEFT_TRACE,\n"
            "  WEFT_CHECK_DETERMINISM=1 (see docs/simulation.md)\n",
            prog);
    return to == stdout ? 0 : 2;
}

static int bad_args(const char *prog, const char *what, const char *arg) {
    fprintf(stderr, "%s: %s '%s'\n", prog, what, arg);
    return usage(prog, stderr);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return usage(argv[0], stdout);
    if (argc >= 2 && strcmp(argv[1], "--local") == 0)
        return kv_local_main(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--demo") == 0)
        return demo(argv[0]);
    if (argc >= 2 && strcmp(argv[1], "--prove") == 0) {
        char *end = NULL;
        unsigned long long n = argc == 3 ? strtoull(argv[2], &end, 10) : 10000;
        if (argc > 3 || (argc == 3 && (*end || n == 0 || argv[2][0] == '-')))
            return bad_args(argv[0], "--prove takes a seed count, not", argc == 3 ? argv[2] : "");
        return prove(n);
    }
    if (argc >= 2 && strcmp(argv[1], "--fingerprint") == 0) {
        char *end = NULL;
        uint64_t from = argc == 3 ? strtoull(argv[2], &end, 0) : 0;
        if (argc != 3 || *end || argv[2][0] == '-' || !argv[2][0])
            return bad_args(argv[0], "--fingerprint needs a seed, not", argc == 3 ? argv[2] : "");
        weft_sim_result r;
        for (uint64_t s = from; s < from + 8; s++) {
            run_seed(&buggy_test, s, NULL, &r);
            printf("kv seed %" PRIu64 " buggy %016" PRIx64 " steps %" PRIu64 "\n", s,
                   r.fingerprint, r.steps);
            run_seed(&fixed_test, s, NULL, &r);
            printf("kv seed %" PRIu64 " fixed %016" PRIx64 " steps %" PRIu64 "\n", s,
                   r.fingerprint, r.steps);
        }
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--test") == 0) {
        if (argc != 3 || (strcmp(argv[2], "kv_split_vote") != 0 && strcmp(argv[2], "kv_fixed") != 0))
            return bad_args(argv[0], "--test takes kv_split_vote or kv_fixed, not",
                            argc == 3 ? argv[2] : "");
    } else if (argc > 1) {
        return bad_args(argv[0], "unknown argument", argv[1]);
    }
    weft_sim_test_args(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_split_vote),
        cmocka_unit_test(kv_fixed),
    };
    return cmocka_run_group_tests_name("kv", tests, NULL, NULL);
}
