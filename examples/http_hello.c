/* weft example — the HTTP/1.1 "hello" server of the load test.
 *
 *   build/examples/http_hello [--port P] [--flavor current_thread|multi_thread] [--workers N]
 *
 * Implements the definition in /work/shared/anchors/http-hello/README.md
 * ("Server behaviour"), which its Tokio and libuv anchors implement too, so
 * `http-load` compares the runtimes, not the servers: raw TCP, no HTTP
 * library; each "\r\n\r\n" ends a request and gets the same 78-byte
 * response; the responses found by one read go out in one write_all.
 * Defaults: port 8080 (0: any free port, printed), multi_thread, 2 workers.
 * The accept loop is a spawned task in both flavors: block_on only waits.
 * No timers and no logging per request; no SIGPIPE (weft never raises it).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/net.h"
#include "weft/weft.h"

#define BUF_SIZE 4096
static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

/* ------------------------------------------------------- request framing */

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* `n` bytes at `p` equal the lower-case `word`, ignoring ASCII case. */
static bool equal_nocase(const char *p, const char *word, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != word[i])
            return false;
    return true;
}

/* Whether the header line [line, e) (its '\n' removed) is "Connection:
 * close": the name before the first ':' is "connection", the value with
 * spaces and tabs trimmed is "close", both ignoring ASCII case. */
static bool is_close_header(const char *line, const char *e) {
    if (e > line && e[-1] == '\r')
        e--;
    if (e - line < 11 || !equal_nocase(line, "connection:", 11))
        return false;
    const char *v = line + 11;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e - v == 5 && equal_nocase(v, "close", 5);
}

/* The request starting at p: returns its end (just past the first
 * "\r\n\r\n") or NULL while it is incomplete, and sets *close if a line
 * after the request line is a Connection: close header.  One pass: every
 * '\n' ends a line, and the first that ends "\r\n\r\n" ends the request. */
static const char *request_end(const char *p, const char *end, bool *close) {
    const char *line = p, *nl;
    *close = false;
    while (line < end && (nl = memchr(line, '\n', (size_t)(end - line)))) {
        if (nl - p >= 3 && nl[-1] == '\r' && nl[-2] == '\n' && nl[-3] == '\r')
            return nl + 1;
        if (line != p && is_close_header(line, nl))
            *close = true;
        line = nl + 1;
    }
    return NULL;
}

/* ------------------------------------------------------------ connection */

typedef struct conn {
    weft_future base;
    weft_stream *s;
    size_t len;        /* unconsumed bytes at the front of buf */
    bool last;         /* a Connection: close request was answered */
    const char *reply; /* what to write: RESPONSE, or `out` for several */
    size_t reply_len;
    char *out;         /* responses to pipelined requests, grown on demand */
    size_t out_cap;
    int64_t n;
    weft_net_op op;
    char buf[BUF_SIZE];
} conn;

/* Answers the complete requests in buf: sets reply, reply_len and last,
 * and returns the bytes they took.  False when out of memory. */
static bool answer(conn *c, size_t *used) {
    const char *p = c->buf, *end = c->buf + c->len, *q;
    size_t count = 0;
    while (!c->last && (q = request_end(p, end, &c->last))) {
        count++;
        p = q;
    }
    *used = (size_t)(p - c->buf);
    c->reply = RESPONSE;
    c->reply_len = count * RESPONSE_LEN;
    if (count <= 1) /* the common case: no copy */
        return true;
    if (c->out_cap < c->reply_len) {
        char *grown = realloc(c->out, c->reply_len);
        if (!grown)
            return false;
        c->out = grown;
        c->out_cap = c->reply_len;
    }
    for (size_t i = 0; i < count; i++)
        memcpy(c->out + i * RESPONSE_LEN, RESPONSE, RESPONSE_LEN);
    c->reply = c->out;
    return true;
}

static weft_poll conn_poll(weft_future *f, weft_context *cx, void *out) {
    conn *self = (conn *)f;
    WEFT_BEGIN(f);
    for (;;) {
        WEFT_AWAIT(f, cx, weft_stream_read(&self->op, self->s, self->buf + self->len,
                                           BUF_SIZE - self->len), &self->n);
        if (self->n <= 0) /* end of stream or an error: close */
            break;
        self->len += (size_t)self->n;
        {
            size_t used;
            if (!answer(self, &used))
                break;
            self->len -= used; /* the tail, an incomplete request, to the front */
            if (used && self->len)
                memmove(self->buf, self->buf + used, self->len);
        }
        if (self->reply_len) {
            WEFT_AWAIT(f, cx, weft_stream_write_all(&self->op, self->s, self->reply,
                                                    self->reply_len), &self->n);
            if (self->n < 0)
                break;
        }
        if (self->last || self->len == BUF_SIZE)
            break;
    }
    WEFT_RETURN(f, out, int, 0);
    WEFT_END(f);
}

