/* weft — the shrinker: a failing run's decisions, made smaller.
 *
 * Every candidate is a schedule replayed leniently (schedule.h): a
 * decision that no longer fits, and the tail past the end, become the
 * default (no preemption, no fault, the seed's random value), so any edit
 * of a schedule is still a run.  A candidate's run is recorded again, and
 * that exact recording is what is kept: the result always replays
 * strictly.  The passes, repeated until none makes progress:
 *   0. the shortest prefix whose default continuation still fails;
 *   1. each preemption turned into "keep running the same task", or
 *      moved later (the interrupted task runs on first), alone or with
 *      the run of picks it starts (that one may cross a plateau);
 *   2. each fault firing turned off;
 *   3. chunks of decisions deleted, halves down to single ones
 *      (delta debugging), which shortens the run;
 *   4. each random value set to 0.
 * Runs are cheap (a bank_race run is a few microseconds), so the search is
 * bounded by a run count and a time limit rather than cleverness.
 */
#include <string.h>
#include <time.h>

#include "shrink.h"
#include "sim.h"

typedef struct shrinker {
    const weft_sim_test *t;
    weft_builder b;
    int code;             /* the failure to keep */
    char failure[1024];
    weft__schedule best;
    uint64_t runs, max_runs;
    double start, max_secs;
    bool out_of_budget;
} shrinker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same failure: the same code, and for an assertion (whose text is a
 * site and a condition) the same text.  A deadlock's or a livelock's text
 * names steps and times, which shrinking changes on purpose. */
static bool same_failure(const shrinker *k, int code, const char *failure) {
    if (code != k->code)
        return false;
    return code != WEFT_EFAILED || strcmp(failure, k->failure) == 0;
}

/* Is a smaller than b? */
static bool smaller(const weft__schedule *a, const weft__schedule *b) {
    if (a->preemptions != b->preemptions)
        return a->preemptions < b->preemptions;
    if (a->faults != b->faults)
        return a->faults < b->faults;
    if (a->steps != b->steps)
        return a->steps < b->steps;
    return a->n < b->n;
}

static bool same_decisions(const weft__schedule *a, const weft__schedule *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->d[i].kind != b->d[i].kind || a->d[i].v != b->d[i].v)
            return false;
    return true;
}

/* Runs `cand` leniently; keeps its recording when it is smaller and fails
 * the same way (or, `sideways`, when it is no larger and different: a
 * step across a plateau, which the caller rations).  Frees `cand`. */
static bool attempt_x(shrinker *k, weft__schedule *cand, bool sideways) {
    if (k->runs >= k->max_runs || now_s() - k->start > k->max_secs) {
        k->out_of_budget = true;
        weft__schedule_free(cand);
        return false;
    }
    k->runs++;
    weft__schedule got;
    weft__schedule_init(&got);
    weft__run_extra x = {.rec = &got, .plan = cand, .strict = false};
    weft_sim_result r;
    weft__sim_run_extra(k->t, &k->b, &r, &x);
    weft__schedule_free(cand);
    bool keep = r.err && same_failure(k, got.fail_code ? got.fail_code : r.err, r.failure) &&
                (smaller(&got, &k->best) ||
                 (sideways && !smaller(&k->best, &got) && !same_decisions(&got, &k->best)));
    if (keep) {
        snprintf(got.test, sizeof got.test, "%s", k->best.test);
        weft__schedule_free(&k->best);
        k->best = got;
    } else
        weft__schedule_free(&got);
    return keep;
}

static bool attempt(shrinker *k, weft__schedule *cand) { return attempt_x(k, cand, false); }

static bool copy_or_die(weft__schedule *to, const weft__schedule *from) {
    if (!weft__schedule_copy(to, from))
        weft__die("sim: out of memory shrinking a schedule");
    return true;
}

/* Pass 1 and 2 and 4: one decision changed at a time. */
static bool pass_edit(shrinker *k, uint8_t kind) {
    bool progress = false;
    for (size_t j = 0; j < k->best.n && !k->out_of_budget; j++) {
        const weft__decision *d = &k->best.d[j];
        if (d->kind != kind)
            continue;
        if (kind == WEFT__DEC_PICK && !d->preempt)
            continue;
        if (kind == WEFT__DEC_FAULT && !d->v)
            continue;
        if (kind == WEFT__DEC_RANDOM && !d->v)
            continue;
        weft__schedule cand;
        copy_or_die(&cand, &k->best);
        cand.d[j].v = kind == WEFT__DEC_PICK ? WEFT__DEC_ANY : 0;
        progress |= attempt(k, &cand);
    }
    return progress;
}

/* Pass 3: delete chunks of decisions, from halves down to single ones. */
static bool pass_delete(shrinker *k) {
    bool progress = false;
    for (size_t len = k->best.n / 2; len >= 1 && !k->out_of_budget; len /= 2) {
        for (size_t at = 0; at + len <= k->best.n && !k->out_of_budget;) {
            weft__schedule cand;
            copy_or_die(&cand, &k->best);
            for (size_t i = at; i < at + len; i++)
                free(cand.d[i].text);
            memmove(&cand.d[at], &cand.d[at + len], (cand.n - at - len) * sizeof *cand.d);
            cand.n -= len;
            if (attempt(k, &cand))
                progress = true; /* the same place again, in the new best */
            else
                at += len;
        }
    }
    return progress;
}

