"""Private networks across the hosts of a pool, and capture through the
master: a pool of two lab hosts (lab.py, QEMU backend, the openvswitch
network backend), each with a second NIC eth1 on the lab's switch, joined
with pool.join. A vxlan private network the master had alone reaches the
joining host (a tunnel made on its configured eth1); tunnel.create (gre)
on each host's eth1, called on the master: each host's xenond programs its
own Open vSwitch with a port to the other host's address (the pool knows
it), and a guest on each host reaches the other through both networks (no
route to the guests' subnets exists on the switch). GET /capture and xe
vif-capture on the master for the VIF of the guest on the member stream
that host's capture: the filter applied there, a pcap tcpdump -r reads, a
refusal of a bad filter relayed as it was made, a client hanging up ending
the capture on the member. tunnel.destroy of one
host's tunnel removes its ports on both hosts. A third host joining later
gets the pool's tunnels on its configured eth1 (the other hosts a port to
it) and its guest reaches the others. pool.create_VLAN_from_PIF on the
master makes the VLAN on every host's Open vSwitch. A guest whose disk is
on an NFS SR (NFSv3, served in the lab by pool_util.LabNfs and opened by
QEMU's own nfs:// client) moves h1 -> h2 -> h1 live with a TCP connection
to a peer guest over a vxlan network: the connection's count has no gap,
the counter on its serial console never restarts, its memory and disk are
as they were, and tcpdump on the destination's vif sees its traffic.
Skipped without root, ip, Open vSwitch, tcpdump and qemu-system-x86_64."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import guest  # noqa: E402
import harness  # noqa: E402
import lab  # noqa: E402
import ovs_lab  # noqa: E402
import pool_util  # noqa: E402
from pool_util import wait_for  # noqa: E402

MiB = 1 << 20
CONF = "network-backend = openvswitch\n"
TCPDUMP = shutil.which("tcpdump")
TRANSPORT = "10.99.0.%d"


def tcpdump_lines(path):
    p = subprocess.run([TCPDUMP, "-nn", "-r", path], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l.strip()]


def port_name(key, peer):
    a, b, c, d = (int(x) for x in peer.split("."))
    return "t%06x%08x" % (key, (a << 24) | (b << 16) | (c << 8) | d)


@unittest.skipIf(os.geteuid() != 0 or guest.QEMU is None or not shutil.which("ovs-vswitchd") or TCPDUMP is None,
                 "needs root, qemu-system-x86_64, Open vSwitch and tcpdump")
class PoolTunnelTest(unittest.TestCase):
    timings = {}

    @classmethod
    def setUpClass(cls):
        cls.kernel = guest.build()
        cls.lab = lab.Lab(3).make()
        try:
            pool_util.add_second_nics(cls.lab)
            for h in cls.lab.hosts:
                guest.provide(h.data_dir, cls.kernel)
            h1, h2, _ = cls.lab.hosts
            for h in (h1, h2):
                cls.standalone(h)
            cls.api = a1 = h1.server.api
            # a private network of the master alone: its tunnel has no other end yet
            cls.vx = cls.private("vx")
            eth1 = [p for p, r in a1.PIF.get_all_records().items() if r["device"] == "eth1"][0]
            cls.t1 = a1.tunnel.create(eth1, cls.vx, "vxlan")
            cls.join(h2)
            cls.nfs = pool_util.LabNfs(tempfile.mkdtemp(prefix="xenon-lab-nfs-"))
            cls.nfs.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def standalone(cls, h):
        """Starts h's xenond alone and configures its eth1 (before it joins)."""
        h.start(backend="qemu", config=CONF)
        a = h.server.api
        a.PIF.scan(a.host.get_all()[0])
        eth1 = [p for p, r in a.PIF.get_all_records().items() if r["device"] == "eth1"][0]
        a.PIF.reconfigure_ip(eth1, "Static", TRANSPORT % (h.index + 1), "255.255.255.0", "", "")
        a.PIF.plug(eth1)

    @classmethod
    def join(cls, h):
        cls.ref = pool_util.join(cls.lab, [h])

    @classmethod
    def tearDownClass(cls):
        pool_util.halt_vms(getattr(cls, "api", None))
        nfs = getattr(cls, "nfs", None)
        if nfs:
            nfs.stop()
            shutil.rmtree(nfs.base, True)
        cls.lab.close()
        for h in cls.lab.hosts:
            ovs_lab.stop_ovs_of(h.data_dir)
        guest._kill_leftover_qemus()
        for k, v in sorted(cls.timings.items()):
            print("# %s: %.2f s" % (k, v))

    # ---- helpers ----

    def vsctl(self, h, *args):
        db = "unix:" + os.path.join(h.data_dir, "ovs", "db.sock")
        return subprocess.run(["ovs-vsctl", "--db=" + db, "--timeout=10"] + list(args), capture_output=True,
                              text=True).stdout.strip()

    def ports(self, h, bridge):
        return sorted(p for p in self.vsctl(h, "list-ports", bridge).split() if p.startswith("t"))

    def packet_sockets(self, h):
        """Packet sockets open in h's namespace (libpcap's, Open vSwitch's)."""
        out = h.exec("cat", "/proc/net/packet", capture_output=True, text=True).stdout
        return len(out.splitlines()) - 1

    def eth1(self, h):
        a = self.api
        return [p for p in a.host.get_PIFs(self.ref[h.address]) if a.PIF.get_device(p) == "eth1"][0]

    @classmethod
    def private(cls, label):
        return cls.api.network.create({"name_label": label, "name_description": "", "MTU": 1500,
                                        "other_config": {}, "bridge": "", "managed": True, "tags": []})

    def key(self, net):
        return int(self.api.network.get_uuid(net).replace("-", "")[:8], 16) & 0xffffff

    def guest_on(self, h, nets, ip, disk_sr=None):
        """A tiny guest started on h with a NIC on each of nets (eth0 at ip),
        and a 16 MiB disk on disk_sr if given."""
        a = self.api
        rec = {"name_label": "tun-" + h.name, "name_description": "", "user_version": 1, "is_a_template": False,
               "affinity": harness.NULL_REF, "memory_static_max": 256 * MiB, "memory_dynamic_max": 256 * MiB,
               "memory_dynamic_min": 256 * MiB, "memory_static_min": 128 * MiB, "VCPUs_params": {},
               "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
               "actions_after_reboot": "restart", "actions_after_crash": "destroy", "PV_bootloader": "",
               "PV_kernel": self.kernel, "PV_ramdisk": "initrd.img",
               "PV_args": guest.ARGS + " xenon.ip=%s/24" % ip, "PV_bootloader_args": "", "PV_legacy_args": "",
               "HVM_boot_policy": "", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
               "recommendations": "", "domain_type": "pv"}
        vm = a.VM.create(rec)
        for i, net in enumerate(nets):
            a.VIF.create({"device": str(i), "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                          "qos_algorithm_type": "", "qos_algorithm_params": {}})
        if disk_sr:
            vdi = a.VDI.create({"name_label": "disk", "name_description": "", "SR": disk_sr,
                                "virtual_size": str(16 * MiB), "type": "user", "sharable": False, "read_only": False,
                                "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []})
            a.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False, "mode": "RW", "type": "Disk",
                          "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
                          "qos_algorithm_params": {}})
        a.VM.start_on(vm, self.ref[h.address], False, False)
        return vm

    def wait_ready(self, h, vm):
        uuid = self.api.VM.get_uuid(vm)
        wait_for(lambda: guest.READY in pool_util.serial_log(h, uuid), 90, "the guest on %s ready" % h.name)

    def run_in(self, vm, cmd, timeout=60):
        return self.api.VM.guest_exec(vm, ["sh", "-c", cmd], "", timeout)

    def ping(self, vm, ip, n=2):
        out = self.run_in(vm, "ping -c %d -W 3 %s" % (n, ip))
        self.assertEqual(out["exitcode"], "0", out)
        self.assertIn("%d packets received" % n, out["stdout"])

    # ---- the tests, in order ----

    def bulk(self, src, dst, ip, size=2000000):
        """size random bytes over TCP from guest src to guest dst at ip,
        checked whole on arrival."""
        out = self.run_in(dst, "rm -f /tmp/got; setsid sh -c 'sleep 60 | nc -l -p 6000 > /tmp/got' "
                               "</dev/null >/dev/null 2>&1 &")
        self.assertEqual(out["exitcode"], "0", out)
        wait_for(lambda: ":6000" in self.run_in(dst, "netstat -ltn")["stdout"], 10, "the receiver listening")
        out = self.run_in(src, "head -c %d /dev/urandom > /tmp/big && md5sum /tmp/big && "
                               "timeout 30 nc %s 6000 < /tmp/big" % (size, ip), timeout=45)
        self.assertEqual(out["exitcode"], "0", out)
        sent = out["stdout"].split()[0]
        wait_for(lambda: self.run_in(dst, "wc -c < /tmp/got")["stdout"].strip() == str(size), 30,
                 "%d bytes at %s" % (size, ip))
        self.assertEqual(self.run_in(dst, "md5sum /tmp/got")["stdout"].split()[0], sent)
        self.run_in(dst, "pkill -f 'nc -l -p 6000'; pkill -f 'sleep 60'")

    def test_1_tunnels_guests_capture_and_join(self):
        a = self.api
        h1, h2, h3 = self.lab.hosts
        for h in (h1, h2):
            self.assertEqual(a.PIF.get_IP(self.eth1(h)), TRANSPORT % (h.index + 1))
            self.assertTrue(a.PIF.get_currently_attached(self.eth1(h)))
        vx, t1, gre = self.vx, self.t1, self.private("gre")
        # the vxlan network the master had before h2 joined: h2 got a tunnel
        # on its configured eth1 when it joined, each host a port to the other
        wait_for(lambda: len(a.tunnel.get_all()) == 2, 20, "h2's tunnel")
        t2 = [tu for tu in a.tunnel.get_all() if tu != t1][0]
        self.assertEqual(a.tunnel.get_transport_PIF(t2), self.eth1(h2))
        bvx, kvx = a.network.get_bridge(vx), self.key(vx)
        wait_for(lambda: self.ports(h1, bvx), 20, "h1's port to h2")
        self.assertEqual(self.ports(h1, bvx), [port_name(kvx, TRANSPORT % 2)])
        self.assertEqual(self.ports(h2, bvx), [port_name(kvx, TRANSPORT % 1)])
        self.assertEqual(self.vsctl(h2, "get", "interface", port_name(kvx, TRANSPORT % 1), "type"), "vxlan")
        self.assertEqual(self.vsctl(h2, "get", "interface", port_name(kvx, TRANSPORT % 1), "options:remote_ip"),
                         '"%s"' % (TRANSPORT % 1))
        for tu, h in ((t1, h1), (t2, h2)):
            r = a.tunnel.get_record(tu)
            self.assertEqual(r["status"], {"active": "true"})
            acc = a.PIF.get_record(r["access_PIF"])
            self.assertEqual((acc["host"], acc["network"], acc["currently_attached"]),
                             (self.ref[h.address], vx, True))
        # gre, made on the master for each host's eth1 (xe for the member's;
        # the two-argument form for the master's)
        t = time.monotonic()
        a.tunnel.create(self.eth1(h1), gre)
        p = h1.server.xe("tunnel-create", "pif-uuid=" + a.PIF.get_uuid(self.eth1(h2)),
                         "network-uuid=" + a.network.get_uuid(gre), "protocol=gre")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.timings["two gre tunnels made"] = time.monotonic() - t
        g2 = a.tunnel.get_by_uuid(p.stdout.strip())
        self.assertEqual(a.tunnel.get_protocol(g2), "gre")
        bgre, kgre = a.network.get_bridge(gre), self.key(gre)
        self.assertEqual(self.vsctl(h1, "get", "interface", port_name(kgre, TRANSPORT % 2), "type"), "gre")
        self.assertEqual(self.ports(h2, bgre), [port_name(kgre, TRANSPORT % 1)])

        # a guest on each host, eth0 on the vxlan network and eth1 on the gre one
        t = time.monotonic()
        v1 = self.guest_on(h1, [vx, gre], "10.200.0.1")
        v2 = self.guest_on(h2, [vx, gre], "10.200.0.2")
        self.assertEqual(a.VM.get_resident_on(v2), self.ref[h2.address])
        self.wait_ready(h1, v1)
        self.wait_ready(h2, v2)
        self.timings["two guests on two hosts: ready"] = time.monotonic() - t
        for vm, ip in ((v1, "10.201.0.1"), (v2, "10.201.0.2")):
            out = self.run_in(vm, "ip addr add %s/24 dev eth1 && ip link set eth1 up" % ip)
            self.assertEqual(out["exitcode"], "0", out)
        t = time.monotonic()
        self.ping(v1, "10.200.0.2", 3)
        self.timings["vxlan: first ping answered"] = time.monotonic() - t
        self.ping(v2, "10.200.0.1")
        self.ping(v1, "10.201.0.2")
        self.ping(v2, "10.201.0.1")
        # full-sized frames: the guests are told what each tunnel carries
        # whole (1500 less vxlan's 50 bytes, gre's 42), and 2 MB of TCP
        # crosses each tunnel intact
        for dev, mtu in (("eth0", 1450), ("eth1", 1458)):
            out = self.run_in(v1, "cat /sys/class/net/%s/mtu" % dev)
            self.assertEqual(out["stdout"].strip(), str(mtu), out)
        for ip in ("10.200.0.1", "10.201.0.1"):
            self.bulk(v2, v1, ip)

        # capture on the master of the member's guest VIF
        vif2 = [v for v in a.VM.get_VIFs(v2) if a.VIF.get_device(v) == "0"][0]
        sid = h1.server.session
        c = h1.server.connection()
        q = urllib.parse.urlencode({"session_id": sid, "ref": vif2, "filter": "icmp and bogus junk"})
        c.request("GET", "/capture?" + q)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        self.assertEqual(r.status, 400, body)
        self.assertTrue(body.startswith("CAPTURE_FILTER_INVALID icmp and bogus junk"), body)
        out = os.path.join(h1.data_dir, "relayed.pcap")
        p = subprocess.Popen([harness.XE, "-s", h1.address, "-p", str(h1.port), "--nossl", "-u", "root",
                              "-pw", h1.server.password, "vif-capture", "uuid=" + a.VIF.get_uuid(vif2),
                              "filter=icmp", "duration=8", "filename=" + out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(out) and os.path.getsize(out) >= 24, 10, "the relayed capture running")
        # ARP and the gre network's traffic are out of the filter or the VIF
        self.run_in(v2, "ping -c 1 -W 3 10.201.0.1")
        self.ping(v2, "10.200.0.1", 3)
        so, se = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, se)
        lines = tcpdump_lines(out)
        self.assertEqual(len(lines), 6, lines)
        self.assertEqual(sum("10.200.0.2 > 10.200.0.1: ICMP echo request" in l for l in lines), 3, lines)
        self.assertEqual(sum("10.200.0.1 > 10.200.0.2: ICMP echo reply" in l for l in lines), 3, lines)

        # a client that goes: the relay ends, and with it the member's capture
        before = self.packet_sockets(h2)
        c = h1.server.connection()
        c.request("GET", "/capture?" + urllib.parse.urlencode({"session_id": sid, "ref": vif2}))
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.read(24)), 24, "the pcap header, relayed")
        self.assertEqual(self.packet_sockets(h2), before + 1, "the capture runs on the member")
        t = time.monotonic()
        r.close()
        c.close()
        wait_for(lambda: self.packet_sockets(h2) == before, 10, "the member's capture closed")
        self.timings["client gone: the member's capture closed"] = time.monotonic() - t

        # destroying the member's vxlan tunnel: its ports go on both hosts
        acc2 = a.tunnel.get_access_PIF(t2)
        p = h1.server.xe("tunnel-destroy", "uuid=" + a.tunnel.get_uuid(t2))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.ports(h2, bvx), [])
        self.assertEqual(self.ports(h1, bvx), [])
        self.assertNotIn(acc2, a.PIF.get_all())
        out = self.run_in(v1, "ping -c 2 -W 2 10.200.0.2")
        self.assertNotEqual(out["exitcode"], "0", "no tunnel, no way across")
        self.ping(v1, "10.201.0.2")  # the gre network is untouched
        # and again: the ports come back on both
        t2 = a.tunnel.create(self.eth1(h2), vx, "vxlan")
        self.assertEqual(self.ports(h1, bvx), [port_name(kvx, TRANSPORT % 2)])
        self.ping(v1, "10.200.0.2")

        # a host joining later gets the pool's tunnels on its configured eth1
        self.standalone(h3)
        t = time.monotonic()
        self.join(h3)
        want = {(h, b): sorted(port_name(k, TRANSPORT % i) for i in (1, 2, 3) if i != h.index + 1)
                for h in (h1, h2, h3) for b, k in ((bvx, kvx), (bgre, kgre))}
        wait_for(lambda: all(self.ports(h, b) == w for (h, b), w in want.items()), 30,
                 "the tunnels' ports to and on h3")
        self.timings["a joining host: its tunnels up"] = time.monotonic() - t
        protos = {a.tunnel.get_protocol(tu): a.PIF.get_network(a.tunnel.get_access_PIF(tu))
                  for tu in a.tunnel.get_all()
                  if a.PIF.get_host(a.tunnel.get_transport_PIF(tu)) == self.ref[h3.address]}
        self.assertEqual(protos, {"vxlan": vx, "gre": gre})
        v3 = self.guest_on(h3, [vx], "10.200.0.3")
        self.wait_ready(h3, v3)
        self.ping(v3, "10.200.0.1")
        self.ping(v3, "10.200.0.2")
        # what comes in from one tunnel never goes out through another (no loop)
        for h in (h1, h2, h3):
            for port in want[(h, bvx)]:
                self.assertEqual(self.vsctl(h, "get", "port", port, "protected"), "true")
        for vm in (v3, v2, v1):
            a.VM.hard_shutdown(vm)
        for tu in a.tunnel.get_all():
            a.tunnel.destroy(tu)
        for h in (h1, h2, h3):
            self.assertEqual(self.ports(h, bvx) + self.ports(h, bgre), [])
        self.assertEqual([x for x in a.PIF.get_all() if a.PIF.get_device(x).startswith("tunnel")], [])

    def test_3_live_migration_keeps_its_connection(self):
        """A guest with its disk on an NFS SR (NFSv3: QEMU's own client opens
        it) and a TCP connection to a peer on a vxlan network moves h1 -> h2
        -> h1 live: the connection carries on without a gap, the counter on
        its serial console never restarts, its memory (a file in its tmpfs)
        and its disk are as they were, and tcpdump on the destination's
        vif<domid>.0 sees its traffic."""
        a = self.api
        h1, h2, h3 = self.lab.hosts
        if len(self.ref) < 3:
            self.skipTest("h3 did not join (test_1)")
        net = self.private("mig")
        for h in (h1, h2, h3):
            a.tunnel.create(self.eth1(h), net, "vxlan")
        sr = a.SR.create(self.ref[h1.address], self.nfs.device_config("3"), "0", "lab-nfs", "", "nfs", "", True, {})
        wait_for(lambda: len(a.SR.get_PBDs(sr)) == 3 and all(a.PBD.get_currently_attached(p)
                                                              for p in a.SR.get_PBDs(sr)), 30, "the SR on every host")
        t = time.monotonic()
        mover = self.guest_on(h1, [net], "10.202.0.1", disk_sr=sr)
        peer = self.guest_on(h3, [net], "10.202.0.3")
        self.wait_ready(h1, mover)
        self.wait_ready(h3, peer)
        self.timings["migration test: two guests ready (one on NFS)"] = time.monotonic() - t
        uuid = a.VM.get_uuid(mover)
        vdi = a.VBD.get_VDI(a.VM.get_VBDs(mover)[0])
        image = glob.glob(os.path.join(self.nfs.export, "**", "*%s*" % a.VDI.get_uuid(vdi)), recursive=True)
        self.assertEqual(len(image), 1, "the disk's image on the NFS server")

        def qemu_opens_nfs(h):
            pids = guest.qemu_of_uuid(uuid)
            self.assertEqual(len(pids), 1, "one QEMU runs the VM")
            with open("/proc/%d/cmdline" % pids[0], "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
            nodes = [json.loads(v) for k, v in zip(args, args[1:]) if k == "-blockdev" and v.startswith("{")]
            self.assertIn(("nfs", self.nfs.server, image[0]),
                          [(n.get("driver"), n.get("server", {}).get("host"), n.get("path")) for n in nodes],
                          "QEMU opens the disk's image itself over NFS: %r" % args)
            self.assertTrue(guest.qemus_in(os.path.join(h.data_dir, "run")), "the QEMU is %s's" % h.name)
        qemu_opens_nfs(h1)
        self.ping(mover, "10.202.0.3")
        # the peer keeps what arrives; the mover sends a count every 0.1 s and
        # counts on its serial console (in sessions of their own: the agent
        # ends what its command leaves)
        out = self.run_in(peer, "setsid sh -c 'sleep 100000 | nc -l -p 5000 > /tmp/rx' </dev/null >/dev/null 2>&1 &")
        self.assertEqual(out["exitcode"], "0", out)
        wait_for(lambda: ":5000" in self.run_in(peer, "netstat -ltn")["stdout"], 10, "the peer listening")
        out = self.run_in(mover, "setsid sh -c 'i=0; while :; do i=$((i+1)); echo N$i; usleep 100000; done | "
                                 "nc 10.202.0.3 5000' </dev/null >/dev/null 2>&1 &")
        self.assertEqual(out["exitcode"], "0", out)
        # (a new line first: the console shell's prompt has none)
        out = self.run_in(mover, "setsid sh -c 'echo; %s' </dev/null >/dev/console 2>&1 &" % pool_util.COUNTER)
        self.assertEqual(out["exitcode"], "0", out)
        mem = self.run_in(mover, "head -c 8388608 /dev/urandom > /tmp/mem && md5sum /tmp/mem")["stdout"].split()[0]
        out = self.run_in(mover, "echo DISK-OK | dd of=/dev/vda conv=fsync 2>/dev/null && sync")
        self.assertEqual(out["exitcode"], "0", out)

        def received():
            text = self.run_in(peer, "cat /tmp/rx")["stdout"]
            return [int(x) for x in text.split("N")[1:] if x.strip().isdigit()]

        def console(h):
            return pool_util.counts(pool_util.serial_log(h, uuid))

        wait_for(lambda: len(received()) >= 5, 20, "the count arriving at the peer")
        wait_for(lambda: len(console(h1)) >= 5, 20, "the counter on the serial console")
        for to in (h2, h1):
            before = received()[-1]
            counted = console(self.host_of(a.VM.get_resident_on(mover)))[-1]
            t0 = time.monotonic()
            a.VM.pool_migrate(mover, self.ref[to.address], {"live": "true"})
            took = time.monotonic() - t0
            self.assertEqual(a.VM.get_resident_on(mover), self.ref[to.address])
            qemu_opens_nfs(to)
            vif = "vif%s.0" % a.VM.get_domid(mover)
            cap = to.exec("timeout", "10", TCPDUMP, "-nn", "-l", "-i", vif, "-c", "3", "tcp and port 5000",
                          capture_output=True, text=True)
            seen = [line for line in cap.stdout.splitlines() if "10.202.0.1." in line and "10.202.0.3.5000" in line]
            self.assertEqual(len(seen), 3, "tcpdump on %s's %s: %s %s" % (to.name, vif, cap.stdout, cap.stderr))
            wait_for(lambda: received()[-1] >= before + 10, 20, "the count going on after the move to " + to.name)
            # the console's history came along to the new host, and the
            # counter goes on from where it was
            wait_for(lambda: console(to) and console(to)[-1] >= counted + 5, 20,
                     "the console's counter going on on " + to.name)
            after = console(to)
            self.assertIn(counted, after)
            self.assertEqual(after, list(range(1, len(after) + 1)), "the console's counter never restarts")
            self.timings["live migration, disk on NFS, TCP: to %s" % to.name] = took
        got = received()
        self.assertEqual(got, list(range(1, len(got) + 1)), "the connection's count has no gap nor restart")
        self.assertEqual(self.run_in(mover, "md5sum /tmp/mem")["stdout"].split()[0], mem, "the memory came along")
        self.assertEqual(self.run_in(mover, "head -c 7 /dev/vda")["stdout"], "DISK-OK")
        for vm in (mover, peer):
            a.VM.hard_shutdown(vm)
        # what the guest wrote is in the image on the NFS server
        r = subprocess.run(["qemu-io", "-r", "-f", "qcow2", "-c", "read -v 0 7", image[0]], capture_output=True,
                           text=True, timeout=30)
        self.assertIn("00000000:  " + " ".join("%02x" % c for c in b"DISK-OK"), r.stdout, r.stdout + r.stderr)
        for vm in (mover, peer):
            for vbd in a.VM.get_VBDs(vm):
                vdi = a.VBD.get_VDI(vbd)
                a.VBD.destroy(vbd)
                if vdi != harness.NULL_REF:
                    a.VDI.destroy(vdi)
            a.VM.destroy(vm)
        self.assertEqual(glob.glob(image[0]), [], "the VDI's image gone from the NFS server")
        for pbd in a.SR.get_PBDs(sr):
            a.PBD.unplug(pbd)
        a.SR.forget(sr)
        for tu in a.tunnel.get_all():
            a.tunnel.destroy(tu)

    def host_of(self, ref):
        return [h for h in self.lab.hosts if self.ref.get(h.address) == ref][0]

    def test_2_pool_vlan_on_every_host(self):
        """pool.create_VLAN_from_PIF on the master: each host's xenond makes
        the VLAN on its own Open vSwitch (a fake bridge on xenbr1 with the
        tag), guests on two hosts exchange 2 MB of TCP over it; destroying
        the VLANs removes them there."""
        a = self.api
        net = self.private("v100")
        pifs = a.pool.create_VLAN_from_PIF(self.eth1(self.lab.hosts[0]), net, 100)
        self.assertEqual(sorted(a.PIF.get_host(p) for p in pifs), sorted(self.ref.values()))
        bridge = a.network.get_bridge(net)
        hosts = [h for h in self.lab.hosts if h.address in self.ref]  # three, after test_1
        for h in hosts:
            self.assertEqual(self.vsctl(h, "br-to-parent", bridge), "xenbr1", h.name)
            self.assertEqual(self.vsctl(h, "br-to-vlan", bridge), "100", h.name)
        # guests on two hosts: full-sized frames and offloads pass on a VLAN
        # (no tunnel: the NIC keeps its offloads and the network's MTU)
        h1, h2 = hosts[0], hosts[1]
        g1 = self.guest_on(h1, [net], "10.203.0.1")
        g2 = self.guest_on(h2, [net], "10.203.0.2")
        self.wait_ready(h1, g1)
        self.wait_ready(h2, g2)
        self.ping(g1, "10.203.0.2")
        self.assertEqual(a.VIF.get_runtime_properties(a.VM.get_VIFs(g1)[0]), {"tunnelled": "false", "mtu": "1500"})
        self.assertEqual(self.run_in(g1, "cat /sys/class/net/eth0/mtu")["stdout"].strip(), "1500")
        self.bulk(g2, g1, "10.203.0.1")
        for g in (g1, g2):
            a.VM.hard_shutdown(g)
            a.VM.destroy(g)
        for p in pifs:
            self.assertTrue(a.PIF.get_currently_attached(p))
            a.VLAN.destroy(a.PIF.get_VLAN_master_of(p))
        for h in hosts:
            self.assertNotIn(bridge, self.vsctl(h, "list-br").split(), h.name)


if __name__ == "__main__":
    harness.main()
