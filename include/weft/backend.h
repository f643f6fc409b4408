/* weft — for people writing an I/O driver.
 *
 * A driver is one file in io_backends/ filling one `weft_io_driver_ops`:
 * how to register a socket for readiness (or submit an operation for
 * completion), wait for events until a deadline, and wake the waiting
 * thread from another thread; plus `weft_io_sys`, the socket calls
 * themselves (BSD sockets for epoll and kqueue, Winsock for IOCP, fake
 * sockets for the simulator).  The runtime (runtime/net/) runs the one
 * operation state machine over it; meson.build lists the drivers a
 * platform builds, and the builder picks one at run time.
 *
 * Threads.  `wait` is called by one thread at a time (the runtime makes
 * sure); every other call may come from any thread of the runtime,
 * concurrently, including `wake` while another thread is in `wait`.
 *
 * Readiness drivers (epoll, kqueue) register each socket once, for both
 * directions, edge-triggered, with the `weft_io_source` as its token; from
 * `wait` they report what became ready with weft_io_source_ready.  A
 * source is never freed while a `wait` that may still report it runs: the
 * runtime frees a deregistered source only after a later `wait` began.
 *
 * Completion drivers (IOCP, io_uring) also implement `submit` and
 * `cancel`: the runtime hands over a `weft_io_completion` that stays alive
 * (runtime-owned, even if the future that made it is dropped: it is then
 * "orphaned") until the driver reports it complete.  Until then the
 * kernel may hold its buffers.
 */
#ifndef WEFT_BACKEND_H
#define WEFT_BACKEND_H

#include <stdint.h>

#include "weft/net.h"
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An OS socket: an fd on POSIX, a SOCKET on Windows, a fake socket's id
 * in the simulator. */
typedef intptr_t weft_os_socket;
#define WEFT_OS_SOCKET_NONE ((weft_os_socket)-1)

/* Readiness bits a driver reports. */
enum {
    WEFT_IO_READABLE = 1u,
    WEFT_IO_WRITABLE = 2u,
    WEFT_IO_READ_CLOSED = 4u,  /* the peer shut its write half (EOF ahead) */
    WEFT_IO_WRITE_CLOSED = 8u, /* no more writes can succeed */
    WEFT_IO_ERROR = 16u,       /* an error is pending on the socket */
};

/* What the runtime keeps per registered socket; drivers use only the
 * functions below and the `driver_data` word. */
typedef struct weft_io_source weft_io_source;
/* Reports readiness bits (WEFT_IO_*) for a source; wakes what waits. */
WEFT_EXTERN void weft_io_source_ready(weft_io_source *src, uint32_t ready);
/* One word per source for the driver's own use. */
WEFT_EXTERN uintptr_t *weft_io_source_driver_data(weft_io_source *src);

/* Options the sys layer sets (value: 0/1 or a size or seconds). */
enum {
    WEFT_SO_REUSEADDR,
    WEFT_SO_REUSEPORT,
    WEFT_SO_V6ONLY,
    WEFT_SO_NODELAY,
    WEFT_SO_KEEPALIVE,      /* value: idle seconds, < 0 off, 0 on with OS default */
    WEFT_SO_LINGER,         /* value: seconds, < 0 off */
    WEFT_SO_RCVBUF,
    WEFT_SO_SNDBUF,
    WEFT_SO_BROADCAST,
    WEFT_SO_MULTICAST_LOOP,
    WEFT_SO_MULTICAST_TTL,
    WEFT_SO_ERROR,          /* get only: the pending error as a weft code */
};

enum { WEFT_SOCK_STREAM = 1, WEFT_SOCK_DGRAM = 2 };

/* The socket calls.  All non-blocking; errors are weft codes (WEFT_EAGAIN
 * when the call would block).  `drv` is the driver instance. */
typedef struct weft_io_sys {
    int (*open)(void *drv, int family, int type, weft_os_socket *out);
    void (*close)(void *drv, weft_os_socket s);
    int (*bind)(void *drv, weft_os_socket s, const weft_addr *a);
    int (*listen)(void *drv, weft_os_socket s, int backlog);
    /* 0 connected, WEFT_EAGAIN in progress (the runtime registers the
     * socket, waits until it reports writable, then calls connect_result:
     * 0 or the connect's error), or an error. */
    int (*connect)(void *drv, weft_os_socket s, const weft_addr *a);
    int (*connect_result)(void *drv, weft_os_socket s);
    /* Out of descriptors, it must drop the pending connection and return
     * WEFT_EMFILE / WEFT_ENFILE without leaving the listener readable
     * forever (see weft_listener_accept). */
    int (*accept)(void *drv, weft_os_socket s, weft_os_socket *out, weft_addr *peer);
    /* Bytes read into the buffers (0: end of stream); with `from`, the
     * sender.  A datagram larger than the buffers: WEFT_ETRUNCATED, with
     * its size in *full. */
    int64_t (*recv)(void *drv, weft_os_socket s, const weft_iovec *iov, int iovcnt,
                    weft_addr *from, size_t *full);
    /* Never raises SIGPIPE: a closed peer is WEFT_EPIPE. */
    int64_t (*send)(void *drv, weft_os_socket s, const weft_iovec *iov, int iovcnt,
                    const weft_addr *to);
    int (*shutdown)(void *drv, weft_os_socket s, int how);
    int (*setopt)(void *drv, weft_os_socket s, int opt, int value);
    int (*getopt)(void *drv, weft_os_socket s, int opt, int *value);
    int (*name)(void *drv, weft_os_socket s, bool peer, weft_addr *out);
    int (*multicast)(void *drv, weft_os_socket s, bool join, const weft_addr *group,
                     const weft_addr *iface);
    int (*connect_dgram)(void *drv, weft_os_socket s, const weft_addr *a);
    /* Blocking name lookup (run on the blocking pool): count or error. */
    int (*lookup)(void *drv, const char *host, uint16_t port, weft_addr *out, size_t cap);
} weft_io_sys;

