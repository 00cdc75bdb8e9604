#!/usr/bin/env bash
# A live session's delay, the speaker to the loudspeaker (issue 14's latency benchmark), on a
# real controller and one real village node started on this machine by `loa-bench live`
# (bench/src/live.rs); the node plays through the ALSA library into a raw file, held to real
# time (a sound card with a 300 ms buffer). The speaker says a 100 ms burst every 2 s, and each
# burst is timed to where the node played it. The speaker is, in turn:
#   - a WebSocket client sending 20 ms of PCM every 20 ms, as the page does;
#   - Chromium with the bursts as its fake microphone, on the clerk's page (--browser runs only
#     this one; needs chromium and chromedriver).
# One run per node jitter buffer in --jitter; prints p50, p95 and the worst delay. The target:
# p95 ≤ 1.0 s with the default jitter buffer (300 ms).
#
# Usage: scripts/bench-live.sh [--jitter "300 150 600"] [--bursts 30] [--browser] [--write FILE]
# Markdown goes to stdout (and FILE); progress to stderr. Timing, not CPU, is measured, so
# the dev build serves.
set -euo pipefail
cd "$(dirname "$0")/.."

jitter="300 150 600"
bursts=30
modes="socket browser"
write=""
while [ $# -gt 0 ]; do
    case "$1" in
        --jitter) jitter=$2; shift 2 ;;
        --bursts) bursts=$2; shift 2 ;;
        --browser) modes="browser"; shift ;;
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
    for mode in $modes; do
        flag=""
        [ "$mode" = browser ] && flag=--browser
        target/debug/loa-bench --dir target/bench live --jitter "$jitter" --bursts "$bursts" $flag
        echo
    done
} >>"$out"
cat "$out"
if [ -n "$write" ]; then
    cp "$out" "$write"
fi
