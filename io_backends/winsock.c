/* weft — Winsock: the socket calls of weft_io_sys on Windows.  Every
 * socket is made for overlapped I/O (the IOCP driver needs it) and set
 * non-blocking (for the calls here), not inherited by child processes,
 * and errors are translated at this edge.  No SIGPIPE exists here.
 *
 * Unix sockets: Windows 10 has AF_UNIX stream sockets, but wine (where CI
 * runs this) does not; they are reported as WEFT_EAFNOSUPPORT for now. */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <stdatomic.h>
#include <string.h>

#include "winsock.h"

/* ---------------------------------------------------------------- setup */

static _Atomic int users;

int weft__winsock_init(void) {
    WSADATA d;
    int e = WSAStartup(MAKEWORD(2, 2), &d);
    if (e)
        return weft__win_translate(e);
    atomic_fetch_add(&users, 1);
    return 0;
}

void weft__winsock_fini(void) {
    if (atomic_fetch_sub(&users, 1) > 0)
        WSACleanup();
}

/* ---------------------------------------------------------------- errors */

int weft__win_translate(int e) {
    switch (e) {
    case 0:
        return 0;
    case WSAEWOULDBLOCK:
    case WSAEINPROGRESS:
    case WSA_IO_PENDING:
        return WEFT_EAGAIN;
    case WSAEINTR:
    case WSAECANCELLED:
    case WSA_OPERATION_ABORTED: /* = ERROR_OPERATION_ABORTED, CancelIoEx's */
        return WEFT_ECANCELED;
    case WSAEINVAL:
    case WSAEFAULT:
    case WSAENOTSOCK:
    case WSAEBADF:
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_HANDLE:
        return WEFT_EINVAL;
    case WSA_NOT_ENOUGH_MEMORY: /* = ERROR_NOT_ENOUGH_MEMORY */
    case ERROR_OUTOFMEMORY:
        return WEFT_ENOMEM;
    case WSAENOBUFS:
        return WEFT_ENOBUFS;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
    case ERROR_PORT_UNREACHABLE:
        return WEFT_ECONNREFUSED;
    case WSAECONNRESET:
    case WSAENETRESET:
    case ERROR_NETNAME_DELETED: /* an overlapped read on a reset connection */
        return WEFT_ECONNRESET;
    case WSAECONNABORTED:
    case ERROR_CONNECTION_ABORTED:
        return WEFT_ECONNABORTED;
    case WSAESHUTDOWN: /* writing after our own shutdown(SD_SEND) */
        return WEFT_EPIPE;
    case WSAEADDRINUSE:
        return WEFT_EADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return WEFT_EADDRNOTAVAIL;
    case WSAENETUNREACH:
    case ERROR_NETWORK_UNREACHABLE:
        return WEFT_ENETUNREACH;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
    case ERROR_HOST_UNREACHABLE:
        return WEFT_EHOSTUNREACH;
    case WSAEMFILE:
        return WEFT_EMFILE;
    case WSAENOTCONN:
        return WEFT_ENOTCONN;
    case WSAEISCONN:
        return WEFT_EISCONN;
    case WSAEACCES:
        return WEFT_EACCES;
    case WSAEMSGSIZE:
    case ERROR_MORE_DATA: /* an overlapped datagram read that truncated */
        return WEFT_ETRUNCATED;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
        return WEFT_EAFNOSUPPORT;
    case WSAENETDOWN:
        return WEFT_ENETDOWN;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT:
        return WEFT_ETIMEDOUT;
    case WSAEOPNOTSUPP:
    case WSAENOPROTOOPT:
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
        return WEFT_ENOTSUP;
    case WSAEALREADY:
        return WEFT_EBUSY;
    case WSAHOST_NOT_FOUND:
    case WSANO_DATA:
        return WEFT_ENOTFOUND;
    case WSATRY_AGAIN:
        return WEFT_ETRYAGAIN;
    default:
        return WEFT_EIO;
    }
}

/* What a completion packet carries is the kernel's NTSTATUS (the
 * OVERLAPPED's Internal word), not a Win32 error: the statuses AFD
 * (the socket driver) ends a call with, mapped straight to weft's codes
 * so that no round trip through RtlNtStatusToDosError (which maps
 * several of them to one vague error) loses the distinction. */
