#!/usr/bin/env bash
# What one village node's link costs on the wire: a real controller (embedded broker) and a
# real `loa-node` in its own network namespace, joined by a veth pair, with tcpdump on the
# controller's end of the pair. Every frame the node sends or receives crosses it, so the
# counts are what a SIM would carry (IP bytes: a radio link has no Ethernet header), split by
# MQTT, HTTP (media, clock checks) and other (ARP), beside the TCP payload the programs wrote.
#
#   1. idle:  --idle-secs of nothing to play (default 3600, the issue's hour). A shorter run
#             is extrapolated to a day and says so; it should still span a few keep-alives
#             and a clock check (default once a day: an hour may see none, then the clock
#             check is measured on its own, see 4).
#   2. item:  one announcement (demo/thong-bao-mau.mp3, 7.6 s) broadcast to the node and
#             played, first with its media not cached (the download counted apart as audio),
#             then again with it cached: the per-item overhead is everything but the audio.
#   3. day:   the shipped standing programme (schedules/chuong-trinh-thuong-ky.toml) loaded
#             by a restarted controller: the node's new plan and media for it, then the day's
#             airings (a weekday: 06:00 once, 17:00 twice) played back to back.
#   4. clock: one clock check (the node's `GET /time`, three exchanges) on its own.
#
# With --tls, the controller serves HTTPS and MQTT over TLS with a CA made by
# scripts/make-ca.sh (the handshakes counted; rustls resumes sessions where it can).
#
# Needs root (ip netns), ip (iproute2), tcpdump, python3, curl, cargo (and openssl with --tls).
# Uses only loopback and the addresses it gives its own veth pair (10.203.N.1 and .2, N from
# its process id, so two runs can share the machine); removes both on exit.
#
# Usage: sudo scripts/bench-link.sh [--idle-secs N] [--keep-alive SECS] [--tls] [--write FILE]
# Markdown goes to stdout (and FILE); progress to stderr; logs and the capture stay in the
# work directory it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

idle=3600
ka=""
write=""
tls=""
while [ $# -gt 0 ]; do
    case "$1" in
        --idle-secs) idle=$2; shift 2 ;;
        --keep-alive) ka=$2; shift 2 ;;
        --write) write=$2; shift 2 ;;
        --tls) tls=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$idle" in ''|*[!0-9]*|0) echo "--idle-secs takes a whole number above 0" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "run as root: it makes a network namespace" >&2; exit 1; }
for tool in ip tcpdump python3 curl cargo; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done

echo "building…" >&2
cargo build --quiet --workspace --bins
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
work=$(mktemp -d /tmp/loa-bench-link.XXXXXX)
echo "work directory: $work" >&2
ns=loabench$$
host=lbh$$
peer=lbn$$
sub=$(( $$ % 150 + 100 ))
hip=10.203.$sub.1
nip=10.203.$sub.2
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip link del "$host" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
ip link add "$host" type veth peer name "$peer"
# No segmentation offload: the capture then sees each packet as a radio link would carry it,
# with its own headers, not a 64 KB super-packet counted once.
ip link set "$host" gso_max_segs 1
ip link set "$peer" gso_max_segs 1
ip link set "$peer" netns "$ns"
ip addr add "$hip/30" dev "$host"
ip link set "$host" up
ip -n "$ns" addr add "$nip/30" dev "$peer"
ip -n "$ns" link set "$peer" up
ip -n "$ns" link set lo up

# --- the controller -------------------------------------------------------------------------
cdata=$work/controller
mkdir -p "$cdata"
tls_args=()
scheme=http
cacert=()
if [ -n "$tls" ]; then
    scripts/make-ca.sh "$work/tls" "$hip" >/dev/null
    tls_args=(--tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key" --tls-ca "$work/tls/ca.pem")
    scheme=https
    cacert=(--cacert "$work/tls/ca.pem")
fi
token=$(echo "mat-khau-bench" | "$bin/loa-controller" user add --data-dir "$cdata" \
    --username bench --role admin --token bench 2>/dev/null | tail -1)
ctl_pid=""
start_controller() {
    rm -f "$cdata/http.addr" "$cdata/mqtt.addr"
    # The ports stay the same across a restart (the node's config names them).
    RUST_LOG=info "$bin/loa-controller" serve --data-dir "$cdata" \
        --http-listen "$hip:${hport:-0}" --mqtt-listen "$hip:${mport:-0}" "${tls_args[@]}" "$@" \
        >>"$work/controller.log" 2>&1 &
    ctl_pid=$!
    pids+=("$ctl_pid")
    wait_for "the controller" 30 test -s "$cdata/mqtt.addr"
    hport=$(sed 's/.*://' "$cdata/http.addr")
    mport=$(sed 's/.*://' "$cdata/mqtt.addr")
    wait_for "the controller's API" 30 curl -sf "${cacert[@]}" "$scheme://$hip:$hport/healthz"
}
# wait_for WHAT SECS COMMAND…: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
    local what=$1 secs=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt "$end" ] || { echo "timed out waiting for $what" >&2; exit 1; }
        sleep 0.2
    done
}
api() { # api METHOD PATH [JSON]
    curl -sf "${cacert[@]}" -X "$1" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' "$scheme://$hip:$hport$2" ${3:+--data "$3"}
}
json() { python3 -c "import json,sys; v=json.load(sys.stdin); print($1)"; }
start_controller

