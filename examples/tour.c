#include <stdio.h>
#include <string.h>
#include "weft/weft.h"
#include "weft/time.h"

/* A child task: sleep, then produce a number. */
typedef struct fetch {
    weft_future base;
    int id;
    weft_sleep nap;              /* awaited futures live in the state too */
} fetch;

static weft_poll fetch_poll(weft_future *f, weft_context *cx, void *out) {
    fetch *self = (fetch *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&self->nap, WEFT_MS(10 * self->id)), NULL);
    WEFT_RETURN(f, out, int, self->id * 100);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(fetch, fetch_poll, NULL, int);   /* output type: int */

/* main, as an async function: argc/argv arrive as fields. */
typedef struct app {
    weft_future base;
    int argc;
    char **argv;
    int i, sum, value;
    weft_join_handle jobs[4];
    weft_timeout limit;
    fetch slow;
} app;

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *self = (app *)f;
    WEFT_BEGIN(f);
    if (self->argc > 1) {                            /* --help, or a mistake */
        bool help = strcmp(self->argv[1], "--help") == 0;
        if (!help)
            fprintf(stderr, "%s: unknown argument '%s'\n", self->argv[0], self->argv[1]);
        fprintf(help ? stdout : stderr, "usage: %s   (no options)\n", self->argv[0]);
        WEFT_RETURN(f, out, int, help ? 0 : 2);
    }
    for (self->i = 0; self->i < 4; self->i++)        /* spawn copies the state */
        weft_spawn(&WEFT_NEW(fetch, .id = self->i + 1), &self->jobs[self->i]);
    for (self->i = 0; self->i < 4; self->i++) {
        WEFT_AWAIT(f, cx, weft_join(&self->jobs[self->i]), &self->value);
        self->sum += self->value;
    }
    /* Any future can be wrapped in a timeout; the loser is dropped cleanly. */
    self->slow = WEFT_NEW(fetch, .id = 50);
    WEFT_AWAIT(f, cx, weft_timeout(&self->limit, WEFT_MS(100), &self->slow.base), &self->value);
    printf("sum %d, slow one: %s\n", self->sum, weft_err_name(weft_timeout_status(&self->limit)));
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

WEFT_MAIN(app)    /* builds a runtime, block_on(app), returns its int */
