#!/usr/bin/env bash
# A live session's delay, the speaker to the loudspeaker (issue 14's latency benchmark), on a
# real controller and one real village node started on this machine by `loa-bench live`
# (bench/src/live.rs). The bench is the speaker's browser: it sends 20 ms of PCM every 20 ms
# on the session's WebSocket, with a 100 ms burst every 2 s, and times each burst to where the
# node played it (its paced WAV output: a sound card with a 300 ms buffer). One run per node
# jitter buffer in --jitter; prints p50, p95 and the worst delay. The target: p95 ≤ 1.0 s
# with the default jitter buffer (300 ms).
#
# Usage: scripts/bench-live.sh [--jitter "300 150 600"] [--bursts 30] [--write FILE]
# Markdown goes to stdout (and FILE); progress to stderr. Timing, not CPU, is measured, so
# the dev build serves.
set -euo pipefail
cd "$(dirname "$0")/.."

jitter="300 150 600"
bursts=30
write=""
while [ $# -gt 0 ]; do
    case "$1" in
        --jitter) jitter=$2; shift 2 ;;
        --bursts) bursts=$2; shift 2 ;;
        --write) write=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

echo "building (dev)…" >&2
cargo build --quiet -p loa-controller -p loa-node -p loa-bench
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1);" \
        "loa at $(git rev-parse --short HEAD), dev build, $bursts bursts per row."
    echo
    target/debug/loa-bench --dir target/bench live --jitter "$jitter" --bursts "$bursts"
} >>"$out"
cat "$out"
if [ -n "$write" ]; then
    cp "$out" "$write"
fi
