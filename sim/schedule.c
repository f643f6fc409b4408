/* weft — schedules: the decisions of a simulated run, recorded while it
 * runs, written to a file, and replayed strictly or leniently
 * (schedule.h says what each means).
 *
 * The hooks are on the sim's slow path only: a run that neither records
 * nor replays never calls them.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "sim.h"

void weft__schedule_init(weft__schedule *sc) { memset(sc, 0, sizeof *sc); }

void weft__schedule_free(weft__schedule *sc) {
    for (size_t i = 0; i < sc->n; i++)
        free(sc->d[i].text);
    free(sc->d);
    memset(sc, 0, sizeof *sc);
}

bool weft__schedule_push(weft__schedule *sc, uint8_t kind, uint64_t v, uint64_t site,
                         const char *text, bool preempt) {
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        weft__decision *d = realloc(sc->d, cap * sizeof *d);
        if (!d)
            return false;
        sc->d = d;
        sc->cap = cap;
    }
    char *copy = NULL;
    if (text) {
        size_t len = strlen(text) + 1;
        if (!(copy = malloc(len)))
            return false;
        memcpy(copy, text, len);
    }
    sc->d[sc->n++] = (weft__decision){kind, preempt, v, site, copy};
    return true;
}

bool weft__schedule_copy(weft__schedule *to, const weft__schedule *from) {
    weft__schedule_init(to);
    for (size_t i = 0; i < from->n; i++) {
        const weft__decision *d = &from->d[i];
        if (!weft__schedule_push(to, d->kind, d->v, d->site, d->text, d->preempt)) {
            weft__schedule_free(to);
            return false;
        }
    }
    snprintf(to->test, sizeof to->test, "%s", from->test);
    to->seed = from->seed;
    to->fail_code = from->fail_code;
    snprintf(to->failure, sizeof to->failure, "%s", from->failure);
    to->steps = from->steps;
    to->preemptions = from->preemptions;
    to->faults = from->faults;
    to->step_time = from->step_time;
    to->timer_slack = from->timer_slack;
    snprintf(to->path, sizeof to->path, "%s", from->path);
    return true;
}

/* ------------------------------------------------------------ the file */

int weft__schedule_write(const weft__schedule *sc, const char *path) {
    if (!sc || !path)
        return WEFT_EINVAL;
    FILE *f = fopen(path, "w");
    if (!f)
        return weft_translate_errno(errno);
    fprintf(f, "# weft schedule: replay with WEFT_SCHEDULE=%s\n", path);
    fprintf(f, "test %s\nseed %" PRIu64 "\n", sc->test[0] ? sc->test : "?", sc->seed);
    if (sc->fail_code) {
        /* one line: a failure text never holds a newline that matters */
        char one[1024];
        snprintf(one, sizeof one, "%s", sc->failure);
        one[strcspn(one, "\n")] = 0;
        fprintf(f, "failure %s %s\n", weft_err_name(sc->fail_code), one);
    }
    fprintf(f, "steps %" PRIu64 "\npreemptions %" PRIu64 "\nfaults %" PRIu64 "\n", sc->steps,
            sc->preemptions, sc->faults);
    if (sc->step_time || sc->timer_slack) /* swarm let time pass: the replay must too */
        fprintf(f, "time %" PRIu64 " %" PRIu64 "\n", sc->step_time, sc->timer_slack);
    uint64_t step = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const weft__decision *d = &sc->d[i];
        switch (d->kind) {
        case WEFT__DEC_PICK:
            step++;
            fprintf(f, "pick %-10" PRIu64 " # step %" PRIu64 "%s%s\n", d->v, step,
                    d->v ? "" : ": block_on's future", d->preempt ? ": a preemption" : "");
            break;
        case WEFT__DEC_FAULT:
            fprintf(f, "fault 0x%016" PRIx64 " %d %s\n", d->site, d->v ? 1 : 0,
                    d->text ? d->text : "?");
            break;
        case WEFT__DEC_RANDOM:
            fprintf(f, "random 0x%016" PRIx64 "\n", d->v);
            break;
        }
    }
    fputs("end\n", f);
    int err = ferror(f) ? WEFT_EIO : 0;
    if (fclose(f) && !err)
        err = WEFT_EIO;
    return err;
}

