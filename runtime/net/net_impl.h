/* weft — the network's machinery (private): the runtime's I/O driver, the
 * sockets, the readiness word.
 *
 * A socket is one runtime allocation: its readiness source (what the
 * driver reports, plus the waker of the one read-side and the one
 * write-side operation that may wait on it), its OS handle, and two
 * counters:
 *  - `refs`: the caller's reference (until close), one per operation
 *    future that names it, and the driver registration's (released after
 *    a later driver wait began, so an event the driver already fetched
 *    never points at freed memory);
 *  - `use`: threads inside a system call on the handle, plus CLOSED; the
 *    handle is closed by the last of close and those calls, so it is never
 *    reused under a call still running on it.
 */
#ifndef WEFT_RUNTIME_NET_IMPL_H
#define WEFT_RUNTIME_NET_IMPL_H

#include "weft/backend.h"
#include "weft/net.h"
#include "rt.h"

/* The readiness word: the bits a driver reported (WEFT_IO_*) in the low
 * byte and a tick above, bumped by every report, so an operation that
 * found the socket not ready clears only the readiness it saw: a report
 * that came in the meantime survives (Tokio's scheduled_io). */
#define WEFT__READY_MASK 0xffu
#define WEFT__TICK_ONE 0x100u

enum { WEFT__SIDE_READ = 0, WEFT__SIDE_WRITE = 1 };

struct weft_io_source {
    _Atomic uint64_t readiness;
    weft__spin lock;      /* guards the wakers */
    weft_waker waker[2];  /* by side */
    uintptr_t driver_data;
};

enum { WEFT__SOCK_LISTENER = 1, WEFT__SOCK_STREAM = 2, WEFT__SOCK_DGRAM = 3 };

#define WEFT__USE_CLOSED 0x80000000u

/* Bytes a stream read asks for beyond the caller's buffer: a read that
 * fills the buffer exactly still learns whether the socket was drained
 * (it got less than it asked), so it never needs a second call that only
 * says EAGAIN.  What comes beyond the buffer waits here for the next read. */
#define WEFT__READ_AHEAD 64

struct weft_socket {
    weft_io_source src; /* first: drivers' tokens are the source */
    struct weft__io *io;
    weft_os_socket os;
    uint8_t kind;       /* WEFT__SOCK_* */
    uint8_t family;     /* WEFT_AF_* */
    bool nodelay;       /* listener: give accepted streams TCP_NODELAY */
    bool registered;
    _Atomic uint32_t refs;
    _Atomic uint32_t use;
    _Atomic uint32_t busy; /* bit per side: an operation occupies it */
    struct weft_socket *release_next;
    struct weft__accept_pool *pool; /* completion drivers' listeners */
    /* Read ahead (streams): touched only by the read side. */
    uint16_t ra_off, ra_len;
    char ra[WEFT__READ_AHEAD];
    /* Completion drivers: a read-side record whose op was dropped after
     * the kernel had filled it, for the next read (touched only by the
     * read side; `carry_off`: bytes of it already taken). */
    struct weft__comp *carry;
    size_t carry_off, carry_len;
};

/* The runtime's I/O driver. */
enum { WEFT__IO_IDLE, WEFT__IO_WAITING, WEFT__IO_NOTIFIED };

typedef struct weft__io {
    weft__rt *rt;
    const weft_io_driver_ops *ops;
    void *drv;
    weft_allocator alloc;        /* the driver's: counted runtime memory */
    atomic_flag in_wait;         /* one thread waits in the driver at a time */
    _Atomic uint32_t wait_state; /* WEFT__IO_*: lets wake skip the syscall */
    _Atomic(weft_socket *) release; /* deregistered, freed at the next wait */
    _Atomic uint64_t sockets;    /* alive, for the leak check */
    _Atomic uint64_t inflight;   /* completion records submitted, not yet reported */
} weft__io;

/* ------------------------------------------------------ completion model
 *
 * A completion record (completion.c): the driver's weft_io_completion and
 * what the runtime keeps beside it.  Two references: the op's (or the
 * accept pool's) and, while submitted, the driver's.  `lock` guards
 * `state` and `waker`, which a report and the op's poll or drop meet on. */
enum { WEFT__COMP_IDLE, WEFT__COMP_SUBMITTED, WEFT__COMP_DONE };

typedef struct weft__comp {
    weft_io_completion c; /* first: the driver's pointer is the record */
    weft__io *io;
    weft__spin lock;
    uint8_t state;        /* WEFT__COMP_* */
    bool orphan;          /* its op was dropped while submitted */
    _Atomic uint32_t refs;
    int64_t result;
    weft_waker waker;
    size_t cap;           /* bytes of the record's own buffer */
    struct weft__accept_pool *pool; /* accept records: where the socket goes */
} weft__comp;

