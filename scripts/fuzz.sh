#!/bin/sh
# The libFuzzer harnesses of fuzz/, built with clang (ASan + UBSan) in a
# build directory of their own (BUILD_FUZZ, default build-fuzz).
#   scripts/fuzz.sh build              builds every harness
#   scripts/fuzz.sh check NAME         runs one for FUZZ_SECONDS (4) on its
#                                      corpus, new inputs kept in a scratch dir
#   scripts/fuzz.sh run [NAME...]      runs each (all by default) for
#                                      FUZZ_SECONDS (300) or FUZZ_RUNS
#                                      executions, whichever comes first
#                                      (no bound by default), new inputs kept in
#                                      $BUILD_FUZZ/corpus/NAME; crashes in
#                                      $BUILD_FUZZ/crashes; a line of figures each
set -e
cd "$(dirname "$0")/.."
BUILD_FUZZ=${BUILD_FUZZ:-build-fuzz}
ALL="xmlrpc jsonrpc filter httpq rrd_updates xva vhd ovf qcow2 chunked xe_args"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

build() {
	mkdir -p "$BUILD_FUZZ"
	# one configure and build at a time (the test suite runs several checks)
	exec 9>"$BUILD_FUZZ.lock"
	flock 9
	if [ ! -f "$BUILD_FUZZ/build.ninja" ]; then
		CC=clang meson setup "$BUILD_FUZZ" -Dfuzz=true -Dweb=disabled -Db_sanitize=address,undefined \
			-Db_lundef=false -Dbuildtype=debugoptimized >"$BUILD_FUZZ.setup.log" 2>&1 ||
			{ cat "$BUILD_FUZZ.setup.log"; exit 1; }
	fi
	targets=""
	for n in "$@"; do targets="$targets fuzz/fuzz_$n"; done
	ninja -C "$BUILD_FUZZ" -j"${FUZZ_JOBS:-2}" $targets >"$BUILD_FUZZ.build.log" 2>&1 ||
		{ tail -50 "$BUILD_FUZZ.build.log"; exit 1; }
	flock -u 9
}

# run NAME SECONDS OUTDIR: libFuzzer on OUTDIR and the tree's corpus
run_one() {
	name=$1 secs=$2 out=$3
	mkdir -p "$out" "$BUILD_FUZZ/crashes"
	"$BUILD_FUZZ/fuzz/fuzz_$name" -max_total_time="$secs" -runs="${FUZZ_RUNS:--1}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$BUILD_FUZZ/crashes/$name-" \
		"$out" "fuzz/corpus/$name" >"$BUILD_FUZZ/fuzz-$name.log" 2>&1 || {
		tail -60 "$BUILD_FUZZ/fuzz-$name.log"
		echo "fuzz_$name: FAILED (input in $BUILD_FUZZ/crashes/)"
		return 1
	}
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD_FUZZ/fuzz-$name.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$BUILD_FUZZ/fuzz-$name.log")
	cov=$(grep -o 'cov: [0-9]*' "$BUILD_FUZZ/fuzz-$name.log" | tail -1 | cut -d' ' -f2)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$BUILD_FUZZ/fuzz-$name.log")
	echo "fuzz_$name: ${took:-$secs}s, $execs executions, $rate exec/s, $cov edges"
}

case "${1:-}" in
build)
	build $ALL
	;;
check)
	[ -n "$2" ] || { echo "usage: $0 check NAME" >&2; exit 2; }
	build "$2"
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	run_one "$2" "${FUZZ_SECONDS:-4}" "$scratch"
	;;
run)
	shift
	names=${*:-$ALL}
	build $names
	status=0
	for n in $names; do
		run_one "$n" "${FUZZ_SECONDS:-300}" "$BUILD_FUZZ/corpus/$n" || status=1
	done
	exit $status
	;;
*)
	echo "usage: $0 build | check NAME | run [NAME...]" >&2
	exit 2
	;;
esac
