"""Live packet capture (GET /capture, xe vif-capture / pif-capture) with the
QEMU backend, inside a network namespace the test makes: a tiny guest on a
network pings the bridge's address while the host sends it UDP datagrams;
a capture filtered on ICMP holds exactly the echo requests and replies, in
pcap that tcpdump -r reads, while an unfiltered one beside it sees the UDP
too. Refusals come before any byte: no session, a bad session, a role
below pool-operator, a bad filter, a halted VM's VIF, one capture over
capture-max. The daemon runs one HTTP thread and serves RPCs while
captures stream; a client that hangs up ends its capture (the packet
socket and the thread go); stopping xenond ends every capture. xe
pif-capture captures the host's PIF once a device of its name (a veth
eth0 made here) exists. Skipped
without root, qemu-system-x86_64, ip or tcpdump."""

import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
IP = shutil.which("ip")
TCPDUMP = shutil.which("tcpdump")

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not IP or not TCPDUMP or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip, tcpdump and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import QEMU  # noqa: E402

PASSWORD = "capture-pw"
USERS = {"operator": "pool-operator", "vmadmin": "vm-admin"}
GUEST_IP, HOST_IP = "10.78.0.1", "10.78.0.254"
PCAP_MAGIC = b"\xd4\xc3\xb2\xa1"  # little-endian microsecond pcap, as libpcap writes here


def packet_sockets():
    """Packet sockets open in this namespace (libpcap's live handles)."""
    with open("/proc/net/packet") as f:
        return len(f.readlines()) - 1


