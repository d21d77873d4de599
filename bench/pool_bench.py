#!/usr/bin/env python3
"""Pools on Raft, in one run, hosts as network namespaces (tests/integration/lab.py):

1. Writes: C clients (1 and 8), each with its own keep-alive connection and
   session, calling VM.set_other_config on a VM of its own for S seconds:
   on a pool of one (one lab host, no pool configured) and on a pool of
   three (three lab hosts, Raft), the same daemon binary. Calls per second
   and latency percentiles (a call returns once its transaction is
   committed: by Raft on the pool of three).
2. Failover: kill -9 of the master of the pool of three, then the time
   until another host answers session.login_with_password and
   pool.get_all; R rounds, the killed host restarted and caught up between
   rounds.
3. Replication lag of the standby of a pool of two (the master the only
   voter): 4 writers on the master for S seconds while a sampler reads
   the log index each host's SQLite holds (meta 'log-index') every
   millisecond; the lag of an index is the time it appears on the standby
   minus the time it appears on the master.

    XENOND=build-bench/src/server/xenond python3 bench/pool_bench.py [--seconds 10] [--rounds 5]

Run as root (namespaces). Prints the figures; bench/README.md §8 has a run."""
import argparse
import http.client
import json
import os
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
import lab  # noqa: E402
import pool_util  # noqa: E402


class Conn:
    """One keep-alive JSON-RPC connection with its own session."""

    def __init__(self, server):
        self.c = http.client.HTTPConnection(server.host, server.port, timeout=30)
        self.session = self.call("session.login_with_password", "root", server.password, "1.0", "bench")

    def call(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1})
        self.c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        env = json.loads(self.c.getresponse().read())
        if "error" in env:
            raise harness.XapiError(env["error"].get("message"), env["error"].get("data") or [])
        return env["result"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def write_load(server, clients, seconds):
    api = server.api
    tmpl = [v for v in api.VM.get_all() if api.VM.get_is_a_template(v)][0]
    vms = [api.VM.clone(tmpl, "bench-%d" % i) for i in range(clients)]
    conns = [Conn(server) for _ in range(clients)]
    lat = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop = [0.0]

    def run(i):
        c, vm, out = conns[i], vms[i], lat[i]
        start.wait()
        n = 0
        while time.monotonic() < stop[0]:
            n += 1
            t0 = time.perf_counter()
            c.call("VM.set_other_config", c.session, vm, {"k": str(n)})
            out.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop[0] = time.monotonic() + seconds
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    for vm in vms:
        api.VM.destroy(vm)
    all_lat = [x for l in lat for x in l]
    return {"calls": len(all_lat), "rate": len(all_lat) / took, "p50": pct(all_lat, 50) * 1000,
            "p99": pct(all_lat, 99) * 1000, "max": max(all_lat) * 1000}


def row(name, clients, r):
    return "| %-30s | %2d | %8.0f | %6.2f | %6.2f | %7.2f |" % (
        name, clients, r["rate"], r["p50"], r["p99"], r["max"])


def run_writes(seconds, out):
    results = {}
    with lab.Lab(1) as l:
        h = l.hosts[0]
        h.start()
        for c in (1, 8):
            results[("one", c)] = write_load(h.server, c, seconds)
    with lab.Lab(3) as l:
        pool = pool_util.Pool(l)
        pool.start()
        m = pool.find_master(20)
        for c in (1, 8):
            results[("three", c)] = write_load(m.server, c, seconds)
        pool.close()
    out.append("| writes (VM.set_other_config)    |  C | calls/s  | p50 ms | p99 ms |  max ms |")
    out.append("|--------------------------------|----|----------|--------|--------|---------|")
    for c in (1, 8):
        out.append(row("pool of one (1 lab host)", c, results[("one", c)]))
        out.append(row("pool of three (Raft)", c, results[("three", c)]))
    for c in (1, 8):
        out.append("ratio three/one at %d client(s): %.2f" % (
            c, results[("three", c)]["rate"] / results[("one", c)]["rate"]))


def run_failover(rounds, out):
    times = []
    with lab.Lab(3) as l:
        pool = pool_util.Pool(l)
        pool.start()
        for r in range(rounds):
            m = pool.find_master(20)
            m.server.api.pool.set_name_label(m.server.api.pool.get_all()[0], "round-%d" % r)
            others = [h for h in l.hosts if h is not m]
            t0 = time.monotonic()
            m.server.kill9()
            new = None
            while new is None and time.monotonic() - t0 < 30:
                for h in others:
                    try:
                        s = h.server.call("session.login_with_password", "root", h.server.password,
                                          "1.0", "bench", timeout=2)
                        pools = h.server.call("pool.get_all", s, timeout=2)
                        if pools:
                            new = h
                            break
                    except Exception:
                        pass
                else:
                    time.sleep(0.01)
            took = time.monotonic() - t0
            times.append(took)
            out.append("round %d: %s killed, %s answering pool.get_all after %.2f s" % (
                r + 1, m.name, new.name if new else "none", took))
            pool.restart(m)
            pool.find_master(20)
            time.sleep(1)
        pool.close()
    out.append("failover kill -9 -> pool.get_all: median %.2f s, max %.2f s over %d rounds" % (
        pct(times, 50), max(times), len(times)))


def log_index(con):
    row_ = con.execute("SELECT value FROM meta WHERE key='log-index'").fetchone()
    return int(row_[0]) if row_ else 0


def run_lag(seconds, out):
    with lab.Lab(2) as l:
        pool = pool_util.Pool(l)
        pool.start()
        m = pool.find_master(20)
        standby = [h for h in l.hosts if h is not m][0]
        cons = {h.name: sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5,
                                        check_same_thread=False)
                for h in l.hosts}
        seen_m, seen_s = {}, {}
        stop = threading.Event()

        def sampler():
            last_m = last_s = 0
            while not stop.is_set():
                now = time.monotonic()
                im = log_index(cons[m.name])
                is_ = log_index(cons[standby.name])
                for i in range(last_m + 1, im + 1):
                    seen_m[i] = now
                for i in range(last_s + 1, is_ + 1):
                    seen_s[i] = now
                last_m, last_s = max(last_m, im), max(last_s, is_)
                time.sleep(0.001)

        t = threading.Thread(target=sampler)
        t.start()
        time.sleep(0.5)
        first = max(seen_m) if seen_m else 0
        r = write_load(m.server, 4, seconds)
        time.sleep(1)
        stop.set()
        t.join()
        lags = [seen_s[i] - seen_m[i] for i in seen_m if i > first and i in seen_s]
        missing = [i for i in seen_m if i > first and i not in seen_s]
        out.append("pool of two, 4 writers on the master: %.0f calls/s, p99 commit %.2f ms" % (r["rate"], r["p99"]))
        out.append("standby lag over %d entries: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d not on the standby"
                   " 1 s after the load" % (len(lags), pct(lags, 50) * 1000, pct(lags, 99) * 1000,
                                            max(lags) * 1000 if lags else float("nan"), len(missing)))
        pool.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=["writes", "failover", "lag"])
    a = ap.parse_args()
    out = ["xenond: %s" % harness.XENOND, "load average at start: %.2f" % os.getloadavg()[0]]
    if a.only in (None, "writes"):
        run_writes(a.seconds, out)
    if a.only in (None, "failover"):
        run_failover(a.rounds, out)
    if a.only in (None, "lag"):
        run_lag(a.seconds, out)
    out.append("load average at end: %.2f" % os.getloadavg()[0])
    print("\n".join(out))


if __name__ == "__main__":
    main()
