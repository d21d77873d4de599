#!/usr/bin/env python3
"""Capture overhead: a guest's TCP throughput to the host with and without
a live capture of its VIF running, in one run.

A real xenond (--backend qemu) in a network namespace of its own runs the
tiny test guest (direct boot, TCG, 1 vCPU, virtio-net) on a network whose
bridge has the host's address. Each sample: the guest sends --mib MiB of
zeros with busybox `dd | nc` to a TCP listener here, which times the bytes
from the first to the last. The modes, interleaved round by round (the
order rotates, so load from elsewhere hits all alike):

  none      no capture
  capture   GET /capture of the VIF, no filter, full snaplen, read here as
            fast as it comes and thrown away (every packet copied into the
            stream: the worst case)
  filtered  GET /capture with a filter no packet passes ("udp port 1"):
            the cost of a capture that matches nothing
  tcpdump   the reference: `tcpdump -i vif<domid>.0 -w /dev/null` on the
            same tap, what a XenServer user runs in dom0

Printed: the median and spread of MB/s per mode, and the bytes each capture
delivered. Usage (root): XENOND=build/src/server/xenond python3
bench/capture_bench.py [--rounds 5] [--mib 24]"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

if __name__ == "__main__" and not os.environ.get(harness.NETNS_ENV):
    if os.geteuid() != 0:
        sys.exit("needs root (a network namespace, taps)")
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402

HOST_IP, GUEST_IP, PORT = "10.77.9.254", "10.77.9.1", 5001


def receive(listener, result):
    c, _ = listener.accept()
    n, t0 = 0, None
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        if t0 is None:
            t0 = time.monotonic()
        n += len(b)
    result["bytes"], result["secs"] = n, time.monotonic() - t0
    c.close()


class Capture:
    def __init__(self, srv, **q):
        self.sock = socket.create_connection((srv.host, srv.port))
        self.sock.sendall(("GET /capture?%s HTTP/1.1\r\nHost: x\r\n\r\n" % urllib.parse.urlencode(q)).encode())
        self.n = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            while True:
                b = self.sock.recv(1 << 20)
                if not b:
                    break
                self.n += len(b)
        except OSError:
            pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.t.join(5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=24)
    a = ap.parse_args()

    class T(guest.GuestMixin):
        pass
    T.srv = harness.Server(backend="qemu")
    guest.install(T)
    T.srv.start()
    t = T()
    t.api = T.srv.api
    api = t.api
    try:
        net = api.network.create({"name_label": "bench", "name_description": "", "MTU": 1500, "other_config": {},
                                  "bridge": "", "managed": True, "tags": []})
        vm = t.new_vm("bench", PV_args=guest.ARGS + " xenon.ip=%s/24" % GUEST_IP)
        vif = api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                              "qos_algorithm_type": "", "qos_algorithm_params": {}})
        api.VM.start(vm, False, False)
        deadline = time.monotonic() + 120
        while guest.READY not in t.serial(vm) and time.monotonic() < deadline:
            time.sleep(0.1)
        bridge = api.network.get_bridge(net)
        subprocess.run(["ip", "addr", "add", HOST_IP + "/24", "dev", bridge], check=True)
        tap = "vif%d.0" % api.VM.get_domid(vm)
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((HOST_IP, PORT))
        lst.listen(1)
        sid = T.srv.session
        modes = ["none", "capture", "filtered", "tcpdump"]
        res = {m: [] for m in modes}
        captured = {m: [] for m in modes}
        cmd = "dd if=/dev/zero bs=64k count=%d 2>/dev/null | nc %s %d" % (a.mib * 16, HOST_IP, PORT)

        def sample():
            out = {}
            th = threading.Thread(target=receive, args=(lst, out))
            th.start()
            T.srv.call("VM.guest_exec", sid, vm, ["sh", "-c", cmd], "", 120, timeout=150)
            th.join(120)
            return out["bytes"] / out["secs"] / 1e6

        sample()  # warm-up
        for r in range(a.rounds):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            for m in order:
                cap = td = None
                if m == "capture":
                    cap = Capture(T.srv, session_id=sid, ref=vif)
                elif m == "filtered":
                    cap = Capture(T.srv, session_id=sid, ref=vif, filter="udp port 1")
                elif m == "tcpdump":
                    td = subprocess.Popen([shutil.which("tcpdump"), "-i", tap, "-w", "/dev/null", "-U"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                res[m].append(sample())
                if cap:
                    time.sleep(0.3)
                    captured[m].append(cap.n)
                    cap.close()
                if td:
                    td.terminate()
                    td.wait()
                print("round %d %-9s %7.1f MB/s" % (r + 1, m, res[m][-1]), flush=True)
        print("\nguest -> host TCP, %d MiB per sample, %d rounds, load average %s" %
              (a.mib, a.rounds, open("/proc/loadavg").read().split()[:3]))
        base = statistics.median(res["none"])
        for m in modes:
            med = statistics.median(res[m])
            extra = ""
            if captured[m]:
                extra = "  stream %.1f MB per sample" % (statistics.median(captured[m]) / 1e6)
            print("%-9s median %7.1f MB/s  (min %6.1f, max %6.1f)  %5.1f%% of none%s" %
                  (m, med, min(res[m]), max(res[m]), 100 * med / base, extra))
    finally:
        try:
            api.VM.hard_shutdown(vm)
        except Exception:
            pass
        T.srv.stop()
        guest._kill_leftover_qemus()


if __name__ == "__main__":
    main()
