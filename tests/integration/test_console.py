"""Consoles: a VM started on the qemu backend gets an rfb and a vt100
console record (xapi's https://<address>/console?uuid= location), gone when
it halts; /console bridges clients to the guest's serial port (history
replay from a ring seeded by serial.log, then live, input to the guest) and
to its VNC server, over CONNECT/Upgrade (raw) or a WebSocket (`binary`).
One guest boot that floods 10 MB to the console before anyone attaches."""

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402

MiB = 1 << 20
FLOOD = int(os.environ.get("XENON_CONSOLE_FLOOD", 10 * MiB))


def recv_headers(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def ws_frame(payload, op=2):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | op])
    if n < 126:
        hdr += bytes([0x80 | n])
    else:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class WsReader:
    def __init__(self, s, buf):
        self.s, self.buf = s, buf

    def frame(self):
        while True:
            b = self.buf
            if len(b) >= 2:
                n, hl = b[1] & 0x7f, 2
                if n == 126 and len(b) >= 4:
                    n, hl = struct.unpack(">H", b[2:4])[0], 4
                elif n == 127 and len(b) >= 10:
                    n, hl = struct.unpack(">Q", b[2:10])[0], 10
                if (b[1] & 0x7f) < 126 or len(b) >= hl:
                    if len(b) >= hl + n:
                        self.buf = b[hl + n:]
                        return b[0] & 0x0f, b[hl:hl + n]
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk


