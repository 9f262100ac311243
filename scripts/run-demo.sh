#!/usr/bin/env bash
# Runs Xiaowu on one node with the embedded demo configuration and prints the URLs.
# Usage: scripts/run-demo.sh [--listen ADDR] [--config FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo (Rust ≥ 1.88) is required: https://rustup.rs" >&2; exit 1; }
exec cargo run --quiet -p signaling-server -- "$@"
