/* weft tests — WEFT_MAIN: an async main whose output is the exit status,
 * on the runtime its options describe.  meson builds it three ways
 * (MAIN_FLAVOR, MAIN_WORKERS, MAIN_PAUSED) and runs it with "alpha beta"
 * (must exit 0) and with "wrong" (the future's 3 must be the status). */
#include <string.h>

#include "weft/time.h"
#include "weft/weft.h"

#ifndef MAIN_FLAVOR
#define MAIN_FLAVOR WEFT_CURRENT_THREAD
#endif
#ifndef MAIN_WORKERS
#define MAIN_WORKERS 0
#endif
#ifndef MAIN_PAUSED
#define MAIN_PAUSED false
#endif

typedef struct app {
    weft_future base;
    int argc;
    char **argv;
    weft_instant t0;
    weft_sleep nap;
} app;

/* The runtime is the one the options asked for. */
static bool runtime_as_asked(void) {
    weft_handle *h = weft_handle_current();
    if (!h || weft_handle_flavor(h) != MAIN_FLAVOR)
        return false;
    if (MAIN_WORKERS > 0) {
        weft_runtime_metrics m;
        weft_handle_metrics(h, &m);
        if (m.workers != MAIN_WORKERS)
            return false;
    }
    return true;
}

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *s = (app *)f;
    WEFT_BEGIN(f);
    s->t0 = weft_now();
    /* An hour passes at once on a paused clock, exactly. */
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, MAIN_PAUSED ? WEFT_SECS(3600) : WEFT_MS(1)), NULL);
    if (MAIN_PAUSED && weft_now() - s->t0 != WEFT_SECS(3600))
        WEFT_RETURN(f, out, int, 4);
    if (!runtime_as_asked())
        WEFT_RETURN(f, out, int, 5);
    {
        int ok = s->argc == 3 && strcmp(s->argv[1], "alpha") == 0 &&
                 strcmp(s->argv[2], "beta") == 0;
        WEFT_RETURN(f, out, int, ok ? 0 : 3);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

WEFT_MAIN(app, .flavor = MAIN_FLAVOR, .worker_threads = MAIN_WORKERS, .paused = MAIN_PAUSED)
