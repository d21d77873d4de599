"""A lab of several hosts on one machine, for the pool suites.

Each host is a network namespace of its own (xlab<id>-h<N>) with a veth
whose other end is on a bridge in a switch namespace (xlab<id>-sw); the
hosts have addresses in 10.77.0.0/24 inside those namespaces only, and the
switch's bridge has 10.77.0.254. Nothing is routed into the root
namespace: while the lab is up, the calling thread (and the threads and
processes it starts) live in the switch namespace (setns), so the test
reaches every host's address and the hosts reach each other.

Each host gets its own data directory and runs xenond under
`ip netns exec` through harness.Server (host=its address). cut(host) takes
its switch port down (the host is unreachable, it reaches no one);
heal(host) brings it up again. close() (also at exit and on failure)
stops the daemons and deletes every namespace the lab made.

    with Lab(3) as lab:
        lab.start()
        lab.hosts[0].server.api.pool.get_all()
"""

import atexit
import ctypes
import os
import random
import shutil
import subprocess
import struct
import time

import harness

IP = shutil.which("ip") or "/usr/sbin/ip"
TCPDUMP = shutil.which("tcpdump")
SUBNET = "10.77.0"
PORT = 8080
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _ip(*args, check=True):
    return subprocess.run([IP] + list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def _setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def namespaces():
    """The names of every network namespace present."""
    out = _ip("netns", "list", check=False).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip()]


class Host:
    def __init__(self, lab, index):
        self.lab = lab
        self.index = index
        self.name = "h%d" % (index + 1)
        self.netns = "%s-%s" % (lab.prefix, self.name)
        self.address = "%s.%d" % (SUBNET, index + 1)
        self.port = PORT
        self.if_host = "eth0"
        self.if_switch = "p%d" % (index + 1)
        self.data_dir = harness._tmpdir("xenon-lab-%s-" % self.name)
        self.server = None

    def make(self):
        sw = self.lab.switch
        _ip("netns", "add", self.netns)
        _ip("-n", self.netns, "link", "set", "lo", "up")
        _ip("-n", self.netns, "link", "add", self.if_host, "type", "veth", "peer", "name",
            self.if_switch, "netns", sw)
        _ip("-n", sw, "link", "set", self.if_switch, "master", "br0", "up")
        _ip("-n", self.netns, "addr", "add", self.address + "/24", "dev", self.if_host)
        _ip("-n", self.netns, "link", "set", self.if_host, "up")

    def start(self, extra_args=(), timeout=30.0, **kw):
        if self.server is None:
            self.server = harness.Server(data_dir=self.data_dir, host=self.address,
                                         prefix=[IP, "netns", "exec", self.netns],
                                         extra_args=extra_args, **kw)
        self.server.start(timeout=timeout, port=self.port)
        return self.server

    def exec(self, *cmd, **kw):
        """Runs a command inside the host's namespace."""
        return subprocess.run([IP, "netns", "exec", self.netns] + list(cmd), **kw)


def tcp_flows(path):
    """The TCP connections in an Ethernet pcap: {(client, server): payload
    the client sent, in order} for those whose SYN was seen."""
    flows, seen = {}, set()
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
            continue
        ihl = (pkt[14] & 15) * 4
        ip_len = struct.unpack_from(">H", pkt, 16)[0]
        tcp = pkt[14 + ihl:14 + ip_len]
        if len(tcp) < 20:
            continue
        src = "%d.%d.%d.%d:%d" % (*pkt[26:30], struct.unpack_from(">H", tcp, 0)[0])
        dst = "%d.%d.%d.%d:%d" % (*pkt[30:34], struct.unpack_from(">H", tcp, 2)[0])
        flags = tcp[13]
        if flags & 0x02 and not flags & 0x10:
            seen.add((src, dst))
            flows.setdefault((src, dst), [])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload and (src, dst) in seen:
            flows[(src, dst)].append(payload)
    return {k: b"".join(v) for k, v in flows.items()}


class Capture:
    """tcpdump on the switch's bridge (the first 200 bytes of each packet)
    of the TCP traffic but the API's, while the with block runs; .flows
    then holds tcp_flows of it."""

    def __init__(self, lab):
        self.lab = lab
        self.flows = {}
        self.path = os.path.join(harness._tmpdir("xenon-lab-cap-"), "cap.pcap")

    def __enter__(self):
        # the test's thread is in the switch's namespace: so is tcpdump
        self.proc = subprocess.Popen([TCPDUMP, "-i", "br0", "-U", "-s", "200", "-w", self.path,
                                      "tcp and not port %d" % PORT],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.path) and os.path.getsize(self.path) >= 24):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise AssertionError("tcpdump did not start")
            time.sleep(0.05)
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(10)
        self.flows = tcp_flows(self.path)
        os.unlink(self.path)


class Lab:
    def __init__(self, n):
        self.prefix = "xlab%06x" % random.getrandbits(24)
        self.switch = self.prefix + "-sw"
        self.hosts = [Host(self, i) for i in range(n)]
        self._home = None
        self._made = []
        self.closed = False
        atexit.register(self.close)

    def __enter__(self):
        self.make()
        return self

    def __exit__(self, *exc):
        self.close()

    def make(self):
        try:
            _ip("netns", "add", self.switch)
            self._made.append(self.switch)
            _ip("-n", self.switch, "link", "set", "lo", "up")
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.switch, "addr", "add", SUBNET + ".254/24", "dev", "br0")
            _ip("-n", self.switch, "link", "set", "br0", "up")
            for h in self.hosts:
                self._made.append(h.netns)
                h.make()
            # the test's own thread joins the switch, where every host is reachable
            self._home = os.open("/proc/self/ns/net", os.O_RDONLY)
            _setns("/run/netns/" + self.switch)
        except BaseException:
            self.close()
            raise
        return self

    def start(self, **kw):
        for h in self.hosts:
            h.start(**kw)
        return self

    def capture(self):
        return Capture(self)

    def cut(self, host):
        _ip("-n", self.switch, "link", "set", host.if_switch, "down")

    def heal(self, host):
        _ip("-n", self.switch, "link", "set", host.if_switch, "up")

    def close(self):
        if self.closed:
            return
        self.closed = True
        for h in self.hosts:
            if h.server is not None:
                try:
                    h.server.kill9()
                except Exception:
                    pass
        if self._home is not None:
            _libc.setns(self._home, CLONE_NEWNET)
            os.close(self._home)
            self._home = None
        for ns in reversed(self._made):
            _ip("netns", "del", ns, check=False)
        self._made = []

    def names(self):
        """The namespaces of this lab still present."""
        return [n for n in namespaces() if n.startswith(self.prefix)]
