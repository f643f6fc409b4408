/* weft — name lookup: IP literals answered in the task, names resolved by
 * the driver's lookup (getaddrinfo for the OS drivers, the simulation's
 * own table for the simulator) on the blocking pool.
 *
 * The job lives apart from the future, with two references: the blocking
 * call's and the future's.  A future dropped while the call runs lets it
 * finish; whichever side lets go last frees the job. */
#include <string.h>

#include "net_impl.h"

typedef struct weft__lookup_job {
    weft__io *io;
    _Atomic uint32_t refs;
    uint16_t port;
    size_t cap;
    int count;       /* or an error */
    char *host;
    weft_addr *addrs;
    size_t host_size;
} lookup_job;

static void job_unref(lookup_job *j) {
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
        return;
    weft__rt *rt = j->io->rt;
    weft__free(rt, j->addrs, j->cap * sizeof *j->addrs);
    weft__free(rt, j->host, j->host_size);
    weft__free(rt, j, sizeof *j);
    weft__rt_unref(rt);
}

static void *job_run(void *arg) {
    lookup_job *j = arg;
    j->count = j->io->ops->sys->lookup(j->io->drv, j->host, j->port, j->addrs, j->cap);
    job_unref(j);
    return NULL;
}

static lookup_job *job_new(weft__io *io, const char *host, uint16_t port, size_t cap) {
    weft__rt *rt = io->rt;
    lookup_job *j = weft__alloc(rt, sizeof *j);
    if (!j)
        return NULL;
    memset(j, 0, sizeof *j);
    j->io = io;
    j->port = port;
    j->cap = cap;
    j->host_size = strlen(host) + 1;
    j->host = weft__alloc(rt, j->host_size);
    j->addrs = weft__alloc(rt, cap * sizeof *j->addrs);
    if (!j->host || !j->addrs) {
        weft__free(rt, j->addrs, cap * sizeof *j->addrs);
        weft__free(rt, j->host, j->host_size);
        weft__free(rt, j, sizeof *j);
        return NULL;
    }
    memcpy(j->host, host, j->host_size);
    atomic_init(&j->refs, 2);
    weft__rt_ref(rt);
    return j;
}

static weft_poll lookup_done(weft_lookup *lk, int64_t result, void *out) {
    lk->weft__result = result;
    if (out)
        *(int64_t *)out = result;
    return WEFT_READY;
}

static weft_poll lookup_poll(weft_future *f, weft_context *cx, void *out) {
    weft_lookup *lk = (weft_lookup *)f;
    if (lk->weft__result != WEFT_EAGAIN)
        return lookup_done(lk, lk->weft__result, out);
    lookup_job *j = lk->weft__job;
    if (!j) {
        if (!weft_coop_proceed(cx))
            return WEFT_PENDING;
        /* The fast path: a literal never leaves the task. */
        if (weft_addr_from_ip(lk->weft__host, lk->weft__port, &lk->weft__out[0]) == 0)
            return lookup_done(lk, 1, out);
        int err;
        weft__io *io = weft__io_current(&err);
        if (!io)
            return lookup_done(lk, err, out);
        if (io->ops->flags & WEFT_IO_INLINE) /* the simulator's table */
            return lookup_done(lk, io->ops->sys->lookup(io->drv, lk->weft__host, lk->weft__port,
                                                        lk->weft__out, lk->weft__cap),
                               out);
        if (!(j = job_new(io, lk->weft__host, lk->weft__port, lk->weft__cap)))
            return lookup_done(lk, WEFT_ENOMEM, out);
        err = weft_spawn_blocking(job_run, j, &lk->weft__jh);
        if (err) {
            job_unref(j);
            job_unref(j);
            return lookup_done(lk, err, out);
        }
        lk->weft__job = j;
    }
    if (weft_future_poll(&lk->weft__jh.base, cx, NULL) == WEFT_PENDING)
        return WEFT_PENDING;
    int status = weft_join_status(&lk->weft__jh);
    weft_future_drop(&lk->weft__jh.base);
    int64_t result = status ? status : j->count;
    if (result > 0)
        memcpy(lk->weft__out, j->addrs, (size_t)result * sizeof *j->addrs);
    lk->weft__job = NULL;
    job_unref(j);
    return lookup_done(lk, result, out);
}

static void lookup_drop(weft_future *f) {
    weft_lookup *lk = (weft_lookup *)f;
    if (!lk->weft__job)
        return;
    weft_join_detach(&lk->weft__jh); /* the call finishes on its own */
    weft_future_drop(&lk->weft__jh.base);
    job_unref(lk->weft__job);
    lk->weft__job = NULL;
}

static const weft_future_vtable lookup_vtable = {lookup_poll, lookup_drop, sizeof(weft_lookup),
                                                 sizeof(int64_t), "weft_lookup", 0};

weft_future *weft_lookup_init(weft_lookup *lk, const char *host, uint16_t port, weft_addr *out,
                              size_t cap, const char *site) {
    if (!lk)
        weft__die("weft_lookup_init: NULL lookup storage");
    memset(lk, 0, sizeof *lk);
    weft_future_init(&lk->base, &lookup_vtable, site);
    lk->weft__host = host;
    lk->weft__port = port;
    lk->weft__out = out;
    lk->weft__cap = cap;
    lk->weft__result = (!host || !*host || !out || cap == 0 || cap > 4096) ? WEFT_EINVAL : WEFT_EAGAIN;
    return &lk->base;
}
