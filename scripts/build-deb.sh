#!/bin/sh
# Builds the Debian packages (xenon-server, xenon-cli, libxenon-client-dev)
# with dpkg-buildpackage -us -uc from a copy of the tree's files (tracked
# and new, not ignored ones) in a scratch directory, so nothing is written
# beside the tree. Usage: scripts/build-deb.sh [OUTDIR] (default build-deb)
set -e
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
src="$scratch/xenon-0.1.0"
mkdir -p "$src" "$out"
git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$src"
(cd "$src" && dpkg-buildpackage -us -uc >"$out/dpkg-buildpackage.log" 2>&1) ||
	{ tail -40 "$out/dpkg-buildpackage.log"; exit 1; }
cp "$scratch"/*.deb "$scratch"/*.dsc "$scratch"/*.buildinfo "$scratch"/*.changes "$out"/
ls "$out"/*.deb
