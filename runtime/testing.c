/* weft — the part of weft/test.h that needs no cmocka: a case's env (a
 * builder whose allocator counts and whose diagnostics are captured), the
 * async body's run with its leak checks, and assertions that find their
 * test through the runtime they run in (from any of its threads).
 *
 * The header's static inline glue turns the results into cmocka failures;
 * the library itself never links cmocka.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_num.h"
#include "rt.h"
#include "weft/sim.h"
#define WEFT__TEST_NO_CMOCKA
#include "weft/test.h"

const weft_test_case weft_test_env_cases[3] = {
    {WEFT_CURRENT_THREAD, NULL},
    {WEFT_MULTI_THREAD, NULL},
    {WEFT_SIM, NULL},
};

/* A body that spins forever under the simulator fails as a livelock
 * instead of hanging the suite. */
#define TEST_SIM_MAX_STEPS 10000000u

static void *count_alloc(void *ctx, size_t size) {
    weft_test_env *env = ctx;
    long n = atomic_fetch_add(&env->allocs, 1) + 1;
    long fail = atomic_load(&env->fail_at);
    if (fail && n == fail)
        return NULL;
    void *p = malloc(size);
    if (p)
        atomic_fetch_add(&env->live, 1);
    return p;
}

static void count_free(void *ctx, void *p, size_t size) {
    (void)size;
    weft_test_env *env = ctx;
    if (!p)
        return;
    atomic_fetch_sub(&env->live, 1);
    free(p);
}

/* Diagnostics come from any thread of the runtime (a worker discarding
 * an entry while shutdown walks the tasks on another): the last one is
 * written under a lock, then counted. */
static weft__spin diag_lock;

static void capture_diag(void *ctx, const char *what, const char *site) {
    weft_test_env *env = ctx;
    weft__spin_lock(&diag_lock);
    snprintf(env->last_diag, sizeof env->last_diag, "%s: %s", site, what);
    weft__spin_unlock(&diag_lock);
    atomic_fetch_add(&env->diags, 1); /* after: who sees the count sees the text */
}

static bool flavor_wanted(const weft_test_case *tc) {
    unsigned set = tc->def ? tc->def->opts.flavors : 0;
    return set == 0 || (set & (1u << tc->flavor));
}

bool weft_test_case_wanted(const weft_test_case *tc) {
    return tc && weft_flavor_available(tc->flavor) && flavor_wanted(tc);
}

/* WEFT_SEED as the sweep reads it: decimal, or 0x and hex, nothing after. */
static bool parse_seed(const char *p, uint64_t *out) { return weft__parse_u64(p, out, NULL); }

int weft_test_env_new(const weft_test_case *tc, weft_test_env **out) {
    if (!tc || !out || (unsigned)tc->flavor > WEFT_SIM)
        return WEFT_EINVAL;
    *out = NULL;
    weft_test_env *env = calloc(1, sizeof *env);
    if (!env)
        return WEFT_ENOMEM;
    env->tc = tc;
    env->flavor = tc->flavor;
    weft_builder *b = &env->builder;
    weft_builder_init(b, env->flavor);
    b->allocator = (weft_allocator){count_alloc, count_free, env};
    b->on_diagnostic = capture_diag;
    b->diagnostic_ctx = env;
    if (tc->def) {
        b->start_paused = tc->def->opts.paused;
        if (tc->def->opts.worker_threads > 0)
            b->worker_threads = tc->def->opts.worker_threads;
        b->sim_seed = tc->def->opts.sim_seed;
    }
    if (env->flavor == WEFT_SIM) {
        /* seed 0 (or the test's), or WEFT_SEED's (explore, replay); uniform
         * picks or, under WEFT_SIM_STRATEGY=pct, PCT */
        const char *seed = getenv("WEFT_SEED"), *strategy = getenv("WEFT_SIM_STRATEGY");
        if (seed && *seed && !parse_seed(seed, &b->sim_seed)) {
            fprintf(stderr, "weft-test: WEFT_SEED=%s: not a number from 0 to 2^64-1 (decimal "
                            "or 0x hex)\n", seed);
            free(env);
            return WEFT_EINVAL;
        }
        if (strategy && *strategy) {
            if (strcmp(strategy, "pct") == 0)
                b->sim_strategy = WEFT_SIM_PCT;
            else if (strcmp(strategy, "swarm") == 0)
                b->sim_strategy = WEFT_SIM_SWARM;
            else if (strcmp(strategy, "random") != 0) {
                fprintf(stderr, "weft-test: WEFT_SIM_STRATEGY=%s: not a strategy (swarm, random "
                                "or pct)\n", strategy);
                free(env);
                return WEFT_EINVAL;
            }
        }
        const char *depth = getenv("WEFT_PCT_DEPTH");
        if (depth && *depth) {
            uint64_t d = 0;
            if (!parse_seed(depth, &d) || d < 1 || d > 16) {
                fprintf(stderr, "weft-test: WEFT_PCT_DEPTH=%s: a depth from 1 to 16\n", depth);
                free(env);
                return WEFT_EINVAL;
            }
            b->sim_pct_depth = (uint32_t)d;
        }
        /* a case asserts instants: swarm may not stretch them */
        b->sim_exact_time = true;
        const char *net = getenv("WEFT_SIM_NET"); /* calm, or the seed's swarm draw */
        if (net && strcmp(net, "calm") == 0)
            b->sim_net = WEFT_SIM_NET_CALM;
        b->sim_max_steps = TEST_SIM_MAX_STEPS;
    }
    /* A flavor this build lacks is reported, so the case is skipped. */
    weft_runtime *probe;
    int err = weft_runtime_new(b, &probe);
    if (err) {
        free(env);
        return err;
    }
    weft_runtime_free(probe);
    atomic_store(&env->allocs, 0);
    atomic_store(&env->diags, 0);
    env->last_diag[0] = 0;
    *out = env;
    return 0;
}

