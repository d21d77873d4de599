#!/usr/bin/env python3
"""12. The xen backend on the nested Xen machine (scripts/xen-testvm.sh):
VM.start of the PV tiny guest through xenond (XenAPI from outside, through
the forwarded port) beside `xl create` of the same guest (same kernel,
initrd, command line, memory, vCPUs) inside the same dom0, alternating, in
one run; then VM.hard_shutdown beside `xl destroy`. Also the time to boot
the machine when this script boots it.

    python3 bench/xen_start.py [--rounds N]           builds and boots the machine
    XEN_TESTVM_PORT=18080 python3 bench/xen_start.py  uses one already booted

XENOND: the xenond put into the image (default build-check/src/server/xenond);
the tiny guest from build/guest (scripts/build-test-guest.sh), or
XEN_TESTVM_GUEST."""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("XENOND", os.path.join(ROOT, "build-check", "src", "server", "xenond"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from test_xen import Dom0, MiB, NULL_REF, PASSWORD  # noqa: E402

SCRIPT = os.path.join(ROOT, "scripts", "xen-testvm.sh")
DIR = os.environ.get("XEN_TESTVM_DIR", os.path.join(ROOT, "build-xen", "testvm"))
KDIR = "/var/lib/xenon/guest-kernels"
ARGS = "console=hvc0 quiet panic=-1"
XL_CFG = """name = "xl-pv"
type = "pv"
kernel = "%s/vmlinuz"
ramdisk = "%s/initrd.img"
extra = "%s"
memory = 128
vcpus = 1
""" % (KDIR, KDIR, ARGS)

# a command timed inside the dom0 in centiseconds (/proc/uptime: busybox's
# date has no %N), so no serial-line round trip is in the figure
TIMED = ("a=$(cut -d' ' -f1 /proc/uptime); %s; b=$(cut -d' ' -f1 /proc/uptime); "
         "echo T $(( ${b%%.*}${b#*.} - ${a%%.*}${a#*.} ))")


def login(port, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = harness.XenAPISession("http://127.0.0.1:%d" % port)
            s.xenapi.login_with_password("root", PASSWORD, "1.0", "xen_start")
            return s.xenapi
        except (OSError, harness.Failure):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    env = dict(os.environ, XEN_TESTVM_DIR=DIR)
    port = int(os.environ.get("XEN_TESTVM_PORT", "0"))
    booted = False
    if not port:
        port = harness.free_port()
        subprocess.run([SCRIPT, "build", os.environ["XENOND"]], env=env, check=True, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        out = subprocess.run([SCRIPT, "boot", str(port)], env=env, capture_output=True, text=True, timeout=1200)
        print(out.stdout, end="")
        if out.returncode:
            sys.exit("the nested machine did not boot:\n" + out.stdout + out.stderr)
        print("boot to xenond answering: %.1f s" % (time.monotonic() - t0))
        booted = True
    try:
        dom0 = Dom0(os.path.join(DIR, "shell.sock"))
        api = login(port)
        dom0.run("printf '%s' >/tmp/xl-pv.cfg" % XL_CFG.replace("\n", "\\n"))
        vm = api.VM.create({
            "name_label": "bench-pv", "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": 128 * MiB, "memory_dynamic_max": 128 * MiB,
            "memory_dynamic_min": 128 * MiB, "memory_static_min": 64 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": "vmlinuz", "PV_ramdisk": "initrd.img", "PV_args": ARGS,
            "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {},
            "platform": {}, "PCI_bus": "", "other_config": {}, "recommendations": "", "domain_type": "pv"})
        x_start, x_stop, l_start, l_stop = [], [], [], []
        for r in range(a.rounds):
            t = time.monotonic()
            api.VM.start(vm, False, False)
            x_start.append(time.monotonic() - t)
            time.sleep(2)
            t = time.monotonic()
            api.VM.hard_shutdown(vm)
            x_stop.append(time.monotonic() - t)
            rc, out = dom0.run(TIMED % "xl create -q /tmp/xl-pv.cfg", timeout=120)
            l_start.append(int(out.split("T ")[-1].split()[0]) / 100.0)
            time.sleep(2)
            rc, out = dom0.run(TIMED % "xl destroy xl-pv", timeout=120)
            l_stop.append(int(out.split("T ")[-1].split()[0]) / 100.0)
            print("round %d: VM.start %.3f s, xl create %.3f s; VM.hard_shutdown %.3f s, xl destroy %.3f s" %
                  (r + 1, x_start[-1], l_start[-1], x_stop[-1], l_stop[-1]))
        ms, ml = statistics.median(x_start), statistics.median(l_start)
        print("median VM.start %.3f s, xl create %.3f s: %.2fx" % (ms, ml, ms / ml))
        print("median VM.hard_shutdown %.3f s, xl destroy %.3f s: %.2fx" %
              (statistics.median(x_stop), statistics.median(l_stop),
               statistics.median(x_stop) / statistics.median(l_stop)))
        api.VM.destroy(vm)
    finally:
        if booted:
            subprocess.run([SCRIPT, "stop"], env=env)


if __name__ == "__main__":
    main()
