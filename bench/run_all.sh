#!/bin/sh
# Runs the three Xenon benchmarks (see bench/README.md):
#   1. api_bench.py    VM.get_record / VM.get_all_records, JSON-RPC and XML-RPC,
#                      1 and 8 keep-alive clients (wrk), beside libvirt's
#                      virDomainGetInfo (test driver, in-process and via libvirtd)
#   2. event_latency.py event.from wake-up after a VM.set_name_label commit
#   3. cold_start.py   restart on the 10,000-VM data dir: time to login and
#                      VM.get_all, VmRSS/VmHWM
#
#   bench/run_all.sh            # full run, about 8 minutes
#   bench/run_all.sh --quick    # smoke test, about 2 minutes
#
# Builds a release xenond in build-bench/ if there is none (XENOND=path to
# use another), populates /tmp/xenon-bench/data with 10,000 VMs on first use
# (BENCH_DATA_DIR, BENCH_NVMS, BENCH_PORT override), and writes the tables
# to /tmp/xenon-bench/results (BENCH_OUT). Traffic stays on 127.0.0.1.
set -eu
cd "$(dirname "$0")/.."

QUICK=
[ "${1:-}" = "--quick" ] && QUICK=1

need() { command -v "$1" >/dev/null 2>&1 || { echo "run_all: $1 missing (apt-get install $2)" >&2; exit 1; }; }
need wrk wrk
need cc gcc
need pkg-config pkg-config
pkg-config --exists libvirt || { echo "run_all: libvirt-dev missing (apt-get install libvirt-dev)" >&2; exit 1; }
command -v libvirtd >/dev/null 2>&1 ||
	echo "run_all: libvirtd not installed (apt-get install libvirt-daemon): libvirtd rows will be skipped" >&2

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

if [ -n "$QUICK" ]; then
	python3 bench/api_bench.py --quick
	python3 bench/event_latency.py --iterations 200
	python3 bench/cold_start.py --runs 1
else
	python3 bench/api_bench.py
	python3 bench/event_latency.py --iterations 1000
	python3 bench/event_latency.py --iterations 1000 --op other_config
	python3 bench/event_latency.py --iterations 200 --bg-all-records
	python3 bench/cold_start.py --runs 3
fi
