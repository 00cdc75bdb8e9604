#!/usr/bin/env bash
# The second command: installs what is missing and runs every test — unit tests, the
# controller's API tests, real ALSA capture, and the end-to-end tests that start real
# controller, node and Mosquitto processes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# The end-to-end tests start the built binaries; build them first.
cargo build --workspace --bins
cargo test --workspace "$@"
