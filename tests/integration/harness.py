"""Shared plumbing for the integration suites: runs a real xenond on a free
loopback port in a temporary data directory and talks to it the way real
clients do (JSON-RPC v1/v2, XML-RPC through xmlrpc.client as XenAPI.py uses
it, raw HTTP, and the xe binary). Python standard library only.

Each test_*.py is a standalone unittest module; call harness.main() from it.
Environment: XENOND and XE name the binaries (defaults: build/src/server/xenond
and build/src/cli/xe under the repository root); XENOND_WRAPPER is a command
prefix for the daemon (valgrind)."""

import atexit
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XENOND = os.environ.get("XENOND") or os.path.join(ROOT, "build", "src", "server", "xenond")
# xe of the same build as xenond unless named
XE = os.environ.get("XE") or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(XENOND))), "cli", "xe")

REF_RE = re.compile(r"^OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TOKEN_RE = re.compile(r"^[0-9]{20},[0-9]{20}$")
XMLRPC_DATETIME_RE = re.compile(r"^[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
NULL_REF = "OpaqueRef:NULL"
MiB = 1 << 20
GiB = 1 << 30

_servers = []          # every Server made in this process, for the failure dump
_tmpdirs = []          # removed at exit


def _tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


@atexit.register
def _cleanup():
    for s in list(_servers):
        try:
            s.stop()
        except Exception:
            pass
    if os.environ.get("XENON_KEEP_TMP"):
        return
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


def data_dir_with_users(users, password, prefix="xenon-users-"):
    """A fresh data directory whose users file gives each user (name → role)
    the same password, as crypt(3) SHA-512 hashes."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    data_dir = _tmpdir(prefix)
    with open(os.path.join(data_dir, "users"), "w") as f:
        for user, role in users.items():
            f.write("%s:%s:%s\n" % (user, crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512)), role))
    return data_dir


NETNS_ENV = "XENON_TEST_NETNS"


def run_in_netns(path):
    """For the suites that make links (test_network, test_faults_vif):
    outside a namespace, makes one of its own (xenon-test-<random>, its
    loopback up), runs the test file path inside it with the same
    arguments and NETNS_ENV naming it, removes it; returns the exit code.
    The daemon, its QEMUs and the test then share the namespace."""
    import random
    ip = shutil.which("ip")
    ns = "xenon-test-%08x" % random.getrandbits(32)
    subprocess.run([ip, "netns", "add", ns], check=True)
    try:
        subprocess.run([ip, "-n", ns, "link", "set", "lo", "up"], check=True)
        env = dict(os.environ, **{NETNS_ENV: ns})
        p = subprocess.run([ip, "netns", "exec", ns, sys.executable, os.path.abspath(path)] + sys.argv[1:],
                           env=env)
        return p.returncode
    finally:
        # QEMUs left by a crashed run keep the namespace's devices alive;
        # the test's atexit kills them, so by now deleting is final
        subprocess.run([ip, "netns", "del", ns])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # The daemon must not outlive a test run that crashes or is killed.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def file_tail(path, n=30):
    """The last n lines of a text file (a server's log), "" if it cannot be read."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class XapiError(Exception):
    """A XenAPI failure: code plus parameter list, as the wire carries it."""

    def __init__(self, code, params=(), raw=None):
        self.code = code
        self.params = list(params)
        self.raw = raw
        super().__init__("%s %r" % (code, self.params))

    @property
    def details(self):
        return [self.code] + self.params


class HttpResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def content_type(self):
        return self.header("Content-Type")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<HTTP %d %s %r>" % (self.status, self.content_type, self.body[:300])


class _Dispatcher:
    """srv.api.VM.get_record(ref) → JSON-RPC "VM.get_record" [session, ref];
    srv.api("VM.get_record", ref) the same, with the name given whole."""

    def __init__(self, send, name=None):
        self._send = send
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Dispatcher(self._send, name if self._name is None else self._name + "." + name)

    def __call__(self, *args):
        if self._name is None:
            return self._send(args[0], args[1:])
        return self._send(self._name, args)


class Server:
    """One xenond process. start() picks a free port; the data directory is
    kept across restart() so durability can be checked. config is the text
    of a xenond.conf written into the data directory; call_timeout the
    default seconds an RPC may take."""

    def __init__(self, data_dir=None, log_level=None, extra_args=(), backend="sim", config=None,
                 call_timeout=30, host="127.0.0.1", prefix=()):
        self.data_dir = data_dir or _tmpdir("xenon-it-")
        self.password_file = os.path.join(self.data_dir, "root-password")
        self.log_path = os.path.join(self.data_dir, "xenond.stderr")
        self.log_level = log_level
        self.extra_args = list(extra_args)
        if config is not None:
            conf = os.path.join(self.data_dir, "xenond.conf")
            with open(conf, "w") as f:
                f.write(config)
            self.extra_args += ["--config", conf]
        self.call_timeout = call_timeout
        self.backend = backend
        # the address it listens on and is reached at, and a command prefix
        # (e.g. ip netns exec NS) that runs it elsewhere (tests/integration/lab.py)
        self.host = host
        self.prefix = list(prefix)
        self.proc = None
        self.port = None
        self.password = None
        self._session = None
        self._log = None
        _servers.append(self)

    # ---- process control ----

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=30.0, port=None):
        if not os.path.exists(XENOND):
            raise RuntimeError("xenond binary not found at %s (set XENOND)" % XENOND)
        last = None
        for _attempt in range(3):
            self.port = port or free_port()
            args = [XENOND, "--data-dir", self.data_dir, "--listen", "%s:%d" % (self.host, self.port),
                    "--tls-listen", "", "--root-password-file", self.password_file,
                    "--backend", self.backend]
            if self.log_level:
                args += ["--log-level", self.log_level]
            args += self.extra_args
            # XENOND_WRAPPER runs the daemon under a tool, e.g. valgrind (make valgrind)
            wrapper = os.environ.get("XENOND_WRAPPER")
            if wrapper:
                args = wrapper.split() + args
            args = self.prefix + args
            self._log = open(self.log_path, "ab")
            self._log.write(("\n==== %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(args))).encode())
            self._log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=self._log, preexec_fn=_die_with_parent)
            try:
                self._wait_ready(timeout)
                self._session = None
                self.password = self._read_password()
                return self
            except Exception as e:  # port stolen, crash at start: try again
                last = e
                self._reap(signal.SIGKILL)
                if port:
                    break
        raise RuntimeError("xenond did not start: %s\n%s" % (last, self.log_tail()))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xenond exited with status %s" % self.proc.returncode)
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    pass
                # accepting connections; make sure it answers RPCs too
                r = self.post("/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "system.listMethods",
                                                      "params": [], "id": 1}).encode(),
                              {"Content-Type": "application/json"}, timeout=5)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("xenond not ready after %.0fs" % timeout)

    def _read_password(self):
        with open(self.password_file) as f:
            lines = [l.strip() for l in f.read().splitlines() if l.strip()]
        return lines[-1]

    def _reap(self, sig):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None

    def stop(self):
        self._reap(signal.SIGTERM)

    def kill9(self):
        self._reap(signal.SIGKILL)

    def restart(self, same_port=False, timeout=30.0):
        self.stop()
        return self.start(timeout=timeout, port=self.port if same_port else None)

    def await_restart(self, old_session, timeout=60.0):
        """After host.restart_agent: waits until the daemon's new image
        answers — the old session is then unknown (sessions do not outlive
        the daemon, as in xapi) — and forgets the cached session. The
        process stays the same (xenond re-executes itself in place), so
        proc, pid and the log keep tracking it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xenond exited (status %s) while restarting\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                self.call("session.get_uuid", old_session, old_session, timeout=5)
            except XapiError as e:
                if e.code == "SESSION_INVALID":
                    self._session = None
                    return
            except (OSError, AssertionError, http.client.HTTPException, ValueError):
                pass  # between two images: refused, reset or cut short
            time.sleep(0.05)
        raise RuntimeError("xenond did not come back after a restart\n" + self.log_tail())

    def log_tail(self, n=200):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def thread_count(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        raise RuntimeError("no Threads: line")

    # ---- raw HTTP ----

    def connection(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def post(self, path, body, headers=None, timeout=30, method="POST"):
        c = self.connection(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return HttpResponse(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def raw_request(self, data, timeout=30):
        """Send bytes on a fresh socket and read the whole reply (for bodies
        the server may refuse before reading them)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break  # callers check what arrived (maybe nothing)
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    # ---- JSON-RPC ----

    def jsonrpc_raw(self, method, params, version=2, id=1, path="/jsonrpc", timeout=30):
        req = {"method": method, "params": list(params), "id": id}
        if version == 2:
            req["jsonrpc"] = "2.0"
        return self.post(path, json.dumps(req).encode(), {"Content-Type": "application/json"},
                         timeout=timeout)

    def jsonrpc(self, method, params, version=2, id=1, timeout=30):
        """The decoded reply envelope (dict)."""
        r = self.jsonrpc_raw(method, params, version, id, timeout=timeout)
        if r.status != 200:
            raise AssertionError("%s: HTTP %d %r" % (method, r.status, r.body[:500]))
        return r.json()

    def call(self, method, *params, timeout=None):
        """JSON-RPC 2.0 call; the result, or XapiError."""
        env = self.jsonrpc(method, params, 2, timeout=timeout or self.call_timeout)
        if "error" in env:
            e = env["error"]
            if not isinstance(e, dict):
                raise AssertionError("malformed v2 error %r" % (env,))
            raise XapiError(e.get("message"), e.get("data") or [], env)
        return env["result"]

    def call1(self, method, *params, timeout=None):
        """JSON-RPC 1.0 call."""
        env = self.jsonrpc(method, params, 1, timeout=timeout or self.call_timeout)
        if env.get("error") is not None:
            e = env["error"]
            raise XapiError(e[0], e[1:], env)
        return env["result"]

    def login(self, user="root", password=None):
        return self.call("session.login_with_password", user,
                         self.password if password is None else password, "1.0", "xenon-tests")

    @property
    def session(self):
        if self._session is None:
            self._session = self.login()
        return self._session

    @property
    def api(self):
        """srv.api.Class.msg(args…) with the shared session prepended."""
        return _Dispatcher(lambda name, args: self.call(name, self.session, *args))

    def api_for(self, session):
        return _Dispatcher(lambda name, args: self.call(name, session, *args))

    # ---- XML-RPC (XenAPI.py style) ----

    def xenapi_session(self, path=""):
        return XenAPISession(self.url + path)

    # ---- xe ----

    def xe(self, *args, timeout=60, minimal=False, password=None, input=None):
        cmd = [XE, "-s", self.host, "-p", str(self.port), "--nossl", "-u", "root",
               "-pw", self.password if password is None else password]
        cmd += list(args)
        if minimal:
            cmd.append("--minimal")
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              text=True, input=input)


