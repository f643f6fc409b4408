/* weft tests — the suite's shared test futures (see harness.h); the
 * fixtures themselves are the public ones (weft/test.h). */
#include "harness.h"

const char *wt_flavor_name(weft_flavor f) {
    switch (f) {
    case WEFT_CURRENT_THREAD:
        return "current_thread";
    case WEFT_MULTI_THREAD:
        return "multi_thread";
    case WEFT_SIM:
        return "sim";
    }
    return "?";
}

static weft_poll forever_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    atomic_fetch_add(&((forever *)f)->c->polls, 1);
    return WEFT_PENDING;
}
static void forever_drop(weft_future *f) { atomic_fetch_add(&((forever *)f)->c->drops, 1); }
const weft_future_vtable forever_vtable = {forever_poll, forever_drop, sizeof(forever), 0,
                                           "forever", 0};

static weft_poll setter_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    atomic_store(((setter *)f)->flag, 1);
    return WEFT_READY;
}
const weft_future_vtable setter_vtable = {setter_poll, NULL, sizeof(setter), 0, "setter", 0};
