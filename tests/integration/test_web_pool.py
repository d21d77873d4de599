"""The web console on a pool of two lab hosts (lab.py namespaces, the
QEMU backend, h2 joined to h1): the browser (tests/web/pool_test.mjs,
Playwright driving Debian's chromium) talks to the master's origin alone.
Before it starts, the tiny guest runs on the member. The hosts have TLS listeners, so they talk TLS to each other (the
master's relays too). The driver finds both
hosts in the tree (the master marked) and the guest under the member; on
the guest's page its CPU chart gets points and its serial console shows
the guest's lines, both through the master (which relays /rrd_updates and
/console from the member); the member's host page shows its figures; the
guest migrates to the master from the Migrate form and back by being
dragged onto the member in the tree (each time seen under the other host
and in resident_on); a disk image dropped on the page (not on the
import card) is imported with its progress; and the member, put in
maintenance mode from its page, is evacuated (the guest back on the
master) and enabled again. A failing step leaves a
screenshot under <build>/web-pool-test/. Skipped without root, ip,
chromium, node, Playwright or QEMU."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402
import pool_util  # noqa: E402
from pool_util import wait_for  # noqa: E402

MiB = 1 << 20
TLS_PORT = 8443
CHROMIUM = os.environ.get("XENON_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.path.join(harness.ROOT, "tests", "web", "pool_test.mjs")
PLAYWRIGHT = os.path.join(harness.ROOT, "web", "node_modules", "playwright-core")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and guest.QEMU and shutil.which("qemu-img"),
                     "needs root, ip, qemu-system-x86_64 and qemu-img")
class WebPoolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [p for p in (CHROMIUM, PLAYWRIGHT, shutil.which("node") or "/nonexistent") if not os.path.exists(p)]
        if missing:
            raise unittest.SkipTest("needs %s" % ", ".join(missing))
        import lab
        cls.kernel = guest.build()
        cls.lab = lab.Lab(2).make()
        try:
            for h in cls.lab.hosts:
                guest.provide(h.data_dir, cls.kernel)
                # TLS listeners: the hosts talk TLS to each other (the relays too)
                h.start(backend="qemu", extra_args=["--tls-listen", "%s:%d" % (h.address, TLS_PORT)])
            h1, h2 = cls.lab.hosts
            cls.api = a = h1.server.api
            cls.ref = pool_util.join(cls.lab)
            # the master holds the member's certificate: its calls there go over TLS
            member_pem = os.path.join(h1.data_dir, "pool-certs", a.host.get_uuid(cls.ref[h2.address]) + ".pem")
            wait_for(lambda: os.path.exists(member_pem), 30, "the member's certificate on the master")
        except BaseException:
            cls.lab.close()
            raise

    @classmethod
    def tearDownClass(cls):
        pool_util.halt_vms(cls.api)
        cls.lab.close()
        guest._kill_leftover_qemus()

    def test_browser(self):
        a = self.api
        h1, h2 = self.lab.hosts
        mem = 256 * MiB
        g = a.VM.create({
            "name_label": "pool-guest", "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": harness.NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": self.kernel, "PV_ramdisk": "initrd.img",
            "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})
        for h in self.lab.hosts:
            a.host.set_name_label(self.ref[h.address], "web-" + h.name)
        a.VM.start_on(g, self.ref[h2.address], False, False)
        self.assertEqual(a.VM.get_resident_on(g), self.ref[h2.address])
        # the disk image the page gets dropped on it
        img = os.path.join(h1.data_dir, "dropped-disk.vmdk")
        subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", img, "4M"], check=True)
        build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(harness.XENOND))))
        shots = os.path.join(build, "web-pool-test")
        shutil.rmtree(shots, ignore_errors=True)
        os.makedirs(shots)
        s = h1.server
        conf = {
            "url": s.url,
            "password": s.password,
            "master": a.host.get_name_label(self.ref[h1.address]),
            "member": a.host.get_name_label(self.ref[h2.address]),
            "masterRef": self.ref[h1.address],
            "memberRef": self.ref[h2.address],
            "guest": g,
            "dropFile": img,
            "chromium": CHROMIUM,
            "shots": shots,
            "playwright": PLAYWRIGHT,
        }
        t0 = time.monotonic()
        p = subprocess.run(["node", DRIVER], env=dict(os.environ, XENON_WEB_TEST=json.dumps(conf)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
        sys.stderr.write(p.stderr[-4000:])
        steps = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        sys.stderr.write("\n" + "".join("  %-4s %-28s %6.2f s %s\n" % ("ok" if x["ok"] else "FAIL", x["step"], x["secs"],
                                                                       x.get("error", "")) for x in steps))
        sys.stderr.write("  browser run %.1f s\n" % (time.monotonic() - t0))
        names = [x["step"] for x in steps]
        for want in ("login", "both hosts in the tree", "member's host page", "member vm chart",
                     "member vm console through the master", "migrate from the page",
                     "drag the vm onto a host", "file dropped on the page imports", "member maintenance and evacuate",
                     "no CSP violations"):
            with self.subTest(step=want):
                self.assertIn(want, names, p.stdout[-2000:])
                x = steps[names.index(want)]
                self.assertTrue(x["ok"], x.get("error"))
        self.assertEqual(p.returncode, 0, p.stdout[-2000:])
        # what the page did, seen through the API: evacuated to the master,
        # running, the member enabled again
        self.assertEqual(a.VM.get_resident_on(g), self.ref[h1.address])
        self.assertTrue(a.host.get_enabled(self.ref[h2.address]))
        self.assertEqual(a.VM.get_power_state(g), "Running")
        self.assertEqual(len(a.VM.get_by_name_label("dropped-disk")), 1)
        # the master answers for the member's VM with the member's figures
        # (its own archive of the VM goes to the member with the VM)
        a.VM.pool_migrate(g, self.ref[h2.address], {"live": "true"})
        uuid = a.VM.get_uuid(g)
        q = "session_id=%s&start=%d&cf=AVERAGE&interval=5&json=true&vm_uuid=%s" % (
            s.session, int(time.time()) - 120, uuid)

        def relayed():
            try:
                with urllib.request.urlopen("%s/rrd_updates?%s&relay=true" % (s.url, q), timeout=20) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError:  # the archive on its way to the member
                return None
        deadline = time.monotonic() + 15
        body = relayed()
        while (body is None or not body["data"]) and time.monotonic() < deadline:
            time.sleep(0.2)
            body = relayed()
        self.assertIsNotNone(body, "no figures of the member's VM through the master")
        self.assertTrue(any(("vm:%s:cpu" % uuid) in l for l in body["meta"]["legend"]), body["meta"]["legend"])
        self.assertGreater(len(body["data"]), 0)
        # without relay=true, as xapi's: the master has no figures of it
        # once its archive went to the member (it refuses, as for any VM it
        # holds no archive of)
        def master_has_it():
            try:
                with urllib.request.urlopen("%s/rrd_updates?%s" % (s.url, q), timeout=20) as r:
                    return any(uuid in l for l in json.loads(r.read())["meta"]["legend"])
            except urllib.error.HTTPError:
                return False
        wait_for(lambda: not master_has_it(), 15, "the master to let go of the VM's archive")
        # host_uuid naming the member: the member's own figures, not the master's
        with urllib.request.urlopen("%s/rrd_updates?%s&host=true&host_uuid=%s" % (
                s.url, q, a.host.get_uuid(self.ref[h2.address])), timeout=20) as r:
            legend = json.loads(r.read())["meta"]["legend"]
        self.assertTrue(any(a.host.get_uuid(self.ref[h2.address]) in l for l in legend), legend[:4])
        self.assertFalse(any(a.host.get_uuid(self.ref[h1.address]) in l for l in legend), legend[:4])
        # a host_uuid of no host: xapi's INVALID_VALUE with the parameter
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen("%s/rrd_updates?%s&host=true&host_uuid=nope" % (s.url, q), timeout=20)
        self.assertEqual(cm.exception.code, 400)
        self.assertIn("INVALID_VALUE host_uuid", cm.exception.read().decode())


if __name__ == "__main__":
    harness.main()
