/* weft tests — a first end-to-end check: spawn, sleep on the paused clock,
 * join, with exact virtual times. */
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
        assert_int_equal(weft_spawn(&WEFT_NEW(sleeper, .ms = 30 - 10 * s->i), &s->jh[s->i]), 0);
    for (s->i = 0; s->i < 3; s->i++) {
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), &s->at[s->i]);
        assert_int_equal(weft_join_status(&s->jh[s->i]), 0);
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(spawner, spawner_poll, NULL);

static void spawn_sleep_join(void **state) {
    wt_env *env = WT_ENV(state);
    if (!env)
        skip();
    env->builder.start_paused = true;
    spawner s = WEFT_NEW(spawner);
    wt_block_on(env, &s.base, NULL);
    assert_int_equal(s.at[0], WEFT_MS(30));
    assert_int_equal(s.at[1], WEFT_MS(20));
    assert_int_equal(s.at[2], WEFT_MS(10));
}

int main(void) {
    const struct CMUnitTest tests[] = {WT_FLAVORS(spawn_sleep_join)};
    return WT_RUN("smoke", tests);
}
