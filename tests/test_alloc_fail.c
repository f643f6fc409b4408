/* weft tests — out of memory, everywhere: fail the Nth allocation made
 * through the builder's allocator, for every N of a workload (tasks,
 * timers, channels, a JoinSet, more ready tasks than the simulator's
 * first ready set holds), on every flavor and through weft_sim_run.  Each
 * N must end with 0 or WEFT_ENOMEM, every allocation given back, and no
 * abort or crash.  Each N runs in a child process (fork), so an abort is
 * counted, not suffered; the sweep stops at the first N the workload
 * never reaches.  WEFT_ALLOC_FAIL_VERBOSE=1 prints the figures.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft/sim.h"
#include "weft/sync.h"

/* --------------------------------------------------------- the allocator */

/* Atomic: multi_thread's workers allocate and free too. */
typedef struct failing {
    _Atomic long n; /* allocations asked for */
    long fail_at;   /* the one that fails (0: none) */
    _Atomic long live;
    _Atomic long failed; /* allocations refused */
} failing;

static void *f_alloc(void *ctx, size_t size) {
    failing *c = ctx;
    if (atomic_fetch_add(&c->n, 1) + 1 == c->fail_at) {
        atomic_fetch_add(&c->failed, 1);
        return NULL;
    }
    void *p = malloc(size);
    if (p)
        atomic_fetch_add(&c->live, 1);
    return p;
}

static void f_free(void *ctx, void *p, size_t size) {
    (void)size;
    failing *c = ctx;
    if (p) {
        atomic_fetch_sub(&c->live, 1);
        free(p);
    }
}

/* --------------------------------------------------------- the workload */

#define LEAVES 70 /* > the sim's first ready set of 64 */

typedef struct leaf {
    weft_future base;
    int i;
    weft_sleep nap;
} leaf;
static weft_poll leaf_poll(weft_future *f, weft_context *cx, void *out) {
    leaf *l = (leaf *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&l->nap, WEFT_MS(l->i % 3)), NULL);
    WEFT_RETURN(f, out, int, l->i);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(leaf, leaf_poll, NULL, int);

/* Sends 1..3 on the mpsc with naps between; owns its sender. */
typedef struct producer {
    weft_future base;
    weft_mpsc_tx *tx;
    uint64_t v;
    int rc;
    weft_mpsc_send_op op;
    weft_sleep nap;
} producer;
static weft_poll producer_poll(weft_future *f, weft_context *cx, void *out) {
    producer *p = (producer *)f;
    (void)out;
    WEFT_BEGIN(f);
    for (p->v = 1; p->v <= 3; p->v++) {
        WEFT_AWAIT(f, cx, weft_sleep(&p->nap, WEFT_MS(1)), NULL);
        WEFT_AWAIT(f, cx, weft_mpsc_send(&p->op, p->tx, &p->v), &p->rc);
    }
    weft_mpsc_tx_drop(p->tx);
    p->tx = NULL;
    WEFT_END(f);
}
static void producer_drop(weft_future *f) {
    producer *p = (producer *)f;
    weft_mpsc_tx_drop(p->tx); /* spawn refused, or cancelled at shutdown */
    p->tx = NULL;
}
WEFT_FUTURE_DEFINE_VOID(producer, producer_poll, producer_drop);

/* Sends 42 on the oneshot after a nap; owns its sender. */
typedef struct os_sender {
    weft_future base;
    weft_oneshot_tx *tx;
    weft_sleep nap;
} os_sender;
static weft_poll os_sender_poll(weft_future *f, weft_context *cx, void *out) {
    os_sender *s = (os_sender *)f;
    (void)out;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&s->nap, WEFT_MS(2)), NULL);
    {
        uint64_t v = 42;
        weft_oneshot_send(s->tx, &v); /* releases the sender */
    }
    s->tx = NULL;
    WEFT_END(f);
}
static void os_sender_drop(weft_future *f) {
    os_sender *s = (os_sender *)f;
    weft_oneshot_tx_drop(s->tx);
    s->tx = NULL;
}
WEFT_FUTURE_DEFINE_VOID(os_sender, os_sender_poll, os_sender_drop);

