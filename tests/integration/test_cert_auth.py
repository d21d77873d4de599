"""What the pool trusts and who it lets in, against a real xenond with its
HTTPS port: host.get_server_certificate answers what the live port
presents and host.refresh_server_certificate replaces it without a
restart; certificate revocation lists come and go by name, bad ones
refused with xapi's errors; with client-certificate authentication on, a
TLS client (Python's ssl) whose certificate a trusted CA signed for the
configured name logs in, whatever its password, with a session of the
client-cert role, and one with an untrusted, revoked or misnamed
certificate does not; TLS verification and certificate_sync on a pool of
one; external authentication (auth_type PAM) turns the subject lookups
and the system accounts' logins on and off, AD and unknown types refused
with nothing changed. On a pool of two lab hosts talking TLS: the pool's
external authentication on both hosts, a host's through the master, a
differing host reported once (EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS), a host
failing half-way undone; a member's refreshed certificate learnt by the
master; certificate_sync restoring a lost one; TLS verification ending
the plain-HTTP fallback. The pool's CAs and revocation lists on both hosts
(a host joining adds its own to the pool's and takes the pool's, installs and uninstalls through the
master reach the member, bad input leaves both alike, an install a host
cannot take fails with nothing left, a host back from a miss catches up),
client-certificate authentication switched through the master asking for
certificates on the member's live port, and the member made master
letting in and refusing as the pool says. Certificates are made with
certtool (GnuTLS); gnutls-cli tells whether a port asks for one."""

import hashlib
import json
import os
import pwd
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lab  # noqa: E402

TLS_PORT = harness.free_port()
CLIENT_NAME = "xenon-client"
USER, PASSWORD = "xnt-carol", "Carol-pw-1"


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


def serial():
    return int.from_bytes(os.urandom(4), "big")


