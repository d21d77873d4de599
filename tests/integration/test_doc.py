"""The API reference at /doc: served without a session, generated from the
schema (every class has its page; a message shows its parameters, result,
roles and declared errors; every error its parameters), with the task
guides; names outside the reference are not found."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class DocTest(harness.ServerTestCase):
    def get(self, path):
        c = self.srv.connection()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        c.close()
        return r.status, r.getheader("Content-Type") or "", body

    def test_index_lists_every_class(self):
        for path in ("/doc", "/doc/", "/doc/index.html"):
            status, ctype, body = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertTrue(ctype.startswith("text/html"), ctype)
        # every class the server knows has a page linked from the index
        for cls in ("VM", "VDI", "SR", "host", "session", "subject", "role", "Certificate", "VIF"):
            self.assertIn('href="%s.html"' % cls, body)
            status, _, page = self.get("/doc/%s.html" % cls)
            self.assertEqual(status, 200, cls)
            self.assertIn("<h1>%s" % cls, page)

    def test_message_details(self):
        status, _, page = self.get("/doc/VM.html")
        self.assertEqual(status, 200)
        i = page.index('id="start"')
        start = page[i:page.index("<h3", i + 1)]
        self.assertIn("VM.start(session ref session_id, <a href=\"VM.html\">VM</a> ref vm, bool start_paused, "
                      "bool force)", start)
        self.assertIn("Async.VM.start", start)
        self.assertIn("Roles: pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator", start)
        self.assertIn("VM_BAD_POWER_STATE", start)
        # a field with its type and who sets it
        self.assertIn('id="field-power_state"', page)
        status, _, errs = self.get("/doc/errors.html")
        self.assertEqual(status, 200)
        self.assertIn('id="RBAC_PERMISSION_DENIED"', errs)
        self.assertIn('id="HANDLE_INVALID"', errs)

    def test_guides(self):
        status, _, page = self.get("/doc/guides.html")
        self.assertEqual(status, 200)
        for anchor in ("disk-size", "vm-ip", "attach-iso", "capture-vif"):
            self.assertIn('id="%s"' % anchor, page)
        self.assertIn("virtual_size", page)
        self.assertIn("tcpdump -i vif", page)

    def test_outside_the_reference(self):
        for path in ("/doc/../xenond.conf", "/doc/.hidden", "/doc/no-such-page.html", "/doc/a/b"):
            status, _, _ = self.get(path)
            self.assertEqual(status, 404, path)


if __name__ == "__main__":
    harness.main()
