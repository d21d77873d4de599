#!/usr/bin/env python3
"""Real VMs: start latency, boot to the guest's serial console, clean
shutdown, and 20 VMs started at once -- Xenon beside the same QEMU launched
by hand and beside libvirt's qemu driver, in one run.

The guest is the tiny test guest (scripts/build-test-guest.sh, vmlinux +
busybox initrd; built if missing), booted by direct kernel boot under TCG,
256 MiB and 1 vCPU unless told otherwise. Three ways of running it,
interleaved round by round (the order rotates) so that load from elsewhere
hits all three alike:

  xenon   a real xenond (--backend qemu, tests/integration/harness.py) on a
          private data dir: VM.start (synchronous) timed from the call until
          it returns, i.e. until QEMU has run "cont" and the VM is Running
          (checked with VM.get_power_state afterwards); VM.clean_shutdown
          timed until it returns (VM Halted, QEMU gone).
  hand    xenond's exact QEMU argv, read from /proc/<pid>/cmdline of the
          VM's QEMU, with only its run directory and uuid replaced, spawned
          here: wait for -daemonize's parent to exit, connect QMP,
          qmp_capabilities, cont, query-status until "running" -- the same
          steps xenond takes, with nothing around them. Shutdown:
          system_powerdown, wait for the SHUTDOWN event, quit, wait until
          the pid is gone.
  libvirt `virsh start` of an equivalent domain (same kernel, initrd,
          command line, memory, vCPUs, machine pc, cpu max, TCG, serial to a
          file, VGA+VNC on a unix socket, pvpanic, virtio balloon,
          virtio-serial guest-agent port) under a private libvirtd with the
          qemu driver, run unprivileged (session mode, user nobody) on its
          own socket and directories. Timed: the virsh command's wall time
          (virsh returns once the domain runs); shutdown: `virsh shutdown
          --mode acpi` (the ACPI power button, as xenond and the hand
          launch use) until QEMU's pid is gone and domstate is "shut off".

Start latency is measured twice: in --start-runs rounds (15) of start →
running followed at once by a hard stop (VM.hard_shutdown, QMP quit,
virsh destroy) -- cheap, so the median rests on many starts -- and in the
--runs boot rounds (5), which also time, for each, the start call to the
first complete line on the serial console (the log file QEMU writes), to
"XENON-GUEST: ready", and the clean shutdown.

Concurrent part (Xenon only): --concurrent VMs (20) of --concurrent-mem
MiB (128), Async.VM.start on all at once; time until every task succeeded
(all Running; one task.get_all_records per 100 ms poll) and until every
guest printed ready; xenond's CPU time (utime+stime from /proc) over that
span, xenond's RSS growth per VM and QEMU's RSS per VM once all are ready;
then Async.VM.clean_shutdown of all.

    python3 bench/vm_start.py [--runs 5] [--start-runs 15] [--quick] [--no-libvirt] [--no-hand]
                              [--no-concurrent] [--concurrent 20] [--concurrent-mem 128] [--mem 256]

The script makes itself a child subreaper and reaps exited QEMUs at once,
as a normal init does (see vmbench.py: this machine's PID 1 leaves them
zombies for a second, which libvirt's "shut off" waits for).

Prints a table; also writes it to $BENCH_OUT/vm_start.md. Every file goes
under a fresh directory in $TMPDIR, removed at the end, with every QEMU and
daemon this script started."""
import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmbench  # noqa: E402
from vmbench import harness, log, median, fmt_s, fmt_range, MiB  # noqa: E402

GUEST = os.environ.get("BENCH_GUEST") or os.path.join(vmbench.ROOT, "build", "guest")
ARGS = "console=ttyS0 quiet acpi=noirq panic=-1"
READY = b"XENON-GUEST: ready"
POLL = 0.005


