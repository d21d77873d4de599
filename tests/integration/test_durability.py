"""Durability: every write acknowledged before a kill -9 is present after a
restart on the same data directory (DESIGN.md: "acknowledged writes survive
kill -9"). Several threads write in a loop (VM.set_name_label and
VM.add_to_other_config) while the test SIGKILLs xenond at a random moment;
each acknowledged write is recorded and checked after the restart."""

import http.client
import json
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

THREADS = 4
ROUNDS = 3


class Writer(threading.Thread):
    """Writes to one VM over its own keep-alive connection until the server
    goes away. acked_* hold what the server acknowledged; in_flight_* what
    was sent but not answered (it may or may not have been committed)."""

    def __init__(self, srv, session, vm, tag):
        super().__init__(daemon=True)
        self.port = srv.port
        self.session = session
        self.vm = vm
        self.tag = tag
        self.acked_label = None
        self.in_flight_label = None
        self.acked_keys = {}
        self.in_flight_key = None
        self.count = 0
        self.error = None

    def rpc(self, conn, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": [self.session] + list(params)}).encode()
        conn.request("POST", "/jsonrpc", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("HTTP %d" % r.status)
        env = json.loads(data)
        if "error" in env:
            raise harness.XapiError(env["error"]["message"], env["error"].get("data", []))
        return env["result"]

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        i = 0
        try:
            while True:
                i += 1
                label = "%s-label-%d" % (self.tag, i)
                self.in_flight_label = label
                self.rpc(conn, "VM.set_name_label", self.vm, label)
                self.acked_label, self.in_flight_label = label, None
                key = "%s-k%d" % (self.tag, i)
                self.in_flight_key = key
                self.rpc(conn, "VM.add_to_other_config", self.vm, key, str(i))
                self.acked_keys[key] = str(i)
                self.in_flight_key = None
                self.count += 1
        except (OSError, http.client.HTTPException):
            pass  # the server was killed
        except Exception as e:  # a XenAPI error is a test failure
            self.error = e
        finally:
            conn.close()


class Durability(unittest.TestCase):
    def setUp(self):
        self.srv = harness.Server()
        self.srv.start()

    def tearDown(self):
        self.srv.stop()

    def test_acknowledged_writes_survive_sigkill(self):
        srv = self.srv
        api = srv.api
        tpl = api.VM.get_by_name_label("Other install media")[0]
        vms = [api.VM.clone(tpl, "dur-%d" % t) for t in range(THREADS)]
        expected_labels = {vm: "dur-%d" % t for t, vm in enumerate(vms)}
        expected_keys = {vm: {} for vm in vms}
        rng = random.Random(int(os.environ.get("XENON_TEST_SEED", time.time())))
        total = 0
        for rnd in range(ROUNDS):
            session = srv.login()
            writers = [Writer(srv, session, vm, "r%dt%d" % (rnd, t)) for t, vm in enumerate(vms)]
            for w in writers:
                w.start()
            time.sleep(rng.uniform(0.3, 1.5))
            srv.kill9()
            for w in writers:
                w.join(15)
                self.assertFalse(w.is_alive(), "writer still running after the kill")
                self.assertIsNone(w.error, "writer got a XenAPI error: %r" % (w.error,))
                total += w.count
            srv.start()
            api = srv.api
            for w in writers:
                rec = api.VM.get_record(w.vm)
                # the label: the last acknowledged one, or the one in flight at the kill
                allowed = {w.acked_label, w.in_flight_label} - {None}
                if w.acked_label is None:  # nothing acknowledged this round
                    allowed.add(expected_labels[w.vm])
                self.assertIn(rec["name_label"], allowed,
                              "round %d: %s lost its acknowledged name_label (acked %r, in flight %r)"
                              % (rnd, w.tag, w.acked_label, w.in_flight_label))
                expected_labels[w.vm] = rec["name_label"]
                expected_keys[w.vm].update(w.acked_keys)
                oc = rec["other_config"]
                missing = {k: v for k, v in expected_keys[w.vm].items() if oc.get(k) != v}
                self.assertEqual(missing, {}, "round %d: acknowledged other_config writes lost (%d of %d)"
                                 % (rnd, len(missing), len(expected_keys[w.vm])))
                extra = {k for k in oc if k.startswith("r%dt" % rnd) and k not in expected_keys[w.vm]}
                self.assertLessEqual(extra, {w.in_flight_key} - {None},
                                     "keys that were never written appeared: %r" % extra)
                # an in-flight key that did commit is now durable too
                if w.in_flight_key in oc:
                    expected_keys[w.vm][w.in_flight_key] = oc[w.in_flight_key]
            # the store is consistent and writable after the restart
            for vm in vms:
                self.assertEqual(api.VM.get_record(vm), api.VM.get_all_records()[vm])
            api.VM.set_name_description(vms[0], "after round %d" % rnd)
            self.assertEqual(api.VM.get_name_description(vms[0]), "after round %d" % rnd)
        self.assertGreater(total, 20, "too few writes acknowledged to mean anything (%d)" % total)
        sys.stderr.write("\n[durability] %d acknowledged write pairs over %d kills\n" % (total, ROUNDS))

    def test_created_and_destroyed_objects_survive(self):
        srv = self.srv
        api = srv.api
        tpl = api.VM.get_by_name_label("Other install media")[0]
        keep = api.VM.clone(tpl, "dur-keep")
        gone = api.VM.clone(tpl, "dur-gone")
        api.VM.destroy(gone)
        task = srv.call("Async.VM.clone", srv.session, tpl, "dur-async")
        deadline = time.monotonic() + 10
        while api.task.get_status(task) == "pending" and time.monotonic() < deadline:
            time.sleep(0.02)
        result = api.task.get_result(task)
        pool = api.pool.get_all()[0]
        api.pool.add_to_other_config(pool, "dur", "yes")
        srv.kill9()
        srv.start()
        api = srv.api
        self.assertEqual(api.VM.get_name_label(keep), "dur-keep")
        self.assertXapiErrorCode("HANDLE_INVALID", api.VM.get_record, gone)
        self.assertEqual(api.pool.get_other_config(pool).get("dur"), "yes")
        vm = result[len("<value>"):-len("</value>")]
        self.assertEqual(api.VM.get_name_label(vm), "dur-async")
        # same root password, same pool, same host
        self.assertEqual(api.pool.get_all(), [pool])

    def test_restart_keeps_identity(self):
        api = self.srv.api
        before = {c: sorted(self.srv.call(c + ".get_all", self.srv.session))
                  for c in ("pool", "host", "SR", "PBD", "network", "PIF", "SM", "host_metrics", "host_cpu")}
        vms_before = sorted(api.VM.get_all())
        self.srv.stop()
        self.srv.start()
        after = {c: sorted(self.srv.call(c + ".get_all", self.srv.session)) for c in before}
        self.assertEqual(after, before, "a restart must not create a second pool/host/SR/...")
        self.assertEqual(sorted(self.srv.api.VM.get_all()), vms_before, "templates duplicated on restart?")

    def assertXapiErrorCode(self, code, fn, *args):
        try:
            fn(*args)
        except harness.XapiError as e:
            self.assertEqual(e.code, code)
            return
        self.fail("expected %s" % code)


if __name__ == "__main__":
    harness.main()
