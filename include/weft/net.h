/* weft — the network: addresses, TCP, UDP, Unix domain sockets, name lookup.
 *
 * One API on every I/O driver (epoll, kqueue, IOCP and the simulator's
 * fake network behind the same calls), chosen by the runtime
 * builder (`io_driver`, or $WEFT_IO_DRIVER).  The same program runs on real
 * sockets in production and on simulated hosts under test.
 *
 * Sockets.  A socket is an object the runtime allocates: `weft_listener`
 * (a bound, listening stream socket: TCP, or Unix when the address is a
 * path), `weft_stream` (a connected stream), `weft_datagram` (UDP, or a
 * Unix datagram socket).  All three are `struct weft_socket`; each call
 * checks the kind it needs and returns WEFT_EINVAL for the wrong one.
 * A socket belongs to the runtime it was made on, and may be used from
 * any of that runtime's tasks and threads.
 *
 * Lifecycle.  Made by weft_listener_bind, weft_listener_accept,
 * weft_stream_connect or weft_datagram_bind; ended by weft_socket_close,
 * which is synchronous: the descriptor is closed (the peer sees the end of
 * the stream, or a reset if unread bytes were pending) before it returns,
 * unless another thread is inside a system call on it at that instant, in
 * which case that thread closes it as the call returns.  After close the
 * caller's pointer is dead.  Operations still in flight on a closed socket
 * complete with WEFT_ECLOSED; they hold a reference of their own, so they
 * never touch freed memory.
 *
 * Operations.  Each async operation is a future in caller-owned storage
 * (`weft_net_op`), made by an init call and awaited like any other; its
 * output is an `int64_t`: a byte count (or 0) on success, or a negative
 * WEFT_E* code.  `weft_net_op_result` reads the same value afterwards.
 *
 * Buffers.  A buffer passed to an operation belongs to the operation from
 * its first poll until it completes or is dropped: do not free, move or
 * change it meanwhile.  Once the operation has completed, or its drop has
 * returned, weft never reads or writes that buffer again, on every driver:
 * a completion driver (IOCP) whose kernel may still hold the buffer when
 * the future is dropped cancels the operation and does not let the drop
 * return before the kernel is done with it, or lends the kernel memory of
 * its own.  So a dropped (or timed-out) read never writes into a buffer
 * the caller has since reused.
 *
 * Cancellation.  Dropping an operation cancels it; `weft_timeout` around
 * any operation cancels it cleanly.  What a cancelled operation had done
 * is lost only where the kernel had not done it: a cancelled read consumed
 * no bytes; a cancelled write_all may have written a prefix (its count is
 * in `weft_net_op_progress`); a cancelled accept leaves the connection in
 * the backlog for the next accept.
 *
 * Concurrency.  One read-side operation (read, recv, accept, readable) and
 * one write-side operation (write, send, connect, writable) may be in
 * flight on a socket at once: a reader task and a writer task, as with
 * Tokio's split halves.  A second one on the same side returns WEFT_EBUSY.
 *
 * Errors.  Platform errors map into weft's one table, the same code for the
 * same condition on every driver (WEFT_ECONNREFUSED, WEFT_ECONNRESET,
 * WEFT_EPIPE, WEFT_EADDRINUSE, WEFT_EMFILE, ...).  No SIGPIPE ever reaches
 * the process.  An accept that runs out of descriptors returns WEFT_EMFILE
 * (or WEFT_ENFILE) and the listener stays usable: see weft_listener_accept.
 *
 * Fairness.  Every operation charges the task's cooperative budget, so a
 * task reading a fast socket cannot starve the others.
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- addresses */

enum {
    WEFT_AF_NONE = 0,
    WEFT_AF_INET = 1,  /* IPv4 */
    WEFT_AF_INET6 = 2, /* IPv6 */
    WEFT_AF_UNIX = 3,  /* a Unix domain socket path */
};

