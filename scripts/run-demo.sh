#!/usr/bin/env bash
# Runs Xiaowu on one node with the embedded demo configuration and prints the URLs.
# Usage: scripts/run-demo.sh [--listen ADDR] [--config FILE] (any signaling-server flag)
#
# Builds every binary of the workspace the way scripts/test.sh does (`cargo build --workspace
# --bins`): one set of artifacts, so after the tests this starts at once, and the clients of the
# README (target/debug/booth-client, target/debug/agent-console) are built too.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo (Rust ≥ 1.88) is required: https://rustup.rs" >&2; exit 1; }
if [ ! -e /usr/include/vpx/vp8dx.h ]; then
  # The Rust clients decode video with the system's libvpx.
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "== installing libvpx-dev (the clients' VP8 decoder)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libvpx-dev >/dev/null
fi
cargo build --workspace --bins --quiet
exec target/debug/signaling-server "$@"
