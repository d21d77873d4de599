"""A hostile client against the HTTP front: connection floods on both ports
(a cap per source address and in all, the daemon serving throughout and
stopping on SIGTERM after), requests sent too slowly by clients that have
not authenticated (plain, TLS, CONNECT), bodies too large for an RPC
(announced or chunked), and the TLS versions offered. Every flood is
bounded in count and time and goes to loopback only."""

import os
import resource
import signal
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FLOOD = 4100          # the reported flood: more than libmicrohttpd's 4,000 limit
PER_ADDR = 256        # max-connections-per-address (the default)
TIMEOUT = 2           # request-timeout set for these tests (default 10)

LIST_METHODS = b'{"jsonrpc":"2.0","method":"system.listMethods","params":[],"id":1}'


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def write_conf(data_dir, text):
    path = os.path.join(data_dir, "xenond.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def start_server(conf="", tls=False):
    srv = harness.Server()
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.extra_args = ["--config", write_conf(srv.data_dir, conf)]
    if tls:
        srv.tls_port = harness.free_port()
        srv.extra_args += ["--tls-listen", "127.0.0.1:%d" % srv.tls_port]
    return srv.start()


def connect(port, src="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def rpc_once(port, src="127.0.0.1", timeout=5):
    """system.listMethods on a new connection from src: the HTTP status."""
    s = connect(port, src, timeout)
    try:
        s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(LIST_METHODS) + LIST_METHODS)
        head = read_head(s)
        return int(head.split(b" ", 2)[1])
    finally:
        s.close()


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a whole answer: %r" % data[:200])
        data += chunk
    return data


def closed_within(s, seconds):
    """True when the server ends the connection within seconds (what it
    sends before that is read and dropped)."""
    s.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def flood(port, n, sources=("127.0.0.1",), payload=b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\n"):
    """n connections spread over sources, each sent a partial request head."""
    socks = []
    for i in range(n):
        try:
            socks.append(connect(port, sources[i % len(sources)], timeout=2))
        except OSError:
            pass  # the backlog overflowed for a moment: the flood is still a flood
    for s in socks:
        try:
            s.sendall(payload)
        except OSError:
            pass  # refused by a cap: closed already
    return socks


class Flood(unittest.TestCase):
    """The reported deadlock: 4,100 half-sent heads then all closed, five
    times in a row; before the fix three runs in five left the plain port
    dead for good and the daemon deaf to SIGTERM."""

    @classmethod
    def setUpClass(cls):
        raise_fd_limit()

    def flood_rounds(self, srv, port, rounds, sources=("127.0.0.1",), payload=None):
        base = open_fds(srv.pid)
        for rnd in range(rounds):
            socks = flood(port, FLOOD, sources, **({"payload": payload} if payload else {}))
            try:
                # held: the daemon holds at most its caps, and serves others
                held = open_fds(srv.pid) - base
                self.assertLessEqual(held, PER_ADDR * len(sources) + 16,
                                     "round %d: %d connections held" % (rnd, held))
                t0 = time.monotonic()
                self.assertEqual(rpc_once(srv.port, "127.0.0.200"), 200)
                self.assertLess(time.monotonic() - t0, 2.0)
            finally:
                for s in socks:
                    s.close()
            # after: served at once, from the flooding address too
            t0 = time.monotonic()
            self.assertEqual(rpc_once(srv.port, sources[0]), 200, "round %d" % rnd)
            self.assertLess(time.monotonic() - t0, 2.0)
        # the connections are all let go again
        harness.ServerTestCase.wait_for(self, lambda: open_fds(srv.pid) <= base + 8, timeout=TIMEOUT + 5,
                                        msg="the flood's connections closed")

    def assert_stops_on_sigterm(self, srv):
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=15)
        self.assertLess(time.monotonic() - t0, 10.0)
        srv.stop()

    def test_plain_port_from_one_address(self):
        srv = start_server("request-timeout = %d\n" % TIMEOUT)
        self.flood_rounds(srv, srv.port, 5)
        self.assertTrue(srv.alive())
        self.assert_stops_on_sigterm(srv)

    def test_plain_port_from_many_addresses_past_the_total_cap(self):
        # 20 addresses × 205 connections: the total cap (1,000) is reached too
        srv = start_server("request-timeout = %d\nmax-connections = 1000\n" % TIMEOUT)
        sources = tuple("127.0.0.%d" % i for i in range(1, 21))
        base = open_fds(srv.pid)
        for rnd in range(3):
            socks = flood(srv.port, FLOOD, sources)
            try:
                self.assertLessEqual(open_fds(srv.pid) - base, 1000 + 16)
            finally:
                for s in socks:
                    s.close()
            harness.ServerTestCase.wait_for(self, lambda: rpc_ok(srv.port), timeout=5,
                                            msg="served after round %d" % rnd)
        self.assert_stops_on_sigterm(srv)

    def test_tls_port(self):
        srv = start_server("request-timeout = %d\n" % TIMEOUT, tls=True)
        # half a TLS ClientHello on each connection
        hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        self.flood_rounds(srv, srv.tls_port, 3, payload=hello)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(connect(srv.tls_port, "127.0.0.1")) as s:
            s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                      % len(LIST_METHODS) + LIST_METHODS)
            self.assertIn(b" 200 ", read_head(s).split(b"\r\n")[0])
        self.assert_stops_on_sigterm(srv)


