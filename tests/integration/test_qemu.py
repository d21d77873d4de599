"""Real VMs: xenond with --backend qemu boots the tiny test guest
(scripts/build-test-guest.sh) by direct kernel boot under QEMU (TCG here)
and drives it over QMP: start, pause/unpause, ACPI clean shutdown, a disk
from the default SR, guest-initiated reboot and power-off handled by
actions_after_*, a QEMU killed behind xenond's back, clean reboot through the
guest agent, and kill -9 of xenond with the VM re-adopted by the next one.
Bad input (a kernel outside the guest-kernel directory, memory that does not
fit) starts nothing and leaves no files.

Skipped only when qemu-system-x86_64 is missing."""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402
from harness import NULL_REF  # noqa: E402
from guest import MiB, QEMU, READY, read_pid, qemu_alive, qemu_of_uuid  # noqa: E402


@unittest.skipIf(QEMU is None, "qemu-system-x86_64 is not installed")
class QemuTest(guest.GuestTestCase):
    def assert_ran_on(self, vm, domid, pid):
        """vm runs on in the same domain and QEMU, with no operation left."""
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["power_state"], "Running")
        self.assertEqual(int(rec["domid"]), domid)
        self.assertEqual(rec["current_operations"], {})
        self.assertEqual(read_pid(self.vm_dir(vm)), pid)
        self.assertTrue(qemu_alive(pid, rec["uuid"]))

    # ---- bad input: nothing starts, nothing is left ----

    def test_01_kernel_outside_guest_dir(self):
        outside = os.path.join(self.srv.data_dir, "vmlinuz-outside")
        shutil.copy(os.path.join(self.kdir, self.kernel), outside)
        os.symlink(outside, os.path.join(self.kdir, "link-out"))
        for kernel in (outside, "/etc/passwd", "../vmlinuz-outside", "link-out",
                       os.path.join(self.kdir, "..", "vmlinuz-outside")):
            vm = self.new_vm("bad-kernel", kernel=kernel)
            e = self.assertXapiError("PERMISSION_DENIED", self.api.VM.start, vm, False, False)
            self.assertIn("illegal boot file path", e.params[0])
            self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
            self.assertEqual(self.api.VM.get_current_operations(vm), {})
            self.assert_no_qemu(vm)
        # the ramdisk is held to the same rule
        vm = self.new_vm("bad-ramdisk", ramdisk="/etc/hostname")
        self.assertXapiError("PERMISSION_DENIED", self.api.VM.start, vm, False, False)
        self.assert_no_qemu(vm)
        # inside the directory but missing: the boot itself fails
        vm = self.new_vm("no-kernel", kernel="no-such-kernel")
        e = self.assertXapiError("BOOTLOADER_FAILED", self.api.VM.start, vm, False, False)
        self.assertEqual(e.params[0], vm)
        self.assert_no_qemu(vm)

    def test_02_memory_that_does_not_fit(self):
        vm = self.new_vm("too-big", mem=1 << 50)
        self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", self.api.VM.start, vm, False, False)
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.assert_no_qemu(vm)

    # ---- the lifecycle of one VM ----

    def test_03_start_pause_clean_shutdown(self):
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vdi = self.new_vdi(sr, 64 * MiB, "qemu-disk")
        vm = self.new_vm("qemu-life")
        vbd = self.vbd(vm, vdi, 0)
        self.assertIn("destroy", self.api.VDI.get_allowed_operations(vdi))
        pid = self.start_ready(vm)
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["power_state"], "Running")
        self.assertGreater(int(rec["domid"]), 0)
        self.assertEqual(rec["resident_on"], self.api.host.get_all()[0])
        with open(os.path.join(self.vm_dir(vm), "domid")) as f:
            self.assertEqual(int(f.read()), int(rec["domid"]))
        m = self.api.VM_metrics.get_record(rec["metrics"])
        self.assertEqual(int(m["VCPUs_number"]), 1)
        self.assertEqual(int(m["memory_actual"]), 256 * MiB)
        # QEMU is in neither xenond's session nor its process group
        self.assertNotEqual(os.getsid(pid), os.getsid(self.srv.pid))
        self.assertNotEqual(os.getpgid(pid), os.getpgid(self.srv.pid))
        # in a cgroup of its own (v2), apart from xenond's
        with open("/proc/%d/cgroup" % pid) as f:
            self.assertIn("0::/xenon/" + rec["uuid"], f.read().splitlines())
        for f in ("qmp.sock", "vnc.sock", "serial.sock", "qemu.pid", "serial.log"):
            self.assertTrue(os.path.exists(os.path.join(self.vm_dir(vm), f)), f)
        # the disk: attached, in use, and the guest sees it (64 MiB = 131072 sectors)
        self.assertTrue(self.api.VBD.get_currently_attached(vbd))
        self.assertNotIn("destroy", self.api.VDI.get_allowed_operations(vdi))
        self.console(vm, "echo DISK-$(cat /sys/block/vda/size)-END")
        self.wait_serial(vm, "DISK-131072-END", 15)

        self.api.VM.pause(vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Paused")
        self.api.VM.unpause(vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        # $((…)) so the console's echo of the typed line does not match
        self.console(vm, "echo UNPAUSED-$((40+2))")
        self.wait_serial(vm, "UNPAUSED-42", 15)
        # a live snapshot: what the guest writes afterwards goes to the disk,
        # not into the snapshot
        dd = "dd if=/tmp/m of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null"
        for line in ("echo BEFORE-SNAP >/tmp/m", dd, "echo WROTE-$((0+1))"):
            self.console(vm, line)
        self.wait_serial(vm, "WROTE-1", 15)
        snap = self.api.VDI.snapshot(vdi, {})
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        for line in ("echo AFTER-SNAP >/tmp/m", dd, "echo WROTE-$((1+1))"):
            self.console(vm, line)
        self.wait_serial(vm, "WROTE-2", 15)

        t = time.monotonic()
        self.api.VM.clean_shutdown(vm)
        self.timings["clean_shutdown (ACPI)"] = time.monotonic() - t
        self.assertIn("power button", self.serial(vm))
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["power_state"], "Halted")
        self.assertEqual(int(rec["domid"]), -1)
        self.assertFalse(qemu_alive(pid, rec["uuid"]))
        self.assert_no_qemu(vm, files_gone=False)
        self.assertFalse(self.api.VBD.get_currently_attached(vbd))
        self.assertIn("destroy", self.api.VDI.get_allowed_operations(vdi))
        self.assertTrue(self.first_sector(vdi).startswith(b"AFTER-SNAP"))
        self.assertTrue(self.first_sector(snap).startswith(b"BEFORE-SNAP"))
        self.api.VBD.destroy(vbd)
        self.api.VDI.destroy(snap)
        self.api.VDI.destroy(vdi)

    def first_sector(self, vdi):
        img = self.image_of(vdi)
        out = os.path.join(self.srv.data_dir, "sector.raw")
        subprocess.run(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", "bs=512", "count=1",
                        "if=" + img, "of=" + out], check=True, stdout=subprocess.DEVNULL)
        with open(out, "rb") as f:
            return f.read(512)

    def test_04_guest_reboot_and_poweroff(self):
        vm = self.new_vm("qemu-guest-initiated")
        pid = self.start_ready(vm)
        domid = int(self.api.VM.get_domid(vm))
        # the guest reboots itself: actions_after_reboot = restart, a new domain
        t = time.monotonic()
        self.console(vm, "reboot -f")
        self.wait_for(lambda: int(self.api.VM.get_domid(vm)) not in (domid, -1), 30, msg="new domid")
        self.wait_serial(vm, READY)
        self.timings["guest reboot -> ready again"] = time.monotonic() - t
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertFalse(qemu_alive(pid, self.api.VM.get_uuid(vm)))
        pid = read_pid(self.vm_dir(vm))
        self.assertTrue(qemu_alive(pid, self.api.VM.get_uuid(vm)))
        # it powers itself off: actions_after_shutdown = destroy
        self.console(vm, "poweroff -f")
        self.wait_power(vm, "Halted")
        self.assertEqual(int(self.api.VM.get_domid(vm)), -1)
        self.assert_no_qemu(vm, files_gone=False)

    def test_05_qemu_killed_behind_our_back(self):
        vm = self.new_vm("qemu-killed")
        self.api.VM.start(vm, False, False)
        pid = read_pid(self.vm_dir(vm))
        os.kill(pid, signal.SIGKILL)
        self.wait_power(vm, "Halted")
        self.assertEqual(self.api.VM.get_current_operations(vm), {})
        self.assert_no_qemu(vm, files_gone=False)
        # and it starts again afterwards
        self.api.VM.start(vm, True, False)
        self.assertEqual(self.api.VM.get_power_state(vm), "Paused")
        self.api.VM.hard_shutdown(vm)
        self.assert_no_qemu(vm, files_gone=False)

    def test_06_clean_reboot_via_guest_agent(self):
        vm = self.new_vm("qemu-clean-reboot")
        self.start_ready(vm)
        domid = int(self.api.VM.get_domid(vm))
        t = time.monotonic()
        self.api.VM.clean_reboot(vm)
        with open(os.path.join(self.vm_dir(vm), "serial.log.1")) as f:
            self.assertIn("shutdown (reboot) requested", f.read())
        self.assertGreater(int(self.api.VM.get_domid(vm)), domid)
        self.wait_serial(vm, READY)
        self.timings["clean_reboot -> ready again"] = time.monotonic() - t
        self.api.VM.hard_shutdown(vm)
        self.assert_no_qemu(vm, files_gone=False)

    def iso_sr(self):
        for sr in self.api.SR.get_all():
            if self.api.SR.get_type(sr) == "iso":
                return sr
        self.fail("no ISO SR")

    def test_06b_disk_hotplug_and_cd(self):
        """A disk plugged into and out of the running guest, and an ISO
        inserted, read, ejected and inserted again, all live."""
        # an ISO in the host's ISO library, found by a scan
        iso_sr = self.iso_sr()
        iso_dir = self.api.PBD.get_device_config(self.api.SR.get_PBDs(iso_sr)[0])["location"]
        src = os.path.join(self.srv.data_dir, "cd-src")
        os.makedirs(src)
        with open(os.path.join(src, "hello.txt"), "w") as f:
            f.write("CD-CONTENT-%d\n" % (6 * 7))
        subprocess.run(["genisoimage", "-quiet", "-o", os.path.join(iso_dir, "hotplug.iso"), src], check=True)
        self.api.SR.scan(iso_sr)
        iso = [v for v in self.api.SR.get_VDIs(iso_sr) if self.api.VDI.get_name_label(v) == "hotplug.iso"][0]

        vm = self.new_vm("qemu-hotplug")
        cd = self.vbd(vm, NULL_REF, 3, "CD")
        self.start_ready(vm)
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vdi = self.new_vdi(sr, 32 * MiB, "hotplug-disk")
        vbd = self.vbd(vm, vdi, 1)
        self.assertFalse(self.api.VBD.get_currently_attached(vbd))
        self.assertEqual(self.api.VBD.get_allowed_operations(vbd), ["plug"])
        t = time.monotonic()
        self.api.VBD.plug(vbd)
        self.timings["VBD.plug (hot-plug)"] = time.monotonic() - t
        self.assertTrue(self.api.VBD.get_currently_attached(vbd))
        self.assertEqual(self.api.VBD.get_device(vbd), "xvdb")
        self.assertEqual(self.api.VBD.get_current_operations(vbd), {})
        self.assertXapiError("DEVICE_ALREADY_ATTACHED", self.api.VBD.plug, vbd)
        # the guest, which had no disk, sees a 32 MiB one (65536 sectors)
        # appear as its first virtio disk, and writes to it
        self.console(vm, "sleep 1; echo HP-$(cat /sys/block/vda/size)-END")
        self.wait_serial(vm, "HP-65536-END", 30)
        # typed lines stay shorter than the guest's 80-column terminal
        self.console(vm, "echo HOTPLUGGED >/tmp/h; echo W-$((1+1))")
        self.wait_serial(vm, "W-2", 15)
        self.console(vm, "dd if=/tmp/h of=/dev/vda conv=sync,fsync count=1; echo HPW-$((2+3))")
        self.wait_serial(vm, "HPW-5", 15)
        self.assertNotIn("destroy", self.api.VDI.get_allowed_operations(vdi))
        t = time.monotonic()
        self.api.VBD.unplug(vbd)
        self.timings["VBD.unplug (guest releases)"] = time.monotonic() - t
        self.assertFalse(self.api.VBD.get_currently_attached(vbd))
        self.assertEqual(self.api.VBD.get_allowed_operations(vbd), ["plug"])
        self.console(vm, "echo GONE-$(ls /sys/block | grep -c vda)-END")
        self.wait_serial(vm, "GONE-0-END", 15)
        self.assertTrue(self.first_sector(vdi).startswith(b"HOTPLUGGED"))
        # plugged again, it holds what was written
        self.api.VBD.plug(vbd)
        self.console(vm, "sleep 1; echo AGAIN-$(head -c 10 /dev/vda)-END")
        self.wait_serial(vm, "AGAIN-HOTPLUGGED-END", 30)
        self.api.VBD.unplug(vbd)
        self.api.VBD.destroy(vbd)
        self.api.VDI.destroy(vdi)
        # an empty disk VBD has nothing to plug
        empty = self.vbd(vm, NULL_REF, 2, "CD")
        self.assertXapiError("OPERATION_NOT_ALLOWED", self.api.VBD.plug, empty)
        self.api.VBD.destroy(empty)

        # the CD: insert, read in the guest, eject, insert again
        self.console(vm, "modprobe -a ata_piix sr_mod isofs; mkdir -p /mnt; echo MODS-$((1+1))")
        self.wait_serial(vm, "MODS-2", 30)
        self.assertIn("insert", self.api.VBD.get_allowed_operations(cd))
        t = time.monotonic()
        self.api.VBD.insert(cd, iso)
        self.timings["VBD.insert (live)"] = time.monotonic() - t
        self.assertFalse(self.api.VBD.get_empty(cd))
        self.assertEqual(self.api.VBD.get_VDI(cd), iso)
        self.assertXapiError("VBD_NOT_EMPTY", self.api.VBD.insert, cd, iso)
        # the first read after a medium change reports it (unit attention)
        self.console(vm, "m() { mount -t iso9660 -o ro /dev/sr0 /mnt 2>/dev/null; }")
        self.console(vm, "for i in 1 2 3; do m && break; sleep 1; done; cat /mnt/*; umount /mnt")
        self.wait_serial(vm, "CD-CONTENT-42", 30)
        self.api.VBD.eject(cd)
        self.assertTrue(self.api.VBD.get_empty(cd))
        self.assertEqual(self.api.VBD.get_VDI(cd), NULL_REF)
        self.assertXapiError("VBD_IS_EMPTY", self.api.VBD.eject, cd)
        self.console(vm, "m && echo STILL-MOUNTED || echo NO-MEDIUM-$((1+1))")
        self.wait_serial(vm, "NO-MEDIUM-2", 15)
        self.api.VBD.insert(cd, iso)
        self.console(vm, "for i in 1 2 3; do m && break; sleep 1; done; echo 2-$(cat /mnt/*)")
        self.wait_serial(vm, "2-CD-CONTENT-42", 30)
        self.console(vm, "umount /mnt")
        self.api.VM.hard_shutdown(vm)
        self.assert_no_qemu(vm, files_gone=False)
        # halted: insert/eject are records only
        self.api.VBD.eject(cd)
        self.assertTrue(self.api.VBD.get_empty(cd))

    def sector(self, vdi, n):
        """512 bytes at sector n of a VDI, read through qemu-img."""
        img = self.image_of(vdi)
        chk = subprocess.run(["qemu-img", "check", "-U", "-q", img], capture_output=True, text=True)
        self.assertEqual(chk.returncode, 0, "qemu-img check %s: %s" % (img, chk.stdout + chk.stderr))
        out = os.path.join(self.srv.data_dir, "whole.raw")
        subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", img, out], check=True)
        try:
            with open(out, "rb") as f:
                f.seek(512 * n)
                return f.read(512)
        finally:
            os.unlink(out)

    def test_06c_snapshot_running_guest_while_it_writes(self):
        """VM.snapshot of a running guest that writes without pause: the VM
        runs on, every snapshot is a consistent image holding what was
        written before it, and revert brings that back."""
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vdi = self.new_vdi(sr, 64 * MiB, "busy-disk")
        vm = self.new_vm("qemu-busy-writer")
        self.vbd(vm, vdi, 0)
        # changed-block tracking on: the blocks between two snapshots are
        # exactly those the guest wrote
        self.api.VDI.enable_cbt(vdi)
        pid = self.start_ready(vm)
        self.console(vm, "echo BEFORE-SNAP >/tmp/m; echo W-$((4+4))")
        self.wait_serial(vm, "W-8", 15)
        self.console(vm, "dd if=/tmp/m of=/dev/vda conv=sync,fsync count=1; echo W-$((4+5))")
        self.wait_serial(vm, "W-9", 15)
        # a writer that never stops: a counter into sector 100, synced each time
        self.console(vm, "w() { i=0; while :; do i=$((i+1)); echo C$i >/tmp/c; w1; done; }")
        self.console(vm, "w1() { dd if=/tmp/c of=/dev/vda seek=100 conv=sync,fsync 2>/dev/null; }")
        self.console(vm, "w & echo WRITER-$((3*3))")
        self.wait_serial(vm, "WRITER-9", 15)
        time.sleep(1)
        snaps = []
        for i in range(3):
            t = time.monotonic()
            snaps.append(self.api.VM.snapshot(vm, "busy-%d" % i, []))
            self.timings.setdefault("VM.snapshot of a running, writing guest", time.monotonic() - t)
            self.assertEqual(self.api.VM.get_power_state(vm), "Running")
            time.sleep(0.5)
        self.assertTrue(qemu_alive(pid, self.api.VM.get_uuid(vm)))
        # the writer went on through the snapshots
        self.console(vm, "kill %1; sleep 1; echo AFTER-SNAP >/tmp/m; echo W-$((5+5))")
        self.wait_serial(vm, "W-10", 15)
        self.console(vm, "dd if=/tmp/m of=/dev/vda conv=sync,fsync count=1; echo W-$((5+6))")
        self.wait_serial(vm, "W-11", 15)
        counters = []
        for snap in snaps:
            svdi = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(snap)
                    if self.api.VBD.get_type(b) == "Disk"][0]
            self.assertEqual(self.api.VDI.get_snapshot_of(svdi), vdi)
            self.assertTrue(self.sector(svdi, 0).startswith(b"BEFORE-SNAP"))
            c = self.sector(svdi, 100)
            self.assertTrue(c.startswith(b"C"), c[:16])
            counters.append(int(c[1:c.index(b"\n")]))
        # the writer touched sector 100 only: block 0 (64 KiB blocks), nothing else
        svdis = [[self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(sn)
                  if self.api.VBD.get_type(b) == "Disk"][0] for sn in snaps]
        bm = base64.b64decode(self.api.VDI.list_changed_blocks(svdis[0], svdis[2]))
        self.assertEqual(len(bm), 64 * MiB // 65536 // 8)
        self.assertEqual([i for i in range(len(bm) * 8) if bm[i // 8] >> (i % 8) & 1], [0])
        # each snapshot saw the writer further along
        self.assertEqual(counters, sorted(counters))
        self.assertGreater(counters[-1], counters[0])
        self.api.VM.hard_shutdown(vm)
        self.assertTrue(self.sector(vdi, 0).startswith(b"AFTER-SNAP"))
        final = self.sector(vdi, 100)
        self.assertGreater(int(final[1:final.index(b"\n")]), counters[-1])
        # revert: the disk holds what it held at the first snapshot
        self.api.VM.revert(snaps[0])
        cur = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(vm)
               if self.api.VBD.get_type(b) == "Disk"][0]
        self.assertTrue(self.sector(cur, 0).startswith(b"BEFORE-SNAP"))
        c = self.sector(cur, 100)
        self.assertEqual(int(c[1:c.index(b"\n")]), counters[0])
        # and the reverted VM boots from it
        self.start_ready(vm)
        self.api.VM.hard_shutdown(vm)

    def chain_len(self, vdi):
        img = self.image_of(vdi)
        out = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", "--output=json", img],
                             capture_output=True, text=True, check=True).stdout
        return len(json.loads(out))

    def test_06d_coalesce_under_a_running_guest(self):
        """A base left with one running disk on it is streamed into that
        disk by its QEMU while the guest writes: the guest sees the same
        data before and after, and the chain is one image again."""
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vdi = self.new_vdi(sr, 64 * MiB, "coalesce-live")
        vm = self.new_vm("qemu-coalesce")
        self.vbd(vm, vdi, 0)
        self.start_ready(vm)
        self.console(vm, "dd if=/dev/urandom of=/dev/vda bs=1M count=16 conv=fsync 2>/dev/null")
        self.console(vm, "echo F-$((7+7))")
        self.wait_serial(vm, "F-14", 60)
        self.console(vm, "echo H1-$(head -c 16777216 /dev/vda | md5sum | cut -c1-32)-END")
        self.wait_for(lambda: re.search(r"H1-[0-9a-f]{32}-END", self.serial(vm)), 30, msg="first checksum")
        h1 = re.search(r"H1-([0-9a-f]{32})-END", self.serial(vm)).group(1)
        snap = self.api.VDI.snapshot(vdi, {})
        self.assertEqual(self.chain_len(vdi), 2)
        # a writer past the first 32 MiB goes on throughout
        self.console(vm, "w() { i=0; while :; do i=$((i+1)); echo C$i >/tmp/c; w1; done; }")
        self.console(vm, "w1() { dd if=/tmp/c of=/dev/vda seek=65536 conv=sync,fsync 2>/dev/null; }")
        self.console(vm, "w & echo WRITER-$((4*4))")
        self.wait_serial(vm, "WRITER-16", 15)
        t = time.monotonic()
        self.api.VDI.destroy(snap)
        self.wait_for(lambda: "vhd-parent" not in self.api.VDI.get_sm_config(vdi), 120, interval=0.2,
                      msg="the chain coalesced")
        self.assertEqual(self.chain_len(vdi), 1)
        self.timings["coalesce of a 16 MiB base under a running guest"] = time.monotonic() - t
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertEqual(self.api.VDI.get_current_operations(vdi), {})
        self.console(vm, "kill %1; sleep 1")
        self.console(vm, "echo H2-$(head -c 16777216 /dev/vda | md5sum | cut -c1-32)-END")
        self.wait_for(lambda: re.search(r"H2-[0-9a-f]{32}-END", self.serial(vm)), 30, msg="second checksum")
        h2 = re.search(r"H2-([0-9a-f]{32})-END", self.serial(vm)).group(1)
        self.assertEqual(h2, h1)
        self.api.VM.hard_shutdown(vm)
        c = self.sector(vdi, 65536)
        self.assertTrue(c.startswith(b"C"), c[:16])

    def test_07_xenond_killed_vms_adopted(self):
        vms = [self.new_vm("qemu-adopt-%d" % i) for i in (1, 2)]
        for vm in vms:
            self.api.VM.start(vm, False, False)
        for vm in vms:
            self.wait_serial(vm, READY)
        before = {}
        for vm in vms:
            uuid = self.api.VM.get_uuid(vm)
            before[vm] = (uuid, read_pid(self.vm_dir(vm)), int(self.api.VM.get_domid(vm)))
        self.assertEqual(len({b[2] for b in before.values()}), 2, "domids differ")
        self.srv.kill9()
        time.sleep(0.5)
        for uuid, pid, _ in before.values():
            self.assertTrue(qemu_alive(pid, uuid), "QEMU died with xenond")
        t = time.monotonic()
        self.srv.start()
        self.timings["xenond restart with two running VMs"] = time.monotonic() - t
        for vm, (uuid, pid, domid) in before.items():
            self.assert_ran_on(vm, domid, pid)
            # the re-adopted QEMU answers: pause and unpause go through QMP
            self.api.VM.pause(vm)
            self.api.VM.unpause(vm)
            self.console(vm, "echo ADOPTED-$((40+%d))" % domid)
            self.wait_serial(vm, "ADOPTED-%d" % (40 + domid), 15)
        vm = vms[0]
        uuid, pid, domid = before[vm]
        # bad input against a running VM: errors, and nothing changes
        for fn, args in ((self.api.VM.start, (False, False)), (self.api.VM.unpause, ()),
                         (self.api.VM.resume, (False, False)), (self.api.VM.start, (True, False))):
            e = self.assertXapiError("VM_BAD_POWER_STATE", fn, vm, *args)
            self.assertEqual(e.params[0], vm)
        bogus = "OpaqueRef:00000000-dead-beef-0000-000000000000"
        self.assertXapiError("HANDLE_INVALID", self.api.VM.start, bogus, False, False,
                             params=["VM", bogus])
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertEqual(qemu_of_uuid(uuid), [pid])
        # a graceful stop leaves them running too
        self.srv.restart()
        for v, (u, p, d) in before.items():
            self.assertEqual(self.api.VM.get_power_state(v), "Running")
            self.assertEqual(int(self.api.VM.get_domid(v)), d)
            self.assertTrue(qemu_alive(p, u))
        t = time.monotonic()
        self.api.VM.hard_shutdown(vm)
        self.timings["hard_shutdown"] = time.monotonic() - t
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.assertFalse(qemu_alive(pid, uuid))
        self.assert_no_qemu(vm, files_gone=False)
        self.api.VM.clean_shutdown(vms[1])
        self.assert_no_qemu(vms[1], files_gone=False)

    def test_08_vm_died_while_xenond_was_down(self):
        vm = self.new_vm("qemu-died-while-down")
        self.api.VM.start(vm, True, False)
        uuid = self.api.VM.get_uuid(vm)
        pid = read_pid(self.vm_dir(vm))
        self.srv.kill9()
        os.kill(pid, signal.SIGKILL)
        self.wait_for(lambda: not qemu_alive(pid, uuid), 10, msg="QEMU gone")
        self.srv.start()
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["power_state"], "Halted")
        self.assertEqual(int(rec["domid"]), -1)
        self.assert_no_qemu(vm, files_gone=False)

    def test_09_guest_powered_off_while_xenond_down(self):
        vm = self.new_vm("qemu-off-while-down")
        pid = self.start_ready(vm)
        uuid = self.api.VM.get_uuid(vm)
        self.srv.kill9()
        self.console(vm, "poweroff -f")
        self.wait_for(lambda: "reboot: Power down" in self.serial(vm), 15, msg="guest powered off")
        # QEMU waits, stopped, for the toolstack (as a shut-down Xen domain does)
        self.assertTrue(qemu_alive(pid, uuid))
        self.srv.start()
        self.wait_power(vm, "Halted")
        self.assertFalse(qemu_alive(pid, uuid))
        self.assert_no_qemu(vm, files_gone=False)

    def test_10_firmware_boot(self):
        """HVM guests: SeaBIOS (and OVMF when installed) with a disk and an
        empty CD drive on emulated IDE, boot order from HVM_boot_params; no
        OS on the disk, so only QEMU's side is checked."""
        firmwares = ["bios"] + (["uefi"] if os.path.exists("/usr/share/OVMF") else [])
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        for fw in firmwares:
            vm = self.new_vm("qemu-hvm-" + fw, kernel="", ramdisk="", HVM_boot_policy="BIOS order",
                             HVM_boot_params={"order": "dc", "firmware": fw}, domain_type="hvm")
            vdi = self.new_vdi(sr, MiB, "hvm-disk")
            self.vbd(vm, vdi, 0, bootable=True)
            self.vbd(vm, NULL_REF, 3, "CD")
            self.api.VM.start(vm, False, False)
            uuid = self.api.VM.get_uuid(vm)
            pid = read_pid(self.vm_dir(vm))
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            self.assertIn(b"ide-cd,bus=ide.1,unit=1,id=vbd3,bootindex=0", argv)
            self.assertIn(b"ide-hd,bus=ide.0,unit=0,id=vbd0,drive=vbd0,bootindex=1", argv)
            self.assertNotIn(b"-kernel", argv)
            self.assertEqual(any(b"pflash" in a for a in argv), fw == "uefi")
            self.assertTrue(self.api.VM_metrics.get_hvm(self.api.VM.get_metrics(vm)))
            time.sleep(0.5)
            self.assertTrue(qemu_alive(pid, uuid))
            self.api.VM.hard_shutdown(vm)
            self.assert_no_qemu(vm, files_gone=False)
            self.api.VDI.destroy(vdi)
        vm = self.new_vm("qemu-bad-fw", kernel="", HVM_boot_policy="BIOS order",
                         HVM_boot_params={"firmware": "coreboot"})
        self.assertXapiError("INVALID_VALUE", self.api.VM.start, vm, False, False,
                             params=["HVM_boot_params:firmware", "coreboot"])
        self.assert_no_qemu(vm)

    def image_of(self, vdi):
        """The file behind a VDI of a file SR."""
        sr = self.api.VDI.get_SR(vdi)
        loc = self.api.PBD.get_device_config(self.api.SR.get_PBDs(sr)[0])["path"]
        return os.path.join(loc, self.api.VDI.get_location(vdi) + ".qcow2")

    def suspend_vdis(self):
        return [v for v in self.api.VDI.get_all() if self.api.VDI.get_type(v) == "suspend"]

    def assert_suspend_vdi(self, vm, sr):
        """While Suspended: VM.suspend_VDI is a VDI of type suspend in sr,
        sized for the memory, with a real image holding the state."""
        vdi = self.api.VM.get_suspend_VDI(vm)
        self.assertNotEqual(vdi, NULL_REF)
        rec = self.api.VDI.get_record(vdi)
        self.assertEqual(rec["type"], "suspend")
        self.assertEqual(rec["SR"], sr)
        self.assertEqual(rec["name_label"], "Suspend image")
        self.assertGreaterEqual(int(rec["virtual_size"]), 256 * MiB * 1.2)
        img = self.image_of(vdi)
        out = subprocess.run(["qemu-img", "info", "--output=json", "-U", img], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        self.assertIn('"format": "qcow2"', out)
        # the migration stream is in it (a 256 MiB guest's is several MiB)
        self.assertGreater(os.stat(img).st_blocks * 512, 2 * MiB)
        self.assertEqual(self.suspend_vdis(), [vdi])
        return vdi, img

    def test_11_suspend_resume(self):
        vm = self.new_vm("qemu-suspend")
        self.start_ready(vm)
        uuid = self.api.VM.get_uuid(vm)
        pool = self.api.pool.get_all()[0]
        default_sr = self.api.pool.get_suspend_image_SR(pool)
        self.assertEqual(self.suspend_vdis(), [])
        # something only the guest's memory holds
        self.console(vm, "echo MEM-$((6*7)) >/tmp/mark; echo MARKED-$((1+1))")
        self.wait_serial(vm, "MARKED-2", 15)
        t = time.monotonic()
        self.api.VM.suspend(vm)
        self.timings["suspend (256 MiB guest)"] = time.monotonic() - t
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["power_state"], "Suspended")
        self.assertEqual(int(rec["domid"]), -1)
        self.assertFalse(qemu_of_uuid(uuid))
        # the image is the suspend VDI's, on pool.suspend_image_SR
        vdi, img = self.assert_suspend_vdi(vm, default_sr)
        self.assertFalse(os.path.exists(os.path.join(self.vm_dir(vm), "suspend.img")))
        t = time.monotonic()
        self.api.VM.resume(vm, False, False)
        self.timings["resume"] = time.monotonic() - t
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertGreater(int(self.api.VM.get_domid(vm)), 0)
        # spent: the VDI and its image are gone
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, vdi)
        self.assertFalse(os.path.exists(img))
        self.assertEqual(self.suspend_vdis(), [])
        self.console(vm, "cat /tmp/mark")
        self.wait_serial(vm, "MEM-42", 15)

        # VM.suspend_SR comes first; an SR without room refuses before the
        # guest stops, leaving it running and no VDI behind
        small = self.small_sr()
        if small:
            self.api.VM.set_suspend_SR(vm, small)
            self.assertXapiError("SR_SUSPEND_SPACE_INSUFFICIENT", self.api.VM.suspend, vm,
                                 params=[small])
            rec = self.api.VM.get_record(vm)
            self.assertEqual(rec["power_state"], "Running")
            self.assertEqual(rec["suspend_VDI"], NULL_REF)
            self.assertEqual(rec["current_operations"], {})
            self.assertEqual(self.suspend_vdis(), [])
            self.console(vm, "echo STILL-$((6*7))")
            self.wait_serial(vm, "STILL-42", 15)
        other = self.api.SR.create(self.api.host.get_all()[0],
                                   {"path": os.path.join(self.srv.data_dir, "suspend-sr")}, "0",
                                   "suspend images", "", "ext", "", False, {})
        self.api.VM.set_suspend_SR(vm, other)
        # suspended, then shut down: the image goes with the state
        self.api.VM.suspend(vm)
        vdi, img = self.assert_suspend_vdi(vm, other)
        self.api.VM.hard_shutdown(vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, vdi)
        self.assertFalse(os.path.exists(img))
        self.assert_no_qemu(vm, files_gone=False)
        self.api.VM.set_suspend_SR(vm, NULL_REF)

    def small_sr(self):
        """A file SR on a 64 MiB filesystem of its own (None where nothing
        can be mounted): too small for a 256 MiB guest's image."""
        import test_cbt
        mnt, img = test_cbt.mount_small(64)
        if not mnt:
            sys.stderr.write("\n  (no small filesystem: SR_SUSPEND_SPACE_INSUFFICIENT not tested)\n")
            return None

        def unmount():
            subprocess.run(["umount", "-l", mnt], capture_output=True)
            os.rmdir(mnt)
            if img:
                os.unlink(img)
        self.addCleanup(unmount)
        sr = self.api.SR.create(self.api.host.get_all()[0], {"path": os.path.join(mnt, "sr")}, "0",
                                "small", "", "ext", "", False, {})


        def forget():
            for pbd in self.api.SR.get_PBDs(sr):
                self.api.PBD.unplug(pbd)
            self.api.SR.forget(sr)
        self.addCleanup(forget)
        return sr

    def test_13_checkpoint_keeps_memory(self):
        """VM.checkpoint of a running VM: the domain runs on; the snapshot
        holds the memory in its suspend VDI and the disks of the same
        instant; revert + resume bring both back."""
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vdi = self.new_vdi(sr, 16 * MiB, "ck-disk")
        vm = self.new_vm("qemu-checkpoint")
        self.vbd(vm, vdi, 0)
        pid = self.start_ready(vm)
        domid = int(self.api.VM.get_domid(vm))
        # typed once the shell is up, in short lines (a slow guest's UART
        # drops what overflows it); $((…)): what is typed never shows the value
        self.wait_serial(vm, "xenon-guest:/# ", 30)
        dd = "dd if=/tmp/m of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null"
        for line in ("echo CK-$((40+2)) >/tmp/mark", "echo DA-$((3*3)) >/tmp/m", dd,
                     "echo MARKED-$((1+2))"):
            self.console(vm, line)
        self.wait_serial(vm, "MARKED-3", 15)
        t = time.monotonic()
        ck = self.api.VM.checkpoint(vm, "ck")
        self.timings["checkpoint (256 MiB guest)"] = time.monotonic() - t
        self.vms.append(ck)
        # the domain ran on
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertEqual(read_pid(self.vm_dir(vm)), pid)
        self.assertEqual(int(self.api.VM.get_domid(vm)), domid)
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        for line in ("echo CK-$((50+5)) >/tmp/mark", "echo DB-$((4*4)) >/tmp/m", dd,
                     "echo MARKED-$((2+2))"):
            self.console(vm, line)
        self.wait_serial(vm, "MARKED-4", 15)
        rec = self.api.VM.get_record(ck)
        self.assertEqual(rec["power_state"], "Suspended")
        mem = rec["suspend_VDI"]
        self.assertEqual(self.api.VDI.get_type(mem), "suspend")
        self.assertGreater(os.stat(self.image_of(mem)).st_blocks * 512, 2 * MiB)

        self.api.VM.hard_shutdown(vm)
        self.api.VM.revert(ck)
        self.assertEqual(self.api.VM.get_power_state(vm), "Suspended")
        t = time.monotonic()
        self.api.VM.resume(vm, False, False)
        self.timings["resume from a checkpoint"] = time.monotonic() - t
        self.console(vm, "cat /tmp/mark")
        self.wait_serial(vm, "CK-42", 15)
        self.assertNotIn("CK-55", self.serial(vm))
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.api.VM.hard_shutdown(vm)
        # the disk is the one of the checkpoint's instant
        disk = self.api.VBD.get_VDI(self.api.VM.get_VBDs(vm)[0])
        self.assertTrue(self.first_sector(disk).startswith(b"DA-9"))
        self.assert_no_qemu(vm, files_gone=False)

    def test_12_restart_agent_keeps_vms(self):
        """host.restart_agent and xe host-restart-agent: the call returns,
        the daemon re-executes itself (same pid, listening sockets handed
        over so no client is refused), the VM runs on untouched and is
        still driven afterwards."""
        vm = self.new_vm("qemu-restart-agent")
        pid = self.start_ready(vm)
        uuid = self.api.VM.get_uuid(vm)
        domid = int(self.api.VM.get_domid(vm))
        host = self.api.host.get_all()[0]
        self.assertXapiError("HANDLE_INVALID", self.api.host.restart_agent, NULL_REF)
        daemon = self.srv.pid

        # a client calling all along: it may be cut short, never refused
        refused, stop = [], [False]

        def hammer():
            while not stop[0]:
                try:
                    self.srv.jsonrpc_raw("system.listMethods", [], timeout=10)
                except ConnectionRefusedError as e:
                    refused.append(e)
                except Exception:
                    pass
                time.sleep(0.01)
        th = threading.Thread(target=hammer)
        th.start()
        try:
            for how in ("api", "xe"):
                old = self.srv.session
                t = time.monotonic()
                if how == "api":
                    self.api.host.restart_agent(host)
                    self.assertLess(time.monotonic() - t, 1.0, "the call waited for the restart")
                else:
                    r = self.srv.xe("host-restart-agent", "uuid=" + self.api.host.get_uuid(host))
                    self.assertEqual(r.returncode, 0, r.stderr)
                self.srv.await_restart(old)
                self.timings["restart_agent (%s) -> API back" % how] = time.monotonic() - t
                self.assertEqual(self.srv.pid, daemon)
                self.assertTrue(self.srv.alive())
                self.assert_ran_on(vm, domid, pid)
        finally:
            stop[0] = True
            th.join()
        self.assertEqual(refused, [])
        self.assertEqual(self.srv.log_text().count("restart: executing a new image"), 2)
        self.assertEqual(self.srv.log_text().count("took over the listening socket"), 2)
        # the adopted QEMU is driven: its guest answers, then goes down by ACPI
        self.console(vm, "echo RESTARTED-$((40+2))")
        self.wait_serial(vm, "RESTARTED-42", 15)
        self.api.VM.clean_shutdown(vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.assertFalse(qemu_alive(pid, uuid))
        self.assert_no_qemu(vm, files_gone=False)


if __name__ == "__main__":
    harness.main()