int weft__nt_translate(long status) {
    switch ((unsigned long)status) {
    case 0x00000000: /* STATUS_SUCCESS */
        return 0;
    case 0x00000103: /* STATUS_PENDING */
        return WEFT_EAGAIN;
    case 0xC0000120: /* STATUS_CANCELLED */
        return WEFT_ECANCELED;
    case 0x80000005: /* STATUS_BUFFER_OVERFLOW: a datagram cut short */
    case 0xC0000023: /* STATUS_BUFFER_TOO_SMALL */
        return WEFT_ETRUNCATED;
    case 0xC0000236: /* STATUS_CONNECTION_REFUSED */
        return WEFT_ECONNREFUSED;
    case 0xC000020D: /* STATUS_CONNECTION_RESET */
    case 0xC000013C: /* STATUS_REMOTE_DISCONNECT */
    case 0xC000020C: /* STATUS_CONNECTION_DISCONNECTED */
        return WEFT_ECONNRESET;
    case 0xC0000241: /* STATUS_CONNECTION_ABORTED */
    case 0xC000013B: /* STATUS_LOCAL_DISCONNECT: after our own shutdown or close */
        return WEFT_ECONNABORTED;
    case 0xC00000B0: /* STATUS_PIPE_DISCONNECTED */
        return WEFT_EPIPE;
    case 0xC000023C: /* STATUS_NETWORK_UNREACHABLE */
        return WEFT_ENETUNREACH;
    case 0xC000023D: /* STATUS_HOST_UNREACHABLE */
        return WEFT_EHOSTUNREACH;
    case 0xC000023F: /* STATUS_PORT_UNREACHABLE */
        return WEFT_ECONNREFUSED;
    case 0xC00000B5: /* STATUS_IO_TIMEOUT */
        return WEFT_ETIMEDOUT;
    case 0xC000009A: /* STATUS_INSUFFICIENT_RESOURCES */
    case 0xC0000017: /* STATUS_NO_MEMORY */
        return WEFT_ENOMEM;
    case 0xC000020A: /* STATUS_ADDRESS_ALREADY_EXISTS */
        return WEFT_EADDRINUSE;
    case 0xC0000207: /* STATUS_INVALID_ADDRESS_COMPONENT */
        return WEFT_EADDRNOTAVAIL;
    case 0xC0000242: /* STATUS_GRACEFUL_DISCONNECT */
        return WEFT_EPIPE;
    case 0xC0000008: /* STATUS_INVALID_HANDLE: the socket was closed */
    case 0xC000000D: /* STATUS_INVALID_PARAMETER */
    case 0xC0000010: /* STATUS_INVALID_DEVICE_REQUEST */
        return WEFT_EINVAL;
    case 0xC0000022: /* STATUS_ACCESS_DENIED */
        return WEFT_EACCES;
    case 0xC00000BB: /* STATUS_NOT_SUPPORTED */
        return WEFT_ENOTSUP;
    case 0xC0000184: /* STATUS_INVALID_DEVICE_STATE: not connected */
        return WEFT_ENOTCONN;
    default:
        return WEFT_EIO;
    }
}

static int err_now(void) { return weft__win_translate(WSAGetLastError()); }

/* ------------------------------------------------------------ addresses */

typedef union sockaddr_any {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} sockaddr_any;

int weft__winsock_to_os(const weft_addr *a, void *out, int *len) {
    sockaddr_any *sa = out;
    memset(sa, 0, sizeof *sa);
    switch (a->family) {
    case WEFT_AF_INET:
        sa->in4.sin_family = AF_INET;
        sa->in4.sin_port = htons(a->port);
        memcpy(&sa->in4.sin_addr, a->u.v4, 4);
        *len = (int)sizeof sa->in4;
        return 0;
    case WEFT_AF_INET6:
        sa->in6.sin6_family = AF_INET6;
        sa->in6.sin6_port = htons(a->port);
        sa->in6.sin6_scope_id = a->scope_id;
        memcpy(&sa->in6.sin6_addr, a->u.v6, 16);
        *len = (int)sizeof sa->in6;
        return 0;
    case WEFT_AF_UNIX:
        return WEFT_EAFNOSUPPORT;
    default:
        return WEFT_EINVAL;
    }
}

void weft__winsock_from_os(const void *in, weft_addr *a) {
    const sockaddr_any *sa = in;
    memset(a, 0, sizeof *a);
    switch (sa->sa.sa_family) {
    case AF_INET:
        a->family = WEFT_AF_INET;
        a->port = ntohs(sa->in4.sin_port);
        memcpy(a->u.v4, &sa->in4.sin_addr, 4);
        break;
    case AF_INET6:
        a->family = WEFT_AF_INET6;
        a->port = ntohs(sa->in6.sin6_port);
        a->scope_id = sa->in6.sin6_scope_id;
        memcpy(a->u.v6, &sa->in6.sin6_addr, 16);
        break;
    }
}

