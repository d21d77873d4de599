"""Pools in the lab (lab.py), for the pool suites and benchmarks.

Formed by configuration: every host gets pool-address/pool-id/pool-peers,
all start together (each waits for a leader, which needs the others), and
a Keeper thread per host starts and restarts its xenond: a daemon dies with
the thread that started it (PDEATHSIG), so that thread lives as long as
the pool.

    with lab.Lab(3) as l:
        pool = Pool(l)
        pool.start()
        m = pool.find_master(10)
        pool.kill(m); pool.restart(m)

Formed as a user forms one: hosts started alone, then `xe pool-join` to
the first (join()); second NICs on a segment of their own
(add_second_nics()).
"""

import json
import queue
import sqlite3
import threading
import time

import harness
import lab

RAFT_PORT = 7911


class Keeper(threading.Thread):
    """Runs the start/restart calls of one host's daemon on a thread that
    stays alive until close()."""

    def __init__(self, host):
        super().__init__(daemon=True)
        self.host = host
        self.q = queue.Queue()
        self.start()

    def run(self):
        while True:
            job = self.q.get()
            if job is None:
                return
            fn, box, done = job
            try:
                box.append(("ok", fn()))
            except Exception as e:  # handed to the caller
                box.append(("err", e))
            done.set()

    def call(self, fn, wait=True, timeout=60):
        box, done = [], threading.Event()
        self.q.put((fn, box, done))
        if not wait:
            return done, box
        if not done.wait(timeout):
            raise RuntimeError("%s: no answer from its keeper" % self.host.name)
        kind, v = box[0]
        if kind == "err":
            raise v
        return v

    def close(self):
        self.q.put(None)


def pool_config(l, i, extra=""):
    h = l.hosts[i]
    peers = ",".join("%d@%s:%d" % (j + 1, x.address, RAFT_PORT) for j, x in enumerate(l.hosts))
    return "pool-address=%s:%d\npool-id=%d\npool-peers=%s\n%s" % (h.address, RAFT_PORT, i + 1, peers, extra)


class Pool:
    def __init__(self, l, extra_config="", call_timeout=10):
        self.lab = l
        for i, h in enumerate(l.hosts):
            h.server = harness.Server(
                data_dir=h.data_dir, host=h.address, prefix=[lab.IP, "netns", "exec", h.netns],
                config=pool_config(l, i, extra_config), call_timeout=call_timeout)
        self.keepers = {h.name: Keeper(h) for h in l.hosts}
        self.by_address = {h.address: h for h in l.hosts}

    def start(self, hosts=None):
        hosts = hosts or self.lab.hosts
        waits = [self.keepers[h.name].call(lambda h=h: h.start(timeout=40), wait=False) for h in hosts]
        errors = []
        for done, box in waits:
            done.wait(60)
            if box and box[0][0] == "err":
                errors.append(box[0][1])
        if errors:
            raise errors[0]

    def kill(self, h):
        h.server.kill9()

    def restart(self, h):
        """Starts a host's daemon again (after kill); blocks until it answers."""
        self.keepers[h.name].call(lambda: h.server.start(timeout=40, port=h.port))

    def close(self):
        for k in self.keepers.values():
            k.close()

    def find_master(self, timeout, among=None):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for h in among or self.lab.hosts:
                if h.server.alive() and slave_error(h)[0] is None:
                    return h
            time.sleep(0.05)
        return None


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def join(l, hosts=None, timeout=30):
    """`xe pool-join` of each of hosts (every host but the first by default,
    each started) to the lab's first host; waits until every running host is
    in the pool and live. Returns the host refs by address."""
    h1 = l.hosts[0]
    a = h1.server.api
    for h in l.hosts[1:] if hosts is None else hosts:
        r = h.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                        "master-password=" + h1.server.password)
        assert r.returncode == 0, "%s: pool-join: %s" % (h.name, r.stdout + r.stderr)
    running = [h for h in l.hosts if h.server is not None and h.server.alive()]
    wait_for(lambda: len(a.host.get_all()) == len(running), timeout,
             "%d hosts in the pool" % len(running))
    refs = {h.address: [x for x in a.host.get_all() if a.host.get_address(x) == h.address][0]
            for h in running}
    wait_for(lambda: all(a.host_metrics.get_live(a.host.get_metrics(x)) for x in refs.values()), timeout,
             "every host live")
    return refs


def add_second_nics(l):
    """A second NIC, eth1, on every host, cabled to a bridge of its own
    (br1) in the switch's namespace: one segment with eth0 would have both
    NICs answer ARP."""
    lab._ip("-n", l.switch, "link", "add", "br1", "type", "bridge")
    lab._ip("-n", l.switch, "link", "set", "br1", "up")
    for h in l.hosts:
        lab._ip("-n", h.netns, "link", "add", "eth1", "type", "veth", "peer", "name", "q" + h.name,
                "netns", l.switch)
        lab._ip("-n", l.switch, "link", "set", "q" + h.name, "master", "br1", "up")
        lab._ip("-n", h.netns, "link", "set", "eth1", "up")


def halt_vms(api):
    """Hard-shuts-down every VM still running (a class's tear-down: errors
    are left to the tear-down's own checks); nothing without an API."""
    if api is None:
        return
    try:
        for vm in api.VM.get_all():
            if not api.VM.get_is_a_template(vm) and api.VM.get_power_state(vm) != "Halted":
                api.VM.hard_shutdown(vm)
    except Exception:
        pass


def slave_error(h, timeout=2):
    """(None, None) when h serves the API, else the error and its params."""
    try:
        h.server.call("session.login_with_password", "root", h.server.password, "1.0", "t",
                      timeout=timeout)
    except harness.XapiError as e:
        return e.code, list(e.params)
    except Exception as e:  # unreachable, cut, dead
        return type(e).__name__, []
    return None, None


def stored_rows(h, cls):
    """The rows of a class in the host's SQLite, read while it runs: ref -> record."""
    con = sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5)
    try:
        rows = con.execute("SELECT ref, data FROM objects WHERE class = ?", (cls,)).fetchall()
    finally:
        con.close()
    return {r: json.loads(d) for (r, d) in rows}


def on_master(pool, method, *args, timeout=30):
    """method (e.g. "pool.set_name_label") called on whichever host is
    master, again on the next one when the leadership moved under it (a
    busy machine can delay heartbeats past an election timeout): for calls
    that may be repeated."""
    end = time.monotonic() + timeout
    while True:
        m = pool.find_master(max(1, end - time.monotonic()))
        if m is None:
            raise TimeoutError("no master")
        try:
            return m.server.call(method, m.server.session, *args)
        except harness.XapiError as e:
            lost = e.code == "HOST_IS_SLAVE" or (e.code == "INTERNAL_ERROR" and "leadership" in str(e.params))
            if not lost or time.monotonic() > end:
                raise
            m.server._session = None
