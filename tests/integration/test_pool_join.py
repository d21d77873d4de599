"""pool.join and pool.eject in the lab (lab.py): four standalone hosts;
every pre-join refusal leaves both sides as they were; h2 and h3 join h1
with `xe pool-join` and restart as members (their records, a halted VM
among them, merged into the pool; the same host records in every host's
SQLite); `xe host-list` on the master shows them all, `xe -s <slave>`
reports HOST_IS_SLAVE with the master's address; the master's heartbeats
keep host_metrics.live; a shared SR gets a PBD for a host joining later
(h4); the master cannot be ejected; h3 is ejected and comes back as a
fresh pool of one. pool.rotate_secret on a pool of three, and host.destroy
(xe host-forget) of a member that died."""

import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import lab
from pool_util import LabNfs


def stored(h, cls):
    """{ref: row} of a class in the host's SQLite, read while it runs."""
    con = sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5)
    try:
        rows = con.execute("SELECT ref, data FROM objects WHERE class = ?", (cls,)).fetchall()
    finally:
        con.close()
    return {r: json.loads(d) for r, d in rows}


TLS_PORT = 8443
class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = pred()
            if last:
                return last
        except (harness.XapiError, OSError, sqlite3.Error) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def pool_files(h):
    return sorted(f for f in ("pool.conf", "pool-host", "pool-reset") if os.path.exists(os.path.join(h.data_dir, f)))


