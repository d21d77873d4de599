#!/usr/bin/env python3
"""API throughput and latency, Xenon beside libvirt, in one run.

Xenon: VM.get_record (random VM ref per call) and VM.get_all_records over
JSON-RPC (POST /jsonrpc) and XML-RPC (POST /), from 1 and 8 keep-alive
clients driven by wrk (bench/wrk_rpc.lua), on a store of BENCH_NVMS
(10,000) VMs, sim backend. Every response is checked for success.

libvirt: virDomainGetInfo on random domains, and
virConnectGetAllDomainStats(STATE) as the get_all_records analogue, from
1 and 8 threads, with libvirt's test driver holding 10,000 domains
(bench/libvirt_getinfo.c): in-process (test:///default) and, when
libvirtd is installed, through a private libvirtd over its unix socket
(test+unix:///default) -- the like-for-like case, since Xenon is also a
daemon behind a socket.

    python3 bench/api_bench.py [--seconds 10] [--quick] [--no-libvirtd]

Prints one table; also writes it to $BENCH_OUT/api.md (default
/tmp/xenon-bench/results). Loopback only."""
import argparse
import http.client
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbench  # noqa: E402

HERE = xbench.HERE
OUT = os.environ.get("BENCH_OUT", "/tmp/xenon-bench/results")
WORK = os.path.dirname(xbench.DATA_DIR.rstrip("/"))


def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise RuntimeError("no RESULT line in:\n" + text)


def build_libvirt_prog():
    src = os.path.join(HERE, "libvirt_getinfo.c")
    out = os.path.join(WORK, "bin", "libvirt_getinfo")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "libvirt"], text=True).split()
        subprocess.check_call(["cc", "-O2", "-Wall", "-o", out, src] + flags + ["-lpthread", "-lm"])
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def run_wrk(d, proto, method, conns, seconds, session, refs_file):
    threads = 1 if conns == 1 else 2
    cpu0 = d.cpu_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "60s", "--latency",
           "-s", os.path.join(HERE, "wrk_rpc.lua"), "http://127.0.0.1:%d" % d.port,
           "--", proto, method, session, refs_file]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = d.cpu_seconds() - cpu0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    r = parse_result(out)
    calls = int(r["calls"])
    st = d.status()
    r.update(server_cpu_us_per_call="%.1f" % (cpu * 1e6 / calls if calls else 0),
             wrk_cpu_us_per_call="%.1f" % (wrk_cpu * 1e6 / calls if calls else 0),
             rss_mib="%.0f" % (st["VmRSS"] / 1024), hwm_mib="%.0f" % (st["VmHWM"] / 1024))
    if int(r["bad"]) or int(r["sock_errors"]) or int(r["timeouts"]):
        xbench.log("WARNING: %s %s c=%d: bad=%s sock_errors=%s timeouts=%s" % (
            proto, method, conns, r["bad"], r["sock_errors"], r["timeouts"]))
    return r


