#!/bin/sh
# Smoke test for the test guest: builds it if needed, boots it (vmlinuz, then
# vmlinux; SMOKE_KERNELS picks) under QEMU
# (TCG) with the serial console in a file, QMP and the guest agent on unix
# sockets; waits for "XENON-GUEST: ready", talks to qemu-guest-agent
# (guest-ping, guest-exec of "uname -r", a few more), then QMP
# system_powerdown and checks QEMU exits within 30 s. Prints timings.
# Exits non-zero on any failure.
#
# Usage: tests/guest/smoke.sh [GUESTDIR]   (default build/guest)
#   Logs go to tests/guest/out/ (SMOKE_OUT overrides).
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
GUEST=${1:-$REPO/build/guest}
OUTDIR=${SMOKE_OUT:-$REPO/tests/guest/out}
mkdir -p "$OUTDIR"

t0=$(date +%s.%N)
"$REPO/scripts/build-test-guest.sh" "$GUEST"
t1=$(date +%s.%N)
GUEST=$(cd "$GUEST" && pwd)
echo "build (or reuse): $(echo "$t1 - $t0" | awk '{printf "%.1f", $1 - $3}') s"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v "$PY" >/dev/null || { echo "smoke: python3 is needed" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "smoke: no qemu-system-x86_64" >&2; exit 1; }

exec "$PY" - "$GUEST" "$OUTDIR" <<'PY'
import base64, json, os, shutil, socket, subprocess, sys, tempfile, time

guest, outdir = sys.argv[1], sys.argv[2]
sockdir = tempfile.mkdtemp(prefix="xenon-smoke-")
qmp_path, ga_path = os.path.join(sockdir, "qmp.sock"), os.path.join(sockdir, "ga.sock")
serial = os.path.join(outdir, "smoke-serial.log")
qemu_log = os.path.join(outdir, "smoke-qemu.log")
kver = None
for line in open(os.path.join(guest, "README")):
    if line.startswith("kernel release:"):
        kver = line.split(":", 1)[1].strip()

