#!/bin/sh
# web/build.sh OUT: installs the lockfile's packages when they changed
# (npm ci, from npm's registry only) and builds the console into OUT.
set -e
cd "$(dirname "$0")"
# one npm ci at a time: build directories share web/node_modules
exec 9>node_modules.lock
flock 9
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
exec node build.mjs "$1"
