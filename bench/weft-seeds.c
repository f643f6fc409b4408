/* weft-seeds — seeds per second of a sweep whose test body does (almost)
 * nothing: what the simulator costs per seed around the test.
 *
 * Every seed is a whole run as a sweep makes it (weft_sim_run: a fresh sim
 * runtime, the body, shutdown, the fingerprint).  Bodies:
 *
 *   empty      returns at once;
 *   one_size   spawns and joins two tasks of one size;
 *   sizes      spawns and joins tasks of three sizes (64, 200 and 700 bytes
 *              of state), each in its own size class of the task slab.
 *
 * One line per body: seeds/s and ns per seed, on the calling thread.
 *
 *   weft-seeds [--secs S] [--body NAME] [--seeds N]
 *
 * `--seeds N` runs exactly N seeds per body, no warm-up (for instruction
 * counts under callgrind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/sim.h"
#include "weft/weft.h"

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Tasks whose state is about `n` bytes. */
#define SIZED(name, n)                                                         \
    typedef struct name {                                                      \
        weft_future base;                                                      \
        char pad[(n) - sizeof(weft_future)];                                   \
    } name;                                                                    \
    static weft_poll name##_poll(weft_future *f, weft_context *cx, void *out) { \
        (void)f;                                                               \
        (void)cx;                                                              \
        (void)out;                                                             \
        return WEFT_READY;                                                     \
    }                                                                          \
    WEFT_FUTURE_DEFINE_VOID(name, name##_poll, NULL)
SIZED(small_task, 64);
SIZED(mid_task, 200);
SIZED(big_task, 700);

typedef struct body {
    weft_future base;
    int kind; /* 0 empty, 1 one size, 2 three sizes */
    weft_join_handle jh[3];
    int i, n;
} body;
static weft_poll body_poll(weft_future *f, weft_context *cx, void *out) {
    body *s = (body *)f;
    WEFT_BEGIN(f);
    if (s->kind == 0)
        WEFT_RETURN_VOID(f);
    if (s->kind == 1) {
        s->n = 2;
        if (weft_spawn(&WEFT_NEW(small_task), &s->jh[0]) ||
            weft_spawn(&WEFT_NEW(small_task), &s->jh[1]))
            abort();
    } else {
        s->n = 3;
        if (weft_spawn(&WEFT_NEW(small_task), &s->jh[0]) ||
            weft_spawn(&WEFT_NEW(mid_task), &s->jh[1]) ||
            weft_spawn(&WEFT_NEW(big_task), &s->jh[2]))
            abort();
    }
    for (s->i = 0; s->i < s->n; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), out);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(body, body_poll, NULL);

static int kind_of_make;
static void make(weft_future *slot) { *(body *)slot = WEFT_NEW(body, .kind = kind_of_make); }

int main(int argc, char **argv) {
    double secs = 1.0;
    const char *only = NULL;
    uint64_t fixed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--secs") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--body") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
            fixed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--secs S] [--body NAME] [--seeds N]\n", argv[0]);
            return 2;
        }
    }
    static const char *const names[] = {"empty", "one_size", "sizes"};
    for (int kind = 0; kind < 3; kind++) {
        if (only && strcmp(only, names[kind]))
            continue;
        kind_of_make = kind;
        weft_sim_test t = {.name = names[kind], .make = make, .size = sizeof(body)};
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        weft_sim_result r;
        uint64_t seeds = 0, budget = (uint64_t)(secs * 1e9);
        for (uint64_t warm = 0; warm < (fixed ? 0u : 1000u); warm++) {
            b.sim_seed = warm;
            if (weft_sim_run(&t, &b, &r))
                abort();
        }
        uint64_t t0 = wall_ns(), elapsed = 0;
        while (fixed ? seeds < fixed : elapsed < budget) {
            for (int k = 0; k < (fixed ? 1 : 256); k++) {
                b.sim_seed = seeds++;
                if (weft_sim_run(&t, &b, &r)) {
                    fprintf(stderr, "weft-seeds: seed %llu failed: %s\n",
                            (unsigned long long)r.seed, r.failure);
                    return 1;
                }
            }
            elapsed = wall_ns() - t0;
        }
        printf("sim  seeds_%-10s %12.0f seeds/s %10.1f ns/seed  (seeds=%llu)\n", names[kind],
               (double)seeds * 1e9 / (double)elapsed, (double)elapsed / (double)seeds,
               (unsigned long long)seeds);
        fflush(stdout);
    }
    return 0;
}
