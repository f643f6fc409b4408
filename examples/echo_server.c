/* weft example — a TCP echo server: one task per connection.
 *
 *   build/examples/echo_server [--port P] [--flavor current_thread|multi_thread] [--workers N]
 *
 * Listens on 127.0.0.1:P (default 7000, 0: any free port, printed); try
 * `nc 127.0.0.1 7000`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/net.h"
#include "weft/weft.h"

/* One connection: read what is there, write it all back, until EOF. */
typedef struct conn {
    weft_future base;
    weft_stream *s;
    int64_t n;
    weft_net_op op;
    char buf[4096];
} conn;

static weft_poll conn_poll(weft_future *f, weft_context *cx, void *out) {
    conn *self = (conn *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf, sizeof self->buf), &self->n);
        if (self->n <= 0) /* 0: the peer closed; < 0: an error */
            break;
        WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->buf, (size_t)self->n), &self->n);
        if (self->n < 0)
            break;
    }
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}
/* Runs once, when the task ends or is dropped at shutdown. */
static void conn_drop(weft_future *f) { weft_socket_close(((conn *)f)->s); }
WEFT_FUTURE_DEFINE(conn, conn_poll, conn_drop, int);

/* The accept loop: binds, then spawns a conn task per connection. */
typedef struct server {
    weft_future base;
    uint16_t port;
    weft_addr addr;
    weft_listener *l;
    weft_stream *s;
    int64_t r;
    weft_net_op op;
} server;

static weft_poll server_poll(weft_future *f, weft_context *cx, void *out) {
    server *self = (server *)f;
    WEFT_BEGIN(f);
    self->addr = weft_addr_loopback4(self->port);
    self->r = weft_listener_bind(&self->addr, NULL, &self->l);
    if (self->r) {
        fprintf(stderr, "echo_server: bind: %s\n", weft_strerror((int)self->r));
        WEFT_RETURN(f, out, int, 1);
    }
    weft_socket_local_addr(self->l, &self->addr); /* port 0 picked one */
    printf("echo_server: listening on 127.0.0.1:%u\n", self->addr.port);
    fflush(stdout);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->s, NULL), &self->r);
        if (self->r < 0) /* e.g. WEFT_EMFILE: the listener stays usable */
            fprintf(stderr, "echo_server: accept: %s\n", weft_strerror((int)self->r));
        else /* on failure spawn drops the conn, which closes the stream */
            weft_spawn(&WEFT_NEW(conn, .s = self->s), NULL);
    }
    WEFT_END(f);
}
static void server_drop(weft_future *f) { weft_socket_close(((server *)f)->l); }
WEFT_FUTURE_DEFINE(server, server_poll, server_drop, int);

static int usage(FILE *to, int status) {
    fprintf(to, "usage: echo_server [--port P] [--flavor current_thread|multi_thread] "
                "[--workers N]\n");
    return status;
}

int main(int argc, char **argv) {
    long port = 7000, workers = 0;
    weft_flavor flavor = WEFT_MULTI_THREAD;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        char *end = NULL;
        if (strcmp(a, "--help") == 0)
            return usage(stdout, 0);
        if (strcmp(a, "--port") == 0 && (port = strtol(v, &end, 10), *end == '\0') && *v &&
            port >= 0 && port < 65536) {
        } else if (strcmp(a, "--workers") == 0 && (workers = strtol(v, &end, 10), *end == '\0') &&
                   workers > 0 && workers <= 1024) {
        } else if (strcmp(a, "--flavor") == 0 && strcmp(v, "current_thread") == 0) {
            flavor = WEFT_CURRENT_THREAD;
        } else if (strcmp(a, "--flavor") == 0 && strcmp(v, "multi_thread") == 0) {
            flavor = WEFT_MULTI_THREAD;
        } else {
            fprintf(stderr, "echo_server: bad argument: %s %s\n", a, v);
            return usage(stderr, 2);
        }
        i++;
    }
    weft_builder b;
    weft_builder_init(&b, flavor);
    b.worker_threads = (int)workers;
    weft_runtime *rt;
    int err = weft_runtime_new(&b, &rt);
    if (err) {
        fprintf(stderr, "echo_server: cannot build the runtime: %s\n", weft_strerror(err));
        return 1;
    }
    server srv = WEFT_NEW(server, .port = (uint16_t)port);
    int status = 1;
    err = weft_runtime_block_on(rt, &srv.base, &status);
    weft_runtime_free(rt);
    return err ? 1 : status;
}
