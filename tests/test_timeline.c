/* weft tests — seeing and shrinking a simulated run: the timeline (Chrome
 * trace-event JSON, the HTML page), the per-failing-seed files of a sweep,
 * the text trace's clock, schedules (record, strict replay, refusal at the
 * first decision that does not fit, schedules in the seeds dir), the
 * shrinker, and a production runtime's timeline (WEFT_TIMELINE). */
#include "harness.h"
#include "sim_capture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/sim.h"
#include "rt.h"

/* ------------------------------------------------------------- helpers */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = 0;
    fclose(f);
    return buf;
}

/* Occurrences of `needle`; by hand, because a sanitizer's strstr reads
 * the whole rest of the haystack on every call (quadratic on 10 MB). */
static int count(const char *hay, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (*p == needle[0] && strncmp(p, needle, len) == 0) {
            n++;
            p += len - 1;
        }
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Removes a directory of plain files. */
static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}


/* The text after `key` on the first line holding it, up to a space. */
static void field(const char *out, const char *key, char *val, size_t n) {
    const char *p = strstr(out, key);
    assert_non_null(p);
    p += strlen(key);
    size_t k = strcspn(p, " \n");
    assert_true(k < n);
    memcpy(val, p, k);
    val[k] = 0;
}

/* ------------------------------------------------------------ workloads */

