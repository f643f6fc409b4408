/* weft tests — the sync primitives under the simulator, over many seeds.
 *
 * One scenario mixes them (bounded mpsc with several senders, a fair mutex
 * held across yields, a semaphore, select with its seeded start, a
 * JoinSet); each seed orders the tasks differently, every count is checked
 * exactly, and one seed run twice gives the same fingerprint (select's
 * random start comes from the seeded stream). */
#include "harness.h"
#include "weft/sim.h"
#include "weft/sync.h"

#define SENDERS 3
#define PER 40

typedef struct shared {
    weft_mutex mu;
    weft_semaphore sem;
    uint64_t counter; /* guarded by mu */
    int in_sem;
} shared;

typedef struct producer {
    weft_future base;
    shared *sh;
    weft_mpsc_tx *tx;
    uint64_t id, i, v;
    weft_mpsc_send_op send;
    weft_lock_op lock;
    weft_acquire_op acq;
    weft_yield_now y;
    int rc;
} producer;

static weft_poll producer_poll(weft_future *f, weft_context *cx, void *out) {
    producer *s = (producer *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (s->i = 0; s->i < PER; s->i++) {
        s->v = s->id * 1000 + s->i;
        WEFT_AWAIT(f, cx, weft_mpsc_send(&s->send, s->tx, &s->v), &s->rc);
        WEFT_SIM_ASSERT(f, cx, s->rc == 0);
        WEFT_AWAIT(f, cx, weft_mutex_lock(&s->lock, &s->sh->mu), NULL);
        s->v = s->sh->counter;
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL); /* held across a yield */
        s->sh->counter = s->v + 1;
        weft_mutex_unlock(&s->sh->mu);
        WEFT_AWAIT(f, cx, weft_semaphore_acquire(&s->acq, &s->sh->sem, 1 + s->i % 2), &s->rc);
        WEFT_SIM_ASSERT(f, cx, s->rc == 0);
        s->sh->in_sem += 1 + (int)(s->i % 2);
        WEFT_SIM_ASSERT(f, cx, s->sh->in_sem <= 2);
        WEFT_AWAIT(f, cx, weft_yield_now(&s->y), NULL);
        s->sh->in_sem -= 1 + (int)(s->i % 2);
        weft_semaphore_release(&s->sh->sem, 1 + s->i % 2);
    }
    weft_mpsc_tx_drop(s->tx);
    WEFT_RETURN(f, out, uint64_t, s->id);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(producer, producer_poll, NULL, uint64_t);

typedef struct scenario {
    weft_future base;
    shared sh;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    weft_join_set set;
    weft_join_next_op next;
    weft_mpsc_recv_op recv;
    weft_sleep tick;
    weft_select sel;
    weft_future *futs[2];
    size_t won;
    uint64_t v, got, last[SENDERS], joined, id;
    int i, rc;
} scenario;

static weft_poll scenario_poll(weft_future *f, weft_context *cx, void *out) {
    scenario *s = (scenario *)f;
    (void)out;
    WEFT_BEGIN(f);
    weft_mutex_init(&s->sh.mu);
    weft_semaphore_init(&s->sh.sem, 2);
    WEFT_SIM_ASSERT(f, cx, weft_mpsc_bounded(sizeof(uint64_t), 2, NULL, &s->tx, &s->rx) == 0);
    weft_join_set_init(&s->set, NULL, NULL);
    for (s->i = 0; s->i < SENDERS; s->i++) {
        weft_mpsc_tx *tx = s->i ? weft_mpsc_tx_clone(s->tx) : s->tx;
        producer p = WEFT_NEW(producer, .sh = &s->sh, .tx = tx, .id = (uint64_t)s->i);
        WEFT_SIM_ASSERT(f, cx, weft_join_set_spawn(&s->set, &p, NULL) == 0);
        s->last[s->i] = UINT64_MAX;
    }
    /* Receive through a select against a timer: the loser is dropped each
     * time, and no message may go missing. */
    while (s->got < SENDERS * PER) {
        s->futs[0] = weft_mpsc_recv(&s->recv, s->rx, &s->v);
        s->futs[1] = weft_sleep(&s->tick, WEFT_MS(1));
        WEFT_AWAIT(f, cx, weft_select(&s->sel, s->futs, NULL, 2), &s->won);
        if (s->won == 1)
            continue; /* the timer won: the dropped recv took nothing */
        {
            uint64_t k = s->v / 1000;
            WEFT_SIM_ASSERT(f, cx, k < SENDERS);
            WEFT_SIM_ASSERT(f, cx, s->last[k] == UINT64_MAX || s->v == s->last[k] + 1);
            s->last[k] = s->v;
        }
        s->got++;
    }
    for (;;) {
        WEFT_AWAIT(f, cx, weft_join_next(&s->next, &s->set, &s->id), &s->rc);
        if (s->rc == WEFT_ECLOSED)
            break;
        WEFT_SIM_ASSERT(f, cx, s->next.status == 0);
        s->joined++;
    }
    WEFT_SIM_ASSERT(f, cx, s->joined == SENDERS);
    WEFT_SIM_ASSERT(f, cx, s->sh.counter == SENDERS * PER);
    WEFT_SIM_ASSERT(f, cx, weft_semaphore_available(&s->sh.sem) == 2);
    WEFT_SIM_ASSERT(f, cx, weft_mpsc_try_recv(s->rx, &s->v) == WEFT_ECLOSED);
    weft_mpsc_rx_drop(s->rx);
    weft_join_set_destroy(&s->set);
    weft_mutex_destroy(&s->sh.mu);
    weft_semaphore_destroy(&s->sh.sem);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(scenario, scenario_poll, NULL);

static void make_scenario(weft_future *slot) { *(scenario *)slot = WEFT_NEW(scenario); }
static const weft_sim_test scenario_test = {"sync_scenario", make_scenario, sizeof(scenario),
                                            NULL, NULL, false};

static void sync_scenario_sweep(void **state) {
    (void)state;
    int failed = weft_sim_sweep(&scenario_test);
    if (failed)
        WEFT_SIM_ON_FAILURE(scenario_test.name, failed);
}

static void sync_scenario_deterministic(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        weft_sim_result r1, r2;
        weft_builder b;
        weft_builder_init(&b, WEFT_SIM);
        b.sim_seed = seed;
        assert_int_equal(weft_sim_run(&scenario_test, &b, &r1), 0);
        assert_int_equal(weft_sim_run(&scenario_test, &b, &r2), 0);
        assert_true(r1.fingerprint == r2.fingerprint);
        assert_int_equal(r1.steps, r2.steps);
        assert_true(r1.steps > SENDERS * PER); /* it really ran */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_scenario_deterministic),
        cmocka_unit_test(sync_scenario_sweep),
    };
    return cmocka_run_group_tests_name("sync_sim", tests, NULL, NULL);
}
