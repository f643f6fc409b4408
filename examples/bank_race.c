/* bank_race — a check-then-act race across an await, which the simulator
 * finds and replays.
 *
 * Two tellers serve one account holding 100.  Each request first awaits an
 * authorisation round trip.  A withdrawal checks the balance, awaits the
 * ledger append, then debits:
 *
 *     if (bank->balance >= amount) {      // check
 *         await ledger_append();          // another teller may run here
 *         bank->balance -= amount;        // act on a stale check
 *     }
 *
 * Teller A withdraws 60 at once; teller B looks the account up six times,
 * then withdraws 60.  On a FIFO scheduler (current_thread) A always debits
 * before B checks, so a plain run never overdraws.  Under the simulator B
 * sometimes runs seven polls while A runs one, checks between A's check and
 * A's debit, and both withdrawals pass: the balance goes to -20.
 *
 * The fix (bank_fixed) debits in the same step as the check and appends to
 * the ledger afterwards.
 *
 *   bank_race                  sweep both tests (the buggy one fails and
 *                              prints its replay line)
 *   bank_race --test NAME      just one test (with WEFT_SEED=s: one seed)
 *   bank_race --plain N        the buggy code N times on current_thread
 *   bank_race --prove          find the bug within 1,000 seeds, replay it
 *                              100 times, sweep the fix over 10,000 seeds,
 *                              replay the shrunk schedule in seeds/
 *   bank_race --fingerprint S  print seed S's fingerprint (for .ci/)
 *   bank_race --demo           the README's main job: sweep until the bug
 *                              shows, print the replay line, replay that
 *                              seed with its trace, then sweep the fix
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "weft/sim.h"
#include "weft/weft.h"

typedef struct bank {
    int64_t balance;
    int64_t dispensed; /* cash handed out */
    int ledger;        /* entries appended */
    bool fixed;        /* run the fixed withdrawal */
} bank;

typedef struct teller {
    weft_future base;
    bank *bank;
    int lookups; /* read-only requests before the withdrawal */
    int64_t amount;
    int i;
    weft_yield_now rpc;
} teller;

/* An RPC that completes on its next poll: one scheduling point. */
#define ROUND_TRIP(f, cx, self) WEFT_AWAIT((f), (cx), weft_yield_now(&(self)->rpc), NULL)

