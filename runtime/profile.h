/* weft — a production runtime's timeline (private): when WEFT_TIMELINE
 * names a file, every task poll on every thread is recorded (start, end,
 * task, future) and the runtime writes them, one track per OS thread, as
 * Chrome trace-event JSON (or, for a path ending in .html, the same
 * self-contained timeline page as the simulator's) when it is freed.
 *
 * Off by default, and then free: a task poll tests one pointer the task's
 * header already holds (rt->prof).  On, a poll costs two clock reads and
 * one store into the polling thread's own buffer: no lock, no shared line.
 */
#ifndef WEFT_RUNTIME_PROFILE_H
#define WEFT_RUNTIME_PROFILE_H

#include <stdint.h>

struct weft__rt;
struct weft__prof;

/* Reads WEFT_TIMELINE; sets rt->prof when it asks for a timeline.  A
 * runtime that cannot have one (out of memory) runs without. */
void weft__prof_create(struct weft__rt *rt);
/* Writes the timeline and frees it: after every thread that polled is gone. */
void weft__prof_destroy(struct weft__rt *rt);
/* One poll of task `id` (its future's type `name`, static text) on this
 * thread, from `t0` until now (OS clock, ns). */
void weft__prof_poll(struct weft__prof *p, uint64_t id, const char *name, uint64_t t0);

#endif
