#!/usr/bin/env bash
# The first command: installs what is missing, builds loa, and runs the demo — a controller
# with its embedded broker and the standing programme in schedules/, and three village nodes
# playing in real time; a sample announcement is broadcast to one village, then to the whole
# commune, and each delivery is printed as it reaches `played`. Then the web address and a demo
# account are printed and everything keeps running until Ctrl-C.
#   --speaker   play on this machine's sound card instead of WAV files
#   --once      end after the broadcasts (also LOA_DEMO_ONCE=1): for scripts and CI
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --bins
exec target/debug/loa-demo "$@"