/* -------------------------------------------------------------- sockets */

/* Non-blocking and not inherited; a datagram socket also stops reporting
 * an ICMP "port unreachable" from an earlier send as WSAECONNRESET on its
 * next receive (a Windows quirk no other system has: a UDP server would
 * otherwise see one client's dead port as its own error). */
static int prepare(SOCKET s, int type) {
    u_long on = 1;
    if (ioctlsocket(s, FIONBIO, &on))
        return err_now();
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    if (type == SOCK_DGRAM) {
        BOOL off = FALSE;
        DWORD got;
        WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &got, NULL, NULL);
    }
    return 0;
}

static int ws_open(void *drv, int family, int type, weft_os_socket *out) {
    (void)drv;
    if (family == WEFT_AF_UNIX)
        return WEFT_EAFNOSUPPORT;
    int f = family == WEFT_AF_INET ? AF_INET : family == WEFT_AF_INET6 ? AF_INET6 : -1;
    if (f < 0)
        return WEFT_EAFNOSUPPORT;
    int t = type == WEFT_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
    SOCKET s = WSASocketW(f, t, 0, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return err_now();
    int err = prepare(s, t);
    if (err) {
        closesocket(s);
        return err;
    }
    *out = (weft_os_socket)s;
    return 0;
}

static void ws_close(void *drv, weft_os_socket s) {
    (void)drv;
    closesocket((SOCKET)s);
}

static int ws_bind(void *drv, weft_os_socket s, const weft_addr *a) {
    (void)drv;
    sockaddr_any sa;
    int len;
    int err = weft__winsock_to_os(a, &sa, &len);
    if (err)
        return err;
    return bind((SOCKET)s, &sa.sa, len) ? err_now() : 0;
}

static int ws_listen(void *drv, weft_os_socket s, int backlog) {
    (void)drv;
    return listen((SOCKET)s, backlog) ? err_now() : 0;
}

static int ws_connect(void *drv, weft_os_socket s, const weft_addr *a) {
    (void)drv;
    sockaddr_any sa;
    int len;
    int err = weft__winsock_to_os(a, &sa, &len);
    if (err)
        return err;
    if (connect((SOCKET)s, &sa.sa, len) == 0)
        return 0;
    int e = WSAGetLastError();
    return e == WSAEWOULDBLOCK || e == WSAEINPROGRESS ? WEFT_EAGAIN : weft__win_translate(e);
}

static int ws_connect_result(void *drv, weft_os_socket s) {
    (void)drv;
    int e = 0;
    int len = sizeof e;
    if (getsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, (char *)&e, &len))
        return err_now();
    return weft__win_translate(e);
}

/* Out of sockets (WSAEMFILE) Windows keeps the connection queued; there is
 * no descriptor to lend as on POSIX.  The completion driver posts AcceptEx
 * with a socket made beforehand, so it meets the limit when making that
 * socket, not with a connection waiting. */
static int ws_accept(void *drv, weft_os_socket s, weft_os_socket *out, weft_addr *peer) {
    (void)drv;
    for (;;) {
        sockaddr_any sa;
        int len = (int)sizeof sa;
        SOCKET c = accept((SOCKET)s, &sa.sa, &len);
        if (c == INVALID_SOCKET) {
            int e = WSAGetLastError();
            if (e == WSAECONNRESET || e == WSAEINTR)
                continue; /* gone before we took it: try the next one */
            return weft__win_translate(e);
        }
        int err = prepare(c, SOCK_STREAM);
        if (err) {
            closesocket(c);
            return err;
        }
        if (peer)
            weft__winsock_from_os(&sa, peer);
        *out = (weft_os_socket)c;
        return 0;
    }
}

static int to_bufs(const weft_iovec *iov, int n, WSABUF *b, size_t *cap) {
    *cap = 0;
    for (int i = 0; i < n; i++) {
        if (iov[i].len > ULONG_MAX)
            return WEFT_EINVAL;
        b[i].buf = iov[i].base;
        b[i].len = (ULONG)iov[i].len;
        *cap += iov[i].len;
    }
    return 0;
}

/* A datagram larger than the buffers: Windows fills them and says
 * WSAEMSGSIZE without the datagram's size, so *full is the buffers' size
 * (the POSIX layer gives the real size where Linux tells it). */
