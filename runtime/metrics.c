/* weft — runtime metrics: the runtime's own counters plus what the
 * scheduler and the blocking pool know, each read as a relaxed snapshot. */
#include "rt.h"

/* blocking_pool.c */
void weft__blocking_metrics(weft__rt *rt, weft_runtime_metrics *out);

void weft_handle_metrics(weft_handle *h, weft_runtime_metrics *out) {
    weft__rt *rt = (weft__rt *)h;
    if (!out)
        return;
    *out = (weft_runtime_metrics){0};
    if (!rt)
        return;
    weft_runtime_stats stats;
    weft_handle_stats(h, &stats);
    out->workers = 1; /* a scheduler without its own metrics runs on one thread */
    out->alive_tasks = stats.alive_tasks;
    if (rt->sched->metrics)
        rt->sched->metrics(rt, out);
    weft__blocking_metrics(rt, out);
}

int weft_handle_worker_metrics(weft_handle *h, uint32_t worker, weft_worker_metrics *out) {
    weft__rt *rt = (weft__rt *)h;
    if (!rt || !out)
        return WEFT_EINVAL;
    *out = (weft_worker_metrics){0};
    if (!rt->sched->worker_metrics)
        return worker == 0 ? 0 : WEFT_ERANGE;
    return rt->sched->worker_metrics(rt, worker, out);
}
