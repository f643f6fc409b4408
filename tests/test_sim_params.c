/* weft tests — weft/sim.h comes first here, before cmocka.h and with none
 * of what cmocka.h needs before it (the header brings it), and one
 * WEFT_SIM_TEST body runs under two configurations given as designated
 * initializers of its fields. */
#include "weft/sim.h"

#include <cmocka.h>

typedef struct stepper {
    weft_future base;
    uint64_t *total;
    int per, i;
    weft_yield_now y;
} stepper;

static weft_poll stepper_poll(weft_future *f, weft_context *cx, void *out) {
    stepper *s = (stepper *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < s->per; s->i++) {
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
        (*s->total)++;
    }
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(stepper, stepper_poll, NULL);

/* The body: `tasks` steppers of `per` steps each, joined. */
typedef struct crowd {
    weft_future base;
    int tasks, per; /* the configuration */
    int i;
    uint64_t total;
    weft_join_handle jh[16];
} crowd;

static int runs_with[17]; /* bodies run, by their `tasks` */

static weft_poll crowd_poll(weft_future *f, weft_context *cx, void *out) {
    crowd *s = (crowd *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_SIM_ASSERT(f, cx, s->tasks > 0 && s->tasks <= 16 && s->per > 0);
    runs_with[s->tasks]++;
    for (s->i = 0; s->i < s->tasks; s->i++)
        weft_spawn(&WEFT_NEW(stepper, .total = &s->total, .per = s->per), &s->jh[s->i]);
    for (s->i = 0; s->i < s->tasks; s->i++)
        WEFT_AWAIT(f, cx, weft_join(&s->jh[s->i]), NULL);
    WEFT_SIM_ASSERT(f, cx, s->total == (uint64_t)(s->tasks * s->per));
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(crowd, crowd_poll, NULL);

WEFT_SIM_TEST(crowd_of_two, crowd, .tasks = 2, .per = 5)
WEFT_SIM_TEST(crowd_of_twelve, crowd, .tasks = 12, .per = 3)

/* Each configuration reached its body, once per seed of its sweep. */
static void each_configuration_ran(void **state) {
    (void)state;
    assert_true(runs_with[2] > 0);
    assert_true(runs_with[12] > 0);
    assert_int_equal(runs_with[2], runs_with[12]);
    for (int n = 0; n <= 16; n++)
        if (n != 2 && n != 12)
            assert_int_equal(runs_with[n], 0);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crowd_of_two),
        cmocka_unit_test(crowd_of_twelve),
        cmocka_unit_test(each_configuration_ran),
    };
    return weft_sim_run_tests(argc, argv, "sim_params", tests);
}
