"""High availability in a pool of three lab hosts (QEMU backend) on a
shared NFS SR, HA timeout 10 s: refusals with xapi's errors, then a
protected VM (the tiny guest, a disk on an NFS SR) survives its host's
power loss (every process of the host's namespace killed) and a partition
(its host's switch port down): it runs again on another host, and the
QEMU processes that ran it — watched in /proc all along — never overlap,
so two never had its disk open at once. (The NFS server is
pool_util.LabNfs in the lab's switch namespace: the heartbeat SR is NFSv4,
reached by xenond in userspace; the guest's disk is on an NFSv3 SR, which
QEMU's own NFS client opens: its TCP connection to the server's NFS
port, seen in /proc, shows which QEMU has the disk open.) Last, the daemon
of the VM's host alone is killed, its QEMU left running: the host's HA
watchdog kills that QEMU before the VM is started elsewhere. The power-cut
host comes back with no VM of its own; the partitioned one fences itself
(its QEMU gone before the copy starts) and rejoins as a member running
nothing."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import guest
import harness
import lab
import pool_util
from harness import XapiError
from pool_util import LabNfs

MiB = 1 << 20
TIMEOUT = 10


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (XapiError, OSError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def tcp_peers(pid):
    """(address, port) of every established TCP connection of a process
    (its sockets, looked up in its network namespace's /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        with open("/proc/%d/net/tcp" % pid) as f:
            rows = [line.split() for line in f.readlines()[1:]]
    except OSError:
        return set()
    peers = set()
    for r in rows:
        if len(r) > 9 and r[3] == "01" and r[9] in inodes:  # ESTABLISHED
            ip, port = r[2].split(":")
            peers.add((socket.inet_ntoa(struct.pack("<I", int(ip, 16))), int(port, 16)))
    return peers


class QemuWatch(threading.Thread):
    """Polls /proc every 20 ms for QEMUs of one VM: pid -> [host, first
    seen, last seen] (monotonic). With disk_server (address, port): also
    while each has a connection there, its disk open on an NFS server."""

    def __init__(self, uuid, hosts, disk_server=None):
        super().__init__(daemon=True)
        self.uuid = uuid
        self.disk_server = disk_server
        self.ns = {os.stat("/run/netns/" + h.netns).st_ino: h.name for h in hosts}
        self.seen = {}
        self.open = {}  # pid -> [host, first, last] while it has the disk open
        self.stopped = False
        self.start()

    def has_disk(self, pid):
        return self.disk_server in tcp_peers(pid)

    def run(self):
        while not self.stopped:
            now = time.monotonic()
            for pid in guest.qemu_of_uuid(self.uuid):
                if pid not in self.seen:
                    try:
                        host = self.ns.get(os.stat("/proc/%d/ns/net" % pid).st_ino, "?")
                    except OSError:
                        continue
                    self.seen[pid] = [host, now, now]
                else:
                    self.seen[pid][2] = now
                if self.disk_server and self.has_disk(pid):
                    if pid not in self.open:
                        self.open[pid] = [self.seen[pid][0], now, now]
                    else:
                        self.open[pid][2] = now
            time.sleep(0.02)

    def intervals(self):
        return sorted(self.seen.values(), key=lambda v: v[1])

    def assert_never_two(self, test):
        for iv in (self.intervals(), sorted(self.open.values(), key=lambda v: v[1])):
            for a, b in zip(iv, iv[1:]):
                test.assertLess(a[2], b[1], "two QEMUs of the VM at once: %r" % iv)


class PoolHaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kernel = guest.build()
        cls.lab = lab.Lab(3).make()
        for h in cls.lab.hosts:
            guest.provide(h.data_dir, cls.kernel)
            h.start(backend="qemu")
        cls.nfs = LabNfs(tempfile.mkdtemp(prefix="xenon-lab-nfs-"))
        cls.nfs.start()
        refs = pool_util.join(cls.lab)
        cls.ref = {h.name: refs[h.address] for h in cls.lab.hosts}

    @classmethod
    def tearDownClass(cls):
        try:
            pool_util.halt_vms(cls.master_api())
        except Exception:
            pass
        cls.lab.close()
        cls.nfs.stop()
        shutil.rmtree(cls.nfs.base, True)
        guest._kill_leftover_qemus()

    cut = set()

    @classmethod
    def master_api(cls, timeout=30):
        """The API of whichever host is master now."""
        def find():
            for h in cls.lab.hosts:
                if h.name in cls.cut or h.server is None or not h.server.alive():
                    continue
                try:
                    h.server.call("session.login_with_password", "root", h.server.password, "1.0", "t",
                                  timeout=2)
                except Exception:
                    continue
                h.server._session = None
                return h.server.api
            return None
        return wait_for(find, timeout, "a master")

    def host_named(self, ref):
        """The lab host of a host record: the one found for it at set-up,
        else the one at the record's address (said on stdout, with every
        host record, as the pool should hold one record per host)."""
        known = [h for h in self.lab.hosts if self.ref[h.name] == ref]
        if known:
            return known[0]
        a = self.master_api()
        address = a.host.get_address(ref)
        print("# %s is not the record found for its host at set-up; the host records: %s" % (
            ref, [(r, a.host.get_uuid(r), a.host.get_address(r)) for r in a.host.get_all()]))
        return [h for h in self.lab.hosts if h.address == address][0]

    def assertError(self, code, fn, *args):
        with self.assertRaises(XapiError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.code, code, cm.exception.params)
        return list(cm.exception.params)

    def new_vm(self, name, affinity, sr):
        a = self.master_api()
        mem = 256 * MiB
        vm = a.VM.create({
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": affinity, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": self.kernel, "PV_ramdisk": "initrd.img",
            "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})
        if sr is None:
            return vm, None
        vdi = a.VDI.create({"name_label": "d", "name_description": "", "SR": sr, "virtual_size": str(8 * MiB),
                            "type": "user", "sharable": False, "read_only": False, "other_config": {},
                            "xenstore_data": {}, "sm_config": {}, "tags": []})
        a.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False, "mode": "RW", "type": "Disk",
                      "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
                      "qos_algorithm_params": {}})
        return vm, vdi

    def serial(self, h, uuid):
        try:
            with open(os.path.join(h.data_dir, "run", "vm", uuid, "serial.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def running_elsewhere(self, vm, gone):
        a = self.master_api()
        on = a.VM.get_resident_on(vm)
        if a.VM.get_power_state(vm) != "Running" or on == self.ref[gone.name]:
            return None
        return self.host_named(on)

    def power_cut(self, h):
        """Every process of the host's namespace killed at once."""
        out = subprocess.run([lab.IP, "netns", "pids", h.netns], stdout=subprocess.PIPE, text=True).stdout
        for pid in out.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass

    def test_ha(self):
        h1, h2, h3 = self.lab.hosts
        a = self.master_api()
        pool = a.pool.get_all()[0]
        local = [s for s in a.SR.get_all() if not a.SR.get_shared(s) and a.SR.get_type(s) != "iso"][0]

        # ---- refusals before there is a shared SR ----
        self.assertError("CANNOT_CREATE_STATE_FILE", a.pool.enable_ha, [], {})
        self.assertError("INCOMPATIBLE_STATEFILE_SR", a.pool.enable_ha, [local], {})
        self.assertError("HA_NOT_ENABLED", a.pool.disable_ha)
        self.assertFalse(a.pool.get_ha_enabled(pool))

        nsr = a.SR.create(self.ref["h1"], self.nfs.device_config(), "0", "nfs-shared", "", "nfs", "", True, {})
        wait_for(lambda: all(a.PBD.get_currently_attached(p) for p in a.SR.get_PBDs(nsr)) and
                 len(a.SR.get_PBDs(nsr)) == 3, 30, "the NFS SR on every host")
        self.assertError("HANDLE_INVALID", a.pool.enable_ha, ["OpaqueRef:nope"], {})
        self.assertError("INVALID_VALUE", a.pool.enable_ha, [nsr], {"timeout": "3"})
        self.assertEqual(a.pool.get_ha_statefiles(pool), [])

        # the guest's disk on an NFSv3 SR: QEMU opens its image over NFS itself
        dsr = a.SR.create(self.ref["h1"], self.nfs.device_config("3"), "0", "nfs-disks", "", "nfs", "", True, {})
        wait_for(lambda: len(a.SR.get_PBDs(dsr)) == 3 and
                 all(a.PBD.get_currently_attached(p) for p in a.SR.get_PBDs(dsr)), 30, "the disks' SR on every host")
        vm, _ = self.new_vm("protected", self.ref["h2"], dsr)
        uuid = a.VM.get_uuid(vm)
        self.assertError("INVALID_VALUE", a.VM.set_ha_restart_priority, vm, "sometimes")
        r = h1.server.xe("vm-param-set", "uuid=" + uuid, "ha-restart-priority=restart")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(a.VM.get_ha_restart_priority(vm), "restart")
        self.assertTrue(a.VM.get_ha_always_run(vm))

        # ---- enable, with xe ----
        r = h1.server.xe("pool-ha-enable", "heartbeat-sr-uuids=" + a.SR.get_uuid(nsr),
                         "ha-config:timeout=%d" % TIMEOUT, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(a.pool.get_ha_enabled(pool))
        self.assertEqual(a.pool.get_ha_configuration(pool), {"timeout": str(TIMEOUT)})
        files = a.pool.get_ha_statefiles(pool)
        self.assertEqual(len(files), 1)
        self.assertEqual(a.VDI.get_type(files[0]), "ha_statefile")
        self.assertEqual(a.VDI.get_SR(files[0]), nsr)
        self.assertEqual(a.host.get_ha_statefiles(self.ref["h3"]), files)
        sf_uuid = a.VDI.get_uuid(files[0])
        sr_dir = os.path.join(self.nfs.export, a.SR.get_uuid(nsr))
        self.assertTrue(os.path.exists(os.path.join(sr_dir, sf_uuid + ".statefile")))
        wait_for(lambda: all(os.path.exists(os.path.join(sr_dir, "%s.hb-%s" % (
            sf_uuid, a.host.get_uuid(self.ref[h.name])))) for h in self.lab.hosts), 20,
            "every host's heartbeat on the SR")

        # refusals while HA is on
        self.assertError("HA_IS_ENABLED", a.pool.enable_ha, [nsr], {})
        self.assertError("HA_IS_ENABLED", a.pool.eject, self.ref["h3"])
        self.assertError("HA_IS_ENABLED", a.pool.designate_new_master, self.ref["h2"])
        self.assertError("INVALID_VALUE", a.pool.set_ha_host_failures_to_tolerate, pool, -1)
        self.assertError("HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", self.local_protected, a, local)
        # the failover plan: 256 MiB guests fit anywhere here
        a.pool.set_ha_host_failures_to_tolerate(pool, 1)
        self.assertEqual(a.pool.get_ha_host_failures_to_tolerate(pool), 1)
        self.assertTrue(a.pool.ha_failover_plan_exists(1))
        r = h1.server.xe("pool-ha-compute-max-host-failures-to-tolerate")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(int(r.stdout.strip()), a.pool.ha_compute_max_host_failures_to_tolerate())
        self.assertEqual(a.pool.ha_compute_hypothetical_max_host_failures_to_tolerate({}), 2)

        # ---- power loss of the host running the protected VM ----
        a.VM.start(vm, False, False)
        self.assertEqual(a.VM.get_resident_on(vm), self.ref["h2"])
        self.assertFalse(a.pool.ha_failover_plan_exists(3), "no plan when every host fails")
        self.assertTrue(a.pool.ha_failover_plan_exists(2))
        watch = QemuWatch(uuid, self.lab.hosts, (self.nfs.server, 2049))
        wait_for(lambda: guest.READY in self.serial(h2, uuid), 90, "the guest ready on h2")
        t0 = time.monotonic()
        self.power_cut(h2)
        self.cut.add("h2")
        to = wait_for(lambda: self.running_elsewhere(vm, h2), 60, "the VM running on another host")
        took_power = time.monotonic() - t0
        print("  power loss -> VM running on %s: %.1f s (HA timeout %d s)" % (to.name, took_power, TIMEOUT))
        self.assertLessEqual(took_power, 30)
        self.assertGreaterEqual(took_power, TIMEOUT, "restarted before the dead host had surely fenced")
        wait_for(lambda: guest.READY in self.serial(to, uuid), 90, "the guest ready on " + to.name)
        watch.assert_never_two(self)
        self.assertEqual(len(guest.qemu_of_uuid(uuid)), 1)
        # xapi's alert for the dead host
        h2_uuid = a.host.get_uuid(self.ref["h2"])
        failed = [m for m in a.message.get_all_records().values() if m["name"] == "HA_HOST_FAILED"]
        self.assertEqual([(m["cls"], m["obj_uuid"]) for m in failed], [("Host", h2_uuid)])
        self.assertEqual(sorted(v[0] for v in watch.open.values()), sorted(["h2", to.name]),
                         "the disk was open in the first QEMU and in the restarted one")

        # the host comes back: a member with nothing of the VM running
        h2.server.start(timeout=40, port=h2.port)
        self.cut.discard("h2")
        a = self.master_api()
        wait_for(lambda: a.host_metrics.get_live(a.host.get_metrics(self.ref["h2"])), 40, "h2 live again")
        self.sync(60)
        time.sleep(2)
        self.assertEqual(guest.qemus_in(os.path.join(h2.data_dir, "run")), [])
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[to.name])
        self.assertEqual(a.VM.get_power_state(vm), "Running")

        # ---- partition of the host running it now ----
        victim = to
        t0 = time.monotonic()
        self.lab.cut(victim)
        self.cut.add(victim.name)
        to = wait_for(lambda: self.running_elsewhere(vm, victim), 60, "the VM running off the cut host")
        took_cut = time.monotonic() - t0
        print("  partition of %s -> VM running on %s: %.1f s" % (victim.name, to.name, took_cut))
        iv = watch.intervals()
        on_victim = [v for v in iv if v[0] == victim.name]
        on_new = [v for v in iv if v[0] == to.name and v[1] > t0]
        self.assertEqual(len(on_victim), 1, iv)
        self.assertEqual(len(on_new), 1, iv)
        self.assertLess(on_victim[0][2], on_new[0][1], "the cut host's QEMU was gone before the copy started")
        self.assertLess(on_victim[0][2] - t0, TIMEOUT, "the cut host fenced itself within the HA timeout")
        held = sorted((v for v in watch.open.values() if v[2] > t0), key=lambda v: v[1])
        self.assertEqual([v[0] for v in held], [victim.name, to.name], held)
        self.assertLess(held[0][2], held[1][1], "the disk was let go on the cut host before the copy opened it")
        print("  the cut host's QEMU ended %.1f s after the cut, the copy opened the disk %.1f s after it ended" %
              (on_victim[0][2] - t0, held[1][1] - held[0][2]))
        watch.assert_never_two(self)
        self.lab.heal(victim)
        self.cut.discard(victim.name)
        a = self.master_api()
        wait_for(lambda: a.host_metrics.get_live(a.host.get_metrics(self.ref[victim.name])), 40,
                 victim.name + " live again")
        wait_for(lambda: "hears the pool again after its fence" in victim.server.log_text(), 90,
                 victim.name + " back in the pool's Raft after its fence")
        self.sync(90)
        self.assertEqual(guest.qemus_in(os.path.join(victim.data_dir, "run")), [])
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[to.name])
        self.assertEqual(len(guest.qemu_of_uuid(uuid)), 1)
        watch.assert_never_two(self)

        # ---- the daemon alone dies (its QEMU lives on): the watchdog ----
        victim = to
        qemu = [p for p, v in watch.seen.items() if v[0] == victim.name and v[2] > time.monotonic() - 1]
        self.assertEqual(len(qemu), 1)
        t0 = time.monotonic()
        victim.server.kill9()
        self.cut.add(victim.name)
        to = wait_for(lambda: self.running_elsewhere(vm, victim), 60, "the VM running off the dead daemon's host")
        took_wd = time.monotonic() - t0
        ended = watch.seen[qemu[0]][2] - t0
        print("  xenond of %s killed -> its QEMU killed by the watchdog after %.1f s, VM running on %s: %.1f s" %
              (victim.name, ended, to.name, took_wd))
        self.assertLess(ended, TIMEOUT, "the watchdog killed the orphaned QEMU within the HA timeout")
        self.assertIn("HA watchdog", victim.server.log_text())
        watch.assert_never_two(self)
        victim.server.start(timeout=40, port=victim.port)
        self.cut.discard(victim.name)
        a = self.master_api()
        wait_for(lambda: a.host_metrics.get_live(a.host.get_metrics(self.ref[victim.name])), 40,
                 victim.name + " live again")
        self.sync(60)
        time.sleep(2)
        self.assertEqual(guest.qemus_in(os.path.join(victim.data_dir, "run")), [])
        self.assertIs(self.host_named(a.VM.get_resident_on(vm)), to)
        watch.assert_never_two(self)

        watch.stopped = True

        # ---- disable ----
        r = self.master_host().server.xe("pool-ha-disable", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        a = self.master_api()
        self.assertFalse(a.pool.get_ha_enabled(pool))
        self.assertEqual(a.pool.get_ha_statefiles(pool), [])
        self.assertNotIn(files[0], a.VDI.get_all())
        self.assertFalse([f for f in os.listdir(sr_dir) if ".hb-" in f or ".statefile" in f])
        a.VM.hard_shutdown(vm)

    def sync(self, timeout):
        """Until every host holds the whole log (pool.sync_database)."""
        def synced():
            try:
                self.master_api().pool.sync_database()
                return True
            except XapiError:
                return False
        wait_for(synced, timeout, "every host in step")

    def master_host(self):
        api = self.master_api()
        addr = api.host.get_address(api.pool.get_master(api.pool.get_all()[0]))
        return [h for h in self.lab.hosts if h.address == addr][0]

    def local_protected(self, a, local):
        vm, _ = self.new_vm("local", self.ref["h1"], local)
        try:
            a.VM.set_ha_restart_priority(vm, "restart")
        finally:
            a.VM.destroy(vm)


if __name__ == "__main__":
    harness.main()