# Zones as the standing programme names them, and the node in the first village.
commune=$(api POST /api/v1/zones '{"name":"Xã Demo"}' | json 'v["id"]')
village=$(api POST /api/v1/zones "{\"name\":\"Thôn Nà Sài\",\"parent_id\":$commune}" | json 'v["id"]')
for v in "Bản Phiêng" "Thôn Cốc Lầy"; do
    api POST /api/v1/zones "{\"name\":\"$v\",\"parent_id\":$commune}" >/dev/null
done
ndata=$work/node
mkdir -p "$ndata"
api POST /api/v1/nodes "{\"id\":\"bench-1\",\"name\":\"Cụm loa 1\",\"zone_id\":$village,\"data_dir\":\"$ndata\"}" \
    | json 'v["config_toml"]' >"$ndata/node.toml"
if [ -n "$ka" ]; then
    sed -i "s/^\[mqtt\]$/[mqtt]\nkeep_alive_secs = $ka/" "$ndata/node.toml"
fi
sed -i 's/^sink = "cpal"$/sink = "null"/' "$ndata/node.toml"
keep_alive=$(sed -n 's/^keep_alive_secs = //p' "$ndata/node.toml")
keep_alive=${keep_alive:-"$(sed -n 's/^pub const NODE_KEEP_ALIVE_SECS: u64 = \([0-9]*\);/\1/p' protocol/src/limits.rs) (the default)"}

tcpdump -i "$host" -s 128 -w "$work/link.pcap" -U 2>"$work/tcpdump.log" &
pids+=($!)
wait_for "tcpdump" 10 grep -q listening "$work/tcpdump.log"

ip netns exec "$ns" env RUST_LOG=info "$bin/loa-node" run --config "$ndata/node.toml" \
    >>"$work/node.log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
online() { api GET /api/v1/nodes | python3 -c 'import json,sys; print(any(n["id"]=="bench-1" and n["presence"]=="online" for n in json.load(sys.stdin)))' | grep -q True; }
wait_for "the node online" 60 online
wait_for "the node's first clock check" 60 grep -q "clock offset against the controller" "$work/node.log"
sleep 2 # let the start's exchanges finish before the idle window opens

now() { date +%s.%N; }
# window NAME FROM TO: the capture's sums in [FROM, TO), one line per class.
declare -A W
window() { W[$1]=$(python3 scripts/pcap-sum.py "$work/link.pcap" "$mport" "$hport" "$2" "$3"); }

# --- 1. idle --------------------------------------------------------------------------------
echo "idle for $idle s…" >&2
t0=$(now)
sleep "$idle"
t1=$(now)
window idle "$t0" "$t1"

# --- 2. items -------------------------------------------------------------------------------
media=demo/thong-bao-mau.mp3
media_bytes=$(stat -c %s "$media")
sha=$(curl -sf "${cacert[@]}" -H "Authorization: Bearer $token" --data-binary "@$media" \
    "$scheme://$hip:$hport/api/v1/media?name=thong-bao-mau.mp3" | json 'v["sha256"]')
ann=$(api POST /api/v1/announcements "{\"title\":\"Thông báo mẫu\",\"media_sha256\":\"$sha\"}" | json 'v["id"]')
played() { api GET "/api/v1/broadcasts/$1" | json 'v["deliveries"][0]["stage"]' | grep -qx played; }
# quiet: no frame on the interface for 3 s (the last event's ack has gone).
quiet() {
    local a b
    a=$(cat "/sys/class/net/$host/statistics/rx_packets" "/sys/class/net/$host/statistics/tx_packets")
    sleep 3
    b=$(cat "/sys/class/net/$host/statistics/rx_packets" "/sys/class/net/$host/statistics/tx_packets")
    [ "$a" = "$b" ]
}
item() { # item NAME: one broadcast, from the API call until played and quiet
    local at from b
    at=$(date -u -d '+8 seconds' +%Y-%m-%dT%H:%M:%SZ)
    from=$(now)
    b=$(api POST /api/v1/broadcasts "{\"announcement_id\":$ann,\"zones\":[$village],\"at\":\"$at\",\"chime\":false}" | json 'v["id"]')
    wait_for "broadcast $b played" 120 played "$b"
    wait_for "the link quiet" 60 quiet
    window "$1" "$from" "$(now)"
}
echo "one item, media not cached…" >&2
item first
echo "one item, media cached…" >&2
item cached