# ---- a re-implementation of what XenAPI.py does over xmlrpc.client ----

class Failure(Exception):
    def __init__(self, details):
        self.details = details
        super().__init__(str(details))


_RECONNECT_AND_RETRY = object()


def _parse_result(result):
    if not isinstance(result, dict) or "Status" not in result:
        raise xmlrpc.client.Fault(500, "Missing Status in response from server: %r" % (result,))
    if result["Status"] == "Success":
        if "Value" in result:
            return result["Value"]
        raise xmlrpc.client.Fault(500, "Missing Value in response from server")
    if "ErrorDescription" in result:
        if result["ErrorDescription"][0] == "SESSION_INVALID":
            return _RECONNECT_AND_RETRY
        raise Failure(result["ErrorDescription"])
    raise xmlrpc.client.Fault(500, "Missing ErrorDescription in response from server")


class _XDispatcher:
    def __init__(self, send, name):
        self._send = send
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _XDispatcher(self._send, name if self._name is None else "%s.%s" % (self._name, name))

    def __call__(self, *args):
        return self._send(self._name, args)


class XenAPISession(xmlrpc.client.ServerProxy):
    """Behaves like XenAPI.Session: login_with_password stores the session,
    session.xenapi.X.y(args) prepends it and unwraps {Status, Value}, a
    Failure carries ErrorDescription, SESSION_INVALID triggers a re-login."""

    def __init__(self, uri):
        xmlrpc.client.ServerProxy.__init__(self, uri, None, None, 0, True)
        self._session = None
        self.last_login_method = None
        self.last_login_params = None
        self.API_version = "1.1"

    def xenapi_request(self, methodname, params):
        if methodname.startswith("login"):
            self._login(methodname, params)
            return None
        if methodname in ("logout", "session.logout"):
            self._logout()
            return None
        for _ in range(3):
            full = (self._session,) + tuple(params)
            result = _parse_result(getattr(self, methodname)(*full))
            if result is _RECONNECT_AND_RETRY:
                if not self.last_login_method:
                    raise xmlrpc.client.Fault(401, "You must log in")
                self._login(self.last_login_method, self.last_login_params)
            else:
                return result
        raise xmlrpc.client.Fault(500, "Tried 3 times to get a valid session, but failed")

    def _login(self, method, params):
        result = _parse_result(getattr(self, "session.%s" % method)(*params))
        if result is _RECONNECT_AND_RETRY:
            raise xmlrpc.client.Fault(500, "Received SESSION_INVALID when logging in")
        self._session = result
        self.last_login_method = method
        self.last_login_params = params
        self.API_version = self._get_api_version()

    def _logout(self):
        try:
            if self._session is not None:
                _parse_result(getattr(self, "session.logout")(self._session))
        finally:
            self._session = None
            self.last_login_method = None
            self.last_login_params = None

    def _get_api_version(self):
        pool = self.xenapi.pool.get_all()[0]
        host = self.xenapi.pool.get_master(pool)
        major = self.xenapi.host.get_API_version_major(host)
        minor = self.xenapi.host.get_API_version_minor(host)
        return "%s.%s" % (major, minor)

    def __getattr__(self, name):
        if name == "handle":
            return self._session
        if name == "xenapi":
            return _XDispatcher(self.xenapi_request, None)
        if name.startswith("login") or name.startswith("slave_local"):
            return lambda *params: self._login(name, params)
        if name == "logout":
            return _XDispatcher(self.xenapi_request, "logout")
        return xmlrpc.client.ServerProxy.__getattr__(self, name)


