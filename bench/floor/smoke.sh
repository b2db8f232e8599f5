#!/bin/sh
# A quick check (part of make test) that the benchmark's pieces work: otpgate-bench
# enrols a few users, then runs otpgated and the floor server on that same store,
# each answering valid, wrong and replayed codes; every answer is checked (a valid
# code must be accepted, a wrong one refused as invalid_code, a replay as
# replayed_code, or the run fails). A second run on the same state directory shows
# that a reused population starts with its limiter cleared.
# Usage: bench/floor/smoke.sh BIN_DIR FLOOR
set -eu
bin=$1
floor=$2
dir=$(mktemp -d /var/tmp/otpgate-floor-smoke-XXXXXX)
trap 'rm -rf "$dir"' EXIT
run() {
    "$bin/otpgate-bench" load --otpgated "$bin/otpgated" --floor "$floor" --state-dir "$dir/state" \
        --users 40 --connections 2 --warmup 0 --duration 1.5 --mix valid=40,wrong=40,replay=20 --label "floor smoke $1"
}
run 1 > "$dir/run1.txt" || { cat "$dir/run1.txt"; echo "floor smoke: run 1 failed" >&2; exit 1; }
run 2 > "$dir/run2.txt" || { cat "$dir/run2.txt"; echo "floor smoke: run 2 (reused population) failed" >&2; exit 1; }
# Both servers must have answered every kind, not just been started.
for kind in "invalid [1-9]" "replayed [1-9]" "accepted [1-9]"; do
    n=$(grep -c "answers .*$kind" "$dir/run2.txt" || true)
    [ "$n" -eq 2 ] || { cat "$dir/run2.txt"; echo "floor smoke: expected '$kind' from otpgated and the floor" >&2; exit 1; }
done
grep -q "^== floor smoke 2: otpgated / floor" "$dir/run2.txt" || { cat "$dir/run2.txt"; echo "floor smoke: no comparison" >&2; exit 1; }
echo "floor smoke: otpgated and the floor answered valid, wrong and replayed codes on the same store, twice"