# --- 3. a day's programme -------------------------------------------------------------------
echo "the standing programme…" >&2
from=$(now)
kill "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
start_controller --schedules-dir schedules
wait_for "the node online again" 120 online
wait_for "the link quiet" 60 quiet
window programme "$from" "$(now)"
day_items=3
from=$(now)
for _ in $(seq "$day_items"); do item day_one; done
window day_items "$from" "$(now)"

# --- 4. one clock check on its own ----------------------------------------------------------
echo "one clock check…" >&2
from=$(now)
ip netns exec "$ns" curl -sf "${cacert[@]}" -o /dev/null -o /dev/null -o /dev/null \
    "$scheme://$hip:$hport/time" "$scheme://$hip:$hport/time" "$scheme://$hip:$hport/time"
wait_for "the link quiet" 60 quiet
window clock "$from" "$(now)"

# --- the table ------------------------------------------------------------------------------
python3 - "$idle" "$keep_alive" "$media_bytes" "$day_items" "${tls:-0}" <<PY >"$work/table.md"
import sys
idle, ka, media, day_items = float(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tls = sys.argv[5] == "1"
def parse(text):
    d = {}
    for line in text.strip().splitlines():
        k, *v = line.split()
        d[k] = list(map(int, v))
    return d
W = {k: parse(v) for k, v in {
    "idle": """${W[idle]}""", "first": """${W[first]}""", "cached": """${W[cached]}""",
    "programme": """${W[programme]}""", "day_items": """${W[day_items]}""", "clock": """${W[clock]}""",
}.items()}
def tot(d, i):
    return sum(v[i] for v in d.values())
kb = lambda b: f"{b / 1000:,.1f} KB"
day = 86400 / idle
print(("TLS (HTTPS and MQTT over TLS). " if tls else "Plain TCP. ") + f"Node keep-alive: {ka} s. Idle window: {idle:.0f} s"
      + ("" if idle >= 3600 else f" (extrapolated ×{day:.0f} to a day)") + ".")
print()
print("| what | frames | on the wire (IP) | Ethernet frames | TCP payload | of which MQTT (IP / payload) | HTTP (IP / payload) |")
print("|---|---|---|---|---|---|---|")
def row(name, d, scale=1.0):
    m, h = d.get("mqtt", [0]*4), d.get("http", [0]*4)
    print(f"| {name} | {tot(d,0)*scale:,.0f} | {kb(tot(d,2)*scale)} | {kb(tot(d,1)*scale)} | {kb(tot(d,3)*scale)} "
          f"| {kb(m[2]*scale)} / {kb(m[3]*scale)} | {kb(h[2]*scale)} / {kb(h[3]*scale)} |")
# Idle: the MQTT link (keep-alive pings) as measured, extrapolated to a day; the clock checks
# (HTTP) counted from phase 4 at the node's default of one a day, since a window
# shorter than that holds none or a stray closing packet of the check made at the start.
checks = 1
idle_mqtt = {"mqtt": W["idle"].get("mqtt", [0]*4)}
row("idle MQTT link (keep-alive), per day", idle_mqtt, day)
row(f"clock checks, per day ({checks} × 3 exchanges)", W["clock"], checks)
row("one item, media not cached", W["first"])
row("one item, media cached", W["cached"])
row("new plan with the standing programme (restart, reconnect, media)", W["programme"])
row(f"the day's {day_items} airings, back to back", W["day_items"])
row("one clock check (3 exchanges)", W["clock"])
print()
over_first = tot(W["first"], 2) - media
h = W["first"].get("http", [0]*4)
framing = h[2] - h[3]
print(f"Per-item overhead beyond the audio ({media:,} bytes of MP3): "
      f"{kb(over_first)} on the wire with the download, {kb(tot(W['cached'], 2))} with the media cached; "
      f"the day's airings {kb(tot(W['day_items'], 2) / day_items)} each. "
      f"Of the download's {kb(h[2])}: {kb(h[3] - media)} of HTTP (and TLS) beyond the file's bytes, "
      f"{kb(framing)} of TCP/IP headers and acks ({h[0]} packets), which grow with the recording's size; "
      f"so the fixed part of a first airing is {kb(over_first - framing)}.")
pings = idle_mqtt["mqtt"]
idle_day = pings[2] * day + checks * tot(W["clock"], 2)
idle_payload = pings[3] * day + checks * tot(W["clock"], 3)
print(f"Idle: {kb(idle_day)} a day on the wire, {kb(idle_payload)} of payload "
      f"(keep-alive pings: {pings[0]} frames, {pings[2]:,} bytes of IP in {idle:.0f} s; clock checks: {checks} a day).")
print(f"A month (30 days) idle: {idle_day * 30 / 1e6:,.2f} MB; with the weekday programme "
      f"(3 airings a day, media cached): {(idle_day + tot(W['day_items'], 2)) * 30 / 1e6:,.2f} MB.")
PY
cat "$work/table.md"
if [ -n "$write" ]; then cp "$work/table.md" "$write"; fi
