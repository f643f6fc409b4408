/* weft — a simulated run as a timeline: the recorded events laid out on
 * tracks (the clock, block_on's future, one per task), a slice per poll,
 * an arrow from each waker (a task, or the clock for timers) to the poll
 * it caused, an arrow from each spawn to the new task's first poll, and
 * instants for yields, random draws, fault points, notes and the failure.
 *
 * Display time is virtual time, except that every step takes 1 us of it:
 * a simulated poll takes no virtual time, and steps at one instant must
 * still be seen in order.  Events inside a step sit 10 ns apart within
 * it.  The exact virtual time of every event is in its args (vt_ns).
 *
 * All tracks live in one group ("sim") today; with the simulated network
 * each host becomes a group, its tasks its tracks, and every message a
 * flow (category "message") from the sender's poll to the receiver's,
 * dropped ones as instants naming their reason.
 */
#include <stdlib.h>

#include "sim.h"
#include "timeline.h"

#define STEP_NS 1000u /* display time a step takes */
/* A livelock runs a million steps: its timeline keeps the last events
 * only (the ones that lead to the failure: some 10000 steps), so the
 * page stays usable; the text trace keeps everything. */
#define MAX_EVENTS 20000u
#define SLICE_NS 900u /* of it, the poll's slice */
#define INNER_NS 10u  /* between events of one step */

typedef struct layout {
    weft__timeline *tl;
    uint32_t group;
    uint32_t clock, root;
    uint32_t *task_track;   /* by task id; UINT32_MAX: none yet */
    size_t *pending;        /* by task id + 1 (0: root): a flow waiting for its poll, +1 */
    size_t ntasks;
    uint64_t base;          /* display ns of the current step or clock slice */
    uint64_t base_vt;       /* its virtual time */
    bool started;
    bool in_clock;          /* the current base is a clock slice (between polls) */
    uint32_t inner;         /* events placed in the current base */
    uint64_t step;          /* picks so far */
} layout;

static bool ensure_task(layout *l, uint64_t id) {
    if (id < l->ntasks)
        return true;
    size_t n = l->ntasks ? l->ntasks : 16;
    while (n <= id)
        n *= 2;
    uint32_t *t = realloc(l->task_track, n * sizeof *t);
    if (!t)
        return false;
    l->task_track = t;
    size_t *p = realloc(l->pending, (n + 1) * sizeof *p);
    if (!p)
        return false;
    l->pending = p;
    for (size_t i = l->ntasks; i < n; i++) {
        t[i] = UINT32_MAX;
        p[i + 1] = 0;
    }
    if (l->ntasks == 0)
        p[0] = 0;
    l->ntasks = n;
    return true;
}

/* The track of a task (0: the root), made on first sight. */
static uint32_t track_of(layout *l, uint64_t id, const char *site) {
    if (id == 0)
        return l->root;
    if (!ensure_task(l, id)) {
        l->tl->oom = true;
        return l->root;
    }
    if (l->task_track[id] == UINT32_MAX) {
        char name[320];
        snprintf(name, sizeof name, "task %llu%s%s%s", (unsigned long long)id, site ? " (" : "",
                 site ? site : "", site ? ")" : "");
        l->task_track[id] = weft__tl_add_track(l->tl, l->group, name);
    }
    return l->task_track[id];
}

/* Opens a new base: a step, or a clock slice when time moved between
 * polls. */
static void new_base(layout *l, uint64_t vt, bool clock) {
    uint64_t b = vt;
    if (l->started && b < l->base + STEP_NS)
        b = l->base + STEP_NS;
    l->base = b;
    l->base_vt = vt;
    l->started = true;
    l->in_clock = clock;
    l->inner = 0;
}

static uint64_t inner_ts(layout *l) {
    uint32_t k = ++l->inner;
    uint64_t off = (uint64_t)k * INNER_NS;
    return l->base + (off < SLICE_NS - INNER_NS ? off : SLICE_NS - INNER_NS);
}

static void text_line(weft__timeline *tl, weft__tl_item *it, const weft__sim_event *e) {
    char line[768];
    weft__sim_format(e, line, sizeof line);
    weft__tl_set_text(tl, &it->line, line);
}

/* Where an event between polls goes: on the clock, in a clock slice for
 * its instant (opened when time moved). */
