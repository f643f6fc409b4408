/* weft tests — the public test support (weft/test.h) tested on itself:
 * WEFT_TEST runs a body on the flavors it names, with the paused clock and
 * the parameter it asks for; and a case fails, with a message saying why,
 * when its body fails an assertion (also in a task on a worker thread),
 * leaves a task alive, or reports a diagnostic. */
#include "harness.h"

#include <string.h>

/* ------------------------------------------------- bodies that pass */

typedef struct hour {
    weft_future base;
    weft_instant t0;
    weft_sleep nap;
} hour;

static weft_poll hour_poll(weft_future *f, weft_context *cx, void *out) {
    hour *s = (hour *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->t0 = weft_now();
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_SECS(3600)), NULL);
    WEFT_TEST_ASSERT_INT_EQ(f, cx, weft_now() - s->t0, WEFT_SECS(3600));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(hour, hour_poll, NULL);
/* On every flavor: an hour of paused clock passes at once, exactly. */
WEFT_TEST(an_hour_on_the_paused_clock, hour, .paused = true)

static int ran_on[3];

typedef struct which {
    weft_future base;
} which;

static weft_poll which_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    WEFT_BEGIN(f);
    {
        weft_test_env *env = weft_test_current();
        WEFT_TEST_ASSERT(f, cx, env != NULL);
        WEFT_TEST_ASSERT(f, cx, weft_handle_flavor(weft_handle_current()) == env->flavor);
        ran_on[env->flavor]++;
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(which, which_poll, NULL);
/* Named flavors only: the group leaves the sim case out. */
WEFT_TEST(only_threaded_flavors, which, .flavors = WEFT_TEST_THREADED)

/* One body, two configurations: the parameter says how many tasks. */
typedef struct fan_out {
    weft_future base;
    int n, i, got, v;
    weft_join_handle jh[8];
    weft_sleep nap;
} fan_out;

typedef struct child {
    weft_future base;
    int id;
    weft_sleep nap;
} child;

static weft_poll child_poll(weft_future *f, weft_context *cx, void *out) {
    child *c = (child *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&c->nap, WEFT_MS(c->id)), NULL);
    WEFT_RETURN(f, out, int, c->id);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(child, child_poll, NULL, int);

static weft_poll fan_out_poll(weft_future *f, weft_context *cx, void *out) {
    fan_out *s = (fan_out *)f;
    (void)out;
    WEFT_BEGIN(f);
    s->n = *(const int *)weft_test_param();
    for (s->i = 0; s->i < s->n; s->i++)
        WEFT_TEST_ASSERT_INT_EQ(f, cx, weft_spawn(&WEFT_NEW(child, .id = s->i + 1), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < s->n; s->i++) {
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->v);
        s->got += s->v;
    }
    WEFT_TEST_ASSERT_INT_EQ(f, cx, s->got, s->n * (s->n + 1) / 2);
    WEFT_TEST_ASSERT_INT_EQ(f, cx, weft_now(), WEFT_MS(s->n));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(fan_out, fan_out_poll, NULL);
static const int two = 2, eight = 8;
WEFT_TEST(fan_out_two, fan_out, .paused = true, .param = &two)
WEFT_TEST(fan_out_eight, fan_out, .paused = true, .param = &eight, .worker_threads = 3)

/* A plain test driving the env's runtime itself (the guide's example). */
WEFT_TEST_ENV(block_on_twice, .flavors = WEFT_TEST_THREADED) {
    env->builder.start_paused = true;
    hour a = WEFT_NEW(hour), b = WEFT_NEW(hour);
    weft_test_block_on(env, &a.base, NULL);
    weft_test_block_on(env, &b.base, NULL); /* the same runtime, an hour on */
    assert_true(atomic_load(&env->allocs) > 0);
}

/* ------------------------------------------------- bodies that fail */

typedef struct bad_assert {
    weft_future base;
} bad_assert;
static weft_poll bad_assert_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    WEFT_BEGIN(f);
    WEFT_TEST_ASSERT_INT_EQ(f, cx, 1 + 1, 3);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(bad_assert, bad_assert_poll, NULL);

/* The failing assertion is in a spawned task (a worker on multi_thread);
 * the body ignores the join's status: the case fails all the same. */
typedef struct bad_child {
    weft_future base;
} bad_child;
static weft_poll bad_child_poll(weft_future *f, weft_context *cx, void *out) {
    (void)out;
    WEFT_BEGIN(f);
    WEFT_TEST_ASSERT(f, cx, weft_now() == (weft_instant)-1);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(bad_child, bad_child_poll, NULL);

typedef struct ignores_child {
    weft_future base;
    weft_join_handle jh;
} ignores_child;
static weft_poll ignores_child_poll(weft_future *f, weft_context *cx, void *out) {
    ignores_child *s = (ignores_child *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_spawn(&WEFT_NEW(bad_child), &s->jh);
    WEFT_AWAIT(f, cx, weft_join(&s->jh), NULL);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(ignores_child, ignores_child_poll, NULL);

/* Returns with a task still running. */
static counts leaked_counts;
typedef struct leaves_task {
    weft_future base;
} leaves_task;
static weft_poll leaves_task_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    WEFT_BEGIN(f);
    {
        forever fv = {.base = {&forever_vtable, NULL, WEFT__SITE, 0, 0}, .c = &leaked_counts};
        weft_spawn(&fv, NULL);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(leaves_task, leaves_task_poll, NULL);

/* Makes a future and never polls it (a debug build's diagnostic). */
typedef struct forgets {
    weft_future base;
} forgets;
static weft_poll forgets_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    WEFT_BEGIN(f);
    {
        child c = WEFT_NEW(child, .id = 1);
        weft_future_drop(&c.base);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(forgets, forgets_poll, NULL);

static void make_bad_assert(weft_future *slot) { *(bad_assert *)slot = WEFT_NEW(bad_assert); }
static void make_ignores_child(weft_future *slot) {
    *(ignores_child *)slot = WEFT_NEW(ignores_child);
}
static void make_leaves_task(weft_future *slot) { *(leaves_task *)slot = WEFT_NEW(leaves_task); }
static void make_forgets(weft_future *slot) { *(forgets *)slot = WEFT_NEW(forgets); }

/* Runs `def` on `flavor` the way a case would; returns the env's verdict
 * and copies its message. */
static int run_def(const weft_test_def *def, weft_flavor flavor, char *why, size_t n) {
    weft_test_case tc = {flavor, def};
    weft_test_env *env;
    assert_int_equal(weft_test_env_new(&tc, &env), 0);
    int verdict = weft_test_env_run(env);
    snprintf(why, n, "%s", env->failure);
    assert_int_equal(weft_test_env_free(env, NULL, 0), 0);
    return verdict;
}

static void a_failed_assertion_fails_the_case(void **state) {
    (void)state;
    static const weft_test_def def = {"bad", make_bad_assert, sizeof(bad_assert), {.weft__v = 1}};
    char why[512];
    for (int fl = 0; fl < 3; fl++) {
        if (!weft_flavor_available((weft_flavor)fl))
            continue;
        assert_int_equal(run_def(&def, (weft_flavor)fl, why, sizeof why), WEFT_EFAILED);
        assert_non_null(strstr(why, "assertion failed: 1 + 1 == 3 (left = 2, right = 3)"));
        assert_non_null(strstr(why, "test_public.c:"));
    }
}

static void a_failure_in_a_worker_task_fails_the_case(void **state) {
    (void)state;
    static const weft_test_def def = {"child", make_ignores_child, sizeof(ignores_child),
                                      {.weft__v = 1}};
    char why[512];
    for (int fl = 0; fl < 3; fl++) {
        if (!weft_flavor_available((weft_flavor)fl))
            continue;
        assert_int_not_equal(run_def(&def, (weft_flavor)fl, why, sizeof why), 0);
        assert_non_null(strstr(why, "assertion failed: weft_now() == (weft_instant)-1"));
    }
}

static void a_task_left_running_fails_the_case(void **state) {
    (void)state;
    static const weft_test_def def = {"leak", make_leaves_task, sizeof(leaves_task),
                                      {.weft__v = 1}};
    char why[512];
    for (int fl = 0; fl < 3; fl++) {
        if (!weft_flavor_available((weft_flavor)fl))
            continue;
        atomic_store(&leaked_counts.drops, 0);
        assert_int_equal(run_def(&def, (weft_flavor)fl, why, sizeof why), WEFT_EFAILED);
        assert_non_null(strstr(why, "task still alive at shutdown"));
        assert_int_equal(atomic_load(&leaked_counts.drops), 1); /* and it was dropped */
    }
}

static void a_diagnostic_fails_the_case_unless_allowed(void **state) {
    (void)state;
#ifdef NDEBUG
    skip(); /* release builds report no unpolled future */
#endif
    static const weft_test_def strict = {"forgets", make_forgets, sizeof(forgets),
                                         {.weft__v = 1}};
    static const weft_test_def lenient = {"forgets", make_forgets, sizeof(forgets),
                                          {.weft__v = 1, .allow_diagnostics = true}};
    char why[512];
    assert_int_equal(run_def(&strict, WEFT_CURRENT_THREAD, why, sizeof why), WEFT_EFAILED);
    assert_non_null(strstr(why, "forgot to await it?"));
    assert_int_equal(run_def(&lenient, WEFT_CURRENT_THREAD, why, sizeof why), 0);
}

/* Runs after the threaded-only cases (the group keeps the array's order). */
static void the_sim_case_was_left_out(void **state) {
    (void)state;
    assert_int_equal(ran_on[WEFT_CURRENT_THREAD], 1);
    assert_int_equal(ran_on[WEFT_MULTI_THREAD], weft_flavor_available(WEFT_MULTI_THREAD));
    assert_int_equal(ran_on[WEFT_SIM], 0);
    weft_test_case sim_case = {WEFT_SIM, &only_threaded_flavors__def};
    assert_false(weft_test_case_wanted(&sim_case));
    /* a test naming every flavor: left out only where the build lacks it */
    for (int fl = 0; fl < 3; fl++)
        assert_int_equal(weft_test_case_wanted(&an_hour_on_the_paused_clock__cases[fl]),
                         weft_flavor_available((weft_flavor)fl));
}

static void the_version_macros_match_the_library(void **state) {
    (void)state;
    assert_string_equal(weft_version(), WEFT_VERSION_STRING);
    assert_int_equal(weft_version_number(), WEFT_VERSION_NUMBER);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR, WEFT_VERSION_PATCH);
    assert_string_equal(v, WEFT_VERSION_STRING);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WEFT_TEST_CASES(an_hour_on_the_paused_clock),
        WEFT_TEST_CASES(only_threaded_flavors),
        cmocka_unit_test(the_sim_case_was_left_out),
        WEFT_TEST_CASES(fan_out_two),
        WEFT_TEST_CASES(fan_out_eight),
        WEFT_TEST_CASES(block_on_twice),
        cmocka_unit_test(a_failed_assertion_fails_the_case),
        cmocka_unit_test(a_failure_in_a_worker_task_fails_the_case),
        cmocka_unit_test(a_task_left_running_fails_the_case),
        cmocka_unit_test(a_diagnostic_fails_the_case_unless_allowed),
        cmocka_unit_test(the_version_macros_match_the_library),
    };
    return weft_test_run_group("public", tests);
}