/* A completion driver's operation (IOCP, io_uring): one overlapped call,
 * runtime-owned.  The runtime fills the request, hands it to `submit`,
 * and the driver reports its end exactly once with weft_io_complete;
 * until then the record (its buffer, its driver area) stays alive even if
 * the op future that made it was dropped (it is then "orphaned": the
 * runtime cancels it and frees it, or closes the socket an accept made,
 * when the report comes).  The buffer is the record's own, never the
 * caller's: the runtime copies into it before a send and out of it after
 * a receive, so the kernel never holds memory the caller may reuse. */
enum {
    WEFT_IO_OP_ACCEPT = 1, /* into `accepted`, made by the driver; peer in `addr` */
    WEFT_IO_OP_CONNECT,    /* to `addr`; the socket is bound first */
    WEFT_IO_OP_RECV,       /* into buf[0..len): bytes, 0 at the end of a stream */
    WEFT_IO_OP_SEND,       /* from buf[0..len): bytes */
    WEFT_IO_OP_RECV_FROM,  /* one datagram into buf, its sender in `addr` */
    WEFT_IO_OP_SEND_TO,    /* one datagram to `addr` (family 0: the connected peer) */
    WEFT_IO_OP_POLL_READ,  /* no bytes: ends (0) once a read would not block */
};
/* Bytes of driver state in each record (the OVERLAPPED and the call's
 * arguments that must outlive it). */
#define WEFT_IO_DRIVER_AREA 256

typedef struct weft_io_completion {
    /* The request (the runtime's, read-only to the driver). */
    int op;               /* WEFT_IO_OP_* */
    int family;           /* WEFT_AF_* of `sock` */
    int type;             /* WEFT_SOCK_STREAM or WEFT_SOCK_DGRAM */
    weft_os_socket sock;
    uintptr_t sock_data;  /* the source's driver_data word at submit */
    char *buf;
    size_t len;
    /* Both ways: connect / send_to target; accept / recv_from peer. */
    weft_addr addr;
    /* The driver's answer (set before weft_io_complete). */
    weft_os_socket accepted; /* accept: the new socket, the runtime's once complete */
    _Alignas(16) unsigned char driver[WEFT_IO_DRIVER_AREA];
} weft_io_completion;

/* Reports the end of a submitted operation, once: `result` is a byte
 * count (or 0) or a weft error code.  From `wait`, or from `submit`
 * itself when the call finished at once without a completion packet. */
WEFT_EXTERN void weft_io_complete(weft_io_completion *c, int64_t result);

enum { WEFT_IO_MODEL_READINESS = 1, WEFT_IO_MODEL_COMPLETION = 2 };
/* The driver's calls never block and run on one thread (the simulator):
 * lookups run in the task, not on the blocking pool, and a closed
 * socket is freed at once (no wait can be reporting it). */
#define WEFT_IO_INLINE 1u

typedef struct weft_io_driver_ops {
    const char *name;  /* "epoll", "kqueue", "iocp", "sim" */
    int model;         /* WEFT_IO_MODEL_* */
    unsigned flags;    /* WEFT_IO_INLINE */
    int (*create)(const weft_allocator *a, void **drv);
    void (*destroy)(void *drv);
    /* Readiness: watch `s` for both directions, edge-triggered, reporting
     * through `src`. */
    int (*register_source)(void *drv, weft_io_source *src, weft_os_socket s);
    int (*deregister)(void *drv, weft_io_source *src, weft_os_socket s);
    /* Completion only (NULL for readiness drivers).  `register_source`
     * then associates the socket with the driver (no readiness reports).
     * submit: 0, the operation started (or already reported complete);
     * or an error, nothing started and no report will come.
     * cancel: asks for a submitted operation's early end and waits,
     * briefly, until the kernel has settled it: returns what it did (a
     * byte count, or an error such as WEFT_ECANCELED), or WEFT_EAGAIN if
     * it could not tell in time.  Its report still comes. */
    int (*submit)(void *drv, weft_io_completion *c);
    int64_t (*cancel)(void *drv, weft_io_completion *c);
    /* Waits until an event, a wake, or `deadline_ns` on the OS monotonic
     * clock (0: do not block; UINT64_MAX: no deadline), reporting what
     * happened.  Never returns before the deadline unless something
     * happened or a wake came (spurious returns are allowed but must be
     * rare: the runtime then looks again). */
    int (*wait)(void *drv, uint64_t deadline_ns);
    /* Makes a `wait` in progress (or the next one) return soon. */
    void (*wake)(void *drv);
    const weft_io_sys *sys;
} weft_io_driver_ops;

#ifdef __cplusplus
}
#endif
#endif
