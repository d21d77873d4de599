"""Pools in the lab (lab.py), for the pool suites and benchmarks.

Formed by configuration: every host gets pool-address/pool-id/pool-peers,
all start together (each waits for a leader, which needs the others), and
a Keeper thread per host starts and restarts its xenond: a daemon dies with
the thread that started it (PDEATHSIG), so that thread lives as long as
the pool.

    with lab.Lab(3) as l:
        pool = Pool(l)
        pool.start()
        m = pool.find_master(10)
        pool.kill(m); pool.restart(m)

Formed as a user forms one: hosts started alone, then `xe pool-join` to
the first (join()); second NICs on a segment of their own
(add_second_nics()).

LabNfs: an NFS server (v3 and v4) in the lab's switch namespace, for shared
SRs every host reaches, QEMU's own nfs:// client included.
"""

import json
import os
import queue
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import harness
import lab

RAFT_PORT = 7911


class Keeper(threading.Thread):
    """Runs the start/restart calls of one host's daemon on a thread that
    stays alive until close()."""

    def __init__(self, host):
        super().__init__(daemon=True)
        self.host = host
        self.q = queue.Queue()
        self.start()

    def run(self):
        while True:
            job = self.q.get()
            if job is None:
                return
            fn, box, done = job
            try:
                box.append(("ok", fn()))
            except Exception as e:  # handed to the caller
                box.append(("err", e))
            done.set()

    def call(self, fn, wait=True, timeout=60):
        box, done = [], threading.Event()
        self.q.put((fn, box, done))
        if not wait:
            return done, box
        if not done.wait(timeout):
            raise RuntimeError("%s: no answer from its keeper" % self.host.name)
        kind, v = box[0]
        if kind == "err":
            raise v
        return v

    def close(self):
        self.q.put(None)


def pool_config(l, i, extra=""):
    h = l.hosts[i]
    peers = ",".join("%d@%s:%d" % (j + 1, x.address, RAFT_PORT) for j, x in enumerate(l.hosts))
    return "pool-address=%s:%d\npool-id=%d\npool-peers=%s\n%s" % (h.address, RAFT_PORT, i + 1, peers, extra)


class Pool:
    def __init__(self, l, extra_config="", call_timeout=10):
        self.lab = l
        for i, h in enumerate(l.hosts):
            h.server = harness.Server(
                data_dir=h.data_dir, host=h.address, prefix=[lab.IP, "netns", "exec", h.netns],
                config=pool_config(l, i, extra_config), call_timeout=call_timeout)
        self.keepers = {h.name: Keeper(h) for h in l.hosts}
        self.by_address = {h.address: h for h in l.hosts}

    def start(self, hosts=None):
        hosts = hosts or self.lab.hosts
        waits = [self.keepers[h.name].call(lambda h=h: h.start(timeout=40), wait=False) for h in hosts]
        errors = []
        for done, box in waits:
            done.wait(60)
            if box and box[0][0] == "err":
                errors.append(box[0][1])
        if errors:
            raise errors[0]

    def kill(self, h):
        h.server.kill9()

    def restart(self, h):
        """Starts a host's daemon again (after kill); blocks until it answers."""
        self.keepers[h.name].call(lambda: h.server.start(timeout=40, port=h.port))

    def close(self):
        for k in self.keepers.values():
            k.close()

    def find_master(self, timeout, among=None):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for h in among or self.lab.hosts:
                if h.server.alive() and slave_error(h)[0] is None:
                    return h
            time.sleep(0.05)
        return None


def _sbin(name):
    return shutil.which(name) or os.path.join("/usr/sbin", name)


# Runs in a mount namespace of its own (unshare -m) with a private tmpfs over
# /run: rpcbind's unix socket and lock files, which ganesha registers
# through, are the lab's own there, never those of an rpcbind of the machine
# (another suite may run one at the same time), and the system bus is out of
# reach (ganesha's D-Bus name is the machine's). Everything goes with the
# namespace when the processes end.
_NFS_RUN = """
set -e
mount -t tmpfs -o mode=0755,size=4m xenon-lab-nfs /run
"$1" -f &
i=0
while [ ! -S /run/rpcbind.sock ]; do i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done
shift
exec "$@"
"""


