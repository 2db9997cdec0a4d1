#!/usr/bin/env bash
# Run every integration test script against the binaries in BIN_DIR.
#
#   scripts/run-integration.sh LABEL BIN_DIR
#
# Every script takes its own free ports, Redis and work directory, so
# INTEGRATION_JOBS of them (default 2) run at once; each one's output is
# printed whole when it ends. The scripts that measure rates or shares of
# a rate (listed in SERIAL) run afterwards, one at a time, so that another
# test's load cannot move their figures.
#
# Each script appends its own totals to build/results; a script that dies
# before it can is recorded here as one failure.
set -u
label=$1
bin=$2
jobs=${INTEGRATION_JOBS:-2}
SERIAL="test_throttle test_quota test_sim_load"
out=$(mktemp -d /tmp/smppbridge-integration.XXXXXX)
trap 'rm -rf "$out"' EXIT

# run_one SCRIPT: run it, then print its output and its time at once.
run_one() {
    local t=$1 name before after start rc=0
    name=$(basename "$t" .sh)
    before=$(grep -c " $name " build/results 2>/dev/null || true)
    start=$(date +%s)
    # every script bounds its own waits; this is the backstop
    BIN="$bin" LABEL="$label" RESULTS=build/results timeout 900 bash "$t" \
        >"$out/$name.log" 2>&1 || rc=1
    after=$(grep -c " $name " build/results 2>/dev/null || true)
    {
        echo "== $label: $name"
        cat "$out/$name.log"
        echo "== $label: $name took $(($(date +%s) - start)) s"
    } | flock "$out/print.lock" cat
    if [ "$before" = "$after" ]; then
        flock "$out/results.lock" sh -c "echo '$label $name 0 1' >>build/results"
        rc=1
    fi
    return $rc
}

status=0
parallel=()
serial=()
for t in tests/integration/test_*.sh; do
    case " $SERIAL " in
        *" $(basename "$t" .sh) "*) serial+=("$t") ;;
        *) parallel+=("$t") ;;
    esac
done

running=0
for t in "${parallel[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
    run_one "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
done

for t in "${serial[@]}"; do
    run_one "$t" || status=1
done
exit $status
