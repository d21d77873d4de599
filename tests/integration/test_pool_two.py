"""A pool of two (lab hosts, membership configured): the master is the only
voter and keeps working alone, the other a standby holding the log. The
master killed: the standby refuses the emergency transition while it still
hears the master, then takes it (xe pool-emergency-transition-to-master,
logged in with a session of that host alone) with every write it had
received; the old master, back, is told the new master
(xe pool-emergency-reset-master) and added again by xe
pool-recover-slaves: it ends a slave holding the new master's database,
its own solo write gone. And the standby designated master: the vote
moves with the leadership."""

import os
import time
import uuid
import unittest

import harness
import lab
import pool_util


def pool_labels(h):
    return [r.get("name_label") for r in pool_util.stored_rows(h, "pool").values()]


class PoolOfTwoTest(unittest.TestCase):
    def wait_label(self, h, label, timeout=10):
        end = time.monotonic() + timeout
        while pool_labels(h) != [label] and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(pool_labels(h), [label], h.name)

    def test_emergency_transition_and_recover(self):
        l = lab.Lab(2)
        with l:
            pool = pool_util.Pool(l)
            self.addCleanup(pool.close)
            # the pool's secret, as a join leaves it on every host: the
            # master's calls to the others go under the pool's session
            secret = str(uuid.uuid4())
            for h in l.hosts:
                with open(os.path.join(h.data_dir, "pool-secret"), "w") as f:
                    f.write(secret + "\n")
            pool.start()
            h1, h2 = l.hosts
            m = pool.find_master(15)
            self.assertIs(m, h1, "the first configured host is the only voter")
            api = h1.server.api
            pool_ref = api.pool.get_all()[0]
            api.pool.set_name_label(pool_ref, "w1")
            self.wait_label(h2, "w1")
            self.assertEqual(pool_util.slave_error(h2), ("HOST_IS_SLAVE", [h1.address]))

            # the standby still hears its master: no emergency transition
            r = h2.server.xe("pool-emergency-transition-to-master")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("HOST_IS_SLAVE", r.stdout + r.stderr)

            # the master dies: the standby is alone and cannot elect itself
            local = h2.server.call("session.slave_local_login_with_password", "root", h2.server.password)
            self.assertIs(h2.server.call("host.is_in_emergency_mode", local), False)
            h1.server.kill9()
            time.sleep(1.5)
            self.assertEqual(pool_util.slave_error(h2)[0], "HOST_IS_SLAVE")
            self.assertIs(h2.server.call("host.is_in_emergency_mode", local), True)
            t0 = time.monotonic()
            r = h2.server.xe("pool-emergency-transition-to-master")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            print("# emergency transition: %.2f s" % (time.monotonic() - t0))
            self.assertIsNone(pool_util.slave_error(h2)[0], "h2 is master")
            self.assertIs(h2.server.call("host.is_in_emergency_mode", local), False)
            a2 = h2.server.api
            self.assertEqual(a2.pool.get_name_label(pool_ref), "w1")
            h2_ref = [ref for ref, rec in a2.host.get_all_records().items() if rec["address"] == h2.address][0]
            self.assertEqual(a2.pool.get_master(pool_ref), h2_ref)
            msgs = [x for x in a2.message.get_all_records().values() if x["name"] == "POOL_MASTER_TRANSITION"]
            self.assertEqual([x["obj_uuid"] for x in msgs], [a2.host.get_uuid(h2_ref)])
            a2.pool.set_name_label(pool_ref, "w2")

            # the old master comes back, master of its own log: told the new one
            pool.restart(h1)
            self.assertIsNone(pool_util.slave_error(h1)[0])
            h1.server.api.pool.set_name_label(pool_ref, "solo")  # a write no one else has
            r = h1.server.xe("pool-emergency-reset-master", "master-address=" + h1.address)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("HOST_ITS_OWN_SLAVE", r.stdout + r.stderr)
            # recover-slaves on the new master resets the old one by itself
            r = h2.server.xe("pool-recover-slaves", "--minimal")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            h1_uuid = [rec["uuid"] for rec in a2.host.get_all_records().values() if rec["address"] == h1.address][0]
            self.assertEqual(r.stdout.strip(), h1_uuid)
            end = time.monotonic() + 15
            while pool_util.slave_error(h1) != ("HOST_IS_SLAVE", [h2.address]) and time.monotonic() < end:
                time.sleep(0.1)
            self.assertEqual(pool_util.slave_error(h1), ("HOST_IS_SLAVE", [h2.address]))
            self.wait_label(h1, "w2")
            a2.pool.set_name_label(pool_ref, "w3")
            self.wait_label(h1, "w3")
            # nothing more to recover
            self.assertEqual(a2.pool.recover_slaves(), [])
            # h2, the only voter now, keeps working with h1 gone
            h1.server.kill9()
            a2.pool.set_name_label(pool_ref, "w4")
            self.assertEqual(a2.pool.get_name_label(pool_ref), "w4")

    def test_designate_the_standby(self):
        """The standby designated master: it gets the vote, takes the
        leadership, and the old master becomes the standby (one voter
        again), so the new master keeps working with the old one gone."""
        l = lab.Lab(2)
        with l:
            pool = pool_util.Pool(l)
            self.addCleanup(pool.close)
            pool.start()
            h1, h2 = l.hosts
            self.assertIs(pool.find_master(15), h1)
            api = h1.server.api
            end = time.monotonic() + 10
            while len(api.host.get_all()) < 2 and time.monotonic() < end:
                time.sleep(0.1)
            h2_ref = [ref for ref, rec in api.host.get_all_records().items() if rec["address"] == h2.address][0]
            pool_ref = api.pool.get_all()[0]
            api.pool.set_name_label(pool_ref, "before")
            api.pool.designate_new_master(h2_ref)
            self.assertIsNone(pool_util.slave_error(h2)[0])
            self.assertEqual(pool_util.slave_error(h1), ("HOST_IS_SLAVE", [h2.address]))
            a2 = h2.server.api
            self.assertEqual(a2.pool.get_master(pool_ref), h2_ref)
            a2.pool.set_name_label(pool_ref, "after")
            self.wait_label(h1, "after")
            time.sleep(1.5)  # the new master takes the old one's vote away
            h1.server.kill9()
            a2.pool.set_name_label(pool_ref, "alone")
            self.assertEqual(a2.pool.get_name_label(pool_ref), "alone")


if __name__ == "__main__":
    harness.main()
