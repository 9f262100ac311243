#!/usr/bin/env bash
# The test gate's steadiness under load: runs the end-to-end tests (`tests/`), the cluster
# process tests (`signaling-server/tests`) and the browser tests N times in a row (default 10)
# while `stress-ng --cpu 2` keeps both cores busy, and prints per run what failed, then a tally.
# Not part of scripts/test.sh (it takes long); its figures go into BENCHMARKS.md.
# Usage: scripts/stability.sh [N]
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
# The same build as scripts/test.sh's (no incremental caches), so the two do not rebuild each other's.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
command -v stress-ng >/dev/null || { apt-get install -y -qq stress-ng >/dev/null || exit 1; }
cargo build --workspace --all-targets --quiet || exit 1
(cd tests/browser && npm ci --no-audit --no-fund --silent) || exit 1
out="target/stability"
mkdir -p "$out"
stress-ng --cpu 2 --timeout 0 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null' EXIT
failed_runs=0
: > "$out/failures.txt"
for i in $(seq 1 "$runs"); do
  log="$out/run-$i.log"
  cargo test -p xiaowu-tests -p signaling-server --tests --no-fail-fast > "$log" 2>&1
  (cd tests/browser && node --test --test-reporter=tap) >> "$log" 2>&1
  names=$( { grep -E '^---- .* stdout ----$' "$log" | sed -E 's/^---- (.*) stdout ----$/\1/';
             grep -E '^not ok [0-9]+ - ' "$log" | sed -E 's/^not ok [0-9]+ - /browser: /'; } | sort -u)
  passed=$(awk '/^test result:/ { p += $4 } /^# pass / { p += $3 } END { print p + 0 }' "$log")
  if [ -n "$names" ]; then
    failed_runs=$((failed_runs + 1))
    echo "run $i: $passed passed; failed: $(echo "$names" | paste -sd, -)"
    echo "$names" | sed "s/^/run $i: /" >> "$out/failures.txt"
  else
    echo "run $i: $passed passed, 0 failed"
  fi
done
echo "stability: $runs runs under stress-ng --cpu 2, $failed_runs with a failure"
[ "$failed_runs" -eq 0 ]