/* Pass 1b: a preempting pick moved later (up to 64 decisions), so the
 * task it interrupted runs on first: a preemption that only came too
 * early goes away while the run keeps its shape.  Deleting or defaulting
 * one pick shifts every later one; moving it does not. */
static bool pass_move(shrinker *k) {
    bool progress = false;
    for (size_t i = 0; i < k->best.n && !k->out_of_budget; i++) {
        if (k->best.d[i].kind != WEFT__DEC_PICK || !k->best.d[i].preempt)
            continue;
        for (size_t j = i + 1; j < k->best.n && j <= i + 64 && !k->out_of_budget; j++) {
            weft__schedule cand;
            copy_or_die(&cand, &k->best);
            weft__decision moved = cand.d[i];
            memmove(&cand.d[i], &cand.d[i + 1], (j - i) * sizeof *cand.d);
            cand.d[j] = moved;
            if (attempt(k, &cand)) {
                progress = true;
                break;
            }
        }
    }
    return progress;
}

/* Pass 1c: the run of picks a preemption starts, moved later as a block.
 * Such a move often leaves the counts as they are (the preemption moves
 * with it) but puts the block where a later single move removes it, so
 * it is taken sideways, a limited number of times per shrink. */
static bool pass_move_block(shrinker *k, uint32_t *sideways) {
    for (size_t i = 0; i < k->best.n && !k->out_of_budget; i++) {
        const weft__decision *d = &k->best.d[i];
        if (d->kind != WEFT__DEC_PICK || !d->preempt)
            continue;
        size_t e = i + 1;
        while (e < k->best.n && k->best.d[e].kind == WEFT__DEC_PICK && k->best.d[e].v == d->v)
            e++;
        size_t len = e - i;
        for (size_t j = e + 1; j <= k->best.n && j <= e + 64 && !k->out_of_budget; j++) {
            weft__schedule cand;
            copy_or_die(&cand, &k->best);
            weft__decision block[64];
            if (len > 64)
                break;
            memcpy(block, &cand.d[i], len * sizeof *block);
            memmove(&cand.d[i], &cand.d[e], (j - e) * sizeof *cand.d);
            memcpy(&cand.d[i + (j - e)], block, len * sizeof *block);
            weft__schedule before;
            copy_or_die(&before, &k->best);
            bool side = *sideways > 0;
            if (attempt_x(k, &cand, side)) {
                if (!smaller(&k->best, &before))
                    (*sideways)--;
                weft__schedule_free(&before);
                return true;
            }
            weft__schedule_free(&before);
        }
    }
    return false;
}

/* Pass 0: keep a prefix, let the defaults run the rest (no preemption
 * past it): the shortest prefix that still fails wins. */
static bool pass_truncate(shrinker *k) {
    for (size_t len = 0; len < k->best.n && !k->out_of_budget; len++) {
        weft__schedule cand;
        copy_or_die(&cand, &k->best);
        for (size_t i = len; i < cand.n; i++)
            free(cand.d[i].text);
        cand.n = len;
        if (attempt(k, &cand))
            return true;
    }
    return false;
}

int weft__sim_shrink(const weft_sim_test *t, const weft_builder *b, uint64_t max_runs,
                     double max_secs, weft__schedule *out, weft__shrink_stats *st) {
    if (!t || !b || !out || !st)
        return WEFT_EINVAL;
    memset(st, 0, sizeof *st);
    shrinker k = {.t = t, .b = *b, .max_runs = max_runs, .max_secs = max_secs};
    k.b.sim_trace_path = NULL;
    k.start = now_s();
    weft__schedule_init(&k.best);
    weft__run_extra x = {.rec = &k.best};
    weft_sim_result r;
    weft__sim_run_extra(t, &k.b, &r, &x);
    k.runs = 1;
    if (!r.err) {
        weft__schedule_free(&k.best);
        return WEFT_EINVAL;
    }
    k.code = k.best.fail_code ? k.best.fail_code : r.err;
    snprintf(k.failure, sizeof k.failure, "%s", r.failure);
    snprintf(k.best.test, sizeof k.best.test, "%s", t->name ? t->name : "?");
    st->steps[0] = k.best.steps;
    st->preemptions[0] = k.best.preemptions;
    st->faults[0] = k.best.faults;
    st->decisions[0] = k.best.n;
    uint32_t sideways = 16;
    for (bool progress = true; progress && !k.out_of_budget;) {
        progress = pass_truncate(&k);
        progress |= pass_edit(&k, WEFT__DEC_PICK);
        progress |= pass_edit(&k, WEFT__DEC_FAULT);
        progress |= pass_delete(&k);
        progress |= pass_edit(&k, WEFT__DEC_RANDOM);
        /* moves only once the others are stuck: taken greedily earlier,
         * they lead into worse local minima */
        if (!progress)
            progress = pass_move(&k);
        if (!progress)
            progress = pass_move_block(&k, &sideways);
    }
    st->runs = k.runs;
    st->secs = now_s() - k.start;
    st->budget_hit = k.out_of_budget;
    st->steps[1] = k.best.steps;
    st->preemptions[1] = k.best.preemptions;
    st->faults[1] = k.best.faults;
    st->decisions[1] = k.best.n;
    *out = k.best;
    return 0;
}
