/* weft-bench — shared pieces of the benchmark program (see weft-bench.c).
 * Each bench_*.c file contributes a NULL-terminated list of bench_def. */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "os.h"
#include "weft/time.h"
#include "weft/weft.h"

typedef struct bench_flavor {
    const char *name; /* as the anchors print it */
    weft_flavor flavor;
    int workers;
} bench_flavor;

typedef struct bench_ctx {
    const bench_flavor *flavor;
    weft_runtime *rt;
    void *scratch; /* the bench's own, from setup to teardown */
} bench_ctx;

typedef struct bench_def {
    const char *name;
    size_t ops; /* ops per iteration */
    bool (*supports)(const bench_flavor *fl); /* NULL: every flavor */
    void (*setup)(bench_ctx *b);
    void (*iter)(bench_ctx *b);
    void (*teardown)(bench_ctx *b);
} bench_def;

/* Completion signal: a count that fires a waker at zero, usable from any
 * thread (the anchors use an mpsc channel for this). */
typedef struct done_signal {
    _Atomic long remaining;
    weft__mutex lock;
    weft_waker waker;
    bool fired;
} done_signal;

typedef struct done_wait {
    weft_future base;
    done_signal *sig;
} done_wait;
extern const weft_future_vtable done_wait_vtable;

void done_init(done_signal *d);
void done_fire(done_signal *d);
void done_count_down(done_signal *d);
void done_destroy(done_signal *d);
/* A future that completes once the signal fired (and re-arms it). */
#define DONE_WAIT(d) ((done_wait){.base = {&done_wait_vtable, NULL, NULL, 0, 0}, .sig = (d)})

weft_runtime *bench_runtime(const bench_flavor *fl);

/* Exits with a message naming `what` if `err` is set. */
void must(int err, const char *what);
/* setup / teardown of a bench whose scratch is one done_signal. */
void setup_done(bench_ctx *b);
void teardown_done(bench_ctx *b);

/* The common shape of an iteration (as the anchors' completion signal):
 * block_on a root that sets the signal's count to `count`, calls
 * `start(done)` inside the runtime to spawn the workload, and waits until
 * the workload fired the signal. */
void bench_until_done(bench_ctx *b, long count, void (*start)(done_signal *done));

extern const bench_def *const bench_core_list[];
extern const bench_def *const bench_sync_list[];
extern const bench_def *const bench_net_list[];

#endif
