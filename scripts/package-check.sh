#!/usr/bin/env bash
# Checks the Debian packages scripts/package.sh wrote to target/debian/.
#
# Usage: scripts/package-check.sh [amd64|arm64|armhf]...   (default: amd64)
#
# For every architecture given:
#   lintian   no error and no warning (none is overridden; an override would go in
#             packaging/PACKAGE/lintian-overrides, with a comment saying why).
# For this machine's architecture also (as root or through sudo; it installs, then purges):
#   systemd   `systemd-analyze verify` of the installed units prints nothing (it exits 0 on
#             unknown keys, so the output is what is checked).
#   install   dpkg -i: the binaries, units, man pages; the system users (loa-node in group
#             audio) with no login shell; /etc/loa/*.toml root:USER 0640 and listed as
#             conffiles; /var/lib/loa-* owned by the users, 0750; the units enabled.
#   run       the controller serves with the packaged config, as its user, and a node made
#             through its API is copied over /etc/loa/node.toml; `loa-node check` passes as
#             loa-node and the node comes online; both stop cleanly on SIGTERM. Under systemd
#             (PID 1) the services are started by systemctl, and a node killed with SIGKILL
#             is started again by systemd (scripts/systemd-check.sh runs this under a real
#             systemd in a container). Without it (a container, as in
#             CI) each unit's ExecCondition and ExecStart are run as its User=, with the unit's
#             umask; what systemd alone adds (its sandboxing, StateDirectory, restarts) is
#             then checked only by systemd-analyze, not run.
#   upgrade   the same packages installed again: node.toml as copied, kept without a question.
#   remove    dpkg -r: binaries and units gone; config, data and users kept.
#   purge     dpkg -P: config, data, overrides and unit links gone; the users kept (as Debian
#             packages usually do: docs/packaging.md).
# It refuses to run where loa-node or loa-controller is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64)
host=$(dpkg --print-architecture)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

fail() { echo "package-check: $*" >&2; exit 1; }
deb_of() {
    local f
    f=$(ls target/debian/"$1"_*_"$2".deb 2>/dev/null | head -1)
    [ -n "$f" ] || fail "no target/debian/$1_*_$2.deb: run scripts/package.sh first"
    echo "$f"
}

for arch in "${arches[@]}"; do
    for pkg in loa-node loa-controller; do
        deb=$(deb_of "$pkg" "$arch")
        echo "lintian $deb"
        # --fail-on error,warning: the exit status; the tags printed are kept for the log.
        lintian --allow-root --fail-on error,warning --display-info "$deb" ||
            fail "lintian found errors or warnings in $deb (above)"
    done
done

case " ${arches[*]} " in *" $host "*) ;; *) exit 0 ;; esac

node_deb=$(deb_of loa-node "$host")
controller_deb=$(deb_of loa-controller "$host")
for pkg in loa-node loa-controller; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
        fail "$pkg is installed on this machine; this check installs and purges it, so it stops here"
    fi
done

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # Leave the machine as it was, whatever failed.
    $sudo dpkg -P loa-node loa-controller >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

systemd=0
if [ "$(ps -p 1 -o comm=)" = systemd ]; then systemd=1; fi

# Assertions on the file system.
exists() { [ -e "$1" ] || fail "$1 is missing ($2)"; }
absent() { [ ! -e "$1" ] || fail "$1 is still there ($2)"; }
owner_mode() {
    local got
    got=$(stat -c '%U:%G %a' "$1")
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
status_is() {
    local got
    got=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || echo "not-installed")
    # A purged package is forgotten, or kept as "… not-installed".
    case "$2:$got" in not-installed:*not-installed) return ;; esac
    [ "$got" = "$2" ] || fail "$1's dpkg status is '$got', expected '$2'"
}
# The value of KEY in an installed unit (first occurrence).
unit_key() { sed -n "s/^$2=//p" "/lib/systemd/system/$1" | head -1; }
# Runs a unit's command line as the unit's user, with the unit's umask, as systemd would; it
# replaces the calling shell (so call it in a subshell: `(as_unit …)` or `as_unit … &`, whose
# $! is then the daemon itself).
as_unit() {
    local unit=$1 user
    shift
    user=$(unit_key "$unit" User)
    umask "$(unit_key "$unit" UMask)"
    exec $sudo setpriv --reuid="$user" --regid="$user" --init-groups --reset-env -- "$@"
}

