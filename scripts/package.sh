#!/usr/bin/env bash
# Builds the Debian packages loa-node and loa-controller for amd64, arm64 (Raspberry Pi 3/4/5
# and most 64-bit boards) and armhf (32-bit boards, Raspberry Pi 2 and newer).
#
# Usage: scripts/package.sh [--prebuilt] [amd64|arm64|armhf|all]...   (default: amd64)
#
#   By default: release binaries (`cargo build --release`; ARM through the cross toolchain of
#   scripts/cross-env.sh, installed when missing). `all` before a release: the three
#   architectures, each a full release build.
#   --prebuilt: no build; the debug-profile binaries already in target/ (amd64 from
#   scripts/test.sh, arm64/armhf from scripts/cross.sh) are packaged, version `~debug`. CI's
#   cheap path: what it checks is the packaging, not the optimiser.
#
# What goes in a package besides its binary lives in packaging/ (units, config, maintainer
# scripts, man page); docs/packaging.md describes it. The packages are
# written to target/debian/PACKAGE_VERSION_ARCH.deb (older ones of that architecture are
# removed first). scripts/package-check.sh checks them.
#
# Built with dpkg-deb rather than cargo-deb: nothing to compile or install in CI (dpkg-dev
# is already there), and one path for cross-built and prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cross-env.sh

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

prebuilt=0
arches=()
for a in "$@"; do
    case "$a" in
        --prebuilt) prebuilt=1 ;;
        amd64 | arm64 | armhf) arches+=("$a") ;;
        all) arches+=(amd64 arm64 armhf) ;;
        *) echo "usage: scripts/package.sh [--prebuilt] [amd64|arm64|armhf|all]..." >&2; exit 2 ;;
    esac
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64)

packages=(loa-node loa-controller)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
profile=release
compress=()
if [ $prebuilt = 1 ]; then
    version="$version~debug"
    profile=debug
    # xz's fastest level: a quarter of the default's CPU for packages only CI looks at.
    compress=(-z1)
fi
maintainer=${LOA_DEB_MAINTAINER:-"loa maintainers <loa@lists.example.org>"}
# The changelog's date: the commit's, so the same commit gives the same packages.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
out=target/debian
mkdir -p "$out"

# Where cargo puts ARCH's binaries for this profile.
bin_dir() {
    if [ "$1" = "$(dpkg --print-architecture)" ]; then echo "target/$profile"; else echo "target/$(triple "$1")/$profile"; fi
}

build() {
    local arch=$1
    if [ "$arch" = "$(dpkg --print-architecture)" ]; then
        cargo build --release -p loa-node -p loa-controller --bins
    else
        cross_setup "$arch"
        cross_env "$arch"
        cargo build --release --target "$(triple "$arch")" -p loa-node -p loa-controller --bins
    fi
}

# The binary's shared-library dependencies (libc6, libasound2…) as Debian computes them, from
# the symbols files of that architecture's installed libraries.
shlibs() {
    local arch=$1 bin=$2 pkg=$3 tmp
    tmp=$(mktemp -d)
    mkdir "$tmp/debian"
    printf 'Source: loa\n\nPackage: %s\nArchitecture: any\n' "$pkg" >"$tmp/debian/control"
    (cd "$tmp" && DEB_HOST_ARCH=$arch DEB_HOST_MULTIARCH=$(gnu "$arch") \
        dpkg-shlibdeps -O "$OLDPWD/$bin" 2>"$tmp/err") | sed -n 's/^shlibs:Depends=//p' || {
        cat "$tmp/err" >&2
        rm -rf "$tmp"
        return 1
    }
    rm -rf "$tmp"
}

# Fills the @NAME@ placeholders of a packaging/ template.
fill() {
    sed -e "s|@PACKAGE@|$pkg|g" -e "s|@VERSION@|$version|g" -e "s|@ARCH@|$arch|g" \
        -e "s|@MAINTAINER@|$maintainer|g" -e "s|@SHLIBS@|$deps|g" \
        -e "s|@INSTALLED_SIZE@|${size:-0}|g" -e "s|@CONFFILE@|$(cat "packaging/$pkg/conffiles")|g" \
        -e "s|@EXTRA_GROUPS@|$extra_groups|g" -e "s|@GECOS@|$gecos|g" \
        -e "s|@ENABLE_UNITS@|$enable_units|g" -e "s|@STOP_UNITS@|$stop_units|g" "$1"
}

