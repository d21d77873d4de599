"""The web console. StaticTest: how xenond serves its built files (caching,
encodings, CSP, names outside the directory, XML-RPC still on POST /).
WebTest: the console in a real browser: Debian's chromium, headless, driven by
Playwright (tests/web/ui_test.mjs) against a xenond on the qemu backend
started here. Before the browser starts, the API makes two VMs, the tiny
guest (halted) and a task; the driver then logs in (and fails to with a
wrong password), finds the host and VMs in the tree and dashboard, sees an
`xe` change within a second, snapshots and reverts, makes a VM in the
wizard and finds it with `xe vm-list`, copies a VM, makes an ISO SR and
rescans it, makes a network, sets a NIC's locking mode, allowed
addresses and rate limit, lists the PIFs (with Open vSwitch: veth PIFs,
one with an address, a VLAN on one and a bond of two made in the page, the
same VLAN tag again refused and its network taken back, a GRE tunnel made
on one, found by `xe tunnel-list`, and destroyed), downloads an export and uploads it
back as an import, starts the guest and reads its boot
lines in the serial panel and a non-blank VNC canvas, pauses and unpauses
it, runs a command in it through its agent, uploads a file into it and
downloads it back, captures its NIC to a pcap
download (and sees a bad filter refused), adds a local user as a subject
with a role and removes both, opens the same serial console over HTTPS (wss), waits for CPU chart points, cancels the task, and logs in as a
read-only user who gets no action buttons. With libguestfs's appliance at
hand it also browses a small vfat disk made here: the inspection report,
a directory listing, a file downloaded through /vdi_file. A failing step leaves a
screenshot under <build>/web-test/."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# As root the test runs in a network namespace of its own: the guest's NIC
# (captured from the page) and the local user (made with useradd, removed
# after) need it.
ROOT = os.geteuid() == 0 and shutil.which("ip") and shutil.which("useradd")
if __name__ == "__main__" and ROOT and not os.environ.get(harness.NETNS_ENV):
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
import ovs_lab  # noqa: E402

# with Open vSwitch, xenond's networks are on it and the page makes a VLAN
# and a bond of veth PIFs (the kernel here has no 8021q for the bridge backend)
OVS = ROOT and shutil.which("ovs-vswitchd") and os.environ.get(harness.NETNS_ENV)
NICS = ("xw1", "xw2", "xw3")

MiB = 1 << 20
CHROMIUM = os.environ.get("XENON_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.path.join(harness.ROOT, "tests", "web", "ui_test.mjs")
PLAYWRIGHT = os.path.join(harness.ROOT, "web", "node_modules", "playwright-core")
READER, PASSWORD = "reader", "reader-pw-1"
LOCAL_USER, LOCAL_PASSWORD = "xnt-webuser", "Webuser-pw-1"


def sh(*cmd, check=True, input=None):
    return subprocess.run(cmd, check=check, input=input, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class StaticTest(harness.ServerTestCase):
    """How xenond serves the built files: index.html and hashed assets, their
    caching, encodings and CSP, names that leave the directory, and the
    XML-RPC that shares the path /."""

    def setUp(self):
        super().setUp()
        r = self.srv.post("/", b"", method="GET")
        if b"/assets/" not in r.body:
            self.skipTest("the web console is not built (meson -Dweb=disabled?)")
        self.index = r

    def assets(self):
        import re
        return re.findall(r'/assets/([A-Za-z0-9._-]+)', self.index.body.decode())

    def test_index_and_assets(self):
        r = self.index
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-cache")
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self';", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("http", csp)
        # the same ETag again: 304, no body
        r2 = self.srv.post("/", b"", {"If-None-Match": r.header("ETag")}, method="GET")
        self.assertEqual(r2.status, 304)
        self.assertEqual(r2.body, b"")
        names = self.assets()
        self.assertTrue(any(n.endswith(".js") for n in names), names)
        self.assertTrue(any(n.endswith(".css") for n in names), names)
        for n in names:
            with self.subTest(asset=n):
                plain = self.srv.post("/assets/" + n, b"", method="GET")
                self.assertEqual(plain.status, 200)
                self.assertIsNone(plain.header("Content-Encoding"))
                self.assertEqual(plain.header("Cache-Control"), "public, max-age=31536000, immutable")
                self.assertEqual(plain.header("Vary"), "Accept-Encoding")
                self.assertTrue(plain.header("Content-Type").startswith("text/javascript" if n.endswith(".js") else "text/css"))
                for enc, unpack in (("gzip", __import__("gzip").decompress), ("br", None)):
                    r = self.srv.post("/assets/" + n, b"", {"Accept-Encoding": "%s, identity" % enc}, method="GET")
                    self.assertEqual(r.header("Content-Encoding"), enc)
                    self.assertLess(len(r.body), len(plain.body))
                    if unpack:
                        self.assertEqual(unpack(r.body), plain.body)
                # q=0 refuses a coding
                r = self.srv.post("/assets/" + n, b"", {"Accept-Encoding": "gzip;q=0"}, method="GET")
                self.assertIsNone(r.header("Content-Encoding"))
                self.assertEqual(r.body, plain.body)

    def test_names_outside_the_directory(self):
        for path in ("/assets/../index.html", "/assets/%2e%2e%2froot-password", "/assets/.stamp",
                     "/assets/nope.js", "/assets/", "/index.html", "/assets/a%00b.js"):
            with self.subTest(path=path):
                r = self.srv.post(path, b"", method="GET")
                self.assertEqual(r.status, 404, r.body[:200])
                self.assertNotIn(self.srv.password.encode(), r.body)

    def test_xmlrpc_and_jsonrpc_still_answer(self):
        body = ('<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName>'
                '<params/></methodCall>').encode()
        r = self.srv.post("/", body, {"Content-Type": "text/xml"})
        self.assertEqual(r.status, 200)
        self.assertIn(b"VM.get_all_records", r.body)
        self.assertTrue(self.api.VM.get_all())


class WebTest(guest.GuestMixin, harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        missing = [p for p in (CHROMIUM, PLAYWRIGHT, shutil.which("node") or "/nonexistent") if not os.path.exists(p)]
        if missing:
            raise harness.unittest.SkipTest("needs %s" % ", ".join(missing))
        cls.tls_port = harness.free_port()
        if OVS:
            for n in NICS:
                sh("ip", "link", "add", n, "type", "veth", "peer", "name", n + "p")
                sh("ip", "link", "set", n + "p", "up")
        cls.srv = harness.Server(backend="qemu", config="network-backend = openvswitch\n" if OVS else None,
                                 data_dir=harness.data_dir_with_users({READER: "read-only"}, PASSWORD, "xenon-web-"),
                                 extra_args=["--tls-listen", "127.0.0.1:%d" % cls.tls_port])
        guest.install(cls)
        cls.srv.start()
        cls.api = cls.srv.api
        cls.build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(harness.XENOND))))

        if ROOT:
            sh("userdel", LOCAL_USER, check=False)
            sh("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", LOCAL_USER)
            sh("chpasswd", input="%s:%s\n" % (LOCAL_USER, LOCAL_PASSWORD))
            # the system's accounts are subjects while external authentication is on
            cls.api.pool.enable_external_auth(cls.api.pool.get_all()[0], {}, "", "PAM")

    @classmethod
    def tearDownClass(cls):
        try:
            guest.halt_all(cls)
            cls.srv.stop()
            guest._kill_leftover_qemus()
            if OVS:
                ovs_lab.stop_ovs_of(cls.srv.data_dir)
        finally:
            if ROOT:
                sh("userdel", LOCAL_USER, check=False)

    def test_browser(self):
        api = self.api
        host = api.host.get_all()[0]
        made = []
        for name in ("web-vm-1", "web-vm-2"):
            made.append(self.new_vm(name, mem=128 * MiB))
        g = self.new_vm("web-guest", mem=256 * MiB)
        net = api.network.create({"name_label": "web-test-net", "name_description": "", "MTU": 1500,
                                  "other_config": {}, "tags": []})

        def vif(vm):
            return api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                                   "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        vif1 = vif(made[0])
        if OVS:
            api.PIF.scan(host)
            pifs = {r["device"]: ref for ref, r in api.PIF.get_all_records().items()}
            api.PIF.reconfigure_ip(pifs["xw3"], "Static", "10.79.0.1", "255.255.255.0", "", "")
        if ROOT:
            vif(g)
        task = api.task.create("web-long-task", "a task the page cancels")
        api.task.set_progress(task, 0.4)
        isodir = os.path.join(self.srv.data_dir, "isos")
        os.makedirs(isodir)
        with open(os.path.join(isodir, "tiny.iso"), "wb") as f:
            f.write(b"\0" * MiB)
        # a small vfat disk for the "browse disk" view (one appliance start)
        import test_inspect
        disk, disk_sr = "", ""
        if not test_inspect.appliance_missing():
            img = os.path.join(self.srv.data_dir, "web-disk.vfat")
            test_inspect.fs_image(img, "vfat", 8 * MiB, "XWEB", {"/hello.txt": b"hello from the web disk\n",
                                                                "/docs": None,
                                                                "/docs/inner.txt": b"inner file\n"})
            disk_sr = api.pool.get_default_SR(api.pool.get_all()[0])
            disk = self.new_vdi(disk_sr, 8 * MiB, "web-disk")
            r = self.srv.xe("vdi-import", "uuid=" + api.VDI.get_uuid(disk), "filename=" + img)
            self.assertEqual(r.returncode, 0, r.stderr)
        shots = os.path.join(self.build, "web-test")
        shutil.rmtree(shots, ignore_errors=True)
        os.makedirs(shots)
        conf = {
            "url": self.srv.url,
            "https": "https://127.0.0.1:%d" % self.tls_port,
            "password": self.srv.password,
            "reader": [READER, PASSWORD],
            "host": api.host.get_name_label(host),
            "vms": ["web-vm-1", "web-vm-2"],
            "vm1": made[0],
            "vm2": made[1],
            "isodir": isodir,
            "guest": g,
            "vif1": vif1,
            "guestVif": bool(ROOT),
            "nics": list(NICS) if OVS else [],
            "localUser": LOCAL_USER if ROOT else "",
            "localPassword": LOCAL_PASSWORD,
            "task": api.task.get_uuid(task),
            "disk": disk,
            "diskSr": disk_sr,
            "xe": [harness.XE, "-s", self.srv.host, "-p", str(self.srv.port), "--nossl", "-u", "root",
                   "-pw", self.srv.password],
            "chromium": CHROMIUM,
            "shots": shots,
            "playwright": PLAYWRIGHT,
        }
        t0 = time.monotonic()
        p = subprocess.run(["node", DRIVER], env=dict(os.environ, XENON_WEB_TEST=json.dumps(conf)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=360)
        sys.stderr.write(p.stderr[-4000:])
        steps = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        sys.stderr.write("\n" + "".join("  %-4s %-28s %6.2f s %s\n" % ("ok" if s["ok"] else "FAIL", s["step"], s["secs"],
                                                                       s.get("error", "")) for s in steps))
        sys.stderr.write("  browser run %.1f s\n" % (time.monotonic() - t0))
        names = [s["step"] for s in steps]
        wanted = ("vif capture", "users and roles") if ROOT else ()
        wanted += ("vlan and bond", "tunnel create and destroy") if OVS else ()
        wanted += ("browse disk",) if disk else ()
        for want in wanted + ("wrong password", "login", "keyboard focus", "tree and dashboard", "alarm on the dashboard", "xe change is live", "snapshot and revert",
                     "vm copy", "storage create and rescan", "network create", "export download", "import upload", "wizard", "start guest", "serial console", "https and wss", "vnc screen", "pause and unpause", "guest tools", "cpu chart", "vif controls", "networks show PIFs",
                     "cancel task", "error with code and parameters", "read-only user", "no CSP violations"):
            with self.subTest(step=want):
                self.assertIn(want, names, p.stdout[-2000:])
                s = steps[names.index(want)]
                self.assertTrue(s["ok"], s.get("error"))
        self.assertEqual(p.returncode, 0, p.stdout[-2000:])
        # what the page did, seen through the API
        self.assertEqual(api.VM.get_power_state(g), "Running")


if __name__ == "__main__":
    harness.main()
