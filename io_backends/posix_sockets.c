/* weft — BSD sockets for the POSIX drivers: every socket non-blocking and
 * close-on-exec, errno translated to weft's table at this edge, SIGPIPE
 * never raised (MSG_NOSIGNAL where it exists, SO_NOSIGPIPE elsewhere). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "posix_sockets.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int err_now(void) { return weft_translate_errno(errno); }

int weft__posix_init(weft__posix *p) {
    p->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&p->spare_lock, NULL);
    return 0;
}

void weft__posix_fini(weft__posix *p) {
    if (p->spare >= 0)
        close(p->spare);
    pthread_mutex_destroy(&p->spare_lock);
}

/* ------------------------------------------------------------ addresses */

typedef union sockaddr_any {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
    struct sockaddr_storage ss;
} sockaddr_any;

static int to_os(const weft_addr *a, sockaddr_any *sa, socklen_t *len) {
    memset(sa, 0, sizeof *sa);
    switch (a->family) {
    case WEFT_AF_INET:
        sa->in4.sin_family = AF_INET;
        sa->in4.sin_port = htons(a->port);
        memcpy(&sa->in4.sin_addr, a->u.v4, 4);
        *len = sizeof sa->in4;
        return 0;
    case WEFT_AF_INET6:
        sa->in6.sin6_family = AF_INET6;
        sa->in6.sin6_port = htons(a->port);
        sa->in6.sin6_scope_id = a->scope_id;
        memcpy(&sa->in6.sin6_addr, a->u.v6, 16);
        *len = sizeof sa->in6;
        return 0;
    case WEFT_AF_UNIX: {
        size_t n = strnlen(a->u.path, sizeof a->u.path);
        if (n >= sizeof sa->un.sun_path)
            return WEFT_EINVAL;
        sa->un.sun_family = AF_UNIX;
        memcpy(sa->un.sun_path, a->u.path, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    default:
        return WEFT_EINVAL;
    }
}

static void from_os(const sockaddr_any *sa, socklen_t len, weft_addr *a) {
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
    case AF_UNIX: {
        a->family = WEFT_AF_UNIX;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? (size_t)len - off : 0;
        if (n > WEFT_ADDR_PATH_MAX)
            n = WEFT_ADDR_PATH_MAX;
        memcpy(a->u.path, sa->un.sun_path, n);
        a->u.path[n] = '\0'; /* an unnamed socket has an empty path */
        break;
    }
    }
}

/* -------------------------------------------------------------- sockets */

static int os_family(int f) {
    return f == WEFT_AF_INET ? AF_INET : f == WEFT_AF_INET6 ? AF_INET6 : f == WEFT_AF_UNIX ? AF_UNIX : -1;
}

static inline int set_nonblock_cloexec(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return err_now();
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return 0;
}

static int px_open(void *drv, int family, int type, weft_os_socket *out) {
    (void)drv;
    int f = os_family(family);
    if (f < 0)
        return WEFT_EAFNOSUPPORT;
    int t = type == WEFT_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
#ifdef SOCK_NONBLOCK
    int fd = socket(f, t | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_now();
#ifdef SO_NOSIGPIPE
    set_nonblock_cloexec(fd);
#endif
#else
    int fd = socket(f, t, 0);
    if (fd < 0)
        return err_now();
    int err = set_nonblock_cloexec(fd);
    if (err) {
        close(fd);
        return err;
    }
#endif
    *out = fd;
    return 0;
}

static void px_close(void *drv, weft_os_socket s) {
    (void)drv;
    close((int)s); /* EINTR still closed it on Linux and the BSDs */
}

/* bind(2) or a datagram's connect(2), given a weft address. */
static int with_addr(int (*call)(int, const struct sockaddr *, socklen_t), weft_os_socket s,
                     const weft_addr *a) {
    sockaddr_any sa;
    socklen_t len;
    int err = to_os(a, &sa, &len);
    if (err)
        return err;
    return call((int)s, &sa.sa, len) ? err_now() : 0;
}

static int px_bind(void *drv, weft_os_socket s, const weft_addr *a) {
    (void)drv;
    return with_addr(bind, s, a);
}

static int px_listen(void *drv, weft_os_socket s, int backlog) {
    (void)drv;
    return listen((int)s, backlog) ? err_now() : 0;
}

static int px_connect(void *drv, weft_os_socket s, const weft_addr *a) {
    (void)drv;
    sockaddr_any sa;
    socklen_t len;
    int err = to_os(a, &sa, &len);
    if (err)
        return err;
    if (connect((int)s, &sa.sa, len) == 0)
        return 0;
    if (errno == EINPROGRESS || errno == EINTR)
        return WEFT_EAGAIN;
    /* A Unix socket whose listener's backlog is full says EAGAIN: the
     * connection was refused, there is nothing to wait for. */
    if (errno == EAGAIN && a->family == WEFT_AF_UNIX)
        return WEFT_ECONNREFUSED;
    return err_now();
}

static int px_connect_result(void *drv, weft_os_socket s) {
    (void)drv;
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt((int)s, SOL_SOCKET, SO_ERROR, &e, &len))
        return err_now();
    /* Asked only once the socket reported writable, which a connect in
     * progress does when it ends: no error means connected. */
    return e ? weft_translate_errno(e) : 0;
}

/* Out of descriptors: drop the pending connection through the spare. */
static int drop_pending(weft__posix *p, int listener, int err) {
    pthread_mutex_lock(&p->spare_lock);
    if (p->spare >= 0) {
        close(p->spare);
        int fd = accept(listener, NULL, NULL);
        if (fd >= 0)
            close(fd);
        p->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    pthread_mutex_unlock(&p->spare_lock);
    return err;
}

static int px_accept(void *drv, weft_os_socket s, weft_os_socket *out, weft_addr *peer) {
    sockaddr_any sa;
    socklen_t len = sizeof sa;
    for (;;) {
#ifdef SOCK_NONBLOCK
        int fd = accept4((int)s, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int fd = accept((int)s, &sa.sa, &len);
#endif
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED)
                continue; /* gone before we took it: try the next one */
            if (e == EMFILE || e == ENFILE)
                return drop_pending(drv, (int)s, weft_translate_errno(e));
            return weft_translate_errno(e);
        }
#if !defined(SOCK_NONBLOCK) || defined(SO_NOSIGPIPE)
        int err = set_nonblock_cloexec(fd);
        if (err) {
            close(fd);
            return err;
        }
#endif
        if (peer)
            from_os(&sa, len, peer);
        *out = fd;
        return 0;
    }
}

static int64_t px_recv(void *drv, weft_os_socket s, const weft_iovec *iov, int n, weft_addr *from,
                       size_t *full) {
    (void)drv;
    if (n == 1 && !from && !full) { /* the plain call: no msghdr to fill */
        ssize_t got;
        do
            got = recv((int)s, iov[0].base, iov[0].len, 0);
        while (got < 0 && errno == EINTR);
        return got < 0 ? err_now() : got;
    }
    if (!from && !full) { /* a stream: readv is recvmsg without a msghdr */
        struct iovec v[WEFT_IOV_MAX + 1];
        for (int i = 0; i < n; i++) {
            v[i].iov_base = iov[i].base;
            v[i].iov_len = iov[i].len;
        }
        ssize_t got;
        do
            got = readv((int)s, v, n);
        while (got < 0 && errno == EINTR);
        return got < 0 ? err_now() : got;
    }
    struct iovec v[WEFT_IOV_MAX + 1];
    size_t cap = 0;
    for (int i = 0; i < n; i++) {
        v[i].iov_base = iov[i].base;
        v[i].iov_len = iov[i].len;
        cap += iov[i].len;
    }
    sockaddr_any sa;
    struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
    if (from) {
        m.msg_name = &sa;
        m.msg_namelen = sizeof sa;
    }
    ssize_t got;
    do {
#ifdef MSG_TRUNC
        /* Linux: MSG_TRUNC in the flags returns a datagram's real size. */
        got = recvmsg((int)s, &m, full ? MSG_TRUNC : 0);
#else
        got = recvmsg((int)s, &m, 0);
#endif
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return err_now();
    if (from)
        from_os(&sa, m.msg_namelen, from);
    if (m.msg_flags & MSG_TRUNC) {
        if (full)
            *full = (size_t)got > cap ? (size_t)got : cap;
        return WEFT_ETRUNCATED;
    }
    return got;
}

static int64_t px_send(void *drv, weft_os_socket s, const weft_iovec *iov, int n,
                       const weft_addr *to) {
    (void)drv;
    if (n == 1 && !to) { /* the plain call: no msghdr to fill */
        ssize_t put;
        do
            put = send((int)s, iov[0].base, iov[0].len, MSG_NOSIGNAL);
        while (put < 0 && errno == EINTR);
        return put < 0 ? err_now() : put;
    }
    struct iovec v[WEFT_IOV_MAX];
    for (int i = 0; i < n; i++) {
        v[i].iov_base = iov[i].base;
        v[i].iov_len = iov[i].len;
    }
    sockaddr_any sa;
    struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
    if (to) {
        int err = to_os(to, &sa, &m.msg_namelen);
        if (err)
            return err;
        m.msg_name = &sa;
    }
    ssize_t put;
    do
        put = sendmsg((int)s, &m, MSG_NOSIGNAL);
    while (put < 0 && errno == EINTR);
    return put < 0 ? err_now() : put;
}

static int px_shutdown(void *drv, weft_os_socket s, int how) {
    (void)drv;
    int h = how == WEFT_SHUT_RD ? SHUT_RD : how == WEFT_SHUT_WR ? SHUT_WR : SHUT_RDWR;
    return shutdown((int)s, h) ? err_now() : 0;
}

static int px_setopt(void *drv, weft_os_socket s, int opt, int value) {
    (void)drv;
    int fd = (int)s, v = value, r;
    switch (opt) {
    case WEFT_SO_REUSEADDR:
        r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
        break;
    case WEFT_SO_REUSEPORT:
#ifdef SO_REUSEPORT
        r = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof v);
        break;
#else
        return WEFT_ENOTSUP;
#endif
    case WEFT_SO_V6ONLY:
        r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v);
        break;
    case WEFT_SO_NODELAY:
        r = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
        break;
    case WEFT_SO_KEEPALIVE: {
        int on = value >= 0;
        r = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
#ifdef TCP_KEEPIDLE
        if (!r && value > 0)
            r = setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v);
#endif
        break;
    }
    case WEFT_SO_LINGER: {
        struct linger l = {value >= 0, value >= 0 ? value : 0};
        r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
    }
    case WEFT_SO_RCVBUF:
        r = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
        break;
    case WEFT_SO_SNDBUF:
        r = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
        break;
    case WEFT_SO_BROADCAST:
        r = setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof v);
        break;
    case WEFT_SO_MULTICAST_LOOP: {
        unsigned char c = (unsigned char)(value != 0);
        r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &c, sizeof c);
        if (r && errno == ENOPROTOOPT)
            r = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, sizeof v);
        break;
    }
    case WEFT_SO_MULTICAST_TTL: {
        unsigned char c = (unsigned char)value;
        r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &c, sizeof c);
        if (r && errno == ENOPROTOOPT)
            r = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, sizeof v);
        break;
    }
    default:
        return WEFT_EINVAL;
    }
    return r ? err_now() : 0;
}

