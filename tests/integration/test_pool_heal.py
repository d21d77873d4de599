"""A host of a pool of three on Raft (lab hosts, membership configured)
cut off the network long enough for TCP's retransmission backoff to grow
past the bound (CUT seconds: a connection left to TCP is next retried
about 20 s after such a heal), while the other two keep committing; once
healed it catches up within BOUND seconds: its SQLite holds the last
index the master's held at the heal, with the last value written. First
a member is cut, then the master (which the other two replace); the old
master comes back as a slave naming the new one.

XENON_HEAL_CUT_SECONDS sets the length of each cut (default 30)."""

import os
import sqlite3
import threading
import time
import unittest

import harness
import lab
import pool_util

CUT = float(os.environ.get("XENON_HEAL_CUT_SECONDS", "30"))
BOUND = 10.0


def log_index(h):
    con = sqlite3.connect("file:%s/db.sqlite?mode=ro" % h.data_dir, uri=True, timeout=5)
    try:
        row = con.execute("SELECT value FROM meta WHERE key='log-index'").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def pool_label(h):
    return [r.get("name_label") for r in pool_util.stored_rows(h, "pool").values()]


class PoolHealTest(unittest.TestCase):
    def cut_and_heal(self, pool, pool_ref, cut):
        """Cuts cut off for CUT seconds while a writer commits on the
        others' master; heals it; returns (seconds to catch up, the
        master of the others)."""
        l = pool.lab
        majority = [h for h in l.hosts if h is not cut]
        stop = threading.Event()
        written = []

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                w = pool.find_master(5, majority)
                try:
                    if w is not None:
                        w.server.call("pool.set_name_label", w.server.session, pool_ref, "w-%d" % i,
                                      timeout=5)
                        written.append("w-%d" % i)
                except Exception:  # the master moved under the call: find it again
                    if w is not None:
                        w.server._session = None
                finally:
                    time.sleep(0.1)

        l.cut(cut)
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(CUT)
        stop.set()
        t.join(15)
        self.assertFalse(t.is_alive())
        self.assertGreater(len(written), 10, "the majority committed writes during the cut")
        m = pool.find_master(10, majority)
        self.assertIsNotNone(m, "a master among the hosts not cut")
        target = log_index(m)
        self.assertEqual(pool_label(m), [written[-1]])
        self.assertLess(log_index(cut), target, "the cut host missed the writes")
        l.heal(cut)
        t0 = time.monotonic()
        while log_index(cut) < target and time.monotonic() - t0 < 60:
            time.sleep(0.02)
        took = time.monotonic() - t0
        print("# %s cut %.0f s (%d writes meanwhile): caught up to index %d %.2f s after the heal"
              % (cut.name, CUT, len(written), target, took))
        self.assertLessEqual(took, BOUND, "caught up within %.0f s of the heal" % BOUND)
        self.assertEqual(pool_label(cut), [written[-1]])
        return took, m

    def test_member_then_master_catch_up(self):
        l = lab.Lab(3)
        with l:
            pool = pool_util.Pool(l)
            self.addCleanup(pool.close)
            pool.start()
            m = pool.find_master(20)
            self.assertIsNotNone(m)
            pool_ref = m.server.api.pool.get_all()[0]
            member = [h for h in l.hosts if h is not m][0]
            self.cut_and_heal(pool, pool_ref, member)
            self.assertIsNone(pool_util.slave_error(m)[0], "the master stayed master")

            m = pool.find_master(10)
            _, new = self.cut_and_heal(pool, pool_ref, m)
            self.assertIsNot(new, m)
            end = time.monotonic() + BOUND
            while pool_util.slave_error(m) != ("HOST_IS_SLAVE", [new.address]) and time.monotonic() < end:
                time.sleep(0.1)
            self.assertEqual(pool_util.slave_error(m), ("HOST_IS_SLAVE", [new.address]))


if __name__ == "__main__":
    harness.main()
