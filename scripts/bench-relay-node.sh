#!/usr/bin/env bash
# What a village node spends playing a relay (issue 14's node benchmark), beside the reference
# players, by `loa-bench relay-node` (bench/src/relay_node.rs): a real Icecast fed by ffmpeg
# with demo/thong-bao-mau.mp3 on a loop (MP3 96 kbit/s), a real controller relaying it, and a
# real node playing the relay through the ALSA library (plug → null, held to real time). Over
# the same --secs on the same pcm, `ffplay -nodisp` plays the node's stream (Ogg Opus from
# the controller) and `mpg123` plays the station's MP3 from Icecast. Prints each one's CPU (a
# share of one core) and peak memory.
#
# Needs: cargo, icecast2, ffmpeg (with ffplay), mpg123 and GNU time (/usr/bin/time).
#
# Usage: scripts/bench-relay-node.sh [--secs 600] [--dev] [--write FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

secs=600
profile=release
write=""
while [ $# -gt 0 ]; do
    case "$1" in
        --secs) secs=$2; shift 2 ;;
        --dev) profile=dev; shift ;;
        --write) write=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
for tool in icecast2 ffplay mpg123; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (Debian package: time)" >&2; exit 1; }

echo "building ($profile)…" >&2
if [ "$profile" = release ]; then
    cargo build --release --quiet -p loa-controller -p loa-node -p loa-bench
    bench=target/release/loa-bench
else
    cargo build --quiet -p loa-controller -p loa-node -p loa-bench
    bench=target/debug/loa-bench
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1);" \
        "loa at $(git rev-parse --short HEAD), $profile build, $secs s measured."
    echo
    "$bench" --dir target/bench relay-node --secs "$secs"
} >>"$out"
cat "$out"
if [ -n "$write" ]; then
    cp "$out" "$write"
fi