#define WEFT_ADDR_PATH_MAX 107 /* bytes of a Unix path, without its NUL */
#define WEFT_ADDR_STRLEN 128   /* room for any formatted address + NUL */

/* One address type for IPv4, IPv6 (with scope) and Unix paths.  Plain
 * data: copy it freely.  Ports are in host byte order. */
typedef struct weft_addr {
    uint16_t family; /* WEFT_AF_* */
    uint16_t port;
    uint32_t scope_id;               /* IPv6 zone index, 0 if none */
    union {
        uint8_t v4[4];               /* network order: 127.0.0.1 is {127,0,0,1} */
        uint8_t v6[16];
        char path[WEFT_ADDR_PATH_MAX + 1]; /* NUL-terminated */
    } u;
} weft_addr;

/* Parses "1.2.3.4:80", "[::1]:8080", "[fe80::1%2]:9" or "unix:/tmp/sock"
 * (a bare path starting with '/' or "./" too).  The port is required for
 * IP addresses.  WEFT_EINVAL on malformed input (out untouched). */
WEFT_EXTERN int weft_addr_parse(const char *text, weft_addr *out);
/* Parses an IP literal without a port ("10.0.0.1", "::1", "fe80::1%2")
 * and sets `port`.  WEFT_EINVAL if `ip` is not a literal. */
WEFT_EXTERN int weft_addr_from_ip(const char *ip, uint16_t port, weft_addr *out);
/* A Unix socket address; WEFT_EINVAL for an empty or too long path. */
WEFT_EXTERN int weft_addr_unix(const char *path, weft_addr *out);
/* 127.0.0.1:port, and [::1]:port. */
WEFT_EXTERN weft_addr weft_addr_loopback4(uint16_t port);
/* [::1]:port. */
WEFT_EXTERN weft_addr weft_addr_loopback6(uint16_t port);
/* Writes the address as weft_addr_parse reads it ("[::1]:8080",
 * "unix:/tmp/s"), NUL-terminated.  Returns the length, or WEFT_ERANGE when
 * `cap` is too small (WEFT_ADDR_STRLEN always suffices). */
WEFT_EXTERN int weft_addr_format(const weft_addr *a, char *buf, size_t cap);
/* Same family, address, port (and scope); false if either is NULL. */
WEFT_EXTERN bool weft_addr_equal(const weft_addr *a, const weft_addr *b);

/* ----------------------------------------------------------------- sockets */

typedef struct weft_socket weft_socket;
typedef struct weft_socket weft_listener;
typedef struct weft_socket weft_stream;
typedef struct weft_socket weft_datagram;

/* Options applied before bind or connect (the socket builder).  Fill with
 * weft_socket_options_init, then set what you need.  0 leaves a size to
 * the OS. */
typedef struct weft_socket_options {
    bool reuseaddr;       /* SO_REUSEADDR (listeners default to true) */
    bool reuseport;       /* SO_REUSEPORT: several listeners on one port */
    bool v6only;          /* IPv6 sockets accept no IPv4-mapped traffic */
    bool nodelay;         /* TCP_NODELAY on the connected stream */
    int backlog;          /* listen backlog (default 1024) */
    uint32_t recv_buffer; /* SO_RCVBUF bytes, 0: the OS default */
    uint32_t send_buffer; /* SO_SNDBUF bytes, 0: the OS default */
    const weft_addr *bind_addr; /* connect: bind the local end first */
} weft_socket_options;

/* The defaults: reuseaddr on, backlog 1024, the rest off or the OS's. */
WEFT_EXTERN void weft_socket_options_init(weft_socket_options *o);

/* Binds a listening stream socket (TCP for IP addresses, Unix for paths;
 * port 0 picks a free port: read it back with weft_socket_local_addr).
 * `opts` may be NULL.  Must run inside a runtime with an I/O driver.
 * Returns 0, WEFT_EINVAL, WEFT_ENORUNTIME, WEFT_ENOTSUP (no I/O driver),
 * WEFT_EADDRINUSE, WEFT_EACCES, WEFT_EMFILE, ... */