static int64_t ws_recv(void *drv, weft_os_socket s, const weft_iovec *iov, int n, weft_addr *from,
                       size_t *full) {
    (void)drv;
    WSABUF b[WEFT_IOV_MAX];
    size_t cap;
    if (n < 0 || n > WEFT_IOV_MAX || to_bufs(iov, n, b, &cap))
        return WEFT_EINVAL;
    sockaddr_any sa;
    int salen = (int)sizeof sa;
    DWORD got = 0, flags = 0;
    int r = WSARecvFrom((SOCKET)s, b, (DWORD)n, &got, &flags, from ? &sa.sa : NULL,
                        from ? &salen : NULL, NULL, NULL);
    if (r) {
        int e = WSAGetLastError();
        if (e == WSAEMSGSIZE) {
            if (from)
                weft__winsock_from_os(&sa, from);
            if (full)
                *full = cap;
            return WEFT_ETRUNCATED;
        }
        return weft__win_translate(e);
    }
    if (from)
        weft__winsock_from_os(&sa, from);
    return (int64_t)got;
}

static int64_t ws_send(void *drv, weft_os_socket s, const weft_iovec *iov, int n,
                       const weft_addr *to) {
    (void)drv;
    WSABUF b[WEFT_IOV_MAX];
    size_t cap;
    if (n < 0 || n > WEFT_IOV_MAX || to_bufs(iov, n, b, &cap))
        return WEFT_EINVAL;
    sockaddr_any sa;
    int salen = 0;
    if (to) {
        int err = weft__winsock_to_os(to, &sa, &salen);
        if (err)
            return err;
    }
    DWORD put = 0;
    if (WSASendTo((SOCKET)s, b, (DWORD)n, &put, 0, to ? &sa.sa : NULL, salen, NULL, NULL))
        return err_now();
    return (int64_t)put;
}

static int ws_shutdown(void *drv, weft_os_socket s, int how) {
    (void)drv;
    int h = how == WEFT_SHUT_RD ? SD_RECEIVE : how == WEFT_SHUT_WR ? SD_SEND : SD_BOTH;
    return shutdown((SOCKET)s, h) ? err_now() : 0;
}

static int family_of(SOCKET s) {
    sockaddr_any sa;
    int len = (int)sizeof sa;
    memset(&sa, 0, sizeof sa);
    getsockname(s, &sa.sa, &len);
    return sa.sa.sa_family;
}

static int set_int(SOCKET s, int level, int name, int v) {
    DWORD d = (DWORD)v;
    return setsockopt(s, level, name, (const char *)&d, sizeof d) ? err_now() : 0;
}

static int ws_setopt(void *drv, weft_os_socket os, int opt, int value) {
    (void)drv;
    SOCKET s = (SOCKET)os;
    switch (opt) {
    case WEFT_SO_REUSEADDR:
        /* Windows lets a listener bind a port whose old connections are
         * in TIME_WAIT without any option, which is what REUSEADDR asks
         * for elsewhere; its SO_REUSEADDR would instead let another
         * socket steal a port in active use.  So: nothing to set. */
        return 0;
    case WEFT_SO_REUSEPORT:
        return WEFT_ENOTSUP;
    case WEFT_SO_V6ONLY:
        return set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, value);
    case WEFT_SO_NODELAY:
        return set_int(s, IPPROTO_TCP, TCP_NODELAY, value);
    case WEFT_SO_KEEPALIVE: {
        int err = set_int(s, SOL_SOCKET, SO_KEEPALIVE, value >= 0);
        if (err || value <= 0)
            return err;
        /* the idle time, with Windows' default probe interval of 1 s */
        struct tcp_keepalive k = {1, (ULONG)value * 1000u, 1000u};
        DWORD got;
        return WSAIoctl(s, SIO_KEEPALIVE_VALS, &k, sizeof k, NULL, 0, &got, NULL, NULL)
                   ? err_now()
                   : 0;
    }
    case WEFT_SO_LINGER: {
        struct linger l = {(u_short)(value >= 0), (u_short)(value >= 0 ? value : 0)};
        return setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&l, sizeof l) ? err_now() : 0;
    }
    case WEFT_SO_RCVBUF:
        return set_int(s, SOL_SOCKET, SO_RCVBUF, value);
    case WEFT_SO_SNDBUF:
        return set_int(s, SOL_SOCKET, SO_SNDBUF, value);
    case WEFT_SO_BROADCAST:
        return set_int(s, SOL_SOCKET, SO_BROADCAST, value);
    case WEFT_SO_MULTICAST_LOOP:
        return family_of(s) == AF_INET6 ? set_int(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, value != 0)
                                         : set_int(s, IPPROTO_IP, IP_MULTICAST_LOOP, value != 0);
    case WEFT_SO_MULTICAST_TTL:
        return family_of(s) == AF_INET6 ? set_int(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, value)
                                         : set_int(s, IPPROTO_IP, IP_MULTICAST_TTL, value);
    default:
        return WEFT_EINVAL;
    }
}

