/* weft — the simulation test harness: run an async test body over many
 * seeds, replay the regression seeds first, print a replay line for every
 * failing seed and a summary; optionally check determinism by running each
 * seed twice.
 *
 * Seeds share nothing: each gets a fresh runtime and a fresh body, so a
 * sweep can be split into shards (WEFT_SEED_BASE) across processes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checked.h"
#include "jobs.h"
#include "parse_num.h"
#include "schedule.h"
#include "sim.h"
#include "shrink.h"

/* ------------------------------------------------------------ the options */

typedef struct sweep_opts {
    bool bad;            /* a knob was rejected (said why on stderr) */
    uint64_t seeds;      /* WEFT_SEEDS */
    uint64_t base;       /* WEFT_SEED_BASE */
    bool one;            /* WEFT_SEED given */
    uint64_t seed;
    int strategy;        /* WEFT_SIM_STRATEGY (default swarm) */
    uint32_t depth;      /* WEFT_PCT_DEPTH (0: the builder's) */
    uint64_t horizon;    /* PCT: measured by probe runs (probe_horizon) */
    int net;             /* WEFT_SIM_NET: swarm (default) or calm */
    const char *trace;   /* WEFT_TRACE */
    bool check;          /* WEFT_CHECK_DETERMINISM */
    bool quiet;          /* WEFT_SIM_QUIET: no summary line */
    bool trace_dir;      /* WEFT_TRACE names a directory: files per failing seed */
    const char *schedule; /* WEFT_SCHEDULE: replay this schedule file strictly */
    bool shrink;         /* WEFT_SHRINK: shrink the failing seed */
    const char *shrink_out; /* WEFT_SHRINK_OUT: where the schedule goes */
    uint64_t shrink_runs;   /* WEFT_SHRINK_RUNS: candidate runs at most */
    uint64_t shrink_ms;     /* WEFT_SHRINK_MS: time for the search at most */
    unsigned jobs;          /* WEFT_JOBS: worker processes (0: unset, the cores for a big sweep) */
    uint64_t shard_i, shard_n; /* WEFT_SHARD=i/n: this shard of the sweep (1/1: all) */
} sweep_opts;

static bool env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static const char *env_str(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A trace path that is a directory (or ends in '/', made if missing). */
static bool is_dir_path(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode);
    size_t n = strlen(path);
    if (n == 0 || path[n - 1] != '/')
        return false;
    if (weft__os_mkdir(path) != 0 && errno != EEXIST) {
        fprintf(stderr, "weft-sim: cannot make the trace directory %s: %s\n", path,
                strerror(errno));
        return false;
    }
    return true;
}

/* A strategy's name as WEFT_SIM_STRATEGY spells it (exactly: "PCT" is
 * refused, not taken for the default). */
int weft__sim_strategy_parse(const char *name, int *out) {
    static const struct { const char *name; int strategy; } names[] = {
        {"swarm", WEFT_SIM_SWARM}, {"random", WEFT_SIM_RANDOM}, {"pct", WEFT_SIM_PCT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].strategy;
            return 0;
        }
    return WEFT_EINVAL;
}

/* Reads a numeric knob; a malformed value is rejected with one line. */
static bool env_u64(sweep_opts *o, const char *name, uint64_t *out) {
    const char *v = getenv(name);
    if (!v || !*v)
        return false;
    if (!weft__parse_u64(v, out, NULL)) {
        fprintf(stderr, "weft-sim: %s=%s: not a number from 0 to 2^64-1 (decimal or 0x hex)\n",
                name, v);
        o->bad = true;
        return false;
    }
    return true;
}

static sweep_opts read_opts(void) {
    sweep_opts o = {.seeds = 100};
    env_u64(&o, "WEFT_SEEDS", &o.seeds);
    env_u64(&o, "WEFT_SEED_BASE", &o.base);
    o.one = env_u64(&o, "WEFT_SEED", &o.seed);
    if (!o.one && o.seeds && o.base > UINT64_MAX - (o.seeds - 1)) {
        fprintf(stderr, "weft-sim: WEFT_SEED_BASE=%" PRIu64 " with WEFT_SEEDS=%" PRIu64
                        ": the sweep would pass seed 2^64-1\n", o.base, o.seeds);
        o.bad = true;
    }
    const char *st = getenv("WEFT_SIM_STRATEGY");
    o.strategy = WEFT_SIM_SWARM;
    if (st && *st && weft__sim_strategy_parse(st, &o.strategy) != 0) {
        fprintf(stderr, "weft-sim: WEFT_SIM_STRATEGY=%s: not a strategy (swarm, random or pct)\n",
                st);
        o.bad = true;
    }
    uint64_t depth;
    if (env_u64(&o, "WEFT_PCT_DEPTH", &depth)) {
        if (depth < 1 || depth > 16) {
            fprintf(stderr, "weft-sim: WEFT_PCT_DEPTH=%" PRIu64 ": a depth from 1 to 16\n", depth);
            o.bad = true;
        } else if (o.strategy != WEFT_SIM_PCT) {
            fprintf(stderr, "weft-sim: WEFT_PCT_DEPTH=%" PRIu64 " needs WEFT_SIM_STRATEGY=pct "
                            "(swarm draws each seed's depth)\n", depth);
            o.bad = true;
        } else
            o.depth = (uint32_t)depth;
    }
    const char *net = getenv("WEFT_SIM_NET");
    if (net && *net && strcmp(net, "calm") == 0)
        o.net = WEFT_SIM_NET_CALM;
    else if (net && *net && strcmp(net, "swarm") != 0) {
        fprintf(stderr, "weft-sim: WEFT_SIM_NET=%s: not a network (swarm or calm)\n", net);
        o.bad = true;
    }
    o.trace = getenv("WEFT_TRACE");
    if (o.trace && !*o.trace)
        o.trace = NULL;
    o.check = env_flag("WEFT_CHECK_DETERMINISM");
    o.quiet = env_flag("WEFT_SIM_QUIET");
    o.trace_dir = o.trace && strcmp(o.trace, "-") != 0 && is_dir_path(o.trace);
    if (o.trace && !o.trace_dir && o.trace[strlen(o.trace) - 1] == '/')
        o.bad = true; /* a directory that could not be made: is_dir_path said why */
    o.schedule = env_str("WEFT_SCHEDULE");
    o.shrink = env_flag("WEFT_SHRINK");
    o.shrink_out = env_str("WEFT_SHRINK_OUT");
    o.shrink_runs = 20000;
    o.shrink_ms = 20000;
    env_u64(&o, "WEFT_SHRINK_RUNS", &o.shrink_runs);
    env_u64(&o, "WEFT_SHRINK_MS", &o.shrink_ms);
    uint64_t jobs;
    if (env_u64(&o, "WEFT_JOBS", &jobs)) {
        if (jobs < 1 || jobs > 1024) {
            fprintf(stderr, "weft-sim: WEFT_JOBS=%" PRIu64 ": a number of processes from 1 to "
                            "1024\n", jobs);
            o.bad = true;
        } else
            o.jobs = (unsigned)jobs;
    }
    o.shard_i = o.shard_n = 1;
    const char *shard = env_str("WEFT_SHARD");
    const char *slash;
    if (shard && (!weft__parse_u64(shard, &o.shard_i, &slash) || *slash != '/' ||
                  !weft__parse_u64(slash + 1, &o.shard_n, NULL) || o.shard_n == 0 || o.shard_i == 0 ||
                  o.shard_i > o.shard_n)) {
        fprintf(stderr, "weft-sim: WEFT_SHARD=%s: not a shard (i/n, 1 <= i <= n: WEFT_SHARD=2/4 "
                        "runs the second quarter)\n", shard);
        o.bad = true;
    }
    return o;
}

