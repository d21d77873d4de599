#!/usr/bin/env python3
"""Export and import throughput of one disk, Xenon beside cat and
qemu-img convert, in one run.

The disk: a --size-gib (4) GiB VDI in the default file SR of a xenond with
the sim backend (no VM runs), half filled with random data (os.urandom,
incompressible): 4 MiB of data, 4 MiB hole, and so on, 2 GiB of content in
512 extents. It is written through the API, by PUT /import_raw_vdi of a
sparse raw file that holds the same bytes; that raw file stays as the
source of the raw imports and of qemu-img convert raw → qcow2. The VDI
belongs to a halted VM, for the XVA exports.

Each measured command moves the same disk content. Every client is a
separate process with its output to /dev/null or a file under $TMPDIR:

  export  cat <VDI's qcow2 file> > /dev/null           (reference)
          qemu-img convert -O raw <qcow2> <file>          (reference)
          qemu-img convert <qcow2> to a null-co target    (reference: reading
          and decoding the qcow2 only)
          nbdcopy from `qemu-nbd -r` to null:             (reference: the
          qemu-nbd that xenond reads through, without HTTP; libnbd-bin)
          curl GET /export_raw_vdi format=raw, vhd, qcow2 → /dev/null
          curl GET /export (XVA), uncompressed and use_compression=zstd → /dev/null
          the qcow2 file served by a minimal HTTP server with sendfile(2),
          curl GET → /dev/null (reference: loopback HTTP and curl alone,
          the ceiling of any HTTP export here)
          zstd -3 -T2 of the uncompressed XVA file → /dev/null (reference for
          the zstd export: same level, 2 threads; xenond uses level 3 with
          one worker per core)
  import  qemu-img convert -t writeback -O qcow2 <raw file> <file>
          (reference: flushed at the end, like every import here)
          qemu-img convert -O qcow2 <raw file> <file> with its default
          target cache mode, "unsafe", which never flushes (shown; its
          flush is done untimed after it, so that its write-back does not
          fall into the next command)
          curl PUT /import_raw_vdi format=raw of the raw file (all
          --size-gib GiB, holes as zeros, on the wire) into a new VDI
          curl PUT /import of the XVA file (uncompressed, and zstd)
          xe vdi-import format=raw of the raw file (xe sends xapi's chunked
          upload of the file's data extents only) into a new VDI
          xe vm-import of the uncompressed XVA file
  empty   a 100 GiB VDI that holds nothing, in its own VM: XVA export,
          vhd export; and, once (not with --quick or --no-big-raw), the raw
          export, which has to send 100 GiB of zeros

Page cache, the same state for every command: with --cache warm, the
command's source file (the VDI's qcow2, the raw file, the XVA file) is read
once, untimed, just before it, so it reads from memory -- this measures the
software path; with --cache cold, that one file is fsync'ed and dropped
from the cache (posix_fadvise DONTNEED; checked with fincore; nothing
global like drop_caches on a shared machine), so it reads from the disk.
--cache both (default) runs each round in both states. Writers (qemu-img
convert -t writeback through the page cache, xenond's imports with
O_DIRECT) end with a flush to the file system (fdatasync): an import is
done when its data is on the disk. Imported VDIs and
converted files are deleted after each run. The rounds interleave the
methods (the order rotates), and each row is the median (min–max) over
--runs rounds.

MiB/s is of disk content: the 2 GiB of data (size/2) for every row, so
rows compare directly; the bytes each client sent or received are shown
beside it. Targets: export ≥ 0.8× cat, import ≥ 0.8× qemu-img convert.

    python3 bench/export_bench.py [--runs 3] [--quick] [--size-gib 4] [--cache warm|cold|both]
                                  [--no-big-raw] [--no-empty] [--no-import] [--no-export]

Prints a table; also writes it to $BENCH_OUT/export.md. Everything goes
under a fresh directory in $TMPDIR, removed at the end."""
import argparse
import os
import shutil
import subprocess
import sys
import resource
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmbench  # noqa: E402
from vmbench import harness, log, median, MiB, GiB  # noqa: E402

STRIPE = 4 * MiB

