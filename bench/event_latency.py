#!/usr/bin/env python3
"""Event wake-up latency after a commit.

A watcher holds event.from(["vm"], token, 30) open on one keep-alive
connection; a writer, on a second keep-alive connection, commits
VM.set_name_label (or VM.add_to_other_config with --op other_config) on a
random VM. One thread drives both sockets with select() and timestamps
(time.perf_counter) the moment each complete HTTP response has arrived:

  wake_after_return = t(event.from response complete) - t(writer's response complete)
  wake_after_send   = t(event.from response complete) - t(writer's request sent)

The first is what the issue asks for (it is negative when the event
reaches the watcher before the writer hears back); the second includes the
commit itself. Each iteration checks that the event names the VM written.
Before each write the watcher's request has been in the server for
--park-ms (default 2 ms) so it is parked, not racing the commit.

    python3 bench/event_latency.py [--iterations 1000] [--op name_label|other_config]

Runs on the populated store (BENCH_NVMS VMs). Loopback only."""
import argparse
import json
import os
import random
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbench  # noqa: E402

OUT = os.environ.get("BENCH_OUT", "/tmp/xenon-bench/results")


class Conn:
    """A raw keep-alive HTTP/1.1 connection: send a POST, then feed() bytes
    until a whole response (Content-Length framed) has arrived."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, body):
        b = body.encode()
        req = ("POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % len(b)).encode() + b
        self.s.sendall(req)

    def feed(self):
        """Reads what is there; returns the body when a response is complete."""
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        self.buf += chunk
        return self.complete()

    def complete(self):
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1")
        n = 0
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                n = int(v)
        if len(self.buf) < head_end + 4 + n:
            return None
        body = self.buf[head_end + 4:head_end + 4 + n]
        self.buf = self.buf[head_end + 4 + n:]
        status = head.split(" ", 2)[1]
        if status != "200":
            raise RuntimeError("HTTP %s: %s" % (status, body[:200]))
        return body

    def call(self, method, *params):
        self.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}))
        while True:
            body = self.feed()
            if body is not None:
                return unwrap(method, body)


def unwrap(method, body):
    r = json.loads(body)
    if "error" in r:
        raise RuntimeError("%s: %s" % (method, r["error"]))
    return r["result"]


def rpc(method, *params):
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1})


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def measure(port, session, refs, iterations, op, park_ms, log_every=250):
    w = Conn(port)    # watcher
    wr = Conn(port)   # writer
    # a token for "now": one event.inject on a VM, then event.from returns it
    tok = w.call("event.inject", session, "VM", refs[0])
    res = w.call("event.from", session, ["vm"], tok, 1.0)
    token = res["token"]
    after_return, after_send, commit = [], [], []
    for i in range(iterations):
        vm = random.choice(refs)
        w.send(rpc("event.from", session, ["vm"], token, 30.0))
        time.sleep(park_ms / 1000.0)
        if op == "name_label":
            wbody = rpc("VM.set_name_label", session, vm, "ev-%d-%d" % (i, random.randrange(1 << 30)))
        else:
            wbody = rpc("VM.add_to_other_config", session, vm, "ev-%d" % i, "v")
        t_sent = time.perf_counter()
        wr.send(wbody)
        t_ret = t_ev = None
        ev_body = None
        while t_ret is None or t_ev is None:
            rd, _, _ = select.select([c.s for c, t in ((w, t_ev), (wr, t_ret)) if t is None], [], [], 35)
            if not rd:
                raise RuntimeError("no response within 35 s at iteration %d" % i)
            now = time.perf_counter()
            for sock in rd:
                if sock is w.s:
                    b = w.feed()
                    if b is not None:
                        t_ev, ev_body = now, b
                else:
                    b = wr.feed()
                    if b is not None:
                        t_ret = now
                        unwrap("write", b)
        res = unwrap("event.from", ev_body)
        token = res["token"]
        if not any(e["ref"] == vm for e in res["events"]):
            # an unrelated VM event (e.g. another client) woke us: wait again
            raise RuntimeError("event for %s missing at iteration %d: %s" % (
                vm, i, [e["ref"] for e in res["events"]]))
        after_return.append((t_ev - t_ret) * 1e3)
        after_send.append((t_ev - t_sent) * 1e3)
        commit.append((t_ret - t_sent) * 1e3)
        if op == "other_config":
            wr.call("VM.remove_from_other_config", session, vm, "ev-%d" % i)
            # and consume the event that removal made
            res = w.call("event.from", session, ["vm"], token, 5.0)
            token = res["token"]
        if log_every and (i + 1) % log_every == 0:
            xbench.log("  %d/%d  wake-after-return p50 %.3f ms p99 %.3f ms" % (
                i + 1, iterations, pct(after_return, 50), pct(after_return, 99)))
    return after_return, after_send, commit


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--op", choices=["name_label", "other_config"], default="name_label")
    ap.add_argument("--park-ms", type=float, default=2.0)
    ap.add_argument("--bg-all-records", action="store_true",
                    help="meanwhile, a third client calls VM.get_all_records in a loop")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    d = xbench.ensure_store()
    try:
        r = xbench.Rpc()
        s = xbench.login(r)
        refs = xbench.vm_refs(r, s)
        xbench.log("event latency: %d iterations of VM.%s on %d VMs" % (
            a.iterations, "set_name_label" if a.op == "name_label" else "add_to_other_config", len(refs)))
        stop = threading.Event()
        bg_calls = [0]

        def bg():
            c = xbench.Rpc()
            while not stop.is_set():
                c.call("VM.get_all_records", s)
                bg_calls[0] += 1
            c.close()
        th = threading.Thread(target=bg)
        if a.bg_all_records:
            th.start()
            time.sleep(0.5)
        t0 = time.monotonic()
        try:
            ar, as_, cm = measure(d.port, s, refs, a.iterations, a.op, a.park_ms)
        finally:
            stop.set()
            if a.bg_all_records:
                th.join()
        el = time.monotonic() - t0
        r.call("session.logout", s)
    finally:
        d.stop()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    op = "VM.set_name_label" if a.op == "name_label" else "VM.add_to_other_config"
    lines = [
        "Event wake-up latency, writer %s, %d iterations, %d VMs, loadavg %s, %.1f s%s" % (
            op, a.iterations, len(refs), load, el,
            ", with a client calling VM.get_all_records in a loop (%d calls)" % bg_calls[0]
            if a.bg_all_records else ""), "",
        "| measure | p50 | p90 | p99 | max |", "|---|---|---|---|---|"]
    for name, v in (("event.from response after writer's response (wake after return)", ar),
                    ("event.from response after writer's request sent (wake after send)", as_),
                    ("writer's call round trip (commit)", cm)):
        lines.append("| %s | %.3f ms | %.3f ms | %.3f ms | %.3f ms |" % (
            name, pct(v, 50), pct(v, 90), pct(v, 99), max(v)))
    lines.append("")
    lines.append("event.from response arrived before the writer's response in %d of %d iterations, "
                 "in the same select() wake-up (shown as 0.000 ms) in %d" % (
                     sum(1 for x in ar if x < 0), len(ar), sum(1 for x in ar if x == 0)))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(OUT, "event-%s%s.md" % (a.op, "-bg" if a.bg_all_records else "")), "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
