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
# Usage: scripts/cross.sh [aarch64|armv7|all]   (default aarch64; CI runs aarch64, `all` is
#                                               for a release and takes about twice as long)
# The binaries are left in target/<triple>/debug/.
set -euo pipefail
cd "$(dirname "$0")/.."

which_targets=${1:-aarch64}
case "$which_targets" in
    aarch64) arches=(arm64) ;;
    armv7) arches=(armhf) ;;
    all) arches=(arm64 armhf) ;;
    *) echo "usage: scripts/cross.sh [aarch64|armv7|all]" >&2; exit 2 ;;
esac

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# Debian architecture → Rust triple, gcc prefix, qemu binary.
triple() { case $1 in arm64) echo aarch64-unknown-linux-gnu ;; armhf) echo armv7-unknown-linux-gnueabihf ;; esac; }
gnu() { case $1 in arm64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; esac; }
qemu() { case $1 in arm64) echo qemu-aarch64 ;; armhf) echo qemu-arm ;; esac; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

setup() {
    local arch=$1 g
    g=$(gnu "$arch")
    local want=("gcc-$g" "libc6-dev-$arch-cross" "libasound2-dev:$arch" "libopus-dev:$arch" qemu-user pkg-config python3 curl)
    local missing=()
    for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
            $sudo dpkg --add-architecture "$arch"
        fi
        # A foreign architecture's index can be mid-sync on a mirror (it happened with the
        # armhf security index): apt-get update may then fail for an index this script may
        # not even need. Go on, and stop only if a package cannot be installed.
        if ! $sudo apt-get update -qq; then
            echo "warning: apt-get update failed for some index; trying the install anyway" >&2
        fi
        if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
            echo "cannot install ${missing[*]}, which the $arch build needs" >&2
            exit 1
        fi
    fi
    rustup target add "$(triple "$arch")" >/dev/null
}

# The environment cargo needs for one target: its linker and C compiler (ring, SQLite), the
# ALSA .pc files of that architecture, and qemu as the test runner, without -L (with
# -L /usr/<gnu> a test binary was seen spinning for 13 minutes; the multiarch loader and
# libraries under /lib/<gnu> are found without it).
cross_env() {
    local arch=$1 t g up
    t=$(triple "$arch")
    g=$(gnu "$arch")
    up=$(echo "$t" | tr 'a-z-' 'A-Z_')
    export "CARGO_TARGET_${up}_LINKER=$g-gcc"
    export "CARGO_TARGET_${up}_RUNNER=$(qemu "$arch")"
    export "CC_${t//-/_}=$g-gcc"
    export "AR_${t//-/_}=$g-ar"
    export PKG_CONFIG_ALLOW_CROSS=1
    export PKG_CONFIG_LIBDIR="/usr/lib/$g/pkgconfig:/usr/share/pkgconfig"
}

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
    setup "$arch"
    cross_env "$arch"
    t=$(triple "$arch")
    echo "building loa-node and loa-controller for $t…" >&2
    cargo build --target "$t" -p loa-node -p loa-controller --bins
    echo "the node's unit tests under $(qemu "$arch")…" >&2
    cargo test --target "$t" -p loa-node --lib
    smoke "$arch"
done
