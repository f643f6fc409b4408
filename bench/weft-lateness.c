/* weft-lateness — how late timers fire, as a distribution.
 *
 * A sleep's deadline is rounded up to the wheel's resolution; it must
 * fire at that instant, never before, and as soon after as it can.  Each
 * sample is the time the sleeping task was polled again (weft_now) minus
 * its deadline (not rounded): what a task sees, so it includes the
 * rounding and the wait behind the other tasks woken with it.  Two loads:
 *
 *   burst   the timer_fire bench: 10,000 tasks, task i sleeps 1 + i % 10 ms
 *           (a thousand timers share each millisecond);
 *   sparse  100 tasks, each sleeping 20 times for 1-10 ms (seeded), so
 *           that few timers share a millisecond: the wheel and the park
 *           alone.
 *
 * Output, per flavor and load: p50, p99, max and min in microseconds.  A
 * task polled before its deadline would be an early timer: the program
 * then fails.
 *
 * For the burst, also where an iteration's time goes (medians over the
 * rounds, from the root's first poll): `spawned` when the root has spawned
 * every task, `armed` when the last sleep was made (its deadline is the
 * iteration's floor: armed + 10 ms), `last` when the last sleeper woke,
 * `end` when the root has joined them all; and `late`, last - the last
 * deadline.  Where the OS counts them (not on Windows), `waits` is the
 * process's voluntary context switches per sleep: how often a thread
 * blocked (a park, a wake of the block_on thread) for each timer.
 *
 *   weft-lateness [--flavor current_thread|multi_thread] [--rounds N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <sys/resource.h>
#endif

#include "weft/time.h"
#include "weft/weft.h"

#define BURST_TASKS 10000
#define SPARSE_TASKS 100
#define SPARSE_SLEEPS 20

typedef struct samples {
    int64_t *v;
    size_t n, cap;
} samples;

static void add(samples *s, int64_t x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = x;
}

/* One sleeper: `count` sleeps of `ms` each (0: drawn from `seed`). */
typedef struct sleeper {
    weft_future base;
    int64_t *out;   /* one lateness per sleep */
    weft_instant *made, *woke; /* of its last sleep */
    int64_t *early; /* its own: how long before its deadline a sleep ended (max) */
    int count, i, ms;
    uint64_t seed;
    weft_sleep nap;
} sleeper;
static weft_poll sleeper_poll(weft_future *f, weft_context *cx, void *out) {
    sleeper *s = (sleeper *)f;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < s->count; s->i++) {
        {
            int ms = s->ms;
            if (!ms) {
                s->seed = s->seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
                ms = 1 + (int)((s->seed >> 33) % 10);
            }
            weft_sleep(&s->nap, WEFT_MS(ms));
            *s->made = s->nap.deadline - (weft_instant)WEFT_MS(ms);
        }
        WEFT_AWAIT(f, cx, &s->nap.base, out);
        {
            int64_t now = (int64_t)weft_now();
            *s->woke = (weft_instant)now;
            s->out[s->i] = now - (int64_t)s->nap.deadline;
            if ((int64_t)s->nap.deadline - now > *s->early)
                *s->early = (int64_t)s->nap.deadline - now;
        }
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(sleeper, sleeper_poll, NULL);

typedef struct round_root {
    weft_future base;
    int tasks, sleeps, sparse;
    int64_t *out, *early;
    weft_instant *made, *woke;
    weft_instant t0, spawned, end;
    weft_join_handle *jh;
    int i;
} round_root;
static weft_poll round_root_poll(weft_future *f, weft_context *cx, void *out) {
    round_root *s = (round_root *)f;
    WEFT_BEGIN(f);
    s->t0 = weft_now();
    for (int i = 0; i < s->tasks; i++) {
        sleeper t = WEFT_NEW(sleeper, .out = s->out + (size_t)i * (size_t)s->sleeps,
                             .early = s->early + i, .made = s->made + i, .woke = s->woke + i,
                             .count = s->sleeps, .ms = s->sparse ? 0 : 1 + i % 10,
                             .seed = UINT64_C(0x853c49e6748fea9b) + (uint64_t)i);
        if (weft_spawn(&t.base, &s->jh[i]))
            abort();
    }
    s->spawned = weft_now();
    for (s->i = 0; s->i < s->tasks; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
    s->end = weft_now();
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(round_root, round_root_poll, NULL);

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double us_at(const samples *s, double q) {
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return (double)s->v[i] / 1000.0;
}

/* Where a burst round's time went, in ns from the root's first poll. */
typedef struct phases {
    samples spawned, armed, last, end, late;
} phases;

static void add_phases(phases *ph, const round_root *r) {
    weft_instant armed = 0, last = 0, last_due = 0;
    for (int i = 0; i < r->tasks; i++) {
        weft_instant due = r->made[i] + (weft_instant)WEFT_MS(1 + i % 10);
        armed = r->made[i] > armed ? r->made[i] : armed;
        last = r->woke[i] > last ? r->woke[i] : last;
        last_due = due > last_due ? due : last_due;
    }
    add(&ph->spawned, (int64_t)(r->spawned - r->t0));
    add(&ph->armed, (int64_t)(armed - r->t0));
    add(&ph->last, (int64_t)(last - r->t0));
    add(&ph->end, (int64_t)(r->end - r->t0));
    add(&ph->late, (int64_t)last - (int64_t)last_due);
}

static double median_us(samples *s) {
    qsort(s->v, s->n, sizeof *s->v, cmp64);
    return (double)s->v[s->n / 2] / 1000.0;
}

static void print_phases(const char *name, phases *ph) {
    printf("%-16s burst   spawned %7.1f us  armed %7.1f us  last %8.1f us  end %8.1f us  "
           "late %6.1f us\n",
           name, median_us(&ph->spawned), median_us(&ph->armed), median_us(&ph->last),
           median_us(&ph->end), median_us(&ph->late));
    free(ph->spawned.v);
    free(ph->armed.v);
    free(ph->last.v);
    free(ph->end.v);
    free(ph->late.v);
}

/* Voluntary context switches of the process so far (-1: not counted). */
static long waits_so_far(void) {
#ifndef _WIN32
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        return ru.ru_nvcsw;
#endif
    return -1;
}

static bool run(weft_flavor flavor, const char *name, int sparse, int rounds) {
    weft_builder b;
    weft_builder_init(&b, flavor);
    if (flavor == WEFT_MULTI_THREAD)
        b.worker_threads = 2;
    weft_runtime *rt;
    if (weft_runtime_new(&b, &rt))
        abort();
    int tasks = sparse ? SPARSE_TASKS : BURST_TASKS, sleeps = sparse ? SPARSE_SLEEPS : 1;
    int64_t *out = calloc((size_t)tasks * (size_t)sleeps, sizeof *out);
    weft_join_handle *jh = calloc((size_t)tasks, sizeof *jh);
    samples all = {0};
    int64_t *early_of = calloc((size_t)tasks, sizeof *early_of), early = 0;
    weft_instant *made = calloc((size_t)tasks, sizeof *made);
    weft_instant *woke = calloc((size_t)tasks, sizeof *woke);
    phases ph = {0};
    long waits = 0;
    for (int r = 0; r <= rounds; r++) { /* round 0 warms up */
        long w0 = waits_so_far();
        round_root root = WEFT_NEW(round_root, .tasks = tasks, .sleeps = sleeps,
                                   .sparse = sparse, .out = out, .early = early_of, .made = made,
                                   .woke = woke, .jh = jh);
        if (weft_runtime_block_on(rt, &root.base, NULL))
            abort();
        if (r)
            waits += waits_so_far() - w0;
        for (size_t i = 0; r && i < (size_t)tasks * (size_t)sleeps; i++)
            add(&all, out[i]);
        if (r && !sparse)
            add_phases(&ph, &root);
        for (int i = 0; i < tasks; i++)
            early = early_of[i] > early ? early_of[i] : early;
    }
    weft_runtime_free(rt);
    qsort(all.v, all.n, sizeof *all.v, cmp64);
    printf("%-16s %-7s p50 %8.1f us  p99 %8.1f us  max %8.1f us  min %6.1f us  (n=%zu", name,
           sparse ? "sparse" : "burst", us_at(&all, 0.5), us_at(&all, 0.99), us_at(&all, 1.0),
           us_at(&all, 0.0), all.n);
    if (waits >= 0)
        printf(", waits %.2f", (double)waits / (double)all.n);
    printf(")\n");
    if (!sparse)
        print_phases(name, &ph);
    fflush(stdout);
    if (early > 0)
        fprintf(stderr, "weft-lateness: %s: a sleep ended %.1f us before its deadline\n", name,
                (double)early / 1000.0);
    free(all.v);
    free(out);
    free(early_of);
    free(made);
    free(woke);
    free(jh);
    return early <= 0;
}

int main(int argc, char **argv) {
    const char *only = NULL;
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--flavor") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--flavor current_thread|multi_thread] [--rounds N]\n",
                    argv[0]);
            return 2;
        }
    }
    static const struct {
        const char *name, *label;
        weft_flavor flavor;
    } flavors[] = {{"current_thread", "current_thread", WEFT_CURRENT_THREAD},
                   {"multi_thread", "multi_thread(2)", WEFT_MULTI_THREAD}};
    bool ok = true;
    for (size_t f = 0; f < sizeof flavors / sizeof flavors[0]; f++) {
        if (only && strcmp(only, flavors[f].name))
            continue;
        ok &= run(flavors[f].flavor, flavors[f].label, 0, rounds);
        ok &= run(flavors[f].flavor, flavors[f].label, 1, rounds);
    }
    return ok ? 0 : 1;
}
