"""A ping flood into a real guest shows in its vif_0_rx: the tiny guest
(xenond --backend qemu) on a network whose bridge has an address inside a
namespace the test makes; `ping -f` from that namespace, bounded in count
and time, sends it packets; the bytes per second of vif_0_rx over the rows
of the flood add up to what its tap transmitted (the guest receives what
the tap sends), and are near 0 before. Skipped without root, ip, ping or
qemu-system-x86_64.

The module re-runs itself under `ip netns exec xenon-test-<random>`, so the
daemon, its QEMU and the ping share the namespace."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
IP = shutil.which("ip")
PING = shutil.which("ping")
COUNT, SIZE = 2000, 1000  # packets of 1000 + 28 bytes of ICMP/IP + 14 of Ethernet

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not IP or not PING or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip, ping and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import QEMU  # noqa: E402


def tap_tx(tap):
    with open("/sys/class/net/%s/statistics/tx_bytes" % tap) as f:
        return int(f.read())


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class PingFloodTest(guest.GuestTestCase):

    def rrd_updates(self, uuid, start):
        c = self.srv.connection()
        try:
            q = {"session_id": self.srv.session, "start": start, "cf": "AVERAGE", "interval": 5,
                 "json": "true", "vm_uuid": uuid}
            c.request("GET", "/rrd_updates?" + urllib.parse.urlencode(q))
            r = c.getresponse()
            body = r.read()
            return json.loads(body) if r.status == 200 else None
        finally:
            c.close()

    def column(self, j, uuid, name):
        col = j["meta"]["legend"].index("AVERAGE:vm:%s:%s" % (uuid, name))
        return {r["t"]: float(r["values"][col]) for r in j["data"] if r["values"][col] != "NaN"}

    def wait_row(self, uuid, t):
        def there():
            j = self.rrd_updates(uuid, int(t) - 60)
            return j and j["meta"]["end"] >= t
        self.wait_for(there, 25, 0.5, "a row at %d" % t)

    def test_ping_flood_shows_in_vif_0_rx(self):
        net = self.api.network.create({"name_label": "flood", "name_description": "", "MTU": 1500,
                                       "other_config": {}, "bridge": "", "managed": True, "tags": []})
        vm = self.new_vm("flood-vm", PV_args=guest.ARGS + " xenon.ip=10.78.0.1/24")
        self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                             "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        self.start_ready(vm)
        uuid = self.api.VM.get_uuid(vm)
        bridge = self.api.network.get_bridge(net)
        tap = "vif%d.0" % int(self.api.VM.get_domid(vm))
        subprocess.run([IP, "addr", "add", "10.78.0.254/24", "dev", bridge], check=True)
        subprocess.run([IP, "link", "set", bridge, "up"], check=True)
        # the guest answers first (ARP resolved), then a quiet row or two
        r = subprocess.run([PING, "-c", "3", "-W", "5", "10.78.0.1"], stdout=subprocess.PIPE, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout)
        quiet_from = time.time()
        self.wait_row(uuid, quiet_from + 10)
        # the flood: at most COUNT packets, at most 20 s
        t0, b0 = time.time(), tap_tx(tap)
        r = subprocess.run([PING, "-f", "-q", "-c", str(COUNT), "-s", str(SIZE), "-w", "20", "10.78.0.1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=40)
        t1, b1 = time.time(), tap_tx(tap)
        sent = b1 - b0
        self.assertGreater(sent, COUNT // 4 * SIZE, r.stdout)
        self.wait_row(uuid, t1 + 10)
        rx = self.column(self.rrd_updates(uuid, int(quiet_from) - 5), uuid, "vif_0_rx")
        during = sum(v * 5 for t, v in rx.items() if t0 - 5 < t <= t1 + 10)
        before = [v for t, v in rx.items() if quiet_from + 5 <= t - 5 and t <= t0]
        self.assertTrue(before, rx)
        self.assertLess(max(before), 1000, rx)  # a stray ARP or two at most
        # the tap's bytes over the flood's rows (what else it sent then is small)
        self.assertAlmostEqual(during, sent, delta=0.05 * sent + 5000, msg=(sent, rx))
        tx = self.column(self.rrd_updates(uuid, int(quiet_from) - 5), uuid, "vif_0_tx")
        self.assertGreater(max(tx.values()), SIZE, tx)  # the replies
        self.api.VM.hard_shutdown(vm)


if __name__ == "__main__":
    unittest.main()
