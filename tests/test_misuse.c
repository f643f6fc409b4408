/* weft tests — misuse: every public function called as a careless user
 * would, with NULL and out-of-range arguments, checking the documented
 * result (guide section 7):
 *  - a call that returns an int code returns WEFT_EINVAL (or the code its
 *    header names for the case: WEFT_ERANGE, WEFT_ENOMEM, ...);
 *  - a call that releases or ends something (drop, destroy, free, close,
 *    release, detach, abort) and a read-only query are no-ops on NULL;
 *  - any other call that cannot report (unlock, notify, subscribe, the
 *    init of an object or of an op future) aborts with one line naming
 *    the function, as do unlocks and releases of what is not held.
 *
 * Each case runs in a child process (fork) with a watchdog, so a crash, a
 * sanitizer report, a hang or an abort is observed, never suffered: a
 * case passes when the child ended the way the case expects.  A new
 * public function gets its cases here.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "weft/net.h"
#include "weft/sim.h"
#include "weft/sync.h"
#include "weft/time.h"
#include "weft/weft.h"

/* Under AddressSanitizer and ThreadSanitizer a huge malloc must return
 * NULL (what the cases check becomes WEFT_ENOMEM), not end the process;
 * *SAN_OPTIONS from the environment still apply on top. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

/* ------------------------------------------------------------- the runner */

enum { RC, RC2, ABORTS };

typedef struct mcase {
    const char *name;
    int (*fn)(void);
    int kind;        /* RC: returns `want`; RC2: `want` or `want2`; ABORTS */
    int want, want2;
    const char *msg; /* ABORTS: a substring of the one line printed */
} mcase;

#define MAX_CASES 512
static mcase cases[MAX_CASES];
static size_t ncases;

static void reg(const char *name, int (*fn)(void), int kind, int want, int want2,
                const char *msg) {
    if (ncases == MAX_CASES)
        abort();
    cases[ncases++] = (mcase){name, fn, kind, want, want2, msg};
}

#define CASE_(id, kind, want, want2, msg)                                      \
    static int id(void);                                                       \
    __attribute__((constructor)) static void id##__reg(void) {                 \
        reg(#id, id, kind, want, want2, msg);                                  \
    }                                                                          \
    static int id(void)
/* The body returns the call's result (0 for a void call that must return). */
#define RETURNS(id, want) CASE_(id, RC, want, want, NULL)
#define RETURNS2(id, a, b) CASE_(id, RC2, a, b, NULL)
/* The body must abort, printing one line containing `msg`. */
#define ABORTS_(id, msg) CASE_(id, ABORTS, 0, 0, msg)

/* Runs one case in a child: its result goes through a pipe with stderr. */
static void run_case(void **state) {
    const mcase *c = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        /* cmocka's handlers would jump back into the runner's loop */
        int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGALRM};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        alarm(10); /* a hang ends as SIGALRM */
        int rc = c->fn();
        dprintf(2, "\nmisuse-result=%d\n", rc);
        _exit(0);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    const char *res = strstr(buf, "misuse-result=");
    if (c->kind == ABORTS) {
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT || !strstr(buf, c->msg))
            fail_msg("%s: expected an abort saying \"%s\"; got %s %d, output: %s", c->name,
                     c->msg, WIFSIGNALED(st) ? "signal" : "exit",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), buf);
        return;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !res)
        fail_msg("%s: expected a return; got %s %d, output: %s", c->name,
                 WIFSIGNALED(st) ? "signal" : "exit",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), buf);
    int rc = atoi(res + strlen("misuse-result="));
    if (rc != c->want && rc != c->want2)
        fail_msg("%s: returned %d (%s), expected %s", c->name, rc, weft_err_name(rc),
                 weft_err_name(c->want));
}

/* ------------------------------------------------------------ test helpers */

/* Completes at once with 7. */
typedef struct ready7 {
    weft_future base;
    int *dropped;
} ready7;
static weft_poll ready7_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    WEFT_BEGIN(f);
    WEFT_RETURN(f, out, int, 7);
    WEFT_END(f);
}
static void ready7_drop(weft_future *f) {
    ready7 *r = (ready7 *)f;
    if (r->dropped)
        (*r->dropped)++;
}
WEFT_FUTURE_DEFINE(ready7, ready7_poll, ready7_drop, int);

/* Sleeps `ms` virtual or real milliseconds. */
typedef struct napper {
    weft_future base;
    int64_t ms;
    weft_sleep s;
} napper;
static weft_poll napper_poll(weft_future *f, weft_context *cx, void *out) {
    napper *n = (napper *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep(&n->s, WEFT_MS(n->ms)), NULL);
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(napper, napper_poll, NULL, int);

static weft_runtime *rt_of(weft_flavor fl, bool paused) {
    weft_builder b;
    weft_builder_init(&b, fl);
    b.start_paused = paused;
    b.worker_threads = 2;
    weft_runtime *rt = NULL;
    if (weft_runtime_new(&b, &rt))
        abort();
    return rt;
}

/* Runs `fn` as the body of a future on a paused current_thread runtime
 * (for calls that need a runtime entered). */
typedef struct body {
    weft_future base;
    int (*fn)(weft_context *cx);
} body;
static weft_poll body_poll(weft_future *f, weft_context *cx, void *out) {
    body *b = (body *)f;
    int rc = b->fn(cx);
    if (out)
        *(int *)out = rc;
    f->resume = WEFT__DONE;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(body, body_poll, NULL, int);
static int in_runtime(int (*fn)(weft_context *cx)) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, true);
    body b = WEFT_NEW(body, .fn = fn);
    int out = -1000;
    int err = weft_runtime_block_on(rt, &b.base, &out);
    weft_runtime_free(rt);
    return err ? err : out;
}

static const weft_future_vtable null_poll_vt = {NULL, NULL, sizeof(weft_future), 0, "null_poll", 0};
static const weft_future_vtable huge_vt = {ready7_poll, ready7_drop, SIZE_MAX - 8, sizeof(int),
                                           "huge", 0};
static const weft_future_vtable huge_out_vt = {ready7_poll, ready7_drop, sizeof(ready7),
                                               SIZE_MAX - 8, "huge_out", 0};
static const weft_future_vtable tiny_vt = {ready7_poll, NULL, 4, 0, "tiny", 0};

/* ================================================================ errors */

RETURNS(strerror_unknown, 0) { return weft_strerror(12345) ? 0 : 1; }
RETURNS(strerror_positive, 0) { return weft_strerror(5) ? 0 : 1; }
RETURNS(err_name_unknown, 0) { return strcmp(weft_err_name(-999), "WEFT_UNKNOWN"); }
RETURNS(translate_errno_zero, 0) { return weft_translate_errno(0); }
RETURNS(translate_errno_negative, WEFT_EIO) { return weft_translate_errno(-5); }

/* ================================================================ wakers */

RETURNS(waker_clone_null, 0) { return weft_waker_clone(NULL).vt != NULL; }
RETURNS(waker_wake_null, 0) { weft_waker_wake(NULL); return 0; }
RETURNS(waker_wake_by_ref_null, 0) { weft_waker_wake_by_ref(NULL); return 0; }
RETURNS(waker_drop_null, 0) { weft_waker_drop(NULL); return 0; }
RETURNS(waker_will_wake_null, 0) { return weft_waker_will_wake(NULL, NULL); }
ABORTS_(waker_set_null_slot, "weft_waker_set") { weft_waker w = {0}; weft_waker_set(NULL, &w); return 0; }
RETURNS(waker_set_null_waker, 0) { weft_waker s = {0}; weft_waker_set(&s, NULL); return 0; }

/* ================================================================ futures */

ABORTS_(future_init_null, "weft_future_init") {
    weft_future_init(NULL, &ready7_vtable, "x");
    return 0;
}
ABORTS_(future_init_null_vt, "weft_future_init") {
    weft_future f;
    weft_future_init(&f, NULL, "x");
    return 0;
}
ABORTS_(future_poll_null, "weft_future_poll") {
    weft_context cx = {0};
    weft_future_poll(NULL, &cx, NULL);
    return 0;
}
ABORTS_(future_poll_null_cx, "weft_future_poll") {
    ready7 r = WEFT_NEW(ready7);
    weft_future_poll(&r.base, NULL, NULL);
    return 0;
}
RETURNS(future_drop_null, 0) { weft_future_drop(NULL); return 0; }
ABORTS_(cx_waker_null, "weft_cx_waker") { return weft_cx_waker(NULL) != NULL; }
ABORTS_(yield_request_null, "weft_yield_request") { weft_yield_request(NULL); return 0; }
ABORTS_(cx_fail_null, "weft_cx_fail") { weft_cx_fail(NULL, WEFT_EFAILED); return 0; }
RETURNS(coop_proceed_null, 1) { return weft_coop_proceed(NULL); }
ABORTS_(yield_now_null, "weft_yield_now") { weft_yield_now_init(NULL, "x"); return 0; }
ABORTS_(bad_resume_null, "async function") { weft__bad_resume(NULL); return 0; }

/* ======================================================== tasks and joins */

