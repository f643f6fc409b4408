/* weft tests — the hierarchical timer wheel, as a unit (timer_wheel.h).
 *
 * The wheel is checked against a trivial reference model: a list of armed
 * entries whose next due entry is the minimum by (deadline, arming order).
 * Nothing here needs a runtime, so these run once (flavor independent).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "timer_wheel.h"

#define SPAN (UINT64_C(1) << 36) /* what six levels of 64 slots cover (ms) */

static weft__wheel *new_wheel(void) {
    weft__wheel *w = malloc(sizeof *w);
    assert_non_null(w);
    weft__wheel_init(w);
    return w;
}

static uint64_t occupied_bits(const weft__wheel *w) {
    uint64_t n = 0;
    for (unsigned l = 0; l < WEFT__WHEEL_LEVELS; l++)
        n += (uint64_t)__builtin_popcountll(w->occupied[l]);
    return n;
}

/* Pops everything due at `now` into `out` (returns how many). */
static size_t drain(weft__wheel *w, uint64_t now, weft_timer_entry **out, size_t cap) {
    size_t n = 0;
    weft_timer_entry *e;
    while ((e = weft__wheel_poll(w, now))) {
        assert_true(n < cap);
        out[n++] = e;
    }
    return n;
}

/* ------------------------------------------------------------------ tests */

static void empty_wheel(void **state) {
    (void)state;
    weft__wheel *w = new_wheel();
    assert_int_equal(w->count, 0);
    assert_true(weft__wheel_next_expiration(w) == UINT64_MAX);
    assert_null(weft__wheel_poll(w, 1000));
    assert_int_equal(w->elapsed, 1000); /* time moves on even when empty */
    assert_null(weft__wheel_poll(w, UINT64_C(1) << 50));
    free(w);
}

static void insert_remove_bookkeeping(void **state) {
    (void)state;
    weft__wheel *w = new_wheel();
    /* One entry per level, and one beyond the wheel's span. */
    static const uint64_t deadlines[] = {5, 100, 5000, 300000, 20000000, 2000000000,
                                         SPAN + 12345};
    enum { N = sizeof deadlines / sizeof deadlines[0] };
    weft_timer_entry e[N];
    memset(e, 0, sizeof e);
    for (size_t i = 0; i < N; i++) {
        assert_true(weft__wheel_insert(w, &e[i], deadlines[i]));
        assert_int_equal(e[i].weft__state, WEFT__TIMER_ARMED);
        assert_int_equal(w->count, i + 1);
    }
    /* Each of the first six went to its own level. */
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(e[i].weft__level, i);
    assert_int_equal(e[6].weft__level, WEFT__WHEEL_LEVELS - 1);
    /* Removal in an order that is neither insertion nor deadline order. */
    static const size_t order[] = {3, 0, 6, 5, 1, 4, 2};
    for (size_t k = 0; k < N; k++) {
        weft_timer_entry *x = &e[order[k]];
        weft__wheel_remove(w, x);
        assert_int_equal(x->weft__state, WEFT__TIMER_IDLE);
        assert_int_equal(w->count, N - k - 1);
        weft__wheel_remove(w, x); /* a second remove is a no-op */
        assert_int_equal(w->count, N - k - 1);
    }
    assert_int_equal(occupied_bits(w), 0);
    assert_true(weft__wheel_next_expiration(w) == UINT64_MAX);
    assert_null(weft__wheel_poll(w, SPAN * 4));
    /* Removing an idle entry that was never armed is harmless. */
    weft_timer_entry idle = {0};
    weft__wheel_remove(w, &idle);
    assert_int_equal(w->count, 0);
    free(w);
}

