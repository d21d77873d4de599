#!/usr/bin/env python3
"""`meson install --destdir` of the build into a scratch root, checked file
by file: the binaries, the systemd unit (systemd-analyze verify, its
ExecStart pointed into the scratch root), the configuration (the installed
xenond reads it), the manual pages (man renders them), xe's bash completion
(it completes a command and its parameters), and the C SDK (an example
builds against the installed headers, libraries and xenon-client.pc).
Usage: check_install.py BUILD_DIR SOURCE_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD, SOURCE = sys.argv[1], sys.argv[2]
del sys.argv[1:3]


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="xenon-install-")
        r = run("meson", "install", "-C", BUILD, "--destdir", cls.root, "--no-rebuild", "--quiet")
        assert r.returncode == 0, r.stdout + r.stderr
        intro = run("meson", "introspect", BUILD, "--buildoptions")
        import json
        opts = {o["name"]: o["value"] for o in json.loads(intro.stdout)}
        cls.opts = opts
        cls.prefix = opts["prefix"]
        p = lambda k: os.path.join(cls.prefix, opts[k]) if not opts[k].startswith("/") else opts[k]
        cls.dirs = {k: p(k) for k in ("bindir", "sbindir", "sysconfdir", "mandir", "datadir", "includedir",
                                      "libdir", "libexecdir")}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def at(self, *parts):
        return os.path.join(self.root, *[x.lstrip("/") for x in parts])

    def test_files(self):
        d = self.dirs
        want = [(d["sbindir"], "xenond"), (d["bindir"], "xe"), (d["libexecdir"], "xenon/xenon-auth"),
                (d["sysconfdir"], "xenon/xenond.conf"), (self.prefix, "lib/systemd/system/xenond.service"),
                (d["mandir"], "man8/xenond.8"), (d["mandir"], "man5/xenond.conf.5"), (d["mandir"], "man1/xe.1"),
                (d["datadir"], "bash-completion/completions/xe"), (d["datadir"], "doc/xenon/privileges.md"),
                (d["datadir"], "doc/xenon/api/index.html"), (d["datadir"], "doc/xenon/api/VM.html"),
                (d["datadir"], "doc/xenon/api/guides.html"),
                (d["includedir"], "xenon/client/xenon_calls.h"), (d["includedir"], "xenon/base/xv.h"),
                (d["libdir"], "pkgconfig/xenon-client.pc"), (d["libdir"], "libxenon_client.a")]
        for base, rel in want:
            self.assertTrue(os.path.isfile(self.at(base, rel)), os.path.join(base, rel))
        for exe in (self.at(d["sbindir"], "xenond"), self.at(d["bindir"], "xe")):
            self.assertTrue(os.access(exe, os.X_OK), exe)

    def test_unit_verifies(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        unit = self.at(self.prefix, "lib/systemd/system/xenond.service")
        with open(unit) as f:
            text = f.read()
        sbin = os.path.join(self.dirs["sbindir"], "xenond")
        conf = os.path.join(self.dirs["sysconfdir"], "xenon/xenond.conf")
        self.assertIn("ExecStart=%s --config %s" % (sbin, conf), text)
        for key in ("Type=notify", "WatchdogSec=", "KillMode=process", "NoNewPrivileges=yes", "ProtectSystem="):
            self.assertIn(key, text)
        # QEMU's JIT needs writable executable memory, and its devices /dev
        self.assertNotIn("MemoryDenyWriteExecute=yes", text)
        self.assertNotIn("PrivateDevices=yes", text)
        tmp = tempfile.mkdtemp()
        try:
            moved = os.path.join(tmp, "xenond.service")
            with open(moved, "w") as f:
                f.write(text.replace("ExecStart=" + sbin, "ExecStart=" + self.at(sbin)))
            r = run("systemd-analyze", "verify", "--man=no", moved)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", r.stderr)
            # and the check can fail: a key systemd does not know
            with open(moved, "a") as f:
                f.write("[Service]\nNoSuchSetting=1\n")
            r = run("systemd-analyze", "verify", "--man=no", moved)
            self.assertIn("NoSuchSetting", r.stderr)
        finally:
            shutil.rmtree(tmp)

    def test_config_is_read(self):
        xenond = self.at(self.dirs["sbindir"], "xenond")
        conf = self.at(self.dirs["sysconfdir"], "xenon/xenond.conf")
        r = run(xenond, "--config", conf, "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        bad = conf + ".bad"
        with open(conf) as f, open(bad, "w") as g:
            g.write(f.read() + "no-such-key = 1\n")
        r = run(xenond, "--config", bad, "--help")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no-such-key", r.stderr)

    def test_man_pages_render(self):
        if not shutil.which("man"):
            self.skipTest("no man")
        for page, words in (("man8/xenond.8", "xenond.conf"), ("man5/xenond.conf.5", "max-connections"),
                            ("man1/xe.1", "vm-list")):
            r = run("man", "-l", self.at(self.dirs["mandir"], page), env=dict(os.environ, MANPAGER="cat",
                                                                               COLUMNS="100"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("NAME", r.stdout)
            self.assertIn(words, r.stdout)

    def test_bash_completion(self):
        comp = self.at(self.dirs["datadir"], "bash-completion/completions/xe")
        script = ('PATH=%s:$PATH; source %s; COMP_WORDS=(xe vm-sta); COMP_CWORD=1; _xe; echo "${COMPREPLY[@]}"; '
                  'COMP_WORDS=(xe vm-start pa); COMP_CWORD=2; _xe; echo "${COMPREPLY[@]}"'
                  % (self.at(self.dirs["bindir"]), comp))
        r = run("bash", "-c", script)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["vm-start"])
        self.assertEqual(lines[1].split(), ["paused="])

    def test_sdk_builds_an_example(self):
        pcdir = self.at(self.dirs["libdir"], "pkgconfig")
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=self.root)
        r = run("pkg-config", "--cflags", "--libs", "xenon-client", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        flags = r.stdout.split()
        # the libraries were built with the build's sanitizers, so the
        # example is linked the same way
        san = self.opts.get("b_sanitize", "none")
        flags += ["-fsanitize=" + san] if san not in ("none", "") else []
        out = os.path.join(self.root, "list_vms")
        r = run("cc", "-std=c11", "-D_GNU_SOURCE", "-o", out, os.path.join(SOURCE, "examples/list_vms.c"), *flags)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.access(out, os.X_OK))


if __name__ == "__main__":
    unittest.main(verbosity=2)