def ensure_guest():
    if not (os.path.exists(os.path.join(GUEST, "vmlinux")) and os.path.exists(os.path.join(GUEST, "initrd.img"))):
        log("building the test guest in %s" % GUEST)
        subprocess.run([os.path.join(vmbench.ROOT, "scripts", "build-test-guest.sh"), GUEST], check=True,
                       stdout=subprocess.DEVNULL, timeout=1800)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def watch_serial(path, t0, timeout, want_ready=True):
    """Polls the serial log; returns (t_first_line, t_ready, first_line)
    relative to t0."""
    first = ready = None
    line = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = read_file(path)
        now = time.monotonic()
        if first is None:
            for ln in data.split(b"\n")[:-1]:
                if ln.strip():
                    first, line = now - t0, ln.strip().decode("utf-8", "replace")
                    break
        if READY in data:
            ready = now - t0
            if first is None:
                first = ready
            return first, ready, line
        if first is not None and not want_ready:
            return first, None, line
        time.sleep(POLL)
    raise TimeoutError("no %r in %s within %.0f s; got %r" % (READY, path, timeout, read_file(path)[-500:]))


# ---------------------------------------------------------------- Xenon

class Xenon:
    name = "xenon"

    def __init__(self, work, mem):
        self.work = work
        self.srv = harness.Server(data_dir=os.path.join(work, "xenon"), backend="qemu", log_level="warn")
        kdir = os.path.join(self.srv.data_dir, "guest-kernels")
        os.makedirs(kdir)
        for f in ("vmlinux", "initrd.img"):
            shutil.copy(os.path.join(GUEST, f), kdir)
        self.run_dir = os.path.join(self.srv.data_dir, "run")
        self.srv.start()
        self.api = self.srv.api
        self.vm = self.new_vm("bench-start", mem)
        self.uuid = self.api.VM.get_uuid(self.vm)
        self.argv = None

    def new_vm(self, name, mem):
        return self.api.VM.create({
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": harness.NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": mem, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": "vmlinux", "PV_ramdisk": "initrd.img",
            "PV_args": ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})

    def vm_dir(self, uuid=None):
        return os.path.join(self.run_dir, "vm", uuid or self.uuid)

    def qemu_pid(self, uuid=None):
        try:
            with open(os.path.join(self.vm_dir(uuid), "qemu.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def run_once(self, timeout):
        serial = os.path.join(self.vm_dir(), "serial.log")
        t0 = time.monotonic()
        self.api.VM.start(self.vm, False, False)
        t_run = time.monotonic() - t0
        first, ready, line = watch_serial(serial, t0, timeout)
        assert self.api.VM.get_power_state(self.vm) == "Running"
        if self.argv is None:
            self.argv = vmbench.cmdline(self.qemu_pid())
        t1 = time.monotonic()
        self.api.VM.clean_shutdown(self.vm)
        t_down = time.monotonic() - t1
        assert self.api.VM.get_power_state(self.vm) == "Halted"
        return dict(running=t_run, first=first, ready=ready, shutdown=t_down, line=line)

    def start_only(self):
        t0 = time.monotonic()
        self.api.VM.start(self.vm, False, False)
        dt = time.monotonic() - t0
        self.api.VM.hard_shutdown(self.vm)
        return dt

    def stop(self):
        try:
            for vm, rec in self.api.VM.get_all_records().items():
                if not rec["is_control_domain"] and rec["power_state"] != "Halted":
                    self.api.VM.hard_shutdown(vm)
        except Exception as e:
            log("xenon: cleanup: %s" % e)
        self.srv.stop()
        for pid in vmbench.qemus_under(self.run_dir):
            vmbench.kill_pid_if(pid, self.run_dir)


# ---------------------------------------------------------------- by hand

class Hand:
    """xenond's argv, launched here."""
    name = "hand"

    def __init__(self, work, xen):
        self.dir = os.path.join(work, "hand")
        os.makedirs(self.dir)
        self.uuid = str(uuidlib.uuid4())
        src_dir = xen.vm_dir()
        self.argv = [a.replace(src_dir, self.dir).replace(xen.uuid, self.uuid) for a in xen.argv]
        leftover = [a for a in self.argv if xen.run_dir in a or xen.uuid in a]
        if leftover:
            raise RuntimeError("xenond's QEMU argv still names its own files: %r" % leftover)
        self.pid = None

    def launch(self):
        """Returns (t0, QMP connection) once the guest's vCPUs run."""
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        t0 = time.monotonic()
        with open(os.path.join(self.dir, "qemu.log"), "wb") as err:
            p = vmbench.spawn(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            if p.wait(120) != 0:
                raise RuntimeError("hand-launched QEMU failed: %s" % read_file(os.path.join(self.dir, "qemu.log")))
        with open(os.path.join(self.dir, "qemu.pid")) as f:
            self.pid = int(f.read())
        q = vmbench.Qmp(os.path.join(self.dir, "qmp.sock"))
        q.cmd("cont")
        while q.cmd("query-status")["status"] != "running":
            time.sleep(0.001)
        return t0, q

    def start_only(self):
        t0, q = self.launch()
        dt = time.monotonic() - t0
        try:
            q.cmd("quit")
        except (EOFError, OSError):
            pass
        q.close()
        while vmbench.pid_alive(self.pid):
            time.sleep(0.001)
        self.pid = None
        return dt

    def run_once(self, timeout):
        t0, q = self.launch()
        t_run = time.monotonic() - t0
        first, ready, line = watch_serial(os.path.join(self.dir, "serial.log"), t0, timeout)
        t1 = time.monotonic()
        q.cmd("system_powerdown")
        q.wait_event("SHUTDOWN", timeout)
        try:
            q.cmd("quit")
        except (EOFError, OSError):
            pass
        q.close()
        while vmbench.pid_alive(self.pid):
            time.sleep(0.001)
        t_down = time.monotonic() - t1
        self.pid = None
        return dict(running=t_run, first=first, ready=ready, shutdown=t_down, line=line)

    def stop(self):
        if self.pid:
            vmbench.kill_pid_if(self.pid, self.dir)


# ---------------------------------------------------------------- libvirt

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{dir}/vmlinux</kernel>
    <initrd>{dir}/initrd.img</initrd>
    <cmdline>{args}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum'/>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{qemu}</emulator>
    <serial type='file'><source path='{dir}/serial.log'/><target port='0'/></serial>
    <channel type='unix'>
      <source mode='bind' path='{dir}/ga.sock'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <graphics type='vnc' socket='{dir}/vnc.sock'/>
    <video><model type='vga'/></video>
    <panic model='isa'/>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""


class Libvirt:
    """A private, unprivileged libvirtd with the qemu driver."""
    name = "libvirt"

    def __init__(self, work, mem):
        self.dir = os.path.join(work, "libvirt")
        for d in ("home", "rt", "cfg/libvirt", "cache", "sock", "dom"):
            os.makedirs(os.path.join(self.dir, d))
        for f in ("vmlinux", "initrd.img"):
            shutil.copy(os.path.join(GUEST, f), os.path.join(self.dir, "dom"))
        with open(os.path.join(self.dir, "cfg/libvirt/qemu.conf"), "w") as f:
            f.write('stdio_handler = "file"\n')
        self.conf = os.path.join(self.dir, "cfg/libvirt/libvirtd.conf")
        with open(self.conf, "w") as f:
            f.write('unix_sock_dir = "%s/sock"\nlog_outputs = "3:file:%s/libvirtd.log"\n' % (self.dir, self.dir))
        subprocess.run(["chown", "-R", "nobody:nogroup", self.dir], check=True)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir + "/home",
               "XDG_RUNTIME_DIR": self.dir + "/rt", "XDG_CONFIG_HOME": self.dir + "/cfg",
               "XDG_CACHE_HOME": self.dir + "/cache"}
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
             "libvirtd", "--config", self.conf], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "libvirtd.stderr"), "wb"))
        sock = os.path.join(self.dir, "sock", "libvirt-sock")
        self.uri = "qemu:///session?socket=" + sock
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("libvirtd did not start: %s" % read_file(os.path.join(self.dir, "libvirtd.log"))[-2000:])
            time.sleep(0.05)
        self.dom = "xenon-bench-%d" % os.getpid()
        xml = os.path.join(self.dir, "dom.xml")
        with open(xml, "w") as f:
            f.write(DOMAIN_XML.format(name=self.dom, mem=mem // MiB, dir=self.dir + "/dom", args=ARGS,
                                      qemu=shutil.which("qemu-system-x86_64")))
        self.virsh("define", xml)
        self.pid = None

    def virsh(self, *args, timeout=300):
        return subprocess.run(["virsh", "-q", "-c", self.uri] + list(args), check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout).stdout.strip()

    def domstate(self):
        return self.virsh("domstate", self.dom)

    def find_pid(self):
        for pid in vmbench.qemus_under("guest=%s," % self.dom):
            return pid
        return None

    def start_only(self):
        t0 = time.monotonic()
        self.virsh("start", self.dom)
        dt = time.monotonic() - t0
        self.virsh("destroy", self.dom)
        return dt

    def run_once(self, timeout):
        serial = os.path.join(self.dir, "dom", "serial.log")
        if os.path.exists(serial):
            os.unlink(serial)
        t0 = time.monotonic()
        self.virsh("start", self.dom)
        t_run = time.monotonic() - t0
        first, ready, line = watch_serial(serial, t0, timeout)
        state = self.domstate()
        if state != "running":
            raise RuntimeError("libvirt domain state %r after start" % state)
        self.pid = self.find_pid()
        t1 = time.monotonic()
        self.virsh("shutdown", "--mode", "acpi", self.dom)
        deadline = t1 + timeout
        while self.pid and vmbench.pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        t_gone = time.monotonic() - t1
        while self.domstate() != "shut off":
            if time.monotonic() > deadline:
                raise TimeoutError("libvirt domain did not shut off")
            time.sleep(0.01)
        t_down = time.monotonic() - t1
        log("  libvirt: QEMU gone %.3f s after virsh shutdown was called" % t_gone)
        return dict(running=t_run, first=first, ready=ready, shutdown=t_down, line=line)

    def stop(self):
        try:
            if self.domstate() != "shut off":
                self.virsh("destroy", self.dom)
            self.virsh("undefine", self.dom)
        except Exception as e:
            log("libvirt: cleanup: %s" % e)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in vmbench.qemus_under(self.dir):
            vmbench.kill_pid_if(pid, self.dir)


