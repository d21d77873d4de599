"""The authorization matrix, generated from the schema: every message with
a session is called by a session of each of the six roles, and the outcome
is checked against the datamodel's roles of that message (the committed
schema tables, src/schema/schema_gen.c): RBAC_PERMISSION_DENIED with the
lowercased call name and xapi's message where the role lacks it, anything
else where it holds it. The arguments are of the wrong type on purpose
(roles are checked before argument types), so an allowed call stops at
FIELD_TYPE_ERROR and nothing runs; messages without parameters run for
real, but those that would stop or change the daemon only where refused.

Also: the static role objects (xapi's refs and uuids, their permission
lists), every HTTP action without a session, with a bad one and with a
role too weak, and the guarded map keys."""

import hashlib
import http.client
import json
import os
import re
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROLES = ["pool-admin", "pool-operator", "vm-power-admin", "vm-admin", "vm-operator", "read-only"]
ALL_ROLES = ROLES + ["client-cert"]
USERS = {r.replace("-", "_"): r for r in ROLES}
PASSWORD = "matrix-pw"
SCHEMA_GEN = os.path.join(harness.ROOT, "src", "schema", "schema_gen.c")
MSG_RE = re.compile(r'^\t\{"(\w+)", SC_MSG_\w+, -?\d+, (true|false), (true|false), SC_\w+, (0x[0-9a-f]+), (\d+),')
CLASS_RE = re.compile(r'^\t\{"(\w+)", "[^"]*", .*, messages_(\d+), ')
# parameterless calls that would stop the daemon, end the caller's session,
# block, or change the pool: called only by the roles refused them
NO_RUN = {"session.logout", "session.local_logout", "event.next", "host.shutdown_agent",
          "host.management_disable", "pool.emergency_transition_to_master", "pool.sync_database",
          "pool.disable_ha", "pool.recover_slaves", "pool.rotate_secret", "pool.enable_tls_verification",
          "pool.disable_redo_log", "pool.deconfigure_wlb", "pool.certificate_sync"}
WRONG = [[["rbac-matrix"]]]  # no parameter type accepts a list of lists of lists


def messages():
    """(Class.message, roles bits, parameter count, async) of every message
    with a session, from the schema tables."""
    per, classes, table = {}, {}, None
    with open(SCHEMA_GEN) as f:
        for line in f:
            m = re.match(r"^static const struct sc_message messages_(\d+)\[\] = \{", line)
            if m:
                table = int(m.group(1))
                continue
            m = MSG_RE.match(line)
            if m and table is not None:
                name, session, is_async, roles, n = m.groups()
                if session == "true":
                    per.setdefault(table, []).append((name, int(roles, 16), int(n), is_async == "true"))
                continue
            m = CLASS_RE.match(line)
            if m:
                classes[int(m.group(2))] = m.group(1)
    return sorted(("%s.%s" % (classes[t], n), r, k, a) for t, ms in per.items() for n, r, k, a in ms)


def closure(bit):
    """A role's bits with the roles below it (client-cert alone)."""
    out = 1 << bit
    if bit < 5:
        for b in range(bit + 1, 6):
            out |= 1 << b
    return out


def denial_message(bits):
    names = [ALL_ROLES[i] for i in range(7) if bits & (1 << i)]
    return "No permission in user session. (Roles with this permission: %s)" % ", ".join(names)


def hash_uuid(name):
    return str(uuid.UUID(bytes=hashlib.md5(name.encode()).digest()))


class Caller:
    """JSON-RPC calls over one keep-alive connection."""

    def __init__(self, srv):
        self.c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        self.n = 0

    def call(self, method, params):
        self.n += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": self.n})
        self.c.request("POST", "/jsonrpc", body=body, headers={"Content-Type": "application/json"})
        r = self.c.getresponse()
        env = json.loads(r.read())
        if "error" in env:
            return ("error", env["error"]["message"], env["error"].get("data") or [])
        return ("ok", env["result"], None)


