"""The tiny test guest (scripts/build-test-guest.sh) under xenond's QEMU
backend, for the suites that boot it: installing its kernel for a server,
making VMs of it, and driving them through their serial console and run
directory. GuestMixin holds the helpers for any ServerTestCase;
GuestTestCase is a whole class set up around one QEMU-backed server."""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import NULL_REF  # noqa: E402

MiB = 1 << 20
QEMU = shutil.which("qemu-system-x86_64")
BUILD = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(harness.XENOND))))
GUEST = os.path.join(BUILD, "guest")
ARGS = "console=ttyS0 quiet acpi=noirq panic=-1"
READY = "XENON-GUEST: ready"
# the guest's serial line discipline drops what goes past its 80 columns
CONSOLE_MAX = 79

_run_dirs = []


@atexit.register
def _kill_leftover_qemus():
    # VMs outlive xenond by design: whatever a failed test left running goes
    # here (registered after harness's atexit, so it runs before the tmpdirs go)
    for run in _run_dirs:
        for pid, _uuid in qemus_in(run):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def qemus_in(run_dir):
    """(pid, uuid) of each live QEMU with a pid file under run_dir/vm."""
    out = []
    base = os.path.join(run_dir, "vm")
    for uuid in os.listdir(base) if os.path.isdir(base) else []:
        pid = read_pid(os.path.join(base, uuid))
        if pid and qemu_alive(pid, uuid):
            out.append((pid, uuid))
    return out