/* sleeps 100 ms: the wheel files it at level 1, which cascades at 64 ms */
typedef struct napper {
    weft_future base;
    weft_sleep nap;
} napper;
static weft_poll napper_poll(weft_future *f, weft_context *cx, void *out) {
    napper *self = (napper *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(100)), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(napper, napper_poll, NULL);
static void make_napper(weft_future *slot) { *(napper *)slot = WEFT_NEW(napper); }
static const weft_sim_test napper_test = {"napper", make_napper, sizeof(napper), NULL, NULL, false};

/* A lost update: each adder reads, awaits a round trip, writes back +1.
 * The second adder first does `lookups` round trips, so the race needs
 * the scheduler to let it catch up inside the first one's window. */
typedef struct adder {
    weft_future base;
    int *shared;
    int lookups, i, seen;
    weft_yield_now y;
} adder;
static weft_poll adder_poll(weft_future *f, weft_context *cx, void *out) {
    adder *self = (adder *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (self->i = 0; self->i < self->lookups; self->i++)
        WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
    self->seen = *self->shared;
    weft_sim_note("read %d", self->seen);
    WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
    *self->shared = self->seen + 1;
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(adder, adder_poll, NULL);

typedef struct race {
    weft_future base;
    int shared;
    weft_join_handle a, b;
} race;
static weft_poll race_poll(weft_future *f, weft_context *cx, void *out) {
    race *self = (race *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(adder, .shared = &self->shared, .lookups = 0), &self->a);
    weft_spawn(&WEFT_NEW(adder, .shared = &self->shared, .lookups = 4), &self->b);
    WEFT_AWAIT(f, cx, weft_join(&self->a), NULL);
    WEFT_AWAIT(f, cx, weft_join(&self->b), NULL);
    WEFT_SIM_ASSERT(f, cx, self->shared == 2);
    WEFT_END(f);
}
static void race_drop(weft_future *f) {
    race *self = (race *)f;
    weft_join_detach(&self->a);
    weft_join_detach(&self->b);
}
WEFT_FUTURE_DEFINE_VOID(race, race_poll, race_drop);
static void make_race(weft_future *slot) { *(race *)slot = WEFT_NEW(race); }
static const weft_sim_test race_test = {"race", make_race, sizeof(race), NULL, NULL, false};

/* Workers that sleep random times and take fault points, then a body that
 * always fails: every decision kind in one run, and nothing of it needed
 * for the failure. */
typedef struct busy {
    weft_future base;
    int i;
    weft_sleep nap;
    weft_yield_now y;
} busy;
static weft_poll busy_poll(weft_future *f, weft_context *cx, void *out) {
    busy *self = (busy *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (self->i = 0; self->i < 4; self->i++) {
        if (WEFT_BUGGIFY_P(50))
            WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
        if (WEFT_BUGGIFY_P(50))
            WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
        if (WEFT_BUGGIFY_P(50))
            WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
        WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS((int64_t)weft_random_below(5))), NULL);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(busy, busy_poll, NULL);

typedef struct doomed {
    weft_future base;
    int i;
    weft_join_handle jh[3];
} doomed;
static weft_poll doomed_poll(weft_future *f, weft_context *cx, void *out) {
    doomed *self = (doomed *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (self->i = 0; self->i < 3; self->i++)
        weft_spawn(&WEFT_NEW(busy), &self->jh[self->i]);
    for (self->i = 0; self->i < 3; self->i++)
        WEFT_AWAIT(f, cx, weft_join(&self->jh[self->i]), NULL);
    WEFT_SIM_ASSERT(f, cx, self->i == 0); /* always fails, at the end */
    WEFT_END(f);
}
static void doomed_drop(weft_future *f) {
    doomed *self = (doomed *)f;
    for (int i = 0; i < 3; i++)
        weft_join_detach(&self->jh[i]);
}
WEFT_FUTURE_DEFINE_VOID(doomed, doomed_poll, doomed_drop);
static void make_doomed(weft_future *slot) { *(doomed *)slot = WEFT_NEW(doomed); }
static const weft_sim_test doomed_test = {"doomed", make_doomed, sizeof(doomed), NULL, NULL, false};

/* --------------------------------------------------------- the text trace */

/* The wheel puts a 100 ms timer in a level-1 slot that turns at 64 ms;
 * the clock used to stop there (a "time now=0.064" line) before firing. */
static void sleep_100ms_shows_one_clock_step(void **state) {
    (void)state;
    char path[] = "/tmp/weft-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_trace_path = path;
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&napper_test, &b, &r), 0);
    char *text = slurp(path);
    unlink(path);
    assert_non_null(text);
    assert_int_equal(count(text, " time now="), 1);
    assert_non_null(strstr(text, " time now=0.100000000"));
    assert_int_equal(r.end_time, WEFT_MS(100));
    free(text);
}

/* ------------------------------------------------------------ timelines */

static char *timeline_of(const weft_sim_test *t, uint64_t seed, const char *ext,
                         weft_sim_result *r) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-tl-%d.%s", (int)getpid(), ext);
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_trace_path = path;
    weft_sim_run(t, &b, r);
    char *text = slurp(path);
    unlink(path);
    assert_non_null(text);
    return text;
}

static uint64_t first_failing_seed(const weft_sim_test *t) {
    for (uint64_t seed = 0; seed < 1000; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        weft_sim_result r;
        if (weft_sim_run(t, &b, &r))
            return seed;
    }
    fail_msg("no failing seed among 1000");
    return 0;
}

static void timeline_json_has_tracks_slices_and_flows(void **state) {
    (void)state;
    weft_sim_result r;
    char *j = timeline_of(&race_test, first_failing_seed(&race_test), "json", &r);
    /* the trace-event format's object form */
    assert_true(strncmp(j, "{\"displayTimeUnit\":\"ns\"", 23) == 0);
    assert_non_null(strstr(j, "\"traceEvents\":["));
    /* tracks: the clock, block_on's future, one per task, in that order */
    assert_non_null(strstr(j, "\"name\":\"thread_name\",\"args\":{\"name\":\"sim clock"));
    assert_non_null(strstr(j, "{\"name\":\"root (block_on's future)\"}"));
    assert_non_null(strstr(j, "{\"name\":\"task 1 ("));
    assert_non_null(strstr(j, "{\"name\":\"task 2 ("));
    assert_int_equal(count(j, "\"name\":\"thread_name\""), 4);
    /* a slice per step, each with its step and trace line */
    assert_int_equal(count(j, "{\"ph\":\"X\""), (int)r.steps + count(j, "\"cat\":\"clock\""));
    assert_int_equal(count(j, "\"cat\":\"poll\""), (int)r.steps);
    assert_non_null(strstr(j, "\"trace\":\"0 pick root of=1\""));
    /* flows: each spawn to the task's first poll, a start and a finish */
    assert_int_equal(count(j, "{\"ph\":\"s\""), count(j, "{\"ph\":\"f\""));
    assert_true(count(j, "\"cat\":\"spawn\",\"name\":\"spawn task") >= 4); /* s, f, and instants */
    /* notes and the failure are instants; the failure is marked */
    assert_non_null(strstr(j, "\"cat\":\"note\",\"name\":\"read 0\""));
    assert_int_equal(r.err, WEFT_EFAILED);
    assert_int_equal(count(j, "\"failure\":true"), 1);
    assert_non_null(strstr(j, "\"failure\":\"../tests/test_timeline.c:"));
    /* nothing a browser would read as markup */
    assert_null(strchr(strstr(j, "\"traceEvents\""), '<'));
    free(j);
}

/* Steps at one virtual instant are still ordered: slice timestamps rise. */
static void timeline_orders_steps_at_one_instant(void **state) {
    (void)state;
    weft_sim_result r;
    char *j = timeline_of(&race_test, 3, "json", &r);
    double last = -1;
    int slices = 0;
    for (char *p = j; (p = strstr(p, "{\"ph\":\"X\"")); p++) {
        char *ts = strstr(p, "\"ts\":");
        assert_non_null(ts);
        double v = strtod(ts + 5, NULL);
        assert_true(v > last);
        last = v;
        slices++;
    }
    assert_int_equal(slices, (int)r.steps);
    assert_true(strstr(j, "\"vt_ns\":0") != NULL); /* all at virtual time 0 */
    free(j);
}

/* Timer wakes come from the clock's track: a flow of category timer. */
static void timeline_timer_wake_flows_from_the_clock(void **state) {
    (void)state;
    weft_sim_result r;
    char *j = timeline_of(&napper_test, 0, "json", &r);
    assert_non_null(strstr(j, "{\"ph\":\"s\",\"pid\":1,\"tid\":1,"));
    assert_non_null(strstr(j, "\"cat\":\"timer\",\"name\":\"wake root\""));
    assert_non_null(strstr(j, "\"name\":\"timers due at 0.100000000 s\""));
    assert_non_null(strstr(j, "\"vt_ns\":100000000"));
    free(j);
}

static void timeline_html_is_self_contained(void **state) {
    (void)state;
    weft_sim_result r;
    char *h = timeline_of(&race_test, 3, "html", &r);
    assert_true(strncmp(h, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(h, "<script type=\"application/json\" id=\"weft-trace\">"));
    assert_non_null(strstr(h, "\"traceEvents\":["));
    /* nothing loaded from anywhere */
    assert_null(strstr(h, "<script src"));
    assert_null(strstr(h, "<link"));
    assert_null(strstr(h, "@import"));
    assert_null(strstr(h, "fetch("));
    assert_null(strstr(h, "XMLHttpRequest"));
    assert_int_equal(count(h, "</script>"), 2);
    free(h);
}

/* A livelock's timeline keeps its last 20000 events, and says so. */
typedef struct spinning {
    weft_future base;
    weft_yield_now y;
} spinning;
static weft_poll spinning_poll(weft_future *f, weft_context *cx, void *out) {
    spinning *self = (spinning *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (;;)
        WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spinning, spinning_poll, NULL);
static void make_spinning(weft_future *slot) { *(spinning *)slot = WEFT_NEW(spinning); }

static void timeline_of_a_livelock_keeps_its_end(void **state) {
    (void)state;
    static const weft_sim_test t = {"spinning", make_spinning, sizeof(spinning), NULL, NULL, false};
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-tl-%d.json", (int)getpid());
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_max_steps = 12000; /* a pick and a yield per step: 24000 events */
    b.sim_trace_path = path;
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&t, &b, &r), WEFT_ELIVELOCK);
    char *j = slurp(path);
    unlink(path);
    assert_non_null(j);
    char want[96];
    snprintf(want, sizeof want, "(the last 20000 of %llu events)", (unsigned long long)r.events);
    assert_non_null(strstr(j, want));
    assert_true(count(j, "{\"ph\":\"X\"") <= 20000);
    assert_int_equal(count(j, "\"failure\":true"), 1); /* the end is there */
    assert_null(strstr(j, "\"step\":1,")); /* the start is not */
    free(j);
}

/* ------------------------------------------------ the sweep's files */

static void sweep_writes_one_timeline_per_failing_seed(void **state) {
    (void)state;
    char dir[] = "/tmp/weft-traces-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("WEFT_TRACE", dir, 1);
    setenv("WEFT_SEEDS", "30", 1);
    char out[32768];
    int failed = captured_sweep(&race_test, out, sizeof out);
    unsetenv("WEFT_SEEDS");
    assert_true(failed > 0 && failed < 30);
    /* every failure line names its timeline, and the file is there */
    int named = 0, files = 0;
    for (char *p = out; (p = strstr(p, "weft-sim: FAIL race seed=")); p++) {
        unsigned long long seed;
        assert_int_equal(sscanf(p, "weft-sim: FAIL race seed=%llu", &seed), 1);
        char want[256], *eol = strchr(p, '\n');
        snprintf(want, sizeof want, " timeline: %s/race-seed%llu.html\n", dir, seed);
        char *at = strstr(p, want);
        assert_true(at && at < eol + 1);
        snprintf(want, sizeof want, "replay: WEFT_SEED=%llu WEFT_TRACE=%s ", seed, dir);
        assert_non_null(strstr(p, want));
        named++;
    }
    assert_int_equal(named, failed);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        files += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, 3 * failed); /* .txt, .json, .html; none for passing seeds */
    /* a replay with the same WEFT_TRACE writes the file the line names */
    char *line = strstr(out, "weft-sim: FAIL race seed=");
    unsigned long long seed;
    sscanf(line, "weft-sim: FAIL race seed=%llu", &seed);
    char path[256], num[32];
    snprintf(path, sizeof path, "%s/race-seed%llu.html", dir, seed);
    char *before = slurp(path);
    unlink(path);
    snprintf(num, sizeof num, "%llu", seed);
    setenv("WEFT_SEED", num, 1);
    assert_int_equal(captured_sweep(&race_test, out, sizeof out), 1);
    unsetenv("WEFT_SEED");
    unsetenv("WEFT_TRACE");
    char *after = slurp(path);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
    rm_dir(dir);
}

/* ------------------------------------------------------------ schedules */

/* Shrinks `seed` of `t` into `path` (WEFT_SHRINK_RUNS=runs); returns the
 * sweep's output. */
static void shrink_into(const weft_sim_test *t, uint64_t seed, const char *path, const char *runs,
                        char *out, size_t n) {
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)seed);
    setenv("WEFT_SEED", num, 1);
    /* uniform random: the replay is then the very run weft_sim_run makes
     * with a default builder (a PCT run's priority events are not
     * decisions, and a replay has none) */
    setenv("WEFT_SIM_STRATEGY", "random", 1);
    setenv("WEFT_SHRINK", "1", 1);
    setenv("WEFT_SHRINK_OUT", path, 1);
    if (runs)
        setenv("WEFT_SHRINK_RUNS", runs, 1);
    captured_sweep(t, out, n);
    unsetenv("WEFT_SEED");
    unsetenv("WEFT_SIM_STRATEGY");
    unsetenv("WEFT_SHRINK");
    unsetenv("WEFT_SHRINK_OUT");
    unsetenv("WEFT_SHRINK_RUNS");
}

