"""Xen Orchestra's XenAPI client (npm xen-api 4.7.6, tests/compat) against
xenond: starts a daemon, installs the pinned client with `npm ci` when
tests/compat/node_modules is missing, and runs tests/compat/xo_connector.mjs
(xo-client.md §4 steps 1-6, 8, 12, 13, 15: /rrd_updates fetched and parsed as
Xen Orchestra's stats code does, and 14: VDI and VM exports with
getResource and imports with putResource, checked by checksum). The server caps event.from waits at
a few seconds (config key event-wait-cap) so the idle-return and re-login
checks finish quickly; the client still sends 60.1."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

COMPAT = os.path.join(harness.ROOT, "tests", "compat")
EVENT_CAP = 5


def node_major():
    node = shutil.which("node")
    if not node:
        return None
    out = subprocess.run([node, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    m = re.match(r"v(\d+)", out)
    return int(m.group(1)) if m else None


@unittest.skipUnless(node_major() and node_major() >= 18, "node >= 18 not found")
class XoConnector(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(os.path.join(COMPAT, "node_modules", "xen-api")):
            npm = shutil.which("npm")
            if not npm:
                raise unittest.SkipTest("npm not found and tests/compat/node_modules missing")
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=COMPAT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=600)
            if r.returncode != 0:
                raise AssertionError("npm ci failed in tests/compat:\n" + r.stdout[-3000:])
        cls.srv = harness.Server(log_level="debug")
        conf = os.path.join(cls.srv.data_dir, "xenond.conf")
        with open(conf, "w") as f:
            f.write("event-wait-cap = %d\n" % EVENT_CAP)
        cls.tls_port = harness.free_port()
        cls.srv.extra_args = ["--config", conf, "--tls-listen", "127.0.0.1:%d" % cls.tls_port]
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_1_xen_api_client(self):
        env = dict(os.environ, XENON_EVENT_WAIT_CAP=str(EVENT_CAP), NODE_NO_WARNINGS="1")
        r = subprocess.run(["node", os.path.join(COMPAT, "xo_connector.mjs"), self.srv.url + "/", "root",
                            self.srv.password, "https://127.0.0.1:%d/" % self.tls_port], cwd=COMPAT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=400, env=env)
        sys.stderr.write("\n----- xo_connector.mjs -----\n%s\n" % r.stdout)
        self.assertTrue(self.srv.alive(), "xenond died during the run")
        self.assertEqual(r.returncode, 0, "xo_connector.mjs reported failures (see its output above)")

    def test_2_server_logged_the_calls(self):
        # xenond logs "rpc: <method>" at debug level; only asserted when the
        # daemon writes that line format at all
        log = self.srv.log_text()
        if "rpc: " not in log or not re.search(r"rpc: (session|VM|pool|event|system)\.", log):
            self.skipTest("xenond does not log 'rpc: <method>' lines (yet)")
        for m in ("session.login_with_password", "pool.get_all_records", "system.listMethods", "event.inject",
                  "event.from"):
            self.assertIn("rpc: " + m, log)


if __name__ == "__main__":
    harness.main()