static bool parse_u64(const char *p, uint64_t *out, const char **end) {
    char *e;
    errno = 0;
    unsigned long long v = strtoull(p, &e, 0);
    if (errno || e == p)
        return false;
    *out = v;
    if (end)
        *end = e;
    return true;
}

static int bad(char *why, size_t n, const char *path, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(char *why, size_t n, const char *path, unsigned line, const char *fmt, ...) {
    int w = snprintf(why, n, "%s:%u: ", path, line);
    va_list ap;
    va_start(ap, fmt);
    if (w >= 0 && (size_t)w < n)
        vsnprintf(why + w, n - (size_t)w, fmt, ap);
    va_end(ap);
    return WEFT_EINVAL;
}

static int error_code(const char *name) {
    for (int c = -1; c >= -64; c--)
        if (strcmp(weft_err_name(c), name) == 0)
            return c;
    return WEFT_EFAILED;
}

int weft__schedule_read(weft__schedule *sc, const char *path, char *why, size_t n) {
    weft__schedule_init(sc);
    snprintf(why, n, "%s", "");
    if (!path)
        return WEFT_EINVAL;
    snprintf(sc->path, sizeof sc->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = weft_translate_errno(errno);
        snprintf(why, n, "cannot open the schedule %s: %s", path, weft_strerror(err));
        return err;
    }
    char line[1400];
    unsigned no = 0;
    bool ended = false;
    int err = 0;
    while (!err && fgets(line, sizeof line, f)) {
        no++;
        line[strcspn(line, "\n")] = 0;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        if (ended) {
            err = bad(why, n, path, no, "text after `end`");
            break;
        }
        char key[16];
        size_t k = 0;
        while (p[k] && !isspace((unsigned char)p[k]) && k < sizeof key - 1) {
            key[k] = p[k];
            k++;
        }
        key[k] = 0;
        const char *arg = p + k;
        while (isspace((unsigned char)*arg))
            arg++;
        uint64_t v = 0, site = 0;
        const char *rest;
        if (strcmp(key, "end") == 0)
            ended = true;
        else if (strcmp(key, "test") == 0)
            snprintf(sc->test, sizeof sc->test, "%.127s", arg);
        else if (strcmp(key, "seed") == 0 && parse_u64(arg, &sc->seed, NULL))
            ;
        else if (strcmp(key, "steps") == 0 && parse_u64(arg, &sc->steps, NULL))
            ;
        else if (strcmp(key, "preemptions") == 0 && parse_u64(arg, &sc->preemptions, NULL))
            ;
        else if (strcmp(key, "faults") == 0 && parse_u64(arg, &sc->faults, NULL))
            ;
        else if (strcmp(key, "time") == 0 && parse_u64(arg, &sc->step_time, &rest) &&
                 parse_u64(rest, &sc->timer_slack, NULL) && sc->step_time <= INT64_MAX &&
                 sc->timer_slack <= INT64_MAX)
            ;
        else if (strcmp(key, "failure") == 0) {
            char name[40];
            size_t m = strcspn(arg, " ");
            snprintf(name, sizeof name, "%.*s", (int)(m < 39 ? m : 39), arg);
            sc->fail_code = error_code(name);
            snprintf(sc->failure, sizeof sc->failure, "%s", arg[m] ? arg + m + 1 : "");
        } else if (strcmp(key, "pick") == 0 && parse_u64(arg, &v, NULL)) {
            if (!weft__schedule_push(sc, WEFT__DEC_PICK, v, 0, NULL, false))
                err = WEFT_ENOMEM;
        } else if (strcmp(key, "random") == 0 && parse_u64(arg, &v, NULL)) {
            if (!weft__schedule_push(sc, WEFT__DEC_RANDOM, v, 0, NULL, false))
                err = WEFT_ENOMEM;
        } else if (strcmp(key, "fault") == 0 && parse_u64(arg, &site, &rest) &&
                   parse_u64(rest, &v, &rest) && v <= 1) {
            while (isspace((unsigned char)*rest))
                rest++;
            if (!weft__schedule_push(sc, WEFT__DEC_FAULT, v, site, *rest ? rest : NULL, false))
                err = WEFT_ENOMEM;
        } else
            err = bad(why, n, path, no, "not a schedule line: %s", p);
    }
    fclose(f);
    if (!err && !ended)
        err = bad(why, n, path, no, "no `end` line: the file is cut short");
    if (err) {
        if (err == WEFT_ENOMEM)
            snprintf(why, n, "%s: out of memory reading it", path);
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", why);
        weft__schedule_free(sc);
        snprintf(why, n, "%s", keep);
    }
    return err;
}

/* ------------------------------------------------------------ the hooks */

static const char *kind_name(uint8_t kind) {
    return kind == WEFT__DEC_PICK ? "a task pick" : kind == WEFT__DEC_FAULT ? "a fault point"
                                                                              : "a random draw";
}

/* Task id at candidate index i (nready: the root). */
static uint64_t id_at(const weft__sim *s, size_t i) { return i == s->nready ? 0 : weft__task_pid(s->ready[i]); }

/* The candidate index of task `id`, or SIZE_MAX when it is not ready. */
static size_t index_of(const weft__sim *s, size_t candidates, uint64_t id) {
    if (id == 0)
        return candidates > s->nready ? s->nready : SIZE_MAX;
    for (size_t i = 0; i < s->nready; i++)
        if (weft__task_pid(s->ready[i]) == id)
            return i;
    return SIZE_MAX;
}

/* Lenient default: the last task if still ready, else the lowest id. */
static size_t default_pick(const weft__sim *s, size_t candidates) {
    if (s->has_last) {
        size_t i = index_of(s, candidates, s->last_pick);
        if (i != SIZE_MAX)
            return i;
    }
    if (candidates > s->nready)
        return s->nready;
    size_t best = 0;
    for (size_t i = 1; i < s->nready; i++)
        if (weft__task_pid(s->ready[i]) < weft__task_pid(s->ready[best]))
            best = i;
    return best;
}

/* What the run offers at a pick, for the refusal: "root, 1, 3". */
static void list_ready(const weft__sim *s, size_t candidates, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < candidates && used + 24 < n; i++) {
        uint64_t id = id_at(s, i);
        int w = id ? snprintf(buf + used, n - used, "%stask %" PRIu64, used ? ", " : "", id)
                   : snprintf(buf + used, n - used, "%sblock_on's future", used ? ", " : "");
        if (w > 0)
            used += (size_t)w;
    }
}