def run_libvirt(prog, uri, runs, seconds, extra_pid=None):
    """Runs the C program; returns a list of RESULT dicts, one per run."""
    cmd = [prog, "--uri", uri, "--domains", str(xbench.NVMS), "--seconds", str(seconds),
           "--runs", ",".join(runs)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    res = []
    for line in p.stdout:
        if line.startswith("RESULT "):
            res.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    if p.wait() != 0:
        raise RuntimeError("%s failed (%d)" % (" ".join(cmd), p.returncode))
    return res


class Libvirtd:
    """A private libvirtd: own socket dir, no auth, no hypervisor drivers
    (an empty LIBVIRT_DRIVER_DIR keeps it from loading QEMU & co., which
    need system users this machine may not have); the test driver is built
    into libvirt.so."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="xenon-bench-libvirtd-")
        os.makedirs(os.path.join(self.dir, "drivers"))
        os.makedirs(os.path.join(self.dir, "sock"))
        self.conf = os.path.join(self.dir, "libvirtd.conf")
        with open(self.conf, "w") as f:
            f.write('unix_sock_dir = "%s/sock"\nauth_unix_ro = "none"\nauth_unix_rw = "none"\n'
                    'unix_sock_rw_perms = "0700"\nlisten_tls = 0\nlisten_tcp = 0\n'
                    'max_clients = 64\nmax_workers = 20\nmin_workers = 5\n'
                    'log_outputs = "3:file:%s/libvirtd.log"\n' % (self.dir, self.dir))
        self.uri = "test+unix:///default?socket=%s/sock/libvirt-sock" % self.dir
        self.proc = None

    def start(self):
        env = dict(os.environ, LIBVIRT_DRIVER_DIR=os.path.join(self.dir, "drivers"))
        self.proc = subprocess.Popen(["libvirtd", "--config", self.conf, "--pid-file",
                                      os.path.join(self.dir, "libvirtd.pid")],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = os.path.join(self.dir, "sock", "libvirt-sock")
        for _ in range(200):
            if os.path.exists(sock):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("libvirtd did not start (see %s/libvirtd.log)" % self.dir)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def fmt_us(v):
    v = float(v)
    return "%.0f µs" % v if v < 10000 else "%.0f ms" % (v / 1000)


class Nginx:
    """The transport's own limit: Debian's nginx answering every POST with a
    fixed body -- a VM.get_record answer taken from Xenon, JSON on
    /jsonrpc and XML on / -- over the same loopback, to the same wrk and
    wrk_rpc.lua. Its own config in a temp dir, 127.0.0.1 only, 2 workers
    (one per core), no access log; stopped at the end."""

    def __init__(self, json_body, xml_body):
        self.dir = tempfile.mkdtemp(prefix="xenon-bench-nginx-")
        self.port = xbench.PORT + 7
        self.proc = None

        def lit(b):  # a literal for "return 200 '...'": no quotes, escapes or variables
            return b.replace("\\", "x").replace("'", "x").replace("$", "x")

        def ret(b, name):  # nginx takes parameters of up to 4 KiB: the body in parts
            parts = [b[i:i + 3000] for i in range(0, len(b), 3000)]
            sets = " ".join("set $%s%d '%s';" % (name, i, p) for i, p in enumerate(parts))
            return '%s return 200 "%s";' % (sets, "".join("$%s%d" % (name, i) for i in range(len(parts))))

        t = self.dir
        conf = """worker_processes 2;
daemon off;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:%(port)d;
        location = /jsonrpc { default_type application/json; %(json)s }
        location = / { default_type text/xml; %(xml)s }
    }
}
""" % dict(t=t, port=self.port, json=ret(lit(json_body), "j"), xml=ret(lit(xml_body), "x"))
        self.conf = os.path.join(t, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-p", self.dir, "-c", self.conf, "-e", os.path.join(self.dir, "error.log")],
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start")

    # the same numbers run_wrk reads from a Daemon
    @property
    def pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [self.proc.pid] + [int(p) for p in out]

    def cpu_seconds(self):
        tck = os.sysconf("SC_CLK_TCK")
        tot = 0
        for pid in self.pids:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                tot += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return tot / tck

    def status(self):
        return {"VmRSS": 0, "VmHWM": 0}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def reply_bodies(port, session, ref):
    """Xenon's VM.get_record answer for ref, as JSON-RPC 2.0 and as XML-RPC."""
    out = []
    for path, body, ctype in (
            ("/jsonrpc", '{"jsonrpc":"2.0","method":"VM.get_record","params":["%s","%s"],"id":1}' % (session, ref),
             "application/json"),
            ("/", '<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params>'
                  '<param><value><string>%s</string></value></param><param><value><string>%s</string></value>'
                  '</param></params></methodCall>' % (session, ref), "text/xml")):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", path, body, {"Content-Type": ctype})
        out.append(c.getresponse().read().decode())
        c.close()
    return out


