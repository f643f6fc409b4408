/* weft-bench — weft's side of the anchor benchmarks.
 *
 * The workloads and their parameters are those of
 * shared/anchors/tokio-bench (see its README): spawn_many_local,
 * spawn_many_remote_idle, ct_spawn_await_local, yield_many, chained_spawn,
 * timer_churn, timer_fire.  Output: one line per (flavor, bench) in the
 * anchors' format, so `shared/anchors/compare` can put weft beside Tokio
 * and libuv:
 *
 *   current_thread  spawn_many_local  1999.2 us/iter  199.9 ns/op  (ops/iter=10000, iters=251)
 *
 * Timing as the anchors: warm up for 20% of --secs, then time single
 * iterations until --secs is spent (at least 10), report the median.
 *
 *   weft-bench [--secs S] [--only NAME] [--flavor NAME] [--iters N]
 *
 * `--iters N` runs exactly N iterations after one warm-up iteration, with
 * no clock in the loop: under `valgrind --tool=callgrind` two runs with
 * different N give the instructions one op costs, a figure the machine's
 * load does not move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "bench.h"

/* ------------------------------------------------------------ measuring */

/* Workloads signal completion from inside their last task's poll, so that
 * task may still be finishing on a worker when the last iteration ends:
 * let it, rather than have shutdown cancel it and report it. */
static void settle(weft_runtime *rt) {
    weft_runtime_stats st;
    for (int i = 0; i < 100000; i++) {
        weft_handle_stats(weft_runtime_handle(rt), &st);
        if (st.alive_tasks == 0)
            return;
        sched_yield();
    }
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double measure(double secs, bench_ctx *b, void (*iter)(bench_ctx *), size_t *iters) {
    if (*iters) { /* fixed count */
        iter(b);
        uint64_t t0 = wall_ns();
        for (size_t i = 0; i < *iters; i++)
            iter(b);
        return (double)(wall_ns() - t0) / (double)*iters;
    }
    uint64_t warm = (uint64_t)(secs * 0.2e9), budget = (uint64_t)(secs * 1e9);
    uint64_t t0 = wall_ns();
    while (wall_ns() - t0 < warm)
        iter(b);
    size_t cap = 1024, n = 0;
    double *samples = malloc(cap * sizeof *samples);
    uint64_t t1 = wall_ns();
    while (wall_ns() - t1 < budget || n < 10) {
        uint64_t s = wall_ns();
        iter(b);
        if (n == cap)
            samples = realloc(samples, (cap *= 2) * sizeof *samples);
        samples[n++] = (double)(wall_ns() - s);
    }
    qsort(samples, n, sizeof *samples, cmp_double);
    double median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
    free(samples);
    *iters = n;
    return median;
}

/* -------------------------------------------------------- done signal */

static weft_poll done_wait_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    done_signal *d = ((done_wait *)f)->sig;
    weft__mutex_lock(&d->lock);
    if (d->fired) {
        d->fired = false;
        weft__mutex_unlock(&d->lock);
        return WEFT_READY;
    }
    weft_waker_set(&d->waker, weft_cx_waker(cx));
    weft__mutex_unlock(&d->lock);
    return WEFT_PENDING;
}
const weft_future_vtable done_wait_vtable = {done_wait_poll, NULL, sizeof(done_wait), 0,
                                             "done_wait", 0};

void done_init(done_signal *d) {
    weft__mutex_init(&d->lock);
    d->waker = (weft_waker){0};
    d->fired = false;
    atomic_init(&d->remaining, 0);
}

void done_fire(done_signal *d) {
    weft__mutex_lock(&d->lock);
    d->fired = true;
    weft_waker w = d->waker;
    d->waker = (weft_waker){0};
    weft__mutex_unlock(&d->lock);
    weft_waker_wake(&w);
}

void done_count_down(done_signal *d) {
    if (atomic_fetch_sub_explicit(&d->remaining, 1, memory_order_acq_rel) == 1)
        done_fire(d);
}

void done_destroy(done_signal *d) {
    weft_waker_drop(&d->waker);
    weft__mutex_destroy(&d->lock);
}

/* -------------------------------------------------------- until_done */