static int replay_schedule(const weft_sim_test *t, const char *path, char *out, size_t n) {
    setenv("WEFT_SCHEDULE", path, 1);
    int failed = captured_sweep(t, out, n);
    unsetenv("WEFT_SCHEDULE");
    return failed;
}

static uint64_t header_u64(const char *text, const char *key) {
    const char *p = strstr(text, key);
    assert_non_null(p);
    return strtoull(p + strlen(key), NULL, 0);
}

/* A seed of `doomed` whose run fires a fault point (its recording holds
 * every decision kind). */
static uint64_t seed_with_faults(const char *path) {
    char out[8192];
    for (uint64_t seed = 0; seed < 64; seed++) {
        shrink_into(&doomed_test, seed, path, "1", out, sizeof out); /* records only */
        char *text = slurp(path);
        assert_non_null(text);
        bool fits = header_u64(text, "\nfaults ") > 0 && strstr(text, "\nrandom ") &&
                    header_u64(text, "\npreemptions ") > 0;
        free(text);
        if (fits)
            return seed;
    }
    fail_msg("no seed of doomed fires a fault point");
    return 0;
}

/* A recording replays exactly: the same run, the same fingerprint. */
static void recorded_schedule_replays_exactly(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-sched-%d.sched", (int)getpid());
    uint64_t seed = seed_with_faults(path);
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_max_steps = 1000000;
    b.sim_max_time = WEFT_SECS(86400);
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&doomed_test, &b, &r), WEFT_EFAILED);
    char out[8192], fp[32], want[32];
    assert_int_equal(replay_schedule(&doomed_test, path, out, sizeof out), 1);
    field(out, "fingerprint=", fp, sizeof fp);
    snprintf(want, sizeof want, "%016llx", (unsigned long long)r.fingerprint);
    assert_string_equal(fp, want);
    assert_non_null(strstr(out, "assertion failed: self->i == 0"));
    unlink(path);
}