def fmt_cpu(v):
    v = float(v)
    return "%.1f µs" % v if v < 10000 else "%.0f ms" % (v / 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=8, help="per wrk run (get_record)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="get_record runs per configuration; the median (by calls/s) is reported")
    ap.add_argument("--all-seconds", type=int, default=15, help="per wrk run (get_all_records)")
    ap.add_argument("--libvirt-seconds", type=float, default=5)
    ap.add_argument("--quick", action="store_true", help="3 s runs, for a smoke test")
    ap.add_argument("--no-libvirtd", action="store_true")
    ap.add_argument("--no-all-records", action="store_true")
    ap.add_argument("--no-libvirt", action="store_true", help="skip the libvirt rows (needs libvirt-dev)")
    ap.add_argument("--no-nginx", action="store_true", help="skip the nginx reference rows")
    a = ap.parse_args()
    if a.quick:
        a.seconds = a.all_seconds = 3
        a.libvirt_seconds = 2
        a.repeat = 1

    os.makedirs(OUT, exist_ok=True)
    rows = []  # (label, clients, calls/s, p50, p99, extra)
    load0 = loadavg()

    # ---- Xenon ----
    d = xbench.ensure_store()
    try:
        r = xbench.Rpc()
        s = xbench.login(r)
        refs = xbench.vm_refs(r, s)
        nvms = len(r.call("VM.get_all", s))
        refs_file = os.path.join(WORK, "vm-refs.txt")
        with open(refs_file, "w") as f:
            f.write("\n".join(refs) + "\n")
        xbench.log("xenon: %d VM objects (%d plain VMs), pid %d" % (nvms, len(refs), d.pid))
        run_wrk(d, "json", "VM.get_record", 8, 2, s, refs_file)  # warm-up
        xen = {}
        plan = [(p, "VM.get_record", c, a.seconds) for p in ("json", "xml") for c in (1, 8)]
        if not a.no_all_records:
            plan += [(p, "VM.get_all_records", c, a.all_seconds) for p in ("json", "xml") for c in (1, 8)]
        for proto, method, conns, secs in plan:
            reps = a.repeat if method == "VM.get_record" else 1
            tries = sorted((run_wrk(d, proto, method, conns, secs, s, refs_file) for _ in range(reps)),
                           key=lambda x: float(x["calls_per_s"]))
            res = tries[len(tries) // 2]
            res["range"] = "%s-%s" % (tries[0]["calls_per_s"].split(".")[0], tries[-1]["calls_per_s"].split(".")[0])
            xen[(proto, method, conns)] = res
            xbench.log("xenon %-4s %-18s c=%d: %8s calls/s (%s) p50 %s p99 %s  cpu/call server %s wrk %s µs  RSS %s MiB (HWM %s)" % (
                proto, method, conns, res["calls_per_s"], res["range"], fmt_us(res["p50_us"]), fmt_us(res["p99_us"]),
                res["server_cpu_us_per_call"], res["wrk_cpu_us_per_call"], res["rss_mib"], res["hwm_mib"]))
        bodies = reply_bodies(d.port, s, refs[len(refs) // 2])
        r.call("session.logout", s)
        r.close()
    finally:
        d.stop()

    # ---- nginx: the transport's own limit ----
    ngx = {}
    if not a.no_nginx and (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        n = Nginx(*bodies).start()
        try:
            for proto in ("json", "xml"):
                for conns in (1, 8):
                    tries = sorted((run_wrk(n, proto, "VM.get_record", conns, a.seconds, "x", refs_file)
                                    for _ in range(a.repeat)), key=lambda x: float(x["calls_per_s"]))
                    res = tries[len(tries) // 2]
                    res["range"] = "%s-%s" % (tries[0]["calls_per_s"].split(".")[0],
                                              tries[-1]["calls_per_s"].split(".")[0])
                    ngx[(proto, conns)] = res
                    xbench.log("nginx %-4s fixed %d-byte body c=%d: %8s calls/s (%s) p50 %s p99 %s  cpu/call nginx %s wrk %s µs" % (
                        proto, len(bodies[0 if proto == "json" else 1]), conns, res["calls_per_s"], res["range"],
                        fmt_us(res["p50_us"]), fmt_us(res["p99_us"]), res["server_cpu_us_per_call"],
                        res["wrk_cpu_us_per_call"]))
        finally:
            n.stop()
    elif not a.no_nginx:
        xbench.log("nginx not installed (apt-get install nginx): reference rows skipped")

    # ---- libvirt ----
    lv = {}
    runs = ["getinfo:1", "getinfo:8", "allstats:1", "allstats:8"]
    prog = None if a.no_libvirt else build_libvirt_prog()
    for res in (run_libvirt(prog, "test:///default", runs, a.libvirt_seconds) if prog else []):
        lv[("inproc", res["mode"], int(res["threads"]))] = res
        xbench.log("libvirt in-process %-8s t=%s: %s calls/s p50 %s p99 %s" % (
            res["mode"], res["threads"], res["calls_per_s"], fmt_us(res["p50_us"]), fmt_us(res["p99_us"])))
    have_daemon = prog and shutil.which("libvirtd") and not a.no_libvirtd
    if have_daemon:
        ld = Libvirtd().start()
        try:
            for res in run_libvirt(prog, ld.uri, runs, a.libvirt_seconds):
                lv[("daemon", res["mode"], int(res["threads"]))] = res
                xbench.log("libvirt via libvirtd %-8s t=%s: %s calls/s p50 %s p99 %s" % (
                    res["mode"], res["threads"], res["calls_per_s"], fmt_us(res["p50_us"]),
                    fmt_us(res["p99_us"])))
        finally:
            ld.stop()
    else:
        xbench.log("libvirtd not installed (apt-get install libvirt-daemon): daemon rows skipped")

    # ---- table ----
    lines = ["API throughput, %d VMs / domains, loadavg at start %s, at end %s, %s" % (
        xbench.NVMS, load0, loadavg(), time.strftime("%Y-%m-%d %H:%M")), "",
        "| what | clients | calls/s | p50 | p99 | Xenon/libvirtd | Xenon/libvirt in-process | Xenon/nginx | notes |",
        "|---|---|---|---|---|---|---|---|---|"]

    def nratio(x, proto, conns):
        y = ngx.get((proto, conns))
        if not y or float(y["calls_per_s"]) == 0:
            return ""
        return "**%.2f**" % (float(x["calls_per_s"]) / float(y["calls_per_s"]))

    def ratio(x, key):
        y = lv.get(key)
        if not y or float(y["calls_per_s"]) == 0:
            return "-"
        return "%.2f" % (float(x["calls_per_s"]) / float(y["calls_per_s"]))

    for (proto, method, conns), res in xen.items():
        mode = "getinfo" if method == "VM.get_record" else "allstats"
        if int(res["calls"]) == 0:
            lines.append("| Xenon %s %s | %d | 0 (no call completed in %s s) | - | - | - | - | | RSS after %s MiB (HWM %s) |" % (
                "JSON-RPC" if proto == "json" else "XML-RPC", method, conns, res["seconds"],
                res["rss_mib"], res["hwm_mib"]))
            continue
        lines.append("| Xenon %s %s | %d | %s | %s | %s | %s | %s | %s | %sCPU/call: server %s, wrk %s; RSS after %s MiB (HWM %s) |" % (
            "JSON-RPC" if proto == "json" else "XML-RPC", method, conns, res["calls_per_s"],
            fmt_us(res["p50_us"]), fmt_us(res["p99_us"]),
            ratio(res, ("daemon", mode, conns)), ratio(res, ("inproc", mode, conns)),
            nratio(res, proto, conns) if method == "VM.get_record" else "",
            "median of %d, range %s calls/s; " % (a.repeat, res["range"]) if method == "VM.get_record" and a.repeat > 1 else "",
            fmt_cpu(res["server_cpu_us_per_call"]), fmt_cpu(res["wrk_cpu_us_per_call"]), res["rss_mib"],
            res["hwm_mib"]))
    for (proto, conns), res in ngx.items():
        lines.append("| nginx, fixed %d-byte %s body (VM.get_record's answer) | %d | %s | %s | %s | | | | median of %d, range %s calls/s; CPU/call: nginx %s, wrk %s |" % (
            len(bodies[0 if proto == "json" else 1]), "JSON-RPC" if proto == "json" else "XML-RPC", conns,
            res["calls_per_s"], fmt_us(res["p50_us"]), fmt_us(res["p99_us"]), a.repeat, res["range"],
            fmt_cpu(res["server_cpu_us_per_call"]), fmt_cpu(res["wrk_cpu_us_per_call"])))
    for (where, mode, t), res in sorted(lv.items()):
        what = "virDomainGetInfo" if mode == "getinfo" else "virConnectGetAllDomainStats(STATE)"
        lines.append("| libvirt %s %s | %d | %s | %s | %s | | | | |" % (
            "via libvirtd" if where == "daemon" else "in-process", what, t, res["calls_per_s"],
            fmt_us(res["p50_us"]), fmt_us(res["p99_us"])))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(OUT, "api.md"), "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
