"""Features this host has no hardware or service for, answered as xapi
answers them on such a host: the free edition's licence calls, update
repositories kept but none enabled, GPU and USB groups kept as records with
no PGPU or PUSB behind them, SR-IOV on PIFs without the capability, PVS
without Open vSwitch, clustering without its daemon, and the SDN controller
kept as Xen Orchestra's plugin registers it."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class ApiAbsent(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.api.host.get_all()[0]
        cls.pool = cls.api.pool.get_all()[0]

    def test_licensing_free_edition(self):
        edition = self.api.host.get_edition(self.host)
        self.assertEqual(self.api.pool.get_license_state(self.pool), {"edition": edition, "expiry": "never"})
        self.api.host.apply_edition(self.host, edition, False)
        self.api.pool.apply_edition(self.pool, edition)
        self.assertXapiError("INVALID_EDITION", self.api.host.apply_edition, self.host, "enterprise", False,
                             params=["enterprise"])
        self.assertXapiError("INVALID_EDITION", self.api.pool.apply_edition, self.pool, "premium")
        self.assertXapiError("LICENSE_PROCESSING_ERROR", self.api.host.license_add, self.host, "not base64!")
        self.assertXapiError("LICENSE_FILE_DEPRECATED", self.api.host.license_add, self.host, "bGljZW5jZQ==")
        self.api.host.license_remove(self.host)
        self.assertEqual(self.api.host.get_edition(self.host), edition)

    def test_repositories_and_no_updates(self):
        self.assertXapiError("NO_REPOSITORY_ENABLED", self.api.pool.sync_updates, self.pool, False, "", "")
        self.assertXapiError("NO_REPOSITORY_ENABLED", self.api.pool.check_update_readiness, self.pool, False)
        self.assertXapiError("NO_REPOSITORY_ENABLED", self.api.host.apply_updates, self.host, "")
        self.assertXapiError("INVALID_BASE_URL", self.api.Repository.introduce, "r", "", "ftp://x/", "http://x/",
                             True, "", params=["ftp://x/"])
        repo = self.api.Repository.introduce("base", "d", "http://127.0.0.1/base", "http://127.0.0.1/src",
                                             True, "")
        self.assertEqual(self.api.Repository.get_binary_url(repo), "http://127.0.0.1/base")
        self.assertXapiError("REPOSITORY_ALREADY_EXISTS", self.api.Repository.introduce, "base", "",
                             "http://127.0.0.1/other", "http://127.0.0.1/src", True, "", params=[repo])
        self.api.pool.add_repository(self.pool, repo)
        self.assertEqual(self.api.pool.get_repositories(self.pool), [repo])
        self.assertXapiError("REPOSITORY_IS_IN_USE", self.api.Repository.forget, repo)
        self.api.pool.remove_repository(self.pool, repo)
        self.assertEqual(self.api.pool.get_repositories(self.pool), [])
        self.api.Repository.forget(repo)
        self.assertEqual(self.api.Repository.get_all(), [])

        self.assertXapiError("INVALID_REPOSITORY_PROXY_URL", self.api.pool.configure_repository_proxy,
                             self.pool, "nope", "", "")
        self.api.pool.configure_repository_proxy(self.pool, "http://127.0.0.1:3128", "u", "pw")
        rec = self.api.pool.get_record(self.pool)
        self.assertEqual((rec["repository_proxy_url"], rec["repository_proxy_username"]),
                         ("http://127.0.0.1:3128", "u"))
        self.assertEqual(self.api.secret.get_value(rec["repository_proxy_password"]), "pw")
        self.api.pool.disable_repository_proxy(self.pool)
        self.assertEqual(self.api.pool.get_repository_proxy_url(self.pool), "")
        self.assertEqual(self.api.pool.get_repository_proxy_password(self.pool), harness.NULL_REF)

        self.assertXapiError("INVALID_UPDATE_SYNC_DAY", self.api.pool.configure_update_sync, self.pool,
                             "weekly", "7", params=["7"])
        self.api.pool.configure_update_sync(self.pool, "weekly", "3")
        self.assertEqual(self.api.pool.get_update_sync_frequency(self.pool), "weekly")
        self.assertEqual(int(self.api.pool.get_update_sync_day(self.pool)), 3)
        self.assertXapiError("HANDLE_INVALID", self.api.pool_update.apply, harness.NULL_REF, self.host)

    def test_guest_agent_config_and_extensions(self):
        self.api.pool.add_to_guest_agent_config(self.pool, "auto_update_enabled", "true")
        self.assertEqual(self.api.pool.get_guest_agent_config(self.pool), {"auto_update_enabled": "true"})
        self.assertXapiError("INVALID_VALUE", self.api.pool.add_to_guest_agent_config, self.pool, "a b", "c")
        self.api.pool.remove_from_guest_agent_config(self.pool, "auto_update_enabled")
        self.assertEqual(self.api.pool.get_guest_agent_config(self.pool), {})
        self.assertFalse(self.api.pool.has_extension(self.pool, "Host.ext"))
        self.assertFalse(self.api.host.has_extension(self.host, "Host.ext"))
        self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.api.host.call_extension, self.host,
                             '{"jsonrpc":"2.0","method":"Host.ext","params":[],"id":1}', params=["Host.ext"])
        self.assertXapiError("MESSAGE_REMOVED", self.api.pool.test_archive_target, self.pool, {})
        sr = self.api.pool.get_default_SR(self.pool)
        self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.api.LVHD.enable_thin_provisioning, self.host, sr,
                             "0", "0", params=["LVHD.enable_thin_provisioning"])

    def test_gpu_and_usb_groups(self):
        g = self.api.GPU_group.create("gpus", "none here", {"k": "v"})
        self.assertEqual(self.api.GPU_group.get_name_label(g), "gpus")
        self.assertXapiError("GPU_GROUP_CONTAINS_NO_PGPUS", self.api.GPU_group.get_remaining_capacity, g,
                             harness.NULL_REF, params=[g])
        vm = self.new_vm("gpu-vm", provision=False)
        try:
            self.assertXapiError("INVALID_VALUE", self.api.VGPU.create, vm, g, "0", {}, harness.NULL_REF)
            u = self.api.USB_group.create("usb", "", {})
            vusb = self.api.VUSB.create(vm, u, {})
            self.assertEqual(self.api.VUSB.get_USB_group(vusb), u)
            self.assertXapiError("USB_GROUP_CONFLICT", self.api.VUSB.create, vm, u, {})
            self.assertXapiError("USB_GROUP_CONTAINS_VUSB", self.api.USB_group.destroy, u, params=[vusb])
            self.assertXapiError("DEVICE_ALREADY_DETACHED", self.api.VUSB.unplug, vusb)
            self.api.VUSB.destroy(vusb)
            self.api.USB_group.destroy(u)
        finally:
            self.destroy_vm(vm)
        self.api.GPU_group.destroy(g)
        self.assertEqual(self.api.GPU_group.get_all(), [])
        self.api.PUSB.scan(self.host)
        self.assertEqual(self.api.PUSB.get_all(), [])
        self.assertXapiError("HANDLE_INVALID", self.api.PGPU.enable_dom0_access, harness.NULL_REF)

    def test_sriov_pvs_cluster(self):
        pif = self.api.PIF.get_all()[0]
        net = self.api.PIF.get_network(pif)
        self.assertXapiError("PIF_IS_NOT_SRIOV_CAPABLE", self.api.network_sriov.create, pif, net, params=[pif])
        self.assertXapiError("OPENVSWITCH_NOT_ACTIVE", self.api.PVS_site.introduce, "site", "", "uuid")
        self.assertXapiError("INVALID_CLUSTER_STACK", self.api.Cluster.create, pif, "pacemaker", True, 20.0, 1.0,
                             params=["pacemaker"])
        self.assertXapiError("INVALID_VALUE", self.api.Cluster.pool_create, net, "corosync", 0.5, 1.0,
                             params=["token_timeout", "0.5"])
        self.assertXapiError("HANDLE_INVALID", self.api.Cluster_host.create, harness.NULL_REF, self.host, pif)

    def test_sdn_controller_stored(self):
        self.assertXapiError("INVALID_VALUE", self.api.SDN_controller.introduce, "ssl", "not-an-ip", "0")
        self.assertXapiError("INVALID_VALUE", self.api.SDN_controller.introduce, "pssl", "10.0.0.1", "0")
        sdn = self.api.SDN_controller.introduce("ssl", "127.0.0.1", "0")
        rec = self.api.SDN_controller.get_record(sdn)
        self.assertEqual((rec["protocol"], rec["address"], int(rec["port"])), ("ssl", "127.0.0.1", 6632))
        self.assertXapiError("OPERATION_NOT_ALLOWED", self.api.SDN_controller.introduce, "pssl", "", "0")
        self.api.SDN_controller.forget(sdn)
        self.assertEqual(self.api.SDN_controller.get_all(), [])

    def test_telemetry_uuid_and_nvram(self):
        old = self.api.pool.get_telemetry_uuid(self.pool)
        self.api.pool.reset_telemetry_uuid(self.pool)
        new = self.api.pool.get_telemetry_uuid(self.pool)
        self.assertNotEqual(new, old)
        value = self.api.secret.get_value(new)
        self.assertRegex(value, r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        if old != harness.NULL_REF:
            self.assertXapiError("HANDLE_INVALID", self.api.secret.get_value, old)
        self.api.pool.reset_telemetry_uuid(self.pool)
        self.assertXapiError("HANDLE_INVALID", self.api.secret.get_value, new)

        vm = self.new_vm("nvram-vm", provision=False)
        try:
            self.api.VM.add_to_NVRAM(vm, "EFI-variables", "AAAA")
            self.assertEqual(self.api.VM.get_NVRAM(vm), {"EFI-variables": "AAAA"})
            self.assertXapiError("MAP_DUPLICATE_KEY", self.api.VM.add_to_NVRAM, vm, "EFI-variables", "B")
            self.api.VM.remove_from_NVRAM(vm, "EFI-variables")
            self.assertEqual(self.api.VM.get_NVRAM(vm), {})
        finally:
            self.destroy_vm(vm)


if __name__ == "__main__":
    harness.main()
