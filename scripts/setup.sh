#!/usr/bin/env bash
# Installs the Debian packages loa needs, when they are missing.
#   scripts/setup.sh        what building and the demo need (espeak-ng reads typed texts out)
#   scripts/setup.sh test   and what the tests need too (Mosquitto, ALSA's tools, Chromium
#                           and its WebDriver for the web UI's browser tests, openssl for
#                           scripts/make-ca.sh in the TLS tests)
set -euo pipefail

packages=(pkg-config libasound2-dev espeak-ng)
if [ "${1:-}" = "test" ]; then
    packages+=(mosquitto alsa-utils chromium chromium-driver openssl)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not on PATH: install Rust (https://rustup.rs) first" >&2
    exit 1
fi
