#!/usr/bin/env python3
"""7. Metrics: what the 5-s collection and its RRDs cost with 1,000 running
sim VMs, and /rrd_updates for all of them over 10 minutes at 5 s beside
rrdtool's own xport of the same files in the same run.

  1. A fresh sim xenond; N VMs cloned from "Other install media",
     given --disks 64 MiB disks (1) and 8 MiB of memory, left halted: xenond's CPU per second of
     wall time and its RSS over --idle-seconds (the sampler runs, for the
     host alone).
  2. All N started: the same figures over --minutes of ticks (CPU sampled
     each minute), RSS afterwards; RSS per VM = (RSS running − RSS halted)
     / N (each running VM's RRD, its buffered updates and latest sample),
     and the RRD files' size on disk per VM.
  3. GET /rrd_updates?start=<servertime−595>&cf=AVERAGE&interval=5&host=true
     as XML and as JSON, --repeat times each: latency (median, min, max),
     bytes, rows, columns.
     GET /metrics (Prometheus) the same way.
  4. The reference: `rrdtool xport` of every one of those files over the
     same start, end and step (one xport per file, all through one
     `rrdtool -` process, so no process is spawned per file), as XML and
     with --json: wall time and bytes.

Usage: bench/metrics_bench.py [--vms 1000] [--minutes 11] [--repeat 5]
(XENOND: default build-bench/src/server/xenond, a release build.) The
results go to stdout as a Markdown table; bench/README.md keeps them."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbench  # noqa: E402
from xbench import Rpc, log, login  # noqa: E402

DATA = os.environ.get("BENCH_DATA_DIR", "/tmp/xenon-bench/metrics/data")
PORT = int(os.environ.get("BENCH_PORT", "18481"))
MEM = 8 << 20


def make_vms(n, disks, threads=4):
    r = Rpc(PORT)
    s = login(r, DATA)
    tmpl = r.call("VM.get_by_name_label", s, "Other install media")[0]
    sr = r.call("pool.get_default_SR", s, r.call("pool.get_all", s)[0])
    vms, errors = [], []
    lock = threading.Lock()

    def work(lo, hi):
        try:
            c = Rpc(PORT)
            cs = login(c, DATA)
            for i in range(lo, hi):
                v = c.call("VM.clone", cs, tmpl, "mbench-%05d" % i)
                c.call("VM.set_is_a_template", cs, v, False)
                c.call("VM.provision", cs, v)
                for k in range(disks):  # the template gives none: xvda, xvdb, …
                    vdi = c.call("VDI.create", cs, {
                        "name_label": "mbench-%05d-%d" % (i, k), "name_description": "", "SR": sr,
                        "virtual_size": str(64 << 20), "type": "user", "sharable": False, "read_only": False,
                        "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []})
                    c.call("VBD.create", cs, {
                        "VM": v, "VDI": vdi, "userdevice": str(k), "bootable": k == 0, "mode": "RW",
                        "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
                        "qos_algorithm_type": "", "qos_algorithm_params": {}})
                # small, so a thousand fit the host's free memory
                c.call("VM.set_memory_limits", cs, v, str(MEM), str(MEM), str(MEM), str(MEM))
                with lock:
                    vms.append(v)
            c.close()
        except Exception as e:  # reported below
            errors.append(e)

    per = (n + threads - 1) // threads
    ts = [threading.Thread(target=work, args=(k * per, min(n, (k + 1) * per))) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    r.close()
    return vms


def start_vms(vms, threads=4):
    errors = []

    def work(part):
        try:
            c = Rpc(PORT)
            cs = login(c, DATA)
            for v in part:
                c.call("VM.start", cs, v, False, False)
            c.close()
        except Exception as e:
            errors.append(e)

    ts = [threading.Thread(target=work, args=(vms[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def cpu_over(d, seconds):
    c0, t0 = d.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (d.cpu_seconds() - c0) / (time.monotonic() - t0)


def servertime(r, s):
    host = r.call("host.get_all", s)[0]
    t = r.call("host.get_servertime", s, host)
    return int(time.mktime(time.strptime(t, "%Y%m%dT%H:%M:%SZ")) - time.timezone)


def rrd_updates(session, start, json_):
    q = {"session_id": session, "start": start, "cf": "AVERAGE", "interval": 5, "host": "true"}
    if json_:
        q["json"] = "true"
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
    t0 = time.monotonic()
    c.request("GET", "/rrd_updates?" + urllib.parse.urlencode(q))
    r = c.getresponse()
    body = r.read()
    dt = time.monotonic() - t0
    c.close()
    if r.status != 200:
        raise RuntimeError("/rrd_updates: HTTP %d %s" % (r.status, body[:200]))
    return dt, body


def rrdtool_pipe(lines):
    """Runs the commands through one `rrdtool -`: (wall seconds, bytes of
    the answers without rrdtool's "OK u:… s:… r:…" lines)."""
    t0 = time.monotonic()
    p = subprocess.run(["rrdtool", "-"], input="\n".join(lines).encode() + b"\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    dt = time.monotonic() - t0
    errs = [l for l in p.stdout.split(b"\n") if l.startswith(b"ERROR")]
    if errs:
        raise RuntimeError("rrdtool: %s" % errs[0].decode())
    body = sum(len(l) + 1 for l in p.stdout.split(b"\n") if not l.startswith(b"OK u:"))
    return dt, body, p.stdout


def ds_names(files):
    _, _, out = rrdtool_pipe(["info %s" % f for f in files])
    names, cur, i = [], [], 0
    for line in out.decode().split("\n"):
        if line.startswith("OK u:"):
            names.append(cur)
            cur = []
            i += 1
        elif line.startswith("ds[") and line.split(" ")[0].endswith("].index"):
            cur.append(line[3:line.index("]")])
    return names


def xport_lines(files, names, start, end, json_):
    lines = []
    for f, ds in zip(files, names):
        base = os.path.basename(f)[:-4]
        kind, uuid = base.split("-", 1)
        args = ["xport", "--start", str(start), "--end", str(end), "--step", "5"]
        if json_:
            args.append("--json")
        # xenond keeps xapi's names beside the file (<file>.ds: "x<N> name")
        real = {}
        try:
            with open(f[:-4] + ".ds") as m:
                real = dict(line.split() for line in m if line.strip())
        except OSError:
            pass
        for k, n in enumerate(ds):
            args += ["DEF:d%d=%s:%s:AVERAGE" % (k, f, n),
                     "XPORT:d%d:AVERAGE\\:%s\\:%s\\:%s" % (k, kind, uuid, real.get(n, n))]
        lines.append(" ".join(args))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=11, help="of ticks before the queries (10 min of rows + 1)")
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--disks", type=int, default=1, help="per VM (each adds vbd_xvd?_read/_write)")
    a = ap.parse_args()
    if not shutil.which("rrdtool"):
        sys.exit("rrdtool is needed (apt-get install rrdtool)")
    shutil.rmtree(os.path.dirname(DATA), ignore_errors=True)
    os.makedirs(DATA)
    d = xbench.Daemon(DATA, PORT)
    d.start()
    rows = []
    try:
        _, s = d.wait_ready()
        t = time.monotonic()
        vms = make_vms(a.vms, a.disks)
        log("metrics: %d VMs cloned and provisioned in %.0f s" % (len(vms), time.monotonic() - t))
        time.sleep(6)
        idle_cpu = cpu_over(d, a.idle_seconds)
        rss_halted = d.status()["VmRSS"]
        log("metrics: halted: CPU %.2f%% of a core, RSS %d KiB" % (100 * idle_cpu, rss_halted))
        t = time.monotonic()
        start_vms(vms)
        log("metrics: %d VMs started in %.0f s" % (len(vms), time.monotonic() - t))
        time.sleep(12)  # the first ticks create the files
        per_min = []
        c0, t0 = d.cpu_seconds(), time.monotonic()
        end_at = t0 + a.minutes * 60 - 12
        while time.monotonic() < end_at:
            per_min.append(cpu_over(d, min(60, max(1, end_at - time.monotonic()))))
            log("metrics: running: CPU %.2f%% of a core" % (100 * per_min[-1]))
        run_cpu = (d.cpu_seconds() - c0) / (time.monotonic() - t0)
        rss_running = d.status()["VmRSS"]
        rrd_dir = os.path.join(DATA, "rrd")
        files = sorted(os.path.join(rrd_dir, f) for f in os.listdir(rrd_dir) if f.endswith(".rrd"))
        disk = sum(os.stat(f).st_blocks * 512 for f in files if os.path.basename(f).startswith("vm-"))
        nvm_files = sum(1 for f in files if os.path.basename(f).startswith("vm-"))

        r = Rpc(PORT)
        session = login(r, DATA)
        # Xen Orchestra's start, taken before each request as it does:
        # now − 5·120 + 5 from host.get_servertime (a start kept for
        # several requests falls out of the 10-minute archive once a tick
        # has passed, and the minute archive answers)
        res = {}
        for json_ in (False, True):
            times, body = [], b""
            for _ in range(a.repeat):
                start = servertime(r, session) - 595
                dt, body = rrd_updates(session, start, json_)
                times.append(dt)
            res[json_] = (times, body)
        prom = []
        for _ in range(a.repeat):
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
            t1 = time.monotonic()
            c.request("GET", "/metrics?session_id=" + session)
            resp = c.getresponse()
            pbody = resp.read()
            prom.append(time.monotonic() - t1)
            c.close()
            if resp.status != 200:
                raise RuntimeError("/metrics: HTTP %d" % resp.status)
        import json as js
        meta = js.loads(res[True][1])["meta"]
        nrows, ncols, end = len(js.loads(res[True][1])["data"]), meta["columns"], meta["end"]
        start = meta["start"] - 5  # the rows of the last JSON answer
        if meta["step"] != 5:
            raise RuntimeError("/rrd_updates answered at step %d, not 5" % meta["step"])
        # the same files, flushed by the requests above, through rrdtool
        host_first = sorted(files, key=lambda f: not os.path.basename(f).startswith("host-"))
        names = ds_names(host_first)
        ref = {}
        for json_ in (False, True):
            lines = xport_lines(host_first, names, start, end, json_)
            times, size = [], 0
            for _ in range(a.repeat):
                dt, size, _ = rrdtool_pipe(lines)
                times.append(dt)
            ref[json_] = (times, size, sum(len(n) for n in names))
        r.close()

        n = len(vms)
        print("\n### Metrics with %d running sim VMs, %d disk(s) each (%s)\n" % (n, a.disks, time.strftime("%Y-%m-%d")))
        print("| figure | value |\n|---|---|")
        print("| xenond CPU, VMs halted (host sample only) | %.2f %% of one core |" % (100 * idle_cpu))
        print("| xenond CPU, %d VMs running, over %.1f min | %.2f %% of one core (per minute: %s) |"
              % (n, (time.monotonic() - t0) / 60, 100 * run_cpu, ", ".join("%.2f" % (100 * c) for c in per_min)))
        print("| collection and storage per tick (5 s) | %.1f ms of CPU |" % (1000 * 5 * (run_cpu - idle_cpu)))
        print("| RSS halted / running | %.1f MiB / %.1f MiB |" % (rss_halted / 1024, rss_running / 1024))
        print("| RSS per running VM | %.1f KiB |" % ((rss_running - rss_halted) / n))
        print("| RRD file on disk per VM | %.1f KiB (%d files) |" % (disk / 1024 / max(1, nvm_files), nvm_files))
        print("\n`/rrd_updates` over 600 s at 5 s, host and %d VMs: %d rows × %d columns\n" % (n, nrows, ncols))
        print("| | median | min | max | bytes |\n|---|---|---|---|---|")
        for json_ in (False, True):
            times, body = res[json_]
            print("| xenond /rrd_updates %s | %.0f ms | %.0f ms | %.0f ms | %d |"
                  % ("JSON" if json_ else "XML", 1000 * statistics.median(times), 1000 * min(times),
                     1000 * max(times), len(body)))
        print("| xenond /metrics (Prometheus, %d samples) | %.0f ms | %.0f ms | %.0f ms | %d |"
              % (sum(1 for l in pbody.split(b"\n") if l and not l.startswith(b"#")),
                 1000 * statistics.median(prom), 1000 * min(prom), 1000 * max(prom), len(pbody)))
        for json_ in (False, True):
            times, size, ncol = ref[json_]
            print("| `rrdtool xport%s`, one per file (%d files, %d columns) | %.0f ms | %.0f ms | %.0f ms | %d |"
                  % (" --json" if json_ else "", len(files), ncol, 1000 * statistics.median(times),
                     1000 * min(times), 1000 * max(times), size))
    finally:
        d.stop()


if __name__ == "__main__":
    main()
