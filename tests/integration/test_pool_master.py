"""The master of a pool of three on Raft (lab hosts, membership configured):
a partition isolating the master (its switch port down) — the isolated
host refuses writes, the other two elect a master, healing brings the old
one back as a slave with no divergent data; pool.master and one
POOL_MASTER_TRANSITION message follow each change of master; every
member has a host record with its address; pool.designate_new_master:
refused with DESIGNATE_NEW_MASTER_IN_PROGRESS while one runs, HOST_OFFLINE
for a host cut off, then moving the master, twice in a row (the second
call a no-op), and through xe; xe pool-sync-database."""

import http.client
import json
import subprocess
import threading
import time
import unittest

import harness
import lab
import pool_util


def call_inside(h, session, method, *params):
    """A JSON-RPC call made from inside the host's own namespace (it is
    reachable there when its link is cut): (error code or None, result)."""
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": [session] + list(params), "id": 1})
    code = ("import json,sys,urllib.request\n"
            "r=urllib.request.urlopen(urllib.request.Request(sys.argv[1],data=sys.argv[2].encode(),"
            "headers={'Content-Type':'application/json'}),timeout=20)\n"
            "print(r.read().decode())\n")
    r = h.exec("python3", "-c", code, h.server.url + "/jsonrpc", body, stdout=subprocess.PIPE,
               stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0:
        return ("unreachable: " + r.stderr.strip()[-200:], None)
    env = json.loads(r.stdout)
    if "error" in env:
        return (env["error"].get("message"), env["error"].get("data"))
    return (None, env["result"])


def reader_inside(h, session, pool_ref, log, stop):
    """Reads the pool's label on h, from inside h's namespace (a thread of
    its own joins it), as fast as answers come, until stop is set: appends
    (start, end, error code or None, value) to log."""
    lab._setns("/run/netns/" + h.netns)
    body = json.dumps({"jsonrpc": "2.0", "method": "pool.get_name_label", "params": [session, pool_ref],
                       "id": 1})
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection(h.address, h.port, timeout=5)
            c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            env = json.loads(c.getresponse().read())
            c.close()
            err = env.get("error")
            entry = (t0, time.monotonic(), err.get("message") if err else None, env.get("result"))
        except Exception as e:
            entry = (t0, time.monotonic(), type(e).__name__, None)
        log.append(entry)
        time.sleep(0.005)


def pool_label_in_sqlite(h):
    rows = pool_util.stored_rows(h, "pool")
    return [r.get("name_label") for r in rows.values()]


def transitions(api):
    return sorted((m["timestamp"], m["obj_uuid"]) for m in api.message.get_all_records().values()
                  if m["name"] == "POOL_MASTER_TRANSITION")


class PoolMasterTest(unittest.TestCase):
    def wait_master(self, pool, among=None, timeout=15):
        m = pool.find_master(timeout, among)
        self.assertIsNotNone(m, "a master")
        return m

    def host_ref(self, api, h):
        for ref, rec in api.host.get_all_records().items():
            if rec["address"] == h.address:
                return ref
        self.fail("no host record with address %s" % h.address)

    def wait_pool_master(self, api, ref, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if api.pool.get_master(api.pool.get_all()[0]) == ref:
                return
            time.sleep(0.1)
        self.assertEqual(api.pool.get_master(api.pool.get_all()[0]), ref)

    def test_partition_and_designate(self):
        l = lab.Lab(3)
        with l:
            pool = pool_util.Pool(l)
            self.addCleanup(pool.close)
            pool.start()
            old = self.wait_master(pool)
            api = old.server.api
            # every member has a record with its address
            end = time.monotonic() + 10
            while len(api.host.get_all()) < 3 and time.monotonic() < end:
                time.sleep(0.1)
            self.assertEqual(sorted(r["address"] for r in api.host.get_all_records().values()),
                             sorted(h.address for h in l.hosts))
            self.assertEqual(api.pool.get_master(api.pool.get_all()[0]), self.host_ref(api, old))
            pool_ref = api.pool.get_all()[0]
            api.pool.set_name_label(pool_ref, "before-cut")
            session = old.server.session

            # ---- the master cut off ----
            l.cut(old)
            others = [h for h in l.hosts if h is not old]
            t0 = time.monotonic()
            code, params = call_inside(old, session, "pool.set_name_label", pool_ref, "isolated-write")
            print("# write on the isolated master: %s %s after %.1f s" % (code, params, time.monotonic() - t0))
            self.assertIsNotNone(code, "the isolated master refuses the write")
            new = self.wait_master(pool, others, 15)
            print("# new master %s %.1f s after the cut" % (new.name, time.monotonic() - t0))
            a2 = new.server.api
            a2.pool.set_name_label(pool_ref, "after-cut")
            # still cut: the old master serves nothing, reads included
            code, _ = call_inside(old, session, "pool.get_name_label", pool_ref)
            self.assertEqual(code, "HOST_IS_SLAVE")
            l.heal(old)
            end = time.monotonic() + 15
            while pool_util.slave_error(old) != ("HOST_IS_SLAVE", [new.address]) and time.monotonic() < end:
                time.sleep(0.1)
            self.assertEqual(pool_util.slave_error(old), ("HOST_IS_SLAVE", [new.address]))
            for h in l.hosts:
                end = time.monotonic() + 10
                while pool_label_in_sqlite(h) != ["after-cut"] and time.monotonic() < end:
                    time.sleep(0.1)
                self.assertEqual(pool_label_in_sqlite(h), ["after-cut"], h.name)
            self.assertEqual(a2.pool.get_name_label(pool_ref), "after-cut")
            self.wait_pool_master(a2, self.host_ref(a2, new))
            new_uuid = a2.host.get_uuid(self.host_ref(a2, new))
            self.assertEqual([u for _, u in transitions(a2)], [new_uuid], "one POOL_MASTER_TRANSITION")

            # ---- designate_new_master ----
            target = [h for h in l.hosts if h is not new][0]
            target_ref = self.host_ref(a2, target)
            l.cut(target)
            first = {}

            def designate():
                try:
                    a2.pool.designate_new_master(target_ref)
                    first["r"] = "ok"
                except harness.XapiError as e:
                    first["r"] = e.code
            th = threading.Thread(target=designate)
            th.start()
            time.sleep(0.5)
            with self.assertRaises(harness.XapiError) as cm:
                a2.pool.designate_new_master(target_ref)
            self.assertEqual(cm.exception.code, "DESIGNATE_NEW_MASTER_IN_PROGRESS")
            th.join(30)
            self.assertEqual(first["r"], "HOST_OFFLINE", "a host cut off cannot take the master")
            self.assertIsNone(pool_util.slave_error(new)[0], "nothing moved")
            l.heal(target)
            time.sleep(1)
            t0 = time.monotonic()
            a2.pool.designate_new_master(target_ref)
            print("# designate_new_master: %.2f s" % (time.monotonic() - t0))
            self.assertIsNone(pool_util.slave_error(target)[0], "the designated host is master")
            self.assertEqual(pool_util.slave_error(new), ("HOST_IS_SLAVE", [target.address]))
            a3 = target.server.api
            self.assertEqual(a3.pool.get_master(pool_ref), target_ref)
            # again, on the new master: nothing to do
            n_before = len(transitions(a3))
            a3.pool.designate_new_master(target_ref)
            self.assertIsNone(pool_util.slave_error(target)[0])
            self.assertEqual(len(transitions(a3)), n_before)
            # the old master, asked with its own session, names the new one
            with self.assertRaises(harness.XapiError) as cm:
                a2.pool.designate_new_master(target_ref)
            self.assertEqual(cm.exception.code, "HOST_IS_SLAVE")
            self.assertEqual(cm.exception.params, [target.address])
            self.assertEqual(a3.pool.get_name_label(pool_ref), "after-cut")

            # ---- xe ----
            back_uuid = a3.host.get_uuid(self.host_ref(a3, new))
            r = target.server.xe("pool-sync-database")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = target.server.xe("pool-designate-new-master", "host-uuid=" + back_uuid)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIsNone(pool_util.slave_error(new)[0])
            r = target.server.xe("host-list", "--minimal")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("HOST_IS_SLAVE", r.stdout + r.stderr)
            self.assertIn(new.address, r.stdout + r.stderr)
            r = target.server.xe("pool-designate-new-master", "host-uuid=no-such-uuid")
            self.assertNotEqual(r.returncode, 0)
            self.wait_pool_master(new.server.api, self.host_ref(new.server.api, new))
            self.assertEqual(len(transitions(new.server.api)), n_before + 1)

    def test_cut_master_reads_nothing_stale(self):
        l = lab.Lab(3)
        with l:
            pool = pool_util.Pool(l)
            self.addCleanup(pool.close)
            pool.start()
            old = self.wait_master(pool)
            api = old.server.api
            pool_ref = api.pool.get_all()[0]
            api.pool.set_name_label(pool_ref, "before-cut")
            log, stop = [], threading.Event()
            t = threading.Thread(target=reader_inside, args=(old, old.server.session, pool_ref, log, stop),
                                 daemon=True)
            t.start()
            time.sleep(1.5)
            l.cut(old)
            t_cut = time.monotonic()  # the link is down by now
            others = [h for h in l.hosts if h is not old]
            new = self.wait_master(pool, others, 15)
            new.server.api.pool.set_name_label(pool_ref, "after-cut")
            t_ack = time.monotonic()
            end = t_ack + 10
            while time.monotonic() < end and len([e for e in log if e[0] >= t_ack]) < 5:
                time.sleep(0.1)
            stop.set()
            t.join(10)
            before = [e for e in log if e[1] < t_cut]
            self.assertGreater(len(before), 20, "the master answered reads before the cut")
            self.assertTrue(all(e[2] is None and e[3] == "before-cut" for e in before), before[-3:])
            served = [e for e in log if e[2] is None and e[0] >= t_cut]
            last = max((e[0] - t_cut for e in served), default=0)
            print("# after the cut: %d read(s) served, the last one started %.0f ms after it; "
                  "new master's write acknowledged %.0f ms after it"
                  % (len(served), last * 1000, (t_ack - t_cut) * 1000))
            # the default election timeout is 500 ms: the lease is 400 ms
            self.assertLess(last, 0.45, "no read is served once the lease is out")
            stale = [e for e in log if e[0] >= t_ack and e[2] is None and e[3] != "after-cut"]
            self.assertEqual(stale, [], "reads that missed an acknowledged write")
            refused = [e for e in log if e[0] >= t_cut + 0.45]
            self.assertTrue(refused and all(e[2] is not None for e in refused))
            l.heal(old)

    def test_member_writes_with_a_voter_down(self):
        l = lab.Lab(3)
        with l:
            for h in l.hosts:
                h.start()
            m, member, down = l.hosts
            api = m.server.api
            for h in (member, down):
                r = h.server.xe("pool-join", "master-address=" + m.address, "master-username=root",
                                "master-password=" + m.server.password)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # three voters: the members promoted from standbys
            end = time.monotonic() + 60
            while m.server.log_text().count("promoted to voter") < 2 and time.monotonic() < end:
                time.sleep(0.2)
            self.assertEqual(m.server.log_text().count("promoted to voter"), 2)
            mref = self.host_ref(api, member)

            def live():
                try:
                    return api.host_metrics.get_live(api.host.get_metrics(mref))
                except harness.XapiError:
                    return False
            end = time.monotonic() + 30
            while not live() and time.monotonic() < end:
                time.sleep(0.2)
            tpl = [v for v, rec in api.VM.get_all_records().items()
                   if rec["is_a_template"] and rec["name_label"] == "Other install media"][0]
            vm = api.VM.clone(tpl, "on-member")
            api.VM.provision(vm)
            down.server.kill9()
            pool_ref = api.pool.get_all()[0]
            stop, failures, writes = threading.Event(), [], [0]

            def writer():
                s = m.server.call("session.login_with_password", "root", m.server.password, "1.0", "w")
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        m.server.call("pool.set_name_description", s, pool_ref, "w%d" % i, timeout=10)
                        writes[0] += 1
                    except Exception as e:
                        failures.append(repr(e))

            t = threading.Thread(target=writer, daemon=True)
            t.start()
            t0 = time.monotonic()
            for _ in range(4):
                api.VM.start_on(vm, mref, False, False)
                self.assertEqual(api.VM.get_resident_on(vm), mref)
                api.VM.hard_shutdown(vm)
            took = time.monotonic() - t0
            stop.set()
            t.join(15)
            print("# 4 starts and shutdowns on the member in %.1f s while the master took %d writes"
                  % (took, writes[0]))
            self.assertEqual(failures, [])
            self.assertGreater(writes[0], 20)
            self.assertNotIn("this host no longer leads", m.server.log_text())
            self.assertLess(took, 30)

    def test_no_leader_reported(self):
        """One host of a configured pool of three started alone: no
        master, said plainly in its log, and HOST_IS_SLAVE with no address."""
        l = lab.Lab(3)
        with l:
            pool = pool_util.Pool(l)
            self.addCleanup(pool.close)
            t0 = time.monotonic()
            pool.start([l.hosts[0]])
            took = time.monotonic() - t0
            h = l.hosts[0]
            self.assertGreaterEqual(took, 9.5, "it waited for a leader")
            log = h.server.log_text()
            self.assertIn("pool: NO MASTER: no leader was elected within 10 s", log)
            self.assertIn("1@10.77.0.1:%d, 2@10.77.0.2:%d, 3@10.77.0.3:%d" % ((pool_util.RAFT_PORT,) * 3), log)
            self.assertEqual(pool_util.slave_error(h), ("HOST_IS_SLAVE", [""]))
            # the others come: a master is elected, and the first host follows it
            pool.start(l.hosts[1:])
            m = self.wait_master(pool)
            self.assertEqual(pool_util.slave_error([x for x in l.hosts if x is not m][0]),
                             ("HOST_IS_SLAVE", [m.address]))


if __name__ == "__main__":
    harness.main()
