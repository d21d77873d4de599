"""Failed-login throttling against a real xenond. Without it one connection
tried some 600-900 passwords a second. Now the answer to a failed login is
held back, and past a few failures from one client address that address's
password checks start about once a second, while a login from another
address (127.0.0.2, 127.0.0.3…: all loopback) is not slowed; the waits park
the calls, so the HTTP threads keep serving others; HTTP Basic logins on the
transfer endpoints are throttled as well. Every test uses addresses of its
own: the throttling state is per address and outlives a test."""

import base64
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LOOP_S = 3.0        # how long the wrong-password loops run
MAX_RATE = 20.0     # answers a second one address may get, at most


class Client:
    """A keep-alive JSON-RPC connection bound to a loopback source address."""

    def __init__(self, srv, addr):
        self.c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30, source_address=(addr, 0))

    def call(self, method, *params):
        """(error list or None, result, seconds taken)."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1})
        t0 = time.monotonic()
        self.c.request("POST", "/jsonrpc", body.encode(), {"Content-Type": "application/json"})
        r = json.loads(self.c.getresponse().read())
        took = time.monotonic() - t0
        if "error" in r:
            return [r["error"]["message"]] + (r["error"].get("data") or []), None, took
        return None, r["result"], took

    def login(self, user, password):
        return self.call("session.login_with_password", user, password, "1.0", "throttle-test")

    def close(self):
        self.c.close()


class LoginThrottle(harness.ServerTestCase):

    def wrong_logins(self, addr, seconds):
        """Wrong passwords from addr, one after another, for `seconds`:
        (answers, seconds taken, reasons seen)."""
        c = Client(self.srv, addr)
        n, reasons, t0 = 0, set(), time.monotonic()
        try:
            while time.monotonic() - t0 < seconds:
                err, _, _ = c.login("root", "not-the-password")
                self.assertEqual(err[0], "SESSION_AUTHENTICATION_FAILED", err)
                reasons.add(err[-1])
                n += 1
        finally:
            c.close()
        return n, time.monotonic() - t0, reasons

    def test_wrong_passwords_from_one_address_are_throttled(self):
        n, took, _ = self.wrong_logins("127.0.0.1", LOOP_S)
        rate = n / took
        sys.stderr.write("\n    wrong logins from one address: %d in %.2fs = %.1f/s\n" % (n, took, rate))
        self.assertLess(rate, MAX_RATE)
        self.assertGreaterEqual(n, 2)

        # another address is not slowed: a right password at once, a wrong
        # one is answered after the usual short delay, not throttled
        other = Client(self.srv, "127.0.0.2")
        err, ref, t = other.login("root", self.srv.password)
        self.assertIsNone(err)
        self.assertRegex(ref, harness.REF_RE)
        self.assertLess(t, 1.0)
        err, _, t = other.login("root", "not-the-password")
        self.assertEqual(err[0], "SESSION_AUTHENTICATION_FAILED")
        self.assertEqual(err[-1], "Authentication failure")
        self.assertLess(t, 1.0)
        other.close()

        # the throttled address still logs in with the right password, and
        # that success ends its throttling
        c = Client(self.srv, "127.0.0.1")
        err, ref, t = c.login("root", self.srv.password)
        self.assertIsNone(err, "right password refused after %.2fs" % t)
        self.assertRegex(ref, harness.REF_RE)
        self.assertLess(t, 6.0)
        err, _, t = c.login("root", "not-the-password")
        self.assertEqual(err[-1], "Authentication failure")
        self.assertLess(t, 1.0)
        c.close()

    def test_waiting_logins_hold_no_thread(self):
        """Many parallel wrong logins from one address (more clients than
        the daemon has HTTP threads) wait parked: other calls are answered
        at once, and that address's checks stay throttled."""
        stop = time.monotonic() + 2.0
        answers, checks, errors = [], [], []

        def attacker():
            c = Client(self.srv, "127.0.0.4")
            try:
                while time.monotonic() < stop:
                    err, _, _ = c.login("root", "not-the-password")
                    answers.append(err)
                    if err[-1] == "Authentication failure":
                        checks.append(1)
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                c.close()

        threads = [threading.Thread(target=attacker) for _ in range(12)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        other = Client(self.srv, "127.0.0.3")
        slowest = 0.0
        while time.monotonic() < stop:
            err, _, took = other.call("session.get_uuid", self.srv.session, self.srv.session)
            self.assertIsNone(err)
            slowest = max(slowest, took)
            time.sleep(0.05)
        err, ref, took = other.login("root", self.srv.password)
        self.assertIsNone(err)
        slowest = max(slowest, took)
        other.close()
        for t in threads:
            t.join(15)
        took = time.monotonic() - t0
        self.assertEqual(errors, [])
        self.assertTrue(all(a[0] == "SESSION_AUTHENTICATION_FAILED" for a in answers), answers)
        sys.stderr.write("\n    12 parallel clients: %d answers, %d password checks in %.2fs; "
                         "slowest other call %.3fs\n" % (len(answers), len(checks), took, slowest))
        self.assertLess(slowest, 1.0)
        self.assertLess(len(checks) / took, MAX_RATE)
        self.assertLess(len(answers) / took, MAX_RATE)

    def basic_auth_get(self, addr, password):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30, source_address=(addr, 0))
        try:
            auth = base64.b64encode(("root:%s" % password).encode()).decode()
            c.request("GET", "/export_raw_vdi?vdi=OpaqueRef:NULL", headers={"Authorization": "Basic " + auth})
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def test_http_basic_logins_are_throttled(self):
        checked = refused = 0
        t0 = time.monotonic()
        for _ in range(15):
            st, body = self.basic_auth_get("127.0.0.5", "not-the-password")
            self.assertEqual(st, 401, body)
            self.assertTrue(body.startswith("SESSION_AUTHENTICATION_FAILED"), body)
            if "Too many failed logins" in body:
                refused += 1
            else:
                checked += 1
        took = time.monotonic() - t0
        # a few checks, then about one a second: the rest are refused unchecked
        self.assertLessEqual(checked, 4 + int(took), (checked, refused, took))
        self.assertGreater(refused, 0)
        # another address logs in (the VDI is unknown: past the login)
        st, body = self.basic_auth_get("127.0.0.6", self.srv.password)
        self.assertNotEqual(st, 401, body)


if __name__ == "__main__":
    harness.main()
