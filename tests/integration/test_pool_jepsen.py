"""A randomized run in the manner of Jepsen on a pool of three hosts in the
lab: for a bounded time a nemesis kills (-9) and restarts hosts and cuts
hosts off the network and heals them, one fault at a time, while clients
read and write registers (other_config["reg"] of one VM per key) through
whichever host is master, following HOST_IS_SLAVE. Every operation's
start, end and outcome is recorded; then the history of each key is
checked linearizable (linearizability.py) and every acknowledged write
that no later write replaced is the value read at the end. Snapshots are
made often (threshold 64 entries), so restarted hosts also catch up from
images.

XENON_JEPSEN_SECONDS sets the length of the faulty phase (default 45)."""

import json
import os
import random
import threading
import time
import unittest

import harness
import lab
import linearizability
import pool_util

SECONDS = float(os.environ.get("XENON_JEPSEN_SECONDS", "45"))
CLIENTS = 4
KEYS = 4
CALL_TIMEOUT = 3


class Indeterminate(Exception):
    pass


class Client:
    """Calls the pool's master, wherever it is: a login on a host that is
    not master answers HOST_IS_SLAVE with the master's address."""

    def __init__(self, pool):
        self.pool = pool
        self.host = None
        self.session = None

    def _connect(self, deadline):
        hosts = list(self.pool.lab.hosts)
        random.shuffle(hosts)
        order = ([self.host] if self.host else []) + hosts
        while time.monotonic() < deadline:
            for h in order:
                if not h.server.alive():
                    continue
                try:
                    self.session = h.server.call("session.login_with_password", "root", h.server.password,
                                                 "1.0", "jepsen", timeout=CALL_TIMEOUT)
                    self.host = h
                    return
                except harness.XapiError as e:
                    if e.code == "HOST_IS_SLAVE" and e.params and e.params[0] in self.pool.by_address:
                        m = self.pool.by_address[e.params[0]]
                        order = [m] + [x for x in order if x is not m]
                except Exception:
                    pass
            time.sleep(0.05)
        raise TimeoutError("no master")

    def call(self, method, *args, deadline):
        """The result; raises harness.XapiError when the call was refused
        before anything happened, Indeterminate when its outcome is
        unknown."""
        if self.session is None:
            self._connect(deadline)
        try:
            return self.host.server.call(method, self.session, *args, timeout=CALL_TIMEOUT)
        except harness.XapiError as e:
            if e.code in ("HOST_IS_SLAVE", "SESSION_INVALID"):
                self.session = None  # refused: nothing was done
                raise
            raise Indeterminate("%s %s" % (e.code, e.params))
        except Exception as e:  # timeout, reset, refused mid-call
            self.session = None
            raise Indeterminate(repr(e))