class Matrix(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server_kwargs = {"data_dir": harness.data_dir_with_users(USERS, PASSWORD, "xenon-matrix-")}
        super().setUpClass()
        cls.sessions = {r: cls.srv.login(u, PASSWORD) for u, r in USERS.items()}

    def test_every_message_for_every_role(self):
        msgs = messages()
        self.assertGreater(len(msgs), 1500)
        caller = Caller(self.srv)
        checked = denied = 0
        failures = []
        for method, bits, n, is_async in msgs:
            variants = [method] + (["Async." + method] if is_async else [])
            for bit, role in enumerate(ROLES):
                allowed = bool(bits & closure(bit))
                if allowed and n == 0 and method in NO_RUN:
                    continue
                for m in variants:
                    if allowed and n == 0 and m.startswith("Async."):
                        continue  # would start a real task of a parameterless call
                    kind, val, data = caller.call(m, [self.sessions[role]] + WRONG * n)
                    checked += 1
                    if allowed:
                        if kind == "error" and val == "RBAC_PERMISSION_DENIED":
                            failures.append("%s as %s: refused %r" % (m, role, data))
                    else:
                        denied += 1
                        want = [method.lower(), denial_message(bits)]
                        if kind != "error" or val != "RBAC_PERMISSION_DENIED" or data != want:
                            failures.append("%s as %s: %s %r %r, want denial %r" % (m, role, kind, val, data, want))
        self.assertEqual(failures[:20], [])
        caller.c.close()
        self.assertGreater(denied, 3000)
        print("matrix: %d calls, %d refused" % (checked, denied), file=sys.stderr)

    def test_roles_are_xapi_static_objects(self):
        api = self.api
        for i, name in enumerate(ALL_ROLES):
            u = hash_uuid(name)
            refs = api.role.get_by_name_label(name)
            self.assertEqual(refs, ["OpaqueRef:" + u], name)
            rec = api.role.get_record(refs[0])
            self.assertEqual(rec["uuid"], u)
            self.assertFalse(rec["is_internal"])
        admin = api.role.get_by_name_label("pool-admin")[0]
        ro = api.role.get_by_name_label("read-only")[0]
        admin_perms = set(api.role.get_permissions_name_label(admin))
        ro_perms = set(api.role.get_permissions_name_label(ro))
        self.assertTrue(ro_perms < admin_perms)
        for method, bits, _n, _a in messages():
            self.assertEqual(method.lower() in admin_perms, bool(bits & 1), method)
            self.assertEqual(method.lower() in ro_perms, bool(bits & (1 << 5)), method)
        self.assertIn("http/get_audit_log", ro_perms)
        self.assertIn("vm.add_to_other_config/key:folder", set(api.role.get_permissions_name_label(
            api.role.get_by_name_label("vm-operator")[0])))
        # a permission is a role object too: its uuid the MD5 of its wire name
        perm = api.role.get_by_name_label("vm.start")
        self.assertEqual(perm, ["OpaqueRef:" + hash_uuid("VM.start")])
        self.assertTrue(api.role.get_is_internal(perm[0]))
        self.assertEqual(api.role.get_permissions(perm[0]), [])
        holders = set(api.role.get_by_permission(perm[0]))
        self.assertEqual(holders, set(api.role.get_by_permission_name_label("VM.start")))
        self.assertEqual({api.role.get_name_label(r) for r in holders},
                         {"pool-admin", "pool-operator", "vm-power-admin", "vm-admin", "vm-operator"})
        self.assertIn(perm[0], api.role.get_permissions(admin))

    def http_actions(self):
        """(permission, method, path, least role) of every HTTP action the
        server names among its permissions."""
        out = []
        for ref, rec in self.api.role.get_all_records().items():
            name = rec["name_label"]
            if not name.startswith("http/"):
                continue
            holders = {self.api.role.get_name_label(r) for r in self.api.role.get_by_permission(ref)}
            least = [r for r in ROLES if r in holders][-1]
            verb, path = name[len("http/"):].split("_", 1)
            out.append((name, verb.upper(), "/" + path, least))
        return sorted(out)

    def test_every_http_action(self):
        actions = self.http_actions()
        names = {a[0] for a in actions}
        for want in ("http/get_export", "http/put_import", "http/get_rrd_updates", "http/get_audit_log",
                     "http/connect_console", "http/put_import_raw_vdi", "http/get_metrics"):
            self.assertIn(want, names)
        for perm, verb, path, least in actions:
            if perm == "http/connect_console":
                verb, path = "GET", "/console"
            for sid, status in ((None, 401), ("OpaqueRef:00000000-0000-0000-0000-000000000000", 401)):
                url = path + ("?session_id=" + sid if sid else "")
                r = self.srv.post(url, b"", method=verb)
                self.assertEqual(r.status, status, "%s %s" % (perm, url))
            weaker = ROLES[ROLES.index(least) + 1:]
            for role in weaker:
                r = self.srv.post(path + "?session_id=" + self.sessions[role], b"", method=verb)
                self.assertEqual(r.status, 403, "%s as %s" % (perm, role))
                self.assertIn(b"RBAC_PERMISSION_DENIED", r.body)
                self.assertIn(perm.encode(), r.body)
            r = self.srv.post(path + "?session_id=" + self.sessions[least], b"", method=verb)
            self.assertNotEqual(r.status, 403, "%s as %s" % (perm, least))
            self.assertNotEqual(r.status, 401, "%s as %s" % (perm, least))

    def test_guarded_keys(self):
        vm = self.new_vm("rbac-keys", provision=False)
        op = self.sessions["vm-operator"]
        va = self.sessions["vm-admin"]
        call = self.srv.call
        # vm-operator may not edit other_config, but may set its folder keys
        self.assertXapiError("RBAC_PERMISSION_DENIED", call, "VM.add_to_other_config", op, vm, "note", "x",
                             params=["vm.add_to_other_config", denial_message(0xf)])
        call("VM.add_to_other_config", op, vm, "folder", "/team")
        call("VM.add_to_other_config", op, vm, "XenCenter.CustomFields.owner", "alice")
        call("VM.remove_from_other_config", op, vm, "folder")
        # pci and hvm_serial need pool-admin, even for vm-admin
        self.assertXapiError("RBAC_PERMISSION_DENIED", call, "VM.add_to_other_config", va, vm, "pci", "0/0000:00:01.0",
                             params=["vm.add_to_other_config/key:pci", denial_message(0x1)])
        self.assertXapiError("RBAC_PERMISSION_DENIED", call, "VM.add_to_platform", va, vm, "hvm_serial", "pty",
                             params=["vm.add_to_platform/key:hvm_serial", denial_message(0x1)])
        call("VM.add_to_other_config", va, vm, "note", "ok")
        call("VM.add_to_other_config", self.sessions["pool-admin"], vm, "pci", "0/0000:00:01.0")
        oc = self.api.VM.get_other_config(vm)
        self.assertEqual((oc.get("XenCenter.CustomFields.owner"), oc.get("note"), oc.get("pci")),
                         ("alice", "ok", "0/0000:00:01.0"))
        self.assertNotIn("folder", oc)
        self.assertNotIn("hvm_serial", self.api.VM.get_platform(vm))


if __name__ == "__main__":
    harness.main()
