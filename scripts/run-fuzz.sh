#!/bin/sh
# Run each libFuzzer target for a bounded time on its seed corpus.
#
#   scripts/run-fuzz.sh SECONDS TARGET...
#
# The corpus of target fuzz_X is tests/fuzz/corpus/X (read only; new inputs
# go to build/fuzz/corpus-X so the tree stays clean). A crash leaves its
# input in build/fuzz/ and fails the run. Appends "fuzz NAME 1 0" or
# "fuzz NAME 0 1" per target to build/results.
set -u
secs=$1; shift
mkdir -p build/fuzz
status=0
for bin in "$@"; do
    name=$(basename "$bin")
    short=${name#fuzz_}
    seeds=tests/fuzz/corpus/$short
    work=build/fuzz/corpus-$short
    mkdir -p "$work"
    echo "== fuzz: $name for ${secs}s"
    if "$bin" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz/"$name"- \
        "$work" "$seeds" >build/fuzz/"$name".log 2>&1; then
        grep -E 'stat::number_of_executed_units|cov:' build/fuzz/"$name".log | tail -2
        echo "fuzz $name 1 0" >>build/results
    else
        tail -40 build/fuzz/"$name".log
        echo "fuzz $name 0 1" >>build/results
        status=1
    fi
done
exit $status
