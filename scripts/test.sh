#!/usr/bin/env bash
# Runs the whole Xiaowu test suite on a fresh machine: installs what the tests need, builds once,
# lints, and runs every test (unit, scenario, property, end-to-end against the real server).
set -uo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo (Rust ≥ 1.88) is required" >&2; exit 1; }
# Two cores: one build job at a time keeps memory and time predictable.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RUST_BACKTRACE=1
# No incremental caches: a fresh clone builds everything once, and the caches would more than double
# the target directory's size (a full disk shows up as the linker dying of SIGBUS).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# System packages the tests use (Debian): coturn for the TURN relay test, libvpx-dev for the Rust
# clients' VP8 decoder, chromium and node/npm for the browser tests, postgresql for the store,
# redis-server for cluster mode (the tests start throwaway servers on free ports), ffmpeg for
# `ffprobe`, which reads the call recordings in the relay tests, prometheus to scrape `/metrics`.
need_pkgs=()
command -v turnserver >/dev/null || need_pkgs+=(coturn)
[ -e /usr/include/vpx/vp8dx.h ] || need_pkgs+=(libvpx-dev)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
command -v node >/dev/null || need_pkgs+=(nodejs npm)
# PostgreSQL for the records store's tests (each test binary starts a throwaway cluster).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v ffprobe >/dev/null || need_pkgs+=(ffmpeg)
[ -x /usr/bin/prometheus ] || need_pkgs+=(prometheus)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # One at a time: a package that cannot be installed here (npm beside a newer Node.js, say) must
  # not keep the others out; what is still missing fails its tests with a clear message.
  for pkg in "${need_pkgs[@]}"; do
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null ||
      echo "== could not install $pkg" >&2
  done
fi

# Every part runs, whatever failed before it; each failure is named at the end, and the script
# exits non-zero then. Checks (format, dependencies, clippy, builds) count as one test each.
mkdir -p target
: > target/failures.txt
checks_passed=0
check() { # check NAME COMMAND…: one pass or one named failure
  local name="$1"; shift
  echo "== $name"
  if "$@"; then
    checks_passed=$((checks_passed + 1))
  else
    echo "check: $name" >> target/failures.txt
  fi
}
server_links_no_decoder() {
  ! cargo tree -p signaling-server -e normal --prefix none | grep -E '^(xiaowu-vp8|xiaowu-media) '
}

# The routing engine and the desk decide and do no I/O: no crate that does I/O among their
# dependencies, and no clock, socket, file, thread, process or environment read in their source
# (time is passed in).
does_no_io() { # does_no_io PACKAGE SOURCE_DIR
  ! cargo tree -p "$1" -e normal --prefix none |
    grep -E '^(tokio|mio|socket2|libc|rusqlite|postgres|tokio-postgres|redis|hyper|axum|ureq|webrtc|tracing) ' &&
  ! for f in $(find "$2" -name '*.rs'); do # a file's unit tests (from `#[cfg(test)]` on) may read a clock
    sed '/^#\[cfg(test)\]/,$d' "$f" | grep -nE 'Instant::now|SystemTime|std::net|std::fs|std::thread|std::process|std::env|tokio' | sed "s|^|$f:|"
  done | grep .
}

# The throwaway test servers and fixtures are a dev-dependency only: no program links them.
programs_link_no_test_kit() {
  ! cargo tree -p signaling-server -p booth-client -p agent-console -e normal --prefix none | grep -E '^xiaowu-test-kit '
}

# The clients share the relay's interceptors (crate `interceptors`), not the relay and its recorder.
clients_link_no_relay() {
  ! cargo tree -p booth-client -p agent-console -e normal --prefix none | grep -E '^xiaowu-media-relay '
}

# No crate's top-level modules depend on each other in a cycle (scripts/module-cycles.mjs).
no_module_cycles() {
  node scripts/module-cycles.mjs $(ls -d */src | sed 's|/src||')
}

check "format check" cargo fmt --all -- --check
# The server links neither libvpx nor the clients' media crate: the relay forwards, never decodes.
check "the server links no decoder" server_links_no_decoder
check "routing does no I/O" does_no_io xiaowu-routing routing/src
check "the desk does no I/O" does_no_io xiaowu-desk desk/src
check "China time does no I/O" does_no_io xiaowu-china-time china-time/src
check "no program links the test kit" programs_link_no_test_kit
check "the clients link no relay" clients_link_no_relay
check "no module cycles" no_module_cycles
# Cluster mode is a feature of the server (on by default): without it the server still builds.
check "the server builds without the cluster" \
  cargo clippy -p signaling-server --no-default-features --lib --bins --quiet -- -D warnings
check "clippy (warnings are errors)" cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== tests"
df -h . | awk 'NR == 2 { print "== disk: " $4 " free before the test build" }'
# --no-fail-fast: one failing test binary does not keep the others from running.
cargo test --workspace --quiet --no-fail-fast > target/test-output.txt 2>&1
tests_status=$?
cat target/test-output.txt
# Failing tests by name; a test binary that crashed or did not build, by target.
grep -E '^---- .* stdout ----$' target/test-output.txt | sed -E 's/^---- (.*) stdout ----$/test: \1/' >> target/failures.txt || true
grep -E "^error: test failed, to rerun pass|^error: could not compile" target/test-output.txt | sed 's/^/cargo: /' >> target/failures.txt || true
if [ "$tests_status" -ne 0 ] && ! grep -q . target/failures.txt; then
  echo "cargo: cargo test exited $tests_status" >> target/failures.txt
fi

df -h . | awk 'NR == 2 { print "== disk: " $4 " free after the test build" }'
check "build the binaries for the browser tests and the README runs" cargo build --workspace --bins --quiet
echo "== browser tests (headless Chromium, playwright-core)"
(cd tests/browser && npm ci --no-audit --no-fund --silent) || echo "browser: npm ci failed" >> target/failures.txt
(cd tests/browser && node --test --test-reporter=tap) > target/browser-output.txt 2>&1
browser_status=$?
cat target/browser-output.txt
grep -E '^not ok [0-9]+ - ' target/browser-output.txt | sed -E 's/^not ok [0-9]+ - /browser: /' >> target/failures.txt || true
if [ "$browser_status" -ne 0 ] && ! grep -q '^browser:' target/failures.txt; then
  echo "browser: node --test exited $browser_status" >> target/failures.txt
fi

echo "== the README's Try-it and Documents blocks, verbatim, ten times each"
scripts/readme-try-it.sh 10 > target/readme-output.txt 2>&1
readme_status=$?
cat target/readme-output.txt
grep -E '^FAILED ' target/readme-output.txt | sed 's/^FAILED /readme: /' >> target/failures.txt || true
if [ "$readme_status" -ne 0 ] && ! grep -q '^readme:' target/failures.txt; then
  echo "readme: scripts/readme-try-it.sh exited $readme_status" >> target/failures.txt
fi

# One overall line that CI can read: every test of every binary, the browser tests (top-level
# tap lines), the README runs and the checks; then the failures by name.
passed=$(awk -v checks="$checks_passed" '
  FILENAME ~ /test-output/ && /^test result:/ { p += $4 }
  FILENAME ~ /browser-output/ && /^# pass / { p += $3 }
  FILENAME ~ /readme-output/ && /^ok / { p++ }
  END { print p + checks }' target/test-output.txt target/browser-output.txt target/readme-output.txt)
failed=$(grep -c . target/failures.txt || true)
if [ "$failed" -gt 0 ]; then
  echo "== failed:"
  sed 's/^/  /' target/failures.txt
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
