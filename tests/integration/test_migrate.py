"""Storage motion between two standalone xenonds (lab namespaces, QEMU
backend): VM.migrate_send of a running tiny guest with its disk on the
source's local SR to the destination's, while the guest counts on its
serial console and writes its count to its disk — the counter never
restarts, the disk's content is checked by the guest afterwards, the
source keeps nothing of it. A cancel through the task mid-migration leaves
the VM running at the source and nothing on the destination. Bad input gets
xapi's errors with the VM still running where it was."""

import os
import re
import time
import unittest

import guest
import harness
import lab
from guest import MiB, READY, qemu_of_uuid
from harness import NULL_REF, XapiError

WRITE = "w() { echo $i | dd of=/dev/vda seek=50000 conv=sync,fsync 2>/dev/null; }"
COUNT = "c() { i=$((i+1)); echo C$i; w; }"
LOOP = "while :; do c; sleep 0.2; done &"


class Side(guest.GuestMixin):
    """One lab host seen through the guest helpers."""

    def __init__(self, test, host):
        self.test = test
        self.host = host
        self.api = host.server.api
        self.run_dir = os.path.join(host.server.data_dir, "run")
        self.vms = []
        self.uuids = {}

    def __getattr__(self, name):
        # assertions and the rest of unittest's helpers are the test's
        return getattr(self.test, name)


class StorageMotionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kernel = guest.build()
        cls.lab = lab.Lab(2).make()
        for h in cls.lab.hosts:
            guest.provide(h.data_dir, cls.kernel)
        cls.lab.start(backend="qemu")
        cls.src = cls.lab.hosts[0]
        cls.dst = cls.lab.hosts[1]

    @classmethod
    def tearDownClass(cls):
        for h in cls.lab.hosts:
            try:
                api = h.server.api
                for vm in api.VM.get_all():
                    if not api.VM.get_is_a_template(vm) and api.VM.get_power_state(vm) != "Halted":
                        api.VM.hard_shutdown(vm)
            except Exception:
                pass
        cls.lab.close()
        guest._kill_leftover_qemus()

    # ---- helpers ----

    def side(self, host):
        s = Side(self, host)
        s.kernel = self.kernel
        return s

    def local_sr(self, host):
        api = host.server.api
        return api.pool.get_default_SR(api.pool.get_all()[0])

    def make_vm(self, name, disk=64 * MiB):
        s = self.side(self.src)
        vm = s.new_vm(name)
        vdi = s.new_vdi(sr=self.local_sr(self.src), size=disk, name=name + "-disk")
        s.vbd(vm, vdi, 0)
        return s, vm, vdi

    def dest_map(self):
        api = self.dst.server.api
        host = api.host.get_all()[0]
        pif = [p for p in api.PIF.get_all() if api.PIF.get_management(p)][0]
        return api.host.migrate_receive(host, api.PIF.get_network(pif), {})

    def maps(self, s, vm):
        dapi = self.dst.server.api
        dsr = self.local_sr(self.dst)
        vdis = {}
        for vbd in s.api.VM.get_VBDs(vm):
            v = s.api.VBD.get_VDI(vbd)
            if v != NULL_REF:
                vdis[v] = dsr
        pif = [p for p in dapi.PIF.get_all() if dapi.PIF.get_management(p)][0]
        vifs = {v: dapi.PIF.get_network(pif) for v in s.api.VM.get_VIFs(vm)}
        return vdis, vifs

    def dest_vdis(self):
        dapi = self.dst.server.api
        return {v for v in dapi.VDI.get_all() if dapi.VDI.get_SR(v) == self.local_sr(self.dst)}

    def assert_nothing_on_dest(self, uuid, vdis_before):
        dapi = self.dst.server.api
        self.assertEqual([v for v in dapi.VM.get_all() if dapi.VM.get_uuid(v) == uuid], [])
        self.assertEqual(self.dest_vdis() - vdis_before, set(), "VDIs left on the destination")
        run = os.path.join(self.dst.server.data_dir, "run", "vm", uuid)
        self.assertFalse(os.path.exists(run) and os.listdir(run), "files left in %s" % run)
        taps = self.dst.exec("ip", "-o", "link", stdout=guest.subprocess.PIPE, text=True).stdout
        self.assertNotIn("vif", taps)

    def wait_re(self, side, vm, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, side.serial(vm))
            if m:
                return m
            time.sleep(0.05)
        self.fail("no %r on the console within %ds:\n%s" % (pattern, timeout, side.serial(vm)[-2000:]))

    def shell_ready(self, side, vm):
        """Types until the guest's shell answers (input typed before its
        prompt is lost or mangled)."""
        for attempt in range(15):
            side.console(vm, "echo SH%d-$((40+2))" % attempt)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                if "SH%d-42" % attempt in side.serial(vm):
                    return
                time.sleep(0.05)
        self.fail("the guest's shell does not answer")

    def define(self, side, vm):
        """Types the counter's functions until the guest's shell has both
        (a line typed while the guest is busy can be lost)."""
        for attempt in range(6):
            side.console(vm, WRITE)
            side.console(vm, COUNT)
            side.console(vm, "echo FN%d-$(type w c | grep -c function)" % attempt)
            m = self.wait_re(side, vm, r"FN%d-(\d)" % attempt, 20)
            if m.group(1) == "2":
                return
        self.fail("the guest's shell did not take the counter's functions")

    def counts(self, text):
        return [int(n) for n in re.findall(r"^C(\d+)\r?$", text, re.M)]

    # ---- tests ----

    def assert_streams_tls(self, flows):
        """The disk's NBD connection turned TLS at its first option
        (NBD_OPT_STARTTLS) and the memory stream is TLS from its first
        byte: QEMU's own stream ("QEVM") never seen in the clear."""
        to = [v for k, v in flows.items() if k[1].startswith(self.dst.address + ":")]
        self.assertFalse([v for v in to if b"QEVM" in v], "a plain memory stream")
        nbd = [v for v in to if b"IHAVEOPT" in v]
        self.assertTrue(nbd, "no NBD connection to the destination seen")
        for v in nbd:
            opt = v.index(b"IHAVEOPT")
            self.assertEqual(v[opt + 8:opt + 12], b"\x00\x00\x00\x05", "the first NBD option is STARTTLS")
            self.assertEqual(v[opt + 16:opt + 18], b"\x16\x03", "a TLS handshake follows it")
        memory = max([v for v in to if b"IHAVEOPT" not in v], key=len)
        self.assertGreater(len(memory), 10000)
        self.assertEqual(memory[:2], b"\x16\x03", "the memory stream begins %r" % memory[:16])

    def test_1_migrate_send_with_disk(self):
        s, vm, vdi = self.make_vm("sxm")
        uuid = s.api.VM.get_uuid(vm)
        s.start_ready(vm)
        self.shell_ready(s, vm)
        # 4 MiB of random data whose checksum the guest checks afterwards
        # each command's output awaited before the next is typed: what
        # arrives while the guest's shell is busy can be eaten
        s.console(vm, "dd if=/dev/urandom of=/dev/vda bs=1M count=4 conv=fsync;echo D$((1+1))K")
        self.wait_re(s, vm, r"D2K")
        s.console(vm, "echo H1-$(head -c 4194304 /dev/vda | md5sum | cut -c1-32)-END")
        h1 = self.wait_re(s, vm, r"H1-([0-9a-f]{32})-END").group(1)
        self.define(s, vm)
        s.console(vm, LOOP)
        s.wait_serial(vm, "C5")

        vdis, vifs = self.maps(s, vm)
        dest = self.dest_map()
        self.assertEqual(set(dest), {"SM", "host", "xenops", "session_id", "master"})
        s.api.VM.assert_can_migrate(vm, dest, True, vdis, vifs, {})
        t0 = time.monotonic()
        # the 6-parameter call Xen Orchestra makes, as a task
        with self.lab.capture() as cap:
            task = s.api.Async.VM.migrate_send(vm, dest, True, vdis, vifs, {})
            res = self.wait_task(s.api, task, 120)
        took = time.monotonic() - t0
        self.assert_streams_tls(cap.flows)
        dapi = self.dst.server.api
        new_vm = res
        self.assertEqual(dapi.VM.get_uuid(new_vm), uuid, "the VM keeps its uuid")
        self.assertEqual(dapi.VM.get_power_state(new_vm), "Running")
        self.assertEqual(dapi.VM.get_resident_on(new_vm), dapi.host.get_all()[0])
        self.assertGreater(int(dapi.VM.get_domid(new_vm)), 0)
        self.assertNotEqual(dapi.VM.get_consoles(new_vm), [])
        metrics = dapi.VM.get_metrics(new_vm)
        self.assertEqual(int(dapi.VM_metrics.get_memory_actual(metrics)), 256 * MiB)
        # the source has nothing of it any more: no record, no QEMU, no disk
        self.assertEqual([v for v in s.api.VM.get_all() if v == vm], [])
        with self.assertRaises(XapiError):
            s.api.VDI.get_uuid(vdi)
        self.assertEqual(len(qemu_of_uuid(uuid)), 1, "one QEMU of the VM: the destination's")
        d = self.side(self.dst)
        d.uuids[new_vm] = uuid
        src_log = os.path.join(s.run_dir, "vm", uuid, "serial.log")
        before = []
        if os.path.exists(src_log):
            with open(src_log, errors="replace") as f:
                before = self.counts(f.read())
        # the console's history came along, and the counter goes on from it
        self.assertIn(READY, d.serial(new_vm))
        last = before[-1] if before else 5
        self.wait_re(d, new_vm, r"(?m)^C%d\r?$" % (last + 3), 15)
        after = self.counts(d.serial(new_vm))
        self.assertIn(last, after)
        # (the first lines may share a line with the shell's prompt)
        after = [n for n in after if n >= 5]
        self.assertEqual(after, list(range(after[0], after[0] + len(after))), "the counter never restarts")
        # the guest checks its disk: the random data and the last count it wrote
        d.console(new_vm, "kill %1; sleep 0.5")
        d.console(new_vm, "echo H2-$(head -c 4194304 /dev/vda | md5sum | cut -c1-32)-END")
        h2 = self.wait_re(d, new_vm, r"H2-([0-9a-f]{32})-END").group(1)
        self.assertEqual(h1, h2, "the disk's data came along")
        d.console(new_vm, "echo D-$(dd if=/dev/vda skip=50000 count=1 2>/dev/null | head -1)-E")
        last_disk = int(self.wait_re(d, new_vm, r"D-(\d+)-E").group(1))
        last_console = self.counts(d.serial(new_vm))[-1]
        # (the kill may land between a count's echo and its write)
        self.assertIn(last_disk, (last_console - 1, last_console), "every count written reached the disk")
        print("  migrate_send of a 256 MiB guest with a 64 MiB disk: %.2f s" % took)
        dapi.VM.hard_shutdown(new_vm)

    def wait_task(self, api, task, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = api.task.get_status(task)
            if st == "success":
                r = api.task.get_result(task)
                m = re.search(r"OpaqueRef:[0-9a-f-]+", r)
                return m.group(0) if m else r
            if st in ("failure", "cancelled"):
                raise XapiError(*(lambda e: (e[0], e[1:]))(api.task.get_error_info(task)))
            time.sleep(0.1)
        self.fail("task %s not done within %d s" % (task, timeout))

    def test_2_cancel_leaves_it_at_the_source(self):
        s, vm, vdi = self.make_vm("cancel", disk=512 * MiB)
        uuid = s.api.VM.get_uuid(vm)
        s.start_ready(vm)
        self.shell_ready(s, vm)
        self.define(s, vm)
        s.console(vm, LOOP)
        s.wait_serial(vm, "C3")
        vdis, vifs = self.maps(s, vm)
        dest = self.dest_map()
        before = self.dest_vdis()
        task = s.api.Async.VM.migrate_send(vm, dest, True, vdis, vifs, {})
        # cancel once the destination has the VM waiting
        dapi = self.dst.server.api
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and uuid not in [dapi.VM.get_uuid(v) for v in dapi.VM.get_all()]:
            time.sleep(0.05)
        s.api.task.cancel(task)
        with self.assertRaises(XapiError) as cm:
            self.wait_task(s.api, task, 60)
        self.assertEqual(cm.exception.code, "TASK_CANCELLED")
        self.assertEqual(s.api.VM.get_power_state(vm), "Running")
        self.assertEqual(s.api.VM.get_current_operations(vm), {})
        n = self.counts(s.serial(vm))[-1]
        s.wait_serial(vm, "C%d" % (n + 2), 10)
        self.assert_nothing_on_dest(uuid, before)
        self.assertEqual(len(qemu_of_uuid(uuid)), 1)
        s.api.VM.hard_shutdown(vm)

    def test_3_bad_input(self):
        s, vm, vdi = self.make_vm("bad")
        uuid = s.api.VM.get_uuid(vm)
        before = self.dest_vdis()
        vdis, vifs = self.maps(s, vm)
        dest = self.dest_map()
        # a halted VM
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, dest, True, vdis, vifs, {})
        self.assertEqual(cm.exception.code, "VM_BAD_POWER_STATE")
        # a template
        tpl = [v for v in s.api.VM.get_all() if s.api.VM.get_is_a_template(v)][0]
        with self.assertRaises(XapiError) as cm:
            s.api.VM.assert_can_migrate(tpl, dest, True, {}, {}, {})
        self.assertEqual(cm.exception.code, "VM_IS_TEMPLATE")
        s.start_ready(vm)
        self.shell_ready(s, vm)
        # a disk left out of the map
        with self.assertRaises(XapiError) as cm:
            s.api.VM.assert_can_migrate(vm, dest, True, {}, vifs, {})
        self.assertEqual(cm.exception.code, "VDI_NOT_IN_MAP")
        self.assertEqual(cm.exception.params[0], vdi)
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, dest, True, {}, vifs, {}, {})  # 7 parameters
        self.assertEqual(cm.exception.code, "VDI_NOT_IN_MAP")
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, dest, True, {}, vifs, {}, {}, {})  # 8: with vdi_format_map
        self.assertEqual(cm.exception.code, "VDI_NOT_IN_MAP")
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, dest, True, {}, vifs, {}, {}, {}, {})  # 9: too many
        self.assertEqual(cm.exception.code, "MESSAGE_PARAMETER_COUNT_MISMATCH")
        # changed block tracking on a disk
        s.api.VDI.enable_cbt(vdi)
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, dest, True, vdis, vifs, {})
        self.assertEqual(cm.exception.code, "VDI_CBT_ENABLED")
        s.api.VDI.disable_cbt(vdi)
        # a dest map without a session
        bad = dict(dest)
        del bad["session_id"]
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, bad, True, vdis, vifs, {})
        self.assertEqual(cm.exception.code, "VM_MIGRATE_FAILED")
        # a destination that cannot be reached
        bad = dict(dest, master="http://10.77.0.99:8080")
        with self.assertRaises(XapiError) as cm:
            s.api.VM.migrate_send(vm, bad, True, vdis, vifs, {})
        self.assertEqual(cm.exception.code, "CANNOT_CONTACT_HOST")
        # a disabled destination
        dapi = self.dst.server.api
        dhost = dapi.host.get_all()[0]
        dapi.host.disable(dhost)
        try:
            with self.assertRaises(XapiError) as cm:
                self.dest_map()
            self.assertEqual(cm.exception.code, "HOST_DISABLED")
            with self.assertRaises(XapiError) as cm:
                s.api.VM.assert_can_migrate(vm, dest, True, vdis, vifs, {})
            self.assertEqual(cm.exception.code, "HOST_DISABLED")
        finally:
            dapi.host.enable(dhost)
        # the source host cannot go down while enabled, nor while it runs the VM
        shost = s.api.host.get_all()[0]
        with self.assertRaises(XapiError) as cm:
            s.api.host.shutdown(shost)
        self.assertEqual(cm.exception.code, "HOST_NOT_DISABLED")
        s.api.host.disable(shost)
        try:
            self.assertFalse(s.api.host.get_enabled(shost))
            for call in (s.api.host.shutdown, s.api.host.reboot):
                with self.assertRaises(XapiError) as cm:
                    call(shost)
                self.assertEqual(cm.exception.code, "HOST_IN_USE")
                self.assertEqual(cm.exception.params[:2], [shost, "vm"])
                self.assertIn(cm.exception.params[2], s.api.VM.get_all())
            # a standalone host has nowhere to send it
            prevent = s.api.host.get_vms_which_prevent_evacuation(shost)
            self.assertIn(vm, prevent)
            self.assertEqual(prevent[vm][0], "VM_MIGRATE_FAILED")
        finally:
            s.api.host.enable(shost)
        self.assertTrue(s.api.host.get_enabled(shost))
        self.assertEqual(s.api.VM.get_power_state(vm), "Running")
        self.assert_nothing_on_dest(uuid, before)
        s.api.VM.hard_shutdown(vm)

    def test_4_xe_vm_migrate_remote(self):
        s, vm, vdi = self.make_vm("xe-sxm")
        uuid = s.api.VM.get_uuid(vm)
        s.start_ready(vm)
        self.shell_ready(s, vm)
        dsr_uuid = self.dst.server.api.SR.get_uuid(self.local_sr(self.dst))
        vdi_uuid = s.api.VDI.get_uuid(vdi)
        self.src.server.xe("vm-migrate", "uuid=" + uuid, "remote-master=%s:%d" % (self.dst.address, self.dst.port),
                           "remote-username=root", "remote-password=" + self.dst.server.password,
                           "vdi:%s=%s" % (vdi_uuid, dsr_uuid), timeout=120)
        dapi = self.dst.server.api
        new_vm = dapi.VM.get_by_uuid(uuid)
        self.assertEqual(dapi.VM.get_power_state(new_vm), "Running")
        self.assertNotIn(uuid, [s.api.VM.get_uuid(v) for v in s.api.VM.get_all()])
        d = self.side(self.dst)
        d.uuids[new_vm] = uuid
        d.console(new_vm, "echo ALIVE-$((20+3))")
        d.wait_serial(new_vm, "ALIVE-23", 20)
        dapi.VM.hard_shutdown(new_vm)

    def test_5_vdi_pool_migrate(self):
        s, vm, vdi = self.make_vm("vdi-move")
        api = s.api
        host = api.host.get_all()[0]
        d = os.path.join(self.src.data_dir, "sr2")
        os.makedirs(d)
        sr2 = api.SR.create(host, {"path": d}, "0", "second", "", "ext", "", False, {})
        # a halted VM's disk does not move this way
        with self.assertRaises(XapiError) as cm:
            api.VDI.pool_migrate(vdi, sr2, {})
        self.assertEqual(cm.exception.code, "VM_BAD_POWER_STATE")
        s.start_ready(vm)
        self.shell_ready(s, vm)
        s.console(vm, "dd if=/dev/urandom of=/dev/vda bs=1M count=2 conv=fsync;echo D$((1+1))K")
        self.wait_re(s, vm, r"D2K")
        s.console(vm, "echo M1-$(head -c 2097152 /dev/vda | md5sum | cut -c1-32)-END")
        m1 = self.wait_re(s, vm, r"M1-([0-9a-f]{32})-END").group(1)
        self.define(s, vm)
        s.console(vm, LOOP)
        s.wait_serial(vm, "C3")
        out = self.src.server.xe("vdi-pool-migrate", "uuid=" + api.VDI.get_uuid(vdi),
                                 "sr-uuid=" + api.SR.get_uuid(sr2), timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        new = api.VDI.get_by_uuid(out.stdout.strip())
        self.assertEqual(api.VDI.get_SR(new), sr2)
        with self.assertRaises(XapiError):
            api.VDI.get_uuid(vdi)  # the old disk is gone
        vbd = api.VM.get_VBDs(vm)[0]
        self.assertEqual(api.VBD.get_VDI(vbd), new)
        self.assertTrue(api.VBD.get_currently_attached(vbd))
        # the guest went on counting and its data is there
        n = self.counts(s.serial(vm))[-1]
        s.wait_serial(vm, "C%d" % (n + 2), 10)
        s.console(vm, "kill %1; sleep 0.5")
        s.console(vm, "echo M2-$(head -c 2097152 /dev/vda | md5sum | cut -c1-32)-END")
        self.assertEqual(self.wait_re(s, vm, r"M2-([0-9a-f]{32})-END").group(1), m1)
        s.console(vm, "echo D-$(dd if=/dev/vda skip=50000 count=1 2>/dev/null | head -1)-E")
        # the kill may land between a count's echo and its write
        last = self.counts(s.serial(vm))[-1]
        self.assertIn(int(self.wait_re(s, vm, r"D-(\d+)-E").group(1)), (last - 1, last))
        # the image on the new SR is the one the QEMU has open
        path = [f for f in os.listdir(d) if api.VDI.get_uuid(new) in f]
        self.assertTrue(path, os.listdir(d))
        pid = guest.read_pid(s.vm_dir(vm))
        fds = [os.readlink("/proc/%d/fd/%s" % (pid, f)) for f in os.listdir("/proc/%d/fd" % pid)]
        self.assertTrue(any(d in f for f in fds), "QEMU has the new image open")
        self.assertFalse(any(self.local_sr_dir(self.src) in f and "sr2" not in f for f in fds if f.endswith(".qcow2")),
                         "QEMU closed the old image")
        api.VM.hard_shutdown(vm)

    def local_sr_dir(self, host):
        api = host.server.api
        pbd = api.SR.get_PBDs(self.local_sr(host))[0]
        return api.PBD.get_device_config(pbd).get("path", "/nonexistent")


if __name__ == "__main__":
    harness.main()