static void clock_slice(layout *l, uint64_t vt) {
    if (l->in_clock && l->base_vt == vt)
        return;
    new_base(l, vt, true);
    char name[64];
    snprintf(name, sizeof name, "clock %llu.%09llu s", (unsigned long long)(vt / 1000000000u),
             (unsigned long long)(vt % 1000000000u));
    weft__tl_item *it = weft__tl_add(l->tl, WEFT__TL_SLICE, l->clock, l->base, "clock", name);
    if (it) {
        it->dur = SLICE_NS;
        it->step = l->step;
        it->vt = vt;
    }
}

/* Remembers a flow from here to task `id`'s next poll. */
static void flow_to(layout *l, uint32_t from, uint64_t ts, uint64_t vt, uint64_t id,
                    const char *cat, const char *name) {
    if (id && !ensure_task(l, id))
        return;
    weft__tl_item *it = weft__tl_add(l->tl, WEFT__TL_FLOW, from, ts, cat, name);
    if (!it)
        return;
    it->step = l->step;
    it->vt = vt;
    it->to_track = UINT32_MAX; /* until the poll comes */
    l->pending[id] = l->tl->nitems; /* index + 1 */
}

static void place_notes(layout *l, const weft__sim *s, size_t *next, uint64_t upto) {
    for (; *next < s->nnotes && s->notes[*next].after <= upto; (*next)++) {
        const weft__sim_note *n = &s->notes[*next];
        uint32_t track = n->cur == WEFT__SIM_NOBODY ? l->clock : track_of(l, n->cur, NULL);
        weft__tl_item *it = weft__tl_add(l->tl, WEFT__TL_INSTANT, track, inner_ts(l), "note",
                                         n->text);
        if (!it)
            continue;
        it->step = l->step;
        it->vt = l->base_vt;
        char line[600]; /* as the text trace writes it */
        if (n->cur && n->cur != WEFT__SIM_NOBODY)
            snprintf(line, sizeof line, "   note task=%llu: %s", (unsigned long long)n->cur,
                     n->text);
        else
            snprintf(line, sizeof line, "   note root: %s", n->text);
        weft__tl_set_text(l->tl, &it->line, line);
    }
}

static void place(layout *l, const weft__sim_event *e) {
    weft__timeline *tl = l->tl;
    char name[400];
    if (e->kind == WEFT__EV_PICK) {
        l->step++;
        new_base(l, e->now, false);
        uint32_t track = track_of(l, e->a, NULL);
        if (e->a)
            snprintf(name, sizeof name, "poll task %llu", (unsigned long long)e->a);
        else
            snprintf(name, sizeof name, "poll root");
        weft__tl_item *it = weft__tl_add(tl, WEFT__TL_SLICE, track, l->base, "poll", name);
        if (!it)
            return;
        it->dur = SLICE_NS;
        it->step = l->step;
        it->vt = e->now;
        text_line(tl, it, e);
        char detail[64];
        snprintf(detail, sizeof detail, "chosen among %llu ready", (unsigned long long)e->b);
        weft__tl_set_text(tl, &it->detail, detail);
        size_t *p = e->a < l->ntasks || e->a == 0 ? &l->pending[e->a] : NULL;
        if (p && *p) {
            weft__tl_item *fl = &tl->items[*p - 1];
            fl->to_track = track;
            fl->dur = l->base - fl->ts;
            *p = 0;
        }
        return;
    }
    bool between = e->cur == WEFT__SIM_NOBODY;
    if (between && e->kind != WEFT__EV_SPAWN)
        clock_slice(l, e->now);
    uint32_t here = between ? l->clock : track_of(l, e->cur, NULL);
    if (between && e->kind == WEFT__EV_SPAWN) {
        here = l->root; /* spawned before block_on, by the thread that called it */
        if (!l->started)
            new_base(l, e->now, false);
    }
    uint64_t ts = inner_ts(l);
    const char *cat = "event";
    switch (e->kind) {
    case WEFT__EV_SPAWN:
        track_of(l, e->a, e->str);
        snprintf(name, sizeof name, "spawn task %llu", (unsigned long long)e->a);
        cat = "spawn";
        flow_to(l, here, ts, e->now, e->a, "spawn", name);
        break;
    case WEFT__EV_WAKE:
        if (e->a)
            snprintf(name, sizeof name, "wake task %llu", (unsigned long long)e->a);
        else
            snprintf(name, sizeof name, "wake root");
        cat = e->b == WEFT__CAUSE_TIMER ? "timer" : "wake";
        track_of(l, e->a, NULL);
        flow_to(l, here, ts, e->now, e->a, cat, name);
        break;
    case WEFT__EV_YIELD:
        snprintf(name, sizeof name, "yield");
        cat = "yield";
        break;
    case WEFT__EV_TIME:
        snprintf(name, sizeof name, "timers due at %llu.%09llu s",
                 (unsigned long long)(e->a / 1000000000u), (unsigned long long)(e->a % 1000000000u));
        cat = "timer";
        break;
    case WEFT__EV_RANDOM:
        snprintf(name, sizeof name, "random 0x%016llx", (unsigned long long)e->a);
        cat = "random";
        break;
    case WEFT__EV_BUGGIFY:
        snprintf(name, sizeof name, "fault point %s %s", e->str ? e->str : "?",
                 e->b ? "fired" : "did not fire");
        cat = "fault";
        break;
    case WEFT__EV_PRIO:
        snprintf(name, sizeof name, "priority %llu", (unsigned long long)e->b);
        cat = "priority";
        break;
    case WEFT__EV_FAIL:
        snprintf(name, sizeof name, "FAIL %s", weft_err_name((int)(int64_t)e->a));
        cat = "fail";
        break;
    default:
        weft__sim_format(e, name, sizeof name);
        cat = "driver";
    }
    weft__tl_item *it = weft__tl_add(tl, WEFT__TL_INSTANT, here, ts, cat, name);
    if (!it)
        return;
    it->step = l->step;
    it->vt = e->now;
    it->failure = e->kind == WEFT__EV_FAIL;
    text_line(tl, it, e);
    if (e->kind == WEFT__EV_FAIL || e->kind == WEFT__EV_SPAWN)
        weft__tl_set_text(tl, &it->detail, e->str);
}