def rpc_ok(port):
    try:
        return rpc_once(port, "127.0.0.200", timeout=2) == 200
    except OSError:
        return False


class SlowClients(harness.ServerTestCase):
    """Clients that have not authenticated get request-timeout seconds for
    each whole request; after a login the connection is kept idle as
    long as idle-timeout."""

    @classmethod
    def setUpClass(cls):
        raise_fd_limit()
        cls.srv = start_server("request-timeout = %d\n" % TIMEOUT, tls=True)

    def trickle(self, s, data, stop):
        for b in data:
            if stop.is_set():
                return
            try:
                s.send(bytes([b]))
            except OSError:
                return
            stop.wait(0.5)

    def assert_cut_while_trickling(self, s, data):
        stop = threading.Event()
        th = threading.Thread(target=self.trickle, args=(s, data, stop), daemon=True)
        t0 = time.monotonic()
        th.start()
        try:
            self.assertTrue(closed_within(s, TIMEOUT + 3), "a trickled request was not cut")
            self.assertGreaterEqual(time.monotonic() - t0, TIMEOUT - 0.5)
        finally:
            stop.set()
            th.join()
            s.close()

    def test_slow_head(self):
        s = connect(self.srv.port)
        self.assert_cut_while_trickling(s, b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200)

    def test_slow_body(self):
        s = connect(self.srv.port)
        s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        self.assert_cut_while_trickling(s, b"{" * 1000)

    def test_silent_connection(self):
        s = connect(self.srv.port)
        t0 = time.monotonic()
        self.assertTrue(closed_within(s, TIMEOUT + 3))
        self.assertGreaterEqual(time.monotonic() - t0, TIMEOUT - 0.5)
        s.close()

    def test_slow_tls_handshake(self):
        s = connect(self.srv.tls_port)
        self.assert_cut_while_trickling(s, bytes([0x16, 0x03, 0x01, 0x02, 0x00]) + b"\x01" * 100)

    def test_idle_unauthenticated_keepalive_is_closed(self):
        s = connect(self.srv.port)
        s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(LIST_METHODS) + LIST_METHODS)
        self.assertIn(b" 200 ", read_head(s))
        self.assertTrue(closed_within(s, TIMEOUT + 3))
        s.close()

    def test_authenticated_keepalive_outlives_the_request_timeout(self):
        s = connect(self.srv.port)
        try:
            login = ('{"jsonrpc":"2.0","method":"session.login_with_password","params":["root","%s"],"id":1}'
                     % self.srv.password).encode()
            s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(login) + login)
            head = read_head(s)
            self.assertIn(b" 200 ", head)
            time.sleep(TIMEOUT + 1.5)
            s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                      % len(LIST_METHODS) + LIST_METHODS)
            s.settimeout(5)
            self.assertIn(b" 200 ", read_head(s))
        finally:
            s.close()

    def test_slow_connect_heads_hold_no_thread_each(self):
        base = self.srv.thread_count()
        socks = []
        for _ in range(150):
            s = connect(self.srv.port)
            s.sendall(b"CONNECT /console?ref=x HTTP/1.1\r\n")
            socks.append(s)
        try:
            time.sleep(0.5)
            # at most 64 heads are awaited at once, each on a thread
            self.assertLessEqual(self.srv.thread_count() - base, 64 + 4)
            t0 = time.monotonic()
            for s in socks:
                self.assertTrue(closed_within(s, max(0.1, TIMEOUT + 3 - (time.monotonic() - t0))))
        finally:
            for s in socks:
                s.close()
        self.wait_for(lambda: self.srv.thread_count() <= base + 2, timeout=5,
                      msg="CONNECT threads gone")
        # the daemon still serves CONNECT to a client that sends its head
        s = connect(self.srv.port)
        s.sendall(b"CONNECT /console?ref=x&session_id=%s HTTP/1.1\r\n\r\n" % self.srv.session.encode())
        self.assertIn(b" 404 ", read_head(s).split(b"\r\n")[0])
        s.close()


