/* weft — futures, wakers and the context: the generic half of polling. */
#include "task.h"

/* ----------------------------------------------------------------- wakers */

weft_waker weft_waker_clone(const weft_waker *w) {
    if (!w || !w->vt)
        return (weft_waker){0};
    return w->vt->clone(w->data);
}

void weft_waker_wake(weft_waker *w) {
    if (!w || !w->vt)
        return;
    weft_waker taken = *w;
    *w = (weft_waker){0};
    taken.vt->wake(taken.data);
}

void weft_waker_wake_by_ref(const weft_waker *w) {
    if (w && w->vt)
        w->vt->wake_by_ref(w->data);
}

void weft_waker_drop(weft_waker *w) {
    if (!w || !w->vt)
        return;
    weft_waker taken = *w;
    *w = (weft_waker){0};
    taken.vt->drop(taken.data);
}

bool weft_waker_will_wake(const weft_waker *a, const weft_waker *b) {
    return a && b && a->vt == b->vt && a->data == b->data;
}

void weft_waker_set(weft_waker *slot, const weft_waker *w) {
    WEFT__NEED(slot, "weft_waker_set", "slot");
    if (weft_waker_will_wake(slot, w))
        return;
    weft_waker fresh = weft_waker_clone(w);
    weft_waker_drop(slot);
    *slot = fresh;
}

/* ---------------------------------------------------------------- context */

const weft_waker *weft_cx_waker(weft_context *cx) {
    WEFT__NEED(cx, "weft_cx_waker", "context");
    return cx->weft__waker;
}

/* The task's own waker (the common case) is told straight away, without
 * the calls: its poller queues it again when the poll returns (task.c). */
void weft_yield_request(weft_context *cx) {
    WEFT__NEED(cx, "weft_yield_request", "context");
    cx->weft__yielded = 1;
    const weft_waker *w = cx->weft__waker;
    if (w && w->vt == &weft__task_waker_vt && w->data == weft__coop_cur.task && w->data) {
        weft__coop_cur.self_woken = true;
        return;
    }
    weft_waker_wake_by_ref(w);
}

void weft_cx_fail(weft_context *cx, int err) {
    WEFT__NEED(cx, "weft_cx_fail", "context");
    cx->weft__fail = err < 0 ? err : WEFT_EFAILED;
}

/* ---------------------------------------------------------------- futures */

void weft_future_init(weft_future *f, const weft_future_vtable *vt, const char *site) {
    WEFT__NEED(f, "weft_future_init", "future");
    WEFT__NEED(vt && vt->poll, "weft_future_init", "vtable or poll function");
    *f = (weft_future){vt, NULL, site, 0, 0};
}

weft_poll weft_future_poll(weft_future *f, weft_context *cx, void *out) {
    WEFT__NEED(f && f->vt && f->vt->poll, "weft_future_poll", "future (or one with no vtable)");
    WEFT__NEED(cx, "weft_future_poll", "context");
    if (f->flags & WEFT__F_DROPPED || f->resume == WEFT__DONE) {
        if (!(f->vt->vflags & WEFT_VT_REPOLL))
            weft__die(f->flags & WEFT__F_DROPPED ? "future polled after it was dropped"
                                                 : "future polled after it completed");
    }
    f->flags |= WEFT__F_POLLED;
    return f->vt->poll(f, cx, out);
}

/* The child a dropped future still awaits, dropped first (out of line, so
 * the common drop, of a future awaiting nothing, needs no frame). */
static WEFT__NOINLINE void drop_awaited(weft_future *f) {
    weft_future *child = f->awaiting;
    f->awaiting = NULL;
    weft_future_drop(child);
}

void weft_future_drop(weft_future *f) {
    if (!f || !f->vt || (f->flags & WEFT__F_DROPPED))
        return;
    f->flags |= WEFT__F_DROPPED;
#ifndef NDEBUG
    if (!(f->flags & (WEFT__F_POLLED | WEFT__F_NOREPORT)) && f->site)
        weft__diag(weft__cur.rt, "future dropped without ever being polled (forgot to await it?)",
                   f->site);
#endif
    if (f->awaiting)
        drop_awaited(f);
    if (f->vt->drop)
        f->vt->drop(f);
}

void weft__bad_resume(weft_future *f) {
    const char *name = f && f->vt && f->vt->name ? f->vt->name : "?";
    fprintf(stderr, "weft: async function %s resumed at an unknown point (state corrupted or moved after a poll)\n", name);
    fflush(stderr);
    abort();
}

/* -------------------------------------------------------------- yield_now */

static weft_poll yield_now_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    if (f->resume)
        return WEFT_READY;
    f->resume = 1;
    weft_yield_request(cx);
    return WEFT_PENDING;
}

static const weft_future_vtable yield_now_vt = {yield_now_poll, NULL, sizeof(weft_yield_now), 0,
                                                "weft_yield_now", 0};

weft_future *weft_yield_now_init(weft_yield_now *y, const char *site) {
    WEFT__NEED(y, "weft_yield_now", "state");
    weft_future_init(&y->base, &yield_now_vt, site);
    return &y->base;
}