# A minimal HTTP server that answers every GET with one file sent by
# sendfile(2) (the kernel hands page-cache pages to the socket, no copy in
# the server): the loopback TCP transport and curl's receiving alone, the
# ceiling for any HTTP export on this machine. Run as its own process.
SENDFILE_SERVER = r"""
import os, socket, sys
path = sys.argv[1]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(4)
print(ls.getsockname()[1], flush=True)
while True:
    c, _ = ls.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(65536)
        if not d:
            break
        req += d
    with open(path, "rb") as f:
        n = os.fstat(f.fileno()).st_size
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
        c.sendfile(f)
    c.close()
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def warm(path):
    """Reads a file once so that the timed read finds it in the page cache."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(8 * MiB)
        while f.readinto(buf):
            pass


def evict(path):
    """Drops this one file from the page cache (nothing else: no global
    drop_caches on a shared machine)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_mib(path):
    """MiB of path in the page cache (fincore), or -1 if unknown."""
    try:
        out = subprocess.run(["fincore", "-b", "-n", "-o", "RES", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout.split()
        return int(out[0]) // MiB
    except (OSError, ValueError, IndexError):
        return -1


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def wait_children_gone(pid, timeout=30):
    """Waits until xenond has reaped its qemu-nbd/qemu-img of the last
    transfer (it may close the image just after the client saw the last
    byte), so their CPU time lands in this run's cutime."""
    deadline = time.monotonic() + timeout
    while children_of(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def children_cpu(pid):
    """cutime+cstime of pid: CPU of its reaped children (qemu-nbd)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, a, work):
        self.a, self.work = a, work
        self.size = a.size_gib * GiB
        self.content = self.size // 2
        os.makedirs(os.path.join(work, "xenon"))
        self.srv = harness.Server(data_dir=os.path.join(work, "xenon"), backend="sim", log_level="warn")
        self.srv.start()
        self.api = self.srv.api
        pool = self.api.pool.get_all()[0]
        self.sr = self.api.pool.get_default_SR(pool)
        self.sr_dir = os.path.join(self.srv.data_dir, "sr", self.api.SR.get_uuid(self.sr))
        self.results = {}  # (cache, label) -> [(seconds, bytes, xenond cpu, qemu-nbd cpu, client cpu)]
        self.empty = {}  # label -> [(seconds, bytes)]
        self.sendfile_srv = None

    # ---- API helpers ----

    def url(self, path, **q):
        q["session_id"] = self.srv.session
        return "http://127.0.0.1:%d%s?%s" % (self.srv.port, path, urllib.parse.urlencode(q))

    def new_vdi(self, size, name):
        return self.api.VDI.create({"name_label": name, "SR": self.sr, "virtual_size": str(size), "type": "user",
                                    "sharable": False, "read_only": False, "other_config": {},
                                    "xenstore_data": {}, "sm_config": {}, "tags": []})

    def vdi_file(self, vdi):
        return os.path.join(self.sr_dir, self.api.VDI.get_location(vdi) + ".qcow2")

    def vm_with(self, vdi, name):
        tmpl = self.api.VM.get_by_name_label("Other install media")[0]
        vm = self.api.VM.clone(tmpl, name)
        if self.api.VM.get_is_a_template(vm):
            self.api.VM.set_is_a_template(vm, False)
        self.api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                             "type": "Disk", "unpluggable": False, "empty": False, "other_config": {},
                             "qos_algorithm_type": "", "qos_algorithm_params": {}})
        return vm

    def destroy_vm(self, vm):
        vdis = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(vm)]
        self.api.VM.destroy(vm)
        for v in vdis:
            if v != harness.NULL_REF:
                self.api.VDI.destroy(v)

    def curl(self, method, url, src=None, out="/dev/null"):
        """curl as the client; returns bytes moved. Fails on any HTTP error."""
        cmd = ["curl", "-sS", "--fail", "-o", out, "-w", "%{http_code} %{size_download} %{size_upload}"]
        if method == "PUT":
            cmd += ["-T", src]
        cmd.append(url)
        code, down, up = run(cmd).stdout.decode().split()
        if code != "200":
            raise RuntimeError("%s %s: HTTP %s" % (method, url, code))
        return int(float(up)) if method == "PUT" else int(float(down))

    def xe(self, *args):
        """xe as the client (its own upload path: read-ahead, raw files as
        chunks of their data). Fails on any error."""
        run([harness.XE, "-s", "127.0.0.1", "-p", str(self.srv.port), "--nossl", "-u", "root",
             "-pw", self.srv.password] + list(args))

    # ---- setup ----

    def make_disk(self):
        self.raw = os.path.join(self.work, "disk.raw")
        t = time.monotonic()
        with open(self.raw, "wb") as f:
            f.truncate(self.size)
            for off in range(0, self.size, 2 * STRIPE):
                f.seek(off)
                f.write(os.urandom(min(STRIPE, self.size - off)))
        log("source raw file: %d MiB of random data in a %d MiB file (%.1f s)" % (
            self.content // MiB, self.size // MiB, time.monotonic() - t))
        # what xe's chunked upload of it sends: a 12-byte header per piece
        # (extents cut at 64 MiB) and the last, empty one
        self.chunked_bytes = 12 + sum(12 * -(-STRIPE // (64 * MiB)) + min(STRIPE, self.size - off)
                                      for off in range(0, self.size, 2 * STRIPE))
        self.vdi = self.new_vdi(self.size, "bench-disk")
        t = time.monotonic()
        self.curl("PUT", self.url("/import_raw_vdi", vdi=self.vdi, format="raw"), src=self.raw)
        log("written through PUT /import_raw_vdi in %.1f s" % (time.monotonic() - t))
        self.qcow2 = self.vdi_file(self.vdi)
        run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", self.raw, self.qcow2])
        self.vm = self.vm_with(self.vdi, "bench-export")
        # the XVA files the imports read (made once, untimed)
        self.xva = os.path.join(self.work, "disk.xva")
        self.curl("GET", self.url("/export", ref=self.vm), out=self.xva)
        self.xva_zst = os.path.join(self.work, "disk.xva.zst")
        self.curl("GET", self.url("/export", ref=self.vm, use_compression="zstd"), out=self.xva_zst)
        log("XVA files: %d MiB plain, %d MiB zstd; qcow2 file %d MiB (allocated %d MiB)" % (
            os.path.getsize(self.xva) // MiB, os.path.getsize(self.xva_zst) // MiB,
            os.path.getsize(self.qcow2) // MiB, os.stat(self.qcow2).st_blocks * 512 // MiB))

    # ---- one timed run ----

    def timed(self, cache, label, source, fn, after=None):
        if cache == "warm":
            warm(source)
        else:
            evict(source)
            left = cached_mib(source)
            if left > 16:
                log("  warning: %d MiB of %s still cached after eviction" % (left, source))
        pid = self.srv.pid
        wait_children_gone(pid)
        cpu0, kids0 = vmbench.proc_cpu(pid), children_cpu(pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.monotonic()
        nbytes = fn()
        dt = time.monotonic() - t
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wait_children_gone(pid)
        cpu, kids = vmbench.proc_cpu(pid) - cpu0, children_cpu(pid) - kids0
        client = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        if after:
            after()
        self.results.setdefault((cache, label), []).append((dt, nbytes, cpu, kids, client))
        log("  %-4s %-52s %7.2f s %7.1f MiB/s %6d MiB moved  CPU: xenond %.2f qemu-nbd %.2f client %.2f s" % (
            cache, label, dt, self.content / MiB / dt, nbytes // MiB, cpu, kids, client))

    def export_methods(self):
        out = os.path.join(self.work, "out.raw")

        def rm_out():
            os.unlink(out)

        def cat():
            run(["sh", "-c", 'cat "$1" > /dev/null', "cat", self.qcow2])
            return os.path.getsize(self.qcow2)

        def convert():
            run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", self.qcow2, out])
            return os.stat(out).st_blocks * 512

        def convert_null():
            run(["qemu-img", "convert", "-n", "-f", "qcow2", self.qcow2, "--target-image-opts",
                 "driver=null-co,size=%d" % self.size])
            return os.stat(self.qcow2).st_blocks * 512

        def nbdcopy():
            run(["nbdcopy", "--", "[", "qemu-nbd", "-r", "-f", "qcow2", self.qcow2, "]", "null:"])
            return os.stat(self.qcow2).st_blocks * 512

        def sendfile_curl():
            if not self.sendfile_srv:
                self.sendfile_srv = subprocess.Popen([sys.executable, "-c", SENDFILE_SERVER, self.qcow2],
                                                     stdout=subprocess.PIPE)
                self.sendfile_port = int(self.sendfile_srv.stdout.readline())
            return self.curl("GET", "http://127.0.0.1:%d/" % self.sendfile_port)

        m = [("export: cat qcow2 > /dev/null (reference)", self.qcow2, cat, None),
             (SENDFILE, self.qcow2, sendfile_curl, None),
             ("export: qemu-img convert qcow2 → raw file (reference)", self.qcow2, convert, rm_out),
             ("export: qemu-img convert qcow2 → null-co (reference: read only)", self.qcow2, convert_null, None)]
        if shutil.which("nbdcopy"):
            m.append(("export: nbdcopy from qemu-nbd -r → null: (reference: xenond's read path, no HTTP)",
                      self.qcow2, nbdcopy, None))
        for fmt in ("raw", "vhd", "qcow2"):
            m.append(("export: GET /export_raw_vdi format=%s" % fmt, self.qcow2,
                      lambda fmt=fmt: self.curl("GET", self.url("/export_raw_vdi", vdi=self.vdi, format=fmt)), None))
        m.append(("export: GET /export XVA", self.qcow2,
                  lambda: self.curl("GET", self.url("/export", ref=self.vm)), None))
        m.append(("export: GET /export XVA use_compression=zstd", self.qcow2,
                  lambda: self.curl("GET", self.url("/export", ref=self.vm, use_compression="zstd")), None))

        def zstd_cli():
            run(["sh", "-c", 'zstd -q -3 -T2 -c "$1" > /dev/null', "zstd", self.xva])
            return os.path.getsize(self.xva)
        if shutil.which("zstd"):
            m.append(("export: zstd -3 -T2 of the XVA file (reference)", self.xva, zstd_cli, None))
        return m

    def import_methods(self):
        out = os.path.join(self.work, "out.qcow2")
        verified = set()

        def convert(*cache):
            # -t writeback: qemu-img flushes the target when it closes it;
            # its default for convert, "unsafe", leaves the data dirty in
            # the page cache (to be written back up to 30 s later, during
            # whatever runs then)
            run(["qemu-img", "convert"] + list(cache) + ["-f", "raw", "-O", "qcow2", self.raw, out])
            return os.stat(self.raw).st_blocks * 512  # it reads the data extents only

        def after_convert():
            fd = os.open(out, os.O_RDONLY)
            os.fdatasync(fd)  # untimed, for the unflushed row
            os.close(fd)
            if "convert" not in verified:
                run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", self.raw, out])
                verified.add("convert")
            os.unlink(out)

        state = {}

        def raw_import():
            v = state["vdi"] = self.new_vdi(self.size, "bench-import")
            return self.curl("PUT", self.url("/import_raw_vdi", vdi=v, format="raw"), src=self.raw)

        def after_raw():
            v = state.pop("vdi")
            if "raw" not in verified:
                run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", self.raw, self.vdi_file(v)])
                verified.add("raw")
            self.api.VDI.destroy(v)

        def xva_import(path):
            state["vms"] = set(self.api.VM.get_all())
            return self.curl("PUT", self.url("/import"), src=path)

        def after_xva(kind):
            new = set(self.api.VM.get_all()) - state.pop("vms")
            if len(new) != 1:
                raise RuntimeError("XVA import made %d VMs" % len(new))
            vm = new.pop()
            if kind not in verified:
                vdi = self.api.VBD.get_VDI(self.api.VM.get_VBDs(vm)[0])
                run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", self.raw, self.vdi_file(vdi)])
                verified.add(kind)
            self.destroy_vm(vm)

        def xe_raw_import():
            v = state["vdi"] = self.new_vdi(self.size, "bench-import")
            self.xe("vdi-import", "uuid=" + self.api.VDI.get_uuid(v), "filename=" + self.raw, "format=raw")
            return self.chunked_bytes

        def xe_xva_import(path):
            state["vms"] = set(self.api.VM.get_all())
            self.xe("vm-import", "filename=" + path, "sr-uuid=" + self.api.SR.get_uuid(self.sr))
            return os.path.getsize(path)

        m = [(CONVERT, self.raw, lambda: convert("-t", "writeback"), after_convert),
             (CONVERT_UNSAFE, self.raw, convert, after_convert),
             ("import: PUT /import_raw_vdi format=raw", self.raw, raw_import, after_raw),
             ("import: PUT /import XVA", self.xva, lambda: xva_import(self.xva), lambda: after_xva("xva")),
             ("import: PUT /import XVA zstd", self.xva_zst, lambda: xva_import(self.xva_zst),
              lambda: after_xva("xva-zstd"))]
        if os.path.exists(harness.XE):
            m += [("import: xe vdi-import format=raw (chunked: data extents only)", self.raw, xe_raw_import,
                   after_raw),
                  ("import: xe vm-import XVA", self.xva, lambda: xe_xva_import(self.xva),
                   lambda: after_xva("xe-xva"))]
        return m

    def empty_disk(self):
        size = 100 * GiB
        vdi = self.new_vdi(size, "bench-empty-100g")
        vm = self.vm_with(vdi, "bench-empty")
        f = self.vdi_file(vdi)
        m = [("GET /export XVA", lambda: self.curl("GET", self.url("/export", ref=vm))),
             ("GET /export XVA use_compression=zstd",
              lambda: self.curl("GET", self.url("/export", ref=vm, use_compression="zstd"))),
             ("GET /export_raw_vdi format=vhd",
              lambda: self.curl("GET", self.url("/export_raw_vdi", vdi=vdi, format="vhd")))]
        for r in range(self.a.runs):
            for label, fn in m:
                warm(f)
                t = time.monotonic()
                n = fn()
                dt = time.monotonic() - t
                self.empty.setdefault(label, []).append((dt, n))
                log("  empty 100 GiB: %-40s %7.2f s  %8d MiB moved" % (label, dt, n // MiB))
        if not self.a.no_big_raw:
            # once only: it has to put 100 GiB of zeros on the wire
            label = "GET /export_raw_vdi format=raw (once: 100 GiB of zeros on the wire)"
            t = time.monotonic()
            n = self.curl("GET", self.url("/export_raw_vdi", vdi=vdi, format="raw"))
            dt = time.monotonic() - t
            self.empty[label] = [(dt, n)]
            log("  empty 100 GiB: %-40s %7.2f s  %8d MiB moved (%.0f MiB/s)" % (label, dt, n // MiB, n / MiB / dt))
        self.destroy_vm(vm)


CAT = "export: cat qcow2 > /dev/null (reference)"
SENDFILE = "export: qcow2 file sent by sendfile over loopback HTTP → curl (reference: the transport alone)"
CONVERT = "import: qemu-img convert -t writeback raw file → qcow2 (reference)"
CONVERT_UNSAFE = "import: qemu-img convert raw file → qcow2, default cache=unsafe (no flush)"
# the rows the targets are about (XVA and raw, both ways); the others show
# their ratio too but the zstd export is measured for its throughput on
# 2 cores, and vhd/qcow2 exports are extras
TARGETS = ("export: GET /export_raw_vdi format=raw", "export: GET /export XVA",
           "import: PUT /import_raw_vdi format=raw", "import: PUT /import XVA",
           "import: xe vdi-import format=raw (chunked: data extents only)", "import: xe vm-import XVA")


def table(res, cache, content):
    lines = ["| what | time | MiB/s of content | MiB moved by the client | CPU: xenond / its qemu-nbd / "
             "client or tool | vs reference |", "|---|---|---|---|---|---|"]
    checks = []

    def med_t(label):
        return median([x[0] for x in res[(cache, label)]])
    for (c, label), xs in res.items():
        if c != cache:
            continue
        ts = [x[0] for x in xs]
        mbps = [content / MiB / t for t in ts]
        ref = CAT if label.startswith("export") else CONVERT
        vs = ""
        if (cache, ref) in res and label != ref and "zstd -3" not in label and "no flush" not in label:
            ratio = med_t(ref) / median(ts)
            vs = "%.2f× %s" % (ratio, "cat" if ref == CAT else "qemu-img convert")
            if label in TARGETS:
                unsafe = ""
                if label.startswith("export") and (cache, SENDFILE) in res:
                    unsafe = "; %.2f× the transport alone (sendfile → curl)" % (med_t(SENDFILE) / median(ts))
                if label.startswith("import") and (cache, CONVERT_UNSAFE) in res:
                    unsafe = "; %.2f× the unflushed qemu-img convert" % (med_t(CONVERT_UNSAFE) / median(ts))
                if label.startswith("import: PUT"):
                    unsafe += "; CPU: curl %.2f s, xenond %.2f s" % (
                        median([x[4] for x in xs]), median([x[2] for x in xs]))
                checks.append((label, ratio, unsafe))
        lines.append("| %s | %s | %.0f (%.0f–%.0f) | %d | %.2f / %.2f / %.2f s | %s |" % (
            label, vmbench.fmt_range(ts), median(mbps), min(mbps), max(mbps), median([x[1] for x in xs]) // MiB,
            median([x[2] for x in xs]), median([x[3] for x in xs]), median([x[4] for x in xs]), vs))
    lines.append("")
    for label, ratio, unsafe in checks:
        lines.append("- target %s ≥ 0.8×: %s (%.2f×%s)" % (label, "met" if ratio >= 0.8 else "NOT met", ratio,
                                                          unsafe))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="rounds (median)")
    ap.add_argument("--size-gib", type=int, default=4, help="disk size; half of it is data")
    ap.add_argument("--cache", choices=("warm", "cold", "both"), default="both",
                    help="page cache state of each command's source file")
    ap.add_argument("--quick", action="store_true", help="1 round, no 100 GiB raw export")
    ap.add_argument("--no-big-raw", action="store_true", help="skip the raw export of the empty 100 GiB disk")
    ap.add_argument("--no-empty", action="store_true", help="skip the empty 100 GiB disk")
    ap.add_argument("--no-import", action="store_true")
    ap.add_argument("--no-export", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.runs = 1
        a.no_big_raw = True
    for tool in ("curl", "qemu-img"):
        if not shutil.which(tool):
            sys.exit("export_bench: %s missing (apt-get install %s)" % (tool, "curl" if tool == "curl" else "qemu-utils"))
    caches = ("warm", "cold") if a.cache == "both" else (a.cache,)
    st = os.statvfs(os.environ.get("TMPDIR") or "/tmp")
    need = a.size_gib * GiB // 2 * 5 + GiB  # raw file, VDI, 2 XVA files, one output
    if st.f_bavail * st.f_frsize < need:
        sys.exit("export_bench: %d GiB free under TMPDIR, %d GiB needed" % (
            st.f_bavail * st.f_frsize // GiB, need // GiB))
    load0 = vmbench.loadavg()
    when = time.strftime("%Y-%m-%d %H:%M")
    work = vmbench.workdir("xenon-export-")
    b = None
    try:
        b = Bench(a, work)
        log("xenond %s (pid %d), work dir %s" % (harness.XENOND, b.srv.pid, work))
        b.make_disk()
        methods = ([] if a.no_export else b.export_methods()) + ([] if a.no_import else b.import_methods())
        for r in range(a.runs):
            for cache in caches:
                log("round %d, %s cache (load %s)" % (r + 1, cache, vmbench.loadavg()))
                k = (r * 3) % len(methods)
                for label, src, fn, after in methods[k:] + methods[:k]:
                    b.timed(cache, label, src, fn, after)
        if not a.no_empty:
            b.empty_disk()
        res, empty, content = b.results, b.empty, b.content
    finally:
        if b:
            b.srv.stop()
            if b.sendfile_srv:
                b.sendfile_srv.kill()
                b.sendfile_srv.wait()
        vmbench.rmtree(work)

    lines = ["Export/import of a %d GiB disk holding %d MiB of random data (4 MiB extents), sim backend; "
             "median (min–max) of %d rounds; %s; xenond %s; loadavg at start %s, at end %s" % (
                 a.size_gib, content // MiB, a.runs, when, harness.XENOND, load0, vmbench.loadavg())]
    for cache in caches:
        lines += ["", "%s page cache (%s):" % (cache.capitalize(), "each source file read once before the command"
                                               if cache == "warm" else
                                               "each source file dropped from the cache before the command"), ""]
        lines += table(res, cache, content)
    if empty:
        lines += ["", "Empty 100 GiB disk (median of %d):" % a.runs, "",
                  "| export | time | bytes moved | target < 2 s |", "|---|---|---|---|"]
        for label, xs in empty.items():
            t = median([x[0] for x in xs])
            lines.append("| %s | %s | %s | %s |" % (
                label, vmbench.fmt_range([x[0] for x in xs]),
                "%d MiB" % (xs[0][1] // MiB) if xs[0][1] >= MiB else "%d B" % xs[0][1], "met" if t < 2 else "NOT met"))
    text = "\n".join(lines) + "\n"
    print(text)
    vmbench.write_result("export.md", text)


if __name__ == "__main__":
    main()