typedef struct work {
    weft_future base;
    const weft_allocator *a;
    weft_mpsc_tx *tx;
    weft_mpsc_rx *rx;
    weft_oneshot_tx *otx;
    weft_oneshot_rx *orx;
    weft_join_set set;
    bool have_set;
    weft_join_handle prod, os;
    weft_mpsc_recv_op rop;
    weft_oneshot_recv_op oop;
    weft_join_next_op jop;
    weft_sleep nap;
    weft_timeout to;
    uint64_t v;
    int out, rc, err, i;
    long sum;
} work;

static weft_poll work_poll(weft_future *f, weft_context *cx, void *out) {
    work *w = (work *)f;
    WEFT_BEGIN(f);
    if ((w->err = weft_mpsc_bounded(8, 2, w->a, &w->tx, &w->rx)) ||
        (w->err = weft_oneshot_new(8, w->a, &w->otx, &w->orx)))
        WEFT_FAIL(f, cx, w->err);
    w->err = weft_spawn(&WEFT_NEW(producer, .tx = w->tx), &w->prod);
    w->tx = NULL; /* the producer's, even when the spawn was refused */
    if (w->err)
        WEFT_FAIL(f, cx, w->err);
    w->err = weft_spawn(&WEFT_NEW(os_sender, .tx = w->otx), &w->os);
    w->otx = NULL;
    if (w->err)
        WEFT_FAIL(f, cx, w->err);
    weft_join_set_init(&w->set, NULL, w->a);
    w->have_set = true;
    for (w->i = 0; w->i < LEAVES; w->i++)
        if ((w->err = weft_join_set_spawn(&w->set, &WEFT_NEW(leaf, .i = w->i), NULL)))
            WEFT_FAIL(f, cx, w->err);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_mpsc_recv(&w->rop, w->rx, &w->v), &w->rc);
        if (w->rc)
            break;
        w->sum += (long)w->v;
    }
    WEFT_AWAIT(f, cx, weft_oneshot_recv(&w->oop, w->orx, &w->v), &w->rc);
    w->orx = NULL; /* the op released it */
    if (w->rc == 0)
        w->sum += (long)w->v;
    for (;;) {
        WEFT_AWAIT(f, cx, weft_join_next(&w->jop, &w->set, &w->out), &w->rc);
        if (w->rc)
            break;
        w->sum += w->out;
    }
    WEFT_AWAIT(f, cx, weft_join(&w->prod), NULL);
    WEFT_AWAIT(f, cx, weft_join(&w->os), NULL);
    WEFT_AWAIT(f, cx, weft_timeout(&w->to, WEFT_MS(10), weft_sleep(&w->nap, WEFT_MS(1))), NULL);
    WEFT_RETURN(f, out, long, w->sum);
    WEFT_END(f);
}

static void work_drop(weft_future *f) {
    work *w = (work *)f;
    weft_mpsc_tx_drop(w->tx);
    weft_mpsc_rx_drop(w->rx);
    weft_oneshot_tx_drop(w->otx);
    weft_oneshot_rx_drop(w->orx);
    if (w->have_set)
        weft_join_set_destroy(&w->set);
    w->have_set = false;
    weft_join_detach(&w->prod);
    weft_join_detach(&w->os);
}
WEFT_FUTURE_DEFINE(work, work_poll, work_drop, long);

/* The sum when nothing fails: 1+2+3, 42, 0..LEAVES-1. */
#define EXPECTED (6 + 42 + (long)LEAVES * (LEAVES - 1) / 2)

/* ------------------------------------------------------------ one N */

/* A runtime of `flavor` (WEFT_SIM through weft_sim_run when `harness`)
 * with the Nth allocation failing: 0 when the run passed with the
 * expected sum, else the error.  `*made` gets the allocations asked for. */
static failing *cur_alloc;
static void make_work(weft_future *slot) {
    static weft_allocator a;
    a = (weft_allocator){f_alloc, f_free, cur_alloc};
    *(work *)slot = WEFT_NEW(work, .a = &a);
}

/* Tasks cut short by a failed allocation are alive at shutdown by design. */
static void quiet(void *ctx, const char *what, const char *site) { (void)ctx, (void)what, (void)site; }