WEFT_EXTERN int weft_listener_bind(const weft_addr *addr, const weft_socket_options *opts,
                                   weft_listener **out);
/* Binds a datagram socket (UDP, or a Unix datagram socket for a path). */
WEFT_EXTERN int weft_datagram_bind(const weft_addr *addr, const weft_socket_options *opts,
                                   weft_datagram **out);
/* Closes the socket and releases the caller's reference (see the
 * lifecycle above).  Returns 0 or WEFT_EINVAL; a NULL socket is a no-op
 * returning WEFT_EINVAL. */
WEFT_EXTERN int weft_socket_close(weft_socket *s);
/* The address the socket is bound to (after port 0: the port chosen). */
WEFT_EXTERN int weft_socket_local_addr(const weft_socket *s, weft_addr *out);
/* WEFT_ENOTCONN for a socket with no peer. */
WEFT_EXTERN int weft_socket_peer_addr(const weft_socket *s, weft_addr *out);
/* The pending socket error (SO_ERROR), 0 if none, and clears it. */
WEFT_EXTERN int weft_socket_take_error(weft_socket *s);
/* SO_LINGER: `seconds` < 0 turns it off; 0 makes close reset the
 * connection. */
WEFT_EXTERN int weft_socket_set_linger(weft_socket *s, int seconds);
/* SO_RCVBUF: the kernel's receive buffer, in bytes. */
WEFT_EXTERN int weft_socket_set_recv_buffer(weft_socket *s, uint32_t bytes);
/* SO_SNDBUF: the kernel's send buffer, in bytes. */
WEFT_EXTERN int weft_socket_set_send_buffer(weft_socket *s, uint32_t bytes);
/* The OS descriptor (fd or SOCKET), for callers who drive their own
 * syscalls with the readiness futures below.  Still owned by weft. */
WEFT_EXTERN intptr_t weft_socket_raw(const weft_socket *s);

/* TCP only (WEFT_ENOTSUP on a Unix stream). */
WEFT_EXTERN int weft_stream_set_nodelay(weft_stream *s, bool on);
/* Reads TCP_NODELAY into *on. */
WEFT_EXTERN int weft_stream_nodelay(const weft_stream *s, bool *on);
/* Keepalive probes after `idle_secs` idle (<= 0: the OS default). */
WEFT_EXTERN int weft_stream_set_keepalive(weft_stream *s, bool on, int idle_secs);

enum { WEFT_SHUT_RD = 1, WEFT_SHUT_WR = 2, WEFT_SHUT_RDWR = 3 };
/* Shuts down one half or both: after WEFT_SHUT_WR the peer reads the end
 * of the stream and may still write back. */
WEFT_EXTERN int weft_stream_shutdown(weft_stream *s, int how);

/* UDP. */
/* Sets the default peer for send/recv (and filters what recv sees). */
WEFT_EXTERN int weft_datagram_connect(weft_datagram *s, const weft_addr *peer);
/* SO_BROADCAST: allows sending to broadcast addresses. */
WEFT_EXTERN int weft_datagram_set_broadcast(weft_datagram *s, bool on);
/* Joins / leaves the multicast group `group` (IPv4 or IPv6) on the
 * interface `iface` (an IPv4 address of the interface, or NULL for any;
 * for IPv6, `iface->scope_id` is the interface index). */
WEFT_EXTERN int weft_datagram_join_multicast(weft_datagram *s, const weft_addr *group,
                                             const weft_addr *iface);
/* Leaves a group joined with weft_datagram_join_multicast. */
WEFT_EXTERN int weft_datagram_leave_multicast(weft_datagram *s, const weft_addr *group,
                                              const weft_addr *iface);
/* Whether our own multicast datagrams come back to us. */
WEFT_EXTERN int weft_datagram_set_multicast_loop(weft_datagram *s, bool on);
/* Hops a multicast datagram may travel (0-255). */
WEFT_EXTERN int weft_datagram_set_multicast_ttl(weft_datagram *s, uint32_t ttl);

