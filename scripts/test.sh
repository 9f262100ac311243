#!/usr/bin/env bash
# Runs the whole Xiaowu test suite on a fresh machine: installs what the tests need, builds once,
# lints, and runs every test (unit, scenario, property, end-to-end against the real server).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo (Rust ≥ 1.88) is required" >&2; exit 1; }
# Two cores: one build job at a time keeps memory and time predictable.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RUST_BACKTRACE=1

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

echo "== format check"
cargo fmt --all -- --check
echo "== the server links neither libvpx nor the clients' media crate (the relay forwards, never decodes)"
if cargo tree -p signaling-server -e normal --prefix none | grep -E '^(xiaowu-vp8|xiaowu-media) ' ; then
  echo "signaling-server depends on a decoder or the clients' media crate" >&2; exit 1
fi
echo "== clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== tests"
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt
echo "== browser tests (headless Chromium, playwright-core)"
cargo build --workspace --bins --quiet
(cd tests/browser && npm ci --no-audit --no-fund --silent)
(cd tests/browser && node --test --test-reporter=tap) 2>&1 | tee target/browser-output.txt
echo "== the README's Try-it and Documents blocks, verbatim, ten times each"
set +e
scripts/readme-try-it.sh 10 2>&1 | tee target/readme-output.txt
readme_failed=${PIPESTATUS[0]}
set -e
awk '/^ok / { p++ } /^FAILED / { f++ } END { printf "# pass %d\n# fail %d\n", p, f }' \
  target/readme-output.txt > target/readme-count.txt
[ "$readme_failed" -eq 0 ] || echo "# fail 1" >> target/readme-count.txt
# Print one overall line that CI can read, summed over every test binary, the browser tests and the
# README runs.
awk '/^test result:/ { p += $4; f += $6 } /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' \
  target/test-output.txt target/browser-output.txt target/readme-count.txt
