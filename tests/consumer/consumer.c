/* weft's subproject consumer (tests/consumer): an async main on two
 * worker threads that spawns, joins and sleeps, and the version check. */
#include <stdio.h>
#include <string.h>

#include "weft/time.h"
#include "weft/weft.h"

typedef struct square {
    weft_future base;
    int n;
    weft_sleep nap;
} square;

static weft_poll square_poll(weft_future *f, weft_context *cx, void *out) {
    square *s = (square *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(1)), NULL);
    WEFT_RETURN(f, out, int, s->n * s->n);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(square, square_poll, NULL, int);

typedef struct app {
    weft_future base;
    int argc;
    char **argv;
    int i, v, sum;
    weft_join_handle jh[4];
} app;

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *s = (app *)f;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < 4; s->i++)
        weft_spawn(&WEFT_NEW(square, .n = s->i + 1), &s->jh[s->i]);
    for (s->i = 0; s->i < 4; s->i++) {
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->v);
        s->sum += s->v;
    }
    printf("weft %s: sum of squares %d\n", weft_version(), s->sum);
    WEFT_RETURN(f, out, int, s->sum == 30 && strcmp(weft_version(), WEFT_VERSION_STRING) == 0 ? 0 : 1);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

WEFT_MAIN(app, .flavor = WEFT_MULTI_THREAD, .worker_threads = 2)