static void insert_due_refused(void **state) {
    (void)state;
    weft__wheel *w = new_wheel();
    weft_timer_entry e = {0};
    assert_false(weft__wheel_insert(w, &e, 0)); /* == elapsed */
    assert_int_equal(e.weft__state, WEFT__TIMER_IDLE);
    assert_null(weft__wheel_poll(w, 500));
    assert_false(weft__wheel_insert(w, &e, 499)); /* in the past */
    assert_false(weft__wheel_insert(w, &e, 500)); /* now */
    assert_int_equal(e.weft__state, WEFT__TIMER_IDLE);
    assert_int_equal(w->count, 0);
    assert_true(weft__wheel_insert(w, &e, 501));
    assert_int_equal(w->count, 1);
    assert_null(weft__wheel_poll(w, 500));
    assert_ptr_equal(weft__wheel_poll(w, 501), &e);
    assert_int_equal(e.weft__state, WEFT__TIMER_FIRED);
    assert_int_equal(w->count, 0);
    free(w);
}

static void next_expiration_bounds(void **state) {
    (void)state;
    weft__wheel *w = new_wheel();
    weft_timer_entry a = {0}, b = {0}, c = {0};
    assert_true(weft__wheel_insert(w, &a, 37));
    assert_int_equal(weft__wheel_next_expiration(w), 37); /* level 0 is exact */
    assert_true(weft__wheel_insert(w, &b, 12));
    assert_int_equal(weft__wheel_next_expiration(w), 12);
    weft__wheel_remove(w, &b);
    assert_int_equal(weft__wheel_next_expiration(w), 37);
    weft__wheel_remove(w, &a);
    /* A higher level reports when its slot must be looked at: never after
     * the deadline, always after now. */
    assert_true(weft__wheel_insert(w, &c, 1000000));
    uint64_t n = weft__wheel_next_expiration(w);
    assert_true(n > 0 && n <= 1000000);
    /* Following next_expiration reaches the deadline exactly. */
    weft_timer_entry *got = NULL;
    int steps = 0;
    while (!got) {
        n = weft__wheel_next_expiration(w);
        assert_true(n <= 1000000);
        got = weft__wheel_poll(w, n);
        assert_true(++steps < 16);
    }
    assert_ptr_equal(got, &c);
    assert_int_equal(w->elapsed, 1000000);
    free(w);
}

static void ties_fire_in_insertion_order(void **state) {
    (void)state;
    enum { N = 200 };
    static const uint64_t deadlines[] = {1, 63, 64, 4097, 300000, 123456789, SPAN - 1,
                                         SPAN + 7};
    for (size_t d = 0; d < sizeof deadlines / sizeof deadlines[0]; d++) {
        weft__wheel *w = new_wheel();
        weft_timer_entry *e = calloc(N, sizeof *e);
        weft_timer_entry *out[N];
        /* Half armed now, half armed later from a closer point in time (so
         * they are filed at a lower level than the first half was). */
        for (size_t i = 0; i < N / 2; i++)
            assert_true(weft__wheel_insert(w, &e[i], deadlines[d]));
        uint64_t mid = deadlines[d] / 2;
        assert_int_equal(drain(w, mid, out, N), 0);
        for (size_t i = N / 2; i < N; i++)
            assert_true(weft__wheel_insert(w, &e[i], deadlines[d]));
        assert_int_equal(drain(w, deadlines[d] - 1, out, N), 0);
        assert_int_equal(drain(w, deadlines[d], out, N), N);
        for (size_t i = 0; i < N; i++)
            assert_ptr_equal(out[i], &e[i]);
        free(e);
        free(w);
    }
}

static void cascade_every_level(void **state) {
    (void)state;
    /* A deadline on each level boundary and just past it, fired by
     * advancing one millisecond short, then exactly. */
    for (unsigned level = 0; level <= WEFT__WHEEL_LEVELS; level++) {
        uint64_t base = UINT64_C(1) << (6 * level);
        uint64_t cands[] = {base, base + 1, base * 2 + 3, base * 63 + 5};
        for (size_t k = 0; k < 4; k++) {
            weft__wheel *w = new_wheel();
            weft_timer_entry e = {0};
            uint64_t dl = cands[k];
            if (!weft__wheel_insert(w, &e, dl))
                fail_msg("insert %llu refused", (unsigned long long)dl);
            assert_null(weft__wheel_poll(w, dl - 1));
            assert_int_equal(e.weft__state, WEFT__TIMER_ARMED);
            assert_int_equal(w->count, 1);
            assert_ptr_equal(weft__wheel_poll(w, dl), &e);
            assert_null(weft__wheel_poll(w, dl));
            free(w);
        }
    }
}