RETURNS(spawn_outside_runtime, WEFT_ENORUNTIME) {
    ready7 r = WEFT_NEW(ready7);
    return weft_spawn(&r, NULL);
}
RETURNS(spawn_outside_runs_cleanup, 1) {
    int dropped = 0;
    ready7 r = WEFT_NEW(ready7, .dropped = &dropped);
    weft_spawn(&r, NULL);
    return dropped;
}
static int spawn_null_fut(weft_context *cx) {
    (void)cx;
    return weft_spawn_at(NULL, NULL, NULL, "x");
}
RETURNS(spawn_null_future, WEFT_EINVAL) { return in_runtime(spawn_null_fut); }
static int spawn_null_vt(weft_context *cx) {
    (void)cx;
    weft_future f = {0};
    return weft_spawn_at(NULL, &f, NULL, "x");
}
RETURNS(spawn_null_vtable, WEFT_EINVAL) { return in_runtime(spawn_null_vt); }
static int spawn_null_poll(weft_context *cx) {
    (void)cx;
    weft_future f = {&null_poll_vt, NULL, "x", 0, 0};
    return weft_spawn_at(NULL, &f, NULL, "x");
}
RETURNS(spawn_null_poll_fn, WEFT_EINVAL) { return in_runtime(spawn_null_poll); }
static int spawn_huge(weft_context *cx) {
    (void)cx;
    ready7 r = WEFT_NEW(ready7);
    r.base.vt = &huge_vt;
    return weft_spawn(&r, NULL);
}
RETURNS2(spawn_huge_state, WEFT_EINVAL, WEFT_ENOMEM) { return in_runtime(spawn_huge); }
static int spawn_huge_out(weft_context *cx) {
    (void)cx;
    ready7 r = WEFT_NEW(ready7);
    r.base.vt = &huge_out_vt;
    return weft_spawn(&r, NULL);
}
RETURNS2(spawn_huge_output, WEFT_EINVAL, WEFT_ENOMEM) { return in_runtime(spawn_huge_out); }
static int spawn_tiny(weft_context *cx) {
    (void)cx;
    ready7 r = WEFT_NEW(ready7);
    r.base.vt = &tiny_vt;
    return weft_spawn(&r, NULL);
}
RETURNS(spawn_state_smaller_than_header, WEFT_EINVAL) { return in_runtime(spawn_tiny); }
RETURNS(spawn_on_freed_clone, WEFT_ESHUTDOWN) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    weft_handle *h = weft_handle_clone(weft_runtime_handle(rt));
    weft_runtime_free(rt);
    ready7 r = WEFT_NEW(ready7);
    int rc = weft_handle_spawn(h, &r, NULL);
    weft_handle_release(h);
    return rc;
}
RETURNS(join_abort_null, 0) { weft_join_abort(NULL); return 0; }
RETURNS(join_is_finished_null, 1) { return weft_join_is_finished(NULL); }
RETURNS(join_detach_null, 0) { weft_join_detach(NULL); return 0; }
RETURNS(join_status_null, WEFT_EINVAL) { return weft_join_status(NULL); }
RETURNS(join_empty_handle_polled, WEFT_EJOINED) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    weft_join_handle jh = {0};
    jh.task = NULL;
    int rc;
    ready7 r = WEFT_NEW(ready7);
    weft_handle_spawn(weft_runtime_handle(rt), &r, &jh);
    int out;
    weft_runtime_block_on(rt, weft_join(&jh), &out);
    rc = weft_runtime_block_on(rt, weft_join(&jh), &out);
    weft_runtime_free(rt);
    return rc ? rc : weft_join_status(&jh);
}

/* =============================================================== runtime */

