/* weft tests — Winsock's weft_io_sys (io_backends/winsock.c), called
 * directly over loopback: the socket calls the IOCP driver will build on,
 * and Windows errors arriving as the codes every driver reports.  Built and
 * run on Windows only (under wine in CI).  Waiting for a socket uses
 * select() with a 5 s bound: a watchdog, the readiness itself is exact. */
#include "harness.h"

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>
#include <string.h>

#include "weft/net.h"
#include "winsock.h"

static const weft_io_sys *sys = &weft__winsock_sys;

static void wait_for(weft_os_socket s, bool write) {
    fd_set set, err;
    FD_ZERO(&set);
    FD_ZERO(&err);
    FD_SET((SOCKET)s, &set);
    FD_SET((SOCKET)s, &err);
    struct timeval tv = {5, 0};
    int n = select(0, write ? NULL : &set, write ? &set : NULL, &err, &tv);
    assert_true(n > 0); /* 0: nothing within 5 s */
}

static int setup(void **state) {
    (void)state;
    return weft__winsock_init();
}
static int teardown(void **state) {
    (void)state;
    weft__winsock_fini();
    return 0;
}

static weft_os_socket listener(weft_addr *bound) {
    weft_os_socket l;
    assert_int_equal(sys->open(NULL, WEFT_AF_INET, WEFT_SOCK_STREAM, &l), 0);
    weft_addr a = weft_addr_loopback4(0);
    assert_int_equal(sys->setopt(NULL, l, WEFT_SO_REUSEADDR, 1), 0);
    assert_int_equal(sys->bind(NULL, l, &a), 0);
    assert_int_equal(sys->listen(NULL, l, 16), 0);
    assert_int_equal(sys->name(NULL, l, false, bound), 0);
    assert_int_equal(bound->family, WEFT_AF_INET);
    assert_true(bound->port != 0);
    return l;
}

/* Connect, accept, a two-buffer write read back whole, then a half close
 * read as end of stream. */
static void tcp_round_trip(void **state) {
    (void)state;
    weft_addr at;
    weft_os_socket l = listener(&at), c, s;
    weft_addr peer;
    assert_int_equal(sys->accept(NULL, l, &s, &peer), WEFT_EAGAIN); /* nobody yet */
    assert_int_equal(sys->open(NULL, WEFT_AF_INET, WEFT_SOCK_STREAM, &c), 0);
    int r = sys->connect(NULL, c, &at);
    assert_true(r == 0 || r == WEFT_EAGAIN);
    if (r == WEFT_EAGAIN) {
        wait_for(c, true);
        assert_int_equal(sys->connect_result(NULL, c), 0);
    }
    wait_for(l, false);
    assert_int_equal(sys->accept(NULL, l, &s, &peer), 0);
    assert_int_equal(peer.family, WEFT_AF_INET);
    weft_addr local;
    assert_int_equal(sys->name(NULL, c, false, &local), 0);
    assert_int_equal(peer.port, local.port);
    assert_int_equal(sys->setopt(NULL, c, WEFT_SO_NODELAY, 1), 0);
    int v = 0;
    assert_int_equal(sys->getopt(NULL, c, WEFT_SO_NODELAY, &v), 0);
    assert_int_equal(v, 1);

    char a[] = "hello, ", b[] = "winsock";
    weft_iovec out[2] = {{a, 7}, {b, 7}};
    assert_int_equal(sys->send(NULL, c, out, 2, NULL), 14);
    char buf[32] = {0};
    weft_iovec in = {buf, sizeof buf};
    int64_t got = 0;
    while (got < 14) {
        wait_for(s, false);
        weft_iovec rest = {buf + got, sizeof buf - (size_t)got};
        int64_t n = sys->recv(NULL, s, &rest, 1, NULL, NULL);
        assert_true(n > 0);
        got += n;
    }
    assert_memory_equal(buf, "hello, winsock", 14);
    assert_int_equal(sys->recv(NULL, s, &in, 1, NULL, NULL), WEFT_EAGAIN); /* drained */

    assert_int_equal(sys->shutdown(NULL, c, WEFT_SHUT_WR), 0);
    wait_for(s, false);
    assert_int_equal(sys->recv(NULL, s, &in, 1, NULL, NULL), 0); /* end of stream */
    /* our own shut write half: the next send is a broken pipe, as on POSIX */
    assert_int_equal(sys->send(NULL, c, out, 1, NULL), WEFT_EPIPE);
    sys->close(NULL, s);
    sys->close(NULL, c);
    sys->close(NULL, l);
}