weft_runtime *weft_test_rt(weft_test_env *env) {
    if (!env)
        return NULL;
    if (!env->rt) {
        int err = weft_runtime_new(&env->builder, &env->rt);
        if (err) {
            snprintf(env->failure, sizeof env->failure, "cannot build the %s runtime: %s",
                     env->flavor == WEFT_SIM ? "sim"
                     : env->flavor == WEFT_MULTI_THREAD ? "multi_thread"
                                                        : "current_thread",
                     weft_strerror(err));
            env->rt = NULL;
        }
    }
    return env->rt;
}

int weft_test_free_rt(weft_test_env *env) {
    if (!env)
        return WEFT_EINVAL;
    if (env->rt) {
        weft_runtime_free(env->rt);
        env->rt = NULL;
    }
    long live = atomic_load(&env->live);
    if (live != 0) {
        snprintf(env->failure, sizeof env->failure, "%ld allocation(s) outlived the runtime",
                 live);
        return WEFT_EFAILED;
    }
    return 0;
}

int weft_test_env_free(weft_test_env *env, char *why, size_t why_size) {
    if (!env)
        return WEFT_EINVAL;
    int err = weft_test_free_rt(env);
    if (err && why && why_size)
        snprintf(why, why_size, "%s", env->failure);
    free(env);
    return err;
}

/* The first failure of the case wins; later ones are dropped. */
static void set_failure(weft_test_env *env, const char *fmt, ...) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&env->failed, &expected, 1))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(env->failure, sizeof env->failure, fmt, ap);
    va_end(ap);
}

int weft_test_env_run(weft_test_env *env) {
    if (!env || !env->tc || !env->tc->def || !env->tc->def->make)
        return WEFT_EINVAL;
    const weft_test_def *def = env->tc->def;
    weft_runtime *rt = weft_test_rt(env);
    if (!rt)
        return WEFT_EFAILED;
    /* 16-aligned storage for the body, which may hold anything */
    size_t size = (def->size + 15u) & ~(size_t)15u;
    weft_future *body = weft__os_aligned_alloc(16, size ? size : 16);
    if (!body) {
        snprintf(env->failure, sizeof env->failure, "out of memory for the test body");
        return WEFT_ENOMEM;
    }
    memset(body, 0, size);
    def->make(body);
    int err = weft_runtime_block_on(rt, body, NULL);
    weft_future_drop(body);
    weft__os_aligned_free(body);
    if (err)
        set_failure(env, "the test body failed: %s (%s)", weft_err_name(err), weft_strerror(err));
    /* Shutdown reports every task still alive: each is a leak of the body. */
    int diags_before = atomic_load(&env->diags);
    int leak = weft_test_free_rt(env);
    int diags = atomic_load(&env->diags);
    if (atomic_load(&env->failed))
        return err ? err : WEFT_EFAILED;
    if (diags > diags_before) { /* "task still alive at shutdown", with its site */
        set_failure(env, "%d diagnostic(s) at shutdown (join or abort every task before the "
                    "body returns), the last: %s", diags - diags_before, env->last_diag);
        return WEFT_EFAILED;
    }
    if (diags && !def->opts.allow_diagnostics) {
        set_failure(env, "%d diagnostic(s) reported, the last: %s", diags, env->last_diag);
        return WEFT_EFAILED;
    }
    if (leak) /* env->failure says how many */
        return leak;
    return 0;
}

weft_test_env *weft_test_current(void) {
    weft__rt *rt = weft__cur.rt;
    if (!rt || rt->config.on_diagnostic != capture_diag)
        return NULL;
    return rt->config.diagnostic_ctx;
}

const void *weft_test_param(void) {
    weft_test_env *env = weft_test_current();
    return env && env->tc && env->tc->def ? env->tc->def->opts.param : NULL;
}

static void fail_with(const char *site, const char *text) {
    site = site ? site : "?";
    weft_test_env *env = weft_test_current();
    if (!env) {
        fprintf(stderr, "weft: %s: %s\n", site, text);
        return;
    }
    set_failure(env, "%s: %s", site, text);
#ifdef WEFT_HAVE_SIM
    if (env->flavor == WEFT_SIM)
        weft_sim_fail_at(site, text);
#endif
}

void weft_test_fail_at(const char *site, const char *what) {
    fail_with(site, what ? what : "failure");
}

void weft_test_fail_int_eq(const char *site, const char *what, long long a, long long b) {
    char text[400];
    snprintf(text, sizeof text, "%s (left = %lld, right = %lld)", what ? what : "failure", a, b);
    fail_with(site, text);
}
