/* weft — JoinSet: a caller-owned set of spawned tasks, joined as they finish.
 *
 * Each task's JoinHandle lives in a small entry allocated at spawn (one
 * allocation per task, next to the task's own) and linked into the set.
 * join_next polls the handles of the set in turn: each registers the
 * joining task's waker with its task, so whichever finishes first wakes
 * it.  That costs O(tasks in the set) per wake-up; tokio's per-entry
 * wakers would make it O(1) and are the next step if sets grow large.
 *
 * Cancel safety: a dropped join_next takes nothing out of the set; a task
 * it had not yet reported stays there for the next one.
 */
#include "rt.h"
#include "sync_impl.h"

struct weft__join_entry {
    weft__join_entry *prev, *next;
    weft_join_handle jh;
};

void weft_join_set_init(weft_join_set *s, weft_handle *h, const weft_allocator *a) {
    WEFT__NEED(s, "weft_join_set_init", "set");
    s->weft__head = NULL;
    s->weft__len = 0;
    s->weft__alloc = weft__sync_allocator_of(a, (weft__rt *)h);
    s->weft__handle = h;
}

static void unlink_entry(weft_join_set *s, weft__join_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        s->weft__head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    s->weft__len--;
}

static void free_entry(weft_join_set *s, weft__join_entry *e) {
    s->weft__alloc.free(s->weft__alloc.ctx, e, sizeof *e);
}

/* A spawn refused before it reached weft_spawn_at: the future is dropped
 * (its cleanup runs), as on every spawn error. */
static int refuse(weft_future *fut, int err) {
    if (fut && fut->vt) {
        fut->flags |= WEFT__F_NOREPORT;
        weft_future_drop(fut);
    }
    return err;
}

int weft_join_set_spawn_at(weft_join_set *s, weft_future *fut, uint64_t *id, const char *site) {
    if (!s)
        return refuse(fut, WEFT_EINVAL);
    weft__join_entry *e = s->weft__alloc.alloc(s->weft__alloc.ctx, sizeof *e);
    if (!e)
        return refuse(fut, WEFT_ENOMEM);
    int err = weft_spawn_at(s->weft__handle, fut, &e->jh, site);
    if (err) {
        free_entry(s, e);
        return err;
    }
    if (id)
        *id = e->jh.id;
    e->prev = NULL;
    e->next = s->weft__head;
    if (e->next)
        e->next->prev = e;
    s->weft__head = e;
    s->weft__len++;
    return 0;
}

size_t weft_join_set_len(const weft_join_set *s) { return s ? s->weft__len : 0; }

void weft_join_set_abort_all(weft_join_set *s) {
    if (!s)
        return;
    for (weft__join_entry *e = s->weft__head; e; e = e->next)
        weft_join_abort(&e->jh);
}

void weft_join_set_destroy(weft_join_set *s) {
    if (!s)
        return;
    weft__join_entry *e;
    while ((e = s->weft__head)) {
        weft_join_abort(&e->jh);
        weft_join_detach(&e->jh);
        unlink_entry(s, e);
        free_entry(s, e);
    }
}

static weft_poll join_next_poll(weft_future *f, weft_context *cx, void *out) {
    weft_join_next_op *op = (weft_join_next_op *)f;
    weft_join_set *s = op->set;
    int rc = WEFT_ECLOSED;
    /* One unit of the budget for the whole look: spent per handle, a set
     * larger than the budget would never reach its later tasks (the poll
     * would yield at the same handle every time). */
    if (s->weft__head && !weft_coop_proceed(cx))
        return WEFT_PENDING;
    bool budgeted = weft__coop_cur.active; /* the rest of the frame stays live */
    weft__coop_cur.active = false;
    for (weft__join_entry *e = s->weft__head; e; e = e->next) {
        if (weft_future_poll(&e->jh.base, cx, op->dst) == WEFT_PENDING)
            continue;
        op->status = weft_join_status(&e->jh);
        op->id = e->jh.id;
        unlink_entry(s, e);
        free_entry(s, e);
        rc = 0;
        break;
    }
    weft__coop_cur.active = budgeted;
    if (rc == WEFT_ECLOSED && s->weft__head)
        return WEFT_PENDING;
    f->resume = WEFT__DONE;
    if (out)
        *(int *)out = rc;
    return WEFT_READY;
}

static const weft_future_vtable join_next_vt = {join_next_poll, NULL, sizeof(weft_join_next_op),
                                                sizeof(int), "weft_join_next", 0};

weft_future *weft_join_next_init(weft_join_next_op *op, weft_join_set *s, void *dst,
                                 const char *site) {
    WEFT__NEED(op, "weft_join_next", "op");
    WEFT__NEED(s, "weft_join_next", "set");
    weft_future_init(&op->base, &join_next_vt, site);
    op->set = s;
    op->dst = dst;
    op->status = 0;
    op->id = 0;
    return &op->base;
}