/* Accepts posted at once on a completion driver's listener (libuv posts
 * several too: a burst of connections is taken without a round trip per
 * connection).  Connections taken while no accept op waits queue here for
 * the next one; the listener's close closes them.  `refs`: the
 * listener's, one per posted record. */
#define WEFT__ACCEPTS_POSTED 4

typedef struct weft__accept_pool {
    weft__spin lock;
    _Atomic uint32_t refs;
    bool closed;
    int posted;
    int last_err;          /* the last submit's failure, for an op with nothing posted */
    weft_waker waker;      /* the accept op waiting */
    int head, len;
    struct {
        weft_os_socket os;
        weft_addr peer;
    } q[WEFT__ACCEPTS_POSTED];
} weft__accept_pool;

/* The op futures' kinds, states and flags (op.c, completion.c). */
enum {
    K_ACCEPT = 1, K_CONNECT, K_READ, K_WRITE, K_READ_EXACT, K_WRITE_ALL,
    K_RECV_FROM, K_SEND_TO, K_READABLE, K_WRITABLE,
};
enum { S_IDLE, S_WAITING, S_DONE, S_INVALID };
#define F_CLAIMED 1u    /* holds its side of the socket */
#define F_CONNECTING 2u /* connect in progress on weft__sock */
#define F_ARMED 4u      /* its waker was stored in the source */
#define F_POOL 8u       /* accept: its waker was stored in the accept pool */

/* Ends an op with `result`: gives its side back, hands a connected
 * socket over (or closes a failed one). */
weft_poll weft__op_finish(weft_net_op *op, int64_t result, void *out);

static inline bool weft__io_completion_model(const weft__io *io) {
    return io->ops->model == WEFT_IO_MODEL_COMPLETION;
}
/* The op state machine's completion half (completion.c): op.c hands its
 * futures over when the driver is a completion driver. */
weft_poll weft__comp_op_poll(weft_net_op *op, weft_context *cx, void *out);
void weft__comp_op_drop(weft_net_op *op);
/* A listener's close: queued connections are closed, posted accepts end. */
void weft__comp_listener_closed(weft_socket *l);
/* A new listener's accept pool. */
int weft__comp_listener_pool(weft_socket *l);
/* A socket's last reference: what it still keeps for the next read. */
void weft__comp_socket_freed(weft_socket *s);

/* The drivers built into this library (io_drivers.c, made by meson),
 * NULL-terminated, the platform's best first. */
extern const weft_io_driver_ops *const weft__io_drivers[];

int weft__io_create(weft__rt *rt);
void weft__io_destroy(weft__rt *rt);
/* Waits in the driver until an event, a wake or `deadline_ns` (0: poll
 * without blocking).  Returns false at once if another thread is in it. */
bool weft__io_wait(weft__rt *rt, uint64_t deadline_ns);
/* Makes the thread in weft__io_wait return (or the next wait not block). */
void weft__io_wake(weft__rt *rt);

/* Sockets (socket.c). */
weft__io *weft__io_current(int *err);
/* Registers `os` (closed on failure) as a new socket.  `ready`: the
 * readiness to start with (optimistic, or 0 for a connect in progress). */
int weft__sock_new(weft__io *io, weft_os_socket os, int kind, int family, uint32_t ready,
                   weft_socket **out);
/* An unregistered OS socket for `a`, options applied. */
int weft__sock_open(weft__io *io, const weft_addr *a, int type, const weft_socket_options *o,
                    bool listener, weft_os_socket *out);
void weft__sock_ref(weft_socket *s);
void weft__sock_unref(weft_socket *s);
/* Brackets a system call on s->os: false (and no call) once closed. */
bool weft__sock_enter(weft_socket *s);
void weft__sock_leave(weft_socket *s);
/* Clears the readiness `bits` if no report came since `seen` was read. */
void weft__sock_clear_ready(weft_socket *s, uint64_t seen, uint32_t bits);
void weft__sock_release_pending(weft__io *io);

/* One non-blocking attempt of each kind: a result, or WEFT_EAGAIN. */
int64_t weft__sock_try_recv(weft_socket *s, const weft_iovec *iov, int n, weft_addr *from,
                            size_t *full, uint64_t *seen);
/* A stream read through the read-ahead: `*drained` says the socket had
 * nothing more (the next call would block). */
int64_t weft__stream_try_recv(weft_socket *s, const weft_iovec *iov, int n, uint64_t *seen,
                              bool *drained);
int64_t weft__sock_try_send(weft_socket *s, const weft_iovec *iov, int n, const weft_addr *to,
                            uint64_t *seen);
int weft__sock_try_accept(weft_socket *l, weft_socket **out, weft_addr *peer, uint64_t *seen);

#endif
