/* weft tests — the shared cmocka harness (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const weft_flavor wt_flavor_values[3] = {WEFT_CURRENT_THREAD, WEFT_MULTI_THREAD, WEFT_SIM};

const char *wt_flavor_name(weft_flavor f) {
    switch (f) {
    case WEFT_CURRENT_THREAD:
        return "current_thread";
    case WEFT_MULTI_THREAD:
        return "multi_thread";
    case WEFT_SIM:
        return "sim";
    }
    return "?";
}

static void *count_alloc(void *ctx, size_t size) {
    wt_env *env = ctx;
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
    wt_env *env = ctx;
    atomic_fetch_sub(&env->live, 1);
    free(p);
}

static void capture_diag(void *ctx, const char *what, const char *site) {
    wt_env *env = ctx;
    atomic_fetch_add(&env->diags, 1);
    snprintf(env->last_diag, sizeof env->last_diag, "%s: %s", site, what);
}

int wt_setup(void **state) {
    const weft_flavor *flavor = *state;
    wt_env *env = calloc(1, sizeof *env);
    if (!env)
        return -1;
    env->flavor = *flavor;
    weft_builder_init(&env->builder, env->flavor);
    env->builder.allocator = (weft_allocator){count_alloc, count_free, env};
    env->builder.on_diagnostic = capture_diag;
    env->builder.diagnostic_ctx = env;
    /* The sim instantiation runs seed 0, or WEFT_SEED's (explore or replay),
     * with uniform picks or, under WEFT_SIM_STRATEGY=pct, PCT. */
    const char *seed = getenv("WEFT_SEED"), *strategy = getenv("WEFT_SIM_STRATEGY");
    if (env->flavor == WEFT_SIM && seed)
        env->builder.sim_seed = strtoull(seed, NULL, 0);
    if (env->flavor == WEFT_SIM && strategy && strcmp(strategy, "pct") == 0)
        env->builder.sim_strategy = 1; /* WEFT_SIM_PCT (weft/sim.h) */
    /* Flavors this build lacks are skipped, not failed. */
    weft_runtime *probe;
    int err = weft_runtime_new(&env->builder, &probe);
    if (err == WEFT_ENOTSUP) {
        free(env);
        *state = NULL;
        return 0;
    }
    if (err) {
        fprintf(stderr, "wt_setup: %s\n", weft_strerror(err));
        free(env);
        return -1;
    }
    weft_runtime_free(probe);
    atomic_store(&env->allocs, 0);
    *state = env;
    return 0;
}

weft_runtime *wt_rt(wt_env *env) {
    if (!env->rt) {
        int err = weft_runtime_new(&env->builder, &env->rt);
        assert_int_equal(err, 0);
    }
    return env->rt;
}

void wt_block_on(wt_env *env, weft_future *f, void *out) {
    int err = weft_runtime_block_on(wt_rt(env), f, out);
    if (err)
        fail_msg("block_on returned %s", weft_err_name(err));
}

void wt_free_rt(wt_env *env) {
    if (env->rt) {
        weft_runtime_free(env->rt);
        env->rt = NULL;
    }
    long live = atomic_load(&env->live);
    if (live != 0)
        fail_msg("%ld allocation(s) outlived the runtime", live);
}

int wt_teardown(void **state) {
    wt_env *env = *state;
    if (!env)
        return 0;
    wt_free_rt(env);
    free(env);
    return 0;
}

static weft_poll forever_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    atomic_fetch_add(&((forever *)f)->c->polls, 1);
    return WEFT_PENDING;
}
static void forever_drop(weft_future *f) { atomic_fetch_add(&((forever *)f)->c->drops, 1); }
const weft_future_vtable forever_vtable = {forever_poll, forever_drop, sizeof(forever), 0,
                                           "forever", 0};

static weft_poll setter_poll(weft_future *f, weft_context *cx, void *out) {
    (void)cx;
    (void)out;
    atomic_store(((setter *)f)->flag, 1);
    return WEFT_READY;
}
const weft_future_vtable setter_vtable = {setter_poll, NULL, sizeof(setter), 0, "setter", 0};
