"""Live memory and vCPUs: xenond (--backend qemu) boots the tiny test guest
and changes it while it runs — the dynamic memory range through the
virtio balloon (the guest's MemTotal and VM_metrics.memory_actual follow),
vCPU hot-plug and unplug up to VCPUs_max (the guest sees the CPU come and
go), VCPUs_params weight and cap in the QEMU's cgroup (v2, or the v1 cpu
hierarchy on a hybrid host whose v2 tree lacks the cpu controller) and mask
as the vCPU threads' affinity. xapi's errors for what is refused, with
nothing changed: MEMORY_CONSTRAINT_VIOLATION_ORDER, INVALID_VALUE,
VM_BAD_POWER_STATE, HOST_NOT_ENOUGH_FREE_MEMORY (no QEMU left behind).
The simulator covers the API-only paths. Skipped only when
qemu-system-x86_64 is missing."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402
from guest import QEMU, MiB, qemu_of_uuid  # noqa: E402

GiB = 1 << 30
VCPU_LIVE_RULE = "VCPU values must satisfy: 0 < VCPUs ≤ VCPUs_max"


def mounts():
    with open("/proc/self/mounts") as f:
        return [line.split() for line in f]


def cgroup_cpu_available():
    """Whether a cgroup cpu controller can be had: in the v2 root, or as a
    v1 hierarchy. Found here independently of xenond."""
    for dev, mnt, typ, opts, *_ in mounts():
        if typ == "cgroup2":
            try:
                with open(os.path.join(mnt, "cgroup.controllers")) as f:
                    if "cpu" in f.read().split():
                        return True
            except OSError:
                pass
        if typ == "cgroup" and "cpu" in opts.split(","):
            return True
    return False


def cpu_cgroup_of(pid):
    """(version, directory) of the cgroup holding pid's CPU controller:
    v2 when its v2 cgroup has cpu.weight, else the v1 cpu hierarchy."""
    v2_mnt = next((m[1] for m in mounts() if m[2] == "cgroup2"), None)
    v1_mnt = next((m[1] for m in mounts() if m[2] == "cgroup" and "cpu" in m[3].split(",")), None)
    with open("/proc/%d/cgroup" % pid) as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for hid, ctrls, path in lines:
        if hid == "0" and v2_mnt:
            d = v2_mnt + path
            if os.path.exists(os.path.join(d, "cpu.weight")):
                return "v2", d
    for hid, ctrls, path in lines:
        if "cpu" in ctrls.split(",") and v1_mnt:
            return "v1", v1_mnt + path
    return None, None


def read(path):
    with open(path) as f:
        return f.read().strip()


def vcpu_threads(pid):
    """vCPU index -> Cpus_allowed_list of each vCPU thread (named "CPU
    n/TCG" or "CPU n/KVM" with debug-threads=on)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            comm = read("/proc/%d/task/%s/comm" % (pid, tid))
            status = read("/proc/%d/task/%s/status" % (pid, tid))
        except OSError:
            continue
        m = re.match(r"CPU (\d+)/", comm)
        if m:
            out[int(m.group(1))] = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.M).group(1)
    return out


@unittest.skipIf(QEMU is None, "qemu-system-x86_64 is not installed")
class VmResourcesTest(guest.GuestTestCase):
    pass


_test = guest.method_of(VmResourcesTest)


def _sh(self, vm, cmd):
    out = self.api.VM.guest_exec(vm, ["sh", "-c", cmd], "", 30)
    self.assertEqual(out["exitcode"], "0", out)
    return out["stdout"]


def _mem_total_kib(self, vm):
    m = re.search(r"^MemTotal:\s+(\d+) kB", _sh(self, vm, "cat /proc/meminfo"), re.M)
    return int(m.group(1))


def _guest_cpus(self, vm):
    return sorted(n for n in _sh(self, vm, "ls /sys/devices/system/cpu").split()
                  if re.fullmatch(r"cpu\d+", n))


def _metrics(self, vm):
    return self.api.VM_metrics.get_record(self.api.VM.get_metrics(vm))


def _wait_agent(self, vm):
    def ok():
        try:
            return self.api.VM.guest_exec(vm, ["true"], "", 10)["exitcode"] == "0"
        except harness.XapiError:
            return False
    self.wait_for(ok, 60, interval=0.5, msg="guest agent")