/* -------------------------------------------------------------- operations */

/* One buffer of a vectored read or write (at most WEFT_IOV_MAX of them). */
typedef struct weft_iovec {
    void *base;
    size_t len;
} weft_iovec;
#define WEFT_IOV_MAX 64

/* The state of one operation: caller-owned, its fields private.  Made by
 * one of the init calls below, awaited (WEFT_AWAIT, block_on, a timeout),
 * then dropped (WEFT_AWAIT drops it).  Output: int64_t. */
typedef struct weft_net_op {
    weft_future base;
    weft_socket *weft__sock;  /* holds a reference while the op lives */
    uint8_t weft__kind;
    uint8_t weft__state;      /* idle, waiting, submitted, orphaned, done */
    uint8_t weft__side;       /* the read or the write side it occupies */
    uint8_t weft__flags;
    int32_t weft__iovcnt;
    void *weft__buf;
    size_t weft__len;
    size_t weft__done;        /* bytes so far (read_exact, write_all) */
    const weft_iovec *weft__iov;
    weft_addr *weft__addr_out;
    weft_addr weft__addr;     /* connect / send_to target */
    weft_socket **weft__sock_out;
    weft_socket_options weft__opts;
    int64_t weft__result;
    void *weft__driver;       /* a completion driver's per-op state */
} weft_net_op;

/* The op's outcome once complete (as its output), or WEFT_EAGAIN before. */
WEFT_EXTERN int64_t weft_net_op_result(const weft_net_op *op);
/* Bytes moved so far: after a cancelled write_all, the prefix written. */
WEFT_EXTERN size_t weft_net_op_progress(const weft_net_op *op);
/* For a recv that returned WEFT_ETRUNCATED: the datagram's full size
 * (where the platform reports it, else the buffer size). */
WEFT_EXTERN size_t weft_net_op_datagram_size(const weft_net_op *op);

/* Accepts a connection: output 0, the new stream in `*out` (and its peer
 * in `*peer` unless NULL).  The new stream has TCP_NODELAY if the
 * listener was bound with `nodelay`.  Out of descriptors (WEFT_EMFILE /
 * WEFT_ENFILE), the pending connection is accepted on a spare descriptor
 * kept for the purpose and closed at once, so the peer sees a reset and
 * the listener neither spins nor stalls (libuv's approach); the error is
 * returned and the next accept works once descriptors are free again.
 * (On IOCP the socket an accept fills is made before the connection
 * comes: out of sockets, accept returns the error and the connection
 * waits in the backlog for the next accept.) */
WEFT_EXTERN weft_future *weft_listener_accept_init(weft_net_op *op, weft_listener *l,
                                                   weft_stream **out, weft_addr *peer,
                                                   const char *site);
#define weft_listener_accept(op, l, out, peer)                                 \
    weft_listener_accept_init((op), (l), (out), (peer), WEFT__SITE)

/* Connects a stream to `addr` (copied): output 0 and `*out`, or
 * WEFT_ECONNREFUSED, WEFT_ENETUNREACH, ...  `opts` may be NULL. */
WEFT_EXTERN weft_future *weft_stream_connect_init(weft_net_op *op, const weft_addr *addr,
                                                  const weft_socket_options *opts,
                                                  weft_stream **out, const char *site);
#define weft_stream_connect(op, addr, opts, out)                               \
    weft_stream_connect_init((op), (addr), (opts), (out), WEFT__SITE)

/* Reads what is there, at most `len` bytes: output the count (>= 1), 0 at
 * the end of the stream (and for len 0), or an error. */
WEFT_EXTERN weft_future *weft_stream_read_init(weft_net_op *op, weft_stream *s, void *buf,
                                               size_t len, const char *site);
