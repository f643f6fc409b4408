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
    int strategy;        /* WEFT_SIM_STRATEGY */
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

/* A seed or a count: decimal digits, or 0x and hex digits, nothing else
 * (strtoull alone takes "-1" as 2^64-1, "12abc" as 12 and "0x" as 0).
 * The end of the number is returned in *end (NULL: it must end the text). */
static bool parse_u64(const char *p, uint64_t *out, const char **end) {
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!(base == 16 ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)))
        return false;
    char *stop;
    errno = 0;
    unsigned long long x = strtoull(p, &stop, base);
    if (errno)
        return false;
    if (end)
        *end = stop;
    else if (*stop)
        return false;
    *out = x;
    return true;
}

/* Reads a numeric knob; a malformed value is rejected with one line. */
static bool env_u64(sweep_opts *o, const char *name, uint64_t *out) {
    const char *v = getenv(name);
    if (!v || !*v)
        return false;
    if (!parse_u64(v, out, NULL)) {
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
    o.strategy = WEFT_SIM_RANDOM;
    if (st && *st && strcmp(st, "pct") == 0)
        o.strategy = WEFT_SIM_PCT;
    else if (st && *st && strcmp(st, "random") != 0) {
        fprintf(stderr, "weft-sim: WEFT_SIM_STRATEGY=%s: not a strategy (random or pct)\n", st);
        o.bad = true;
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
    return o;
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
    cfg.sim_seed = sc.seed;
    cfg.sim_strategy = WEFT_SIM_RANDOM; /* the schedule decides */
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
    uint64_t ran, failed, from_file;
    bool stop;            /* an error every further seed would repeat (the trace) */
    bool shrunk;          /* WEFT_SHRINK: done once per sweep */
} sweep;

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
        put_str(sw->o.strategy == WEFT_SIM_PCT ? " WEFT_SIM_STRATEGY=pct " : " ");
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

/* A trace that cannot be written would be lost for every further seed as
 * well: said once, and the sweep stops (the run counts as failed). */
static bool trace_lost(sweep *sw, const weft_sim_result *r) {
    if (r->err != WEFT_EIO || strncmp(r->failure, "trace ", 6) != 0)
        return false;
    if (!sw->stop)
        fprintf(stderr, "weft-sim: %s: %s; sweep stopped\n", sw->t->name, r->failure);
    sw->stop = true;
    return true;
}

static void run_and_report(sweep *sw, uint64_t seed, const char *note) {
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
    fprintf(stderr,
            "weft-sim: FAIL %s seed=%" PRIu64 "%s%s fingerprint=%016" PRIx64 " (%s)%s%s"
            " replay: WEFT_SEED=%" PRIu64 "%s%s%s %s --test %s%s%s\n",
            sw->t->name, seed, note ? " from seeds file: " : "", note ? note : "",
            r.fingerprint, r.failure, r.network[0] ? " network: " : "", r.network, seed,
            sw->o.strategy == WEFT_SIM_PCT ? " WEFT_SIM_STRATEGY=pct" : "",
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
        fprintf(stderr, "weft-sim: FAIL %s schedule=%s%s (cannot replay it: %s)\n", sw->t->name,
                path, note ? note : "", why);
        return;
    }
    weft_builder b;
    builder_for(&b, &sw->o, sc.seed, sw->t);
    b.sim_strategy = WEFT_SIM_RANDOM; /* the schedule decides, not a strategy */
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
    fprintf(stderr,
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
        if (!sw->stop) {
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
        fprintf(stderr, "weft-sim: cannot shrink %s seed=%" PRIu64 ": %s\n", sw->t->name, seed,
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
        fprintf(stderr, "weft-sim: cannot write the schedule %s: %s\n", path, weft_strerror(err));
        weft__schedule_free(&sc);
        return;
    }
    fprintf(stderr,
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
        b.sim_strategy = WEFT_SIM_RANDOM;
        run_with_files(sw, &b, &rf, &sc, &r);
        fprintf(stderr, "weft-sim: shrunk run of %s seed=%" PRIu64 ": timeline: %s\n",
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
    if (!dir || !*dir)
        dir = sw->t->seeds_dir;
    if (!dir)
        return;
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
            fprintf(stderr, "weft-sim: %s:%u: line longer than %zu bytes, not run\n", path, lineno,
                    sizeof line - 2);
            sw->failed++;
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
        if (!parse_u64(p, &seed, &endc) || (*endc && !isspace((unsigned char)*endc))) {
            p[strcspn(p, "\n")] = 0;
            fprintf(stderr, "weft-sim: %s:%u: \"%s\" is no seed (a number from 0 to 2^64-1, "
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

int weft_sim_sweep(const weft_sim_test *t) {
    if (!t || !t->make)
        return 1;
    sweep sw = {.t = t, .o = read_opts()};
    if (sw.o.bad || !trace_writable(sw.o.trace, sw.o.trace_dir))
        return 1; /* said why; nothing run */
    program_name(sw.prog, sizeof sw.prog);
    double start = now_s();
    weft__os_crash_saved saved;
    crash_arm(&sw, &saved);
    if (sw.o.schedule) {
        replay_schedule(&sw, sw.o.schedule, NULL);
    } else if (sw.o.one) {
        run_and_report(&sw, sw.o.seed, NULL);
    } else {
        replay_file(&sw);
        for (uint64_t i = 0; i < sw.o.seeds && !sw.stop; i++)
            run_and_report(&sw, sw.o.base + i, NULL);
    }
    crash_disarm(&saved);
    double secs = now_s() - start;
    if (!sw.o.quiet || sw.failed)
        fprintf(stderr,
                "weft-sim: %s: %" PRIu64 " seed(s) run (%" PRIu64 " from seeds file), %" PRIu64
                " failed, %.3f s, %.0f seeds/s%s\n",
                t->name, sw.ran, sw.from_file, sw.failed, secs,
                secs > 0 ? (double)sw.ran / secs : 0.0,
                sw.o.check ? ", determinism checked" : "");
    return sw.failed > (uint64_t)INT32_MAX ? INT32_MAX : (int)sw.failed;
}

void weft__sim_test_args(int argc, char **argv, void (*set_filter)(const char *pattern)) {
    if (!argv || !set_filter)
        return;
    for (int i = 1; i + 1 < argc; i++)
        if (argv[i] && strcmp(argv[i], "--test") == 0)
            set_filter(argv[i + 1]);
}

_Noreturn void weft__sim_abort(const char *name, int failures) {
    fprintf(stderr, "weft-sim: %s: %d failing seed(s)\n", name, failures);
    exit(1);
}
