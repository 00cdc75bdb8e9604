#!/usr/bin/env bash
# Benchmarks loa at commune and province scale, each on a whole site started on this machine
# by `loa-bench` (bench/): a Mosquitto with the production queue limits, a controller on it,
# N nodes provisioned through the API and run by `loa-sim` (many real nodes in one process,
# each with its own MQTT session, plan checks, cache and spool, playing to a paced null sink).
#
#   1. scale N (for each N in --nodes): a broadcast to every node, from the API call to the
#      last `received` the controller stores, against the broker's own floor on the same
#      broker in the same run (`loa-sim floor`: a bare client publishes 2 KB to each of N
#      subscribers, each answers 128 bytes, until the last answer). Also the controller's
#      CPU and memory meanwhile, at rest, and while it stores the burst of events of one
#      broadcast played by every node.
#   2. commune: at 200 nodes, an emergency from the API call to the first audio frame at 95 %
#      of the nodes, with the media cached and with 100 KB not yet fetched; and the start
#      error of a scheduled broadcast across nodes (p50, p99).
#   3. node: the real `loa-node` process, its cold start to plan applied and its idle bytes
#      per day on the MQTT link (21 minutes of watching by default; the node checks its clock
#      once a day now, so the window sees only the check at its start). The whole link on the
#      wire is scripts/bench-link.sh.
#
# Each measure is taken --rounds times; the tables give every round and the median. The
# working files (logs included) stay in target/bench.
#
# Needs: cargo, mosquitto (scripts/setup.sh test installs it), ss (iproute2), and an open file
# limit above 2 × the largest N (it raises the soft limit to the hard one).
#
# Usage: scripts/bench-scale.sh [--rounds N] [--nodes "200 2000 10000"] [--only scale|commune|node]
#                               [--write FILE]
# Markdown goes to stdout, and also to FILE with --write; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5
nodes="200 2000 10000"
only=""
write=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --write) write=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$rounds" in ''|*[!0-9]*|0) echo "--rounds takes a whole number above 0" >&2; exit 2 ;; esac
for tool in cargo mosquitto ss; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        echo "$tool is missing (scripts/setup.sh test installs mosquitto; ss is in iproute2)" >&2
        exit 1
    fi
done
ulimit -n "$(ulimit -Hn)"

echo "building in release mode…" >&2
cargo build --release --quiet -p loa-controller -p loa-node -p loa-sim -p loa-bench
bench=target/release/loa-bench

out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)," \
        "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average before:" \
        "$(cut -d' ' -f1-3 /proc/loadavg). loa at $(git rev-parse --short HEAD)," \
        "$(rustc --version | cut -d' ' -f1-2), $(/usr/sbin/mosquitto -h 2>/dev/null | head -1 || true)."
    echo
} >>"$out"
if [ -z "$only" ] || [ "$only" = scale ]; then
    for n in $nodes; do
        echo "scale: $n nodes…" >&2
        echo "### $n nodes" >>"$out"
        echo >>"$out"
        "$bench" --rounds "$rounds" scale --nodes "$n" >>"$out"
        echo >>"$out"
    done
fi
if [ -z "$only" ] || [ "$only" = commune ]; then
    echo "commune: 200 nodes…" >&2
    "$bench" --rounds "$rounds" commune --nodes 200 >>"$out"
    echo >>"$out"
fi
if [ -z "$only" ] || [ "$only" = node ]; then
    echo "node…" >&2
    "$bench" --rounds "$rounds" node >>"$out"
fi
cat "$out"
if [ -n "$write" ]; then cp "$out" "$write"; fi
