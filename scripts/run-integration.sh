#!/bin/sh
# Run every integration test script against the binaries in BIN_DIR.
#
#   scripts/run-integration.sh LABEL BIN_DIR
#
# Each script appends its own totals to build/results; a script that dies
# before it can is recorded here as one failure.
set -u
label=$1
bin=$2
status=0
for t in tests/integration/test_*.sh; do
    name=$(basename "$t" .sh)
    echo "== $label: $name"
    before=$(grep -c " $name " build/results 2>/dev/null || true)
    start=$(date +%s)
    # every script bounds its own waits; this is the backstop
    if ! BIN="$bin" LABEL="$label" RESULTS=build/results timeout 900 bash "$t"; then
        status=1
    fi
    after=$(grep -c " $name " build/results 2>/dev/null || true)
    echo "== $label: $name took $(($(date +%s) - start)) s"
    if [ "$before" = "$after" ]; then
        echo "$label $name 0 1" >>build/results
        status=1
    fi
done
exit $status