static int px_getopt(void *drv, weft_os_socket s, int opt, int *value) {
    (void)drv;
    int v = 0;
    socklen_t len = sizeof v;
    int r;
    switch (opt) {
    case WEFT_SO_NODELAY:
        r = getsockopt((int)s, IPPROTO_TCP, TCP_NODELAY, &v, &len);
        break;
    case WEFT_SO_ERROR:
        r = getsockopt((int)s, SOL_SOCKET, SO_ERROR, &v, &len);
        v = weft_translate_errno(v);
        break;
    case WEFT_SO_RCVBUF:
        r = getsockopt((int)s, SOL_SOCKET, SO_RCVBUF, &v, &len);
        break;
    case WEFT_SO_SNDBUF:
        r = getsockopt((int)s, SOL_SOCKET, SO_SNDBUF, &v, &len);
        break;
    default:
        return WEFT_EINVAL;
    }
    if (r)
        return err_now();
    *value = v;
    return 0;
}

static int px_name(void *drv, weft_os_socket s, bool peer, weft_addr *out) {
    (void)drv;
    sockaddr_any sa;
    socklen_t len = sizeof sa;
    int r = peer ? getpeername((int)s, &sa.sa, &len) : getsockname((int)s, &sa.sa, &len);
    if (r)
        return err_now();
    from_os(&sa, len, out);
    return 0;
}

