"""Async.* calls and the task class (xapi-surface.md §1.6, xo-client.md
§1.5/§1.7): a task ref comes back at once, the task ends in success with
result = the XML-RPC text of the return value, or in failure with
error_info; task.create/set_progress/cancel/destroy; no Async for getters,
setters, session, event or task."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import NULL_REF, REF_RE, XapiError  # noqa: E402

RESULT_REF_RE = re.compile(r"^<value>(OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})</value>$")
EPOCH = "19700101T00:00:00Z"


class AsyncCalls(harness.ServerTestCase):
    def async_call(self, method, *args):
        task = self.srv.call("Async." + method, self.srv.session, *args)
        self.assertRegex(task, REF_RE, "Async.%s must return a task ref" % method)
        self.assertIn(task, self.api.task.get_all())
        return task

    def test_async_clone_success(self):
        tpl = self.template()
        task = self.async_call("VM.clone", tpl, "async-clone")
        first = self.api.task.get_record(task)
        self.assertIn(first["status"], ("pending", "success"))
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "success", rec)
        m = RESULT_REF_RE.match(rec["result"])
        self.assertIsNotNone(m, "task.result %r is not <value>OpaqueRef:…</value>" % rec["result"])
        vm = m.group(1)
        self.assertEqual(self.api.VM.get_name_label(vm), "async-clone")
        self.assertEqual(rec["progress"], 1.0)
        self.assertEqual(rec["error_info"], [])
        self.assertNotEqual(rec["finished"], EPOCH)
        self.assertGreaterEqual(rec["finished"], rec["created"])
        self.assertRegex(rec["created"], r"^\d{8}T\d\d:\d\d:\d\dZ$")
        self.assertEqual(rec["resident_on"], self.api.host.get_all()[0])
        self.assertIsInstance(rec["other_config"], dict)
        self.assertEqual(rec["subtask_of"], NULL_REF)
        self.assertIsInstance(rec["current_operations"], dict)
        self.assertIn(rec["name_label"], ("Async.VM.clone", "VM.clone"))
        self.api.task.destroy(task)
        self.assertXapiError("HANDLE_INVALID", self.api.task.get_record, task, params=["task", task])
        self.api.VM.destroy(vm)

    def test_async_void_result(self):
        vm = self.new_vm("async-void")
        try:
            task = self.async_call("VM.start", vm, False, False)
            rec = self.wait_task(task)
            self.assertEqual(rec["status"], "success", rec)
            self.assertEqual(self.api.VM.get_power_state(vm), "Running")
            task = self.async_call("VM.hard_shutdown", vm)
            rec2 = self.wait_task(task)
            self.assertEqual(rec2["status"], "success")
            self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
            # a void result is marshalled from Rpc.String "" (gen_server.ml
            # result_marshaller, taskHelper.ml Xmlrpc.to_string): "<value></value>"
            self.assertEqual(rec["result"], "<value></value>")
            self.assertEqual(rec2["result"], "<value></value>")
        finally:
            self.destroy_vm(vm)

    def test_async_failure_error_info(self):
        tpl = self.template()
        task = self.async_call("VM.start", tpl, False, False)
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "failure", rec)
        self.assertEqual(rec["error_info"], ["VM_IS_TEMPLATE", tpl, "start"])
        self.assertNotEqual(rec["finished"], EPOCH)
        vm = self.new_vm("async-fail")
        try:
            self.api.VM.start(vm, False, False)
            task = self.async_call("VM.start", vm, False, False)
            rec = self.wait_task(task)
            self.assertEqual(rec["status"], "failure")
            self.assertEqual(rec["error_info"], ["VM_BAD_POWER_STATE", vm, "halted", "running"])
            self.api.task.destroy(task)
            self.api.VM.hard_shutdown(vm)
        finally:
            self.destroy_vm(vm)

    def test_async_bad_handle(self):
        bogus = "OpaqueRef:00000000-0000-0000-0000-0000000000aa"
        try:
            task = self.srv.call("Async.VM.clone", self.srv.session, bogus, "x")
        except XapiError as e:  # rejected before the task exists: acceptable too
            self.assertEqual(e.details, ["HANDLE_INVALID", "VM", bogus])
            return
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "failure")
        self.assertEqual(rec["error_info"], ["HANDLE_INVALID", "VM", bogus])

    def test_async_arity_and_session_checked_synchronously(self):
        self.assertXapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", self.srv.call, "Async.VM.clone",
                             self.srv.session, self.template())
        self.assertXapiError("SESSION_INVALID", self.srv.call, "Async.VM.clone", "OpaqueRef:nope",
                             self.template(), "x", params=["OpaqueRef:nope"])

    def test_no_async_for_getters_setters_session_event_task(self):
        vm = self.template()
        s = self.srv.session
        for name, args in (("Async.VM.get_name_label", [s, vm]), ("Async.VM.get_record", [s, vm]),
                           ("Async.VM.get_all", [s]), ("Async.VM.get_all_records", [s]),
                           ("Async.VM.set_name_label", [s, vm, "x"]),
                           ("Async.VM.add_to_other_config", [s, vm, "k", "v"]),
                           ("Async.session.logout", [s]),
                           ("Async.session.login_with_password", ["root", self.srv.password]),
                           ("Async.event.from", [s, ["*"], "", 0.0]), ("Async.event.inject", [s, "pool", NULL_REF]),
                           ("Async.task.cancel", [s, NULL_REF]), ("Async.task.create", [s, "a", "b"]),
                           ("Async.VM.no_such_message", [s, vm])):
            with self.subTest(method=name):
                self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.srv.call, name, *args, params=[name])

    def test_task_events_carry_result(self):
        # what xen-api's callAsync waits for: task add/mod events, then success
        token = getattr(self.api.event, "from")(["task"], "", 0.0)["token"]
        task = self.async_call("VM.clone", self.template(), "async-events")
        seen = []
        deadline = time.monotonic() + 10
        final = None
        while time.monotonic() < deadline and final is None:
            res = getattr(self.api.event, "from")(["task"], token, 2.0)
            token = res["token"]
            for ev in res["events"]:
                if ev["ref"] != task:
                    continue
                seen.append(ev["operation"])
                if ev["operation"] != "del" and ev["snapshot"]["status"] == "success":
                    final = ev["snapshot"]
        self.assertIsNotNone(final, "no task event with status success (seen %r)" % seen)
        self.assertIn(seen[0], ("add", "mod"))
        m = RESULT_REF_RE.match(final["result"])
        self.assertIsNotNone(m, final["result"])
        self.api.task.destroy(task)
        # the destroy is seen as a del
        res = getattr(self.api.event, "from")(["task"], token, 5.0)
        self.assertIn((task, "del"), [(e["ref"], e["operation"]) for e in res["events"]])
        self.api.VM.destroy(m.group(1))


class TaskClass(harness.ServerTestCase):
    def test_create_set_progress(self):
        t = self.api.task.create("Xapi#getResource /export/", "desc")
        self.assertRegex(t, REF_RE)
        rec = self.api.task.get_record(t)
        self.assertEqual(rec["name_label"], "Xapi#getResource /export/")
        self.assertEqual(rec["name_description"], "desc")
        self.assertEqual(rec["status"], "pending")
        self.assertEqual(rec["progress"], 0.0)
        self.assertEqual(rec["result"], "")
        self.assertEqual(rec["error_info"], [])
        self.assertEqual(rec["finished"], EPOCH)
        self.assertIsInstance(rec["other_config"], dict)
        self.api.task.set_progress(t, 0.5)
        self.assertEqual(self.api.task.get_progress(t), 0.5)
        self.api.task.set_progress(t, 0.75)
        self.assertEqual(self.api.task.get_record(t)["progress"], 0.75)
        self.api.task.add_to_other_config(t, "applies_to", "x")
        self.assertEqual(self.api.task.get_other_config(t), {"applies_to": "x"})
        self.api.task.set_status(t, "success")
        self.api.task.destroy(t)
        self.assertNotIn(t, self.api.task.get_all())

    def test_cancel(self):
        t = self.api.task.create("to-cancel", "")
        self.api.task.cancel(t)
        rec = self.api.task.get_record(t)
        # xapi marks the cancel in current_operations; the owner then raises TASK_CANCELLED
        self.assertIn("cancel", rec["current_operations"].values())
        self.assertIn(rec["status"], ("pending", "cancelling", "cancelled"))
        self.api.task.set_status(t, "cancelled")
        self.api.task.destroy(t)
        self.assertXapiError("HANDLE_INVALID", self.api.task.get_record, t, params=["task", t])

    def test_destroy_and_handle_invalid(self):
        t = self.api.task.create("to-destroy", "")
        self.api.task.set_status(t, "failure")
        self.api.task.destroy(t)
        self.assertXapiError("HANDLE_INVALID", self.api.task.get_record, t, params=["task", t])
        self.assertXapiError("HANDLE_INVALID", self.api.task.destroy, t, params=["task", t])
        self.assertXapiError("HANDLE_INVALID", self.api.task.cancel, t, params=["task", t])

    def test_task_counts_follow(self):
        before = len(self.api.task.get_all())
        ts = [self.api.task.create("count-%d" % i, "") for i in range(5)]
        self.assertEqual(len(self.api.task.get_all()), before + 5)
        self.assertEqual(len(self.api.task.get_all_records()), before + 5)
        res = getattr(self.api.event, "from")(["pool"], "", 0.0)
        self.assertEqual(res["valid_ref_counts"]["task"], before + 5)
        for t in ts:
            self.api.task.set_status(t, "success")
            self.api.task.destroy(t)
        self.assertEqual(len(self.api.task.get_all()), before)

    def test_task_ro_fields_have_no_generic_setters(self):
        t = self.api.task.create("ro", "")
        try:
            for name, v in (("task.set_name_label", "x"), ("task.set_created", "20200101T00:00:00Z"),
                            ("task.set_finished", "20200101T00:00:00Z"), ("task.set_subtasks", [])):
                with self.subTest(method=name):
                    self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.srv.call, name, self.srv.session, t, v,
                                         params=[name])
        finally:
            self.api.task.set_status(t, "success")
            self.api.task.destroy(t)


if __name__ == "__main__":
    harness.main()
