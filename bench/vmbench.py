"""Shared helpers for the real-VM and transfer benchmarks (vm_start.py,
export_bench.py): a per-run work directory, /proc readings, a small QMP
client, medians and table formatting. Loopback and unix sockets only."""
import ctypes
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
OUT = os.environ.get("BENCH_OUT", "/tmp/xenon-bench/results")
MiB = 1 << 20
GiB = 1 << 30

import harness  # noqa: E402  (tests/integration: a real xenond on loopback; XENOND or build/)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine_line():
    return "%d cores, %s, loadavg %s" % (os.cpu_count(), os.uname().release, loadavg())


def workdir(prefix):
    """A fresh directory under $TMPDIR (or /tmp), removed by the caller."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def proc_cpu(pid):
    """utime+stime of pid, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid, key="VmRSS"):
    """A kB field of /proc/pid/status, in KiB (0 if the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def kill_pid_if(pid, needle):
    """SIGKILL pid only if its command line contains needle (ours)."""
    try:
        if pid_alive(pid) and needle in " ".join(cmdline(pid)):
            os.kill(pid, signal.SIGKILL)
            return True
    except OSError:
        pass
    return False


def qemus_under(path):
    """Pids of live QEMU processes whose command line mentions path."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                c = f.read()
        except OSError:
            continue
        if b"qemu-system" in c and path.encode() in c and pid_alive(int(d)):
            out.append(int(d))
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_s(v):
    if v != v:  # nan
        return "-"
    return "%.3f s" % v if v < 10 else "%.1f s" % v


def fmt_range(xs):
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt_s(xs[0])
    return "%s (%s–%s)" % (fmt_s(median(xs)), fmt_s(min(xs)).replace(" s", ""), fmt_s(max(xs)))


def write_result(name, text):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)


class Qmp:
    """Line-oriented QMP over a unix socket: commands and the events seen
    on the way."""

    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
        self.s.settimeout(timeout)
        self.buf = b""
        self.events = []
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"]))
            return r.get("return")

    def wait_event(self, name, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e["event"] == name:
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no QMP event %s within %.0f s" % (name, timeout))
            self.s.settimeout(left)
            r = self._read()
            if "event" in r:
                self.events.append(r)

    def close(self):
        self.s.close()


# ---- reaping the QEMUs that daemonized ----
#
# A QEMU started with -daemonize (by xenond, by hand, by libvirtd) is
# re-parented to init once it has forked. A normal init reaps it the moment
# it exits; this machine's PID 1 leaves it a zombie for about a second, and
# libvirt's "shut off" waits until the pid is really gone (kill(pid, 0)
# fails), which added ~2 s to every virsh shutdown. So the benchmark makes
# itself a child subreaper (the orphans come to it) and reaps exited QEMUs
# at once, as init would. Its own direct children are left alone.

_managed = set()
_reap_lock = threading.Lock()


def spawn(argv, **kw):
    """subprocess.Popen, registered so that the reaper never waits for it."""
    with _reap_lock:
        p = subprocess.Popen(argv, **kw)
        _managed.add(p.pid)
    return p


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def _zombie_children():
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                if st[0] == "Z" and int(st[1]) == me:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _reaper():
    while True:
        time.sleep(0.002)
        with _reap_lock:
            try:
                si = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                continue
            if si is None:
                continue
            cands = [si.si_pid] if si.si_pid not in _managed else _zombie_children()
            for pid in cands:
                if pid not in _managed and _comm(pid).startswith("qemu-system"):
                    try:
                        os.waitpid(pid, 0)
                    except ChildProcessError:
                        pass


def start_reaper():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        log("warning: PR_SET_CHILD_SUBREAPER failed; exited QEMUs are reaped by init")
        return
    threading.Thread(target=_reaper, daemon=True, name="reaper").start()


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
