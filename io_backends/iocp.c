/* weft — the IOCP driver (Windows): a completion driver.
 *
 * Every socket is associated with one I/O completion port when the
 * runtime registers it.  The runtime's completion half
 * (runtime/net/completion.c) submits one record per call; its OVERLAPPED
 * and the call's arguments live in the record's driver area (an
 * `iocp_op`), its buffer is the record's own, and the record stays alive
 * until its packet is dequeued here, even if the op that made it was
 * dropped.  Calls: AcceptEx (the runtime keeps several posted per
 * listener), ConnectEx (on a bound socket), WSARecv / WSASend,
 * WSARecvFrom / WSASendTo, and a zero-byte WSARecv for readable.  wait
 * dequeues up to 64 packets per GetQueuedCompletionStatusEx;
 * PostQueuedCompletionStatus with no OVERLAPPED wakes it.
 *
 * Synchronous success.  With FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set on
 * a socket, a call that finishes at once queues no packet: submit
 * reports it itself, saving a trip through the port per message.  That
 * is unsafe when a non-IFS Layered Service Provider sits over the TCP/IP
 * provider (its handles are not the kernel's: the flag is ignored or the
 * packet is lost), so create checks every TCP and UDP provider's
 * XP1_IFS_HANDLES (libuv's test too) and sets the flag only when all have
 * it; a socket where setting it fails just keeps its packets.
 *
 * Cancel.  CancelIoEx on the one OVERLAPPED, then a bounded wait until
 * the kernel has settled the call (its Internal word leaves
 * STATUS_PENDING), so the runtime learns what the call did (bytes a
 * cancelled read received are kept for the next read, bytes a cancelled
 * write sent are counted).  The packet still comes and frees the record.
 *
 * Errors: the packet's NTSTATUS (weft__nt_translate), a failed call's
 * WSA error (weft__win_translate): both in winsock.c, one table with the
 * POSIX drivers' codes.
 *
 * Wine (where CI runs this, wine 8): AcceptEx, ConnectEx, GQCSEx,
 * CancelIoEx, zero-byte reads and the skip flag behave as documented for
 * the calls made here (each checked with a small program first), and
 * WSAEnumProtocols lists only wine's own providers, all IFS, so the skip
 * flag is on there too.  The driver has no wine-only path.  Where wine
 * differs from Windows (a close with a zero linger sends no reset, no
 * AF_UNIX, GetProcessHandleCount answers 0, every overlapped call goes
 * through wineserver), io_backends/README.md says so and the tests
 * account for it.
 */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <string.h>

#include "winsock.h"

/* The runtime's monotonic clock (runtime/os_win.c): deadlines are on it. */
uint64_t weft__os_now_ns(void);

#define BATCH 64
#define ADDR_ROOM (sizeof(struct sockaddr_in6) + 16) /* AcceptEx's rule */
#define SKIP_FLAG 1u /* driver_data: the socket skips the port on success */

#ifndef FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
#endif

/* One call's state, in its record's driver area. */
typedef struct iocp_op {
    OVERLAPPED ov;
    WSABUF wb;
    DWORD flags;
    INT addrlen;
    union {
        struct sockaddr_storage sa;             /* connect / send_to / recv_from */
        char accept_addrs[2 * ADDR_ROOM];       /* AcceptEx's local + remote */
    } u;
} iocp_op;
_Static_assert(sizeof(iocp_op) <= WEFT_IO_DRIVER_AREA, "iocp_op fits the driver area");

typedef struct iocp_driver {
    HANDLE port;
    bool skip_ok; /* every TCP/UDP provider is IFS: the skip flag is safe */
    LPFN_ACCEPTEX accept_ex;
    LPFN_CONNECTEX connect_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    weft_allocator alloc;
    OVERLAPPED_ENTRY entries[BATCH];
} iocp_driver;

static iocp_op *op_of(weft_io_completion *c) { return (iocp_op *)(void *)c->driver; }