#define weft_stream_read(op, s, buf, len) weft_stream_read_init((op), (s), (buf), (len), WEFT__SITE)
/* Writes some of the bytes: output the count written (>= 1 unless len 0). */
WEFT_EXTERN weft_future *weft_stream_write_init(weft_net_op *op, weft_stream *s,
                                                const void *buf, size_t len, const char *site);
#define weft_stream_write(op, s, buf, len)                                     \
    weft_stream_write_init((op), (s), (buf), (len), WEFT__SITE)
/* Reads exactly `len` bytes: output `len`, or WEFT_EEOF if the stream
 * ended first (the bytes read are in the buffer; the count in
 * weft_net_op_progress). */
WEFT_EXTERN weft_future *weft_stream_read_exact_init(weft_net_op *op, weft_stream *s, void *buf,
                                                     size_t len, const char *site);
#define weft_stream_read_exact(op, s, buf, len)                                \
    weft_stream_read_exact_init((op), (s), (buf), (len), WEFT__SITE)
/* Writes all `len` bytes: output `len`, or the error that stopped it. */
WEFT_EXTERN weft_future *weft_stream_write_all_init(weft_net_op *op, weft_stream *s,
                                                    const void *buf, size_t len,
                                                    const char *site);
#define weft_stream_write_all(op, s, buf, len)                                 \
    weft_stream_write_all_init((op), (s), (buf), (len), WEFT__SITE)
/* Vectored: `iov` (and what it points at) must live until the op ends. */
WEFT_EXTERN weft_future *weft_stream_readv_init(weft_net_op *op, weft_stream *s,
                                                const weft_iovec *iov, int iovcnt,
                                                const char *site);
#define weft_stream_readv(op, s, iov, n) weft_stream_readv_init((op), (s), (iov), (n), WEFT__SITE)
/* Writes from several buffers at once: output the count written. */
WEFT_EXTERN weft_future *weft_stream_writev_init(weft_net_op *op, weft_stream *s,
                                                 const weft_iovec *iov, int iovcnt,
                                                 const char *site);
#define weft_stream_writev(op, s, iov, n) weft_stream_writev_init((op), (s), (iov), (n), WEFT__SITE)

/* Datagrams: one datagram per call.  A datagram larger than `len` fills
 * the buffer and the op returns WEFT_ETRUNCATED (never a silent cut);
 * weft_net_op_datagram_size then says how large it was. */
WEFT_EXTERN weft_future *weft_datagram_send_to_init(weft_net_op *op, weft_datagram *s,
                                                    const void *buf, size_t len,
                                                    const weft_addr *to, const char *site);
#define weft_datagram_send_to(op, s, buf, len, to)                             \
    weft_datagram_send_to_init((op), (s), (buf), (len), (to), WEFT__SITE)
/* Receives one datagram: output its size (or WEFT_ETRUNCATED), the
 * sender in *from unless NULL. */
WEFT_EXTERN weft_future *weft_datagram_recv_from_init(weft_net_op *op, weft_datagram *s,
                                                      void *buf, size_t len, weft_addr *from,
                                                      const char *site);
#define weft_datagram_recv_from(op, s, buf, len, from)                         \
    weft_datagram_recv_from_init((op), (s), (buf), (len), (from), WEFT__SITE)
/* To / from the connected peer (weft_datagram_connect). */
#define weft_datagram_send(op, s, buf, len)                                    \
    weft_datagram_send_to_init((op), (s), (buf), (len), NULL, WEFT__SITE)
#define weft_datagram_recv(op, s, buf, len)                                    \
    weft_datagram_recv_from_init((op), (s), (buf), (len), NULL, WEFT__SITE)

/* Readiness, for callers who make their own syscalls on
 * weft_socket_raw: output 0 once the socket may be read (or written)
 * without blocking, or an error.  After a syscall that would block, call
 * weft_socket_clear_ready so the next wait really waits.  A stream read
 * through weft asks the kernel for up to 64 bytes beyond the caller's
 * buffer (so a read that fills the buffer knows whether the socket was
 * drained, and never makes a call that only says EAGAIN); such bytes wait
 * in weft for the next weft read.  Mixing weft's reads with your own on
 * the raw descriptor reorders them: pick one per stream.  On IOCP (a
 * completion driver) readable waits with a zero-byte receive and
 * writable is ready at once (Winsock takes a send whole); bytes a
 * dropped weft read had already received wait for the next weft read,
 * not for a try_read. */
