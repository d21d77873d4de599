#!/usr/bin/env python3
"""Live migration of an idle 256 MiB tiny guest, in one run, beside the same
migration done by hand:

1. Xenon: a pool of two lab hosts (tests/integration/lab.py), the tiny guest
   (no disk) started on host1, then VM.pool_migrate host1 -> host2 -> host1
   R times. Per migration: the call's wall time, QEMU's reported downtime and
   total time (from the source xenond's log line), and the gap the guest's
   counter shows: the guest prints a counter every 10 ms on its serial
   console, and a poller reads both hosts' serial logs every 2 ms, so the
   longest interval between two consecutive counter lines arriving (on
   either host) is the pause the guest's output saw.
2. By hand (its rounds alternating with Xenon's): two bare QEMUs (the same machine type, CPU, memory, kernel,
   initrd and command line; -incoming on the destination), the source in
   one lab host's namespace and the destination in the other's, the stream
   from one host's address to the other's over their veths and the switch,
   as Xenon's goes (--bare-path switch: both in the switch's namespace on
   its one address, the stream on that namespace's loopback, as before
   2026-12-07 22:30), QMP `migrate` with the same max-bandwidth Xenon sets
   and the same polling of query-migrate (20 ms). --bare-like-xenon adds
   parts of the rest of Xenon's command line (devices and VNC display,
   seccomp sandbox, an unprivileged uid) to the bare QEMUs. Per migration: the
   destination QEMU's start (launch to QMP ready), the migrate command's
   wall time until "completed" and QEMU's downtime; the counter gap the same
   way.

Each round migrates twice with Xenon: once with the stream over TLS (the
default between hosts) and once plain (the management network marked
other_config:insecure_migration=true), so the cost of TLS is measured
side by side with the same guest. With --fill the guest first writes 32 MiB
of data into its tmpfs (memory that is not zero pages: the stream carries
it).

The bare QEMUs also migrate twice a round, plain and over TLS (QEMU's
tls-creds-x509: a CA, a server and a client certificate, ECDSA P-256,
verify-peer on, the same ffdhe2048 DH parameters Xenon gives; the
destination started with -incoming defer to take its credentials first).

The comparison is Xenon's whole call (the destination QEMU started, the
stream, the records, the source QEMU ended) against the bare destination
start plus its migrate, TLS against TLS and plain against plain.

    XENOND=build-bench/src/server/xenond python3 bench/migrate_bench.py [--rounds 5] [--fill]

Run as root (namespaces). Prints the figures; bench/README.md §16 has runs."""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import guest  # noqa: E402
import lab  # noqa: E402
import pool_util  # noqa: E402

MiB = 1 << 20
COUNTER = "i=0; while :; do i=$((i+1)); echo C$i; usleep 10000; done &"
FILL = ("yes 0123456789abcdef | head -c 1048576 > /tmp/s; cat /tmp/s /tmp/s /tmp/s /tmp/s > /tmp/t",
        "cat /tmp/t /tmp/t /tmp/t /tmp/t > /tmp/u; cat /tmp/u /tmp/u > /tmp/d; echo FILL-$((1+1))")


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise RuntimeError("timed out waiting for " + what)


class GapWatch:
    """Polls serial logs every 2 ms; the longest interval between two
    consecutive counter lines seen (by arrival time on the host)."""

    def __init__(self, paths):
        self.paths = paths
        self.sizes = {}
        self.last_n = None
        self.last_t = None
        self.max_gap = 0.0
        self.stop = False
        self.lines = {}
        self.t = threading.Thread(target=self.run, daemon=True)

    def start(self):
        for p in self.paths:
            self.sizes[p] = os.path.getsize(p) if os.path.exists(p) else 0
            self.lines[p] = b""
        self.t.start()
        return self

    def run(self):
        while not self.stop:
            now = time.monotonic()
            for p in self.paths:
                try:
                    with open(p, "rb") as f:
                        f.seek(self.sizes[p])
                        data = f.read()
                except OSError:
                    continue
                if not data:
                    continue
                self.sizes[p] += len(data)
                buf = self.lines[p] + data
                *full, rest = buf.split(b"\n")
                self.lines[p] = rest
                for line in full:
                    m = re.match(rb"^C(\d+)\r?$", line)
                    if m:
                        n = int(m.group(1))
                        if self.last_n is not None and n > self.last_n:
                            self.max_gap = max(self.max_gap, now - self.last_t)
                        if self.last_n is None or n > self.last_n:
                            self.last_n, self.last_t = n, now
            time.sleep(0.002)

    def finish(self):
        time.sleep(0.3)
        self.stop = True
        self.t.join()
        return self.max_gap


