#!/bin/sh
# Run Criterion test binaries and append their totals to build/results.
#
#   scripts/run-tests.sh LABEL BINARY...
#
# Each binary prints its own Criterion synthesis; this adds one line per
# binary to build/results ("LABEL NAME PASSED FAILED") for test-summary.sh.
# Exit status is non-zero when any test failed or crashed.
set -u
label=$1; shift
mkdir -p build
status=0
for bin in "$@"; do
    name=$(basename "$bin")
    out=$(mktemp)
    echo "== $label: $name"
    # --jobs 2: these machines have two cores; every test waits on bounded events.
    "$bin" --jobs 2 --short-filename >"$out" 2>&1
    rc=$?
    cat "$out"
    synth=$(grep 'Synthesis:' "$out" | tail -1)
    passed=$(echo "$synth" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    failing=$(echo "$synth" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    crashing=$(echo "$synth" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    passed=${passed:-0}; failed=$(( ${failing:-0} + ${crashing:-0} ))
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    echo "$label $name $passed $failed" >>build/results
    [ "$failed" -ne 0 ] && status=1
    rm -f "$out"
done
exit $status