# ---------------------------------------------------------------- concurrent

def concurrent(xen, n, mem, timeout):
    api = xen.api
    vms = [xen.new_vm("bench-conc-%02d" % i, mem) for i in range(n)]
    uuids = [api.VM.get_uuid(v) for v in vms]
    pid = xen.srv.pid
    time.sleep(1)
    rss0 = vmbench.proc_status(pid)
    cpu0 = vmbench.proc_cpu(pid)
    t0 = time.monotonic()
    tasks = [api.Async.VM.start(v, False, False) for v in vms]
    t_calls = time.monotonic() - t0
    running, ready = {}, {}
    deadline = t0 + timeout
    while len(ready) < n or len(running) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("%d/%d Running, %d/%d ready after %.0f s" % (len(running), n, len(ready), n, timeout))
        # one call per poll for all tasks, so that the polling adds little
        # to xenond's CPU time
        recs = api.task.get_all_records() if len(running) < n else {}
        for i, t in enumerate(tasks):
            if i not in running:
                rec = recs.get(t) or api.task.get_record(t)
                st = rec["status"]
                if st == "success":
                    running[i] = time.monotonic() - t0
                elif st not in ("pending", "cancelling"):
                    raise RuntimeError("Async.VM.start %s: %s %s" % (vms[i], st, rec["error_info"]))
            if i not in ready and READY in read_file(os.path.join(xen.vm_dir(uuids[i]), "serial.log")):
                ready[i] = time.monotonic() - t0
        time.sleep(0.1)
    cpu = vmbench.proc_cpu(pid) - cpu0
    rss1 = vmbench.proc_status(pid)
    qpids = [xen.qemu_pid(u) for u in uuids]
    qrss = [vmbench.proc_status(p) for p in qpids if p]
    states = set(api.VM.get_power_state(v) for v in vms)
    assert states == {"Running"}, states
    t1 = time.monotonic()
    tasks = [api.Async.VM.clean_shutdown(v) for v in vms]
    pending = set(range(n))
    while pending:
        if time.monotonic() > t1 + timeout:
            raise TimeoutError("clean shutdown of %d VMs: %d still pending" % (n, len(pending)))
        recs = api.task.get_all_records()
        for i in list(pending):
            rec = recs.get(tasks[i]) or api.task.get_record(tasks[i])
            st = rec["status"]
            if st == "success":
                pending.discard(i)
            elif st not in ("pending", "cancelling"):
                raise RuntimeError("Async.VM.clean_shutdown: %s %s" % (st, rec["error_info"]))
        time.sleep(0.1)
    t_down = time.monotonic() - t1
    for v in vms:
        api.VM.destroy(v)
    return dict(n=n, mem=mem, calls=t_calls, all_running=max(running.values()), all_ready=max(ready.values()),
                med_ready=median(list(ready.values())), first_ready=min(ready.values()),
                cpu=cpu, rss_per_vm=(rss1 - rss0) / n, rss0=rss0, rss1=rss1,
                qemu_rss=sum(qrss) / len(qrss) if qrss else 0, shutdown=t_down)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="rounds of start/ready/shutdown per system (median)")
    ap.add_argument("--start-runs", type=int, default=15,
                    help="rounds of start → running then hard stop, no boot (median)")
    ap.add_argument("--mem", type=int, default=256, help="MiB for the single-VM runs")
    ap.add_argument("--concurrent", type=int, default=20, help="VMs started at once (0: skip)")
    ap.add_argument("--concurrent-mem", type=int, default=128, help="MiB per concurrent VM")
    ap.add_argument("--timeout", type=float, default=180, help="per boot (single runs)")
    ap.add_argument("--concurrent-timeout", type=float, default=1200)
    ap.add_argument("--quick", action="store_true", help="2 rounds, 5 concurrent VMs")
    ap.add_argument("--no-libvirt", action="store_true")
    ap.add_argument("--no-hand", action="store_true")
    ap.add_argument("--no-concurrent", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.runs = min(a.runs, 2)
        a.start_runs = min(a.start_runs, 4)
        a.concurrent = min(a.concurrent, 5)
    if a.no_concurrent:
        a.concurrent = 0
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("vm_start: qemu-system-x86_64 missing (apt-get install qemu-system-x86)")
    use_libvirt = not a.no_libvirt
    if use_libvirt and not (shutil.which("libvirtd") and shutil.which("virsh")):
        log("vm_start: libvirtd/virsh missing (apt-get install libvirt-daemon-driver-qemu libvirt-clients): "
            "libvirt column skipped")
        use_libvirt = False
    ensure_guest()
    vmbench.start_reaper()
    load0 = vmbench.loadavg()
    when = time.strftime("%Y-%m-%d %H:%M")
    work = vmbench.workdir("xenon-vmstart-")
    systems = []
    res = {}
    starts = {}
    conc = None
    try:
        xen = Xenon(work, a.mem * MiB)
        systems.append(xen)
        log("xenond %s (pid %d), work dir %s" % (harness.XENOND, xen.srv.pid, work))
        # round 0 is a warm-up (page cache for kernel/initrd/QEMU, xenond's
        # argv for the hand launch); not counted
        log("warm-up: xenon")
        xen.run_once(a.timeout)
        if not a.no_hand:
            systems.append(Hand(work, xen))
            log("warm-up: hand")
            systems[-1].run_once(a.timeout)
        if use_libvirt:
            try:
                lv = Libvirt(work, a.mem * MiB)
            except Exception as e:  # the other two columns still stand
                log("vm_start: libvirt column skipped: %s" % e)
            else:
                systems.append(lv)
                log("warm-up: libvirt")
                lv.run_once(a.timeout)
        log("xenond's QEMU argv: %s" % " ".join(xen.argv))
        for r in range(a.start_runs):
            order = systems[r % len(systems):] + systems[:r % len(systems)]
            for s in order:
                dt = s.start_only()
                starts.setdefault(s.name, []).append(dt)
            log("start only, round %d: %s  (load %s)" % (r + 1, "  ".join(
                "%s %.3f" % (s.name, starts[s.name][-1]) for s in systems), vmbench.loadavg()))
        for r in range(a.runs):
            order = systems[r % len(systems):] + systems[:r % len(systems)]
            for s in order:
                m = s.run_once(a.timeout)
                res.setdefault(s.name, []).append(m)
                log("round %d %-7s running %.3f  first line %.3f  ready %.3f  shutdown %.3f  (load %s)" % (
                    r + 1, s.name, m["running"], m["first"], m["ready"], m["shutdown"], vmbench.loadavg()))
        if a.concurrent:
            log("concurrent: %d VMs of %d MiB" % (a.concurrent, a.concurrent_mem))
            conc = concurrent(xen, a.concurrent, a.concurrent_mem * MiB, a.concurrent_timeout)
            log("concurrent: %r" % conc)
    finally:
        for s in reversed(systems):
            try:
                s.stop()
            except Exception as e:
                log("cleanup %s: %s" % (s.name, e))
        vmbench.rmtree(work)

    labels = {"xenon": "Xenon VM.start / VM.clean_shutdown",
              "hand": "same QEMU argv by hand (QMP)",
              "libvirt": "libvirt qemu driver: virsh start / shutdown"}
    lines = ["VM start, %d MiB, 1 vCPU, TCG, tiny guest (vmlinux + busybox initrd); median (min–max) of %d "
             "rounds after one warm-up; %s; loadavg at start %s, at end %s" % (
                 a.mem, a.runs, when, load0, vmbench.loadavg()), "",
             "| how | start → running (%d starts, no boot) | start → running (boot rounds) | start → first serial line "
             "| start → ready | clean shutdown |" % a.start_runs,
             "|---|---|---|---|---|---|"]
    for name in ("xenon", "hand", "libvirt"):
        if name in res:
            ms = res[name]
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                labels[name], fmt_range(starts.get(name, [])), fmt_range([m["running"] for m in ms]),
                fmt_range([m["first"] for m in ms]),
                fmt_range([m["ready"] for m in ms]), fmt_range([m["shutdown"] for m in ms])))

    def med(name, k):
        return median([m[k] for m in res[name]])
    lines.append("")
    for other in ("hand", "libvirt"):
        if other in res and "xenon" in res:
            lines.append("Xenon / %s (medians): running %.2f×, first line %.2f×, ready %.2f×, shutdown %.2f×" % (
                other, med("xenon", "running") / med(other, "running"), med("xenon", "first") / med(other, "first"),
                med("xenon", "ready") / med(other, "ready"), med("xenon", "shutdown") / med(other, "shutdown")))
    if "hand" in starts:
        ratio = median(starts["xenon"]) / median(starts["hand"])
        lines.append("Target Xenon start → running ≤ 1.1× hand-launched QEMU (%d starts each): %s (%.2f×)" % (
            a.start_runs, "met" if ratio <= 1.1 else "NOT met", ratio))
    if "libvirt" in starts:
        lines.append("Xenon / libvirt start → running (%d starts each): %.2f×" % (
            a.start_runs, median(starts["xenon"]) / median(starts["libvirt"])))
    if "xenon" in res:
        lines.append("First serial line: %r" % res["xenon"][0]["line"])
        lines.append("xenond's QEMU command line (launched by hand with its own run directory and uuid): `%s`"
                     % " ".join(xen.argv))
    if conc:
        lines += ["", "%d VMs of %d MiB started at once (Async.VM.start), Xenon:" % (conc["n"], conc["mem"] // MiB), "",
                  "| all Async calls returned | all Running | first ready | median ready | all ready | "
                  "xenond CPU (start → all ready) | xenond RSS per VM | QEMU RSS per VM | clean shutdown of all |",
                  "|---|---|---|---|---|---|---|---|---|",
                  "| %s | %s | %s | %s | %s | %.2f s | %.0f KiB (%.1f → %.1f MiB) | %.0f MiB | %s |" % (
                      fmt_s(conc["calls"]), fmt_s(conc["all_running"]), fmt_s(conc["first_ready"]),
                      fmt_s(conc["med_ready"]), fmt_s(conc["all_ready"]), conc["cpu"], conc["rss_per_vm"],
                      conc["rss0"] / 1024, conc["rss1"] / 1024, conc["qemu_rss"] / 1024, fmt_s(conc["shutdown"]))]
    table = "\n".join(lines) + "\n"
    print(table)
    vmbench.write_result("vm_start.md", table)


if __name__ == "__main__":
    main()
