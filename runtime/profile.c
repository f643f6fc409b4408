/* weft — a production runtime's timeline: poll records per OS thread,
 * written at the end as trace-event JSON or the HTML timeline.
 *
 * Each thread that polls a task of the runtime gets a buffer of its own,
 * registered once under the profile's lock and found again through a
 * thread-local (checked against the profile's id, so a thread that served
 * an earlier runtime never writes into a freed buffer).  Buffers hold at
 * most RECS_MAX polls each; later polls are counted, not kept, and the
 * count is in the timeline's title.
 *
 * The file is written when the runtime is destroyed: its workers and its
 * blocking threads are gone, no buffer is written any more.  A "%n" in the
 * path becomes the runtime's number in the process (1, 2, ...), so that
 * several runtimes do not overwrite each other's file.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "rt.h"
#include "timeline.h"

#define RECS_MAX (1u << 20) /* polls kept per thread: 32 MiB */

typedef struct prof_rec {
    uint64_t t0, t1; /* OS clock, ns */
    uint64_t task;
    const char *name; /* the future's type: static text */
} prof_rec;

typedef struct prof_buf {
    prof_rec *recs;
    size_t n, cap;
    uint64_t dropped;
    char thread[32];
    struct prof_buf *next;
} prof_buf;

typedef struct weft__prof {
    uint64_t id;        /* unique in the process */
    weft__mutex lock;   /* guards `bufs` (registration only) */
    prof_buf *bufs;
    uint32_t nbufs;
    uint64_t origin;    /* OS clock when the runtime was made */
    char path[1024];
} weft__prof;

static _Atomic uint64_t prof_ids;  /* ids, and how many runtimes asked */
static _Thread_local struct {
    uint64_t id;
    prof_buf *buf;
} prof_tls;

void weft__prof_create(weft__rt *rt) {
    if (rt->config.flavor == WEFT_SIM)
        return; /* the simulator has its own, in virtual time (WEFT_TRACE) */
    const char *path = getenv("WEFT_TIMELINE");
    if (!path || !*path)
        return;
    weft__prof *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->id = atomic_fetch_add_explicit(&prof_ids, 1, memory_order_relaxed) + 1;
    weft__mutex_init(&p->lock);
    p->origin = weft__os_now_ns();
    const char *n = strstr(path, "%n");
    if (n)
        snprintf(p->path, sizeof p->path, "%.*s%" PRIu64 "%s", (int)(n - path), path, p->id,
                 n + 2);
    else
        snprintf(p->path, sizeof p->path, "%s", path);
    rt->prof = p;
}

static prof_buf *register_thread(weft__prof *p) {
    prof_buf *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    weft__mutex_lock(&p->lock);
    uint32_t n = p->nbufs++;
    b->next = p->bufs;
    p->bufs = b;
    weft__mutex_unlock(&p->lock);
    char os[16] = "";
    weft__thread_get_name(os, sizeof os);
    snprintf(b->thread, sizeof b->thread, "%s (thread %u)", os[0] ? os : "thread", n);
    prof_tls.id = p->id;
    prof_tls.buf = b;
    return b;
}

void weft__prof_poll(weft__prof *p, uint64_t id, const char *name, uint64_t t0) {
    uint64_t t1 = weft__os_now_ns();
    prof_buf *b = prof_tls.id == p->id ? prof_tls.buf : register_thread(p);
    if (!b)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        prof_rec *r = cap <= RECS_MAX ? realloc(b->recs, cap * sizeof *r) : NULL;
        if (!r) {
            b->dropped++;
            return;
        }
        b->recs = r;
        b->cap = cap;
    }
    b->recs[b->n++] = (prof_rec){t0, t1, id, name};
}

static int write_timeline(weft__rt *rt, weft__prof *p) {
    static const char *flavors[] = {"current_thread", "multi_thread", "sim"};
    uint64_t dropped = 0;
    for (prof_buf *b = p->bufs; b; b = b->next)
        dropped += b->dropped;
    char title[160];
    snprintf(title, sizeof title, "weft %s runtime: task polls per thread%s",
             (unsigned)rt->config.flavor <= 2 ? flavors[rt->config.flavor] : "?",
             dropped ? " (some polls not kept: buffers full)" : "");
    weft__timeline tl;
    weft__tl_init(&tl, title, false);
    uint32_t g = weft__tl_add_group(&tl, title);
    /* threads in the order they first polled: the list is newest first */
    prof_buf *order[256];
    uint32_t n = 0;
    for (prof_buf *b = p->bufs; b && n < 256; b = b->next)
        order[n++] = b;
    for (uint32_t i = n; i-- > 0;) {
        prof_buf *b = order[i];
        uint32_t track = weft__tl_add_track(&tl, g, b->thread);
        for (size_t k = 0; k < b->n; k++) {
            const prof_rec *r = &b->recs[k];
            char name[96];
            snprintf(name, sizeof name, "task %" PRIu64 " %s", r->task, r->name ? r->name : "");
            uint64_t t0 = r->t0 > p->origin ? r->t0 - p->origin : 0;
            weft__tl_item *it = weft__tl_add(&tl, WEFT__TL_SLICE, track, t0, "poll", name);
            if (it)
                it->dur = r->t1 > r->t0 ? r->t1 - r->t0 : 0;
        }
    }
    int err = weft__tl_write_file(&tl, p->path);
    if (err)
        fprintf(stderr, "weft: cannot write the timeline %s: %s\n", p->path, weft_strerror(err));
    weft__tl_free(&tl);
    return err;
}

void weft__prof_destroy(weft__rt *rt) {
    weft__prof *p = rt->prof;
    if (!p)
        return;
    write_timeline(rt, p);
    while (p->bufs) {
        prof_buf *b = p->bufs;
        p->bufs = b->next;
        free(b->recs);
        free(b);
    }
    weft__mutex_destroy(&p->lock);
    rt->prof = NULL;
    free(p);
}