static void far_deadlines(void **state) {
    (void)state;
    /* Days, the span edge and far beyond it: never early, never late. */
    static const uint64_t deadlines[] = {86400000ull * 3, SPAN - 1, SPAN, SPAN + 1,
                                         SPAN * 3 + 99, UINT64_C(1) << 45};
    enum { N = sizeof deadlines / sizeof deadlines[0] };
    weft__wheel *w = new_wheel();
    weft_timer_entry e[N];
    memset(e, 0, sizeof e);
    for (size_t i = 0; i < N; i++)
        assert_true(weft__wheel_insert(w, &e[i], deadlines[i]));
    for (size_t i = 0; i < N; i++) {
        weft_timer_entry *out[N];
        assert_int_equal(drain(w, deadlines[i] - 1, out, N), 0);
        assert_int_equal(w->count, N - i);
        assert_int_equal(drain(w, deadlines[i], out, N), 1);
        assert_ptr_equal(out[0], &e[i]);
    }
    free(w);
}

static void far_deadlines_driver_style(void **state) {
    (void)state;
    /* The way the paused clock drives it: jump to next_expiration, poll. */
    static const uint64_t deadlines[] = {SPAN + 1, SPAN * 2 + 5, 1000, SPAN - 3};
    weft__wheel *w = new_wheel();
    weft_timer_entry e[4];
    memset(e, 0, sizeof e);
    for (size_t i = 0; i < 4; i++)
        assert_true(weft__wheel_insert(w, &e[i], deadlines[i]));
    static const size_t expect[] = {2, 3, 0, 1};
    size_t got = 0;
    int steps = 0;
    while (got < 4) {
        uint64_t n = weft__wheel_next_expiration(w);
        assert_true(n != UINT64_MAX);
        assert_true(n <= deadlines[expect[got]]);
        weft_timer_entry *x;
        while ((x = weft__wheel_poll(w, n))) {
            assert_ptr_equal(x, &e[expect[got]]);
            assert_int_equal(n, deadlines[expect[got]]);
            got++;
        }
        assert_true(++steps < 200);
    }
    assert_true(weft__wheel_next_expiration(w) == UINT64_MAX);
    free(w);
}

static void remove_from_every_level(void **state) {
    (void)state;
    weft__wheel *w = new_wheel();
    enum { PER = 8 };
    weft_timer_entry e[WEFT__WHEEL_LEVELS + 1][PER];
    memset(e, 0, sizeof e);
    /* Advance first so that slots are not aligned with zero. */
    assert_null(weft__wheel_poll(w, 777));
    for (unsigned l = 0; l <= WEFT__WHEEL_LEVELS; l++)
        for (unsigned i = 0; i < PER; i++) {
            uint64_t off = l < WEFT__WHEEL_LEVELS ? (UINT64_C(1) << (6 * l)) * (1 + i * 5)
                                                  : SPAN * (2 + i);
            assert_true(weft__wheel_insert(w, &e[l][i], 777 + off));
            if (l < WEFT__WHEEL_LEVELS)
                assert_int_equal(e[l][i].weft__level, l);
        }
    /* Remove the odd ones everywhere. */
    for (unsigned l = 0; l <= WEFT__WHEEL_LEVELS; l++)
        for (unsigned i = 1; i < PER; i += 2)
            weft__wheel_remove(w, &e[l][i]);
    assert_int_equal(w->count, (WEFT__WHEEL_LEVELS + 1) * PER / 2);
    /* The rest fire, in deadline order; the removed never do. */
    weft_timer_entry *out[(WEFT__WHEEL_LEVELS + 1) * PER];
    size_t n = drain(w, UINT64_C(1) << 50, out, (WEFT__WHEEL_LEVELS + 1) * PER);
    assert_int_equal(n, (WEFT__WHEEL_LEVELS + 1) * PER / 2);
    for (size_t k = 0; k < n; k++) {
        size_t idx = (size_t)(out[k] - &e[0][0]);
        assert_int_equal(idx % PER % 2, 0);
        if (k)
            assert_true(out[k - 1]->weft__deadline_ms < out[k]->weft__deadline_ms);
    }
    for (unsigned l = 0; l <= WEFT__WHEEL_LEVELS; l++)
        for (unsigned i = 1; i < PER; i += 2)
            assert_int_equal(e[l][i].weft__state, WEFT__TIMER_IDLE);
    assert_int_equal(w->count, 0);
    assert_int_equal(occupied_bits(w), 0);
    free(w);
}

