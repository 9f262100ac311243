#!/usr/bin/env bash
# Runs the README's "Try it" and "Documents" command blocks verbatim, N times each (default 10),
# and checks that the booth is served every time (exit code 0, summary outcome "served") and the
# clerk's console is done (exit code 0). The server the first block starts is stopped at the end.
# Usage: scripts/readme-try-it.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
work="$(mktemp -d)"
# Each run of a block is a process group of its own (setsid), so what it left running — the server
# it started, a console still wrapping up — is ended by its group id at the end, and nothing this
# script did not start (a server the user runs by hand) is touched.
groups=()
cleanup() {
  for group in "${groups[@]}"; do
    kill -- "-$group" 2>/dev/null || true
  done
  rm -rf "$work" received
}
trap cleanup EXIT
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
  echo "port 8080 is taken: the README's commands need it free" >&2
  exit 1
fi

# The first ```sh block after a heading, as it stands in the README.
block() {
  awk -v heading="$1" '
    $0 == heading { found = 1; next }
    found && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
  ' README.md
}
block "## Try it" > "$work/try-it.sh"
block "### Documents" > "$work/documents.sh"
for f in try-it documents; do
  [ -s "$work/$f.sh" ] || { echo "no command block found for $f in README.md" >&2; exit 1; }
done

failed=0
for i in $(seq 1 "$runs"); do
  for f in try-it documents; do
    log="$work/$f-$i.log"
    # The block's background jobs (the server, the clerk) write to the same log; the booth is in
    # the foreground, so bash returns when the booth is done.
    set +e
    setsid bash "$work/$f.sh" > "$log" 2> "$work/$f-$i.err" &
    groups+=("$!")
    wait "$!"
    booth_exit=$?
    set -e
    # The clerk's console finishes its wrap-up a moment after the booth leaves.
    for _ in $(seq 1 100); do
      grep -q '"calls":' "$log" && break
      sleep 0.2
    done
    booth=$(grep '"type":"summary"' "$log" | grep '"requests":' | tail -1 || true)
    clerk=$(grep '"type":"summary"' "$log" | grep '"calls":' | tail -1 || true)
    if [ "$booth_exit" -eq 0 ] && [[ "$booth" == *'"outcome":"served"'* ]] && [[ "$clerk" == *'"outcome":"done"'* ]]; then
      echo "ok $f run $i"
    else
      echo "FAILED $f run $i (booth exit $booth_exit)"
      echo "  booth: ${booth:-no summary}"
      echo "  clerk: ${clerk:-no summary}"
      sed 's/^/  stderr: /' "$work/$f-$i.err" | tail -5
      failed=$((failed + 1))
    fi
    if [ "$f" = documents ] && ! ls received/*.jpg >/dev/null 2>&1; then
      echo "FAILED documents run $i: nothing saved in ./received"
      failed=$((failed + 1))
    fi
  done
done
echo "README blocks: $((runs * 2 - failed)) of $((runs * 2)) runs served"
[ "$failed" -eq 0 ]