@_test
def test_1_memory_live(self):
    vm = self.new_vm("res-mem", mem=256 * MiB)
    self.assertEqual(self.api.VM.get_memory_static_min(vm), 128 * MiB)
    self.start_ready(vm)
    _wait_agent(self, vm)
    full = _mem_total_kib(self, vm)
    self.assertEqual(_metrics(self, vm)["memory_actual"], 256 * MiB)

    # lower: the balloon takes 96 MiB from the guest
    t = time.monotonic()
    self.api.VM.set_memory_dynamic_range(vm, 128 * MiB, 160 * MiB)
    self.timings["balloon 256 -> 160 MiB"] = time.monotonic() - t
    rec = self.api.VM.get_record(vm)
    self.assertEqual((rec["memory_dynamic_min"], rec["memory_dynamic_max"], rec["memory_target"]),
                     (128 * MiB, 160 * MiB, 128 * MiB))
    self.assertEqual(rec["current_operations"], {})
    actual = _metrics(self, vm)["memory_actual"]
    self.assertLessEqual(abs(actual - 160 * MiB), MiB, actual)
    low = _mem_total_kib(self, vm)
    self.assertLessEqual(abs((full - low) - 96 * 1024), 2048, (full, low))

    # raise it back, through xe
    if os.path.exists(harness.XE):
        p = self.srv.xe("vm-memory-dynamic-range-set", "uuid=" + rec["uuid"], "min=256MiB", "max=256MiB")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.srv.xe("vm-memory-dynamic-range-set", "uuid=" + rec["uuid"], "min=1x", "max=2")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Failed to parse field 'min'", p.stderr)
    else:
        self.api.VM.set_memory_dynamic_range(vm, 256 * MiB, 256 * MiB)
    self.assertEqual(self.api.VM.get_memory_dynamic_max(vm), 256 * MiB)
    self.assertLessEqual(abs(_metrics(self, vm)["memory_actual"] - 256 * MiB), MiB)
    self.assertLessEqual(abs(_mem_total_kib(self, vm) - full), 1024)

    # set_memory_dynamic_min and _max alone: the other end stays, the balloon moves
    self.api.VM.set_memory_dynamic_min(vm, 128 * MiB)
    self.assertEqual(self.api.VM.get_memory_dynamic_max(vm), 256 * MiB)
    self.api.VM.set_memory_dynamic_max(vm, 192 * MiB)
    self.assertEqual(self.api.VM.get_memory_dynamic_min(vm), 128 * MiB)
    self.assertLessEqual(abs(_metrics(self, vm)["memory_actual"] - 192 * MiB), MiB)
    self.assertLessEqual(abs((full - _mem_total_kib(self, vm)) - 64 * 1024), 2048)

    # refused: out of the static range, min > max; nothing moves
    before = self.api.VM.get_record(vm)
    total_before = _mem_total_kib(self, vm)
    for lo, hi in ((128 * MiB, 512 * MiB), (64 * MiB, 128 * MiB), (192 * MiB, 160 * MiB)):
        self.assertXapiError("MEMORY_CONSTRAINT_VIOLATION_ORDER", self.api.VM.set_memory_dynamic_range,
                             vm, lo, hi, params=[])
    after = self.api.VM.get_record(vm)
    for f in ("memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max",
              "memory_target"):
        self.assertEqual(after[f], before[f], f)
    self.assertEqual(_mem_total_kib(self, vm), total_before)

    # static changes and limits: halted only
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_memory_static_range, vm, 128 * MiB, 512 * MiB,
                         params=[vm, "halted", "running"])
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_memory_limits, vm, 128 * MiB, 256 * MiB,
                         256 * MiB, 256 * MiB, params=[vm, "halted", "running"])
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_memory, vm, 256 * MiB,
                         params=[vm, "halted", "running"])
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_VCPUs_max, vm, 2,
                         params=[vm, "halted", "running"])
    # the deprecated set_memory_target_live is accepted and does nothing, as in xapi
    self.api.VM.set_memory_target_live(vm, 160 * MiB)
    self.assertEqual(self.api.VM.get_memory_dynamic_max(vm), 192 * MiB)

    # paused: neither the dynamic range nor vCPUs
    self.api.VM.pause(vm)
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_memory_dynamic_range, vm, 128 * MiB,
                         256 * MiB, params=[vm, "halted, running", "paused"])
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_VCPUs_number_live, vm, 1,
                         params=[vm, "running", "paused"])
    self.api.VM.unpause(vm)

    # the balloon target survives a reboot: the new domain starts ballooned
    self.api.VM.hard_shutdown(vm)
    self.assertEqual(_metrics(self, vm)["memory_actual"], 0)
    self.api.VM.set_memory_dynamic_range(vm, 128 * MiB, 160 * MiB)  # halted: the record only
    self.assertEqual(self.api.VM.get_memory_dynamic_max(vm), 160 * MiB)
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_memory_target_live, vm, 128 * MiB)
    self.start_ready(vm, "start (ballooned) -> ready")
    _wait_agent(self, vm)
    self.wait_for(lambda: abs(_mem_total_kib(self, vm) - low) <= 2048, 30, interval=0.5,
                  msg="guest ballooned to 160 MiB at boot")
    # memory_actual follows what the guest does, with no call: its balloon
    # driver unloaded gives all memory back, loaded again takes it
    _sh(self, vm, "rmmod virtio_balloon")
    self.wait_for(lambda: _metrics(self, vm)["memory_actual"] == 256 * MiB, 20, interval=0.2,
                  msg="memory_actual 256 MiB after the guest's balloon went")
    _sh(self, vm, "modprobe virtio_balloon")
    self.wait_for(lambda: abs(_metrics(self, vm)["memory_actual"] - 160 * MiB) <= MiB, 20, interval=0.2,
                  msg="memory_actual back to 160 MiB")
    self.api.VM.hard_shutdown(vm)
    self.assert_no_qemu(vm, files_gone=False)


