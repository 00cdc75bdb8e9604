#!/usr/bin/env bash
# What one relayed radio station costs (issue 14's relay benchmarks), on a whole site started
# on this machine by `loa-bench relay` (bench/src/relay.rs): a real Icecast (Debian's
# `icecast2`) fed in real time by ffmpeg with demo/thong-bao-mau.mp3 on a loop (MP3 96 kbit/s),
# a real controller pulling it as a relay source, and N villages' worth of listeners on
# `GET /streams/{id}`, each with its own node's media token. For each N in --listeners it
# measures, over --secs seconds of steady relay:
#
#   - bytes a minute per village: what each listener received (Ogg Opus at the controller's
#     `[relay] bitrate`, 32 kbit/s by default; the target is at most 250 KB a minute);
#   - the controller's CPU (user + system, cores) and per village, and its resident memory
#     (the target: one relay to 200 villages within 0.25 core here);
#   - the station's listener count (1: the commune pulls it once).
#
# Needs: cargo, icecast2 and ffmpeg (scripts/setup.sh test installs them), mosquitto.
#
# Usage: scripts/bench-relay.sh [--listeners "1 200"] [--secs 60] [--dev] [--write FILE]
# --dev measures the dev build (dependencies optimised, loa's own code not) instead of
# building in release mode. Markdown goes to stdout (and FILE); progress to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

listeners="1 200"
secs=60
profile=release
write=""
while [ $# -gt 0 ]; do
    case "$1" in
        --listeners) listeners=$2; shift 2 ;;
        --secs) secs=$2; shift 2 ;;
        --dev) profile=dev; shift ;;
        --write) write=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for tool in cargo ffmpeg; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/icecast2 ] || { echo "icecast2 is missing (scripts/setup.sh test installs it)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

echo "building ($profile)…" >&2
if [ "$profile" = release ]; then
    cargo build --release --quiet -p loa-controller -p loa-bench
    bench=target/release/loa-bench
else
    cargo build --quiet -p loa-controller -p loa-bench
    bench=target/debug/loa-bench
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1);" \
        "load average before: $(cut -d' ' -f1-3 /proc/loadavg). loa at $(git rev-parse --short HEAD)," \
        "$profile build, $secs s measured per row."
    echo
    "$bench" relay --listeners "$listeners" --secs "$secs"
} >>"$out"
cat "$out"
if [ -n "$write" ]; then
    cp "$out" "$write"
fi