/* The shrinker drops what the failure does not need: here every fault
 * firing and every preemption. */
static void shrink_drops_faults_and_preemptions(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-shrunk-%d.sched", (int)getpid());
    uint64_t seed = seed_with_faults(path);
    char out[8192];
    shrink_into(&doomed_test, seed, path, NULL, out, sizeof out);
    assert_non_null(strstr(out, "weft-sim: SHRUNK doomed seed="));
    assert_non_null(strstr(out, "preemptions ") && strstr(out, " -> 0, faults "));
    assert_non_null(strstr(out, " -> 0, decisions "));
    char *text = slurp(path);
    assert_int_equal(header_u64(text, "\nfaults "), 0);
    assert_int_equal(header_u64(text, "\npreemptions "), 0);
    assert_int_equal(count(text, " 1 ../"), 0); /* no "fault <hash> 1 <site>" line */
    free(text);
    /* and it still fails the same way, replayed strictly */
    assert_int_equal(replay_schedule(&doomed_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, "assertion failed: self->i == 0"));
    assert_null(strstr(out, "WEFT_ESCHEDULE"));
    assert_null(strstr(out, "does not fit"));
    unlink(path);
}

/* The race needs one preemption (the first adder's window, the second
 * catching up in it); every failing seed shrinks to that, and fewer steps. */