WEFT_EXTERN weft_future *weft_socket_readable_init(weft_net_op *op, weft_socket *s,
                                                   const char *site);
#define weft_socket_readable(op, s) weft_socket_readable_init((op), (s), WEFT__SITE)
/* Output 0 once the socket may be written without blocking. */
WEFT_EXTERN weft_future *weft_socket_writable_init(weft_net_op *op, weft_socket *s,
                                                   const char *site);
#define weft_socket_writable(op, s) weft_socket_writable_init((op), (s), WEFT__SITE)
enum { WEFT_READABLE = 1, WEFT_WRITABLE = 2 };
/* Forgets the readiness `which` (WEFT_READABLE | WEFT_WRITABLE) so the
 * next readable / writable waits for a new report. */
WEFT_EXTERN void weft_socket_clear_ready(weft_socket *s, int which);

/* Non-blocking attempts, never waiting: a count, or WEFT_EAGAIN when the
 * call would block (then await readable / writable), or an error. */
WEFT_EXTERN int64_t weft_stream_try_read(weft_stream *s, void *buf, size_t len);
/* Writes what fits now, without waiting. */
WEFT_EXTERN int64_t weft_stream_try_write(weft_stream *s, const void *buf, size_t len);
/* try_read into several buffers. */
WEFT_EXTERN int64_t weft_stream_try_readv(weft_stream *s, const weft_iovec *iov, int iovcnt);
/* try_write from several buffers. */
WEFT_EXTERN int64_t weft_stream_try_writev(weft_stream *s, const weft_iovec *iov, int iovcnt);
/* Accepts a pending connection if there is one (0), else WEFT_EAGAIN. */
WEFT_EXTERN int weft_listener_try_accept(weft_listener *l, weft_stream **out, weft_addr *peer);
/* Sends one datagram now (to the connected peer when `to` is NULL). */
WEFT_EXTERN int64_t weft_datagram_try_send_to(weft_datagram *s, const void *buf, size_t len,
                                              const weft_addr *to);
/* Receives one datagram if one is there. */
WEFT_EXTERN int64_t weft_datagram_try_recv_from(weft_datagram *s, void *buf, size_t len,
                                                weft_addr *from);

/* ------------------------------------------------------------- name lookup */

/* Resolves `host` and `port` to at most `cap` (<= 4096) addresses in
 * `out`: output the count (>= 1), WEFT_ENOTFOUND, WEFT_ETRYAGAIN, ...  An
 * IP literal is answered in the task, without leaving it; a name goes to
 * the driver's resolver (getaddrinfo, on the runtime's blocking pool).
 * `host` is copied at the first poll.  Dropping the future while a lookup
 * runs lets the lookup finish on its own and discards the answer. */
typedef struct weft_lookup {
    weft_future base;
    const char *weft__host;
    uint16_t weft__port;
    weft_addr *weft__out;
    size_t weft__cap;
    struct weft__lookup_job *weft__job;
    weft_join_handle weft__jh;
    int64_t weft__result;
} weft_lookup;

/* Makes the lookup future described above. */
WEFT_EXTERN weft_future *weft_lookup_init(weft_lookup *lk, const char *host, uint16_t port,
                                          weft_addr *out, size_t cap, const char *site);
#define weft_lookup(lk, host, port, out, cap)                                  \
    weft_lookup_init((lk), (host), (port), (out), (cap), WEFT__SITE)

/* The I/O driver this thread's runtime uses ("epoll", ...), or NULL. */
WEFT_EXTERN const char *weft_io_driver_name(void);

#ifdef __cplusplus
}
#endif
#endif