@_test
def test_2_vcpus_live(self):
    params = {"weight": "512", "cap": "50"}
    vm = self.new_vm("res-cpu", VCPUs_max=2, VCPUs_at_startup=1, VCPUs_params=params)
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_VCPUs_number_live, vm, 2,
                         params=[vm, "running", "halted"])
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.add_to_VCPUs_params_live, vm, "weight", "1",
                         params=[vm, "running", "halted"])
    pid = self.start_ready(vm)
    uuid = self.api.VM.get_uuid(vm)
    _wait_agent(self, vm)
    self.assertEqual(_guest_cpus(self, vm), ["cpu0"])
    m = _metrics(self, vm)
    self.assertEqual(m["VCPUs_number"], 1)

    # weight and cap at start: in the cgroup's files, or honestly not reported
    version, cg = cpu_cgroup_of(pid)
    if cgroup_cpu_available():
        self.assertIsNotNone(cg, "QEMU pid %d is in no cpu cgroup" % pid)
        self.assertTrue(cg.endswith("/xenon/" + uuid), cg)
        if version == "v2":
            self.assertEqual(read(cg + "/cpu.weight"), "200")
            self.assertEqual(read(cg + "/cpu.max"), "50000 100000")
        else:
            self.assertEqual(read(cg + "/cpu.shares"), "2048")
            self.assertEqual(read(cg + "/cpu.cfs_quota_us"), "50000")
            self.assertEqual(read(cg + "/cpu.cfs_period_us"), "100000")
        self.assertEqual(m["VCPUs_params"], params)
    else:
        self.assertEqual(m["VCPUs_params"], {})

    # hot-plug: 1 -> 2
    t = time.monotonic()
    self.api.VM.set_VCPUs_number_live(vm, 2)
    self.timings["vCPU hot-plug"] = time.monotonic() - t
    self.wait_for(lambda: _guest_cpus(self, vm) == ["cpu0", "cpu1"], 20, interval=0.5,
                  msg="cpu1 in the guest")
    out = _sh(self, vm, "echo 1 > /sys/devices/system/cpu/cpu1/online; cat /sys/devices/system/cpu/online;"
                        " grep -c ^processor /proc/cpuinfo")
    self.assertEqual(out.split(), ["0-1", "2"])
    self.assertEqual(_metrics(self, vm)["VCPUs_number"], 2)
    self.assertEqual(self.api.VM.get_VCPUs_at_startup(vm), 2)
    self.assertEqual(len(vcpu_threads(pid)), 2)

    # above VCPUs_max, or none: xapi's error, nothing changed
    for n in (3, 0, -1):
        self.assertXapiError("INVALID_VALUE", self.api.VM.set_VCPUs_number_live, vm, n,
                             params=[VCPU_LIVE_RULE, "2"])
    self.assertEqual(_metrics(self, vm)["VCPUs_number"], 2)
    self.assertEqual(self.api.VM.get_VCPUs_at_startup(vm), 2)
    self.assertEqual(_guest_cpus(self, vm), ["cpu0", "cpu1"])
    self.assertEqual(self.api.VM.get_current_operations(vm), {})

    # mask: every vCPU thread pinned to host CPU 0 (as on a 1-CPU host too)
    self.api.VM.add_to_VCPUs_params_live(vm, "mask", "0")
    self.assertEqual(set(vcpu_threads(pid).values()), {"0"})
    self.assertEqual(self.api.VM.get_VCPUs_params(vm)["mask"], "0")
    self.assertEqual(_metrics(self, vm)["VCPUs_params"].get("mask"), "0")
    ncpu = os.cpu_count()
    if ncpu >= 2:
        # per-vCPU masks: vCPU 1 gets the second
        self.api.VM.add_to_VCPUs_params_live(vm, "mask", "0;1")
        self.assertEqual(vcpu_threads(pid), {0: "0", 1: "1"})
    # a mask the host cannot honour is not reported as applied
    self.api.VM.add_to_VCPUs_params_live(vm, "mask", "%d" % (ncpu + 100))
    self.assertNotIn("mask", _metrics(self, vm)["VCPUs_params"])

    # a live weight change
    self.api.VM.add_to_VCPUs_params_live(vm, "weight", "128")
    if cg:
        self.assertEqual(read(cg + ("/cpu.weight" if version == "v2" else "/cpu.shares")),
                         "50" if version == "v2" else "512")
        self.assertEqual(_metrics(self, vm)["VCPUs_params"].get("weight"), "128")
    else:
        self.assertNotIn("weight", _metrics(self, vm)["VCPUs_params"])

    # unplug: 2 -> 1, the guest lets the CPU go
    t = time.monotonic()
    self.api.VM.set_VCPUs_number_live(vm, 1)
    self.timings["vCPU unplug (guest acknowledged)"] = time.monotonic() - t
    self.assertEqual(_guest_cpus(self, vm), ["cpu0"])
    self.assertEqual(_metrics(self, vm)["VCPUs_number"], 1)
    self.assertEqual(len(vcpu_threads(pid)), 1)

    # xe vm-vcpu-hotplug: back to 2. Under TCG, QEMU 7.2 cannot start a
    # vCPU thread again after an unplug (it would abort): refused, the
    # guest and its QEMU carry on
    tcg = any(re.match(r"CPU \d+/TCG", read("/proc/%d/task/%s/comm" % (pid, t)))
              for t in os.listdir("/proc/%d/task" % pid))
    if os.path.exists(harness.XE):
        p = self.srv.xe("vm-vcpu-hotplug", "uuid=" + uuid, "new-vcpus=2")
        if tcg:
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("TCG", p.stderr)
            self.assertEqual(_metrics(self, vm)["VCPUs_number"], 1)
            self.assertEqual(self.api.VM.get_VCPUs_at_startup(vm), 1)
            self.assertEqual(qemu_of_uuid(uuid), [pid])
            self.assertEqual(_guest_cpus(self, vm), ["cpu0"])
        else:
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(_metrics(self, vm)["VCPUs_number"], 2)
            self.wait_for(lambda: _guest_cpus(self, vm) == ["cpu0", "cpu1"], 20, interval=0.5,
                          msg="cpu1 in the guest (xe)")
        p = self.srv.xe("vm-vcpu-hotplug", "uuid=" + uuid, "new-vcpus=5")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(VCPU_LIVE_RULE, p.stderr)
        p = self.srv.xe("vm-vcpu-hotplug", "uuid=" + uuid, "new-vcpus=two")
        self.assertIn("expecting an integer", p.stderr)
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")

    # the cgroup goes with the domain
    self.api.VM.hard_shutdown(vm)
    self.assert_no_qemu(vm, files_gone=False)
    if cg:
        self.assertFalse(os.path.exists(cg), cg + " left behind")
    self.assertEqual(_metrics(self, vm)["VCPUs_number"], 0)
    self.assertEqual(_metrics(self, vm)["VCPUs_params"], {})