static void shrink_finds_the_one_preemption(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-race-%d.sched", (int)getpid());
    int shrunk = 0;
    for (uint64_t seed = 0; seed < 40 && shrunk < 3; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        weft_sim_result r;
        if (weft_sim_run(&race_test, &b, &r) == 0)
            continue;
        char out[8192];
        shrink_into(&race_test, seed, path, NULL, out, sizeof out);
        char *text = slurp(path);
        assert_non_null(text);
        assert_int_equal(header_u64(text, "\npreemptions "), 1);
        assert_true(header_u64(text, "\nsteps ") <= r.steps);
        free(text);
        assert_int_equal(replay_schedule(&race_test, path, out, sizeof out), 1);
        assert_non_null(strstr(out, "assertion failed: self->shared == 2"));
        shrunk++;
    }
    assert_int_equal(shrunk, 3);
    unlink(path);
}

/* Rewrites the picks `from` to `to` (1-based, inclusive) of a schedule:
 * the first becomes `with` (NULL: deleted), the others are deleted. */
static void edit_picks(const char *path, int from, int to, const char *with) {
    char *text = slurp(path);
    assert_non_null(text);
    FILE *f = fopen(path, "w");
    int picks = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "pick ", 5) == 0 && ++picks >= from && picks <= to) {
            if (with && picks == from)
                fprintf(f, "%s\n", with);
            continue;
        }
        fprintf(f, "%s\n", line);
    }
    fclose(f);
    free(text);
}

