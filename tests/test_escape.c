/* weft tests — the escape guard (sim/escape_guard.c, linked with --wrap):
 * each call that leaks real non-determinism into a simulated run fails
 * the run, naming the call and the task; outside a run they work. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "weft/sim.h"

static void *nothing(void *arg) { return arg; }

/* Makes call number `which` (in a task: whether the escape names it). */
static int which;
static void escape_now(void) {
    struct timespec ts;
    struct timeval tv;
    unsigned char b[4];
    pthread_t th;
    switch (which) {
    case 0: clock_gettime(CLOCK_MONOTONIC, &ts); break;
    case 1: gettimeofday(&tv, NULL); break;
    case 2: (void)time(NULL); break;
    case 3: (void)rand(); break;
    case 4: (void)random(); break;
    case 5: (void)getrandom(b, sizeof b, 0); break;
    case 6:
        if (pthread_create(&th, NULL, nothing, NULL) == 0)
            pthread_join(th, NULL);
        break;
    case 7: sleep(0); break;
    case 8: usleep(0); break;
    case 9: ts = (struct timespec){0, 0}; nanosleep(&ts, NULL); break;
    }
}
static const char *const names[] = {"clock_gettime", "gettimeofday", "time", "rand", "random",
                                    "getrandom", "pthread_create", "sleep", "usleep",
                                    "nanosleep"};

typedef struct leaker {
    weft_future base;
    weft_yield_now y;
} leaker;
static weft_poll leaker_poll(weft_future *f, weft_context *cx, void *out) {
    leaker *l = (leaker *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_yield_now(&l->y), NULL);
    escape_now();
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(leaker, leaker_poll, NULL);

typedef struct escaping {
    weft_future base;
    weft_join_handle jh;
} escaping;
static weft_poll escaping_poll(weft_future *f, weft_context *cx, void *out) {
    escaping *e = (escaping *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(leaker), &e->jh);
    WEFT_AWAIT(f, cx, weft_join(&e->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(escaping, escaping_poll, NULL);
static void make_escaping(weft_future *slot) { *(escaping *)slot = WEFT_NEW(escaping); }
static const weft_sim_test escaping_test = {"escaping", make_escaping, sizeof(escaping), NULL,
                                            NULL, false};

static void each_escape_fails_the_run(void **state) {
    (void)state;
    for (which = 0; which < 10; which++) {
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        weft_sim_result r;
        assert_int_equal(weft_sim_run(&escaping_test, &b, &r), WEFT_EFAILED);
        char want[200];
        snprintf(want, sizeof want, "escape: %s() called in a simulated run by task 1 spawned at ",
                 names[which]);
        if (!strstr(r.failure, want) || !strstr(r.failure, "test_escape.c:"))
            fail_msg("%s: %s", names[which], r.failure);
    }
}

/* Outside a simulated run the same calls are plain calls. */
static void outside_a_run_calls_are_real(void **state) {
    (void)state;
    for (which = 0; which < 10; which++)
        escape_now();
    struct timespec ts = {0, 0};
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    assert_true(ts.tv_sec > 0 || ts.tv_nsec > 0);
    assert_false(weft_sim_escape("clock_gettime", "test"));
    /* and a run that makes none passes */
    which = -1;
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    weft_sim_result r;
    assert_int_equal(weft_sim_run(&escaping_test, &b, &r), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_escape_fails_the_run),
        cmocka_unit_test(outside_a_run_calls_are_real),
    };
    return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
