#!/usr/bin/env bash
# Installs the Debian packages loa needs, when they are missing.
#   scripts/setup.sh        what building and the demo need (espeak-ng reads typed texts out,
#                           libopus decodes and encodes Opus: uploads, live and relayed audio)
#   scripts/setup.sh test   and what the tests need too (Mosquitto, ALSA's tools, Chromium
#                           and its WebDriver for the web UI's browser tests, openssl for
#                           scripts/make-ca.sh in the TLS tests, ffmpeg and icecast2 for the
#                           Opus and relay tests (a real Icecast fed by ffmpeg), and what
#                           scripts/package.sh and package-check.sh use: dpkg-dev, lintian,
#                           systemd for systemd-analyze, curl)
set -euo pipefail

packages=(pkg-config libasound2-dev libopus-dev espeak-ng)
if [ "${1:-}" = "test" ]; then
    packages+=(mosquitto alsa-utils chromium chromium-driver openssl ffmpeg icecast2)
    packages+=(dpkg-dev lintian systemd curl)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

install() {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    # A mirror being synced, or a third-party source down, makes `apt-get update` fail for an
    # index loa may not need: go on with the indexes that did update, and stop only if a
    # package loa needs cannot be installed.
    if ! $sudo apt-get update -qq; then
        echo "setup: apt-get update failed for some package index (see above); trying to install anyway" >&2
    fi
    if ! install "${missing[@]}"; then
        # Which of them? One at a time, so the message names the culprits.
        failed=()
        for p in "${missing[@]}"; do
            install "$p" || failed+=("$p")
        done
        if [ ${#failed[@]} -gt 0 ]; then
            echo "setup: cannot install ${failed[*]}, which loa needs. Fix the package sources" \
                "(apt-get update's errors above say which index failed), or install them by hand," \
                "then run this again." >&2
            exit 1
        fi
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not on PATH: install Rust (https://rustup.rs) first" >&2
    exit 1
fi