def xmlrpc_body(method, params):
    return xmlrpc.client.dumps(tuple(params), method, allow_none=True).encode("utf-8")


# ---- test-case base ----

class ServerTestCase(unittest.TestCase):
    """One xenond per test module (class), started in setUpClass."""
    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(**cls.server_kwargs)
        cls.srv.start()
        cls.api = cls.srv.api

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        # one crash must not hide every later result: note it and restart
        if not self.srv.alive():
            rc = self.srv.proc.returncode if self.srv.proc else None
            sys.stderr.write("\n*** xenond had died (exit status %s); restarting it on the same data dir\n" % rc)
            self.srv.restart()
            type(self).api = self.srv.api

    # helpers

    def assertXapiError(self, code, fn, *args, params=None, **kw):
        """fn(*args) must fail with XenAPI error `code` (and exactly `params`
        when given). Returns the error."""
        try:
            r = fn(*args, **kw)
        except XapiError as e:
            self.assertEqual(e.code, code, "expected %s, got %s %r" % (code, e.code, e.params))
            if params is not None:
                self.assertEqual(e.params, list(params), "params of %s" % code)
            return e
        self.fail("expected XenAPI error %s, got success %r" % (code, r))

    def wait_for(self, predicate, timeout=10.0, interval=0.02, msg="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(interval)
        self.fail("timed out waiting for %s" % msg)

    def wait_task(self, task, timeout=30.0, api=None):
        api = api or self.api
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rec = api.task.get_record(task)
            if rec["status"] not in ("pending", "cancelling"):
                return rec
            time.sleep(0.02)
        self.fail("task %s still pending after %.0fs" % (task, timeout))

    def template(self, name="Other install media"):
        refs = self.api.VM.get_by_name_label(name)
        self.assertTrue(refs, "template %r missing" % name)
        return refs[0]

    def new_vm(self, name="it-vm", template="Other install media", provision=True):
        """A fresh (non-template) VM cloned from a template."""
        vm = self.api.VM.clone(self.template(template), name)
        if provision:
            self.api.VM.provision(vm)
        if self.api.VM.get_is_a_template(vm):
            self.api.VM.set_is_a_template(vm, False)
        return vm


    def destroy_vm(self, vm):
        """Best-effort cleanup: halt if needed, then destroy."""
        try:
            if self.api.VM.get_power_state(vm) != "Halted":
                self.api.VM.hard_shutdown(vm)
        except XapiError:
            pass
        try:
            self.api.VM.destroy(vm)
        except XapiError:
            pass


# ---- disk images on the host (qemu-img, qemu-io from qemu-utils) ----

def run(*argv, check=True):
    """Runs argv, text output captured; AssertionError when it fails and check."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(argv), r.stderr))
    return r


def image_chain(path):
    """Filenames of the image's backing chain, top first."""
    out = run("qemu-img", "info", "-U", "--backing-chain", "--output=json", path).stdout
    return [os.path.basename(i["filename"]) for i in json.loads(out)]


def image_info(path):
    return json.loads(run("qemu-img", "info", "--output=json", path).stdout)


def write_pattern(path, pattern, off, length):
    """Writes byte `pattern` over [off, off+length) of a qcow2 image."""
    run("qemu-io", "-f", "qcow2", "-c", "write -P %d %s %s" % (pattern, off, length), path)


def reads_pattern(path, pattern, off, length):
    """Whether [off, off+length) of a qcow2 image holds byte `pattern`."""
    r = run("qemu-io", "-r", "-f", "qcow2", "-c", "read -P %d %s %s" % (pattern, off, length),
            path, check=False)
    return r.returncode == 0 and "Pattern verification failed" not in r.stdout


def classes_with(srv, suffix=".get_all_records"):
    """Class names advertised by system.listMethods that have `suffix`."""
    names = srv.call("system.listMethods")
    return sorted({m[:-len(suffix)] for m in names if m.endswith(suffix) and m.count(".") == 1})


def main():
    """Run the calling module's tests; on failure show each xenond's stderr.
    Exit status: 0 ok, 1 failure, 77 (meson's "skipped") if every test was
    skipped."""
    import __main__
    prog = unittest.main(module=__main__, exit=False, verbosity=2)
    res = prog.result
    ok = res.wasSuccessful()
    if not ok:
        for s in _servers:
            sys.stderr.write("\n===== xenond stderr (%s) =====\n%s\n" % (s.log_path, s.log_tail(300)))
    for s in list(_servers):
        try:
            s.stop()
        except Exception:
            pass
    if ok and res.testsRun and len(res.skipped) == res.testsRun:
        sys.exit(77)
    sys.exit(0 if ok else 1)