/* A port with no listener: the connect ends in WEFT_ECONNREFUSED. */
static void connect_refused(void **state) {
    (void)state;
    weft_addr at;
    weft_os_socket l = listener(&at), c;
    sys->close(NULL, l); /* the port is now free and nobody listens */
    assert_int_equal(sys->open(NULL, WEFT_AF_INET, WEFT_SOCK_STREAM, &c), 0);
    int r = sys->connect(NULL, c, &at);
    if (r == WEFT_EAGAIN) {
        wait_for(c, true); /* a failed connect shows in the error set */
        r = sys->connect_result(NULL, c);
    }
    assert_int_equal(r, WEFT_ECONNREFUSED);
    sys->close(NULL, c);
}

/* Datagrams with their sender, and one larger than the buffer. */
static void udp_round_trip(void **state) {
    (void)state;
    weft_os_socket u1, u2;
    weft_addr lo = weft_addr_loopback4(0), a1, a2, from;
    assert_int_equal(sys->open(NULL, WEFT_AF_INET, WEFT_SOCK_DGRAM, &u1), 0);
    assert_int_equal(sys->open(NULL, WEFT_AF_INET, WEFT_SOCK_DGRAM, &u2), 0);
    assert_int_equal(sys->bind(NULL, u1, &lo), 0);
    assert_int_equal(sys->bind(NULL, u2, &lo), 0);
    assert_int_equal(sys->name(NULL, u1, false, &a1), 0);
    assert_int_equal(sys->name(NULL, u2, false, &a2), 0);
    char msg[100];
    memset(msg, 'x', sizeof msg);
    weft_iovec out = {msg, 5};
    assert_int_equal(sys->send(NULL, u1, &out, 1, &a2), 5);
    char buf[10];
    weft_iovec in = {buf, sizeof buf};
    wait_for(u2, false);
    assert_int_equal(sys->recv(NULL, u2, &in, 1, &from, NULL), 5);
    assert_int_equal(from.port, a1.port);
    out.len = sizeof msg;
    assert_int_equal(sys->send(NULL, u1, &out, 1, &a2), (int64_t)sizeof msg);
    wait_for(u2, false);
    size_t full = 0;
    assert_int_equal(sys->recv(NULL, u2, &in, 1, &from, &full), WEFT_ETRUNCATED);
    assert_true(full >= sizeof buf);
    assert_int_equal(sys->recv(NULL, u2, &in, 1, &from, NULL), WEFT_EAGAIN);
    sys->close(NULL, u1);
    sys->close(NULL, u2);
}

/* What Windows lacks is said clearly; bad input loses nothing. */
static void unsupported_and_misuse(void **state) {
    (void)state;
    weft_os_socket s = WEFT_OS_SOCKET_NONE;
    assert_int_equal(sys->open(NULL, WEFT_AF_UNIX, WEFT_SOCK_STREAM, &s), WEFT_EAFNOSUPPORT);
    assert_int_equal(s, WEFT_OS_SOCKET_NONE);
    assert_int_equal(sys->open(NULL, 99, WEFT_SOCK_STREAM, &s), WEFT_EAFNOSUPPORT);
    assert_int_equal(sys->open(NULL, WEFT_AF_INET, WEFT_SOCK_STREAM, &s), 0);
    assert_int_equal(sys->setopt(NULL, s, WEFT_SO_REUSEPORT, 1), WEFT_ENOTSUP);
    assert_int_equal(sys->setopt(NULL, s, 12345, 1), WEFT_EINVAL);
    weft_addr lo = weft_addr_loopback4(0), peer;
    assert_int_equal(sys->name(NULL, s, true, &peer), WEFT_ENOTCONN);
    assert_int_equal(sys->bind(NULL, s, &lo), 0);
    assert_int_equal(sys->bind(NULL, s, &lo), WEFT_EINVAL); /* bound twice */
    sys->close(NULL, s);
}