/* The next decision, which must be of `kind`; NULL when there is none
 * that fits (strictly: the run is then failed with the reason). */
static const weft__decision *next_decision(weft__sim *s, uint8_t kind, const char *offer) {
    const weft__schedule *p = s->plan;
    size_t at = s->plan_at;
    if (at >= p->n) {
        if (s->plan_strict)
            weft__sim_set_failure(s, WEFT_ESCHEDULE,
                                  "schedule %s does not fit: it ends after %zu decisions, but "
                                  "the run goes on with %s (step %" PRIu64 ")",
                                  p->path[0] ? p->path : "(given)", p->n, offer, s->steps);
        return NULL;
    }
    s->plan_at++;
    const weft__decision *d = &p->d[at];
    if (d->kind == kind)
        return d;
    if (s->plan_strict)
        weft__sim_set_failure(s, WEFT_ESCHEDULE,
                              "schedule %s does not fit at decision %zu (step %" PRIu64
                              "): it has %s, but the run makes %s here",
                              p->path[0] ? p->path : "(given)", at + 1, s->steps,
                              kind_name(d->kind), offer);
    return NULL;
}

size_t weft__sched_pick(weft__sim *s, size_t candidates, size_t natural) {
    size_t i = natural;
    if (s->plan) {
        char offer[256];
        list_ready(s, candidates, offer, sizeof offer);
        char what[300];
        snprintf(what, sizeof what, "a task pick (ready: %s)", offer);
        const weft__decision *d = next_decision(s, WEFT__DEC_PICK, what);
        if (!d && s->plan_strict)
            return WEFT__PICK_REFUSED;
        i = d && d->v != WEFT__DEC_ANY ? index_of(s, candidates, d->v) : SIZE_MAX;
        if (i == SIZE_MAX && d && d->v != WEFT__DEC_ANY && s->plan_strict) {
            weft__sim_set_failure(s, WEFT_ESCHEDULE,
                                  "schedule %s does not fit at decision %zu (step %" PRIu64
                                  "): it picks %s%" PRIu64 ", which is not ready; ready: %s",
                                  s->plan->path[0] ? s->plan->path : "(given)", s->plan_at,
                                  s->steps, d->v ? "task " : "block_on's future ", d->v, offer);
            return WEFT__PICK_REFUSED;
        }
        if (i == SIZE_MAX)
            i = default_pick(s, candidates);
    }
    uint64_t id = id_at(s, i);
    bool preempt = s->has_last && id != s->last_pick &&
                   index_of(s, candidates, s->last_pick) != SIZE_MAX;
    s->preemptions += preempt;
    s->last_pick = id;
    s->has_last = true;
    if (s->rec && !weft__schedule_push(s->rec, WEFT__DEC_PICK, id, 0, NULL, preempt))
        weft__die("sim: out of memory recording the schedule");
    return i;
}

