"""A pool of three hosts in the lab (lab.py), its membership configured
(pool-address, pool-id, pool-peers; pool.join does not make it yet): one
master serves the API, the others answer HOST_IS_SLAVE with its address
over JSON-RPC and XML-RPC, a write on the master is in every host's
SQLite (read there directly: a slave serves no API), and after kill -9 of
the master another host is master within seconds with every acknowledged
write."""

import json
import sqlite3
import threading
import time
import unittest
import xmlrpc.client

import harness
import lab

RAFT_PORT = 7911


def slave_error(h):
    try:
        h.server.call("session.login_with_password", "root", h.server.password, "1.0", "t")
    except harness.XapiError as e:
        return e.code, list(e.params)
    return None, None


def stored_vm_names(h):
    """VM name_labels in the host's SQLite, read while it runs."""
    con = sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5)
    try:
        rows = con.execute("SELECT data FROM objects WHERE class = 'VM'").fetchall()
    finally:
        con.close()
    return {json.loads(d).get("name_label") for (d,) in rows}


def find_master(hosts, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for h in hosts:
            code, _ = slave_error(h)
            if code is None:
                return h
        time.sleep(0.05)
    return None


class PoolTest(unittest.TestCase):
    def test_three_hosts(self):
        l = lab.Lab(3)
        with l:
            peers = ",".join("%d@%s:%d" % (i + 1, h.address, RAFT_PORT) for i, h in enumerate(l.hosts))
            for i, h in enumerate(l.hosts):
                h.server = harness.Server(
                    data_dir=h.data_dir, host=h.address, prefix=[lab.IP, "netns", "exec", h.netns],
                    config="pool-address=%s:%d\npool-id=%d\npool-peers=%s\n" % (h.address, RAFT_PORT, i + 1, peers))
            # started together (each waits for a leader, which needs the
            # others); the starting threads live as long as the test, since
            # a daemon dies with the thread that started it (PDEATHSIG)
            done = threading.Event()
            started = [threading.Event() for _ in l.hosts]
            failed = []

            def run(h, ev):
                try:
                    h.start()
                except Exception as e:  # reported below
                    failed.append(e)
                ev.set()
                done.wait()

            threads = [threading.Thread(target=run, args=(h, ev), daemon=True)
                       for h, ev in zip(l.hosts, started)]
            for t in threads:
                t.start()
            self.addCleanup(done.set)
            for ev in started:
                ev.wait(60)
            self.assertEqual(failed, [])
            self.assertTrue(all(h.server.alive() for h in l.hosts))
            master = find_master(l.hosts, 15)
            self.assertIsNotNone(master, "one host serves the API")
            slaves = [h for h in l.hosts if h is not master]
            for s in slaves:
                self.assertEqual(slave_error(s), ("HOST_IS_SLAVE", [master.address]))
                # a call with a session it does not know, over XML-RPC
                proxy = xmlrpc.client.ServerProxy(s.server.url)
                r = proxy.VM.get_all("OpaqueRef:00000000-0000-0000-0000-000000000001")
                self.assertEqual(r["Status"], "Failure")
                self.assertEqual(r["ErrorDescription"], ["HOST_IS_SLAVE", master.address])
            api = master.server.api
            pool = api.pool.get_all()[0]
            self.assertEqual(api.host.get_address(api.pool.get_master(pool)), master.address)

            # writes on the master: acknowledged once Raft commits them
            lat = []
            names = []
            for i in range(50):
                n = "pool-vm-%d" % i
                t0 = time.monotonic()
                api.pool.set_name_label(pool, n)
                lat.append(time.monotonic() - t0)
                names.append(n)
            templates = [v for v in api.VM.get_all() if api.VM.get_is_a_template(v)]
            vm = api.VM.clone(templates[0], "replicated-vm")
            api.VM.set_name_label(vm, "replicated-vm")
            lat.sort()
            print("# pool.set_name_label on the master (3 hosts): p50 %.1f ms, p99 %.1f ms"
                  % (lat[len(lat) // 2] * 1000, lat[len(lat) * 99 // 100] * 1000))
            for h in l.hosts:
                end = time.monotonic() + 5
                while "replicated-vm" not in stored_vm_names(h) and time.monotonic() < end:
                    time.sleep(0.05)
                self.assertIn("replicated-vm", stored_vm_names(h), h.name)

            # kill -9 of the master: another within seconds, the writes there
            t0 = time.monotonic()
            master.server.kill9()
            new = find_master(slaves, 10)
            took = time.monotonic() - t0
            self.assertIsNotNone(new, "a new master")
            print("# new master serving the API %.2f s after kill -9" % took)
            self.assertLess(took, 5.0)
            a2 = new.server.api
            self.assertEqual(a2.pool.get_name_label(a2.pool.get_all()[0]), names[-1])
            self.assertIn("replicated-vm", [a2.VM.get_name_label(v) for v in a2.VM.get_all()])
            other = [h for h in slaves if h is not new][0]
            self.assertEqual(slave_error(other), ("HOST_IS_SLAVE", [new.address]))


if __name__ == "__main__":
    harness.main()