/* The table: Winsock and Win32 codes meet the codes POSIX gives. */
static void error_table(void **state) {
    (void)state;
    assert_int_equal(weft__win_translate(0), 0);
    assert_int_equal(weft__win_translate(WSAEWOULDBLOCK), WEFT_EAGAIN);
    assert_int_equal(weft__win_translate(WSAECONNREFUSED), WEFT_ECONNREFUSED);
    assert_int_equal(weft__win_translate(ERROR_CONNECTION_REFUSED), WEFT_ECONNREFUSED);
    assert_int_equal(weft__win_translate(WSAECONNRESET), WEFT_ECONNRESET);
    assert_int_equal(weft__win_translate(ERROR_NETNAME_DELETED), WEFT_ECONNRESET);
    assert_int_equal(weft__win_translate(ERROR_OPERATION_ABORTED), WEFT_ECANCELED);
    assert_int_equal(weft__win_translate(WSAEADDRINUSE), WEFT_EADDRINUSE);
    assert_int_equal(weft__win_translate(WSAEMSGSIZE), WEFT_ETRUNCATED);
    assert_int_equal(weft__win_translate(WSAHOST_NOT_FOUND), WEFT_ENOTFOUND);
    assert_int_equal(weft__win_translate(123456), WEFT_EIO);
}

/* The statuses a completion packet carries (what the IOCP driver sees):
 * the same weft code as the WSA error for the same condition. */
static void ntstatus_table(void **state) {
    (void)state;
    static const struct {
        unsigned long status;
        int wsa, code;
    } same[] = {
        {0xC0000236ul, WSAECONNREFUSED, WEFT_ECONNREFUSED}, /* STATUS_CONNECTION_REFUSED */
        {0xC000020Dul, WSAECONNRESET, WEFT_ECONNRESET},     /* STATUS_CONNECTION_RESET */
        {0xC0000241ul, WSAECONNABORTED, WEFT_ECONNABORTED}, /* STATUS_CONNECTION_ABORTED */
        {0xC0000120ul, WSA_OPERATION_ABORTED, WEFT_ECANCELED}, /* STATUS_CANCELLED */
        {0xC000023Cul, WSAENETUNREACH, WEFT_ENETUNREACH},   /* STATUS_NETWORK_UNREACHABLE */
        {0xC000023Dul, WSAEHOSTUNREACH, WEFT_EHOSTUNREACH}, /* STATUS_HOST_UNREACHABLE */
        {0xC00000B5ul, WSAETIMEDOUT, WEFT_ETIMEDOUT},       /* STATUS_IO_TIMEOUT */
        {0xC000020Aul, WSAEADDRINUSE, WEFT_EADDRINUSE},     /* STATUS_ADDRESS_ALREADY_EXISTS */
        {0x80000005ul, WSAEMSGSIZE, WEFT_ETRUNCATED},       /* STATUS_BUFFER_OVERFLOW */
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        assert_int_equal(weft__nt_translate((long)same[i].status), same[i].code);
        assert_int_equal(weft__win_translate(same[i].wsa), same[i].code);
    }
    assert_int_equal(weft__nt_translate(0), 0);
    assert_int_equal(weft__nt_translate(0x103), WEFT_EAGAIN); /* STATUS_PENDING */
    assert_int_equal(weft__nt_translate((long)0xC0001234ul), WEFT_EIO);
}

static void lookup_localhost(void **state) {
    (void)state;
    weft_addr out[8];
    int n = sys->lookup(NULL, "localhost", 80, out, 8);
    assert_true(n >= 1);
    assert_int_equal(out[0].port, 80);
    assert_int_equal(sys->lookup(NULL, "no-such-host.invalid", 80, out, 8), WEFT_ENOTFOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_round_trip),      cmocka_unit_test(connect_refused),
        cmocka_unit_test(udp_round_trip),      cmocka_unit_test(unsupported_and_misuse),
        cmocka_unit_test(error_table),         cmocka_unit_test(lookup_localhost),
        cmocka_unit_test(ntstatus_table),
    };
    return cmocka_run_group_tests_name("winsock", tests, setup, teardown);
}
