"""Snapshots of a pool of three (lab hosts, snapshot every 50 entries, 10
kept after one): a host down while 200 changes commit (VMs made, renamed
and destroyed) gets the master's SQLite image when it is back, then the
entries after it, and ends with the master's rows, those destroyed gone;
restarted again, it applies none of the entries its SQLite holds."""

import re
import time
import unittest

import harness
import lab
import pool_util


def caught_up(h, after=0):
    """The numbers of the daemon's 'caught up' line written after offset."""
    text = h.server.log_text()[after:]
    m = re.findall(r"pool: caught up at log index (\d+): (\d+) entries applied, (\d+) skipped "
                   r"\(in SQLite already\), (\d+) snapshot\(s\) installed", text)
    return [tuple(int(x) for x in t) for t in m]


class PoolSnapshotTest(unittest.TestCase):
    def test_behind_and_restart(self):
        l = lab.Lab(3)
        with l:
            pool = pool_util.Pool(l, "pool-snapshot-threshold=50\npool-snapshot-trailing=10\n")
            self.addCleanup(pool.close)
            pool.start()
            m = pool.find_master(15)
            self.assertIsNotNone(m)
            api = m.server.api
            pool_ref = api.pool.get_all()[0]
            tmpl = [v for v in api.VM.get_all() if api.VM.get_is_a_template(v)][0]
            early = [api.VM.clone(tmpl, "early-%d" % i) for i in range(5)]
            down = [h for h in l.hosts if h is not m][0]
            end = time.monotonic() + 10
            while "early-4" not in {r.get("name_label") for r in pool_util.stored_rows(down, "VM").values()}:
                self.assertLess(time.monotonic(), end)
                time.sleep(0.05)
            down.server.kill9()

            # (on whichever host is master: a loaded machine may move it)
            call = lambda *a: pool_util.on_master(pool, *a)
            for i in range(150):
                call("pool.set_name_label", pool_ref, "name-%d" % i)
            late = [call("VM.clone", tmpl, "late-%d" % i) for i in range(20)]
            for vm in early[:3]:
                call("VM.destroy", vm)
            for i in range(30):
                call("VM.set_name_description", late[i % 20], "d-%d" % i)
            m = pool.find_master(15)
            api = m.server.api
            want = {ref: r.get("name_label") for ref, r in pool_util.stored_rows(m, "VM").items()}

            offset = len(down.server.log_text())
            pool.restart(down)
            end = time.monotonic() + 20
            while True:
                got = {ref: r.get("name_label") for ref, r in pool_util.stored_rows(down, "VM").items()}
                if got == want or time.monotonic() > end:
                    break
                time.sleep(0.1)
            self.assertEqual(got, want, "the host back holds the master's VMs, those destroyed gone")
            self.assertEqual([r.get("name_label") for r in pool_util.stored_rows(down, "pool").values()],
                             ["name-149"])
            log = down.server.log_text()[offset:]
            self.assertIn("pool: snapshot installed", log)
            end = time.monotonic() + 10
            while not [c for c in caught_up(down, offset) if c[0] >= 200] and time.monotonic() < end:
                time.sleep(0.1)
            first = caught_up(down, offset)
            self.assertTrue(first, "the host says how it caught up")
            print("# back after 200 changes: index %d, %d applied, %d skipped, %d snapshot(s)" % first[-1])
            self.assertGreaterEqual(first[-1][0], 200)
            self.assertGreaterEqual(first[-1][3], 1)
            self.assertLess(first[-1][1], 100, "the image, then only the entries after it")

            # restarted with nothing new: nothing applied again
            offset = len(down.server.log_text())
            down.server.kill9()
            pool.restart(down)
            end = time.monotonic() + 10
            while not [c for c in caught_up(down, offset) if c[0] >= first[-1][0]] and time.monotonic() < end:
                time.sleep(0.1)
            again = caught_up(down, offset)
            self.assertTrue(again)
            print("# restarted: index %d, %d applied, %d skipped, %d snapshot(s)" % again[-1])
            self.assertGreaterEqual(again[-1][0], first[-1][0])
            self.assertEqual(again[-1][1], 0, "no entry applied again")
            self.assertEqual(again[-1][3], 0, "no image installed again")
            pool_util.on_master(pool, "pool.set_name_label", pool_ref, "after-restart")
            end = time.monotonic() + 10
            while [r.get("name_label") for r in pool_util.stored_rows(down, "pool").values()] != ["after-restart"]:
                self.assertLess(time.monotonic(), end)
                time.sleep(0.05)


if __name__ == "__main__":
    harness.main()
