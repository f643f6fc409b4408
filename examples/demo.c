/* weft demo — a tour of the core on the real clock: spawn and join, abort,
 * sleep, timeout, an interval, and the nested-runtime error.
 *
 *   build/examples/weft-demo [--help]
 */
#include <stdio.h>
#include <string.h>

#include "weft/time.h"
#include "weft/weft.h"

#define MS(ns) ((double)(ns) / 1e6)

/* A worker: sleeps `ms` then returns id * 10. */
typedef struct worker {
    weft_future base;
    int id, ms;
    weft_sleep nap;
} worker;

static weft_poll worker_poll(weft_future *f, weft_context *cx, void *out) {
    worker *self = (worker *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(self->ms)), NULL);
    WEFT_RETURN(f, out, int, self->id * 10);
    WEFT_END(f);
}

/* Runs when the worker is dropped: completed or aborted, exactly once. */
static void worker_drop(weft_future *f) {
    worker *self = (worker *)f;
    if (self->base.resume != WEFT__DONE)
        printf("  worker %d: cancelled, cleanup ran\n", self->id);
}
WEFT_FUTURE_DEFINE(worker, worker_poll, worker_drop, int);

/* Tries to start a runtime from inside one. */
typedef struct nested {
    weft_future base;
} nested;
static weft_poll nested_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f;
    (void)cx;
    (void)out;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(nested, nested_poll, NULL);

typedef struct app {
    weft_future base;
    int argc;
    char **argv;
    int i, value;
    weft_instant t0;
    weft_join_handle jobs[3], slow;
    weft_sleep nap;
    weft_timeout deadline;
    worker late;
    weft_interval every;
    weft_instant tick;
} app;

static int usage(const char *prog, FILE *to) {
    fprintf(to, "usage: %s [--help]\n"
                "  a tour of the runtime on the real clock: spawn and join, abort, sleep,\n"
                "  timeout, an interval, and the nested-runtime error\n",
            prog);
    return to == stdout ? 0 : 2;
}

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *self = (app *)f;
    WEFT_BEGIN(f);
    if (self->argc == 2 && strcmp(self->argv[1], "--help") == 0)
        WEFT_RETURN(f, out, int, usage(self->argv[0], stdout));
    if (self->argc > 1) {
        fprintf(stderr, "%s: unknown argument '%s'\n", self->argv[0], self->argv[1]);
        WEFT_RETURN(f, out, int, usage(self->argv[0], stderr));
    }
    self->t0 = weft_now();

    puts("spawn three workers and join them:");
    for (self->i = 0; self->i < 3; self->i++)
        weft_spawn(&WEFT_NEW(worker, .id = self->i + 1, .ms = 30 - 10 * self->i),
                   &self->jobs[self->i]);
    for (self->i = 0; self->i < 3; self->i++) {
        WEFT_AWAIT(f, cx, weft_join(&self->jobs[self->i]), &self->value);
        printf("  worker %d -> %d (status %s)\n", self->i + 1, self->value,
               weft_err_name(weft_join_status(&self->jobs[self->i])));
    }

    puts("abort a worker that sleeps for an hour:");
    weft_spawn(&WEFT_NEW(worker, .id = 9, .ms = 3600 * 1000), &self->slow);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(5)), NULL);
    weft_join_abort(&self->slow);
    WEFT_AWAIT(f, cx, weft_join(&self->slow), &self->value);
    printf("  join reports %s\n", weft_err_name(weft_join_status(&self->slow)));

    puts("timeout: 20 ms allowed for a 50 ms job:");
    self->late = WEFT_NEW(worker, .id = 4, .ms = 50);
    WEFT_AWAIT(f, cx, weft_timeout(&self->deadline, WEFT_MS(20), &self->late.base), &self->value);
    printf("  %s after %.1f ms\n", weft_err_name(weft_timeout_status(&self->deadline)),
           MS(weft_timeout_elapsed(&self->deadline)));

    puts("an interval of 10 ms, four ticks:");
    weft_interval_init(&self->every, WEFT_MS(10));
    for (self->i = 0; self->i < 4; self->i++) {
        WEFT_AWAIT(f, cx, weft_interval_tick(&self->every), &self->tick);
        printf("  tick %d at +%.1f ms\n", self->i, MS(self->tick - self->t0));
    }
    weft_interval_drop(&self->every);

    puts("start a runtime from inside this one:");
    {
        weft_runtime *inner = (weft_runtime *)weft_handle_current();
        nested n = WEFT_NEW(nested);
        int err = weft_runtime_block_on(inner, &n.base, NULL);
        printf("  refused: %s (%s)\n", weft_strerror(err), weft_err_name(err));
    }
    printf("done in %.1f ms\n", MS(weft_now() - self->t0));
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

WEFT_MAIN(app)