static void remove_after_cascade_and_due(void **state) {
    (void)state;
    weft__wheel *w = new_wheel();
    weft_timer_entry a = {0}, b = {0}, c = {0};
    assert_true(weft__wheel_insert(w, &a, 5000));
    assert_true(weft__wheel_insert(w, &b, 5000));
    assert_true(weft__wheel_insert(w, &c, 5001));
    /* Cascaded down to level 0 by the time we get close. */
    assert_null(weft__wheel_poll(w, 4999));
    weft__wheel_remove(w, &c);
    assert_int_equal(w->count, 2);
    /* a is popped; b waits on the due list and can still be removed. */
    assert_ptr_equal(weft__wheel_poll(w, 5000), &a);
    weft__wheel_remove(w, &b);
    assert_int_equal(b.weft__state, WEFT__TIMER_IDLE);
    assert_int_equal(w->count, 0);
    assert_null(weft__wheel_poll(w, 6000));
    /* Removing a fired entry changes nothing. */
    weft__wheel_remove(w, &a);
    assert_int_equal(a.weft__state, WEFT__TIMER_FIRED);
    assert_int_equal(w->count, 0);
    free(w);
}

/* ------------------------------------------------- random vs. reference */

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64, fixed seed: reproducible */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* A span of random magnitude: 2^0 .. 2^max_bits. */
static uint64_t rnd_span(unsigned max_bits) {
    unsigned bits = (unsigned)(rnd() % (max_bits + 1));
    return rnd() & ((UINT64_C(1) << bits) - 1);
}

typedef struct model {
    weft_timer_entry *e;
    bool *armed;
    size_t n;
} model;

/* The armed entry the wheel must pop next: least (deadline, seq). */
static weft_timer_entry *model_min(const model *m) {
    weft_timer_entry *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->armed[i])
            continue;
        weft_timer_entry *x = &m->e[i];
        if (!best || x->weft__deadline_ms < best->weft__deadline_ms ||
            (x->weft__deadline_ms == best->weft__deadline_ms && x->weft__seq < best->weft__seq))
            best = x;
    }
    return best;
}

/* What next_expiration must return: the least start of any occupied slot
 * at any level (a slot not after the wheel's time is one turn ahead).  The
 * wheel looks at its lowest occupied level only. */
static uint64_t reference_next(const weft__wheel *w) {
    if (w->due.head)
        return w->elapsed;
    uint64_t best = UINT64_MAX;
    for (unsigned l = 0; l < WEFT__WHEEL_LEVELS; l++) {
        unsigned shift = 6 * l;
        uint64_t range = UINT64_C(1) << (shift + 6);
        for (unsigned slot = 0; slot < WEFT__WHEEL_SLOTS; slot++) {
            if (!(w->occupied[l] >> slot & 1))
                continue;
            uint64_t start = (w->elapsed & ~(range - 1)) + ((uint64_t)slot << shift);
            if (start <= w->elapsed)
                start += range;
            if (start < best)
                best = start;
        }
    }
    return best;
}

