"""The xe CLI against xenond (xapi-surface.md §7): list commands and their
record layout, params=all, param-set/param-get on maps, --minimal, and exit
codes. Skipped when the xe binary is not built."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import UUID_RE  # noqa: E402

LINE_RE = re.compile(r"^(\s*)([A-Za-z0-9_.:-]+) \(( RO| RW|SRO|SRW|MRO|MRW)\)( \[DEPRECATED\])?(\s*): ?(.*)$")


def parse_records(text):
    """xe record output → list of {key: (value, access)}; also checks the
    layout rule of cli_printer.ml (one ':' column per record)."""
    recs, cur, cols = [], {}, set()
    for line in text.split("\n"):
        if not line.strip():
            if cur:
                recs.append((cur, cols))
                cur, cols = {}, set()
            continue
        m = LINE_RE.match(line)
        if not m:
            raise AssertionError("not an xe record line: %r" % line)
        key, access, value = m.group(2), m.group(3).strip(), m.group(6)
        cur[key] = (value, access)
        cols.add(line.index(": ") if ": " in line else len(line.rstrip()) - 1)
    if cur:
        recs.append((cur, cols))
    out = []
    for rec, cols in recs:
        if len(cols) != 1:
            raise AssertionError("keys not aligned in record %r (colon columns %r)" % (rec, cols))
        out.append({k: v for k, (v, _a) in rec.items()} | {"__access__": {k: a for k, (_v, a) in rec.items()}})
    return out


@unittest.skipUnless(os.path.exists(harness.XE), "xe binary not built (%s)" % harness.XE)
class Xe(harness.ServerTestCase):
    def xe_ok(self, *args, **kw):
        r = self.srv.xe(*args, **kw)
        self.assertEqual(r.returncode, 0, "xe %s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout,
                                                                        r.stderr))
        return r.stdout

    def test_vm_list(self):
        out = self.xe_ok("vm-list")
        recs = parse_records(out)
        allv = self.api.VM.get_all_records()
        want = {v["uuid"]: v for v in allv.values() if not v["is_a_template"] and not v["is_a_snapshot"]}
        self.assertEqual({r["uuid"] for r in recs}, set(want))
        for r in recs:
            self.assertEqual(set(k for k in r if k != "__access__"), {"uuid", "name-label", "power-state"})
            self.assertEqual(r["__access__"], {"uuid": "RO", "name-label": "RW", "power-state": "RO"})
            v = want[r["uuid"]]
            self.assertEqual(r["name-label"], v["name_label"])
            self.assertEqual(r["power-state"], v["power_state"].lower())
        # records are separated by two blank lines
        if len(recs) > 1:
            self.assertIn("\n\n\n", out)
        # the first key is right-padded, the others left-padded
        first = out.lstrip("\n").split("\n")[0]
        self.assertTrue(first.startswith("uuid ( RO)"), first)

    def test_template_list(self):
        recs = parse_records(self.xe_ok("template-list"))
        allv = self.api.VM.get_all_records()
        want = {v["uuid"] for v in allv.values() if v["is_a_template"] and not v["is_a_snapshot"]}
        self.assertEqual({r["uuid"] for r in recs}, want)
        names = {r["name-label"] for r in recs}
        self.assertIn("Other install media", names)
        self.assertIn("Debian Bookworm 12", names)
        for r in recs:
            self.assertEqual({k for k in r if k != "__access__"}, {"name-label", "name-description", "uuid"})

    def test_sr_list(self):
        recs = parse_records(self.xe_ok("sr-list"))
        srs = self.api.SR.get_all_records()
        self.assertEqual({r["uuid"] for r in recs}, {v["uuid"] for v in srs.values()})
        by_name = {r["name-label"]: r for r in recs}
        self.assertEqual(by_name["Local storage"]["type"], "ext")
        self.assertEqual(by_name["ISO library"]["type"], "iso")
        self.assertEqual(by_name["ISO library"]["content-type"], "iso")
        for r in recs:
            self.assertEqual({k for k in r if k != "__access__"},
                             {"uuid", "name-label", "name-description", "host", "type", "content-type"})

    def test_host_list_params_all(self):
        recs = parse_records(self.xe_ok("host-list", "params=all"))
        self.assertEqual(len(recs), 1)
        r = recs[0]
        host = self.api.host.get_all()[0]
        h = self.api.host.get_record(host)
        self.assertEqual(r["uuid"], h["uuid"])
        self.assertEqual(r["name-label"], h["name_label"])
        self.assertEqual(r["address"], h["address"])
        self.assertEqual(r["__access__"]["uuid"], "RO")
        self.assertEqual(r["__access__"]["name-label"], "RW")
        self.assertEqual(r["__access__"]["other-config"], "MRW")
        self.assertIn("software-version", r)
        self.assertEqual(r["__access__"]["software-version"], "MRO")
        self.assertIn("product_version: ", r["software-version"])
        for k in ("enabled", "API-version-major", "API-version-minor", "hostname", "memory-total",
                  "resident-vms", "cpu_info"):
            self.assertIn(k, r, k)
        self.assertEqual(r["API-version-major"], str(h["API_version_major"]))
        # refs are printed as uuids
        d0 = self.api.VM.get_uuid(h["control_domain"])
        self.assertIn(d0, r["resident-vms"])

    def test_param_set_and_get_map_key(self):
        vm = self.new_vm("xe-vm")
        uuid = self.api.VM.get_uuid(vm)
        self.xe_ok("vm-param-set", "uuid=" + uuid, "other-config:owner=me")
        self.assertEqual(self.api.VM.get_other_config(vm).get("owner"), "me")
        out = self.xe_ok("vm-param-get", "uuid=" + uuid, "param-name=other-config", "param-key=owner")
        self.assertEqual(out.strip(), "me")
        out = self.xe_ok("vm-param-get", "uuid=" + uuid, "param-name=name-label")
        self.assertEqual(out.strip(), "xe-vm")
        self.xe_ok("vm-param-set", "uuid=" + uuid, "name-label=xe renamed", "name-description=via xe")
        self.assertEqual(self.api.VM.get_name_label(vm), "xe renamed")
        self.assertEqual(self.api.VM.get_name_description(vm), "via xe")
        recs = parse_records(self.xe_ok("vm-param-list", "uuid=" + uuid))
        self.assertEqual(len(recs), 1)
        self.assertIn("owner: me", recs[0]["other-config"])
        self.assertEqual(recs[0]["__access__"]["other-config"], "MRW")
        self.assertEqual(recs[0]["name-label"], "xe renamed")
        self.xe_ok("vm-param-remove", "uuid=" + uuid, "param-name=other-config", "param-key=owner")
        self.assertNotIn("owner", self.api.VM.get_other_config(vm))
        self.api.VM.destroy(vm)

    def test_minimal(self):
        out = self.xe_ok("vm-list", minimal=True)
        uuids = out.strip().split(",")
        allv = self.api.VM.get_all_records()
        self.assertEqual(set(uuids), {v["uuid"] for v in allv.values() if not v["is_a_template"]})
        for u in uuids:
            self.assertRegex(u, UUID_RE)
        out = self.xe_ok("template-list", "name-label=Debian Bookworm 12", "params=uuid", minimal=True)
        self.assertEqual(out.strip(), allv[self.api.VM.get_by_name_label("Debian Bookworm 12")[0]]["uuid"])
        out = self.xe_ok("sr-list", "type=iso", "params=name-label", minimal=True)
        self.assertEqual(out.strip(), "ISO library")
        # a literal comma is escaped
        vm = self.new_vm("a,b")
        out = self.xe_ok("vm-list", "uuid=" + self.api.VM.get_uuid(vm), "params=name-label", minimal=True)
        self.assertEqual(out.strip(), "a\\,b")
        self.api.VM.destroy(vm)

    def test_selectors(self):
        out = self.xe_ok("vm-list", "power-state=running", "params=uuid", minimal=True)
        running = {v["uuid"] for v in self.api.VM.get_all_records().values()
                   if v["power_state"] == "Running" and not v["is_a_template"]}
        self.assertEqual(set(filter(None, out.strip().split(","))), running)
        out = self.xe_ok("vm-list", "name-label=no such vm at all")
        self.assertEqual(out.strip(), "")

    def test_error_exit_codes(self):
        r = self.srv.xe("vm-param-get", "uuid=00000000-0000-0000-0000-000000000000", "param-name=name-label")
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertTrue((r.stdout + r.stderr).strip())
        r = self.srv.xe("vm-list", password="wrong-password")
        self.assertNotEqual(r.returncode, 0)
        r = self.srv.xe("no-such-command")
        self.assertNotEqual(r.returncode, 0)
        vm = self.new_vm("xe-err")
        uuid = self.api.VM.get_uuid(vm)
        r = self.srv.xe("vm-param-set", "uuid=" + uuid, "power-state=running")
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        r = self.srv.xe("vm-shutdown", "uuid=" + uuid)
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertTrue((r.stdout + r.stderr).strip())
        r = self.srv.xe("vm-param-set", "uuid=" + uuid, "other-config:k=v")
        self.assertEqual(r.returncode, 0)
        self.api.VM.destroy(vm)

    def test_lifecycle_via_xe(self):
        vm = self.new_vm("xe-life")
        uuid = self.api.VM.get_uuid(vm)
        self.xe_ok("vm-start", "uuid=" + uuid)
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        out = self.xe_ok("vm-param-get", "uuid=" + uuid, "param-name=power-state")
        self.assertEqual(out.strip(), "running")
        self.xe_ok("vm-shutdown", "uuid=" + uuid, "--force")
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.api.VM.destroy(vm)


if __name__ == "__main__":
    harness.main()