/* What the replay line must set besides the seed: nothing for the
 * default (swarm: the seed draws the rest). */
static const char *strategy_env(const sweep_opts *o, char *buf, size_t n) {
    const char *net = o->net == WEFT_SIM_NET_CALM ? " WEFT_SIM_NET=calm" : "";
    if (o->strategy == WEFT_SIM_SWARM)
        snprintf(buf, n, "%s ", net);
    else if (o->strategy == WEFT_SIM_RANDOM)
        snprintf(buf, n, "%s WEFT_SIM_STRATEGY=random ", net);
    else if (o->depth)
        snprintf(buf, n, "%s WEFT_SIM_STRATEGY=pct WEFT_PCT_DEPTH=%u ", net, (unsigned)o->depth);
    else
        snprintf(buf, n, "%s WEFT_SIM_STRATEGY=pct ", net);
    return buf;
}

/* How this program was started (for the replay line): argv[0] as given. */
static void program_name(char *buf, size_t n) {
    if (!weft__os_program_name(buf, n) || !buf[0])
        snprintf(buf, n, "./test");
    else if (!strchr(buf, '/') && !strchr(buf, '\\') && strlen(buf) + 3 <= n) {
        memmove(buf + 2, buf, strlen(buf) + 1);
        memcpy(buf, "./", 2);
    }
}

static double now_s(void) { return (double)weft__os_now_ns() / 1e9; }

/* ------------------------------------------------------------- one seed */

static void builder_for(weft_builder *b, const sweep_opts *o, uint64_t seed,
                        const weft_sim_test *t) {
    weft_builder_init(b, WEFT_SIM);
    if (t->alloc && t->alloc->alloc && t->alloc->free)
        b->allocator = *t->alloc;
    b->sim_seed = seed;
    b->sim_strategy = o->strategy;
    if (o->depth)
        b->sim_pct_depth = o->depth;
    b->sim_pct_horizon = o->horizon;
    if (t->exact_time)
        b->sim_exact_time = true;
    b->sim_net = o->net;
    b->sim_max_steps = 1000000;
    b->sim_max_time = WEFT_SECS(86400);
    b->sim_trace_path = o->trace_dir ? NULL : o->trace;
}

/* Every seed's runtime allocates through this wrapper around the
 * builder's allocator, so a run that leaks fails. */
typedef struct counting {
    weft_allocator inner;
    long live;
} counting;

static void *counting_alloc(void *ctx, size_t size) {
    counting *c = ctx;
    void *p = c->inner.alloc(c->inner.ctx, size);
    c->live += p != NULL;
    return p;
}

static void counting_free(void *ctx, void *p, size_t size) {
    counting *c = ctx;
    if (!p)
        return;
    c->live--;
    c->inner.free(c->inner.ctx, p, size);
}

/* Diagnostics of a seed's runtime: after a failure, tasks are still alive
 * at shutdown by design, so those reports are dropped; others are printed
 * (or go to the builder's own hook). */
typedef struct diag_filter {
    weft_diag_fn inner;
    void *inner_ctx;
    weft__sim *sim; /* set once the runtime exists */
} diag_filter;

static void filter_diag(void *ctx, const char *what, const char *site) {
    diag_filter *d = ctx;
    if (d->sim && d->sim->fail_code)
        return;
    if (d->inner)
        d->inner(d->inner_ctx, what, site);
#ifndef NDEBUG
    else
        fprintf(stderr, "weft: %s: %s\n", site ? site : "?", what);
#endif
}

/* A sweep runs on this thread (or in this worker process): its passing
 * seeds need no strategy text in their results. */
static _Thread_local bool sweeping;

/* The probe runs' diagnostics are the sweep's to report, not theirs. */
static void probe_diag(void *ctx, const char *what, const char *site) {
    (void)ctx;
    (void)what;
    (void)site;
}

/* Runs one seed; with `events` the run's events are handed back (the
 * caller frees them, `ncap` entries long); `x` asks for more (timelines,
 * schedules), or NULL. */