def read_pid(vm_dir):
    try:
        with open(os.path.join(vm_dir, "qemu.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def qemu_alive(pid, uuid):
    """pid is a live (not zombie) QEMU of the VM uuid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return ("guest=%s," % uuid).encode() in f.read()
    except OSError:
        return False


def qemu_of_uuid(uuid):
    """Pids of any QEMU process whose command line names this VM."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and qemu_alive(int(d), uuid):
            pids.append(int(d))
    return pids


def build():
    """Builds the guest (or reuses a complete build); returns the file name
    of the kernel to boot: vmlinux (PVH entry), which boots ~3 s faster than
    vmlinuz under TCG, where the build has one."""
    subprocess.run([os.path.join(harness.ROOT, "scripts", "build-test-guest.sh"), GUEST],
                   check=True, stdout=subprocess.DEVNULL, timeout=900)
    return "vmlinux" if os.path.exists(os.path.join(GUEST, "vmlinux")) else "vmlinuz"


def provide(data_dir, kernel):
    """Puts the kernel and the initrd in the guest-kernel directory of the
    xenond whose data directory this is (a lab host's, a second server's);
    QEMUs left under its run directory are killed when the test process
    exits. Returns the guest-kernel directory."""
    kdir = os.path.join(data_dir, "guest-kernels")
    os.makedirs(kdir, exist_ok=True)
    for f in (kernel, "initrd.img"):
        shutil.copy(os.path.join(GUEST, f), kdir)
    _run_dirs.append(os.path.join(data_dir, "run"))
    return kdir


def install(cls):
    """Builds the guest and provides it to cls.srv, not yet started; sets
    cls.kdir, cls.kernel, cls.run_dir and cls.vms."""
    cls.kernel = build()
    cls.kdir = provide(cls.srv.data_dir, cls.kernel)
    cls.run_dir = os.path.join(cls.srv.data_dir, "run")
    cls.vms = []


def halt_all(cls):
    """Hard-shuts-down whatever VM of cls.vms still runs (class tear-down)."""
    for vm in cls.vms:
        try:
            if cls.srv.api.VM.get_power_state(vm) != "Halted":
                cls.srv.api.VM.hard_shutdown(vm)
        except Exception:
            pass


def method_of(cls):
    """A decorator that makes a module-level function a method of cls, for
    the suites that write their tests as functions below the class."""
    def add(fn):
        setattr(cls, fn.__name__, fn)
        return fn
    return add


class GuestMixin:
    """VMs of the test guest for a ServerTestCase set up by install()."""

    # how long wait_serial waits unless told
    serial_timeout = 90
    # VM ref -> uuid, remembered: asked while xenond is down, too
    uuids = {}
    timings = {}

    def new_vm(self, name="qemu-vm", kernel=None, ramdisk="initrd.img", mem=256 * MiB, **extra):
        rec = {
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": min(mem, 128 * MiB), "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": kernel or self.kernel, "PV_ramdisk": ramdisk,
            "PV_args": ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"}
        rec.update(extra)
        vm = self.api.VM.create(rec)
        self.vms.append(vm)
        return vm

    def new_vdi(self, sr=None, size=64 * MiB, name="disk"):
        """A user VDI, on the pool's default SR unless sr is given."""
        if sr is None:
            sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        return self.api.VDI.create({
            "name_label": name, "name_description": "", "SR": sr, "virtual_size": str(size),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})

    def vbd(self, vm, vdi, userdevice, kind="Disk", bootable=False):
        """A VBD: a read-write disk, or a read-only CD (empty for NULL_REF)."""
        return self.api.VBD.create({
            "VM": vm, "VDI": vdi, "userdevice": str(userdevice), "bootable": bootable,
            "mode": "RW" if kind == "Disk" else "RO", "type": kind, "unpluggable": True,
            "empty": vdi == NULL_REF, "other_config": {}, "qos_algorithm_type": "",
            "qos_algorithm_params": {}})

    def vm_dir(self, vm):
        if vm not in self.uuids:
            self.uuids[vm] = self.api.VM.get_uuid(vm)
        return os.path.join(self.run_dir, "vm", self.uuids[vm])

    def serial(self, vm):
        try:
            with open(os.path.join(self.vm_dir(vm), "serial.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_serial(self, vm, text, timeout=None):
        timeout = timeout or self.serial_timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.serial(vm):
                return
            time.sleep(0.05)
        self.fail("no %r on the serial console within %ds:\n%s" % (text, timeout, self.serial(vm)[-3000:]))

    def console(self, vm, line):
        """Types a line into the guest's shell on its serial console."""
        self.assertLessEqual(len(line), CONSOLE_MAX, "typed line too long for the guest: %r" % line)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(self.vm_dir(vm), "serial.sock"))
        s.sendall(line.encode() + b"\n")
        time.sleep(0.2)
        s.close()

    def qemu_cmdline(self, vm):
        """The argv of the VM's QEMU."""
        with open("/proc/%d/cmdline" % read_pid(self.vm_dir(vm)), "rb") as f:
            return [a.decode() for a in f.read().split(b"\0")]

    def start_ready(self, vm, what="start -> ready"):
        t = time.monotonic()
        self.api.VM.start(vm, False, False)
        self.timings.setdefault("VM.start call", time.monotonic() - t)
        self.wait_serial(vm, READY)
        self.timings.setdefault(what, time.monotonic() - t)
        pid = read_pid(self.vm_dir(vm))
        self.assertTrue(pid and qemu_alive(pid, self.api.VM.get_uuid(vm)))
        return pid

    def wait_power(self, vm, state, timeout=30):
        return self.wait_for(lambda: self.api.VM.get_power_state(vm) == state, timeout,
                             msg="VM power_state %s" % state)

    def assert_no_qemu(self, vm, files_gone=True):
        uuid = self.api.VM.get_uuid(vm)
        self.wait_for(lambda: not qemu_of_uuid(uuid), 10, msg="QEMU of %s gone" % uuid)
        d = self.vm_dir(vm)
        if files_gone:
            self.assertFalse(os.path.exists(d), "%s left: %s" % (d, os.listdir(d) if os.path.isdir(d) else ""))
        else:
            left = set(os.listdir(d)) - {"serial.log", "serial.log.1"}
            self.assertEqual(left, set(), "files left in %s" % d)


class GuestTestCase(GuestMixin, harness.ServerTestCase):
    """One xenond with the QEMU backend for the whole class; its VMs are shut
    down and the timings printed at the end. config: more xenond.conf lines."""

    config = ""

    @classmethod
    def setUpClass(cls):
        t = time.monotonic()
        cls.srv = harness.Server(backend="qemu")
        install(cls)
        cls.timings["guest build (or reuse)"] = time.monotonic() - t
        # bases left with one disk on them are coalesced after 1 s, not 60
        conf = os.path.join(cls.srv.data_dir, "xenond.conf")
        with open(conf, "w") as f:
            f.write("coalesce-delay = 1\n" + cls.config)
        cls.srv.extra_args += ["--config", conf]
        cls.srv.start()
        cls.api = cls.srv.api

    @classmethod
    def tearDownClass(cls):
        halt_all(cls)
        cls.srv.stop()
        _kill_leftover_qemus()
        sys.stderr.write("\n" + "".join("  %-40s %6.2f s\n" % kv for kv in cls.timings.items()))