static void misfit_schedule_is_refused_where_it_stops_fitting(void **state) {
    (void)state;
    char path[64], out[8192];
    snprintf(path, sizeof path, "/tmp/weft-misfit-%d.sched", (int)getpid());
    /* a failing seed of the race, recorded */
    uint64_t seed = 0;
    weft_sim_result r;
    for (;; seed++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        if (weft_sim_run(&race_test, &b, &r))
            break;
    }
    shrink_into(&race_test, seed, path, "1", out, sizeof out);
    /* step 3 picks a task that does not exist */
    edit_picks(path, 3, 3, "pick 7");
    assert_int_equal(replay_schedule(&race_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not fit at decision 3 (step 3): it picks task 7, which is "
                                "not ready; ready: "));
    assert_null(strstr(out, "assertion failed")); /* nothing else ran on */
    /* the schedule ends while the run goes on: only its first 4 picks */
    shrink_into(&race_test, seed, path, "1", out, sizeof out);
    edit_picks(path, 5, 1000, NULL);
    assert_int_equal(replay_schedule(&race_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not fit: it ends after 4 decisions, but the run goes on "
                                "with a task pick (ready: "));
    /* a random draw where the schedule has a pick */
    edit_picks(path, 4, 4, "random 0x5");
    assert_int_equal(replay_schedule(&race_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not fit at decision 4 (step 4): it has a random draw, but "
                                "the run makes a task pick (ready: "));
    /* a file that is not a schedule */
    write_file(path, "test race\nseed 1\npick one\nend\n");
    assert_int_equal(replay_schedule(&race_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, ":3: not a schedule line: pick one"));
    write_file(path, "test race\nseed 1\npick 0\n");
    replay_schedule(&race_test, path, out, sizeof out);
    assert_non_null(strstr(out, "no `end` line"));
    unlink(path);
    /* a missing file */
    assert_int_equal(replay_schedule(&race_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, "cannot open the schedule"));
}

/* A schedule that runs past its end is refused; one the run does not use
 * up is refused too. */
