"""/vm_rrd in a pool of two (lab.py, sim backend): a VM running on the
member is answered by the master with 302 to the member's address (path
and query kept, session included), and the member serves the VM's RRD
there (to its own credentials: sessions are per host); a member asked for a VM whose RRD it does not hold (a halted VM)
sends the client to the master with 302."""

import base64
import os
import sys
import time
import unittest
import urllib.parse

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


class MetricsPoolTest(unittest.TestCase):

    def test_vm_rrd_redirects_to_the_resident_host(self):
        with lab.Lab(2) as l:
            for h in l.hosts:
                h.start()
            h1, h2 = l.hosts
            a1 = h1.server.api
            r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + h1.server.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 2, 30, "h2 in the pool")
            h2ref = [ref for ref in a1.host.get_all() if a1.host.get_address(ref) == h2.address][0]
            wait_for(lambda: a1.host_metrics.get_live(a1.host.get_metrics(h2ref)), 30, "h2 live")
            tpl = [v for v, rec in a1.VM.get_all_records().items()
                   if rec["is_a_template"] and rec["name_label"] == "Other install media"][0]
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
            # followed (Basic auth on the member: its sessions are its own):
            # the member serves the VM's RRD once it has sampled it
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


if __name__ == "__main__":
    harness.main()
