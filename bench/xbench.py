"""Shared helpers for the Xenon benchmarks: start/stop a xenond on a data
dir, a tiny keep-alive JSON-RPC client, and populating the store.

Everything talks to 127.0.0.1 only."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
XENOND = os.environ.get("XENOND", os.path.join(ROOT, "build-bench", "src", "server", "xenond"))
DATA_DIR = os.environ.get("BENCH_DATA_DIR", "/tmp/xenon-bench/data")
PORT = int(os.environ.get("BENCH_PORT", "18480"))
NVMS = int(os.environ.get("BENCH_NVMS", "10000"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Rpc:
    """Keep-alive JSON-RPC 2.0 client."""

    def __init__(self, port=PORT, timeout=120):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.id = 0

    def call(self, method, *params):
        self.id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": self.id})
        self.conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (method, resp.status, data[:200]))
        r = json.loads(data)
        if "error" in r:
            raise RuntimeError("%s: %s" % (method, r["error"]))
        return r["result"]

    def close(self):
        self.conn.close()


def password(data_dir=DATA_DIR):
    with open(os.path.join(data_dir, "root-password")) as f:
        return f.read().split("\n")[1]


def login(rpc, data_dir=DATA_DIR):
    return rpc.call("session.login_with_password", "root", password(data_dir), "1.0", "xenon-bench")


class Daemon:
    def __init__(self, data_dir=DATA_DIR, port=PORT, xenond=XENOND):
        self.data_dir, self.port, self.xenond = data_dir, port, xenond
        self.proc = None

    def start(self):
        # xenond binds with SO_REUSEPORT, so a second daemon on a busy port
        # starts "fine" and the kernel splits connections between the two.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            raise RuntimeError("port %d is already in use (a leftover xenond?)" % self.port)
        except OSError:
            pass
        os.makedirs(self.data_dir, exist_ok=True)
        logf = open(os.path.join(os.path.dirname(self.data_dir.rstrip("/")), "xenond.log"), "a")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(
            [self.xenond, "--data-dir", self.data_dir, "--listen", "127.0.0.1:%d" % self.port,
             "--tls-listen", "", "--root-password-file", os.path.join(self.data_dir, "root-password"),
             "--backend", "sim", "--log-level", "warn"]
            + (["--config", os.environ["XENOND_CONFIG"]] if os.environ.get("XENOND_CONFIG") else []),
            stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout=60):
        """Polls until a login succeeds; returns seconds since start()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xenond exited with %s" % self.proc.returncode)
            try:
                r = Rpc(self.port, timeout=5)
                s = login(r, self.data_dir)
                r.close()
                return time.monotonic() - self.t_start, s
            except (OSError, RuntimeError, http.client.HTTPException, ValueError, IndexError):
                time.sleep(0.005)
        raise RuntimeError("xenond did not answer within %ds" % timeout)

    @property
    def pid(self):
        return self.proc.pid

    def status(self):
        """VmRSS/VmHWM in KiB from /proc/<pid>/status."""
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        return out

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tck

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def vm_refs(rpc, session, include_templates=False):
    """Refs of the benchmark's VMs (non-template, non-dom0)."""
    recs = rpc.call("VM.get_all_records", session)
    return sorted(r for r, v in recs.items()
                  if include_templates or not (v["is_a_template"] or v["is_control_domain"]))


def populate(data_dir=DATA_DIR, port=PORT, target=NVMS, threads=4):
    """Makes sure the store holds at least `target` plain VMs: clones of a
    default template turned into VMs (VM.clone + VM.set_is_a_template
    false), from a few keep-alive clients at once. Returns (created, s)."""
    r = Rpc(port)
    s = login(r, data_dir)
    have = len(vm_refs(r, s))
    need = target - have
    if need <= 0:
        r.close()
        return 0, 0.0
    tmpl = r.call("VM.get_by_name_label", s, "Other install media")[0]
    log("populate: %d VMs present, cloning %d more from %d clients" % (have, need, threads))
    t0 = time.monotonic()
    errors = []

    def work(lo, hi):
        try:
            c = Rpc(port)
            cs = login(c, data_dir)
            for i in range(lo, hi):
                v = c.call("VM.clone", cs, tmpl, "bench-vm-%05d" % i)
                c.call("VM.set_is_a_template", cs, v, False)
            c.call("session.logout", cs)
            c.close()
        except Exception as e:  # reported below
            errors.append(e)

    per = (need + threads - 1) // threads
    ts = [threading.Thread(target=work, args=(have + k * per, min(have + need, have + (k + 1) * per)))
          for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    if errors:
        raise errors[0]
    r.call("session.logout", s)
    r.close()
    log("populate: %d VMs in %.1f s (%.0f VM/s, 2 calls each)" % (need, dt, need / dt))
    return need, dt


def ensure_store(target=NVMS):
    """Starts a daemon on DATA_DIR, populates it, returns the running Daemon."""
    d = Daemon().start()
    try:
        d.wait_ready()
        populate(target=target)
    except BaseException:
        d.stop()
        raise
    return d
