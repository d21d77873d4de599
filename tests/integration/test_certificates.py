"""The host's TLS certificate, the pool's CAs and https-only, against a
real xenond with its HTTPS port: host.install_server_certificate (through
xe host-server-certificate-install) switches what the live port presents
at the next handshake, without a restart, and keeps it across one;
connections already open go on; bad input gets xapi's errors and changes
nothing; host.reset_server_certificate makes a new self-signed one; each is
a Certificate object with its fingerprint and dates; pool CA certificates
come and go by name; https-only refuses plain-HTTP calls but the redirect.
Certificates are made with certtool (GnuTLS)."""

import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TLS_PORT = harness.free_port()


def certtool(*args, template=None):
    cmd = ["certtool"] + list(args)
    tf = None
    if template is not None:
        tf = tempfile.NamedTemporaryFile("w", suffix=".tmpl", delete=False)
        tf.write(template)
        tf.close()
        cmd += ["--template", tf.name]
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    finally:
        if tf:
            os.unlink(tf.name)


def make_key(kind="rsa", bits=2048):
    args = ["--generate-privkey", "--no-text"]
    args += ["--key-type", "ecdsa"] if kind == "ecdsa" else ["--bits", str(bits)]
    return certtool(*args)


def make_cert(key, days=30, activation=None, expiration=None, cn="xenon-test", ca=False):
    with tempfile.NamedTemporaryFile("w", suffix=".key", delete=False) as f:
        f.write(key)
    t = 'cn = "%s"\nserial = %d\n' % (cn, int.from_bytes(os.urandom(4), "big"))
    if activation:
        t += 'activation_date = "%s"\nexpiration_date = "%s"\n' % (activation, expiration)
    else:
        t += "expiration_days = %d\n" % days
    t += "ca\ncert_signing_key\n" if ca else "tls_www_server\nsigning_key\nencryption_key\n"
    try:
        return certtool("--generate-self-signed", "--load-privkey", f.name, "--hash", "SHA256", "--no-text",
                        template=t)
    finally:
        os.unlink(f.name)


def colon_hex(digest):
    return ":".join("%02X" % b for b in digest)


