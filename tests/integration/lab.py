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

import harness

IP = shutil.which("ip") or "/usr/sbin/ip"
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
