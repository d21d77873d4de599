"""Shared storage reached from userspace: an NFS SR (qcow2 chains on an NFS
export, through libnfs, qemu-img and QEMU's nfs:// driver) and ISO SRs on
NFS and on SMB shares. This machine kind has no kernel NFS or CIFS client,
so nothing is mounted: the test runs its own servers on loopback —
nfs-ganesha (with rpcbind, started if none runs) exporting a temporary
directory, and samba's smbd on a high port with a private smb.conf — and a
xenond with the QEMU backend that boots the tiny test guest with a disk on
the NFS SR and CDs from both ISO SRs, and inspects a disk on the NFS SR
through libguestfs (a qemu-nbd export of its nfs:// image).

Skipped only when a server binary (ganesha.nfsd, rpcbind, smbd, smbpasswd),
qemu-system-x86_64 or nbdkit is missing."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402
from harness import NULL_REF  # noqa: E402
from guest import MiB, QEMU, READY  # noqa: E402


def _which(*names):
    return [n for n in names if not (shutil.which(n) or os.path.exists(os.path.join("/usr/sbin", n)))]


MISSING = _which("ganesha.nfsd", "rpcbind", "rpcinfo", "smbd", "smbpasswd", "nbdkit", "qemu-img",
                 "genisoimage")
if QEMU is None:
    MISSING.append("qemu-system-x86_64")


def _sbin(name):
    return shutil.which(name) or os.path.join("/usr/sbin", name)


def _port_open(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


class NfsServer:
    """nfs-ganesha on 127.0.0.1, NFSv3+v4 on free high ports, exporting a
    temporary directory (root not squashed: xenond runs as root). rpcbind
    must answer on port 111 (libnfs and QEMU ask it for mountd's port): one
    is started if none runs, and stopped again at the end."""

    def __init__(self, base):
        self.base = base
        self.export = os.path.join(base, "export")
        os.makedirs(self.export)
        os.makedirs(os.path.join(base, "recovery"))
        self.nfs_port, self.mnt_port = harness.free_port(), harness.free_port()
        self.conf = os.path.join(base, "ganesha.conf")
        with open(self.conf, "w") as f:
            f.write("""
NFS_CORE_PARAM {
  NFS_Port = %d; MNT_Port = %d; Bind_addr = 127.0.0.1;
  Enable_NLM = false; Enable_RQUOTA = false; Protocols = 3, 4;
}
NFSV4 { Graceless = true; RecoveryRoot = %s; }
EXPORT {
  Export_Id = 7701; Path = %s; Pseudo = %s;
  Access_Type = RW; Squash = No_Root_Squash; Protocols = 3, 4; Transports = TCP; SecType = sys;
  # files the test puts into the export directly must show at once
  Attr_Expiration_Time = 0;
  FSAL { Name = VFS; }
}
""" % (self.nfs_port, self.mnt_port, os.path.join(base, "recovery"), self.export, self.export))
        self.rpcbind = None
        self.proc = None

    def start(self):
        if not _port_open(111):
            self.rpcbind = subprocess.Popen([_sbin("rpcbind"), "-f"], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
            _wait(lambda: _port_open(111), 10, "rpcbind")
        self.log = os.path.join(self.base, "ganesha.log")
        self.proc = subprocess.Popen(
            [_sbin("ganesha.nfsd"), "-F", "-f", self.conf, "-L", self.log,
             "-p", os.path.join(self.base, "ganesha.pid"), "-N", "NIV_EVENT"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("ganesha.nfsd exited:\n" + self.log_tail())
            r = subprocess.run(["rpcinfo", "-p", "127.0.0.1"], stdout=subprocess.PIPE, text=True)
            return _port_open(self.nfs_port) and " %d  mountd" % self.mnt_port in r.stdout
        _wait(up, 60, "nfs-ganesha")

    def log_tail(self):
        return harness.file_tail(self.log)

    def stop(self):
        if self.proc and self.proc.poll() is not None:
            sys.stderr.write("\n*** ganesha.nfsd had exited (status %s):\n%s\n"
                             % (self.proc.returncode, self.log_tail()))
        for p in (self.proc, self.rpcbind):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


class SmbServer:
    """smbd on 127.0.0.1:<free port> with everything (passdb, locks, logs)
    in a private directory; one share "isos", for user root with a password
    of the test's own (private passdb)."""
    USER, PASSWORD = "root", "iso-share-secret"

    def __init__(self, base):
        self.base = base
        self.share = os.path.join(base, "share")
        os.makedirs(self.share)
        self.port = harness.free_port()
        for d in ("private", "lock", "state", "cache", "pid", "log"):
            os.makedirs(os.path.join(base, d))
        self.conf = os.path.join(base, "smb.conf")
        with open(self.conf, "w") as f:
            f.write("""[global]
  smb ports = {port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  private dir = {b}/private
  lock directory = {b}/lock
  state directory = {b}/state
  cache directory = {b}/cache
  pid directory = {b}/pid
  ncalrpc dir = {b}/lock/ncalrpc
  log file = {b}/log/smbd.log
  passdb backend = tdbsam:{b}/private/passdb.tdb
  server role = standalone server
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  server min protocol = SMB2_02
[isos]
  path = {share}
  read only = no
  valid users = {user}
""".format(port=self.port, b=base, share=self.share, user=self.USER))
        self.proc = None

    def start(self):
        subprocess.run([_sbin("smbpasswd"), "-c", self.conf, "-s", "-a", self.USER],
                       input="%s\n%s\n" % (self.PASSWORD, self.PASSWORD), text=True, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # a process group of its own: smbd signals its whole group on exit
        self.proc = subprocess.Popen([_sbin("smbd"), "-F", "--no-process-group", "-s", self.conf],
                                     preexec_fn=os.setpgrp,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("smbd exited")
            return _port_open(self.port)
        _wait(up, 30, "smbd")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_iso(path, label, payload):
    """A real ISO 9660 image holding one file with payload."""
    src = path + ".d"
    os.makedirs(src)
    with open(os.path.join(src, "hello.txt"), "w") as f:
        f.write(payload)
    subprocess.run(["genisoimage", "-quiet", "-V", label, "-o", path, src], check=True)
    shutil.rmtree(src)
    os.chmod(path, 0o644)


def nbdkits_on(sock_dir):
    """Pids of nbdkit processes whose command line names a socket in sock_dir."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"nbdkit") and any(a.startswith(sock_dir.encode()) for a in argv):
            pids.append(int(d))
    return pids


@unittest.skipIf(MISSING, "missing here: %s" % ", ".join(MISSING))
class NfsTest(guest.GuestMixin, harness.ServerTestCase):
    serial_timeout = 120

    @classmethod
    def setUpClass(cls):
        # a sanitizer build of xenond: libsmbclient's own leak is not ours
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan-samba.supp")
        lsan = os.environ.get("LSAN_OPTIONS", "")
        os.environ["LSAN_OPTIONS"] = (lsan + ":" if lsan else "") + "suppressions=" + supp
        cls.tmp = harness._tmpdir("xenon-nfs-")
        cls.nfs = NfsServer(os.path.join(cls.tmp, "nfs"))
        cls.smb = SmbServer(os.path.join(cls.tmp, "smb"))
        cls.nfs.start()
        try:
            cls.smb.start()
            cls.srv = harness.Server(backend="qemu")
            guest.install(cls)
            cls.srv.start()
        except Exception:
            cls.smb.stop()
            cls.nfs.stop()
            raise
        cls.api = cls.srv.api
        cls.host = cls.api.host.get_all()[0]

    @classmethod
    def tearDownClass(cls):
        guest.halt_all(cls)
        cls.srv.stop()
        # nothing xenond started on the export outlives it (an inspection's
        # qemu-nbd once stayed, spinning, once the share went away)
        left = []
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if pid.isdigit() and any(cls.nfs.export.encode() in a for a in cmd[1:]):
                left.append((int(pid), b" ".join(cmd).decode("utf-8", "replace")))
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        cls.smb.stop()
        cls.nfs.stop()
        if left:
            raise AssertionError("processes left on the export after xenond stopped: %s" % left)

    # ---- helpers ----

    def nfs_dc(self, path=None):
        return {"server": "127.0.0.1", "serverpath": path or self.nfs.export}

    def create_nfs_sr(self, name="nfs-sr"):
        sr = self.api.SR.create(self.host, self.nfs_dc(), "0", name, "", "nfs", "", False, {})
        self.addCleanup(self.forget_sr, sr)
        return sr

    def forget_sr(self, sr):
        try:
            for vdi in self.api.SR.get_VDIs(sr):
                if self.api.VDI.get_managed(vdi):
                    try:
                        self.api.VDI.destroy(vdi)
                    except harness.XapiError:
                        pass
            self.destroy_sr(sr)
        except harness.XapiError:
            pass

    def destroy_sr(self, sr):
        # as on XenServer: the PBD is unplugged first
        for pbd in self.api.SR.get_PBDs(sr):
            self.api.PBD.unplug(pbd)
        self.api.SR.destroy(sr)

    def sr_dir(self, sr):
        return os.path.join(self.nfs.export, self.api.SR.get_uuid(sr))

    def image(self, vdi):
        return "%s.qcow2" % self.api.VDI.get_location(vdi)

    def qemu_img_info(self, target):
        r = subprocess.run(["qemu-img", "info", "-U", "--output=json", "--backing-chain", target],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        import json
        return json.loads(r.stdout)

    def counts(self):
        return (len(self.api.SR.get_all()), len(self.api.PBD.get_all()))

    # ---- NFS SR ----

    def test_01_sr_create_through_api(self):
        sr = self.create_nfs_sr()
        rec = self.api.SR.get_record(sr)
        self.assertEqual(rec["type"], "nfs")
        self.assertEqual(rec["content_type"], "user")
        self.assertTrue(rec["shared"], "an NFS SR is shared storage")
        # its directory on the export is <serverpath>/<sr-uuid>, as NFSSR lays it out
        self.assertTrue(os.path.isdir(self.sr_dir(sr)))
        # real sizes: the export's filesystem as statvfs sees it on the server side
        st = os.statvfs(self.nfs.export)
        size = st.f_blocks * st.f_frsize
        self.assertGreater(int(rec["physical_size"]), 0)
        self.assertLess(abs(int(rec["physical_size"]) - size), size // 100 + 1)
        self.assertGreater(int(rec["physical_utilisation"]), 0)
        pbd = self.api.PBD.get_record(rec["PBDs"][0])
        self.assertEqual(pbd["device_config"], self.nfs_dc())
        self.assertTrue(pbd["currently_attached"])
        # the SM record says what XenServer's NFS SR takes
        sm = [r for r in self.api.SM.get_all_records().values() if r["type"] == "nfs"][0]
        self.assertEqual(set(sm["configuration"]), {"server", "serverpath", "nfsversion"})
        for cap in ("SR_PROBE", "VDI_CREATE", "VDI_SNAPSHOT", "VDI_CLONE", "VDI_RESIZE"):
            self.assertIn(cap, sm["capabilities"])
        self.assertIn("nfs", self.api.SR.get_supported_types())
        # SR.probe lists the SRs on the export by uuid
        xml = self.api.SR.probe(self.host, self.nfs_dc(), "nfs", {})
        self.assertIn("<UUID>%s</UUID>" % rec["uuid"], xml)

    def test_02_vdis_snapshots_clones_on_the_export(self):
        sr = self.create_nfs_sr("nfs-chains")
        d = self.sr_dir(sr)
        vdi = self.new_vdi(sr, 32 * MiB)
        self.assertEqual(os.listdir(d), [self.image(vdi)])
        self.assertEqual(int(self.api.VDI.get_virtual_size(vdi)), 32 * MiB)
        # data written into the disk through its nfs:// URL
        url = "nfs://127.0.0.1%s/%s" % (d, self.image(vdi))
        r = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        snap = self.api.VDI.snapshot(vdi, {})
        clone = self.api.VDI.clone(vdi, {})
        self.assertTrue(self.api.VDI.get_is_a_snapshot(snap))
        self.assertEqual(self.api.VDI.get_snapshot_of(snap), vdi)
        # chains as on the ext SR: hidden read-only bases, empty overlays
        files = set(os.listdir(d))
        for v in (vdi, snap, clone):
            self.assertIn(self.image(v), files)
        bases = [f for f in files if not os.stat(os.path.join(d, f)).st_mode & 0o222]
        self.assertEqual(len(bases), 2, files)
        self.assertEqual(len(files), 5, files)
        hidden = [v for v in self.api.SR.get_VDIs(sr) if not self.api.VDI.get_managed(v)]
        self.assertEqual(len(hidden), 2)
        # the clone's chain resolves over NFS and holds the data
        curl = "nfs://127.0.0.1%s/%s" % (d, self.image(clone))
        chain = self.qemu_img_info(curl)
        self.assertEqual(len(chain), 3, chain)
        r = subprocess.run(["qemu-io", "-r", "-f", "qcow2", "-c", "read -P 0x5a 0 1M", curl],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("Pattern verification failed", r.stdout)
        # resize grows the image
        self.api.VDI.resize(clone, str(48 * MiB))
        self.assertEqual(self.qemu_img_info(curl)[0]["virtual-size"], 48 * MiB)
        # deleting everything collects the bases too
        for v in (snap, clone, vdi):
            self.api.VDI.destroy(v)
        self.assertEqual(os.listdir(d), [])
        # SR.destroy removes the SR's directory from the export
        self.destroy_sr(sr)
        self.assertFalse(os.path.exists(d))

    def test_03_xe_sr_create_scan_and_vdis(self):
        r = self.srv.xe("sr-create", "name-label=xe-nfs", "type=nfs", "shared=true",
                        "device-config:server=127.0.0.1",
                        "device-config:serverpath=%s" % self.nfs.export, minimal=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        sr = self.api.SR.get_by_uuid(r.stdout.strip())
        self.addCleanup(self.forget_sr, sr)
        self.assertTrue(self.api.SR.get_shared(sr))
        r = self.srv.xe("vdi-create", "sr-uuid=%s" % self.api.SR.get_uuid(sr), "name-label=xe-disk",
                        "virtual-size=16MiB", "type=user", minimal=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        vuuid = r.stdout.strip()
        self.assertTrue(os.path.exists(os.path.join(self.sr_dir(sr), vuuid + ".qcow2")))
        # an image put on the export by someone else is found by a scan
        other = os.path.join(self.sr_dir(sr), "11111111-2222-4333-8444-555555555555.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", other, "8M"], check=True)
        r = self.srv.xe("sr-scan", "uuid=%s" % self.api.SR.get_uuid(sr))
        self.assertEqual(r.returncode, 0, r.stderr)
        found = self.api.VDI.get_by_uuid("11111111-2222-4333-8444-555555555555")
        self.assertEqual(int(self.api.VDI.get_virtual_size(found)), 8 * MiB)
        r = self.srv.xe("sr-param-get", "uuid=%s" % self.api.SR.get_uuid(sr), "param-name=physical-size")
        self.assertGreater(int(r.stdout.strip()), 0)

    def test_04_bad_servers_leave_nothing(self):
        before = self.counts()
        # nothing serves NFS at 127.0.0.2 (ganesha listens on 127.0.0.1 only)
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host,
                                 {"server": "127.0.0.2", "serverpath": self.nfs.export}, "0",
                                 "unreachable", "", "nfs", "", True, {})
        self.assertEqual(e.params[0], "108", e.params)
        # an export path the server does not have
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host,
                                 self.nfs_dc(self.nfs.export + "/no/such/dir"), "0", "wrong-path", "",
                                 "nfs", "", True, {})
        self.assertEqual(e.params[0], "73", e.params)
        self.assertIn("NFS mount error", e.params[1])
        # missing keys, in NFSSR's order
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host, {}, "0", "x",
                                 "", "nfs", "", True, {})
        self.assertEqual(e.params[0], "102")
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host,
                                 {"server": "127.0.0.1"}, "0", "x", "", "nfs", "", True, {})
        self.assertEqual(e.params[0], "101")
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host,
                                 dict(self.nfs_dc(), nfsversion="2"), "0", "x", "", "nfs", "", True, {})
        self.assertEqual(e.params[0], "72")
        # xe reports the same and leaves nothing either
        r = self.srv.xe("sr-create", "name-label=xe-bad", "type=nfs", "device-config:server=127.0.0.1",
                        "device-config:serverpath=/no/such/export")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("SR_BACKEND_FAILURE", r.stderr + r.stdout)
        self.assertEqual(self.counts(), before)
        self.assertEqual([f for f in os.listdir(self.nfs.export) if not f.endswith(".iso")
                          and f != "isos"], [])

    def http(self, method, path, body=None, **q):
        import urllib.parse
        q.setdefault("session_id", self.srv.session)
        c = self.srv.connection(60)
        try:
            hdrs = {"Content-Length": str(len(body))} if body is not None else {}
            c.request(method, path + "?" + urllib.parse.urlencode(q), body=body, headers=hdrs)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def test_06_import_export_through_http(self):
        """/import_raw_vdi and /export_raw_vdi (raw and qcow2) read and write
        NFS images through their URLs; nothing is left on the export."""
        sr = self.create_nfs_sr("nfs-http")
        data = bytes(range(256)) * 4096 * 3  # 3 MiB
        vdi = self.new_vdi(sr, len(data), "http-disk")
        st, body = self.http("PUT", "/import_raw_vdi", data, vdi=vdi)
        self.assertEqual(st, 200, body)
        st, body = self.http("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual((st, body), (200, data))
        st, body = self.http("GET", "/export_raw_vdi", vdi=vdi, format="qcow2")
        self.assertEqual(st, 200)
        self.assertTrue(body.startswith(b"QFI\xfb"))
        # the qcow2 stream goes back into another disk on the NFS SR
        other = self.new_vdi(sr, len(data), "http-copy")
        st, _ = self.http("PUT", "/import_raw_vdi", body, vdi=other, format="qcow2")
        self.assertEqual(st, 200)
        st, back = self.http("GET", "/export_raw_vdi", vdi=other)
        self.assertEqual(back, data)
        self.assertEqual(sorted(f for f in os.listdir(self.sr_dir(sr)) if f.startswith(".")), [])

    def test_08_database_replication_and_recovery(self):
        """The pool's database replicated to a metadata VDI on the NFS SR;
        a second standalone host introduces the SR, opens that database and
        recovers the VM with its disk, whose data it reads back."""
        api = self.api
        pool_uuid = api.pool.get_uuid(api.pool.get_all()[0])
        sr = api.SR.create(self.host, self.nfs_dc(), "0", "nfs-dr", "", "nfs", "", True, {})
        sr_uuid = api.SR.get_uuid(sr)
        data = bytes(range(256)) * 4096  # 1 MiB
        vdi = self.new_vdi(sr, len(data), "dr-disk")
        st, body = self.http("PUT", "/import_raw_vdi", data, vdi=vdi)
        self.assertEqual(st, 200, body)
        vm = self.new_vm("nfs-dr-vm")
        api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                        "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "",
                        "qos_algorithm_params": {}})
        api.SR.enable_database_replication(sr)
        meta = api.pool.get_metadata_VDIs(api.pool.get_all()[0])
        self.assertEqual(len(meta), 1)
        self.assertEqual(api.VDI.get_SR(meta[0]), sr)
        meta_uuid = api.VDI.get_uuid(meta[0])

        b = harness.Server(backend="sim")
        b.start()
        try:
            bapi = b.api
            bsr = bapi.SR.introduce(sr_uuid, "nfs-dr", "", "nfs", "", True, {})
            pbd = bapi.PBD.create({"host": bapi.host.get_all()[0], "SR": bsr, "device_config": self.nfs_dc(),
                                   "other_config": {}})
            bapi.PBD.plug(pbd)
            found = [v for v in bapi.SR.get_VDIs(bsr) if bapi.VDI.read_database_pool_uuid(v) == pool_uuid]
            self.assertEqual([bapi.VDI.get_uuid(v) for v in found], [meta_uuid])
            fs, fvm, deadline = None, None, time.monotonic() + 15
            while fvm is None and time.monotonic() < deadline:
                fs = bapi.VDI.open_database(found[0])
                fvm = next((v for v in b.api_for(fs).VM.get_all()
                            if b.api_for(fs).VM.get_name_label(v) == "nfs-dr-vm"), None)
                if fvm is None:
                    b.call("session.logout", fs)
                    time.sleep(0.3)
            self.assertIsNotNone(fvm, "the VM never reached the metadata VDI")
            b.api_for(fs).VM.recover(fvm, b.session, False)
            bvm = bapi.VM.get_by_uuid(api.VM.get_uuid(vm))
            bvdi = bapi.VBD.get_VDI(bapi.VM.get_VBDs(bvm)[0])
            self.assertEqual(bapi.VDI.get_uuid(bvdi), api.VDI.get_uuid(vdi))
            self.assertEqual(bapi.VDI.get_SR(bvdi), bsr)
            c = b.connection(60)
            c.request("GET", "/export_raw_vdi?session_id=%s&vdi=%s" % (b.session, bvdi))
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, data))
            c.close()
            b.call("session.logout", fs)
            bapi.PBD.unplug(pbd)
            bapi.SR.forget(bsr)
        finally:
            b.stop()
        api.SR.disable_database_replication(sr)
        self.assertEqual(api.pool.get_metadata_VDIs(api.pool.get_all()[0]), [])
        api.VM.destroy(vm)
        self.forget_sr(sr)

    def test_07_inspect_a_disk_on_the_nfs_sr(self):
        """VDI.inspect, vdi-ls and vdi-file-read of a disk on the NFS SR: the
        image is reached through a qemu-nbd export (QEMU's own NFS client),
        since neither this host nor the appliance mounts the share."""
        import test_inspect
        why = test_inspect.appliance_missing()
        if why:
            self.skipTest(why)
        img = os.path.join(self.tmp, "nfs-small.vfat")
        test_inspect.fs_image(img, "vfat", 8 * MiB, "XNFS", {"/on-nfs.txt": b"read over nbd\n"})
        sr = self.create_nfs_sr("nfs-inspect")
        vdi = self.new_vdi(sr, 8 * MiB, "inspect-disk")
        with open(img, "rb") as f:
            st, body = self.http("PUT", "/import_raw_vdi", f.read(), vdi=vdi)
        self.assertEqual(st, 200, body)
        uuid = self.api.VDI.get_uuid(vdi)
        t = time.monotonic()
        r = self.srv.xe("vdi-inspect", "uuid=" + uuid, timeout=240)
        took = time.monotonic() - t
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("XNFS", r.stdout)
        self.assertIn("vfat", r.stdout)
        # the export is held with the warm appliance
        ps = subprocess.run(["ps", "--ppid", str(self.srv.proc.pid), "-o", "args="],
                            stdout=subprocess.PIPE, text=True).stdout
        self.assertRegex(ps, r"qemu-nbd -r -k \S+ -f \S+ -x d0 -t nfs://")
        r = self.srv.xe("vdi-ls", "uuid=" + uuid, "path=/", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("on-nfs.txt", r.stdout)
        r = self.srv.xe("vdi-file-read", "uuid=" + uuid, "path=/on-nfs.txt", "filename=-", timeout=120)
        self.assertEqual((r.returncode, r.stdout), (0, "read over nbd\n"), r.stderr)
        sys.stderr.write("\n  NFS VDI inspected in %.1f s\n" % took)

    # ---- ISO SRs and a guest using both kinds of share ----

    def test_05_iso_srs_and_a_guest(self):
        # ISO libraries: a directory on the NFS export, the smbd share
        isos = os.path.join(self.nfs.export, "isos")
        os.makedirs(isos, exist_ok=True)
        make_iso(os.path.join(isos, "nfs-tools.iso"), "NFSTOOLS", "from nfs\n")
        make_iso(os.path.join(self.smb.share, "smb-tools.iso"), "SMBTOOLS", "from smb\n")
        nfs_iso = self.api.SR.create(self.host, {"location": "127.0.0.1:%s" % isos}, "0", "nfs-isos",
                                     "", "iso", "iso", True, {})
        self.addCleanup(self.forget_sr, nfs_iso)
        r = self.srv.xe("sr-create", "name-label=smb-isos", "type=iso", "content-type=iso",
                        "shared=true", "device-config:location=//127.0.0.1:%d/isos" % self.smb.port,
                        "device-config:type=cifs", "device-config:username=" + self.smb.USER,
                        "device-config:cifspassword=" + self.smb.PASSWORD, minimal=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        smb_iso = self.api.SR.get_by_uuid(r.stdout.strip())
        self.addCleanup(self.forget_sr, smb_iso)
        # sr-create already scanned: each library shows its image
        def labels(sr):
            return sorted(self.api.VDI.get_name_label(v) for v in self.api.SR.get_VDIs(sr))
        self.assertEqual(labels(nfs_iso), ["nfs-tools.iso"])
        self.assertEqual(labels(smb_iso), ["smb-tools.iso"])
        size = os.path.getsize(os.path.join(self.smb.share, "smb-tools.iso"))
        v = self.api.SR.get_VDIs(smb_iso)[0]
        self.assertEqual(int(self.api.VDI.get_virtual_size(v)), size)
        self.assertTrue(self.api.VDI.get_read_only(v))
        # new images appear on xe sr-scan, removed ones go
        make_iso(os.path.join(self.smb.share, "more.iso"), "MORE", "more\n")
        make_iso(os.path.join(isos, "later.iso"), "LATER", "later\n")
        for sr in (smb_iso, nfs_iso):
            r = self.srv.xe("sr-scan", "uuid=" + self.api.SR.get_uuid(sr))
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(labels(smb_iso), ["more.iso", "smb-tools.iso"])
        self.assertEqual(labels(nfs_iso), ["later.iso", "nfs-tools.iso"])
        os.unlink(os.path.join(self.smb.share, "more.iso"))
        self.srv.xe("sr-scan", "uuid=" + self.api.SR.get_uuid(smb_iso))
        self.assertEqual(labels(smb_iso), ["smb-tools.iso"])
        # sizes are the shares' own
        for sr in (smb_iso, nfs_iso):
            self.assertGreater(int(self.api.SR.get_physical_size(sr)), 0)
        # a wrong password or share name: the SM errors, and no SR left
        before = self.counts()
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host, {
            "location": "//127.0.0.1:%d/isos" % self.smb.port, "username": self.smb.USER,
            "cifspassword": "wrong"}, "0", "x", "", "iso", "iso", True, {})
        self.assertEqual(e.params[0], "222", e.params)
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host, {
            "location": "//127.0.0.1:%d/nosuchshare" % self.smb.port, "username": self.smb.USER,
            "cifspassword": self.smb.PASSWORD}, "0", "x", "", "iso", "iso", True, {})
        self.assertIn(e.params[0], ("222", "224"), e.params)
        e = self.assertXapiError("SR_BACKEND_FAILURE", self.api.SR.create, self.host,
                                 {"location": "127.0.0.1:%s/nope" % isos}, "0", "x", "", "iso", "iso",
                                 True, {})
        self.assertEqual(e.params[0], "222", e.params)
        self.assertEqual(self.counts(), before)

        # a VM: its disk on the NFS SR, a CD from each ISO SR
        sr = self.create_nfs_sr("nfs-boot")
        disk = self.new_vdi(sr, 64 * MiB, "guest-disk")
        vm = self.new_vm("nfs-guest")
        self.vbd(vm, disk, 0)
        cd_nfs = self.vbd(vm, NULL_REF, 1, "CD")
        cd_smb = self.vbd(vm, NULL_REF, 2, "CD")
        nfs_vdi = [v for v in self.api.SR.get_VDIs(nfs_iso)
                   if self.api.VDI.get_name_label(v) == "nfs-tools.iso"][0]
        smb_vdi = self.api.SR.get_VDIs(smb_iso)[0]
        self.api.VBD.insert(cd_nfs, nfs_vdi)
        r = self.srv.xe("vm-cd-insert", "uuid=" + self.api.VM.get_uuid(vm), "cd-name=smb-tools.iso")
        if r.returncode != 0:  # xe picks the first empty drive; fall back to the API
            self.api.VBD.insert(cd_smb, smb_vdi)
        self.assertEqual({self.api.VBD.get_VDI(cd_nfs), self.api.VBD.get_VDI(cd_smb)},
                         {nfs_vdi, smb_vdi})
        self.api.VM.start(vm, False, False)
        self.wait_serial(vm, READY)
        argv = " ".join(self.qemu_cmdline(vm))
        # QEMU opens the disk and the NFS ISO with its own NFS client, the SMB
        # ISO through the NBD socket nbdkit serves (QEMU is running: it opened all three)
        self.assertIn('"driver":"nfs"', argv)
        self.assertIn('"path":"%s/%s"' % (self.sr_dir(sr), self.image(disk)), argv)
        self.assertIn('"path":"%s/nfs-tools.iso"' % isos, argv)
        self.assertIn('"driver":"nbd"', argv)
        sock_dir = os.path.join(self.run_dir, "smb")
        self.assertTrue(nbdkits_on(sock_dir), "an nbdkit serves the SMB ISO")
        # what that export serves is the ISO on the share, byte for byte
        sock = [os.path.join(sock_dir, f) for f in os.listdir(sock_dir) if f.endswith(".sock")][0]
        got = os.path.join(self.tmp, "from-nbd.iso")
        r = subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw",
                            "nbd+unix:///?socket=" + sock, got],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(got, "rb") as a, open(os.path.join(self.smb.share, "smb-tools.iso"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        # the guest writes to its NFS disk
        self.console(vm, "wr() { dd if=/tmp/m of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; }")
        self.console(vm, "echo NFS-WROTE-THIS >/tmp/m")
        self.console(vm, "wr && echo WROTE-$((40+2))")
        self.wait_serial(vm, "WROTE-42", 30)
        # a live snapshot: QEMU goes on writing to a new overlay on the export
        snap = self.api.VDI.snapshot(disk, {})
        self.console(vm, "echo AFTER-SNAPSHOT >/tmp/m")
        self.console(vm, "wr && echo WROTE-$((40+3))")
        self.wait_serial(vm, "WROTE-43", 30)
        self.api.VM.hard_shutdown(vm)

        # the data is on the export, read back through the images' nfs:// URLs
        def sector0(v):
            out = os.path.join(self.tmp, "sector0")
            r = subprocess.run(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", "bs=512", "count=1",
                                "if=nfs://127.0.0.1%s/%s" % (self.sr_dir(sr), self.image(v)),
                                "of=" + out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                return f.read()
        self.assertTrue(sector0(snap).startswith(b"NFS-WROTE-THIS\n"))
        self.assertTrue(sector0(disk).startswith(b"AFTER-SNAPSHOT\n"))
        # the nbdkit for the SMB ISO went with its only client
        self.wait_for(lambda: not nbdkits_on(sock_dir), 15, msg="nbdkit gone after the VM")


if __name__ == "__main__":
    harness.main()