class Certificates(harness.ServerTestCase):
    server_kwargs = {"extra_args": ["--tls-listen", "127.0.0.1:%d" % TLS_PORT]}

    def served(self):
        """The fingerprint the HTTPS port presents to a new connection."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", TLS_PORT), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
                return colon_hex(hashlib.sha256(s.getpeercert(binary_form=True)).digest())

    def https(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", TLS_PORT, timeout=10, context=ctx)

    def https_call(self, conn, method, *params):
        conn.request("POST", "/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params),
                                                     "id": 1}), {"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())

    def host_certs(self):
        return {r: c for r, c in self.api.Certificate.get_all_records().items() if c["type"] == "host"}

    def files(self, tmp, **pems):
        out = {}
        for name, pem in pems.items():
            out[name] = os.path.join(tmp, name + ".pem")
            with open(out[name], "w") as f:
                f.write(pem)
        return out

    def xe_ok(self, *args):
        r = self.srv.xe(*args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.strip()

    def xe_err(self, code, *args):
        r = self.srv.xe(*args)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(code, r.stdout + r.stderr)

    def test_install_switches_the_live_port_and_reset_makes_a_new_one(self):
        before = self.served()
        certs = self.host_certs()
        self.assertEqual([c["fingerprint"] for c in certs.values()], [before])
        host = self.api.host.get_all()[0]
        self.assertEqual(set(self.api.host.get_certificates(host)), set(certs))
        # a connection opened now stays good across the switch
        old_conn = self.https()
        s = self.https_call(old_conn, "session.login_with_password", "root", self.srv.password)["result"]
        key = make_key()
        cert = make_cert(key, days=60)
        ca_key = make_key()
        chain = make_cert(ca_key, ca=True, cn="xenon-test-ca")
        with tempfile.TemporaryDirectory() as tmp:
            f = self.files(tmp, cert=cert, key=key, chain=chain)
            self.xe_ok("host-server-certificate-install", "certificate=" + f["cert"],
                       "private-key=" + f["key"], "certificate-chain=" + f["chain"])
        after = self.served()
        self.assertNotEqual(after, before)
        (rec,) = self.host_certs().values()
        self.assertEqual(rec["fingerprint"], after)
        self.assertEqual(rec["host"], host)
        self.assertLess(rec["not_before"], rec["not_after"])
        self.assertEqual(self.https_call(old_conn, "session.get_uuid", s, s).get("error"), None)
        old_conn.close()
        # the chain goes out after the certificate; the file keeps both
        with open(os.path.join(self.srv.data_dir, "xapi-ssl.crt")) as fh:
            self.assertEqual(fh.read().count("BEGIN CERTIFICATE"), 2)
        # kept across a restart
        self.srv.restart(same_port=True)
        self.assertEqual(self.served(), after)
        self.assertEqual([c["fingerprint"] for c in self.host_certs().values()], [after])
        # reset: a new self-signed one, live
        self.xe_ok("host-reset-server-certificate")
        reset = self.served()
        self.assertNotIn(reset, (before, after))
        self.assertEqual([c["fingerprint"] for c in self.host_certs().values()], [reset])

    def test_bad_certificates_get_xapi_errors_and_change_nothing(self):
        host = self.api.host.get_all()[0]
        served = self.served()
        key, other_key = make_key(), make_key()
        good = make_cert(key)
        cases = [
            ("SERVER_CERTIFICATE_KEY_INVALID", good, "not a key"),
            ("SERVER_CERTIFICATE_INVALID", "not a certificate", key),
            ("SERVER_CERTIFICATE_KEY_MISMATCH", good, other_key),
            ("SERVER_CERTIFICATE_EXPIRED", make_cert(key, activation="2019-01-01 00:00:00",
                                                     expiration="2020-01-01 00:00:00"), key),
            ("SERVER_CERTIFICATE_NOT_VALID_YET", make_cert(key, activation="2090-01-01 00:00:00",
                                                           expiration="2091-01-01 00:00:00"), key),
        ]
        ec = make_key("ecdsa")
        cases.append(("SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED", make_cert(ec), ec))
        for code, cert, k in cases:
            self.assertXapiError(code, self.api.host.install_server_certificate, host, cert, k, "")
        small = make_key(bits=1024)
        self.assertXapiError("SERVER_CERTIFICATE_KEY_RSA_LENGTH_NOT_SUPPORTED",
                             self.api.host.install_server_certificate, host, make_cert(small), small, "")
        self.assertXapiError("SERVER_CERTIFICATE_CHAIN_INVALID", self.api.host.install_server_certificate,
                             host, good, key, "garbage chain")
        self.assertEqual(self.served(), served)
        self.assertEqual([c["fingerprint"] for c in self.host_certs().values()], [served])
        # pool-admin only, as in xapi
        self.assertEqual(self.api.role.get_by_permission_name_label("host.install_server_certificate"),
                         self.api.role.get_by_name_label("pool-admin"))

    def test_pool_ca_certificates(self):
        ca = make_cert(make_key(), ca=True, cn="xenon-ca-1")
        with tempfile.TemporaryDirectory() as tmp:
            f = self.files(tmp, ca1=ca, junk="junk")
            self.xe_ok("pool-install-ca-certificate", "filename=" + f["ca1"])
            self.xe_err("CERTIFICATE_ALREADY_EXISTS", "pool-install-ca-certificate", "filename=" + f["ca1"])
            self.xe_err("CERTIFICATE_CORRUPT", "pool-install-ca-certificate", "filename=" + f["junk"])
        self.assertXapiError("CERTIFICATE_NAME_INVALID", self.api.pool.install_ca_certificate, "../evil", ca)
        cas = [c for c in self.api.Certificate.get_all_records().values() if c["type"] == "ca"]
        self.assertEqual([c["name"] for c in cas], ["ca1.pem"])
        self.assertTrue(os.path.exists(os.path.join(self.srv.data_dir, "ca", "ca1.pem")))
        self.xe_ok("pool-uninstall-ca-certificate", "name=ca1.pem")
        self.assertFalse(os.path.exists(os.path.join(self.srv.data_dir, "ca", "ca1.pem")))
        self.assertEqual([c for c in self.api.Certificate.get_all_records().values() if c["type"] == "ca"], [])
        self.assertXapiError("CERTIFICATE_DOES_NOT_EXIST", self.api.pool.uninstall_ca_certificate, "ca1.pem")

    def cert_messages(self):
        return sorted((m["name"], m["cls"], m["obj_uuid"], int(m["priority"]))
                      for m in self.api.message.get_all_records().values()
                      if "CERTIFICATE_EXPIR" in m["name"])

    def test_expiry_messages(self):
        host = self.api.host.get_all()[0]
        pool = self.api.pool.get_all()[0]
        hu, pu = self.api.host.get_uuid(host), self.api.pool.get_uuid(pool)
        self.assertEqual(self.cert_messages(), [])
        key = make_key()
        self.api.host.install_server_certificate(host, make_cert(key, days=10), key, "")
        self.assertEqual(self.cert_messages(), [("HOST_SERVER_CERTIFICATE_EXPIRING_14", "Host", hu, 2)])
        (body,) = [m["body"] for m in self.api.message.get_all_records().values()
                   if m["name"] == "HOST_SERVER_CERTIFICATE_EXPIRING_14"]
        self.assertRegex(body, r"expires in (9|10) days</message><date>\d{8}T")
        ca_soon = make_cert(make_key(), ca=True, days=3, cn="soon-ca")
        ca_gone = make_cert(make_key(), ca=True, cn="old-ca", activation="2019-01-01 00:00:00",
                            expiration="2020-01-01 00:00:00")
        self.api.pool.install_ca_certificate("soon.pem", ca_soon)
        self.api.pool.install_ca_certificate("old.pem", ca_gone)
        self.assertEqual(self.cert_messages(), sorted([
            ("HOST_SERVER_CERTIFICATE_EXPIRING_14", "Host", hu, 2),
            ("POOL_CA_CERTIFICATE_EXPIRING_07", "Pool", pu, 1),
            ("POOL_CA_CERTIFICATE_EXPIRED", "Pool", pu, 1)]))
        # a fresh certificate and the CAs gone: their messages go too
        self.api.host.reset_server_certificate(host)
        self.api.pool.uninstall_ca_certificate("soon.pem")
        self.api.pool.uninstall_ca_certificate("old.pem")
        self.assertEqual(self.cert_messages(), [])

    def test_https_only(self):
        host = self.api.host.get_all()[0]
        self.api.host.set_https_only(host, True)
        try:
            self.assertTrue(self.api_https_ok())
            r = self.srv.post("/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "session.login_with_password",
                                                       "params": ["root", self.srv.password], "id": 1}).encode(),
                              {"Content-Type": "application/json"})
            self.assertEqual(r.status, 403)
            r = self.srv.post("/", b"", method="GET")
            self.assertEqual(r.status, 301)
            self.assertEqual(r.header("Location"), "https://127.0.0.1:%d/" % TLS_PORT)
            self.assertEqual(self.srv.post("/rrd_updates?start=0", b"", method="GET").status, 403)
        finally:
            c = self.https()
            s = self.https_call(c, "session.login_with_password", "root", self.srv.password)["result"]
            self.assertIsNone(self.https_call(c, "host.set_https_only", s, host, False).get("error"))
            c.close()
        self.assertFalse(self.api.host.get_https_only(host))
        self.srv.login()

    def api_https_ok(self):
        c = self.https()
        try:
            env = self.https_call(c, "session.login_with_password", "root", self.srv.password)
            return "result" in env
        finally:
            c.close()


if __name__ == "__main__":
    harness.main()