@unittest.skipIf(guest.QEMU is None, "qemu-system-x86_64 is not installed")
class ConsoleTest(guest.GuestMixin, harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tls_port = harness.free_port()
        cls.srv = harness.Server(backend="qemu",
                                 extra_args=["--tls-listen", "127.0.0.1:%d" % cls.tls_port])
        guest.install(cls)
        cls.srv.start()
        cls.api = cls.srv.api

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        guest._kill_leftover_qemus()

    def open(self, cons, method="CONNECT", ws=False, session=True, timeout=10, tls=False):
        if tls:
            # the daemon's self-signed certificate, as a client that pinned it
            ctx = ssl.create_default_context(
                cafile=os.path.join(self.srv.data_dir, "xapi-ssl.crt"))
            ctx.check_hostname = False
            raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=timeout)
            s = ctx.wrap_socket(raw)
        else:
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=timeout)
        q = "/console?uuid=%s" % cons
        if session and not ws:
            q += "&session_id=%s" % self.srv.session
        req = "%s %s HTTP/1.1\r\nHost: localhost\r\n" % (method, q)
        key = base64.b64encode(os.urandom(16)).decode()
        if ws:
            req += ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: binary\r\n" % key)
            if session:
                req += "Cookie: session_id=%s\r\n" % self.srv.session
        elif method == "GET":
            req += "Upgrade: console\r\nConnection: Upgrade\r\n"
        s.sendall((req + "\r\n").encode())
        head, rest = recv_headers(s)
        if head.startswith("HTTP/1.1 101"):
            # one Connection header, naming the upgrade once
            conn = [ln for ln in head.split("\r\n") if ln.lower().startswith("connection:")]
            self.assertEqual([c.split(":", 1)[1].strip().lower() for c in conn], ["upgrade"], head)
        if ws and head.startswith("HTTP/1.1 101"):
            want = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.assertIn("sec-websocket-accept: " + want, head.lower().replace(want.lower(), want))
            self.assertIn("sec-websocket-protocol: binary", head.lower())
        return s, head, rest

    def read_until(self, s, rest, needle, ws=None, timeout=15):
        data = rest
        deadline = time.monotonic() + timeout
        while needle not in data:
            if time.monotonic() > deadline:
                self.fail("no %r in %r\n%s" % (needle, data[-500:], self.srv.log_tail(30)))
            if ws:
                op, p = ws.frame()
                data += p
            else:
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    continue
                self.assertTrue(chunk, "closed before %r" % needle)
                data += chunk
        return data

    def rfb_handshake(self, s, ws):
        """RFB 003.008 through WebSocket frames: version, security None,
        ClientInit; returns the ServerInit's width, height and name."""
        buf = b""

        def need(n):
            nonlocal buf
            while len(buf) < n:
                op, p = ws.frame()
                self.assertIn(op, (0, 2), "not a binary frame")
                buf += p
            out, buf = buf[:n], buf[n:]
            return out

        self.assertEqual(need(12), b"RFB 003.008\n")
        s.sendall(ws_frame(b"RFB 003.008\n"))
        n = need(1)[0]
        self.assertGreater(n, 0, "the server refused the connection")
        types = need(n)
        self.assertIn(1, types, "no security type None: %r" % types)
        s.sendall(ws_frame(b"\x01"))
        self.assertEqual(struct.unpack(">I", need(4))[0], 0, "SecurityResult")
        s.sendall(ws_frame(b"\x01"))  # ClientInit: shared
        w, h = struct.unpack(">HH", need(4))
        need(16)  # pixel format
        name = need(struct.unpack(">I", need(4))[0])
        self.assertGreater(w, 0)
        self.assertGreater(h, 0)
        return w, h, name

    def test_console(self):
        api = self.api
        vm = self.new_vm("console-vm", PV_args=guest.ARGS + " xenon.flood=%d" % FLOOD)
        self.assertEqual(api.VM.get_consoles(vm), [])
        api.VM.start(vm, False, False)
        uuid = api.VM.get_uuid(vm)
        log = os.path.join(self.vm_dir(vm), "serial.log")

        # the records
        cons = {}
        for c in api.VM.get_consoles(vm):
            rec = api.console.get_record(c)
            cons[rec["protocol"]] = rec["uuid"]
            self.assertRegex(rec["location"], r"^https://[^/]+/console\?uuid=%s$" % rec["uuid"])
            self.assertEqual(rec["VM"], vm)
        self.assertEqual(sorted(cons), ["rfb", "vt100"])

        # nobody attached while the guest floods 10 MB: nothing blocks, nothing lost
        deadline = time.monotonic() + 150
        while guest.READY.encode() not in open(log, "rb").read()[-4096:]:
            self.assertLess(time.monotonic(), deadline, "guest not ready")
            time.sleep(0.2)
        self.assertGreaterEqual(os.path.getsize(log), FLOOD)

        # errors
        _s, head, _ = self.open("00000000-0000-0000-0000-000000000000")
        self.assertTrue(head.startswith("HTTP/1.1 404"), head)
        _s, head, _ = self.open(cons["vt100"], session=False)
        self.assertTrue(head.startswith("HTTP/1.1 401"), head)
        _s, head, _ = self.open(cons["vt100"], ws=True, session=False)
        self.assertTrue(head.startswith("HTTP/1.1 401"), head)

        # CONNECT: 200 as XenServer answers it, history, then a command and its output
        s, head, rest = self.open(cons["vt100"])
        self.assertTrue(head.startswith("HTTP/1.1 200 OK\r\n"), head)
        data = self.read_until(s, rest, b"XENON-GUEST: ready")
        # the shell starts after that line; what is typed before it may be lost
        self.read_until(s, data[data.index(b"XENON-GUEST: ready"):], b"/# ")
        tag = "hello-%d" % os.getpid()
        s.sendall(("echo %s\n" % tag).encode())
        self.read_until(s, b"", ("\n%s" % tag).encode())
        s.close()

        # reattach (raw GET upgrade): the history again, the last command in it
        s, head, rest = self.open(cons["vt100"], method="GET")
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        self.read_until(s, rest, ("\n%s" % tag).encode())
        s.close()

        # WebSocket: history and input
        s, head, rest = self.open(cons["vt100"], method="GET", ws=True)
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        ws = WsReader(s, rest)
        self.read_until(s, b"", b"XENON-GUEST: ready", ws=ws)
        s.sendall(ws_frame(b"echo ws-%d\n" % os.getpid()))
        self.read_until(s, b"", b"\nws-%d" % os.getpid(), ws=ws)
        s.sendall(ws_frame(b"\x03\xe8", op=8))
        s.close()

        # xe console: history, a command, Ctrl-] to leave
        if os.path.exists(harness.XE):
            srv = self.srv
            xe = subprocess.Popen([harness.XE, "-s", "127.0.0.1", "-p", str(srv.port), "--nossl",
                                   "-u", "root", "-pw", srv.password, "console", "vm=console-vm"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
            xe.stdin.write(b"echo xe-%d\n" % os.getpid())
            xe.stdin.flush()
            out, deadline = b"", time.monotonic() + 15
            while b"\nxe-%d" % os.getpid() not in out and time.monotonic() < deadline:
                if select.select([xe.stdout], [], [], 0.5)[0]:
                    chunk = os.read(xe.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
            xe.stdin.write(b"\x1d")
            xe.stdin.flush()
            self.assertEqual(xe.wait(10), 0, xe.stderr.read())
            self.assertIn(b"XENON-GUEST: ready", out)
            self.assertIn(b"\nxe-%d" % os.getpid(), out)

        # VNC through CONNECT and through a WebSocket
        s, head, rest = self.open(cons["rfb"])
        self.assertTrue(head.startswith("HTTP/1.1 200 OK\r\n"), head)
        self.assertEqual(self.read_until(s, rest, b"\n")[:12], b"RFB 003.008\n")
        s.close()
        s, head, rest = self.open(cons["rfb"], method="GET", ws=True)
        ws = WsReader(s, rest)
        self.assertEqual(self.read_until(s, b"", b"\n", ws=ws)[:12], b"RFB 003.008\n")
        s.close()

        # CONNECT errors are answered like the other requests
        for q, want in (("/console?uuid=%s" % cons["vt100"], "401"),
                        ("/console?uuid=00000000-0000-0000-0000-000000000000&session_id=%s"
                         % self.srv.session, "404"),
                        ("/elsewhere?session_id=%s" % self.srv.session, "404")):
            c = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
            c.sendall(("CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n" % q).encode())
            head, _ = recv_headers(c)
            self.assertTrue(head.startswith("HTTP/1.1 " + want), (q, head))
            c.close()
        # the session as a cookie, percent-encoded in the query, or HTTP Basic
        auth = base64.b64encode(("root:%s" % self.srv.password).encode()).decode()
        sid = self.srv.session
        for q, hdr in (("uuid=%s" % cons["rfb"], "Authorization: Basic %s\r\n" % auth),
                       ("uuid=%s" % cons["rfb"], "Cookie: a=b; session_id=%s\r\n" % sid),
                       ("session_id=%s&uuid=%s" % (sid.replace(":", "%3A"), cons["rfb"]), "")):
            c = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
            c.sendall(("CONNECT /console?%s HTTP/1.1\r\n%s\r\n" % (q, hdr)).encode())
            head, rest = recv_headers(c)
            self.assertTrue(head.startswith("HTTP/1.1 200 OK"), (q, hdr, head))
            self.assertEqual(self.read_until(c, rest, b"\n")[:12], b"RFB 003.008\n")
            c.close()
        # plain requests on the same port still reach the API
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")

        # over TLS: a WebSocket (wss) to VNC, through RFB 003.008's handshake
        s, head, rest = self.open(cons["rfb"], method="GET", ws=True, tls=True)
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        self.rfb_handshake(s, WsReader(s, rest))
        s.close()
        # … and to the serial console: history, input and its output
        s, head, rest = self.open(cons["vt100"], method="GET", ws=True, tls=True)
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        ws = WsReader(s, rest)
        self.read_until(s, b"", b"XENON-GUEST: ready", ws=ws)
        s.sendall(ws_frame(b"echo wss-$((%d+1))\n" % os.getpid()))
        self.read_until(s, b"", b"\nwss-%d" % (os.getpid() + 1), ws=ws)
        s.sendall(ws_frame(b"\x03\xe8", op=8))
        s.close()
        # CONNECT over TLS: libmicrohttpd answers it with 101 (see console_http.c)
        s, head, rest = self.open(cons["rfb"], tls=True)
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        self.assertEqual(self.read_until(s, rest, b"\n")[:12], b"RFB 003.008\n")
        s.close()

        # the serial port is given back when the last client leaves
        time.sleep(0.3)
        tag2 = "direct-%d" % os.getpid()
        d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        d.connect(os.path.join(self.vm_dir(vm), "serial.sock"))
        d.sendall(("echo %s\n" % tag2).encode())
        deadline = time.monotonic() + 15
        while ("\n" + tag2).encode() not in open(log, "rb").read()[-4096:]:
            self.assertLess(time.monotonic(), deadline, "direct serial input ignored")
            time.sleep(0.1)
        d.close()

        api.VM.hard_shutdown(vm)
        self.assertEqual(api.VM.get_consoles(vm), [])


if __name__ == "__main__":
    unittest.main()
