/* weft — a sweep's worker processes (private; jobs.c). */
#ifndef WEFT_SIM_JOBS_H
#define WEFT_SIM_JOBS_H

#include <stddef.h>

typedef struct weft__jobs_hooks {
    void *ctx;
    /* In worker `job` (0..jobs-1): run its share, sending records to `fd`. */
    void (*work)(void *ctx, unsigned job, int fd);
    /* In the parent: a record a worker sent. */
    void (*on_record)(void *ctx, unsigned job, char type, const void *data, size_t len);
    /* In the parent, every 200 ms or so while workers run (may be NULL). */
    void (*on_tick)(void *ctx);
    /* In the parent: worker `job` died (by `sig`, or exited with `status`). */
    void (*on_death)(void *ctx, unsigned job, int sig, int status);
} weft__jobs_hooks;

/* Forks `jobs` workers and reads their records until all are done: 0,
 * WEFT_ENOTSUP where there is no fork, or the error that stopped it. */
int weft__jobs_run(unsigned jobs, const weft__jobs_hooks *h);
/* A worker's record: 0, or WEFT_EIO. */
int weft__jobs_send(int fd, char type, const void *data, size_t len);

#endif