RETURNS(builder_init_null, 0) { weft_builder_init(NULL, WEFT_CURRENT_THREAD); return 0; }
RETURNS(runtime_new_null_out, WEFT_EINVAL) {
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD);
    return weft_runtime_new(&b, NULL);
}
static int new_with(void (*tweak)(weft_builder *b), weft_flavor fl) {
    weft_builder b;
    weft_builder_init(&b, fl);
    tweak(&b);
    weft_runtime *rt = NULL;
    int rc = weft_runtime_new(&b, &rt);
    if (!rc)
        weft_runtime_free(rt);
    return rc;
}
static void t_flavor(weft_builder *b) { b->flavor = (weft_flavor)9; }
static void t_workers(weft_builder *b) { b->worker_threads = -3; }
static void t_workers_huge(weft_builder *b) { b->worker_threads = 100000; }
static void t_stack(weft_builder *b) { b->thread_stack_size = 1; }
static void t_blocking(weft_builder *b) { b->max_blocking_threads = 0; }
static void t_keep(weft_builder *b) { b->blocking_keep_alive = -1; }
static void t_event(weft_builder *b) { b->event_interval = 0; }
static void t_gq(weft_builder *b) { b->global_queue_interval = 0; }
static void t_alloc(weft_builder *b) { b->allocator.alloc = NULL; }
static void t_paused_no_time(weft_builder *b) { b->enable_time = false; b->start_paused = true; }
static void t_strategy(weft_builder *b) { b->sim_strategy = 7; }
static void t_depth(weft_builder *b) { b->sim_pct_depth = 17; b->sim_strategy = WEFT_SIM_PCT; }
static void t_max_time(weft_builder *b) { b->sim_max_time = -1; }
RETURNS(runtime_new_bad_flavor, WEFT_EINVAL) { return new_with(t_flavor, WEFT_CURRENT_THREAD); }
RETURNS(runtime_new_negative_workers, WEFT_EINVAL) { return new_with(t_workers, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_too_many_workers, WEFT_EINVAL) { return new_with(t_workers_huge, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_stack_size_1, WEFT_EINVAL) { return new_with(t_stack, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_no_blocking_threads, WEFT_EINVAL) { return new_with(t_blocking, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_negative_keep_alive, WEFT_EINVAL) { return new_with(t_keep, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_event_interval_0, WEFT_EINVAL) { return new_with(t_event, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_gq_interval_0, WEFT_EINVAL) { return new_with(t_gq, WEFT_MULTI_THREAD); }
RETURNS(runtime_new_null_alloc, WEFT_EINVAL) { return new_with(t_alloc, WEFT_CURRENT_THREAD); }
RETURNS(runtime_new_paused_without_time, WEFT_EINVAL) { return new_with(t_paused_no_time, WEFT_CURRENT_THREAD); }
RETURNS(runtime_new_sim_bad_strategy, WEFT_EINVAL) { return new_with(t_strategy, WEFT_SIM); }
RETURNS(runtime_new_sim_pct_depth_17, WEFT_EINVAL) { return new_with(t_depth, WEFT_SIM); }
RETURNS(runtime_new_sim_negative_max_time, WEFT_EINVAL) { return new_with(t_max_time, WEFT_SIM); }
RETURNS(runtime_block_on_null_rt, WEFT_EINVAL) {
    ready7 r = WEFT_NEW(ready7);
    int rc = weft_runtime_block_on(NULL, &r.base, NULL);
    r.base.flags |= WEFT__F_NOREPORT;
    weft_future_drop(&r.base);
    return rc;
}
RETURNS(runtime_block_on_null_future, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    int rc = weft_runtime_block_on(rt, NULL, NULL);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(runtime_block_on_null_vt, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    weft_future f = {0};
    int rc = weft_runtime_block_on(rt, &f, NULL);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(runtime_handle_null, 0) { return weft_runtime_handle(NULL) != NULL; }
RETURNS(runtime_free_null, 0) { weft_runtime_free(NULL); return 0; }
RETURNS(runtime_shutdown_timeout_null, WEFT_EINVAL) { return weft_runtime_shutdown_timeout(NULL, 0); }
static int free_inside(weft_context *cx) {
    (void)cx;
    weft_runtime_free((weft_runtime *)weft_handle_current());
    return 0;
}
ABORTS_(runtime_free_inside_current_thread, "from inside the runtime") { return in_runtime(free_inside); }
static weft_runtime *mt_rt;
static int free_inside_mt(weft_context *cx) {
    (void)cx;
    weft_runtime_free(mt_rt);
    return 0;
}
ABORTS_(runtime_free_inside_multi_thread, "from inside the runtime") {
    mt_rt = rt_of(WEFT_MULTI_THREAD, false);
    body b = WEFT_NEW(body, .fn = free_inside_mt);
    return weft_runtime_block_on(mt_rt, &b.base, NULL);
}
RETURNS(handle_current_outside, 0) { return weft_handle_current() != NULL; }
RETURNS(handle_clone_null, 0) { return weft_handle_clone(NULL) != NULL; }
RETURNS(handle_release_null, 0) { weft_handle_release(NULL); return 0; }
RETURNS(handle_block_on_null, WEFT_EINVAL) {
    napper n = WEFT_NEW(napper, .ms = 1);
    int rc = weft_handle_block_on(NULL, &n.base, NULL);
    n.base.flags |= WEFT__F_NOREPORT;
    weft_future_drop(&n.base);
    return rc;
}
RETURNS(handle_block_on_null_future, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_MULTI_THREAD, false);
    int rc = weft_handle_block_on(weft_runtime_handle(rt), NULL, NULL);
    weft_runtime_free(rt);
    return rc;
}
static int hbo_freed(weft_flavor fl) {
    weft_runtime *rt = rt_of(fl, false);
    weft_handle *h = weft_handle_clone(weft_runtime_handle(rt));
    weft_runtime_free(rt);
    napper n = WEFT_NEW(napper, .ms = 5);
    int rc = weft_handle_block_on(h, &n.base, NULL);
    weft_handle_release(h);
    return rc;
}
RETURNS(handle_block_on_freed_multi_thread, WEFT_ESHUTDOWN) { return hbo_freed(WEFT_MULTI_THREAD); }
RETURNS(handle_block_on_freed_current_thread, WEFT_ESHUTDOWN) { return hbo_freed(WEFT_CURRENT_THREAD); }
RETURNS(runtime_block_on_freed_clone_ok, WEFT_ESHUTDOWN) {
    /* weft_runtime_block_on itself needs the runtime; spawn through the
     * freed clone is the reference behaviour */
    weft_runtime *rt = rt_of(WEFT_MULTI_THREAD, false);
    weft_handle *h = weft_handle_clone(weft_runtime_handle(rt));
    weft_runtime_free(rt);
    ready7 r = WEFT_NEW(ready7);
    int rc = weft_handle_spawn(h, &r, NULL);
    weft_handle_release(h);
    return rc;
}
/* A thread inside weft_handle_block_on while the runtime is freed. */
typedef struct hbo_arg {
    weft_handle *h;
    int rc;
} hbo_arg;
static void *hbo_thread(void *p) {
    hbo_arg *a = p;
    napper n = WEFT_NEW(napper, .ms = 1000000); /* sleeps for good */
    a->rc = weft_handle_block_on(a->h, &n.base, NULL);
    return NULL;
}
static int hbo_freed_while_inside(weft_flavor fl) {
    weft_runtime *rt = rt_of(fl, false);
    hbo_arg a = {weft_handle_clone(weft_runtime_handle(rt)), 1};
    pthread_t th;
    pthread_create(&th, NULL, hbo_thread, &a);
    usleep(20000); /* let it park; if it has not yet, it sees the flag at entry */
    weft_runtime_free(rt);
    pthread_join(th, NULL);
    weft_handle_release(a.h);
    return a.rc;
}
RETURNS(handle_block_on_freed_while_inside_multi_thread, WEFT_ESHUTDOWN) {
    return hbo_freed_while_inside(WEFT_MULTI_THREAD);
}
RETURNS(handle_block_on_freed_while_inside_current_thread, WEFT_ESHUTDOWN) {
    return hbo_freed_while_inside(WEFT_CURRENT_THREAD);
}
/* A draw from the sim's stream on a thread the sim does not drive. */
typedef struct drawer {
    weft_future base;
} drawer;
static weft_poll drawer_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx, (void)out;
    (void)weft_random_u64();
    f->resume = WEFT__DONE;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE_VOID(drawer, drawer_poll, NULL);
static void *draw_thread(void *p) {
    drawer d = WEFT_NEW(drawer);
    weft_handle_block_on(p, &d.base, NULL);
    return NULL;
}
ABORTS_(sim_random_from_foreign_thread, "weft_random_u64: called on a thread the simulator does not drive") {
    weft_runtime *rt = rt_of(WEFT_SIM, true);
    pthread_t th;
    pthread_create(&th, NULL, draw_thread, weft_runtime_handle(rt));
    pthread_join(th, NULL);
    return 0;
}
RETURNS(local_set_new_on_sim, WEFT_ENOTSUP) {
    weft_runtime *rt = rt_of(WEFT_SIM, true);
    weft_local_set *ls;
    return weft_local_set_new(weft_runtime_handle(rt), &ls);
}
static int workers_env(const char *v) {
    setenv("WEFT_WORKER_THREADS", v, 1);
    weft_builder b;
    weft_builder_init(&b, WEFT_MULTI_THREAD);
    weft_runtime *rt = NULL;
    int rc = weft_runtime_new(&b, &rt);
    if (!rc)
        weft_runtime_free(rt);
    return rc;
}
RETURNS(worker_threads_env_0, WEFT_EINVAL) { return workers_env("0"); }
RETURNS(worker_threads_env_abc, WEFT_EINVAL) { return workers_env("abc"); }
RETURNS(worker_threads_env_100000, WEFT_EINVAL) { return workers_env("100000"); }
RETURNS(worker_threads_env_negative, WEFT_EINVAL) { return workers_env("-3"); }
RETURNS(worker_threads_env_2, 0) { return workers_env("2"); }
/* The handle block_on's parker comes from the builder's allocator: the
 * allocation it makes fails, and the call says so. */
static long hbo_allocs, hbo_fail_at;
static void *hbo_alloc(void *ctx, size_t n) {
    (void)ctx;
    return ++hbo_allocs == hbo_fail_at ? NULL : malloc(n);
}
static void hbo_free(void *ctx, void *p, size_t n) {
    (void)ctx, (void)n;
    free(p);
}
RETURNS(handle_block_on_parker_out_of_memory, WEFT_ENOMEM) {
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD); /* no thread allocates meanwhile */
    b.allocator = (weft_allocator){hbo_alloc, hbo_free, NULL};
    weft_runtime *rt;
    if (weft_runtime_new(&b, &rt))
        return 1;
    hbo_fail_at = hbo_allocs + 1;
    ready7 r = WEFT_NEW(ready7);
    int rc = weft_handle_block_on(weft_runtime_handle(rt), &r.base, NULL);
    r.base.flags |= WEFT__F_NOREPORT;
    weft_future_drop(&r.base);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(handle_flavor_null, WEFT_CURRENT_THREAD) { return (int)weft_handle_flavor(NULL); }
RETURNS(handle_stats_null, 0) {
    weft_runtime_stats s;
    memset(&s, 0xff, sizeof s);
    weft_handle_stats(NULL, &s);
    weft_handle_stats(NULL, NULL);
    return s.alive_tasks != 0;
}
RETURNS(handle_metrics_null, 0) {
    weft_runtime_metrics m;
    memset(&m, 0xff, sizeof m);
    weft_handle_metrics(NULL, &m);
    weft_handle_metrics(NULL, NULL);
    return m.workers != 0;
}
RETURNS(worker_metrics_null, WEFT_EINVAL) {
    weft_worker_metrics m;
    return weft_handle_worker_metrics(NULL, 0, &m);
}
RETURNS(worker_metrics_null_out, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_MULTI_THREAD, false);
    int rc = weft_handle_worker_metrics(weft_runtime_handle(rt), 0, NULL);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(worker_metrics_out_of_range, WEFT_ERANGE) {
    weft_runtime *rt = rt_of(WEFT_MULTI_THREAD, false);
    weft_worker_metrics m;
    int rc = weft_handle_worker_metrics(weft_runtime_handle(rt), 1000, &m);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(main_run_null, 1) { return weft_main_run(NULL); }

/* ============================================================== blocking */

static void *noop_fn(void *a) { return a; }
RETURNS(spawn_blocking_null_fn, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_MULTI_THREAD, false);
    int rc = weft_spawn_blocking_at(weft_runtime_handle(rt), NULL, NULL, NULL, "x");
    weft_runtime_free(rt);
    return rc;
}
RETURNS(spawn_blocking_outside, WEFT_ENORUNTIME) {
    return weft_spawn_blocking(noop_fn, NULL, NULL);
}

/* ============================================================ local sets */

RETURNS(local_set_new_null_out, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    int rc = weft_local_set_new(weft_runtime_handle(rt), NULL);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(local_set_new_outside, WEFT_ENORUNTIME) {
    weft_local_set *ls;
    return weft_local_set_new(NULL, &ls);
}
RETURNS(local_set_free_null, 0) { weft_local_set_free(NULL); return 0; }
RETURNS(spawn_local_null_set, WEFT_EINVAL) {
    ready7 r = WEFT_NEW(ready7);
    return weft_spawn_local(NULL, &r, NULL);
}
RETURNS(spawn_local_null_set_runs_cleanup, 1) {
    int dropped = 0;
    ready7 r = WEFT_NEW(ready7, .dropped = &dropped);
    weft_spawn_local(NULL, &r, NULL);
    return dropped;
}
ABORTS_(local_run_until_null, "weft_local_run_until") {
    ready7 r = WEFT_NEW(ready7);
    weft_local_run_until(NULL, NULL, &r);
    return 0;
}
ABORTS_(local_run_until_null_set, "weft_local_run_until") {
    ready7 r = WEFT_NEW(ready7);
    weft_local_run run;
    weft_local_run_until(&run, NULL, &r);
    return 0;
}

/* =============================================================== entropy */

RETURNS(random_below_zero, 0) { return (int)weft_random_below(0); }
RETURNS(random_below_one, 0) { return (int)weft_random_below(1); }
RETURNS(random_u64_outside, 0) { (void)weft_random_u64(); return 0; }

/* ================================================================== time */

RETURNS(now_outside, 0) { return weft_now() == 0; }
ABORTS_(sleep_init_null, "weft_sleep") { weft_sleep_init(NULL, 1, "x"); return 0; }
ABORTS_(sleep_until_init_null, "weft_sleep_until") { weft_sleep_until_init(NULL, 1, "x"); return 0; }
ABORTS_(sleep_reset_null, "weft_sleep_reset") { weft_sleep_reset(NULL, 1); return 0; }
RETURNS(sleep_is_elapsed_null, 0) { return weft_sleep_is_elapsed(NULL); }
ABORTS_(timeout_init_null, "weft_timeout") {
    ready7 r = WEFT_NEW(ready7);
    weft_timeout_init(NULL, 1, &r.base, "x");
    return 0;
}
ABORTS_(timeout_init_null_inner, "weft_timeout") {
    weft_timeout t;
    weft_timeout_init(&t, 1, NULL, "x");
    return 0;
}
RETURNS(interval_init_null, WEFT_EINVAL) { return weft_interval_init(NULL, 1); }
RETURNS(interval_init_zero, WEFT_EINVAL) { weft_interval iv; return weft_interval_init(&iv, 0); }
RETURNS(interval_init_negative, WEFT_EINVAL) { weft_interval iv; return weft_interval_init(&iv, -1); }
RETURNS(interval_init_at_null, WEFT_EINVAL) { return weft_interval_init_at(NULL, 0, 1); }
RETURNS(interval_init_at_zero, WEFT_EINVAL) { weft_interval iv; return weft_interval_init_at(&iv, 0, 0); }
ABORTS_(interval_set_missed_null, "weft_interval_set_missed_tick") {
    weft_interval_set_missed_tick(NULL, WEFT_MISSED_SKIP);
    return 0;
}
ABORTS_(interval_set_missed_bad, "weft_interval_set_missed_tick") {
    weft_interval iv;
    weft_interval_init(&iv, 1);
    weft_interval_set_missed_tick(&iv, (weft_missed_tick)9);
    return 0;
}
ABORTS_(interval_tick_null, "weft_interval_tick") { weft_interval_tick(NULL); return 0; }
ABORTS_(interval_reset_null, "weft_interval_reset") { weft_interval_reset(NULL); return 0; }
RETURNS(interval_drop_null, 0) { weft_interval_drop(NULL); return 0; }
RETURNS(time_pause_outside, WEFT_ENORUNTIME) { return weft_time_pause(); }
RETURNS(time_resume_outside, WEFT_ENORUNTIME) { return weft_time_resume(); }
RETURNS(time_advance_outside, WEFT_ENORUNTIME) { return weft_time_advance(1); }
RETURNS(time_is_paused_outside, 0) { return weft_time_is_paused(); }
static int adv_neg(weft_context *cx) {
    (void)cx;
    return weft_time_advance(-1);
}
RETURNS(time_advance_negative, WEFT_EINVAL) { return in_runtime(adv_neg); }
static int adv_max(weft_context *cx) {
    (void)cx;
    weft_instant prev = weft_now();
    for (int i = 0; i < 3; i++) {
        int rc = weft_time_advance(INT64_MAX);
        weft_instant now = weft_now();
        if (now < prev)
            return 99; /* the clock went backwards */
        prev = now;
        if (rc && rc != WEFT_ERANGE)
            return rc;
    }
    return 0;
}
RETURNS(time_advance_int64_max_thrice, 0) { return in_runtime(adv_max); }

/* A sleep until `deadline`: checks it completes no earlier. */
typedef struct until_check {
    weft_future base;
    weft_instant deadline;
    weft_sleep s;
    weft_sleep other;
} until_check;
static weft_poll until_poll(weft_future *f, weft_context *cx, void *out) {
    until_check *u = (until_check *)f;
    WEFT_BEGIN(f);
    WEFT_AWAIT(f, cx, weft_sleep_until(&u->s, u->deadline), NULL);
    WEFT_RETURN(f, out, int, weft_now() >= u->deadline ? 0 : 98);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(until_check, until_poll, NULL, int);
static int sleep_until_max_on(weft_flavor fl) {
    weft_runtime *rt = rt_of(fl, true);
    /* nothing else to do: the paused clock jumps to the timer, which must
     * not complete before its instant */
    until_check u = WEFT_NEW(until_check, .deadline = UINT64_MAX);
    int out = -1;
    int rc = weft_runtime_block_on(rt, &u.base, &out);
    weft_runtime_free(rt);
    return rc ? rc : out;
}
RETURNS(sleep_until_uint64_max_paused, 0) { return sleep_until_max_on(WEFT_CURRENT_THREAD); }
RETURNS(sleep_until_uint64_max_sim, 0) { return sleep_until_max_on(WEFT_SIM); }

/* An interval of period INT64_MAX: each tick no earlier than the last. */
typedef struct iv_check {
    weft_future base;
    weft_interval iv;
    int i;
    weft_instant last, t;
} iv_check;
static weft_poll ivc_poll(weft_future *f, weft_context *cx, void *out) {
    iv_check *c = (iv_check *)f;
    WEFT_BEGIN(f);
    weft_interval_init(&c->iv, INT64_MAX);
    for (c->i = 0; c->i < 4; c->i++) { /* the fourth is past 2^64-1 ns */
        WEFT_AWAIT(f, cx, weft_interval_tick(&c->iv), &c->t);
        if (c->i && c->t <= c->last) {
            weft_interval_drop(&c->iv);
            WEFT_RETURN(f, out, int, 97);
        }
        c->last = c->t;
    }
    weft_interval_drop(&c->iv);
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(iv_check, ivc_poll, NULL, int);
static int interval_max_on(weft_flavor fl) {
    weft_runtime *rt = rt_of(fl, true);
    iv_check c = WEFT_NEW(iv_check);
    int out = -1;
    int rc = weft_runtime_block_on(rt, &c.base, &out);
    weft_runtime_free(rt);
    return rc ? rc : out;
}
RETURNS(interval_period_int64_max_sim, 0) { return interval_max_on(WEFT_SIM); }
RETURNS(interval_period_int64_max_paused, 0) { return interval_max_on(WEFT_CURRENT_THREAD); }

/* ============================================================= semaphore */

RETURNS(semaphore_init_null, WEFT_EINVAL) { return weft_semaphore_init(NULL, 1); }
RETURNS(semaphore_init_too_many, WEFT_EINVAL) {
    weft_semaphore s;
    return weft_semaphore_init(&s, WEFT_SEMAPHORE_MAX_PERMITS + 1);
}
RETURNS(semaphore_destroy_null, 0) { weft_semaphore_destroy(NULL); return 0; }
RETURNS(semaphore_close_null, 0) { weft_semaphore_close(NULL); return 0; }
RETURNS(semaphore_is_closed_null, 1) { return weft_semaphore_is_closed(NULL); }
RETURNS(semaphore_available_null, 0) { return (int)weft_semaphore_available(NULL); }
ABORTS_(semaphore_release_null, "weft_semaphore_release") { weft_semaphore_release(NULL, 1); return 0; }
RETURNS(semaphore_try_acquire_null, WEFT_EINVAL) { return weft_semaphore_try_acquire(NULL, 1); }
RETURNS(semaphore_try_acquire_too_many, WEFT_EINVAL) {
    weft_semaphore s;
    weft_semaphore_init(&s, 1);
    return weft_semaphore_try_acquire(&s, WEFT_SEMAPHORE_MAX_PERMITS + 1);
}
ABORTS_(semaphore_release_size_max, "overflow") {
    weft_semaphore s;
    weft_semaphore_init(&s, 1);
    weft_semaphore_release(&s, SIZE_MAX);
    return (int)weft_semaphore_available(&s);
}
ABORTS_(semaphore_release_past_max, "overflow") {
    weft_semaphore s;
    weft_semaphore_init(&s, WEFT_SEMAPHORE_MAX_PERMITS);
    weft_semaphore_release(&s, 1);
    return 0;
}
RETURNS(semaphore_release_zero, 1) {
    weft_semaphore s;
    weft_semaphore_init(&s, 1);
    weft_semaphore_release(&s, 0);
    return (int)weft_semaphore_available(&s);
}
ABORTS_(semaphore_acquire_init_null_op, "weft_semaphore_acquire") {
    weft_semaphore s;
    weft_semaphore_init(&s, 1);
    weft_semaphore_acquire_init(NULL, &s, 1, "x");
    return 0;
}
ABORTS_(semaphore_acquire_init_null_sem, "weft_semaphore_acquire") {
    weft_acquire_op op;
    weft_semaphore_acquire_init(&op, NULL, 1, "x");
    return 0;
}
RETURNS(semaphore_acquire_too_many, WEFT_EINVAL) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    weft_semaphore s;
    weft_semaphore_init(&s, 1);
    weft_acquire_op op;
    int out = 0;
    int rc = weft_runtime_block_on(rt, weft_semaphore_acquire(&op, &s, WEFT_SEMAPHORE_MAX_PERMITS + 1), &out);
    weft_runtime_free(rt);
    return rc ? rc : out;
}

/* ================================================================= mutex */

ABORTS_(mutex_init_null, "weft_mutex_init") { weft_mutex_init(NULL); return 0; }
RETURNS(mutex_destroy_null, 0) { weft_mutex_destroy(NULL); return 0; }
RETURNS(mutex_try_lock_null, WEFT_EINVAL) { return weft_mutex_try_lock(NULL); }
ABORTS_(mutex_unlock_null, "weft_mutex_unlock") { weft_mutex_unlock(NULL); return 0; }
ABORTS_(mutex_unlock_not_held, "not locked") {
    weft_mutex m;
    weft_mutex_init(&m);
    weft_mutex_unlock(&m);
    return 0;
}
ABORTS_(mutex_unlock_twice, "not locked") {
    weft_mutex m;
    weft_mutex_init(&m);
    weft_mutex_try_lock(&m);
    weft_mutex_unlock(&m);
    weft_mutex_unlock(&m);
    return 0;
}
ABORTS_(mutex_lock_null_op, "weft_mutex_lock") {
    weft_mutex m;
    weft_mutex_init(&m);
    weft_mutex_lock(NULL, &m);
    return 0;
}

/* ================================================================ rwlock */

ABORTS_(rwlock_init_null, "weft_rwlock_init") { weft_rwlock_init(NULL); return 0; }
RETURNS(rwlock_destroy_null, 0) { weft_rwlock_destroy(NULL); return 0; }
RETURNS(rwlock_try_read_null, WEFT_EINVAL) { return weft_rwlock_try_read(NULL); }
RETURNS(rwlock_try_write_null, WEFT_EINVAL) { return weft_rwlock_try_write(NULL); }
ABORTS_(mutex_lock_null_mutex, "weft_mutex_lock") {
    weft_lock_op op;
    weft_mutex_lock_init(&op, NULL, "t.c:1");
    return 0;
}
ABORTS_(rwlock_read_null_op, "weft_rwlock_read") {
    weft_rwlock l;
    weft_rwlock_init(&l);
    weft_rwlock_read(NULL, &l);
    return 0;
}
ABORTS_(rwlock_write_null_lock, "weft_rwlock_write") {
    weft_acquire_op op;
    weft_rwlock_write_init(&op, NULL, "t.c:1");
    return 0;
}
ABORTS_(notified_enable_null, "weft_notified_enable") {
    weft_notified_enable(NULL);
    return 0;
}
RETURNS(sim_escape_outside_a_run, 0) { return weft_sim_escape("clock_gettime", "x") ? 1 : 0; }
ABORTS_(rwlock_read_unlock_null, "weft_rwlock_read_unlock") { weft_rwlock_read_unlock(NULL); return 0; }
ABORTS_(rwlock_write_unlock_null, "weft_rwlock_write_unlock") { weft_rwlock_write_unlock(NULL); return 0; }
ABORTS_(rwlock_read_unlock_not_held, "not locked") {
    weft_rwlock l;
    weft_rwlock_init(&l);
    weft_rwlock_read_unlock(&l);
    return 0;
}
ABORTS_(rwlock_write_unlock_not_held, "not locked") {
    weft_rwlock l;
    weft_rwlock_init(&l);
    weft_rwlock_write_unlock(&l);
    return 0;
}
ABORTS_(rwlock_write_unlock_while_read, "not locked") {
    weft_rwlock l;
    weft_rwlock_init(&l);
    weft_rwlock_try_read(&l);
    weft_rwlock_write_unlock(&l);
    return 0;
}

/* ================================================================ notify */

ABORTS_(notify_init_null, "weft_notify_init") { weft_notify_init(NULL); return 0; }
RETURNS(notify_destroy_null, 0) { weft_notify_destroy(NULL); return 0; }
ABORTS_(notify_one_null, "weft_notify_one") { weft_notify_one(NULL); return 0; }
ABORTS_(notify_waiters_null, "weft_notify_waiters") { weft_notify_waiters(NULL); return 0; }
ABORTS_(notified_init_null_op, "weft_notified") {
    weft_notify n;
    weft_notify_init(&n);
    weft_notified_init(NULL, &n, "x");
    return 0;
}
ABORTS_(notified_init_null_notify, "weft_notified") {
    weft_notified_op op;
    weft_notified_init(&op, NULL, "x");
    return 0;
}

/* =============================================================== barrier */

RETURNS(barrier_init_null, WEFT_EINVAL) { return weft_barrier_init(NULL, 2); }
RETURNS(barrier_destroy_null, 0) { weft_barrier_destroy(NULL); return 0; }
ABORTS_(barrier_wait_init_null_op, "weft_barrier_wait") {
    weft_barrier b;
    weft_barrier_init(&b, 2);
    weft_barrier_wait_init(NULL, &b, "x");
    return 0;
}
ABORTS_(barrier_wait_init_null_barrier, "weft_barrier_wait") {
    weft_barrier_op op;
    weft_barrier_wait_init(&op, NULL, "x");
    return 0;
}

/* =============================================================== oneshot */

RETURNS(oneshot_new_null_tx, WEFT_EINVAL) {
    weft_oneshot_rx *rx;
    return weft_oneshot_new(8, NULL, NULL, &rx);
}
RETURNS(oneshot_new_null_rx, WEFT_EINVAL) {
    weft_oneshot_tx *tx;
    return weft_oneshot_new(8, NULL, &tx, NULL);
}
RETURNS2(oneshot_new_size_max, WEFT_EINVAL, WEFT_ENOMEM) {
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    return weft_oneshot_new(SIZE_MAX - 15, NULL, &tx, &rx);
}
RETURNS2(oneshot_new_huge, WEFT_EINVAL, WEFT_ENOMEM) {
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    return weft_oneshot_new((size_t)1 << 62, NULL, &tx, &rx);
}
RETURNS(oneshot_send_null_tx, WEFT_EINVAL) {
    uint64_t v = 1;
    return weft_oneshot_send(NULL, &v);
}
RETURNS(oneshot_send_null_value, WEFT_EINVAL) {
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    weft_oneshot_new(8, NULL, &tx, &rx);
    int rc = weft_oneshot_send(tx, NULL);
    weft_oneshot_tx_drop(tx); /* still the caller's after EINVAL */
    weft_oneshot_rx_drop(rx);
    return rc;
}
RETURNS(oneshot_send_null_value_size_0, 0) {
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    weft_oneshot_new(0, NULL, &tx, &rx);
    int rc = weft_oneshot_send(tx, NULL);
    rc = rc ? rc : weft_oneshot_try_recv(rx, NULL);
    weft_oneshot_rx_drop(rx);
    return rc;
}
RETURNS(oneshot_tx_drop_null, 0) { weft_oneshot_tx_drop(NULL); return 0; }
RETURNS(oneshot_tx_is_closed_null, 1) { return weft_oneshot_tx_is_closed(NULL); }
RETURNS(oneshot_try_recv_null, WEFT_EINVAL) {
    uint64_t v;
    return weft_oneshot_try_recv(NULL, &v);
}
RETURNS(oneshot_rx_drop_null, 0) { weft_oneshot_rx_drop(NULL); return 0; }
ABORTS_(oneshot_send_after_send, "oneshot sender used after send") {
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    uint64_t v = 1;
    weft_oneshot_new(8, NULL, &tx, &rx);
    weft_oneshot_send(tx, &v);
    weft_oneshot_send(tx, &v);
    return 0;
}
ABORTS_(oneshot_recv_init_null_op, "weft_oneshot_recv") {
    weft_oneshot_tx *tx;
    weft_oneshot_rx *rx;
    weft_oneshot_new(8, NULL, &tx, &rx);
    weft_oneshot_recv_init(NULL, rx, NULL, "x");
    return 0;
}
ABORTS_(oneshot_recv_init_null_rx, "weft_oneshot_recv") {
    weft_oneshot_recv_op op;
    weft_oneshot_recv_init(&op, NULL, NULL, "x");
    return 0;
}

/* ================================================================== mpsc */

static weft_mpsc_tx *mtx;
static weft_mpsc_rx *mrx;
static void mpsc8(void) {
    if (weft_mpsc_bounded(8, 4, NULL, &mtx, &mrx))
        abort();
}
RETURNS(mpsc_bounded_null_tx, WEFT_EINVAL) { return weft_mpsc_bounded(8, 4, NULL, NULL, &mrx); }
RETURNS(mpsc_bounded_null_rx, WEFT_EINVAL) { return weft_mpsc_bounded(8, 4, NULL, &mtx, NULL); }
RETURNS(mpsc_bounded_cap_0, WEFT_EINVAL) { return weft_mpsc_bounded(8, 0, NULL, &mtx, &mrx); }
RETURNS(mpsc_bounded_cap_huge, WEFT_EINVAL) { return weft_mpsc_bounded(8, SIZE_MAX, NULL, &mtx, &mrx); }
RETURNS2(mpsc_bounded_elem_huge, WEFT_EINVAL, WEFT_ENOMEM) {
    return weft_mpsc_bounded((size_t)1 << 61, 8, NULL, &mtx, &mrx);
}
RETURNS2(mpsc_bounded_elem_size_max, WEFT_EINVAL, WEFT_ENOMEM) {
    return weft_mpsc_bounded(SIZE_MAX, 1, NULL, &mtx, &mrx);
}
RETURNS(mpsc_unbounded_null_tx, WEFT_EINVAL) { return weft_mpsc_unbounded(8, NULL, NULL, &mrx); }
RETURNS(mpsc_unbounded_null_rx, WEFT_EINVAL) { return weft_mpsc_unbounded(8, NULL, &mtx, NULL); }
RETURNS2(mpsc_unbounded_elem_huge, WEFT_EINVAL, WEFT_ENOMEM) {
    int rc = weft_mpsc_unbounded((size_t)1 << 56, NULL, &mtx, &mrx);
    if (rc)
        return rc;
    static char v[1]; /* never read: the send must fail first */
    return weft_mpsc_try_send(mtx, v);
}
RETURNS(mpsc_tx_clone_null, 0) { return weft_mpsc_tx_clone(NULL) != NULL; }
RETURNS(mpsc_tx_drop_null, 0) { weft_mpsc_tx_drop(NULL); return 0; }
RETURNS(mpsc_try_send_null_tx, WEFT_EINVAL) {
    uint64_t v = 1;
    return weft_mpsc_try_send(NULL, &v);
}
RETURNS(mpsc_try_send_null_value, WEFT_EINVAL) {
    mpsc8();
    return weft_mpsc_try_send(mtx, NULL);
}
RETURNS(mpsc_is_closed_null, 1) { return weft_mpsc_is_closed(NULL); }
RETURNS(mpsc_rx_close_null, 0) { weft_mpsc_rx_close(NULL); return 0; }
RETURNS(mpsc_rx_drop_null, 0) { weft_mpsc_rx_drop(NULL); return 0; }
RETURNS(mpsc_try_recv_null, WEFT_EINVAL) {
    uint64_t v;
    return weft_mpsc_try_recv(NULL, &v);
}
RETURNS(mpsc_len_null, 0) { return (int)weft_mpsc_len(NULL); }
ABORTS_(mpsc_tx_drop_twice, "dropped twice") {
    mpsc8();
    weft_mpsc_tx_drop(mtx);
    weft_mpsc_tx_drop(mtx);
    return 0;
}
ABORTS_(mpsc_send_init_null_op, "weft_mpsc_send") {
    mpsc8();
    uint64_t v = 1;
    weft_mpsc_send_init(NULL, mtx, &v, "x");
    return 0;
}
ABORTS_(mpsc_send_init_null_tx, "weft_mpsc_send") {
    weft_mpsc_send_op op;
    uint64_t v = 1;
    weft_mpsc_send_init(&op, NULL, &v, "x");
    return 0;
}
ABORTS_(mpsc_send_init_null_value, "weft_mpsc_send") {
    mpsc8();
    weft_mpsc_send_op op;
    weft_mpsc_send_init(&op, mtx, NULL, "x");
    return 0;
}
ABORTS_(mpsc_recv_init_null_op, "weft_mpsc_recv") {
    mpsc8();
    weft_mpsc_recv_init(NULL, mrx, NULL, "x");
    return 0;
}
ABORTS_(mpsc_recv_init_null_rx, "weft_mpsc_recv") {
    weft_mpsc_recv_op op;
    weft_mpsc_recv_init(&op, NULL, NULL, "x");
    return 0;
}

/* ================================================================= watch */

static weft_watch *wtx;
static void watch8(void) {
    uint64_t v = 0;
    if (weft_watch_new(8, &v, NULL, &wtx))
        abort();
}
RETURNS(watch_new_null_tx, WEFT_EINVAL) {
    uint64_t v = 0;
    return weft_watch_new(8, &v, NULL, NULL);
}
RETURNS(watch_new_null_initial, WEFT_EINVAL) { return weft_watch_new(8, NULL, NULL, &wtx); }
RETURNS2(watch_new_size_max, WEFT_EINVAL, WEFT_ENOMEM) {
    static char v[1];
    return weft_watch_new(SIZE_MAX - 15, v, NULL, &wtx);
}
RETURNS(watch_send_null_tx, WEFT_EINVAL) {
    uint64_t v = 0;
    return weft_watch_send(NULL, &v);
}
RETURNS(watch_send_null_value, WEFT_EINVAL) {
    watch8();
    weft_watch_rx rx;
    weft_watch_subscribe(wtx, &rx);
    return weft_watch_send(wtx, NULL);
}
RETURNS(watch_tx_drop_null, 0) { weft_watch_tx_drop(NULL); return 0; }
ABORTS_(watch_subscribe_null_tx, "weft_watch_subscribe") {
    weft_watch_rx rx;
    weft_watch_subscribe(NULL, &rx);
    return 0;
}
ABORTS_(watch_subscribe_null_rx, "weft_watch_subscribe") {
    watch8();
    weft_watch_subscribe(wtx, NULL);
    return 0;
}
ABORTS_(watch_rx_clone_null, "weft_watch_rx_clone") {
    weft_watch_rx rx;
    weft_watch_rx_clone(NULL, &rx);
    return 0;
}
ABORTS_(watch_rx_clone_null_copy, "weft_watch_rx_clone") {
    watch8();
    weft_watch_rx rx;
    weft_watch_subscribe(wtx, &rx);
    weft_watch_rx_clone(&rx, NULL);
    return 0;
}
ABORTS_(watch_rx_clone_dropped, "weft_watch_rx_clone") {
    weft_watch_rx rx = {0}, copy;
    weft_watch_rx_clone(&rx, &copy);
    return 0;
}
RETURNS(watch_rx_drop_null, 0) { weft_watch_rx_drop(NULL); return 0; }
ABORTS_(watch_borrow_null, "weft_watch_borrow") {
    uint64_t v;
    weft_watch_borrow(NULL, &v);
    return 0;
}
ABORTS_(watch_borrow_dropped, "weft_watch_borrow") {
    weft_watch_rx rx = {0};
    uint64_t v;
    weft_watch_borrow(&rx, &v);
    return 0;
}
RETURNS(watch_has_changed_null, 0) { return weft_watch_has_changed(NULL); }
RETURNS(watch_has_changed_dropped, 0) {
    weft_watch_rx rx = {0};
    return weft_watch_has_changed(&rx);
}
ABORTS_(watch_changed_init_null_op, "weft_watch_changed") {
    watch8();
    weft_watch_rx rx;
    weft_watch_subscribe(wtx, &rx);
    weft_watch_changed_init(NULL, &rx, "x");
    return 0;
}
ABORTS_(watch_changed_init_null_rx, "weft_watch_changed") {
    weft_watch_changed_op op;
    weft_watch_changed_init(&op, NULL, "x");
    return 0;
}

/* ============================================================= broadcast */

static weft_broadcast *btx;
static weft_broadcast_rx brx;
static void bcast8(void) {
    if (weft_broadcast_new(8, 4, NULL, &btx, &brx))
        abort();
}
RETURNS(broadcast_new_null_tx, WEFT_EINVAL) { return weft_broadcast_new(8, 4, NULL, NULL, &brx); }
RETURNS(broadcast_new_null_rx, WEFT_EINVAL) { return weft_broadcast_new(8, 4, NULL, &btx, NULL); }
RETURNS(broadcast_new_cap_0, WEFT_EINVAL) { return weft_broadcast_new(8, 0, NULL, &btx, &brx); }
RETURNS2(broadcast_new_huge, WEFT_EINVAL, WEFT_ENOMEM) {
    return weft_broadcast_new((size_t)1 << 62, 4, NULL, &btx, &brx);
}
RETURNS2(broadcast_new_cap_size_max, WEFT_EINVAL, WEFT_ENOMEM) {
    return weft_broadcast_new(8, SIZE_MAX, NULL, &btx, &brx);
}
RETURNS(broadcast_tx_clone_null, 0) { return weft_broadcast_tx_clone(NULL) != NULL; }
RETURNS(broadcast_tx_drop_null, 0) { weft_broadcast_tx_drop(NULL); return 0; }
ABORTS_(broadcast_tx_drop_twice, "dropped twice") {
    bcast8();
    weft_broadcast_tx_drop(btx);
    weft_broadcast_tx_drop(btx);
    return 0;
}
RETURNS(broadcast_send_null_tx, WEFT_EINVAL) {
    uint64_t v = 0;
    return weft_broadcast_send(NULL, &v);
}
RETURNS(broadcast_send_null_value, WEFT_EINVAL) {
    bcast8();
    return weft_broadcast_send(btx, NULL);
}
ABORTS_(broadcast_subscribe_null_tx, "weft_broadcast_subscribe") {
    weft_broadcast_rx rx;
    weft_broadcast_subscribe(NULL, &rx);
    return 0;
}
ABORTS_(broadcast_subscribe_null_rx, "weft_broadcast_subscribe") {
    bcast8();
    weft_broadcast_subscribe(btx, NULL);
    return 0;
}
RETURNS(broadcast_rx_drop_null, 0) { weft_broadcast_rx_drop(NULL); return 0; }
RETURNS(broadcast_try_recv_null, WEFT_EINVAL) {
    uint64_t v, m;
    return weft_broadcast_try_recv(NULL, &v, &m);
}
RETURNS(broadcast_try_recv_dropped, WEFT_EINVAL) {
    weft_broadcast_rx rx = {0};
    uint64_t v, m;
    return weft_broadcast_try_recv(&rx, &v, &m);
}
ABORTS_(broadcast_recv_init_null_op, "weft_broadcast_recv") {
    bcast8();
    weft_broadcast_recv_init(NULL, &brx, NULL, "x");
    return 0;
}
ABORTS_(broadcast_recv_init_null_rx, "weft_broadcast_recv") {
    weft_broadcast_recv_op op;
    weft_broadcast_recv_init(&op, NULL, NULL, "x");
    return 0;
}

/* ============================================================== join_set */

ABORTS_(join_set_init_null, "weft_join_set_init") { weft_join_set_init(NULL, NULL, NULL); return 0; }
RETURNS(join_set_spawn_null_set, WEFT_EINVAL) {
    ready7 r = WEFT_NEW(ready7);
    return weft_join_set_spawn(NULL, &r, NULL);
}
RETURNS(join_set_spawn_null_set_runs_cleanup, 1) {
    int dropped = 0;
    ready7 r = WEFT_NEW(ready7, .dropped = &dropped);
    weft_join_set_spawn(NULL, &r, NULL);
    return dropped;
}
RETURNS(join_set_spawn_null_future, WEFT_EINVAL) {
    weft_join_set s;
    weft_join_set_init(&s, NULL, NULL);
    return weft_join_set_spawn_at(&s, NULL, NULL, "x");
}
RETURNS(join_set_spawn_outside, WEFT_ENORUNTIME) {
    weft_join_set s;
    weft_join_set_init(&s, NULL, NULL);
    ready7 r = WEFT_NEW(ready7);
    return weft_join_set_spawn(&s, &r, NULL);
}
RETURNS(join_set_len_null, 0) { return (int)weft_join_set_len(NULL); }
RETURNS(join_set_abort_all_null, 0) { weft_join_set_abort_all(NULL); return 0; }
RETURNS(join_set_destroy_null, 0) { weft_join_set_destroy(NULL); return 0; }
ABORTS_(join_next_init_null_op, "weft_join_next") {
    weft_join_set s;
    weft_join_set_init(&s, NULL, NULL);
    weft_join_next_init(NULL, &s, NULL, "x");
    return 0;
}
ABORTS_(join_next_init_null_set, "weft_join_next") {
    weft_join_next_op op;
    weft_join_next_init(&op, NULL, NULL, "x");
    return 0;
}

/* =========================================================== combinators */

ABORTS_(join_all_init_null, "weft_join_all") { weft_join_all_init(NULL, NULL, NULL, 0, "x"); return 0; }
ABORTS_(join_all_init_null_futs, "weft_join_all") {
    weft_join_all j;
    weft_join_all_init(&j, NULL, NULL, 2, "x");
    return 0;
}
RETURNS(join_all_zero_completes, 0) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    weft_join_all j;
    int rc = weft_runtime_block_on(rt, weft_join_all(&j, NULL, NULL, 0), NULL);
    weft_runtime_free(rt);
    return rc;
}
ABORTS_(select_init_null, "weft_select") { weft_select_init(NULL, NULL, NULL, 0, "x"); return 0; }
ABORTS_(select_zero_futures, "weft_select") {
    weft_select s;
    weft_future *futs[1];
    weft_select_init(&s, futs, NULL, 0, "x");
    return 0;
}
ABORTS_(select_null_futs, "weft_select") {
    weft_select s;
    weft_select_init(&s, NULL, NULL, 2, "x");
    return 0;
}

/* ============================================================= simulator */

RETURNS(buggify_at_null_site, 0) { return weft_buggify_at(NULL, 25); }
RETURNS(buggify_at_outside, 0) { return weft_buggify_at("x", 100); }
RETURNS(sim_fingerprint_null, 0) { return weft_sim_fingerprint(NULL) != 0; }
RETURNS(sim_steps_null, 0) { return weft_sim_steps(NULL) != 0; }
RETURNS(sim_events_null, 0) { return weft_sim_events(NULL) != 0; }
RETURNS(sim_failure_null, 0) { return weft_sim_failure(NULL) != NULL; }
RETURNS(sim_fingerprint_not_sim, 0) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    int rc = weft_sim_fingerprint(weft_runtime_handle(rt)) != 0;
    weft_runtime_free(rt);
    return rc;
}
RETURNS(sim_note_null, 0) { weft_sim_note(NULL); return 0; }
RETURNS(sim_fail_at_null, 0) { weft_sim_fail_at(NULL, NULL); return 0; }
/* simulated hosts */
RETURNS(sim_host_create_null, WEFT_EINVAL) { return weft_sim_host_create(NULL, NULL, NULL); }
RETURNS(sim_host_create_no_runtime, WEFT_ENORUNTIME) {
    weft_sim_host_config c = {.name = "x"};
    return weft_sim_host_create(NULL, &c, NULL);
}
RETURNS(sim_host_create_not_sim, WEFT_ENOTSUP) {
    weft_runtime *rt = rt_of(WEFT_CURRENT_THREAD, false);
    weft_sim_host_config c = {.name = "x"};
    int rc = weft_sim_host_create(weft_runtime_handle(rt), &c, NULL);
    weft_runtime_free(rt);
    return rc;
}
RETURNS(sim_host_add_null, WEFT_EINVAL) { return weft_sim_host_add(NULL, NULL, NULL, 1); }
RETURNS(sim_host_crash_null, WEFT_EINVAL) { return weft_sim_host_crash(NULL, WEFT_SIM_CRASH_RESET); }
RETURNS(sim_host_restart_null, WEFT_EINVAL) { return weft_sim_host_restart(NULL); }
RETURNS(sim_host_pause_null, WEFT_EINVAL) { return weft_sim_host_pause(NULL); }
RETURNS(sim_host_resume_null, WEFT_EINVAL) { return weft_sim_host_resume(NULL); }
RETURNS(sim_host_state_null, WEFT_EINVAL) { return weft_sim_host_state(NULL); }
RETURNS(sim_host_addr_null, WEFT_EINVAL) { return weft_sim_host_addr(NULL, 0, NULL); }
RETURNS(sim_host_queries_null, 0) {
    return weft_sim_host_find(NULL, NULL) != NULL || weft_sim_host_current() != NULL ||
           weft_sim_host_name(NULL)[0] != '\0' || weft_sim_host_restarts(NULL) != 0 ||
           weft_sim_host_now(NULL) != 0;
}
RETURNS(sim_lookup_fail_null, WEFT_EINVAL) {
    return weft_sim_lookup_fail(NULL, NULL, WEFT_ENOTFOUND, 1);
}
RETURNS(sim_lookup_fail_range, WEFT_EINVAL) {
    return weft_sim_lookup_fail(NULL, "x", WEFT_ENOTFOUND, 1000001);
}
RETURNS(sim_disk_null, WEFT_EINVAL) {
    weft_sim_disk_init(NULL);
    weft_sim_disk_free(NULL);
    if (weft_sim_disk_sync(NULL) != WEFT_EINVAL || weft_sim_disk_recover(NULL) != WEFT_EINVAL)
        return 0;
    return weft_sim_disk_write(NULL, "x", 1);
}
RETURNS(sim_run_null_test, WEFT_EINVAL) {
    weft_sim_result r;
    return weft_sim_run(NULL, NULL, &r);
}
static void mk_ready7(weft_future *slot) { *(ready7 *)slot = WEFT_NEW(ready7); }
static const weft_sim_test t_ready7 = {"ready7", mk_ready7, sizeof(ready7), NULL, NULL, false};
static const weft_sim_test t_nomake = {"nomake", NULL, sizeof(ready7), NULL, NULL, false};
static const weft_sim_test t_small = {"small", mk_ready7, 4, NULL, NULL, false};
static const weft_sim_test t_huge = {"huge", mk_ready7, SIZE_MAX, NULL, NULL, false};
RETURNS(sim_run_null_result, WEFT_EINVAL) { return weft_sim_run(&t_ready7, NULL, NULL); }
RETURNS(sim_run_null_make, WEFT_EINVAL) {
    weft_sim_result r;
    return weft_sim_run(&t_nomake, NULL, &r);
}
RETURNS(sim_run_size_too_small, WEFT_EINVAL) {
    weft_sim_result r;
    return weft_sim_run(&t_small, NULL, &r);
}
RETURNS2(sim_run_size_huge, WEFT_EINVAL, WEFT_ENOMEM) {
    weft_sim_result r;
    return weft_sim_run(&t_huge, NULL, &r);
}
RETURNS(sim_run_not_sim_builder, WEFT_EINVAL) {
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD);
    weft_sim_result r;
    return weft_sim_run(&t_ready7, &b, &r);
}
RETURNS(sim_run_ok, 0) {
    weft_sim_result r;
    return weft_sim_run(&t_ready7, NULL, &r);
}
RETURNS(sim_sweep_null, 1) { return weft_sim_sweep(NULL); }
RETURNS(sim_sweep_null_make, 1) { return weft_sim_sweep(&t_nomake); }
RETURNS(sim_replay_null_test, WEFT_EINVAL) {
    weft_sim_result r;
    return weft_sim_replay(NULL, "x.sched", NULL, &r);
}
RETURNS(sim_replay_null_path, WEFT_EINVAL) {
    weft_sim_result r;
    return weft_sim_replay(&t_ready7, NULL, NULL, &r);
}
RETURNS(sim_replay_null_result, WEFT_EINVAL) {
    return weft_sim_replay(&t_ready7, "x.sched", NULL, NULL);
}
RETURNS(sim_replay_null_make, WEFT_EINVAL) {
    weft_sim_result r;
    return weft_sim_replay(&t_nomake, "x.sched", NULL, &r);
}
RETURNS(sim_replay_not_sim_builder, WEFT_EINVAL) {
    weft_builder b;
    weft_builder_init(&b, WEFT_CURRENT_THREAD);
    weft_sim_result r;
    return weft_sim_replay(&t_ready7, "x.sched", &b, &r);
}
/* a file that is not there: the open's error, and the path in the failure */
RETURNS(sim_replay_missing_file, WEFT_ENOENT) {
    weft_sim_result r;
    int err = weft_sim_replay(&t_ready7, "/nonexistent/x.sched", NULL, &r);
    return err == r.err && strstr(r.failure, "/nonexistent/x.sched") ? err : WEFT_EFAILED;
}

/* ----------------------------------------------------------------- net */

RETURNS(addr_parse_null_text, WEFT_EINVAL) { weft_addr a; return weft_addr_parse(NULL, &a); }
RETURNS(addr_parse_null_out, WEFT_EINVAL) { return weft_addr_parse("1.2.3.4:5", NULL); }
RETURNS(addr_parse_garbage, WEFT_EINVAL) { weft_addr a; return weft_addr_parse("1.2.3:x", &a); }
RETURNS(addr_parse_port_range, WEFT_EINVAL) { weft_addr a; return weft_addr_parse("1.2.3.4:65536", &a); }
RETURNS(addr_from_ip_null, WEFT_EINVAL) { weft_addr a; return weft_addr_from_ip(NULL, 1, &a); }
RETURNS(addr_from_ip_null_out, WEFT_EINVAL) { return weft_addr_from_ip("::1", 1, NULL); }
RETURNS(addr_unix_null, WEFT_EINVAL) { weft_addr a; return weft_addr_unix(NULL, &a); }
RETURNS(addr_unix_empty, WEFT_EINVAL) { weft_addr a; return weft_addr_unix("", &a); }
RETURNS(addr_unix_too_long, WEFT_EINVAL) {
    char path[300];
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = 0;
    weft_addr a;
    return weft_addr_unix(path, &a);
}
RETURNS(addr_format_null, WEFT_EINVAL) { char b[64]; return weft_addr_format(NULL, b, sizeof b); }
RETURNS(addr_format_null_buf, WEFT_EINVAL) {
    weft_addr a = weft_addr_loopback4(80);
    return weft_addr_format(&a, NULL, 64);
}
RETURNS(addr_format_small, WEFT_ERANGE) {
    weft_addr a = weft_addr_loopback4(8080);
    char b[4];
    return weft_addr_format(&a, b, sizeof b);
}
RETURNS(addr_equal_null, 0) { return weft_addr_equal(NULL, NULL); }
RETURNS(socket_options_init_null, 0) { weft_socket_options_init(NULL); return 0; }

RETURNS(listener_bind_outside_runtime, WEFT_ENORUNTIME) {
    weft_addr a = weft_addr_loopback4(0);
    weft_listener *l = NULL;
    return weft_listener_bind(&a, NULL, &l);
}
static int bind_null_addr(weft_context *cx) {
    (void)cx;
    weft_listener *l = NULL;
    return weft_listener_bind(NULL, NULL, &l);
}
RETURNS(listener_bind_null_addr, WEFT_EINVAL) { return in_runtime(bind_null_addr); }
static int bind_null_out(weft_context *cx) {
    (void)cx;
    weft_addr a = weft_addr_loopback4(0);
    return weft_listener_bind(&a, NULL, NULL);
}
RETURNS(listener_bind_null_out, WEFT_EINVAL) { return in_runtime(bind_null_out); }
static int dgram_bind_null(weft_context *cx) {
    (void)cx;
    weft_datagram *d = NULL;
    return weft_datagram_bind(NULL, NULL, &d);
}
RETURNS(datagram_bind_null_addr, WEFT_EINVAL) { return in_runtime(dgram_bind_null); }
static int bind_bad_family(weft_context *cx) {
    (void)cx;
    weft_addr a;
    memset(&a, 0, sizeof a);
    a.family = 77;
    weft_listener *l = NULL;
    return weft_listener_bind(&a, NULL, &l);
}
RETURNS(listener_bind_bad_family, WEFT_EINVAL) { return in_runtime(bind_bad_family); }

RETURNS(socket_close_null, WEFT_EINVAL) { return weft_socket_close(NULL); }
RETURNS(socket_local_addr_null, WEFT_EINVAL) { weft_addr a; return weft_socket_local_addr(NULL, &a); }
RETURNS(socket_peer_addr_null, WEFT_EINVAL) { weft_addr a; return weft_socket_peer_addr(NULL, &a); }
RETURNS(socket_take_error_null, WEFT_EINVAL) { return weft_socket_take_error(NULL); }
RETURNS(socket_set_linger_null, WEFT_EINVAL) { return weft_socket_set_linger(NULL, 0); }
RETURNS(socket_set_recv_buffer_null, WEFT_EINVAL) { return weft_socket_set_recv_buffer(NULL, 1); }
RETURNS(socket_set_send_buffer_null, WEFT_EINVAL) { return weft_socket_set_send_buffer(NULL, 1); }
RETURNS(socket_raw_null, -1) { return (int)weft_socket_raw(NULL); }
RETURNS(stream_set_nodelay_null, WEFT_EINVAL) { return weft_stream_set_nodelay(NULL, true); }
RETURNS(stream_nodelay_null, WEFT_EINVAL) { bool on; return weft_stream_nodelay(NULL, &on); }
RETURNS(stream_set_keepalive_null, WEFT_EINVAL) { return weft_stream_set_keepalive(NULL, true, 1); }
RETURNS(stream_shutdown_null, WEFT_EINVAL) { return weft_stream_shutdown(NULL, WEFT_SHUT_WR); }
RETURNS(datagram_connect_null, WEFT_EINVAL) {
    weft_addr a = weft_addr_loopback4(9);
    return weft_datagram_connect(NULL, &a);
}
RETURNS(datagram_set_broadcast_null, WEFT_EINVAL) { return weft_datagram_set_broadcast(NULL, true); }
RETURNS(datagram_join_multicast_null, WEFT_EINVAL) {
    return weft_datagram_join_multicast(NULL, NULL, NULL);
}
RETURNS(datagram_leave_multicast_null, WEFT_EINVAL) {
    return weft_datagram_leave_multicast(NULL, NULL, NULL);
}
RETURNS(datagram_set_multicast_loop_null, WEFT_EINVAL) {
    return weft_datagram_set_multicast_loop(NULL, true);
}
RETURNS(datagram_set_multicast_ttl_null, WEFT_EINVAL) {
    return weft_datagram_set_multicast_ttl(NULL, 1);
}
RETURNS(net_op_result_null, WEFT_EINVAL) { return (int)weft_net_op_result(NULL); }
RETURNS(net_op_progress_null, 0) { return (int)weft_net_op_progress(NULL); }
RETURNS(net_op_datagram_size_null, 0) { return (int)weft_net_op_datagram_size(NULL); }
RETURNS(socket_clear_ready_null, 0) { weft_socket_clear_ready(NULL, 3); return 0; }
RETURNS(stream_try_read_null, WEFT_EINVAL) { char b[4]; return (int)weft_stream_try_read(NULL, b, 4); }
RETURNS(stream_try_write_null, WEFT_EINVAL) { return (int)weft_stream_try_write(NULL, "x", 1); }
RETURNS(stream_try_readv_null, WEFT_EINVAL) { return (int)weft_stream_try_readv(NULL, NULL, 1); }
RETURNS(stream_try_writev_null, WEFT_EINVAL) { return (int)weft_stream_try_writev(NULL, NULL, 1); }
RETURNS(listener_try_accept_null, WEFT_EINVAL) {
    weft_stream *s;
    return weft_listener_try_accept(NULL, &s, NULL);
}
RETURNS(datagram_try_send_to_null, WEFT_EINVAL) {
    weft_addr a = weft_addr_loopback4(9);
    return (int)weft_datagram_try_send_to(NULL, "x", 1, &a);
}
RETURNS(datagram_try_recv_from_null, WEFT_EINVAL) {
    char b[4];
    return (int)weft_datagram_try_recv_from(NULL, b, sizeof b, NULL);
}
RETURNS(io_driver_name_outside, 0) { return weft_io_driver_name() != NULL; }

/* An op future made with a NULL socket (or a NULL out-pointer) completes
 * at its first poll with WEFT_EINVAL; NULL op storage aborts. */
static int net_op_null(weft_context *cx, weft_future *f, weft_net_op *op) {
    weft_poll p = weft_future_poll(f, cx, NULL);
    weft_future_drop(f);
    return p == WEFT_READY ? (int)weft_net_op_result(op) : WEFT_EFAILED;
}
#define NET_OP_NULL(id, init_expr)                                             \
    static int id##__body(weft_context *cx) {                                  \
        weft_net_op op;                                                        \
        char buf[8] = {0};                                                     \
        (void)buf;                                                             \
        return net_op_null(cx, (init_expr), &op);                              \
    }                                                                          \
    RETURNS(id, WEFT_EINVAL) { return in_runtime(id##__body); }
NET_OP_NULL(accept_null_listener, weft_listener_accept_init(&op, NULL, NULL, NULL, "x"))
NET_OP_NULL(connect_null_addr, weft_stream_connect_init(&op, NULL, NULL, NULL, "x"))
NET_OP_NULL(read_null_stream, weft_stream_read_init(&op, NULL, buf, sizeof buf, "x"))
NET_OP_NULL(write_null_stream, weft_stream_write_init(&op, NULL, buf, sizeof buf, "x"))
NET_OP_NULL(read_exact_null_stream, weft_stream_read_exact_init(&op, NULL, buf, 8, "x"))
NET_OP_NULL(write_all_null_stream, weft_stream_write_all_init(&op, NULL, buf, 8, "x"))
NET_OP_NULL(readv_null_stream, weft_stream_readv_init(&op, NULL, NULL, 1, "x"))
NET_OP_NULL(writev_null_stream, weft_stream_writev_init(&op, NULL, NULL, 1, "x"))
NET_OP_NULL(send_to_null, weft_datagram_send_to_init(&op, NULL, buf, 8, NULL, "x"))
NET_OP_NULL(recv_from_null, weft_datagram_recv_from_init(&op, NULL, buf, 8, NULL, "x"))
NET_OP_NULL(readable_null, weft_socket_readable_init(&op, NULL, "x"))
NET_OP_NULL(writable_null, weft_socket_writable_init(&op, NULL, "x"))
static int close_twice(weft_context *cx) {
    (void)cx;
    weft_addr a = weft_addr_loopback4(0);
    weft_listener *l = NULL;
    int err = weft_listener_bind(&a, NULL, &l);
    if (err)
        return err;
    weft_socket_close(l);
    return weft_socket_close(l);
}
ABORTS_(socket_close_twice, "closed twice") { return in_runtime(close_twice); }
ABORTS_(read_null_op, "NULL op") {
    char b[4];
    weft_stream_read_init(NULL, NULL, b, sizeof b, "x");
    return 0;
}
ABORTS_(lookup_null_op, "weft_lookup") {
    weft_lookup_init(NULL, "localhost", 80, NULL, 0, "x");
    return 0;
}

/* ----------------------------------------------------------------- main */

int main(int argc, char **argv) {
    const char *only = argc > 2 && strcmp(argv[1], "--test") == 0 ? argv[2] : NULL;
    struct CMUnitTest *tests = calloc(ncases, sizeof *tests);
    size_t n = 0;
    for (size_t i = 0; i < ncases; i++) {
        if (only && !strstr(cases[i].name, only))
            continue;
        tests[n++] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, &cases[i]};
    }
    int failed = _cmocka_run_group_tests("misuse", tests, n, NULL, NULL);
    free(tests);
    return failed;
}
