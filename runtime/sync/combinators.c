/* weft — join_all and select over N futures.
 *
 * Both own their children from init on.  A child is finished once it has
 * been dropped (WEFT__F_DROPPED), so no side array is needed: a ready child
 * is dropped at once, which releases what it held before its siblings run
 * on.
 */
#include "sync_impl.h"

static void own_children(weft_future **futs, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (futs[i])
            futs[i]->flags |= WEFT__F_NOREPORT; /* the combinator polls them */
}

static void drop_children(weft_future **futs, size_t n) {
    for (size_t i = 0; i < n; i++)
        weft_future_drop(futs[i]);
}

static inline bool finished(const weft_future *f) { return !f || (f->flags & WEFT__F_DROPPED); }

/* --------------------------------------------------------------- join_all */

static weft_poll join_all_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    weft_join_all *j = (weft_join_all *)f;
    for (size_t i = 0; i < j->n && j->left; i++) {
        weft_future *c = j->futs[i];
        if (finished(c))
            continue;
        if (weft_future_poll(c, cx, j->outs ? j->outs[i] : NULL) == WEFT_READY) {
            weft_future_drop(c);
            j->left--;
        }
    }
    if (j->left)
        return WEFT_PENDING;
    f->resume = WEFT__DONE;
    return WEFT_READY;
}

static void join_all_drop(weft_future *f) {
    weft_join_all *j = (weft_join_all *)f;
    drop_children(j->futs, j->n);
}

static const weft_future_vtable join_all_vt = {join_all_poll, join_all_drop, sizeof(weft_join_all),
                                               0, "weft_join_all", 0};

weft_future *weft_join_all_init(weft_join_all *j, weft_future **futs, void **outs, size_t n,
                                const char *site) {
    WEFT__NEED(j, "weft_join_all", "state");
    WEFT__NEED(futs || !n, "weft_join_all", "futures array");
    weft_future_init(&j->base, &join_all_vt, site);
    j->futs = futs;
    j->outs = outs;
    j->n = n;
    j->left = 0;
    own_children(futs, n);
    for (size_t i = 0; i < n; i++)
        j->left += !finished(futs[i]);
    return &j->base;
}

/* ----------------------------------------------------------------- select */

static weft_poll select_poll(weft_future *f, weft_context *cx, void *out) {
    weft_select *s = (weft_select *)f;
    size_t start = (size_t)weft_random_below(s->n);
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (start + k) % s->n;
        weft_future *c = s->futs[i];
        if (finished(c))
            continue;
        if (weft_future_poll(c, cx, s->outs ? s->outs[i] : NULL) == WEFT_READY) {
            drop_children(s->futs, s->n); /* the winner, then the losers */
            f->resume = WEFT__DONE;
            if (out)
                *(size_t *)out = i;
            return WEFT_READY;
        }
    }
    return WEFT_PENDING;
}

static void select_drop(weft_future *f) {
    weft_select *s = (weft_select *)f;
    drop_children(s->futs, s->n);
}

static const weft_future_vtable select_vt = {select_poll, select_drop, sizeof(weft_select),
                                             sizeof(size_t), "weft_select", 0};

weft_future *weft_select_init(weft_select *s, weft_future **futs, void **outs, size_t n,
                              const char *site) {
    WEFT__NEED(s, "weft_select", "state");
    WEFT__NEED(futs || !n, "weft_select", "futures array");
    if (n == 0) /* nothing could ever win: it would wait forever */
        weft__die_misuse("weft_select", "zero futures (it would never complete)");
    weft_future_init(&s->base, &select_vt, site);
    s->futs = futs;
    s->outs = outs;
    s->n = n;
    own_children(futs, n);
    return &s->base;
}
