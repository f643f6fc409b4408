/* weft-mem — memory per idle spawned task.
 *
 * Spawns 1,000,000 tasks whose future state is 64 bytes, lets each be
 * polled once (it stays pending, never woken: idle), and reports per task
 * the growth of RSS once they are all idle (the memory idle tasks hold)
 * and of peak RSS (which also counts what queued them on their way to
 * their first poll), and what each costs above the 64-byte state.
 *
 *   weft-mem [--flavor current_thread|multi_thread|sim] [--tasks N]
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "weft/weft.h"

/* 64 bytes: the 32-byte future header and 32 bytes of state. */
typedef struct idle64 {
    weft_future base;
    _Atomic long *polled;
    char payload[24];
} idle64;
_Static_assert(sizeof(idle64) == 64, "the workload's future state is 64 bytes");

static weft_poll idle64_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    atomic_fetch_add_explicit(((idle64 *)f)->polled, 1, memory_order_relaxed);
    return WEFT_PENDING; /* and nobody will wake it */
}
WEFT_FUTURE_DEFINE_VOID(idle64, idle64_poll, NULL);

typedef struct spawn_all {
    weft_future base;
    long n;
    _Atomic long *polled;
    weft_yield_now y;
} spawn_all;
static weft_poll spawn_all_poll(weft_future *f, weft_context *cx, void *out) {
    spawn_all *s = (spawn_all *)f;
    (void)out;
    if (f->resume == 0) {
        for (long i = 0; i < s->n; i++)
            if (weft_spawn(&WEFT_NEW(idle64, .polled = s->polled), NULL))
                abort();
        f->resume = 1;
    }
    /* Wait (yielding) until every task had its one poll. */
    if (atomic_load(s->polled) < s->n) {
        weft_yield_request(cx);
        return WEFT_PENDING;
    }
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(spawn_all, spawn_all_poll, NULL);

/* 1,000,000 "task still alive at shutdown" lines are no news here. */
static void quiet(void *ctx, const char *what, const char *site) {
    (void)ctx;
    (void)what;
    (void)site;
}

/* Resident now, from /proc (Linux); -1 where there is none. */
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long size = 0, resident = -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv) {
    weft_flavor flavor = WEFT_MULTI_THREAD;
    long n = 1000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--flavor"))
            flavor = !strcmp(argv[i + 1], "current_thread") ? WEFT_CURRENT_THREAD
                     : !strcmp(argv[i + 1], "sim")          ? WEFT_SIM
                                                            : WEFT_MULTI_THREAD;
        else if (!strcmp(argv[i], "--tasks"))
            n = atol(argv[i + 1]);
    }
    weft_builder b;
    weft_builder_init(&b, flavor);
    if (flavor == WEFT_MULTI_THREAD)
        b.worker_threads = 2;
    b.sim_max_steps = 0; /* a million tasks' first polls are a million steps */
    b.on_diagnostic = quiet;
    weft_runtime *rt;
    if (weft_runtime_new(&b, &rt))
        return 1;
    _Atomic long polled = 0;
    long before = peak_rss_kb(), now_before = rss_kb();
    spawn_all s = WEFT_NEW(spawn_all, .n = n, .polled = &polled);
    if (weft_runtime_block_on(rt, &s.base, NULL))
        return 1;
    long after = peak_rss_kb(), now_after = rss_kb();
    weft_runtime_stats st;
    weft_handle_stats(weft_runtime_handle(rt), &st);
    double per = (double)(after - before) * 1024.0 / (double)n;
    double idle = now_before < 0 ? -1 : (double)(now_after - now_before) * 1024.0 / (double)n;
    printf("%-16s idle tasks %ld (alive %llu): idle RSS %.1f bytes/task, %.1f above the 64-byte "
           "state; peak RSS %.1f bytes/task, %.1f above\n",
           flavor == WEFT_MULTI_THREAD ? "multi_thread(2)"
           : flavor == WEFT_SIM        ? "sim"
                                       : "current_thread",
           n,
           (unsigned long long)st.alive_tasks, idle, idle - 64.0, per, per - 64.0);
    weft_runtime_free(rt);
    return 0;
}
