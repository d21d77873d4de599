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
4. Heal: in a pool of three, one host (a member, then the master, in
   turn) is cut off the network (lab.cut: its switch port down) for
   CUT seconds while a writer keeps committing on the majority's master,
   then healed (lab.heal); the time from the heal until the cut host's
   SQLite holds the last index the master's held at the heal (meta
   'log-index'), i.e. until it has caught up; R rounds of each.
5. Join: a standalone host joins (pool.join) a pool of one whose database
   holds V VMs (sim backend, made with VM.clone): the time pool.join
   takes, the time until the joiner is a slave whose SQLite holds every
   VM, and each xenond's resident memory (VmRSS) before and after.

    XENOND=build-bench/src/server/xenond python3 bench/pool_bench.py [--seconds 10] [--rounds 5]
        [--only writes|failover|lag|heal|join] [--vms 10000] [--cut-seconds 20]

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


def cpu_ms(pid):
    """User and system CPU time of a process so far, in ms."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def write_load(server, clients, seconds, others=()):
    """clients writers on server for seconds; with the CPU each daemon
    (server, then others) spent per call meanwhile."""
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
    daemons = [server] + list(others)
    cpu0 = [cpu_ms(d.pid) for d in daemons]
    stop[0] = time.monotonic() + seconds
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    cpu = [cpu_ms(d.pid) - c for d, c in zip(daemons, cpu0)]
    for vm in vms:
        api.VM.destroy(vm)
    all_lat = [x for l in lat for x in l]
    return {"calls": len(all_lat), "rate": len(all_lat) / took, "p50": pct(all_lat, 50) * 1000,
            "p99": pct(all_lat, 99) * 1000, "max": max(all_lat) * 1000,
            "cpu": [c / max(1, len(all_lat)) for c in cpu]}


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
        others = [h.server for h in l.hosts if h is not m]
        for c in (1, 8):
            results[("three", c)] = write_load(m.server, c, seconds, others)
        pool.close()
    out.append("| writes (VM.set_other_config)    |  C | calls/s  | p50 ms | p99 ms |  max ms |")
    out.append("|--------------------------------|----|----------|--------|--------|---------|")
    for c in (1, 8):
        out.append(row("pool of one (1 lab host)", c, results[("one", c)]))
        out.append(row("pool of three (Raft)", c, results[("three", c)]))
    for c in (1, 8):
        out.append("ratio three/one at %d client(s): %.2f" % (
            c, results[("three", c)]["rate"] / results[("one", c)]["rate"]))
    for c in (1, 8):
        one, three = results[("one", c)]["cpu"], results[("three", c)]["cpu"]
        out.append("CPU ms per call at %d client(s): pool of one %.3f; pool of three: master %.3f, "
                   "members %s" % (c, one[0], three[0], ", ".join("%.3f" % x for x in three[1:])))


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


def run_heal(rounds, cut_seconds, out):
    """Rounds of: cut a host (a member, then the master) for cut_seconds
    while a writer commits on the majority's master, heal it, and time
    until its SQLite's log index reaches the master's at the heal."""
    times = {"member": [], "master": []}
    with lab.Lab(3) as l:
        pool = pool_util.Pool(l)
        pool.start()
        cons = {h.name: sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5,
                                        check_same_thread=False)
                for h in l.hosts}
        m = pool.find_master(20)
        pref = m.server.api.pool.get_all()[0]
        for r in range(rounds):
            for kind in ("member", "master"):
                m = pool.find_master(20)
                cut = m if kind == "master" else [h for h in l.hosts if h is not m][0]
                # every host caught up before the cut
                end = time.monotonic() + 30
                while len({log_index(c) for c in cons.values()}) > 1 and time.monotonic() < end:
                    time.sleep(0.05)
                stop = threading.Event()
                n = [0]

                majority = [h for h in l.hosts if h is not cut]

                def writer():
                    i = 0
                    while not stop.is_set():
                        i += 1
                        w = pool.find_master(5, majority)
                        try:
                            if w is None:
                                continue
                            w.server.call("pool.set_name_label", w.server.session, pref, "heal-%d" % i,
                                          timeout=5)
                            n[0] += 1
                        except Exception:  # the master moved: find it again
                            w.server._session = None
                        finally:
                            time.sleep(0.05)
                l.cut(cut)
                t = threading.Thread(target=writer)
                t.start()
                time.sleep(cut_seconds)
                stop.set()
                t.join()
                leader = pool.find_master(20, majority)
                target = log_index(cons[leader.name])
                l.heal(cut)
                t0 = time.monotonic()
                while log_index(cons[cut.name]) < target and time.monotonic() - t0 < 120:
                    time.sleep(0.01)
                took = time.monotonic() - t0
                times[kind].append(took)
                out.append("round %d: %s %s cut %.0f s (%d writes meanwhile), caught up to index %d "
                           "%.2f s after the heal" % (r + 1, kind, cut.name, cut_seconds, n[0], target, took))
        pool.close()
    for kind in ("member", "master"):
        xs = times[kind]
        out.append("heal -> caught up, %s cut: median %.2f s, max %.2f s over %d rounds (%s)" % (
            kind, pct(xs, 50), max(xs), len(xs), ", ".join("%.2f" % x for x in xs)))


def rss_mib(server):
    with open("/proc/%d/status" % server.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_join(vms, out):
    """A host joining a pool of one whose database holds vms VMs (sim
    backend): the time pool.join takes, the time until the joiner is a
    slave whose SQLite holds every VM, and each xenond's resident memory."""
    with lab.Lab(2) as l:
        h1, h2 = l.hosts
        for h in l.hosts:
            h.start(extra_args=["--tls-listen", "%s:%d" % (h.address, 8443)])
        api = h1.server.api
        tmpl = [v for v in api.VM.get_all() if api.VM.get_is_a_template(v)][0]
        t0 = time.monotonic()

        def clone(i):
            c = Conn(h1.server)
            for k in range(i, vms, 8):
                c.call("VM.clone", c.session, tmpl, "join-bench-%d" % k)

        threads = [threading.Thread(target=clone, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        made = time.monotonic() - t0
        total = len(api.VM.get_all())
        rss1 = rss_mib(h1.server)
        rss2 = rss_mib(h2.server)
        t0 = time.monotonic()
        h2.server.api.pool.join(h1.address, "root", h1.server.password)
        joined = time.monotonic() - t0
        while time.monotonic() - t0 < 600:
            try:
                n = len(pool_util.stored_rows(h2, "VM"))
            except Exception:
                n = 0
            if n >= total and len(api.host.get_all()) == 2 and pool_util.slave_error(h2)[0] == "HOST_IS_SLAVE":
                break
            time.sleep(0.1)
        member = time.monotonic() - t0
        out.append("VMs in the master's database: %d (%d made in %.1f s)" % (total, vms, made))
        out.append("pool.join returned after %.2f s; the joiner a slave holding every VM after %.2f s"
                   % (joined, member))
        out.append("RSS before the join: master %.0f MiB, joiner %.0f MiB" % (rss1, rss2))
        time.sleep(2)
        out.append("RSS after the join: master %.0f MiB, joiner %.0f MiB" % (rss_mib(h1.server), rss_mib(h2.server)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=["writes", "failover", "lag", "heal", "join"])
    ap.add_argument("--vms", type=int, default=10000, help="VMs in the pool a host joins (--only join)")
    ap.add_argument("--cut-seconds", type=float, default=20, help="how long a host stays cut (--only heal)")
    a = ap.parse_args()
    out = ["xenond: %s" % harness.XENOND, "load average at start: %.2f" % os.getloadavg()[0]]
    if a.only in (None, "writes"):
        run_writes(a.seconds, out)
    if a.only in (None, "failover"):
        run_failover(a.rounds, out)
    if a.only in (None, "lag"):
        run_lag(a.seconds, out)
    if a.only in (None, "heal"):
        run_heal(a.rounds, a.cut_seconds, out)
    if a.only in (None, "join"):
        run_join(a.vms, out)
    out.append("load average at end: %.2f" % os.getloadavg()[0])
    print("\n".join(out))


if __name__ == "__main__":
    main()