class Bodies(harness.ServerTestCase):
    def test_announced_4gib_body_refused_before_reading(self):
        s = connect(self.srv.port)
        try:
            t0 = time.monotonic()
            s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\n")
            head = read_head(s)
            self.assertIn(b" 413 ", head.split(b"\r\n")[0])
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertTrue(closed_within(s, 2))
        finally:
            s.close()

    def test_body_over_the_limit_answered_413_after_it(self):
        # a client that reads only once it has sent gets the answer
        body = b'{"method":"system.listMethods","params":["' + b"x" * (2 << 20) + b'"],"id":1}'
        r = self.srv.post("/jsonrpc", body, {"Content-Type": "application/json"})
        self.assertEqual(r.status, 413)

    def test_huge_chunk_cut_at_the_limit(self):
        s = connect(self.srv.port)
        try:
            s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"7FFFFFFFFFFFFFFF\r\n")
            t0 = time.monotonic()
            sent = 0
            try:
                while sent < 64 << 20:  # past the 1 MiB limit and the 16 MiB drained after it
                    s.sendall(b"x" * 65536)
                    sent += 65536
            except OSError:
                pass
            self.assertTrue(closed_within(s, 3))
            self.assertLess(time.monotonic() - t0, 5)
            self.assertLess(sent, 64 << 20, "the whole 64 MiB was taken")
        finally:
            s.close()
        self.assertEqual(rpc_once(self.srv.port), 200)


class TlsVersions(unittest.TestCase):
    def handshake(self, port, lo, hi):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = lo
        ctx.maximum_version = hi
        with ctx.wrap_socket(connect(port)) as s:
            return s.version()

    def test_only_tls12_and_13_by_default(self):
        V = ssl.TLSVersion
        # the client can speak the old versions: a server told to accept them does
        old = start_server("tls-priorities = NORMAL:+VERS-TLS1.0:+VERS-TLS1.1:+SHA1\n", tls=True)
        self.assertEqual(self.handshake(old.tls_port, V.TLSv1, V.TLSv1), "TLSv1")
        old.stop()
        srv = start_server(tls=True)
        for v in (V.TLSv1, V.TLSv1_1):
            with self.assertRaises((ssl.SSLError, ConnectionError), msg=str(v)):
                self.handshake(srv.tls_port, v, v)
        self.assertEqual(self.handshake(srv.tls_port, V.TLSv1_2, V.TLSv1_2), "TLSv1.2")
        self.assertEqual(self.handshake(srv.tls_port, V.TLSv1_2, V.TLSv1_3), "TLSv1.3")
        srv.stop()

    def test_a_bad_priority_string_is_a_clear_start_failure(self):
        srv = harness.Server()
        os.makedirs(srv.data_dir, exist_ok=True)
        srv.extra_args = ["--config", write_conf(srv.data_dir, "tls-priorities = NO-SUCH-THING\n"),
                          "--tls-listen", "127.0.0.1:%d" % harness.free_port()]
        with self.assertRaises(RuntimeError):
            srv.start(timeout=10)
        self.assertIn("tls-priorities", srv.log_text())


if __name__ == "__main__":
    harness.main()
