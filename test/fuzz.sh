#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "-- $pkg $f ($t)"
		# A crasher the fuzzer finds is saved under testdata/fuzz and
		# replayed first by a second run, so retrying once cannot hide it;
		# it only absorbs a worker that died of the machine's load.
		if ! go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"; then
			echo "-- $f failed; running it once more (a saved crasher fails again)"
			go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
		fi
	done
done