def pcap_records(data):
    """(linktype, [(caplen, origlen, bytes)]) of a pcap file; asserts its shape."""
    assert data[:4] == PCAP_MAGIC, data[:4]
    linktype = struct.unpack("<I", data[20:24])[0]
    recs, off = [], 24
    while off < len(data):
        _s, _us, caplen, origlen = struct.unpack("<IIII", data[off:off + 16])
        recs.append((caplen, origlen, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    assert off == len(data), "a record cut short"
    return linktype, recs


def tcpdump_lines(path):
    p = subprocess.run([TCPDUMP, "-nn", "-r", path], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l.strip()]


class Stream:
    """One GET /capture on a raw socket, read on a thread of its own:
    status, headers and the body as it comes."""

    def __init__(self, srv, **q):
        self.sock = socket.create_connection((srv.host, srv.port), timeout=60)
        path = "/capture?" + urllib.parse.urlencode(q)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        self.raw = b""
        self.done = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    break
                self.raw += b
        except OSError:
            pass
        self.done.set()

    def head(self):
        h, sep, _ = self.raw.partition(b"\r\n\r\n")
        return h.decode(errors="replace") if sep else None

    def status(self):
        h = self.head()
        return int(h.split()[1]) if h else None

    def body(self):
        """The body, de-chunked (what arrived of it)."""
        h, _, rest = self.raw.partition(b"\r\n\r\n")
        if b"chunked" not in h.lower():
            return rest
        out = b""
        while rest:
            line, sep, rest = rest.partition(b"\r\n")
            if not sep:
                break
            n = int(line.split(b";")[0], 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        return out

    def wait_body(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.body()) < n and not self.done.is_set():
            time.sleep(0.02)
        return len(self.body()) >= n

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.t.join(5)


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class CaptureTest(guest.GuestMixin, harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(backend="qemu",
                                 data_dir=harness.data_dir_with_users(USERS, PASSWORD, "xenon-capture-"))
        guest.install(cls)
        # one HTTP thread: a capture that held it would stop every other request
        conf = os.path.join(cls.srv.data_dir, "xenond.conf")
        with open(conf, "w") as f:
            f.write("capture-max = 2\nhttp-threads = 1\n")
        cls.srv.extra_args += ["--config", conf]
        cls.srv.start()
        cls.api = cls.srv.api
        net = cls.api.network.create({"name_label": "cap", "name_description": "", "MTU": 1500,
                                      "other_config": {}, "bridge": "", "managed": True, "tags": []})
        cls.bridge = cls.api.network.get_bridge(net)
        cls.net = net

    @classmethod
    def tearDownClass(cls):
        guest.halt_all(cls)
        cls.srv.stop()
        guest._kill_leftover_qemus()

    def get(self, **q):
        c = self.srv.connection(30)
        try:
            c.request("GET", "/capture?" + urllib.parse.urlencode(q))
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def assertRefused(self, status, code, q, params=None):
        st, body = self.get(**q)
        self.assertEqual(st, status, body)
        self.assertFalse(body.startswith(PCAP_MAGIC))
        words = body.decode().rstrip("\n").split(" ")
        self.assertEqual(words[0], code, body)
        if params is not None:
            self.assertEqual(words[1:], params)
        return body.decode()

    def new_net_vm(self, name):
        vm = self.new_vm(name, PV_args=guest.ARGS + " xenon.ip=%s/24" % GUEST_IP)
        vif = self.api.VIF.create({"device": "0", "network": self.net, "VM": vm, "MAC": "", "MTU": 1500,
                                   "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        return vm, vif

    def guest_exec(self, vm, cmd, timeout=60):
        return self.api.VM.guest_exec(vm, ["sh", "-c", cmd], "", timeout)

    def test_1_refusals(self):
        vm, vif = self.new_net_vm("cap-halted")
        type(self).vm, type(self).vif = vm, vif
        sid = self.srv.session
        self.assertRefused(401, "SESSION_AUTHENTICATION_FAILED", {"ref": vif})
        self.assertRefused(401, "SESSION_INVALID", {"session_id": "OpaqueRef:nope", "ref": vif})
        vmadmin = self.srv.login("vmadmin", PASSWORD)
        self.assertRefused(403, "RBAC_PERMISSION_DENIED", {"session_id": vmadmin, "ref": vif})
        self.assertRefused(400, "INVALID_VALUE", {"session_id": sid}, ["ref", ""])
        self.assertRefused(404, "HANDLE_INVALID", {"session_id": sid, "ref": "OpaqueRef:nope"})
        # a pool operator gets past the role check to the VM's state
        operator = self.srv.login("operator", PASSWORD)
        self.assertRefused(409, "VM_BAD_POWER_STATE", {"session_id": operator, "ref": vif},
                           [vm, "running", "halted"])
        for k, v in (("snaplen", "0"), ("snaplen", "x"), ("duration", "-1"), ("max_bytes", "10")):
            self.assertRefused(400, "INVALID_VALUE", {"session_id": sid, "ref": vif, k: v}, [k, v])
        # xe: the server's error, no file left
        out = os.path.join(self.srv.data_dir, "halted.pcap")
        p = self.srv.xe("vif-capture", "uuid=" + self.api.VIF.get_uuid(vif), "filename=" + out)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("expected: running", p.stdout + p.stderr)
        self.assertIn("actual: halted", p.stdout + p.stderr)
        self.assertFalse(os.path.exists(out))
        p = self.srv.xe("pif-capture", "uuid=00000000-0000-0000-0000-000000000000", "filename=-")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("The uuid you supplied was invalid", p.stdout + p.stderr)
        self.assertEqual(packet_sockets(), 0)

    def test_2_filtered_capture(self):
        vm, vif = self.vm, self.vif
        self.start_ready(vm)
        subprocess.run([IP, "addr", "add", HOST_IP + "/24", "dev", self.bridge], check=True)
        sid = self.srv.session
        # a bad filter on a running VIF: refused before any byte, libpcap's reason
        body = self.assertRefused(400, "CAPTURE_FILTER_INVALID",
                                  {"session_id": sid, "ref": vif, "filter": "icmp and bogus junk"})
        self.assertIn("icmp and bogus junk", body)
        self.assertEqual(packet_sockets(), 0, "a refused capture leaves no handle")
        # the guest's ARP entry for the host first, so the capture sees only this run's packets
        self.guest_exec(vm, "ping -c 1 -W 3 %s" % HOST_IP)
        # echo only: the host's datagrams make the guest answer "port unreachable"
        icmp = Stream(self.srv, session_id=sid, ref=vif, duration="8",
                      filter="icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply")
        everything = Stream(self.srv, session_id=sid, ref=vif, duration="8")
        self.assertTrue(icmp.wait_body(24) and everything.wait_body(24), icmp.raw[:300])
        self.assertEqual(icmp.status(), 200)
        self.assertIn("application/vnd.tcpdump.pcap", icmp.head())
        self.assertEqual(packet_sockets(), 2)
        # a third at once is over capture-max = 2
        self.assertRefused(503, "CAPTURE_LIMIT_REACHED", {"session_id": sid, "ref": vif}, ["2"])
        # traffic: 4 pings from the guest, 5 UDP datagrams from the host
        out = self.guest_exec(vm, "ping -c 4 -i 0.3 -W 3 %s" % HOST_IP)
        self.assertIn("4 packets received", out["stdout"], out)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):
            u.sendto(b"not-icmp-%d" % i, (GUEST_IP, 9999))
        u.close()
        t = time.monotonic()
        self.assertTrue(icmp.done.wait(15) and everything.done.wait(15), "the captures end at duration")
        self.assertLess(time.monotonic() - t, 10)
        self.wait_for(lambda: packet_sockets() == 0, 5, msg="the pcap handles closed")
        files = {}
        for name, s in (("icmp", icmp), ("all", everything)):
            files[name] = os.path.join(self.srv.data_dir, name + ".pcap")
            with open(files[name], "wb") as f:
                f.write(s.body())
            s.close()
        linktype, recs = pcap_records(icmp.body())
        self.assertEqual(linktype, 1)  # Ethernet
        self.assertEqual(len(recs), 8, tcpdump_lines(files["icmp"]))
        lines = tcpdump_lines(files["icmp"])
        self.assertEqual(len(lines), 8)
        self.assertEqual(sum("ICMP echo request" in l and "%s > %s" % (GUEST_IP, HOST_IP) in l for l in lines), 4)
        self.assertEqual(sum("ICMP echo reply" in l and "%s > %s" % (HOST_IP, GUEST_IP) in l for l in lines), 4)
        every = tcpdump_lines(files["all"])
        self.assertEqual(sum("ICMP echo" in l for l in every), 8)
        self.assertEqual(sum("udp port 9999 unreachable" in l for l in every), 5, every)
        self.assertEqual(sum("%s.9999" % GUEST_IP in l and "UDP" in l for l in every), 5, every)

    def test_3_serves_while_streaming_and_hang_up(self):
        sid = self.srv.session
        threads = self.srv.thread_count()
        # two captures on which nothing comes: suspended, holding no thread
        idle = [Stream(self.srv, session_id=sid, ref=self.vif, filter="tcp port 1") for _ in range(2)]
        for s in idle:
            self.assertTrue(s.wait_body(24), s.raw[:300])
        self.assertEqual(packet_sockets(), 2)
        worst = 0
        t0 = time.monotonic()
        for _ in range(30):
            t = time.monotonic()
            self.assertEqual(self.api.VM.get_power_state(self.vm), "Running")
            worst = max(worst, time.monotonic() - t)
        self.timings["30 RPCs while 2 captures stream"] = time.monotonic() - t0
        self.assertLess(worst, 2.0)
        # the clients go: their captures end, packet sockets and threads with them
        for s in idle:
            s.close()
        self.wait_for(lambda: packet_sockets() == 0, 5, msg="the pcap handles closed after the hang-up")
        self.wait_for(lambda: self.srv.thread_count() <= threads, 5, msg="the capture threads gone")
        self.assertGreaterEqual(self.srv.log_text().count("capture: ended"), 2)
        # and their slots are free again
        again = [Stream(self.srv, session_id=sid, ref=self.vif, duration="1") for _ in range(2)]
        for s in again:
            self.assertTrue(s.done.wait(10))
            self.assertEqual(s.status(), 200, s.raw[:300])
            pcap_records(s.body())
            s.close()

    def test_4_xe(self):
        vm, vif = self.vm, self.vif
        uuid = self.api.VIF.get_uuid(vif)
        out = os.path.join(self.srv.data_dir, "xe.pcap")
        p = self.srv.xe("vif-capture", "uuid=" + uuid, "filter=tcp port", "filename=" + out)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("CAPTURE_FILTER_INVALID", p.stdout + p.stderr)
        self.assertIn("tcp port", p.stdout + p.stderr)
        self.assertFalse(os.path.exists(out))
        p = subprocess.Popen([harness.XE, "-s", self.srv.host, "-p", str(self.srv.port), "--nossl", "-u", "root",
                              "-pw", self.srv.password, "vif-capture", "uuid=" + uuid, "filter=icmp",
                              "duration=6", "filename=" + out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_for(lambda: os.path.exists(out) and os.path.getsize(out) >= 24, 10, msg="xe's capture running")
        self.guest_exec(vm, "ping -c 3 -i 0.3 -W 3 %s" % HOST_IP)
        so, se = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, se)
        lines = tcpdump_lines(out)
        self.assertEqual(len(lines), 6, lines)
        self.assertTrue(all("ICMP echo" in l for l in lines))
        # filename=- with max-bytes: stops by itself, whole records within the bound
        p = subprocess.Popen([harness.XE, "-s", self.srv.host, "-p", str(self.srv.port), "--nossl", "-u", "root",
                              "-pw", self.srv.password, "vif-capture", "uuid=" + uuid, "max-bytes=300",
                              "duration=30", "filename=-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1)
        t = time.monotonic()
        self.guest_exec(vm, "ping -c 6 -i 0.2 -W 3 %s" % HOST_IP)
        so, se = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, se)
        self.assertLess(time.monotonic() - t, 15, "max-bytes ended it, not duration")
        self.assertLessEqual(len(so), 300)
        _, recs = pcap_records(so)
        self.assertGreaterEqual(len(recs), 1)
        self.assertGreater(len(so) + 16 + 98, 300, "it stopped only when the next packet did not fit")
        path = os.path.join(self.srv.data_dir, "stdout.pcap")
        with open(path, "wb") as f:
            f.write(so)
        self.assertEqual(len(tcpdump_lines(path)), len(recs))

    def test_5_daemon_stop_ends_captures(self):
        s = Stream(self.srv, session_id=self.srv.session, ref=self.vif, filter="tcp port 1")
        self.assertTrue(s.wait_body(24))
        t = time.monotonic()
        self.srv.stop()
        self.assertEqual(self.srv.proc.returncode, 0, self.srv.log_tail(30))
        self.assertLess(time.monotonic() - t, 10)
        self.assertTrue(s.done.wait(5), "the client saw the end")
        s.close()
        self.assertEqual(packet_sockets(), 0)
        self.srv.start()
        type(self).api = self.srv.api

    def test_6_pif(self):
        """The host's PIF (eth0 in the record xenond starts with): refused
        while no such device exists here, captured once a veth of that name
        carries traffic."""
        pif = [p for p in self.api.PIF.get_all() if self.api.PIF.get_device(p) == "eth0"][0]
        uuid = self.api.PIF.get_uuid(pif)
        sid = self.srv.session
        self.assertRefused(409, "DEVICE_NOT_ATTACHED", {"session_id": sid, "ref": pif}, [pif])
        subprocess.run([IP, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"], check=True)
        try:
            for dev in ("eth0", "eth0p"):
                subprocess.run([IP, "link", "set", dev, "up"], check=True)
            subprocess.run([IP, "addr", "add", "192.0.2.1/24", "dev", "eth0"], check=True)
            out = os.path.join(self.srv.data_dir, "pif.pcap")
            p = subprocess.Popen([harness.XE, "-s", self.srv.host, "-p", str(self.srv.port), "--nossl", "-u",
                                  "root", "-pw", self.srv.password, "pif-capture", "uuid=" + uuid,
                                  "filter=udp port 9", "duration=4", "filename=" + out],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.wait_for(lambda: os.path.exists(out) and os.path.getsize(out) >= 24, 10, msg="the capture running")
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
            for i in range(3):
                u.sendto(b"pif-%d" % i, ("192.0.2.255", 9))
                u.sendto(b"other-%d" % i, ("192.0.2.255", 10))
            u.close()
            _, se = p.communicate(timeout=20)
            self.assertEqual(p.returncode, 0, se)
            lines = tcpdump_lines(out)
            self.assertEqual(len(lines), 3, lines)
            self.assertTrue(all("192.0.2.255.9:" in l for l in lines), lines)
        finally:
            subprocess.run([IP, "link", "del", "eth0"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