class LabNfs:
    """nfs-ganesha in the lab's switch namespace (the test thread lives
    there, so a process it starts does too), on the switch's address:
    NFSv4 and NFSv3 (what QEMU's libnfs speaks) on port 2049, the mount
    protocol on MNT_PORT, with an rpcbind of its own on port 111 of that
    address, both in a private mount namespace (see _NFS_RUN). One process
    group; stop() ends it all."""

    MNT_PORT = 20048

    def __init__(self, base):
        self.base = base
        self.export = os.path.join(base, "export")
        os.makedirs(self.export)
        os.makedirs(os.path.join(base, "recovery"))
        self.conf = os.path.join(base, "ganesha.conf")
        self.log = os.path.join(base, "ganesha.log")
        self.server = lab.SUBNET + ".254"
        with open(self.conf, "w") as f:
            f.write("""
NFS_CORE_PARAM { NFS_Port = 2049; MNT_Port = %d; Bind_addr = %s;
                 Enable_NLM = false; Enable_RQUOTA = false; Protocols = 3, 4; }
NFSV4 { Graceless = true; RecoveryRoot = %s; }
EXPORT { Export_Id = 7703; Path = %s; Pseudo = %s; Access_Type = RW; Squash = No_Root_Squash;
         Protocols = 3, 4; Transports = TCP; SecType = sys; FSAL { Name = VFS; } }
""" % (self.MNT_PORT, self.server, os.path.join(base, "recovery"), self.export, self.export))
        self.proc = None

    def registered(self):
        """The (program, version) pairs rpcbind on the switch lists."""
        try:
            r = subprocess.run([_sbin("rpcinfo"), "-p", self.server], capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return set()
        got = set()
        for line in r.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 5:
                got.add((f[4], int(f[1])))
        return got

    def start(self):
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", _NFS_RUN, "lab-nfs", _sbin("rpcbind"),
             _sbin("ganesha.nfsd"), "-F", "-f", self.conf, "-L", self.log,
             "-p", os.path.join(self.base, "ganesha.pid"), "-N", "NIV_EVENT"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        want = {("nfs", 3), ("nfs", 4), ("mountd", 3)}

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("ganesha.nfsd exited (%s):\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection((self.server, 2049), timeout=0.5):
                    pass
            except OSError:
                return False
            return want <= self.registered()
        try:
            wait_for(up, 30, "nfs-ganesha and its rpcbind", interval=0.1)
        except BaseException:
            self.stop()
            raise

    def log_tail(self):
        return harness.file_tail(self.log)

    def stop(self):
        """Ends ganesha and rpcbind (the whole process group) and waits for
        them: the private /run goes with them."""
        if not self.proc:
            return
        pgid = self.proc.pid

        def gone():
            self.proc.poll()  # reaps ganesha: a zombie still counts in its group
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return True
            return False
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + 20
            while not gone() and time.monotonic() < end:
                time.sleep(0.05)
            if gone():
                break
        self.proc.wait(10)
        self.proc = None

    def device_config(self, version="4"):
        """An NFS SR's device_config for the export: "3" for disks QEMU
        opens (its libnfs speaks NFSv3 only)."""
        return {"server": self.server, "serverpath": self.export, "nfsversion": version}


# A counter on the guest's serial console: C1, C2, ... every 0.2 s
COUNTER = "i=0; while :; do i=$((i+1)); echo C$i; sleep 0.2; done"


def serial_log(h, uuid):
    """What the VM has written to its serial console, as kept by the xenond
    of host h (the one it runs on: the log moves with the VM)."""
    try:
        with open(os.path.join(h.data_dir, "run", "vm", uuid, "serial.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def counts(text):
    """The counts of COUNTER in a serial log, in order."""
    return [int(n) for n in re.findall(r"^C(\d+)\r?$", text, re.M)]


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def join(l, hosts=None, timeout=30):
    """`xe pool-join` of each of hosts (every host but the first by default,
    each started) to the lab's first host; waits until every running host is
    in the pool and live. Returns the host refs by address."""
    h1 = l.hosts[0]
    a = h1.server.api
    for h in l.hosts[1:] if hosts is None else hosts:
        r = h.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                        "master-password=" + h1.server.password)
        assert r.returncode == 0, "%s: pool-join: %s" % (h.name, r.stdout + r.stderr)
    running = [h for h in l.hosts if h.server is not None and h.server.alive()]
    wait_for(lambda: len(a.host.get_all()) == len(running), timeout,
             "%d hosts in the pool" % len(running))
    refs = {h.address: [x for x in a.host.get_all() if a.host.get_address(x) == h.address][0]
            for h in running}
    wait_for(lambda: all(a.host_metrics.get_live(a.host.get_metrics(x)) for x in refs.values()), timeout,
             "every host live")
    return refs


def add_second_nics(l):
    """A second NIC, eth1, on every host, cabled to a bridge of its own
    (br1) in the switch's namespace: one segment with eth0 would have both
    NICs answer ARP."""
    lab._ip("-n", l.switch, "link", "add", "br1", "type", "bridge")
    lab._ip("-n", l.switch, "link", "set", "br1", "up")
    for h in l.hosts:
        lab._ip("-n", h.netns, "link", "add", "eth1", "type", "veth", "peer", "name", "q" + h.name,
                "netns", l.switch)
        lab._ip("-n", l.switch, "link", "set", "q" + h.name, "master", "br1", "up")
        lab._ip("-n", h.netns, "link", "set", "eth1", "up")


def halt_vms(api):
    """Hard-shuts-down every VM still running (a class's tear-down: errors
    are left to the tear-down's own checks); nothing without an API."""
    if api is None:
        return
    try:
        for vm in api.VM.get_all():
            if not api.VM.get_is_a_template(vm) and api.VM.get_power_state(vm) != "Halted":
                api.VM.hard_shutdown(vm)
    except Exception:
        pass


def slave_error(h, timeout=2):
    """(None, None) when h serves the API, else the error and its params."""
    try:
        h.server.call("session.login_with_password", "root", h.server.password, "1.0", "t",
                      timeout=timeout)
    except harness.XapiError as e:
        return e.code, list(e.params)
    except Exception as e:  # unreachable, cut, dead
        return type(e).__name__, []
    return None, None


def stored_rows(h, cls):
    """The rows of a class in the host's SQLite, read while it runs: ref -> record."""
    con = sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5)
    try:
        rows = con.execute("SELECT ref, data FROM objects WHERE class = ?", (cls,)).fetchall()
    finally:
        con.close()
    return {r: json.loads(d) for (r, d) in rows}


def on_master(pool, method, *args, timeout=30):
    """method (e.g. "pool.set_name_label") called on whichever host is
    master, again on the next one when the leadership moved under it (a
    busy machine can delay heartbeats past an election timeout): for calls
    that may be repeated."""
    end = time.monotonic() + timeout
    while True:
        m = pool.find_master(max(1, end - time.monotonic()))
        if m is None:
            raise TimeoutError("no master")
        try:
            return m.server.call(method, m.server.session, *args)
        except harness.XapiError as e:
            lost = e.code == "HOST_IS_SLAVE" or (e.code == "INTERNAL_ERROR" and "leadership" in str(e.params))
            if not lost or time.monotonic() > end:
                raise
            m.server._session = None