static void check_poll(weft__wheel *w, model *m, uint64_t now) {
    weft_timer_entry *x;
    while ((x = weft__wheel_poll(w, now))) {
        weft_timer_entry *want = model_min(m);
        assert_non_null(want);
        if (x != want)
            fail_msg("popped deadline %llu seq %llu, expected deadline %llu seq %llu",
                     (unsigned long long)x->weft__deadline_ms, (unsigned long long)x->weft__seq,
                     (unsigned long long)want->weft__deadline_ms,
                     (unsigned long long)want->weft__seq);
        assert_true(x->weft__deadline_ms <= now); /* never early */
        m->armed[x - m->e] = false;
    }
    weft_timer_entry *rest = model_min(m);
    if (rest && rest->weft__deadline_ms <= now) /* never late */
        fail_msg("deadline %llu still armed at %llu", (unsigned long long)rest->weft__deadline_ms,
                 (unsigned long long)now);
    assert_int_equal(w->elapsed, now);
    uint64_t ne = weft__wheel_next_expiration(w);
    assert_true(ne == reference_next(w));
    if (rest) {
        assert_true(ne > now && ne <= rest->weft__deadline_ms);
    } else {
        assert_true(ne == UINT64_MAX);
    }
}

static void random_against_reference(void **state) {
    (void)state;
    enum { N = 4000 };
    for (uint64_t seed = 1; seed <= 6; seed++) {
        rng_state = seed;
        weft__wheel *w = new_wheel();
        model m = {calloc(N, sizeof(weft_timer_entry)), calloc(N, sizeof(bool)), 0};
        uint64_t now = 0;
        size_t armed = 0;
        while (m.n < N || model_min(&m)) {
            uint64_t r = rnd() % 100;
            if (r < 60 && m.n < N) {
                /* Deadlines from the next ms to beyond the wheel's span. */
                uint64_t dl = now + 1 + rnd_span(40);
                /* A third of them tie with an entry armed earlier. */
                if (m.n && rnd() % 3 == 0) {
                    size_t j = (size_t)(rnd() % m.n);
                    if (m.armed[j])
                        dl = m.e[j].weft__deadline_ms;
                }
                size_t i = m.n++;
                assert_true(weft__wheel_insert(w, &m.e[i], dl));
                m.armed[i] = true;
            } else if (r < 70 && m.n) {
                size_t i = (size_t)(rnd() % m.n);
                weft__wheel_remove(w, &m.e[i]); /* armed, fired or idle */
                if (m.armed[i])
                    assert_int_equal(m.e[i].weft__state, WEFT__TIMER_IDLE);
                m.armed[i] = false;
            } else if (r < 85) {
                now += rnd_span(38);
                check_poll(w, &m, now);
            } else {
                /* Jump the way an idle paused clock does. */
                uint64_t ne = weft__wheel_next_expiration(w);
                if (ne != UINT64_MAX) {
                    now = ne;
                    check_poll(w, &m, now);
                }
            }
            assert_true(weft__wheel_next_expiration(w) == reference_next(w));
            armed = 0;
            for (size_t i = 0; i < m.n; i++)
                armed += m.armed[i];
            assert_int_equal(w->count, armed);
        }
        assert_int_equal(w->count, 0);
        assert_int_equal(occupied_bits(w), 0);
        free(m.e);
        free(m.armed);
        free(w);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_wheel),
        cmocka_unit_test(insert_remove_bookkeeping),
        cmocka_unit_test(insert_due_refused),
        cmocka_unit_test(next_expiration_bounds),
        cmocka_unit_test(ties_fire_in_insertion_order),
        cmocka_unit_test(cascade_every_level),
        cmocka_unit_test(far_deadlines),
        cmocka_unit_test(far_deadlines_driver_style),
        cmocka_unit_test(remove_from_every_level),
        cmocka_unit_test(remove_after_cascade_and_due),
        cmocka_unit_test(random_against_reference),
    };
    return WT_RUN("timer_wheel", tests);
}