@_test
def test_3_memory_that_does_not_fit(self):
    vm = self.new_vm("res-huge", mem=256 * MiB)
    uuid = self.api.VM.get_uuid(vm)
    total = self.api.host_metrics.get_memory_total(self.api.host.get_metrics(self.api.host.get_all()[0]))
    big = (total // GiB + 4) * GiB
    self.api.VM.set_memory_limits(vm, 128 * MiB, big, big, big)
    e = self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", self.api.VM.start, vm, False, False)
    self.assertGreaterEqual(int(e.params[0]), big)
    self.assertLess(int(e.params[1]), big)
    self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
    self.assertEqual(qemu_of_uuid(uuid), [])
    self.assertFalse(os.path.exists(self.vm_dir(vm)))

    # the running VMs' dynamic_max (and overheads) count: one that fits an
    # empty host is refused next to a running one, by exactly its share
    host = self.api.host.get_all()[0]
    free_before = self.api.host.compute_free_memory(host)
    other = self.new_vm("res-other", mem=256 * MiB)
    self.api.VM.start(other, False, False)
    share = 256 * MiB + self.api.VM.get_memory_overhead(other)
    self.assertEqual(self.api.host.compute_free_memory(host), free_before - share)
    fits_alone = free_before - 64 * MiB
    self.api.VM.set_memory_limits(vm, 128 * MiB, fits_alone, fits_alone, fits_alone)
    e = self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", self.api.VM.start, vm, False, False)
    self.assertEqual([int(x) for x in e.params], [fits_alone, free_before - share])
    self.assertEqual(qemu_of_uuid(uuid), [])
    self.api.VM.hard_shutdown(other)


# ---- the simulator: API paths without a guest ----

def _sim_vm(api, name, mem=256 * MiB, **extra):
    rec = {
        "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
        "affinity": harness.NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
        "memory_dynamic_min": mem, "memory_static_min": 64 * MiB, "VCPUs_params": {},
        "VCPUs_max": 2, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "restart", "PV_bootloader": "",
        "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "",
        "PV_legacy_args": "", "HVM_boot_policy": "BIOS order", "HVM_boot_params": {"order": "cd"},
        "platform": {}, "PCI_bus": "", "other_config": {}, "recommendations": "", "domain_type": "hvm"}
    rec.update(extra)
    return api.VM.create(rec)


class SimResourcesTest(harness.ServerTestCase):
    MEM = ("memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max",
           "memory_target")

    def snapshot(self, vm):
        r = self.api.VM.get_record(vm)
        return {f: r[f] for f in self.MEM + ("VCPUs_max", "VCPUs_at_startup")}

    def test_halted_constraints(self):
        api = self.api
        vm = _sim_vm(api, "sim-c")
        before = self.snapshot(vm)
        bad = [
            (api.VM.set_memory_static_range, (300 * MiB, 200 * MiB)),  # min > max
            (api.VM.set_memory_static_range, (64 * MiB, 128 * MiB)),  # below dynamic
            (api.VM.set_memory_static_max, (128 * MiB,)),
            (api.VM.set_memory_static_min, (512 * MiB,)),
            (api.VM.set_memory_dynamic_range, (32 * MiB, 128 * MiB)),  # under static_min
            (api.VM.set_memory_dynamic_range, (128 * MiB, 512 * MiB)),  # over static_max
            (api.VM.set_memory_dynamic_max, (32 * MiB,)),
            (api.VM.set_memory_dynamic_min, (512 * MiB,)),
            (api.VM.set_memory_limits, (64 * MiB, 256 * MiB, 200 * MiB, 100 * MiB)),
            (api.VM.set_memory, (32 * MiB,)),  # under static_min
        ]
        for fn, args in bad:
            with self.subTest(fn=fn._name, args=args):
                self.assertXapiError("MEMORY_CONSTRAINT_VIOLATION_ORDER", fn, vm, *args, params=[])
        self.assertEqual(self.snapshot(vm), before)
        # good ones, as xapi sets them
        api.VM.set_memory_limits(vm, 64 * MiB, 512 * MiB, 128 * MiB, 384 * MiB)
        self.assertEqual(self.snapshot(vm)["memory_target"], 128 * MiB)
        api.VM.set_memory_static_range(vm, 32 * MiB, 1 * GiB)
        api.VM.set_memory_dynamic_range(vm, 96 * MiB, 1 * GiB)
        api.VM.set_memory(vm, 300 * MiB)
        s = self.snapshot(vm)
        self.assertEqual([s[f] for f in self.MEM], [32 * MiB, 300 * MiB, 300 * MiB, 300 * MiB, 300 * MiB])
        # VCPUs: xapi's INVALID_VALUE
        self.assertXapiError("INVALID_VALUE", api.VM.set_VCPUs_max, vm, 0,
                             params=["VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max", "0"])
        api.VM.set_VCPUs_at_startup(vm, 2)
        self.assertXapiError("INVALID_VALUE", api.VM.set_VCPUs_max, vm, 1)
        self.assertXapiError("INVALID_VALUE", api.VM.set_VCPUs_at_startup, vm, 3,
                             params=["VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max", "3"])
        self.assertXapiError("INVALID_VALUE", api.VM.set_VCPUs_at_startup, vm, 0)
        api.VM.set_VCPUs_max(vm, 4)
        self.assertEqual((api.VM.get_VCPUs_max(vm), api.VM.get_VCPUs_at_startup(vm)), (4, 2))
        self.assertIn("changing_memory_limits", api.VM.get_allowed_operations(vm))
        self.assertIn("changing_VCPUs", api.VM.get_allowed_operations(vm))
        api.VM.destroy(vm)

    def test_running(self):
        api = self.api
        total = api.host_metrics.get_memory_total(api.host.get_metrics(api.host.get_all()[0]))
        huge = (total // GiB + 8) * GiB
        vm = _sim_vm(api, "sim-r", mem=256 * MiB, memory_static_max=huge,
                     VCPUs_params={"weight": "300", "mask": "0"})
        api.VM.start(vm, False, False)
        m = api.VM.get_metrics(vm)
        self.assertEqual(api.VM_metrics.get_VCPUs_params(m), {"weight": "300", "mask": "0"})
        self.assertEqual(api.VM_metrics.get_memory_actual(m), 256 * MiB)
        # growing past what the host has: refused (KiB, as xapi), nothing changed
        before = self.snapshot(vm)
        e = self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", api.VM.set_memory_dynamic_range,
                                 vm, 128 * MiB, huge)
        self.assertEqual(int(e.params[0]), (huge - 256 * MiB) // 1024)
        self.assertLess(int(e.params[1]), int(e.params[0]))
        self.assertEqual(self.snapshot(vm), before)
        self.assertEqual(api.VM.get_current_operations(vm), {})
        # what fits is applied and memory_actual follows
        api.VM.set_memory_dynamic_range(vm, 128 * MiB, 512 * MiB)
        self.assertEqual(api.VM_metrics.get_memory_actual(m), 512 * MiB)
        api.VM.set_VCPUs_number_live(vm, 2)
        self.assertEqual(api.VM_metrics.get_VCPUs_number(m), 2)
        self.assertEqual(api.VM.get_VCPUs_at_startup(vm), 2)
        self.assertXapiError("INVALID_VALUE", api.VM.set_VCPUs_number_live, vm, 3,
                             params=[VCPU_LIVE_RULE, "2"])
        api.VM.add_to_VCPUs_params_live(vm, "cap", "50")
        self.assertEqual(api.VM.get_VCPUs_params(vm), {"weight": "300", "mask": "0", "cap": "50"})
        self.assertEqual(api.VM_metrics.get_VCPUs_params(m)["cap"], "50")
        self.assertIn("changing_dynamic_range", api.VM.get_allowed_operations(vm))
        self.assertIn("changing_VCPUs_live", api.VM.get_allowed_operations(vm))
        self.assertNotIn("changing_VCPUs", api.VM.get_allowed_operations(vm))
        api.VM.hard_shutdown(vm)
        api.VM.destroy(vm)

    def test_xe(self):
        if not os.path.exists(harness.XE):
            self.skipTest("no xe")
        vm = _sim_vm(self.api, "sim-xe")
        uuid = self.api.VM.get_uuid(vm)
        p = self.srv.xe("vm-memory-limits-set", "uuid=" + uuid, "static-min=64MiB", "static-max=1GiB",
                        "dynamic-min=128MiB", "dynamic-max=512MiB")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.srv.xe("vm-memory-static-range-set", "uuid=" + uuid, "min=32MiB", "max=2GiB")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.srv.xe("vm-memory-target-set", "uuid=" + uuid, "target=300MiB")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.snapshot(vm)
        self.assertEqual([s[f] for f in self.MEM], [32 * MiB, 300 * MiB, 300 * MiB, 2 * GiB, 300 * MiB])
        p = self.srv.xe("vm-memory-set", "uuid=" + uuid, "memory=400MiB")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.api.VM.get_memory_static_max(vm), 400 * MiB)
        p = self.srv.xe("vm-memory-dynamic-range-set", "uuid=" + uuid, "min=500MiB", "max=450MiB")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("MEMORY_CONSTRAINT_VIOLATION_ORDER", p.stderr + p.stdout)
        p = self.srv.xe("vm-vcpu-hotplug", "uuid=" + uuid, "new-vcpus=2")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("expected: running\nactual: halted", p.stderr)
        self.api.VM.destroy(vm)


if __name__ == "__main__":
    unittest.main(verbosity=2)