static weft_io_completion *completion_of(OVERLAPPED *ov) {
    return (weft_io_completion *)(void *)((char *)ov - offsetof(weft_io_completion, driver));
}

static int wsa_err(void) { return weft__win_translate(WSAGetLastError()); }

/* --------------------------------------------------------------- setup */

static bool load(SOCKET s, GUID g, void *fn, size_t size) {
    DWORD got;
    return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &g, sizeof g, fn, (DWORD)size, &got,
                    NULL, NULL) == 0;
}

/* Whether every TCP and UDP provider hands out kernel (IFS) handles. */
static bool providers_are_ifs(void) {
    DWORD size = 0;
    if (WSAEnumProtocolsW(NULL, NULL, &size) != SOCKET_ERROR || WSAGetLastError() != WSAENOBUFS)
        return false;
    WSAPROTOCOL_INFOW *info = malloc(size);
    if (!info)
        return false;
    int n = WSAEnumProtocolsW(NULL, info, &size);
    bool ok = n != SOCKET_ERROR;
    for (int i = 0; ok && i < n; i++) {
        int af = info[i].iAddressFamily, proto = info[i].iProtocol;
        if ((af == AF_INET || af == AF_INET6) && (proto == IPPROTO_TCP || proto == IPPROTO_UDP) &&
            !(info[i].dwServiceFlags1 & XP1_IFS_HANDLES))
            ok = false;
    }
    free(info);
    return ok;
}

static int iocp_create(const weft_allocator *a, void **out) {
    int err = weft__winsock_init();
    if (err)
        return err;
    iocp_driver *d = a->alloc(a->ctx, sizeof *d);
    if (!d) {
        weft__winsock_fini();
        return WEFT_ENOMEM;
    }
    memset(d, 0, sizeof *d);
    d->alloc = *a;
    d->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    GUID ga = WSAID_ACCEPTEX, gc = WSAID_CONNECTEX, gs = WSAID_GETACCEPTEXSOCKADDRS;
    if (!d->port)
        err = weft__win_translate((int)GetLastError());
    else if (s == INVALID_SOCKET)
        err = wsa_err();
    else if (!load(s, ga, &d->accept_ex, sizeof d->accept_ex) ||
             !load(s, gc, &d->connect_ex, sizeof d->connect_ex) ||
             !load(s, gs, &d->accept_addrs, sizeof d->accept_addrs))
        err = WEFT_ENOTSUP;
    if (s != INVALID_SOCKET)
        closesocket(s);
    if (err) {
        if (d->port)
            CloseHandle(d->port);
        a->free(a->ctx, d, sizeof *d);
        weft__winsock_fini();
        return err;
    }
    d->skip_ok = providers_are_ifs();
    *out = d;
    return 0;
}

static void iocp_destroy(void *drv) {
    iocp_driver *d = drv;
    CloseHandle(d->port);
    d->alloc.free(d->alloc.ctx, d, sizeof *d);
    weft__winsock_fini();
}