failures = []


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def serial_text():
    try:
        with open(serial, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


class JsonSock:
    """Line-oriented JSON over a unix socket (QMP and qemu-ga both fit)."""

    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                line = line.strip().lstrip(b"\xff")
                if line:
                    return json.loads(line)
                continue
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("socket closed")
            self.buf += chunk

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.send(msg)
        while True:
            r = self.recv()
            if "event" in r:
                continue
            if "error" in r:
                fail(f"{name}: {r['error']}")
            return r.get("return")


APPEND = ("console=ttyS0 quiet acpi=noirq panic=-1 xenon.ip=10.0.2.15/24 xenon.gw=10.0.2.2 "
          + os.environ.get("SMOKE_APPEND", "")).strip()


def run_one(kernel):
    """Boots GUEST/kernel; returns [(what, seconds)], raises SystemExit on failure."""
    timings = []
    proc = None
    try:
        if os.path.exists(serial):
            os.unlink(serial)
        for p in (qmp_path, ga_path):
            if os.path.exists(p):
                os.unlink(p)
        argv = [
            "qemu-system-x86_64", "-M", "pc", "-m", "256", "-display", "none",
            "-no-reboot", "-monitor", "none", "-nodefaults",
            "-kernel", os.path.join(guest, kernel),
            "-initrd", os.path.join(guest, "initrd.img"),
            "-append", APPEND,
            "-serial", "file:" + serial,
            "-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,romfile=",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", f"socket,id=ga0,path={ga_path},server=on,wait=off",
            "-device", "virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0",
            "-qmp", f"unix:{qmp_path},server=on,wait=off",
        ]
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=open(qemu_log, "wb"), stderr=subprocess.STDOUT)

        boot_ok = ready = None
        while time.monotonic() - start < 90:
            text = serial_text()
            if boot_ok is None and "XENON-GUEST: boot ok" in text:
                boot_ok = time.monotonic() - start
            if "XENON-GUEST: ready" in text:
                ready = time.monotonic() - start
                break
            if proc.poll() is not None:
                fail(f"QEMU exited early with status {proc.returncode}")
            time.sleep(0.02)
        if ready is None:
            fail("no 'XENON-GUEST: ready' on the serial console within 90 s")
        timings.append(("QEMU start -> 'boot ok'", boot_ok or ready))
        timings.append(("QEMU start -> 'ready'", ready))

        # Guest agent.
        t = time.monotonic()
        ga = JsonSock(ga_path)
        sync_id = int(time.time()) % 100000
        got = ga.cmd("guest-sync", id=sync_id)
        if got != sync_id:
            fail(f"guest-sync returned {got!r}, wanted {sync_id}")
        if ga.cmd("guest-ping") != {}:
            fail("guest-ping did not return {}")
        timings.append(("guest-ping round trip (incl. sync)", time.monotonic() - t))

        t = time.monotonic()
        pid = ga.cmd("guest-exec", path="uname", arg=["-r"], **{"capture-output": True})["pid"]
        while True:
            st = ga.cmd("guest-exec-status", pid=pid)
            if st.get("exited"):
                break
            if time.monotonic() - t > 20:
                fail("guest-exec of uname -r did not finish in 20 s")
            time.sleep(0.05)
        out = base64.b64decode(st.get("out-data", "")).decode().strip()
        if st.get("exitcode") != 0 or out != kver:
            fail(f"guest-exec uname -r: exitcode {st.get('exitcode')}, output {out!r}, wanted {kver!r}")
        timings.append(("guest-exec uname -r", time.monotonic() - t))
        print(f"guest-exec uname -r -> {out}")

        osinfo = ga.cmd("guest-get-osinfo")
        if osinfo.get("kernel-release") != kver or osinfo.get("id") != "xenon-test-guest":
            fail(f"guest-get-osinfo: {osinfo}")
        ifaces = {i["name"]: i for i in ga.cmd("guest-network-get-interfaces")}
        addrs = [a["ip-address"] for a in ifaces.get("eth0", {}).get("ip-addresses", [])]
        if "10.0.2.15" not in addrs:
            fail(f"guest-network-get-interfaces: eth0 lacks 10.0.2.15: {ifaces}")
        h = ga.cmd("guest-file-open", path="/tmp/smoke.txt", mode="w")
        ga.cmd("guest-file-write", handle=h, **{"buf-b64": base64.b64encode(b"xenon smoke\n").decode()})
        ga.cmd("guest-file-close", handle=h)
        h = ga.cmd("guest-file-open", path="/tmp/smoke.txt", mode="r")
        rd = ga.cmd("guest-file-read", handle=h, count=4096)
        ga.cmd("guest-file-close", handle=h)
        if base64.b64decode(rd["buf-b64"]) != b"xenon smoke\n":
            fail(f"guest-file read back {rd}")
        print("guest-get-osinfo, guest-network-get-interfaces, guest-file-* ok")

        # ACPI power button via QMP.
        qmp = JsonSock(qmp_path)
        qmp.recv()  # greeting
        qmp.cmd("qmp_capabilities")
        t = time.monotonic()
        qmp.cmd("system_powerdown")
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("QEMU did not exit within 30 s of system_powerdown")
        timings.append(("system_powerdown -> QEMU exit", time.monotonic() - t))
        if proc.returncode != 0:
            fail(f"QEMU exited with status {proc.returncode}")
        if "XENON-GUEST: power button" not in serial_text():
            fail("the guest did not log the power button event")
        proc = None
        return timings
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


kernels = [k for k in os.environ.get("SMOKE_KERNELS", "vmlinuz vmlinux").split()
           if os.path.exists(os.path.join(guest, k))]
if not kernels:
    failures.append("FAIL: no kernel to boot in " + guest)
all_timings = []
for k in kernels:
    print(f"--- booting {k}: {APPEND}")
    try:
        all_timings += [(f"[{k}] {what}", secs) for what, secs in run_one(k)]
    except SystemExit as e:
        failures.append(f"[{k}] {e}")
        break
    except Exception as e:  # socket errors, JSON errors, ...
        failures.append(f"[{k}] FAIL: {type(e).__name__}: {e}")
        break
shutil.rmtree(sockdir, ignore_errors=True)

for name, secs in all_timings:
    print(f"{name}: {secs:.2f} s")
st = os.stat(os.path.join(guest, "initrd.img"))
print(f"initrd.img: {st.st_size} bytes")
if failures:
    print("\n".join(failures), file=sys.stderr)
    print(f"--- serial console ({serial}) ---\n" + serial_text()[-4000:], file=sys.stderr)
    print(f"--- QEMU output ({qemu_log}) ---\n" + open(qemu_log, errors="replace").read()[-2000:], file=sys.stderr)
    sys.exit(1)
print("smoke: PASS")
PY
