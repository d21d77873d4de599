#!/bin/sh
# Runs every test suite in a sanitizer build (ASan + UBSan) and prints one
# closing line "N passed, N failed". Exits non-zero if anything failed.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-check}
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
else
	meson setup --reconfigure "$BUILD" >/dev/null
fi
ninja -C "$BUILD"
if [ -d tests/compat ] && [ -f tests/compat/package-lock.json ] && [ ! -d tests/compat/node_modules ]; then
	(cd tests/compat && npm ci --no-audit --no-fund)
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@" || status=$?
python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    res = r.get("result")
    if res in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif res == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