static int iocp_register(void *drv, weft_io_source *src, weft_os_socket s) {
    iocp_driver *d = drv;
    if (!CreateIoCompletionPort((HANDLE)s, d->port, 0, 0))
        return weft__win_translate((int)GetLastError());
    uintptr_t *data = weft_io_source_driver_data(src);
    *data = 0;
    if (d->skip_ok &&
        SetFileCompletionNotificationModes(
            (HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE))
        *data = SKIP_FLAG;
    return 0;
}

/* A socket leaves its port when it is closed; nothing to undo before. */
static int iocp_deregister(void *drv, weft_io_source *src, weft_os_socket s) {
    (void)drv;
    (void)src;
    (void)s;
    return 0;
}

/* ------------------------------------------------------------ finishing */

/* The call's result from its status and byte count, after the follow-up
 * an accept and a connect need. */
static int64_t finish(iocp_driver *d, weft_io_completion *c, long status, DWORD bytes) {
    iocp_op *o = op_of(c);
    int err = weft__nt_translate(status);
    switch (c->op) {
    case WEFT_IO_OP_ACCEPT: {
        if (err)
            return err;
        SOCKET l = (SOCKET)c->sock;
        if (setsockopt((SOCKET)c->accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char *)&l,
                       sizeof l))
            return wsa_err();
        struct sockaddr *local = NULL, *remote = NULL;
        INT llen = 0, rlen = 0;
        d->accept_addrs(o->u.accept_addrs, 0, ADDR_ROOM, ADDR_ROOM, &local, &llen, &remote, &rlen);
        memset(&c->addr, 0, sizeof c->addr);
        if (remote)
            weft__winsock_from_os(remote, &c->addr);
        return 0;
    }
    case WEFT_IO_OP_CONNECT:
        if (err)
            return err;
        if (setsockopt((SOCKET)c->sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0))
            return wsa_err();
        return 0;
    case WEFT_IO_OP_RECV_FROM:
        if (err && err != WEFT_ETRUNCATED)
            return err;
        weft__winsock_from_os(&o->u.sa, &c->addr);
        return err ? err : (int64_t)bytes;
    case WEFT_IO_OP_POLL_READ:
        return err == WEFT_ETRUNCATED ? 0 : err; /* a peeked datagram is "more" */
    default:
        return err ? err : (int64_t)bytes;
    }
}

/* A call that returned: pending (0), done at once, or failed.  Done at
 * once on a socket that skips the port: report it now (no packet). */
static int started(iocp_driver *d, weft_io_completion *c, bool ok, DWORD bytes) {
    if (!ok) {
        int e = WSAGetLastError();
        if (e == WSA_IO_PENDING)
            return 0;
        return weft__win_translate(e);
    }
    if (c->sock_data & SKIP_FLAG) {
        iocp_op *o = op_of(c);
        weft_io_complete(c, finish(d, c, (long)o->ov.Internal, bytes));
    }
    return 0;
}

/* ----------------------------------------------------------- submitting */

static int iocp_submit(void *drv, weft_io_completion *c) {
    iocp_driver *d = drv;
    iocp_op *o = op_of(c);
    memset(&o->ov, 0, sizeof o->ov);
    SOCKET s = (SOCKET)c->sock;
    DWORD bytes = 0;
    int r, err;
    o->flags = 0;
    o->wb.buf = c->buf;
    o->wb.len = (ULONG)c->len;
    switch (c->op) {
    case WEFT_IO_OP_ACCEPT: {
        weft_os_socket a;
        err = weft__winsock_sys.open(drv, c->family, WEFT_SOCK_STREAM, &a);
        if (err)
            return err; /* out of sockets: WEFT_EMFILE / WEFT_ENOBUFS */
        c->accepted = a;
        BOOL ok = d->accept_ex(s, (SOCKET)a, o->u.accept_addrs, 0, ADDR_ROOM, ADDR_ROOM, &bytes,
                               &o->ov);
        err = started(d, c, ok, bytes);
        if (err) {
            closesocket((SOCKET)a);
            c->accepted = WEFT_OS_SOCKET_NONE;
        }
        return err;
    }
    case WEFT_IO_OP_CONNECT: {
        int len;
        if ((err = weft__winsock_to_os(&c->addr, &o->u.sa, &len)) != 0)
            return err;
        BOOL ok = d->connect_ex(s, (struct sockaddr *)&o->u.sa, len, NULL, 0, NULL, &o->ov);
        return started(d, c, ok, 0);
    }
    case WEFT_IO_OP_RECV:
        r = WSARecv(s, &o->wb, 1, &bytes, &o->flags, &o->ov, NULL);
        return started(d, c, r == 0, bytes);
    case WEFT_IO_OP_POLL_READ:
        /* No bytes asked: ends once some are there (a stream) or a
         * datagram waits (peeked, so not consumed). */
        o->wb.buf = NULL;
        o->wb.len = 0;
        o->flags = c->type == WEFT_SOCK_DGRAM ? MSG_PEEK : 0;
        r = WSARecv(s, &o->wb, 1, &bytes, &o->flags, &o->ov, NULL);
        return started(d, c, r == 0, bytes);
    case WEFT_IO_OP_SEND:
        r = WSASend(s, &o->wb, 1, &bytes, 0, &o->ov, NULL);
        return started(d, c, r == 0, bytes);
    case WEFT_IO_OP_RECV_FROM:
        o->addrlen = (INT)sizeof o->u.sa;
        memset(&o->u.sa, 0, sizeof o->u.sa);
        r = WSARecvFrom(s, &o->wb, 1, &bytes, &o->flags, (struct sockaddr *)&o->u.sa, &o->addrlen,
                        &o->ov, NULL);
        return started(d, c, r == 0, bytes);
    case WEFT_IO_OP_SEND_TO: {
        int len;
        if ((err = weft__winsock_to_os(&c->addr, &o->u.sa, &len)) != 0)
            return err;
        r = WSASendTo(s, &o->wb, 1, &bytes, 0, (struct sockaddr *)&o->u.sa, len, &o->ov, NULL);
        return started(d, c, r == 0, bytes);
    }
    }
    return WEFT_EINVAL;
}

