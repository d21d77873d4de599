"""Messages the datamodel gives no role (xapi's _R_LOCAL_ROOT_ONLY), against
a real xenond: only the local superuser's session (root) may call them;
every subject, pool-admin included, gets RBAC_PERMISSION_DENIED and the
value the call would set stays as it was. The list of such messages comes
from the committed schema tables (src/schema/schema_gen.c), so a message
that loses its roles in a later datamodel is covered without a new test."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

USERS = {"admin": "pool-admin", "reader": "read-only"}
PASSWORD = "s3cret-pw"
SCHEMA_GEN = os.path.join(harness.ROOT, "src", "schema", "schema_gen.c")

MSG_RE = re.compile(r'^\t\{"(\w+)", SC_MSG_\w+, -?\d+, (true|false), (true|false), SC_(\w+), (0x[0-9a-f]+), (\d+),')
CLASS_RE = re.compile(r'^\t\{"(\w+)", "[^"]*", .*, messages_(\d+), ')


def roleless_messages():
    """(Class.message, parameter count without the session, async) of every
    message with a session and no roles in the schema tables."""
    per_table, classes, table = {}, {}, None
    with open(SCHEMA_GEN) as f:
        for line in f:
            m = re.match(r"^static const struct sc_message messages_(\d+)\[\] = \{", line)
            if m:
                table = int(m.group(1))
                continue
            m = MSG_RE.match(line)
            if m and table is not None:
                name, session, is_async, _state, roles, n = m.groups()
                if session == "true" and int(roles, 16) == 0:
                    per_table.setdefault(table, []).append((name, int(n), is_async == "true"))
                continue
            m = CLASS_RE.match(line)
            if m:
                classes[int(m.group(2))] = m.group(1)
    return sorted(("%s.%s" % (classes[t], name), n, a) for t, msgs in per_table.items()
                  for name, n, a in msgs)


class RolelessMessages(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server_kwargs = {"data_dir": harness.data_dir_with_users(USERS, PASSWORD, "xenon-rbac-")}
        super().setUpClass()
        cls.sessions = {u: cls.srv.login(u, PASSWORD) for u in USERS}
        cls.host = cls.api.host.get_all()[0]

    def denied(self, user, method, *args):
        s = self.sessions[user]
        perm = (method[len("Async."):] if method.startswith("Async.") else method).lower()
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, method, s, *args,
                             params=[perm, "No permission in user session. (Roles with this permission: )"])

    def vmss(self):
        return self.api.VMSS.create({"name_label": "rbac-vmss", "type": "snapshot",
                                     "frequency": "hourly", "schedule": {"min": "0"}})

    def test_subjects_cannot_set_uefi_certificates(self):
        before = self.api.host.get_uefi_certificates(self.host)
        for user in USERS:
            self.denied(user, "host.set_uefi_certificates", self.host, "subject-certs")
            self.denied(user, "Async.host.set_uefi_certificates", self.host, "subject-certs")
        self.assertEqual(self.api.host.get_uefi_certificates(self.host), before)

    def test_subjects_cannot_set_vmss_last_run_time(self):
        vmss = self.vmss()
        before = self.api.VMSS.get_last_run_time(vmss)
        for user in USERS:
            self.denied(user, "VMSS.set_last_run_time", vmss, "20300101T00:00:00Z")
        self.assertEqual(self.api.VMSS.get_last_run_time(vmss), before)

    def test_subjects_cannot_call_sched_gran_or_emergency_calls(self):
        for user in USERS:
            self.denied(user, "host.set_sched_gran", self.host, "core")
            self.denied(user, "host.get_sched_gran", self.host)
            for m in ("emergency_reset_server_certificate", "emergency_disable_tls_verification",
                      "emergency_reenable_tls_verification", "emergency_clear_mandatory_guidance"):
                self.denied(user, "host." + m)

    def test_root_may_call_them(self):
        self.api.host.set_uefi_certificates(self.host, "root-certs")
        self.assertEqual(self.api.host.get_uefi_certificates(self.host), "root-certs")
        vmss = self.vmss()
        self.api.VMSS.set_last_run_time(vmss, "20300101T00:00:00Z")
        self.assertEqual(self.api.VMSS.get_last_run_time(vmss), "20300101T00:00:00Z")
        # past the role check: whatever the handler answers, it is not a refusal
        for m, args in (("host.set_sched_gran", (self.host, "core")),
                        ("host.emergency_disable_tls_verification", ())):
            try:
                self.srv.call(m, self.srv.session, *args)
            except harness.XapiError as e:
                self.assertNotEqual(e.code, "RBAC_PERMISSION_DENIED", m)

    def test_every_roleless_message_is_refused_to_pool_admin(self):
        msgs = roleless_messages()
        names = {m for m, _n, _a in msgs}
        self.assertTrue({"host.set_uefi_certificates", "VMSS.set_last_run_time", "host.set_sched_gran",
                         "host.emergency_reset_server_certificate"} <= names, names)
        # what every client calls keeps its roles
        for m in ("session.logout", "session.get_all_subject_identifiers", "event.from", "VM.get_all",
                  "session.get_record", "host.get_servertime"):
            self.assertNotIn(m, names)
        listed = set(self.srv.call("system.listMethods"))
        for method, n, is_async in msgs:
            self.assertIn(method, listed)
            # roles are checked before argument types: placeholders never run
            args = ["x"] * n
            self.denied("admin", method, *args)
            if is_async:
                self.denied("admin", "Async." + method, *args)

    def test_subjects_still_reach_ordinary_calls(self):
        for user in USERS:
            s = self.srv.login(user, PASSWORD)
            self.assertEqual(self.srv.call("session.get_all_subject_identifiers", s), [])
            self.srv.call("host.get_servertime", s, self.host)
            self.srv.call("session.logout", s)


if __name__ == "__main__":
    harness.main()