def fill(sock_path, log_path):
    """Types the fill once the guest's shell answers (input typed before its
    prompt is lost), then waits for it to end."""
    deadline = time.monotonic() + 60
    while "SH-42" not in open(log_path, errors="replace").read():
        if time.monotonic() > deadline:
            raise RuntimeError("the guest's shell does not answer")
        console(sock_path, "echo SH-$((40+2))")
        time.sleep(1)
    for line in FILL:
        console(sock_path, line)
        time.sleep(1)
    wait_for(lambda: "FILL-2" in open(log_path, errors="replace").read(), 120, "the guest's tmpfs filled")


def console(sock_path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(line.encode() + b"\n")
    time.sleep(0.2)
    s.close()


# ---- Xenon ----

def runs(rounds, log, with_fill=False):
    kernel = "vmlinux" if os.path.exists(os.path.join(guest.GUEST, "vmlinux")) else "vmlinuz"
    out, plain_out, bare_out, bare_tls_out = [], [], [], []
    with lab.Lab(2) as l:
        for h in l.hosts:
            guest.provide(h.data_dir, kernel)
            h.start(backend="qemu", log_level="info")
        h1, h2 = l.hosts
        a = h1.server.api
        ref = pool_util.join(l)
        mem = 256 * MiB
        vm = a.VM.create({
            "name_label": "bench", "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": ref[h1.address], "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": kernel, "PV_ramdisk": "initrd.img",
            "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})
        uuid = a.VM.get_uuid(vm)
        a.VM.start(vm, False, False)
        logs = [os.path.join(h.data_dir, "run", "vm", uuid, "serial.log") for h in l.hosts]
        wait_for(lambda: os.path.exists(logs[0]) and guest.READY in open(logs[0], errors="replace").read(),
                 90, "the guest ready")
        sock = os.path.join(h1.data_dir, "run", "vm", uuid, "serial.sock")
        if with_fill:
            fill(sock, logs[0])
        console(sock, COUNTER)
        mgmt = [a.PIF.get_network(p) for p in a.PIF.get_all() if a.PIF.get_management(p)][0]
        # the bare QEMUs on the lab switch's address, as the hosts talk;
        # their rounds alternate with Xenon's, so both see the same load
        if BARE_PATH == "hosts":
            # the bare pair in the hosts' namespaces, the stream between
            # the hosts' addresses over their veths and the switch, as
            # Xenon's stream goes
            bare = Bare(log, [h1.address, h2.address], with_fill, [h1.netns, h2.netns])
        else:
            bare = Bare(log, [lab.SUBNET + ".254"], with_fill)
        bare.setup()
        time.sleep(2)
        where = 0
        for i in range(rounds):
            bare_out.append(bare.one())
            time.sleep(1)
            bare_tls_out.append(bare.one(tls=True))
            time.sleep(1)
            # each mode in both directions: TLS first in odd rounds
            modes = (("TLS", out), ("plain", plain_out))
            for mode, res in modes if i % 2 == 0 else modes[::-1]:
                if mode == "plain":
                    a.network.add_to_other_config(mgmt, "insecure_migration", "true")
                to = l.hosts[1 - where]
                src = l.hosts[where]
                w = GapWatch(logs).start()
                time.sleep(0.5)
                t0 = time.monotonic()
                a.VM.pool_migrate(vm, ref[to.address], {"live": "true"})
                wall = time.monotonic() - t0
                gap = w.finish()
                if mode == "plain":
                    a.network.remove_from_other_config(mgmt, "insecure_migration")
                text = src.server.log_text()
                pm = re.findall(r"pool_migrate: VM \S+ moved to \S+, (\w+) \(disks \d+ ms, memory (\d+) ms, downtime (\d+) ms; "
                                r"prepare (\d+) ms, send (\d+) ms, finish (\d+) ms, source ended (\d+) ms\)", text)
                seen, mem_ms, down, prep, send, fin, end = pm[-1] if pm else ("?",) + ("0",) * 6
                assert seen == mode, "the migration went %s, not %s" % (seen, mode)
                res.append({"wall": wall, "qemu_total_ms": int(mem_ms), "downtime_ms": int(down), "gap": gap})
                log("  xenon %-5s %d: %s -> %s  call %.3f s  QEMU total %s ms  downtime %s ms  counter gap %.0f ms  "
                    "(prepare %s ms, send %s ms, finish %s ms, source ended %s ms)" %
                    (mode, i + 1, src.name, to.name, wall, mem_ms, down, gap * 1000, prep, send, fin, end))
                where = 1 - where
                time.sleep(1)
        bare.close()
        a.VM.hard_shutdown(vm)
    return out, plain_out, bare_out, bare_tls_out


# ---- by hand ----

class Qmp:
    def __init__(self, path, timeout=30):
        wait_for(lambda: os.path.exists(path), timeout, path)
        deadline = time.monotonic() + timeout
        while True:  # the socket's file is there a moment before QEMU listens
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.s.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.f = self.s.makefile("rwb")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))

    def close(self):
        self.s.close()


# --bare-sandbox: the bare QEMUs in the seccomp sandbox Xenon starts its own in
BARE_EXTRA = []
# --bare-path: "hosts" (the bare QEMUs in the lab hosts' namespaces, the
# stream from one host's address to the other's, the path Xenon's takes) or
# "switch" (both in the switch's namespace on its one address: the stream
# never leaves that namespace's loopback)
BARE_PATH = "hosts"
# --bare-like-xenon: the rest of Xenon's command line (its devices,
# display, sandbox, an unprivileged uid) on the bare QEMUs too
BARE_LIKE_XENON = False


def qemu_argv(d, kernel, incoming=None):
    argv = [guest.QEMU, "-name", "bench", "-no-user-config", "-nodefaults", "-machine", "pc", "-accel", "tcg",
            "-cpu", "max", "-m", "256M", "-smp", "1", "-S", "-display", "none",
            "-qmp", "unix:%s/qmp.sock,server=on,wait=off" % d,
            "-chardev", "socket,id=s0,path=%s/serial.sock,server=on,wait=off,logfile=%s/serial.log" % (d, d),
            "-serial", "chardev:s0", "-device", "VGA", "-device", "virtio-balloon-pci",
            "-kernel", kernel, "-initrd", os.path.join(guest.GUEST, "initrd.img"), "-append", guest.ARGS]
    if incoming:
        argv += ["-incoming", incoming]
    if BARE_LIKE_XENON:  # the rest of the command line Xenon gives its QEMUs
        argv[argv.index("-name") + 1] = "bench,debug-threads=on"
        argv += ["-rtc", "base=utc", "-vnc", "unix:%s/vnc.sock" % d, "-device", "pvpanic",
                 "-device", "virtio-serial-pci,id=vser0",
                 "-chardev", "socket,id=ga0,path=%s/ga.sock,server=on,wait=off" % d,
                 "-device", "virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0"]
    return argv + BARE_EXTRA


def bare_tls_dir(base, addrs):
    """x509 credentials for the bare QEMUs' TLS, as QEMU's tls-creds-x509
    reads a directory: a CA (ECDSA P-256), a server certificate for addrs and
    a client one it signed, RFC 7919's ffdhe2048 as dh-params.pem (as Xenon
    gives its QEMUs, so neither side generates DH parameters)."""
    d = os.path.join(base, "tls")
    os.makedirs(d)

    def ssl(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=bench-ca", "-keyout", "ca-key.pem", "-out", "ca-cert.pem")
    for role, ext in (("server", "subjectAltName=" + ",".join("IP:" + a for a in addrs)), ("client", "extendedKeyUsage=clientAuth")):
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + role,
            "-keyout", "%s-key.pem" % role, "-out", "%s.csr" % role)
        with open(os.path.join(d, "%s.ext" % role), "w") as f:
            f.write(ext + "\n")
        ssl("x509", "-req", "-in", "%s.csr" % role, "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "1", "-extfile", "%s.ext" % role, "-out", "%s-cert.pem" % role)
    ssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", "dh-params.pem")
    if "-runas" in BARE_EXTRA:  # read by QEMUs running as nobody (throwaway keys)
        os.chmod(base, 0o755)
        os.chmod(d, 0o755)
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
    return d


class Bare:
    """The guest under a bare QEMU, migrated by hand between bare QEMUs,
    plain or over TLS."""

    def __init__(self, log, addrs, fill=False, netns=None):
        """addrs: the address(es) the destinations listen on, in turn;
        netns: the namespace each of those QEMUs runs in (None: this one)."""
        self.log, self.addrs, self.fill, self.netns = log, addrs, fill, netns
        self.kernel = os.path.join(guest.GUEST, "vmlinux" if os.path.exists(os.path.join(guest.GUEST, "vmlinux"))
                                   else "vmlinuz")
        self.base = tempfile.mkdtemp(prefix="xenon-bench-mig-")
        self.tls = bare_tls_dir(self.base, addrs)
        self.procs = []
        self.n = 0

    def setup(self):
        d = os.path.join(self.base, "q0")
        os.makedirs(d)
        self.procs.append(subprocess.Popen(self.prefix(0) + qemu_argv(d, self.kernel), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        self.q = Qmp(os.path.join(d, "qmp.sock"))
        self.q_has_creds = False
        self.q.cmd("cont")
        log_path = os.path.join(d, "serial.log")
        wait_for(lambda: os.path.exists(log_path) and guest.READY in open(log_path, errors="replace").read(),
                 90, "the bare guest ready")
        if self.fill:
            fill(os.path.join(d, "serial.sock"), log_path)
        console(os.path.join(d, "serial.sock"), COUNTER)
        self.logs = [log_path]

    def prefix(self, n):
        return [lab.IP, "netns", "exec", self.netns[n % len(self.netns)]] if self.netns else []

    def one(self, tls=False):
        self.n += 1
        nd = os.path.join(self.base, "q%d" % self.n)
        os.makedirs(nd)
        port = 47000 + self.n
        w = GapWatch(self.logs + [os.path.join(nd, "serial.log")]).start()
        time.sleep(0.5)
        t0 = time.monotonic()
        uri = "tcp:%s:%d" % (self.addrs[self.n % len(self.addrs)], port)
        argv = self.prefix(self.n) + qemu_argv(nd, self.kernel, "defer" if tls else uri)
        if tls:
            argv += ["-object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=on,dir=" + self.tls]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        nq = Qmp(os.path.join(nd, "qmp.sock"))
        if tls:
            nq.cmd("migrate-set-parameters", **{"tls-creds": "tls0"})
            nq.cmd("migrate-incoming", uri=uri)
        t1 = time.monotonic()
        q = self.q
        q.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
        if tls:
            if not self.q_has_creds:  # a client's credentials, once per QEMU
                q.cmd("object-add", **{"qom-type": "tls-creds-x509", "id": "tlsc", "endpoint": "client",
                                       "dir": self.tls})
                self.q_has_creds = True
            q.cmd("migrate-set-parameters", **{"tls-creds": "tlsc"})
        else:
            q.cmd("migrate-set-parameters", **{"tls-creds": ""})
        q.cmd("migrate", uri=uri)
        while True:
            info = q.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.02)
        t2 = time.monotonic()
        assert info["status"] == "completed", info
        while nq.cmd("query-status")["status"] == "inmigrate":
            time.sleep(0.005)
        nq.cmd("cont")
        t3 = time.monotonic()
        gap = w.finish()
        q.cmd("quit")
        q.close()
        self.procs[-2].wait(10)
        r = {"start": t1 - t0, "migrate": t2 - t1, "wall": t3 - t0, "qemu_total_ms": info["total-time"],
             "downtime_ms": info["downtime"], "gap": gap}
        self.log("  bare %-5s %d: dest start %.3f s  migrate %.3f s  start+migrate+cont %.3f s  QEMU total %d ms  "
                 "downtime %d ms  counter gap %.0f ms" % ("TLS" if tls else "plain", self.n, t1 - t0, t2 - t1, t3 - t0, info["total-time"],
                                                          info["downtime"], gap * 1000))
        self.q, self.logs = nq, [os.path.join(nd, "serial.log")]
        self.q_has_creds = False
        return r

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(self.base, True)


def summary(name, runs, keys):
    parts = []
    for k in keys:
        v = [r[k] for r in runs]
        parts.append("%s median %s" % (k, ("%.3f" % statistics.median(v)) if isinstance(v[0], float)
                                       else statistics.median(v)))
    return "%-6s %s" % (name, ", ".join(parts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fill", action="store_true", help="32 MiB of data in the guest's memory first")
    ap.add_argument("--bare-sandbox", action="store_true",
                    help="the bare QEMUs with Xenon's -sandbox (seccomp) options")
    ap.add_argument("--bare-like-xenon", default="", metavar="PARTS",
                    help="the bare QEMUs with parts of the rest of Xenon's command line, comma-separated: "
                    "devices (its devices and VNC display), sandbox (its seccomp options), runas (an "
                    "unprivileged uid, nobody), all")
    ap.add_argument("--bare-path", choices=("hosts", "switch"), default="hosts",
                    help="hosts: the bare QEMUs in the two hosts' namespaces, the stream between their "
                    "addresses (Xenon's path); switch: both on the switch's address (loopback)")
    a = ap.parse_args()
    global BARE_PATH
    BARE_PATH = a.bare_path
    global BARE_LIKE_XENON
    like = set(a.bare_like_xenon.split(",")) - {""}
    if "all" in like:
        like = {"devices", "sandbox", "runas"}
    BARE_LIKE_XENON = "devices" in like
    if "sandbox" in like:
        BARE_EXTRA.extend(["-sandbox", "on,obsolete=deny,spawn=deny,resourcecontrol=deny"])
    if "runas" in like:
        BARE_EXTRA.extend(["-runas", "nobody"])
    if a.bare_sandbox and "sandbox" not in like:
        BARE_EXTRA.extend(["-sandbox", "on,obsolete=deny,spawn=deny,resourcecontrol=deny"])
    guest.build()
    log = lambda s: print(s, flush=True)
    log("load average at start: %s" % open("/proc/loadavg").read().strip())
    xr, pr, br, btr = runs(a.rounds, log, a.fill)
    log(summary("tls", xr, ["wall", "qemu_total_ms", "downtime_ms", "gap"]))
    log(summary("plain", pr, ["wall", "qemu_total_ms", "downtime_ms", "gap"]))
    log(summary("bare", br, ["start", "migrate", "wall", "qemu_total_ms", "downtime_ms", "gap"]))
    log(summary("bareTLS", btr, ["start", "migrate", "wall", "qemu_total_ms", "downtime_ms", "gap"]))
    xw = statistics.median(r["wall"] for r in xr)
    bw = statistics.median(r["wall"] for r in br)
    pw = statistics.median(r["wall"] for r in pr)
    btw = statistics.median(r["wall"] for r in btr)
    log("ratio of medians: xenon call TLS / bare TLS start+migrate+cont = %.2f; plain / bare plain %.2f; "
        "xenon TLS / plain %.2f; bare TLS / plain %.2f" % (xw / btw, pw / bw, xw / pw, btw / bw))
    log("load average at end: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
