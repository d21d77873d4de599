#!/usr/bin/env python3
"""Cold start time and memory with 10,000 VMs.

Stops the daemon, starts it again on the same data dir, and times (from
the exec) until the port answers a session.login_with_password and then
until VM.get_all returns >= BENCH_NVMS refs. Reads VmRSS/VmHWM from
/proc/<pid>/status right then, and again after --gar-calls (1)
VM.get_all_records (JSON), timed to the last byte of the answer and to
the end of Python's parse of it, to show what a full listing costs. Repeats --runs times
(default 3) and reports each run and the median.

    python3 bench/cold_start.py [--runs 3] [--gar-calls 1]
    BENCH_NVMS=100000 BENCH_DATA_DIR=/tmp/xenon-bench/data100k python3 bench/cold_start.py --gar-calls 3

The page cache is warm (the db was just written or read); a cold-cache
start would add the read of db.sqlite (its size is printed). Loopback only."""
import argparse
import http.client
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbench  # noqa: E402

OUT = os.environ.get("BENCH_OUT", "/tmp/xenon-bench/results")


def timed_get_all_records(port, session):
    """VM.get_all_records over JSON-RPC on a new connection: seconds until
    the last byte of the answer arrived (what the daemon takes), and until
    Python's json module had parsed it (what this client takes on top)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    body = json.dumps({"jsonrpc": "2.0", "method": "VM.get_all_records", "params": [session], "id": 1})
    t0 = time.monotonic()
    c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
    data = c.getresponse().read()
    t1 = time.monotonic()
    n = len(json.loads(data)["result"])
    t2 = time.monotonic()
    c.close()
    assert n > 0
    return t1 - t0, t2 - t0


def one_start(gar_calls):
    d = xbench.Daemon().start()
    try:
        t_login, s = d.wait_ready()
        r = xbench.Rpc()
        n = len(r.call("VM.get_all", s))
        t_all = time.monotonic() - d.t_start
        st = d.status()
        times, parsed = [], []
        for _ in range(gar_calls):
            t_bytes, t_parsed = timed_get_all_records(d.port, s)
            times.append(t_bytes)
            parsed.append(t_parsed)
        t_gar = statistics.median(times)
        t_gar_parsed = statistics.median(parsed)
        st2 = d.status()
        r.call("session.logout", s)
        r.close()
        t_stop0 = time.monotonic()
    finally:
        d.stop()
    t_stop = time.monotonic() - t_stop0
    return dict(login_s=t_login, get_all_s=t_all, nvms=n, rss_mib=st["VmRSS"] / 1024,
                hwm_mib=st["VmHWM"] / 1024, gar_s=t_gar, rss2_mib=st2["VmRSS"] / 1024,
                hwm2_mib=st2["VmHWM"] / 1024, threads=st["Threads"], stop_s=t_stop, gar_parsed_s=t_gar_parsed)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gar-calls", type=int, default=1,
                    help="VM.get_all_records calls after the start; their median is reported")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    xbench.ensure_store().stop()
    db = os.path.join(xbench.DATA_DIR, "db.sqlite")
    size = sum(os.path.getsize(db + sfx) for sfx in ("", "-wal") if os.path.exists(db + sfx))
    runs = []
    for i in range(a.runs):
        r = one_start(a.gar_calls)
        runs.append(r)
        xbench.log("start %d: login after %.3f s, VM.get_all (%d refs) after %.3f s, RSS %.0f MiB, "
                   "HWM %.0f MiB; VM.get_all_records median %.2f s, then RSS %.0f MiB, HWM %.0f MiB; stop %.2f s" % (
                       i + 1, r["login_s"], r["nvms"], r["get_all_s"], r["rss_mib"], r["hwm_mib"],
                       r["gar_s"], r["rss2_mib"], r["hwm2_mib"], r["stop_s"]))
    med = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    lines = ["Cold start of %s, %d VM objects, db.sqlite+wal %.1f MiB, loadavg %s, %d runs" % (
        xbench.XENOND, runs[0]["nvms"], size / 2**20, load, len(runs)), "",
        "| run | port answers login | VM.get_all returns %d | VmRSS then | VmHWM then | "
        "VM.get_all_records, last byte (median of %d) | the same, parsed by Python | VmRSS / VmHWM after them |" % (
            runs[0]["nvms"], a.gar_calls),
        "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(runs + [med]):
        lines.append("| %s | %.3f s | %.3f s | %.0f MiB | %.0f MiB | %.2f s | %.2f s | %.0f / %.0f MiB |" % (
            "median" if i == len(runs) else str(i + 1), r["login_s"], r["get_all_s"], r["rss_mib"],
            r["hwm_mib"], r["gar_s"], r["gar_parsed_s"], r["rss2_mib"], r["hwm2_mib"]))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(OUT, "cold_start-%d.md" % xbench.NVMS), "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
