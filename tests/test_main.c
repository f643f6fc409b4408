/* weft tests — WEFT_MAIN: an async main whose output is the exit status.
 * meson runs it with "alpha beta" (must exit 0) and with "wrong" (must
 * fail: the future's output becomes the status). */
#include <string.h>

#include "weft/weft.h"

typedef struct app {
    weft_future base;
    int argc;
    char **argv;
} app;

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *s = (app *)f;
    (void)cx;
    WEFT_BEGIN(f);
    int ok = s->argc == 3 && strcmp(s->argv[1], "alpha") == 0 &&
             strcmp(s->argv[2], "beta") == 0 && weft_handle_current() != NULL;
    WEFT_RETURN(f, out, int, ok ? 0 : 3);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

WEFT_MAIN(app)