class Pki:
    """A CA and certificates it signs, as files in a directory."""

    def __init__(self, d, name="ca"):
        self.dir = d
        self.ca_key = self.path(name + ".key", certtool("--generate-privkey", "--bits", "2048", "--no-text"))
        self.ca = self.path(name + ".pem", certtool(
            "--generate-self-signed", "--load-privkey", self.ca_key, "--hash", "SHA256", "--no-text",
            template='cn = "Xenon test CA %s"\nserial = %d\nexpiration_days = 30\nca\ncert_signing_key\n'
                     'crl_signing_key\n' % (name, serial())))

    def path(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def client(self, name, cn):
        """(cert file, key file) of a client certificate for cn."""
        key = self.path(name + ".key", certtool("--generate-privkey", "--bits", "2048", "--no-text"))
        cert = self.path(name + ".pem", certtool(
            "--generate-certificate", "--load-privkey", key, "--load-ca-certificate", self.ca,
            "--load-ca-privkey", self.ca_key, "--hash", "SHA256", "--no-text",
            template='cn = "%s"\nserial = %d\nexpiration_days = 30\ntls_www_client\nsigning_key\n' % (cn, serial())))
        return cert, key

    def crl(self, revoked):
        return certtool("--generate-crl", "--load-ca-privkey", self.ca_key, "--load-ca-certificate", self.ca,
                        "--load-certificate", revoked, "--hash", "SHA256", "--no-text",
                        template="crl_next_update = 30\ncrl_number = %d\n" % serial())


def read(path):
    with open(path) as f:
        return f.read()


def served_fingerprint():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", TLS_PORT), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def pem_fingerprint(pem):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def tls_call(method, params, cert=None, addr=None):
    """A JSON-RPC call over a new TLS connection (to addr, by default this
    suite's server) presenting cert (cert file, key file) or none: (result,
    error)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).encode()
    with socket.create_connection(addr or ("127.0.0.1", TLS_PORT), timeout=20) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    env = json.loads(data.split(b"\r\n\r\n", 1)[1])
    if "error" in env:
        return None, [env["error"]["message"]] + list(env["error"].get("data") or [])
    return env["result"], None


def tls_login(cert=None, user="someone", password="not-a-password", addr=None):
    return tls_call("session.login_with_password", [user, password, "1.0", "cert-test"], cert, addr)


def asks_for_certificate(address, port):
    """Whether the HTTPS port at address asks its clients for a certificate
    in the handshake (gnutls-cli says so)."""
    r = subprocess.run(["gnutls-cli", "--insecure", "-p", str(port), address], input="", capture_output=True,
                       text=True, timeout=20)
    if "Handshake was completed" not in r.stdout:
        raise AssertionError("no TLS handshake with %s:%d: %s" % (address, port, r.stdout + r.stderr))
    return "Server has requested a certificate" in r.stdout


class CertAuth(harness.ServerTestCase):
    server_kwargs = {"extra_args": ["--tls-listen", "127.0.0.1:%d" % TLS_PORT]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="xenon-certauth-")
        cls.pki = Pki(cls.tmp)
        cls.host = cls.srv.api.host.get_all()[0]
        cls.pool = cls.srv.api.pool.get_all()[0]

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        subprocess.run(["rm", "-rf", cls.tmp], check=False)

    def xe(self, *args):
        r = self.srv.xe(*args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def xe_fails(self, code, *args):
        r = self.srv.xe(*args)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(code, r.stdout + r.stderr)

    # ---- the server certificate ----

    def test_get_and_refresh_server_certificate(self):
        api = self.api
        pem = api.host.get_server_certificate(self.host)
        self.assertTrue(pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:40])
        self.assertEqual(pem.count("BEGIN CERTIFICATE"), 1)
        self.assertEqual(pem_fingerprint(pem), served_fingerprint())
        uuid = api.host.get_uuid(self.host)
        self.assertEqual(pem_fingerprint(self.xe("host-get-server-certificate", "uuid=" + uuid)), served_fingerprint())
        # a new self-signed certificate, presented at the next handshake
        self.xe("host-refresh-server-certificate", "host=" + uuid)
        fresh = api.host.get_server_certificate(self.host)
        self.assertNotEqual(pem_fingerprint(fresh), pem_fingerprint(pem))
        self.assertEqual(pem_fingerprint(fresh), served_fingerprint())
        api.host.refresh_server_certificate(self.host)
        again = api.host.get_server_certificate(self.host)
        self.assertNotIn(pem_fingerprint(again), (pem_fingerprint(pem), pem_fingerprint(fresh)))
        self.assertEqual(pem_fingerprint(again), served_fingerprint())
        # the host's Certificate object follows
        rows = [r for r in api.Certificate.get_all_records().values() if r["type"] == "host"]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["fingerprint"].replace(":", "").lower(), pem_fingerprint(again))
        self.assertXapiError("HANDLE_INVALID", api.host.get_server_certificate, "OpaqueRef:nothing")
        self.assertXapiError("HANDLE_INVALID", api.host.refresh_server_certificate, "OpaqueRef:nothing")
        self.assertEqual(api.host.get_server_certificate(self.host), again)

    # ---- revocation lists ----

    def test_crl_install_list_uninstall(self):
        api = self.api
        other = Pki(self.tmp, "crl-ca")
        victim, _ = other.client("crl-victim", "victim")
        crl = other.crl(victim)
        self.assertIn("BEGIN X509 CRL", crl)
        before = api.pool.crl_list()
        self.assertXapiError("CRL_NAME_INVALID", api.pool.crl_install, "revoked.crl", crl, params=["revoked.crl"])
        self.assertXapiError("CRL_NAME_INVALID", api.pool.crl_install, "../x.pem", crl)
        self.assertXapiError("CRL_NAME_INVALID", api.pool.crl_install, ".hidden.pem", crl)
        self.assertXapiError("CRL_CORRUPT", api.pool.crl_install, "junk.pem", "not a CRL", params=["junk.pem"])
        self.assertXapiError("CRL_CORRUPT", api.pool.crl_install, "cert.pem", read(other.ca))
        broken = crl.replace(crl.splitlines()[3], "A" * len(crl.splitlines()[3]))
        self.assertXapiError("CRL_CORRUPT", api.pool.crl_install, "broken.pem", broken)
        self.assertEqual(api.pool.crl_list(), before)  # nothing half-made
        api.pool.crl_install("test-revoked.pem", crl)
        self.assertIn("test-revoked.pem", api.pool.crl_list())
        self.assertXapiError("CRL_ALREADY_EXISTS", api.pool.crl_install, "test-revoked.pem", crl,
                             params=["test-revoked.pem"])
        api.pool.crl_uninstall("test-revoked.pem")
        self.assertNotIn("test-revoked.pem", api.pool.crl_list())
        self.assertXapiError("CRL_DOES_NOT_EXIST", api.pool.crl_uninstall, "test-revoked.pem",
                             params=["test-revoked.pem"])
        self.assertXapiError("CRL_NAME_INVALID", api.pool.crl_uninstall, "../../etc/passwd")
        # and through xe, named after the file
        path = other.path("xe-revoked.pem", crl)
        self.xe("pool-crl-install", "filename=" + path)
        self.assertIn("xe-revoked.pem", self.xe("pool-crl-list").split())
        self.xe("pool-crl-uninstall", "name=xe-revoked.pem")
        self.assertNotIn("xe-revoked.pem", self.xe("pool-crl-list").split())
        self.xe_fails("CRL_DOES_NOT_EXIST", "pool-crl-uninstall", "name=xe-revoked.pem")

    # ---- client certificates ----

    def test_client_certificate_login(self):
        api = self.api
        good = self.pki.client("good", CLIENT_NAME)
        misnamed = self.pki.client("misnamed", "someone-else")
        stranger_ca = Pki(self.tmp, "stranger")
        untrusted = stranger_ca.client("untrusted", CLIENT_NAME)
        api.pool.install_ca_certificate("certauth-ca.pem", read(self.pki.ca))
        try:
            # off: a certificate is no credential
            self.assertEqual(tls_login(good)[1][0], "SESSION_AUTHENTICATION_FAILED")
            self.assertXapiError("INVALID_VALUE", api.pool.enable_client_certificate_auth, self.pool, "")
            self.assertXapiError("HANDLE_INVALID", api.pool.enable_client_certificate_auth, "OpaqueRef:x", "n")
            self.assertFalse(api.pool.get_client_certificate_auth_enabled(self.pool))
            self.xe("pool-enable-client-certificate-auth", "name=" + CLIENT_NAME)
            self.assertTrue(api.pool.get_client_certificate_auth_enabled(self.pool))
            self.assertEqual(api.pool.get_client_certificate_auth_name(self.pool), CLIENT_NAME)
            s, err = tls_login(good)
            self.assertIsNone(err)
            rec = api.session.get_record(s)
            self.assertTrue(rec["client_certificate"])
            self.assertFalse(rec["is_local_superuser"])
            self.assertEqual(rec["auth_user_name"], "someone")
            # the client-cert role: what the datamodel grants it, and nothing else
            self.assertEqual(self.srv.call("host.get_server_certificate", s, self.host),
                             api.host.get_server_certificate(self.host))
            self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VM.create", s, {})
            # root's name gets no more than the role
            s_root, err = tls_login(good, user="root")
            self.assertIsNone(err)
            self.assertFalse(api.session.get_is_local_superuser(s_root))
            self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "pool.crl_list", s_root)
            # no certificate, another name, another CA: passwords as usual
            self.assertEqual(tls_login(None)[1][0], "SESSION_AUTHENTICATION_FAILED")
            self.assertEqual(tls_login(misnamed)[1][0], "SESSION_AUTHENTICATION_FAILED")
            self.assertEqual(tls_login(untrusted)[1][0], "SESSION_AUTHENTICATION_FAILED")
            s2, err = tls_login(None, "root", self.srv.password)
            self.assertIsNone(err)
            self.assertTrue(api.session.get_is_local_superuser(s2))
            # a revocation list of the CA's that names it: refused until it goes
            api.pool.crl_install("certauth-revoked.pem", self.pki.crl(good[0]))
            self.assertEqual(tls_login(good)[1][0], "SESSION_AUTHENTICATION_FAILED")
            api.pool.crl_uninstall("certauth-revoked.pem")
            self.assertIsNone(tls_login(good)[1])
            # the CA no longer trusted: refused
            api.pool.uninstall_ca_certificate("certauth-ca.pem")
            self.assertEqual(tls_login(good)[1][0], "SESSION_AUTHENTICATION_FAILED")
            api.pool.install_ca_certificate("certauth-ca.pem", read(self.pki.ca))
            self.assertIsNone(tls_login(good)[1])
            self.xe("pool-disable-client-certificate-auth")
            self.assertFalse(api.pool.get_client_certificate_auth_enabled(self.pool))
            self.assertEqual(api.pool.get_client_certificate_auth_name(self.pool), "")
            self.assertEqual(tls_login(good)[1][0], "SESSION_AUTHENTICATION_FAILED")
        finally:
            api.pool.disable_client_certificate_auth(self.pool)
            try:
                api.pool.uninstall_ca_certificate("certauth-ca.pem")
            except harness.XapiError:
                pass

    def test_client_auth_survives_restart(self):
        api = self.api
        good = self.pki.client("restart", CLIENT_NAME)
        api.pool.install_ca_certificate("restart-ca.pem", read(self.pki.ca))
        api.pool.enable_client_certificate_auth(self.pool, CLIENT_NAME)
        try:
            self.srv.restart()
            self.srv._session = None
            self.assertIsNone(tls_login(good)[1])
        finally:
            self.srv.api.pool.disable_client_certificate_auth(self.pool)
            self.srv.api.pool.uninstall_ca_certificate("restart-ca.pem")

    # ---- TLS verification, certificate sync: a pool of one ----

    def test_tls_verification_and_sync_alone(self):
        api = self.api
        self.xe("pool-certificate-sync")
        api.pool.certificate_sync()
        self.xe("pool-enable-tls-verification")
        self.assertTrue(api.pool.get_tls_verification_enabled(self.pool))
        self.assertTrue(api.host.get_tls_verification_enabled(self.host))
        api.pool.enable_tls_verification()  # again: nothing more to do
        api.pool.certificate_sync()
        self.assertTrue(api.pool.get_tls_verification_enabled(self.pool))

    # ---- external authentication ----

    def auth_fields(self):
        r = self.api.host.get_record(self.host)
        return r["external_auth_type"], r["external_auth_service_name"], r["external_auth_configuration"]

    def test_external_auth_enable_disable(self):
        api = self.api
        self.assertEqual(self.auth_fields(), ("", "", {}))
        self.assertXapiError("AUTH_IS_DISABLED", api.auth.get_subject_identifier, "root")
        self.assertXapiError("AUTH_IS_DISABLED", api.auth.get_subject_information_from_identifier, "u0")
        self.assertXapiError("AUTH_IS_DISABLED", api.auth.get_group_membership, "u0")
        self.assertXapiError("AUTH_IS_DISABLED", api.subject.create,
                             {"subject_identifier": "u0", "other_config": {}})
        # refused types change nothing
        e = self.assertXapiError("POOL_AUTH_ENABLE_FAILED", api.pool.enable_external_auth, self.pool,
                                 {"domain": "example.org", "user": "admin", "pass": "Sekrit-AD-pw"}, "example.org",
                                 "AD")
        self.assertEqual(e.params[0], self.host)
        self.assertIn("Active Directory", e.params[1])
        audit = read(os.path.join(self.srv.data_dir, "audit.log"))
        self.assertIn("pool.enable_external_auth", audit)
        self.assertNotIn("Sekrit-AD-pw", audit)  # the domain password is elided
        self.assertXapiError("AUTH_ENABLE_FAILED", api.host.enable_external_auth, self.host, {}, "x", "AD")
        self.assertXapiError("AUTH_UNKNOWN_TYPE", api.pool.enable_external_auth, self.pool, {}, "x", "LDAP",
                             params=["LDAP"])
        self.assertXapiError("AUTH_UNKNOWN_TYPE", api.host.enable_external_auth, self.host, {}, "x", "")
        self.assertXapiError("HANDLE_INVALID", api.pool.enable_external_auth, "OpaqueRef:x", {}, "x", "PAM")
        self.assertXapiError("HANDLE_INVALID", api.host.enable_external_auth, "OpaqueRef:x", {}, "x", "PAM")
        self.assertEqual(self.auth_fields(), ("", "", {}))
        # PAM: the one-time credentials are not kept
        api.pool.enable_external_auth(self.pool, {"user": "admin", "pass": "secret", "domain": "local"},
                                      "xenon-pam", "PAM")
        self.assertEqual(self.auth_fields(), ("PAM", "xenon-pam", {"domain": "local"}))
        self.assertEqual(api.auth.get_subject_identifier("root"), "u0")
        self.assertEqual(api.auth.get_subject_information_from_identifier("u0")["subject-name"], "root")
        self.assertXapiError("POOL_AUTH_ALREADY_ENABLED", api.pool.enable_external_auth, self.pool, {}, "y",
                             "PAM", params=[self.host])
        self.assertXapiError("AUTH_ALREADY_ENABLED", api.host.enable_external_auth, self.host, {}, "y", "PAM",
                             params=["PAM", "xenon-pam"])
        api.pool.detect_nonhomogeneous_external_auth(self.pool)  # one host: nothing to say
        self.assertFalse([m for m in api.message.get_all_records().values()
                          if m["name"] == "EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS"])
        self.assertXapiError("HANDLE_INVALID", api.pool.detect_nonhomogeneous_external_auth, "OpaqueRef:x")
        api.pool.disable_external_auth(self.pool, {})
        self.assertEqual(self.auth_fields(), ("", "", {}))
        self.assertXapiError("AUTH_IS_DISABLED", api.auth.get_subject_identifier, "root")
        api.pool.disable_external_auth(self.pool, {})  # already off: fine
        # the host's calls and xe's commands
        api.host.enable_external_auth(self.host, {}, "svc", "PAM")
        self.assertEqual(self.auth_fields()[:2], ("PAM", "svc"))
        api.host.disable_external_auth(self.host, {})
        uuid = api.host.get_uuid(self.host)
        self.xe("host-enable-external-auth", "host-uuid=" + uuid, "auth-type=PAM", "service-name=svc2")
        self.assertEqual(self.auth_fields()[:2], ("PAM", "svc2"))
        self.xe("host-disable-external-auth", "host-uuid=" + uuid)
        self.xe_fails("POOL_AUTH_ENABLE_FAILED", "pool-enable-external-auth", "auth-type=AD",
                      "service-name=example.org", "config:user=a", "config:pass=b")
        self.xe("pool-enable-external-auth", "auth-type=PAM", "service-name=svc3", "config:k=v")
        self.assertEqual(self.auth_fields(), ("PAM", "svc3", {"k": "v"}))
        self.xe("pool-disable-external-auth")
        self.assertEqual(self.auth_fields(), ("", "", {}))

    def test_system_accounts_log_in_only_with_external_auth(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to add a system account")
        subprocess.run(["userdel", USER], check=False, capture_output=True)
        subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", USER], check=True)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (USER, PASSWORD), text=True, check=True)
        api = self.api
        try:
            uid = pwd.getpwnam(USER).pw_uid
            self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.srv.login, USER, PASSWORD)
            api.pool.enable_external_auth(self.pool, {}, "", "PAM")
            subject = api.subject.create({"subject_identifier": api.auth.get_subject_identifier(USER),
                                          "other_config": {}})
            self.assertEqual(api.subject.get_subject_identifier(subject), "u%d" % uid)
            api.subject.add_to_roles(subject, api.role.get_by_name_label("read-only")[0])
            s = self.srv.login(USER, PASSWORD)
            self.assertEqual(api.session.get_auth_user_sid(s), "u%d" % uid)
            self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.srv.login, USER, "wrong")
            # off again: the subject's session ends, and it may not log in
            api.pool.disable_external_auth(self.pool, {})
            self.assertXapiError("SESSION_INVALID", self.srv.call, "session.get_uuid", s, s)
            self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.srv.login, USER, PASSWORD)
            # root and its password are local: unaffected
            self.srv.login()
            api.subject.destroy(subject)
        finally:
            try:
                api.pool.disable_external_auth(self.pool, {})
            finally:
                subprocess.run(["userdel", USER], check=False, capture_output=True)


def wait_for(pred, timeout, what):
    end, last = time.monotonic() + timeout, None
    while time.monotonic() < end:
        try:
            last = pred()
            if last:
                return last
        except (harness.XapiError, OSError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class PoolOfTwo(harness.unittest.TestCase):
    """The pool's calls on two lab hosts (network namespaces) talking TLS."""
    assertXapiError = harness.ServerTestCase.assertXapiError

    def test_pool_calls(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for the lab's namespaces")
        l = lab.Lab(2)
        with l:
            for h in l.hosts:
                h.start(extra_args=["--tls-listen", "%s:4443" % h.address])
            h1, h2 = l.hosts
            a1 = h1.server.api
            r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + h1.server.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 2, 30, "two hosts")
            ref = {h.name: [x for x in a1.host.get_all() if a1.host.get_address(x) == h.address][0] for h in l.hosts}
            live = lambda h: a1.host_metrics.get_live(a1.host.get_metrics(ref[h.name]))
            wait_for(lambda: live(h2), 30, "h2 live")
            pool = a1.pool.get_all()[0]
            u2 = a1.host.get_uuid(ref["h2"])
            h2cert = os.path.join(h1.data_dir, "pool-certs", u2 + ".pem")
            wait_for(lambda: os.path.exists(h2cert), 10, "h2's certificate on h1")

            # external authentication on both hosts, one host's through the master
            def auth(h):
                r = a1.host.get_record(ref[h.name])
                return r["external_auth_type"], r["external_auth_service_name"]
            a1.pool.enable_external_auth(pool, {}, "svc", "PAM")
            self.assertEqual((auth(h1), auth(h2)), (("PAM", "svc"), ("PAM", "svc")))
            self.assertXapiError("POOL_AUTH_ALREADY_ENABLED", a1.pool.enable_external_auth, pool, {}, "svc", "PAM")
            nonhomo = lambda: [m for m in a1.message.get_all_records().values()
                               if m["name"] == "EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS"]
            self.assertEqual(nonhomo(), [])
            a1.host.disable_external_auth(ref["h2"], {})  # runs on h2
            self.assertEqual(auth(h2), ("", ""))
            msgs = wait_for(nonhomo, 10, "the non-homogeneous message")
            self.assertEqual([m["obj_uuid"] for m in msgs], [u2])
            self.assertIn("master_external_auth_type=PAM", msgs[0]["body"])
            a1.pool.detect_nonhomogeneous_external_auth(pool)
            self.assertEqual(len(nonhomo()), 1, "the same finding is not repeated")
            a1.pool.disable_external_auth(pool, {})
            self.assertEqual((auth(h1), auth(h2)), (("", ""), ("", "")))
            # AD: a domain's machine accounts are named after the hosts, and
            # the lab's hosts share one hostname
            self.assertXapiError("POOL_AUTH_ENABLE_FAILED_DUPLICATE_HOSTNAME", a1.pool.enable_external_auth,
                                 pool, {}, "example.org", "AD")
            self.assertEqual((auth(h1), auth(h2)), (("", ""), ("", "")))

            # a member's new certificate: the master learns it, and still talks to it
            before = a1.host.get_server_certificate(ref["h2"])
            a1.host.refresh_server_certificate(ref["h2"])
            # (a heartbeat may miss while the key changes: the next one finds it)
            wait_for(lambda: live(h2), 10, "h2 live with its new key")
            after = a1.host.get_server_certificate(ref["h2"])  # over TLS with the new key pinned
            self.assertNotEqual(pem_fingerprint(before), pem_fingerprint(after))
            self.assertEqual(pem_fingerprint(read(h2cert)), pem_fingerprint(after))
            a1.host.get_servertime(ref["h2"])

            # certificate_sync puts back what a host lacks
            os.unlink(h2cert)
            a1.host.get_servertime(ref["h2"])  # plain HTTP while TLS is not verified
            a1.pool.certificate_sync()
            self.assertEqual(pem_fingerprint(read(h2cert)), pem_fingerprint(after))
            mine = os.path.join(h2.data_dir, "pool-certs", a1.host.get_uuid(ref["h1"]) + ".pem")
            self.assertEqual(pem_fingerprint(read(mine)), pem_fingerprint(a1.host.get_server_certificate(ref["h1"])))

            # TLS verification: then no plain HTTP to a host whose certificate is unknown
            self.assertFalse(a1.pool.get_tls_verification_enabled(pool))
            a1.pool.enable_tls_verification()
            self.assertTrue(a1.pool.get_tls_verification_enabled(pool))
            self.assertTrue(all(a1.host.get_tls_verification_enabled(ref[h.name]) for h in l.hosts))
            saved = read(h2cert)
            os.unlink(h2cert)
            self.assertXapiError("HOST_OFFLINE", a1.host.get_servertime, ref["h2"])
            with open(h2cert, "w") as f:
                f.write(saved)
            a1.host.get_servertime(ref["h2"])

            # a host that fails half-way: the hosts done are undone
            h2.server.kill9()
            e = self.assertXapiError("POOL_AUTH_ENABLE_FAILED", a1.pool.enable_external_auth, pool, {}, "s", "PAM")
            self.assertEqual(e.params[0], ref["h2"])
            self.assertIn("HOST_OFFLINE", e.params[1])
            self.assertEqual(auth(h1), ("", ""))

    def test_trust_pool_wide(self):
        """The pool's CAs and revocation lists on every host (a joining host
        takes the pool's), client-certificate authentication on every
        host's live port, and a host that later becomes master honouring
        all of it at once."""
        if os.geteuid() != 0:
            self.skipTest("needs root for the lab's namespaces")
        tmp = tempfile.mkdtemp(prefix="xenon-pooltrust-")
        self.addCleanup(subprocess.run, ["rm", "-rf", tmp], check=False)
        pa, pb, pc = Pki(tmp, "pool-a"), Pki(tmp, "pool-b"), Pki(tmp, "pool-c")
        good_a, revoked_a = pa.client("good-a", CLIENT_NAME), pa.client("revoked-a", CLIENT_NAME)
        good_b, revoked_b = pb.client("good-b", CLIENT_NAME), pb.client("revoked-b", CLIENT_NAME)
        good_c = pc.client("good-c", CLIENT_NAME)
        pd = Pki(tmp, "pool-d")
        good_d, revoked_d = pd.client("good-d", CLIENT_NAME), pd.client("revoked-d", CLIENT_NAME)
        l = lab.Lab(2)
        with l:
            for h in l.hosts:
                h.start(extra_args=["--tls-listen", "%s:4443" % h.address])
            h1, h2 = l.hosts
            a1, a2 = h1.server.api, h2.server.api
            listing = lambda h, kind: {n: read(os.path.join(h.data_dir, kind, n))
                                       for n in sorted(os.listdir(os.path.join(h.data_dir, kind)))
                                       if not n.startswith(".")} if os.path.isdir(
                                           os.path.join(h.data_dir, kind)) else {}
            # before the join: the pool (h1 alone) trusts CA a and revokes one
            # of its certificates; h2 trusts CA d and revokes one of its, and
            # has a file named as one of the pool's
            a1.pool.install_ca_certificate("pool-a.pem", read(pa.ca))
            a1.pool.crl_install("revoked-a.pem", pa.crl(revoked_a[0]))
            a2.pool.install_ca_certificate("own-d.pem", read(pd.ca))
            a2.pool.crl_install("own-d-crl.pem", pd.crl(revoked_d[0]))
            a2.pool.install_ca_certificate("pool-a.pem", read(pb.ca))
            r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + h1.server.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(lambda: len(a1.host.get_all()) == 2, 30, "two hosts")
            ref = {h.name: [x for x in a1.host.get_all() if a1.host.get_address(x) == h.address][0] for h in l.hosts}
            live = lambda h: a1.host_metrics.get_live(a1.host.get_metrics(ref[h.name]))
            wait_for(lambda: live(h2), 30, "h2 live")
            pool = a1.pool.get_all()[0]
            # the sets merged as xapi merges them at a join: the joining
            # host's added to the pool's on both hosts, the pool's file kept
            # where the names meet
            for h in l.hosts:
                self.assertEqual(listing(h, "ca"), {"pool-a.pem": read(pa.ca), "own-d.pem": read(pd.ca)}, h.name)
                self.assertEqual(sorted(listing(h, "crl")), ["own-d-crl.pem", "revoked-a.pem"], h.name)
            self.assertEqual(listing(h2, "crl"), listing(h1, "crl"))
            cas = lambda: sorted(c["name"] for c in a1.Certificate.get_all_records().values() if c["type"] == "ca")
            self.assertEqual(cas(), ["own-d.pem", "pool-a.pem"])

            # client-certificate authentication through the master: the
            # member's live port asks for certificates, no restart
            self.assertFalse(asks_for_certificate(h2.address, 4443))
            a1.pool.enable_client_certificate_auth(pool, CLIENT_NAME)
            self.assertTrue(asks_for_certificate(h1.address, 4443))
            wait_for(lambda: asks_for_certificate(h2.address, 4443), 10, "h2's port asking for certificates")

            # installs through the master reach the member when the call returns
            a1.pool.install_ca_certificate("pool-b.pem", read(pb.ca))
            self.assertEqual(listing(h2, "ca"), {"pool-a.pem": read(pa.ca), "pool-b.pem": read(pb.ca),
                                                 "own-d.pem": read(pd.ca)})
            crl_b = pb.crl(revoked_b[0])
            a1.pool.crl_install("revoked-b.pem", crl_b)
            self.assertEqual(listing(h2, "crl")["revoked-b.pem"], crl_b)
            # and uninstalls: a CA and a revocation list (of good_a) gone from both
            a1.pool.install_ca_certificate("pool-c.pem", read(pc.ca))
            a1.pool.crl_install("gone.pem", pa.crl(good_a[0]))
            self.assertIn("pool-c.pem", listing(h2, "ca"))
            self.assertIn("gone.pem", listing(h2, "crl"))
            a1.pool.uninstall_ca_certificate("pool-c.pem")
            a1.pool.crl_uninstall("gone.pem")
            for h in l.hosts:
                self.assertEqual(sorted(listing(h, "ca")), ["own-d.pem", "pool-a.pem", "pool-b.pem"], h.name)
                self.assertEqual(sorted(listing(h, "crl")), ["own-d-crl.pem", "revoked-a.pem", "revoked-b.pem"],
                                 h.name)
            self.assertEqual(a1.pool.crl_list(), ["own-d-crl.pem", "revoked-a.pem", "revoked-b.pem"])

            # bad input: xapi's errors, nothing on either host
            before = [(listing(h, "ca"), listing(h, "crl")) for h in l.hosts]
            self.assertXapiError("CERTIFICATE_NAME_INVALID", a1.pool.install_ca_certificate, "../x.pem", read(pc.ca))
            self.assertXapiError("CERTIFICATE_CORRUPT", a1.pool.install_ca_certificate, "junk.pem", "junk")
            self.assertXapiError("CERTIFICATE_ALREADY_EXISTS", a1.pool.install_ca_certificate, "pool-a.pem",
                                 read(pc.ca))
            self.assertXapiError("CERTIFICATE_DOES_NOT_EXIST", a1.pool.uninstall_ca_certificate, "pool-c.pem")
            self.assertXapiError("CRL_NAME_INVALID", a1.pool.crl_install, "../x.pem", crl_b)
            self.assertXapiError("CRL_CORRUPT", a1.pool.crl_install, "junk.pem", read(pc.ca))
            self.assertXapiError("CRL_ALREADY_EXISTS", a1.pool.crl_install, "revoked-b.pem", crl_b)
            self.assertXapiError("CRL_DOES_NOT_EXIST", a1.pool.crl_uninstall, "gone.pem")
            # the hosts' own call is theirs alone
            self.assertXapiError("OPERATION_NOT_ALLOWED", h1.server.call, "pool.trust_store_set",
                                 h1.server.session, "ca", {})
            self.assertEqual([(listing(h, "ca"), listing(h, "crl")) for h in l.hosts], before)
            self.assertEqual(cas(), ["own-d.pem", "pool-a.pem", "pool-b.pem"])

            # h2 becomes master: its port lets in what the pool trusts, at once
            a1.pool.designate_new_master(ref["h2"])
            h2.server._session = None  # the one from before its join is gone with its store
            a2 = h2.server.api
            self.assertEqual(a2.pool.get_master(pool), ref["h2"])
            m2 = (h2.address, 4443)
            s, err = tls_login(good_a, addr=m2)
            self.assertIsNone(err)
            self.assertTrue(a2.session.get_client_certificate(s))
            s, err = tls_login(good_b, addr=m2)  # CA b: installed after the join
            self.assertIsNone(err)
            self.assertEqual(tls_login(revoked_a, addr=m2)[1][0], "SESSION_AUTHENTICATION_FAILED")  # at the join
            self.assertEqual(tls_login(revoked_b, addr=m2)[1][0], "SESSION_AUTHENTICATION_FAILED")  # after it
            self.assertIsNone(tls_login(good_d, addr=m2)[1])  # the joining host's CA, kept
            self.assertEqual(tls_login(revoked_d, addr=m2)[1][0], "SESSION_AUTHENTICATION_FAILED")
            self.assertEqual(tls_login(good_c, addr=m2)[1][0], "SESSION_AUTHENTICATION_FAILED")  # CA c uninstalled
            self.assertEqual(tls_login(None, addr=m2)[1][0], "SESSION_AUTHENTICATION_FAILED")
            # switched off through the new master: the old one's port stops asking
            a2.pool.disable_client_certificate_auth(pool)
            self.assertFalse(asks_for_certificate(h2.address, 4443))
            wait_for(lambda: not asks_for_certificate(h1.address, 4443), 10, "h1's port no longer asking")
            self.assertEqual(tls_login(good_a, addr=m2)[1][0], "SESSION_AUTHENTICATION_FAILED")

            # a host that cannot take an install fails it, as xapi's: the
            # host's error, and nothing left on the host that ran it
            time.sleep(1.5)  # the new master takes the old one's vote away
            h1.server.kill9()
            before = (listing(h2, "ca"), listing(h2, "crl"))
            self.assertXapiError("HOST_OFFLINE", a2.pool.install_ca_certificate, "late.pem", read(pc.ca))
            self.assertXapiError("HOST_OFFLINE", a2.pool.crl_install, "late.pem", pc.crl(good_c[0]))
            self.assertEqual((listing(h2, "ca"), listing(h2, "crl")), before)
            self.assertEqual(sorted(c["name"] for c in a2.Certificate.get_all_records().values()
                                    if c["type"] == "ca"), ["own-d.pem", "pool-a.pem", "pool-b.pem"])
            # an uninstall meanwhile: done here, the host's error answered (as
            # xapi's); the host drops it when it answers again
            self.assertXapiError("HOST_OFFLINE", a2.pool.crl_uninstall, "revoked-b.pem")
            self.assertEqual(sorted(listing(h2, "crl")), ["own-d-crl.pem", "revoked-a.pem"])
            self.assertIn("revoked-b.pem", listing(h1, "crl"))
            h1.server.start(timeout=40, port=h1.port)
            live1 = lambda: a2.host_metrics.get_live(a2.host.get_metrics(ref["h1"]))
            wait_for(lambda: live1() and sorted(listing(h1, "crl")) == ["own-d-crl.pem", "revoked-a.pem"], 30,
                     "h1 back with the pool's revocation lists")
            self.assertEqual(listing(h1, "ca"), listing(h2, "ca"))
            for h in l.hosts:  # sanitized builds report here
                log = read(h.server.log_path)
                self.assertNotIn("runtime error", log, h.name)
                self.assertNotIn("AddressSanitizer", log, h.name)


if __name__ == "__main__":
    harness.unittest.main()
