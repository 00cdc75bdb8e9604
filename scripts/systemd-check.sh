#!/usr/bin/env bash
# Checks the amd64 packages under a real systemd, which CI's container does not have: a
# Debian bookworm root made with debootstrap boots with systemd as its PID 1 in
# systemd-nspawn, and scripts/package-check.sh runs inside it. There it takes its systemd
# path: the services are started, restarted and stopped by systemctl, with the units'
# sandboxing and StateDirectory= for real, and systemd restarts a node that crashes or asks
# for a restart after an update (exit status 75).
#
# Usage: scripts/systemd-check.sh [--keep]
#   Makes target/debian/*_amd64.deb first (scripts/package.sh amd64, a release build) unless
#   they are there. The root is kept in target/systemd-root between runs (about 300 MB, 3 to
#   5 minutes to make from Debian's mirror); --keep leaves the container running afterwards.
# Needs root (debootstrap, systemd-nspawn) and installs both when missing. Not in CI: slow,
# and the packages change rarely; run it when the packaging or the units change.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

keep=0
[ "${1:-}" = "--keep" ] && keep=1
[ "$(id -u)" -eq 0 ] || { echo "systemd-check: needs root (debootstrap, systemd-nspawn)" >&2; exit 1; }

for p in debootstrap systemd-container; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p"
    fi
done
if ! ls target/debian/loa-node_*_amd64.deb target/debian/loa-controller_*_amd64.deb >/dev/null 2>&1; then
    scripts/package.sh amd64
fi

root=$repo/target/systemd-root
if [ ! -x "$root/usr/lib/systemd/systemd" ]; then
    echo "systemd-check: making a Debian bookworm root in $root"
    rm -rf "$root"
    # What the packages and package-check.sh use, besides the base system.
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,adduser,procps,python3,curl,ca-certificates,libasound2,libopus0,lintian \
        bookworm "$root" http://deb.debian.org/debian
fi

machine=loa-systemd-check
# No system bus on a host without systemd: nspawn registers nothing and makes no scope.
systemd-nspawn -q -D "$root" -b -M "$machine" --register=no --keep-unit \
    --bind="$repo:$repo" --console=passive >"$repo/target/systemd-check.log" 2>&1 &
nspawn=$!
stop() {
    if [ $keep = 0 ]; then
        kill "$nspawn" 2>/dev/null || true
        wait "$nspawn" 2>/dev/null || true
    fi
}
trap stop EXIT

# The container's PID 1, seen from here: the systemd that nspawn started.
pid1=""
for _ in $(seq 1 100); do
    pid1=$(pgrep -P "$nspawn" -x systemd || true)
    [ -n "$pid1" ] && break
    sleep 0.1
done
[ -n "$pid1" ] || { cat "$repo/target/systemd-check.log" >&2; echo "systemd-check: the container did not boot" >&2; exit 1; }
inside() { nsenter -t "$pid1" -a /bin/bash -c "$1"; }
for _ in $(seq 1 300); do
    state=$(inside 'systemctl is-system-running 2>/dev/null' || true)
    case "$state" in running | degraded) break ;; esac
    sleep 0.2
done
echo "systemd-check: the container booted ($state), PID 1 is $(inside 'ps -p 1 -o comm=')"
inside "cd '$repo' && scripts/package-check.sh amd64"
echo "systemd-check: passed under systemd"