static int px_multicast(void *drv, weft_os_socket s, bool join, const weft_addr *group,
                        const weft_addr *iface) {
    (void)drv;
    int r;
    if (group->family == WEFT_AF_INET) {
        struct ip_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->u.v4, 4);
        if (iface && iface->family == WEFT_AF_INET)
            memcpy(&m.imr_interface, iface->u.v4, 4);
        r = setsockopt((int)s, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
                       sizeof m);
    } else {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.ipv6mr_multiaddr, group->u.v6, 16);
        m.ipv6mr_interface = iface ? iface->scope_id : 0;
        r = setsockopt((int)s, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
                       sizeof m);
    }
    return r ? err_now() : 0;
}

static int px_connect_dgram(void *drv, weft_os_socket s, const weft_addr *a) {
    (void)drv;
    return with_addr(connect, s, a);
}

static int px_lookup(void *drv, const char *host, uint16_t port, weft_addr *out, size_t cap) {
    (void)drv;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address, not per type */
    int e = getaddrinfo(host, NULL, &hints, &res);
    switch (e) {
    case 0:
        break;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return WEFT_ENOTFOUND;
    case EAI_AGAIN:
        return WEFT_ETRYAGAIN;
    case EAI_MEMORY:
        return WEFT_ENOMEM;
    case EAI_SYSTEM:
        return err_now();
    default:
        return WEFT_ENOTFOUND;
    }
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < cap; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        sockaddr_any sa;
        memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
        from_os(&sa, ai->ai_addrlen, &out[n]);
        out[n].port = port;
        n++;
    }
    freeaddrinfo(res);
    return n ? (int)n : WEFT_ENOTFOUND;
}

const weft_io_sys weft__posix_sys = {
    .open = px_open,
    .close = px_close,
    .bind = px_bind,
    .listen = px_listen,
    .connect = px_connect,
    .connect_result = px_connect_result,
    .accept = px_accept,
    .recv = px_recv,
    .send = px_send,
    .shutdown = px_shutdown,
    .setopt = px_setopt,
    .getopt = px_getopt,
    .name = px_name,
    .multicast = px_multicast,
    .connect_dgram = px_connect_dgram,
    .lookup = px_lookup,
};