static int ws_getopt(void *drv, weft_os_socket os, int opt, int *value) {
    (void)drv;
    SOCKET s = (SOCKET)os;
    int v = 0, len = sizeof v, r;
    switch (opt) {
    case WEFT_SO_NODELAY:
        r = getsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char *)&v, &len);
        v = v != 0; /* Windows may store it as a one-byte BOOLEAN */
        break;
    case WEFT_SO_ERROR:
        r = getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&v, &len);
        v = weft__win_translate(v);
        break;
    case WEFT_SO_RCVBUF:
        r = getsockopt(s, SOL_SOCKET, SO_RCVBUF, (char *)&v, &len);
        break;
    case WEFT_SO_SNDBUF:
        r = getsockopt(s, SOL_SOCKET, SO_SNDBUF, (char *)&v, &len);
        break;
    default:
        return WEFT_EINVAL;
    }
    if (r)
        return err_now();
    *value = v;
    return 0;
}

static int ws_name(void *drv, weft_os_socket s, bool peer, weft_addr *out) {
    (void)drv;
    sockaddr_any sa;
    int len = (int)sizeof sa;
    int r = peer ? getpeername((SOCKET)s, &sa.sa, &len) : getsockname((SOCKET)s, &sa.sa, &len);
    if (r)
        return err_now();
    weft__winsock_from_os(&sa, out);
    return 0;
}

static int ws_multicast(void *drv, weft_os_socket s, bool join, const weft_addr *group,
                        const weft_addr *iface) {
    (void)drv;
    int r;
    if (group->family == WEFT_AF_INET) {
        struct ip_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->u.v4, 4);
        if (iface && iface->family == WEFT_AF_INET)
            memcpy(&m.imr_interface, iface->u.v4, 4);
        r = setsockopt((SOCKET)s, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                       (const char *)&m, sizeof m);
    } else if (group->family == WEFT_AF_INET6) {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.ipv6mr_multiaddr, group->u.v6, 16);
        m.ipv6mr_interface = iface ? iface->scope_id : 0;
        r = setsockopt((SOCKET)s, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP,
                       (const char *)&m, sizeof m);
    } else {
        return WEFT_EINVAL;
    }
    return r ? err_now() : 0;
}

static int ws_connect_dgram(void *drv, weft_os_socket s, const weft_addr *a) {
    (void)drv;
    sockaddr_any sa;
    int len;
    int err = weft__winsock_to_os(a, &sa, &len);
    if (err)
        return err;
    return connect((SOCKET)s, &sa.sa, len) ? err_now() : 0;
}

/* getaddrinfo's EAI_* codes are WSA errors on Windows (EAI_NONAME is
 * WSAHOST_NOT_FOUND, EAI_NODATA the same value): one table serves. */
static int ws_lookup(void *drv, const char *host, uint16_t port, weft_addr *out, size_t cap) {
    (void)drv;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address, not per type */
    int e = getaddrinfo(host, NULL, &hints, &res);
    if (e)
        return e == WSAEINVAL ? WEFT_ENOTFOUND : weft__win_translate(e);
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < cap; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        sockaddr_any sa;
        memset(&sa, 0, sizeof sa);
        memcpy(&sa, ai->ai_addr, ai->ai_addrlen < sizeof sa ? ai->ai_addrlen : sizeof sa);
        weft__winsock_from_os(&sa, &out[n]);
        out[n].port = port;
        n++;
    }
    freeaddrinfo(res);
    return n ? (int)n : WEFT_ENOTFOUND;
}

const weft_io_sys weft__winsock_sys = {
    .open = ws_open,
    .close = ws_close,
    .bind = ws_bind,
    .listen = ws_listen,
    .connect = ws_connect,
    .connect_result = ws_connect_result,
    .accept = ws_accept,
    .recv = ws_recv,
    .send = ws_send,
    .shutdown = ws_shutdown,
    .setopt = ws_setopt,
    .getopt = ws_getopt,
    .name = ws_name,
    .multicast = ws_multicast,
    .connect_dgram = ws_connect_dgram,
    .lookup = ws_lookup,
};
