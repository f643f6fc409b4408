#!/usr/bin/env python3
"""weft tests — the network examples end to end, over real loopback sockets.

  test_examples.py ECHO_SERVER HTTP_HELLO

Starts each server on a free port (--port 0; it prints the port), on both
flavors, and checks what a client sees: echo round trips (small, 1 MB,
several connections at once, half-close), and for http_hello the load
test's edge cases (anchors/http-hello/README.md, "Server behaviour").
Every socket has a timeout and the whole run a watchdog, so nothing hangs.
"""
import os, select, signal, socket, subprocess, sys, threading, time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!"
REQ = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
FAILED = []


def check(cond, what):
    print(("ok     " if cond else "FAILED ") + what, flush=True)
    if not cond:
        FAILED.append(what)


class Server:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv + ["--port", "0"], stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "listening on 127.0.0.1:" not in line:
            self.stop()
            sys.exit(f"{argv[0]} did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def read_all(s):
    """Everything until the end of the stream (a reset counts as the end)."""
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return got, "eof"
            got += b
    except ConnectionResetError:
        return got, "reset"
    except TimeoutError:
        return got, "still open after 5 s"


def read_n(s, n):
    got = b""
    try:
        while len(got) < n:
            b = s.recv(n - len(got))
            if not b:
                break
            got += b
    except (TimeoutError, ConnectionResetError):
        pass
    return got


# ------------------------------------------------------------------ echo

def echo_tests(binary, flavor):
    srv = Server([binary, "--flavor", flavor])
    tag = f"echo_server {flavor}:"
    try:
        s = srv.connect()
        for msg in (b"hello\n", b"x", b"weft " * 500):
            s.sendall(msg)
            check(read_n(s, len(msg)) == msg, f"{tag} round trip of {len(msg)} bytes")
        s.close()

        data = os.urandom(1 << 20)  # more than the socket buffers: echo must interleave
        s = srv.connect()
        t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        t.start()
        got, end = read_all(s)
        t.join()
        check(got == data and end == "eof", f"{tag} 1 MB echoed, then end of stream after half-close")
        s.close()

        conns = [srv.connect() for _ in range(20)]
        for i, c in enumerate(conns):
            c.sendall(b"conn %d\n" % i)
        check(all(read_n(c, len(b"conn %d\n" % i)) == b"conn %d\n" % i for i, c in enumerate(conns)),
              f"{tag} 20 connections at once, each gets its own bytes")
        for c in conns:
            c.close()
    finally:
        srv.stop()


# ------------------------------------------------------------------ http

def http_exchange(srv, *segments):
    """Sends the segments 50 ms apart (separate TCP segments: TCP_NODELAY),
    then returns everything the server sends until it closes.  The pause is
    no tolerance: the right answer is the same if segments merge; it only
    makes the server see a request split over reads, as http-load does."""
    s = srv.connect()
    try:
        for i, seg in enumerate(segments):
            if i:
                time.sleep(0.05)
            s.sendall(seg)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close first (a full buffer)
    got, end = read_all(s)
    s.close()
    return got, end


def http_tests(binary, flavor):
    srv = Server([binary, "--flavor", flavor])
    tag = f"http_hello {flavor}:"
    try:
        # The load test's check: split request, then request + close + one more.
        close_req = b"GET / HTTP/1.1\r\nconnection: \tClose \r\n\r\n"
        got, end = http_exchange(srv, REQ[:20], REQ[20:] + b"", REQ + close_req + REQ)
        check(got == RESPONSE * 3, f"{tag} split request, pipelined close: exactly 3 responses "
                                   f"(got {got.count(b'HTTP/1.1 200')})")
        check(end in ("eof", "reset"), f"{tag} closed after Connection: close ({end})")

        # Keep-alive: one response per request, the connection stays open.
        s = srv.connect()
        for i in range(3):
            s.sendall(REQ)
            check(read_n(s, len(RESPONSE)) == RESPONSE, f"{tag} keep-alive request {i + 1}")
        s.sendall(REQ * 100)  # pipelined: all 100 answered
        check(read_n(s, 100 * len(RESPONSE)) == RESPONSE * 100, f"{tag} 100 pipelined requests")
        s.close()

        # Headers that are not "Connection: close" keep the connection open;
        # the one after them is answered and then "Connection: CLOSE" ends it.
        not_close = [
            b"GET / HTTP/1.0\r\n\r\n",                               # 1.0 kept alive too
            b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection : close\r\n\r\n",        # name is "Connection "
            b"Connection: close\r\n\r\n",                            # a request line, not a header
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n",         # bodies are not recognized
        ]
        last = b"GET / HTTP/1.1\r\nHost: x\r\nCONNECTION:close\t\r\nAccept: */*\r\n\r\nGET / HTTP/1.1\r\n\r\n"
        got, end = http_exchange(srv, b"".join(not_close) + last)
        check(got == RESPONSE * (len(not_close) + 1),
              f"{tag} look-alike headers keep the connection, the close header ends it "
              f"(got {got.count(b'HTTP/1.1 200')} of {len(not_close) + 1})")

        # A request split into many small segments.
        got, end = http_exchange(srv, *[REQ[i:i + 7] for i in range(0, len(REQ), 7)], close_req)
        check(got == RESPONSE * 2, f"{tag} request in 7-byte segments, then close")

        # 4096 bytes without a complete request: the buffer is full, close.
        got, end = http_exchange(srv, b"GET / HTTP/1.1\r\nX: " + b"a" * 5000)
        check(got == b"" and end in ("eof", "reset"), f"{tag} full buffer without a request: closed")

        # After all that, the server still answers.
        s = srv.connect()
        s.sendall(REQ)
        check(read_n(s, len(RESPONSE)) == RESPONSE, f"{tag} still serving")
        s.close()
    finally:
        srv.stop()


def bad_arguments(binary):
    name = os.path.basename(binary)
    for argv in (["--bogus"], ["--port"], ["--port", "70000"], ["--flavor", "sim"],
                 ["--workers", "0"], ["--port", "8x"]):
        r = subprocess.run([binary] + argv, capture_output=True, timeout=10)
        check(r.returncode == 2 and b"usage:" in r.stderr, f"{name} rejects {' '.join(argv)}")
    r = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
    check(r.returncode == 0 and b"usage:" in r.stdout, f"{name} --help")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    signal.alarm(60)  # the watchdog: a hang fails with SIGALRM
    echo, http = sys.argv[1], sys.argv[2]
    for flavor in ("current_thread", "multi_thread"):
        echo_tests(echo, flavor)
        http_tests(http, flavor)
    bad_arguments(echo)
    bad_arguments(http)
    if FAILED:
        sys.exit(f"{len(FAILED)} check(s) failed")


if __name__ == "__main__":
    main()
