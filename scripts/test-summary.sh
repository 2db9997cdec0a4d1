#!/bin/sh
# Print the totals of a `make test` run from build/results and fail if any
# test failed. The last line is "tests: N passed, N failed".
set -u
f=${1:-build/results}
[ -s "$f" ] || { echo "tests: 0 passed, 1 failed (no results in $f)"; exit 1; }
echo
echo "== summary"
awk '{ printf "  %-12s %-28s %5d passed %3d failed\n", $1, $2, $3, $4 }' "$f"
awk '{ p += $3; f += $4 } END { printf "tests: %d passed, %d failed\n", p, f; exit (f > 0) }' "$f"