static int run_seed_x(const weft_sim_test *t, const weft_builder *given, weft_sim_result *r,
                      weft__sim_event **events, size_t *nevents, size_t *ncap,
                      const weft__run_extra *x) {
    *r = (weft_sim_result){.seed = given->sim_seed};
    size_t size;
    if (t->size < sizeof(weft_future) || !weft__size_add(&size, t->size, 15)) {
        r->err = WEFT_EINVAL;
        snprintf(r->failure, sizeof r->failure, "the test's size %zu is no future state", t->size);
        return WEFT_EINVAL;
    }
    size &= ~(size_t)15u; /* 16-aligned storage for the body, which may hold anything */
    counting count = {given->allocator, 0};
    weft_builder cfg = *given, *b = &cfg;
    cfg.allocator = (weft_allocator){counting_alloc, counting_free, &count};
    diag_filter diag = {given->on_diagnostic, given->diagnostic_ctx, NULL};
    cfg.on_diagnostic = filter_diag;
    cfg.diagnostic_ctx = &diag;
    weft_runtime *rt;
    int err = weft_runtime_new(b, &rt);
    if (err) {
        r->err = err;
        snprintf(r->failure, sizeof r->failure, "cannot build a sim runtime: %s",
                 weft_strerror(err));
        return err;
    }
    weft__sim *s = weft__sim_of((weft__rt *)rt);
    diag.sim = s;
    s->record = s->record || events != NULL;
    s->ev_alloc = given->allocator; /* handed back past the runtime: not counted */
    if (x) {
        s->record = s->record || x->tl_paths[0] || x->tl_paths[1];
        for (int i = 0; i < 2; i++)
            if (x->tl_paths[i])
                s->tl_paths[i] = x->tl_paths[i];
        if (x->title)
            snprintf(s->tl_title, sizeof s->tl_title, "%s", x->title);
        s->rec = x->rec;
        s->plan = x->plan;
        s->plan_strict = x->strict;
    }
    /* through the builder's allocator, whose blocks are 16-aligned as
     * malloc's (the runtime's task blocks rely on that too) */
    weft_future *body = cfg.allocator.alloc(cfg.allocator.ctx, size);
    if (!body) {
        weft_runtime_free(rt);
        r->err = WEFT_ENOMEM;
        snprintf(r->failure, sizeof r->failure, "out of memory for the test body");
        return WEFT_ENOMEM;
    }
    memset(body, 0, size);
    t->make(body);
    err = weft_runtime_block_on(rt, body, NULL);
    weft__sched_finish(s);
    if (!err && s->fail_code)
        err = s->fail_code;
    if (x && x->preemptions)
        *x->preemptions = s->preemptions;
    if (x && x->faults)
        *x->faults = s->faults;
    int trace_errno = weft__sim_trace_flush(s);
    r->err = err;
    r->fingerprint = weft__sim_digest(s);
    r->steps = s->steps;
    r->events = s->nevents;
    weft__tls saved = weft__cur;
    weft__cur = (weft__tls){.rt = (weft__rt *)rt};
    r->end_time = weft_now();
    weft__cur = saved;
    /* the sweep's passing seeds say nothing: no text made for them */
    if (err || !sweeping)
        snprintf(r->strategy, sizeof r->strategy, "%s", weft__sim_strategy_text(s));
    weft__sim_net_knobs((weft__rt *)rt, r->network, sizeof r->network);
    if (s->fail_code)
        snprintf(r->failure, sizeof r->failure, "%s", s->failure);
    else if (err)
        snprintf(r->failure, sizeof r->failure, "the test body failed: %s", weft_err_name(err));
    if (events) {
        weft__sim_write_timelines(s); /* before the events leave the runtime */
        *events = s->events;
        *nevents = s->record ? s->nevents : 0; /* recording stopped: out of memory */
        *ncap = s->ev_cap;
        s->events = NULL;
        s->ev_cap = 0;
    }
    if (x && x->rec) {
        x->rec->steps = s->steps;
        x->rec->preemptions = s->preemptions;
        x->rec->faults = s->faults;
        x->rec->step_time = s->step_time;
        x->rec->timer_slack = s->timer_slack;
        x->rec->seed = s->seed;
        x->rec->fail_code = s->fail_code ? s->fail_code : err;
        snprintf(x->rec->failure, sizeof x->rec->failure, "%s", r->failure);
    }
    weft_runtime_free(rt);
    cfg.allocator.free(cfg.allocator.ctx, body, size);
    if (trace_errno && !err) { /* a lost trace fails the run: it was asked for */
        err = r->err = WEFT_EIO;
        snprintf(r->failure, sizeof r->failure, "trace %s: %s", given->sim_trace_path,
                 strerror(trace_errno));
    }
    if (count.live && !err) {
        err = r->err = WEFT_EFAILED;
        snprintf(r->failure, sizeof r->failure,
                 "leak: %ld allocation(s) outlived the runtime (a body that stops early "
                 "must drop what it holds: JoinHandles, futures)",
                 count.live);
    }
    return err;
}

static int run_seed(const weft_sim_test *t, const weft_builder *given, weft_sim_result *r,
                    weft__sim_event **events, size_t *nevents, size_t *ncap) {
    return run_seed_x(t, given, r, events, nevents, ncap, NULL);
}

/* A schedule decides every pick, fault and random value, not a strategy;
 * the time its run let pass is the file's (from the seed's own stream). */
static void schedule_builder(weft_builder *b, const weft__schedule *sc) {
    b->sim_seed = sc->seed;
    b->sim_strategy = WEFT_SIM_RANDOM;
    b->sim_step_time = (int64_t)sc->step_time;
    b->sim_timer_slack = (int64_t)sc->timer_slack;
    b->sim_exact_time = true;
}

int weft__sim_run_extra(const weft_sim_test *t, const weft_builder *b, weft_sim_result *r,
                        const weft__run_extra *x) {
    if (!t || !b || !r || !t->make || b->flavor != WEFT_SIM)
        return WEFT_EINVAL;
    return run_seed_x(t, b, r, NULL, NULL, NULL, x);
}

int weft_sim_run(const weft_sim_test *t, const weft_builder *b, weft_sim_result *r) {
    weft_builder def;
    if (!b) {
        weft_builder_init(&def, WEFT_SIM);
        b = &def;
    }
    if (!t || !r || !t->make || b->flavor != WEFT_SIM)
        return WEFT_EINVAL;
    return run_seed(t, b, r, NULL, NULL, NULL);
}

int weft_sim_replay(const weft_sim_test *t, const char *path, const weft_builder *b,
                    weft_sim_result *r) {
    weft_builder def;
    if (!b) {
        weft_builder_init(&def, WEFT_SIM);
        b = &def;
    }
    if (!t || !path || !r || !t->make || b->flavor != WEFT_SIM)
        return WEFT_EINVAL;
    weft__schedule sc;
    *r = (weft_sim_result){0};
    int err = weft__schedule_read(&sc, path, r->failure, sizeof r->failure);
    if (err)
        return r->err = err;
    weft_builder cfg = *b;
    schedule_builder(&cfg, &sc);
    weft__run_extra x = {.plan = &sc, .strict = true};
    err = run_seed_x(t, &cfg, r, NULL, NULL, NULL, &x);
    weft__schedule_free(&sc);
    return err;
}

