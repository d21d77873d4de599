#!/bin/sh
# Runs the Xenon benchmarks (see bench/README.md):
#   1. api_bench.py    VM.get_record / VM.get_all_records, JSON-RPC and XML-RPC,
#                      1 and 8 keep-alive clients (wrk), beside libvirt's
#                      virDomainGetInfo (test driver, in-process and via libvirtd)
#      stream_bench.py 8 clients reading VM.get_all_records over and over:
#                      RSS idle/peak/VmHWM, p50/p99 (BENCH_BEFORE=another
#                      xenond puts it beside this one)
#   2. event_latency.py event.from wake-up after a VM.set_name_label commit
#   3. cold_start.py   restart on the 10,000-VM data dir: time to login and
#                      VM.get_all, VmRSS/VmHWM
#   4. vm_start.py     real VMs (QEMU, TCG): VM.start beside the same QEMU argv
#                      by hand and libvirt's virsh start; serial console, clean
#                      shutdown; 20 VMs started at once
#   5. export_bench.py export/import of a 4 GiB disk (2 GiB data) beside cat and
#                      qemu-img convert; empty 100 GiB disk
#   7. metrics_bench.py 1,000 sim VMs sampled every 5 s: xenond's CPU and RSS per
#                      VM; /rrd_updates over 10 minutes (XML, JSON) and /metrics
#                      beside `rrdtool xport` of the same files (13 minutes;
#                      --quick: 100 VMs, 2 minutes)
#
#   bench/run_all.sh            # full run, about 40 minutes
#   bench/run_all.sh --quick    # smoke test, about 10 minutes
#   options (any order): --quick, --no-api (skips 1-3), --no-vms (skips 4),
#   --no-concurrent (the 20-VM part of 4), --no-libvirt (libvirt column of 4),
#   --no-export (skips 5), --no-big-raw (the 100 GiB raw export of 5),
#   --no-metrics (skips 7)
#
# Builds a release xenond in build-bench/ if there is none (XENOND=path to
# use another), populates /tmp/xenon-bench/data with 10,000 VMs on first use
# (BENCH_DATA_DIR, BENCH_NVMS, BENCH_PORT override), and writes the tables
# to /tmp/xenon-bench/results (BENCH_OUT). Traffic stays on 127.0.0.1.
set -eu
cd "$(dirname "$0")/.."

QUICK= NO_API= NO_VMS= NO_EXPORT= NO_METRICS= VM_OPTS= EXPORT_OPTS=
for arg in "$@"; do
	case "$arg" in
	--quick) QUICK=1 ;;
	--no-api) NO_API=1 ;;
	--no-vms) NO_VMS=1 ;;
	--no-export) NO_EXPORT=1 ;;
	--no-metrics) NO_METRICS=1 ;;
	--no-concurrent | --no-libvirt) VM_OPTS="$VM_OPTS $arg" ;;
	--no-big-raw) EXPORT_OPTS="$EXPORT_OPTS $arg" ;;
	*) echo "run_all: unknown option $arg" >&2; exit 2 ;;
	esac
done

need() { command -v "$1" >/dev/null 2>&1 || { echo "run_all: $1 missing (apt-get install $2)" >&2; exit 1; }; }
if [ -z "$NO_API" ]; then
	need wrk wrk
	need cc gcc
	need pkg-config pkg-config
	pkg-config --exists libvirt || { echo "run_all: libvirt-dev missing (apt-get install libvirt-dev)" >&2; exit 1; }
	command -v libvirtd >/dev/null 2>&1 ||
		echo "run_all: libvirtd not installed (apt-get install libvirt-daemon): libvirtd rows will be skipped" >&2
fi
if [ -z "$NO_VMS" ]; then
	need qemu-system-x86_64 qemu-system-x86
	command -v virsh >/dev/null 2>&1 && command -v libvirtd >/dev/null 2>&1 ||
		echo "run_all: virsh/libvirtd missing (apt-get install libvirt-clients libvirt-daemon-driver-qemu): libvirt column skipped" >&2
fi
if [ -z "$NO_EXPORT" ]; then
	need curl curl
	need qemu-img qemu-utils
	need zstd zstd
fi

if [ -z "$NO_METRICS" ]; then
	need rrdtool rrdtool
fi

if [ -z "${XENOND:-}" ]; then
	if [ ! -x build-bench/src/server/xenond ]; then
		meson setup build-bench -Dbuildtype=release >/dev/null
	fi
	ninja -C build-bench src/server/xenond >/dev/null
	export XENOND="$PWD/build-bench/src/server/xenond"
fi

echo "machine: $(nproc) cores, $(uname -r), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "xenond:  $XENOND"
echo

# the VM and transfer benchmarks keep their files (4 GiB and 100 GiB sparse
# images) in a directory of their own under TMPDIR, removed at the end
export TMPDIR="${TMPDIR:-/tmp}"

if [ -z "$NO_API" ]; then
	if [ -n "$QUICK" ]; then
		python3 bench/api_bench.py --quick
		python3 bench/stream_bench.py --seconds 5 ${BENCH_BEFORE:+--before "$BENCH_BEFORE"}
		python3 bench/event_latency.py --iterations 200
		python3 bench/cold_start.py --runs 1
	else
		python3 bench/api_bench.py
		python3 bench/stream_bench.py ${BENCH_BEFORE:+--before "$BENCH_BEFORE"}
		python3 bench/event_latency.py --iterations 1000
		python3 bench/event_latency.py --iterations 1000 --op other_config
		python3 bench/event_latency.py --iterations 200 --bg-all-records
		python3 bench/cold_start.py --runs 3
	fi
fi
# shellcheck disable=SC2086 # option lists are split on purpose
if [ -z "$NO_VMS" ]; then
	python3 bench/vm_start.py ${QUICK:+--quick} $VM_OPTS
fi
# shellcheck disable=SC2086
if [ -z "$NO_EXPORT" ]; then
	python3 bench/export_bench.py ${QUICK:+--quick} $EXPORT_OPTS
fi
if [ -z "$NO_METRICS" ]; then
	if [ -n "$QUICK" ]; then
		python3 bench/metrics_bench.py --vms 100 --minutes 2 --idle-seconds 10 --repeat 2
	else
		python3 bench/metrics_bench.py
	fi
fi