static void schedule_with_decisions_left_over_is_refused(void **state) {
    (void)state;
    char path[64], out[8192];
    snprintf(path, sizeof path, "/tmp/weft-left-%d.sched", (int)getpid());
    /* napper's run: pick root, (clock), pick root: two picks */
    shrink_into(&napper_test, 0, path, "1", out, sizeof out); /* passes: nothing written */
    write_file(path, "test napper\nseed 0\npick 0\npick 0\npick 0\nend\n");
    assert_int_equal(replay_schedule(&napper_test, path, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not fit: the run finished after 2 of its 3 decisions"));
    write_file(path, "test napper\nseed 0\npick 0\npick 0\nend\n");
    assert_int_equal(replay_schedule(&napper_test, path, out, sizeof out), 0);
    unlink(path);
}

/* Schedules in the seeds dir are replayed first, beside plain seeds. */
static void schedule_in_seeds_dir_is_replayed(void **state) {
    (void)state;
    char dir[] = "/tmp/weft-seeds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], out[8192];
    snprintf(path, sizeof path, "%s/napper-slow.sched", dir);
    write_file(path, "# kept\ntest napper\nseed 0\npick 0\npick 0\nend\n");
    snprintf(path, sizeof path, "%s/napperx.sched", dir); /* another test's: not replayed */
    write_file(path, "test napperx\nseed 0\npick 5\nend\n");
    snprintf(path, sizeof path, "%s/napper.txt", dir);
    write_file(path, "3  a plain seed\n");
    setenv("WEFT_SEEDS_DIR", dir, 1);
    setenv("WEFT_SEEDS", "0", 1);
    assert_int_equal(captured_sweep(&napper_test, out, sizeof out), 0);
    assert_non_null(strstr(out, "2 seed(s) run (2 from seeds file), 0 failed"));
    /* one that no longer fits fails the sweep, naming the file */
    snprintf(path, sizeof path, "%s/napper-slow.sched", dir);
    write_file(path, "test napper\nseed 0\npick 4\nend\n");
    assert_int_equal(captured_sweep(&napper_test, out, sizeof out), 1);
    assert_non_null(strstr(out, "weft-sim: FAIL napper schedule="));
    assert_non_null(strstr(out, "napper-slow.sched from seeds dir"));
    assert_non_null(strstr(out, "it picks task 4, which is not ready"));
    unsetenv("WEFT_SEEDS_DIR");
    unsetenv("WEFT_SEEDS");
    rm_dir(dir);
}

/* -------------------------------------------- a production runtime's timeline */

typedef struct spinner {
    weft_future base;
    int i;
    weft_yield_now y;
} spinner;
static weft_poll spinner_poll(weft_future *f, weft_context *cx, void *out) {
    spinner *self = (spinner *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (self->i = 0; self->i < 3; self->i++)
        WEFT_AWAIT(f, cx, weft_yield_now(&self->y), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spinner, spinner_poll, NULL);

typedef struct fanout {
    weft_future base;
    int i;
    weft_join_handle jh[8];
} fanout;
static weft_poll fanout_poll(weft_future *f, weft_context *cx, void *out) {
    fanout *self = (fanout *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (self->i = 0; self->i < 8; self->i++)
        weft_spawn(&WEFT_NEW(spinner), &self->jh[self->i]);
    for (self->i = 0; self->i < 8; self->i++)
        WEFT_AWAIT(f, cx, weft_join(&self->jh[self->i]), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(fanout, fanout_poll, NULL);

static void production_timeline_has_a_track_per_thread(void **state) {
    wt_env *env = *state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-prod-%d.json", (int)getpid());
    unlink(path);
    /* off by default: no records, no file */
    weft_runtime *rt = wt_rt(env);
    assert_null(((weft__rt *)rt)->prof);
    fanout body = WEFT_NEW(fanout);
    wt_block_on(env, &body.base, NULL);
    wt_free_rt(env);
    assert_int_equal(access(path, F_OK), -1);
    /* asked for */
    setenv("WEFT_TIMELINE", path, 1);
    env->builder.worker_threads = 2;
    rt = wt_rt(env);
    unsetenv("WEFT_TIMELINE");
    assert_non_null(((weft__rt *)rt)->prof);
    body = WEFT_NEW(fanout);
    wt_block_on(env, &body.base, NULL);
    wt_free_rt(env);
    char *j = slurp(path);
    unlink(path);
    assert_non_null(j);
    /* 8 tasks, each polled 4 times (3 yields), as slices named by task */
    assert_int_equal(count(j, "{\"ph\":\"X\""), 32);
    assert_int_equal(count(j, " spinner\""), 32);
    assert_non_null(strstr(j, "\"sim\":false"));
    int threads = count(j, "\"name\":\"thread_name\"");
    if (env->flavor == WEFT_MULTI_THREAD) {
        assert_non_null(strstr(j, "\"weft multi_thread runtime: task polls per thread\""));
        assert_true(threads >= 1 && threads <= 2); /* the workers that polled */
        assert_non_null(strstr(j, "{\"name\":\"weft-"));
    } else {
        assert_non_null(strstr(j, "\"weft current_thread runtime: task polls per thread\""));
        assert_int_equal(threads, 1);
    }
    free(j);
}

int main(int argc, char **argv) {
    if (argc > 1)
        cmocka_set_test_filter(argv[1]); /* one test, by name (a glob) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sleep_100ms_shows_one_clock_step),
        cmocka_unit_test(timeline_json_has_tracks_slices_and_flows),
        cmocka_unit_test(timeline_orders_steps_at_one_instant),
        cmocka_unit_test(timeline_timer_wake_flows_from_the_clock),
        cmocka_unit_test(timeline_html_is_self_contained),
        cmocka_unit_test(timeline_of_a_livelock_keeps_its_end),
        cmocka_unit_test(sweep_writes_one_timeline_per_failing_seed),
        cmocka_unit_test(recorded_schedule_replays_exactly),
        cmocka_unit_test(shrink_drops_faults_and_preemptions),
        cmocka_unit_test(shrink_finds_the_one_preemption),
        cmocka_unit_test(misfit_schedule_is_refused_where_it_stops_fitting),
        cmocka_unit_test(schedule_with_decisions_left_over_is_refused),
        cmocka_unit_test(schedule_in_seeds_dir_is_replayed),
        WT_THREADED(production_timeline_has_a_track_per_thread),
    };
    return WT_RUN("timeline", tests);
}
