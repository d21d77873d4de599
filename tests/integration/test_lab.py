"""The test lab itself (lab.py): three hosts in namespaces of their own,
each xenond answering on its own address, a cut host unreachable and back
after healing, every namespace gone at the end."""

import socket
import unittest

import harness
import lab


def reachable(host, timeout=1.0):
    try:
        with socket.create_connection((host.address, host.port), timeout=timeout):
            return True
    except OSError:
        return False


class LabTest(unittest.TestCase):
    def test_three_hosts(self):
        l = lab.Lab(3)
        with l:
            self.assertEqual(len(l.names()), 4)  # the switch and three hosts
            l.start()
            uuids = set()
            for h in l.hosts:
                s = h.server
                self.assertEqual(s.url, "http://%s:%d" % (h.address, h.port))
                host = s.api.host.get_all()[0]
                uuids.add(s.api.host.get_uuid(host))
            self.assertEqual(len(uuids), 3, "each host is a daemon of its own")
            # the hosts reach each other on the bridge
            p = l.hosts[0].exec("python3", "-c",
                                "import socket; socket.create_connection(('%s', %d), timeout=2)"
                                % (l.hosts[1].address, l.hosts[1].port))
            self.assertEqual(p.returncode, 0)

            victim = l.hosts[1]
            l.cut(victim)
            self.assertFalse(reachable(victim))
            self.assertTrue(reachable(l.hosts[0]))
            p = l.hosts[0].exec("python3", "-c",
                                "import socket; socket.create_connection(('%s', %d), timeout=1)"
                                % (victim.address, victim.port), stderr=harness.subprocess.DEVNULL)
            self.assertNotEqual(p.returncode, 0, "a cut host is cut from the other hosts too")
            l.heal(victim)
            ok = False
            for _ in range(50):
                if reachable(victim):
                    ok = True
                    break
            self.assertTrue(ok, "healing brings the host back")
            self.assertTrue(victim.server.alive())
            victim.server._session = None
            self.assertTrue(victim.server.api.host.get_all())
        self.assertEqual(l.names(), [])
        self.assertFalse(any(h.server.alive() for h in l.hosts))

    def test_cleanup_on_failure(self):
        l = lab.Lab(2)
        with self.assertRaises(RuntimeError):
            with l:
                raise RuntimeError("a failing test")
        self.assertEqual(l.names(), [])


if __name__ == "__main__":
    harness.main()