class JepsenTest(unittest.TestCase):
    def test_registers_under_faults(self):
        self.assertEqual(linearizability.self_test(), 9)
        l = lab.Lab(3)
        with l:
            pool = pool_util.Pool(l, "pool-snapshot-threshold=64\npool-snapshot-trailing=16\n",
                                  call_timeout=CALL_TIMEOUT)
            self.addCleanup(pool.close)
            pool.start()
            master = pool.find_master(20)
            self.assertIsNotNone(master)
            api = master.server.api
            tmpl = [v for v in api.VM.get_all() if api.VM.get_is_a_template(v)][0]
            vms = []
            for k in range(KEYS):
                vm = api.VM.clone(tmpl, "jepsen-%d" % k)
                api.VM.set_other_config(vm, {"reg": "init"})
                vms.append(vm)

            t_zero = time.monotonic()
            history = {k: [] for k in range(KEYS)}
            hlock = threading.Lock()
            stop = threading.Event()
            counter = [0]
            stats = {"ok": 0, "fail": 0, "info": 0}

            def client_main(cid):
                c = Client(pool)
                rnd = random.Random(cid)
                while not stop.is_set():
                    k = rnd.randrange(KEYS)
                    if rnd.random() < 0.5:
                        with hlock:
                            counter[0] += 1
                            val = "c%d-%d" % (cid, counter[0])
                        op = {"kind": "write", "value": val}
                    else:
                        op = {"kind": "read", "value": None}
                    op["start"] = time.monotonic() - t_zero
                    deadline = time.monotonic() + 10
                    try:
                        if op["kind"] == "write":
                            c.call("VM.set_other_config", vms[k], {"reg": op["value"]}, deadline=deadline)
                        else:
                            oc = c.call("VM.get_other_config", vms[k], deadline=deadline)
                            op["value"] = oc.get("reg")
                        op["end"] = time.monotonic() - t_zero
                        op["status"] = "ok"
                    except (harness.XapiError, TimeoutError):
                        op["status"] = "fail"
                    except Indeterminate as e:
                        op["status"] = "info"
                        op["end"] = None
                        op["why"] = str(e)
                    with hlock:
                        stats[op["status"]] += 1
                        history[k].append(op)
                    time.sleep(rnd.random() * 0.01)

            faults = []

            def nemesis():
                rnd = random.Random()
                end = time.monotonic() + SECONDS
                while time.monotonic() < end:
                    time.sleep(rnd.uniform(1.0, 3.0))
                    m = pool.find_master(5)
                    target = m if m and rnd.random() < 0.7 else rnd.choice(l.hosts)
                    if rnd.random() < 0.5:
                        faults.append(("kill", target.name, round(time.monotonic() - t_zero, 2)))
                        pool.kill(target)
                        time.sleep(rnd.uniform(0.5, 3.0))
                        pool.restart(target)
                    else:
                        faults.append(("cut", target.name, round(time.monotonic() - t_zero, 2)))
                        l.cut(target)
                        time.sleep(rnd.uniform(1.0, 4.0))
                        l.heal(target)

            clients = [threading.Thread(target=client_main, args=(i,), daemon=True) for i in range(CLIENTS)]
            for t in clients:
                t.start()
            nemesis()
            # a quiet while at the end: the pool settles, clients keep going
            for h in l.hosts:
                l.heal(h)
                if not h.server.alive():
                    pool.restart(h)
            time.sleep(3)
            stop.set()
            for t in clients:
                t.join(30)
            print("# %d faults: %s" % (len(faults), faults))
            print("# operations: %(ok)d ok, %(fail)d refused, %(info)d unknown outcome" % stats)
            self.assertGreater(stats["ok"], 200, "clients got work done between faults")
            self.assertGreaterEqual(len(faults), 5)

            # final reads: every host agrees, and each key's history with
            # its final read is linearizable
            master = pool.find_master(20)
            self.assertIsNotNone(master)
            api = master.server.api
            final = {}
            for k in range(KEYS):
                t0 = time.monotonic() - t_zero
                final[k] = api.VM.get_other_config(vms[k]).get("reg")
                history[k].append({"kind": "read", "value": final[k], "start": t0,
                                   "end": time.monotonic() - t_zero, "status": "ok"})
            for h in l.hosts:
                end = time.monotonic() + 10
                while True:
                    rows = pool_util.stored_rows(h, "VM")
                    got = {k: rows.get(vms[k], {}).get("other_config", {}).get("reg") for k in range(KEYS)}
                    if got == final or time.monotonic() > end:
                        break
                    time.sleep(0.1)
                self.assertEqual(got, final, "%s's SQLite holds the master's values" % h.name)

            anomalies = []
            lost = []
            for k in range(KEYS):
                ops = [o for o in history[k] if o["status"] == "ok" or
                       (o["status"] == "info" and o["kind"] == "write")]
                ok = linearizability.check(ops, initial="init")
                if not ok:
                    anomalies.append(k)
                    path = os.path.join(l.hosts[0].data_dir, "history-%d.json" % k)
                    with open(path, "w") as f:
                        json.dump(ops, f)
                    print("# key %d: not linearizable, history in %s" % (k, path))
                # the last acknowledged write, if no write could follow it,
                # is the value read at the end
                acked = [o for o in ops if o["kind"] == "write" and o["status"] == "ok"]
                if acked:
                    last = max(acked, key=lambda o: o["end"])
                    later = [o for o in ops if o["kind"] == "write" and o is not last and
                             (o["end"] is None or o["end"] > last["start"])]
                    if not later and final[k] != last["value"]:
                        lost.append((k, last["value"], final[k]))
                print("# key %d: %d operations checked" % (k, len(ops)))
            self.assertEqual(anomalies, [], "keys whose history is not linearizable")
            self.assertEqual(lost, [], "acknowledged writes lost")


if __name__ == "__main__":
    harness.main()
