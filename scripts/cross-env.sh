# Sourced by scripts/cross.sh and scripts/package.sh: what building for one Debian
# architecture (amd64, arm64, armhf) needs. Defines:
#   triple ARCH       the Rust target triple
#   gnu ARCH          the GNU triple (gcc, binutils and multiarch prefix)
#   qemu ARCH         the qemu-user binary that runs it
#   cross_setup ARCH  installs what is missing: the Rust target, Debian's cross gcc with its
#                     libc6-dev-*-cross, ALSA's and libopus's headers for that architecture (through
#                     dpkg --add-architecture), qemu-user
#   cross_env ARCH    exports cargo's linker, C compiler, pkg-config and test runner for it
# The caller sets `sudo` ("" when root).

triple() { case $1 in amd64) echo x86_64-unknown-linux-gnu ;; arm64) echo aarch64-unknown-linux-gnu ;; armhf) echo armv7-unknown-linux-gnueabihf ;; esac; }
gnu() { case $1 in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; esac; }
qemu() { case $1 in arm64) echo qemu-aarch64 ;; armhf) echo qemu-arm ;; esac; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

cross_setup() {
    local arch=$1 g
    g=$(gnu "$arch")
    local want=("gcc-$g" "libc6-dev-$arch-cross" "libasound2-dev:$arch" "libopus-dev:$arch" qemu-user pkg-config python3 curl)
    local missing=()
    for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
            $sudo dpkg --add-architecture "$arch"
        fi
        # A foreign architecture's index can be mid-sync on a mirror (it happened with the
        # armhf security index): apt-get update may then fail for an index this script may
        # not even need. Go on, and stop only if a package cannot be installed.
        if ! $sudo apt-get update -qq; then
            echo "warning: apt-get update failed for some index; trying the install anyway" >&2
        fi
        if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
            echo "cannot install ${missing[*]}, which the $arch build needs" >&2
            exit 1
        fi
    fi
    rustup target add "$(triple "$arch")" >/dev/null
}

# The environment cargo needs for one target: its linker and C compiler (ring, SQLite), the
# ALSA .pc files of that architecture, and qemu as the test runner, without -L (with
# -L /usr/<gnu> a test binary was seen spinning for 13 minutes; the multiarch loader and
# libraries under /lib/<gnu> are found without it).
cross_env() {
    local arch=$1 t g up
    t=$(triple "$arch")
    g=$(gnu "$arch")
    up=$(echo "$t" | tr 'a-z-' 'A-Z_')
    export "CARGO_TARGET_${up}_LINKER=$g-gcc"
    export "CARGO_TARGET_${up}_RUNNER=$(qemu "$arch")"
    export "CC_${t//-/_}=$g-gcc"
    export "AR_${t//-/_}=$g-ar"
    export PKG_CONFIG_ALLOW_CROSS=1
    export PKG_CONFIG_LIBDIR="/usr/lib/$g/pkgconfig:/usr/share/pkgconfig"
}
