"""Metrics in a pool of two (lab.py, sim backend).

/vm_rrd: a VM running on the member is answered by the master with 302 to
the member's address (path and query kept, session included), and the
member serves the VM's RRD there; a member asked for a VM whose RRD it
does not hold (a halted VM) sends the client to the master with 302.

Where a VM's RRD lives, as xapi keeps it: halted on a member, it is
archived on the master, which answers /vm_rrd and /rrd_updates for it
with the rows recorded while it ran; started on any host, its history
goes on there; migrated, its rows go with it; destroyed, its archive
goes.

Sessions: one made by logging in to the master opens the member's HTTP
handlers (/rrd_updates, /host_rrd, /metrics), by query or cookie, with the
roles it was given (a read-only user's is enough for them); a made-up or
logged-out one gets 401."""

import base64
import json
import math
import os
import sys
import time
import unittest
import urllib.parse
import uuid as uuid_mod

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lab  # noqa: E402


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
            if v:
                return v
        except (harness.XapiError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError("timed out waiting for " + what)


def get(server, path, headers=None, **q):
    c = server.connection()
    try:
        c.request("GET", path + "?" + urllib.parse.urlencode(q), headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def vm_rows(server, uuid, sid, ds="memory"):
    """The rows of /rrd_updates (5-s archive, last 10 minutes) of one data
    source of VM uuid on server: {t: value} of the known values, {} when
    the host has no RRD of it."""
    status, _, body = get(server, "/rrd_updates", start=int(time.time()) - 600, cf="AVERAGE", interval=5,
                          json="true", vm_uuid=uuid, session_id=sid)
    if status != 200:
        return {}
    x = json.loads(body)
    name = "AVERAGE:vm:%s:%s" % (uuid, ds)
    if name not in x["meta"]["legend"]:
        return {}
    col = x["meta"]["legend"].index(name)
    out = {}
    for row in x["data"]:
        v = float(row["values"][col])
        if not math.isnan(v):
            out[row["t"]] = v
    return out


def holds(rows, older):
    """rows has every row of older, with the same value."""
    return all(t in rows and abs(rows[t] - v) <= 1e-6 * max(1.0, abs(v)) for t, v in older.items())


class MetricsPoolTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.lab = l = lab.Lab(2).make()
        h1, h2 = l.hosts
        # a read-only user of the master's
        with open(os.path.join(h1.data_dir, "users"), "w") as f:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt
            f.write("watcher:%s:read-only\n" % crypt.crypt("watch-pw", crypt.mksalt(crypt.METHOD_SHA512)))
        for h in l.hosts:
            h.start()
        a1 = h1.server.api
        r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                         "master-password=" + h1.server.password)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_for(lambda: len(a1.host.get_all()) == 2, 30, "h2 in the pool")
        cls.ref = {h.address: [x for x in a1.host.get_all() if a1.host.get_address(x) == h.address][0]
                   for h in l.hosts}
        wait_for(lambda: all(a1.host_metrics.get_live(a1.host.get_metrics(x)) for x in cls.ref.values()), 30,
                 "both hosts live")
        cls.tpl = [v for v, rec in a1.VM.get_all_records().items()
                   if rec["is_a_template"] and rec["name_label"] == "Other install media"][0]

    @classmethod
    def tearDownClass(cls):
        cls.lab.close()

    def new_vm(self, name):
        a1 = self.lab.hosts[0].server.api
        vm = a1.VM.clone(self.tpl, name)
        a1.VM.provision(vm)
        return vm

    def test_vm_rrd_redirects_to_the_resident_host(self):
        h1, h2 = self.lab.hosts
        a1 = h1.server.api
        h2ref = self.ref[h2.address]
        tpl = self.tpl
        vm = a1.VM.clone(tpl, "on-h2")
        a1.VM.provision(vm)
        a1.VM.start_on(vm, h2ref, False, False)
        self.assertEqual(a1.VM.get_resident_on(vm), h2ref)
        uuid = a1.VM.get_uuid(vm)
        sid = h1.server.session
        # the master: 302 to the member, the query kept
        status, hdrs, _ = get(h1.server, "/vm_rrd", uuid=uuid, session_id=sid, json="true")
        self.assertEqual(status, 302)
        loc = urllib.parse.urlsplit(hdrs["Location"])
        self.assertEqual(loc.hostname, h2.address)
        self.assertEqual(loc.port, h2.port)
        self.assertEqual(loc.path, "/vm_rrd")
        self.assertEqual(urllib.parse.parse_qs(loc.query),
                         {"uuid": [uuid], "session_id": [sid], "json": ["true"]})
        self.assertEqual(hdrs.get("Access-Control-Allow-Origin"), "*")
        # followed (here with Basic auth on the member): the member
        # serves the VM's RRD once it has sampled it
        q = {k: v[0] for k, v in urllib.parse.parse_qs(loc.query).items() if k != "session_id"}
        auth = "Basic " + base64.b64encode(("root:" + h2.server.password).encode()).decode()
        seen = []

        def served():
            c = h2.server.connection()
            try:
                c.request("GET", loc.path + "?" + urllib.parse.urlencode(q), headers={"Authorization": auth})
                r = c.getresponse()
                body = r.read()
            finally:
                c.close()
            seen.append((r.status, body[:200]))
            return r.status == 200 and b'cpu0' in body and body
        try:
            wait_for(served, 20, "the VM's RRD on h2")
        except AssertionError:
            raise AssertionError("the VM's RRD on h2: %r" % seen[-1:])
        # the master has no RRD of it: 404 there when asked for a VM it
        # does not know at all, no redirect
        status, _, _ = get(h1.server, "/vm_rrd", uuid="00000000-0000-0000-0000-000000000000",
                           session_id=sid)
        self.assertEqual(status, 404)
        # a halted VM the member never ran: the member sends the client to the master
        idle = a1.VM.clone(tpl, "halted")
        status, hdrs, _ = get(h2.server, "/vm_rrd", headers={"Authorization": auth}, uuid=a1.VM.get_uuid(idle))
        self.assertEqual(status, 302)
        self.assertEqual(urllib.parse.urlsplit(hdrs["Location"]).hostname, h1.address)
        a1.VM.hard_shutdown(vm)


    def test_vm_rrd_archived_on_the_master_and_following_the_vm(self):
        h1, h2 = self.lab.hosts
        a1 = h1.server.api
        sid = h1.server.session  # the master's: the member takes it too
        vm = self.new_vm("archived")
        uuid = a1.VM.get_uuid(vm)
        # runs on the member: its rows there
        a1.VM.start_on(vm, self.ref[h2.address], False, False)
        ran = wait_for(lambda: (lambda r: len(r) >= 3 and r)(vm_rows(h2.server, uuid, sid)), 40,
                       "three rows of the VM on h2")
        self.assertEqual(vm_rows(h1.server, uuid, sid), {}, "the master holds no RRD of a VM running elsewhere")
        # halted there: archived on the master, with the rows it recorded
        a1.VM.hard_shutdown(vm)
        wait_for(lambda: holds(vm_rows(h1.server, uuid, sid), ran), 30, "the archive on the master")
        wait_for(lambda: get(h2.server, "/vm_rrd", uuid=uuid, session_id=sid)[0] == 302, 10,
                 "the member to let go of it")
        status, hdrs, _ = get(h2.server, "/vm_rrd", uuid=uuid, session_id=sid)
        self.assertEqual(urllib.parse.urlsplit(hdrs["Location"]).hostname, h1.address)
        status, _, body = get(h1.server, "/vm_rrd", uuid=uuid, session_id=sid, json="true")
        self.assertEqual(status, 200, body[:200])
        dump = json.loads(body)
        names = [d["name"] for d in dump["ds"]]
        self.assertIn("memory", names)
        finest = [r for r in dump["rra"] if r["cf"] == "AVERAGE" and int(r["pdp_per_row"]) == 1][0]
        col = names.index("memory")
        known = [row for row in finest["database"] if not math.isnan(float(row[col]))]
        self.assertGreaterEqual(len(known), len(ran))
        # started on the master: the history goes on there
        began = time.time()
        a1.VM.start_on(vm, self.ref[h1.address], False, False)
        on_h1 = wait_for(lambda: (lambda r: holds(r, ran) and max(r) > began + 5 and r)(vm_rows(h1.server, uuid, sid)),
                         30, "new rows after the old ones on h1")
        # migrated to the member: every row goes with it
        a1.VM.pool_migrate(vm, self.ref[h2.address], {"live": "true"})
        self.assertEqual(a1.VM.get_resident_on(vm), self.ref[h2.address])
        on_h2 = wait_for(lambda: (lambda r: holds(r, on_h1) and max(r) > max(on_h1) and r)(vm_rows(h2.server, uuid, sid)),
                         30, "the rows of both runs on h2")
        wait_for(lambda: get(h1.server, "/vm_rrd", uuid=uuid, session_id=sid)[0] == 302, 10,
                 "the master to send /vm_rrd to h2")
        # halted and started again on the member: the master hands the
        # archive back, the history goes on there
        a1.VM.hard_shutdown(vm)
        wait_for(lambda: holds(vm_rows(h1.server, uuid, sid), on_h2), 30, "the second archive on the master")
        began = time.time()
        a1.VM.start_on(vm, self.ref[h2.address], False, False)
        wait_for(lambda: (lambda r: holds(r, on_h2) and max(r) > began + 5)(vm_rows(h2.server, uuid, sid)), 30,
                 "the whole history and new rows on h2")
        wait_for(lambda: vm_rows(h1.server, uuid, sid) == {}, 10, "the master to let go of it")
        # destroyed once archived: its archive goes with it
        a1.VM.hard_shutdown(vm)
        wait_for(lambda: get(h1.server, "/vm_rrd", uuid=uuid, session_id=sid)[0] == 200, 30, "the third archive")
        a1.VM.destroy(vm)
        self.assertEqual(get(h1.server, "/vm_rrd", uuid=uuid, session_id=sid)[0], 404)
        self.assertEqual(vm_rows(h1.server, uuid, sid), {})

    def test_master_session_on_member_handlers(self):
        h1, h2 = self.lab.hosts
        sid = h1.server.session
        start = int(time.time()) - 60
        # by query, then by cookie
        status, _, body = wait_for(
            lambda: (lambda r: r[0] == 200 and r)(get(h2.server, "/rrd_updates", start=start, host="true",
                                                      json="true", session_id=sid)),
            20, "the member's host RRD")
        legend = json.loads(body)["meta"]["legend"]
        h2uuid = h1.server.api.host.get_uuid(self.ref[h2.address])
        self.assertIn("AVERAGE:host:%s:memory_total_kib" % h2uuid, legend)
        status, _, body = get(h2.server, "/host_rrd", headers={"Cookie": "session_id=" + sid})
        self.assertEqual(status, 200, body[:200])
        self.assertIn(b"<rrd>", body)
        status, _, body = get(h2.server, "/metrics", session_id=sid)
        self.assertEqual(status, 200, body[:200])
        self.assertIn(b"# TYPE xenond_api_calls_total counter", body)
        # a read-only user's session of the master's: enough for them
        ro = h1.server.login("watcher", "watch-pw")
        for path, q in (("/rrd_updates", {"start": start, "host": "true"}), ("/host_rrd", {})):
            status, _, body = get(h2.server, path, session_id=ro, **q)
            self.assertEqual(status, 200, (path, body[:200]))
        # made up: 401, by query and by cookie
        bogus = "OpaqueRef:" + str(uuid_mod.uuid4())
        for path in ("/rrd_updates", "/host_rrd", "/metrics"):
            status, _, _ = get(h2.server, path, start=start, session_id=bogus)
            self.assertEqual(status, 401, path)
        status, _, _ = get(h2.server, "/host_rrd", headers={"Cookie": "session_id=" + bogus})
        self.assertEqual(status, 401)
        # logged out on the master: refused on the member once it knows
        h1.server.call("session.logout", ro)
        wait_for(lambda: get(h2.server, "/host_rrd", session_id=ro)[0] == 401, 10, "the logged-out session refused")


if __name__ == "__main__":
    harness.main()