class PoolJoinTest(unittest.TestCase):
    def assertError(self, code, fn, *args):
        with self.assertRaises(harness.XapiError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.code, code, cm.exception.params)
        return list(cm.exception.params)

    def assertStandalone(self, h):
        api = h.server.api
        self.assertEqual(len(api.host.get_all()), 1, h.name)
        self.assertEqual(pool_files(h), [], h.name)

    def test_join_eject(self):
        l = lab.Lab(4)
        with l:
            for h in l.hosts:  # TLS listeners: the hosts of the pool talk TLS to each other
                h.start(extra_args=["--tls-listen", "%s:%d" % (h.address, TLS_PORT)])
            nfs = LabNfs(tempfile.mkdtemp(prefix="xenon-lab-nfs-"))
            self.addCleanup(shutil.rmtree, nfs.base, True)
            self.addCleanup(nfs.stop)
            nfs.start()
            h1, h2, h3, h4 = l.hosts
            m = h1.server
            a1, a2 = m.api, h2.server.api
            master_ref = a1.host.get_all()[0]
            self.assertEqual(a1.host.get_address(master_ref), h1.address)

            # ---- refusals: each the xapi error, nothing made on either side ----
            join = lambda h, addr, pw: h.server.api.pool.join(addr, "root", pw)
            self.assertError("JOINING_HOST_CONNECTION_FAILED", join, h2, lab.SUBNET + ".254", m.password)
            # a web server that is no XenAPI
            web = http.server.HTTPServer((lab.SUBNET + ".254", 8081), QuietHandler)
            threading.Thread(target=web.serve_forever, daemon=True).start()
            self.addCleanup(web.server_close)
            self.addCleanup(web.shutdown)
            self.assertError("JOINING_HOST_SERVICE_FAILED", join, h2, lab.SUBNET + ".254:8081", m.password)
            self.assertError("SESSION_AUTHENTICATION_FAILED", join, h2, h1.address, "wrong-password")
            params = self.assertError("OPERATION_NOT_ALLOWED", join, h2, h2.address, h2.server.password)
            self.assertIn("itself", params[0])
            # a running VM on the joiner
            tpl = [v for v in a2.VM.get_all() if a2.VM.get_is_a_template(v)][0]
            tpl_name = a2.VM.get_name_label(tpl)
            vm = a2.VM.clone(tpl, "web1")
            a2.VM.provision(vm)
            sr2 = a2.pool.get_default_SR(a2.pool.get_all()[0])
            vdi = a2.VDI.create({"name_label": "web1-disk", "name_description": "", "SR": sr2,
                                 "virtual_size": str(harness.MiB), "type": "user", "sharable": False,
                                 "read_only": False, "other_config": {}, "xenstore_data": {}, "sm_config": {},
                                 "tags": []})
            a2.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                           "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
                           "qos_algorithm_type": "", "qos_algorithm_params": {}})
            a2.VM.start(vm, False, False)
            self.assertError("JOINING_HOST_CANNOT_HAVE_RUNNING_VMS", join, h2, h1.address, m.password)
            a2.VM.hard_shutdown(vm)
            # a shared SR on the joiner
            a3 = h3.server.api
            sr = a3.SR.create(a3.host.get_all()[0], {"path": os.path.join(h3.data_dir, "shared-sr")}, 0,
                              "shared", "", "file", "user", True, {})
            self.assertError("JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS", join, h3, h1.address, m.password)
            for pbd in a3.SR.get_PBDs(sr):
                a3.PBD.unplug(pbd)
            a3.SR.forget(sr)
            # a VLAN on the joiner that is not its management interface
            mgmt = [p for p in a3.PIF.get_all() if a3.PIF.get_management(p)][0]
            vnet = a3.network.create({"name_label": "v100", "name_description": "", "MTU": 1500,
                                      "other_config": {}, "bridge": "", "managed": True, "tags": []})
            vlan = a3.VLAN.create(mgmt, 100, vnet)
            nets_before = sorted(a1.network.get_all())
            self.assertError("POOL_JOINING_HOST_HAS_NON_MANAGEMENT_VLANS", join, h3, h1.address, m.password)
            self.assertEqual(sorted(a1.network.get_all()), nets_before, "nothing merged into the pool")
            a3.VLAN.destroy(vlan)
            a3.network.destroy(vnet)
            # the master's side joining someone: it is not a pool member yet
            for h in (h1, h2, h3):
                self.assertStandalone(h)

            # an internal network on the master and one on the joiner with the same
            # bridge name: both stay, each with a bridge of its own
            internal = {}
            for name, api in (("int-master", a1), ("int-joiner", a2)):
                n = api.network.create({"name_label": name, "name_description": "", "MTU": 1500,
                                        "other_config": {}, "bridge": "", "managed": True, "tags": []})
                internal[name] = api.network.get_bridge(n)
            self.assertEqual(internal["int-master"], internal["int-joiner"], internal)

            # ---- joins with xe ----
            t0 = time.monotonic()
            r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + m.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 2, 30, "h2 in the pool")
            r = h3.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + m.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 3, 30, "h3 in the pool")
            print("# two joins (xe pool-join to 3 hosts in the pool's records): %.1f s" % (time.monotonic() - t0))

            # the master of others cannot join another pool
            self.assertError("JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS", a1.pool.join, h4.address, "root",
                             h4.server.password)
            self.assertStandalone(h4)
            # the members restarted as slaves: HOST_IS_SLAVE with the master's address
            def slave_err(h):
                try:
                    h.server.login()
                except harness.XapiError as e:
                    return (e.code, list(e.params))
                return None
            for h in (h2, h3):
                self.assertEqual(wait_for(lambda h=h: slave_err(h), 60, "%s a slave" % h.name),
                                 ("HOST_IS_SLAVE", [h1.address]))
            r = h2.server.xe("vm-list", password=m.password)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(h1.address, r.stdout + r.stderr)
            self.assertIn("slave", (r.stdout + r.stderr).lower())

            # host records: addresses, the master, the merged VM
            hosts = a1.host.get_all_records()
            by_addr = {rec["address"]: ref for ref, rec in hosts.items()}
            self.assertEqual(sorted(by_addr), sorted([h1.address, h2.address, h3.address]))
            pool = a1.pool.get_all()[0]
            self.assertEqual(a1.pool.get_master(pool), by_addr[h1.address])
            self.assertIn("web1", [a1.VM.get_name_label(v) for v in a1.VM.get_all()])
            for ref in hosts:
                self.assertEqual(len(a1.host.get_PIFs(ref)), len(hosts[ref]["PIFs"]))
                self.assertTrue(hosts[ref]["PIFs"], "PIFs of %s" % hosts[ref]["address"])
            # the joiners' management networks merged by bridge: one network
            bridges = [a1.network.get_bridge(n) for n in a1.network.get_all()]
            self.assertEqual(len(bridges), len(set(bridges)), bridges)
            mgmt_nets = {a1.PIF.get_network(p) for p in a1.PIF.get_all() if a1.PIF.get_management(p)}
            self.assertEqual(len(mgmt_nets), 1, "one management network for the pool's hosts")
            labels = [a1.network.get_name_label(n) for n in a1.network.get_all()]
            self.assertIn("int-master", labels)
            self.assertIn("int-joiner", labels, "the joiner's internal network is not merged away")
            # control domains: one per host
            doms = [v for v in a1.VM.get_all() if a1.VM.get_is_control_domain(v)]
            self.assertEqual(sorted(a1.VM.get_resident_on(d) for d in doms), sorted(hosts))
            out = m.xe("host-list", "params=address", minimal=True)
            self.assertEqual(sorted(out.stdout.strip().split(",")), sorted(by_addr))
            tpl_master = [v for v in a1.VM.get_all() if a1.VM.get_is_a_template(v)
                          and a1.VM.get_name_label(v) == tpl_name][0]
            # liveness from the master's heartbeats
            wait_for(lambda: all(a1.host_metrics.get_live(a1.host.get_metrics(h)) for h in hosts), 20,
                     "every host live")

            # certificates exchanged on join: every host has the others' (TLS between them)
            uuid_of = {a1.host.get_address(ref): a1.host.get_uuid(ref) for ref in hosts}
            for h in (h1, h2, h3):
                others = {uuid_of[x.address] + ".pem" for x in (h1, h2, h3) if x is not h}
                wait_for(lambda h=h, others=others: others <= set(os.listdir(os.path.join(h.data_dir, "pool-certs"))),
                         10, "certificates on %s" % h.name)
            # verified: a host whose key is not the one exchanged is not talked to
            certs = os.path.join(h1.data_dir, "pool-certs")
            h3cert = os.path.join(certs, uuid_of[h3.address] + ".pem")
            with open(h3cert) as f:
                good = f.read()
            with open(os.path.join(certs, uuid_of[h2.address] + ".pem")) as f:
                wrong = f.read()
            with open(h3cert, "w") as f:
                f.write(wrong)
            wait_for(lambda: not a1.host_metrics.get_live(a1.host.get_metrics(by_addr[h3.address])), 20,
                     "h3 not live with a wrong key")
            self.assertError("HOST_OFFLINE", a1.host.get_servertime, by_addr[h3.address])
            with open(h3cert, "w") as f:
                f.write(good)
            # nor can a client replace a member's key
            self.assertError("OPERATION_NOT_ALLOWED", a1.pool.exchange_certificates_on_join, uuid_of[h3.address],
                             wrong)
            with open(h3cert) as f:
                self.assertEqual(f.read(), good)
            wait_for(lambda: a1.host_metrics.get_live(a1.host.get_metrics(by_addr[h3.address])), 20,
                     "h3 live again")
            # the same records in every host's store
            classes = ("host", "host_cpu", "PIF", "network", "SR", "PBD", "VDI", "VM", "VBD", "pool")

            def same_records():
                ref = {c: stored(h1, c) for c in classes}
                return len(ref["host"]) == 3 and all(stored(h, c) == ref[c] for h in (h2, h3) for c in classes)
            wait_for(same_records, 20, "equal records on all hosts")

            # a write through the master reaches the members
            a1.pool.set_name_label(pool, "joined")
            wait_for(lambda: all(list(stored(h, "pool").values())[0]["name_label"] == "joined"
                                 for h in (h2, h3)), 10, "the pool's name on every member")

            # ---- where calls run: placement and forwarding ----
            web1 = [v for v in a1.VM.get_all() if a1.VM.get_name_label(v) == "web1"][0]
            h2ref, h3ref = by_addr[h2.address], by_addr[h3.address]
            # its disks are on h2's local SR: only h2 can boot it
            self.assertEqual(a1.VM.get_possible_hosts(web1), [h2ref])
            params = self.assertError("VM_REQUIRES_SR", a1.VM.assert_can_boot_here, web1, by_addr[h1.address])
            self.assertEqual(params[0], web1)
            self.assertError("VM_REQUIRES_SR", a1.VM.start_on, web1, h3ref, False, False)
            a1.VM.start(web1, False, False)  # placed on h2, run by h2's xenond
            self.assertEqual(a1.VM.get_power_state(web1), "Running")
            self.assertEqual(a1.VM.get_resident_on(web1), h2ref)
            # a VM without disks: anywhere; xe vm-start on=<host> through the master
            free = a1.VM.clone(tpl_master, "free1")
            a1.VM.set_is_a_template(free, False)
            self.assertEqual(sorted(a1.VM.get_possible_hosts(free)), sorted(hosts))
            r = m.xe("vm-start", "uuid=" + a1.VM.get_uuid(free), "on=" + a1.host.get_uuid(h3ref))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(a1.VM.get_resident_on(free), h3ref)
            # an Async call forwarded: the caller's task on the master ends with the host's error
            task = a1.Async.VM.start_on(free, h3ref, False, False)
            wait_for(lambda: a1.task.get_status(task) != "pending", 20, "the forwarded task")
            self.assertEqual(a1.task.get_status(task), "failure")
            self.assertEqual(a1.task.get_error_info(task)[0], "VM_BAD_POWER_STATE")
            # calls on a VM resident elsewhere go to its host
            a1.VM.hard_shutdown(free)
            self.assertEqual(a1.VM.get_power_state(free), "Halted")
            # the slaves' stores hold the same
            wait_for(lambda: stored(h2, "VM")[web1]["power_state"] == "Running"
                     and stored(h3, "VM")[free]["power_state"] == "Halted", 10, "VM states on the members")
            # host.* for another host runs there
            self.assertIsInstance(a1.host.get_servertime(h3ref), str)
            # a member restarted: its log and store again, still a slave, still running web1
            h2.server.stop()
            wait_for(lambda: not a1.host_metrics.get_live(a1.host.get_metrics(h2ref)), 20, "h2 not live")
            h2.start()
            wait_for(lambda: a1.host_metrics.get_live(a1.host.get_metrics(h2ref)), 60, "h2 live again")
            self.assertEqual(slave_err(h2), ("HOST_IS_SLAVE", [h1.address]))
            self.assertEqual(a1.VM.get_power_state(web1), "Running")
            self.assertEqual(a1.host.get_servertime(h2ref)[:4], a1.host.get_servertime(h3ref)[:4])

            # ---- a shared SR: a PBD plugged on every host, and on a host joining later ----
            nsr = a1.SR.create(by_addr[h1.address], nfs.device_config(), "0", "nfs-shared", "", "nfs", "",
                               True, {})
            self.assertTrue(a1.SR.get_shared(nsr))
            pbds = a1.SR.get_PBDs(nsr)
            self.assertEqual(sorted(a1.PBD.get_host(p) for p in pbds), sorted(hosts))
            for p in pbds:
                self.assertTrue(a1.PBD.get_currently_attached(p), a1.PBD.get_host(p))
                self.assertEqual(a1.PBD.get_device_config(p), nfs.device_config())
            # ---- a pool-wide VLAN: on every host; a host joining later gets it with xe vlan-create ----
            vnet = a1.network.create({"name_label": "pool-v100", "name_description": "", "MTU": 1500,
                                      "other_config": {}, "bridge": "", "managed": True, "tags": []})
            m_mgmt = [p for p in a1.PIF.get_all() if a1.PIF.get_management(p)
                      and a1.PIF.get_host(p) == by_addr[h1.address]][0]
            a1.pool.create_VLAN_from_PIF(m_mgmt, vnet, 100)
            self.assertEqual(sorted(a1.PIF.get_host(p) for p in a1.network.get_PIFs(vnet)), sorted(hosts))
            # a host joining later gets a PBD of its own, plugged once it is a member
            r = h4.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + m.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 4, 30, "h4 in the pool")
            h4ref = [ref for ref in a1.host.get_all() if a1.host.get_address(ref) == h4.address][0]
            pbds = [p for p in a1.SR.get_PBDs(nsr) if a1.PBD.get_host(p) == h4ref]
            self.assertEqual(len(pbds), 1)
            self.assertEqual(a1.PBD.get_device_config(pbds[0]), nfs.device_config())
            wait_for(lambda: a1.PBD.get_currently_attached(pbds[0]), 60, "h4's PBD plugged")
            self.assertNotIn(h4ref, [a1.PIF.get_host(p) for p in a1.network.get_PIFs(vnet)])
            h4_mgmt = [p for p in a1.PIF.get_all() if a1.PIF.get_management(p) and a1.PIF.get_host(p) == h4ref][0]
            args = ("vlan-create", "pif-uuid=" + a1.PIF.get_uuid(h4_mgmt), "vlan=100",
                    "network-uuid=" + a1.network.get_uuid(vnet))
            r = m.xe(*args)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(sorted(a1.PIF.get_host(p) for p in a1.network.get_PIFs(vnet)),
                             sorted(list(hosts) + [h4ref]))
            self.assertEqual({a1.PIF.get_VLAN(p) for p in a1.network.get_PIFs(vnet)}, {100})
            r = m.xe(*args)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("PIF_VLAN_EXISTS", r.stdout + r.stderr)
            self.assertEqual(len(a1.network.get_PIFs(vnet)), 4, "nothing half-made")
            # pool.management_reconfigure: every host needs a configured PIF on the network,
            # checked before any host moves; on the management network it runs on every host
            int_master = [n for n in a1.network.get_all() if a1.network.get_name_label(n) == "int-master"][0]
            params = self.assertError("PIF_NOT_PRESENT", a1.pool.management_reconfigure, int_master)
            self.assertEqual(params[1], int_master)
            params = self.assertError("PIF_HAS_NO_NETWORK_CONFIGURATION", a1.pool.management_reconfigure, vnet)
            self.assertIn(params[0], a1.network.get_PIFs(vnet))
            mnet = a1.PIF.get_network(m_mgmt)
            a1.pool.management_reconfigure(mnet)
            for ref in a1.host.get_all():
                mg = [p for p in a1.PIF.get_all() if a1.PIF.get_host(p) == ref and a1.PIF.get_management(p)]
                self.assertEqual([a1.PIF.get_network(p) for p in mg], [mnet])
            h4sr = [sr for sr in a1.SR.get_all() if a1.SR.get_type(sr) == "ext"
                    and a1.PBD.get_host(a1.SR.get_PBDs(sr)[0]) == h4ref][0]
            h4disk = a1.VDI.create({"name_label": "h4-disk", "name_description": "", "SR": h4sr,
                                    "virtual_size": str(harness.MiB), "type": "user", "sharable": False,
                                    "read_only": False, "other_config": {}, "xenstore_data": {},
                                    "sm_config": {}, "tags": []})
            # made by h4's xenond, in its local SR's directory
            h4dir = os.path.join(h4.data_dir, "sr", a1.SR.get_uuid(h4sr))
            self.assertTrue(any(a1.VDI.get_uuid(h4disk) in f for f in os.listdir(h4dir)), os.listdir(h4dir))
            # Raft: the first two members promoted to voters (3 voters), the fourth host a standby
            ids = {a1.host.get_address(ref): a1.host.get_other_config(ref).get("pool_member_id")
                   for ref in a1.host.get_all()}
            self.assertEqual(sorted(v for v in ids.values() if v), ["2", "3", "4"])
            wait_for(lambda: all("standby %s promoted to voter" % ids[h.address] in m.log_text() for h in (h2, h3)),
                     30, "two members promoted to voters")
            time.sleep(1)
            self.assertNotIn("standby %s promoted to voter" % ids[h4.address], m.log_text())

            # ---- eject ----
            params = self.assertError("OPERATION_NOT_ALLOWED", a1.pool.eject, by_addr[h1.address])
            params = self.assertError("OPERATION_NOT_ALLOWED", a1.pool.eject, h2ref)  # web1 runs there
            self.assertEqual(params, ["VM resident on host"])
            a1.VM.hard_shutdown(web1)
            self.assertEqual(a1.VM.get_power_state(web1), "Halted")
            h3ref = by_addr[h3.address]
            h3uuid = a1.host.get_uuid(h3ref)
            r = m.xe("pool-eject", "host-uuid=" + h3uuid)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn(h3ref, a1.host.get_all())
            self.assertEqual(len(a1.host.get_all()), 3)

            def standalone_again():
                try:
                    s = h3.server.login()
                except harness.XapiError:
                    return False
                h3.server._session = s
                return True
            wait_for(standalone_again, 60, "h3 a pool of one")
            self.assertStandalone(h3)
            self.assertNotEqual(a3.host.get_uuid(a3.host.get_all()[0]), h3uuid)
            # the pool still writes with h3 gone
            a1.pool.set_name_label(pool, "after-eject")
            self.assertEqual(a1.pool.get_name_label(pool), "after-eject")

            # ---- a host that is gone: HOST_NOT_LIVE, HOST_OFFLINE ----
            h4.server.kill9()
            wait_for(lambda: not a1.host_metrics.get_live(a1.host.get_metrics(h4ref)), 20, "h4 not live")
            self.assertError("HOST_NOT_LIVE", a1.VM.assert_can_boot_here, free, h4ref)
            self.assertNotIn(h4ref, a1.VM.get_possible_hosts(free))
            self.assertEqual(self.assertError("HOST_OFFLINE", a1.VM.start_on, free, h4ref, False, False), [h4ref])
            # a VM no live host can run: a disk on the local SR of h4, which is gone
            a1.VBD.create({"VM": free, "VDI": h4disk, "userdevice": "1", "bootable": False, "mode": "RW",
                           "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
                           "qos_algorithm_type": "", "qos_algorithm_params": {}})
            self.assertEqual(a1.VM.get_possible_hosts(free), [])
            self.assertError("NO_HOSTS_AVAILABLE", a1.VM.start, free, False, False)
            # a host that is gone cannot be ejected (it must reset itself): it stays a member
            self.assertEqual(self.assertError("HOST_OFFLINE", a1.pool.eject, h4ref), [h4ref])
            self.assertIn(h4ref, a1.host.get_all())
            self.assertEqual(len(a1.SR.get_PBDs(h4sr)), 1)
            a1.pool.set_name_label(pool, "still-writing")
            self.assertEqual(a1.VM.get_power_state(free), "Halted")

    def test_rotate_secret_and_forget(self):
        """pool.rotate_secret on a pool of three: every host has the new
        secret, the old one opens nothing, a call forwarded to a member and
        the member's own writes still work. host.destroy (xe host-forget):
        refused for live hosts and for one with a resident VM; a member
        killed and forgotten loses its records and its Raft membership, and
        the pool goes on writing."""
        l = lab.Lab(3)
        with l:
            for h in l.hosts:
                h.start()
            h1, h2, h3 = l.hosts
            a1 = h1.server.api
            for h in (h2, h3):
                r = h.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                                "master-password=" + h1.server.password)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 3, 30, "three hosts")
            ref = {h.name: [x for x in a1.host.get_all() if a1.host.get_address(x) == h.address][0] for h in l.hosts}
            live = lambda h: a1.host_metrics.get_live(a1.host.get_metrics(ref[h.name]))
            wait_for(lambda: live(h2) and live(h3), 30, "members live")
            def secret(h):
                with open(os.path.join(h.data_dir, "pool-secret")) as f:
                    return f.read().strip()
            old = secret(h1)
            self.assertEqual({secret(h) for h in l.hosts}, {old})
            self.assertEqual(len(h2.server.call("pool.get_all", "OpaqueRef:" + old)), 1, "the pool's session on h2")

            # ---- rotate_secret ----
            t0 = time.monotonic()
            a1.pool.rotate_secret()
            print("# pool.rotate_secret on 3 hosts: %.2f s" % (time.monotonic() - t0))
            new = secret(h1)
            self.assertNotEqual(new, old)
            self.assertEqual({secret(h) for h in l.hosts}, {new}, "every host has it")
            for h in l.hosts:
                self.assertFalse(os.path.exists(os.path.join(h.data_dir, "pool-secret.staged")), h.name)
            with self.assertRaises(harness.XapiError) as cm:
                h1.server.call("pool.get_all", "OpaqueRef:" + old)
            self.assertEqual(cm.exception.code, "SESSION_INVALID")
            with self.assertRaises(harness.XapiError) as cm:
                h2.server.call("pool.get_all", "OpaqueRef:" + old)
            self.assertEqual(cm.exception.code, "HOST_IS_SLAVE", "no longer the pool's session on h2")
            self.assertEqual(len(h1.server.call("pool.get_all", "OpaqueRef:" + new)), 1, "the new one is the pool's")
            r = h1.server.xe("pool-secret-rotate")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn(secret(h1), (old, new))
            new = secret(h1)
            self.assertEqual({secret(h) for h in l.hosts}, {new})
            # the internal step is the pool's alone
            self.assertError("PERMISSION_DENIED", lambda: h1.server.call("pool.secret_step", h1.server.session,
                                                                           "stage", new))
            # a VM started on a member through the master: forwarded, and the
            # member's writes (its power state) come back
            tpl = [v for v, rec in a1.VM.get_all_records().items()
                   if rec["is_a_template"] and rec["name_label"] == "Other install media"][0]
            vm = a1.VM.clone(tpl, "on-member")
            a1.VM.provision(vm)
            mknet = lambda label: a1.network.create({"name_label": label, "name_description": "", "MTU": 1500,
                                                     "other_config": {}, "bridge": "", "managed": True,
                                                     "tags": []})
            n_int, n_far = mknet("internal"), mknet("h1-only")
            vif = a1.VIF.create({"device": "0", "network": n_int, "VM": vm, "MAC": "", "MTU": 1500,
                                 "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
            a1.VM.start_on(vm, ref["h3"], False, False)
            self.assertEqual(a1.VM.get_resident_on(vm), ref["h3"])
            self.assertEqual(a1.VM.get_power_state(vm), "Running")
            # VIF.move: to a network the VM's host has no PIF on, refused
            far = a1.PIF.db_introduce("eth9", n_far, ref["h1"], "02:00:00:00:00:19", 1500, -1, True, "None", "",
                                      "", "", "", harness.NULL_REF, harness.NULL_REF, False, {}, False, "None", [],
                                      "", "IPv4", True, {})
            self.assertEqual(self.assertError("HOST_CANNOT_ATTACH_NETWORK", a1.VIF.move, vif, n_far),
                             [ref["h3"], n_far])
            self.assertEqual(a1.VIF.get_network(vif), n_int)
            a1.PIF.db_forget(far)
            a1.VIF.move(vif, n_far)
            self.assertEqual(a1.VIF.get_network(vif), n_far)
            self.assertTrue(a1.VIF.get_currently_attached(vif))

            # ---- host.destroy ----
            self.assertEqual(self.assertError("HOST_IS_LIVE", a1.host.destroy, ref["h3"]), [ref["h3"]])
            self.assertEqual(self.assertError("HOST_IS_LIVE", a1.host.destroy, ref["h1"]), [ref["h1"]])
            h3.server.kill9()
            wait_for(lambda: not live(h3), 30, "h3 not live")
            self.assertEqual(self.assertError("HOST_HAS_RESIDENT_VMS", a1.host.destroy, ref["h3"]), [ref["h3"]])
            # a host out of reach: no rotation, nothing staged anywhere
            self.assertEqual(self.assertError("CANNOT_CONTACT_HOST", a1.pool.rotate_secret), [ref["h3"]])
            self.assertEqual({secret(h) for h in (h1, h2)}, {new})
            for h in (h1, h2):
                self.assertFalse(os.path.exists(os.path.join(h.data_dir, "pool-secret.staged")), h.name)
            a1.VM.power_state_reset(vm)
            h3rec = a1.host.get_record(ref["h3"])
            owned = {"PIF": h3rec["PIFs"], "PBD": h3rec["PBDs"], "host_cpu": h3rec["host_CPUs"],
                     "host_metrics": [h3rec["metrics"]],
                     "VM": [v for v in h3rec["resident_VMs"] if a1.VM.get_is_control_domain(v)]}
            self.assertTrue(owned["PIF"] and owned["VM"], owned)
            t0 = time.monotonic()
            r = h1.server.xe("host-forget", "uuid=" + h3rec["uuid"])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            print("# host-forget of a dead member: %.2f s" % (time.monotonic() - t0))
            self.assertNotIn(ref["h3"], a1.host.get_all())
            for cls, refs in owned.items():
                for x in refs:
                    self.assertError("HANDLE_INVALID", getattr(a1, cls).get_record, x)
            self.assertIn("forgotten, and out of Raft", h1.server.log_text())
            self.assertEqual(a1.VM.get_resident_on(vm), harness.NULL_REF)
            self.assertError("HANDLE_INVALID", a1.host.destroy, ref["h3"])
            # the pool of two goes on: writes on the master, in h2's store too
            pool = a1.pool.get_all()[0]
            a1.pool.set_name_label(pool, "after-forget")
            wait_for(lambda: [r.get("name_label") for r in stored(h2, "pool").values()] == ["after-forget"], 15,
                     "the write on h2")
            wait_for(lambda: ref["h3"] not in stored(h2, "host"), 15, "h3 gone from h2's store")
            a1.VM.start_on(vm, ref["h2"], False, False)
            self.assertEqual(a1.VM.get_resident_on(vm), ref["h2"])
            a1.VM.hard_shutdown(vm)
            # pool.create_VLAN: on each remaining host's PIF of the device
            dev = [a1.PIF.get_device(p) for p in a1.PIF.get_all() if a1.PIF.get_management(p)][0]
            made = a1.pool.create_VLAN(dev, n_int, 55)
            self.assertEqual(sorted(a1.PIF.get_host(p) for p in made), sorted([ref["h1"], ref["h2"]]))
            self.assertEqual({int(a1.PIF.get_VLAN(p)) for p in made}, {55})

    def test_guest_on_host2(self):
        """The tiny guest (QEMU/TCG), started on the second host of a pool
        of two through the master, and shut down through it."""
        import guest
        if not guest.QEMU:
            self.skipTest("qemu-system-x86_64 is not installed")
        kernel = guest.build()
        l = lab.Lab(2)
        with l:
            for h in l.hosts:
                guest.provide(h.data_dir, kernel)
                h.start(backend="qemu")
            h1, h2 = l.hosts
            a1 = h1.server.api
            r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + h1.server.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 2, 30, "h2 in the pool")
            h2ref = [ref for ref in a1.host.get_all() if a1.host.get_address(ref) == h2.address][0]
            wait_for(lambda: a1.host_metrics.get_live(a1.host.get_metrics(h2ref)), 30, "h2 live")
            mem = 256 * guest.MiB
            vm = a1.VM.create({
                "name_label": "tiny", "name_description": "", "user_version": 1, "is_a_template": False,
                "affinity": h2ref, "memory_static_max": mem, "memory_dynamic_max": mem,
                "memory_dynamic_min": mem, "memory_static_min": 128 * guest.MiB, "VCPUs_params": {},
                "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
                "actions_after_reboot": "restart", "actions_after_crash": "destroy",
                "PV_bootloader": "", "PV_kernel": kernel, "PV_ramdisk": "initrd.img",
                "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
                "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
                "recommendations": "", "domain_type": "pv"})
            uuid = a1.VM.get_uuid(vm)
            t0 = time.monotonic()
            task = a1.Async.VM.start(vm, False, False)  # its affinity: h2
            wait_for(lambda: a1.task.get_status(task) != "pending", 60, "VM.start's task")
            self.assertEqual(a1.task.get_status(task), "success", a1.task.get_error_info(task))
            self.assertEqual(a1.task.get_progress(task), 1.0)
            self.assertEqual(a1.VM.get_resident_on(vm), h2ref)
            self.assertEqual(a1.VM.get_power_state(vm), "Running")
            serial = os.path.join(h2.data_dir, "run", "vm", uuid, "serial.log")

            def ready():
                try:
                    with open(serial, "rb") as f:
                        return guest.READY.encode() in f.read()
                except OSError:
                    return False
            wait_for(ready, 90, "the guest ready on h2")
            print("# VM.start through the master -> guest ready on h2: %.1f s" % (time.monotonic() - t0))
            # QEMU runs on h2 (its run directory), none on h1
            self.assertTrue(guest.qemus_in(os.path.join(h2.data_dir, "run")))
            self.assertFalse(guest.qemus_in(os.path.join(h1.data_dir, "run")))
            a1.VM.hard_shutdown(vm)
            self.assertEqual(a1.VM.get_power_state(vm), "Halted")
            wait_for(lambda: not guest.qemu_of_uuid(uuid), 20, "the guest's QEMU gone")


if __name__ == "__main__":
    harness.main()
