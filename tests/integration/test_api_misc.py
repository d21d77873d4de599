"""Small host, VM and message calls as xapi answers them: local time,
memory overheads (xapi's HVM model), allowed operations recomputed,
message.create/get/get_since/destroy_many, the calls xapi itself answers
NOT_IMPLEMENTED, and Workload Balancing on a pool that never has one."""

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EPOCH = "19700101T00:00:00Z"


def parse_time(s):
    return datetime.datetime.strptime(s.rstrip("Z"), "%Y%m%dT%H:%M:%S")


class ApiMisc(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.api.host.get_all()[0]
        cls.pool = cls.api.pool.get_all()[0]

    def test_server_localtime(self):
        utc = parse_time(self.api.host.get_servertime(self.host))
        local = parse_time(self.api.host.get_server_localtime(self.host))
        offset = datetime.datetime.now().astimezone().utcoffset()
        self.assertLess(abs((local - utc - offset).total_seconds()), 5)
        self.assertXapiError("HANDLE_INVALID", self.api.host.get_server_localtime, harness.NULL_REF)

    def test_host_memory_overhead_is_the_records(self):
        self.assertEqual(int(self.api.host.compute_memory_overhead(self.host)),
                         int(self.api.host.get_memory_overhead(self.host)))

    def test_vm_memory_overhead(self):
        vm = self.new_vm("overhead-vm", provision=False)
        try:
            self.api.VM.set_memory_limits(vm, str(256 * harness.MiB), str(256 * harness.MiB),
                                          str(256 * harness.MiB), str(256 * harness.MiB))
            self.api.VM.set_VCPUs_max(vm, "2")
            self.api.VM.set_HVM_shadow_multiplier(vm, 1.0)
            # 1 + 1 MiB, shadow ceil((256*2 + 2*256) pages / 256) = 4 MiB, 38*2 pages → 1 MiB
            self.assertEqual(int(self.api.VM.compute_memory_overhead(vm)), 7 * harness.MiB)
            self.api.VM.set_HVM_shadow_multiplier(vm, 2.0)
            self.assertEqual(int(self.api.VM.compute_memory_overhead(vm)), 11 * harness.MiB)
        finally:
            self.destroy_vm(vm)

    def test_update_allowed_operations(self):
        vm = self.new_vm("allowed-vm", provision=False)
        try:
            before = sorted(self.api.VM.get_allowed_operations(vm))
            self.api.VM.update_allowed_operations(vm)
            self.assertEqual(sorted(self.api.VM.get_allowed_operations(vm)), before)
            self.assertIn("start", before)
        finally:
            self.destroy_vm(vm)
        self.assertXapiError("HANDLE_INVALID", self.api.VM.update_allowed_operations, harness.NULL_REF)

    def test_messages(self):
        vm = self.new_vm("msg-vm", provision=False)
        try:
            u = self.api.VM.get_uuid(vm)
            m1 = self.api.message.create("TEST_ONE", "3", "VM", u, "first")
            rec = self.api.message.get_record(m1)
            self.assertEqual((rec["name"], rec["cls"], rec["obj_uuid"], rec["body"], int(rec["priority"])),
                             ("TEST_ONE", "VM", u, "first", 3))
            hu = self.api.host.get_uuid(self.host)
            m2 = self.api.message.create("TEST_TWO", "5", "Host", hu, "second")
            self.assertXapiError("UUID_INVALID", self.api.message.create, "X", "1", "VM", "nope", "",
                                 params=["VM", "nope"])
            since = self.api.message.get_since(EPOCH)
            self.assertIn(m1, since)
            self.assertIn(m2, since)
            self.assertEqual(since[m1]["body"], "first")
            only = self.api.message.get("VM", u, EPOCH)
            self.assertEqual(list(only), [m1])
            # strictly after: a time in the future gives nothing
            self.assertEqual(self.api.message.get_since("20991231T00:00:00Z"), {})
            self.assertXapiError("HANDLE_INVALID", self.api.message.destroy_many, [m1, harness.NULL_REF])
            self.assertIn(m1, self.api.message.get_all())
            self.api.message.destroy_many([m1, m2, m1])
            left = self.api.message.get_all()
            self.assertNotIn(m1, left)
            self.assertNotIn(m2, left)
        finally:
            self.destroy_vm(vm)

    def test_xapis_own_not_implemented(self):
        self.assertXapiError("NOT_IMPLEMENTED", self.api.host.dmesg_clear, self.host, params=["dmesg_clear"])
        self.assertXapiError("NOT_IMPLEMENTED", self.api.host.get_log, self.host, params=["get_log"])
        self.assertXapiError("NOT_IMPLEMENTED", self.api.host.list_methods, params=["list_method"])

    def test_wlb_never_initialized(self):
        for fn, args in ((self.api.pool.retrieve_wlb_configuration, ()),
                         (self.api.pool.retrieve_wlb_recommendations, ()),
                         (self.api.pool.send_wlb_configuration, ({"k": "v"},)),
                         (self.api.pool.deconfigure_wlb, ()),
                         (self.api.host.retrieve_wlb_evacuate_recommendations, (self.host,))):
            self.assertXapiError("WLB_NOT_INITIALIZED", fn, *args, params=[])
        vm = self.api.VM.get_all()[0]
        self.assertXapiError("WLB_NOT_INITIALIZED", self.api.VM.retrieve_wlb_recommendations, vm)
        self.assertXapiError("HANDLE_INVALID", self.api.VM.retrieve_wlb_recommendations, harness.NULL_REF)
        self.assertXapiError("WLB_CONNECTION_REFUSED", self.api.pool.initialize_wlb,
                             "wlb.example:8012", "u", "p", "root", "pw")
        self.assertEqual(self.api.pool.get_wlb_url(self.pool), "")


if __name__ == "__main__":
    harness.main()
