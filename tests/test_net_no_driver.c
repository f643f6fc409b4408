/* weft tests — the network API on a platform with no I/O driver built in
 * (Windows until io_backends/iocp.c exists).  tests/meson.build runs this
 * in place of test_net there:
 *   test_net_no_driver     the runtime starts without a driver and every net
 *                          call says WEFT_ENOTSUP, on every flavor;
 *   test_net --skip        the net suite, reported as skipped (exit 77). */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "weft/net.h"

typedef struct try_bind {
    weft_future base;
} try_bind;
static weft_poll try_bind_poll(weft_future *f, weft_context *cx, void *out) {
    (void)f, (void)cx;
    weft_addr a = weft_addr_loopback4(0);
    weft_datagram *d = NULL;
    weft_listener *l = NULL;
    int64_t r = weft_datagram_bind(&a, NULL, &d);
    if (r == WEFT_ENOTSUP && d == NULL)
        r = weft_listener_bind(&a, NULL, &l);
    if (r == WEFT_ENOTSUP && l != NULL)
        r = WEFT_EINVAL; /* a handle came back from a failed call */
    *(int64_t *)out = r;
    return WEFT_READY;
}
WEFT_FUTURE_DEFINE(try_bind, try_bind_poll, NULL, int64_t);

/* The platform default ("auto") finds no driver: the runtime still runs,
 * and sockets are refused with a clear code, losing nothing (the counting
 * allocator checks at teardown). */
static void net_calls_say_not_supported(void **state) {
    wt_env *env = WT_ENV(state);
    env->builder.io_driver = "auto";
    try_bind t = WEFT_NEW(try_bind);
    int64_t r = 0;
    wt_block_on(env, &t.base, &r);
    assert_int_equal(r, WEFT_ENOTSUP);
}

/* Naming a driver the build lacks fails runtime creation, saying so. */
static void named_driver_is_refused(void **state) {
    wt_env *env = WT_ENV(state);
    weft_builder b = env->builder;
    b.io_driver = "epoll";
    weft_runtime *rt = NULL;
    assert_int_equal(weft_runtime_new(&b, &rt), WEFT_ENOTSUP);
    assert_null(rt);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--skip") == 0) {
        fprintf(stderr, "net suite skipped: no I/O driver is built for this platform\n");
        return 77; /* meson's code for a skipped test */
    }
    const struct CMUnitTest tests[] = {
        WT_THREADED(net_calls_say_not_supported),
        WT_THREADED(named_driver_is_refused),
    };
    return WT_RUN("net_no_driver", tests);
}
