"""Each VM's QEMU runs unprivileged: two tiny guests, each with a disk of
its own and a NIC on one network (inside a network namespace the test
makes), run as uids that are not 0 and differ, with QEMU's seccomp filter
on (Seccomp: 2), in a cgroup of their own, holding open only their own
disk, the files of their own run directory, their tap and /dev/null; one
VM's uid can read its own disk but not the other's; a live snapshot of a
running guest goes on (its overlay opened by the unprivileged QEMU); and
once a VM is shut down its uid can no longer open what it was let into.
Skipped without root, ip, setpriv or qemu-system-x86_64."""

import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
SETPRIV = shutil.which("setpriv")

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not shutil.which("ip") or not SETPRIV or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip, setpriv and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import MiB, QEMU, read_pid  # noqa: E402

UID_BASE = 720896  # src/xenops/qemu_int.h QEMU_UID_BASE


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def open_files(pid):
    """What the process's descriptors point at."""
    d = "/proc/%d/fd" % pid
    out = []
    for fd in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, fd)))
        except OSError:
            pass
    return out


def can_read_as(uid, path):
    """Whether uid (with gid = uid, no groups) can open path for reading."""
    r = subprocess.run([SETPRIV, "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "--",
                        "dd", "if=" + path, "of=/dev/null", "bs=512", "count=1", "status=none"],
                       capture_output=True)
    return r.returncode == 0


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class QemuPrivTest(guest.GuestTestCase):
    def disk_path(self, pid):
        """The image file QEMU was told to open (its -blockdev filename)."""
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0")]
        files = [m.group(1) for a in argv for m in [re.search(r"driver=file,.*filename=([^,]+)", a)] if m]
        self.assertEqual(len(files), 1, argv)
        return files[0]

    def test_unprivileged_qemus(self):
        net = self.api.network.create({"name_label": "priv", "name_description": "", "MTU": 1500,
                                       "other_config": {}, "tags": []})
        vms = []
        for name in ("priv-a", "priv-b"):
            vm = self.new_vm(name)
            self.vbd(vm, self.new_vdi(size=16 * MiB, name=name + "-disk"), 0)
            self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                                 "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
            vms.append(vm)
        pids = [self.start_ready(vm) for vm in vms]
        uids, disks = [], []
        for vm, pid in zip(vms, pids):
            st = status(pid)
            domid = int(self.api.VM.get_domid(vm))
            uid = UID_BASE + domid
            # not root: real, effective, saved and filesystem ids
            self.assertEqual(st["Uid"], [str(uid)] * 4)
            self.assertEqual(st["Gid"], [str(uid)] * 4)
            # no supplementary group but its own (-runas uid:gid sets that one)
            self.assertIn(st.get("Groups", []), ([], [str(uid)]))
            self.assertEqual(st["CapEff"], ["0000000000000000"])
            self.assertEqual(st["Seccomp"], ["2"], "QEMU's seccomp filter is on")
            self.assertEqual(st["NoNewPrivs"], ["1"])
            # its own cgroup, where the cgroup tree is mounted (`ip netns
            # exec` mounts a fresh /sys without it: then xenond finds none)
            if os.path.isdir("/sys/fs/cgroup/cpu") or os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                with open("/proc/%d/cgroup" % pid) as f:
                    cg = f.read()
                self.assertIn("/xenon/" + self.api.VM.get_uuid(vm), cg)
            uids.append(uid)
            disks.append(self.disk_path(pid))
        self.assertNotEqual(uids[0], uids[1])
        self.assertNotEqual(disks[0], disks[1])
        for i, pid in enumerate(pids):
            mine = self.vm_dir(vms[i])
            files = open_files(pid)
            for f in files:
                if f.startswith(("socket:", "pipe:", "anon_inode:")):
                    continue
                self.assertTrue(f == disks[i] or f.startswith(mine + "/") or
                                f in ("/dev/null", "/dev/net/tun", "/dev/urandom"),
                                "QEMU of VM %d holds %s" % (i, f))
            self.assertIn(disks[i], files)
            self.assertIn("/dev/net/tun", files, "its tap, opened by xenond")
            self.assertNotIn(disks[1 - i], files)
            # its uid reaches its own disk and not the other VM's
            self.assertTrue(can_read_as(uids[i], disks[i]))
            self.assertFalse(can_read_as(uids[i], disks[1 - i]))
            # nor the other VM's run directory (sockets, serial log)
            self.assertFalse(can_read_as(uids[i], os.path.join(self.vm_dir(vms[1 - i]), "serial.log")))
        # a live snapshot: the overlay is opened by the unprivileged QEMU
        self.api.VM.snapshot(vms[0], "priv-snap")
        self.console(vms[0], "echo SNAP-$(dd if=/dev/vda bs=512 count=1 2>/dev/null | wc -c)-END")
        self.wait_serial(vms[0], "SNAP-512-END", 30)
        files = open_files(pids[0])
        self.assertTrue(any(f != disks[0] and f.startswith("/") and not f.startswith(("/dev/", self.vm_dir(vms[0])))
                            for f in files), "the overlay is open: %s" % files)
        # shut down: its uid loses what it was let into
        self.api.VM.hard_shutdown(vms[1])
        self.assert_no_qemu(vms[1], files_gone=False)
        self.assertFalse(can_read_as(uids[1], disks[1]))
        self.api.VM.hard_shutdown(vms[0])
        self.assert_no_qemu(vms[0], files_gone=False)
        self.assertFalse(can_read_as(uids[0], disks[0]))


if __name__ == "__main__":
    harness.main()
