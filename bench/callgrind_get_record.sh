#!/bin/bash
# Instructions per VM.get_record call in xenond, JSON-RPC and XML-RPC:
# xenond under callgrind on the benchmark's store (api_bench.py makes it),
# instrumentation switched on only around N calls on one keep-alive
# connection (after 200 uninstrumented warm-up calls), then divided by N.
# Also keeps each protocol's first raw answer (headers and body) in
# $OUT/answer.TAG.{json,xml}, to check that a change leaves the bytes alone.
#
#   bench/callgrind_get_record.sh [XENOND] [N] [TAG]
#
# Callgrind counts each byte of a "rep stosb" as an instruction, so
# libmicrohttpd's memset of the connection pool (about 98k per call at
# 64 KiB) weighs far more here than in time; the script prints it apart.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
X=${1:-$HERE/../build-bench/src/server/xenond}; N=${2:-2000}; TAG=${3:-run}
DATA=${BENCH_DATA_DIR:-/tmp/xenon-bench/data}
REFS=${REFS:-$(dirname "$DATA")/vm-refs.txt}
OUT=${BENCH_OUT:-/tmp/xenon-bench/results}/callgrind
P=${CG_PORT:-18590}
mkdir -p "$OUT"; rm -f "$OUT"/cg."$TAG".*
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/cg.$TAG.%p" \
  "$X" --data-dir "$DATA" --listen 127.0.0.1:$P --tls-listen "" \
  --root-password-file "$DATA/root-password" --backend sim --log-level warn \
  > "$OUT/valgrind.$TAG.log" 2>&1 &
VP=$!
S=$(BENCHDIR=$HERE python3 -c "
import os, sys, time; sys.path.insert(0, os.environ['BENCHDIR'])
import xbench
for i in range(600):
    try:
        r = xbench.Rpc($P, timeout=300); print(xbench.login(r, '$DATA')); break
    except Exception: time.sleep(0.5)
")
for proto in json xml; do
  python3 "$HERE/rpc_client.py" $P "$S" "$REFS" $proto 200 "$OUT/answer.$TAG.$proto"
  callgrind_control -i on $VP >/dev/null 2>&1
  python3 "$HERE/rpc_client.py" $P "$S" "$REFS" $proto "$N"
  callgrind_control -d $proto $VP >/dev/null 2>&1
  callgrind_control -i off $VP >/dev/null 2>&1
  callgrind_control -z $VP >/dev/null 2>&1
done
kill $VP; wait $VP || true
for f in "$OUT"/cg."$TAG".*.[12]; do
  t=$(grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
  m=$(callgrind_annotate --inclusive=no "$f" 2>/dev/null | grep memset-vec | head -1 | awk '{gsub(",","",$1); print $1}')
  echo "$(grep -m1 '^desc: Trigger' "$f" | awk '{print $NF}') Ir/call $((t / N)), of which memset $((${m:-0} / N)), rest $(((t - ${m:-0}) / N))  ($f)"
done