/* Runs the seed twice, recording; false (with a report) on a mismatch. */
static bool check_determinism(const weft_sim_test *t, const weft_builder *b, weft_sim_result *r) {
    weft__sim_event *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0, c1 = 0, c2 = 0;
    weft_sim_result r2;
    weft_builder quiet = *b;
    quiet.sim_trace_path = NULL;
    run_seed(t, &quiet, r, &e1, &n1, &c1);
    run_seed(t, b, &r2, &e2, &n2, &c2);
    bool same = r->fingerprint == r2.fingerprint && n1 == n2;
    if (!same) {
        size_t i = 0;
        while (i < n1 && i < n2 && e1[i].kind == e2[i].kind && e1[i].a == e2[i].a &&
               e1[i].b == e2[i].b)
            i++;
        char l1[768] = "(no event: the run ended)", l2[768] = "(no event: the run ended)";
        if (i < n1)
            weft__sim_format(&e1[i], l1, sizeof l1);
        if (i < n2)
            weft__sim_format(&e2[i], l2, sizeof l2);
        fprintf(stderr,
                "weft-sim: NONDETERMINISTIC seed=%" PRIu64 ": fingerprints %016" PRIx64
                " and %016" PRIx64 " differ first at event %zu\n  run 1: %s\n  run 2: %s\n",
                r->seed, r->fingerprint, r2.fingerprint, i, l1, l2);
        r->err = WEFT_EFAILED;
        snprintf(r->failure, sizeof r->failure, "nondeterministic: first differing event %zu", i);
    }
    weft_allocator a = b->allocator;
    if (e1)
        a.free(a.ctx, e1, c1 * sizeof *e1);
    if (e2)
        a.free(a.ctx, e2, c2 * sizeof *e2);
    if (same && r2.err && !r->err) /* the second run failed otherwise (trace, memory) */
        *r = r2;
    return same;
}

/* ------------------------------------------------------------- the sweep */

typedef struct sweep {
    const weft_sim_test *t;
    sweep_opts o;
    char prog[512];
    char env[96];         /* strategy_env: for the replay lines */
    uint64_t ran, failed, from_file;
    bool stop;            /* an error every further seed would repeat (the trace) */
    bool shrunk;          /* WEFT_SHRINK: done once per sweep */
    /* which items (schedules, seeds-file lines, fresh seeds, in that
     * order, numbered from 0) this process runs: those of its shard, and
     * of those its job's share */
    uint64_t idx, order;  /* the next item's number; the running one's */
    unsigned jobs, job;
    int fd;               /* a worker's pipe to the parent, or -1 */
    /* the progress line (a terminal only) */
    bool tty, shown;
    double start, last_tick;
    uint64_t total;       /* items of this shard, for the time left */
    uint64_t done_by[1024]; /* the parent: items each worker reported done */
    /* the parent of workers: their reports, to print in seed order */
    struct said *said;
    size_t nsaid, said_cap;
} sweep;

/* A report a worker sent: the item it is about, the text. */
typedef struct said {
    uint64_t order, seq;
    char *text;
} said;

/* PCT's horizon: change points must fall inside the run, and a run's
 * length is known only once it ran.  Shuttle takes the longest run seen
 * so far; here seeds share nothing (one replays alone, from its number),
 * so the sweep and every replay measure the same thing before the first
 * seed that runs PCT: the longest of four probe runs under uniform random,
 * seeds 0-3, with exact time.  It changes only with the test's code. */
static uint64_t probe_horizon(const sweep *sw) {
    uint64_t longest = 0;
    for (uint64_t seed = 0; seed < 4; seed++) {
        weft_builder b;
        builder_for(&b, &sw->o, seed, sw->t);
        b.sim_strategy = WEFT_SIM_RANDOM;
        b.sim_exact_time = true;
        b.sim_trace_path = NULL;
        b.on_diagnostic = NULL;
        weft_sim_result r;
        weft_builder quiet = b;
        quiet.on_diagnostic = probe_diag;
        run_seed(sw->t, &quiet, &r, NULL, NULL, NULL);
        if (r.steps > longest)
            longest = r.steps;
    }
    return longest ? longest : 1;
}

/* ------------------------------------------------------------- crashes
 *
 * A seed that crashes the process (an abort from weft__die, a segfault from
 * a use-after-free the schedule exposed) still prints its replay line: the
 * sweep notes the seed before running it, and a handler for the fatal
 * signals (os.h: weft__os_crash_arm) writes the line (one system call per
 * piece) and re-raises.  Signal dispositions are process-wide; the sweep
 * restores the previous ones when it ends. */

static const sweep *crash_sweep;            /* the sweep running, or NULL */
static volatile uint64_t crash_seed;        /* the seed running */

static void put_str(const char *s) {
    weft__os_write_err(s, strlen(s));
}

static void put_u64(uint64_t v) {
    char d[24];
    int i = (int)sizeof d;
    d[--i] = 0;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) && i > 0);
    put_str(d + i);
}

static void on_fatal(int sig) {
    const sweep *sw = crash_sweep;
    if (sw) {
        uint64_t seed = crash_seed;
        put_str("\nweft-sim: CRASH ");
        put_str(sw->t->name);
        put_str(" seed=");
        put_u64(seed);
        put_str(" (the process died in this seed) replay: WEFT_SEED=");
        put_u64(seed);
        put_str(sw->env);
        put_str(sw->prog);
        put_str(" --test ");
        put_str(sw->t->name);
        put_str("\n");
    }
    weft__os_crash_reraise(sig);
}

static void crash_arm(const sweep *sw, weft__os_crash_saved *saved) {
    weft__os_crash_arm(on_fatal, saved);
    crash_sweep = sw;
}

static void crash_disarm(const weft__os_crash_saved *saved) {
    crash_sweep = NULL;
    weft__os_crash_disarm(saved);
}

/* ------------------------------------------------------ per-run files
 *
 * With WEFT_TRACE=<dir>, a failing seed's run is written as
 * <dir>/<test>-seed<N>.txt (the text trace), .json (Chrome trace events)
 * and .html (the timeline); a sweep runs the failing seed again to write
 * them (runs are deterministic), so passing seeds cost nothing extra.  A
 * replay (WEFT_SEED) writes them from its one run, passing or not. */

typedef struct run_files {
    char txt[1100], json[1100], html[1100], title[256];
} run_files;

static void files_for(const sweep *sw, const char *stem, run_files *rf) {
    size_t n = strlen(sw->o.trace);
    while (n > 1 && sw->o.trace[n - 1] == '/')
        n--;
    snprintf(rf->txt, sizeof rf->txt, "%.*s/%s-%s.txt", (int)n, sw->o.trace, sw->t->name, stem);
    snprintf(rf->json, sizeof rf->json, "%.*s/%s-%s.json", (int)n, sw->o.trace, sw->t->name,
             stem);
    snprintf(rf->html, sizeof rf->html, "%.*s/%s-%s.html", (int)n, sw->o.trace, sw->t->name,
             stem);
    snprintf(rf->title, sizeof rf->title, "%s %s", sw->t->name, stem);
}

/* Runs with the files written (and `plan` replayed strictly, if given). */
static int run_with_files(const sweep *sw, weft_builder *b, const run_files *rf,
                          const weft__schedule *plan, weft_sim_result *r) {
    b->sim_trace_path = rf->txt;
    weft__run_extra x = {.tl_paths = {rf->json, rf->html}, .title = rf->title,
                         .plan = plan, .strict = true};
    return run_seed_x(sw->t, b, r, NULL, NULL, NULL, &x);
}