uint64_t weft__sched_random(weft__sim *s, uint64_t natural) {
    uint64_t v = natural;
    if (s->plan) {
        const weft__decision *d = next_decision(s, WEFT__DEC_RANDOM, "a random draw");
        if (d)
            v = d->v;
    }
    if (s->rec && !weft__schedule_push(s->rec, WEFT__DEC_RANDOM, v, 0, NULL, false))
        weft__die("sim: out of memory recording the schedule");
    return v;
}

bool weft__sched_fault(weft__sim *s, uint64_t site_hash, const char *site, bool natural) {
    bool fired = natural;
    if (s->plan) {
        char what[300];
        snprintf(what, sizeof what, "a fault point (%s)", site ? site : "?");
        const weft__decision *d = next_decision(s, WEFT__DEC_FAULT, what);
        if (d && d->site != site_hash) {
            if (s->plan_strict)
                weft__sim_set_failure(s, WEFT_ESCHEDULE,
                                      "schedule %s does not fit at decision %zu (step %" PRIu64
                                      "): it has the fault point %s, but the run reaches %s",
                                      s->plan->path[0] ? s->plan->path : "(given)", s->plan_at,
                                      s->steps, d->text ? d->text : "?", site ? site : "?");
            d = NULL;
        }
        fired = d ? d->v != 0 : s->plan_strict ? natural : false;
    }
    s->faults += fired;
    if (s->rec && !weft__schedule_push(s->rec, WEFT__DEC_FAULT, fired, site_hash, site, false))
        weft__die("sim: out of memory recording the schedule");
    return fired;
}

void weft__sched_finish(weft__sim *s) {
    if (!s->plan || !s->plan_strict || s->fail_code || s->plan_at >= s->plan->n)
        return;
    weft__sim_set_failure(s, WEFT_ESCHEDULE,
                          "schedule %s does not fit: the run finished after %zu of its %zu "
                          "decisions",
                          s->plan->path[0] ? s->plan->path : "(given)", s->plan_at, s->plan->n);
}