static weft_poll teller_poll(weft_future *f, weft_context *cx, void *out) {
    teller *self = (teller *)f;
    bank *b = self->bank;
    (void)out;
    WEFT_BEGIN(f);
    for (self->i = 0; self->i < self->lookups; self->i++)
        ROUND_TRIP(f, cx, self); /* authorise, then read the balance */
    ROUND_TRIP(f, cx, self);     /* authorise the withdrawal */
    if (b->fixed) {
        if (b->balance >= self->amount) {
            b->balance -= self->amount; /* check and act in one step */
            b->dispensed += self->amount;
            ROUND_TRIP(f, cx, self); /* ledger append */
            b->ledger++;
        }
    } else if (b->balance >= self->amount) {
        weft_sim_note("balance %lld covers %lld: append to the ledger, then debit",
                      (long long)b->balance, (long long)self->amount);
        ROUND_TRIP(f, cx, self); /* ledger append: the race window */
        b->ledger++;
        b->balance -= self->amount;
        b->dispensed += self->amount;
        weft_sim_note("debited %lld: balance %lld", (long long)self->amount,
                      (long long)b->balance);
    }
    WEFT_SIM_ASSERT(f, cx, b->balance >= 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE_VOID(teller, teller_poll, NULL);

/* The test body: opens the account, runs both tellers, checks the books. */
typedef struct bank_test {
    weft_future base;
    bank bank;
    weft_join_handle a, b;
} bank_test;

static weft_poll bank_test_poll(weft_future *f, weft_context *cx, void *out, bool fixed) {
    bank_test *self = (bank_test *)f;
    (void)out;
    WEFT_BEGIN(f);
    self->bank = (bank){.balance = 100, .fixed = fixed};
    weft_spawn(&WEFT_NEW(teller, .bank = &self->bank, .lookups = 0, .amount = 60), &self->a);
    weft_spawn(&WEFT_NEW(teller, .bank = &self->bank, .lookups = 6, .amount = 60), &self->b);
    WEFT_AWAIT(f, cx, weft_join(&self->a), NULL);
    WEFT_AWAIT(f, cx, weft_join(&self->b), NULL);
    WEFT_SIM_ASSERT(f, cx, self->bank.balance + self->bank.dispensed == 100);
    WEFT_SIM_ASSERT(f, cx, self->bank.balance >= 0);
    WEFT_END(f);
}

/* On failure the body stops early: its JoinHandles are let go here. */
static void bank_test_drop(weft_future *f) {
    bank_test *self = (bank_test *)f;
    weft_join_detach(&self->a);
    weft_join_detach(&self->b);
}

typedef bank_test bank_buggy;
typedef bank_test bank_fixed_body;
static weft_poll buggy_poll(weft_future *f, weft_context *cx, void *out) {
    return bank_test_poll(f, cx, out, false);
}
static weft_poll fixed_poll(weft_future *f, weft_context *cx, void *out) {
    return bank_test_poll(f, cx, out, true);
}
WEFT_FUTURE_DEFINE_VOID(bank_buggy, buggy_poll, bank_test_drop);
WEFT_FUTURE_DEFINE_VOID(bank_fixed_body, fixed_poll, bank_test_drop);

WEFT_SIM_TEST(bank_race, bank_buggy)
WEFT_SIM_TEST(bank_fixed, bank_fixed_body)

/* ------------------------------------------------------- the other modes */

static void make_buggy(weft_future *slot) { *(bank_buggy *)slot = WEFT_NEW(bank_buggy); }
static void make_fixed(weft_future *slot) { *(bank_fixed_body *)slot = WEFT_NEW(bank_fixed_body); }
static const weft_sim_test buggy_test = {"bank_race", make_buggy, sizeof(bank_buggy), NULL, NULL, false};
static const weft_sim_test fixed_test = {"bank_fixed", make_fixed, sizeof(bank_fixed_body), NULL, NULL, false};

static int run_seed(const weft_sim_test *t, uint64_t seed, weft_sim_result *r) {
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_max_steps = 100000;
    return weft_sim_run(t, &b, r);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The buggy code on the production current_thread scheduler. */
static int plain(long n) {
    long overdrawn = 0;
    for (long i = 0; i < n; i++) {
        weft_runtime *rt;
        if (weft_runtime_new(NULL, &rt))
            return 1;
        bank_buggy body = WEFT_NEW(bank_buggy);
        weft_runtime_block_on(rt, &body.base, NULL);
        overdrawn += body.bank.balance < 0;
        weft_runtime_free(rt);
    }
    printf("plain current_thread runs: %ld, overdrawn: %ld\n", n, overdrawn);
    return 0;
}

/* The shrunk schedule kept in seeds/: it replays the race exactly, every
 * time; the fixed code takes another path, and the replay says where
 * instead of running something else. */
static bool prove_schedule(void) {
#ifdef WEFT_SIM_SEEDS_DIR
    const char *path = WEFT_SIM_SEEDS_DIR "/bank_race-seed6.sched";
    weft_sim_result r;
    int err = weft_sim_replay(&buggy_test, path, NULL, &r);
    uint64_t fp = r.fingerprint, steps = r.steps;
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += weft_sim_replay(&buggy_test, path, NULL, &r) == WEFT_EFAILED &&
                r.fingerprint == fp && strstr(r.failure, "assertion failed: b->balance >= 0");
    printf("schedule %s: %s in %" PRIu64 " steps, replayed 100 times: %d the same\n", path,
           err == WEFT_EFAILED ? "overdraws" : weft_err_name(err), steps, same);
    int fixed = weft_sim_replay(&fixed_test, path, NULL, &r);
    printf("the same schedule on the fixed code: %s (%s)\n", weft_err_name(fixed), r.failure);
    return err == WEFT_EFAILED && same == 100 && fixed == WEFT_ESCHEDULE;
#else
    return true;
#endif
}

static int prove(void) {
    weft_sim_result r;
    uint64_t found = UINT64_MAX;
    double t0 = now_s();
    uint64_t swept = 0;
    for (uint64_t seed = 0; seed < 1000 && found == UINT64_MAX; seed++, swept++)
        if (run_seed(&buggy_test, seed, &r))
            found = seed;
    double t1 = now_s();
    if (found == UINT64_MAX) {
        printf("FAIL: no failing seed among the first 1000\n");
        return 1;
    }
    uint64_t fp = r.fingerprint;
    printf("bug found at seed %" PRIu64 " after %" PRIu64 " seeds (%.0f seeds/s): %s\n", found,
           swept, (double)swept / (t1 - t0), r.failure);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += run_seed(&buggy_test, found, &r) != 0 && r.fingerprint == fp;
    printf("replayed seed %" PRIu64 " 100 times: %d failed with fingerprint %016" PRIx64 "\n",
           found, same, fp);
    int passed = 0;
    t0 = now_s();
    for (uint64_t seed = 0; seed < 10000; seed++)
        passed += run_seed(&fixed_test, seed, &r) == 0;
    t1 = now_s();
    printf("fixed version: %d of 10000 seeds passed (%.0f seeds/s)\n", passed, 10000 / (t1 - t0));
    return same == 100 && passed == 10000 && prove_schedule() ? 0 : 1;
}

/* Sweep the buggy body until a seed fails, print the line that replays it,
 * replay it with the trace on stdout, then sweep the fixed body. */
static int demo(const char *self) {
    weft_sim_result r;
    uint64_t seed = 0;
    double t0 = now_s();
    while (seed < 1000 && run_seed(&buggy_test, seed, &r) == 0)
        seed++;
    double t1 = now_s();
    if (seed == 1000) {
        printf("no failing seed among the first 1000: the race was not found\n");
        return 1;
    }
    printf("== sweep: seeds 0..%" PRIu64 " of bank_race in %.3f s; seed %" PRIu64 " fails:\n", seed,
           t1 - t0, seed);
    printf("weft-sim: FAIL bank_race seed=%" PRIu64 " fingerprint=%016" PRIx64
           " (%s) replay: WEFT_SEED=%" PRIu64 " %s --test bank_race\n",
           seed, r.fingerprint, r.failure, seed, self);
    uint64_t fp = r.fingerprint;
    printf("\n== replay of seed %" PRIu64 " with its trace (WEFT_TRACE=-):\n", seed);
    fflush(stdout);
    weft_builder b;
    weft_builder_init(&b, WEFT_SIM);
    b.sim_seed = seed;
    b.sim_max_steps = 100000;
    b.sim_trace_path = "-"; /* stderr */
    int err = weft_sim_run(&buggy_test, &b, &r);
    bool same = r.fingerprint == fp;
    printf("replay: %s, fingerprint %016" PRIx64 " (%s)\n", err ? "failed again" : "passed",
           r.fingerprint, same ? "the same" : "DIFFERENT");
    int passed = 0;
    for (uint64_t s = 0; s < 1000; s++)
        passed += run_seed(&fixed_test, s, &r) == 0;
    printf("\n== the fix (debit in the same step as the check): %d of 1000 seeds pass\n", passed);
    return err && same && passed == 1000 ? 0 : 1;
}

static int usage(const char *prog, FILE *to) {
    fprintf(to,
            "usage: %s [--test NAME | --plain N | --prove | --fingerprint SEED | --demo | --help]\n"
            "  (no argument)       sweep both tests (bank_race fails, printing its replay line)\n"
            "  --test NAME         just one test, bank_race or bank_fixed (WEFT_SEED=s: one seed)\n"
            "  --plain N           the buggy code N times on current_thread\n"
            "  --prove             find the bug within 1000 seeds, replay it 100 times, sweep the fix\n"
            "  --fingerprint SEED  print the fingerprints of seeds SEED..SEED+7 (for .ci/)\n"
            "  --demo              sweep until the bug shows, replay it with its trace, check the fix\n"
            "environment: WEFT_SEEDS, WEFT_SEED, WEFT_SEED_BASE, WEFT_SIM_STRATEGY=pct, WEFT_TRACE,\n"
            "  WEFT_CHECK_DETERMINISM=1 (see docs/simulation.md)\n",
            prog);
    return to == stdout ? 0 : 2;
}

/* A whole decimal (or 0x) number, or false. */
static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    *out = strtoull(s, &end, 0);
    return *end == 0;
}

static int bad_args(const char *prog, const char *what, const char *arg) {
    fprintf(stderr, "%s: %s '%s'\n", prog, what, arg);
    return usage(prog, stderr);
}

int main(int argc, char **argv) {
    uint64_t n;
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return usage(argv[0], stdout);
    if (argc == 2 && strcmp(argv[1], "--demo") == 0)
        return demo(argv[0]);
    if (argc >= 2 && strcmp(argv[1], "--plain") == 0) {
        if (argc != 3 || !parse_u64(argv[2], &n))
            return bad_args(argv[0], "--plain needs a count, not", argc == 3 ? argv[2] : "");
        return plain((long)n);
    }
    if (argc == 2 && strcmp(argv[1], "--prove") == 0)
        return prove();
    if (argc >= 2 && strcmp(argv[1], "--fingerprint") == 0) {
        if (argc != 3 || !parse_u64(argv[2], &n))
            return bad_args(argv[0], "--fingerprint needs a seed, not", argc == 3 ? argv[2] : "");
        weft_sim_result r;
        for (uint64_t s = n, i = 0; i < 8; i++) {
            run_seed(&buggy_test, s + i, &r);
            printf("seed %" PRIu64 " buggy %016" PRIx64 " steps %" PRIu64 "\n", s + i,
                   r.fingerprint, r.steps);
            run_seed(&fixed_test, s + i, &r);
            printf("seed %" PRIu64 " fixed %016" PRIx64 " steps %" PRIu64 "\n", s + i,
                   r.fingerprint, r.steps);
        }
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--test") == 0) {
        if (argc != 3 || (strcmp(argv[2], "bank_race") != 0 && strcmp(argv[2], "bank_fixed") != 0))
            return bad_args(argv[0], "--test takes bank_race or bank_fixed, not",
                            argc == 3 ? argv[2] : "");
    } else if (argc > 1) {
        return bad_args(argv[0], "unknown argument", argv[1]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bank_race),
        cmocka_unit_test(bank_fixed),
    };
    return weft_sim_run_tests(argc, argv, "bank_race", tests);
}
