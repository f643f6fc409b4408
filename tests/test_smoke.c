/* weft tests — a first end-to-end check: spawn, sleep on the paused clock,
 * join, with exact virtual times; an async test body on every flavor
 * (weft/test.h's WEFT_TEST, the way users write theirs). */
#include "harness.h"

typedef struct sleeper {
    weft_future base;
    int ms;
    weft_sleep nap;
} sleeper;

static weft_poll sleeper_poll(weft_future *f, weft_context *cx, void *out) {
    sleeper *s = (sleeper *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(s->ms)), NULL);
    WEFT_RETURN(f, out, uint64_t, weft_now());
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(sleeper, sleeper_poll, NULL, uint64_t);

typedef struct spawner {
    weft_future base;
    int i;
    uint64_t at[3];
    weft_join_handle jh[3];
} spawner;

static weft_poll spawner_poll(weft_future *f, weft_context *cx, void *out) {
    spawner *s = (spawner *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < 3; s->i++)
        WEFT_TEST_ASSERT_INT_EQ(f, cx,
                                weft_spawn(&WEFT_NEW(sleeper, .ms = 30 - 10 * s->i), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < 3; s->i++) {
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->at[s->i]);
        WEFT_TEST_ASSERT_INT_EQ(f, cx, weft_join_status(&s->jh[s->i]), 0);
    }
    WEFT_TEST_ASSERT_INT_EQ(f, cx, s->at[0], WEFT_MS(30));
    WEFT_TEST_ASSERT_INT_EQ(f, cx, s->at[1], WEFT_MS(20));
    WEFT_TEST_ASSERT_INT_EQ(f, cx, s->at[2], WEFT_MS(10));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spawner, spawner_poll, NULL);
WEFT_TEST(spawn_sleep_join, spawner, .paused = true)

int main(void) {
    const struct CMUnitTest tests[] = {WEFT_TEST_CASES(spawn_sleep_join)};
    return weft_test_run_group("smoke", tests);
}
