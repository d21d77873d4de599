"""Subjects as xapi has them, against a real xenond and real system
accounts: the test makes a local user and group (useradd, groupadd),
removes them afterwards, turns external authentication (PAM) on and logs
in through PAM. A user that is no
subject, alone or through a group, gets SESSION_AUTHORIZATION_FAILED; a
group subject with a role lets its members in with that role's
permissions; role changes count from the next login; the auth.* lookups
answer from NSS; session.logout_subject_identifier ends the subject's
sessions; xe's subject and role commands drive it all."""

import os
import pwd
import grp
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

USER, GROUP, LONER = "xnt-alice", "xnt-ops", "xnt-bob"
PASSWORD = "Alice-pw-1"


def sh(*cmd, check=True, input=None):
    return subprocess.run(cmd, check=check, input=input, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


def remove_accounts():
    for u in (USER, LONER):
        sh("userdel", u, check=False)
    sh("groupdel", GROUP, check=False)


class Subjects(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise harness.unittest.SkipTest("needs root to add system accounts")
        remove_accounts()
        sh("groupadd", GROUP)
        for u in (USER, LONER):
            sh("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", u)
            sh("chpasswd", input="%s:%s\n" % (u, PASSWORD))
        sh("usermod", "-a", "-G", GROUP, USER)
        cls.uid = pwd.getpwnam(USER).pw_uid
        cls.gid = grp.getgrnam(GROUP).gr_gid
        cls.server_kwargs = {"config": "max-sessions-per-subject = 3\n"}
        super().setUpClass()
        # subjects are the system's accounts once external authentication is on
        cls.api.pool.enable_external_auth(cls.api.pool.get_all()[0], {}, "", "PAM")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            remove_accounts()

    def xe_as(self, user, password, *args):
        cmd = [harness.XE, "-s", self.srv.host, "-p", str(self.srv.port), "--nossl", "-u", user,
               "-pw", password] + list(args)
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, text=True)

    def xe(self, *args):
        r = self.srv.xe(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def login(self, user=USER, password=PASSWORD):
        return self.srv.login(user, password)

    def subject_of(self, name):
        sid = self.api.auth.get_subject_identifier(name)
        for ref, rec in self.api.subject.get_all_records().items():
            if rec["subject_identifier"] == sid:
                return ref, rec
        return None, None

    def tearDown(self):
        for ref in self.api.subject.get_all():
            self.api.subject.destroy(ref)

    def test_auth_lookups_answer_from_nss(self):
        api = self.api
        self.assertEqual(api.auth.get_subject_identifier(USER), "u%d" % self.uid)
        self.assertEqual(api.auth.get_subject_identifier(GROUP), "g%d" % self.gid)
        info = api.auth.get_subject_information_from_identifier("u%d" % self.uid)
        self.assertEqual((info["subject-name"], info["subject-is-group"]), (USER, "false"))
        ginfo = api.auth.get_subject_information_from_identifier("g%d" % self.gid)
        self.assertEqual((ginfo["subject-name"], ginfo["subject-is-group"]), (GROUP, "true"))
        self.assertIn("g%d" % self.gid, api.auth.get_group_membership("u%d" % self.uid))
        self.assertXapiError("SUBJECT_CANNOT_BE_RESOLVED", api.auth.get_subject_identifier, "xnt-nobody-here")

    def test_not_a_subject_then_a_group_subject_with_a_role(self):
        self.assertXapiError("SESSION_AUTHORIZATION_FAILED", self.login)
        self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.login, USER, "wrong-password")
        uuid = self.xe("subject-add", "subject-name=" + GROUP)
        ref, rec = self.subject_of(GROUP)
        self.assertEqual(self.api.subject.get_uuid(ref), uuid)
        self.assertEqual(rec["other_config"]["subject-is-group"], "true")
        self.assertEqual(rec["roles"], [])
        self.assertIn(uuid, self.xe("subject-list", "params=uuid", "--minimal"))
        # a subject without a role may not log in
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.login)
        self.xe("subject-role-add", "uuid=" + uuid, "role-name=vm-operator")
        self.assertEqual(self.api.subject.get_roles(ref), [self.api.role.get_by_name_label("vm-operator")[0]])
        perms = self.api.subject.get_permissions_name_label(ref)
        self.assertIn("vm.start", perms)
        self.assertNotIn("vm.destroy", perms)
        # alice is in the group: vm-operator's rights and no more
        s = self.login()
        vm = self.new_vm("subj-vm", provision=False)
        self.srv.call("VM.start", s, vm, False, False)
        self.srv.call("VM.hard_shutdown", s, vm)
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VM.destroy", s, vm)
        rec = self.api.session.get_record(s)
        self.assertEqual((rec["auth_user_sid"], rec["auth_user_name"], rec["is_local_superuser"]),
                         ("u%d" % self.uid, USER, False))
        self.assertEqual(rec["subject"], ref)
        self.assertIn("u%d" % self.uid, self.srv.call("session.get_all_subject_identifiers", s))
        # xe as alice: allowed reads, refused writes
        r = self.xe_as(USER, PASSWORD, "vm-list", "uuid=" + self.api.VM.get_uuid(vm), "params=name-label", "--minimal")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "subj-vm"), r.stderr)
        r = self.xe_as(USER, PASSWORD, "vm-destroy", "uuid=" + self.api.VM.get_uuid(vm))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("RBAC", r.stdout + r.stderr)
        # a user outside the group is still no subject
        self.assertXapiError("SESSION_AUTHORIZATION_FAILED", self.login, LONER)
        self.destroy_vm(vm)

    def test_role_change_applies_at_next_login(self):
        uuid = self.xe("subject-add", "subject-name=" + USER)
        self.xe("subject-role-add", "uuid=" + uuid, "role-name=read-only")
        old = self.login()
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VM.create", old, {})
        self.xe("subject-role-add", "uuid=" + uuid, "role-uuid=" + self.api.role.get_uuid(
            self.api.role.get_by_name_label("vm-admin")[0]))
        # the old session keeps its permissions; a new login has the new ones
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VM.create", old, {})
        new = self.login()
        try:
            self.srv.call("VM.create", new, {})
        except harness.XapiError as e:
            self.assertNotEqual(e.code, "RBAC_PERMISSION_DENIED")
        self.xe("subject-role-remove", "uuid=" + uuid, "role-name=vm-admin")
        self.xe("subject-role-remove", "uuid=" + uuid, "role-name=read-only")
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.login)
        r = self.srv.xe("subject-role-remove", "uuid=" + uuid, "role-name=read-only")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ROLE_NOT_FOUND", r.stdout + r.stderr)

    def test_logout_subject_identifier_and_removal(self):
        uuid = self.xe("subject-add", "subject-name=" + USER)
        r = self.srv.xe("subject-add", "subject-name=" + USER)
        self.assertIn("SUBJECT_ALREADY_EXISTS", r.stdout + r.stderr)
        self.xe("subject-role-add", "uuid=" + uuid, "role-name=read-only")
        s1, s2 = self.login(), self.login()
        sid = "u%d" % self.uid
        self.assertIn(sid, self.api.session.get_all_subject_identifiers())
        self.srv.call("session.logout_subject_identifier", self.srv.session, sid)
        for s in (s1, s2):
            self.assertXapiError("SESSION_INVALID", self.srv.call, "session.get_uuid", s, s)
        self.assertNotIn(sid, self.api.session.get_all_subject_identifiers())
        # root's sessions belong to no subject: an empty identifier ends none
        other_root = self.srv.login()
        self.srv.call("session.logout_subject_identifier", self.srv.session, "")
        self.srv.call("session.get_uuid", other_root, other_root)
        # subjects need pool-admin to manage subjects
        s3 = self.login()
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "subject.destroy", s3,
                             self.subject_of(USER)[0])
        self.srv.call("session.get_uuid", s3, s3)
        self.xe("subject-remove", "subject-uuid=" + uuid)
        # its sessions end with it, and it may not log in again
        self.assertXapiError("SESSION_INVALID", self.srv.call, "session.get_uuid", s3, s3)
        self.assertXapiError("SESSION_AUTHORIZATION_FAILED", self.login)

    def test_sessions_per_subject_are_limited(self):
        uuid = self.xe("subject-add", "subject-name=" + USER)
        self.xe("subject-role-add", "uuid=" + uuid, "role-name=read-only")
        first = [self.login() for _ in range(3)]
        for s in first:
            self.srv.call("session.get_uuid", s, s)
        newest = self.login()  # the fourth: the oldest ends
        self.assertXapiError("SESSION_INVALID", self.srv.call, "session.get_uuid", first[0], first[0])
        for s in first[1:] + [newest]:
            self.srv.call("session.get_uuid", s, s)
        # root is no subject: not counted
        for _ in range(4):
            self.srv.login()
        self.srv.call("session.get_uuid", newest, newest)

    def test_role_list(self):
        out = self.xe("role-list", "is-internal=false", "params=name", "--minimal")
        self.assertEqual(set(out.split(",")), {"pool-admin", "pool-operator", "vm-power-admin", "vm-admin",
                                               "vm-operator", "read-only", "client-cert"})
        perms = self.xe("role-list", "name=vm.start", "params=uuid,is-internal")
        self.assertIn("true", perms)


if __name__ == "__main__":
    harness.main()
