#!/usr/bin/env bash
# Builds loa-node and loa-controller for ARM boards and proves them under qemu-user:
#   aarch64  aarch64-unknown-linux-gnu       Raspberry Pi 3/4/5 and most 64-bit boards
#   armv7    armv7-unknown-linux-gnueabihf   32-bit boards, Raspberry Pi 2 and newer
#
# For each target it installs what is missing (the Rust target, Debian's cross gcc with its
# libc6-dev-*-cross, ALSA's headers for that architecture through dpkg --add-architecture,
# qemu-user), builds both binaries, runs the node's unit tests under qemu, and runs a
# start-up smoke test: the ARM controller serves its API with its embedded broker, a node is
# provisioned through it, the ARM `loa-node check` passes against it and the ARM `loa-node run`
# comes online.
#
# Usage: scripts/cross.sh [--no-unit-tests] [aarch64|armv7|all]
#   default aarch64; `all` is for a release and takes about twice as long. --no-unit-tests
#   skips building and running the node's unit tests under qemu (3–4 minutes each on a
#   2-core machine): CI passes it and keeps the build and the smoke test, since the same unit
#   tests run natively in scripts/test.sh; run without it before a release.
# The binaries are left in target/<triple>/debug/; `scripts/package.sh --prebuilt arm64` (or
# armhf) makes Debian packages of them.
set -euo pipefail
cd "$(dirname "$0")/.."
# triple, gnu, qemu, cross_setup, cross_env: shared with scripts/package.sh.
source scripts/cross-env.sh

unit_tests=1
if [ "${1:-}" = "--no-unit-tests" ]; then unit_tests=0; shift; fi
which_targets=${1:-aarch64}
case "$which_targets" in
    aarch64) arches=(arm64) ;;
    armv7) arches=(armhf) ;;
    all) arches=(arm64 armhf) ;;
    *) echo "usage: scripts/cross.sh [--no-unit-tests] [aarch64|armv7|all]" >&2; exit 2 ;;
esac

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# Starts the ARM controller under qemu, provisions a node, checks and runs the ARM node.
smoke() {
    local arch=$1 t q dir
    t=$(triple "$arch")
    q=$(qemu "$arch")
    local bin="target/$t/debug"
    dir=$(mktemp -d)
    local pids=()
    cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
    trap cleanup RETURN
    echo "smoke ($arch): the controller's version: $($q "$bin/loa-controller" --version)"
    local token
    token=$(echo "a long password for smoke" | $q "$bin/loa-controller" user add \
        --data-dir "$dir/controller" --username admin --role admin --token smoke)
    $q "$bin/loa-controller" serve --data-dir "$dir/controller" --site xa-smoke \
        --http-listen 127.0.0.1:0 --mqtt-listen 127.0.0.1:0 >"$dir/controller.log" 2>&1 &
    pids+=($!)
    local url=""
    for _ in $(seq 1 600); do
        if [ -s "$dir/controller/http.addr" ] && [ -s "$dir/controller/mqtt.addr" ]; then
            url="http://$(cat "$dir/controller/http.addr")"
            if curl -sf "$url/healthz" | grep -q '"mqtt":"connected"'; then break; fi
        fi
        sleep 0.1
    done
    curl -sf "$url/healthz" | grep -q '"mqtt":"connected"' || {
        echo "smoke ($arch): the ARM controller did not come up; its log:" >&2
        tail -20 "$dir/controller.log" >&2
        return 1
    }
    local api=(-sf -H "Authorization: Bearer $token" -H "Content-Type: application/json")
    local zone
    zone=$(curl "${api[@]}" -d '{"name":"Thôn Smoke"}' "$url/api/v1/zones" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    curl "${api[@]}" -d "{\"id\":\"thon-smoke\",\"name\":\"Loa smoke\",\"zone_id\":$zone,\"data_dir\":\"$dir/node\"}" \
        "$url/api/v1/nodes?format=toml" >"$dir/node.toml"
    # No sound card here: the node plays to WAV files.
    sed -i "s|^sink = \"cpal\"|sink = \"wav\"\nwav_dir = \"$dir/wav\"|" "$dir/node.toml"
    $q "$bin/loa-node" check --config "$dir/node.toml"
    $q "$bin/loa-node" run --config "$dir/node.toml" >"$dir/node.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        if curl "${api[@]}" "$url/api/v1/nodes/thon-smoke" | grep -q '"presence":"online"'; then
            echo "smoke ($arch): the ARM node is online on the ARM controller"
            return 0
        fi
        sleep 0.1
    done
    echo "smoke ($arch): the ARM node never came online; its log:" >&2
    tail -20 "$dir/node.log" >&2
    return 1
}

for arch in "${arches[@]}"; do
    cross_setup "$arch"
    cross_env "$arch"
    t=$(triple "$arch")
    echo "building loa-node and loa-controller for $t…" >&2
    cargo build --target "$t" -p loa-node -p loa-controller --bins
    if [ "$unit_tests" = 1 ]; then
        echo "the node's unit tests under $(qemu "$arch")…" >&2
        cargo test --target "$t" -p loa-node --lib
    fi
    smoke "$arch"
done
