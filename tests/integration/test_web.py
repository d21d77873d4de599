"""The web console in a real browser: Debian's chromium, headless, driven by
Playwright (tests/web/ui_test.mjs) against a xenond on the qemu backend
started here. Before the browser starts, the API makes two VMs, the tiny
guest (halted) and a task; the driver then logs in (and fails to with a
wrong password), finds the host and VMs in the tree and dashboard, sees an
`xe` change within a second, snapshots and reverts, makes a VM in the
wizard and finds it with `xe vm-list`, starts the guest and reads its boot
lines in the serial panel and a non-blank VNC canvas, pauses and unpauses
it, waits for CPU chart points, cancels the task, and logs in as a
read-only user who gets no action buttons. A failing step leaves a
screenshot under <build>/web-test/."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402
import harness  # noqa: E402

MiB = 1 << 20
CHROMIUM = os.environ.get("XENON_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.path.join(harness.ROOT, "tests", "web", "ui_test.mjs")
PLAYWRIGHT = os.path.join(harness.ROOT, "web", "node_modules", "playwright-core")
READER, PASSWORD = "reader", "reader-pw-1"


class WebTest(guest.GuestMixin, harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        missing = [p for p in (CHROMIUM, PLAYWRIGHT, shutil.which("node") or "/nonexistent") if not os.path.exists(p)]
        if missing:
            raise harness.unittest.SkipTest("needs %s" % ", ".join(missing))
        cls.srv = harness.Server(backend="qemu",
                                 data_dir=harness.data_dir_with_users({READER: "read-only"}, PASSWORD, "xenon-web-"))
        guest.install(cls)
        cls.srv.start()
        cls.api = cls.srv.api
        cls.build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(harness.XENOND))))

    @classmethod
    def tearDownClass(cls):
        guest.halt_all(cls)
        cls.srv.stop()
        guest._kill_leftover_qemus()

    def test_browser(self):
        api = self.api
        host = api.host.get_all()[0]
        made = []
        for name in ("web-vm-1", "web-vm-2"):
            made.append(self.new_vm(name, mem=128 * MiB))
        g = self.new_vm("web-guest", mem=256 * MiB)
        task = api.task.create("web-long-task", "a task the page cancels")
        api.task.set_progress(task, 0.4)
        shots = os.path.join(self.build, "web-test")
        shutil.rmtree(shots, ignore_errors=True)
        os.makedirs(shots)
        conf = {
            "url": self.srv.url,
            "password": self.srv.password,
            "reader": [READER, PASSWORD],
            "host": api.host.get_name_label(host),
            "vms": ["web-vm-1", "web-vm-2"],
            "vm1": made[0],
            "guest": g,
            "task": api.task.get_uuid(task),
            "xe": [harness.XE, "-s", self.srv.host, "-p", str(self.srv.port), "--nossl", "-u", "root",
                   "-pw", self.srv.password],
            "chromium": CHROMIUM,
            "shots": shots,
            "playwright": PLAYWRIGHT,
        }
        t0 = time.monotonic()
        p = subprocess.run(["node", DRIVER], env=dict(os.environ, XENON_WEB_TEST=json.dumps(conf)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
        sys.stderr.write(p.stderr[-4000:])
        steps = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        sys.stderr.write("\n" + "".join("  %-4s %-28s %6.2f s %s\n" % ("ok" if s["ok"] else "FAIL", s["step"], s["secs"],
                                                                       s.get("error", "")) for s in steps))
        sys.stderr.write("  browser run %.1f s\n" % (time.monotonic() - t0))
        names = [s["step"] for s in steps]
        for want in ("wrong password", "login", "tree and dashboard", "xe change is live", "snapshot and revert",
                     "wizard", "start guest", "serial console", "vnc screen", "pause and unpause", "cpu chart",
                     "cancel task", "read-only user"):
            with self.subTest(step=want):
                self.assertIn(want, names, p.stdout[-2000:])
                s = steps[names.index(want)]
                self.assertTrue(s["ok"], s.get("error"))
        self.assertEqual(p.returncode, 0, p.stdout[-2000:])
        # what the page did, seen through the API
        self.assertEqual(api.VM.get_power_state(g), "Running")


if __name__ == "__main__":
    harness.main()
