"""Every message of the schema that has a session and is not deprecated,
called against a real xenond with root's session and arguments of the right
types: refs of existing objects of the parameter's class (a VM, VDI,
network and task made for the purpose, so destroying them costs nothing),
OpaqueRef:NULL for a class without objects, and a plain value of each other
type. A NOT_IMPLEMENTED answer fails unless docs/api-coverage.md names the
message with its reason (src/api/absent.list); so does a call that does not
answer within a few seconds, or a daemon that dies. The messages, their
types and the reasons come from scripts/api_coverage.py, which makes the
table."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

sys.path.insert(0, os.path.join(harness.ROOT, "scripts"))
import api_coverage  # noqa: E402

CALL_TIMEOUT = 8
# Calls that take their object away go after all the others.
DESTRUCTIVE = re.compile(r"destroy|forget|eject|logout|data_destroy|revert")


class ApiCoverage(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = api_coverage.load()
        _, cls.types, cls.enums = api_coverage.parse_schema()

    def value(self, t, objs):
        kind = t["kind"]
        if kind == "SC_REF":
            cls = t["text"][:-len(" ref")]
            return objs.get(cls, harness.NULL_REF)
        if kind == "SC_OPTION":
            return self.value(self.types[t["elem"]], objs)
        return {"SC_STRING": "", "SC_INT": 0, "SC_FLOAT": 0.0, "SC_BOOL": False,
                "SC_DATETIME": "19700101T00:00:00Z", "SC_SET": [], "SC_MAP": {},
                "SC_ENUM": (self.enums.get(t["en"]) or [""])[0]}.get(kind, {})

    def objects(self):
        """An object of each class that has one: throwaway ones where a
        call could take the object away."""
        objs = {}
        for cls in harness.classes_with(self.srv, ".get_all"):
            try:
                refs = self.srv.call(cls + ".get_all", self.srv.session)
            except harness.XapiError:
                continue
            if refs:
                objs[cls] = refs[0]
        objs["VM"] = self.new_vm("coverage-vm")
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        objs["VDI"] = self.api.VDI.create({"SR": sr, "virtual_size": str(harness.MiB), "type": "user",
                                           "name_label": "coverage-vdi", "sharable": False,
                                           "read_only": False, "other_config": {}})
        objs["network"] = self.api.network.create({"name_label": "coverage-net", "other_config": {}})
        objs["task"] = self.api.task.create("coverage-task", "")
        return objs

    def test_no_unnamed_not_implemented(self):
        objs = self.objects()
        todo = [(m, state, detail) for m, state, detail in self.rows
                if m.session and m.state != "DEPRECATED" and "not called" not in detail]
        todo.sort(key=lambda r: bool(DESTRUCTIVE.search(r[0].name)))
        unnamed, hung, named_ok, answered, not_impl = [], [], [], 0, 0
        for m, state, detail in todo:
            args = [self.value(t, objs) for _, t in m.params]
            if m.key == "session.change_password":
                args = [self.srv.password, self.srv.password]
            # calls on sessions get one of their own, for logout's sake
            session = self.srv.login() if m.cls == "session" else self.srv.session
            try:
                self.srv.call(m.key, session, *args, timeout=CALL_TIMEOUT)
                answered += 1
            except harness.XapiError as e:
                answered += 1
                not_impl += e.code == "NOT_IMPLEMENTED"
                xapis_own = state == "absent feature" and detail.startswith("NOT_IMPLEMENTED")
                if e.code == "NOT_IMPLEMENTED" and state != "open issue" and not xapis_own:
                    unnamed.append(m.key)
                if e.code != "NOT_IMPLEMENTED" and state == "open issue":
                    named_ok.append(m.key)
            except (socket.timeout, TimeoutError):
                hung.append(m.key)
            self.assertTrue(self.srv.alive(), "xenond died calling %s" % m.key)
        sys.stderr.write("\n%d messages called; NOT_IMPLEMENTED: %d, of which without a reason in the "
                         "table: %d; no answer in %ds: %d\n" % (answered + len(hung), not_impl, len(unnamed),
                                                               CALL_TIMEOUT, len(hung)))
        self.assertEqual(unnamed, [], "NOT_IMPLEMENTED and not named in src/api/absent.list")
        self.assertEqual(hung, [], "no answer within %ds" % CALL_TIMEOUT)
        # an issue line for a message that answers: the table says less than the truth
        self.assertEqual(named_ok, [], "answer, yet absent.list leaves them to an issue")


if __name__ == "__main__":
    harness.main()