static int run_once(weft_flavor flavor, bool harness, long fail_at, failing *c) {
    atomic_init(&c->n, 0);
    atomic_init(&c->live, 0);
    atomic_init(&c->failed, 0);
    c->fail_at = fail_at;
    weft_allocator a = {f_alloc, f_free, c};
    weft_builder b;
    weft_builder_init(&b, flavor);
    b.allocator = a;
    b.start_paused = flavor != WEFT_MULTI_THREAD;
    b.worker_threads = 2;
    b.on_diagnostic = quiet;
    if (harness) {
        cur_alloc = c;
        static const weft_sim_test t = {"alloc_fail", make_work, sizeof(work), NULL, NULL, false};
        weft_sim_result r;
        int err = weft_sim_run(&t, &b, &r);
        return err;
    }
    weft_runtime *rt;
    int err = weft_runtime_new(&b, &rt);
    if (err)
        return err;
    work w = WEFT_NEW(work, .a = &a);
    long sum = 0;
    err = weft_runtime_block_on(rt, &w.base, &sum);
    weft_runtime_free(rt);
    if (!err && sum != EXPECTED)
        return 1000; /* a wrong result, silently */
    return err;
}

/* ------------------------------------------------------------- the sweep */

typedef struct figures {
    long cases, clean, passed;
} figures;

/* Every N from 1 until a run makes fewer than N allocations. */
static figures sweep(weft_flavor flavor, bool harness, const char *label) {
    figures fig = {0, 0, 0};
    for (long n = 1;; n++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGALRM};
            for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
                signal(sigs[i], SIG_DFL);
            alarm(20);
            failing c;
            int rc = run_once(flavor, harness, n, &c);
            long msg[4] = {rc, atomic_load(&c.n), atomic_load(&c.live), atomic_load(&c.failed)};
            ssize_t wr = write(fds[1], msg, sizeof msg);
            (void)wr;
            _exit(0);
        }
        close(fds[1]);
        long msg[4] = {0};
        ssize_t got = read(fds[0], msg, sizeof msg);
        close(fds[0]);
        int st;
        waitpid(pid, &st, 0);
        bool ended = WIFEXITED(st) && WEXITSTATUS(st) == 0 && got == (ssize_t)sizeof msg;
        if (ended && msg[3] == 0) { /* never reached the Nth: the sweep is done */
            if (msg[0] != 0)
                fail_msg("%s: the run fails with no allocation failing: %d", label, (int)msg[0]);
            break;
        }
        fig.cases++;
        bool clean = ended && (msg[0] == 0 || msg[0] == WEFT_ENOMEM) && msg[2] == 0;
        fig.clean += clean;
        fig.passed += clean && msg[0] == 0;
        if (!clean)
            print_message("%s: failing allocation %ld: %s%s rc=%ld (%s) live=%ld\n", label, n,
                          ended ? "" : "died by ",
                          ended ? "" : (WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exit"),
                          msg[0], weft_err_name((int)msg[0]), msg[2]);
        if (n > 5000)
            fail_msg("%s: the workload never ends", label);
    }
    const char *v = getenv("WEFT_ALLOC_FAIL_VERBOSE");
    if (v && *v)
        print_message("%s: %ld failing allocations, %ld ended cleanly (%ld of them passed)\n",
                      label, fig.cases, fig.clean, fig.passed);
    return fig;
}

static void check(figures f) {
    assert_true(f.cases > 10); /* the workload allocates */
    assert_int_equal(f.clean, f.cases);
}

static void oom_current_thread(void **state) {
    (void)state;
    check(sweep(WEFT_CURRENT_THREAD, false, "current_thread"));
}
static void oom_multi_thread(void **state) {
    (void)state;
    check(sweep(WEFT_MULTI_THREAD, false, "multi_thread"));
}
static void oom_sim(void **state) {
    (void)state;
    check(sweep(WEFT_SIM, false, "sim"));
}
static void oom_sim_run(void **state) {
    (void)state;
    check(sweep(WEFT_SIM, true, "weft_sim_run"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oom_current_thread),
        cmocka_unit_test(oom_multi_thread),
        cmocka_unit_test(oom_sim),
        cmocka_unit_test(oom_sim_run),
    };
    return WT_RUN("alloc_fail", tests);
}