/* Once, when the task ends or is dropped: close(2), no shutdown, no linger. */
static void conn_drop(weft_future *f) {
    conn *self = (conn *)f;
    weft_socket_close(self->s);
    free(self->out);
}
WEFT_FUTURE_DEFINE(conn, conn_poll, conn_drop, int);

/* ----------------------------------------------------------- accept loop */

typedef struct server {
    weft_future base;
    weft_listener *l;
    weft_stream *s;
    int64_t r;
    weft_net_op op;
} server;

static weft_poll server_poll(weft_future *f, weft_context *cx, void *out) {
    server *self = (server *)f;
    (void)out; /* the loop never returns */
    WEFT_BEGIN(f);
    /* An accept takes the next connection while the listener is ready and
     * waits only once accept would block. */
    for (;;) {
        WEFT_AWAIT(f, cx, weft_listener_accept(&self->op, self->l, &self->s, NULL), &self->r);
        if (self->r < 0) /* e.g. WEFT_EMFILE: the listener stays usable */
            fprintf(stderr, "http_hello: accept: %s\n", weft_strerror((int)self->r));
        else /* on failure spawn drops the conn, which closes the stream */
            weft_spawn(&WEFT_NEW(conn, .s = self->s), NULL);
    }
    WEFT_END(f);
}
static void server_drop(weft_future *f) { weft_socket_close(((server *)f)->l); }
WEFT_FUTURE_DEFINE(server, server_poll, server_drop, int);

/* block_on's future: binds, spawns the accept loop, awaits it (forever). */
typedef struct app {
    weft_future base;
    uint16_t port;
    int status;
    weft_join_handle jh;
} app;

static weft_poll app_poll(weft_future *f, weft_context *cx, void *out) {
    app *self = (app *)f;
    WEFT_BEGIN(f);
    {
        weft_socket_options o;
        weft_socket_options_init(&o);
        o.reuseaddr = true;
        o.backlog = 1024;
        o.nodelay = true; /* every accepted stream gets TCP_NODELAY */
        weft_addr addr = weft_addr_loopback4(self->port);
        weft_listener *l;
        int err = weft_listener_bind(&addr, &o, &l);
        if (!err)
            weft_socket_local_addr(l, &addr);
        if (err) {
            fprintf(stderr, "http_hello: bind 127.0.0.1:%u: %s\n", self->port, weft_strerror(err));
            WEFT_RETURN(f, out, int, 1);
        }
        printf("http_hello: listening on 127.0.0.1:%u\n", addr.port);
        fflush(stdout);
        err = weft_spawn(&WEFT_NEW(server, .l = l), &self->jh);
        if (err) {
            fprintf(stderr, "http_hello: spawn: %s\n", weft_strerror(err));
            WEFT_RETURN(f, out, int, 1);
        }
    }
    WEFT_AWAIT(f, cx, weft_join(&self->jh), &self->status);
    WEFT_RETURN(f, out, int, 1); /* the accept loop never ends */
    WEFT_END(f);
}
WEFT_FUTURE_DEFINE(app, app_poll, NULL, int);

/* ------------------------------------------------------------------ main */

static int usage(FILE *to, int status) {
    fprintf(to, "usage: http_hello [--port P] [--flavor current_thread|multi_thread] "
                "[--workers N]\n");
    return status;
}

int main(int argc, char **argv) {
    long port = 8080, workers = 2;
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
            fprintf(stderr, "http_hello: bad argument: %s %s\n", a, v);
            return usage(stderr, 2);
        }
        i++;
    }
    weft_builder b;
    weft_builder_init(&b, flavor);
    b.worker_threads = (int)workers;
    b.enable_time = false; /* no timers at all */
    weft_runtime *rt;
    int err = weft_runtime_new(&b, &rt);
    if (err) {
        fprintf(stderr, "http_hello: cannot build the runtime: %s\n", weft_strerror(err));
        return 1;
    }
    app a = WEFT_NEW(app, .port = (uint16_t)port);
    int status = 1;
    err = weft_runtime_block_on(rt, &a.base, &status);
    weft_runtime_free(rt);
    return err ? 1 : status;
}