package() {
    local arch=$1 pkg=$2
    local src="packaging/$pkg" bin
    bin="$(bin_dir "$arch")/$pkg"
    [ -x "$bin" ] || {
        echo "no $bin: build it first (scripts/test.sh for amd64, scripts/cross.sh for ARM), or drop --prebuilt" >&2
        exit 1
    }
    local stage="$out/stage/${pkg}_$arch"
    rm -rf "$stage"
    mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/loa" \
        "$stage/usr/share/doc/$pkg" "$stage/usr/share/man/man1"
    install -m 0755 "$bin" "$stage/usr/bin/$pkg"
    # As dh_strip does: no debug symbols, comments or notes in the package.
    "$(gnu "$arch")-strip" --remove-section=.comment --remove-section=.note --strip-unneeded \
        "$stage/usr/bin/$pkg"
    install -m 0644 "$src"/*.service "$stage/lib/systemd/system/"
    if compgen -G "$src/*.path" >/dev/null; then install -m 0644 "$src"/*.path "$stage/lib/systemd/system/"; fi
    install -m 0644 "$src/$(basename "$(cat "$src/conffiles")")" "$stage/etc/loa/"
    install -m 0644 packaging/copyright "$stage/usr/share/doc/$pkg/copyright"
    gzip -9n <"$src/$pkg.1" >"$stage/usr/share/man/man1/$pkg.1.gz"
    # None today; one would go there with a comment line saying why.
    if [ -f "$src/lintian-overrides" ]; then
        mkdir -p "$stage/usr/share/lintian/overrides"
        install -m 0644 "$src/lintian-overrides" "$stage/usr/share/lintian/overrides/$pkg"
    fi
    printf '%s (%s) stable; urgency=medium\n\n  * Built from the loa workspace at commit %s.\n\n -- %s  %s\n' \
        "$pkg" "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$maintainer" \
        "$(date -R -u -d "@$SOURCE_DATE_EPOCH")" | gzip -9n >"$stage/usr/share/doc/$pkg/changelog.gz"
    if [ "$pkg" = loa-controller ]; then
        mkdir -p "$stage/usr/share/doc/$pkg/examples"
        install -m 0644 deploy/mosquitto/loa.conf "$stage/usr/share/doc/$pkg/examples/mosquitto-loa.conf"
    fi

    # The maintainer scripts' settings: units with an [Install] section are enabled and started,
    # every unit is stopped on remove.
    local extra_groups="" gecos enable_units="" stop_units="" deps size u
    case $pkg in
        loa-node) extra_groups="audio gpio" gecos="loa village node" ;;
        loa-controller) gecos="loa commune controller" ;;
    esac
    for u in "$stage"/lib/systemd/system/*; do
        stop_units="$stop_units $(basename "$u")"
        if grep -q '^\[Install\]' "$u"; then enable_units="$enable_units $(basename "$u")"; fi
    done
    enable_units=${enable_units# } stop_units=${stop_units# }
    deps=$(shlibs "$arch" "$stage/usr/bin/$pkg" "$pkg")
    size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
    fill "$src/control" >"$stage/DEBIAN/control"
    install -m 0644 "$src/conffiles" "$stage/DEBIAN/conffiles"
    for s in postinst prerm postrm; do
        fill "packaging/maintscripts/$s" >"$stage/DEBIAN/$s"
        chmod 0755 "$stage/DEBIAN/$s"
    done
    (cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
        >"$stage/DEBIAN/md5sums"
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    rm -f "$out/${pkg}_"*"_$arch.deb"
    dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$out/${pkg}_${version}_$arch.deb" >/dev/null
    rm -rf "$stage"
    rmdir "$out/stage" 2>/dev/null || true
    echo "$out/${pkg}_${version}_$arch.deb"
}

for arch in "${arches[@]}"; do
    if [ $prebuilt = 0 ]; then build "$arch"; fi
    if [ "$arch" != "$(dpkg --print-architecture)" ]; then cross_setup "$arch"; fi
    for pkg in "${packages[@]}"; do package "$arch" "$pkg"; done
done
