/* docs/guide.md, section 9, shows this file whole (tools/docs_check.py). */
#include "weft/test.h"           /* brings cmocka.h and what it needs */

typedef struct an_hour { weft_future base; weft_sleep nap; } an_hour;
static weft_poll an_hour_poll(weft_future *f, weft_context *cx, void *out) {
    an_hour *s = (an_hour *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_SECS(3600)), NULL);
    WEFT_TEST_ASSERT_INT_EQ(f, cx, weft_now(), WEFT_SECS(3600));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(an_hour, an_hour_poll, NULL);
WEFT_TEST(sleeps_an_hour, an_hour, .paused = true)
WEFT_TEST(threads_only, an_hour, .paused = true, .flavors = WEFT_TEST_THREADED)

/* A plain test that drives the runtime itself gets the env. */
WEFT_TEST_ENV(block_on_twice, .flavors = WEFT_TEST_THREADED) {
    env->builder.start_paused = true;        /* before the first weft_test_rt */
    an_hour a = WEFT_NEW(an_hour);
    weft_test_block_on(env, &a.base, NULL);   /* fails the test unless 0 */
    assert_true(atomic_load(&env->allocs) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        WEFT_TEST_CASES(sleeps_an_hour),   /* sleeps_an_hour@current_thread, @multi_thread, @sim */
        WEFT_TEST_CASES(threads_only),
        WEFT_TEST_CASES(block_on_twice),
    };
    return weft_test_run_group("guide", tests);
}