static void shrink_seed(sweep *sw, uint64_t seed);

/* Clears the progress line, so a report starts at the line's start. */
static void progress_clear(sweep *sw) {
    if (sw->shown) {
        fputs("\r\033[K", stderr);
        sw->shown = false;
    }
}

/* A report of the sweep (a failure, a line that is no seed): on stderr,
 * or from a worker to its parent, which prints them in item order. */
static void say(sweep *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(sweep *sw, const char *fmt, ...) {
    va_list ap;
    if (sw->fd < 0) {
        progress_clear(sw);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        return;
    }
    char buf[4096 + 8];
    weft__sim_put64((unsigned char *)buf, sw->order);
    va_start(ap, fmt);
    int n = vsnprintf(buf + 8, sizeof buf - 8, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf - 8 ? (size_t)n : sizeof buf - 9;
    weft__jobs_send(sw->fd, 'F', buf, 8 + len);
}

/* Whether the next item is this process's to run (and it becomes the
 * running one).  Items go to shards round-robin, and a shard's to its
 * workers round-robin, so the shards of a sweep are disjoint and together
 * the whole sweep. */
static bool take(sweep *sw) {
    uint64_t idx = sw->idx++;
    if (idx % sw->o.shard_n != sw->o.shard_i - 1)
        return false;
    if ((idx / sw->o.shard_n) % sw->jobs != sw->job)
        return false;
    sw->order = idx;
    return true;
}

/* "1234/100000 seeds, 51234 seeds/s, 2 failed, 1.9 s left", on a terminal
 * only and at most five times a second; a log gets the summary alone. */
static void progress_show(sweep *sw, uint64_t done, uint64_t failed) {
    double now = now_s();
    if (now - sw->last_tick < 0.2 || now - sw->start < 0.5)
        return;
    sw->last_tick = now;
    double rate = (double)done / (now - sw->start);
    double left = rate > 0 && sw->total > done ? (double)(sw->total - done) / rate : 0;
    fprintf(stderr, "\r\033[Kweft-sim: %s: %" PRIu64 "/%" PRIu64 " seeds, %.0f seeds/s, %" PRIu64
                    " failed, %.0f s left", sw->t->name, done, sw->total, rate, failed, left);
    sw->shown = true;
}

/* After each item: the progress line (one process), or a worker's count. */
static void progress(sweep *sw) {
    if ((sw->ran & 63) != 0)
        return;
    if (sw->fd >= 0) {
        double now = now_s();
        if (now - sw->last_tick >= 0.2) {
            sw->last_tick = now;
            unsigned char rec[16];
            weft__sim_put64(rec, sw->ran);
            weft__sim_put64(rec + 8, sw->failed);
            weft__jobs_send(sw->fd, 'P', rec, sizeof rec);
        }
    } else if (sw->tty)
        progress_show(sw, sw->ran, sw->failed);
}

/* A trace that cannot be written would be lost for every further seed as
 * well: said once, and the sweep stops (the run counts as failed). */
static bool trace_lost(sweep *sw, const weft_sim_result *r) {
    if (r->err != WEFT_EIO || strncmp(r->failure, "trace ", 6) != 0)
        return false;
    if (!sw->stop)
        say(sw, "weft-sim: %s: %s; sweep stopped\n", sw->t->name, r->failure);
    sw->stop = true;
    return true;
}

static void run_and_report(sweep *sw, uint64_t seed, const char *note) {
    /* the first seed that runs PCT measures the horizon, once */
    if (!sw->o.horizon && (sw->o.strategy == WEFT_SIM_PCT ||
                           (sw->o.strategy == WEFT_SIM_SWARM &&
                            weft__sim_swarm_strategy(seed, NULL) == WEFT_SIM_PCT)))
        sw->o.horizon = probe_horizon(sw);
    weft_builder b;
    builder_for(&b, &sw->o, seed, sw->t);
    crash_seed = seed;
    weft_sim_result r;
    run_files rf;
    char stem[64];
    snprintf(stem, sizeof stem, "seed%" PRIu64, seed);
    if (sw->o.trace_dir)
        files_for(sw, stem, &rf);
    if (sw->o.check)
        check_determinism(sw->t, &b, &r);
    else if (sw->o.trace_dir && sw->o.one)
        run_with_files(sw, &b, &rf, NULL, &r);
    else
        run_seed(sw->t, &b, &r, NULL, NULL, NULL);
    sw->ran++;
    if (!r.err)
        return;
    sw->failed++;
    if (trace_lost(sw, &r))
        return;
    if (sw->failed > 20 && !sw->o.one)
        return; /* the summary still counts them */
    if (sw->o.trace_dir && (sw->o.check || !sw->o.one)) {
        weft_sim_result again;
        builder_for(&b, &sw->o, seed, sw->t);
        run_with_files(sw, &b, &rf, NULL, &again);
        if (trace_lost(sw, &again))
            return;
    }
    say(sw,
            "weft-sim: FAIL %s seed=%" PRIu64 "%s%s fingerprint=%016" PRIx64 " (%s) [%s]%s%s"
            " replay: WEFT_SEED=%" PRIu64 "%.*s%s%s %s --test %s%s%s\n",
            sw->t->name, seed, note ? " from seeds file: " : "", note ? note : "",
            r.fingerprint, r.failure, r.strategy, r.network[0] ? " network: " : "", r.network,
            seed, (int)strlen(sw->env) - 1, sw->env,
            sw->o.trace_dir ? " WEFT_TRACE=" : "", sw->o.trace_dir ? sw->o.trace : "", sw->prog,
            sw->t->name, sw->o.trace_dir ? " timeline: " : "", sw->o.trace_dir ? rf.html : "");
    if (sw->o.shrink && !sw->shrunk) {
        sw->shrunk = true; /* the first failing seed of a sweep; or the one replayed */
        shrink_seed(sw, seed);
    }
}

/* ------------------------------------------------------------ schedules */

/* Replays a schedule file strictly: it must fit the code decision by
 * decision, or the run fails saying where. */
static void replay_schedule(sweep *sw, const char *path, const char *note) {
    weft__schedule sc;
    char why[1100];
    sw->ran++;
    int err = weft__schedule_read(&sc, path, why, sizeof why);
    if (err) {
        sw->failed++;
        say(sw, "weft-sim: FAIL %s schedule=%s%s (cannot replay it: %s)\n", sw->t->name,
                path, note ? note : "", why);
        return;
    }
    weft_builder b;
    builder_for(&b, &sw->o, sc.seed, sw->t);
    schedule_builder(&b, &sc);
    crash_seed = sc.seed;
    weft_sim_result r;
    run_files rf;
    if (sw->o.trace_dir) {
        /* seeds/<test>-seed6.sched -> <dir>/<test>-schedule-seed6.html */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t len = strlen(sw->t->name);
        if (strncmp(base, sw->t->name, len) == 0 && (base[len] == '-' || base[len] == '.'))
            base += len + (base[len] == '-');
        char stem[300];
        snprintf(stem, sizeof stem, "schedule%s%s", *base && *base != '.' ? "-" : "", base);
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = 0;
        files_for(sw, stem, &rf);
        run_with_files(sw, &b, &rf, &sc, &r);
    } else {
        weft__run_extra x = {.plan = &sc, .strict = true};
        run_seed_x(sw->t, &b, &r, NULL, NULL, NULL, &x);
    }
    weft__schedule_free(&sc);
    if (!r.err)
        return;
    sw->failed++;
    if (trace_lost(sw, &r))
        return;
    say(sw,
            "weft-sim: FAIL %s schedule=%s%s fingerprint=%016" PRIx64 " (%s) replay: "
            "WEFT_SCHEDULE=%s %s --test %s%s%s\n",
            sw->t->name, path, note ? note : "", r.fingerprint, r.failure, path, sw->prog,
            sw->t->name, sw->o.trace_dir ? " timeline: " : "", sw->o.trace_dir ? rf.html : "");
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays <seeds_dir>/<name>.sched and <name>-*.sched, in name order. */
static void replay_schedule_files(sweep *sw, const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[256];
    size_t n = 0, len = strlen(sw->t->name);
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        const char *nm = e->d_name;
        size_t l = strlen(nm);
        if (l < len + 6 || strncmp(nm, sw->t->name, len) != 0 || strcmp(nm + l - 6, ".sched"))
            continue;
        if (nm[len] != '.' && nm[len] != '-')
            continue;
        if (nm[len] == '.' && l != len + 6)
            continue;
        char *copy = malloc(l + 1);
        if (copy) {
            memcpy(copy, nm, l + 1);
            names[n++] = copy;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!sw->stop && take(sw)) {
            sw->from_file++;
            replay_schedule(sw, path, " from seeds dir");
        }
        free(names[i]);
    }
}

/* WEFT_SHRINK: the failing seed's decisions, made smaller, as a schedule
 * file; and with WEFT_TRACE=<dir>, the shrunk run's files beside the
 * seed's. */
static void shrink_seed(sweep *sw, uint64_t seed) {
    weft_builder b;
    builder_for(&b, &sw->o, seed, sw->t);
    b.sim_trace_path = NULL;
    weft__schedule sc;
    weft__shrink_stats st;
    int err = weft__sim_shrink(sw->t, &b, sw->o.shrink_runs, (double)sw->o.shrink_ms / 1e3, &sc,
                               &st);
    if (err) {
        say(sw, "weft-sim: cannot shrink %s seed=%" PRIu64 ": %s\n", sw->t->name, seed,
                err == WEFT_EINVAL ? "it does not fail on its own (without the sweep)"
                                   : weft_strerror(err));
        return;
    }
    char path[1100];
    if (sw->o.shrink_out)
        snprintf(path, sizeof path, "%s", sw->o.shrink_out);
    else if (sw->o.trace_dir) {
        size_t n = strlen(sw->o.trace);
        while (n > 1 && sw->o.trace[n - 1] == '/')
            n--;
        snprintf(path, sizeof path, "%.*s/%s-seed%" PRIu64 ".sched", (int)n, sw->o.trace,
                 sw->t->name, seed);
    } else
        snprintf(path, sizeof path, "%s-seed%" PRIu64 ".sched", sw->t->name, seed);
    err = weft__schedule_write(&sc, path);
    if (err) {
        say(sw, "weft-sim: cannot write the schedule %s: %s\n", path, weft_strerror(err));
        weft__schedule_free(&sc);
        return;
    }
    say(sw,
            "weft-sim: SHRUNK %s seed=%" PRIu64 ": steps %" PRIu64 " -> %" PRIu64
            ", preemptions %" PRIu64 " -> %" PRIu64 ", faults %" PRIu64 " -> %" PRIu64
            ", decisions %" PRIu64 " -> %" PRIu64 "; %" PRIu64 " runs in %.3f s%s; schedule: %s"
            " replay: WEFT_SCHEDULE=%s %s --test %s\n",
            sw->t->name, seed, st.steps[0], st.steps[1], st.preemptions[0], st.preemptions[1],
            st.faults[0], st.faults[1], st.decisions[0], st.decisions[1], st.runs, st.secs,
            st.budget_hit ? " (budget reached: WEFT_SHRINK_RUNS / WEFT_SHRINK_MS)" : "", path,
            path, sw->prog, sw->t->name);
    if (sw->o.trace_dir) {
        run_files rf;
        char stem[64];
        snprintf(stem, sizeof stem, "seed%" PRIu64 "-shrunk", seed);
        files_for(sw, stem, &rf);
        weft_sim_result r;
        builder_for(&b, &sw->o, seed, sw->t);
        schedule_builder(&b, &sc);
        run_with_files(sw, &b, &rf, &sc, &r);
        say(sw, "weft-sim: shrunk run of %s seed=%" PRIu64 ": timeline: %s\n",
                sw->t->name, seed, rf.html);
    }
    weft__schedule_free(&sc);
}

/* Replays the schedules kept in the seeds dir, then <seeds_dir>/<name>.txt:
 * "seed  note" per line, '#' comments.  A line that is no seed (or too
 * long to be one line) fails the sweep with its file and line number, and
 * is not run. */
static void replay_file(sweep *sw) {
    const char *dir = getenv("WEFT_SEEDS_DIR");
    bool from_env = dir && *dir;
    if (!from_env)
        dir = sw->t->seeds_dir;
    if (!dir)
        return;
    (void)from_env;
    replay_schedule_files(sw, dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.txt", dir, sw->t->name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    unsigned lineno = 0;
    while (!sw->stop && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            if (take(sw)) {
                say(sw, "weft-sim: %s:%u: line longer than %zu bytes, not run\n", path, lineno,
                    sizeof line - 2);
                sw->failed++;
            }
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n') /* its tail is no line of its own */
                ;
            continue;
        }
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        const char *endc;
        uint64_t seed;
        if (!take(sw))
            continue; /* another shard's or worker's */
        if (!weft__parse_u64(p, &seed, &endc) || (*endc && !isspace((unsigned char)*endc))) {
            p[strcspn(p, "\n")] = 0;
            say(sw, "weft-sim: %s:%u: \"%s\" is no seed (a number from 0 to 2^64-1, "
                    "decimal or 0x hex, then a note), not run\n", path, lineno, p);
            sw->failed++;
            continue;
        }
        char *end = (char *)endc;
        while (isspace((unsigned char)*end))
            end++;
        end[strcspn(end, "\n")] = 0;
        sw->from_file++;
        run_and_report(sw, seed, *end ? end : "(no note)");
        progress(sw);
    }
    fclose(f);
}

/* The trace path (a file, or the directory of per-seed files), checked
 * once before any seed: a path that cannot be written fails the sweep
 * with the path and the reason. */
static bool trace_writable(const char *path, bool dir) {
    if (!path || strcmp(path, "-") == 0)
        return true;
    if (dir) { /* files per failing seed go there */
        if (access(path, W_OK | X_OK) == 0)
            return true;
        fprintf(stderr, "weft-sim: WEFT_TRACE=%s: cannot write into the directory: %s\n", path,
                strerror(errno));
        return false;
    }
    FILE *f = fopen(path, "w");
    int e = f ? 0 : errno;
    if (f && (fputs("# weft sim trace\n", f) < 0 || fflush(f) != 0))
        e = errno ? errno : EIO;
    if (f)
        fclose(f);
    if (e)
        fprintf(stderr, "weft-sim: WEFT_TRACE=%s: cannot write the trace: %s\n", path, strerror(e));
    return e == 0;
}

/* The seeds directory of a sweep (WEFT_SEEDS_DIR, else the test's),
 * checked before any seed: a missing one would silently stop its seeds
 * guarding their bugs (a moved checkout, a typo). */
static bool seeds_dir_ok(const weft_sim_test *t) {
    const char *dir = getenv("WEFT_SEEDS_DIR");
    bool from_env = dir && *dir;
    if (!from_env)
        dir = t->seeds_dir;
    struct stat st;
    if (!dir)
        return true;
    int e = stat(dir, &st) == 0 ? 0 : errno;
    if (!e && S_ISDIR(st.st_mode))
        return true;
    if (from_env)
        fprintf(stderr, "weft-sim: WEFT_SEEDS_DIR=%s: cannot read the seeds directory: %s\n", dir,
                e ? strerror(e) : "not a directory");
    else
        fprintf(stderr, "weft-sim: %s: cannot read its seeds directory %s: %s\n", t->name, dir,
                e ? strerror(e) : "not a directory");
    return false;
}

/* The items of a sweep that are this process's: the seeds dir's
 * schedules and seeds file, then the fresh seeds. */
static void sweep_items(sweep *sw) {
    replay_file(sw);
    for (uint64_t i = 0; i < sw->o.seeds && !sw->stop; i++)
        if (take(sw)) {
            run_and_report(sw, sw->o.base + i, NULL);
            progress(sw);
        }
}

/* How many processes a sweep of `seeds` fresh seeds runs on: WEFT_JOBS,
 * else the cores for a sweep big enough to be worth the forks (a small
 * one takes well under a second, and a test that counts its runs in
 * memory sees them all).  One where a run must stay in this process:
 * shrinking (the first failing seed of the sweep), and a trace written to
 * one file (every run appends to it, in order). */
#define PARALLEL_MIN_SEEDS 20000
static unsigned sweep_jobs(const sweep_opts *o, uint64_t seeds) {
    if (o->shrink || (o->trace && !o->trace_dir))
        return 1;
    unsigned jobs = o->jobs ? o->jobs : seeds >= PARALLEL_MIN_SEEDS ? weft__cpu_count() : 1;
    if (jobs > seeds && seeds > 0)
        jobs = (unsigned)seeds;
    return jobs ? jobs : 1;
}

/* "strategy swarm (each seed: random or pct depth 2-5, horizon 40, time
 * passing or not)", for the summary. */
static void describe_sweep(const sweep *sw, char *buf, size_t n) {
    char horizon[40] = "";
    if (sw->o.horizon)
        snprintf(horizon, sizeof horizon, ", horizon %" PRIu64, sw->o.horizon);
    if (sw->o.strategy == WEFT_SIM_SWARM)
        snprintf(buf, n, "strategy swarm (each seed draws random or pct depth 2-5%s, %s)", horizon,
                 sw->t->exact_time ? "exact time" : "steps costing 0-3 ms, timers 0-10 ms late");
    else if (sw->o.strategy == WEFT_SIM_PCT)
        snprintf(buf, n, "strategy pct (depth %u%s)", sw->o.depth ? (unsigned)sw->o.depth : 3,
                 horizon);
    else
        snprintf(buf, n, "strategy random");
}

/* ------------------------------------------------------- worker processes */

static void worker(void *ctx, unsigned job, int fd) {
    sweep *sw = ctx;
    sw->job = job;
    sw->fd = fd;
    sw->tty = false;
    sw->last_tick = 0;
    sweep_items(sw);
    unsigned char end[24];
    weft__sim_put64(end, sw->ran);
    weft__sim_put64(end + 8, sw->failed);
    weft__sim_put64(end + 16, sw->from_file);
    weft__jobs_send(fd, 'E', end, sizeof end);
}

static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void keep_said(sweep *sw, uint64_t order, const char *text, size_t len) {
    if (sw->nsaid == sw->said_cap) {
        size_t cap = sw->said_cap ? sw->said_cap * 2 : 32;
        said *a = realloc(sw->said, cap * sizeof *a);
        if (!a) { /* out of memory: print it now rather than lose it */
            fprintf(stderr, "%.*s", (int)len, text);
            return;
        }
        sw->said = a;
        sw->said_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        fprintf(stderr, "%.*s", (int)len, text);
        return;
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    sw->said[sw->nsaid] = (said){order, sw->nsaid, copy};
    sw->nsaid++;
}

static void on_record(void *ctx, unsigned job, char type, const void *data, size_t len) {
    sweep *sw = ctx;
    const unsigned char *p = data;
    if (type == 'F' && len >= 8)
        keep_said(sw, get64(p), (const char *)p + 8, len - 8);
    else if (type == 'P' && len == 16 && job < 1024)
        sw->done_by[job] = get64(p);
    else if (type == 'E' && len == 24) {
        sw->ran += get64(p);
        sw->failed += get64(p + 8);
        sw->from_file += get64(p + 16);
        if (job < 1024)
            sw->done_by[job] = 0;
    }
}

static void on_tick(void *ctx) {
    sweep *sw = ctx;
    if (!sw->tty)
        return;
    uint64_t done = sw->ran;
    for (unsigned i = 0; i < sw->jobs && i < 1024; i++)
        done += sw->done_by[i];
    progress_show(sw, done, sw->failed);
}

static void on_death(void *ctx, unsigned job, int sig, int status) {
    sweep *sw = ctx;
    char line[200];
    int n = snprintf(line, sizeof line,
                     "weft-sim: %s: worker process %u of %u %s %d; the seeds it had left did "
                     "not run\n", sw->t->name, job + 1, sw->jobs,
                     sig ? "died of signal" : "exited with status", sig ? sig : status);
    keep_said(sw, UINT64_MAX, line, n > 0 ? (size_t)n : 0);
    sw->failed++;
}

static int by_order(const void *a, const void *b) {
    const said *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Runs the sweep's items on `jobs` worker processes and prints what they
 * said in item order (so in seed order, as one process would): at most
 * 20 failing seeds' lines, as one process does.  False where there are
 * no processes to be had: the caller runs it here. */
static bool run_workers(sweep *sw, unsigned jobs) {
    sw->jobs = jobs;
    weft__jobs_hooks h = {sw, worker, on_record, on_tick, on_death};
    int err = weft__jobs_run(jobs, &h);
    if (err == WEFT_ENOTSUP || (err && sw->ran == 0 && sw->nsaid == 0)) {
        if (sw->o.jobs > 1) /* asked for: say why it runs on one */
            fprintf(stderr, "weft-sim: WEFT_JOBS=%u: %s; the sweep runs in this process\n",
                    sw->o.jobs, err == WEFT_ENOTSUP ? "no fork on this system" : weft_strerror(err));
        sw->jobs = 1;
        return false;
    }
    progress_clear(sw);
    qsort(sw->said, sw->nsaid, sizeof *sw->said, by_order);
    size_t fails = 0;
    for (size_t i = 0; i < sw->nsaid; i++) {
        bool fail_line = strncmp(sw->said[i].text, "weft-sim: FAIL ", 15) == 0;
        if (!fail_line || ++fails <= 20)
            fputs(sw->said[i].text, stderr);
        free(sw->said[i].text);
    }
    sw->nsaid = 0;
    return true;
}

int weft_sim_sweep(const weft_sim_test *t) {
    if (!t || !t->make)
        return 1;
    sweep sw = {.t = t, .o = read_opts()};
    if (sw.o.bad || !trace_writable(sw.o.trace, sw.o.trace_dir) ||
        (!sw.o.one && !sw.o.schedule && !seeds_dir_ok(t)))
        return 1; /* said why; nothing run */
    program_name(sw.prog, sizeof sw.prog);
    strategy_env(&sw.o, sw.env, sizeof sw.env);
    sw.fd = -1;
    sw.jobs = 1;
    sw.tty = isatty(2) && !sw.o.quiet;
    sw.start = now_s();
    uint64_t shard_seeds = sw.o.seeds / sw.o.shard_n +
                           (sw.o.shard_i - 1 < sw.o.seeds % sw.o.shard_n);
    sw.total = shard_seeds;
    weft__os_crash_saved saved;
    crash_arm(&sw, &saved);
    sweeping = true;
    if (sw.o.schedule) {
        replay_schedule(&sw, sw.o.schedule, NULL);
    } else if (sw.o.one) {
        run_and_report(&sw, sw.o.seed, NULL);
    } else {
        unsigned jobs = sweep_jobs(&sw.o, shard_seeds);
        if (jobs > 1 && sw.o.strategy != WEFT_SIM_RANDOM)
            sw.o.horizon = probe_horizon(&sw); /* once, for every worker */
        if (jobs <= 1 || !run_workers(&sw, jobs))
            sweep_items(&sw);
    }
    sweeping = false;
    crash_disarm(&saved);
    progress_clear(&sw);
    double secs = now_s() - sw.start;
    char strategy[200], shard[48] = "", jobs[32] = "";
    describe_sweep(&sw, strategy, sizeof strategy);
    if (sw.o.shard_n > 1)
        snprintf(shard, sizeof shard, ", shard %" PRIu64 "/%" PRIu64, sw.o.shard_i, sw.o.shard_n);
    if (sw.jobs > 1)
        snprintf(jobs, sizeof jobs, ", %u processes", sw.jobs);
    if (!sw.o.quiet || sw.failed)
        fprintf(stderr,
                "weft-sim: %s: %" PRIu64 " seed(s) run (%" PRIu64 " from seeds file), %" PRIu64
                " failed, %.3f s, %.0f seeds/s%s%s%s; %s\n",
                t->name, sw.ran, sw.from_file, sw.failed, secs,
                secs > 0 ? (double)sw.ran / secs : 0.0,
                sw.o.check ? ", determinism checked" : "", shard, jobs, strategy);
    free(sw.said);
    return sw.failed > (uint64_t)INT32_MAX ? INT32_MAX : (int)sw.failed;
}

void weft__sim_test_args(int argc, char **argv, void (*set_filter)(const char *pattern)) {
    if (!argv || !set_filter)
        return;
    for (int i = 1; i + 1 < argc; i++)
        if (argv[i] && strcmp(argv[i], "--test") == 0)
            set_filter(argv[i + 1]);
}

/* cmocka's test filter patterns: '*' any run, '?' any one character. */
static bool glob_match(const char *pat, const char *s) {
    if (!*pat)
        return !*s;
    if (*pat == '*')
        return glob_match(pat + 1, s) || (*s && glob_match(pat, s + 1));
    return *s && (*pat == '?' || *pat == *s) && glob_match(pat + 1, s + 1);
}

bool weft__sim_filter_matches(int argc, char **argv, const char *const *first, size_t stride,
                              size_t n) {
    const char *pattern = NULL;
    for (int i = 1; argv && i + 1 < argc; i++)
        if (argv[i] && strcmp(argv[i], "--test") == 0)
            pattern = argv[i + 1];
    if (!pattern || !first)
        return true;
    const char *name;
    for (size_t i = 0; i < n; i++) {
        memcpy(&name, (const char *)first + i * stride, sizeof name);
        if (name && glob_match(pattern, name))
            return true;
    }
    char list[512];
    size_t at = 0;
    list[0] = 0;
    for (size_t i = 0; i < n && at < sizeof list; i++) {
        memcpy(&name, (const char *)first + i * stride, sizeof name);
        int w = snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", name ? name : "?");
        at += w > 0 ? (size_t)w : 0;
    }
    fprintf(stderr, "weft-sim: --test %s: no test of that name (the tests: %s)\n", pattern, list);
    return false;
}

_Noreturn void weft__sim_abort(const char *name, int failures) {
    fprintf(stderr, "weft-sim: %s: %d failing seed(s)\n", name, failures);
    exit(1);
}
