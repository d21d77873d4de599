"""A lab switch for the networking suites: a network namespace of its own
running Open vSwitch on the userspace (netdev) datapath, which stands for
the physical switch (this kernel has no 8021q and refuses a VLAN-aware
Linux bridge). NICs are veths with one end in the caller's namespace (the
host's NIC) and the other a trunk port of the switch's bridge sw0; ports
with an address stand for machines on a VLAN (tag) or untagged.

    sw = LabSwitch()
    sw.nic("eth1")                       # eth1 here, trunk port s-eth1 there
    sw.endpoint("v100", "10.100.0.254/24", tag=100)
    ...
    sw.close()
"""

import atexit
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

IP = shutil.which("ip") or "/usr/sbin/ip"


def _run(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


class LabSwitch:
    def __init__(self):
        self.ns = "xsw%06x" % random.getrandbits(24)
        self.dir = tempfile.mkdtemp(prefix="xenon-sw-")
        self.closed = False
        self.endpoints = []
        atexit.register(self.close)
        _run(IP, "netns", "add", self.ns)
        try:
            self.exec("ip", "link", "set", "lo", "up")
            db = os.path.join(self.dir, "conf.db")
            _run("ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
            self.exec("ovsdb-server", db, "--remote=punix:" + self.sock(), "--pidfile=" + self.pid("ovsdb-server"),
                      "--detach", "--no-chdir", "--log-file=" + os.path.join(self.dir, "ovsdb-server.log"))
            # with userspace TSO the datapath reads the virtio-net header of
            # frames from veths and completes their checksums; without it a
            # UDP reply from an endpoint (DHCP) arrives with a bad checksum
            self.vsctl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
                       "other_config:userspace-tso-enable=true")
            self.exec("ovs-vswitchd", "unix:" + self.sock(), "--pidfile=" + self.pid("ovs-vswitchd"), "--detach",
                      "--no-chdir", "--log-file=" + os.path.join(self.dir, "ovs-vswitchd.log"))
            self.vsctl("add-br", "sw0", "--", "set", "bridge", "sw0", "datapath_type=netdev")
            self.exec("ip", "link", "set", "sw0", "up")
        except BaseException:
            self.close()
            raise

    def env(self):
        return dict(os.environ, OVS_RUNDIR=self.dir, OVS_DBDIR=self.dir, OVS_LOGDIR=self.dir)

    def sock(self):
        return os.path.join(self.dir, "db.sock")

    def pid(self, daemon):
        return os.path.join(self.dir, daemon + ".pid")

    def exec(self, *cmd, check=True):
        return subprocess.run([IP, "netns", "exec", self.ns] + list(cmd), check=check, capture_output=True,
                              text=True, env=self.env())

    def vsctl(self, *args):
        return self.exec("ovs-vsctl", "--db=unix:" + self.sock(), "--timeout=10", *args).stdout.strip()

    def nic(self, name, peer_ns=None, port=None):
        """A veth: name in peer_ns (default: the caller's namespace), its
        other end a trunk port of sw0 (port, default s-<name>)."""
        port = port or "s-" + name
        cmd = [IP] + (["-n", peer_ns] if peer_ns else []) + ["link", "add", name, "type", "veth", "peer", "name",
                                                             port, "netns", self.ns]
        _run(*cmd)
        self.vsctl("add-port", "sw0", port)
        self.exec("ip", "link", "set", port, "up")
        return port

    def endpoint(self, name, cidr, tag=None):
        """A machine on VLAN tag (untagged when None): a namespace of its
        own (<switch>-<name>) whose eth0 has the address, its cable an
        access port <name> of sw0."""
        ns = "%s-%s" % (self.ns, name)
        _run(IP, "netns", "add", ns)
        self.endpoints.append(ns)
        _run(IP, "-n", ns, "link", "set", "lo", "up")
        _run(IP, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", name, "netns", self.ns)
        _run(IP, "-n", ns, "addr", "add", cidr, "dev", "eth0")
        _run(IP, "-n", ns, "link", "set", "eth0", "up")
        args = ["add-port", "sw0", name]
        if tag is not None:
            args += ["tag=%d" % tag]
        self.vsctl(*args)
        self.exec("ip", "link", "set", name, "up")
        return ns

    def cut(self, port):
        self.exec("ip", "link", "set", port, "down")

    def heal(self, port):
        self.exec("ip", "link", "set", port, "up")

    def close(self):
        if self.closed:
            return
        self.closed = True
        for d in ("ovs-vswitchd", "ovsdb-server"):
            try:
                with open(self.pid(d)) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        time.sleep(0.2)
        for ns in self.endpoints + [self.ns]:
            _run(IP, "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_ovs_of(data_dir):
    """Ends the Open vSwitch daemons a xenond started under data_dir/ovs
    (they outlive xenond, as its guests do)."""
    for d in ("ovs-vswitchd", "ovsdb-server"):
        try:
            with open(os.path.join(data_dir, "ovs", d + ".pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
