#!/usr/bin/env python3
"""The cost of the RBAC check: VM.get_record calls/s from a root session
(which skips RBAC) and from a read-only subject's session (checked on
every call), on the same daemon and store, in one run, alternating.

The read-only subject is a real system account (useradd, removed at the
end), made a subject with subject.create and given read-only with
subject.add_to_roles, logged in through PAM. Without root, a read-only
user of the daemon's password file stands in (same check per call).

wrk (bench/wrk_rpc.lua) drives JSON-RPC over keep-alive connections, 1
and 8 clients, a random VM of BENCH_NVMS (1,000) per call; each config runs
--reps times per session, alternating root and subject; the medians and
the bests are compared, and the daemon's CPU time per call (less swayed by
other load on the machine than calls/s). Every answer is checked for
success.

    python3 bench/rbac_bench.py [--seconds 3] [--reps 7]

Uses XENOND (default build-bench/src/server/xenond, a release build).
Loopback only."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbench  # noqa: E402
from api_bench import run_wrk, loadavg  # noqa: E402

ACCOUNT = "xnbench-ro"
PASSWORD = "Bench-ro-pw-7"


def make_account():
    subprocess.run(["userdel", ACCOUNT], capture_output=True)
    subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", ACCOUNT], check=True)
    subprocess.run(["chpasswd"], input="%s:%s\n" % (ACCOUNT, PASSWORD), text=True, check=True)


def callgrind(data, refs_file, n):
    """Instructions per VM.get_record call, root and read-only, with the
    daemon under callgrind (counted only around n calls of each, after 200
    uncounted ones): a measure the machine's other load does not move."""
    port = xbench.PORT + 7
    out = os.path.join(os.path.dirname(data), "cg")
    os.makedirs(out, exist_ok=True)
    vg = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                           "--callgrind-out-file=" + os.path.join(out, "cg.%p"), xbench.XENOND,
                           "--data-dir", data, "--listen", "127.0.0.1:%d" % port, "--tls-listen", "",
                           "--root-password-file", os.path.join(data, "root-password"), "--backend", "sim",
                           "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time
        for _ in range(600):
            try:
                r = xbench.Rpc(port, timeout=300)
                root = xbench.login(r, data)
                break
            except Exception:  # still starting under valgrind
                time.sleep(0.5)
        ro = r.call("session.login_with_password", ACCOUNT, PASSWORD, "1.0", "rbac-bench")
        client = os.path.join(xbench.HERE, "rpc_client.py")
        per = {}
        for who, s in (("root", root), ("ro", ro)):
            subprocess.run([sys.executable, client, str(port), s, refs_file, "json", "200"], check=True)
            subprocess.run(["callgrind_control", "-i", "on", str(vg.pid)], capture_output=True)
            subprocess.run([sys.executable, client, str(port), s, refs_file, "json", str(n)], check=True)
            subprocess.run(["callgrind_control", "-d", who, str(vg.pid)], capture_output=True)
            subprocess.run(["callgrind_control", "-i", "off", str(vg.pid)], capture_output=True)
            subprocess.run(["callgrind_control", "-z", str(vg.pid)], capture_output=True)
        r.close()
    finally:
        vg.terminate()
        vg.wait()
    for f in sorted(os.listdir(out)):
        path = os.path.join(out, f)
        who = total = None
        with open(path) as fh:
            for line in fh:
                if line.startswith("desc: Trigger"):
                    who = line.split()[-1]
                elif line.startswith(("summary:", "totals:")) and total is None:
                    total = int(line.split()[1])
        if who in ("root", "ro") and total:
            per[who] = total / n
    if "root" in per and "ro" in per:
        xbench.log("callgrind: %.0f instructions a call as root, %.0f as the read-only subject" % (
            per["root"], per["ro"]))
        print("\ncallgrind, %d calls each: %.0f instructions a VM.get_record as root, %.0f as the read-only "
              "subject (%.4f×)" % (n, per["root"], per["ro"], per["ro"] / per["root"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--callgrind", type=int, default=2000,
                    help="calls counted under callgrind per session (0: skip)")
    ap.add_argument("--vms", type=int, default=int(os.environ.get("BENCH_NVMS", "1000")))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="xenon-rbac-bench-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    as_root = os.geteuid() == 0
    if not as_root:  # a read-only user of the password file instead
        import crypt
        with open(os.path.join(data, "users"), "w") as f:
            f.write("%s:%s:read-only\n" % (ACCOUNT, crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_SHA512))))
    d = xbench.Daemon(data_dir=data, port=xbench.PORT).start()
    try:
        d.wait_ready()
        xbench.populate(data_dir=data, port=d.port, target=a.vms)
        r = xbench.Rpc(d.port)
        root = xbench.login(r, data)
        kind = "password-file user"
        if as_root:
            make_account()
            # subjects come through external authentication (PAM here)
            r.call("pool.enable_external_auth", root, r.call("pool.get_all", root)[0], {}, "", "PAM")
            sid = r.call("auth.get_subject_identifier", root, ACCOUNT)
            subj = r.call("subject.create", root, {"subject_identifier": sid, "other_config": {}})
            r.call("subject.add_to_roles", root, subj, r.call("role.get_by_name_label", root, "read-only")[0])
            kind = "PAM subject %s" % sid
        ro = r.call("session.login_with_password", ACCOUNT, PASSWORD, "1.0", "rbac-bench")
        rec = r.call("session.get_record", root, ro)
        assert not rec["is_local_superuser"]
        # the subject really is checked: a write is refused
        try:
            r.call("VM.set_name_label", ro, xbench.vm_refs(r, root)[0], "x")
            raise SystemExit("a read-only session could write")
        except RuntimeError as e:
            assert "RBAC_PERMISSION_DENIED" in str(e), e
        refs_file = os.path.join(work, "refs")
        with open(refs_file, "w") as f:
            f.write("\n".join(xbench.vm_refs(r, root)) + "\n")
        run_wrk(d, "json", "VM.get_record", 8, 2, root, refs_file)  # warm-up
        rows = []
        xbench.log("load average %s; read-only session: %s" % (loadavg(), kind))
        for conns in (1, 8):
            res = {"root": [], "ro": []}
            for _ in range(a.reps):
                for who, s in (("root", root), ("ro", ro)):
                    out = run_wrk(d, "json", "VM.get_record", conns, a.seconds, s, refs_file)
                    if int(out["bad"]):
                        raise SystemExit("%s: %s failed answers" % (who, out["bad"]))
                    res[who].append((float(out["calls_per_s"]), float(out["server_cpu_us_per_call"])))
            med = {w: sorted(x[0] for x in v)[len(v) // 2] for w, v in res.items()}
            best = {w: max(x[0] for x in v) for w, v in res.items()}
            cpu = {w: sorted(x[1] for x in v)[len(v) // 2] for w, v in res.items()}
            rows.append((conns, med, best, cpu, res))
            xbench.log("c=%d median root %.0f / read-only %.0f calls/s (%.3f×), best %.0f / %.0f (%.3f×), "
                       "server CPU %.1f / %.1f µs a call" % (
                           conns, med["root"], med["ro"], med["ro"] / med["root"], best["root"], best["ro"],
                           best["ro"] / best["root"], cpu["root"], cpu["ro"]))
        print("| clients | root calls/s (median / best) | read-only subject calls/s (median / best) | "
              "ratio of medians | ratio of bests | server CPU µs a call, root / read-only | runs root | runs read-only |")
        print("|---|---|---|---|---|---|---|---|")
        for conns, med, best, cpu, res in rows:
            print("| %d | %.0f / %.0f | %.0f / %.0f | %.3f× | %.3f× | %.1f / %.1f | %s | %s |" % (
                conns, med["root"], best["root"], med["ro"], best["ro"], med["ro"] / med["root"],
                best["ro"] / best["root"], cpu["root"], cpu["ro"],
                ", ".join("%.0f" % x[0] for x in res["root"]), ", ".join("%.0f" % x[0] for x in res["ro"])))
        print("load average at the end: %s" % loadavg())
        r.close()
        d.stop()
        if a.callgrind and shutil.which("valgrind"):
            callgrind(data, refs_file, a.callgrind)
    finally:
        d.stop()
        if as_root:
            subprocess.run(["userdel", ACCOUNT], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