typedef struct until_done_root {
    weft_future base;
    done_signal *done;
    long count;
    void (*start)(done_signal *done);
    done_wait wait;
} until_done_root;
static weft_poll until_done_root_poll(weft_future *f, weft_context *cx, void *out) {
    until_done_root *s = (until_done_root *)f;
    WEFT_BEGIN(f);
    atomic_store(&s->done->remaining, s->count);
    s->start(s->done);
    s->wait = DONE_WAIT(s->done);
    WEFT_AWAIT(f, cx, &s->wait, out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(until_done_root, until_done_root_poll, NULL);

void bench_until_done(bench_ctx *b, long count, void (*start)(done_signal *done)) {
    until_done_root root =
        WEFT_NEW(until_done_root, .done = b->scratch, .count = count, .start = start);
    int err = weft_runtime_block_on(b->rt, &root.base, NULL);
    if (err) {
        fprintf(stderr, "weft-bench: block_on: %s\n", weft_strerror(err));
        exit(1);
    }
}

/* ------------------------------------------------------------- flavors */

static const bench_flavor flavors[] = {
    {"current_thread", WEFT_CURRENT_THREAD, 0},
    {"multi_thread(2)", WEFT_MULTI_THREAD, 2},
#ifdef WEFT_HAVE_SIM
    {"sim", WEFT_SIM, 0}, /* seeded picks, fingerprint on, compared with Tokio CT */
#endif
};

static const bench_def *const *all_benches[] = {
    bench_core_list,
    bench_sync_list,
    bench_net_list,
};

void must(int err, const char *what) {
    if (err) {
        fprintf(stderr, "weft-bench: %s: %s\n", what, weft_strerror(err));
        exit(1);
    }
}

void setup_done(bench_ctx *b) {
    done_signal *d = malloc(sizeof *d);
    must(d ? 0 : WEFT_ENOMEM, "setup");
    done_init(d);
    b->scratch = d;
}

void teardown_done(bench_ctx *b) {
    done_destroy(b->scratch);
    free(b->scratch);
}

weft_runtime *bench_runtime(const bench_flavor *fl) {
    weft_builder b;
    weft_builder_init(&b, fl->flavor);
    if (fl->workers)
        b.worker_threads = fl->workers;
    /* One runtime serves every iteration of a bench: its steps add up, and
     * a fast one would pass the livelock limit meant for tests. */
    b.sim_max_steps = 0;
    weft_runtime *rt;
    int err = weft_runtime_new(&b, &rt);
    if (err) {
        fprintf(stderr, "weft-bench: cannot build %s: %s\n", fl->name, weft_strerror(err));
        exit(1);
    }
    return rt;
}

int main(int argc, char **argv) {
    double secs = 1.5;
    const char *only = NULL, *flavor = NULL;
    size_t fixed_iters = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--secs") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--flavor") && i + 1 < argc)
            flavor = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            fixed_iters = (size_t)strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--secs S] [--only NAME] [--flavor NAME] [--iters N]\n",
                    argv[0]);
            return 2;
        }
    }
    for (size_t f = 0; f < sizeof flavors / sizeof flavors[0]; f++) {
        const bench_flavor *fl = &flavors[f];
        if (flavor && strcmp(flavor, fl->name))
            continue;
        for (size_t l = 0; l < sizeof all_benches / sizeof all_benches[0]; l++) {
            for (const bench_def *const *d = all_benches[l]; *d; d++) {
                const bench_def *def = *d;
                if (only && !strstr(def->name, only))
                    continue;
                if (def->supports && !def->supports(fl))
                    continue;
                bench_ctx b = {.flavor = fl, .rt = bench_runtime(fl)};
                if (def->setup)
                    def->setup(&b);
                size_t iters = fixed_iters;
                double ns = measure(secs, &b, def->iter, &iters);
                if (def->teardown)
                    def->teardown(&b);
                settle(b.rt);
                weft_runtime_free(b.rt);
                printf("%-18s %-24s %12.1f us/iter %10.1f ns/op  (ops/iter=%zu, iters=%zu)\n",
                       fl->name, def->name, ns / 1000.0, ns / (double)def->ops, def->ops, iters);
                fflush(stdout);
            }
        }
    }
    return 0;
}