echo "install $node_deb $controller_deb"
$sudo dpkg -i "$node_deb" "$controller_deb" </dev/null
status_is loa-node "install ok installed"
status_is loa-controller "install ok installed"
for f in /usr/bin/loa-node /usr/bin/loa-controller /lib/systemd/system/loa-node.service \
    /lib/systemd/system/loa-controller.service /lib/systemd/system/loa-mosquitto-reload.path \
    /lib/systemd/system/loa-mosquitto-reload.service /usr/share/man/man1/loa-node.1.gz \
    /usr/share/man/man1/loa-controller.1.gz; do
    exists "$f" "installed by the packages"
done
for user in loa-node loa-controller; do
    entry=$(getent passwd "$user") || fail "no system user $user"
    uid=$(echo "$entry" | cut -d: -f3)
    [ "$uid" -lt 1000 ] || fail "$user has uid $uid, not a system user's"
    [ "$(echo "$entry" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "$user has a login shell"
    owner_mode "/var/lib/$user" "$user:$user 750"
done
id -nG loa-node | tr ' ' '\n' | grep -qx audio || fail "loa-node is not in group audio"
owner_mode /etc/loa/node.toml "root:loa-node 640"
owner_mode /etc/loa/controller.toml "root:loa-controller 640"
dpkg-query -W -f='${Conffiles}\n' loa-node | grep -q '/etc/loa/node.toml' || fail "node.toml is not a conffile"
dpkg-query -W -f='${Conffiles}\n' loa-controller | grep -q '/etc/loa/controller.toml' ||
    fail "controller.toml is not a conffile"
for u in loa-node.service loa-controller.service loa-mosquitto-reload.path; do
    exists "/etc/systemd/system/multi-user.target.wants/$u" "enabled by postinst"
done

echo "systemd-analyze verify"
verify=$(systemd-analyze verify /lib/systemd/system/loa-node.service \
    /lib/systemd/system/loa-controller.service /lib/systemd/system/loa-mosquitto-reload.path \
    /lib/systemd/system/loa-mosquitto-reload.service 2>&1) || true
[ -z "$verify" ] || fail "systemd-analyze verify printed: $verify"

echo "run (systemd as PID 1: $([ $systemd = 1 ] && echo yes || echo "no, the units' commands run as their users"))"
# The placeholder names no node: the node's unit skips its start.
if [ $systemd = 0 ]; then
    condition=$(unit_key loa-node.service ExecCondition)
    if (as_unit loa-node.service $condition); then fail "the node's unit would start with the placeholder"; fi
fi
token=$(echo "a long password for the package check" | (as_unit loa-controller.service \
    loa-controller user add --config /etc/loa/controller.toml --username admin --role admin --token check))
if [ $systemd = 1 ]; then
    $sudo systemctl restart loa-controller
    url="http://127.0.0.1:8080"
else
    # The packaged config and data directory, on free ports (other work may use 8080 here).
    as_unit loa-controller.service env LOA_HTTP_LISTEN=127.0.0.1:0 LOA_MQTT_LISTEN=127.0.0.1:0 \
        $(unit_key loa-controller.service ExecStart) >"$work/controller.log" 2>&1 &
    pids+=($!)
    controller_pid=$!
    url=""
fi
for _ in $(seq 1 300); do
    if [ $systemd = 0 ] && [ -z "$url" ] && [ -s /var/lib/loa-controller/http.addr ]; then
        url="http://$(cat /var/lib/loa-controller/http.addr)"
    fi
    if [ -n "$url" ] && curl -sf "$url/healthz" | grep -q '"mqtt":"connected"'; then break; fi
    sleep 0.1
done
[ -n "$url" ] && curl -sf "$url/healthz" >/dev/null || {
    cat "$work/controller.log" >&2 2>/dev/null || $sudo journalctl -u loa-controller -n 20 >&2
    fail "the packaged controller did not come up"
}
api=(-sf -H "Authorization: Bearer $token" -H "Content-Type: application/json")
zone=$(curl "${api[@]}" -d '{"name":"Thôn Gói"}' "$url/api/v1/zones" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl "${api[@]}" -d "{\"id\":\"thon-goi\",\"name\":\"Loa gói\",\"zone_id\":$zone}" \
    "$url/api/v1/nodes?format=toml" >"$work/node.toml"
# No sound card here: the node plays to WAV files in its data directory.
sed -i 's|^sink = "cpal"|sink = "wav"\nwav_dir = "/var/lib/loa-node/wav"|' "$work/node.toml"
grep -q '^data_dir = "/var/lib/loa-node"' "$work/node.toml" || fail "the node's file does not use /var/lib/loa-node"
# As the docs say: copied over the placeholder, which keeps the package's owner and mode.
$sudo cp "$work/node.toml" /etc/loa/node.toml
owner_mode /etc/loa/node.toml "root:loa-node 640"
(as_unit loa-node.service loa-node check) || fail "loa-node check failed as loa-node"
if [ $systemd = 1 ]; then
    $sudo systemctl restart loa-node
else
    (as_unit loa-node.service $(unit_key loa-node.service ExecCondition)) ||
        fail "the node's unit would not start with its own config"
    as_unit loa-node.service $(unit_key loa-node.service ExecStart) >"$work/node.log" 2>&1 &
    pids+=($!)
    node_pid=$!
fi
online=0
for _ in $(seq 1 300); do
    if curl "${api[@]}" "$url/api/v1/nodes/thon-goi" | grep -q '"presence":"online"'; then online=1; break; fi
    sleep 0.1
done
[ $online = 1 ] || {
    cat "$work/node.log" >&2 2>/dev/null || $sudo journalctl -u loa-node -n 20 >&2
    fail "the packaged node never came online"
}
[ -n "$($sudo find /var/lib/loa-node -mindepth 1 -user loa-node -print -quit)" ] ||
    fail "the node wrote nothing of its own under /var/lib/loa-node"
[ -z "$($sudo find /var/lib/loa-node /var/lib/loa-controller -perm -o=r -type f -print -quit)" ] ||
    fail "a data file is readable by everyone"
echo "  the packaged node is online on the packaged controller"
if [ $systemd = 1 ]; then
    # A node that dies (a crash, the board's watchdog) is started again by systemd.
    $sudo systemctl kill --signal=SIGKILL loa-node
    restarted=0
    for _ in $(seq 1 100); do
        if [ "$($sudo systemctl show -p NRestarts --value loa-node)" -ge 1 ] &&
            [ "$($sudo systemctl is-active loa-node)" = active ]; then restarted=1; break; fi
        sleep 0.1
    done
    [ $restarted = 1 ] || fail "systemd did not start the node again after it was killed"
    echo "  killed, the node was started again by systemd"
fi

# A clean stop: SIGTERM, as systemctl stop sends; each drains and exits 0.
if [ $systemd = 1 ]; then
    $sudo systemctl stop loa-node loa-controller
else
    for p in "$node_pid" "$controller_pid"; do
        kill -TERM "$p"
        if ! wait "$p"; then fail "a daemon did not exit cleanly on SIGTERM (see its log above)"; fi
    done
    pids=()
fi

echo "upgrade (the same packages again)"
$sudo dpkg -i "$node_deb" "$controller_deb" </dev/null
cmp -s "$work/node.toml" /etc/loa/node.toml || fail "installing again changed the node's own node.toml"
owner_mode /etc/loa/node.toml "root:loa-node 640"

echo "remove"
$sudo dpkg -r loa-node loa-controller </dev/null
status_is loa-node "deinstall ok config-files"
status_is loa-controller "deinstall ok config-files"
for f in /usr/bin/loa-node /usr/bin/loa-controller /lib/systemd/system/loa-node.service \
    /lib/systemd/system/loa-controller.service /lib/systemd/system/loa-mosquitto-reload.path; do
    absent "$f" "removed"
done
cmp -s "$work/node.toml" /etc/loa/node.toml || fail "remove changed node.toml"
for f in /etc/loa/controller.toml /var/lib/loa-node /var/lib/loa-controller/controller.key; do
    exists "$f" "kept on remove"
done
getent passwd loa-node loa-controller >/dev/null || fail "remove deleted a user"

echo "purge"
$sudo dpkg -P loa-node loa-controller </dev/null
status_is loa-node "not-installed"
status_is loa-controller "not-installed"
for f in /etc/loa /var/lib/loa-node /var/lib/loa-controller \
    /etc/systemd/system/multi-user.target.wants/loa-node.service \
    /etc/systemd/system/multi-user.target.wants/loa-controller.service \
    /etc/systemd/system/multi-user.target.wants/loa-mosquitto-reload.path; do
    absent "$f" "purged"
done
for f in /etc/loa/node.toml /etc/loa/controller.toml; do
    if $sudo dpkg-statoverride --list "$f" >/dev/null; then fail "purge left the override of $f"; fi
done
getent passwd loa-node loa-controller >/dev/null || fail "purge deleted a user (they are kept)"
echo "package-check: all passed"