/* Asks for the call's end, then waits (bounded) until the kernel settled
 * it: its result, or WEFT_EAGAIN if it had not settled in time. */
static int64_t iocp_cancel(void *drv, weft_io_completion *c) {
    iocp_driver *d = drv;
    iocp_op *o = op_of(c);
    CancelIoEx((HANDLE)c->sock, &o->ov);
    for (int i = 0; i < 2000; i++) {
        long st = (long)*(volatile ULONG_PTR *)&o->ov.Internal;
        if (st != (long)STATUS_PENDING) {
            MemoryBarrier(); /* the bytes and the buffer, after the status */
            DWORD bytes = (DWORD)o->ov.InternalHigh;
            if (c->op == WEFT_IO_OP_ACCEPT || c->op == WEFT_IO_OP_CONNECT)
                return weft__nt_translate(st); /* the follow-up is the report's */
            return finish(d, c, st, bytes);
        }
        if (i < 100)
            SwitchToThread();
        else
            Sleep(1);
    }
    return WEFT_EAGAIN;
}

/* ---------------------------------------------------------------- waiting */

static DWORD timeout_ms(uint64_t deadline_ns) {
    if (deadline_ns == 0)
        return 0;
    if (deadline_ns == UINT64_MAX)
        return INFINITE;
    uint64_t now = weft__os_now_ns();
    if (deadline_ns <= now)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    return ms > 86400000u ? 86400000u : (DWORD)ms;
}

static int iocp_wait(void *drv, uint64_t deadline_ns) {
    iocp_driver *d = drv;
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(d->port, d->entries, BATCH, &n, timeout_ms(deadline_ns),
                                     FALSE)) {
        DWORD e = GetLastError();
        return e == WAIT_TIMEOUT ? 0 : weft__win_translate((int)e);
    }
    for (ULONG i = 0; i < n; i++) {
        OVERLAPPED *ov = d->entries[i].lpOverlapped;
        if (!ov)
            continue; /* a wake */
        weft_io_completion *c = completion_of(ov);
        weft_io_complete(c, finish(d, c, (long)ov->Internal,
                                   d->entries[i].dwNumberOfBytesTransferred));
    }
    return (int)n;
}

static void iocp_wake(void *drv) {
    iocp_driver *d = drv;
    PostQueuedCompletionStatus(d->port, 0, 0, NULL);
}

const weft_io_driver_ops weft__io_iocp = {
    .name = "iocp",
    .model = WEFT_IO_MODEL_COMPLETION,
    .create = iocp_create,
    .destroy = iocp_destroy,
    .register_source = iocp_register,
    .deregister = iocp_deregister,
    .submit = iocp_submit,
    .cancel = iocp_cancel,
    .wait = iocp_wait,
    .wake = iocp_wake,
    .sys = &weft__winsock_sys,
};