int weft__sim_timeline(const weft__sim *s, const char *title, weft__timeline *tl) {
    if (!s || !tl)
        return WEFT_EINVAL;
    weft__tl_init(tl, title, true);
    layout l = {.tl = tl};
    l.group = weft__tl_add_group(tl, "sim"); /* one group per simulated host, later */
    l.clock = weft__tl_add_track(tl, l.group, "sim clock (timers, deadlock)");
    l.root = weft__tl_add_track(tl, l.group, "root (block_on's future)");
    if (!ensure_task(&l, 1))
        tl->oom = true;
    size_t note = 0, first = 0;
    if (s->nevents > MAX_EVENTS && s->events) {
        first = s->nevents - MAX_EVENTS;
        for (size_t i = 0; i < first; i++)
            l.step += s->events[i].kind == WEFT__EV_PICK;
        while (note < s->nnotes && s->notes[note].after < first)
            note++;
        char cut[400];
        snprintf(cut, sizeof cut, "%s (the last %u of %llu events)", title ? title : "",
                 MAX_EVENTS, (unsigned long long)s->nevents);
        weft__tl_set_text(tl, &tl->title, cut);
    }
    for (size_t i = first; i < s->nevents && s->events && !tl->oom; i++) {
        place_notes(&l, s, &note, i);
        place(&l, &s->events[i]);
    }
    place_notes(&l, s, &note, UINT64_MAX);
    /* flows whose task never ran again end where the run ends */
    for (size_t i = 0; i < tl->nitems; i++) {
        weft__tl_item *it = &tl->items[i];
        if (it->type == WEFT__TL_FLOW && it->to_track == UINT32_MAX) {
            it->to_track = it->track;
            it->dur = 0;
        }
    }
    if (s->fail_code)
        weft__tl_set_text(tl, &tl->failure, s->failure);
    free(l.task_track);
    free(l.pending);
    return tl->oom ? WEFT_ENOMEM : 0;
}

int weft__sim_write_timelines(weft__sim *s) {
    int err = 0;
    if (!s->tl_paths[0] && !s->tl_paths[1])
        return 0;
    if (!s->record || s->nevents == 0 || !s->events) {
        s->tl_paths[0] = s->tl_paths[1] = NULL;
        return 0;
    }
    weft__timeline tl;
    err = weft__sim_timeline(s, s->tl_title, &tl);
    for (int i = 0; i < 2 && !err; i++)
        if (s->tl_paths[i]) {
            err = weft__tl_write_file(&tl, s->tl_paths[i]);
            if (err)
                fprintf(stderr, "weft-sim: cannot write the timeline %s: %s\n", s->tl_paths[i],
                        weft_strerror(err));
        }
    weft__tl_free(&tl);
    s->tl_paths[0] = s->tl_paths[1] = NULL;
    return err;
}
