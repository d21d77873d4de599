"""Live migration within a pool of two lab hosts (QEMU backend): the tiny
guest counting on its serial console moves host1 -> host2 by
VM.pool_migrate through the master, back by `xe vm-migrate host=`, and off
a disabled host by `xe host-evacuate`; its counter never restarts, one QEMU
runs it at any time, its records follow (resident_on, domid, metrics).
Refusals with xapi's errors leave it running where it was: the host it is
on, a disabled host, a template, a halted VM, a disk on a local SR.

The memory stream between the hosts is TLS (a capture on the lab's switch
sees a TLS handshake and never QEMU's "QEVM" stream), plain only when the
network it goes over is marked other_config:insecure_migration=true.

A client that talks to the master only migrates a VM resident on the member
(the master forwards the call there with its task): the master's task shows
the memory's progress, and its task.cancel stops a migration mid-way, the
VM running on the member as before and nothing left on the destination.
The member sends at its configured migration-bandwidth (MiB/s), so the
migration of the guest's few dozen MiB lasts long enough to watch."""

import os
import re
import time
import unittest

import guest
import harness
import lab
import pool_util
from harness import XapiError
from pool_util import wait_for

MiB = 1 << 20
LOOP = pool_util.COUNTER + " &"
# the member's cap on a migration's stream (its xenond.conf)
BANDWIDTH_MIB = 32
# 32 MiB of data in the guest's tmpfs: memory that is not zero pages
FILL = ("yes 0123456789abcdef | head -c 1048576 > /tmp/s; cat /tmp/s /tmp/s /tmp/s /tmp/s > /tmp/t",
        "cat /tmp/t /tmp/t /tmp/t /tmp/t > /tmp/u; cat /tmp/u /tmp/u > /tmp/d; echo FILL-$((1+1))")
# rewrites it again and again until /tmp/stop appears
DIRTY = "while [ ! -e /tmp/stop ]; do cat /tmp/u /tmp/u > /tmp/d; done &"


class PoolMigrateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kernel = guest.build()
        cls.lab = lab.Lab(2).make()
        for h in cls.lab.hosts:
            guest.provide(h.data_dir, cls.kernel)
            h.start(backend="qemu", config="migration-bandwidth = %d\n" % BANDWIDTH_MIB if h.index else None)
        cls.api = cls.lab.hosts[0].server.api
        cls.ref = pool_util.join(cls.lab)

    @classmethod
    def tearDownClass(cls):
        pool_util.halt_vms(cls.api)
        cls.lab.close()
        guest._kill_leftover_qemus()

    def new_vm(self, name, affinity):
        mem = 256 * MiB
        return self.api.VM.create({
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": affinity, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": self.kernel, "PV_ramdisk": "initrd.img",
            "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})

    def host_of(self, ref):
        return [h for h in self.lab.hosts if self.ref[h.address] == ref][0]

    def serial(self, vm):
        return pool_util.serial_log(self.host_of(self.api.VM.get_resident_on(vm)), self.api.VM.get_uuid(vm))

    def console(self, vm, line):
        h = self.host_of(self.api.VM.get_resident_on(vm))
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(h.data_dir, "run", "vm", self.api.VM.get_uuid(vm), "serial.sock"))
        s.sendall(line.encode() + b"\n")
        time.sleep(0.2)
        s.close()

    def shell_ready(self, vm):
        """Types until the guest's shell answers (input typed too early is lost)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.console(vm, "echo SH-$((40+2))")
            t = time.monotonic()
            while time.monotonic() < t + 2:
                if "SH-42" in self.serial(vm):
                    return
                time.sleep(0.05)
        self.fail("the guest's shell does not answer")

    def counts(self, vm):
        return pool_util.counts(self.serial(vm))

    def assert_moved(self, vm, to, last_before, typed_before=5):
        a = self.api
        uuid = a.VM.get_uuid(vm)
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[to.address])
        self.assertEqual(a.VM.get_power_state(vm), "Running")
        self.assertEqual(a.VM.get_current_operations(vm), {})
        self.assertEqual(len(guest.qemu_of_uuid(uuid)), 1, "one QEMU runs the VM")
        self.assertTrue(guest.qemus_in(os.path.join(to.data_dir, "run")))
        # the console's history came along, and the counter goes on from it
        self.assertIn(guest.READY, self.serial(vm))
        wait_for(lambda: self.counts(vm) and self.counts(vm)[-1] >= last_before + 3, 15,
                 "the counter on the new host")
        after = self.counts(vm)
        self.assertIn(last_before, after)
        # (the first lines, and those while a line was typed, may share a
        # line with the shell's prompt)
        after = [n for n in after if n >= typed_before]
        self.assertEqual(after, list(range(after[0], after[0] + len(after))), "the counter never restarts")
        m = a.VM.get_metrics(vm)
        self.assertEqual(int(a.VM_metrics.get_memory_actual(m)), 256 * MiB)

    # ---- a VM on the member, migrated by a client of the master only ----

    member_vm = None

    def on_member(self):
        """The VM running on h2 with its counter going and 32 MiB of data in
        its tmpfs (booted once for the tests that need it)."""
        a = self.api
        h1, h2 = self.lab.hosts
        cls = type(self)
        if cls.member_vm is None:
            vm = self.new_vm("on-member", self.ref[h2.address])
            a.VM.start(vm, False, False)  # through the master, placed by affinity
            cls.member_vm = vm
            wait_for(lambda: guest.READY in self.serial(vm), 90, "the guest ready")
            self.shell_ready(vm)
            for line in FILL:
                self.console(vm, line)
            wait_for(lambda: "FILL-2" in self.serial(vm), 60, "the guest's tmpfs filled")
            self.console(vm, LOOP)
            wait_for(lambda: len(self.counts(vm)) >= 5, 15, "the counter")
        vm = cls.member_vm
        if a.VM.get_resident_on(vm) != self.ref[h2.address]:
            a.VM.pool_migrate(vm, self.ref[h2.address], {"live": "true"})
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h2.address])
        return vm

    def halt_member_vm(self):
        type(self).member_vm, vm = None, type(self).member_vm
        if vm is not None:
            self.api.VM.hard_shutdown(vm)

    def pending_tasks(self):
        a = self.api
        return [t for t in a.task.get_all() if a.task.get_status(t) in ("pending", "cancelling")]

    def member_tasks(self):
        """The tasks on h2 (a host's own records), asked under the pool's
        session as the master asks it."""
        h2 = self.lab.hosts[1]
        with open(os.path.join(h2.data_dir, "pool-secret")) as f:
            return h2.server.api_for("OpaqueRef:" + f.read().strip()).task.get_all()

    def assert_cancelled_on_member(self, vm, task, pid, record):
        """The master's task cancelled; the VM running on h2 in its QEMU pid
        as before, its record as it was; nothing of it on h1."""
        a = self.api
        h1, h2 = self.lab.hosts
        uuid = record["uuid"]
        self.assertEqual(a.task.get_status(task), "cancelled")
        self.assertEqual(a.task.get_error_info(task), ["TASK_CANCELLED", task])
        self.assertLess(a.task.get_progress(task), 1)
        # still running on the member, in the same QEMU, the guest going on
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h2.address])
        self.assertEqual(a.VM.get_power_state(vm), "Running")
        self.assertEqual(a.VM.get_current_operations(vm), {})
        self.assertEqual(guest.qemu_of_uuid(uuid), [pid], "one QEMU runs it: the member's")
        last = self.counts(vm)[-1]
        wait_for(lambda: self.counts(vm)[-1] >= last + 3, 15, "the counter going on")
        # nothing at the destination, the record as it was
        self.assertFalse(os.path.exists(os.path.join(h1.data_dir, "run", "vm", uuid)), "its files on h1")
        after = a.VM.get_record(vm)
        self.assertEqual({k: v for k, v in after.items() if v != record.get(k)}, {})
        self.assertEqual(self.pending_tasks(), [])
        self.assertEqual(self.member_tasks(), [], "the member's task of the forwarded call ended and went")

    def test_forwarded_migrate_cancel(self):
        """task.cancel on the master's task of a migration forwarded to the
        member, mid-way and at once: cancelled, the VM runs on where it
        was, nothing at the destination."""
        a = self.api
        h1, h2 = self.lab.hosts
        vm = self.on_member()
        uuid = a.VM.get_uuid(vm)
        pid = guest.read_pid(os.path.join(h2.data_dir, "run", "vm", uuid))
        self.assertTrue(pid and guest.qemu_alive(pid, uuid))
        record = a.VM.get_record(vm)
        # pages dirtied faster than the member may send them: the migration
        # cannot end before the cancel
        self.console(vm, "rm -f /tmp/stop; " + DIRTY)
        try:
            task = a.Async.VM.pool_migrate(vm, self.ref[h1.address], {"live": "true"})
            # the memory is on its way: the destination's QEMU waits for it
            seen = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                st, p = a.task.get_status(task), a.task.get_progress(task)
                seen.append(p)
                if st != "pending" or p > 0:
                    break
                time.sleep(0.02)
            self.assertEqual(a.task.get_status(task), "pending", a.task.get_error_info(task))
            self.assertGreater(seen[-1], 0, "no progress within 60 s")
            self.assertIn(uuid, [u for _, u in guest.qemus_in(os.path.join(h1.data_dir, "run"))],
                          "the destination's QEMU waits")
            t0 = time.monotonic()
            a.task.cancel(task)
            wait_for(lambda: a.task.get_status(task) not in ("pending", "cancelling"), 30, "the cancel")
            took = time.monotonic() - t0
        finally:
            self.console(vm, "touch /tmp/stop")
            if a.task.get_status(task) == "pending":  # (a failure above: the VM stays put)
                a.task.cancel(task)
                wait_for(lambda: a.task.get_status(task) not in ("pending", "cancelling"), 30, "the cancel")
        self.assert_cancelled_on_member(vm, task, pid, record)

        # cancelled as soon as asked for, before anything moved
        task = a.Async.VM.pool_migrate(vm, self.ref[h1.address], {"live": "true"})
        t1 = time.monotonic()
        a.task.cancel(task)
        wait_for(lambda: a.task.get_status(task) not in ("pending", "cancelling"), 30, "the cancel")
        took_at_once = time.monotonic() - t1
        self.assert_cancelled_on_member(vm, task, pid, record)
        print("  forwarded VM.pool_migrate cancelled at progress %.3f in %.2f s; at once in %.2f s"
              % (seen[-1], took, took_at_once))

    def test_forwarded_migrate_progress(self):
        """Async.VM.pool_migrate through the master of a VM on the member:
        the master's task goes from 0 through values between to 1."""
        a = self.api
        h1, h2 = self.lab.hosts
        vm = self.on_member()
        self.addCleanup(self.halt_member_vm)  # the last test of it (by name): the others count on h1 empty
        last = self.counts(vm)[-1]
        t0 = time.monotonic()
        task = a.Async.VM.pool_migrate(vm, self.ref[h1.address], {"live": "true"})
        self.assertEqual(a.task.get_resident_on(task), self.ref[h1.address], "the caller's task is the master's")
        samples, on_member = [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st, p = a.task.get_status(task), a.task.get_progress(task)
            samples.append((st, p))
            if st != "pending":
                break
            if on_member is None and 0 < p < 1:
                on_member = self.member_tasks()  # the call runs there, under its own task
            time.sleep(0.02)
        took = time.monotonic() - t0
        self.assertEqual(a.task.get_status(task), "success", a.task.get_error_info(task))
        between = sorted({p for st, p in samples if st == "pending" and 0 < p < 1})
        self.assertTrue(between, "no progress between 0 and 1 seen: %s" % samples)
        self.assertEqual(len(on_member), 1, "the member's task of the forwarded call")
        progress = [p for _, p in samples]
        self.assertEqual(progress, sorted(progress), "the progress never goes back")
        self.assertEqual(a.task.get_progress(task), 1.0)
        self.assertEqual(a.task.get_error_info(task), [])
        self.assertEqual(a.task.get_result(task), "<value></value>")  # void, as xapi writes it
        self.assert_moved(vm, h1, last, typed_before=last)
        self.assertFalse(any(u == a.VM.get_uuid(vm) for _, u in guest.qemus_in(os.path.join(h2.data_dir, "run"))))
        self.assertEqual(self.pending_tasks(), [])
        self.assertEqual(self.member_tasks(), [], "the member's task of the forwarded call ended and went")
        print("  forwarded VM.pool_migrate h2 -> h1 in %.2f s; the master's task showed %d values between 0 "
              "and 1: %s" % (took, len(between), " ".join("%.2f" % p for p in between)))

    def test_pool_migrate_and_evacuate(self):
        a = self.api
        h1, h2 = self.lab.hosts
        vm = self.new_vm("mover", self.ref[h1.address])
        a.VM.start(vm, False, False)
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h1.address])
        wait_for(lambda: guest.READY in self.serial(vm), 90, "the guest ready")
        self.shell_ready(vm)
        self.console(vm, LOOP)
        wait_for(lambda: len(self.counts(vm)) >= 5, 15, "the counter")
        domid = a.VM.get_domid(vm)

        # refusals first: each leaves it running on h1
        for args, code in (((vm, self.ref[h1.address], {}), "OPERATION_NOT_ALLOWED"),
                           ((vm, self.ref[h2.address], {"live": "maybe"}), "INVALID_VALUE")):
            with self.assertRaises(XapiError) as cm:
                a.VM.pool_migrate(*args)
            self.assertEqual(cm.exception.code, code)
        a.host.disable(self.ref[h2.address])
        with self.assertRaises(XapiError) as cm:
            a.VM.pool_migrate(vm, self.ref[h2.address], {"live": "true"})
        self.assertEqual(cm.exception.code, "HOST_DISABLED")
        a.host.enable(self.ref[h2.address])
        tpl = [v for v in a.VM.get_all() if a.VM.get_is_a_template(v)][0]
        with self.assertRaises(XapiError) as cm:
            a.VM.pool_migrate(tpl, self.ref[h2.address], {})
        self.assertEqual(cm.exception.code, "VM_IS_TEMPLATE")
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h1.address])
        self.assertFalse(guest.qemus_in(os.path.join(h2.data_dir, "run")), "nothing left on h2")

        # h1 -> h2 through the master, as a task
        last = self.counts(vm)[-1]
        t0 = time.monotonic()
        task = a.Async.VM.pool_migrate(vm, self.ref[h2.address], {"live": "true"})
        wait_for(lambda: a.task.get_status(task) != "pending", 60, "pool_migrate's task")
        took = time.monotonic() - t0
        self.assertEqual(a.task.get_status(task), "success", a.task.get_error_info(task))
        self.assert_moved(vm, h2, last)
        self.assertNotEqual(a.VM.get_consoles(vm), [])
        self.assertFalse(guest.qemus_in(os.path.join(h1.data_dir, "run")), "nothing left on h1")
        print("  VM.pool_migrate h1 -> h2: %.2f s (domid %s -> %s)" % (took, domid, a.VM.get_domid(vm)))

        # a QEMU that came in over TLS hands the guest to a fresh one on
        # its host (its migration parameters named the server's credentials)
        last, domid = self.counts(vm)[-1], a.VM.get_domid(vm)
        a.VM.restart_device_models(vm)
        self.assertNotEqual(a.VM.get_domid(vm), domid)
        self.assert_moved(vm, h2, last)

        # back with xe
        last = self.counts(vm)[-1]
        r = h1.server.xe("vm-migrate", "uuid=" + a.VM.get_uuid(vm),
                         "host-uuid=" + a.host.get_uuid(self.ref[h1.address]), "live=true", timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_moved(vm, h1, last)

        # maintenance of h1: disabled, then emptied
        last = self.counts(vm)[-1]
        h1uuid = a.host.get_uuid(self.ref[h1.address])
        r = h1.server.xe("host-disable", "uuid=" + h1uuid)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(a.host.get_vms_which_prevent_evacuation(self.ref[h1.address]), {})
        with self.assertRaises(XapiError) as cm:
            a.host.reboot(self.ref[h1.address])
        self.assertEqual(cm.exception.code, "HOST_IN_USE")
        r = h1.server.xe("host-evacuate", "uuid=" + h1uuid, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_moved(vm, h2, last)
        r = h1.server.xe("host-enable", "uuid=" + h1uuid)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        a.VM.hard_shutdown(vm)
        self.assertEqual(a.VM.get_power_state(vm), "Halted")
        with self.assertRaises(XapiError) as cm:
            a.VM.pool_migrate(vm, self.ref[h1.address], {})
        self.assertEqual(cm.exception.code, "VM_BAD_POWER_STATE")

    def test_evacuate_in_batches(self):
        """host.evacuate's batch size: that many VMs move at once, no more;
        bad input leaves every VM where it was."""
        a = self.api
        h1, h2 = self.lab.hosts
        vms = [self.new_vm("batch%d" % i, self.ref[h1.address]) for i in range(3)]
        for vm in vms:
            a.VM.start(vm, False, False)
        wait_for(lambda: all(guest.READY in self.serial(vm) for vm in vms), 120, "the guests ready")
        h1ref = self.ref[h1.address]
        h1uuid = a.host.get_uuid(h1ref)
        a.host.disable(h1ref)
        try:
            for args in (["batch-size=two"], ["batch-size=-1"], ["network-uuid=nonexistent"]):
                r = h1.server.xe("host-evacuate", "uuid=" + h1uuid, *args)
                self.assertNotEqual(r.returncode, 0, args)
            with self.assertRaises(XapiError) as cm:
                a.host.evacuate(h1ref, "OpaqueRef:nonexistent", 2)
            self.assertEqual(cm.exception.code, "HANDLE_INVALID")
            self.assertEqual({a.VM.get_resident_on(vm) for vm in vms}, {h1ref})
            t0 = time.monotonic()
            task = a.Async.host.evacuate(h1ref, "OpaqueRef:NULL", 2)
            most = 0
            while a.task.get_status(task) == "pending" and time.monotonic() - t0 < 120:
                moving = sum(1 for vm in vms if "pool_migrate" in a.VM.get_current_operations(vm).values())
                most = max(most, moving)
                time.sleep(0.02)
            took = time.monotonic() - t0
            self.assertEqual(a.task.get_status(task), "success", a.task.get_error_info(task))
            self.assertEqual(most, 2, "VMs migrating at once with a batch of 2")
            self.assertEqual(float(a.task.get_progress(task)), 1.0)
        finally:
            a.host.enable(h1ref)
        for vm in vms:
            self.assertEqual(a.VM.get_resident_on(vm), self.ref[h2.address])
            self.assertEqual(len(guest.qemu_of_uuid(a.VM.get_uuid(vm))), 1)
        self.assertFalse(guest.qemus_in(os.path.join(h1.data_dir, "run")), "nothing left on h1")
        print("  host.evacuate of 3 VMs, 2 at once: %.2f s" % took)
        for vm in vms:
            a.VM.hard_shutdown(vm)

    def capture_migration(self, vm, to, opts):
        """VM.pool_migrate of vm to host to with opts while tcpdump listens
        on the lab's switch: the first bytes the source's QEMU sent on the
        connection that carried the most (the memory stream)."""
        last = self.counts(vm)[-1]
        with self.lab.capture() as cap:
            self.api.VM.pool_migrate(vm, self.ref[to.address], opts)
        self.assert_moved(vm, to, last, typed_before=last)
        flows = {k: v for k, v in cap.flows.items() if k[1].startswith(to.address + ":")}
        self.assertTrue(flows, "no connection to the destination seen")
        (client, server), stream = max(flows.items(), key=lambda kv: len(kv[1]))
        # (200 bytes of each packet are captured: enough)
        self.assertGreater(len(stream), 10000, "the stream %s -> %s is too small to be the memory" % (client, server))
        return stream

    def test_stream_tls_or_plain(self):
        """The memory stream is TLS between the hosts; plain only over a
        network the pool marks for it; the network option names the address
        the destination listens on."""
        if not lab.TCPDUMP:
            self.skipTest("needs tcpdump")
        a = self.api
        h1, h2 = self.lab.hosts
        vm = self.new_vm("stream", self.ref[h1.address])
        a.VM.start(vm, False, False)
        self.addCleanup(a.VM.hard_shutdown, vm)
        wait_for(lambda: guest.READY in self.serial(vm), 90, "the guest ready")
        self.shell_ready(vm)
        self.console(vm, LOOP)
        wait_for(lambda: len(self.counts(vm)) >= 5, 15, "the counter")
        mgmt = [a.PIF.get_network(p) for p in a.PIF.get_all()
                if a.PIF.get_host(p) == self.ref[h2.address] and a.PIF.get_management(p)][0]

        # TLS by default: a handshake (a TLS record of type 22, version 3.x)
        # and never QEMU's own stream, whose first word is "QEVM"
        stream = self.capture_migration(vm, h2, {"live": "true"})
        self.assertEqual(stream[:2], b"\x16\x03", "the stream begins %r" % stream[:16])
        self.assertNotIn(b"QEVM", stream)

        # the destination's management network marked: plain, back to h1
        a.network.add_to_other_config(mgmt, "insecure_migration", "true")
        self.addCleanup(a.network.remove_from_other_config, mgmt, "insecure_migration")
        mgmt1 = [a.PIF.get_network(p) for p in a.PIF.get_all()
                 if a.PIF.get_host(p) == self.ref[h1.address] and a.PIF.get_management(p)][0]
        self.assertEqual(mgmt1, mgmt, "the hosts share their management network")
        stream = self.capture_migration(vm, h1, {"live": "true", "network": mgmt})
        self.assertEqual(stream[:4], b"QEVM", "the stream begins %r" % stream[:16])

        # unmarked again: TLS again
        a.network.remove_from_other_config(mgmt, "insecure_migration")
        stream = self.capture_migration(vm, h2, {"live": "true", "network": mgmt})
        self.assertEqual(stream[:2], b"\x16\x03")
        self.assertNotIn(b"QEVM", stream)
        # a network the destination has no PIF on: refused, nothing moved
        other = a.network.create({"name_label": "nowhere", "name_description": "", "MTU": "1500",
                                  "other_config": {}, "bridge": "", "managed": True, "tags": []})
        self.addCleanup(a.network.destroy, other)
        with self.assertRaises(XapiError) as cm:
            a.VM.pool_migrate(vm, self.ref[h1.address], {"live": "true", "network": other})
        self.assertEqual(cm.exception.code, "HOST_CANNOT_ATTACH_NETWORK")
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h2.address])
        self.assertFalse(any(u == a.VM.get_uuid(vm) for _, u in guest.qemus_in(os.path.join(h1.data_dir, "run"))))

    def local_sr(self, host):
        a = self.api
        return [s for s in a.SR.get_all() if not a.SR.get_shared(s) and a.SR.get_type(s) != "iso" and
                any(a.PBD.get_host(p) == self.ref[host.address] for p in a.SR.get_PBDs(s))][0]

    def wait_line(self, vm, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.serial(vm))
            if m:
                return m
            time.sleep(0.05)
        self.fail("no %r on the console within %d s" % (pattern, timeout))

    def halt_if_there(self, vm):
        try:
            if self.api.VM.get_power_state(vm) != "Halted":
                self.api.VM.hard_shutdown(vm)
        except XapiError:
            pass  # destroyed by the test

    def test_storage_motion_in_pool(self):
        """VM.migrate_send within the pool: the guest's disk moves from h1's
        local SR to h2's while the guest runs and writes its counter to it;
        the VM keeps its ref, its VBD names a new VDI on h2's SR, the old
        VDI and its image are gone from h1. Then VDI.pool_migrate through
        the master to another SR of h2, and `xe vm-migrate
        destination-sr-uuid=` back to h1's SR, plain over the network marked
        for it; the guest reads back what it wrote before the moves."""
        a = self.api
        h1, h2 = self.lab.hosts
        sr1, sr2 = self.local_sr(h1), self.local_sr(h2)
        vm = self.new_vm("sxm-in-pool", self.ref[h1.address])
        vdi = a.VDI.create({"name_label": "sxm-disk", "name_description": "", "SR": sr1,
                            "virtual_size": str(64 * MiB), "type": "user", "sharable": False, "read_only": False,
                            "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []})
        vbd = a.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False, "mode": "RW",
                            "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})
        old_uuid = a.VDI.get_uuid(vdi)
        a.VM.start(vm, False, False)
        self.addCleanup(self.halt_if_there, vm)
        uuid = a.VM.get_uuid(vm)
        wait_for(lambda: guest.READY in self.serial(vm), 90, "the guest ready")
        self.shell_ready(vm)
        # 4 MiB of random data whose checksum the guest checks on h2
        self.console(vm, "dd if=/dev/urandom of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null; echo D$((1+1))K")
        self.wait_line(vm, r"D2K")
        self.console(vm, "echo H1-$(head -c 4194304 /dev/vda | md5sum | cut -c1-32)-END")
        before = self.wait_line(vm, r"H1-([0-9a-f]{32})-END").group(1)
        # the counter, each count written to the disk as well, until
        # /tmp/stop appears (its last count on the disk before it says so)
        self.console(vm, "(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo C$i; echo $i | dd of=/dev/vda "
                         "seek=50000 conv=sync,fsync 2>/dev/null; sleep 0.2; done; echo ST$((0+1))OP) &")
        wait_for(lambda: len(self.counts(vm)) >= 5, 15, "the counter")

        # refusals first, the VM running on h1 as before: a disk left out
        # of the map on an SR h2 does not reach, a VIF map within a pool
        pif = [p for p in a.PIF.get_all() if a.PIF.get_host(p) == self.ref[h2.address] and a.PIF.get_management(p)][0]
        dest = a.host.migrate_receive(self.ref[h2.address], a.PIF.get_network(pif), {})
        self.assertEqual(dest["host"], self.ref[h2.address])
        for vdi_map, vif_map, code in (({}, {}, "VDI_NOT_IN_MAP"),
                                       ({vdi: sr2}, {"OpaqueRef:x": a.PIF.get_network(pif)}, "OPERATION_NOT_ALLOWED")):
            with self.assertRaises(XapiError) as cm:
                a.VM.assert_can_migrate(vm, dest, True, vdi_map, vif_map, {})
            self.assertEqual(cm.exception.code, code)
            with self.assertRaises(XapiError) as cm:
                a.VM.migrate_send(vm, dest, True, vdi_map, vif_map, {})
            self.assertEqual(cm.exception.code, code)
        a.VM.assert_can_migrate(vm, dest, True, {vdi: sr2}, {}, {})
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h1.address])
        vdis2 = set(a.SR.get_VDIs(sr2))

        last = self.counts(vm)[-1]
        t0 = time.monotonic()
        with self.lab.capture() as cap:
            res = a.VM.migrate_send(vm, dest, True, {vdi: sr2}, {}, {})
        took = time.monotonic() - t0
        self.assertEqual(res, vm, "the VM keeps its ref")
        self.assert_moved(vm, h2, last, typed_before=last)
        new = a.VBD.get_VDI(vbd)
        self.assertNotEqual(new, vdi)
        self.assertEqual(a.VDI.get_SR(new), sr2)
        self.assertEqual(set(a.SR.get_VDIs(sr2)) - vdis2, {new})
        self.assertEqual(int(a.VDI.get_virtual_size(new)), 64 * MiB)
        self.assertEqual(a.VDI.get_name_label(new), "sxm-disk")
        self.assertEqual(a.VDI.get_VBDs(new), [vbd])
        # nothing of it on h1: the old VDI, its image, its QEMU
        with self.assertRaises(XapiError) as cm:
            a.VDI.get_uuid(vdi)
        self.assertEqual(cm.exception.code, "HANDLE_INVALID")
        self.assertFalse([f for r, _, fs in os.walk(h1.data_dir) for f in fs if old_uuid in f],
                         "the old image is gone from h1")
        self.assertFalse(any(u == uuid for _, u in guest.qemus_in(os.path.join(h1.data_dir, "run"))))
        self.assertEqual(a.VM.get_current_operations(vm), {})
        # the streams to h2 were TLS: the disk's NBD turned TLS at its
        # first option, QEMU's own stream never in the clear
        to = [v for k, v in cap.flows.items() if k[1].startswith(h2.address + ":")]
        self.assertFalse([v for v in to if b"QEVM" in v])
        nbd = [v for v in to if b"IHAVEOPT" in v]
        self.assertTrue(nbd)
        for v in nbd:
            o = v.index(b"IHAVEOPT")
            self.assertEqual(v[o + 8:o + 12], b"\x00\x00\x00\x05")
        # VDI.pool_migrate through the master, to a second SR of h2 (the
        # call runs on h2, where the VM is)
        d = os.path.join(h2.data_dir, "sr-second")
        os.makedirs(d)
        sr3 = a.SR.create(self.ref[h2.address], {"path": d}, "0", "second", "", "ext", "", False, {})
        n = self.counts(vm)[-1]
        t1 = time.monotonic()
        moved = a.VDI.pool_migrate(new, sr3, {})
        took_vdi = time.monotonic() - t1
        self.assertEqual(a.VDI.get_SR(moved), sr3)
        self.assertEqual(a.VBD.get_VDI(vbd), moved)
        with self.assertRaises(XapiError):
            a.VDI.get_uuid(new)
        self.assertTrue([f for f in os.listdir(d) if a.VDI.get_uuid(moved) in f], os.listdir(d))
        wait_for(lambda: self.counts(vm)[-1] >= n + 3, 15, "the counter after VDI.pool_migrate")
        # back to h1's local SR with xe (h2, a member, sends it to the
        # master), over the management network marked for plain streams
        mgmt = a.PIF.get_network(pif)
        a.network.add_to_other_config(mgmt, "insecure_migration", "true")
        self.addCleanup(a.network.remove_from_other_config, mgmt, "insecure_migration")
        last = self.counts(vm)[-1]
        t2 = time.monotonic()
        with self.lab.capture() as cap:
            r = h1.server.xe("vm-migrate", "uuid=" + uuid, "host-uuid=" + a.host.get_uuid(self.ref[h1.address]),
                             "destination-sr-uuid=" + a.SR.get_uuid(sr1), timeout=120)
        took_back = time.monotonic() - t2
        a.network.remove_from_other_config(mgmt, "insecure_migration")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        to = [v for k, v in cap.flows.items() if k[1].startswith(h1.address + ":")]
        self.assertTrue([v for v in to if v.startswith(b"QEVM")], "a plain memory stream")
        nbd = [v for v in to if b"IHAVEOPT" in v]
        self.assertTrue(nbd)
        for v in nbd:
            o = v.index(b"IHAVEOPT")
            self.assertNotEqual(v[o + 8:o + 12], b"\x00\x00\x00\x05", "no STARTTLS on a plain network")
        self.assert_moved(vm, h1, last, typed_before=last)
        back = a.VBD.get_VDI(vbd)
        self.assertEqual(a.VDI.get_SR(back), sr1)
        with self.assertRaises(XapiError):
            a.VDI.get_uuid(moved)
        self.assertEqual(os.listdir(d), [], "nothing left on h2's second SR")
        self.assertFalse(any(u == uuid for _, u in guest.qemus_in(os.path.join(h2.data_dir, "run"))))
        # the guest checks its disk: the data and the last count
        self.console(vm, "touch /tmp/stop")
        self.wait_line(vm, r"ST1OP")
        self.console(vm, "echo H2-$(head -c 4194304 /dev/vda | md5sum | cut -c1-32)-END")
        self.assertEqual(self.wait_line(vm, r"H2-([0-9a-f]{32})-END").group(1), before, "the disk's data came along")
        self.console(vm, "echo D-$(dd if=/dev/vda skip=50000 count=1 2>/dev/null | head -1)-E")
        on_disk = int(self.wait_line(vm, r"D-(\d+)-E").group(1))
        # every count written reached the disk; the console's last C line
        # may share its line with the echo of "touch /tmp/stop" (the loop
        # prints before it writes), so the disk may be one count ahead
        self.assertIn(on_disk - self.counts(vm)[-1], (0, 1), "every count written reached the disk")
        print("  VM.migrate_send within the pool, 64 MiB disk h1 -> h2: %.2f s; VDI.pool_migrate on h2: %.2f s; "
              "xe vm-migrate back to h1's SR: %.2f s" % (took, took_vdi, took_back))
        a.VM.hard_shutdown(vm)
        a.VM.destroy(vm)
        a.VDI.destroy(back)
        for pbd in a.SR.get_PBDs(sr3):
            a.PBD.unplug(pbd)
        a.SR.forget(sr3)

    def test_local_disk_requires_sr(self):
        a = self.api
        h1, h2 = self.lab.hosts
        vm = self.new_vm("local-disk", self.ref[h1.address])
        # the master's own local SR: h2 has no PBD for it
        sr = [s for s in a.SR.get_all() if not a.SR.get_shared(s) and a.SR.get_type(s) != "iso" and
              any(a.PBD.get_host(p) == self.ref[h1.address] for p in a.SR.get_PBDs(s))][0]
        vdi = a.VDI.create({"name_label": "d", "name_description": "", "SR": sr, "virtual_size": str(8 * MiB),
                            "type": "user", "sharable": False, "read_only": False, "other_config": {},
                            "xenstore_data": {}, "sm_config": {}, "tags": []})
        a.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False, "mode": "RW", "type": "Disk",
                      "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
                      "qos_algorithm_params": {}})
        a.VM.start(vm, False, False)
        with self.assertRaises(XapiError) as cm:
            a.VM.pool_migrate(vm, self.ref[h2.address], {"live": "true"})
        self.assertEqual(cm.exception.code, "VM_REQUIRES_SR")
        self.assertEqual(cm.exception.params, [vm, sr])
        prevent = a.host.get_vms_which_prevent_evacuation(self.ref[h1.address])
        self.assertEqual(prevent[vm][0], "VM_REQUIRES_SR")
        with self.assertRaises(XapiError) as cm:
            a.host.evacuate(self.ref[h1.address])
        self.assertEqual(cm.exception.code, "VM_REQUIRES_SR")
        self.assertEqual(a.VM.get_resident_on(vm), self.ref[h1.address])
        self.assertEqual(a.VM.get_power_state(vm), "Running")
        self.assertFalse(guest.qemus_in(os.path.join(h2.data_dir, "run")))
        a.VM.hard_shutdown(vm)


if __name__ == "__main__":
    harness.main()
