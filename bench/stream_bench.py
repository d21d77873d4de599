#!/usr/bin/env python3
"""Memory and latency of whole-table reads: 8 keep-alive clients calling
VM.get_all_records over and over (wrk, bench/wrk_rpc.lua), over XML-RPC
and over JSON-RPC 2.0, on the store of BENCH_NVMS (10,000) VMs. Each
configuration gets a freshly started xenond, so that its VmHWM is its own:
the script reads VmRSS once the daemon is idle (after a login and
VM.get_all), samples VmRSS every 50 ms while wrk runs, and reads VmHWM at
the end; wrk gives calls/s and p50/p99.

Two daemons side by side in one run, configurations interleaved so that
load from elsewhere hits both alike: --before (e.g. a release build of the
commit before streamed answers) and --after (default: XENOND, i.e.
build-bench/src/server/xenond).

    python3 bench/stream_bench.py --before /tmp/xenon-before/build-bench/src/server/xenond
    python3 bench/stream_bench.py --seconds 10 --clients 8
    python3 bench/stream_bench.py --client raw --before ...   # clients that only read

Writes the table to $BENCH_OUT/stream.md too. Loopback only."""
import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbench  # noqa: E402
import api_bench  # noqa: E402

OUT = api_bench.OUT


def run_raw(d, proto, clients, seconds, session):
    """The same load from plain clients that only read the answer (Python
    threads, http.client, 1 MiB reads, no parsing): wrk hands each 85 MB
    answer to Lua whole, which makes its own latency tail."""
    if proto == "json":
        path, ctype = "/jsonrpc", "application/json"
        body = json.dumps({"jsonrpc": "2.0", "method": "VM.get_all_records", "params": [session], "id": 1})
    else:
        path, ctype = "/", "text/xml"
        body = ('<?xml version="1.0"?><methodCall><methodName>VM.get_all_records</methodName><params>'
                '<param><value><string>%s</string></value></param></params></methodCall>' % session)
    lat, nbytes, bad = [], [0], [0]
    cpu0 = d.cpu_seconds()
    t_start = time.monotonic()
    end = t_start + seconds

    def client():
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
        while time.monotonic() < end:
            t = time.monotonic()
            c.request("POST", path, body, {"Content-Type": ctype})
            r = c.getresponse()
            head = r.read1(4096)
            n = len(head)
            while True:
                b = r.read1(1 << 20)
                if not b:
                    break
                n += len(b)
            r.read()
            lat.append(time.monotonic() - t)
            nbytes[0] += n
            if r.status != 200 or (b"<value>Success</value>" not in head and b'"result":' not in head):
                bad[0] += 1
        c.close()

    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t_start
    lat.sort()
    n = len(lat)
    return dict(calls=str(n), calls_per_s="%.1f" % (n / wall), bytes=str(nbytes[0]), bad=str(bad[0]),
                p50_us=str(int(lat[n // 2] * 1e6)) if n else "0",
                p99_us=str(int(lat[min(n - 1, int(n * 0.99))] * 1e6)) if n else "0",
                server_cpu_us_per_call="%.1f" % ((d.cpu_seconds() - cpu0) * 1e6 / n if n else 0))


def one(xenond, proto, clients, seconds, raw=False):
    d = xbench.Daemon(xenond=xenond).start()
    try:
        _, s = d.wait_ready()
        r = xbench.Rpc()
        n = len(r.call("VM.get_all", s))
        time.sleep(0.5)
        idle = d.status()
        peak = [idle["VmRSS"]]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], d.status()["VmRSS"])
                except OSError:
                    return
                time.sleep(0.05)

        t = threading.Thread(target=sample)
        t.start()
        try:
            if raw:
                res = run_raw(d, proto, clients, seconds, s)
            else:
                res = api_bench.run_wrk(d, proto, "VM.get_all_records", clients, seconds, s, "/dev/null")
        finally:
            stop.set()
            t.join()
        end = d.status()
        res.update(nvms=n, idle_mib=idle["VmRSS"] / 1024, peak_rss_mib=peak[0] / 1024,
                   end_rss_mib=end["VmRSS"] / 1024, hwm_mib_f=end["VmHWM"] / 1024)
        r.close()
        return res
    finally:
        d.stop()


def fmt_ms(us):
    us = int(us)
    return "%.0f ms" % (us / 1000) if us < 10_000_000 else "%.1f s" % (us / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", help="the daemon to compare with (omitted: only --after runs)")
    ap.add_argument("--after", default=xbench.XENOND)
    ap.add_argument("--seconds", type=int, default=30, help="per wrk run")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--client", choices=("wrk", "raw"), default="wrk",
                    help="raw: Python clients that only read the answers (see run_raw)")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    xbench.ensure_store().stop()
    daemons = ([("before", a.before)] if a.before else []) + [("after", a.after)]
    load0 = api_bench.loadavg()
    rows = []
    for proto in ("xml", "json"):
        for label, path in daemons:
            res = one(path, proto, a.clients, a.seconds, a.client == "raw")
            rows.append((label, proto, res))
            xbench.log("%-6s %-4s c=%d: %s calls/s p50 %s p99 %s; RSS idle %.0f MiB, peak %.0f MiB, "
                       "end %.0f MiB, HWM %.0f MiB; bad %s" % (
                           label, proto, a.clients, res["calls_per_s"], fmt_ms(res["p50_us"]),
                           fmt_ms(res["p99_us"]), res["idle_mib"], res["peak_rss_mib"], res["end_rss_mib"],
                           res["hwm_mib_f"], res["bad"]))
    lines = ["VM.get_all_records, %d clients (%s), %d s each, %d VM objects, loadavg at start %s, at end %s, %s" % (
        a.clients, a.client, a.seconds, rows[0][2]["nvms"], load0, api_bench.loadavg(), time.strftime("%Y-%m-%d %H:%M")),
        "",
        "| daemon | protocol | calls | calls/s | p50 | p99 | answer | RSS idle | RSS peak (sampled) | VmHWM | HWM − idle | CPU/call |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, proto, res in rows:
        calls = int(res["calls"])
        size = int(res["bytes"]) / calls / 1e6 if calls else 0
        lines.append("| %s | %s | %s | %s | %s | %s | %.0f MB | %.0f MiB | %.0f MiB | %.0f MiB | **%.0f MiB** | %s |" % (
            label, "XML-RPC" if proto == "xml" else "JSON-RPC", calls, res["calls_per_s"],
            fmt_ms(res["p50_us"]) if calls else "-", fmt_ms(res["p99_us"]) if calls else "-", size,
            res["idle_mib"], res["peak_rss_mib"], res["hwm_mib_f"], res["hwm_mib_f"] - res["idle_mib"],
            api_bench.fmt_cpu(res["server_cpu_us_per_call"])))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(OUT, "stream-%s.md" % a.client), "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
