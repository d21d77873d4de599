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
--reps times per session, alternating root and subject, and the medians
are compared. Every answer is checked for success.

    python3 bench/rbac_bench.py [--seconds 5] [--reps 3]

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
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
                    res[who].append(float(out["calls_per_s"]))
            med = {w: sorted(v)[len(v) // 2] for w, v in res.items()}
            ratio = med["ro"] / med["root"]
            rows.append((conns, med["root"], med["ro"], ratio, res))
            xbench.log("c=%d root %.0f calls/s, read-only %.0f calls/s: %.3f×  (runs root %s, ro %s)" % (
                conns, med["root"], med["ro"], ratio, ["%.0f" % x for x in res["root"]],
                ["%.0f" % x for x in res["ro"]]))
        print("| clients | root calls/s | read-only subject calls/s | ratio | runs (root / read-only) |")
        print("|---|---|---|---|---|")
        for conns, a_, b, ratio, res in rows:
            print("| %d | %.0f | %.0f | %.3f× | %s / %s |" % (conns, a_, b, ratio,
                  ", ".join("%.0f" % x for x in res["root"]), ", ".join("%.0f" % x for x in res["ro"])))
        print("load average at the end: %s" % loadavg())
        r.close()
    finally:
        d.stop()
        if as_root:
            subprocess.run(["userdel", ACCOUNT], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
