#!/usr/bin/env bash
# The first command: installs what is missing, builds loa, and runs the demo — a controller
# with its embedded broker and three village nodes; a sample announcement is broadcast to one
# village, then to the whole commune, and each delivery is printed as it reaches `played`.
# Add --speaker to hear it on this machine's sound card instead of WAV files.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --bins
exec target/debug/loa-demo "$@"
